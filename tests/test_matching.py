"""Tests for sim.pairing.matching: capacity/validity invariants, optimality against brute force
and networkx's blossom matching, greedy/random behaviour, input validation."""

from __future__ import annotations

import doctest
import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.pairing import matching
from sim.pairing.matching import ALGORITHMS, match, pair_counts

SETTINGS = settings(max_examples=30, deadline=None)  # small instances: 30 cover empty, tied and full cases

# Small integers make ties likely (exercising tie-breaking); floats cover the rest.
SCORE = st.one_of(
    st.just(-np.inf),
    st.integers(-3, 3).map(float),
    st.floats(-10, 10, allow_nan=False, allow_infinity=False),
)


@st.composite
def instances(draw, max_donors=8, max_recipients=8, max_cap=3, min_size=0, score=SCORE):
    n_d = draw(st.integers(min_size, max_donors))
    n_r = draw(st.integers(min_size, max_recipients))
    scores = np.array(draw(st.lists(score, min_size=n_d * n_r, max_size=n_d * n_r)), dtype=float)
    dcap = draw(st.lists(st.integers(0, max_cap), min_size=n_d, max_size=n_d))
    rcap = draw(st.lists(st.integers(0, max_cap), min_size=n_r, max_size=n_r))
    return scores.reshape(n_d, n_r), np.array(dcap, dtype=np.int64), np.array(rcap, dtype=np.int64)


def total(scores, links):
    return float(scores[links[:, 0], links[:, 1]].sum())


def close_or_above(a, b):
    """a >= b up to float rounding of the sums."""
    return a >= b - 1e-9 * (1.0 + abs(a) + abs(b))


def brute_force(scores, dcap, rcap):
    """(max number of links, best total among max-size sets) by enumerating subsets."""
    allowed = [(d, r) for d, r in zip(*np.nonzero(np.isfinite(scores)))]
    for k in range(len(allowed), -1, -1):
        best = None
        for subset in itertools.combinations(allowed, k):
            dc = np.bincount([d for d, _ in subset], minlength=len(dcap))
            rc = np.bincount([r for _, r in subset], minlength=len(rcap))
            if (dc <= dcap).all() and (rc <= rcap).all():
                s = sum(float(scores[d, r]) for d, r in subset)
                best = s if best is None else max(best, s)
        if best is not None:
            return k, best
    raise AssertionError("unreachable: the empty set is always feasible")


# --- invariants for every algorithm -------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@SETTINGS
@given(inst=instances(), seed=st.integers(0, 2**32 - 1))
def test_links_are_valid(algorithm, inst, seed):
    scores, dcap, rcap = inst
    links = match(scores, dcap, rcap, algorithm, np.random.default_rng(seed))

    assert links.dtype == np.int64 and links.ndim == 2 and links.shape[1] == 2
    n_d, n_r = scores.shape
    donors, recipients = pair_counts(links, n_d, n_r)
    assert (donors <= dcap).all() and (recipients <= rcap).all()
    assert len({tuple(link) for link in links.tolist()}) == len(links)
    assert np.isfinite(scores[links[:, 0], links[:, 1]]).all()
    keys = [(r, d) for d, r in links.tolist()]
    assert keys == sorted(keys)
    again = match(scores, dcap, rcap, algorithm, np.random.default_rng(seed))
    np.testing.assert_array_equal(links, again)


@pytest.mark.parametrize("algorithm", ("greedy", "random"))
@SETTINGS
@given(inst=instances(), seed=st.integers(0, 2**32 - 1))
def test_greedy_and_random_are_maximal(algorithm, inst, seed):
    """Both walk every candidate, so no allowed link with room at both ends is left out."""
    scores, dcap, rcap = inst
    links = match(scores, dcap, rcap, algorithm, np.random.default_rng(seed))
    donors, recipients = pair_counts(links, *scores.shape)
    chosen = {tuple(link) for link in links.tolist()}
    for d, r in zip(*np.nonzero(np.isfinite(scores))):
        if (int(d), int(r)) not in chosen:
            assert donors[d] >= dcap[d] or recipients[r] >= rcap[r]


# --- optimal ---------------------------------------------------------------------------------


@SETTINGS
@given(inst=instances(), seed=st.integers(0, 2**32 - 1))
def test_optimal_dominates_greedy_and_random(inst, seed):
    scores, dcap, rcap = inst
    best = match(scores, dcap, rcap, "optimal", np.random.default_rng(seed))
    for algorithm in ("greedy", "random"):
        other = match(scores, dcap, rcap, algorithm, np.random.default_rng(seed))
        assert len(best) >= len(other)
        if len(best) == len(other):
            assert close_or_above(total(scores, best), total(scores, other))


@SETTINGS
@given(inst=instances(max_donors=3, max_recipients=3))
def test_optimal_matches_brute_force(inst):
    scores, dcap, rcap = inst
    links = match(scores, dcap, rcap, "optimal", np.random.default_rng(0))
    k, best = brute_force(scores, dcap, rcap)
    assert len(links) == k
    assert abs(total(scores, links) - best) <= 1e-9 * (1.0 + abs(best))


@SETTINGS
@given(
    inst=instances(
        min_size=1,
        max_cap=1,
        score=st.one_of(st.just(-np.inf), st.integers(1, 50).map(float)),
    )
)
def test_one_to_one_agrees_with_max_weight_matching(inst):
    scores, _, _ = inst
    n_d, n_r = scores.shape
    ones_d, ones_r = np.ones(n_d, dtype=np.int64), np.ones(n_r, dtype=np.int64)
    links = match(scores, ones_d, ones_r, "optimal", np.random.default_rng(0))
    assert len(set(links[:, 0].tolist())) == len(links)
    assert len(set(links[:, 1].tolist())) == len(links)

    graph = nx.Graph()
    graph.add_nodes_from(("d", d) for d in range(n_d))
    graph.add_nodes_from(("r", r) for r in range(n_r))
    for d, r in zip(*np.nonzero(np.isfinite(scores))):
        graph.add_edge(("d", int(d)), ("r", int(r)), weight=int(scores[d, r]))
    blossom = nx.max_weight_matching(graph, maxcardinality=True)
    assert len(links) == len(blossom)
    expected = sum(graph[u][v]["weight"] for u, v in blossom)
    assert total(scores, links) == expected


def test_optimal_puts_cardinality_before_score():
    scores = np.array([[10.0, 1.0], [1.0, -np.inf]])
    cap = np.array([1, 1])
    assert match(scores, cap, cap, "optimal", np.random.default_rng(0)).tolist() == [[1, 0], [0, 1]]
    # Greedy grabs the 10 and strands donor 1.
    assert match(scores, cap, cap, "greedy", np.random.default_rng(0)).tolist() == [[0, 0]]


def test_optimal_takes_negative_scores_when_they_add_links():
    links = match(np.array([[-100.0]]), np.array([1]), np.array([1]), "optimal", np.random.default_rng(0))
    assert links.tolist() == [[0, 0]]


@pytest.mark.parametrize("tiny", [1e-12, 1e-300, 5e-324])
def test_optimal_is_exact_for_tiny_score_differences(tiny):
    """No rounding: a difference far below any fixed decimal scale still decides the pairing."""
    scores = np.array([[tiny, 0.0], [0.0, 0.0]])
    cap = np.array([1, 1])
    assert match(scores, cap, cap, "optimal", np.random.default_rng(0)).tolist() == [[0, 0], [1, 1]]
    flipped = np.array([[0.0, tiny], [0.0, 0.0]])
    assert match(flipped, cap, cap, "optimal", np.random.default_rng(0)).tolist() == [[1, 0], [0, 1]]


@pytest.mark.slow
def test_large_instance_all_algorithms():
    """120 donors x 200 recipients, all allowed (the size the brief asks to handle)."""
    rng = np.random.default_rng(7)
    scores = rng.random((120, 200))
    dcap, rcap = np.full(120, 2), np.full(200, 1)
    results = {a: match(scores, dcap, rcap, a, np.random.default_rng(1)) for a in ALGORITHMS}
    for links in results.values():
        assert len(links) == 200
    assert total(scores, results["optimal"]) >= total(scores, results["greedy"]) - 1e-9
    assert total(scores, results["greedy"]) > total(scores, results["random"])


# --- greedy -------------------------------------------------------------------------------------


@SETTINGS
@given(inst=instances(min_size=1), seed=st.integers(0, 2**32 - 1))
def test_greedy_takes_a_top_scored_link(inst, seed):
    scores, dcap, rcap = inst
    usable = np.isfinite(scores) & (dcap[:, None] > 0) & (rcap[None, :] > 0)
    links = match(scores, dcap, rcap, "greedy", np.random.default_rng(seed))
    if not usable.any():
        assert len(links) == 0
        return
    top = scores[usable].max()
    assert (scores[links[:, 0], links[:, 1]] == top).any()


def test_greedy_ties_are_broken_by_rng():
    scores = np.ones((4, 4))
    cap = np.ones(4, dtype=np.int64)
    outcomes = {match(scores, cap, cap, "greedy", np.random.default_rng(s)).tobytes() for s in range(30)}
    assert len(outcomes) > 1


def test_greedy_follows_descending_scores():
    scores = np.array([[5.0, 4.0, 0.0], [3.0, 2.0, 1.0]])
    links = match(scores, np.array([1, 2]), np.array([1, 1, 1]), "greedy", np.random.default_rng(0))
    assert links.tolist() == [[0, 0], [1, 1], [1, 2]]


# --- random ---------------------------------------------------------------------------------------


@SETTINGS
@given(inst=instances(), seed=st.integers(0, 2**32 - 1), other_seed=st.integers(0, 2**32 - 1))
def test_random_ignores_scores_apart_from_allowedness(inst, seed, other_seed):
    scores, dcap, rcap = inst
    other = np.random.default_rng(other_seed).normal(size=scores.shape) * 100
    other[~np.isfinite(scores)] = -np.inf
    a = match(scores, dcap, rcap, "random", np.random.default_rng(seed))
    b = match(other, dcap, rcap, "random", np.random.default_rng(seed))
    np.testing.assert_array_equal(a, b)


def test_random_is_not_score_seeking():
    scores = np.random.default_rng(3).random((20, 20))
    cap = np.ones(20, dtype=np.int64)
    means = {
        a: np.mean([total(scores, match(scores, cap, cap, a, np.random.default_rng(s))) / 20 for s in range(200)])
        for a in ("random", "greedy")
    }
    # Random's links average about the mean score (~0.5); greedy's are far higher.
    assert abs(means["random"] - scores.mean()) < 0.03
    assert means["greedy"] > means["random"] + 0.3


# --- edge cases and validation ------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    "scores, dcap, rcap",
    [
        (np.empty((0, 5)), np.empty(0, dtype=int), np.ones(5, dtype=int)),
        (np.empty((5, 0)), np.ones(5, dtype=int), np.empty(0, dtype=int)),
        (np.full((2, 3), -np.inf), np.ones(2, dtype=int), np.ones(3, dtype=int)),
        (np.ones((2, 3)), np.zeros(2, dtype=int), np.ones(3, dtype=int)),
        (np.ones((2, 3)), np.ones(2, dtype=int), np.zeros(3, dtype=int)),
    ],
)
def test_empty_results(algorithm, scores, dcap, rcap):
    links = match(scores, dcap, rcap, algorithm, np.random.default_rng(0))
    assert links.shape == (0, 2) and links.dtype == np.int64


def test_accepts_lists_and_whole_float_capacities():
    links = match([[1, 2], [3, 4]], [1.0, 1.0], [1, 1], "optimal", np.random.default_rng(0))
    assert links.tolist() == [[0, 0], [1, 1]]


def _call(scores=None, dcap=None, rcap=None, algorithm="greedy", rng=None):
    scores = np.ones((2, 3)) if scores is None else scores
    dcap = np.ones(2, dtype=int) if dcap is None else dcap
    rcap = np.ones(3, dtype=int) if rcap is None else rcap
    return match(scores, dcap, rcap, algorithm, np.random.default_rng(0) if rng is None else rng)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scores": np.array([[1.0, np.nan, 0.0], [0.0, 0.0, 0.0]])}, "finite or -inf"),
        ({"scores": np.array([[1.0, np.inf, 0.0], [0.0, 0.0, 0.0]])}, "finite or -inf"),
        ({"scores": np.ones(3)}, "2-D"),
        ({"scores": np.ones((2, 3, 1))}, "2-D"),
        ({"scores": np.array([["a", "b", "c"], ["d", "e", "f"]])}, "real numbers"),
        ({"dcap": np.ones(3, dtype=int)}, "donor_capacity must have shape"),
        ({"rcap": np.ones((3, 1), dtype=int)}, "recipient_capacity must have shape"),
        ({"dcap": np.array([1, -1])}, "non-negative"),
        ({"rcap": np.array([1, 1.5, 1])}, "whole numbers"),
        ({"rcap": np.array([True, False, True])}, "integers"),
        ({"algorithm": "hungarian"}, "'greedy', 'random', 'optimal'"),
        ({"algorithm": None}, "unknown matching algorithm"),
    ],
)
def test_invalid_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _call(**kwargs)


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        _call(rng=np.random.RandomState(0))


def test_pair_counts():
    links = np.array([[0, 1], [2, 1], [2, 0]])
    donors, recipients = pair_counts(links, 4, 2)
    assert donors.tolist() == [1, 0, 2, 0] and recipients.tolist() == [1, 2]
    donors, recipients = pair_counts(np.empty((0, 2), dtype=np.int64), 2, 3)
    assert donors.tolist() == [0, 0] and recipients.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="out of range"):
        pair_counts(links, 2, 2)
    with pytest.raises(ValueError, match="shape"):
        pair_counts(np.array([1, 2]), 2, 2)


def test_doctests():
    result = doctest.testmod(matching)
    assert result.attempted > 0 and result.failed == 0


# --- the listed form and the walk --------------------------------------------------------------


def walk_one_by_one(order_donor, order_recipient, dcap, rcap):
    """The greedy walk as first written: every candidate in turn, kept if both ends have room (the oracle)."""
    donor_left, recipient_left, taken = dcap.tolist(), rcap.tolist(), []
    for d, r in zip(order_donor.tolist(), order_recipient.tolist()):
        if donor_left[d] and recipient_left[r]:
            donor_left[d] -= 1
            recipient_left[r] -= 1
            taken.append((d, r))
    return np.array(taken, dtype=np.int64).reshape(-1, 2)


@SETTINGS
@given(inst=instances(max_donors=12, max_recipients=12), seed=st.integers(0, 2**32 - 1))
def test_windowed_walk_keeps_what_the_one_by_one_walk_keeps(inst, seed):
    """The walk checks candidates a window at a time; it must keep exactly the links, in the order, of the plain walk."""
    scores, dcap, rcap = inst
    donor, recipient = np.nonzero(np.isfinite(scores))
    order = np.random.default_rng(seed).permutation(donor.size)
    got = matching._take_in_order(donor[order], recipient[order], dcap, rcap)
    np.testing.assert_array_equal(got, walk_one_by_one(donor[order], recipient[order], dcap, rcap))


def test_windowed_walk_on_a_long_all_allowed_order():
    """Every donor may serve every recipient (city-village pairing): most candidates are passed over, windows grow."""
    rng = np.random.default_rng(5)
    n_donors, n_recipients = 300, 400
    donor, recipient = np.divmod(rng.permutation(n_donors * n_recipients), n_recipients)
    dcap, rcap = rng.integers(0, 3, n_donors), rng.integers(0, 2, n_recipients)
    got = matching._take_in_order(donor, recipient, dcap, rcap)
    np.testing.assert_array_equal(got, walk_one_by_one(donor, recipient, dcap, rcap))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@SETTINGS
@given(inst=instances(), seed=st.integers(0, 2**32 - 1))
def test_listed_candidates_give_the_dense_result_and_draws(algorithm, inst, seed):
    """match_listed on the allowed cells, row by row, gives match's links and leaves the rng in the same state."""
    scores, dcap, rcap = inst
    donor, recipient = np.nonzero(np.isfinite(scores))
    dense_rng, listed_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    dense = match(scores, dcap, rcap, algorithm, dense_rng)
    listed = matching.match_listed(donor, recipient, scores[donor, recipient], dcap, rcap, algorithm, listed_rng)
    np.testing.assert_array_equal(dense, listed)
    assert dense_rng.random() == listed_rng.random()


@pytest.mark.parametrize(
    "donor, recipient, score, message",
    [
        ([0, 1], [0], [1.0, 1.0], "one length"),
        ([0, 2], [0, 0], [1.0, 1.0], "donor index out of range"),
        ([0, 1], [0, -1], [1.0, 1.0], "recipient index out of range"),
        ([1, 0], [0, 0], [1.0, 1.0], "sorted by"),
        ([0, 0], [1, 1], [1.0, 1.0], "sorted by"),
        ([0, 1], [0, 0], [1.0, -np.inf], "finite"),
        ([0.0, 1.0], [0, 0], [1.0, 1.0], "integer indices"),
        ([0, 1], [0, 0], ["a", "b"], "real numbers"),
    ],
)
def test_listed_invalid_inputs(donor, recipient, score, message):
    cap = np.ones(2, dtype=np.int64)
    with pytest.raises(ValueError, match=message):
        matching.match_listed(np.array(donor), np.array(recipient), np.array(score), cap, cap, "greedy", np.random.default_rng(0))


def test_listed_capacities_must_be_one_dimensional():
    with pytest.raises(ValueError, match="1-D"):
        matching.match_listed(
            np.array([0]), np.array([0]), np.array([1.0]), np.ones((1, 1)), np.ones(1), "random", np.random.default_rng(0)
        )
