"""Logistics solver speed and quality.

- OR-Library p-median pmed1-10 and capacitated warehouse cap41-74: time per instance
  (target 60 s each) and the gap to the published optimum.
- CVRPLIB set A, n <= 39: time per instance (target 10 s) and gap; against the same
  search with the distances given to OR-Tools as a Python callback.
- Synthetic default network (44 cities, 20 sites): the exact MILP with the express
  promise against exhaustive search over site subsets (sampled and scaled).
- The profile-aware network against the ship-mode rule (equal cost, equal service)
  over seeds 42-46, with the effects at their default strengths and all off.

    python benchmarks/bench_logistics.py            # solvers and the synthetic network
    python benchmarks/bench_logistics.py --seeds    # the comparison over seeds (slow)
"""

from __future__ import annotations

import time

import numpy as np

from chainsight import datasets, logistics, profiling

REF = datasets.PROJECT_ROOT / "data" / "reference"


def or_library() -> None:
    opt = datasets.read_optima(REF / "orlib_pmed" / "pmedopt.txt")
    times = []
    for k in range(1, 11):
        dist, p = datasets.read_pmed(REF / "orlib_pmed" / f"pmed{k}.txt")
        r = logistics.locate(dist, p=p)
        times.append(r.seconds)
        assert round(r.cost) == opt[f"pmed{k}"]
    print(f"p-median pmed1-10: all optimal; slowest {max(times):.1f} s, total {sum(times):.1f} s")
    opt = datasets.read_optima(REF / "orlib_warehouse" / "capopt.txt")
    gaps, times = [], []
    for name, best in opt.items():
        inst = datasets.read_cap(REF / "orlib_warehouse" / f"{name}.txt")
        r = logistics.locate(inst["cost"], inst["fixed"], demand=inst["demand"],
                             capacity=inst["capacity"])
        gaps.append(abs(r.cost / best - 1))
        times.append(r.seconds)
    print(f"capacitated cap41-74: largest gap {max(gaps):.1e}; slowest {max(times):.2f} s")


def callback_cvrp(dist, demand, capacity, vehicles, depot, solution_limit=4000):
    """The same search with Python callbacks for distances and loads."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    D = np.rint(dist).astype(int).tolist()
    q = np.rint(demand).astype(int).tolist()
    man = pywrapcp.RoutingIndexManager(len(D), vehicles, depot)
    m = pywrapcp.RoutingModel(man)
    cb = m.RegisterTransitCallback(lambda i, j: D[man.IndexToNode(i)][man.IndexToNode(j)])
    m.SetArcCostEvaluatorOfAllVehicles(cb)
    load = m.RegisterUnaryTransitCallback(lambda i: q[man.IndexToNode(i)])
    m.AddDimensionWithVehicleCapacity(load, 0, [int(capacity)] * vehicles, True, "load")
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    p.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    p.solution_limit = solution_limit
    p.time_limit.FromSeconds(120)
    return m.SolveWithParameters(p).ObjectiveValue()


def cvrplib() -> None:
    rows = []
    for path in sorted((REF / "cvrplib_A").glob("*.vrp")):
        inst = datasets.read_cvrp(path)
        _, best = datasets.read_cvrp_solution(path.with_suffix(".sol"))
        dist = logistics.tsplib_distances(inst["coords"])
        r = logistics.solve_cvrp(dist, inst["demand"], inst["capacity"], inst["vehicles"],
                                 inst["depot"])
        rows.append((inst["name"], r.cost / best - 1, r.seconds))
        print(f"  {inst['name']}: gap {r.cost / best - 1:+.2%} in {r.seconds:.1f} s")
    print(f"CVRPLIB A n<=39: largest gap {max(g for _, g, _ in rows):+.2%}, slowest "
          f"{max(t for _, _, t in rows):.1f} s")
    path = sorted((REF / "cvrplib_A").glob("*.vrp"))[-1]
    inst = datasets.read_cvrp(path)
    dist = logistics.tsplib_distances(inst["coords"])
    t0 = time.perf_counter()
    callback_cvrp(dist, inst["demand"], inst["capacity"], inst["vehicles"], inst["depot"])
    slow = time.perf_counter() - t0
    print(f"{inst['name']} with Python callbacks: {slow:.1f} s, x{slow / rows[-1][2]:.1f} the "
          "matrix version")


def synthetic() -> None:
    ds = datasets.load("synthetic", size="default", seed=42)
    prof = profiling.build_profile(ds, as_of="2024-12-31 23:59:59")
    segs = prof.segments_for(ds.tables["customers"])
    t0 = time.perf_counter()
    r = logistics.network_comparison(ds.orders, ds.tables["customers"], segs,
                                     ds.tables["sites"], "2025-01-01")
    whole = time.perf_counter() - t0
    print(f"synthetic default: cost-only MILP {r['seconds']['cost only']:.2f} s, aware MILP "
          f"{r['seconds']['profile-aware']:.2f} s; whole comparison with the frontier "
          f"{whole:.1f} s")
    # Exhaustive search over site subsets for the blind objective, on a sample of them.
    cities = ds.tables["customers"].groupby("city")[["lon", "lat"]].first()
    sites = ds.tables["sites"]
    km = logistics.road_km(logistics.great_circle_km(
        cities["lon"].to_numpy()[:, None], cities["lat"].to_numpy()[:, None],
        sites["lon"].to_numpy()[None, :], sites["lat"].to_numpy()[None, :]))
    demand = r["cities"].set_index("city")["orders_scaled"].reindex(cities.index).to_numpy()
    km = demand[:, None] * logistics.TARIFFS["standard"][1] * km  # the blind objective
    rng = np.random.default_rng(0)
    masks = rng.integers(1, 2 ** len(sites), 20_000)
    bits = ((masks[:, None] >> np.arange(len(sites))) & 1).astype(bool)
    t0 = time.perf_counter()
    cost = np.where(bits[:, None, :], km[None], np.inf).min(axis=2).sum(axis=1)
    cost += bits @ sites["fixed_cost"].to_numpy()
    per = (time.perf_counter() - t0) / len(masks)
    blind = r["networks"].set_index("network").loc["cost only", "total_cost"]
    assert cost.min() >= blind - 1e-6  # no subset beats the MILP optimum
    full = per * (2 ** len(sites) - 1)
    print(f"exhaustive search over all {2 ** len(sites) - 1:,} site subsets: about {full:.1f} s "
          f"(scaled from {len(masks):,}), x{full / r['seconds']['cost only']:.0f} the MILP")


def over_seeds(size: str = "default") -> None:
    """The network comparison over five seeds, effects on and off."""
    import pandas as pd

    from chainsight import compare

    keys = ("express orders next day, at equal cost", "cost per order, at equal service")
    off = {"acquisition_shift": 0, "customisation_ramp": 0, "category_shift": 0,
           "quality_incident": 0}
    for label, effects in (("effects on", None), ("effects off", off)):
        frame = compare.over_seeds(lambda s, e=effects: {
            k: v for k, v in logistics.network_control(e or {}, size=size, seed=s,
                                                       n_boot=1000)["comparisons"].items()
            if k in keys})
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(f"{label}:")
            print(compare.seed_summary(frame).to_string(index=False))


if __name__ == "__main__":
    import sys

    if "--seeds" in sys.argv:
        over_seeds()
    else:
        or_library()
        cvrplib()
        synthetic()
