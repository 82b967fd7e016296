"""Capacity planning and queue simulation speed, as ratios within one run.

- The Red Tomato aggregate plan (6 months) as an LP and as a MILP, and a 52-period plan.
- The vectorised queue simulation (100,000 jobs) against Lindley's recursion in a Python
  loop on the same draws.

    python benchmarks/bench_production.py
"""

from __future__ import annotations

import time

import numpy as np

from chainsight import production as P


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def plans() -> None:
    P.aggregate_plan(P.RED_TOMATO_DEMAND)  # the solver's imports, once
    t_lp, lp = timed(lambda: P.aggregate_plan(P.RED_TOMATO_DEMAND))
    t_ip, ip = timed(lambda: P.aggregate_plan(P.RED_TOMATO_DEMAND, integer=True))
    year = np.tile(P.RED_TOMATO_DEMAND, 9)[:52]
    t_52, _ = timed(lambda: P.aggregate_plan(year, integer=True))
    print(f"Red Tomato LP {lp.cost:,.0f} in {t_lp:.2f} s; MILP {ip.cost:,.0f} in {t_ip:.2f} s "
          f"(x{t_ip / t_lp:.1f}); 52 periods as a MILP in {t_52:.2f} s (x{t_52 / t_lp:.1f})")


def queue(n: int = 100_000) -> None:
    t_vec, w = timed(lambda: P.simulate_queue(0.9, 1.0, 0.7, n, seed=1, warmup=0))
    rng = np.random.default_rng(1)
    gaps = rng.exponential(1 / 0.9, n)
    shape = 1 / 0.7 ** 2
    service = rng.gamma(shape, 1 / shape, n)

    def loop():
        wait, total = 0.0, 0.0
        for i in range(1, n):
            wait = max(0.0, wait + service[i - 1] - gaps[i])
            total += wait
        return total / n

    t_loop, w_loop = timed(loop)
    assert abs(w - w_loop) < 1e-9 * max(w, 1)
    print(f"queue simulation, {n:,} jobs: vectorised {t_vec * 1e3:.1f} ms, Python loop "
          f"{t_loop * 1e3:.0f} ms (x{t_loop / t_vec:.0f}); the same mean wait {w:.4f}")


if __name__ == "__main__":
    plans()
    queue()
