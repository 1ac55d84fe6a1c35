"""Pairing rounds over time: forming a policy's pairs again, what forming costs, and not over-serving a village.

Without a ``rounds`` block a policy forms its pairs once, at the start (today's programme). With one
(:class:`~sim.pairing.config.Rounds`), every ``every_months`` its candidate rule runs again on the county as it is then,
so villages that became weak since are targeted, and the policy is topped up to ``pairs`` active branches: places freed
by graduated pairs are always filled, places of pairs ended for poor performance only under ``replace_ended``.
``dissolve_each_round`` dissolves every active pair first and forms all of them anew, the documents' "建了散、散了建"
([China 2022]), a failure mode.

Forming a branch is not free: each branch a policy with a ``rounds`` block forms (at the start, at rounds, and the
successors of rotating cadres) costs its donors ``setup_cost`` start-year yuan, and a new link delivers only part of
its plan until its ``ramp_up_months`` have passed (a new pair must first learn its village). Churn therefore pays
both again at every round.

``Pairing.max_policies_per_village`` keeps a village served by that many policies' active pairs out of every
formation (start and rounds), so the neediest villages are not served by every policy at once.

A policy's candidate rule picks its own recipients (the neediest, the weakest-led, a chain's villages): a formation
hands it the villages it may not pair (``Targeting.barred``), so the rule chooses among the open ones and shares its
donors out over those alone, and asks it for exactly the places it fills; the donors' places already in use are then
taken off (:func:`plan_round`). Nothing here draws a random number unless a scenario asks for rounds or the limit,
so other scenarios' runs are unchanged to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sim.pairing.config import Pairing, Policy
from sim.pairing.county import County
from sim.pairing.links import ENDED, REVERTED, Links, LinkSpec
from sim.pairing.policies import Candidates, Targeting, plan_links, targeting_priority, village_need
from sim.pairing.registry import donor_kinds, policy_types

LOST_PLACES = (ENDED, REVERTED)
"""Statuses of a closed branch whose place a round fills only under ``replace_ended``: ended (poor performance) or a
merger that split again."""


def current_targeting(county: County, strong_first: float) -> Targeting:
    """Need and priority of every village as the county is now (a round targets villages that became weak since)."""
    need = village_need(county)
    return Targeting(need, targeting_priority(county, need, strong_first), strong_first)


def due(policy: Policy, step: int) -> bool:
    """Whether ``policy`` forms a round this month (never at the start, which is the first formation)."""
    rounds = policy.rounds
    return rounds is not None and rounds.every_months is not None and step > 0 and step % rounds.every_months == 0


def served_by_policies(links: Links, n_villages: int) -> np.ndarray:
    """How many policies serve each village through an active link now."""
    active = links.active
    if not active.any():
        return np.zeros(n_villages, np.int64)
    pairs = np.unique(np.stack([links.village[active], links.policy[active]]), axis=1)  # each (village, policy) once
    return np.bincount(pairs[0], minlength=n_villages)


def barred_villages(links: Links, n_villages: int, spec: Pairing, policy_index: int) -> np.ndarray:
    """Villages a formation of ``policy_index`` may not pair: those its active links already serve, and those served by
    ``max_policies_per_village`` policies (as a boolean mask over villages)."""
    barred = np.zeros(n_villages, dtype=bool)
    barred[links.village[links.active & (links.policy == policy_index)]] = True
    if spec.max_policies_per_village is not None:
        barred |= served_by_policies(links, n_villages) >= spec.max_policies_per_village
    return barred


def open_places(links: Links, policy_index: int, policy: Policy) -> int:
    """Branches a round forms: ``pairs`` less the policy's active branches, less (without ``replace_ended``) the
    branches that closed as ended for poor performance, whose places are then lost."""
    ours = links.policy == policy_index
    active_branches = np.unique(links.branch[ours & links.active])
    places = policy.pairs - len(active_branches)
    if not policy.rounds.replace_ended:
        lost = np.setdiff1d(np.unique(links.branch[ours & np.isin(links.status, LOST_PLACES)]), active_branches)
        places -= len(lost)
    return max(places, 0)


def plan_round(
    county: County,
    links: Links,
    policy_index: int,
    policy: Policy,
    places: int,
    barred: np.ndarray,
    targeting: Targeting,
    rng: np.random.Generator,
    *,
    at_most: bool,
) -> list[list[LinkSpec]]:
    """Up to ``places`` new branches of a policy, none with a ``barred`` village and none over a donor's spare places.

    The rule is asked for ``places`` and handed ``barred`` (``Targeting.barred``), so it picks among the open villages
    only; the donors' places taken by the policy's active links are taken off their capacity. ``at_most``: form what
    can be formed (a round mid-run) instead of refusing the scenario when fewer than ``places`` can (the start).
    """
    if places <= 0:
        return []
    asked = policy.model_copy(update={"pairs": places})
    ours = replace(targeting, barred=barred, policy_index=policy_index)
    candidates = policy_types()[policy.type].candidates(county, asked, ours)
    candidates = _without_places_in_use(candidates, links, policy_index, barred)
    return plan_links(county, policy_index, asked, candidates, rng, at_most=at_most)


def _without_places_in_use(candidates: Candidates, links: Links, policy_index: int, barred: np.ndarray) -> Candidates:
    """The candidates with donors' capacity less the policy's active links they hold, no village that the policy serves
    acting as a donor in it, and barred recipients given no room (a registered rule that picks its villages without
    ``recipient_villages`` still pairs none of them)."""
    ours = links.active & (links.policy == policy_index)
    in_use: dict[tuple[int, int], int] = {}
    for kind, index in zip(links.donor_kind[ours].tolist(), links.donor_index[ours].tolist(), strict=True):
        in_use[(kind, index)] = in_use.get((kind, index), 0) + 1
    served = set(links.village[ours].tolist())
    village_code = donor_kinds()["village"].code
    donor_capacity = candidates.donor_capacity.copy()
    for d, donor in enumerate(candidates.donors):
        code = donor_kinds()[donor.kind].code
        donor_capacity[d] = max(int(donor_capacity[d]) - in_use.get((code, donor.index), 0), 0)
        if code == village_code and donor.index in served:
            donor_capacity[d] = 0
    recipient_capacity = np.where(barred[candidates.recipients], 0, candidates.recipient_capacity)
    return replace(candidates, donor_capacity=donor_capacity, recipient_capacity=recipient_capacity)


def ramp_factor(links: Links, policies: list[Policy], step: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The links still ramping up this month and the share of their plan each delivers, ``age / (ramp_up_months + 1)``
    for a link ``age`` months old; ``None`` when no link is (no policy has a ramp-up, or every link is past it)."""
    ramp = np.array([policy.rounds.ramp_up_months if policy.rounds is not None else 0 for policy in policies], dtype=float)
    if len(links) == 0 or not ramp.any():
        return None
    age = step - links.start_step
    months = ramp[links.policy]
    rows = np.flatnonzero(links.active & (age <= months) & (months > 0))
    if rows.size == 0:
        return None
    return rows, np.minimum(age[rows] / (months[rows] + 1.0), 1.0)


@dataclass
class Formation:
    """The branches formed this month and what forming them cost the donors (yuan at this month's prices)."""

    branches: int = 0
    setup_cost: float = 0.0

    def note(self, policy: Policy, n_branches: int, wage_index: float) -> None:
        """Count ``n_branches`` new branches of ``policy``; those of a policy with rounds cost ``setup_cost`` each, in
        start-year yuan indexed by wages (meetings, agreements and visits are people's time)."""
        self.branches += n_branches
        if policy.rounds is not None:
            self.setup_cost += n_branches * policy.rounds.setup_cost * wage_index

    def take(self) -> dict[str, float]:
        """This month's outcomes (``branches_formed``, ``setup_cost``), starting the next month's count at zero."""
        out = {"branches_formed": float(self.branches), "setup_cost": self.setup_cost}
        self.branches, self.setup_cost = 0, 0.0
        return out
