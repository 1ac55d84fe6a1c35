"""The calibration report's Plotly figures, one function each, drawn from a calibration folder's tables (so a notebook
can draw them too), and how a target's statistic is named and formatted."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.experiment import Parameter
from sim.formatting import d3_format, format_value, outcome_label, unit_of
from sim.report.calibration_inputs import prior_draws
from sim.report.figures import _layout
from sim.report.styles import _colour, _text

OBSERVED_95 = 1.96
"""Half-width of an observation's 95 % interval in standard deviations (the calibration's sd is (high - low) / 3.92)."""

PANEL_COLUMNS = 3
"""Parameters' marginal panels per row."""


# --------------------------------------------------------------------------- statistics in words and units


def statistic_unit(statistic: dict) -> tuple[str, bool]:
    """The unit a target's statistic is measured in, and whether it is a difference of that unit (shown in percentage
    points for shares): growth and relative effects are shares whatever the outcome; a change, or an absolute effect,
    is a difference of the outcome's unit (or of growth)."""
    if statistic.get("effect") == "relative":
        return "share", False
    absolute = statistic.get("effect") == "absolute"
    if statistic.get("kind") == "growth":
        return "share", absolute
    return unit_of(str(statistic.get("outcome", ""))), absolute or statistic.get("kind") == "change"


def format_statistic(value: float, statistic: dict, missing: str = "not simulated") -> str:
    unit, difference = statistic_unit(statistic)
    return format_value(value, unit, missing, difference=difference)


def format_spread(value: float, statistic: dict) -> str:
    """A spread (an sd, an interval's half-width) of the statistic, in its unit as a difference: shares in points."""
    unit, _ = statistic_unit(statistic)
    return format_value(value, unit, "not defined", difference=True)


def statistic_words(statistic: dict) -> str:
    """A target's statistic as a policy researcher reads it: "Rural income per capita, growth 2009→2013, effect of
    pairing (relative)"."""
    outcome = outcome_label(str(statistic.get("outcome", "?")))
    year, start = statistic.get("year", "?"), statistic.get("from_year")
    kind = statistic.get("kind", "level")
    words = {"change": f"{outcome}, change {start}→{year}", "growth": f"{outcome}, growth {start}→{year}"}.get(
        kind, f"{outcome} in {year}"
    )
    effect = statistic.get("effect")
    if effect:
        words += f", effect of pairing ({'pairing minus no pairing' if effect == 'absolute' else 'pairing over no pairing − 1'})"
    return words


# --------------------------------------------------------------------------- targets and held-out patterns


def target_figure(check: pd.DataFrame, patterns: dict[str, dict], title: str, what: str = "target") -> go.Figure:
    """Each pattern's simulated values under the posterior (one box with its points per pattern) against its observed
    value, all as (simulated - observed) / the observation's sd, so patterns in different units share one axis; the
    observation is the dot at 0 with its 95 % interval (±1.96 sd)."""
    figure = go.Figure()
    names = [name for name in patterns if f"sim:{name}" in check.columns]
    for index, name in enumerate(names):
        pattern = patterns[name]
        simulated = check[f"sim:{name}"].to_numpy(float)
        unit, _ = statistic_unit(pattern["statistic"])
        figure.add_trace(
            go.Box(
                x=(simulated - pattern["observed"]) / _sd(pattern),
                y=[_text(name)] * len(simulated),
                customdata=simulated,
                orientation="h",
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                marker={"color": _colour(0, 0.55), "size": 5},
                line={"color": _colour(0)},
                fillcolor=_colour(0, 0.12),
                name="simulated (posterior check)",
                legendgroup="simulated",
                showlegend=index == 0,
                hovertemplate=f"simulated %{{customdata:{d3_format(unit)}}}: %{{x:.2f}} sd from observed<extra></extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[0.0] * len(names),
            y=[_text(name) for name in names],
            mode="markers",
            marker={"color": "black", "symbol": "diamond", "size": 11},
            error_x={"type": "constant", "value": OBSERVED_95, "color": "black", "thickness": 2},
            name="observed, 95 % interval",
            text=[_observed_text(patterns[name]) for name in names],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    figure.add_vline(x=0, line={"color": "grey", "dash": "dot"})
    _layout(
        figure,
        title,
        "(simulated − observed) / observation sd",
        what,
        height=160 + 60 * max(len(names), 1),
        legend="",
    )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_layout(hovermode="closest")
    return figure


def _sd(pattern: dict) -> float:
    """The observation's sd, from its sd or its 95 % interval."""
    if pattern.get("sd") is not None:
        return float(pattern["sd"])
    low, high = pattern["interval"]
    return (float(high) - float(low)) / (2 * OBSERVED_95)


def _observed_text(pattern: dict) -> str:
    statistic = pattern["statistic"]
    spread = format_spread(OBSERVED_95 * _sd(pattern), statistic)
    return f"observed {format_statistic(pattern['observed'], statistic)} ± {spread} (95 %)"


# --------------------------------------------------------------------------- waves


def acceptance_figure(summary: pd.DataFrame) -> go.Figure:
    """Per wave, the share of its design points whose simulated targets are all within the cutoff, and the share of the
    whole parameter space the emulators fitted after it still keep (the not-ruled-out-yet, NROY, fraction)."""
    waves = [f"wave {int(wave)}" for wave in summary["wave"]]
    shares = {
        "design points plausible": summary["plausible_points"] / summary["points"].where(summary["points"] > 0),
        "parameter space not ruled out (NROY)": summary["nroy_fraction"],
    }
    figure = go.Figure(
        [
            go.Bar(x=waves, y=share, name=name, marker={"color": _colour(index)}, texttemplate="%{y:.1%}", textposition="outside")
            for index, (name, share) in enumerate(shares.items())
        ]
    )
    _layout(figure, "Plausible design points and parameter space kept, per wave", "wave", "share (%)", legend="")
    figure.update_yaxes(tickformat=".0%", hoverformat=".2%", range=[0, 1.1])
    figure.update_layout(barmode="group", hovermode="closest")
    return figure


def implausibility_figure(waves: pd.DataFrame, cutoff: float) -> go.Figure:
    """Each wave's design points by their largest implausibility over the targets, with the cutoff: points below the
    line are plausible. A log axis once the values span more than two decades (early waves are often far off)."""
    figure = go.Figure()
    for index, (wave, rows) in enumerate(waves.groupby("wave", sort=True)):
        figure.add_trace(
            go.Box(
                y=rows["max_I"],
                x=[f"wave {int(wave)}"] * len(rows),
                boxpoints="all",
                jitter=0.5,
                pointpos=0,
                marker={"color": _colour(index, 0.6), "size": 5},
                line={"color": _colour(index)},
                name=f"wave {int(wave)}",
                customdata=rows["point"],
                hovertemplate="point %{customdata}: max implausibility %{y:.2f}<extra></extra>",
            )
        )
    figure.add_hline(
        y=cutoff, line={"color": "black", "dash": "dash"}, annotation_text=f"cutoff {cutoff:g}", annotation_position="top left"
    )
    values = waves["max_I"].to_numpy(float)
    values = values[np.isfinite(values) & (values > 0)]
    logarithmic = len(values) > 0 and values.max() / max(values.min(), 1e-12) > 100
    _layout(
        figure,
        "Largest implausibility of each design point, per wave",
        "wave",
        "max implausibility over targets" + (" (log scale)" if logarithmic else ""),
        legend="wave",
    )
    if logarithmic:
        figure.update_yaxes(type="log")
    figure.update_layout(hovermode="closest")
    return figure


# --------------------------------------------------------------------------- parameters


def marginals_figure(priors: dict[str, Parameter | None], posterior: pd.DataFrame) -> go.Figure:
    """One small panel per parameter: its prior density (a histogram of draws made with the prior's quantile function,
    as the calibration samples it) under its posterior marginal."""
    names = list(priors)
    rows = max(math.ceil(len(names) / PANEL_COLUMNS), 1)
    columns = min(len(names), PANEL_COLUMNS) or 1
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[_text(name) for name in names],
        horizontal_spacing=0.08,
        vertical_spacing=0.5 / rows,
    )
    for index, name in enumerate(names):
        cell = {"row": index // PANEL_COLUMNS + 1, "col": index % PANEL_COLUMNS + 1}
        prior = priors[name]
        if prior is not None:
            bounds = {"start": prior.low, "end": prior.high, "size": (prior.high - prior.low) / 30}
            figure.add_trace(
                go.Histogram(
                    x=prior_draws(prior),
                    xbins=bounds,
                    histnorm="probability density",
                    marker={"color": "rgba(127,127,127,0.35)"},
                    name="prior",
                    legendgroup="prior",
                    showlegend=index == 0,
                    hovertemplate="prior density %{y:.3g}<extra></extra>",
                ),
                **cell,
            )
        else:
            bounds = {"size": float(np.ptp(posterior[name])) / 30 or None}
        figure.add_trace(
            go.Histogram(
                x=posterior[name],
                xbins=bounds,
                histnorm="probability density",
                marker={"color": _colour(0, 0.6)},
                name="posterior",
                legendgroup="posterior",
                showlegend=index == 0,
                hovertemplate="posterior density %{y:.3g}<extra></extra>",
            ),
            **cell,
        )
        figure.update_xaxes(title_text="value", **cell)
        figure.update_yaxes(title_text="density" if cell["col"] == 1 else "", **cell)
    figure.update_layout(
        title={"text": "Each parameter's prior and posterior"},
        barmode="overlay",
        height=120 + 260 * rows,
        template="plotly_white",
        margin={"l": 70, "r": 30, "t": 80, "b": 60},
        legend={"title": {"text": ""}},
        hovermode="closest",
    )
    return figure


def pairs_figure(posterior: pd.DataFrame, names: list[str]) -> go.Figure:
    """Every pair of parameters in the posterior sample, one dot per draw: a ridge or a slope shows parameters the
    targets constrain only together (one can stand in for the other)."""
    figure = go.Figure(
        go.Splom(
            dimensions=[{"label": _text(name), "values": posterior[name]} for name in names],
            showupperhalf=False,
            diagonal={"visible": False},
            marker={"color": _colour(0, 0.35), "size": 3},
            name="posterior draw",
        )
    )
    size = 150 + 170 * len(names)
    figure.update_layout(
        title={"text": "Posterior draws, every pair of parameters"},
        height=size,
        template="plotly_white",
        margin={"l": 90, "r": 30, "t": 60, "b": 90},
        hovermode="closest",
        dragmode="select",
    )
    return figure


def contraction_figure(identifiability: pd.DataFrame, threshold: float) -> go.Figure:
    """How far the targets narrowed each parameter: 1 - posterior variance / prior variance in the unit cube (0: not at
    all, 1: to a point); below the threshold the parameter is not pinned down by the targets."""
    colours = [_colour(0) if identified else "rgba(127,127,127,0.8)" for identified in identifiability["identified"]]
    figure = go.Figure(
        go.Bar(
            x=identifiability["contraction"],
            y=[_text(name) for name in identifiability["parameter"]],
            orientation="h",
            marker={"color": colours},
            name="posterior contraction",
            hovertemplate="%{y}: contraction %{x:.2f}<extra></extra>",
        )
    )
    figure.add_vline(
        x=threshold,
        line={"color": "black", "dash": "dash"},
        annotation_text=f"identified from {threshold:g}",
        annotation_position="top",
    )
    _layout(
        figure,
        "How much the targets narrowed each parameter",
        "posterior contraction (1 − posterior variance / prior variance)",
        "parameter",
        height=160 + 40 * len(identifiability),
        legend="",
    )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(range=[min(0.0, float(identifiability["contraction"].min()) - 0.05), 1.0])
    figure.update_layout(hovermode="closest")
    return figure
