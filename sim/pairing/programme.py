"""The pairing programme of one model run: its joint branches, links, ledger and graph.

:class:`PairingProgramme` is the one door between the model and pairing. The
model hands it a :class:`~sim.pairing.county.County` (the county core's state)
once, and a :class:`~sim.pairing.county.Month` each month; it sets up every
policy at the start (matching and joint branches), then each month moves the
flows, updates effort, ratings and exits, and returns a
:class:`~sim.influence.PairingInfluence` for the county core. The functions it
calls (:mod:`~sim.pairing.flows`, :mod:`~sim.pairing.governance`,
:mod:`~sim.pairing.policies`) take explicit inputs; what each policy type,
donor kind and flow means comes from :mod:`~sim.pairing.registry`.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import mesa
import networkx as nx
import numpy as np
import pandas as pd

from sim.agents import JointBranch, Organisation
from sim.influence import NEUTRAL, PairingInfluence
from sim.outcome_registry import pairing_outcomes
from sim.pairing import flows, governance, rounds
from sim.pairing.config import Pairing
from sim.pairing.county import County, Month
from sim.pairing.ledger import Ledger
from sim.pairing.links import ACTIVE, DISSOLVED, ENDED, GRADUATED, RATING_NAMES, ROTATED, STATUS_NAMES, Links, LinkSpec
from sim.pairing.policies import Targeting, plan_links, targeting_priority, village_need
from sim.pairing.registry import Prices, policy_types
from sim.pairing.registry import flows as registered_flows
from sim.pairing.satisfaction import Satisfaction, broad_income
from sim.pairing.stocks import PairingStocks

PAIRED_INCOMES = ("rural_income_pc_paired", "rural_income_pc_unpaired")
"""Pairing outcomes read after the month's incomes (:meth:`PairingProgramme.paired_incomes`), not during its step."""


class PairingProgramme:
    """Joint branches, their links and everything that flows along them.

    Args:
        model: the Mesa model that owns the joint branches as agents (nothing else of it is read).
        county: the county core's state that pairing reads and changes.
        spec: the scenario's ``pairing:`` section.
        rng: pairing's own random stream, so adding or removing a policy never shifts the
            economy's random draws (arms of an experiment stay comparable).
    """

    def __init__(self, model: mesa.Model, county: County, spec: Pairing, rng: np.random.Generator) -> None:
        self.model = model
        self.county = county
        self.spec = spec
        self.rng = rng
        self.flows = dict(registered_flows())  # this run's flows, fixed at the start
        self._burdens_donor_villages = np.array(
            [policy_types()[policy.type].burdens_donor_villages for policy in spec.policies], dtype=bool
        )  # per policy: does helping cost a donor village its own farm output (the donor_cost failure mode)?
        self.links = Links()
        self.ledger = Ledger(list(self.flows))
        self.delivery = governance.Delivery()
        self.branches: list[JointBranch] = []
        self.graph = nx.Graph()
        n_villages = len(county.villages)
        self.targets_weak = np.zeros(0, dtype=bool)
        self.ever_paired = np.zeros(n_villages, dtype=bool)
        self.aid_received_history = np.zeros((12, n_villages))
        self.stocks = PairingStocks.empty(n_villages, len(county.households))
        self.satisfaction = Satisfaction(n_villages, len(county.households))
        registered = [key for key in pairing_outcomes() if key not in PAIRED_INCOMES]
        self._outcome_keys = [*registered, *(flow.outcome for flow in self.flows.values() if flow.outcome not in registered)]
        self.this_month: dict[str, float] = dict.fromkeys(self._outcome_keys, 0.0)
        self.formation = rounds.Formation()
        self._wage_index = 1.0  # this month's, for what forming a branch costs (the start year's until the first month)

    def outcome_keys(self) -> list[str]:
        """The monthly outcomes pairing reports (all zero without pairing), fixed when the run starts: the outcome
        registry's pairing outcomes, then those of any registered flow the outcome registry does not list (a new flow's
        total)."""
        return list(self._outcome_keys)

    @property
    def policy_labels(self) -> list[str]:
        return [policy.label for policy in self.spec.policies]

    # ------------------------------------------------------------------ set-up

    def establish(self) -> PairingInfluence:
        """Match every policy and create its joint branches (step 0); returns pairing's influence before the first month."""
        county = self.county
        need = village_need(county)
        strong_first = self.spec.failure.strong_first
        targeting = Targeting(need, targeting_priority(county, need, strong_first), strong_first)
        weak = county.weak()  # nothing changes the county while pairs are formed
        for index, policy in enumerate(self.spec.policies):
            if self.spec.max_policies_per_village is not None and not policy.explicit:
                barred = rounds.barred_villages(self.links, len(weak), self.spec, index)
                groups = rounds.plan_round(
                    county, self.links, index, policy, policy.pairs, barred, targeting, self.rng, at_most=False
                )
            else:
                ours = replace(targeting, policy_index=index)  # a rule whose donors belong to one policy finds them
                candidates = None if policy.explicit else policy_types()[policy.type].candidates(county, policy, ours)
                groups = plan_links(county, index, policy, candidates, self.rng)
            self._create_branches(index, groups, step=0, weak=weak)
        formed = self.formation.take()
        self.this_month = {
            **dict.fromkeys(self._outcome_keys, 0.0),
            **formed,
            **self._status_counts(),
            "villager_satisfaction": float("nan"),  # no month delivered yet
        }
        if formed["setup_cost"]:
            self.this_month["donor_cost"] = formed["setup_cost"]
        return self._influence()

    def _create_branches(self, policy_index: int, groups: list[list[LinkSpec]], step: int, weak: np.ndarray) -> None:
        """One joint branch per group of links, numbered in order; ``weak`` is each village's weak status now.

        The link arrays grow once for all the groups, not once per branch: a province forms tens of thousands of
        branches, and growing the arrays each time would copy them as often.
        """
        policy = self.spec.policies[policy_index]
        policy_type = policy_types()[policy.type]
        specs: list[LinkSpec] = []
        planned: list[dict[str, float]] = []
        for group in groups:
            donors = _unique([self._organisation(s.donor_kind, s.donor_index) for s in group])
            villages = _unique([self._organisation("village", s.village) for s in group])
            secretary = (donors if policy_type.secretary == "donor" else villages)[0].name
            branch = JointBranch(self.model, len(self.branches), policy.label, policy.type, donors, villages, step, secretary)
            self.branches.append(branch)
            for spec in group:
                spec.branch = branch.index
            # A branch's planned flows are shared by its links (the type's budget rule); per-household flows are not.
            share = {name: 1.0 if flow.per_household else policy_type.budget(len(group)) for name, flow in self.flows.items()}
            planned += [{name: policy.flows.amount(name) * share[name] for name in self.flows}] * len(group)
            specs += group
            self._add_to_graph(branch)
        self.formation.note(policy, len(groups), self._wage_index)
        rows = self.links.add(specs, planned, step)
        villages = [s.village for s in specs]
        self.targets_weak = np.concatenate([self.targets_weak, weak[villages]])
        self.delivery.add_links(len(rows))
        self.ever_paired[villages] = True

    def _organisation(self, kind: str, index: int) -> Organisation:
        return self.county.organisations[kind][index]

    # ------------------------------------------------------------------ each month

    def step(self, month: Month) -> PairingInfluence:
        """One month of pairing: effort, flows, dependency and donor burden, ratings, exits, rotations.

        Returns what the county core feels of pairing this month.
        """
        step, links, spec = month.step, self.links, self.spec
        self._wage_index = month.wage_index
        governance.decay_effort(links, spec.failure, self.rng, step)
        if spec.policies:  # without policies the stocks stay empty: no pass over every household to wear them
            self.stocks.wear(spec.effects)
        inputs = self.flow_inputs(month)
        totals: dict[str, float] = {}
        channels: dict[str, np.ndarray | float] = {}
        prices = Prices(
            month.wage_index,
            self.county.state.problem_fix_cost(self.county.economy)[links.village],
            functools.partial(flows.per_link, inputs),
        )
        cost = 0.0
        ramping = rounds.ramp_factor(links, spec.policies, step)  # new links of policies with rounds deliver part of their plan
        if ramping is not None:
            young, share = ramping
            whole_support = links.support[young].copy()
            links.support[young] *= share
        problems_before = self.county.state.problems.copy()  # what the flows solve (villagers' satisfaction)
        jobs_before = len(self.county.jobs.key)  # jobs listed after these are pairs' hires
        moved_this_month: list[flows.Moved] = []
        for name, flow in self.flows.items():
            moved = flow.move(inputs)
            moved_this_month.append(moved)
            link_cost = np.broadcast_to(flow.cost(moved.sent, spec.effects, self.county.economy, prices), moved.sent.shape)
            self._record(step, name, moved, link_cost)
            totals.update(moved.totals)
            for channel, value in moved.influence.items():  # two flows feeding one channel add up, neither overwrites
                channels[channel] = channels[channel] + value if channel in channels else value
            cost += float(link_cost.sum())
            if moved.aid_received is not None:
                self.aid_received_history[step % 12] = moved.aid_received
            if moved.ended is not None:
                self.close_links(moved.ended, step)
        if ramping is not None:
            links.support[young] = whole_support  # governance's exit taper reads and sets the whole support
        own_effort, donor_burden = self._dependency_and_burden()
        # What the production assets yield this month: read by satisfaction and handed to the core (a pass over every
        # household, so once; nothing after the flows changes the assets).
        support_income = self.stocks.support_income(spec.effects) if spec.policies else None
        satisfaction = self._update_satisfaction(
            moved_this_month, problems_before, jobs_before, month.remitted_per_migrant, support_income
        )
        ended = governance.rate_quarterly(links, self.delivery, spec.governance, self.rng, step, satisfaction)
        self.close_links(ended, step)
        weak_now = self.county.weak()
        graduated = governance.graduate(links, weak_now, self.targets_weak, spec.governance, step)
        self.close_links(graduated, step)
        self._rotate_cadres(step, weak_now)
        self._form_rounds(step, weak_now)
        formed = self.formation.take()
        totals["donor_cost"] = cost + self._lost_output(donor_burden)
        if formed["setup_cost"]:
            totals["donor_cost"] += formed["setup_cost"]
        totals["funds_captured_pc"] = totals.get("funds_captured", 0.0) / max(float(self.county.population.sum()), 1.0)
        self.this_month = {
            **dict.fromkeys(self._outcome_keys, 0.0),
            **totals,
            **formed,
            **self._status_counts(),
            "villager_satisfaction": self._satisfaction_with_active_pairs(),
        }
        return self._influence(support_income, own_effort=own_effort, donor_burden=donor_burden, **channels)

    def flow_inputs(self, month: Month | None, rng: np.random.Generator | None = None) -> flows.FlowInputs:
        """What the flows read and change this month, with a fresh household ranking (``rng``: pairing's own stream,
        unless a caller that runs one flow by hand hands it another)."""
        spec = self.spec
        ranking = flows.HouseholdRanking(self.county.households, self.links)
        return flows.FlowInputs(
            self.links,
            self.county,
            month,
            spec.effects,
            spec.failure,
            self.rng if rng is None else rng,
            ranking,
            self.stocks,
            spec.policies,
        )

    def _update_satisfaction(
        self,
        moved: list[flows.Moved],
        problems_before: np.ndarray,
        jobs_before: int,
        remitted_per_migrant: float,
        support_income: np.ndarray | None,
    ) -> np.ndarray | None:
        """Villagers' satisfaction with their pairs this month, per village (``None`` without policies: nothing to judge).

        What the flows solved is the fall in open problems during them (problem solving and public works alike); the
        jobs listed during them are the paired enterprises' hires. ``remitted_per_migrant`` turns referred migrants'
        premium (in migrant wages' worth) into yuan; ``support_income`` is what the production assets yield this month.
        """
        if support_income is None:  # no policies
            return None
        county = self.county
        income = broad_income(moved, support_income, remitted_per_migrant=remitted_per_migrant)
        solved = np.maximum(problems_before - county.state.problems, 0.0)
        return self.satisfaction.update(
            county, self.spec.governance, self.ever_paired, income, solved, county.jobs.key[jobs_before:]
        )

    def _satisfaction_with_active_pairs(self) -> float:
        """Person-weighted mean satisfaction of the villages with an active link now (NaN when there are none)."""
        paired_now = np.zeros(len(self.ever_paired), dtype=bool)
        paired_now[self.links.village[self.links.active]] = True
        return self.satisfaction.mean_over(paired_now, self.county.population)

    def _influence(self, support_income: np.ndarray | None = None, **channels: np.ndarray | float) -> PairingInfluence:
        """What the county core feels of pairing: ``NEUTRAL`` for a scenario without policies (no one is ever trained,
        aided or posted), else this month's channels, what the stocks yield and the scenario's talent drain.

        The stocks' yield is computed only when it is used, and only if the month has not (``support_income``): it is a
        pass over every household."""
        if not self.spec.policies:
            return NEUTRAL
        return PairingInfluence(
            talent_drain=self.spec.failure.talent_drain,
            technology_lift=self.stocks.technology_lift,
            support_income=self.stocks.support_income(self.spec.effects) if support_income is None else support_income,
            **channels,
        )

    def _record(self, step: int, flow: str, moved: flows.Moved, cost: np.ndarray) -> None:
        """Put one flow's transfers of this month and their cost (yuan per link) in the ledger, and count them towards
        the quarterly rating."""
        lost = np.zeros(len(moved.sent)) if moved.lost is None else moved.lost
        captured = np.zeros(len(moved.sent)) if moved.captured is None else moved.captured
        self.ledger.record(step, flow, np.arange(len(self.links)), self.links.policy, moved.sent, lost, captured, cost)
        full_plan = flows.full_plan_this_month(self.links, flow) if moved.full_plan is None else moved.full_plan
        self.delivery.note(self.links, moved.sent, full_plan)

    def _dependency_and_burden(self) -> tuple[np.ndarray, np.ndarray]:
        """Aid dependency lowers recipients' own effort; helping burdens donor villages (种了别人的田).

        Reliance is the last year's aid against the village's own means (its
        collective income and its households' incomes), so effort falls in
        proportion to how much of the village's living aid is, not at the first yuan.
        """
        county, failure, links = self.county, self.spec.failure, self.links
        state, h = county.state, county.households
        aid = self.aid_received_history.sum(axis=0)
        own_means = np.maximum(state.collective_annual, 0.0) + np.maximum(h.village_sum(h.annual), 0.0)
        reliance = aid / (aid + own_means + 1.0)
        own_effort = np.clip(1.0 - failure.dependency * reliance, 0.0, 1.0)
        helping = links.of_kind("village") & links.active & self._burdens_donor_villages[links.policy]
        burden = np.bincount(links.donor_index[helping], weights=links.effort[helping], minlength=len(state.leadership))
        return own_effort, np.minimum(failure.donor_cost * burden, 1.0)

    def _lost_output(self, donor_burden: np.ndarray) -> float:
        """Yuan of farm output donor villages lost this month to helping: what they would have grown, times the burden."""
        county = self.county
        donors = np.flatnonzero(donor_burden)
        if donors.size == 0:
            return 0.0
        *_, inputs, unburdened = flows.farm_output_without_pairing(county, donors)
        return float((unburdened * inputs * donor_burden)[donors].sum())

    def _rotate_cadres(self, step: int, weak: np.ndarray) -> None:
        """Posted cadres leave after their rotation; their donor posts a successor to the neediest unserved village.

        ``weak`` is each village's weak status this month (the successors' ``targets_weak``).
        """
        links = self.links
        for index, policy in enumerate(self.spec.policies):
            rotation = policy_types()[policy.type].rotation
            if rotation is None:
                continue
            ours = links.policy == index
            leaving = np.flatnonzero(ours & links.active & (step - links.start_step >= policy.rotation_months))
            if leaving.size == 0:
                continue
            links.status[leaving] = ROTATED
            self.close_links(leaving, step)
            unavailable = set(links.village[ours & links.active].tolist()) | set(links.village[leaving].tolist())
            if self.spec.max_policies_per_village is not None:  # a successor is a formation too: it respects the limit
                unavailable |= set(np.flatnonzero(rounds.barred_villages(links, len(weak), self.spec, index)).tolist())
            priority = rotation(self.county, self.spec.failure.strong_first)
            order = [int(v) for v in np.argsort(-priority, kind="stable") if int(v) not in unavailable]
            kinds = links.donor_kind_names()
            successors = [
                [LinkSpec(index, -1, kinds[link], int(links.donor_index[link]), village)]
                for link, village in zip(leaving, order, strict=False)
            ]
            self._create_branches(index, successors, step, weak)

    def _form_rounds(self, step: int, weak: np.ndarray) -> None:
        """Policies with a round due this month dissolve their pairs if they churn, then top up to their ``pairs``
        (sim/pairing/rounds.py); ``weak`` is each village's weak status this month (the new links' ``targets_weak``)."""
        targeting = None
        for index, policy in enumerate(self.spec.policies):
            if not rounds.due(policy, step):
                continue
            links = self.links
            if policy.rounds.dissolve_each_round:
                dissolving = np.flatnonzero(links.active & (links.policy == index))
                links.status[dissolving] = DISSOLVED
                self.close_links(dissolving, step)
            if targeting is None:  # the county does not change while pairs are formed
                targeting = rounds.current_targeting(self.county, self.spec.failure.strong_first)
            barred = rounds.barred_villages(links, len(weak), self.spec, index)
            places = rounds.open_places(links, index, policy)
            groups = rounds.plan_round(self.county, links, index, policy, places, barred, targeting, self.rng, at_most=True)
            self._create_branches(index, groups, step, weak)

    # ------------------------------------------------------------------ bookkeeping

    def close_links(self, rows: np.ndarray, step: int) -> None:
        """Mark branches whose links have all closed in the graph (one pass over the links, however many close)."""
        if len(rows) == 0:
            return
        links = self.links
        active_links = np.bincount(links.branch[links.active], minlength=len(self.branches))
        touched = np.unique(links.branch[rows])
        for branch_index in touched[active_links[touched] == 0].tolist():
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
        """Person-weighted mean income of villages ever paired and never paired (the comparison the source documents make)."""
        h, people = self.county.households, self.county.population
        income = h.village_sum(h.annual)
        out = {}
        for key, villages in zip(PAIRED_INCOMES, (self.ever_paired, ~self.ever_paired), strict=True):
            residents = people[villages].sum()
            out[key] = float(income[villages].sum() / residents) if residents > 0 else float("nan")
        return out

    # ------------------------------------------------------------------ results

    def link_table(self) -> pd.DataFrame:
        """One row per link: policy, branch, donor, village, status, effort, last rating."""
        links, villages = self.links, self.county.organisations["village"]
        kinds = links.donor_kind_names()
        return pd.DataFrame(
            {
                "link": np.arange(len(links)),
                "branch": links.branch,
                "policy": np.array(self.policy_labels, dtype=object)[links.policy] if len(links) else [],
                "donor": [self._organisation(k, i).name for k, i in zip(kinds, links.donor_index, strict=True)],
                "donor_kind": kinds,
                "village": [villages[v].name for v in links.village],
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
            for flow in self.flows:
                of_flow = flows_of_policy[flows_of_policy["flow"] == flow]
                row[self.flows[flow].ledger_column] = float(of_flow["sent"].sum())
                if flow == "funds":  # only money leaks on its way, and is captured
                    row["funds_lost"] = float(of_flow["lost"].sum())
                    row["funds_received"] = float(of_flow["received"].sum())
                    row["funds_captured"] = float(of_flow["captured"].sum())
                    row["funds_broad_based"] = row["funds_received"] - row["funds_captured"]
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
        # Each branch's links, in link order, as one slice of the links sorted by branch (one sort, not one scan a branch).
        order = np.argsort(links.branch, kind="stable")
        bounds = np.searchsorted(links.branch[order], np.arange(len(self.branches) + 1)).tolist()
        status, effort, rating = links.status[order], links.effort[order], links.rating[order]
        for branch in self.branches:
            members = slice(bounds[branch.index], bounds[branch.index + 1])
            attributes = self.graph.nodes[branch.node_id]
            attributes["status"] = "active" if (status[members] == ACTIVE).any() else STATUS_NAMES[int(status[members].max())]
            attributes["effort"] = float(effort[members].mean())
            attributes["last_rating"] = RATING_NAMES[int(rating[members].min())]
        return self.graph


def _unique(items: list) -> list:
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out
