"""PairingModel: one county, one month per step.

Villages, enterprises, departments, communities, cooperatives and joint branches
are Mesa agents; rural households are arrays (see :mod:`sim.households`). A step
runs the county core's submodels (:mod:`sim.economy`, :mod:`sim.labour`) and the
pairing programme in a fixed order, then records the month. The model talks to
pairing through one door: it hands :class:`~sim.pairing.programme.PairingProgramme`
the county (:class:`~sim.pairing.county.County`) once and the month each month,
and passes the :class:`~sim.influence.PairingInfluence` it gets back to the core.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim import economy, labour
from sim.agents import Community, Cooperative, Department, Enterprise, Village
from sim.draws import KeyedUniforms
from sim.households import build_households, trailing_year_factor
from sim.influence import PairingInfluence
from sim.outcome_registry import OUTCOMES
from sim.outcomes import model_outcomes, village_table
from sim.pairing.county import County, Month
from sim.pairing.programme import PairingProgramme
from sim.pairing.registry import donor_kinds, policy_types
from sim.region import build_villages, region_town_centres, town_spread_km
from sim.scenario import Scenario, resolve_scenario
from sim.scenario.schema import TrendPeriod
from sim.urban import UrbanHouseholds

RANDOM_STREAMS = ("leadership", "problems", "migration", "jobs", "urban", "pairing", "collective")
"""The model's independent random streams after set-up (building the county uses ``model.rng``)."""


def _read_outcome(model: PairingModel, key: str) -> float:
    return model.outcomes[key]


class PairingModel(mesa.Model):
    """A county's villages, households, employers and urban side, stepped monthly.

    Args:
        scenario: a :class:`~sim.scenario.Scenario`, a path to a scenario YAML,
            or ``None`` for the small built-in default.
        rng: seed or generator for every random draw (Mesa's ``rng``).
        overrides: dotted-path parameter changes applied to the scenario.
        monthly_inequality: compute the Gini, Theil and median outcomes every
            month, not only at each year's reporting point
            (:data:`~sim.outcome_registry.INEQUALITY_KEYS`; about half of a month's work).

    The validated scenario is ``model.spec`` (Mesa reserves ``model.scenario``
    for its own scenario object); its pairing policies run in ``model.pairing``
    (branches, links, ledger, graph). Outcomes: ``model.datacollector`` (monthly,
    model level, as Mesa tables) and :meth:`village_dataframe` (yearly). The
    model keeps its own clock, :attr:`months_elapsed` (Mesa's ``steps`` counts
    the same, but Mesa 4 removes it: docs/MESA4.md).
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | None = None,
        rng: int | np.random.Generator | None = None,
        overrides: dict[str, Any] | None = None,
        monthly_inequality: bool = False,
    ) -> None:
        super().__init__(rng=rng)
        self.months_elapsed = 0
        self.monthly_inequality = monthly_inequality
        self.spec = resolve_scenario(scenario, overrides)
        params = self.spec.economy
        # The growth rates in force: the scenario's, swapped once for a trend period's at the month it starts.
        self.economy_in_force, self.urban_in_force = params, self.spec.urban
        self._trend_switches = {self.first_month_of(period.from_year): period for period in self.spec.trend_periods}

        self.village_frame = build_villages(self.spec, self.rng)
        self.households = build_households(self.village_frame, self.spec.households, params.dibao_coverage, self.rng)
        self.village_population = self.households.village_sum(self.households.size)
        self.village_workers = self.households.village_sum(self.households.workers.astype(float))  # workers never change
        self.trends = economy.Trends.start(params)
        self.urban = UrbanHouseholds.start(self.spec.urban, self.rng)

        self._create_villages()
        self._create_enterprises()
        self._create_public_bodies()
        premium = self._create_cooperatives()
        self.village_state = economy.VillageState.start(self.village_frame, premium, params, self.rng)

        self.jobs = labour.Jobs.empty()
        initial_openings = labour.steady_job_fill(self.enterprise_capacity(), params)
        setup_draws = KeyedUniforms.from_rng(self.rng)
        for round_ in range(3):  # a few rounds, as candidates may be scarce in small catchments
            openings = initial_openings - self.jobs.filled(len(initial_openings))
            self.jobs.hire(openings, self.catchment, self.households, setup_draws, round_)
        economy.calibrate_productivity(
            self.households,
            self.village_state,
            self.village_frame["income_per_capita"].to_numpy(float),
            trailing_year_factor(params.past_income_growth),
            self._local_wages(),
            self.village_population,
            self.trends,
            params,
        )
        self.households.start_history(params.past_income_growth)
        can_leave, chance = labour.leaving_chance(
            self.households, economy.home_earnings_per_worker(self.households), self.trends.migrant_wage, params
        )
        self.return_rate = (
            params.return_rate
            if params.return_rate is not None
            else labour.steady_return_rate(self.households, can_leave, chance)
        )

        # Each random process draws from its own stream (spawned from the model's seed), so a
        # change in one (a pairing policy hiring more workers) never shifts another process's
        # draws. Within a stream, the core's processes draw the same arrays every month whatever their inputs
        # (one uniform per village or household), or uniforms keyed by what they are for (the jobs' and hiring
        # candidates': self.job_draws), so two arms stay in step wherever pairing changes nothing (docs/ODD.md, 4).
        self.streams = dict(zip(RANDOM_STREAMS, self.rng.spawn(len(RANDOM_STREAMS)), strict=True))
        self.job_draws = KeyedUniforms.from_rng(self.streams["jobs"])
        self.organisations = self._organisations_by_kind()
        self.county = County(
            villages=self.village_frame,
            state=self.village_state,
            households=self.households,
            population=self.village_population,
            organisations=self.organisations,
            jobs=self.jobs,
            classification=self.spec.classification,
            region=self.spec.region,
            economy=params,
            source=self.spec.source,
        )
        self.pairing = PairingProgramme(self, self.county, self.spec.pairing, self.streams["pairing"])
        self.influence: PairingInfluence = self.pairing.establish()

        self.outcomes: dict[str, float] = {}
        self._village_tables: list[pd.DataFrame] = []
        columns = [*OUTCOMES, *(key for key in self.pairing.outcome_keys() if key not in OUTCOMES)]  # a new flow may add one
        self.datacollector = mesa.DataCollector(
            model_reporters={key: functools.partial(_read_outcome, key=key) for key in columns}
        )
        self._record()

    # ------------------------------------------------------------------ construction

    def _create_villages(self) -> None:
        frame = self.village_frame
        self.villages: list[Village] = [
            Village(self, i, row.name, row.town, row.industry, (row.x_km, row.y_km))
            for i, row in enumerate(frame.itertuples(index=False))
        ]

    def _create_enterprises(self) -> None:
        spec, region = self.spec.enterprises, self.spec.region
        towns = region.town_names
        centres = region_town_centres(region)
        n_generated = spec.count
        sectors = list(spec.sectors)
        town_index = [*self._random_towns(spec.county, n_generated)]
        sector = list(self.rng.choice(sectors, size=n_generated, p=[spec.sectors[s] for s in sectors])) if n_generated else []
        jobs = list(self.rng.lognormal(spec.jobs.mu, spec.jobs.sigma, size=n_generated))
        wage = list(self.rng.lognormal(spec.monthly_wage.mu, spec.monthly_wage.sigma, size=n_generated))
        names = [f"enterprise {i + 1}" for i in range(n_generated)]
        for listed in spec.listed:
            names.append(listed.name)
            if listed.town:
                town_index.append(towns.index(region.town_named(listed.town, listed.county)))
            else:
                town_index.append(int(self._random_towns(listed.county, None)))
            sector.append(listed.sector)
            jobs.append(listed.jobs)
            wage.append(listed.monthly_wage)
        spread = town_spread_km(region)[np.array(town_index, dtype=int)] / 6
        xy = centres[np.array(town_index, dtype=int)] + self.rng.normal(0.0, spread[:, None], size=(len(names), 2))
        self.enterprise_base_jobs = np.maximum(np.round(np.array(jobs, dtype=float)), 1.0)
        self.enterprise_base_wage = np.array(wage, dtype=float)
        self.enterprises: list[Enterprise] = [
            Enterprise(self, i, names[i], towns[town_index[i]], str(sector[i]), tuple(xy[i])) for i in range(len(names))
        ]
        self.catchment = labour.Catchment.build(
            xy.reshape(-1, 2),
            self.village_frame[["x_km", "y_km"]].to_numpy(float),
            self.village_frame["households"].to_numpy(float),
            spec.hire_radius_km,
        )

    def _random_towns(self, county: str | None, size: int | None) -> np.ndarray:
        """Towns drawn at random (indices into ``region.town_names``): of one county, or of the whole region (``None``)."""
        towns = self.spec.region.town_names
        if county is None:
            return self.rng.integers(0, len(towns), size=size)
        own = self.spec.region.county_towns()[county]
        return towns.index(own[0]) + self.rng.integers(0, len(own), size=size)  # a county's towns are consecutive

    def _create_public_bodies(self) -> None:
        """Departments and communities sit in their county's seat (the first county's, unless they name another)."""
        region = self.spec.region
        self.departments: list[Department] = []
        numbered: dict[str, int] = {}  # numbering runs on across groups of one type: names stay unique
        for group in self.spec.departments:
            seat = region.seat_of(group.county)
            for _ in range(group.count):
                numbered[group.type] = numbered.get(group.type, 0) + 1
                name = f"{group.type.replace('_', '-')} department {numbered[group.type]}"
                index = len(self.departments)
                self.departments.append(Department(self, index, name, seat, group.type, group.annual_budget, group.cadres))
        spec = self.spec.communities
        seat = region.seat_of(spec.county)
        self.communities: list[Community] = [
            Community(self, i, f"community {i + 1}", seat, spec.annual_budget, spec.volunteers) for i in range(spec.count)
        ]

    def _create_cooperatives(self) -> np.ndarray:
        """Cooperatives sit in towns with villages of their industry; members get a price premium."""
        frame = self.village_frame
        premium = np.zeros(len(frame))
        seats = region_town_centres(self.spec.region)
        self.cooperatives: list[Cooperative] = []
        placed: dict[str, int] = {}  # cooperatives of one industry placed so far, across groups
        numbered: dict[tuple[str, str], int] = {}  # and numbered on across groups: names stay unique
        for group in self.spec.cooperatives:
            villages_of_industry = frame.index[frame["industry"] == group.industry].to_numpy()
            towns = sorted(frame.loc[villages_of_industry, "town"].unique()) or self.spec.region.town_names[:1]
            for _ in range(group.count):
                key = (group.industry, group.kind)
                numbered[key] = numbered.get(key, 0) + 1
                town = towns[placed.get(group.industry, 0) % len(towns)]
                placed[group.industry] = placed.get(group.industry, 0) + 1
                coop = Cooperative(
                    self,
                    len(self.cooperatives),
                    f"{group.industry} {group.kind} {numbered[key]}",
                    town,
                    group.industry,
                    group.kind == "association",
                    group.price_premium,
                )
                coop.member_villages = villages_of_industry[frame.loc[villages_of_industry, "town"].to_numpy() == town]
                coop.xy = tuple(seats[self.spec.region.town_names.index(town)])
                premium[coop.member_villages] = np.maximum(premium[coop.member_villages], group.price_premium)
                self.cooperatives.append(coop)
        return premium

    # ------------------------------------------------------------------ time

    @property
    def year(self) -> int:
        """The year whose incomes the trailing 12-month figures describe.

        Step 0 is calibrated to the scenario's start-year figures, so step ``12 k``
        reports year ``start_year + k``.
        """
        return self.spec.start_year + self.months_elapsed // 12

    @property
    def month_of_year(self) -> int:
        """Months into :attr:`year` (0 at each year's reporting point)."""
        return self.months_elapsed % 12

    def first_month_of(self, year: int) -> int:
        """The step that simulates January of ``year``: the month after the step that reports ``year - 1``."""
        return 12 * (year - 1 - self.spec.start_year) + 1

    def _switch_trends(self, period: TrendPeriod) -> None:
        """Put a trend period's rates in force; the rates it leaves out stay as they were."""
        self.economy_in_force = self.economy_in_force.model_copy(update=period.economy_changes())
        self.urban_in_force = self.urban_in_force.model_copy(update=period.urban_changes())

    def _organisations_by_kind(self) -> dict[str, list]:
        """Every donor kind's organisations: the county core's own, then any a registered kind builds itself.

        A kind that builds its own organisations does so only when one of the scenario's policies can use it,
        and draws from a stream of its own, spawned after the model's streams, so registering one changes
        no other run (not even the agents' ids).
        """
        organisations: dict[str, list] = {
            "village": self.villages,
            "enterprise": self.enterprises,
            "department": self.departments,
            "community": self.communities,
            "cooperative": self.cooperatives,
        }
        in_use = {kind for policy in self.spec.pairing.policies for kind in policy_types()[policy.type].donor_pool}
        for kind in donor_kinds().values():
            if kind.build is not None:  # built only where a policy can use it, so a registered kind changes no other run
                organisations[kind.name] = kind.build(self, self.spec, self.rng.spawn(1)[0]) if kind.name in in_use else []
        return organisations

    def organisations_of(self, kind: str) -> list:
        """The organisations of one donor kind ("village", "enterprise", "department", ...), in index order."""
        return self.organisations[kind]

    def poverty_line(self) -> float:
        """The poverty line this month (yuan a year per person): the national line of 2010, indexed by rural prices.

        Indexed from 2010 both ways, so a scenario starting in 2005 or 2020 gets that year's line, not 2010's.
        """
        params = self.spec.economy
        years_since_2010 = self.spec.start_year + self.months_elapsed / 12 - 2010
        return params.poverty_line_2010 * (1.0 + params.rural_price_growth) ** years_since_2010

    def enterprise_capacity(self) -> np.ndarray:
        return np.floor(self.enterprise_base_jobs * self.trends.enterprise_jobs_index)

    def enterprise_wages(self) -> np.ndarray:
        return self.enterprise_base_wage * self.trends.enterprise_wage_index

    def enterprise_wage_bill(self) -> np.ndarray:
        """What each enterprise pays its rural workers a month, yuan."""
        return self.jobs.filled(len(self.enterprises)) * self.enterprise_wages()

    def _local_wages(self) -> np.ndarray:
        return self.jobs.wages_per_household(self.enterprise_wages(), len(self.households))

    def step(self) -> None:
        """One month: trends, leadership, problems, migration, pairing, jobs, the collective, incomes, then record."""
        self.months_elapsed += 1
        if self.months_elapsed in self._trend_switches:
            self._switch_trends(self._trend_switches[self.months_elapsed])
        step, params, streams, h, state = (
            self.months_elapsed,
            self.economy_in_force,
            self.streams,
            self.households,
            self.village_state,
        )
        self.trends.advance(params)
        economy.grow_productivity(state, params, self.influence)  # last month's cadres still count
        home_share = 1.0 - h.village_sum(h.migrants.astype(float)) / np.maximum(self.village_workers, 1.0)
        economy.update_leadership(state, home_share, params, streams["leadership"])
        economy.update_problems(state, params, streams["problems"], self.influence)

        # Workers compare last month's farm earnings at home with wages away.
        home_earnings = economy.home_earnings_per_worker(h)
        talent_drain = self.influence.talent_drain
        labour.migrate(h, home_earnings, self.trends.migrant_wage, self.return_rate, params, streams["migration"], talent_drain)
        month = Month(
            step,
            self.enterprise_capacity(),
            self.enterprise_wage_bill(),
            self.trends.enterprise_wage_index,
            self.trends.migrant_wage * params.remittance_share,
        )
        self.influence = self.pairing.step(month)
        self.jobs.separate(params.job_separation_rate, h, self.job_draws, step)
        vacancies = np.maximum(self.enterprise_capacity() - self.jobs.filled(len(self.enterprises)), 0)
        openings = np.ceil(vacancies * params.vacancy_fill_rate).astype(np.int64)
        self.jobs.hire(openings, self.catchment, h, self.job_draws, step)

        economy.start_collective_projects(state, params, self.spec.classification, streams["collective"], self.influence)
        economy.update_collective(state, step, params, self.influence)
        economy.compute_incomes(h, state, self._local_wages(), self.village_population, self.trends, params, self.influence)
        economy.decay_skills(h, params)
        h.record_month(step)
        self.urban.advance(step, self.urban_in_force, streams["urban"])

        self._record()
        if step >= self.spec.months:
            self.running = False

    def _record(self) -> None:
        h, state, thresholds = self.households, self.village_state, self.spec.classification
        self.outcomes = model_outcomes(
            h,
            self.urban,
            state,
            thresholds,
            year=self.year,
            month_of_year=self.month_of_year,
            poverty_line=self.poverty_line(),
            pairing={**self.pairing.this_month, **self.pairing.paired_incomes()},  # read after this month's incomes
            previous=self.outcomes,
            monthly_inequality=self.monthly_inequality,
        )
        self.datacollector.collect(self)
        if self.month_of_year == 0:
            paired = self.pairing.ever_paired
            self._village_tables.append(village_table(h, state, self.village_frame, thresholds, self.year, paired))

    # ------------------------------------------------------------------ results

    def model_dataframe(self) -> pd.DataFrame:
        """Monthly model-level outcomes, one row per month from the start (step 0)."""
        frame = self.datacollector.get_model_vars_dataframe()
        frame.insert(0, "step", range(len(frame)))
        return frame.reset_index(drop=True)

    def village_dataframe(self) -> pd.DataFrame:
        """One row per village and year: the start (step 0) and every 12 months after."""
        return pd.concat(self._village_tables, ignore_index=True)
