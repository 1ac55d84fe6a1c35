"""The optimisation report's Plotly figures, one function each, drawn from an optimisation folder's tables (so a
notebook can draw them too): the front of fall against planned cost with the shipped heuristics marked, the map of a
plan's pairs, and the out-of-sample check as a forest plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.experiment import BASELINE
from sim.formatting import d3_format, format_interval, format_outcome, outcome_label, unit_of
from sim.pairing.registry import donor_kinds, policy_types
from sim.report.figures import _layout
from sim.report.styles import _colour, _rgba, _text

HEURISTIC_MARKS = {
    "h-greedy": ("diamond", "#d62728", "greedy need rank"),
    "h-typed": ("square", "#ff7f0e", "Xiuzhou's typed rule"),
    "h-random": ("triangle-up", "#8c564b", "random matching"),
}
"""How each shipped heuristic is marked on the front: symbol, colour and what it is (another arm gets a star)."""

VERDICT_COLOURS = {"better": "#2ca02c", "not better": "#7f7f7f", "worse": "#d62728"}
"""The out-of-sample verdicts' colours: better, no clear difference, worse."""

TRIAL_COLOUR = "rgba(127,127,127,0.45)"
WEAK_EDGE = "rgba(60,60,60,1)"
"""The ring of a weak village, paired or not."""
UNKNOWN_COLOUR = "#7f7f7f"
"""A plan link of a policy type or donor kind this version does not register."""


def plan_name(trial: object) -> str:
    """A trial's plan as the folder names it: ``t0007``."""
    return f"t{int(trial):04d}"


def against_name(arm: str) -> str:
    return "no pairing" if arm == BASELINE else str(arm)


def verdict_kind(verdict: object) -> str:
    """``better``, ``worse`` or ``not better`` (the table words the last as "not better (no clear difference)")."""
    text = str(verdict).strip().lower()
    return "better" if text.startswith("better") else "worse" if text.startswith("worse") else "not better"


# --------------------------------------------------------------------------- the front


def front_figure(
    trials: pd.DataFrame,
    reference: pd.DataFrame | None,
    fall: str,
    checked: list[int],
    budget: float | None = None,
    zero_is_no_pairing: bool = True,
) -> go.Figure:
    """Every trial as a point (planned cost a year against the fall of ``fall``, a ``fall:<outcome>`` column), the
    Pareto front (``on_front``) as a step line, the checked plans ringed and named, the heuristics of ``reference``
    marked each with its own symbol, and the budget as a dashed line."""
    outcome = fall.removeprefix("fall:")
    unit_format = d3_format(unit_of(outcome))
    others = [column for column in trials.columns if column.startswith("fall:") and column != fall]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=trials["cost"],
            y=trials[fall],
            mode="markers",
            marker={"color": TRIAL_COLOUR, "size": 7},
            name="plan tried",
            customdata=np.column_stack([trials["trial"].map(plan_name), trials.get("pairs", pd.Series(np.nan, trials.index))]),
            text=[_other_falls(row, others) for _, row in trials.iterrows()],
            hovertemplate=(
                f"%{{customdata[0]}}: fall %{{y:{unit_format}}}, %{{x:,.0f}} yuan a year, %{{customdata[1]:.0f}} branches"
                "%{text}<extra></extra>"
            ),
        )
    )
    front = trials[trials["on_front"]].sort_values("cost")
    if not front.empty:
        figure.add_trace(
            go.Scatter(
                x=front["cost"],
                y=front[fall],
                mode="lines",
                line={"color": _colour(0), "width": 2, "shape": "hv"},
                name="Pareto front",
                hoverinfo="skip",
            )
        )
    chosen = trials[trials["trial"].isin(checked)]
    if not chosen.empty:
        figure.add_trace(
            go.Scatter(
                x=chosen["cost"],
                y=chosen[fall],
                mode="markers+text",
                marker={"color": _colour(0), "size": 13, "symbol": "circle-open", "line": {"width": 3}},
                text=chosen["trial"].map(plan_name),
                textposition="top left",
                name="checked out of sample",
                hovertemplate=f"%{{text}} (checked): fall %{{y:{unit_format}}}, %{{x:,.0f}} yuan a year<extra></extra>",
            )
        )
    if reference is not None and fall in reference.columns:
        for _, row in reference.iterrows():
            symbol, colour, words = HEURISTIC_MARKS.get(str(row["arm"]), ("star", "#17becf", "the scenario's own plan"))
            figure.add_trace(
                go.Scatter(
                    x=[row["cost"]],
                    y=[row[fall]],
                    mode="markers+text",
                    marker={"color": colour, "size": 14, "symbol": symbol, "line": {"color": "black", "width": 1}},
                    text=[_text(row["arm"])],
                    textposition="bottom right",
                    name=f"{_text(row['arm'])}: the scenario's plan, {words}",
                    hovertemplate=f"{_text(row['arm'])} ({words}): fall %{{y:{unit_format}}}, %{{x:,.0f}} yuan a year<extra></extra>",
                )
            )
    if budget is not None:
        figure.add_vline(
            x=budget, line={"color": "black", "dash": "dash"}, annotation_text="budget", annotation_position="top right"
        )
    if zero_is_no_pairing:
        figure.add_hline(
            y=0, line={"color": "grey", "dash": "dot"}, annotation_text="no pairing", annotation_position="bottom left"
        )
    _layout(
        figure,
        f"The front: fall in {outcome_label(outcome)} against planned cost",
        "planned donor cost (yuan a year, start-year prices)",
        f"fall in {outcome_label(outcome)}",
        height=520,
        legend="",
    )
    figure.update_xaxes(tickformat="~s", rangemode="tozero")
    figure.update_yaxes(hoverformat=unit_format)
    figure.update_layout(hovermode="closest")
    return figure


def _other_falls(row: pd.Series, columns: list[str]) -> str:
    """A trial's other objectives, for its hover text."""
    parts = [
        f"{outcome_label(c.removeprefix('fall:'))} {format_outcome(row[c], c.removeprefix('fall:'), difference=True)}"
        for c in columns
    ]
    return ("<br>other falls: " + "; ".join(parts)) if parts else ""


# --------------------------------------------------------------------------- the map of a plan


def _type_colour(name: str) -> str:
    known = policy_types().get(name)
    return known.colour if known else UNKNOWN_COLOUR


def _type_label(name: str) -> str:
    known = policy_types().get(name)
    return known.label if known else name


def plan_map_figure(plan: pd.DataFrame, villages: pd.DataFrame | None, title: str) -> go.Figure:
    """One plan's pairs on the county: every village a small grey dot (weak ones ringed), each paired village coloured
    by its policy type (ringed dark grey where weak), each donor with a place a square in its kind's colour, and a line from donor to village."""
    figure = go.Figure()
    weak_names = set(villages.loc[villages["weak"].astype(bool), "village"]) if villages is not None else set()
    if villages is not None:
        weak = villages["weak"].astype(bool).to_numpy()
        for mask, name, marker in (
            (~weak, "village", {"color": "rgba(160,160,160,0.6)", "size": 4}),
            (weak, "weak village (薄弱村)", {"color": "rgba(90,90,90,0.9)", "size": 7, "symbol": "circle-open"}),
        ):
            rows = villages[mask]
            figure.add_trace(
                go.Scatter(
                    x=rows["x_km"],
                    y=rows["y_km"],
                    mode="markers",
                    marker=marker,
                    name=name,
                    text=[_text(v) for v in rows["village"]],
                    customdata=rows.get("need"),
                    hovertemplate="%{text}" + ("<br>need %{customdata:.2f}" if "need" in rows else "") + "<extra></extra>",
                )
            )
    labels = plan["label"] if "label" in plan.columns else plan["type"]
    for (label, kind), links in plan.groupby([labels, plan["type"]], sort=False):
        colour = _type_colour(kind)
        placed = links[links[["donor_x_km", "donor_y_km"]].notna().all(axis=1)]
        xs, ys = _segments(placed, "donor_x_km", "village_x_km"), _segments(placed, "donor_y_km", "village_y_km")
        group = f"{label}|{kind}"
        name = _text(_type_label(kind)) if label == kind else f"{_text(label)} ({_text(_type_label(kind))})"
        if len(placed):
            figure.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={"color": _rgba(colour, 0.55), "width": 1},
                    name=f"{name}: donor → village",
                    legendgroup=group,
                    hoverinfo="skip",
                )
            )
        figure.add_trace(
            go.Scatter(
                x=links["village_x_km"],
                y=links["village_y_km"],
                mode="markers",
                marker={
                    "color": colour,
                    "size": 9,
                    "line": {
                        "color": [WEAK_EDGE if village in weak_names else "white" for village in links["village"]],
                        "width": 1.5,
                    },
                },
                name=f"{name}: paired village",
                legendgroup=group,
                text=[_link_text(row) for _, row in links.iterrows()],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    donors = plan.dropna(subset=["donor_x_km", "donor_y_km"]).drop_duplicates(subset=["donor", "donor_x_km", "donor_y_km"])
    kinds = donors["donor_kind"] if "donor_kind" in donors.columns else pd.Series("donor", index=donors.index)
    for kind, rows in donors.groupby(kinds, sort=False):
        known = donor_kinds().get(kind)
        figure.add_trace(
            go.Scatter(
                x=rows["donor_x_km"],
                y=rows["donor_y_km"],
                mode="markers",
                marker={
                    "color": known.colour if known else UNKNOWN_COLOUR,
                    "size": 10,
                    "symbol": "square",
                    "line": {"color": "black", "width": 1},
                },
                name=f"donor: {_text(known.label if known else kind)}",
                text=[_text(d) for d in rows["donor"]],
                hovertemplate="donor %{text}<extra></extra>",
            )
        )
    _layout(figure, title, "x (km)", "y (km)", height=640, legend="")
    figure.update_yaxes(scaleanchor="x", scaleratio=1)
    figure.update_layout(hovermode="closest")
    return figure


def _segments(links: pd.DataFrame, start: str, end: str) -> list[float | None]:
    """Line segments start → end, one per link, separated by gaps (one trace draws them all)."""
    points: list[float | None] = []
    for a, b in zip(links[start], links[end], strict=True):
        points += [float(a), float(b), None]
    return points


def _link_text(row: pd.Series) -> str:
    """A paired village's hover text: who pairs it under which policy, and the link's numbers the plan keeps."""
    label = row["label"] if "label" in row.index else row["type"]
    text = f"{_text(row['village'])} ← {_text(row['donor'])}<br>{_text(label)} ({_text(_type_label(row['type']))})"
    details = [
        f"{name} {row[name]:.2f}"
        for name in ("benefit", "need", "strength", "proximity")
        if name in row.index and pd.notna(row[name])
    ]
    if "planned_cost" in row.index and pd.notna(row["planned_cost"]):
        details.append(f"planned cost {row['planned_cost']:,.0f} yuan a year")
    if pd.isna(row["donor_x_km"]) or pd.isna(row["donor_y_km"]):
        details.append("donor has no place on the map")
    return text + ("<br>" + "; ".join(details) if details else "")


# --------------------------------------------------------------------------- the out-of-sample check


def out_of_sample_figure(table: pd.DataFrame, outcomes: list[str]) -> go.Figure:
    """Per checked plan, its paired difference in the fall of each outcome (one panel each) against no pairing and each
    heuristic, with its 95 % interval, coloured by the verdict; right of the zero line the plan narrows more."""
    outcomes = [outcome for outcome in outcomes if (table["outcome"] == outcome).any()]
    figure = make_subplots(
        rows=1,
        cols=len(outcomes),
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=[f"fall in {_text(outcome_label(outcome))}" for outcome in outcomes],
    )
    rows = table.assign(
        row=[
            f"{_text(plan)} − {_text(against_name(against))}"
            for plan, against in zip(table["plan"], table["against"], strict=True)
        ],
        kind=table["verdict"].map(verdict_kind),
    )
    order = list(dict.fromkeys(rows["row"]))
    shown: set[str] = set()
    for column, outcome in enumerate(outcomes, start=1):
        for kind, colour in VERDICT_COLOURS.items():
            part = rows[(rows["outcome"] == outcome) & (rows["kind"] == kind)]
            if part.empty:
                continue
            figure.add_trace(
                go.Scatter(
                    x=part["difference"],
                    y=part["row"],
                    mode="markers",
                    marker={"color": colour, "size": 10, "symbol": "diamond" if kind == "better" else "circle"},
                    error_x={
                        "type": "data",
                        "symmetric": False,
                        "array": (part["high"] - part["difference"]).to_numpy(float),
                        "arrayminus": (part["difference"] - part["low"]).to_numpy(float),
                        "color": colour,
                    },
                    name=kind,
                    legendgroup=kind,
                    showlegend=kind not in shown,
                    text=[_check_text(row, outcome) for _, row in part.iterrows()],
                    hovertemplate="%{y}<br>%{text}<extra></extra>",
                ),
                row=1,
                col=column,
            )
            shown.add(kind)
        figure.add_vline(x=0, line={"color": "grey", "dash": "dot"}, row=1, col=column)
        figure.update_xaxes(title_text="plan minus the other", hoverformat=d3_format(unit_of(outcome)), row=1, col=column)
    figure.update_yaxes(categoryorder="array", categoryarray=order, autorange="reversed", type="category")
    figure.update_layout(
        title={"text": "Out of sample: each checked plan's fall minus the heuristics' and no pairing's"},
        height=160 + 34 * max(len(order), 1),
        template="plotly_white",
        margin={"l": 160, "r": 30, "t": 90, "b": 60},
        legend={"title": {"text": "verdict"}},
        hovermode="closest",
    )
    return figure


def _check_text(row: pd.Series, outcome: str) -> str:
    unit = unit_of(outcome)
    difference = format_outcome(row["difference"], outcome, difference=True)
    interval = format_interval(row["low"], row["high"], unit, difference=True)
    share = f"{row['share_better']:.0%}" if pd.notna(row.get("share_better")) else "—"
    return (
        f"{difference} {interval} more fall; the plan's fall larger in {share} of {int(row['n'])} seeds"
        f"<br>verdict: <b>{_text(row['verdict'])}</b>"
    )


__all__ = [
    "HEURISTIC_MARKS",
    "VERDICT_COLOURS",
    "against_name",
    "front_figure",
    "out_of_sample_figure",
    "plan_map_figure",
    "plan_name",
    "verdict_kind",
]
