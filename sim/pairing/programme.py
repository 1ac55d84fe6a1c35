"""The pairing programme of one model run: its joint branches, links, ledger and graph.

:class:`PairingProgramme` sets up every policy at the start (matching and joint
branches), then each month moves the flows, updates effort, ratings and exits,
and reports what happened. The model calls :meth:`establish` once and
:meth:`step` every month; nothing else in the model knows about pairing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pandas as pd

from sim.agents import JointBranch
from sim.economy import farm_inputs
from sim.pairing import flows, governance
from sim.pairing.ledger import FLOW_TYPES, Ledger
from sim.pairing.links import (
    ACTIVE,
    DONOR_KINDS,
    ENDED,
    GRADUATED,
    RATING_NAMES,
    ROTATED,
    STATUS_NAMES,
    Links,
    LinkSpec,
)
from sim.pairing.policies import (
    CANDIDATES,
    leadership_weakness,
    plan_links,
    targeting_priority,
    village_need,
)

if TYPE_CHECKING:
    from sim.agents import Organisation
    from sim.model import PairingModel

PAIRING_OUTCOMES: dict[str, str] = {
    "funds_sent": "pairing funds sent this month, yuan",
    "funds_lost": "pairing funds lost to leakage this month, yuan",
    "funds_captured": "pairing funds captured by better-off households this month, yuan",
    "trainees": "villagers trained this month",
    "jobs_created": "villagers hired by paired enterprises this month",
    "cadre_months": "months of seconded cadres' presence this month",
    "technology": "techniques introduced this month",
    "market_savings": "yuan saved by households through pairs' market access this month",
    "problems_solved_by_pairs": "village problems solved by pairs this month",
    "donor_cost": "donors' cost this month (funds, training, cadres, lost own output), yuan",
    "active_pairs": "active donor-village links",
    "ended_pairs": "links ended for poor performance, cumulative",
    "graduated_pairs": "links ended after the village left weak status and support ran out, cumulative",
    "pairs_rated_good": "active links whose last rating was good",
    "pairs_rated_average": "active links whose last rating was average",
    "pairs_rated_poor": "active links whose last rating was poor",
    "rural_income_pc_paired": "mean per-capita income of villages ever paired, yuan a year (NaN if none)",
    "rural_income_pc_unpaired": "mean per-capita income of villages never paired, yuan a year (NaN if none)",
}
"""Monthly pairing outcomes (all zero when there is no pairing)."""


class PairingProgramme:
    """Joint branches, their links and everything that flows along them."""

    def __init__(self, model: PairingModel) -> None:
        self.model = model
        self.spec = model.spec.pairing
        # Pairing draws from its own stream, so adding or removing a policy never shifts the
        # economy's random draws (arms of an experiment stay comparable).
        self.rng = model.streams["pairing"]
        self.links = Links()
        self.ledger = Ledger()
        self.branches: list[JointBranch] = []
        self.graph = nx.Graph()
        n_villages = len(model.villages)
        self.targets_weak = np.zeros(0, dtype=bool)
        self.ever_paired = np.zeros(n_villages, dtype=bool)
        self.aid_received_history = np.zeros((12, n_villages))
        self._delivery_sum = np.zeros(0)
        self._delivery_count = np.zeros(0)
        self._ranking_step = -1  # cache of flows.ranked_rows for this month (see ranked_households)
        self._ranked_villages = np.empty(0, dtype=np.int64)
        self._ranking: tuple = ()
        self.this_month: dict[str, float] = dict.fromkeys(PAIRING_OUTCOMES, 0.0)

    @property
    def policy_labels(self) -> list[str]:
        return [policy.label for policy in self.spec.policies]

    # ------------------------------------------------------------------ set-up

    def establish(self) -> None:
        """Match every policy and create its joint branches (step 0)."""
        model = self.model
        priority = targeting_priority(model, village_need(model))
        for index, policy in enumerate(self.spec.policies):
            candidates = None if policy.explicit else CANDIDATES[policy.type](model, policy, priority)
            for group in plan_links(model, index, policy, candidates):
                self._create_branch(index, group, step=0)
        self.this_month = {**dict.fromkeys(PAIRING_OUTCOMES, 0.0), **self._status_counts()}

    def _create_branch(self, policy_index: int, group: list[LinkSpec], step: int) -> JointBranch:
        model, policy = self.model, self.spec.policies[policy_index]
        donors = _unique([self._organisation(s.donor_kind, s.donor_index) for s in group])
        villages = _unique([model.villages[s.village] for s in group])
        branch = JointBranch(model, len(self.branches), policy.label, policy.type, donors, villages, step)
        self.branches.append(branch)
        for spec in group:
            spec.branch = branch.index
        # A branch's planned flows are shared by its links; market savings are per household already.
        share = {flow: 1.0 if flow == "market_savings" else 1.0 / len(group) for flow in FLOW_TYPES}
        planned = [{flow: getattr(policy.flows, flow) * share[flow] for flow in FLOW_TYPES}] * len(group)
        rows = self.links.add(group, planned, step)
        weak = model.village_state.weak(model.spec.classification)
        self.targets_weak = np.concatenate([self.targets_weak, weak[[s.village for s in group]]])
        self._delivery_sum = np.concatenate([self._delivery_sum, np.zeros(len(rows))])
        self._delivery_count = np.concatenate([self._delivery_count, np.zeros(len(rows))])
        self.ever_paired[[s.village for s in group]] = True
        self._add_to_graph(branch)
        return branch

    def _organisation(self, kind: str, index: int) -> Organisation:
        return self.model.organisations_of(kind)[index]

    # ------------------------------------------------------------------ each month

    def step(self, step: int) -> None:
        """One month of pairing: effort, flows, dependency and donor burden, ratings, exits, rotations."""
        model = self.model
        governance.decay_effort(model, step)
        month = flows.move_funds(model, step)
        month["trainees"] = flows.train(model, step)
        month["jobs_created"] = flows.hire(model, step)
        month["cadre_months"] = flows.second_cadres(model, step)
        month["technology"] = flows.transfer_technology(model, step)
        month["market_savings"] = flows.open_markets(model, step)
        month["problems_solved_by_pairs"] = flows.solve_problems(model, step)
        self._update_dependency_and_burden()
        governance.rate_quarterly(model, step)
        governance.graduate(model, step)
        self._rotate_cadres(step)
        month["donor_cost"] = self._donor_cost(month)
        self.this_month = {**dict.fromkeys(PAIRING_OUTCOMES, 0.0), **month, **self._status_counts()}

    def _update_dependency_and_burden(self) -> None:
        """Aid dependency lowers recipients' own effort; helping burdens donor villages (种了别人的田)."""
        state, failure, links = self.model.village_state, self.spec.failure, self.links
        aid = self.aid_received_history.sum(axis=0)
        reliance = aid / (aid + np.maximum(state.collective_annual, 0.0) + 1.0)
        state.own_effort = np.clip(1.0 - failure.dependency * reliance, 0.0, 1.0)
        helping = links.of_kind("village") & links.active
        burden = np.bincount(links.donor_index[helping], weights=links.effort[helping], minlength=len(state.leadership))
        state.donor_burden = np.minimum(failure.donor_cost * burden, 1.0)

    def _donor_cost(self, month: dict[str, float]) -> float:
        """Yuan the donors gave up this month: funds, training, cadres' time and donor villages' lost output."""
        effects, h, state = self.spec.effects, self.model.households, self.model.village_state
        lost_output = 0.0
        donors = np.flatnonzero(state.donor_burden)
        if donors.size:  # what donor villages would have grown, times the share they lose
            params = self.model.spec.economy
            unburdened = state.productivity * (1.0 - state.constraint(params)) * (1.0 + state.price_premium)
            rows, group = flows.village_rows(h, donors)
            inputs = np.bincount(group, weights=farm_inputs(h, params, rows), minlength=donors.size)
            lost_output = float((unburdened[donors] * inputs * state.donor_burden[donors]).sum())
        return (
            month["funds_sent"]
            + month["trainees"] * effects.training_cost
            + month["cadre_months"] * effects.cadre_monthly_cost
            + lost_output
        )

    def _rotate_cadres(self, step: int) -> None:
        """First secretaries leave after their rotation; their department posts a successor to the weakest unserved village."""
        links = self.links
        for index, policy in enumerate(self.spec.policies):
            if policy.type != "cadre_dispatch":
                continue
            ours = links.policy == index
            leaving = np.flatnonzero(ours & links.active & (step - links.start_step >= policy.rotation_months))
            if leaving.size == 0:
                continue
            links.status[leaving] = ROTATED
            self.close_links(leaving, step)
            unavailable = set(links.village[ours & links.active].tolist()) | set(links.village[leaving].tolist())
            priority = leadership_weakness(self.model)
            order = [int(v) for v in np.argsort(-priority, kind="stable") if int(v) not in unavailable]
            for link, village in zip(leaving, order, strict=False):
                spec = LinkSpec(index, -1, "department", int(links.donor_index[link]), village)
                self._create_branch(index, [spec], step)

    # ------------------------------------------------------------------ bookkeeping used by flows and governance

    def record_flow(
        self, step: int, flow: str, sent: np.ndarray, lost: np.ndarray | None = None, full_plan: np.ndarray | None = None
    ) -> None:
        """Put one flow's transfers of this month in the ledger and count them towards the quarterly rating.

        ``full_plan`` is this month's plan at full effort in the units of ``sent``
        (default: the planned yearly amount / 12).
        """
        lost = np.zeros(len(sent)) if lost is None else lost
        self.ledger.record(step, flow, np.arange(len(self.links)), self.links.policy, sent, lost)
        self.note_delivery(flow, sent, full_plan)

    def ranked_households(self, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Households of ``villages`` ranked by income within their village (see ``flows.ranked_rows``).

        The ranking of every village with an active link is computed once a
        month and shared by the flows that need it (elite capture, training).
        """
        step = self.model.steps
        if self._ranking_step != step:
            self._ranked_villages = np.unique(self.links.village[self.links.active])
            self._ranking = flows.ranked_rows(self.model.households, self._ranked_villages)
            self._ranking_step = step
        if np.isin(villages, self._ranked_villages).all():
            return flows.ranked_rows_of(self._ranking, self._ranked_villages, villages)
        return flows.ranked_rows(self.model.households, villages)

    def note_delivery(self, flow: str, sent: np.ndarray, full_plan: np.ndarray | None = None) -> None:
        """Add this month's delivery of one flow, as a share of the full plan, for the quarterly rating."""
        plan = self.links.planned[flow] / 12.0 if full_plan is None else full_plan
        has_plan = (plan > 0) & self.links.active
        self._delivery_sum[has_plan] += sent[has_plan] / plan[has_plan]
        self._delivery_count[has_plan] += 1

    def quarter_delivery(self, rows: np.ndarray) -> np.ndarray:
        """Share of plan delivered by each link since its last rating (1 = everything planned)."""
        count = self._delivery_count[rows]
        return np.where(count > 0, self._delivery_sum[rows] / np.where(count > 0, count, 1.0), 1.0)

    def reset_delivery(self, rows: np.ndarray) -> None:
        self._delivery_sum[rows] = 0.0
        self._delivery_count[rows] = 0.0

    def close_links(self, rows: np.ndarray, step: int) -> None:
        """Mark branches whose links have all closed in the graph."""
        for branch_index in np.unique(self.links.branch[rows]):
            members = self.links.branch == branch_index
            if not (self.links.status[members] == ACTIVE).any():
                self.branches[branch_index].closed_step = step

    def _status_counts(self) -> dict[str, float]:
        links, active = self.links, self.links.active
        return {
            "active_pairs": float(active.sum()),
            "ended_pairs": float((links.status == ENDED).sum()),
            "graduated_pairs": float((links.status == GRADUATED).sum()),
            "pairs_rated_good": float((active & (links.rating == 2)).sum()),
            "pairs_rated_average": float((active & (links.rating == 1)).sum()),
            "pairs_rated_poor": float((active & (links.rating == 0)).sum()),
        }

    def paired_incomes(self) -> dict[str, float]:
        """Person-weighted mean income of villages ever paired and never paired (the comparison the seeds make)."""
        h, people = self.model.households, self.model.village_population
        income = h.village_sum(h.annual)
        out = {}
        for key, villages in (("rural_income_pc_paired", self.ever_paired), ("rural_income_pc_unpaired", ~self.ever_paired)):
            residents = people[villages].sum()
            out[key] = float(income[villages].sum() / residents) if residents > 0 else float("nan")
        return out

    # ------------------------------------------------------------------ results

    def link_table(self) -> pd.DataFrame:
        """One row per link: policy, branch, donor, village, status, effort, last rating."""
        links, model = self.links, self.model
        return pd.DataFrame(
            {
                "link": np.arange(len(links)),
                "branch": links.branch,
                "policy": np.array(self.policy_labels, dtype=object)[links.policy] if len(links) else [],
                "donor": [
                    self._organisation(k, i).name for k, i in zip(_kind_names(links.donor_kind), links.donor_index, strict=True)
                ],
                "donor_kind": _kind_names(links.donor_kind),
                "village": [model.villages[v].name for v in links.village],
                "weak_at_start": self.targets_weak.copy(),
                "start_step": links.start_step,
                "status": [STATUS_NAMES[s] for s in links.status],
                "effort": links.effort,
                "last_rating": [RATING_NAMES[r] for r in links.rating],
            }
        )

    def policy_summary(self) -> pd.DataFrame:
        """Per policy: branches, links by status, and each flow's total sent, lost and received over the run."""
        ledger = self.ledger.frame(self.policy_labels)
        links = self.link_table()
        rows = []
        for index, label in enumerate(self.policy_labels):
            mine = links[links["policy"] == label]
            row = {
                "policy": label,
                "type": self.spec.policies[index].type,
                "branches": int(mine["branch"].nunique()),
                "links": len(mine),
                **{f"links_{name}": int((mine["status"] == name).sum()) for name in STATUS_NAMES.values()},
            }
            flows_of_policy = ledger[ledger["policy"] == label]
            for flow in FLOW_TYPES:
                of_flow = flows_of_policy[flows_of_policy["flow"] == flow]
                row[f"{flow}_sent"] = float(of_flow["sent"].sum())
                if flow == "funds":
                    row["funds_lost"] = float(of_flow["lost"].sum())
                    row["funds_received"] = float(of_flow["received"].sum())
            rows.append(row)
        return pd.DataFrame(rows)

    def _add_to_graph(self, branch: JointBranch) -> None:
        graph = self.graph
        graph.add_node(branch.node_id, **branch.node_attributes())
        for member, role in [*((d, "donor") for d in branch.donors), *((v, "recipient") for v in branch.villages)]:
            if member.node_id not in graph:
                graph.add_node(member.node_id, **member.node_attributes())
            graph.add_edge(member.node_id, branch.node_id, role=role)

    def refreshed_graph(self) -> nx.Graph:
        """The pairing graph with each branch's current status, effort and last rating."""
        links = self.links
        for branch in self.branches:
            members = links.branch == branch.index
            attributes = self.graph.nodes[branch.node_id]
            attributes["status"] = (
                "active" if (links.status[members] == ACTIVE).any() else STATUS_NAMES[int(links.status[members].max())]
            )
            attributes["effort"] = float(links.effort[members].mean())
            attributes["last_rating"] = RATING_NAMES[int(links.rating[members].min())]
        return self.graph


RECIPIENT_CLASSES = {"weak": "villages weak when paired", "other": "other villages"}
"""How the funds table splits recipients: was the village weak (薄弱村) when its link began?"""


def funds_by_donor_kind(ledger: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Funds sent each month by kind of donor to each class of recipient (who gives to whom, for Sankey diagrams).

    Reads the run's ``ledger`` and ``links`` tables, so it works on a live run and on
    a ``pairsim run`` output folder alike. Columns: step, donor_kind, recipient
    (a key of :data:`RECIPIENT_CLASSES`), sent (yuan).
    """
    funds = ledger.loc[ledger["flow"] == "funds", ["step", "link", "sent"]]
    merged = funds.merge(links[["link", "donor_kind", "weak_at_start"]], on="link", how="left", validate="many_to_one")
    merged["recipient"] = np.where(merged["weak_at_start"].astype(bool), "weak", "other")
    return merged.groupby(["step", "donor_kind", "recipient"], as_index=False, sort=True)["sent"].sum()


def write_graph(graph: nx.Graph, folder: Path) -> None:
    """GraphML (Gephi, networkx) and node-link JSON of a pairing graph."""
    nx.write_graphml(graph, folder / "pairing_graph.graphml")
    data = nx.node_link_data(graph, edges="links")
    (folder / "pairing_graph.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _unique(items: list) -> list:
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


def _kind_names(codes: np.ndarray) -> list[str]:
    return [DONOR_KINDS[c] for c in codes]
