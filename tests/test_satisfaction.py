"""Villagers' satisfaction with their pairs (sim/pairing/satisfaction.py, docs/ODD.md 7.25) and the governance rule that reads
it ("党员群众不满意的,一律终止合建共建", issue 14 point 6).

Satisfaction rises with the pairing income households notice and the problems pairs solve, never with funds the
better-off capture; it changes nothing in a run unless ``dissatisfaction_cutoff`` is above 0, when dissatisfied villages'
pairs are rated poor, rectified and then ended.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_cli

from sim import report
from sim.errors import InputError
from sim.model import PairingModel
from sim.outcome_registry import OUTCOMES, pairing_outcomes
from sim.pairing.config import Governance
from sim.pairing.flows import Moved
from sim.pairing.governance import Delivery, rate_quarterly
from sim.pairing.links import ENDED, GOOD, POOR, Links, LinkSpec
from sim.pairing.programme import PairingProgramme
from sim.pairing.satisfaction import Satisfaction, broad_income
from sim.report.figures import time_series_figure
from sim.runner import run_model
from sim.scenario import parse_scenario

SMALL = Path(__file__).resolve().parent.parent / "scenarios" / "small.yaml"
YEARS = 2


def monthly(seed: int = 1, years: int = YEARS, **overrides: Any) -> pd.DataFrame:
    """small.yaml's monthly table, ``years`` long, with dotted overrides."""
    return run_model(PairingModel(SMALL, rng=seed, overrides={"horizon_years": years, **overrides})).monthly


@pytest.fixture(scope="module")
def county():
    """small.yaml's county at the start (nothing in these tests changes it)."""
    return PairingModel(SMALL, rng=1, overrides={"horizon_years": 1}).county


def months_of(county, rules: Governance, months: int, income=None, solved=None, new_jobs=None) -> Satisfaction:
    """A Satisfaction fed the same month ``months`` times; every village counts as paired."""
    villages, households = len(county.villages), len(county.households)
    satisfaction = Satisfaction(villages, households)
    paired = np.ones(villages, dtype=bool)
    for month in range(months):
        satisfaction.update(
            county,
            rules,
            paired,
            np.zeros(households) if income is None else income,
            np.zeros(villages) if solved is None else solved,
            np.empty(0, dtype=np.uint64) if new_jobs is None or month else new_jobs,
        )
    return satisfaction


# --------------------------------------------------------------------------- what it is made of


def test_more_income_reaching_a_villages_households_raises_its_satisfaction(county):
    h, rules = county.households, Governance()
    village = 0
    rows = slice(h.start[village], h.stop[village])
    some, more = np.zeros(len(h)), np.zeros(len(h))
    some[rows] = 0.01 * h.annual[rows] / 12.0  # a fifth of the noticeable share
    more[rows] = 0.03 * h.annual[rows] / 12.0
    nothing = months_of(county, rules, 6).level
    less_level, more_level = months_of(county, rules, 6, some).level, months_of(county, rules, 6, more).level
    assert nothing[village] < less_level[village] < more_level[village] <= 1.0
    others = np.arange(len(nothing)) != village
    np.testing.assert_array_equal(less_level[others], nothing[others])  # only the village that received moved
    assert (nothing >= 0).all() and (more_level <= 1).all()


def test_problems_pairs_solve_raise_satisfaction_against_those_still_open(county):
    rules = Governance()
    solved = np.zeros(len(county.villages))
    solved[3] = 2.0
    level = months_of(county, rules, 12, solved=solved).level
    baseline = months_of(county, rules, 12).level
    assert level[3] > baseline[3]
    open_problems = county.state.problems[3]
    expected = rules.satisfaction_problem_weight * 24.0 / (24.0 + open_problems)  # 2 a month remembered over 12 months
    assert level[3] - baseline[3] == pytest.approx(expected)


def test_a_pair_is_judged_on_the_months_it_has_existed(county):
    """Steady income gives the same satisfaction after one month as after a year: the empty memory is not held against it."""
    h, rules = county.households, Governance()
    income = 0.02 * np.maximum(h.annual, 0.0) / 12.0
    np.testing.assert_allclose(months_of(county, rules, 1, income).level, months_of(county, rules, 12, income).level)


def test_a_job_a_pair_found_counts_fully_while_it_is_held(county):
    jobs, rules = county.jobs, Governance()
    village = int(county.households.village[jobs.household[0]])
    with_job = months_of(county, rules, 2, new_jobs=jobs.key[:1])
    assert with_job.level[village] > months_of(county, rules, 2).level[village]
    assert with_job.pair_jobs.tolist() == jobs.key[:1].tolist()  # still held, so still remembered


def test_captured_funds_are_no_benefit_to_anyone():
    aid = np.array([0.0, 0.0, 500.0, 700.0])  # what the funds flow pays the better-off: every yuan captured
    support = np.array([10.0, 20.0, 0.0, 0.0])
    captured_funds = Moved(np.zeros(1), {}, influence={"aid_income": aid}, captured_income=aid)
    broad_aid = Moved(np.zeros(1), {}, influence={"aid_income": aid, "market_income": 5.0})
    np.testing.assert_array_equal(broad_income([captured_funds], support, remitted_per_migrant=900.0), support)
    np.testing.assert_array_equal(broad_income([broad_aid], support, remitted_per_migrant=900.0), support + aid + 5.0)


def test_referred_migrants_premium_counts_as_the_yuan_it_remits_not_as_a_count_of_wages():
    """``remittance_premium`` is in migrant wages' worth (sim/economy.py remits it times a migrant's remittance), so
    satisfaction turns it into yuan the same way before comparing it with a household's income."""
    premium = Moved(np.zeros(1), {}, influence={"remittance_premium": np.array([0.0, 0.5, 2.0])})
    income = broad_income([premium], np.zeros(3), remitted_per_migrant=1_000.0)
    np.testing.assert_array_equal(income, [0.0, 500.0, 2_000.0])


@pytest.mark.slow
def test_more_capture_never_raises_satisfaction_and_more_funds_to_households_raise_it():
    base = monthly(years=3)["villager_satisfaction"]
    captured = monthly(years=3, **{"pairing.failure.elite_capture": 0.5})["villager_satisfaction"]
    # Households' production assets take what collective projects took; public works (problems fixed) keep their share.
    more_to_households = {"pairing.effects.funds_to_capital": 0.1, "pairing.effects.funds_to_households": 0.6}
    to_households = monthly(years=3, **more_to_households)["villager_satisfaction"]
    assert captured.mean() < base.mean()
    assert to_households.mean() > base.mean()


# --------------------------------------------------------------------------- governance


def two_links() -> tuple[Links, Delivery]:
    """Two links of one policy, to villages 0 and 1, started at step 0, each having delivered all of its plan."""
    links = Links()
    rows = links.add([LinkSpec(0, 0, "department", 0, 0), LinkSpec(0, 1, "department", 1, 1)], [{}, {}], step=0)
    delivery = Delivery()
    delivery.add_links(len(rows))
    return links, delivery


def rate_twice(cutoff: float) -> tuple[Links, list[np.ndarray], np.random.Generator]:
    links, delivery = two_links()
    rules = Governance(accountability=1.0, rating_noise=0.0, dissatisfaction_cutoff=cutoff)
    satisfaction = np.array([0.1, 0.9])
    rng = np.random.default_rng(5)
    ended = []
    for step in (3, 6):
        delivery.note(links, np.ones(len(links)), np.ones(len(links)))
        ended.append(rate_quarterly(links, delivery, rules, rng, step, satisfaction))
    return links, ended, rng


def test_a_dissatisfied_village_is_rectified_then_ended_only_when_the_cutoff_is_on():
    links, ended, _ = rate_twice(0.3)
    assert ended[0].size == 0 and ended[1].tolist() == [0]  # ordered to rectify, still dissatisfied: ended
    assert links.status.tolist() == [ENDED, 0] and links.rating.tolist() == [POOR, GOOD]
    off, ended_off, _ = rate_twice(0.0)
    assert [rows.size for rows in ended_off] == [0, 0] and off.rating.tolist() == [GOOD, GOOD]


def test_the_cutoff_draws_no_random_number():
    *_, on = rate_twice(0.3)
    *_, off = rate_twice(0.0)
    assert on.random() == off.random()


def test_the_cutoff_ends_pairs_in_a_run():
    base = monthly(years=3)
    strict = monthly(years=3, **{"pairing.governance.dissatisfaction_cutoff": 0.3})
    assert strict["ended_pairs"].iloc[-1] > base["ended_pairs"].iloc[-1]


# --------------------------------------------------------------------------- neutral, deterministic, reported


def test_satisfaction_changes_nothing_else_while_the_cutoff_is_off(monkeypatch):
    """Cutoff 0: other satisfaction settings, or no satisfaction at all, leave every other column bit for bit."""
    base = monthly()
    others = [column for column in base.columns if column != "villager_satisfaction"]
    tuned = monthly(
        **{
            "pairing.governance.satisfaction_memory_months": 3,
            "pairing.governance.satisfaction_noticeable_share": 0.5,
            "pairing.governance.satisfaction_problem_weight": 1.0,
        }
    )
    pd.testing.assert_frame_equal(tuned[others], base[others], check_exact=True)
    assert not tuned["villager_satisfaction"].equals(base["villager_satisfaction"])
    monkeypatch.setattr(PairingProgramme, "_update_satisfaction", lambda *_: None)
    pd.testing.assert_frame_equal(monthly()[others], base[others], check_exact=True)


def test_the_same_seed_gives_the_same_months_with_the_cutoff_on():
    strict = {"pairing.governance.dissatisfaction_cutoff": 0.3}
    pd.testing.assert_frame_equal(monthly(seed=3, **strict), monthly(seed=3, **strict), check_exact=True)


def test_the_outcome_is_in_the_monthly_table_and_undefined_without_pairs():
    satisfaction = monthly(years=1)["villager_satisfaction"]
    assert np.isnan(satisfaction.iloc[0])  # nothing delivered yet at the start
    assert satisfaction.iloc[1:].between(0.0, 1.0).all()
    alone = monthly(years=1, **{"pairing.policies": []})["villager_satisfaction"]
    assert alone.isna().all()  # a mean over no paired village is undefined, not 0


def test_the_outcome_is_registered_for_the_report(tmp_path):
    outcome = OUTCOMES["villager_satisfaction"]
    assert "villager_satisfaction" in pairing_outcomes()
    assert outcome.better == "higher" and outcome.unit == "index" and "群众满意度" in outcome.label
    folder = tmp_path / "run"
    code, _, err = run_cli("run", SMALL, "--years", "1", "--out", folder, "--quiet")
    assert code == 0, err
    figure = time_series_figure(report.load_report_input(folder), "villager_satisfaction")
    assert figure.layout.title.text == outcome.label and figure.layout.yaxis.title.text == outcome.axis


# --------------------------------------------------------------------------- bad values


def small_with(governance: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(yaml.safe_load(SMALL.read_text(encoding="utf-8")))
    data["pairing"]["governance"] = governance
    return data


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("dissatisfaction_cutoff", 1.5, "less than or equal to 1"),
        ("dissatisfaction_cutoff", -0.1, "greater than or equal to 0"),
        ("satisfaction_memory_months", 0, "positive"),
        ("satisfaction_noticeable_share", 0, "positive"),
        ("satisfaction_problem_weight", "half", "valid number"),
    ],
)
def test_bad_values_are_one_line_naming_file_and_field(field, value, expected):
    with pytest.raises(InputError) as error:
        parse_scenario(small_with({field: value}), source="bad.yaml")
    message = str(error.value)
    assert "bad.yaml" in message and f"pairing.governance.{field}" in message and expected in message, message
    assert len(message.strip().splitlines()) == 1


def test_pairsim_refuses_a_bad_cutoff_with_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(small_with({"dissatisfaction_cutoff": 2}), allow_unicode=True), encoding="utf-8")
    code, _, err = run_cli("validate", path)
    assert code == 2 and "pairing.governance.dissatisfaction_cutoff" in err and "Traceback" not in err
