"""Shared fixtures: the repository, the small scenario and helpers that write scenario files.

Fixtures here are deliberately general so any test file can use them:

- ``repo_root``: the repository folder (``Path``).
- ``small_scenario_path`` / ``small_scenario_data``: ``scenarios/small.yaml`` and a fresh
  deep copy of its contents (``yaml.safe_load``), safe to mutate.
- ``village_rows`` / ``csv_scenario_data``: a valid village CSV (as a list of row dicts) and
  a scenario dict that reads it from ``villages.csv`` instead of generating villages.
- ``write_scenario(tmp_path, data_or_text, name="s.yaml", csv=None, csv_name="villages.csv")``:
  writes a YAML file (from a dict, or raw text as is) and optionally a village CSV beside it.
- ``village_csv(rows, header=None)``: CSV text for village rows (just the header for ``[]``).
- ``run_cli(*args) -> (code, stdout, stderr)``: a plain function (import it from conftest).
- ``assert_only_costs_scale(plain, dear, ratios)``: a plain function for two runs differing only in unit costs.
- ``chromium``: headless Debian Chromium driven by Selenium (skipped where it is not installed,
  except in CI, which must run it); ``another_chromium`` is a second one, for two users of one page.
- ``variant(data, {"dotted.path": value, ...})``: a deep copy of ``data`` with fields set
  (``variant.DELETE`` as the value removes a key). List items are addressed by index: ``departments.0.type``.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL_SCENARIO = REPO_ROOT / "scenarios" / "small.yaml"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

VILLAGE_HEADER = [
    "name",
    "town",
    "population",
    "households",
    "income_per_capita",
    "collective_income",
    "leadership",
    "industry",
    "x_km",
    "y_km",
]
"""The village CSV columns in their documented order (sim.scenario.VILLAGE_COLUMNS)."""

DELETE = object()
"""Use as a value in ``variant`` to remove a key."""


# --------------------------------------------------------------------------- plain helpers


def village_csv_text(rows: Sequence[Mapping[str, Any]], header: Sequence[str] | None = None) -> str:
    """CSV text for village rows; ``header`` defaults to the columns of the first row (or VILLAGE_HEADER)."""
    if header is None:
        header = list(rows[0]) if rows else VILLAGE_HEADER
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(header), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def _write_scenario(
    tmp_path: Path,
    data_or_text: Mapping[str, Any] | str,
    name: str = "s.yaml",
    csv: str | Sequence[Mapping[str, Any]] | None = None,
    csv_name: str = "villages.csv",
) -> Path:
    """Write a scenario YAML (dict -> YAML; str -> written verbatim) and an optional village CSV.

    ``csv`` may be CSV text (written verbatim) or a list of row dicts. Returns the YAML path.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    if isinstance(data_or_text, str):
        text = data_or_text
    else:
        text = yaml.safe_dump(dict(data_or_text), allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    if csv is not None:
        csv_text = csv if isinstance(csv, str) else village_csv_text(csv)
        (tmp_path / csv_name).write_text(csv_text, encoding="utf-8")
    return path


def _variant(data: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with each dotted path set to its value (or removed, for DELETE)."""
    result = copy.deepcopy(dict(data))
    for dotted, value in changes.items():
        parts = dotted.split(".")
        node: Any = result
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
        if value is DELETE:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return result


_variant.DELETE = DELETE  # type: ignore[attr-defined]  # so tests can write variant.DELETE


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def registries_keep_their_order() -> Iterator[None]:
    """Every test leaves the pairing registries as it found them, entries and order.

    Flows move, donor kinds are coded and the output tables' columns line up in registration order, so a test that
    removed an entry and registered it again (at the end) changed every later run in the process: the golden tables'
    columns came out reordered in the whole suite only. Tests that remove or replace entries use
    ``sim.pairing.registry.restored()``.
    """
    from sim.pairing import registry  # here: conftest itself must not load the registries before a test asks

    def names() -> list[list[str]]:
        return [list(entries()) for entries in (registry.policy_types, registry.donor_kinds, registry.flows)]

    before = names()
    yield
    assert names() == before, "this test left the pairing registries changed or reordered (use registry.restored())"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def small_scenario_path() -> Path:
    return SMALL_SCENARIO


@pytest.fixture
def small_scenario_data() -> dict[str, Any]:
    """scenarios/small.yaml as loaded by yaml.safe_load (a fresh copy for every test)."""
    with SMALL_SCENARIO.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture
def village_rows(small_scenario_data: dict[str, Any]) -> list[dict[str, Any]]:
    """Six valid village rows, two in each town of small.yaml."""
    towns = small_scenario_data["region"]["towns"]
    industries = ["vegetables", "grain", "fruit"]
    rows = []
    for i in range(6):
        rows.append(
            {
                "name": f"村{i + 1}",
                "town": towns[i % len(towns)],
                "population": 700 + 50 * i,
                "households": 200 + 15 * i,
                "income_per_capita": 7000 + 400 * i,
                "collective_income": 0 if i == 0 else 20000 * i,
                "leadership": round(0.35 + 0.08 * i, 2),
                "industry": industries[i % len(industries)],
                "x_km": 2.0 + 3 * i,
                "y_km": 5.0 + 2 * i,
            }
        )
    return rows


@pytest.fixture
def csv_scenario_data(small_scenario_data: dict[str, Any]) -> dict[str, Any]:
    """small.yaml with its generated villages replaced by ``village_file: villages.csv``."""
    data = copy.deepcopy(small_scenario_data)
    data.pop("pairing", None)  # small.yaml's pairing needs more villages than the six in the CSV
    del data["region"]["villages"]
    data["region"]["village_file"] = "villages.csv"
    return data


@pytest.fixture(scope="session")
def write_scenario() -> Callable[..., Path]:
    """``write_scenario(tmp_path, data_or_text, name="s.yaml", csv=None, csv_name="villages.csv") -> Path``."""
    return _write_scenario


@pytest.fixture(scope="session")
def village_csv() -> Callable[..., str]:
    """``village_csv(rows, header=None) -> str``: CSV text for village rows (header only for ``[]``)."""
    return village_csv_text


@pytest.fixture(scope="session")
def variant() -> Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]:
    """``variant(data, {"region.villages.count": -3, "urban.population": variant.DELETE})`` -> new dict."""
    return _variant


def start_chromium(folder: Path):
    """A headless Debian Chromium driven by Selenium, with its own profile in ``folder`` (skips where not installed)."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        missing = f"needs Debian's chromium and chromedriver ({CHROMIUM}, {CHROMEDRIVER}); .ci/run installs them"
        if os.environ.get("CI"):
            pytest.fail(missing)  # in CI the browser test must run, never quietly skip
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    profile = tempfile.mkdtemp(prefix="chromium-", dir=folder)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})  # performance: every request sent
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture
def chromium(tmp_path):
    """Headless Debian Chromium driven by Selenium through Debian's chromedriver."""
    driver = start_chromium(tmp_path)
    yield driver
    driver.quit()


@pytest.fixture
def another_chromium(tmp_path):
    """A second, independent headless Chromium (its own profile: another user of the same page)."""
    driver = start_chromium(tmp_path)
    yield driver
    driver.quit()


def run_cli(*args: object) -> tuple[int, str, str]:
    """``pairsim`` in-process: (exit code, stdout, stderr), without capsys, so module-scoped fixtures can use it
    (``from conftest import run_cli``); an exception escaping main propagates."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def assert_only_costs_scale(plain: Any, dear: Any, ratios: Mapping[str, float]) -> None:
    """Two runs differing only in unit-cost settings: each flow of ``ratios`` costs that many times as much on every
    ledger row (and cost something), and nothing else changes: the other flows' rows, what moved, the monthly table
    apart from ``donor_cost``, which rises by exactly the ledger's extra cost (``from tests.conftest import ...``)."""
    for flow, ratio in ratios.items():
        rows = plain.ledger["flow"] == flow
        assert plain.ledger.loc[rows, "cost"].sum() > 0, flow
        np.testing.assert_allclose(dear.ledger.loc[rows, "cost"], ratio * plain.ledger.loc[rows, "cost"], rtol=1e-12)
    others = ~plain.ledger["flow"].isin(list(ratios))
    pd.testing.assert_frame_equal(dear.ledger[others], plain.ledger[others])
    pd.testing.assert_frame_equal(dear.ledger.drop(columns="cost"), plain.ledger.drop(columns="cost"))
    pd.testing.assert_frame_equal(dear.monthly.drop(columns="donor_cost"), plain.monthly.drop(columns="donor_cost"))
    extra = dear.ledger["cost"].sum() - plain.ledger["cost"].sum()
    assert dear.monthly["donor_cost"].sum() - plain.monthly["donor_cost"].sum() == pytest.approx(extra, rel=1e-9)
