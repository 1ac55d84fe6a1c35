"""Tests for sim.urban: the weighted urban sample and its wage trend."""

from __future__ import annotations

import numpy as np
import pytest

from sim.scenario import Urban
from sim.urban import UrbanHouseholds


def _spec(**changes) -> Urban:
    base = {"population": 150_000, "income_per_capita": 17_811.0, "wage_growth": 0.09, "sample_households": 2000}
    return Urban(**{**base, **changes})


def _person_mean(urban: UrbanHouseholds) -> float:
    per_capita = urban.annual_income / urban.size
    return float(np.average(per_capita, weights=urban.people))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "changes", [{}, {"household_size": 1.0}, {"income_cv": 1.5, "population": 12_345, "sample_households": 37}]
)
def test_weights_reproduce_population_and_mean_income(seed, changes):
    spec = _spec(**changes)
    urban = UrbanHouseholds.start(spec, np.random.default_rng(seed))
    assert len(urban.size) == len(urban.weight) == len(urban.base_income) == spec.sample_households
    assert urban.people.sum() == pytest.approx(spec.population, rel=1e-12)
    assert (urban.size >= 1).all()
    assert (urban.weight > 0).all()
    assert _person_mean(urban) == pytest.approx(spec.income_per_capita, rel=1e-12)
    np.testing.assert_allclose(urban.level_history.mean(), 1.0, rtol=1e-12)  # the start year's level is the spec's


def test_household_size_and_income_spread():
    spec = _spec(household_size=2.9, income_cv=0.5, sample_households=40_000)
    urban = UrbanHouseholds.start(spec, np.random.default_rng(4))
    assert urban.size.mean() == pytest.approx(2.9, abs=0.03)
    per_capita = urban.base_income / urban.size
    assert per_capita.std() / per_capita.mean() == pytest.approx(0.5, abs=0.03)


def test_no_spread_gives_equal_incomes():
    urban = UrbanHouseholds.start(_spec(income_cv=0.0), np.random.default_rng(0))
    per_capita = urban.annual_income / urban.size
    np.testing.assert_allclose(per_capita, 17_811.0, rtol=1e-12)


@pytest.mark.parametrize("growth", [0.09, 0.0, -0.2, 0.5])
def test_deterministic_trend_grows_level_and_annual_income(growth):
    spec = _spec(wage_growth=growth, wage_growth_sd=0.0)
    rng = np.random.default_rng(0)
    urban = UrbanHouseholds.start(spec, rng)
    level0, annual0 = urban.level, urban.annual_income.copy()
    levels = [level0]
    for step in range(1, 13):
        urban.advance(step, spec, rng)
        levels.append(urban.level)
    assert urban.level / level0 == pytest.approx(1.0 + growth, rel=1e-12)
    # Growth is smooth within the year: equal monthly factors.
    ratios = np.array(levels[1:]) / np.array(levels[:-1])
    np.testing.assert_allclose(ratios, (1.0 + growth) ** (1 / 12), rtol=1e-12)
    # A year on, the trailing 12-month income is the start year's grown by the trend.
    np.testing.assert_allclose(urban.annual_income, annual0 * (1.0 + growth), rtol=1e-12)
    annual12 = urban.annual_income.copy()
    for step in range(13, 25):
        urban.advance(step, spec, rng)
    np.testing.assert_allclose(urban.annual_income, annual12 * (1.0 + growth), rtol=1e-12)
    assert _person_mean(urban) == pytest.approx(spec.income_per_capita * (1.0 + growth) ** 2, rel=1e-12)


def test_yearly_shock_is_common_within_a_year():
    spec = _spec(wage_growth=0.09, wage_growth_sd=0.05)
    rng = np.random.default_rng(3)
    urban = UrbanHouseholds.start(spec, rng)
    levels = [urban.level]
    for step in range(1, 61):
        urban.advance(step, spec, rng)
        levels.append(urban.level)
    ratios = np.array(levels[1:]) / np.array(levels[:-1])
    yearly = ratios.reshape(5, 12)
    # Within each simulated year the monthly growth factor is the same ...
    np.testing.assert_allclose(yearly, yearly[:, :1] * np.ones((1, 12)), rtol=1e-12)
    # ... and it differs between years (a fresh shock each year).
    assert len(np.unique(yearly[:, 0].round(12))) == 5
    annual_growth = yearly[:, 0] ** 12 - 1
    assert np.all(np.abs(annual_growth - 0.09) < 5 * 0.05)


def test_growth_floor_at_minus_half():
    spec = _spec(wage_growth=-0.5, wage_growth_sd=2.0)
    rng = np.random.default_rng(0)
    urban = UrbanHouseholds.start(spec, rng)
    level = urban.level
    for step in range(1, 121):
        urban.advance(step, spec, rng)
        assert urban.level >= level * (0.5 ** (1 / 12)) * (1 - 1e-12)
        level = urban.level


def test_start_is_reproducible():
    a = UrbanHouseholds.start(_spec(), np.random.default_rng(8))
    b = UrbanHouseholds.start(_spec(), np.random.default_rng(8))
    np.testing.assert_array_equal(a.base_income, b.base_income)
    np.testing.assert_array_equal(a.size, b.size)
