"""The report's sections (each a heading, figures with captions, a table or a note saying why it is empty) and the
one HTML page they make, with plotly.js embedded once so that the file works offline."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from sim import analysis
from sim.experiment import BASELINE, salib_problem
from sim.formatting import outcome_label
from sim.outcome_registry import LORENZ_KEYS, headline_outcomes
from sim.outputs import REPORT_TITLE_END
from sim.report.discovery import discovery_parts
from sim.report.figures import (
    cost_figure,
    forest_figure,
    lorenz_figure,
    network_figure,
    ranking_figure,
    sankey_figure,
    sensitivity_figure,
    theil_figure,
    time_series_figure,
    uncertainty_figure,
)
from sim.report.inputs import ReportInput, load_report_input
from sim.report.styles import _text
from sim.results import write_atomically
from sim.summary import (
    COST_NAMES,
    DONOR_COST,
    EVERY_FLOW,
    POSTERIOR_DRAW,
    SENSITIVITY_OUTCOMES,
    cost_basis,
    cost_cells,
    posterior_cells,
    ranking_cells,
    sobol_varies,
)

TIME_SERIES = {
    "rural_income_pc": "Mean 12-month income per rural resident.",
    "urban_income_pc": "Mean 12-month income per urban resident. Pairing barely reaches urban incomes.",
    "urban_rural_ratio": "Mean urban income divided by mean rural income: 2 means that urban residents earn twice as much as "
    "rural ones. Lower means a narrower urban–rural gap.",
    "gini": "Inequality of income over all residents, urban and rural together. Lower means more equal.",
    "theil_t": "Another inequality index over all residents; unlike the Gini it splits exactly into the urban–rural gap and "
    "the inequality within each side (see the decomposition below).",
}
"""Each time-series figure's caption, true of a single run and of an experiment alike (what only an experiment's figures
show, the arms and their bands, is said by :func:`_bands`)."""

COINCIDING = {
    "urban_income_pc": "Every arm draws the same urban households (common random numbers) and pairing hardly changes their "
    "incomes, so the arms' lines coincide: each is drawn narrower than the one beneath it, so all stay visible."
}
"""What an experiment's caption adds where the arms' lines lie on top of each other."""


@dataclass
class Section:
    """One part of the report: a heading, its figures (each with a caption) and/or a note saying why it is empty."""

    title: str
    figures: list[tuple[go.Figure, str]] = field(default_factory=list)
    note: str = ""
    table_html: str = ""


# --------------------------------------------------------------------------- sections


def _has(data: ReportInput, *columns: str) -> bool:
    return all(column in data.results.columns and data.results[column].notna().any() for column in columns)


def overview_section(data: ReportInput) -> Section:
    rows = "".join(f"<tr><th>{_text(label)}</th><td>{_text(value)}</td></tr>" for label, value in data.overview)
    return Section("Overview", table_html=f'<table class="overview">{rows}</table>')


def _pooling(data: ReportInput) -> str:
    """What a sweep's figures pool, said in every caption that pools it."""
    if data.points < 2:
        return ""
    return (
        f" The sweep's {data.points} design points are pooled: this is the average over the design, and intervals include "
        "the spread the swept parameters cause."
    )


def _bands(data: ReportInput, figure: go.Figure) -> str:
    """The caption's promise about intervals, kept to what the figure draws, and why bands that overlap do not contradict
    the paired effects of the forest plot."""
    if data.kind == "run":
        return "One run: one draw of the county's randomness, so no interval."
    if not any(trace.fill == "toself" for trace in figure.data):
        return "One line per arm: its mean; with one run per arm there is no interval to draw." + _pooling(data)
    runs = "replications" if data.points < 2 else "runs"
    text = f"One line per arm: its mean over {runs}; the band, its 95 % interval, spans the spread across {runs}"
    if _comparable(data)[0] is not None:
        text += (
            ", which is why bands overlap even where the effects versus the baseline are significant: those are paired "
            "differences from the baseline within each replication (common random numbers), where that spread cancels."
        )
    else:
        text += "."
    return text + _pooling(data)


def _time_figures(section: Section, data: ReportInput, captions: dict[str, str]) -> list[str]:
    """Add a time-series figure for each outcome of ``captions`` the results hold; return those they lack."""
    missing = []
    for outcome, caption in captions.items():
        if not _has(data, outcome):
            missing.append(outcome)
            continue
        figure = time_series_figure(data, outcome)
        coinciding = (
            f" {COINCIDING[outcome]}" if outcome in COINCIDING and data.kind == "experiment" and len(data.arms) > 1 else ""
        )
        section.figures.append((figure, f"{caption}{coinciding} {_bands(data, figure)}"))
    return missing


def _names(outcomes: list[str]) -> str:
    """Outcomes as people read them, each with its column name (what to look for in the results)."""
    return ", ".join(f"{outcome_label(outcome)} ({outcome})" for outcome in outcomes)


def time_series_section(data: ReportInput) -> Section:
    section = Section("Outcomes over time")
    missing = _time_figures(section, data, TIME_SERIES)
    if missing:
        who = "the experiment did not keep them" if data.kind == "experiment" else "this run did not record them"
        section.note = f"Not in these results ({who}): {_names(missing)}."
    return section


def _comparable(data: ReportInput) -> tuple[pd.DataFrame | None, str]:
    """The (pooled) results of the scenarios that have a baseline run to compare their arms with, and a note naming the
    scenarios left out (e.g. every baseline run of one failed) - or None and why nothing can be compared."""
    if data.kind == "run":
        return None, (
            "A single run has no baseline to compare with: effects need an experiment (pairsim compare) that runs a "
            "no-pairing baseline arm beside the pairing arms, with the same random numbers."
        )
    results = data.pooled
    with_baseline = set(results.loc[results["arm"] == BASELINE, "scenario"])
    kept = results[results["scenario"].isin(with_baseline)]
    if kept["arm"].nunique() < 2:
        return None, "Needs an experiment with a baseline arm (with finished runs) and at least one other arm."
    lacking = [scenario for scenario in data.scenarios if scenario not in with_baseline]
    scenarios = "scenario" if len(lacking) == 1 else "scenarios"
    note = f"Left out, as no baseline run of theirs finished: {scenarios} {', '.join(lacking)}." if lacking else ""
    return kept, note


def _intervals(drawn: bool, promise: str) -> str:
    """A caption's promise of 95 % intervals, or saying there are none (one run per arm: no spread to measure)."""
    return promise if drawn else " With one run per arm there is no interval."


def forest_section(data: ReportInput) -> Section:
    title = "Effects versus the baseline"
    outcomes = [outcome for outcome in headline_outcomes() if _has(data, outcome)]
    results, note = _comparable(data)
    if results is None or not outcomes:
        return Section(title, note=note if results is None else "The results hold none of the headline outcomes.")
    if POSTERIOR_DRAW in results.columns:
        differences = analysis.posterior_differences(results, baseline=BASELINE, outcomes=outcomes)
        paired = (
            "paired by posterior draw and seed (common random numbers), as a percentage of the baseline. The bar is the 95 % "
            "interval of its mean over the posterior (a t interval over the draws' means, so it counts parameter "
            "uncertainty and noise); a bar that crosses the dotted line is not a clear effect."
        )
    else:
        differences = analysis.paired_differences(results, baseline=BASELINE, outcomes=outcomes)
        paired = "paired by replication (common random numbers), as a percentage of the baseline." + _intervals(
            differences["ci_low"].notna().any(),
            " The bar is its 95 % interval; a bar that crosses the dotted line is not a clear effect.",
        )
    caption = (
        "Each dot is an arm's final-year mean minus the baseline's, " + paired + _pooling(data) + _left_out(data, differences)
    )
    return Section(title, figures=[(forest_figure(differences, data.styles), caption)], note=note)


def _left_out(data: ReportInput, differences: pd.DataFrame) -> str:
    """Name the effects that have no percentage (baseline mean 0, or no pair of runs), which would vanish unsaid."""
    blank = differences[differences["baseline_mean"].fillna(0).eq(0) | differences["difference"].isna()]
    if blank.empty:
        return ""
    items = [
        f"{outcome_label(row.outcome)} for {data.styles.name(row.scenario, row.arm)} "
        f"({'no paired runs' if row.n == 0 else 'baseline mean 0'})"
        for row in blank.itertuples()
    ]
    return f" Not shown, as no percentage can be formed: {'; '.join(items)}."


def uncertainty_section(data: ReportInput) -> Section | None:
    """A posterior experiment's effects split into parameter uncertainty and noise, and whether each arm's ranking holds
    across the draws; None (no section at all) for other experiments."""
    if POSTERIOR_DRAW not in data.results.columns:
        return None
    title = "Parameter uncertainty and the ranking of arms"
    outcomes = [outcome for outcome in headline_outcomes() if _has(data, outcome)]
    results, note = _comparable(data)
    if results is None or not outcomes:
        return Section(title, note=note if results is None else "The results hold none of the headline outcomes.")
    try:
        split = analysis.posterior_differences(results, baseline=BASELINE, outcomes=outcomes)
        rankings = pd.concat([analysis.ranking_robustness(results, BASELINE, outcome) for outcome in outcomes], ignore_index=True)
    except ValueError as error:  # e.g. every run of one arm failed
        return Section(title, note=f"Not computed: {error}.")
    draws, seeds = int(split["draws"].max()), split["seeds"].max()
    split_caption = (
        f"Each of the {draws} posterior draws ran with {seeds:g} seeds in every arm. The spread of the effect one draw gives "
        "(its mean over those seeds) has two parts: how much the effect itself changes with the calibrated parameters, "
        "and run-to-run noise, told apart by a one-way random-effects analysis of variance. Solid: the parameters' share "
        "of that variance; pale: the noise's. Hover for the 95 % half-width from each."
    )
    ranking_caption = (
        "In each draw the arms are ranked by their effect (best: narrows the gap, or raises rural incomes, most), the "
        "run-to-run noise of the draw's few seeds shrunk out by an empirical-Bayes estimate, so what is left is how the "
        "calibrated parameters move the ranking; with few seeds a draw this can also hide a reversal. Left: share of "
        "draws in which an arm keeps the rank of its posterior-mean effect; its ranking holds right of the dashed line "
        f"({analysis.RANK_HOLDS:.0%}). Right: share of draws in which it ranks best."
    )
    return Section(
        title,
        figures=[
            (uncertainty_figure(split, data.styles), split_caption),
            (ranking_figure(rankings, data.styles, analysis.RANK_HOLDS), ranking_caption),
        ],
        note=note,
        table_html=_split_table(data, split) + _ranking_table(data, rankings),
    )


SPLIT_CELLS = ["mean", "95% CI", "one draw, 95% range", "± parameters", "± noise", "from parameters"]
RANKING_CELLS = ["rank", "keeps rank", "ranked best", "better than baseline", "holds"]


def _split_table(data: ReportInput, split: pd.DataFrame) -> str:
    """One row per arm and outcome: the posterior-mean effect with its interval and the one-draw range with its split."""
    return _arm_table(
        data,
        split,
        {"arm": lambda row: row["arm"], "outcome": lambda row: outcome_label(row["outcome"])},
        ["effect (mean over the posterior)", *SPLIT_CELLS[1:]],
        lambda row: _in_order(posterior_cells(row), SPLIT_CELLS),
    )


def _ranking_table(data: ReportInput, rankings: pd.DataFrame) -> str:
    """One row per outcome and arm: its rank, the shares of draws keeping that rank and ranking it best, and whether the
    ranking holds."""
    return _arm_table(
        data,
        rankings,
        {"outcome": lambda row: outcome_label(row["outcome"]), "arm": lambda row: row["arm"]},
        RANKING_CELLS,
        lambda row: _in_order(ranking_cells(row), RANKING_CELLS),
    )


def _in_order(cells: dict[str, str], keys: list[str]) -> list[str]:
    return [cells[key] for key in keys]


def _arm_table(
    data: ReportInput,
    frame: pd.DataFrame,
    labels: dict[str, Callable[[pd.Series], object]],
    numbers: list[str],
    cells: Callable[[pd.Series], list[str]],
) -> str:
    """An HTML table with one row per row of ``frame``: a scenario column when the experiment has several scenarios, the
    text columns ``labels`` (heading -> the row's text), then right-aligned columns headed ``numbers`` holding ``cells``."""
    if len(data.scenarios) > 1:
        labels = {"scenario": lambda row: row["scenario"], **labels}
    head = "".join(f"<th>{_text(heading)}</th>" for heading in [*labels, *numbers])
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{_text(label(row))}</td>" for label in labels.values())
        + "".join(f'<td class="number">{_text(cell)}</td>' for cell in cells(row))
        + "</tr>"
        for _, row in frame.iterrows()
    )
    return f'<table class="data"><tr>{head}</tr>{rows}</table>'


def _one_figure_section(
    title: str, data: ReportInput, columns: list[str], missing: str, build: Callable[[ReportInput], go.Figure], caption: str
) -> Section:
    """A section of one figure drawn from ``columns``, or the ``missing`` note when the results lack them."""
    if not _has(data, *columns):
        return Section(title, note=missing)
    return Section(title, figures=[(build(data), caption)])


def lorenz_section(data: ReportInput) -> Section:
    if data.kind == "run":
        which = "this run"
    else:
        which = "mean over replications" if data.points < 2 else "mean over runs"
    section = _one_figure_section(
        "Lorenz curves",
        data,
        list(LORENZ_KEYS),
        "These results have no Lorenz points (lorenz_p10 … lorenz_p90); runs made with this version record them.",
        lorenz_figure,
        "The share of all residents' income (urban and rural) held by the poorest part of the population, at the start and in "
        f"the final year ({which}). The closer a curve is to the dotted diagonal, the more equal the county.",
    )
    for index, (figure, caption) in enumerate(section.figures):
        if any(trace.xaxis == "x2" for trace in figure.data):
            caption += (
                " The arms' curves nearly coincide (each is drawn narrower than the one beneath it), so the right panel "
                "shows each arm's final-year curve minus the baseline's, in percentage points: above zero, the poorer part "
                "of the population holds more of the income than without pairing."
            )
        section.figures[index] = (figure, caption + _pooling(data))
    return section


def theil_section(data: ReportInput) -> Section:
    return _one_figure_section(
        "Theil decomposition",
        data,
        ["theil_t", "theil_t_between"],
        f"Needs {_names(['theil_t', 'theil_t_between'])} in the results.",
        theil_figure,
        "Theil T splits exactly into the part due to the gap between the urban and rural means (solid) and the part due to "
        "inequality among urban and among rural residents (dashed). Pairing mainly works on the first." + _pooling(data),
    )


def villages_section(data: ReportInput) -> Section:
    section = Section("Weak and hollow villages")
    captions = {
        "weak_villages": "Villages whose 12-month collective income is below the weak (薄弱村) threshold.",
        "hollow_villages": "Villages with almost no collective income (空壳村, below the hollow threshold; also counted as weak).",
    }
    _time_figures(section, data, captions)
    if not section.figures:
        section.note = "The results hold no village counts."
    return section


def flows_section(data: ReportInput) -> Section:
    section = Section("Who funds whom")
    if data.funds_by_kind.empty:
        section.note = f"No flows to show: {data.funds_note or 'no pairing funds'}."
        return section
    per = " (mean per run of each arm)" if data.kind == "experiment" else ""
    diagrams = len(data.funds_by_kind[["scenario", "arm"]].drop_duplicates())
    choose = "arm" if len(data.scenarios) == 1 else "scenario and arm"
    caption = (
        f"Pairing funds sent over the whole run{per}, from each kind of donor (left) to villages that were weak when their "
        "link began and to other villages (right). Each pairing type has its donors: departments and communities "
        "(city–village), enterprises (village–enterprise), strong villages (strong–weak), cooperatives (industry chain). "
        "Training, jobs and cadres are not funds and are not shown. Node labels stand in for a legend"
        + (f"; choose the {choose} above." if diagrams > 1 else ".")
        + _pooling(data)
    )
    section.figures.append((sankey_figure(data), caption))
    return section


def cost_section(data: ReportInput) -> Section:
    title = "Cost-effectiveness"
    results, note = _comparable(data)
    if results is None or not _has(data, "gini"):
        return Section(title, note=note if results is None else f"Needs {_names(['gini'])} in the results.")
    try:
        cost, basis_note = cost_basis(results)
    except ValueError as error:
        return Section(title, note=f"Needs the donors' cost: {error}.")
    costs = analysis.cost_effectiveness(results, baseline=BASELINE, outcome="gini", cost=cost)
    what = f"donor cost over the run ({EVERY_FLOW})" if cost == DONOR_COST else "pairing funds over the run"
    caption = (
        f"Each arm's {what} against how much it lowered the final-year Gini compared with the baseline."
        + _intervals(costs["reduction_ci_low"].notna().any(), " Bars are 95 % intervals.")
        + " The table gives yuan per 0.001 of Gini reduced where the reduction is significant, and otherwise says why not."
        + _pooling(data)
    )
    if basis_note:
        note = f"{note} {basis_note[0].upper()}{basis_note[1:]}.".strip()
    figure = cost_figure(costs, data.styles, COST_NAMES[cost])
    return Section(title, figures=[(figure, caption)], note=note, table_html=_cost_table(data, costs, COST_NAMES[cost]))


def _cost_table(data: ReportInput, costs: pd.DataFrame, cost_name: str) -> str:
    """One row per arm (per scenario and arm when there are several scenarios), its cost headed by ``cost_name``."""
    numbers = [f"{cost_name} (yuan per run)", "Gini reduction, 0–1 scale [95% CI]", "yuan per 0.001 Gini"]
    return _arm_table(data, costs, {"arm": lambda row: row["arm"]}, numbers, _cost_cells)


def _cost_cells(row: pd.Series) -> list[str]:
    """One arm's cost, Gini reduction with its interval, and yuan per 0.001 Gini - or, where that is not defined, why."""
    cells = cost_cells(row)
    return [cells["cost"], f"{cells['Gini reduction']} {cells['95% CI']}", cells["yuan per 0.001 Gini"]]


def network_section(data: ReportInput) -> Section:
    section = Section("Pairing network")
    if data.network is None:
        section.note = f"Not shown: {data.network_note or 'no pairing graph'}."
        return section
    graph, funds, what = data.network
    caption = (
        "Each joint branch (diamond) joins its donors to its villages. Colour gives the kind of organisation; size grows with "
        f"the funds through the node ({_text(what)}). Hover for names; drag to zoom."
    )
    section.figures.append((network_figure(graph, funds, what), caption))
    return section


def sensitivity_section(data: ReportInput) -> Section | None:
    """Sobol or Morris indices for sweeps; None (no section at all) for folders without such a design."""
    design = data.design
    if design is None or design.method not in ("sobol", "morris"):
        return None
    section = Section(f"Sensitivity ({design.method})")
    problem = salib_problem(design)
    notes = []
    for arm in pd.unique(data.results["arm"]):
        if arm == BASELINE:
            continue
        for outcome in [o for o in SENSITIVITY_OUTCOMES if _has(data, o)]:
            try:
                if design.method == "sobol":
                    table = analysis.sobol_indices(
                        data.results, problem["names"], problem["bounds"], outcome, calc_second_order=False, arm=arm, seed=0
                    )
                else:
                    table = analysis.morris_indices(
                        data.results, problem["names"], problem["bounds"], outcome, num_levels=design.levels, arm=arm, seed=0
                    )
            except ValueError as error:  # e.g. a sweep with unfinished design points
                notes.append(f"{outcome_label(outcome)}, arm {arm}: {error}")
                continue
            caption = (
                "How much of the spread of the final-year outcome across the design each parameter explains alone (S1) and "
                "with its interactions (ST), in percent of its variance; bars are 95 % bootstrap intervals."
                if design.method == "sobol"
                else "Parameters far to the right matter most (μ*); high σ means a non-linear effect or interactions."
            )
            if design.method == "sobol" and not sobol_varies(table):
                caption += f" No variation: {outcome_label(outcome)} is the same at every design point, so it has no variance to share out and no bars."
            section.figures.append((sensitivity_figure(table, design.method, outcome, arm), caption))
    if notes:
        section.note = "Not computed: " + "; ".join(notes)
    return section


def discovery_section(data: ReportInput) -> Section | None:
    """What pairsim discover found in this folder (sim/report/discovery.py); None (no section) where it has not run."""
    parts = discovery_parts(data.folder) if data.kind == "experiment" else None
    if parts is None:
        return None
    figures, note, table = parts
    return Section("Scenario discovery: where pairing fails", figures=figures, note=note, table_html=table)


SECTIONS: list[Callable[[ReportInput], Section | None]] = [
    overview_section,
    time_series_section,
    forest_section,
    uncertainty_section,
    lorenz_section,
    theil_section,
    villages_section,
    flows_section,
    cost_section,
    network_section,
    sensitivity_section,
    discovery_section,
]


# --------------------------------------------------------------------------- HTML


STYLE = """
body { font-family: "Noto Sans", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       max-width: 1100px; margin: 0 auto; padding: 1em 2em; color: #222; }
h1 { font-size: 1.7em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
.caption { color: #555; font-size: .92em; margin: .2em 0 1.6em 0; }
.note { color: #8a5a00; background: #fff6e0; padding: .5em .8em; border-radius: 4px; }
table { border-collapse: collapse; margin: .6em 0 1.2em 0; font-size: .92em; }
th, td { text-align: left; padding: .25em .8em; border-bottom: 1px solid #eee; vertical-align: top; }
table.overview th { color: #555; font-weight: normal; white-space: nowrap; }
.figure { width: 100%; }
td.number { text-align: right; white-space: nowrap; }
"""


def render_html(data: ReportInput, sections: list[Section]) -> str:
    """The whole report as one HTML document, plotly.js embedded once in the head."""
    return render_page(data.title, data.folder, _intervals_said(data), sections)


def render_page(title: str, folder: object, how_to_read: str, sections: list[Section]) -> str:
    """A report page of any results folder: the sections under one heading, figures numbered in order, plotly.js
    embedded once in the head. ``how_to_read`` (HTML) says what the page's intervals are; the rest is shared so the
    experiment and calibration reports look and read alike."""
    body = []
    figure_number = 0
    for section in sections:
        body.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.table_html and section.title == "Overview":
            body.append(section.table_html)
        for figure, caption in section.figures:
            figure_number += 1
            div = figure.to_html(
                full_html=False,
                include_plotlyjs=False,
                div_id=f"figure-{figure_number}",
                config={"displaylogo": False, "responsive": True},
            )
            body.append(f'<div class="figure">{div}</div><p class="caption">Figure {figure_number}. {caption}</p>')
        if section.table_html and section.title != "Overview":
            body.append(section.table_html)
        if section.note:
            body.append(f'<p class="note">{html.escape(section.note)}</p>')
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)} {REPORT_TITLE_END}</title>\n<style>{STYLE}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f"<h1>{_text(title)}</h1>\n"
        "<p>Made by <code>pairsim report</code> from <code>"
        f"{_text(folder)}</code>. {how_to_read} Every figure is interactive "
        "(hover, zoom, click legend entries to hide them).</p>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _intervals_said(data: ReportInput) -> str:
    if data.kind == "run":
        return "One run of one scenario: one draw of the county's randomness, so there are no intervals."
    if POSTERIOR_DRAW in data.results.columns:
        return "Intervals are 95 % t intervals over replications; effects' intervals are over the posterior draws' means."
    return "Intervals are 95 % t intervals over replications."


def build_report(folder: str | Path) -> str:
    """The report of ``folder`` as an HTML string."""
    data = load_report_input(folder)
    sections = [section for build in SECTIONS if (section := build(data)) is not None]
    return render_html(data, sections)


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Build the report of ``folder`` and write it atomically (default: ``folder/report.html``); returns its path."""
    return write_page(folder, out, build_report)


def write_page(folder: str | Path, out: str | Path | None, build: Callable[[str | Path], str]) -> Path:
    """Write the page ``build`` makes of ``folder`` atomically (built first, so a failure leaves any old report whole);
    the default place is ``folder/report.html``. Returns its path."""
    target = Path(out) if out is not None else Path(folder) / "report.html"
    text = build(folder)
    write_atomically(target, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    return target
