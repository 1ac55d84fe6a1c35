"""Calibrate, then compare under the posterior, end to end through the command line (issue 13).

A quick calibration of scenarios/small.yaml (two parameters, two targets, a one-year horizon, 2 waves x 6 points, one
seed) writes its posterior sample and its report; an experiment of two of small.yaml's policy arms then reads that
posterior.parquet with ``parameters: {posterior, draws: 3}`` and 6 replications. ``pairsim compare``, ``summarize`` and
``report`` of that experiment must carry each draw's values into the runs, pair the arms by draw and seed, split the
effects' intervals into parameters and noise, and say whether the ranking holds. Each command is the one a user types.
A calibration whose targets no parameter set reaches still writes its report, which says why it stopped.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import SMALL_SCENARIO, run_cli

from sim.experiment import BASELINE
from sim.report.calibration import RANGES_SAID
from sim.results import load_results

FARM_GROWTH = "economy.farm_productivity_growth"
URBAN_WAGE_GROWTH = "urban.wage_growth"
DRAWS = 3
SEEDS_PER_DRAW = 2
ARMS = {"city_village": {"policies": ["部门+村"]}, "everything": {"policies": "all"}}

CALIBRATION: dict[str, Any] = {
    "name": "small_e2e",
    "description": "end-to-end test: small.yaml's farm and urban wage growth from its 2010 rural growth and ratio",
    "scenario": str(SMALL_SCENARIO),
    "seed": 5,
    "parameters": {FARM_GROWTH: {"low": 0.06, "high": 0.20}, URBAN_WAGE_GROWTH: {"low": 0.05, "high": 0.20}},
    "targets": {
        "rural_growth": {
            "statistic": {"outcome": "rural_income_pc", "year": 2010, "kind": "growth", "from_year": 2009},
            "observed": 0.14,
            "sd": 0.004,
            "source": "assumption: a test value near small.yaml's own",
        },
        "ratio": {
            "statistic": {"outcome": "urban_rural_ratio", "year": 2010},
            "observed": 2.08,
            "sd": 0.02,
            "source": "assumption: a test value near small.yaml's own",
        },
    },
    "method": {"candidates": 2000, "posterior_size": 50, "posterior_candidates": 2000},
}
"""Targets small.yaml reaches inside the priors (the values test_calibration.py recovers), so the waves never stop."""

QUICK = ("--workers", 1, "--waves", 2, "--points", 6, "--seeds", 1, "--check-draws", DRAWS)
"""The quick-trial options: 12 design runs and 3 posterior-check runs of one year each."""


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> dict[str, Any]:
    """Calibrate, compare under the posterior, summarize and report, once; each step's folder and output."""
    folder = tmp_path_factory.mktemp("e2e")
    calibration_dir = folder / "calibrate-small_e2e"
    code, _, calibrate_err = run_cli(
        "calibrate", write_yaml(folder / "calibration.yaml", CALIBRATION), *QUICK, "--out", calibration_dir
    )
    assert code == 0, calibrate_err
    experiment = {
        "name": "small_e2e_posterior",
        "scenarios": [str(SMALL_SCENARIO)],
        "seed": 11,
        "replications": DRAWS * SEEDS_PER_DRAW,
        "horizon_years": 1,
        "arms": ARMS,
        "parameters": {"posterior": "calibrate-small_e2e/posterior.parquet", "draws": DRAWS},  # relative to the file
    }
    experiment_file = write_yaml(folder / "experiment.yaml", experiment)
    compared = folder / "compared"
    code, _, err = run_cli("compare", experiment_file, "--workers", 1, "--out", compared, "--quiet")
    assert code == 0, err
    code, summary, err = run_cli("summarize", compared)
    assert code == 0, err
    report_file = folder / "posterior_report.html"
    code, said, err = run_cli("report", compared, "-o", report_file)
    assert code == 0, err
    return {
        "calibration": calibration_dir,
        "calibrate_err": calibrate_err,
        "compared": compared,
        "summary": summary,
        "report_said": said,
        "report_file": report_file,
    }


@pytest.mark.slow
def test_calibrate_writes_its_report_and_says_where(chain):
    report = chain["calibration"] / "report.html"
    assert f"Report written to {report}" in chain["calibrate_err"]
    page = report.read_text(encoding="utf-8")
    for title in ("Targets", "Identifiability", "Validation"):
        assert f"<h2>{title}</h2>" in page
    assert RANGES_SAID in page, "the calibration report's page, not the experiment's"


@pytest.mark.slow
def test_summarize_of_the_calibration_prints_its_summary(chain):
    code, out, err = run_cli("summarize", chain["calibration"])
    assert code == 0, err
    assert out == (chain["calibration"] / "calibration.md").read_text(encoding="utf-8")
    assert "rural_growth" in out and "ratio" in out


@pytest.mark.slow
def test_the_runs_carry_each_posterior_draw_and_its_values(chain):
    posterior = pd.read_parquet(chain["calibration"] / "posterior.parquet").set_index("draw")
    results = load_results(chain["compared"])
    assert sorted(results["draw"].unique()) == list(range(DRAWS))
    assert (results["draw"] == results["replication"] % DRAWS).all()
    for name in (FARM_GROWTH, URBAN_WAGE_GROWTH):
        expected = posterior.loc[results["draw"], name].to_numpy()
        assert (results[f"param:{name}"].to_numpy() == expected).all(), name
    assert results.groupby("draw")[f"param:{FARM_GROWTH}"].nunique().eq(1).all()


@pytest.mark.slow
def test_every_arm_of_a_replication_runs_the_same_draw_and_seed(chain):
    results = load_results(chain["compared"])
    runs = results.drop_duplicates("run_id")
    assert set(runs["arm"]) == {BASELINE, *ARMS}
    for replication, group in runs.groupby("replication"):
        assert len(group) == 1 + len(ARMS), replication
        assert len(group[["draw", "seed"]].drop_duplicates()) == 1, replication
    assert runs.drop_duplicates("replication")["seed"].nunique() == DRAWS * SEEDS_PER_DRAW, "each replication its own seed"


@pytest.mark.slow
def test_summarize_splits_the_intervals_and_judges_the_ranking(chain):
    summary = chain["summary"]
    assert f"over {DRAWS} posterior draws x {SEEDS_PER_DRAW} seeds" in summary
    assert "± parameters" in summary and "± noise" in summary
    assert "keeps rank" in summary and "holds" in summary


@pytest.mark.slow
def test_report_of_the_posterior_comparison_is_written(chain):
    assert chain["report_said"].strip() == f"Report written to {chain['report_file']}"
    page = chain["report_file"].read_text(encoding="utf-8")
    assert "Parameter uncertainty and the ranking of arms" in page
    assert f"{DRAWS} posterior draws from posterior.parquet" in page


@pytest.mark.slow
def test_a_calibration_that_stops_still_writes_its_report_saying_why(tmp_path):
    unreachable = copy.deepcopy(CALIBRATION)
    unreachable["targets"]["ratio"]["observed"] = 9.0  # small.yaml's ratio is about 2
    path = write_yaml(tmp_path / "calibration.yaml", unreachable)
    out_dir = tmp_path / "out"
    code, out, err = run_cli("calibrate", path, "--workers", 1, "--waves", 2, "--points", 4, "--seeds", 1, "--out", out_dir)
    assert code == 1 and out == "", err
    assert f"Report written to {out_dir / 'report.html'}" in err
    page = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "1 of 2 waves done, stopped: no parameter set reproduces the targets within cutoff 3" in page
