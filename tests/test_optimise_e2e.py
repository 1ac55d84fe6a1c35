"""``pairsim optimise`` end to end on scenarios/small.yaml with quick settings (issue 15): the search, the front, the
plan files, a plan re-run bit for bit and compared, the out-of-sample check, resuming, and the budget."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SMALL_SCENARIO, run_cli

from sim.execute import SerialExecutor, run_one
from sim.experiment import RunSpec, replication_seeds
from sim.optimise import load_optimisation, run_optimisation
from sim.optimise.run import heuristic_overrides
from sim.scenario import load_scenario

BUDGET = 1_200_000


def quick_file(folder: Path, **changes) -> Path:
    """An optimisation of small.yaml: 1 year, two policy types, 6 plans on 2 seeds, 1 plan checked on 3 unseen seeds."""
    data = {
        "name": "small_quick",
        "scenario": str(SMALL_SCENARIO),
        "seed": 5,
        "horizon_years": 1,
        "budget": {"yuan_per_year": BUDGET},
        "levers": {
            "policies": [
                {
                    "type": "city_village",
                    "name": "部门+村",
                    "pairs": {"low": 0, "high": 5},
                    "flows": {"funds": {"low": 0, "high": 100000}, "problems_solved": 19},
                    "typed": "search",
                },
                {
                    "type": "strong_weak",
                    "name": "强村+弱村",
                    "pairs": {"low": 0, "high": 4},
                    "flows": {"funds": {"low": 0, "high": 90000}},
                },
            ]
        },
        "search": {"simulations": 20, "seeds": 2, "batch": 3},
        "check": {"seeds": 3, "plans": 1},
        **changes,
    }
    path = folder / "optimise.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def optimised(tmp_path_factory):
    folder = tmp_path_factory.mktemp("optimise")
    path = quick_file(folder)
    code, _out, err = run_cli("optimise", path, "--out", folder / "out", "--workers", "1", "--quiet")
    assert code == 0, err
    return path, folder / "out"


def test_the_search_writes_its_front_plans_and_check(optimised):
    path, out = optimised
    optimisation = load_optimisation(path)
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == optimisation.trials == 6
    assert (trials["cost"] <= BUDGET * (1 + 1e-9)).all()
    assert trials["on_front"].any()
    front = pd.read_csv(out / "front.csv")
    assert front["checked"].sum() == 1
    checked = int(front.loc[front["checked"], "trial"].iloc[0])
    assert (out / "plans" / f"t{checked:04d}.csv").is_file() and (out / "plans" / f"t{checked:04d}.yaml").is_file()
    check = pd.read_csv(out / "out_of_sample.csv")
    assert set(check["against"]) == {"baseline", "h-greedy", "h-typed", "h-random"}
    assert (check["n"] == 3).all()
    assert check["verdict"].isin(["better", "worse", "not better (no clear difference)"]).all()
    summary = (out / "optimise.md").read_text(encoding="utf-8")
    assert "Out of sample" in summary and f"t{checked:04d}" in summary
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "optimisation" and manifest["finished"]
    runs = {p.stem for p in (out / "runs").glob("*.parquet")}
    assert len(runs) == 4 * 2 + 6 * 2 + (4 + 1) * 3


def test_the_check_uses_seeds_the_search_never_saw(optimised):
    path, out = optimised
    optimisation = load_optimisation(path)
    search = set(replication_seeds(optimisation.seed, optimisation.search.seeds))
    runs = pd.concat([pd.read_parquet(p, columns=["run_id", "seed"]) for p in (out / "runs").glob("*.parquet")])
    checked = set(runs.loc[runs["run_id"].str.startswith("check__"), "seed"])
    assert checked and not checked & search


def test_the_plan_file_reproduces_its_run_bit_for_bit_and_compare_reruns_it(optimised, tmp_path):
    _path, out = optimised
    plan_yaml = next((out / "plans").glob("t[0-9][0-9][0-9][0-9].yaml"))
    trial = plan_yaml.stem
    saved = pd.read_parquet(out / "runs" / f"{trial}__s000.parquet")
    seed = int(saved["seed"].iloc[0])
    outcomes = ("gini", "urban_rural_ratio", "poverty_headcount", "weak_villages")
    again = run_one(
        RunSpec(run_id="again", scenario=str(plan_yaml), arm="x", point=0, replication=0, seed=seed, outcomes=outcomes)
    )
    columns = [c for c in again.columns if c not in ("run_id", "scenario", "arm") and c in saved.columns]
    assert set(outcomes) <= set(columns) and "donor_cost_total" in columns
    pd.testing.assert_frame_equal(again[columns], saved[columns], check_exact=True)
    plan = pd.read_csv(plan_yaml.with_suffix(".csv"))
    scenario = load_scenario(plan_yaml)
    assert sum(len(policy.explicit) for policy in scenario.pairing.policies) == len(plan)
    experiment = plan_yaml.with_name(f"{trial}.compare.yaml")
    code, _, err = run_cli("compare", experiment, "--out", tmp_path / "compared", "--workers", "1", "--quiet")
    assert code == 0, err
    compared = pd.read_parquet(tmp_path / "compared" / "runs" / f"{trial}__plan__p0000__r000.parquet")
    pd.testing.assert_frame_equal(
        compared[columns].drop(columns=["seed"]), saved[columns].drop(columns=["seed"]), check_exact=True
    )
    assert len(list((tmp_path / "compared" / "runs").glob("*.parquet"))) == 2


def test_a_killed_search_resumes_to_the_same_trials(optimised, tmp_path):
    path, out = optimised
    copy = tmp_path / "resumed"
    shutil.copytree(out, copy)
    for name in ("trials.parquet", "front.csv", "out_of_sample.csv", "optimise.md"):
        (copy / name).unlink()
    shutil.rmtree(copy / "plans")
    later = sorted((copy / "runs").glob("t0004__*.parquet")) + sorted((copy / "runs").glob("check__*.parquet"))
    for run in later:
        run.unlink()
    report = run_optimisation(load_optimisation(path), path, copy, SerialExecutor(), progress=False)
    assert report.complete and report.finished == len(later)
    pd.testing.assert_frame_equal(
        pd.read_parquet(copy / "trials.parquet"), pd.read_parquet(out / "trials.parquet"), check_exact=True
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(copy / "out_of_sample.csv"), pd.read_csv(out / "out_of_sample.csv"), check_exact=True
    )


def test_a_folder_of_another_optimisation_is_refused(optimised, tmp_path):
    _path, out = optimised
    other = quick_file(tmp_path, seed=6)
    code, _, err = run_cli("optimise", other, "--out", out, "--workers", "1", "--quiet")
    assert code == 2
    assert err.strip().endswith("with other settings (seed); use another --out folder or delete this one")


def test_checking_more_of_the_front_reuses_the_folder(optimised, tmp_path):
    _, out = optimised
    copy = tmp_path / "more"
    shutil.copytree(out, copy)
    more = quick_file(tmp_path, check={"seeds": 3, "plans": 2})
    report = run_optimisation(load_optimisation(more), more, copy, SerialExecutor(), progress=False)
    assert report.complete
    front = pd.read_csv(copy / "front.csv")
    assert report.finished == 3 * min(2, len(front)) - 3  # only the second plan's check runs are new
    pd.testing.assert_frame_equal(
        pd.read_parquet(copy / "trials.parquet"), pd.read_parquet(out / "trials.parquet"), check_exact=True
    )


POSTERIOR = Path(__file__).resolve().parent.parent / "calibrations" / "posteriors" / "shouguang_2009.parquet"


def test_with_a_posterior_the_search_and_the_check_run_different_draws(tmp_path):
    path = quick_file(
        tmp_path,
        posterior={"posterior": str(POSTERIOR), "draws": 2},
        search={"simulations": 12, "seeds": 2, "batch": 2},
        check={"seeds": 2, "plans": 1},
    )
    report = run_optimisation(load_optimisation(path), path, tmp_path / "out", SerialExecutor(), progress=False)
    assert report.complete
    runs = pd.concat([pd.read_parquet(p, columns=["run_id", "draw"]) for p in (tmp_path / "out" / "runs").glob("*.parquet")])
    checking = runs["run_id"].str.startswith("check__")
    assert set(runs.loc[~checking, "draw"]) == {0, 1}
    assert set(runs.loc[checking, "draw"]) == {2, 3}
    from sim.optimise.run import _draws

    posterior = pd.read_parquet(POSTERIOR)
    assert [row["pairing.failure.leakage"] for row in _draws(load_optimisation(path))] == list(
        posterior["pairing.failure.leakage"].head(4)
    )  # an equal-weight sample: the search runs its first rows, the check the next ones


def test_unequal_weights_leave_the_check_draws_the_search_never_ran(tmp_path):
    from sim.optimise.run import _draws

    posterior = pd.read_parquet(POSTERIOR).head(12).assign(weight=[5.0, 0, 3, 0, 1, 1, 0, 2, 1, 0, 4, 1])
    posterior.to_parquet(tmp_path / "weighted.parquet")
    optimisation = load_optimisation(
        quick_file(tmp_path, posterior={"posterior": str(tmp_path / "weighted.parquet"), "draws": 3})
    )
    draws = [row["pairing.failure.leakage"] for row in _draws(optimisation)]
    searched, checked = set(draws[:3]), draws[3:]
    assert len(checked) == 3 and not searched & set(checked)
    zero = set(posterior.loc[posterior["weight"] == 0, "pairing.failure.leakage"])
    assert not zero & set(draws)


def test_heuristics_change_only_the_matching_of_the_scenarios_own_plan():
    scenario = load_scenario(SMALL_SCENARIO)
    typed = heuristic_overrides(scenario, "typed")
    assert typed == {
        **{f"pairing.policies.{i}.matching": "greedy" for i in range(len(scenario.pairing.policies))},
        "pairing.policies.0.typed": True,
    }
    assert set(heuristic_overrides(scenario, "random").values()) == {"random", False}
