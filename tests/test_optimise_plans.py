"""Tests for plans as pairsim inputs (sim.optimise.plans): explicit policies from a plan, the plan CSV, and the scenario
YAML that re-runs a plan bit for bit with ``pairsim run``.

All on scenarios/small.yaml with a one-year horizon (a run takes about a second).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.execute import run_to_end
from sim.experiment import RunSpec
from sim.model import PairingModel
from sim.optimise.assignment import PLAN_COLUMNS, Choice, PolicyChoice, assign
from sim.optimise.plans import FIRST_COLUMNS, explicit_policies, plan_overrides, scenario_with_overrides, write_plan
from sim.optimise.spec import Budget, PolicyLever
from sim.scenario import load_scenario

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL = REPO_ROOT / "scenarios" / "small.yaml"
CSV_EXAMPLE = REPO_ROOT / "scenarios" / "csv_example.yaml"
SEED = 3


def choose(policy_type: str, pairs: int, flows: dict[str, float], **lever: object) -> PolicyChoice:
    return PolicyChoice(PolicyLever(type=policy_type, pairs=pairs, **lever), pairs, flows)


CHOICE = Choice(
    (
        choose("city_village", 3, {"funds": 40_000.0, "problems_solved": 5.0}, name="部门+村"),
        choose("village_enterprise", 2, {"funds": 60_000.0, "trainees": 30.0, "jobs": 5.0}),
        choose("cadre_dispatch", 0, {"cadre_months": 12.0}),  # no pairs: left out of the scenario
        choose("strong_weak", 2, {"funds": 20_000.0, "trainees": 20.0}),
        choose("industry_chain", 2, {"trainees": 50.0, "market_savings": 600.0}, donors_per_pair=3),
    ),
    {"need": 0.8, "strength": 0.3, "proximity": 0.5},
)


@pytest.fixture(scope="module")
def planned():
    """The plan of CHOICE on the small county of SEED, and the scenario it was made for."""
    model = PairingModel(SMALL, rng=SEED, overrides={"pairing.policies": []})
    plan = assign(model.county, model.spec, CHOICE, Budget(yuan_per_year=2_000_000.0), candidate_villages=2)
    return plan, model.spec


def test_explicit_policies_name_every_pair_of_the_plan(planned):
    plan, scenario = planned
    policies = explicit_policies(plan, CHOICE, scenario)
    used = sorted(plan["policy"].unique())
    assert [policy["name"] for policy in policies] == [CHOICE.policies[i].lever.label for i in used]
    assert "cadre_dispatch" not in {policy["type"] for policy in policies}
    assert sum(len(policy["explicit"]) for policy in policies) == len(plan)
    for index, policy in zip(used, policies, strict=True):
        links = plan[plan["policy"] == index]
        assert policy["explicit"] == [{"donor": d, "village": v} for d, v in zip(links["donor"], links["village"], strict=True)]
        assert policy["flows"] == CHOICE.policies[index].flows
        assert policy["donors_per_pair"] == CHOICE.policies[index].lever.donors_per_pair
        assert "typed" not in policy and "pairs" not in policy
    assert plan_overrides(plan, CHOICE, scenario) == {"pairing.policies": policies}


def test_the_written_scenario_reproduces_the_plan_s_run_bit_for_bit(planned, tmp_path):
    """What the issue asks: ``pairsim run <plan yaml> --seed <seed>`` is the optimiser's run of that plan, to the bit."""
    plan, scenario = planned
    overrides = {"horizon_years": 1, **plan_overrides(plan, CHOICE, scenario)}
    spec = RunSpec(run_id="t0001__s0", scenario=str(SMALL), arm="plan", point=0, replication=0, seed=SEED, overrides=overrides)
    optimised, _ = run_to_end(spec)
    _, yaml_path = write_plan(tmp_path / "plans", "t0001", plan, SMALL, overrides, SEED, optimisation="test", trial=1)
    rerun = PairingModel(load_scenario(yaml_path), rng=SEED)  # what `pairsim run` builds
    rerun.run_model()
    assert len(optimised.pairing.links) == len(plan) > 0  # the run formed exactly the plan's links
    links = optimised.pairing.link_table()
    assert sorted(zip(links["village"], links["donor"], strict=True)) == sorted(zip(plan["village"], plan["donor"], strict=True))
    pd.testing.assert_frame_equal(optimised.model_dataframe(), rerun.model_dataframe(), check_exact=True)
    assert rerun.spec.horizon_years == 1


def test_the_plan_csv_opens_with_who_pairs_with_whom_then_the_flows(planned, tmp_path):
    plan, _ = planned
    csv_path, _ = write_plan(tmp_path, "t0002", plan, SMALL, plan_overrides(plan, CHOICE), SEED)
    written = pd.read_csv(csv_path)
    flows = [column for column in plan.columns if column.startswith("flow:")]
    assert list(written.columns) == [*FIRST_COLUMNS, *flows, *[c for c in PLAN_COLUMNS if c not in FIRST_COLUMNS]]
    assert flows == [
        "flow:funds",
        "flow:trainees",
        "flow:jobs",
        "flow:cadre_months",
        "flow:market_savings",
        "flow:problems_solved",
    ]
    assert len(written) == len(plan)
    assert written["planned_cost"].sum() == pytest.approx(plan["planned_cost"].sum())
    assert written["donor"].tolist() == plan["donor"].tolist()


def test_the_plan_yaml_says_what_it_reproduces_and_how_to_run_it(planned, tmp_path):
    plan, scenario = planned
    overrides = {"horizon_years": 2, **plan_overrides(plan, CHOICE, scenario)}
    _, yaml_path = write_plan(tmp_path, "t0003", plan, SMALL, overrides, 17, optimisation="optimise_small", trial=3)
    text = yaml_path.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert "trial 3 of optimisation optimise_small, seed 17" in header[0]
    assert header[2].endswith("pairsim run t0003.yaml --seed 17")
    assert "pairsim compare t0003.compare.yaml" in header[-1]
    compare = yaml.safe_load(yaml_path.with_name("t0003.compare.yaml").read_text(encoding="utf-8"))
    assert compare["seeds"] == [17] and compare["scenarios"] == ["t0003.yaml"]
    data = yaml.safe_load(text)
    assert data["horizon_years"] == 2 and data["name"] == scenario.name
    assert data["pairing"]["policies"] == overrides["pairing.policies"]
    assert "&id" not in text and "*id" not in text  # no anchors: a file to read and edit
    assert "部门+村" in text  # Chinese as written, not escaped
    assert not list(tmp_path.glob(".*"))  # nothing half-written left behind


def test_a_village_file_is_made_absolute_so_the_plan_runs_from_anywhere(tmp_path):
    data = scenario_with_overrides(CSV_EXAMPLE, {"horizon_years": 1, "pairing.policies": []})
    village_file = Path(data["region"]["village_file"])
    assert village_file.is_absolute() and village_file.is_file()
    assert data["pairing"]["policies"] == [] and data["horizon_years"] == 1
    _, yaml_path = write_plan(tmp_path, "plan", pd.DataFrame(columns=PLAN_COLUMNS), CSV_EXAMPLE, {"pairing.policies": []}, 1)
    assert load_scenario(yaml_path).region.village_file == str(village_file)
