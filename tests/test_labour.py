"""Tests for sim.labour: catchments, hiring and separation of local jobs, and migration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import labour
from sim.draws import KeyedUniforms
from sim.households import HouseholdArrays
from sim.labour import Catchment, Jobs
from sim.scenario import Economy

# --------------------------------------------------------------------------- local helpers


def make_households(
    counts,
    workers=2,
    migrants=0,
    skill=None,
    size=4.0,
) -> HouseholdArrays:
    """Households in villages of ``counts`` rows each, with chosen workers/migrants/skill."""
    counts = np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    stop = np.cumsum(counts)
    skill = np.ones(n) if skill is None else np.asarray(skill, dtype=float)
    return HouseholdArrays(
        village=np.repeat(np.arange(len(counts)), counts).astype(np.int32),
        size=np.broadcast_to(np.asarray(size, dtype=float), (n,)).copy(),
        workers=np.broadcast_to(np.asarray(workers, dtype=np.int32), (n,)).copy(),
        migrants=np.broadcast_to(np.asarray(migrants, dtype=np.int32), (n,)).copy(),
        local_jobs=np.zeros(n, dtype=np.int32),
        skill=skill,
        skill_base=skill.copy(),
        land=np.full(n, 5.0),
        dibao_covered=np.zeros(n, dtype=bool),
        start=stop - counts,
        stop=stop,
    )


def line_villages(distances):
    """Villages on the x axis at the given distances from the origin."""
    distances = np.asarray(distances, dtype=float)
    return np.column_stack([distances, np.zeros_like(distances)])


@pytest.fixture
def county():
    """Six villages of 300 households around two enterprises, households with 0-3 workers."""
    rng = np.random.default_rng(42)
    counts = [300] * 6
    n = sum(counts)
    workers = rng.integers(0, 4, n)
    migrants = rng.binomial(workers, 0.3)
    h = make_households(counts, workers=workers, migrants=migrants, skill=rng.lognormal(-0.125, 0.5, n))
    village_xy = np.array([[0, 0], [3, 0], [6, 0], [20, 20], [23, 20], [26, 20]], dtype=float)
    enterprise_xy = np.array([[1, 0], [5, 0], [22, 20], [25, 21]], dtype=float)
    catchment = Catchment.build(enterprise_xy, village_xy, np.array(counts, dtype=float), radius_km=8.0)
    return h, catchment, rng


# --------------------------------------------------------------------------- Catchment


def test_draws_only_within_radius_and_favour_near_villages():
    distances = np.arange(1, 21, dtype=float)  # 1 .. 20 km
    households = np.full(20, 100.0)
    radius = 10.0
    catchment = Catchment.build(np.array([[0.0, 0.0]]), line_villages(distances), households, radius)
    rng = np.random.default_rng(7)
    n = 200_000
    drawn = catchment.draw_villages(np.zeros(n, dtype=np.int64), rng.random(n))

    assert (distances[drawn] <= radius).all()
    counts = np.bincount(drawn, minlength=20)
    inside = distances <= radius
    assert (counts[inside] > 0).all()  # every village in range can be drawn
    assert (counts[~inside] == 0).all()

    # Frequencies follow households * exp(-d / (radius / 2)) within sampling error.
    weight = households * np.exp(-distances / (radius / 2)) * inside
    expected = n * weight / weight.sum()
    se = np.sqrt(expected * (1 - weight / weight.sum()))
    assert np.all(np.abs(counts[inside] - expected[inside]) < 5 * se[inside])
    # Nearer villages are drawn more often (monotone in distance for equal sizes).
    assert (np.diff(counts[inside]) < 0).all()


def test_bigger_villages_drawn_more_often_at_equal_distance():
    village_xy = np.array([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    households = np.array([100.0, 1000.0, 100.0])
    catchment = Catchment.build(np.array([[0.0, 0.0]]), village_xy, households, 10.0)
    drawn = catchment.draw_villages(np.zeros(120_000, dtype=np.int64), np.random.default_rng(1).random(120_000))
    share = np.bincount(drawn, minlength=3) / len(drawn)
    np.testing.assert_allclose(share, households / households.sum(), atol=0.01)


def test_remote_enterprise_hires_from_nearest_village():
    village_xy = line_villages([30.0, 12.0, 50.0])
    catchment = Catchment.build(np.array([[0.0, 0.0]]), village_xy, np.array([500.0, 5.0, 500.0]), 5.0)
    drawn = catchment.draw_villages(np.zeros(1000, dtype=np.int64), np.random.default_rng(0).random(1000))
    assert (drawn == 1).all()


def test_each_enterprise_draws_from_its_own_catchment():
    village_xy = np.array([[0, 0], [2, 0], [50, 50], [52, 50], [100, 0]], dtype=float)
    enterprise_xy = np.array([[1, 0], [51, 50], [100, 1], [0, 1]], dtype=float)
    catchment = Catchment.build(enterprise_xy, village_xy, np.full(5, 10.0), 5.0)
    own = {0: {0, 1}, 1: {2, 3}, 2: {4}, 3: {0, 1}}
    rng = np.random.default_rng(3)
    enterprise = rng.integers(0, 4, 50_000)
    drawn = catchment.draw_villages(enterprise, rng.random(len(enterprise)))
    for e, villages in own.items():
        got = set(drawn[enterprise == e].tolist())
        assert got == villages, (e, got)
    assert np.all(np.diff(catchment.cumulative) >= 0)  # searchsorted needs a sorted array


# --------------------------------------------------------------------------- Jobs.hire / separate


def _check_hire_invariants(jobs_before: int, jobs: Jobs, filled: int, openings, h: HouseholdArrays, farm_before):
    new_household = jobs.household[jobs_before:]
    new_enterprise = jobs.enterprise[jobs_before:]
    assert filled == len(new_household) == len(jobs.household) - jobs_before
    # Never more than the openings at any enterprise.
    assert (np.bincount(new_enterprise, minlength=len(openings)) <= openings).all()
    # Never hires a household twice in one call.
    assert len(np.unique(new_household)) == len(new_household)
    # Only households that had a farm worker free.
    assert (farm_before[new_household] >= 1).all()
    # Books agree.
    assert np.array_equal(h.local_jobs, jobs.per_household(len(h)))
    assert (h.local_jobs + h.migrants <= h.workers).all()
    assert (h.farm_workers >= 0).all()


def test_hire_respects_workers_openings_and_households(county):
    h, catchment, _rng = county
    jobs = Jobs.empty()
    openings = np.array([40, 0, 150, 5000])  # the last is more than its catchment can supply
    farm_before = h.farm_workers.copy()
    filled = jobs.hire(openings, catchment, h, KeyedUniforms(1), 1)
    assert filled > 0
    _check_hire_invariants(0, jobs, filled, openings, h, farm_before)
    assert jobs.filled(4)[1] == 0
    assert jobs.filled(4)[0] == 40  # plenty of candidates for a small opening


def test_repeated_hiring_never_overfills_households(county):
    h, catchment, rng = county
    jobs = Jobs.empty()
    for month in range(25):
        openings = rng.integers(0, 200, 4)
        before = len(jobs.household)
        farm_before = h.farm_workers.copy()
        filled = jobs.hire(openings, catchment, h, KeyedUniforms(2), month)
        _check_hire_invariants(before, jobs, filled, openings, h, farm_before)
    # Eventually households run out of farm workers: no household holds more jobs than it has free workers.
    assert (h.local_jobs <= h.workers - h.migrants).all()
    assert h.local_jobs.max() >= 2  # several rounds do hire more than one member of a household


def test_hire_skips_households_without_farm_workers():
    # Village 0: everyone away; village 1: one farm worker each.
    h = make_households(
        [200, 200], workers=np.r_[np.full(200, 2), np.full(200, 1)], migrants=np.r_[np.full(200, 2), np.zeros(200)]
    )
    catchment = Catchment.build(np.array([[0.0, 0.0]]), line_villages([1.0, 2.0]), np.array([200.0, 200.0]), 10.0)
    jobs = Jobs.empty()
    filled = jobs.hire(np.array([1000]), catchment, h, KeyedUniforms(0), 1)
    assert filled > 0
    assert (jobs.household >= 200).all()
    assert (h.local_jobs[:200] == 0).all()
    assert h.local_jobs.max() == 1


def test_hire_prefers_skilled_candidates():
    rng = np.random.default_rng(5)
    skill = rng.lognormal(-0.125, 0.5, 5000)
    h = make_households([5000], workers=1, skill=skill)
    catchment = Catchment.build(np.array([[0.0, 0.0]]), line_villages([1.0]), np.array([5000.0]), 10.0)
    jobs = Jobs.empty()
    jobs.hire(np.array([300]), catchment, h, KeyedUniforms(5), 1)
    assert len(jobs.household) > 250
    assert skill[jobs.household].mean() > 1.3 * skill.mean()


def test_hire_with_no_openings_changes_nothing(county):
    h, catchment, _rng = county
    jobs = Jobs.empty()
    assert jobs.hire(np.zeros(4, dtype=np.int64), catchment, h, KeyedUniforms(0), 1) == 0
    assert len(jobs.household) == 0
    assert (h.local_jobs == 0).all()


def test_separate_rate_zero_and_one(county):
    h, catchment, _rng = county
    jobs = Jobs.empty()
    draws = KeyedUniforms(3)
    jobs.hire(np.array([100, 100, 100, 100]), catchment, h, draws, 1)
    n_jobs = len(jobs.household)
    assert n_jobs > 0

    assert jobs.separate(0.0, h, draws, 2) == 0
    assert len(jobs.household) == n_jobs
    assert np.array_equal(h.local_jobs, jobs.per_household(len(h)))

    assert jobs.separate(1.0, h, draws, 3) == n_jobs
    assert len(jobs.household) == len(jobs.enterprise) == 0
    assert (h.local_jobs == 0).all()
    assert jobs.filled(4).tolist() == [0, 0, 0, 0]


def test_separate_partial_rate_keeps_books(county):
    h, catchment, _rng = county
    jobs = Jobs.empty()
    draws = KeyedUniforms(4)
    for month in range(5):
        jobs.hire(np.array([200, 200, 200, 200]), catchment, h, draws, month)
    n_jobs = len(jobs.household)
    ended = jobs.separate(0.3, h, draws, 5)
    assert ended == n_jobs - len(jobs.household)
    assert abs(ended - 0.3 * n_jobs) < 5 * np.sqrt(0.21 * n_jobs)
    assert np.array_equal(h.local_jobs, jobs.per_household(len(h)))
    assert len(jobs.household) == len(jobs.enterprise)


def test_wages_per_household_sums_job_wages():
    jobs = Jobs(household=np.array([0, 2, 2, 3]), enterprise=np.array([1, 0, 1, 1]))
    wages = jobs.wages_per_household(np.array([1000.0, 1500.0]), 5)
    assert wages.tolist() == [1500.0, 0.0, 2500.0, 1500.0, 0.0]
    assert jobs.filled(3).tolist() == [1, 3, 0]
    assert jobs.per_household(5).tolist() == [1, 0, 2, 1, 0]


# --------------------------------------------------------------------------- migration


def _econ(**changes) -> Economy:
    return Economy(**changes)


def test_no_migration_when_max_rate_zero():
    rng = np.random.default_rng(0)
    h = make_households([500, 500], workers=rng.integers(0, 4, 1000), skill=rng.lognormal(0, 0.5, 1000))
    before = h.migrants.copy()
    left, returned = labour.migrate(h, np.array([10.0, 5000.0]), 10_000.0, 0.0, _econ(migration_max_rate=0.0), rng)
    assert (left, returned) == (0, 0)
    assert np.array_equal(h.migrants, before)


def test_higher_migrant_wage_draws_more_workers():
    params = _econ(migration_max_rate=0.2)
    results = []
    for wage in (50.0, 50_000.0):
        rng = np.random.default_rng(11)
        h = make_households([2000, 2000], workers=2)
        left, _ = labour.migrate(h, np.array([800.0, 800.0]), wage, 0.0, params, rng)
        results.append(left)
    tiny, huge = results
    assert huge > 3 * tiny
    assert huge > 0.15 * 8000 * 0.8  # close to the maximum rate when the wage dwarfs home earnings


def test_migrants_stay_within_workers_over_many_months():
    rng = np.random.default_rng(2)
    n = 3000
    workers = rng.integers(0, 5, n)
    h = make_households([1000, 1000, 1000], workers=workers, migrants=rng.binomial(workers, 0.4))
    params = _econ(migration_max_rate=0.3, migration_sensitivity=5.0)
    for month in range(240):
        home = rng.uniform(1.0, 3000.0, 3)
        before = h.migrants.copy()
        h.local_jobs = np.minimum(rng.integers(0, 2, n), h.workers - h.migrants).astype(np.int32)
        left, returned = labour.migrate(h, home, rng.uniform(100, 5000), rng.uniform(0, 0.3), params, rng)
        assert (h.migrants >= 0).all(), month
        assert (h.migrants <= h.workers).all(), month
        assert (h.migrants + h.local_jobs <= h.workers).all(), month
        assert int(h.migrants.sum()) == int(before.sum()) + left - returned
        assert h.migrants.dtype == np.int32


def test_all_return_with_return_rate_one():
    h = make_households([100], workers=3, migrants=2)
    left, returned = labour.migrate(h, np.array([1e9]), 1.0, 1.0, _econ(migration_max_rate=0.0), np.random.default_rng(0))
    assert left == 0 and returned == 200
    assert (h.migrants == 0).all()


def test_skilled_households_leave_more_often():
    rng = np.random.default_rng(21)
    n = 40_000
    skill = rng.lognormal(-0.125, 0.5, n)
    params = _econ(migration_max_rate=0.2, migration_skill_selectivity=1.0)
    h = make_households([n], workers=1, skill=skill)
    labour.migrate(h, np.array([1000.0]), 1417.0, 0.0, params, rng)
    low, high = np.quantile(skill, [0.25, 0.75])
    rate_low = h.migrants[skill <= low].mean()
    rate_high = h.migrants[skill >= high].mean()
    assert rate_high > 2 * rate_low
    assert rate_high - rate_low > 10 * np.sqrt((rate_high + rate_low) / (n / 4))


def test_no_skill_selection_when_selectivity_zero():
    rng = np.random.default_rng(22)
    n = 40_000
    skill = rng.lognormal(-0.125, 0.5, n)
    params = _econ(migration_max_rate=0.2, migration_skill_selectivity=0.0)
    h = make_households([n], workers=1, skill=skill)
    labour.migrate(h, np.array([1000.0]), 1417.0, 0.0, params, rng)
    low, high = np.quantile(skill, [0.25, 0.75])
    rate_low = h.migrants[skill <= low].mean()
    rate_high = h.migrants[skill >= high].mean()
    assert abs(rate_high - rate_low) < 5 * np.sqrt(2 * 0.2 / (n / 4))


def test_poorer_villages_lose_more_workers():
    rng = np.random.default_rng(4)
    params = _econ(migration_max_rate=0.2)
    h = make_households([10_000, 10_000], workers=1)
    labour.migrate(h, np.array([300.0, 3000.0]), 1417.0, 0.0, params, rng)
    poor, rich = h.migrants[:10_000].mean(), h.migrants[10_000:].mean()
    assert poor > rich + 0.05


def test_leaving_chance_bounds_and_monotone():
    rng = np.random.default_rng(8)
    h = make_households([300, 300, 300], workers=rng.integers(0, 3, 900), skill=rng.lognormal(0, 1.0, 900))
    params = _econ(migration_max_rate=0.5, migration_skill_selectivity=2.0)
    can_leave, chance = labour.leaving_chance(h, np.array([100.0, 1000.0, 10_000.0]), 1417.0, params)
    assert np.array_equal(can_leave, np.flatnonzero(h.farm_workers))
    assert ((chance >= 0) & (chance <= 1)).all()
    # For households of equal skill, the chance falls with home earnings.
    h.skill[:] = 1.0
    can_leave, chance = labour.leaving_chance(h, np.array([100.0, 1000.0, 10_000.0]), 1417.0, params)
    per_village = [chance[h.village[can_leave] == v].mean() for v in range(3)]
    assert per_village[0] > per_village[1] > per_village[2]


def test_steady_job_fill_is_the_fixed_point_of_separation_and_hiring():
    params = Economy(job_separation_rate=0.015, vacancy_fill_rate=0.3, enterprise_job_growth=0.03)
    capacity = np.array([0.0, 1.0, 5.0, 40.0, 180.0, 1_000_000.0])
    filled = labour.steady_job_fill(capacity, params)
    q = 1.03 ** (1 / 12)
    s, f = params.job_separation_rate, params.vacancy_fill_rate
    exact = f * q / (q - (1 - s) * (1 - f))  # the share filled when rounding up hires does not matter
    assert filled[-1] / capacity[-1] == pytest.approx(exact, rel=1e-5)
    assert exact == pytest.approx(0.961, abs=0.001)  # the defaults: 96 % of capacity filled
    assert filled[0] == 0
    assert (filled <= capacity).all()
    assert (filled[1:-1] / capacity[1:-1] >= exact - 1 / capacity[1:-1]).all()  # rounding up fills small firms more
    # One more month of the expected rule leaves every firm where it was (within the one job lost to flooring).
    kept = (1 - s) * filled
    after = np.minimum(kept + np.ceil(f * np.maximum(q * capacity - kept, 0)), q * capacity) / q
    np.testing.assert_array_less(np.abs(after - filled), 1.0 + 1e-9)


def test_steady_return_rate_balances_flows():
    rng = np.random.default_rng(9)
    h = make_households([2000, 2000], workers=3, migrants=1)
    params = _econ(migration_max_rate=0.05)
    can_leave, chance = labour.leaving_chance(h, np.array([700.0, 900.0]), 1417.0, params)
    rate = labour.steady_return_rate(h, can_leave, chance)
    expected_leaving = float(np.dot(h.farm_workers[can_leave], chance))
    assert 0 <= rate <= 1
    assert rate * h.migrants.sum() == pytest.approx(expected_leaving, rel=1e-12)
    # Nobody away: nothing to return.
    h.migrants[:] = 0
    assert labour.steady_return_rate(h, can_leave, chance) == 0.0
    del rng


def test_catchment_without_enterprises_is_empty():
    catchment = Catchment.build(np.empty((0, 2)), line_villages([1.0, 2.0]), np.array([10.0, 10.0]), 5.0)
    assert len(catchment.village) == len(catchment.cumulative) == 0
    h = make_households([10, 10])
    assert Jobs.empty().hire(np.zeros(0, dtype=np.int64), catchment, h, KeyedUniforms(0), 1) == 0


@pytest.mark.parametrize(("trials", "chance"), [(1, 0.01), (3, 0.02), (5, 0.3), (2, 0.9), (4, 0.0)])
def test_binomial_small_p_matches_the_binomial_law(trials, chance):
    """The fast migration draw has exactly the binomial distribution (frequencies within 5 standard errors)."""
    from math import comb

    from sim.labour import binomial_small_p

    size = 200_000
    draws = binomial_small_p(np.full(size, trials), np.full(size, chance), np.random.default_rng(11).random(size))
    assert draws.min() >= 0 and draws.max() <= trials
    observed = np.bincount(draws, minlength=trials + 1) / size
    for k in range(trials + 1):
        expected = comb(trials, k) * chance**k * (1 - chance) ** (trials - k)
        standard_error = np.sqrt(max(expected * (1 - expected), 1e-12) / size)
        assert abs(observed[k] - expected) <= 5 * standard_error + 1e-12, (k, observed[k], expected)


@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1e-6, 1e-3, 0.02, 0.3, 1.0]))
@settings(max_examples=30, deadline=None)
def test_binomial_small_p_shortcut_decides_every_draw_as_the_full_formula(seed, scale):
    """Skipping (1 - p)^n where u < 1 - n p changes no draw, for chances from tiny to certain (bit for bit)."""
    from sim.draws import binomial_quantile
    from sim.labour import binomial_small_p

    make = np.random.default_rng(seed)
    n = make.integers(0, 7, size=5_000)
    p = np.minimum(make.random(5_000) * scale, 1.0)
    u = make.random(5_000)
    fast = binomial_small_p(n, p, u)
    reference = binomial_quantile(u, n, p)  # the inverse CDF of every entry, without the shortcut
    np.testing.assert_array_equal(fast, reference)


@given(seed=st.integers(0, 2**32 - 1), levels=st.sampled_from([2, 5, 1_000_000]), enterprises=st.sampled_from([3, 70_000]))
@settings(max_examples=40, deadline=None)
def test_hiring_picks_and_orders_offers_as_the_two_lexsorts_did(seed, levels, enterprises):
    """Best offer per household and the enterprise-then-score order equal the lexsort versions, ties included (few
    score levels force them; 70,000 enterprises do not fit the 16-bit radix sort)."""
    from sim.labour import best_offer_per_household, lexsort_order

    make = np.random.default_rng(seed)
    n, households = 3_000, 500
    household = make.integers(0, households, n)
    enterprise = make.integers(0, enterprises, n)
    score = make.integers(1, levels + 1, n) / levels

    order = np.lexsort((-score, household))
    first = np.ones(n, dtype=bool)
    first[1:] = household[order][1:] != household[order][:-1]
    np.testing.assert_array_equal(best_offer_per_household(household, score, households), order[first])
    np.testing.assert_array_equal(lexsort_order(enterprise, -score), np.lexsort((-score, enterprise)))
