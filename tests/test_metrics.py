"""Tests for sim.metrics and its reference implementations in tests/oracle.py.

The oracle is checked by hand-computed cases and identities (hypothesis); the fast
functions of sim.metrics, and the model's monthly outcomes, are checked against it.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import oracle
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from oracle import (
    count_below,
    gini,
    group_summary,
    lorenz_curve,
    theil_decomposition,
    theil_l,
    urban_rural_ratio,
    weighted_median,
)

from sim import metrics
from sim.metrics import (
    combine_theil_t,
    gini_of_two_groups_sorted,
    poverty_headcount,
    theil_t,
    weighted_mean,
    weighted_median_sorted,
)
from sim.model import PairingModel
from sim.outcome_registry import LORENZ_KEYS, LORENZ_SHARES

FAST = settings(max_examples=30, deadline=None)

# Incomes: zeros allowed, otherwise in [0.01, 1e6] (no subnormals: the simulation never
# produces them and their means cannot be computed to relative precision).
income = st.one_of(st.just(0.0), st.floats(min_value=0.01, max_value=1e6))
positive_income = st.floats(min_value=0.01, max_value=1e6)
# Weights: household sizes (integers) or fractional survey-style weights, or 0.
weight = st.one_of(st.just(0.0), st.integers(1, 8).map(float), st.floats(min_value=0.01, max_value=10.0))


@st.composite
def sample(draw, elements=income, min_size=1, max_size=40, weighted=None, n_groups=None):
    """(incomes, weights or None, group labels) with positive total income."""
    ys = draw(st.lists(elements, min_size=min_size, max_size=max_size))
    assume(sum(ys) > 0)
    n = len(ys)
    if weighted is None:
        weighted = draw(st.booleans())
    ws = None
    if weighted:
        ws = draw(st.lists(weight, min_size=n, max_size=n))
        assume(sum(ws) > 0)
        assume(sum(w * y for w, y in zip(ws, ys)) > 0)
    k = draw(st.integers(1, 6)) if n_groups is None else n_groups
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    return np.array(ys), (None if ws is None else np.array(ws)), np.array(labels)


def gini_bruteforce(y, w=None) -> float:
    """Mean-absolute-difference definition: sum_ij w_i w_j |y_i - y_j| / (2 W^2 mu)."""
    y = np.asarray(y, float)
    w = np.ones_like(y) if w is None else np.asarray(w, float)
    big_w = w.sum()
    mu = np.dot(w, y) / big_w
    return float(np.sum(np.outer(w, w) * np.abs(y[:, None] - y[None, :])) / (2 * big_w**2 * mu))


def close(a: float, b: float, rel: float = 1e-12, abs_: float = 1e-15) -> bool:
    """Relative 1e-12; the 1e-15 absolute floor only matters when the index is ~0
    (nearly equal incomes, T ~ 1e-20), where a one-ulp difference in the mean is a
    large relative error for any floating-point Theil."""
    return a == pytest.approx(b, rel=rel, abs=abs_)


@pytest.mark.parametrize("module", [metrics, oracle], ids=["metrics", "oracle"])
def test_doctests_run(module):
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 10
    assert result.failed == 0


# --------------------------------------------------------------------------- #
# Quintile ratio
# --------------------------------------------------------------------------- #


@FAST
@given(st.lists(st.integers(1, 6), min_size=1, max_size=30), st.integers(0, 2**31 - 1))
def test_quintile_ratio_is_that_of_the_people_one_by_one(sizes, seed):
    """Household weights are people: splitting each household into its members, with five copies of everyone so
    that each fifth is whole people, gives the same ratio as the plain top-fifth over bottom-fifth means."""
    rng = np.random.default_rng(seed)
    incomes = np.sort(rng.lognormal(8.0, 1.0, len(sizes)))
    people = np.repeat(incomes, np.array(sizes) * 5)
    fifth = len(people) // 5
    expected = people[-fifth:].mean() / people[:fifth].mean()
    assert metrics.quintile_ratio_sorted(incomes, np.array(sizes, dtype=float)) == pytest.approx(expected, rel=1e-9)


def test_quintile_ratio_of_equal_incomes_is_one_and_of_no_bottom_income_infinite():
    assert metrics.quintile_ratio_sorted(np.full(7, 3.0), np.arange(1.0, 8.0)) == pytest.approx(1.0, rel=1e-12)
    assert metrics.quintile_ratio_sorted(np.array([0.0, 0.0, 5.0]), np.ones(3)) == math.inf


# --------------------------------------------------------------------------- #
# Gini
# --------------------------------------------------------------------------- #


def test_gini_hand_computed():
    # Pairs of [1,2,3,4]: |diffs| 1,2,3,1,2,1 -> sum over ordered pairs 20;
    # G = 20 / (2 * 4^2 * 2.5) = 0.25
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25, abs=1e-15)
    assert gini([4, 1, 3, 2]) == pytest.approx(0.25, abs=1e-15)  # order irrelevant
    assert gini_bruteforce([1, 2, 3, 4]) == pytest.approx(0.25)


def test_gini_weighted_equals_repeated_rows_hand():
    # [1, 1, 3]: ordered-pair |diffs| 0,2,2 twice -> 8; G = 8 / (2*9*5/3) = 8/30
    assert gini([1, 1, 3]) == pytest.approx(8 / 30, rel=1e-14)
    assert gini([1, 3], weights=[2, 1]) == pytest.approx(8 / 30, rel=1e-14)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 1000])
def test_one_holder_gini_and_theil_t(n):
    y = np.zeros(n)
    y[-1] = 123.0
    assert gini(y) == (n - 1) / n
    assert theil_t(y) == pytest.approx(math.log(n), rel=1e-13, abs=1e-15)
    rng = np.random.default_rng(n)
    assert gini(rng.permutation(y)) == (n - 1) / n


@pytest.mark.parametrize("fn", [gini, theil_t, theil_l])
@pytest.mark.parametrize("value", [0.37, 1.0, 25_000.0])
def test_equal_incomes_give_zero(fn, value):
    y = np.full(50, value)
    assert fn(y) == 0.0
    assert fn(y, weights=np.arange(1, 51)) == 0.0


@FAST
@given(sample(max_size=12))
def test_gini_matches_mean_absolute_difference(data):
    y, w, _ = data
    assert gini(y, w) == pytest.approx(gini_bruteforce(y, w), rel=1e-9, abs=1e-12)


@FAST
@given(sample(), st.floats(min_value=1e-3, max_value=1e3))
def test_scale_invariance(data, c):
    y, w, _ = data
    assert gini(c * y, w) == pytest.approx(gini(y, w), rel=1e-9, abs=1e-12)
    assert theil_t(c * y, w) == pytest.approx(theil_t(y, w), rel=1e-9, abs=1e-12)
    if y.min() > 0:
        assert theil_l(c * y, w) == pytest.approx(theil_l(y, w), rel=1e-9, abs=1e-12)


def test_gini_zero_income_rows_and_zero_weights():
    assert gini([0, 0, 1, 1]) == pytest.approx(gini_bruteforce([0, 0, 1, 1]))
    # A zero-weight row is the same as no row.
    assert gini([1, 2, 100], weights=[1, 1, 0]) == pytest.approx(gini([1, 2]))


# --------------------------------------------------------------------------- #
# Theil T and L
# --------------------------------------------------------------------------- #


def test_theil_hand_computed():
    # y = [1, 3], mu = 2: T = (0.5 ln 0.5 + 1.5 ln 1.5) / 2; L = (ln 2 + ln(2/3)) / 2
    t = (0.5 * math.log(0.5) + 1.5 * math.log(1.5)) / 2
    ell = (math.log(2) + math.log(2 / 3)) / 2
    assert theil_t([1, 3]) == pytest.approx(t, rel=1e-14)
    assert theil_l([1, 3]) == pytest.approx(ell, rel=1e-14)
    # weights [2, 1] on [1, 3] == rows [1, 1, 3], mu = 5/3
    mu = 5 / 3
    t3 = (2 * (1 / mu) * math.log(1 / mu) + (3 / mu) * math.log(3 / mu)) / 3
    l3 = (2 * math.log(mu / 1) + math.log(mu / 3)) / 3
    assert theil_t([1, 3], weights=[2, 1]) == pytest.approx(t3, rel=1e-14)
    assert theil_l([1, 3], weights=[2, 1]) == pytest.approx(l3, rel=1e-14)


def test_theil_t_handles_zero_incomes():
    # y = [0, 2]: mu = 1, T = (0 + 2 ln 2) / 2 = ln 2
    assert theil_t([0, 2]) == pytest.approx(math.log(2), rel=1e-14)


def test_theil_l_rejects_zero_income_but_ignores_zero_weight_rows():
    with pytest.raises(ValueError, match="undefined when an income is zero"):
        theil_l([0, 1, 2])
    with pytest.raises(ValueError, match="undefined when an income is zero"):
        theil_decomposition([0, 1, 2], [0, 0, 1], index="L")
    assert theil_l([0, 1, 3], weights=[0, 1, 1]) == pytest.approx(theil_l([1, 3]))


@FAST
@given(sample(weighted=False), st.data())
def test_weighted_equals_repeated_rows(data, draw):
    y, _, g = data
    counts = np.array(draw.draw(st.lists(st.integers(0, 4), min_size=len(y), max_size=len(y))))
    assume(np.dot(counts, y) > 0)
    yr, gr = np.repeat(y, counts), np.repeat(g, counts)
    w = counts.astype(float)
    tol = {"rel": 1e-9, "abs": 1e-12}
    assert gini(y, w) == pytest.approx(gini(yr), **tol)
    assert theil_t(y, w) == pytest.approx(theil_t(yr), **tol)
    dw, dr = theil_decomposition(y, g, w), theil_decomposition(yr, gr)
    assert dw.between == pytest.approx(dr.between, **tol)
    assert dw.within == pytest.approx(dr.within, **tol)
    assert poverty_headcount(y, 100.0, w) == pytest.approx(poverty_headcount(yr, 100.0))
    assert weighted_median(y, w) == weighted_median(yr)
    if yr.min() > 0:
        assert theil_l(y, w) == pytest.approx(theil_l(yr), **tol)
        assert theil_decomposition(y, g, w, "L").between == pytest.approx(theil_decomposition(yr, gr, index="L").between, **tol)


# --------------------------------------------------------------------------- #
# Decomposition
# --------------------------------------------------------------------------- #


@FAST
@given(sample())
def test_decomposition_t_sums_to_total(data):
    y, w, g = data
    d = theil_decomposition(y, g, w, index="T")
    assert d.index == "T"
    assert close(d.between + d.within, d.total)
    assert close(d.total, theil_t(y, w))
    assert d.between >= -1e-12 and d.within >= -1e-12


@FAST
@given(sample(elements=positive_income))
def test_decomposition_l_sums_to_total(data):
    y, w, g = data
    d = theil_decomposition(y, g, w, index="L")
    assert d.index == "L"
    assert close(d.between + d.within, d.total)
    assert close(d.total, theil_l(y, w))
    assert d.between >= -1e-12 and d.within >= -1e-12


@FAST
@given(sample(), st.sampled_from(["T", "L"]))
def test_decomposition_group_table(data, index):
    y, w, g = data
    if index == "L":
        y = y + 1.0  # strictly positive
    d = theil_decomposition(y, g, w, index=index)
    t = d.groups
    assert list(t.columns) == ["population_share", "income_share", "mean", "theil", "contribution"]
    assert t.index.tolist() == sorted(set(g.tolist()))
    assert t["population_share"].sum() == pytest.approx(1.0)
    assert t["income_share"].sum() == pytest.approx(1.0)
    assert t["contribution"].sum() == pytest.approx(d.within, rel=1e-12, abs=1e-15)
    ww = np.ones_like(y) if w is None else w
    own_index = theil_t if index == "T" else theil_l
    for label, row in t.iterrows():
        m = g == label
        if ww[m].sum() > 0 and np.dot(ww[m], y[m]) > 0:
            assert row["mean"] == pytest.approx(np.dot(ww[m], y[m]) / ww[m].sum())
            assert row["theil"] == pytest.approx(own_index(y[m], ww[m]), rel=1e-9, abs=1e-12)


def test_decomposition_between_zero_when_group_means_equal():
    y = np.array([1.0, 3.0, 2.0, 2.0, 0.5, 3.5])
    g = np.array(["a", "a", "b", "b", "c", "c"])
    for index in ("T", "L"):
        d = theil_decomposition(y, g, index=index)
        assert d.between == pytest.approx(0.0, abs=1e-15)
        assert d.within == pytest.approx(d.total, rel=1e-12)
        assert d.between_share == pytest.approx(0.0, abs=1e-14)


@FAST
@given(sample(), st.sampled_from(["T", "L"]))
def test_decomposition_single_group(data, index):
    y, w, _ = data
    if index == "L":
        y = y + 0.5
    d = theil_decomposition(y, np.full(len(y), "rural"), w, index=index)
    assert d.between == pytest.approx(0.0, abs=1e-14)
    assert close(d.within, d.total)
    assert d.groups.index.tolist() == ["rural"]
    assert d.groups["population_share"].iloc[0] == pytest.approx(1.0)


def test_decomposition_one_unit_per_group_is_all_between():
    y = np.array([1.0, 2.0, 7.0])
    d = theil_decomposition(y, [10, 20, 30])
    assert d.within == 0.0
    assert d.between == pytest.approx(theil_t(y), rel=1e-12)
    assert d.between_share == pytest.approx(1.0)


def test_decomposition_urban_rural_strings_and_zero_income_group():
    y = [0.0, 0.0, 1.0, 3.0, 10.0]
    g = ["idle", "idle", "rural", "rural", "urban"]
    d = theil_decomposition(y, g, weights=[1, 2, 1, 1, 1])
    assert d.groups.index.tolist() == ["idle", "rural", "urban"]
    idle = d.groups.loc["idle"]
    assert idle["income_share"] == 0.0 and idle["contribution"] == 0.0
    assert math.isnan(idle["theil"])
    assert close(d.between + d.within, d.total)
    assert close(d.total, theil_t(y, [1, 2, 1, 1, 1]))


def test_decomposition_zero_weight_group():
    d = theil_decomposition([1.0, 3.0, 5.0], [0, 0, 1], weights=[1, 1, 0], index="L")
    assert math.isnan(d.groups.loc[1, "mean"]) and d.groups.loc[1, "contribution"] == 0.0
    assert close(d.total, theil_l([1, 3]))
    assert close(d.between + d.within, d.total)


def test_between_share_zero_total():
    d = theil_decomposition([2.0, 2.0], ["a", "b"])
    assert d.total == d.between == d.within == 0.0
    assert d.between_share == 0.0


# --------------------------------------------------------------------------- #
# Lorenz curve
# --------------------------------------------------------------------------- #


@FAST
@given(sample())
def test_lorenz_curve_shape_and_gini_area(data):
    y, w, _ = data
    p, L = lorenz_curve(y, w)
    assert len(p) == len(L) == len(y) + 1
    assert p[0] == L[0] == 0.0 and p[-1] == L[-1] == 1.0
    assert np.all(np.diff(p) >= 0) and np.all(np.diff(L) >= 0)
    assert np.all(L <= p + 1e-12)
    area = float(np.sum(np.diff(p) * (L[1:] + L[:-1]) / 2))
    assert 1 - 2 * area == pytest.approx(gini(y, w), abs=1e-9)


def test_lorenz_points_reach_exactly_1_at_the_top():
    """Weights whose sums round differently in the two orders (the reviewer's case)."""
    points = metrics.lorenz_points_of_two_groups_sorted(
        np.array([1.0, 3.0]), np.array([0.1, 0.2]), np.array([2.0]), np.array([0.3]), [0.9, 1.0]
    )
    np.testing.assert_allclose(points, np.interp([0.9, 1.0], *lorenz_curve([1.0, 3.0, 2.0], [0.1, 0.2, 0.3])), atol=1e-12)


@FAST
@given(sample(elements=st.integers(0, 6).map(float)), st.floats(0.0, 1.0))
def test_lorenz_points_of_two_sorted_groups_equal_the_pooled_curve(data, where):
    """Small integer incomes make ties between and within the groups common."""
    y, w, _ = data
    w = np.ones(y.size) if w is None else w
    split = min(max(1, round(where * y.size)), y.size - 1)  # both groups non-empty, whatever the sample size
    assume(y.size > 1 and w[:split].sum() > 0 and w[split:].sum() > 0)
    a, b = np.argsort(y[:split]), np.argsort(y[split:])
    shares = np.linspace(0.0, 1.0, 21)  # the ends too: 1.0 is where rounding could leave the curve short of 1
    got = metrics.lorenz_points_of_two_groups_sorted(y[:split][a], w[:split][a], y[split:][b], w[split:][b], shares)
    expected = np.interp(shares, *lorenz_curve(y, w))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- #
# Poverty, ratio, counts, summaries
# --------------------------------------------------------------------------- #


def test_poverty_headcount_hand():
    y = [500, 1000, 2000, 4000]
    assert poverty_headcount(y, line=2000) == 0.5  # strictly below: 2000 is not poor
    assert poverty_headcount(y, line=2000.01) == 0.75
    assert poverty_headcount(y, line=0) == 0.0
    assert poverty_headcount(y, line=2000, weights=[5, 1, 2, 2]) == 0.6
    assert poverty_headcount([0.0], line=1) == 1.0


def test_urban_rural_ratio_hand():
    assert urban_rural_ratio([10, 20], [5, 5]) == 3.0
    # urban mean (10*1 + 40*3)/4 = 32.5; rural mean (4*3 + 6*1)/4 = 4.5
    assert urban_rural_ratio([10, 40], [4, 6], [1, 3], [3, 1]) == pytest.approx(32.5 / 4.5)
    with pytest.raises(ValueError, match="rural income is zero"):
        urban_rural_ratio([1], [0, 0])


def test_count_below_hand():
    assert count_below([0.5, 3.0, 10.0, 2.9, -1.0], threshold=3) == 3
    assert count_below([], 5.0) == 0
    assert isinstance(count_below(np.array([1, 2]), 2), int)
    with pytest.raises(ValueError):
        count_below([1.0, float("nan")], 2)


def test_weighted_mean_and_median_hand():
    assert weighted_mean([1, 2, 3, 4]) == 2.5
    assert weighted_mean([-1, 1], weights=[3, 1]) == -0.5
    assert weighted_median([1, 2, 3, 4]) == 2.0  # lower median, never interpolated
    assert weighted_median([3, 1, 2]) == 2.0
    assert weighted_median([1, 2, 3], weights=[1, 1, 5]) == 3.0
    assert weighted_median([1, 2, 3], weights=[2, 1, 1]) == 1.0  # share 0.5 reached at 1
    assert weighted_median([1, 2, 3], weights=[0, 0, 1]) == 3.0


def test_group_summary_hand():
    s = group_summary([5, 1, 3, 10, 20, 7], ["b", "a", "a", "c", "c", "b"], weights=[1, 1, 1, 1, 3, 2])
    assert s.index.tolist() == ["a", "b", "c"]
    assert list(s.columns) == ["mean", "median", "population"]
    assert s.loc["a"].tolist() == [2.0, 1.0, 2.0]
    assert s.loc["b", "mean"] == pytest.approx(19 / 3)
    assert s.loc["b", "median"] == 7.0
    assert s.loc["c"].tolist() == [17.5, 20.0, 4.0]


def test_group_summary_zero_weight_group_is_nan():
    s = group_summary([1, 2, 3], [1, 2, 2], weights=[0, 1, 1])
    assert math.isnan(s.loc[1, "mean"]) and math.isnan(s.loc[1, "median"])
    assert s.loc[1, "population"] == 0.0
    assert s.loc[2].tolist() == [2.5, 2.0, 2.0]


@FAST
@given(sample())
def test_group_summary_matches_per_group_helpers(data):
    y, w, g = data
    s = group_summary(y, g, w)
    ww = np.ones_like(y) if w is None else w
    assert s.index.tolist() == sorted(set(g.tolist()))
    for label in s.index:
        m = g == label
        assert s.loc[label, "population"] == pytest.approx(ww[m].sum())
        if ww[m].sum() > 0:
            assert s.loc[label, "mean"] == pytest.approx(weighted_mean(y[m], ww[m]))
            assert s.loc[label, "median"] == weighted_median(y[m], ww[m])
    if w is None:
        expected = pd.Series(y).groupby(g).mean()
        assert np.allclose(s["mean"].to_numpy(), expected.to_numpy())


# --------------------------------------------------------------------------- #
# The fast functions of sim.metrics against the oracle
# --------------------------------------------------------------------------- #


def split_sorted(y, w, where):
    """The sample cut in two non-empty groups, each sorted ascending with its weights (as sim/outcomes.py has them)."""
    w = np.ones(y.size) if w is None else w
    split = min(max(1, round(where * y.size)), y.size - 1)
    a, b = np.argsort(y[:split]), np.argsort(y[split:])
    return y[:split][a], w[:split][a], y[split:][b], w[split:][b], w


@FAST
@given(sample(min_size=2), st.floats(0.0, 1.0))
def test_gini_of_two_sorted_groups_equals_the_oracle_on_each_and_on_both(data, where):
    y, w, _ = data
    y_a, w_a, y_b, w_b, w = split_sorted(y, w, where)
    assume(np.dot(w_a, y_a) > 0)
    gini_a, gini_all = gini_of_two_groups_sorted(y_a, w_a, y_b, w_b)
    assert gini_a == pytest.approx(gini(y_a, w_a), rel=1e-9, abs=1e-12)
    assert gini_all == pytest.approx(gini(y, w), rel=1e-9, abs=1e-12)


@FAST
@given(sample(min_size=2), st.floats(0.0, 1.0))
def test_combined_theil_t_equals_the_oracle_decomposition(data, where):
    y, w, _ = data
    y_a, w_a, y_b, w_b, w = split_sorted(y, w, where)
    assume(w_a.sum() > 0 and w_b.sum() > 0 and np.dot(w_a, y_a) > 0 and np.dot(w_b, y_b) > 0)
    combined = combine_theil_t(
        [weighted_mean(y_a, w_a), weighted_mean(y_b, w_b)], [w_a.sum(), w_b.sum()], [theil_t(y_a, w_a), theil_t(y_b, w_b)]
    )
    reference = theil_decomposition(
        np.concatenate([y_a, y_b]), np.repeat([0, 1], [y_a.size, y_b.size]), np.concatenate([w_a, w_b])
    )
    for part in ("total", "between", "within"):
        assert getattr(combined, part) == pytest.approx(getattr(reference, part), rel=1e-9, abs=1e-12), part


@FAST
@given(sample())
def test_median_of_sorted_values_equals_the_oracle(data):
    y, w, _ = data
    w = np.ones(y.size) if w is None else w
    order = np.argsort(y)
    assert weighted_median_sorted(y[order], w[order]) == weighted_median(y, w)


@pytest.fixture(scope="module")
def county_after_a_year(small_scenario_path) -> PairingModel:
    """small.yaml after 12 months: a yearly reporting point, so the Lorenz points are fresh too."""
    model = PairingModel(scenario=small_scenario_path, rng=3)
    for _ in range(12):
        model.step()
    return model


def test_monthly_outcomes_equal_the_oracle_on_the_county(county_after_a_year):
    model = county_after_a_year
    h, urban, outcomes = model.households, model.urban, model.outcomes
    rural, urban_pc = h.annual_per_capita, urban.annual_income / urban.size
    incomes, people = np.concatenate([rural, urban_pc]), np.concatenate([h.size, urban.people])
    groups = np.repeat(["rural", "urban"], [rural.size, urban_pc.size])
    decomposition = theil_decomposition(incomes, groups, people)
    expected = {
        "gini": gini(incomes, people),
        "gini_rural": gini(rural, h.size),
        "theil_t": decomposition.total,
        "theil_t_between": decomposition.between,
        "theil_t_within": decomposition.within,
        "theil_between_share": decomposition.between_share,
        "urban_rural_ratio": urban_rural_ratio(urban_pc, rural, urban.people, h.size),
        **dict(zip(LORENZ_KEYS, np.interp(LORENZ_SHARES, *lorenz_curve(incomes, people)), strict=True)),
    }
    for name, value in expected.items():
        assert outcomes[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert outcomes["rural_median_income_pc"] == weighted_median(rural, h.size)
    thresholds = model.spec.classification
    collective = model.village_state.collective_annual
    assert outcomes["weak_villages"] == count_below(collective, thresholds.weak_collective_income)
    assert outcomes["hollow_villages"] == count_below(collective, thresholds.hollow_collective_income)


def test_village_incomes_equal_the_oracle_group_means(county_after_a_year):
    model = county_after_a_year
    h = model.households
    villages = model.village_dataframe().query("year == year.max()")
    summary = group_summary(h.annual_per_capita, h.village, h.size)
    np.testing.assert_allclose(villages["income_pc"].to_numpy(), summary["mean"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(villages["population"].to_numpy(), summary["population"].to_numpy())


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gini([]), "empty"),
        (lambda: gini([1, -2]), "non-negative"),
        (lambda: theil_t([1, float("nan")]), "NaN"),
        (lambda: theil_l([1, float("inf")]), "infinite"),
        (lambda: gini([1, 2], weights=[1]), "length"),
        (lambda: theil_t([1, 2], weights=[1, -1]), "non-negative"),
        (lambda: theil_t([1, 2], weights=[0, 0]), "sum to zero"),
        (lambda: gini([0, 0]), "zero"),
        (lambda: gini([0, 5], weights=[1, 0]), "zero"),
        (lambda: gini([[1, 2], [3, 4]]), "one-dimensional"),
        (lambda: gini(["a", "b"]), "numeric"),
        (lambda: theil_decomposition([1, 2], [0]), "groups has length"),
        (lambda: theil_decomposition([1, 2], [0, 1], index="X"), "'T' or 'L'"),
        (lambda: theil_decomposition([1, 2], [0.0, float("nan")]), "missing labels"),
        (lambda: theil_decomposition([0, 0], [0, 1]), "zero"),
        (lambda: group_summary([1, 2], [0, 1, 2]), "groups has length"),
        (lambda: poverty_headcount([1, 2], line=float("nan")), "finite"),
        (lambda: poverty_headcount([-1, 2], line=1), "non-negative"),
        (lambda: urban_rural_ratio([1], [1, 2], rural_weights=[1]), "rural_weights"),
        (lambda: weighted_mean([]), "empty"),
        (lambda: weighted_median([1, 2], weights=[1, 2, 3]), "length"),
        (lambda: lorenz_curve([0.0, 0.0]), "zero"),
        (lambda: combine_theil_t([1, 2], [1, 1], [0.1]), "theils has length 1, expected 2"),
        (lambda: combine_theil_t([0, 0], [1, 1], [0, 0]), "mean income is zero"),
    ],
)
def test_validation_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
