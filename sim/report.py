"""One self-contained HTML report of a results folder (what ``pairsim report`` writes).

Reads either an experiment's folder (``runs/*.parquet`` + ``manifest.json``, from
``pairsim compare``/``sweep``) or one ``pairsim run`` output folder, and draws
the figures a policy researcher sends to colleagues: outcomes over time with
95 % bands, effects against the baseline, Lorenz curves, the Theil split, weak
and hollow villages, who funds whom, cost-effectiveness, the pairing network
and sensitivity indices. plotly.js is embedded once, so the file works offline.
Every piece of text that comes from a scenario or experiment file is escaped.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from sim import analysis
from sim.errors import InputError
from sim.execute import FUNDS_BY_KIND_COLUMNS, build_model
from sim.experiment import BASELINE, Design, file_hash, load_experiment, run_specs, salib_problem
from sim.outcomes import LORENZ_OUTCOMES, LORENZ_SHARES
from sim.pairing.links import DONOR_KINDS
from sim.pairing.programme import RECIPIENT_CLASSES, funds_by_donor_kind
from sim.results import ResultsStore, load_results, write_atomically
from sim.runner import package_version
from sim.scenario import load_scenario
from sim.summary import HEADLINE_OUTCOMES, manifest_design

RUN_ARM = "run"
"""The arm name given to the one trajectory of a ``pairsim run`` folder."""

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

KIND_LABELS = {
    "department": "departments (部门)",
    "community": "urban communities (社区)",
    "enterprise": "enterprises (企业)",
    "village": "villages (村)",
    "cooperative": "cooperatives (合作社)",
    "joint_branch": "joint branches (联合党总支)",
}

OUTCOME_LABELS = {
    "rural_income_pc": ("Mean rural income", "yuan per person per year"),
    "urban_income_pc": ("Mean urban income", "yuan per person per year"),
    "urban_rural_ratio": ("Urban/rural income ratio", "ratio (urban ÷ rural)"),
    "gini": ("Gini (all residents)", "Gini index (0 = equal, 1 = one holds all)"),
    "theil_t": ("Theil T (all residents)", "Theil T index (≥ 0)"),
    "theil_between_share": ("Urban/rural share of Theil T", "share"),
    "poverty_headcount": ("Rural poverty headcount", "share of rural residents"),
    "weak_villages": ("Weak villages (薄弱村)", "count (villages)"),
    "hollow_villages": ("Hollow villages (空壳村)", "count (villages)"),
}

TIME_SERIES = {
    "rural_income_pc": "Mean 12-month income per rural resident, by arm.",
    "urban_income_pc": "Mean 12-month income per urban resident, by arm. Pairing barely reaches urban incomes, so the arms overlap.",
    "urban_rural_ratio": "How many times the rural mean the urban mean income is. Lower means a narrower urban–rural gap.",
    "gini": "Inequality of income over all residents, urban and rural together. Lower means more equal.",
    "theil_t": "Another inequality index over all residents; unlike the Gini it splits exactly into the urban–rural gap and "
    "the inequality within each side (see the decomposition below).",
}


@dataclass
class Section:
    """One part of the report: a heading, its figures (each with a caption) and/or a note saying why it is empty."""

    title: str
    figures: list[tuple[go.Figure, str]] = field(default_factory=list)
    note: str = ""
    table_html: str = ""


@dataclass
class ReportInput:
    """A results folder, read once: the tidy yearly table every figure draws from, plus what only some folders have."""

    folder: Path
    kind: str  # "experiment" or "run"
    title: str
    overview: list[tuple[str, str]]  # (label, plain text), escaped when rendered
    results: pd.DataFrame  # one row per run and time point (yearly; monthly for a single run), in sim.analysis's format
    funds_by_kind: pd.DataFrame  # arm, donor_kind, recipient, sent (mean per run, yuan); empty when unknown
    funds_note: str = ""
    network: tuple[nx.Graph, dict[str, float], str] | None = None  # graph, funds per node, what the sizes mean
    network_note: str = ""
    design: Design | None = None


# --------------------------------------------------------------------------- reading a folder


def load_report_input(folder: str | Path) -> ReportInput:
    """Read an experiment folder or a ``pairsim run`` folder; anything else is bad input (one line, no traceback)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError.single(
            str(folder), "", "no such folder; expected a results folder written by pairsim compare, sweep or run"
        )
    if (folder / "manifest.json").is_file():
        return _experiment_input(folder)
    if (folder / "monthly.parquet").is_file() and (folder / "run.json").is_file():
        return _run_input(folder)
    raise InputError.single(
        str(folder),
        "",
        "not a results folder; expected manifest.json and runs/ (pairsim compare or sweep) or monthly.parquet and run.json (pairsim run)",
    )


def _experiment_input(folder: Path) -> ReportInput:
    store = ResultsStore(folder)
    try:
        manifest = store.read_manifest()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError.single(
            str(folder / "manifest.json"), "", f"not valid JSON ({error}); expected a manifest written by pairsim"
        ) from None
    if not store.finished():
        raise InputError.single(str(folder), "runs", "no finished runs yet; run pairsim compare or sweep (again) to make some")
    results = _baseline_first(load_results(folder))
    experiment, experiment_note = _experiment_of(manifest)
    runs = manifest.get("runs", {})
    statuses = pd.Series([run.get("status", "pending") for run in runs.values()], dtype=object).value_counts()
    arms = list(pd.unique(results["arm"]))
    scenarios = [_scenario_name(path) for path in manifest.get("scenarios", {})] or list(pd.unique(results["scenario"]))
    overview = [
        ("Experiment", str(manifest.get("experiment", folder.name))),
        ("Description", experiment.description if experiment is not None and experiment.description else "—"),
        ("Scenarios", ", ".join(scenarios)),
        ("Arms", ", ".join(arms)),
        ("Replications per arm", str(manifest.get("replications", results["replication"].nunique()))),
        ("Design points", str(results["point"].nunique())),
        (
            "Horizon",
            f"{int(results['year'].min())}–{int(results['year'].max())} ({int(results['year'].max() - results['year'].min())} years)",
        ),
        ("Runs", ", ".join(f"{count} {status}" for status, count in statuses.items())),
        ("Seed", str(manifest.get("seed", "—"))),
        ("Package versions", _versions(manifest.get("versions", {}))),
        ("Results written", _modified(store.manifest_path)),
        ("Report built", f"{_now()} with pairsim {package_version('pairsim')}"),
    ]
    if experiment_note:
        overview.append(("Note", experiment_note))
    funds, funds_note = _experiment_funds(results)
    network, network_note = _experiment_network(experiment, experiment_note)
    return ReportInput(
        folder=folder,
        kind="experiment",
        title=f"Experiment {manifest.get('experiment', folder.name)}",
        overview=overview,
        results=results,
        funds_by_kind=funds,
        funds_note=funds_note,
        network=network,
        network_note=network_note,
        design=manifest_design(manifest),
    )


def _baseline_first(results: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered baseline first, then the other arms by name: every figure lists and colours arms in this order."""
    later = results["arm"].ne(BASELINE).rename("_later")
    return results.join(later).sort_values(["_later", "arm", "run_id", "year"], kind="stable").drop(columns="_later").reset_index(drop=True)


def _experiment_of(manifest: dict):
    """The experiment file the results came from, if it is still there unchanged (for its description and arms)."""
    path = manifest.get("experiment_file")
    if not path or not Path(path).is_file():
        return None, f"the experiment file {path} is no longer there, so its description and pairing network are not shown"
    if manifest.get("experiment_sha256") and file_hash(path) != manifest["experiment_sha256"]:
        return None, f"the experiment file {path} has changed since these results were made, so its pairing network is not shown"
    try:
        return load_experiment(path), ""
    except InputError as error:
        return None, f"the experiment file no longer loads ({error})"


def _experiment_funds(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Final-year funds by donor kind and recipient class, mean per run of each arm (arms that sent nothing left out)."""
    columns = list(FUNDS_BY_KIND_COLUMNS.values())
    if not set(columns) <= set(results.columns):
        return _no_funds(), "these results were made before runs recorded funds by kind of donor"
    final = analysis.final_year(results)
    means = final.groupby("arm", sort=False)[columns].mean()
    rows = [
        {"arm": arm, "donor_kind": kind, "recipient": recipient, "sent": means.loc[arm, column]}
        for arm in means.index
        for (kind, recipient), column in FUNDS_BY_KIND_COLUMNS.items()
        if means.loc[arm, column] > 0
    ]
    return (pd.DataFrame(rows), "") if rows else (_no_funds(), "no arm sent any pairing funds")


def _experiment_network(experiment, experiment_note: str):
    """The pairing graph of replication 0 of the arm with the most policies, rebuilt (runs are deterministic; building is fast)."""
    if experiment is None:
        return None, experiment_note
    specs = [spec for spec in run_specs(experiment) if spec.replication == 0 and spec.point == 0 and spec.arm != BASELINE]
    if not specs:
        return None, "the experiment has no pairing arm"
    spec = max(specs, key=lambda s: math.inf if s.keep_policies is None else len(s.keep_policies))
    model = build_model(spec)
    programme = model.pairing
    if not programme.branches:
        return None, f"arm {spec.arm} forms no joint branches"
    planned = pd.Series(programme.links.planned["funds"], name="sent")
    what = f"arm {spec.arm}, replication 0, at the start; node size: planned funds a year (yuan)"
    return (programme.graph, _node_funds(programme.graph, programme.link_table(), planned), what), ""


def _run_input(folder: Path) -> ReportInput:
    meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    monthly = pd.read_parquet(folder / "monthly.parquet")
    start_year = int(meta.get("start_year", monthly["year"].min()))
    results = monthly.assign(
        run_id=folder.name,
        scenario=str(meta.get("scenario", folder.name)),
        arm=RUN_ARM,
        point=0,
        replication=0,
        seed=meta.get("seed", 0),
    )
    results["year"] = start_year + results["step"] / 12.0  # monthly detail: one trajectory, no bands
    overview = [
        ("Scenario", str(meta.get("scenario", "—"))),
        ("Scenario file", str(meta.get("scenario_file", "—"))),
        ("Seed", str(meta.get("seed", "—"))),
        (
            "Horizon",
            f"{start_year}–{start_year + int(meta.get('horizon_years', 0))} ({meta.get('horizon_years', '—')} years, monthly)",
        ),
        ("Arms, replications", "one run (one draw of the county's randomness: no intervals)"),
        ("Package versions", _versions(meta.get("versions", {}))),
        ("Results written", _modified(folder / "run.json")),
        ("Report built", f"{_now()} with pairsim {package_version('pairsim')}"),
    ]
    funds, funds_note, network, network_note = _no_funds(), "", None, ""
    ledger_path, links_path, graph_path = folder / "ledger.parquet", folder / "links.parquet", folder / "pairing_graph.json"
    if ledger_path.is_file() and links_path.is_file():
        ledger, links = pd.read_parquet(ledger_path), pd.read_parquet(links_path)
        if "weak_at_start" not in links.columns:
            funds_note = "this run's links table predates the weak-at-pairing column"
        else:
            totals = funds_by_donor_kind(ledger, links).groupby(["donor_kind", "recipient"], as_index=False)["sent"].sum()
            funds = totals[totals["sent"] > 0].assign(arm=RUN_ARM)
            funds_note = "" if len(funds) else "the run sent no pairing funds"
        if graph_path.is_file() and len(links):
            graph = nx.node_link_graph(json.loads(graph_path.read_text(encoding="utf-8")), edges="links")
            sent = (
                ledger[ledger["flow"] == "funds"]
                .groupby("link")["sent"]
                .sum()
                .reindex(links["link"], fill_value=0.0)
                .reset_index(drop=True)
            )
            network = (graph, _node_funds(graph, links, sent), "at the end of the run; node size: funds sent over the run (yuan)")
        else:
            network_note = "the run has no pairing (or no pairing_graph.json)"
    else:
        funds_note = network_note = "the folder has no ledger/links tables"
    return ReportInput(
        folder=folder,
        kind="run",
        title=f"Run of {meta.get('scenario', folder.name)}",
        overview=overview,
        results=results,
        funds_by_kind=funds,
        funds_note=funds_note,
        network=network,
        network_note=network_note,
    )


def _node_funds(graph: nx.Graph, links: pd.DataFrame, sent_per_link: pd.Series) -> dict[str, float]:
    """Funds through each node: a branch's links, a donor's links, a village's links (``sent_per_link`` in link order)."""
    frame = links[["branch", "donor_kind", "donor", "village"]].reset_index(drop=True).assign(sent=sent_per_link.to_numpy(float))
    by_key: dict[tuple[str, str], float] = {}
    for key_columns, kind in ((["donor_kind", "donor"], None), (["village"], "village"), (["branch"], "joint_branch")):
        for key, total in frame.groupby(key_columns)["sent"].sum().items():
            name = key if not isinstance(key, tuple) else key[1]
            node_kind = kind or key[0]
            by_key[(node_kind, str(name))] = by_key.get((node_kind, str(name)), 0.0) + float(total)
    funds = {}
    for node, attributes in graph.nodes(data=True):
        kind = attributes.get("kind", "")
        name = str(attributes.get("branch", "")) if kind == "joint_branch" else str(attributes.get("name", ""))
        funds[node] = by_key.get((kind, name), 0.0)
    return funds


def _no_funds() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arm": pd.Series(dtype=object),
            "donor_kind": pd.Series(dtype=object),
            "recipient": pd.Series(dtype=object),
            "sent": pd.Series(dtype=float),
        }
    )


def _scenario_name(path: str) -> str:
    try:
        return f"{load_scenario(path).name} ({Path(path).name})"
    except (InputError, OSError):
        return Path(path).stem


def _versions(versions: dict) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items()) or "—"


def _modified(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- figures


def _text(value: object) -> str:
    """Text from a scenario or experiment file, safe inside HTML and inside plotly's own markup."""
    return html.escape(str(value))


def _colour(index: int, alpha: float = 1.0) -> str:
    red, green, blue = (int(COLOURS[index % len(COLOURS)][i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str, height: int = 420) -> go.Figure:
    figure.update_layout(
        title={"text": title},
        xaxis_title=x_title,
        yaxis_title=y_title,
        showlegend=True,
        legend={"title": {"text": "arm"}},
        height=height,
        margin={"l": 70, "r": 30, "t": 60, "b": 60},
        template="plotly_white",
        hovermode="x unified",
    )
    return figure


def _time_label(data: ReportInput) -> str:
    return "year (monthly steps)" if data.kind == "run" else "year"


def _year_ticks(figure: go.Figure) -> go.Figure:
    """Whole years on the time axis (a single run's monthly steps are fractions of a year)."""
    return figure.update_xaxes(tickformat="d", dtick=1)


def time_series_figure(data: ReportInput, outcome: str) -> go.Figure:
    """Mean of ``outcome`` over replications per arm and year, with the 95 % interval as a band (none for one run)."""
    table = analysis.time_series(data.results, outcome)
    figure = go.Figure()
    for index, (arm, rows) in enumerate(table.groupby("arm", sort=False)):
        rows = rows.groupby("year", as_index=False)[["mean", "ci_low", "ci_high"]].mean()  # several scenarios/points: pooled
        if rows["ci_low"].notna().any():
            figure.add_trace(
                go.Scatter(
                    x=[*rows["year"], *rows["year"][::-1]],
                    y=[*rows["ci_high"], *rows["ci_low"][::-1]],
                    fill="toself",
                    mode="lines",
                    fillcolor=_colour(index, 0.18),
                    line={"width": 0},
                    hoverinfo="skip",
                    legendgroup=_text(arm),
                    name=f"{_text(arm)} 95% interval",
                    showlegend=False,
                )
            )
        figure.add_trace(
            go.Scatter(
                x=rows["year"],
                y=rows["mean"],
                mode="lines+markers" if data.kind == "experiment" else "lines",
                line={"color": _colour(index)},
                legendgroup=_text(arm),
                name=_text(arm),
            )
        )
    title, unit = OUTCOME_LABELS[outcome]
    return _year_ticks(_layout(figure, title, _time_label(data), unit))


def forest_figure(differences: pd.DataFrame) -> go.Figure:
    """Final-year effect of each arm on each headline outcome, as % of the baseline, with its 95 % interval."""
    figure = go.Figure()
    labels = {outcome: OUTCOME_LABELS.get(outcome, (outcome, ""))[0] for outcome in differences["outcome"].unique()}
    for index, (arm, rows) in enumerate(differences.groupby("arm", sort=False)):
        scale = 100.0 / rows["baseline_mean"].where(rows["baseline_mean"] != 0)
        effect, low, high = rows["difference"] * scale, rows["ci_low"] * scale, rows["ci_high"] * scale
        figure.add_trace(
            go.Scatter(
                x=effect,
                y=[labels[o] for o in rows["outcome"]],
                mode="markers",
                marker={"color": _colour(index + 1), "size": 9},
                error_x={"type": "data", "symmetric": False, "array": high - effect, "arrayminus": effect - low},
                name=_text(arm),
                customdata=np.stack([rows["difference"], rows["ci_low"], rows["ci_high"], rows["n"]], axis=1),
                hovertemplate="%{y}: %{x:.2f}% of baseline<br>difference %{customdata[0]:.4g} [%{customdata[1]:.4g}, %{customdata[2]:.4g}], n=%{customdata[3]}",
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


def lorenz_figure(data: ReportInput) -> go.Figure:
    """Lorenz curves of all residents' income at the start (common to every arm) and the final year, per arm."""
    columns = list(LORENZ_OUTCOMES)
    yearly = data.results[np.isclose(data.results["year"] % 1, 0)]
    start, end = yearly["year"].min(), yearly["year"].max()
    shares = [0.0, *LORENZ_SHARES, 1.0]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "lightgrey", "dash": "dot"}, name="perfect equality")
    )
    start_curve = yearly[yearly["year"] == start][columns].mean()
    figure.add_trace(
        go.Scatter(
            x=shares,
            y=[0.0, *start_curve, 1.0],
            mode="lines+markers",
            line={"color": "black", "dash": "dash"},
            name=f"start ({int(start)})",
        )
    )
    for index, (arm, rows) in enumerate(yearly[yearly["year"] == end].groupby("arm", sort=False)):
        curve = rows[columns].mean()
        figure.add_trace(
            go.Scatter(
                x=shares,
                y=[0.0, *curve, 1.0],
                mode="lines+markers",
                line={"color": _colour(index)},
                name=f"{_text(arm)}, {int(end)}",
            )
        )
    _layout(
        figure,
        "Lorenz curves of income, all residents",
        "population share, poorest first (share)",
        "share of all income (share)",
        height=480,
    )
    figure.update_layout(hovermode="closest", legend={"title": {"text": "curve"}})
    figure.update_xaxes(range=[0, 1])
    figure.update_yaxes(range=[0, 1])
    return figure


def theil_figure(data: ReportInput) -> go.Figure:
    """Theil T split into the urban–rural gap (between) and inequality within each side, per arm over time."""
    results = data.results.assign(_within=data.results["theil_t"] - data.results["theil_t_between"])
    between = analysis.time_series(results, "theil_t_between")
    within = analysis.time_series(results.rename(columns={"_within": "theil_t_within_"}), "theil_t_within_")
    figure = go.Figure()
    for index, arm in enumerate(pd.unique(between["arm"])):
        for part, table, dash in (("between urban and rural", between, "solid"), ("within urban and rural", within, "dash")):
            rows = table[table["arm"] == arm].groupby("year", as_index=False)["mean"].mean()
            figure.add_trace(
                go.Scatter(
                    x=rows["year"],
                    y=rows["mean"],
                    mode="lines",
                    line={"color": _colour(index), "dash": dash},
                    legendgroup=_text(arm),
                    name=f"{_text(arm)}: {part}",
                )
            )
    _layout(
        figure,
        "Theil T decomposition: urban–rural gap and inequality within each side",
        _time_label(data),
        "Theil T component (≥ 0)",
    )
    figure.update_layout(legend={"title": {"text": "arm: part"}})
    return _year_ticks(figure)


def sankey_figure(funds: pd.DataFrame) -> go.Figure:
    """Funds from donor kinds to villages weak when paired and other villages; one diagram per arm, chosen by buttons."""
    kinds = [kind for kind in DONOR_KINDS if kind in set(funds["donor_kind"])]
    recipients = list(RECIPIENT_CLASSES)
    labels = [KIND_LABELS[kind] for kind in kinds] + [RECIPIENT_CLASSES[r] for r in recipients]
    node_colours = [_colour(i, 0.85) for i in range(len(kinds))] + ["rgba(214,39,40,0.85)", "rgba(127,127,127,0.85)"]
    figure = go.Figure()
    arms = list(pd.unique(funds["arm"]))
    for index, arm in enumerate(arms):
        rows = funds[funds["arm"] == arm]
        figure.add_trace(
            go.Sankey(
                name=_text(arm),
                visible=index == 0,
                valueformat=",.0f",
                valuesuffix=" yuan",
                node={"label": labels, "color": node_colours, "pad": 18, "thickness": 18},
                link={
                    "source": [kinds.index(k) for k in rows["donor_kind"]],
                    "target": [len(kinds) + recipients.index(r) for r in rows["recipient"]],
                    "value": rows["sent"].to_numpy(float),
                    "color": [_colour(kinds.index(k), 0.35) for k in rows["donor_kind"]],
                },
            )
        )
    buttons = [
        {
            "label": _text(arm),
            "method": "update",
            "args": [{"visible": [i == j for j in range(len(arms))]}, {"title.text": _sankey_title(arm)}],
        }
        for i, arm in enumerate(arms)
    ]
    figure.update_layout(
        title={"text": _sankey_title(arms[0])},
        height=440,
        template="plotly_white",
        margin={"l": 30, "r": 30, "t": 90, "b": 30},
        font={"size": 12},
    )
    if len(arms) > 1:
        figure.update_layout(
            updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.18, "yanchor": "top"}]
        )
    return figure


def _sankey_title(arm: str) -> str:
    return f"Pairing funds by kind of donor and recipient (yuan), arm {_text(arm)}"


def cost_figure(costs: pd.DataFrame) -> go.Figure:
    """Each arm's funds sent against its Gini reduction (with 95 % interval): down-right is cheap and effective."""
    figure = go.Figure()
    for index, (arm, rows) in enumerate(costs.groupby("arm", sort=False)):
        figure.add_trace(
            go.Scatter(
                x=rows["cost"],
                y=rows["reduction"],
                mode="markers",
                marker={"size": 12, "color": _colour(index + 1)},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["reduction_ci_high"] - rows["reduction"],
                    "arrayminus": rows["reduction"] - rows["reduction_ci_low"],
                },
                name=_text(arm),
                hovertemplate="funds %{x:,.0f} yuan<br>Gini reduction %{y:.4f}",
            )
        )
    figure.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    _layout(
        figure,
        "Cost-effectiveness: funds sent versus Gini reduction (final year)",
        "pairing funds sent over the run (yuan per run)",
        "Gini reduction vs baseline (index points)",
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
    kinds = [kind for kind in [*DONOR_KINDS, "joint_branch"] if any(a.get("kind") == kind for _, a in graph.nodes(data=True))]
    for index, kind in enumerate(kinds):
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
                    "color": _colour(index),
                    "symbol": "diamond" if kind == "joint_branch" else "circle",
                    "line": {"width": 0.5, "color": "white"},
                },
                text=hover,
                hoverinfo="text",
                name=KIND_LABELS.get(kind, kind),
            )
        )
    _layout(figure, f"Pairing network ({_text(what)})", "layout position (no unit)", "layout position (no unit)", height=620)
    figure.update_layout(hovermode="closest", legend={"title": {"text": "node kind"}})
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    return figure


def sensitivity_figure(table: pd.DataFrame, method: str, outcome: str, arm: str) -> go.Figure:
    """Sobol first-order and total indices as bars with intervals, or Morris mu* against sigma."""
    label = OUTCOME_LABELS.get(outcome, (outcome, ""))[0]
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
        _layout(figure, f"Sobol indices of final-year {label}, arm {_text(arm)}", "parameter", "share of output variance (share)")
        figure.update_layout(barmode="group", hovermode="closest", legend={"title": {"text": "index"}})
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
        _layout(
            figure,
            f"Morris screening of final-year {label}, arm {_text(arm)}",
            "μ* (mean |elementary effect|, outcome units)",
            "σ (spread of elementary effects, outcome units)",
        )
        figure.update_layout(hovermode="closest", legend={"title": {"text": "points"}})
    return figure


# --------------------------------------------------------------------------- sections


def _has(data: ReportInput, *columns: str) -> bool:
    return all(column in data.results.columns and data.results[column].notna().any() for column in columns)


def overview_section(data: ReportInput) -> Section:
    rows = "".join(f"<tr><th>{_text(label)}</th><td>{_text(value)}</td></tr>" for label, value in data.overview)
    return Section("Overview", table_html=f'<table class="overview">{rows}</table>')


def _bands(data: ReportInput) -> str:
    if data.kind == "run":
        return "One run: one draw of the county's randomness, so no interval."
    return "Lines are means over replications; bands are their 95 % intervals."


def time_series_section(data: ReportInput) -> Section:
    section = Section("Outcomes over time")
    missing = [outcome for outcome in TIME_SERIES if not _has(data, outcome)]
    for outcome, caption in TIME_SERIES.items():
        if outcome not in missing:
            section.figures.append((time_series_figure(data, outcome), f"{caption} {_bands(data)}"))
    if missing:
        section.note = f"Not in these results (the experiment did not keep them): {', '.join(missing)}."
    return section


def forest_section(data: ReportInput) -> Section:
    section = Section("Effects versus the baseline")
    arms = set(data.results["arm"])
    outcomes = [outcome for outcome in HEADLINE_OUTCOMES if outcome in OUTCOME_LABELS and _has(data, outcome)]
    if BASELINE not in arms or len(arms) < 2 or not outcomes:
        section.note = "Needs an experiment with a baseline arm and at least one other arm."
        return section
    differences = analysis.paired_differences(data.results, baseline=BASELINE, outcomes=outcomes)
    differences = differences[differences["point"] == differences["point"].min()]
    caption = (
        "Each dot is an arm's final-year mean minus the baseline's, paired by replication (common random numbers), as a "
        "percentage of the baseline; the bar is its 95 % interval. A bar that crosses the dotted line is not a clear effect."
    )
    section.figures.append((forest_figure(differences), caption))
    return section


def _one_figure_section(
    title: str, data: ReportInput, columns: list[str], missing: str, build: Callable[[ReportInput], go.Figure], caption: str
) -> Section:
    """A section of one figure drawn from ``columns``, or the ``missing`` note when the results lack them."""
    if not _has(data, *columns):
        return Section(title, note=missing)
    return Section(title, figures=[(build(data), caption)])


def lorenz_section(data: ReportInput) -> Section:
    return _one_figure_section(
        "Lorenz curves",
        data,
        list(LORENZ_OUTCOMES),
        "These results have no Lorenz points (lorenz_p10 … lorenz_p90); runs made with this version record them.",
        lorenz_figure,
        "The share of all residents' income (urban and rural) held by the poorest part of the population, at the start and in "
        "the final year (mean over replications). The closer a curve is to the dotted diagonal, the more equal the county.",
    )


def theil_section(data: ReportInput) -> Section:
    return _one_figure_section(
        "Theil decomposition",
        data,
        ["theil_t", "theil_t_between"],
        "Needs theil_t and theil_t_between in the results.",
        theil_figure,
        "Theil T splits exactly into the part due to the gap between the urban and rural means (solid) and the part due to "
        "inequality among urban and among rural residents (dashed). Pairing mainly works on the first.",
    )


def villages_section(data: ReportInput) -> Section:
    section = Section("Weak and hollow villages")
    captions = {
        "weak_villages": "Villages whose 12-month collective income is below the weak (薄弱村) threshold, by arm.",
        "hollow_villages": "Villages with almost no collective income (空壳村, below the hollow threshold; also counted as weak).",
    }
    for outcome, caption in captions.items():
        if _has(data, outcome):
            section.figures.append((time_series_figure(data, outcome), f"{caption} {_bands(data)}"))
    if not section.figures:
        section.note = "The results hold no village counts."
    return section


def flows_section(data: ReportInput) -> Section:
    section = Section("Who funds whom")
    if data.funds_by_kind.empty:
        section.note = f"No flows to show: {data.funds_note or 'no pairing funds'}."
        return section
    per = "mean per run of each arm" if data.kind == "experiment" else "over the run"
    caption = (
        f"Pairing funds sent over the whole run ({per}), from each kind of donor (left) to villages that were weak when their "
        "link began and to other villages (right). Each pairing type has its donors: departments and communities "
        "(city–village), enterprises (village–enterprise), strong villages (strong–weak), cooperatives (industry chain). "
        "Training, jobs and cadres are not funds and are not shown. Node labels stand in for a legend; choose the arm above."
    )
    section.figures.append((sankey_figure(data.funds_by_kind), caption))
    return section


def cost_section(data: ReportInput) -> Section:
    section = Section("Cost-effectiveness")
    arms = set(data.results["arm"])
    if BASELINE not in arms or len(arms) < 2 or not _has(data, "gini", "funds_sent_total"):
        section.note = "Needs an experiment with a baseline arm, another arm, gini and funds_sent_total."
        return section
    costs = analysis.cost_effectiveness(data.results, baseline=BASELINE, outcome="gini", cost="funds_sent_total")
    costs = costs[costs["point"] == costs["point"].min()]
    caption = (
        "Each arm's pairing funds over the run against how much it lowered the final-year Gini compared with the baseline "
        "(95 % interval). The table gives yuan per 0.001 of Gini reduced, where the reduction is significant."
    )
    section.figures.append((cost_figure(costs), caption))
    rows = "".join(
        f"<tr><td>{_text(row['arm'])}</td><td>{_format(row['cost'])}</td><td>{_format(row['reduction'])} "
        f"[{_format(row['reduction_ci_low'])}, {_format(row['reduction_ci_high'])}]</td><td>{_format(row['cost_per_0.001'])}</td>"
        f"<td>{_text(row['note'])}</td></tr>"
        for _, row in costs.iterrows()
    )
    section.table_html = (
        '<table class="data"><tr><th>arm</th><th>funds sent (yuan per run)</th><th>Gini reduction [95% CI]</th>'
        f"<th>yuan per 0.001 Gini</th><th>note</th></tr>{rows}</table>"
    )
    return section


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
        for outcome in [o for o in ("gini", "urban_rural_ratio", "weak_villages") if _has(data, o)]:
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
                notes.append(f"{outcome}, arm {arm}: {error}")
                continue
            caption = (
                "How much of the spread of the final-year outcome across the design each parameter explains alone (S1) and "
                "with its interactions (ST); bars are 95 % bootstrap intervals."
                if design.method == "sobol"
                else "Parameters far to the right matter most (μ*); high σ means a non-linear effect or interactions."
            )
            section.figures.append((sensitivity_figure(table, design.method, outcome, arm), caption))
    if notes:
        section.note = "Not computed: " + "; ".join(notes)
    return section


SECTIONS: list[Callable[[ReportInput], Section | None]] = [
    overview_section,
    time_series_section,
    forest_section,
    lorenz_section,
    theil_section,
    villages_section,
    flows_section,
    cost_section,
    network_section,
    sensitivity_section,
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
"""


def render_html(data: ReportInput, sections: list[Section]) -> str:
    """The whole report as one HTML document, plotly.js embedded once in the head."""
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
        f"<title>{_text(data.title)} – pairsim report</title>\n<style>{STYLE}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f"<h1>{_text(data.title)}</h1>\n"
        "<p>Made by <code>pairsim report</code> from <code>"
        f"{_text(data.folder)}</code>. Intervals are 95 % t intervals over replications; every figure is interactive "
        "(hover, zoom, click legend entries to hide them).</p>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def build_report(folder: str | Path) -> str:
    """The report of ``folder`` as an HTML string."""
    data = load_report_input(folder)
    sections = [section for build in SECTIONS if (section := build(data)) is not None]
    return render_html(data, sections)


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Build the report of ``folder`` and write it atomically (default: ``folder/report.html``); returns its path."""
    target = Path(out) if out is not None else Path(folder) / "report.html"
    text = build_report(folder)
    write_atomically(target, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    return target


def _format(value: float) -> str:
    if pd.isna(value):
        return "—"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
