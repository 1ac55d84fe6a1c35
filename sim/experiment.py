"""Experiment files: which scenarios, arms, replications and parameter design to run.

An experiment expands into :class:`RunSpec`s, one per (scenario, arm, design
point, replication). Common random numbers: replication ``r`` gets the same seed
in every arm and design point (spawned from the experiment's ``seed`` with
``numpy.random.SeedSequence``), so differences between arms are paired.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator, model_validator

from sim.discovery_spec import Discovery, check_discovery_names
from sim.draws import systematic_resample
from sim.errors import InputError, Problem, did_you_mean, require_file
from sim.outcome_registry import OUTCOMES, default_outcomes
from sim.scenario import Scenario, load_scenario, read_yaml_mapping, resolve_scenario, scenario_file, validate_model
from sim.schema import HorizonYears, NonNegativeInt, PositiveInt, Strict

BASELINE = "baseline"
ARM_NAME = re.compile(r"^[^\W][\w.-]*$")
"""Arm names become part of file names: letters (any script), digits, '_', '-' and '.', not starting with '.' or '-'."""

CUMULATIVE_FLOWS = {
    "funds_sent": "funds_sent_total",
    "funds_lost": "funds_lost_total",
    "donor_cost": "donor_cost_total",
    "trainees": "trainees_total",
    "jobs_created": "jobs_created_total",
}
"""Monthly flows whose running totals every run reports (for cost-effectiveness)."""


class Arm(Strict):
    """A named policy setting: which of the scenario's pairing policies run, and other changes."""

    example = "{policies: [城乡联建], overrides: {pairing.failure.leakage: 0.2}}"

    policies: list[str] | Literal["all"] = Field("all", description="labels of the scenario's policies to keep; [] = none")
    overrides: dict[str, Any] = Field({}, description="dotted scenario paths and values, e.g. pairing.failure.leakage: 0.2")


class Parameter(Strict):
    """A swept parameter: a distribution on [low, high] (uniform by default), or one of a list of values (grid designs).

    Every distribution is bounded by ``low`` and ``high``, so the values a design can
    draw are known when the file is loaded (and checked against each scenario then).
    """

    example = "{low: 0.0, high: 0.3} or {values: [0.1, 0.2]}"

    low: float | None = None
    high: float | None = None
    values: list[float] | None = None
    distribution: Literal["uniform", "triangular", "truncnormal", "loguniform"] = Field(
        "uniform",
        description="uniform on [low, high]; triangular with its 'mode'; normal with 'mean' and 'sd' truncated to [low, high]; "
        "loguniform: uniform in log(value), for a positive quantity known to within a factor (low > 0)",
    )
    mode: float | None = Field(None, description="triangular: the most likely value, within [low, high]")
    mean: float | None = Field(None, description="truncnormal: mean of the normal before truncation")
    sd: float | None = Field(None, gt=0, description="truncnormal: standard deviation of the normal before truncation")

    @model_validator(mode="after")
    def _range_or_values(self) -> Parameter:
        if self.values is None and (self.low is None or self.high is None):
            raise ValueError("give 'low' and 'high', or 'values'")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low must be below high, got {self.low} and {self.high}")
        if self.values is not None and self.distribution != "uniform":
            raise ValueError(f"a {self.distribution} distribution needs 'low' and 'high', not 'values'")
        if self.distribution == "loguniform" and self.low is not None and not self.low > 0:
            raise ValueError(f"a loguniform distribution needs low > 0, got {self.low}")
        needs = {"uniform": (), "triangular": ("mode",), "truncnormal": ("mean", "sd"), "loguniform": ()}[self.distribution]
        for name in ("mode", "mean", "sd"):
            given = getattr(self, name) is not None
            if given != (name in needs):
                raise ValueError(
                    f"'{name}' is needed by a {self.distribution} distribution"
                    if not given
                    else f"'{name}' does not belong to a {self.distribution} distribution (give 'distribution')"
                )
        if self.mode is not None and not self.low <= self.mode <= self.high:
            raise ValueError(f"mode must lie within [low, high], got {self.mode} outside [{self.low}, {self.high}]")
        return self

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """Map samples in [0, 1] to this parameter's values through its quantile function (monotone, so design
        structure, e.g. Morris trajectories and Saltelli blocks, is kept)."""
        from scipy import stats

        low, high = self.low, self.high
        if self.distribution == "triangular":
            return stats.triang(c=(self.mode - low) / (high - low), loc=low, scale=high - low).ppf(unit)
        if self.distribution == "truncnormal":
            a, b = (low - self.mean) / self.sd, (high - self.mean) / self.sd
            return np.clip(stats.truncnorm(a, b, loc=self.mean, scale=self.sd).ppf(unit), low, high)
        if self.distribution == "loguniform":
            return np.clip(np.exp(np.log(low) + unit * (np.log(high) - np.log(low))), low, high)
        return low + unit * (high - low)


class Design(Strict):
    """How parameter values are chosen: a full grid, random or Latin hypercube samples, or Sobol/Morris (SALib)."""

    example = "{method: sobol, samples: 16, parameters: {pairing.failure.leakage: {low: 0.0, high: 0.3}}}"

    method: Literal["grid", "random", "lhs", "sobol", "morris"]
    samples: PositiveInt = Field(
        16, description="random/lhs: points; sobol: base samples N (N*(k+2) points); morris: trajectories"
    )
    levels: PositiveInt = Field(4, description="grid: values per parameter with a range; morris: grid levels")
    parameters: dict[str, Parameter]

    @field_validator("parameters")
    @classmethod
    def _some(cls, parameters: dict[str, Parameter]) -> dict[str, Parameter]:
        if not parameters:
            raise ValueError("name at least one parameter")
        return parameters


class PosteriorParameters(Strict):
    """Parameter values from a calibration's posterior sample: each replication runs one of its draws (parameter
    uncertainty carried into the comparison, see :func:`posterior_draws`)."""

    example = "{posterior: ../calibrations/posteriors/shouguang_2009.parquet, draws: 25}"

    posterior: str = Field(
        description="Parquet file of posterior draws (a 'weight' column and one column per dotted scenario path), "
        "relative to the experiment file"
    )
    draws: PositiveInt = Field(description="how many draws to use; replication r runs draw r mod draws")


class Experiment(Strict):
    """An experiment file (experiments/*.yaml)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    scenarios: list[str] = Field(min_length=1, description="scenario YAML files, relative to the experiment file")
    seed: NonNegativeInt = 1
    replications: PositiveInt = 10
    seeds: list[NonNegativeInt] | None = Field(
        None,
        description="each replication's own seed instead of seeds spawned from 'seed': re-runs a run made elsewhere on its "
        "seed (a plan file of pairsim optimise names pairs of its seed's county); replications defaults to their number",
    )
    horizon_years: HorizonYears | None = Field(None, description="overrides each scenario's horizon (at most 30 years)")
    baseline: bool = Field(True, description="add the no-pairing arm 'baseline'")
    arms: dict[str, Arm] = Field({}, validate_default=True)
    outcomes: list[str] = Field(default_factory=default_outcomes)
    design: Design | None = None
    parameters: PosteriorParameters | None = Field(None, description="posterior draws instead of a design")
    discovery: Discovery | None = Field(
        None, description="pairsim discover's settings for these results (not part of the results folder's identity)"
    )

    @model_validator(mode="before")
    @classmethod
    def _one_replication_a_seed(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("seeds") and isinstance(data["seeds"], list) and "replications" not in data:
            return {**data, "replications": len(data["seeds"])}
        return data

    @model_validator(mode="after")
    def _seeds_match(self) -> Experiment:
        if self.seeds is not None:
            if not self.seeds:
                raise ValueError("seeds: name at least one seed (leave it out to spawn them from 'seed')")
            if len(set(self.seeds)) < len(self.seeds):
                raise ValueError("seeds: names a seed twice; two replications of one seed are the same run")
            if self.replications != len(self.seeds):
                raise ValueError(
                    f"replications: {self.replications}, but seeds names {len(self.seeds)}; give one seed a replication"
                )
        return self

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, outcomes: list[str]) -> list[str]:
        for outcome in outcomes:
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}{did_you_mean(outcome, OUTCOMES)}")
        return outcomes

    @field_validator("arms")
    @classmethod
    def _arms(cls, arms: dict[str, Arm], info: ValidationInfo) -> dict[str, Arm]:
        if BASELINE in arms:
            raise ValueError(f"'{BASELINE}' is added automatically (set baseline: false to leave it out); rename that arm")
        if not arms and not info.data.get("baseline", True):
            raise ValueError("no arms: add arms or keep the baseline")
        for name in arms:
            if not ARM_NAME.match(name):
                raise ValueError(f"arm name {name!r} may hold only letters, digits, '_', '-' and '.' (it names result files)")
        return arms

    @property
    def all_arms(self) -> dict[str, Arm]:
        """The arms to run, the no-pairing baseline first."""
        baseline = {BASELINE: Arm(policies=[])} if self.baseline else {}
        return {**baseline, **self.arms}


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs; plain data, so it pickles to any worker."""

    run_id: str
    scenario: str  # path of the scenario YAML
    arm: str
    point: int
    replication: int
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)
    keep_policies: tuple[str, ...] | None = None  # None: all of the scenario's policies
    parameters: dict[str, float] = field(default_factory=dict)  # the design point's (or posterior draw's) values
    outcomes: tuple[str, ...] = field(default_factory=lambda: tuple(default_outcomes()))
    draw: int | None = None  # the posterior draw this run uses (None: the experiment has no posterior)


def load_experiment(path: str | Path) -> Experiment:
    """Load and validate an experiment YAML (and every scenario it names)."""
    path = Path(path)
    source = str(path)
    require_file(path, "experiment", "an experiment YAML file")
    experiment = validate_model(Experiment, read_yaml_mapping(path), source)
    posterior = None
    if experiment.parameters is not None:
        experiment = _resolve_posterior(experiment, path.parent, source)
        posterior = posterior_table(experiment, source)
    resolved = []
    for i, scenario in enumerate(experiment.scenarios):
        scenario_path = scenario_file(source, f"scenarios[{i}]", path.parent, scenario)
        loaded = load_scenario(scenario_path)
        labels = [policy.label for policy in loaded.pairing.policies]
        for arm_name, arm in experiment.arms.items():
            for label in [] if arm.policies == "all" else arm.policies:
                if label not in labels:
                    raise InputError.single(
                        source,
                        f"arms.{arm_name}.policies",
                        f"{scenario_path.name} has no policy {label!r}{did_you_mean(label, labels)}; its policies: {', '.join(labels) or 'none'}",
                    )
        _check_changes(experiment, loaded, source, posterior)
        same_name = [earlier for earlier in resolved if Path(earlier).stem == scenario_path.stem]
        if same_name:  # run ids and saved graphs are named by the file's stem
            raise InputError.single(
                source,
                f"scenarios[{i}]",
                f"{scenario_path} has the same file name as {same_name[0]}; give each scenario its own file name",
            )
        resolved.append(str(scenario_path))
    design_points(experiment.design, experiment.seed, source)  # a design the method cannot sample fails here, not mid-run
    if experiment.discovery is not None:
        stems = [Path(scenario).stem for scenario in resolved]
        check_discovery_names(experiment.discovery, list(experiment.all_arms), experiment.outcomes, stems, source, "discovery")
    return experiment.model_copy(update={"scenarios": resolved})


def _check_changes(experiment: Experiment, scenario: Scenario, source: str, posterior: pd.DataFrame | None = None) -> None:
    """Apply every arm override, every design parameter's extreme values and each posterior column's smallest and
    largest value (``posterior``: :func:`posterior_table`) to ``scenario``, so a misspelt path or an out-of-range value
    is bad input at load time instead of a failure of every run."""
    changes: list[tuple[str, tuple[str, ...] | None, dict[str, Any]]] = []
    for arm_name, arm in experiment.arms.items():
        changes += [(f"arms.{arm_name}.overrides.{key}", arm_policies(arm), {key: value}) for key, value in arm.overrides.items()]
    if experiment.design is not None:
        for name, parameter in experiment.design.parameters.items():
            for value in parameter.values if parameter.values is not None else (parameter.low, parameter.high):
                changes += [
                    (f"design.parameters.{name}", arm_policies(arm), {name: value}) for arm in experiment.all_arms.values()
                ]
    for name in [] if posterior is None else posterior_columns(posterior):
        for value in (float(posterior[name].min()), float(posterior[name].max())):
            where = f"parameters.posterior (column {name})"
            changes += [(where, arm_policies(arm), {name: value}) for arm in experiment.all_arms.values()]
    check_changes(scenario, changes, source)


def check_changes(scenario: Scenario, changes: list[tuple[str, tuple[str, ...] | None, dict[str, Any]]], source: str) -> None:
    """Apply each change (the field it comes from, the policies its arm keeps, one ``{dotted path: value}``) to
    ``scenario``; every misspelt path or out-of-range value becomes one line of one :class:`InputError` about ``source``."""
    problems: list[Problem] = []
    for field_path, keep_policies, change in changes:
        try:
            resolve_scenario(scenario, scenario_overrides(scenario, keep_policies, change))
        except InputError as error:
            (key,) = change
            for problem in error.problems:
                message = problem.message if problem.field == key else f"{problem.field}: {problem.message}"
                if Problem(field_path, f"{message} (in scenario {scenario.name})") not in problems:
                    problems.append(Problem(field_path, f"{message} (in scenario {scenario.name})"))
    if problems:
        raise InputError(source, problems)


POSTERIOR_FILE = "a posterior sample written by pairsim calibrate (one column per dotted scenario path, and 'weight')"
POSTERIOR_IGNORED = ("draw", "weight")
"""A posterior file's columns that are not parameters (its own draw numbers, and the importance weights)."""


def _resolve_posterior(experiment: Experiment, folder: Path, source: str) -> Experiment:
    """The experiment with its posterior file's path made absolute, after the checks that need no file."""
    if experiment.design is not None:
        raise InputError.single(
            source, "parameters", "give either 'design' (a parameter sweep) or 'parameters' (posterior draws), not both"
        )
    check_posterior_replications(experiment, source)
    posterior = str((folder / experiment.parameters.posterior).resolve())
    return experiment.model_copy(update={"parameters": experiment.parameters.model_copy(update={"posterior": posterior})})


def check_posterior_replications(experiment: Experiment, source: str) -> None:
    """Every posterior draw must run with the same number of seeds, at least two: the variance split of
    :func:`sim.analysis.posterior_differences` tells parameters from noise by the spread between a draw's seeds."""
    if experiment.parameters is None:
        return
    draws, replications = experiment.parameters.draws, experiment.replications
    if replications % draws or replications < 2 * draws:
        raise InputError.single(
            source,
            "replications",
            f"must be a multiple of parameters.draws ({draws}) and at least {2 * draws}, so that every draw runs with the "
            f"same number of seeds, two or more (the split of parameter uncertainty from noise needs them); got {replications}",
        )


def posterior_columns(posterior: pd.DataFrame) -> list[str]:
    """A posterior table's parameter columns (dotted scenario paths), in file order."""
    return [column for column in posterior.columns if column not in POSTERIOR_IGNORED]


def posterior_table(experiment: Experiment, source: str) -> pd.DataFrame:
    """The experiment's whole posterior file, checked: readable Parquet, a finite non-negative ``weight`` column
    with a positive sum, numeric finite parameter columns, and at least ``draws`` rows (bad input otherwise)."""
    from pyarrow.lib import ArrowException

    where = "parameters.posterior"
    path = Path(experiment.parameters.posterior)
    if path.is_dir():
        raise InputError.single(source, where, f"is a folder, expected {POSTERIOR_FILE}: {path}")
    if not path.is_file():
        raise InputError.single(source, where, f"file not found: {path}")
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError, ArrowException) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError.single(
            source, where, f"{path} is not a readable Parquet table ({reason}); expected {POSTERIOR_FILE}"
        ) from None
    if "weight" not in table.columns:
        raise InputError.single(source, where, f"{path} has no 'weight' column; expected {POSTERIOR_FILE}")
    names = posterior_columns(table)
    if not names:
        raise InputError.single(source, where, f"{path} has no parameter columns; expected {POSTERIOR_FILE}")
    for name in [*names, "weight"]:
        numeric = pd.api.types.is_numeric_dtype(table[name]) and not pd.api.types.is_bool_dtype(table[name])
        if not numeric or not np.isfinite(table[name].to_numpy(dtype=float)).all():
            raise InputError.single(source, where, f"{path}: column {name} holds a value that is not a finite number")
    weights = table["weight"].to_numpy(dtype=float)
    if (weights < 0).any() or weights.sum() <= 0:
        raise InputError.single(source, where, f"{path}: weights must be 0 or more with a positive sum")
    if len(table) < experiment.parameters.draws:
        raise InputError.single(
            source, "parameters.draws", f"{experiment.parameters.draws} is more than the {len(table)} draws in {path}"
        )
    return table.astype({name: float for name in [*names, "weight"]})


def equally_weighted(weights: np.ndarray) -> bool:
    """Whether a posterior sample's weights are all equal (what pairsim calibrate writes): then it is already a random
    sample in random order, and its first rows are as good as any."""
    return bool(np.allclose(weights, weights[0], rtol=1e-9, atol=0.0))


def resampled_rows(weights: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` rows of an importance-weighted sample, resampled systematically (:func:`sim.draws.systematic_resample`,
    so a zero weight is never drawn) and shuffled, so that each draw gets an equal share of runs."""
    return rng.permutation(systematic_resample(weights, draws, rng))


def posterior_draws(experiment: Experiment, source: str = "experiment") -> pd.DataFrame:
    """The parameter values of the experiment's ``draws`` posterior draws, one row per draw (index ``draw``).

    An equal-weight posterior (what pairsim calibrate writes) is already a random sample in random order, so its first
    ``draws`` rows are taken. Unequal importance weights are resampled systematically (Kitagawa 1996; Douc, Cappé &
    Moulines 2005) as calibration resamples its own (:func:`sim.draws.systematic_resample`, so a zero weight is never
    drawn), seeded by the experiment's seed, and the draws shuffled, so that each gets an equal share of runs.
    """
    table = posterior_table(experiment, source)
    draws = experiment.parameters.draws
    weights = table["weight"].to_numpy(dtype=float)
    if equally_weighted(weights):
        chosen = np.arange(draws)
    else:
        chosen = resampled_rows(weights, draws, np.random.default_rng(np.random.SeedSequence([experiment.seed, 2])))
    frame = table.iloc[chosen][posterior_columns(table)].reset_index(drop=True)
    frame.index.name = "draw"
    return frame


def arm_policies(arm: Arm) -> tuple[str, ...] | None:
    """The policy labels an arm keeps (None: all of the scenario's)."""
    return None if arm.policies == "all" else tuple(arm.policies)


def scenario_overrides(scenario: Scenario, keep_policies: tuple[str, ...] | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides that turn ``scenario`` into one run's: keep only the arm's policies, then apply ``overrides``."""
    kept = {}
    if keep_policies is not None:
        kept["pairing.policies"] = [policy.model_dump() for policy in scenario.pairing.policies if policy.label in keep_policies]
    return {**kept, **overrides}


def replication_seeds(root_seed: int, replications: int) -> list[int]:
    """One integer seed per replication, spawned from the root (common to every arm and point)."""
    children = np.random.SeedSequence(root_seed).spawn(replications)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def design_points(design: Design | None, seed: int, source: str = "experiment") -> pd.DataFrame:
    """The parameter values of every design point, one row per point (one empty row without a design).

    ``source`` names the experiment file in the error raised for a design its method cannot sample.
    """
    if design is None:
        return pd.DataFrame(index=pd.RangeIndex(1, name="point"))
    names = list(design.parameters)
    specs = [design.parameters[name] for name in names]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    if design.method == "grid":
        for name, spec in zip(names, specs, strict=True):
            if spec.distribution != "uniform":
                raise InputError.single(
                    source,
                    f"design.parameters.{name}",
                    f"grid designs take ranges or values; a {spec.distribution} distribution needs random, lhs, sobol or morris",
                )
        axes = [
            spec.values if spec.values is not None else list(np.linspace(spec.low, spec.high, design.levels)) for spec in specs
        ]
        rows = list(itertools.product(*axes))
    else:
        for name, spec in zip(names, specs, strict=True):
            if spec.low is None:
                raise InputError.single(source, f"design.parameters.{name}", f"{design.method} designs need 'low' and 'high'")
        unit = _unit_samples(design, len(names), seed, rng)
        rows = np.column_stack([spec.from_unit(unit[:, j]) for j, spec in enumerate(specs)])
    frame = pd.DataFrame(np.asarray(rows, dtype=float), columns=names)
    frame.index.name = "point"
    return frame


def _unit_samples(design: Design, k: int, seed: int, rng: np.random.Generator) -> np.ndarray:
    """Samples in the unit cube for the non-grid methods."""
    if design.method == "random":
        return rng.random((design.samples, k))
    if design.method == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=k, seed=rng).random(design.samples)
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": k, "names": [f"x{i}" for i in range(k)], "bounds": [[0.0, 1.0]] * k}
    if design.method == "sobol":
        return sobol_sample.sample(problem, design.samples, calc_second_order=False, seed=seed)
    return morris_sample.sample(problem, design.samples, num_levels=design.levels, seed=seed)


def salib_problem(design: Design) -> dict[str, Any]:
    """The SALib problem definition of a design (for the sensitivity analysis)."""
    names = list(design.parameters)
    return {"num_vars": len(names), "names": names, "bounds": [[p.low, p.high] for p in design.parameters.values()]}


def experiment_seeds(experiment: Experiment) -> list[int]:
    """Each replication's seed: the file's own ``seeds``, else spawned from its ``seed`` (common to every arm and point)."""
    return list(experiment.seeds) if experiment.seeds is not None else replication_seeds(experiment.seed, experiment.replications)


def run_specs(experiment: Experiment) -> list[RunSpec]:
    """Every run of the experiment, in a stable order (scenario, arm, point, replication)."""
    seeds = experiment_seeds(experiment)
    points = design_points(experiment.design, experiment.seed)
    check_posterior_replications(experiment, f"experiment {experiment.name}")  # again: --replications may have changed it
    draws = [] if experiment.parameters is None else posterior_draws(experiment).to_dict("records")
    horizon = {"horizon_years": experiment.horizon_years} if experiment.horizon_years else {}
    specs = []
    for scenario in experiment.scenarios:
        stem = Path(scenario).stem
        for arm_name, arm in experiment.all_arms.items():
            keep = arm_policies(arm)
            for point, values in points.iterrows():
                point_values = {name: float(value) for name, value in values.items()}
                for replication, seed in enumerate(seeds):
                    draw = replication % len(draws) if draws else None  # the same draw and seed in every arm: paired
                    parameters = point_values if draw is None else {name: float(v) for name, v in draws[draw].items()}
                    specs.append(
                        RunSpec(
                            run_id=f"{stem}__{arm_name}__p{point:04d}__r{replication:03d}",
                            scenario=scenario,
                            arm=arm_name,
                            point=int(point),
                            replication=replication,
                            seed=seed,
                            overrides={**horizon, **arm.overrides, **parameters},
                            keep_policies=keep,
                            parameters=parameters,
                            outcomes=tuple(experiment.outcomes),
                            draw=draw,
                        )
                    )
    return specs


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (for the manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def expected_rows(experiment: Experiment) -> int:
    """How many runs the experiment has (for progress bars and checks)."""
    points = 1 if experiment.design is None else len(design_points(experiment.design, experiment.seed))
    return len(experiment.scenarios) * len(experiment.all_arms) * points * experiment.replications


__all__ = [
    "BASELINE",
    "Arm",
    "Design",
    "Experiment",
    "Parameter",
    "PosteriorParameters",
    "RunSpec",
    "design_points",
    "expected_rows",
    "experiment_seeds",
    "file_hash",
    "load_experiment",
    "posterior_draws",
    "posterior_table",
    "replication_seeds",
    "run_specs",
    "salib_problem",
]
