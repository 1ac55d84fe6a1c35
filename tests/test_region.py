"""Tests for sim.region: generated and CSV villages, the town grid and the integer splitter."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.region import VILLAGE_FRAME_COLUMNS, _split_total, build_villages, town_centres
from sim.scenario import load_scenario, resolve_scenario

# --------------------------------------------------------------------------- local fixtures


@pytest.fixture(scope="module")
def small_spec(small_scenario_path):
    return load_scenario(small_scenario_path)


def _generate(spec, seed: int) -> pd.DataFrame:
    return build_villages(spec, np.random.default_rng(seed))


# --------------------------------------------------------------------------- generated villages


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 12345])
def test_generated_villages_match_spec(small_spec, seed):
    spec = small_spec.region.villages
    frame = _generate(small_spec, seed)

    assert list(frame.columns) == VILLAGE_FRAME_COLUMNS
    assert len(frame) == spec.count
    assert list(frame.index) == list(range(spec.count))
    assert frame["population"].sum() == spec.population
    assert frame["households"].sum() == spec.households
    assert (frame["households"] >= 1).all()
    assert (frame["households"] <= frame["population"]).all()
    # Integer counts, not floats that merely look whole.
    assert np.issubdtype(frame["population"].dtype, np.integer)
    assert np.issubdtype(frame["households"].dtype, np.integer)

    weighted = np.average(frame["income_per_capita"], weights=frame["population"])
    assert weighted == pytest.approx(spec.income_per_capita.mean, rel=1e-9)
    assert (frame["income_per_capita"] > 0).all()

    assert set(frame["industry"]) <= set(spec.industries)
    towns = small_spec.region.town_names
    assert set(frame["town"]) == set(towns)  # 40 villages >= 3 towns: every town used
    assert (frame["town"] == [towns[i] for i in frame["town_index"]]).all()
    assert frame["town_index"].is_monotonic_increasing  # villages grouped by town

    assert np.isfinite(frame[["x_km", "y_km"]].to_numpy()).all()
    assert np.isfinite(frame["income_per_capita"]).all()
    assert (frame["collective_income"] >= 0).all()
    assert frame["leadership"].between(0, 1).all()
    assert frame["name"].is_unique


def test_generation_is_reproducible_and_seed_dependent(small_spec):
    pd.testing.assert_frame_equal(_generate(small_spec, 3), _generate(small_spec, 3))
    assert not _generate(small_spec, 3)["population"].equals(_generate(small_spec, 4)["population"])


def test_every_town_used_with_as_many_villages_as_towns(small_spec):
    spec = resolve_scenario(small_spec, {"region.towns": 5, "region.villages.count": 5})
    frame = _generate(spec, 0)
    assert sorted(frame["town_index"]) == [0, 1, 2, 3, 4]


def test_fewer_villages_than_towns_each_in_its_own_town(small_spec):
    spec = resolve_scenario(small_spec, {"region.towns": 6, "region.villages.count": 4})
    frame = _generate(spec, 0)
    assert len(frame) == 4
    assert frame["town_index"].is_unique
    assert frame["town_index"].between(0, 5).all()


def test_many_towns_all_used(small_spec):
    spec = resolve_scenario(small_spec, {"region.towns": 25, "region.villages.count": 30})
    for seed in range(3):
        assert set(_generate(spec, seed)["town_index"]) == set(range(25))


def test_collective_zero_share_extremes(small_spec):
    none_zero = _generate(resolve_scenario(small_spec, {"region.villages.collective_income.zero_share": 0.0}), 1)
    all_zero = _generate(resolve_scenario(small_spec, {"region.villages.collective_income.zero_share": 1.0}), 1)
    assert (none_zero["collective_income"] > 0).all()
    assert (all_zero["collective_income"] == 0).all()


def test_collective_income_rank_correlated_with_income(small_spec):
    """Richer villages tend to have richer collectives (a rank pairing with noise)."""
    spec = resolve_scenario(small_spec, {"region.villages.count": 400, "region.villages.collective_income.zero_share": 0.0})
    frame = _generate(spec, 5)
    rho = frame["income_per_capita"].rank().corr(frame["collective_income"].rank())
    assert rho > 0.3


def test_leadership_sd_zero_gives_the_mean(small_spec):
    spec = resolve_scenario(small_spec, {"region.villages.leadership": {"mean": 0.42, "sd": 0.0}})
    frame = _generate(spec, 0)
    assert (frame["leadership"] == 0.42).all()


def test_single_industry(small_spec):
    spec = resolve_scenario(small_spec, {"region.villages.industries": {"tea": 1.0}})
    assert set(_generate(spec, 0)["industry"]) == {"tea"}


@pytest.mark.parametrize(
    ("count", "population", "households"),
    [(10, 100, 10), (10, 100, 60), (40, 32000, 9700), (1, 5, 3), (200, 200_000, 200)],
)
def test_generated_totals_exact_for_various_sizes(small_spec, count, population, households):
    spec = resolve_scenario(
        small_spec,
        {
            "region.villages.count": count,
            "region.villages.population": population,
            "region.villages.households": households,
        },
    )
    for seed in range(3):
        frame = _generate(spec, seed)
        assert len(frame) == count
        assert frame["population"].sum() == population
        assert frame["households"].sum() == households
        assert (frame["households"] >= 1).all()
        assert (frame["households"] <= frame["population"]).all()


@pytest.mark.parametrize(
    ("count", "population", "households", "seed"),
    [(40, 32000, 32000, 0), (10, 200, 199, 0)],
)
def test_households_total_exact_when_households_close_to_population(small_spec, count, population, households, seed):
    spec = resolve_scenario(
        small_spec,
        {
            "region.villages.count": count,
            "region.villages.population": population,
            "region.villages.households": households,
        },
    )
    frame = _generate(spec, seed)
    assert (frame["households"] <= frame["population"]).all()
    assert frame["households"].sum() == households


# --------------------------------------------------------------------------- _split_total


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    total_extra=st.integers(0, 10**7),
    weights=st.lists(st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=60),
    minimum=st.integers(0, 5),
)
def test_split_total_properties(total_extra, weights, minimum):
    weights = np.array(weights)
    total = minimum * len(weights) + total_extra
    parts = _split_total(total, weights, minimum)

    assert parts.shape == weights.shape
    assert np.issubdtype(parts.dtype, np.integer)
    assert int(parts.sum()) == total
    assert (parts >= minimum).all()
    raw = (total - minimum * len(weights)) * weights / weights.sum()
    assert np.all(np.abs((parts - minimum) - raw) < 1.0 + 1e-9)


def test_split_total_proportional_example():
    parts = _split_total(100, np.array([1.0, 1.0, 2.0]), minimum=0)
    assert parts.tolist() == [25, 25, 50]
    parts = _split_total(13, np.array([1.0, 1.0, 1.0]), minimum=1)
    assert sorted(parts.tolist()) == [4, 4, 5]


def test_split_total_rejects_impossible_minimum():
    with pytest.raises(ValueError, match="cannot split"):
        _split_total(5, np.ones(6), minimum=1)


# --------------------------------------------------------------------------- town_centres


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_towns=st.integers(1, 80), area=st.floats(0.5, 1e5, allow_nan=False))
def test_town_centres_inside_square(n_towns, area):
    centres = town_centres(n_towns, area)
    side = math.sqrt(area)
    assert centres.shape == (n_towns, 2)
    assert np.isfinite(centres).all()
    assert (centres > 0).all()
    assert (centres < side).all()
    assert len({tuple(c) for c in centres.round(9)}) == n_towns  # distinct seats


def test_town_centres_single_town_in_middle():
    assert town_centres(1, 400.0).tolist() == [[10.0, 10.0]]


# --------------------------------------------------------------------------- CSV villages


def test_csv_scenario_gives_exactly_those_villages(tmp_path, write_scenario, csv_scenario_data, village_rows):
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    spec = load_scenario(path)
    frame = build_villages(spec, np.random.default_rng(0))

    assert list(frame.columns) == VILLAGE_FRAME_COLUMNS
    assert len(frame) == len(village_rows)
    assert frame["name"].tolist() == [row["name"] for row in village_rows]
    assert frame["town"].tolist() == [row["town"] for row in village_rows]
    towns = spec.region.town_names
    assert frame["town_index"].tolist() == [towns.index(row["town"]) for row in village_rows]
    for column in ("population", "households"):
        assert frame[column].tolist() == [row[column] for row in village_rows]
    for column in ("income_per_capita", "collective_income", "leadership", "x_km", "y_km"):
        np.testing.assert_allclose(frame[column].to_numpy(float), [float(row[column]) for row in village_rows])
    assert frame["industry"].tolist() == [row["industry"] for row in village_rows]

    # Listed villages do not depend on the random stream.
    pd.testing.assert_frame_equal(frame, build_villages(spec, np.random.default_rng(99)))


def test_csv_villages_keep_file_order_not_town_order(tmp_path, write_scenario, csv_scenario_data, village_rows):
    rows = list(reversed(village_rows))
    spec = load_scenario(write_scenario(tmp_path, csv_scenario_data, csv=rows))
    frame = build_villages(spec, np.random.default_rng(0))
    assert frame["name"].tolist() == [row["name"] for row in rows]
