"""Random draws that line up between the arms of an experiment (common random numbers).

Two arms with the same seed should differ only where pairing changes something. A sampler whose number of draws
depends on its inputs (numpy's Poisson and binomial, a draw per job when the jobs differ) shifts every later draw of
its stream once one input differs, so one extra hire reshuffles a whole county's luck. The samplers here avoid that:

- :func:`poisson_quantile` and :func:`binomial_quantile` turn one uniform per entity (village, household) into a
  count by inverting its distribution function, so a process draws the same fixed-size array every month whatever
  its parameters, and an entity whose parameters did not change gets the same count;
- :class:`KeyedUniforms` names each uniform by what it is for (a process, a month, an enterprise's candidate slot,
  a job), a counter-based generator: entities that come and go (jobs, hiring candidates) get the same number in
  every arm where they exist, however many others there are.

Every count keeps its distribution exactly (only which uniform decides it changes); tests/test_crn.py checks it.

:func:`systematic_resample` turns weighted draws into equal-weight ones (calibration's posterior, experiments reading an
importance-weighted posterior), in one place so both pick rows the same way.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / golden ratio: the increment of SplitMix64


def poisson_quantile(u: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Poisson(``mean``) counts by inverse CDF: the smallest k with P(X <= k) > u, one uniform ``u`` per entry.

    For means below about 700 (``exp(-mean)`` must not underflow; the model's monthly arrivals are below 2).
    """
    mean = np.broadcast_to(np.asarray(mean, dtype=float), np.shape(u))
    return _count_quantile(u, np.exp(-mean), lambda k, rows: mean[rows] / (k + 1))


def binomial_quantile(u: np.ndarray, n: np.ndarray, p: np.ndarray | float) -> np.ndarray:
    """Binomial(``n``, ``p``) counts by inverse CDF: the smallest k with P(X <= k) > u, one uniform ``u`` per entry.

    The probabilities are built up from P(X = 0) = (1 - p)^n; where that underflows (hundreds of trials that nearly
    all succeed, which no process here has), scipy's quantile function takes over, so the draw stays exact.
    """
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), np.shape(u))
    p = np.broadcast_to(np.asarray(p, dtype=float), np.shape(u))
    certain = p >= 1.0
    q = np.where(certain, 0.5, np.maximum(p, 0.0))  # 0.5: any p below 1 (those counts are set to n below)
    odds = q / (1.0 - q)
    none = np.exp(n * np.log1p(-q))
    counts = _count_quantile(u, none, lambda k, rows: (n[rows] - k) / (k + 1.0) * odds[rows])
    np.minimum(counts, n, out=counts)  # rounding can leave P(X <= n) a hair below a uniform near 1
    counts[certain] = n[certain]
    underflow = np.flatnonzero((none == 0.0) & ~certain & (q > 0) & (n > 0))
    if underflow.size:
        from scipy.stats import binom  # rarely needed, and slow to import

        counts[underflow] = np.maximum(binom.ppf(u[underflow], n[underflow], q[underflow]), 0).astype(np.int64)  # ppf(0) is -1
    return counts


def lognormal(u1: np.ndarray, u2: np.ndarray, sigma: float) -> np.ndarray:
    """LogNormal(0, ``sigma``) draws from two uniforms in [0, 1) by Box–Muller: the law of ``rng.lognormal(0.0, sigma)``."""
    normal = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
    return np.exp(sigma * normal)


def _count_quantile(u: np.ndarray, first: np.ndarray, ratio) -> np.ndarray:
    """The inverse-CDF draw of a count whose P(X = 0) is ``first`` and P(X = k + 1) = P(X = k) * ratio(k, rows).

    Only the entries whose uniform is still at or above the running P(X <= k) go on to k + 1, so when the counts are
    mostly 0 (the usual month) the loop touches few entries. A probability that reaches 0 ends the support.
    """
    counts = np.zeros(np.shape(u), dtype=np.int64)
    rows = np.flatnonzero(u >= first)
    mass = first[rows]
    below = mass.copy()  # P(X <= k) for the entries in rows
    k = 0
    while rows.size:
        counts[rows] += 1
        mass = mass * ratio(k, rows)
        below += mass
        k += 1
        going_on = (u[rows] >= below) & (mass > 0.0)
        rows, mass, below = rows[going_on], mass[going_on], below[going_on]
    return counts


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's output function (Stafford's mix 13), in place: a bijection of 64-bit keys that scatters every bit."""
    h ^= h >> 30
    h *= 0xBF58476D1CE4E5B9
    h ^= h >> 27
    h *= 0x94D049BB133111EB
    h ^= h >> 31
    return h


def to_unit(keys: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) from 64-bit keys: their top 53 bits, as ``Generator.random`` makes them."""
    return (keys >> 11) * (1.0 / (1 << 53))


class KeyedUniforms:
    """A counter-based generator: the uniform for given key parts is a hash of the parts and this generator's seed.

    ``uniforms(process, month, enterprise, slot)`` is the same number wherever and however often it is asked for, so
    an arm that hires more workers draws its extra candidates without moving anyone else's. The hash is SplitMix64's
    (Steele, Lea and Flood 2014), applied to the seed and each part in turn; its outputs pass BigCrush.
    """

    def __init__(self, seed: int) -> None:
        self.seed = np.uint64(seed)

    @classmethod
    def from_rng(cls, rng: np.random.Generator) -> KeyedUniforms:
        """A generator seeded from ``rng`` (one draw)."""
        return cls(int(rng.integers(0, np.iinfo(np.int64).max)))

    def keys(self, *parts: int | np.ndarray) -> np.ndarray:
        """64-bit keys naming the given parts (non-negative integers or arrays of them, broadcast together).

        Leading scalar parts are hashed once, not once per element, so a month's key costs nothing extra.
        """
        keys = np.array([self.seed], dtype=np.uint64)
        for part in parts:
            keys = keys ^ np.asarray(part, dtype=np.uint64)  # a new array, of the broadcast shape
            keys += _GOLDEN
            _mix(keys)
        return keys

    def uniforms(self, *parts: int | np.ndarray) -> np.ndarray:
        """Uniforms in [0, 1) named by the given parts (see :meth:`keys`)."""
        return to_unit(self.keys(*parts))


def systematic_resample(weights: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``size`` equal-weight draws from ``weights`` (0 or more, with a positive sum; normalised here), sorted.

    Systematic resampling (Kitagawa 1996): one uniform offset and ``size`` evenly spaced positions, so each index appears
    floor or ceil of size x weight times, with less added noise than multinomial draws.
    """
    cumulative = np.cumsum(weights, dtype=float)
    # Rounding must leave no position past the end, nor give the slack to ruled-out candidates at the end: dividing
    # by the total makes the last positive weight's cumulative sum exactly 1 (x / x), and those after it add nothing.
    cumulative /= cumulative[-1]
    # (u + size - 1) / size can round up to 1.0 itself for u just below 1, which would pass every cumulative sum.
    positions = np.minimum((rng.random() + np.arange(size)) / size, np.nextafter(1.0, 0.0))
    return np.searchsorted(cumulative, positions, side="right")
