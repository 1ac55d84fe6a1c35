"""Tests for sim.households: drawing households and the struct-of-arrays bookkeeping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.households import (
    INCOME_SOURCES,
    HouseholdArrays,
    build_households,
    monthly_factor,
    trailing_year_factor,
)
from sim.region import build_villages
from sim.scenario import Households as HouseholdSpec
from sim.scenario import load_scenario

# --------------------------------------------------------------------------- local helpers


def _frame(populations, households) -> pd.DataFrame:
    return pd.DataFrame(
        {"population": np.asarray(populations, dtype=np.int64), "households": np.asarray(households, dtype=np.int64)}
    )


@pytest.fixture(scope="module")
def small_frame(small_scenario_path):
    spec = load_scenario(small_scenario_path)
    return build_villages(spec, np.random.default_rng(11))


@pytest.fixture(scope="module")
def big_households():
    """100,000 households in 50 villages: enough to check distribution moments tightly."""
    frame = _frame(np.full(50, 7000), np.full(50, 2000))
    spec = HouseholdSpec(income_cv=0.5, able_worker_share=0.55, initial_migrant_share=0.35)
    return frame, spec, build_households(frame, spec, 0.7, np.random.default_rng(2024))


def _random_incomes(h: HouseholdArrays, rng: np.random.Generator) -> None:
    for source in INCOME_SOURCES:
        h.income[source] = rng.gamma(2.0, 300.0, size=len(h)) * (rng.random(len(h)) < 0.8)


# --------------------------------------------------------------------------- build_households


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sizes_sum_to_village_population(small_frame, seed):
    h = build_households(small_frame, HouseholdSpec(), 0.7, np.random.default_rng(seed))
    population = small_frame["population"].to_numpy()
    per_village = np.bincount(h.village, weights=h.size, minlength=len(small_frame))
    assert np.array_equal(per_village, population.astype(float))
    assert h.village_sum(h.size).tolist() == population.astype(float).tolist()
    assert (h.size >= 1).all()
    assert np.array_equal(h.size, np.round(h.size))  # whole people


def test_village_rows_sorted_and_match_start_stop(small_frame):
    h = build_households(small_frame, HouseholdSpec(), 0.7, np.random.default_rng(0))
    counts = small_frame["households"].to_numpy()
    assert len(h) == counts.sum()
    assert (np.diff(h.village) >= 0).all()
    assert h.start[0] == 0 and h.stop[-1] == len(h)
    assert np.array_equal(h.stop - h.start, counts)
    assert np.array_equal(h.start[1:], h.stop[:-1])
    for v in range(len(small_frame)):
        rows = h.village[h.start[v] : h.stop[v]]
        assert (rows == v).all()
    assert np.array_equal(np.bincount(h.village, minlength=len(counts)), counts)


def test_workers_migrants_and_jobs_are_consistent(small_frame):
    h = build_households(small_frame, HouseholdSpec(), 0.7, np.random.default_rng(5))
    assert (h.workers >= 0).all()
    assert (h.workers <= h.size).all()
    assert (h.migrants >= 0).all()
    assert (h.migrants <= h.workers).all()
    assert (h.local_jobs == 0).all()
    assert np.array_equal(h.skill, h.skill_base)
    assert h.skill is not h.skill_base  # training must not move the untrained level
    assert (h.skill > 0).all()


def test_land_follows_household_size(small_frame):
    spec = HouseholdSpec(land_per_capita_mu=2.5)
    h = build_households(small_frame, spec, 0.7, np.random.default_rng(0))
    np.testing.assert_allclose(h.land, 2.5 * h.size)


def test_skill_mean_one_and_cv(big_households):
    _, spec, h = big_households
    n = len(h)
    assert h.skill.mean() == pytest.approx(1.0, abs=5 * spec.income_cv / np.sqrt(n) + 1e-3)
    cv = h.skill.std() / h.skill.mean()
    assert cv == pytest.approx(spec.income_cv, abs=0.02)


@pytest.mark.parametrize("cv", [0.2, 1.0])
def test_skill_cv_follows_spec(cv):
    frame = _frame(np.full(20, 15000), np.full(20, 5000))
    h = build_households(frame, HouseholdSpec(income_cv=cv), 0.7, np.random.default_rng(8))
    assert h.skill.mean() == pytest.approx(1.0, abs=0.03)
    assert h.skill.std() / h.skill.mean() == pytest.approx(cv, rel=0.1)


def test_zero_cv_gives_equal_skills():
    frame = _frame([50, 60], [10, 20])
    h = build_households(frame, HouseholdSpec(income_cv=0.0), 0.7, np.random.default_rng(0))
    np.testing.assert_allclose(h.skill, 1.0, rtol=0, atol=1e-15)


def test_business_multipliers_have_a_log_normal_body_and_a_pareto_tail():
    from sim.households import business_multipliers

    n = 400_000
    spec = HouseholdSpec(operating_cv=0.3, business_share=0.1, business_tail_index=2.5)
    body = business_multipliers(n, HouseholdSpec(operating_cv=0.3, business_share=0.0), np.random.default_rng(1))
    assert body.mean() == pytest.approx(1.0, abs=0.003)
    assert body.std() == pytest.approx(0.3, abs=0.003)
    mixed = business_multipliers(n, spec, np.random.default_rng(1))
    # Without the body, owners are exactly those above 1, and their tail is Pareto: P(> x) = x^-2.5.
    tail = business_multipliers(
        n, HouseholdSpec(operating_cv=0.0, business_share=0.1, business_tail_index=2.5), np.random.default_rng(1)
    )
    owners = tail[tail > 1.0]
    assert owners.size / n == pytest.approx(0.1, abs=0.002)
    for x in (1.5, 2.0, 4.0):
        assert np.mean(owners > x) == pytest.approx(x**-2.5, abs=0.01)
    assert mixed.mean() == pytest.approx(0.9 + 0.1 * 2.5 / 1.5, abs=0.01)  # Pareto mean a / (a - 1)
    flat = business_multipliers(1000, HouseholdSpec(operating_cv=0.0, business_share=0.0), np.random.default_rng(1))
    np.testing.assert_array_equal(flat, 1.0)


def test_worker_migrant_and_dibao_shares(big_households):
    _, spec, h = big_households
    assert h.workers.sum() / h.size.sum() == pytest.approx(spec.able_worker_share, abs=0.01)
    assert h.migrants.sum() / h.workers.sum() == pytest.approx(spec.initial_migrant_share, abs=0.01)
    assert h.dibao_covered.mean() == pytest.approx(0.7, abs=0.01)


def test_household_size_spread_matches_village_mean(big_households):
    frame, _, h = big_households
    assert h.size.mean() == pytest.approx(frame["population"].sum() / frame["households"].sum(), rel=1e-12)
    assert h.size.std() > 0.5  # sizes vary, not all equal


def test_one_person_per_household_village():
    frame = _frame([5, 9], [5, 3])
    h = build_households(frame, HouseholdSpec(), 1.0, np.random.default_rng(0))
    assert h.size[:5].tolist() == [1.0] * 5
    assert h.size[5:].sum() == 9


def test_extreme_shares():
    frame = _frame([400, 300], [100, 100])
    h = build_households(frame, HouseholdSpec(able_worker_share=1.0, initial_migrant_share=0.0), 0.0, np.random.default_rng(0))
    assert np.array_equal(h.workers, h.size.astype(np.int32))
    assert (h.migrants == 0).all()
    assert not h.dibao_covered.any()
    h = build_households(frame, HouseholdSpec(able_worker_share=1.0, initial_migrant_share=1.0), 1.0, np.random.default_rng(0))
    assert np.array_equal(h.migrants, h.workers)
    assert h.dibao_covered.all()
    assert (h.farm_workers == 0).all()


# --------------------------------------------------------------------------- bookkeeping


def test_record_month_keeps_annual_equal_to_history(small_frame):
    rng = np.random.default_rng(3)
    h = build_households(small_frame, HouseholdSpec(), 0.7, rng)
    _random_incomes(h, rng)
    h.start_history(0.0)
    first_total = sum(h.income[s] for s in INCOME_SOURCES)
    np.testing.assert_allclose(h.annual, 12 * first_total)
    assert h.history.shape == (12, len(h))

    for month in range(1, 101):
        _random_incomes(h, rng)
        total = sum(h.income[s] for s in INCOME_SOURCES)
        h.record_month(month)
        np.testing.assert_array_equal(h.history[month % 12], total)
        np.testing.assert_allclose(h.annual, h.history.sum(axis=0), rtol=1e-9, atol=1e-6)
    # After 12+ months the window only holds recorded months: annual is the sum of the last 12 totals.
    assert (h.annual >= 0).all()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    months=st.lists(st.integers(0, 500), min_size=1, max_size=40),
    scale=st.floats(1.0, 1e6),
)
def test_record_month_any_month_sequence(months, scale):
    """Whatever months are recorded (in any order, with repeats), annual is the window's sum."""
    rng = np.random.default_rng(len(months))
    frame = _frame([10, 12, 7], [3, 4, 2])
    h = build_households(frame, HouseholdSpec(), 0.7, rng)
    for source in INCOME_SOURCES:
        h.income[source] = rng.random(len(h)) * scale
    h.start_history(0.1)
    for month in months:
        for source in INCOME_SOURCES:
            h.income[source] = rng.random(len(h)) * scale
        h.record_month(month)
        np.testing.assert_allclose(h.annual, h.history.sum(axis=0), rtol=1e-9, atol=1e-9 * scale)


@pytest.mark.parametrize("growth", [0.0, 0.1, -0.3, 0.8])
def test_start_history_back_casts_at_past_growth(small_frame, growth):
    rng = np.random.default_rng(9)
    h = build_households(small_frame, HouseholdSpec(), 0.7, rng)
    _random_incomes(h, rng)
    total = sum(h.income[s] for s in INCOME_SOURCES)
    h.start_history(growth)
    assert h.history.shape == (12, len(h))
    np.testing.assert_allclose(h.history[0], total, rtol=1e-12)  # step 0 is this month
    np.testing.assert_allclose(h.annual, h.history.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(h.annual, trailing_year_factor(growth) * total, rtol=1e-12)
    # One month back in the ring (slot 11) is this month's income deflated by one month's growth.
    np.testing.assert_allclose(h.history[11], total / monthly_factor(growth), rtol=1e-12)
    # Recording the next 12 months of flat income leaves a year of that income.
    for step in range(1, 13):
        h.record_month(step)
    np.testing.assert_allclose(h.annual, 12 * total, rtol=1e-9)


def test_trailing_year_factor():
    assert trailing_year_factor(0.0) == pytest.approx(12.0, rel=1e-15)
    g = 0.1
    m = monthly_factor(g)
    assert trailing_year_factor(g) == pytest.approx((1 - m**-12) / (1 - 1 / m), rel=1e-12)
    assert trailing_year_factor(0.2) < trailing_year_factor(0.1) < 12.0 < trailing_year_factor(-0.1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rate=st.floats(-0.5, 1.0))
def test_monthly_factor_compounds_to_a_year(rate):
    assert monthly_factor(rate) ** 12 == pytest.approx(1.0 + rate, rel=1e-12)


def test_annual_per_capita(small_frame):
    rng = np.random.default_rng(4)
    h = build_households(small_frame, HouseholdSpec(), 0.7, rng)
    _random_incomes(h, rng)
    h.start_history(0.0)
    np.testing.assert_allclose(h.annual_per_capita * h.size, h.annual)


def test_village_sum_equals_bincount(small_frame):
    rng = np.random.default_rng(6)
    h = build_households(small_frame, HouseholdSpec(), 0.7, rng)
    for values in (rng.normal(size=len(h)), h.workers, h.size, rng.integers(0, 5, len(h))):
        expected = np.bincount(h.village, weights=np.asarray(values, float), minlength=len(small_frame))
        result = h.village_sum(values)
        assert result.shape == (len(small_frame),)
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-9)


def test_village_sum_single_household_villages():
    h = build_households(_frame([1, 1, 3], [1, 1, 1]), HouseholdSpec(), 0.5, np.random.default_rng(0))
    assert h.village_sum(np.array([2.0, 3.0, 5.0])).tolist() == [2.0, 3.0, 5.0]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=30),
)
def test_farm_workers_never_negative(data):
    workers, migrants, local_jobs = (np.array(column, dtype=np.int32) for column in zip(*data, strict=True))
    n = len(workers)
    h = HouseholdArrays(
        village=np.zeros(n, dtype=np.int32),
        size=np.full(n, 7.0),
        workers=workers,
        migrants=migrants,
        local_jobs=local_jobs,
        skill=np.ones(n),
        skill_base=np.ones(n),
        land=np.ones(n),
        dibao_covered=np.zeros(n, dtype=bool),
        start=np.array([0]),
        stop=np.array([n]),
    )
    farm = h.farm_workers
    assert (farm >= 0).all()
    expected = np.maximum(workers.astype(int) - migrants - local_jobs, 0)
    assert np.array_equal(farm, expected)
    assert len(h) == n
