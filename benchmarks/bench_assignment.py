"""Benchmark: the optimiser's assignment layer (sim.optimise.assignment.assign) on a whole county, against the numpy floor.

Every plan run of ``pairsim optimise`` first solves its county's assignment (a mixed-integer program, HiGHS), so its
time adds to every run of the search. This times it on the county of an optimisation file's scenario (built without
pairing, seed 1, 2, ...) with each policy at the upper end of its pairs and flows, the budget of the file, and random
targeting weights (seeded), and reports the median and the slowest solve, as seconds and as a multiple of the floor
timed in the same process (benchmarks/floor.py; 12 months of it, about a tenth of a second).

Target (issue 15): the median solve at most 35x the floor, a quarter of what a five-year Shouguang run costs (README's
Speed section: a ten-year run's build and run are about 29x the 120-month floor, so a five-year run is about 140x this
12-month floor), so that solving stays a small part of every plan run. A benchmark, not a test: run it by hand and
record the figures in README.md.

    .venv/bin/python benchmarks/bench_assignment.py                                  # Shouguang, 3 counties x 5 weights
    .venv/bin/python benchmarks/bench_assignment.py experiments/optimise_small.yaml --counties 2
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import statistics
import time
from pathlib import Path

import numpy as np
from floor import numpy_floor  # benchmarks/floor.py, beside this file

from sim.model import PairingModel
from sim.optimise import load_optimisation
from sim.optimise.assignment import Choice, PolicyChoice, assign
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
TARGET_FLOOR_MULTIPLE = 35.0
FLOOR_MONTHS = 12


def upper_choice(optimisation, rng: np.random.Generator) -> Choice:
    """Every policy at its most pairs and largest flows, typed as the file allows, with random targeting weights."""
    policies = tuple(
        PolicyChoice(
            lever=lever,
            pairs=int(lever.pairs.high),
            flows={name: span.high for name, span in lever.flows.items()},
            typed=lever.typed == "always",
        )
        for lever in optimisation.levers.policies
    )
    weights = {name: float(rng.uniform(span.low, span.high)) for name, span in optimisation.levers.targeting.items()}
    return Choice(policies=policies, weights=weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("optimisation", nargs="?", default=str(ROOT / "experiments" / "optimise_shouguang.yaml"))
    parser.add_argument("--counties", type=int, default=3, help="counties (seeds 1, 2, ...) to solve on")
    parser.add_argument("--weights", type=int, default=5, help="random targeting weights per county")
    args = parser.parse_args()
    optimisation = load_optimisation(args.optimisation)
    scenario = load_scenario(optimisation.scenario)
    rng = np.random.default_rng(0)
    timings, floors = [], []
    for seed in range(1, args.counties + 1):
        model = PairingModel(scenario=scenario, rng=seed, overrides={"pairing.policies": []})
        for _ in range(args.weights):
            floors.append(numpy_floor(months=FLOOR_MONTHS, repeats=3))
            choice = upper_choice(optimisation, rng)
            started = time.perf_counter()
            plan = assign(model.county, scenario, choice, optimisation.budget, optimisation.search.candidate_villages)
            timings.append(time.perf_counter() - started)
    median, floor = statistics.median(timings), statistics.median(floors)
    print(
        f"{optimisation.name}: {len(timings)} solves ({args.counties} counties x {args.weights} weights), last plan {len(plan)} links"
    )
    print(f"  assign: median {median:.3f} s, slowest {max(timings):.3f} s")
    print(
        f"  floor ({FLOOR_MONTHS} months): {floor:.4f} s; median solve = {median / floor:.1f}x floor (target <= {TARGET_FLOOR_MULTIPLE:.0f}x)"
    )
    print(f"  load average: {', '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
