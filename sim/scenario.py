"""Scenario files: the pydantic schema, YAML loading and one-line error messages.

A scenario describes one county: its towns and villages (listed in a CSV file or
generated from summary statistics), the urban side, enterprises, departments,
communities, cooperatives and the economic parameters. Every parameter has a
documented default; docs/ODD.md says where each value comes from.

Unknown keys are errors (``extra="forbid"``), so a typo never silently falls
back to a default.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.errors import InputError, Problem, close_match, did_you_mean
from sim.pairing.config import Pairing
from sim.schema import (
    CHINA_COMMUNITIES,
    CHINA_POPULATION,
    CHINA_VILLAGES,
    MAX_ENTERPRISES,
    MAX_ORGANISATIONS,
    MAX_TOWNS,
    MAX_URBAN_SAMPLE,
    POPULATION_REASON,
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


class Region(Strict):
    """Towns and villages; villages come from a CSV file or from summary statistics."""

    name: str = "county"
    towns: int | list[str] = Field(1, description="number of towns, or their names")
    area_km2: PositiveFloat = 1000.0
    villages: GeneratedVillages | None = None
    village_file: str | None = Field(default=None, description="CSV beside the YAML, one row per village")

    @field_validator("towns", mode="before")
    @classmethod
    def _towns_shape(cls, value: Any) -> Any:
        is_count = isinstance(value, int) and not isinstance(value, bool) and value > 0
        is_names = isinstance(value, list) and value and all(isinstance(name, str) and name for name in value)
        if not (is_count or is_names):
            raise ValueError(f"must be a positive number of towns or a non-empty list of town names, got {value!r}")
        towns = value if is_count else len(value)
        if towns > MAX_TOWNS:
            raise ValueError(f"must be at most {MAX_TOWNS:,} towns (assumption: a county has tens of towns), got {towns:,}")
        return value

    @model_validator(mode="after")
    def _one_village_source(self) -> Region:
        if (self.villages is None) == (self.village_file is None):
            raise ValueError("give exactly one of 'villages' (summary statistics) or 'village_file' (a CSV)")
        if isinstance(self.towns, list) and len(set(self.towns)) != len(self.towns):
            raise ValueError("town names must be unique")
        return self

    @property
    def town_names(self) -> list[str]:
        if isinstance(self.towns, list):
            return list(self.towns)
        return [f"town {i + 1}" for i in range(self.towns)]


class Households(Strict):
    """How the rural population is split into households and workers."""

    income_cv: NonNegativeFloat = Field(0.5, description="within-village spread of household skill")
    able_worker_share: Share = Field(0.55, description="share of residents able to work")
    initial_migrant_share: Share = Field(0.35, description="share of able workers away at the start")
    land_per_capita_mu: PositiveFloat = 1.4


class Urban(Strict):
    """The urban side: households whose wages follow a trend plus noise."""

    example = "{population: 320000, income_per_capita: 17811}"

    population: Population
    household_size: float = Field(2.9, ge=1)
    income_per_capita: PositiveFloat = Field(description="urban per-capita disposable income, yuan a year")
    income_cv: NonNegativeFloat = 0.5
    wage_growth: Rate = Field(0.09, description="trend growth of urban wages a year")
    wage_growth_sd: NonNegativeFloat = Field(0.02, description="sd of the common yearly shock to urban wage growth")
    sample_households: UrbanSample = Field(4000, description="urban households simulated; each stands for many")


class Enterprise(Strict):
    """One named enterprise (in addition to generated ones)."""

    example = "{name: vegetable market, jobs: 500, monthly_wage: 1800}"

    name: str
    sector: str = "manufacturing"
    jobs: EnterpriseJobs
    monthly_wage: PositiveFloat
    town: str | None = None


class Enterprises(Strict):
    """Enterprises that hire rural workers: generated by count, plus listed ones."""

    count: EnterpriseCount = 0
    jobs: LogNormal = LogNormal(mean=120, cv=1.0)
    monthly_wage: LogNormal = LogNormal(mean=1500, cv=0.2)
    sectors: dict[str, Share] = Field(default_factory=lambda: {"manufacturing": 1.0})
    hire_radius_km: PositiveFloat = 15.0
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


class Communities(Strict):
    """Urban communities (社区)."""

    count: CommunityCount = 0
    annual_budget: NonNegativeFloat = 30_000
    volunteers: NonNegativeInt = 20


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
    farm_productivity_growth: Rate = 0.08
    leadership_growth_effect: NonNegativeFloat = 0.04
    min_farm_share: Share = 0.1
    land_rent_share: Share = 0.25
    enterprise_wage_growth: Rate = 0.10
    enterprise_job_growth: Rate = 0.03
    migrant_monthly_wage: PositiveFloat = 1417.0
    migrant_wage_growth: Rate = 0.108
    migrant_living_cost_share: Share = 0.4
    remittance_share: Share = 0.6
    migration_max_rate: Share = 0.02
    migration_sensitivity: NonNegativeFloat = 3.0
    migration_skill_selectivity: NonNegativeFloat = 1.0
    return_rate: Share | None = Field(
        None, description="monthly chance a migrant returns; None: calibrated so the start is a steady state"
    )
    past_income_growth: Rate = Field(
        0.10, description="income growth in the year before the start, to back-cast the first trailing year"
    )
    job_separation_rate: Share = 0.015
    vacancy_fill_rate: Share = 0.3
    initial_job_fill: Share = 0.9
    collective_return: NonNegativeFloat = 0.08
    leadership_return_effect: float = Field(1.0, ge=0, lt=2)  # below 2 keeps the return positive
    dividend_share: Share = 0.3
    debt_interest: NonNegativeFloat = 0.05
    initial_debt_to_income: NonNegativeFloat = 1.96
    transfer_per_capita: NonNegativeFloat = 150.0
    transfer_growth: Rate = 0.12
    dibao_line: NonNegativeFloat = 1200.0
    dibao_coverage: Share = 0.7
    poverty_line: NonNegativeFloat = 2300.0
    poverty_line_growth: Rate = Field(0.038, description="yearly rise of the poverty line with prices")
    skill_depreciation: Share = 0.01
    leadership_term_months: PositiveInt = 36
    leadership_replacement: Share = 0.5
    leadership_ageing: Share = 0.01
    leadership_talent_effect: NonNegativeFloat = 0.3
    problem_arrival: NonNegativeFloat = 1.5
    problem_solving: Share = 0.1
    problem_half_saturation: PositiveFloat = 20.0
    max_problem_loss: Share = 0.3


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

    _source: str | None = PrivateAttr(None)

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


# --------------------------------------------------------------------------- size and memory

BASE_BYTES = 200 * 2**20
"""The interpreter with numpy, pandas and Mesa loaded (README: small.yaml peaks at 178 MiB of resident memory)."""
BYTES_PER_HOUSEHOLD = 300
BYTES_PER_EXTRA_RESIDENT = 30
BYTES_PER_VILLAGE = 2_500
BYTES_PER_VILLAGE_YEAR = 260
BYTES_PER_ENTERPRISE = 5_000
BYTES_PER_JOB = 15
BYTES_PER_ORGANISATION = 300
BYTES_PER_URBAN_SAMPLE = 60
BYTES_PER_PAIRING_CANDIDATE = 110


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a scenario needs to run, in total and by what drives it (for the message when it does not fit)."""

    total: int
    parts: dict[str, int]
    households: int


def estimate_memory(scenario: Scenario, rural: tuple[int, int, int] | None = None) -> MemoryEstimate:
    """Roughly the most memory a run of ``scenario`` needs at once, from its validated counts alone (nothing is built).

    ``rural`` is (villages, households, residents) when the villages come from a CSV; generated villages give their own.

    The figures per unit were measured, not guessed: the peak of ``tracemalloc`` (which numpy reports its arrays to)
    while building ``PairingModel`` for ``scenarios/shouguang_2009.yaml`` (975 villages, 212,000 households, 700,000
    rural residents, 400 enterprises, 4,000 sampled urban households) and stepping it 24 months, then again with one
    count changed at a time (Python 3.12.1, numpy 2.5.5, 2026-11-30, on the shared 2-core development machine):

    - Shouguang without pairing: 65.5 MB. Households and residents doubled: 126.6 MB, so 288 bytes a household
      (``BYTES_PER_HOUSEHOLD`` = 300). The households' arrays, income parts, 12-month history and each month's
      temporaries; the peak is while the county is built, not later.
    - Residents x 28 (20 M) at the same households: 634.4 MB, so 29.5 bytes for each resident beyond the first of
      their household (placing residents in households makes three arrays of that length; 30).
    - Villages x 4: 72.7 MB, 2,490 bytes a village (2,500): the village table, its Mesa agent and per-village state.
      The yearly village records add about 260 bytes a village a year (16 columns of 8 bytes, twice while the yearly
      tables are joined; computed, not measured).
    - Jobs per enterprise x 4: 68.2 MB, 12.6 bytes a job (15): hiring draws three candidates per opening.
      Enterprises x 4: 74.0 MB, 7,100 bytes an enterprise, 4,800 of it besides its jobs (5,000).
    - 20,000 communities: 70.8 MB, 265 bytes per department, community or cooperative (300).
    - 100,000 sampled urban households: 70.3 MB, 51 bytes each (60).
    - Typed city-village pairing over 3,900 villages and 2,110 donors: 974.9 MB against 73.4 MB without, 110 bytes
      per donor-village candidate of the matching (greedy or random). ``optimal`` matching (networkx) needs more per
      candidate; it was not measured, as it is slow long before memory runs out (over 10 minutes at 300,000).

    Peaks of different stages are added rather than overlapped, so the total is on the high side; resident memory
    adds the allocator's overhead on top of tracemalloc's count, which ``BASE_BYTES`` covers for small counties.
    """
    n_villages, households, residents = rural or _generated_rural(scenario) or (0, 0, 0)
    enterprises = scenario.enterprises.count + len(scenario.enterprises.listed)
    jobs = scenario.enterprises.count * scenario.enterprises.jobs.mean + sum(e.jobs for e in scenario.enterprises.listed)
    departments = sum(group.count for group in scenario.departments)
    cooperatives = sum(group.count for group in scenario.cooperatives)
    organisations = departments + scenario.communities.count + cooperatives
    parts = {
        "households": BYTES_PER_HOUSEHOLD * households,
        "rural residents": BYTES_PER_EXTRA_RESIDENT * max(residents - households, 0),
        "villages": (BYTES_PER_VILLAGE + BYTES_PER_VILLAGE_YEAR * (scenario.horizon_years + 1)) * n_villages,
        "enterprise jobs": int(BYTES_PER_ENTERPRISE * enterprises + BYTES_PER_JOB * jobs),
        "departments, communities and cooperatives": BYTES_PER_ORGANISATION * organisations,
        "urban sample": BYTES_PER_URBAN_SAMPLE * scenario.urban.sample_households,
        "pairing candidates": BYTES_PER_PAIRING_CANDIDATE
        * _pairing_candidates(scenario, n_villages, departments=departments, cooperatives=cooperatives, enterprises=enterprises),
    }
    return MemoryEstimate(BASE_BYTES + sum(parts.values()), parts, households)


def _generated_rural(scenario: Scenario) -> tuple[int, int, int] | None:
    """(villages, households, residents) of generated villages; None when they come from a CSV."""
    villages = scenario.region.villages
    return (villages.count, villages.households, villages.population) if villages is not None else None


def _pairing_candidates(scenario: Scenario, villages: int, *, departments: int, cooperatives: int, enterprises: int) -> int:
    """The largest donor-by-village score matrix any one policy builds (policies are set up one after another)."""
    largest = 0
    for policy in scenario.pairing.policies:
        pairs = min(policy.pairs or len(policy.explicit), villages)
        cells = {
            "city_village": (departments + scenario.communities.count) * (villages if policy.typed else pairs),
            "village_enterprise": (enterprises + cooperatives) * villages,
            "strong_weak": min(pairs * policy.donors_per_pair, villages) * pairs,
            "industry_chain": min(pairs, cooperatives) * villages,
            "cadre_dispatch": departments * pairs,
        }[policy.type]
        largest = max(largest, cells)
    return largest


CGROUP_MEMORY_LIMIT = Path("/sys/fs/cgroup/memory.max")
"""A container's or batch job's memory limit (cgroup v2): lower than the machine's memory where it is set."""


def machine_memory() -> int:
    """The memory this process may use, in bytes: the machine's (``os.sysconf``), or a container's lower limit; 0 if unknown."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        physical = 0
    try:
        limit = int(CGROUP_MEMORY_LIMIT.read_text().strip())  # 'max' (no limit) is not a number
    except (OSError, ValueError):
        return physical
    return min(physical, limit) if physical else limit


def format_bytes(size: float) -> str:
    """'3.2 TB', '24 GB', '512 MB': decimal units, two significant figures below 10."""
    unit, scale = next(((unit, scale) for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9)) if size >= scale), ("MB", 1e6))
    value = size / scale
    return f"{value:.2g} {unit}" if value < 10 else f"{value:.0f} {unit}"


def size_problem(scenario: Scenario, rural: tuple[int, int, int] | None = None) -> str | None:
    """Why the county cannot be run: more people than China, or arrays that would not fit in this machine's memory.

    Uses the validated counts only, so it answers before anything is allocated. ``rural`` is (villages, households,
    residents) of a village CSV; without it, generated villages give their own (a CSV scenario without it: no rural part).
    """
    rural = rural or _generated_rural(scenario)
    if rural is not None and rural[2] + scenario.urban.population > CHINA_POPULATION:
        together = rural[2] + scenario.urban.population
        return (
            f"rural ({rural[2]:,}) and urban ({scenario.urban.population:,}) residents together are {together:,}; "
            f"must be at most {CHINA_POPULATION:,} ({POPULATION_REASON})"
        )
    estimate = estimate_memory(scenario, rural)
    available = machine_memory()
    if available and estimate.total > available:
        biggest = sorted(estimate.parts.items(), key=lambda item: -item[1])
        drivers = [f"{name} {format_bytes(size)}" for name, size in biggest if size >= estimate.total / 10]
        return (
            f"needs about {format_bytes(estimate.total)} of memory for {estimate.households:,} households "
            f"({', '.join(drivers)}); this machine has {format_bytes(available)}: lower the counts or use a larger machine"
        )
    return None


# --------------------------------------------------------------------------- village CSV

VILLAGE_COLUMNS: dict[str, str] = {
    "name": "text",
    "town": "text",
    "population": "positive integer",
    "households": "positive integer",
    "income_per_capita": "positive number (yuan a year)",
    "collective_income": "non-negative number (yuan a year)",
    "leadership": "number in [0, 1]",
    "industry": "text",
    "x_km": "number",
    "y_km": "number",
}


class VillageRecord(Strict):
    """One row of a village CSV file (lax types: CSV values arrive as text)."""

    model_config = ConfigDict(strict=False)

    name: str
    town: str
    population: Population
    households: PositiveInt
    income_per_capita: PositiveFloat
    collective_income: NonNegativeFloat
    leadership: Share
    industry: str
    x_km: float
    y_km: float

    @model_validator(mode="after")
    def _households_fit(self) -> VillageRecord:
        if self.households > self.population:
            raise ValueError(f"households ({self.households}) cannot exceed population ({self.population})")
        return self


@lru_cache(maxsize=32)
def _read_village_csv_cached(path: str, mtime_ns: int) -> tuple[VillageRecord, ...]:
    del mtime_ns  # part of the cache key only: an edited file is read again
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError.single(path, "", f"cannot read as CSV: {reason}") from None
    missing = [column for column in VILLAGE_COLUMNS if column not in frame.columns]
    unknown = [column for column in frame.columns if column not in VILLAGE_COLUMNS]
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown column {column!r}{did_you_mean(column, missing or VILLAGE_COLUMNS)}" for column in unknown]
        expected = ", ".join(VILLAGE_COLUMNS)
        raise InputError.single(path, "columns", f"{'; '.join(parts)}; expected the columns {expected}")
    if frame.empty:
        raise InputError.single(path, "", "has a header but no villages")
    records, problems = [], []
    for row_number, row in enumerate(frame.to_dict("records"), start=2):
        try:
            records.append(VillageRecord.model_validate(row))
        except ValidationError as exc:
            for error in exc.errors():
                column = ".".join(str(part) for part in error["loc"])
                expected = VILLAGE_COLUMNS.get(column)
                message = _friendly_message(error)
                if expected and error["type"] not in ("value_error",):
                    message = f"must be a {expected}, got {error['input']!r}"
                problems.append(Problem(f"row {row_number}, {column}" if column else f"row {row_number}", message))
    if problems:
        raise InputError(path, problems[:10])
    names = [record.name for record in records]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError.single(path, "name", f"village names must be unique; repeated: {', '.join(duplicates[:5])}")
    return tuple(records)


def read_village_csv(path: str | Path) -> tuple[VillageRecord, ...]:
    """Read and validate a village CSV; raises :class:`InputError` naming the row and column."""
    path = Path(path)
    if path.is_dir():
        raise InputError.single(str(path), "", "is a folder; expected a village CSV file")
    if not path.is_file():
        raise InputError.single(str(path), "", "village file not found")
    return _read_village_csv_cached(str(path), path.stat().st_mtime_ns)


# --------------------------------------------------------------------------- loading


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML (and its village CSV, if any).

    Raises :class:`InputError` with one line per problem: ``file: field: message``.
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise InputError.single(source, "", "is a folder; expected a scenario YAML file")
    if not path.is_file():
        raise InputError.single(source, "", "scenario file not found")
    data = read_yaml_mapping(path)
    scenario = parse_scenario(data, source)
    if scenario.region.village_file is not None:
        csv_path = (path.parent / scenario.region.village_file).resolve()
        if csv_path.is_dir():
            raise InputError.single(source, "region.village_file", f"is a folder, expected a village CSV file: {csv_path}")
        if not csv_path.is_file():
            raise InputError.single(source, "region.village_file", f"file not found: {csv_path}")
        records = read_village_csv(csv_path)
        _check_village_towns(records, scenario, str(csv_path))
        region = scenario.region.model_copy(update={"village_file": str(csv_path)})
        scenario = scenario.model_copy(update={"region": region})
        problem = size_problem(scenario, _rural_counts(records))  # the schema could not check it: the CSV was not found yet
        if problem is not None:
            raise InputError.single(source, "", problem)
    return scenario.from_source(source)


def _rural_counts(records: Iterable[VillageRecord]) -> tuple[int, int, int]:
    """(villages, households, residents) of a village CSV."""
    records = list(records)
    return len(records), sum(r.households for r in records), sum(r.population for r in records)


def _check_village_towns(records: Iterable[VillageRecord], scenario: Scenario, source: str) -> None:
    towns = set(scenario.region.town_names)
    for row_number, record in enumerate(records, start=2):
        if record.town not in towns:
            raise InputError.single(
                source,
                f"row {row_number}, town",
                f"town {record.town!r} is not in region.towns{did_you_mean(record.town, towns)}",
            )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key given twice (PyYAML silently keeps the last).

    Merge keys (``<<: *defaults``, YAML's way to reuse a block) are valid: the merged keys are defaults that the
    mapping's own keys override, as in YAML; only a key written twice in the mapping itself is an error.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<': merged by SafeLoader.flatten_mapping below
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in the same mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError.single(source, "", "is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or exc.context or "syntax error"
        raise InputError.single(source, where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError.single(source, "", f"invalid YAML: {exc}") from None
    if data is None:
        raise InputError.single(source, "", "file is empty; expected a mapping with at least 'name', 'region' and 'urban'")
    if not isinstance(data, dict):
        raise InputError.single(source, "", f"top level must be a mapping of keys to values, got a {type(data).__name__}")
    return data


def parse_scenario(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a mapping (as read from YAML) into a :class:`Scenario`, including cross-references."""
    scenario = validate_model(Scenario, data, source)
    towns = set(scenario.region.town_names)
    for i, enterprise in enumerate(scenario.enterprises.listed):
        if enterprise.town is not None and enterprise.town not in towns:
            raise InputError.single(
                source,
                f"enterprises.listed[{i}].town",
                f"town {enterprise.town!r} of enterprise {enterprise.name!r} is not in region.towns"
                f"{did_you_mean(enterprise.town, towns)}",
            )
    return scenario


def validate_model[M: BaseModel](model_cls: type[M], data: Any, source: str) -> M:
    """Validate ``data`` as ``model_cls``, turning pydantic errors into an :class:`InputError`."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, _problems(exc, model_cls)) from None


def _problems(exc: ValidationError, model_cls: type[BaseModel]) -> list[Problem]:
    problems, seen = [], set()
    errors = exc.errors()
    # A misspelt key that the did-you-mean line names is not also reported as a missing key.
    meant = {
        loc[:-1] + (close,)
        for loc in (_clean_loc(error["loc"]) for error in errors if error["type"] == "extra_forbidden")
        if (close := close_match(str(loc[-1]), _fields_at(model_cls, loc[:-1]))) is not None
    }
    for error in errors:
        loc = _clean_loc(error["loc"])
        field_path = _format_loc(loc)
        if error["type"] == "missing" and loc in meant:
            continue
        if error["type"] == "extra_forbidden":
            options = _fields_at(model_cls, loc[:-1])
            message = f"unknown key{did_you_mean(str(loc[-1]), options)}"
            if options:
                message += f" (allowed: {', '.join(sorted(options))})"
        else:
            message = _friendly_message(error, _annotation_at(model_cls, loc))
        key = (field_path, message)
        if key not in seen:
            seen.add(key)
            problems.append(Problem(field_path, message))
    return problems


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch labels (e.g. 'int', 'list[str]', 'constrained-int') from an error location."""
    return tuple(part for part in loc if not (isinstance(part, str) and _is_branch_label(part)))


def _is_branch_label(part: str) -> bool:
    return part in {"int", "str", "float"} or part.startswith("constrained-") or part.endswith("]")


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


YAML_TEXT_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)[eE][-+]?\d+")
"""Numbers such as ``1e12`` or ``1.5e6`` that PyYAML (YAML 1.1) reads as text: it wants a dot and a signed exponent."""


def _yaml_number(text: str, whole: bool) -> str:
    """How to write ``text`` (e.g. '1e12') so YAML reads it as a number: digits for an integer field, else 1.0e+12."""
    number = float(text.replace("_", ""))
    if whole and number.is_integer():
        return f"{int(number)}"
    mantissa, exponent = f"{number:.15e}".split("e")
    mantissa = mantissa.rstrip("0")
    return f"{mantissa}0e{int(exponent):+d}" if mantissa.endswith(".") else f"{mantissa}e{int(exponent):+d}"


def _friendly_message(error: dict[str, Any], annotation: Any = None) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "missing":
        return "required field is missing"
    if (
        kind in ("int_type", "float_type", "int_parsing", "float_parsing")
        and isinstance(value, str)
        and YAML_TEXT_NUMBER.fullmatch(value)
    ):
        whole = kind.startswith("int")
        return f"{value!r} is read by YAML as text, not a number; write {_yaml_number(value, whole)} for a number"
    if kind == "model_type":
        model = _model_of(annotation)
        expected = model.expected_mapping() if model is not None and issubclass(model, Strict) else "a mapping of keys to values"
        return f"must be {expected}, got {value!r}"
    if kind == "greater_than" and ctx.get("gt") == 0:
        noun = "integer" if annotation is int else "number"
        return f"must be a positive {noun}, got {value!r}"
    message = error["msg"]
    for prefix, replacement in (("Input should be ", "must be "), ("Value error, ", ""), ("Assertion failed, ", "")):
        if message.startswith(prefix):
            message = replacement + message[len(prefix) :]
    if message.startswith("must be ") and kind != "value_error" and ", got " not in message:
        message += f", got {value!r}"
    if kind == "literal_error" and isinstance(value, str):
        message += did_you_mean(value, [str(option) for option in get_args(annotation)])
    return message


def _annotation_at(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The type annotation of the field at ``loc`` (list indices skipped, mapping keys to their values' type), or None."""
    current: Any = model_cls
    for part in loc:
        if isinstance(part, int):
            continue
        mapping = next((arg for arg in (current, *get_args(current)) if get_origin(arg) is dict), None)
        if mapping is not None:  # e.g. arms: dict[str, Arm]; the key is a name, not a field
            current = get_args(mapping)[1]
            continue
        model = _model_of(current)
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        current = field.annotation
    return current


def _fields_at(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> set[str]:
    """The keys allowed at ``loc`` inside ``model_cls`` (for 'did you mean' hints)."""
    model = _model_of(_annotation_at(model_cls, loc))
    return set(model.model_fields) if model else set()


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``X | None`` or ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None or get_args(annotation):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "small.yaml"
"""The built-in small teaching county, used when no scenario is given."""


def resolve_scenario(scenario: Scenario | str | Path | None, overrides: dict[str, Any] | None = None) -> Scenario:
    """A validated scenario from an object, a YAML path, or the built-in small default.

    ``overrides`` maps dotted field paths to new values, e.g.
    ``{"economy.remittance_share": 0.6, "horizon_years": 2}``; the result is
    validated again, so an override can never smuggle in a bad value.
    """
    if scenario is None:
        scenario = load_scenario(DEFAULT_SCENARIO)
    elif not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if not overrides:
        return scenario
    data = scenario.model_dump()
    source = f"overrides {sorted(overrides)}"
    for dotted, value in overrides.items():
        value = value.item() if isinstance(value, np.generic) else value  # numpy scalars from sweeps
        _set_path(data, dotted, value, source)
    return parse_scenario(data, source=source)


def _set_path(data: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    """Set ``a.b.0.c`` inside nested dicts and lists (numbers index lists)."""
    keys = dotted.split(".")
    target: Any = data
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(target, list):
            if not key.isdigit() or int(key) >= len(target):
                raise InputError.single(source, dotted, f"{key!r} is not an index of a list of {len(target)}")
            key = int(key)
        elif not isinstance(target, dict):
            raise InputError.single(source, dotted, f"cannot go inside a {type(target).__name__} value at {key!r}")
        if last:
            target[key] = value
        else:
            target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]
