"""On-site learning (现场跟学): a weak village's secretary and cadres learn in an advanced village with similar conditions.

Lianyungang sends weak villages to learn from "发展环境相近的先进村" and Zhejiang runs "现场跟学" ([China 2022]): the
host is one of the county's advanced (strong) villages, chosen for likeness in industry, size and distance rather than
for strength alone, since what works there must fit at home (farmers are most persuaded by peers who farm under
comparable conditions, [BenYishay 2018]). Each learner-day closes part of the gap between the learner's leadership and
the host's, a gain that saturates at the host's level and leaves with the secretary who learned it; a host of the same
industry also hands on its techniques (the pairing technology stock). Days cost the host its secretary's time and the
learner travel and board. docs/ODD.md 7.26 gives the equations, section 9 the sources of every number.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field, model_validator

from sim.pairing.config import Effects, Policy
from sim.pairing.county import County
from sim.pairing.flows import FlowInputs, Moved, per_link, planned_this_month
from sim.pairing.policies import Candidates, Targeting, eligible_villages, recipient_villages, top, untyped
from sim.pairing.registry import (
    WORKING_DAYS_PER_MONTH,
    CountyCounts,
    Flow,
    PolicyType,
    Prices,
    register_flow,
    register_policy_type,
)
from sim.scenario import Economy
from sim.schema import NonNegativeFloat, PositiveFloat, PositiveInt, Share, Strict

FLOW = "study_days"
POLICY_TYPE = "on_site_learning"


class LearningSettings(Strict):
    """An on-site learning policy's own numbers: who may host, how hosts are matched by likeness, what a day teaches and costs."""

    host_share: Share = Field(
        0.2, description="the most advanced share of the other villages (by strength, 1 - need) that may host learners"
    )
    learners_per_host: PositiveInt = Field(2, description="learner villages one host takes at most")
    industry_weight: NonNegativeFloat = Field(0.5, description="weight of a shared main industry in a host's likeness")
    size_weight: NonNegativeFloat = Field(
        0.2, description="weight of likeness in size (smaller / larger households) in a host's likeness"
    )
    distance_weight: NonNegativeFloat = Field(0.3, description="weight of nearness (exp(-km / distance_scale_km)) in likeness")
    distance_scale_km: PositiveFloat = Field(20.0, description="km over which a host's nearness falls to 1/e")
    leadership_learning_rate: NonNegativeFloat = Field(
        0.003, description="share of the leadership gap to the host closed per learner-day (a day's share, compounding)"
    )
    techniques_per_day: NonNegativeFloat = Field(
        0.02, description="techniques a learner village adopts per learner-day in a host of its own industry"
    )
    cross_industry_adoption: Share = Field(
        0.0, description="share of that adoption when the host's main industry differs (its techniques rarely fit)"
    )
    secretary_monthly_pay: PositiveFloat = Field(
        3_000.0, description="start-year yuan a month of the host village secretary's pay, whose time a learner-day takes"
    )
    host_days_per_learner_day: PositiveFloat = Field(
        0.5, description="days of the host secretary's (or a host cadre's) time one learner-day takes: showing, explaining"
    )
    learner_day_cost: PositiveFloat = Field(
        200.0, description="start-year yuan of the learner's travel, board and lodging a day on site"
    )

    @model_validator(mode="after")
    def _some_likeness(self) -> LearningSettings:
        if self.industry_weight + self.size_weight + self.distance_weight <= 0:
            raise ValueError("industry_weight, size_weight and distance_weight cannot all be 0 (hosts are matched by likeness)")
        return self


DEFAULTS = LearningSettings()


def likeness(
    host_industry: np.ndarray,
    learner_industry: np.ndarray,
    host_households: np.ndarray,
    learner_households: np.ndarray,
    km: np.ndarray,
    settings: LearningSettings,
) -> np.ndarray:
    """Each host–learner link's likeness in [0, 1]: the weighted mean of same industry (1 or 0), size ratio
    (smaller / larger) and nearness ``exp(-km / distance_scale_km)``. Arguments broadcast (hosts down, learners across)."""
    same_industry = (host_industry == learner_industry).astype(float)
    size = np.minimum(host_households, learner_households) / np.maximum(np.maximum(host_households, learner_households), 1)
    nearness = np.exp(-km / settings.distance_scale_km)
    weights = settings.industry_weight + settings.size_weight + settings.distance_weight
    return (
        settings.industry_weight * same_industry + settings.size_weight * size + settings.distance_weight * nearness
    ) / weights


def host_count(others: int, learners: int, settings: LearningSettings) -> int:
    """How many advanced villages may host: the ``host_share`` of the others, and never too few to take every learner."""
    return min(others, max(math.ceil(settings.host_share * others), math.ceil(learners / settings.learners_per_host)))


def on_site_learning(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """The neediest villages learn in the advanced villages most like them (发展环境相近的先进村).

    Learners are the ``pairs`` villages with the highest priority; hosts the strongest (``1 - need``) of the other
    villages, as in strong–weak pairing but more of them (:func:`host_count`), so that likeness, not strength, decides
    which host each learner goes to.
    """
    settings = policy.options
    need, priority = targeting.need, targeting.priority
    learners = top(priority, recipient_villages(county, policy, targeting), policy.pairs)
    others = np.setdiff1d(eligible_villages(county, policy.donor_counties), learners)
    hosts = top(1.0 - need, others, host_count(len(others), policy.pairs * policy.donors_per_pair, settings))
    xy = county.village_xy()
    km = np.hypot(xy[hosts][:, None, 0] - xy[learners][None, :, 0], xy[hosts][:, None, 1] - xy[learners][None, :, 1])
    industry = county.villages["industry"].to_numpy()
    households = county.households.stop - county.households.start
    scores = likeness(
        industry[hosts][:, None],
        industry[learners][None, :],
        households[hosts][:, None],
        households[learners][None, :],
        km,
        settings,
    )
    donors = [county.organisations["village"][v] for v in hosts]
    capacity = np.full(len(donors), settings.learners_per_host, np.int64)
    return Candidates(donors, learners, scores, capacity, np.full(len(learners), policy.donors_per_pair), priority[learners])


def on_site_learning_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    """Hosts against the ``pairs`` learners (for the memory estimate)."""
    return host_count(counts.villages, pairs * policy.donors_per_pair, policy.options) * pairs


def plans_study_days(policy: Policy) -> str | None:
    """Days on site are the point of this pairing: a policy must plan them."""
    if problem := untyped(policy):
        return problem
    if policy.flows.amount(FLOW) <= 0:
        return f"{POLICY_TYPE} needs flows.{FLOW} > 0 (learner-days a year in the host village, e.g. 20)"
    return None


def study_on_site(inputs: FlowInputs) -> Moved:
    """Learner-days in the host village raise the learner's leadership towards the host's and bring home its techniques.

    Only links whose donor is a village move days (a host must be a village); the flow draws no random numbers.
    """
    links, county, effects = inputs.links, inputs.county, inputs.effects
    state = county.state
    if not links.planned[FLOW].any():
        return Moved(np.zeros(len(links)), {FLOW: 0.0})
    days = planned_this_month(links, FLOW) * links.of_kind("village")
    rows = np.flatnonzero(days > 0)  # only these links' donors are villages: other kinds' numbers are no village rows
    host, learner, days_on_site = links.donor_index[rows], links.village[rows], days[rows]

    def setting(name: str) -> np.ndarray:
        return per_link(inputs, name, getattr(DEFAULTS, name))[rows]

    # Leadership: each link closes a share of the gap to its host; with several hosts the gains add, up to the best host.
    gap = np.maximum(state.leadership[host] - state.leadership[learner], 0.0)
    gain = -np.expm1(-setting("leadership_learning_rate") * days_on_site) * gap
    villages = len(state.leadership)
    ceiling = np.zeros(villages)
    np.maximum.at(ceiling, learner, state.leadership[host])
    gained = np.bincount(learner, weights=gain, minlength=villages)
    state.leadership = np.where(
        gained > 0, np.minimum(state.leadership + gained, np.maximum(ceiling, state.leadership)), state.leadership
    )

    # Techniques: a host of the learner's industry hands on its own; another industry's rarely fit.
    industry = county.villages["industry"].to_numpy()
    fit = np.where(industry[host] == industry[learner], 1.0, setting("cross_industry_adoption"))
    techniques = days_on_site * setting("techniques_per_day") * fit
    inputs.stocks.add_techniques(np.bincount(learner, weights=techniques, minlength=villages), effects)
    return Moved(days, {FLOW: float(days.sum())})


def study_day_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """Each learner-day costs the host's secretary's time and the learner's travel and board, at this month's wages.

    Both are indexed by wages: the host's time is paid work, and travel and board standards are revised with pay. The
    unit costs are each link's policy's settings.
    """
    secretary_day_pay = prices.setting("secretary_monthly_pay", DEFAULTS.secretary_monthly_pay) / WORKING_DAYS_PER_MONTH
    host_days = prices.setting("host_days_per_learner_day", DEFAULTS.host_days_per_learner_day)
    learner_day_cost = prices.setting("learner_day_cost", DEFAULTS.learner_day_cost)
    return sent * (host_days * secretary_day_pay + learner_day_cost) * prices.wage_index


def register() -> None:
    """Register on-site learning's entries; :mod:`sim.pairing.builtin` calls this once, in a fixed order among the forms.

    Registering when this module is imported would make the order (donor kinds' codes, flows' turns, the tables'
    columns) depend on which module a process happens to import first."""
    register_flow(
        Flow(FLOW, "learner-days on site", "learner-days", FLOW, study_on_site, study_day_cost, carried_by=(POLICY_TYPE,))
    )
    register_policy_type(
        PolicyType(
            POLICY_TYPE,
            "On-site learning (现场跟学)",
            "#bcbd22",
            ("village",),
            on_site_learning,
            candidate_cells=on_site_learning_cells,
            check=plans_study_days,
            burdens_donor_villages=False,  # the study-day cost already charges the host's time (docs/ODD.md 7.26)
            settings=LearningSettings,
        )
    )
