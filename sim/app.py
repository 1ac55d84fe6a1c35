"""An interactive Mesa app: move the policy sliders, press Reset, and watch pairing work month by month.

Run it with ``pairsim app`` or ``solara run sim/app.py`` (needs the ``app`` extra).
It shows one county (``scenarios/small.yaml``, or the file named by the
``PAIRSIM_APP_SCENARIO`` environment variable): its pairing network on the
county map, live Gini and urban/rural ratio, and a few running totals. Every
slider becomes a dotted-path override of the scenario (:class:`AppModel`), so
the app validates its inputs exactly like a scenario file, and at the slider
defaults it runs the same numbers as ``pairsim run`` with the same seed.
"""

from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import solara
import solara.lab
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from mesa.visualization import Slider, make_plot_component
from mesa.visualization.solara_viz import ComponentsView, ModelController, ShowSteps
from mesa.visualization.utils import update_counter

from sim.model import PairingModel
from sim.outcome_registry import OUTCOMES
from sim.pairing.registry import flows, policy_types
from sim.report.styles import JOINT_BRANCH, node_kinds
from sim.scenario import DEFAULT_SCENARIO, Scenario, load_scenario

SCENARIO_ENV = "PAIRSIM_APP_SCENARIO"
"""Environment variable naming the scenario the app shows (``pairsim app --scenario`` sets it)."""

APP_SCENARIO_PATH = Path(os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO).resolve()
APP_SCENARIO: Scenario = load_scenario(APP_SCENARIO_PATH)

PARAMETER_PATHS: dict[str, str] = {
    "horizon_years": "horizon_years",
    "leakage": "pairing.failure.leakage",
    "formalism": "pairing.failure.formalism",
    "dependency": "pairing.failure.dependency",
    "elite_capture": "pairing.failure.elite_capture",
    "talent_drain": "pairing.failure.talent_drain",
    "strong_first": "pairing.failure.strong_first",
    "donor_cost": "pairing.failure.donor_cost",
    "accountability": "pairing.governance.accountability",
}
"""App keyword -> the scenario field it overrides (sim/pairing/config.py documents each)."""

PARAMETER_HELP: dict[str, str] = {
    "Leakage": "share of funds diverted before they reach the village (截留或抵顶)",
    "Formalism": "monthly decay of a pair's effort when it is not monitored",
    "Dependency": "fall in a village's own effort per unit of aid relative to its income",
    "Elite capture": "share of benefits taken by the better-off households",
    "Talent drain": "extra migration of trained workers, per unit of skill gained",
    "Strong first": "weight on strength instead of need when choosing recipients (0 = neediest first)",
    "Donor cost": "share of a donor village's own farm output lost to helping",
    "Accountability": "chance a pair is really monitored at a quarterly rating",
    "Funds x, Training x": "multiply every policy's planned funds and trainees",
}
"""What each sidebar slider means (the sidebar labels are kept short); press Reset to apply new values."""


def legend_label(label: str) -> str:
    """A registry label without its Chinese gloss ("villages (村)" -> "villages"): the figures stay in English, as
    matplotlib's default fonts have no Chinese glyphs."""
    return re.sub(r"\s*\([^()]*[^\x00-\x7f][^()]*\)", "", label).strip()


def _scenario_value(scenario: Scenario, dotted: str) -> Any:
    value: Any = scenario
    for key in dotted.split("."):
        value = getattr(value, key)
    return value


def app_overrides(
    scenario: Scenario, settings: dict[str, Any], enabled_types: dict[str, bool], funds_scale: float, training_scale: float
) -> dict[str, Any]:
    """Translate slider values into the model's dotted-path overrides.

    ``settings`` maps keywords of :data:`PARAMETER_PATHS` to values (``None``
    keeps the scenario's). Switched-off pairing types drop out of the policy
    list; the scales multiply every remaining policy's planned funds and trainees.
    Only changes are returned, so the defaults leave the scenario untouched.
    """
    overrides = {PARAMETER_PATHS[name]: value for name, value in settings.items() if value is not None}
    overrides = {path: value for path, value in overrides.items() if value != _scenario_value(scenario, path)}
    policies = [policy for policy in scenario.pairing.policies if enabled_types.get(policy.type, True)]
    if len(policies) < len(scenario.pairing.policies) or funds_scale != 1.0 or training_scale != 1.0:
        scaled = []
        for policy in policies:
            data = policy.model_dump()
            data["flows"]["funds"] *= funds_scale
            data["flows"]["trainees"] *= training_scale
            scaled.append(data)
        overrides["pairing.policies"] = scaled
    return overrides


class AppModel(PairingModel):
    """:class:`PairingModel` on the app's scenario, built from slider keywords.

    SolaraViz rebuilds the model by calling its class with one keyword per
    slider, so this class takes those keywords and turns them into
    ``overrides``; ``PairingModel``'s own signature stays what scripts and the
    experiment runner use. ``None`` means "the scenario's value".
    """

    def __init__(
        self,
        rng: int = 1,
        horizon_years: int | None = None,
        leakage: float | None = None,
        formalism: float | None = None,
        dependency: float | None = None,
        elite_capture: float | None = None,
        talent_drain: float | None = None,
        strong_first: float | None = None,
        donor_cost: float | None = None,
        accountability: float | None = None,
        funds_scale: float = 1.0,
        training_scale: float = 1.0,
        **enabled_types: bool,
    ) -> None:
        settings = {
            "horizon_years": horizon_years,
            "leakage": leakage,
            "formalism": formalism,
            "dependency": dependency,
            "elite_capture": elite_capture,
            "talent_drain": talent_drain,
            "strong_first": strong_first,
            "donor_cost": donor_cost,
            "accountability": accountability,
        }
        # SolaraViz hands a model that takes **keywords Mesa's own scenario object; the app's county is APP_SCENARIO.
        enabled_types.pop("scenario", None)
        unknown = sorted(set(enabled_types) - set(policy_types()))
        if unknown:
            raise TypeError(f"AppModel got keywords that are not policy types: {unknown}")
        overrides = app_overrides(APP_SCENARIO, settings, enabled_types, funds_scale, training_scale)
        # Students watch the Gini move month by month; the app's county is small enough to rank every month.
        super().__init__(scenario=APP_SCENARIO, rng=int(rng), overrides=overrides, monthly_inequality=True)
        self.app_overrides = overrides


def _slider(scenario: Scenario, label: str, name: str, low: float, high: float, step: float) -> Slider:
    """A slider that starts at the scenario's value (the range widens to include it)."""
    value = _scenario_value(scenario, PARAMETER_PATHS[name])
    return Slider(label, value, min(low, value), max(high, value), step, dtype=float)


def build_model_params(scenario: Scenario = APP_SCENARIO) -> dict[str, Any]:
    """Sliders for seed, horizon, failure modes, governance and flow scales; a checkbox per pairing type in the scenario.

    Labels are short because the sidebar is narrow; :data:`PARAMETER_HELP` (shown on the
    app's second page) says what each one means.
    """
    params: dict[str, Any] = {
        "rng": Slider("Seed", 1, 1, 100, 1, dtype=int),
        "horizon_years": Slider("Years", scenario.horizon_years, 1, max(20, scenario.horizon_years), 1, dtype=int),
        "leakage": _slider(scenario, "Leakage", "leakage", 0.0, 0.5, 0.01),
        "formalism": _slider(scenario, "Formalism", "formalism", 0.0, 0.2, 0.005),
        "dependency": _slider(scenario, "Dependency", "dependency", 0.0, 1.0, 0.05),
        "elite_capture": _slider(scenario, "Elite capture", "elite_capture", 0.0, 0.8, 0.05),
        "talent_drain": _slider(scenario, "Talent drain", "talent_drain", 0.0, 3.0, 0.1),
        "strong_first": _slider(scenario, "Strong first", "strong_first", 0.0, 1.0, 0.05),
        "donor_cost": _slider(scenario, "Donor cost", "donor_cost", 0.0, 0.1, 0.005),
        "accountability": _slider(scenario, "Accountability", "accountability", 0.0, 1.0, 0.05),
        "funds_scale": Slider("Funds x", 1.0, 0.0, 3.0, 0.25, dtype=float),
        "training_scale": Slider("Training x", 1.0, 0.0, 3.0, 0.25, dtype=float),
    }
    for policy_type in dict.fromkeys(policy.type for policy in scenario.pairing.policies):
        params[policy_type] = {"type": "Checkbox", "value": True, "label": policy_types()[policy_type].label}
    return params


# ---------------------------------------------------------------------- the pairing network


def node_flows(model: PairingModel) -> dict[str, float]:
    """Yuan moved so far by each node of the pairing graph: sent by donors and branches, received by villages.

    Funds and market savings count in yuan, the other flows at what they cost the donors (the ledger's ``cost``,
    at each month's prices); a village receives that cost less what leaked on the way.
    """
    pairing = model.pairing
    links = pairing.links
    ledger = pairing.ledger.frame()
    totals: dict[str, float] = {}
    if ledger.empty:
        return totals
    in_yuan = ledger["flow"].map({name: flow.unit == "yuan" for name, flow in flows().items()}).fillna(False).to_numpy(bool)
    sent_units, received_units = ledger["sent"].to_numpy(float), ledger["received"].to_numpy(float)
    cost = ledger["cost"].to_numpy(float)
    sent_yuan = np.where(in_yuan, sent_units, cost)
    received_yuan = np.where(in_yuan, received_units, cost * received_units / np.maximum(sent_units, 1e-12))
    link_ids = ledger["link"].to_numpy(np.int64)
    sent = np.bincount(link_ids, weights=sent_yuan, minlength=len(links))
    received = np.bincount(link_ids, weights=received_yuan, minlength=len(links))
    kinds = links.donor_kind_names()
    for row in range(len(links)):
        donor = model.organisations_of(kinds[row])[links.donor_index[row]]
        for node, amount in (
            (donor.node_id, sent[row]),
            (pairing.branches[links.branch[row]].node_id, sent[row]),
            (model.villages[links.village[row]].node_id, received[row]),
        ):
            totals[node] = totals.get(node, 0.0) + float(amount)
    return totals


def node_positions(model: PairingModel) -> dict[str, tuple[float, float]]:
    """Where each pairing-graph node sits: organisations with a place (``xy``) on the county map, the others (county
    departments, urban communities) in a column to its west.

    A fixed map (not a spring layout) keeps nodes still while the network grows
    month by month; a joint branch sits at the mean of its members.
    """
    side = math.sqrt(model.spec.region.area_km2)
    positions: dict[str, tuple[float, float]] = {}
    placed = [organisation for kind in model.organisations.values() for organisation in kind if hasattr(organisation, "xy")]
    for organisation in placed:
        positions[organisation.node_id] = (float(organisation.xy[0]), float(organisation.xy[1]))
    urban = [organisation for kind in model.organisations.values() for organisation in kind if not hasattr(organisation, "xy")]
    for rank, organisation in enumerate(urban):
        positions[organisation.node_id] = (-0.15 * side, side * (rank + 1) / (len(urban) + 1))
    for branch in model.pairing.branches:
        members = np.array([positions[member.node_id] for member in (*branch.donors, *branch.villages)])
        positions[branch.node_id] = tuple(members.mean(axis=0))
    return positions


def closed_branches(model: PairingModel, graph: nx.Graph) -> set[str]:
    """Graph nodes of the joint branches none of whose donor-village pairs is still active (drawn faded).

    ``graph`` is ``model.pairing.refreshed_graph()``, refreshed once by the caller, which draws it too.
    """
    return {branch.node_id for branch in model.pairing.branches if graph.nodes[branch.node_id]["status"] != "active"}


def branches_active(model: PairingModel, closed: set[str]) -> str:
    """ "N of M": joint branches still active, of all formed so far; the network's title and the table both show it.

    A branch (one policy's donors and villages together) is active while any of its
    pairs (donor-village links) is; the table's pair counts are of links, so they differ.
    """
    branches = len(model.pairing.branches)
    return f"{branches - len(closed)} of {branches}"


def draw_pairing_network(model: PairingModel) -> Figure:
    """The pairing graph over the county map: organisations coloured by kind and joint branches by policy type (the
    registries' colours), size by yuan moved, closed branches faded."""
    graph = model.pairing.refreshed_graph()
    positions = node_positions(model)
    flows = node_flows(model)
    largest = max(flows.values(), default=0.0) or 1.0

    figure = Figure(figsize=(8.0, 5.6))  # landscape, to fit SolaraViz's grid cell
    ax = figure.subplots()
    paired = {node for node in graph if graph.nodes[node]["kind"] == "village"}
    unpaired = np.array([positions[v.node_id] for v in model.villages if v.node_id not in paired]).reshape(-1, 2)
    ax.scatter(unpaired[:, 0], unpaired[:, 1], s=8, color="lightgray", label="village, not paired", zorder=1)

    closed = closed_branches(model, graph)
    for is_closed, style in (
        (False, {"colors": "darkgray", "linewidths": 0.8}),
        (True, {"colors": "lightgray", "linestyles": "dotted"}),
    ):
        segments = [(positions[a], positions[b]) for a, b in graph.edges if (a in closed or b in closed) == is_closed]
        if segments:
            ax.add_collection(LineCollection(segments, zorder=2, **style))

    # Organisations by kind; joint branches by policy type, each in its registry colour.
    groups = [(looks.label, looks.colour, "o", {"kind": kind}) for kind, looks in node_kinds().items() if kind != JOINT_BRANCH]
    groups += [
        (f"branches: {legend_label(entry.label)}", entry.colour, "D", {"kind": JOINT_BRANCH, "type": name})
        for name, entry in policy_types().items()
    ]
    for label, colour, marker, wanted in groups:
        nodes = [node for node, data in graph.nodes(data=True) if all(data.get(k) == v for k, v in wanted.items())]
        if not nodes:
            continue
        xy = np.array([positions[node] for node in nodes])
        sizes = [25 + 475 * math.sqrt(flows.get(node, 0.0) / largest) for node in nodes]
        faded = [node in closed for node in nodes]
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=sizes,
            color=colour,
            alpha=[0.3 if f else 0.9 for f in faded],
            marker=marker,
            edgecolors="white",
            linewidths=0.5,
            label=legend_label(label),
            zorder=3,
        )

    ax.set_title(f"Pairing network, {model.year} month {model.month_of_year}: {branches_active(model, closed)} branches active")
    ax.set_xlabel("km (urban donors in the column on the left)")
    ax.set_ylabel("km")
    ax.set_aspect("equal")
    ax.margins(0.08)
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="size: yuan sent\nor received")
    for handle in legend.legend_handles:
        handle.set_sizes([40])
    return figure


@solara.component
def PairingNetwork(model: PairingModel):
    """The pairing network, redrawn after every step."""
    update_counter.get()
    solara.FigureMatplotlib(draw_pairing_network(model), format="png", bbox_inches="tight")


# ---------------------------------------------------------------------- live numbers and plots


def live_numbers(model: PairingModel) -> dict[str, str]:
    """The month, the gap and what pairing has moved so far, formatted for display."""
    outcomes, history = model.outcomes, model.datacollector.model_vars
    villages = len(model.villages)
    return {
        "Month": f"{model.months_elapsed} of {model.spec.months} ({model.year}, month {model.month_of_year})",
        "Rural / urban income per capita": f"{outcomes['rural_income_pc']:,.0f} / {outcomes['urban_income_pc']:,.0f} yuan a year",
        "Urban/rural ratio": f"{outcomes['urban_rural_ratio']:.3f}",
        "Gini (all residents)": f"{outcomes['gini']:.4f}",
        "Weak villages (薄弱村)": f"{outcomes['weak_villages']:.0f} of {villages}",
        "Hollow villages (空壳村)": f"{outcomes['hollow_villages']:.0f} of {villages}",
        "Joint branches active": branches_active(model, closed_branches(model, model.pairing.refreshed_graph())),
        "Pairs (donor-village links) active / ended / graduated": (
            f"{outcomes['active_pairs']:.0f} / {outcomes['ended_pairs']:.0f} / {outcomes['graduated_pairs']:.0f}"
        ),
        "Funds sent so far": f"{sum(history['funds_sent']):,.0f} yuan",
        "Lost to leakage so far": f"{sum(history['funds_lost']):,.0f} yuan",
    }


def html_table(rows: dict[str, str]) -> str:
    """Two-column HTML table of names and values (escaped)."""
    body = "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" for name, value in rows.items())
    return f'<table class="pairsim-table">{body}</table>'


# Plain HTML, not solara.Markdown: Markdown loads KaTeX from a CDN (solara-assets does not ship it), which
# fails offline with a console error and a failed fetch in the server's log.
TABLE_STYLE = (
    "<style>.pairsim-table{border-collapse:collapse;width:100%}"
    ".pairsim-table th,.pairsim-table td{padding:2px 8px;border-bottom:1px solid rgba(128,128,128,.3);text-align:left}"
    ".pairsim-table th{font-weight:normal}.pairsim-table td{font-variant-numeric:tabular-nums}</style>"
)


@solara.component
def LiveNumbers(model: PairingModel):
    """A small table of the current month's key figures."""
    update_counter.get()
    solara.HTML(
        tag="div", unsafe_innerHTML=f"{TABLE_STYLE}<h4>{html.escape(model.spec.name)}</h4>{html_table(live_numbers(model))}"
    )


@solara.component
def SliderGuide(model: PairingModel):
    """What the short sidebar labels mean, and what this run changed from the scenario file."""
    guide = "".join(f"<li><b>{html.escape(name)}</b>: {html.escape(meaning)}</li>" for name, meaning in PARAMETER_HELP.items())
    changed = ", ".join(f"<code>{html.escape(path)}</code>" for path in getattr(model, "app_overrides", {}))
    solara.HTML(
        tag="div",
        unsafe_innerHTML=f"<h4>Sliders (press Reset to apply)</h4><ul>{guide}</ul>"
        f"<p>This run overrides: {changed or 'nothing (the scenario as written)'}</p>",
    )


def outcome_plot(colours: dict[str, str], title: str, page: int = 0):
    """A live plot of monthly outcomes; its legend and axis are the outcome registry's labels and axis title."""

    def post_process(ax) -> None:
        ax.set_title(f"{title} (step = month)")
        ax.set_ylabel(OUTCOMES[next(iter(colours))].axis)
        ax.legend([legend_label(OUTCOMES[key].label) for key in colours], loc="best")

    return make_plot_component(colours, post_process=post_process, page=page)


GINI_PLOT = outcome_plot({"gini": "tab:red", "gini_rural": "tab:orange"}, "Gini of per-capita income")
RATIO_PLOT = outcome_plot({"urban_rural_ratio": "tab:blue"}, "Urban/rural income ratio")
VILLAGES_PLOT = outcome_plot({"weak_villages": "tab:brown", "hollow_villages": "black"}, "Weak and hollow villages", page=1)
FUNDS_PLOT = outcome_plot({"funds_sent": "tab:green", "funds_lost": "tab:red"}, "Pairing funds each month", page=1)
COMPONENTS = [(PairingNetwork, 0), (LiveNumbers, 0), GINI_PLOT, RATIO_PLOT, VILLAGES_PLOT, FUNDS_PLOT, (SliderGuide, 1)]


# ---------------------------------------------------------------------- the page


def slider_text(slider: Slider, value: float) -> str:
    """A slider's value as shown beside it, with as many decimals as its step has."""
    if not slider.is_float_slider:
        return str(int(value))
    step = f"{slider.step:f}".rstrip("0")
    decimals = len(step.partition(".")[2])
    return f"{value:.{decimals}f}"


@solara.component
def ParameterInputs(user_params: dict[str, Any], values: solara.Reactive[dict[str, Any]]):
    """The sidebar's sliders, each with its current value beside it, and a checkbox per pairing type.

    Mesa's own inputs show a slider's value only while it is dragged; these write into
    ``values``, which Reset passes to :class:`AppModel` as keywords.
    """
    for name, options in user_params.items():

        def set_value(value, name=name):
            values.set({**values.value, name: value})

        current = values.value[name]
        if isinstance(options, Slider):
            slider = solara.SliderFloat if options.is_float_slider else solara.SliderInt
            with solara.Row(style={"align-items": "center"}, gap="8px"):
                slider(options.label, value=current, on_value=set_value, min=options.min, max=options.max, step=options.step)
                solara.Text(
                    slider_text(options, current), style={"min-width": "3.5em", "text-align": "right"}, classes=["slider-value"]
                )
        else:
            solara.Checkbox(label=options["label"], value=current, on_value=set_value)


@solara.component
def AppViz(model: solara.Reactive[PairingModel]):
    """Mesa's SolaraViz layout (controls, parameters, tabs of components) with :func:`ParameterInputs` for its inputs."""
    user_params = solara.use_memo(build_model_params, [])
    values = solara.use_reactive(
        {name: options.value if isinstance(options, Slider) else options["value"] for name, options in user_params.items()}
    )
    play_interval = solara.use_reactive(100)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)

    with solara.AppBar():
        solara.AppBarTitle(f"pairsim: {APP_SCENARIO.name}")
        solara.lab.ThemeToggle()
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            solara.SliderInt("Play Interval (ms)", value=play_interval, min=1, max=500, step=10)
            solara.SliderInt("Render Interval (steps)", value=render_interval, min=1, max=100, step=2)
            solara.Checkbox(label="Use Threads", value=use_threads)
            ModelController(
                model,
                model_parameters=values,
                play_interval=play_interval,
                render_interval=render_interval,
                use_threads=use_threads,
            )
        with solara.Card("Model Parameters"):
            ParameterInputs(user_params, values)
        with solara.Card("Information"):
            ShowSteps(model.value)
    ComponentsView(list(COMPONENTS), model.value)


def build_page(model: solara.Reactive[PairingModel]):
    """The app's page for a reactive model (tests pass one to see the model a Reset builds)."""
    return AppViz(model)


@solara.component
def Page():
    """What ``solara run sim/app.py`` serves: a county of its own for every browser session.

    The model is made here, once per session, not at import: a model built at module
    level is one object shared by every session, so two students would step the same
    county (a second browser would open at the month the first had reached).
    """
    first = solara.use_memo(AppModel, [])
    AppViz(solara.use_reactive(first))
