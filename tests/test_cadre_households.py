"""Cadres paired with poor households (干部结对帮扶户, Xunwu "2+10864"; sim/pairing/cadre_households.py).

Cadres by rank take 10, 8, 6 or 4 poor households of the poorest villages, a county leader in two villages; a household
has one cadre at most. Help follows the household's ability to work: assets for all, jobs for those who can work, 低保
for those who cannot (fully), relocation from harsh places. Everything goes to the households, nothing to the collective.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import app
from sim.errors import InputError
from sim.model import PairingModel
from sim.outcome_registry import OUTCOMES
from sim.pairing import cadre_households as ch
from sim.pairing import flows, registry
from sim.pairing import links as links_module
from sim.pairing.county import Month
from sim.report.styles import node_kinds
from sim.runner import run_model
from sim.scenario import load_scenario, parse_scenario
from tests.conftest import SMALL_SCENARIO, assert_only_costs_scale

CADRES = "干部结对"
FEW_CADRES = {"county_leaders": 2, "section_chiefs": 4, "deputy_section_chiefs": 6, "ordinary_cadres": 10}
"""22 cadres with 20 + 32 + 36 + 40 = 128 households: fewer than the poor households of small.yaml's 4 poorest villages."""
OUR_FLOWS = (ch.ASSETS, ch.JOBS, ch.DIBAO, ch.RELOCATIONS)


def small_with_cadres(years: int = 2, only: bool = True, flows_planned: dict | None = None, **settings: Any) -> dict:
    """scenarios/small.yaml with a cadre-household policy over its 4 poorest villages (alone, or after its five)."""
    data = copy.deepcopy(yaml.safe_load(SMALL_SCENARIO.read_text(encoding="utf-8")))
    data["horizon_years"] = years
    planned = {ch.ASSETS: 2000, ch.JOBS: 0.5, ch.DIBAO: 1.0, ch.RELOCATIONS: 0.2} if flows_planned is None else flows_planned
    policy = {
        "type": "cadre_household",
        "name": CADRES,
        "pairs": 4,
        "settings": {**FEW_CADRES, "remote_km": 5.0, **settings},  # 5 km: some of the teaching county's villages are remote
        "flows": planned,
    }
    data["pairing"]["policies"] = [*([] if only else data["pairing"]["policies"]), policy]
    return data


def run(data: dict, seed: int = 1) -> tuple[PairingModel, Any]:
    model = PairingModel(parse_scenario(data, source="test scenario"), rng=seed)
    return model, run_model(model)


def first_move(data: dict, seed: int = 1) -> tuple[PairingModel, flows.FlowInputs]:
    """A model after set-up and the inputs of its first month, before any flow (no step taken)."""
    model = PairingModel(parse_scenario(data, source="test scenario"), rng=seed)
    return model, model.pairing.flow_inputs(None, np.random.default_rng(0))


def cadres_of(model: PairingModel) -> list[ch.Cadre]:
    return model.organisations[ch.DONOR_KIND]


# --------------------------------------------------------------------------- who pairs with whom


def test_cadres_by_rank_take_their_households_and_a_county_leader_two_villages():
    model, inputs = first_move(small_with_cadres())
    roster = ch.paired_households(inputs)
    cadres = cadres_of(model)
    assert [c.rank for c in cadres].count("county_leader") == 2 and len(cadres) == 22
    quota = {"county_leader": 10, "section_chief": 8, "deputy_section_chief": 6, "ordinary_cadre": 4}
    links = model.pairing.links
    for cadre in cadres:
        assert cadre.quota == quota[cadre.rank]
        assert cadre.households.size <= cadre.quota
        villages = np.unique(links.village[links.of_kind("cadre") & (links.donor_index == cadre.index)])
        assert villages.size <= (2 if cadre.rank == "county_leader" else 1)
    assert sorted({c.households.size for c in cadres if c.rank == "county_leader"}) == [10]  # enough poor households
    assert max(np.unique(links.village[links.of_kind("cadre")], return_counts=True)[1]) > 1  # many cadres a village
    assert roster is cadres[0].roster and roster.rows.size == sum(c.households.size for c in cadres)


def test_a_household_has_one_cadre_at_most_and_paired_households_are_the_poorest_poor():
    model, inputs = first_move(small_with_cadres(), seed=3)
    roster = ch.paired_households(inputs)
    assert np.unique(roster.rows).size == roster.rows.size > 0
    owners = np.concatenate([np.full(c.households.size, c.index) for c in cadres_of(model)])
    assert np.unique(np.concatenate([c.households for c in cadres_of(model)])).size == owners.size
    h = model.households
    per_capita = h.annual / h.size
    line = model.poverty_line()
    assert (per_capita[roster.rows] < line).all()
    for village in np.unique(h.village[roster.rows]):
        rows = np.arange(h.start[village], h.stop[village])
        paired = np.isin(rows, roster.rows)
        poor_left = rows[~paired & (per_capita[rows] < line)]
        if poor_left.size:  # the village's unpaired poor are all better off than its paired ones
            assert per_capita[poor_left].min() >= per_capita[rows[paired]].max()


def test_villages_are_those_of_highest_poverty_incidence():
    model, _ = first_move(small_with_cadres())
    h = model.households
    poor = h.annual / h.size < model.poverty_line()
    incidence = h.village_sum(h.size * poor) / model.village_population
    served = np.unique(model.pairing.links.village)
    assert sorted(served.tolist()) == sorted(np.argsort(-incidence, kind="stable")[:4].tolist())


def test_two_policies_alike_but_for_pairs_keep_their_own_cadres():
    """Cadres pair under the policy that made them, found by its index: two cadre-household policies that differ only in
    their pairs (as a formation's copy of a policy does) never lend each other cadres."""
    data = small_with_cadres(years=1)
    data["pairing"]["policies"].append({**copy.deepcopy(data["pairing"]["policies"][0]), "pairs": 2})
    model = PairingModel(parse_scenario(data, source="test scenario"), rng=1)
    links, cadres = model.pairing.links, cadres_of(model)
    ours = links.of_kind(ch.DONOR_KIND)
    assert set(links.policy[ours].tolist()) == {0, 1}
    made_by = np.array([cadres[int(i)].policy_index for i in links.donor_index[ours]])
    np.testing.assert_array_equal(made_by, links.policy[ours])


def test_too_few_cadres_for_the_villages_asked_is_one_clear_line():
    data = small_with_cadres(county_leaders=0, section_chiefs=0, deputy_section_chiefs=0, ordinary_cadres=2)
    with pytest.raises(InputError, match=r"pairing.policies\[0\].pairs: 4 pairs requested but only 2 can be formed"):
        PairingModel(parse_scenario(data, source="t"), rng=1)


# --------------------------------------------------------------------------- each group gets its own help


def one_flow(flow: str, plan: float, seed: int = 1, **settings: Any) -> tuple[PairingModel, ch.Roster, Any, dict]:
    """One month of one flow on small.yaml with only the cadre policy: (model, roster, moved, arrays before it)."""
    model, inputs = first_move(small_with_cadres(flows_planned={flow: plan}, **settings), seed=seed)
    roster = ch.paired_households(inputs)
    h, state = model.households, model.village_state
    before = {
        "capital": state.capital.copy(),
        "problems": state.problems.copy(),
        "leadership": state.leadership.copy(),
        "dibao": h.dibao_covered.copy(),
        "migrants": h.migrants.copy(),
        "local_jobs": h.local_jobs.copy(),
        "business": h.business.copy(),
        "assets": model.pairing.stocks.support_assets.copy(),
        "jobs": len(model.jobs.household),
    }
    move = registry.flows()[flow].move
    inputs = dataclasses.replace(inputs, month=model_month(model), rng=np.random.default_rng(seed))
    return model, roster, move(inputs), before


def model_month(model: PairingModel) -> Month:
    return Month(1, model.enterprise_capacity(), model.enterprise_wage_bill(), 1.0)


def changed_rows(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.flatnonzero(before != after)


def assert_collective_untouched(model: PairingModel, before: dict) -> None:
    state = model.village_state
    np.testing.assert_array_equal(state.capital, before["capital"])
    np.testing.assert_array_equal(state.problems, before["problems"])
    np.testing.assert_array_equal(state.leadership, before["leadership"])


def test_assets_go_to_every_paired_household_and_nowhere_else():
    model, roster, moved, before = one_flow(ch.ASSETS, 12_000.0)  # 1,000 yuan this month per household, at full effort
    assets = model.pairing.stocks.support_assets
    assert set(changed_rows(before["assets"], assets)) == set(roster.rows.tolist())
    groups = {ch.GROUP_NAMES[g] for g in np.unique(roster.group)}
    assert {"able", "unable"} <= groups  # industry support and, for those who cannot work, asset income
    leakage = model.spec.pairing.failure.leakage
    np.testing.assert_allclose(assets[roster.rows], 1000.0 * (1 - leakage))
    assert moved.sent.sum() == pytest.approx(1000.0 * roster.rows.size)
    assert_collective_untouched(model, before)


def test_jobs_go_to_able_and_partly_able_households_with_someone_farming_at_home():
    model, roster, moved, before = one_flow(ch.JOBS, 24.0)  # about two a month per household: more than can be placed
    h = model.households
    placed = np.union1d(changed_rows(before["migrants"], h.migrants), changed_rows(before["local_jobs"], h.local_jobs))
    assert placed.size == moved.sent.sum() > 0
    assert set(placed) <= set(roster.rows.tolist())
    group = dict(zip(roster.rows.tolist(), roster.group.tolist(), strict=True))
    assert all(group[row] != ch.UNABLE for row in placed)
    farming_before = h.workers - before["migrants"] - before["local_jobs"]
    assert (farming_before[placed] > 0).all()
    assert (h.migrants[placed] + h.local_jobs[placed] == before["migrants"][placed] + before["local_jobs"][placed] + 1).all()
    local = int((h.local_jobs - before["local_jobs"]).sum())
    assert len(model.jobs.household) == before["jobs"] + local  # a local placement is a listed job at a firm
    assert set(model.jobs.household[before["jobs"] :].tolist()) <= set(placed.tolist())
    assert_collective_untouched(model, before)


def test_dibao_goes_to_partly_able_and_unable_households_not_yet_covered():
    model, roster, moved, before = one_flow(ch.DIBAO, 1200.0)
    enrolled = changed_rows(before["dibao"], model.households.dibao_covered)
    assert enrolled.size == moved.sent.sum() > 0
    group = dict(zip(roster.rows.tolist(), roster.group.tolist(), strict=True))
    assert all(group.get(row, ch.ABLE) != ch.ABLE for row in enrolled)
    not_able = roster.rows[roster.group != ch.ABLE]
    assert model.households.dibao_covered[not_able].all()  # a large plan enrols every one of them
    assert not before["dibao"][enrolled].any()
    assert_collective_untouched(model, before)


def test_relocation_moves_households_of_remote_villages_to_a_more_productive_place():
    model, roster, moved, before = one_flow(ch.RELOCATIONS, 1200.0)
    h = model.households
    relocated = roster.rows[roster.relocated]
    assert relocated.size == moved.sent.sum() > 0
    assert set(relocated) == set(roster.rows[roster.remote].tolist())  # a large plan moves every remote household
    assert (h.business[relocated] >= before["business"][relocated]).all()
    assert (h.business[relocated] > before["business"][relocated]).any()
    assert set(changed_rows(before["business"], h.business)) <= set(relocated.tolist())
    assert_collective_untouched(model, before)


def test_ability_groups_follow_able_members_and_skill():
    h = type("H", (), {})()
    h.workers = np.array([0, 1, 1, 2, 2])
    h.size = np.array([2.0, 4.0, 2.0, 3.0, 3.0])
    h.skill_base = np.array([1.0, 1.0, 1.0, 1.0, 0.5])
    groups = ch.ability_groups(h, np.arange(5), ch.CadreHouseholdSettings())
    assert groups.tolist() == [ch.UNABLE, ch.PARTLY_ABLE, ch.ABLE, ch.ABLE, ch.PARTLY_ABLE]


# --------------------------------------------------------------------------- in a whole run


def paired_income(model: PairingModel, rows: np.ndarray) -> float:
    """Mean trailing 12-month income per person of the households ``rows``."""
    h = model.households
    return float(h.annual[rows].sum() / h.size[rows].sum())


def incomes_of_paired(plans: list[dict]) -> list[float]:
    """Paired households' income per person at the end of a run with each plan, same seed: the households paired under
    the last plan (with a plan of zero no cadre takes households, but the same ones would have been taken)."""
    models = [run(small_with_cadres(flows_planned=plan, years=3))[0] for plan in plans]
    rows = cadres_of(models[-1])[0].roster.rows
    assert rows.size > 0
    return [paired_income(model, rows) for model in models]


def test_more_assets_per_household_raise_paired_households_income():
    none, some, more = incomes_of_paired([{ch.ASSETS: plan} for plan in (0.0, 1000.0, 4000.0)])
    assert more > some > none


def test_more_dibao_enrolments_raise_paired_households_income():
    none, some = incomes_of_paired([{ch.DIBAO: plan} for plan in (0.0, 2.0)])
    assert some > none


def test_the_ledger_balances_and_every_flow_that_moves_costs_something():
    _, result = run(small_with_cadres(flows_planned={ch.ASSETS: 2000, ch.JOBS: 1.0, ch.DIBAO: 1.0, ch.RELOCATIONS: 0.5}))
    ledger = result.ledger[result.ledger["flow"].isin(OUR_FLOWS)]
    np.testing.assert_allclose(ledger["sent"], ledger["lost"] + ledger["received"])
    per_unit = {
        ch.ASSETS: 1.0,
        ch.JOBS: 1_000.0,  # the default hiring_cost
        ch.DIBAO: ch.DEFAULTS.enrolment_casework_days * 3_000.0 / ch.WORKING_DAYS_PER_MONTH,
        ch.RELOCATIONS: ch.DEFAULTS.relocation_cost_per_household,
    }
    for flow in OUR_FLOWS:
        moved = ledger[(ledger["flow"] == flow) & (ledger["sent"] > 0)]
        assert len(moved) > 0, flow
        assert (moved["cost"] >= moved["sent"] * per_unit[flow] * (1 - 1e-12)).all(), flow  # wages only rise here
        monthly = result.monthly.set_index("step")[flow]
        np.testing.assert_allclose(monthly.loc[moved["step"].unique()], moved.groupby("step")["sent"].sum())
        assert result.policies.set_index("policy").loc[CADRES, f"{flow}_sent"] == pytest.approx(moved["sent"].sum())
    assets = ledger[ledger["flow"] == ch.ASSETS]
    assert assets["lost"].sum() == pytest.approx(0.1 * assets["sent"].sum())  # the default leakage
    assert set(result.links.loc[result.links["policy"] == CADRES, "donor_kind"]) == {"cadre"}


def test_a_policy_s_unit_costs_change_its_ledger_cost_in_proportion_and_nothing_else():
    """Casework days and the relocation cost are the policy's settings: other values scale those flows' costs by their
    ratio to the defaults and change no other number (the monthly table apart from ``donor_cost``, the other flows)."""
    planned = {ch.ASSETS: 2000, ch.JOBS: 1.0, ch.DIBAO: 1.0, ch.RELOCATIONS: 0.5}
    _, plain = run(small_with_cadres(flows_planned=planned))
    _, dear = run(small_with_cadres(flows_planned=planned, enrolment_casework_days=3.0, relocation_cost_per_household=300_000.0))
    ratios = {
        ch.DIBAO: 3.0 / ch.DEFAULTS.enrolment_casework_days,
        ch.RELOCATIONS: 300_000.0 / ch.DEFAULTS.relocation_cost_per_household,
    }
    assert_only_costs_scale(plain, dear, ratios)


def test_the_same_seed_gives_the_same_monthly_table():
    data = small_with_cadres()
    pd.testing.assert_frame_equal(run(data, seed=5)[1].monthly, run(data, seed=5)[1].monthly)


def test_a_scenario_without_cadre_pairing_runs_as_if_the_form_did_not_exist():
    """Registered but unused, the form changes no number: the run equals one with its flows and type unregistered (its
    outcome columns stay, all zero)."""
    data = copy.deepcopy(yaml.safe_load(SMALL_SCENARIO.read_text(encoding="utf-8")))
    data["horizon_years"] = 2
    with_form = run(data)[1].monthly
    with registry.restored():  # re-registering would put the form's entries last: later runs' order would change
        for name in (*OUR_FLOWS, ch.TOPUPS, ch.POLICY_TYPE):
            registry.unregister(name)
        without = run(data)[1].monthly
    assert (with_form[[*OUR_FLOWS, ch.TOPUPS]] == 0).all().all()
    pd.testing.assert_frame_equal(with_form[without.columns], without)


def test_cadres_who_move_nothing_leave_the_county_as_without_pairing():
    """Planned at zero, every flow of the form is silent: all county outcomes equal the run without pairing, bit for bit."""
    data = small_with_cadres(flows_planned={name: 0.0 for name in OUR_FLOWS})
    silent = run(data)[1].monthly
    data["pairing"]["policies"] = []
    without = run(data)[1].monthly
    county = [key for key in without.columns if key in OUTCOMES and not OUTCOMES[key].pairing]
    assert silent["active_pairs"].iloc[-1] > 0
    pd.testing.assert_frame_equal(silent[county], without[county])


@pytest.mark.parametrize("flow", OUR_FLOWS)
def test_a_flow_planned_at_zero_draws_no_random_number(flow):
    """Draws shift the pairing stream for every flow after it: a flow with nothing planned must draw none."""
    model, inputs = first_move(small_with_cadres(flows_planned={name: 0.0 for name in OUR_FLOWS}))
    state = inputs.rng.bit_generator.state
    moved = registry.flows()[flow].move(inputs)
    assert inputs.rng.bit_generator.state == state
    assert moved.sent.sum() == 0 and not cadres_of(model)[0].roster.rows.size  # and pairs no household


# --------------------------------------------------------------------------- the 低保 top-ups enrolment brings


def run_recording_topups(data: dict, seed: int = 1) -> tuple[PairingModel, Any, dict[int, np.ndarray], np.ndarray]:
    """A run, with each household's 低保 top-up as it stood before each step (the one the step books) and who was covered
    before any pairing: (model, result, top-ups by step, covered at the start)."""
    model = PairingModel(parse_scenario(data, source="test scenario"), rng=seed)
    h = model.households
    covered_at_start = h.dibao_covered.copy()
    before_step: dict[int, np.ndarray] = {}
    while model.running:
        before_step[model.months_elapsed + 1] = h.dibao_topup.copy()
        model.step()
    return model, run_model(model), before_step, covered_at_start


def test_the_top_up_cost_is_what_the_enrolled_households_were_topped_up_the_month_before():
    """Constructed from the household arrays: each month, per link, the top-ups of the households its cadre enrolled."""
    model, result, before_step, _ = run_recording_topups(small_with_cadres(flows_planned={ch.DIBAO: 1.0}))
    roster = cadres_of(model)[0].roster
    enrolled = np.flatnonzero(roster.enrolled)
    assert enrolled.size > 0
    topups = result.ledger[result.ledger["flow"] == ch.TOPUPS]
    assert topups["sent"].sum() > 0
    for step, paid in before_step.items():
        expected = np.bincount(roster.link[enrolled], weights=paid[roster.rows[enrolled]], minlength=len(model.pairing.links))
        booked = np.zeros(len(model.pairing.links))
        month = topups[topups["step"] == step]
        np.add.at(booked, month["link"].to_numpy(), month["sent"].to_numpy())
        np.testing.assert_allclose(booked, expected, rtol=1e-12, err_msg=f"step {step}")
    np.testing.assert_array_equal(topups["cost"], topups["sent"])  # what it pays, yuan for yuan
    monthly = result.monthly.set_index("step")
    np.testing.assert_allclose(monthly.loc[topups["step"].unique(), ch.TOPUPS], topups.groupby("step")["sent"].sum())


def test_households_covered_before_pairing_are_not_charged_to_the_programme():
    model, result, before_step, covered_at_start = run_recording_topups(small_with_cadres(flows_planned={ch.DIBAO: 1.0}))
    roster = cadres_of(model)[0].roster
    already = covered_at_start[roster.rows]
    assert not (roster.enrolled & already).any()
    topped_up_anyway = sum(float(paid[roster.rows[already]].sum()) for paid in before_step.values())
    assert topped_up_anyway > 0  # paired, covered from the start and topped up: the government's, not the programme's
    booked = result.ledger.loc[result.ledger["flow"] == ch.TOPUPS, "sent"].sum()
    enrolled_rows = roster.rows[roster.enrolled]
    assert booked == pytest.approx(sum(float(paid[enrolled_rows].sum()) for paid in before_step.values()), rel=1e-12)


def test_no_enrolment_no_top_up_cost_even_where_paired_households_are_topped_up():
    model, result, before_step, _ = run_recording_topups(small_with_cadres(flows_planned={ch.ASSETS: 2000.0}))
    roster = cadres_of(model)[0].roster
    assert roster.rows.size > 0 and not roster.enrolled.any()
    assert sum(float(paid[roster.rows].sum()) for paid in before_step.values()) > 0
    assert (result.monthly[ch.TOPUPS] == 0).all()
    assert not (result.ledger["flow"] == ch.TOPUPS).any()


def test_top_ups_balance_in_the_ledger_and_are_part_of_the_donor_cost():
    """sent = lost + received; with only cadres pairing (no donor village loses output) donor_cost is the ledger's cost,
    top-ups included; more enrolments book more top-ups."""
    _, result = run(small_with_cadres(flows_planned={ch.DIBAO: 1.0}, years=3))
    ledger = result.ledger
    np.testing.assert_allclose(ledger["sent"], ledger["lost"] + ledger["received"])
    topups = ledger[ledger["flow"] == ch.TOPUPS]
    assert (topups["cost"] > 0).all() and (topups["lost"] == 0).all()
    cost = ledger.groupby("step")["cost"].sum().reindex(result.monthly["step"], fill_value=0.0).to_numpy()
    np.testing.assert_allclose(result.monthly["donor_cost"].to_numpy(), cost, rtol=1e-12)
    assert result.policies.set_index("policy").loc[CADRES, f"{ch.TOPUPS}_sent"] == pytest.approx(topups["sent"].sum())
    _, more = run(small_with_cadres(flows_planned={ch.DIBAO: 4.0}, years=3))
    assert more.monthly[ch.TOPUPS].sum() > result.monthly[ch.TOPUPS].sum()


def test_the_top_up_flow_draws_no_random_number_and_moves_nothing_in_the_county():
    model, inputs = first_move(small_with_cadres(flows_planned={ch.DIBAO: 1200.0}))
    ch.enrol_in_dibao(inputs)
    h = model.households
    h.dibao_topup[:] = 10.0  # as if every covered household had been topped up 10 yuan last month
    covered, state = h.dibao_covered.copy(), inputs.rng.bit_generator.state
    moved = ch.pay_topups(inputs)
    roster = cadres_of(model)[0].roster
    assert roster.enrolled.any() and moved.sent.sum() == pytest.approx(10.0 * roster.enrolled.sum())
    assert inputs.rng.bit_generator.state == state and (h.dibao_covered == covered).all()


# --------------------------------------------------------------------------- bad input and labels


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"settings": {"section_chiefs": -1}}, "settings.section_chiefs: must be greater than or equal to 0"),
        ({"settings": {"ordinary_cadre": 3}}, "settings.ordinary_cadre: unknown setting of cadre_household; did you mean"),
        ({"settings": {"remote_km": 0}}, "settings.remote_km: must be greater than 0"),
        ({"settings": {"enrolment_casework_days": -1}}, "settings.enrolment_casework_days: must be greater than 0"),
        ({"settings": {"partly_able_worker_share": 1.5}}, "settings.partly_able_worker_share: must be less than or equal to 1"),
        (
            {"settings": {"county_leaders": 0, "section_chiefs": 0, "deputy_section_chiefs": 0, "ordinary_cadres": 0}},
            "cadre_household needs cadres",
        ),
        ({"donors_per_pair": 2}, "leave donors_per_pair out"),
        ({"typed": True}, "'typed' matching applies to city_village policies only"),
        ({"flows": {"relocations": -1}}, "flows.relocations"),
        ({"flows": {"dibao_topups": 100}}, "flows.dibao_topups is not planned: the 低保 top-ups follow from dibao_enrolments"),
    ],
)
def test_bad_settings_are_one_line_naming_the_file_policy_and_field(tmp_path, write_scenario, policy, expected):
    data = small_with_cadres(only=False)
    data["pairing"]["policies"][-1].update(policy)
    path = write_scenario(tmp_path, data)
    with pytest.raises(InputError) as error:
        load_scenario(path)
    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert str(path) in message and "pairing.policies[5]" in message and expected in message, message


def test_labels_and_colours_come_from_the_registries_to_the_app_and_report():
    entry, kind = registry.policy_types()[ch.POLICY_TYPE], registry.donor_kinds()[ch.DONOR_KIND]
    assert entry.label == "Cadre-household (干部结对帮扶户)" and kind.label == "cadres (干部)"
    others = [e.colour for name, e in registry.policy_types().items() if name != ch.POLICY_TYPE]
    others += [k.colour for name, k in registry.donor_kinds().items() if name != ch.DONOR_KIND]
    assert entry.colour not in others and kind.colour not in others and entry.colour != kind.colour
    scenario = parse_scenario(small_with_cadres(), source="t")
    assert app.build_model_params(scenario)[ch.POLICY_TYPE]["label"] == entry.label  # the app's checkbox
    model = PairingModel(scenario, rng=1)
    model.step()
    legend = {text.get_text() for text in app.draw_pairing_network(model).axes[0].get_legend().get_texts()}
    assert "branches: Cadre-household" in legend and "cadres" in legend  # glosses matplotlib cannot draw are dropped
    assert node_kinds()[ch.DONOR_KIND].label == kind.label  # the report's and the app's node legend
    for flow in (*OUR_FLOWS, ch.TOPUPS):
        assert OUTCOMES[flow].pairing and OUTCOMES[flow].label


# --------------------------------------------------------------------------- with rounds and the over-serving limit


def test_the_over_serving_limit_leaves_a_lone_cadre_policy_s_pairs_as_they_were():
    """A limit that no village reaches changes nothing: the cadres are found although a formation under the limit asks
    the candidate rule with a copy of the policy (rounds.plan_round), not the scenario's own object."""
    data = small_with_cadres(years=1)
    limited = copy.deepcopy(data)
    limited["pairing"]["max_policies_per_village"] = 2
    free_model = PairingModel(parse_scenario(data, source="test scenario"), rng=1)
    limited_model = PairingModel(parse_scenario(limited, source="test scenario"), rng=1)
    pd.testing.assert_frame_equal(free_model.pairing.link_table(), limited_model.pairing.link_table())


def test_cadres_formed_again_by_a_churning_round_take_poor_households_as_the_first_did():
    """建了散、散了建 with cadres: the households of dissolved links are free again, and a cadre's new link takes its whole
    quota (split over its links in hand, not over every link it ever had)."""
    data = small_with_cadres(years=2, flows_planned={ch.ASSETS: 2000})
    data["pairing"]["policies"][-1]["rounds"] = {"every_months": 12, "dissolve_each_round": True}
    model, result = run(data)
    links, roster = model.pairing.links, cadres_of(model)[0].roster
    households = np.bincount(roster.link, minlength=len(links))
    first, again = links.start_step == 0, links.start_step == 12
    assert again.any() and (links.status[first] == links_module.DISSOLVED).all()
    assert households[again].sum() >= 0.8 * households[first].sum() > 0
    assert result.monthly["household_assets"].iloc[13:].gt(0).all()


def test_a_household_is_relocated_once_whichever_cadres_it_has():
    """A household re-paired after a churning round is not relocated a second time (its business would rise twice)."""
    data = small_with_cadres(years=3, flows_planned={ch.RELOCATIONS: 6.0})
    data["pairing"]["policies"][-1]["rounds"] = {"every_months": 12, "dissolve_each_round": True}
    model, _ = run(data)
    roster = cadres_of(model)[0].roster
    relocated_rows = roster.rows[roster.relocated]
    assert relocated_rows.size > 0
    assert np.unique(relocated_rows).size == relocated_rows.size


def test_cadres_of_a_named_donor_county_sit_there_and_pair_in_the_recipient_county():
    """In a region of counties, ``donor_counties`` says whose cadres pair (the candidate rule keeps only those): the
    cadres are built at that county's seat, not the recipient county's, so they are found."""
    from tests.test_province import THREE_COUNTIES

    data = copy.deepcopy(THREE_COUNTIES)
    data["horizon_years"] = 1
    cadres = {"county_leaders": 1, "section_chiefs": 3, "deputy_section_chiefs": 3, "ordinary_cadres": 10}
    data["pairing"]["policies"].append(
        {
            "type": "cadre_household",
            "name": CADRES,
            "pairs": 3,
            "donor_counties": ["海城市"],
            "recipient_counties": ["山县"],
            "settings": cadres,
            "flows": {ch.ASSETS: 1000},
        }
    )
    model = PairingModel(parse_scenario(data, source="p.yaml"), rng=5)
    county = model.pairing.county
    assert set(county.counties_of(cadres_of(model))) == {"海城市"}
    links = model.pairing.links
    ours = links.of_kind(ch.DONOR_KIND)
    assert ours.any() and set(county.village_counties()[links.village[ours]]) == {"山县"}


def test_the_over_serving_limit_does_not_thin_the_cadres_links():
    """Under ``max_policies_per_village`` the rule shares the cadres' links over the villages it may pair, not over
    villages that are then dropped: as many links as without the limit, but for each village's rounding down."""
    cadre_links = {}
    for limit in (None, 2, 1):
        data = small_with_cadres(years=1, only=False)
        if limit is not None:
            data["pairing"]["max_policies_per_village"] = limit
        model = PairingModel(parse_scenario(data, source="test scenario"), rng=1)
        table = model.pairing.link_table()
        cadre_links[limit] = len(table[table.policy == CADRES])
    villages = small_with_cadres()["pairing"]["policies"][-1]["pairs"]
    assert cadre_links[2] >= cadre_links[None] - villages
    assert cadre_links[1] >= cadre_links[None] - villages
