"""What pairing leaves behind that lasts: each village's technology lift and each household's production assets.

These stocks belong to the pairing programme, not to the county core: flows add
to them, they wear off every month, and the programme hands the core only what
they yield this month (:class:`sim.influence.PairingInfluence`'s
``technology_lift`` and ``support_income``). They keep yielding after a pair has
ended, until they have worn off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.pairing.config import Effects


@dataclass
class PairingStocks:
    """Per-village technology lift (a share added to farm output) and per-household production assets (yuan)."""

    technology_lift: np.ndarray
    support_assets: np.ndarray

    @classmethod
    def empty(cls, villages: int, households: int) -> PairingStocks:
        return cls(np.zeros(villages), np.zeros(households))

    def add_techniques(self, techniques: np.ndarray, effects: Effects) -> None:
        """Each technique adds ``technology_gain`` times the room left below ``technology_cap``: the lift saturates."""
        room = np.maximum(1.0 - self.technology_lift / effects.technology_cap, 0.0)
        # Several techniques in one month: the room shrinks with each, as if they came one after another (dL/dn = g(1 - L/cap)).
        reach = -np.expm1(-effects.technology_gain / effects.technology_cap * techniques)
        self.technology_lift += effects.technology_cap * room * reach

    def wear(self, effects: Effects) -> None:
        """A month's depreciation of both stocks, at their yearly rates."""
        self.technology_lift *= (1.0 - effects.technology_depreciation) ** (1.0 / 12.0)
        self.support_assets *= (1.0 - effects.support_depreciation) ** (1.0 / 12.0)

    def support_income(self, effects: Effects) -> np.ndarray:
        """What each household's production assets earn this month, yuan."""
        return self.support_assets * (effects.support_return / 12.0)
