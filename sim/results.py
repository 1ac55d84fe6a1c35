"""Where an experiment's results live: one Parquet file per finished run, the starting pairing graphs, and a manifest.

``results/<experiment>/runs/<run_id>.parquet`` together form one Parquet
dataset (read it with :func:`load_results` or ``pandas.read_parquet`` on the
folder). ``graphs/<scenario>__<arm>.json`` is the pairing graph that
replication 0 of each scenario and arm started with (node-link JSON, as
``pairsim run`` writes pairing_graph.json), beside ``.links.parquet``, its link
table then: the report draws the network from these, never from a scenario file
that may have changed since. Every file is written to a temporary name and
renamed into place, so a killed process never leaves half a result, and a
re-run skips the runs whose file exists: resuming is free and nothing is
duplicated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.outputs import write_atomically


@dataclass(frozen=True)
class StartingGraph:
    """The pairing graph a run starts with (node-link JSON text) and its link table then, with each link's planned funds
    a year (``planned_funds``), which size the report's nodes."""

    graph_json: str
    links: pd.DataFrame


class ResultsStore:
    """An experiment's results folder: finished runs, starting graphs, the manifest, and what is still to do."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.runs = self.folder / "runs"
        self.graphs = self.folder / "graphs"
        self.manifest_path = self.folder / "manifest.json"

    def finished(self) -> set[str]:
        """Run ids whose results are on disk (complete files only: temporaries start with a dot)."""
        if not self.runs.is_dir():
            return set()
        return {path.stem for path in self.runs.glob("*.parquet") if not path.name.startswith(".")}

    def save_run(self, run_id: str, table: pd.DataFrame) -> None:
        write_atomically(self.runs / f"{run_id}.parquet", lambda tmp: table.to_parquet(tmp, index=False))

    def graph_files(self, scenario: str, arm: str) -> tuple[Path, Path]:
        """Where the starting graph of ``scenario`` (a file stem) and ``arm`` is saved: the graph, then its link table."""
        stem = self.graphs / f"{scenario}__{arm}"
        return stem.with_name(f"{stem.name}.json"), stem.with_name(f"{stem.name}.links.parquet")

    def has_graph(self, scenario: str, arm: str) -> bool:
        return all(path.is_file() for path in self.graph_files(scenario, arm))

    def save_graph(self, scenario: str, arm: str, start: StartingGraph) -> None:
        graph_path, links_path = self.graph_files(scenario, arm)
        write_atomically(links_path, lambda tmp: start.links.to_parquet(tmp, index=False))
        write_atomically(graph_path, lambda tmp: tmp.write_text(start.graph_json, encoding="utf-8"))

    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.is_file():
            return {}
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        text = json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True)
        write_atomically(self.manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def load(self) -> pd.DataFrame:
        """Every finished run's rows, sorted by run id and year."""
        return load_results(self.folder)


def load_results(folder: str | Path) -> pd.DataFrame:
    """Read an experiment's results folder (or its ``runs`` dataset) into one tidy DataFrame."""
    folder = Path(folder)
    runs = folder / "runs" if (folder / "runs").is_dir() else folder
    files = sorted(path for path in runs.glob("*.parquet") if not path.name.startswith("."))
    if not files:
        raise FileNotFoundError(f"no finished runs in {runs}")
    frame = pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    return frame.sort_values(["run_id", "year"], kind="stable").reset_index(drop=True)
