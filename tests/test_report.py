"""Tests for the HTML report (sim.report, ``pairsim report``), including a headless-Chromium check.

One module-scoped experiment (``pairsim compare`` on scenarios/small.yaml: baseline and two
arms, 3 replications, 2 years; a few seconds) and one ``pairsim run`` folder are shared by
the tests. Folders with several scenarios, a sweep's design points, one replication or
failed runs are made from copies of the experiment's run files (no new runs). The
experiment helpers come from tests/test_execute.py.
"""

from __future__ import annotations

import copy
import html
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import pytest
import yaml
from test_execute import BREAKING_OVERRIDE, SMALL, experiment_data, run_cli, write_experiment

from sim import analysis, report
from sim.execute import SerialExecutor, build_model, funds_by_kind_columns, make_executor, run_experiment
from sim.experiment import load_experiment, run_specs
from sim.model import PairingModel
from sim.outcome_registry import LORENZ_KEYS
from sim.outputs import current_umask
from sim.pairing.registry import DonorKind, donor_kinds, register_donor_kind, unregister
from sim.report.inputs import NO_SAVED_GRAPH, OLD_MANIFEST
from sim.results import ResultsStore, load_results
from sim.summary import summarize_folder

EVIL = "<script>alert(1)</script>"
HOSTILE = '<img src=x onerror=alert(1)> "东城"'  # a town (so village names) and an enterprise: markup and double quotes
OTHER = 'richer "<b>county</b>"'  # the second scenario of the made-up two-scenario folders
FIGURE_DIV = re.compile(r'<div id="(figure-\d+)" class="plotly-graph-div"')


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> dict[str, Any]:
    """``pairsim compare`` of a tiny experiment whose scenario name and description are HTML."""
    folder = tmp_path_factory.mktemp("report")
    scenario = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    scenario["name"] = f"{EVIL} 示范县"
    scenario["region"]["towns"][0] = HOSTILE
    scenario["enterprises"]["listed"] = [
        {"name": f"{HOSTILE} 企业", "sector": "manufacturing", "jobs": 120, "monthly_wage": 1500}
    ]
    (folder / "evil.yaml").write_text(yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), encoding="utf-8")
    # "all_policies" sorts before "baseline": the report must still list (and colour) the baseline first
    arms = {"city_village": {"policies": ["部门+村"]}, "all_policies": {"policies": "all"}}
    data = experiment_data(
        "tiny_report", replications=3, horizon=2, scenarios=["evil.yaml"], description=f"{EVIL} 城乡结对", arms=arms
    )
    path = write_experiment(folder, data)
    code, out, err = run_cli("compare", path, "--workers", "1", "--out", folder / "results")  # not --quiet: it says where
    assert code == 0, err
    return {
        "out": folder / "results",
        "stdout": out,
        "stderr": err,
        "html": (folder / "results" / "report.html").read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def experiment_input_once(experiment) -> report.ReportInput:
    """The experiment's folder read by the report once (a tenth of a second each time), for the tests that only draw it."""
    return report.load_report_input(experiment["out"])


@pytest.fixture
def experiment_input(experiment_input_once) -> report.ReportInput:
    """A deep copy of the read experiment folder, so that no test sees what another changed."""
    return copy.deepcopy(experiment_input_once)


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


def copy_runs(source: Path, target: Path, change=None) -> Path:
    """A copy of a results folder whose run files ``change(path, table)`` may rewrite (writing files of its own)."""
    shutil.copytree(source, target)
    (target / "report.html").unlink()
    for path in sorted((target / "runs").glob("*.parquet")):
        if change is not None:
            change(path, pd.read_parquet(path))
    return target


def two_scenarios(source: Path, target: Path) -> Path:
    """The experiment's runs plus the same runs as a second scenario, OTHER, whose Gini is 10 % higher."""

    def add_other(path: Path, table: pd.DataFrame) -> None:
        run_id = "other" + path.stem.removeprefix("evil")
        other = table.assign(run_id=run_id, scenario=OTHER, gini=table["gini"] * 1.1)
        other.to_parquet(path.with_name(f"{run_id}.parquet"), index=False)

    return copy_runs(source, target, add_other)


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


def figure_texts(figure) -> list[str]:
    """Every string plotly draws as markup: title, trace names, hover and node texts, button labels."""
    texts = [figure.layout.title.text or ""]
    for trace in figure.data:
        texts.append(trace.name or "")
        for attribute in ("text", "hovertext"):
            value = getattr(trace, attribute, None)
            texts += [value] if isinstance(value, str) else list(value or [])
        if trace.type == "sankey":
            texts += list(trace.node.label)
    for menu in figure.layout.updatemenus:
        texts += [button.label for button in menu.buttons]
    return [text for text in texts if isinstance(text, str)]


@pytest.mark.slow
def test_names_in_figures_are_escaped_for_plotly_which_shows_quot_literally(experiment, tmp_path):
    """Village and enterprise names (network hover) and scenario names (trace names) with markup and double quotes: plotly
    decodes &lt; &gt; &amp; but would show &quot; as is, so quotes stay quotes and markup never reaches plotly raw."""
    data = report.load_report_input(two_scenarios(experiment["out"], tmp_path / "two"))
    texts = [
        text
        for build in report.SECTIONS
        if (section := build(data))
        for figure in figures_of(section)
        for text in figure_texts(figure)
    ]
    assert any(html.escape(HOSTILE, quote=False) in text for text in texts)  # a village of that town, in the network
    assert any(html.escape(OTHER, quote=False) in text for text in texts)
    assert not [text for text in texts if "<img" in text or "<b>county" in text or "&quot;" in text]


@pytest.mark.slow
def test_every_figure_has_a_title_axis_labels_and_a_legend(experiment_input):
    data = experiment_input
    for build in report.SECTIONS:
        section = build(data)
        for figure in figures_of(section) if section else []:
            layout = figure.layout
            assert layout.title.text, f"{section.title}: a figure without a title"
            if figure.data[0].type == "sankey":
                continue  # node labels name every flow
            if layout.xaxis.visible is False:
                continue  # the network: its layout positions mean nothing (test_network_figure_hides_its_meaningless_axes)
            assert layout.xaxis.title.text and layout.yaxis.title.text, layout.title.text
            assert layout.showlegend is True, layout.title.text


def test_time_series_have_95_percent_bands_for_each_arm(experiment_input):
    data = experiment_input
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


def test_forest_plot_shows_each_arm_effect_with_its_interval(experiment_input):
    data = experiment_input
    (figure,) = figures_of(report.forest_section(data))
    assert [trace.name for trace in figure.data] == ["all_policies", "city_village"]
    differences = analysis.paired_differences(data.results, outcomes=["gini"])
    all_policies = differences[differences["arm"] == "all_policies"].iloc[0]
    trace = figure.data[0]
    gini = list(trace.y).index("Gini (all residents)")
    assert trace.x[gini] == pytest.approx(100 * all_policies["difference"] / all_policies["baseline_mean"])
    assert trace.x[gini] + trace.error_x.array[gini] == pytest.approx(
        100 * all_policies["ci_high"] / all_policies["baseline_mean"]
    )


@pytest.mark.slow
def test_each_arm_has_one_colour_in_every_figure(experiment_input):
    data = experiment_input
    lines = [trace for trace in report.time_series_figure(data, "gini").data if trace.fill != "toself"]
    colours = {trace.name: trace.line.color for trace in lines}
    (forest,) = figures_of(report.forest_section(data))
    (cost,) = figures_of(report.cost_section(data))
    for figure in (forest, cost):
        assert {trace.name: trace.marker.color for trace in figure.data} == {
            arm: colours[arm] for arm in ("all_policies", "city_village")
        }
    lorenz = {trace.name.split(",")[0]: trace.line.color for trace in curves(report.lorenz_figure(data))[2:]}
    assert lorenz == colours
    differences = {trace.name: trace.line.color for trace in report.lorenz_figure(data).data if trace.xaxis == "x2"}
    assert differences == {f"{arm} minus baseline": colours[arm] for arm in ("all_policies", "city_village")}


def curves(figure) -> list:
    """The Lorenz figure's curves (its first panel), without the differences from the baseline (its second)."""
    return [trace for trace in figure.data if trace.xaxis != "x2"]


def test_lorenz_curves_run_from_0_to_1_and_bow_below_equality(experiment_input):
    data = experiment_input
    figure = report.lorenz_figure(data)
    names = [trace.name for trace in curves(figure)]
    assert names[:2] == ["perfect equality", "start (2009)"] and names[2:] == [
        "baseline, 2011",
        "all_policies, 2011",
        "city_village, 2011",
    ]
    for trace in curves(figure)[1:]:
        assert trace.y[0] == 0 and trace.y[-1] == 1
        assert all(y < x for x, y in zip(trace.x[1:-1], trace.y[1:-1], strict=True))


def test_lorenz_panel_draws_each_arm_minus_the_baseline_in_points(experiment_input):
    """The end curves nearly coincide; the second panel shows each arm's final-year curve minus the baseline's."""
    data = experiment_input
    figure = report.lorenz_figure(data)
    final = data.results[data.results["year"] == data.results["year"].max()].groupby("arm")[list(LORENZ_KEYS)].mean()
    panel = {trace.name: trace for trace in figure.data if trace.xaxis == "x2"}
    assert list(panel) == ["all_policies minus baseline", "city_village minus baseline"]
    expected = 100 * (final.loc["all_policies"] - final.loc["baseline"])
    assert list(panel["all_policies minus baseline"].y) == pytest.approx(expected.tolist())
    assert "percentage points" in figure.layout.yaxis2.title.text
    ((_, caption),) = report.lorenz_section(data).figures
    assert "minus the baseline's, in percentage points" in caption


def test_arms_whose_lines_coincide_stay_visible_as_nested_stripes(experiment_input):
    """Urban income is the same in every arm (common random numbers): each arm's line is narrower than the one beneath."""
    data = experiment_input
    lines = [trace for trace in report.time_series_figure(data, "urban_income_pc").data if trace.fill != "toself"]
    assert [trace.name for trace in lines] == ["baseline", "all_policies", "city_village"]
    assert list(lines[1].y) == pytest.approx(list(lines[0].y))  # the premise: they coincide
    widths = [trace.line.width for trace in lines]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 3  # drawn widest first
    captions = dict(zip(report.TIME_SERIES, [caption for _, caption in report.time_series_section(data).figures], strict=True))
    assert "lines coincide" in captions["urban_income_pc"] and "narrower than the one beneath" in captions["urban_income_pc"]


def test_time_series_captions_say_why_bands_overlap_while_paired_effects_are_significant(experiment_input):
    data = experiment_input
    sections = (report.time_series_section(data), report.villages_section(data))
    captions = [caption for section in sections for _, caption in section.figures]
    assert len(captions) == 7
    for caption in captions:
        assert "spans the spread across replications" in caption, caption
        assert "bands overlap even where the effects versus the baseline are significant" in caption, caption
        assert "paired differences from the baseline within each replication (common random numbers)" in caption, caption


def test_ratio_caption_says_what_the_ratio_is(experiment):
    assert "How many times the rural mean the urban mean" not in experiment["html"]
    assert report.TIME_SERIES["urban_rural_ratio"].startswith("Mean urban income divided by mean rural income")


def test_network_figure_hides_its_meaningless_axes(experiment, experiment_input):
    data = experiment_input
    figure = report.network_figure(*data.network)
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False
    assert "layout position" not in experiment["html"]


def not_significant(source: Path, target: Path) -> Path:
    """A copy where city_village's Gini is the baseline's plus +0.001, -0.001, +0.0005 by replication: no clear effect."""

    def shift(path: Path, table: pd.DataFrame) -> None:
        if table["arm"].iloc[0] == "city_village":
            baseline = pd.read_parquet(path.with_name(path.name.replace("__city_village__", "__baseline__")))
            offset = [0.001, -0.001, 0.0005][int(table["replication"].iloc[0])]
            table.assign(gini=baseline["gini"].to_numpy() + offset).to_parquet(path, index=False)

    return copy_runs(source, target, shift)


def test_cost_table_shows_yuan_gini_and_why_a_cost_is_not_defined(experiment, tmp_path):
    data = report.load_report_input(not_significant(experiment["out"], tmp_path / "flat"))
    table = report.cost_section(data).table_html
    rows = {cells[0]: cells[1:] for cells in (re.findall(r"<td[^>]*>(.*?)</td>", row) for row in table.split("<tr>")) if cells}
    assert set(rows) == {"all_policies", "city_village"}
    for funds, reduction, _ in rows.values():
        assert re.fullmatch(r"\d{1,3}(,\d{3})+", funds), funds
        assert re.fullmatch(r"-?\d\.\d{4} \[-?\d\.\d{4}, -?\d\.\d{4}\]", reduction), reduction
    assert rows["city_village"][2] == "no significant reduction"
    assert "nan" not in table and "e-0" not in table and "<th>note</th>" not in table


def test_summarize_shows_labels_units_and_reasons_never_nan(experiment, tmp_path):
    for folder in (experiment["out"], not_significant(experiment["out"], tmp_path / "flat")):
        text = summarize_folder(folder)
        assert "nan" not in text and "e-0" not in text, text
        assert "Gini (all residents)" in text and "Urban/rural share of Theil T" in text and "Mean rural income" in text
        assert not re.search(r"\b(gini|theil_t|theil_between_share|rural_income_pc|urban_rural_ratio)\b", text), text
        for line in text.splitlines():
            if "  Gini (all residents)  " in line:
                baseline, difference = re.split(r"\s{2,}", line.strip())[4:6]
                assert re.fullmatch(r"-?\d\.\d{4}", baseline) and re.fullmatch(r"-?\d\.\d{4}", difference), line
    assert re.search(r"city_village .* no significant reduction$", text, re.MULTILINE), text


def test_forest_hover_gives_each_effect_in_its_unit(experiment_input):
    data = experiment_input
    (figure,) = figures_of(report.forest_section(data))
    hover = dict(zip(figure.data[0].y, figure.data[0].text, strict=True))
    assert re.fullmatch(r"difference -?\d\.\d{4} \[-?\d\.\d{4}, -?\d\.\d{4}\], n = 3", hover["Gini (all residents)"])
    assert re.fullmatch(r"difference -?[\d,]+ \[-?[\d,]+, -?[\d,]+\], n = 3", hover["Mean rural income"])
    assert hover["Rural poverty headcount"].endswith(" pp, n = 3")


def test_sankey_flows_add_up_to_the_funds_sent(experiment, experiment_input):
    data = experiment_input
    figure = report.sankey_figure(data)
    assert [trace.name for trace in figure.data] == ["all_policies", "city_village"]
    final = analysis.final_year(load_results(experiment["out"]))
    for trace in figure.data:
        expected = final.loc[final["arm"] == trace.name, "funds_sent_total"].mean()
        assert sum(trace.link.value) == pytest.approx(expected)
    assert "departments (部门)" in figure.data[0].node.label
    assert len(figure.layout.updatemenus[0].buttons) == 2  # one per arm


def test_sankey_splits_funds_by_donor_kind_and_recipient(experiment, experiment_input):
    data = experiment_input
    figure = report.sankey_figure(data)
    final = analysis.final_year(load_results(experiment["out"]))
    kind_of = {looks.label: kind for kind, looks in report.node_kinds().items()}
    recipient_of = {label: recipient for recipient, label in report.RECIPIENT_CLASSES.items()}
    for trace in reversed(figure.data):  # all_policies last, for the check below
        labels = trace.node.label
        flows = {
            (kind_of[labels[source]], recipient_of[labels[target]]): value
            for source, target, value in zip(trace.link.source, trace.link.target, trace.link.value, strict=True)
        }
        means = final[final["arm"] == trace.name][list(funds_by_kind_columns().values())].mean()
        expected = {cell: means[column] for cell, column in funds_by_kind_columns().items() if means[column] > 0}
        assert flows == pytest.approx(expected)
    assert len({kind for kind, _ in flows}) > 1  # all_policies: several kinds of donor, each its own flow


def test_runs_record_funds_by_donor_kind_consistent_with_their_total(experiment):
    results = load_results(experiment["out"])
    by_kind = results[list(funds_by_kind_columns().values())].sum(axis=1)
    assert by_kind.to_numpy() == pytest.approx(results["funds_sent_total"].to_numpy())
    assert (results.loc[results["arm"] == "baseline", list(LORENZ_KEYS)].diff(axis=1).iloc[:, 1:] > 0).all().all()


def test_cost_effectiveness_section_has_a_figure_and_a_table(experiment_input):
    section = report.cost_section(experiment_input)
    (figure,) = figures_of(section)
    assert [trace.name for trace in figure.data] == ["all_policies", "city_village"]
    assert "yuan per 0.001 Gini" in section.table_html and "<td>all_policies</td>" in section.table_html


def test_cost_effectiveness_counts_the_donor_cost_of_every_flow(experiment, experiment_input):
    """The figure's x and the table's cost are each arm's mean donor cost (every flow), not its funds sent."""
    section = report.cost_section(experiment_input)
    (figure,), ((_, caption),) = figures_of(section), section.figures
    final = analysis.final_year(load_results(experiment["out"]))
    for trace in figure.data:
        arm = final[final["arm"] == trace.name]
        assert trace.x[0] == pytest.approx(arm["donor_cost_total"].mean())
        assert arm["donor_cost_total"].mean() > arm["funds_sent_total"].mean()  # training, cadres ... cost too
    assert figure.layout.xaxis.title.text == "donor cost over the run (yuan per run)" and "donor cost" in figure.layout.title.text
    assert "<th>donor cost (yuan per run)</th>" in section.table_html and "funds sent" not in section.table_html
    assert "training" in caption and "problems solved" in caption and not section.note


@pytest.fixture
def university():
    """A donor kind registered for one test (the registry, not the report, knows its label and colour)."""
    donor_kinds()  # the built-in kinds first, so the toy one is the last (and can be unregistered)
    kind = register_donor_kind(DonorKind("university", "universities (高校)", "#8c564b"))
    yield kind
    unregister("university")


def test_sankey_draws_any_registered_donor_kind_with_its_label_and_colour(university):
    funds = pd.DataFrame(
        {
            "scenario": ["small"] * 3,
            "arm": ["all"] * 3,
            "donor_kind": ["university", "university", "department"],
            "recipient": ["weak", "other", "weak"],
            "sent": [300.0, 100.0, 50.0],
        }
    )
    results = pd.DataFrame({"scenario": ["small"], "arm": ["all"], "point": [0], "year": [2010]})
    data = report.ReportInput(Path("."), "experiment", "toy", [], results, funds)
    (trace,) = report.sankey_figure(data).data
    labels, colours = list(trace.node.label), list(trace.node.color)
    at = labels.index("universities (高校)")
    assert colours[at] == "rgba(140,86,75,0.85)"
    assert colours[labels.index("departments (部门)")] == "rgba(31,119,180,0.85)"
    from_university = [value for source, value in zip(trace.link.source, trace.link.value, strict=True) if source == at]
    assert sorted(from_university) == [100.0, 300.0]


def test_network_draws_any_registered_node_kind_with_its_label_and_colour(university):
    graph = nx.Graph()
    graph.add_node("u1", kind="university", name="Tsinghua")
    graph.add_node("v1", kind="village", name="东村")
    graph.add_node("b1", kind="joint_branch", name="branch 1")
    graph.add_edges_from([("u1", "b1"), ("v1", "b1")])
    figure = report.network_figure(graph, {"u1": 500.0, "v1": 500.0}, "yuan sent or received")
    markers = {trace.name: trace.marker for trace in figure.data if trace.mode == "markers"}
    kinds = report.node_kinds()
    assert markers["universities (高校)"].color == "#8c564b"
    assert markers[kinds["village"].label].color == kinds["village"].colour
    assert markers[kinds[report.JOINT_BRANCH].label].symbol == "diamond"


def test_network_names_a_kind_no_longer_registered_by_its_key():
    graph = nx.Graph()
    graph.add_node("x1", kind="observatory", name="old results")
    figure = report.network_figure(graph, {}, "yuan")
    assert [trace.name for trace in figure.data if trace.mode == "markers"] == ["observatory"]


def test_network_is_drawn_from_the_saved_graph_of_the_arm_with_most_policies(experiment, experiment_input):
    data = experiment_input
    graph, funds, what = data.network
    assert what.startswith("arm all_policies, replication 0")
    links = pd.read_parquet(experiment["out"] / "graphs" / "evil__all_policies.links.parquet")
    branches = [node for node, kind in graph.nodes(data="kind") if kind == "joint_branch"]
    assert sum(funds[node] for node in branches) == pytest.approx(links["planned_funds"].sum())
    assert links["planned_funds"].sum() > 0
    kinds = {attributes["kind"] for _, attributes in graph.nodes(data=True)}
    assert {"joint_branch", "village", "department", "enterprise", "cooperative"} <= kinds
    figure = report.network_figure(graph, funds, what)
    assert {trace.name for trace in figure.data[1:]} >= {"joint branches (联合党总支)", "villages (村)"}
    assert max(funds.values()) > 0


@pytest.mark.slow
def test_missing_data_gives_a_note_instead_of_a_section(experiment, tmp_path):
    """Results made before the Lorenz, funds-by-kind and donor-cost columns and the saved graphs existed, whose
    experiment file has gone."""
    old = tmp_path / "old"
    shutil.copytree(experiment["out"], old)
    for path in (old / "runs").glob("*.parquet"):
        table = pd.read_parquet(path)
        dropped = [*LORENZ_KEYS, *funds_by_kind_columns().values(), "urban_income_pc", "donor_cost_total"]
        table.drop(columns=dropped).to_parquet(path, index=False)
    shutil.rmtree(old / "graphs")
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    manifest["experiment_file"] = str(tmp_path / "gone.yaml")
    for newer in ("graphs", "description", "scenario_names"):
        del manifest[newer]
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    text = report.build_report(old)
    notes = re.findall(r'<p class="note">(.*?)</p>', text)
    assert len(notes) == 5, notes
    assert any("no Lorenz points" in note for note in notes)
    assert any("urban_income_pc" in note for note in notes)
    assert any("before runs recorded funds" in note for note in notes)
    assert any("no donor_cost_total column" in note and "funds sent only" in note for note in notes)
    assert "<th>funds sent (yuan per run)</th>" in text and "donor cost (yuan" not in text
    assert f"Not shown: {NO_SAVED_GRAPH}." in notes
    assert OLD_MANIFEST in text  # in the overview


def test_cost_axis_says_the_gini_scale(experiment_input):
    (figure,) = figures_of(report.cost_section(experiment_input))
    assert "0–1 scale" in figure.layout.yaxis.title.text


@pytest.mark.slow
def test_network_is_left_out_with_a_note_when_its_arms_first_run_failed(tmp_path):
    """The arm with most policies fails to form its pairings, so no run of it saved a graph: the rest is reported."""
    arms = {"city_village": {"policies": ["部门+村"]}, "all_policies": {"policies": "all", "overrides": BREAKING_OVERRIDE}}
    path = write_experiment(tmp_path, experiment_data("broken_arm", replications=1, arms=arms))
    code, _, err = run_cli("compare", path, "--workers", "1", "--out", tmp_path / "results", "--quiet")
    assert code == 1 and "41 pairs" in err
    notes = re.findall(r'<p class="note">(.*?)</p>', report.build_report(tmp_path / "results"))
    assert notes == [
        "Not shown: the run small__all_policies__p0000__r000 failed, so arm all_policies has no saved pairing graph."
    ]


# --------------------------------------------------------------------------- the saved pairing graphs


def graph_experiment(folder: Path, replications: int = 2) -> Path:
    """A one-year experiment of a copy of small.yaml in ``folder``, which a test may then change or delete."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SMALL, folder / "county.yaml")
    return write_experiment(folder, experiment_data("graphs", replications=replications, scenarios=["county.yaml"]))


@pytest.fixture(scope="module")
def graph_folder(tmp_path_factory) -> Path:
    """A folder holding county.yaml, the graph experiment (2 replications) and its results; tests that change it copy it."""
    folder = tmp_path_factory.mktemp("graphs")
    run_here(graph_experiment(folder), folder / "results")
    return folder


def copy_of_graph_folder(graph_folder: Path, tmp_path: Path) -> Path:
    """The experiment file of a copy of ``graph_folder`` (modification times kept); the copy's results are its own."""
    target = tmp_path / "graphs"
    shutil.copytree(graph_folder, target)
    return target / "exp.yaml"


def run_here(path: Path, out_dir: Path, executor=None):
    return run_experiment(load_experiment(path), path, out_dir, executor or SerialExecutor(), progress=False)


def graph_files(out_dir: Path) -> dict[str, bytes]:
    return {file.name: file.read_bytes() for file in sorted((out_dir / "graphs").iterdir())}


def graph_times(out_dir: Path) -> dict[str, int]:
    return {file.name: file.stat().st_mtime_ns for file in (out_dir / "graphs").iterdir()}


def network_data(folder: Path):
    graph, funds, what = report.load_report_input(folder).network
    return nx.node_link_data(graph, edges="links"), funds, what


def test_an_experiment_saves_the_pairing_graph_each_arm_starts_with(graph_folder):
    path, out_dir = graph_folder / "exp.yaml", graph_folder / "results"
    arms = ("baseline", "city_village", "everything")
    assert sorted(graph_files(out_dir)) == sorted(f"county__{arm}.{ext}" for arm in arms for ext in ("json", "links.parquet"))
    assert [p for p in out_dir.rglob(".*")] == [], "temporary files left behind"
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["graphs"] == [
        {"run_id": f"county__{arm}__p0000__r000", "scenario": "county", "arm": arm, "policies": policies}
        for arm, policies in zip(arms, ([], ["部门+村"], "all"), strict=True)
    ]
    spec = next(spec for spec in run_specs(load_experiment(path)) if spec.run_id == "county__everything__p0000__r000")
    programme = build_model(spec).pairing  # what replication 0 started with: pairing formed, no month run
    graph_path, links_path = ResultsStore(out_dir).graph_files("county", "everything")
    assert json.loads(graph_path.read_text(encoding="utf-8")) == nx.node_link_data(programme.graph, edges="links")
    links = pd.read_parquet(links_path)
    pd.testing.assert_frame_equal(links.drop(columns="planned_funds"), programme.link_table())
    assert links["planned_funds"].tolist() == programme.links.planned["funds"].tolist()
    assert set(links["start_step"]) == {0} and set(links["status"]) == {"active"}
    assert json.loads(ResultsStore(out_dir).graph_files("county", "baseline")[0].read_text(encoding="utf-8"))["nodes"] == []


def test_the_report_draws_from_the_results_folder_after_the_scenario_and_experiment_files_changed_or_went(tmp_path, monkeypatch):
    path = graph_experiment(tmp_path, replications=1)  # its own folder: the manifest names this county.yaml
    out_dir = tmp_path / "results"
    run_here(path, out_dir)
    drawn = network_data(out_dir)
    assert drawn[2] == "arm everything, replication 0, at the start; node size: planned funds a year (yuan)"

    def no_model(*args, **kwargs):
        raise AssertionError("the report built a model")

    monkeypatch.setattr(PairingModel, "__init__", no_model)
    scenario = yaml.safe_load((tmp_path / "county.yaml").read_text(encoding="utf-8"))
    scenario["pairing"]["policies"] = scenario["pairing"]["policies"][:1]  # a different network, if it were rebuilt
    scenario["region"]["towns"] = [f"{town} (renamed)" for town in scenario["region"]["towns"]]
    (tmp_path / "county.yaml").write_text(yaml.safe_dump(scenario, allow_unicode=True), encoding="utf-8")
    assert network_data(out_dir) == drawn
    (tmp_path / "county.yaml").unlink()
    path.unlink()  # the experiment file too: the overview comes from the manifest
    assert network_data(out_dir) == drawn
    data = report.load_report_input(out_dir)
    assert data.network_note == ""
    overview = dict(data.overview)
    assert overview["Scenarios"] == "Small teaching county (county.yaml)" and "Note" not in overview


@pytest.mark.slow
def test_serial_and_process_pool_runs_save_identical_graph_files(tmp_path):
    path = graph_experiment(tmp_path, replications=1)
    run_here(path, tmp_path / "serial")
    with make_executor(workers=2) as pool:
        pooled = run_here(path, tmp_path / "pool", pool)
    assert pooled.finished == 3 and not pooled.failed
    assert graph_files(tmp_path / "pool") == graph_files(tmp_path / "serial")


def test_a_resumed_experiment_keeps_its_graphs_and_an_older_folder_gets_them(graph_folder, tmp_path):
    path = copy_of_graph_folder(graph_folder, tmp_path)  # the same experiment (identity hashes file contents)
    out_dir = path.parent / "results"
    saved, times = graph_files(out_dir), graph_times(out_dir)
    store = ResultsStore(out_dir)

    assert run_here(path, out_dir).finished == 0  # nothing to do: the graphs are left alone
    (store.runs / "county__everything__p0000__r001.parquet").unlink()  # interrupted: a run that keeps no graph
    assert run_here(path, out_dir).finished == 1
    assert graph_times(out_dir) == times

    (store.runs / "county__everything__p0000__r000.parquet").unlink()  # killed between saving the graph and the run
    assert run_here(path, out_dir).finished == 1
    assert graph_files(out_dir) == saved

    shutil.rmtree(store.graphs)  # a folder from a version that saved no graphs: they come with the next call
    manifest = store.read_manifest()
    del manifest["graphs"]
    store.write_manifest(manifest)
    assert report.load_report_input(out_dir).network_note == NO_SAVED_GRAPH
    resumed = run_here(path, out_dir)
    assert (resumed.already_done, resumed.finished) == (3, 3)
    assert graph_files(out_dir) == saved
    assert report.load_report_input(out_dir).network is not None


# --------------------------------------------------------------------------- several scenarios, sweeps, failed runs


def test_several_scenarios_are_drawn_apart_never_pooled(experiment, tmp_path):
    data = report.load_report_input(two_scenarios(experiment["out"], tmp_path / "two"))
    name = f"{html.escape(OTHER, quote=False)} · all_policies"
    figure = report.time_series_figure(data, "gini")
    lines = {trace.name: trace for trace in figure.data if trace.fill != "toself"}
    assert list(lines) == [f"evil · {arm}" for arm in ("baseline", "all_policies", "city_village")] + [
        f"{html.escape(OTHER, quote=False)} · {arm}" for arm in ("baseline", "all_policies", "city_village")
    ]
    expected = analysis.time_series(data.results, "gini")
    other = expected[(expected["scenario"] == OTHER) & (expected["arm"] == "all_policies")]
    assert list(lines[name].y) == pytest.approx(other["mean"].tolist())  # that scenario's own means, not pooled
    assert lines[name].line.color == lines["evil · all_policies"].line.color  # one colour per arm ...
    assert lines[name].line.dash != lines["evil · all_policies"].line.dash  # ... one dash per scenario
    (forest,) = figures_of(report.forest_section(data))
    assert [trace.name for trace in forest.data] == [
        "evil · all_policies",
        "evil · city_village",
        name,
        f"{name[:-15]} · city_village",
    ]
    cost = report.cost_section(data)
    assert [trace.name for trace in figures_of(cost)[0].data] == [trace.name for trace in forest.data]
    assert "<th>scenario</th>" in cost.table_html and f"<td>{html.escape(OTHER, quote=False)}</td>" in cost.table_html
    assert [trace.name for trace in report.sankey_figure(data).data] == [trace.name for trace in forest.data]
    lorenz = [trace.name for trace in report.lorenz_figure(data).data]
    assert "evil · start (2009)" in lorenz and f"{name}, 2011" in lorenz
    assert f"{name}: between urban and rural" in [trace.name for trace in report.theil_figure(data).data]


@pytest.mark.slow
def test_a_scenario_without_baseline_runs_is_left_out_with_a_note(experiment, tmp_path):
    """All baseline runs of one scenario failed: effects and costs are shown for the other scenario, and say so."""
    folder = two_scenarios(experiment["out"], tmp_path / "failed")
    for path in (folder / "runs").glob("other__baseline__*.parquet"):
        path.unlink()
    text = report.build_report(folder)
    notes = re.findall(r'<p class="note">(.*?)</p>', text)
    assert notes == [f"Left out, as no baseline run of theirs finished: scenario {html.escape(OTHER)}."] * 2
    data = report.load_report_input(folder)
    for section in (report.forest_section(data), report.cost_section(data)):
        assert [trace.name for trace in figures_of(section)[0].data] == ["evil · all_policies", "evil · city_village"]


@pytest.mark.slow
def test_a_sweeps_design_points_are_pooled_and_the_captions_say_so(experiment, tmp_path):
    """The three replications relabelled as three design points of one replication: pooled, the figures are the same."""

    def as_points(path: Path, table: pd.DataFrame) -> None:
        table.assign(point=table["replication"], replication=0).to_parquet(path, index=False)

    data = report.load_report_input(copy_runs(experiment["out"], tmp_path / "sweep", as_points))
    reference = report.load_report_input(experiment["out"])
    assert data.points == 3
    for outcome in ("gini", "weak_villages"):
        pooled, plain = report.time_series_figure(data, outcome), report.time_series_figure(reference, outcome)
        assert [list(trace.y) for trace in pooled.data] == [pytest.approx(list(trace.y)) for trace in plain.data]
    (forest,) = figures_of(report.forest_section(data))
    (plain_forest,) = figures_of(report.forest_section(reference))
    assert list(forest.data[0].x) == pytest.approx(list(plain_forest.data[0].x))  # still paired within each point
    for section in (report.time_series_section(data), report.forest_section(data), report.cost_section(data)):
        assert all("design points are pooled" in caption for _, caption in section.figures), section.title


@pytest.mark.slow
def test_one_replication_promises_no_intervals(experiment, tmp_path):
    def first_replication(path: Path, table: pd.DataFrame) -> None:
        if table["replication"].iloc[0] > 0:
            path.unlink()

    data = report.load_report_input(copy_runs(experiment["out"], tmp_path / "one", first_replication))
    for build in (report.time_series_section, report.forest_section, report.cost_section, report.villages_section):
        for figure, caption in build(data).figures:
            assert "95 %" not in caption and "no interval" in caption, caption
            assert not any(trace.fill == "toself" for trace in figure.data)


def test_an_effect_on_an_outcome_whose_baseline_is_0_is_named_not_dropped(experiment, tmp_path):
    def no_hollow_villages(path: Path, table: pd.DataFrame) -> None:
        table.assign(hollow_villages=0.0).to_parquet(path, index=False)

    data = report.load_report_input(copy_runs(experiment["out"], tmp_path / "zero", no_hollow_villages))
    [(_, caption)] = report.forest_section(data).figures
    assert "Not shown, as no percentage can be formed: Hollow villages (空壳村) for all_policies (baseline mean 0); " in caption


# --------------------------------------------------------------------------- sweeps and single runs


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_sobol_index_of_an_outcome_that_does_not_vary_says_no_variation(tmp_path):
    """A Sobol sweep where weak villages are made the same at every design point: their indices are undefined, and the
    report and the summary say why (no variation) rather than drawing nothing or printing nan."""
    design = {"method": "sobol", "samples": 2, "parameters": {"pairing.failure.leakage": {"low": 0.0, "high": 0.4}}}
    data = experiment_data(
        "sobol_report", replications=1, baseline=False, arms={"all_policies": {"policies": "all"}}, design=design
    )
    code, _, err = run_cli("sweep", write_experiment(tmp_path, data), "--workers", "1", "--out", tmp_path / "results", "--quiet")
    assert code == 0, err

    def constant_weak_villages(path: Path, table: pd.DataFrame) -> None:
        table.assign(weak_villages=5.0).to_parquet(path, index=False)

    folder = copy_runs(tmp_path / "results", tmp_path / "flat", constant_weak_villages)
    captions = {
        figure.layout.title.text: caption
        for figure, caption in report.sensitivity_section(report.load_report_input(folder)).figures
    }
    weak = captions["Sobol indices of final-year Weak villages (薄弱村), arm all_policies"]
    assert "No variation: Weak villages (薄弱村) is the same at every design point" in weak
    assert not any("No variation" in caption for title, caption in captions.items() if "Weak" not in title)
    text = summarize_folder(folder)
    assert "no variation" in text and "nan" not in text


def test_single_run_folder_gets_a_report_without_bands(single_run, tmp_path):
    out = tmp_path / "single.html"
    code, stdout, err = run_cli("report", single_run, "-o", out)
    assert code == 0, err
    assert stdout.strip() == f"Report written to {out}"
    text = out.read_text(encoding="utf-8")
    assert "Run of Small teaching county" in text
    data = report.load_report_input(single_run)
    assert not any(trace.fill == "toself" for trace in report.time_series_figure(data, "gini").data)
    (gini,) = report.time_series_figure(data, "gini").data  # yearly by default: drawn through the reporting points only
    (income,) = report.time_series_figure(data, "rural_income_pc").data
    assert len(gini.x) == len(income.x) // 12 + 1
    titles = section_titles(text)
    assert {"Lorenz curves", "Who funds whom", "Pairing network"} <= set(titles)
    notes = re.findall(r'<p class="note">(.*?)</p>', text)
    assert len(notes) == 2 and all("baseline arm" in note for note in notes)  # effects and cost-effectiveness need arms
    funds = pd.read_parquet(single_run / "policies.parquet")["funds_sent"].sum()
    assert data.funds_by_kind["sent"].sum() == pytest.approx(funds)


EXPERIMENT_WORDING = ["over replications", "by arm", "choose the", "per run of each arm", "arm run", "95 %", "t interval"]


@pytest.mark.slow
def test_single_run_report_uses_no_wording_meant_for_experiments(single_run):
    text = report.build_report(single_run)
    for phrase in EXPERIMENT_WORDING:
        assert phrase not in text, phrase
    assert "One run of one scenario" in text and "no intervals" in text
    data = report.load_report_input(single_run)
    figures = [figure for build in report.SECTIONS if (section := build(data)) for figure in figures_of(section)]
    assert len(figures) == 11
    for figure in figures:
        legend = figure.layout.legend.title.text or ""
        assert "arm" not in legend and "arm" not in (figure.layout.title.text or "").split(), figure.layout.title.text
    assert [trace.name for trace in report.theil_figure(data).data] == ["between urban and rural", "within urban and rural"]


def test_experiment_report_keeps_its_wording(experiment):
    """The counterpart of the single-run test: the phrases it forbids are the experiment's own, so that test can fail."""
    for phrase in ("over replications", "choose the arm above", "per run of each arm", "arm all_policies", "95 %", "t interval"):
        assert phrase in experiment["html"], phrase


def test_single_run_hover_names_the_month(single_run):
    """Monthly steps on a date axis: ticks on whole years, but hovering shows each month (not the year twelve times)."""
    data = report.load_report_input(single_run)
    for figure in (report.time_series_figure(data, "rural_income_pc"), report.theil_figure(data)):
        times = pd.to_datetime(pd.Series(figure.data[0].x))
        assert times.iloc[0].year == 2009
        assert figure.layout.xaxis.hoverformat == "%b %Y" and figure.layout.xaxis.tickformat == "%Y"
    monthly = pd.to_datetime(pd.Series(report.time_series_figure(data, "rural_income_pc").data[0].x))
    assert monthly.iloc[:12].dt.month.tolist() == list(range(1, 13))
    yearly = pd.to_datetime(pd.Series(report.theil_figure(data).data[0].x))  # Theil T: yearly reporting points only
    assert set(yearly.dt.month) == {1} and len(yearly) == len(monthly) // 12 + 1


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


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _edit_json(path: Path, change) -> None:
    _write(path, json.dumps(change(json.loads(path.read_text(encoding="utf-8")))))


@pytest.mark.parametrize(
    ("damage", "culprit", "expected"),
    [
        (lambda f: _write(f / "run.json", "{oops"), "run.json", "not valid JSON (Expecting property name"),
        (lambda f: _write(f / "run.json", "[1, 2]"), "run.json", "holds an array, not a JSON object"),
        (
            lambda f: _edit_json(f / "run.json", lambda m: {**m, "horizon_years": "ten"}),
            "run.json: horizon_years",
            "'ten' is not a whole number",
        ),
        (lambda f: _write(f / "pairing_graph.json", '{"nodes": ['), "pairing_graph.json", "not a node-link graph in JSON"),
        (lambda f: _write(f / "monthly.parquet", "PAR1x"), "monthly.parquet", "not a readable Parquet table"),
        (lambda f: _write(f / "ledger.parquet", "PAR1x"), "ledger.parquet", "not a readable Parquet table"),
    ],
)
def test_damaged_run_folders_give_one_line_and_exit_2(single_run, tmp_path, damage, culprit, expected):
    folder = tmp_path / "run"
    shutil.copytree(single_run, folder)
    damage(folder)
    code, out, err = run_cli("report", folder)
    assert code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{folder / culprit}: ") and expected in lines[0], err


@pytest.mark.parametrize(
    ("damage", "culprit", "expected"),
    [
        (lambda f: _write(f / "manifest.json", "[]"), "manifest.json", "holds an array, not a JSON object"),
        (lambda f: _write(f / "manifest.json", '"text"'), "manifest.json", "holds a string, not a JSON object"),
        (lambda f: _edit_json(f / "manifest.json", lambda m: {**m, "runs": []}), "manifest.json: runs", "is not a JSON object"),
        (
            lambda f: _edit_json(f / "manifest.json", lambda m: {**m, "runs": {"a": 1}}),
            "manifest.json: runs",
            "not a JSON object",
        ),
        (
            lambda f: _write(f / "runs" / "evil__baseline__p0000__r000.parquet", "PAR1x"),
            "runs/evil__baseline__p0000__r000.parquet",
            "not a readable Parquet",
        ),
        (
            lambda f: _edit_json(f / "manifest.json", lambda m: {**m, "graphs": [{"arm": 1}]}),
            "manifest.json: graphs",
            "holds an entry without run_id, scenario, arm and policies",
        ),
        (
            lambda f: _write(f / "graphs" / "evil__all_policies.json", '{"nodes": ['),
            "graphs/evil__all_policies.json",
            "not a node-link graph in JSON",
        ),
        (
            lambda f: _write(f / "graphs" / "evil__all_policies.links.parquet", "PAR1x"),
            "graphs/evil__all_policies.links.parquet",
            "not a readable Parquet",
        ),
    ],
)
def test_damaged_experiment_folders_give_one_line_and_exit_2(experiment, tmp_path, damage, culprit, expected):
    folder = copy_runs(experiment["out"], tmp_path / "results")
    damage(folder)
    code, out, err = run_cli("report", folder)
    assert code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{folder / culprit}: ") and expected in lines[0], err


def test_a_file_given_as_the_results_folder_is_said_to_be_a_file(single_run, tmp_path):
    code, _, err = run_cli("report", single_run / "run.json", "-o", tmp_path / "report.html")
    assert code == 2
    assert (
        err.strip()
        == f"{single_run / 'run.json'}: is a file, not a folder; expected a results folder written by pairsim compare, sweep, run or calibrate"
    )


def test_output_that_is_a_folder_is_bad_input(single_run, tmp_path):
    code, _, err = run_cli("report", single_run, "-o", tmp_path)
    assert code == 2 and err.strip() == f"{tmp_path}: --out: is a folder; expected the path of an HTML file to write"


# --------------------------------------------------------------------------- in a real browser


@pytest.mark.slow
def test_report_renders_in_headless_chromium_without_errors(experiment, chromium, tmp_path):
    chromium.get((experiment["out"] / "report.html").as_uri())
    measure = (
        "return Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => {"
        "  const box = div.getBoundingClientRect();"
        "  return [div.id, box.width, box.height, div.querySelectorAll('.main-svg').length]; })"
    )
    deadline = time.monotonic() + 30  # Plotly.newPlot draws asynchronously after the load event
    while (sizes := chromium.execute_script(measure)) and not all(svgs for *_, svgs in sizes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(sizes) == len(FIGURE_DIV.findall(experiment["html"])) == 13
    for figure, width, height, svgs in sizes:
        assert width > 0 and height > 0 and svgs > 0, f"{figure} did not render: {width}x{height}, {svgs} svg"
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    assert chromium.execute_script("return document.title").startswith("Experiment tiny_report")
    assert EVIL in chromium.execute_script(
        "return document.body.innerText"
    )  # shown as text, never run (an alert would stop the driver)
    screenshot = tmp_path / "report.png"
    assert chromium.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
