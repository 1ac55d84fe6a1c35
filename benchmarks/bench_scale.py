"""Benchmark: does a run's cost grow linearly with the county? Shouguang scaled k times, each k in its own process.

Scaling Shouguang by k multiplies by k: its villages, rural residents and households, its area and its towns (so
villages are as dense and as far apart as in Shouguang: a province is a bigger map, not a denser one), its enterprises
(jobs per enterprise unchanged), each department group, its communities, each cooperative group, every pairing
policy's ``pairs`` and the urban population; the urban sample (4,000 households) is unchanged. Each k runs in a fresh
interpreter pinned to one core, so its peak memory (max RSS, ``resource.getrusage``) is its own. The table shows, per
k: build and run time, run time per household-month and its ratio to k = 1 (1.00 = linear), peak memory, bytes per
household and the memory the scenario check estimated (``sim/scenario/sizing.py``). The numpy floor of issue 11 (120
steps x 20 whole-array passes over 300,000 float64 values) is measured in the same invocation. Not a test: run it by
hand and record the figures in README.md.

    .venv/bin/python benchmarks/bench_scale.py                    # k = 1, 4, 16, 64; 2 years each
    .venv/bin/python benchmarks/bench_scale.py --ks 1 4 --years 1
    .venv/bin/python benchmarks/bench_scale.py --ks 1 16 --years 1 --profile   # where each k's time goes

``--years`` (default 2) is the simulated horizon of every k: short, so 64x (13.6 million households) stays within a few
minutes; the cost per household-month of a longer run differs only by the build's share. ``--profile`` runs each k
under cProfile instead and prints, per function, its time per household-month at each k and the ratio to the first
k: a function whose ratio grows with k is the one that does not scale.
"""

from __future__ import annotations

import argparse
import json
import os

# One core means one BLAS thread too: spinning BLAS threads distort timings on a shared machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import resource
import subprocess
import sys
import time
from pathlib import Path

from floor import FLOOR_PASSES_PER_MONTH, FLOOR_VALUES, numpy_floor  # benchmarks/floor.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
SHOUGUANG = ROOT / "scenarios" / "shouguang_2009.yaml"
FLOOR_STEPS = 120
PROFILE_ROWS = 25


def pin_to_one_core() -> None:
    """Run on one core, as the issue's timings do (and so two children never share one)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def scaled_scenario(k: int, years: int, path: Path = SHOUGUANG):
    """Shouguang (or ``path``) with every count of the county and its pairing multiplied by ``k`` (the module docstring
    lists them), validated like a scenario file, so the memory check runs as it would for a real one."""
    from sim.scenario import load_scenario, resolve_scenario

    base = load_scenario(path).with_horizon(years)
    if k == 1:
        return base
    region, villages = base.region, base.region.villages
    towns = region.town_names
    overrides = {
        "region.towns": [name if copy == 0 else f"{name} {copy + 1}" for copy in range(k) for name in towns],
        "region.area_km2": region.area_km2 * k,
        "region.villages.count": villages.count * k,
        "region.villages.population": villages.population * k,
        "region.villages.households": villages.households * k,
        "urban.population": base.urban.population * k,
        "enterprises.count": base.enterprises.count * k,
        "communities.count": base.communities.count * k,
    }
    for i, group in enumerate(base.departments):
        overrides[f"departments.{i}.count"] = group.count * k
    for i, group in enumerate(base.cooperatives):
        overrides[f"cooperatives.{i}.count"] = group.count * k
    for i, policy in enumerate(base.pairing.policies):
        if policy.pairs is not None:
            overrides[f"pairing.policies.{i}.pairs"] = policy.pairs * k
    return resolve_scenario(base, overrides)


def measure(k: int, years: int, seed: int) -> dict:
    """Build and run the scaled county once, in this process; what the parent prints."""
    from sim.model import PairingModel
    from sim.scenario import estimate_memory

    scenario = scaled_scenario(k, years)
    started = time.perf_counter()
    model = PairingModel(scenario=scenario, rng=seed)
    built = time.perf_counter()
    while model.running:
        model.step()
    finished = time.perf_counter()
    return {
        "k": k,
        "households": len(model.households),
        "villages": scenario.region.villages.count,
        "months": scenario.months,
        "build_s": built - started,
        "run_s": finished - built,
        "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # Linux reports KiB
        "estimate_bytes": estimate_memory(scenario).total,
    }


def profile(k: int, years: int, seed: int) -> dict:
    """Build and run under cProfile; each function's own time (tottime), keyed 'file:line(name)'."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    result = measure(k, years, seed)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    result["functions"] = {f"{Path(file).name}:{line}({name})": entry[2] for (file, line, name), entry in stats.items()}
    return result


def run_child(k: int, years: int, seed: int, profiled: bool) -> dict:
    """One k in a fresh interpreter (its own peak memory); its result comes back as JSON on stdout."""
    command = [sys.executable, __file__, "--child", str(k), "--years", str(years), "--seed", str(seed)]
    done = subprocess.run([*command, *(["--profile"] if profiled else [])], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return {"k": k, "error": f"exit {done.returncode}: {last}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(results: list[dict], floor_s: float) -> None:
    floor_ns = floor_s / (FLOOR_STEPS * FLOOR_VALUES) * 1e9  # per value-step: the floor's 'household-month'
    print(
        f"numpy floor: {floor_s:.3f} s for {FLOOR_STEPS} steps x {FLOOR_PASSES_PER_MONTH} passes over {FLOOR_VALUES:,} float64 ",
        end="",
    )
    print(f"= {floor_ns:.1f} ns per value-step")
    header = (
        f"{'k':>4} {'households':>12} {'villages':>9} {'build s':>8} {'run s':>8} {'ns/hh-month':>12} {'ratio':>6} "
        f"{'x floor':>8} {'peak MiB':>9} {'B/household':>12} {'estimate MiB':>13}"
    )
    print(header)
    first = next((r for r in results if "error" not in r), None)
    for r in results:
        if "error" in r:
            print(f"{r['k']:>4} {r['error']}")
            continue
        per = r["run_s"] / (r["households"] * r["months"]) * 1e9
        ratio = per / (first["run_s"] / (first["households"] * first["months"]) * 1e9)
        print(
            f"{r['k']:>4} {r['households']:>12,} {r['villages']:>9,} {r['build_s']:>8.2f} {r['run_s']:>8.2f} {per:>12.1f} "
            f"{ratio:>6.2f} {per / floor_ns:>8.1f} {r['peak_bytes'] / 2**20:>9,.0f} {r['peak_bytes'] / r['households']:>12,.0f} "
            f"{r['estimate_bytes'] / 2**20:>13,.0f}"
        )


def print_profile(results: list[dict]) -> None:
    """Per function: own time per household-month at each k, and the last k's ratio to the first (largest first)."""
    done = [r for r in results if "error" not in r]
    per = [{name: s / (r["households"] * r["months"]) * 1e9 for name, s in r["functions"].items()} for r in done]
    names = sorted(per[-1], key=lambda name: -per[-1][name])[:PROFILE_ROWS]
    print("\nown time per household-month (ns) by function, largest at the last k:")
    print("".join(f"{'k=' + str(r['k']):>10}" for r in done) + f"{'ratio':>8}  function")
    for name in names:
        values = [p.get(name, 0.0) for p in per]
        ratio = values[-1] / values[0] if values[0] > 0 else float("inf")
        print("".join(f"{v:>10.2f}" for v in values) + f"{ratio:>8.2f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 4, 16, 64], help="scale factors (default 1 4 16 64)")
    parser.add_argument("--years", type=int, default=2, help="simulated years at every k (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile each k and compare functions across k")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # internal: measure this k and print JSON
    args = parser.parse_args()

    pin_to_one_core()
    if args.child is not None:
        from sim.errors import InputError

        work = profile if args.profile else measure
        try:
            print(json.dumps(work(args.child, args.years, args.seed)))
        except InputError as refused:  # the scenario check's refusal (e.g. memory), without the list of overrides
            print(json.dumps({"k": args.child, "error": "; ".join(problem.message for problem in refused.problems)}))
        return
    print(f"Shouguang x k, {args.years} years, seed {args.seed}, one core; each k in its own process", flush=True)
    floor_s = numpy_floor(FLOOR_STEPS)
    results = []
    for k in args.ks:
        results.append(run_child(k, args.years, args.seed, args.profile))
        print(f"  k={k} done", file=sys.stderr, flush=True)
    print_table(results, floor_s)
    if args.profile:
        print_profile(results)


if __name__ == "__main__":
    main()
