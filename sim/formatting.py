"""How numbers and outcome names look wherever pairsim shows them to a person: the text summaries (``pairsim run``,
``compare``, ``summarize``) and the HTML report's tables, hover texts and axes.

One format per unit, whatever the size of the value:

- ``yuan``: whole yuan with thousands separators (``20,265``);
- ``share``: a percentage with two decimals (``0.84 %``), and a difference of shares in percentage points
  (``-0.03 pp``);
- ``index`` (Gini, Theil): four decimals (``0.3387``);
- ``ratio``: three decimals (``2.073``);
- ``count``: whole numbers as such, means to one decimal (``13.5``).

A value that is not defined is never shown as ``nan``: the caller says why (``format_value(nan, "yuan",
"no significant reduction")``). Each outcome's label, axis text and unit live in its entry of
:data:`sim.outcome_registry.OUTCOMES`, beside the units (:data:`UNITS`).
"""

from __future__ import annotations

import math

from sim.outcome_registry import OUTCOMES, UNITS


def outcome_label(outcome: str) -> str:
    """The outcome's name for people ("Gini (all residents)"); a column that is not an outcome keeps its name."""
    known = OUTCOMES.get(outcome)
    return known.label if known else outcome


def unit_of(outcome: str) -> str:
    """The unit of an outcome (a key of UNITS); ``index`` (four decimals) for a column that is not an outcome."""
    known = OUTCOMES.get(outcome)
    return known.unit if known else "index"


def is_missing(value: object) -> bool:
    try:
        return value is None or math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def format_value(value: float, unit: str, missing: str = "not defined", *, difference: bool = False) -> str:
    """``value`` in ``unit``'s one format (a difference of shares in percentage points); ``missing`` says why when
    the value is not defined (NaN, None), so no table ever shows 'nan'."""
    if is_missing(value):
        return missing
    style = UNITS[unit]
    number = float(value) * style.scale
    if unit == "count" and number.is_integer():
        text = f"{number:,.0f}"
    else:
        text = f"{number:{style.spec}}"
    if number == 0:
        text = text.lstrip("-")  # never "-0.0000" for an exact zero
    return text + (style.difference_suffix if difference else style.suffix)


def format_interval(low: float, high: float, unit: str, missing: str = "no interval", *, difference: bool = False) -> str:
    """``[low, high]`` in ``unit``'s format, the suffix once at the end (``[-0.06, 0.01] pp``); ``missing`` when the
    interval is not defined (e.g. fewer than two pairs)."""
    if is_missing(low) or is_missing(high):
        return missing
    style = UNITS[unit]
    suffix = style.difference_suffix if difference else style.suffix
    bare = [format_value(v, unit, difference=difference).removesuffix(suffix) for v in (low, high)]
    return f"[{bare[0]}, {bare[1]}]{suffix}"


def format_outcome(value: float, outcome: str, missing: str = "not defined", *, difference: bool = False) -> str:
    """``value`` of ``outcome`` in its unit's format."""
    return format_value(value, unit_of(outcome), missing, difference=difference)


def d3_format(unit: str) -> str:
    """Plotly's (d3) format of a value in ``unit``, for hover texts and ticks."""
    return UNITS[unit].d3
