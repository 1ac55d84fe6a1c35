"""Tests for running experiments (sim.execute, sim.results, sim.summary, pairsim compare/sweep/summarize).

Most experiments here run scenarios/small.yaml for one year (~0.2 s a run). One module-scoped
reference run (12 runs) is shared by the results, resume, extension and summary tests; those
that change a results folder work on a copy. The kill and Ctrl-C tests start ``python -m
sim.cli`` as real subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import run_cli

from sim import analysis, execute
from sim.execute import (
    IDENTIFIERS,
    SerialExecutor,
    identity,
    make_executor,
    run_experiment,
    run_one,
    run_safely,
)
from sim.experiment import CUMULATIVE_FLOWS, file_hash, load_experiment, replication_seeds, run_specs
from sim.outcome_registry import default_outcomes
from sim.outputs import current_umask, write_atomically
from sim.results import ResultsStore, load_results

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL = REPO_ROOT / "scenarios" / "small.yaml"
POLICY_COMPARISON = REPO_ROOT / "experiments" / "policy_comparison.yaml"
BREAKING_OVERRIDE = {"pairing.policies.0.pairs": 41}  # passes validation; pairing formation fails at run time (40 villages)


# --------------------------------------------------------------------------- helpers


def experiment_data(name: str = "tiny", replications: int = 2, horizon: int = 1, seed: int = 3, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "scenarios": [str(SMALL)],
        "seed": seed,
        "replications": replications,
        "horizon_years": horizon,
        "arms": {"city_village": {"policies": ["部门+村"]}, "everything": {"policies": "all"}},
    }
    data.update(changes)
    return data


def write_experiment(folder: Path, data: dict[str, Any], name: str = "exp.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def compare_command(experiment: Path, out_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sim.cli",
        "compare",
        str(experiment),
        "--workers",
        "1",
        "--out",
        str(out_dir),
        "--quiet",
        *extra,
    ]


def run_serially(experiment_path: Path, out_dir: Path, **kwargs: Any):
    experiment = load_experiment(experiment_path)
    return run_experiment(experiment, experiment_path, out_dir, SerialExecutor(), progress=False, **kwargs)


def test_results_files_get_ordinary_permissions(tmp_path):
    """mkstemp makes private files; results are written to be shared like any file the user creates."""
    one_run = {"arms": {"city_village": {"policies": ["部门+村"]}}, "baseline": False}
    path = write_experiment(tmp_path, experiment_data("modes", replications=1, **one_run))
    out_dir = tmp_path / "out"
    run_serially(path, out_dir)
    files = [out_dir / "manifest.json", *(out_dir / "runs").glob("*.parquet")]
    assert {file.stat().st_mode & 0o777 for file in files} == {0o666 & ~current_umask()}


def mtimes(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in (folder / "runs").glob("*.parquet")}


def dot_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob(".*")]


@pytest.fixture
def count_runs(monkeypatch):
    """Record the run ids that sim.execute hands to run_safely (in-process executors only)."""
    seen: list[str] = []
    original = execute.run_safely

    def counting(spec):
        seen.append(spec.run_id)
        return original(spec)

    monkeypatch.setattr(execute, "run_safely", counting)
    return seen


# --------------------------------------------------------------------------- the shared reference run

REFERENCE_REPLICATIONS = 4
REFERENCE_RUNS = 3 * REFERENCE_REPLICATIONS  # baseline and two arms


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Any]:
    """An uninterrupted serial run: 3 arms x 4 replications of small.yaml over one year (12 runs)."""
    folder = tmp_path_factory.mktemp("reference")
    path = write_experiment(folder, experiment_data("resumable", replications=REFERENCE_REPLICATIONS, seed=17))
    out_dir = folder / "results"
    started = time.perf_counter()
    report = run_serially(path, out_dir)
    seconds = time.perf_counter() - started
    assert report.finished == report.total == REFERENCE_RUNS and not report.failed and not report.interrupted
    return {
        "path": path,
        "out": out_dir,
        "results": load_results(out_dir),
        "seconds": seconds,
        "experiment": load_experiment(path),
    }


def copy_results(reference: dict[str, Any], tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(reference["out"], target)  # copy2: modification times kept
    return target


# --------------------------------------------------------------------------- run_one / run_safely


def test_run_one_returns_yearly_rows_with_identifiers_outcomes_and_totals(tmp_path):
    experiment = load_experiment(write_experiment(tmp_path, experiment_data(replications=1, horizon=2)))
    specs = {spec.arm: spec for spec in run_specs(experiment)}
    table = run_one(specs["everything"])
    assert list(table.columns[: len(IDENTIFIERS)]) == IDENTIFIERS
    for column in [*default_outcomes(), *CUMULATIVE_FLOWS.values()]:
        assert column in table.columns
    assert list(table["year"]) == [2009, 2010, 2011]
    assert (table["run_id"] == specs["everything"].run_id).all()
    assert (table["seed"] == specs["everything"].seed).all()
    assert table["funds_sent_total"].is_monotonic_increasing and table["funds_sent_total"].iloc[-1] > 0
    baseline = run_one(specs["baseline"])
    assert (baseline[list(CUMULATIVE_FLOWS.values())] == 0).all().all()
    # pure function of the spec
    pd.testing.assert_frame_equal(table, run_one(specs["everything"]))


def test_run_safely_records_the_error_instead_of_raising(tmp_path):
    data = experiment_data(
        replications=1, arms={"broken": {"policies": ["部门+村"], "overrides": BREAKING_OVERRIDE}}, baseline=False
    )
    experiment = load_experiment(write_experiment(tmp_path, data))
    [spec] = run_specs(experiment)
    started = time.perf_counter()
    outcome = run_safely(spec)
    elapsed = time.perf_counter() - started
    assert outcome.table is None and outcome.run_id == spec.run_id
    assert "InputError" in outcome.error and "41 pairs requested" in outcome.error
    assert 0 < outcome.seconds <= elapsed


# --------------------------------------------------------------------------- results folder and manifest


def test_results_folder_layout_and_manifest(reference):
    out_dir, experiment, path = reference["out"], reference["experiment"], reference["path"]
    specs = run_specs(experiment)
    files = sorted((out_dir / "runs").iterdir())
    assert [f.name for f in files] == sorted(f"{spec.run_id}.parquet" for spec in specs)
    assert dot_files(out_dir) == [], "temporary files left behind"
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["experiment"] == "resumable"
    assert manifest["experiment_sha256"] == file_hash(path)
    assert manifest["identity"] == identity(experiment)
    assert manifest["scenarios"] == {str(SMALL): file_hash(SMALL)}
    assert manifest["seed"] == 17 and manifest["replications"] == REFERENCE_REPLICATIONS
    assert manifest["replication_seeds"] == replication_seeds(17, REFERENCE_REPLICATIONS)
    for package in ("pairsim", "mesa", "numpy", "pandas"):
        assert manifest["versions"][package]
    assert set(manifest["runs"]) == {spec.run_id for spec in specs}
    for spec in specs:
        record = manifest["runs"][spec.run_id]
        assert record["status"] == "finished"
        assert isinstance(record["seconds"], float | int) and record["seconds"] > 0
        assert (record["seed"], record["arm"], record["replication"], record["point"]) == (
            spec.seed,
            spec.arm,
            spec.replication,
            0,
        )
        assert "error" not in record


def test_results_table(reference):
    results = reference["results"]
    assert len(results) == REFERENCE_RUNS * 2  # start year and one simulated year per run
    assert not results.duplicated(["run_id", "year"]).any()
    rows_per_arm = REFERENCE_REPLICATIONS * 2
    assert results["arm"].value_counts().to_dict() == {
        "baseline": rows_per_arm,
        "city_village": rows_per_arm,
        "everything": rows_per_arm,
    }
    assert ResultsStore(reference["out"]).finished() == set(results["run_id"])
    pd.testing.assert_frame_equal(ResultsStore(reference["out"]).load(), results)
    # the same as pandas reading the folder as a Parquet dataset
    dataset = pd.read_parquet(reference["out"] / "runs").sort_values(["run_id", "year"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(dataset[results.columns], results, check_dtype=False, check_categorical=False)


def test_common_random_numbers_keep_the_urban_side_identical_across_arms(reference):
    final = analysis.final_year(reference["results"])
    urban = final.pivot(index="replication", columns="arm", values="urban_income_pc")
    assert urban.nunique(axis=1).eq(1).all(), "one seed should give one urban side in every arm"
    assert urban["baseline"].nunique() == REFERENCE_REPLICATIONS, "replications should differ"
    seeds = final.pivot(index="replication", columns="arm", values="seed")
    assert seeds.nunique(axis=1).eq(1).all()


def test_write_atomically_replaces_or_keeps_the_old_file(tmp_path):
    target = tmp_path / "sub" / "table.txt"
    write_atomically(target, lambda tmp: tmp.write_text("first", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "first"

    def failing(tmp: Path) -> None:
        tmp.write_text("half of the second", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, failing)
    assert target.read_text(encoding="utf-8") == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.txt"]

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, lambda tmp: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.txt"]

    write_atomically(target, lambda tmp: tmp.write_text("second", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.txt"]


def test_temporary_files_are_not_results(tmp_path, reference):
    folder = copy_results(reference, tmp_path)
    (folder / "runs" / ".small__baseline__p0000__r000.parquet.abc123").write_bytes(b"PAR1 half a file")
    (folder / "runs" / ".small__everything__p0009__r099.parquet.x").write_bytes(b"")
    assert ResultsStore(folder).finished() == set(reference["results"]["run_id"])
    pd.testing.assert_frame_equal(load_results(folder), reference["results"])


def test_load_results_of_an_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path)


def test_identity_ignores_replications_only(reference, tmp_path):
    experiment = reference["experiment"]
    key = identity(experiment)
    assert identity(experiment.model_copy(update={"replications": 99})) == key
    assert identity(experiment.model_copy(update={"seed": 18})) != key
    assert identity(experiment.model_copy(update={"horizon_years": 2})) != key
    assert identity(experiment.model_copy(update={"arms": {"everything": experiment.arms["everything"]}})) != key
    changed = tmp_path / "small_copy.yaml"
    changed.write_text(SMALL.read_text(encoding="utf-8").replace("count: 40", "count: 41"), encoding="utf-8")
    assert identity(experiment.model_copy(update={"scenarios": [str(changed)]})) != key


# --------------------------------------------------------------------------- executors


@pytest.mark.slow
def test_results_identical_serially_in_a_process_pool_and_on_dask(tmp_path):
    data = experiment_data(
        "executors",
        replications=2,
        arms={"city_village": {"policies": ["部门+村"]}, "broken": {"policies": ["部门+村"], "overrides": BREAKING_OVERRIDE}},
    )
    path = write_experiment(tmp_path, data)
    experiment = load_experiment(path)
    results, failures = {}, {}
    for label, options in {"serial": {"workers": 1}, "pool": {"workers": 2}, "dask": {"workers": 2, "dask": "local"}}.items():
        with make_executor(**options) as executor:
            if label == "serial":
                assert isinstance(executor, SerialExecutor)
            report = run_experiment(experiment, path, tmp_path / label, executor, progress=False)
        assert report.total == 6 and report.finished == 4 and not report.interrupted, label
        results[label] = load_results(tmp_path / label)
        failures[label] = report.failed
        assert dot_files(tmp_path / label) == [], label
    pd.testing.assert_frame_equal(results["serial"], results["pool"])
    pd.testing.assert_frame_equal(results["serial"], results["dask"])
    assert failures["serial"] == failures["pool"] == failures["dask"]
    assert set(failures["serial"]) == {"small__broken__p0000__r000", "small__broken__p0000__r001"}


@pytest.mark.slow
def test_paired_differences_have_smaller_standard_errors_on_the_shipped_comparison(tmp_path):
    experiment = load_experiment(POLICY_COMPARISON)
    experiment = experiment.model_copy(
        update={
            "replications": 4,
            "horizon_years": 1,
            "arms": {name: arm for name, arm in experiment.arms.items() if name in ("city_village", "all_four")},
        }
    )
    with make_executor(workers=2) as executor:
        report = run_experiment(experiment, POLICY_COMPARISON, tmp_path / "pc", executor, progress=False)
    assert report.finished == 12 and not report.failed
    results = load_results(tmp_path / "pc")
    outcomes = ["rural_income_pc", "urban_income_pc", "gini", "urban_rural_ratio", "theil_t"]
    paired = analysis.paired_differences(results, outcomes=outcomes).set_index(["arm", "outcome"])
    unpaired = analysis.unpaired_differences(results, outcomes=outcomes).set_index(["arm", "outcome"])
    for arm in ("city_village", "all_four"):
        assert paired.loc[(arm, "gini"), "n"] == 4
        for outcome in ("rural_income_pc", "gini", "urban_rural_ratio", "theil_t"):
            p, u = paired.loc[(arm, outcome), "std_error"], unpaired.loc[(arm, outcome), "std_error"]
            assert 0 <= p < u, (arm, outcome, p, u)
            # same point estimate either way: the pairing only narrows the interval
            assert paired.loc[(arm, outcome), "difference"] == pytest.approx(unpaired.loc[(arm, outcome), "difference"])
        ratio = paired.loc[(arm, "urban_rural_ratio"), "std_error"] / unpaired.loc[(arm, "urban_rural_ratio"), "std_error"]
        assert ratio < 0.2, ratio
        # the urban side is the same in every arm of one seed: its paired difference is exactly 0
        assert paired.loc[(arm, "urban_income_pc"), "std_error"] == 0
        assert unpaired.loc[(arm, "urban_income_pc"), "std_error"] > 0


# --------------------------------------------------------------------------- failed runs


def failing_experiment(tmp_path: Path) -> Path:
    data = experiment_data(
        "failing",
        replications=2,
        arms={"city_village": {"policies": ["部门+村"], "overrides": BREAKING_OVERRIDE}, "everything": {"policies": "all"}},
    )
    return write_experiment(tmp_path, data)


@pytest.mark.slow
def test_a_failing_run_is_recorded_and_the_rest_finish_then_only_it_is_retried(tmp_path, count_runs):
    path = failing_experiment(tmp_path)
    out_dir = tmp_path / "out"
    code, out, err = run_cli("compare", path, "--workers", "1", "--out", out_dir)
    assert code == 1
    assert "Traceback" not in err
    failed_ids = {"small__city_village__p0000__r000", "small__city_village__p0000__r001"}
    for run_id in failed_ids:
        assert f"run {run_id} failed:" in err
    assert "2 of 6 runs failed" in err and "manifest.json" in err and "retry" in err
    assert "4 runs finished, 2 failed" in out
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    statuses = {run_id: record["status"] for run_id, record in manifest["runs"].items()}
    assert {run_id for run_id, status in statuses.items() if status == "failed"} == failed_ids
    assert {run_id for run_id, status in statuses.items() if status == "finished"} == {
        f"small__{arm}__p0000__r00{r}" for arm in ("baseline", "everything") for r in (0, 1)
    }
    for run_id in failed_ids:
        assert "41 pairs requested" in manifest["runs"][run_id]["error"]
        assert manifest["runs"][run_id]["seconds"] > 0  # building the county takes milliseconds before the pairs fail
    assert ResultsStore(out_dir).finished() == set(statuses) - failed_ids
    assert len(count_runs) == 6
    before = mtimes(out_dir)

    count_runs.clear()
    code, out, err = run_cli("compare", path, "--workers", "1", "--out", out_dir)
    assert code == 1 and "Traceback" not in err
    assert sorted(count_runs) == sorted(failed_ids), "a re-run should retry the failed runs only"
    assert mtimes(out_dir) == before
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert sum(record["status"] == "failed" for record in manifest["runs"].values()) == 2
    assert dot_files(out_dir) == []


def break_arm(monkeypatch, arm: str) -> None:
    """Make every run of ``arm`` raise (in this process), as if it had hit a bug."""
    original = execute.run_one

    def sometimes_broken(spec):
        if spec.arm == arm:
            raise RuntimeError(f"simulated crash in {spec.run_id}")
        return original(spec)

    monkeypatch.setattr(execute, "run_one", sometimes_broken)


@pytest.mark.slow
def test_retried_runs_that_now_succeed_are_marked_finished(tmp_path, monkeypatch):
    path = write_experiment(tmp_path, experiment_data("retry", replications=2))
    out_dir = tmp_path / "out"
    with monkeypatch.context() as patch:
        break_arm(patch, "everything")
        report = run_serially(path, out_dir)
    assert set(report.failed) == {"small__everything__p0000__r000", "small__everything__p0000__r001"}
    assert all("simulated crash" in error for error in report.failed.values())
    before = mtimes(out_dir)

    report = run_serially(path, out_dir)
    assert report.already_done == 4 and report.finished == 2 and not report.failed
    assert {name: t for name, t in mtimes(out_dir).items() if name in before} == before
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert all(record["status"] == "finished" for record in manifest["runs"].values())
    straight = tmp_path / "straight"
    run_serially(path, straight)
    pd.testing.assert_frame_equal(load_results(out_dir), load_results(straight))


def test_retried_runs_that_now_succeed_lose_their_old_error(tmp_path, monkeypatch):
    only_everything = {"arms": {"everything": {"policies": "all"}}, "baseline": False}
    path = write_experiment(tmp_path, experiment_data("retry", replications=1, **only_everything))
    out_dir = tmp_path / "out"
    with monkeypatch.context() as patch:
        break_arm(patch, "everything")
        run_serially(path, out_dir)
    run_serially(path, out_dir)
    record = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))["runs"]["small__everything__p0000__r000"]
    assert record["status"] == "finished"
    assert "error" not in record


@pytest.mark.slow
def test_compare_where_every_run_fails_exits_1_without_traceback(tmp_path):
    data = experiment_data(
        "allfail", replications=1, baseline=False, arms={"broken": {"policies": ["部门+村"], "overrides": BREAKING_OVERRIDE}}
    )
    path = write_experiment(tmp_path, data)
    process = subprocess.run(
        compare_command(path, tmp_path / "out"), check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert process.returncode == 1, process.stderr
    assert "Traceback" not in process.stderr
    assert "failed" in process.stderr


def test_arm_name_with_a_slash_is_refused_or_kept(tmp_path, count_runs):
    data = experiment_data("slash", replications=1, arms={"a/b": {"policies": ["部门+村"]}})
    path = write_experiment(tmp_path, data)
    out_dir = tmp_path / "out"
    code, _out, err = run_cli("compare", path, "--workers", "1", "--out", out_dir, "--quiet")
    if code == 2:  # refused as bad input: fine
        assert f"{path}: arms" in err and "Traceback" not in err
        return
    assert code == 0, err
    assert "a/b" in set(load_results(out_dir)["arm"])
    count_runs.clear()
    assert run_cli("compare", path, "--workers", "1", "--out", out_dir, "--quiet")[0] == 0
    assert count_runs == []


# --------------------------------------------------------------------------- resume, extend, refuse


@pytest.mark.slow  # compare writes the report again (seconds); in the quick run: test_report's resumed experiment finishes 0 runs
def test_rerunning_a_finished_experiment_runs_nothing(reference, tmp_path, count_runs):
    folder = copy_results(reference, tmp_path)
    manifest_before = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    before = mtimes(folder)
    code, out, err = run_cli("compare", reference["path"], "--workers", "1", "--out", folder)
    assert code == 0, err
    assert count_runs == []
    assert mtimes(folder) == before
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["runs"] == manifest_before["runs"]
    assert f"{REFERENCE_RUNS} runs finished, 0 failed, 0 not run" in out
    pd.testing.assert_frame_equal(load_results(folder), reference["results"])


@pytest.mark.slow
def test_more_replications_extend_a_results_folder(reference, tmp_path, count_runs):
    folder = copy_results(reference, tmp_path)
    before = mtimes(folder)
    extended = REFERENCE_REPLICATIONS + 2
    code, _out, err = run_cli(
        "compare", reference["path"], "--workers", "1", "--out", folder, "--quiet", "--replications", extended
    )
    assert code == 0, err
    new_ids = {
        f"small__{arm}__p0000__r{r:03d}"
        for arm in ("baseline", "city_village", "everything")
        for r in range(REFERENCE_REPLICATIONS, extended)
    }
    assert sorted(count_runs) == sorted(new_ids)
    assert {name: t for name, t in mtimes(folder).items() if name in before} == before
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["replications"] == extended
    assert manifest["replication_seeds"][:REFERENCE_REPLICATIONS] == replication_seeds(17, REFERENCE_REPLICATIONS)
    assert len(manifest["runs"]) == 3 * extended and all(r["status"] == "finished" for r in manifest["runs"].values())
    results = load_results(folder)
    old = results[~results["run_id"].isin(new_ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, reference["results"])
    new_seeds = set(results.loc[results["run_id"].isin(new_ids), "seed"])
    assert new_seeds == set(replication_seeds(17, extended)[REFERENCE_REPLICATIONS:])


def test_a_folder_of_a_different_experiment_is_refused(reference, tmp_path):
    folder = copy_results(reference, tmp_path)
    manifest_bytes = (folder / "manifest.json").read_bytes()
    before = mtimes(folder)
    data = yaml.safe_load(reference["path"].read_text(encoding="utf-8"))
    data["seed"] = 18
    other = write_experiment(tmp_path / "other", data)
    code, _out, err = run_cli("compare", other, "--workers", "1", "--out", folder, "--quiet")
    assert code == 2
    assert "Traceback" not in err
    assert "manifest.json" in err and "different" in err
    assert (folder / "manifest.json").read_bytes() == manifest_bytes
    assert mtimes(folder) == before


@pytest.mark.slow
def test_killed_experiment_resumes_to_the_uninterrupted_results(reference, tmp_path):
    out_dir = tmp_path / "killed"
    command = compare_command(reference["path"], out_dir)
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (out_dir / "runs").is_dir() and any(p for p in (out_dir / "runs").glob("*.parquet") if not p.name.startswith(".")):
                break
            if process.poll() is not None:
                pytest.fail(f"compare ended (code {process.returncode}) before it could be killed")
            time.sleep(0.005)
        else:
            pytest.fail("no run was saved within 120 s")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    # what the killed process left is readable: complete runs only, equal to the reference's
    store = ResultsStore(out_dir)
    partial = load_results(out_dir)
    saved = set(partial["run_id"])
    assert saved == store.finished()
    assert 0 < len(saved) <= REFERENCE_RUNS
    expected = reference["results"][reference["results"]["run_id"].isin(saved)].reset_index(drop=True)
    pd.testing.assert_frame_equal(partial, expected)
    manifest = store.read_manifest()  # written atomically: always valid JSON
    assert manifest["identity"] == identity(reference["experiment"])

    finished = subprocess.run(command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr
    final = load_results(out_dir)
    pd.testing.assert_frame_equal(final, reference["results"])
    assert not final.duplicated(["run_id", "year"]).any()
    assert final["run_id"].nunique() == REFERENCE_RUNS
    assert sorted(p.name for p in (out_dir / "runs").glob("*.parquet") if not p.name.startswith(".")) == sorted(
        f"{run_id}.parquet" for run_id in reference["results"]["run_id"].unique()
    )


@pytest.mark.slow
def test_resume_marks_runs_saved_before_a_kill_as_finished(tmp_path):
    path = write_experiment(tmp_path, experiment_data("reconcile", replications=1))
    out_dir = tmp_path / "out"
    run_serially(path, out_dir)
    # The state a SIGKILL between ResultsStore.save_run and the next write_manifest leaves behind:
    store = ResultsStore(out_dir)
    manifest = store.read_manifest()
    manifest["runs"]["small__everything__p0000__r000"] = {
        key: value for key, value in manifest["runs"]["small__everything__p0000__r000"].items() if key != "seconds"
    } | {"status": "pending"}
    store.write_manifest(manifest)
    code, out, err = run_cli("compare", path, "--workers", "1", "--out", out_dir)
    assert code == 0, err
    statuses = {run_id: record["status"] for run_id, record in store.read_manifest()["runs"].items()}
    assert set(statuses.values()) == {"finished"}, statuses
    assert "3 runs finished, 0 failed, 0 not run" in out


# --------------------------------------------------------------------------- Ctrl-C


@pytest.mark.slow
def test_ctrl_c_exits_130_and_the_same_command_resumes(reference, tmp_path):
    out_dir = tmp_path / "interrupted"
    command = compare_command(reference["path"], out_dir)
    # A suite started in the background (`cmd &` in a script) inherits SIGINT ignored, and so would pairsim: handled
    # here while it starts, it reaches pairsim at its default (a handler, unlike "ignored", does not survive exec).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        deadline = time.monotonic() + 60
        while not (out_dir / "manifest.json").is_file():  # runs start right after the manifest is written
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.skip("compare ended or never started before it could be interrupted")
            time.sleep(0.005)
        time.sleep(0.3)
        if process.poll() is not None:
            pytest.skip("compare finished before it could be interrupted")
        os.kill(process.pid, signal.SIGINT)
        _out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "run the same command to resume" in err
    store = ResultsStore(out_dir)
    assert store.read_manifest()["identity"] == identity(reference["experiment"])
    if (out_dir / "runs").is_dir() and store.finished():
        partial = load_results(out_dir)
        expected = reference["results"][reference["results"]["run_id"].isin(set(partial["run_id"]))].reset_index(drop=True)
        pd.testing.assert_frame_equal(partial, expected)

    code, _, err = run_cli("compare", reference["path"], "--workers", "1", "--out", out_dir, "--quiet")
    assert code == 0, err
    pd.testing.assert_frame_equal(load_results(out_dir), reference["results"])
    assert dot_files(out_dir) == []


def interrupt_on_call(monkeypatch, call: int) -> list[str]:
    """Make the ``call``-th run (1-based) raise KeyboardInterrupt, as Ctrl-C during that run would."""
    calls: list[str] = []
    original = execute.run_one

    def run(spec):
        calls.append(spec.run_id)
        if len(calls) == call:
            raise KeyboardInterrupt
        return original(spec)

    monkeypatch.setattr(execute, "run_one", run)
    return calls


@pytest.mark.slow
def test_keyboard_interrupt_in_a_run_reports_interrupted_and_resumes(tmp_path, monkeypatch):
    path = write_experiment(tmp_path, experiment_data("ctrlc", replications=2))
    out_dir = tmp_path / "out"
    with monkeypatch.context() as patch:
        interrupt_on_call(patch, 3)
        report = run_serially(path, out_dir)
    assert report.interrupted
    assert report.total == 6 and report.finished < 6
    assert dot_files(out_dir) == []
    assert ResultsStore(out_dir).read_manifest()["experiment"] == "ctrlc"
    report = run_serially(path, out_dir)
    assert not report.interrupted and report.already_done + report.finished == 6
    straight = tmp_path / "straight"
    run_serially(path, straight)
    pd.testing.assert_frame_equal(load_results(out_dir), load_results(straight))


def test_keyboard_interrupt_stops_a_serial_experiment_at_once(tmp_path, monkeypatch):
    path = write_experiment(tmp_path, experiment_data("ctrlc", replications=2))
    calls = interrupt_on_call(monkeypatch, 3)
    report = run_serially(path, tmp_path / "out")
    assert report.interrupted
    assert len(calls) == 3, f"{len(calls)} runs started; Ctrl-C came during the third"


def test_serial_runs_are_saved_as_they_finish(tmp_path, monkeypatch):
    path = write_experiment(tmp_path, experiment_data("streaming", replications=1))
    events: list[tuple[str, str]] = []
    original_run, original_save = execute.run_safely, ResultsStore.save_run

    def run(spec):
        events.append(("run", spec.run_id))
        return original_run(spec)

    def save(self, run_id, table):
        events.append(("save", run_id))
        return original_save(self, run_id, table)

    monkeypatch.setattr(execute, "run_safely", run)
    monkeypatch.setattr(ResultsStore, "save_run", save)
    run_serially(path, tmp_path / "out")
    assert len(events) == 6  # 3 runs, each run then saved
    assert events[:2] == [("run", events[0][1]), ("save", events[0][1])], events[:4]


# --------------------------------------------------------------------------- summarize and sweep


def test_summarize_prints_paired_differences_and_cost_effectiveness(reference):
    code, out, err = run_cli("summarize", reference["out"])
    assert code == 0, err
    assert f"Experiment resumable: {REFERENCE_RUNS} runs finished, 0 failed, 0 not run; final year 2010" in out
    assert "Final-year difference from the baseline" in out and "paired by replication" in out
    assert "Cost-effectiveness" in out and "Gini reduction" in out
    for arm in ("city_village", "everything"):
        assert arm in out
    assert "95% CI" in out


def test_summarize_without_a_baseline_for_one_scenario_says_so(reference, tmp_path):
    """Half the runs relabelled as a second county whose baseline runs all failed: a note, not a traceback."""
    folder = copy_results(reference, tmp_path)
    for path in sorted((folder / "runs").glob("*.parquet"))[::2]:
        table = pd.read_parquet(path).assign(scenario="other")
        path.unlink()
        if table["arm"].iloc[0] != "baseline":
            table.to_parquet(path, index=False)
    code, out, err = run_cli("summarize", folder)
    assert code == 0 and "Traceback" not in err
    assert "No comparison with the baseline: no baseline arm 'baseline' run for scenario 'other'" in out


def test_summarize_a_folder_without_manifest_is_bad_input(tmp_path):
    (tmp_path / "runs").mkdir()
    for folder in (tmp_path, tmp_path / "missing"):
        code, out, err = run_cli("summarize", folder)
        assert code == 2
        assert "Traceback" not in err
        assert str(folder) in err and "manifest.json" in err
        assert out == ""


MORRIS = {
    "method": "morris",
    "samples": 2,  # trajectories: 2 x (2 parameters + 1) = 6 design points, enough for mu_star and sigma
    "parameters": {
        "pairing.effects.training_gain": {"low": 0.0, "high": 0.3},
        "pairing.failure.leakage": {"low": 0.0, "high": 0.4},
    },
}


@pytest.fixture(scope="module")
def morris_sweep(tmp_path_factory) -> dict[str, Any]:
    """``pairsim sweep exp.yaml`` run from the experiment's folder (a relative path), 6 design points."""
    folder = tmp_path_factory.mktemp("sweep")
    data = experiment_data("morris", replications=1, baseline=False, arms={"all_policies": {"policies": "all"}}, design=MORRIS)
    write_experiment(folder, data)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        code, out, err = run_cli("sweep", "exp.yaml", "--workers", "1", "--out", "results")
    finally:
        os.chdir(previous)
    return {"folder": folder, "out": folder / "results", "code": code, "stdout": out, "stderr": err}


def test_sweep_prints_morris_indices(morris_sweep):
    assert morris_sweep["code"] == 0, morris_sweep["stderr"]
    out = morris_sweep["stdout"]
    assert "6 runs finished, 0 failed" in out
    assert "Sensitivity of final-year Gini (all residents), arm all_policies (morris)" in out
    for column in ("mu_star", "sigma", "pairing.effects.training_gain", "pairing.failure.leakage"):
        assert column in out
    results = load_results(morris_sweep["out"])
    assert sorted(results["point"].unique()) == list(range(6))
    assert {"param:pairing.effects.training_gain", "param:pairing.failure.leakage"} <= set(results.columns)
    assert results["param:pairing.failure.leakage"].between(0.0, 0.4).all()


def test_summarize_a_sweep_from_its_folder_shows_the_indices(morris_sweep, monkeypatch):
    monkeypatch.chdir(morris_sweep["folder"])
    code, out, err = run_cli("summarize", "results")
    assert code == 0, err
    assert "(morris)" in out and "mu_star" in out


def test_summarize_a_sweep_from_another_folder_shows_the_indices(morris_sweep, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("summarize", morris_sweep["out"])
    assert code == 0, err
    assert "(morris)" in out and "mu_star" in out
