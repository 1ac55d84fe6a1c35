"""Every model-level outcome in one place: its meaning, its label, axis and unit, and the lists it belongs to.

The monthly table's columns, the experiments' default outcomes, the outcomes
:mod:`sim.analysis` studies when none are named (and which way it ranks arms on them), the headline outcomes of the
summary and the report, and the rows of ``pairsim run``'s start/end summary are
all read from :data:`OUTCOMES` (through the views below), so they cannot drift
apart. A new outcome (say, of a new pairing flow) is one :func:`register_outcome`
call.

This module imports nothing from pairsim, so any module may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Unit:
    """How the values of one unit are written: Python's format spec (after scaling), suffixes, and plotly's d3 format."""

    spec: str
    short: str  # a unit column's text
    scale: float = 1.0
    suffix: str = ""  # after a level
    difference_suffix: str = ""  # after a difference of two levels
    d3: str = ""  # plotly's tick/hover format of the unscaled value


UNITS: dict[str, Unit] = {
    "yuan": Unit(",.0f", "yuan", d3=",.0f"),
    "share": Unit(".2f", "%", scale=100.0, suffix=" %", difference_suffix=" pp", d3=".2%"),
    "index": Unit(".4f", "index", d3=".4f"),
    "ratio": Unit(".3f", "ratio", d3=".3f"),
    "count": Unit(",.1f", "count", d3=",.1f"),
}
"""The units outcomes are measured in (how :mod:`sim.formatting` writes each is part of the unit)."""


@dataclass(frozen=True)
class Outcome:
    """One model-level outcome: a column of the monthly table.

    ``headline`` is the outcome's place among the headline outcomes (1 first), as
    their order is meaningful (inequality first); the other lists keep the
    registry's order.
    """

    key: str
    description: str  # meaning and unit in words
    label: str  # short name for people ("Gini (all residents)")
    axis: str  # axis title, with the unit in words
    unit: str  # a key of UNITS
    default: bool = False  # kept by an experiment that lists no outcomes of its own
    analysed: bool = False  # studied by sim.analysis when no outcomes are named
    headline: int | None = None  # place among the headline outcomes of the summary and the report (None: not one)
    summary: str | None = None  # its row label in `pairsim run`'s start/end summary (None: not in it)
    pairing: bool = False  # reported by the pairing programme (all zero when there is no pairing)
    better: Literal["lower", "higher"] | None = None  # which way it moves when the urban-rural gap narrows (ranks arms)


OUTCOMES: dict[str, Outcome] = {}
"""Every model-level outcome by key, in the monthly table's column order."""


def register_outcome(outcome: Outcome) -> Outcome:
    """Add an outcome after the ones registered before it (a new column at the end of the monthly table)."""
    if outcome.key in OUTCOMES:
        raise ValueError(f"outcome {outcome.key!r} is already registered")
    if outcome.unit not in UNITS:
        raise ValueError(f"outcome {outcome.key!r}: unit {outcome.unit!r} is not one of {list(UNITS)}")
    if outcome.better not in (None, "lower", "higher"):
        raise ValueError(f"outcome {outcome.key!r}: better must be 'lower', 'higher' or None, got {outcome.better!r}")
    OUTCOMES[outcome.key] = outcome
    return outcome


def unregister_outcome(key: str) -> None:
    """Remove an outcome (for tests that add toy ones)."""
    OUTCOMES.pop(key, None)


LORENZ_SHARES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Population shares at which the Lorenz curve of all residents is reported (deciles)."""

LORENZ_KEYS: tuple[str, ...] = tuple(f"lorenz_p{round(share * 100)}" for share in LORENZ_SHARES)
"""The Lorenz points' outcome keys, one per share of :data:`LORENZ_SHARES`. Computed at each year's reporting point
only, and carried through the months between."""

INEQUALITY_KEYS: tuple[str, ...] = (
    "rural_median_income_pc",
    "rural_median_to_mean",
    "rural_quintile_ratio",
    "gini",
    "gini_rural",
    "theil_t",
    "theil_t_between",
    "theil_t_within",
    "theil_between_share",
)
"""Outcomes that rank or take logarithms of every household's income, about half of a month's work for a county.

They are computed at each year's reporting point (month 0), which is all an experiment keeps, and every month only when
asked (``PairingModel(monthly_inequality=True)``, ``pairsim run --monthly-inequality``); in the months between, the
monthly table carries the last yearly value, as it does for the Lorenz points."""


def yearly_outcomes(monthly_inequality: bool = False) -> tuple[str, ...]:
    """The monthly table's columns that change only at yearly reporting points (the rest are computed every month)."""
    return LORENZ_KEYS if monthly_inequality else (*INEQUALITY_KEYS, *LORENZ_KEYS)


INCOME_SOURCES: tuple[str, ...] = ("farm", "wage", "remittance", "dividend", "transfer")
"""The parts of household income, in the order the economy computes them (each has an income-share outcome)."""

PER_PERSON_YEAR = "yuan per person per year"
VILLAGES = "count (villages)"
GINI_AXIS = "Gini index (0 = equal, 1 = one holds all)"
MONTHLY_YUAN = "yuan per month"

for _outcome in (
    Outcome(
        "year", "year whose incomes the trailing 12-month figures describe (the start year at step 0)", "Year", "year", "count"
    ),
    Outcome("month", "months into that year (0 at each yearly reporting point)", "Month", "months into the year", "count"),
    Outcome(
        "rural_income_pc",
        "mean rural per-capita income over the last 12 months, yuan a year",
        "Mean rural income",
        PER_PERSON_YEAR,
        "yuan",
        default=True,
        analysed=True,
        headline=5,
        summary="Rural income per capita (yuan/yr)",
        better="higher",
    ),
    Outcome(
        "rural_median_income_pc",
        "median rural per-capita income (person-weighted), yuan a year",
        "Median rural income",
        PER_PERSON_YEAR,
        "yuan",
        analysed=True,
        better="higher",
    ),
    Outcome(
        "rural_median_to_mean",
        "rural median over mean per-capita income (person-weighted); below 1 when the upper tail is long",
        "Rural median/mean income",
        "ratio (median ÷ mean)",
        "ratio",
        analysed=True,
        better="higher",
    ),
    Outcome(
        "rural_quintile_ratio",
        "mean per-capita income of the richest fifth of rural residents over that of the poorest fifth",
        "Rural top/bottom quintile ratio",
        "ratio (top fifth ÷ bottom fifth)",
        "ratio",
        analysed=True,
        better="lower",
    ),
    Outcome(
        "urban_income_pc",
        "mean urban per-capita income over the last 12 months, yuan a year",
        "Mean urban income",
        PER_PERSON_YEAR,
        "yuan",
        default=True,
        analysed=True,
        summary="Urban income per capita (yuan/yr)",
    ),
    Outcome(
        "urban_rural_ratio",
        "urban over rural mean per-capita income",
        "Urban/rural income ratio",
        "ratio (urban ÷ rural)",
        "ratio",
        default=True,
        analysed=True,
        headline=4,
        summary="Urban/rural income ratio",
        better="lower",
    ),
    Outcome(
        "income_gap",
        "urban minus rural mean per-capita income, yuan a year",
        "Urban–rural income gap",
        PER_PERSON_YEAR,
        "yuan",
        analysed=True,
        better="lower",
    ),
    Outcome(
        "gini",
        "Gini of per-capita income over all residents, urban and rural",
        "Gini (all residents)",
        GINI_AXIS,
        "index",
        default=True,
        analysed=True,
        headline=1,
        summary="Gini (all residents)",
        better="lower",
    ),
    Outcome(
        "gini_rural",
        "Gini of per-capita income among rural residents",
        "Gini (rural residents)",
        GINI_AXIS,
        "index",
        default=True,
        analysed=True,
        better="lower",
    ),
    Outcome(
        "theil_t",
        "Theil T of per-capita income over all residents",
        "Theil T (all residents)",
        "Theil T index (≥ 0)",
        "index",
        default=True,
        analysed=True,
        headline=2,
        summary="Theil T (all residents)",
        better="lower",
    ),
    Outcome(
        "theil_t_between",
        "part of Theil T between the urban and rural means",
        "Theil T between urban and rural",
        "Theil T component (≥ 0)",
        "index",
        default=True,
        analysed=True,
        summary="  between urban and rural",
        better="lower",
    ),
    Outcome(
        "theil_t_within",
        "part of Theil T within the urban and rural populations",
        "Theil T within urban and rural",
        "Theil T component (≥ 0)",
        "index",
        analysed=True,
        summary="  within urban and rural",
        better="lower",
    ),
    Outcome(
        "theil_between_share",
        "share of Theil T that is the urban/rural gap",
        "Urban/rural share of Theil T",
        "share of Theil T (%)",
        "share",
        default=True,
        analysed=True,
        headline=3,
        summary="  urban/rural share of Theil T",
        better="lower",
    ),
    *(
        Outcome(
            key,
            f"share of all residents' income held by the poorest {share:.0%} of residents "
            "(urban and rural, person-weighted), at the latest yearly reporting point",
            f"Income share of the poorest {share:.0%}",
            "share of all residents' income (%)",
            "share",
            default=True,  # for the report's Lorenz curves
            better="higher",  # the poorest hold more
        )
        for key, share in zip(LORENZ_KEYS, LORENZ_SHARES, strict=True)
    ),
    Outcome(
        "poverty_headcount",
        "share of rural residents below the poverty line",
        "Rural poverty headcount",
        "share of rural residents (%)",
        "share",
        default=True,
        analysed=True,
        headline=8,
        summary="Rural poverty headcount ratio",
        better="lower",
    ),
    Outcome(
        "weak_villages",
        "villages whose 12-month collective income is below the weak threshold",
        "Weak villages (薄弱村)",
        VILLAGES,
        "count",
        default=True,
        analysed=True,
        headline=6,
        summary="Weak villages (薄弱村)",
        better="lower",
    ),
    Outcome(
        "hollow_villages",
        "villages whose 12-month collective income is below the hollow threshold",
        "Hollow villages (空壳村)",
        VILLAGES,
        "count",
        default=True,
        analysed=True,
        headline=7,
        summary="Hollow villages (空壳村)",
        better="lower",
    ),
    Outcome(
        "migrant_share",
        "share of rural able workers working away",
        "Migrant share of rural workers",
        "share of rural able workers (%)",
        "share",
        analysed=True,
    ),
    Outcome(
        "local_jobs",
        "rural workers employed by local enterprises",
        "Local jobs",
        "count (rural workers)",
        "count",
        analysed=True,
        better="higher",
    ),
    Outcome(
        "mean_leadership",
        "mean village leadership quality (0-1)",
        "Mean village leadership",
        "leadership quality (0–1)",
        "index",
        analysed=True,
    ),
    Outcome(
        "mean_collective_income",
        "mean 12-month village collective income, yuan",
        "Mean village collective income",
        "yuan per village (12 months)",
        "yuan",
        analysed=True,
        better="higher",
    ),
    *(
        Outcome(
            f"{source}_income_share",
            f"share of this month's rural income from {source}",
            f"Share of rural income from {source}",
            "share of this month's rural income (%)",
            "share",
        )
        for source in INCOME_SOURCES
    ),
    # Monthly pairing outcomes (all zero when there is no pairing), as the pairing programme reports them.
    Outcome("funds_sent", "pairing funds sent this month, yuan", "Pairing funds sent", MONTHLY_YUAN, "yuan", pairing=True),
    Outcome(
        "funds_lost",
        "pairing funds lost to leakage this month, yuan",
        "Pairing funds lost to leakage",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome(
        "funds_captured",
        "pairing funds captured by better-off households this month, yuan",
        "Pairing funds captured by the better-off",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome(
        "funds_captured_pc",
        "pairing funds captured by better-off households this month, yuan per rural resident (a transfer, not a broad gain)",
        "Pairing funds captured per rural resident",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome("trainees", "villagers trained this month", "Villagers trained", "count (people a month)", "count", pairing=True),
    Outcome(
        "jobs_created",
        "villagers hired by paired enterprises this month",
        "Villagers hired by paired enterprises",
        "count (workers a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "cadre_months",
        "months of seconded cadres' presence this month",
        "Seconded cadres' months",
        "count (cadre-months a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "technology",
        "techniques introduced this month",
        "Techniques introduced",
        "count (techniques a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "market_savings",
        "yuan saved by households through pairs' market access this month",
        "Savings through pairs' market access",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome(
        "problems_solved_by_pairs",
        "village problems solved by pairs this month",
        "Village problems solved by pairs",
        "count (problems a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "study_days",
        "learner-days weak villages' cadres spent on site in advanced host villages this month (现场跟学)",
        "Learner-days on site",
        "count (learner-days a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "merger_cost",
        "merged branches' upkeep (joint secretary's allowance, joint meetings) and failed mergers' splits this month, yuan (合建)",
        "Merged branches' cost",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome(
        "job_referrals",
        "home-village workers who left this month for jobs their migrant branch found (流动型)",
        "Job referrals by migrant branches",
        "count (workers a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "returnee_ventures",
        "migrants who came home this month to start a business with their branch's support (返乡创业)",
        "Returnee ventures",
        "count (ventures a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "household_assets",
        "yuan of production assets cadres' paired poor households received this month, before leakage (干部结对帮扶户)",
        "Assets to cadres' paired households",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome(
        "job_placements",
        "members of cadres' paired poor households placed in a job this month, locally or away (转移就业)",
        "Job placements by cadres",
        "count (households a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "dibao_enrolments",
        "cadres' paired poor households enrolled in 低保/五保 this month",
        "低保 enrolments by cadres",
        "count (households a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "dibao_topups",
        "低保 top-ups the government paid last month to the households cadres enrolled, yuan (in donor_cost; 干部结对帮扶户)",
        "低保 top-ups to enrolled households",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome(
        "relocations",
        "cadres' paired poor households moved out of harsh locations this month (易地搬迁)",
        "Relocations by cadres",
        "count (households a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "donor_cost",
        "donors' cost this month (every flow's cost and strong villages' lost own output), yuan",
        "Donors' cost",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome(
        "branches_formed",
        "joint branches formed this month (at the start, at pairing rounds, cadres' successors)",
        "Joint branches formed",
        "count (branches a month)",
        "count",
        pairing=True,
    ),
    Outcome(
        "setup_cost",
        "donors' cost of forming joint branches this month (policies with rounds; part of donor_cost), yuan",
        "Cost of forming branches",
        MONTHLY_YUAN,
        "yuan",
        pairing=True,
    ),
    Outcome("active_pairs", "active donor-village links", "Active pairs", "count (links)", "count", pairing=True),
    Outcome(
        "ended_pairs",
        "links ended for poor performance, cumulative",
        "Pairs ended for poor performance",
        "count (links, cumulative)",
        "count",
        pairing=True,
    ),
    Outcome(
        "graduated_pairs",
        "links ended after the village left weak status and support ran out, cumulative",
        "Pairs graduated",
        "count (links, cumulative)",
        "count",
        pairing=True,
    ),
    *(
        Outcome(
            f"pairs_rated_{rating}",
            f"active links whose last rating was {rating}",
            f"Pairs rated {rating}",
            "count (active links)",
            "count",
            pairing=True,
        )
        for rating in ("good", "average", "poor")
    ),
    Outcome(
        "villager_satisfaction",
        "villagers' satisfaction with their pairs (0-1: pairing income households noticed and problems pairs solved), "
        "person-weighted over villages with an active pair (NaN if none)",
        "Villagers' satisfaction with pairs (群众满意度)",
        "satisfaction (0–1)",
        "index",
        pairing=True,
        better="higher",
    ),
    Outcome(
        "rural_income_pc_paired",
        "mean per-capita income of villages ever paired, yuan a year (NaN if none)",
        "Mean income of villages ever paired",
        PER_PERSON_YEAR,
        "yuan",
        pairing=True,
    ),
    Outcome(
        "rural_income_pc_unpaired",
        "mean per-capita income of villages never paired, yuan a year (NaN if none)",
        "Mean income of villages never paired",
        PER_PERSON_YEAR,
        "yuan",
        pairing=True,
    ),
):
    register_outcome(_outcome)


def default_outcomes() -> list[str]:
    """What an experiment keeps when it lists no outcomes: the registry's ``default`` ones, the Lorenz points last (they
    feed the report's Lorenz curves, after the outcomes people read)."""
    chosen = [key for key, outcome in OUTCOMES.items() if outcome.default]
    return [key for key in chosen if key not in LORENZ_KEYS] + [key for key in chosen if key in LORENZ_KEYS]


def analysed_outcomes() -> list[str]:
    """The outcomes :mod:`sim.analysis` studies when none are named, in the registry's order."""
    return [key for key, outcome in OUTCOMES.items() if outcome.analysed]


def headline_outcomes() -> list[str]:
    """The outcomes the summary and the report show first, in their headline order."""
    headlines = [outcome for outcome in OUTCOMES.values() if outcome.headline is not None]
    return [outcome.key for outcome in sorted(headlines, key=lambda outcome: outcome.headline or 0)]


def pairing_outcomes() -> list[str]:
    """The outcomes the pairing programme reports, in the registry's order."""
    return [key for key, outcome in OUTCOMES.items() if outcome.pairing]


def summary_rows() -> dict[str, str]:
    """``pairsim run``'s start/end summary: outcome key to row label, in the registry's order."""
    return {key: outcome.summary for key, outcome in OUTCOMES.items() if outcome.summary is not None}
