"""Optimisation files (issue 15): validated like the other files, one line naming the file and the field, exit 2,
before any run."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from conftest import SMALL_SCENARIO, run_cli

from sim.errors import InputError
from sim.optimise.spec import Bounds, load_optimisation

POSTERIOR = Path(__file__).resolve().parent.parent / "calibrations" / "posteriors" / "shouguang_2009.parquet"


def optimisation_data() -> dict:
    """A valid optimisation of small.yaml with quick settings."""
    return {
        "name": "small_quick",
        "scenario": str(SMALL_SCENARIO),
        "seed": 3,
        "horizon_years": 1,
        "budget": {"yuan_per_year": 1_500_000},
        "levers": {
            "policies": [
                {"type": "city_village", "pairs": {"low": 0, "high": 4}, "flows": {"funds": {"low": 0, "high": 80000}}},
                {"type": "strong_weak", "pairs": 2, "flows": {"funds": 50000, "trainees": {"low": 0, "high": 40}}},
            ]
        },
        "search": {"simulations": 24, "seeds": 2, "batch": 2},
        "check": {"seeds": 2, "plans": 1},
    }


def changed(data: dict, key: str, value) -> dict:
    """``data`` with one dotted key (list items by number) set, or removed when ``value`` is ``...``."""
    data = copy.deepcopy(data)
    *path, last = key.split(".")
    target = data
    for part in path:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is ...:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "optimise.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_valid_file_loads_with_its_scenario_made_absolute_and_its_trial_count():
    data = optimisation_data()
    data["scenario"] = "../scenarios/small.yaml"
    path = Path(__file__).resolve().parent.parent / "experiments" / "x.yaml"
    from sim.optimise.spec import Optimisation

    optimisation = Optimisation.model_validate(data)
    assert optimisation.trials == (24 - 4 * 2) // 2  # baseline + 3 heuristics on 2 seeds, then plans of 2 seeds
    assert optimisation.levers.targeting == {name: Bounds(low=0.0, high=1.0) for name in ("need", "strength", "proximity")}
    assert path.parent.is_dir()


def test_the_scenario_path_is_resolved_against_the_file(tmp_path):
    data = optimisation_data()
    data["scenario"] = str(Path("..") / SMALL_SCENARIO.relative_to(SMALL_SCENARIO.parent.parent))
    folder = tmp_path / "sub"
    folder.mkdir()
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "small.yaml").write_text(SMALL_SCENARIO.read_text(encoding="utf-8"), encoding="utf-8")
    path = folder / "optimise.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_optimisation(path).scenario == str((tmp_path / "scenarios" / "small.yaml").resolve())


BAD_FILES = [
    ("levers.policies.0.type", "city_vilage", "levers.policies[0].type", "did you mean 'city_village'"),
    ("levers.policies.0.pairs", {"low": 4, "high": 1}, "levers.policies[0].pairs", "low must be at most high"),
    ("levers.policies.0.pairs", {"low": 0, "high": 2.5}, "levers.policies[0].pairs", "whole numbers"),
    ("levers.policies.0.pairs", "many", "levers.policies[0].pairs", "must be a number or {low, high}"),
    ("levers.policies.0.flows", {"fundz": 1}, "levers.policies[0].flows", "did you mean 'funds'"),
    ("levers.policies.1.flows", {"household_assets": 3}, "levers.policies[1]", "flows.household_assets: moves only along"),
    ("levers.policies.1.typed", "search", "levers.policies[1]", "city_village policies only"),
    ("levers.targeting", {"need": {"low": 0, "high": 2}}, "levers.targeting", "a weight lies in [0, 1]"),
    ("levers.targeting", {"nead": 1}, "levers.targeting", "did you mean 'need'"),
    ("levers.policies", [], "levers.policies", "at least 1"),
    (
        "levers.policies.0",
        {"type": "cadre_dispatch", "pairs": 2, "flows": {"cadre_months": {"low": 0, "high": 12}}},
        "levers.policies[0]",
        "with its flows at their low ends: cadre_dispatch needs flows.cadre_months > 0",
    ),
    ("budget.yuan_per_year", 0, "budget.yuan_per_year", "must be a positive number"),
    ("budget", ..., "budget", "required field is missing"),
    ("objectives", {"falls": ["ginni"]}, "objectives.falls", "did you mean 'gini'"),
    ("objectives", {"falls": ["urban_income_pc"]}, "objectives.falls", "no better direction"),
    ("objectives", {"statistic": "median"}, "objectives.statistic", "'mean', 'quantile' or 'regret'"),
    ("search.simulations", 9, "search.simulations", "leaves no plan to try"),
    ("search.sampler", "gp", "search.sampler", "'tpe' or 'random'"),
    ("check.seeds", 1, "check.seeds", "at least 2"),
    ("check.heuristics", ["greedy", "greedy"], "check.heuristics", "names a heuristic twice"),
    ("check.heuristics", ["greedy", "best"], "check.heuristics[1]", "'greedy', 'typed' or 'random'"),
    ("scenario", "no_such_scenario.yaml", "scenario", "file not found"),
    ("name", "has space", "name", "should match pattern"),
    ("sead", 3, "sead", "did you mean 'seed'"),
    ("posterior", {"posterior": str(POSTERIOR), "draws": 999}, "posterior.draws", "need 1001 draws"),
    ("posterior", {"posterior": "missing.parquet", "draws": 2}, "posterior", "file not found"),
]


@pytest.mark.parametrize(
    ("key", "value", "field", "message"), BAD_FILES, ids=[f"{case[0]}-{i}" for i, case in enumerate(BAD_FILES)]
)
def test_a_bad_optimisation_file_is_one_line_naming_file_and_field_exit_2(tmp_path, key, value, field, message):
    path = write(tmp_path, changed(optimisation_data(), key, value))
    code, out, err = run_cli("optimise", path, "--out", tmp_path / "out", "--quiet")
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}: {field}"), err
    assert message in lines[0], err
    assert not (tmp_path / "out" / "runs").exists()


def test_typed_heuristic_needs_a_city_village_policy_in_the_scenario(tmp_path):
    scenario = yaml.safe_load(SMALL_SCENARIO.read_text(encoding="utf-8"))
    scenario["pairing"]["policies"] = [p for p in scenario["pairing"]["policies"] if p["type"] != "city_village"]
    (tmp_path / "no_city.yaml").write_text(yaml.safe_dump(scenario, allow_unicode=True), encoding="utf-8")
    data = changed(optimisation_data(), "scenario", str(tmp_path / "no_city.yaml"))
    with pytest.raises(InputError) as error:
        load_optimisation(write(tmp_path, data))
    assert error.value.problems[0].field == "check.heuristics"
    data = changed(data, "check.heuristics", ["greedy", "random"])
    assert load_optimisation(write(tmp_path, data)).check.heuristics == ["greedy", "random"]


def test_a_missing_optimisation_file_is_one_line(tmp_path):
    code, _, err = run_cli("optimise", tmp_path / "nowhere.yaml")
    assert code == 2
    assert err.strip() == f"{tmp_path / 'nowhere.yaml'}: optimisation file not found"
