"""The forecasting comparison with its effect switched off and on, over seeds 42-46.

For each seed, the synthetic retailer (8,000 customers by default) is generated with the
acquisition shift at strength 0 (negative control) and 1 (positive control); the profile
is built before the first origin and the profile-blind and profile-aware forecasts are
backtested from four origins; a second negative control switches every effect off (the
category shift also moves the segment mix). An oracle run forecasts by the true personas
instead of the estimated segments: the most a profile could gain from the effect. Each
difference comes with its paired bootstrap interval over forecast weeks; the summary gives
the mean and range over seeds and the count of each verdict.

    python benchmarks/bench_controls.py [--customers 8000] [--seeds 42,43,44,45,46]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from chainsight import compare, datasets, forecasting, profiling
from chainsight import schema as S

LEVELS = (("segment x category", None), ("category", None), ("category", True))


ALL_OFF = {"acquisition_shift": 0, "customisation_ramp": 0, "category_shift": 0,
           "quality_incident": 0}
RUNS = (("acquisition_shift = 0 (negative control)", {"acquisition_shift": 0}, False),
        ("every effect = 0 (negative control)", ALL_OFF, False),
        ("acquisition_shift = 1 (positive control)", {}, False),
        ("acquisition_shift = 1, true personas (oracle)", {}, True))


def comparison(customers: int, seed: int, effects: dict, oracle: bool = False):
    ds = datasets.load("synthetic", size=customers, seed=seed, effects=effects)
    cat = forecasting.weekly_panel(ds.orders, [S.CATEGORY], products=ds.tables["products"])
    origins = forecasting.default_origins(cat, h=8)
    if oracle:
        truth = datasets.load_truth(customers, seed, effects).customers
        segments = truth[[S.CUSTOMER_ID]].assign(segment=truth["persona"])
    else:
        prof = profiling.build_profile(ds, as_of=origins[0], seed=seed)
        segments = prof.segments_for(ds.tables["customers"])
    cmp = forecasting.compare_profile(ds.orders, segments, ds.tables["products"],
                                      ds.tables["calendar"], origins=origins, seed=seed)
    return {f"{lvl}{', festival weeks' if fest else ''}":
            forecasting.profile_difference(cmp, lvl, fest, seed=seed) for lvl, fest in LEVELS}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=8_000)
    ap.add_argument("--seeds", default="42,43,44,45,46")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    pd.set_option("display.width", 200)
    for label, effects, oracle in RUNS:
        t0 = time.perf_counter()
        runs = compare.over_seeds(lambda s, e=effects, o=oracle: comparison(
            args.customers, s, e, o), seeds)
        print(f"\n{label}: {len(seeds)} seeds, {time.perf_counter() - t0:.0f} s")
        print(runs[["seed", "name", "blind", "aware", "difference", "lo", "hi", "verdict"]]
              .round(4).to_string(index=False))
        print(compare.seed_summary(runs).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
