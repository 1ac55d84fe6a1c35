"""Fit a shipped scenario's background trends to official series: urban, rural, prices, transfers, migrant wages.

Why: without pairing, a county's incomes must grow as its province's did, or pairing's effect is measured
against a wrong baseline (issue 12, points 7, 8 and 14). The series and what each scenario is fitted to
live beside this script in ``official_series.yaml``, each number with its source key (docs/SOURCES.md).

For each scenario the script

1. reads straight off the data (closed form, no runs):
   - ``urban.wage_growth``: the urban series' geometric growth over its window;
   - ``economy.past_income_growth``: the rural series' growth into the start year (or the rural target);
   - ``economy.migrant_wage_growth`` and ``economy.enterprise_wage_growth``: migrant workers' wage growth over
     the window, where given (the one wage-rate series for rural workers; local wages assumed to keep pace);
   - ``economy.transfer_growth``: the geometric mean of the published yearly growth of transfer income;
   - ``economy.rural_price_growth``: the geometric mean of the yearly rural price rises that nominal against
     real rural income growth imply (the official current-price poverty lines are printed beside, as a check);
2. finds ``economy.farm_productivity_growth`` with ``scipy.optimize.brentq`` so that the NO-PAIRING run's
   rural per-capita income grows at the rural series' rate: the mean over seeds (common random numbers,
   the same seeds for every trial value) of the runs' geometric growth over ``run_years``;
2b. then each later trend period (the scenario's ``trend_periods``; China's incomes grew more slowly after
   2013) in turn, the earlier ones fixed: its urban, wage and transfer rates read off the data as in step 1,
   its farm growth found so that the runs' rural growth from the year before the period to the end of its
   rural window meets the period's series;
3. prints the fitted values and the residuals: target against simulated growth, the growth of the wage part
   (wages and remittances, NBS's wage income) against its national series as a check that is not fitted, the
   indexed poverty line against the official lines, and year by year the simulated rural and urban incomes
   against the data where the data has the year.

It writes nothing: the values go into the scenario YAMLs by hand, with a comment naming this script and the
data. Re-run it whenever the income mechanisms change (the model's results depend on them)::

    .venv/bin/python scripts/fit_trends.py                     # every fit in official_series.yaml
    .venv/bin/python scripts/fit_trends.py shouguang_2009 --seeds 3

About 30-60 s a scenario on the 2-core development machine with 3 seeds (Shouguang: 1.7 s a 4-year run).
``zhejiang_2020`` (7.55 M households, minutes a run) has ``simulate: false``: only step 1 is done for it.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().with_name("official_series.yaml")
POVERTY_LINE_BASE_YEAR = 2010
GROWTH_BRACKET = (-0.05, 0.30)  # yearly growth brentq searches in; a fit outside it says so instead of guessing


def load_data(path: Path = DATA) -> dict:
    """The series, transfer growth rates and fit definitions of official_series.yaml."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def values(data: dict, name: str) -> dict[int, float]:
    """One series as {year: value}, the source keys dropped (they are for readers and the docs)."""
    return {int(year): float(pair[0]) for year, pair in data["series"][name].items()}


def window_growth(data: dict, spec: dict) -> float:
    """Geometric yearly growth of a series between the two years of its window."""
    series = values(data, spec["series"])
    first, last = spec["window"]
    return (series[last] / series[first]) ** (1.0 / (last - first)) - 1.0


def price_growth(data: dict) -> float:
    """Geometric mean of the yearly rural price rises implied by nominal and real rural income growth."""
    rises = [(1 + nominal) / (1 + real) for nominal, real, _ in data["rural_income_growth_nominal_real"].values()]
    return math.expm1(float(np.mean(np.log(rises))))


def transfer_growth(data: dict, sources: list[str], window: list[int]) -> float:
    """Geometric mean of the published yearly transfer-income growth rates of those sources inside the window."""
    rates = [
        float(pair[0])
        for source in sources
        for year, pair in data["transfer_growth"][source].items()
        if window[0] <= int(year) <= window[1]
    ]
    return math.expm1(float(np.mean(np.log1p(rates))))


@dataclass
class Fit:
    """One scenario's fitted trends and how well the no-pairing runs meet the data."""

    name: str
    overrides: dict[str, float]
    targets: dict[str, float]  # "rural" and, where fitted, "wage_part": yearly growth the runs must meet
    simulated: dict[str, float]  # the same, as the final runs give them
    yearly: list[tuple[int, float, float]]  # (year, simulated rural, simulated urban): means over seeds
    periods: list[dict] = field(default_factory=list)  # the fitted trend_periods, as the scenario YAML writes them
    period_growth: list[tuple[float, float]] = field(default_factory=list)  # per period: (target, simulated) rural growth


def data_overrides(data: dict, fit: dict) -> tuple[dict[str, float], dict[str, float]]:
    """The trend parameters read straight off the data, and the growth targets of the simulated fit."""
    targets = {"rural": window_growth(data, fit["rural"])}
    if "wage_part" in fit:
        targets["wage_part"] = window_growth(data, fit["wage_part"])
    overrides = {
        "urban.wage_growth": window_growth(data, fit["urban"]),
        "economy.past_income_growth": window_growth(data, fit["past_growth"]) if "past_growth" in fit else targets["rural"],
        "economy.rural_price_growth": price_growth(data),
    }
    if "migrant_wage" in fit:
        # local enterprise wages too: the one wage-rate series for rural workers (assumption: local wages kept pace)
        overrides["economy.migrant_wage_growth"] = window_growth(data, fit["migrant_wage"])
        overrides["economy.enterprise_wage_growth"] = overrides["economy.migrant_wage_growth"]
    if "transfers" in fit:
        overrides["economy.transfer_growth"] = transfer_growth(data, fit["transfers"]["sources"], fit["transfers"]["window"])
    return overrides, targets


def period_rates(data: dict, period: dict) -> tuple[dict, float]:
    """A later trend period's rates read off the data (farm growth still to fit), and its rural growth target."""
    target = window_growth(data, period["rural"])
    economy: dict[str, float] = {}
    if "migrant_wage" in period:
        economy["migrant_wage_growth"] = economy["enterprise_wage_growth"] = window_growth(data, period["migrant_wage"])
    if "transfers" in period:
        transfers = period["transfers"]
        follows_rural = transfers.get("follow") == "rural"  # assumption: transfers keep their share of rural income
        economy["transfer_growth"] = target if follows_rural else transfer_growth(data, transfers["sources"], transfers["window"])
    rates = {"from_year": int(period["from_year"]), "economy": economy}
    if "urban" in period:
        rates["urban"] = {"wage_growth": window_growth(data, period["urban"])}
    return rates, target


WAGE_PART = ("wage_income_share", "remittance_income_share")  # the model's counterpart of NBS's wage income


def no_pairing_paths(scenario: Path, overrides: dict[str, float], seeds: list[int], years: int) -> np.ndarray:
    """Per seed, at the start and each year end: rural income, urban income and the rural wage part (per capita).

    Shape (seeds, years + 1, 3). The wage part is this month's wage and remittance share of income times the
    12-month rural mean (incomes have no seasonality, so a month's mix is the year's).
    """
    from sim.model import PairingModel  # imported here so --help and bad input answer without loading the model

    run_overrides = {**overrides, "pairing.policies": [], "horizon_years": years}
    paths = np.empty((len(seeds), years + 1, 3))

    def observe(model: PairingModel) -> tuple[float, float, float]:
        outcomes = model.outcomes
        wage_part = outcomes["rural_income_pc"] * sum(outcomes[key] for key in WAGE_PART)
        return outcomes["rural_income_pc"], outcomes["urban_income_pc"], wage_part

    for row, seed in enumerate(seeds):
        model = PairingModel(scenario, rng=seed, overrides=run_overrides)
        paths[row, 0] = observe(model)
        for year in range(1, years + 1):
            for _ in range(12):
                model.step()
            paths[row, year] = observe(model)
    return paths


def simulated_growth(paths: np.ndarray, column: int, first: int = 0) -> float:
    """Mean over seeds of each run's geometric growth of one column from year ``first`` (0: the start) to the last."""
    years = paths.shape[1] - 1 - first
    return float(np.mean((paths[:, -1, column] / paths[:, first, column]) ** (1.0 / years) - 1.0))


COLUMNS = {"rural": 0, "wage_part": 2}
NEAR = 0.04  # first bracket: the parameter's current value ± this, which holds the root when the data moved little
FITTED = {"rural": "economy.farm_productivity_growth"}  # the wage part is a check, reported, not fitted


def scenario_value(scenario: Path, parameter: str) -> float:
    """A dotted parameter's value in the validated scenario (its YAML or the default)."""
    from sim.scenario import load_scenario

    value = load_scenario(scenario)
    for part in parameter.split("."):
        value = getattr(value, part)
    return float(value)


def fit_growth(miss, current: float, what: str) -> float:
    """Root of ``miss`` (simulated minus target growth) in a farm growth rate, near ``current`` if the root is there."""
    misses: dict[float, float] = {}  # brentq evaluates the bracket's ends again: each run costs seconds

    def cached(value: float) -> float:
        if value not in misses:
            misses[value] = miss(value)
        return misses[value]

    for low, high in ((max(current - NEAR, GROWTH_BRACKET[0]), min(current + NEAR, GROWTH_BRACKET[1])), GROWTH_BRACKET):
        if cached(low) <= 0 <= cached(high):
            return brentq(cached, low, high, xtol=5e-4)
    raise ValueError(f"{what}: no farm productivity growth in {GROWTH_BRACKET} meets the data")


def fit_scenario(data: dict, name: str, seeds: list[int]) -> Fit:
    """Step 1 (read off the data) and, unless the fit says ``simulate: false``, steps 2 and 2b (farm growth from runs)."""
    fit = data["fits"][name]
    scenario = ROOT / fit["scenario"]
    overrides, targets = data_overrides(data, fit)
    if not fit.get("simulate", True):
        return Fit(name, overrides, targets, {}, [])
    first, last = fit["rural"]["window"]
    years = int(fit.get("run_years", last - first))
    start = int(yaml.safe_load(scenario.read_text(encoding="utf-8"))["start_year"])
    parameter, column = FITTED["rural"], COLUMNS["rural"]

    def first_miss(value: float) -> float:
        paths = no_pairing_paths(scenario, {**overrides, parameter: value, "trend_periods": []}, seeds, years)
        return simulated_growth(paths, column) - targets["rural"]

    current = overrides.get(parameter, scenario_value(scenario, parameter))
    overrides[parameter] = fit_growth(first_miss, current, f"{name} {fit['rural']['window']}")
    paths = no_pairing_paths(scenario, {**overrides, "trend_periods": []}, seeds, years)
    yearly = [(start + year, *paths[:, year, :2].mean(axis=0)) for year in range(years + 1)]
    simulated = {target: simulated_growth(paths, COLUMNS[target]) for target in targets}
    result = Fit(name, overrides, targets, simulated, yearly)

    for spec in fit.get("periods", []):
        rates, target = period_rates(data, spec)
        end = int(spec["rural"]["window"][1])
        since = rates["from_year"] - 1 - start  # the year before the period, in years from the start

        def period_paths(value: float, rates: dict = rates, end: int = end) -> np.ndarray:
            trial = {**rates, "economy": {**rates["economy"], "farm_productivity_growth": value}}
            return no_pairing_paths(scenario, {**overrides, "trend_periods": [*result.periods, trial]}, seeds, end - start)

        def period_miss(value: float, since: int = since, target: float = target) -> float:
            return simulated_growth(period_paths(value), column, first=since) - target

        value = fit_growth(period_miss, current=target, what=f"{name} from {rates['from_year']}")
        paths = period_paths(value)
        rates["economy"]["farm_productivity_growth"] = value
        result.periods.append(rates)
        result.period_growth.append((target, simulated_growth(paths, column, first=since)))
        result.yearly = [(start + year, *paths[:, year, :2].mean(axis=0)) for year in range(end - start + 1)]
    return result


def poverty_line_residuals(data: dict, growth: float) -> str:
    """The indexed line against each official current-price line, as one line of text."""
    line = values(data, "poverty_line")
    base = line[POVERTY_LINE_BASE_YEAR]
    parts = [f"{year}: {base * (1 + growth) ** (year - POVERTY_LINE_BASE_YEAR) / value - 1:+.1%}" for year, value in line.items()]
    return "  poverty line, indexed vs official: " + ", ".join(parts)


def report(data: dict, fit: Fit) -> str:
    """The fitted values and the residuals, as plain text."""
    spec = data["fits"][fit.name]
    lines = [f"== {fit.name} ({spec['scenario']})"]
    lines += [f"  {key:<36} {value:8.4f}" for key, value in fit.overrides.items()]
    lines.append(poverty_line_residuals(data, fit.overrides["economy.rural_price_growth"]))
    for target, growth in fit.targets.items():
        where = f"{spec[target]['series']} {spec[target]['window']}"
        if target not in fit.simulated:
            lines.append(f"  {target} growth target ({where}): {growth:.4f}; not simulated (simulate: false)")
            continue
        simulated = fit.simulated[target]
        lines.append(
            f"  {target} growth target ({where}): {growth:.4f}; no-pairing runs {simulated:.4f} (residual {simulated - growth:+.4f})"
        )
    if not fit.simulated:
        return "\n".join(lines)
    for period, (target, simulated), period_spec in zip(fit.periods, fit.period_growth, spec.get("periods", []), strict=True):
        where = f"{period_spec['rural']['series']} {period_spec['rural']['window']}"
        lines.append(
            f"  from {period['from_year']}: rural growth target ({where}): {target:.4f}; no-pairing runs {simulated:.4f}"
            f" (residual {simulated - target:+.4f})"
        )
    if fit.periods:
        rounded = [
            {
                key: value if key == "from_year" else {rate: round(x, 3) for rate, x in value.items()}
                for key, value in period.items()
            }
            for period in fit.periods
        ]
        lines.append(
            "  trend_periods (YAML): " + yaml.safe_dump(rounded, default_flow_style=True, width=1000, sort_keys=False).strip()
        )
    rural_data = values(data, spec["rural"]["series"])
    urban_data = values(data, spec["urban"]["series"])
    start_rural, start_urban = fit.yearly[0][1], fit.yearly[0][2]
    lines.append("  year  rural sim   data-path  resid    urban sim   data-path  resid   (data path: the first window's series)")
    for year, rural, urban in fit.yearly:
        # the data's path from the scenario's own start level: the series' growth, not its level (a county is not its province)
        rural_path = start_rural * rural_data[year] / rural_data[fit.yearly[0][0]] if year in rural_data else math.nan
        first_urban = spec["urban"]["window"][0]
        urban_path = start_urban * urban_data[year] / urban_data[first_urban] if year in urban_data else math.nan
        lines.append(
            f"  {year}  {rural:9.0f}  {rural_path:9.0f}  {rural / rural_path - 1:+6.1%}"
            f"   {urban:9.0f}  {urban_path:9.0f}  {urban / urban_path - 1:+6.1%}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fits", nargs="*", help="fit names in official_series.yaml (default: all)")
    parser.add_argument("--seeds", type=int, default=3, help="no-pairing runs per trial value (seeds 1..N)")
    args = parser.parse_args(argv)
    data = load_data()
    names = args.fits or list(data["fits"])
    unknown = [name for name in names if name not in data["fits"]]
    if unknown or args.seeds < 1:
        problem = (
            f"unknown fit {unknown[0]!r}; expected one of {', '.join(data['fits'])}" if unknown else "--seeds: expected 1 or more"
        )
        print(f"{DATA.name}: {problem}", file=sys.stderr)
        return 2
    for name in names:
        print(report(data, fit_scenario(data, name, list(range(1, args.seeds + 1)))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
