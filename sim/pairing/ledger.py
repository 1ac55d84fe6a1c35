"""One ledger for every transfer: month, link, policy, flow type, sent, lost, received.

Each month's transfers are appended as arrays (one row per link and flow with
anything sent), so conservation — sent = lost + received, to the yuan — is a
property of the table that tests check, not a hope.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FLOW_TYPES = ("funds", "trainees", "jobs", "cadre_months", "technology", "market_savings", "problems_solved")
"""The five flows of the seeds (funds, training, labour, cadres, technology and market access) plus problem solving."""

FLOW_UNITS = {
    "funds": "yuan",
    "trainees": "people",
    "jobs": "workers hired",
    "cadre_months": "cadre-months",
    "technology": "techniques",
    "market_savings": "yuan saved by member households",
    "problems_solved": "problems",
}


class Ledger:
    """Append-only record of transfers; :meth:`frame` gives the tidy table."""

    def __init__(self) -> None:
        self._chunks: list[dict[str, np.ndarray]] = []

    def record(
        self,
        step: int,
        flow: str,
        link: np.ndarray,
        policy: np.ndarray,
        sent: np.ndarray,
        lost: np.ndarray,
    ) -> None:
        """Record one flow type for many links this month; rows with nothing sent are skipped."""
        if flow not in FLOW_TYPES:
            raise ValueError(f"unknown flow {flow!r}; expected one of {', '.join(FLOW_TYPES)}")
        keep = sent > 0
        if not keep.any():
            return
        sent, lost = sent[keep], lost[keep]
        self._chunks.append(
            {
                "step": np.full(keep.sum(), step, dtype=np.int64),
                "link": link[keep].astype(np.int64),
                "policy": policy[keep].astype(np.int64),
                "flow": np.full(keep.sum(), FLOW_TYPES.index(flow), dtype=np.int8),
                "sent": sent.astype(float),
                "lost": lost.astype(float),
                "received": (sent - lost).astype(float),
            }
        )

    def frame(self, policy_labels: list[str] | None = None) -> pd.DataFrame:
        """All transfers as a DataFrame (flow and, if labels are given, policy as text)."""
        columns = ["step", "link", "policy", "flow", "sent", "lost", "received"]
        if not self._chunks:
            frame = pd.DataFrame({column: pd.Series(dtype=float) for column in columns})
            frame["flow"] = frame["flow"].astype(object)
            return frame
        frame = pd.DataFrame({column: np.concatenate([chunk[column] for chunk in self._chunks]) for column in columns})
        frame["flow"] = np.array(FLOW_TYPES, dtype=object)[frame["flow"].to_numpy()]
        if policy_labels is not None:
            frame["policy"] = np.array(policy_labels, dtype=object)[frame["policy"].to_numpy()]
        return frame

    def totals_this_step(self, step: int) -> dict[str, tuple[float, float]]:
        """(sent, lost) per flow type for one month (read from the latest chunks only)."""
        totals = {flow: (0.0, 0.0) for flow in FLOW_TYPES}
        for chunk in reversed(self._chunks):
            if chunk["step"][0] != step:
                break
            flow = FLOW_TYPES[int(chunk["flow"][0])]
            sent, lost = totals[flow]
            totals[flow] = (sent + float(chunk["sent"].sum()), lost + float(chunk["lost"].sum()))
        return totals
