"""The report's Plotly figures, one function each; they take a ``ReportInput`` or an analysis table, so the notebooks
can draw the same figures as the report."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim import analysis
from sim.analysis import RECIPIENT_CLASSES
from sim.experiment import BASELINE
from sim.formatting import d3_format, format_interval, format_outcome, outcome_label, unit_of
from sim.outcome_registry import LORENZ_KEYS, LORENZ_SHARES, OUTCOMES
from sim.report.inputs import ReportInput
from sim.report.styles import JOINT_BRANCH, SYMBOLS, NodeKind, Styles, _colour, _rgba, _text, node_kinds

RECIPIENT_COLOURS = {"weak": "#d62728", "other": "#7f7f7f"}
"""The Sankey's recipient nodes: villages weak when paired in red, the others grey (keys of RECIPIENT_CLASSES)."""


def _node_kinds(present: set[str]) -> dict[str, NodeKind]:
    """The node kinds among ``present``, in the registry's order; a kind no longer registered (in an old results folder)
    is named by its key and drawn grey rather than dropped."""
    known = node_kinds()
    return {
        **{kind: entry for kind, entry in known.items() if kind in present},
        **{kind: NodeKind(kind, "#7f7f7f") for kind in sorted(present - set(known))},
    }


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str, height: int = 420, legend: str = "arm") -> go.Figure:
    figure.update_layout(
        title={"text": title},
        xaxis_title=x_title,
        yaxis_title=y_title,
        showlegend=True,
        legend={"title": {"text": legend}},
        height=height,
        margin={"l": 70, "r": 30, "t": 60, "b": 60},
        template="plotly_white",
        hovermode="x unified",
    )
    return figure


def _time_label(data: ReportInput) -> str:
    return "month" if data.kind == "run" else "year"


def _legend(data: ReportInput) -> str:
    """The legend's title: an experiment's lines are arms; a single run's one line (named "run") needs none."""
    return "arm" if data.kind == "experiment" else ""


def _value_axis(figure: go.Figure, unit: str, **where) -> go.Figure:
    """Hover values in the unit's one format (sim.formatting); shares on a percent axis."""
    figure.update_yaxes(hoverformat=d3_format(unit), **where)
    if unit == "share":
        figure.update_yaxes(tickformat=".1%", **where)
    return figure


def _times(data: ReportInput, years: pd.Series) -> pd.Series:
    """Time-axis values: years, or for a single run's monthly steps (fractional years) the first day of each month,
    so that hovering names the month rather than the year twelve times."""
    if data.kind != "run":
        return years
    values = years.to_numpy(float)
    whole = np.floor(values + 1e-9).astype(int)
    return pd.to_datetime(pd.DataFrame({"year": whole, "month": np.rint((values - whole) * 12).astype(int) + 1, "day": 1}))


def _time_axis(figure: go.Figure, data: ReportInput) -> go.Figure:
    """Ticks on whole years; a single run's hover shows month and year."""
    if data.kind == "run":
        return figure.update_xaxes(tickformat="%Y", dtick="M12", hoverformat="%b %Y")
    return figure.update_xaxes(tickformat="d", dtick=1)


def time_series_figure(data: ReportInput, outcome: str) -> go.Figure:
    """Mean of ``outcome`` per scenario, arm and year over the runs (a sweep's points pooled), with its 95 % interval as a
    band where there are several runs."""
    table = analysis.time_series(data.pooled, outcome)
    figure = go.Figure()
    for (scenario, arm), rows in table.groupby(["scenario", "arm"], sort=False):
        rows = rows[rows["mean"].notna()]  # a run's yearly-only outcomes have values at reporting points alone
        name, times = data.styles.name(scenario, arm), _times(data, rows["year"])
        if rows["ci_low"].notna().any():
            figure.add_trace(
                go.Scatter(
                    x=[*times, *times[::-1]],
                    y=[*rows["ci_high"], *rows["ci_low"][::-1]],
                    fill="toself",
                    mode="lines",
                    fillcolor=data.styles.colour(arm, 0.18),
                    line={"width": 0},
                    hoverinfo="skip",
                    legendgroup=name,
                    name=f"{name} 95% interval",
                    showlegend=False,
                )
            )
        figure.add_trace(
            go.Scatter(
                x=times,
                y=rows["mean"],
                mode="lines+markers" if data.kind == "experiment" else "lines",
                line=data.styles.line(scenario, arm),
                legendgroup=name,
                name=name,
            )
        )
    known = OUTCOMES[outcome]
    _value_axis(figure, known.unit)
    return _time_axis(_layout(figure, known.label, _time_label(data), known.axis, legend=_legend(data)), data)


def forest_figure(differences: pd.DataFrame, styles: Styles | None = None) -> go.Figure:
    """Final-year effect of each scenario's arms on each headline outcome, as % of the baseline, with its 95 % interval
    (``differences`` from :func:`sim.analysis.paired_differences`)."""
    styles = styles or Styles.of(differences)
    figure = go.Figure()
    labels = {outcome: outcome_label(outcome) for outcome in differences["outcome"].unique()}
    for (scenario, arm), rows in differences.groupby(["scenario", "arm"], sort=False):
        scale = 100.0 / rows["baseline_mean"].where(rows["baseline_mean"] != 0)
        effect, low, high = rows["difference"] * scale, rows["ci_low"] * scale, rows["ci_high"] * scale
        figure.add_trace(
            go.Scatter(
                x=effect,
                y=[labels[o] for o in rows["outcome"]],
                mode="markers",
                marker=styles.marker(scenario, arm, 9),
                error_x={"type": "data", "symmetric": False, "array": high - effect, "arrayminus": effect - low},
                name=styles.name(scenario, arm),
                text=[_effect_text(row) for row in rows.itertuples()],
                hovertemplate="%{y}: %{x:.2f} % of the baseline<br>%{text}<extra>%{fullData.name}</extra>",
            )
        )
    figure.add_vline(x=0, line={"color": "grey", "dash": "dot"})
    figure.update_yaxes(autorange="reversed")
    _layout(
        figure,
        "Final-year effect of each arm versus the baseline",
        "difference from the baseline (% of the baseline mean)",
        "outcome",
        height=120 + 45 * len(labels),
    )
    figure.update_layout(hovermode="closest", scattermode="group")
    return figure


def _effect_text(row) -> str:
    """An effect's hover text in its outcome's unit: difference, interval and number of pairs."""
    unpaired = "no paired runs"
    difference = format_outcome(row.difference, row.outcome, unpaired, difference=True)
    interval = format_interval(
        row.ci_low, row.ci_high, unit_of(row.outcome), unpaired if row.n == 0 else "no interval", difference=True
    )
    return f"difference {difference} {interval}, n = {row.n}"


def lorenz_figure(data: ReportInput) -> go.Figure:
    """Lorenz curves of all residents' income at the start (common to every arm of a scenario) and the final year, per
    scenario and arm; with a baseline and other arms, a second panel draws each arm's final-year curve minus the
    baseline's (percentage points), since the curves themselves nearly coincide."""
    columns = list(LORENZ_KEYS)
    yearly = data.results[np.isclose(data.results["year"] % 1, 0)]
    start, end = yearly["year"].min(), yearly["year"].max()
    shares = [0.0, *LORENZ_SHARES, 1.0]
    means = yearly[yearly["year"] == end].groupby(["scenario", "arm"], sort=False)[columns].mean()
    differences = _lorenz_differences(means)
    figure = (
        make_subplots(
            rows=1,
            cols=2,
            column_widths=[0.55, 0.45],
            horizontal_spacing=0.12,
            subplot_titles=["curves", f"final year ({int(end)}) minus the baseline"],
        )
        if differences
        else go.Figure()
    )
    cell = {"row": 1, "col": 1} if differences else {}
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "lightgrey", "dash": "dot"}, name="perfect equality"), **cell
    )
    for index, (scenario, rows) in enumerate(yearly[yearly["year"] == start].groupby("scenario", sort=False)):
        where = "" if len(data.scenarios) == 1 else f"{_text(scenario)} · "
        figure.add_trace(
            go.Scatter(
                x=shares,
                y=[0.0, *rows[columns].mean(), 1.0],
                mode="lines+markers",
                line={"color": "black", "dash": "dash"},
                marker={"symbol": SYMBOLS[index % len(SYMBOLS)]},
                name=f"{where}start ({int(start)})",
            ),
            **cell,
        )
    for (scenario, arm), values in means.iterrows():
        name = data.styles.name(scenario, arm)
        figure.add_trace(
            go.Scatter(
                x=shares,
                y=[0.0, *values, 1.0],
                mode="lines+markers",
                line=data.styles.line(scenario, arm),
                legendgroup=name,
                name=f"{name}, {int(end)}",
            ),
            **cell,
        )
    for (scenario, arm), values in differences.items():
        name = data.styles.name(scenario, arm)
        figure.add_trace(
            go.Scatter(
                x=list(LORENZ_SHARES),
                y=100 * values,
                mode="lines+markers",
                line=data.styles.line(scenario, arm),
                marker=data.styles.marker(scenario, arm, 7),
                legendgroup=name,
                showlegend=False,
                name=f"{name} minus baseline",
                hovertemplate="poorest %{x:.0%}: %{y:+.2f} percentage points",
            ),
            row=1,
            col=2,
        )
    if differences:
        figure.add_hline(y=0, line={"color": "grey", "dash": "dot"}, row=1, col=2)
    _layout(
        figure,
        "Lorenz curves of income, all residents",
        "population share, poorest first (%)",
        "share of all income (%)",
        height=480,
        legend="curve",
    )
    figure.update_layout(hovermode="closest")
    figure.update_xaxes(range=[0, 1], tickformat=".0%", hoverformat=".0%")
    figure.update_yaxes(range=[0, 1], tickformat=".0%", hoverformat=".1%", **cell)
    if differences:
        figure.update_xaxes(title_text="population share, poorest first (%)", row=1, col=2)
        figure.update_yaxes(title_text="difference in share of income (percentage points)", row=1, col=2)
    return figure


def _lorenz_differences(means: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """Each arm's mean final-year Lorenz points minus its scenario's baseline's (shares; empty without a baseline)."""
    differences = {}
    for (scenario, arm), values in means.iterrows():
        if arm != BASELINE and (scenario, BASELINE) in means.index:
            differences[(scenario, arm)] = values - means.loc[(scenario, BASELINE)]
    return differences


def theil_figure(data: ReportInput) -> go.Figure:
    """Theil T split into the urban–rural gap (between, solid) and inequality within each side (dashed), per scenario and
    arm over time; several scenarios are told apart by marker symbols, as dashes already mean the part."""
    results = data.pooled.assign(theil_t_within_=data.pooled["theil_t"] - data.pooled["theil_t_between"])
    table = analysis.time_series(results, ["theil_t_between", "theil_t_within_"])
    parts = {"theil_t_between": ("between urban and rural", "solid"), "theil_t_within_": ("within urban and rural", "dash")}
    figure = go.Figure()
    for (scenario, arm, outcome), rows in table.groupby(["scenario", "arm", "outcome"], sort=False):
        rows = rows[rows["mean"].notna()]  # a run computes Theil T at yearly reporting points unless asked monthly
        name, (part, dash) = data.styles.name(scenario, arm), parts[outcome]
        figure.add_trace(
            go.Scatter(
                x=_times(data, rows["year"]),
                y=rows["mean"],
                mode="lines" if len(data.scenarios) == 1 else "lines+markers",
                line={"color": data.styles.colour(arm), "dash": dash},
                marker=data.styles.marker(scenario, arm, 6),
                legendgroup=name,
                name=f"{name}: {part}" if data.kind == "experiment" else part,
            )
        )
    _layout(
        figure,
        "Theil T decomposition: urban–rural gap and inequality within each side",
        _time_label(data),
        "Theil T component (≥ 0)",
    )
    figure.update_layout(legend={"title": {"text": "arm: part" if data.kind == "experiment" else "part"}})
    _value_axis(figure, "index")
    return _time_axis(figure, data)


def sankey_figure(data: ReportInput) -> go.Figure:
    """Funds from donor kinds to villages weak when paired and other villages; one diagram per scenario and arm, chosen by
    buttons."""
    funds = data.funds_by_kind
    looks = _node_kinds(set(funds["donor_kind"]))
    kinds = list(looks)
    recipients = list(RECIPIENT_CLASSES)
    labels = [_text(looks[kind].label) for kind in kinds] + [RECIPIENT_CLASSES[r] for r in recipients]
    node_colours = [_rgba(looks[kind].colour, 0.85) for kind in kinds] + [_rgba(RECIPIENT_COLOURS[r], 0.85) for r in recipients]
    figure = go.Figure()
    cells = list(funds.groupby(["scenario", "arm"], sort=False))
    names = [data.styles.name(scenario, arm) for (scenario, arm), _ in cells]
    for index, (name, (_, rows)) in enumerate(zip(names, cells, strict=True)):
        figure.add_trace(
            go.Sankey(
                name=name,
                visible=index == 0,
                valueformat=",.0f",
                valuesuffix=" yuan",
                node={"label": labels, "color": node_colours, "pad": 18, "thickness": 18},
                link={
                    "source": [kinds.index(k) for k in rows["donor_kind"]],
                    "target": [len(kinds) + recipients.index(r) for r in rows["recipient"]],
                    "value": rows["sent"].to_numpy(float),
                    "color": [_rgba(looks[k].colour, 0.35) for k in rows["donor_kind"]],
                },
            )
        )
    buttons = [
        {
            "label": name,
            "method": "update",
            "args": [{"visible": [i == j for j in range(len(names))]}, {"title.text": _sankey_title(data, name)}],
        }
        for i, name in enumerate(names)
    ]
    figure.update_layout(
        title={"text": _sankey_title(data, names[0])},
        height=440,
        template="plotly_white",
        margin={"l": 30, "r": 30, "t": 90, "b": 30},
        font={"size": 12},
    )
    if len(names) > 1:
        figure.update_layout(
            updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.18, "yanchor": "top"}]
        )
    return figure


def _sankey_title(data: ReportInput, name: str) -> str:
    title = "Pairing funds by kind of donor and recipient (yuan)"
    return f"{title}, arm {name}" if data.kind == "experiment" else f"{title} over the run"


def cost_figure(costs: pd.DataFrame, styles: Styles | None = None, cost_name: str = "donor cost") -> go.Figure:
    """Each scenario's arms' cost against their Gini reduction (with 95 % interval): up-left is cheap and effective
    (``costs`` from :func:`sim.analysis.cost_effectiveness`; ``cost_name`` names its cost, "funds sent" for results
    made before runs recorded the donor cost)."""
    styles = styles or Styles.of(costs)
    figure = go.Figure()
    for (scenario, arm), rows in costs.groupby(["scenario", "arm"], sort=False):
        figure.add_trace(
            go.Scatter(
                x=rows["cost"],
                y=rows["reduction"],
                mode="markers",
                marker=styles.marker(scenario, arm, 12),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["reduction_ci_high"] - rows["reduction"],
                    "arrayminus": rows["reduction"] - rows["reduction_ci_low"],
                },
                name=styles.name(scenario, arm),
                hovertemplate=f"{cost_name} %{{x:,.0f}} yuan<br>Gini reduction %{{y:.4f}}",
            )
        )
    figure.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    _layout(
        figure,
        f"Cost-effectiveness: {cost_name} versus Gini reduction (final year)",
        f"{cost_name} over the run (yuan per run)",
        "Gini reduction vs baseline (Gini, 0–1 scale)",
    )
    figure.update_layout(hovermode="closest")
    return figure


def network_figure(graph: nx.Graph, funds: dict[str, float], what: str) -> go.Figure:
    """The pairing graph: organisations and joint branches coloured by kind, sized by the funds through them."""
    positions = nx.spring_layout(graph, seed=0, k=1.5 / math.sqrt(max(graph.number_of_nodes(), 1)), iterations=60)
    edge_x, edge_y = [], []
    for a, b in graph.edges():
        edge_x += [positions[a][0], positions[b][0], None]
        edge_y += [positions[a][1], positions[b][1], None]
    figure = go.Figure(
        go.Scatter(
            x=edge_x,
            y=edge_y,
            mode="lines",
            line={"color": "rgba(150,150,150,0.5)", "width": 1},
            hoverinfo="skip",
            name="membership (donor or recipient)",
        )
    )
    biggest = max([*funds.values(), 1.0])
    kinds = _node_kinds({attributes.get("kind") for _, attributes in graph.nodes(data=True)} - {None})
    for kind, style in kinds.items():
        nodes = [node for node, attributes in graph.nodes(data=True) if attributes.get("kind") == kind]
        sizes = [6 + 24 * math.sqrt(funds.get(node, 0.0) / biggest) for node in nodes]
        hover = [f"{_text(graph.nodes[n].get('name', n))}<br>{funds.get(n, 0.0):,.0f} yuan" for n in nodes]
        figure.add_trace(
            go.Scatter(
                x=[positions[n][0] for n in nodes],
                y=[positions[n][1] for n in nodes],
                mode="markers",
                marker={
                    "size": sizes,
                    "color": style.colour,
                    "symbol": "diamond" if kind == JOINT_BRANCH else "circle",
                    "line": {"width": 0.5, "color": "white"},
                },
                text=hover,
                hoverinfo="text",
                name=_text(style.label),
            )
        )
    _layout(figure, f"Pairing network ({_text(what)})", "", "", height=620, legend="node kind")
    figure.update_layout(hovermode="closest")
    figure.update_xaxes(visible=False)  # a layout's positions mean nothing: no axes to read them on
    figure.update_yaxes(visible=False, scaleanchor="x")
    return figure


def sensitivity_figure(table: pd.DataFrame, method: str, outcome: str, arm: str) -> go.Figure:
    """Sobol first-order and total indices as bars with intervals, or Morris mu* against sigma."""
    label = outcome_label(outcome)
    figure = go.Figure()
    if method == "sobol":
        for index, (column, name) in enumerate((("S1", "first-order S1"), ("ST", "total ST"))):
            figure.add_trace(
                go.Bar(
                    x=table["parameter"],
                    y=table[column],
                    error_y={"type": "data", "array": table[f"{column}_conf"]},
                    name=name,
                    marker={"color": _colour(index)},
                )
            )
        _layout(
            figure,
            f"Sobol indices of final-year {label}, arm {_text(arm)}",
            "parameter",
            "share of output variance (%)",
            legend="index",
        )
        figure.update_layout(barmode="group", hovermode="closest")
        figure.update_yaxes(tickformat=".0%", hoverformat=".1%")
    else:
        figure.add_trace(
            go.Scatter(
                x=table["mu_star"],
                y=table["sigma"],
                mode="markers+text",
                text=table["parameter"],
                textposition="top center",
                error_x={"type": "data", "array": table["mu_star_conf"]},
                name="parameter",
                marker={"size": 10, "color": _colour(0)},
            )
        )
        unit = OUTCOMES[outcome].axis if outcome in OUTCOMES else "outcome units"
        _layout(
            figure,
            f"Morris screening of final-year {label}, arm {_text(arm)}",
            f"μ* (mean |elementary effect|; {unit})",
            f"σ (spread of elementary effects; {unit})",
            legend="points",
        )
        figure.update_layout(hovermode="closest")
        figure.update_xaxes(hoverformat=d3_format(unit_of(outcome)))
        _value_axis(figure, unit_of(outcome))
    return figure


def uncertainty_figure(split: pd.DataFrame, styles: Styles | None = None) -> go.Figure:
    """How much of the spread of the effect one posterior draw gives comes from the parameters and how much from noise:
    per outcome and arm, a bar of 100 % whose solid part is the parameters' share of the variance and whose pale part is
    the noise's (``split`` from :func:`sim.analysis.posterior_differences`)."""
    styles = styles or Styles.of(split)
    figure = go.Figure()
    labels = [outcome_label(outcome) for outcome in split["outcome"]]
    shown = split.assign(label=labels, share=split["share_parameter"])
    for (scenario, arm), rows in shown.groupby(["scenario", "arm"], sort=False):
        rows = rows[rows["share"].notna()]  # an effect that never varies has no variance to split
        name = styles.name(scenario, arm)
        for part, width, base, alpha in (
            ("parameters", rows["share"], 0.0, 1.0),
            ("noise", 1.0 - rows["share"], rows["share"], 0.3),
        ):
            figure.add_trace(
                go.Bar(
                    x=width,
                    y=rows["label"],
                    base=base,
                    orientation="h",
                    offsetgroup=name,
                    legendgroup=name,
                    showlegend=part == "parameters",
                    name=name,
                    marker={"color": styles.colour(arm, alpha), "line": {"color": styles.colour(arm), "width": 1}},
                    text=[_split_text(row) for row in rows.itertuples()],
                    textposition="none",
                    hovertemplate=f"%{{y}}: {part} %{{x:.0%}} of the variance<br>%{{text}}<extra>{_text(name)}</extra>",
                )
            )
    figure.update_yaxes(autorange="reversed")
    _layout(
        figure,
        "Where the uncertainty of each effect comes from: parameters (solid) or noise (pale)",
        "share of the variance of the effect one posterior draw gives",
        "outcome",
        height=120 + 45 * len(set(labels)),
    )
    figure.update_layout(barmode="group", hovermode="closest")
    figure.update_xaxes(tickformat=".0%", range=[0, 1])
    return figure


def _split_text(row) -> str:
    """An effect's hover text: the half-widths from parameters and from noise, in the outcome's unit."""
    parameters = format_outcome(row.half_width_parameter, row.outcome, difference=True)
    noise = format_outcome(row.half_width_noise, row.outcome, difference=True)
    return f"95 % half-width ±{parameters} from parameters, ±{noise} from noise"


def ranking_figure(rankings: pd.DataFrame, styles: Styles | None = None, holds: float = 0.9) -> go.Figure:
    """Per outcome and arm, the share of posterior draws in which the arm keeps its overall rank (left; the ranking
    holds right of the dashed line at ``holds``) and in which it ranks best (right) (``rankings``: rows of
    :func:`sim.analysis.ranking_robustness`)."""
    styles = styles or Styles.of(rankings)
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("keeps its overall rank", "ranks best"))
    shown = rankings.assign(
        label=[outcome_label(outcome) for outcome in rankings["outcome"]], _arm=rankings["arm"].map(styles.arms.index)
    )
    shown = shown.sort_values("_arm", kind="stable")  # each arm in its place, not in its rank's
    for (scenario, arm), rows in shown.groupby(["scenario", "arm"], sort=False):
        name = styles.name(scenario, arm)
        for column, share in enumerate(("share_keeps_rank", "share_best"), start=1):
            figure.add_trace(
                go.Bar(
                    x=rows[share],
                    y=rows["label"],
                    orientation="h",
                    name=name,
                    legendgroup=name,
                    showlegend=column == 1,
                    marker={"color": styles.colour(arm)},
                    text=[f"rank {row.rank} of the arms by its posterior-mean effect" for row in rows.itertuples()],
                    textposition="none",
                    hovertemplate=f"%{{y}}: %{{x:.0%}} of the draws<br>%{{text}}<extra>{_text(name)}</extra>",
                ),
                row=1,
                col=column,
            )
    figure.add_vline(x=holds, line={"color": "grey", "dash": "dash"}, row=1, col=1)
    _layout(
        figure,
        "Does each arm's ranking hold across the posterior draws?",
        "share of the posterior draws",
        "outcome",
        height=140 + 45 * rankings["outcome"].nunique(),
    )
    figure.update_layout(barmode="group", hovermode="closest")
    figure.update_xaxes(tickformat=".0%", range=[0, 1])
    figure.update_xaxes(title_text="share of the posterior draws", row=1, col=2)
    figure.update_yaxes(autorange="reversed")
    return figure
