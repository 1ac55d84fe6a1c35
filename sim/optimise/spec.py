"""Optimisation files (experiments/optimise_*.yaml): the scenario, the budget, the levers, the objectives and how many
simulations the search may spend.

Validated like scenario, experiment and calibration files: every problem is one line ``file: field: message`` of one
:class:`~sim.errors.InputError` (exit 2), found when the file is loaded, never in the middle of a search.
docs/OPTIMISE.md explains the method each section feeds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from sim.errors import InputError, did_you_mean, require_file
from sim.experiment import PosteriorParameters, file_hash
from sim.outcome_registry import OUTCOMES
from sim.pairing.config import Policy
from sim.pairing.registry import flows as registered_flows
from sim.pairing.registry import policy_types
from sim.scenario import Scenario, load_scenario, read_yaml_mapping, scenario_file, validate_model
from sim.schema import HorizonYears, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Strict

HEURISTICS = ("greedy", "typed", "random")
"""The shipped ways of matching a plan the optimised plans are judged against: the need rank (``matching: greedy``),
Xiuzhou's typed rule for city-village pairs (``typed: true``), and chance (``matching: random``)."""

TARGETING_WEIGHTS = ("need", "strength", "proximity")
"""What a link's benefit estimate weighs: the village's need, the donor's strength, and how close the two are."""


class Bounds(Strict):
    """A lever's range: the search chooses a value in [low, high]; a plain number fixes it (low = high)."""

    example = "50000 or {low: 0, high: 100000}"

    low: NonNegativeFloat
    high: NonNegativeFloat

    @model_validator(mode="before")
    @classmethod
    def _number_fixes(cls, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, (int, float, dict, Bounds)):
            raise ValueError(f"must be a number or {{low, high}}, got {data!r}")  # noqa: TRY004 (pydantic reports only ValueError)
        return {"low": data, "high": data} if isinstance(data, (int, float)) else data

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if not self.low <= self.high:
            raise ValueError(f"low must be at most high, got {self.low} and {self.high}")
        return self

    @property
    def fixed(self) -> bool:
        return self.low == self.high


class PolicyLever(Strict):
    """One policy type the plan may use: how many pairs, what each pair plans to move, and each donor's limit."""

    example = "{type: city_village, name: 城乡联建, pairs: {low: 0, high: 110}, flows: {funds: {low: 0, high: 100000}}}"

    type: str = Field(description="a policy type of the scenario's pairing (sim.pairing.registry.policy_types())")
    name: str | None = Field(None, description="the policy's label in the plan (default: the type)")
    pairs: Bounds = Field(description="joint branches of this type: a number, or {low, high} for the search to choose")
    flows: dict[str, Bounds] = Field({}, description="each pair's planned flows a year: a number, or {low, high}")
    donors_per_pair: PositiveInt = Field(
        1, description="for a type with one branch per donor (industry_chain): villages per branch; else 1 (one donor a village)"
    )
    max_pairs_per_donor: PositiveInt | None = Field(
        None,
        description="most pairs one donor takes in this policy, in place of the type's own capacity rule (for cadre_dispatch "
        "that rule is the department's cadres, so a larger number posts cadres it does not have)",
    )
    typed: Literal["never", "always", "search"] = Field(
        "never",
        description="city_village only: Xiuzhou's typed rule (donor type fits the village's problem) off, on, or searched",
    )

    @field_validator("type")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in policy_types():
            raise ValueError(f"unknown policy type {value!r}{did_you_mean(value, list(policy_types()))}")
        return value

    @field_validator("pairs")
    @classmethod
    def _whole_pairs(cls, pairs: Bounds) -> Bounds:
        for value in (pairs.low, pairs.high):
            if value != int(value):
                raise ValueError(f"pairs must be whole numbers, got {value}")
        return pairs

    @field_validator("flows")
    @classmethod
    def _known_flows(cls, flows: dict[str, Bounds]) -> dict[str, Bounds]:
        for name in flows:
            if name not in registered_flows():
                raise ValueError(f"unknown flow {name!r}{did_you_mean(name, list(registered_flows()))}")
        return flows

    @model_validator(mode="after")
    def _typed_city_village(self) -> PolicyLever:
        if self.typed != "never" and self.type != "city_village":
            raise ValueError("typed: Xiuzhou's typed rule applies to city_village policies only")
        return self

    @property
    def label(self) -> str:
        return self.name or self.type


TEMPLATE_FIELDS = ("donor_counties", "recipient_counties", "settings", "rotation_months")
"""What a chosen policy takes from the scenario's policy of the same label (or type): where its donors and villages may
be, and the type's own settings (unit costs among them)."""


def template_policy(scenario: Scenario, lever: PolicyLever) -> Policy | None:
    """The scenario's policy a chosen policy takes its counties and settings from: the one of the same label, else the
    first of the same type (``None``: the scenario has none)."""
    policies = scenario.pairing.policies
    return next((p for p in policies if p.label == lever.label and p.type == lever.type), None) or next(
        (p for p in policies if p.type == lever.type), None
    )


def template_fields(scenario: Scenario | None, lever: PolicyLever) -> dict[str, Any]:
    """The fields of :data:`TEMPLATE_FIELDS` the scenario's matching policy sets (empty without one)."""
    template = template_policy(scenario, lever) if scenario is not None else None
    if template is None:
        return {}
    return {name: getattr(template, name) for name in TEMPLATE_FIELDS if name in template.model_fields_set}


def lever_policy(lever: PolicyLever, scenario: Scenario | None, pairs: int, flows: dict[str, float], typed: bool) -> Policy:
    """The scenario policy a lever stands for at given values: ``pairs`` branches (matched; a plan names them later),
    ``flows`` per branch, and its counties and settings from the scenario's policy of the same label or type."""
    data = {
        "type": lever.type,
        "name": lever.label,
        "pairs": pairs,
        "donors_per_pair": lever.donors_per_pair,
        "typed": typed,
        "flows": {name: float(amount) for name, amount in flows.items()},
        **template_fields(scenario, lever),
    }
    return Policy.model_validate(data)


class Budget(Strict):
    """What the plan may spend and how thinly villages may be served."""

    example = "{yuan_per_year: 10000000}"

    yuan_per_year: PositiveFloat = Field(description="most the plan's donors may spend a year, planned, yuan (start-year prices)")
    max_policies_per_village: PositiveInt = Field(1, description="most policies that may pair one village")
    donor_funds_limit: bool = Field(
        True, description="a donor's planned funds a year may not exceed what it can give (its kind's fund capacity)"
    )


class Levers(Strict):
    """What the search chooses: the policies (pairs and flows) and the targeting weights of the assignment layer."""

    example = "{policies: [{type: city_village, pairs: {low: 0, high: 110}}], targeting: {need: {low: 0, high: 1}}}"

    policies: list[PolicyLever] = Field(min_length=1)
    targeting: dict[str, Bounds] = Field(
        default_factory=lambda: {name: Bounds(low=0.0, high=1.0) for name in TARGETING_WEIGHTS},
        description="weights of need, strength and proximity in a link's benefit estimate: numbers or {low, high} in [0, 1]",
    )

    @field_validator("targeting")
    @classmethod
    def _weights(cls, targeting: dict[str, Bounds]) -> dict[str, Bounds]:
        for name, lever in targeting.items():
            if name not in TARGETING_WEIGHTS:
                raise ValueError(f"unknown targeting weight {name!r}{did_you_mean(name, TARGETING_WEIGHTS)}")
            if lever.high > 1:
                raise ValueError(f"{name}: a weight lies in [0, 1], got {lever.high}")
        return {name: targeting.get(name, Bounds(low=0.0, high=0.0)) for name in TARGETING_WEIGHTS}

    @model_validator(mode="after")
    def _labels(self) -> Levers:
        labels = [policy.label for policy in self.policies]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"policies: two policies share the label {repeated[0]!r}; give each a 'name'")
        return self


class Objectives(Strict):
    """What a plan is judged by: the final-year fall of outcomes from the no-pairing run (seed by seed), summarised
    across seeds and posterior draws, against its planned cost a year (always the last objective)."""

    example = "{falls: [gini], statistic: mean}"

    falls: list[str] = Field(
        ["gini"],
        min_length=1,
        description="outcomes whose final-year fall from no pairing is maximised; the first draws the front",
    )
    statistic: Literal["mean", "quantile", "regret"] = Field(
        "mean",
        description="across seeds and draws: the mean fall, a low quantile of it, or minus the mean regret against the best "
        "heuristic of the same seed and draw",
    )
    quantile: float = Field(
        0.1, gt=0, lt=1, description="statistic quantile: which quantile of the fall (0.1: the 10th percentile)"
    )

    @field_validator("falls")
    @classmethod
    def _known(cls, falls: list[str]) -> list[str]:
        for name in falls:
            if name not in OUTCOMES:
                raise ValueError(f"unknown outcome {name!r}{did_you_mean(name, OUTCOMES)}")
            if OUTCOMES[name].better not in ("lower", "higher"):
                raise ValueError(f"{name} has no better direction, so it has no fall to maximise")
        if len(set(falls)) < len(falls):
            raise ValueError("names an outcome twice")
        return falls


class Search(Strict):
    """How the outer search spends its simulations."""

    example = "{sampler: tpe, simulations: 240, seeds: 4, batch: 4}"

    sampler: Literal["tpe", "random"] = Field(
        "tpe", description="optuna's multi-objective TPE, or uniform random plans (a control for the search itself)"
    )
    simulations: PositiveInt = Field(
        description="runs the search may spend, the no-pairing and heuristic runs on its seeds included"
    )
    seeds: PositiveInt = Field(
        4, description="seeds (with a posterior: seed and draw pairs) every plan is run on: common random numbers"
    )
    batch: PositiveInt = Field(4, description="plans proposed at once and run in parallel before the sampler learns from them")
    candidate_villages: PositiveInt = Field(
        3, description="the assignment considers this many villages per pair asked, the highest ranked by the targeting weights"
    )


class Check(Strict):
    """The out-of-sample check: the chosen plans against the heuristics on seeds (and draws) the search never saw."""

    example = "{seeds: 20, plans: 3}"

    seeds: PositiveInt = Field(20, description="unseen seeds (with a posterior: unseen seed and draw pairs), at least 2")
    plans: PositiveInt = Field(3, description="plans of the front to check: the best fall within budget and the next ones")
    heuristics: list[Literal["greedy", "typed", "random"]] = Field(list(HEURISTICS), min_length=1)

    @field_validator("heuristics")
    @classmethod
    def _once_each(cls, heuristics: list[str]) -> list[str]:
        if len(set(heuristics)) < len(heuristics):
            raise ValueError("names a heuristic twice")
        return heuristics

    @field_validator("seeds")
    @classmethod
    def _two(cls, seeds: int) -> int:
        if seeds < 2:
            raise ValueError(f"must be at least 2 for a paired interval, got {seeds}")
        return seeds


class Optimisation(Strict):
    """An optimisation file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    scenario: str = Field(description="scenario YAML file, relative to this file; its policies are the heuristics' plan")
    seed: NonNegativeInt = 1
    horizon_years: HorizonYears | None = Field(None, description="overrides the scenario's horizon (at most 30 years)")
    posterior: PosteriorParameters | None = Field(
        None, description="calibrated posterior draws: the search runs the first 'draws', the check the ones after them"
    )
    budget: Budget
    levers: Levers
    objectives: Objectives = Objectives()
    search: Search
    check: Check = Check()

    @model_validator(mode="after")
    def _enough_simulations(self) -> Optimisation:
        fixed = (1 + len(self.check.heuristics)) * self.search.seeds  # no pairing and each heuristic, on the search seeds
        if self.search.simulations < fixed + self.search.seeds:
            raise ValueError(
                f"search.simulations: {self.search.simulations} leaves no plan to try: the no-pairing run and "
                f"{len(self.check.heuristics)} heuristics on {self.search.seeds} seeds take {fixed}; give at least "
                f"{fixed + self.search.seeds}"
            )
        return self

    @property
    def trials(self) -> int:
        """Plans the search tries: its simulations less the no-pairing and heuristic runs, over the seeds each plan takes."""
        fixed = (1 + len(self.check.heuristics)) * self.search.seeds
        return (self.search.simulations - fixed) // self.search.seeds


def load_optimisation(path: str | Path) -> Optimisation:
    """Load and validate an optimisation YAML, its scenario and (if named) its posterior sample."""
    path = Path(path)
    source = str(path)
    require_file(path, "optimisation", "an optimisation YAML file")
    optimisation = validate_model(Optimisation, read_yaml_mapping(path), source)
    scenario_path = scenario_file(source, "scenario", path.parent, optimisation.scenario)
    scenario = load_scenario(scenario_path)
    _check_levers(optimisation, scenario, source)
    update: dict = {"scenario": str(scenario_path)}
    if optimisation.posterior is not None:
        update["posterior"] = _checked_posterior(optimisation, path.parent, source)
    return optimisation.model_copy(update=update)


def _check_levers(optimisation: Optimisation, scenario: Scenario, source: str) -> None:
    """Levers that the scenario or the heuristics cannot honour are bad input now, not a failed search later: every
    policy must be a valid scenario policy at the low and at the high end of its flows."""
    for i, lever in enumerate(optimisation.levers.policies):
        where = f"levers.policies[{i}]"
        for end in ("low", "high"):
            flows = {name: getattr(span, end) for name, span in lever.flows.items()}
            try:
                lever_policy(lever, scenario, 1, flows, lever.typed == "always")
            except ValidationError as error:
                message = error.errors()[0]["msg"].removeprefix("Value error, ")
                raise InputError.single(source, where, f"with its flows at their {end} ends: {message}") from None
    if "typed" in optimisation.check.heuristics and not any(p.type == "city_village" for p in scenario.pairing.policies):
        raise InputError.single(
            source,
            "check.heuristics",
            f"'typed' is Xiuzhou's rule for city_village pairs; {Path(optimisation.scenario).name} has none",
        )
    if not scenario.pairing.policies:
        raise InputError.single(source, "scenario", "has no pairing policies: the heuristics run the scenario's own plan")


def _checked_posterior(optimisation: Optimisation, folder: Path, source: str) -> PosteriorParameters:
    """The posterior entry with its file made absolute, after checking that it holds the search's and the check's draws."""
    from sim.experiment import Experiment, posterior_table

    posterior = optimisation.posterior.model_copy(
        update={"posterior": str((folder / optimisation.posterior.posterior).resolve())}
    )
    fields = {"parameters.posterior": "posterior", "parameters.draws": "posterior.draws"}
    try:
        table = posterior_table(Experiment(name="check", scenarios=["x"], parameters=posterior), source)
    except InputError as error:
        problem = error.problems[0]
        raise InputError.single(source, fields.get(problem.field, problem.field), problem.message) from None
    needed = posterior.draws + optimisation.check.seeds
    if len(table) < needed:
        raise InputError.single(
            source,
            "posterior.draws",
            f"the search's {posterior.draws} draws and the check's {optimisation.check.seeds} unseen ones need {needed} "
            f"draws; {posterior.posterior} has {len(table)}",
        )
    return posterior


IDENTITY_EXCLUDES = {"description": True, "check": {"plans"}}
"""What never changes a saved run: the description, and how many of the front's plans the check takes (a plan's check
runs are named by its trial)."""


def identity_data(optimisation: Optimisation) -> dict:
    """What decides an optimisation's runs, the scenario's and posterior's contents instead of where they lie."""
    data = optimisation.model_dump(mode="json", exclude=IDENTITY_EXCLUDES)
    data["scenario"] = file_hash(optimisation.scenario)
    if optimisation.posterior is not None:
        data["posterior"]["posterior"] = file_hash(optimisation.posterior.posterior)
    return data


def identity(optimisation: Optimisation) -> str:
    """Hash of :func:`identity_data`: a results folder of another optimisation is refused rather than mixed."""
    return hashlib.sha256(json.dumps(identity_data(optimisation), sort_keys=True, default=str).encode()).hexdigest()


def changed_settings(before: dict, after: dict, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two :func:`identity_data` dumps (for the refusal's message)."""
    changed = []
    for key in sorted(set(before) | set(after)):
        one, other = before.get(key), after.get(key)
        if isinstance(one, dict) and isinstance(other, dict):
            changed += changed_settings(one, other, f"{prefix}{key}.")
        elif one != other:
            changed.append(f"{prefix}{key}")
    return changed


__all__ = [
    "HEURISTICS",
    "TARGETING_WEIGHTS",
    "Bounds",
    "Budget",
    "Check",
    "Levers",
    "Objectives",
    "Optimisation",
    "PolicyLever",
    "Search",
    "changed_settings",
    "identity",
    "identity_data",
    "lever_policy",
    "load_optimisation",
    "template_fields",
]
