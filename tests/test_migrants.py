"""Migrant-member pairing (流动型, sim/pairing/migrants.py): job referrals push migration out, returnee ventures pull it
back; both cost their donors, draw nothing when unplanned and leave other runs as they were."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import economy
from sim.app import build_model_params
from sim.errors import InputError
from sim.influence import NEUTRAL, PairingInfluence
from sim.model import PairingModel
from sim.pairing import migrants
from sim.report import node_kinds
from sim.runner import run_model
from sim.scenario import load_scenario, parse_scenario
from tests.conftest import assert_only_costs_scale

ROOT = Path(__file__).resolve().parents[1]
SMALL = yaml.safe_load((ROOT / "scenarios" / "small.yaml").read_text(encoding="utf-8"))
YEARS = 3
POLICY = "流动型"


def scenario(tmp_path: Path, referrals: float = 0.0, ventures: float = 0.0, **settings: float) -> Path:
    """small.yaml over a few years with one migrant-member policy appended (after the others: their draws come first)."""
    spec = copy.deepcopy(SMALL)
    spec["horizon_years"] = YEARS
    policy = {"type": "migrant_members", "name": POLICY, "pairs": 6, "flows": {}}
    if referrals:
        policy["flows"]["job_referrals"] = referrals
    if ventures:
        policy["flows"]["returnee_ventures"] = ventures
    if settings:
        policy["settings"] = settings
    spec["pairing"]["policies"].append(policy)
    path = tmp_path / f"migrants_{referrals}_{ventures}_{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def run(path: Path | str, seed: int = 1, overrides: dict | None = None):
    model = PairingModel(path, rng=seed, overrides={"horizon_years": YEARS, **(overrides or {})})
    return model, run_model(model)


def paired_villages(model: PairingModel) -> np.ndarray:
    labels = np.array(model.pairing.policy_labels, dtype=object)
    links = model.pairing.links
    return np.unique(links.village[labels[links.policy] == POLICY])


def of_villages(model: PairingModel, values: np.ndarray, villages: np.ndarray) -> float:
    return float(model.households.village_sum(values)[villages].sum())


def test_more_referrals_send_more_workers_away_from_the_paired_villages(tmp_path):
    few_model, few = run(scenario(tmp_path, referrals=2))
    many_model, many = run(scenario(tmp_path, referrals=30))
    villages = paired_villages(many_model)
    assert np.array_equal(villages, paired_villages(few_model))  # the same pairs: only the plan differs
    assert many.monthly["job_referrals"].sum() > 5 * few.monthly["job_referrals"].sum() > 0
    away_many = of_villages(many_model, many_model.households.migrants, villages)
    away_few = of_villages(few_model, few_model.households.migrants, villages)
    assert away_many > away_few + 0.5 * (many.monthly["job_referrals"].sum() - few.monthly["job_referrals"].sum())


def test_more_ventures_bring_migrants_home_and_enlarge_their_households_operations(tmp_path):
    few_model, few = run(scenario(tmp_path, ventures=0.5))
    many_model, many = run(scenario(tmp_path, ventures=8))
    villages = paired_villages(many_model)
    assert many.monthly["returnee_ventures"].sum() > 5 * few.monthly["returnee_ventures"].sum()
    assert of_villages(many_model, many_model.households.migrants, villages) < of_villages(
        few_model, few_model.households.migrants, villages
    )
    assert of_villages(many_model, many_model.households.business, villages) > of_villages(
        few_model, few_model.households.business, villages
    )
    # Villages no migrant branch serves keep their households' operations: ventures go only to home villages.
    others = np.setdiff1d(np.arange(len(many_model.villages)), villages)
    assert of_villages(many_model, many_model.households.business, others) == pytest.approx(
        of_villages(few_model, few_model.households.business, others)
    )


def test_a_referral_premium_raises_the_referred_households_remittances(tmp_path):
    """Each referred worker still away remits as a migrant earning ``1 + premium`` migrant wages; others as before."""
    plain_model, _ = run(scenario(tmp_path, referrals=20))
    model, _ = run(scenario(tmp_path, referrals=20, referral_wage_premium=0.3))
    h = model.households
    referred = sum(branch.placed for branch in model.organisations["migrant_branch"])
    assert referred.sum() > 10 and (referred <= h.migrants + 1e-9).all()
    per_migrant = model.trends.migrant_wage * model.spec.economy.remittance_share
    assert np.allclose(h.income["remittance"], (h.migrants + 0.3 * referred) * per_migrant)
    plain = plain_model.households
    plain_per_migrant = plain.income["remittance"].sum() / plain.migrants.sum()
    assert h.income["remittance"].sum() / h.migrants.sum() > plain_per_migrant


def test_ledger_balances_and_every_referral_and_venture_costs_its_donors(tmp_path):
    _, result = run(scenario(tmp_path, referrals=20, ventures=3))
    ledger = result.ledger
    for flow, outcome in (("job_referrals", "job_referrals"), ("returnee_ventures", "returnee_ventures")):
        rows = ledger[ledger["flow"] == flow]
        assert len(rows) > 0
        assert np.allclose(rows["sent"], rows["lost"] + rows["received"])
        assert (rows["cost"] > 0).all()
        assert rows["sent"].sum() == pytest.approx(result.monthly[outcome].sum())  # the ledger books what moved
    referral_rows = ledger[ledger["flow"] == "job_referrals"]
    first_month = referral_rows[referral_rows["step"] == referral_rows["step"].min()]
    # Wages index the unit cost: the first month's cost is a little above the start-year price.
    ratio = first_month["cost"] / (first_month["sent"] * migrants.DEFAULTS.referral_cost)
    assert ((ratio >= 1.0) & (ratio < 1.05)).all()
    policies = result.policies.set_index("policy")
    assert policies.loc[POLICY, "job_referrals_sent"] > 0 and policies.loc[POLICY, "returnee_ventures_sent"] > 0
    assert (result.links.loc[result.links["policy"] == POLICY, "donor_kind"] == "migrant_branch").all()


def test_a_policy_s_unit_costs_change_its_ledger_cost_in_proportion_and_nothing_else(tmp_path):
    """Referral and venture costs are the policy's settings: other values scale each flow's cost by their ratio to the
    defaults and change no other number (the monthly table apart from ``donor_cost``, the other flows' ledger)."""
    _, plain = run(scenario(tmp_path, referrals=20, ventures=3))
    _, dear = run(scenario(tmp_path, referrals=20, ventures=3, referral_cost=500.0, venture_support_cost=25_000.0))
    ratios = {
        "job_referrals": 500.0 / migrants.DEFAULTS.referral_cost,
        "returnee_ventures": 25_000.0 / migrants.DEFAULTS.venture_support_cost,
    }
    assert_only_costs_scale(plain, dear, ratios)


def test_the_same_seed_gives_the_same_monthly_table(tmp_path):
    path = scenario(tmp_path, referrals=20, ventures=3, referral_wage_premium=0.1)
    pd.testing.assert_frame_equal(run(path)[1].monthly, run(path)[1].monthly)


def test_flows_planned_at_zero_change_nothing(tmp_path):
    """The two flows planned at 0 on another policy draw nothing and move nothing: small.yaml's run, bit for bit.

    Both files are written the same way: a YAML dump sorts keys, and the order of e.g. the industries changes the draws."""
    spec = copy.deepcopy(SMALL)
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    spec["pairing"]["policies"][1]["flows"].update({"job_referrals": 0, "returnee_ventures": 0})
    (tmp_path / "zero.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    pd.testing.assert_frame_equal(run(tmp_path / "zero.yaml")[1].monthly, run(tmp_path / "small.yaml")[1].monthly)


def test_the_neutral_premium_leaves_incomes_as_they_were():
    """The economy's hook: a premium of zeros gives the incomes no premium gives, to the last bit."""
    model = PairingModel(ROOT / "scenarios" / "small.yaml", rng=3, overrides={"horizon_years": 1})
    h, args = model.households, (model.village_state, model._local_wages(), model.village_population, model.trends)
    economy.compute_incomes(h, *args, model.spec.economy, NEUTRAL)
    before = {source: values.copy() for source, values in h.income.items()}
    economy.compute_incomes(h, *args, model.spec.economy, PairingInfluence(remittance_premium=np.zeros(len(h))))
    assert all(np.array_equal(before[source], h.income[source]) for source in before)


def test_branches_pair_with_the_villages_that_have_most_workers_away(tmp_path):
    model, _ = run(scenario(tmp_path, referrals=10, branches=2))
    branches = model.organisations["migrant_branch"]
    assert [branch.name for branch in branches] == [f"{POLICY} migrant branch 1", f"{POLICY} migrant branch 2"]
    h = model.households
    # Pairs are formed at the start, from the migrants then: rebuild that county to read them.
    start = PairingModel(model.spec, rng=1)
    away = start.households.village_sum(start.households.migrants.astype(float))
    assert away[paired_villages(model)].min() >= np.sort(away)[-6]
    assert len(h.start) == len(model.villages)


@pytest.mark.parametrize(
    ("settings", "flows", "expected"),
    [
        ({"referral_wage_premium": 2.0}, {"job_referrals": 5}, "settings.referral_wage_premium: must be less than or equal to 1"),
        ({"branchs": 2}, {"job_referrals": 5}, "settings.branchs: unknown setting of migrant_members; did you mean 'branches'?"),
        ({"venture_business_gain": -0.1}, {"returnee_ventures": 1}, "settings.venture_business_gain"),
        ({"referral_cost": 0}, {"job_referrals": 5}, "settings.referral_cost: must be greater than 0"),
        ({}, {}, "migrant_members needs flows.job_referrals > 0"),
    ],
)
def test_bad_settings_are_refused_in_one_line_naming_the_file_and_field(tmp_path, settings, flows, expected):
    spec = copy.deepcopy(SMALL)
    spec["pairing"]["policies"].append({"type": "migrant_members", "pairs": 3, "flows": flows, "settings": settings})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "bad.yaml" in message and "pairing.policies[5]" in message and expected in message
    assert len(message.splitlines()) == 1


def test_pairsim_validate_exits_2_on_a_bad_setting_without_a_traceback(tmp_path):
    spec = copy.deepcopy(SMALL)
    spec["pairing"]["policies"].append(
        {"type": "migrant_members", "pairs": 3, "flows": {"job_referrals": 5}, "settings": {"branches": 0}}
    )
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "validate", str(path)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 2
    assert "settings.branches" in done.stderr and "Traceback" not in done.stderr


def test_the_app_and_the_report_name_the_type_and_the_donor_kind_from_the_registry(tmp_path):
    spec = load_scenario(scenario(tmp_path, referrals=5))
    assert build_model_params(spec)["migrant_members"]["label"] == "Migrant-member pairing (流动型)"
    looks = node_kinds()["migrant_branch"]
    assert (looks.label, looks.colour) == ("migrant branches (流动党组织)", "#7f7f7f")


def two_unnamed_policies(premiums: tuple[float, float]) -> PairingModel:
    """small.yaml with two unnamed migrant-member policies (both labelled 'migrant_members'), one branch each."""
    spec = copy.deepcopy(SMALL)
    for premium in premiums:
        settings = {"branches": 1, "referral_wage_premium": premium}
        spec["pairing"]["policies"].append(
            {"type": "migrant_members", "pairs": 3, "flows": {"job_referrals": 5}, "settings": settings}
        )
    return PairingModel(parse_scenario(spec, source="test"), rng=1, overrides={"horizon_years": 1})


def test_two_unnamed_policies_keep_their_own_branches_and_premiums():
    """Branches belong to their policy, not its label: two policies of the same label neither share branches nor
    mix premiums."""
    model = two_unnamed_policies((0.5, 0.0))
    first, second = len(SMALL["pairing"]["policies"]), len(SMALL["pairing"]["policies"]) + 1
    links = model.pairing.links
    assert set(links.donor_index[links.policy == first].tolist()) == {0}  # the first policy's one branch
    assert set(links.donor_index[links.policy == second].tolist()) == {1}
    branches = model.organisations["migrant_branch"]
    branches[0].placed[0] = 1.0  # one worker placed by each policy's branch, in different households
    branches[1].placed[1] = 1.0
    inputs = SimpleNamespace(policies=model.spec.pairing.policies)
    premium = migrants._premium_per_household(inputs, branches)
    assert premium[0] == 0.5 and premium[1] == 0.0
