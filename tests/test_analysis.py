"""Tests for sim.analysis on hand-built results tables (no model runs, so they are fast).

``make_results`` builds the runner's tidy layout: one row per run and year, with an arm effect
that grows linearly to ``effect`` by the last year, noise shared by every arm's replication r
(common random numbers) and a little noise of each run's own.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis import (
    cost_effectiveness,
    default_outcomes,
    final_year,
    morris_indices,
    paired_differences,
    sobol_indices,
    time_series,
    unpaired_differences,
)
from sim.formatting import format_interval, format_value
from sim.outcome_registry import summary_rows
from sim.runner import format_summary, summarise
from sim.summary import cost_text, differences_text, sobol_table

START, HORIZON = 2009, 4
EFFECTS = {"baseline": 0.0, "city_village": -0.010, "strong_weak": -0.020}
COST_PER_YEAR = {"baseline": 0.0, "city_village": 1.0e6, "strong_weak": 3.0e6}
TRAINING_COST = 3000.0  # yuan per trainee in these made-up results: the donor cost is the funds plus the training


def make_results(
    effects: dict[str, float] = EFFECTS,
    replications: int = 20,
    shared_sd: float = 0.02,
    own_sd: float = 0.001,
    points: tuple[int, ...] = (0,),
    scenarios: tuple[str, ...] = ("county",),
    seed: int = 0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for scenario in scenarios:
        for point in points:
            shared = rng.normal(0.0, shared_sd, size=(replications, HORIZON + 1))
            for arm, effect in effects.items():
                for r in range(replications):
                    for t in range(HORIZON + 1):
                        gini = 0.35 + shared[r, t] + effect * t / HORIZON + rng.normal(0.0, own_sd)
                        trainees = 0.0 if arm == "baseline" else 100.0 * t
                        rows.append(
                            {
                                "run_id": f"{scenario}-{arm}-p{point}-r{r}",
                                "scenario": scenario,
                                "arm": arm,
                                "point": point,
                                "replication": r,
                                "seed": 1000 + r,
                                "year": START + t,
                                "step": 12 * t,
                                "gini": gini,
                                "rural_income_pc": 8000.0 * (1 + 0.1 * t) * (1 - 5 * shared[r, t]) - 20000 * effect * t / HORIZON,
                                "funds_sent_total": COST_PER_YEAR[arm] * t,
                                "trainees_total": trainees,
                                "donor_cost_total": COST_PER_YEAR[arm] * t + TRAINING_COST * trainees,
                            }
                        )
    return pd.DataFrame(rows)


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for column, value in where.items():
        mask &= (table[column] == value).to_numpy()
    assert mask.sum() == 1, f"{mask.sum()} rows match {where}"
    return table[mask].iloc[0]


# --------------------------------------------------------------------------- final_year


def test_final_year_one_row_per_run_at_the_last_year():
    results = make_results(replications=3)
    shuffled = results.sample(frac=1.0, random_state=1)
    final = final_year(shuffled)
    assert len(final) == results["run_id"].nunique() == 9
    assert (final["year"] == START + HORIZON).all()
    assert final["run_id"].is_unique
    merged = final.merge(results, on=["run_id", "year"], suffixes=("", "_orig"))
    assert np.allclose(merged["gini"], merged["gini_orig"])


def test_final_year_without_run_id_uses_the_run_keys():
    results = make_results(replications=2).drop(columns="run_id")
    final = final_year(results)
    assert len(final) == 6 and (final["year"] == START + HORIZON).all()


def test_default_outcomes_skip_identifiers_totals_and_params():
    results = make_results(replications=2)
    results["param:economy.growth"] = 0.05
    assert default_outcomes(results) == ["rural_income_pc", "gini"]


# --------------------------------------------------------------------------- paired differences


def test_paired_difference_recovers_effect_and_beats_unpaired():
    results = make_results(replications=20)
    paired = paired_differences(results, outcomes="gini")
    unpaired = unpaired_differences(results, outcomes="gini")
    assert list(paired["arm"]) == ["city_village", "strong_weak"]
    for arm in ("city_village", "strong_weak"):
        p, u = row(paired, arm=arm), row(unpaired, arm=arm)
        truth = EFFECTS[arm]
        assert p["n"] == 20 and u["n"] == 20 and u["n_baseline"] == 20
        assert p["difference"] == pytest.approx(truth, abs=0.002)
        assert p["ci_low"] < truth < p["ci_high"]
        assert u["ci_low"] < truth < u["ci_high"]
        # Same point estimate; shared noise (sd 0.02) cancels only in the pairs (own sd 0.001).
        assert p["difference"] == pytest.approx(u["difference"])
        assert p["std_error"] * 5 < u["std_error"]
        assert (p["ci_high"] - p["ci_low"]) * 5 < u["ci_high"] - u["ci_low"]
        assert p["relative"] == pytest.approx(p["difference"] / p["baseline_mean"])
        assert p["difference"] == pytest.approx(p["arm_mean"] - p["baseline_mean"])


def test_paired_default_outcomes_and_columns():
    results = make_results(replications=5)
    table = paired_differences(results)
    assert list(table["outcome"]) == ["rural_income_pc", "gini"] * 2
    assert list(table.columns) == [
        "scenario", "point", "arm", "outcome", "n", "arm_mean", "baseline_mean",
        "difference", "std_error", "df", "ci_low", "ci_high", "relative",
    ]  # fmt: skip
    # Rural income rises by 20000 × 0.02 = 400 yuan under strong_weak.
    assert row(table, arm="strong_weak", outcome="rural_income_pc")["difference"] == pytest.approx(400, abs=10)


def test_paired_small_hand_case_matches_scipy():
    arm = np.array([0.30, 0.32, 0.29, 0.35])
    base = np.array([0.31, 0.34, 0.29, 0.38])
    rows = []
    for name, values in (("baseline", base), ("a", arm)):
        for r, v in enumerate(values):
            rows.append({"run_id": f"{name}{r}", "scenario": "s", "arm": name, "point": 0, "replication": r,
                         "seed": r, "year": 2020, "step": 0, "gini": v})  # fmt: skip
    results = pd.DataFrame(rows)
    table = paired_differences(results, outcomes=["gini"], confidence=0.90)
    got = row(table, arm="a")
    d = arm - base  # -0.01, -0.02, 0, -0.03
    assert got["n"] == 4
    assert got["difference"] == pytest.approx(-0.015)
    assert got["std_error"] == pytest.approx(np.std(d, ddof=1) / 2)
    assert got["arm_mean"] == pytest.approx(arm.mean()) and got["baseline_mean"] == pytest.approx(base.mean())
    low, high = stats.t.interval(0.90, 3, loc=d.mean(), scale=stats.sem(d))
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((low, high))
    ci = stats.ttest_rel(arm, base).confidence_interval(0.90)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert got["relative"] == pytest.approx(-0.015 / base.mean())

    welch = row(unpaired_differences(results, outcomes="gini", confidence=0.90), arm="a")
    ci = stats.ttest_ind(arm, base, equal_var=False).confidence_interval(0.90)
    assert (welch["ci_low"], welch["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert welch["std_error"] == pytest.approx(np.sqrt(arm.var(ddof=1) / 4 + base.var(ddof=1) / 4))


def test_missing_baseline_names_the_scenario_and_point():
    results = make_results(replications=3, points=(0, 1))
    results = results[~((results["arm"] == "baseline") & (results["point"] == 1))]
    with pytest.raises(ValueError, match=r"scenario 'county' point 1"):
        paired_differences(results)
    with pytest.raises(ValueError, match=r"no baseline arm 'baseline'"):
        unpaired_differences(results)
    with pytest.raises(ValueError, match=r"point 1"):
        cost_effectiveness(results)
    with pytest.raises(ValueError, match=r"'control'"):
        paired_differences(make_results(replications=2), baseline="control")


def test_runs_without_a_partner_are_dropped():
    results = make_results(replications=10)
    failed = (
        ((results["arm"] == "city_village") & (results["replication"] == 3))  # arm run failed
        | ((results["arm"] == "baseline") & (results["replication"] == 5))  # baseline run failed
        | ((results["arm"] == "strong_weak") & (results["replication"] == 7) & (results["year"] > START + 1))  # cut short
    )
    table = paired_differences(results[~failed], outcomes="gini")
    cv, sw = row(table, arm="city_village"), row(table, arm="strong_weak")
    assert cv["n"] == 8  # replications 3 and 5 lost
    assert sw["n"] == 8  # replications 5 and 7 lost

    final = final_year(results)
    keep = ~final["replication"].isin([3, 5])
    a = final[keep & (final["arm"] == "city_village")]["gini"].to_numpy()
    b = final[keep & (final["arm"] == "baseline")]["gini"].to_numpy()
    assert cv["difference"] == pytest.approx((a - b).mean())
    assert cv["std_error"] == pytest.approx(stats.sem(a - b))


def test_no_pair_left_gives_n_zero_and_nan():
    results = make_results(replications=2)
    results = results[~((results["arm"] == "baseline") & (results["replication"] == 0))]
    results = results[~((results["arm"] == "city_village") & (results["replication"] == 1))]
    got = row(paired_differences(results, outcomes="gini"), arm="city_village")
    assert got["n"] == 0 and np.isnan(got["difference"]) and np.isnan(got["ci_low"])


def test_param_columns_are_carried_and_points_paired_separately():
    results = make_results(replications=4, points=(0, 1))
    results["param:pairing.leakage"] = results["point"] * 0.1
    table = paired_differences(results, outcomes="gini")
    assert len(table) == 4
    assert "param:pairing.leakage" in table.columns
    assert list(table["point"]) == [0, 0, 1, 1]
    assert list(table["param:pairing.leakage"]) == pytest.approx([0.0, 0.0, 0.1, 0.1])


# --------------------------------------------------------------------------- cost effectiveness


def _hand_results(
    arm_gini: list[float], base_gini: list[float], arm_cost: list[float], cost_column: str = "donor_cost_total"
) -> pd.DataFrame:
    """Two years of runs of a baseline and an arm ``a`` whose cumulative ``cost_column`` reaches ``arm_cost``."""
    rows = []
    for name, ginis, costs in (("baseline", base_gini, [0.0] * len(base_gini)), ("a", arm_gini, arm_cost)):
        for r, (g, c) in enumerate(zip(ginis, costs, strict=True)):
            for t, year in enumerate((2020, 2021)):
                rows.append({"run_id": f"{name}{r}", "scenario": "s", "arm": name, "point": 0, "replication": r,
                             "seed": r, "year": year, "step": 12 * t, "gini": 0.4 if t == 0 else g,
                             cost_column: 0.0 if t == 0 else c})  # fmt: skip
    return pd.DataFrame(rows)


def test_cost_effectiveness_hand_case():
    results = _hand_results(arm_gini=[0.300, 0.310, 0.290], base_gini=[0.305, 0.314, 0.296], arm_cost=[9.0e6, 10.0e6, 11.0e6])
    got = row(cost_effectiveness(results), arm="a")
    reductions = np.array([0.005, 0.004, 0.006])
    assert got["n"] == 3
    assert got["cost"] == pytest.approx(10.0e6)
    assert got["reduction"] == pytest.approx(0.005)
    assert got["reduction_se"] == pytest.approx(stats.sem(reductions))
    low, high = stats.t.interval(0.95, 2, loc=0.005, scale=stats.sem(reductions))
    assert (got["reduction_ci_low"], got["reduction_ci_high"]) == pytest.approx((low, high))
    assert got["cost_per_unit"] == pytest.approx(10.0e6 / 0.005)  # 2e9 yuan per 1.0 of Gini
    assert got["cost_per_0.001"] == pytest.approx(2.0e6)  # 2 million yuan per 0.001 Gini
    assert got["note"] == ""
    assert got["outcome"] == "gini" and got["cost_column"] == "donor_cost_total"  # the default: every flow's cost


def test_cost_effectiveness_not_significant_or_worse():
    flat = _hand_results(arm_gini=[0.300, 0.310, 0.290], base_gini=[0.302, 0.307, 0.292], arm_cost=[1e6] * 3)
    got = row(cost_effectiveness(flat), arm="a")
    assert got["reduction_ci_low"] < 0 < got["reduction_ci_high"]
    assert np.isnan(got["cost_per_unit"]) and np.isnan(got["cost_per_0.001"])
    assert got["note"] == "no significant reduction"
    assert got["cost"] == pytest.approx(1e6)

    worse = _hand_results(arm_gini=[0.310, 0.320, 0.300], base_gini=[0.300, 0.309, 0.291], arm_cost=[1e6] * 3)
    got = row(cost_effectiveness(worse), arm="a")
    assert np.isnan(got["cost_per_unit"]) and got["note"] == "significant worsening"

    single = _hand_results(arm_gini=[0.3], base_gini=[0.31], arm_cost=[1e6])
    got = row(cost_effectiveness(single), arm="a")
    assert got["n"] == 1 and np.isnan(got["cost_per_unit"]) and got["note"] == "fewer than 2 pairs"


def test_cost_effectiveness_on_synthetic_arms_and_higher_is_better():
    results = make_results(replications=20)
    table = cost_effectiveness(results, outcome="gini", cost="funds_sent_total")
    sw = row(table, arm="strong_weak")
    assert sw["cost"] == pytest.approx(3.0e6 * HORIZON)
    assert sw["reduction"] == pytest.approx(0.02, abs=0.002)
    assert sw["cost_per_unit"] == pytest.approx(sw["cost"] / sw["reduction"])
    every_flow = row(cost_effectiveness(results), arm="strong_weak")
    assert every_flow["cost"] == pytest.approx((3.0e6 + 100.0 * TRAINING_COST) * HORIZON)  # the funds and the training
    assert every_flow["reduction"] == pytest.approx(sw["reduction"])
    income = row(
        cost_effectiveness(results, outcome="rural_income_pc", cost="trainees_total", higher_is_better=True), arm="strong_weak"
    )
    assert income["reduction"] == pytest.approx(400, abs=10)  # yuan gained
    assert income["cost"] == pytest.approx(100.0 * HORIZON)  # trainees
    assert income["note"] == ""


def test_an_arm_that_only_trains_has_a_finite_cost_per_gini_reduced():
    """No funds, only training: the donor cost of its trainees is what each 0.001 of Gini reduced costs, not zero."""
    trainees = [1000.0, 1200.0, 800.0]
    results = _hand_results([0.300, 0.310, 0.290], [0.305, 0.314, 0.296], [TRAINING_COST * n for n in trainees])
    results["funds_sent_total"] = 0.0
    got = row(cost_effectiveness(results), arm="a")
    assert got["note"] == "" and got["cost"] == pytest.approx(TRAINING_COST * 1000.0)
    assert np.isfinite(got["cost_per_0.001"]) and got["cost_per_0.001"] == pytest.approx(3.0e6 / 0.005 * 0.001)
    assert row(cost_effectiveness(results, cost="funds_sent_total"), arm="a")["cost_per_0.001"] == 0.0  # funds alone: free
    (shown,) = cells(cost_text(results), "3,000,000")
    assert shown[0] == "a" and shown[2] == "0.0050" and shown[-1] == "600,000", shown


# --------------------------------------------------------------------------- sensitivity analysis

PROBLEM = {"num_vars": 2, "names": ["economy.x1", "economy.x2"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}


def _design_results(x: np.ndarray, replications: int = 2, noise: float = 1e-4) -> pd.DataFrame:
    """Runs of y = x1 + 0.1 x2 at each design point (row i of x = point i), two years each."""
    rng = np.random.default_rng(3)
    rows = []
    for point, (x1, x2) in enumerate(x):
        for r in range(replications):
            for t in range(2):
                rows.append({"run_id": f"p{point}r{r}", "scenario": "s", "arm": "baseline", "point": point,
                             "replication": r, "seed": r, "param:economy.x1": x1, "param:economy.x2": x2,
                             "year": 2020 + t, "step": 12 * t,
                             "gini": (x1 + 0.1 * x2) * t + rng.normal(0.0, noise)})  # fmt: skip
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # row order must not matter


@pytest.mark.parametrize("second_order", [True, False])
def test_sobol_indices_additive_model(second_order):
    from SALib.sample import sobol as sobol_sample

    x = sobol_sample.sample(PROBLEM, 256, calc_second_order=second_order, seed=1)
    results = _design_results(x)
    table = sobol_indices(results, ["param:economy.x1", "economy.x2"], PROBLEM["bounds"], "gini",
                          calc_second_order=second_order, seed=2)  # fmt: skip
    assert list(table.columns) == ["parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert list(table["parameter"]) == ["economy.x1", "economy.x2"]
    s1, st = table.set_index("parameter")["S1"], table.set_index("parameter")["ST"]
    assert s1["economy.x1"] > 0.9 and s1["economy.x2"] < 0.05
    assert s1["economy.x1"] > 20 * s1["economy.x2"]
    assert np.allclose(st, s1, atol=0.05)  # additive: no interactions


def test_sobol_indices_of_a_constant_outcome_are_undefined(recwarn):
    from SALib.sample import sobol as sobol_sample

    results = _design_results(sobol_sample.sample(PROBLEM, 8, calc_second_order=False, seed=1), noise=0.0).assign(gini=0.3)
    table = sobol_indices(results, PROBLEM["names"], PROBLEM["bounds"], "gini", calc_second_order=False)
    assert table[["S1", "S1_conf", "ST", "ST_conf"]].isna().all().all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("seed", [0, 7])
def test_sobol_confidence_intervals_are_reproducible(seed):
    """SALib seeds its bootstrap only for a truthy seed; 0 must be as reproducible as any other."""
    from SALib.sample import sobol as sobol_sample

    results = _design_results(sobol_sample.sample(PROBLEM, 16, calc_second_order=False, seed=1))
    first, second = (
        sobol_indices(results, PROBLEM["names"], PROBLEM["bounds"], "gini", calc_second_order=False, seed=seed) for _ in range(2)
    )
    pd.testing.assert_frame_equal(first, second)


def test_sobol_indices_validates_design():
    from SALib.sample import sobol as sobol_sample

    x = sobol_sample.sample(PROBLEM, 8, calc_second_order=False, seed=1)  # 8 × (k+2) = 32 points
    results = _design_results(x)
    with pytest.raises(ValueError, match="not a multiple of 6"):
        sobol_indices(results, PROBLEM["names"], PROBLEM["bounds"], "gini", calc_second_order=True)
    with pytest.raises(ValueError, match="missing \\[5\\]"):
        sobol_indices(results[results["point"] != 5], PROBLEM["names"], PROBLEM["bounds"], "gini")
    with pytest.raises(ValueError, match="2 parameters but 1 bounds"):
        sobol_indices(results, PROBLEM["names"], [[0, 1]], "gini")


def test_morris_indices_rank_x1_above_x2():
    from SALib.sample import morris as morris_sample

    x = morris_sample.sample(PROBLEM, 20, num_levels=4, seed=1)
    results = _design_results(x, noise=0.0)
    bounds = {"economy.x1": [0.0, 1.0], "economy.x2": [0.0, 1.0]}
    rebuilt = morris_indices(results, PROBLEM["names"], bounds, "gini", seed=2)
    given = morris_indices(results, PROBLEM["names"], bounds, "gini", design_matrix=x, seed=2)
    assert list(rebuilt.columns) == ["parameter", "mu", "mu_star", "sigma", "mu_star_conf"]
    pd.testing.assert_frame_equal(rebuilt, given)
    m = rebuilt.set_index("parameter")
    assert m.loc["economy.x1", "mu_star"] == pytest.approx(1.0)
    assert m.loc["economy.x2", "mu_star"] == pytest.approx(0.1)
    assert m.loc["economy.x1", "mu_star"] > m.loc["economy.x2", "mu_star"]
    assert m["sigma"].max() < 1e-9  # linear model: every elementary effect is the same


def test_sensitivity_of_the_effect_against_a_baseline():
    from SALib.sample import morris as morris_sample

    x = morris_sample.sample(PROBLEM, 10, num_levels=4, seed=1)
    base = _design_results(x, noise=0.0)
    arm = base.copy()
    arm["arm"] = "policy"
    arm["run_id"] = "policy-" + arm["run_id"]
    arm["gini"] = arm["gini"] - 0.5 * arm["param:economy.x2"] * (arm["year"] - 2020)  # effect depends on x2 only
    both = pd.concat([base, arm], ignore_index=True)
    with pytest.raises(ValueError, match="several arms"):
        morris_indices(both, PROBLEM["names"], PROBLEM["bounds"], "gini")
    table = morris_indices(both, PROBLEM["names"], PROBLEM["bounds"], "gini", baseline="baseline", seed=0).set_index("parameter")
    assert table.loc["economy.x1", "mu_star"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["economy.x2", "mu"] == pytest.approx(-0.5)


# --------------------------------------------------------------------------- time series


def test_time_series_shape_and_values():
    results = make_results(replications=6, scenarios=("a", "b"))
    table = time_series(results, "gini", confidence=0.9)
    assert len(table) == 2 * 3 * (HORIZON + 1)
    assert list(table.columns) == ["scenario", "arm", "point", "year", "outcome", "n", "mean", "std_error", "ci_low", "ci_high"]
    assert list(table["year"][: HORIZON + 1]) == list(range(START, START + HORIZON + 1))
    assert list(table["arm"].unique()) == list(EFFECTS)
    got = row(table, scenario="b", arm="strong_weak", year=START + 2)
    values = results.query("scenario == 'b' and arm == 'strong_weak' and year == @START + 2")["gini"].to_numpy()
    assert got["n"] == 6 and got["mean"] == pytest.approx(values.mean())
    assert got["std_error"] == pytest.approx(stats.sem(values))
    assert (got["ci_low"], got["ci_high"]) == pytest.approx(stats.t.interval(0.9, 5, loc=values.mean(), scale=stats.sem(values)))

    two = time_series(results, ["gini", "rural_income_pc"])
    assert len(two) == 2 * len(table) and set(two["outcome"]) == {"gini", "rural_income_pc"}


def test_bad_arguments():
    results = make_results(replications=2)
    with pytest.raises(ValueError, match="confidence"):
        paired_differences(results, confidence=1.5)
    with pytest.raises(ValueError, match="nonexistent"):
        paired_differences(results, outcomes=["nonexistent"])
    with pytest.raises(ValueError, match="several runs"):
        paired_differences(pd.concat([results, results.assign(run_id=results["run_id"] + "x")]))


# --------------------------------------------------------------------------- how the numbers are shown (sim.formatting)

GINI_CELL = re.compile(r"-?\d\.\d{4}$")
INTERVAL_OF_GINI = re.compile(r"\[-?\d\.\d{4}, -?\d\.\d{4}\]$")


def test_each_unit_has_one_format_whatever_the_size_of_the_value():
    assert [format_value(v, "index") for v in (-0.0008001, 2.023e-05, 0.3387)] == ["-0.0008", "0.0000", "0.3387"]
    assert [format_value(v, "yuan") for v in (20265.4, 59.93, 1290914.2)] == ["20,265", "60", "1,290,914"]
    assert format_value(0.008431, "share") == "0.84 %" and format_value(-0.0002688, "share", difference=True) == "-0.03 pp"
    assert format_value(2.0731, "ratio") == "2.073"
    assert [format_value(v, "count") for v in (13.5, 4.0, -0.4)] == ["13.5", "4", "-0.4"]
    assert format_interval(-0.00162, 2.023e-05, "index") == "[-0.0016, 0.0000]"
    assert format_interval(-0.0006489, 0.0001114, "share", difference=True) == "[-0.06, 0.01] pp"


def test_an_undefined_value_says_why_instead_of_nan():
    assert format_value(float("nan"), "yuan", "no significant reduction") == "no significant reduction"
    assert format_value(None, "index") == "not defined"
    assert format_interval(float("nan"), 0.1, "index", "no interval (1 pair)") == "no interval (1 pair)"


def with_more_outcomes(results: pd.DataFrame) -> pd.DataFrame:
    """make_results plus a share, a count and an index whose tiny effects would print in scientific notation."""
    return results.assign(
        poverty_headcount=0.008 + results["gini"] / 100,
        weak_villages=(results["gini"] * 40).round(),
        theil_t=results["gini"] / 2 + 1e-5 * results["replication"],
    )


def cells(text: str, label: str) -> list[list[str]]:
    """The cells (split on two or more spaces) of each row of a text table that starts with an arm and has ``label``."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if f"  {label}  " in line]


def test_summary_of_differences_shows_labels_and_each_unit_in_its_format():
    text = differences_text(with_more_outcomes(make_results(replications=5)))
    assert "nan" not in text and "e-0" not in text and "e+0" not in text
    for label in (
        "Gini (all residents)",
        "Theil T (all residents)",
        "Mean rural income",
        "Rural poverty headcount",
        "Weak villages (薄弱村)",
    ):
        assert label in text
    assert not re.search(r"\b(gini|theil_t|rural_income_pc|poverty_headcount|weak_villages)\b", text)  # no column names
    gini = cells(text, "Gini (all residents)")
    assert len(gini) == 2
    for arm, _, unit, n, baseline, difference, interval in gini:
        assert unit == "index" and n == "5" and GINI_CELL.match(baseline) and GINI_CELL.match(difference), gini
        assert INTERVAL_OF_GINI.match(interval), interval
    for *_, baseline, difference, interval in cells(text, "Mean rural income"):
        assert re.fullmatch(r"\d{1,3}(,\d{3})+", baseline) and re.fullmatch(r"-?\d+", difference), (baseline, difference)
    for *_, baseline, difference, interval in cells(text, "Rural poverty headcount"):
        assert baseline.endswith(" %") and difference.endswith(" pp") and interval.endswith("] pp")


def test_summary_of_one_pair_says_there_is_no_interval():
    results = make_results(replications=2)
    results = results[~((results["arm"] == "baseline") & (results["replication"] == 1))]
    text = differences_text(results)
    assert "no interval (1 pair)" in text and "nan" not in text


def test_cost_effectiveness_summary_says_why_a_cost_is_not_defined():
    flat = _hand_results(arm_gini=[0.300, 0.310, 0.290], base_gini=[0.302, 0.307, 0.292], arm_cost=[1e6] * 3)
    text = cost_text(flat)
    assert "nan" not in text
    (row,) = cells(text, "1,000,000")
    assert row[0] == "a" and row[-1] == "no significant reduction" and GINI_CELL.match(row[2]), row
    significant = cost_text(_hand_results([0.300, 0.310, 0.290], [0.305, 0.314, 0.296], [9.0e6, 10.0e6, 11.0e6]))
    (row,) = cells(significant, "10,000,000")
    assert row[2] == "0.0050" and row[-1] == "2,000,000", row
    assert "donor cost (yuan)" in significant and "every flow" in significant and "funds sent" not in significant


def test_cost_effectiveness_of_older_results_falls_back_to_the_funds_sent_and_says_so():
    """Results made before runs recorded the donor cost: the funds sent, with a note that they are all it counts."""
    old = _hand_results([0.300, 0.310, 0.290], [0.305, 0.314, 0.296], [9.0e6, 10.0e6, 11.0e6], cost_column="funds_sent_total")
    text = cost_text(old)
    assert "funds sent (yuan)" in text and "donor cost (yuan)" not in text
    assert "no donor_cost_total column" in text.splitlines()[0] and "funds sent only" in text.splitlines()[0]
    (shown,) = cells(text, "10,000,000")
    assert shown[-1] == "2,000,000", shown
    assert cost_text(old.drop(columns="funds_sent_total")) == ""  # no cost at all: no table


def test_sobol_summary_says_no_variation_for_an_outcome_that_does_not_vary():
    from SALib.sample import sobol as sobol_sample

    x = sobol_sample.sample(PROBLEM, 8, calc_second_order=False, seed=1)
    constant = _design_results(x, noise=0.0).assign(gini=0.3)
    table = sobol_table(sobol_indices(constant, PROBLEM["names"], PROBLEM["bounds"], "gini", calc_second_order=False))
    assert (table.drop(columns="parameter") == "no variation").all().all()
    varying = sobol_table(
        sobol_indices(_design_results(x), PROBLEM["names"], PROBLEM["bounds"], "gini", calc_second_order=False, seed=2)
    )
    assert varying["S1 (first-order)"].str.fullmatch(r"-?\d+\.\d{2} %").all(), varying
    assert varying["S1 ±"].str.fullmatch(r"\d+\.\d{2} pp").all(), varying  # a half-width: percentage points


def test_run_summary_shows_shares_in_percent_and_indices_to_four_decimals():
    monthly = pd.DataFrame(
        {
            "year": [2009, 2019],
            **{key: [0.5, 0.25] for key in summary_rows()},
            "rural_income_pc": [8279.2, 20887.4],
            "urban_rural_ratio": [2.1513, 1.9354],
            "poverty_headcount": [0.0685, 0.0072],
            "weak_villages": [15.0, 10.0],
        }
    )
    rows = [re.split(r"\s{2,}", line.strip()) for line in format_summary(summarise(monthly)).splitlines()[2:]]
    lines = {label: values for label, *values in rows}
    assert lines["Rural income per capita (yuan/yr)"] == ["8,279", "20,887", "12,608"]
    assert lines["Urban/rural income ratio"] == ["2.151", "1.935", "-0.216"]
    assert lines["Gini (all residents)"] == ["0.5000", "0.2500", "-0.2500"]
    assert lines["Rural poverty headcount ratio"] == ["6.85 %", "0.72 %", "-6.13 pp"]
    assert lines["urban/rural share of Theil T"] == ["50.00 %", "25.00 %", "-25.00 pp"]
    assert lines["Weak villages (薄弱村)"] == ["15", "10", "-5"]
