"""How the report's traces look, in one place so that the data (``ReportInput.styles``) and the figures agree:
colour by arm, dash or marker by scenario, the name and colour of each kind of node in the pairing graph (shared with
the app), and the escaping of any text that came from a file."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from sim.experiment import BASELINE
from sim.pairing.registry import donor_kinds

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "star"]
"""Line dashes and marker symbols tell scenarios apart (colours tell arms apart)."""


def _text(value: object) -> str:
    """Text from a scenario or experiment file, safe inside HTML content and inside plotly's own markup.

    Only ``& < >`` are escaped: plotly decodes those entities but shows ``&quot;`` literally, and no
    escaped text lands in an HTML attribute (figures travel as JSON, the rest is element content).
    """
    return html.escape(str(value), quote=False)


def _rgba(hex_colour: str, alpha: float = 1.0) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _colour(index: int, alpha: float = 1.0) -> str:
    return _rgba(COLOURS[index % len(COLOURS)], alpha)


@dataclass(frozen=True)
class NodeKind:
    """How one kind of node of the pairing graph is named in legends and coloured (a ``#rrggbb`` colour)."""

    label: str
    colour: str


JOINT_BRANCH = "joint_branch"
"""The graph's node kind of joint Party branches, which join a pair's donors and villages: a node kind, not a donor kind."""


def node_kinds() -> dict[str, NodeKind]:
    """Every kind of node in the pairing graph, named and coloured: each registered donor kind as its registry entry
    says, then the joint branches (dim grey, drawn as diamonds)."""
    kinds = {name: NodeKind(kind.label, kind.colour) for name, kind in donor_kinds().items()}
    return {**kinds, JOINT_BRANCH: NodeKind("joint branches (联合党总支)", "#696969")}


@dataclass(frozen=True)
class Styles:
    """How traces are named and drawn: colour by arm (baseline first, then by name), dash or marker symbol by scenario.
    Names carry the scenario only when there are several, as each (scenario, arm) is drawn apart, never pooled."""

    scenarios: tuple[str, ...]
    arms: tuple[str, ...]

    @classmethod
    def of(cls, table: pd.DataFrame) -> Styles:
        """From an analysis table alone (as in the notebooks); the baseline keeps colour 0 even where it has no row."""
        arms = sorted({*table["arm"], BASELINE}, key=lambda arm: (arm != BASELINE, arm))
        return cls(tuple(pd.unique(table["scenario"])), tuple(arms))

    def name(self, scenario: str, arm: str) -> str:
        return _text(arm) if len(self.scenarios) == 1 else f"{_text(scenario)} · {_text(arm)}"

    def colour(self, arm: str, alpha: float = 1.0) -> str:
        return _colour(self.arms.index(arm), alpha)

    def line(self, scenario: str, arm: str) -> dict:
        return {"color": self.colour(arm), "dash": DASHES[self.scenarios.index(scenario) % len(DASHES)], "width": self.width(arm)}

    def width(self, arm: str) -> float:
        """Line width, widest for the baseline (drawn first) and narrower for each arm after it, so that arms whose lines
        coincide (urban income, which pairing barely reaches; nearly equal Lorenz curves) stay visible as nested stripes."""
        later = len(self.arms) - 1 - self.arms.index(arm)
        return 2.0 + later * min(1.5, 6.0 / max(len(self.arms) - 1, 1))

    def marker(self, scenario: str, arm: str, size: int) -> dict:
        return {"color": self.colour(arm), "symbol": SYMBOLS[self.scenarios.index(scenario) % len(SYMBOLS)], "size": size}
