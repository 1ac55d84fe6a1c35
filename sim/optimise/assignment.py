"""The assignment layer: who pairs with whom, solved exactly for one trial's levers.

The outer search (:mod:`sim.optimise.search`) fixes the levers of one trial, a :class:`Choice`: how many pairs of each
policy, what each pair plans to move a year, the typed rule, and the weights of need, strength and proximity. This module
turns it into a plan, one row per donor–village link, by a mixed-integer program (``scipy.optimize.milp``, HiGHS) that
maximises the links' summed benefit estimate under the budget and every capacity:

- each policy type's own candidate rule decides which links are allowed (host radius, same industry, strong donors,
  cadres, counties, Xiuzhou's typed rule), so a plan never holds a link the heuristics could not form;
- a branch (joint party branch) is what costs money: the shared flows are planned per branch, per-household flows per
  link; what a branch costs is its PLANNED (ex-ante) cost a year at start-year prices, the flows' own cost rules
  (:func:`planned_cost_per_pair`), not what the run will spend once effort, means and leakage have had their say;
- the budget, pairs per policy, links per donor, policies per village and each donor's fund capacity are constraints,
  never exceeded: the solver's answer is checked against every row, and the written plan's cost and each donor's
  funds are summed again exactly against the limits.

A link's benefit is ``w_need * need + w_strength * strength + w_proximity * proximity`` (each in [0, 1], plus 1e-6 so a
link of zero weight still beats no link): the village's need (weak status and need index, as the heuristics rank it),
the donor's rank within its policy's pool in what it can give, and how near the two are.

Two exact reductions keep the program small: donors alike in everything the program sees (a county's departments share
a budget and a seat) form one class whose links it counts (:class:`DonorClasses`), and each village of a village-grouped
policy keeps only its best ``pairs * donors_per_pair`` donors (:func:`best_donors_only`). Shouguang's four policies at
their upper bounds (about 5,900 variables) solve to proven optimality in about half a second (median; 3 s at worst) on a
2-core machine; one variable per donor and village (42,000) took 4 s at best.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.stats import rankdata

from sim.optimise.spec import Budget, PolicyLever, lever_policy
from sim.pairing.config import Policy
from sim.pairing.county import County, Month
from sim.pairing.policies import Targeting, donor_pool, targeting_priority, village_need, within_counties
from sim.pairing.registry import Prices, donor_kinds, flows, policy_types
from sim.region import region_town_centres
from sim.scenario import Scenario

TINY_BENEFIT = 1e-6
"""Added to every link's benefit, so a link whose features all weigh 0 still beats no link."""
BUDGET_SLACK = 1e-5
"""The budget and fund rows (scaled to 1 = the limit) are solved against ``1 - BUDGET_SLACK``, ten times HiGHS's
feasibility and integrality tolerances (1e-6): a plan the solver calls feasible never reaches the limit, and a plan
whose cost is the limit exactly is clearly outside, not within tolerance (at 1e-6 the two met, and HiGHS reported a
solve error). The rounded plan is then summed exactly against the limits (:func:`check_plan`). The margin costs a
30-million-yuan budget 300 yuan."""
ROW_TOLERANCE = 1e-6
"""How far the solver's rounded answer may stray past a row's bound before it counts as broken: HiGHS's own tolerance,
a tenth of the budget's margin."""
SOLVE_SECONDS = 120.0
"""HiGHS stops after this long with the best plan it has (a Shouguang assignment takes about a second)."""


@dataclass(frozen=True)
class PolicyChoice:
    """One policy of a trial: its lever, how many branches at most, each branch's planned flows a year, the typed rule."""

    lever: PolicyLever
    pairs: int
    flows: dict[str, float]
    typed: bool = False


@dataclass(frozen=True)
class Choice:
    """One trial's levers: the policies and the weights (each in [0, 1]) of need, strength and proximity."""

    policies: tuple[PolicyChoice, ...]
    weights: dict[str, float]


PLAN_COLUMNS = [
    "policy",
    "label",
    "type",
    "donor",
    "donor_kind",
    "donor_index",
    "village",
    "village_index",
    "benefit",
    "need",
    "strength",
    "proximity",
    "planned_cost",
    "village_x_km",
    "village_y_km",
    "donor_x_km",
    "donor_y_km",
]
"""The plan's columns, before one ``flow:<name>`` column per planned flow (per branch a year)."""


# --------------------------------------------------------------------------- policies and costs


def chosen_policy(choice: PolicyChoice, scenario: Scenario | None, pairs: int) -> Policy:
    """The scenario policy a choice stands for, asking for ``pairs`` branches (matched; the plan names them later)."""
    return lever_policy(choice.lever, scenario, pairs, choice.flows, choice.typed)


def start_prices(policy: Policy, economy: Any) -> Prices:
    """Start-year prices with the policy's own settings (a type's unit costs), for planned costs."""
    options = policy.options

    def setting(name: str, default: float) -> float:
        return float(getattr(options, name, default)) if options is not None else default

    return replace(Prices.start_year(economy), link_settings=setting)


def _amounts(planned: Mapping[str, float] | Any) -> dict[str, float]:
    """Planned flows as a plain mapping (a ``Flows`` model, extras included, or a dict)."""
    if hasattr(planned, "model_dump"):
        planned = planned.model_dump()
    return {name: float(amount) for name, amount in planned.items() if float(amount) > 0}


def _flow_cost(name: str, amount: np.ndarray, scenario: Scenario, prices: Prices) -> np.ndarray:
    """What ``amount`` of one flow costs its donors a year, at ``prices``."""
    cost = flows()[name].cost(np.asarray(amount, dtype=float), scenario.pairing.effects, scenario.economy, prices)
    return np.broadcast_to(np.asarray(cost, dtype=float), np.shape(amount))


def branch_and_link_costs(
    policy: Policy, planned: Mapping[str, float], households: np.ndarray, scenario: Scenario
) -> tuple[float, np.ndarray, float]:
    """A branch's planned yearly cost of its shared flows, each link's of its per-household flows (one value per entry
    of ``households``, the households of the link's village), and the funds a branch plans.

    A branch's shared flows are split over its links by the type's ``budget`` rule; a village-grouped branch has
    ``donors_per_pair`` links, a donor-grouped one 1 to ``donors_per_pair``, so its cost is the most any of those
    sizes costs (all the same for the default rule, which splits the plan evenly).
    """
    policy_type = policy_types()[policy.type]
    prices = start_prices(policy, scenario.economy)
    sizes = [policy.donors_per_pair] if policy_type.grouping == "village" else range(1, policy.donors_per_pair + 1)
    shared = {name: amount for name, amount in planned.items() if not flows()[name].per_household}

    def branch_total(size: int, names: Sequence[str]) -> float:
        share = policy_type.budget(size)
        return size * math.fsum(float(_flow_cost(name, np.array([shared[name] * share]), scenario, prices)[0]) for name in names)

    branch_cost = max((branch_total(size, list(shared)) for size in sizes), default=0.0)
    branch_funds = (
        max((size * shared["funds"] * policy_type.budget(size) for size in sizes), default=0.0) if "funds" in shared else 0.0
    )
    link_cost = np.zeros(len(households))
    for name, amount in planned.items():
        if flows()[name].per_household:
            link_cost += _flow_cost(name, amount * households.astype(float), scenario, prices)
    return branch_cost, link_cost, branch_funds


def planned_cost_per_pair(
    policy_type: str,
    planned: Mapping[str, float] | Any,
    county: County,
    scenario: Scenario,
    village_index: int | None = None,
    *,
    donors_per_pair: int = 1,
    settings: Mapping[str, Any] | None = None,
) -> float:
    """The PLANNED (ex-ante) yearly cost of one pair (joint branch) of ``policy_type`` with flows ``planned`` (a mapping
    or a policy's ``Flows``), at start-year prices: each flow's registered cost rule applied to its plan.

    Per-household flows are planned per household of the village, so they cost per link: for ``village_index`` the
    households of that village, else the county's mean village (a branch has ``donors_per_pair`` links).
    ``settings``: the policy's own settings, where its type's cost rules read unit costs from them. The budget of an
    optimisation that spends what a scenario's plan spends is the sum over its policies of pairs times this.
    """
    # Only its type, size and settings price a pair: no check of the policy's other options (counties, cadre months).
    policy = Policy.model_construct(type=policy_type, pairs=1, donors_per_pair=donors_per_pair, settings=dict(settings or {}))
    h = county.households
    per_village = (h.stop - h.start).astype(float)
    households = per_village[village_index] if village_index is not None else per_village.mean()
    branch_cost, link_cost, _ = branch_and_link_costs(policy, _amounts(planned), np.array([households]), scenario)
    return float(branch_cost + donors_per_pair * link_cost[0])


# --------------------------------------------------------------------------- features


def start_month(county: County) -> Month:
    """The start month as the donors' fund rules read it: the enterprises' jobs and wage bills before any step."""
    enterprises = county.organisations.get("enterprise", [])
    filled = county.jobs.filled(len(enterprises))
    return Month(
        step=0,
        enterprise_capacity=np.array([e.jobs for e in enterprises], dtype=float),
        enterprise_wage_bill=filled * np.array([e.monthly_wage for e in enterprises], dtype=float),
        wage_index=1.0,
    )


def yearly_fund_capacity(donors: Sequence[Any], county: County, scenario: Scenario, month: Month) -> np.ndarray:
    """What each donor can give a year at the start: 12 x its kind's monthly fund capacity (NaN: its kind gives no money)."""
    capacity = np.full(len(donors), np.nan)
    kinds = np.array([donor.kind for donor in donors], dtype=object)
    for kind in donor_kinds().values():
        rows = np.flatnonzero(kinds == kind.name)
        if kind.fund_capacity is None or rows.size == 0:
            continue
        monthly = kind.fund_capacity(county.organisations[kind.name], county, month, scenario.pairing.effects)
        capacity[rows] = 12.0 * np.asarray(monthly, dtype=float)[[donors[r].index for r in rows]]
    return capacity


def ranks(values: np.ndarray) -> np.ndarray:
    """Percentile rank of each value in [0, 1], ties sharing their mean rank (all equal: 0.5)."""
    if len(values) < 2:
        return np.full(len(values), 0.5)
    return (rankdata(values, method="average") - 1.0) / (len(values) - 1)


def donor_strength(donors: Sequence[Any], county: County, scenario: Scenario, month: Month, need: np.ndarray) -> np.ndarray:
    """Each donor's rank within its pool in what it can give: its yearly fund capacity, or ``1 - need`` for a village
    (a kind with no fund capacity gives nothing and ranks lowest)."""
    if not donors:
        return np.zeros(0)
    capacity = np.nan_to_num(yearly_fund_capacity(donors, county, scenario, month), nan=0.0)
    if all(donor.kind == "village" for donor in donors):
        return ranks(1.0 - need[[donor.index for donor in donors]])
    return ranks(capacity)


def donor_positions(donors: Sequence[Any], county: County) -> np.ndarray:
    """Each donor's position (km): its own ``xy``, else its town's seat, else NaN (shape (donors, 2))."""
    seats = region_town_centres(county.region)
    towns = {town: i for i, town in enumerate(county.region.town_names)}
    xy = np.full((len(donors), 2), np.nan)
    for i, donor in enumerate(donors):
        own = getattr(donor, "xy", None)
        if own is not None:
            xy[i] = own
        elif getattr(donor, "town", None) in towns:
            xy[i] = seats[towns[donor.town]]
    return xy


def proximity_scale(county: County) -> float:
    """The distance over which closeness fades by 1/e: a town's typical side, as strong-weak pairing scores it."""
    return math.sqrt(county.region.area_km2 / max(len(county.region.town_names), 1))


def proximity(donor_xy: np.ndarray, village_xy: np.ndarray, scale: float) -> np.ndarray:
    """``exp(-distance / scale)`` for each (donor, village) row pair; 0 where the donor's position is unknown."""
    distance = np.hypot(donor_xy[:, 0] - village_xy[:, 0], donor_xy[:, 1] - village_xy[:, 1])
    return np.where(np.isfinite(distance), np.exp(-np.nan_to_num(distance, nan=np.inf) / scale), 0.0)


@dataclass(frozen=True)
class Features:
    """What every policy's benefit estimate reads of the county, computed once per assignment."""

    need_index: np.ndarray  # village_need: the candidate rules' need (strong villages are 1 - this)
    need: np.ndarray  # (weak + need index) / 2, the heuristics' priority without strong_first: the benefit's need
    village_xy: np.ndarray
    scale: float
    month: Month


def county_features(county: County) -> Features:
    need_index = village_need(county)
    return Features(
        need_index, targeting_priority(county, need_index, 0.0), county.village_xy(), proximity_scale(county), start_month(county)
    )


# --------------------------------------------------------------------------- one policy's candidate links


@dataclass
class PolicyLinks:
    """One policy's allowed links with their benefit features, costs and capacities."""

    index: int
    choice: PolicyChoice
    policy: Policy
    grouping: str
    donors: list[Any]
    donor_strength: np.ndarray  # per donor
    donor_xy: np.ndarray  # per donor, km (NaN: unknown)
    capacity: np.ndarray  # most links per donor in this policy (donor-grouped: villages of its branch)
    donor: np.ndarray  # per link: position in donors (links sorted by village, then donor)
    village: np.ndarray  # per link: village row
    proximity: np.ndarray  # per link
    link_cost: np.ndarray  # per link: its per-household flows' planned cost a year
    branch_cost: float  # one branch's shared flows' planned cost a year
    branch_funds: float  # funds one branch plans a year
    link_funds: float  # funds one link of a full branch plans a year (village-grouped: the branch's split evenly)

    def __len__(self) -> int:
        return len(self.donor)


def village_scores(weights: Mapping[str, float], features: Features, strength: np.ndarray, donor_xy: np.ndarray) -> np.ndarray:
    """The optimiser's ranking of villages for one policy: the best benefit any of its pool's donors could bring each."""
    best = np.full(len(features.need), -np.inf)
    for start in range(0, len(strength), 512):  # a block of donors at a time: a province's pool x villages is large
        block = slice(start, start + 512)
        xy = donor_xy[block]
        distance = np.hypot(xy[:, None, 0] - features.village_xy[None, :, 0], xy[:, None, 1] - features.village_xy[None, :, 1])
        near = np.where(np.isfinite(distance), np.exp(-np.nan_to_num(distance, nan=np.inf) / features.scale), 0.0)
        link = weights.get("strength", 0.0) * strength[block][:, None] + weights.get("proximity", 0.0) * near
        best = np.maximum(best, link.max(axis=0, initial=-np.inf))
    return weights.get("need", 0.0) * features.need + np.where(np.isfinite(best), best, 0.0)


def policy_links(
    county: County,
    scenario: Scenario,
    index: int,
    choice: PolicyChoice,
    weights: Mapping[str, float],
    features: Features,
    candidate_villages: int,
) -> PolicyLinks:
    """A policy's allowed links: its type's own candidate rule, asked for ``candidate_villages`` villages per pair and
    ranking villages by the optimiser's score, then cut to the best-ranked villages if the rule returned more."""
    policy_type = policy_types()[choice.lever.type]
    n_villages = len(county.villages)
    wide = chosen_policy(choice, scenario, min(n_villages, candidate_villages * choice.pairs))
    pool = donor_pool(county, wide.type, wide.donor_counties)
    pool_strength = donor_strength(pool, county, scenario, features.month, features.need_index)
    pool_xy = donor_positions(pool, county)
    score = village_scores(weights, features, pool_strength, pool_xy)
    targeting = Targeting(features.need_index, score, 0.0, policy_index=index)
    candidates = within_counties(county, wide, policy_type.candidates(county, wide, targeting))
    if candidates.listed is not None:
        donor, position, _ = candidates.listed
    else:
        donor, position = np.nonzero(np.isfinite(candidates.scores))
    village = np.asarray(candidates.recipients)[position].astype(np.int64)
    donor = donor.astype(np.int64)
    links_per_branch = choice.lever.donors_per_pair if policy_type.grouping == "donor" else 1
    # A village-grouped branch takes exactly donors_per_pair donors: a village the rule lets take fewer (cadre dispatch:
    # one first secretary) cannot hold one.
    donors_needed = 1 if policy_type.grouping == "donor" else choice.lever.donors_per_pair
    usable = (candidates.donor_capacity[donor] > 0) & (candidates.recipient_capacity[position] >= donors_needed)
    donor, village = donor[usable], village[usable]

    keep_villages = candidate_villages * choice.pairs * links_per_branch
    offered = np.unique(village)
    if len(offered) > keep_villages:  # the rule offered more villages than asked: the best ranked ones
        best = offered[np.argsort(-score[offered], kind="stable")[:keep_villages]]
        keep = np.isin(village, best)
        donor, village = donor[keep], village[keep]

    capacity = _donor_capacity(county, scenario, choice, candidates, targeting)
    donors = list(candidates.donors)
    strength_of = {(d.kind, d.index): s for d, s in zip(pool, pool_strength, strict=True)}
    strength = np.array([strength_of.get((d.kind, d.index), 0.0) for d in donors])
    donor_xy = donor_positions(donors, county).reshape(-1, 2)
    order = np.lexsort((donor, village))
    donor, village = donor[order], village[order]
    near = proximity(donor_xy[donor], features.village_xy[village], features.scale)
    h = county.households
    branch_cost, link_cost, branch_funds = branch_and_link_costs(
        wide, _amounts(choice.flows), (h.stop - h.start)[village], scenario
    )
    per_branch = wide.donors_per_pair if policy_type.grouping == "village" else 1
    return PolicyLinks(
        index=index,
        choice=choice,
        policy=wide,
        grouping=policy_type.grouping,
        donors=donors,
        donor_strength=strength,
        donor_xy=donor_xy,
        capacity=capacity,
        donor=donor,
        village=village,
        proximity=near,
        link_cost=link_cost,
        branch_cost=branch_cost,
        branch_funds=branch_funds,
        link_funds=branch_funds / per_branch,
    )


def _donor_capacity(county: County, scenario: Scenario, choice: PolicyChoice, wide: Any, targeting: Targeting) -> np.ndarray:
    """Most links each donor takes in this policy: the lever's ``max_pairs_per_donor``, else the type's own capacity rule
    for the pairs actually asked (asking the rule for ``candidate_villages`` times as many would spread each donor over
    as many more villages); a donor that rule leaves out keeps the wide call's capacity."""
    if choice.lever.max_pairs_per_donor is not None:
        return np.full(len(wide.donors), choice.lever.max_pairs_per_donor, dtype=np.int64)
    asked = chosen_policy(choice, scenario, choice.pairs)
    own = policy_types()[asked.type].candidates(county, asked, targeting)
    rule = {(d.kind, d.index): int(c) for d, c in zip(own.donors, own.donor_capacity, strict=True)}
    return np.array(
        [min(int(c), rule.get((d.kind, d.index), int(c))) for d, c in zip(wide.donors, wide.donor_capacity, strict=True)],
        dtype=np.int64,
    )


# --------------------------------------------------------------------------- interchangeable donors

OWNER_STRIDE = 1_000_000_000
"""Donor codes: ``kind code * OWNER_STRIDE + index``, one integer per organisation."""


def owner_code(donor: Any) -> int:
    return donor_kinds()[donor.kind].code * OWNER_STRIDE + donor.index


def whole_links(limit: float, per_link: float) -> int:
    """The most links of ``per_link`` funds each that ``limit`` pays for (exactly: ``k * per_link <= limit``)."""
    if per_link <= 0:
        return np.iinfo(np.int64).max
    k = max(math.floor(limit / per_link), 0)
    while k > 0 and k * per_link > limit:
        k -= 1
    while (k + 1) * per_link <= limit:
        k += 1
    return k


@dataclass
class DonorClasses:
    """A policy's donors grouped into classes of interchangeable ones, and the links of each class.

    Donors are interchangeable when they look the same to every row of the program: same kind, strength, position and
    capacity and the same allowed villages (a county's departments sit at its seat with one budget, so 100 of them are
    one or a few classes). The program then chooses how many links each class gives each village, a far smaller
    program than one variable per donor and village, with the same optimum; :func:`expand` deals the links out over
    the class's members. A donor whose funds two policies share keeps a class of its own and an explicit funds row.
    """

    part: PolicyLinks
    members: list[np.ndarray]  # per class: positions in part.donors, ascending
    capacity: np.ndarray  # per class: most links per member (donor-grouped: villages per branch), funds folded in
    rows: np.ndarray  # per class link: the part's link row of the class's first member (its village, features, cost)
    link_class: np.ndarray  # per class link: its class


def donor_classes(part: PolicyLinks, fund_limit: np.ndarray, alone: np.ndarray) -> DonorClasses:
    """Group ``part``'s donors (``fund_limit``: each donor's yearly fund capacity, NaN: unlimited; ``alone``: donors that
    must keep a class of their own)."""
    by_donor = np.argsort(part.donor, kind="stable")
    bounds = np.searchsorted(part.donor[by_donor], np.arange(len(part.donors) + 1))
    village_grouped = part.grouping == "village"
    classes: dict[tuple, int] = {}
    members: list[list[int]] = []
    capacity: list[int] = []
    first_rows: list[np.ndarray] = []
    for d in range(len(part.donors)):
        rows = by_donor[bounds[d] : bounds[d + 1]]
        cap = int(part.capacity[d]) if village_grouped else min(int(part.capacity[d]), part.policy.donors_per_pair)
        limit = fund_limit[d]
        if not alone[d] and np.isfinite(limit) and part.branch_funds > 0:  # the donor's funds as a capacity
            cap = min(cap, whole_links(limit, part.link_funds)) if village_grouped else (cap if part.branch_funds <= limit else 0)
        if rows.size == 0 or cap <= 0:
            continue
        donor = part.donors[d]
        xy = tuple(np.nan_to_num(part.donor_xy[d], nan=-1.0e300).tolist())
        key = (d,) if alone[d] else (donor.kind, float(part.donor_strength[d]), xy, cap, part.village[rows].tobytes())
        if key not in classes:
            classes[key] = len(members)
            members.append([])
            capacity.append(cap)
            first_rows.append(rows)
        members[classes[key]].append(d)
    if not members:
        return DonorClasses(part, [], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    link_class = np.concatenate([np.full(len(rows), c, dtype=np.int64) for c, rows in enumerate(first_rows)])
    rows = np.concatenate(first_rows)
    order = np.lexsort((link_class, part.village[rows]))  # by village, then class
    return DonorClasses(
        part, [np.array(m, dtype=np.int64) for m in members], np.array(capacity, np.int64), rows[order], link_class[order]
    )


def best_donors_only(group: DonorClasses, alone: np.ndarray, weights: Mapping[str, float], features: Features) -> DonorClasses:
    """A village-grouped policy's links cut, per village, to its best donors: classes by falling benefit until they hold
    ``pairs * donors_per_pair`` members whose funds no other policy shares (and every donor whose funds one does).

    The cut keeps the optimum: if a plan served a village through a donor outside its best, the policy's other links
    (fewer than ``pairs * donors_per_pair``) leave one of its best donors unused, and that donor serves the village at
    no less benefit and the same cost (a link's cost depends on its village, not its donor; a donor that can pay for
    no link has no class). It shrinks strong-weak pairing, where every strong village could serve every weak one.
    """
    part = group.part
    if part.grouping != "village" or len(group.rows) == 0:
        return group
    enough = part.choice.pairs * part.policy.donors_per_pair
    lone = np.array([bool(alone[m[0]]) for m in group.members])
    # A donor whose funds another policy shares is always kept, and never counted among the best: the other policy may
    # have spent its funds, so the exchange argument needs enough of the others.
    size = np.where(lone, 0, np.array([len(m) for m in group.members], dtype=np.int64))
    benefit = link_benefit(
        weights, features.need[part.village[group.rows]], part.donor_strength[part.donor[group.rows]], part.proximity[group.rows]
    )
    village = part.village[group.rows]
    order = np.lexsort((group.link_class, -benefit, village))  # per village, best first (ties: class order)
    village_sorted, members = village[order], size[group.link_class[order]]
    start = np.searchsorted(village_sorted, village_sorted, side="left")
    before = np.cumsum(members) - members  # members of the better classes of the same village
    before -= before[start]
    keep = np.zeros(len(order), dtype=bool)
    keep[order] = (before < enough) | lone[group.link_class[order]]
    return replace(group, rows=group.rows[keep], link_class=group.link_class[keep])


# --------------------------------------------------------------------------- the mixed-integer program


@dataclass
class Program:
    """The MILP of one assignment: maximise ``benefit @ z`` subject to ``lower <= matrix @ z <= upper``, ``z`` whole
    numbers in ``[0, most]``.

    ``z`` holds every policy's class links (how many of a class's members serve a village) and then its branches
    (village-grouped: one per village, 0 or 1; donor-grouped: how many of a class's members lead a branch).
    """

    groups: list[DonorClasses]
    benefit: np.ndarray
    most: np.ndarray
    matrix: sparse.csr_array
    lower: np.ndarray
    upper: np.ndarray
    link_start: list[int]
    branch_start: list[int]
    branch_of: list[np.ndarray]  # per policy: each class link's branch (position among the policy's branches)
    branches: list[np.ndarray]  # per policy: each branch's key (village row, or class for donor-grouped types)


class _Rows:
    """Constraint rows gathered as sparse triplets."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.columns: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, columns: np.ndarray, values: np.ndarray | float, lower: float, upper: float) -> None:
        """One row: ``lower <= values @ z[columns] <= upper``."""
        self.grouped(np.zeros(len(columns), np.int64), columns, values, lower, upper)

    def grouped(
        self,
        group: np.ndarray,
        columns: np.ndarray,
        values: np.ndarray | float,
        lower: np.ndarray | float,
        upper: np.ndarray | float,
    ) -> None:
        """One row per distinct ``group`` value (in sorted order), over the columns of that group."""
        columns = np.asarray(columns, dtype=np.int64)
        if columns.size == 0:
            return
        keys, inverse = np.unique(group, return_inverse=True)
        self.rows.append(len(self.lower) + inverse.astype(np.int64))
        self.columns.append(columns)
        self.values.append(np.broadcast_to(np.asarray(values, dtype=float), columns.shape))
        self.lower += np.broadcast_to(np.asarray(lower, dtype=float), keys.shape).tolist()
        self.upper += np.broadcast_to(np.asarray(upper, dtype=float), keys.shape).tolist()

    def matrix(self, n_columns: int) -> sparse.csr_array:
        if not self.lower:
            return sparse.csr_array((0, n_columns))
        triplets = (np.concatenate(self.values), (np.concatenate(self.rows), np.concatenate(self.columns)))
        return sparse.coo_array(triplets, shape=(len(self.lower), n_columns)).tocsr()


def link_benefit(weights: Mapping[str, float], need: np.ndarray, strength: np.ndarray, near: np.ndarray) -> np.ndarray:
    """A link's benefit estimate from its features (each in [0, 1])."""
    return (
        weights.get("need", 0.0) * need
        + weights.get("strength", 0.0) * strength
        + weights.get("proximity", 0.0) * near
        + TINY_BENEFIT
    )


def build_program(
    parts: list[PolicyLinks], county: County, scenario: Scenario, budget: Budget, weights: Mapping[str, float], features: Features
) -> Program:
    """Variables, objective and constraints of the assignment (see the module docstring)."""
    fund_limits, alone = _fund_limits(parts, county, scenario, features, budget.donor_funds_limit)
    groups = [
        best_donors_only(donor_classes(part, limit, lone), lone, weights, features)
        for part, limit, lone in zip(parts, fund_limits, alone, strict=True)
    ]
    link_start, branch_start, branch_of, branches = [], [], [], []
    offset = sum(len(group.rows) for group in groups)
    start = 0
    for group in groups:
        key = group.part.village[group.rows] if group.part.grouping == "village" else group.link_class
        keys, inverse = np.unique(key, return_inverse=True)
        link_start.append(start)
        branch_start.append(offset)
        branch_of.append(inverse.astype(np.int64))
        branches.append(keys)
        start += len(group.rows)
        offset += len(keys)
    count_start = offset  # then one variable per policy: how many branches it forms
    n = offset + len(groups)
    benefit, most, cost = np.zeros(n), np.zeros(n), np.zeros(n)
    rows = _Rows()
    across_group, across_columns = [], []
    funds_owner, funds_columns, funds_values = [], [], []
    for i, (group, x0, y0, of, keys) in enumerate(zip(groups, link_start, branch_start, branch_of, branches, strict=True)):
        part, links = group.part, group.rows
        x, y = x0 + np.arange(len(links)), y0 + np.arange(len(keys))
        village, size = part.village[links], np.array([len(m) for m in group.members], dtype=np.int64)
        per_branch = part.policy.donors_per_pair
        strength = part.donor_strength[part.donor[links]]
        benefit[x] = link_benefit(weights, features.need[village], strength, part.proximity[links])
        # The policy's branches, counted by a whole variable of their own: the budget reads it, so the solver can branch
        # on the policy mix rather than on single links (the one knapsack of the program).
        count = count_start + i
        cost[x], cost[count], most[count] = part.link_cost[links], part.branch_cost, part.choice.pairs
        rows.add(np.r_[y, count], np.r_[np.ones(len(y)), -1.0], 0.0, 0.0)
        lone = [c for c, m in enumerate(group.members) if alone[i][m[0]]]  # donors whose funds two policies share
        if part.grouping == "village":  # one branch per village, of exactly donors_per_pair links (its plan splits evenly)
            most[x] = np.minimum(size[group.link_class], per_branch)
            most[y] = 1
            rows.grouped(
                np.concatenate([of, np.arange(len(y))]),
                np.concatenate([x, y]),
                np.r_[np.ones(len(x)), -per_branch * np.ones(len(y))],
                0.0,
                0.0,
            )
            room = size * group.capacity  # links a class may take in all
            offered = np.bincount(group.link_class, weights=most[x], minlength=len(size))
            tight = room[group.link_class] < offered[group.link_class]
            rows.grouped(group.link_class[tight], x[tight], 1.0, -np.inf, room[np.unique(group.link_class[tight])])
            across_group.append(keys)
            across_columns.append(y)
            for c in lone:
                mine = group.link_class == c
                funds_owner.append(np.full(mine.sum(), owner_code(part.donors[group.members[c][0]])))
                funds_columns.append(x[mine])
                funds_values.append(np.full(mine.sum(), part.link_funds))
        else:  # one branch per leading donor, of 1 to donors_per_pair villages (fewer if its capacity says so)
            most[x] = 1
            most[y] = size[keys]
            cap = group.capacity[keys].astype(float)
            columns = np.concatenate([x, y])
            branch = np.concatenate([of, np.arange(len(y))])
            rows.grouped(branch, columns, np.r_[np.ones(len(x)), -cap], -np.inf, 0.0)
            rows.grouped(branch, columns, np.r_[np.ones(len(x)), -np.ones(len(y))], 0.0, np.inf)
            rows.grouped(village, x, 1.0, -np.inf, 1.0)  # a village joins one of the policy's branches
            # Each link needs its class's branches open (x <= y): implied by the rows above for whole numbers, but it makes
            # the relaxation tight, and the program fast, when many chains could serve the same villages.
            links_of = np.arange(len(x))
            rows.grouped(np.r_[links_of, links_of], np.r_[x, y[of]], np.r_[np.ones(len(x)), -np.ones(len(x))], -np.inf, 0.0)
            across_group.append(village)
            across_columns.append(x)
            for c in lone:
                funds_owner.append(np.array([owner_code(part.donors[group.members[c][0]])]))
                funds_columns.append(y[keys == c])
                funds_values.append(np.array([part.branch_funds]))
    if across_columns:
        rows.grouped(
            np.concatenate(across_group), np.concatenate(across_columns), 1.0, -np.inf, float(budget.max_policies_per_village)
        )
    spend = np.flatnonzero(cost)
    rows.add(spend, cost[spend] / budget.yuan_per_year, -np.inf, 1.0 - BUDGET_SLACK)
    if funds_columns:
        owner, columns, values = np.concatenate(funds_owner), np.concatenate(funds_columns), np.concatenate(funds_values)
        limits = {
            owner_code(d): limit
            for part, lim in zip(parts, fund_limits, strict=True)
            for d, limit in zip(part.donors, lim, strict=True)
            if np.isfinite(limit)
        }
        codes = np.unique(owner)
        scale = np.array([limits[code] for code in codes.tolist()])
        inverse = np.searchsorted(codes, owner)
        positive = scale[inverse] > 0
        rows.grouped(
            owner,
            columns,
            np.where(positive, values / np.where(positive, scale[inverse], 1.0), 1.0),
            -np.inf,
            np.where(scale > 0, 1.0 - BUDGET_SLACK, 0.0),
        )
    return Program(
        groups,
        benefit,
        most,
        rows.matrix(n),
        np.array(rows.lower),
        np.array(rows.upper),
        link_start,
        branch_start,
        branch_of,
        branches,
    )


def _fund_limits(
    parts: list[PolicyLinks], county: County, scenario: Scenario, features: Features, enabled: bool
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per policy and donor: its yearly fund capacity where the policy plans funds and the limit applies (NaN: no limit),
    and whether another policy planning funds shares the donor (then its funds get a row of their own)."""
    limits = [np.full(len(part.donors), np.nan) for part in parts]
    if enabled:
        for part, limit in zip(parts, limits, strict=True):
            if part.branch_funds > 0:
                limit[:] = yearly_fund_capacity(part.donors, county, scenario, features.month)
    codes = [np.array([owner_code(d) for d in part.donors], dtype=np.int64) for part in parts]
    limited = np.concatenate(
        [code[np.isfinite(limit)] for code, limit in zip(codes, limits, strict=True)] or [np.zeros(0, np.int64)]
    )
    shared, count = np.unique(limited, return_counts=True)
    shared = shared[count > 1]
    alone = [np.isin(code, shared) & np.isfinite(limit) for code, limit in zip(codes, limits, strict=True)]
    return limits, alone


def solve(program: Program) -> np.ndarray:
    """How many of each variable the plan takes: HiGHS's exact optimum (relative gap 0; the best found within
    :data:`SOLVE_SECONDS` if proving it takes longer), checked against every row."""
    n = len(program.benefit)
    constraints = [LinearConstraint(program.matrix, program.lower, program.upper)] if program.matrix.shape[0] else []
    result = milp(
        -program.benefit,
        integrality=np.ones(n),
        bounds=Bounds(np.zeros(n), program.most),
        constraints=constraints,
        options={"mip_rel_gap": 0.0, "presolve": True, "time_limit": SOLVE_SECONDS},
    )
    if result.x is None:
        raise RuntimeError(f"the assignment program found no plan: {result.message}")
    taken = np.round(result.x).astype(np.int64)
    values = program.matrix @ taken.astype(float)
    broken = (values < program.lower - ROW_TOLERANCE) | (values > program.upper + ROW_TOLERANCE)
    if broken.any() or (taken > program.most).any():
        raise RuntimeError("the assignment solver returned a plan that breaks its constraints")
    return taken


def expand(program: Program, taken: np.ndarray) -> list[tuple[PolicyLinks, np.ndarray, np.ndarray]]:
    """The chosen links donor by donor: per policy, (part, donor positions, the part's link rows).

    A class's links are dealt out over its members in turn, village by village, so no member serves a village twice,
    members' loads differ by at most one (within their shared capacity) and a donor-grouped class's villages are split
    over as many branches as the program opened, each within 1 and its capacity.
    """
    chosen = []
    for group, x0, y0, of, branches in zip(
        program.groups, program.link_start, program.branch_start, program.branch_of, program.branches, strict=True
    ):
        part = group.part
        counts = taken[x0 : x0 + len(group.rows)]
        donors, villages = [], []
        turn = np.zeros(len(group.members), dtype=np.int64)
        branch_count = taken[y0 : y0 + len(branches)]
        for link in np.flatnonzero(counts):
            c = group.link_class[link]
            members = group.members[c]
            village = int(part.village[group.rows[link]])
            if part.grouping == "village":
                picks = [members[(turn[c] + j) % len(members)] for j in range(int(counts[link]))]
                turn[c] += counts[link]
            else:
                opened = int(branch_count[of[link]])
                picks = [members[turn[c] % opened]]
                turn[c] += 1
            donors += [int(d) for d in picks]
            villages += [village] * len(picks)
        # The part's links are sorted by (village, donor): find each chosen one's row by that key.
        width = len(part.donors)
        rows = np.searchsorted(
            part.village * width + part.donor, np.array(villages, dtype=np.int64) * width + np.array(donors, dtype=np.int64)
        )
        chosen.append((part, np.array(donors, dtype=np.int64), rows.astype(np.int64)))
    return chosen


# --------------------------------------------------------------------------- the plan


def flow_names(choice: Choice) -> list[str]:
    """Every flow the choice's policies plan, in the registry's order."""
    named = {name for policy in choice.policies for name in policy.flows}
    return [name for name in flows() if name in named]


def empty_plan(choice: Choice) -> pd.DataFrame:
    """A plan with no link, with the plan's columns and types."""
    integers = {"policy", "donor_index", "village_index"}
    text = {"label", "type", "donor", "donor_kind", "village"}
    columns = {
        column: pd.Series(dtype="int64" if column in integers else object if column in text else float) for column in PLAN_COLUMNS
    }
    columns.update({f"flow:{name}": pd.Series(dtype=float) for name in flow_names(choice)})
    return pd.DataFrame(columns)


def plan_frame(
    chosen: list[tuple[PolicyLinks, np.ndarray, np.ndarray]], county: County, choice: Choice, features: Features
) -> pd.DataFrame:
    """One row per chosen link, sorted by (policy, village, donor kind, donor)."""
    frames = []
    names = county.villages["name"].to_numpy()
    weights = choice.weights
    for part, donor, rows in chosen:
        if rows.size == 0:
            continue
        village = part.village[rows]
        branch = village if part.grouping == "village" else donor
        _, inverse, per_branch = np.unique(branch, return_inverse=True, return_counts=True)
        organisations = [part.donors[d] for d in donor]
        strength = part.donor_strength[donor]
        frame = pd.DataFrame(
            {
                "policy": np.full(len(rows), part.index, dtype=np.int64),
                "label": part.choice.lever.label,
                "type": part.choice.lever.type,
                "donor": [o.name for o in organisations],
                "donor_kind": [o.kind for o in organisations],
                "donor_index": np.array([o.index for o in organisations], dtype=np.int64),
                "village": names[village],
                "village_index": village.astype(np.int64),
                "benefit": link_benefit(weights, features.need[village], strength, part.proximity[rows]),
                "need": features.need[village],
                "strength": strength,
                "proximity": part.proximity[rows],
                "planned_cost": part.branch_cost / per_branch[inverse] + part.link_cost[rows],
                "village_x_km": features.village_xy[village, 0],
                "village_y_km": features.village_xy[village, 1],
                "donor_x_km": part.donor_xy[donor, 0],
                "donor_y_km": part.donor_xy[donor, 1],
                "_kind": [donor_kinds()[o.kind].code for o in organisations],
            }
        )
        for name in flow_names(choice):
            frame[f"flow:{name}"] = float(part.choice.flows.get(name, 0.0))
        frames.append(frame)
    if not frames:
        return empty_plan(choice)
    plan = pd.concat(frames, ignore_index=True).sort_values(["policy", "village_index", "_kind", "donor_index"], kind="stable")
    return plan.drop(columns="_kind").reset_index(drop=True)


def check_plan(
    plan: pd.DataFrame, parts: list[PolicyLinks], budget: Budget, county: County, scenario: Scenario, features: Features
) -> None:
    """The plan as written keeps the budget and every donor's funds, summed exactly: a solver slip is an error, never a
    plan over its limits."""
    spent = math.fsum(plan["planned_cost"].tolist())
    if spent > budget.yuan_per_year:
        raise RuntimeError(f"the assignment returned a plan over budget: {spent:,.2f} > {budget.yuan_per_year:,.2f} yuan a year")
    if not budget.donor_funds_limit or "flow:funds" not in plan or not (plan["flow:funds"] > 0).any():
        return
    funds: dict[tuple[str, int], list[float]] = {}
    for part in parts:
        mine = plan[plan["policy"] == part.index]
        if mine.empty or part.branch_funds <= 0:
            continue
        branch = mine["village_index"] if part.grouping == "village" else mine["donor_index"]
        share = part.branch_funds / branch.map(branch.value_counts()) if part.grouping == "donor" else part.link_funds
        for kind, index, amount in zip(mine["donor_kind"], mine["donor_index"], np.broadcast_to(share, len(mine)), strict=True):
            funds.setdefault((kind, int(index)), []).append(float(amount))
    organisations = [county.organisations[kind][index] for kind, index in funds]
    limits = yearly_fund_capacity(organisations, county, scenario, features.month)
    for organisation, amounts, limit in zip(organisations, funds.values(), limits, strict=True):
        if np.isfinite(limit) and math.fsum(amounts) > limit:
            raise RuntimeError(
                f"the assignment returned a plan over the funds of {organisation.name!r}: {math.fsum(amounts):,.2f} > {limit:,.2f}"
            )


def assign(county: County, scenario: Scenario, choice: Choice, budget: Budget, candidate_villages: int) -> pd.DataFrame:
    """The plan of one trial: the links that maximise the summed benefit estimate under ``budget`` and every capacity.

    ``county`` is the county of a model built without pairing (``PairingModel(..., overrides={"pairing.policies": []})``),
    the same county an explicit-pairs run of that seed starts from; ``scenario`` the resolved scenario (its effects and
    economy price the flows; its policy of the same label or type lends each choice its counties and settings);
    ``candidate_villages``: villages considered per pair asked. Returns one row per link (:data:`PLAN_COLUMNS`, then
    ``flow:<name>`` per planned flow, per branch a year), sorted by policy, village and donor; the same inputs give the
    same plan.
    """
    features = county_features(county)
    parts = [
        policy_links(county, scenario, index, policy, choice.weights, features, candidate_villages)
        for index, policy in enumerate(choice.policies)
        if policy.pairs > 0
    ]
    parts = [part for part in parts if len(part)]
    if not parts:
        return empty_plan(choice)
    program = build_program(parts, county, scenario, budget, choice.weights, features)
    plan = plan_frame(expand(program, solve(program)), county, choice, features)
    check_plan(plan, parts, budget, county, scenario, features)
    return plan
