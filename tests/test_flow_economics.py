"""The pairing side's economics: every flow costs the donors something, stocks saturate and wear off, funds reach
households through their channels, market savings are capped, and support tapers before a pair graduates."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.audit import documented_ranges
from sim.economy import farm_inputs, village_farm_factor
from sim.influence import NEUTRAL
from sim.model import PairingModel
from sim.pairing.config import Effects, Flows
from sim.pairing.flows import FlowInputs, open_markets
from sim.pairing.links import GRADUATED
from sim.pairing.registry import Prices, flows
from sim.pairing.stocks import PairingStocks
from sim.scenario import Economy, load_scenario, parse_scenario

SMALL = Path(__file__).resolve().parent.parent / "scenarios" / "small.yaml"
SMALL_DATA: dict[str, Any] = yaml.safe_load(SMALL.read_text(encoding="utf-8"))


def build(data: dict[str, Any], seed: int = 1) -> PairingModel:
    return PairingModel(parse_scenario(data, source="test scenario"), rng=seed)


START_PRICES = Prices.start_year(Economy())
PAID_WORK = ("trainees", "jobs", "cadre_months", "technology")
BUILTIN_FLOWS = list(Flows.model_fields)
"""The built-in flows (the schema's fields); issue 14's forms test their own flows' costs in their own test modules."""
"""The flows whose unit costs are paid work (courses, recruitment, cadres' pay, experts' days): indexed by wages."""


@pytest.mark.parametrize("name", BUILTIN_FLOWS)
def test_every_builtin_flow_costs_the_donors_something(name):
    flow = flows()[name]
    assert flow.cost(np.array([1.0]), Effects(), Economy(), START_PRICES)[0] > 0.0  # one unit of it is not free
    assert flow.cost(np.array([0.0]), Effects(), Economy(), START_PRICES)[0] == 0.0


def test_paid_work_costs_more_as_wages_rise_and_yuan_flows_cost_what_they_move():
    """Unit costs are start-year yuan indexed by the county's wages; funds and market savings are this month's yuan."""
    dearer = Prices(wage_index=1.5, problem_fix_cost=START_PRICES.problem_fix_cost)
    sent = np.array([2.0, 3.0])
    for name in BUILTIN_FLOWS:
        flow = flows()[name]
        at_start, later = (flow.cost(sent, Effects(), Economy(), prices) for prices in (START_PRICES, dearer))
        np.testing.assert_allclose(later, at_start * (1.5 if name in PAID_WORK else 1.0))
    np.testing.assert_allclose(flows()["trainees"].cost(sent, Effects(), Economy(), dearer), sent * 300.0 * 1.5)


def test_a_problem_is_charged_at_its_village_s_price_this_month():
    prices = Prices(wage_index=1.0, problem_fix_cost=np.array([5_000.0, 12_345.0]))
    cost = flows()["problems_solved"].cost(np.array([2.0, 1.0]), Effects(), Economy(), prices)
    np.testing.assert_allclose(cost, [10_000.0, 12_345.0])


def test_technology_lift_saturates_below_its_cap_and_wears_off():
    effects = Effects()
    stocks = PairingStocks.empty(villages=2, households=1)
    for _month in range(12 * 30):  # 30 years of ten techniques a year in village 0, none in village 1
        stocks.wear(effects)
        stocks.add_techniques(np.array([10.0 / 12.0, 0.0]), effects)
    assert 0.0 < stocks.technology_lift[0] < effects.technology_cap
    assert stocks.technology_lift[1] == 0.0
    one = PairingStocks.empty(villages=1, households=1)
    one.add_techniques(np.array([1.0]), effects)
    assert one.technology_lift[0] == pytest.approx(effects.technology_gain, rel=0.05)  # the first technique adds ~the gain
    before = one.technology_lift[0]
    for _month in range(12):
        one.wear(effects)
    assert one.technology_lift[0] == pytest.approx(before * (1.0 - effects.technology_depreciation))


def test_production_assets_earn_their_return_and_depreciate():
    effects = Effects()
    stocks = PairingStocks.empty(villages=1, households=2)
    stocks.support_assets[:] = [12_000.0, 0.0]
    assert stocks.support_income(effects).tolist() == pytest.approx([12_000.0 * effects.support_return / 12.0, 0.0])
    for _month in range(12):
        stocks.wear(effects)
    assert stocks.support_assets[0] == pytest.approx(12_000.0 * (1.0 - effects.support_depreciation))


def test_funds_shares_above_one_are_refused():
    with pytest.raises(ValueError, match="funds_to_capital \\+ funds_to_households must be at most 1"):
        Effects(funds_to_capital=0.7, funds_to_households=0.4)


def _funds_to_households_only(**failure: float) -> dict[str, Any]:
    data = copy.deepcopy(SMALL_DATA)
    data["horizon_years"] = 1
    data["pairing"]["policies"] = [{"type": "city_village", "pairs": 4, "flows": {"funds": 120_000}}]
    data["pairing"]["effects"] = {"funds_to_capital": 0.0, "funds_to_households": 1.0}
    data["pairing"]["failure"] = {"leakage": 0.0, "elite_capture": 0.0, "dependency": 0.0, **failure}
    for group in data["departments"]:
        group["annual_budget"] = 10_000_000
    data["communities"]["annual_budget"] = 10_000_000
    return data


def test_the_ledger_s_cost_is_the_donor_cost_less_donor_villages_lost_output():
    """Every flow's cost is in the ledger, per link and month: with no burden on donor villages it is the donor cost."""
    data = copy.deepcopy(SMALL_DATA)
    data["horizon_years"] = 2
    costs = []
    for burden in (0.0, 0.01):
        data["pairing"]["failure"] = {**data["pairing"].get("failure", {}), "donor_cost": burden}
        model = build(data)
        while model.running:
            model.step()
        ledger = model.pairing.ledger.frame()
        assert set(ledger["flow"]) == set(BUILTIN_FLOWS)  # small.yaml moves every built-in flow
        assert (ledger["cost"] > 0).all()  # every row sent something, and nothing is free
        monthly = model.model_dataframe().set_index("step")["donor_cost"].iloc[1:]
        costs.append((ledger.groupby("step")["cost"].sum().reindex(monthly.index, fill_value=0.0), monthly))
    (ledger_cost, donor_cost), (ledger_burdened, donor_burdened) = costs
    np.testing.assert_allclose(ledger_cost, donor_cost, rtol=1e-12)
    lost_output = donor_burdened - ledger_burdened
    assert (lost_output >= -1e-6).all() and lost_output.sum() > 0  # strong villages' lost output is the rest


def test_a_pair_pays_for_a_problem_what_public_works_pay_in_the_same_month():
    """In a run: the yuan a pair's donor is charged per problem it solves (the ledger) equals the yuan public works
    spend per problem they fix in the same village and month (funds all to works, their fixes seen on the village),
    and both are above the start-year price once farm productivity has grown."""
    data = copy.deepcopy(SMALL_DATA)
    data["horizon_years"] = 2
    data["pairing"]["policies"] = [{"type": "city_village", "pairs": 4, "flows": {"funds": 24_000, "problems_solved": 6}}]
    data["pairing"]["effects"] = {"funds_to_capital": 0.0, "funds_to_households": 0.0}
    data["pairing"]["failure"] = {"leakage": 0.0, "elite_capture": 0.0}
    for group in data["departments"]:
        group["annual_budget"] = 10_000_000
    data["communities"]["annual_budget"] = 10_000_000
    works_prices: dict[tuple[int, int], float] = {}
    funds = flows()["funds"]

    def funds_seen(inputs: FlowInputs):
        before = inputs.county.state.problems.copy()
        moved = funds.move(inputs)
        fixed, left = before - inputs.county.state.problems, inputs.county.state.problems
        for village in np.flatnonzero((fixed > 0) & (left > 0)):  # works fixed some, not all: spent at the price
            works_prices[(inputs.month.step, int(village))] = moved.aid_received[village] / fixed[village]
        return moved

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(flows(), "funds", dataclasses.replace(funds, move=funds_seen))
        model = build(data)
        while model.running:
            model.step()
    ledger = model.pairing.ledger.frame()
    solved = ledger[ledger["flow"] == "problems_solved"].assign(village=lambda f: model.pairing.links.village[f["link"]])
    per_problem = solved.groupby(["step", "village"])[["cost", "sent"]].sum()
    pairs_prices = (per_problem["cost"] / per_problem["sent"]).to_dict()
    both = sorted(set(works_prices) & set(pairs_prices))
    assert len(both) >= 10
    np.testing.assert_allclose([pairs_prices[key] for key in both], [works_prices[key] for key in both], rtol=1e-9)
    late = [pairs_prices[key] for key in both if key[0] > 12]
    assert late and min(late) > 1.05 * model.spec.economy.problem_fix_cost  # this month's price, not the start year's


def test_production_support_goes_to_the_poorer_households_and_pays_them_income():
    model = build(_funds_to_households_only())
    model.step()
    pairing, h = model.pairing, model.county.households
    assets = pairing.stocks.support_assets
    received = pairing.ledger.frame()["received"].sum()
    assert assets.sum() == pytest.approx(received)  # every yuan received became a household's asset
    villages = np.unique(pairing.links.village)
    per_capita = h.annual / h.size
    for village in villages:
        rows = np.arange(h.start[village], h.stop[village])
        given = rows[assets[rows] > 0]
        assert 0 < given.size < rows.size
        assert per_capita[given].max() <= np.quantile(per_capita[rows], 0.5)  # the poorer households only
    np.testing.assert_allclose(model.influence.support_income, assets * Effects().support_return / 12.0)


def test_market_savings_go_to_farming_households_and_are_capped_by_their_farm_output():
    data = copy.deepcopy(SMALL_DATA)
    data["horizon_years"] = 1
    data["pairing"]["policies"] = [{"type": "industry_chain", "pairs": 2, "donors_per_pair": 3, "flows": {"market_savings": 1e6}}]
    model = build(data)
    model.step()
    moved = open_markets(
        model.pairing.flow_inputs(None, np.random.default_rng(0))
    )  # on the county as it stands now, so the test sees the state the flow saw
    h, state, params = model.county.households, model.county.state, model.county.economy
    saving = np.asarray(moved.influence["market_income"])
    farming = (h.workers - h.migrants - h.local_jobs) > 0
    household_inputs = farm_inputs(h, params)
    factor = village_farm_factor(state, params, NEUTRAL, h.village_sum(household_inputs))
    output = h.spread(state.productivity * factor) * household_inputs
    assert saving.sum() > 0
    assert (saving[~farming] == 0).all()
    assert (saving <= Effects().market_savings_cap * output + 1e-6).all()
    assert moved.totals["market_savings"] == pytest.approx(saving.sum())
    assert (moved.sent <= moved.full_plan + 1e-9).all()


def test_support_tapers_after_exit_before_the_pair_graduates():
    data = copy.deepcopy(SMALL_DATA)
    data["horizon_years"] = 8
    for group in data["departments"]:
        group["annual_budget"] = 1e9
    data["communities"]["annual_budget"] = 1e9
    data["pairing"]["policies"] = [{"type": "city_village", "pairs": 4, "flows": {"funds": 5_000_000}}]
    data["pairing"]["governance"] = {"exit_support_years": 1, "exit_taper_years": 2}
    model = build(data)
    links = model.pairing.links
    support_seen: list[np.ndarray] = []
    while model.running:
        model.step()
        support_seen.append(links.support.copy())
    assert (links.status == GRADUATED).all()
    history = np.array(support_seen)
    taper_months = 12 * 2
    for link_support in history.T:
        tapering = link_support[(link_support > 0) & (link_support < 1)]
        assert tapering.size == taper_months - 1  # every link passed through the whole taper, without a relapse
        np.testing.assert_allclose(np.diff(tapering), -1.0 / taper_months)  # falling strictly, a 24th each month
    sent = model.pairing.ledger.frame()
    funds = sent[sent["flow"] == "funds"].groupby("step")["sent"].sum()
    assert funds.iloc[-1] < funds.max()  # money tapered before the pair graduated


SHOUGUANG = SMALL.parent / "shouguang_2009.yaml"
FUNDS_SEEDS = (1, 2, 3, 4, 5, 6)
EFFECT_YEARS = (3, 5, 10)


def _paired_income_and_funds(seed: int, funds: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One Shouguang run: the villages' yearly table and the monthly outcomes; without funds, every policy plans none."""
    spec = load_scenario(SHOUGUANG)
    overrides: dict[str, Any] = (
        {} if funds else {f"pairing.policies.{i}.flows.funds": 0.0 for i in range(len(spec.pairing.policies))}
    )
    model = PairingModel(spec, rng=seed, overrides=overrides)
    while model.running:
        model.step()
    return model.village_dataframe(), model.model_dataframe()


def documented_yearly_return_range() -> tuple[float, float]:
    """The least and most a yuan of broad-based funds can earn households a year, by the channels' ranges in ODD §9.

    Collective projects pay households ``collective_return · (wage share + (1 − wage share) · dividend share)``;
    public works ``public_works_return``; production assets ``support_return``. The low end is the least of the
    channels at the low ends of their ranges, the high end the most at the high ends.
    """
    ranges = documented_ranges((Path(__file__).resolve().parent.parent / "docs" / "ODD.md").read_text(encoding="utf-8"))
    (r_lo, r_hi), (w_lo, w_hi), (d_lo, d_hi) = (
        ranges[f"economy.{name}"] for name in ("collective_return", "collective_wage_share", "dividend_share")
    )
    works, assets = ranges["economy.public_works_return"], ranges["pairing.effects.support_return"]
    collective = (r_lo * (w_lo + (1 - w_lo) * d_lo), r_hi * (w_hi + (1 - w_hi) * d_hi))
    return min(collective[0], works[0], assets[0]), max(collective[1], works[1], assets[1])


@pytest.mark.slow
def test_funds_raise_paired_village_income_at_a_documented_return():
    """Shouguang with and without funds (every policy's ``flows.funds`` set to 0), same seeds (common random numbers).

    What we measure (ODD 7.19): funds raise the paired villages' income at 3 and 5 years by more than two standard
    errors (about +0.28 % and +0.24 %), and per yuan: this year's income gain, less the captured funds paid out this
    year (a one-off transfer to the better-off), over the broad-based funds received so far, lies within the range
    of yearly returns the channels' documented ranges allow (:func:`documented_yearly_return_range`). By 10 years the
    effect is indistinguishable from zero (about +0.002 % with a standard error of 0.03 %: assets wear out, fixed
    problems would have been solved by the villages in time, villages that leave weak status graduate and lose their
    other flows, and fewer workers migrate), so at 10 years the test asserts only that funds do not significantly
    lower income, and that the yearly return has fallen: its two-standard-error interval lies below the 5-year
    return. Since the arms' draws were aligned (ODD section 4) that interval (about -0.017 +- 0.020) no longer
    reaches the documented range; the wider intervals before did.
    """
    low, high = documented_yearly_return_range()
    rows = []
    for seed in FUNDS_SEEDS:
        (villages, monthly), (villages_0, _) = _paired_income_and_funds(seed, True), _paired_income_and_funds(seed, False)
        start = int(villages["year"].min())
        # Steps 12k-11 ... 12k are labelled start + k - 1: the months whose incomes the village row of year start + k
        # reports. So for a row of year Y, .loc[Y - 1] is its 12 months of flows and .loc[: Y - 1] all flows up to its end.
        months_before_row = start + (monthly["step"] - 1) // 12
        received = (monthly["funds_sent"] - monthly["funds_lost"]).groupby(months_before_row).sum()
        captured = monthly["funds_captured"].groupby(months_before_row).sum()
        for years in EFFECT_YEARS:
            year = start + years
            paired = villages[(villages["year"] == year) & villages["paired"].astype(bool)].set_index("village")
            without = villages_0[villages_0["year"] == year].set_index("village").loc[paired.index]
            income, income_0 = (float((v["income_pc"] * v["population"]).sum()) for v in (paired, without))
            broad = float(received.loc[: year - 1].sum() - captured.loc[: year - 1].sum())
            rows.append(
                {
                    "years": years,
                    "effect": income / income_0 - 1.0,
                    "yearly_return": (income - income_0 - float(captured.loc[year - 1])) / broad,
                }
            )
    by_years = pd.DataFrame(rows).groupby("years")
    mean, se = by_years.mean(), by_years.std() / np.sqrt(len(FUNDS_SEEDS))
    early = [3, 5]
    assert (mean.loc[early, "effect"] > 2 * se.loc[early, "effect"]).all(), (mean, se)
    assert mean.loc[early, "yearly_return"].between(low, high).all(), (mean, (low, high))
    assert mean.loc[10, "effect"] > -2 * se.loc[10, "effect"], (mean, se)  # not significantly negative
    late_return, late_se = mean.loc[10, "yearly_return"], se.loc[10, "yearly_return"]
    assert late_return + 2 * late_se < mean.loc[5, "yearly_return"], (mean, se)  # the return fades
