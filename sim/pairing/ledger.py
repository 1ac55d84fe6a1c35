"""One ledger for every transfer: month, link, policy, flow type, sent, lost, received, captured, cost.

Each month's transfers are appended as arrays (one row per link and flow with
anything sent), so conservation — sent = lost + received, to the yuan — is a
property of the table that tests check, not a hope. ``captured`` is the part of
``received`` that the better-off households took (elite capture): a transfer to
them, kept apart from the broad-based rest. ``cost`` is what the link's donors
paid for what it sent, in yuan at that month's prices (the flow's cost rule), so
each flow's and policy's donor cost is read off the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Ledger:
    """Append-only record of transfers; :meth:`frame` gives the tidy table.

    ``flow_names`` are the flows it may record, in order (their position is the code stored per row).
    """

    def __init__(self, flow_names: list[str]) -> None:
        self.flow_names = list(flow_names)
        self._chunks: list[dict[str, np.ndarray]] = []

    def record(
        self,
        step: int,
        flow: str,
        link: np.ndarray,
        policy: np.ndarray,
        sent: np.ndarray,
        lost: np.ndarray,
        captured: np.ndarray,
        cost: np.ndarray,
    ) -> None:
        """Record one flow type for many links this month; rows with nothing sent are skipped."""
        if flow not in self.flow_names:
            raise ValueError(f"unknown flow {flow!r}; expected one of {', '.join(self.flow_names)}")
        keep = sent > 0
        if not keep.any():
            return
        sent, lost, captured, cost = sent[keep], lost[keep], captured[keep], cost[keep]
        self._chunks.append(
            {
                "step": np.full(keep.sum(), step, dtype=np.int64),
                "link": link[keep].astype(np.int64),
                "policy": policy[keep].astype(np.int64),
                "flow": np.full(keep.sum(), self.flow_names.index(flow), dtype=np.int8),
                "sent": sent.astype(float),
                "lost": lost.astype(float),
                "received": (sent - lost).astype(float),
                "captured": captured.astype(float),
                "cost": cost.astype(float),
            }
        )

    def frame(self, policy_labels: list[str] | None = None) -> pd.DataFrame:
        """All transfers as a DataFrame (flow and, if labels are given, policy as text)."""
        columns = ["step", "link", "policy", "flow", "sent", "lost", "received", "captured", "cost"]
        if not self._chunks:
            frame = pd.DataFrame({column: pd.Series(dtype=float) for column in columns})
            frame["flow"] = frame["flow"].astype(object)
            return frame
        frame = pd.DataFrame({column: np.concatenate([chunk[column] for chunk in self._chunks]) for column in columns})
        frame["flow"] = np.array(self.flow_names, dtype=object)[frame["flow"].to_numpy()]
        if policy_labels is not None:
            frame["policy"] = np.array(policy_labels, dtype=object)[frame["policy"].to_numpy()]
        return frame
