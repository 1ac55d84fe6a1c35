"""What the reports of the other kinds of results folder (a calibration's, an optimisation's, a scenario discovery inside
an experiment's) share in reading their folders: which kind a folder is, and a table checked to have the columns a
report reads, so that a damaged file is one line of bad input naming it and never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from sim.errors import InputError
from sim.report.inputs import read_failures_as_input, read_parquet_table


def is_kind_folder(folder: str | Path, kind: str, files: Iterable[str]) -> bool:
    """Whether ``folder`` holds a results folder of ``kind``: its manifest's ``kind`` says so, or a manifest that cannot
    be read sits beside one of ``files`` (files only that kind writes), so that the report of that kind names the
    damage rather than an experiment's report."""
    folder = Path(folder)
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return any((folder / name).is_file() for name in files)
    return isinstance(data, dict) and data.get("kind") == kind


def read_table(path: Path, expected: str, columns: list[str]) -> pd.DataFrame:
    """A CSV or Parquet table of a results folder, checked to have ``columns`` (``expected`` says what the file should
    be, for the error)."""
    if path.suffix == ".parquet":
        return read_parquet_table(path, expected, columns)
    with read_failures_as_input(path, expected, "not a readable CSV table"):
        table = pd.read_csv(path)
    lacking = [column for column in columns if column not in table.columns]
    if lacking:
        raise InputError.single(str(path), "", f"lacks column(s) {', '.join(lacking)}; expected {expected}")
    return table


__all__ = ["is_kind_folder", "read_table"]
