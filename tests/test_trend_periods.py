"""Trend periods: a scenario's growth rates change from a given year (China's incomes grew more slowly after 2013).

A run with a period must be the run without it, bit for bit, up to the month the period starts, and grow at the
new rates after it; a bad period is one line naming the file and the field, and exit 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from test_scenario import assert_problem, load_error

from sim.model import PairingModel
from sim.scenario import load_scenario

NO_PAIRING = {"pairing.policies": [], "horizon_years": 3}
SLOWER = {
    "from_year": 2011,
    "economy": {"farm_productivity_growth": 0.02, "migrant_wage_growth": 0.03},
    "urban": {"wage_growth": 0.04},
}


def _run(scenario, **overrides) -> PairingModel:
    model = PairingModel(scenario, rng=3, overrides={**NO_PAIRING, **overrides})
    for _ in range(model.spec.months):
        model.step()
    return model


@pytest.fixture(scope="module")
def without_and_with(small_scenario_path) -> tuple[pd.DataFrame, pd.DataFrame, PairingModel]:
    """Small county, no pairing, 2010-2012; the second run slows its trends from January 2011 (step 13)."""
    plain = _run(small_scenario_path)
    slowed = _run(small_scenario_path, trend_periods=[SLOWER])
    return plain.model_dataframe(), slowed.model_dataframe(), slowed


def test_run_is_unchanged_up_to_the_switch(without_and_with) -> None:
    plain, slowed, model = without_and_with
    assert model.first_month_of(2011) == 13
    pd.testing.assert_frame_equal(plain.iloc[:13], slowed.iloc[:13], check_exact=True)  # steps 0-12: up to December 2010
    assert not np.allclose(plain["rural_income_pc"].iloc[13:], slowed["rural_income_pc"].iloc[13:])


def test_growth_after_the_switch_follows_the_new_rates(without_and_with) -> None:
    plain, slowed, model = without_and_with
    assert model.economy_in_force.farm_productivity_growth == 0.02
    assert model.economy_in_force.migrant_wage_growth == 0.03
    assert model.economy_in_force.transfer_growth == model.spec.economy.transfer_growth  # left out: kept
    assert model.urban_in_force.wage_growth == 0.04
    assert model.trends.migrant_wage == pytest.approx(model.spec.economy.migrant_monthly_wage * 1.165 * 1.03**2, rel=1e-9)
    for column in ("rural_income_pc", "urban_income_pc"):
        growth_2012 = {
            name: frame[column].iloc[36] / frame[column].iloc[24] for name, frame in (("plain", plain), ("slowed", slowed))
        }
        assert growth_2012["slowed"] < growth_2012["plain"] - 0.05, (column, growth_2012)


def test_urban_income_grows_at_the_period_rate_without_shocks(small_scenario_path) -> None:
    model = _run(small_scenario_path, trend_periods=[SLOWER], **{"urban.wage_growth_sd": 0.0})
    frame = model.model_dataframe()
    # 2012's twelve months and 2011's all run at the period's rate, so the trailing-year means differ by exactly it
    assert frame["urban_income_pc"].iloc[36] / frame["urban_income_pc"].iloc[24] == pytest.approx(1.04, rel=1e-9)


def test_a_later_period_keeps_the_rates_it_leaves_out(small_scenario_path) -> None:
    later = {"from_year": 2012, "urban": {"wage_growth": 0.06}}
    model = _run(small_scenario_path, trend_periods=[SLOWER, later])
    assert model.economy_in_force.farm_productivity_growth == 0.02
    assert model.urban_in_force.wage_growth == 0.06


def test_a_period_after_the_horizon_changes_nothing(small_scenario_path, without_and_with) -> None:
    plain, _, _ = without_and_with
    late = _run(small_scenario_path, trend_periods=[{**SLOWER, "from_year": 2030}])
    pd.testing.assert_frame_equal(plain, late.model_dataframe(), check_exact=True)


@pytest.mark.parametrize(
    ("periods", "field", "fragments"),
    [
        ([{**SLOWER, "from_year": 2009}], "trend_periods", ("period 0 is 2009", "after the start year 2009")),
        ([SLOWER, {**SLOWER, "from_year": 2011}], "trend_periods", ("period 1 is 2011", "after the previous period's 2011")),
        (
            [{"from_year": 2012, "economy": {"dibao_line": 2000}}],
            "trend_periods[0].economy.dibao_line",
            ("unknown key", "transfer_growth"),
        ),
        (
            [{"from_year": 2012, "economy": {"past_income_growth": 0.1}}],
            "trend_periods[0].economy.past_income_growth",
            ("unknown key",),
        ),
        ([{"from_year": 2012, "urban": {"wage_growth": 2}}], "trend_periods[0].urban.wage_growth", ("less than or equal to 1",)),
        ([{"economy": {"transfer_growth": 0.1}}], "trend_periods[0].from_year", ("required",)),
    ],
)
def test_bad_period_is_one_line(tmp_path, write_scenario, small_scenario_data, periods, field, fragments) -> None:
    path = write_scenario(tmp_path, {**small_scenario_data, "trend_periods": periods})
    assert_problem(load_error(path), path, field, *fragments)
    code, _, err = run_cli("validate", path)
    assert code == 2 and err.strip().count("\n") == 0 and "Traceback" not in err


def test_shipped_periods_load(repo_root) -> None:
    for name in ("shouguang_2009", "zunyi_2009", "small"):
        spec = load_scenario(repo_root / "scenarios" / f"{name}.yaml")
        assert [period.from_year for period in spec.trend_periods] == [2014], name
