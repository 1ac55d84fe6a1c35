"""Where rural workers work: local enterprise jobs, migration away, or the family farm.

Jobs are rows of two arrays (household, enterprise). Hiring, quitting and
migration are whole-array operations over all enterprises and households at
once, so a month costs the same whether the county has 10 or 1,000 employers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.draws import KeyedUniforms, binomial_quantile, lognormal
from sim.geometry import within
from sim.households import HouseholdArrays, power
from sim.scenario import Economy


@dataclass
class Catchment:
    """For each enterprise, the villages it hires from and how likely each is (by size and distance).

    Stored as one sorted array of cumulative weights, enterprise ``e``'s segment
    spanning ``(e, e + 1]``, so drawing villages for all enterprises is a single
    ``searchsorted``.
    """

    village: np.ndarray  # village of each catchment entry
    cumulative: np.ndarray  # e + cumulative share within enterprise e's segment

    @classmethod
    def build(
        cls,
        enterprise_xy: np.ndarray,
        village_xy: np.ndarray,
        village_households: np.ndarray,
        radius_km: float,
    ) -> Catchment:
        """Villages within ``radius_km`` of each enterprise, weighted by households and falling off with distance.

        Only nearby pairs are measured (:func:`sim.geometry.within`), so a province costs what its counties do.
        """
        near = within(enterprise_xy, village_xy, radius_km)
        villages, cumulative = [np.empty(0, dtype=np.int64)], [np.empty(0)]
        for e, (x, y) in enumerate(np.asarray(enterprise_xy, dtype=float).reshape(-1, 2)):
            inside, distance = near.of(e)
            if inside.size == 0:  # a remote enterprise still hires from its nearest village
                everywhere = np.hypot(village_xy[:, 0] - x, village_xy[:, 1] - y)
                inside = np.array([np.argmin(everywhere)])
                distance = everywhere[inside]
            nearest = distance.min()  # relative distances: no underflow for remote enterprises
            weight = village_households[inside] * np.exp(-(distance - nearest) / (radius_km / 2))
            share = np.cumsum(weight) / weight.sum()
            share[-1] = 1.0
            villages.append(inside)
            cumulative.append(e + share)
        return cls(np.concatenate(villages), np.concatenate(cumulative))

    def draw_villages(self, enterprise: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """One catchment village for each entry of ``enterprise``, chosen by a uniform in [0, 1) for each entry."""
        position = np.searchsorted(self.cumulative, enterprise + uniform, side="right")
        return self.village[np.minimum(position, len(self.village) - 1)]


SEPARATION, CANDIDATE, PAIRED_HIRE = 1, 2, 3
"""What a keyed uniform of the ``jobs`` stream is for: its first key part (:class:`~sim.draws.KeyedUniforms`)."""


@dataclass
class Jobs:
    """Filled local jobs: job ``j`` is held by a member of ``household[j]`` at ``enterprise[j]``.

    ``key[j]`` names the job for its monthly separation draw: the candidate it was filled from (month, enterprise,
    candidate slot), or the order of a paired enterprise's hires. A job that exists in two arms of a seed has the
    same key in both, so it ends in the same month in both, however many other jobs either arm has.
    """

    household: np.ndarray
    enterprise: np.ndarray
    key: np.ndarray | None = None
    paired_hires: int = 0  # jobs listed by :meth:`add` so far: the next one's key

    def __post_init__(self) -> None:
        if self.key is None:  # jobs listed by hand (tests): keys by position
            self.key = np.arange(len(self.household), dtype=np.uint64)

    @classmethod
    def empty(cls) -> Jobs:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64))

    def filled(self, n_enterprises: int) -> np.ndarray:
        return np.bincount(self.enterprise, minlength=n_enterprises)

    def per_household(self, n_households: int) -> np.ndarray:
        return np.bincount(self.household, minlength=n_households).astype(np.int32)

    def wages_per_household(self, monthly_wage: np.ndarray, n_households: int) -> np.ndarray:
        return np.bincount(self.household, weights=monthly_wage[self.enterprise], minlength=n_households)

    def separate(self, rate: float, households: HouseholdArrays, draws: KeyedUniforms, month: int) -> int:
        """Each job ends with probability ``rate`` this month (its uniform named by its key and the month).

        Returns how many ended.
        """
        keep = draws.uniforms(SEPARATION, month, self.key) >= rate
        ended = int((~keep).sum())
        if ended:
            np.subtract.at(households.local_jobs, self.household[~keep], 1)  # the few that ended, not a recount of all
            self.household, self.enterprise, self.key = self.household[keep], self.enterprise[keep], self.key[keep]
        return ended

    def hire(
        self,
        openings: np.ndarray,
        catchment: Catchment,
        households: HouseholdArrays,
        draws: KeyedUniforms,
        month: int,
        candidates_per_opening: int = 3,
    ) -> int:
        """Fill up to ``openings[e]`` jobs at each enterprise ``e`` with the most skilled farm workers found.

        Each enterprise looks at a few candidate households per opening, drawn
        from its catchment by village size and distance; a household hired by
        one enterprise this month is not hired by another. Returns jobs filled.

        Candidate ``c`` of enterprise ``e`` in ``month`` is drawn from uniforms named (month, e, c): an enterprise
        with more openings in one arm sees the same first candidates as in another, and then some more.
        """
        openings = np.asarray(openings, dtype=np.int64)
        if openings.sum() == 0:
            return 0
        per_enterprise = candidates_per_opening * openings
        enterprise = np.repeat(np.arange(len(openings)), per_enterprise)
        slot = np.arange(len(enterprise)) - np.repeat(np.cumsum(per_enterprise) - per_enterprise, per_enterprise)
        candidate = draws.keys(CANDIDATE, month, enterprise, slot)
        village = catchment.draw_villages(enterprise, _field(candidate, 0))
        count = households.stop[village] - households.start[village]
        household = households.start[village] + (_field(candidate, 1) * count).astype(np.int64)
        score = households.skill[household] * lognormal(_field(candidate, 2), _field(candidate, 3), 0.3)

        # Farm workers of the candidates only (households.farm_workers would work it out for every household).
        available = households.workers[household] - households.migrants[household] - households.local_jobs[household] > 0
        enterprise, household, score, candidate = (
            enterprise[available],
            household[available],
            score[available],
            candidate[available],
        )
        # A household is hired at most once a month: keep its best-scoring offer.
        best = best_offer_per_household(household, score, len(households))
        enterprise, household, score, candidate = enterprise[best], household[best], score[best], candidate[best]
        # Each enterprise takes its top candidates, up to its openings.
        order = lexsort_order(enterprise, -score)
        enterprise, household, candidate = enterprise[order], household[order], candidate[order]
        group_start = np.searchsorted(enterprise, enterprise, side="left")
        take = (np.arange(len(enterprise)) - group_start) < openings[enterprise]

        self.household = np.concatenate([self.household, household[take]])
        self.enterprise = np.concatenate([self.enterprise, enterprise[take]])
        self.key = np.concatenate([self.key, candidate[take]])
        households.local_jobs[household[take]] += 1
        return int(take.sum())

    def hire_in_village(
        self, enterprise: int, village: int, n: int, households: HouseholdArrays, rng: np.random.Generator
    ) -> np.ndarray:
        """Choose up to ``n`` farm workers of one village for ``enterprise`` (a paired enterprise's jobs for its village).

        They count as employed at once (``local_jobs``), so a second call sees them taken; the jobs themselves are
        listed by :meth:`add`, once for all of a month's calls. Returns the households chosen.
        """
        rows = np.arange(households.start[village], households.stop[village])
        farmers = households.workers[rows] - households.migrants[rows] - households.local_jobs[rows]
        rows = rows[farmers > 0]
        if rows.size == 0 or n <= 0:
            return np.empty(0, dtype=np.int64)
        chosen = rng.choice(rows, size=min(n, rows.size), replace=False).astype(np.int64)
        households.local_jobs[chosen] += 1
        return chosen

    def add(self, household: np.ndarray, enterprise: np.ndarray) -> None:
        """List jobs whose holders :meth:`hire_in_village` chose (one concatenation for many villages).

        They are keyed by their order among all such hires (a domain of keys of their own), so two arms with the
        same paired hires give them the same separation draws.
        """
        self.household = np.concatenate([self.household, household.astype(np.int64)])
        self.enterprise = np.concatenate([self.enterprise, enterprise.astype(np.int64)])
        order = np.arange(self.paired_hires, self.paired_hires + len(household), dtype=np.uint64)
        self.key = np.concatenate([self.key, KeyedUniforms(PAIRED_HIRE).keys(order)])
        self.paired_hires += len(household)


def _field(candidate: np.ndarray, field: int) -> np.ndarray:
    """Uniform number ``field`` of each candidate: its key (seeded by the stream already) hashed once more with ``field``."""
    return KeyedUniforms(field).uniforms(candidate)


def best_offer_per_household(household: np.ndarray, score: np.ndarray, n_households: int) -> np.ndarray:
    """Each household's best offer: the index of its highest score (the first such offer on a tie), by household.

    What sorting by (household, -score) and keeping each household's first row gives, without the sort: two passes
    over the offers and two over the households, which matters when a province hires two million workers at once.
    """
    top = np.full(n_households, -np.inf)
    np.maximum.at(top, household, score)
    candidates = np.flatnonzero(score == top[household])
    first = np.full(n_households, len(household))
    np.minimum.at(first, household[candidates], candidates)
    return first[first < len(household)]


def lexsort_order(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The order of ``np.lexsort((key, group))`` (by group, then key, ties kept in their order), in two stable sorts.

    Sorting by key and then, stably, by group gives the same order; the second sort is a radix sort when the group
    numbers fit in 16 bits (numpy sorts 16-bit integers stably that way), so it costs little more than sorting the keys.
    """
    by_key = np.argsort(key, kind="stable")
    groups = group[by_key]
    if len(groups) and groups.min() >= 0 and groups.max() <= np.iinfo(np.uint16).max:
        groups = groups.astype(np.uint16)
    return by_key[np.argsort(groups, kind="stable")]


def leaving_chance(
    households: HouseholdArrays,
    home_earnings_per_worker: np.ndarray,
    migrant_monthly_wage: float,
    params: Economy,
    talent_drain: float = 0.0,
    farm_workers: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Households with a farm worker who could leave, and each one's monthly chance per worker.

    The chance is ``max_rate * logistic(sensitivity * (gain - 1))``, where
    ``gain`` is the migrant's net wage over the village's farm earnings per
    worker, scaled by the household's relative skill to the power
    ``migration_skill_selectivity``: the poorest villages lose their most skilled
    workers fastest ("村子越穷,人才越外流"). Skill gained in training adds
    ``talent_drain`` times the gain (as a share of base skill) on top: trained
    workers are the likeliest to leave. ``farm_workers`` is
    ``households.farm_workers`` if the caller already has it.
    """
    net_away = migrant_monthly_wage * (1.0 - params.migrant_living_cost_share)
    gain = net_away / np.maximum(home_earnings_per_worker, 1.0)
    pull = params.migration_max_rate / (1.0 + np.exp(-params.migration_sensitivity * (gain - 1.0)))
    # Only households with someone who could move need a draw; this runs every month.
    if farm_workers is None:
        farm_workers = households.farm_workers
    can_leave = np.flatnonzero(farm_workers > 0)  # a boolean's nonzero is several times an integer's
    skill = households.skill[can_leave]
    selectivity = power(skill / households.skill.mean(), params.migration_skill_selectivity)
    if talent_drain:  # selectivity * (1 + talent_drain * trained), trained = max(skill / skill_base - 1, 0), in place
        trained = np.divide(skill, households.skill_base[can_leave], out=skill)
        trained -= 1.0
        np.maximum(trained, 0.0, out=trained)
        trained *= talent_drain
        trained += 1.0
        selectivity *= trained
    chance = pull.take(households.village[can_leave])
    chance *= selectivity
    return can_leave, np.minimum(chance, 1.0, out=chance)


def steady_job_fill(capacity: np.ndarray, params: Economy, months: int = 240) -> np.ndarray:
    """Jobs each enterprise has filled when separations and hiring balance (the rules of :class:`Jobs`, in expectation).

    Starting firms at this fill, rather than at an assumed share, means the first year's hiring is not a
    catch-up: each month ``job_separation_rate`` of the jobs end and ``ceil(vacancy_fill_rate * vacancies)`` are
    filled while capacity grows at ``enterprise_job_growth``. The expected map is iterated from full capacity,
    measured in this month's capacity (the rounding up makes small firms fuller than the rates alone say).
    """
    growth = math.exp(math.log1p(params.enterprise_job_growth) / 12.0)
    capacity = np.asarray(capacity, dtype=float)
    filled = capacity.copy()
    for _ in range(months):
        kept = (1.0 - params.job_separation_rate) * filled
        hired = np.ceil(params.vacancy_fill_rate * np.maximum(growth * capacity - kept, 0.0))
        filled = np.minimum(kept + hired, growth * capacity) / growth
    return np.floor(filled).astype(np.int64)


def steady_return_rate(households: HouseholdArrays, can_leave: np.ndarray, chance: np.ndarray) -> float:
    """The monthly return rate at which expected departures equal returns (a stable migrant share)."""
    expected_leaving = float(np.dot(households.farm_workers[can_leave], chance))
    migrants = float(households.migrants.sum())
    return min(expected_leaving / migrants, 1.0) if migrants else 0.0


def migrate(
    households: HouseholdArrays,
    home_earnings_per_worker: np.ndarray,
    migrant_monthly_wage: float,
    return_rate: float,
    params: Economy,
    rng: np.random.Generator,
    talent_drain: float = 0.0,
) -> tuple[int, int]:
    """Farm workers leave with :func:`leaving_chance`; each migrant returns with ``return_rate``.

    Every household gets two uniforms every month, one for its leavers and one for its returners, whether or not
    anyone can leave or return: the draws stay in step between arms that differ in who can (common random numbers).
    Returns (left, returned).
    """
    uniform = rng.random((2, len(households)))
    farm_workers = households.farm_workers
    can_leave, chance = leaving_chance(
        households, home_earnings_per_worker, migrant_monthly_wage, params, talent_drain, farm_workers
    )
    leaving = binomial_small_p(farm_workers[can_leave], chance, uniform[0].take(can_leave))
    returning = binomial_small_p(households.migrants, return_rate, uniform[1])  # none where no one is away
    # Few leave or return in a month: change only their households.
    left = np.flatnonzero(leaving > 0)
    back = np.flatnonzero(returning > 0)
    households.migrants[can_leave[left]] += leaving[left].astype(np.int32)
    households.migrants[back] -= returning[back].astype(np.int32)
    return int(leaving.sum()), int(returning.sum())


_BERNOULLI_MARGIN = 1e-9
"""How far below ``1 - n p`` a uniform must be for :func:`binomial_small_p` to skip ``(1 - p)^n`` (rounding is ~1e-16)."""


def binomial_small_p(n: np.ndarray, p: np.ndarray | float, u: np.ndarray) -> np.ndarray:
    """Binomial(n, p) draws by inverse CDF of the uniforms ``u`` (one per entry), fast when p is small.

    Exact: the count is the smallest k with P(X <= k) > u (:func:`sim.draws.binomial_quantile`). As
    ``P(X = 0) = (1 - p)^n >= 1 - n p`` (Bernoulli's inequality), a uniform below ``1 - n p`` means no success
    without taking a power: only the few others (about 3 % of households for the monthly migration chances) go
    through the quantile function.
    """
    n = np.asarray(n, dtype=np.int64)
    out = np.zeros(n.size, dtype=np.int64)
    # The margin is far above the rounding of either side, so no draw is decided differently by the shortcut.
    bound = n * p  # then 1 - n p - margin, in place
    np.subtract(1.0, bound, out=bound)
    bound -= _BERNOULLI_MARGIN
    maybe = np.flatnonzero(u >= bound)
    out[maybe] = binomial_quantile(u[maybe], n[maybe], np.broadcast_to(p, n.shape)[maybe])
    return out
