"""pairsim's built-in donor kinds, flows and policy types: the system the source documents describe (docs/SOURCES.md).

Each entry names the code that computes it; :mod:`sim.pairing.registry` loads
this module the first time a registry is read. The order of each list is the
registry's order: donor kinds' codes, the order flows move each month, and the
order policy types are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sim.pairing import cadre_households, flows, learning, merging, migrants, policies
from sim.pairing.config import Effects
from sim.pairing.county import County, Month
from sim.pairing.registry import (
    DonorKind,
    Flow,
    PolicyType,
    Prices,
    register_donor_kind,
    register_flow,
    register_policy_type,
)
from sim.scenario import Economy


def monthly_budget(organisations: Sequence[Any], county: County, month: Month, effects: Effects) -> np.ndarray:
    """Departments and communities give up to a twelfth of their yearly pairing budget a month."""
    return np.array([organisation.annual_budget for organisation in organisations]) / 12.0


def share_of_wage_bill(organisations: Sequence[Any], county: County, month: Month, effects: Effects) -> np.ndarray:
    """An enterprise gives up to a share of what it pays its rural workers (a profit proxy)."""
    return effects.enterprise_giving_share * month.enterprise_wage_bill


def share_of_collective_income(organisations: Sequence[Any], county: County, month: Month, effects: Effects) -> np.ndarray:
    """A strong village gives up to a share of its best month of collective income in the last year."""
    return effects.strong_village_giving_share * np.maximum(county.state.collective_history.max(axis=0), 0.0)


for kind in (
    DonorKind("department", "departments (部门)", "#1f77b4", monthly_budget),
    DonorKind("community", "urban communities (社区)", "#17becf", monthly_budget),
    DonorKind("enterprise", "enterprises (企业)", "#ff7f0e", share_of_wage_bill),
    DonorKind("village", "villages (村)", "#2ca02c", share_of_collective_income),
    DonorKind("cooperative", "cooperatives (合作社)", "#9467bd"),  # no money: they train, advise and solve problems
):
    register_donor_kind(kind)


def costs_what_it_moves(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """Funds cost the donors what they send, yuan for yuan (this month's yuan)."""
    return sent


def unit_cost(attribute: str) -> Callable[[np.ndarray, Effects, Economy, Prices], np.ndarray]:
    """A cost rule for a flow whose every unit costs ``effects.<attribute>`` start-year yuan, indexed by wages.

    Courses, cadres' pay, recruitment and experts' days are labour, so they cost more as the county's wages rise,
    like the incomes they raise.
    """

    def cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
        return sent * getattr(effects, attribute) * prices.wage_index

    return cost


def market_access_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """Organising joint buying and selling costs a share of what the households save (this month's yuan, so no index)."""
    return sent * effects.market_access_cost


def problem_cost(sent: np.ndarray, effects: Effects, economy: Economy, prices: Prices) -> np.ndarray:
    """Each problem solved costs what fixing it costs in its village this month, the price public works pay."""
    return sent * prices.problem_fix_cost


for flow in (
    Flow("funds", "funds sent (yuan)", "yuan", "funds_sent", flows.move_funds, costs_what_it_moves),
    Flow("trainees", "trained", "people", "trainees", flows.train, unit_cost("training_cost")),
    Flow("jobs", "hired", "workers hired", "jobs_created", flows.hire, unit_cost("hiring_cost")),
    Flow("cadre_months", "cadre-months", "cadre-months", "cadre_months", flows.second_cadres, unit_cost("cadre_monthly_cost")),
    Flow("technology", "techniques", "techniques", "technology", flows.transfer_technology, unit_cost("technology_cost")),
    Flow(
        "market_savings",
        "market savings (yuan)",
        "yuan",  # saved by the village's households
        "market_savings",
        flows.open_markets,
        market_access_cost,
        per_household=True,
    ),
    Flow("problems_solved", "problems solved", "problems", "problems_solved_by_pairs", flows.solve_problems, problem_cost),
):
    register_flow(flow)


for policy_type in (
    PolicyType(
        "city_village",
        "City-village (部门/社区+村)",
        "#1f77b4",
        ("department", "community"),
        policies.city_village,
        candidate_cells=policies.city_village_cells,
    ),
    PolicyType(
        "village_enterprise",
        "Village-enterprise (村企)",
        "#ff7f0e",
        ("enterprise", "cooperative"),
        policies.village_enterprise,
        candidate_cells=policies.village_enterprise_cells,
        secretary="donor",
        check=policies.untyped,
    ),
    PolicyType(
        "strong_weak",
        "Strong-weak villages (强村+弱村)",
        "#2ca02c",
        ("village",),
        policies.strong_weak,
        candidate_cells=policies.strong_weak_cells,
        secretary="donor",
        check=policies.untyped,
    ),
    PolicyType(
        "industry_chain",
        "Industry chain (产业链)",
        "#9467bd",
        ("cooperative",),
        policies.industry_chain,
        candidate_cells=policies.industry_chain_cells,
        grouping="donor",
        check=policies.untyped,
        compatible=policies.same_industry,
    ),
    PolicyType(
        "cadre_dispatch",
        "First secretaries (第一书记)",
        "#d62728",
        ("department",),
        policies.cadre_dispatch,
        candidate_cells=policies.cadre_dispatch_cells,
        rotation=policies.leadership_weakness,
        check=policies.needs_cadre_months,
    ),
    PolicyType(
        "mountain_sea",
        "Mountain-sea (山海协作)",
        "#8c564b",
        ("department", "enterprise"),
        policies.mountain_sea,
        candidate_cells=policies.mountain_sea_cells,
        check=policies.across_counties,
    ),
):
    register_policy_type(policy_type)


# The source documents' further forms (issue 14), each one module whose register() adds its entries. They are called
# here, after the built-ins and in this order, so donor kinds' codes, flows' turns and the output tables' columns are
# the same in every process, whichever module it imported first.
for form in (cadre_households, learning, merging, migrants):
    form.register()
