"""Calibration files, target statistics, and ``pairsim calibrate`` end to end (issue 13).

The end-to-end tests calibrate scenarios/small.yaml with quick settings and a one-year horizon (a run takes about
0.3 s): parameter recovery from synthetic observations made by the model at known values, an interrupted calibration
that resumes to the same results, a process pool that gives the same posterior as one process, and held-out patterns
that change nothing in the fit.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import SMALL_SCENARIO, run_cli

from sim import execute
from sim.calibration import history_matching as hm
from sim.calibration import load_calibration, run_calibration
from sim.calibration.outputs import POSTERIOR_METADATA_KEY, pattern_table
from sim.calibration.spec import Statistic, Target, identity
from sim.calibration.statistics import StatisticError, evaluate, horizon_years, outcomes_needed
from sim.errors import InputError
from sim.execute import SerialExecutor, make_executor, run_one
from sim.experiment import Parameter, RunSpec, replication_seeds

FARM_GROWTH = "economy.farm_productivity_growth"
URBAN_WAGE_GROWTH = "urban.wage_growth"
LATER_FARM_GROWTH = "trend_periods.0.economy.farm_productivity_growth"
"""small.yaml's farm productivity growth from 2014 on (its first trend period). A calibration whose targets end in 2010
runs to 2010 only, and the period's rates take over in January 2014, so no run ever reads this value: every statistic
is the same function of the seed whatever it is. The targets cannot identify it."""

GROWTH_2010 = {"outcome": "rural_income_pc", "year": 2010, "kind": "growth", "from_year": 2009}
RATIO_2010 = {"outcome": "urban_rural_ratio", "year": 2010}


def calibration_data(**method: int) -> dict:
    """A valid calibration of small.yaml: two influential parameters and one without influence, two targets, one
    held-out pattern, quick settings (``method`` changes them)."""
    return {
        "name": "small_quick",
        "description": "test calibration",
        "scenario": str(SMALL_SCENARIO),
        "seed": 7,
        "parameters": {
            FARM_GROWTH: {"low": 0.06, "high": 0.20},
            URBAN_WAGE_GROWTH: {"low": 0.05, "high": 0.20},
            LATER_FARM_GROWTH: {"low": 0.0, "high": 0.2},
        },
        "targets": {
            "rural_growth": {"statistic": dict(GROWTH_2010), "observed": 0.14, "sd": 0.004, "source": "assumption: a test"},
            "ratio": {"statistic": dict(RATIO_2010), "observed": 2.08, "sd": 0.02, "source": "assumption: a test"},
        },
        "held_out": {
            "gini": {"statistic": {"outcome": "gini_rural", "year": 2010}, "observed": 0.31, "sd": 0.01, "source": "assumption"},
        },
        "method": {
            "waves": 2,
            "points_per_wave": 8,
            "seeds": 1,
            "candidates": 2000,
            "posterior_size": 100,
            "posterior_candidates": 2000,
            "check_draws": 4,
            **method,
        },
    }


def write_calibration(folder: Path, data: dict, name: str = "calibration.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def changed(data: dict, dotted: str, value) -> dict:
    """A deep copy of ``data`` with one key set (dots separate keys, or '|' when a key holds dots, as parameter paths
    do; ``None`` removes the key)."""
    data = copy.deepcopy(data)
    *parents, last = dotted.split("|") if "|" in dotted else dotted.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is None:
        target.pop(last)
    else:
        target[last] = value
    return data


# --------------------------------------------------------------------------- bad calibration files


BAD_FILES = [
    (
        "targets.ratio.statistic.outcome",
        "urban_rurall_ratio",
        "targets.ratio.statistic.outcome",
        "did you mean 'urban_rural_ratio'",
    ),
    ("targets.ratio.statistic.year", 2031, "targets.ratio.statistic.year", "2031 is outside the scenario's years 2009-2019"),
    ("targets.ratio.interval", [2.0, 2.1], "targets.ratio", "give exactly one of 'sd' and 'interval'"),
    ("targets.ratio.statistic.from_year", 2009, "targets.ratio.statistic", "from_year belongs to a change or a growth"),
    ("targets.rural_growth.statistic.from_year", None, "targets.rural_growth.statistic", "a growth needs from_year"),
    ("targets.rural_growth.statistic.from_year", 2011, "targets.rural_growth.statistic", "from_year must come before year"),
    ("targets.ratio.source", "  ", "targets.ratio", "source must say where the observed value comes from"),
    ("targets.ratio.sd", -0.1, "targets.ratio.sd", "must be a positive number, got -0.1"),
    (f"parameters|{FARM_GROWTH}", {"low": 0.2, "high": 0.1}, f"parameters.{FARM_GROWTH}", "low must be below high"),
    (
        f"parameters|{FARM_GROWTH}",
        {"distribution": "loguniform", "low": 0.0, "high": 0.2},
        f"parameters.{FARM_GROWTH}",
        "a loguniform distribution needs low > 0",
    ),
    (f"parameters|{FARM_GROWTH}", {"values": [0.1, 0.2]}, f"parameters.{FARM_GROWTH}", "not a list of values"),
    (
        "parameters|economy.farm_productivty_growth",
        {"low": 0.1, "high": 0.2},
        "parameters.economy.farm_productivty_growth",
        "unknown",
    ),
    (f"parameters|{URBAN_WAGE_GROWTH}", {"low": 0.1, "high": 5.0}, f"parameters.{URBAN_WAGE_GROWTH}", "less than or equal to 1"),
    ("held_out.ratio", {"statistic": dict(RATIO_2010), "observed": 2.0, "sd": 0.1, "source": "x"}, "held_out.ratio", "not both"),
    ("method.check_draws", 500, "method.check_draws", "check_draws (500) cannot exceed posterior_size (100)"),
    ("method.points_per_wave", 2, "method.points_per_wave", "a wave needs at least 3 points to fit each target's emulator"),
    ("method.wavs", 2, "method.wavs", "did you mean 'waves'"),
    ("scenario", "no_such_scenario.yaml", "scenario", "file not found"),
]


@pytest.mark.parametrize(
    ("key", "value", "field", "message"), BAD_FILES, ids=[case[0] + str(i) for i, case in enumerate(BAD_FILES)]
)
def test_a_bad_calibration_file_is_one_line_naming_file_and_field_exit_2(tmp_path, key, value, field, message):
    path = write_calibration(tmp_path, changed(calibration_data(), key, value))
    code, out, err = run_cli("calibrate", path, "--out", tmp_path / "out", "--quiet")
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}: {field}"), err
    assert message in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "runs").exists()


def test_a_missing_calibration_file_is_one_line(tmp_path):
    code, _, err = run_cli("calibrate", tmp_path / "nowhere.yaml")
    assert code == 2
    assert err.strip() == f"{tmp_path / 'nowhere.yaml'}: calibration file not found"


def test_an_interval_gives_the_observation_sd_and_the_scenario_path_is_resolved(tmp_path):
    data = changed(calibration_data(), "targets.ratio.sd", None)
    data = changed(data, "targets.ratio.interval", [2.0, 2.392])
    data["scenario"] = "../scenarios/small.yaml"
    folder = tmp_path / "calibrations"
    folder.mkdir()
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "small.yaml").write_text(SMALL_SCENARIO.read_text(encoding="utf-8"), encoding="utf-8")
    calibration = load_calibration(write_calibration(folder, data))
    assert calibration.targets["ratio"].observation_sd == pytest.approx(0.1)
    assert calibration.scenario == str((tmp_path / "scenarios" / "small.yaml").resolve())
    assert calibration.arms == ("pairing",)


def test_an_effect_target_adds_the_baseline_arm(tmp_path):
    data = changed(calibration_data(), "targets.ratio.statistic.effect", "absolute")
    assert load_calibration(write_calibration(tmp_path, data)).arms == ("pairing", "baseline")
    held = changed(calibration_data(), "held_out.gini.statistic.effect", "relative")
    calibration = load_calibration(write_calibration(tmp_path, held))
    assert (calibration.arms, calibration.check_arms) == (("pairing",), ("pairing", "baseline"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--check-draws", 101), "--check-draws: check_draws (101) cannot exceed posterior_size (100)"),
        (("--points", 2), "--points: a wave needs at least 3 points to fit each target's emulator on, got 2"),
        (
            ("--waves", 1, "--points", 2, "--seeds", 1),
            "--points: a wave needs at least 3 points to fit each target's emulator on, got 2",
        ),
    ],
)
def test_quick_trial_settings_are_validated_again_naming_the_option(tmp_path, options, message):
    path = write_calibration(tmp_path, calibration_data())
    code, _, err = run_cli("calibrate", path, *options, "--out", tmp_path / "out")
    assert code == 2
    assert err.strip() == message
    assert not (tmp_path / "out" / "runs").exists()


# --------------------------------------------------------------------------- priors


def test_loguniform_prior_is_uniform_in_the_logarithm():
    prior = Parameter(distribution="loguniform", low=0.01, high=1.0)
    assert prior.from_unit(np.array([0.0, 0.5, 1.0])) == pytest.approx([0.01, 0.1, 1.0])
    with pytest.raises(ValueError, match="low > 0"):
        Parameter(distribution="loguniform", low=-1.0, high=1.0)


# --------------------------------------------------------------------------- statistics on hand-made tables


def runs_table() -> pd.DataFrame:
    """Two seeds x two arms x years 2009-2011 of one outcome; pairing adds 10 % on top of the baseline from 2010."""
    rows = []
    for replication, base in enumerate((100.0, 200.0)):
        for year, growth in ((2009, 1.0), (2010, 1.5), (2011, 2.0)):
            rows.append({"arm": "baseline", "point": 0, "replication": replication, "year": year, "x": base * growth})
            uplift = 1.1 if year > 2009 else 1.0
            rows.append({"arm": "pairing", "point": 0, "replication": replication, "year": year, "x": base * growth * uplift})
    return pd.DataFrame(rows).rename(columns={"x": "rural_income_pc"})


def statistic(**fields) -> Statistic:
    return Statistic.model_validate({"outcome": "rural_income_pc", **fields})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"year": 2011}, [220.0, 440.0]),
        ({"year": 2011, "kind": "change", "from_year": 2009}, [120.0, 240.0]),
        ({"year": 2011, "kind": "growth", "from_year": 2009}, [1.2, 1.2]),
        ({"year": 2011, "effect": "absolute"}, [20.0, 40.0]),
        ({"year": 2011, "effect": "relative"}, [0.1, 0.1]),
        ({"year": 2011, "kind": "change", "from_year": 2010, "effect": "absolute"}, [5.0, 10.0]),
        ({"year": 2011, "kind": "growth", "from_year": 2009, "effect": "absolute"}, [0.2, 0.2]),
    ],
)
def test_statistics_from_hand_made_tables(fields, expected):
    values = evaluate({"s": statistic(**fields)}, runs_table(), ["point", "replication"])
    assert values["s"].to_numpy() == pytest.approx(expected)
    assert list(values.index) == [(0, 0), (0, 1)]


def test_a_statistic_says_which_year_is_missing():
    with pytest.raises(StatisticError, match="s: needs rural_income_pc in 2012, but the pairing runs report only 2009-2011"):
        evaluate({"s": statistic(year=2012)}, runs_table(), ["point", "replication"])
    no_baseline = runs_table().query("arm == 'pairing'")
    with pytest.raises(StatisticError, match="no baseline runs"):
        evaluate({"s": statistic(year=2011, effect="absolute")}, no_baseline, ["point", "replication"])


def test_the_horizon_is_the_shortest_that_reports_every_year_needed():
    # run_one labels step 12k with year start_year + k, so a horizon of h years reports start_year..start_year + h
    assert horizon_years([statistic(year=2010)], 2009) == 1
    assert horizon_years([statistic(year=2009)], 2009) == 1  # a run steps at least one year
    assert horizon_years([statistic(year=2010), statistic(year=2013, kind="growth", from_year=2009)], 2009) == 4
    assert outcomes_needed([statistic(year=2010), Statistic(outcome="gini", year=2010), statistic(year=2011)]) == (
        "rural_income_pc",
        "gini",
    )
    spec = RunSpec(
        "r",
        str(SMALL_SCENARIO),
        "pairing",
        0,
        0,
        1,
        overrides={"horizon_years": 1},
        keep_policies=(),
        outcomes=("rural_income_pc",),
    )
    assert list(run_one(spec)["year"]) == [2009, 2010]


# --------------------------------------------------------------------------- end to end


def calibrate(folder: Path, data: dict, workers: int = 1) -> Path:
    """Run a calibration file written from ``data`` into ``folder``/out and return that results folder."""
    path = write_calibration(folder, data)
    out = folder / "out"
    with make_executor(workers) as executor:
        report = run_calibration(load_calibration(path), path, out, executor, progress=False)
    assert report.complete, (report.failed, report.stopped)
    return out


def tables(out: Path) -> dict[str, pd.DataFrame]:
    """The tables the fit produces (the check runs on fresh seeds; its tables are compared separately)."""
    return {name: pd.read_parquet(out / name) for name in ("waves.parquet", "posterior.parquet", "posterior_check.parquet")}


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> Path:
    """One quick calibration of small.yaml, run in this process."""
    return calibrate(tmp_path_factory.mktemp("quick"), calibration_data())


@pytest.mark.slow
def test_the_results_folder_holds_every_file_in_its_format(quick):
    waves = pd.read_parquet(quick / "waves.parquet")
    assert len(waves) == 16 and set(waves["wave"]) == {1, 2}
    for column in ["point", FARM_GROWTH, f"u:{FARM_GROWTH}", "sim:ratio", "var:ratio", "I:ratio", "max_I", "plausible"]:
        assert column in waves.columns
    assert waves["var:ratio"].isna().all()  # one seed: no within-point variance
    posterior = pq.read_table(quick / "posterior.parquet")
    frame = posterior.to_pandas()
    assert list(frame["draw"]) == list(range(100))
    assert frame["weight"].to_numpy() == pytest.approx(np.full(100, 0.01))
    record = yaml.safe_load(posterior.schema.metadata[POSTERIOR_METADATA_KEY])
    assert record["calibration"] == "small_quick" and record["scenario"] == "small.yaml" and record["ess"] > 0
    check = pd.read_parquet(quick / "posterior_check.parquet")
    assert list(check.columns) == [
        "draw",
        FARM_GROWTH,
        URBAN_WAGE_GROWTH,
        LATER_FARM_GROWTH,
        "sim:rural_growth",
        "sim:ratio",
        "sim:gini",
    ]
    pd.testing.assert_frame_equal(check[["draw", FARM_GROWTH]], frame[["draw", FARM_GROWTH]].head(4))
    targets = pd.read_csv(quick / "targets.csv")
    assert list(targets["target"]) == ["rural_growth", "ratio"]
    assert list(targets.columns) == ["target", "observed", "sd", "year", "source", "median", "low", "high", "inside", "z"]
    assert list(pd.read_csv(quick / "validation.csv")["pattern"]) == ["gini"]
    summary = pd.read_csv(quick / "wave_summary.csv")
    assert list(summary.columns) == ["wave", "points", "runs", "plausible_points", "nroy_fraction", "cutoff", "seconds"]
    diagnostics = pd.read_csv(quick / "emulator_diagnostics.csv")
    assert list(diagnostics.columns) == [
        "target",
        "r2",
        *[f"ls:{name}" for name in (FARM_GROWTH, URBAN_WAGE_GROWTH, LATER_FARM_GROWTH)],
    ]
    identifiability = pd.read_csv(quick / "identifiability.csv")
    assert list(identifiability["parameter"]) == [FARM_GROWTH, URBAN_WAGE_GROWTH, LATER_FARM_GROWTH]
    assert (identifiability["posterior_low"] >= identifiability["prior_low"]).all()
    manifest = yaml.safe_load((quick / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "calibration" and manifest["finished"] and manifest["waves_done"] == 2
    assert sorted(manifest["runs"]) == sorted(
        [f"w{w}__p{p:04d}__pairing__r000" for w in (1, 2) for p in range(8)] + [f"check__d{d:04d}__pairing" for d in range(4)]
    )
    assert "## Held-out patterns (never fitted)" in (quick / "calibration.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_an_interrupted_calibration_resumes_to_the_same_results(quick, tmp_path, monkeypatch):
    calls = []
    original = execute.run_one

    def interrupted_in_wave_two(spec):
        calls.append(spec.run_id)
        if spec.run_id == "w2__p0003__pairing__r000":
            raise KeyboardInterrupt
        return original(spec)

    path = write_calibration(tmp_path, calibration_data())
    with monkeypatch.context() as patch:
        patch.setattr(execute, "run_one", interrupted_in_wave_two)
        report = run_calibration(load_calibration(path), path, tmp_path / "out", SerialExecutor(), progress=False)
    assert report.interrupted and report.waves_done == 1
    assert not (tmp_path / "out" / "posterior.parquet").exists()
    calls.clear()
    with monkeypatch.context() as patch:
        patch.setattr(execute, "run_one", lambda spec: calls.append(spec.run_id) or original(spec))
        report = run_calibration(load_calibration(path), path, tmp_path / "out", SerialExecutor(), progress=False)
    assert report.complete
    assert calls[:5] == [f"w2__p{p:04d}__pairing__r000" for p in range(3, 8)]  # only what was missing
    for name, table in tables(quick).items():
        pd.testing.assert_frame_equal(table, tables(tmp_path / "out")[name], check_exact=True, obj=name)


@pytest.mark.slow
def test_check_runs_of_another_posterior_are_refused_on_resume(quick, tmp_path, monkeypatch):
    """The posterior is recomputed on resume; if it differs (another library version's fit), the check runs on disk
    were made at other parameter values and must not be scored against the new rows."""
    out = tmp_path / "out"
    shutil.copytree(quick, out)
    path = write_calibration(tmp_path, calibration_data())
    original = hm.posterior_sample

    def another_posterior(*args, **kwargs):
        sample = original(*args, **kwargs)
        return dataclasses.replace(sample, u=sample.u[::-1].copy())

    monkeypatch.setattr(hm, "posterior_sample", another_posterior)
    with pytest.raises(InputError, match="the posterior check's design differs from the one its saved runs were made with"):
        run_calibration(load_calibration(path), path, out, SerialExecutor(), progress=False)


SAME_RUNS = [
    ("description", "described again"),
    ("targets.ratio.source", "assumption: a corrected source"),
    ("held_out.gini.observed", 0.9),
    ("held_out.gini.sd", 0.05),
    ("held_out.gini.source", "[Xiuzhou 2009] a figure"),
]
OTHER_RUNS_OR_FIT = [
    ("seed", 8),
    ("targets.ratio.observed", 2.1),
    ("targets.ratio.sd", 0.03),
    ("targets.ratio.statistic.year", 2011),
    ("held_out.gini.statistic.year", 2011),
    (f"parameters|{FARM_GROWTH}", {"low": 0.06, "high": 0.21}),
    ("method.cutoff", 2.5),
]


def test_the_identity_changes_with_what_changes_runs_or_fit_and_nothing_else(tmp_path):
    """A folder is reused exactly when its runs and fit still answer the file: words and held-out observations do not
    change them (a rerun rewrites the tables that show them); statistics, observations fitted, priors, seed and
    method do."""
    reference = identity(load_calibration(write_calibration(tmp_path, calibration_data())))
    for key, value in SAME_RUNS:
        assert identity(load_calibration(write_calibration(tmp_path, changed(calibration_data(), key, value)))) == reference, key
    for key, value in OTHER_RUNS_OR_FIT:
        assert identity(load_calibration(write_calibration(tmp_path, changed(calibration_data(), key, value)))) != reference, key
    reordered = calibration_data()
    reordered["parameters"] = dict(reversed(reordered["parameters"].items()))  # the cube's axes map to other parameters
    assert identity(load_calibration(write_calibration(tmp_path, reordered))) != reference


@pytest.mark.slow
def test_a_finished_folder_reruns_nothing_and_rewrites_its_tables_when_only_words_or_held_out_values_change(
    quick, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    shutil.copytree(quick, out)
    data = calibration_data()
    for key, value in SAME_RUNS:
        data = changed(data, key, value)
    path = write_calibration(tmp_path, data)
    calls = []
    original = execute.run_one
    monkeypatch.setattr(execute, "run_one", lambda spec: calls.append(spec.run_id) or original(spec))
    report = run_calibration(load_calibration(path), path, out, SerialExecutor(), progress=False)
    assert report.complete and calls == [] and report.already_done == 20
    for name, table in tables(quick).items():
        pd.testing.assert_frame_equal(table, tables(out)[name], check_exact=True, obj=name)
    assert pd.read_csv(out / "targets.csv")["source"].tolist() == ["assumption: a test", "assumption: a corrected source"]
    validation, before = pd.read_csv(out / "validation.csv"), pd.read_csv(quick / "validation.csv")
    assert (validation["observed"].item(), validation["sd"].item()) == (0.9, 0.05)
    assert validation["median"].item() == before["median"].item() and validation["z"].item() != before["z"].item()
    assert "0.9 ± 0.05" in (out / "calibration.md").read_text(encoding="utf-8")
    assert yaml.safe_load((out / "manifest.json").read_text(encoding="utf-8"))["description"] == "described again"


def test_pattern_scores_leave_out_values_that_are_not_finite_and_say_how_many():
    """One infinite check value (a ratio over a zero) would make the interval infinite and z zero: a perfect fit in
    appearance."""
    ratio = Target(statistic=Statistic(**RATIO_2010), observed=2.0, sd=0.1, source="assumption")
    check = pd.DataFrame({"sim:ratio": [1.9, 2.0, 2.1, np.inf, np.nan, -np.inf]})
    table, notes = pattern_table({"ratio": ratio}, check, "target")
    row = table.iloc[0]
    assert row["median"] == pytest.approx(2.0) and 1.9 < row["low"] < row["high"] < 2.1
    assert row["z"] == pytest.approx(0.0) and bool(row["inside"])
    assert notes == ["target ratio: 3 of 6 posterior-check runs gave no finite value (left out of its median, interval and z)"]
    skewed = pd.DataFrame({"sim:ratio": [2.2, 2.3, 2.4, np.inf]})
    table, notes = pattern_table({"ratio": ratio}, skewed, "pattern")
    assert np.isfinite(table.iloc[0][["median", "low", "high", "z"]].astype(float)).all() and table.iloc[0]["z"] > 2
    assert notes == ["pattern ratio: 1 of 4 posterior-check runs gave no finite value (left out of its median, interval and z)"]
    assert pattern_table({"ratio": ratio}, pd.DataFrame({"sim:ratio": [1.9, 2.1]}), "target")[1] == []


@pytest.mark.slow
def test_held_out_patterns_change_nothing_in_the_fit(quick, tmp_path):
    data = changed(calibration_data(), "held_out.gini.observed", 0.9)
    other = calibrate(tmp_path, data)
    for name in ("waves.parquet", "posterior.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(quick / name), pd.read_parquet(other / name), check_exact=True)
    assert pd.read_csv(other / "validation.csv")["observed"].tolist() == [0.9]


@pytest.mark.slow
def test_a_process_pool_gives_the_posterior_of_one_process(quick, tmp_path):
    pooled = calibrate(tmp_path, calibration_data(), workers=2)
    for name, table in tables(quick).items():
        pd.testing.assert_frame_equal(table, tables(pooled)[name], check_exact=True, obj=name)


@pytest.mark.slow
def test_a_folder_of_other_settings_is_refused(quick, tmp_path):
    path = write_calibration(tmp_path, calibration_data())
    code, _, err = run_cli("calibrate", path, "--out", quick, "--waves", 3, "--quiet")
    assert code == 2
    assert err.strip().startswith(f"{quick}: manifest.json: holds results of calibration 'small_quick' with other settings")


def test_an_experiment_into_a_calibration_folder_is_refused_naming_the_calibration(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(
        '{"kind": "calibration", "calibration": "small_quick", "identity": "x", "runs": {}}', encoding="utf-8"
    )
    experiment = SMALL_SCENARIO.parents[1] / "experiments" / "small_comparison.yaml"
    code, _, err = run_cli("compare", experiment, "--out", out, "--workers", 1, "--quiet")
    assert code == 2
    assert err.strip() == (
        f"{out}: manifest.json: holds results of calibration 'small_quick' (pairsim calibrate); use another --out folder "
        "or delete this one"
    )


@pytest.mark.slow
def test_the_command_prints_the_summary_of_a_finished_folder_without_running_again(quick, tmp_path):
    path = write_calibration(tmp_path, calibration_data())
    code, out, err = run_cli("calibrate", path, "--out", quick, "--workers", 1)
    assert code == 0, err
    assert out.strip() == (quick / "calibration.md").read_text(encoding="utf-8").strip()
    assert "Runs: 20 finished of 20" in out
    assert f"Results written to {quick}/" in err


def test_targets_no_parameter_set_reaches_stop_the_waves_and_say_so(tmp_path):
    data = changed(calibration_data(), "targets.ratio.observed", 9.0)  # small.yaml's ratio is about 2
    path = write_calibration(tmp_path, data)
    code, out, err = run_cli("calibrate", path, "--points", 4, "--workers", 1, "--out", tmp_path / "out", "--quiet")
    assert (code, out) == (1, "")
    assert "no parameter set reproduces the targets within cutoff 3" in err
    assert "Stopped after wave 1" in err
    assert len(pd.read_parquet(tmp_path / "out" / "waves.parquet")) == 4
    assert not (tmp_path / "out" / "posterior.parquet").exists()
    assert "no parameter set" in yaml.safe_load((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))["stopped"]


def test_a_target_the_runs_leave_undefined_is_one_line_naming_it(tmp_path):
    """Paired villages' income exists only where there are pairs: its effect against the baseline is undefined."""
    paired_effect = {"outcome": "rural_income_pc_paired", "year": 2010, "effect": "absolute"}
    data = changed(calibration_data(), "targets.ratio.statistic", paired_effect)
    path = write_calibration(tmp_path, data)
    code, out, err = run_cli("calibrate", path, "--waves", 1, "--points", 4, "--workers", 1, "--out", tmp_path / "out", "--quiet")
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"{path}: targets.ratio: needs rural_income_pc_paired in 2010, which 4 of the 4 baseline runs leave undefined "
        "(NaN); choose an outcome every run gives"
    )


def test_a_target_no_run_gives_a_finite_value_is_one_line_naming_it(tmp_path):
    """Funds sent are 0 without pairing, so a relative effect on them divides by zero in every run."""
    relative_to_zero = {"outcome": "funds_sent", "year": 2010, "effect": "relative"}
    path = write_calibration(tmp_path, changed(calibration_data(), "targets.ratio.statistic", relative_to_zero))
    code, out, err = run_cli("calibrate", path, "--waves", 1, "--points", 4, "--workers", 1, "--out", tmp_path / "out", "--quiet")
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"{path}: targets.ratio: only 0 of 4 design points gave a finite value (a relative effect over a baseline of 0?); "
        "its emulator needs 3"
    )


# --------------------------------------------------------------------------- parameter recovery (issue point 5)

KNOWN = {FARM_GROWTH: 0.132, URBAN_WAGE_GROWTH: 0.119, LATER_FARM_GROWTH: 0.085}
"""The values that make the synthetic observations (small.yaml's own)."""

OBSERVATION_SHARE = 0.01
"""The synthetic observations' error: 1 % of the value, added in quadrature to one run's run-to-run sd."""


@pytest.mark.slow
def test_a_calibration_recovers_known_values_and_says_what_it_cannot_identify(tmp_path):
    seeds = replication_seeds(99, 12)  # not the calibration's seeds; enough that the observation is the expected value
    statistics = {"rural_growth": Statistic.model_validate(GROWTH_2010), "ratio": Statistic.model_validate(RATIO_2010)}
    runs = pd.concat(
        [
            run_one(
                RunSpec(
                    f"truth{r}",
                    str(SMALL_SCENARIO),
                    "pairing",
                    0,
                    r,
                    seed,
                    overrides={"horizon_years": 1, **KNOWN},
                    outcomes=("rural_income_pc", "urban_rural_ratio"),
                )
            )
            for r, seed in enumerate(seeds)
        ]
    )
    truth = evaluate(statistics, runs, ["point", "replication"])
    # Two seeds a point: the run-to-run variance is then measured across seeds. With one seed every design point shares
    # that seed's draws (common random numbers), so its noise is a smooth offset the emulator's white noise cannot see.
    data = calibration_data(waves=3, points_per_wave=16, seeds=2, posterior_size=400, posterior_candidates=5000, check_draws=4)
    for name in statistics:
        mean, run_sd = truth[name].mean(), truth[name].std(ddof=1)
        data["targets"][name].update(observed=float(mean), sd=float(np.hypot(OBSERVATION_SHARE * abs(mean), run_sd)))
    out = calibrate(tmp_path, data)
    table = pd.read_csv(out / "identifiability.csv").set_index("parameter")
    for name in (FARM_GROWTH, URBAN_WAGE_GROWTH):
        assert table.loc[name, "posterior_low"] <= KNOWN[name] <= table.loc[name, "posterior_high"], table
        assert table.loc[name, "identified"], table
    assert not table.loc[LATER_FARM_GROWTH, "identified"], table
    assert pd.read_csv(out / "targets.csv")["inside"].all()
