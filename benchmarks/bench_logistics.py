"""Logistics solver speed and quality, each against the previous setup in the same run.

- p-median: OR-Library pmed1-10 (published optima) and instances of the sizes of
  pmed11-40 made the way OR-Library made them (``datasets.random_pmed``; their optima are
  not published, so the gap is the proven one). New: ``logistics.pmedian`` (local
  search, Lagrangian bound and reduction, Lagrangian branch and bound, radius formulation
  in HiGHS for the trees it does not close). Previous: the general MILP
  (``locate(..., method="milp")``). 60 s each.
- Capacitated warehouse cap41-74: time and gap to the published optimum.
- CVRPLIB sets A, B and P (n <= 101): PyVRP (``solve_cvrp``, 30,000 iterations, about
  10 s) against the previous OR-Tools guided local search stopped at 10 s.
- Synthetic default network (44 cities, 20 sites): the exact MILP with the express
  promise against exhaustive search over site subsets (sampled and scaled).
- The profile-aware network against the ship-mode rule (equal cost, equal service)
  over seeds 42-46, with the effects at their default strengths and all off.

    python benchmarks/bench_logistics.py            # solvers and the synthetic network
    python benchmarks/bench_logistics.py --pmed N   # only the first N pmed sizes (1-40)
    python benchmarks/bench_logistics.py --seeds    # the comparison over seeds (slow)
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from chainsight import datasets, logistics, profiling

REF = datasets.PROJECT_ROOT / "data" / "reference"


def p_median(count: int = 40, seconds: float = 60.0) -> pd.DataFrame:
    """Each pmed size, new setup against the previous one."""
    opt = datasets.read_optima(REF / "orlib_pmed" / "pmedopt.txt")
    rows = []
    for k, (n, edges, p) in enumerate(datasets.PMED_SIZES[:count], start=1):
        name = f"pmed{k}"
        if name in opt:
            dist, p = datasets.read_pmed(REF / "orlib_pmed" / f"{name}.txt")
        else:
            dist, name = datasets.random_pmed(n, edges, seed=k), f"pmed{k}-shaped"
        new = logistics.pmedian(dist, p, time_limit=seconds)
        old = logistics.locate(dist, p=p, time_limit=seconds, method="milp")
        best = opt.get(f"pmed{k}", min(new.cost, old.cost))
        rows.append({"instance": name, "n": n, "p": p, "optimum": opt.get(f"pmed{k}"),
                     "new cost": new.cost, "new gap to best": new.cost / best - 1,
                     "new proven gap": new.gap, "new s": new.seconds,
                     "old cost": old.cost, "old gap to best": old.cost / best - 1,
                     "old proven gap": old.gap, "old s": old.seconds})
        print(f"  {name} (n {n}, p {p}): new {new.cost:,.0f} {new.status} in {new.seconds:.1f} s;"
              f" old {old.cost:,.0f} {old.status} in {old.seconds:.1f} s", flush=True)
    table = pd.DataFrame(rows)
    proven = table["new proven gap"] <= 1e-9
    print(f"p-median, {len(table)} instances: new proven optimal {proven.sum()}, slowest "
          f"{table['new s'].max():.1f} s, largest proven gap {table['new proven gap'].max():.2%};"
          f" old optimal {(table['old proven gap'] <= 1e-9).sum()}, slowest "
          f"{table['old s'].max():.1f} s, largest gap to best {table['old gap to best'].max():.2%}")
    return table


def capacitated() -> None:
    opt = datasets.read_optima(REF / "orlib_warehouse" / "capopt.txt")
    gaps, times = [], []
    for name, best in opt.items():
        inst = datasets.read_cap(REF / "orlib_warehouse" / f"{name}.txt")
        r = logistics.locate(inst["cost"], inst["fixed"], demand=inst["demand"],
                             capacity=inst["capacity"])
        gaps.append(abs(r.cost / best - 1))
        times.append(r.seconds)
    print(f"capacitated cap41-74: largest gap {max(gaps):.1e}; slowest {max(times):.2f} s")


def ortools_cvrp(dist, demand, capacity, vehicles, depot, seconds=10.0):
    """The previous setup: OR-Tools guided local search from a path-cheapest-arc start."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    D = np.rint(dist).astype(int).tolist()
    q = np.rint(demand).astype(int).tolist()
    man = pywrapcp.RoutingIndexManager(len(D), vehicles, depot)
    m = pywrapcp.RoutingModel(man)
    m.SetArcCostEvaluatorOfAllVehicles(m.RegisterTransitMatrix(D))
    load = m.RegisterUnaryTransitVector(q)
    m.AddDimensionWithVehicleCapacity(load, 0, [int(capacity)] * vehicles, True, "load")
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    p.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    p.time_limit.FromMilliseconds(int(seconds * 1000))
    sol = m.SolveWithParameters(p)
    return None if sol is None else sol.ObjectiveValue()


def cvrplib() -> pd.DataFrame:
    rows = []
    paths = sorted((REF / "cvrplib_A").glob("*.vrp")) + sorted((REF / "cvrplib_BP").glob("*.vrp"))
    for path in paths:
        inst = datasets.read_cvrp(path)
        _, best = datasets.read_cvrp_solution(path.with_suffix(".sol"))
        dist = logistics.tsplib_distances(inst["coords"])
        r = logistics.solve_cvrp(dist, inst["demand"], inst["capacity"], inst["vehicles"],
                                 inst["depot"])
        t0 = time.perf_counter()
        old = ortools_cvrp(dist, inst["demand"], inst["capacity"], inst["vehicles"],
                           inst["depot"])
        rows.append({"instance": inst["name"], "n": len(dist), "optimum": best,
                     "new gap": r.cost / best - 1, "new s": r.seconds,
                     "old gap": np.nan if old is None else old / best - 1,
                     "old s": time.perf_counter() - t0})
        print(f"  {inst['name']}: new {r.cost / best - 1:+.2%} in {r.seconds:.1f} s; old "
              + ("no feasible routes" if old is None else f"{old / best - 1:+.2%}"), flush=True)
    table = pd.DataFrame(rows)
    for label, part in (("A", table[table["instance"].str.startswith("A")]),
                        ("B and P", table[~table["instance"].str.startswith("A")])):
        print(f"CVRPLIB {label} ({len(part)}): new mean gap {part['new gap'].mean():.2%}, worst "
              f"{part['new gap'].max():.2%}, slowest {part['new s'].max():.1f} s; old mean "
              f"{part['old gap'].mean():.2%}, worst {part['old gap'].max():.2%}, "
              f"{part['old gap'].isna().sum()} without feasible routes")
    return table


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
        count = int(sys.argv[sys.argv.index("--pmed") + 1]) if "--pmed" in sys.argv else 40
        with pd.option_context("display.width", 220, "display.max_columns", 20,
                               "display.float_format", "{:,.4f}".format):
            print(p_median(count).to_string(index=False))
            capacitated()
            print(cvrplib().to_string(index=False))
        if "--pmed" not in sys.argv:
            synthetic()
