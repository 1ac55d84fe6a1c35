"""The files of a calibration's results folder (formats in docs/CALIBRATION.md) and its printed summary.

Every file is written to a temporary name and renamed into place, so a killed calibration never leaves half a table;
the report (``pairsim report``) and posterior-driven experiments read these files and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim import package_version
from sim.experiment import file_hash
from sim.outputs import write_atomically
from sim.summary import text_table

if TYPE_CHECKING:
    from sim.calibration.history_matching import Emulators
    from sim.calibration.spec import Calibration, Target

POSTERIOR_METADATA_KEY = b"pairsim"
"""The Parquet metadata key of posterior.parquet's provenance: calibration, scenario and its hash, version, ESS."""

INTERVAL = (0.05, 0.95)
"""The simulated interval the targets and validation tables give: the central 90 %."""


class CalibrationFiles:
    """Where each table of a calibration's folder lives, and how it is written."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        return self.folder / name

    def write_waves(self, waves: pd.DataFrame, summary: pd.DataFrame) -> None:
        _parquet(self.path("waves.parquet"), waves)
        _csv(self.path("wave_summary.csv"), summary)

    def write_emulator_diagnostics(self, emulators: Emulators) -> None:
        """Each target's emulator: leave-one-out R^2 and length-scale per parameter (``ls:<parameter>``)."""
        scales = emulators.length_scales.add_prefix("ls:")
        table = pd.concat([emulators.loo_r2().rename("r2"), scales], axis=1).rename_axis("target").reset_index()
        _csv(self.path("emulator_diagnostics.csv"), table)

    def write_posterior(self, posterior: pd.DataFrame, calibration: Calibration, ess: float) -> None:
        """posterior.parquet, with its provenance in the file's metadata (experiments read only its columns)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        record = {
            "calibration": calibration.name,
            "scenario": Path(calibration.scenario).name,
            "scenario_sha256": file_hash(calibration.scenario),
            "pairsim_version": package_version("pairsim"),
            "ess": float(ess),
        }
        table = pa.Table.from_pandas(posterior, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), POSTERIOR_METADATA_KEY: json.dumps(record)})
        write_atomically(self.path("posterior.parquet"), lambda tmp: pq.write_table(table, tmp))

    def write_identifiability(self, table: pd.DataFrame) -> None:
        _csv(self.path("identifiability.csv"), table)

    def write_check(self, check: pd.DataFrame) -> None:
        _parquet(self.path("posterior_check.parquet"), check)

    def write_patterns(self, targets: pd.DataFrame, validation: pd.DataFrame) -> None:
        _csv(self.path("targets.csv"), targets)
        _csv(self.path("validation.csv"), validation)

    def write_summary(self, text: str) -> None:
        write_atomically(self.path("calibration.md"), lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))

    def read(self, name: str) -> pd.DataFrame:
        path = self.path(name)
        return pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)


def _parquet(path: Path, frame: pd.DataFrame) -> None:
    write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))


def _csv(path: Path, frame: pd.DataFrame) -> None:
    write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


def wave_rows(
    wave: int,
    values: pd.DataFrame,
    u: np.ndarray,
    problem,
    mean: np.ndarray,
    var: np.ndarray,
    scores: np.ndarray,
    cutoff: float,
) -> pd.DataFrame:
    """waves.parquet's rows of one wave: each design point's values, unit-cube coordinates, simulated mean and
    within-point variance of each target, implausibility of that mean (V_obs + V_stoch) and verdict."""
    from sim.calibration.history_matching import plausible

    columns: dict[str, object] = {"wave": wave, "point": np.arange(len(values))}
    columns.update({name: values[name].to_numpy() for name in problem.parameters})
    columns.update({f"u:{name}": u[:, j] for j, name in enumerate(problem.parameters)})
    for prefix, array in (("sim", mean), ("var", var), ("I", scores)):
        columns.update({f"{prefix}:{name}": array[:, j] for j, name in enumerate(problem.targets)})
    with np.errstate(invalid="ignore"):
        columns["max_I"] = np.max(scores, axis=1)
    columns["plausible"] = plausible(scores, cutoff)
    return pd.DataFrame(columns)


def posterior_table(values: pd.DataFrame) -> pd.DataFrame:
    """posterior.parquet's rows: ``draw`` 0..n-1, one column per parameter, and ``weight`` 1/n (equal weights)."""
    table = values.reset_index(drop=True)
    table.insert(0, "draw", np.arange(len(table)))
    table["weight"] = 1.0 / len(table)
    return table


def identifiability_table(identified: pd.DataFrame, calibration: Calibration) -> pd.DataFrame:
    """identifiability.csv: the method's unit-cube verdict with each prior's range and the posterior's 5/50/95 %
    quantiles as parameter values (each prior's quantile function is monotone, so quantiles map to quantiles)."""
    priors = [calibration.parameters[name] for name in identified["parameter"]]

    def mapped(column: str) -> list[float]:
        return [float(prior.from_unit(np.array([u]))[0]) for prior, u in zip(priors, identified[column], strict=True)]

    return pd.DataFrame(
        {
            "parameter": identified["parameter"],
            "prior_low": [prior.low for prior in priors],
            "prior_high": [prior.high for prior in priors],
            "posterior_median": mapped("u_median"),
            "posterior_low": mapped("u_low"),
            "posterior_high": mapped("u_high"),
            "contraction": identified["contraction"],
            "identified": identified["identified"].astype(bool),
            "median_length_scale": identified["median_length_scale"],
        }
    )


def check_table(rows: pd.DataFrame, parameters: list[str], simulated: pd.DataFrame) -> pd.DataFrame:
    """posterior_check.parquet: each check draw's parameter values and every target's and held-out pattern's value."""
    table = rows[["draw", *parameters]].reset_index(drop=True)
    by_draw = simulated.reindex(table["draw"].to_numpy())
    for name in simulated.columns:
        table[f"sim:{name}"] = by_draw[name].to_numpy()
    return table


def pattern_table(patterns: Mapping[str, Target], check: pd.DataFrame, key: str) -> tuple[pd.DataFrame, list[str]]:
    """targets.csv or validation.csv (``key``: 'target' or 'pattern'): each pattern's observation next to its simulated
    median and central 90 % under the posterior, whether the observation is inside, and z = (median - observed) /
    sqrt(sd^2 + simulated variance); and a note for each pattern some check runs gave no finite value for.

    Only finite values count: one infinite value (a ratio over a zero) would make the interval infinite and z zero,
    a perfect fit in appearance."""
    rows, notes = [], []
    for name, pattern in patterns.items():
        values = check[f"sim:{name}"].to_numpy(float)
        simulated = values[np.isfinite(values)]
        if len(simulated) < len(values):
            notes.append(
                f"{key} {name}: {len(values) - len(simulated)} of {len(values)} posterior-check runs gave no finite value "
                "(left out of its median, interval and z)"
            )
        median, low, high = np.quantile(simulated, [0.5, *INTERVAL]) if len(simulated) else (np.nan,) * 3
        spread = np.var(simulated, ddof=1) if len(simulated) > 1 else 0.0
        sd = pattern.observation_sd
        rows.append(
            {
                key: name,
                "observed": pattern.observed,
                "sd": sd,
                "year": pattern.statistic.year,
                "source": pattern.source,
                "median": median,
                "low": low,
                "high": high,
                "inside": bool(low <= pattern.observed <= high),
                "z": (median - pattern.observed) / np.sqrt(sd**2 + spread),
            }
        )
    columns = [key, "observed", "sd", "year", "source", "median", "low", "high", "inside", "z"]
    return pd.DataFrame(rows, columns=columns), notes


def summary_text(calibration: Calibration, manifest: dict, files: CalibrationFiles, notes: list[str]) -> str:
    """The printed summary, also saved as calibration.md: targets, validation, identifiability, runs and time."""
    targets, validation = files.read("targets.csv"), files.read("validation.csv")
    identifiability = files.read("identifiability.csv")
    waves = files.read("wave_summary.csv")
    runs = manifest["runs"].values()
    finished = sum(run.get("status") == "finished" for run in runs)
    seconds = manifest.get("seconds", {})
    method = calibration.method
    parts = [
        f"# Calibration {calibration.name}",
        "",
        (
            f"Scenario {manifest['scenario_name']}; history matching, {method.waves} waves of {method.points_per_wave} "
            f"points x {method.seeds} seed(s), cutoff {method.cutoff:g}; posterior check {method.check_draws} draws on fresh seeds."
        ),
        "",
        "## Targets (fitted): observed against the posterior check's median and central 90 %",
        "",
        _indent(text_table(_pattern_cells(targets, "target"), left=("target", "inside"))),
        "",
        "## Held-out patterns (never fitted)",
        "",
        _indent(text_table(_pattern_cells(validation, "pattern"), left=("pattern", "inside")))
        if len(validation)
        else "    (none)",
        "",
        f"## Identifiability (posterior contraction in the unit cube; identified at {method.identified_contraction:g} or more)",
        "",
        _indent(text_table(_identifiability_cells(identifiability), left=("parameter", "identified"))),
        "",
        "## Waves",
        "",
        _indent(text_table(waves.assign(nroy_fraction=waves["nroy_fraction"].map("{:.3f}".format)))),
        "",
        f"Runs: {finished} finished of {len(manifest['runs'])}; time: "
        + ", ".join(f"{name} {value:,.1f} s" for name, value in seconds.items())
        + f" (total {sum(seconds.values()):,.1f} s).",
    ]
    if notes:
        parts += ["", *[f"Note: {note}" for note in notes]]
    return "\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def _pattern_cells(table: pd.DataFrame, key: str) -> pd.DataFrame:
    def number(value: float) -> str:
        return f"{value:.4g}" if np.isfinite(value) else "n/a"

    return pd.DataFrame(
        {
            key: table[key],
            "year": table["year"],
            "observed": [f"{o:.4g} ± {s:.2g}" for o, s in zip(table["observed"], table["sd"], strict=True)],
            "median": table["median"].map(number),
            "90 % interval": [f"{number(lo)} to {number(hi)}" for lo, hi in zip(table["low"], table["high"], strict=True)],
            "inside": table["inside"].map({True: "inside", False: "OUTSIDE"}),
            "z": table["z"].map(lambda z: f"{z:+.2f}" if np.isfinite(z) else "n/a"),
        }
    )


def _identifiability_cells(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "parameter": table["parameter"],
            "prior": [f"{lo:.4g} to {hi:.4g}" for lo, hi in zip(table["prior_low"], table["prior_high"], strict=True)],
            "posterior median": table["posterior_median"].map("{:.4g}".format),
            "90 %": [f"{lo:.4g} to {hi:.4g}" for lo, hi in zip(table["posterior_low"], table["posterior_high"], strict=True)],
            "contraction": table["contraction"].map("{:.2f}".format),
            "identified": table["identified"].map({True: "yes", False: "NOT identified"}),
            "length-scale": table["median_length_scale"].map("{:.3g}".format),
        }
    )


__all__ = ["POSTERIOR_METADATA_KEY", "CalibrationFiles"]
