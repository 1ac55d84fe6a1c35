"""Reading a calibration's results folder (what ``pairsim calibrate`` writes) into the one ``CalibrationInput`` the
calibration report draws from. A file the calibration has not written yet (it stopped early, or is still running)
becomes a note in its section; a damaged or foreign file becomes one line of bad input naming it, as for experiments."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import ValidationError

from sim import package_version
from sim.errors import InputError
from sim.experiment import Parameter
from sim.report.folder_files import is_kind_folder, read_kind_manifest, read_table
from sim.report.inputs import (
    modified_time,
    read_failures_as_input,
    utc_now_text,
    versions_text,
)

KIND = "calibration"
"""The manifest's ``kind`` that marks a calibration's folder (an experiment's manifest has none)."""

MANIFEST = "the manifest.json that pairsim calibrate writes"
CALIBRATION_FILES = ("waves.parquet", "wave_summary.csv", "posterior.parquet")
"""Files only a calibration writes: a folder with one of them and a manifest that cannot be read is a damaged
calibration, and its error says so (rather than speaking of experiments)."""

DEFAULTS = {"cutoff": 3.0, "identified_contraction": 0.2}
"""The method settings the report needs, at the calibration file's defaults (its ``method:`` section), for a manifest
that leaves them out."""

METHOD_WORDS = {
    "waves": "waves",
    "points_per_wave": "design points a wave",
    "seeds": "seeds a point",
    "cutoff": "implausibility cutoff",
    "candidates": "candidates a wave",
    "posterior_size": "posterior draws",
    "posterior_candidates": "posterior candidates",
    "check_draws": "posterior-check runs",
    "identified_contraction": "identified from contraction",
}
"""The method settings in words, in the order the overview lists them (others follow under their own names)."""


@dataclass(frozen=True)
class Table:
    """One of the folder's tables, or why it is not there (``frame`` None and ``missing`` saying so)."""

    frame: pd.DataFrame | None
    missing: str = ""


@dataclass
class CalibrationInput:
    """A calibration's folder, read once: the manifest and each table (``None`` where the folder lacks it)."""

    folder: Path
    manifest: dict
    title: str
    overview: list[tuple[str, str]]  # (label, plain text), escaped when rendered
    priors: dict[str, Parameter | None]  # None: a prior this version cannot draw from
    targets: dict[str, dict]
    held_out: dict[str, dict]
    cutoff: float
    identified_contraction: float
    tables: dict[str, Table] = field(default_factory=dict)  # file name -> table
    ess: float | None = None

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables[name].frame

    def missing(self, *names: str) -> str:
        """Why the first of ``names`` that is not in the folder is missing ("" when all are there)."""
        return next((self.tables[name].missing for name in names if self.tables[name].frame is None), "")

    @property
    def parameters(self) -> list[str]:
        return list(self.priors)


def is_calibration_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a calibration (its manifest says so, or a damaged manifest sits beside a calibration's
    own files): ``pairsim report`` then draws the calibration report instead of an experiment's."""
    return is_kind_folder(folder, KIND, CALIBRATION_FILES)


def load_calibration_input(folder: str | Path) -> CalibrationInput:
    """Read a calibration's folder; a damaged manifest or table is bad input (one line naming the file)."""
    folder = Path(folder)
    manifest = _read_manifest(folder / "manifest.json")
    method = manifest.get("method", {})
    parameters = list(manifest.get("parameters", {}))
    targets, held_out = manifest.get("targets", {}), manifest.get("held_out", {})
    tables = _read_tables(folder, manifest, parameters, list(targets), list(held_out))
    data = CalibrationInput(
        folder=folder,
        manifest=manifest,
        title=f"Calibration {manifest.get('calibration', folder.name)}",
        overview=[],
        priors={name: _prior(prior) for name, prior in manifest.get("parameters", {}).items()},
        targets=targets,
        held_out=held_out,
        cutoff=_setting(folder, method, "cutoff"),
        identified_contraction=_setting(folder, method, "identified_contraction"),
        tables=tables,
        ess=_ess(folder / "posterior.parquet", manifest) if tables["posterior.parquet"].frame is not None else None,
    )
    data.overview = _overview(data)
    return data


# --------------------------------------------------------------------------- the manifest


def _read_manifest(path: Path) -> dict:
    types = {
        "calibration": str,
        "calibration_file": str,
        "scenario": str,
        "scenario_name": str,
        "seed": int,
        "method": dict,
        "parameters": dict,
        "targets": dict,
        "held_out": dict,
        "waves_done": int,
        "runs": dict,
        "versions": dict,
        "seconds": dict,
        "description": str,
    }
    manifest = read_kind_manifest(path, MANIFEST, KIND, types, ("parameters", "targets", "held_out", "runs"))
    for key in ("targets", "held_out"):
        for name, target in manifest.get(key, {}).items():
            if not isinstance(target.get("statistic"), dict) or not _is_number(target.get("observed")):
                raise InputError.single(
                    str(path), f"{key}.{name}", f"lacks a statistic or a numeric observed value; expected {MANIFEST}"
                )
    return manifest


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _setting(folder: Path, method: dict, name: str) -> float:
    value = method.get(name, DEFAULTS[name])
    if not _is_number(value):
        raise InputError.single(
            str(folder / "manifest.json"), f"method.{name}", f"{value!r:.60} is not a number; expected {MANIFEST}"
        )
    return float(value)


def _prior(prior: dict) -> Parameter | None:
    """The manifest's prior as the experiment's ``Parameter`` (whose quantile function draws it), or None for one this
    version cannot read (a newer distribution): its panel then shows the posterior alone, and says so."""
    try:
        return Parameter.model_validate({key: value for key, value in prior.items() if value is not None})
    except ValidationError:
        return None


# --------------------------------------------------------------------------- the tables


TABLES: dict[str, tuple[str, str]] = {
    "waves.parquet": ("the design points of every wave that pairsim calibrate writes", "a wave has finished"),
    "wave_summary.csv": ("the summary of each wave that pairsim calibrate writes", "a wave has finished"),
    "emulator_diagnostics.csv": ("the emulators' diagnostics that pairsim calibrate writes", "a wave has finished"),
    "posterior.parquet": ("the posterior sample that pairsim calibrate writes", "the last wave has finished"),
    "posterior_check.parquet": ("the posterior check's runs that pairsim calibrate writes", "the posterior check has run"),
    "targets.csv": ("the targets table that pairsim calibrate writes", "the posterior check has run"),
    "validation.csv": ("the validation table that pairsim calibrate writes", "the posterior check has run"),
    "identifiability.csv": ("the identifiability table that pairsim calibrate writes", "the last wave has finished"),
}
"""Each table of the folder: what it is (for errors), and when the calibration writes it (for the note where it is
missing)."""


def _columns(name: str, parameters: list[str], targets: list[str], held_out: list[str]) -> list[str]:
    """The columns the report reads from table ``name`` (what the folder format promises)."""
    per_target = [f"sim:{target}" for target in targets]
    return {
        "waves.parquet": ["wave", "point", *parameters, "max_I", "plausible"],
        "wave_summary.csv": ["wave", "points", "plausible_points", "nroy_fraction"],
        "emulator_diagnostics.csv": ["target"],
        "posterior.parquet": ["draw", *parameters, "weight"],
        "posterior_check.parquet": ["draw", *per_target, *[f"sim:{pattern}" for pattern in held_out]],
        "targets.csv": ["target", "observed", "sd", "median", "low", "high", "inside", "z", "source"],
        "validation.csv": ["pattern", "observed", "sd", "median", "low", "high", "inside", "z", "source"],
        "identifiability.csv": ["parameter", "posterior_median", "posterior_low", "posterior_high", "contraction", "identified"],
    }[name]


def _read_tables(folder: Path, manifest: dict, parameters: list[str], targets: list[str], held_out: list[str]) -> dict:
    tables = {}
    for name, (expected, when) in TABLES.items():
        path = folder / name
        if not path.is_file():
            tables[name] = Table(None, _why_missing(name, when, manifest))
            continue
        columns = _columns(name, parameters, targets, held_out)
        frame = read_table(path, expected, columns)
        tables[name] = Table(_with_booleans(frame))
    return tables


def _why_missing(name: str, when: str, manifest: dict) -> str:
    return f"{name} is not in this folder (pairsim calibrate writes it once {when}; {_progress(manifest)})"


def _progress(manifest: dict) -> str:
    """How far the calibration got: waves done of those planned, and finished, stopped (and why) or still to go on."""
    waves, done = manifest.get("method", {}).get("waves"), manifest.get("waves_done", 0)
    progress = f"{done} of {waves} waves done" if waves is not None else f"{done} waves done"
    if isinstance(manifest.get("stopped"), str):
        return f"{progress}, stopped: {manifest['stopped']}"
    return f"{progress}, {'finished' if manifest.get('finished') else 'not finished: run pairsim calibrate again to go on'}"


def _with_booleans(table: pd.DataFrame) -> pd.DataFrame:
    """``inside``, ``identified`` and ``plausible`` as booleans, whether a CSV spelled them True/False or 1/0."""
    for column in ("inside", "identified", "plausible"):
        if column in table.columns and table[column].dtype != bool:
            table[column] = table[column].astype(str).str.strip().str.lower().isin({"true", "1", "yes"})
    return table


def _ess(path: Path, manifest: dict) -> float | None:
    """The effective sample size of the weighted candidates: the posterior file's own (its ``pairsim`` metadata),
    else the manifest's."""
    with read_failures_as_input(path, TABLES["posterior.parquet"][0], "has unreadable metadata"):
        metadata = pq.read_metadata(path).metadata or {}
        record = json.loads(metadata[b"pairsim"]) if b"pairsim" in metadata else {}
    ess = record.get("ess") if isinstance(record, dict) else None
    ess = ess if _is_number(ess) else manifest.get("ess")
    return float(ess) if _is_number(ess) else None


# --------------------------------------------------------------------------- the overview


def _overview(data: CalibrationInput) -> list[tuple[str, str]]:
    """The overview table, from the folder alone (never the calibration or scenario files, which may have changed)."""
    manifest = data.manifest
    statuses = pd.Series([run.get("status", "pending") for run in manifest.get("runs", {}).values()], dtype=object)
    method = manifest.get("method", {})
    rows = [
        ("Calibration", str(manifest.get("calibration", data.folder.name))),
        ("Description", manifest.get("description") or "—"),
        ("Scenario", f"{manifest.get('scenario_name', '—')} ({manifest.get('scenario', '—')})"),
        ("Calibration file", _file(manifest)),
        ("Parameters fitted", ", ".join(data.parameters) or "—"),
        ("Targets", ", ".join(data.targets) or "—"),
        ("Held-out patterns (never fitted)", ", ".join(data.held_out) or "none"),
        ("Method", "history matching with Gaussian-process emulators, then an importance-sampled posterior; " + _method(method)),
        ("Progress", _progress(manifest)),
        ("Runs", ", ".join(f"{count} {status}" for status, count in statuses.value_counts().items()) or "none yet"),
        ("Time", _seconds(manifest.get("seconds", {}))),
        ("Posterior", _posterior(data)),
        ("Seed", str(manifest.get("seed", "—"))),
        ("Package versions", versions_text(manifest.get("versions", {}))),
        ("Results written", modified_time(data.folder / "manifest.json")),
        ("Report built", f"{utc_now_text()} with pairsim {package_version('pairsim')}"),
    ]
    unreadable = [name for name, prior in data.priors.items() if prior is None]
    if unreadable:
        rows.append(("Note", f"priors this version cannot draw (their panels show the posterior alone): {', '.join(unreadable)}"))
    return rows


def _file(manifest: dict) -> str:
    digest = manifest.get("calibration_sha256")
    return f"{manifest.get('calibration_file', '—')}" + (f" (sha256 {digest[:12]}…)" if isinstance(digest, str) else "")


def _method(method: dict) -> str:
    ordered = [key for key in METHOD_WORDS if key in method] + [key for key in method if key not in METHOD_WORDS]
    return "; ".join(f"{METHOD_WORDS.get(key, key)} {_plain(method[key])}" for key in ordered) or "defaults"


def _plain(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _seconds(seconds: dict) -> str:
    """Time per stage in the order the calibration runs them (waves by number, the posterior, its check)."""
    stages = sorted((name for name, value in seconds.items() if _is_number(value)), key=_stage_order)
    parts = [f"{name} {float(seconds[name]):,.1f} s" for name in stages]
    total = sum(float(value) for value in seconds.values() if _is_number(value))
    return f"{', '.join(parts)}; total {total / 60:,.1f} min" if parts else "—"


def _stage_order(stage: str) -> tuple[int, int, str]:
    wave = stage.removeprefix("wave ")
    if wave != stage and wave.isdigit():
        return (0, int(wave), stage)
    return ({"posterior": 1, "check": 2}.get(stage, 3), 0, stage)


def _posterior(data: CalibrationInput) -> str:
    posterior = data.table("posterior.parquet")
    if posterior is None:
        return "not drawn yet"
    ess = (
        f"effective sample size of the weighted candidates {data.ess:,.0f}"
        if data.ess is not None
        else "no effective sample size recorded"
    )
    return f"{len(posterior):,} equally weighted draws; {ess}"


def prior_draws(prior: Parameter, count: int = 20_000, seed: int = 0) -> np.ndarray:
    """Draws from ``prior`` (uniform in the unit cube mapped through its quantile function, as the calibration samples
    it), seeded so that the report is the same each time it is built."""
    return prior.from_unit(np.random.default_rng(seed).random(count))
