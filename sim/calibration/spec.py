"""Calibration files (calibrations/*.yaml): the scenario, the parameters to fit with their priors, the targets and the
held-out patterns, and the history-matching settings.

Validated like scenario and experiment files: every problem is one line ``file: field: message`` of one
:class:`~sim.errors.InputError` (exit 2), found when the file is loaded rather than in the middle of a calibration.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from sim.errors import InputError, Problem, did_you_mean, require_file
from sim.experiment import BASELINE, Parameter, check_changes, file_hash
from sim.outcome_registry import OUTCOMES
from sim.scenario import Scenario, load_scenario, read_yaml_mapping, scenario_file, validate_model
from sim.schema import NonNegativeInt, PositiveFloat, PositiveInt, Strict

PAIRING = "pairing"
"""The arm that runs the scenario as written (all its policies); :data:`~sim.experiment.BASELINE` runs none."""

KEEP_POLICIES: dict[str, tuple[str, ...] | None] = {PAIRING: None, BASELINE: ()}
"""What each arm keeps of the scenario's policies: all of them, or none."""

PATTERN_NAME = re.compile(r"^[A-Za-z0-9_]+$")
"""Target and held-out names become column names (``sim:<name>``)."""

Z95 = 3.92
"""Width of a normal's central 95 % interval in standard deviations (2 x 1.96): an interval's sd is its width / 3.92."""


class Statistic(Strict):
    """What a target measures in one run's yearly table: a level, a change or a growth of one outcome, or pairing's
    effect on it (the same quantity with pairing against the no-pairing run of the same seed)."""

    example = "{outcome: rural_income_pc, year: 2013, kind: growth, from_year: 2009}"

    outcome: str = Field(description="a model-level outcome (docs/ODD.md section 11)")
    year: int = Field(description="the reporting year the statistic reads")
    kind: Literal["level", "change", "growth"] = Field(
        "level",
        description="level: value in year; change: value(year) - value(from_year); growth: value(year)/value(from_year) - 1",
    )
    from_year: int | None = Field(None, description="change and growth: the earlier year")
    effect: Literal["absolute", "relative"] | None = Field(
        None, description="pairing's effect on the quantity: pairing minus baseline (absolute) or pairing/baseline - 1 (relative)"
    )

    @field_validator("outcome")
    @classmethod
    def _known_outcome(cls, outcome: str) -> str:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}{did_you_mean(outcome, OUTCOMES)}")
        return outcome

    @model_validator(mode="after")
    def _years(self) -> Statistic:
        if self.kind == "level" and self.from_year is not None:
            raise ValueError("from_year belongs to a change or a growth; a level reads one year (give kind: change or growth)")
        if self.kind != "level" and self.from_year is None:
            raise ValueError(f"a {self.kind} needs from_year, the earlier year")
        if self.from_year is not None and not self.from_year < self.year:
            raise ValueError(f"from_year must come before year, got {self.from_year} and {self.year}")
        return self

    @property
    def years(self) -> tuple[int, ...]:
        """The reporting years the statistic reads."""
        return (self.year,) if self.from_year is None else (self.from_year, self.year)

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms it needs: the scenario as written, and the no-pairing baseline for an effect."""
        return (PAIRING,) if self.effect is None else (PAIRING, BASELINE)


class Target(Strict):
    """An observed pattern: a statistic, its observed value and uncertainty, and where the figure comes from."""

    example = '{statistic: {outcome: urban_rural_ratio, year: 2013}, observed: 2.1, sd: 0.05, source: "[NBS 2014] ..."}'

    statistic: Statistic
    observed: float = Field(description="the observed value, in the statistic's units")
    sd: PositiveFloat | None = Field(None, description="the observation's standard deviation (or give 'interval')")
    interval: list[float] | None = Field(
        None, min_length=2, max_length=2, description="a 95 % interval [low, high] of the observation (or give 'sd')"
    )
    source: str = Field(description="where the figure comes from: a docs/SOURCES.md key in brackets with the quoted figure")

    @model_validator(mode="after")
    def _uncertainty(self) -> Target:
        if (self.sd is None) == (self.interval is None):
            raise ValueError("give exactly one of 'sd' and 'interval' (a 95 % interval [low, high])")
        if self.interval is not None and not self.interval[0] < self.interval[1]:
            raise ValueError(f"interval must be [low, high] with low below high, got {self.interval}")
        if not self.source.strip():
            raise ValueError("source must say where the observed value comes from")
        return self

    @property
    def observation_sd(self) -> float:
        """The observation's standard deviation: ``sd``, or a 95 % interval's width / 3.92."""
        return self.sd if self.sd is not None else (self.interval[1] - self.interval[0]) / Z95


class Method(Strict):
    """History-matching settings (docs/CALIBRATION.md); the defaults suit a scenario of Shouguang's size on 2 cores."""

    example = "{waves: 3, points_per_wave: 40, seeds: 2}"

    waves: PositiveInt = Field(3, description="waves of history matching")
    points_per_wave: PositiveInt = Field(40, description="parameter sets run in each wave")
    seeds: PositiveInt = Field(2, description="runs per parameter set (common random numbers across sets and waves)")
    cutoff: PositiveFloat = Field(3.0, description="largest implausibility a non-implausible set may have (3-sigma rule)")
    candidates: PositiveInt = Field(20_000, description="uniform candidates the emulators screen for the next wave")
    posterior_size: PositiveInt = Field(1000, description="rows of posterior.parquet")
    posterior_candidates: PositiveInt = Field(20_000, description="candidates importance-weighted for the posterior")
    check_draws: PositiveInt = Field(
        50, description="posterior draws run by the simulator to score targets and held-out patterns"
    )
    identified_contraction: float = Field(
        0.2, gt=0, lt=1, description="posterior contraction below which a parameter is 'not identified by the targets'"
    )

    @field_validator("points_per_wave")
    @classmethod
    def _enough_to_fit(cls, points: int) -> int:
        from sim.calibration.history_matching import MIN_POINTS  # scikit-learn: loaded only for a calibration's method

        if points < MIN_POINTS:
            raise ValueError(f"a wave needs at least {MIN_POINTS} points to fit each target's emulator on, got {points}")
        return points

    @field_validator("check_draws")
    @classmethod
    def _draws_within_posterior(cls, draws: int, info: ValidationInfo) -> int:
        size = info.data.get("posterior_size")  # absent when it was itself invalid (that error is reported)
        if size is not None and draws > size:
            raise ValueError(f"check_draws ({draws}) cannot exceed posterior_size ({size})")
        return draws


class Calibration(Strict):
    """A calibration file (calibrations/*.yaml)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    scenario: str = Field(description="the scenario YAML, relative to the calibration file")
    seed: NonNegativeInt = 1
    parameters: dict[str, Parameter] = Field(description="dotted scenario paths and their priors, as in experiments")
    targets: dict[str, Target]
    held_out: dict[str, Target] = Field({}, description="patterns scored by the posterior check, never used in fitting")
    method: Method = Method()

    @field_validator("parameters")
    @classmethod
    def _some(cls, parameters: dict[str, Parameter]) -> dict[str, Parameter]:
        if not parameters:
            raise ValueError("name at least one parameter to fit")
        return parameters

    @field_validator("targets", "held_out")
    @classmethod
    def _names(cls, patterns: dict[str, Target], info: ValidationInfo) -> dict[str, Target]:
        if info.field_name == "targets" and not patterns:
            raise ValueError("name at least one target")
        for name in patterns:
            if not PATTERN_NAME.match(name):
                raise ValueError(f"name {name!r} may hold only letters A-Z, digits and '_' (it names columns)")
        return patterns

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms the targets need (the waves run these)."""
        return arms_needed(self.targets.values())

    @property
    def check_arms(self) -> tuple[str, ...]:
        """The arms the targets and held-out patterns need (the posterior check runs these)."""
        return arms_needed([*self.targets.values(), *self.held_out.values()])

    def with_method(self, **changes: int) -> Calibration:
        """A copy with some method settings changed (the command line's quick-trial options), validated again."""
        method = Method.model_validate({**self.method.model_dump(), **changes})
        return self.model_copy(update={"method": method})


def arms_needed(patterns) -> tuple[str, ...]:
    """The pairing arm, and the baseline when any of ``patterns`` (Targets) is an effect."""
    return (PAIRING, BASELINE) if any(pattern.statistic.effect for pattern in patterns) else (PAIRING,)


def identity(calibration: Calibration) -> str:
    """Hash of what changes a calibration's runs or its fit, so that a folder is reused exactly when its runs still
    answer the file: the scenario file's bytes, the seed, the priors in their order (the order maps unit-cube axes to
    parameters), each target's statistic, observed value and sd, each held-out pattern's statistic (it sets the
    posterior check's outcomes, arms and years), and the method (so quick-trial overrides never mix into a full run's
    folder). The description, the sources and the held-out observed values and sd change no run: a rerun of the
    folder recomputes the tables and summary that show them."""
    data = {
        "scenario": file_hash(calibration.scenario),
        "seed": calibration.seed,
        "parameters": [[name, prior.model_dump(mode="json")] for name, prior in calibration.parameters.items()],
        "targets": [
            [name, target.statistic.model_dump(mode="json"), target.observed, target.observation_sd]
            for name, target in calibration.targets.items()
        ],
        "held_out": [[name, pattern.statistic.model_dump(mode="json")] for name, pattern in calibration.held_out.items()],
        "method": calibration.method.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def load_calibration(path: str | Path) -> Calibration:
    """Load and validate a calibration YAML and the scenario it names (resolved to an absolute path)."""
    path = Path(path)
    source = str(path)
    require_file(path, "calibration", "a calibration YAML file")
    calibration = validate_model(Calibration, read_yaml_mapping(path), source)
    scenario_path = scenario_file(source, "scenario", path.parent, calibration.scenario)
    scenario = load_scenario(scenario_path)
    problems = _problems(calibration, scenario)
    if problems:
        raise InputError(source, problems)
    check_changes(
        scenario,
        [
            (f"parameters.{name}", KEEP_POLICIES[arm], {name: value})
            for name, prior in calibration.parameters.items()
            for value in (prior.low, prior.high)
            for arm in calibration.check_arms
        ],
        source,
    )
    return calibration.model_copy(update={"scenario": str(scenario_path)})


def _problems(calibration: Calibration, scenario: Scenario) -> list[Problem]:
    """A line for each prior given as values, each name both a target and held out, and each year a run of
    ``scenario`` does not report (its reports run from start_year to start_year + horizon_years)."""
    problems = [
        Problem(f"parameters.{name}", "a prior is a distribution on [low, high], not a list of values")
        for name, prior in calibration.parameters.items()
        if prior.values is not None
    ]
    problems += [
        Problem(f"held_out.{name}", "is also a target; a pattern is either fitted or held out, not both: rename one")
        for name in calibration.held_out
        if name in calibration.targets
    ]
    first, last = scenario.start_year, scenario.start_year + scenario.horizon_years
    for section, patterns in (("targets", calibration.targets), ("held_out", calibration.held_out)):
        for name, pattern in patterns.items():
            statistic = pattern.statistic
            for key in ("year", "from_year"):
                year = getattr(statistic, key)
                if year is not None and not first <= year <= last:
                    problems.append(
                        Problem(
                            f"{section}.{name}.statistic.{key}",
                            f"{year} is outside the scenario's years {first}-{last} ({scenario.name}: start_year and horizon_years)",
                        )
                    )
    return problems


__all__ = [
    "KEEP_POLICIES",
    "PAIRING",
    "Calibration",
    "Method",
    "Statistic",
    "Target",
    "arms_needed",
    "identity",
    "load_calibration",
]
