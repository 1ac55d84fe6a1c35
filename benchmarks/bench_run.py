"""Benchmark: one scenario, monthly, on one core: build, run and the whole ``pairsim run``, against a numpy floor.

Reports, each the median of --repeats (seeds 1, 2, ...):

- build (the county and its pairings), run (every month and the output tables) and write (Parquet,
  CSV and the graph), timed in this process;
- the whole process: ``pairsim run SCENARIO --quiet`` in a subprocess writing to a temporary
  folder, wall clock, imports included;
- the numpy floor, timed in this process just before each replication: a month of 20 whole-array
  passes over 300,000 float64 values (``np.multiply(a, 1.0000001, out=b)``, about Shouguang's
  residents), times the months; build + run is reported as a multiple of it, a figure that travels
  between machines (and busy moments) better than seconds;
- where the time goes: the top --profile entries of a cProfile of one build and run, by own time.

Beside each figure is its target from issue 11: build + run at most 12x the floor, the whole
process at most 3.5 s (Shouguang, 10 years). Everything runs pinned to one core, with one BLAS
thread; the last line gives the load average, to show how busy the machine was. A benchmark, not
a test: run it by hand on a quiet machine and record the figures in README.md with the date.

    .venv/bin/python benchmarks/bench_run.py                       # Shouguang, 10 years, 3 repeats
    .venv/bin/python benchmarks/bench_run.py --without-pairing     # the county core alone
    .venv/bin/python benchmarks/bench_run.py scenarios/small.yaml --repeats 5 --profile 0
"""

from __future__ import annotations

import argparse
import os

# One core means one BLAS thread too: spinning BLAS threads distort timings on a shared machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cProfile
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml
from floor import FLOOR_PASSES_PER_MONTH, FLOOR_VALUES, numpy_floor  # benchmarks/floor.py, beside this file

from sim.model import PairingModel
from sim.runner import run_model, write_outputs
from sim.scenario import load_scenario, resolve_scenario

ROOT = Path(__file__).resolve().parent.parent
TARGET_FLOOR_MULTIPLE = 12.0
TARGET_WHOLE_SECONDS = 3.5


def time_in_process(scenario, seed: int, scenario_file: str, out_dir: Path) -> tuple[float, float, float, int]:
    """(build, run, write) seconds and the number of rural households, for one replication as ``pairsim run`` does it."""
    started = time.perf_counter()
    model = PairingModel(scenario=scenario, rng=seed)
    built = time.perf_counter()
    result = run_model(model)
    finished = time.perf_counter()
    write_outputs(result, out_dir, scenario, scenario_file, seed)
    written = time.perf_counter()
    return built - started, finished - built, written - finished, len(model.households)


def pairsim_command() -> list[str]:
    """The installed ``pairsim`` script beside this interpreter, else ``python -m sim.cli``."""
    script = Path(sys.executable).with_name("pairsim")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "sim.cli"]


def time_whole_process(scenario_file: Path, years: int, seed: int, out_dir: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``pairsim run`` in a fresh process (it inherits this process's single core).

    CPU time is shown beside the wall clock because on a shared machine it is the steadier of the two.
    """
    command = [*pairsim_command(), "run", str(scenario_file), "--years", str(years), "--seed", str(seed)]
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    subprocess.run([*command, "--out", str(out_dir), "--quiet"], check=True)
    return time.perf_counter() - started, children_cpu_seconds() - cpu_before


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def scenario_file_for(path: Path, without_pairing: bool):
    """The scenario file to hand ``pairsim run``: ``path`` itself, or a copy without pairing policies beside it (so its
    relative village files resolve), removed afterwards."""
    if not without_pairing:
        yield path
        return
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.setdefault("pairing", {})["policies"] = []
    handle, copy = tempfile.mkstemp(prefix=f".{path.stem}-without-pairing-", suffix=".yaml", dir=path.parent)
    os.close(handle)
    try:
        Path(copy).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        yield Path(copy)
    finally:
        Path(copy).unlink(missing_ok=True)


def profile_entries(scenario, seed: int, entries: int) -> list[str]:
    """The top ``entries`` functions of one build and run by own time: own and cumulative seconds, calls, file:function."""
    profiler = cProfile.Profile()
    profiler.runcall(lambda: run_model(PairingModel(scenario=scenario, rng=seed)))
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:entries]
    lines = [f"{'own s':>7} {'share':>6} {'cum s':>7} {'calls':>9}  function (profiled total {total:.2f} s)"]
    for (filename, line, function), (primitive, calls, own, cumulative, _) in rows:
        count = f"{calls}" if calls == primitive else f"{calls}/{primitive}"
        where = f"{short_path(filename)}:{line}({function})" if line else function
        lines.append(f"{own:7.3f} {own / total:6.1%} {cumulative:7.3f} {count:>9}  {where}")
    return lines


def short_path(filename: str) -> str:
    """A profiled file as a reader finds it: relative to the repository, to site-packages, or to the standard library."""
    path = Path(filename)
    for base in (Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["stdlib"]), ROOT):  # .venv is in ROOT
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return filename


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "shouguang_2009.yaml"))
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--without-pairing", action="store_true", help="drop the scenario's pairing policies")
    parser.add_argument("--profile", type=int, default=15, metavar="N", help="profile entries to print (0: no profile)")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core (the subprocesses inherit it)
    scenario = load_scenario(args.scenario).with_horizon(args.years)
    if args.without_pairing:
        scenario = resolve_scenario(scenario, {"pairing.policies": []})
    months = scenario.months
    seeds = range(1, args.repeats + 1)
    load_before = os.getloadavg()[0]
    floors, timings = [], []
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        out_dir = Path(scratch) / "out"
        for seed in seeds:  # the floor just before each replication, so both see the same machine
            floors.append(numpy_floor(months))
            timings.append(time_in_process(scenario, seed, args.scenario, out_dir))
        with scenario_file_for(Path(args.scenario), args.without_pairing) as scenario_file:
            whole_times = []
            for seed in seeds:
                shutil.rmtree(out_dir, ignore_errors=True)
                whole_times.append(time_whole_process(scenario_file, args.years, seed, out_dir))
    profile = profile_entries(scenario, 1, args.profile) if args.profile > 0 else []
    load_after = os.getloadavg()[0]

    build, run, write = (statistics.median(t[i] for t in timings) for i in range(3))
    floor = statistics.median(floors)
    whole = statistics.median(wall for wall, _ in whole_times)
    whole_cpu = statistics.median(cpu for _, cpu in whole_times)
    households = timings[0][3]
    multiple = (build + run) / floor
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pairing = "without pairing" if args.without_pairing else f"{len(scenario.pairing.policies)} pairing policies"
    shouguang_10 = Path(args.scenario).name == "shouguang_2009.yaml" and args.years == 10 and not args.without_pairing
    target = " (issue 11 targets are for Shouguang, 10 years, with pairing)" if not shouguang_10 else ""

    print(f"scenario        {scenario.name} ({args.scenario}), {pairing}")
    print(f"households      {households:,} rural + {scenario.urban.sample_households:,} urban sample")
    print(f"months          {months} ({args.years} years), {args.repeats} repeats (seeds 1-{args.repeats}), medians, one core")
    print(f"build           {build:6.2f} s")
    print(f"run             {run:6.2f} s   (every repeat's build + run: {', '.join(f'{t[0] + t[1]:.2f}' for t in timings)})")
    print(f"write           {write:6.2f} s   (Parquet, CSV, graph and run.json)")
    print(f"numpy floor     {floor:6.2f} s   ({months} months x {FLOOR_PASSES_PER_MONTH} passes over {FLOOR_VALUES:,} float64)")
    print(
        f"build + run     {build + run:6.2f} s = {multiple:.1f}x the floor   "
        f"target <= {TARGET_FLOOR_MULTIPLE:.0f}x: {verdict(multiple, TARGET_FLOOR_MULTIPLE)}{target}"
    )
    print(
        f"whole process   {whole:6.2f} s   (pairsim run, every repeat: {', '.join(f'{wall:.2f}' for wall, _ in whole_times)}; "
        f"{whole_cpu:.2f} s CPU; startup, imports, loading and writing {whole - build - run:.2f} s)   "
        f"target <= {TARGET_WHOLE_SECONDS} s: {verdict(whole, TARGET_WHOLE_SECONDS)}{target}"
    )
    print(f"throughput      {households * months / run / 1e6:.2f} million household-months per second of run")
    print(f"peak memory     {peak_mib:.0f} MiB (max RSS of this process)")
    print(
        f"machine         {os.cpu_count()} cores, load average {load_before:.2f} at the start, {load_after:.2f} at the end "
        f"({time.strftime('%Y-%m-%d %H:%M')}, Python {sys.version.split()[0]}, numpy {np.__version__})"
    )
    if profile:
        print(f"\nWhere one build + run spends its time (cProfile, top {args.profile} by own time; profiling slows it):")
        print("\n".join(profile))


if __name__ == "__main__":
    main()
