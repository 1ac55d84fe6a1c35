"""Urban households: a weighted sample whose incomes follow a wage trend plus a yearly common shock.

The urban side is not paired, so a few thousand representative households
(each standing for ``population / household_size / sample`` real ones) give its
mean and its share of inequality exactly enough at a tiny cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.households import monthly_factor
from sim.scenario import Urban


@dataclass
class UrbanHouseholds:
    """Sampled urban households; incomes are yuan a year per household."""

    size: np.ndarray  # residents per sampled household
    weight: np.ndarray  # real households each sampled one stands for
    base_income: np.ndarray  # yearly household income at the start
    level_history: np.ndarray  # wage level (start = 1) of the last 12 months
    level: float = 1.0
    growth_this_year: float = 0.0

    @classmethod
    def start(cls, spec: Urban, rng: np.random.Generator) -> UrbanHouseholds:
        """Draw the sample; wages are back-cast a year at the trend so the start year's mean is the spec's."""
        n = spec.sample_households
        size = 1.0 + rng.poisson(spec.household_size - 1.0, size=n)
        sigma = math.sqrt(math.log1p(spec.income_cv**2))
        per_capita = rng.lognormal(-(sigma**2) / 2, sigma, size=n)
        per_capita *= spec.income_per_capita / np.average(per_capita, weights=size)
        weight = np.full(n, spec.population / size.sum())
        months_back = np.arange(12)
        history = np.empty(12)
        history[(0 - months_back) % 12] = monthly_factor(spec.wage_growth) ** -months_back.astype(float)
        level = 1.0 / history.mean()
        return cls(size=size, weight=weight, base_income=per_capita * size, level_history=history * level, level=level)

    def advance(self, step: int, spec: Urban, rng: np.random.Generator) -> None:
        """Grow wages by this year's rate (trend + a common shock drawn at the start of each year).

        ``spec`` is the urban block in force: a trend period swaps in its own ``wage_growth`` (``PairingModel``).
        """
        if step % 12 == 1:
            self.growth_this_year = spec.wage_growth + rng.normal(0.0, spec.wage_growth_sd)
        self.level *= monthly_factor(max(self.growth_this_year, -0.5))
        self.level_history[step % 12] = self.level

    @property
    def annual_income(self) -> np.ndarray:
        """Trailing 12-month household income."""
        return self.base_income * self.level_history.mean()

    @property
    def people(self) -> np.ndarray:
        """Residents each sampled household represents (its weight in person-weighted metrics)."""
        return self.size * self.weight
