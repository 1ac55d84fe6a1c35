"""What pairing sees of the county: a typed handle on the county core's state, with no model behind it.

The model builds one :class:`County` when it sets up the pairing programme.
Its arrays are the county core's own: pairing moves stocks (collective capital,
open problems, skills, techniques, local jobs) in them, and reads the rest. Each
month the model adds what changes with the month (:class:`Month`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.economy import VillageState
from sim.households import HouseholdArrays
from sim.labour import Jobs
from sim.scenario import Classification, Economy, Region

if TYPE_CHECKING:
    import pandas as pd  # annotations only: validating a scenario loads the registries, which import this module


@dataclass(frozen=True)
class County:
    """The county core's state that pairing reads and changes."""

    villages: pd.DataFrame  # one row per village: name, town, industry, x_km, y_km, households, ...
    state: VillageState
    households: HouseholdArrays
    population: np.ndarray  # residents per village
    organisations: dict[str, list[Any]]  # by donor kind name ("village" included), each list in index order
    jobs: Jobs
    classification: Classification
    region: Region
    economy: Economy  # the county core's parameters (pairing reads the farm production function's)
    source: str  # the scenario file, for error messages

    def weak(self) -> np.ndarray:
        """Villages weak (薄弱) now, by their 12-month collective income."""
        return self.state.weak(self.classification)

    def income_per_capita(self) -> np.ndarray:
        """Each village's trailing 12-month per-capita income, yuan."""
        h = self.households
        return h.village_sum(h.annual) / self.population

    def village_xy(self) -> np.ndarray:
        """Village positions, km, shape (villages, 2)."""
        return self.villages[["x_km", "y_km"]].to_numpy(float)

    def village_counties(self) -> np.ndarray:
        """The county of each village (the region's name in a single-county scenario)."""
        return self.villages["county"].to_numpy()

    def counties_of(self, organisations: list[Any]) -> list[str | None]:
        """The county each organisation sits in, by its town (``None`` for one whose town is not on the map)."""
        town_counties = self.region.town_counties()
        return [town_counties.get(organisation.town) for organisation in organisations]


@dataclass(frozen=True)
class Month:
    """What pairing needs of this month that the county core computes: the step, the employers' positions and wages."""

    step: int
    enterprise_capacity: np.ndarray  # jobs each enterprise may fill this month
    enterprise_wage_bill: np.ndarray  # what each enterprise pays its rural workers this month, yuan
    wage_index: float  # the county's wage level against the start year: labour-type unit costs rise with it
    remitted_per_migrant: float = 0.0  # yuan a migrant sends home this month (a referral premium's worth in yuan)
