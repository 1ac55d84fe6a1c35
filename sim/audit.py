"""The economics audit of issue 12: what pairing does to the villages it pairs, against the county's own trend, flow by flow.

Every arm of a scenario runs over the same seeds as its no-pairing baseline (common random numbers: replication
``r`` of every arm uses seed ``r``, so the county and every random draw outside pairing are shared), and every effect
is a per-seed difference from the baseline, summarised over seeds with a t interval (:func:`sim.analysis.time_series`,
:func:`sim.analysis.paired_differences`). Shares and benefit/cost are ratios of means, whose intervals come from a
bootstrap over seeds that resamples each seed's arms together.

The arms: ``baseline`` (no policies), ``pairing`` (all of them), ``near_zero`` (every policy, with the effect parameters
at the weak end of their documented prior ranges and the failure modes at the strong end, read from docs/ODD.md §9),
and one ``without_<flow>`` per planned flow (``flows.<flow>`` set to 0 in every policy). :func:`run_audit` runs them on
the executors of :mod:`sim.execute`; the table functions are pure and read only what it returns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from sim import analysis
from sim.errors import InputError
from sim.execute import free_finished_models, run_to_end
from sim.experiment import BASELINE, RunSpec, replication_seeds
from sim.pairing.config import Policy
from sim.pairing.registry import flows
from sim.scenario import Scenario, load_scenario, resolve_scenario

PAIRING = "pairing"
NEAR_ZERO = "near_zero"
WITHOUT = "without_"
EFFECT_YEARS = (3, 5, 10)
"""Years after the start at which the effect tables report (the audit's questions), those the horizon reaches;
:func:`effect_years` adds the horizon itself."""
CAPTURED_OUTCOMES = ("funds_captured", "funds_captured_pc")
"""Monthly outcomes of the funds captured by better-off households (yuan; yuan per rural resident): a transfer paid out
as their aid income, which the audit keeps apart from broad-based income gains (issue 12, point 5)."""
COUNTY_OUTCOMES = ("rural_income_pc", "gini_rural", "gini", "urban_rural_ratio")
SHAPE_MEASURES = ("rural_median_to_mean", "rural_quintile_ratio")
"""The distribution's shape (model outcomes): median over mean, and the mean income of the top fifth of rural residents
over that of the bottom fifth."""
RATIO_OUTCOME = "urban_rural_ratio"
ODD_PATH = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"

NEAR_ZERO_ENDS: dict[str, str] = {
    "pairing.effects.training_gain": "low",
    "pairing.effects.training_saturation": "low",
    "pairing.effects.cadre_leadership_gain": "low",
    "pairing.effects.cadre_lasting_share": "low",
    "pairing.effects.technology_gain": "low",
    "pairing.effects.technology_cap": "low",
    "pairing.effects.technology_depreciation": "high",
    "pairing.effects.support_return": "low",
    "pairing.effects.support_depreciation": "high",
    "pairing.effects.market_savings_cap": "low",
    "pairing.failure.formalism": "high",
    "pairing.failure.leakage": "high",
    "pairing.failure.dependency": "high",
    "pairing.failure.elite_capture": "high",
    "pairing.failure.talent_drain": "high",
    "pairing.failure.short_horizons": "high",
    "pairing.governance.accountability": "low",
    "pairing.governance.exit_support_years": "low",
    "pairing.governance.exit_taper_years": "low",
}
"""For point 12: which end of each parameter's documented prior range makes pairing weakest. Only parameters whose
row in docs/ODD.md §9 states a range take part; the rest keep their defaults (the audit lists both). Parameters whose
direction is not clear (how funds are split between channels) and donor costs (which move no income) are left out.
All are pairing parameters, which do nothing in the no-pairing baseline, so one baseline serves this arm too."""

_RANGE = re.compile(r"range\s+(-?[\d,]*\.?\d+)\s*(?:–|-|to)\s*(-?[\d,]*\.?\d+)")
_ROW_PATH = re.compile(r"^\|\s*`([^`]+)`\s*\|")


# --------------------------------------------------------------------------- arms


def documented_ranges(markdown: str) -> dict[str, tuple[float, float]]:
    """The prior range ("range LOW–HIGH") of each parameter row of docs/ODD.md's tables, by its YAML path."""
    ranges = {}
    for line in markdown.splitlines():
        path, found = _ROW_PATH.match(line), _RANGE.search(line)
        if path and found:
            low, high = (float(number.replace(",", "")) for number in found.groups())
            ranges[path.group(1)] = (min(low, high), max(low, high))
    return ranges


def near_zero_overrides(
    ranges: dict[str, tuple[float, float]], ends: dict[str, str] = NEAR_ZERO_ENDS
) -> tuple[dict[str, float], pd.DataFrame]:
    """The overrides of the near-zero arm (each parameter at its weak end) and a table saying where each value comes from."""
    rows = []
    for path, end in ends.items():
        low_high = ranges.get(path)
        value = np.nan if low_high is None else low_high[0 if end == "low" else 1]
        documented = "not documented" if low_high is None else f"{low_high[0]:g}–{low_high[1]:g}"
        rows.append({"parameter": path, "end": end, "value": value, "range": documented})
    table = pd.DataFrame(rows, columns=["parameter", "end", "value", "range"])
    overrides = {row.parameter: _number(row.value) for row in table.itertuples() if not np.isnan(row.value)}
    return overrides, table


def _number(value: float) -> int | float:
    """A whole number as an int (integer fields, years and counts, accept no 1.0), any other as a float."""
    return int(value) if float(value).is_integer() else float(value)


def planned_flows(scenario: Scenario) -> list[str]:
    """The flows some policy of ``scenario`` plans (in the registry's order)."""
    return [name for name in flows() if any(policy.flows.amount(name) > 0 for policy in scenario.pairing.policies)]


def _without_flow(scenario: Scenario, flow: str) -> tuple[list[dict[str, Any]], list[Policy]]:
    """Each policy of ``scenario`` with ``flows.<flow>`` set to 0, and the policies that cannot run so (left out)."""
    kept, dropped = [], []
    for policy in scenario.pairing.policies:
        data = policy.model_dump()
        data["flows"][flow] = 0.0
        try:
            Policy.model_validate(data)
        except ValidationError:
            dropped.append(policy)
            continue
        kept.append(data)
    return kept, dropped


def knockout_overrides(scenario: Scenario, flow: str) -> dict[str, Any]:
    """The override that switches ``flow`` off in every policy of ``scenario`` (its ``flows.<flow>`` set to 0).

    A policy whose type cannot run without the flow (first secretaries without cadre-months) is left out whole.
    """
    return {"pairing.policies": _without_flow(scenario, flow)[0]}


def knockout_note(scenario: Scenario, flow: str) -> str:
    """What knocking ``flow`` out removes besides the flow: the policies that cannot run without it (empty if none),
    so the knock-out table does not pass off a whole policy's effect as the flow's."""
    dropped = _without_flow(scenario, flow)[1]
    if not dropped:
        return ""
    types = list(dict.fromkeys(policy.type for policy in dropped))
    noun = "policy" if len(dropped) == 1 else "policies"
    return f"also removes the {' and '.join(types)} {noun}, which cannot run without {flow.replace('_', '-')}"


def audit_arms(scenario: Scenario, near_zero: dict[str, float] | None = None) -> dict[str, dict[str, Any] | None]:
    """Each arm's overrides (``None``: the baseline, which keeps no policy); only the baseline without pairing."""
    if not scenario.pairing.policies:
        return {BASELINE: None}
    arms: dict[str, dict[str, Any] | None] = {BASELINE: None, PAIRING: {}}
    if near_zero:
        arms[NEAR_ZERO] = dict(near_zero)
    for flow in planned_flows(scenario):
        arms[f"{WITHOUT}{flow}"] = knockout_overrides(scenario, flow)
    return arms


def audit_specs(
    scenario_path: str | Path, arms: dict[str, dict[str, Any] | None], seeds: Sequence[int], years: int
) -> list[RunSpec]:
    """One run per arm and seed; replication ``r`` has seed ``seeds[r]`` in every arm (common random numbers)."""
    stem = Path(scenario_path).stem
    return [
        RunSpec(
            run_id=f"{stem}__{arm}__r{replication:03d}",
            scenario=str(scenario_path),
            arm=arm,
            point=0,
            replication=replication,
            seed=seed,
            overrides={"horizon_years": years, **(overrides or {})},
            keep_policies=() if overrides is None else None,
        )
        for arm, overrides in arms.items()
        for replication, seed in enumerate(seeds)
    ]


def check_arms(scenario: Scenario, arms: dict[str, dict[str, Any] | None], source: str) -> None:
    """Apply each arm's overrides once here, so a bad one is one line of bad input, not a failure of every run."""
    for arm, overrides in arms.items():
        try:
            resolve_scenario(scenario, overrides)
        except InputError as error:
            raise InputError(source, [type(p)(f"{arm}: {p.field}", p.message) for p in error.problems]) from None


# --------------------------------------------------------------------------- one run


@dataclass
class AuditRun:
    """What one run brings back: its yearly outcomes, its villages' yearly incomes, each flow's donor cost by year and
    each village's captured funds by year (``year``: the year whose trailing 12-month incomes the month falls in)."""

    arm: str
    replication: int
    seed: int
    yearly: pd.DataFrame
    villages: pd.DataFrame
    flow_costs: pd.DataFrame
    village_captured: pd.DataFrame


def run_audit_arm(spec: RunSpec) -> AuditRun:
    """Run one arm for one seed (in a worker process); frees the model before the worker's next run."""
    started = time.perf_counter()
    try:
        return _run(spec)
    finally:
        free_finished_models(started)


def report_year(step: pd.Series | np.ndarray, start_year: int) -> pd.Series | np.ndarray:
    """The year whose trailing 12-month incomes a month's flows fall in: steps 1-12 in the start year + 1, and so on
    (step 0, the set-up, in the start year), so a flow is counted up to year Y exactly when Y's incomes can show it."""
    return start_year + (step + 11) // 12


def _run(spec: RunSpec) -> AuditRun:
    model, monthly = run_to_end(spec)
    start_year = model.spec.start_year
    yearly = monthly[monthly["month"] == 0].reset_index(drop=True)
    yearly["rural_population"] = float(model.households.size.sum())
    for outcome in CAPTURED_OUTCOMES:  # the 12 months each yearly row's incomes cover
        running = monthly[outcome].cumsum()[monthly["month"] == 0].reset_index(drop=True)
        yearly[f"{outcome}_year"] = running.diff().fillna(running.iloc[0])
    villages = model.village_dataframe()[["year", "village", "population", "income_pc", "paired"]]
    programme = model.pairing
    ledger = programme.ledger.frame()  # its cost column prices each transfer in the month it was paid
    ledger["year"] = report_year(ledger["step"], start_year)
    costs = ledger.groupby(["flow", "year"], as_index=False)[["sent", "cost"]].sum()
    funds = ledger[ledger["flow"] == "funds"].assign(village=lambda t: programme.link_table()["village"].to_numpy()[t["link"]])
    captured = funds.groupby(["year", "village"], as_index=False)["captured"].sum()
    return AuditRun(spec.arm, spec.replication, spec.seed, yearly, villages, costs, captured)


# --------------------------------------------------------------------------- all runs


@dataclass
class AuditRuns:
    """Every run of an audit, as tidy tables with ``arm``, ``replication`` and ``seed`` columns."""

    scenario: str
    start_year: int
    years: int
    yearly: pd.DataFrame
    villages: pd.DataFrame
    flow_costs: pd.DataFrame
    near_zero: pd.DataFrame = field(default_factory=pd.DataFrame)
    village_captured: pd.DataFrame = field(default_factory=pd.DataFrame)
    knockout_notes: dict[str, str] = field(default_factory=dict)

    @property
    def arms(self) -> list[str]:
        return list(pd.unique(self.yearly["arm"]))


def run_audit(
    scenario_path: str | Path,
    executor: Executor,
    seeds: int = 20,
    years: int = 10,
    root_seed: int = 1,
    odd_markdown: str | None = None,
    progress: bool = True,
    max_pending: int = 32,
) -> AuditRuns:
    """Run every arm of the audit over ``seeds`` seeds and ``years`` years on ``executor`` (:func:`sim.execute.make_executor`).

    ``odd_markdown`` is docs/ODD.md's text, whose documented ranges set the near-zero arm (None: no such arm). At most
    ``max_pending`` runs wait in the executor at a time, so the progress bar moves as they end. A run that raises stops
    the audit: every table needs every arm of every seed.
    """
    from tqdm import tqdm

    scenario = load_scenario(scenario_path).with_horizon(years)
    overrides, near_zero = near_zero_overrides(documented_ranges(odd_markdown)) if odd_markdown else ({}, pd.DataFrame())
    arms = audit_arms(scenario, overrides)
    check_arms(scenario, arms, str(scenario_path))
    specs = audit_specs(scenario_path, arms, replication_seeds(root_seed, seeds), years)
    runs: list[AuditRun] = []
    waiting, pending = iter(specs), set()
    with tqdm(
        total=len(specs), unit="run", desc=f"audit {Path(scenario_path).stem}", disable=not progress, mininterval=0.5
    ) as bar:
        try:
            while True:
                for spec in waiting:  # a bounded queue, topped up as runs end (one at a time in this process)
                    future = executor.submit(run_audit_arm, spec)
                    pending.add(future)
                    if len(pending) >= max_pending or future.done():
                        break
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    runs.append(future.result())
                    bar.update()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    runs.sort(key=lambda run: (list(arms).index(run.arm), run.replication))  # the order of the plan, not of finishing

    def gather(part: str) -> pd.DataFrame:
        frames = [getattr(run, part).assign(arm=run.arm, replication=run.replication, seed=run.seed) for run in runs]
        return pd.concat(frames, ignore_index=True)

    knocked_out = [arm.removeprefix(WITHOUT) for arm in arms if arm.startswith(WITHOUT)]
    return AuditRuns(
        Path(scenario_path).stem,
        scenario.start_year,
        years,
        gather("yearly"),
        gather("villages"),
        gather("flow_costs"),
        near_zero,
        village_captured=gather("village_captured"),
        knockout_notes={flow: note for flow in knocked_out if (note := knockout_note(scenario, flow))},
    )


# --------------------------------------------------------------------------- statistics


def ratio_interval(
    numerator: np.ndarray, denominator: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """mean(numerator) / mean(denominator) and a percentile bootstrap interval that resamples seeds (pairs kept together)."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    estimate = numerator.mean() / denominator.mean() if denominator.mean() else np.nan
    if len(numerator) < 2:
        return float(estimate), np.nan, np.nan
    picks = np.random.default_rng(seed).integers(0, len(numerator), size=(resamples, len(numerator)))
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = numerator[picks].mean(axis=1) / denominator[picks].mean(axis=1)
    low, high = np.nanquantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(estimate), float(low), float(high)


def _over_seeds(frame: pd.DataFrame, value: str, confidence: float) -> pd.DataFrame:
    """Mean of per-seed ``value`` for each arm and year, with its t interval (sim.analysis.time_series)."""
    table = analysis.time_series(frame.assign(scenario="audit", point=0), value, confidence=confidence)
    return table[["arm", "year", "n", "mean", "ci_low", "ci_high"]]


PAIRED_VILLAGE_COLUMNS = ["paired_villages", "arm_income", "baseline_income", "captured_pc", "effect_pct", "effect_net_pct"]


def paired_village_incomes(runs: AuditRuns) -> pd.DataFrame:
    """Per arm, seed and year: mean per-capita income of the villages the ``pairing`` arm has paired by then (the same
    villages in every arm, so a knock-out that drops a policy is measured where the programme works), in the arm and in
    the baseline run of the same seed, and the difference in %.

    ``captured_pc`` is the funds the better-off households of those villages captured in the 12 months the year's
    incomes cover, per resident: a transfer counted in their income yuan for yuan, so ``effect_net_pct`` (the effect
    without it) is the broad-based effect."""
    villages = runs.villages
    keys = ["replication", "year", "village"]
    paired = villages.loc[(villages["arm"] == PAIRING) & villages["paired"], keys]
    base = villages.loc[villages["arm"] == BASELINE, [*keys, "income_pc", "population"]]
    arms = villages.loc[villages["arm"] != BASELINE, ["arm", *keys, "income_pc", "population"]]
    both = arms.merge(paired, on=keys).merge(base, on=keys, suffixes=("", "_base"), validate="many_to_one")
    captured = runs.village_captured
    if captured.empty:
        both["captured"] = 0.0
    else:
        both = both.merge(captured[["arm", *keys, "captured"]], on=["arm", *keys], how="left", validate="one_to_one")
        both["captured"] = both["captured"].fillna(0.0)
    both["income"] = both["income_pc"] * both["population"]
    both["income_base"] = both["income_pc_base"] * both["population_base"]
    groups = both.groupby(["arm", "replication", "year"], sort=False)
    sums = groups[["income", "population", "income_base", "population_base", "captured"]].sum()
    table = sums.join(groups.size().rename("paired_villages"))
    table["arm_income"] = table["income"] / table["population"]
    table["baseline_income"] = table["income_base"] / table["population_base"]
    table["captured_pc"] = table["captured"] / table["population"]
    table["effect_pct"] = 100.0 * (table["arm_income"] / table["baseline_income"] - 1.0)
    table["effect_net_pct"] = 100.0 * ((table["arm_income"] - table["captured_pc"]) / table["baseline_income"] - 1.0)
    table = table.reset_index()
    table["years"] = table["year"] - runs.start_year
    return table[["arm", "replication", "year", "years", *PAIRED_VILLAGE_COLUMNS]]


def effect_years(horizon: int) -> list[int]:
    """The years after the start the effect tables report: 3, 5 and 10 where the horizon reaches, and the horizon."""
    return sorted({years for years in EFFECT_YEARS if years <= horizon} | {horizon})


def paired_village_effects(runs: AuditRuns, confidence: float = 0.95) -> pd.DataFrame:
    """The paired-village income effect (%) of each arm at 3, 5 and 10 years, with a paired interval over seeds, and
    the same effect net of the funds captured by the better-off (``effect_net_pct``, with its interval)."""
    columns = ["arm", "years", "n", "paired_villages", "arm_income", "baseline_income", "captured_pc", "effect_pct",
               "ci_low", "ci_high", "effect_net_pct", "net_ci_low", "net_ci_high"]  # fmt: skip
    per_seed = paired_village_incomes(runs)
    per_seed = per_seed[per_seed["years"].isin(effect_years(runs.years))]
    if per_seed.empty:
        return pd.DataFrame(columns=columns)
    summary = _over_seeds(per_seed, "effect_pct", confidence).rename(columns={"mean": "effect_pct"})
    net = _over_seeds(per_seed, "effect_net_pct", confidence)[["arm", "year", "mean", "ci_low", "ci_high"]]
    net = net.rename(columns={"mean": "effect_net_pct", "ci_low": "net_ci_low", "ci_high": "net_ci_high"})
    levels = per_seed.groupby(["arm", "year"], sort=False)[
        ["years", "paired_villages", "arm_income", "baseline_income", "captured_pc"]
    ].mean()
    table = summary.merge(net, on=["arm", "year"]).merge(levels.reset_index(), on=["arm", "year"])
    table["years"] = table["years"].astype(int)
    return table[columns]


def _final(yearly: pd.DataFrame, years: int, start_year: int) -> pd.DataFrame:
    return yearly[yearly["year"] == start_year + years]


def county_effects(runs: AuditRuns, outcomes: Sequence[str] = COUNTY_OUTCOMES, confidence: float = 0.95) -> pd.DataFrame:
    """Each arm's effect on county outcomes at the horizon, next to the baseline's own change from the start.

    ``effect_to_trend`` is the effect over the baseline's change: 1 means pairing moves the outcome as much as the
    county's ten years without it.
    """
    yearly = runs.yearly.assign(scenario=runs.scenario, point=0)
    outcomes = [outcome for outcome in outcomes if outcome in yearly.columns]
    base = yearly[yearly["arm"] == BASELINE]
    start = base[base["year"] == runs.start_year].set_index("replication")[outcomes]
    end = _final(base, runs.years, runs.start_year).set_index("replication")[outcomes]
    change = (end - start).reset_index().melt(id_vars="replication", var_name="outcome", value_name="change")
    trend = (
        change.groupby("outcome")["change"]
        .apply(lambda values: pd.Series(_mean_and_interval(values.to_numpy(), confidence)))
        .unstack()
        .rename(columns={"mean": "baseline_change", "ci_low": "change_ci_low", "ci_high": "change_ci_high"})
        .reindex(outcomes)
    )
    trend.index.name = "outcome"
    trend["baseline_start"] = start.mean()
    trend["baseline_end"] = end.mean()
    rows = []
    for arm in [arm for arm in runs.arms if arm in (PAIRING, NEAR_ZERO)]:
        final = _final(yearly[yearly["arm"].isin([arm, BASELINE])], runs.years, runs.start_year)
        effect = analysis.paired_differences(final, baseline=BASELINE, outcomes=outcomes, confidence=confidence)
        rows.append(effect[["arm", "outcome", "n", "difference", "ci_low", "ci_high"]].rename(columns={"difference": "effect"}))
    if not rows:
        table = trend.reset_index().assign(arm=BASELINE, n=len(start), effect=np.nan, ci_low=np.nan, ci_high=np.nan)
    else:
        table = pd.concat(rows, ignore_index=True).merge(trend.reset_index(), on="outcome")
    table["effect_to_trend"] = table["effect"] / table["baseline_change"]
    columns = ["arm", "outcome", "n", "baseline_start", "baseline_end", "baseline_change", "change_ci_low", "change_ci_high",
               "effect", "ci_low", "ci_high", "effect_to_trend"]  # fmt: skip
    return table[columns]


def _mean_and_interval(values: np.ndarray, confidence: float) -> dict[str, float]:
    frame = pd.DataFrame({"per_seed": values, "arm": "", "year": 0})
    row = _over_seeds(frame, "per_seed", confidence).iloc[0]
    return {"mean": row["mean"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}


def income_gained(runs: AuditRuns, years: int | None = None) -> pd.DataFrame:
    """Per arm and seed, over the first ``years`` years (None: the horizon), against the same seed's baseline:
    ``captured``, the funds the better-off captured (yuan; a transfer paid out as their aid income, so counted in rural
    income yuan for yuan), and ``gained``, the broad-based rural income gained (yuan, all rural residents): the sum over
    years 1..``years`` of the difference in per-capita income times the rural population, less ``captured``."""
    last = runs.start_year + (runs.years if years is None else years)
    yearly = runs.yearly[(runs.yearly["year"] > runs.start_year) & (runs.yearly["year"] <= last)]
    columns = ["replication", "year", "rural_income_pc", "funds_captured_year"]
    base = yearly[yearly["arm"] == BASELINE][columns]
    arms = yearly[yearly["arm"] != BASELINE][["arm", *columns, "rural_population"]]
    both = arms.merge(base, on=["replication", "year"], suffixes=("", "_base"), validate="many_to_one")
    both["captured"] = both["funds_captured_year"] - both["funds_captured_year_base"]
    income_change = (both["rural_income_pc"] - both["rural_income_pc_base"]) * both["rural_population"]
    both["gained"] = income_change - both["captured"]
    return both.groupby(["arm", "replication"], sort=False)[["gained", "captured"]].sum().reset_index()


def knockout_table(runs: AuditRuns, confidence: float = 0.95) -> pd.DataFrame:
    """Each planned flow switched off in every policy: the paired-village effect without it, its share of the full
    effect (1 − without / full), its donor cost in the full arm and the broad-based rural income it adds per yuan of that
    cost, each up to the row's year (3, 5, 10 years and the horizon).

    The first row, ``all flows``, is the full programme: its whole donor cost (lost output of donor villages included).
    ``captured_yuan`` is the funds the better-off captured, which ``income_gained_yuan`` and ``benefit_cost`` leave out;
    ``note`` says what else a knock-out removes (a policy that cannot run without the flow).
    """
    if PAIRING not in runs.arms:
        return pd.DataFrame()
    per_seed = paired_village_incomes(runs)
    knockouts = [arm for arm in runs.arms if arm.startswith(WITHOUT)]
    full_arm = runs.flow_costs[runs.flow_costs["arm"] == PAIRING]
    rows = []
    for years in effect_years(runs.years):
        last = runs.start_year + years
        gains = income_gained(runs, years).pivot(index="replication", columns="arm")
        gained, captured = gains["gained"], gains["captured"]
        upto = full_arm[full_arm["year"] <= last]
        costs = upto.pivot_table(index="replication", columns="flow", values="cost", aggfunc="sum")
        costs = costs.reindex(gained.index, fill_value=0.0).fillna(0.0)
        at_year = runs.yearly[(runs.yearly["arm"] == PAIRING) & (runs.yearly["year"] == last)]
        total_cost = at_year.set_index("replication")["donor_cost_total"].loc[gained.index]
        effects = per_seed[per_seed["years"] == years].pivot(index="replication", columns="arm", values="effect_pct")
        full = effects[PAIRING]
        benefit_cost = ratio_interval(gained[PAIRING], total_cost, confidence)
        rows.append(
            _knockout_row(
                "all flows", years, full, full, total_cost, gained[PAIRING], captured[PAIRING], benefit_cost, "", confidence
            )
        )
        for arm in knockouts:
            flow = arm.removeprefix(WITHOUT)
            added = gained[PAIRING] - gained[arm]
            cost = costs[flow] if flow in costs else pd.Series(0.0, index=gained.index)
            benefit_cost = ratio_interval(added, cost, confidence)
            note = runs.knockout_notes.get(flow, "")
            extra = captured[PAIRING] - captured[arm]
            rows.append(_knockout_row(flow, years, effects[arm], full, cost, added, extra, benefit_cost, note, confidence))
    return pd.DataFrame(rows)


def _knockout_row(
    flow: str,
    years: int,
    effect: pd.Series,
    full: pd.Series,
    cost: pd.Series,
    added: pd.Series,
    captured: pd.Series,
    benefit_cost: tuple[float, float, float],
    note: str,
    confidence: float,
) -> dict[str, Any]:
    """One row of the knock-out table (``effect``: per-seed % effect of the arm; ``full``: of the full programme)."""
    share, share_low, share_high = ratio_interval((full - effect).to_numpy(), full.to_numpy(), confidence)
    interval = _mean_and_interval(effect.to_numpy(), confidence)
    return {
        "flow": flow,
        "years": years,
        "n": len(effect),
        "effect_pct": interval["mean"],
        "ci_low": interval["ci_low"],
        "ci_high": interval["ci_high"],
        "share_of_effect": share if flow != "all flows" else 1.0,
        "share_ci_low": share_low if flow != "all flows" else np.nan,
        "share_ci_high": share_high if flow != "all flows" else np.nan,
        "donor_cost_yuan": float(cost.mean()),
        "income_gained_yuan": float(added.mean()),
        "captured_yuan": float(captured.mean()),
        "benefit_cost": benefit_cost[0],
        "benefit_cost_ci_low": benefit_cost[1],
        "benefit_cost_ci_high": benefit_cost[2],
        "note": note,
    }


def distribution_shape(runs: AuditRuns, confidence: float = 0.95) -> pd.DataFrame:
    """Rural median/mean, top/bottom person-quintile ratio and rural Gini at the start and the horizon, per arm."""
    yearly = runs.yearly[runs.yearly["arm"].isin([BASELINE, PAIRING])]
    yearly = yearly[yearly["year"].isin([runs.start_year, runs.start_year + runs.years])]
    measures = [measure for measure in (*SHAPE_MEASURES, "gini_rural") if measure in yearly.columns]
    long = yearly.melt(id_vars=["arm", "replication", "year"], value_vars=measures, var_name="measure")
    rows = []
    for (arm, year, measure), group in long.groupby(["arm", "year", "measure"], sort=False):
        rows.append(
            {
                "arm": arm,
                "year": year,
                "measure": measure,
                "n": len(group),
                **_mean_and_interval(group["value"].to_numpy(), confidence),
            }
        )
    table = pd.DataFrame(rows)
    table["measure"] = pd.Categorical(table["measure"], categories=measures)
    return table.sort_values(["measure", "arm", "year"], ignore_index=True).assign(measure=lambda t: t["measure"].astype(str))


def out_of_sample(runs: AuditRuns, year: int, observed: float, confidence: float = 0.95) -> pd.DataFrame:
    """The urban/rural ratio predicted for ``year`` with and without pairing against the ``observed`` one, and the
    share of the fall from the start year that is pairing: (baseline − pairing) / (start − pairing) at ``year``."""
    yearly = runs.yearly
    if not runs.start_year < year <= runs.start_year + runs.years:
        raise ValueError(f"year {year} is not within the run ({runs.start_year + 1}–{runs.start_year + runs.years})")

    def ratio(arm: str, at: int) -> pd.Series:
        rows = yearly[(yearly["arm"] == arm) & (yearly["year"] == at)]
        return rows.set_index("replication")[RATIO_OUTCOME].sort_index()

    start, base = ratio(BASELINE, runs.start_year), ratio(BASELINE, year)
    rows = [(f"observed, {year}", observed, np.nan, np.nan)]
    rows.append((f"start, {runs.start_year}", *_mean_and_interval(start.to_numpy(), confidence).values()))
    rows.append((f"without pairing, {year}", *_mean_and_interval(base.to_numpy(), confidence).values()))
    if PAIRING in runs.arms:
        paired = ratio(PAIRING, year)
        rows.append((f"with pairing, {year}", *_mean_and_interval(paired.to_numpy(), confidence).values()))
        rows.append((f"pairing effect, {year}", *_mean_and_interval((paired - base).to_numpy(), confidence).values()))
        share = ratio_interval((base - paired).to_numpy(), (start - paired).to_numpy(), confidence)
        rows.append((f"share of the fall {runs.start_year}–{year} that is pairing", *share))
    return pd.DataFrame(rows, columns=["quantity", "mean", "ci_low", "ci_high"])


# --------------------------------------------------------------------------- the tables, written


@dataclass
class AuditTables:
    """The audit's tables, each a tidy DataFrame (the CSV files) with a Markdown rendering (audit.md)."""

    scenario: str
    tables: dict[str, pd.DataFrame]
    notes: list[str]


def audit_tables(runs: AuditRuns, observed_ratio: tuple[int, float] | None = None) -> AuditTables:
    """Every table of the audit from its runs; ``observed_ratio`` = (year, observed urban/rural ratio) for point 14."""
    notes = []
    tables = {"county_effects": county_effects(runs), "distribution_shape": distribution_shape(runs)}
    if PAIRING in runs.arms:
        tables = {"paired_village_effects": paired_village_effects(runs), **tables, "knockouts": knockout_table(runs)}
        notes.append(
            "Funds captured by the better-off households reach them as transfer income, counted yuan for yuan: the "
            "paired-village effect_pct includes them (captured_pc, yuan per resident a year), effect_net_pct does not; "
            "the knock-outs' income_gained_yuan and benefit_cost leave them out (captured_yuan)."
        )
        notes += [
            f"Knock-out of {flow}: {note}, so its row is the flow and that policy together."
            for flow, note in runs.knockout_notes.items()
        ]
    else:
        notes.append(f"{runs.scenario} plans no pairing: only its no-pairing trend and distribution are shown.")
    if PAIRING in runs.arms and not runs.near_zero.empty:
        tables["near_zero_overrides"] = runs.near_zero
        if NEAR_ZERO not in runs.arms:
            notes.append("No parameter of the near-zero set has a documented range yet, so there is no near-zero arm.")
    if observed_ratio is not None:
        tables["out_of_sample"] = out_of_sample(runs, *observed_ratio)
    return AuditTables(runs.scenario, tables, notes)


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table of ``frame`` (floats to 4 significant digits, thousands separated)."""

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def write_tables(tables: AuditTables, out_dir: Path, header: Iterable[str] = ()) -> list[Path]:
    """Write each table as ``<name>.csv`` and all of them as ``audit.md``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    parts = [f"# Audit: {tables.scenario}", *header, *tables.notes]
    for name, table in tables.tables.items():
        path = out_dir / f"{name}.csv"
        table.to_csv(path, index=False)
        written.append(path)
        parts += [f"## {name}", markdown_table(table)]
    (out_dir / "audit.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return [*written, out_dir / "audit.md"]


__all__ = [
    "AuditRuns",
    "AuditTables",
    "audit_arms",
    "audit_tables",
    "county_effects",
    "distribution_shape",
    "documented_ranges",
    "knockout_table",
    "near_zero_overrides",
    "out_of_sample",
    "paired_village_effects",
    "ratio_interval",
    "run_audit",
    "write_tables",
]
