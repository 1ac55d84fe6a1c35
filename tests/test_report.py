"""Tests for the HTML report (sim.report, ``pairsim report``), including a headless-Chromium check.

One module-scoped experiment (``pairsim compare`` on scenarios/small.yaml: baseline and two
arms, 3 replications, 2 years; a few seconds) and one ``pairsim run`` folder are shared by
the tests. The experiment helpers come from tests/test_execute.py.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from test_execute import SMALL, experiment_data, run_cli, write_experiment

from sim import analysis, report
from sim.execute import FUNDS_BY_KIND_COLUMNS
from sim.outcomes import LORENZ_OUTCOMES
from sim.results import current_umask, load_results

EVIL = "<script>alert(1)</script>"
FIGURE_DIV = re.compile(r'<div id="(figure-\d+)" class="plotly-graph-div"')


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> dict[str, Any]:
    """``pairsim compare`` of a tiny experiment whose scenario name and description are HTML."""
    folder = tmp_path_factory.mktemp("report")
    scenario = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    scenario["name"] = f"{EVIL} 示范县"
    (folder / "evil.yaml").write_text(yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), encoding="utf-8")
    # "all_policies" sorts before "baseline": the report must still list (and colour) the baseline first
    arms = {"city_village": {"policies": ["部门+村"]}, "all_policies": {"policies": "all"}}
    data = experiment_data("tiny_report", replications=3, horizon=2, scenarios=["evil.yaml"], description=f"{EVIL} 城乡结对", arms=arms)
    path = write_experiment(folder, data)
    code, out, err = run_cli("compare", path, "--workers", "1", "--out", folder / "results", "--quiet")
    assert code == 0, err
    return {
        "out": folder / "results",
        "stdout": out,
        "stderr": err,
        "html": (folder / "results" / "report.html").read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def single_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("single") / "run"
    code, _, err = run_cli("run", SMALL, "--years", "2", "--out", folder, "--quiet")
    assert code == 0, err
    return folder


def section_titles(text: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", text)


def figures_of(section: report.Section) -> list:
    return [figure for figure, _ in section.figures]


# --------------------------------------------------------------------------- the experiment report


def test_compare_writes_the_report_and_says_where(experiment):
    assert f"Report written to {experiment['out'] / 'report.html'}" in experiment["stderr"]
    text = experiment["html"]
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    assert section_titles(text) == [
        "Overview",
        "Outcomes over time",
        "Effects versus the baseline",
        "Lorenz curves",
        "Theil decomposition",
        "Weak and hollow villages",
        "Who funds whom",
        "Cost-effectiveness",
        "Pairing network",
    ]
    assert 'class="note"' not in text  # every section had its data


def test_report_is_self_contained_with_plotly_embedded_once(experiment):
    text = experiment["html"]
    assert text.count("<script") == 1 + len(FIGURE_DIV.findall(text))  # the library, then one script per figure
    assert not re.search(r"<script[^>]*\ssrc=|<link\s", text)  # nothing loaded from elsewhere
    assert len(FIGURE_DIV.findall(text)) == 13
    assert text.count('<p class="caption">Figure ') == 13


def test_text_from_scenario_and_experiment_files_is_escaped(experiment, single_run, tmp_path):
    text = experiment["html"]
    assert EVIL not in text
    assert html.escape(EVIL) in text  # the scenario name and the description show as text
    assert "示范县" in text and "城乡结对" in text  # utf-8, not escaped away


def test_every_figure_has_a_title_axis_labels_and_a_legend(experiment):
    data = report.load_report_input(experiment["out"])
    for build in report.SECTIONS:
        section = build(data)
        for figure in figures_of(section) if section else []:
            layout = figure.layout
            assert layout.title.text, f"{section.title}: a figure without a title"
            if figure.data[0].type == "sankey":
                continue  # node labels name every flow
            assert layout.xaxis.title.text and layout.yaxis.title.text, layout.title.text
            assert layout.showlegend is True, layout.title.text


def test_time_series_have_95_percent_bands_for_each_arm(experiment):
    data = report.load_report_input(experiment["out"])
    figure = report.time_series_figure(data, "gini")
    bands = [trace for trace in figure.data if trace.fill == "toself"]
    lines = [trace for trace in figure.data if trace.fill != "toself"]
    assert [trace.name for trace in lines] == ["baseline", "all_policies", "city_village"]
    assert len(bands) == 3
    expected = analysis.time_series(data.results, "gini")
    all_policies = expected[expected["arm"] == "all_policies"]
    assert list(lines[1].y) == pytest.approx(all_policies["mean"].tolist())
    assert max(bands[1].y) == pytest.approx(all_policies["ci_high"].max())
    assert figure.layout.yaxis.title.text.startswith("Gini index")


def test_forest_plot_shows_each_arm_effect_with_its_interval(experiment):
    data = report.load_report_input(experiment["out"])
    (figure,) = figures_of(report.forest_section(data))
    assert [trace.name for trace in figure.data] == ["all_policies", "city_village"]
    differences = analysis.paired_differences(data.results, outcomes=["gini"])
    all_policies = differences[differences["arm"] == "all_policies"].iloc[0]
    trace = figure.data[0]
    gini = list(trace.y).index("Gini (all residents)")
    assert trace.x[gini] == pytest.approx(100 * all_policies["difference"] / all_policies["baseline_mean"])
    assert trace.x[gini] + trace.error_x.array[gini] == pytest.approx(100 * all_policies["ci_high"] / all_policies["baseline_mean"])


def test_each_arm_has_one_colour_in_every_figure(experiment):
    data = report.load_report_input(experiment["out"])
    lines = [trace for trace in report.time_series_figure(data, "gini").data if trace.fill != "toself"]
    colours = {trace.name: trace.line.color for trace in lines}
    (forest,) = figures_of(report.forest_section(data))
    (cost,) = figures_of(report.cost_section(data))
    for figure in (forest, cost):
        assert {trace.name: trace.marker.color for trace in figure.data} == {arm: colours[arm] for arm in ("all_policies", "city_village")}
    lorenz = {trace.name.split(",")[0]: trace.line.color for trace in report.lorenz_figure(data).data[2:]}
    assert lorenz == colours


def test_lorenz_curves_run_from_0_to_1_and_bow_below_equality(experiment):
    data = report.load_report_input(experiment["out"])
    figure = report.lorenz_figure(data)
    names = [trace.name for trace in figure.data]
    assert names[:2] == ["perfect equality", "start (2009)"] and names[2:] == [
        "baseline, 2011",
        "all_policies, 2011",
        "city_village, 2011",
    ]
    for trace in figure.data[1:]:
        assert trace.y[0] == 0 and trace.y[-1] == 1
        assert all(y < x for x, y in zip(trace.x[1:-1], trace.y[1:-1], strict=True))


def test_sankey_flows_add_up_to_the_funds_sent(experiment):
    data = report.load_report_input(experiment["out"])
    figure = report.sankey_figure(data.funds_by_kind)
    assert [trace.name for trace in figure.data] == ["all_policies", "city_village"]
    final = analysis.final_year(load_results(experiment["out"]))
    for trace in figure.data:
        expected = final.loc[final["arm"] == trace.name, "funds_sent_total"].mean()
        assert sum(trace.link.value) == pytest.approx(expected)
    assert "departments (部门)" in figure.data[0].node.label
    assert len(figure.layout.updatemenus[0].buttons) == 2  # one per arm


def test_runs_record_funds_by_donor_kind_consistent_with_their_total(experiment):
    results = load_results(experiment["out"])
    by_kind = results[list(FUNDS_BY_KIND_COLUMNS.values())].sum(axis=1)
    assert by_kind.to_numpy() == pytest.approx(results["funds_sent_total"].to_numpy())
    assert (results.loc[results["arm"] == "baseline", list(LORENZ_OUTCOMES)].diff(axis=1).iloc[:, 1:] > 0).all().all()


def test_cost_effectiveness_section_has_a_figure_and_a_table(experiment):
    section = report.cost_section(report.load_report_input(experiment["out"]))
    (figure,) = figures_of(section)
    assert [trace.name for trace in figure.data] == ["all_policies", "city_village"]
    assert "yuan per 0.001 Gini" in section.table_html and "<td>all_policies</td>" in section.table_html


def test_network_is_rebuilt_from_the_arm_with_most_policies(experiment):
    data = report.load_report_input(experiment["out"])
    graph, funds, what = data.network
    assert what.startswith("arm all_policies, replication 0")
    kinds = {attributes["kind"] for _, attributes in graph.nodes(data=True)}
    assert {"joint_branch", "village", "department", "enterprise", "cooperative"} <= kinds
    figure = report.network_figure(graph, funds, what)
    assert {trace.name for trace in figure.data[1:]} >= {"joint branches (联合党总支)", "villages (村)"}
    assert max(funds.values()) > 0


def test_missing_data_gives_a_note_instead_of_a_section(experiment, tmp_path):
    """Results made before the Lorenz and funds-by-kind columns existed, whose experiment file has gone."""
    old = tmp_path / "old"
    shutil.copytree(experiment["out"], old)
    for path in (old / "runs").glob("*.parquet"):
        table = pd.read_parquet(path)
        table.drop(columns=[*LORENZ_OUTCOMES, *FUNDS_BY_KIND_COLUMNS.values(), "urban_income_pc"]).to_parquet(path, index=False)
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    manifest["experiment_file"] = str(tmp_path / "gone.yaml")
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    text = report.build_report(old)
    notes = re.findall(r'<p class="note">(.*?)</p>', text)
    assert len(notes) == 4, notes
    assert any("no Lorenz points" in note for note in notes)
    assert any("urban_income_pc" in note for note in notes)
    assert any("before runs recorded funds" in note for note in notes)
    assert any("no longer there" in note for note in notes)


# --------------------------------------------------------------------------- sweeps and single runs


def test_a_morris_sweep_gets_sensitivity_figures(tmp_path):
    design = {
        "method": "morris",
        "samples": 2,
        "levels": 4,
        "parameters": {
            "pairing.failure.leakage": {"low": 0.0, "high": 0.4},
            "pairing.effects.training_gain": {"low": 0.0, "high": 0.3},
        },
    }
    data = experiment_data(
        "morris_report", replications=1, baseline=False, arms={"all_policies": {"policies": "all"}}, design=design
    )
    code, _, err = run_cli("sweep", write_experiment(tmp_path, data), "--workers", "1", "--out", tmp_path / "results", "--quiet")
    assert code == 0, err
    section = report.sensitivity_section(report.load_report_input(tmp_path / "results"))
    assert section.title == "Sensitivity (morris)" and not section.note
    assert len(section.figures) == 3  # gini, urban/rural ratio, weak villages
    assert set(section.figures[0][0].data[0].text) == {"pairing.failure.leakage", "pairing.effects.training_gain"}


def test_single_run_folder_gets_a_report_without_bands(single_run, tmp_path):
    out = tmp_path / "single.html"
    code, stdout, err = run_cli("report", single_run, "-o", out)
    assert code == 0, err
    assert stdout.strip() == f"Report written to {out}"
    text = out.read_text(encoding="utf-8")
    assert "Run of Small teaching county" in text
    data = report.load_report_input(single_run)
    assert not any(trace.fill == "toself" for trace in report.time_series_figure(data, "gini").data)
    titles = section_titles(text)
    assert {"Lorenz curves", "Who funds whom", "Pairing network"} <= set(titles)
    notes = re.findall(r'<p class="note">(.*?)</p>', text)
    assert len(notes) == 2 and all("baseline arm" in note for note in notes)  # effects and cost-effectiveness need arms
    funds = pd.read_parquet(single_run / "policies.parquet")["funds_sent"].sum()
    assert data.funds_by_kind["sent"].sum() == pytest.approx(funds)


def test_report_default_output_is_inside_the_folder(single_run):
    code, _, _ = run_cli("report", single_run)
    assert code == 0 and (single_run / "report.html").is_file()
    assert (single_run / "report.html").stat().st_mode & 0o777 == 0o666 & ~current_umask()  # shareable, like any file


# --------------------------------------------------------------------------- bad input


def test_report_help(capsys):
    code, out, _ = run_cli("report", "--help")
    assert code == 0 and "RESULTS_DIR" in out and "report.html" in out


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: tmp / "missing", "no such folder"),
        (lambda tmp: tmp, "not a results folder"),
        (lambda tmp: (tmp / "manifest.json").write_text("{}") and tmp, "no finished runs yet"),
        (lambda tmp: (tmp / "manifest.json").write_text("{not json") and tmp, "not valid JSON"),
    ],
)
def test_bad_folders_give_one_line_and_exit_2(tmp_path, make, expected):
    folder = make(tmp_path)
    code, out, err = run_cli("report", folder)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith(str(folder)), err


def test_output_that_is_a_folder_is_bad_input(single_run, tmp_path):
    code, _, err = run_cli("report", single_run, "-o", tmp_path)
    assert code == 2 and err.strip() == f"{tmp_path}: --out: is a folder; expected the path of an HTML file to write"


# --------------------------------------------------------------------------- in a real browser


def test_report_renders_in_headless_chromium_without_errors(experiment, chromium, tmp_path):
    chromium.get((experiment["out"] / "report.html").as_uri())
    sizes = chromium.execute_script(
        "return Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => {"
        "  const box = div.getBoundingClientRect();"
        "  return [div.id, box.width, box.height, div.querySelectorAll('.main-svg').length]; })"
    )
    assert len(sizes) == len(FIGURE_DIV.findall(experiment["html"])) == 13
    for figure, width, height, svgs in sizes:
        assert width > 0 and height > 0 and svgs > 0, f"{figure} did not render: {width}x{height}, {svgs} svg"
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    assert chromium.execute_script("return document.title").startswith("Experiment tiny_report")
    assert EVIL in chromium.execute_script("return document.body.innerText")  # shown as text, never run (an alert would stop the driver)
    screenshot = tmp_path / "report.png"
    assert chromium.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
