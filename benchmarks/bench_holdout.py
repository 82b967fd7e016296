"""The comparisons of notebooks 00 and 01 over seeds, with every effect on and off.

For each seed the synthetic retailer is generated at the documented effect strengths
and with every effect off. Notebook 00's comparison (category plan per city tier
against the national mix, same forecast of tier totals) and notebook 01's (retention
targeting by CLV against the better of past and recent spend; purchase forecasts by
BG/NBD against each customer's own history, chosen on training data) are run as the
notebooks run them, holdout from 2025-01-01. Each difference comes with its paired
bootstrap interval; the summary gives the mean and range over seeds and the count of
each verdict.

    python benchmarks/bench_holdout.py [--size default] [--seeds 42,43,44]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from chainsight import compare, datasets, overview, profiling, synthetic

HOLDOUT = "2025-01-01"


def comparisons(size: str, seed: int, effects: dict) -> dict:
    ds = datasets.load("synthetic", size=size, seed=seed, effects=effects)
    _, mix = overview.mix_holdout_comparison(ds.orders, ds.tables["customers"],
                                             ds.tables["products"], HOLDOUT, seed=seed)
    hold = profiling.holdout_check(ds, HOLDOUT, seed=seed)
    return {"00 tier mix: weekly WAPE": mix,
            **{f"01 {k}": p for k, p in hold["comparisons"].items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="default")
    ap.add_argument("--seeds", default="42,43,44")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    pd.set_option("display.width", 200)
    cols = ["seed", "name", "blind", "aware", "difference", "lo", "hi", "verdict"]
    for label, effects in (("documented strengths (all at 1)", {}),
                           ("every effect = 0", synthetic.EFFECTS_OFF)):
        t0 = time.perf_counter()
        per_seed = compare.over_seeds(lambda s, e=effects: comparisons(args.size, s, e), seeds)
        print(f"\n{label}: {len(seeds)} seeds, {time.perf_counter() - t0:.0f} s")
        print(per_seed[cols].round(4).to_string(index=False))
        print(compare.seed_summary(per_seed).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
