"""Text summaries of an experiment's results folder (what ``pairsim summarize`` prints).

Reads the runs and the manifest, calls :mod:`sim.analysis`, and formats the
tables for a terminal: paired differences from the baseline with intervals,
cost-effectiveness, and sensitivity indices for sweeps.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim import analysis
from sim.experiment import BASELINE, Design, salib_problem
from sim.results import ResultsStore, load_results

HEADLINE_OUTCOMES = ["gini", "theil_t", "theil_between_share", "urban_rural_ratio", "rural_income_pc", "weak_villages", "hollow_villages", "poverty_headcount"]
"""The outcomes the summary shows first (when the experiment kept them)."""


def summarize_folder(folder: str | Path) -> str:
    """Everything worth printing about a results folder, as text."""
    folder = Path(folder)
    store = ResultsStore(folder)
    manifest = store.read_manifest()
    runs = manifest.get("runs", {})
    finished = sum(1 for run in runs.values() if run.get("status") == "finished")
    failed = sum(1 for run in runs.values() if run.get("status") == "failed")
    counts = f"Experiment {manifest.get('experiment', folder.name)}: {finished} runs finished, {failed} failed, {len(runs) - finished - failed} not run"
    if not store.finished():
        return f"{counts}; no results to compare yet"
    results = load_results(folder)
    lines = [f"{counts}; final year {int(results['year'].max())}"]
    arms = sorted(results["arm"].unique())
    if BASELINE in arms and len(arms) > 1:
        try:
            lines += ["", _differences_text(results), "", _cost_text(results)]
        except ValueError as error:  # e.g. every baseline run of a scenario or design point failed
            lines += ["", f"No comparison with the baseline: {error}. Run the same command again to retry the failed runs."]
    design = manifest_design(manifest)
    if design is not None and design.method in ("sobol", "morris"):
        lines += ["", _sensitivity_text(results, design)]
    return "\n".join(lines)


def _differences_text(results: pd.DataFrame) -> str:
    outcomes = [o for o in HEADLINE_OUTCOMES if o in results.columns]
    table = analysis.paired_differences(results, baseline=BASELINE, outcomes=outcomes)
    table = table[table["point"] == table["point"].min()] if "point" in table else table
    rows = []
    for _, row in table.iterrows():
        rows.append(
            {
                "arm": row["arm"],
                "outcome": row["outcome"],
                "n": int(row["n"]),
                "baseline": _number(row["baseline_mean"]),
                "difference": _number(row["difference"]),
                "95% CI": f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]",
            }
        )
    text = pd.DataFrame(rows).to_string(index=False)
    return "Final-year difference from the baseline (arm - baseline, paired by replication):\n" + text


def _cost_text(results: pd.DataFrame) -> str:
    if "funds_sent_total" not in results.columns or "gini" not in results.columns:
        return ""
    table = analysis.cost_effectiveness(results, baseline=BASELINE, outcome="gini", cost="funds_sent_total")
    shown = pd.DataFrame(
        {
            "arm": table["arm"],
            "funds sent (yuan)": table["cost"].map(_number),
            "Gini reduction": table["reduction"].map(_number),
            "95% CI": [f"[{_number(lo)}, {_number(hi)}]" for lo, hi in zip(table["reduction_ci_low"], table["reduction_ci_high"], strict=True)],
            "yuan per 0.001 Gini": table["cost_per_0.001"].map(_number),
            "note": table["note"],
        }
    )
    return "Cost-effectiveness of the funds sent (final year):\n" + shown.to_string(index=False)


def _sensitivity_text(results: pd.DataFrame, design: Design) -> str:
    """Sobol or Morris indices of the headline outcomes, per arm (averaged over replications at each point)."""
    problem = salib_problem(design)
    blocks = []
    for arm in sorted(results["arm"].unique()):
        for outcome in [o for o in ("gini", "urban_rural_ratio", "weak_villages") if o in results.columns]:
            if design.method == "sobol":
                table = analysis.sobol_indices(results, problem["names"], problem["bounds"], outcome, calc_second_order=False, arm=arm, seed=0)
            else:
                table = analysis.morris_indices(results, problem["names"], problem["bounds"], outcome, num_levels=design.levels, arm=arm, seed=0)
            blocks.append(f"Sensitivity of final-year {outcome}, arm {arm} ({design.method}):\n{table.to_string(index=False)}")
    return "\n\n".join(blocks)


def manifest_design(manifest: dict) -> Design | None:
    """The parameter design a results folder was made with (stored in its manifest), or None."""
    stored = manifest.get("design")
    return Design.model_validate(stored) if stored else None


def _number(value: float) -> str:
    """Four significant digits, thousands separated (yuan), 'nan' for missing."""
    if pd.isna(value):
        return "nan"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
