"""README.md's commands work in the order given, from a fresh clone, and leave nothing outside results/.

The shell blocks of README.md are read line by line; every command is run in order in a temporary
clone, except those listed in SKIPPED with the reason (too long for a test, or a server that runs
until stopped; each of those is exercised elsewhere). ``.venv/bin/`` is this test's own environment.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"

SKIPPED: dict[str, str] = {
    "pip install": "the set-up, which .ci/run itself runs first",
    "-m pytest": "the test suite itself",
    "policy_comparison": "180 runs of Shouguang, about 7 minutes on 2 cores (benchmarks/bench_experiment.py)",
    "sensitivity.yaml": "a Sobol sweep of Shouguang, tens of minutes",
    "dask": "needs a Dask cluster (tests/test_execute.py runs a LocalCluster)",
    "pairsim calibrate": "hundreds of runs, up to an hour on 2 cores (tests/test_calibration.py calibrates small.yaml end to end)",
    "pairsim discover": "reads the when_pairing_fails sweep, 800 runs of Shouguang, 20 to 40 minutes on 2 cores "
    "(tests/test_discovery.py discovers on small sweeps end to end)",
    "pairsim app": "serves until stopped (tests/test_app.py serves it and stops it)",
    "solara run": "serves until stopped (tests/test_app.py)",
}
"""A command containing the key is not run, for the reason given."""


def readme_commands() -> list[str]:
    """Every command line of README.md's ``bash`` blocks, in order, without trailing comments."""
    commands, inside = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```bash" and not inside
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            commands.append(re.sub(r"\s+#\s.*$", "", line).strip())
    return commands


def tour() -> list[str]:
    return [command for command in readme_commands() if not any(key in command for key in SKIPPED)]


def test_the_readme_tour_is_found_and_not_skipped():
    commands = readme_commands()
    assert any("small_comparison" in command for command in tour())
    assert len(tour()) >= 4, commands  # the skips must not swallow the tour


def fresh_clone(destination: Path) -> Path:
    """A clone of this repository, with the working tree's tracked files (uncommitted edits included)."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(destination)], check=True)
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    )
    for name in filter(None, tracked):
        source = REPO_ROOT / name
        if source.is_file():
            shutil.copy2(source, destination / name)
    return destination


@pytest.mark.slow
def test_readme_commands_run_in_order_from_a_fresh_clone(tmp_path):
    clone = fresh_clone(tmp_path / "pairsim")
    status_before = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True).stdout
    environment = f"{Path(sys.executable).parent}/"
    for command in tour():
        result = subprocess.run(
            command.replace(".venv/bin/", environment),
            check=False,
            shell=True,
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"README command failed: {command}\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, command
    status_after = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True).stdout
    assert status_after == status_before, "README's commands left files outside the git-ignored results/ folder"
    assert (clone / "results" / "small-seed1" / "report.html").is_file()
    assert (clone / "results" / "small.html").is_file()


def test_every_test_named_in_the_promises_table_exists():
    """README's "What pairsim promises" names the tests that prove each promise; a renamed test must not leave a dead name."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## What pairsim promises", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", section))
    test_files = (path.read_text(encoding="utf-8") for path in (REPO_ROOT / "tests").glob("test_*.py"))
    defined = {name for text in test_files for name in re.findall(r"^def (test_\w+)", text, re.MULTILINE)}
    assert len(named) >= 20
    assert named <= defined, sorted(named - defined)
