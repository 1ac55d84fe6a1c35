"""The shipped optimisation files (experiments/optimise_*.yaml): they load, and each budget is the planned yearly cost of
its scenario's own plan, recomputed here so the number in the file cannot drift from the rule it states."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model import PairingModel
from sim.optimise import load_optimisation
from sim.optimise.run import shipped_plan_cost
from sim.scenario import load_scenario

SHIPPED = sorted((Path(__file__).resolve().parent.parent / "experiments").glob("optimise_*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[path.name for path in SHIPPED])
def test_a_shipped_optimisation_loads_and_spends_its_scenarios_own_plan_cost(path):
    optimisation = load_optimisation(path)
    assert optimisation.trials >= 20
    scenario = load_scenario(optimisation.scenario)
    county = PairingModel(scenario=scenario, rng=optimisation.seed, overrides={"pairing.policies": []}).county
    cost, _ = shipped_plan_cost(scenario, county)
    assert optimisation.budget.yuan_per_year == pytest.approx(cost, rel=1e-9)


def test_both_shipped_files_exist():
    assert {path.name for path in SHIPPED} == {"optimise_shouguang.yaml", "optimise_small.yaml"}
