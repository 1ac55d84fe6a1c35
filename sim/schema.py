"""Pydantic building blocks shared by every input schema (scenarios, pairing, experiments)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Rate = Annotated[float, Field(ge=-0.5, le=1)]
"""A yearly growth rate: -50 % to +100 % a year covers every plausible trend."""


# --------------------------------------------------------------------------- plausibility bounds
# Each bound is documented, with its source or reason, in docs/ODD.md (section 9, "Limits on
# sizes and horizon") and scenarios/README.md. A value beyond one is refused with the reason.

CHINA_POPULATION = 1_411_780_000
"""China's mainland population at the seventh census (2020): "1.41178 billion" (National Bureau of Statistics, reported
at http://english.www.gov.cn/archive/statistics/202105/11/content_WS609a23c8c6d0df57f98d9566.html). No county has more
people, so neither its rural nor its urban population, nor the two together, may exceed it."""

CHINA_VILLAGES = 585_000
"""Villagers' committees (administrative villages) in all of China at the end of 2014: "村民委员会58.5万个" (Ministry of
Civil Affairs, 2014年社会服务发展统计公报, quoted at https://m.fbs.qq.com/read/1044028779/7). No county has more villages."""

CHINA_COMMUNITIES = 96_693
"""Residents' committees (urban communities, 社区) in all of China at the end of 2014: "居民委员会96693个" (same source as
:data:`CHINA_VILLAGES`). No county has more communities."""

MAX_TOWNS = 10_000
"""Assumption: a county has tens of towns (Shouguang 14); 10,000 is far above any county and keeps the town grid small."""

MAX_ENTERPRISES = 1_000_000
"""Assumption: far above the enterprises that hire rural workers in any one county; each is an agent with a hiring catchment."""

MAX_ORGANISATIONS = 100_000
"""Assumption: departments (Shouguang: 100, [Shouguang 2010] "100个市直部门单位") or cooperatives of one county number in the
hundreds at most; 100,000 leaves wide room and keeps the donor-by-village pairing matrices small."""

MAX_URBAN_SAMPLE = 1_000_000
"""Assumption (numerical): 4,000 sampled urban households already give stable means and Gini; more only costs memory."""

MAX_HORIZON_YEARS = 30
"""The trends (wage, farm productivity, transfer and poverty-line growth) are calibrated on China's 2009-2019 growth
(docs/ODD.md section 9, "Growth calibration"): compounding them much beyond that gives incomes no scenario describes
(a 100-year run reported a rural income of 167 million yuan a year). 30 years, three times the calibration span,
is the most the model is meant for."""


def at_most(limit: int, reason: str) -> AfterValidator:
    """A validator refusing values above ``limit`` with the reason in the message (e.g. China's population)."""

    def check(value: int) -> int:
        if value > limit:
            raise ValueError(f"must be at most {limit:,} ({reason}), got {value:,}")
        return value

    check.__doc__ = f"at most {limit:,}: {reason}"
    return AfterValidator(check)


POPULATION_REASON = "China's population at the 2020 census; no county has more people"
Population = Annotated[int, Field(gt=0), at_most(CHINA_POPULATION, POPULATION_REASON)]
"""People in one county (rural or urban): positive and no more than China's population."""
HorizonYears = Annotated[
    int, Field(gt=0), at_most(MAX_HORIZON_YEARS, "the growth trends are calibrated on one decade, 2009-2019; see docs/ODD.md")
]
"""Years to simulate: 1 to :data:`MAX_HORIZON_YEARS`."""


def bounded_count(limit: int, reason: str, *, positive: bool = False) -> Any:
    """A whole-number count, positive or non-negative, at most ``limit`` (refused above it with ``reason``)."""
    return Annotated[int, Field(gt=0) if positive else Field(ge=0), at_most(limit, reason)]


class Strict(BaseModel):
    """Base for every schema block: unknown keys are errors, values are frozen.

    Strict types: ``count: true`` or ``mean: "8274"`` are errors, not silently
    converted; infinities and NaN are rejected.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    example: ClassVar[str] = ""
    """How the block is written in YAML, for the message when something else is given (e.g. ``{mean: 8000, cv: 0.4}``)."""

    @classmethod
    def expected_mapping(cls) -> str:
        """'a mapping like {mean: 8000, cv: 0.4}', or one naming the block's keys, required ones first."""
        if cls.example:
            return f"a mapping like {cls.example}"
        fields = sorted(cls.model_fields, key=lambda name: not cls.model_fields[name].is_required())
        more = ", ..." if len(fields) > 5 else ""
        return f"a mapping (keys: {', '.join(fields[:5])}{more})"


def repeated_names(names: list[str]) -> list[str]:
    """The names that appear more than once, sorted (for one validation message naming them all)."""
    return sorted({name for name in names if names.count(name) > 1})
