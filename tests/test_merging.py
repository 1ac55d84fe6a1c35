"""Merged branches (合建, sim/pairing/merging.py): compatible pairs only, the leadership pull, failure and its cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import app
from sim.cli import main
from sim.errors import InputError
from sim.experiment import load_experiment
from sim.model import PairingModel
from sim.pairing import merging
from sim.pairing.county import Month
from sim.pairing.links import ACTIVE, REVERTED
from sim.pairing.registry import policy_types
from sim.results import load_results
from sim.scenario import DEFAULT_SCENARIO
from sim.scenario.loading import load_scenario, resolve_scenario

REPO = DEFAULT_SCENARIO.parents[1]
FLOWS = {"funds": 83000, "trainees": 37}  # Shouguang's strong-weak plan ([Shouguang 2010], scenarios/shouguang_2009.yaml)


def merge_policy(pairs: int = 3, **settings: float) -> dict:
    return {"type": "merge", "name": "合建", "pairs": pairs, "flows": FLOWS, "settings": settings}


def run(policies: list[dict], years: int = 2, seed: int = 1) -> PairingModel:
    """small.yaml with only ``policies``, run for ``years``."""
    model = PairingModel(resolve_scenario(None, {"pairing.policies": policies, "horizon_years": years}), rng=seed)
    while model.running:
        model.step()
    return model


def merged_leadership(model: PairingModel) -> float:
    """Mean leadership now of the villages the merge policy paired."""
    return float(model.village_state.leadership[np.unique(model.pairing.links.village)].mean())


def test_every_formed_merger_is_between_adjacent_compatible_villages():
    settings = merging.MergeSettings(radius_km=6.0, max_leadership_gap=0.1)
    model = PairingModel(
        resolve_scenario(None, {"pairing.policies": [merge_policy(4, **settings.model_dump())], "horizon_years": 1}), rng=3
    )
    links, county = model.pairing.links, model.pairing.county
    assert len(links) == 4
    xy = county.village_xy()
    distance = np.hypot(*(xy[links.donor_index] - xy[links.village]).T)
    leadership = county.state.leadership  # as the pairs were formed: nothing has moved yet
    assert (distance <= settings.radius_km).all()
    assert (np.abs(leadership[links.donor_index] - leadership[links.village]) <= settings.max_leadership_gap).all()
    assert not county.weak()[links.donor_index].any()
    assert len(set(links.donor_index.tolist())) == len(links)  # one strong village per merged branch
    names = {county.organisations["village"][d].name for d in links.donor_index}
    assert {branch.secretary_from for branch in model.pairing.branches} == names  # the strong side leads


def test_too_few_compatible_neighbours_is_one_clear_error():
    with pytest.raises(InputError, match=r"pairing\.policies\[0\]\.pairs: 20 pairs requested but only \d+ can be formed"):
        PairingModel(resolve_scenario(None, {"pairing.policies": [merge_policy(20, radius_km=0.5)]}), rng=1)


def test_a_faster_pull_raises_the_merged_villages_leadership_more():
    slow = run([merge_policy(leadership_convergence=0.0, failure_rate=0.0)])
    fast = run([merge_policy(leadership_convergence=1.0, failure_rate=0.0)])
    assert np.array_equal(slow.pairing.links.village, fast.pairing.links.village)  # the same mergers
    assert merged_leadership(fast) > merged_leadership(slow) + 0.02


def test_failed_mergers_revert_and_their_split_is_charged_once():
    model = run([merge_policy(failure_rate=1.0, reversion_cost=20_000)], years=1)
    links = model.pairing.links
    assert (links.status == REVERTED).all()  # a yearly rate of 1 splits every merger in the first month
    summary = model.pairing.policy_summary().iloc[0]
    assert summary["links_reverted"] == 3 and summary["links_active"] == 0
    ledger = model.pairing.ledger.frame()
    splits = ledger[ledger["flow"] == merging.FLOW]
    assert splits["step"].tolist() == [1, 1, 1]  # then nothing: no upkeep for a split merger
    assert (splits["cost"] >= 20_000).all() and (splits["cost"] < 21_000).all()  # start-year yuan at month 1's wages
    assert all(branch.closed_step == 1 for branch in model.pairing.branches)


def test_no_failure_rate_no_reversions():
    model = run([merge_policy(failure_rate=0.0)], years=3)
    assert not (model.pairing.links.status == REVERTED).any()


def test_merger_ledger_balances_and_every_yuan_moved_is_paid_for():
    model = run([merge_policy(failure_rate=0.2)], years=3)
    ledger = model.pairing.ledger.frame()
    assert np.allclose(ledger["sent"], ledger["lost"] + ledger["received"])
    merger = ledger[ledger["flow"] == merging.FLOW]
    assert len(merger) > 0 and (merger["cost"] > 0).all()
    assert np.allclose(merger["cost"], merger["sent"])
    monthly = model.model_dataframe()
    assert monthly[merging.OUTCOME].sum() == pytest.approx(merger["sent"].sum())
    assert monthly[merging.OUTCOME].iloc[0] == 0.0


def test_same_seed_same_monthly_table():
    first, second = run([merge_policy(failure_rate=0.2)]), run([merge_policy(failure_rate=0.2)])
    pd.testing.assert_frame_equal(first.model_dataframe(), second.model_dataframe())


def test_a_merger_with_no_pull_upkeep_or_failure_is_co_building_bit_for_bit():
    """The same named pairs as a merge policy with every setting of the form at zero and as strong-weak co-building."""
    formed = run([merge_policy(3)], years=1).pairing.link_table()
    explicit = [{"donor": donor, "village": village} for donor, village in zip(formed["donor"], formed["village"], strict=True)]
    zero = {"leadership_convergence": 0.0, "monthly_cost": 0.0, "failure_rate": 0.0}
    merged = run([{"type": "merge", "explicit": explicit, "flows": FLOWS, "settings": zero}], years=3)
    cobuilt = run([{"type": "strong_weak", "explicit": explicit, "flows": FLOWS}], years=3)
    pd.testing.assert_frame_equal(merged.model_dataframe(), cobuilt.model_dataframe())


def test_without_a_merger_the_flow_draws_nothing_and_moves_nothing():
    model = PairingModel(resolve_scenario(None, {"horizon_years": 1}), rng=1)  # small.yaml's five built-in policies
    programme = model.pairing
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    month = Month(1, model.enterprise_capacity(), model.enterprise_wage_bill(), 1.0)
    inputs = programme.flow_inputs(month, rng)
    leadership = programme.county.state.leadership.copy()
    moved = merging.run_mergers(inputs)
    assert rng.bit_generator.state == before
    assert not moved.sent.any() and moved.totals == {merging.OUTCOME: 0.0}
    assert np.array_equal(programme.county.state.leadership, leadership)
    assert (programme.links.status == ACTIVE).all()


def write_small(tmp_path, policy: dict):
    data = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    data["pairing"] = {"policies": [policy]}
    path = tmp_path / "merge.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (merge_policy(max_leadership_gap=1.5), "settings.max_leadership_gap: must be less than or equal to 1, got 1.5"),
        (merge_policy(radius=3.0), "settings.radius: unknown setting of merge; did you mean 'radius_km'?"),
        (merge_policy(radius_km=0.0), "settings.radius_km: must be greater than 0, got 0.0"),
        (merge_policy(failure_rate=-0.1), "settings.failure_rate: must be greater than or equal to 0"),
        ({**merge_policy(), "donors_per_pair": 2}, "donors_per_pair must be 1, got 2"),
        ({**merge_policy(), "flows": {"merger": 12000}}, "flows.merger is not planned"),
        ({"type": "strong_weak", "pairs": 2, "flows": {"merger": 12000}}, "flows.merger: moves only along merge pairs"),
    ],
)
def test_bad_settings_are_one_line_naming_file_and_field(tmp_path, policy, expected):
    path = write_small(tmp_path, policy)
    with pytest.raises(InputError) as error:
        load_scenario(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: pairing.policies[0]") and expected in message


def test_pairsim_run_refuses_bad_settings_with_exit_2(tmp_path, capsys):
    path = write_small(tmp_path, merge_policy(leadership_convergence=2.0))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert not out and "Traceback" not in err and "settings.leadership_convergence" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_app_lists_the_merge_type_by_its_registry_label():
    label = policy_types()[merging.MERGE].label
    assert label == "Merged branches (合建)"
    scenario = resolve_scenario(None, {"pairing.policies": [merge_policy()]})
    assert app.build_model_params(scenario)[merging.MERGE]["label"] == label
    model = run([merge_policy()], years=1)
    legend = {text.get_text() for text in app.draw_pairing_network(model).axes[0].get_legend().get_texts()}
    assert f"branches: {app.legend_label(label)}" in legend


def test_the_merge_vs_cobuild_experiment_switches_only_the_type():
    experiment = load_experiment(REPO / "experiments" / "merge_vs_cobuild.yaml")
    assert set(experiment.arms) == {"cobuild", "merge"} and experiment.baseline
    assert experiment.arms["merge"].policies == experiment.arms["cobuild"].policies
    assert experiment.arms["merge"].overrides == {"pairing.policies.0.type": "merge"}


@pytest.mark.slow
def test_the_merge_vs_cobuild_experiment_runs(tmp_path, capsys):
    path = REPO / "experiments" / "merge_vs_cobuild.yaml"
    code = main(["compare", str(path), "--replications", "2", "--workers", "1", "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    runs = load_results(tmp_path / "out")
    assert set(runs["arm"]) == {"baseline", "cobuild", "merge"} and runs["run_id"].nunique() == 6
