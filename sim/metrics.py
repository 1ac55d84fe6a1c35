"""Inequality and poverty metrics, computed every simulated month on the whole county.

Pure, vectorised numpy functions (Gini, Theil T/L and their exact between/within
decomposition, Lorenz curve, poverty headcount, group means and medians). Weights
are usually household sizes, so per-capita incomes give person-weighted results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "TheilDecomposition",
    "combine_theil_t",
    "count_below",
    "gini",
    "gini_of_two_groups_sorted",
    "gini_sorted",
    "group_summary",
    "lorenz_curve",
    "lorenz_points_of_two_groups_sorted",
    "poverty_headcount",
    "theil_decomposition",
    "theil_l",
    "theil_t",
    "urban_rural_ratio",
    "weighted_mean",
    "weighted_median",
    "weighted_median_sorted",
]


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product without BLAS: OpenBLAS's threads spin and slow ``np.dot`` many times over
    when the other cores are busy (a process pool, a test run), and these run every month."""
    return np.einsum("i,i->", a, b)


# --------------------------------------------------------------------------- #
# Input validation (cheap: one conversion and two reductions per array)
# --------------------------------------------------------------------------- #


def _values(values: ArrayLike, name: str, *, nonnegative: bool) -> np.ndarray:
    """Return ``values`` as a 1-D, non-empty, finite float64 array or raise ValueError."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    lo, hi = arr.min(), arr.max()
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if nonnegative and lo < 0:
        raise ValueError(f"{name} must be non-negative, found {lo:g}")
    return arr


def _weights(weights: ArrayLike | None, n: int, name: str = "weights") -> np.ndarray:
    """Return weights as float64 (ones if None); same length n, >= 0, positive total."""
    if weights is None:
        return np.ones(n)
    w = _values(weights, name, nonnegative=True)
    if w.size != n:
        raise ValueError(f"{name} has length {w.size}, expected {n} (one per observation)")
    if not w.any():
        raise ValueError(f"{name} sum to zero")
    return w


def _incomes(incomes: ArrayLike, weights: ArrayLike | None, name: str = "incomes") -> tuple[np.ndarray, np.ndarray]:
    y = _values(incomes, name, nonnegative=True)
    return y, _weights(weights, y.size)


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


# Both Theil indices are summed in a "mean-corrected" form: with r = y/mu the terms
# r ln r and -ln r get -(r - 1) and +(r - 1) added, which sum to exactly zero in exact
# arithmetic (sum_i w_i (r_i - 1) = 0) but make every term non-negative:
#     T = sum w (r ln r - r + 1) / W,    L = sum w (r - 1 - ln r) / W.
# This removes cancellation between positive and negative terms, so a rounding error
# of one ulp in mu no longer shifts the index by ~1e-16 in absolute terms (which would
# be a large relative error for nearly equal incomes), and the between/within parts
# add up to the total to rounding (tested at 1e-12 relative). 0 ln 0 = 0, so a zero
# income contributes w * 1 to the corrected T sum.


def _theil_t_terms(y: np.ndarray, w: np.ndarray, mu: np.ndarray | float) -> np.ndarray:
    """Elementwise w (r ln r - (r - 1)) with r = y/mu and 0 ln 0 = 0."""
    r = y / mu
    out = np.zeros_like(r)
    np.log(r, out=out, where=r > 0)
    out *= r
    out -= r - 1.0  # r - 1 is exact for r near 1
    out *= w
    return out


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


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den elementwise, NaN where den == 0 (no warnings)."""
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den != 0)


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def weighted_mean(values: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Weighted arithmetic mean ``sum(w*x) / sum(w)`` (values may be negative).

    >>> weighted_mean([1, 3], weights=[2, 1])
    1.6666666666666667
    """
    x = _values(values, "values", nonnegative=False)
    w = _weights(weights, x.size)
    return float(_dot(w, x) / w.sum())


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


def weighted_median_sorted(sorted_values: np.ndarray, sorted_weights: np.ndarray) -> float:
    """:func:`weighted_median` of values already sorted ascending (inputs not validated).

    >>> weighted_median_sorted(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 5.0]))
    3.0
    """
    cumulative = np.cumsum(sorted_weights)
    position = int(np.searchsorted(cumulative, 0.5 * cumulative[-1], side="left"))
    return float(sorted_values[min(position, len(sorted_values) - 1)])


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
    return gini_sorted(y[order], w[order])


def gini_of_two_groups_sorted(
    incomes_a: np.ndarray, weights_a: np.ndarray, incomes_b: np.ndarray, weights_b: np.ndarray
) -> tuple[float, float]:
    """Gini of group ``a`` and of ``a`` and ``b`` pooled, from each group sorted ascending.

    The pooled Gini is found without merging the groups: each ``b`` value's
    place among the ``a`` values (one ``searchsorted`` of the smaller group)
    and prefix sums over ``a`` give every cross term of
    ``G = sum_i w_i y_i (C_{i-1} + C_i - W) / (W S)``. For the model's ~300,000
    rural households and a few thousand urban ones this costs little more than
    the rural Gini alone. Inputs are not validated.

    >>> a, b = np.array([1.0, 4.0]), np.array([2.0, 3.0])
    >>> g_a, g = gini_of_two_groups_sorted(a, np.ones(2), b, np.ones(2))
    >>> round(g_a, 12) == round(gini(a), 12), round(g, 12) == round(gini([1, 2, 3, 4]), 12)
    (True, True)
    """
    cum_w_a = np.cumsum(weights_a)
    wy_a = weights_a * incomes_a
    cum_wy_a = np.cumsum(wy_a)
    total_w_a, total_y_a = cum_w_a[-1], cum_wy_a[-1]
    own_a = _dot(wy_a, 2.0 * cum_w_a - weights_a - total_w_a)
    gini_a = float(own_a / (total_w_a * total_y_a)) if total_y_a > 0 else 0.0

    # b's values go before equal a values; before[k] = sum over a of what lies below b_k.
    place = np.searchsorted(incomes_a, incomes_b, side="left")
    w_a_below = np.concatenate(([0.0], cum_w_a))[place]
    wy_a_below = np.concatenate(([0.0], cum_wy_a))[place]
    cum_w_b = np.cumsum(weights_b)
    wy_b = weights_b * incomes_b
    total_w = total_w_a + cum_w_b[-1]
    total_y = total_y_a + wy_b.sum()
    # a's terms gain 2 w_b for every b below them; the pooled W replaces W_a.
    a_terms = own_a - cum_w_b[-1] * total_y_a + 2.0 * _dot(weights_b, total_y_a - wy_a_below)
    b_terms = _dot(wy_b, 2.0 * (cum_w_b + w_a_below) - weights_b - total_w)
    return gini_a, float((a_terms + b_terms) / (total_w * total_y))


def lorenz_points_of_two_groups_sorted(
    incomes_a: np.ndarray, weights_a: np.ndarray, incomes_b: np.ndarray, weights_b: np.ndarray, population_shares: ArrayLike
) -> np.ndarray:
    """Lorenz ordinates of ``a`` and ``b`` pooled: the income share of the poorest ``population_shares``.

    Equal to ``np.interp(p, *lorenz_curve(pooled incomes, pooled weights))`` (a
    unit's weight is spread evenly over its income), found without merging the
    groups, so the model can report a few Lorenz points each year for about
    the price of two prefix sums: the ``b`` values that lie wholly below each
    target weight are counted first (one ``searchsorted`` of the smaller group),
    then the crossing ``a`` value is looked up in ``a``'s prefix sums. Both groups
    sorted ascending with positive total income; inputs are not validated.

    >>> a, b = np.array([1.0, 4.0]), np.array([2.0, 3.0])
    >>> lorenz_points_of_two_groups_sorted(a, np.ones(2), b, np.ones(2), [0.25, 0.5, 0.75]).round(3).tolist()
    [0.1, 0.3, 0.6]
    """
    shares = np.asarray(population_shares, dtype=np.float64)
    cum_w_a = np.concatenate(([0.0], np.cumsum(weights_a)))
    cum_y_a = np.concatenate(([0.0], np.cumsum(weights_a * incomes_a)))
    cum_w_b = np.concatenate(([0.0], np.cumsum(weights_b)))
    cum_y_b = np.concatenate(([0.0], np.cumsum(weights_b * incomes_b)))
    a_before_b = np.searchsorted(incomes_a, incomes_b, side="left")  # b goes before equal a values
    weight_through_b = cum_w_a[a_before_b] + cum_w_b[1:]  # pooled weight up to and including each b
    target = shares * (cum_w_a[-1] + cum_w_b[-1])
    k = np.searchsorted(weight_through_b, target, side="left")  # b values wholly below the target
    i = np.searchsorted(cum_w_a[1:], target - cum_w_b[k], side="left")
    crossing_is_a = i < np.append(a_before_b, incomes_a.size)[k]  # a_i exists and comes before b_k
    i, b_k = np.minimum(i, incomes_a.size - 1), np.minimum(k, incomes_b.size - 1)
    a_below = np.where(crossing_is_a, i, a_before_b[b_k])
    income = np.where(crossing_is_a, incomes_a[i], incomes_b[b_k])
    weight_below = cum_w_a[a_below] + cum_w_b[k]
    income_below = cum_y_a[a_below] + cum_y_b[k]
    points = (income_below + (target - weight_below) * income) / (cum_y_a[-1] + cum_y_b[-1])
    # the ends are exact by definition; the two totals summed in another order can miss them by a rounding error
    return np.where(shares >= 1.0, 1.0, np.where(shares <= 0.0, 0.0, points))


def gini_sorted(sorted_incomes: np.ndarray, sorted_weights: np.ndarray) -> float:
    """:func:`gini` of incomes already sorted ascending (with their weights), skipping the sort.

    For callers that sort once and compute several statistics (the model's
    monthly outcomes); inputs are not validated.

    >>> gini_sorted(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4))
    0.25
    """
    ys, ws = sorted_incomes, sorted_weights
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
# Theil indices
# --------------------------------------------------------------------------- #


def _mean_income(y: np.ndarray, w: np.ndarray) -> float:
    mu = float(_dot(w, y) / w.sum())
    if mu <= 0:
        raise ValueError("mean income is zero; the Theil index is undefined")
    return mu


def _check_positive_for_log(y: np.ndarray, w: np.ndarray) -> None:
    """Raise if a zero income has positive weight (Theil-L undefined)."""
    if y.min() == 0 and np.any((y == 0) & (w > 0)):
        raise ValueError(
            "Theil-L (mean log deviation) is undefined when an income is zero "
            "(ln(mu/0) is infinite); use theil_t, or drop/floor the zero incomes"
        )


def theil_t(incomes: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Theil T index (GE(1)): ``T = sum_i w_i (y_i/mu) ln(y_i/mu) / W``.

    Sensitive to the top of the distribution; 0 for equal incomes, ln(n) when one of
    n equal-weight units holds everything. Zero incomes contribute 0 (0 ln 0 = 0).
    Summed as ``sum_i w_i (r_i ln r_i - r_i + 1) / W`` with r = y/mu: equal in exact
    arithmetic, but every term is >= 0, so small values of T stay accurate.

    >>> theil_t([5, 5, 5])
    0.0
    >>> round(theil_t([0, 0, 0, 7]), 12) == round(math.log(4), 12)
    True
    """
    y, w = _incomes(incomes, weights)
    mu = _mean_income(y, w)
    if y.min() == y.max():
        return 0.0
    return float(_theil_t_terms(y, w, mu).sum() / w.sum())


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
class TheilDecomposition:
    """Exact split of a Theil index into between-group and within-group parts.

    ``total == between + within`` (up to rounding). ``groups`` is indexed by group
    label (sorted) with columns ``population_share``, ``income_share``, ``mean``,
    ``theil`` (the group's own index) and ``contribution`` (its term of ``within``).
    ``index`` records which index was decomposed ("T" or "L").
    (``eq=False``: instances compare by identity, as the DataFrame has no truth value.)
    """

    total: float
    between: float
    within: float
    groups: pd.DataFrame
    index: str = "T"

    @property
    def between_share(self) -> float:
        """Share of total inequality that lies between groups (0.0 if total == 0)."""
        return self.between / self.total if self.total != 0 else 0.0


def theil_decomposition(
    incomes: ArrayLike,
    groups: ArrayLike,
    weights: ArrayLike | None = None,
    index: Literal["T", "L"] = "T",
) -> TheilDecomposition:
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
    return TheilDecomposition(
        total=float(total),
        between=float(between_terms.sum() / total_w),
        within=float(contribution.sum()),
        groups=table,
        index=kind,
    )


def combine_theil_t(means: ArrayLike, populations: ArrayLike, theils: ArrayLike) -> TheilDecomposition:
    """Theil T of a population made of groups, from each group's mean, weight and own Theil T.

    The same decomposition as :func:`theil_decomposition` (``within = sum_g s_g T_g``,
    ``between = sum_g s_g ln(mu_g/mu)``, total = between + within), for callers
    that already have group statistics: the model's urban/rural split each month
    costs two passes over the data instead of a factorisation and a table.

    >>> d = combine_theil_t([1.0, 3.0], [2.0, 2.0], [0.0, 0.0])
    >>> round(d.total, 12) == round(theil_t([1, 1, 3, 3]), 12), d.between_share
    (True, 1.0)
    """
    mu_g = _values(means, "means", nonnegative=True)
    w_g = _weights(populations, mu_g.size, "populations")
    t_g = _values(theils, "theils", nonnegative=True)
    if t_g.size != mu_g.size:
        raise ValueError(f"theils has length {t_g.size}, expected {mu_g.size} (one per group)")
    mu = _mean_income(mu_g, w_g)
    share = w_g * mu_g / (w_g * mu_g).sum()
    between = float(_theil_t_terms(mu_g, w_g, mu).sum() / w_g.sum())
    within = float((share * t_g).sum())
    table = pd.DataFrame(
        {"population_share": w_g / w_g.sum(), "income_share": share, "mean": mu_g, "theil": t_g, "contribution": share * t_g},
        index=pd.RangeIndex(mu_g.size, name="group"),
    )
    return TheilDecomposition(total=between + within, between=between, within=within, groups=table, index="T")


# --------------------------------------------------------------------------- #
# Poverty, ratios, counts, group summaries
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


def poverty_headcount(incomes: ArrayLike, line: float, weights: ArrayLike | None = None) -> float:
    """Poverty headcount ratio: weighted share with income strictly below ``line``.

    ``H = sum_{i: y_i < line} w_i / W`` (person-weighted when weights are household
    sizes and incomes per capita).

    >>> poverty_headcount([1, 2, 3, 4], line=3)
    0.5
    >>> poverty_headcount([1, 2, 3, 4], line=3, weights=[4, 1, 1, 2])
    0.625
    """
    y, w = _incomes(incomes, weights)
    if not math.isfinite(float(line)):
        raise ValueError(f"poverty line must be finite, got {line!r}")
    return float(_dot(w, y < line) / w.sum())


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
