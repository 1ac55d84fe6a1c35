"""Benchmark: ten years of the Zhejiang province against Shouguang, per household-month, on one core (issue 11, point 5).

Runs Shouguang and then the province (``scenarios/zhejiang_2020.yaml``) over the same horizon in this process, pinned to
one core, and prints for each the build and run CPU time, the run's CPU time per household-month, and peak memory
(max RSS); then the province's cost per household-month as a multiple of Shouguang's. Issue 11 asks for at most about
1.3 times, under about 3 minutes for the province's ten years, and at most 6 GiB. Not a test: the province alone takes
a few minutes; run it by hand on a quiet machine and record the figures in README.md.

    .venv/bin/python benchmarks/bench_province.py              # 10 years each
    .venv/bin/python benchmarks/bench_province.py --years 2    # a quicker look
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core means one BLAS thread too
os.environ.setdefault("OMP_NUM_THREADS", "1")

import resource
import time
from pathlib import Path

from sim.model import PairingModel
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHOUGUANG = ROOT / "scenarios" / "shouguang_2009.yaml"
ZHEJIANG = ROOT / "scenarios" / "zhejiang_2020.yaml"


def cost_per_household_month(path: Path, years: int) -> float:
    """Build and run ``path`` for ``years``; print its figures and return the run's CPU seconds per household-month."""
    scenario = load_scenario(path).with_horizon(years)
    started = time.process_time()
    model = PairingModel(scenario=scenario, rng=1)
    built = time.process_time()
    while model.running:
        model.step()
    finished = time.process_time()
    household_months = len(model.households) * scenario.months
    per_household_month = (finished - built) / household_months
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"{scenario.name:16s} {len(model.households):>10,} households, {years} years: build {built - started:6.1f} s, "
        f"run {finished - built:6.1f} s CPU, {per_household_month * 1e9:5.0f} ns per household-month, "
        f"peak memory so far {peak_gib:.2f} GiB",
        flush=True,
    )
    return per_household_month


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core
    county = cost_per_household_month(SHOUGUANG, args.years)
    province = cost_per_household_month(ZHEJIANG, args.years)
    print(f"province / Shouguang per household-month: {province / county:.2f} (target about 1.3 or less)")
    print(f"load average at the end: {', '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
