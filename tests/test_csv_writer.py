"""sim.csv_writer writes the bytes pandas' ``to_csv(index=False)`` writes, for every kind of value a run's tables hold.

The fast path is checked on tables long enough to take it (``FEW_ROWS``); each case also asserts it
was taken, so a change that quietly sent everything to pandas would not pass as a success.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import csv_writer
from sim.csv_writer import FEW_ROWS, float_text, write_csv
from sim.model import PairingModel
from sim.runner import run_model

ROOT = Path(__file__).resolve().parent.parent

SPECIAL_FLOATS = [
    0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 855.0, 2500.0, 0.1, 1 / 3, 4041.666666666667,
    1e-4, 9.999999999999999e-05, 1e-05, 1.5e-07, 5e-324, 2.2250738585072014e-308,
    1e15, 9007199254740992.0, 9999999999999998.0, 1e16, -1e16, 1.2345678901234568e17, 1e22, 1.7976931348623157e308,
]  # fmt: skip
"""Zeros, missing, infinities, whole numbers, and the edges of Python's plain range [1e-4, 1e16)."""

AWKWARD_TEXT = ["plain", "", "with, comma", 'with "quotes"', "two\nlines", "carriage\rreturn", " spaced ", "城乡联建", "'", "#"]


def random_floats(rng: np.random.Generator, size: int) -> np.ndarray:
    """Any float64 bit pattern, wide log-normal magnitudes, rounded money amounts and the special values, shuffled."""
    parts = [
        rng.integers(0, 2**64, size, dtype=np.uint64).view(np.float64),
        rng.lognormal(0, 15, size) * rng.choice([-1, 1], size),
        np.round(rng.uniform(-1e7, 1e7, size), 2),
        np.array(SPECIAL_FLOATS),
    ]
    return rng.permutation(np.concatenate(parts))


def same_bytes(table: pd.DataFrame, tmp_path: Path) -> bool:
    ours, pandas = tmp_path / "ours.csv", tmp_path / "pandas.csv"
    write_csv(table, ours)
    table.to_csv(pandas, index=False)
    return ours.read_bytes() == pandas.read_bytes()


def test_floats_are_spelt_as_pandas_spells_them():
    values = random_floats(np.random.default_rng(11), 100_000)
    expected = ["" if np.isnan(value) else text for value, text in zip(values, values.astype(str).tolist(), strict=True)]
    assert float_text(values).to_pylist() == expected


def table_of_every_kind(seed: int) -> pd.DataFrame:
    """Integers, awkward and missing text, floats of every kind, booleans, unsigned counts, and a label to be quoted."""
    rng = np.random.default_rng(seed)
    floats = random_floats(rng, 3_000)
    rows = len(floats)
    text = pd.Series(rng.choice(AWKWARD_TEXT, rows), dtype="str")
    text[rng.random(rows) < 0.05] = None
    return pd.DataFrame(
        {
            "step": rng.integers(-(2**62), 2**62, rows),
            "village": text,
            "income": floats,
            "weak": rng.random(rows) < 0.5,
            "households": rng.integers(0, 2**32, rows, dtype=np.uint32),
            'share, of "rural"': np.round(rng.random(rows), 3),
        }
    )


def test_a_table_of_every_kind_gives_pandas_bytes(tmp_path):
    table = table_of_every_kind(5)
    assert len(table) >= FEW_ROWS and csv_writer.arrow_can_write(table)  # the fast path is the one checked
    assert same_bytes(table, tmp_path)


def test_rows_written_in_several_chunks_give_the_same_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_writer, "CHUNK_ROWS", 700)
    assert same_bytes(table_of_every_kind(2), tmp_path)


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(pd.date_range("2009-01-01", periods=FEW_ROWS, freq="D")),
        pd.Series(np.arange(FEW_ROWS) % 3).astype("category"),
        pd.Series(np.linspace(0, 1, FEW_ROWS, dtype=np.float32)),
        pd.Series(np.arange(FEW_ROWS), dtype="Int64").where(np.arange(FEW_ROWS) % 7 > 0),
        pd.Series([1, "a", None, 2.5] * (FEW_ROWS // 4), dtype=object),
    ],
    ids=["dates", "category", "float32", "nullable-int", "objects"],
)
def test_columns_of_other_kinds_go_to_pandas(tmp_path, column):
    table = pd.DataFrame({"step": np.arange(FEW_ROWS), "value": column})
    assert not csv_writer.arrow_can_write(table)
    assert same_bytes(table, tmp_path)


def test_single_columns_and_short_tables_go_to_pandas(tmp_path):
    lone = pd.DataFrame({"village": pd.Series(["", "a"] * FEW_ROWS, dtype="str")})  # csv quotes a lone empty cell
    assert not csv_writer.arrow_can_write(lone)
    assert same_bytes(lone, tmp_path)
    assert same_bytes(pd.DataFrame({"step": [1, 2], "sent": [0.1, np.nan]}), tmp_path)
    assert same_bytes(pd.DataFrame({"step": [], "sent": []}), tmp_path)


def test_a_runs_tables_give_pandas_bytes(tmp_path, monkeypatch):
    """The tables of a small.yaml run, every one through the fast path (short ones too, with FEW_ROWS at 0)."""
    monkeypatch.setattr(csv_writer, "FEW_ROWS", 0)
    result = run_model(PairingModel(ROOT / "scenarios" / "small.yaml", rng=3))
    for name in ("monthly", "villages", "policies", "ledger", "links"):
        table = getattr(result, name)
        assert csv_writer.arrow_can_write(table), name
        assert same_bytes(table, tmp_path), name
