"""The report's scenario discovery section: what ``pairsim discover`` wrote into a results folder's discovery/ folder,
drawn as PRIM's peeling trade-off (coverage against density, the chosen box marked) and the chosen box's limits within
each restricted parameter's range, with CART's leaves where the condition holds as a table.

Reads only the files in discovery/ (never runs PRIM again, and needs no EMA Workbench); a folder without them has no
section at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from sim.report.figures import _layout
from sim.report.inputs import read_failures_as_input
from sim.report.styles import _colour, _text

FOLDER = "discovery"  # sim.discovery.FOLDER; not imported, so that the report never loads the discovery code
RECORD = "discovery.json"
EXPECTED = "a file that pairsim discover writes"


@dataclass
class DiscoveryFiles:
    """The discovery/ folder of a results folder, read."""

    record: dict
    peeling: pd.DataFrame | None  # box, coverage, density, mass, restricted, points, holding, chosen
    prim_box: pd.DataFrame | None  # parameter, low, high, restricted, range_low, range_high, qp_low, qp_high
    cart_boxes: pd.DataFrame | None  # leaf, coverage, density, mass, restricted_count, parameter, low, high, ...


def read_discovery(folder: str | Path) -> DiscoveryFiles | None:
    """The discovery files in ``folder``/discovery/, or None when pairsim discover has not written them."""
    where = Path(folder) / FOLDER
    if not (where / RECORD).is_file():
        return None
    with read_failures_as_input(where / RECORD, EXPECTED, "not valid JSON"):
        record = json.loads((where / RECORD).read_text(encoding="utf-8"))
    if not isinstance(record, dict):
        return None
    tables = {}
    for name in ("peeling", "prim_box", "cart_boxes"):
        path = where / f"{name}.csv"
        tables[name] = None
        if path.is_file():
            with read_failures_as_input(path, EXPECTED, "not a readable CSV table"):
                tables[name] = pd.read_csv(path)
    return DiscoveryFiles(record, **tables)


def peeling_figure(peeling: pd.DataFrame, threshold: float) -> go.Figure:
    """PRIM's peeling trajectory: each box's coverage against its density, coloured by how many parameters it restricts;
    the chosen box is a star, the density it had to reach a dashed line."""
    figure = go.Figure()
    hover = [
        f"box {row.box}: {row.restricted} restricted parameter(s), mass {row.mass:.2f} ({row.points} points, "
        f"{row.holding} where the condition holds)"
        for row in peeling.itertuples()
    ]
    figure.add_trace(
        go.Scatter(
            x=peeling["coverage"],
            y=peeling["density"],
            mode="markers+lines",
            line={"color": "#cccccc", "width": 1},
            marker={
                "size": 9,
                "color": peeling["restricted"],
                "colorscale": "Viridis",
                "colorbar": {"title": {"text": "restricted<br>parameters"}},
            },
            text=hover,
            hovertemplate="coverage %{x:.2f}, density %{y:.2f}<br>%{text}<extra></extra>",
            name="boxes on the trajectory",
        )
    )
    chosen = peeling[peeling["chosen"]]
    figure.add_trace(
        go.Scatter(
            x=chosen["coverage"],
            y=chosen["density"],
            mode="markers",
            marker={"symbol": "star", "size": 20, "color": _colour(1), "line": {"color": "black", "width": 1}},
            name="chosen box",
            hovertemplate="chosen box: coverage %{x:.2f}, density %{y:.2f}<extra></extra>",
        )
    )
    figure.add_hline(y=threshold, line={"color": "grey", "dash": "dash"}, annotation_text=f"density {threshold:g}")
    _layout(figure, "PRIM peeling trajectory: coverage against density", "coverage", "density", legend="")
    figure.update_layout(hovermode="closest", legend={"x": 0.01, "y": 0.01, "xanchor": "left", "yanchor": "bottom"})
    figure.update_xaxes(range=[-0.02, 1.02])
    figure.update_yaxes(range=[-0.02, 1.05])
    return figure


def box_figure(limits: pd.DataFrame, title: str = "The chosen box within each restricted parameter's range") -> go.Figure:
    """A box's limits on each parameter it restricts, as a share of the parameter's range in the design (0: its low
    end, 1: its high end): the grey line is the whole range, the coloured bar the box."""
    restricted = limits[limits["restricted"].astype(bool)]
    figure = go.Figure()
    span = (restricted["range_high"] - restricted["range_low"]).where(lambda s: s > 0, 1.0)
    low = (restricted["low"] - restricted["range_low"]) / span
    high = (restricted["high"] - restricted["range_low"]) / span
    names = [_text(name) for name in restricted["parameter"]]
    figure.add_trace(
        go.Bar(
            x=[1.0] * len(restricted),
            y=names,
            base=0.0,
            orientation="h",
            marker={"color": "#e8e8e8"},
            name="range in the design",
            text=[f"{row.range_low:.4g} to {row.range_high:.4g}" for row in restricted.itertuples()],
            textposition="none",
            hovertemplate="%{y}: range %{text}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Bar(
            x=(high - low).clip(lower=0.005),
            y=names,
            base=low,
            orientation="h",
            marker={"color": _colour(1)},
            name="box",
            text=[f"{row.low:.4g} to {row.high:.4g}" for row in restricted.itertuples()],
            textposition="inside",
            hovertemplate="%{y}: box %{text}<extra></extra>",
        )
    )
    _layout(
        figure,
        title,
        "position within the parameter's range in the design (0: low end, 1: high end)",
        "parameter",
        height=160 + 50 * max(len(restricted), 1),
        legend="",
    )
    figure.update_layout(barmode="overlay", hovermode="closest")
    figure.update_xaxes(range=[0, 1])
    figure.update_yaxes(autorange="reversed")
    return figure


def discovery_parts(folder: str | Path) -> tuple[list[tuple[go.Figure, str]], str, str] | None:
    """The section's figures with their captions, its note and its tables (HTML); None without discovery files."""
    files = read_discovery(folder)
    if files is None:
        return None
    record = files.record
    settings = record.get("settings", {}) if isinstance(record.get("settings"), dict) else {}
    points, holding, unit = record.get("points", 0), record.get("holding", 0), record.get("unit", "design point")
    said = (
        f"Arm {_text(record.get('arm', '?'))} against {_text(record.get('reference', '?'))}: the condition that "
        f"{_text(record.get('condition', '?'))} holds at {holding} of {points} {_text(unit)}s."
    )
    figures = []
    prim = record.get("prim")
    if files.peeling is not None and files.prim_box is not None and isinstance(prim, dict):
        threshold = float(settings.get("threshold", 0.8))
        chosen = (
            f"The chosen box (star) has coverage {prim['coverage']:.2f}, density {prim['density']:.2f} and mass "
            f"{prim['mass']:.2f}: "
            + (
                f"the highest coverage among the boxes at density {threshold:g} or more (dashed line)."
                if prim.get("threshold_met")
                else f"no box reaches density {threshold:g} (dashed line), so the densest is shown."
            )
        )
        caption = (
            f"{said} PRIM peels the design's points from the outside in, box by box; each point is one box on its "
            "trajectory: coverage is the share of the points where the condition holds that lie in the box, density "
            f"the share of the box's points where it holds. Peeling trades coverage for density. {chosen}"
        )
        figures.append((peeling_figure(files.peeling, threshold), caption))
        if files.prim_box["restricted"].astype(bool).any():
            caption = (
                "The chosen PRIM box: where, within each parameter's range in the design, the condition holds at most "
                "points. Parameters not shown are not restricted."
            )
            figures.append((box_figure(files.prim_box), caption))
    table = _limits_table("PRIM's chosen box", files.prim_box) if files.prim_box is not None else ""
    if files.cart_boxes is not None:
        table += _cart_table(files.cart_boxes)
    notes = [note for note in record.get("notes", []) if isinstance(note, str)]
    note = "; ".join(notes)
    if not figures and not note:
        note = said
    elif not figures:
        note = f"{said} {note[0].upper()}{note[1:]}."
    elif note:
        note = f"{note[0].upper()}{note[1:]}."
    return figures, note, table


def _limits_table(title: str, limits: pd.DataFrame) -> str:
    """An HTML table of a box's restricted parameters: its limits and the parameter's range in the design."""
    restricted = limits[limits["restricted"].astype(bool)]
    if restricted.empty:
        return f"<p>{_text(title)}: no parameter restricted (the box is the whole design).</p>"
    rows = "".join(
        f'<tr><td>{_text(row.parameter)}</td><td class="number">{row.low:.4g}</td><td class="number">{row.high:.4g}</td>'
        f'<td class="number">{row.range_low:.4g} to {row.range_high:.4g}</td></tr>'
        for row in restricted.itertuples()
    )
    head = "<tr><th>parameter</th><th>box low</th><th>box high</th><th>range in the design</th></tr>"
    return f'<p>{_text(title)}:</p><table class="data">{head}{rows}</table>'


def _cart_table(cart_boxes: pd.DataFrame) -> str:
    """CART's leaves where the condition holds at most points (density above one half), each with its limits."""
    leaves = cart_boxes.drop_duplicates("leaf")
    failing = leaves[leaves["density"] > 0.5].sort_values(["coverage", "density"], ascending=False, kind="stable")
    count = len(leaves)
    if failing.empty:
        return f"<p>CART: none of its {count} leaves has the condition at most of its points.</p>"
    rows = []
    for leaf in failing.itertuples():
        limits = cart_boxes[(cart_boxes["leaf"] == leaf.leaf) & cart_boxes["restricted"].astype(bool)]
        where = "; ".join(f"{_text(row.parameter)} {row.low:.4g} to {row.high:.4g}" for row in limits.itertuples())
        rows.append(
            f'<tr><td>{leaf.leaf}</td><td class="number">{leaf.coverage:.2f}</td><td class="number">{leaf.density:.2f}</td>'
            f'<td class="number">{leaf.mass:.2f}</td><td>{where or "none"}</td></tr>'
        )
    head = "<tr><th>leaf</th><th>coverage</th><th>density</th><th>mass</th><th>restricted parameters</th></tr>"
    intro = f"CART: {len(failing)} of its {count} leaves have the condition at most of their points:"
    return f'<p>{intro}</p><table class="data">{head}{"".join(rows)}</table>'


__all__ = ["DiscoveryFiles", "box_figure", "discovery_parts", "peeling_figure", "read_discovery"]
