"""Statistics on an experiment's tidy results table (one row per run and simulated year).

Pure functions: policy effects paired by common random numbers, cost-effectiveness, Sobol'
and Morris sensitivity indices (SALib) and yearly means with t intervals, each a tidy DataFrame;
and, from one run's ledger and links tables, who funds whom (:func:`funds_by_donor_kind`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sim.outcome_registry import OUTCOMES, analysed_outcomes

__all__ = [
    "COST_COLUMNS",
    "IDENTIFIER_COLUMNS",
    "RECIPIENT_CLASSES",
    "better_direction",
    "cost_effectiveness",
    "default_outcomes",
    "final_year",
    "funds_by_donor_kind",
    "morris_indices",
    "paired_differences",
    "posterior_differences",
    "ranking_robustness",
    "sobol_indices",
    "time_series",
    "unpaired_differences",
]

IDENTIFIER_COLUMNS: tuple[str, ...] = ("run_id", "scenario", "arm", "point", "replication", "seed")
"""Columns that name a run (plus one ``param:<dotted.path>`` column per swept parameter)."""

PARAM_PREFIX = "param:"

COST_COLUMNS: tuple[str, ...] = (
    "funds_sent_total",
    "funds_lost_total",
    "donor_cost_total",
    "trainees_total",
    "jobs_created_total",
)
"""Cumulative flows since the start year (0 for the baseline arm); never a default outcome."""

_PAIR_KEYS = ["scenario", "point", "replication"]
_CELL = ["scenario", "point", "arm"]


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str = "results") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(frame.columns)}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")


def _half_width(std_error: pd.Series | np.ndarray, df: pd.Series | np.ndarray, confidence: float) -> np.ndarray:
    """t critical value × standard error; NaN where df < 1 (fewer than two observations)."""
    df = np.asarray(df, dtype=float)
    se = np.asarray(std_error, dtype=float)
    crit = np.full(df.shape, np.nan)
    ok = np.isfinite(df) & (df >= 1)
    crit[ok] = stats.t.ppf(0.5 + confidence / 2.0, df[ok])
    return crit * se


def _safe_ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, NaN where den is 0 or NaN (never ±inf)."""
    den = den.astype(float)
    return (num / den.where(den != 0)).astype(float)


def default_outcomes(results: pd.DataFrame) -> list[str]:
    """The outcomes analysed by default (:func:`sim.outcome_registry.analysed_outcomes`) present in ``results``
    (identifiers, year, step, ``param:`` and the cumulative ``*_total`` columns are never outcomes)."""
    return [c for c in analysed_outcomes() if c in results.columns]


def _outcomes(results: pd.DataFrame, outcomes: str | Sequence[str] | None) -> list[str]:
    if outcomes is None:
        chosen = default_outcomes(results)
        if not chosen:
            raise ValueError(f"results has none of the standard outcomes {analysed_outcomes()}; pass outcomes=")
        return chosen
    chosen = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    if not chosen:
        raise ValueError("outcomes is empty")
    _require(results, chosen)
    return chosen


def _param_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if isinstance(c, str) and c.startswith(PARAM_PREFIX)]


def _ordered(frame: pd.DataFrame, reference: pd.DataFrame, outcome_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Sort by scenario and arm in order of first appearance in ``reference``, then point
    (numeric) and outcome (in ``outcome_order``)."""
    keys: list[str] = []
    sort = frame.copy()
    for col in ("scenario", "point", "arm", "year", "outcome"):
        if col not in sort.columns:
            continue
        keys.append(col)
        if col in ("scenario", "arm"):
            order = list(pd.unique(reference[col]))
            sort[col] = pd.Categorical(sort[col], categories=order + [v for v in pd.unique(sort[col]) if v not in order])
        elif col == "outcome" and outcome_order is not None:
            sort[col] = pd.Categorical(sort[col], categories=list(outcome_order))
    index = sort.sort_values(keys, kind="stable").index
    return frame.loc[index].reset_index(drop=True)


def _final(results: pd.DataFrame) -> pd.DataFrame:
    """Final-year rows, checked: one run per (scenario, arm, point, replication)."""
    _require(results, ["scenario", "arm", "point", "replication", "year"])
    final = final_year(results)
    dup = final.duplicated(["scenario", "arm", "point", "replication"], keep=False)
    if dup.any():
        example = final.loc[dup, ["scenario", "arm", "point", "replication"]].iloc[0].to_dict()
        raise ValueError(f"several runs share scenario/arm/point/replication (e.g. {example}); cannot pair them")
    return final


def _check_baselines(final: pd.DataFrame, baseline: str) -> None:
    """ValueError naming every (scenario, point) that has arm runs but no baseline run."""
    arms = final.loc[final["arm"] != baseline, ["scenario", "point"]].drop_duplicates()
    base = final.loc[final["arm"] == baseline, ["scenario", "point"]].drop_duplicates()
    lacking = arms.merge(base, how="left", indicator=True).query("_merge == 'left_only'")
    if len(lacking):
        cells = ", ".join(f"scenario {s!r} point {p}" for s, p in zip(lacking["scenario"], lacking["point"], strict=True))
        raise ValueError(f"no baseline arm {baseline!r} run for {cells}; every scenario and design point needs one")


def _cell_params(final: pd.DataFrame) -> pd.DataFrame:
    """Swept parameter values of each (scenario, point, arm) cell (first run's values)."""
    params = _param_columns(final)
    return final.groupby(_CELL, sort=False)[params].first().reset_index() if params else final[_CELL].drop_duplicates()


def _pairs(final: pd.DataFrame, baseline: str, columns: Sequence[str]) -> pd.DataFrame:
    """Arm runs joined with the baseline run of the same (scenario, point, replication) and
    final year; baseline values get the suffix ``__base``. Runs without a partner drop out."""
    arm = final.loc[final["arm"] != baseline, [*_PAIR_KEYS, "arm", "year", *columns]]
    base = final.loc[final["arm"] == baseline, [*_PAIR_KEYS, "year", *columns]]
    return arm.merge(base, on=[*_PAIR_KEYS, "year"], how="inner", suffixes=("", "__base"))


def _long_differences(pairs: pd.DataFrame, outcomes: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """The :func:`_pairs` table in long form, one row per pair and outcome: ``keys``, outcome, arm_value, base_value and
    d = arm − baseline; a pair whose outcome is NaN in either run is dropped."""
    pieces = []
    for outcome in outcomes:
        piece = pairs[list(keys)].copy()
        piece["outcome"] = outcome
        piece["arm_value"] = pairs[outcome].astype(float)
        piece["base_value"] = pairs[f"{outcome}__base"].astype(float)
        pieces.append(piece.dropna(subset=["arm_value", "base_value"]))
    long = pd.concat(pieces, ignore_index=True)
    long["d"] = long["arm_value"] - long["base_value"]
    return long


def _cells(final: pd.DataFrame, baseline: str) -> pd.DataFrame:
    return final.loc[final["arm"] != baseline, _CELL].drop_duplicates()


# --------------------------------------------------------------------------- #
# Public functions
# --------------------------------------------------------------------------- #


def final_year(results: pd.DataFrame) -> pd.DataFrame:
    """The last year's row of each run (largest ``year``; runs named by ``run_id``, or by
    scenario/arm/point/replication if there is no ``run_id``), in the table's row order.

    Outcomes there are end-of-horizon levels; ``*_total`` columns are totals over the whole run.
    """
    _require(results, ["year"])
    run_keys = ["run_id"] if "run_id" in results.columns else ["scenario", "arm", "point", "replication"]
    _require(results, run_keys)
    frame = results.reset_index(drop=True)
    if frame.empty:
        return frame
    last = frame.groupby(run_keys, sort=False, dropna=False)["year"].idxmax()
    return frame.loc[np.sort(last.to_numpy())].reset_index(drop=True)


def paired_differences(
    results: pd.DataFrame,
    baseline: str = "baseline",
    outcomes: str | Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Effect of each arm on each outcome at the final year, paired by common random numbers.

    Each arm run is joined with the ``baseline`` run of the same (scenario, point, replication)
    that ends in the same year; with d_r = arm_r − baseline_r over the n pairs:
    ``difference`` = mean(d), ``std_error`` = sd(d) / √n (sd with n−1 denominator),
    ``ci_low/ci_high`` = difference ∓ t_{(1+confidence)/2, n−1} · std_error (the interval of
    ``scipy.stats.ttest_rel``), ``relative`` = difference / baseline_mean (NaN if that is 0).
    ``arm_mean`` and ``baseline_mean`` are over the same pairs, so difference = arm_mean − baseline_mean.

    Runs without a partner (a failed or cut-short run) and pairs with a NaN outcome are dropped;
    ``n`` counts the pairs left (0 gives NaN statistics, 1 a NaN interval). Shared noise cancels
    in d, which is why these intervals are much narrower than :func:`unpaired_differences`.

    Columns: scenario, point, arm, param:* (if swept), outcome, n, arm_mean, baseline_mean,
    difference, std_error, df, ci_low, ci_high, relative. Raises ValueError when an arm's
    (scenario, point) has no baseline run at all.
    """
    _check_confidence(confidence)
    chosen = _outcomes(results, outcomes)
    final = _final(results)
    _check_baselines(final, baseline)
    long = _long_differences(_pairs(final, baseline, chosen), chosen, _CELL)
    grouped = long.groupby([*_CELL, "outcome"], sort=False)
    table = pd.DataFrame(
        {
            "n": grouped["d"].size(),
            "arm_mean": grouped["arm_value"].mean(),
            "baseline_mean": grouped["base_value"].mean(),
            "difference": grouped["d"].mean(),
            "sd": grouped["d"].std(ddof=1),
        }
    ).reset_index()

    # Every (cell, outcome), even those with no pair left (n = 0).
    grid = _cells(final, baseline).merge(pd.DataFrame({"outcome": chosen}), how="cross")
    table = grid.merge(table, on=[*_CELL, "outcome"], how="left")
    table["n"] = table["n"].fillna(0).astype(int)
    table["std_error"] = table["sd"] / np.sqrt(table["n"].where(table["n"] > 0))
    table["df"] = (table["n"] - 1).astype(float).where(table["n"] > 1)
    half = _half_width(table["std_error"], table["df"], confidence)
    table["ci_low"] = table["difference"] - half
    table["ci_high"] = table["difference"] + half
    table["relative"] = _safe_ratio(table["difference"], table["baseline_mean"])
    table = _cell_params(final).merge(table, on=_CELL, how="right")
    columns = [*_CELL, *_param_columns(final), "outcome", "n", "arm_mean", "baseline_mean", "difference",
               "std_error", "df", "ci_low", "ci_high", "relative"]  # fmt: skip
    return _ordered(table[columns], final, chosen)


def unpaired_differences(
    results: pd.DataFrame,
    baseline: str = "baseline",
    outcomes: str | Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Arm − baseline final-year difference ignoring the pairing (Welch's two-sample t).

    Uses every run's final-year value: ``difference`` = mean(arm) − mean(baseline),
    ``std_error`` = √(s_a²/n_a + s_b²/n_b), Welch–Satterthwaite
    ``df`` = se⁴ / ((s_a²/n_a)²/(n_a−1) + (s_b²/n_b)²/(n_b−1)), interval difference ∓ t_df · se
    (the interval of ``scipy.stats.ttest_ind(equal_var=False)``). Same columns as
    :func:`paired_differences`, with ``n`` = arm runs and an extra ``n_baseline``; the point of
    it is comparison: with common random numbers the paired standard error is far smaller.
    """
    _check_confidence(confidence)
    chosen = _outcomes(results, outcomes)
    final = _final(results)
    _check_baselines(final, baseline)

    long = final.melt(id_vars=_CELL, value_vars=chosen, var_name="outcome", value_name="value").dropna(subset=["value"])
    long["value"] = long["value"].astype(float)
    is_base = long["arm"] == baseline
    g_arm = long[~is_base].groupby([*_CELL, "outcome"], sort=False)["value"]
    g_base = long[is_base].groupby(["scenario", "point", "outcome"], sort=False)["value"]
    arm = pd.DataFrame({"n": g_arm.size(), "arm_mean": g_arm.mean(), "var_a": g_arm.var(ddof=1)}).reset_index()
    base = pd.DataFrame({"n_baseline": g_base.size(), "baseline_mean": g_base.mean(), "var_b": g_base.var(ddof=1)}).reset_index()

    grid = _cells(final, baseline).merge(pd.DataFrame({"outcome": chosen}), how="cross")
    table = grid.merge(arm, on=[*_CELL, "outcome"], how="left").merge(base, on=["scenario", "point", "outcome"], how="left")
    for col in ("n", "n_baseline"):
        table[col] = table[col].fillna(0).astype(int)
    va = table["var_a"] / table["n"].where(table["n"] > 0)
    vb = table["var_b"] / table["n_baseline"].where(table["n_baseline"] > 0)
    table["difference"] = table["arm_mean"] - table["baseline_mean"]
    table["std_error"] = np.sqrt(va + vb)
    welch_df = (va + vb) ** 2 / (va**2 / (table["n"] - 1) + vb**2 / (table["n_baseline"] - 1))
    # Both samples constant: se = 0 and the df formula is 0/0; any df then gives a zero-width interval.
    table["df"] = welch_df.where((va + vb) > 0, (table["n"] + table["n_baseline"] - 2).astype(float))
    table.loc[(table["n"] < 2) | (table["n_baseline"] < 2), "df"] = np.nan
    half = _half_width(table["std_error"], table["df"], confidence)
    table["ci_low"] = table["difference"] - half
    table["ci_high"] = table["difference"] + half
    table["relative"] = _safe_ratio(table["difference"], table["baseline_mean"])
    table = _cell_params(final).merge(table, on=_CELL, how="right")
    columns = [*_CELL, *_param_columns(final), "outcome", "n", "n_baseline", "arm_mean", "baseline_mean",
               "difference", "std_error", "df", "ci_low", "ci_high", "relative"]  # fmt: skip
    return _ordered(table[columns], final, chosen)


def cost_effectiveness(
    results: pd.DataFrame,
    baseline: str = "baseline",
    outcome: str = "gini",
    cost: str = "donor_cost_total",
    confidence: float = 0.95,
    higher_is_better: bool = False,
) -> pd.DataFrame:
    """Cost of each arm per unit of improvement in ``outcome``, paired by replication.

    The default cost is the donors' cumulative cost of every flow (``donor_cost_total``: funds,
    training, hiring, cadre time, techniques, market access, problems solved), as in ``pairsim
    summarize`` and the report; it was the funds sent alone (``funds_sent_total``), which made arms
    whose flows are not money look free. Pass ``cost="funds_sent_total"`` for results made before
    runs recorded the donor cost.

    Over the n pairs (arm run, baseline run of the same scenario/point/replication):
    ``cost`` = mean(cost_arm − cost_base) of the final year's cumulative ``cost`` column (the
    arm's own total, the baseline spending nothing; a NaN baseline cost counts as 0),
    ``reduction`` = mean(outcome_base − outcome_arm) (positive = the gap narrowed; with
    ``higher_is_better`` it is arm − baseline, e.g. income gained), with a paired t interval
    (``reduction_se``, ``reduction_ci_low/high``, n−1 df) as in :func:`paired_differences`.
    ``cost_per_unit`` = cost / reduction, in cost units (yuan, or people for trainees/jobs)
    per unit of the outcome (per 1.0 of Gini, per yuan of income gap);
    ``cost_per_0.001`` = cost_per_unit × 0.001, the readable figure for Gini/Theil-type indices
    ("yuan per 0.001 Gini"). Both are NaN, and ``note`` says why, when the interval includes 0
    ("no significant reduction"), lies below 0 ("significant worsening") or cannot be formed
    ("fewer than 2 pairs"); ``note`` is "" otherwise.

    Columns: scenario, point, arm, param:*, outcome, cost_column, n, cost, arm_mean,
    baseline_mean, reduction, reduction_se, reduction_ci_low, reduction_ci_high,
    cost_per_unit, cost_per_0.001, note.
    """
    _check_confidence(confidence)
    _require(results, [outcome, cost])
    final = _final(results)
    _check_baselines(final, baseline)
    columns = [outcome] if outcome == cost else [outcome, cost]
    pairs = _pairs(final, baseline, columns)
    pairs[f"{cost}__base"] = pairs[f"{cost}__base"].fillna(0.0)
    pairs = pairs.dropna(subset=[outcome, f"{outcome}__base", cost])
    sign = 1.0 if higher_is_better else -1.0
    pairs["_gain"] = sign * (pairs[outcome].astype(float) - pairs[f"{outcome}__base"].astype(float))
    pairs["_cost"] = pairs[cost].astype(float) - pairs[f"{cost}__base"].astype(float)
    grouped = pairs.groupby(_CELL, sort=False)
    table = pd.DataFrame(
        {
            "n": grouped["_gain"].size(),
            "cost": grouped["_cost"].mean(),
            "arm_mean": grouped[outcome].mean(),
            "baseline_mean": grouped[f"{outcome}__base"].mean(),
            "reduction": grouped["_gain"].mean(),
            "sd": grouped["_gain"].std(ddof=1),
        }
    ).reset_index()
    table = _cells(final, baseline).merge(table, on=_CELL, how="left")
    table["n"] = table["n"].fillna(0).astype(int)
    table["outcome"] = outcome
    table["cost_column"] = cost
    table["reduction_se"] = table["sd"] / np.sqrt(table["n"].where(table["n"] > 0))
    half = _half_width(table["reduction_se"], (table["n"] - 1).astype(float).where(table["n"] > 1), confidence)
    table["reduction_ci_low"] = table["reduction"] - half
    table["reduction_ci_high"] = table["reduction"] + half

    no_interval = table["reduction_ci_low"].isna() | table["reduction_ci_high"].isna()
    significant = ~no_interval & (table["reduction_ci_low"] > 0)
    worse = ~no_interval & (table["reduction_ci_high"] < 0)
    table["note"] = np.select(
        [no_interval, worse, ~significant],
        ["fewer than 2 pairs", "significant worsening", "no significant reduction"],
        default="",
    )
    table["cost_per_unit"] = (table["cost"] / table["reduction"]).where(significant)
    table["cost_per_0.001"] = table["cost_per_unit"] * 0.001
    table = _cell_params(final).merge(table, on=_CELL, how="right")
    columns = [*_CELL, *_param_columns(final), "outcome", "cost_column", "n", "cost", "arm_mean", "baseline_mean",
               "reduction", "reduction_se", "reduction_ci_low", "reduction_ci_high", "cost_per_unit",
               "cost_per_0.001", "note"]  # fmt: skip
    return _ordered(table[columns], final)


# --------------------------------------------------------------------------- #
# Experiments driven by a posterior sample: parameter uncertainty versus noise
# --------------------------------------------------------------------------- #

RANK_HOLDS = 0.9
"""An arm's ranking "holds" when it keeps its overall rank in at least this share of the posterior draws (issue 13)."""


def better_direction(outcome: str) -> int:
    """-1 when lower values of ``outcome`` are better (inequality, gaps, poverty, weak villages), +1 when higher are
    (rural incomes), as the outcome registry's ``better`` says (one place, so a new outcome states it once);
    ValueError for an outcome without an agreed direction (urban incomes, migration, leadership, costs)."""
    better = OUTCOMES[outcome].better if outcome in OUTCOMES else None
    if better is None:
        raise ValueError(f"outcome {outcome!r} has no agreed better direction; pass higher_is_better=")
    return 1 if better == "higher" else -1


def _draw_effects(results: pd.DataFrame, baseline: str, outcomes: Sequence[str]) -> pd.DataFrame:
    """Long table of paired final-year effects: scenario, point, arm, outcome, draw, replication, d (arm − baseline of
    the same replication, hence the same posterior draw and seed), arm_value, base_value; NaN pairs dropped."""
    _require(results, ["draw"], "results (a posterior experiment's runs have a 'draw' column)")
    final = _final(results)
    _check_baselines(final, baseline)
    pairs = _pairs(final, baseline, [*outcomes, "draw"])
    mismatched = pairs["draw"] != pairs["draw__base"]
    if mismatched.any():
        row = pairs.loc[mismatched].iloc[0]
        raise ValueError(
            f"replication {row['replication']} ran draw {row['draw']} in arm {row['arm']!r} but another in the baseline"
        )
    return _long_differences(pairs, outcomes, [*_CELL, "draw", "replication"])


def _one_way_anova(d: pd.Series, draw: pd.Series) -> dict[str, float]:
    """One-way random-effects ANOVA of effects ``d`` grouped by posterior ``draw`` (see :func:`posterior_differences`)."""
    groups = d.groupby(draw.to_numpy())
    sizes, means = groups.size().to_numpy(float), groups.mean().to_numpy(float)
    n, draws = float(sizes.sum()), len(sizes)
    within = float(((d - groups.transform("mean")) ** 2).sum())
    ms_within = within / (n - draws) if n > draws else np.nan
    ms_between = float((sizes * (means - d.mean()) ** 2).sum()) / (draws - 1) if draws > 1 else np.nan
    seeds = (n - (sizes**2).sum() / n) / (draws - 1) if draws > 1 else np.nan  # n0; S when every draw has S seeds
    var_noise = ms_within
    var_param = max(0.0, (ms_between - ms_within) / seeds) if np.isfinite(ms_between - ms_within) else np.nan
    return {
        "draws": draws,
        "seeds": seeds,
        "difference": float(means.mean()),
        "std_error": float(np.std(means, ddof=1) / np.sqrt(draws)) if draws > 1 else np.nan,
        "var_parameter": var_param,
        "var_noise": var_noise,
    }


def posterior_differences(
    results: pd.DataFrame,
    baseline: str = "baseline",
    outcomes: str | Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each arm's final-year effect in a posterior experiment, its interval split into parameter uncertainty and noise.

    Replication r of every arm ran posterior draw ``draw`` with the same seed, so d = arm − baseline of the same
    replication is paired as in :func:`paired_differences`. Grouping the D draws' d values (S seeds each) gives the
    one-way random-effects model d_ij = mu + a_i + e_ij, Var(a) = var_parameter (how much the effect itself changes
    with the parameters), Var(e) = var_noise (run-to-run noise of one paired difference). ANOVA estimators (Montgomery,
    Design and Analysis of Experiments, 8th ed. 2013, §3.9; Searle, Casella & McCulloch, Variance Components, 1992,
    §3.5-3.6):

    - MS_within = sum (d_ij − mean_i)² / (N − D), MS_between = sum S (mean_i − mean)² / (D − 1);
    - ``var_noise`` = MS_within, ``var_parameter`` = max(0, (MS_between − MS_within) / S);
    - ``difference`` = mean of the draw means (the posterior-mean effect), ``std_error`` = sd(draw means) / √D
      = √(MS_between / (D·S)), ``ci_low/ci_high`` its t interval with D − 1 degrees of freedom: what we know of the
      average effect over the posterior;
    - ``range_low/range_high`` = difference ∓ z·√(var_parameter + var_noise/S), z the normal quantile at
      ``confidence`` (1.96): the spread of the effect one parameter draw gives, averaged over its S seeds; its split:
      ``half_width_parameter`` = z·√var_parameter and ``half_width_noise`` = z·√(var_noise/S) (they add in quadrature
      to the range's half-width), ``share_parameter`` = var_parameter / (var_parameter + var_noise/S).

    With unequal seeds per draw (a failed run), S is Searle's n0 = (N − sum n_i²/N)/(D − 1), which is S for a balanced
    table. Columns: scenario, point, arm, outcome, draws, seeds, n, arm_mean, baseline_mean, difference, std_error, df,
    ci_low, ci_high, relative, var_parameter, var_noise, range_low, range_high, half_width_parameter, half_width_noise,
    share_parameter. Raises ValueError without a ``draw`` column or a baseline.
    """
    _check_confidence(confidence)
    chosen = _outcomes(results, outcomes)
    long = _draw_effects(results, baseline, chosen)
    if long.empty:
        raise ValueError("no arm run has a baseline run of the same replication with the outcome to pair it with")
    rows = []
    for (scenario, point, arm, outcome), cell in long.groupby([*_CELL, "outcome"], sort=False):
        rows.append(
            {
                "scenario": scenario,
                "point": point,
                "arm": arm,
                "outcome": outcome,
                "n": len(cell),
                "arm_mean": cell["arm_value"].mean(),
                "baseline_mean": cell["base_value"].mean(),
                **_one_way_anova(cell["d"], cell["draw"]),
            }
        )
    table = pd.DataFrame(rows)
    table["df"] = (table["draws"] - 1).astype(float).where(table["draws"] > 1)
    half = _half_width(table["std_error"], table["df"], confidence)
    table["ci_low"] = table["difference"] - half
    table["ci_high"] = table["difference"] + half
    table["relative"] = _safe_ratio(table["difference"], table["baseline_mean"])
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    noise_of_mean = table["var_noise"] / table["seeds"]
    spread = np.sqrt(table["var_parameter"] + noise_of_mean)
    table["range_low"] = table["difference"] - z * spread
    table["range_high"] = table["difference"] + z * spread
    table["half_width_parameter"] = z * np.sqrt(table["var_parameter"])
    table["half_width_noise"] = z * np.sqrt(noise_of_mean)
    table["share_parameter"] = _safe_ratio(table["var_parameter"], table["var_parameter"] + noise_of_mean)
    columns = [*_CELL, "outcome", "draws", "seeds", "n", "arm_mean", "baseline_mean", "difference", "std_error", "df",
               "ci_low", "ci_high", "relative", "var_parameter", "var_noise", "range_low", "range_high",
               "half_width_parameter", "half_width_noise", "share_parameter"]  # fmt: skip
    return _ordered(table[columns], _final(results), chosen)


def _shrunk_draw_effects(cell: pd.DataFrame) -> pd.Series:
    """One arm's effect on one outcome in each posterior draw (index: draw), with the run-to-run noise shrunk out.

    The empirical-Bayes prediction (BLUP) of the draw's own effect a_i in the one-way random-effects model of
    :func:`posterior_differences`, with the variance components it estimates (:func:`_one_way_anova`):
    mu + lambda_i (mean_i − mu), lambda_i = var_parameter / (var_parameter + var_noise / n_i), n_i the draw's seeds
    (Searle, Casella & McCulloch, Variance Components, 1992, ch. 7; Robinson 1991, "That BLUP is a good thing",
    Statistical Science 6(1): 15-32, doi:10.1214/ss/1177011926). Without parameter variance every draw gets mu; without noise, its own mean. When
    the noise cannot be estimated (one seed in every draw) or nothing varies at all, the draw's mean is kept as it is.
    """
    components = _one_way_anova(cell["d"], cell["draw"])
    by_draw = cell.groupby("draw", sort=False)["d"]
    means, seeds = by_draw.mean(), by_draw.size()
    mu, var_parameter = components["difference"], components["var_parameter"]
    reliability = var_parameter / (var_parameter + components["var_noise"] / seeds)
    reliability = reliability.where(np.isfinite(reliability), 1.0)
    return mu + reliability * (means - mu)


def ranking_robustness(
    results: pd.DataFrame, baseline: str = "baseline", outcome: str = "gini", higher_is_better: bool | None = None
) -> pd.DataFrame:
    """Does each arm's place in the ranking of arms survive parameter uncertainty?

    The question is whether the ranking changes from one posterior draw (one set of parameter values) to another, not
    whether a few noisy runs can reorder it: the mean of a draw's S seeds still carries var_noise / S of run-to-run
    noise, which alone would break a close ranking in many draws. So each arm's effect in a draw is its paired
    difference (arm − baseline) shrunk towards the arm's posterior-mean effect by the share of that spread that is
    parameter variance (the empirical-Bayes predictor of :func:`_shrunk_draw_effects`, from the same variance split as
    :func:`posterior_differences`): with no parameter variance every draw ranks the arms alike; when the parameters
    dominate, the draws' means are used almost as they are. The shares below therefore measure parameter uncertainty.
    With few seeds a draw, the estimate of var_parameter is rough and shrinkage can hide a parameter-driven reversal
    that noise masks: a conservative reading needs more seeds per draw.

    The arms (the baseline left out) are ranked best first in :func:`better_direction` (or as ``higher_is_better``
    says; ties share the better rank). ``effect`` is the mean of the arm's per-draw effects over the ranked draws (its
    posterior-mean effect when every draw has as many seeds) and ``rank`` its place by that effect.
    ``share_keeps_rank`` = share of draws in which the arm has that rank, ``share_best`` = share in which it ranks
    first, ``share_improves`` = share in which its effect is on the better side of zero; ``holds`` = share_keeps_rank
    >= :data:`RANK_HOLDS`. A draw in which some arm has no usable pair is left out (``draws`` counts those ranked).

    Columns: scenario, point, outcome, arm, effect, rank, draws, share_keeps_rank, share_best, share_improves, holds.
    """
    sign = better_direction(outcome) if higher_is_better is None else (1 if higher_is_better else -1)
    _require(results, [outcome])
    long = _draw_effects(results, baseline, [outcome])
    tables = []
    for (scenario, point), cell in long.groupby(["scenario", "point"], sort=False):
        per_draw = pd.DataFrame({arm: _shrunk_draw_effects(rows) for arm, rows in cell.groupby("arm", sort=False)}).dropna()
        if per_draw.empty:
            raise ValueError(f"no posterior draw of scenario {scenario!r} has a usable pair of runs in every arm")
        arms = list(per_draw.columns)
        gain = sign * per_draw
        ranks = gain.rank(axis=1, ascending=False, method="min")
        overall = gain.mean().rank(ascending=False, method="min")
        keeps = ranks.eq(overall, axis=1).mean()
        table = pd.DataFrame(
            {
                "scenario": scenario,
                "point": point,
                "outcome": outcome,
                "arm": arms,
                "effect": per_draw.mean().to_numpy(),
                "rank": overall.astype(int).to_numpy(),
                "draws": len(per_draw),
                "share_keeps_rank": keeps.to_numpy(),
                "share_best": ranks.eq(1).mean().to_numpy(),
                "share_improves": gain.gt(0).mean().to_numpy(),
            }
        )
        table["holds"] = table["share_keeps_rank"] >= RANK_HOLDS
        tables.append(table.sort_values("rank", kind="stable"))
    return pd.concat(tables, ignore_index=True)


# --------------------------------------------------------------------------- #
# Global sensitivity analysis (SALib)
# --------------------------------------------------------------------------- #


def _problem(parameters: Sequence[str], problem_bounds: Sequence[Sequence[float]] | Mapping[str, Sequence[float]]) -> dict:
    """SALib problem dict; names without the ``param:`` prefix."""
    names = [p.removeprefix(PARAM_PREFIX) for p in parameters]
    if not names:
        raise ValueError("parameters is empty")
    if len(set(names)) != len(names):
        raise ValueError(f"parameters repeat a name: {names}")
    if isinstance(problem_bounds, Mapping):
        lookup = {str(k).removeprefix(PARAM_PREFIX): v for k, v in problem_bounds.items()}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise ValueError(f"problem_bounds has no bounds for {missing}")
        bounds = [lookup[n] for n in names]
    else:
        bounds = list(problem_bounds)
    if len(bounds) != len(names):
        raise ValueError(f"{len(names)} parameters but {len(bounds)} bounds")
    clean = []
    for name, pair in zip(names, bounds, strict=True):
        low, high = (float(v) for v in pair)
        if not low < high:
            raise ValueError(f"bounds of {name} must be [low, high] with low < high, got {list(pair)}")
        clean.append([low, high])
    return {"num_vars": len(names), "names": names, "bounds": clean}


def _design_outcome(
    results: pd.DataFrame, outcome: str, scenario: str | None, arm: str | None, baseline: str | None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Y per design point (final year, mean over replications; or the mean paired difference
    from ``baseline``), sorted by point, and the final-year rows of the analysed arm."""
    _require(results, ["scenario", "arm", "point", "replication", "year", outcome])
    final = final_year(results)

    def only(column: str, value: str | None, exclude: str | None = None) -> str:
        values = [v for v in pd.unique(final[column]) if v != exclude]
        if value is None:
            if len(values) != 1:
                raise ValueError(f"results hold several {column}s {values}; choose one with {column}=")
            return values[0]
        if value not in values:
            raise ValueError(f"{column} {value!r} is not in results ({values})")
        return value

    scenario = only("scenario", scenario)
    final = final[final["scenario"] == scenario]
    arm = only("arm", arm, exclude=baseline)
    if baseline is None:
        rows = final[final["arm"] == arm]
        y = rows.groupby("point")[outcome].mean()
    else:
        diffs = paired_differences(final[final["arm"].isin([arm, baseline])], baseline=baseline, outcomes=[outcome])
        y = diffs.set_index("point")["difference"].sort_index()
        rows = final[final["arm"] == arm]
    y = y.sort_index()
    points = y.index.to_numpy()
    expected = np.arange(points.min(), points.min() + len(points)) if len(points) else points
    if len(points) == 0 or not np.array_equal(points, expected):
        gaps = sorted(int(p) for p in set(expected) - set(points))
        raise ValueError(f"design points must be consecutive integers with results for each; missing {gaps[:10]}")
    if y.isna().any():
        bad = [int(p) for p in y.index[y.isna()]]
        raise ValueError(f"outcome {outcome!r} is NaN at design point(s) {bad[:10]} (no usable run)")
    return y.to_numpy(dtype=float), rows


def _rebuild_design(rows: pd.DataFrame, problem: dict) -> np.ndarray:
    """X from the ``param:`` columns, one row per design point in point order."""
    columns = [f"{PARAM_PREFIX}{name}" for name in problem["names"]]
    _require(rows, columns, "results (to rebuild the design matrix; or pass design_matrix=)")
    per_point = rows.groupby("point")[columns]
    if (per_point.nunique(dropna=False) > 1).any().any():
        raise ValueError("parameter values differ between runs of the same design point")
    return per_point.first().sort_index().to_numpy(dtype=float)


def sobol_indices(
    results: pd.DataFrame,
    parameters: Sequence[str],
    problem_bounds: Sequence[Sequence[float]] | Mapping[str, Sequence[float]],
    outcome: str,
    *,
    calc_second_order: bool = True,
    scenario: str | None = None,
    arm: str | None = None,
    baseline: str | None = None,
    num_resamples: int = 100,
    confidence: float = 0.95,
    seed: int | None = None,
) -> pd.DataFrame:
    """First-order and total Sobol' indices of ``outcome`` (``SALib.analyze.sobol.analyze``).

    Y at design point p is the final-year ``outcome`` averaged over that point's replications
    (or, given ``baseline``, the mean paired difference arm − baseline at p, i.e. the effect).
    Points must be 0, 1, ..., m−1 with point i = row i of ``SALib.sample.sobol.sample(problem, N,
    calc_second_order=...)`` (the Saltelli order, m = N(2k+2), or N(k+2) without second order),
    with the same ``calc_second_order`` here. ``problem`` = {"num_vars": k, "names": parameters
    (``param:`` prefix dropped), "bounds": problem_bounds} (a list in parameter order, or a
    mapping name → [low, high]). S1 = V[E(Y|x_i)]/V(Y), ST = E[V(Y|x_~i)]/V(Y); the ``*_conf``
    columns are bootstrap half-widths at ``confidence``. With several scenarios or arms in
    ``results`` pick one with ``scenario=`` / ``arm=``.

    An outcome that does not vary over the design has undefined (NaN) indices.

    Columns: parameter, S1, S1_conf, ST, ST_conf.
    """
    from SALib.analyze import sobol

    _check_confidence(confidence)
    problem = _problem(parameters, problem_bounds)
    y, _ = _design_outcome(results, outcome, scenario, arm, baseline)
    k = problem["num_vars"]
    block = 2 * k + 2 if calc_second_order else k + 2
    if len(y) % block:
        raise ValueError(
            f"{len(y)} design points is not a multiple of {block} = {'2k+2' if calc_second_order else 'k+2'} "
            f"(k={k}); were they sampled by SALib.sample.sobol.sample with calc_second_order={calc_second_order}?"
        )
    if np.ptp(y) == 0:  # the outcome does not vary over the design: its variance shares are undefined, not 0
        undefined = np.full(k, np.nan)
        res = {"S1": undefined, "S1_conf": undefined, "ST": undefined, "ST_conf": undefined}
    else:
        res = sobol.analyze(
            problem,
            y,
            calc_second_order=calc_second_order,
            num_resamples=num_resamples,
            conf_level=confidence,
            seed=_salib_seed(seed),
        )
    return pd.DataFrame(
        {
            "parameter": problem["names"],
            "S1": res["S1"],
            "S1_conf": res["S1_conf"],
            "ST": res["ST"],
            "ST_conf": res["ST_conf"],
        }
    )


def _salib_seed(seed: int | None) -> int | None:
    """A seed SALib's Sobol analysis honours: it tests ``if seed:``, so 0 would leave the bootstrap unseeded."""
    if seed is None:
        return None
    return int(np.random.SeedSequence(seed).generate_state(1)[0]) or 1


def morris_indices(
    results: pd.DataFrame,
    parameters: Sequence[str],
    problem_bounds: Sequence[Sequence[float]] | Mapping[str, Sequence[float]],
    outcome: str,
    design_matrix: np.ndarray | None = None,
    *,
    num_levels: int = 4,
    scenario: str | None = None,
    arm: str | None = None,
    baseline: str | None = None,
    num_resamples: int = 100,
    confidence: float = 0.95,
    seed: int | None = None,
) -> pd.DataFrame:
    """Morris elementary-effect screening of ``outcome`` (``SALib.analyze.morris.analyze``).

    Y per design point as in :func:`sobol_indices`. ``design_matrix`` is the X from
    ``SALib.sample.morris.sample(problem, N, num_levels=...)`` (r trajectories × (k+1) rows,
    row i = point i); if omitted it is rebuilt from the ``param:<name>`` columns, one row per
    point in point order. ``num_levels`` must match the sampler's. For elementary effects
    EE_i = ΔY/Δx_i (Δ in the unit-scaled design): mu = mean EE, mu_star = mean |EE|
    (importance), sigma = sd EE (non-linearity/interaction), mu_star_conf = bootstrap half-width.

    Columns: parameter, mu, mu_star, sigma, mu_star_conf.
    """
    from SALib.analyze import morris

    _check_confidence(confidence)
    problem = _problem(parameters, problem_bounds)
    y, rows = _design_outcome(results, outcome, scenario, arm, baseline)
    x = _rebuild_design(rows, problem) if design_matrix is None else np.asarray(design_matrix, dtype=float)
    if x.ndim != 2 or x.shape != (len(y), problem["num_vars"]):
        raise ValueError(f"design matrix has shape {x.shape}; expected ({len(y)} points, {problem['num_vars']} parameters)")
    if len(y) % (problem["num_vars"] + 1):
        raise ValueError(
            f"{len(y)} design points is not a whole number of Morris trajectories of k+1 = {problem['num_vars'] + 1}"
        )
    res = morris.analyze(problem, x, y, num_resamples=num_resamples, conf_level=confidence, num_levels=num_levels, seed=seed)
    return pd.DataFrame(
        {
            "parameter": problem["names"],
            "mu": np.asarray(res["mu"], dtype=float),
            "mu_star": np.asarray(res["mu_star"], dtype=float),
            "sigma": np.asarray(res["sigma"], dtype=float),
            "mu_star_conf": np.asarray(res["mu_star_conf"], dtype=float),
        }
    )


# --------------------------------------------------------------------------- #
# Time series
# --------------------------------------------------------------------------- #


def time_series(results: pd.DataFrame, outcome: str | Sequence[str], confidence: float = 0.95) -> pd.DataFrame:
    """Mean of ``outcome`` over replications for each scenario, arm, design point and year,
    with a t interval: mean ∓ t_{(1+confidence)/2, n−1} · sd/√n (NaN if n < 2). For plots.

    Columns: scenario, arm, point, year, outcome, n, mean, std_error, ci_low, ci_high
    (one row per outcome when several are given; NaN values are left out of n).
    """
    _check_confidence(confidence)
    chosen = _outcomes(results, outcome)
    _require(results, ["scenario", "arm", "point", "year"])
    keys = ["scenario", "arm", "point", "year"]
    long = results.melt(id_vars=keys, value_vars=chosen, var_name="outcome", value_name="value")
    long["value"] = long["value"].astype(float)
    grouped = long.groupby([*keys, "outcome"], sort=False)["value"]
    table = pd.DataFrame({"n": grouped.count(), "mean": grouped.mean(), "sd": grouped.std(ddof=1)}).reset_index()
    table["std_error"] = table["sd"] / np.sqrt(table["n"].where(table["n"] > 0))
    half = _half_width(table["std_error"], (table["n"] - 1).astype(float).where(table["n"] > 1), confidence)
    table["ci_low"] = table["mean"] - half
    table["ci_high"] = table["mean"] + half
    table = table[[*keys, "outcome", "n", "mean", "std_error", "ci_low", "ci_high"]]
    sort = table.copy()
    sort["_order"] = sort["outcome"].map({o: i for i, o in enumerate(chosen)})
    for col in ("scenario", "arm"):
        sort[col] = sort[col].map({v: i for i, v in enumerate(pd.unique(results[col]))})
    return table.loc[sort.sort_values(["scenario", "arm", "point", "_order", "year"], kind="stable").index].reset_index(drop=True)


# --------------------------------------------------------------------------- #
# Who funds whom (one run's ledger and links tables)
# --------------------------------------------------------------------------- #

RECIPIENT_CLASSES = {"weak": "villages weak when paired", "other": "other villages"}
"""How the funds table splits recipients: was the village weak (薄弱村) when its link began?"""


def funds_by_donor_kind(ledger: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Funds sent each month by kind of donor to each class of recipient (who gives to whom, for Sankey diagrams).

    Reads the run's ``ledger`` and ``links`` tables, so it works on a live run and on
    a ``pairsim run`` output folder alike. Columns: step, donor_kind, recipient
    (a key of :data:`RECIPIENT_CLASSES`), sent (yuan).
    """
    funds = ledger.loc[ledger["flow"] == "funds", ["step", "link", "sent"]]
    merged = funds.merge(links[["link", "donor_kind", "weak_at_start"]], on="link", how="left", validate="many_to_one")
    merged["recipient"] = np.where(merged["weak_at_start"].astype(bool), "weak", "other")
    return merged.groupby(["step", "donor_kind", "recipient"], as_index=False, sort=True)["sent"].sum()
