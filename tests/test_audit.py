"""The economics audit (sim/audit.py, ``pairsim audit``): its arms share the county (common random numbers), its
tables have one row per arm, year and flow, and its intervals are the paired t and bootstrap intervals they claim."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim import audit
from sim.cli import main
from sim.execute import SerialExecutor
from sim.experiment import BASELINE
from sim.scenario import load_scenario, resolve_scenario

REPO = Path(__file__).resolve().parent.parent
SMALL = REPO / "scenarios" / "small.yaml"
SEEDS, YEARS = 2, 3
ODD_ROWS = """
| parameter | default | unit | meaning | source |
|---|---|---|---|---|
| `pairing.effects.training_gain` | 0.15 | share | gain | assumption, range 0.05–0.25 |
| `pairing.failure.leakage` | 0.1 | share | leak | [China 2022]; range 0.0 to 0.3 |
| `pairing.failure.formalism` | 0.03 | /month | decay | assumption (no range given) |
| `pairing.effects.project_cost_per_problem` | 20,000 | yuan | cost | range 10,000–40,000 yuan |
| `pairing.effects.technology_depreciation` | 0.15 | /yr | loss | [CIMMYT 1991], range 0.10–0.25 |
| `pairing.governance.exit_support_years` | 2 | years | support | range 1–3 |
"""


@pytest.fixture(scope="module")
def runs() -> audit.AuditRuns:
    """small.yaml's audit over 2 seeds and 3 years, with a near-zero arm from the rows above."""
    return audit.run_audit(SMALL, SerialExecutor(), seeds=SEEDS, years=YEARS, odd_markdown=ODD_ROWS, progress=False)


@pytest.fixture(scope="module")
def tables(runs: audit.AuditRuns) -> dict[str, pd.DataFrame]:
    return audit.audit_tables(runs, observed_ratio=(2011, 1.9)).tables


def one_run(arm: str, overrides: dict | None, seed: int = 7) -> audit.AuditRun:
    (spec,) = audit.audit_specs(SMALL, {arm: overrides}, [seed], YEARS)
    return audit.run_audit_arm(spec)


# --------------------------------------------------------------------------- the arms


def test_the_arms_are_the_baseline_full_pairing_near_zero_and_one_knockout_per_planned_flow(runs) -> None:
    planned = audit.planned_flows(load_scenario(SMALL))
    assert len(planned) >= 5
    assert runs.arms == [BASELINE, audit.PAIRING, audit.NEAR_ZERO, *(f"without_{flow}" for flow in planned)]
    assert (runs.yearly.groupby("arm")["replication"].nunique() == SEEDS).all()


def test_near_zero_takes_each_documented_range_at_its_weak_end_and_skips_the_undocumented() -> None:
    ranges = audit.documented_ranges(ODD_ROWS)
    assert ranges == {
        "pairing.effects.training_gain": (0.05, 0.25),
        "pairing.failure.leakage": (0.0, 0.3),
        "pairing.effects.project_cost_per_problem": (10_000.0, 40_000.0),
        "pairing.effects.technology_depreciation": (0.10, 0.25),
        "pairing.governance.exit_support_years": (1.0, 3.0),
    }
    overrides, table = audit.near_zero_overrides(ranges)
    assert overrides == {
        "pairing.effects.training_gain": 0.05,
        "pairing.effects.technology_depreciation": 0.25,
        "pairing.failure.leakage": 0.3,
        "pairing.governance.exit_support_years": 1,
    }
    assert isinstance(overrides["pairing.governance.exit_support_years"], int)  # an integer field takes no 1.0
    assert set(table["parameter"]) == set(audit.NEAR_ZERO_ENDS)
    assert table.set_index("parameter").loc["pairing.failure.formalism", "range"] == "not documented"


def test_every_near_zero_parameter_is_a_pairing_field_of_the_scenario() -> None:
    """Pairing parameters only: the baseline, which keeps no policy, is then the near-zero arm's baseline too."""
    scenario = load_scenario(SMALL).model_dump()
    for path in audit.NEAR_ZERO_ENDS:
        assert path.startswith("pairing.") and not path.startswith("pairing.policies")
        node = scenario
        for key in path.split("."):
            assert key in node, f"{path}: no field {key!r}"
            node = node[key]


def test_a_knockout_sets_the_flow_to_zero_in_every_policy_and_drops_a_policy_that_cannot_run_without_it() -> None:
    scenario = load_scenario(SMALL)
    without_funds = resolve_scenario(scenario, audit.knockout_overrides(scenario, "funds")).pairing.policies
    assert [policy.label for policy in without_funds] == [policy.label for policy in scenario.pairing.policies]
    assert all(policy.flows.funds == 0 for policy in without_funds)
    without_cadres = resolve_scenario(scenario, audit.knockout_overrides(scenario, "cadre_months")).pairing.policies
    types = [policy.type for policy in without_cadres]
    assert "cadre_dispatch" not in types and "city_village" in types
    assert all(policy.flows.cadre_months == 0 for policy in without_cadres)


def test_a_knockout_that_drops_a_policy_says_so_and_one_that_drops_none_says_nothing() -> None:
    scenario = load_scenario(SMALL)
    expected = "also removes the cadre_dispatch policy, which cannot run without cadre-months"
    assert audit.knockout_note(scenario, "cadre_months") == expected
    assert audit.knockout_note(scenario, "funds") == ""


def test_a_scenario_without_pairing_gets_only_its_baseline() -> None:
    scenario = resolve_scenario(load_scenario(SMALL), {"pairing.policies": []})
    assert audit.audit_arms(scenario, {"pairing.failure.leakage": 0.3}) == {BASELINE: None}


def test_a_bad_override_is_one_line_of_bad_input_naming_the_arm() -> None:
    from sim.errors import InputError

    with pytest.raises(InputError) as error:
        audit.check_arms(load_scenario(SMALL), {"near_zero": {"pairing.failure.leakage": 1.5}}, "audit")
    assert str(error.value).startswith("audit: near_zero: pairing.failure.leakage:")
    assert "\n" not in str(error.value)


# --------------------------------------------------------------------------- common random numbers


def test_every_arm_starts_from_the_same_county_as_its_seeds_baseline(runs) -> None:
    start = runs.yearly[runs.yearly["year"] == runs.start_year]
    for column in ("rural_income_pc", "gini_rural", "urban_income_pc", "rural_quintile_ratio"):
        assert (start.groupby("replication")[column].nunique() == 1).all(), column
    villages = runs.villages[runs.villages["year"] == runs.start_year]
    assert (villages.groupby(["replication", "village"])["income_pc"].nunique() == 1).all()
    assert (audit.paired_village_incomes(runs).query("years == 0")["effect_pct"] == 0).all()


def test_the_baseline_of_a_seed_is_the_same_run_whatever_pairing_parameters_it_is_given() -> None:
    """One baseline serves every arm: without policies, pairing's parameters change nothing."""
    plain = one_run(BASELINE, None)
    (spec,) = audit.audit_specs(SMALL, {BASELINE: None}, [7], YEARS)
    changed = audit.run_audit_arm(replace(spec, overrides={**spec.overrides, "pairing.failure.leakage": 0.3}))
    pd.testing.assert_frame_equal(plain.yearly, changed.yearly)
    pd.testing.assert_frame_equal(plain.yearly, one_run(BASELINE, None).yearly)


def test_knocking_out_a_flow_no_policy_plans_changes_nothing() -> None:
    no_savings = {"pairing.policies.3.flows.market_savings": 0.0}
    scenario = resolve_scenario(load_scenario(SMALL), no_savings)
    assert "market_savings" not in audit.planned_flows(scenario)
    knocked = audit.knockout_overrides(scenario, "market_savings")
    first, second = one_run("a", no_savings), one_run("b", {**no_savings, **knocked})
    pd.testing.assert_frame_equal(first.yearly, second.yearly)
    pd.testing.assert_frame_equal(first.villages, second.villages)


def test_each_flows_cost_is_what_the_donor_cost_outcome_counts() -> None:
    """With no donor village losing output, the donor cost is the sum of the flows' costs, up to every year."""
    run = one_run(audit.PAIRING, {"pairing.failure.donor_cost": 0.0})
    total = run.yearly.set_index("year")["donor_cost_total"]
    assert total.iloc[-1] > 0
    by_year = run.flow_costs.groupby("year")["cost"].sum().cumsum()
    assert set(run.flow_costs["year"]) == set(total.index[1:])
    assert by_year.to_numpy() == pytest.approx(total.iloc[1:].to_numpy(), rel=1e-9)


def test_each_villages_captured_funds_add_up_to_the_countys_in_the_year_whose_incomes_they_reach() -> None:
    """The ledger's captured funds by village (links mapped to villages) and year add up to the monthly outcome
    ``funds_captured`` over the 12 months each yearly row's incomes cover; nothing is captured at the start."""
    run = one_run(audit.PAIRING, {})  # no overrides at all would be the baseline, which keeps no policy
    county = run.yearly.set_index("year")["funds_captured_year"]
    assert county.iloc[0] == 0 and (county.iloc[1:] > 0).all()
    by_village = run.village_captured.groupby("year")["captured"].sum().reindex(county.index, fill_value=0.0)
    assert by_village.to_numpy() == pytest.approx(county.to_numpy(), rel=1e-9)
    assert set(run.village_captured["village"]) <= set(run.villages["village"])
    assert list(audit.report_year(np.array([0, 1, 12, 13, 24]), 2009)) == [2009, 2010, 2010, 2011, 2011]


# --------------------------------------------------------------------------- the tables


def test_the_tables_have_one_row_per_arm_year_outcome_and_flow(runs, tables) -> None:
    arms = [arm for arm in runs.arms if arm != BASELINE]
    flows = audit.planned_flows(load_scenario(SMALL))
    years = audit.effect_years(YEARS)
    assert years == [3]
    effects = tables["paired_village_effects"]
    assert sorted(effects["arm"]) == sorted(arms) and (effects["years"] == 3).all() and (effects["n"] == SEEDS).all()
    assert effects[["effect_pct", "ci_low", "ci_high"]].notna().all().all()
    county = tables["county_effects"]
    assert len(county) == 2 * len(audit.COUNTY_OUTCOMES) and set(county["arm"]) == {audit.PAIRING, audit.NEAR_ZERO}
    knockouts = tables["knockouts"]
    assert list(knockouts["flow"]) == ["all flows", *flows]
    assert knockouts.loc[0, "share_of_effect"] == 1.0
    assert (knockouts["donor_cost_yuan"] > 0).all()
    shape = tables["distribution_shape"]
    assert len(shape) == 2 * 2 * 3 and set(shape["year"]) == {2009, 2012}
    assert tables["out_of_sample"]["quantity"].iloc[0] == "observed, 2011"
    assert audit.effect_years(10) == [3, 5, 10] and audit.effect_years(4) == [3, 4]


def test_the_county_table_puts_each_effect_next_to_the_baseline_trend(runs, tables) -> None:
    row = tables["county_effects"].set_index(["arm", "outcome"]).loc[(audit.PAIRING, "urban_rural_ratio")]
    base = runs.yearly[runs.yearly["arm"] == BASELINE].set_index(["year", "replication"])["urban_rural_ratio"]
    assert row["baseline_change"] == pytest.approx((base.loc[2012] - base.loc[2009]).mean())
    assert row["effect_to_trend"] == pytest.approx(row["effect"] / row["baseline_change"])


def test_files_are_written_as_csv_and_one_markdown_page(runs, tmp_path) -> None:
    written = audit.write_tables(audit.audit_tables(runs), tmp_path, ["a header line"])
    assert {path.name for path in written} >= {"paired_village_effects.csv", "knockouts.csv", "audit.md"}
    page = (tmp_path / "audit.md").read_text()
    assert "a header line" in page and "## knockouts" in page and "| flow | years |" in page
    cadre_note = "also removes the cadre_dispatch policy, which cannot run without cadre-months"
    assert f"Knock-out of cadre_months: {cadre_note}" in page
    knockouts = pd.read_csv(tmp_path / "knockouts.csv", keep_default_na=False).set_index("flow")
    assert knockouts.loc["cadre_months", "note"] == cadre_note and knockouts.loc["funds", "note"] == ""
    assert "effect_net_pct does not" in page and "captured_yuan" in page
    assert pd.read_csv(tmp_path / "knockouts.csv")["flow"].iloc[0] == "all flows"


# --------------------------------------------------------------------------- the statistics, on constructed numbers


def constructed(arm_incomes: list[float], base_incomes: list[float]) -> audit.AuditRuns:
    """Two villages, one of them paired, for each seed: the paired one earns ``arm_incomes[r]`` with pairing and
    ``base_incomes[r]`` without; the unpaired one earns 1,000 in both (it must not count)."""
    rows = []
    for replication, (with_pairing, without) in enumerate(zip(arm_incomes, base_incomes, strict=True)):
        for arm, income in ((audit.PAIRING, with_pairing), (BASELINE, without)):
            for year in (2000, 2003):
                paired_income = income if year == 2003 else 100.0
                rows.append({"arm": arm, "replication": replication, "seed": replication, "year": year, "village": "p",
                             "population": 10.0, "income_pc": paired_income, "paired": arm == audit.PAIRING})  # fmt: skip
                rows.append({"arm": arm, "replication": replication, "seed": replication, "year": year, "village": "q",
                             "population": 30.0, "income_pc": 1000.0, "paired": False})  # fmt: skip
    villages = pd.DataFrame(rows)
    return audit.AuditRuns("made up", 2000, 3, pd.DataFrame({"arm": [BASELINE, audit.PAIRING]}), villages, pd.DataFrame())


def test_the_paired_village_effect_is_the_mean_percent_difference_with_its_paired_t_interval() -> None:
    arm, base = [110.0, 104.0, 121.0, 99.0], [100.0, 100.0, 110.0, 100.0]
    effects = audit.paired_village_effects(constructed(arm, base))
    (row,) = effects.to_dict("records")
    per_seed = 100.0 * (np.array(arm) / np.array(base) - 1.0)
    expected = stats.ttest_1samp(per_seed, 0.0).confidence_interval(0.95)
    assert row["effect_pct"] == pytest.approx(per_seed.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((expected.low, expected.high))
    assert row["paired_villages"] == 1 and row["years"] == 3 and row["n"] == 4


def constructed_knockout() -> audit.AuditRuns:
    """Five years, two identical seeds, one paired village that is the whole county (10 people). Per-capita income in
    year 2000 + k: 100 without pairing, 100 + 10 k with it (of which 2 a head, 20 yuan, are captured funds), 100 + 4 k
    without funds (nothing captured). Donor cost by year k: 1,000 k in all, 300 a year of it funds."""
    yearly, villages, captured, costs = [], [], [], []
    for replication in (0, 1):
        for arm, slope, taken in ((BASELINE, 0, 0.0), (audit.PAIRING, 10, 20.0), ("without_funds", 4, 0.0)):
            for k in range(6):
                income, year = 100.0 + slope * k, 2000 + k
                yearly.append({"arm": arm, "replication": replication, "seed": replication, "year": year,
                               "rural_income_pc": income, "rural_population": 10.0,
                               "funds_captured_year": taken if k else 0.0,
                               "donor_cost_total": 1000.0 * k if arm != BASELINE else 0.0})  # fmt: skip
                villages.append({"arm": arm, "replication": replication, "seed": replication, "year": year,
                                 "village": "p", "population": 10.0, "income_pc": income,
                                 "paired": arm == audit.PAIRING})  # fmt: skip
                if arm == audit.PAIRING and k:
                    captured.append({"arm": arm, "replication": replication, "year": year, "village": "p", "captured": taken})
                    costs.append({"arm": arm, "replication": replication, "flow": "funds", "year": year, "cost": 300.0})
    return audit.AuditRuns(
        "made up", 2000, 5, pd.DataFrame(yearly), pd.DataFrame(villages), pd.DataFrame(costs),
        village_captured=pd.DataFrame(captured),
    )  # fmt: skip


def test_income_gained_leaves_out_the_funds_the_better_off_captured() -> None:
    """Pairing adds 10 k a head in year k, 20 yuan of it captured: over 3 years 10 · (10 + 20 + 30) = 600 yuan of
    income, of which 60 captured, so 540 broad-based; the knock-out of funds loses all 60 captured yuan with it."""
    gained = audit.income_gained(constructed_knockout(), 3).set_index(["arm", "replication"])
    assert gained.loc[(audit.PAIRING, 0), "gained"] == pytest.approx(540.0)
    assert gained.loc[(audit.PAIRING, 0), "captured"] == pytest.approx(60.0)
    assert gained.loc[("without_funds", 0), "gained"] == pytest.approx(240.0)
    assert gained.loc[("without_funds", 0), "captured"] == 0.0
    effects = audit.paired_village_effects(constructed_knockout()).set_index(["arm", "years"])
    assert effects.loc[(audit.PAIRING, 3), "effect_pct"] == pytest.approx(30.0)
    assert effects.loc[(audit.PAIRING, 3), "captured_pc"] == pytest.approx(2.0)
    assert effects.loc[(audit.PAIRING, 3), "effect_net_pct"] == pytest.approx(28.0)  # 130 - 2 over 100
    assert effects.loc[("without_funds", 3), "effect_net_pct"] == effects.loc[("without_funds", 3), "effect_pct"]


def test_benefit_cost_counts_gains_and_costs_up_to_its_rows_year() -> None:
    """At 3 years: 540 broad-based yuan over 3,000 of donor cost; at 5: 1,400 over 5,000. Funds add 540 - 240 at a
    cost of 3 · 300 by year 3, and 1,400 - 600 for 5 · 300 by year 5."""
    table = audit.knockout_table(constructed_knockout()).set_index(["flow", "years"])
    assert list(table.index) == [("all flows", 3), ("funds", 3), ("all flows", 5), ("funds", 5)]
    expected = {
        ("all flows", 3): (540.0, 60.0, 3000.0), ("funds", 3): (300.0, 60.0, 900.0),
        ("all flows", 5): (1400.0, 100.0, 5000.0), ("funds", 5): (800.0, 100.0, 1500.0),
    }  # fmt: skip
    for row, (gained, captured, cost) in expected.items():
        assert table.loc[row, "income_gained_yuan"] == pytest.approx(gained), row
        assert table.loc[row, "captured_yuan"] == pytest.approx(captured), row
        assert table.loc[row, "donor_cost_yuan"] == pytest.approx(cost), row
        assert table.loc[row, "benefit_cost"] == pytest.approx(gained / cost), row
    assert table.loc[("all flows", 3), "benefit_cost"] != pytest.approx(table.loc[("all flows", 5), "benefit_cost"])


def test_a_ratio_of_means_has_a_bootstrap_interval_around_it_that_collapses_when_every_seed_agrees() -> None:
    numerator, denominator = np.array([1.0, 2.0, 3.0, 6.0]), np.array([2.0, 2.0, 4.0, 4.0])
    estimate, low, high = audit.ratio_interval(numerator, denominator)
    assert estimate == pytest.approx(12.0 / 12.0)
    assert low < estimate < high
    assert audit.ratio_interval(numerator, denominator) == (estimate, low, high)  # seeded: the same every time
    assert audit.ratio_interval(np.full(5, 3.0), np.full(5, 4.0)) == pytest.approx((0.75, 0.75, 0.75))


def test_the_distribution_table_summarises_the_models_own_shape_outcomes(runs, tables) -> None:
    shape = tables["distribution_shape"].set_index(["arm", "year", "measure"])
    start = runs.yearly[(runs.yearly["arm"] == BASELINE) & (runs.yearly["year"] == runs.start_year)]
    for measure in audit.SHAPE_MEASURES:
        values = start[measure].to_numpy()
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        row = shape.loc[(BASELINE, runs.start_year, measure)]
        assert (row["mean"], row["ci_low"], row["ci_high"]) == pytest.approx((values.mean(), low, high))


# --------------------------------------------------------------------------- the command


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seeds", "1"], "--seeds: must be at least 2"),
        (["--observed-ratio", "2008:1.84"], "must be YEAR=RATIO"),
        (["--observed-ratio", "2030=1.84"], "--observed-ratio: year 2030 is outside the run (2010-2012)"),
        (["--years", "31"], "horizon_years"),
    ],
)
def test_audit_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, expected) -> None:
    try:
        code = main(["audit", str(SMALL), "--years", "3", "--out", str(tmp_path / "out"), *args])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_audit_refuses_a_folder_it_did_not_write(tmp_path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["audit", str(SMALL), "--out", str(tmp_path)]) == 2
    assert "not a pairsim audit folder" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def test_audit_writes_its_tables_and_replaces_an_earlier_audit(tmp_path, capsys) -> None:
    out = tmp_path / "audit"
    out.mkdir()
    (out / "out_of_sample.csv").write_text("an earlier audit's table, which this one does not write")
    (out / "audit.json").write_text('{"files": ["out_of_sample.csv"]}')
    args = ["audit", str(SMALL), "--seeds", "2", "--years", "1", "--workers", "1", "--quiet", "--out", str(out)]
    assert main(args) == 0
    assert capsys.readouterr() == ("", "")
    assert not (out / "out_of_sample.csv").exists()
    names = {path.name for path in out.iterdir()}
    assert {"audit.json", "audit.md", "knockouts.csv", "paired_village_effects.csv", "county_effects.csv"} <= names
    assert "## paired_village_effects" in (out / "audit.md").read_text()


def test_a_scenario_without_pairing_is_audited_for_its_trend_and_distribution_only(tmp_path) -> None:
    text = SMALL.read_text(encoding="utf-8")
    scenario = tmp_path / "no_pairing.yaml"
    scenario.write_text(text[: text.index("\npairing:")] + "\n", encoding="utf-8")
    runs = audit.run_audit(scenario, SerialExecutor(), seeds=2, years=1, odd_markdown=ODD_ROWS, progress=False)
    assert runs.arms == [BASELINE]
    result = audit.audit_tables(runs)
    assert list(result.tables) == ["county_effects", "distribution_shape"]
    assert list(result.tables["county_effects"]["outcome"]) == list(audit.COUNTY_OUTCOMES)
    assert result.tables["county_effects"]["effect"].isna().all()
    assert result.tables["county_effects"]["baseline_change"].notna().all()
    assert result.notes == ["no_pairing plans no pairing: only its no-pairing trend and distribution are shown."]
