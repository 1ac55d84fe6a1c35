"""Text summaries of an experiment's results folder (what ``pairsim summarize`` prints).

Reads the runs and the manifest, calls :mod:`sim.analysis`, and formats the
tables for a terminal: paired differences from the baseline with intervals,
cost-effectiveness, and sensitivity indices for sweeps.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd

from sim import analysis
from sim.experiment import BASELINE, Design, salib_problem
from sim.formatting import UNITS, format_interval, format_outcome, format_value, outcome_label, unit_of
from sim.outcome_registry import headline_outcomes
from sim.results import ResultsStore, load_results

SENSITIVITY_OUTCOMES = ("gini", "urban_rural_ratio", "weak_villages")
"""The outcomes whose sensitivity indices the summary and the report show (when the experiment kept them)."""


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
            effects = posterior_text(results) if POSTERIOR_DRAW in results.columns else differences_text(results)
            lines += ["", effects, "", cost_text(results)]
        except ValueError as error:  # e.g. every baseline run of a scenario or design point failed
            lines += ["", f"No comparison with the baseline: {error}. Run the same command again to retry the failed runs."]
    design = manifest_design(manifest)
    if design is not None and design.method in ("sobol", "morris"):
        lines += ["", sensitivity_text(results, design)]
    return "\n".join(lines)


def differences_text(results: pd.DataFrame) -> str:
    """The final-year paired differences of the headline outcomes as text: outcomes by label, each value in its unit."""
    outcomes = [o for o in headline_outcomes() if o in results.columns]
    table = analysis.paired_differences(results, baseline=BASELINE, outcomes=outcomes)
    table = table[table["point"] == table["point"].min()] if "point" in table else table
    rows = []
    for _, row in table.iterrows():
        outcome, n = row["outcome"], int(row["n"])
        unit = unit_of(outcome)
        unpaired = "no paired runs"
        rows.append(
            {
                "arm": row["arm"],
                "outcome": outcome_label(outcome),
                "unit": UNITS[unit].short,
                "n": n,
                "baseline": format_value(row["baseline_mean"], unit, unpaired),
                "difference": format_value(row["difference"], unit, unpaired, difference=True),
                "95% CI": format_interval(
                    row["ci_low"], row["ci_high"], unit, unpaired if n == 0 else f"no interval ({n} pair)", difference=True
                ),
            }
        )
    return "Final-year difference from the baseline (arm - baseline, paired by replication):\n" + text_table(pd.DataFrame(rows))


POSTERIOR_DRAW = "draw"
"""The column a posterior experiment's runs carry (which posterior draw each ran): its effects are split into the parts
from parameter uncertainty and from noise, and its ranking of arms is checked draw by draw."""


def posterior_text(results: pd.DataFrame) -> str:
    """A posterior experiment's headline effects with their split intervals, and whether each arm's ranking holds."""
    outcomes = [o for o in headline_outcomes() if o in results.columns]
    table = analysis.posterior_differences(results, baseline=BASELINE, outcomes=outcomes)
    shown = pd.DataFrame(
        [{"arm": row["arm"], "outcome": outcome_label(row["outcome"]), **posterior_cells(row)} for _, row in table.iterrows()]
    )
    first = table.iloc[0]
    heading = (
        f"Final-year difference from the baseline over {int(first['draws'])} posterior draws x {first['seeds']:g} seeds "
        "(arm - baseline, paired by draw and seed). 'mean, 95% CI': the posterior-mean effect; 'one draw, 95% range': "
        "the effect one parameter set gives, its half-width split into parameter uncertainty and noise (they add in "
        "quadrature); 'from parameters': that share of its variance:"
    )
    return f"{heading}\n{text_table(shown)}\n\n{ranking_text(results, outcomes)}"


def posterior_cells(row: pd.Series) -> dict[str, str]:
    """One row of :func:`sim.analysis.posterior_differences` as text, each value in its outcome's unit."""
    unit = unit_of(row["outcome"])
    return {
        "unit": UNITS[unit].short,
        "baseline": format_value(row["baseline_mean"], unit),
        "mean": format_value(row["difference"], unit, difference=True),
        "95% CI": format_interval(row["ci_low"], row["ci_high"], unit, difference=True),
        "one draw, 95% range": format_interval(row["range_low"], row["range_high"], unit, difference=True),
        "± parameters": "±" + format_value(row["half_width_parameter"], unit, difference=True),
        "± noise": "±" + format_value(row["half_width_noise"], unit, difference=True),
        "from parameters": format_value(row["share_parameter"], "share"),
    }


def ranking_text(results: pd.DataFrame, outcomes: list[str]) -> str:
    """Whether each arm keeps its place in the ranking of arms across posterior draws, for each outcome."""
    tables = [analysis.ranking_robustness(results, baseline=BASELINE, outcome=outcome) for outcome in outcomes]
    shown = pd.DataFrame(
        [
            {"outcome": outcome_label(row["outcome"]), "arm": row["arm"], **ranking_cells(row)}
            for table in tables
            for _, row in table.iterrows()
        ]
    )
    return (
        "Ranking of the arms in each posterior draw (1 = best: narrows the gap, or raises rural incomes, most), on each "
        "draw's effect with the run-to-run noise of its seeds shrunk out, so the shares measure parameter uncertainty; "
        f"it holds when the arm keeps its rank in at least {analysis.RANK_HOLDS:.0%} of the draws:\n{text_table(shown)}"
    )


def ranking_cells(row: pd.Series) -> dict[str, str]:
    """One row of :func:`sim.analysis.ranking_robustness` as text."""
    return {
        "rank": str(int(row["rank"])),
        "keeps rank": format_value(row["share_keeps_rank"], "share"),
        "ranked best": format_value(row["share_best"], "share"),
        "better than baseline": format_value(row["share_improves"], "share"),
        "holds": "yes" if row["holds"] else "no",
    }


DONOR_COST = "donor_cost_total"
FUNDS_SENT = "funds_sent_total"
COST_NAMES = {DONOR_COST: "donor cost", FUNDS_SENT: "funds sent"}
"""The cumulative costs cost-effectiveness divides by, as its tables, axes and headings name them (in yuan)."""
EVERY_FLOW = (
    "funds, training, hiring, cadre time, techniques, market access and problems solved at each month's prices, "
    "and strong villages' own output forgone"
)
"""What the donor cost counts (the ledger's cost of every flow, the ``donor_cost`` outcome), for headings and captions."""
FUNDS_ONLY = (
    "these results predate the donor cost of every flow (no donor_cost_total column), so costs are the funds sent "
    "only; run the experiment again to count training, hiring, cadre time, techniques, market access and problems solved"
)
"""Why an older results folder's cost-effectiveness is of the funds alone."""
COST_COLUMNS = ("Gini reduction", "95% CI", "yuan per 0.001 Gini")
"""The cost table's columns after the arm and its cost (named by :data:`COST_NAMES`)."""


def cost_basis(results: pd.DataFrame) -> tuple[str, str]:
    """The cost column cost-effectiveness uses and a note when it is not the donor cost of every flow: the funds
    sent, for results made before runs recorded it. Raises ValueError when the results hold neither."""
    if DONOR_COST in results.columns and results[DONOR_COST].notna().any():
        return DONOR_COST, ""
    if FUNDS_SENT in results.columns and results[FUNDS_SENT].notna().any():
        return FUNDS_SENT, FUNDS_ONLY
    raise ValueError(f"the results hold no cumulative cost ({DONOR_COST} or {FUNDS_SENT})")


def cost_text(results: pd.DataFrame) -> str:
    """Yuan of donor cost per 0.001 Gini reduced, per arm, as text; where that is not defined the cell says why."""
    if "gini" not in results.columns:
        return ""
    try:
        cost, note = cost_basis(results)
    except ValueError:
        return ""
    table = analysis.cost_effectiveness(results, baseline=BASELINE, outcome="gini", cost=cost)
    shown = pd.DataFrame(
        [{"arm": row["arm"], **cost_cells(row)} for _, row in table.iterrows()], columns=["arm", "cost", *COST_COLUMNS]
    ).rename(columns={"cost": f"{COST_NAMES[cost]} (yuan)"})
    if cost == DONOR_COST:
        return f"Cost-effectiveness of the donor cost (every flow, at each month's prices; final year):\n{text_table(shown)}"
    return f"Cost-effectiveness of the funds sent (final year). {note[0].upper()}{note[1:]}.\n{text_table(shown)}"


def cost_cells(row: pd.Series) -> dict[str, str]:
    """One arm's row of :func:`sim.analysis.cost_effectiveness` as text (the summary's and the report's cost tables):
    its cost, Gini reduction, its interval and yuan per 0.001 Gini, each in its unit, or why it is not defined."""
    unpaired = "no paired runs"
    return {
        "cost": format_value(row["cost"], "yuan", unpaired),
        "Gini reduction": format_value(row["reduction"], "index", unpaired),
        "95% CI": format_interval(row["reduction_ci_low"], row["reduction_ci_high"], "index", f"no interval ({row['note']})"),
        "yuan per 0.001 Gini": format_value(row["cost_per_0.001"], "yuan", row["note"] or "not defined"),
    }


def sobol_varies(table: pd.DataFrame) -> bool:
    """False when no Sobol index is defined: the outcome is the same at every design point, with no variance to share."""
    return not table[["S1", "ST"]].isna().all().all()


def sensitivity_text(results: pd.DataFrame, design: Design) -> str:
    """Sobol or Morris indices of the :data:`SENSITIVITY_OUTCOMES`, per arm (averaged over replications at each point)."""
    problem = salib_problem(design)
    blocks = []
    for arm in sorted(results["arm"].unique()):
        for outcome in [o for o in SENSITIVITY_OUTCOMES if o in results.columns]:
            if design.method == "sobol":
                table = analysis.sobol_indices(
                    results, problem["names"], problem["bounds"], outcome, calc_second_order=False, arm=arm, seed=0
                )
                shown = sobol_table(table)
            else:
                table = analysis.morris_indices(
                    results, problem["names"], problem["bounds"], outcome, num_levels=design.levels, arm=arm, seed=0
                )
                shown = morris_table(table, outcome)
            blocks.append(f"Sensitivity of final-year {outcome_label(outcome)}, arm {arm} ({design.method})\n{text_table(shown)}")
    return "\n\n".join(blocks)


def sobol_table(table: pd.DataFrame) -> pd.DataFrame:
    """Sobol indices as text: shares of the output variance in percent, each with its 95 % bootstrap half-width (in
    percentage points); an outcome that does not vary over the design has no variance to share out, and says so."""
    why = "not defined" if sobol_varies(table) else "no variation"
    return pd.DataFrame(
        {
            "parameter": table["parameter"],
            **{
                name: [format_value(value, "share", why, difference=column.endswith("_conf")) for value in table[column]]
                for name, column in (("S1 (first-order)", "S1"), ("S1 ±", "S1_conf"), ("ST (total)", "ST"), ("ST ±", "ST_conf"))
            },
        }
    )


def morris_table(table: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Morris indices as text, in the outcome's unit (elementary effects are changes of it: a share's in points)."""
    return pd.DataFrame(
        {
            "parameter": table["parameter"],
            **{
                column: [format_outcome(value, outcome, difference=True) for value in table[column]]
                for column in ("mu", "mu_star", "sigma", "mu_star_conf")
            },
        }
    )


def manifest_design(manifest: dict) -> Design | None:
    """The parameter design a results folder was made with (stored in its manifest), or None."""
    stored = manifest.get("design")
    return Design.model_validate(stored) if stored else None


def text_table(frame: pd.DataFrame, left: tuple[str, ...] = ("arm", "outcome", "unit", "parameter")) -> str:
    """An aligned text table: names (the ``left`` columns) flush left, numbers flush right; Chinese characters count as
    two columns, as a terminal draws them."""
    columns = list(frame.columns)
    cells = [[str(column) for column in columns], *[[str(value) for value in row] for row in frame.itertuples(index=False)]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(columns))]

    def line(row: list[str]) -> str:
        padded = []
        for column, text, width in zip(columns, row, widths, strict=True):
            pad = " " * (width - _width(text))
            padded.append(text + pad if column in left else pad + text)
        return "  ".join(padded).rstrip()

    return "\n".join(line(row) for row in cells)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in text)
