"""Run one scenario to the end and write its tables: the engine behind ``pairsim run``.

Outputs are written to a temporary folder beside the destination and moved
into place only when complete, so a crash or Ctrl-C never leaves half a result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pandas as pd

from sim import package_version
from sim.csv_writer import write_csv
from sim.model import PairingModel
from sim.outcome_registry import summary_rows, yearly_outcomes
from sim.outputs import RUN_MARKER, write_folder_atomically
from sim.pairing.links import STATUS_NAMES
from sim.pairing.registry import flows
from sim.scenario import Scenario


@dataclass
class RunResult:
    """The tables of one finished run."""

    monthly: pd.DataFrame
    villages: pd.DataFrame
    summary: pd.DataFrame
    policies: pd.DataFrame  # one row per pairing policy (empty without pairing)
    ledger: pd.DataFrame  # every transfer: step, link, policy, flow, sent, lost, received
    links: pd.DataFrame  # every donor-village link and its final state
    graph: nx.Graph  # the pairing graph at the end of the run
    yearly_columns: tuple[str, ...] = ()  # monthly columns computed at yearly reporting points only, carried between


def run_model(model: PairingModel, on_month: Callable[[], None] | None = None) -> RunResult:
    """Step a built model to its horizon; ``on_month`` is called after each step (for progress bars)."""
    while model.running:
        model.step()
        if on_month is not None:
            on_month()
    monthly = model.model_dataframe()
    programme = model.pairing
    return RunResult(
        monthly=monthly,
        villages=model.village_dataframe(),
        summary=summarise(monthly),
        policies=programme.policy_summary(),
        ledger=programme.ledger.frame(programme.policy_labels),
        links=programme.link_table(),
        graph=programme.refreshed_graph(),
        yearly_columns=yearly_outcomes(model.monthly_inequality),
    )


def summarise(monthly: pd.DataFrame) -> pd.DataFrame:
    """Start versus end of the main outcomes, one row per outcome."""
    first, last = monthly.iloc[0], monthly.iloc[-1]
    start_label, end_label = f"start ({int(first['year'])})", f"end ({int(last['year'])})"
    rows = [
        {"outcome": label, start_label: first[key], end_label: last[key], "change": last[key] - first[key]}
        for key, label in summary_rows().items()
    ]
    return pd.DataFrame(rows).set_index("outcome")


LINK_COLUMNS: dict[str, str] = {"branches": "branches", **{f"links_{name}": name for name in STATUS_NAMES.values()}}
"""The policies table's counts of branches and links, with their row labels in :func:`format_policies`."""


def policy_columns() -> dict[str, str]:
    """The policies table's columns :func:`format_policies` shows, with their row labels: branches and links, then each
    registered flow's total (funds followed by what leaked of them)."""
    columns = dict(LINK_COLUMNS)
    for flow in flows().values():
        columns[flow.ledger_column] = flow.label
        if flow.name == "funds":
            columns["funds_lost"] = "leaked (yuan)"  # only funds leak
    return columns


def format_policies(policies: pd.DataFrame) -> str:
    """Per-policy totals over the run as an aligned text table ('' when there is no pairing)."""
    if policies.empty:
        return ""
    columns = policy_columns()
    table = policies.set_index("policy")[list(columns)].rename(columns=columns)
    return table.map(lambda value: f"{value:,.0f}").T.to_string()


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as an aligned text table, each row in its outcome's unit (sim.formatting: yuan with thousands
    separators, shares in percent and their change in points, Gini and Theil to 4 decimals, counts)."""
    from sim.formatting import format_value, unit_of

    keys = {label: key for key, label in summary_rows().items()}
    table = summary.copy().astype(object)
    for label in table.index:
        unit = unit_of(keys.get(label, ""))
        values = [float(v) for v in summary.loc[label]]
        changes = [column == "change" for column in summary.columns]
        table.loc[label] = [format_value(v, unit, difference=change) for v, change in zip(values, changes, strict=True)]
    with pd.option_context("display.unicode.east_asian_width", True):
        return table.to_string()


def write_outputs(result: RunResult, out_dir: Path, scenario: Scenario, scenario_path: str, seed: int) -> Path:
    """Write Parquet and CSV tables plus ``run.json`` to ``out_dir`` in one atomic step (replacing an old run); returns the folder.

    Call :func:`sim.outputs.prepare_run_folder` first, before the run: it refuses folders pairsim did not write.
    If ``out_dir`` changed during the run, the tables go to a fresh sibling instead (see
    :func:`sim.outputs.write_folder_atomically`), and that is the folder returned.
    """
    tables = {
        "monthly": result.monthly,
        "villages": result.villages,
        "summary": result.summary.reset_index(),
        "policies": result.policies,
        "ledger": result.ledger,
        "links": result.links,
    }

    def fill(folder: Path) -> None:
        for name, table in tables.items():
            table.to_parquet(folder / f"{name}.parquet", index=False)
            write_csv(table, folder / f"{name}.csv")  # the bytes of table.to_csv(index=False), a few times faster
        write_graph(result.graph, folder)
        meta = json.dumps(run_metadata(scenario, scenario_path, seed, result.yearly_columns), indent=2, ensure_ascii=False)
        (folder / RUN_MARKER).write_text(meta, encoding="utf-8")  # last: a folder with run.json is complete

    return write_folder_atomically(out_dir, fill)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the validated scenario (defaults filled in), so equal inputs hash equally."""
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()


def run_metadata(scenario: Scenario, scenario_path: str, seed: int, yearly_columns: tuple[str, ...] = ()) -> dict:
    """What ``run.json`` says of a run; ``yearly_columns``: the monthly table's columns that change only yearly."""
    packages = ["pairsim", "mesa", "numpy", "pandas", "pydantic", "networkx"]
    return {
        "scenario": scenario.name,
        "scenario_file": scenario_path,
        "scenario_sha256": scenario_hash(scenario),
        "seed": seed,
        "horizon_years": scenario.horizon_years,
        "start_year": scenario.start_year,
        "yearly_columns": list(yearly_columns),
        "versions": {name: package_version(name) for name in packages},
    }


def write_graph(graph: nx.Graph, folder: Path) -> None:
    """GraphML (Gephi, networkx) and node-link JSON of a pairing graph."""
    nx.write_graphml(graph, folder / "pairing_graph.graphml")
    data = nx.node_link_data(graph, edges="links")
    (folder / "pairing_graph.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
