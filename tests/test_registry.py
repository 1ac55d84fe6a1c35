"""A toy policy type, donor kind and flow added through the registries alone run a county, end to end.

This is the registries' promise (docs/ADDING_A_POLICY.md): a new way of pairing
is a few ``register_*`` calls plus the code that computes it. Nothing else in
pairsim is edited here, yet the model, the run tables and the report all carry
the new kind, flow and policy.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import app
from sim.agents import Organisation
from sim.errors import InputError
from sim.model import PairingModel
from sim.pairing import registry
from sim.pairing.flows import FlowInputs, Moved, planned_this_month
from sim.pairing.policies import Candidates, Targeting, spread_capacity, top
from sim.report.page import build_report
from sim.runner import run_model, write_outputs
from sim.scenario import parse_scenario

SMALL = Path(__file__).resolve().parent.parent / "scenarios" / "small.yaml"
ADVICE_COST = 250.0  # yuan a session, the toy flow's cost rule
PROBLEMS_PER_SESSION = 0.5


class Academy(Organisation):
    """A toy donor: a provincial academy that sends advisers."""

    kind = "academy"

    def __init__(self, model: Any, index: int, name: str, town: str, annual_budget: float) -> None:
        super().__init__(model, index, name, town)
        self.annual_budget = annual_budget


def build_academies(model: Any, scenario: Any, rng: np.random.Generator) -> list[Academy]:
    seat = scenario.region.town_names[0]
    return [Academy(model, i, f"academy {i + 1}", seat, float(rng.integers(50_000, 100_000))) for i in range(2)]


def academy_budget(organisations: Sequence[Academy], county: Any, month: Any, effects: Any) -> np.ndarray:
    return np.array([academy.annual_budget for academy in organisations]) / 12.0


def give_advice(inputs: FlowInputs) -> Moved:
    """Each advice session solves half a village problem."""
    links, state = inputs.links, inputs.county.state
    sessions = planned_this_month(links, "advice")
    per_village = np.bincount(links.village, weights=sessions, minlength=len(state.problems))
    state.problems = np.maximum(state.problems - PROBLEMS_PER_SESSION * per_village, 0.0)
    return Moved(sessions, {"advice_sessions": float(sessions.sum())})


def academy_candidates(county: Any, policy: Any, targeting: Targeting) -> Candidates:
    donors = county.organisations["academy"]
    everyone = np.arange(len(targeting.priority))
    recipients = top(targeting.priority, everyone, policy.pairs)
    scores = np.tile(targeting.priority[recipients], (len(donors), 1))
    capacity = spread_capacity(len(donors), policy.pairs)
    return Candidates(donors, recipients, scores, capacity, np.ones(len(recipients), np.int64), targeting.priority[recipients])


@pytest.fixture
def toy_entries() -> Iterator[None]:
    registry.register_donor_kind(registry.DonorKind("academy", "academies (书院)", "#8c564b", academy_budget, build_academies))
    registry.register_flow(
        registry.Flow(
            "advice",
            "advice sessions",
            "sessions",
            "advice_sessions",
            give_advice,
            lambda sent, _effects, _economy, _prices: sent * ADVICE_COST,
        )
    )
    registry.register_policy_type(
        registry.PolicyType("academy_village", "Academy-village (书院+村)", "#8c564b", ("academy",), academy_candidates)
    )
    try:
        yield
    finally:
        for name in ("academy_village", "advice", "academy"):
            registry.unregister(name)


def toy_scenario(pairs: int = 3) -> Any:
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["horizon_years"] = 2
    data["pairing"]["policies"].append(
        {"type": "academy_village", "name": "书院+村", "pairs": pairs, "flows": {"advice": 24, "funds": 30_000}}
    )
    return parse_scenario(data, source="toy scenario")


def test_a_toy_policy_donor_kind_and_flow_run_a_county_and_its_report(toy_entries, tmp_path):
    scenario = toy_scenario()
    model = PairingModel(scenario, rng=3)
    result = run_model(model)

    links = result.links[result.links["policy"] == "书院+村"]
    assert len(links) == 3 and set(links["donor_kind"]) == {"academy"}
    assert set(links["donor"]) <= {"academy 1", "academy 2"}

    advice = result.ledger[result.ledger["flow"] == "advice"]
    assert len(advice) > 0 and set(advice["policy"]) == {"书院+村"}  # only the academies plan advice
    funds = result.ledger[(result.ledger["flow"] == "funds") & result.ledger["link"].isin(links["link"])]
    budgets = {academy.name: academy.annual_budget for academy in model.organisations_of("academy")}
    per_month = funds.merge(result.links[["link", "donor"]], on="link").groupby(["donor", "step"])["sent"].sum()
    assert (per_month <= per_month.index.get_level_values("donor").map(budgets) / 12.0 + 1e-9).all()  # capacity rule

    monthly = result.monthly
    assert "advice_sessions" in monthly.columns
    np.testing.assert_allclose(monthly["advice_sessions"].iloc[1:].to_numpy(), advice.groupby("step")["sent"].sum().to_numpy())
    policy_row = result.policies.set_index("policy").loc["书院+村"]
    assert policy_row["advice_sent"] == pytest.approx(advice["sent"].sum())
    assert policy_row["type"] == "academy_village"

    # The donors' cost carries the toy flow's cost rule: the same run without the rule costs exactly that much less.
    with pytest.MonkeyPatch.context() as patch:
        free = registry.flows()["advice"]
        patch.setitem(registry.flows(), "advice", registry.Flow(**{**free.__dict__, "cost": lambda *_: 0.0}))
        free_run = run_model(PairingModel(scenario, rng=3)).monthly
    np.testing.assert_allclose(
        monthly["donor_cost"] - free_run["donor_cost"], monthly["advice_sessions"] * ADVICE_COST, rtol=1e-12, atol=1e-6
    )
    np.testing.assert_allclose(advice["cost"], advice["sent"] * ADVICE_COST)  # the ledger prices each link's sessions

    academies = model.organisations_of("academy")
    positions, sizes = app.node_positions(model), app.node_flows(model)  # the app draws them too
    assert all(academy.node_id in positions for academy in academies)
    assert sum(sizes.get(academy.node_id, 0.0) for academy in academies) > advice["sent"].sum() * ADVICE_COST

    folder = write_outputs(result, tmp_path / "run", scenario, "toy scenario", 3)
    html = build_report(folder)
    figure_text = json.dumps("academies (书院)")[1:-1]  # as plotly writes it in the figures' JSON
    assert html.count(figure_text) >= 2  # the funds diagram and the network label the new donor kind
    assert "#8c564b" in html  # in its registry colour
    assert json.dumps("书院+村")[1:-1] in html  # the policy, in the network's branch names


def test_a_toy_policy_type_is_a_known_choice_only_while_registered(toy_entries):
    assert toy_scenario().pairing.policies[-1].type == "academy_village"
    registry.unregister("academy_village")
    with pytest.raises(InputError, match="academy_village.*did you mean|must be 'city_village'"):
        toy_scenario()


def test_a_flow_the_registry_does_not_know_is_bad_input():
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    data["pairing"]["policies"][0]["flows"]["advise"] = 3
    with pytest.raises(InputError, match=r"pairing\.policies\[0\]\.flows.*unknown flow 'advise'"):
        parse_scenario(data, source="toy scenario")


def test_registries_refuse_duplicates_and_unknown_donor_kinds():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_flow(registry.flows()["funds"])
    with pytest.raises(ValueError, match="unknown donor kinds"):
        registry.register_policy_type(registry.PolicyType("x", "x", "#000000", ("nobody",), academy_candidates))
    assert "x" not in registry.policy_types()


ISSUE_14_TYPES = ["cadre_household", "on_site_learning", "merge", "migrant_members"]  # sim/pairing/builtin.py's import order
SOURCE_DOCUMENT_TYPES = [
    # Shouguang's four, first secretaries and mountain-sea cooperation (the built-ins) ...
    "city_village",
    "village_enterprise",
    "strong_weak",
    "industry_chain",
    "cadre_dispatch",
    "mountain_sea",
    # ... then the further forms of issue 14, each registered by its own module.
    *ISSUE_14_TYPES,
]


def test_builtin_registries_list_the_source_documents_system():
    assert list(registry.policy_types()) == SOURCE_DOCUMENT_TYPES
    assert [kind.code for kind in registry.donor_kinds().values()] == list(range(len(registry.donor_kinds())))
    for entry in [*registry.policy_types().values(), *registry.donor_kinds().values()]:
        assert entry.label and entry.colour.startswith("#") and len(entry.colour) == 7
    type_colours = [entry.colour for entry in registry.policy_types().values()]
    assert len(set(type_colours)) == len(type_colours), "two policy types share a colour in the report and the app"
    assert pd.Series([flow.outcome for flow in registry.flows().values()]).is_unique


def test_a_registration_before_anything_is_read_comes_after_the_built_ins():
    """In a fresh interpreter the built-ins are not loaded yet; registering must load them first."""
    first_kind = (
        "from sim.pairing import registry\n"
        "kind = registry.register_donor_kind(registry.DonorKind('x', 'x', '#000000'))\n"
        "print(kind.code, list(registry.donor_kinds())[-1], len(registry.flows()))\n"
    )
    done = subprocess.run([sys.executable, "-c", first_kind], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(len(registry.donor_kinds())), "x", str(len(registry.flows()))]
    first_type = (
        "from sim.pairing import registry\n"
        "registry.register_policy_type(registry.PolicyType('t', 't', '#000000', ('department',), print))\n"
        "print(list(registry.policy_types())[-1], len(registry.policy_types()))\n"
    )
    done = subprocess.run([sys.executable, "-c", first_type], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["t", str(len(registry.policy_types()) + 1)]


@pytest.mark.parametrize("first", ["sim.pairing.learning", "sim.pairing.migrants", "sim.pairing.merging"])
def test_the_registries_order_is_the_same_whichever_form_a_process_imports_first(first):
    """Codes, flows' turns and the tables' columns must not depend on import order (a test importing one form first
    once reordered the golden tables' columns)."""
    script = f"import {first}\nfrom sim.pairing import registry\nprint(list(registry.policy_types()), list(registry.flows()))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"{list(registry.policy_types())} {list(registry.flows())}"
