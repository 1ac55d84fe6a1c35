"""The interactive app (sim/app.py) and ``pairsim app``.

As Mesa's own example tests do, these import the page, render it without a
browser (``solara.render``) and step the model; they also press the page's
own Reset and Step buttons, so a slider value is checked all the way into
the model SolaraViz builds. One test serves the app with ``pairsim app`` and
opens it in headless Chromium, where a front end that cannot load shows.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

solara = pytest.importorskip("solara")
ipyvuetify = pytest.importorskip("ipyvuetify")
ipywidgets = pytest.importorskip("ipywidgets")

from sim import app, cli
from sim.errors import InputError
from sim.model import DEFAULT_SCENARIO, PairingModel


def _stepped(model: PairingModel, months: int) -> PairingModel:
    for _ in range(months):
        model.step()
    return model


def test_module_page_renders():
    """``solara run sim/app.py`` serves ``page``: it must render with its sliders and components."""
    _box, rc = solara.render(solara.AppLayout(children=[app.page]), handle_error=False)
    labels = [widget.label for widget in rc.find(ipyvuetify.Slider).widgets]
    assert {"Seed", "Leakage", "Formalism", "Accountability", "Funds x"} <= set(labels)
    checkboxes = [widget.label for widget in rc.find(ipyvuetify.Checkbox).widgets]
    assert app.POLICY_TYPE_LABELS["strong_weak"] in checkboxes
    assert len(rc.find(ipywidgets.Image).widgets) >= 3  # network, Gini and ratio plots on the first page


def test_sliders_reach_the_model_through_reset_and_step():
    model = solara.reactive(app.AppModel(rng=3))
    _box, rc = solara.render(solara.AppLayout(children=[app.build_page(model)]), handle_error=False)
    rc.find(ipyvuetify.Slider, label="Leakage").widget.v_model = 0.0
    rc.find(ipyvuetify.Checkbox, label=app.POLICY_TYPE_LABELS["cadre_dispatch"]).widget.v_model = False
    first = model.value

    rc.find(ipyvuetify.Btn, children=["Reset"]).widget.click()
    rebuilt = model.value
    assert rebuilt is not first and isinstance(rebuilt, app.AppModel)
    assert rebuilt.spec.pairing.failure.leakage == 0.0
    assert "cadre_dispatch" not in {policy.type for policy in rebuilt.spec.pairing.policies}

    rc.find(ipyvuetify.Btn, children=["Step"]).widget.click()
    assert model.value.steps == 1


def test_defaults_run_the_scenario_unchanged():
    """At the slider defaults the app is ``pairsim run`` with the same seed."""
    assert app.AppModel().app_overrides == {}
    in_app = _stepped(app.AppModel(rng=1), 12).model_dataframe()
    direct = _stepped(PairingModel(scenario=DEFAULT_SCENARIO, rng=1), 12).model_dataframe()
    assert in_app.equals(direct)


def test_slider_values_change_outcomes():
    settings = {"formalism": 0.15, "dependency": 0.8, "elite_capture": 0.6, "accountability": 0.1, "training_scale": 2.0}
    changed = _stepped(app.AppModel(rng=1, **settings), 24)
    default = _stepped(app.AppModel(rng=1), 24)
    assert changed.spec.pairing.failure.formalism == 0.15
    assert changed.spec.pairing.governance.accountability == 0.1
    trainees = {p.type: p.flows.trainees for p in changed.spec.pairing.policies}
    assert trainees["strong_weak"] == 2 * {p.type: p.flows.trainees for p in default.spec.pairing.policies}["strong_weak"]
    frame = changed.model_dataframe()
    assert len(frame) == 25 and frame["gini"].iloc[-1] != frame["gini"].iloc[0]
    assert frame["gini"].iloc[-1] != default.model_dataframe()["gini"].iloc[-1]


def test_leakage_slider_reaches_the_ledger():
    def funds(leakage: float) -> tuple[float, float]:
        ledger = _stepped(app.AppModel(rng=2, leakage=leakage), 24).pairing.ledger.frame()
        of_funds = ledger[ledger["flow"] == "funds"]
        return float(of_funds["sent"].sum()), float(of_funds["lost"].sum())

    sent_clean, lost_clean = funds(0.0)
    sent_leaky, lost_leaky = funds(0.4)
    assert sent_clean > 0 and lost_clean == 0.0
    assert lost_leaky == pytest.approx(0.4 * sent_leaky)


def test_pairing_switches_and_funds_scale():
    only_chains = app.AppModel(
        rng=1, city_village=False, village_enterprise=False, strong_weak=False, cadre_dispatch=False, funds_scale=0.0
    )
    assert [policy.type for policy in only_chains.spec.pairing.policies] == ["industry_chain"]
    assert {data["type"] for node, data in only_chains.pairing.graph.nodes(data=True) if data["kind"] == "joint_branch"} == {
        "industry_chain"
    }
    assert _stepped(only_chains, 12).model_dataframe()["funds_sent"].sum() == 0.0
    doubled = app.AppModel(rng=1, funds_scale=2.0)
    planned = {p.type: p.flows.funds for p in doubled.spec.pairing.policies}
    assert planned["village_enterprise"] == 2 * 176_000


def test_bad_slider_values_are_rejected_like_a_scenario_file():
    with pytest.raises(InputError, match="leakage"):
        app.AppModel(leakage=1.5)


def test_network_layout_and_sizes():
    model = _stepped(app.AppModel(rng=1), 24)
    graph = model.pairing.graph
    positions = app.node_positions(model)
    assert set(graph.nodes) <= set(positions)
    assert all(math.isfinite(x) and math.isfinite(y) for x, y in positions.values())

    flows = app.node_flows(model)
    assert set(flows) <= set(graph.nodes) and max(flows.values()) > 0
    ledger = model.pairing.ledger.frame()
    priced = ledger["flow"].map(app._flow_yuan_per_unit(model)).fillna(0.0)
    villages_received = sum(amount for node, amount in flows.items() if node.startswith("village:") and _is_recipient(graph, node))
    donors_sent = sum(amount for node, amount in flows.items() if graph.nodes[node]["kind"] == "joint_branch")
    assert donors_sent == pytest.approx(float((ledger["sent"] * priced).sum()))
    assert villages_received <= donors_sent


def _is_recipient(graph, node: str) -> bool:
    return any(graph.edges[node, other]["role"] == "recipient" for other in graph.neighbors(node))


def test_network_component_renders():
    model = _stepped(app.AppModel(rng=1, cadre_dispatch=True), 30)
    figure = app.draw_pairing_network(model)
    ax = figure.axes[0]
    assert "branches active" in ax.get_title()
    legend = {text.get_text() for text in ax.get_legend().get_texts()}
    assert {"village", "department", "enterprise", "cooperative", "joint branch"} <= legend
    _box, rc = solara.render(app.PairingNetwork(model), handle_error=False)
    image = rc.find(ipywidgets.Image).widget
    assert len(image.value) > 1000


def test_live_numbers_follow_the_model():
    model = _stepped(app.AppModel(rng=1, leakage=0.2), 24)
    numbers = app.live_numbers(model)
    assert numbers["Month"].startswith("24 of 120")
    frame = model.model_dataframe()
    assert numbers["Funds sent so far"] == f"{frame['funds_sent'].sum():,.0f} yuan"
    assert numbers["Weak villages (薄弱村)"] == f"{frame['weak_villages'].iloc[-1]} of 40"
    _box, rc = solara.render(app.LiveNumbers(model), handle_error=False)
    assert "Funds sent so far" in rc.find(ipyvuetify.VuetifyTemplate).widget.template


def test_app_overrides_only_list_changes():
    scenario = app.APP_SCENARIO
    unchanged = {name: app._scenario_value(scenario, path) for name, path in app.PARAMETER_PATHS.items()}
    assert app.app_overrides(scenario, unchanged, {}, 1.0, 1.0) == {}
    overrides = app.app_overrides(scenario, {"leakage": 0.25, "horizon_years": None}, {"strong_weak": False}, 1.0, 1.0)
    assert overrides["pairing.failure.leakage"] == 0.25
    assert len(overrides["pairing.policies"]) == len(scenario.pairing.policies) - 1
    assert np.isclose(app.app_overrides(scenario, {}, {}, 1.5, 1.0)["pairing.policies"][0]["flows"]["funds"], 75_000)


# ---------------------------------------------------------------------- pairsim app


def test_cli_app_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["app", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--scenario" in out


def test_cli_app_runs_solara_on_the_app_file(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command, env: calls.append((command, env)) or 0)
    assert cli.main(["app", "--port", "8899", "--no-browser", "--scenario", str(DEFAULT_SCENARIO)]) == 0
    command, env = calls[0]
    assert command[1:4] == ["-m", "solara", "run"] and command[4].endswith("sim/app.py")
    assert command[command.index("--port") + 1] == "8899" and "--no-open" in command
    assert env[cli.APP_SCENARIO_ENV] == str(DEFAULT_SCENARIO) and cli.APP_SCENARIO_ENV == app.SCENARIO_ENV


def test_cli_app_without_solara_says_what_to_install(monkeypatch, capsys):
    real_find_spec = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None if name == "solara" else real_find_spec(name))
    assert cli.main(["app"]) == cli.EXIT_BAD_INPUT
    assert "pip install '.[app]'" in capsys.readouterr().err


def test_cli_app_rejects_a_bad_scenario_and_port(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nregion: {villages: {count: -3}}\n", encoding="utf-8")
    assert cli.main(["app", "--scenario", str(bad)]) == cli.EXIT_BAD_INPUT
    assert "bad.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["app", "--port", "70000"])
    assert exit_info.value.code == 2


# --------------------------------------------------------------------------- served, in a real browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served_app(tmp_path):
    """``pairsim app`` serving on a free local port; its URL once it answers."""
    port = _free_port()
    log = (tmp_path / "server.log").open("w", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "app", "--port", str(port), "--no-browser"], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://localhost:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"pairsim app did not serve {url}: {(tmp_path / 'server.log').read_text(encoding='utf-8')[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_served_app_draws_its_plots_in_headless_chromium(served_app, chromium, tmp_path):
    """The whole page, not only the sidebar: a front end that cannot load (mesa#3806, a missing CDN) fails here."""
    chromium.get(served_app)
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        text = chromium.execute_script("return document.body.innerText")
        drawn = chromium.execute_script("return document.querySelectorAll('img').length")
        if "Urban/rural ratio" in text and "Model Parameters" in text and drawn >= 3:
            break
        time.sleep(0.5)
    else:
        chromium.save_screenshot(str(tmp_path / "app.png"))
        pytest.fail(f"the app's main area never drew (text: {text[:300]!r}); screenshot in {tmp_path / 'app.png'}")
    # Solara asks for KaTeX, which solara-assets does not ship; nothing on this page uses it
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE" and "katex" not in entry["message"]]
    assert not errors, errors
    assert chromium.save_screenshot(str(tmp_path / "app.png"))


def test_cli_app_refuses_a_scenario_whose_pairings_cannot_form(tmp_path, capsys, monkeypatch):
    """Like ``pairsim validate``: the county is built once before the server starts, not inside it."""
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command, env: calls.append(command) or 0)
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8").replace("name: 部门+村, pairs: 4,", "name: 部门+村, pairs: 400,")
    assert "pairs: 400" in text
    (tmp_path / "too_many.yaml").write_text(text, encoding="utf-8")
    assert cli.main(["app", "--scenario", str(tmp_path / "too_many.yaml")]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "400" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert calls == []


def test_cli_app_refuses_a_port_in_use(capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command, env: calls.append(command) or 0)
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["app", "--port", str(port), "--no-browser"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"localhost:{port}: --port: cannot listen there") and "Traceback" not in err
    assert calls == []
