"""Reference implementations of the inequality metrics, for tests only.

sim.metrics holds just what the model reports, specialised for speed: the Gini
and Lorenz points of two groups each sorted once and never merged, Theil T
combined from group statistics, the median of values already sorted. The
functions here are the general forms (any sample, any grouping; they sort,
factorise and validate on every call), slower but simpler to trust. They are
checked against hand-computed cases and identities in test_metrics.py, and the
fast functions, and the model's monthly outcomes, are checked against them.

They share sim.metrics' input checks and its mean-corrected Theil T terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from sim.metrics import TheilDecomposition, _dot, _incomes, _mean_income, _theil_t_terms, _values, _weights


def _groups(groups: ArrayLike, n: int) -> tuple[np.ndarray, pd.Index]:
    """Integer codes 0..k-1 and the sorted labels (hash-based, faster than np.unique)."""
    if not isinstance(groups, (pd.Series, pd.Index, pd.Categorical, np.ndarray)):
        groups = np.asarray(groups)
    if np.ndim(groups) != 1:
        raise ValueError(f"groups must be one-dimensional, got shape {np.shape(groups)}")
    if len(groups) != n:
        raise ValueError(f"groups has length {len(groups)}, expected {n} (one per observation)")
    try:
        codes, labels = pd.factorize(groups, sort=True)
    except TypeError as exc:  # e.g. labels that cannot be ordered (mixed int and str)
        raise ValueError(f"group labels must be sortable ({exc})") from None
    if n and codes.min() < 0:
        raise ValueError("groups contain missing labels (NaN/None)")
    return codes, pd.Index(labels, name="group")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den elementwise, NaN where den == 0 (no warnings)."""
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den != 0)


# --------------------------------------------------------------------------- #
# Means and medians
# --------------------------------------------------------------------------- #


def weighted_median(values: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Weighted median: the smallest value whose cumulative weight share reaches 0.5.

    This is the "lower" median (no interpolation), so it is always an observed value
    and a weight of k behaves exactly like k repeated rows.

    >>> weighted_median([1, 2, 3, 4])
    2.0
    >>> weighted_median([1, 2, 3], weights=[1, 1, 5])
    3.0
    """
    x = _values(values, "values", nonnegative=False)
    w = _weights(weights, x.size)
    return float(_group_medians(x, w, np.zeros(x.size, dtype=np.int64), 1)[0])


def _group_medians(y: np.ndarray, w: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Weighted lower median of each group 0..k-1 (NaN for a group of zero weight).

    Sort by (group, value) with one argsort by value and a stable argsort by group
    code (radix sort when codes fit in 16 bits); cumulative weights restart at 0 in
    each group (pandas' grouped cumsum), so they are exact for integer weights and a
    group's median never depends on the weights of other groups. Within a group the
    cumulative weight is non-decreasing, so the rows below half the group's weight
    come first and their count locates the median: no loop over groups.
    """
    order = np.argsort(y)
    if k > 1:
        code_dtype = np.int16 if k <= np.iinfo(np.int16).max else np.int64
        order = order[np.argsort(codes[order].astype(code_dtype), kind="stable")]
    cs = codes[order]
    cw = pd.Series(w[order]).groupby(cs, sort=False).cumsum().to_numpy()
    ends = np.cumsum(np.bincount(codes, minlength=k))
    group_w = cw[ends - 1]
    n_below = np.bincount(cs, weights=cw < 0.5 * group_w[cs], minlength=k).astype(np.int64)
    starts = np.concatenate(([0], ends[:-1]))
    pos = np.minimum(starts + n_below, ends - 1)
    return np.where(group_w > 0, y[order[pos]], np.nan)


# --------------------------------------------------------------------------- #
# Gini and Lorenz curve
# --------------------------------------------------------------------------- #


def lorenz_curve(incomes: ArrayLike, weights: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve points: cumulative population share and cumulative income share.

    Incomes are sorted ascending; both arrays have n+1 points, start at 0 and end at
    exactly 1 (for plotting; the Gini is 1 - 2 * area under this curve).

    >>> p, L = lorenz_curve([1, 3], weights=[2, 1])
    >>> p.round(3).tolist(), L.round(3).tolist()
    ([0.0, 0.667, 1.0], [0.0, 0.4, 1.0])
    """
    y, w = _incomes(incomes, weights)
    order = np.argsort(y)
    ws = w[order]
    wy = ws * y[order]
    total = wy.sum()
    if total <= 0:
        raise ValueError("total income is zero; the Lorenz curve is undefined")
    pop = np.empty(y.size + 1)
    inc = np.empty(y.size + 1)
    pop[0] = inc[0] = 0.0
    np.cumsum(ws, out=pop[1:])
    np.cumsum(wy, out=inc[1:])
    pop[1:] /= pop[-1]
    inc[1:] /= inc[-1]
    pop[-1] = inc[-1] = 1.0
    return pop, inc


def gini(incomes: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Weighted Gini coefficient, exact for weighted data (weight k == k repeated rows).

    With incomes sorted ascending, cumulative weights C_i (C_0 = 0, C_n = W) and
    cumulative incomes S_i = sum_{j<=i} w_j y_j, twice the area under the Lorenz curve
    gives ``G = 1 - sum_i w_i (S_{i-1} + S_i) / (W S_n)``, computed in the equivalent
    covariance form ``G = sum_i w_i y_i (C_{i-1} + C_i - W) / (W S_n)``, which avoids
    the cancellation in ``1 - ...`` for small G. Equal incomes give 0; one holder of
    all income among n equal-weight units gives (n-1)/n. Scale invariant. Zero incomes
    are fine; an all-zero total raises ValueError.

    >>> gini([1, 2, 3, 4])
    0.25
    >>> gini([0, 0, 0, 10])
    0.75
    >>> round(gini([1, 3], weights=[2, 1]), 12) == round(gini([1, 1, 3]), 12)
    True
    """
    y, w = _incomes(incomes, weights)
    order = np.argsort(y)
    ys, ws = y[order], w[order]
    if ys[0] == ys[-1]:
        if ys[0] == 0:
            raise ValueError("total income is zero; the Gini coefficient is undefined")
        return 0.0
    cw = np.cumsum(ws)
    total_w = cw[-1]
    wy = ws * ys
    total_y = wy.sum()
    if total_y <= 0:  # positive incomes only on zero-weight rows
        raise ValueError("total income is zero; the Gini coefficient is undefined")
    # C_{i-1} + C_i - W == 2 C_i - w_i - W
    rank_term = 2.0 * cw - ws - total_w
    return float(_dot(wy, rank_term) / (total_w * total_y))


# --------------------------------------------------------------------------- #
# Theil L and the decomposition over any groups
# --------------------------------------------------------------------------- #


# Theil L is summed in the same mean-corrected form as sim.metrics' Theil T:
#     L = sum w (r - 1 - ln r) / W,  r = y/mu,
# every term non-negative, so the between/within parts add up to the total to rounding.


def _theil_l_terms(y: np.ndarray, w: np.ndarray, mu: np.ndarray | float) -> np.ndarray:
    """Elementwise w ((r - 1) - ln r) with r = y/mu (all y > 0 where w > 0).

    Rows with zero income and zero weight (pre-checked) contribute 0.
    """
    r = y / mu
    out = np.zeros_like(r)
    np.log(r, out=out, where=r > 0)
    np.subtract(r - 1.0, out, out=out)
    out *= w
    return out


def _check_positive_for_log(y: np.ndarray, w: np.ndarray) -> None:
    """Raise if a zero income has positive weight (Theil-L undefined)."""
    if y.min() == 0 and np.any((y == 0) & (w > 0)):
        raise ValueError(
            "Theil-L (mean log deviation) is undefined when an income is zero "
            "(ln(mu/0) is infinite); use theil_t, or drop/floor the zero incomes"
        )


def theil_l(incomes: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Theil L index / mean log deviation (GE(0)): ``L = sum_i w_i ln(mu/y_i) / W``.

    Sensitive to the bottom of the distribution. Undefined with zero incomes: a zero
    income with positive weight raises ValueError (zero-weight rows are ignored).
    Summed as ``sum_i w_i (r_i - 1 - ln r_i) / W`` with r = y/mu (non-negative terms).

    >>> theil_l([2, 2])
    0.0
    >>> round(theil_l([1, 4]), 6)  # ln(2.5) - (ln 1 + ln 4)/2
    0.223144
    """
    y, w = _incomes(incomes, weights)
    _check_positive_for_log(y, w)
    mu = _mean_income(y, w)
    if y.min() == y.max():
        return 0.0
    return float(_theil_l_terms(y, w, mu).sum() / w.sum())


@dataclass(frozen=True, eq=False)
class GroupDecomposition(TheilDecomposition):
    """A Theil T or L decomposition with its per-group table.

    ``groups`` is indexed by group label (sorted) with columns ``population_share``,
    ``income_share``, ``mean``, ``theil`` (the group's own index) and ``contribution``
    (its term of ``within``); ``index`` is "T" or "L". (``eq=False``: the table has no truth value.)
    """

    groups: pd.DataFrame
    index: str = "T"


def theil_decomposition(
    incomes: ArrayLike,
    groups: ArrayLike,
    weights: ArrayLike | None = None,
    index: Literal["T", "L"] = "T",
) -> GroupDecomposition:
    """Decompose Theil T or L exactly into between- and within-group inequality.

    With population shares p_g = W_g/W, income shares s_g = p_g mu_g/mu and the
    groups' own indices T_g, L_g:

    * T: ``within = sum_g s_g T_g``,  ``between = sum_g s_g ln(mu_g/mu)``
    * L: ``within = sum_g p_g L_g``,  ``between = sum_g p_g ln(mu/mu_g)``

    ``groups`` holds one label per observation, of any sortable dtype (village ids,
    "urban"/"rural"); labels are factorised once (hash-based ``pd.factorize``, faster
    than ``np.unique`` on 300k rows) and every group sum is one ``np.bincount``.
    ``index`` is "T" or "L" (case-insensitive). For T, a group whose income is all
    zero has s_g = 0, so it contributes nothing to ``within`` and its own ``theil`` is
    NaN; groups with zero total weight get NaN mean/theil and contribute nothing.
    Index "L" raises ValueError on zero incomes.

    >>> d = theil_decomposition([1, 1, 3, 3], ["rural", "rural", "urban", "urban"])
    >>> round(d.within, 12), round(d.between, 12) == round(d.total, 12), d.between_share
    (0.0, True, 1.0)
    >>> d.groups["income_share"].round(2).to_dict()
    {'rural': 0.25, 'urban': 0.75}
    """
    kind = str(index).upper()
    if kind not in ("T", "L"):
        raise ValueError(f"index must be 'T' or 'L', got {index!r}")
    y, w = _incomes(incomes, weights)
    codes, labels = _groups(groups, y.size)
    k = len(labels)

    wy = w * y
    w_g = np.bincount(codes, weights=w, minlength=k)
    y_g = np.bincount(codes, weights=wy, minlength=k)
    total_w = w_g.sum()
    total_y = y_g.sum()
    mu = _mean_income(y, w)  # same rounding as theil_t/theil_l, so totals agree exactly
    mu_g = _ratio(y_g, w_g)
    p = w_g / total_w
    s = y_g / total_y
    has_income = s > 0  # implies w_g > 0 and mu_g > 0

    # Same mean-corrected terms as theil_t/theil_l (see _theil_t_terms); the between
    # part is the same index applied to the group means: sum_g W_g f(mu_g/mu) / W.
    if kind == "T":
        terms = _theil_t_terms
        own_defined = has_income  # T_g needs mu_g > 0; otherwise s_g = 0 anyway
        share = s
    else:
        _check_positive_for_log(y, w)
        terms = _theil_l_terms
        own_defined = w_g > 0  # with positive incomes this implies mu_g > 0
        share = p
    total = float(terms(y, w, mu).sum() / total_w)
    # Groups whose own index is undefined (zero weight, or T with zero income) get a
    # placeholder denominator of 1, NaN ``theil`` and zero contribution (share 0).
    denom = np.where(own_defined, mu_g, 1.0)
    num = np.bincount(codes, weights=terms(y, w, denom[codes]), minlength=k)
    own = np.where(own_defined, num / np.where(w_g > 0, w_g, 1.0), np.nan)
    contribution = np.where(own_defined, share * np.nan_to_num(own), 0.0)
    # Between: every populated group counts, including a zero-income group under T
    # (its term W_g f(0) = W_g balances the correction terms of the other groups).
    between_terms = terms(np.where(w_g > 0, mu_g, mu), w_g, mu)

    table = pd.DataFrame(
        {
            "population_share": p,
            "income_share": s,
            "mean": mu_g,
            "theil": own,
            "contribution": contribution,
        },
        index=labels,
    )
    return GroupDecomposition(
        total=float(total),
        between=float(between_terms.sum() / total_w),
        within=float(contribution.sum()),
        groups=table,
        index=kind,
    )


# --------------------------------------------------------------------------- #
# Ratios, counts, group summaries
# --------------------------------------------------------------------------- #


def urban_rural_ratio(
    urban_incomes: ArrayLike,
    rural_incomes: ArrayLike,
    urban_weights: ArrayLike | None = None,
    rural_weights: ArrayLike | None = None,
) -> float:
    """Urban–rural income ratio ``mu_urban / mu_rural`` of (weighted) means.

    The headline gap statistic (China reports about 2.3-2.5 in recent years).

    >>> urban_rural_ratio([5, 7], [2, 4], rural_weights=[1, 3])
    1.7142857142857142
    """
    yu, wu = _incomes(urban_incomes, urban_weights, "urban_incomes")
    yr = _values(rural_incomes, "rural_incomes", nonnegative=True)
    wr = _weights(rural_weights, yr.size, "rural_weights")
    mu_r = _dot(wr, yr) / wr.sum()
    if mu_r <= 0:
        raise ValueError("mean rural income is zero; the urban-rural ratio is undefined")
    return float((_dot(wu, yu) / wu.sum()) / mu_r)


def count_below(values: ArrayLike, threshold: float) -> int:
    """Number of values strictly below ``threshold`` (e.g. weak/hollow villages whose
    collective income is below the target). Values may be negative; empty gives 0.

    >>> count_below([0.5, 3.0, 10.0, 2.9], threshold=3)
    2
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {x.shape}")
    if math.isnan(float(threshold)):
        raise ValueError("threshold is NaN")
    if np.isnan(x).any():
        raise ValueError("values contain NaN")
    return int(np.count_nonzero(x < threshold))


def group_summary(incomes: ArrayLike, groups: ArrayLike, weights: ArrayLike | None = None) -> pd.DataFrame:
    """Per-group weighted ``mean``, weighted ``median`` and ``population`` (sum of weights).

    The median is the smallest income whose within-group cumulative weight share
    reaches 0.5 (as :func:`weighted_median`, same code path). Indexed by group label,
    sorted; a group whose weights are all zero gets NaN mean and median. Vectorised:
    one sort by income, a stable sort by group code, no loop over groups.

    >>> s = group_summary([1, 2, 3, 10, 20], ["a", "a", "a", "b", "b"], weights=[1, 1, 1, 1, 3])
    >>> list(s.columns), s.index.tolist()
    (['mean', 'median', 'population'], ['a', 'b'])
    >>> s.loc["b"].tolist()  # mean (10 + 3*20)/4, median 20, 4 people
    [17.5, 20.0, 4.0]
    """
    y, w = _incomes(incomes, weights)
    codes, labels = _groups(groups, y.size)
    k = len(labels)
    w_g = np.bincount(codes, weights=w, minlength=k)
    mean = _ratio(np.bincount(codes, weights=w * y, minlength=k), w_g)
    median = _group_medians(y, w, codes, k)
    return pd.DataFrame(
        {"mean": mean, "median": median, "population": w_g},
        index=labels,
    )
