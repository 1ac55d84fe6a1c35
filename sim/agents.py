"""The county's organisations as Mesa agents.

Villages, enterprises, departments, communities and cooperatives are
``mesa.Agent``s: they carry identity and attributes, sit in the model's agent
sets, and are what pairing policies talk to. Their state lives in the model's
arrays (row ``index``), so the monthly dynamics of all 1,000 villages run as
one array operation while each agent still reads like an object.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np


class Organisation(mesa.Agent):
    """Something that can be paired: it has a name, a kind, a town and its position among the organisations of its kind.

    ``model`` is the :class:`sim.model.PairingModel` that owns it (typed as a plain Mesa model so
    that agents do not depend on the model module).
    """

    kind: str = "organisation"
    model: Any

    def __init__(self, model: mesa.Model, index: int, name: str, town: str) -> None:
        super().__init__(model)
        self.index = index
        self.name = name
        self.town = town

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, town={self.town!r})"

    @property
    def node_id(self) -> str:
        """This organisation's node in the pairing graph."""
        return f"{self.kind}:{self.unique_id}"

    def node_attributes(self) -> dict[str, str | int | float]:
        """Plain attributes for the pairing graph (GraphML needs scalars)."""
        return {"kind": self.kind, "name": self.name, "town": self.town}


class Village(Organisation):
    """An administrative village (行政村); its households are rows ``start:stop`` of the household arrays."""

    kind = "village"

    def __init__(self, model: mesa.Model, index: int, name: str, town: str, industry: str, xy: tuple[float, float]):
        super().__init__(model, index, name, town)
        self.industry = industry
        self.xy = xy

    @property
    def households(self) -> slice:
        h = self.model.households
        return slice(int(h.start[self.index]), int(h.stop[self.index]))

    @property
    def population(self) -> int:
        return int(self.model.households.size[self.households].sum())

    @property
    def income_per_capita(self) -> float:
        """Trailing 12-month per-capita income, yuan a year."""
        h, rows = self.model.households, self.households
        return float(h.annual[rows].sum() / h.size[rows].sum())

    @property
    def leadership(self) -> float:
        return float(self.model.village_state.leadership[self.index])

    @property
    def collective_income(self) -> float:
        """Trailing 12-month collective operating income, yuan."""
        return float(self.model.village_state.collective_annual[self.index])

    @property
    def is_weak(self) -> bool:
        return bool(self.model.village_state.weak(self.model.spec.classification)[self.index])

    @property
    def is_hollow(self) -> bool:
        return bool(self.model.village_state.hollow(self.model.spec.classification)[self.index])


class Enterprise(Organisation):
    """An employer that hires rural workers from villages within its radius."""

    kind = "enterprise"

    def __init__(self, model: mesa.Model, index: int, name: str, town: str, sector: str, xy: tuple[float, float]):
        super().__init__(model, index, name, town)
        self.sector = sector
        self.xy = xy

    @property
    def jobs(self) -> int:
        """Current job capacity (grows with the county's trend)."""
        return int(self.model.enterprise_capacity()[self.index])

    @property
    def employed(self) -> int:
        return int(self.model.jobs.filled(len(self.model.enterprise_base_wage))[self.index])

    @property
    def monthly_wage(self) -> float:
        return float(self.model.enterprise_wages()[self.index])


class Department(Organisation):
    """A county department (党群, 政法, 经济 or 涉农) with a pairing budget and cadres to second."""

    kind = "department"

    def __init__(
        self, model: mesa.Model, index: int, name: str, town: str, department_type: str, annual_budget: float, cadres: int
    ):
        super().__init__(model, index, name, town)
        self.department_type = department_type
        self.annual_budget = annual_budget
        self.cadres = cadres

    def node_attributes(self) -> dict[str, str | int | float]:
        return {**super().node_attributes(), "department_type": self.department_type}


class Community(Organisation):
    """An urban residents' community (社区) with a small budget and volunteers."""

    kind = "community"

    def __init__(self, model: mesa.Model, index: int, name: str, town: str, annual_budget: float, volunteers: int):
        super().__init__(model, index, name, town)
        self.annual_budget = annual_budget
        self.volunteers = volunteers


class Cooperative(Organisation):
    """A cooperative or specialist association serving the villages of one industry in its town."""

    kind = "cooperative"

    def __init__(
        self, model: mesa.Model, index: int, name: str, town: str, industry: str, association: bool, price_premium: float
    ):
        super().__init__(model, index, name, town)
        self.industry = industry
        self.association = association
        self.price_premium = price_premium
        self.member_villages: np.ndarray = np.empty(0, dtype=np.int64)
        self.xy: tuple[float, float] = (0.0, 0.0)  # its town's seat (set by the model)


class JointBranch(Organisation):
    """A joint party branch (联合党总支) created by a pairing: it links donors with villages.

    One-to-one (one donor, one village), many-to-one (several donors, one
    village) and one-to-many (a cooperative and the villages of its industry)
    are all branches; the numbers of each donor–village link live in
    ``model.pairing.links``; the branch's secretary comes from the side its policy type names.
    """

    kind = "joint_branch"

    def __init__(
        self,
        model: mesa.Model,
        index: int,
        policy: str,
        policy_type: str,
        donors: list[Organisation],
        villages: list[Village],
        start_step: int,
        secretary_from: str,
    ):
        name = f"{policy} branch {index + 1}: {' + '.join(d.name for d in donors)} / {' + '.join(v.name for v in villages)}"
        super().__init__(model, index, name, villages[0].town)
        self.policy = policy
        self.policy_type = policy_type
        self.donors = donors
        self.villages = villages
        self.start_step = start_step
        self.closed_step: int | None = None
        self.secretary_from = secretary_from  # the policy type's rule: the strong side where there is one (Guangyuan)

    def node_attributes(self) -> dict[str, str | int | float]:
        return {
            **super().node_attributes(),
            "branch": self.index,
            "policy": self.policy,
            "type": self.policy_type,
            "start_step": self.start_step,
            "secretary_from": self.secretary_from,
            "status": "active",
            "effort": 1.0,
            "last_rating": "unrated",
        }


class Cadre(Organisation):
    """A county cadre (干部) who pairs with poor households: ``quota`` of them, in ``villages`` villages at most.

    Cadre–household pairing (sim/pairing/cadre_households.py, Xunwu's "2+10864") builds and uses it; it lives here so
    that validating a scenario, which loads the registries, imports no Mesa.
    """

    kind = "cadre"

    def __init__(
        self,
        model: Any,
        index: int,
        name: str,
        town: str,
        rank: str,
        quota: int,
        villages: int,
        policy_index: int,
        roster: Any,
    ) -> None:
        super().__init__(model, index, name, town)
        self.rank = rank
        self.quota = quota
        self.villages = villages
        self.policy_index = policy_index  # the scenario's policy whose settings made this cadre (it pairs under that one only)
        self.roster = roster  # the programme's register of paired households (cadre_households.Roster), shared by all cadres
        self.households = np.empty(0, np.int64)  # rows of the poor households paired with this cadre, set at first move

    def node_attributes(self) -> dict[str, str | int | float]:
        return {**super().node_attributes(), "rank": self.rank}


class MigrantBranch(Organisation):
    """A branch of members working away (流动党组织), e.g. 灌南县驻杭流动党委; it sits away, shown at its county's seat.

    ``policy_index`` is the scenario's policy (its position) that built the branch and alone pairs through it: two
    policies may share a label. ``placed`` counts, per household, the referred workers still away in the jobs this
    branch found them. Migrant-member pairing (sim/pairing/migrants.py) builds and uses it; it lives here so that
    validating a scenario, which loads the registries, imports no Mesa.
    """

    kind = "migrant_branch"

    def __init__(
        self, model: Any, index: int, name: str, town: str, xy: tuple[float, float], policy_index: int, households: int
    ) -> None:
        super().__init__(model, index, name, town)
        self.xy = xy
        self.policy_index = policy_index
        self.placed = np.zeros(households)
