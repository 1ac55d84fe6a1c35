"""Tests for the optimisation report (``pairsim report`` of a folder ``pairsim optimise`` wrote).

The folder is made here, file by file, in the format docs/OPTIMISE.md gives (12 trials, 3 heuristics, 2 checked plans
on a 5 x 4 grid of villages), so each figure can be checked against numbers the test knows; a second folder is a
search killed before its end (manifest and plans only), whose report must say so instead of failing.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from sim.formatting import outcome_label
from sim.pairing.registry import donor_kinds, policy_types
from sim.report import is_calibration_folder, is_optimisation_folder, write_optimisation_report
from sim.report.optimise import build_optimisation_report, load_optimisation_input, markdown_html
from sim.report.optimise_figures import HEURISTIC_MARKS, VERDICT_COLOURS, front_figure, out_of_sample_figure, plan_map_figure

EVIL = "<script>alert(1)</script>"
HEURISTICS = ["h-greedy", "h-typed", "h-random"]
CHECKED = [3, 7]
BUDGET = 900_000.0
FALLS = ["gini", "urban_rural_ratio"]

SETTINGS = {
    "name": "tiny_optimisation",
    "description": "",
    "scenario": "/somewhere/small.yaml",
    "seed": 1,
    "horizon_years": None,
    "posterior": None,
    "budget": {"yuan_per_year": BUDGET, "max_policies_per_village": 1, "donor_funds_limit": True},
    "levers": {
        "policies": [
            {
                "type": "city_village",
                "name": "城乡联建",
                "pairs": {"low": 0, "high": 6},
                "flows": {"funds": {"low": 0, "high": 1e5}},
            },
            {"type": "strong_weak", "name": None, "pairs": {"low": 0, "high": 4}, "flows": {}},
        ],
        "targeting": {"need": {"low": 0, "high": 1}, "strength": 0.5, "proximity": {"low": 0, "high": 1}},
    },
    "objectives": {"falls": FALLS, "statistic": "mean", "quantile": 0.1},
    "search": {"sampler": "tpe", "simulations": 64, "seeds": 4, "batch": 4, "candidate_villages": 3},
    "check": {"seeds": 6, "plans": 2, "heuristics": ["greedy", "typed", "random"]},
}
"""What the manifest records of the optimisation file: 64 simulations less 4 reference arms x 4 seeds = 12 trials."""


def write_manifest(folder: Path, finished: bool, trials: int, runs: dict) -> None:
    manifest = {
        "kind": "optimisation",
        "optimisation": "tiny_optimisation",
        "description": f"quick {EVIL} check of the report",
        "optimisation_file": "/somewhere/optimise_tiny.yaml",
        "optimisation_sha256": "ab" * 32,
        "identity": "x",
        "scenario": "/somewhere/small.yaml",
        "scenario_name": "Small county (small.yaml)",
        "settings": SETTINGS,
        "finished": finished,
        "trials": {str(t): {"pairs:城乡联建": 3.0} for t in range(trials)},
        "runs": runs,
        "seconds": {"reference": 12.5, "search": 80.0, "check": 30.0},
        "versions": {"pairsim": "0.1", "optuna": "5.0"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def villages() -> pd.DataFrame:
    """A 5 x 4 grid of villages 2 km apart; every third one weak."""
    index = np.arange(20)
    return pd.DataFrame(
        {
            "village": [f"村{i}" for i in index],
            "x_km": (index % 5) * 2.0,
            "y_km": (index // 5) * 2.0,
            "weak": index % 3 == 0,
            "need": index / 20.0,
        }
    )


def plan(trial: int) -> pd.DataFrame:
    """A plan of 3 city-village links (two from one department, one from a donor without a place) and 2 strong-weak
    links, with every column the plan CSV has."""
    grid = villages()
    links = [
        ("城乡联建", "city_village", "department", "农业局", 0, 1.0, 1.0),
        ("城乡联建", "city_village", "department", "农业局", 3, 1.0, 1.0),
        ("城乡联建", "city_village", "community", f"社区{EVIL}", 6, np.nan, np.nan),
        ("strong_weak", "strong_weak", "village", "村10", 9 + trial % 2, 0.0, 4.0),
        ("strong_weak", "strong_weak", "village", "村11", 12, 2.0, 4.0),
    ]
    rows = []
    for policy, (label, kind, donor_kind, donor, village, dx, dy) in enumerate(links):
        rows.append(
            {
                "donor": donor,
                "village": grid.loc[village, "village"],
                "label": label,
                "policy": 0 if kind == "city_village" else 1,
                "type": kind,
                "flow:funds": 50_000.0 if kind == "city_village" else 0.0,
                "donor_kind": donor_kind,
                "donor_index": policy,
                "village_index": village,
                "benefit": 0.5,
                "need": 0.4,
                "strength": 0.3,
                "proximity": 0.2,
                "planned_cost": 60_000.0 + 1000 * trial,
                "village_x_km": grid.loc[village, "x_km"],
                "village_y_km": grid.loc[village, "y_km"],
                "donor_x_km": dx,
                "donor_y_km": dy,
            }
        )
    return pd.DataFrame(rows)


def trials_table() -> pd.DataFrame:
    """12 trials; the fall rises with cost but noisily, so some are off the front."""
    rng = np.random.default_rng(5)
    cost = np.linspace(100_000, 880_000, 12)
    fall = 0.004 * np.sqrt(cost / 880_000) + rng.normal(0, 0.0004, 12)
    on_front = np.array([not ((fall > fall[i]) & (cost <= cost[i])).any() for i in range(12)])
    table = pd.DataFrame(
        {
            "trial": np.arange(12),
            "param:pairs:城乡联建": rng.integers(0, 7, 12).astype(float),
            "param:weight:need": rng.random(12),
            "fall:gini": fall,
            "fall:urban_rural_ratio": fall * 10,
            "cost": cost,
            "pairs": rng.integers(1, 10, 12).astype(float),
            "on_front": on_front,
        }
    )
    table.loc[CHECKED, "on_front"] = True  # the checked plans are on the front, as the optimiser chooses them
    return table


def out_of_sample() -> pd.DataFrame:
    rows = []
    verdicts = {
        "better": (0.002, 0.001, 0.003),
        "not better (no clear difference)": (0.0005, -0.001, 0.002),
        "worse": (-0.002, -0.003, -0.001),
    }
    names = list(verdicts)
    for i, trial in enumerate(CHECKED):
        for j, against in enumerate(["baseline", *HEURISTICS]):
            for outcome in FALLS:
                verdict = names[(i + j) % 3] if against != "baseline" else "better"
                difference, low, high = verdicts[verdict]
                rows.append(
                    {
                        "plan": f"t{trial:04d}",
                        "against": against,
                        "outcome": outcome,
                        "difference": difference,
                        "low": low,
                        "high": high,
                        "n": 6,
                        "share_better": 0.5 + difference * 100,
                        "verdict": verdict,
                    }
                )
    return pd.DataFrame(rows)


SUMMARY = f"""# Optimisation tiny_optimisation

Small county; budget 0.90 M yuan a year {EVIL}.

## On the search seeds (Gini, fall from no pairing)

| plan | fall | planned cost a year | branches |
|---|---|---|---|
| t0003 (checked) | 0.00300 | 400,000 yuan | 4 |
| h-greedy (the scenario's plan) | 0.00200 | 800,000 yuan | 6 |

Plan t0003, planned cost 400,000 yuan a year:
  - pairs:城乡联建 = 3
  - against h-greedy: +0.00100 [+0.00050, +0.00150] more fall; better
"""


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    folder = tmp_path / "optimise-tiny"
    runs = {f"t{t:04d}__s{k:03d}": {"status": "finished", "arm": f"t{t:04d}", "seed": k} for t in range(12) for k in range(4)}
    write_manifest(folder, True, 12, runs)
    trials = trials_table()
    trials.to_parquet(folder / "trials.parquet", index=False)
    reference = pd.DataFrame(
        {"arm": HEURISTICS, "fall:gini": [0.002, 0.0025, 0.001], "fall:urban_rural_ratio": [0.02, 0.025, 0.01], "cost": [8e5] * 3}
    )
    reference.to_csv(folder / "reference.csv", index=False)
    front = trials.loc[trials["on_front"], ["trial", "fall:gini", "cost", "pairs"]].sort_values("cost")
    front["checked"] = front["trial"].isin(CHECKED)
    front.to_csv(folder / "front.csv", index=False)
    out_of_sample().to_csv(folder / "out_of_sample.csv", index=False)
    (folder / "plans").mkdir()
    for trial in CHECKED:
        plan(trial).to_csv(folder / "plans" / f"t{trial:04d}.csv", index=False)
    villages().to_parquet(folder / "plans" / "villages.parquet", index=False)
    (folder / "optimise.md").write_text(SUMMARY, encoding="utf-8")
    return folder


@pytest.fixture
def unfinished(tmp_path: Path) -> Path:
    """A search killed during its out-of-sample check: plans written, no tables yet."""
    folder = tmp_path / "optimise-killed"
    runs = {f"reference__baseline__s{k:03d}": {"status": "finished"} for k in range(4)}
    runs |= {f"t{t:04d}__s{k:03d}": {"status": "finished"} for t in range(12) for k in range(4)}
    runs |= {f"check__baseline__s{k:03d}": {"status": "finished" if k < 2 else "pending"} for k in range(6)}
    write_manifest(folder, False, 12, runs)
    (folder / "plans").mkdir()
    plan(3).to_csv(folder / "plans" / "t0003.csv", index=False)
    plan(5).head(0).to_csv(folder / "plans" / "t0005.csv", index=False)  # a plan that pairs nobody: header only
    villages().to_parquet(folder / "plans" / "villages.parquet", index=False)
    return folder


def test_report_of_a_finished_optimisation(finished: Path, tmp_path: Path) -> None:
    out = write_optimisation_report(finished, tmp_path / "optimise.html")
    page = out.read_text(encoding="utf-8")
    assert page.count("<script") == 1 + page.count('class="plotly-graph-div"')  # the library once, then one per figure
    assert not re.search(r"<script[^>]*\ssrc=|<link\s", page)  # nothing loaded from elsewhere: works offline
    assert EVIL not in page and html.escape(EVIL, quote=False) in page  # text from files shown, never run
    for title in (
        f"The front: fall in {outcome_label('gini')} against planned cost",
        "Plan t0003: who pairs with whom",
        "Plan t0007: who pairs with whom",
        "Out of sample: each checked plan",
    ):
        assert title in page, title
    assert page.count('class="plotly-graph-div"') == 4  # the front, two maps, the forest plot
    for name in [*HEURISTICS, "t0003", "t0007", "城乡联建"]:
        assert name in page, name
    assert "<h4>On the search seeds" in page and "<td>t0003 (checked)</td>" in page  # the summary's Markdown, rendered
    assert "Not better out of sample in" in page  # said plainly, outside the hover
    assert "the optimisation has finished" in page


def test_front_figure_marks_front_checked_plans_and_heuristics(finished: Path) -> None:
    data = load_optimisation_input(finished)
    trials = data.table("trials.parquet")
    figure = front_figure(trials, data.table("reference.csv"), "fall:gini", CHECKED, BUDGET)
    traces = {trace.name: trace for trace in figure.data}
    assert len(traces["plan tried"].x) == 12
    front = trials[trials["on_front"]].sort_values("cost")
    np.testing.assert_allclose(traces["Pareto front"].x, front["cost"])
    np.testing.assert_allclose(traces["Pareto front"].y, front["fall:gini"])
    assert traces["Pareto front"].line.shape == "hv"  # a step: what the cheaper plan gives until the next is affordable
    assert list(traces["checked out of sample"].text) == ["t0003", "t0007"]
    symbols = {}
    for arm in HEURISTICS:
        (trace,) = [t for t in figure.data if t.name.startswith(f"{arm}:")]
        assert list(trace.text) == [arm] and trace.y[0] == pytest.approx(
            data.table("reference.csv").set_index("arm").loc[arm, "fall:gini"]
        )
        symbols[arm] = trace.marker.symbol
    assert symbols == {arm: HEURISTIC_MARKS[arm][0] for arm in HEURISTICS} and len(set(symbols.values())) == 3
    assert any(shape.x0 == BUDGET for shape in figure.layout.shapes)  # the budget line


def test_plan_map_draws_every_village_pairs_and_lines(finished: Path) -> None:
    data = load_optimisation_input(finished)
    links = data.plans["t0003"]
    figure = plan_map_figure(links, data.table("plans/villages.parquet"), "map")
    traces = {trace.name: trace for trace in figure.data}
    grid = villages()
    assert len(traces["village"].x) + len(traces["weak village (薄弱村)"].x) == len(grid)
    assert len(traces["weak village (薄弱村)"].x) == grid["weak"].sum()
    city = f"城乡联建 ({policy_types()['city_village'].label})"
    assert len(traces[f"{city}: paired village"].x) == 3
    assert traces[f"{city}: paired village"].marker.color == policy_types()["city_village"].colour
    strong = policy_types()["strong_weak"].label  # a policy named as its type is named by the type's label
    assert traces[f"{strong}: paired village"].marker.color == policy_types()["strong_weak"].colour
    weak = set(grid.loc[grid["weak"], "village"])
    for name in (city, strong):
        paired = traces[f"{name}: paired village"]
        edges = [colour != "white" for colour in paired.marker.line.color]
        assert edges == [village.split("<br>")[0].split(" ←")[0] in weak for village in paired.text]  # weak ones ringed
    assert any(traces[f"{city}: paired village"].marker.line.color[i] != "white" for i in range(3))
    # lines only for donors with a place: two of the three city-village links, both strong-weak ones
    assert len(traces[f"{city}: donor → village"].x) == 2 * 3
    assert len(traces[f"{strong}: donor → village"].x) == 2 * 3
    assert traces[f"donor: {donor_kinds()['department'].label}"].marker.color == donor_kinds()["department"].colour
    assert len(traces[f"donor: {donor_kinds()['department'].label}"].x) == 1  # 农业局 drawn once for its two links
    assert not any(trace.name == f"donor: {donor_kinds()['community'].label}" for trace in figure.data)  # no place


def test_out_of_sample_forest_plot(finished: Path) -> None:
    table = out_of_sample()
    figure = out_of_sample_figure(table, FALLS)
    assert [annotation.text for annotation in figure.layout.annotations][:2] == [f"fall in {outcome_label(o)}" for o in FALLS]
    high = {"better": 0.003, "not better": 0.002, "worse": -0.001}  # each verdict's interval in out_of_sample()
    low = {"better": 0.001, "not better": -0.001, "worse": -0.003}
    points = 0
    for trace in figure.data:
        assert trace.marker.color == VERDICT_COLOURS[trace.name]
        assert all(f"verdict: <b>{trace.name}" in text for text in trace.text)  # the verdict in the hover
        x = np.asarray(trace.x)
        np.testing.assert_allclose(x + np.asarray(trace.error_x.array), high[trace.name])
        np.testing.assert_allclose(x - np.asarray(trace.error_x.arrayminus), low[trace.name])
        points += len(x)
    assert points == len(table)  # every row once, in its outcome's panel
    rows = {y for trace in figure.data for y in trace.y}
    assert rows == {f"t{t:04d} − {a}" for t in CHECKED for a in ["no pairing", *HEURISTICS]}


def test_unfinished_search_gets_a_report_that_says_so(unfinished: Path) -> None:
    page = build_optimisation_report(unfinished)
    assert "The search has not finished" in page
    assert "12 of 12 plans proposed" in page and "out-of-sample runs 2 of 6 saved" in page
    assert "Plan t0003: who pairs with whom (5 links" in page  # what exists is shown
    assert "Plan t0005: who pairs with whom (0 links" in page
    assert "out_of_sample.csv is not in this folder" in page and "optimise.md is not in this folder" in page


def test_pairsim_report_picks_the_optimisation_report(finished: Path, unfinished: Path) -> None:
    assert is_optimisation_folder(finished) and not is_calibration_folder(finished)
    code, out, err = run_cli("report", finished)
    assert code == 0, err
    page = (finished / "report.html").read_text(encoding="utf-8")
    assert "Report written to" in out and "Optimisation tiny_optimisation" in page and "The front" in page
    code, _, err = run_cli("report", unfinished, "--out", unfinished / "r.html")
    assert code == 0, err
    assert "The search has not finished" in (unfinished / "r.html").read_text(encoding="utf-8")


def test_damaged_tables_are_one_line_of_bad_input(finished: Path) -> None:
    out_of_sample().drop(columns="verdict").to_csv(finished / "out_of_sample.csv", index=False)
    code, _, err = run_cli("report", finished)
    assert code == 2 and "out_of_sample.csv" in err and "verdict" in err and "Traceback" not in err
    (finished / "manifest.json").write_text("{not json", encoding="utf-8")
    assert is_optimisation_folder(finished)  # its own files say what it is, so the error speaks of an optimisation
    code, _, err = run_cli("report", finished)
    assert code == 2 and "manifest.json" in err and "pairsim optimise" in err


def test_markdown_summary_escapes_and_renders() -> None:
    rendered = markdown_html(SUMMARY)
    assert "<h3>Optimisation tiny_optimisation</h3>" in rendered
    assert "<th>plan</th>" in rendered and "<td>h-greedy (the scenario&#x27;s plan)</td>" not in rendered
    assert "<td>h-greedy (the scenario's plan)</td>" in rendered
    assert "<li>pairs:城乡联建 = 3</li>" in rendered
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert markdown_html("a **b** `c`") == '<div class="summary"><p>a <b>b</b> <code>c</code></p></div>'


@pytest.mark.slow
def test_optimisation_report_renders_in_headless_chromium_without_errors(finished: Path, chromium, tmp_path: Path) -> None:
    out = write_optimisation_report(finished, tmp_path / "optimise.html")
    chromium.get(out.as_uri())
    measure = (
        "return Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => {"
        "  const box = div.getBoundingClientRect();"
        "  return [div.id, box.width, box.height, div.querySelectorAll('.main-svg').length]; })"
    )
    deadline = time.monotonic() + 30  # Plotly.newPlot draws asynchronously after the load event
    while (sizes := chromium.execute_script(measure)) and not all(svgs for *_, svgs in sizes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(sizes) == 4
    for figure, width, height, svgs in sizes:
        assert width > 0 and height > 0 and svgs > 0, f"{figure} did not render: {width}x{height}, {svgs} svg"
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    assert chromium.execute_script("return document.title") == "Optimisation tiny_optimisation – pairsim report"
    assert EVIL in chromium.execute_script("return document.body.innerText")  # shown as text, never run


def test_is_kind_folder_reads_the_manifests_kind_or_a_damaged_ones_own_files(tmp_path: Path) -> None:
    from sim.report.folder_files import is_kind_folder

    folder = tmp_path / "folder"
    folder.mkdir()
    assert not is_kind_folder(folder, "optimisation", ["trials.parquet"])  # no manifest
    (folder / "manifest.json").write_text(json.dumps({"kind": "optimisation"}), encoding="utf-8")
    assert is_kind_folder(folder, "optimisation", ["trials.parquet"])
    assert not is_kind_folder(folder, "calibration", ["waves.parquet"])
    (folder / "manifest.json").write_text(json.dumps(["kind", "optimisation"]), encoding="utf-8")
    assert not is_kind_folder(folder, "optimisation", ["trials.parquet"])  # readable, but not an object of that kind
    (folder / "manifest.json").write_text("{not json", encoding="utf-8")
    assert not is_kind_folder(folder, "optimisation", ["trials.parquet"])  # damaged, and none of the kind's files
    (folder / "trials.parquet").write_bytes(b"")
    assert is_kind_folder(folder, "optimisation", ["front.csv", "trials.parquet"])
    assert not is_kind_folder(folder, "calibration", ["waves.parquet"])
