"""The scenario schema: the pydantic models of a county, from its villages to its economic parameters.

A scenario describes one county: its towns and villages (listed in a CSV file or
generated from summary statistics), the urban side, enterprises, departments,
communities, cooperatives and the economic parameters. Every parameter has a
documented default; docs/ODD.md says where each value comes from.

Unknown keys are errors (``extra="forbid"``), so a typo never silently falls
back to a default. Validating a :class:`Scenario` also refuses a county that
cannot fit in memory (:mod:`sim.scenario.sizing`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from sim.errors import InputError
from sim.pairing.config import Pairing
from sim.scenario.messages import validate_model
from sim.scenario.sizing import size_problem
from sim.scenario.villages import _rural_counts, read_village_csv
from sim.schema import (
    CHINA_COMMUNITIES,
    CHINA_POPULATION,
    CHINA_VILLAGES,
    MAX_ENTERPRISES,
    MAX_ORGANISATIONS,
    MAX_TOWNS,
    MAX_URBAN_SAMPLE,
    HorizonYears,
    NonNegativeFloat,
    NonNegativeInt,
    Population,
    PositiveFloat,
    PositiveInt,
    Rate,
    Share,
    Strict,
    bounded_count,
    repeated_names,
)

# Counts with plausibility bounds (sources and reasons: sim/schema.py, docs/ODD.md section 9).
VillageCount = bounded_count(CHINA_VILLAGES, "China had 585,000 villages in 2014; no county has more", positive=True)
UrbanSample = bounded_count(MAX_URBAN_SAMPLE, "assumption: more sampled households add memory, not accuracy", positive=True)
EnterpriseJobs = bounded_count(CHINA_POPULATION, "no enterprise has more jobs than China has people", positive=True)
EnterpriseCount = bounded_count(MAX_ENTERPRISES, "assumption: far above the employers of any county")
DepartmentCount = bounded_count(MAX_ORGANISATIONS, "assumption: a county has about a hundred departments", positive=True)
CommunityCount = bounded_count(CHINA_COMMUNITIES, "China had 96,693 urban communities in 2014; no county has more")
CooperativeCount = bounded_count(MAX_ORGANISATIONS, "assumption: a county's chain bodies number in the tens", positive=True)


class LogNormal(Strict):
    """A positive quantity by its mean and coefficient of variation."""

    example = "{mean: 8000, cv: 0.4}"

    mean: PositiveFloat
    cv: NonNegativeFloat = 0.5

    @property
    def sigma(self) -> float:
        return math.sqrt(math.log1p(self.cv**2))

    @property
    def mu(self) -> float:
        return math.log(self.mean) - self.sigma**2 / 2


class Beta(Strict):
    """A share in [0, 1] by its mean and standard deviation."""

    example = "{mean: 0.55, sd: 0.15}"

    mean: float = Field(gt=0, lt=1)
    sd: NonNegativeFloat = 0.1

    @model_validator(mode="after")
    def _sd_fits_mean(self) -> Beta:
        limit = math.sqrt(self.mean * (1 - self.mean))
        if self.sd >= limit:
            raise ValueError(f"sd must be below sqrt(mean*(1-mean)) = {limit:.3f} for a beta distribution, got {self.sd}")
        return self

    @property
    def alpha_beta(self) -> tuple[float, float]:
        if self.sd == 0:
            return math.inf, math.inf
        common = self.mean * (1 - self.mean) / self.sd**2 - 1
        return self.mean * common, (1 - self.mean) * common


class CollectiveIncome(LogNormal):
    """Village collective income (yuan a year); a share of villages has none at all."""

    example = "{mean: 220000, cv: 1.0, zero_share: 0.03}"

    zero_share: Share = 0.0


def _shares_sum_to_one(shares: dict[str, float], what: str) -> dict[str, float]:
    total = sum(shares.values())
    if not shares or abs(total - 1) > 1e-6:
        raise ValueError(f"{what} shares must sum to 1, got {total:g}")
    return shares


class GeneratedVillages(Strict):
    """Villages drawn from county summary statistics."""

    example = (
        "{count: 40, population: 32000, households: 9000, income_per_capita: {mean: 7000}, collective_income: {mean: 60000}}"
    )

    count: VillageCount
    population: Population = Field(description="rural residents in all villages")
    households: PositiveInt = Field(description="rural households in all villages")
    income_per_capita: LogNormal = Field(description="village mean per-capita net income, yuan a year, across villages")
    collective_income: CollectiveIncome = Field(description="village collective income, yuan a year")
    leadership: Beta = Beta(mean=0.55, sd=0.15)
    industries: dict[str, Share] = Field(default_factory=lambda: {"grain": 1.0})

    _industries_sum = field_validator("industries")(lambda shares: _shares_sum_to_one(shares, "industry"))

    @model_validator(mode="after")
    def _consistent(self) -> GeneratedVillages:
        if self.households > self.population:
            raise ValueError(f"households ({self.households}) cannot exceed population ({self.population})")
        if self.households < self.count:
            raise ValueError(f"households ({self.households}) must be at least one per village ({self.count} villages)")
        return self


def _towns_shape(value: Any) -> Any:
    """A positive number of towns or a non-empty list of names, at most MAX_TOWNS."""
    is_count = isinstance(value, int) and not isinstance(value, bool) and value > 0
    is_names = isinstance(value, list) and value and all(isinstance(name, str) and name for name in value)
    if not (is_count or is_names):
        raise ValueError(f"must be a positive number of towns or a non-empty list of town names, got {value!r}")
    towns = value if is_count else len(value)
    if towns > MAX_TOWNS:
        raise ValueError(f"must be at most {MAX_TOWNS:,} towns (assumption: a county has tens of towns), got {towns:,}")
    return value


def _named_towns(towns: int | list[str]) -> list[str]:
    return list(towns) if isinstance(towns, list) else [f"town {i + 1}" for i in range(towns)]


class CountyRegion(Strict):
    """One county (or prefecture) of a province-scale scenario: its own towns, area and villages, so its own income level."""

    example = "{name: Lishui, towns: 20, area_km2: 17300, villages: {count: 2000, ...}}"

    name: str = Field(min_length=1)
    towns: int | list[str] = Field(1, description="number of towns, or their names; the first is the county's seat")
    area_km2: PositiveFloat = 1000.0
    villages: GeneratedVillages

    _towns_shape = field_validator("towns", mode="before")(_towns_shape)

    @model_validator(mode="after")
    def _unique_towns(self) -> CountyRegion:
        if isinstance(self.towns, list) and len(set(self.towns)) != len(self.towns):
            raise ValueError("town names must be unique")
        return self

    @property
    def town_names(self) -> list[str]:
        """The county's towns as the village table names them: the county's name, then the town's."""
        return [f"{self.name} {town}" for town in _named_towns(self.towns)]


class Region(Strict):
    """Towns and villages; villages come from a CSV file, from summary statistics, or from several counties' statistics.

    With ``counties`` the region is a prefecture or a province: ``towns`` and ``area_km2`` are then the counties'
    together (filled in from them; giving other values is an error), and the first county's first town is the seat.
    """

    name: str = "county"
    towns: int | list[str] = Field(1, description="number of towns, or their names")
    area_km2: PositiveFloat = 1000.0
    villages: GeneratedVillages | None = None
    village_file: str | None = Field(default=None, description="CSV beside the YAML, one row per village")
    counties: list[CountyRegion] | None = Field(default=None, description="a province's or prefecture's counties")

    _towns_shape = field_validator("towns", mode="before")(_towns_shape)

    @field_validator("counties")
    @classmethod
    def _unique_counties(cls, counties: list[CountyRegion] | None) -> list[CountyRegion] | None:
        if counties is not None:
            names = [county.name for county in counties]
            if not names:
                raise ValueError("must list at least one county")
            if repeated := repeated_names(names):
                raise ValueError(f"county names must be unique; repeated: {', '.join(repeated)}")
        return counties

    @model_validator(mode="after")
    def _one_village_source(self) -> Region:
        sources = [self.villages is not None, self.village_file is not None, self.counties is not None]
        if sum(sources) != 1:
            raise ValueError(
                "give exactly one of 'villages' (summary statistics), 'village_file' (a CSV) or 'counties' (several counties)"
            )
        if isinstance(self.towns, list) and len(set(self.towns)) != len(self.towns):
            raise ValueError("town names must be unique")
        if self.counties is not None:
            towns = [town for county in self.counties for town in county.town_names]
            area = math.fsum(county.area_km2 for county in self.counties)
            if len(set(towns)) != len(towns):
                raise ValueError("each town's county and name together must be unique across region.counties")
            if len(towns) > MAX_TOWNS:
                raise ValueError(f"must have at most {MAX_TOWNS:,} towns in all its counties, got {len(towns):,}")
            # Read back from a dump (overrides, --years), the values derived here come in again and are accepted.
            if "towns" in self.model_fields_set and self.towns != towns:
                raise ValueError("with 'counties', give each county's towns in region.counties, not region.towns")
            if "area_km2" in self.model_fields_set and self.area_km2 != area:
                raise ValueError("with 'counties', give each county's area_km2 in region.counties, not region.area_km2")
            object.__setattr__(self, "towns", towns)
            object.__setattr__(self, "area_km2", area)
        return self

    @property
    def town_names(self) -> list[str]:
        """Every town, the seat first; with counties, each named by its county and itself."""
        return _named_towns(self.towns)

    @property
    def county_names(self) -> list[str]:
        """The region's counties; a single-county region is one county, named as the region."""
        return [county.name for county in self.counties] if self.counties is not None else [self.name]

    def county_towns(self) -> dict[str, list[str]]:
        """Each county's towns (as :attr:`town_names` names them), its seat first, in county order."""
        if self.counties is None:
            return {self.name: self.town_names}
        return {county.name: county.town_names for county in self.counties}

    def town_counties(self) -> dict[str, str]:
        """The county of each town."""
        return {town: county for county, towns in self.county_towns().items() for town in towns}

    def listed_towns(self, county: str | None = None) -> list[str]:
        """A county's towns as the scenario lists them (``None``: the first county); single-county: :attr:`town_names`."""
        if self.counties is None:
            return self.town_names
        return _named_towns(next(c for c in self.counties if county in (None, c.name)).towns)

    def town_named(self, town: str, county: str | None = None) -> str | None:
        """A town as its county lists it (``county`` ``None``: the first), as :attr:`town_names` names it; ``None`` if
        that county has no such town."""
        listed = self.listed_towns(county)
        if town not in listed:
            return None
        return self.county_towns()[county or self.county_names[0]][listed.index(town)]

    def seat_of(self, county: str | None) -> str:
        """Where a county's departments and communities sit: its first town (``None``: the region's seat)."""
        return self.town_names[0] if county is None else self.county_towns()[county][0]

    def generated_counts(self) -> tuple[int, int, int] | None:
        """(villages, households, residents) of generated villages, all counties together; ``None`` for a village CSV."""
        blocks = [county.villages for county in self.counties] if self.counties is not None else [self.villages]
        if blocks == [None]:
            return None
        return (
            sum(block.count for block in blocks),
            sum(block.households for block in blocks),
            sum(block.population for block in blocks),
        )


class Households(Strict):
    """How the rural population is split into households and workers."""

    income_cv: NonNegativeFloat = Field(0.5, description="within-village spread of household skill")
    able_worker_share: Share = Field(0.55, description="share of residents able to work")
    initial_migrant_share: Share = Field(0.35, description="share of able workers away at the start")
    land_per_capita_mu: PositiveFloat = 1.4
    operating_cv: NonNegativeFloat = Field(0.3, description="spread (cv) of households' operating income at equal skill")
    business_share: Share = Field(0.05, description="share of households running a household business (the upper tail)")
    business_tail_index: float = Field(
        2.0, gt=1.0, description="Pareto tail index of a business's operating-income multiplier (above 1: a finite mean)"
    )


class Urban(Strict):
    """The urban side: households whose wages follow a trend plus noise."""

    example = "{population: 320000, income_per_capita: 17811}"

    population: Population
    household_size: float = Field(2.9, ge=1)
    income_per_capita: PositiveFloat = Field(description="urban per-capita disposable income, yuan a year")
    income_cv: NonNegativeFloat = 0.5
    wage_growth: Rate = Field(0.119, description="trend growth of urban wages a year (China 2009-2013)")
    wage_growth_sd: NonNegativeFloat = Field(0.02, description="sd of the common yearly shock to urban wage growth")
    sample_households: UrbanSample = Field(4000, description="urban households simulated; each stands for many")


class Enterprise(Strict):
    """One named enterprise (in addition to generated ones)."""

    example = "{name: vegetable market, jobs: 500, monthly_wage: 1800}"

    name: str
    sector: str = "manufacturing"
    jobs: EnterpriseJobs
    monthly_wage: PositiveFloat
    town: str | None = Field(None, description="one of its county's towns, as the county lists it; None: a random town")
    county: str | None = Field(None, description="the county it sits in; None: the first (or, without a town, any)")


class Enterprises(Strict):
    """Enterprises that hire rural workers: generated by count, plus listed ones."""

    count: EnterpriseCount = 0
    jobs: LogNormal = LogNormal(mean=120, cv=1.0)
    monthly_wage: LogNormal = LogNormal(mean=1500, cv=0.2)
    sectors: dict[str, Share] = Field(default_factory=lambda: {"manufacturing": 1.0})
    hire_radius_km: PositiveFloat = 15.0
    county: str | None = Field(None, description="the county the generated ones sit in; None: random towns of every county")
    listed: list[Enterprise] = Field(default_factory=list)

    _sectors_sum = field_validator("sectors")(lambda shares: _shares_sum_to_one(shares, "sector"))


DepartmentType = Literal["party_mass", "political_legal", "economic", "agriculture"]


class DepartmentGroup(Strict):
    """A number of county departments of one type (党群, 政法, 经济, 涉农)."""

    example = "{type: economic, count: 40}"

    type: DepartmentType
    count: DepartmentCount
    annual_budget: NonNegativeFloat = Field(100_000, description="yuan a year a department can spend on pairing")
    cadres: NonNegativeInt = Field(10, description="cadres a department can second")
    county: str | None = Field(None, description="the county whose seat they sit in; None: the first county")


class Communities(Strict):
    """Urban communities (社区)."""

    count: CommunityCount = 0
    annual_budget: NonNegativeFloat = 30_000
    volunteers: NonNegativeInt = 20
    county: str | None = Field(None, description="the county whose seat they sit in; None: the first county")


class CooperativeGroup(Strict):
    """Cooperatives or specialist associations on one industry chain."""

    example = "{industry: vegetables, count: 8}"

    industry: str
    count: CooperativeCount
    kind: Literal["cooperative", "association"] = "cooperative"
    price_premium: Share = Field(0.03, description="farm-gate price gain for member households")


class Classification(Strict):
    """Thresholds on collective income that make a village weak (薄弱) or hollow (空壳)."""

    example = "{weak_collective_income: 50000, hollow_collective_income: 10000}"

    weak_collective_income: NonNegativeFloat = 50_000
    hollow_collective_income: NonNegativeFloat = 10_000

    @model_validator(mode="after")
    def _ordered(self) -> Classification:
        if self.hollow_collective_income > self.weak_collective_income:
            raise ValueError("hollow_collective_income must not exceed weak_collective_income")
        return self


class Economy(Strict):
    """Parameters of the income processes; docs/ODD.md gives each one's source."""

    farm_land_elasticity: Share = 0.5
    farm_productivity_growth: Rate = 0.132  # fitted to China 2009-2013 (scripts/fit_trends.py small)
    leadership_growth_effect: NonNegativeFloat = 0.04
    min_farm_share: Share = 0.1
    land_rent_share: Share = 0.25
    enterprise_wage_growth: Rate = 0.165
    enterprise_job_growth: Rate = 0.03
    migrant_monthly_wage: PositiveFloat = 1417.0
    migrant_wage_growth: Rate = 0.165
    migrant_living_cost_share: Share = 0.4
    remittance_share: Share = 0.6
    migration_max_rate: Share = 0.02
    migration_sensitivity: NonNegativeFloat = 3.0
    migration_skill_selectivity: NonNegativeFloat = 1.0
    return_rate: Share | None = Field(
        None, description="monthly chance a migrant returns; None: calibrated so the start is a steady state"
    )
    past_income_growth: Rate = Field(
        0.146, description="income growth in the year before the start, to back-cast the first trailing year"
    )
    job_separation_rate: Share = 0.015
    vacancy_fill_rate: Share = 0.3
    collective_return: NonNegativeFloat = 0.05
    collective_wage_share: Share = Field(0.3, description="share of collective operating income paid as local wages")
    collective_start_rate: Share = Field(
        0.03, description="yearly chance a hollow village starts collective income by its own effort (at leadership 0.5)"
    )
    collective_start_income: NonNegativeFloat = Field(20_000, description="collective income a year of a project so started")
    leadership_return_effect: float = Field(1.0, ge=0, lt=2)  # below 2 keeps the return positive
    dividend_share: Share = 0.3
    debt_interest: NonNegativeFloat = 0.05
    initial_debt_to_income: NonNegativeFloat = 1.96
    debt_repayment_rate: Share = Field(0.1, description="share of collective debt repaid a year out of the surplus")
    transfer_per_capita: NonNegativeFloat = 150.0
    transfer_growth: Rate = 0.174
    dibao_line: NonNegativeFloat = 1200.0
    dibao_coverage: Share = 0.7
    poverty_line_2010: NonNegativeFloat = Field(2300.0, description="national rural poverty line, yuan a year at 2010 prices")
    rural_price_growth: Rate = Field(0.041, description="yearly rural consumer price inflation; indexes the poverty line")
    skill_depreciation: Share = 0.01
    leadership_term_months: PositiveInt = 36
    leadership_replacement: Share = 0.5
    leadership_ageing: Share = 0.01
    leadership_talent_effect: NonNegativeFloat = 0.3
    problem_arrival: NonNegativeFloat = 1.5
    problem_solving: Share = 0.1
    problem_fix_cost: PositiveFloat = Field(
        5_000, description="yuan (start-year prices) of public works that fix one village problem, whoever pays"
    )
    public_works_return: NonNegativeFloat = Field(
        0.15, description="farm output a yuan of village public works adds a year; an open problem costs this on its fix"
    )
    max_problem_loss: Share = Field(0.3, description="largest share of a village's farm output its open problems can cost")


class EconomyTrendRates(Strict):
    """The economy's growth rates a trend period may change; a rate left out keeps the one in force."""

    farm_productivity_growth: Rate | None = None
    enterprise_wage_growth: Rate | None = None
    enterprise_job_growth: Rate | None = None
    migrant_wage_growth: Rate | None = None
    transfer_growth: Rate | None = None


class UrbanTrendRates(Strict):
    """The urban growth rate a trend period may change."""

    wage_growth: Rate | None = None


class TrendPeriod(Strict):
    """Growth rates in force from the start of ``from_year`` on (China's incomes grew more slowly after 2013).

    Only trend rates change: levels, shocks and behaviour stay the scenario's, so a run with a period is the
    run without it up to the switch.
    """

    example = "{from_year: 2014, economy: {farm_productivity_growth: 0.09}, urban: {wage_growth: 0.08}}"

    from_year: int = Field(ge=1949, le=2200, description="first calendar year the rates are in force")
    economy: EconomyTrendRates = EconomyTrendRates()
    urban: UrbanTrendRates = UrbanTrendRates()

    def economy_changes(self) -> dict[str, float]:
        return self.economy.model_dump(exclude_none=True)

    def urban_changes(self) -> dict[str, float]:
        return self.urban.model_dump(exclude_none=True)


class Scenario(Strict):
    """A county to simulate: validated once, then read-only."""

    name: str
    description: str = ""
    start_year: int = Field(2009, ge=1949, le=2100)
    horizon_years: HorizonYears = 10
    region: Region
    households: Households = Households()
    urban: Urban
    enterprises: Enterprises = Enterprises()
    departments: list[DepartmentGroup] = Field(default_factory=list)
    communities: Communities = Communities()
    cooperatives: list[CooperativeGroup] = Field(default_factory=list)
    classification: Classification = Classification()
    economy: Economy = Economy()
    pairing: Pairing = Pairing()
    trend_periods: list[TrendPeriod] = Field(
        default_factory=list, description="later growth rates, each from the start of its year (in year order)"
    )

    _source: str | None = PrivateAttr(None)

    @field_validator("trend_periods")
    @classmethod
    def _periods_in_order(cls, periods: list[TrendPeriod], info: ValidationInfo) -> list[TrendPeriod]:
        """A period starts after the start year (whose incomes are the data) and after the period before it.

        A period may start after the horizon (it then never comes into force), so the same file serves shorter runs.
        """
        start = info.data.get("start_year")
        previous = start
        for index, period in enumerate(periods):
            if previous is not None and period.from_year <= previous:
                after = f"the start year {start}" if previous == start else f"the previous period's {previous}"
                raise ValueError(f"from_year of period {index} is {period.from_year}; expected a year after {after}")
            previous = period.from_year
        return periods

    @model_validator(mode="after")
    def _fits(self) -> Scenario:
        """Refuse, before anything is built, a county with more people than China or too big for this machine."""
        rural = None
        village_file = self.region.village_file
        if village_file is not None:
            path = Path(village_file)
            if not (path.is_absolute() and path.is_file()):
                return self  # a file as written, relative to its YAML: load_scenario checks it once the CSV is read
            try:
                rural = _rural_counts(read_village_csv(path))  # read once: cached for building the villages
            except InputError:
                return self  # the CSV's own problems are reported where it is read
        problem = size_problem(self, rural)
        if problem is not None:
            raise ValueError(problem)
        return self

    def __eq__(self, other: object) -> bool:
        """Equal content is equal, wherever each was read from."""
        return isinstance(other, Scenario) and self.model_dump() == other.model_dump()

    __hash__ = Strict.__hash__

    @property
    def months(self) -> int:
        return 12 * self.horizon_years

    @property
    def source(self) -> str:
        """Where the scenario came from, for error messages: its file, or its name."""
        return self._source or f"scenario {self.name!r}"

    def from_source(self, source: str) -> Scenario:
        """This scenario, remembering the file it was read from."""
        self._source = source
        return self

    def with_horizon(self, years: int) -> Scenario:
        """The same scenario over another horizon (the CLI's --years), validated like the file."""
        changed = validate_model(Scenario, {**self.model_dump(), "horizon_years": years}, source="--years")
        return changed.from_source(self.source)
