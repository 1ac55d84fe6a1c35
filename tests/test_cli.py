"""Tests for the ``pairsim`` command (sim.cli): bad input, end-to-end runs, validate, help.

Most tests call :func:`sim.cli.main` in-process; a few run ``python -m sim.cli`` (and the
``pairsim`` console script) as real subprocesses, started together to save time.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim import package_version
from sim.cli import main
from sim.outcome_registry import LORENZ_KEYS, OUTCOMES, summary_rows, yearly_outcomes

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL = REPO_ROOT / "scenarios" / "small.yaml"
TABLES = ("monthly", "villages", "summary", "policies", "ledger", "links")
OUTPUT_FILES = {f"{name}.{ext}" for name in TABLES for ext in ("parquet", "csv")} | {
    "run.json",
    "pairing_graph.graphml",
    "pairing_graph.json",
}


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def cli(capsys):
    """``cli(*args) -> (exit_code, stdout, stderr)``, running sim.cli.main in-process."""

    def invoke(*args: object) -> tuple[int, str, str]:
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:  # argparse: --help, --version, bad arguments
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def run_quietly(*args: object) -> tuple[int, str, str]:
    """Like the ``cli`` fixture but usable in module-scoped fixtures (no capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_clean_failure(code: int, out: str, err: str, *fragments: str) -> None:
    """Exit 2, no traceback, stdout empty, stderr exactly one line containing every fragment."""
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert out == ""
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def make_bad_input(case: str, folder: Path, write_scenario, variant) -> tuple[Path, tuple[str, ...]]:
    """Write one kind of bad scenario into ``folder``; return its path and what stderr must say."""
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    if case == "malformed-yaml":
        path = write_scenario(folder, "name: x\nregion:\n  towns: 3\n  area_km2: 10: 20\n")
        return path, (f"{path}: line 4, column", "invalid YAML")
    if case == "unknown-key":
        path = write_scenario(folder, variant(data, {"urbn": 1}))
        return path, (f"{path}: urbn: unknown key", "did you mean 'urban'?")
    if case == "negative-count":
        path = write_scenario(folder, variant(data, {"region.villages.count": -3}))
        return path, (f"{path}: region.villages.count: must be a positive integer, got -3",)
    if case == "missing-file":
        path = folder / "does-not-exist.yaml"
        return path, (f"{path}: scenario file not found",)
    if case == "missing-csv":
        csv_data = copy.deepcopy(data)
        del csv_data["region"]["villages"]
        csv_data["region"]["village_file"] = "villages.csv"  # never written
        path = write_scenario(folder, csv_data)
        return path, (f"{path}: region.village_file: file not found", str((folder / "villages.csv").resolve()))
    raise ValueError(case)


BAD_INPUTS = ["malformed-yaml", "unknown-key", "negative-count", "missing-file", "missing-csv"]
SUBPROCESS_BAD_INPUTS = ["malformed-yaml", "missing-csv"]
"""Each subprocess costs ~1.2 s of imports, so only two of the five run out of process, and only in the whole suite
(``slow``): the quick run checks all five in-process (test_run_bad_input_exits_2_and_writes_nothing)."""


# --------------------------------------------------------------------------- bad input, in-process


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_run_bad_input_exits_2_and_writes_nothing(tmp_path, cli, write_scenario, variant, case):
    path, fragments = make_bad_input(case, tmp_path, write_scenario, variant)
    before = sorted(p.name for p in tmp_path.iterdir())
    out_dir = tmp_path / "out"
    code, out, err = cli("run", path, "--years", 1, "--out", out_dir, "--quiet")
    assert_clean_failure(code, out, err, *fragments)
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no staging folder left behind either


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_validate_bad_input_exits_2(tmp_path, cli, write_scenario, variant, case):
    path, fragments = make_bad_input(case, tmp_path, write_scenario, variant)
    code, out, err = cli("validate", path)
    assert_clean_failure(code, out, err, *fragments)


def test_bad_input_leaves_existing_out_folder_alone(tmp_path, cli, write_scenario, variant):
    path, _ = make_bad_input("negative-count", tmp_path, write_scenario, variant)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "old.csv").write_text("keep me\n")
    code, _, err = cli("run", path, "--out", out_dir, "--quiet")
    assert code == 2 and "Traceback" not in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["old.csv"]
    assert (out_dir / "old.csv").read_text() == "keep me\n"


def test_bad_csv_cell_names_csv_row_and_column(tmp_path, cli, write_scenario, csv_scenario_data, village_rows):
    village_rows[1]["population"] = "lots"
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    code, out, err = cli("run", path, "--out", tmp_path / "out", "--quiet")
    csv_file = (tmp_path / "villages.csv").resolve()
    assert_clean_failure(code, out, err, f"{csv_file}: row 3, population: must be a positive integer, got 'lots'")
    assert not (tmp_path / "out").exists()


def test_several_problems_one_line_each(tmp_path, cli, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.count": -3, "economy.remittance_share": 1.5}))
    code, out, err = cli("validate", path)
    assert code == 2 and out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path}: ") for line in lines)


def test_out_is_an_existing_file(tmp_path, cli):
    target = tmp_path / "taken"
    target.write_text("not a folder\n")
    code, out, err = cli("run", SMALL, "--years", 1, "--out", target, "--quiet")
    assert_clean_failure(code, out, err, f"{target}: --out: exists and is not a folder")
    assert target.read_text() == "not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.slow
def test_output_piped_to_a_reader_that_left_ends_without_a_traceback(tmp_path):
    """``pairsim run ... | head``: the reader closes the pipe; the tables are still written, and no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        result = subprocess.run(
            [sys.executable, "-m", "sim.cli", "run", str(SMALL), "--years", "1", "--out", str(tmp_path / "out")],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141 and "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "out" / "run.json").is_file()


def test_out_below_a_file_is_bad_input(tmp_path, cli):
    (tmp_path / "afile").write_text("x\n")
    code, out, err = cli("run", SMALL, "--years", 1, "--out", tmp_path / "afile" / "sub", "--quiet")
    assert code == 2 and out == "" and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", SMALL, "--years", "-1"], "argument --years: must be a positive integer, got -1"),
        (["run", SMALL, "--years", "0"], "argument --years: must be a positive integer, got 0"),
        (["run", SMALL, "--years", "two"], "argument --years: must be a positive integer, got 'two'"),
        (["run", SMALL, "--seed", "x"], "argument --seed: must be a non-negative integer, got 'x'"),
        (["run", SMALL, "--seed", "-4"], "argument --seed: must be a non-negative integer, got -4"),
        (["run"], "the following arguments are required: SCENARIO"),
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice"),
        (["run", SMALL, "--bogus"], "unrecognized arguments: --bogus"),
    ],
    ids=[
        "years-negative",
        "years-zero",
        "years-word",
        "seed-word",
        "seed-negative",
        "no-scenario",
        "no-command",
        "bad-command",
        "bad-option",
    ],
)
def test_bad_arguments_exit_2_without_traceback(tmp_path, monkeypatch, cli, args, expected):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*args)
    assert code == 2
    assert "Traceback" not in err
    assert "usage: pairsim" in err
    assert expected in err
    assert out == ""
    assert list(tmp_path.iterdir()) == []  # the default results/ folder was not created


# --------------------------------------------------------------------------- bad input, as subprocesses


@pytest.fixture(scope="module")
def subprocess_results(tmp_path_factory, write_scenario, variant):
    """Start the subprocesses at once (each costs ~1.2 s of imports), then collect them all."""
    base = tmp_path_factory.mktemp("subprocess")
    jobs = {}
    for case in SUBPROCESS_BAD_INPUTS:
        folder = base / case
        folder.mkdir()
        path, fragments = make_bad_input(case, folder, write_scenario, variant)
        command = [sys.executable, "-m", "sim.cli", "run", str(path), "--years", "1", "--out", str(folder / "out"), "--quiet"]
        jobs[case] = (folder, fragments, command)
    jobs["validate-ok"] = (base, (), [sys.executable, "-m", "sim.cli", "validate", str(SMALL)])
    processes = {
        case: subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        for case, (folder, _, command) in jobs.items()
    }
    results = {}
    for case, process in processes.items():
        out, err = process.communicate(timeout=120)
        folder, fragments, _ = jobs[case]
        results[case] = (process.returncode, out, err, folder, fragments)
    return results


@pytest.mark.slow
@pytest.mark.parametrize("case", SUBPROCESS_BAD_INPUTS)
def test_subprocess_bad_input(subprocess_results, case):
    code, out, err, folder, fragments = subprocess_results[case]
    assert_clean_failure(code, out, err, *fragments)
    assert not (folder / "out").exists()
    assert not any(p.name.startswith(".out.") for p in folder.iterdir())


@pytest.mark.slow  # in the quick run: test_validate_ok (in-process) and test_console_script_is_registered
def test_subprocess_module_entry_point_validates(subprocess_results):
    code, out, err, _, _ = subprocess_results["validate-ok"]
    assert code == 0, err
    assert out.startswith("OK: Small teaching county: ")
    assert err == ""


@pytest.mark.slow  # two subprocesses with the simulation's imports
def test_the_program_ends_at_once_with_its_output_flushed_and_its_exit_code(tmp_path):
    """As the program (``pairsim``, ``python -m sim.cli``), run and validate end the process without tearing the
    interpreter down: the summary must still reach a pipe whole, the tables be in place, and a failure still exit 2."""
    out_dir = tmp_path / "out"
    program = [sys.executable, "-m", "sim.cli"]
    run = [*program, "run", str(SMALL), "--years", "1", "--out", str(out_dir)]
    done = subprocess.run(run, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "start (2009)" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith(f"Tables written to {out_dir}/")
    assert (out_dir / "run.json").is_file() and (out_dir / "ledger.csv").is_file()
    missing = tmp_path / "missing.yaml"
    failed = subprocess.run([*program, "validate", str(missing)], check=False, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.strip() == f"{missing}: scenario file not found"


def test_a_profiler_watching_the_program_still_gets_to_save_its_data(tmp_path):
    """The quick exit steps aside when a profiler (or tracer, or coverage) watches: they write their data at exit."""
    profile = tmp_path / "validate.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "sim.cli", "validate", str(SMALL), "--no-build"]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0


def test_console_script_is_registered():
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("pairsim") == "sim.cli:main"


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One 2-year run of small.yaml with seed 3, shared by the tests that only read its output."""
    out_dir = tmp_path_factory.mktemp("e2e") / "tmp" / "out"
    code, out, err = run_quietly("run", SMALL, "--years", 2, "--seed", 3, "--out", out_dir)  # not --quiet: tests read the summary
    return code, out, err, out_dir


def test_run_exits_0_and_prints_summary(small_run):
    code, out, err, out_dir = small_run
    assert code == 0, err
    assert "Traceback" not in err
    for label in summary_rows().values():
        assert label.strip() in out, f"summary row {label!r} missing"
    assert "start (2009)" in out and "end (2011)" in out and "change" in out
    assert f"Tables written to {out_dir}" in out
    assert "Small teaching county" in err and "seed 3" in err and "2009 + 2 years" in err


def test_run_writes_all_tables(small_run):
    *_, out_dir = small_run
    assert {p.name for p in out_dir.iterdir()} == OUTPUT_FILES
    assert not [p for p in out_dir.parent.iterdir() if p.name != "out"], "staging folder left behind"


def test_monthly_table(small_run):
    *_, out_dir = small_run
    monthly = pd.read_parquet(out_dir / "monthly.parquet")
    assert len(monthly) == 25
    assert list(monthly["step"]) == list(range(25))
    assert set(monthly.columns) - {"step"} == set(OUTCOMES)
    assert monthly["year"].iloc[0] == 2009 and monthly["year"].iloc[-1] == 2011
    assert list(monthly.loc[monthly["month"] == 0, "step"]) == [0, 12, 24]
    # Every outcome is defined every month, but villagers' satisfaction before pairs have delivered a month (step 0).
    assert monthly.drop(columns=["year", "month", "step", "villager_satisfaction"]).notna().all().all()
    assert monthly["villager_satisfaction"].isna().tolist() == [True] + [False] * 24


def test_villages_table(small_run):
    *_, out_dir = small_run
    villages = pd.read_parquet(out_dir / "villages.parquet")
    assert len(villages) == 40 * 3  # the start and the end of each year
    assert sorted(villages["year"].unique()) == [2009, 2010, 2011]
    assert villages.groupby("year")["village"].nunique().eq(40).all()
    assert {"village", "town", "income_pc", "collective_income", "leadership", "weak", "hollow"} <= set(villages.columns)


def test_summary_table_matches_monthly(small_run):
    *_, out_dir = small_run
    summary = pd.read_parquet(out_dir / "summary.parquet")
    monthly = pd.read_parquet(out_dir / "monthly.parquet")
    assert list(summary.columns) == ["outcome", "start (2009)", "end (2011)", "change"]
    assert list(summary["outcome"]) == list(summary_rows().values())
    for key, label in summary_rows().items():
        row = summary.loc[summary["outcome"] == label].iloc[0]
        assert row["start (2009)"] == pytest.approx(monthly[key].iloc[0])
        assert row["end (2011)"] == pytest.approx(monthly[key].iloc[-1])
        assert row["change"] == pytest.approx(row["end (2011)"] - row["start (2009)"])


@pytest.mark.parametrize("table", TABLES)
def test_parquet_and_csv_agree(small_run, table):
    *_, out_dir = small_run
    from_parquet = pd.read_parquet(out_dir / f"{table}.parquet")
    from_csv = pd.read_csv(out_dir / f"{table}.csv")
    assert list(from_parquet.columns) == list(from_csv.columns)
    pd.testing.assert_frame_equal(from_parquet, from_csv, check_dtype=False, rtol=1e-12)


def test_run_json(small_run):
    *_, out_dir = small_run
    meta = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["scenario"] == "Small teaching county"
    assert meta["scenario_file"] == str(SMALL)
    assert re.fullmatch(r"[0-9a-f]{64}", meta["scenario_sha256"])
    assert meta["seed"] == 3 and meta["horizon_years"] == 2 and meta["start_year"] == 2009
    assert meta["versions"]["pairsim"] == package_version("pairsim")
    assert {"mesa", "numpy", "pandas", "pydantic"} <= set(meta["versions"])
    assert meta["yearly_columns"] == list(yearly_outcomes())  # the Gini and its kin, and the Lorenz points


def test_monthly_inequality_computes_the_gini_every_month_and_run_json_says_so(small_run, tmp_path):
    """``--monthly-inequality``: the Gini changes month by month; by default it changes only at yearly points."""
    *_, yearly_dir = small_run
    monthly_dir = tmp_path / "monthly"
    code, _out, err = run_quietly("run", SMALL, "--years", 2, "--seed", 3, "--out", monthly_dir, "--monthly-inequality")
    assert code == 0, err
    yearly, monthly = (pd.read_parquet(folder / "monthly.parquet") for folder in (yearly_dir, monthly_dir))
    between = yearly["month"] != 0
    assert (yearly["gini"].diff()[between] == 0).all()
    assert (monthly["gini"].diff()[between] != 0).all()
    assert json.loads((monthly_dir / "run.json").read_text())["yearly_columns"] == list(LORENZ_KEYS)


def test_same_seed_same_bytes_other_seed_other_numbers(small_run, tmp_path):
    *_, first = small_run
    again, other = tmp_path / "again", tmp_path / "other"
    assert run_quietly("run", SMALL, "--years", 2, "--seed", 3, "--out", again, "--quiet")[0] == 0
    assert run_quietly("run", SMALL, "--years", 2, "--seed", 4, "--out", other, "--quiet")[0] == 0
    for table in TABLES:
        assert (again / f"{table}.csv").read_bytes() == (first / f"{table}.csv").read_bytes(), table
    assert (other / "monthly.csv").read_bytes() != (first / "monthly.csv").read_bytes()
    end_first = pd.read_csv(first / "monthly.csv")["rural_income_pc"].iloc[-1]
    end_other = pd.read_csv(other / "monthly.csv")["rural_income_pc"].iloc[-1]
    assert end_first != end_other
    meta_first = json.loads((first / "run.json").read_text())
    meta_again = json.loads((again / "run.json").read_text())
    assert meta_first["scenario_sha256"] == meta_again["scenario_sha256"]


def test_out_folder_has_normal_permissions(small_run):
    *_, out_dir = small_run
    umask = os.umask(0)
    os.umask(umask)
    assert out_dir.stat().st_mode & 0o777 == 0o777 & ~umask


def test_default_out_folder(tmp_path, monkeypatch, cli):
    shutil.copy(SMALL, tmp_path / "county.yaml")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("run", "county.yaml", "--years", 1)
    assert code == 0, err
    expected = tmp_path / "results" / "county-seed1"
    assert expected.is_dir()
    assert {p.name for p in expected.iterdir()} == OUTPUT_FILES
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["county-seed1"]
    assert "results/county-seed1" in out


def test_progress_bar_without_quiet(tmp_path, cli):
    code, _, err = cli("run", SMALL, "--years", 1, "--out", tmp_path / "out")
    assert code == 0, err
    assert "simulating" in err
    assert "12/12" in err


def test_run_csv_scenario(tmp_path, cli, write_scenario, csv_scenario_data, village_rows):
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    code, _, err = cli("run", path, "--years", 1, "--seed", 2, "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    villages = pd.read_csv(tmp_path / "out" / "villages.csv")
    assert set(villages["village"]) == {row["name"] for row in village_rows}
    start = villages[villages["year"] == 2009].set_index("village")
    for row in village_rows:
        assert start.loc[row["name"], "town"] == row["town"]


# --------------------------------------------------------------------------- validate, help, version


def test_validate_ok(cli):
    code, out, err = cli("validate", SMALL)
    assert code == 0, err
    file_line, pairings_line = out.strip().splitlines()
    assert file_line.startswith("OK: Small teaching county: ")
    assert "3 towns" in file_line and "40 villages" in file_line and "32,000 rural residents" in file_line
    assert "2009 + 10 years" in file_line
    assert pairings_line == "OK: pairings: 13 joint branches formed (county built with seed 1)"
    assert err == ""


def test_validate_says_the_file_is_fine_before_a_pairing_fails(tmp_path, cli, write_scenario, small_scenario_data):
    data = copy.deepcopy(small_scenario_data)
    data["pairing"]["policies"][2]["pairs"] = 30
    path = write_scenario(tmp_path, data)
    code, out, err = cli("validate", path)
    assert code == 2 and "Traceback" not in err
    assert out.startswith("OK: Small teaching county: ") and len(out.splitlines()) == 1
    (line,) = err.strip().splitlines()
    assert line.startswith(f"{path}: pairing.policies[2].pairs: 30 pairs requested but only ")
    assert cli("validate", "--no-build", path)[0] == 0  # found only by building the county


def test_validate_no_build_checks_the_file_without_importing_the_model():
    """The file's verdict needs neither Mesa nor the model, so it comes in well under a second."""
    script = (
        "import sys; from sim.cli import main; code = main(['validate', '--no-build', sys.argv[1]]); "
        "print(sorted(m for m in ('mesa', 'sim.model') if m in sys.modules)); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(SMALL)], check=False, capture_output=True, text=True, encoding="utf-8", timeout=120
    )
    assert done.returncode == 0, done.stderr
    verdict, imported = done.stdout.strip().splitlines()
    assert verdict.startswith("OK: Small teaching county: 3 towns, 40 villages")
    assert imported == "[]"
    assert done.stderr == ""


def test_validate_no_build_still_rejects_a_bad_file(tmp_path, cli, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.count": -3}))
    code, out, err = cli("validate", "--no-build", path)
    assert_clean_failure(code, out, err, f"{path}: region.villages.count: must be a positive integer, got -3")


def test_validate_csv_scenario(tmp_path, cli, write_scenario, csv_scenario_data, village_rows):
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    code, out, err = cli("validate", path)
    assert code == 0, err
    people = sum(row["population"] for row in village_rows)
    assert out.startswith("OK")
    assert f"6 villages (villages.csv), {people:,} rural residents" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["usage: pairsim", "run", "validate", "--version"]),
        (["run"], ["usage: pairsim run", "SCENARIO", "--seed", "--years", "--out", "--quiet"]),
        (["validate"], ["usage: pairsim validate", "SCENARIO", "--seed", "--no-build"]),
    ],
    ids=["pairsim", "run", "validate"],
)
def test_help(cli, args, expected):
    code, out, err = cli(*args, "--help")
    assert code == 0
    assert err == ""
    for fragment in expected:
        assert fragment in out


HEAVY_MODULES = ("mesa", "pandas", "numpy", "scipy", "networkx", "pydantic", "pyarrow", "plotly", "yaml", "tqdm")
"""What ``pairsim run`` needs and ``--help`` does not: together over a second of imports."""


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["--version"]], ids=["help", "run-help", "version"])
def test_help_and_version_import_nothing_heavy(args):
    """The command line answers at once: the simulation, its libraries and package metadata are imported by the commands
    that use them."""
    script = (
        "import sys\nfrom sim.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(name for name in {HEAVY_MODULES!r} + ('importlib.metadata', 'sim.model') if name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True, timeout=60)
    imported = done.stdout.strip().splitlines()[-1]
    assert imported == ("['importlib.metadata']" if args == ["--version"] else "[]")


@pytest.mark.slow  # a subprocess with the simulation's imports
def test_run_imports_only_what_a_run_needs(tmp_path):
    """Not the report (Plotly), the experiment runner (Dask), the app or statistics: a run is a second of imports already."""
    unneeded = ("plotly", "sim.report", "sim.execute", "sim.summary", "dask", "solara", "scipy.stats", "matplotlib")
    script = (
        "import sys\nfrom sim.cli import main\ncode = main(sys.argv[1:])\n"
        f"print(sorted(name for name in {unneeded!r} if name in sys.modules))\nsys.exit(code)"
    )
    args = ["run", str(SMALL), "--years", "1", "--quiet", "--out", str(tmp_path / "out")]
    done = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]"


def test_version(cli):
    code, out, _ = cli("--version")
    assert code == 0
    assert out.strip() == f"pairsim {package_version('pairsim')}"
    assert re.fullmatch(r"pairsim \d+\.\d+\S*", out.strip())


def test_report_output_below_a_file_is_bad_input(tmp_path, cli):
    (tmp_path / "afile").write_text("x\n")
    code, out, err = cli("report", tmp_path, "-o", tmp_path / "afile" / "report.html")
    assert code == 2 and out == ""
    assert err.strip() == f"{tmp_path / 'afile' / 'report.html'}: --out: {tmp_path / 'afile'} is a file; expected a folder path"


# --------------------------------------------------------------------------- compare and calibrate: checked before any run


def posterior_experiment_file(folder: Path) -> Path:
    """A comparison of small.yaml over 3 draws of a hand-made posterior, 2 seeds each (the file's replications: 6)."""
    draws = pd.DataFrame({"economy.farm_productivity_growth": [0.10, 0.13, 0.16], "weight": [1 / 3] * 3})
    draws.to_parquet(folder / "posterior.parquet")
    experiment = {
        "name": "posterior_cli",
        "scenarios": [str(SMALL)],
        "replications": 6,
        "horizon_years": 1,
        "arms": {"city_village": {"policies": ["部门+村"]}},
        "parameters": {"posterior": "posterior.parquet", "draws": 3},
    }
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("replications", [4, 3], ids=["not-a-multiple", "one-seed-a-draw"])
def test_replications_on_the_command_line_are_checked_against_the_posterior_draws(tmp_path, cli, replications):
    path = posterior_experiment_file(tmp_path)
    out_dir = tmp_path / "out"
    code, out, err = cli("compare", path, "--replications", replications, "--workers", 1, "--out", out_dir, "--quiet")
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"{path}: replications: must be a multiple of parameters.draws (3) and at least 6")
    assert line.endswith(f"got {replications}")
    assert not (out_dir / "runs").exists()


def test_calibrate_refuses_a_report_file_it_did_not_write_before_running(tmp_path, cli):
    calibration = {
        "name": "refused",
        "scenario": str(SMALL),
        "parameters": {"economy.farm_productivity_growth": {"low": 0.06, "high": 0.2}},
        "targets": {
            "ratio": {
                "statistic": {"outcome": "urban_rural_ratio", "year": 2010},
                "observed": 2.0,
                "sd": 0.1,
                "source": "assumption",
            }
        },
    }
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump(calibration), encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "manifest.json").write_text(json.dumps({"identity": "an earlier calibration", "runs": {}}), encoding="utf-8")
    (out_dir / "report.html").write_text("<html>my own page</html>", encoding="utf-8")
    code, out, err = cli("calibrate", path, "--workers", 1, "--out", out_dir, "--quiet")
    assert code == 2 and out == ""
    assert err.strip().startswith(f"{out_dir / 'report.html'}: --out: exists and is not a pairsim report")
    assert sorted(p.name for p in out_dir.iterdir()) == ["manifest.json", "report.html"]
