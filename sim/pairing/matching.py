"""Decide which donors pair with which recipients, under capacity limits on both sides.

Kept pure (numpy + networkx only) so the pairing rule can be tested and compared on its
own: "greedy" and "random" mimic how programmes are assigned in practice, "optimal" is the
benchmark they are measured against.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ALGORITHMS", "match", "pair_counts"]

ALGORITHMS = ("greedy", "random", "optimal")

_EMPTY_LINKS_SHAPE = (0, 2)


def match(
    scores: np.ndarray,
    donor_capacity: np.ndarray,
    recipient_capacity: np.ndarray,
    algorithm: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Choose (donor, recipient) links; each link needs a finite score and both sides need spare capacity.

    ``scores[d, r]`` is the benefit of linking donor ``d`` to recipient ``r``; ``-np.inf``
    forbids the link. A donor takes at most ``donor_capacity[d]`` links and a recipient at
    most ``recipient_capacity[r]`` (donors per pair); a pair is linked at most once.

    - ``"greedy"``: allowed links by descending score (ties in an rng-shuffled order), each
      taken if both ends still have room. This is how a programme office assigns by hand.
    - ``"random"``: allowed links in an rng-shuffled order, each taken if it fits; scores are
      ignored apart from allowedness, so this is the no-information baseline.
    - ``"optimal"``: the most links possible, and among those the largest total score
      (exactly: see ``_optimal``). ``rng`` is not used.

    Returns an ``(n_links, 2)`` int64 array of ``(donor, recipient)``, sorted by
    ``(recipient, donor)`` so results compare equal across algorithms and runs.
    The same ``rng`` state gives the same links.

    >>> scores = np.array([[3.0, 1.0], [2.0, -np.inf]])
    >>> cap = np.array([1, 1])
    >>> match(scores, cap, cap, "greedy", np.random.default_rng(0)).tolist()
    [[0, 0]]
    >>> match(scores, cap, cap, "optimal", np.random.default_rng(0)).tolist()
    [[1, 0], [0, 1]]
    """
    scores, dcap, rcap = _validate(scores, donor_capacity, recipient_capacity, algorithm, rng)
    n_donors, n_recipients = scores.shape
    if n_donors == 0 or n_recipients == 0:
        return np.empty(_EMPTY_LINKS_SHAPE, dtype=np.int64)

    # Candidate links: finite score and room at both ends (flat indices d * n_recipients + r).
    usable = np.isfinite(scores) & (dcap[:, None] > 0) & (rcap[None, :] > 0)
    candidates = np.flatnonzero(usable)
    if candidates.size == 0:
        return np.empty(_EMPTY_LINKS_SHAPE, dtype=np.int64)

    if algorithm == "optimal":
        links = _optimal(scores, dcap, rcap, candidates)
    else:
        # Shuffle first: "random" uses this order as is; "greedy" stable-sorts it by score,
        # so the shuffle only decides the order among tied scores.
        order = candidates[rng.permutation(candidates.size)]
        if algorithm == "greedy":
            order = order[np.argsort(-scores.ravel()[order], kind="stable")]
        links = _take_in_order(order, n_recipients, dcap, rcap)
    return _sorted_links(links)


def pair_counts(links: np.ndarray, n_donors: int, n_recipients: int) -> tuple[np.ndarray, np.ndarray]:
    """Links per donor and per recipient, for checking capacities and reporting coverage.

    >>> pair_counts(np.array([[0, 1], [2, 1]]), 3, 2)
    (array([1, 0, 1]), array([0, 2]))
    """
    links = np.asarray(links)
    if links.ndim != 2 or links.shape[1] != 2:
        raise ValueError(f"links must have shape (n_links, 2), got {links.shape}")
    if links.size and not np.issubdtype(links.dtype, np.integer):
        raise ValueError(f"links must hold integer indices, got dtype {links.dtype}")
    for name, n in (("n_donors", n_donors), ("n_recipients", n_recipients)):
        if int(n) != n or n < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    links = links.astype(np.int64, copy=False)
    for col, name, n in ((0, "donor", n_donors), (1, "recipient", n_recipients)):
        if links.size and (links[:, col].min() < 0 or links[:, col].max() >= n):
            raise ValueError(f"{name} index out of range 0..{int(n) - 1} in links")
    donors = np.bincount(links[:, 0], minlength=int(n_donors)).astype(np.int64)
    recipients = np.bincount(links[:, 1], minlength=int(n_recipients)).astype(np.int64)
    return donors, recipients


def _validate(scores, donor_capacity, recipient_capacity, algorithm, rng):
    """Check inputs up front so a bad scenario fails with a clear message, not a wrong pairing."""
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        allowed = ", ".join(repr(a) for a in ALGORITHMS)
        raise ValueError(f"unknown matching algorithm {algorithm!r}; expected one of {allowed}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")

    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_donors, n_recipients), got shape {scores.shape}")
    if scores.dtype == np.bool_ or not (np.issubdtype(scores.dtype, np.integer) or np.issubdtype(scores.dtype, np.floating)):
        raise ValueError(f"scores must be real numbers, got dtype {scores.dtype}")
    scores = scores.astype(np.float64, copy=False)
    bad = np.isnan(scores) | (scores == np.inf)
    if bad.any():
        d, r = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"scores must be finite or -inf (not allowed); got {scores[d, r]} at donor {d}, recipient {r}")

    n_donors, n_recipients = scores.shape
    dcap = _capacity(donor_capacity, "donor_capacity", n_donors, "n_donors")
    rcap = _capacity(recipient_capacity, "recipient_capacity", n_recipients, "n_recipients")
    return scores, dcap, rcap


def _capacity(values, name: str, n: int, n_name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match scores' {n_name}, got {arr.shape}")
    if arr.size:
        if arr.dtype == np.bool_:
            raise ValueError(f"{name} must hold integers, got booleans")
        if np.issubdtype(arr.dtype, np.floating):
            if not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
                raise ValueError(f"{name} must hold whole numbers, got {arr.tolist()}")
        elif not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
        if (arr < 0).any():
            raise ValueError(f"{name} must be non-negative, got {arr.tolist()}")
    return arr.astype(np.int64)


def _take_in_order(order: np.ndarray, n_recipients: int, dcap: np.ndarray, rcap: np.ndarray) -> np.ndarray:
    """Walk candidate links in the given order and keep each one whose two ends still have room."""
    donor_left = dcap.tolist()
    recipient_left = rcap.tolist()
    # Once either side is full no further link can fit.
    room = min(sum(donor_left), sum(recipient_left))
    d_idx, r_idx = np.divmod(order, n_recipients)
    taken: list[tuple[int, int]] = []
    for d, r in zip(d_idx.tolist(), r_idx.tolist()):
        if donor_left[d] and recipient_left[r]:
            donor_left[d] -= 1
            recipient_left[r] -= 1
            taken.append((d, r))
            if len(taken) == room:
                break
    return np.array(taken, dtype=np.int64).reshape(-1, 2)


def _optimal(scores: np.ndarray, dcap: np.ndarray, rcap: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Maximum-cardinality, then maximum-score, links as a max-flow min-cost problem.

    Network: source -> donor (capacity donor_capacity, cost 0) -> recipient (capacity 1,
    cost below) -> sink (capacity recipient_capacity, cost 0). ``nx.max_flow_min_cost``
    fixes the flow at its maximum (most links), then minimises cost (best total score).

    Costs must be integers for the network simplex to be exact. Every finite float64 is
    ``numerator / 2**k`` exactly (``float.as_integer_ratio``), so multiplying all scores by
    the largest such denominator turns them into exact (arbitrary-size Python) integers with
    no rounding. Cost = (max scaled score) - (scaled score): non-negative, and because every
    maximum flow has the same number of links the shift does not change which one is cheapest.
    So the returned set maximises the exact sum of the float scores; ties go to whichever
    solution the network simplex finds first (deterministic).
    """
    n_recipients = scores.shape[1]
    d_idx, r_idx = np.divmod(candidates, n_recipients)
    ratios = [float(s).as_integer_ratio() for s in scores.ravel()[candidates].tolist()]
    denominator = max(den for _, den in ratios)
    scaled = [num * (denominator // den) for num, den in ratios]
    top = max(scaled)

    n_donors = scores.shape[0]
    source, sink = n_donors + n_recipients, n_donors + n_recipients + 1  # donors 0.., recipients n_donors..
    import networkx as nx  # here, not at the top: only "optimal" needs it, and validating a scenario imports this module

    graph = nx.DiGraph()
    graph.add_nodes_from(range(n_donors + n_recipients + 2))
    graph.add_edges_from((source, d, {"capacity": c, "weight": 0}) for d, c in enumerate(dcap.tolist()) if c > 0)
    graph.add_edges_from((n_donors + r, sink, {"capacity": c, "weight": 0}) for r, c in enumerate(rcap.tolist()) if c > 0)
    graph.add_edges_from(
        (d, n_donors + r, {"capacity": 1, "weight": top - s}) for d, r, s in zip(d_idx.tolist(), r_idx.tolist(), scaled)
    )
    flow = nx.max_flow_min_cost(graph, source, sink)
    taken = [(d, v - n_donors) for d in range(n_donors) for v, f in flow.get(d, {}).items() if f > 0]
    return np.array(taken, dtype=np.int64).reshape(-1, 2)


def _sorted_links(links: np.ndarray) -> np.ndarray:
    """Sort by (recipient, donor) so equal link sets give equal arrays."""
    if links.shape[0] == 0:
        return np.empty(_EMPTY_LINKS_SHAPE, dtype=np.int64)
    order = np.lexsort((links[:, 0], links[:, 1]))
    return np.ascontiguousarray(links[order], dtype=np.int64)
