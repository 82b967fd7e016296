"""Inventory simulation speed: 1,000 SKUs x 365 days, vectorised across SKUs, against
the same simulation written SKU by SKU in plain Python (run on a sample and scaled);
the same with two demand tiers and reserved stock; and the whole policy comparison
of notebook 03 on the default synthetic data, with its figures.

    python benchmarks/bench_inventory.py
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


def comparison() -> None:
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size="default", seed=42)
    t0 = time.perf_counter()
    prof = profiling.build_profile(ds, as_of="2025-07-06")
    segs = prof.segments_for(ds.tables["customers"])
    t1 = time.perf_counter()
    r = inventory.policy_comparison(ds.orders, ds.tables["products"], segs, "2025-07-07",
                                    {1: 0.95, 2: 0.95}, calendar=ds.tables["calendar"])
    t2 = time.perf_counter()
    print(f"default: profile {t1 - t0:.1f} s, policy comparison {t2 - t1:.1f} s "
          f"({len(r['frontier']) + len(r['policies'])} simulations)")
    cols = ["fill_rate", "top_tier_fill_rate", "other_fill_rate", "festival_lost_units",
            "lost_margin", "holding_cost"]
    print(r["policies"].set_index("policy")[cols].round(4).to_string())
    print({k: round(v, 4) for k, v in r["headline"].items()})


if __name__ == "__main__":
    main()
