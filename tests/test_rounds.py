"""Pairing rounds over time (sim/pairing/rounds.py, issue 14 point 5): newly weak villages targeted, ended pairs
replaced by rule, no village over-served across policies, churn's cost, and nothing changed when rounds are not asked for.

Everything runs small.yaml (40 villages, 5 policies) for one to three years.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_cli

from sim.errors import InputError
from sim.experiment import load_experiment
from sim.model import PairingModel
from sim.outcome_registry import OUTCOMES
from sim.pairing.links import ACTIVE, DISSOLVED, ENDED
from sim.pairing.registry import policy_types
from sim.pairing.rounds import served_by_policies
from sim.results import load_results
from sim.runner import run_model
from sim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "scenarios" / "small.yaml"
SMALL_POLICIES = 5
CITY_VILLAGE = 0  # small.yaml's 部门+村: four departments/communities with the neediest villages


def with_rounds(rounds: dict[str, Any] | None, years: int = 2, **overrides: Any) -> dict[str, Any]:
    """Overrides giving every small.yaml policy the same ``rounds`` block."""
    return {"horizon_years": years, **{f"pairing.policies.{i}.rounds": rounds for i in range(SMALL_POLICIES)}, **overrides}


def monthly(overrides: dict[str, Any], seed: int = 1) -> pd.DataFrame:
    return run_model(PairingModel(SMALL, rng=seed, overrides=overrides)).monthly


def model_at(month: int, overrides: dict[str, Any], seed: int = 1) -> PairingModel:
    model = PairingModel(SMALL, rng=seed, overrides=overrides)
    for _ in range(month):
        model.step()
    return model


def make_neediest(model: PairingModel, village: int) -> None:
    """Turn ``village`` into the county's neediest: a collective deep in loss for a year, a tenth of its households'
    incomes, no leadership."""
    state, households = model.village_state, model.households
    state.collective_history[:, village] = -1e6 / 12
    state.collective_annual[village] = -1e6
    state.leadership[village] = 0.0
    households.history[:, households.village == village] *= 0.1
    households.annual = households.history.sum(axis=0)


def make_strong(model: PairingModel, village: int) -> None:
    """Lift ``village`` out of weak status and need: a large collective income, full leadership."""
    state = model.village_state
    state.collective_history[:, village] = 1e7 / 12
    state.collective_annual[village] = 1e7
    state.leadership[village] = 1.0


def city_village_links(model: PairingModel) -> tuple[np.ndarray, np.ndarray]:
    links = model.pairing.links
    ours = links.policy == CITY_VILLAGE
    return np.flatnonzero(ours), links.village[ours & links.active]


def end_one_pair(model: PairingModel) -> int:
    """End the first active city-village pair as governance would (poor ratings); returns its village."""
    rows, _ = city_village_links(model)
    row = rows[model.pairing.links.status[rows] == ACTIVE][0]
    model.pairing.links.status[row] = ENDED
    model.pairing.close_links(np.array([row]), model.months_elapsed)
    return int(model.pairing.links.village[row])


def unserved_village(model: PairingModel) -> int:
    """The strongest village no policy serves (by collective income): far from weak before it is made so."""
    served = served_by_policies(model.pairing.links, len(model.village_state.leadership)) > 0
    income = np.where(served, -np.inf, model.village_state.collective_annual)
    return int(np.argmax(income))


@pytest.mark.parametrize("replace_ended", [True, False])
def test_a_round_pairs_a_newly_weak_village_in_an_ended_pairs_place_iff_replace_ended(replace_ended: bool) -> None:
    rounds = {"every_months": 12, "replace_ended": replace_ended, "ramp_up_months": 0}
    model = model_at(11, with_rounds(rounds))
    newly_weak = unserved_village(model)
    assert not model.pairing.county.weak()[newly_weak]
    make_strong(model, end_one_pair(model))  # its village needs no new pair: the place goes to the newly weak one
    make_neediest(model, newly_weak)
    _, before = city_village_links(model)
    model.step()  # month 12: the round
    _, after = city_village_links(model)
    if replace_ended:
        assert len(after) == len(before) + 1 == 4  # topped up to the policy's 4 pairs
        assert newly_weak in after  # the round targeted the village that became weak since the start
    else:
        assert len(after) == len(before) == 3  # the ended pair's place is lost
        assert newly_weak not in after


def test_without_rounds_an_ended_pair_is_never_replaced() -> None:
    model = model_at(11, {"horizon_years": 2})
    end_one_pair(model)
    rows_before, _ = city_village_links(model)
    for _ in range(13):
        model.step()
    rows_after, active = city_village_links(model)
    assert len(rows_after) == len(rows_before) == 4 and len(active) <= 3


def test_a_round_leaves_a_full_policy_alone() -> None:
    """Nothing ended or graduated: every policy still has its pairs, so a round forms nothing and draws nothing."""
    table = monthly(with_rounds({"every_months": 12, "ramp_up_months": 0}))
    start = table["branches_formed"].iloc[0]
    assert start == 13  # small.yaml's 4 + 2 + 3 + 2 + 2 branches
    assert table.loc[table["step"] == 12, "branches_formed"].item() == 0


def test_dissolving_each_round_forms_every_pair_anew_and_pays_for_it_again() -> None:
    rounds = {"every_months": 12, "dissolve_each_round": True, "setup_cost": 5000, "ramp_up_months": 0}
    model = PairingModel(SMALL, rng=1, overrides=with_rounds(rounds, years=1))
    result = run_model(model)
    table = result.monthly
    at_round = table.loc[table["step"] == 12]
    assert at_round["branches_formed"].item() == 13
    assert at_round["setup_cost"].item() == pytest.approx(13 * 5000 * model.trends.enterprise_wage_index, rel=0.2)
    assert at_round["setup_cost"].item() > 13 * 5000  # in this month's yuan: wages have risen since the start
    links = model.pairing.links
    assert (links.status == DISSOLVED).sum() == 17  # the start's 17 links (13 branches), dissolved at month 12
    assert (result.policies["links_dissolved"] > 0).all()


def test_setup_cost_is_part_of_donor_cost_and_changes_nothing_else() -> None:
    """Forming costs the donors: donor_cost rises by exactly the setup_cost column; no other outcome moves."""
    churn = {"every_months": 12, "dissolve_each_round": True, "ramp_up_months": 0}
    costly = monthly(with_rounds({**churn, "setup_cost": 8000}))
    free = monthly(with_rounds({**churn, "setup_cost": 0}))
    assert costly["setup_cost"].iloc[0] == pytest.approx(13 * 8000)
    assert costly["setup_cost"].sum() > costly["setup_cost"].iloc[0]  # paid again at the round
    assert (free["setup_cost"] == 0).all()
    np.testing.assert_allclose(costly["donor_cost"] - free["donor_cost"], costly["setup_cost"], rtol=1e-12, atol=1e-6)
    others = [column for column in costly.columns if column not in ("donor_cost", "setup_cost")]
    pd.testing.assert_frame_equal(costly[others], free[others], check_exact=True)


def test_new_links_ramp_up_so_they_deliver_less_in_their_first_months() -> None:
    slow = monthly(with_rounds({"every_months": None, "ramp_up_months": 6}, years=1))
    fast = monthly(with_rounds({"every_months": None, "ramp_up_months": 0}, years=1))
    first = slow["step"].between(1, 6)
    assert (slow.loc[first, "funds_sent"] < fast.loc[first, "funds_sent"]).all()
    assert slow.loc[first, "funds_sent"].sum() < 0.8 * fast.loc[first, "funds_sent"].sum()


def test_max_policies_per_village_holds_at_the_start_and_at_every_round() -> None:
    """small.yaml's neediest villages are served by several policies; with a limit of one, no village ever is."""
    unlimited = model_at(0, {"horizon_years": 1})
    assert served_by_policies(unlimited.pairing.links, 40).max() > 1  # the limit has something to stop
    rounds = {"every_months": 6, "dissolve_each_round": True, "ramp_up_months": 0}
    model = PairingModel(SMALL, rng=1, overrides=with_rounds(rounds, **{"pairing.max_policies_per_village": 1}))
    assert served_by_policies(model.pairing.links, 40).max() == 1
    formed = 0
    for _ in range(24):
        model.step()
        formed += model.pairing.this_month["branches_formed"]
        assert served_by_policies(model.pairing.links, 40).max() <= 1
    assert formed > 0  # the rounds did form pairs under the limit


def test_a_limit_that_never_binds_reproduces_the_run_without_it_bit_for_bit() -> None:
    pd.testing.assert_frame_equal(
        monthly({"horizon_years": 2, "pairing.max_policies_per_village": 99}), monthly({"horizon_years": 2}), check_exact=True
    )


def test_rounds_that_never_come_and_cost_nothing_reproduce_the_run_without_rounds_bit_for_bit() -> None:
    """The zero setting: no round within the horizon, no set-up cost, no ramp-up is today's programme."""
    inert = monthly(with_rounds({"every_months": 1200, "setup_cost": 0, "ramp_up_months": 0}))
    plain = monthly({"horizon_years": 2})
    others = [column for column in plain.columns if column != "branches_formed"]
    pd.testing.assert_frame_equal(inert[others], plain[others], check_exact=True)
    assert plain["branches_formed"].iloc[0] == inert["branches_formed"].iloc[0] == 13


def test_the_same_seed_gives_the_same_rounds() -> None:
    rounds = {"every_months": 6, "dissolve_each_round": True}
    overrides = with_rounds(rounds, **{"pairing.max_policies_per_village": 2})
    pd.testing.assert_frame_equal(monthly(overrides, seed=5), monthly(overrides, seed=5), check_exact=True)


EVERY_FORM = [  # one policy of each form issue 14 added, after small.yaml's five
    {"type": "merge", "name": "合建", "pairs": 2, "flows": {"funds": 83000, "trainees": 37}},
    {"type": "on_site_learning", "name": "跟学", "pairs": 2, "flows": {"study_days": 20}},
    {"type": "migrant_members", "name": "流动型", "pairs": 2, "flows": {"job_referrals": 5}},
    {
        "type": "cadre_household",
        "name": "干部结对",
        "pairs": 3,
        "settings": {"county_leaders": 2, "section_chiefs": 4, "deputy_section_chiefs": 6, "ordinary_cadres": 10},
        "flows": {"household_assets": 2000},
    },
]


def test_every_candidate_rule_is_asked_for_its_open_places_and_never_offers_a_barred_village(monkeypatch) -> None:
    """Under the limit and rounds a rule is handed the barred villages (``Targeting.barred``) and asked for exactly the
    places it may fill, so a rule that shares its donors over its villages (cadres by poor households) puts none of
    them on a village that would then be dropped."""
    asked: list[tuple[str, int, int]] = []
    for name, entry in list(policy_types().items()):

        def spy(county, policy, targeting, rule=entry.candidates):
            candidates = rule(county, policy, targeting)
            assert targeting.barred is not None
            assert not targeting.barred[candidates.recipients].any(), policy.type
            asked.append((policy.type, policy.pairs, int(targeting.barred.sum())))
            return candidates

        monkeypatch.setitem(policy_types(), name, replace(entry, candidates=spy))
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    data["pairing"]["policies"] += copy.deepcopy(EVERY_FORM)
    rounds = {"every_months": 6, "dissolve_each_round": True, "ramp_up_months": 0}
    overrides = {**with_rounds(rounds, years=1), "pairing.max_policies_per_village": 2}
    model = PairingModel(parse_scenario(data, source="test"), rng=1, overrides=overrides)
    for _ in range(12):
        model.step()
    pairs = {policy.type: policy.pairs for policy in model.spec.pairing.policies}
    assert {kind for kind, _, _ in asked} == set(pairs)  # every form was asked, at the start and at rounds
    assert any(barred for _, _, barred in asked)  # some were asked with villages barred
    assert all(places <= pairs[kind] for kind, places, _ in asked)  # never widened past the policy's pairs


def test_churn_outcomes_are_registered_pairing_outcomes() -> None:
    for key in ("branches_formed", "setup_cost"):
        assert OUTCOMES[key].pairing
        assert OUTCOMES[key].label


# --------------------------------------------------------------------------- bad input


def write_small(tmp_path: Path, policy_changes: dict[str, Any], **pairing_changes: Any) -> Path:
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["pairing"]["policies"][0].update(policy_changes)
    data["pairing"].update(pairing_changes)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("policy_changes", "pairing_changes", "field", "expected"),
    [
        ({"rounds": {"every_months": 0}}, {}, "pairing.policies[0].rounds.every_months", "positive number, got 0"),
        ({"rounds": {"setup_cost": -1}}, {}, "pairing.policies[0].rounds.setup_cost", "greater than or equal to 0"),
        ({"rounds": {"ramp_up_months": 1.5}}, {}, "pairing.policies[0].rounds.ramp_up_months", "integer, got 1.5"),
        ({"rounds": {"every_month": 12}}, {}, "pairing.policies[0].rounds.every_month", "did you mean 'every_months'"),
        ({}, {"max_policies_per_village": 0}, "pairing.max_policies_per_village", "positive number, got 0"),
    ],
)
def test_bad_rounds_are_one_line_errors_naming_the_field(
    tmp_path: Path, policy_changes: dict, pairing_changes: dict, field: str, expected: str
) -> None:
    path = write_small(tmp_path, policy_changes, **pairing_changes)
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert field in message and expected in message and str(path.name) in message and "\n" not in message


def test_rounds_on_named_pairs_are_refused_through_the_cli(tmp_path: Path) -> None:
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    villages = [f"{data['region']['name']}"]  # any name: the rounds check comes before the pairs are looked up
    data["pairing"]["policies"] = [
        {"type": "strong_weak", "explicit": [{"donor": villages[0], "village": "x"}], "rounds": {"every_months": 12}}
    ]
    path = tmp_path / "named.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, _, err = run_cli("run", path, "--years", 1, "--out", tmp_path / "out", "--quiet")
    assert code == 2
    assert "pairing.policies[0]" in err
    assert "rounds" in err and "explicit" in err and "Traceback" not in err


# --------------------------------------------------------------------------- the experiment


def test_the_rounds_experiment_loads_with_its_arms() -> None:
    experiment = load_experiment(ROOT / "experiments" / "rounds_vs_once.yaml")
    assert {"once", "yearly", "churn"} <= set(experiment.all_arms)


@pytest.mark.slow
def test_the_rounds_experiment_runs_end_to_end_on_a_short_horizon(tmp_path: Path) -> None:
    """Its four arms (with the baseline) for one year and one replication: every run finishes, the arms differ."""
    data = yaml.safe_load((ROOT / "experiments" / "rounds_vs_once.yaml").read_text(encoding="utf-8"))
    data.update(scenarios=[str(ROOT / "scenarios" / "shouguang_2009.yaml")], horizon_years=1, replications=1)
    path = tmp_path / "rounds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, _, err = run_cli("compare", path, "--workers", 1, "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    runs = load_results(tmp_path / "out")
    last = runs[runs["year"] == runs["year"].max()].groupby("arm")["donor_cost_total"].first()
    assert set(last.index) >= {"baseline", "once", "yearly", "churn"}
    assert last["churn"] > last["yearly"] >= last["once"] > last["baseline"] == 0  # churn forms and pays again at month 12
