"""Target statistics computed from runs' yearly tables (:func:`sim.execute.run_one`), for many runs at once.

A run's yearly table has one row per reporting year: step ``12 k`` is labelled ``year = start_year + k`` (step 0 is the
start year itself, calibrated to the scenario's figures), so a run of ``horizon_years = h`` reports the years
``start_year`` to ``start_year + h``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from sim.calibration.spec import PAIRING, Statistic
from sim.experiment import BASELINE


class StatisticError(ValueError):
    """Runs that cannot give a statistic: a year, an outcome or the baseline run it reads is missing or undefined.

    ``pattern`` names the target or held-out pattern, so the caller can point at its entry in the calibration file.
    """

    def __init__(self, pattern: str, message: str) -> None:
        super().__init__(f"{pattern}: {message}")
        self.pattern = pattern
        self.message = message


def horizon_years(statistics: Iterable[Statistic], start_year: int) -> int:
    """The shortest horizon whose runs report every year ``statistics`` read (at least one year: a run steps once)."""
    last = max(year for statistic in statistics for year in statistic.years)
    return max(1, last - start_year)


def outcomes_needed(statistics: Iterable[Statistic]) -> tuple[str, ...]:
    """The outcomes ``statistics`` read, each once, in first-mention order (a RunSpec's ``outcomes``)."""
    return tuple(dict.fromkeys(statistic.outcome for statistic in statistics))


def evaluate(statistics: Mapping[str, Statistic], runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each statistic for each run unit: one row per distinct value of ``keys`` (e.g. point and replication), one column
    per statistic name.

    ``runs`` holds the yearly rows of every run, with the columns ``arm`` (``pairing`` or ``baseline``), ``year``,
    ``keys`` and the outcomes. An effect pairs each unit's pairing run with its baseline run (the same keys: the same
    seed and parameter values).
    """
    return pd.DataFrame({name: _statistic(name, statistic, runs, keys) for name, statistic in statistics.items()})


def _statistic(name: str, statistic: Statistic, runs: pd.DataFrame, keys: list[str]) -> pd.Series:
    with_pairing = _quantity(name, statistic, runs[runs["arm"] == PAIRING], keys, PAIRING)
    if statistic.effect is None:
        return with_pairing
    without = _quantity(name, statistic, runs[runs["arm"] == BASELINE], keys, BASELINE)
    unpaired = with_pairing.index.difference(without.index)
    if len(unpaired):
        raise StatisticError(name, f"an effect needs the {BASELINE} run of every pairing run; missing for {unpaired[0]}")
    without = without.reindex(with_pairing.index)
    return with_pairing - without if statistic.effect == "absolute" else with_pairing / without - 1.0


def _quantity(name: str, statistic: Statistic, runs: pd.DataFrame, keys: list[str], arm: str) -> pd.Series:
    """The level, change or growth of the statistic's outcome in each run of one arm."""
    if statistic.outcome not in runs.columns:
        raise StatisticError(name, f"the runs do not report {statistic.outcome!r}")
    if runs.empty:
        raise StatisticError(name, f"no {arm} runs to compute it from")
    by_year = runs.pivot(index=keys, columns="year", values=statistic.outcome)
    for year in statistic.years:
        if year not in by_year.columns:
            reported = sorted(by_year.columns)
            raise StatisticError(
                name, f"needs {statistic.outcome} in {year}, but the {arm} runs report only {reported[0]}-{reported[-1]}"
            )
        undefined = int(by_year[year].isna().sum())
        if undefined:  # e.g. paired villages' income in a run without pairs
            raise StatisticError(
                name,
                f"needs {statistic.outcome} in {year}, which {undefined} of the {len(by_year)} {arm} runs leave undefined "
                "(NaN); choose an outcome every run gives",
            )
    value = by_year[statistic.year]
    if statistic.kind == "change":
        value = value - by_year[statistic.from_year]
    elif statistic.kind == "growth":
        value = value / by_year[statistic.from_year] - 1.0
    return value.rename(name)


__all__ = ["StatisticError", "evaluate", "horizon_years", "outcomes_needed"]
