"""How pairs are run, judged and ended: effort, quarterly ratings, rectification, termination, exit.

Effort fades each month unless a pair is monitored (formalism, "进与不进、进多进少
一个样"). Each quarter every active pair is rated good / average / poor on a
noisy view of what it delivered against its plan (Guangyuan's
"每季度按好、一般、较差三个类别开展评估"). A monitored poor rating orders
rectification — effort restored until a deadline — and repeated poor ratings end
the pair ("一律终止合建共建"); so, when the scenario sets a cutoff, does villagers'
dissatisfaction (:mod:`sim.pairing.satisfaction`). Support continues a set time after a village
leaves weak status (Xunwu's "不脱钩"), then tapers off before the pair graduates.
"""

from __future__ import annotations

import numpy as np

from sim.pairing.config import FailureModes, Governance
from sim.pairing.links import AVERAGE, ENDED, GOOD, GRADUATED, POOR, Links

GOOD_CUTOFF = 0.8
"""Observed delivery (share of plan) at or above which a pair is rated good."""
POOR_CUTOFF = 0.5
"""Observed delivery below which a pair is rated poor."""
MONITORING_RESTORES = 0.5
"""Share of lost effort that a monitored rating restores (attention from above)."""


class Delivery:
    """Each link's delivery since its last rating, as a running mean of monthly shares of plan (1 = all planned)."""

    def __init__(self) -> None:
        self._sum = np.zeros(0)
        self._count = np.zeros(0)

    def add_links(self, n: int) -> None:
        self._sum = np.concatenate([self._sum, np.zeros(n)])
        self._count = np.concatenate([self._count, np.zeros(n)])

    def note(self, links: Links, sent: np.ndarray, full_plan: np.ndarray) -> None:
        """Add one flow's delivery this month, as a share of ``full_plan`` (this month's plan at full effort)."""
        has_plan = (full_plan > 0) & links.active
        self._sum[has_plan] += sent[has_plan] / full_plan[has_plan]
        self._count[has_plan] += 1

    def share(self, rows: np.ndarray) -> np.ndarray:
        """Share of plan delivered by each link since its last rating (1 where nothing was planned)."""
        count = self._count[rows]
        return np.where(count > 0, self._sum[rows] / np.where(count > 0, count, 1.0), 1.0)

    def reset(self, rows: np.ndarray) -> None:
        self._sum[rows] = 0.0
        self._count[rows] = 0.0


def decay_effort(links: Links, failure: FailureModes, rng: np.random.Generator, step: int) -> None:
    """Formalism: unmonitored effort fades each month, except for pairs under rectification.

    Short horizons: each month a link's key person (a posted cadre, the contact
    in the department) may leave; the successor starts at half the effort.
    """
    fading = links.active & (links.rectify_until < step)
    links.effort[fading] *= 1.0 - failure.formalism
    leaving = links.active & (rng.random(len(links)) < failure.short_horizons)
    links.effort[leaving] *= 0.5


def rate_quarterly(
    links: Links,
    delivery: Delivery,
    rules: Governance,
    rng: np.random.Generator,
    step: int,
    satisfaction: np.ndarray | None = None,
) -> np.ndarray:
    """Rate pairs whose quarter ends this month; act on monitored ratings. Returns the rows of the links ended.

    ``satisfaction`` is each village's satisfaction with its pairs (:mod:`sim.pairing.satisfaction`): with a
    ``dissatisfaction_cutoff`` above 0, a pair whose village is below it is rated poor whatever it delivered
    ("党员群众不满意的,一律终止合建共建"), so a monitored one is ordered to rectify and, still dissatisfied, ended.
    """
    due = np.flatnonzero(links.active & (step > links.start_step) & ((step - links.start_step) % 3 == 0))
    if due.size == 0:
        return due
    observed = delivery.share(due) + rules.rating_noise * (GOOD_CUTOFF - POOR_CUTOFF) * rng.standard_normal(due.size)
    rating = np.where(observed >= GOOD_CUTOFF, GOOD, np.where(observed < POOR_CUTOFF, POOR, AVERAGE))
    if satisfaction is not None and rules.dissatisfaction_cutoff > 0:
        rating[satisfaction[links.village[due]] < rules.dissatisfaction_cutoff] = POOR
    links.rating[due] = rating
    delivery.reset(due)

    monitored = rng.random(due.size) < rules.accountability
    watched = due[monitored]
    links.effort[watched] += MONITORING_RESTORES * (1.0 - links.effort[watched])
    poor = watched[links.rating[watched] == POOR]
    links.poor_streak[poor] += 1
    links.poor_streak[watched[links.rating[watched] != POOR]] = 0
    links.effort[poor] = 1.0
    links.rectify_until[poor] = step + rules.rectification_months
    ending = poor[links.poor_streak[poor] >= rules.poor_ratings_to_end]
    links.status[ending] = ENDED
    return ending


def graduate(links: Links, weak_now: np.ndarray, targets_weak: np.ndarray, rules: Governance, step: int) -> np.ndarray:
    """Pairs whose village left weak status keep helping, then taper off and graduate; returns the rows that graduate.

    Support stays whole for ``exit_support_years`` after the village leaves weak
    status (不脱钩), then falls linearly to nothing over ``exit_taper_years``
    (``links.support``, which scales every flow's plan); a village that falls back
    into weak status gets whole support again. Only links whose village was weak
    when paired (``targets_weak``) graduate; ``weak_now`` is per village.
    """
    weak = weak_now[links.village]
    watched = links.active & targets_weak
    links.exit_step[watched & weak] = -1
    links.exit_step[watched & ~weak & (links.exit_step < 0)] = step
    out = watched & (links.exit_step >= 0)
    months_out = np.where(out, step - links.exit_step, 0)
    whole, taper = 12 * rules.exit_support_years, 12 * rules.exit_taper_years
    links.support[watched] = np.clip(1.0 - (months_out[watched] - whole) / max(taper, 1), 0.0, 1.0)
    done = np.flatnonzero(out & (months_out >= whole + taper))
    links.status[done] = GRADUATED
    return done
