"""How many Sobol base samples notebook 02's sweep needs: indices and their 95 % half-widths against N.

Not a test: run it by hand (it takes minutes) and record the figures in
experiments/notebooks/02_parameter_sweep.ipynb, section 3.

    .venv/bin/python benchmarks/sobol_convergence.py                    # N up to 64: 640 runs, about 6 CPU-minutes
    .venv/bin/python benchmarks/sobol_convergence.py --samples 128 --workers 2
    .venv/bin/python benchmarks/sobol_convergence.py --keep results/sobol_convergence   # keep (and resume) the runs

It runs the sweep of notebook 02 without quick mode (small.yaml, experiment seed 7,
5 years, 2 replications a point, leakage 0-0.5, dependency 0-1, elite capture 0-0.6;
keep these in step with the notebook's cell that writes ``sweep.yaml``) once, at the
largest N. SALib's Sobol designs are nested: the first N*(k+2) points of the design
for ``--samples`` are exactly the design for N (same experiment seed), so the indices
for N = 8, 16, ... come from prefixes of one sweep, as if each had been run on its own.
For each N and outcome it prints S1 and ST with their bootstrap 95 % half-widths
(``sim.analysis.sobol_indices``, bootstrap seed 0 as in the notebook), whether S1's
interval excludes 0, the *luck share* (the part of the variance of Y, a point's mean over
its replications, that is run-to-run luck the common seeds do not cancel; every ST
estimate includes it, so an ST says a parameter matters only when its interval lies above
the luck share) and whether ST's interval lies above it. The notebook computes the same
columns (section 3). The runs go to a temporary folder, removed at the end, unless
``--keep`` names a folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from sim import analysis
from sim.execute import make_executor, run_experiment
from sim.experiment import expected_rows, load_experiment, salib_problem
from sim.results import load_results

ROOT = Path(__file__).resolve().parent.parent
OUTCOMES = ("gini", "urban_rural_ratio")


def sweep(samples: int) -> dict:
    """Notebook 02's experiment file (section 2) at full size, with ``samples`` base samples."""
    return {
        "name": "notebook_sweep",
        "scenarios": [str(ROOT / "scenarios" / "small.yaml")],
        "seed": 7,
        "replications": 2,
        "horizon_years": 5,
        "baseline": False,
        "arms": {"all_policies": {"policies": "all"}},
        "outcomes": ["gini", "urban_rural_ratio", "rural_income_pc", "weak_villages"],
        "design": {
            "method": "sobol",
            "samples": samples,
            "parameters": {
                "pairing.failure.leakage": {"low": 0.0, "high": 0.5},
                "pairing.failure.dependency": {"low": 0.0, "high": 1.0},
                "pairing.failure.elite_capture": {"low": 0.0, "high": 0.6},
            },
        },
    }


def luck_share(results: pd.DataFrame, outcome: str) -> float:
    """Share of the variance of Y over the design points that is run-to-run luck (NaN with one replication).

    Y at a point is the final-year outcome averaged over its R replications. Replication r has
    the same seed at every point, so luck common to a seed cancels; what is left shows as the
    point x replication interaction of the final-year table, whose mean square estimates the
    variance of one run's leftover luck (divided by R for the mean). Same as notebook 02.
    """
    table = analysis.final_year(results).pivot(index="point", columns="replication", values=outcome)
    points, replications = table.shape
    if replications < 2:
        return float("nan")
    values = table.to_numpy(dtype=float)
    interaction = values - values.mean(axis=1, keepdims=True) - values.mean(axis=0, keepdims=True) + values.mean()
    luck = (interaction**2).sum() / ((points - 1) * (replications - 1)) / replications
    return float(luck / values.mean(axis=1).var(ddof=1))


def convergence(results: pd.DataFrame, problem: dict, largest: int, smallest: int = 8) -> pd.DataFrame:
    """Sobol indices of every outcome for N = smallest, 2*smallest, ..., largest, from prefixes of one design."""
    k = problem["num_vars"]
    rows = []
    n = smallest
    while n <= largest:
        prefix = results[results["point"] < n * (k + 2)]
        for outcome in OUTCOMES:
            table = analysis.sobol_indices(prefix, problem["names"], problem["bounds"], outcome, calc_second_order=False, seed=0)
            table.insert(0, "N", n)
            table.insert(1, "outcome", outcome)
            table["luck"] = luck_share(prefix, outcome)
            rows.append(table)
        n *= 2
    table = pd.concat(rows, ignore_index=True)
    table["parameter"] = table["parameter"].str.removeprefix("pairing.failure.")
    table["S1 > 0"] = table["S1"] - table["S1_conf"] > 0
    table["ST > luck"] = table["ST"] - table["ST_conf"] > table["luck"]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64, help="largest N (a power of 2); default 64")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1: the machine is shared)")
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them (an existing folder is resumed)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pairsim-sobol-convergence-") as scratch:
        experiment_file = Path(scratch) / "sweep.yaml"
        experiment_file.write_text(yaml.safe_dump(sweep(args.samples), sort_keys=False), encoding="utf-8")
        experiment = load_experiment(experiment_file)
        folder = args.keep if args.keep is not None else Path(scratch) / "results"
        started = time.perf_counter()
        with make_executor(workers=args.workers) as executor:
            report = run_experiment(experiment, experiment_file, folder, executor, progress=True)
        seconds = time.perf_counter() - started
        print(
            f"{expected_rows(experiment)} runs ({report.finished} new, {len(report.failed)} failed) in {seconds:.0f} s on {args.workers} worker(s)"
        )
        table = convergence(load_results(folder), salib_problem(experiment.design), args.samples)

    with pd.option_context("display.width", 160, "display.max_rows", None):
        for outcome in OUTCOMES:
            print(
                f"\n{outcome}: Sobol indices and bootstrap 95 % half-widths against base samples N ({experiment.replications} replications a point)"
            )
            print(table[table["outcome"] == outcome].drop(columns="outcome").round(3).to_string(index=False))
        summary = table.groupby("N").agg(
            S1_conf_max=("S1_conf", "max"),
            ST_conf_max=("ST_conf", "max"),
            S1_clear=("S1 > 0", "sum"),
            ST_clear=("ST > luck", "sum"),
            indices=("parameter", "size"),
        )
        print("\nat each N, over both outcomes: widest half-widths, S1 distinguishable from 0, ST above the luck share")
        print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
