"""Write scenarios/xunwu_2015_villages.csv: Xunwu county's 184 villages, 65 of them poor, from the documents' totals.

[China 2022] (the Xunwu report) gives the county's totals but no village list: 184 villages (村(居)), 65 poor villages
(贫困村), 15 towns and townships, 2,351 km2, 28,819 poor people at an incidence of 10.5 %. A generated county
(``region.villages``) would make the number of weak villages and the villages the first secretaries go to differ from
seed to seed, so the file lists the villages once, drawn here with a fixed seed from those totals and the assumptions
below (scenarios/xunwu_2015.yaml's header repeats them):

- the rural population, 274,467 = 28,819 / 10.5 %, is split over villages like a generated county (log-normal sizes);
  households at 3.8 people each;
- village incomes are log-normal (cv 0.35, as zunyi_2009.yaml's mountain county) with the population-weighted mean
  ``MEAN_INCOME``, calibrated so the model's starting poverty headcount is the document's 10.5 %;
- the 65 poor villages are the 65 poorest by income; they have no collective income (so they are the weak, 薄弱, and
  hollow, 空壳, villages at the start) and the county's weakest leadership (so ``cadre_dispatch``, which posts first
  secretaries to the weakest-led villages, posts them to the poor villages as Xunwu did); the other villages' collective
  incomes are log-normal above the weak threshold;
- villages are spread over the 15 towns as evenly as they go, and placed around their town's seat as a generated
  county places them.

Run ``python scripts/make_xunwu_villages.py`` from the repository root to write the file again; the test
``tests/test_xunwu.py`` checks the shipped file is what this script writes.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from sim.region import town_centres

OUT = Path(__file__).resolve().parent.parent / "scenarios" / "xunwu_2015_villages.csv"
SEED = 2015
TOWNS = [  # the seat first; the 7 towns (镇) and 8 townships (乡) of the county
    "长宁镇", "晨光镇", "留车镇", "南桥镇", "吉潭镇", "澄江镇", "桂竹帽镇", "文峰乡",
    "三标乡", "菖蒲乡", "龙廷乡", "丹溪乡", "项山乡", "水源乡", "罗珊乡",
]  # fmt: skip
AREA_KM2 = 2351  # [China 2022] "全县总面积2351平方公里"
VILLAGES = 184  # [China 2022] "184个村(居)"
POOR_VILLAGES = 65  # [China 2022] "贫困村65个"
RURAL_POPULATION = 274_467  # derived: 28,819 poor people / 10.5 % ([China 2022] "贫困人口28819人,贫困发生率为10.5%")
PEOPLE_PER_HOUSEHOLD = 3.8  # assumption: rural Jiangxi households
MEAN_INCOME = 10_700  # yuan a year; calibrated: the model's starting poverty headcount is 10.5 % (see the YAML header)
INCOME_CV = 0.35  # assumption, as zunyi_2009.yaml's mountain villages
WEAK_THRESHOLD = 50_000  # the schema's default weak (薄弱村) threshold, yuan a year of collective income
COLLECTIVE_MEAN, COLLECTIVE_CV = 120_000, 0.5  # assumption: the non-poor villages' collective income
LEADERSHIP_MEAN, LEADERSHIP_SD = 0.5, 0.15  # assumption: a little below the schema's 0.55 (poor mountain county)
INDUSTRIES = {"citrus": 0.4, "grain": 0.35, "fruit": 0.15, "vegetables": 0.1}  # assumption (YAML header)


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights``, each at least 1, summing exactly to ``total`` (largest remainders)."""
    raw = (total - len(weights)) * weights / weights.sum()
    parts = np.floor(raw).astype(np.int64)
    parts[np.argsort(raw - parts)[::-1][: total - len(weights) - parts.sum()]] += 1
    return parts + 1


def _lognormal(rng: np.random.Generator, mean: float, cv: float, size: int) -> np.ndarray:
    sigma = math.sqrt(math.log(1 + cv**2))
    return rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, size=size)


def villages() -> list[dict[str, object]]:
    """The 184 villages as CSV rows, in town order."""
    rng = np.random.default_rng(SEED)
    town = np.sort(np.arange(VILLAGES) % len(TOWNS))
    population = _split(RURAL_POPULATION, rng.lognormal(0.0, 0.4, size=VILLAGES))
    households = np.minimum(np.maximum(np.round(population / PEOPLE_PER_HOUSEHOLD), 1), population).astype(np.int64)

    income = _lognormal(rng, MEAN_INCOME, INCOME_CV, VILLAGES)
    income *= MEAN_INCOME / np.average(income, weights=population)
    poor = np.zeros(VILLAGES, dtype=bool)
    poor[np.argsort(income)[:POOR_VILLAGES]] = True

    collective = np.zeros(VILLAGES)
    above = _lognormal(rng, COLLECTIVE_MEAN, COLLECTIVE_CV, VILLAGES - POOR_VILLAGES)
    collective[~poor] = np.maximum(above, 1.2 * WEAK_THRESHOLD)  # every non-poor village above the weak line

    a = LEADERSHIP_MEAN * (LEADERSHIP_MEAN * (1 - LEADERSHIP_MEAN) / LEADERSHIP_SD**2 - 1)
    b = a * (1 - LEADERSHIP_MEAN) / LEADERSHIP_MEAN
    ranked = np.sort(rng.beta(a, b, size=VILLAGES))
    leadership = np.empty(VILLAGES)
    leadership[poor] = rng.permutation(ranked[:POOR_VILLAGES])  # the weakest-led villages are the poor ones
    leadership[~poor] = rng.permutation(ranked[POOR_VILLAGES:])

    names = list(INDUSTRIES)
    industry = rng.choice(names, size=VILLAGES, p=[INDUSTRIES[name] for name in names])
    xy = town_centres(len(TOWNS), AREA_KM2)[town] + rng.normal(0.0, math.sqrt(AREA_KM2 / len(TOWNS)) / 3, (VILLAGES, 2))
    xy = np.clip(xy, 0.0, math.sqrt(AREA_KM2))

    return [
        {
            "name": f"{TOWNS[town[v]]}{'贫困村' if poor[v] else '村'}{v + 1}",
            "town": TOWNS[town[v]],
            "population": int(population[v]),
            "households": int(households[v]),
            "income_per_capita": round(float(income[v])),
            "collective_income": int(round(float(collective[v]), -2)),
            "leadership": round(float(leadership[v]), 3),
            "industry": industry[v],
            "x_km": round(float(xy[v, 0]), 2),
            "y_km": round(float(xy[v, 1]), 2),
        }
        for v in range(VILLAGES)
    ]


def csv_text() -> str:
    """The file's text: a header and one row a village."""
    rows = villages()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


if __name__ == "__main__":
    OUT.write_text(csv_text(), encoding="utf-8")
    print(f"wrote {OUT} ({VILLAGES} villages)")
