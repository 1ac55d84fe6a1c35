"""Migrant-member pairing (流动型): branches of members working away paired with their home villages.

Lianyungang organised its 6,419 floating members (2.5 %) in migrant branches in Hangzhou, at sea and abroad, paired
with members at home; Ningxia's migrants' branch was their "娘家" for information, rights and help ([China 2022]).
A branch moves two things along its links: job referrals (a home worker leaves for a job the branch found: more
out-migration, at the referral's wage) and returnee ventures (a migrant comes home and starts a business: fewer
migrants, a larger household operation). So this pairing pushes migration both ways; docs/ODD.md 7.27 has the equations.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from sim.households import HouseholdArrays
from sim.labour import lexsort_order
from sim.pairing.config import Effects, Policy
from sim.pairing.county import County
from sim.pairing.flows import FlowInputs, Moved, per_link, planned_this_month, village_rows
from sim.pairing.policies import Candidates, Targeting, recipient_villages, untyped
from sim.pairing.registry import (
    DonorKind,
    Flow,
    PolicyType,
    Prices,
    donor_kinds,
    register_donor_kind,
    register_flow,
    register_policy_type,
)
from sim.scenario import Economy
from sim.schema import NonNegativeFloat, PositiveFloat, PositiveInt, Strict

if TYPE_CHECKING:
    from sim.agents import MigrantBranch  # built in the builder only: importing it here would import Mesa

POLICY_TYPE = "migrant_members"


class MigrantMembersSettings(Strict):
    """A migrant-member policy's own numbers (``settings:`` of a ``migrant_members`` policy)."""

    branches: PositiveInt = Field(
        3, description="migrant branches the policy's members form, one per destination ([China 2022] Lianyungang names three)"
    )
    referral_wage_premium: float = Field(
        0.0,
        ge=-0.5,
        le=1.0,
        description="share by which a referred job's wage exceeds the migrant wage (network jobs pay no more, or less)",
    )
    venture_business_gain: NonNegativeFloat = Field(
        0.5, description="share a returnee's venture adds to its household's own operating (farm and business) income"
    )
    referral_cost: PositiveFloat = Field(
        200.0, description="start-year yuan a referral costs its branch: a member's time to find, vet and arrange the job"
    )
    venture_support_cost: PositiveFloat = Field(
        10_000.0, description="start-year yuan of start-up support per returnee venture (training, advice, loan subsidy)"
    )


DEFAULTS = MigrantMembersSettings()


def build_migrant_branches(model: Any, scenario: Any, rng: np.random.Generator) -> list[MigrantBranch]:
    """Each migrant-member policy's branches (its ``settings.branches``), shown at the seat of its donors' county."""
    from sim.agents import MigrantBranch  # here, not at the top: validating a scenario must not import Mesa

    region, branches = scenario.region, []
    for policy_index, policy in enumerate(scenario.pairing.policies):
        if policy.type != POLICY_TYPE:
            continue
        seat = region.seat_of(policy.donor_counties[0] if policy.donor_counties else None)
        here = [village.xy for village in model.villages if village.town == seat] or [v.xy for v in model.villages]
        x, y = np.mean(here, axis=0)
        for number in range(policy.options.branches):
            index = len(branches)
            name = f"{policy.label} migrant branch {number + 1}"
            xy = (float(x), float(y))
            branches.append(MigrantBranch(model, index, name, seat, xy, policy_index, len(model.households)))
    return branches


def home_villages(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """The policy's branches with the villages that have the most workers away: migrants' home villages are the
    natural partners (a branch organises the members from there). Any of the policy's branches may take any of them;
    each takes an even share of the pairs."""
    h = county.households
    branches = [b for b in county.organisations["migrant_branch"] if b.policy_index == targeting.policy_index]
    away = h.village_sum(h.migrants.astype(float))
    eligible = recipient_villages(county, policy, targeting)
    # Most migrants first; the programme's targeting priority breaks ties.
    recipients = eligible[np.lexsort((-targeting.priority[eligible], -away[eligible]))[: policy.pairs]]
    scores = np.tile(away[recipients], (len(branches), 1))
    links = policy.pairs * policy.donors_per_pair
    capacity = np.full(len(branches), math.ceil(links / max(len(branches), 1)), dtype=np.int64)
    per_village = np.full(len(recipients), policy.donors_per_pair)
    return Candidates(branches, recipients, scores, capacity, per_village, targeting.priority[recipients])


def plans_a_flow(policy: Policy) -> str | None:
    """A migrant-member pairing exists to refer jobs or bring ventures home: it must plan at least one of them."""
    if policy.flows.amount("job_referrals") <= 0 and policy.flows.amount("returnee_ventures") <= 0:
        return (
            "migrant_members needs flows.job_referrals > 0 (referrals a year per home village, e.g. 10) "
            "or flows.returnee_ventures > 0 (ventures a year per home village, e.g. 1)"
        )
    return untyped(policy)


# --------------------------------------------------------------------------- the flows


def pick_households(
    h: HouseholdArrays, wanted: np.ndarray, weight: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``wanted[v]`` distinct households of each village ``v``, drawn with probability in proportion to
    ``weight`` (per household; 0 = not eligible) without replacement, by exponential races as in training.

    Returns the chosen rows and how many each village got (a village with too few eligible households gets fewer).
    """
    got = np.zeros(len(h.start), dtype=np.int64)
    villages = np.flatnonzero(wanted)
    if villages.size == 0:
        return np.empty(0, dtype=np.int64), got
    rows, group = village_rows(h, villages)
    eligible = weight[rows] > 0
    rows, group = rows[eligible], group[eligible]
    key = rng.exponential(size=rows.size) / weight[rows]
    order = lexsort_order(group, key)
    rows, group = rows[order], group[order]
    place = np.arange(rows.size) - np.searchsorted(group, group, side="left")
    picked = place < wanted[villages][group]
    got[villages] = np.bincount(group[picked], minlength=villages.size)
    return rows[picked], got


def spread_over_links(links_village: np.ndarray, planned: np.ndarray, done: np.ndarray, per_village: np.ndarray) -> np.ndarray:
    """Each link's part of what its village got this month, in proportion to the links' plans (``per_village`` is
    their sum), so a village's links together send what it got, as training's ledger does."""
    realised = np.where(per_village > 0, done / np.where(per_village > 0, per_village, 1.0), 0.0)
    return planned * realised[links_village]


def still_away(h: HouseholdArrays, branches: list[MigrantBranch]) -> np.ndarray:
    """Referred workers still away per household; where a household now has fewer migrants than that, the excess
    came home (at the migration's return rate, or in a venture): each branch's count shrinks in proportion."""
    placed = sum(branch.placed for branch in branches)
    excess = placed > h.migrants
    if excess.any():
        scale = h.migrants[excess] / placed[excess]
        for branch in branches:
            branch.placed[excess] *= scale
        placed = sum(branch.placed for branch in branches)
    return placed


def refer_jobs(inputs: FlowInputs) -> Moved:
    """Job referrals: a worker of a home village leaves for a destination job its branch found.

    Referrals a village gets this month are Poisson with mean its links' plans; each goes to a household with someone
    farming, the more skilled likelier (a referral goes to whom the branch can vouch for: talent drain). Referred
    workers earn ``referral_wage_premium`` more than the migrant wage while away, remitted as other migrants' wages are.
    """
    links, h = inputs.links, inputs.county.households
    zero = np.zeros(len(links))
    if not links.planned["job_referrals"].any():  # not planned in this scenario: no draws, no change
        return Moved(zero, {"job_referrals": 0.0})
    branches = inputs.county.organisations.get("migrant_branch", [])
    planned = planned_this_month(links, "job_referrals")
    per_village = np.bincount(links.village, weights=planned, minlength=len(h.start))
    wanted = inputs.rng.poisson(per_village)
    rows, got = pick_households(h, wanted, np.where(h.farm_workers > 0, h.skill, 0.0), inputs.rng)
    h.migrants[rows] += 1
    sent = spread_over_links(links.village, planned, got, per_village)
    if not branches:  # a referral flow planned on another type's links: the workers leave, no branch keeps count
        return Moved(sent, {"job_referrals": float(got.sum())})
    # Each referral is booked to one branch of its village's links (the first such link's donor), for the premium.
    referring = (links.donor_kind == donor_kinds()["migrant_branch"].code) & (links.planned["job_referrals"] > 0)
    branch_of_village = np.full(len(h.start), -1)
    branch_of_village[links.village[referring][::-1]] = links.donor_index[referring][::-1]
    booked = branch_of_village[h.village[rows]]
    for index in np.unique(booked[booked >= 0]):
        np.add.at(branches[index].placed, rows[booked == index], 1.0)
    away = still_away(h, branches)
    premium = _premium_per_household(inputs, branches)
    influence = {"remittance_premium": away * premium} if np.any(premium) else {}
    return Moved(sent, {"job_referrals": float(got.sum())}, influence=influence)


def _premium_per_household(inputs: FlowInputs, branches: list[MigrantBranch]) -> np.ndarray:
    """Each household's referred jobs' wage premium: its placing branches' policies' settings, weighted by the workers each placed."""
    policies = inputs.policies
    values = np.array([policies[b.policy_index].options.referral_wage_premium if policies else 0.0 for b in branches])
    if not values.any():
        return np.zeros(1)
    placed = np.array([branch.placed for branch in branches])
    total = placed.sum(axis=0)
    return np.where(total > 0, (values[:, None] * placed).sum(axis=0) / np.where(total > 0, total, 1.0), 0.0)


def start_ventures(inputs: FlowInputs) -> Moved:
    """Returnee ventures: a migrant comes home and starts a business with the branch's start-up support.

    Ventures a village gets this month are Poisson with mean its links' plans; each goes to a household with someone
    away (more migrants, likelier). One migrant comes home, and the household's operating multiplier
    (``households.business``) rises by ``venture_business_gain`` (its links' plan-weighted setting): it lasts.
    """
    links, h = inputs.links, inputs.county.households
    zero = np.zeros(len(links))
    if not links.planned["returnee_ventures"].any():  # not planned in this scenario: no draws, no change
        return Moved(zero, {"returnee_ventures": 0.0})
    planned = planned_this_month(links, "returnee_ventures")
    per_village = np.bincount(links.village, weights=planned, minlength=len(h.start))
    wanted = inputs.rng.poisson(per_village)
    rows, got = pick_households(h, wanted, h.migrants.astype(float), inputs.rng)
    weighted_gain = np.bincount(
        links.village, weights=planned * per_link(inputs, "venture_business_gain"), minlength=len(h.start)
    )
    gain = np.where(per_village > 0, weighted_gain / np.where(per_village > 0, per_village, 1.0), 0.0)
    h.migrants[rows] -= 1
    h.business[rows] *= 1.0 + gain[h.village[rows]]
    sent = spread_over_links(links.village, planned, got, per_village)
    return Moved(sent, {"returnee_ventures": float(got.sum())})


def referral_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """Each referral costs its branch's members' time (its policy's ``referral_cost``): labour, so wages index it."""
    return sent * prices.setting("referral_cost", DEFAULTS.referral_cost) * prices.wage_index


def venture_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """Each venture costs its start-up support (its policy's ``venture_support_cost``: training, advice, loan subsidy),
    indexed by wages like other unit costs."""
    return sent * prices.setting("venture_support_cost", DEFAULTS.venture_support_cost) * prices.wage_index


def register() -> None:
    """Register migrant-member pairing's entries; :mod:`sim.pairing.builtin` calls this once, in a fixed order among the forms.

    Registering when this module is imported would make the order (donor kinds' codes, flows' turns, the tables'
    columns) depend on which module a process happens to import first."""
    register_donor_kind(DonorKind("migrant_branch", "migrant branches (流动党组织)", "#7f7f7f", build=build_migrant_branches))
    register_flow(
        Flow("job_referrals", "job referrals", "referrals", "job_referrals", refer_jobs, referral_cost, carried_by=(POLICY_TYPE,))
    )
    register_flow(
        Flow(
            "returnee_ventures",
            "returnee ventures",
            "ventures",
            "returnee_ventures",
            start_ventures,
            venture_cost,
            carried_by=(POLICY_TYPE,),
        )
    )
    register_policy_type(
        PolicyType(
            POLICY_TYPE,
            "Migrant-member pairing (流动型)",
            "#7f7f7f",
            ("migrant_branch",),
            home_villages,
            check=plans_a_flow,
            settings=MigrantMembersSettings,
        )
    )
