"""The ``pairing:`` section of a scenario: policies, their flows, failure modes and governance.

Each policy says who pairs with whom (``type``, ``pairs``, ``matching``) and what
each pair plans to move in a year (``flows``). Failure modes and governance
apply to every policy and can each be set to zero. docs/ODD.md gives the source
of every default.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.errors import did_you_mean
from sim.pairing.registry import flows, policy_types
from sim.schema import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Share, Strict, repeated_names

MatchingAlgorithm = Literal["greedy", "random", "optimal"]


def one_of(value: str, options: list[str]) -> str:
    """Pydantic's wording for a value outside a fixed set of choices, with the closest choice."""
    quoted = [repr(option) for option in options]
    choices = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)
    return f"must be {choices}, got {value!r}{did_you_mean(value, options)}"


class Flows(Strict):
    """What one pair plans to move in a year (before effort, donor limits and leakage).

    The fields are the built-in flows; a flow added to the registry (:func:`sim.pairing.registry.register_flow`) is
    planned under its own name as an extra key.
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, NonNegativeFloat]

    funds: NonNegativeFloat = Field(0.0, description="yuan a year to the village collective and public projects")
    trainees: NonNegativeFloat = Field(0.0, description="villagers trained a year")
    jobs: NonNegativeFloat = Field(0.0, description="villagers hired a year by the donor (enterprises only)")
    cadre_months: NonNegativeFloat = Field(0.0, description="months of seconded cadres' presence a year")
    technology: NonNegativeFloat = Field(0.0, description="new varieties/techniques introduced a year")
    market_savings: NonNegativeFloat = Field(
        0.0, description="yuan a year saved per household of the village through joint buying and selling (人均节约600元)"
    )
    problems_solved: NonNegativeFloat = Field(0.0, description="village problems solved a year")

    @model_validator(mode="after")
    def _registered(self) -> Flows:
        for name in self.model_extra or {}:
            if name not in flows():
                raise ValueError(f"unknown flow {name!r}{did_you_mean(name, list(flows()))}; flows: {', '.join(flows())}")
        return self

    def amount(self, flow: str) -> float:
        """The yearly plan of one flow (0 when the scenario does not plan it)."""
        return float(getattr(self, flow, 0.0))


class Rounds(Strict):
    """Forming a policy's pairs again over time, and what forming costs (docs/ODD.md 7.28; sim/pairing/rounds.py).

    A round runs the policy's candidate rule on the county as it is then, so villages that became weak since are
    targeted, and tops the policy up to ``pairs`` active branches. Villages that left weak status keep their pairs
    until governance graduates them (不脱钩, then the taper); their places are filled at the next round.
    """

    every_months: PositiveInt | None = Field(
        12, description="months between rounds (12: yearly); null: formed once, at the start, still paying its set-up"
    )
    replace_ended: bool = Field(
        True, description="a round fills the places of pairs ended for poor performance (false: those places are lost)"
    )
    dissolve_each_round: bool = Field(
        False, description="each round dissolves every active pair of the policy and forms new ones (建了散、散了建)"
    )
    setup_cost: NonNegativeFloat = Field(
        5_000, description="donors' cost of forming one joint branch (agreement, first meetings, needs survey), yuan"
    )
    ramp_up_months: NonNegativeInt = Field(
        3, description="months a new link takes to deliver its whole plan (it delivers age / (ramp_up_months + 1) before)"
    )


class ExplicitPair(Strict):
    """A pair named in the scenario instead of matched: a donor organisation and a village, by name."""

    donor: str
    village: str


class Policy(Strict):
    """One pairing programme: which organisations pair with which villages, how matched, what flows."""

    type: str = Field(description="a registered policy type (sim.pairing.registry.policy_types())")
    name: str | None = None
    pairs: PositiveInt | None = Field(None, description="joint branches to create (one per recipient village, or per chain)")
    donors_per_pair: PositiveInt = Field(
        1, description="donors per village (many-to-one when above 1); for industry_chain, villages per cooperative"
    )
    explicit: list[ExplicitPair] = Field([], description="pairs named in the scenario, used instead of matching")
    matching: MatchingAlgorithm = "greedy"
    typed: bool = Field(False, description="city_village only: Xiuzhou's rule, donor type must fit the village's problem")
    rotation_months: PositiveInt = Field(24, description="cadre_dispatch only: months a first secretary stays")
    donor_counties: list[str] | None = Field(None, description="counties whose organisations may give; None: all")
    recipient_counties: list[str] | None = Field(None, description="counties whose villages may receive; None: all")
    flows: Flows = Flows()
    rounds: Rounds | None = Field(None, description="forming pairs again over time (None: formed once, at the start)")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="the policy type's own parameters (its registry entry's settings model)"
    )

    @model_validator(mode="before")
    @classmethod
    def _type_settings(cls, data: Any) -> Any:
        """Check ``settings`` against the policy type's own model and keep its full dump, defaults filled in.

        The dump (not just what the file wrote) is what ``settings`` holds, so dotted overrides and calibration priors
        can name any setting. An unknown ``type`` is left to the type's own check.
        """
        if not isinstance(data, dict) or not isinstance(data.get("type"), str) or data["type"] not in policy_types():
            return data
        model = policy_types()[data["type"]].settings
        given = data.get("settings", {})
        if model is None:
            if given:
                raise ValueError(f"settings: policy type {data['type']!r} takes no settings, got {given!r}")
            return data
        if not isinstance(given, dict):
            raise ValueError(f"settings: must be a mapping of {data['type']}'s settings, got {given!r}")  # noqa: TRY004 (pydantic reports only ValueError)
        try:
            options = model.model_validate(given)
        except ValidationError as exc:
            raise ValueError(_one_line(exc, data["type"], model)) from None
        return {**data, "settings": options.model_dump()}

    @field_validator("donor_counties", "recipient_counties")
    @classmethod
    def _some_counties(cls, counties: list[str] | None) -> list[str] | None:
        if counties is not None:
            if not counties:
                raise ValueError("must name at least one county (leave it out for every county)")
            if repeated := repeated_names(counties):
                raise ValueError(f"names a county twice: {', '.join(repeated)}")
        return counties

    @field_validator("type")
    @classmethod
    def _registered_type(cls, value: str) -> str:
        if value not in policy_types():
            raise ValueError(one_of(value, list(policy_types())))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if (self.pairs is None) == (not self.explicit):
            raise ValueError("give exactly one of 'pairs' (matched by the model) or 'explicit' (named pairs)")
        if self.rounds is not None and self.explicit:
            raise ValueError("rounds: a policy of named pairs ('explicit') is formed once; rounds need 'pairs' (matched)")
        problem = policy_types()[self.type].check(self)
        if problem:
            raise ValueError(problem)
        for name, flow in flows().items():
            if flow.carried_by and self.type not in flow.carried_by and self.flows.amount(name) > 0:
                carriers = " or ".join(flow.carried_by)
                raise ValueError(f"flows.{name}: moves only along {carriers} pairs, not {self.type}; plan it on such a policy")
        return self

    @property
    def label(self) -> str:
        return self.name or self.type

    @cached_property
    def options(self) -> BaseModel | None:
        """The validated settings of this policy's type (``None`` when the type takes none)."""
        model = policy_types()[self.type].settings
        return None if model is None else model.model_validate(self.settings)


def _one_line(exc: ValidationError, policy_type: str, model: type[BaseModel]) -> str:
    """A settings error as one message naming each bad setting (``settings.<name>``) and what it expects."""
    problems = []
    for error in exc.errors():
        where = ".".join(["settings", *(str(part) for part in error["loc"])])  # a check of the whole model has no loc
        if error["type"] == "extra_forbidden":
            name = str(error["loc"][-1])
            allowed = list(model.model_fields)
            problems.append(
                f"{where}: unknown setting of {policy_type}{did_you_mean(name, allowed)} (allowed: {', '.join(allowed)})"
            )
            continue
        message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
        problems.append(f"{where}: {message}, got {error.get('input')!r}")
    return "; ".join(problems)


class Effects(Strict):
    """What one unit of each flow does to the receiving village, and what it costs the donors (docs/ODD.md 7.19, 7.22)."""

    funds_to_capital: Share = Field(
        0.4, description="share of received, uncaptured funds put into collective projects (collective capital)"
    )
    funds_to_households: Share = Field(
        0.3, description="share of received, uncaptured funds given as production assets to the village's poorer households"
    )
    support_return: NonNegativeFloat = Field(0.15, description="yearly return on production assets given to households")
    support_depreciation: Share = Field(0.1, description="share of production assets worn out a year")
    support_poorest_share: Share = Field(0.4, description="the poorest share of a village's households given production assets")
    training_gain: NonNegativeFloat = Field(0.10, description="skill gain of a first training, as a share of base skill")
    training_saturation: NonNegativeFloat = Field(
        0.5, description="skill gain (share of base) at which further training stops helping"
    )
    cadre_leadership_gain: NonNegativeFloat = Field(0.15, description="leadership added while a seconded cadre is present")
    cadre_lasting_share: Share = Field(0.02, description="share of the present-cadre gain kept per month of presence")
    technology_gain: NonNegativeFloat = Field(
        0.01, description="farm output lift a technique adds to a village with no lift yet, as a share"
    )
    technology_cap: PositiveFloat = Field(
        0.30, description="most farm output lift the techniques pairs bring can reach, as a share"
    )
    technology_depreciation: Share = Field(
        0.15, description="share of the technology lift lost a year (varieties are superseded)"
    )
    market_savings_cap: Share = Field(
        0.05, description="most a farming household saves through pairs' market access, as a share of its farm output"
    )
    training_cost: NonNegativeFloat = Field(300, description="donor's cost per person trained, yuan")
    cadre_monthly_cost: NonNegativeFloat = Field(3_000, description="donor's cost of a seconded cadre for a month, yuan")
    hiring_cost: NonNegativeFloat = Field(1_000, description="donor's cost per villager hired (recruiting and induction), yuan")
    technology_cost: NonNegativeFloat = Field(
        50_000, description="donor's cost per technique introduced (experts' days, demonstration plot, materials), yuan"
    )
    market_access_cost: NonNegativeFloat = Field(
        0.2, description="donor's cost of organising joint buying and selling, yuan per yuan households save"
    )
    enterprise_giving_share: Share = Field(
        0.1, description="most an enterprise gives a month, as a share of its wage bill (a profit proxy)"
    )
    strong_village_giving_share: Share = Field(
        0.3, description="most a strong village gives a month, as a share of its collective income"
    )

    @model_validator(mode="after")
    def _funds_shares(self) -> Effects:
        if self.funds_to_capital + self.funds_to_households > 1.0:
            raise ValueError(
                f"funds_to_capital + funds_to_households must be at most 1 (the rest builds public works), "
                f"got {self.funds_to_capital} + {self.funds_to_households}"
            )
        return self

    @property
    def funds_to_works(self) -> float:
        """The share of received, uncaptured funds that builds public works."""
        return 1.0 - self.funds_to_capital - self.funds_to_households


class FailureModes(Strict):
    """The ways pairing goes wrong (docs/ODD.md 7.20; [China 2022]); zero switches each off."""

    formalism: Share = Field(0.03, description="monthly decay of a pair's effort when it is not monitored")
    leakage: Share = Field(0.1, description="share of funds diverted before they reach the village (截留或抵顶)")
    dependency: NonNegativeFloat = Field(
        0.2, description="fall in the village's own effort per unit of aid relative to its income"
    )
    elite_capture: Share = Field(0.2, description="share of benefits captured by the better-off households (村里的变家里的)")
    talent_drain: NonNegativeFloat = Field(
        1.0, description="extra migration propensity of trained workers, per unit of skill gained"
    )
    strong_first: Share = Field(
        0.0, description="weight on strength instead of need when choosing recipients (首先从...坚强有力)"
    )
    short_horizons: Share = Field(
        0.03, description="monthly chance a link's key person leaves and the successor starts at half the effort"
    )
    donor_cost: Share = Field(
        0.01, description="share of a strong donor village's own farm output lost to helping (种了别人的田,荒了自己的地)"
    )


class Governance(Strict):
    """Quarterly ratings, rectification, termination and support after exit."""

    accountability: Share = Field(
        0.7, description="chance a pair is really monitored at a quarterly rating; scales how much ratings matter"
    )
    rating_noise: NonNegativeFloat = Field(
        0.5, description="sd of the noise on observed progress, relative to the good/poor cut-offs"
    )
    rectification_months: PositiveInt = Field(3, description="deadline to fix a poor rating, with effort restored")
    poor_ratings_to_end: PositiveInt = Field(2, description="consecutive poor ratings that end a pair (一律终止)")
    exit_support_years: NonNegativeInt = Field(
        2, description="years support continues unchanged after a village leaves weak status (不脱钩)"
    )
    exit_taper_years: NonNegativeInt = Field(
        3, description="years over which support then falls linearly to nothing before the pair graduates"
    )
    satisfaction_memory_months: PositiveInt = Field(
        12, description="months over which villagers remember what pairs delivered (their satisfaction's smoothing)"
    )
    satisfaction_noticeable_share: float = Field(
        0.05,
        gt=0,
        le=1,
        description="pairing income, as a share of a household's own income, at which the household notices it fully",
    )
    satisfaction_problem_weight: Share = Field(
        0.5, description="weight of problems solved (against income noticed) in a village's satisfaction"
    )
    dissatisfaction_cutoff: Share = Field(
        0.0,
        description="satisfaction below which a village's pairs are rated poor (不满意的,一律终止); 0 switches it off",
    )


class Pairing(Strict):
    """Every pairing policy of a scenario; an empty list means no pairing (the baseline)."""

    policies: list[Policy] = Field(default_factory=list)
    effects: Effects = Effects()
    failure: FailureModes = FailureModes()
    governance: Governance = Governance()
    max_policies_per_village: PositiveInt | None = Field(
        None, description="a village served by this many policies' active pairs is not paired again (None: no limit)"
    )
