"""Reading a results folder (an experiment's or one ``pairsim run``'s) into the one ``ReportInput`` every figure
draws from; a damaged or foreign file becomes one line of bad input naming it, not a traceback."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import networkx as nx
import pandas as pd
from pyarrow.lib import ArrowException

from sim import analysis, package_version
from sim.analysis import funds_by_donor_kind
from sim.errors import InputError
from sim.execute import funds_by_kind_columns
from sim.experiment import BASELINE, Design
from sim.report.styles import Styles
from sim.results import ResultsStore
from sim.summary import manifest_design

RUN_ARM = "run"
"""The arm name given to the one trajectory of a ``pairsim run`` folder."""


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
    posterior: dict | None = None  # the manifest's record of a posterior experiment's draws (file, sha256, draws, seeds)

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
SAVED_GRAPH = "a starting pairing graph that pairsim compare or sweep saves"
OLD_MANIFEST = "these results were written before the manifest kept the experiment's description, so it is not shown"
"""The overview's note for a results folder from an older version."""
NO_SAVED_GRAPH = "no saved pairing graph in this results folder; re-run the experiment with this version"
RUN_META = "the run.json that pairsim run writes"
TYPE_NAMES = {dict: "a JSON object", int: "a whole number", str: "a string"}
JSON_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false", type(None): "null"}


def load_report_input(folder: str | Path) -> ReportInput:
    """Read an experiment folder or a ``pairsim run`` folder; anything else is bad input (one line, no traceback)."""
    folder = Path(folder)
    expected = "expected a results folder written by pairsim compare, sweep, run or calibrate"
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
        "not a results folder; expected manifest.json and runs/ (pairsim compare, sweep or calibrate) or monthly.parquet and "
        "run.json (pairsim run)",
    )


@contextmanager
def read_failures_as_input(path: Path, expected: str, failure: str = "cannot be read") -> Iterator[None]:
    """Turn a failure to read or parse ``path`` into one line of bad input naming the file, instead of a traceback."""
    try:
        yield
    except READ_ERRORS as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError.single(str(path), "", f"{failure} ({reason}); expected {expected}") from None


def read_json_object(path: Path, expected: str, types: dict[str, type]) -> dict:
    """The JSON object in ``path``, each key of ``types`` (where present) checked to be of that type."""
    with read_failures_as_input(path, expected, "not valid JSON"):
        data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise InputError.single(str(path), "", f"holds {JSON_NAMES[type(data)]}, not a JSON object; expected {expected}")
    for key, kind in types.items():
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            raise InputError.single(str(path), key, f"{data[key]!r:.60} is not {TYPE_NAMES[kind]}; expected {expected}")
    return data


def read_parquet_table(path: Path, expected: str, columns: list[str]) -> pd.DataFrame:
    """The Parquet table in ``path``, checked to have ``columns``."""
    with read_failures_as_input(path, expected, "not a readable Parquet table"):
        table = pd.read_parquet(path)
    return require_columns(table, path, expected, columns)


def require_columns(table: pd.DataFrame, path: Path, expected: str, columns: list[str]) -> pd.DataFrame:
    """``table``, read from ``path``, if it has every one of ``columns``; else bad input naming the file."""
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise InputError.single(str(path), "", f"lacks column(s) {', '.join(missing)}; expected {expected}")
    return table


def _read_manifest(path: Path) -> dict:
    manifest = read_json_object(
        path,
        MANIFEST,
        {
            "runs": dict,
            "scenarios": dict,
            "versions": dict,
            "experiment_file": str,
            "experiment_sha256": str,
            "description": str,
            "scenario_names": dict,
            "replications": int,
            "graphs": list,
        },
    )
    if not all(isinstance(run, dict) for run in manifest.get("runs", {}).values()):
        raise InputError.single(str(path), "runs", f"holds an entry that is not a JSON object; expected {MANIFEST}")
    if not all(_is_graph_entry(entry) for entry in manifest.get("graphs", [])):
        raise InputError.single(
            str(path), "graphs", f"holds an entry without run_id, scenario, arm and policies; expected {MANIFEST}"
        )
    return manifest


def _is_graph_entry(entry) -> bool:
    """One of the manifest's ``graphs``: which run saved which scenario and arm's graph, and the policies it kept."""
    return (
        isinstance(entry, dict)
        and all(isinstance(entry.get(key), str) for key in ("run_id", "scenario", "arm"))
        and (entry.get("policies") == "all" or isinstance(entry.get("policies"), list))
    )


def _read_runs(store: ResultsStore) -> pd.DataFrame:
    """Every finished run's yearly rows, read file by file so that a damaged one is named."""
    expected = "a run's yearly results written by pairsim compare or sweep"
    return pd.concat(
        [read_parquet_table(store.runs / f"{run_id}.parquet", expected, RUN_COLUMNS) for run_id in sorted(store.finished())],
        ignore_index=True,
    )


def _experiment_input(folder: Path) -> ReportInput:
    store = ResultsStore(folder)
    manifest = _read_manifest(store.manifest_path)
    if not store.finished():
        raise InputError.single(str(folder), "runs", "no finished runs yet; run pairsim compare or sweep (again) to make some")
    results = _baseline_first(_read_runs(store))
    with read_failures_as_input(store.manifest_path, MANIFEST, "holds a design that is not valid"):
        design = manifest_design(manifest)
    funds, funds_note = _experiment_funds(results)
    network, network_note = _experiment_network(store, manifest)
    return ReportInput(
        folder=folder,
        kind="experiment",
        title=f"Experiment {manifest.get('experiment', folder.name)}",
        overview=_experiment_overview(store, manifest, results),
        results=results,
        funds_by_kind=funds,
        funds_note=funds_note,
        network=network,
        network_note=network_note,
        design=design,
        posterior=_posterior(manifest),
    )


def _posterior(manifest: dict) -> dict | None:
    """A posterior experiment's record of its draws, or None (an experiment without one, or an unreadable record)."""
    entry = manifest.get("posterior")
    return entry if isinstance(entry, dict) and isinstance(entry.get("draws"), int) else None


def _experiment_overview(store: ResultsStore, manifest: dict, results: pd.DataFrame):
    """The overview table, from the manifest alone (never from the experiment or scenario files, which may have changed)."""
    statuses = pd.Series([run.get("status", "pending") for run in manifest.get("runs", {}).values()], dtype=object)
    arms = list(pd.unique(results["arm"]))
    names = manifest.get("scenario_names") or {path: Path(path).stem for path in manifest.get("scenarios", {})}
    scenarios = list(names.values()) or list(pd.unique(results["scenario"]))
    description = manifest.get("description")
    first, last = int(results["year"].min()), int(results["year"].max())
    overview = [
        ("Experiment", str(manifest.get("experiment", store.folder.name))),
        ("Description", description or "—"),
        ("Scenarios", ", ".join(scenarios)),
        ("Arms", ", ".join(arms)),
        ("Replications per arm", str(manifest.get("replications", results["replication"].nunique()))),
        ("Design points", str(results["point"].nunique())),
        *_posterior_overview(manifest),
        ("Horizon", f"{first}–{last} ({last - first} years)"),
        ("Runs", ", ".join(f"{count} {status}" for status, count in statuses.value_counts().items())),
        ("Seed", str(manifest.get("seed", "—"))),
        ("Package versions", versions_text(manifest.get("versions", {}))),
        ("Results written", modified_time(store.manifest_path)),
        ("Report built", f"{utc_now_text()} with pairsim {package_version('pairsim')}"),
    ]
    if description is None:
        return [*overview, ("Note", OLD_MANIFEST)]
    return overview


def _posterior_overview(manifest: dict) -> list[tuple[str, str]]:
    """The overview's row naming a posterior experiment's draws (none for other experiments)."""
    entry = _posterior(manifest)
    if entry is None:
        return []
    seeds = entry.get("seeds_per_draw", "—")
    where = f"{Path(str(entry.get('file', '?'))).name} (sha256 {str(entry.get('sha256', '—'))[:12]}…)"
    return [("Parameters", f"{entry['draws']} posterior draws from {where}, each run with {seeds} seeds in every arm")]


def _baseline_first(results: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by scenario, then baseline first and the other arms by name: every figure lists traces in this order."""
    later = results["arm"].ne(BASELINE).rename("_later")
    ordered = results.join(later).sort_values(["scenario", "_later", "arm", "run_id", "year"], kind="stable")
    return ordered.drop(columns="_later").reset_index(drop=True)


def _experiment_funds(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Final-year funds by donor kind and recipient class, mean per run of each scenario and arm (a sweep's points pooled;
    cells that sent nothing left out)."""
    cells = funds_by_kind_columns()
    columns = list(cells.values())
    if not set(columns) <= set(results.columns):
        return _no_funds(), "these results were made before runs recorded funds by kind of donor"
    means = analysis.final_year(results).groupby(["scenario", "arm"], sort=False)[columns].mean()
    rows = [
        {"scenario": scenario, "arm": arm, "donor_kind": kind, "recipient": recipient, "sent": means.loc[(scenario, arm), column]}
        for scenario, arm in means.index
        for (kind, recipient), column in cells.items()
        if means.loc[(scenario, arm), column] > 0
    ]
    return (pd.DataFrame(rows), "") if rows else (_no_funds(), "no arm sent any pairing funds")


def _experiment_network(store: ResultsStore, manifest: dict):
    """The pairing graph that replication 0 of the arm with the most policies started with, as its run saved it: the
    results folder alone, never a model rebuilt from a scenario file that may have changed since the runs."""
    if "graphs" not in manifest:
        return None, NO_SAVED_GRAPH
    arms = [entry for entry in manifest["graphs"] if entry["arm"] != BASELINE]
    if not arms:
        return None, "the experiment has no pairing arm"
    entry = max(arms, key=lambda e: math.inf if e["policies"] == "all" else len(e["policies"]))
    arm, run_id = entry["arm"], entry["run_id"]
    if not store.has_graph(entry["scenario"], arm):
        status = manifest.get("runs", {}).get(run_id, {}).get("status")
        if status == "failed":
            return None, f"the run {run_id} failed, so arm {arm} has no saved pairing graph"
        if status == "finished":
            return None, NO_SAVED_GRAPH
        return None, f"the run {run_id} has not finished, so arm {arm} has no saved pairing graph yet"
    graph_path, links_path = store.graph_files(entry["scenario"], arm)
    with read_failures_as_input(graph_path, SAVED_GRAPH, "not a node-link graph in JSON"):
        graph = nx.node_link_graph(json.loads(graph_path.read_text(encoding="utf-8")), edges="links")
    links = read_parquet_table(links_path, SAVED_GRAPH, ["branch", "donor_kind", "donor", "village", "planned_funds"])
    if not len(links):
        return None, f"arm {arm} forms no joint branches"
    where = f"scenario {entry['scenario']}, " if len({e["scenario"] for e in manifest["graphs"]}) > 1 else ""
    what = f"{where}arm {arm}, replication 0, at the start; node size: planned funds a year (yuan)"
    return (graph, _node_funds(graph, links, links["planned_funds"]), what), ""


def _run_input(folder: Path) -> ReportInput:
    meta = read_json_object(folder / "run.json", RUN_META, {"start_year": int, "horizon_years": int, "versions": dict})
    monthly = read_parquet_table(folder / "monthly.parquet", "the monthly table that pairsim run writes", ["step", "year"])
    start_year = int(meta.get("start_year", monthly["year"].min()))
    scenario = str(meta.get("scenario", folder.name))
    results = monthly.assign(run_id=folder.name, scenario=scenario, arm=RUN_ARM, point=0, replication=0, seed=meta.get("seed", 0))
    results["year"] = start_year + results["step"] / 12.0  # monthly detail: one trajectory, no bands
    # Columns computed only at yearly reporting points are carried between them: drawn through those points, not as steps.
    yearly_only = [column for column in meta.get("yearly_columns", []) if column in results]
    results.loc[results["month"] != 0, yearly_only] = float("nan")
    horizon = meta.get("horizon_years")
    overview = [
        ("Scenario", str(meta.get("scenario", "—"))),
        ("Scenario file", str(meta.get("scenario_file", "—"))),
        ("Seed", str(meta.get("seed", "—"))),
        ("Horizon", f"{start_year}–{start_year + (horizon or 0)} ({horizon if horizon is not None else '—'} years, monthly)"),
        ("Arms, replications", "one run (one draw of the county's randomness: no intervals)"),
        ("Package versions", versions_text(meta.get("versions", {}))),
        ("Results written", modified_time(folder / "run.json")),
        ("Report built", f"{utc_now_text()} with pairsim {package_version('pairsim')}"),
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
    ledger = read_parquet_table(ledger_path, "the ledger table that pairsim run writes", ["step", "flow", "link", "sent"])
    links = read_parquet_table(
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
    with read_failures_as_input(graph_path, "the pairing_graph.json that pairsim run writes", "not a node-link graph in JSON"):
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


def versions_text(versions: dict) -> str:
    """A manifest's package versions as one line for a report's overview ("—" when it recorded none)."""
    return ", ".join(f"{name} {version}" for name, version in versions.items()) or "—"


def modified_time(path: Path) -> str:
    """When ``path`` was last written, in UTC to the minute: when the results a report shows were made."""
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def utc_now_text() -> str:
    """Now, in UTC to the minute: when a report was built."""
    return datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
