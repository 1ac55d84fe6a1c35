"""One registry per pairing concept: policy types, donor kinds and flows.

Each entry holds everything pairsim needs to know about one policy type, donor
kind or flow: its label and colour for the report and app, and the functions
that compute it. Code elsewhere looks entries up here instead of keeping its own
list, so adding a policy type, a donor kind or a flow is one ``register_*`` call
plus the code that computes it (docs/ADDING_A_POLICY.md).

The built-in entries are registered by :mod:`sim.pairing.builtin`, which this
module loads the first time a registry is read (:func:`policy_types`,
:func:`donor_kinds`, :func:`flows`). Loading it late, like a plugin, keeps this
module a leaf: the pairing schema can check names against the registries without
importing the code behind them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

BUILTIN_MODULE = "sim.pairing.builtin"


class PolicyOptions(Protocol):
    """What a candidate rule reads of a scenario's policy (``sim.pairing.config.Policy`` has all of it)."""

    type: str
    pairs: int | None
    donors_per_pair: int
    matching: str
    typed: bool
    donor_counties: list[str] | None
    recipient_counties: list[str] | None


@dataclass(frozen=True)
class CountyCounts:
    """How many organisations of each kind a scenario asks for, known before anything is built (memory estimate)."""

    villages: int
    departments: int
    communities: int
    enterprises: int
    cooperatives: int
    area_km2: float | None = None  # the recipients' land, for rules that reach only nearby villages (None: unknown)

    @property
    def organisations(self) -> int:
        return self.villages + self.departments + self.communities + self.enterprises + self.cooperatives


@dataclass(frozen=True)
class DonorKind:
    """A kind of organisation that can give: departments, communities, enterprises, villages, cooperatives.

    ``fund_capacity(organisations, county, month, effects)`` gives the most each
    of them can give a month, in yuan (``None``: this kind gives no money).
    ``build(model, scenario, rng)`` creates the organisations of a kind the
    county core does not create itself (``None`` for the built-in kinds).
    """

    name: str
    label: str
    colour: str
    fund_capacity: Callable[[Sequence[Any], Any, Any, Any], np.ndarray] | None = None
    build: Callable[[Any, Any, np.random.Generator], list[Any]] | None = None
    code: int = -1  # position in the registry, the number stored in link arrays (set by register_donor_kind)


WORKING_DAYS_PER_MONTH = 21.75
"""Paid working days in a month, (365 - 104 weekend days) / 12, the monthly average China's labour rules pay by (public
holidays are paid): turns a monthly pay in a flow's unit costs (a village secretary's, a cadre's) into a day's."""


@dataclass(frozen=True)
class Prices:
    """This month's prices, which a flow's cost rule applies to unit costs stated in start-year yuan.

    ``wage_index`` is the county's wage level against the start year (the enterprise wage index of the trends):
    what a course, a cadre-month, a recruitment or an expert's days cost rises with wages. ``problem_fix_cost`` is
    what fixing one open problem costs this month in each link's village, the price public works pay
    (``VillageState.problem_fix_cost``), per link or one number for all. ``setting`` reads a unit cost from the
    settings of each link's policy (``PolicyType.settings``).
    """

    wage_index: float
    problem_fix_cost: np.ndarray | float
    link_settings: Callable[[str, float], np.ndarray | float] | None = None

    def setting(self, name: str, default: float) -> np.ndarray | float:
        """Each link's value of its policy type's setting ``name`` (``default`` where its type has none, or everywhere
        when no links are known), so a cost rule can charge a unit cost the scenario chose."""
        return default if self.link_settings is None else self.link_settings(name, default)

    @classmethod
    def start_year(cls, economy: Any) -> Prices:
        """The prices of the start year: unit costs as stated, a problem at ``economy.problem_fix_cost``."""
        return cls(wage_index=1.0, problem_fix_cost=float(economy.problem_fix_cost))


@dataclass(frozen=True)
class Flow:
    """One thing that moves along a link: funds, trainees, jobs, cadres, techniques, market access, problem solving.

    ``move(inputs)`` moves this month's amount over every active link, applies
    its effect to the receiving villages and returns a
    :class:`~sim.pairing.flows.Moved`; ``cost(sent, effects, economy, prices)`` is
    what each link's ``sent`` this month costs its donors, in yuan at this month's
    :class:`Prices`, given the pairing effects and the county's economy: the ledger
    records it per link and the ``donor_cost`` outcome adds it up. Every flow must
    say what it costs (nothing moves for free), so it has no default.
    ``per_household`` flows are planned per household of the village, so a
    branch's links do not share them. ``carried_by`` names the policy types whose
    links move it (empty: every type), so a plan on any other type is refused, not
    silently ignored.
    """

    name: str
    label: str
    unit: str
    outcome: str  # the monthly outcome that reports this flow's total
    move: Callable[[Any], Any]
    cost: Callable[[np.ndarray, Any, Any, Prices], np.ndarray]
    per_household: bool = False
    carried_by: tuple[str, ...] = ()

    @property
    def ledger_column(self) -> str:
        """The policies table's column with this flow's total over the run."""
        return f"{self.name}_sent"


@dataclass(frozen=True)
class PolicyType:
    """A way of pairing: who may give, whom they help, how pairs form branches, who leads them.

    - ``donor_pool``: the donor kinds that may give under this type.
    - ``candidates(county, policy, targeting)``: donors, recipient villages, link scores and capacities for matching.
    - ``grouping``: one joint branch per recipient ``"village"`` (one-to-one, many-to-one), or per ``"donor"`` (one-to-many
      chains).
    - ``secretary``: the side whose member leads the joint branch (Guangyuan: the strong village or the firm).
    - ``rotation(county, strong_first)``: for posted cadres, the priority of villages to which a successor is sent
      after ``policy.rotation_months`` (``None``: links never rotate).
    - ``budget``: each link's share of its branch's yearly plan of the flows that are shared, given the branch's links.
    - ``check(policy)``: a type's own rule about its options (a message when broken, else ``None``).
    - ``compatible(donor, village)``: for named (explicit) pairs, why a donor cannot serve that village (else ``None``).
    - ``candidate_cells(policy, pairs, counts)``: the size of the donor-by-village score matrix ``candidates`` builds,
      for the memory estimate before a run (``None``: every organisation against every village, an upper bound).
    - ``burdens_donor_villages``: whether helping under this type costs a donor village part of its own farm output (the
      ``donor_cost`` failure mode, 种了别人的田); ``False`` for a type whose cost rule already charges the donors' time.
    - ``settings``: the type's own parameters, a pydantic model (every field with a default) that a scenario's policy
      fills under ``settings:`` (``policy.options``); ``None``: the type takes none. A new form keeps its numbers here,
      so adding it never touches the shared ``effects``/``failure``/``governance`` blocks.
    """

    name: str
    label: str
    colour: str
    donor_pool: tuple[str, ...]
    candidates: Callable[[Any, PolicyOptions, Any], Any]
    grouping: Literal["village", "donor"] = "village"
    secretary: Literal["donor", "village"] = "village"
    rotation: Callable[[Any, Any], np.ndarray] | None = None
    budget: Callable[[int], float] = field(default=lambda links_in_branch: 1.0 / links_in_branch)
    check: Callable[[Any], str | None] = lambda policy: None
    compatible: Callable[[Any, Any], str | None] = lambda donor, village: None
    candidate_cells: Callable[[PolicyOptions, int, CountyCounts], int] | None = None
    burdens_donor_villages: bool = True
    settings: type[Any] | None = None


_POLICY_TYPES: dict[str, PolicyType] = {}
_DONOR_KINDS: dict[str, DonorKind] = {}
_FLOWS: dict[str, Flow] = {}


def _loaded[T](registry: dict[str, T]) -> dict[str, T]:
    importlib.import_module(BUILTIN_MODULE)  # registers the built-in entries once (cached by Python after that)
    return registry


def policy_types() -> dict[str, PolicyType]:
    """Every registered policy type by name, in registration order."""
    return _loaded(_POLICY_TYPES)


def donor_kinds() -> dict[str, DonorKind]:
    """Every registered donor kind by name, in registration order (its ``code`` is its position)."""
    return _loaded(_DONOR_KINDS)


def flows() -> dict[str, Flow]:
    """Every registered flow by name, in the order flows move each month."""
    return _loaded(_FLOWS)


def _add[T](registry: dict[str, T], name: str, entry: T, what: str) -> T:
    _loaded(registry)  # built-ins first, so a new entry never takes a built-in's place (a donor kind's code, a flow's turn)
    if name in registry:
        raise ValueError(f"{what} {name!r} is already registered")
    registry[name] = entry
    return entry


def register_policy_type(entry: PolicyType) -> PolicyType:
    """Add a policy type; its donor kinds must be registered first."""
    unknown = [kind for kind in entry.donor_pool if kind not in _loaded(_DONOR_KINDS)]
    if unknown:
        raise ValueError(f"policy type {entry.name!r}: unknown donor kinds {unknown}; register them first")
    return _add(_POLICY_TYPES, entry.name, entry, "policy type")


def register_donor_kind(entry: DonorKind) -> DonorKind:
    """Add a donor kind; it gets the next code."""
    code = len(_loaded(_DONOR_KINDS))  # after the built-in kinds, whenever this is called
    return _add(_DONOR_KINDS, entry.name, replace(entry, code=code), "donor kind")


def register_flow(entry: Flow) -> Flow:
    """Add a flow; it moves after the flows registered before it."""
    return _add(_FLOWS, entry.name, entry, "flow")


def unregister(name: str) -> None:
    """Remove the policy type, donor kind and flow of this name, where registered (for tests that add toy entries).

    A donor kind must be the last one added, as later kinds' codes would shift.
    """
    for registry in (_POLICY_TYPES, _FLOWS):
        registry.pop(name, None)
    if name in _DONOR_KINDS:
        if list(_DONOR_KINDS)[-1] != name:
            raise ValueError(f"donor kind {name!r} is not the last registered; codes of later kinds would shift")
        del _DONOR_KINDS[name]


@contextmanager
def restored() -> Iterator[None]:
    """Put every registry back as it was, entries and order, on leaving (for tests that remove or replace entries).

    The order is part of the result: flows move, donor kinds are coded and the tables' columns line up in registration
    order, so removing an entry and registering it again (at the end) would change later runs in the same process.
    """
    registries = (_loaded(_POLICY_TYPES), _DONOR_KINDS, _FLOWS)
    saved = [dict(registry) for registry in registries]
    try:
        yield
    finally:
        for registry, entries in zip(registries, saved, strict=True):
            registry.clear()
            registry.update(entries)
