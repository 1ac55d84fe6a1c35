"""Issue 11's numpy floor, shared by the benchmarks so their "x floor" figures compare like with like.

A month of 20 whole-array passes (one multiply each) over 300,000 float64 values, about a county's residents: the least
a monthly step could cost. Run times are reported as a multiple of it, a figure that travels between machines (and busy
moments) better than seconds.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

FLOOR_VALUES = 300_000
FLOOR_PASSES_PER_MONTH = 20


def numpy_floor(months: int = 120, repeats: int = 5) -> float:
    """Median seconds, over ``repeats``, of ``months`` x 20 passes of one multiply over 300,000 float64 values."""
    values, out = np.random.default_rng(0).random(FLOOR_VALUES), np.empty(FLOOR_VALUES)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(months * FLOOR_PASSES_PER_MONTH):
            np.multiply(values, 1.0000001, out=out)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)
