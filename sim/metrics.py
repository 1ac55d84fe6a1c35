"""Inequality and poverty metrics, computed every simulated month on the whole county.

Only what the model reports (sim/outcomes.py): weighted mean and median, Gini of
the rural and of all residents and Lorenz points (from the two groups sorted
separately, never merged), Theil T with its urban/rural between/within split,
and poverty headcount. Weights are usually household sizes, so per-capita
incomes give person-weighted results. The general-purpose versions these are
checked against (Gini and Lorenz curve of any sample, Theil L, decomposition
over any groups, group medians) live in tests/oracle.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "TheilDecomposition",
    "combine_theil_t",
    "gini_of_two_groups_sorted",
    "lorenz_points_of_two_groups_sorted",
    "poverty_headcount",
    "quintile_ratio_sorted",
    "theil_t",
    "weighted_mean",
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


# Theil T is summed in a "mean-corrected" form: with r = y/mu the term r ln r gets
# -(r - 1) added, which sums to exactly zero in exact arithmetic (sum_i w_i (r_i - 1) = 0)
# but makes every term non-negative:
#     T = sum w (r ln r - r + 1) / W.
# This removes cancellation between positive and negative terms, so a rounding error
# of one ulp in mu no longer shifts the index by ~1e-16 in absolute terms (which would
# be a large relative error for nearly equal incomes), and the between/within parts
# add up to the total to rounding (tested at 1e-12 relative). 0 ln 0 = 0, so a zero
# income contributes w * 1 to the corrected sum. (tests/oracle.py sums Theil L alike.)


def _theil_t_terms(y: np.ndarray, w: np.ndarray, mu: np.ndarray | float) -> np.ndarray:
    """Elementwise w (r ln r - (r - 1)) with r = y/mu and 0 ln 0 = 0."""
    r = y / mu
    out = np.zeros_like(r)
    np.log(r, out=out, where=r > 0)
    out *= r
    out -= r - 1.0  # r - 1 is exact for r near 1
    out *= w
    return out


# --------------------------------------------------------------------------- #
# Means and medians
# --------------------------------------------------------------------------- #


def weighted_mean(values: ArrayLike, weights: ArrayLike | None = None, *, validate: bool = True) -> float:
    """Weighted arithmetic mean ``sum(w*x) / sum(w)`` (values may be negative).

    ``validate=False`` skips the checks (four passes over the data) for arrays the model keeps valid itself.

    >>> weighted_mean([1, 3], weights=[2, 1])
    1.6666666666666667
    """
    if not validate:
        return float(_dot(weights, values) / weights.sum())
    x = _values(values, "values", nonnegative=False)
    w = _weights(weights, x.size)
    return float(_dot(w, x) / w.sum())


def weighted_median_sorted(sorted_values: np.ndarray, sorted_weights: np.ndarray) -> float:
    """:func:`weighted_median` of values already sorted ascending (inputs not validated).

    >>> weighted_median_sorted(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 5.0]))
    3.0
    """
    cumulative = np.cumsum(sorted_weights)
    position = int(np.searchsorted(cumulative, 0.5 * cumulative[-1], side="left"))
    return float(sorted_values[min(position, len(sorted_values) - 1)])


def quintile_ratio_sorted(sorted_values: np.ndarray, sorted_weights: np.ndarray) -> float:
    """Mean income of the richest fifth of the weight over that of the poorest fifth (inputs not validated).

    Quintiles of people, as statistical offices publish them: a household's weight is spread evenly over its
    income, so a household on a quintile's edge counts in part on each side (the Lorenz curve's convention).

    >>> quintile_ratio_sorted(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.ones(5))
    5.0
    >>> round(quintile_ratio_sorted(np.array([1.0, 9.0]), np.array([1.0, 1.0])), 12)  # each fifth inside one household
    9.0
    """
    cumulative_weight = np.concatenate(([0.0], np.cumsum(sorted_weights)))
    cumulative_income = np.concatenate(([0.0], np.cumsum(sorted_weights * sorted_values)))
    total = cumulative_weight[-1]
    bottom, below_top = np.interp([0.2 * total, 0.8 * total], cumulative_weight, cumulative_income)
    return float((cumulative_income[-1] - below_top) / bottom) if bottom > 0 else math.inf


# --------------------------------------------------------------------------- #
# Gini and Lorenz points of two groups
# --------------------------------------------------------------------------- #


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
    >>> [round(g, 12) for g in gini_of_two_groups_sorted(a, np.ones(2), b, np.ones(2))]  # Gini of [1, 4], of [1, 2, 3, 4]
    [0.3, 0.25]
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


# --------------------------------------------------------------------------- #
# Theil T
# --------------------------------------------------------------------------- #


def _mean_income(y: np.ndarray, w: np.ndarray) -> float:
    mu = float(_dot(w, y) / w.sum())
    if mu <= 0:
        raise ValueError("mean income is zero; the Theil index is undefined")
    return mu


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


@dataclass(frozen=True)
class TheilDecomposition:
    """Theil T split exactly into the part between groups and the part within them (``total == between + within``)."""

    total: float
    between: float
    within: float

    @property
    def between_share(self) -> float:
        """Share of total inequality that lies between groups (0.0 if total == 0)."""
        return self.between / self.total if self.total != 0 else 0.0


def combine_theil_t(means: ArrayLike, populations: ArrayLike, theils: ArrayLike) -> TheilDecomposition:
    """Theil T of a population made of groups, from each group's mean, weight and own Theil T.

    With population shares p_g, income shares s_g = p_g mu_g/mu and the groups'
    own indices T_g: ``within = sum_g s_g T_g``, ``between = sum_g s_g ln(mu_g/mu)``.
    The model's urban/rural split each month costs two passes over the data (one
    :func:`theil_t` per group) instead of a factorisation of group labels.

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
    return TheilDecomposition(total=between + within, between=between, within=within)


# --------------------------------------------------------------------------- #
# Poverty
# --------------------------------------------------------------------------- #


def poverty_headcount(incomes: ArrayLike, line: float, weights: ArrayLike | None = None, *, validate: bool = True) -> float:
    """Poverty headcount ratio: weighted share with income strictly below ``line``.

    ``H = sum_{i: y_i < line} w_i / W`` (person-weighted when weights are household
    sizes and incomes per capita). ``validate=False`` skips the checks, as for :func:`weighted_mean`.

    >>> poverty_headcount([1, 2, 3, 4], line=3)
    0.5
    >>> poverty_headcount([1, 2, 3, 4], line=3, weights=[4, 1, 1, 2])
    0.625
    """
    if not validate:
        return float(_dot(weights, incomes < line) / weights.sum())
    y, w = _incomes(incomes, weights)
    if not math.isfinite(float(line)):
        raise ValueError(f"poverty line must be finite, got {line!r}")
    return float(_dot(w, y < line) / w.sum())
