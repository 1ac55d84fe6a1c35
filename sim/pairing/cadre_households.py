"""Cadres paired with poor households (干部结对帮扶户): Xunwu's "2+10864" ([China 2022], the Xunwu report).

"每位现职县级领导包2个贫困村 ... 每位县级领导、正科级、副科级和一般干部分别结对10户、8户、6户、4户贫困户": each county
leader covers two poor villages, and every cadre pairs with poor households by rank. Help follows the household's ability
to work ("因人因户施策"):

- able (具备劳动能力): industry support (production assets) and job placement (转移就业);
- partly able (具备部分劳动能力): 低保 plus industry support or a job;
- unable (基本丧失劳动能力): 低保/五保 plus asset income (投资收益);
- harsh location (生存条件恶劣): relocation (易地搬迁), on top of its ability group's help.

The donor kind ``cadre`` is built from the settings of the scenario's ``cadre_household`` policies (cadres by rank). The
policy type matches them to the villages with the highest poverty incidence, a county leader to
``villages_per_county_leader`` of them. When a cadre's link first moves, the cadre takes its share of its quota of the
village's poor households (below the poverty line), poorest first, none already taken by another cadre (一户一档: the
county's :class:`Roster`). Four flows go to those households, never to the village collective. Cadres give time, not
money: the assets are the county's poverty funds they broker, booked to the programme yuan for yuan. docs/ODD.md 7.30
gives the equations, section 9 the sources of every number.

Settings (``pairing.policies[i].settings``; rows ``cadre_household.settings.<name>`` in docs/ODD.md section 9):
``county_leaders``, ``section_chiefs``, ``deputy_section_chiefs``, ``ordinary_cadres``, ``households_per_county_leader``,
``households_per_section_chief``, ``households_per_deputy_section_chief``, ``households_per_ordinary_cadre``,
``villages_per_county_leader``, ``partly_able_worker_share``, ``partly_able_skill``, ``remote_km``, and the unit costs
``relocation_cost_per_household`` and ``enrolment_casework_days``.

Flows (``pairing.policies[i].flows``, each a year per paired household): ``household_assets`` (yuan),
``job_placements``, ``dibao_enrolments``, ``relocations``. A fifth, ``dibao_topups`` (yuan), is planned by nobody: it
books the 低保 top-ups the government pays the households the cadres enrolled, so the programme's cost includes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from sim.labour import lexsort_order
from sim.pairing.config import Effects, Policy
from sim.pairing.county import County
from sim.pairing.flows import FlowInputs, Moved, full_plan_this_month, planned_this_month
from sim.pairing.policies import Candidates, Targeting, donor_pool, recipient_villages, untyped
from sim.pairing.registry import (
    WORKING_DAYS_PER_MONTH,
    CountyCounts,
    DonorKind,
    Flow,
    PolicyType,
    Prices,
    register_donor_kind,
    register_flow,
    register_policy_type,
)
from sim.region import region_town_centres
from sim.scenario import Economy
from sim.schema import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Share, Strict

if TYPE_CHECKING:
    from sim.agents import Cadre  # built in the builder only: importing it here would import Mesa

POLICY_TYPE = "cadre_household"
DONOR_KIND = "cadre"
ASSETS, JOBS, DIBAO, RELOCATIONS = "household_assets", "job_placements", "dibao_enrolments", "relocations"
TOPUPS = "dibao_topups"

ABLE, PARTLY_ABLE, UNABLE = 0, 1, 2
GROUP_NAMES = {ABLE: "able", PARTLY_ABLE: "partly able", UNABLE: "unable"}
"""The documents' groups by ability to work (有劳动能力, 部分劳动能力, 基本丧失劳动能力)."""


class CadreHouseholdSettings(Strict):
    """A cadre–household policy's own numbers: its cadres by rank, their households, and how households are grouped."""

    county_leaders: NonNegativeInt = Field(30, description="county-level leaders (县级领导) who pair")
    section_chiefs: NonNegativeInt = Field(200, description="section chiefs (正科级) who pair")
    deputy_section_chiefs: NonNegativeInt = Field(400, description="deputy section chiefs (副科级) who pair")
    ordinary_cadres: NonNegativeInt = Field(2000, description="ordinary cadres (一般干部) who pair")
    households_per_county_leader: NonNegativeInt = Field(10, description="poor households each county leader pairs with")
    households_per_section_chief: NonNegativeInt = Field(8, description="poor households each section chief pairs with")
    households_per_deputy_section_chief: NonNegativeInt = Field(
        6, description="poor households each deputy section chief pairs with"
    )
    households_per_ordinary_cadre: NonNegativeInt = Field(4, description="poor households each ordinary cadre pairs with")
    villages_per_county_leader: PositiveInt = Field(2, description="poor villages each county leader covers (包村)")
    partly_able_worker_share: Share = Field(
        0.34, description="a household with able members below this share of its residents is partly able to work"
    )
    partly_able_skill: NonNegativeFloat = Field(
        0.6, description="a household whose untrained skill is below this (county mean 1) is partly able to work"
    )
    remote_km: PositiveFloat = Field(
        10.0, description="km from its town seat beyond which a village is a harsh location whose households relocate"
    )
    relocation_cost_per_household: PositiveFloat = Field(
        600e9 / 2_660_000,
        description="start-year yuan one household's relocation costs (house, infrastructure, services): "
        "the 13th Five-Year Plan's 600 billion yuan over 2.66 million resettlement houses [NDRC 2020]",
    )
    enrolment_casework_days: PositiveFloat = Field(
        2.0, description="days of a cadre's time one 低保 enrolment takes (application, household check, review, notice)"
    )

    def cadres(self) -> list[tuple[str, int, int]]:
        """(rank, how many, households each), highest rank first: the four ranks of "2+10864", 县级领导, 正科级, 副科级,
        一般干部."""
        return [
            ("county_leader", self.county_leaders, self.households_per_county_leader),
            ("section_chief", self.section_chiefs, self.households_per_section_chief),
            ("deputy_section_chief", self.deputy_section_chiefs, self.households_per_deputy_section_chief),
            ("ordinary_cadre", self.ordinary_cadres, self.households_per_ordinary_cadre),
        ]


DEFAULTS = CadreHouseholdSettings()


@dataclass
class Roster:
    """The county's register of paired poor households (一户一档), one entry per household and cadre link, shared by
    its cadres.

    Each entry: the household's row, the link of its cadre, its ability group, whether its village is a harsh location,
    whether it was relocated under that link. A household has at most one active cadre; once its cadre's link has ended
    (a churning round, rectification) a new cadre may take it again, in a new entry. ``enrolled`` marks the entry under
    which its cadre enrolled it in 低保 (one entry at most: a covered household is not enrolled again; households covered
    before pairing never are, as their top-ups are not the programme's doing).
    """

    hire_radius_km: float  # how far a local enterprise hires from: beyond it a placement is a job away
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    link: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    group: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    remote: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    relocated: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    enrolled: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    assigned_links: set[int] = field(default_factory=set)

    def add(self, rows: np.ndarray, link: int, group: np.ndarray, remote: bool) -> None:
        self.rows = np.concatenate([self.rows, rows.astype(np.int64)])
        self.link = np.concatenate([self.link, np.full(rows.size, link, np.int64)])
        self.group = np.concatenate([self.group, group.astype(np.int8)])
        self.remote = np.concatenate([self.remote, np.full(rows.size, remote)])
        self.relocated = np.concatenate([self.relocated, np.zeros(rows.size, bool)])
        self.enrolled = np.concatenate([self.enrolled, np.zeros(rows.size, bool)])
        self.assigned_links.add(link)


def build_cadres(model: Any, scenario: Any, rng: np.random.Generator) -> list[Cadre]:
    """Every cadre_household policy's cadres by rank, at the seat of the county whose cadres they are: the first donor
    county if named (the candidate rule keeps only cadres there), else the first recipient county, else the region's."""
    from sim.agents import Cadre  # here, not at the top: validating a scenario must not import Mesa

    roster = Roster(hire_radius_km=float(scenario.enterprises.hire_radius_km))
    ours = [(index, policy) for index, policy in enumerate(scenario.pairing.policies) if policy.type == POLICY_TYPE]
    cadres: list[Cadre] = []
    for policy_index, policy in ours:
        settings: CadreHouseholdSettings = policy.options
        county = (policy.donor_counties or policy.recipient_counties or [None])[0]
        seat = scenario.region.seat_of(county)
        prefix = f"{policy.label} " if len(ours) > 1 else ""
        for rank, count, quota in settings.cadres():
            villages = settings.villages_per_county_leader if rank == "county_leader" else 1
            for k in range(count):
                name = f"{prefix}{rank.replace('_', ' ')} {k + 1}"
                cadres.append(Cadre(model, len(cadres), name, seat, rank, quota, villages, policy_index, roster))
    return cadres


def poverty_line(cadres: list[Cadre]) -> float:
    """This month's poverty line (yuan a year per person), the model's (``PairingModel.poverty_line``)."""
    return float(cadres[0].model.poverty_line())


# --------------------------------------------------------------------------- matching


def poor_households(county: County, line: float) -> np.ndarray:
    """Which households are poor: trailing 12-month income per person below ``line``."""
    h = county.households
    return h.annual / h.size < line


def cadre_household(county: County, policy: Policy, targeting: Targeting) -> Candidates:
    """This policy's cadres with the villages of highest poverty incidence (贫困村), as many as ``pairs``.

    Every cadre may serve every such village; a county leader takes ``villages_per_county_leader`` of them, other
    cadres one. The cadres' links are shared out among the villages in proportion to their poor households (at least
    one each, and no more than would pair every poor household at the cadres' average households per link).
    """
    pool = donor_pool(county, POLICY_TYPE, policy.donor_counties)
    cadres = [c for c in pool if c.policy_index == targeting.policy_index]
    eligible = recipient_villages(county, policy, targeting)
    if not cadres:
        return Candidates([], eligible[:0], np.zeros((0, 0)), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    h = county.households
    poor = poor_households(county, poverty_line(cadres))
    poor_count = np.bincount(h.village[poor], minlength=len(h.start))
    incidence = h.village_sum(h.size * poor) / county.population
    has_poor = eligible[poor_count[eligible] > 0]
    order = np.lexsort((-targeting.priority[has_poor], -incidence[has_poor]))  # incidence first, then need
    recipients = has_poor[order][: policy.pairs]
    capacity = np.array([c.villages for c in cadres], np.int64)
    links = int(capacity.sum())
    per_link = sum(c.quota for c in cadres) / links
    need = np.ceil(poor_count[recipients] / max(per_link, 1e-9))  # links that would pair every poor household
    share = np.floor(links * poor_count[recipients] / max(poor_count[recipients].sum(), 1))  # links in proportion
    wanted = np.maximum(np.minimum(need, share), 1).astype(np.int64)
    scores = np.tile(incidence[recipients], (len(cadres), 1))
    return Candidates(cadres, recipients, scores, capacity, wanted, incidence[recipients])


def cadre_household_cells(policy: Policy, pairs: int, counts: CountyCounts) -> int:
    """Every cadre of the policy against its ``pairs`` villages."""
    return sum(count for _, count, _ in policy.options.cadres()) * pairs


def has_cadres(policy: Policy) -> str | None:
    """A cadre–household policy needs cadres, and sets each village's cadres itself (from its poor households); its 低保
    top-ups follow from its enrolments, so they take no plan."""
    if problem := untyped(policy):
        return problem
    if policy.donors_per_pair != 1:
        return "cadre_household gives each village as many cadres as its poor households need; leave donors_per_pair out"
    if sum(count for _, count, _ in policy.options.cadres()) == 0:
        return (
            "cadre_household needs cadres: settings county_leaders, section_chiefs, deputy_section_chiefs or ordinary_cadres > 0"
        )
    if policy.flows.amount(TOPUPS) > 0:
        return f"flows.{TOPUPS} is not planned: the 低保 top-ups follow from dibao_enrolments and the 低保 line"
    return None


# --------------------------------------------------------------------------- households of each cadre


def paired_households(inputs: FlowInputs) -> Roster | None:
    """The roster, after the cadres of links moving for the first time have taken their households (``None``: no cadres).

    A link's share of its cadre's quota is the quota split evenly over the cadre's links (a county leader's two
    villages); it takes that many of its village's poor households not yet paired, poorest first. No random draws.
    """
    cadres = inputs.county.organisations.get(DONOR_KIND, [])
    if not cadres:
        return None
    roster: Roster = cadres[0].roster
    links, county = inputs.links, inputs.county
    ours = links.of_kind(DONOR_KIND)
    new = [int(link) for link in np.flatnonzero(ours & links.active) if int(link) not in roster.assigned_links]
    if not new:
        return roster
    h = county.households
    per_capita = h.annual / h.size
    poor = poor_households(county, poverty_line(cadres))
    taken = np.zeros(len(h), bool)  # households of active cadres' links: those of ended links may be paired again
    taken[roster.rows[links.active[roster.link]]] = True
    seats = region_town_centres(county.region)[county.villages["town_index"].to_numpy()]
    from_seat = np.hypot(*(county.village_xy() - seats).T)
    for link in new:
        cadre = cadres[int(links.donor_index[link])]
        settings: CadreHouseholdSettings = inputs.policies[int(links.policy[link])].options
        village = int(links.village[link])
        its_links = np.flatnonzero(ours & links.active & (links.donor_index == cadre.index))  # its villages in hand
        position = int(np.searchsorted(its_links, link))
        share = cadre.quota // its_links.size + (1 if position < cadre.quota % its_links.size else 0)
        rows = np.arange(h.start[village], h.stop[village])
        rows = rows[poor[rows] & ~taken[rows]]
        rows = rows[np.argsort(per_capita[rows], kind="stable")][:share]
        taken[rows] = True
        roster.add(rows, link, ability_groups(h, rows, settings), bool(from_seat[village] > settings.remote_km))
        cadre.households = np.concatenate([cadre.households, rows])
    return roster


def ability_groups(h: Any, rows: np.ndarray, settings: CadreHouseholdSettings) -> np.ndarray:
    """Each household's ability to work: unable (no able member), partly able (few able members for its size, or low
    untrained skill: dependants, illness), else able."""
    workers = h.workers[rows]
    few = workers / h.size[rows] < settings.partly_able_worker_share
    weak = h.skill_base[rows] < settings.partly_able_skill
    return np.where(workers == 0, UNABLE, np.where(few | weak, PARTLY_ABLE, ABLE))


def _nothing(inputs: FlowInputs, flow: str) -> Moved:
    return Moved(np.zeros(len(inputs.links)), {flow: 0.0})


def _households_per_link(roster: Roster, n_links: int, chosen: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(roster.link if chosen is None else roster.link[chosen], minlength=n_links).astype(float)


def _expected(inputs: FlowInputs, flow: str, roster: Roster) -> np.ndarray:
    """Each cadre link's expected count this month: its plan per household a year / 12 at its effort, times its households."""
    links = inputs.links
    return planned_this_month(links, flow) * links.of_kind(DONOR_KIND) * _households_per_link(roster, len(links))


def _rated(links: Any, sent: np.ndarray) -> np.ndarray:
    """What a link could have sent at full effort, for its rating: ``sent / effort`` where it sent something, else 0.

    Households are placed, enrolled and moved one at a time, a few a year: a quarter without one is chance, not neglect,
    so such months are not rated (a plan of 0 this month), and a month with some rates the effort behind them.
    """
    return np.where(sent > 0, sent / np.maximum(links.effort, 1e-12), 0.0)


def _poorest_first(inputs: FlowInputs, roster: Roster, eligible: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Roster entries chosen: of each link's ``eligible`` entries, its ``wanted`` poorest (per-capita income)."""
    h = inputs.county.households
    entries = np.flatnonzero(eligible & (wanted[roster.link] > 0))
    if entries.size == 0:
        return entries
    rows = roster.rows[entries]
    order = lexsort_order(roster.link[entries], h.annual[rows] / h.size[rows])
    entries = entries[order]
    link = roster.link[entries]
    place = np.arange(entries.size) - np.searchsorted(link, link, side="left")
    return entries[place < wanted[link]]


# --------------------------------------------------------------------------- the flows


def give_assets(inputs: FlowInputs) -> Moved:
    """Production assets (industry support; for the unable, a share of invested assets) to each paired household.

    The plan is yuan a year per household; a share ``leakage`` is lost on the way (截留); the rest is the household's
    own production asset, which earns ``support_return`` and wears like any pairing asset (:class:`PairingStocks`).
    """
    links = inputs.links
    if not links.planned[ASSETS].any() or (roster := paired_households(inputs)) is None:
        return _nothing(inputs, ASSETS)
    ours = links.of_kind(DONOR_KIND)
    per_household = planned_this_month(links, ASSETS) * ours
    households = _households_per_link(roster, len(links))
    sent = per_household * households
    lost = sent * inputs.failure.leakage
    # add.at: a household re-paired after a round has an entry of its ended link too (which gives nothing)
    np.add.at(inputs.stocks.support_assets, roster.rows, per_household[roster.link] * (1.0 - inputs.failure.leakage))
    full_plan = full_plan_this_month(links, ASSETS) * ours * households
    return Moved(sent, {ASSETS: float(sent.sum())}, lost=lost, full_plan=full_plan)


def place_in_jobs(inputs: FlowInputs) -> Moved:
    """Job placement (转移就业) for able and partly able households with a member farming at home, poorest first.

    Each link places a Poisson number of its households this month (its plan per household a year times its households,
    at its effort), one member each: in a local enterprise with a vacancy within its hiring radius of the village
    (nearest first), else in a job away (a migrant, who returns as migrants do).
    """
    links, county = inputs.links, inputs.county
    if not links.planned[JOBS].any() or (roster := paired_households(inputs)) is None:
        return _nothing(inputs, JOBS)
    h = county.households
    wanted = inputs.rng.poisson(_expected(inputs, JOBS, roster))
    at_home = h.workers[roster.rows] - h.migrants[roster.rows] - h.local_jobs[roster.rows] > 0
    eligible = (roster.group != UNABLE) & at_home
    chosen = _poorest_first(inputs, roster, eligible, wanted)
    rows = roster.rows[chosen]
    enterprises = county.organisations["enterprise"]
    capacity = inputs.month.enterprise_capacity
    vacancies = np.maximum(capacity - county.jobs.filled(len(capacity)), 0).astype(np.int64)
    local, employer = [], []
    if enterprises and rows.size:
        firm_xy = np.array([e.xy for e in enterprises]).reshape(-1, 2)
        village_xy = county.village_xy()
        for row in rows.tolist():
            km = np.hypot(*(firm_xy - village_xy[h.village[row]]).T)
            open_near = np.flatnonzero((vacancies > 0) & (km <= roster.hire_radius_km))
            if open_near.size:
                firm = int(open_near[np.argmin(km[open_near])])
                vacancies[firm] -= 1
                local.append(row)
                employer.append(firm)
    local_rows = np.array(local, np.int64)
    h.local_jobs[local_rows] += 1
    county.jobs.add(local_rows, np.array(employer, np.int64))
    away = rows[~np.isin(rows, local_rows)]
    h.migrants[away] += 1
    sent = _households_per_link(roster, len(links), chosen)
    return Moved(sent, {JOBS: float(sent.sum())}, full_plan=_rated(links, sent))


def enrol_in_dibao(inputs: FlowInputs) -> Moved:
    """低保/五保 enrolment of partly able and unable households not yet covered, poorest first (a Poisson number a link).

    An enrolled household gets the county's 低保: its income is topped up to the 低保 line whenever it falls below
    (``compute_incomes``), paid by the government; the programme pays the cadre's casework here, and the top-ups are
    booked to it by :func:`pay_topups`.
    """
    links, h = inputs.links, inputs.county.households
    if not links.planned[DIBAO].any() or (roster := paired_households(inputs)) is None:
        return _nothing(inputs, DIBAO)
    wanted = inputs.rng.poisson(_expected(inputs, DIBAO, roster))
    eligible = (roster.group != ABLE) & ~h.dibao_covered[roster.rows]
    chosen = _poorest_first(inputs, roster, eligible, wanted)
    h.dibao_covered[roster.rows[chosen]] = True
    roster.enrolled[chosen] = True
    sent = _households_per_link(roster, len(links), chosen)
    return Moved(sent, {DIBAO: float(sent.sum())}, full_plan=_rated(links, sent))


def relocate(inputs: FlowInputs) -> Moved:
    """Relocation (易地搬迁) of households of harsh-location villages, poorest first (a Poisson number a link).

    A relocated household farms and runs its business at the farm productivity of the nearest village that is not
    remote and farms more productively than its own: its business multiplier is raised by the ratio of the two
    productivities once, at the move (1 where no such village exists). It stays in its village's accounts (residents,
    dividends, collective wages); its job access is not changed.
    """
    links, county = inputs.links, inputs.county
    if not links.planned[RELOCATIONS].any() or (roster := paired_households(inputs)) is None:
        return _nothing(inputs, RELOCATIONS)
    h, productivity = county.households, county.state.productivity
    wanted = inputs.rng.poisson(_expected(inputs, RELOCATIONS, roster))
    moved = np.zeros(len(h), bool)  # a household re-paired after its cadre's link ended moves once only
    moved[roster.rows[roster.relocated]] = True
    eligible = roster.remote & ~moved[roster.rows]
    chosen = _poorest_first(inputs, roster, eligible, wanted)
    if chosen.size:
        remote_villages = np.zeros(len(h.start), bool)
        remote_villages[h.village[roster.rows[roster.remote]]] = True
        xy = county.village_xy()
        for entry in chosen.tolist():
            row = int(roster.rows[entry])
            home = int(h.village[row])
            better = np.flatnonzero(~remote_villages & (productivity > productivity[home]))
            if better.size:
                destination = better[np.argmin(np.hypot(*(xy[better] - xy[home]).T))]
                h.business[row] *= productivity[destination] / productivity[home]
        roster.relocated[chosen] = True
    sent = _households_per_link(roster, len(links), chosen)
    return Moved(sent, {RELOCATIONS: float(sent.sum())}, full_plan=_rated(links, sent))


def pay_topups(inputs: FlowInputs) -> Moved:
    """The 低保 top-ups paid last month to the households the cadres enrolled, per link of the enrolling cadre (yuan).

    ``compute_incomes`` runs after pairing each month, so the top-up it last computed (``dibao_topup``) is last month's:
    each is booked one month after it is paid, and the run's last month's is not booked. An enrolment lasts (the model
    has no exit from 低保), so its top-ups keep being booked to its link after the link ends. Households covered before
    pairing are never counted. Nothing is planned and nothing is drawn: the flow moves whenever those households were
    topped up.
    """
    cadres = inputs.county.organisations.get(DONOR_KIND, [])
    roster: Roster | None = cadres[0].roster if cadres else None
    if roster is None or not roster.enrolled.any():
        return _nothing(inputs, TOPUPS)
    entries = np.flatnonzero(roster.enrolled)
    paid = inputs.county.households.dibao_topup[roster.rows[entries]]
    sent = np.bincount(roster.link[entries], weights=paid, minlength=len(inputs.links))
    return Moved(sent, {TOPUPS: float(sent.sum())})


# --------------------------------------------------------------------------- costs


def assets_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """Production assets cost what they are worth, yuan for yuan (this month's yuan)."""
    return sent


def placement_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """A placement costs what a paired enterprise's recruitment does (``hiring_cost``), at this month's wages."""
    return sent * effects.hiring_cost * prices.wage_index


def enrolment_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """An enrolment costs the cadre's casework days (its policy's ``enrolment_casework_days``) at a seconded cadre's pay;
    the 低保 itself is the government's."""
    days = prices.setting("enrolment_casework_days", DEFAULTS.enrolment_casework_days)
    return sent * days * effects.cadre_monthly_cost / WORKING_DAYS_PER_MONTH * prices.wage_index


def topup_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """A top-up costs what it pays, yuan for yuan: ``sent`` is already the yuan paid (the government's, counted here so
    that the programme's cost includes the public transfers its enrolments bring)."""
    return sent


def relocation_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """A relocation costs its policy's ``relocation_cost_per_household`` (by default the national average: house,
    infrastructure, services), indexed by wages."""
    return sent * prices.setting("relocation_cost_per_household", DEFAULTS.relocation_cost_per_household) * prices.wage_index


def register() -> None:
    """Register cadre-household pairing's entries; :mod:`sim.pairing.builtin` calls this once, in a fixed order among the forms.

    Registering when this module is imported would make the order (donor kinds' codes, flows' turns, the tables'
    columns) depend on which module a process happens to import first."""
    register_donor_kind(DonorKind(DONOR_KIND, "cadres (干部)", "#c5b0d5", None, build_cadres))
    for _flow in (
        Flow(
            ASSETS,
            "assets to paired households (yuan)",
            "yuan",
            ASSETS,
            give_assets,
            assets_cost,
            per_household=True,
            carried_by=(POLICY_TYPE,),
        ),
        Flow(
            JOBS,
            "job placements",
            "households placed",
            JOBS,
            place_in_jobs,
            placement_cost,
            per_household=True,
            carried_by=(POLICY_TYPE,),
        ),
        Flow(
            DIBAO,
            "低保 enrolments",
            "households enrolled",
            DIBAO,
            enrol_in_dibao,
            enrolment_cost,
            per_household=True,
            carried_by=(POLICY_TYPE,),
        ),
        Flow(
            RELOCATIONS,
            "relocations",
            "households relocated",
            RELOCATIONS,
            relocate,
            relocation_cost,
            per_household=True,
            carried_by=(POLICY_TYPE,),
        ),
        Flow(
            TOPUPS,
            "低保 top-ups to enrolled households (yuan)",
            "yuan",
            TOPUPS,
            pay_topups,
            topup_cost,
            carried_by=(POLICY_TYPE,),
        ),
    ):
        register_flow(_flow)
    register_policy_type(
        PolicyType(
            POLICY_TYPE,
            "Cadre-household (干部结对帮扶户)",
            "#e377c2",
            (DONOR_KIND,),
            cadre_household,
            candidate_cells=cadre_household_cells,
            budget=lambda links_in_branch: 1.0,  # each cadre has its own households and plan: a branch's links do not share
            check=has_cadres,
            settings=CadreHouseholdSettings,
        )
    )
