"""Benchmarks for the experiment runner (issue 4); not tests: run by hand, record figures in README.

    .venv/bin/python benchmarks/bench_experiment.py memory      # 1,000 runs of small.yaml: peak memory stays flat
    .venv/bin/python benchmarks/bench_experiment.py comparison  # experiments/policy_comparison.yaml, 1 and 2 workers

``memory`` runs 1,000 two-year runs of small.yaml in this process and prints the
peak resident memory after 100, 500 and 1,000 runs: results are streamed to
disk, so it should not grow with the number of runs. ``comparison`` times the
shipped policy comparison (180 ten-year Shouguang runs) on 2 workers, and a
sample of it on 1 worker for the speed-up; ``--full`` times the whole of it on
1 worker too (about twice as long).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from sim.execute import make_executor, run_experiment
from sim.experiment import Experiment, load_experiment

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
                run_experiment(experiment.model_copy(update={"replications": done}), ROOT / "benchmarks" / "bench_experiment.py", folder, executor, progress=False)
                print(f"{done:5d} runs: peak memory {peak_mib():6.0f} MiB (last batch {time.perf_counter() - started:.1f} s)")
    finally:
        shutil.rmtree(folder)


def comparison(full: bool) -> None:
    path = ROOT / "experiments" / "policy_comparison.yaml"
    experiment = load_experiment(path)
    sample = experiment if full else experiment.model_copy(update={"replications": 5})
    for workers, exp in ((2, experiment), (1, sample)):
        folder = Path(tempfile.mkdtemp())
        try:
            started = time.perf_counter()
            with make_executor(workers=workers) as executor:
                report = run_experiment(exp, path, folder, executor, progress=True)
            seconds = time.perf_counter() - started
            runs = report.finished + len(report.failed)
            print(f"{workers} worker(s): {runs} runs in {seconds:.0f} s ({seconds / runs:.2f} s a run), {len(report.failed)} failed")
        finally:
            shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["memory", "comparison"])
    parser.add_argument("--full", action="store_true", help="comparison: run all 180 runs on 1 worker too")
    args = parser.parse_args()
    memory() if args.which == "memory" else comparison(args.full)


if __name__ == "__main__":
    main()
