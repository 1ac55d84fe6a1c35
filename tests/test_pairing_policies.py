"""Tests for who pairs with whom (sim.pairing.policies): valid matchings for every policy type,
joint branches as Mesa agents, the pairing graph and first secretaries' rotation.

Models here are only built (matching happens at construction), except the rotation test, which
runs one small year. The Shouguang 2009 scenario (975 villages) is built once for the module.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sim.agents import JointBranch
from sim.model import PairingModel
from sim.pairing.links import ACTIVE, ROTATED
from sim.pairing.policies import HOST_RADIUS_KM, PROBLEM_TYPES, TYPED_RULE, problem_types, targeting_priority, village_need
from sim.scenario import parse_scenario

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL = REPO_ROOT / "scenarios" / "small.yaml"
SHOUGUANG = REPO_ROOT / "scenarios" / "shouguang_2009.yaml"
SMALL_DATA: dict[str, Any] = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
ALL_DEPARTMENT_TYPES = [
    {"type": kind, "count": 2, "annual_budget": 100_000, "cadres": 2}
    for kind in ("party_mass", "political_legal", "economic", "agriculture")
]


def small_with(policies: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SMALL_DATA)
    data.update(copy.deepcopy(changes))
    data["pairing"] = {"policies": policies, "failure": {"strong_first": 0.0}}
    return data


def build(data: dict[str, Any], seed: int = 1) -> PairingModel:
    return PairingModel(parse_scenario(data, source="test scenario"), rng=seed)


def organisation(model: PairingModel, kind: str, index: int):
    return model.organisations_of(kind)[index]


def policy_links(model: PairingModel, index: int) -> list[tuple[str, int, int]]:
    """(donor kind, donor index, village) of every link of one policy."""
    links = model.pairing.links
    rows = np.flatnonzero(links.policy == index)
    kinds = links.donor_kind_names()
    return [(kinds[r], int(links.donor_index[r]), int(links.village[r])) for r in rows]


def donor_counts(links: list[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
    counts: dict[tuple[str, int], int] = {}
    for kind, donor, _ in links:
        counts[(kind, donor)] = counts.get((kind, donor), 0) + 1
    return counts


def village_donors(links: list[tuple[str, int, int]]) -> dict[int, list[tuple[str, int]]]:
    out: dict[int, list[tuple[str, int]]] = {}
    for kind, donor, village in links:
        out.setdefault(village, []).append((kind, donor))
    return out


# --------------------------------------------------------------------------- invariants of every policy type


def check_policy(model: PairingModel, index: int) -> None:
    """The matching rules of one policy, on a freshly built model (state as at matching time)."""
    policy = model.spec.pairing.policies[index]
    links = policy_links(model, index)
    assert links, f"policy {index} formed no links"
    assert len(set(links)) == len(links), "a donor-village pair is linked twice"
    kinds = {kind for kind, _, _ in links}
    expected_kinds = {
        "city_village": {"department", "community"},
        "village_enterprise": {"enterprise", "cooperative"},
        "strong_weak": {"village"},
        "industry_chain": {"cooperative"},
        "cadre_dispatch": {"department"},
    }[policy.type]
    assert kinds <= expected_kinds
    per_village = village_donors(links)
    per_donor = donor_counts(links)
    branches = {model.pairing.links.branch[r] for r in np.flatnonzero(model.pairing.links.policy == index)}
    n_donors = {
        "city_village": len(model.departments) + len(model.communities),
        "village_enterprise": len(model.enterprises) + len(model.cooperatives),
    }

    if policy.type == "industry_chain":
        assert len(branches) == policy.pairs  # one chain (branch) per cooperative
        assert max(per_donor.values()) <= policy.donors_per_pair  # villages per cooperative
        assert max(len(d) for d in per_village.values()) == 1  # a village joins one chain
        for _, donor, village in links:
            assert model.villages[village].industry == model.cooperatives[donor].industry
    else:
        assert len(branches) == policy.pairs == len(per_village)  # one branch per recipient village
        for donors in per_village.values():
            assert len(donors) == len(set(donors)) <= policy.donors_per_pair

    if policy.type == "city_village":
        capacity = math.ceil(policy.pairs * policy.donors_per_pair / n_donors["city_village"])
        assert max(per_donor.values()) <= capacity
        if policy.donors_per_pair == 1 and not policy.typed:
            # Weak villages first, by need.
            priority = targeting_priority(model.county, village_need(model.county), model.spec.pairing.failure.strong_first)
            neediest = set(np.argsort(-priority, kind="stable")[: policy.pairs].tolist())
            assert set(per_village) == neediest
            weak = model.village_state.weak(model.spec.classification)
            if weak.sum() >= policy.pairs:
                assert weak[list(per_village)].all()  # the seeds pair weak villages (薄弱村)
    if policy.type == "village_enterprise":
        assert max(per_donor.values()) == 1
        for kind, donor, village in links:
            organisation = model.enterprises[donor] if kind == "enterprise" else model.cooperatives[donor]
            distance = math.dist(organisation.xy, model.villages[village].xy)
            assert distance <= HOST_RADIUS_KM + 1e-9
    if policy.type == "strong_weak":
        recipients = set(per_village)
        donors = {donor for _, donor, _ in links}
        assert max(per_donor.values()) == 1
        assert not donors & recipients  # a strong village is nobody's recipient in this policy
        assert all(donor != village for _, donor, village in links)
        need = village_need(model.county)
        assert need[sorted(donors)].max() < need[sorted(recipients)].min()  # donors are the stronger villages
    if policy.type == "cadre_dispatch":
        for (_, donor), count in per_donor.items():
            assert count <= model.departments[donor].cadres
        leadership = model.village_state.leadership
        weakest = set(np.argsort(leadership, kind="stable")[: policy.pairs].tolist())
        assert set(per_village) == weakest
        assert max(len(d) for d in per_village.values()) == 1


def check_branches_and_graph(model: PairingModel) -> None:
    """Joint branches are Mesa agents, one per branch; the graph links each branch with its members."""
    programme, links = model.pairing, model.pairing.links
    registered = list(model.agents_by_type[JointBranch]) if JointBranch in model.agents_by_type else []
    assert len(registered) == len(programme.branches)
    assert {id(a) for a in registered} == {id(b) for b in programme.branches}
    assert [b.index for b in programme.branches] == list(range(len(programme.branches)))
    assert set(links.branch.tolist()) == set(range(len(programme.branches)))

    graph = programme.graph
    expected_edges = set()
    for branch in programme.branches:
        rows = np.flatnonzero(links.branch == branch.index)
        assert len({links.policy[r] for r in rows}) == 1
        kinds = links.donor_kind_names()
        member_donors = {id(organisation(model, kinds[r], int(links.donor_index[r]))) for r in rows}
        member_villages = {id(model.villages[int(links.village[r])]) for r in rows}
        assert member_donors == {id(d) for d in branch.donors}
        assert member_villages == {id(v) for v in branch.villages}
        assert graph.nodes[branch.node_id]["kind"] == "joint_branch"
        assert graph.nodes[branch.node_id]["type"] == branch.policy_type
        for member, role in [*((d, "donor") for d in branch.donors), *((v, "recipient") for v in branch.villages)]:
            assert graph.has_edge(member.node_id, branch.node_id)
            assert graph.edges[member.node_id, branch.node_id]["role"] == role
            assert graph.nodes[member.node_id]["kind"] == member.kind
            expected_edges.add(frozenset((member.node_id, branch.node_id)))
    assert {frozenset(e) for e in graph.edges} == expected_edges
    members = {n for e in expected_edges for n in e} - {b.node_id for b in programme.branches}
    assert graph.number_of_nodes() == len(programme.branches) + len(members)
    for u, v in graph.edges:  # bipartite: members only meet through branches
        assert (graph.nodes[u]["kind"] == "joint_branch") != (graph.nodes[v]["kind"] == "joint_branch")


# --------------------------------------------------------------------------- small.yaml as shipped


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_yaml_matchings_are_valid(seed):
    model = PairingModel(scenario=SMALL, rng=seed)
    assert [p.type for p in model.spec.pairing.policies] == [
        "city_village",
        "village_enterprise",
        "strong_weak",
        "industry_chain",
        "cadre_dispatch",
    ]
    for index in range(len(model.spec.pairing.policies)):
        check_policy(model, index)
    check_branches_and_graph(model)
    # Strong donor villages are not recipients of any other policy either.
    links = model.pairing.links
    strong = set(links.donor_index[links.of_kind("village")].tolist())
    assert not strong & set(links.village.tolist())
    assert (links.status == ACTIVE).all()


# --------------------------------------------------------------------------- each policy type


@pytest.mark.parametrize("matching", ["greedy", "random", "optimal"])
def test_city_village_one_to_one(matching):
    data = small_with(
        [{"type": "city_village", "pairs": 9, "matching": matching, "flows": {"funds": 1000}}],
        departments=ALL_DEPARTMENT_TYPES,
        communities={"count": 2},
    )
    model = build(data)
    check_policy(model, 0)
    check_branches_and_graph(model)
    assert len(model.pairing.links) == 9  # each village once


@pytest.mark.parametrize("matching", ["greedy", "random", "optimal"])
def test_city_village_many_to_one(matching):
    data = small_with(
        [{"type": "city_village", "pairs": 5, "donors_per_pair": 2, "matching": matching, "flows": {"funds": 1000}}],
        departments=ALL_DEPARTMENT_TYPES,
        communities={"count": 2},
    )
    model = build(data)
    check_policy(model, 0)
    check_branches_and_graph(model)
    donors_per_village = [len(b.donors) for b in model.pairing.branches]
    assert all(1 <= n <= 2 for n in donors_per_village) and max(donors_per_village) == 2
    assert all(len(b.villages) == 1 for b in model.pairing.branches)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_typed_city_village_follows_the_xiuzhou_rule(seed):
    data = small_with(
        [{"type": "city_village", "typed": True, "pairs": 10, "flows": {"funds": 1000}}],
        departments=ALL_DEPARTMENT_TYPES,
        communities={"count": 2},
    )
    model = build(data, seed)
    check_policy(model, 0)
    problems = problem_types(model.county)  # the village's main problem when matched (the model has not stepped)
    links = model.pairing.links
    departments_used = 0
    for row in range(len(links)):
        kind = links.donor_kind_names()[row]
        if kind == "department":
            departments_used += 1
            department = model.departments[links.donor_index[row]]
            assert PROBLEM_TYPES[problems[links.village[row]]] == TYPED_RULE[department.department_type], department.name
        else:
            assert kind == "community"  # communities may serve any village
    assert departments_used > 0


@pytest.mark.parametrize(
    ("pairs", "donors_per_pair", "matching"), [(8, 1, "greedy"), (5, 2, "greedy"), (6, 1, "optimal"), (6, 2, "random")]
)
def test_strong_weak_donors_are_never_recipients(pairs, donors_per_pair, matching):
    data = small_with(
        [
            {
                "type": "strong_weak",
                "pairs": pairs,
                "donors_per_pair": donors_per_pair,
                "matching": matching,
                "flows": {"funds": 1000},
            }
        ]
    )
    model = build(data)
    check_policy(model, 0)
    check_branches_and_graph(model)
    for branch in model.pairing.branches:
        assert branch.secretary_from == branch.donors[0].name  # the strong side provides the secretary


def test_industry_chain_links_only_its_industry():
    data = small_with(
        [{"type": "industry_chain", "pairs": 3, "donors_per_pair": 3, "flows": {"trainees": 10}}],
        cooperatives=[{"industry": "vegetables", "count": 2}, {"industry": "grain", "count": 1}],
    )
    model = build(data)
    check_policy(model, 0)
    check_branches_and_graph(model)
    assert {c.industry for c in model.cooperatives} == {"vegetables", "grain"}
    for branch in model.pairing.branches:  # one-to-many: one cooperative, several villages
        assert len(branch.donors) == 1 and 1 <= len(branch.villages) <= 3
        assert {v.industry for v in branch.villages} == {branch.donors[0].industry}


def test_village_enterprise_pairs_neighbours():
    model = build(small_with([{"type": "village_enterprise", "pairs": 4, "flows": {"jobs": 5}}]))
    check_policy(model, 0)
    check_branches_and_graph(model)


def test_cadre_dispatch_posts_to_the_weakest_leadership():
    model = build(small_with([{"type": "cadre_dispatch", "pairs": 6, "flows": {"cadre_months": 12}}]))
    check_policy(model, 0)
    check_branches_and_graph(model)


def test_cadres_rotate_and_successors_are_posted():
    rotation = 5
    data = small_with(
        [{"type": "cadre_dispatch", "pairs": 3, "rotation_months": rotation, "flows": {"cadre_months": 12}}], horizon_years=1
    )
    model = build(data)
    links = model.pairing.links
    while model.running:
        model.step()
        assert int(links.active.sum()) == 3  # a successor for every secretary who leaves
    starts = sorted(set(links.start_step.tolist()))
    assert starts == [0, rotation, 2 * rotation]
    for row in np.flatnonzero(links.status == ROTATED):
        successors = np.flatnonzero(
            (links.start_step == links.start_step[row] + rotation) & (links.donor_index == links.donor_index[row])
        )
        assert successors.size >= 1, f"no successor from the department of link {row}"
        assert model.pairing.branches[links.branch[row]].closed_step == links.start_step[row] + rotation
    assert (links.status[links.start_step < 2 * rotation] == ROTATED).all()
    assert (links.status[links.start_step == 2 * rotation] == ACTIVE).all()
    for start in starts:  # postings of one round go to distinct villages, within each department's cadres
        batch = links.start_step == start
        assert len(set(links.village[batch].tolist())) == int(batch.sum())
        for department, count in zip(*np.unique(links.donor_index[batch], return_counts=True), strict=True):
            assert count <= model.departments[department].cadres
    check_branches_and_graph(model)
    cadre_ledger = model.pairing.ledger.frame()
    assert set(cadre_ledger["flow"]) == {"cadre_months"}
    assert (cadre_ledger.groupby("step")["sent"].sum() > 0).all()


# --------------------------------------------------------------------------- Shouguang 2009 (975 villages)


@pytest.fixture(scope="module")
def shouguang() -> PairingModel:
    return PairingModel(scenario=SHOUGUANG, rng=1)


def test_shouguang_matchings_are_valid(shouguang):
    policies = shouguang.spec.pairing.policies
    assert [p.type for p in policies] == ["city_village", "village_enterprise", "strong_weak", "industry_chain"]
    for index in range(len(policies)):
        check_policy(shouguang, index)
    check_branches_and_graph(shouguang)
    links = shouguang.pairing.links
    city_village = links.policy == 0
    assert len(np.unique(links.village[city_village])) == 110
    # 100 departments + 10 communities for 110 villages: every donor exactly once.
    donors = set(zip(links.donor_kind[city_village].tolist(), links.donor_index[city_village].tolist(), strict=True))
    assert len(donors) == 110
    assert len(shouguang.pairing.branches) == 110 + 17 + 18 + 11
    assert int((links.policy == 3).sum()) == 11 * 5  # five villages a chain
