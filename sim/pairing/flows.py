"""What moves each month along active links, and what it does to the receiving village.

Every flow is planned per link and year, scaled by the link's effort (and, after
its village has left weak status, by the support left to it), capped by its
donor's means, recorded in the ledger (sent, lost, captured, received), then
applied: funds to collective projects, public works and poorer households'
production assets, training to household skill, jobs to enterprise employment,
cadres to leadership, techniques to the village's technology lift, market access
to farming households' costs, problem solving to the village's open problems.
Each month's ``full_plan`` is what the donor could have delivered at full effort
(its plan capped by its means and the village's room), so ratings judge effort,
not means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.economy import farm_inputs, village_farm_factor
from sim.households import HouseholdArrays
from sim.influence import NEUTRAL
from sim.labour import lexsort_order
from sim.pairing.config import Effects, FailureModes, Policy
from sim.pairing.county import County, Month
from sim.pairing.links import Links
from sim.pairing.registry import donor_kinds
from sim.pairing.stocks import PairingStocks

CAPTURING_SHARE = 0.2
"""The better-off share of a village's households (by income rank) that captured funds go to."""


@dataclass
class Moved:
    """What one flow moved this month.

    ``sent`` (per link, in the flow's unit), ``lost`` and ``captured`` go to the ledger;
    ``full_plan`` is what the link could have sent this month at full effort, in the units of ``sent``
    (default: :func:`full_plan_this_month`), for the quarterly ratings;
    ``totals`` are monthly outcomes; ``influence`` holds the channels into the
    county core this flow sets (fields of :class:`sim.influence.PairingInfluence`).
    """

    sent: np.ndarray
    totals: dict[str, float]
    lost: np.ndarray | None = None
    captured: np.ndarray | None = None  # of what was received, per link: taken by the better-off households
    full_plan: np.ndarray | None = None
    influence: dict[str, np.ndarray | float] = field(default_factory=dict)
    aid_received: np.ndarray | None = None  # funds that reached each village (the dependency failure mode reads it)
    ended: np.ndarray | None = None  # rows of the links this flow ended this month (their status already set)
    captured_income: np.ndarray | None = None  # per household: the part of its household channels the better-off captured


class HouseholdRanking:
    """Households of every village with an active link, ranked by income within their village, once a month.

    Sorting is the expensive part of elite capture and of choosing trainees, so
    the ranking of all linked villages is computed on first use and shared.
    """

    def __init__(self, households: HouseholdArrays, links: Links) -> None:
        self.households, self.links = households, links
        self._villages: np.ndarray | None = None
        self._ranking: tuple = ()
        self._last_villages: np.ndarray | None = None  # the last subset asked for, and its regrouped ranking
        self._last: tuple = ()

    def of(self, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, group, rank) of ``villages``, as :func:`ranked_rows` gives them (possibly the shared arrays: do not write)."""
        if self._villages is None:
            self._villages = np.unique(self.links.village[self.links.active])
            self._ranking = ranked_rows(self.households, self._villages)
        if np.array_equal(villages, self._villages):  # funds often reach every linked village: no regrouping to do
            return self._ranking
        if not np.array_equal(villages, self._last_villages):  # broad and captured funds reach the same villages
            inside = np.isin(villages, self._villages).all()
            self._last_villages = villages
            self._last = (
                ranked_rows_of(self._ranking, self._villages, villages) if inside else ranked_rows(self.households, villages)
            )
        return self._last


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
    stocks: PairingStocks
    policies: Sequence[Policy] = ()  # the scenario's policies, by index (``links.policy``): their types' settings


def per_link(inputs: FlowInputs, setting: str, default: float = 0.0) -> np.ndarray:
    """Each link's value of ``setting`` in its policy's ``options`` (``default`` where the policy's type has no such setting)."""
    values = np.array(
        [
            float(getattr(policy.options, setting, default)) if policy.options is not None else default
            for policy in inputs.policies
        ]
    )
    return values[inputs.links.policy] if len(values) else np.full(len(inputs.links), default)


def full_plan_this_month(links: Links, flow: str) -> np.ndarray:
    """Each link's planned amount of ``flow`` for this month at full effort, with the support left to it (0 when inactive)."""
    return links.planned[flow] / 12.0 * links.support * links.active


def planned_this_month(links: Links, flow: str) -> np.ndarray:
    """Each link's planned amount of ``flow`` for this month at its current effort (0 when inactive)."""
    return full_plan_this_month(links, flow) * links.effort


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
    return share_capacity(links.donor_kind * 1_000_000 + links.donor_index, requested, capacity)


def share_capacity(owner: np.ndarray, requested: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Scale each link's request down, pro rata, where the links of one ``owner`` ask for more than its ``capacity``.

    ``capacity`` is given per link (the owner's, repeated on each of its links).
    """
    keys, inverse = np.unique(owner, return_inverse=True)
    asked = np.bincount(inverse, weights=requested, minlength=len(keys))
    available = np.zeros(len(keys))
    np.maximum.at(available, inverse, capacity)
    ratio = np.where(asked > 0, np.minimum(available / np.where(asked > 0, asked, 1.0), 1.0), 0.0)
    return requested * ratio[inverse]


def move_funds(inputs: FlowInputs) -> Moved:
    """Funds: capped by donors, a share leaks, a share is captured; the rest goes through three channels.

    Collective projects (collective capital, which pays dividends), public works
    (which fix open problems at the economy's ``problem_fix_cost``, in this month's
    prices; works with no problem left to fix become collective assets) and
    production assets for the village's poorer households (which earn
    ``support_return`` a year through :class:`~sim.pairing.stocks.PairingStocks`).
    """
    links, county, failure, effects = inputs.links, inputs.county, inputs.failure, inputs.effects
    state, h = county.state, county.households
    capacity = donor_fund_capacity(links, county, inputs.month, effects)
    sent = share_donor_capacity(links, planned_this_month(links, "funds"), capacity)
    full_plan = share_donor_capacity(links, full_plan_this_month(links, "funds"), capacity)  # what the donor could give
    lost = sent * failure.leakage
    captured_per_link = (sent - lost) * failure.elite_capture

    # Strong villages pay out of their own collective capital.
    from_villages = links.of_kind("village")
    np.subtract.at(state.capital, links.donor_index[from_villages], sent[from_villages])
    np.maximum(state.capital, 0.0, out=state.capital)

    received = np.bincount(links.village, weights=sent - lost, minlength=len(state.capital))
    captured = received * failure.elite_capture
    broad = received - captured
    works = broad * effects.funds_to_works
    fix_cost = state.problem_fix_cost(county.economy)
    fixed = np.minimum(works / np.maximum(fix_cost, 1e-9), state.problems)
    state.problems -= fixed
    state.capital += broad * effects.funds_to_capital + (works - fixed * fix_cost)
    inputs.stocks.support_assets += _to_ranked(
        h, inputs.ranking, broad * effects.funds_to_households, 0.0, effects.support_poorest_share
    )
    totals = {"funds_sent": float(sent.sum()), "funds_lost": float(lost.sum()), "funds_captured": float(captured.sum())}
    aid = _to_ranked(h, inputs.ranking, captured, 1.0 - CAPTURING_SHARE, 1.0)
    return Moved(
        sent,
        totals,
        lost=lost,
        captured=captured_per_link,
        full_plan=full_plan,
        influence={"aid_income": aid},
        aid_received=received,
        captured_income=aid,  # every yuan of this flow's aid_income is captured funds: no broad benefit (satisfaction)
    )


def village_rows(h: HouseholdArrays, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every household row of ``villages`` and the position of its village in ``villages``."""
    counts = (h.stop[villages] - h.start[villages]).astype(np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.arange(counts.sum()) - offsets + np.repeat(h.start[villages], counts)
    return rows, np.repeat(np.arange(villages.size), counts)


def farm_output_without_pairing(
    county: County, villages: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the households of ``villages`` farm, and each village's farm output per unit of it before pairing's channels.

    Returns (rows, group, household inputs, village inputs, output per input): the households' rows and their
    village's position in ``villages`` (as :func:`village_rows`), their :func:`~sim.economy.farm_inputs`, those
    summed per village (0 for other villages), and productivity times the village farm factor with
    :data:`~sim.influence.NEUTRAL` (per village; meaningful for ``villages`` only).
    """
    state, h, economy = county.state, county.households, county.economy
    rows, group = village_rows(h, villages)
    household_inputs = farm_inputs(h, economy, rows)
    village_inputs = np.zeros(len(h.start))
    village_inputs[villages] = np.bincount(group, weights=household_inputs, minlength=villages.size)
    per_input = state.productivity * village_farm_factor(state, economy, NEUTRAL, village_inputs)
    return rows, group, household_inputs, village_inputs, per_input


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


def _to_ranked(
    h: HouseholdArrays, ranking: HouseholdRanking, per_village: np.ndarray, lowest: float, highest: float
) -> np.ndarray:
    """Each village's amount shared per person among its households whose income rank is in [lowest, highest].

    Captured funds go to the better-off fifth (rank 0.8 and up, "村里的变家里的");
    production assets to the poorest (rank 0 up to ``support_poorest_share``).
    Returns yuan per household (0 elsewhere).
    """
    out = np.zeros(len(h))
    villages = np.flatnonzero(per_village > 0)
    if villages.size == 0:
        return out
    rows, group, rank = ranking.of(villages)
    chosen = (rank >= lowest) & (rank <= highest)
    rows, group = rows[chosen], group[chosen]
    people = np.bincount(group, weights=h.size[rows], minlength=villages.size)
    out[rows] = per_village[villages][group] * h.size[rows] / people[group]
    return out


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
    trained = np.zeros(len(h.start))  # per village: a village with too few able members trains fewer than drawn
    if villages.size:
        rows, group, rank = inputs.ranking.of(villages)
        able = h.workers[rows] > 0
        rows, group, rank = rows[able], group[able], rank[able]
        weight = (1.0 - failure.elite_capture) * (1.0 - rank) + failure.elite_capture * rank + 1e-9
        key = rng.exponential(size=rows.size) / weight
        order = lexsort_order(group, key)
        rows, group = rows[order], group[order]
        place = np.arange(rows.size) - np.searchsorted(group, group, side="left")
        picked = place < trainees[villages][group]
        chosen = rows[picked]
        trained[villages] = np.bincount(group[picked], minlength=villages.size)
        room = np.maximum(
            1.0 - (h.skill[chosen] - h.skill_base[chosen]) / (effects.training_saturation * h.skill_base[chosen] + 1e-12), 0.0
        )
        h.skill[chosen] += effects.training_gain * h.skill_base[chosen] * room
    # The ledger spreads each village's people trained over its links by their plans, so the donors pay for those.
    realised = np.where(per_village > 0, trained / np.where(per_village > 0, per_village, 1.0), 0.0)
    sent = planned * realised[links.village]
    return Moved(sent, {"trainees": float(trained.sum())})


def hire(inputs: FlowInputs) -> Moved:
    """Enterprise donors hire workers of their paired village, within their vacancies."""
    links, county, rng = inputs.links, inputs.county, inputs.rng
    from_enterprises = links.of_kind("enterprise")
    planned = planned_this_month(links, "jobs") * from_enterprises
    wanted = rng.poisson(planned)
    hired = np.zeros(len(links))
    capacity = inputs.month.enterprise_capacity
    vacancies = np.maximum(capacity - county.jobs.filled(len(capacity)), 0).astype(np.int64)
    # A firm with no vacancy cannot hire, however willing: its links are rated against the vacancies it has.
    room = np.where(from_enterprises, vacancies[np.where(from_enterprises, links.donor_index, 0)], 0).astype(float)
    full_plan = share_donor_capacity(links, full_plan_this_month(links, "jobs") * from_enterprises, room)
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
    return Moved(hired, {"jobs_created": float(hired.sum())}, full_plan=full_plan)


def second_cadres(inputs: FlowInputs) -> Moved:
    """Seconded cadres lift leadership while present; a little of it lasts after they leave."""
    links, state, effects = inputs.links, inputs.county.state, inputs.effects
    months = planned_this_month(links, "cadre_months")
    presence = np.minimum(np.bincount(links.village, weights=months, minlength=len(state.leadership)), 1.0)
    bonus = effects.cadre_leadership_gain * presence
    state.leadership = np.minimum(state.leadership + effects.cadre_lasting_share * bonus, 1.0)
    return Moved(months, {"cadre_months": float(months.sum())}, influence={"leadership_bonus": bonus})


def transfer_technology(inputs: FlowInputs) -> Moved:
    """New varieties and techniques add to the village's technology lift, which saturates and wears off (stocks)."""
    links, effects = inputs.links, inputs.effects
    units = planned_this_month(links, "technology")
    lift = inputs.stocks.technology_lift
    inputs.stocks.add_techniques(np.bincount(links.village, weights=units, minlength=len(lift)), effects)
    return Moved(units, {"technology": float(units.sum())})


def open_markets(inputs: FlowInputs) -> Moved:
    """Market access (joint buying and selling through an association) cuts farming households' costs.

    Only households that farm save, and at most ``market_savings_cap`` of their
    farm output this month; the plan is yuan a year per household of the village.
    """
    links, county, effects = inputs.links, inputs.county, inputs.effects
    h = county.households
    if not links.planned["market_savings"].any():
        return Moved(np.zeros(len(links)), {"market_savings": 0.0}, influence={"market_income": 0.0})
    villages = np.flatnonzero(
        np.bincount(links.village, weights=links.planned["market_savings"] * links.active, minlength=len(h.start))
    )
    rows, group, household_inputs, _, per_input = farm_output_without_pairing(county, villages)
    farming = (h.workers[rows] - h.migrants[rows] - h.local_jobs[rows]) > 0
    cap = effects.market_savings_cap * per_input[villages][group] * household_inputs * farming

    def saved(per_link: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Yuan saved per household of ``rows`` and per link, for a per-household plan ``per_link`` this month."""
        wanted = np.bincount(links.village, weights=per_link, minlength=len(h.start))[villages][group]
        household = np.minimum(wanted, cap)
        village = np.zeros(len(h.start))
        village[villages] = np.bincount(group, weights=household, minlength=villages.size)
        wanted_village = np.bincount(links.village, weights=per_link * (h.stop - h.start)[links.village], minlength=len(h.start))
        share = np.where(wanted_village > 0, village / np.where(wanted_village > 0, wanted_village, 1.0), 0.0)
        return household, per_link * (h.stop - h.start)[links.village] * share[links.village]

    household, sent = saved(planned_this_month(links, "market_savings"))
    full_plan = saved(full_plan_this_month(links, "market_savings"))[1]
    income = np.zeros(len(h))
    income[rows] = household
    return Moved(sent, {"market_savings": float(sent.sum())}, full_plan=full_plan, influence={"market_income": income})


def solve_problems(inputs: FlowInputs) -> Moved:
    """Joint problem solving (解决难题) removes the village's open problems; a village with none left absorbs none."""
    links, state = inputs.links, inputs.county.state
    wanted = planned_this_month(links, "problems_solved")
    per_village = np.bincount(links.village, weights=wanted, minlength=len(state.problems))
    solved = np.minimum(per_village, state.problems)
    full_plan = share_capacity(links.village, full_plan_this_month(links, "problems_solved"), state.problems[links.village])
    state.problems -= solved
    share = np.where(per_village > 0, solved / np.where(per_village > 0, per_village, 1.0), 0.0)
    sent = wanted * share[links.village]
    return Moved(sent, {"problems_solved_by_pairs": float(solved.sum())}, full_plan=full_plan)
