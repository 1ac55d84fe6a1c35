"""Write a table as CSV with the bytes ``DataFrame.to_csv(path, index=False)`` gives, several times faster.

pandas turns each float into text with numpy (about 1 µs a value: the shortest digits that read
back as the same float) and hands every cell to Python's ``csv`` module; on a Shouguang run that is
most of the time spent writing (the ledger's and the villages' 250,000 floats). Here each column
becomes text in Arrow's C++ kernels, and the rows are joined there too:

- floats: Arrow finds the same shortest round-trip digits but spells some numbers its own way
  (``2500`` for 2500.0, ``1e+15``, ``0.00001``). Whole numbers are written as Python writes them
  (``2500.0``), fractions in Python's plain range [1e-4, 1e16) take Arrow's text where it has no
  exponent, and the few others Python's ``repr`` itself. Missing values are empty, as in pandas.
- integers as digits; booleans as ``True``/``False``; text with the ``csv`` module's own quoting,
  worked out once per distinct value.

pandas writes the table instead when it is short (as fast there: its cost is per cell, this
module's mostly per column), has a single column (the ``csv`` module quotes a lone empty cell), a
label that is not text, or a column of another kind (dates, categories, float32, nullable numbers,
objects), so the bytes never differ. tests/test_csv_writer.py compares both writers on every kind
of value, edge cases included.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FEW_ROWS = 2_000
"""Tables shorter than this go to pandas, which is as fast there: its cost is per cell, this module's mostly per column."""

CHUNK_ROWS = 100_000
"""Rows turned into text at a time: a few MB, whatever the table's length, far below Arrow's 2 GiB for one string array."""

PLAIN_FLOATS = (1e-4, 1e16)
"""Python writes a float's digits without an exponent when its magnitude is in [low, high)."""


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` without its index to ``path`` (UTF-8, comma-separated, quoted where needed), as pandas would."""
    if len(table) < FEW_ROWS or not arrow_can_write(table):
        table.to_csv(path, index=False)
        return
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(_csv_line(list(table.columns)))
        for start in range(0, len(table), CHUNK_ROWS):
            chunk = table.iloc[start : start + CHUNK_ROWS]
            texts = [_column_text(chunk.iloc[:, position]) for position in range(chunk.shape[1])]  # labels may repeat
            rows = pc.binary_join_element_wise(*texts, ",")
            lines = pc.binary_join(pa.ListArray.from_arrays([0, len(rows)], rows), os.linesep)  # the chunk as one text
            handle.write(lines[0].as_py() + os.linesep)


def arrow_can_write(table: pd.DataFrame) -> bool:
    """Whether this module matches pandas' bytes for ``table``: text labels, two columns or more, each of a kind it knows."""
    if len(table.columns) < 2 or table.columns.inferred_type != "string":
        return False
    return all(_known_kind(dtype) for dtype in table.dtypes)


def _known_kind(dtype) -> bool:
    numpy_kind = isinstance(dtype, np.dtype) and (dtype == np.float64 or dtype.kind in "iub")
    return numpy_kind or isinstance(dtype, pd.StringDtype)


def _column_text(column: pd.Series) -> pa.Array:
    """One column's cells as CSV text (a kind :func:`arrow_can_write` accepts)."""
    dtype = column.dtype
    if dtype == np.float64:
        return float_text(column.to_numpy())
    if dtype == np.bool_:
        return pc.if_else(pa.array(column.to_numpy()), "True", "False")
    if isinstance(dtype, pd.StringDtype):
        return _quoted_text(column)
    return pc.cast(pa.array(column.to_numpy()), pa.string())  # integers


def float_text(values: np.ndarray) -> pa.Array:
    """float64 values as Python's ``repr`` writes them (``855.0``, ``4041.666666666667``, ``1e-05``), missing ones as ''."""
    shortest = pc.cast(pa.array(values), pa.string())  # Arrow's shortest round-trip digits
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):  # a signalling NaN warns, and is not integral either way
        integral = values == np.trunc(values)
    plain = (magnitude >= PLAIN_FLOATS[0]) & (magnitude < PLAIN_FLOATS[1])
    whole = integral & (magnitude < PLAIN_FLOATS[1]) & ~((values == 0) & np.signbit(values))  # -0.0 is left to repr
    digits = pc.cast(pa.array(np.where(whole, values, 0).astype(np.int64)), pa.string())
    text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(digits, ".0", ""), shortest)
    exponent = pc.match_substring(shortest, "e").to_numpy(zero_copy_only=False)
    as_is = whole | (plain & ~integral & ~exponent)
    if as_is.all():
        return text
    others = ["" if math.isnan(value) else repr(value) for value in values[~as_is].tolist()]
    return pc.replace_with_mask(text, pa.array(~as_is), pa.array(others, pa.string()))


def _quoted_text(column: pd.Series) -> pa.Array:
    """Text cells as the ``csv`` module writes them among other cells (quoted where needed); missing ones as ''."""
    codes, distinct = pd.factorize(column)  # missing values get code -1
    spelt = [_csv_field(value) for value in distinct] + [""]
    return pa.array(spelt, pa.string()).take(pa.array(np.where(codes < 0, len(distinct), codes)))


def _csv_field(value: str) -> str:
    """How the ``csv`` module writes ``value`` as the second cell of a row (the first is never quoted)."""
    return _csv_line(["x", value]).removeprefix("x,").removesuffix(os.linesep)


def _csv_line(cells: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=os.linesep).writerow(cells)  # pandas' dialect: ',', '"', minimal quoting
    return buffer.getvalue()
