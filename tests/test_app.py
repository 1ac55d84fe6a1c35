"""The interactive app (sim/app.py) and ``pairsim app``.

As Mesa's own example tests do, these import the page, render it without a
browser (``solara.render``) and step the model; they also press the page's
own Reset and Step buttons, so a slider value is checked all the way into
the model the page builds. Some serve the app with ``pairsim app``: they open
it in headless Chromium, where a front end that cannot load shows, and stop
it with signals, checking that no server outlives ``pairsim app`` (nor the tests).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import ipyvuetify
import ipywidgets
import numpy as np
import psutil  # installed with dask.distributed (dev extra)
import pytest
import solara

from sim import app, app_server, cli
from sim.errors import InputError
from sim.model import PairingModel
from sim.pairing.registry import policy_types
from sim.scenario import DEFAULT_SCENARIO


def _stepped(model: PairingModel, months: int) -> PairingModel:
    for _ in range(months):
        model.step()
    return model


def _render_page():
    """The page ``solara run sim/app.py`` serves, rendered as one browser session would see it."""
    return solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)[1]


def test_module_page_renders():
    """``solara run sim/app.py`` serves ``Page``: it must render with its sliders and components."""
    rc = _render_page()
    labels = [widget.label for widget in rc.find(ipyvuetify.Slider).widgets]
    assert {"Seed", "Leakage", "Formalism", "Accountability", "Funds x"} <= set(labels)
    checkboxes = [widget.label for widget in rc.find(ipyvuetify.Checkbox).widgets]
    assert policy_types()["strong_weak"].label in checkboxes
    assert len(rc.find(ipywidgets.Image).widgets) >= 3  # network, Gini and ratio plots on the first page


@pytest.mark.slow
def test_sliders_reach_the_model_through_reset_and_step():
    model = solara.reactive(app.AppModel(rng=3))
    _box, rc = solara.render(solara.AppLayout(children=[app.build_page(model)]), handle_error=False)
    rc.find(ipyvuetify.Slider, label="Leakage").widget.v_model = 0.0
    rc.find(ipyvuetify.Checkbox, label=policy_types()["cadre_dispatch"].label).widget.v_model = False
    first = model.value

    rc.find(ipyvuetify.Btn, children=["Reset"]).widget.click()
    rebuilt = model.value
    assert rebuilt is not first and isinstance(rebuilt, app.AppModel)
    assert rebuilt.spec.pairing.failure.leakage == 0.0
    assert "cadre_dispatch" not in {policy.type for policy in rebuilt.spec.pairing.policies}

    rc.find(ipyvuetify.Btn, children=["Step"]).widget.click()
    assert model.value.steps == 1


def _shown_month(rc) -> str:
    """The "Month" row of the page's table of key figures, e.g. "2 of 120"."""
    tables = [
        widget.unsafe_innerHTML for widget in rc.find(solara.widgets.HTML).widgets if "<th>Month</th>" in widget.unsafe_innerHTML
    ]
    assert len(tables) == 1
    return re.search(r"<th>Month</th><td>(\d+ of \d+)", tables[0]).group(1)


@pytest.mark.slow
def test_each_browser_session_steps_its_own_county():
    """Two sessions of one server: stepping one leaves the other where it was, and a late one starts at month 0."""
    first = _render_page()
    for _ in range(2):
        first.find(ipyvuetify.Btn, children=["Step"]).widget.click()
    second = _render_page()
    assert _shown_month(first) == "2 of 120"
    assert _shown_month(second) == "0 of 120"
    second.find(ipyvuetify.Btn, children=["Step"]).widget.click()
    assert (_shown_month(first), _shown_month(second)) == ("2 of 120", "1 of 120")


def _all_widgets(rc) -> list:
    """Every widget of a rendered page (``rc.find`` does not look inside a widget that matches)."""
    found, stack = {}, list(rc.find(ipywidgets.Widget).widgets)
    while stack:
        widget = stack.pop()
        if id(widget) in found:
            continue
        found[id(widget)] = widget
        for name in widget.keys:
            value = getattr(widget, name)
            stack += [
                item for item in (value if isinstance(value, list | tuple) else [value]) if isinstance(item, ipywidgets.Widget)
            ]
    return list(found.values())


def _value_beside(rc, label: str) -> str:
    """The text shown in the same row as the slider labelled ``label``."""
    slider = rc.find(ipyvuetify.Slider, label=label).widget
    rows = [
        row for row in _all_widgets(rc) if isinstance(row, ipyvuetify.Sheet) and any(child is slider for child in row.children)
    ]
    assert len(rows) == 1, f"no row holds the {label} slider"
    beside = [child for child in rows[0].children if child is not slider]
    assert len(beside) == 1
    return beside[0].children[0]


def test_sliders_show_their_values_beside_them():
    rc = _render_page()
    failure = app.APP_SCENARIO.pairing.failure
    assert _value_beside(rc, "Seed") == "1"
    assert _value_beside(rc, "Leakage") == f"{failure.leakage:.2f}"
    assert _value_beside(rc, "Formalism") == f"{failure.formalism:.3f}"  # step 0.005: three decimals
    assert _value_beside(rc, "Funds x") == "1.00"
    for options in app.build_model_params().values():
        if isinstance(options, app.Slider):
            assert _value_beside(rc, options.label) == app.slider_text(options, options.value)
    rc.find(ipyvuetify.Slider, label="Leakage").widget.v_model = 0.37
    rc.find(ipyvuetify.Slider, label="Years").widget.v_model = 4
    assert (_value_beside(rc, "Leakage"), _value_beside(rc, "Years")) == ("0.37", "4")


def _front_end_templates(rc) -> list[str]:
    """The Vue templates a rendered page sends to the browser (solara.Markdown's loads KaTeX)."""
    templates = [widget.template for widget in _all_widgets(rc) if isinstance(widget, ipyvuetify.VuetifyTemplate)]
    return [getattr(template, "template", template) for template in templates]  # a string, or an ipyvue Template


def test_page_requests_no_katex():
    """solara.Markdown fetches KaTeX from a CDN (solara-assets has none: a 404 offline); the page must not use it."""
    rc = _render_page()
    templates = _front_end_templates(rc)
    assert templates and not [template for template in templates if "katex" in template.lower()]
    assert "<th>Funds sent so far</th>" in rc.find(solara.widgets.HTML).widget.unsafe_innerHTML  # the table, as plain HTML
    _box, guide = solara.render(app.SliderGuide(app.AppModel(leakage=0.3)), handle_error=False)
    assert "<code>pairing.failure.leakage</code>" in guide.find(solara.widgets.HTML).widget.unsafe_innerHTML
    assert not [template for template in _front_end_templates(guide) if "katex" in template.lower()]


def test_network_title_and_table_count_the_same_branches():
    """The network's title and the table both count joint branches (a branch is active while any of its pairs is)."""
    model = _stepped(app.AppModel(rng=1), 30)  # a first secretary has rotated: some branches have closed
    links = model.pairing.links
    active, total = np.unique(links.branch[links.active]).size, len(model.pairing.branches)
    assert 0 < active < total and active != model.outcomes["active_pairs"]  # branches, not pairs
    assert f": {active} of {total} branches active" in app.draw_pairing_network(model).axes[0].get_title()
    assert app.live_numbers(model)["Joint branches active"] == f"{active} of {total}"
    _box, rc = solara.render(app.LiveNumbers(model), handle_error=False)
    assert f"<th>Joint branches active</th><td>{active} of {total}</td>" in rc.find(solara.widgets.HTML).widget.unsafe_innerHTML


def test_defaults_run_the_scenario_unchanged():
    """At the slider defaults the app is ``pairsim run --monthly-inequality`` with the same seed."""
    assert app.AppModel().app_overrides == {}
    in_app = _stepped(app.AppModel(rng=1), 12).model_dataframe()
    direct = _stepped(PairingModel(scenario=DEFAULT_SCENARIO, rng=1, monthly_inequality=True), 12).model_dataframe()
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
    in_yuan = ledger["flow"].isin(["funds", "market_savings"])  # the flows counted in yuan; the others at their cost
    priced = ledger["sent"].where(in_yuan, ledger["cost"])
    villages_received = sum(
        amount for node, amount in flows.items() if node.startswith("village:") and _is_recipient(graph, node)
    )
    donors_sent = sum(amount for node, amount in flows.items() if graph.nodes[node]["kind"] == "joint_branch")
    assert donors_sent == pytest.approx(float(priced.sum()))
    assert villages_received <= donors_sent


def _is_recipient(graph, node: str) -> bool:
    return any(graph.edges[node, other]["role"] == "recipient" for other in graph.neighbors(node))


def test_legend_labels_are_the_registry_labels_without_their_chinese_gloss():
    assert app.legend_label("urban communities (社区)") == "urban communities"
    assert app.legend_label("joint branches (联合党总支)") == "joint branches"
    assert app.legend_label("cadres (on loan)") == "cadres (on loan)"  # only a gloss matplotlib cannot draw goes


def test_network_component_renders():
    model = _stepped(app.AppModel(rng=1, cadre_dispatch=True), 30)
    figure = app.draw_pairing_network(model)
    ax = figure.axes[0]
    assert "branches active" in ax.get_title()
    legend = {text.get_text() for text in ax.get_legend().get_texts()}
    assert {"villages", "departments", "enterprises", "cooperatives"} <= legend  # the donor-kind registry's labels
    branches = {
        app.legend_label(policy_types()[policy.type].label) for policy in model.spec.pairing.policies
    }  # its county's types
    assert {label.removeprefix("branches: ") for label in legend if label.startswith("branches: ")} == branches
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
    assert "<th>Funds sent so far</th>" in rc.find(solara.widgets.HTML).widget.unsafe_innerHTML


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
    monkeypatch.setattr(app_server, "serve", lambda command, env: calls.append((command, env)) or 0)
    assert cli.main(["app", "--port", "8899", "--no-browser", "--scenario", str(DEFAULT_SCENARIO)]) == 0
    command, env = calls[0]
    assert command[1:4] == ["-m", "solara", "run"] and command[4].endswith("sim/app.py")
    assert command[command.index("--port") + 1] == "8899" and "--no-open" in command
    assert "--production" in command  # no hot reload: editing sim/ must not reset every student's county
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


# --------------------------------------------------------------------------- served: processes, signals, a real browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    """Whether anything accepts connections on localhost:``port``."""
    try:
        with socket.create_connection(("localhost", port), timeout=2):
            return True
    except OSError:
        return False


def _descendants(pid: int) -> list[int]:
    """Every process started by ``pid``, and by those, at this moment."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    return []


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, finished but not yet reaped, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _closes(port: int, timeout: float = 30) -> bool:
    """Whether localhost:``port`` stops accepting connections within ``timeout`` seconds.

    A process killed outright shows as a zombie as soon as its main thread has exited, while
    its other threads may still hold its sockets for a moment.
    """
    deadline = time.monotonic() + timeout
    while _listening(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _listening(port)


def _wait_until_gone(pids: list[int], timeout: float = 30) -> list[int]:
    """Wait for ``pids`` to end; those still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


@contextlib.contextmanager
def _pairsim_app(log_path: Path):
    """``pairsim app --no-browser`` on a free port; yields (the pairsim process, the port, the pids it started) once it serves.

    pairsim runs in a process group of its own. Leaving the block stops everything, whatever
    happened inside it: SIGTERM to that group (SIGKILL if it lingers), then SIGKILL to every
    process pairsim had started that still runs (the Solara server leads a group of its own).
    """
    port = _free_port()
    url = f"http://localhost:{port}/"
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "app", "--port", str(port), "--no-browser"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started: list[int] = []
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"pairsim app did not serve {url}: {log_path.read_text(encoding='utf-8')[-2000:]}")
                    time.sleep(0.5)
            started += _descendants(server.pid)
            yield server, port, started
        finally:
            started += [pid for pid in _descendants(server.pid) if pid not in started]
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            for pid in started:
                if _alive(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            _wait_until_gone(started)


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """``pairsim app`` serving on a free local port: its URL and the server's log, once it answers."""
    log_path = tmp_path_factory.mktemp("served") / "server.log"
    with _pairsim_app(log_path) as (_server, port, _started):
        yield f"http://localhost:{port}/", log_path


@pytest.mark.slow
def test_served_app_teardown_leaves_no_server(tmp_path):
    with _pairsim_app(tmp_path / "server.log") as (server, port, started):
        assert _listening(port) and started
    assert not _listening(port)
    assert not [pid for pid in [server.pid, *started] if _alive(pid)]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_pairsim_app_stopped_by_a_signal_stops_its_server(tmp_path, signum):
    """SIGTERM or Ctrl-C to ``pairsim app`` alone (not its group) stops the Solara server it started."""
    with _pairsim_app(tmp_path / "server.log") as (server, port, started):
        assert started, "pairsim app serves from a child process"
        server.send_signal(signum)
        assert server.wait(timeout=60) == 128 + signum
        assert not _listening(port)
        assert not [pid for pid in started if _alive(pid)]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the server dies with pairsim through Linux's PR_SET_PDEATHSIG")
def test_pairsim_app_killed_outright_takes_its_server_with_it(tmp_path):
    """SIGKILL runs no handler in pairsim; the kernel then kills the server (prctl PR_SET_PDEATHSIG)."""
    with _pairsim_app(tmp_path / "server.log") as (server, port, started):
        assert started
        server.kill()
        server.wait()
        assert _wait_until_gone(started) == []
        assert _closes(port)


def _wait_for_page(browser, tmp_path: Path, name: str) -> str:
    """Wait until the whole page has drawn, not only the sidebar; its text."""
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        text = browser.execute_script("return document.body.innerText")
        drawn = browser.execute_script("return document.querySelectorAll('img').length")
        if "Urban/rural ratio" in text and "Model Parameters" in text and drawn >= 3:
            return text
        time.sleep(0.5)
    browser.save_screenshot(str(tmp_path / f"{name}.png"))
    pytest.fail(f"the app's main area never drew (text: {text[:300]!r}); screenshot in {tmp_path / name}.png")


def _requests_once_quiet(browser, quiet_s: float = 2.0, timeout: float = 60) -> list[str]:
    """Every http(s) URL the page has asked for, read once none is pending and none has started for ``quiet_s`` seconds.

    From Chromium's performance log (Network events), which records a request when it is
    sent, not when it ends: a fetch the server holds while it tries a CDN still shows.
    """
    urls, pending = [], {}
    last_change = time.monotonic()
    deadline = last_change + timeout
    while time.monotonic() < deadline:
        for entry in browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            request_id = message.get("params", {}).get("requestId")
            if message["method"] == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                if url.startswith(("http:", "https:")):  # not blob:, data: or the browser's own chrome:// pages
                    urls.append(url)
                    pending[request_id] = url
                    last_change = time.monotonic()
            elif message["method"] in ("Network.loadingFinished", "Network.loadingFailed"):
                pending.pop(request_id, None)
                last_change = time.monotonic()
        if not pending and time.monotonic() - last_change > quiet_s:
            return urls
        time.sleep(0.2)
    pytest.fail(f"the page kept loading: {sorted(pending.values())[:5]} pending")


def _month_in(browser) -> str:
    return re.search(r"Month\s+(\d+ of \d+)", browser.execute_script("return document.body.innerText")).group(1)


@pytest.mark.slow
def test_served_app_draws_its_plots_in_headless_chromium(served_app, chromium, tmp_path):
    """The whole page, not only the sidebar: a front end that cannot load (mesa#3806, a missing CDN) fails here."""
    url, log_path = served_app
    chromium.get(url)
    text = _wait_for_page(chromium, tmp_path, "app")
    assert re.search(r"Leakage\s+\d\.\d\d\b", text), "the sidebar shows each slider's value"
    requested = _requests_once_quiet(chromium)
    assert not [name for name in requested if "katex" in name.lower()]
    assert requested and not [name for name in requested if not name.startswith(url)], "all from the server: works offline"
    assert not [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    log = log_path.read_text(encoding="utf-8")
    assert "Could not load URL" not in log and not re.search(r'" (404|5\d\d)\b', log), log[-2000:]
    assert chromium.save_screenshot(str(tmp_path / "app.png"))


@pytest.mark.slow
def test_two_browsers_on_one_server_step_a_county_each(served_app, chromium, another_chromium, tmp_path):
    """A second student opening the app starts at month 0, and stepping it leaves the first one's county alone."""
    url, _log = served_app
    chromium.get(url)
    _wait_for_page(chromium, tmp_path, "first")
    step = "//button[normalize-space()='Step']"
    for _ in range(3):
        chromium.find_element("xpath", step).click()
    deadline = time.monotonic() + 30
    while _month_in(chromium) != "3 of 120" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _month_in(chromium) == "3 of 120"

    another_chromium.get(url)
    _wait_for_page(another_chromium, tmp_path, "second")
    assert _month_in(another_chromium) == "0 of 120"
    another_chromium.find_element("xpath", step).click()
    deadline = time.monotonic() + 30
    while _month_in(another_chromium) != "1 of 120" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert (_month_in(chromium), _month_in(another_chromium)) == ("3 of 120", "1 of 120")


def test_cli_app_refuses_a_scenario_whose_pairings_cannot_form(tmp_path, capsys, monkeypatch):
    """Like ``pairsim validate``: the county is built once before the server starts, not inside it."""
    calls = []
    monkeypatch.setattr(app_server, "serve", lambda command, env: calls.append(command) or 0)
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8").replace("name: 部门+村, pairs: 4,", "name: 部门+村, pairs: 400,")
    assert "pairs: 400" in text
    (tmp_path / "too_many.yaml").write_text(text, encoding="utf-8")
    assert cli.main(["app", "--scenario", str(tmp_path / "too_many.yaml")]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "400" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert calls == []


def test_cli_app_refuses_a_port_in_use(capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(app_server, "serve", lambda command, env: calls.append(command) or 0)
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["app", "--port", str(port), "--no-browser"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"localhost:{port}: --port: cannot listen there") and "Traceback" not in err
    assert calls == []
