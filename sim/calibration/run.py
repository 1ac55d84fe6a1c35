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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim.calibration.history_matching as hm
from sim import package_version
from sim.calibration.outputs import (
    CalibrationFiles,
    check_table,
    identifiability_table,
    pattern_table,
    posterior_table,
    summary_text,
    wave_rows,
)
from sim.calibration.spec import KEEP_POLICIES, Calibration, Statistic, Target, identity
from sim.calibration.statistics import StatisticError, evaluate, horizon_years, outcomes_needed
from sim.errors import InputError
from sim.execute import StagedReport, run_safely, run_stage
from sim.experiment import RunSpec, file_hash, replication_seeds
from sim.results import ResultsStore
from sim.scenario import load_scenario

RUN_KEYS = ["point", "replication"]
"""What tells a wave's runs apart (an arm's run and its baseline share both)."""

without_graph = partial(run_safely, with_graph=False)
"""A calibration's worker: one run's table, no starting graph (its report draws no network)."""


@dataclass
class CalibrationReport(StagedReport):
    """How a ``run_calibration`` call ended; ``summary`` is the printed summary once the calibration has finished."""

    waves_done: int = 0
    stopped: str | None = None  # why the waves ended without a posterior (no plausible parameter set)
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

    Resumes a folder of the same calibration (same runs and fit: :func:`~sim.calibration.spec.identity`); refuses one
    of another. Stops early, writing what exists, when runs fail or are interrupted (the same call retries them) or
    when the emulators rule out every parameter set.
    """
    stages = Stages(calibration, calibration_path, ResultsStore(out_dir), executor, progress)
    fit = stages.waves()
    posterior = stages.posterior(fit) if fit is not None else None
    check = stages.posterior_check(posterior.table) if posterior is not None else None
    if check is not None:
        stages.finish(check, posterior.ess)
    return stages.report


@dataclass(frozen=True)
class RunPlan:
    """What every run of one stage shares: the scenario, the horizon its statistics need, the outcomes they read."""

    scenario: str
    horizon: int
    outcomes: tuple[str, ...]

    @classmethod
    def of(cls, calibration: Calibration, statistics: Mapping[str, Statistic], start_year: int) -> RunPlan:
        return cls(calibration.scenario, horizon_years(statistics.values(), start_year), outcomes_needed(statistics.values()))

    def spec(self, run_id: str, arm: str, point: int, replication: int, seed: int, values: dict[str, Any]) -> RunSpec:
        """One run at parameter ``values``: they override the scenario and are recorded as the run's parameters."""
        return RunSpec(
            run_id=run_id,
            scenario=self.scenario,
            arm=arm,
            point=point,
            replication=replication,
            seed=seed,
            overrides={"horizon_years": self.horizon, **values},
            keep_policies=KEEP_POLICIES[arm],
            parameters=values,
            outcomes=self.outcomes,
        )


@dataclass
class Fit:
    """What the waves leave for the posterior: the last wave's emulators and each target's run-to-run variance."""

    emulators: hm.Emulators
    var_stoch: np.ndarray


@dataclass
class Posterior:
    """posterior.parquet's rows and the effective sample size of the importance sample they were drawn from."""

    table: pd.DataFrame
    ess: float


@dataclass
class History:
    """Every design point run so far (unit-cube point, per-target mean and within-point variance) and the rows of
    waves.parquet and wave_summary.csv: each wave's emulators are fitted on all of it."""

    u: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    wave_rows: list[pd.DataFrame] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def empty(cls, parameters: int, targets: int) -> History:
        return cls(np.empty((0, parameters)), np.empty((0, targets)), np.empty((0, targets)))

    def add(self, u: np.ndarray, mean: np.ndarray, var: np.ndarray) -> None:
        self.u, self.mean, self.var = np.vstack([self.u, u]), np.vstack([self.mean, mean]), np.vstack([self.var, var])


class Stages:
    """One ``run_calibration`` call, stage by stage: the waves, the posterior, the posterior check, the summary.

    Holds what every stage reads and updates (the calibration as arrays, the folder, its manifest, the executor and
    the report), so each stage is a short method and the manifest is written in one place.
    """

    def __init__(self, calibration: Calibration, calibration_path: str | Path, store: ResultsStore, executor, progress: bool):
        self.calibration = calibration
        self.calibration_path = calibration_path
        self.store = store
        self.files = CalibrationFiles(store.folder)
        self.manifest = _start_manifest(store, calibration, calibration_path)
        self.problem = Arrays.of(calibration)
        self.executor = executor
        self.progress = progress
        self.report = CalibrationReport(store.folder)
        self.start_year = load_scenario(calibration.scenario).start_year

    def waves(self) -> Fit | None:
        """Run the waves, each at the points the previous wave's emulators keep; the last wave's fit, or None when
        runs failed or were interrupted, or every parameter set was ruled out (``report.stopped`` says why)."""
        calibration, problem, method = self.calibration, self.problem, self.calibration.method
        history = History.empty(len(problem.parameters), len(problem.targets))
        u = hm.latin_hypercube(method.points_per_wave, len(problem.parameters), rng_for(calibration, DESIGN, 1))
        fit = None
        for wave in range(1, method.waves + 1):
            simulated = self._run_wave(wave, u)
            if simulated is None:
                return None
            mean, var = simulated
            history.add(u, mean, var)
            fit = self._fit(history)
            scores = hm.implausibility(mean, np.zeros_like(mean), problem.observed, problem.var_obs, fit.var_stoch)
            history.wave_rows.append(wave_rows(wave, problem.values(u), u, problem, mean, var, scores, method.cutoff))
            stopped = None
            try:
                next_u, nroy = hm.next_wave_points(
                    fit.emulators,
                    problem.observed,
                    problem.var_obs,
                    fit.var_stoch,
                    method.cutoff,
                    method.points_per_wave,
                    method.candidates,
                    rng_for(calibration, DESIGN, wave + 1),
                )
            except hm.NoPlausibleRegion as none:
                stopped, nroy = str(none), 0.0
            self._record_wave(wave, len(u), history, fit, nroy)
            if stopped is not None:
                self._stop(stopped)
                return None
            u = next_u
        return fit

    def _run_wave(self, wave: int, u: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Run one wave's design, every point with the same seeds; each target's mean and within-point variance per
        point (None when runs failed or were interrupted)."""
        calibration = self.calibration
        _check_design(self.store, self.manifest, str(wave), u, f"wave {wave}", "waves.parquet")
        statistics = {name: target.statistic for name, target in calibration.targets.items()}
        plan = RunPlan.of(calibration, statistics, self.start_year)
        seeds = replication_seeds(calibration.seed, calibration.method.seeds)
        specs = [
            plan.spec(f"w{wave}__p{point:04d}__{arm}__r{replication:03d}", arm, point, replication, seed, row)
            for point, row in enumerate(self.problem.values(u).to_dict("records"))
            for arm in calibration.arms
            for replication, seed in enumerate(seeds)
        ]
        if not self._run(specs, f"{calibration.name} wave {wave}", f"wave {wave}"):
            return None
        grouped = self._evaluate(statistics, specs).reindex(columns=self.problem.targets).groupby(level="point")
        return grouped.mean().to_numpy(), grouped.var(ddof=1).to_numpy()

    def _fit(self, history: History) -> Fit:
        """Emulators fitted on every point so far, and the run-to-run variance they are judged with."""
        try:
            emulators = hm.fit_emulators(
                history.u, history.mean, self.problem.targets, self.problem.parameters, seed=self.calibration.seed
            )
        except hm.TooFewFiniteRuns as few:  # a fault of the file's target, not of the runs: one line, exit 2
            raise InputError.single(
                str(self.calibration_path),
                f"targets.{few.target}",
                f"only {few.finite} of {few.runs} design points gave a finite value (a relative effect over a baseline of "
                f"0?); its emulator needs {hm.MIN_POINTS}",
            ) from None
        return Fit(emulators, hm.stochastic_variance(history.var, emulators))

    def _record_wave(self, wave: int, points: int, history: History, fit: Fit, nroy: float) -> None:
        """Write the waves so far and the emulators' diagnostics, and mark the wave done (a resumed call redoes its fit
        from the saved runs, so nothing of the fit itself needs keeping)."""
        method = self.calibration.method
        history.summaries.append(
            {
                "wave": wave,
                "points": points,
                "runs": points * len(self.calibration.arms) * method.seeds,
                "plausible_points": int(history.wave_rows[-1]["plausible"].sum()),
                "nroy_fraction": nroy,
                "cutoff": method.cutoff,
                "seconds": self.manifest["seconds"].get(f"wave {wave}", 0.0),
            }
        )
        self.files.write_waves(pd.concat(history.wave_rows, ignore_index=True), pd.DataFrame(history.summaries))
        self.files.write_emulator_diagnostics(fit.emulators)
        self.manifest["waves_done"] = self.report.waves_done = wave
        self.report.notes = list(fit.emulators.notes)
        self.store.write_manifest(self.manifest)

    def posterior(self, fit: Fit) -> Posterior | None:
        """Importance-sample the last emulators into posterior.parquet and judge each parameter's identifiability;
        None when no candidate is plausible (``report.stopped`` says so)."""
        problem, method = self.problem, self.calibration.method
        started = time.perf_counter()
        try:
            sample = hm.posterior_sample(
                fit.emulators,
                problem.observed,
                problem.var_obs,
                fit.var_stoch,
                method.cutoff,
                method.posterior_size,
                method.posterior_candidates,
                rng_for(self.calibration, POSTERIOR),
            )
        except hm.NoPlausibleRegion as none:
            self._stop(str(none))
            return None
        self.report.notes.append(sample.note())
        table = posterior_table(problem.values(sample.u))
        self.files.write_posterior(table, self.calibration, sample.ess)
        identified = hm.identifiability(sample.u, problem.parameters, fit.emulators.length_scales, method.identified_contraction)
        self.files.write_identifiability(identifiability_table(identified, self.calibration))
        self.manifest["seconds"]["posterior"] = round(time.perf_counter() - started, 3)
        return Posterior(table, sample.ess)

    def posterior_check(self, posterior: pd.DataFrame) -> pd.DataFrame | None:
        """Run the first ``check_draws`` posterior rows once each, on seeds never used in fitting, and compute every
        target and held-out pattern from them: the simulator's own answer, not the emulators' (None when runs failed
        or were interrupted)."""
        calibration = self.calibration
        patterns: dict[str, Target] = {**calibration.targets, **calibration.held_out}
        statistics = {name: pattern.statistic for name, pattern in patterns.items()}
        plan = RunPlan.of(calibration, statistics, self.start_year)
        draws = calibration.method.check_draws
        parameters = list(calibration.parameters)
        rows = posterior.head(draws)
        seeds = replication_seeds(calibration.seed + 1, draws)
        specs = [
            plan.spec(f"check__d{draw:04d}__{arm}", arm, draw, 0, seed, values)
            for draw, seed, values in zip(rows["draw"], seeds, rows[parameters].to_dict("records"), strict=True)
            for arm in calibration.check_arms
        ]
        _check_design(
            self.store, self.manifest, "check", rows[parameters].to_numpy(float), "the posterior check", "posterior.parquet"
        )
        if not self._run(specs, f"{calibration.name} posterior check", "check"):
            return None
        return check_table(rows, parameters, self._evaluate(statistics, specs).droplevel("replication"))

    def finish(self, check: pd.DataFrame, ess: float) -> None:
        """Score the targets and held-out patterns from the check runs, and write the summary. Done on every call that
        gets this far, a rerun of a finished folder included, so edited held-out values or sources show at once."""
        calibration = self.calibration
        self.files.write_check(check)
        targets, target_notes = pattern_table(calibration.targets, check, "target")
        validation, validation_notes = pattern_table(calibration.held_out, check, "pattern")
        self.report.notes += target_notes + validation_notes
        self.files.write_patterns(targets, validation)
        self.manifest["finished"] = True
        self.manifest["ess"] = ess
        self.store.write_manifest(self.manifest)
        self.report.summary = summary_text(calibration, self.manifest, self.files, self.report.notes)
        self.files.write_summary(self.report.summary)

    def _stop(self, reason: str) -> None:
        """End without a posterior: no parameter set reproduces the targets. What the waves wrote stays."""
        self.report.stopped = self.manifest["stopped"] = reason
        self.store.write_manifest(self.manifest)

    def _run(self, specs: list[RunSpec], desc: str, stage: str) -> bool:
        """Run the unfinished ones of ``specs``; whether all of them are now saved (False: failed or interrupted)."""
        outcome = run_stage(specs, self.store, self.manifest, self.executor, desc, stage, self.progress, without_graph)
        return self.report.add_stage(outcome)

    def _evaluate(self, statistics: dict[str, Statistic], specs: list[RunSpec]) -> pd.DataFrame:
        """Each statistic of each of ``specs``' saved runs (:func:`~sim.calibration.statistics.evaluate`); a statistic
        the runs cannot give (an outcome they leave undefined) is a fault of the calibration file: one line naming its
        entry, exit 2."""
        try:
            return evaluate(statistics, _read_runs(self.store, specs), RUN_KEYS)
        except StatisticError as error:
            section = "targets" if error.pattern in self.calibration.targets else "held_out"
            raise InputError.single(str(self.calibration_path), f"{section}.{error.pattern}", error.message) from None


def _read_runs(store: ResultsStore, specs: list[RunSpec]) -> pd.DataFrame:
    """The yearly rows of ``specs``' saved runs: their keys, arm, year and the outcomes they report."""
    columns = ["arm", "point", "replication", "year", *dict.fromkeys(outcome for spec in specs for outcome in spec.outcomes)]
    return pd.concat(
        [pd.read_parquet(store.runs / f"{spec.run_id}.parquet", columns=columns) for spec in specs], ignore_index=True
    )


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
