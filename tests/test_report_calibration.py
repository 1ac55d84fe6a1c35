"""Tests for the calibration report (``pairsim report`` of a folder ``pairsim calibrate`` wrote), including a
headless-Chromium check.

The folder is made here, file by file, in the format ``pairsim calibrate`` writes (2 waves of 10 design points, 3
parameters, 2 targets, 1 held-out pattern): its "simulated" statistics are a known function of the parameters plus
noise, so each figure can be checked against numbers the test knows. One parameter has no influence on any target and
is the one the identifiability table must call not pinned down.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import SMALL_SCENARIO as SMALL
from conftest import run_cli

from sim import report
from sim.experiment import Parameter
from sim.report import calibration as calibration_report
from sim.report.calibration import NOT_PINNED
from sim.report.calibration_figures import OBSERVED_95
from sim.report.calibration_inputs import prior_draws

EVIL = "<script>alert(1)</script>"
FIGURE_DIV = re.compile(r'<div id="(figure-\d+)" class="plotly-graph-div"')
SECTIONS = ["Overview", "Targets", "Implausibility per wave", "Parameters", "Identifiability", "Validation"]

PRIORS = {
    "economy.farm_productivity_growth": {"distribution": "uniform", "low": 0.10, "high": 0.18},
    "economy.operating_cv": {"distribution": "triangular", "low": 0.5, "high": 1.2, "mode": 0.8},
    "pairing.effects.training_gain": {"distribution": "truncnormal", "low": 0.0, "high": 0.25, "mean": 0.1, "sd": 0.05},
}
"""The three fitted parameters; training_gain moves no target (the simulated statistics below ignore it)."""
UNMOVED = "pairing.effects.training_gain"

TARGETS = {
    "rural_growth_2009_2013": {
        "statistic": {"outcome": "rural_income_pc", "year": 2013, "kind": "growth", "from_year": 2009},
        "observed": 0.74,
        "sd": 0.05,
        "source": f"[NBS 2014] rural income 2009-2013 {EVIL}",
    },
    "ratio_2013": {
        "statistic": {"outcome": "urban_rural_ratio", "year": 2013, "kind": "level"},
        "observed": 1.90,
        "interval": [1.86, 1.94],
        "source": "[Shouguang 2010] assumption",
    },
}
HELD_OUT = {
    "ratio_2008": {
        "statistic": {"outcome": "urban_rural_ratio", "year": 2008, "kind": "level"},
        "observed": 1.84,
        "sd": 0.02,
        "source": f"[Xiuzhou 2009] 1.84 {EVIL}",
    }
}
METHOD = {"waves": 2, "points_per_wave": 10, "seeds": 2, "cutoff": 3.0, "posterior_size": 200, "check_draws": 20}


def sd_of(target: dict) -> float:
    return target["sd"] if "sd" in target else (target["interval"][1] - target["interval"][0]) / 3.92


def simulate(u: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each pattern's statistic at unit-cube points ``u``: growth rises with the first parameter, the ratios fall with
    it and rise a little with the second; the third moves nothing."""
    noise = rng.normal(size=(3, len(u)))
    return {
        "rural_growth_2009_2013": 0.50 + 0.40 * u[:, 0] + 0.05 * u[:, 1] + 0.02 * noise[0],
        "ratio_2013": 2.10 - 0.30 * u[:, 0] + 0.03 * u[:, 1] + 0.01 * noise[1],
        "ratio_2008": 1.95 - 0.10 * u[:, 0] + 0.01 * noise[2],
    }


def values(u: np.ndarray) -> dict[str, np.ndarray]:
    return {name: Parameter.model_validate(prior).from_unit(u[:, i]) for i, (name, prior) in enumerate(PRIORS.items())}


def implausibility(simulated: dict[str, np.ndarray], variance: float = 0.0) -> np.ndarray:
    return np.column_stack(
        [np.abs(simulated[name] - t["observed"]) / np.sqrt(sd_of(t) ** 2 + variance) for name, t in TARGETS.items()]
    )


def write_parquet(path: Path, frame: pd.DataFrame, metadata: dict | None = None) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"pairsim": json.dumps(metadata).encode()})
    pq.write_table(table, path)


def pattern_rows(check: pd.DataFrame, patterns: dict[str, dict], key: str) -> pd.DataFrame:
    rows = []
    for name, pattern in patterns.items():
        simulated = check[f"sim:{name}"]
        median, low, high = simulated.median(), simulated.quantile(0.05), simulated.quantile(0.95)
        rows.append(
            {
                key: name,
                "observed": pattern["observed"],
                "sd": sd_of(pattern),
                "year": pattern["statistic"]["year"],
                "source": pattern["source"],
                "median": median,
                "low": low,
                "high": high,
                "inside": bool(low <= pattern["observed"] <= high),
                "z": (median - pattern["observed"]) / np.sqrt(sd_of(pattern) ** 2 + simulated.var()),
            }
        )
    return pd.DataFrame(rows)


def write_calibration_folder(folder: Path, manifest_changes: dict[str, Any] | None = None) -> Path:
    """A calibration folder in ``pairsim calibrate``'s format, with numbers from :func:`simulate`."""
    rng = np.random.default_rng(13)
    folder.mkdir(parents=True)
    names = list(PRIORS)
    waves, runs = [], {}
    for wave in (1, 2):
        u = rng.random((10, 3)) if wave == 1 else np.column_stack([rng.uniform(0.45, 0.75, 10), rng.random((10, 2))])
        means = simulate(u, rng)
        max_i = implausibility(means, 0.02**2).max(axis=1)
        frame = pd.DataFrame({"wave": wave, "point": range(10), **values(u)})
        for i, name in enumerate(names):
            frame[f"u:{name}"] = u[:, i]
        for name in TARGETS:
            frame[f"sim:{name}"] = means[name]
            frame[f"var:{name}"] = 0.02**2
        waves.append(frame.assign(max_I=max_i * (40.0 if wave == 1 else 1.0), plausible=max_i <= 3.0))
        runs |= {f"w{wave}__p{p:04d}__pairing__r{r:03d}": {"status": "finished"} for p in range(10) for r in range(2)}
    waves = pd.concat(waves, ignore_index=True)
    write_parquet(folder / "waves.parquet", waves)
    pd.DataFrame(
        {
            "wave": [1, 2],
            "points": [10, 10],
            "runs": [20, 20],
            "plausible_points": [int(waves.loc[waves["wave"] == w, "plausible"].sum()) for w in (1, 2)],
            "nroy_fraction": [0.31, 0.12],
            "cutoff": [3.0, 3.0],
            "seconds": [41.5, 39.0],
        }
    ).to_csv(folder / "wave_summary.csv", index=False)
    pd.DataFrame(
        {
            "target": list(TARGETS),
            "r2": [0.97, 0.93],
            **{f"ls:{name}": scale for name, scale in zip(names, ([0.3, 0.4], [1.5, 1.2], [80.0, 95.0]), strict=True)},
        }
    ).to_csv(folder / "emulator_diagnostics.csv", index=False)

    u_post = np.column_stack([np.clip(rng.normal(0.6, 0.05, 200), 0, 1), rng.beta(2, 2, 200), rng.random(200)])
    posterior = pd.DataFrame({"draw": range(200), **values(u_post), "weight": 1 / 200})
    write_parquet(folder / "posterior.parquet", posterior, {"calibration": "tiny", "ess": 812.5})
    check = posterior.head(20)[["draw", *names]].copy()
    for name, simulated in simulate(u_post[:20], rng).items():
        check[f"sim:{name}"] = simulated
    runs |= {f"check__d{d:04d}__pairing": {"status": "finished"} for d in range(20)}
    write_parquet(folder / "posterior_check.parquet", check)
    pattern_rows(check, TARGETS, "target").to_csv(folder / "targets.csv", index=False)
    pattern_rows(check, HELD_OUT, "pattern").to_csv(folder / "validation.csv", index=False)
    contraction = 1 - u_post.var(axis=0) / (1 / 12)
    pd.DataFrame(
        {
            "parameter": names,
            "prior_low": [PRIORS[n]["low"] for n in names],
            "prior_high": [PRIORS[n]["high"] for n in names],
            "posterior_median": posterior[names].median().to_numpy(),
            "posterior_low": posterior[names].quantile(0.05).to_numpy(),
            "posterior_high": posterior[names].quantile(0.95).to_numpy(),
            "contraction": contraction,
            "identified": contraction >= 0.2,
            "median_length_scale": [0.35, 1.35, 87.5],
        }
    ).to_csv(folder / "identifiability.csv", index=False)
    manifest = {
        "kind": "calibration",
        "calibration": "tiny_calibration",
        "description": f"{EVIL} 寿光 calibration",
        "calibration_file": "calibrations/tiny.yaml",
        "calibration_sha256": "ab" * 32,
        "identity": "cd" * 32,
        "scenario": "scenarios/small.yaml",
        "scenario_name": "small",
        "seed": 2009,
        "method": METHOD,
        "parameters": PRIORS,
        "targets": TARGETS,
        "held_out": HELD_OUT,
        "waves_done": 2,
        "finished": True,
        "runs": runs,
        "versions": {"pairsim": "0.1", "mesa": "3.5"},
        "seconds": {
            "check": 20.2,
            "posterior": 0.3,
            "wave 1": 41.5,
            "wave 10": 1.0,
            "wave 2": 39.0,
        },  # as JSON sorts: wave 10 before wave 2
        **(manifest_changes or {}),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_calibration_folder(tmp_path_factory.mktemp("calibration") / "calibrate-tiny")


@pytest.fixture(scope="module")
def page(folder) -> str:
    code, out, err = run_cli("report", folder)
    assert code == 0, err
    assert out.strip() == f"Report written to {folder / 'report.html'}"
    return (folder / "report.html").read_text(encoding="utf-8")


@pytest.fixture
def data(folder) -> report.CalibrationInput:
    return report.load_calibration_input(folder)


def section_titles(text: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", text)


def all_figures(data: report.CalibrationInput) -> list:
    return [figure for build in calibration_report.CALIBRATION_SECTIONS for figure, _ in build(data).figures]


# --------------------------------------------------------------------------- the page


def test_report_of_a_calibration_folder_has_its_six_sections(page):
    assert section_titles(page) == SECTIONS
    assert "<title>Calibration tiny_calibration – pairsim report</title>" in page
    assert len(FIGURE_DIV.findall(page)) == 7  # targets; acceptance, implausibility; marginals, pairs; contraction; validation


def test_report_is_self_contained_with_plotly_embedded_once(page):
    assert page.count("<script") == 1 + len(FIGURE_DIV.findall(page))  # the library, then one script per figure
    assert not re.search(r"<script[^>]*\ssrc=|<link\s", page)  # nothing loaded from elsewhere
    assert page.count('<p class="caption">Figure ') == 7


def test_text_from_the_calibration_is_escaped(page):
    assert EVIL not in page.replace(f"{EVIL!r}", "")  # never as markup
    assert html.escape(EVIL, quote=False) in page  # but shown: the description and the sources
    assert "寿光 calibration" in page


def test_overview_says_method_runs_time_versions_and_ess(data):
    overview = dict(data.overview)
    assert overview["Scenario"] == "small (scenarios/small.yaml)"
    assert overview["Parameters fitted"] == ", ".join(PRIORS)
    assert overview["Held-out patterns (never fitted)"] == "ratio_2008"
    assert "waves 2; design points a wave 10; seeds a point 2; implausibility cutoff 3.0" in overview["Method"]
    assert overview["Progress"] == "2 of 2 waves done, finished"
    assert overview["Runs"] == "60 finished"
    assert overview["Time"] == "wave 1 41.5 s, wave 2 39.0 s, wave 10 1.0 s, posterior 0.3 s, check 20.2 s; total 1.7 min"
    assert overview["Posterior"] == "200 equally weighted draws; effective sample size of the weighted candidates 812"
    assert overview["Package versions"] == "pairsim 0.1, mesa 3.5"


def test_every_figure_has_a_title_and_axis_labels(data):
    for figure in all_figures(data):
        layout = figure.layout
        assert layout.title.text, figure
        if figure.data[0].type == "splom":
            assert all(dimension.label for dimension in figure.data[0].dimensions)
            continue
        axes = [name for name in layout.to_plotly_json() if name.startswith(("xaxis", "yaxis"))]
        assert axes and all(layout[name].title.text for name in axes if name.startswith("xaxis")), layout.title.text
        assert layout.yaxis.title.text, layout.title.text


# --------------------------------------------------------------------------- targets and validation


def test_targets_figure_puts_each_observation_at_0_with_its_95_percent_bar(data, folder):
    figure, _ = calibration_report.targets_section(data).figures[0]
    check = pd.read_parquet(folder / "posterior_check.parquet")
    boxes = [trace for trace in figure.data if trace.type == "box"]
    assert [box.y[0] for box in boxes] == list(TARGETS)
    for box, (name, target) in zip(boxes, TARGETS.items(), strict=True):
        expected = (check[f"sim:{name}"] - target["observed"]) / sd_of(target)
        np.testing.assert_allclose(box.x, expected)
        np.testing.assert_allclose(box.customdata, check[f"sim:{name}"])  # hover gives the value itself
    observed = figure.data[-1]
    assert list(observed.x) == [0.0, 0.0] and observed.error_x.value == OBSERVED_95
    assert observed.text[0] == "observed 74.00 % ± 9.80 pp (95 %)"  # growth is a share; its spread in points
    assert observed.text[1] == "observed 1.900 ± 0.040 (95 %)"  # an interval [1.86, 1.94] is ±0.04


def test_targets_table_is_in_each_statistics_unit_and_says_inside_or_outside(data, folder):
    table = calibration_report.targets_section(data).table_html
    rows = pd.read_csv(folder / "targets.csv")
    growth = rows.iloc[0]
    assert "Rural income per capita, growth 2009→2013" in table or "growth 2009→2013" in table
    assert f"{100 * growth['median']:.2f} % [{100 * growth['low']:.2f} %, {100 * growth['high']:.2f} %]" in table
    assert "74.00 % (± 5.00 pp)" in table
    assert "1.900 (± 0.020)" in table
    assert table.count("inside") + table.count("<b>outside</b>") == 2
    assert html.escape(EVIL, quote=False) in table


def test_validation_scores_only_the_held_out_pattern(data, folder):
    section = calibration_report.validation_section(data)
    figure, caption = section.figures[0]
    assert [trace.y[0] for trace in figure.data if trace.type == "box"] == ["ratio_2008"]
    assert "never used in fitting" in caption
    row = pd.read_csv(folder / "validation.csv").iloc[0]
    assert f"{row['median']:.3f} [{row['low']:.3f}, {row['high']:.3f}]" in section.table_html
    assert ("inside" if row["inside"] else "<b>outside</b>") in section.table_html
    assert "<th>pattern</th>" in section.table_html


def test_a_calibration_without_held_out_patterns_says_so(tmp_path):
    folder = write_calibration_folder(tmp_path / "c", {"held_out": {}})
    section = calibration_report.validation_section(report.load_calibration_input(folder))
    assert not section.figures and "no held-out patterns" in section.note


# --------------------------------------------------------------------------- waves, parameters, identifiability


def test_acceptance_figure_gives_each_waves_plausible_share_and_nroy_fraction(data, folder):
    figure, _ = calibration_report.waves_section(data).figures[0]
    summary = pd.read_csv(folder / "wave_summary.csv")
    plausible, nroy = figure.data
    assert list(plausible.x) == ["wave 1", "wave 2"]
    np.testing.assert_allclose(plausible.y, summary["plausible_points"] / summary["points"])
    np.testing.assert_allclose(nroy.y, [0.31, 0.12])


def test_implausibility_figure_draws_every_point_with_the_cutoff_on_a_log_axis(data, folder):
    figure, caption = calibration_report.waves_section(data).figures[1]
    waves = pd.read_parquet(folder / "waves.parquet")
    for box, wave in zip(figure.data, (1, 2), strict=True):
        np.testing.assert_allclose(box.y, waves.loc[waves["wave"] == wave, "max_I"])
    assert [shape.y0 for shape in figure.layout.shapes] == [3.0]
    assert figure.layout.yaxis.type == "log"  # wave 1 is 40 times further off: values span more than two decades
    assert "cutoff (3, the three-sigma rule)" in caption


def test_emulator_table_gives_r2_and_length_scales(data):
    table = calibration_report.waves_section(data).table_html
    assert "<th>r2</th>" in table and f"<th>length-scale of {UNMOVED}</th>" in table
    assert "0.97" in table and "95" in table


def test_marginals_draw_each_prior_under_its_posterior(data, folder):
    figure = calibration_report.parameters_section(data).figures[0][0]
    posterior = pd.read_parquet(folder / "posterior.parquet")
    priors = [trace for trace in figure.data if trace.name == "prior"]
    posteriors = [trace for trace in figure.data if trace.name == "posterior"]
    assert len(priors) == len(posteriors) == 3
    for prior, drawn, (name, spec) in zip(priors, posteriors, PRIORS.items(), strict=True):
        assert spec["low"] <= min(prior.x) and max(prior.x) <= spec["high"]
        np.testing.assert_allclose(drawn.x, posterior[name])
        assert prior.histnorm == drawn.histnorm == "probability density"
    mode = prior_draws(Parameter.model_validate(PRIORS["economy.operating_cv"]))
    assert abs(np.median(mode) - 0.82) < 0.02  # the triangular prior drawn through its quantile function, not uniform
    assert [a.text for a in figure.layout.annotations] == list(PRIORS)


def test_pairs_figure_plots_every_pair_of_posterior_draws(data, folder):
    figure = calibration_report.parameters_section(data).figures[1][0]
    splom = figure.data[0]
    posterior = pd.read_parquet(folder / "posterior.parquet")
    assert [dimension.label for dimension in splom.dimensions] == list(PRIORS)
    np.testing.assert_allclose(splom.dimensions[0]["values"], posterior[next(iter(PRIORS))])


def test_a_parameter_that_moves_no_target_is_called_not_pinned_down(data):
    section = calibration_report.identifiability_section(data)
    assert section.note.startswith(f"{UNMOVED}: {NOT_PINNED}")
    rows = re.findall(r"<tr>(.*?)</tr>", section.table_html)[1:]
    verdicts = {re.search(r"<td>(.*?)</td>", row).group(1): row for row in rows}
    assert f"<b>{NOT_PINNED}</b>" in verdicts[UNMOVED]
    assert "identified" in verdicts["economy.farm_productivity_growth"]
    assert NOT_PINNED not in verdicts["economy.farm_productivity_growth"]
    bars = section.figures[0][0].data[0]
    assert list(bars.y) == list(PRIORS) and bars.marker.color[2] != bars.marker.color[0]


def test_a_prior_this_version_cannot_draw_shows_the_posterior_alone_and_says_so(tmp_path):
    priors = {**PRIORS, UNMOVED: {"distribution": "weibull", "low": 0.0, "high": 0.25, "shape": 2}}
    data = report.load_calibration_input(write_calibration_folder(tmp_path / "c", {"parameters": priors}))
    figure = calibration_report.parameters_section(data).figures[0][0]
    assert [trace.name for trace in figure.data].count("prior") == 2
    assert dict(data.overview)["Note"].endswith(UNMOVED)


# --------------------------------------------------------------------------- missing and damaged files


def test_a_calibration_stopped_after_wave_1_gets_notes_instead_of_missing_sections(tmp_path):
    folder = write_calibration_folder(tmp_path / "c", {"waves_done": 1, "finished": False})
    for name in ("posterior.parquet", "posterior_check.parquet", "targets.csv", "validation.csv", "identifiability.csv"):
        (folder / name).unlink()
    code, _, err = run_cli("report", folder)
    assert code == 0, err
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert section_titles(page) == SECTIONS
    assert len(FIGURE_DIV.findall(page)) == 2  # the waves' figures
    assert (
        "posterior.parquet is not in this folder (pairsim calibrate writes it once the last wave has finished; "
        "1 of 2 waves done, not finished: run pairsim calibrate again to go on)"
    ) in page
    assert "posterior_check.parquet is not in this folder" in page
    assert "Progress</th><td>1 of 2 waves done, not finished" in page


def test_a_calibration_that_found_no_plausible_parameters_says_why_it_stopped(tmp_path):
    why = "no parameter set reproduces the targets within cutoff: ratio_2013 is at least 4.2 sd off"
    folder = write_calibration_folder(tmp_path / "c", {"waves_done": 1, "finished": False, "stopped": why})
    for name in ("posterior.parquet", "identifiability.csv"):
        (folder / name).unlink()
    data = report.load_calibration_input(folder)
    assert dict(data.overview)["Progress"] == f"1 of 2 waves done, stopped: {why}"
    assert calibration_report.parameters_section(data).note.endswith(f"1 of 2 waves done, stopped: {why})")


@pytest.mark.parametrize(
    ("damage", "culprit", "expected"),
    [
        (lambda f: (f / "manifest.json").write_text("{not json", encoding="utf-8"), "manifest.json", "pairsim calibrate"),
        (lambda f: (f / "manifest.json").write_text("[1, 2]", encoding="utf-8"), "manifest.json", "holds an array"),
        (
            lambda f: (f / "manifest.json").write_text(json.dumps({"kind": "calibration", "targets": []})),
            "manifest.json",
            "targets: [] is not a JSON object",
        ),
        (
            lambda f: (f / "manifest.json").write_text(json.dumps({"kind": "calibration", "targets": {"t": {"observed": 1}}})),
            "manifest.json",
            "targets.t: lacks a statistic",
        ),
        (lambda f: (f / "waves.parquet").write_bytes(b"PAR1x"), "waves.parquet", "not a readable Parquet table"),
        (
            lambda f: pd.read_csv(f / "targets.csv").drop(columns="median").to_csv(f / "targets.csv", index=False),
            "targets.csv",
            "lacks column(s) median",
        ),
        (
            lambda f: (
                pd.read_parquet(f / "posterior_check.parquet")
                .drop(columns="sim:ratio_2008")
                .to_parquet(f / "posterior_check.parquet")
            ),
            "posterior_check.parquet",
            "lacks column(s) sim:ratio_2008",
        ),
    ],
)
def test_damaged_calibration_folders_give_one_line_and_exit_2(tmp_path, damage, culprit, expected):
    folder = write_calibration_folder(tmp_path / "c")
    damage(folder)
    code, out, err = run_cli("report", folder)
    assert code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{folder / culprit}: ") and expected in lines[0], err


def test_only_a_calibrations_manifest_makes_a_calibration_report(tmp_path, folder):
    assert report.is_calibration_folder(folder)
    experiment = tmp_path / "experiment"
    experiment.mkdir()
    (experiment / "manifest.json").write_text(json.dumps({"identity": "x", "runs": {}}), encoding="utf-8")
    assert not report.is_calibration_folder(experiment)
    (experiment / "manifest.json").write_text("{not json", encoding="utf-8")
    assert not report.is_calibration_folder(experiment)  # a damaged experiment's manifest keeps the experiment's error
    code, _, err = run_cli("report", experiment)
    assert code == 2 and "pairsim compare or sweep" in err


def test_summarize_of_a_calibration_folder_prints_its_saved_summary_or_says_it_is_missing(tmp_path):
    calibration = write_calibration_folder(tmp_path / "c")
    code, out, err = run_cli("summarize", calibration)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"{calibration / 'calibration.md'}: missing; a calibration saves its summary when it finishes")
    (calibration / "calibration.md").write_text("# Calibration tiny\n\nTargets: ...\n", encoding="utf-8")
    code, out, err = run_cli("summarize", calibration)
    assert (code, out, err) == (0, "# Calibration tiny\n\nTargets: ...\n", "")


@pytest.mark.parametrize("make", [lambda tmp: tmp / "missing", lambda tmp: tmp], ids=["missing", "empty"])
def test_a_folder_of_no_kind_is_refused_naming_calibrate_among_the_commands_that_write_one(tmp_path, make):
    code, out, err = run_cli("report", make(tmp_path))
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "calibrate" in line and "compare" in line, line


# --------------------------------------------------------------------------- a real calibration


QUICK_CALIBRATION = {
    "name": "small_quick",
    "description": f"quick {EVIL} check of the report",
    "scenario": str(SMALL),
    "seed": 7,
    "parameters": {
        "economy.farm_productivity_growth": {"low": 0.05, "high": 0.15},
        "pairing.effects.training_gain": {"distribution": "triangular", "low": 0.0, "high": 0.25, "mode": 0.1},
    },
    "targets": {
        "rural_growth": {
            "statistic": {"outcome": "rural_income_pc", "year": 2011, "kind": "growth", "from_year": 2009},
            "observed": 0.25,
            "sd": 0.05,
            "source": f"assumption {EVIL}",
        },
        "ratio_2011": {
            "statistic": {"outcome": "urban_rural_ratio", "year": 2011},
            "observed": 2.0,
            "interval": [1.8, 2.2],
            "source": "assumption",
        },
    },
    "held_out": {
        "ratio_2012": {
            "statistic": {"outcome": "urban_rural_ratio", "year": 2012},
            "observed": 2.0,
            "sd": 0.1,
            "source": "assumption",
        }
    },
    "method": {
        "waves": 2,
        "points_per_wave": 6,
        "seeds": 1,
        "candidates": 2000,
        "posterior_size": 100,
        "posterior_candidates": 2000,
        "check_draws": 4,
    },
}
"""A calibration of scenarios/small.yaml small enough for a test (16 runs of 2-3 years, about 40 s on one core)."""


@pytest.mark.slow
def test_report_of_a_real_calibration_of_small_yaml(tmp_path):
    path = tmp_path / "small_quick.yaml"
    path.write_text(yaml.safe_dump(QUICK_CALIBRATION, allow_unicode=True), encoding="utf-8")
    code, _, err = run_cli("calibrate", path, "--workers", "1", "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    assert "pairsim report" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8"), "calibrate writes its report"
    code, out, err = run_cli("report", tmp_path / "out")  # and pairsim report writes it again, the same way
    assert code == 0 and out.strip() == f"Report written to {tmp_path / 'out' / 'report.html'}", err
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert section_titles(page) == SECTIONS
    assert len(FIGURE_DIV.findall(page)) == 7
    assert "is not in this folder" not in page  # every table was there to draw
    assert EVIL not in page and html.escape(EVIL, quote=False) in page
    data = report.load_calibration_input(tmp_path / "out")
    assert dict(data.overview)["Progress"] == "2 of 2 waves done, finished"
    assert dict(data.overview)["Runs"] == "16 finished"
    marginals = calibration_report.parameters_section(data).figures[0][0]
    assert [trace.name for trace in marginals.data] == ["prior", "posterior"] * 2
    identifiability = calibration_report.identifiability_section(data).table_html
    assert identifiability.count("<tr>") == 3  # header and one row per parameter


# --------------------------------------------------------------------------- in a real browser


@pytest.mark.slow
def test_calibration_report_renders_in_headless_chromium_without_errors(page, folder, chromium, tmp_path):
    chromium.get((folder / "report.html").as_uri())
    measure = (
        "return Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => {"
        "  const box = div.getBoundingClientRect();"
        "  return [div.id, box.width, box.height, div.querySelectorAll('.main-svg').length]; })"
    )
    deadline = time.monotonic() + 30  # Plotly.newPlot draws asynchronously after the load event
    while (sizes := chromium.execute_script(measure)) and not all(svgs for *_, svgs in sizes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(sizes) == len(FIGURE_DIV.findall(page)) == 7
    for figure, width, height, svgs in sizes:
        assert width > 0 and height > 0 and svgs > 0, f"{figure} did not render: {width}x{height}, {svgs} svg"
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    assert chromium.execute_script("return document.title") == "Calibration tiny_calibration – pairsim report"
    assert EVIL in chromium.execute_script("return document.body.innerText")  # shown as text, never run
    screenshot = tmp_path / "calibration.png"
    assert chromium.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
