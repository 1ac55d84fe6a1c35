"""What moves each month along active links, and what it does to the receiving village.

Every flow is planned per link and year, scaled by the link's effort, capped by
its donor's means, recorded in the ledger (sent, lost, received), then applied:
funds to collective capital and public projects, training to household skill,
jobs to enterprise employment, cadres to leadership, technology to farm
productivity, problem solving to the village's open problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.pairing.links import DONOR_KINDS, Links

if TYPE_CHECKING:
    from sim.model import PairingModel


def planned_this_month(links: Links, flow: str) -> np.ndarray:
    """Each link's planned amount of ``flow`` for this month at its current effort (0 when inactive)."""
    return links.planned[flow] / 12.0 * links.effort * links.active


def donor_fund_capacity(model: PairingModel) -> np.ndarray:
    """The most each link's donor can give this month (yuan), per link (shared by the donor's links later)."""
    links, effects = model.pairing.links, model.spec.pairing.effects
    capacity = np.zeros(len(links))
    kind, index = links.donor_kind, links.donor_index
    for name, budget in (
        ("department", np.array([d.annual_budget for d in model.departments]) / 12.0),
        ("community", np.array([c.annual_budget for c in model.communities]) / 12.0),
        ("enterprise", effects.enterprise_giving_share * model.enterprise_wage_bill()),
        ("village", effects.strong_village_giving_share * np.maximum(model.village_state.collective_history.max(axis=0), 0.0)),
    ):
        rows = kind == DONOR_KINDS.index(name)
        if rows.any():
            capacity[rows] = budget[index[rows]]
    return capacity  # cooperatives give no money: they train, advise and solve problems


def share_donor_capacity(links: Links, requested: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Scale requests down where a donor's links together ask for more than it has."""
    donor_key = links.donor_kind * 1_000_000 + links.donor_index
    keys, inverse = np.unique(donor_key, return_inverse=True)
    asked = np.bincount(inverse, weights=requested, minlength=len(keys))
    available = np.zeros(len(keys))
    np.maximum.at(available, inverse, capacity)
    ratio = np.where(asked > 0, np.minimum(available / np.where(asked > 0, asked, 1.0), 1.0), 0.0)
    return requested * ratio[inverse]


def move_funds(model: PairingModel, step: int) -> dict[str, float]:
    """Funds: capped by donors, a share leaks, the rest goes to capital, public projects and (captured) households."""
    programme, state, h = model.pairing, model.village_state, model.households
    links, failure, effects = programme.links, model.spec.pairing.failure, model.spec.pairing.effects
    sent = share_donor_capacity(links, planned_this_month(links, "funds"), donor_fund_capacity(model))
    lost = sent * failure.leakage
    programme.record_flow(step, "funds", sent, lost)

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
    h.aid_income = _capture(model, captured)
    programme.aid_received_history[step % 12] = received
    return {"funds_sent": float(sent.sum()), "funds_lost": float(lost.sum()), "funds_captured": float(captured.sum())}


def village_rows(h, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every household row of ``villages`` and the position of its village in ``villages``."""
    counts = (h.stop[villages] - h.start[villages]).astype(np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.arange(counts.sum()) - offsets + np.repeat(h.start[villages], counts)
    return rows, np.repeat(np.arange(villages.size), counts)


def ranked_rows(h, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _capture(model: PairingModel, captured: np.ndarray) -> np.ndarray:
    """Captured funds go to each village's better-off fifth of households ("村里的变家里的")."""
    h = model.households
    aid = np.zeros(len(h))
    villages = np.flatnonzero(captured > 0)
    if villages.size == 0:
        return aid
    rows, group, rank = model.pairing.ranked_households(villages)
    top = rank >= 0.8  # the better-off fifth
    rows, group = rows[top], group[top]
    people = np.bincount(group, weights=h.size[rows], minlength=villages.size)
    aid[rows] = captured[villages][group] * h.size[rows] / people[group]
    return aid


def train(model: PairingModel, step: int) -> float:
    """Training raises the skill of able members, poorer households first unless the elite capture it.

    Each village's trainees are drawn without replacement from its households
    with someone able to work, with weight ``(1 - e)(1 - rank) + e rank`` on the
    household's income rank (e = elite capture). All villages are drawn at once
    by exponential races (the key ``Exp(1) / weight``; the smallest keys win),
    which gives the same distribution as drawing one trainee after another.
    """
    programme, h = model.pairing, model.households
    links, failure, effects = programme.links, model.spec.pairing.failure, model.spec.pairing.effects
    planned = planned_this_month(links, "trainees")
    per_village = np.bincount(links.village, weights=planned, minlength=len(h.start))
    trainees = programme.rng.poisson(per_village)
    villages = np.flatnonzero(trainees)
    trained_total = 0
    if villages.size:
        rows, group, rank = programme.ranked_households(villages)
        able = h.workers[rows] > 0
        rows, group, rank = rows[able], group[able], rank[able]
        weight = (1.0 - failure.elite_capture) * (1.0 - rank) + failure.elite_capture * rank + 1e-9
        key = programme.rng.exponential(size=rows.size) / weight
        order = np.lexsort((key, group))
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
    programme.record_flow(step, "trainees", sent)
    return float(trained_total)


def hire(model: PairingModel, step: int) -> float:
    """Enterprise donors hire workers of their paired village, within their vacancies."""
    programme = model.pairing
    links = programme.links
    planned = planned_this_month(links, "jobs") * links.of_kind("enterprise")
    wanted = model.pairing.rng.poisson(planned)
    hired = np.zeros(len(links))
    vacancies = np.maximum(model.enterprise_capacity() - model.jobs.filled(len(model.enterprises)), 0).astype(np.int64)
    for link in np.flatnonzero(wanted):
        enterprise = links.donor_index[link]
        n = min(int(wanted[link]), int(vacancies[enterprise]))
        if n > 0:
            done = model.jobs.hire_in_village(enterprise, int(links.village[link]), n, model.households, model.pairing.rng)
            vacancies[enterprise] -= done
            hired[link] = done
    programme.record_flow(step, "jobs", hired)
    return float(hired.sum())


def second_cadres(model: PairingModel, step: int) -> float:
    """Seconded cadres lift leadership while present; a little of it lasts after they leave."""
    programme, state = model.pairing, model.village_state
    links, effects = programme.links, model.spec.pairing.effects
    months = planned_this_month(links, "cadre_months")
    programme.record_flow(step, "cadre_months", months)
    presence = np.minimum(np.bincount(links.village, weights=months, minlength=len(state.leadership)), 1.0)
    state.leadership_bonus = effects.cadre_leadership_gain * presence
    state.leadership = np.minimum(state.leadership + effects.cadre_lasting_share * state.leadership_bonus, 1.0)
    return float(months.sum())


def transfer_technology(model: PairingModel, step: int) -> float:
    """New varieties and techniques raise the village's farm productivity."""
    programme, state = model.pairing, model.village_state
    links, effects = programme.links, model.spec.pairing.effects
    units = planned_this_month(links, "technology")
    programme.record_flow(step, "technology", units)
    state.productivity *= 1.0 + effects.technology_gain * np.bincount(
        links.village, weights=units, minlength=len(state.productivity)
    )
    return float(units.sum())


def open_markets(model: PairingModel, step: int) -> float:
    """Market access (joint buying and selling through an association) saves member households money."""
    programme, h = model.pairing, model.households
    links = programme.links
    per_household = planned_this_month(links, "market_savings")  # yuan a month per household of the village
    if not links.planned["market_savings"].any():
        h.market_income = 0.0
        return 0.0
    households = (h.stop - h.start)[links.village]
    sent = per_household * households
    programme.record_flow(step, "market_savings", sent, full_plan=links.planned["market_savings"] / 12.0 * households)
    saving = np.bincount(links.village, weights=per_household, minlength=len(h.start))
    h.market_income = h.spread(saving)
    return float(sent.sum())


def solve_problems(model: PairingModel, step: int) -> float:
    """Joint problem solving (解决难题) removes the village's open problems."""
    programme, state = model.pairing, model.village_state
    links = programme.links
    wanted = planned_this_month(links, "problems_solved")
    per_village = np.bincount(links.village, weights=wanted, minlength=len(state.problems))
    solved = np.minimum(per_village, state.problems)
    state.problems -= solved
    share = np.where(per_village > 0, solved / np.where(per_village > 0, per_village, 1.0), 0.0)
    sent = wanted * share[links.village]
    programme.record_flow(step, "problems_solved", sent)
    return float(solved.sum())
