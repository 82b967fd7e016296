"""Notebook 05's heavy paths, as ratios within one run, and its comparisons over seeds.

- The Red Tomato aggregate plan (6 months) as an LP and as a MILP; a 52-week plan as an LP
  and as a MILP, and six of them (one per segment).
- The vectorised queue simulation (100,000 jobs) against Lindley's recursion in a Python
  loop on the same draws.
- On the default synthetic data: the customised-units forecast, the capacity comparison and
  the MTS / ATO / MTO choice with its holdout replay, against one pass over the order lines.
- ``--seeds``: the three comparisons over seeds 42-46, effects at 1 and all off, with the
  notebook's default parameters.

    python benchmarks/bench_production.py
    python benchmarks/bench_production.py --seeds 42,43,44,45,46
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from chainsight import compare, datasets, profiling, readiness, synthetic
from chainsight import production as P
from chainsight import schema as S

NOTEBOOK = datasets.PROJECT_ROOT / "notebooks" / "05_customised_production.ipynb"


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def plans() -> None:
    P.aggregate_plan(P.RED_TOMATO_DEMAND)  # the solver's imports, once
    t_lp, lp = timed(lambda: P.aggregate_plan(P.RED_TOMATO_DEMAND))
    t_ip, ip = timed(lambda: P.aggregate_plan(P.RED_TOMATO_DEMAND, integer=True))
    year = np.tile(P.RED_TOMATO_DEMAND, 9)[:52]
    t_52, _ = timed(lambda: P.aggregate_plan(year))
    t_52i, _ = timed(lambda: P.aggregate_plan(year, integer=True))
    t_six, _ = timed(lambda: [P.aggregate_plan(year * (k + 1) / 6) for k in range(6)])
    print(f"Red Tomato LP {lp.cost:,.0f} in {t_lp:.3f} s; MILP {ip.cost:,.0f} in {t_ip:.3f} s "
          f"(x{t_ip / t_lp:.1f}); 52 periods: LP {t_52:.3f} s (x{t_52 / t_lp:.1f}), MILP "
          f"{t_52i:.3f} s (x{t_52i / t_lp:.1f}), six LPs (one per segment) {t_six:.3f} s "
          f"(x{t_six / t_lp:.1f})")


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


def settings() -> dict:
    """The notebook's default parameters: one source for the costs benchmarked."""
    import ast

    import papermill as pm

    return {k: ast.literal_eval(v["default"])
            for k, v in pm.inspect_notebook(str(NOTEBOOK)).items()}


def costs(p: dict) -> tuple[P.PlanCosts, P.StrategyCosts]:
    plan = P.PlanCosts(material=0.0, holding=0.0, backlog=p["backlog_cost"],
                       hiring=p["hiring_cost"], layoff=p["layoff_cost"],
                       hours_per_unit=p["hours_per_unit"], regular_wage=p["regular_wage"],
                       overtime_wage=p["overtime_wage"], subcontract=p["subcontract_cost"],
                       hours_per_worker=p["hours_per_worker"],
                       overtime_per_worker=p["overtime_per_worker"])
    strategy = P.StrategyCosts(
        holding_rate=p["holding_rate"], obsolescence_rate=p["obsolescence_rate"],
        base_share=p["base_share"], finish_cost=p["finish_cost"], mto_cost=p["mto_cost"],
        finish_days=p["finish_days"], make_days=p["make_days"], late_cost=p["late_cost"],
        custom_patience_days=p["custom_patience_days"], z=p["service_z"])
    return plan, strategy


def decisions(seed: int = 42) -> None:
    p = settings()
    plan_costs, strategy = costs(p)
    ds = datasets.load("synthetic", size="default", seed=seed)
    start = readiness.holdout_start(ds.orders, "", weeks=52).start
    prof, _ = profiling.decision_profile(ds, start - pd.Timedelta(seconds=1), seed=seed)
    seg = prof.segments_for(ds.tables["customers"])
    products = ds.tables["products"]
    t_pass, _ = timed(lambda: ds.orders.groupby(S.PRODUCT_ID)[S.QUANTITY].sum())
    t_fc, fc = timed(lambda: P.customised_forecast_comparison(ds.orders, products, seg, start))
    workers = P.starting_workers(ds.orders, products, start, plan_costs)
    t_cap, _ = timed(lambda: P.capacity_comparison(fc["weekly"], plan_costs, workers,
                                                   p["target_utilisation"]))
    t_st, st = timed(lambda: P.strategy_comparison(ds.orders, products, seg, start, strategy))
    print(f"default data ({len(ds.orders):,} lines): one pass over the lines {t_pass:.3f} s; "
          f"customised forecast {t_fc:.2f} s (x{t_fc / t_pass:.0f}); capacity comparison "
          f"{t_cap:.2f} s (x{t_cap / t_pass:.0f}); MTS/ATO/MTO for {len(st['products'])} "
          f"products with the replay {t_st:.2f} s (x{t_st / t_pass:.0f})")


def comparison(seeds) -> None:
    p = settings()
    plan_costs, strategy = costs(p)
    for name, effects in (("effects at 1", None), ("effects off", synthetic.EFFECTS_OFF)):
        frame = compare.over_seeds(lambda s, e=effects: P.production_control(
            e, size="default", seed=s, holdout_start="2025-01-01",
            plan_costs=plan_costs, strategy=strategy, level_weeks=p["level_weeks"],
            utilisation=p["target_utilisation"]), seeds)
        print(f"\n{name}:")
        with pd.option_context("display.width", 200):
            print(frame.round(4).to_string(index=False))
            print(compare.seed_summary(frame).round(4).to_string())


if __name__ == "__main__":
    import sys

    if "--seeds" in sys.argv:
        comparison(tuple(int(x) for x in sys.argv[sys.argv.index("--seeds") + 1].split(",")))
    else:
        plans()
        queue()
        decisions()
