"""Rural households as a struct of arrays: one row per household, sorted by village.

A county has ~300,000 households; a Python object for each would make a 10-year
monthly run take minutes. Here every household attribute is a numpy array and
each village owns a contiguous slice ``start[v]:stop[v]`` of the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.outcome_registry import INCOME_SOURCES  # the parts of household income, in the order the economy computes them
from sim.scenario import Households as HouseholdSpec

if TYPE_CHECKING:
    import pandas as pd  # annotations only: validating a scenario imports this module, and pandas is slow to import


@dataclass
class HouseholdArrays:
    """Every rural household's state. Incomes are yuan per month for the whole household."""

    village: np.ndarray  # int32, village row of each household (sorted)
    size: np.ndarray  # float64, residents (people) in the household
    workers: np.ndarray  # int32, members able to work
    migrants: np.ndarray  # int32, able members working away
    local_jobs: np.ndarray  # int32, able members employed by a local enterprise
    skill: np.ndarray  # float64, productivity multiplier (mean 1)
    skill_base: np.ndarray  # float64, skill without training: what skill decays back to
    land: np.ndarray  # float64, contracted land (mu)
    dibao_covered: np.ndarray  # bool, would receive 低保 if eligible
    start: np.ndarray  # int64, first row of each village
    stop: np.ndarray  # int64, one past the last row of each village
    income: dict[str, np.ndarray] = field(default_factory=dict)  # this month's income by source
    history: np.ndarray = field(default=None)  # (12, n) total income of the last 12 months
    annual: np.ndarray = field(default=None)  # trailing 12-month total income
    business: np.ndarray = field(default=None)  # float64, multiplier of the household's own operating (farm) income
    dibao_topup: np.ndarray = field(default=None)  # float64, this month's 低保 top-up (yuan, part of ``income["transfer"]``)
    _land_powers: dict[float, np.ndarray] = field(default_factory=dict, repr=False)  # land ** exponent, by exponent

    def __post_init__(self) -> None:
        if self.business is None:  # no household business: every household farms at its skill alone
            self.business = np.ones(len(self.village))
        if self.dibao_topup is None:  # no month computed yet: nobody has been topped up
            self.dibao_topup = np.zeros(len(self.village))

    def __len__(self) -> int:
        return len(self.village)

    @property
    def farm_workers(self) -> np.ndarray:
        """Able members who are neither away nor in a local job: they farm."""
        return np.maximum(self.workers - self.migrants - self.local_jobs, 0)

    @property
    def annual_per_capita(self) -> np.ndarray:
        return self.annual / self.size

    def land_to_the(self, exponent: float) -> np.ndarray:
        """``land ** exponent``, worked out once per exponent: land never changes, and farm output needs it every month."""
        if exponent not in self._land_powers:
            cached = power(self.land, exponent)
            if cached is self.land:  # exponent 1: the cache must not alias land
                cached = cached.copy()
            cached.flags.writeable = False
            self._land_powers[exponent] = cached
        return self._land_powers[exponent]

    def month_total(self) -> np.ndarray:
        """This month's total income of each household: its sources added in :data:`INCOME_SOURCES` order."""
        first, *rest = (self.income[source] for source in INCOME_SOURCES)
        total = first + 0.0  # a new array: -0.0 becomes 0.0 exactly as when the sum started from 0
        for part in rest:
            total += part
        return total

    def record_month(self, step: int) -> None:
        """Add step ``step``'s total income to the trailing 12-month window (replacing 12 steps ago)."""
        total = self.month_total()
        last_year = self.history[step % 12]  # the month 12 steps ago, replaced in place
        np.subtract(total, last_year, out=last_year)
        self.annual += last_year
        last_year[:] = total

    def start_history(self, past_growth: float) -> None:
        """Back-cast the 12 months up to the start, incomes having grown by ``past_growth`` a year.

        Step 0 is the last month of the start year; with this history the
        trailing 12-month income at step 0 is the start year's income, and the
        first simulated year grows at the trend rather than at half of it.
        """
        total = self.month_total()
        months_back = np.arange(12)  # 0 = this month, 11 = eleven months ago
        factors = monthly_factor(past_growth) ** -months_back.astype(float)
        slots = (0 - months_back) % 12  # step 0 is month 0 of the ring
        self.history = np.empty((12, len(total)))
        self.history[slots] = factors[:, None] * total[None, :]
        self.annual = self.history.sum(axis=0)

    def spread(self, village_values: np.ndarray) -> np.ndarray:
        """Give each household its village's value (rows are contiguous: ``np.repeat``, ~8x a fancy index)."""
        return np.repeat(village_values, self.stop - self.start)

    def village_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum a per-household array within each village (rows are contiguous, so one ``reduceat``)."""
        return np.add.reduceat(np.asarray(values, dtype=float), self.start)


def power(values: np.ndarray, exponent: float, out: np.ndarray | None = None) -> np.ndarray:
    """``values ** exponent``, with the common exponents done by cheaper ufuncs (this runs every month).

    ``out`` (which may be ``values``) receives the result, as for a numpy ufunc.
    """
    if exponent == 0.5:
        return np.sqrt(values, out=out)
    if exponent == 1.0 and out is None:
        return values
    if exponent == 0.0 and out is None:
        return np.ones_like(values)
    return np.power(values, exponent, out=out)


def monthly_factor(rate_per_year: float) -> float:
    """The monthly growth factor that compounds to ``1 + rate_per_year`` over a year."""
    return math.exp(math.log1p(rate_per_year) / 12.0)


def trailing_year_factor(past_growth: float) -> float:
    """Sum of the last 12 months' incomes relative to this month's, had incomes grown at ``past_growth``."""
    return float(sum(monthly_factor(past_growth) ** -k for k in range(12)))


def build_households(
    villages: pd.DataFrame, spec: HouseholdSpec, dibao_coverage: float, rng: np.random.Generator
) -> HouseholdArrays:
    """Draw households for every village: sizes that add up to the village population, workers, skills, land.

    ``dibao_coverage`` is the share of households that would actually receive 低保
    if their income fell below the line (take-up is never complete).
    """
    counts = villages["households"].to_numpy(np.int64)
    population = villages["population"].to_numpy(np.int64)
    village = np.repeat(np.arange(len(villages), dtype=np.int32), counts)
    stop = np.cumsum(counts)
    start = stop - counts

    # One resident per household, then place the remaining residents at random within their village.
    extra = population - counts
    person_village = np.repeat(np.arange(len(villages)), extra)
    person_row = start[person_village] + (rng.random(len(person_village)) * counts[person_village]).astype(np.int64)
    size = 1.0 + np.bincount(person_row, minlength=len(village)).astype(float)

    workers = rng.binomial(size.astype(np.int64), spec.able_worker_share).astype(np.int32)
    migrants = rng.binomial(workers, spec.initial_migrant_share).astype(np.int32)
    sigma = math.sqrt(math.log1p(spec.income_cv**2))
    skill = rng.lognormal(-(sigma**2) / 2, sigma, size=len(village))
    business = business_multipliers(len(village), spec, rng)

    return HouseholdArrays(
        village=village,
        size=size,
        workers=workers,
        migrants=migrants,
        local_jobs=np.zeros(len(village), dtype=np.int32),
        skill=skill,
        skill_base=skill.copy(),
        land=spec.land_per_capita_mu * size,
        dibao_covered=rng.random(len(village)) < dibao_coverage,
        start=start,
        stop=stop,
        business=business,
    )


def business_multipliers(n: int, spec: HouseholdSpec, rng: np.random.Generator) -> np.ndarray:
    """How much more each household's own operation earns than farming at its skill alone: the upper tail.

    A ``business_share`` of households run a household business (shop, transport, processing, large-scale
    farming); their operating income is multiplied by a Pareto draw with minimum 1 and tail index
    ``business_tail_index``, the rest by 1. One log-normal skill spread alone gives too compressed a
    distribution (rural median/mean 0.92-0.95, top/bottom quintile ratio about 5, where the data show
    about 0.89 and 7-8); docs/ODD.md 7.9 gives the fit.
    """
    sigma = math.sqrt(math.log1p(spec.operating_cv**2))
    multiplier = rng.lognormal(-(sigma**2) / 2, sigma, size=n)
    owners = np.flatnonzero(rng.random(n) < spec.business_share)
    multiplier[owners] *= (1.0 - rng.random(owners.size)) ** (-1.0 / spec.business_tail_index)
    return multiplier
