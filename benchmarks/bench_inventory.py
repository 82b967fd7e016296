"""Inventory simulation speed: 1,000 SKUs x 365 days, vectorised across SKUs, against
the same simulation written SKU by SKU in plain Python (run on a sample and scaled);
the same with two demand tiers and reserved stock; and the whole policy comparison
of notebook 03 on the default synthetic data, effects on and off, with its figures.

    python benchmarks/bench_inventory.py
    python benchmarks/bench_inventory.py --seeds 42,43,44,45,46  # the comparison over seeds
"""

from __future__ import annotations

import time

import numpy as np

from chainsight import inventory


def per_sku(demand, lead, s, S):
    """The same rules as inventory.simulate, one SKU and one day at a time."""
    stock, on_order, lost = S, 0.0, 0.0
    arrivals = {}
    for t, d in enumerate(demand):
        a = arrivals.pop(t, 0.0)
        stock += a
        on_order -= a
        sale = min(stock, d)
        lost += d - sale
        stock -= sale
        if stock + on_order <= s:
            q = S - stock - on_order
            arrivals[t + lead + 1] = arrivals.get(t + lead + 1, 0.0) + q
            on_order += q
    return lost


def main() -> None:
    rng = np.random.default_rng(0)
    n, days = 1000, 365
    demand = rng.poisson(rng.gamma(2, 3, n)[:, None], size=(n, days)).astype(float)
    lead = rng.integers(3, 30, n)
    mean = demand.mean(axis=1)
    s = mean * (lead + 1) * 1.2
    S = s + mean * 14
    t0 = time.perf_counter()
    res = inventory.simulate(demand, lead, s, S)
    vec = time.perf_counter() - t0
    sample = 50
    t0 = time.perf_counter()
    lost = [per_sku(demand[i], lead[i], s[i], S[i]) for i in range(sample)]
    loop = (time.perf_counter() - t0) / sample * n
    assert np.allclose(lost, res.lost[:sample])
    print(f"simulation of {n:,} SKUs x {days} days: {vec:.2f} s vectorised; per-SKU Python "
          f"loop {loop:.1f} s (scaled from {sample} SKUs): x{loop / vec:.0f}; mean fill rate "
          f"{res.fill_rate.mean():.1%}")
    tiers = np.stack([demand * 0.25, demand * 0.75])
    t0 = time.perf_counter()
    inventory.simulate(tiers, lead, s, S, reserve=np.stack([np.zeros(n), 0.1 * s]))
    print(f"the same with 2 demand tiers and reserved stock: {time.perf_counter() - t0:.2f} s")
    comparison()


OFF = {"acquisition_shift": 0, "customisation_ramp": 0, "category_shift": 0,
       "quality_incident": 0}


def comparison(seeds=(42,)) -> None:
    """Notebook 03's comparison on the default synthetic data, with the effects at their
    default strengths and all off (the negative control), over ``seeds``."""
    from chainsight import compare

    def run(effects):
        def one(seed):
            t0 = time.perf_counter()
            r = inventory.effects_control(effects, size="default", seed=seed,
                                          holdout_start="2025-07-07",
                                          segment_targets={1: 0.95, 2: 0.95})
            print(f"seed {seed}, effects {'off' if effects else 'on'}: "
                  f"{time.perf_counter() - t0:.1f} s")
            if seed == seeds[0]:
                cols = ["role", "target", "fill_rate", "top_tier_fill_rate", "lost_margin",
                        "holding_cost", "total_cost"]
                print(r["policies"].set_index("policy")[cols].round(4).to_string())
                sides = {"calendar_prebuild": ("with the pre-build", "without it"),
                         "segment_prebuild": ("by segment", "without segments")}
                for k, p in r["paired"].items():
                    fmt = "{:.1%}" if "fill" in k else "{:,.0f}"
                    aware, blind = sides.get(k, ("profile-aware", "profile-blind"))
                    print("  " + p.sentence(fmt, aware=aware, blind=blind))
            return {k: r["paired"][k] for k in ("total_cost", "lost_margin",
                                                 "total_cost_equal_holding", "segment_prebuild")
                    if k in r["paired"]}
        return compare.seed_summary(compare.over_seeds(one, seeds))

    for name, effects in (("effects at 1", None), ("effects off", OFF)):
        print(f"\n{name}:")
        print(run(effects).round(0).to_string())


if __name__ == "__main__":
    import sys

    if "--seeds" in sys.argv:  # e.g. --seeds 42,43,44,45,46: the comparison only
        comparison(tuple(int(x) for x in sys.argv[sys.argv.index("--seeds") + 1].split(",")))
    else:
        main()
