"""Merged branches (合建): a weak village's party branch merges into an adjacent strong village's.

Guangyuan paired villages two ways ([China 2022]): under 共建 (co-building) the two keep their branches under a
joint general branch, which is the built-in ``strong_weak`` type; under 合建 (merging) the weak village's branch
merges into a strong neighbour's, "原村党组织的全部职能整体划转", with one secretary from the strong side and
work "统一安排部署、统一规划布局、统一推进落实", while each village keeps its own committee, assets and
accounts ("村级财务独立建账管理"). Guangyuan merged only villages that were "地域相邻、产业相近、治理相融".

Here a ``merge`` policy pairs each of its neediest villages with a stronger, not weak village within
``settings.radius_km`` whose leadership is at most ``settings.max_leadership_gap`` away (same industry scores
higher). While merged, the strong side's committee runs the weak village: its leadership closes
``settings.leadership_convergence`` of the gap to the strong village's a year, at the link's effort (a merger
"in name only" closes less), and the jointly planned projects are the collective's own, now run under that
leadership (the collective's return and its chance to start projects follow leadership, docs/ODD.md 7.8).
The accounts stay apart, so no capital is pooled: money moves only through the policy's planned flows, as
under co-building. The joint secretary's extra allowance and the joint meetings cost ``settings.monthly_cost``
a month. A merger can fail, "不合财、不合心" (Lianyungang's merged villages that split again): each month with
the hazard of ``settings.failure_rate`` a year; the link is then ``REVERTED``, the pull stops, and the split
costs ``settings.reversion_cost`` once.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from sim.geometry import within
from sim.pairing.config import Policy
from sim.pairing.county import County
from sim.pairing.flows import FlowInputs, Moved, per_link
from sim.pairing.links import REVERTED
from sim.pairing.policies import HOST_CLUSTERING, Candidates, Targeting, eligible_villages, recipient_villages, top, untyped
from sim.pairing.registry import CountyCounts, Flow, PolicyType, Prices, register_flow, register_policy_type
from sim.schema import NonNegativeFloat, PositiveFloat, Share, Strict

MERGE = "merge"
FLOW = "merger"
OUTCOME = "merger_cost"
OTHER_INDUSTRY = 0.5
"""A strong neighbour of another industry scores half as much as one of the same industry (产业相近), as in strong_weak."""


class MergeSettings(Strict):
    """A merge policy's own numbers (docs/ODD.md 7.29 and section 9 give each one's source and range)."""

    radius_km: PositiveFloat = Field(
        5.0, description="farthest a strong village may be from the weak one it absorbs, km (地域相邻)"
    )
    max_leadership_gap: Share = Field(
        0.3, description="largest leadership gap between the two villages that still merges (治理相融)"
    )
    leadership_convergence: Share = Field(
        0.5, description="share of the leadership gap to the strong village the merged branch closes a year, at full effort"
    )
    monthly_cost: NonNegativeFloat = Field(
        1_000, description="joint secretary's extra allowance and joint meetings per merged village and month, start-year yuan"
    )
    failure_rate: Share = Field(0.003, description="yearly chance a merger fails and splits again (不合财、不合心)")
    reversion_cost: NonNegativeFloat = Field(20_000, description="one-off cost of splitting a failed merger, start-year yuan")


def merge_candidates(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """The neediest villages that have a compatible strong neighbour, each with those neighbours.

    A donor is a village that is not weak and needs less than the recipient, within ``radius_km`` of it and with
    a leadership gap of at most ``max_leadership_gap`` (地域相邻、治理相融); a link scores strength x proximity x
    industry similarity (产业相近), the score of strong_weak. Only neighbours are listed, so the rule scales to a
    province. Villages with no compatible neighbour cannot merge: if fewer than ``pairs`` remain, forming the
    branches fails with the usual message that asks for fewer pairs.
    """
    settings: MergeSettings = policy.options
    need, priority = targeting.need, targeting.priority
    leadership = county.state.leadership
    xy = county.village_xy()
    donor_rows = eligible_villages(county, policy.donor_counties)
    donor_rows = donor_rows[~county.weak()[donor_rows]]
    near = within(xy[donor_rows], xy, settings.radius_km)
    donor, village, distance = near.point, near.target, near.distance
    strong = donor_rows[donor]
    allowed = (
        np.isin(village, recipient_villages(county, policy, targeting))
        & (strong != village)
        & (need[strong] < need[village])
        & (np.abs(leadership[strong] - leadership[village]) <= settings.max_leadership_gap)
    )
    recipients = np.sort(top(priority, np.unique(village[allowed]), policy.pairs or 0))
    keep = allowed & np.isin(village, recipients)
    industry = county.villages["industry"].to_numpy()
    similarity = np.where(industry[strong[keep]] == industry[village[keep]], 1.0, OTHER_INDUSTRY)
    score = (1.0 - need[strong[keep]]) * np.exp(-distance[keep] / settings.radius_km) * similarity
    donors = [county.organisations["village"][v] for v in donor_rows]
    return Candidates(
        donors,
        recipients,
        None,
        np.ones(len(donors), np.int64),
        np.ones(len(recipients), np.int64),
        priority[recipients],
        listed=(donor[keep], np.searchsorted(recipients, village[keep]), score),
    )


def merge_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    """Each village against the villages within ``radius_km`` (only those are listed), as for village–enterprise pairs."""
    reach = counts.villages
    if counts.area_km2:
        radius = policy.options.radius_km  # the validated settings, as the candidate rule reads them
        reach = min(reach, math.ceil(HOST_CLUSTERING * counts.villages * math.pi * radius**2 / counts.area_km2))
    return counts.villages * reach


def one_strong_village(policy: Policy) -> str | None:
    """A merged branch has one secretary, from one strong village: one donor per weak village, no typed matching; the
    merger flow follows from the type and its settings, so it takes no plan."""
    if problem := untyped(policy):
        return problem
    if policy.donors_per_pair != 1:
        return f"merge joins one weak village to one strong one: donors_per_pair must be 1, got {policy.donors_per_pair}"
    if policy.flows.amount(FLOW) > 0:
        return f"flows.{FLOW} is not planned: a merger's upkeep and splits are its settings (monthly_cost, reversion_cost)"
    return None


def monthly_share(yearly: np.ndarray) -> np.ndarray:
    """The monthly share that compounds to ``yearly`` over twelve months (1 stays 1)."""
    with np.errstate(divide="ignore"):
        return -np.expm1(np.log1p(-yearly) / 12.0)


def run_mergers(inputs: FlowInputs) -> Moved:
    """One month of every active merger: some fail and split; the rest pull the weak village's leadership up.

    ``sent`` is what the mergers cost this month per link, in this month's yuan: the upkeep of the merged branch
    (scaled by the support left after the village leaves weak status) or, in the month a merger fails, its
    split. Random numbers are drawn only for mergers that can fail, so scenarios without one keep every draw.
    """
    links = inputs.links
    is_merge = np.array([policy.type == MERGE for policy in inputs.policies], dtype=bool)
    merged = links.active & is_merge[links.policy] if is_merge.any() else np.zeros(len(links), dtype=bool)
    if not merged.any():
        return Moved(np.zeros(len(links)), {OUTCOME: 0.0})
    wage_index = inputs.month.wage_index

    failure_rate = per_link(inputs, "failure_rate")
    at_risk = np.flatnonzero(merged & (failure_rate > 0))
    split = at_risk[inputs.rng.random(at_risk.size) < monthly_share(failure_rate[at_risk])] if at_risk.size else at_risk
    links.status[split] = REVERTED
    merged[split] = False

    state = inputs.county.state
    rows = np.flatnonzero(merged)  # only these links' donors are villages
    gap = np.maximum(state.leadership[links.donor_index[rows]] - state.leadership[links.village[rows]], 0.0)
    pull = monthly_share(per_link(inputs, "leadership_convergence")[rows]) * links.effort[rows] * links.support[rows] * gap
    state.leadership = np.minimum(
        state.leadership + np.bincount(links.village[rows], weights=pull, minlength=state.leadership.size), 1.0
    )

    sent = per_link(inputs, "monthly_cost") * links.support * merged * wage_index
    sent[split] += per_link(inputs, "reversion_cost")[split] * wage_index
    return Moved(sent, {OUTCOME: float(sent.sum())}, ended=split)


def costs_what_it_pays(sent: np.ndarray, effects: object, economy: object, prices: Prices) -> np.ndarray:
    """A merger's ``sent`` is already what it costs, in this month's yuan (upkeep, or the split)."""
    return sent


def register() -> None:
    """Register merged branches's entries; :mod:`sim.pairing.builtin` calls this once, in a fixed order among the forms.

    Registering when this module is imported would make the order (donor kinds' codes, flows' turns, the tables'
    columns) depend on which module a process happens to import first."""
    register_flow(
        Flow(
            FLOW,
            "merged branches' upkeep and splits (yuan)",
            "yuan",
            OUTCOME,
            run_mergers,
            costs_what_it_pays,
            carried_by=(MERGE,),
        )
    )
    register_policy_type(
        PolicyType(
            MERGE,
            "Merged branches (合建)",
            "#ff9896",
            ("village",),
            merge_candidates,
            secretary="donor",
            check=one_strong_village,
            candidate_cells=merge_cells,
            settings=MergeSettings,
        )
    )
