"""Pydantic building blocks shared by every input schema (scenarios, pairing, experiments)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Rate = Annotated[float, Field(ge=-0.5, le=1)]
"""A yearly growth rate: -50 % to +100 % a year covers every plausible trend."""


class Strict(BaseModel):
    """Base for every schema block: unknown keys are errors, values are frozen.

    Strict types: ``count: true`` or ``mean: "8274"`` are errors, not silently
    converted; infinities and NaN are rejected.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
