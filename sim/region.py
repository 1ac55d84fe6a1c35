"""The county's map: towns and villages, read from a CSV or drawn from summary statistics.

The result is one pandas DataFrame with a row per village, whatever the source,
so everything downstream (households, agents, pairing) reads one format. A
province- or prefecture-scale region (``region.counties``) draws each county's
villages from its own statistics and lays the counties out side by side as
square blocks on one map, so distances (hiring radius, proximity in matching)
mean the same inside a county as in a single-county scenario.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.scenario import GeneratedVillages, Region, Scenario, read_village_csv

VILLAGE_FRAME_COLUMNS = [
    "name",
    "town",
    "town_index",
    "county",
    "population",
    "households",
    "income_per_capita",
    "collective_income",
    "leadership",
    "industry",
    "x_km",
    "y_km",
]


def town_centres(n_towns: int, area_km2: float) -> np.ndarray:
    """Town seats on a regular grid over a square county, shape (n_towns, 2) in km."""
    side = math.sqrt(area_km2)
    columns = math.ceil(math.sqrt(n_towns))
    rows = math.ceil(n_towns / columns)
    cells = [((c + 0.5) * side / columns, (r + 0.5) * side / rows) for r in range(rows) for c in range(columns)]
    return np.array(cells[:n_towns], dtype=float)


def county_origins(region: Region) -> np.ndarray:
    """Each county's south-west corner on the map, shape (counties, 2) in km: square blocks in a grid, in listed order.

    Every grid cell is as wide as the largest county, so no two counties overlap and a county's towns keep the
    spacing they would have alone. A single-county region is one block at the origin.
    """
    areas = [county.area_km2 for county in region.counties] if region.counties is not None else [region.area_km2]
    cell = math.sqrt(max(areas))
    columns = math.ceil(math.sqrt(len(areas)))
    return np.array([((k % columns) * cell, (k // columns) * cell) for k in range(len(areas))], dtype=float)


def region_town_centres(region: Region) -> np.ndarray:
    """Every town's seat, in :attr:`Region.town_names` order, shape (towns, 2) in km; each county on its own block."""
    if region.counties is None:
        return town_centres(len(region.town_names), region.area_km2)
    blocks = [
        town_centres(len(county.town_names), county.area_km2) + origin
        for county, origin in zip(region.counties, county_origins(region), strict=True)
    ]
    return np.concatenate(blocks)


def town_spread_km(region: Region) -> np.ndarray:
    """Each town's typical radius, km: the side of its share of its county's area (villages scatter by a third of it)."""
    if region.counties is None:
        return np.full(len(region.town_names), math.sqrt(region.area_km2 / len(region.town_names)))
    return np.concatenate(
        [np.full(len(county.town_names), math.sqrt(county.area_km2 / len(county.town_names))) for county in region.counties]
    )


def build_villages(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """One row per village with the columns in :data:`VILLAGE_FRAME_COLUMNS`."""
    region = scenario.region
    towns = region.town_names
    if region.counties is not None:
        frame = _generate_counties(region, rng)
    else:
        if region.village_file is not None:
            frame = pd.DataFrame([record.model_dump() for record in read_village_csv(region.village_file)])
            frame["town_index"] = frame["town"].map({name: i for i, name in enumerate(towns)}).astype(int)
        else:
            frame = _generate(region.villages, towns, region.area_km2, rng)
        frame["county"] = region.name  # one county: the region
    return frame[VILLAGE_FRAME_COLUMNS].reset_index(drop=True)


def _generate_counties(region: Region, rng: np.random.Generator) -> pd.DataFrame:
    """Each county's villages from its own statistics, on its own block of the map, one after another."""
    frames, first_town = [], 0
    for county, origin in zip(region.counties, county_origins(region), strict=True):
        frame = _generate(county.villages, county.town_names, county.area_km2, rng)
        frame["x_km"] += origin[0]
        frame["y_km"] += origin[1]
        frame["town_index"] += first_town
        frame["county"] = county.name
        frames.append(frame)
        first_town += len(county.town_names)
    return pd.concat(frames, ignore_index=True)


def _generate(spec: GeneratedVillages, towns: list[str], area_km2: float, rng: np.random.Generator) -> pd.DataFrame:
    n = spec.count
    # Every town gets one village when it can; the rest are spread at random.
    guaranteed = np.arange(min(len(towns), n))
    town_index = np.sort(np.concatenate([guaranteed, rng.integers(0, len(towns), size=n - len(guaranteed))]))

    population = _split_total(spec.population, rng.lognormal(0.0, 0.4, size=n), minimum=1)
    # Split households by each village's room for more than one (population - 1), so none gets
    # more households than residents and the total is exact.
    households = _split_total(spec.households, np.maximum(population - 1, 0).astype(float) + 1e-12, minimum=1)

    income = rng.lognormal(spec.income_per_capita.mu, spec.income_per_capita.sigma, size=n)
    income *= spec.income_per_capita.mean / np.average(income, weights=population)  # hit the county figure exactly
    collective = rng.lognormal(spec.collective_income.mu, spec.collective_income.sigma, size=n)
    collective[rng.random(n) < spec.collective_income.zero_share] = 0.0
    # Richer villages tend to have richer collectives: pair the two draws by rank.
    collective = np.sort(collective)[np.argsort(np.argsort(income + rng.normal(0, income.std() + 1e-9, n)))]

    a, b = spec.leadership.alpha_beta
    leadership = np.full(n, spec.leadership.mean) if math.isinf(a) else rng.beta(a, b, size=n)

    industries = list(spec.industries)
    industry = rng.choice(industries, size=n, p=np.array([spec.industries[k] for k in industries]))

    centres = town_centres(len(towns), area_km2)
    spread = math.sqrt(area_km2 / len(towns)) / 3
    xy = centres[town_index] + rng.normal(0.0, spread, size=(n, 2))

    return pd.DataFrame(
        {
            "name": [f"{towns[t]} village {i + 1}" for i, t in enumerate(town_index)],
            "town": [towns[t] for t in town_index],
            "town_index": town_index,
            "population": population,
            "households": households,
            "income_per_capita": income,
            "collective_income": collective,
            "leadership": leadership,
            "industry": industry,
            "x_km": xy[:, 0],
            "y_km": xy[:, 1],
        }
    )


def _split_total(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Integers proportional to ``weights``, each at least ``minimum``, summing exactly to ``total``."""
    n = len(weights)
    spare = total - minimum * n
    if spare < 0:
        raise ValueError(f"cannot split {total} into {n} parts of at least {minimum}")
    raw = spare * weights / weights.sum()
    parts = np.floor(raw).astype(np.int64)
    remainder = spare - parts.sum()
    parts[np.argsort(raw - parts)[::-1][:remainder]] += 1
    return parts + minimum
