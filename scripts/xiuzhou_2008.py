"""Xiuzhou's held-out 2008: what the model predicts, with and without pairing, against the source's 1.84.

Why: scenarios/xiuzhou_2005.yaml takes its levels and trends from Zhejiang's 2005-2007 series and the
2005 ratio only, so [Xiuzhou 2009]'s 2008 figures (urban 21,200, rural 11,600, ratio 1.84) are an
out-of-sample check (issue 12, point 14; docs/ODD.md section 10). Three-year runs, seeds 1..N, common
random numbers between the two arms::

    .venv/bin/python scripts/xiuzhou_2008.py            # 6 seeds, about 40 s
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "xiuzhou_2005.yaml"
OBSERVED_2008 = {"rural": 11600.0, "urban": 21200.0, "ratio": 1.84}  # [Xiuzhou 2009] "21200元", "1.97倍"
YEARS = 3  # 2005 -> 2008


def predict(seeds: list[int], pairing: bool) -> np.ndarray:
    """Rural and urban income and their ratio in 2008, one row per seed."""
    from sim.model import PairingModel

    overrides = {"horizon_years": YEARS} | ({} if pairing else {"pairing.policies": []})
    rows = []
    for seed in seeds:
        model = PairingModel(SCENARIO, rng=seed, overrides=overrides)
        for _ in range(12 * YEARS):
            model.step()
        rows.append([model.outcomes[key] for key in ("rural_income_pc", "urban_income_pc", "urban_rural_ratio")])
    return np.array(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6, help="runs per arm (seeds 1..N)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        print("--seeds: expected 1 or more", file=sys.stderr)
        return 2
    seeds = list(range(1, args.seeds + 1))
    print(
        f"observed 2008: rural {OBSERVED_2008['rural']:,.0f}, urban {OBSERVED_2008['urban']:,.0f}, ratio {OBSERVED_2008['ratio']}"
    )
    for label, pairing in (("without pairing", False), ("with pairing", True)):
        rows = predict(seeds, pairing)
        rural, urban, ratio = rows.mean(axis=0)
        low, high = rows[:, 2].min(), rows[:, 2].max()
        print(f"{label}: rural {rural:,.0f}, urban {urban:,.0f}, ratio {ratio:.3f} (seeds {low:.3f}-{high:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
