"""Golden outputs: fixed scenarios and seeds give the same tables, bit for bit, as when the goldens were recorded.

A refactor or a speed-up must not change a single number or random draw. Each
table is reduced to one SHA-256 per column (dtype and raw bytes for numbers, the
text of every cell otherwise), stored in ``tests/golden/``, so a failure names
the table and the columns that changed.

Only a deliberate change to the model's behaviour regenerates them, in a commit
that says why::

    .venv/bin/python tests/test_golden.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from sim.model import PairingModel
from sim.outcome_registry import INEQUALITY_KEYS
from sim.runner import run_model

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = {
    "small_seed1": ("scenarios/small.yaml", 1),  # all five policy types
    "small_seed7": ("scenarios/small.yaml", 7),
    "shouguang_seed1": ("scenarios/shouguang_2009.yaml", 1),
}
TABLES = ("monthly", "villages", "policies", "ledger", "links")


def column_digest(values: pd.Series) -> str:
    """SHA-256 of one column: dtype and raw bytes for numbers and booleans, each cell's text otherwise."""
    array = values.to_numpy()
    digest = hashlib.sha256(str(array.dtype).encode())
    if array.dtype.kind in "biuf":
        digest.update(np.ascontiguousarray(array).tobytes())
    else:
        digest.update("\x1f".join(map(str, array.tolist())).encode())
    return digest.hexdigest()


def graph_digest(graph: nx.Graph) -> str:
    """SHA-256 of the pairing graph's node-link JSON (nodes, edges and every attribute)."""
    data = nx.node_link_data(graph, edges="links")
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def fingerprint(scenario: str, seed: int) -> dict:
    """Every golden table's shape, column order and per-column digests, plus the end of the run in words."""
    result = run_model(PairingModel(ROOT / scenario, rng=seed, monthly_inequality=True))  # every column computed monthly
    tables = {name: getattr(result, name) for name in TABLES}
    last = result.monthly.iloc[-1]
    return {
        "scenario": scenario,
        "seed": seed,
        "end": {key: float(last[key]) for key in ("rural_income_pc", "urban_rural_ratio", "gini", "weak_villages")},
        "tables": {
            name: {"rows": len(table), "columns": {column: column_digest(table[column]) for column in table.columns}}
            for name, table in tables.items()
        },
        "graph": graph_digest(result.graph),
    }


SLOW_CASES = {"shouguang_seed1"}
"""Shouguang-sized runs take seconds: in the whole suite only (``-m "not slow"`` keeps the small.yaml goldens)."""


@pytest.mark.parametrize(
    "case", [pytest.param(case, marks=[pytest.mark.slow] if case in SLOW_CASES else []) for case in sorted(CASES)]
)
def test_outputs_match_the_golden_fingerprints(case: str) -> None:
    expected = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    actual = fingerprint(*CASES[case])
    for name in TABLES:
        want, got = expected["tables"][name], actual["tables"][name]
        assert got["rows"] == want["rows"], f"{case} {name}: {got['rows']} rows, golden has {want['rows']}"
        changed = [
            column for column in want["columns"] if got["columns"].get(column, want["columns"][column]) != want["columns"][column]
        ]
        assert not changed, f"{case} {name}: columns changed: {changed} (end now {actual['end']}, golden {expected['end']})"
        # Results first, then the table's shape: a new registry entry (a flow's outcome, a link status) adds a column to
        # every run without changing any result; regenerate the goldens then, in a commit whose diff only adds keys.
        added, missing = sorted(set(got["columns"]) - set(want["columns"])), sorted(set(want["columns"]) - set(got["columns"]))
        assert list(got["columns"]) == list(want["columns"]), f"{case} {name}: columns added {added}, missing {missing}"
    assert actual["graph"] == expected["graph"], f"{case}: the pairing graph changed"


def test_the_digest_sees_a_one_bit_change() -> None:
    values = pd.Series([1.0, 2.0, 3.0])
    nudged = values.copy()
    nudged.iloc[1] = np.nextafter(2.0, 3.0)
    assert column_digest(values) != column_digest(nudged)
    assert column_digest(pd.Series(["a", "b"])) != column_digest(pd.Series(["a", "c"]))


def test_yearly_inequality_is_the_monthly_run_at_every_reporting_point() -> None:
    """By default the Gini, Theil and median outcomes are computed at yearly points and carried between them.

    Everything else is the run with ``monthly_inequality=True`` bit for bit (the choice draws no random number), and
    at every yearly point so are the inequality outcomes.
    """
    yearly = run_model(PairingModel(ROOT / "scenarios/small.yaml", rng=1, overrides={"horizon_years": 2})).monthly
    monthly = run_model(
        PairingModel(ROOT / "scenarios/small.yaml", rng=1, overrides={"horizon_years": 2}, monthly_inequality=True)
    ).monthly
    others = [column for column in monthly.columns if column not in INEQUALITY_KEYS]
    pd.testing.assert_frame_equal(yearly[others], monthly[others], check_exact=True)
    reporting = monthly["month"] == 0
    pd.testing.assert_frame_equal(
        yearly.loc[reporting, INEQUALITY_KEYS], monthly.loc[reporting, INEQUALITY_KEYS], check_exact=True
    )
    carried = yearly[list(INEQUALITY_KEYS)].where(reporting).ffill()
    pd.testing.assert_frame_equal(yearly[list(INEQUALITY_KEYS)], carried, check_exact=True)
    assert monthly["gini"].nunique() > 20  # asked for, it changes every month


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for case, (scenario, seed) in CASES.items():
        (GOLDEN / f"{case}.json").write_text(json.dumps(fingerprint(scenario, seed), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {GOLDEN / case}.json")
