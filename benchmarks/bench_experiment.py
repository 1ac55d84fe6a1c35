"""Benchmarks for the experiment runner (issue 4); not tests: run by hand, record figures in README.

    .venv/bin/python benchmarks/bench_experiment.py memory      # 1,000 runs of small.yaml: peak memory stays flat
    .venv/bin/python benchmarks/bench_experiment.py comparison  # experiments/policy_comparison.yaml, 1 and 2 workers

``memory`` runs 1,000 two-year runs of small.yaml in this process and prints the
peak resident memory after 100, 500 and 1,000 runs: results are streamed to
disk, so it should not grow with the number of runs. ``comparison`` times the
shipped policy comparison (180 ten-year Shouguang runs) on 2 workers, and the
speed-up from 1 to 2 workers on a 30-run sample of it (5 replications per arm);
``--full`` measures the speed-up on all 180 runs instead (about three times as long).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from sim.execute import make_executor, run_experiment
from sim.experiment import Experiment, load_experiment, run_specs

ROOT = Path(__file__).resolve().parent.parent


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory() -> None:
    experiment = Experiment(
        name="memory",
        scenarios=[str(ROOT / "scenarios" / "small.yaml")],
        replications=1000,
        horizon_years=2,
        baseline=False,
        arms={"all": {"policies": "all"}},
    )
    folder = Path(tempfile.mkdtemp())
    try:
        with make_executor(workers=1) as executor:
            for done in (100, 500, 1000):
                started = time.perf_counter()
                run_experiment(
                    experiment.model_copy(update={"replications": done}),
                    ROOT / "benchmarks" / "bench_experiment.py",
                    folder,
                    executor,
                    progress=False,
                )
                print(f"{done:5d} runs: peak memory {peak_mib():6.0f} MiB (last batch {time.perf_counter() - started:.1f} s)")
    finally:
        shutil.rmtree(folder)


def comparison(full: bool) -> None:
    """The whole comparison on 2 workers (target: under 10 minutes), and the speed-up from 1 to 2 workers on a sample."""
    path = ROOT / "experiments" / "policy_comparison.yaml"
    experiment = load_experiment(path)
    sample = experiment if full else experiment.model_copy(update={"replications": 5})
    one = timed(sample, path, workers=1)
    two = timed(sample, path, workers=2)
    print(f"speed-up from 1 to 2 workers on {len(run_specs(sample))} runs: {one / two:.2f}x (target >= 1.7)")
    if not full:
        timed(experiment, path, workers=2)


def timed(experiment: Experiment, path: Path, workers: int) -> float:
    """Seconds to run ``experiment`` into a fresh folder on ``workers`` processes (printed too)."""
    folder = Path(tempfile.mkdtemp())
    try:
        started = time.perf_counter()
        with make_executor(workers=workers) as executor:
            report = run_experiment(experiment, path, folder, executor, progress=True)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(folder)
    runs = report.finished + len(report.failed)
    print(f"{workers} worker(s): {runs} runs in {seconds:.0f} s ({seconds / runs:.2f} s a run), {len(report.failed)} failed")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["memory", "comparison"])
    parser.add_argument("--full", action="store_true", help="comparison: measure the speed-up on all 180 runs")
    args = parser.parse_args()
    memory() if args.which == "memory" else comparison(args.full)


if __name__ == "__main__":
    main()
