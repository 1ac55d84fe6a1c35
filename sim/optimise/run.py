"""Run an optimisation: the reference runs, the search in batches, the plans chosen from its front, the out-of-sample
check, on any executor.

Every run is one saved Parquet file, as an experiment's, and every stage is a pure function of the file and of the
runs before it: the sampler is seeded and told the saved runs' objectives in the same order, so a killed search,
run again, proposes the same plans, finds their runs on disk and goes on where it stopped. The check runs seeds (and
posterior draws) the search never used, so the chosen plans are judged on data they were not chosen on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import package_version
from sim.errors import InputError
from sim.execute import RunOutcome, StagedReport, build_model, error_message, free_finished_models, run_one, run_stage
from sim.experiment import (
    BASELINE,
    Experiment,
    RunSpec,
    equally_weighted,
    file_hash,
    posterior_columns,
    posterior_table,
    replication_seeds,
    resampled_rows,
)
from sim.optimise.assignment import Choice, assign, planned_cost_per_pair
from sim.optimise.outputs import out_of_sample, reference_table, summary_text, write_summary, write_tables, write_villages
from sim.optimise.plans import plan_overrides, write_plan
from sim.optimise.search import (
    COST,
    best_heuristic,
    choice_from,
    fall_column,
    falls,
    lever_names,
    new_study,
    pareto_front,
    suggest,
    summarise,
)
from sim.optimise.spec import Budget, Optimisation, changed_settings, identity, identity_data
from sim.pairing.registry import policy_types
from sim.results import ResultsStore
from sim.scenario import Scenario, load_scenario, resolve_scenario

HEURISTIC_ARM = "h-{}"
"""The arm name of a heuristic: the scenario's own plan matched greedily, by the typed rule, or at random."""


@dataclass(frozen=True)
class PlanRun:
    """One run of an optimisation: a run spec, and for a plan the lever values the worker turns into explicit pairs on
    the run's own county (``choice`` None: the scenario's own policies, or none, as ``run`` says)."""

    run: RunSpec
    choice: Choice | None = None
    budget: Budget | None = None
    candidate_villages: int = 3
    planned_cost: float = 0.0  # of a heuristic (the scenario's own plan), yuan a year; a plan's comes from its assignment
    pairs: int = 0

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def scenario(self) -> str:
        return self.run.scenario

    @property
    def arm(self) -> str:
        return self.run.arm

    @property
    def seed(self) -> int:
        return self.run.seed


def plan_of(job: PlanRun) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The plan (sim.optimise.assignment) the job's lever values give on its run's county, and the overrides that run
    it as explicit pairs. The county is built without pairing: the county core is built before any pair, so it is the
    county the explicit pairs then start from. The scenario's own policies lend each chosen policy of the same label
    its counties and settings."""
    model = build_model(replace(job.run, keep_policies=()))
    scenario = resolve_scenario(load_scenario(job.run.scenario), job.run.overrides)
    plan = assign(model.county, scenario, job.choice, job.budget, job.candidate_villages)
    return plan, {**job.run.overrides, **plan_overrides(plan, job.choice, scenario)}


def branches(plan: pd.DataFrame) -> int:
    """Joint branches of a plan: one per village of a village-grouped type, one per donor of a donor-grouped one."""
    if plan.empty:
        return 0
    by_donor = plan["type"].map(lambda name: policy_types()[name].grouping == "donor")
    keys = [
        (p, "d", d) if grouped else (p, "v", v)
        for p, d, v, grouped in zip(plan["policy"], plan["donor_index"], plan["village_index"], by_donor)
    ]
    return len(set(keys))


def run_plan(job: PlanRun) -> RunOutcome:
    """A worker: form the job's plan (if any) on its county, run it, and add its planned cost and branches to the table;
    an exception is recorded as the run's error, as :func:`sim.execute.run_safely` does."""
    started = time.perf_counter()
    try:
        if job.choice is None:
            table = run_one(job.run).assign(plan_cost=job.planned_cost, plan_pairs=job.pairs)
        else:
            plan, overrides = plan_of(job)
            free_finished_models(started)
            spec = replace(job.run, overrides=overrides)
            table = run_one(spec).assign(plan_cost=float(plan["planned_cost"].sum()), plan_pairs=branches(plan))
    except Exception as exc:  # noqa: BLE001 - one failed run is recorded, the others go on
        return RunOutcome(job.run_id, time.perf_counter() - started, error=error_message(exc))
    finally:
        free_finished_models(started)
    return RunOutcome(job.run_id, time.perf_counter() - started, table=table)


class OptimisationReport(StagedReport):
    """How a ``run_optimisation`` call ended; ``summary`` is the printed summary once the check has finished."""


def run_optimisation(
    optimisation: Optimisation, optimisation_path: str | Path, out_dir: str | Path, executor, progress: bool = True
) -> OptimisationReport:
    """Run the reference runs, the search, the plan files and the out-of-sample check, writing the results folder
    (docs/OPTIMISE.md lists its files). Stops early, keeping every saved run, when runs fail or are interrupted: the
    same call resumes."""
    stages = Stages(optimisation, optimisation_path, ResultsStore(out_dir), executor, progress)
    reference = stages.reference()
    if reference is None:
        return stages.report
    trials = stages.search(reference)
    if trials is None:
        return stages.report
    chosen = stages.choose(trials)
    check = stages.check(chosen)
    if check is not None:
        stages.finish(trials, reference, check, chosen)
    return stages.report


class Stages:
    """One ``run_optimisation`` call, stage by stage; holds the file, the folder, its manifest and the executor."""

    def __init__(self, optimisation: Optimisation, path: str | Path, store: ResultsStore, executor, progress: bool) -> None:
        self.optimisation = optimisation
        self.path = path
        self.store = store
        self.executor = executor
        self.progress = progress
        self.report = OptimisationReport(store.folder)
        self.scenario = load_scenario(optimisation.scenario)
        self.manifest = _start_manifest(store, optimisation, path, self.scenario)
        self.search_seeds = replication_seeds(optimisation.seed, optimisation.search.seeds)
        self.check_seeds = replication_seeds(optimisation.seed + 1, optimisation.check.seeds)
        self.draws = _draws(optimisation)
        self.arms = [BASELINE, *(HEURISTIC_ARM.format(name) for name in optimisation.check.heuristics)]
        self.outcomes = tuple(
            dict.fromkeys([*optimisation.objectives.falls, "gini", "urban_rural_ratio", "poverty_headcount", "weak_villages"])
        )

    # ------------------------------------------------------------------ the runs

    def _spec(
        self, run_id: str, arm: str, k: int, seed: int, checking: bool, keep: tuple[str, ...] | None, parameters=None
    ) -> RunSpec:
        """Run ``k`` of the search (or of the check): its seed, and with a posterior its draw (the check's come after
        the search's, so the check never reuses one)."""
        draw = None
        overrides: dict[str, Any] = {}
        if self.optimisation.horizon_years is not None:
            overrides["horizon_years"] = self.optimisation.horizon_years
        if self.draws is not None:
            searched = self.optimisation.posterior.draws
            draw = searched + k if checking else k % searched
            overrides.update(self.draws[draw])
        return RunSpec(
            run_id=run_id,
            scenario=self.optimisation.scenario,
            arm=arm,
            point=0,
            replication=k,
            seed=seed,
            overrides=overrides,
            keep_policies=keep,
            parameters=parameters or {},
            outcomes=self.outcomes,
            draw=draw,
        )

    def _reference_job(self, prefix: str, arm: str, k: int, seed: int, checking: bool) -> PlanRun:
        """The no-pairing run, or the scenario's own plan matched by one heuristic."""
        if arm == BASELINE:
            return PlanRun(self._spec(f"{prefix}__{arm}__s{k:03d}", arm, k, seed, checking, keep=()))
        heuristic = arm.removeprefix(HEURISTIC_ARM.format(""))
        run = self._spec(f"{prefix}__{arm}__s{k:03d}", arm, k, seed, checking, keep=None)
        run = replace(run, overrides={**run.overrides, **heuristic_overrides(self.scenario, heuristic)})
        cost, pairs = self.shipped_plan
        return PlanRun(run, planned_cost=cost, pairs=pairs)

    def _plan_job(self, prefix: str, trial: int, values: dict[str, float], k: int, seed: int, checking: bool) -> PlanRun:
        arm = f"t{trial:04d}"
        run = self._spec(
            f"{prefix}__{arm}__s{k:03d}" if checking else f"{arm}__s{k:03d}", arm, k, seed, checking, keep=(), parameters=values
        )
        return PlanRun(
            run, choice_from(self.optimisation, values), self.optimisation.budget, self.optimisation.search.candidate_villages
        )

    @cached_property
    def shipped_plan(self) -> tuple[float, int]:
        """The scenario's own plan: its planned cost a year (sim.optimise.assignment) and its branches."""
        return shipped_plan_cost(self.scenario, self.reference_model.county)

    @cached_property
    def reference_model(self):
        """The model, built without pairing, of the first search seed (and draw): the county the plan files name."""
        return build_model(self._spec("reference", BASELINE, 0, self.search_seeds[0], False, keep=()))

    def _run(self, jobs: list[PlanRun], desc: str, stage: str) -> bool:
        """Run the unfinished ones of ``jobs``; whether all of them are now saved (False: failed or interrupted)."""
        outcome = run_stage(jobs, self.store, self.manifest, self.executor, desc, stage, self.progress, run_plan)
        return self.report.add_stage(outcome)

    def _final(self, jobs: list[PlanRun]) -> pd.DataFrame:
        """The final-year outcomes, planned cost and branches of ``jobs``' saved runs, one row per job (index: its k)."""
        columns = ["year", *self.outcomes, "plan_cost", "plan_pairs", "donor_cost_total"]
        rows = []
        for job in jobs:
            table = pd.read_parquet(self.store.runs / f"{job.run_id}.parquet", columns=columns)
            rows.append(table.loc[table["year"].idxmax()].rename(job.run.replication))
        frame = pd.DataFrame(rows)
        frame.index.name = "k"
        return frame

    # ------------------------------------------------------------------ the stages

    def reference(self) -> dict[str, pd.DataFrame] | None:
        """The no-pairing run and each heuristic on the search's seeds: every plan's falls are measured from the
        first and, for regret, against the best of the others. None when runs failed or were interrupted."""
        jobs = {
            arm: [self._reference_job("reference", arm, k, seed, checking=False) for k, seed in enumerate(self.search_seeds)]
            for arm in self.arms
        }
        if not self._run(
            [job for arm_jobs in jobs.values() for job in arm_jobs], f"{self.optimisation.name} reference", "reference"
        ):
            return None
        return {arm: self._final(arm_jobs) for arm, arm_jobs in jobs.items()}

    def search(self, reference: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
        """Ask the sampler for batches of plans, run each on the search seeds, tell it their objectives; the trials
        table, or None when runs failed or were interrupted (the same call resumes)."""
        optimisation = self.optimisation
        names = optimisation.objectives.falls
        baseline = reference[BASELINE]
        best = best_heuristic(reference, names)
        study = new_study(optimisation)
        rows = []
        trial_number = 0
        while trial_number < optimisation.trials:
            batch = min(optimisation.search.batch, optimisation.trials - trial_number)
            asked = [study.ask() for _ in range(batch)]
            values = [suggest(trial, optimisation) for trial in asked]
            numbers = list(range(trial_number, trial_number + batch))
            for number, chosen in zip(numbers, values, strict=True):
                self._record_trial(number, chosen)
            jobs = {
                number: [
                    self._plan_job("search", number, chosen, k, seed, checking=False) for k, seed in enumerate(self.search_seeds)
                ]
                for number, chosen in zip(numbers, values, strict=True)
            }
            first, last = numbers[0], numbers[-1]
            if not self._run(
                [job for plan in jobs.values() for job in plan],
                f"{optimisation.name} plans {first}-{last} of {optimisation.trials}",
                "search",
            ):
                return None
            for trial, number, chosen in zip(asked, numbers, values, strict=True):
                final = self._final(jobs[number])
                objective = summarise(falls(final, baseline, names), best, optimisation)
                cost = float(final["plan_cost"].mean())
                told = [*objective.tolist(), cost]
                if np.isfinite(told).all():
                    study.tell(trial, told)
                else:  # an outcome the runs leave undefined (no poor household left): the sampler learns nothing from it
                    study.tell(trial, state=optuna_failed())
                rows.append(
                    {
                        "trial": number,
                        **{f"param:{name}": chosen[name] for name in lever_names(optimisation)},
                        **{fall_column(name): float(objective[name]) for name in names},
                        COST: cost,
                        "pairs": float(final["plan_pairs"].mean()),
                        "donor_cost_total": float(final["donor_cost_total"].mean()),
                    }
                )
            trial_number += batch
        trials = pd.DataFrame(rows)
        trials["on_front"] = pareto_front(trials[fall_column(names[0])], trials[COST])
        return trials

    def _record_trial(self, number: int, values: dict[str, float]) -> None:
        """Keep the lever values proposed for a trial; a resumed search must propose the same ones, or its saved runs
        were made at other plans (another pairsim or optuna version): refuse rather than mix them."""
        recorded = self.manifest["trials"].get(str(number))
        if recorded is not None and recorded != values:
            raise InputError.single(
                str(self.store.folder),
                "manifest.json",
                f"trial {number} was proposed with other lever values when its runs were saved (a different pairsim or "
                "optuna version?); use another --out folder or delete this one",
            )
        self.manifest["trials"][str(number)] = values

    def choose(self, trials: pd.DataFrame) -> pd.DataFrame:
        """The plans to check: the front's, largest first fall first, as many as the file asks; their plan files are
        written for the first search seed's county."""
        first = fall_column(self.optimisation.objectives.falls[0])
        front = trials[trials["on_front"]].sort_values([first, COST], ascending=[False, True])
        chosen = front.head(self.optimisation.check.plans)
        plans = self.store.folder / "plans"
        for _, row in chosen.iterrows():
            values = {name: float(row[f"param:{name}"]) for name in lever_names(self.optimisation)}
            job = self._plan_job("search", int(row["trial"]), values, 0, self.search_seeds[0], checking=False)
            plan, overrides = plan_of(job)
            name = f"t{int(row['trial']):04d}"
            write_plan(
                plans,
                name,
                plan,
                self.optimisation.scenario,
                overrides,
                job.run.seed,
                optimisation=self.optimisation.name,
                trial=name,
            )
        write_villages(plans / "villages.parquet", self.reference_model)
        return chosen

    def check(self, chosen: pd.DataFrame) -> dict[str, pd.DataFrame] | None:
        """Each chosen plan, the no-pairing run and each heuristic on the check's unseen seeds and draws."""
        jobs: dict[str, list[PlanRun]] = {
            arm: [self._reference_job("check", arm, k, seed, checking=True) for k, seed in enumerate(self.check_seeds)]
            for arm in self.arms
        }
        for _, row in chosen.iterrows():
            values = {name: float(row[f"param:{name}"]) for name in lever_names(self.optimisation)}
            number = int(row["trial"])
            jobs[f"t{number:04d}"] = [
                self._plan_job("check", number, values, k, seed, checking=True) for k, seed in enumerate(self.check_seeds)
            ]
        if not self._run(
            [job for arm_jobs in jobs.values() for job in arm_jobs], f"{self.optimisation.name} out-of-sample check", "check"
        ):
            return None
        return {arm: self._final(arm_jobs) for arm, arm_jobs in jobs.items()}

    def finish(
        self, trials: pd.DataFrame, reference: dict[str, pd.DataFrame], check: dict[str, pd.DataFrame], chosen: pd.DataFrame
    ) -> None:
        """Write the tables and the summary (on every call that gets this far, so a rerun of a finished folder writes
        them again from the saved runs)."""
        optimisation = self.optimisation
        names = optimisation.objectives.falls
        heuristics = reference_table(reference, names, optimisation)
        checked = out_of_sample(check, names, [f"t{int(t):04d}" for t in chosen["trial"]], self.arms)
        write_tables(self.store.folder, trials, heuristics, chosen, checked)
        self.manifest["finished"] = True
        self.store.write_manifest(self.manifest)
        self.report.summary = summary_text(optimisation, self.manifest, trials, heuristics, chosen, checked, self.shipped_plan)
        write_summary(self.store.folder, self.report.summary)


def optuna_failed():
    """optuna's state of a trial that gave no objective (imported here: validating a file needs no optuna)."""
    from optuna.trial import TrialState

    return TrialState.FAIL


def heuristic_overrides(scenario: Scenario, heuristic: str) -> dict[str, Any]:
    """The scenario's own policies matched by one heuristic: the need rank (greedy), Xiuzhou's typed rule for its
    city-village policies (the others greedy), or chance (random). Policies of named pairs are left as they are."""
    overrides: dict[str, Any] = {}
    for i, policy in enumerate(scenario.pairing.policies):
        if policy.explicit:
            continue
        overrides[f"pairing.policies.{i}.matching"] = "random" if heuristic == "random" else "greedy"
        if policy.type == "city_village":
            overrides[f"pairing.policies.{i}.typed"] = heuristic == "typed"
    return overrides


def shipped_plan_cost(scenario: Scenario, county) -> tuple[float, int]:
    """The scenario's own plan: its planned cost a year at start-year prices (each policy's pairs x the planned cost of
    one pair, per-household flows at ``county``'s mean village) and its branches. Its first-year cost is the budget an
    optimisation of the same money gets."""
    cost = sum(
        (policy.pairs or len(policy.explicit))
        * planned_cost_per_pair(
            policy.type, policy.flows, county, scenario, donors_per_pair=policy.donors_per_pair, settings=policy.settings
        )
        for policy in scenario.pairing.policies
    )
    pairs = sum(policy.pairs or len(policy.explicit) for policy in scenario.pairing.policies)
    return float(cost), int(pairs)


def _draws(optimisation: Optimisation) -> list[dict[str, float]] | None:
    """The posterior draws of the search, then the check's, as dotted-path overrides (None without a posterior).

    The check's draws are rows of the sample the search never ran. An equal-weight sample (what pairsim calibrate
    writes) is already random, so the search takes its first rows and the check the next ones, as an experiment would
    take them. Unequal importance weights are resampled systematically (sim.draws), the search's draws first, then the
    check's from the rows the search did not draw, their weights renormalised.
    """
    if optimisation.posterior is None:
        return None
    searched, checked = optimisation.posterior.draws, optimisation.check.seeds
    experiment = Experiment(
        name=optimisation.name,
        scenarios=[optimisation.scenario],
        seed=optimisation.seed,
        parameters=optimisation.posterior.model_copy(update={"draws": searched + checked}),
    )
    table = posterior_table(experiment, optimisation.posterior.posterior)
    weights = table["weight"].to_numpy(float)
    if equally_weighted(weights):
        rows = np.arange(searched + checked)
    else:
        rng = np.random.default_rng(np.random.SeedSequence([optimisation.seed, 2]))
        search_rows = resampled_rows(weights, searched, rng)
        unseen = np.setdiff1d(np.arange(len(table)), search_rows)
        if weights[unseen].sum() <= 0:
            raise InputError.single(
                optimisation.posterior.posterior,
                "weight",
                "all the posterior's weight sits on the rows the search draws: no unseen draw is left for the check",
            )
        rows = np.concatenate([search_rows, unseen[resampled_rows(weights[unseen], checked, rng)]])
    parameters = table.iloc[rows][posterior_columns(table)]
    return [{name: float(value) for name, value in row.items()} for row in parameters.to_dict("records")]


def _start_manifest(store: ResultsStore, optimisation: Optimisation, path: str | Path, scenario: Scenario) -> dict[str, Any]:
    """The manifest to keep up to date: refuses a folder of another optimisation, experiment or calibration."""
    previous = store.read_manifest()
    key = identity(optimisation)
    if previous and previous.get("identity") != key:
        if "optimisation" in previous:
            changed = changed_settings(previous.get("identity_data", {}), identity_data(optimisation))
            which = f" ({', '.join(changed)})" if changed else ""
            what = f"optimisation {previous['optimisation']!r} with other settings{which}"
        else:
            what = "another command"
        raise InputError.single(
            str(store.folder), "manifest.json", f"holds results of {what}; use another --out folder or delete this one"
        )
    manifest = {
        "kind": "optimisation",
        "optimisation": optimisation.name,
        "description": optimisation.description,
        "optimisation_file": str(Path(path).resolve()),
        "optimisation_sha256": file_hash(path),
        "identity": key,
        "identity_data": identity_data(optimisation),
        "scenario": optimisation.scenario,
        "scenario_name": f"{scenario.name} ({Path(optimisation.scenario).name})",
        "scenario_sha256": file_hash(optimisation.scenario),
        "settings": optimisation.model_dump(mode="json"),
        "finished": previous.get("finished", False),
        "trials": previous.get("trials", {}),
        "runs": previous.get("runs", {}),
        "seconds": previous.get("seconds", {}),
        "versions": {name: package_version(name) for name in ("pairsim", "mesa", "numpy", "pandas", "scipy", "optuna")},
    }
    store.folder.mkdir(parents=True, exist_ok=True)
    store.write_manifest(manifest)
    return manifest


__all__ = ["OptimisationReport", "PlanRun", "heuristic_overrides", "run_optimisation", "run_plan", "shipped_plan_cost"]
