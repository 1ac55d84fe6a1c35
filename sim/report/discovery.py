"""The report's scenario discovery section: what ``pairsim discover`` wrote into a results folder's discovery/ folder,
drawn as PRIM's peeling trade-off (coverage against density, the chosen box marked) and the chosen box's limits within
each restricted parameter's range, with CART's leaves where the condition holds as a table.

Reads only the files in discovery/ (never runs PRIM again, and needs no EMA Workbench); a folder without them has no
section at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from sim.errors import InputError
from sim.report.figures import _layout
from sim.report.folder_files import read_table
from sim.report.inputs import read_json_object
from sim.report.styles import _colour, _text

FOLDER = "discovery"  # sim.discovery.FOLDER; not imported, so that the report never loads the discovery code
RECORD = "discovery.json"
EXPECTED = "a file that pairsim discover writes"
SIGNIFICANCE = 0.05  # sim.discovery.SIGNIFICANCE: a box's limit with a larger quasi-p value is flagged not significant
UNSURE = f"A limit whose quasi-p value is above {SIGNIFICANCE:g} is not significant: PRIM keeps it, but it may be chance."

TABLES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "peeling": ([], ["box", "coverage", "density", "mass", "restricted", "points", "holding"], ["chosen"]),
    "prim_box": (["parameter"], ["low", "high", "range_low", "range_high"], ["restricted"]),
    "cart_boxes": (["parameter"], ["leaf", "coverage", "density", "mass", "low", "high"], ["restricted"]),
}
"""Each table's columns the report reads: its names, its numbers and its True/False flags."""
QUASI_P = ["qp_low", "qp_high"]
"""prim_box.csv's quasi-p values of each limit (NaN where the box does not restrict that side)."""
TRUE, FALSE = {"true", "1", "1.0"}, {"false", "0", "0.0"}


@dataclass
class DiscoveryFiles:
    """The discovery/ folder of a results folder, read."""

    record: dict
    peeling: pd.DataFrame | None  # box, coverage, density, mass, restricted, points, holding, chosen
    prim_box: pd.DataFrame | None  # parameter, low, high, restricted, range_low, range_high, qp_low, qp_high
    cart_boxes: pd.DataFrame | None  # leaf, coverage, density, mass, restricted_count, parameter, low, high, ...


def read_discovery(folder: str | Path) -> DiscoveryFiles | None:
    """The discovery files in ``folder``/discovery/, or None when pairsim discover has not written them; a damaged file,
    or one that discovery.json records and the folder lacks, is one line of bad input naming it."""
    where = Path(folder) / FOLDER
    if not (where / RECORD).is_file():
        tables = [f"{name}.csv" for name in TABLES if (where / f"{name}.csv").is_file()]
        if tables:
            raise InputError.single(
                str(where / RECORD),
                "",
                f"no such file beside {', '.join(tables)}; pairsim discover writes it last, so it stopped before the end: "
                "run pairsim discover again",
            )
        return None
    record = _read_record(where / RECORD)
    recorded = {"peeling": record["prim"], "prim_box": record["prim"], "cart_boxes": record.get("cart_leaves")}
    tables = {name: _read_table(where / f"{name}.csv", name, recorded[name] is not None) for name in TABLES}
    return DiscoveryFiles(record, **tables)


def _read_record(path: Path) -> dict:
    """discovery.json, with the values the report formats checked to be what pairsim discover writes there."""
    record = read_json_object(
        path,
        EXPECTED,
        {"settings": dict, "arm": str, "reference": str, "condition": str, "unit": str, "points": int, "holding": int},
    )
    if not isinstance(record.get("notes", []), list):
        raise InputError.single(str(path), "notes", f"{record['notes']!r:.60} is not an array; expected {EXPECTED}")
    threshold = record.get("settings", {}).get("threshold", 0.8)
    if not _is_number(threshold):
        raise InputError.single(str(path), "settings.threshold", f"{threshold!r:.60} is not a number; expected {EXPECTED}")
    cart_leaves = record.get("cart_leaves")
    if cart_leaves is not None and (not isinstance(cart_leaves, int) or isinstance(cart_leaves, bool)):
        raise InputError.single(str(path), "cart_leaves", f"{cart_leaves!r:.60} is not a whole number; expected {EXPECTED}")
    prim = record.setdefault("prim", None)
    if prim is None:
        return record
    if not isinstance(prim, dict):
        raise InputError.single(str(path), "prim", f"{prim!r:.60} is neither null nor a JSON object; expected {EXPECTED}")
    for key in ("coverage", "density", "mass"):
        if key not in prim:
            raise InputError.single(str(path), f"prim.{key}", f"missing; expected {EXPECTED}")
        if not _is_number(prim[key]):
            raise InputError.single(str(path), f"prim.{key}", f"{prim[key]!r:.60} is not a number; expected {EXPECTED}")
    return record


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _read_table(path: Path, name: str, recorded: bool) -> pd.DataFrame | None:
    """One of the discovery tables, its columns checked (numbers are numbers, flags True or False); None where the
    folder lacks it and discovery.json does not record it."""
    if not path.is_file():
        if recorded:
            raise InputError.single(
                str(path), "", f"no such file, though {RECORD} records it; run pairsim discover again (it writes {name}.csv)"
            )
        return None
    names, numbers, flags = TABLES[name]
    table = read_table(path, EXPECTED, [*names, *numbers, *flags])
    if table.empty:
        raise InputError.single(str(path), "", f"holds no rows; expected {EXPECTED}")
    if name == "prim_box":
        numbers = [*numbers, *QUASI_P]
        table = table.assign(**{column: float("nan") for column in QUASI_P if column not in table.columns})
    for column in numbers:
        if not pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column]):
            raise InputError.single(str(path), "", f"column {column} holds values that are not numbers; expected {EXPECTED}")
    for column in flags:
        if pd.api.types.is_bool_dtype(table[column]):
            continue
        words = table[column].astype(str).str.strip().str.lower()
        known = words.isin(TRUE | FALSE)
        if not known.all():
            odd = table.loc[~known, column].iloc[0]
            raise InputError.single(
                str(path), "", f"column {column} holds values other than True and False ({odd!r:.30}); expected {EXPECTED}"
            )
        table[column] = words.isin(TRUE)
    return table


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
    settings = record.get("settings", {})
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
            if _not_significant(files.prim_box).any():
                caption += f" {UNSURE} The table below marks such limits."
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


def _not_significant(limits: pd.DataFrame) -> pd.Series:
    """Whether each restricted parameter has a limit whose quasi-p value is above :data:`SIGNIFICANCE`."""
    return limits["restricted"].astype(bool) & (limits[QUASI_P] > SIGNIFICANCE).any(axis=1)


def _quasi_p(low: float, high: float) -> str:
    """A box's quasi-p values of a parameter's restricted limits, each not significant one flagged as such."""
    words = [
        f"{side} {value:.2g}" if value <= SIGNIFICANCE else f"{side}: not significant (quasi-p {value:.2g})"
        for side, value in (("low", low), ("high", high))
        if pd.notna(value)
    ]
    return "; ".join(words) or "none"


def _limits_table(title: str, limits: pd.DataFrame) -> str:
    """An HTML table of a box's restricted parameters: its limits, the parameter's range in the design and the limits'
    quasi-p values, where a limit that is not significant is flagged."""
    restricted = limits[limits["restricted"].astype(bool)]
    if restricted.empty:
        return f"<p>{_text(title)}: no parameter restricted (the box is the whole design).</p>"
    rows = "".join(
        f'<tr><td>{_text(row.parameter)}</td><td class="number">{row.low:.4g}</td><td class="number">{row.high:.4g}</td>'
        f'<td class="number">{row.range_low:.4g} to {row.range_high:.4g}</td><td>{_quasi_p(row.qp_low, row.qp_high)}</td></tr>'
        for row in restricted.itertuples()
    )
    head = "<tr><th>parameter</th><th>box low</th><th>box high</th><th>range in the design</th><th>quasi-p</th></tr>"
    unsure = f"<p>{UNSURE}</p>" if _not_significant(limits).any() else ""
    return f'<p>{_text(title)}:</p><table class="data">{head}{rows}</table>{unsure}'


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
