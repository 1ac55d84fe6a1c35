"""Benchmark: one replication of a scenario, monthly, on one core.

Reports wall time, household-steps per second and peak memory (RSS). The
target from the core issue: Shouguang, 10 years, under 5 seconds on one core of
the 2-core development machine. Not a test: run it by hand and record the
figures in README.md.

    .venv/bin/python benchmarks/bench_run.py                       # Shouguang, 3 repeats
    .venv/bin/python benchmarks/bench_run.py --without-pairing     # the county core alone
    .venv/bin/python benchmarks/bench_run.py scenarios/small.yaml --repeats 5
"""

from __future__ import annotations

import argparse
import os

# One core means one BLAS thread too: spinning BLAS threads distort timings on a shared machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import resource
import statistics
import time
from pathlib import Path

from sim.model import PairingModel
from sim.scenario import load_scenario, resolve_scenario

ROOT = Path(__file__).resolve().parent.parent


def time_one(scenario, seed: int) -> tuple[float, float, int]:
    """(build seconds, run seconds, households) for one replication."""
    started = time.perf_counter()
    model = PairingModel(scenario=scenario, rng=seed)
    built = time.perf_counter()
    while model.running:
        model.step()
    finished = time.perf_counter()
    return built - started, finished - built, len(model.households)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "shouguang_2009.yaml"))
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--without-pairing", action="store_true", help="drop the scenario's pairing policies")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core
    scenario = load_scenario(args.scenario).with_horizon(args.years)
    if args.without_pairing:
        scenario = resolve_scenario(scenario, {"pairing.policies": []})
    timings = [time_one(scenario, seed) for seed in range(1, args.repeats + 1)]
    build = statistics.median(t[0] for t in timings)
    run = statistics.median(t[1] for t in timings)
    households = timings[0][2]
    months = scenario.months
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    pairing = "without pairing" if args.without_pairing else f"{len(scenario.pairing.policies)} pairing policies"
    print(f"scenario        {scenario.name} ({args.scenario}), {pairing}")
    print(f"households      {households:,} rural + {scenario.urban.sample_households:,} urban sample")
    print(f"months          {months} ({args.years} years), {args.repeats} repeats, median shown")
    print(f"build           {build:.2f} s")
    print(
        f"run             {run:.2f} s   (total {build + run:.2f} s; every repeat: {', '.join(f'{t[0] + t[1]:.2f}' for t in timings)})"
    )
    print(f"throughput      {households * months / run / 1e6:.2f} million household-steps per second")
    print(f"peak memory     {peak_mib:.0f} MiB (max RSS of this process)")


if __name__ == "__main__":
    main()
