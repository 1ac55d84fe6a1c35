"""How pairs are run, judged and ended: effort, quarterly ratings, rectification, termination, exit.

Effort fades each month unless a pair is monitored (formalism, "进与不进、进多进少
一个样"). Each quarter every active pair is rated good / average / poor on a
noisy view of what it delivered against its plan (Guangyuan's
"每季度按好、一般、较差三个类别开展评估"). A monitored poor rating orders
rectification — effort restored until a deadline — and repeated poor ratings end
the pair ("一律终止合建共建"). Support continues a set time after a village
leaves weak status (Xunwu's "不脱钩"), then the pair graduates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.pairing.links import AVERAGE, ENDED, GOOD, GRADUATED, POOR

if TYPE_CHECKING:
    from sim.model import PairingModel

GOOD_CUTOFF = 0.8
"""Observed delivery (share of plan) at or above which a pair is rated good."""
POOR_CUTOFF = 0.5
"""Observed delivery below which a pair is rated poor."""
MONITORING_RESTORES = 0.5
"""Share of lost effort that a monitored rating restores (attention from above)."""


def decay_effort(model: PairingModel, step: int) -> None:
    """Formalism: unmonitored effort fades each month, except for pairs under rectification.

    Short horizons: each month a link's key person (a posted cadre, the contact
    in the department) may leave; the successor starts at half the effort.
    """
    links, failure = model.pairing.links, model.spec.pairing.failure
    fading = links.active & (links.rectify_until < step)
    links.effort[fading] *= 1.0 - failure.formalism
    leaving = links.active & (model.pairing.rng.random(len(links)) < failure.short_horizons)
    links.effort[leaving] *= 0.5


def rate_quarterly(model: PairingModel, step: int) -> dict[str, int]:
    """Rate pairs whose quarter ends this month; act on monitored ratings. Returns counts by rating."""
    programme, rng = model.pairing, model.pairing.rng
    links, rules = programme.links, model.spec.pairing.governance
    due = np.flatnonzero(links.active & (step > links.start_step) & ((step - links.start_step) % 3 == 0))
    counts = {"good": 0, "average": 0, "poor": 0, "ended": 0}
    if due.size == 0:
        return counts
    delivery = programme.quarter_delivery(due)
    observed = delivery + rules.rating_noise * (GOOD_CUTOFF - POOR_CUTOFF) * rng.standard_normal(due.size)
    rating = np.where(observed >= GOOD_CUTOFF, GOOD, np.where(observed < POOR_CUTOFF, POOR, AVERAGE))
    links.rating[due] = rating
    programme.reset_delivery(due)

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
    programme.close_links(ending, step)

    for name, code in (("good", GOOD), ("average", AVERAGE), ("poor", POOR)):
        counts[name] = int((rating == code).sum())
    counts["ended"] = int(ending.size)
    return counts


def graduate(model: PairingModel, step: int) -> int:
    """Pairs whose village left weak status keep helping for ``exit_support_years``, then graduate."""
    links, state = model.pairing.links, model.village_state
    weak = state.weak(model.spec.classification)[links.village]
    watched = links.active & model.pairing.targets_weak
    links.exit_step[watched & weak] = -1
    links.exit_step[watched & ~weak & (links.exit_step < 0)] = step
    years = model.spec.pairing.governance.exit_support_years
    done = np.flatnonzero(watched & (links.exit_step >= 0) & (step - links.exit_step >= 12 * years))
    links.status[done] = GRADUATED
    model.pairing.close_links(done, step)
    return int(done.size)
