"""What moves each month along active links, and what it does to the receiving village.

Every flow is planned per link and year, scaled by the link's effort, capped by
its donor's means, recorded in the ledger (sent, lost, received), then applied:
funds to collective capital and public projects, training to household skill,
jobs to enterprise employment, cadres to leadership, technology to farm
productivity, problem solving to the village's open problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.households import HouseholdArrays
from sim.labour import lexsort_order
from sim.pairing.config import Effects, FailureModes
from sim.pairing.county import County, Month
from sim.pairing.links import Links
from sim.pairing.registry import donor_kinds


@dataclass
class Moved:
    """What one flow moved this month.

    ``sent`` (per link, in the flow's unit) and ``lost`` go to the ledger;
    ``full_plan`` is this month's plan at full effort in the units of ``sent``
    (default: the planned yearly amount / 12), for the quarterly ratings;
    ``totals`` are monthly outcomes; ``influence`` holds the channels into the
    county core this flow sets (fields of :class:`sim.influence.PairingInfluence`).
    """

    sent: np.ndarray
    totals: dict[str, float]
    lost: np.ndarray | None = None
    full_plan: np.ndarray | None = None
    influence: dict[str, np.ndarray | float] = field(default_factory=dict)
    aid_received: np.ndarray | None = None  # funds that reached each village (the dependency failure mode reads it)


class HouseholdRanking:
    """Households of every village with an active link, ranked by income within their village, once a month.

    Sorting is the expensive part of elite capture and of choosing trainees, so
    the ranking of all linked villages is computed on first use and shared.
    """

    def __init__(self, households: HouseholdArrays, links: Links) -> None:
        self.households, self.links = households, links
        self._villages: np.ndarray | None = None
        self._ranking: tuple = ()

    def of(self, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, group, rank) of ``villages``, as :func:`ranked_rows` gives them."""
        if self._villages is None:
            self._villages = np.unique(self.links.village[self.links.active])
            self._ranking = ranked_rows(self.households, self._villages)
        if np.isin(villages, self._villages).all():
            return ranked_rows_of(self._ranking, self._villages, villages)
        return ranked_rows(self.households, villages)


@dataclass
class FlowInputs:
    """Everything a flow reads and changes this month (and nothing else: no model, no programme)."""

    links: Links
    county: County
    month: Month
    effects: Effects
    failure: FailureModes
    rng: np.random.Generator
    ranking: HouseholdRanking


def planned_this_month(links: Links, flow: str) -> np.ndarray:
    """Each link's planned amount of ``flow`` for this month at its current effort (0 when inactive)."""
    return links.planned[flow] / 12.0 * links.effort * links.active


def donor_fund_capacity(links: Links, county: County, month: Month, effects: Effects) -> np.ndarray:
    """The most each link's donor can give this month (yuan), per link (shared by the donor's links later).

    Each donor kind's rule is its registry entry's ``fund_capacity``; a kind without one gives no money.
    """
    capacity = np.zeros(len(links))
    for kind in donor_kinds().values():
        rows = links.donor_kind == kind.code
        if kind.fund_capacity is not None and rows.any():
            budget = kind.fund_capacity(county.organisations[kind.name], county, month, effects)
            capacity[rows] = budget[links.donor_index[rows]]
    return capacity


def share_donor_capacity(links: Links, requested: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Scale requests down where a donor's links together ask for more than it has."""
    donor_key = links.donor_kind * 1_000_000 + links.donor_index
    keys, inverse = np.unique(donor_key, return_inverse=True)
    asked = np.bincount(inverse, weights=requested, minlength=len(keys))
    available = np.zeros(len(keys))
    np.maximum.at(available, inverse, capacity)
    ratio = np.where(asked > 0, np.minimum(available / np.where(asked > 0, asked, 1.0), 1.0), 0.0)
    return requested * ratio[inverse]


def move_funds(inputs: FlowInputs) -> Moved:
    """Funds: capped by donors, a share leaks, the rest goes to capital, public projects and (captured) households."""
    links, county, failure, effects = inputs.links, inputs.county, inputs.failure, inputs.effects
    state = county.state
    capacity = donor_fund_capacity(links, county, inputs.month, effects)
    sent = share_donor_capacity(links, planned_this_month(links, "funds"), capacity)
    lost = sent * failure.leakage

    # Strong villages pay out of their own collective capital.
    from_villages = links.of_kind("village")
    np.subtract.at(state.capital, links.donor_index[from_villages], sent[from_villages])
    np.maximum(state.capital, 0.0, out=state.capital)

    received = np.bincount(links.village, weights=sent - lost, minlength=len(state.capital))
    captured = received * failure.elite_capture
    to_collective = received - captured
    state.capital += to_collective * effects.funds_to_capital
    projects = to_collective * (1.0 - effects.funds_to_capital)
    state.problems = np.maximum(state.problems - projects / effects.project_cost_per_problem, 0.0)
    totals = {"funds_sent": float(sent.sum()), "funds_lost": float(lost.sum()), "funds_captured": float(captured.sum())}
    aid = _capture(county.households, inputs.ranking, captured)
    return Moved(sent, totals, lost=lost, influence={"aid_income": aid}, aid_received=received)


def village_rows(h: HouseholdArrays, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every household row of ``villages`` and the position of its village in ``villages``."""
    counts = (h.stop[villages] - h.start[villages]).astype(np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.arange(counts.sum()) - offsets + np.repeat(h.start[villages], counts)
    return rows, np.repeat(np.arange(villages.size), counts)


def ranked_rows(h: HouseholdArrays, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The households of ``villages``, sorted by village and then per-capita income.

    Returns (rows, group, rank): household rows, the position of each row's
    village in ``villages``, and its income rank within the village in [0, 1]
    (0 = poorest). One sort serves every village at once; use
    :func:`ranked_rows_of` to reuse it for a subset of the villages.
    """
    rows, group = village_rows(h, villages)
    counts = (h.stop[villages] - h.start[villages]).astype(np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    # Sort by (village, per-capita income) in one float key: villages are 1e9 yuan apart.
    order = np.argsort(group * 1e9 + h.annual[rows] / h.size[rows])
    rows, group = rows[order], group[order]
    rank = (np.arange(rows.size) - offsets) / np.maximum(np.repeat(counts, counts) - 1, 1)
    return rows, group, rank


def ranked_rows_of(
    ranking: tuple, ranked_villages: np.ndarray, villages: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part of a :func:`ranked_rows` result that belongs to ``villages`` (a subset), regrouped."""
    rows, group, rank = ranking
    position = np.full(int(ranked_villages.max(initial=-1)) + 1, -1)
    position[villages] = np.arange(villages.size)
    new_group = position[ranked_villages[group]]
    keep = new_group >= 0
    return rows[keep], new_group[keep], rank[keep]


def _capture(h: HouseholdArrays, ranking: HouseholdRanking, captured: np.ndarray) -> np.ndarray:
    """Captured funds go to each village's better-off fifth of households ("村里的变家里的")."""
    aid = np.zeros(len(h))
    villages = np.flatnonzero(captured > 0)
    if villages.size == 0:
        return aid
    rows, group, rank = ranking.of(villages)
    top = rank >= 0.8  # the better-off fifth
    rows, group = rows[top], group[top]
    people = np.bincount(group, weights=h.size[rows], minlength=villages.size)
    aid[rows] = captured[villages][group] * h.size[rows] / people[group]
    return aid


def train(inputs: FlowInputs) -> Moved:
    """Training raises the skill of able members, poorer households first unless the elite capture it.

    Each village's trainees are drawn without replacement from its households
    with someone able to work, with weight ``(1 - e)(1 - rank) + e rank`` on the
    household's income rank (e = elite capture). All villages are drawn at once
    by exponential races (the key ``Exp(1) / weight``; the smallest keys win),
    which gives the same distribution as drawing one trainee after another.
    """
    links, h, failure, effects, rng = inputs.links, inputs.county.households, inputs.failure, inputs.effects, inputs.rng
    planned = planned_this_month(links, "trainees")
    per_village = np.bincount(links.village, weights=planned, minlength=len(h.start))
    trainees = rng.poisson(per_village)
    villages = np.flatnonzero(trainees)
    trained_total = 0
    if villages.size:
        rows, group, rank = inputs.ranking.of(villages)
        able = h.workers[rows] > 0
        rows, group, rank = rows[able], group[able], rank[able]
        weight = (1.0 - failure.elite_capture) * (1.0 - rank) + failure.elite_capture * rank + 1e-9
        key = rng.exponential(size=rows.size) / weight
        order = lexsort_order(group, key)
        rows, group = rows[order], group[order]
        place = np.arange(rows.size) - np.searchsorted(group, group, side="left")
        chosen = rows[place < trainees[villages][group]]
        room = np.maximum(
            1.0 - (h.skill[chosen] - h.skill_base[chosen]) / (effects.training_saturation * h.skill_base[chosen] + 1e-12), 0.0
        )
        h.skill[chosen] += effects.training_gain * h.skill_base[chosen] * room
        trained_total = chosen.size
    # The ledger spreads each village's realised trainees over its links by their plans.
    realised = np.where(per_village > 0, trainees / np.where(per_village > 0, per_village, 1.0), 0.0)
    sent = planned * realised[links.village]
    return Moved(sent, {"trainees": float(trained_total)})


def hire(inputs: FlowInputs) -> Moved:
    """Enterprise donors hire workers of their paired village, within their vacancies."""
    links, county, rng = inputs.links, inputs.county, inputs.rng
    planned = planned_this_month(links, "jobs") * links.of_kind("enterprise")
    wanted = rng.poisson(planned)
    hired = np.zeros(len(links))
    capacity = inputs.month.enterprise_capacity
    vacancies = np.maximum(capacity - county.jobs.filled(len(capacity)), 0).astype(np.int64)
    chosen, employer = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    for link in np.flatnonzero(wanted):
        enterprise = links.donor_index[link]
        n = min(int(wanted[link]), int(vacancies[enterprise]))
        if n > 0:
            households = county.jobs.hire_in_village(enterprise, int(links.village[link]), n, county.households, rng)
            vacancies[enterprise] -= households.size
            hired[link] = households.size
            chosen.append(households)
            employer.append(np.full(households.size, enterprise, dtype=np.int64))
    county.jobs.add(np.concatenate(chosen), np.concatenate(employer))
    return Moved(hired, {"jobs_created": float(hired.sum())})


def second_cadres(inputs: FlowInputs) -> Moved:
    """Seconded cadres lift leadership while present; a little of it lasts after they leave."""
    links, state, effects = inputs.links, inputs.county.state, inputs.effects
    months = planned_this_month(links, "cadre_months")
    presence = np.minimum(np.bincount(links.village, weights=months, minlength=len(state.leadership)), 1.0)
    bonus = effects.cadre_leadership_gain * presence
    state.leadership = np.minimum(state.leadership + effects.cadre_lasting_share * bonus, 1.0)
    return Moved(months, {"cadre_months": float(months.sum())}, influence={"leadership_bonus": bonus})


def transfer_technology(inputs: FlowInputs) -> Moved:
    """New varieties and techniques raise the village's farm productivity."""
    links, state, effects = inputs.links, inputs.county.state, inputs.effects
    units = planned_this_month(links, "technology")
    state.productivity *= 1.0 + effects.technology_gain * np.bincount(
        links.village, weights=units, minlength=len(state.productivity)
    )
    return Moved(units, {"technology": float(units.sum())})


def open_markets(inputs: FlowInputs) -> Moved:
    """Market access (joint buying and selling through an association) saves member households money."""
    links, h = inputs.links, inputs.county.households
    per_household = planned_this_month(links, "market_savings")  # yuan a month per household of the village
    if not links.planned["market_savings"].any():
        return Moved(np.zeros(len(links)), {"market_savings": 0.0}, influence={"market_income": 0.0})
    households = (h.stop - h.start)[links.village]
    sent = per_household * households
    full_plan = links.planned["market_savings"] / 12.0 * households
    saving = np.bincount(links.village, weights=per_household, minlength=len(h.start))
    return Moved(sent, {"market_savings": float(sent.sum())}, full_plan=full_plan, influence={"market_income": h.spread(saving)})


def solve_problems(inputs: FlowInputs) -> Moved:
    """Joint problem solving (解决难题) removes the village's open problems."""
    links, state = inputs.links, inputs.county.state
    wanted = planned_this_month(links, "problems_solved")
    per_village = np.bincount(links.village, weights=wanted, minlength=len(state.problems))
    solved = np.minimum(per_village, state.problems)
    state.problems -= solved
    share = np.where(per_village > 0, solved / np.where(per_village > 0, per_village, 1.0), 0.0)
    sent = wanted * share[links.village]
    return Moved(sent, {"problems_solved_by_pairs": float(solved.sum())})
