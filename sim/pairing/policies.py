"""Who pairs with whom: each policy type's candidates, scores and matching.

A policy picks its recipient villages (by need, or by strength where
``strong_first`` bends targeting), scores every allowed donor–village link, and
hands the scores to :func:`sim.pairing.matching.match`. The links that come
back become joint branches (联合党总支), each a Mesa agent.

In a scenario with several counties a policy may take its donors from some
counties (``donor_counties``) and its villages from others
(``recipient_counties``): each rule draws from those only, and
:func:`plan_links` forbids any other link whatever a rule returns, so a
registered rule cannot cross a boundary the scenario draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.errors import InputError, did_you_mean
from sim.geometry import within
from sim.pairing.config import Policy
from sim.pairing.county import County
from sim.pairing.links import LinkSpec
from sim.pairing.matching import match, match_listed
from sim.pairing.registry import CountyCounts, donor_kinds, policy_types

HOST_RADIUS_KM = 5.0
"""A village "hosts or neighbours" an enterprise within this distance (assumption, docs/ODD.md)."""
HOST_CLUSTERING = 2.0
"""For the memory estimate: an enterprise finds at most this many times the county's average density of villages within
``HOST_RADIUS_KM`` (they cluster around town seats; measured 1.12 in Shouguang, 1.16 in Zunyi, 1.18 in small.yaml)."""

TYPED_RULE = {"party_mass": "weak", "political_legal": "disorderly", "economic": "poor", "agriculture": "specialty"}
"""Xiuzhou's typed matching: department type -> the village problem type it serves ([Xiuzhou 2009], docs/SOURCES.md)."""
PROBLEM_TYPES = ("weak", "disorderly", "poor", "specialty")


@dataclass
class Candidates:
    """Donors and recipient villages of one policy, with link scores and capacities."""

    donors: list[Any]  # organisations (sim.agents), each with .kind, .index and .name
    recipients: np.ndarray  # village rows
    scores: np.ndarray | None  # (donors, recipients), -inf = not allowed; None when the links are listed
    donor_capacity: np.ndarray
    recipient_capacity: np.ndarray
    priority: np.ndarray  # each recipient's claim to be served first, when more could be paired than asked
    listed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    """Instead of ``scores``: the allowed links as (donor, recipient position, score), by donor then recipient
    (:func:`~sim.pairing.matching.match_listed`), for a rule whose donors each reach only a few villages."""


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Rank of each value in [0, 1] (0 = smallest), ties broken by position."""
    if len(values) < 2:
        return np.zeros(len(values))
    return np.argsort(np.argsort(values, kind="stable"), kind="stable") / (len(values) - 1)


@dataclass(frozen=True)
class Targeting:
    """Whom a formation serves first, computed once when pairs are formed, and whom it may not serve."""

    need: np.ndarray  # each village's need for help, in [0, 1] (village_need)
    priority: np.ndarray  # each village's claim to be served first (targeting_priority)
    strong_first: float  # the failure mode that bends targeting towards the strong
    barred: np.ndarray | None = None
    """Villages this formation may not pair (already served by the policy, or by ``max_policies_per_village``
    policies; sim/pairing/rounds.py), as a mask over villages; ``None``: none. A rule picks its recipients from
    :func:`recipient_villages`, so it never shares out its donors over a village that would be dropped."""
    policy_index: int | None = None
    """The scenario's policy that forms (its position), for a rule whose donors belong to one policy (migrant branches):
    two policies may share a label."""


def village_need(county: County) -> np.ndarray:
    """How much each village needs help, in [0, 1]: low collective income, low income, weak leadership."""
    state = county.state
    income = county.income_per_capita()
    ranks = [
        percentile_rank(-state.collective_annual),
        percentile_rank(-income),
        percentile_rank(-state.leadership),
    ]
    return np.mean(ranks, axis=0)


def targeting_priority(county: County, need: np.ndarray, strong_first: float) -> np.ndarray:
    """Who is served first: weak (薄弱) villages by need, then the rest; ``strong_first`` bends it.

    Weak status dominates (the seeds pair "薄弱村"); within each group the need
    index orders, so the neediest villages may be served by several policies.
    ``strong_first`` (a failure mode) mixes in the reverse order: help going
    first to the strong.
    """
    weak = county.weak().astype(float)
    urgency = (weak + need) / 2.0
    return (1.0 - strong_first) * urgency + strong_first * (1.0 - urgency)


def problem_types(county: County) -> np.ndarray:
    """Each village's main problem for the typed rule: weak, disorderly, poor or specialty (index into PROBLEM_TYPES)."""
    state = county.state
    income = county.income_per_capita()
    has_chain = np.zeros(len(state.leadership))
    for cooperative in county.organisations["cooperative"]:
        has_chain[cooperative.member_villages] = 1.0
    deficits = np.vstack(
        [
            1.0 - percentile_rank(state.leadership),
            percentile_rank(state.problems),
            1.0 - percentile_rank(income),
            has_chain,
        ]
    )
    return np.argmax(deficits, axis=0)


def distances(county: County, xy: np.ndarray) -> np.ndarray:
    """Distance (km) from each point in ``xy`` (n, 2) to every village, shape (n, villages)."""
    villages = county.village_xy()
    return np.hypot(xy[:, None, 0] - villages[None, :, 0], xy[:, None, 1] - villages[None, :, 1])


def top(priority: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` candidate villages with the highest priority."""
    order = np.argsort(-priority[candidates], kind="stable")
    return candidates[order[:n]]


def spread_capacity(n_donors: int, links_needed: int) -> np.ndarray:
    """Capacities that let ``n_donors`` share ``links_needed`` links as evenly as possible."""
    return np.full(n_donors, math.ceil(links_needed / max(n_donors, 1)), dtype=np.int64)


# --------------------------------------------------------------------------- candidates per type


def city_village(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """Departments and communities (部门+村, 社区+村) with the neediest villages."""
    priority = targeting.priority
    donors = donor_pool(county, "city_village", policy.donor_counties)
    eligible = recipient_villages(county, policy, targeting)
    # Untyped: the neediest villages, any donor. Typed: any village a donor type fits, neediest first.
    recipients = eligible if policy.typed else top(priority, eligible, policy.pairs)
    scores = np.tile(priority[recipients], (len(donors), 1))
    if policy.typed:
        village_problem = problem_types(county)[recipients]
        for d, donor in enumerate(donors):
            if donor.kind == "department":
                fits = village_problem == PROBLEM_TYPES.index(TYPED_RULE[donor.department_type])
                scores[d, ~fits] = -np.inf
    links = policy.pairs * policy.donors_per_pair
    capacity = spread_capacity(len(donors), links)
    return Candidates(
        donors, recipients, scores, capacity, np.full(len(recipients), policy.donors_per_pair), priority[recipients]
    )


def village_enterprise(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """Enterprises and cooperatives with the villages that host or neighbour them (村企).

    Only the villages within ``HOST_RADIUS_KM`` of a donor are candidates, so they are listed (found by
    :func:`sim.geometry.within`) rather than scored in a donors x villages matrix.
    """
    priority = targeting.priority
    donors = donor_pool(county, "village_enterprise", policy.donor_counties)
    near = within(np.array([e.xy for e in donors]).reshape(-1, 2), county.village_xy(), HOST_RADIUS_KM)
    recipients = np.intersect1d(near.target, recipient_villages(county, policy, targeting))
    keep = np.isin(near.target, recipients)
    position = np.searchsorted(recipients, near.target[keep])  # each kept link's recipient, as a position in recipients
    score = priority[recipients][position] - near.distance[keep] / HOST_RADIUS_KM
    capacity = np.ones(len(donors), np.int64)
    return Candidates(
        donors,
        recipients,
        None,
        capacity,
        np.full(len(recipients), policy.donors_per_pair),
        priority[recipients],
        listed=(near.point[keep], position, score),
    )


def strong_weak(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """Strong villages with weak ones (强村+弱村): by strength, proximity and industry (地域相邻、产业相近).

    Recipients are the neediest villages; donors the strongest of the rest.
    A link's score is strength x proximity x industry similarity.
    """
    need, priority = targeting.need, targeting.priority
    recipients = top(priority, recipient_villages(county, policy, targeting), policy.pairs)
    others = np.setdiff1d(eligible_villages(county, policy.donor_counties), recipients)
    strong = top(1.0 - need, others, policy.pairs * policy.donors_per_pair)
    xy = county.village_xy()
    distance = np.hypot(xy[strong][:, None, 0] - xy[recipients][None, :, 0], xy[strong][:, None, 1] - xy[recipients][None, :, 1])
    scale = math.sqrt(county.region.area_km2 / max(len(county.region.town_names), 1))
    industry = county.villages["industry"].to_numpy()
    similarity = np.where(industry[strong][:, None] == industry[recipients][None, :], 1.0, 0.5)
    scores = (1.0 - need[strong])[:, None] * np.exp(-distance / scale) * similarity
    donors = [county.organisations["village"][v] for v in strong]
    capacity = np.ones(len(donors), np.int64)
    return Candidates(
        donors, recipients, scores, capacity, np.full(len(recipients), policy.donors_per_pair), priority[recipients]
    )


def industry_chain(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """Cooperatives and associations with the villages of their industry, across towns (产业链).

    Each cooperative leads one branch; its villages are the neediest of its
    industry (``donors_per_pair`` of them per branch, as the chain is one-to-many).
    """
    priority = targeting.priority
    industry = county.villages["industry"].to_numpy()
    donors = donor_pool(county, "industry_chain", policy.donor_counties)[: policy.pairs]
    eligible = recipient_villages(county, policy, targeting)
    recipients = eligible[np.isin(industry[eligible], [c.industry for c in donors])]
    scores = np.array([np.where(industry[recipients] == c.industry, priority[recipients], -np.inf) for c in donors]).reshape(
        len(donors), len(recipients)
    )
    capacity = np.full(len(donors), policy.donors_per_pair, np.int64)
    return Candidates(donors, recipients, scores, capacity, np.ones(len(recipients), np.int64), priority[recipients])


def leadership_weakness(county: County, strong_first: float) -> np.ndarray:
    """Priority for first secretaries: the weakest leadership first, bent by ``strong_first``."""
    weakness = 1.0 - percentile_rank(county.state.leadership)
    return (1.0 - strong_first) * weakness + strong_first * (1.0 - weakness)


def cadre_dispatch(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """First secretaries (第一书记) from departments to the villages with the weakest leadership."""
    donors = [d for d in donor_pool(county, "cadre_dispatch", policy.donor_counties) if d.cadres > 0]
    weakness = leadership_weakness(county, targeting.strong_first)
    recipients = top(weakness, recipient_villages(county, policy, targeting), policy.pairs)
    scores = np.tile(weakness[recipients], (len(donors), 1))
    capacity = np.array([d.cadres for d in donors], dtype=np.int64)
    return Candidates(donors, recipients, scores, capacity, np.ones(len(recipients), np.int64), weakness[recipients])


def mountain_sea(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """Mountain-sea cooperation (山海协作): departments and enterprises of richer counties with the neediest villages of
    poorer ones.

    Donors are those of ``donor_counties``, recipients the villages of ``recipient_counties`` (the policy's check
    requires both, apart), neediest first; as in city-village pairing any donor may serve any of them, and the
    donors share the links evenly. Distance plays no part: the pairs span the province.
    """
    priority = targeting.priority
    donors = donor_pool(county, "mountain_sea", policy.donor_counties)
    recipients = top(priority, recipient_villages(county, policy, targeting), policy.pairs)
    scores = np.tile(priority[recipients], (len(donors), 1))
    capacity = spread_capacity(len(donors), policy.pairs * policy.donors_per_pair)
    return Candidates(
        donors, recipients, scores, capacity, np.full(len(recipients), policy.donors_per_pair), priority[recipients]
    )


# --------------------------------------------------------------------------- establishing


def plan_links(
    county: County,
    policy_index: int,
    policy: Policy,
    candidates: Candidates | None,
    rng: np.random.Generator,
    *,
    at_most: bool = False,
) -> list[list[LinkSpec]]:
    """Match a policy's candidates and group the links into branches (one list of links per branch).

    ``candidates`` is ``None`` for a policy that names its pairs (``explicit``). ``at_most``: form up to ``pairs``
    branches (a pairing round mid-run, sim/pairing/rounds.py) instead of refusing fewer.
    """
    where = f"pairing.policies[{policy_index}]"
    if policy.explicit or candidates is None:
        return _explicit_links(county, policy_index, policy, where)
    if len(candidates.donors) == 0:
        in_counties = f" in {', '.join(policy.donor_counties)}" if policy.donor_counties is not None else ""
        raise InputError.single(
            county.source, where, f"{policy.type} needs donors, but the scenario has none of the right kind{in_counties}"
        )
    candidates = within_counties(county, policy, candidates)
    if candidates.listed is not None:
        donor, recipient, score = candidates.listed
        capacities = candidates.donor_capacity, candidates.recipient_capacity
        links = match_listed(donor, recipient, score, *capacities, policy.matching, rng)
    else:
        links = match(candidates.scores, candidates.donor_capacity, candidates.recipient_capacity, policy.matching, rng)
    by_donor = policy_types()[policy.type].grouping == "donor"
    groups: dict[int, list[LinkSpec]] = {}
    claim: dict[int, float] = {}
    for d, r in links:
        key = int(d) if by_donor else int(r)
        donor = candidates.donors[d]
        groups.setdefault(key, []).append(LinkSpec(policy_index, -1, donor.kind, donor.index, int(candidates.recipients[r])))
        claim[key] = max(claim.get(key, -np.inf), float(candidates.priority[r]))
    if len(groups) > policy.pairs:  # more could be paired than asked: serve the neediest
        keep = sorted(groups, key=lambda key: (-claim[key], key))[: policy.pairs]
        groups = {key: groups[key] for key in keep}
    if len(groups) < policy.pairs and not at_most:
        raise InputError.single(
            county.source,
            f"{where}.pairs",
            f"{policy.pairs} pairs requested but only {len(groups)} can be formed from the candidates "
            f"({len(candidates.donors)} donors, {len(candidates.recipients)} villages); lower 'pairs' or add donors",
        )
    return [groups[key] for key in sorted(groups)]


def _explicit_links(county: County, policy_index: int, policy: Policy, where: str) -> list[list[LinkSpec]]:
    """Links named in the scenario: each entry names a donor and a village."""
    policy_type = policy_types()[policy.type]
    villages = county.organisations["village"]
    village_names = {v.name: v.index for v in villages}
    donors = {o.name: o for o in donor_pool(county, policy.type)}
    branches: dict[tuple[int, int], list[LinkSpec]] = {}
    seen: set[tuple[str, str]] = set()
    for i, pair in enumerate(policy.explicit):
        field = f"{where}.explicit[{i}]"
        if pair.village not in village_names:
            raise InputError.single(
                county.source,
                f"{field}.village",
                f"no village named {pair.village!r}{did_you_mean(pair.village, village_names)}",
            )
        if pair.donor not in donors:
            raise InputError.single(
                county.source, f"{field}.donor", f"no {policy.type} donor named {pair.donor!r}{did_you_mean(pair.donor, donors)}"
            )
        if pair.donor == pair.village:
            raise InputError.single(county.source, field, f"village {pair.village!r} cannot pair with itself")
        if (pair.donor, pair.village) in seen:
            raise InputError.single(county.source, field, f"{pair.donor!r} and {pair.village!r} are already paired above")
        seen.add((pair.donor, pair.village))
        donor, village = donors[pair.donor], villages[village_names[pair.village]]
        problem = outside_counties(county, policy, donor, village) or policy_type.compatible(donor, village)
        if problem:
            raise InputError.single(county.source, f"{field}.village", problem)
        key = (donor_kinds()[donor.kind].code, donor.index) if policy_type.grouping == "donor" else (0, village.index)
        branches.setdefault(key, []).append(LinkSpec(policy_index, -1, donor.kind, donor.index, village.index))
    return [branches[key] for key in sorted(branches)]


def donor_pool(county: County, policy_type: str, counties: list[str] | None = None) -> list[Any]:
    """Every organisation that may donate under a policy type: its registry entry's donor kinds, in that order; with
    ``counties``, only those that sit in one of them."""
    pool = [organisation for kind in policy_types()[policy_type].donor_pool for organisation in county.organisations[kind]]
    if counties is None:
        return pool
    return [organisation for organisation, where in zip(pool, county.counties_of(pool), strict=True) if where in counties]


def eligible_villages(county: County, counties: list[str] | None = None) -> np.ndarray:
    """Village rows in ``counties`` (``None``: every village), in row order."""
    if counties is None:
        return np.arange(len(county.villages))
    return np.flatnonzero(np.isin(county.village_counties(), counties))


def recipient_villages(county: County, policy: Policy, targeting: Targeting) -> np.ndarray:
    """Village rows ``policy`` may pair in this formation: those of its ``recipient_counties`` not barred, in row order."""
    eligible = eligible_villages(county, policy.recipient_counties)
    if targeting.barred is None:
        return eligible
    return eligible[~targeting.barred[eligible]]


def within_counties(county: County, policy: Policy, candidates: Candidates) -> Candidates:
    """The candidates with every link outside the policy's counties forbidden (its donors' or its villages'), so no rule,
    registered or built in, pairs across a boundary the scenario draws. Unchanged when the policy names no counties."""
    if policy.donor_counties is None and policy.recipient_counties is None:
        return candidates
    donor_ok = np.ones(len(candidates.donors), dtype=bool)
    if policy.donor_counties is not None:
        donor_ok = np.isin(np.array(county.counties_of(candidates.donors), dtype=object), policy.donor_counties)
    recipient_ok = np.ones(len(candidates.recipients), dtype=bool)
    if policy.recipient_counties is not None:
        recipient_ok = np.isin(county.village_counties()[candidates.recipients], policy.recipient_counties)
    if candidates.listed is not None:
        donor, recipient, score = candidates.listed
        keep = donor_ok[donor] & recipient_ok[recipient]
        return replace(candidates, listed=(donor[keep], recipient[keep], score[keep]))
    scores = np.where(donor_ok[:, None] & recipient_ok[None, :], candidates.scores, -np.inf)
    return replace(candidates, scores=scores)


def outside_counties(county: County, policy: Policy, donor: Any, village: Any) -> str | None:
    """Why a named pair crosses the policy's counties (else ``None``)."""
    where = county.counties_of([donor])[0]
    if policy.donor_counties is not None and where not in policy.donor_counties:
        return f"{donor.name!r} sits in {where!r}, not in the policy's donor_counties ({', '.join(policy.donor_counties)})"
    village_county = county.village_counties()[village.index]
    if policy.recipient_counties is not None and village_county not in policy.recipient_counties:
        counties = ", ".join(policy.recipient_counties)
        return f"{village.name!r} is in {village_county!r}, not in the policy's recipient_counties ({counties})"
    return None


def same_industry(donor: Any, village: Any) -> str | None:
    """An industry chain serves only villages of its own industry (for named pairs)."""
    if village.industry != donor.industry:
        return f"{village.name!r} grows {village.industry}, not the {donor.industry} of {donor.name!r}"
    return None


def needs_cadre_months(policy: Policy) -> str | None:
    """Posted first secretaries are the point of cadre dispatch: their months must be planned."""
    if problem := untyped(policy):
        return problem
    if policy.flows.cadre_months <= 0:
        return "cadre_dispatch needs flows.cadre_months > 0 (a posted first secretary's months a year, e.g. 12)"
    return None


def untyped(policy: Policy) -> str | None:
    """Xiuzhou's typed matching (``typed``) exists for city–village pairing only."""
    return "'typed' matching applies to city_village policies only" if policy.typed else None


# --------------------------------------------------------------------------- memory: each rule's score matrix


def city_village_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    """Departments and communities against the neediest villages (all villages when typed)."""
    return (counts.departments + counts.communities) * (counts.villages if policy.typed else pairs)


def village_enterprise_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    """Each enterprise or cooperative against the villages within ``HOST_RADIUS_KM`` (only those are listed).

    At the county's density that is the villages of a disc of that radius; villages and enterprises cluster around
    town seats, so the estimate allows :data:`HOST_CLUSTERING` times as many.
    """
    reach = counts.villages
    if counts.area_km2:
        reach = min(reach, math.ceil(HOST_CLUSTERING * counts.villages * math.pi * HOST_RADIUS_KM**2 / counts.area_km2))
    return (counts.enterprises + counts.cooperatives) * reach


def strong_weak_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    return min(pairs * policy.donors_per_pair, counts.villages) * pairs


def industry_chain_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    return min(pairs, counts.cooperatives) * counts.villages


def cadre_dispatch_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    return counts.departments * pairs


def mountain_sea_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    return (counts.departments + counts.enterprises) * pairs


def across_counties(policy: Policy) -> str | None:
    """Mountain-sea cooperation pairs richer counties' donors with poorer counties' villages: both sides, apart."""
    if problem := untyped(policy):
        return problem
    if policy.donor_counties is None or policy.recipient_counties is None:
        return "mountain_sea needs donor_counties (the richer, coastal side) and recipient_counties (the poorer, mountain side)"
    both = [name for name in policy.donor_counties if name in policy.recipient_counties]
    if both:
        return f"mountain_sea pairs different counties; {', '.join(both)} is both a donor and a recipient county"
    return None
