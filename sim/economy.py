"""The rural economy's monthly submodels: trends, leadership, problems, the collective and incomes.

Each function updates whole arrays (all villages or all households at once).
The equations are written out in docs/ODD.md, section "Submodels"; the
parameters live in :class:`sim.scenario.Economy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.draws import binomial_quantile, poisson_quantile
from sim.households import INCOME_SOURCES, HouseholdArrays, power
from sim.households import monthly_factor as monthly
from sim.influence import NEUTRAL, PairingInfluence
from sim.scenario import Classification, Economy

if TYPE_CHECKING:
    import pandas as pd  # annotations only: validating a scenario imports this module, and pandas is slow to import


@dataclass
class Trends:
    """County-wide levels that follow background trends (nominal yuan)."""

    migrant_wage: float  # monthly wage of a migrant worker
    transfer_per_capita: float  # yuan a year per rural resident (subsidies)
    dibao_line: float  # yuan a year per person
    enterprise_wage_index: float = 1.0
    enterprise_jobs_index: float = 1.0

    @classmethod
    def start(cls, params: Economy) -> Trends:
        return cls(params.migrant_monthly_wage, params.transfer_per_capita, params.dibao_line)

    def advance(self, params: Economy) -> None:
        """One month of growth at the rates in force (a trend period's, once it has started: ``PairingModel``)."""
        self.migrant_wage *= monthly(params.migrant_wage_growth)
        self.transfer_per_capita *= monthly(params.transfer_growth)
        self.dibao_line *= monthly(params.transfer_growth)
        self.enterprise_wage_index *= monthly(params.enterprise_wage_growth)
        self.enterprise_jobs_index *= monthly(params.enterprise_job_growth)


PROJECT_WAIT_MONTHS = 12  # a new project fills the trailing 12-month collective income before the village may start another


@dataclass
class VillageState:
    """Per-village state as arrays indexed by village row."""

    leadership: np.ndarray  # [0, 1], quality of the village leadership (班子战斗力)
    tenure: np.ndarray  # months the current secretary has served
    productivity: np.ndarray  # farm output per unit of land^a * labour^(1-a), yuan a month
    problems: np.ndarray  # unsolved village problems (roads, water, disputes ...)
    capital: np.ndarray  # collective assets that earn a return, yuan
    debt: np.ndarray  # collective debt, yuan
    price_premium: np.ndarray  # farm-gate price gain from cooperative membership
    collective_history: np.ndarray  # (12, V) collective operating income of the last 12 months
    collective_annual: np.ndarray  # trailing 12-month collective income, yuan
    leader_pool_mean: float  # mean quality of a newly chosen secretary
    leader_pool_sd: float
    dividend_pool: np.ndarray | None = None  # this month's dividends to pay out, yuan
    wage_pool: np.ndarray | None = None  # this month's wages the collective's projects pay village workers, yuan
    start_productivity: np.ndarray | None = None  # productivity at calibration: the base of the problem cost's index
    months_since_project: np.ndarray | None = None  # months since the village last started a collective project

    @classmethod
    def start(cls, villages: pd.DataFrame, premium: np.ndarray, params: Economy, rng: np.random.Generator) -> VillageState:
        n = len(villages)
        leadership = villages["leadership"].to_numpy(float).copy()
        collective = villages["collective_income"].to_numpy(float)
        rate = collective_rate(leadership, params) * (1.0 - params.collective_wage_share)  # net of the wages it pays
        capital = np.where(rate > 0, collective / np.maximum(rate, 1e-9), 0.0)
        steady_problems = params.problem_arrival * (1.5 - leadership) / np.maximum(params.problem_solving * leadership, 1e-3)
        state = cls(
            start_productivity=np.ones(n),
            leadership=leadership,
            tenure=rng.integers(0, params.leadership_term_months, size=n),
            productivity=np.zeros(n),
            problems=rng.poisson(steady_problems).astype(float),
            capital=capital,
            debt=params.initial_debt_to_income * collective,
            price_premium=premium,
            collective_history=np.tile(collective / 12.0, (12, 1)),
            collective_annual=collective.copy(),
            leader_pool_mean=float(np.clip(leadership.mean() + steady_leadership_ageing(params), 0.05, 0.95)),
            leader_pool_sd=float(max(leadership.std(), 0.01)),
            months_since_project=np.full(n, PROJECT_WAIT_MONTHS, dtype=np.int64),
        )
        _, state.wage_pool, state.dividend_pool, _ = _collective_accounts(state, params, NEUTRAL)
        return state

    def effective_leadership(self, pairing: PairingInfluence) -> np.ndarray:
        """Leadership at work this month: the village's own plus any seconded cadre's lift."""
        return np.minimum(self.leadership + pairing.leadership_bonus, 1.0)

    def problem_fix_cost(self, params: Economy) -> np.ndarray:
        """Yuan that fixing one open problem costs now, per village: the start-year cost grown with its farm productivity.

        Output and the works that protect it grow together, so a problem keeps its real size as prices rise.
        """
        return params.problem_fix_cost * self.productivity / self.start_productivity

    def problem_loss(self, params: Economy) -> np.ndarray:
        """Yuan of farm output the village's open problems cost it this month, before the cap.

        An open problem is a public work not built: it costs the village the yearly return that work would earn,
        ``public_works_return`` times what fixing it costs.
        """
        return (params.public_works_return / 12.0) * self.problems * self.problem_fix_cost(params)

    def constraint(self, params: Economy, farm_output: np.ndarray) -> np.ndarray:
        """Share of farm output lost to open problems, given the village's farm output this month before the loss (yuan):
        :meth:`problem_loss`, up to ``max_problem_loss`` of its farm output."""
        return np.minimum(self.problem_loss(params) / np.maximum(farm_output, 1e-9), params.max_problem_loss)

    def weak(self, thresholds: Classification) -> np.ndarray:
        return self.collective_annual < thresholds.weak_collective_income

    def hollow(self, thresholds: Classification) -> np.ndarray:
        return self.collective_annual < thresholds.hollow_collective_income


def steady_leadership_ageing(params: Economy) -> float:
    """Leadership a secretary has lost to ageing, on average over the county's secretaries in steady state.

    Tenures are spread over a term, and a secretary stays another term with chance ``1 - leadership_replacement``,
    so the mean time since appointment is ``term / 2 + term * (1 - r) / r``. New secretaries are drawn this much
    better than the county's mean, so that the mean stays where the data put it instead of sliding for a decade.
    """
    term_years = params.leadership_term_months / 12.0
    r = params.leadership_replacement
    years_in_office = term_years / 2.0 + (term_years * (1.0 - r) / r if r > 0 else 0.0)
    return params.leadership_ageing * years_in_office


def collective_rate(leadership: np.ndarray, params: Economy) -> np.ndarray:
    """Yearly return on collective capital: better leadership runs collective assets better."""
    return np.maximum(params.collective_return * (1.0 + params.leadership_return_effect * (leadership - 0.5)), 0.0)


def grow_productivity(state: VillageState, params: Economy, pairing: PairingInfluence) -> None:
    """Background technical change and prices, faster where leadership (with any seconded cadre's) is stronger."""
    rate = params.farm_productivity_growth + params.leadership_growth_effect * (state.effective_leadership(pairing) - 0.5)
    state.productivity *= np.exp(np.log1p(np.maximum(rate, -0.5)) / 12.0)


def update_leadership(state: VillageState, home_share: np.ndarray, params: Economy, rng: np.random.Generator) -> int:
    """Secretaries age; at the end of each term some are replaced from the village's own talent.

    A new secretary's expected quality rises with the share of the village's
    able workers still at home (talent drain weakens leadership). Returns the
    number of villages whose secretary changed this month.
    """
    state.leadership = np.maximum(state.leadership - params.leadership_ageing / 12.0, 0.0)
    state.tenure += 1
    term_ends = state.tenure >= params.leadership_term_months
    replaced = term_ends & (rng.random(len(state.tenure)) < params.leadership_replacement)
    state.tenure[term_ends] = 0
    n = int(replaced.sum())
    if n:
        mean = state.leader_pool_mean + params.leadership_talent_effect * (home_share[replaced] - home_share.mean())
        draw = rng.normal(np.clip(mean, 0.02, 0.98), state.leader_pool_sd)
        state.leadership[replaced] = np.clip(draw, 0.0, 1.0)
    return n


def update_problems(state: VillageState, params: Economy, rng: np.random.Generator, pairing: PairingInfluence) -> int:
    """New problems arrive faster under weak leadership; the village solves a share of open ones.

    The share solved scales with leadership and the village's own effort (which
    aid dependency lowers). Returns the number solved.

    Arrivals are Poisson and solutions binomial, each drawn by inverse CDF from one uniform per village a month,
    so two arms stay in step even where pairing changes a village's leadership, effort or open problems (common
    random numbers; numpy's samplers use a number of uniforms that depends on their parameters).
    """
    leadership = state.effective_leadership(pairing)
    uniform = rng.random((2, leadership.size))
    arrivals = poisson_quantile(uniform[0], params.problem_arrival * (1.5 - leadership))
    solving = np.clip(params.problem_solving * leadership * pairing.own_effort, 0, 1)
    solved = binomial_quantile(uniform[1], state.problems.astype(np.int64), solving)
    state.problems += arrivals - solved
    return int(solved.sum())


def start_collective_projects(
    state: VillageState, params: Economy, thresholds: Classification, rng: np.random.Generator, pairing: PairingInfluence
) -> int:
    """Hollow villages start collective income through their own effort: leasing land and assets, shares, small firms.

    Each hollow village starts a project with chance ``collective_start_rate`` a year at leadership 0.5, in
    proportion to its leadership (with any seconded cadre's) and its own effort; a project adds the capital that
    earns ``collective_start_income`` a year net of wages at the reference return. So hollowness is not a trap:
    outside funds speed the exit, but are not the only way out. Returns the number of projects started.

    One uniform is drawn per village every month, hollow or not, so the stream stays in step between arms whose
    pairing changes how many villages are hollow (common random numbers). A village that started a project in
    the last 12 months waits: its trailing income still reads hollow only because the project is young.
    """
    state.months_since_project += 1
    draws = rng.random(state.leadership.size)
    eligible = state.hollow(thresholds) & (state.months_since_project >= PROJECT_WAIT_MONTHS)
    effort = np.broadcast_to(pairing.own_effort, state.leadership.shape)
    chance = -np.expm1(np.log1p(-params.collective_start_rate) / 12.0)  # the monthly chance at leadership 0.5
    chance = chance * 2.0 * state.effective_leadership(pairing) * effort
    starting = np.flatnonzero(eligible & (draws < chance))
    state.months_since_project[starting] = 0
    reference_rate = params.collective_return * (1.0 - params.collective_wage_share)
    if reference_rate > 0:
        state.capital[starting] += params.collective_start_income / reference_rate
    return int(starting.size)


def update_collective(state: VillageState, step: int, params: Economy, pairing: PairingInfluence) -> None:
    """Collective capital earns a return; debt costs interest; part of any surplus is paid out.

    Operating income = capital * rate(leadership) / 12, of which ``collective_wage_share``
    pays village workers (:attr:`VillageState.wage_pool`); the rest is the collective's
    own income, which classifies it weak or hollow. Its surplus after interest pays
    ``dividend_share`` to members, then repays debt on a schedule
    (``debt_repayment_rate`` of it a year), then is reinvested. A deficit is
    borrowed. Repaying on a schedule, not with every yuan retained, keeps
    the start from being a transient: debt falls at the same relative pace
    every year and capital grows from the first month.
    """
    income, state.wage_pool, dividends, retained = _collective_accounts(state, params, pairing)
    due = state.debt * (params.debt_repayment_rate / 12.0)
    repay = np.clip(retained, 0.0, due)
    state.debt += np.where(retained < 0, -retained, -repay)
    state.capital += np.maximum(retained - repay, 0.0)
    state.dividend_pool = dividends

    slot = step % 12
    state.collective_annual += income - state.collective_history[slot]
    state.collective_history[slot] = income


def _collective_accounts(
    state: VillageState, params: Economy, pairing: PairingInfluence
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This month's collective (net income, wages paid, dividends, retained surplus), all in yuan."""
    operating = state.capital * collective_rate(state.effective_leadership(pairing), params) * pairing.own_effort / 12.0
    wages = params.collective_wage_share * operating
    income = operating - wages
    surplus = income - state.debt * params.debt_interest / 12.0
    dividends = np.where(surplus > 0, params.dividend_share * surplus, 0.0)
    return income, wages, dividends, surplus - dividends


def farm_inputs(households: HouseholdArrays, params: Economy, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
    """Land^a * (skilled farm labour)^(1-a) per household (of ``rows``: a slice or indices; default all).

    A household with no one farming rents its land out for ``land_rent_share``
    of what one average worker would grow on it.
    """
    a = params.farm_land_elasticity
    h = households
    farmers = h.workers[rows] - h.migrants[rows]  # then in place: this runs every month over every household
    farmers -= h.local_jobs[rows]
    labour = np.maximum(farmers, 0, out=farmers) * h.skill[rows]
    idle = labour == 0
    labour_term = power(labour, 1.0 - a, out=labour)
    labour_term *= h.business[rows]  # a household business earns more from the same land and labour
    labour_term[idle] = params.land_rent_share
    labour_term *= h.land_to_the(a)[rows]
    return labour_term


def village_farm_factor(
    state: VillageState, params: Economy, pairing: PairingInfluence, village_inputs: np.ndarray
) -> np.ndarray:
    """What multiplies every household's farm inputs in a village.

    (1 - problem loss) * (1 + price premium) * (1 - the donor burden of helping others) * (1 + techniques pairs brought).
    The problem loss is in yuan, so it is sized against the village's output: ``village_inputs`` is the village's
    :func:`farm_inputs` summed.
    """
    factor = unconstrained_farm_factor(state, pairing)
    factor *= 1.0 - state.constraint(params, state.productivity * factor * village_inputs)
    return factor


def unconstrained_farm_factor(state: VillageState, pairing: PairingInfluence) -> np.ndarray:
    """The village farm factor before the problem loss: (1 + price premium) * (1 - donor burden) * (1 + technology lift)."""
    factor = (1.0 + state.price_premium) * (1.0 - pairing.donor_burden)
    factor *= 1.0 + pairing.technology_lift
    return factor


def compute_incomes(
    households: HouseholdArrays,
    state: VillageState,
    local_wages: np.ndarray,
    village_population: np.ndarray,
    trends: Trends,
    params: Economy,
    pairing: PairingInfluence,
) -> None:
    """This month's household income by source (yuan a month), written into ``households.income``.

    Village-level factors are combined before they are spread to households, so
    each source costs one gather over the ~300,000 rows.
    """
    # Sums are formed in place, in the order the formulas read: fewer arrays to write, the same numbers.
    size, income = households.size, households.income
    farm = farm_inputs(households, params)
    farm_per_input = state.productivity * village_farm_factor(state, params, pairing, households.village_sum(farm))
    farm *= households.spread(farm_per_input)
    income["farm"] = _plus(_plus(farm, pairing.market_income), pairing.support_income)
    income["wage"] = local_wages + collective_wages(households, state.wage_pool)
    remitted_per_migrant = trends.migrant_wage * params.remittance_share
    income["remittance"] = households.migrants * remitted_per_migrant
    if np.any(pairing.remittance_premium):  # referred migrants' jobs pay more (or less) than the migrant wage
        income["remittance"] += pairing.remittance_premium * remitted_per_migrant
    dividend = households.spread(state.dividend_pool / village_population)
    dividend *= size
    income["dividend"] = dividend
    base_transfer = (trends.transfer_per_capita / 12.0) * size
    market = income["farm"] + income["wage"]
    market += income["remittance"]
    market += income["dividend"]
    market += base_transfer
    shortfall = (trends.dibao_line / 12.0) * size
    shortfall -= market
    np.maximum(shortfall, 0.0, out=shortfall)
    shortfall *= households.dibao_covered
    households.dibao_topup = shortfall  # kept for who pays it (cadre-household enrolments' cost, docs/ODD.md 7.30)
    income["transfer"] = _plus(np.add(base_transfer, shortfall, out=base_transfer), pairing.aid_income)


def collective_wages(households: HouseholdArrays, wage_pool: np.ndarray) -> np.ndarray:
    """Each household's share of its village's collective wage bill: in proportion to its able members at home.

    Migrants are away; members at home (farming or in a local job) do the collective's part-time work.
    """
    at_home = (households.workers - households.migrants).astype(float)
    per_worker = wage_pool / np.maximum(households.village_sum(at_home), 1.0)
    at_home *= households.spread(per_worker)
    return at_home


def _plus(values: np.ndarray, extra: np.ndarray | float) -> np.ndarray:
    """``values + extra`` in place (a pairing channel: a number, or one value per household)."""
    values += extra
    return values


def calibrate_productivity(
    households: HouseholdArrays,
    state: VillageState,
    target_per_capita: np.ndarray,
    months_in_year: float,
    local_wages: np.ndarray,
    village_population: np.ndarray,
    trends: Trends,
    params: Economy,
) -> None:
    """Set each village's farm productivity so its start-year per-capita income hits the scenario's figure (before pairing).

    ``months_in_year`` is the year's income in units of this month's (12 if
    incomes were flat, less if they grew through the year). Farm income fills
    the gap between the target and the village's non-farm income, but is never
    less than ``min_farm_share`` of the target.
    """
    state.productivity = np.ones(len(target_per_capita))
    state.start_productivity = state.productivity.copy()  # the fix cost's index is 1 until productivity is set
    compute_incomes(households, state, local_wages, village_population, trends, params, NEUTRAL)
    target = target_per_capita * village_population / months_in_year
    non_farm = sum(households.village_sum(households.income[s]) for s in INCOME_SOURCES if s not in ("farm", "transfer"))
    non_farm += trends.transfer_per_capita / 12.0 * village_population
    farm_needed = np.maximum(target - non_farm, params.min_farm_share * target)
    # Farm output is max(A·G − loss, A·G·(1 − max_problem_loss)) with G the output per unit of productivity: rising in
    # A, so the smaller of the two productivities that reach the need is the one that does.
    per_productivity = households.village_sum(farm_inputs(households, params)) * unconstrained_farm_factor(state, NEUTRAL)
    per_productivity = np.maximum(per_productivity, 1e-9)
    loss = state.problem_loss(params)  # at the start-year fix cost
    uncapped = (farm_needed + loss) / per_productivity
    capped = farm_needed / (per_productivity * max(1.0 - params.max_problem_loss, 1e-9))
    state.productivity = np.minimum(uncapped, capped)
    state.start_productivity = state.productivity.copy()
    compute_incomes(households, state, local_wages, village_population, trends, params, NEUTRAL)


def home_earnings_per_worker(households: HouseholdArrays) -> np.ndarray:
    """Each village's farm income per farm worker (what a worker forgoes by leaving)."""
    workers = households.village_sum(households.farm_workers.astype(float))
    return households.village_sum(households.income["farm"]) / np.maximum(workers, 1.0)


def decay_skills(households: HouseholdArrays, params: Economy) -> None:
    """Skill above a household's untrained level depreciates (training wears off)."""
    households.skill += params.skill_depreciation * (households.skill_base - households.skill)
