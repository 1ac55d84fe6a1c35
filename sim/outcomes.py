"""What a run reports: model-level outcomes each month and a village table each year.

What each outcome means, its label and unit are in :mod:`sim.outcome_registry`;
this module computes them.

Functions here only read the state they are given and call :mod:`sim.metrics`;
they never change anything, so collecting data cannot alter a run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim import metrics
from sim.economy import VillageState
from sim.households import HouseholdArrays
from sim.outcome_registry import INCOME_SOURCES, LORENZ_KEYS, LORENZ_SHARES, yearly_outcomes
from sim.scenario import Classification
from sim.urban import UrbanHouseholds


def model_outcomes(
    h: HouseholdArrays,
    urban: UrbanHouseholds,
    villages: VillageState,
    thresholds: Classification,
    *,
    year: int,
    month_of_year: int,
    poverty_line: float,
    pairing: Mapping[str, float],
    previous: Mapping[str, float],
    monthly_inequality: bool = False,
) -> dict[str, float]:
    """All model-level outcomes for the current month.

    ``pairing`` holds the pairing programme's outcomes of the month; ``previous``
    last month's outcomes, from which the outcomes that change only at yearly
    reporting points (:func:`sim.outcome_registry.yearly_outcomes`) are carried.
    """
    rural_pc = h.annual_per_capita
    urban_pc = urban.annual_income / urban.size
    rural_mean = metrics.weighted_mean(rural_pc, h.size, validate=False)  # not re-checked: the means show any NaN or inf
    urban_mean = metrics.weighted_mean(urban_pc, urban.people, validate=False)
    if not (math.isfinite(rural_mean) and math.isfinite(urban_mean)):
        raise FloatingPointError(f"an income became {rural_mean if not math.isfinite(rural_mean) else urban_mean}: a model error")
    month_income = {source: float(h.income[source].sum()) for source in INCOME_SOURCES}
    total_income = sum(month_income.values()) or 1.0
    workers = float(h.workers.sum()) or 1.0
    yearly_point = month_of_year == 0
    if yearly_point or monthly_inequality:
        inequality = _inequality(rural_pc, h.size, urban_pc, urban.people, rural_mean, urban_mean, lorenz=yearly_point)
    else:
        inequality = {}
    carried = {} if yearly_point else {key: previous[key] for key in yearly_outcomes(monthly_inequality)}
    return {
        "year": year,
        "month": month_of_year,
        "rural_income_pc": rural_mean,
        "urban_income_pc": urban_mean,
        "urban_rural_ratio": urban_mean / rural_mean,
        "income_gap": urban_mean - rural_mean,
        **inequality,
        **carried,  # from the last yearly point
        "poverty_headcount": metrics.poverty_headcount(rural_pc, poverty_line, h.size, validate=False),
        "weak_villages": int(villages.weak(thresholds).sum()),
        "hollow_villages": int(villages.hollow(thresholds).sum()),
        "migrant_share": float(h.migrants.sum()) / workers,
        "local_jobs": int(h.local_jobs.sum()),
        "mean_leadership": float(villages.leadership.mean()),
        "mean_collective_income": float(villages.collective_annual.mean()),
        **{f"{source}_income_share": amount / total_income for source, amount in month_income.items()},
        **pairing,
    }


def _inequality(
    rural: np.ndarray,
    rural_people: np.ndarray,
    urban: np.ndarray,
    urban_people: np.ndarray,
    rural_mean: float,
    urban_mean: float,
    lorenz: bool,
) -> dict[str, float]:
    """Gini, median and Theil outcomes (and, if ``lorenz``, the Lorenz points), sorting the rural incomes once a month.

    The small urban sample is sorted separately; the pooled Gini and Lorenz
    points come from both sorted groups without merging them
    (``metrics.gini_of_two_groups_sorted``, ``metrics.lorenz_points_of_two_groups_sorted``).
    """
    order = np.argsort(rural)
    rural_sorted, rural_weights = rural[order], rural_people[order]
    urban_order = np.argsort(urban)
    urban_sorted, urban_weights = urban[urban_order], urban_people[urban_order]
    gini_rural, gini_all = metrics.gini_of_two_groups_sorted(rural_sorted, rural_weights, urban_sorted, urban_weights)
    lorenz_points = {}
    if lorenz:
        points = metrics.lorenz_points_of_two_groups_sorted(
            rural_sorted, rural_weights, urban_sorted, urban_weights, LORENZ_SHARES
        )
        lorenz_points = dict(zip(LORENZ_KEYS, points.tolist(), strict=True))
    theil = metrics.combine_theil_t(
        [rural_mean, urban_mean],
        [rural_people.sum(), urban_people.sum()],
        [metrics.theil_t(rural, rural_people), metrics.theil_t(urban, urban_people)],
    )
    rural_median = metrics.weighted_median_sorted(rural_sorted, rural_weights)
    return {
        "rural_median_income_pc": rural_median,
        "rural_median_to_mean": rural_median / rural_mean,
        "rural_quintile_ratio": metrics.quintile_ratio_sorted(rural_sorted, rural_weights),
        "gini": gini_all,
        "gini_rural": gini_rural,
        "theil_t": theil.total,
        "theil_t_between": theil.between,
        "theil_t_within": theil.within,
        "theil_between_share": theil.between_share,
        **lorenz_points,
    }


def village_table(
    h: HouseholdArrays, state: VillageState, frame: pd.DataFrame, thresholds: Classification, year: int, paired: np.ndarray
) -> pd.DataFrame:
    """One row per village for the current month (collected at the start and every 12 months); ``paired``: ever paired."""
    people = h.village_sum(h.size)
    workers = np.maximum(h.village_sum(h.workers.astype(float)), 1.0)
    return pd.DataFrame(
        {
            "year": year,
            "village": frame["name"].to_numpy(),
            "town": frame["town"].to_numpy(),
            "industry": frame["industry"].to_numpy(),
            "population": people,
            "income_pc": h.village_sum(h.annual) / people,
            "collective_income": state.collective_annual,
            "collective_capital": state.capital,
            "collective_debt": state.debt,
            "leadership": state.leadership,
            "problems": state.problems,
            "migrant_share": h.village_sum(h.migrants.astype(float)) / workers,
            "local_jobs": h.village_sum(h.local_jobs.astype(float)),
            "weak": state.weak(thresholds),
            "hollow": state.hollow(thresholds),
            "paired": paired.copy(),
        }
    )
