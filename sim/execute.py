"""Run an experiment's runs on any ``concurrent.futures.Executor`` and stream their results to disk.

The same code path serves one process, a local process pool and a Dask
cluster (``distributed.Client.get_executor()``): each run is a pure function of
its :class:`~sim.experiment.RunSpec`, so results are identical whichever way
they ran. Finished runs are written as they arrive; a failed run is recorded
with its error while the rest go on; Ctrl-C stops cleanly and the same command
resumes. Replication 0 of each scenario and arm also brings back the pairing
graph it started with, which is saved beside the results for the report.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
from tqdm import tqdm

from sim import package_version
from sim.analysis import RECIPIENT_CLASSES, funds_by_donor_kind
from sim.errors import InputError
from sim.experiment import CUMULATIVE_FLOWS, Experiment, RunSpec, experiment_seeds, file_hash, run_specs, scenario_overrides
from sim.model import PairingModel
from sim.pairing.registry import donor_kinds
from sim.results import ResultsStore, StartingGraph
from sim.scenario import load_scenario

IDENTIFIERS = ["run_id", "scenario", "arm", "point", "replication", "seed", "year", "step"]


def funds_by_kind_columns() -> dict[tuple[str, str], str]:
    """Funds sent since the start by each kind of donor to each class of recipient (the report's Sankey); 0 for the baseline.

    Read from the donor-kind registry when called, so a kind registered after this module was imported has its columns.
    """
    return {
        (kind, recipient): f"funds_sent_total:{kind}:{recipient}" for kind in donor_kinds() for recipient in RECIPIENT_CLASSES
    }


def build_model(spec: RunSpec) -> PairingModel:
    """The model of one run, built but not stepped (runs are deterministic, so building it again gives the same start)."""
    scenario = load_scenario(spec.scenario)
    overrides = scenario_overrides(scenario, spec.keep_policies, spec.overrides)
    return PairingModel(scenario=scenario, rng=spec.seed, overrides=overrides)


def run_to_end(spec: RunSpec) -> tuple[PairingModel, pd.DataFrame]:
    """Build and run one spec's model; returns it and its monthly outcomes with the running totals of
    :data:`~sim.experiment.CUMULATIVE_FLOWS` (what both an experiment's run and an audit's run start from)."""
    model = build_model(spec)
    model.run_model()
    monthly = model.model_dataframe()
    for flow, total in CUMULATIVE_FLOWS.items():
        monthly[total] = monthly[flow].cumsum()
    return model, monthly


def run_one(spec: RunSpec) -> pd.DataFrame:
    """Run one replication and return its yearly rows: identifiers, parameters, outcomes and flow totals."""
    model, monthly = run_to_end(spec)
    yearly = monthly[monthly["month"] == 0].reset_index(drop=True)
    table = pd.DataFrame(
        {
            "run_id": spec.run_id,
            "scenario": Path(spec.scenario).stem,
            "arm": spec.arm,
            "point": spec.point,
            "replication": spec.replication,
            "seed": spec.seed,
            "year": yearly["year"].astype(int),
            "step": yearly["step"].astype(int),
        }
    )
    for name, value in spec.parameters.items():
        table[f"param:{name}"] = value
    table = table.assign(draw=spec.draw) if spec.draw is not None else table  # a posterior experiment's draw
    for outcome in [*spec.outcomes, *CUMULATIVE_FLOWS.values()]:
        table[outcome] = yearly[outcome].astype(float)
    return pd.concat([table, _funds_by_kind_totals(model, table["step"])], axis=1)


def _funds_by_kind_totals(model: PairingModel, steps: pd.Series) -> pd.DataFrame:
    """:func:`funds_by_kind_columns` at each of ``steps``: a fixed set of columns, so every run's file has one schema."""
    programme = model.pairing
    funds = funds_by_donor_kind(programme.ledger.frame(programme.policy_labels), programme.link_table())
    by_step = funds.pivot_table(index="step", columns=["donor_kind", "recipient"], values="sent", aggfunc="sum")
    columns = funds_by_kind_columns()
    by_step = by_step.reindex(columns=pd.MultiIndex.from_tuples(list(columns)), fill_value=0.0).fillna(0.0)
    totals = by_step.cumsum().reindex(pd.RangeIndex(int(steps.max()) + 1)).ffill().fillna(0.0)
    totals.columns = list(columns.values())
    return totals.loc[steps.to_numpy()].reset_index(drop=True)


def keeps_graph(spec: RunSpec) -> bool:
    """Whether a run brings back the pairing graph it starts with: one run per scenario and arm does."""
    return spec.point == 0 and spec.replication == 0


def starting_graph(spec: RunSpec) -> StartingGraph:
    """The pairing graph ``spec``'s run starts with (pairing established at step 0, no month run yet), and its links'
    planned funds. Built again after the run rather than kept from it, so :func:`run_one` stays one plain function; the
    same spec always builds the same model, and building is a small part of a run."""
    programme = build_model(spec).pairing
    graph_json = json.dumps(nx.node_link_data(programme.graph, edges="links"), ensure_ascii=False, indent=1)
    return StartingGraph(graph_json, programme.link_table().assign(planned_funds=programme.links.planned["funds"]))


@dataclass
class RunOutcome:
    """What came back from one run: its table (and starting graph, see :func:`keeps_graph`), or the error that stopped it.

    The worker brings the graph back instead of writing it, so only the main process writes into the results folder
    (a Dask worker may not see it at all)."""

    run_id: str
    seconds: float
    table: pd.DataFrame | None = None
    error: str | None = None
    starting_graph: StartingGraph | None = None


def run_safely(spec: RunSpec, with_graph: bool = True) -> RunOutcome:
    """Run one spec in a worker; an exception becomes a recorded error instead of stopping the experiment.

    ``with_graph=False`` never brings back a starting graph (a calibration draws no network, see :func:`keeps_graph`).
    """
    started = time.perf_counter()
    try:
        table = run_one(spec)
        start = None
        if with_graph and keeps_graph(spec):
            free_finished_models(started)  # before the starting graph builds the model again
            start = starting_graph(spec)
    except Exception as exc:  # noqa: BLE001 - any failure of one run is recorded, the rest go on
        return RunOutcome(spec.run_id, time.perf_counter() - started, error=error_message(exc))
    finally:
        free_finished_models(started)  # before this worker's next run builds one
    return RunOutcome(spec.run_id, time.perf_counter() - started, table=table, starting_graph=start)


def error_message(exc: BaseException) -> str:
    """A failed run's recorded error: the exception's type and message, without the traceback."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


LARGE_RUN_SECONDS = 5.0
"""A run this long may have held a large model (Zhejiang's takes 20-30 s to build alone); a full garbage collection,
about 0.1 s in a worker, is then worth its time, and on a run of small.yaml (0.2-0.5 s) it would not be."""


def free_finished_models(started: float) -> None:
    """Free the models of finished runs now, so a worker holds one large model at a time (``started``: when this run
    began, by ``time.perf_counter``; short runs skip it, see :data:`LARGE_RUN_SECONDS`).

    A model's agents and the model point at each other, so only Python's cycle collector frees it, and that runs by
    counts of Python objects, not by the gigabytes of arrays they hold: without this, one process running two Zhejiang
    runs in a row peaked at 3.9 GiB instead of 2.4 (the second build on top of the first model's garbage).
    """
    if time.perf_counter() - started >= LARGE_RUN_SECONDS:
        gc.collect()


def lost_worker(exc: BaseException) -> str:
    """The recorded error of a run whose worker process died, so it never reported back (one line)."""
    cause = f"{type(exc).__name__}: {exc}".strip().rstrip(":").splitlines()[0]
    return (
        f"its worker process died ({cause}); a worker killed for lack of memory is the usual cause: "
        "each run of a large scenario needs its own memory, so use fewer --workers"
    )


@dataclass
class ExperimentReport:
    """How an experiment call ended."""

    total: int
    already_done: int
    finished: int
    failed: dict[str, str]
    interrupted: bool


def identity(experiment: Experiment) -> str:
    """Hash of everything that makes results comparable: the experiment without its replication count (nor its
    discovery settings).

    A results folder made with fewer replications can be extended; one made
    from a different experiment cannot be mixed into.
    """
    # discovery only reads the results, so changing it never changes which runs a folder holds
    data = experiment.model_dump(
        exclude={
            "replications",
            "discovery",
            *(["parameters"] if experiment.parameters is None else []),
            *(["seeds"] if experiment.seeds is None else []),
        }
    )
    data["scenarios"] = [file_hash(path) for path in experiment.scenarios]
    if experiment.parameters is not None:  # the posterior's contents, not where it lies
        data["parameters"]["posterior"] = file_hash(experiment.parameters.posterior)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def run_experiment(
    experiment: Experiment,
    experiment_path: str | Path,
    out_dir: str | Path,
    executor: Executor,
    progress: bool = True,
    max_pending: int = 32,
) -> ExperimentReport:
    """Run every unfinished run of ``experiment`` on ``executor``, writing results into ``out_dir``.

    A run counts as unfinished without its Parquet file, or, when it keeps a graph, without its saved graph (a folder
    from a version that saved none gets them on the next call). The graph is saved before the run's file, so a run
    killed in between is simply run again. A run whose worker process died (one killed for lack of memory) fails with
    a hint; a process pool that lost a worker takes no more runs, so the runs not yet finished fail with it, and the
    same call runs them again.
    """
    store = ResultsStore(out_dir)
    specs = run_specs(experiment)
    manifest = _start_manifest(store, experiment, experiment_path, specs)
    done = store.finished()
    todo = [
        spec
        for spec in specs
        if spec.run_id not in done or (keeps_graph(spec) and not store.has_graph(Path(spec.scenario).stem, spec.arm))
    ]
    return stream_runs(
        todo, len(specs), store, manifest, executor, desc=experiment.name, progress=progress, max_pending=max_pending
    )


def stream_runs(
    todo: list[RunSpec],
    total: int,
    store: ResultsStore,
    manifest: dict[str, Any],
    executor: Executor,
    desc: str,
    progress: bool = True,
    max_pending: int = 32,
    worker: Callable[[RunSpec], RunOutcome] | None = None,
) -> ExperimentReport:
    """Run ``todo`` (the unfinished ones of ``total`` runs) on ``executor``, saving each run into ``store`` as it ends.

    ``manifest["runs"][run_id]`` gets each run's status, seconds and error, and the manifest is rewritten after each
    batch, so a killed call loses nothing saved. ``worker`` runs one spec in a worker and must be picklable (default:
    :func:`run_safely`, looked up when called). Shared by experiments and calibrations: only this, the main process,
    writes files.
    """
    worker = worker or run_safely
    failed: dict[str, str] = {}
    finished = 0
    bar = tqdm(total=total, initial=total - len(todo), unit="run", desc=desc, disable=not progress, mininterval=0.5)
    waiting = iter(todo)
    pending: dict[Future, RunSpec] = {}
    broken: str | None = None  # why the executor takes no more runs (a process pool whose worker was killed)

    def top_up() -> None:
        """Keep at most ``max_pending`` runs submitted: results stream out, memory stays flat.

        Stops early once a result is ready to save, so an executor that runs each
        submission at once (``--workers 1``) saves every run as soon as it ends.
        """
        nonlocal broken
        for spec in waiting:
            try:
                future = executor.submit(worker, spec)
            except BrokenExecutor as exc:
                broken = lost_worker(exc)
                record_failure(spec.run_id, broken)
                return
            pending[future] = spec
            if len(pending) >= max_pending or future.done():
                return

    def record_failure(run_id: str, error: str) -> None:
        manifest["runs"][run_id].update(status="failed", error=error)
        failed[run_id] = error
        bar.update()

    try:
        top_up()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                spec = pending.pop(future)
                try:
                    outcome: RunOutcome = future.result()
                except Exception as exc:  # noqa: BLE001 - run_safely reports a run's own errors: its worker died
                    error = lost_worker(exc)
                    if isinstance(exc, BrokenExecutor):
                        broken = broken or error
                    outcome = RunOutcome(spec.run_id, 0.0, error=error)
                record = manifest["runs"][outcome.run_id]
                record.pop("error", None)
                record.update(status="failed" if outcome.error else "finished", seconds=round(outcome.seconds, 3))
                if outcome.error:
                    failed[outcome.run_id] = record["error"] = outcome.error
                else:
                    if outcome.starting_graph is not None:
                        store.save_graph(Path(spec.scenario).stem, spec.arm, outcome.starting_graph)
                    store.save_run(outcome.run_id, outcome.table)
                    finished += 1
                bar.update()
                bar.set_postfix(failed=len(failed), refresh=False)
            store.write_manifest(manifest)
            if broken is None:
                top_up()
        if broken is not None:  # the runs never submitted fail with the ones that were lost; the same command retries all
            for spec in waiting:
                record_failure(spec.run_id, broken)
            store.write_manifest(manifest)
    except KeyboardInterrupt:
        for future in pending:
            future.cancel()
        store.write_manifest(manifest)
        return ExperimentReport(total, total - len(todo), finished, failed, interrupted=True)
    finally:
        bar.close()
    return ExperimentReport(total, total - len(todo), finished, failed, interrupted=False)


def run_stage(
    specs: list[Any],
    store: ResultsStore,
    manifest: dict[str, Any],
    executor: Executor,
    desc: str,
    stage: str,
    progress: bool,
    worker: Callable[[Any], RunOutcome],
) -> ExperimentReport:
    """Run the unfinished ones of ``specs``, one stage of a calibration or an optimisation (each spec has a ``run_id``,
    an ``arm`` and a ``seed``): the manifest records every run of the stage, and the seconds spent running are added to
    ``manifest["seconds"][stage]`` (a resumed stage adds its remaining runs' time)."""
    done = store.finished()
    for spec in specs:
        record = manifest["runs"].setdefault(spec.run_id, {"status": "pending"})
        record.update(arm=spec.arm, seed=spec.seed)
        if spec.run_id in done:
            record.pop("error", None)
            record["status"] = "finished"
    todo = [spec for spec in specs if spec.run_id not in done]
    started = time.perf_counter()
    outcome = stream_runs(todo, len(specs), store, manifest, executor, desc=desc, progress=progress, worker=worker)
    if todo:
        manifest["seconds"][stage] = round(manifest["seconds"].get(stage, 0.0) + time.perf_counter() - started, 3)
    store.write_manifest(manifest)
    return outcome


@dataclass
class StagedReport:
    """How a call of a command that runs in stages (a calibration, an optimisation) ended: its runs, counted over every
    stage it reached, and ``summary``, the printed summary once it has finished."""

    folder: Path
    total: int = 0
    already_done: int = 0
    finished: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    summary: str = ""

    @property
    def complete(self) -> bool:
        return not (self.interrupted or self.failed)

    def add_stage(self, stage: ExperimentReport) -> bool:
        """Add a stage's counts; whether every run of the stage is saved."""
        self.total += stage.total
        self.already_done += stage.already_done
        self.finished += stage.finished
        self.failed.update(stage.failed)
        self.interrupted = stage.interrupted
        return not (stage.interrupted or stage.failed)


def _start_manifest(
    store: ResultsStore, experiment: Experiment, experiment_path: str | Path, specs: list[RunSpec]
) -> dict[str, Any]:
    """The manifest to keep up to date: refuses to mix two different experiments in one folder."""
    previous = store.read_manifest()
    key = identity(experiment)
    if previous and previous.get("identity") != key:
        what = (
            f"calibration {previous.get('calibration')!r} (pairsim calibrate)"
            if previous.get("kind") == "calibration"
            else f"a different version of experiment {previous.get('experiment')!r}"
        )
        raise InputError.single(
            str(store.folder), "manifest.json", f"holds results of {what}; use another --out folder or delete this one"
        )
    runs = previous.get("runs", {})
    on_disk = store.finished()
    for spec in specs:
        record = runs.setdefault(spec.run_id, {"status": "pending"})
        record.update(
            {
                "arm": spec.arm,
                "scenario": Path(spec.scenario).stem,
                "point": spec.point,
                "replication": spec.replication,
                "seed": spec.seed,
            }
        )
        if spec.run_id in on_disk and record["status"] != "finished":  # saved just before a kill, not yet in the manifest
            record.pop("error", None)
            record["status"] = "finished"
    manifest = {
        "experiment": experiment.name,
        "experiment_file": str(Path(experiment_path).resolve()),
        "design": experiment.design.model_dump() if experiment.design is not None else None,
        "discovery": experiment.discovery.model_dump() if experiment.discovery is not None else None,  # pairsim discover
        **_posterior_entry(experiment),
        "experiment_sha256": file_hash(experiment_path),
        "identity": key,
        "scenarios": {str(path): file_hash(path) for path in experiment.scenarios},
        # What the report shows of the inputs, kept here so that it never reads files that may have changed since.
        "description": experiment.description or "",
        "scenario_names": {str(path): f"{load_scenario(path).name} ({Path(path).name})" for path in experiment.scenarios},
        "seed": experiment.seed,
        "replications": experiment.replications,
        "replication_seeds": experiment_seeds(experiment),
        "versions": {
            name: package_version(name) for name in ("pairsim", "mesa", "numpy", "pandas", "pydantic", "networkx", "SALib")
        },
        "runs": runs,
        "graphs": [  # run order; the report draws the graph of the arm with the most policies
            {
                "run_id": spec.run_id,
                "scenario": Path(spec.scenario).stem,
                "arm": spec.arm,
                "policies": "all" if spec.keep_policies is None else list(spec.keep_policies),
            }
            for spec in specs
            if keeps_graph(spec)
        ],
    }
    store.folder.mkdir(parents=True, exist_ok=True)
    store.write_manifest(manifest)
    return manifest


def _posterior_entry(experiment: Experiment) -> dict[str, Any]:
    """The manifest's record of the posterior an experiment draws its parameters from (nothing without one)."""
    if experiment.parameters is None:
        return {}
    draws = experiment.parameters.draws
    return {
        "posterior": {
            "file": experiment.parameters.posterior,
            "sha256": file_hash(experiment.parameters.posterior),
            "draws": draws,
            "seeds_per_draw": experiment.replications // draws,
        }
    }


class SerialExecutor(Executor):
    """Runs each submission at once in this process (``--workers 1``; also handy in tests)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - delivered through the future, like a pool; Ctrl-C is not caught
            future.set_exception(exc)
        return future


@contextmanager
def make_executor(workers: int | None = None, dask: str | None = None) -> Iterable[Executor]:
    """A process pool of ``workers`` (default: all cores), the current process (1), or a Dask cluster.

    ``dask`` is a scheduler address (``tcp://host:8786``) or ``"local"`` to start
    a ``LocalCluster`` with ``workers`` single-threaded worker processes.
    """
    if dask is not None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError.single("--dask", "", "needs the Dask extra: pip install '.[dask]'") from None
        cluster = (
            LocalCluster(n_workers=workers or None, threads_per_worker=1, processes=True, dashboard_address=None)
            if dask == "local"
            else None
        )
        client = Client(cluster if cluster is not None else dask)
        try:
            yield client.get_executor()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    elif workers == 1:
        yield SerialExecutor()
    else:
        # forkserver, not fork: forking a process that already runs threads (tqdm's monitor, Dask) can deadlock
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            yield pool
