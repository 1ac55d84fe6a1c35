"""What a run reports: model-level outcomes each month and a village table each year.

Functions here only read the state they are given and call :mod:`sim.metrics`;
they never change anything, so collecting data cannot alter a run.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim import metrics
from sim.economy import VillageState
from sim.households import INCOME_SOURCES, HouseholdArrays
from sim.scenario import Classification
from sim.urban import UrbanHouseholds

PAIRING_OUTCOMES: dict[str, str] = {
    "funds_sent": "pairing funds sent this month, yuan",
    "funds_lost": "pairing funds lost to leakage this month, yuan",
    "funds_captured": "pairing funds captured by better-off households this month, yuan",
    "trainees": "villagers trained this month",
    "jobs_created": "villagers hired by paired enterprises this month",
    "cadre_months": "months of seconded cadres' presence this month",
    "technology": "techniques introduced this month",
    "market_savings": "yuan saved by households through pairs' market access this month",
    "problems_solved_by_pairs": "village problems solved by pairs this month",
    "donor_cost": "donors' cost this month (funds, training, cadres, lost own output), yuan",
    "active_pairs": "active donor-village links",
    "ended_pairs": "links ended for poor performance, cumulative",
    "graduated_pairs": "links ended after the village left weak status and support ran out, cumulative",
    "pairs_rated_good": "active links whose last rating was good",
    "pairs_rated_average": "active links whose last rating was average",
    "pairs_rated_poor": "active links whose last rating was poor",
    "rural_income_pc_paired": "mean per-capita income of villages ever paired, yuan a year (NaN if none)",
    "rural_income_pc_unpaired": "mean per-capita income of villages never paired, yuan a year (NaN if none)",
}
"""Monthly pairing outcomes (all zero when there is no pairing), as the pairing programme reports them."""

LORENZ_SHARES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Population shares at which the Lorenz curve of all residents is reported (deciles)."""

LORENZ_OUTCOMES: dict[str, str] = {
    f"lorenz_p{round(share * 100)}": f"share of all residents' income held by the poorest {share:.0%} of residents "
    "(urban and rural, person-weighted), at the latest yearly reporting point"
    for share in LORENZ_SHARES
}
"""Lorenz curve points, computed at yearly reporting points only (their only use) and carried between them."""

MODEL_OUTCOMES: dict[str, str] = {
    "year": "year whose incomes the trailing 12-month figures describe (the start year at step 0)",
    "month": "months into that year (0 at each yearly reporting point)",
    "rural_income_pc": "mean rural per-capita income over the last 12 months, yuan a year",
    "rural_median_income_pc": "median rural per-capita income (person-weighted), yuan a year",
    "urban_income_pc": "mean urban per-capita income over the last 12 months, yuan a year",
    "urban_rural_ratio": "urban over rural mean per-capita income",
    "income_gap": "urban minus rural mean per-capita income, yuan a year",
    "gini": "Gini of per-capita income over all residents, urban and rural",
    "gini_rural": "Gini of per-capita income among rural residents",
    "theil_t": "Theil T of per-capita income over all residents",
    "theil_t_between": "part of Theil T between the urban and rural means",
    "theil_t_within": "part of Theil T within the urban and rural populations",
    "theil_between_share": "share of Theil T that is the urban/rural gap",
    **LORENZ_OUTCOMES,
    "poverty_headcount": "share of rural residents below the poverty line",
    "weak_villages": "villages whose 12-month collective income is below the weak threshold",
    "hollow_villages": "villages whose 12-month collective income is below the hollow threshold",
    "migrant_share": "share of rural able workers working away",
    "local_jobs": "rural workers employed by local enterprises",
    "mean_leadership": "mean village leadership quality (0-1)",
    "mean_collective_income": "mean 12-month village collective income, yuan",
    **{f"{source}_income_share": f"share of this month's rural income from {source}" for source in INCOME_SOURCES},
    **PAIRING_OUTCOMES,
}
"""Every model-level outcome, with its meaning and unit (also the columns of the monthly table)."""


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
) -> dict[str, float]:
    """All model-level outcomes for the current month.

    ``pairing`` holds the pairing programme's outcomes of the month; ``previous``
    last month's outcomes, from which the Lorenz points are carried between
    yearly reporting points.
    """
    rural_pc = h.annual_per_capita
    urban_pc = urban.annual_income / urban.size
    rural_mean = metrics.weighted_mean(rural_pc, h.size)
    urban_mean = metrics.weighted_mean(urban_pc, urban.people)
    month_income = {source: float(h.income[source].sum()) for source in INCOME_SOURCES}
    total_income = sum(month_income.values()) or 1.0
    workers = float(h.workers.sum()) or 1.0
    yearly_point = month_of_year == 0
    return {
        "year": year,
        "month": month_of_year,
        "rural_income_pc": rural_mean,
        "urban_income_pc": urban_mean,
        "urban_rural_ratio": urban_mean / rural_mean,
        "income_gap": urban_mean - rural_mean,
        **_inequality(rural_pc, h.size, urban_pc, urban.people, rural_mean, urban_mean, lorenz=yearly_point),
        **({} if yearly_point else {key: previous[key] for key in LORENZ_OUTCOMES}),  # carried from the last yearly point
        "poverty_headcount": metrics.poverty_headcount(rural_pc, poverty_line, h.size),
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
        lorenz_points = dict(zip(LORENZ_OUTCOMES, points.tolist(), strict=True))
    theil = metrics.combine_theil_t(
        [rural_mean, urban_mean],
        [rural_people.sum(), urban_people.sum()],
        [metrics.theil_t(rural, rural_people), metrics.theil_t(urban, urban_people)],
    )
    return {
        "rural_median_income_pc": metrics.weighted_median_sorted(rural_sorted, rural_weights),
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
