"""The forecasting comparison with its effect switched off and on, over seeds 42-46.

For each seed, the synthetic retailer (20,000 customers by default) is generated with the
acquisition shift at strength 0 (negative control) and 1 (positive control); the profile
is built before the first origin and the profile-blind and profile-aware forecasts are
backtested from eight origins six weeks apart (64 forecast weeks). A second negative
control switches every effect off (the category shift also moves the segment mix). The
truth is the same comparison with the true personas as segments: what knowing each
customer's persona could gain; a last run does so with the shift at three times its
strength (does the harness see it?). Each difference comes with its paired bootstrap
interval over forecast weeks; the summary gives the mean and range over seeds and the
count of each verdict, and the last table pools the forecast weeks of all seeds.

    python benchmarks/bench_controls.py [--customers 20000] [--seeds 42,43,44,45,46]
        [--origins 8] [--step 6] [--runs 0,1,2,3,4]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from chainsight import compare, datasets, forecasting, profiling, synthetic
from chainsight import schema as S

LEVELS = (("segment x category", None), ("category", None), ("category", True))
ALL_OFF = {k: 0 for k in synthetic.EFFECTS}
RUNS = (("acquisition_shift = 0 (negative control)", {"acquisition_shift": 0}, False),
        ("every effect = 0 (negative control)", ALL_OFF, False),
        ("acquisition_shift = 1 (positive control)", {}, False),
        ("acquisition_shift = 1, true personas (the truth)", {}, True),
        ("acquisition_shift = 3, true personas (power check)", {"acquisition_shift": 3}, True))


def name(level, festival) -> str:
    return f"{level}{', festival weeks' if festival else ''}"


def units(customers: int, seed: int, effects: dict, oracle: bool, n_origins: int,
          step: int) -> dict:
    """Per level, the forecast weeks the comparison is judged on (profile_units)."""
    ds = datasets.load("synthetic", size=customers, seed=seed, effects=effects)
    cat = forecasting.weekly_panel(ds.orders, [S.CATEGORY], products=ds.tables["products"])
    origins = forecasting.default_origins(cat, h=8, n_origins=n_origins, step=step)
    if oracle:
        truth = datasets.load_truth(customers, seed, effects).customers
        segments = truth[[S.CUSTOMER_ID]].assign(segment=truth["persona"])
    else:
        prof = profiling.build_profile(ds, as_of=origins[0], seed=seed)
        segments = prof.segments_for(ds.tables["customers"])
    cmp = forecasting.compare_profile(ds.orders, segments, ds.tables["products"],
                                      ds.tables["calendar"], origins=origins, seed=seed)
    return {name(*lv): forecasting.profile_units(cmp, *lv) for lv in LEVELS}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seeds", default="42,43,44,45,46")
    ap.add_argument("--origins", type=int, default=8)
    ap.add_argument("--step", type=int, default=6, help="weeks between origins")
    ap.add_argument("--runs", default="0,1,2,3,4", help="which of the runs, by number")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    pd.set_option("display.width", 200)
    cols = ["seed", "name", "blind", "aware", "difference", "lo", "hi", "verdict"]
    for i, (label, effects, oracle) in enumerate(RUNS):
        if str(i) not in args.runs.split(","):
            continue
        t0 = time.perf_counter()
        kept: dict[int, dict] = {}

        def run(seed, effects=effects, oracle=oracle, kept=kept):
            kept[seed] = units(args.customers, seed, effects, oracle, args.origins, args.step)
            return {k: forecasting.wape_difference(u, seed=seed) for k, u in kept[seed].items()}

        per_seed = compare.over_seeds(run, seeds)
        pooled = compare.table({k: forecasting.wape_difference(
            pd.concat([kept[s][k] for s in seeds])) for k in kept[seeds[0]]})
        print(f"\n{label}: {len(seeds)} seeds, {time.perf_counter() - t0:.0f} s")
        print(per_seed[cols].round(4).to_string(index=False))
        print(compare.seed_summary(per_seed).round(4).to_string(index=False))
        print("pooled over the seeds' forecast weeks:")
        print(pooled[["name", "n_units", "blind", "aware", "difference", "lo", "hi",
                      "verdict"]].round(4).to_string(index=False))


if __name__ == "__main__":
    main()
