"""Run a calibration: waves of history matching on any executor, the posterior, and the posterior check.

Each wave's design is a pure function of the calibration and of the earlier waves' runs (seeded Latin hypercube, then
seeded draws from what the emulators keep), and every run is saved as it ends, so a killed calibration resumes where
it stopped: the same call recomputes each wave's design from the runs on disk, checks it against the one recorded,
and runs only what is missing. Only the targets reach the method's functions; the held-out patterns are scored by
the posterior check and never fitted.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim.calibration.history_matching as hm
from sim.calibration.outputs import (
    CalibrationFiles,
    check_table,
    identifiability_table,
    pattern_table,
    posterior_table,
    summary_text,
    wave_rows,
)
from sim.calibration.spec import PAIRING, Calibration, Statistic, Target, identity
from sim.calibration.statistics import StatisticError, evaluate, horizon_years, outcomes_needed
from sim.errors import InputError
from sim.execute import run_safely, stream_runs
from sim.experiment import BASELINE, RunSpec, file_hash, replication_seeds
from sim.results import ResultsStore
from sim.scenario import load_scenario

KEEP_POLICIES: dict[str, tuple[str, ...] | None] = {PAIRING: None, BASELINE: ()}
"""What each arm keeps of the scenario's policies: all of them, or none."""

RUN_KEYS = ["point", "replication"]
"""What tells a wave's runs apart (an arm's run and its baseline share both)."""

without_graph = partial(run_safely, with_graph=False)
"""A calibration's worker: one run's table, no starting graph (its report draws no network)."""


@dataclass
class CalibrationReport:
    """How a ``run_calibration`` call ended; ``summary`` is the printed summary once the calibration has finished."""

    folder: Path
    total: int = 0
    already_done: int = 0
    finished: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    waves_done: int = 0
    stopped: str | None = None  # why the waves ended without a posterior (no plausible parameter set)
    summary: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.interrupted or self.failed or self.stopped)


@dataclass
class Arrays:
    """The calibration as arrays: parameter names and priors, target names, observations and their variances."""

    calibration: Calibration
    parameters: list[str]
    targets: list[str]
    observed: np.ndarray
    var_obs: np.ndarray

    @classmethod
    def of(cls, calibration: Calibration) -> Arrays:
        targets = list(calibration.targets)
        return cls(
            calibration,
            list(calibration.parameters),
            targets,
            np.array([calibration.targets[name].observed for name in targets]),
            np.array([calibration.targets[name].observation_sd ** 2 for name in targets]),
        )

    def values(self, u: np.ndarray) -> pd.DataFrame:
        """Unit-cube points as parameter values, one column per parameter (each prior's quantile function)."""
        priors = self.calibration.parameters
        return pd.DataFrame({name: priors[name].from_unit(u[:, j]) for j, name in enumerate(self.parameters)})


def rng_for(calibration: Calibration, *purpose: int) -> np.random.Generator:
    """A generator for one purpose (a wave's design, the posterior), from the calibration's seed alone."""
    return np.random.default_rng(np.random.SeedSequence([calibration.seed, *purpose]))


DESIGN, POSTERIOR = 1, 2
"""Purposes of :func:`rng_for`: the design of wave w draws from (DESIGN, w), the posterior from (POSTERIOR,)."""


def run_calibration(
    calibration: Calibration,
    calibration_path: str | Path,
    out_dir: str | Path,
    executor,
    progress: bool = True,
) -> CalibrationReport:
    """Run every wave, the posterior and its check, writing the results folder (docs/CALIBRATION.md lists its files).

    Resumes a folder of the same calibration (same file, settings and scenario); refuses one of another. Stops early,
    writing what exists, when runs fail or are interrupted (the same call retries them) or when the emulators rule
    out every parameter set.
    """
    store = ResultsStore(out_dir)
    files = CalibrationFiles(store.folder)
    manifest = _start_manifest(store, calibration, calibration_path)
    problem = Arrays.of(calibration)
    method = calibration.method
    report = CalibrationReport(store.folder)
    start_year = load_scenario(calibration.scenario).start_year
    statistics = {name: target.statistic for name, target in calibration.targets.items()}
    horizon = horizon_years(statistics.values(), start_year)
    seeds = replication_seeds(calibration.seed, method.seeds)

    u_all = np.empty((0, len(problem.parameters)))
    mean_all = np.empty((0, len(problem.targets)))
    var_all = np.empty((0, len(problem.targets)))
    wave_frames, summaries = [], []
    u = hm.latin_hypercube(method.points_per_wave, len(problem.parameters), rng_for(calibration, DESIGN, 1))
    emulators = None
    for wave in range(1, method.waves + 1):
        _check_design(store, manifest, str(wave), u, f"wave {wave}", "waves.parquet")
        values = problem.values(u)
        specs = [
            RunSpec(
                run_id=f"w{wave}__p{point:04d}__{arm}__r{replication:03d}",
                scenario=calibration.scenario,
                arm=arm,
                point=point,
                replication=replication,
                seed=seed,
                overrides={"horizon_years": horizon, **row},
                keep_policies=KEEP_POLICIES[arm],
                parameters=row,
                outcomes=outcomes_needed(statistics.values()),
            )
            for point, row in enumerate(values.to_dict("records"))
            for arm in calibration.arms
            for replication, seed in enumerate(seeds)
        ]
        if not _run(specs, store, manifest, executor, f"{calibration.name} wave {wave}", progress, report, f"wave {wave}"):
            return report
        per_run = _evaluate(calibration, calibration_path, statistics, _read_runs(store, specs)).reindex(columns=problem.targets)
        grouped = per_run.groupby(level="point")
        mean, var = grouped.mean().to_numpy(), grouped.var(ddof=1).to_numpy()
        u_all, mean_all, var_all = np.vstack([u_all, u]), np.vstack([mean_all, mean]), np.vstack([var_all, var])
        try:
            emulators = hm.fit_emulators(u_all, mean_all, problem.targets, problem.parameters, seed=calibration.seed)
        except hm.TooFewFiniteRuns as few:  # a fault of the file's target, not of the runs: one line, exit 2
            raise InputError.single(
                str(calibration_path),
                f"targets.{few.target}",
                f"only {few.finite} of {few.runs} design points gave a finite value (a relative effect over a baseline of "
                f"0?); its emulator needs {hm.MIN_POINTS}",
            ) from None
        var_stoch = hm.stochastic_variance(var_all, emulators)
        scores = hm.implausibility(mean, np.zeros_like(mean), problem.observed, problem.var_obs, var_stoch)
        wave_frames.append(wave_rows(wave, values, u, problem, mean, var, scores, method.cutoff))
        stopped = None
        try:
            u, nroy = hm.next_wave_points(
                emulators,
                problem.observed,
                problem.var_obs,
                var_stoch,
                method.cutoff,
                method.points_per_wave,
                method.candidates,
                rng_for(calibration, DESIGN, wave + 1),
            )
        except hm.NoPlausibleRegion as none:
            stopped, nroy = str(none), 0.0
        summaries.append(
            {
                "wave": wave,
                "points": len(values),
                "runs": len(specs),
                "plausible_points": int(wave_frames[-1]["plausible"].sum()),
                "nroy_fraction": nroy,
                "cutoff": method.cutoff,
                "seconds": manifest["seconds"].get(f"wave {wave}", 0.0),
            }
        )
        files.write_waves(pd.concat(wave_frames, ignore_index=True), pd.DataFrame(summaries))
        files.write_emulator_diagnostics(emulators)
        manifest["waves_done"] = report.waves_done = wave
        report.notes = list(emulators.notes)
        store.write_manifest(manifest)
        if stopped is not None:
            report.stopped = stopped
            manifest["stopped"] = stopped
            store.write_manifest(manifest)
            return report

    started = time.perf_counter()
    try:
        sample = hm.posterior_sample(
            emulators,
            problem.observed,
            problem.var_obs,
            var_stoch,
            method.cutoff,
            method.posterior_size,
            method.posterior_candidates,
            rng_for(calibration, POSTERIOR),
        )
    except hm.NoPlausibleRegion as none:
        report.stopped = manifest["stopped"] = str(none)
        store.write_manifest(manifest)
        return report
    report.notes.append(sample.note())
    posterior = posterior_table(problem.values(sample.u))
    files.write_posterior(posterior, calibration, sample.ess)
    scales = emulators.length_scales
    identified = hm.identifiability(sample.u, problem.parameters, scales, method.identified_contraction)
    files.write_identifiability(identifiability_table(identified, calibration))
    manifest["seconds"]["posterior"] = round(time.perf_counter() - started, 3)

    check = _posterior_check(calibration, calibration_path, posterior, start_year, store, manifest, executor, progress, report)
    if check is None:
        return report
    files.write_check(check)
    targets = pattern_table(calibration.targets, check, "target")
    validation = pattern_table(calibration.held_out, check, "pattern")
    files.write_patterns(targets, validation)
    manifest["finished"] = True
    manifest["ess"] = sample.ess
    store.write_manifest(manifest)
    report.summary = summary_text(calibration, manifest, files, report.notes)
    files.write_summary(report.summary)
    return report


def _run(
    specs: list[RunSpec],
    store: ResultsStore,
    manifest: dict[str, Any],
    executor,
    desc: str,
    progress: bool,
    report: CalibrationReport,
    stage: str,
) -> bool:
    """Run the unfinished ones of ``specs``; whether all of them are now saved (False: failed or interrupted).

    The time spent running is added to ``manifest["seconds"][stage]`` (a resumed stage adds its remaining runs' time).
    """
    done = store.finished()
    for spec in specs:
        record = manifest["runs"].setdefault(spec.run_id, {"status": "pending"})
        record.update(arm=spec.arm, seed=spec.seed)
        if spec.run_id in done:
            record.pop("error", None)
            record["status"] = "finished"
    todo = [spec for spec in specs if spec.run_id not in done]
    started = time.perf_counter()
    outcome = stream_runs(todo, len(specs), store, manifest, executor, desc=desc, progress=progress, worker=without_graph)
    if todo:
        manifest["seconds"][stage] = round(manifest["seconds"].get(stage, 0.0) + time.perf_counter() - started, 3)
    report.total += outcome.total
    report.already_done += outcome.already_done
    report.finished += outcome.finished
    report.failed.update(outcome.failed)
    report.interrupted = outcome.interrupted
    store.write_manifest(manifest)
    return not (outcome.interrupted or outcome.failed)


def _read_runs(store: ResultsStore, specs: list[RunSpec]) -> pd.DataFrame:
    """The yearly rows of ``specs``' saved runs: their keys, arm, year and the outcomes they report."""
    columns = ["arm", "point", "replication", "year", *dict.fromkeys(outcome for spec in specs for outcome in spec.outcomes)]
    return pd.concat(
        [pd.read_parquet(store.runs / f"{spec.run_id}.parquet", columns=columns) for spec in specs], ignore_index=True
    )


def _evaluate(
    calibration: Calibration, calibration_path: str | Path, statistics: dict[str, Statistic], runs: pd.DataFrame
) -> pd.DataFrame:
    """Each statistic of each run (:func:`~sim.calibration.statistics.evaluate`); a statistic the runs cannot give
    (an outcome they leave undefined) is a fault of the calibration file: one line naming its entry, exit 2."""
    try:
        return evaluate(statistics, runs, RUN_KEYS)
    except StatisticError as error:
        section = "targets" if error.pattern in calibration.targets else "held_out"
        raise InputError.single(str(calibration_path), f"{section}.{error.pattern}", error.message) from None


def _posterior_check(
    calibration: Calibration,
    calibration_path: str | Path,
    posterior: pd.DataFrame,
    start_year: int,
    store: ResultsStore,
    manifest: dict[str, Any],
    executor,
    progress: bool,
    report: CalibrationReport,
) -> pd.DataFrame | None:
    """Run the first ``check_draws`` posterior rows once each, on seeds never used in fitting, and compute every target
    and held-out pattern from them (None when runs failed or were interrupted)."""
    patterns: dict[str, Target] = {**calibration.targets, **calibration.held_out}
    statistics = {name: pattern.statistic for name, pattern in patterns.items()}
    draws = calibration.method.check_draws
    horizon = horizon_years(statistics.values(), start_year)
    parameters = list(calibration.parameters)
    rows = posterior.head(draws)
    specs = [
        RunSpec(
            run_id=f"check__d{draw:04d}__{arm}",
            scenario=calibration.scenario,
            arm=arm,
            point=draw,
            replication=0,
            seed=seed,
            overrides={"horizon_years": horizon, **values},
            keep_policies=KEEP_POLICIES[arm],
            parameters=values,
            outcomes=outcomes_needed(statistics.values()),
        )
        for draw, seed, values in zip(
            rows["draw"], replication_seeds(calibration.seed + 1, draws), rows[parameters].to_dict("records"), strict=True
        )
        for arm in calibration.check_arms
    ]
    _check_design(store, manifest, "check", rows[parameters].to_numpy(float), "the posterior check", "posterior.parquet")
    if not _run(specs, store, manifest, executor, f"{calibration.name} posterior check", progress, report, "check"):
        return None
    simulated = _evaluate(calibration, calibration_path, statistics, _read_runs(store, specs)).droplevel("replication")
    return check_table(rows, parameters, simulated)


def _check_design(store: ResultsStore, manifest: dict[str, Any], stage: str, points: np.ndarray, what: str, table: str) -> None:
    """Record the hash of a stage's design (a wave's unit-cube points, or the posterior check's parameter values)
    before its runs start; refuse a folder whose runs were made with another. Designs and the posterior are recomputed
    on resume, so a change of code or library that changes them must not mix runs made at other parameter values."""
    digest = hashlib.sha256(np.ascontiguousarray(points, dtype=float).tobytes()).hexdigest()
    recorded = manifest["designs"].get(stage)
    if recorded is not None and recorded != digest:
        raise InputError.single(
            str(store.folder),
            table,
            f"{what}'s design differs from the one its saved runs were made with (a different pairsim or library "
            "version?); use another --out folder or delete this one",
        )
    manifest["designs"][stage] = digest
    store.folder.mkdir(parents=True, exist_ok=True)
    store.write_manifest(manifest)


def _start_manifest(store: ResultsStore, calibration: Calibration, calibration_path: str | Path) -> dict[str, Any]:
    """The manifest to keep up to date: refuses a folder of another calibration (or other settings or scenario)."""
    from sim import package_version

    previous = store.read_manifest()
    key = identity(calibration)
    if previous and previous.get("identity") != key:
        what = f"calibration {previous['calibration']!r}" if "calibration" in previous else "an experiment"
        raise InputError.single(
            str(store.folder),
            "manifest.json",
            f"holds results of {what} with other settings, priors, targets or scenario; use another --out folder or delete this one",
        )
    scenario = load_scenario(calibration.scenario)
    manifest = {
        "kind": "calibration",
        "calibration": calibration.name,
        "description": calibration.description,
        "calibration_file": str(Path(calibration_path).resolve()),
        "calibration_sha256": file_hash(calibration_path),
        "identity": key,
        "scenario": calibration.scenario,
        "scenario_name": f"{scenario.name} ({Path(calibration.scenario).name})",
        "scenario_sha256": file_hash(calibration.scenario),
        "seed": calibration.seed,
        "method": calibration.method.model_dump(),
        "parameters": {name: prior.model_dump() for name, prior in calibration.parameters.items()},
        "targets": {name: target.model_dump() for name, target in calibration.targets.items()},
        "held_out": {name: pattern.model_dump() for name, pattern in calibration.held_out.items()},
        "waves_done": previous.get("waves_done", 0),
        "finished": previous.get("finished", False),
        "designs": previous.get("designs", {}),
        "runs": previous.get("runs", {}),
        "seconds": previous.get("seconds", {}),
        "versions": {
            name: package_version(name) for name in ("pairsim", "mesa", "numpy", "pandas", "scipy", "scikit-learn", "pydantic")
        },
    }
    store.folder.mkdir(parents=True, exist_ok=True)
    store.write_manifest(manifest)
    return manifest


__all__ = ["CalibrationReport", "run_calibration"]
