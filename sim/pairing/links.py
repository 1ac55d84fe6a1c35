"""The state of every donor–village link, as arrays (one row per link).

A joint branch (联合党总支) has one or more links: one per donor–village pair
inside it. Flows, effort and ratings are per link, so a many-to-one branch can
have one diligent and one formalist member.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.pairing.registry import donor_kinds, flows

ACTIVE, ENDED, GRADUATED, ROTATED, REVERTED, DISSOLVED = 0, 1, 2, 3, 4, 5
STATUS_NAMES = {
    ACTIVE: "active",
    ENDED: "ended",
    GRADUATED: "graduated",
    ROTATED: "rotated",
    REVERTED: "reverted",
    DISSOLVED: "dissolved",
}
"""A link's status. ``REVERTED``: a merged branch that split again (不合财、不合心), set by the flow that ran it.
``DISSOLVED``: dissolved by a pairing round that forms all its policy's pairs anew (建了散、散了建, sim/pairing/rounds.py)."""
UNRATED, POOR, AVERAGE, GOOD = -1, 0, 1, 2
RATING_NAMES = {UNRATED: "unrated", POOR: "poor", AVERAGE: "average", GOOD: "good"}


@dataclass
class LinkSpec:
    """One link to create: which policy and branch, which donor, which village."""

    policy: int
    branch: int
    donor_kind: str  # a registered donor kind (sim.pairing.registry)
    donor_index: int
    village: int


@dataclass
class Links:
    """Every link's state; arrays grow when links are added (at the start and at cadre rotations)."""

    policy: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    branch: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    donor_kind: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # the donor kind's registry code
    donor_index: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    village: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    start_step: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    status: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    effort: np.ndarray = field(default_factory=lambda: np.empty(0))
    rating: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    poor_streak: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    rectify_until: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    exit_step: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    support: np.ndarray = field(default_factory=lambda: np.empty(0))  # share of the plan still given (tapers after exit)
    planned: dict[str, np.ndarray] = field(default_factory=lambda: {flow: np.empty(0) for flow in flows()})  # yearly, per flow

    def __len__(self) -> int:
        return len(self.policy)

    @property
    def active(self) -> np.ndarray:
        return self.status == ACTIVE

    def add(self, specs: list[LinkSpec], planned: list[dict[str, float]], step: int) -> np.ndarray:
        """Append links (all active, full effort); returns their row numbers."""
        n = len(specs)
        first = len(self)

        def grow(array: np.ndarray, values) -> np.ndarray:
            return np.concatenate([array, np.asarray(values, dtype=array.dtype)])

        self.policy = grow(self.policy, [s.policy for s in specs])
        self.branch = grow(self.branch, [s.branch for s in specs])
        self.donor_kind = grow(self.donor_kind, [donor_kinds()[s.donor_kind].code for s in specs])
        self.donor_index = grow(self.donor_index, [s.donor_index for s in specs])
        self.village = grow(self.village, [s.village for s in specs])
        self.start_step = grow(self.start_step, [step] * n)
        self.status = grow(self.status, [ACTIVE] * n)
        self.effort = grow(self.effort, [1.0] * n)
        self.rating = grow(self.rating, [UNRATED] * n)
        self.poor_streak = grow(self.poor_streak, [0] * n)
        self.rectify_until = grow(self.rectify_until, [-1] * n)
        self.exit_step = grow(self.exit_step, [-1] * n)
        self.support = grow(self.support, [1.0] * n)
        for flow in self.planned:
            self.planned[flow] = grow(self.planned[flow], [p.get(flow, 0.0) for p in planned])
        return np.arange(first, first + n)

    def of_kind(self, kind: str) -> np.ndarray:
        """Which links have a donor of ``kind`` (a registered donor kind's name)."""
        return self.donor_kind == donor_kinds()[kind].code

    def donor_kind_names(self) -> list[str]:
        """Each link's donor kind by name."""
        names = list(donor_kinds())
        return [names[code] for code in self.donor_kind]
