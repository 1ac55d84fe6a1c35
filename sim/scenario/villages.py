"""The village CSV: its columns, the row model, and reading it (validated, cached until the file changes)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from pydantic import ConfigDict, ValidationError, model_validator

from sim.errors import InputError, Problem, did_you_mean, require_file
from sim.scenario.messages import _friendly_message
from sim.schema import NonNegativeFloat, Population, PositiveFloat, PositiveInt, Share, Strict

VILLAGE_COLUMNS: dict[str, str] = {
    "name": "text",
    "town": "text",
    "population": "positive integer",
    "households": "positive integer",
    "income_per_capita": "positive number (yuan a year)",
    "collective_income": "non-negative number (yuan a year)",
    "leadership": "number in [0, 1]",
    "industry": "text",
    "x_km": "number",
    "y_km": "number",
}


class VillageRecord(Strict):
    """One row of a village CSV file (lax types: CSV values arrive as text)."""

    model_config = ConfigDict(strict=False)

    name: str
    town: str
    population: Population
    households: PositiveInt
    income_per_capita: PositiveFloat
    collective_income: NonNegativeFloat
    leadership: Share
    industry: str
    x_km: float
    y_km: float

    @model_validator(mode="after")
    def _households_fit(self) -> VillageRecord:
        if self.households > self.population:
            raise ValueError(f"households ({self.households}) cannot exceed population ({self.population})")
        return self


@lru_cache(maxsize=32)
def _read_village_csv_cached(path: str, mtime_ns: int) -> tuple[VillageRecord, ...]:
    del mtime_ns  # part of the cache key only: an edited file is read again
    import pandas as pd  # here, not at the top: most scenarios have no CSV, and pandas is slow to import

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError.single(path, "", f"cannot read as CSV: {reason}") from None
    missing = [column for column in VILLAGE_COLUMNS if column not in frame.columns]
    unknown = [column for column in frame.columns if column not in VILLAGE_COLUMNS]
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown column {column!r}{did_you_mean(column, missing or VILLAGE_COLUMNS)}" for column in unknown]
        expected = ", ".join(VILLAGE_COLUMNS)
        raise InputError.single(path, "columns", f"{'; '.join(parts)}; expected the columns {expected}")
    if frame.empty:
        raise InputError.single(path, "", "has a header but no villages")
    records, problems = [], []
    for row_number, row in enumerate(frame.to_dict("records"), start=2):
        try:
            records.append(VillageRecord.model_validate(row))
        except ValidationError as exc:
            for error in exc.errors():
                column = ".".join(str(part) for part in error["loc"])
                expected = VILLAGE_COLUMNS.get(column)
                message = _friendly_message(error)
                if expected and error["type"] not in ("value_error",):
                    message = f"must be a {expected}, got {error['input']!r}"
                problems.append(Problem(f"row {row_number}, {column}" if column else f"row {row_number}", message))
    if problems:
        raise InputError(path, problems[:10])
    names = [record.name for record in records]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError.single(path, "name", f"village names must be unique; repeated: {', '.join(duplicates[:5])}")
    return tuple(records)


def read_village_csv(path: str | Path) -> tuple[VillageRecord, ...]:
    """Read and validate a village CSV; raises :class:`InputError` naming the row and column."""
    path = Path(path)
    require_file(path, "village", "a village CSV file")
    return _read_village_csv_cached(str(path), path.stat().st_mtime_ns)


def _rural_counts(records: Iterable[VillageRecord]) -> tuple[int, int, int]:
    """(villages, households, residents) of a village CSV."""
    records = list(records)
    return len(records), sum(r.households for r in records), sum(r.population for r in records)
