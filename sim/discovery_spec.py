"""Discovery settings: which outcome, which arms, which condition marks "pairing failed" at a design point, and how
PRIM and CART look for the parameter boxes where it holds (``pairsim discover``, :mod:`sim.discovery`).

The settings come from an experiment's optional ``discovery:`` section (recorded in its results folder's manifest) or
from a discovery YAML given with ``--spec``. Validated like every other input file: each problem is one line
``file: field: message`` of one :class:`~sim.errors.InputError`. This module imports no EMA Workbench and no
simulation, so an experiment file with a discovery section loads as fast as one without.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.errors import InputError, did_you_mean, require_file
from sim.outcome_registry import OUTCOMES
from sim.scenario import read_yaml_mapping, validate_model
from sim.schema import Strict

REFERENCE = "baseline"
"""The default reference arm: the no-pairing baseline (``sim.experiment.BASELINE``; not imported, as the experiment
schema imports this module)."""


class Condition(Strict):
    """What marks a design point (or posterior draw) as one where pairing failed: exactly one of the two keys."""

    example = "{fall_below: 0.001} or {not_significant: true}"

    fall_below: float | None = Field(
        None,
        description="the arm's final-year improvement over the reference (reference - arm for lower-is-better outcomes), "
        "averaged over the point's replications, is below this",
    )
    not_significant: Literal[True] | None = Field(
        None, description="the paired 95 % t interval of the point's improvement over its replications reaches 0"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [name for name in ("fall_below", "not_significant") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'fall_below' and 'not_significant', got {', '.join(given) or 'neither'}")
        return self

    def describe(self, outcome: str) -> str:
        """The condition in words, e.g. "the Gini (gini) fell by less than 0.001"."""
        moved = "fell" if OUTCOMES[outcome].better == "lower" else "rose"
        if self.fall_below is not None:
            return f"{outcome} {moved} by less than {self.fall_below:g} (mean over the point's replications)"
        return f"the paired effect on {outcome} was not significant (its 95 % t interval over the point's replications reaches 0)"


class Discovery(Strict):
    """A discovery section (an experiment's ``discovery:``) or a discovery file (``pairsim discover --spec``)."""

    example = "{outcome: gini, condition: {not_significant: true}}"

    outcome: str = Field(description="a registered outcome with a better direction, e.g. gini")
    arm: str | None = Field(None, description="the pairing arm judged (default: the results' only arm besides the reference)")
    reference: str = Field(REFERENCE, description="the arm it is compared with, paired by replication")
    scenario: str | None = Field(None, description="the scenario file's stem (default: the results' only scenario)")
    condition: Condition
    method: Literal["prim", "cart", "both"] = "both"
    peel_alpha: float = Field(0.05, gt=0, le=0.5, description="PRIM: share of the points peeled off at each step")
    mass_min: float = Field(0.05, gt=0, lt=1, description="PRIM and CART: smallest share of the points a box (leaf) holds")
    threshold: float = Field(
        0.8, gt=0, le=1, description="PRIM: the density the chosen box must reach; of those, the one with the highest coverage"
    )

    @field_validator("outcome")
    @classmethod
    def _outcome_with_direction(cls, outcome: str) -> str:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}{did_you_mean(outcome, OUTCOMES)}")
        if OUTCOMES[outcome].better is None:
            raise ValueError(
                f"{outcome!r} has no agreed better direction, so whether pairing failed cannot be judged; "
                "use an outcome with one, e.g. gini, urban_rural_ratio, rural_income_pc or weak_villages"
            )
        return outcome

    @model_validator(mode="after")
    def _two_arms(self) -> Discovery:
        if self.arm is not None and self.arm == self.reference:
            raise ValueError(f"arm and reference are both {self.arm!r}; compare two different arms")
        return self


def load_discovery(path: str | Path) -> Discovery:
    """Read and validate a discovery YAML (its top level is a :class:`Discovery`)."""
    path = Path(path)
    require_file(path, "discovery", "a discovery YAML file")
    return validate_model(Discovery, read_yaml_mapping(path), str(path))


def check_discovery_names(
    discovery: Discovery, arms: list[str], outcomes: list[str], scenarios: list[str], source: str, where: str = ""
) -> None:
    """One line when ``discovery`` names an arm, a reference, an outcome or a scenario (file stem) that ``arms``,
    ``outcomes`` and ``scenarios`` (an experiment's, or a results folder's) lack; ``where`` is the field path of the
    section (``discovery`` in an experiment file, "" in a discovery file)."""
    prefix = f"{where}." if where else ""
    for field in ("arm", "reference"):
        name = getattr(discovery, field)
        if name is not None and name not in arms:
            raise InputError.single(
                source, f"{prefix}{field}", f"no arm {name!r}{did_you_mean(name, arms)}; the arms: {', '.join(arms)}"
            )
    if discovery.outcome not in outcomes:
        raise InputError.single(
            source,
            f"{prefix}outcome",
            f"{discovery.outcome!r} is not among the kept outcomes{did_you_mean(discovery.outcome, outcomes)}; "
            f"they are: {', '.join(outcomes)}",
        )
    if discovery.scenario is not None and discovery.scenario not in scenarios:
        raise InputError.single(
            source,
            f"{prefix}scenario",
            f"no scenario {discovery.scenario!r}{did_you_mean(discovery.scenario, scenarios)}; "
            f"the scenarios (file stems): {', '.join(scenarios)}",
        )


__all__ = ["REFERENCE", "Condition", "Discovery", "check_discovery_names", "load_discovery"]
