"""The shipped province comparison (experiments/zhejiang_mountain_sea.yaml) through ``pairsim compare``: the process
pool and Dask give the same tables, value for value.

The full province takes minutes a run, so the test runs the shipped experiment's arms on Zhejiang shrunk a hundred
times (every city's villages, households, residents, towns and area, the enterprises, departments, urban block and
pairs), one year and two replications: the same counties, policy and code path, in seconds.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import signal
import threading
import time
import weakref
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import run_cli

from sim import execute
from sim.execute import IDENTIFIERS, SerialExecutor, run_experiment
from sim.experiment import load_experiment, run_specs
from sim.results import load_results

ROOT = Path(__file__).resolve().parent.parent
ZHEJIANG = ROOT / "scenarios" / "zhejiang_2020.yaml"
COMPARISON = ROOT / "experiments" / "zhejiang_mountain_sea.yaml"
SMALL_COMPARISON = ROOT / "experiments" / "small_comparison.yaml"
SHRINK = 100


def shrunk_province(shrink: int = SHRINK) -> dict:
    """Zhejiang 2020 with every count divided by ``shrink``: the same cities, incomes, donors and recipients, at the
    same density of villages (areas shrink too), so the pairing and the enterprises' catchments keep their shape."""
    data = yaml.safe_load(ZHEJIANG.read_text(encoding="utf-8"))
    for county in data["region"]["counties"]:
        villages = county["villages"]
        for key in ("count", "population", "households"):
            villages[key] //= shrink
        county["towns"] = max(1, county["towns"] // shrink)
        county["area_km2"] /= shrink
    data["urban"]["population"] //= shrink
    data["urban"]["sample_households"] //= shrink
    data["enterprises"]["count"] //= shrink
    for department in data["departments"]:
        department["count"] = max(1, department["count"] // shrink)
    for policy in data["pairing"]["policies"]:
        policy["pairs"] //= shrink
    return data


def short_comparison(folder: Path) -> Path:
    """The shipped experiment on the shrunk province, for one year and two replications; returns its file."""
    (folder / "zhejiang_2020.yaml").write_text(yaml.safe_dump(shrunk_province(), allow_unicode=True), encoding="utf-8")
    experiment = yaml.safe_load(COMPARISON.read_text(encoding="utf-8"))
    experiment.update(scenarios=["zhejiang_2020.yaml"], replications=2, horizon_years=1)
    path = folder / COMPARISON.name
    path.write_text(yaml.safe_dump(experiment, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_comparison_runs_the_province_against_no_pairing():
    experiment = load_experiment(COMPARISON)
    assert [Path(path).name for path in experiment.scenarios] == ["zhejiang_2020.yaml"]
    assert list(experiment.all_arms) == ["baseline", "mountain_sea"]
    assert experiment.all_arms["mountain_sea"].policies == ["山海协作"]
    assert experiment.horizon_years == 10 and experiment.replications >= 20


def test_the_shrunk_province_keeps_the_provinces_shape(tmp_path):
    experiment = load_experiment(short_comparison(tmp_path))
    scenario_data = shrunk_province()
    counties = scenario_data["region"]["counties"]
    assert len(counties) == 11 and 190 <= sum(county["villages"]["count"] for county in counties) <= 20_000 // SHRINK
    assert scenario_data["pairing"]["policies"][0]["pairs"] == 1_500 // SHRINK
    assert (experiment.replications, experiment.horizon_years) == (2, 1)


@pytest.mark.slow
def test_the_process_pool_and_dask_give_the_same_province_comparison(tmp_path):
    """About 30 s on the shared 2-core machine: two compares of 4 runs each, a Dask cluster's start and two reports."""
    experiment = short_comparison(tmp_path)
    folders = {"pool": tmp_path / "pool", "dask": tmp_path / "dask"}
    code, _out, err = run_cli("compare", str(experiment), "--workers", "2", "--out", str(folders["pool"]), "--quiet")
    assert code == 0, err
    code, _out, err = run_cli(
        "compare", str(experiment), "--dask", "local", "--workers", "2", "--out", str(folders["dask"]), "--quiet"
    )
    assert code == 0, err

    pool, dask = (load_results(folder) for folder in folders.values())
    assert len(pool) == 2 * 2 * 2  # arms x replications x (start and end of the year)
    assert list(pool.columns) == list(dask.columns) and IDENTIFIERS[0] in pool.columns
    for column in pool.columns:
        pd.testing.assert_series_equal(pool[column], dask[column], check_exact=True, obj=column)
    paired = pool.set_index(["arm", "replication", "year"])["funds_sent_total"].unstack("arm")
    assert (paired["baseline"] == 0).all() and (paired["mountain_sea"].iloc[1::2] > 0).all()

    for name in ("zhejiang_2020__baseline.json", "zhejiang_2020__mountain_sea.json"):
        assert (folders["pool"] / "graphs" / name).read_bytes() == (folders["dask"] / "graphs" / name).read_bytes()
    for folder in folders.values():
        runs = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["runs"]
        assert {record["status"] for record in runs.values()} == {"finished"} and len(runs) == 4


@pytest.mark.parametrize("frees", [True, False])
def test_a_long_run_frees_its_models_before_the_worker_builds_another(monkeypatch, frees):
    """A worker must not build the next province (2.4 GiB) on top of the last one's garbage: the models hold reference
    cycles, so they are freed only by a collection, which a long run asks for (here every run counts as long)."""
    experiment = load_experiment(SMALL_COMPARISON).model_copy(update={"horizon_years": 1, "replications": 1})
    spec = next(spec for spec in run_specs(experiment) if spec.arm == "city_village")
    assert execute.keeps_graph(spec)  # built twice: the run, then its starting graph
    built = []

    def build_model(spec):
        model = original_build(spec)
        built.append(weakref.ref(model))
        return model

    original_build = execute.build_model
    monkeypatch.setattr(execute, "build_model", build_model)
    monkeypatch.setattr(execute, "LARGE_RUN_SECONDS", 0.0 if frees else float("inf"))
    gc.disable()  # no collection but the run's own
    try:
        outcome = execute.run_safely(spec)
        alive = [model() is not None for model in built]
    finally:
        gc.enable()
        gc.collect()
    assert outcome.error is None and outcome.starting_graph is not None and len(built) == 2
    assert alive == [not frees, not frees]


@pytest.mark.slow
def test_a_killed_worker_fails_its_runs_in_one_line_and_the_same_command_finishes_them(tmp_path):
    """A province run needs 2.4 GiB: too many workers and the kernel kills one, which breaks a process pool. The runs
    lost with it are recorded as failed, with a hint, instead of a traceback; a second call runs them. About 10 s."""
    path = short_comparison(tmp_path)
    experiment, out = load_experiment(path), tmp_path / "out"
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"))

    def kill_the_worker_after_the_first_run() -> None:
        deadline = time.monotonic() + 120
        while not list((out / "runs").glob("*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.01)
        for process in list(pool._processes.values()):  # as the kernel's out-of-memory killer would
            os.kill(process.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker_after_the_first_run, daemon=True)
    killer.start()
    try:
        report = run_experiment(experiment, path, out, pool, progress=False)
    finally:
        pool.shutdown()
    killer.join()
    assert not report.interrupted and report.finished >= 1 and report.failed
    assert report.finished + len(report.failed) == report.total == 4
    for error in report.failed.values():
        assert error.startswith("its worker process died (BrokenProcessPool") and "use fewer --workers" in error
        assert "\n" not in error
    runs = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["runs"]
    assert {run_id for run_id, record in runs.items() if record["status"] == "failed"} == set(report.failed)

    again = run_experiment(experiment, path, out, SerialExecutor(), progress=False)
    assert (again.already_done, again.finished, again.failed) == (report.finished, len(report.failed), {})
    assert len(load_results(out)) == 4 * 2
