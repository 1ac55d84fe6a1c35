"""Villagers' satisfaction with their pairs, from what households receive and the problems pairs solve (docs/ODD.md 7.25).

The source documents judge pairs by it: Guangyuan ends a pair "经整改后效果不理想、党员群众不满意的"
(still poor after rectification, or members and villagers dissatisfied), and 群众满意度低 is one of
the "两弱两低" that mark a village for pairing ([China 2022]). Surveys of poor households find that
satisfaction rises with the help a household itself gets and its income change, and with the
village's infrastructure and public services improved ([Ma 2019]). So a village's satisfaction has
two parts, both read from what pairing actually delivered, never from what it planned:

* **noticed income**: each household's broad pairing income (production assets' yield, market
  savings, aid paid to it, referred migrants' premium, but not what the better-off captured) remembered over
  ``satisfaction_memory_months``, against ``satisfaction_noticeable_share`` of its own income; a
  household holding a local job a pair found counts fully;
* **problems solved**: the problems pairs solved in the remembered months against those still open.

Satisfaction draws no random numbers and changes nothing in the county; governance reads it
(a village below ``dissatisfaction_cutoff`` rates its pairs poor, :func:`sim.pairing.governance.rate_quarterly`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sim.households import HouseholdArrays
from sim.pairing.config import Governance
from sim.pairing.county import County
from sim.pairing.flows import Moved, village_rows

HOUSEHOLD_INCOME_CHANNELS = ("aid_income", "market_income")
"""The per-household channels of :class:`sim.influence.PairingInfluence` that flows set each month in yuan a household
(aid paid to it, farm costs saved); ``remittance_premium`` (what a migrant branch's referred workers earn above the migrant
wage) is in migrant wages' worth and is turned into yuan apart; the production assets' yield (``support_income``) comes
from the pairing stocks instead. A flow that sets none of them is skipped."""


class Satisfaction:
    """Each village's satisfaction with its pairs in [0, 1] (NaN where it was never paired), updated once a month.

    What villagers remember is an exponentially weighted mean over ``satisfaction_memory_months`` of each household's
    monthly broad pairing income and of each village's problems solved by pairs a month. Both means are divided by the
    weight the memory has put on the months since the village was first paired (``1 - (1 - a)^n``), so a pair is judged
    on what it delivered so far, not on the months before it existed.
    """

    def __init__(self, villages: int, households: int) -> None:
        self.income = np.zeros(households)  # remembered broad pairing income of each household, yuan a month
        self.solved = np.zeros(villages)  # remembered problems pairs solved in each village, a month
        self.months = np.zeros(villages, dtype=np.int64)  # months since each village was first paired
        self.pair_jobs = np.empty(0, dtype=np.uint64)  # keys of the local jobs pairs found that are still held
        self.level = np.full(villages, np.nan)  # this month's satisfaction per village
        self._rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # paired villages, their households' rows, group

    def update(
        self,
        county: County,
        rules: Governance,
        paired: np.ndarray,
        income: np.ndarray,
        solved: np.ndarray,
        new_pair_jobs: np.ndarray,
    ) -> np.ndarray:
        """Remember this month and return each village's satisfaction (also kept in ``level``).

        Args:
            county: the county's households, open problems and local jobs.
            rules: the scenario's governance block (memory, noticeable share, problem weight).
            paired: villages ever paired (their memory starts counting months).
            income: each household's broad pairing income this month, yuan (captured funds left out).
            solved: problems pairs solved in each village this month.
            new_pair_jobs: keys of the local jobs pairs filled this month.
        """
        h, state = county.households, county.state
        memory = rules.satisfaction_memory_months
        self.months[paired] += 1
        villages = np.flatnonzero(paired)
        rows, group = self._rows_of(h, villages)  # only paired villages' households ever receive pairing income
        self.income[rows] += (income[rows] - self.income[rows]) / memory
        self.solved += (solved - self.solved) / memory
        weight = 1.0 - (1.0 - 1.0 / memory) ** self.months[villages]  # the memory's weight on the months since pairing

        recent_income = self.income[rows] / weight[group]
        own_income = np.maximum(h.annual[rows] / 12.0, 1.0)
        noticed = np.minimum(recent_income / (rules.satisfaction_noticeable_share * own_income), 1.0)
        noticed[self._holds_pair_job(county, new_pair_jobs)[rows]] = 1.0
        people = h.size[rows]
        noticed_share = np.bincount(group, weights=noticed * people, minlength=villages.size) / np.maximum(
            np.bincount(group, weights=people, minlength=villages.size), 1.0
        )

        remembered = memory * self.solved[villages] / weight
        asked = remembered + state.problems[villages]
        solved_share = np.where(asked > 0, remembered / np.where(asked > 0, asked, 1.0), 0.0)

        problem_weight = rules.satisfaction_problem_weight
        self.level = np.full(len(self.level), np.nan)
        self.level[villages] = (1.0 - problem_weight) * noticed_share + problem_weight * solved_share
        return self.level

    def _rows_of(self, h: HouseholdArrays, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The household rows of ``villages`` and their village's position (:func:`~sim.pairing.flows.village_rows`),
        kept until another village is paired."""
        if self._rows is None or not np.array_equal(self._rows[0], villages):
            self._rows = (villages, *village_rows(h, villages))
        return self._rows[1], self._rows[2]

    def _holds_pair_job(self, county: County, new_pair_jobs: np.ndarray) -> np.ndarray:
        """Which households hold a local job a pair found (a job's wage is far above any noticeable share of a farm
        income). Jobs that ended since last month are no longer listed, so only held ones are kept."""
        jobs = county.jobs
        holds = np.zeros(len(county.households), dtype=bool)
        if new_pair_jobs.size:
            self.pair_jobs = np.sort(np.concatenate([self.pair_jobs, new_pair_jobs.astype(np.uint64)]))
        if self.pair_jobs.size:
            # Membership by binary search in the few pair jobs, not a sort of every job in the county (np.isin).
            place = np.minimum(np.searchsorted(self.pair_jobs, jobs.key), self.pair_jobs.size - 1)
            held = self.pair_jobs[place] == jobs.key
            self.pair_jobs = np.sort(jobs.key[held])
            holds[jobs.household[held]] = True
        return holds

    def mean_over(self, villages: np.ndarray, population: np.ndarray) -> float:
        """Person-weighted mean satisfaction of ``villages`` (a boolean mask); NaN when none has people or a level."""
        chosen = villages & ~np.isnan(self.level)
        people = population[chosen].sum()
        return float((self.level[chosen] * population[chosen]).sum() / people) if people > 0 else float("nan")


def broad_income(moved: Iterable[Moved], support_income: np.ndarray, *, remitted_per_migrant: float) -> np.ndarray:
    """Each household's pairing income this month that reached it broadly, yuan: the flows' household channels, the
    referred migrants' premium at ``remitted_per_migrant`` yuan a migrant wage (as sim/economy.py remits it) and the
    production assets' yield (``support_income``), less what the better-off captured (``Moved.captured_income``).

    Capture is not a benefit villagers credit a pair with ("村里的变家里的"), so funds the better-off take raise
    nobody's satisfaction, theirs included.
    """
    total = np.array(support_income, dtype=float)  # a copy: the stocks' own array is not changed
    for flow in moved:
        parts = [flow.influence[channel] for channel in HOUSEHOLD_INCOME_CHANNELS if channel in flow.influence]
        if "remittance_premium" in flow.influence:
            parts.append(flow.influence["remittance_premium"] * remitted_per_migrant)
        if flow.captured_income is not None:
            parts.append(-flow.captured_income)
        for part in parts:
            total += part
    return np.maximum(total, 0.0)
