"""Nothing lost: every command that writes refuses what it did not write, fails before working, and is atomic.

The kill tests start ``python -m sim.cli`` as real processes and SIGKILL them while they write, then
inspect what is on disk; nothing here mocks the file system.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SMALL_SCENARIO, run_cli

from sim import outputs
from sim.outputs import RUN_FILES, prepare_run_folder, write_folder_atomically

RUN_OUTPUT = RUN_FILES - {"report.html"}
"""What ``pairsim run`` writes (``report.html`` is added only by ``pairsim report``)."""


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes, to prove nothing was touched."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def user_folder(folder: Path) -> Path:
    """A folder holding a researcher's own files, which no pairsim command may touch."""
    (folder / "analysis").mkdir(parents=True)
    (folder / "notes.txt").write_text("field notes, 2026\n", encoding="utf-8")
    (folder / "analysis" / "table.csv").write_text("village,income\nA,8000\n", encoding="utf-8")
    return folder


def assert_refused(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


def tiny_experiment(folder: Path, name: str = "tiny") -> Path:
    path = folder / f"{name}.yaml"
    data = {
        "name": name,
        "scenarios": [str(SMALL_SCENARIO)],
        "seed": 3,
        "replications": 1,
        "horizon_years": 1,
        "arms": {"city_village": {"policies": ["部门+村"]}},
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run_seed(out_dir: Path) -> int:
    """The seed of the complete run in ``out_dir`` (every table readable, ``run.json`` last)."""
    assert {path.name for path in out_dir.iterdir()} == RUN_OUTPUT
    for table in outputs.RUN_TABLES:
        pd.read_parquet(out_dir / f"{table}.parquet")
        pd.read_csv(out_dir / f"{table}.csv")
    return json.loads((out_dir / "run.json").read_text(encoding="utf-8"))["seed"]


# --------------------------------------------------------------------------- pairsim run --out


def test_run_refuses_a_folder_of_other_files_and_touches_nothing(tmp_path):
    folder = user_folder(tmp_path / "work")
    before = snapshot(tmp_path)
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", folder)
    assert_refused(code, out, err, f"{folder}: --out: is not empty and is not the output of pairsim run", "choose a new folder")
    assert snapshot(tmp_path) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["work"]  # no staging folder beside it either


def test_run_refuses_the_working_folder(tmp_path, monkeypatch):
    user_folder(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", ".")
    assert_refused(code, out, err, ".: --out: is the working folder")
    assert snapshot(tmp_path) == before


def test_run_refuses_the_results_folder_that_holds_earlier_runs(tmp_path):
    results = tmp_path / "results"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", results / "small-seed1", "--quiet")[0] == 0
    (results / "README.md").write_text("Outputs go here.\n", encoding="utf-8")
    before = snapshot(results)
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", results, "--quiet")
    assert_refused(code, out, err, f"{results}: --out: is not empty")
    assert snapshot(results) == before


def test_run_replaces_its_own_previous_run_whole(tmp_path):
    out_dir = tmp_path / "out"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 7, "--out", out_dir, "--quiet")[0] == 0
    (out_dir / "report.html").write_text("<title>old – pairsim report</title>", encoding="utf-8")  # pairsim report's file
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 8, "--out", out_dir, "--quiet")[0] == 0
    assert run_seed(out_dir) == 8  # the old report (of the old run) went with it: nothing stale is mixed in
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_run_refuses_its_own_run_folder_once_a_user_added_a_file(tmp_path):
    out_dir = tmp_path / "out"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", out_dir, "--quiet")[0] == 0
    (out_dir / "my_figure.png").write_bytes(b"\x89PNG")
    before = snapshot(out_dir)
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", out_dir, "--quiet")
    assert_refused(code, out, err, "holds files pairsim run did not write (my_figure.png)")
    assert snapshot(out_dir) == before


def test_run_refuses_a_folder_whose_run_json_is_not_pairsims(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "run.json").write_text('{"athlete": "me", "km": 10}', encoding="utf-8")
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", out_dir, "--quiet")
    assert_refused(code, out, err, "is not the output of pairsim run")
    assert (out_dir / "run.json").read_text(encoding="utf-8") == '{"athlete": "me", "km": 10}'


def test_run_writes_into_an_empty_folder_and_creates_a_missing_one(tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", folder, "--quiet")[0] == 0
        assert run_seed(folder) == 1


def test_a_failed_write_leaves_the_old_run_and_no_staging_folder(tmp_path):
    out_dir = tmp_path / "out"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 7, "--out", out_dir, "--quiet")[0] == 0
    before = snapshot(out_dir)

    def interrupted(folder: Path) -> None:
        (folder / "monthly.csv").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_folder_atomically(out_dir, interrupted)
    assert snapshot(out_dir) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_a_file_saved_in_the_run_folder_during_the_run_survives_and_the_tables_go_beside_it(tmp_path, monkeypatch):
    out_dir = tmp_path / "out"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 7, "--out", out_dir, "--quiet")[0] == 0
    from sim import runner

    original = runner.run_model

    def run_while_someone_saves_notes(*args, **kwargs):
        (out_dir / "notes.txt").write_text("saved while the rerun ran\n", encoding="utf-8")
        return original(*args, **kwargs)

    monkeypatch.setattr(runner, "run_model", run_while_someone_saves_notes)
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 8, "--out", out_dir, "--quiet")
    assert code == 0 and out == ""
    assert f"it was left alone and the tables were written to {tmp_path / 'out-2'}" in err
    assert (out_dir / "notes.txt").read_text(encoding="utf-8") == "saved while the rerun ran\n"
    assert json.loads((out_dir / "run.json").read_text(encoding="utf-8"))["seed"] == 7
    assert run_seed(tmp_path / "out-2") == 8


def test_run_refuses_a_run_folder_holding_a_report_html_pairsim_did_not_write(tmp_path):
    out_dir = tmp_path / "out"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", out_dir, "--quiet")[0] == 0
    (out_dir / "report.html").write_text("<html>my own page</html>", encoding="utf-8")
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", out_dir, "--quiet")
    assert_refused(code, out, err, "holds files pairsim run did not write (report.html)")
    assert (out_dir / "report.html").read_text(encoding="utf-8") == "<html>my own page</html>"


def test_run_refuses_the_working_folder_even_when_empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", ".", "--quiet")
    assert_refused(code, out, err, "is the working folder")
    assert list(tmp_path.iterdir()) == []


def test_run_through_a_symbolic_link_replaces_the_folder_it_points_to(tmp_path):
    real = tmp_path / "real"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 7, "--out", real, "--quiet")[0] == 0
    (tmp_path / "link").symlink_to(real)
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 8, "--out", tmp_path / "link", "--quiet")[0] == 0
    assert (tmp_path / "link").is_symlink()
    assert run_seed(real) == 8
    assert sorted(path.name for path in tmp_path.iterdir()) == ["link", "real"]


# --------------------------------------------------------------------------- killed while writing


def _staging_of(out_dir: Path) -> list[Path]:
    return list(out_dir.parent.glob(f".{out_dir.name}.pairsim-*"))


def _kill_when(process: subprocess.Popen, out_dir: Path, files_written: int) -> bool:
    """SIGKILL ``process`` once its staging folder holds ``files_written`` files; True if it was caught writing."""
    while process.poll() is None:
        for staging in _staging_of(out_dir):
            try:
                count = sum(1 for _ in staging.iterdir())
            except FileNotFoundError:  # swapped in and removed just now
                continue
            if count >= files_written:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
        time.sleep(0.0005)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("files_written", [0, 7, len(RUN_OUTPUT) - 1])
def test_a_run_killed_while_writing_leaves_the_old_run_or_the_new_one(tmp_path, files_written):
    out_dir = tmp_path / "out"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 7, "--out", out_dir, "--quiet")[0] == 0
    command = [
        sys.executable,
        "-m",
        "sim.cli",
        "run",
        str(SMALL_SCENARIO),
        "--years",
        "3",
        "--seed",
        "1",
        "--out",
        str(out_dir),
        "--quiet",
    ]
    caught = False
    for _attempt in range(3):  # a fast machine may finish writing between two looks; try again
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        caught = _kill_when(process, out_dir, files_written)
        assert run_seed(out_dir) in {7, 1}  # the old complete run or the new complete one, never a mix
        if caught:
            break
    assert caught, "the run always finished before it could be killed while writing"
    code, _, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--seed", 9, "--out", out_dir, "--quiet")
    assert code == 0, err
    assert run_seed(out_dir) == 9
    assert _staging_of(out_dir) == []  # the killed process's staging folder was cleared by the next run


# --------------------------------------------------------------------------- compare / sweep --out


def test_compare_refuses_a_folder_of_other_files_and_touches_nothing(tmp_path):
    experiment = tiny_experiment(tmp_path)
    folder = user_folder(tmp_path / "work")
    before = snapshot(folder)
    for command in ("compare", "sweep"):
        code, out, err = run_cli(command, experiment, "--workers", 1, "--out", folder, "--quiet")
        assert_refused(code, out, err, f"{folder}: --out: is not empty and is not an experiment's results folder")
    assert snapshot(folder) == before


@pytest.mark.parametrize("manifest", ["{}", '["a"]', '{"name": "my web app", "icons": []}'])
def test_compare_refuses_a_folder_whose_manifest_is_not_pairsims(tmp_path, manifest):
    folder = tmp_path / "webapp"
    folder.mkdir()
    (folder / "manifest.json").write_text(manifest, encoding="utf-8")
    code, out, err = run_cli("compare", tiny_experiment(tmp_path), "--workers", 1, "--out", folder, "--quiet")
    assert_refused(code, out, err, "is not an experiment's results folder")
    assert (folder / "manifest.json").read_text(encoding="utf-8") == manifest


def test_compare_refuses_a_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", run_dir, "--quiet")[0] == 0
    before = snapshot(run_dir)
    code, out, err = run_cli("compare", tiny_experiment(tmp_path), "--workers", 1, "--out", run_dir, "--quiet")
    assert_refused(code, out, err, "not an experiment's results folder")
    assert snapshot(run_dir) == before


@pytest.mark.slow
def test_compare_keeps_unrelated_files_in_its_own_folder_and_refuses_a_foreign_report(tmp_path):
    experiment = tiny_experiment(tmp_path)
    out_dir = tmp_path / "out"
    assert run_cli("compare", experiment, "--workers", 1, "--out", out_dir, "--quiet")[0] == 0
    (out_dir / "notes.txt").write_text("mine\n", encoding="utf-8")
    (out_dir / "report.html").write_text("<html>my own page</html>", encoding="utf-8")
    code, out, err = run_cli("compare", experiment, "--workers", 1, "--replications", 2, "--out", out_dir, "--quiet")
    assert_refused(code, out, err, "report.html: --out: exists and is not a pairsim report")
    assert len(list((out_dir / "runs").glob("*.parquet"))) == 2  # refused before running anything more
    (out_dir / "report.html").unlink()
    assert run_cli("compare", experiment, "--workers", 1, "--replications", 2, "--out", out_dir, "--quiet")[0] == 0
    assert (out_dir / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert "pairsim report" in (out_dir / "report.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- report -o


def test_report_refuses_to_overwrite_a_file_it_did_not_write(tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", run_dir, "--quiet")[0] == 0
    mine = tmp_path / "draft.html"
    mine.write_text("<html>my draft</html>", encoding="utf-8")
    code, out, err = run_cli("report", run_dir, "-o", mine)
    assert_refused(code, out, err, f"{mine}: --out: exists and is not a pairsim report", "draft-2.html")
    assert mine.read_text(encoding="utf-8") == "<html>my draft</html>"


@pytest.mark.slow
def test_report_replaces_its_own_report(tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", run_dir, "--quiet")[0] == 0
    target = tmp_path / "report.html"
    for _ in range(2):
        code, _, err = run_cli("report", run_dir, "-o", target)
        assert code == 0, err
    assert "pairsim report" in target.read_text(encoding="utf-8")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.html", "run"]


# --------------------------------------------------------------------------- fail before working


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write into, root included (root ignores permission bits, not the immutable flag)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], check=False, capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i: no folder is read-only to root here")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


def _started_the_simulation(*args, **kwargs):
    raise AssertionError("the simulation started before the output location was checked")


@pytest.mark.parametrize("where", ["proc", "below-a-file", "read-only"])
def test_unwritable_destinations_are_refused_before_any_work(tmp_path, monkeypatch, read_only_folder, where):
    (tmp_path / "afile").write_text("x\n", encoding="utf-8")
    base = {
        "proc": Path("/proc/pairsim-test"),
        "below-a-file": tmp_path / "afile" / "sub",
        "read-only": read_only_folder / "out",
    }[where]
    monkeypatch.setattr("sim.model.PairingModel.__init__", _started_the_simulation)
    monkeypatch.setattr("sim.execute.run_experiment", _started_the_simulation)
    run_dir = tmp_path / "run"
    commands = [
        ("run", SMALL_SCENARIO, "--out", base),
        ("compare", tiny_experiment(tmp_path), "--workers", 1, "--out", base),
        ("report", run_dir, "-o", base / "report.html"),
    ]
    run_dir.mkdir()
    for command in commands:
        code, out, err = run_cli(*command)
        assert_refused(code, out, err, "--out: ")
        assert "choose another folder" in err or "is a file" in err, err
    assert not list(read_only_folder.iterdir())


def test_an_unwritable_destination_fails_at_once_in_a_fresh_process(tmp_path):
    """Checked before the scenario is even read: a county of 1 M people is refused as fast as a small one."""
    shouguang = Path(__file__).resolve().parent.parent / "scenarios" / "shouguang_2009.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(shouguang), "--out", "/proc/pairsim-test"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr.strip()
        == "/proc/pairsim-test: --out: cannot write inside /proc (No such file or directory); choose another folder"
    )
    assert (
        "sim.model"
        not in subprocess.run(
            [sys.executable, "-c", "import sys, sim.cli; print(' '.join(sys.modules))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )  # the command line does not import the simulation before it needs it


def test_prepare_run_folder_accepts_a_folder_pairsim_never_made_only_when_empty(tmp_path):
    prepare_run_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    prepare_run_folder(tmp_path / "empty")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty"]  # checking creates nothing


# --------------------------------------------------------------------------- --quiet


def test_quiet_prints_nothing_but_errors(tmp_path):
    code, out, err = run_cli("run", SMALL_SCENARIO, "--years", 1, "--out", tmp_path / "run", "--quiet")
    assert (code, out, err) == (0, "", "")
    code, out, err = run_cli("compare", tiny_experiment(tmp_path), "--workers", 1, "--out", tmp_path / "exp", "--quiet")
    assert (code, out, err) == (0, "", "")
