"""What pairing does to the county's economy and labour market each month, as one small value.

The pairing programme (:mod:`sim.pairing`) hands the model a
:class:`PairingInfluence` every month, and the model passes it to the county
core's submodels (:mod:`sim.economy`, :mod:`sim.labour`). They never look at
pairing itself, and with no pairing they get :data:`NEUTRAL`, which changes
nothing. (Pairing's transfers of stocks, such as capital, skills and
techniques, are applied to the village and household state it is handed; this
value carries the channels the core reads every month.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairingInfluence:
    """Pairing's monthly channels into the county core; scalars apply to every village or household."""

    leadership_bonus: np.ndarray | float = 0.0  # per village: added to leadership while seconded cadres are present
    own_effort: np.ndarray | float = 1.0  # per village: its own effort, lowered by aid dependency (1 = full)
    donor_burden: np.ndarray | float = 0.0  # per village: share of its own farm output a donor village loses to helping
    aid_income: np.ndarray | float = 0.0  # per household: pairing funds paid straight to it this month, yuan
    market_income: np.ndarray | float = 0.0  # per household: farm costs saved this month through pairs' market access, yuan
    technology_lift: np.ndarray | float = 0.0  # per village: share added to farm output by techniques pairs brought (a stock)
    support_income: np.ndarray | float = 0.0  # per household: yuan this month from production assets pairing funds gave it
    talent_drain: float = 0.0  # extra migration propensity of trained workers, per unit of skill gained
    remittance_premium: np.ndarray | float = 0.0  # per household: migrant wages' worth its referred migrants earn above the wage


NEUTRAL = PairingInfluence()
"""No pairing: no cadres, full own effort, no burden, no aid, no market savings, no techniques, no assets, no talent drain,
no referred migrants' premium."""
