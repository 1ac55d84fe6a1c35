"""Scenario discovery: in which part of a sweep's (or a posterior's) parameter space does pairing fail?

``pairsim discover RESULTS_DIR`` marks each design point of a sweep, or each posterior draw of a posterior comparison,
where a condition holds (the arm narrowed the outcome by less than a threshold, or its paired effect was not
significant), then lets PRIM and CART from EMA Workbench 3 find the boxes of parameter values where it holds
([Bryant 2010] in docs/SOURCES.md; [Kwakkel 2017] for the workbench). Each box comes with the scenario
discovery statistics: coverage (the share of the points where the condition holds that lie in the box), density (the
share of the box's points where it holds) and mass (the share of all points in the box).

The condition per point is a paired comparison like every other in pairsim: the arm's run minus the reference's run of
the same replication (the same seed, and in a posterior comparison the same draw), averaged over the point's
replications (:func:`sim.analysis.paired_differences`). EMA Workbench is optional (the ``discover`` extra) and takes
seconds to import, so it is imported here only when boxes are looked for, after the settings and the results have
been checked.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import analysis, package_version
from sim.discovery_spec import REFERENCE, Discovery, check_discovery_names, load_discovery
from sim.errors import InputError
from sim.outcome_registry import OUTCOMES
from sim.outputs import check_writable, write_atomically
from sim.results import ResultsStore, load_results
from sim.scenario import validate_model
from sim.summary import POSTERIOR_DRAW, manifest_design

FOLDER = "discovery"
"""The folder inside a results folder that ``pairsim discover`` writes (and ``pairsim report`` reads)."""
RECORD = "discovery.json"
FILES = ("points.csv", "peeling.csv", "prim_box.csv", "cart_boxes.csv", "discovery.md", RECORD)
"""Every file ``pairsim discover`` may write into :data:`FOLDER`; a later call removes only these, and only those an
earlier call recorded in :data:`RECORD` that it does not write again."""
SIGNIFICANCE = 0.05
"""A box's limit whose quasi-p value ([Bryant 2010]'s one-sided binomial test of the limit) is above this is flagged not
significant: PRIM's box keeps it, but the condition may not depend on it there."""
UNSURE = f"A limit whose quasi-p value is above {SIGNIFICANCE:g} is not significant: PRIM keeps it, but it may be chance."
EMA_INSTALL = "pip install '.[discover]'"
PARAM_PREFIX = analysis.PARAM_PREFIX


# --------------------------------------------------------------------------- EMA Workbench, optional


def require_ema() -> None:
    """One line (exit 2) when EMA Workbench 3 is not installed, before anything slow is done."""
    if importlib.util.find_spec("ema_workbench") is None:
        raise InputError.single("pairsim discover", "", f"needs EMA Workbench 3 (the discover extra): {EMA_INSTALL}")
    version = importlib.metadata.version("ema_workbench")
    if not version.startswith("3."):
        raise InputError.single("pairsim discover", "", f"needs EMA Workbench 3, found {version}: {EMA_INSTALL}")


def _ema():
    """EMA Workbench's ``prim`` and ``cart`` modules, imported without their import-time warnings (no ipyparallel, no
    altair) and with their progress logging kept quiet."""
    require_ema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import cart, prim
    logging.getLogger("EMA").setLevel(logging.WARNING)
    return prim, cart


# --------------------------------------------------------------------------- settings and the condition per point


@dataclass
class Prepared:
    """A results folder read and its condition computed: one row per design point (or posterior draw)."""

    folder: Path
    spec: Discovery
    settings_from: str  # the discovery file, or the manifest whose discovery section was used
    scenario: str
    arm: str
    reference: str
    unit: str  # "design point" or "posterior draw"
    parameters: list[str]  # dotted scenario paths: the columns of ``points`` PRIM and CART read
    ranges: dict[str, tuple[float, float]]  # each parameter's range in the design (its values' range without one)
    points: pd.DataFrame  # point (draw, of a posterior), parameters..., n, improvement, ci_low, ci_high, holds
    dropped: list[str] = field(default_factory=list)  # why points were left out, one phrase each


def prepare_discovery(folder: str | Path, spec_path: str | Path | None = None) -> Prepared:
    """Check the settings and the results folder (one line each), and compute the condition at every point."""
    folder = Path(folder)
    store = ResultsStore(folder)
    expected = "expected a results folder written by pairsim sweep or compare"
    if not folder.is_dir():
        raise InputError.single(str(folder), "", f"no such folder; {expected}")
    if not store.manifest_path.is_file():
        raise InputError.single(str(folder), "", f"not a results folder (no manifest.json); {expected}")
    try:
        manifest = store.read_manifest()
    except (OSError, ValueError) as error:
        raise InputError.single(str(store.manifest_path), "", f"cannot be read ({error}); {expected}") from None
    if not isinstance(manifest, dict) or manifest.get("kind") in ("calibration", "optimisation") or "calibration" in manifest:
        raise InputError.single(str(folder), "", f"is not an experiment's results folder; {expected}")
    spec, source = _settings(manifest, store.manifest_path, spec_path)
    if not store.finished():
        raise InputError.single(str(folder), "runs", "no finished runs yet; run pairsim sweep or compare (again) first")
    try:
        results = load_results(folder)
    except (OSError, ValueError) as error:
        raise InputError.single(str(store.runs), "", f"a run file cannot be read ({error})") from None
    parameters = [column for column in results.columns if isinstance(column, str) and column.startswith(PARAM_PREFIX)]
    if not parameters:
        raise InputError.single(
            str(folder),
            "",
            "its runs have no parameters (no param: columns): it is a comparison of arms, and discovery needs a sweep's "
            "design parameters or a posterior comparison's (parameters: {posterior: ...})",
        )
    arms = sorted(pd.unique(results["arm"]), key=lambda name: (name != REFERENCE, name))  # the baseline first
    scenarios = list(pd.unique(results["scenario"]))
    outcomes = [column for column in results.columns if column in OUTCOMES]
    check_discovery_names(spec, arms, outcomes, scenarios, source)
    scenario = _only(spec.scenario, scenarios, "scenario", "scenarios", source)
    arm = _only(spec.arm, [name for name in arms if name != spec.reference], "arm", "arms besides the reference", source)
    results = results[(results["scenario"] == scenario) & results["arm"].isin([arm, spec.reference])]
    posterior = POSTERIOR_DRAW in results.columns
    unit = "posterior draw" if posterior else "design point"
    if posterior:  # one row per draw: a draw's runs are its seeds, paired by replication as at a design point
        results = results.assign(point=results[POSTERIOR_DRAW].astype(int))
    try:
        paired = analysis.paired_differences(results, baseline=spec.reference, outcomes=[spec.outcome])
    except ValueError as error:
        raise InputError.single(str(folder), "", f"cannot pair arm {arm!r} with {spec.reference!r}: {error}") from None
    points, dropped = _condition(paired[paired["arm"] == arm], spec, unit, source, str(folder))
    names = [column.removeprefix(PARAM_PREFIX) for column in parameters]
    points = points.rename(columns=dict(zip(parameters, names, strict=True)))
    if posterior:
        points = points.rename(columns={"point": POSTERIOR_DRAW})
    return Prepared(
        folder=folder,
        spec=spec,
        settings_from=source,
        scenario=scenario,
        arm=arm,
        reference=spec.reference,
        unit=unit,
        parameters=names,
        ranges=_ranges(manifest, points, names),
        points=points,
        dropped=dropped,
    )


def _settings(manifest: dict, manifest_path: Path, spec_path: str | Path | None) -> tuple[Discovery, str]:
    """The discovery settings, and where they come from (the file messages name)."""
    if spec_path is not None:
        return load_discovery(spec_path), str(spec_path)
    section = manifest.get("discovery")
    if section is None:
        raise InputError.single(
            str(manifest_path),
            "discovery",
            "the experiment has no discovery section; give the settings with --spec FILE, or add a discovery: section "
            "to the experiment file and run pairsim sweep or compare on it again (finished runs are kept)",
        )
    source = f"{manifest_path} (discovery)"
    return validate_model(Discovery, section, source), source


def _only(given: str | None, names: list[str], one: str, many: str, source: str) -> str:
    """``given``, or the only one of ``names``; one line naming them when there are several to choose from."""
    if given is not None:
        return given
    if len(names) != 1:
        listed = ", ".join(names) or "none"
        raise InputError.single(source, one, f"the results hold {len(names)} {many} ({listed}); name the {one} to judge")
    return names[0]


def _condition(paired: pd.DataFrame, spec: Discovery, unit: str, source: str, folder: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per point: its parameters, pairs ``n``, the mean ``improvement`` (the arm's paired effect, signed so that
    positive is better: reference - arm for lower-is-better outcomes) with its 95 % t interval, and whether the
    condition ``holds``."""
    direction = analysis.better_direction(spec.outcome)
    dropped = []
    empty = paired["n"] == 0
    if empty.any():
        dropped.append(f"{int(empty.sum())} {unit}(s) without a pair of finished runs")
    paired = paired[~empty]
    if spec.condition.not_significant:
        if paired.empty or paired["n"].max() < 2:
            most = int(paired["n"].max()) if len(paired) else 0
            raise InputError.single(
                source,
                "condition.not_significant",
                f"needs at least 2 replications per {unit} for an interval; {folder} has {most}",
            )
        single = paired["n"] < 2
        if single.any():
            dropped.append(f"{int(single.sum())} {unit}(s) with one pair of finished runs (no interval)")
        paired = paired[~single]
    if paired.empty:
        raise InputError.single(folder, "runs", f"no {unit} has a pair of finished runs of the two arms to judge")
    ends = np.sort(np.column_stack([direction * paired["ci_low"], direction * paired["ci_high"]]), axis=1)
    points = paired[["point", *[c for c in paired.columns if c.startswith(PARAM_PREFIX)]]].copy()
    points["n"] = paired["n"].astype(int)
    points["improvement"] = direction * paired["difference"]
    points["ci_low"], points["ci_high"] = ends[:, 0], ends[:, 1]
    if spec.condition.fall_below is not None:
        points["holds"] = points["improvement"] < spec.condition.fall_below
    else:
        points["holds"] = (points["ci_low"] <= 0) & (points["ci_high"] >= 0)
    return points.sort_values("point").reset_index(drop=True), dropped


def _ranges(manifest: dict, points: pd.DataFrame, names: list[str]) -> dict[str, tuple[float, float]]:
    """Each parameter's range in the sweep's design (from the manifest); the range of its values where the design does
    not give one (a posterior's draws)."""
    try:
        design = manifest_design(manifest)
    except ValueError:
        design = None
    ranges = {}
    for name in names:
        spec = design.parameters.get(name) if design is not None else None
        if spec is not None and spec.low is not None:
            ranges[name] = (float(spec.low), float(spec.high))
        elif spec is not None and spec.values:
            ranges[name] = (float(min(spec.values)), float(max(spec.values)))
        else:
            ranges[name] = (float(points[name].min()), float(points[name].max()))
    return ranges


# --------------------------------------------------------------------------- PRIM and CART


@dataclass
class DiscoveryResult:
    """What PRIM and CART found (``None`` for a method not run, or when the condition holds at no point or at all)."""

    prepared: Prepared
    peeling: pd.DataFrame | None = None  # box, coverage, density, mass, restricted, points, holding, chosen
    prim_box: pd.DataFrame | None = None  # parameter, low, high, restricted, range_low, range_high, qp_low, qp_high
    threshold_met: bool | None = None
    cart_boxes: pd.DataFrame | None = None  # leaf, coverage, density, mass, restricted_count, parameter, low, high, ...
    notes: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> pd.Series | None:
        """The chosen PRIM box's row of the peeling trajectory."""
        return None if self.peeling is None else self.peeling[self.peeling["chosen"]].iloc[0]


def run_discovery(prepared: Prepared) -> DiscoveryResult:
    """Run PRIM and/or CART (the settings' ``method``) on the points: x their parameters, y where the condition holds."""
    result = DiscoveryResult(prepared)
    y = prepared.points["holds"].to_numpy(bool)
    if not y.any() or y.all():
        where = "no" if not y.any() else "every"
        result.notes.append(f"the condition holds at {where} {prepared.unit}: there is no box to find")
        return result
    x = prepared.points[prepared.parameters].astype(float).reset_index(drop=True)
    prim, cart = _ema()
    spec = prepared.spec
    with warnings.catch_warnings():  # EMA's pandas and scikit-learn calls warn about their own future
        warnings.simplefilter("ignore")
        if spec.method in ("prim", "both"):
            _run_prim(result, prim, x, y)
        if spec.method in ("cart", "both"):
            _run_cart(result, cart, x, y)
    return result


def _run_prim(result: DiscoveryResult, prim: Any, x: pd.DataFrame, y: np.ndarray) -> None:
    spec = result.prepared.spec
    algorithm = prim.Prim(x, y.copy(), peel_alpha=spec.peel_alpha, mass_min=spec.mass_min)
    box = algorithm.find_box()
    trajectory = box.peeling_trajectory
    peeling = pd.DataFrame(
        {
            "box": trajectory["id"].astype(int),
            "coverage": trajectory["coverage"].astype(float),
            "density": trajectory["density"].astype(float),
            "mass": trajectory["mass"].astype(float),
            "restricted": trajectory["res_dim"].astype(int),
            "points": trajectory["n"].astype(int),
            "holding": trajectory["k"].astype(int),
        }
    )
    chosen, result.threshold_met = choose_box(peeling, spec.threshold)
    peeling["chosen"] = peeling["box"] == chosen
    result.peeling = peeling
    result.prim_box = _limits(box.box_lims[chosen], algorithm.box_init, result.prepared, box.p_values[chosen])
    if not result.threshold_met:
        result.notes.append(
            f"no PRIM box reaches density {spec.threshold:g}: the densest box is shown (lower the threshold, or the "
            "condition has no box of its own in these parameters)"
        )


def choose_box(peeling: pd.DataFrame, threshold: float) -> tuple[int, bool]:
    """The box of the peeling trajectory with the highest coverage among those with density >= ``threshold`` (ties: the
    denser, then the one restricting fewer parameters), and True; without one, the densest box and False."""
    reaching = peeling[peeling["density"] >= threshold - 1e-12]
    if len(reaching):
        best = reaching.sort_values(["coverage", "density", "restricted"], ascending=[False, False, True], kind="stable")
        return int(best["box"].iloc[0]), True
    best = peeling.sort_values(["density", "coverage"], ascending=[False, False], kind="stable")
    return int(best["box"].iloc[0]), False


def _limits(
    box_lim: pd.DataFrame, box_init: pd.DataFrame, prepared: Prepared, quasi_p: dict[str, list[float]] | None = None
) -> pd.DataFrame:
    """One row per parameter: the box's limits, whether it restricts the parameter (narrower than the points' own
    range), the parameter's range in the design and PRIM's quasi-p values of each restricted limit ([Bryant 2010]: a
    one-sided binomial test of the limit; NaN for a limit not restricted). A side the box does not restrict (EMA
    Workbench puts it at the smallest or largest value among the points) is given as the design's own end, as the box
    reaches it."""
    rows = []
    for name in prepared.parameters:
        low, high = float(box_lim.loc[0, name]), float(box_lim.loc[1, name])
        cuts_low, cuts_high = low > float(box_init.loc[0, name]), high < float(box_init.loc[1, name])
        restricted = cuts_low or cuts_high
        low = low if cuts_low else min(low, prepared.ranges[name][0])
        high = high if cuts_high else max(high, prepared.ranges[name][1])
        qp = (quasi_p or {}).get(name, [np.nan, np.nan])
        rows.append(
            {
                "parameter": name,
                "low": low,
                "high": high,
                "restricted": restricted,
                "range_low": prepared.ranges[name][0],
                "range_high": prepared.ranges[name][1],
                "qp_low": float(qp[0]) if qp[0] is not None and qp[0] >= 0 else np.nan,
                "qp_high": float(qp[1]) if qp[1] is not None and qp[1] >= 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _run_cart(result: DiscoveryResult, cart: Any, x: pd.DataFrame, y: np.ndarray) -> None:
    spec = result.prepared.spec
    mass_min = max(spec.mass_min, 1.0 / len(y))  # scikit-learn needs at least one point a leaf
    if mass_min > spec.mass_min:
        result.notes.append(f"CART: mass_min raised to {mass_min:.3g} so that each leaf holds at least one point")
    tree = cart.CART(x, y, mass_min=mass_min)
    tree.build_tree()
    box_init = x.apply(lambda column: pd.Series([column.min(), column.max()]))
    pieces = []
    for leaf, (box_lim, stats) in enumerate(zip(tree.boxes, tree.stats, strict=True)):
        limits = _limits(box_lim, box_init, result.prepared).drop(columns=["qp_low", "qp_high"])
        limits.insert(0, "leaf", leaf)
        limits.insert(1, "coverage", float(stats["coverage"]))
        limits.insert(2, "density", float(stats["density"]))
        limits.insert(3, "mass", float(stats["mass"]))
        limits.insert(4, "restricted_count", int(limits["restricted"].sum()))
        pieces.append(limits)
    result.cart_boxes = pd.concat(pieces, ignore_index=True)


# --------------------------------------------------------------------------- text and files


def _number(value: float) -> str:
    return f"{value:.4g}"


def _box_lines(limits: pd.DataFrame, indent: str = "    ") -> list[str]:
    """The restricted parameters of a box, one line each: its limits, and the parameter's range in the design."""
    restricted = limits[limits["restricted"]]
    if restricted.empty:
        return [f"{indent}no parameter restricted: the box is the whole design"]
    lines = []
    width = max(len(name) for name in restricted["parameter"])
    for row in restricted.itertuples():
        line = f"{indent}{row.parameter:<{width}}  {_number(row.low)} to {_number(row.high)}"
        line += f"  (range {_number(row.range_low)} to {_number(row.range_high)})"
        sides = [
            (side, value)
            for side, value in (("low", getattr(row, "qp_low", np.nan)), ("high", getattr(row, "qp_high", np.nan)))
            if np.isfinite(value)
        ]
        significant = [f"{side} {value:.2g}" for side, value in sides if value <= SIGNIFICANCE]
        if significant:
            line += f"  quasi-p: {', '.join(significant)}"
        line += "".join(f"  {side} limit not significant (quasi-p {value:.2g})" for side, value in sides if value > SIGNIFICANCE)
        lines.append(line)
    return lines


def _stats(row: pd.Series | Any) -> str:
    return f"coverage {row['coverage']:.2f}, density {row['density']:.2f}, mass {row['mass']:.2f}"


def majority_leaves(cart_boxes: pd.DataFrame) -> pd.DataFrame:
    """CART's leaves where the condition holds at most points (density above one half), by coverage, one row each."""
    leaves = cart_boxes.drop_duplicates("leaf")
    return leaves[leaves["density"] > 0.5].sort_values(["coverage", "density"], ascending=False, kind="stable")


def discovery_text(result: DiscoveryResult) -> str:
    """The plain-words summary ``pairsim discover`` prints and writes as discovery.md."""
    prepared, spec = result.prepared, result.prepared.spec
    points = prepared.points
    holding = int(points["holds"].sum())
    lines = [
        (
            f"Scenario discovery in {prepared.folder}: arm {prepared.arm} against {prepared.reference}, "
            f"scenario {prepared.scenario}, {len(points)} {prepared.unit}s over {len(prepared.parameters)} parameters "
            f"(settings from {prepared.settings_from})."
        ),
        f"Condition: {spec.condition.describe(spec.outcome)}.",
        f"It holds at {holding} of {len(points)} {prepared.unit}s ({holding / len(points):.0%}).",
    ]
    if prepared.dropped:
        lines.append(f"Left out: {'; '.join(prepared.dropped)}.")
    if result.peeling is not None:
        chosen = result.chosen
        how = (
            f"the highest coverage at density >= {spec.threshold:g}"
            if result.threshold_met
            else f"the densest box; none reaches density {spec.threshold:g}"
        )
        lines += [
            "",
            (
                f"PRIM (peel_alpha {spec.peel_alpha:g}, mass_min {spec.mass_min:g}): box {int(chosen['box'])} of the "
                f"{len(result.peeling)} on the peeling trajectory, {how}:"
            ),
            f"  {_stats(chosen)}; {int(chosen['restricted'])} restricted parameter(s):",
            *_box_lines(result.prim_box),
        ]
        if (result.prim_box["restricted"] & (result.prim_box[["qp_low", "qp_high"]] > SIGNIFICANCE).any(axis=1)).any():
            lines.append(f"  {UNSURE}")
    if result.cart_boxes is not None:
        leaves = majority_leaves(result.cart_boxes)
        count = result.cart_boxes["leaf"].nunique()
        lines += ["", f"CART: {count} leaves; {len(leaves)} where the condition holds at most points:"]
        for leaf in leaves.itertuples():
            limits = result.cart_boxes[result.cart_boxes["leaf"] == leaf.leaf]
            lines += [f"  leaf {leaf.leaf}: {_stats(leaf._asdict())}", *_box_lines(limits)]
    if result.notes:
        lines += ["", *[f"Note: {note}." for note in result.notes]]
    lines += [
        "",
        (
            "Coverage: the share of the points where the condition holds that lie in the box; density: the share of the "
            "box's points where it holds; mass: the share of all points in the box."
        ),
    ]
    return "\n".join(lines)


def record(result: DiscoveryResult, files: list[str]) -> dict[str, Any]:
    """discovery.json: the settings, where they came from, the counts and the chosen boxes' statistics."""
    prepared = result.prepared
    chosen = result.chosen
    return {
        "settings": prepared.spec.model_dump(),
        "settings_from": prepared.settings_from,
        "condition": prepared.spec.condition.describe(prepared.spec.outcome),
        "scenario": prepared.scenario,
        "arm": prepared.arm,
        "reference": prepared.reference,
        "unit": prepared.unit,
        "parameters": prepared.parameters,
        "points": len(prepared.points),
        "holding": int(prepared.points["holds"].sum()),
        "dropped": prepared.dropped,
        "prim": None
        if chosen is None
        else {
            "box": int(chosen["box"]),
            "threshold_met": result.threshold_met,
            "coverage": float(chosen["coverage"]),
            "density": float(chosen["density"]),
            "mass": float(chosen["mass"]),
            "restricted": {
                row.parameter: [row.low, row.high] for row in result.prim_box[result.prim_box["restricted"]].itertuples()
            },
        },
        "cart_leaves": None if result.cart_boxes is None else int(result.cart_boxes["leaf"].nunique()),
        "notes": result.notes,
        "files": files,
        "versions": {name: package_version(name) for name in ("pairsim", "ema_workbench")},
    }


def write_discovery(folder: str | Path, result: DiscoveryResult) -> list[Path]:
    """Write the tables, discovery.md and discovery.json (last) into ``folder``/discovery/, each atomically; remove the
    files an earlier call wrote that this one does not (a method no longer run). Returns the paths written."""
    out = Path(folder) / FOLDER
    check_writable(out, option="discovery")
    tables = {
        "points.csv": result.prepared.points,
        "peeling.csv": result.peeling,
        "prim_box.csv": result.prim_box,
        "cart_boxes.csv": result.cart_boxes,
    }
    written = []
    for name, table in tables.items():
        if table is not None:
            write_atomically(out / name, lambda temporary, table=table: table.to_csv(temporary, index=False))
            written.append(out / name)
    text = discovery_text(result) + "\n"
    write_atomically(out / "discovery.md", lambda temporary: temporary.write_text(text, encoding="utf-8"))
    written.append(out / "discovery.md")
    names = [path.name for path in written] + [RECORD]
    _remove_earlier(out, names)
    data = json.dumps(record(result, names), indent=1, ensure_ascii=False, default=float)
    write_atomically(out / RECORD, lambda temporary: temporary.write_text(data, encoding="utf-8"))
    return [*written, out / RECORD]


def _remove_earlier(out: Path, keep: list[str]) -> None:
    """Remove the files an earlier call recorded in discovery.json that this call does not write again (only ever
    names of :data:`FILES`: nothing else in the folder is touched)."""
    try:
        earlier = json.loads((out / RECORD).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return
    for name in earlier if isinstance(earlier, list) else []:
        if isinstance(name, str) and name in FILES and name not in keep:
            (out / name).unlink(missing_ok=True)


__all__ = [
    "FILES",
    "FOLDER",
    "DiscoveryResult",
    "Prepared",
    "choose_box",
    "discovery_text",
    "majority_leaves",
    "prepare_discovery",
    "require_ema",
    "run_discovery",
    "write_discovery",
]
