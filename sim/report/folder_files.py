"""What the reports of the other kinds of results folder (a calibration's, an optimisation's, a scenario discovery inside
an experiment's) share in reading their folders: which kind a folder is, and a table checked to have the columns a
report reads, so that a damaged file is one line of bad input naming it and never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from sim.errors import InputError
from sim.report.inputs import read_failures_as_input, read_json_object, read_parquet_table, require_columns


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
    return require_columns(table, path, expected, columns)


def read_kind_manifest(path: Path, expected: str, kind: str, types: dict[str, type], mappings: Iterable[str] = ("runs",)) -> dict:
    """The manifest of a results folder of ``kind``: present, a JSON object whose keys of ``types`` have those types,
    saying it is of ``kind``, and with a JSON object for every entry of each of ``mappings`` (``expected`` says what the
    file should be, for the error)."""
    if not path.is_file():
        raise InputError.single(str(path), "", f"no such file; expected {expected}")
    manifest = read_json_object(path, expected, types)
    if manifest.get("kind") != kind:
        raise InputError.single(str(path), "kind", f"{manifest.get('kind')!r:.60} is not {kind!r}; expected {expected}")
    for key in mappings:
        if not all(isinstance(entry, dict) for entry in manifest.get(key, {}).values()):
            raise InputError.single(str(path), key, f"holds an entry that is not a JSON object; expected {expected}")
    return manifest


__all__ = ["is_kind_folder", "read_kind_manifest", "read_table"]
