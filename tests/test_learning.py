"""On-site learning (现场跟学, sim/pairing/learning.py): weak villages learn in advanced villages like them.

Hosts are matched by likeness (industry, size, distance); learner-days raise the learner's leadership towards the host's
and, from a host of the same industry, its technology lift; every day costs the host's time and the learner's travel.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import app
from sim.errors import InputError
from sim.model import PairingModel
from sim.outcome_registry import OUTCOMES
from sim.pairing import cadre_households, learning, registry
from sim.pairing.config import Policy
from sim.pairing.matching import match
from sim.pairing.policies import Targeting
from sim.runner import run_model
from sim.scenario import load_scenario, parse_scenario
from tests.conftest import SMALL_SCENARIO, assert_only_costs_scale

LEARNING = "现场跟学"


def small_with_learning(study_days: float = 20.0, years: int = 2, only: bool = False, **settings: Any) -> dict:
    """scenarios/small.yaml (its five policies, or none with ``only``) plus an on-site learning policy of 4 pairs."""
    data = copy.deepcopy(yaml.safe_load(SMALL_SCENARIO.read_text(encoding="utf-8")))
    data["horizon_years"] = years
    policy = {"type": "on_site_learning", "name": LEARNING, "pairs": 4, "flows": {"study_days": study_days}}
    if settings:
        policy["settings"] = settings
    data["pairing"]["policies"] = [*([] if only else data["pairing"]["policies"]), policy]
    return data


def run(data: dict, seed: int = 1) -> tuple[PairingModel, Any]:
    model = PairingModel(parse_scenario(data, source="test scenario"), rng=seed)
    return model, run_model(model)


def learners(result: Any, model: PairingModel) -> np.ndarray:
    """Village rows of the on-site learning links."""
    names = {village.name: village.index for village in model.pairing.county.organisations["village"]}
    return np.array([names[name] for name in result.links.loc[result.links["policy"] == LEARNING, "village"]])


# --------------------------------------------------------------------------- matching by likeness


def toy_county() -> SimpleNamespace:
    """One weak vegetable village of 100 households at the origin and three advanced hosts: a grain village of its size
    1 km away, a vegetable village of its size 15 km away, a vegetable village ten times its size 15 km away."""
    villages = pd.DataFrame(
        {
            "name": ["learner", "near grain", "alike", "big vegetable"],
            "industry": ["vegetables", "grain", "vegetables", "vegetables"],
            "x_km": [0.0, 1.0, 15.0, 0.0],
            "y_km": [0.0, 0.0, 0.0, 15.0],
        }
    )
    households = SimpleNamespace(start=np.array([0, 100, 200, 300]), stop=np.array([100, 200, 300, 1300]))
    organisations = {"village": [SimpleNamespace(kind="village", index=i, name=n) for i, n in enumerate(villages["name"])]}
    return SimpleNamespace(
        villages=villages,
        households=households,
        organisations=organisations,
        village_xy=lambda: villages[["x_km", "y_km"]].to_numpy(float),
    )


def matched_host(**settings: Any) -> str:
    county = toy_county()
    policy = Policy(type="on_site_learning", pairs=1, flows={"study_days": 20}, settings={"host_share": 1.0, **settings})
    need = np.array([1.0, 0.0, 0.0, 0.0])
    candidates = learning.on_site_learning(county, policy, Targeting(need, need, 0.0))
    assert [donor.name for donor in candidates.donors] == ["near grain", "alike", "big vegetable"]
    links = match(candidates.scores, candidates.donor_capacity, candidates.recipient_capacity, "greedy", np.random.default_rng(0))
    (link,) = links
    assert candidates.recipients[link[1]] == 0
    return candidates.donors[link[0]].name


def test_the_learner_goes_to_the_host_most_like_it():
    assert matched_host() == "alike"  # same industry and size beat the nearer grain village and the larger one


def test_the_weights_decide_which_likeness_counts():
    assert matched_host(industry_weight=0.0, size_weight=0.0, distance_weight=1.0) == "near grain"
    assert matched_host(industry_weight=0.0, size_weight=1.0, distance_weight=1.0) == "near grain"
    assert matched_host(industry_weight=1.0, size_weight=0.0, distance_weight=0.0) in {"alike", "big vegetable"}


def test_likeness_is_a_weighted_mean_in_zero_to_one():
    settings = learning.LearningSettings(industry_weight=1.0, size_weight=1.0, distance_weight=2.0, distance_scale_km=10.0)
    same = learning.likeness(np.array(["a"]), np.array(["a"]), np.array([50]), np.array([100]), np.array([10.0]), settings)
    assert same == pytest.approx((1.0 + 0.5 + 2.0 * np.exp(-1.0)) / 4.0)
    other = learning.likeness(np.array(["a"]), np.array(["b"]), np.array([100]), np.array([100]), np.array([0.0]), settings)
    assert other == pytest.approx(3.0 / 4.0)


def test_hosts_are_advanced_villages_enough_to_take_every_learner():
    settings = learning.LearningSettings(host_share=0.1, learners_per_host=2)
    assert learning.host_count(100, 4, settings) == 10  # the most advanced tenth
    assert learning.host_count(100, 30, settings) == 15  # but never too few to host 30 learners two each
    assert learning.host_count(10, 30, settings) == 10  # and never more than there are


# --------------------------------------------------------------------------- the flow in a county


def test_more_study_days_raise_learners_leadership_and_technology_lift():
    outcome = {}
    for days in (10.0, 60.0):
        model, result = run(small_with_learning(days, only=True, cross_industry_adoption=0.5))
        rows = learners(result, model)
        state, stocks = model.pairing.county.state, model.pairing.stocks
        outcome[days] = (state.leadership[rows].mean(), stocks.technology_lift[rows].mean())
    assert outcome[60.0][0] > outcome[10.0][0]
    assert outcome[60.0][1] > outcome[10.0][1] > 0.0


def one_month_of_learning(study_days: float, **settings: Any) -> tuple[PairingModel, np.ndarray, np.ndarray]:
    """The learning flow's first month on small.yaml's county, alone: (model, leadership before, technology lift after)."""
    model = PairingModel(parse_scenario(small_with_learning(study_days, only=True, **settings), source="t"), rng=2)
    programme = model.pairing
    before = programme.county.state.leadership.copy()
    learning.study_on_site(programme.flow_inputs(None, np.random.default_rng(0)))
    return model, before, programme.stocks.technology_lift


def test_a_month_closes_the_documented_share_of_the_gap_to_the_host():
    model, before, lift = one_month_of_learning(120.0)  # 10 days this month at full effort
    links, after = model.pairing.links, model.pairing.county.state.leadership
    host, learner = links.donor_index, links.village
    gap = np.maximum(before[host] - before[learner], 0.0)
    np.testing.assert_allclose(after[learner] - before[learner], -np.expm1(-0.003 * 10.0) * gap, rtol=1e-12)
    unpaired = np.setdiff1d(np.arange(len(after)), learner)
    np.testing.assert_array_equal(after[unpaired], before[unpaired])  # hosts and the rest of the county learn nothing
    industry = model.pairing.county.villages["industry"].to_numpy()
    same = industry[host] == industry[learner]
    assert same.any()
    assert (lift[learner[same]] > 0).all() and (lift[learner[~same]] == 0).all()  # other industries' techniques don't fit


def test_learning_saturates_at_the_host_s_leadership():
    model, before, _ = one_month_of_learning(1e6)
    links, after = model.pairing.links, model.pairing.county.state.leadership
    host, learner = links.donor_index, links.village
    np.testing.assert_allclose(after[learner], np.maximum(before[host], before[learner]), rtol=1e-12)


def test_the_ledger_balances_and_every_learner_day_is_paid_for():
    _, result = run(small_with_learning(30.0))
    ledger = result.ledger[result.ledger["flow"] == "study_days"]
    assert ledger["sent"].sum() > 0
    np.testing.assert_allclose(ledger["sent"], ledger["lost"] + ledger["received"])
    moved = ledger[ledger["sent"] > 0]
    assert (moved["cost"] > 0).all()
    # Every day priced at the host's time plus the learner's travel, at the month's wage index (>= 1 as wages grow).
    per_day = unit_cost(learning.DEFAULTS)
    assert (moved["cost"] / moved["sent"] >= per_day * (1 - 1e-12)).all()
    assert set(ledger.loc[ledger["sent"] > 0, "policy"]) == {LEARNING}  # only the learning policy plans days
    monthly = result.monthly.set_index("step")["study_days"]
    np.testing.assert_allclose(monthly.loc[ledger["step"].unique()], ledger.groupby("step")["sent"].sum())
    assert result.policies.set_index("policy").loc[LEARNING, "study_days_sent"] == pytest.approx(ledger["sent"].sum())
    links = result.links[result.links["policy"] == LEARNING]
    assert set(links["donor_kind"]) == {"village"} and len(links) == 4


def unit_cost(settings: learning.LearningSettings) -> float:
    """Start-year yuan of one learner-day under ``settings``: the host's time at its secretary's day pay, plus travel."""
    day_pay = settings.secretary_monthly_pay / learning.WORKING_DAYS_PER_MONTH
    return settings.host_days_per_learner_day * day_pay + settings.learner_day_cost


def test_a_policy_s_unit_costs_change_its_ledger_cost_in_proportion_and_nothing_else():
    """The study-day cost's unit costs are the policy's settings: other values scale every day's cost by the ratio of the
    unit costs and change no other number of the run (the monthly table apart from ``donor_cost``, the ledger's flows)."""
    costly = {"secretary_monthly_pay": 4_000.0, "host_days_per_learner_day": 1.0, "learner_day_cost": 350.0}
    _, plain = run(small_with_learning(30.0))
    _, dear = run(small_with_learning(30.0, **costly))
    ratio = unit_cost(learning.LearningSettings(**costly)) / unit_cost(learning.DEFAULTS)
    assert_only_costs_scale(plain, dear, {"study_days": ratio})


def test_hosts_lose_no_farm_output_the_study_day_cost_already_prices_their_time():
    """The donor-burden failure mode (种了别人的田) is for running a weak village's projects, not hosting visits."""
    data = small_with_learning(30.0, only=True)
    data["pairing"]["failure"] = {**data["pairing"].get("failure", {}), "donor_cost": 0.05}
    _, result = run(data)
    monthly = result.monthly.set_index("step")["donor_cost"].iloc[1:]
    ledger_cost = result.ledger.groupby("step")["cost"].sum().reindex(monthly.index, fill_value=0.0)
    np.testing.assert_allclose(monthly, ledger_cost, rtol=1e-12)  # donor cost is the ledger's: no lost output on top


def test_learning_runs_beside_donors_numbered_beyond_the_villages():
    """Links of other donor kinds (here 60 cadres, more than the 40 villages) are no hosts: their donor numbers are not
    village rows and must not be read as such."""
    data = small_with_learning(years=1)
    cadres = {"county_leaders": 0, "section_chiefs": 0, "deputy_section_chiefs": 0, "ordinary_cadres": 60}
    data["pairing"]["policies"].append(
        {"type": "cadre_household", "name": "干部", "pairs": 4, "settings": cadres, "flows": {"household_assets": 2000}}
    )
    model, result = run(data)
    assert result.monthly["study_days"].sum() > 0
    assert model.pairing.links.donor_index.max() >= len(model.pairing.county.villages)


def test_the_same_seed_gives_the_same_monthly_table():
    data = small_with_learning(40.0)
    pd.testing.assert_frame_equal(run(data, seed=5)[1].monthly, run(data, seed=5)[1].monthly)


def test_a_scenario_without_on_site_learning_runs_as_if_the_form_did_not_exist():
    """Registered but unused, the form changes no number: the run equals one with the flow and type unregistered (its
    outcome column stays, all zero)."""
    data = copy.deepcopy(yaml.safe_load(SMALL_SCENARIO.read_text(encoding="utf-8")))
    data["horizon_years"] = 2
    with_form = run(data)[1].monthly
    with registry.restored():  # in their order: flows move, and columns line up, in registration order
        registry.unregister("study_days")
        registry.unregister("on_site_learning")
        without = run(data)[1].monthly
    assert (with_form["study_days"] == 0).all()
    pd.testing.assert_frame_equal(with_form[without.columns], without)


def test_learning_that_teaches_nothing_leaves_the_county_as_without_it():
    """With no lesson per day, no technique and no donor burden, the policy's links move days that change nothing:
    every county outcome equals the run without any pairing, bit for bit."""
    data = small_with_learning(20.0, only=True, leadership_learning_rate=0.0, techniques_per_day=0.0)
    data["pairing"]["failure"] = {"donor_cost": 0.0}
    silent = run(data)[1].monthly
    data["pairing"]["policies"] = []
    without = run(data)[1].monthly
    county = [key for key in without.columns if key in OUTCOMES and not OUTCOMES[key].pairing and key != "donor_cost"]
    assert silent["study_days"].sum() > 0
    pd.testing.assert_frame_equal(silent[county], without[county])


# --------------------------------------------------------------------------- bad input and labels


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            {"settings": {"leadership_learning_rate": -0.1}},
            "settings.leadership_learning_rate: must be greater than or equal to 0",
        ),
        ({"settings": {"host_shar": 0.3}}, "settings.host_shar: unknown setting of on_site_learning; did you mean 'host_share'"),
        (
            {"settings": {"industry_weight": 0, "size_weight": 0, "distance_weight": 0}},
            "pairing.policies[5]: settings: industry_weight, size_weight and distance_weight cannot all be 0",
        ),
        ({"settings": {"learners_per_host": 0}}, "settings.learners_per_host: must be greater than 0"),
        ({"settings": {"learner_day_cost": 0}}, "settings.learner_day_cost: must be greater than 0"),
        ({"flows": {"study_days": 0}}, "on_site_learning needs flows.study_days > 0"),
        ({"typed": True}, "'typed' matching applies to city_village policies only"),
    ],
)
def test_bad_settings_are_one_line_naming_the_file_policy_and_field(tmp_path, write_scenario, policy, expected):
    data = small_with_learning()
    data["pairing"]["policies"][-1].update(policy)
    path = write_scenario(tmp_path, data)
    with pytest.raises(InputError) as error:
        load_scenario(path)
    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert str(path) in message and "pairing.policies[5]" in message and expected in message, message


def test_the_label_and_colour_come_from_the_registry_to_the_app_and_report():
    entry = registry.policy_types()["on_site_learning"]
    assert entry.label == "On-site learning (现场跟学)"
    builtin_colours = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#17becf"}
    assert entry.colour not in builtin_colours
    scenario = parse_scenario(small_with_learning(), source="t")
    assert app.build_model_params(scenario)["on_site_learning"]["label"] == entry.label  # the app's checkbox
    model = PairingModel(scenario, rng=1)
    model.step()
    legend = {text.get_text() for text in app.draw_pairing_network(model).axes[0].get_legend().get_texts()}
    assert "branches: On-site learning" in legend  # the network's legend, without the gloss matplotlib cannot draw
    assert OUTCOMES["study_days"].label == "Learner-days on site" and OUTCOMES["study_days"].pairing


def test_a_working_month_has_one_length_for_every_form():
    """Learners' and cadres' days are priced from monthly pay by the same paid days a month (one figure, in the registry)."""
    assert learning.WORKING_DAYS_PER_MONTH is registry.WORKING_DAYS_PER_MONTH
    assert cadre_households.WORKING_DAYS_PER_MONTH is registry.WORKING_DAYS_PER_MONTH
