"""Decide which donors pair with which recipients, under capacity limits on both sides.

Kept pure (numpy + networkx only) so the pairing rule can be tested and compared on its
own: "greedy" and "random" mimic how programmes are assigned in practice, "optimal" is the
benchmark they are measured against.

The candidates may come as a dense score matrix (:func:`match`) or as a list of allowed links
(:func:`match_listed`, for a province whose donors can reach only a few villages each); both
give the same links and the same random draws for the same candidates. Apart from
"optimal", the cost is linear in the number of candidates (one permutation, one sort, one
vectorised walk), never in donors x recipients when only a few links are allowed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ALGORITHMS", "match", "match_listed", "pair_counts"]

ALGORITHMS = ("greedy", "random", "optimal")

_EMPTY_LINKS_SHAPE = (0, 2)
_FIRST_WINDOW = 64
"""Candidates the walk checks at once after each link that fills a side; doubled while none fits."""


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
    if scores.size == 0:
        return np.empty(_EMPTY_LINKS_SHAPE, dtype=np.int64)
    # Candidate links: finite score and room at both ends, in row-major order (donor, then recipient).
    donor, recipient = np.nonzero(np.isfinite(scores) & (dcap[:, None] > 0) & (rcap[None, :] > 0))
    return _match_candidates(donor, recipient, scores[donor, recipient], dcap, rcap, algorithm, rng)


def match_listed(
    donor: np.ndarray,
    recipient: np.ndarray,
    score: np.ndarray,
    donor_capacity: np.ndarray,
    recipient_capacity: np.ndarray,
    algorithm: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """:func:`match` for candidates given as a list: link ``i`` joins ``donor[i]`` and ``recipient[i]`` with ``score[i]``.

    The list must be sorted by (donor, recipient) without repeats, the order of the allowed cells of a score
    matrix read row by row; any link not listed is forbidden. Then the result, and every random draw, equals
    :func:`match` on that matrix (``-np.inf`` elsewhere), while memory and time grow with the list, not with
    donors x recipients.

    >>> cap = np.array([1, 1])
    >>> match_listed(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([3.0, 1.0, 2.0]), cap, cap, "optimal",
    ...              np.random.default_rng(0)).tolist()
    [[1, 0], [0, 1]]
    """
    _check_algorithm(algorithm, rng)
    dcap = _capacity(donor_capacity, "donor_capacity")
    rcap = _capacity(recipient_capacity, "recipient_capacity")
    donor, recipient, score = _validate_listed(donor, recipient, score, dcap.size, rcap.size)
    usable = (dcap[donor] > 0) & (rcap[recipient] > 0)
    return _match_candidates(donor[usable], recipient[usable], score[usable], dcap, rcap, algorithm, rng)


def _match_candidates(
    donor: np.ndarray,
    recipient: np.ndarray,
    score: np.ndarray,
    dcap: np.ndarray,
    rcap: np.ndarray,
    algorithm: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """The links among usable candidates (finite score, room at both ends), listed in (donor, recipient) order."""
    if donor.size == 0:
        return np.empty(_EMPTY_LINKS_SHAPE, dtype=np.int64)
    if algorithm == "optimal":
        links = _optimal(donor, recipient, score, dcap, rcap)
    else:
        # Shuffle first: "random" uses this order as is; "greedy" stable-sorts it by score,
        # so the shuffle only decides the order among tied scores.
        order = rng.permutation(donor.size)
        if algorithm == "greedy":
            order = order[np.argsort(-score[order], kind="stable")]
        links = _take_in_order(donor[order], recipient[order], dcap, rcap)
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


def _check_algorithm(algorithm, rng) -> None:
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        allowed = ", ".join(repr(a) for a in ALGORITHMS)
        raise ValueError(f"unknown matching algorithm {algorithm!r}; expected one of {allowed}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")


def _validate(scores, donor_capacity, recipient_capacity, algorithm, rng):
    """Check inputs up front so a bad scenario fails with a clear message, not a wrong pairing."""
    _check_algorithm(algorithm, rng)
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_donors, n_recipients), got shape {scores.shape}")
    scores = _real(scores, "scores")
    bad = np.isnan(scores) | (scores == np.inf)
    if bad.any():
        d, r = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"scores must be finite or -inf (not allowed); got {scores[d, r]} at donor {d}, recipient {r}")

    n_donors, n_recipients = scores.shape
    dcap = _capacity(donor_capacity, "donor_capacity", (n_donors, "n_donors"))
    rcap = _capacity(recipient_capacity, "recipient_capacity", (n_recipients, "n_recipients"))
    return scores, dcap, rcap


def _validate_listed(donor, recipient, score, n_donors: int, n_recipients: int):
    """A candidate list's three arrays: equal lengths, indices in range, sorted by (donor, recipient) without repeats."""
    donor, recipient, score = np.asarray(donor), np.asarray(recipient), np.asarray(score)
    if not (donor.ndim == recipient.ndim == score.ndim == 1 and donor.size == recipient.size == score.size):
        raise ValueError(
            f"donor, recipient and score must be 1-D of one length, got {donor.shape}, {recipient.shape}, {score.shape}"
        )
    for values, name, n in ((donor, "donor", n_donors), (recipient, "recipient", n_recipients)):
        if values.size and not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{name} must hold integer indices, got dtype {values.dtype}")
        if values.size and (values.min() < 0 or values.max() >= n):
            raise ValueError(f"{name} index out of range 0..{n - 1} (the length of {name}_capacity)")
    donor, recipient = donor.astype(np.int64), recipient.astype(np.int64)
    score = _real(score, "score")
    if not np.isfinite(score).all():
        raise ValueError(
            f"score must be finite for every listed link (leave a forbidden link out), got {score[~np.isfinite(score)][0]}"
        )
    key = donor * n_recipients + recipient
    if (np.diff(key) <= 0).any():
        raise ValueError("links must be listed sorted by (donor, recipient), each once")
    return donor, recipient, score


def _real(values: np.ndarray, name: str) -> np.ndarray:
    if values.dtype == np.bool_ or not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise ValueError(f"{name} must be real numbers, got dtype {values.dtype}")
    return values.astype(np.float64, copy=False)


def _capacity(values, name: str, size: tuple[int, str] | None = None) -> np.ndarray:
    """Whole, non-negative capacities; ``size`` is (n, what n counts) when the length is fixed by the scores."""
    arr = np.asarray(values)
    if size is not None and (arr.ndim != 1 or arr.shape[0] != size[0]):
        raise ValueError(f"{name} must have shape ({size[0]},) to match scores' {size[1]}, got {arr.shape}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
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


def _take_in_order(donor: np.ndarray, recipient: np.ndarray, dcap: np.ndarray, rcap: np.ndarray) -> np.ndarray:
    """Walk candidate links in the given order and keep each one whose two ends still have room.

    Capacities only shrink, so a candidate that does not fit now never will. The walk checks a window of
    candidates at once (numpy), keeps those that fit in order until one fills its donor or recipient, and
    then checks again from there: the Python loop runs once per link kept, and the candidates passed over
    (most of them, when every donor may serve every village) are only looked at by numpy.
    """
    donor_left, recipient_left = dcap.copy(), rcap.copy()
    room = int(min(donor_left.sum(), recipient_left.sum()))  # once either side is full no further link can fit
    taken: list[tuple[int, int]] = []
    start, window = 0, _FIRST_WINDOW
    while len(taken) < room and start < donor.size:
        stop = min(start + window, donor.size)
        fits = np.flatnonzero((donor_left[donor[start:stop]] > 0) & (recipient_left[recipient[start:stop]] > 0))
        next_start, window = stop, 2 * window
        for position in (start + fits).tolist():
            d, r = int(donor[position]), int(recipient[position])
            donor_left[d] -= 1
            recipient_left[r] -= 1
            taken.append((d, r))
            if donor_left[d] == 0 or recipient_left[r] == 0:  # later candidates at this end no longer fit
                next_start, window = position + 1, _FIRST_WINDOW
                break
        start = next_start
    return np.array(taken, dtype=np.int64).reshape(-1, 2)


def _optimal(donor: np.ndarray, recipient: np.ndarray, score: np.ndarray, dcap: np.ndarray, rcap: np.ndarray) -> np.ndarray:
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
    ratios = [float(s).as_integer_ratio() for s in score.tolist()]
    denominator = max(den for _, den in ratios)
    scaled = [num * (denominator // den) for num, den in ratios]
    top = max(scaled)

    n_donors, n_recipients = dcap.size, rcap.size
    source, sink = n_donors + n_recipients, n_donors + n_recipients + 1  # donors 0.., recipients n_donors..
    import networkx as nx  # here, not at the top: only "optimal" needs it, and validating a scenario imports this module

    graph = nx.DiGraph()
    graph.add_nodes_from(range(n_donors + n_recipients + 2))
    graph.add_edges_from((source, d, {"capacity": c, "weight": 0}) for d, c in enumerate(dcap.tolist()) if c > 0)
    graph.add_edges_from((n_donors + r, sink, {"capacity": c, "weight": 0}) for r, c in enumerate(rcap.tolist()) if c > 0)
    graph.add_edges_from(
        (d, n_donors + r, {"capacity": 1, "weight": top - s}) for d, r, s in zip(donor.tolist(), recipient.tolist(), scaled)
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
