"""The forecasting comparison with its effect switched off and on, over seeds 42-46.

For each seed, the synthetic retailer (20,000 customers by default) is generated with
every effect off (negative control), with the acquisition shift or the category shift
off (which one the profile exploits), at the documented strengths, and with the
acquisition shift at three times its strength (positive control). The profile is built
before the first origin; the profile-aware forecast (segment x category, summed) is set
against the top-down split and against the same bottom-up forecast over random groups
(the placebo), from eight origins six weeks apart (64 forecast weeks). The truth is the
same comparison with the true personas as segments. Each difference comes with its
paired bootstrap interval over forecast weeks; the summary gives the mean and range over
seeds and the count of each verdict, and the last table pools the forecast weeks of all
seeds.

    python benchmarks/bench_controls.py [--customers 20000] [--seeds 42,43,44,45,46]
        [--origins 8] [--step 6] [--runs 0,1,2,3,4,5]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from chainsight import compare, forecasting, realism, synthetic

ALL_OFF = synthetic.EFFECTS_OFF
RUNS = (("every effect = 0 (negative control)", ALL_OFF, False),
        ("acquisition_shift = 0, the others at 1", {"acquisition_shift": 0}, False),
        ("category_shift = 0, the others at 1", {"category_shift": 0}, False),
        ("documented strengths (all at 1)", {}, False),
        ("documented strengths, true personas (the truth)", {}, True),
        ("acquisition_shift = 3 (positive control)", {"acquisition_shift": 3}, False))


def name(baseline, level, festival) -> str:
    against = "top-down split" if baseline == "split" else "random groups"
    return f"{level}{', festival weeks' if festival else ''}, against {against}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seeds", default="42,43,44,45,46")
    ap.add_argument("--origins", type=int, default=8)
    ap.add_argument("--step", type=int, default=6, help="weeks between origins")
    ap.add_argument("--runs", default="0,1,2,3,4,5", help="which of the runs, by number")
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
            kept[seed] = {name(*k): u for k, u in realism.forecast_control_units(
                args.customers, seed, effects, oracle, args.origins, args.step).items()}
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
