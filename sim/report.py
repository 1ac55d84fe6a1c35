"""One self-contained HTML report of a results folder (what ``pairsim report`` writes).

Reads either an experiment's folder (``runs/*.parquet`` + ``manifest.json``, from
``pairsim compare``/``sweep``) or one ``pairsim run`` output folder, and draws
the figures a policy researcher sends to colleagues: outcomes over time with
95 % bands, effects against the baseline, Lorenz curves, the Theil split, weak
and hollow villages, who funds whom, cost-effectiveness, the pairing network
and sensitivity indices. plotly.js is embedded once, so the file works offline.
Every piece of text that comes from a scenario or experiment file is escaped.

Several scenarios are never pooled: each (scenario, arm) gets its own trace, named
"scenario · arm", coloured by arm and dashed (or marked) by scenario. A sweep's
design points are pooled on purpose (only the sensitivity indices need them apart),
and the captions say so.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from pyarrow.lib import ArrowException

from sim import analysis
from sim.errors import InputError
from sim.execute import FUNDS_BY_KIND_COLUMNS, build_model
from sim.experiment import BASELINE, Design, file_hash, load_experiment, run_specs, salib_problem
from sim.outcomes import LORENZ_OUTCOMES, LORENZ_SHARES
from sim.pairing.links import DONOR_KINDS
from sim.pairing.programme import RECIPIENT_CLASSES, funds_by_donor_kind
from sim.results import ResultsStore, write_atomically
from sim.runner import package_version
from sim.scenario import load_scenario
from sim.summary import HEADLINE_OUTCOMES, manifest_design

RUN_ARM = "run"
"""The arm name given to the one trajectory of a ``pairsim run`` folder."""

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "star"]
"""Line dashes and marker symbols tell scenarios apart (colours tell arms apart)."""

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
        return {"color": self.colour(arm), "dash": DASHES[self.scenarios.index(scenario) % len(DASHES)]}

    def marker(self, scenario: str, arm: str, size: int) -> dict:
        return {"color": self.colour(arm), "symbol": SYMBOLS[self.scenarios.index(scenario) % len(SYMBOLS)], "size": size}


@dataclass
class ReportInput:
    """A results folder, read once: the tidy yearly table every figure draws from, plus what only some folders have."""

    folder: Path
    kind: str  # "experiment" or "run"
    title: str
    overview: list[tuple[str, str]]  # (label, plain text), escaped when rendered
    results: pd.DataFrame  # one row per run and time point (yearly; monthly for a single run), in sim.analysis's format
    funds_by_kind: pd.DataFrame  # scenario, arm, donor_kind, recipient, sent (mean per run, yuan); empty when unknown
    funds_note: str = ""
    network: tuple[nx.Graph, dict[str, float], str] | None = None  # graph, funds per node, what the sizes mean
    network_note: str = ""
    design: Design | None = None

    @cached_property
    def scenarios(self) -> list[str]:
        return list(pd.unique(self.results["scenario"]))

    @cached_property
    def arms(self) -> list[str]:
        """Arms in report order (baseline first, then by name): an arm's colour is its place here, in every figure."""
        return sorted(pd.unique(self.results["arm"]), key=lambda arm: (arm != BASELINE, arm))

    @cached_property
    def styles(self) -> Styles:
        return Styles(tuple(self.scenarios), tuple(self.arms))

    @cached_property
    def points(self) -> int:
        return int(self.results["point"].nunique())

    @cached_property
    def pooled(self) -> pd.DataFrame:
        """The results with a sweep's design points pooled into one cell per (scenario, arm), for every figure but the
        sensitivity indices. Replication numbers are made unique per (point, replication), so an arm run is still paired
        with the baseline run of its own design point."""
        if self.points < 2:
            return self.results
        per_point = int(self.results["replication"].max()) + 1
        return self.results.assign(replication=self.results["point"] * per_point + self.results["replication"], point=0)


# --------------------------------------------------------------------------- reading a folder

READ_ERRORS = (OSError, ValueError, TypeError, AttributeError, KeyError, ArrowException, nx.NetworkXException)
"""What reading a damaged file can raise (JSON, pydantic and most pyarrow errors are ValueErrors)."""

RUN_COLUMNS = ["run_id", "scenario", "arm", "point", "replication", "year"]
"""The columns every figure groups by: a run file without them is not one pairsim wrote."""

MANIFEST = "the manifest.json that pairsim compare or sweep writes"
RUN_META = "the run.json that pairsim run writes"
TYPE_NAMES = {dict: "a JSON object", int: "a whole number", str: "a string"}
JSON_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false", type(None): "null"}


def load_report_input(folder: str | Path) -> ReportInput:
    """Read an experiment folder or a ``pairsim run`` folder; anything else is bad input (one line, no traceback)."""
    folder = Path(folder)
    expected = "expected a results folder written by pairsim compare, sweep or run"
    if not folder.exists():
        raise InputError.single(str(folder), "", f"no such folder; {expected}")
    if not folder.is_dir():
        raise InputError.single(str(folder), "", f"is a file, not a folder; {expected}")
    if (folder / "manifest.json").is_file():
        return _experiment_input(folder)
    if (folder / "monthly.parquet").is_file() and (folder / "run.json").is_file():
        return _run_input(folder)
    raise InputError.single(
        str(folder),
        "",
        "not a results folder; expected manifest.json and runs/ (pairsim compare or sweep) or monthly.parquet and run.json (pairsim run)",
    )


@contextmanager
def _reading(path: Path, expected: str, failure: str = "cannot be read") -> Iterator[None]:
    """Turn a failure to read or parse ``path`` into one line of bad input naming the file, instead of a traceback."""
    try:
        yield
    except READ_ERRORS as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError.single(str(path), "", f"{failure} ({reason}); expected {expected}") from None


def _read_json(path: Path, expected: str, types: dict[str, type]) -> dict:
    """The JSON object in ``path``, each key of ``types`` (where present) checked to be of that type."""
    with _reading(path, expected, "not valid JSON"):
        data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise InputError.single(str(path), "", f"holds {JSON_NAMES[type(data)]}, not a JSON object; expected {expected}")
    for key, kind in types.items():
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            raise InputError.single(str(path), key, f"{data[key]!r:.60} is not {TYPE_NAMES[kind]}; expected {expected}")
    return data


def _read_parquet(path: Path, expected: str, columns: list[str]) -> pd.DataFrame:
    """The Parquet table in ``path``, checked to have ``columns``."""
    with _reading(path, expected, "not a readable Parquet table"):
        table = pd.read_parquet(path)
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise InputError.single(str(path), "", f"lacks column(s) {', '.join(missing)}; expected {expected}")
    return table


def _read_manifest(path: Path) -> dict:
    manifest = _read_json(
        path,
        MANIFEST,
        {
            "runs": dict,
            "scenarios": dict,
            "versions": dict,
            "experiment_file": str,
            "experiment_sha256": str,
            "replications": int,
        },
    )
    if not all(isinstance(run, dict) for run in manifest.get("runs", {}).values()):
        raise InputError.single(str(path), "runs", f"holds an entry that is not a JSON object; expected {MANIFEST}")
    return manifest


def _read_runs(store: ResultsStore) -> pd.DataFrame:
    """Every finished run's yearly rows, read file by file so that a damaged one is named."""
    expected = "a run's yearly results written by pairsim compare or sweep"
    return pd.concat(
        [_read_parquet(store.runs / f"{run_id}.parquet", expected, RUN_COLUMNS) for run_id in sorted(store.finished())],
        ignore_index=True,
    )


def _experiment_input(folder: Path) -> ReportInput:
    store = ResultsStore(folder)
    manifest = _read_manifest(store.manifest_path)
    if not store.finished():
        raise InputError.single(str(folder), "runs", "no finished runs yet; run pairsim compare or sweep (again) to make some")
    results = _baseline_first(_read_runs(store))
    with _reading(store.manifest_path, MANIFEST, "holds a design that is not valid"):
        design = manifest_design(manifest)
    experiment, experiment_note = _experiment_of(manifest)
    funds, funds_note = _experiment_funds(results)
    network, network_note = _experiment_network(experiment, experiment_note, manifest)
    return ReportInput(
        folder=folder,
        kind="experiment",
        title=f"Experiment {manifest.get('experiment', folder.name)}",
        overview=_experiment_overview(store, manifest, experiment, experiment_note, results),
        results=results,
        funds_by_kind=funds,
        funds_note=funds_note,
        network=network,
        network_note=network_note,
        design=design,
    )


def _experiment_overview(store: ResultsStore, manifest: dict, experiment, experiment_note: str, results: pd.DataFrame):
    statuses = pd.Series([run.get("status", "pending") for run in manifest.get("runs", {}).values()], dtype=object)
    arms = list(pd.unique(results["arm"]))
    scenarios = [_scenario_name(path) for path in manifest.get("scenarios", {})] or list(pd.unique(results["scenario"]))
    first, last = int(results["year"].min()), int(results["year"].max())
    overview = [
        ("Experiment", str(manifest.get("experiment", store.folder.name))),
        ("Description", experiment.description if experiment is not None and experiment.description else "—"),
        ("Scenarios", ", ".join(scenarios)),
        ("Arms", ", ".join(arms)),
        ("Replications per arm", str(manifest.get("replications", results["replication"].nunique()))),
        ("Design points", str(results["point"].nunique())),
        ("Horizon", f"{first}–{last} ({last - first} years)"),
        ("Runs", ", ".join(f"{count} {status}" for status, count in statuses.value_counts().items())),
        ("Seed", str(manifest.get("seed", "—"))),
        ("Package versions", _versions(manifest.get("versions", {}))),
        ("Results written", _modified(store.manifest_path)),
        ("Report built", f"{_now()} with pairsim {package_version('pairsim')}"),
    ]
    return [*overview, ("Note", experiment_note)] if experiment_note else overview


def _baseline_first(results: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by scenario, then baseline first and the other arms by name: every figure lists traces in this order."""
    later = results["arm"].ne(BASELINE).rename("_later")
    ordered = results.join(later).sort_values(["scenario", "_later", "arm", "run_id", "year"], kind="stable")
    return ordered.drop(columns="_later").reset_index(drop=True)


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
    """Final-year funds by donor kind and recipient class, mean per run of each scenario and arm (a sweep's points pooled;
    cells that sent nothing left out)."""
    columns = list(FUNDS_BY_KIND_COLUMNS.values())
    if not set(columns) <= set(results.columns):
        return _no_funds(), "these results were made before runs recorded funds by kind of donor"
    means = analysis.final_year(results).groupby(["scenario", "arm"], sort=False)[columns].mean()
    rows = [
        {"scenario": scenario, "arm": arm, "donor_kind": kind, "recipient": recipient, "sent": means.loc[(scenario, arm), column]}
        for scenario, arm in means.index
        for (kind, recipient), column in FUNDS_BY_KIND_COLUMNS.items()
        if means.loc[(scenario, arm), column] > 0
    ]
    return (pd.DataFrame(rows), "") if rows else (_no_funds(), "no arm sent any pairing funds")


def _experiment_network(experiment, experiment_note: str, manifest: dict):
    """The pairing graph of replication 0 of the arm with the most policies, rebuilt (runs are deterministic; building is
    fast) - but only from scenario files unchanged since the runs, or it would not be the network they ran."""
    if experiment is None:
        return None, experiment_note
    changed = [path for path, digest in manifest.get("scenarios", {}).items() if not _same_file(path, digest)]
    if changed:
        return None, f"the scenario file {', '.join(changed)} has changed or gone since these results were made"
    specs = [spec for spec in run_specs(experiment) if spec.replication == 0 and spec.point == 0 and spec.arm != BASELINE]
    if not specs:
        return None, "the experiment has no pairing arm"
    spec = max(specs, key=lambda s: math.inf if s.keep_policies is None else len(s.keep_policies))
    try:
        model = build_model(spec)
    except InputError as error:
        return None, f"arm {spec.arm} cannot be rebuilt ({error})"
    programme = model.pairing
    if not programme.branches:
        return None, f"arm {spec.arm} forms no joint branches"
    planned = pd.Series(programme.links.planned["funds"], name="sent")
    where = f"scenario {Path(spec.scenario).stem}, " if len(experiment.scenarios) > 1 else ""
    what = f"{where}arm {spec.arm}, replication 0, at the start; node size: planned funds a year (yuan)"
    return (programme.graph, _node_funds(programme.graph, programme.link_table(), planned), what), ""


def _same_file(path: str, digest: str) -> bool:
    return Path(path).is_file() and file_hash(path) == digest


def _run_input(folder: Path) -> ReportInput:
    meta = _read_json(folder / "run.json", RUN_META, {"start_year": int, "horizon_years": int, "versions": dict})
    monthly = _read_parquet(folder / "monthly.parquet", "the monthly table that pairsim run writes", ["step", "year"])
    start_year = int(meta.get("start_year", monthly["year"].min()))
    scenario = str(meta.get("scenario", folder.name))
    results = monthly.assign(run_id=folder.name, scenario=scenario, arm=RUN_ARM, point=0, replication=0, seed=meta.get("seed", 0))
    results["year"] = start_year + results["step"] / 12.0  # monthly detail: one trajectory, no bands
    horizon = meta.get("horizon_years")
    overview = [
        ("Scenario", str(meta.get("scenario", "—"))),
        ("Scenario file", str(meta.get("scenario_file", "—"))),
        ("Seed", str(meta.get("seed", "—"))),
        ("Horizon", f"{start_year}–{start_year + (horizon or 0)} ({horizon if horizon is not None else '—'} years, monthly)"),
        ("Arms, replications", "one run (one draw of the county's randomness: no intervals)"),
        ("Package versions", _versions(meta.get("versions", {}))),
        ("Results written", _modified(folder / "run.json")),
        ("Report built", f"{_now()} with pairsim {package_version('pairsim')}"),
    ]
    funds, funds_note, network, network_note = _run_pairing(folder, scenario)
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


def _run_pairing(folder: Path, scenario: str):
    """A run folder's funds by donor kind and its pairing network (each with a note when missing), from its tables."""
    ledger_path, links_path, graph_path = folder / "ledger.parquet", folder / "links.parquet", folder / "pairing_graph.json"
    if not (ledger_path.is_file() and links_path.is_file()):
        note = "the folder has no ledger/links tables"
        return _no_funds(), note, None, note
    ledger = _read_parquet(ledger_path, "the ledger table that pairsim run writes", ["step", "flow", "link", "sent"])
    links = _read_parquet(
        links_path, "the links table that pairsim run writes", ["link", "branch", "donor_kind", "donor", "village"]
    )
    if "weak_at_start" not in links.columns:
        funds, funds_note = _no_funds(), "this run's links table predates the weak-at-pairing column"
    else:
        totals = funds_by_donor_kind(ledger, links).groupby(["donor_kind", "recipient"], as_index=False)["sent"].sum()
        funds = totals[totals["sent"] > 0].assign(scenario=scenario, arm=RUN_ARM)
        funds_note = "" if len(funds) else "the run sent no pairing funds"
    if not (graph_path.is_file() and len(links)):
        return funds, funds_note, None, "the run has no pairing (or no pairing_graph.json)"
    with _reading(graph_path, "the pairing_graph.json that pairsim run writes", "not a node-link graph in JSON"):
        graph = nx.node_link_graph(json.loads(graph_path.read_text(encoding="utf-8")), edges="links")
    sent = ledger[ledger["flow"] == "funds"].groupby("link")["sent"].sum().reindex(links["link"], fill_value=0.0)
    network = (
        graph,
        _node_funds(graph, links, sent.reset_index(drop=True)),
        "at the end of the run; node size: funds sent over the run (yuan)",
    )
    return funds, funds_note, network, ""


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
    return pd.DataFrame({column: pd.Series(dtype=object) for column in ("scenario", "arm", "donor_kind", "recipient")}).assign(
        sent=pd.Series(dtype=float)
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
    """Text from a scenario or experiment file, safe inside HTML content and inside plotly's own markup.

    Only ``& < >`` are escaped: plotly decodes those entities but shows ``&quot;`` literally, and no
    escaped text lands in an HTML attribute (figures travel as JSON, the rest is element content).
    """
    return html.escape(str(value), quote=False)


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
    return "month" if data.kind == "run" else "year"


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
    title, unit = OUTCOME_LABELS[outcome]
    return _time_axis(_layout(figure, title, _time_label(data), unit), data)


def forest_figure(differences: pd.DataFrame, styles: Styles | None = None) -> go.Figure:
    """Final-year effect of each scenario's arms on each headline outcome, as % of the baseline, with its 95 % interval
    (``differences`` from :func:`sim.analysis.paired_differences`)."""
    styles = styles or Styles.of(differences)
    figure = go.Figure()
    labels = {outcome: OUTCOME_LABELS.get(outcome, (outcome, ""))[0] for outcome in differences["outcome"].unique()}
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
    """Lorenz curves of all residents' income at the start (common to every arm of a scenario) and the final year, per
    scenario and arm."""
    columns = list(LORENZ_OUTCOMES)
    yearly = data.results[np.isclose(data.results["year"] % 1, 0)]
    start, end = yearly["year"].min(), yearly["year"].max()
    shares = [0.0, *LORENZ_SHARES, 1.0]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "lightgrey", "dash": "dot"}, name="perfect equality")
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
            )
        )
    for (scenario, arm), rows in yearly[yearly["year"] == end].groupby(["scenario", "arm"], sort=False):
        figure.add_trace(
            go.Scatter(
                x=shares,
                y=[0.0, *rows[columns].mean(), 1.0],
                mode="lines+markers",
                line=data.styles.line(scenario, arm),
                name=f"{data.styles.name(scenario, arm)}, {int(end)}",
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
    """Theil T split into the urban–rural gap (between, solid) and inequality within each side (dashed), per scenario and
    arm over time; several scenarios are told apart by marker symbols, as dashes already mean the part."""
    results = data.pooled.assign(theil_t_within_=data.pooled["theil_t"] - data.pooled["theil_t_between"])
    table = analysis.time_series(results, ["theil_t_between", "theil_t_within_"])
    parts = {"theil_t_between": ("between urban and rural", "solid"), "theil_t_within_": ("within urban and rural", "dash")}
    figure = go.Figure()
    for (scenario, arm, outcome), rows in table.groupby(["scenario", "arm", "outcome"], sort=False):
        name, (part, dash) = data.styles.name(scenario, arm), parts[outcome]
        figure.add_trace(
            go.Scatter(
                x=_times(data, rows["year"]),
                y=rows["mean"],
                mode="lines" if len(data.scenarios) == 1 else "lines+markers",
                line={"color": data.styles.colour(arm), "dash": dash},
                marker=data.styles.marker(scenario, arm, 6),
                legendgroup=name,
                name=f"{name}: {part}",
            )
        )
    _layout(
        figure,
        "Theil T decomposition: urban–rural gap and inequality within each side",
        _time_label(data),
        "Theil T component (≥ 0)",
    )
    figure.update_layout(legend={"title": {"text": "arm: part"}})
    return _time_axis(figure, data)


def sankey_figure(data: ReportInput) -> go.Figure:
    """Funds from donor kinds to villages weak when paired and other villages; one diagram per scenario and arm, chosen by
    buttons."""
    funds = data.funds_by_kind
    kinds = [kind for kind in DONOR_KINDS if kind in set(funds["donor_kind"])]
    recipients = list(RECIPIENT_CLASSES)
    labels = [KIND_LABELS[kind] for kind in kinds] + [RECIPIENT_CLASSES[r] for r in recipients]
    node_colours = [_colour(i, 0.85) for i in range(len(kinds))] + ["rgba(214,39,40,0.85)", "rgba(127,127,127,0.85)"]
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
                    "color": [_colour(kinds.index(k), 0.35) for k in rows["donor_kind"]],
                },
            )
        )
    buttons = [
        {
            "label": name,
            "method": "update",
            "args": [{"visible": [i == j for j in range(len(names))]}, {"title.text": _sankey_title(name)}],
        }
        for i, name in enumerate(names)
    ]
    figure.update_layout(
        title={"text": _sankey_title(names[0])},
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


def _sankey_title(name: str) -> str:
    return f"Pairing funds by kind of donor and recipient (yuan), arm {name}"


def cost_figure(costs: pd.DataFrame, styles: Styles | None = None) -> go.Figure:
    """Each scenario's arms' funds sent against their Gini reduction (with 95 % interval): up-left is cheap and effective
    (``costs`` from :func:`sim.analysis.cost_effectiveness`)."""
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
                hovertemplate="funds %{x:,.0f} yuan<br>Gini reduction %{y:.4f}",
            )
        )
    figure.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    _layout(
        figure,
        "Cost-effectiveness: funds sent versus Gini reduction (final year)",
        "pairing funds sent over the run (yuan per run)",
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


def _pooling(data: ReportInput) -> str:
    """What a sweep's figures pool, said in every caption that pools it."""
    if data.points < 2:
        return ""
    return (
        f" The sweep's {data.points} design points are pooled: this is the average over the design, and intervals include "
        "the spread the swept parameters cause."
    )


def _bands(data: ReportInput, figure: go.Figure) -> str:
    """The caption's promise about intervals, kept to what the figure draws."""
    if data.kind == "run":
        return "One run: one draw of the county's randomness, so no interval."
    if not any(trace.fill == "toself" for trace in figure.data):
        return "Lines are means; with one run per arm there is no interval to draw." + _pooling(data)
    runs = "replications" if data.points < 2 else "runs"
    return f"Lines are means over {runs}; bands are their 95 % intervals." + _pooling(data)


def _time_figures(section: Section, data: ReportInput, captions: dict[str, str]) -> list[str]:
    """Add a time-series figure for each outcome of ``captions`` the results hold; return those they lack."""
    missing = []
    for outcome, caption in captions.items():
        if not _has(data, outcome):
            missing.append(outcome)
            continue
        figure = time_series_figure(data, outcome)
        section.figures.append((figure, f"{caption} {_bands(data, figure)}"))
    return missing


def time_series_section(data: ReportInput) -> Section:
    section = Section("Outcomes over time")
    missing = _time_figures(section, data, TIME_SERIES)
    if missing:
        section.note = f"Not in these results (the experiment did not keep them): {', '.join(missing)}."
    return section


def _comparable(data: ReportInput) -> tuple[pd.DataFrame | None, str]:
    """The (pooled) results of the scenarios that have a baseline run to compare their arms with, and a note naming the
    scenarios left out (e.g. every baseline run of one failed) - or None and why nothing can be compared."""
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
    outcomes = [outcome for outcome in HEADLINE_OUTCOMES if outcome in OUTCOME_LABELS and _has(data, outcome)]
    results, note = _comparable(data)
    if results is None or not outcomes:
        return Section(title, note=note if results is None else "The results hold none of the headline outcomes.")
    differences = analysis.paired_differences(results, baseline=BASELINE, outcomes=outcomes)
    drawn = differences["ci_low"].notna().any()
    caption = (
        "Each dot is an arm's final-year mean minus the baseline's, paired by replication (common random numbers), as a "
        "percentage of the baseline."
        + _intervals(drawn, " The bar is its 95 % interval; a bar that crosses the dotted line is not a clear effect.")
        + _pooling(data)
        + _left_out(data, differences)
    )
    return Section(title, figures=[(forest_figure(differences, data.styles), caption)], note=note)


def _left_out(data: ReportInput, differences: pd.DataFrame) -> str:
    """Name the effects that have no percentage (baseline mean 0, or no pair of runs), which would vanish unsaid."""
    blank = differences[differences["baseline_mean"].fillna(0).eq(0) | differences["difference"].isna()]
    if blank.empty:
        return ""
    items = [
        f"{OUTCOME_LABELS[row.outcome][0]} for {data.styles.name(row.scenario, row.arm)} "
        f"({'no paired runs' if row.n == 0 else 'baseline mean 0'})"
        for row in blank.itertuples()
    ]
    return f" Not shown, as no percentage can be formed: {'; '.join(items)}."


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
        "the final year (mean over replications). The closer a curve is to the dotted diagonal, the more equal the county."
        + _pooling(data),
    )


def theil_section(data: ReportInput) -> Section:
    return _one_figure_section(
        "Theil decomposition",
        data,
        ["theil_t", "theil_t_between"],
        "Needs theil_t and theil_t_between in the results.",
        theil_figure,
        "Theil T splits exactly into the part due to the gap between the urban and rural means (solid) and the part due to "
        "inequality among urban and among rural residents (dashed). Pairing mainly works on the first." + _pooling(data),
    )


def villages_section(data: ReportInput) -> Section:
    section = Section("Weak and hollow villages")
    captions = {
        "weak_villages": "Villages whose 12-month collective income is below the weak (薄弱村) threshold, by arm.",
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
    per = "mean per run of each arm" if data.kind == "experiment" else "over the run"
    choose = "arm" if len(data.scenarios) == 1 else "scenario and arm"
    caption = (
        f"Pairing funds sent over the whole run ({per}), from each kind of donor (left) to villages that were weak when their "
        "link began and to other villages (right). Each pairing type has its donors: departments and communities "
        "(city–village), enterprises (village–enterprise), strong villages (strong–weak), cooperatives (industry chain). "
        f"Training, jobs and cadres are not funds and are not shown. Node labels stand in for a legend; choose the {choose} "
        "above." + _pooling(data)
    )
    section.figures.append((sankey_figure(data), caption))
    return section


def cost_section(data: ReportInput) -> Section:
    title = "Cost-effectiveness"
    results, note = _comparable(data)
    if results is None or not _has(data, "gini", "funds_sent_total"):
        return Section(title, note=note if results is None else "Needs gini and funds_sent_total in the results.")
    costs = analysis.cost_effectiveness(results, baseline=BASELINE, outcome="gini", cost="funds_sent_total")
    caption = (
        "Each arm's pairing funds over the run against how much it lowered the final-year Gini compared with the baseline."
        + _intervals(costs["reduction_ci_low"].notna().any(), " Bars are 95 % intervals.")
        + " The table gives yuan per 0.001 of Gini reduced, where the reduction is significant."
        + _pooling(data)
    )
    return Section(title, figures=[(cost_figure(costs, data.styles), caption)], note=note, table_html=_cost_table(data, costs))


def _cost_table(data: ReportInput, costs: pd.DataFrame) -> str:
    """One row per arm (per scenario and arm when there are several scenarios)."""
    several = len(data.scenarios) > 1
    rows = "".join(
        "<tr>"
        + (f"<td>{_text(row['scenario'])}</td>" if several else "")
        + f"<td>{_text(row['arm'])}</td><td>{_format(row['cost'])}</td><td>{_format(row['reduction'])} "
        f"[{_format(row['reduction_ci_low'])}, {_format(row['reduction_ci_high'])}]</td><td>{_format(row['cost_per_0.001'])}</td>"
        f"<td>{_text(row['note'])}</td></tr>"
        for _, row in costs.iterrows()
    )
    return (
        '<table class="data"><tr>' + ("<th>scenario</th>" if several else "") + "<th>arm</th><th>funds sent (yuan per run)</th>"
        f"<th>Gini reduction, 0–1 scale [95% CI]</th><th>yuan per 0.001 Gini</th><th>note</th></tr>{rows}</table>"
    )


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
