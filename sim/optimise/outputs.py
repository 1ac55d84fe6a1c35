"""An optimisation's tables and summary: the trials, the heuristics on the search seeds, the front, the out-of-sample
check with paired intervals, and the plain-words summary (optimise.md) that ``pairsim optimise`` prints.

Every file is written atomically from the saved runs, so writing them again (a rerun of a finished folder) gives the
same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiment import BASELINE
from sim.optimise.search import COST, best_heuristic, fall_column, falls, lever_names, summarise
from sim.optimise.spec import Optimisation
from sim.outcome_registry import OUTCOMES
from sim.outputs import write_atomically

CONFIDENCE = 0.95


def reference_table(reference: dict[str, pd.DataFrame], names: list[str], optimisation: Optimisation) -> pd.DataFrame:
    """Each heuristic on the search seeds, summarised as the plans are (the front's markers): its falls and cost."""
    baseline = reference[BASELINE]
    best = best_heuristic(reference, names)
    rows = []
    for arm, final in reference.items():
        if arm == BASELINE:
            continue
        objective = summarise(falls(final, baseline, names), best, optimisation)
        rows.append({"arm": arm, **{fall_column(n): float(objective[n]) for n in names}, COST: float(final["plan_cost"].mean())})
    return pd.DataFrame(rows)


def out_of_sample(check: dict[str, pd.DataFrame], names: list[str], plans: list[str], arms: list[str]) -> pd.DataFrame:
    """Each checked plan against the no-pairing run and each heuristic on the check's seeds, outcome by outcome: the
    mean paired difference of the fall (plan minus the other; against no pairing, the plan's own fall), its 95 % t
    interval, the share of seeds and draws where the plan's fall is larger, and a verdict that says so plainly."""
    baseline = check[BASELINE]
    rows = []
    for plan in plans:
        plan_fall = falls(check[plan], baseline, names)
        for arm in arms:
            other = falls(check[arm], baseline, names) if arm != BASELINE else plan_fall * 0.0
            for name in names:
                difference = (plan_fall[name] - other[name]).to_numpy(float)
                rows.append({"plan": plan, "against": arm, "outcome": name, **paired_interval(difference)})
    return pd.DataFrame(rows)


def paired_interval(difference: np.ndarray) -> dict[str, Any]:
    """Mean, 95 % t interval, n, the share of positive differences and the verdict of paired differences."""
    n = difference.size
    mean = float(difference.mean())
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * difference.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    low, high = mean - half, mean + half
    verdict = "better" if low > 0 else "worse" if high < 0 else "not better (no clear difference)"
    return {
        "difference": mean,
        "low": low,
        "high": high,
        "n": n,
        "share_better": float((difference > 0).mean()),
        "verdict": verdict,
    }


def write_villages(path: Path, model) -> None:
    """The reference county's villages (for the report's map of a plan's pairs)."""
    from sim.pairing.policies import targeting_priority, village_need

    county = model.county
    need = village_need(county)
    frame = pd.DataFrame(
        {
            "village": county.villages["name"].to_numpy(),
            "x_km": county.villages["x_km"].to_numpy(float),
            "y_km": county.villages["y_km"].to_numpy(float),
            "weak": county.weak(),
            "need": targeting_priority(county, need, 0.0),
        }
    )
    write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_tables(folder: Path, trials: pd.DataFrame, reference: pd.DataFrame, chosen: pd.DataFrame, check: pd.DataFrame) -> None:
    """trials.parquet, reference.csv, front.csv and out_of_sample.csv (docs/OPTIMISE.md)."""
    first = next(column for column in trials.columns if column.startswith("fall:"))
    front = trials.loc[trials["on_front"], ["trial", first, COST, "pairs"]].sort_values(COST)
    front["checked"] = front["trial"].isin(chosen["trial"])
    write_atomically(folder / "trials.parquet", lambda tmp: trials.to_parquet(tmp, index=False))
    for name, table in (("reference.csv", reference), ("front.csv", front), ("out_of_sample.csv", check)):
        write_atomically(folder / name, lambda tmp, table=table: table.to_csv(tmp, index=False))


def write_summary(folder: Path, text: str) -> None:
    write_atomically(folder / "optimise.md", lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def _yuan(value: float) -> str:
    return f"{value / 1e6:,.2f} M yuan" if abs(value) >= 1e6 else f"{value:,.0f} yuan"


def _levers(row: pd.Series, optimisation: Optimisation) -> str:
    """A plan's lever values in one line each."""
    lines = []
    for name in lever_names(optimisation):
        value = row[f"param:{name}"]
        shown = (
            f"{int(value)}"
            if name.startswith(("pairs:", "typed:"))
            else f"{value:,.3g}"
            if abs(value) < 1000
            else f"{value:,.0f}"
        )
        lines.append(f"  - {name} = {shown}")
    return "\n".join(lines)


def summary_text(
    optimisation: Optimisation,
    manifest: dict[str, Any],
    trials: pd.DataFrame,
    reference: pd.DataFrame,
    chosen: pd.DataFrame,
    check: pd.DataFrame,
    shipped: tuple[float, int],
) -> str:
    """The plain-words summary: what was searched, the front, and whether the chosen plans beat the heuristics on seeds
    they were not chosen on."""
    names = optimisation.objectives.falls
    first = names[0]
    label = OUTCOMES[first].label
    statistic = optimisation.objectives.statistic
    what = {
        "mean": "mean fall",
        "quantile": f"{optimisation.objectives.quantile:.0%} quantile of the fall",
        "regret": "minus the mean regret (the shortfall from the best heuristic of the same seed and draw) of the fall",
    }[statistic]
    heading = {
        "mean": "mean fall",
        "quantile": f"fall, {optimisation.objectives.quantile:.0%} quantile",
        "regret": "−mean regret",
    }[statistic]
    budget = optimisation.budget.yuan_per_year
    unit = "seeds and draws" if optimisation.posterior else "seeds"
    seconds = sum(manifest["seconds"].values())
    lines = [
        f"# Optimisation {optimisation.name}",
        "",
        (
            f"{manifest['scenario_name']}; budget {_yuan(optimisation.budget.yuan_per_year)} a year (planned, start-year "
            f"prices); the scenario's own plan costs {_yuan(shipped[0])} a year for {shipped[1]} branches."
        ),
        (
            f"{len(trials)} plans tried ({optimisation.search.sampler}), each on {optimisation.search.seeds} seeds"
            f"{' and posterior draws' if optimisation.posterior else ''} (common random numbers); objective: the {what} of "
            f"{', '.join(OUTCOMES[n].label for n in names)} from no pairing in the final year, and the planned cost. "
            f"{len(manifest['runs'])} runs, {seconds / 60:.1f} minutes of running."
        ),
        "",
        f"## On the search seeds ({label}, fall from no pairing)",
        "",
        f"| plan | {heading} | planned cost a year | branches |",
        "|---|---|---|---|",
    ]
    front = trials[trials["on_front"]].sort_values(COST)
    for _, row in front.iterrows():
        marker = " (checked)" if row["trial"] in set(chosen["trial"]) else ""
        lines.append(
            f"| t{int(row['trial']):04d}{marker} | {row[fall_column(first)] + 0.0:.5f} | {_yuan(row[COST])} | {row['pairs']:.0f} |"
        )
    for _, row in reference.iterrows():
        over = " (above the budget)" if row[COST] > budget * (1 + 1e-9) else ""
        lines.append(
            f"| {row['arm']} (the scenario's plan) | {row[fall_column(first)] + 0.0:.5f} | {_yuan(row[COST])}{over} | {shipped[1]} |"
        )
    lines += [
        "",
        f"## Out of sample: {optimisation.check.seeds} seeds{' and posterior draws' if optimisation.posterior else ''} the search never used",
        "",
        (
            "Each checked plan's lever values are assigned afresh on every unseen seed's county (a generated county differs by "
            "seed), so the check judges the plan as a rule; plans/<plan>.yaml holds its pairs on the first search seed's county."
        ),
        "",
    ]
    if chosen.empty:
        lines.append("No plan gave a finite objective on the search seeds, so none was checked.")
        return "\n".join(lines)
    for plan in chosen["trial"]:
        arm = f"t{int(plan):04d}"
        row = chosen.loc[chosen["trial"] == plan].iloc[0]
        lines.append(f"Plan {arm}, planned cost {_yuan(row[COST])} a year:")
        lines.append(_levers(row, optimisation))
        for _, result in check[(check["plan"] == arm) & (check["outcome"] == first)].iterrows():
            against = "no pairing" if result["against"] == BASELINE else result["against"]
            lines.append(
                f"  - against {against}: {result['difference']:+.5f} [{result['low']:+.5f}, {result['high']:+.5f}] more fall in "
                f"{label}; larger in {result['share_better']:.0%} of {result['n']} {unit}: {result['verdict']}"
            )
        lines.append("")
    lines.append(verdict_text(chosen.iloc[0], reference, check, first, label, budget))
    return "\n".join(lines)


def verdict_text(best: pd.Series, reference: pd.DataFrame, check: pd.DataFrame, outcome: str, label: str, budget: float) -> str:
    """The plain answer for the plan with the largest fall on the search seeds: does it beat each heuristic on the unseen
    seeds, and if not, had it even beaten them on the seeds it was chosen on (then the optimiser's curse is why), and
    did the heuristic spend more than the budget?"""
    plan = f"t{int(best['trial']):04d}"
    rows = check[(check["plan"] == plan) & (check["outcome"] == outcome) & (check["against"] != BASELINE)]
    beaten = rows.loc[rows["verdict"] == "better", "against"].tolist()
    if len(beaten) == len(rows):
        return f"The best plan found, {plan}, narrows {label} more than every heuristic on seeds it was not chosen on."
    searched = reference.set_index("arm")[fall_column(outcome)]
    lost = [arm for arm in rows["against"] if arm not in beaten]
    ahead = [arm for arm in lost if best[fall_column(outcome)] > searched[arm]]
    behind = [arm for arm in lost if arm not in ahead]
    parts = [f"The best plan found, {plan}, is NOT better out of sample than {', '.join(lost)}."]
    if ahead:
        parts.append(
            f"It was ahead of {', '.join(ahead)} on the search seeds, but that advantage does not hold on seeds it was not "
            "chosen on (the optimiser's curse, docs/OPTIMISE.md)."
        )
    if behind:
        parts.append(f"It did not beat {', '.join(behind)} on the search seeds either.")
    if beaten:
        parts.append(f"It is better than {', '.join(beaten)}.")
    costs = reference.set_index("arm")["cost"]
    dearer = [arm for arm in lost if costs[arm] > budget * (1 + 1e-9)]
    if dearer:
        parts.append(
            f"{', '.join(dearer)} spend {_yuan(float(costs[dearer].max()))} a year, more than the budget of {_yuan(budget)}."
        )
    return " ".join(parts)


__all__ = ["out_of_sample", "paired_interval", "reference_table", "summary_text", "verdict_text", "write_tables"]
