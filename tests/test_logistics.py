"""Logistics: exact facility location and vehicle routing, checked on the published
OR-Library and CVRPLIB instances, then on the synthetic retailer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chainsight import datasets
from chainsight import logistics as L

REF = Path(__file__).resolve().parents[1] / "data" / "reference"
PMED = datasets.read_optima(REF / "orlib_pmed" / "pmedopt.txt")
CAP = datasets.read_optima(REF / "orlib_warehouse" / "capopt.txt")
CVRP = sorted((REF / "cvrplib_A").glob("*.vrp"))


@pytest.mark.parametrize("name", sorted(PMED, key=lambda k: int(k[4:])))
def test_or_library_p_median_optimum(name):
    dist, p = datasets.read_pmed(REF / "orlib_pmed" / f"{name}.txt")
    r = L.locate(dist, p=p)
    assert r.status == "optimal" and r.open.sum() == p
    assert round(r.cost) == PMED[name]
    # Every customer is served from its nearest open site.
    assert np.allclose(r.assign.sum(axis=1), 1)
    assert r.cost == pytest.approx(dist[:, r.open].min(axis=1).sum())


@pytest.mark.parametrize("name", sorted(CAP))
def test_or_library_capacitated_warehouse_optimum(name):
    inst = datasets.read_cap(REF / "orlib_warehouse" / f"{name}.txt")
    r = L.locate(inst["cost"], inst["fixed"], demand=inst["demand"], capacity=inst["capacity"])
    assert r.cost == pytest.approx(CAP[name], rel=1e-4)
    load = inst["demand"] @ r.assign
    assert (load <= inst["capacity"] * r.open + 1e-6).all()


@pytest.mark.parametrize("path", CVRP, ids=lambda p: p.stem)
def test_cvrplib_within_two_percent(path):
    inst = datasets.read_cvrp(path)
    routes, best = datasets.read_cvrp_solution(path.with_suffix(".sol"))
    dist = L.tsplib_distances(inst["coords"])
    assert L.route_cost(routes, dist) == best  # the reader and the distances agree
    r = L.solve_cvrp(dist, inst["demand"], inst["capacity"], inst["vehicles"], inst["depot"])
    assert r.cost <= best * 1.02
    visited = sorted(n for route in r.routes for n in route)
    assert visited == [i for i in range(len(dist)) if i != inst["depot"]]
    assert all(inst["demand"][route].sum() <= inst["capacity"] for route in r.routes)


def test_cvrp_same_routes_on_every_run():
    inst = datasets.read_cvrp(CVRP[0])
    dist = L.tsplib_distances(inst["coords"])
    runs = [L.solve_cvrp(dist, inst["demand"], inst["capacity"], inst["vehicles"],
                         solution_limit=500).routes for _ in range(2)]
    assert runs[0] == runs[1]


def test_p_median_repeated_edge_last_cost_wins(tmp_path):
    f = tmp_path / "tiny.txt"
    f.write_text("3 3 1\n1 2 5\n2 3 1\n1 2 2\n")
    dist, p = datasets.read_pmed(f)
    assert p == 1 and dist[0, 1] == 2 and dist[0, 2] == 3


def test_coverage_constraint_by_hand():
    # Two customers and two sites; site 0 is cheap but far from customer 1, who must be
    # within reach.
    cost = np.array([[1.0, 10.0], [5.0, 6.0]])
    within = np.array([[True, False], [False, True]])
    free = L.locate(cost, fixed_cost=[0.0, 100.0])
    assert free.sites.tolist() == [0]
    need = L.locate(cost, fixed_cost=[0.0, 100.0],
                    coverage=[L.Coverage(within, np.array([0.0, 1.0]), 1.0, "express")])
    assert need.sites.tolist() == [0, 1] and need.covered["express"] == 1.0
    assert need.cost == pytest.approx(1 + 5 + 100)  # reach is required, not the route
    with pytest.raises(ValueError, match="no feasible network"):
        L.locate(cost, p=1, coverage=[L.Coverage(within, np.array([1.0, 1.0]), 1.0)])


def test_time_windows_are_met():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (12, 2))
    dist = L.tsplib_distances(xy)
    windows = np.array([[0, 1000]] + [[0, 1000]] * 11)
    early = dist[0, 3] + 5
    windows[3] = [0, early]  # an express stop: first on its route
    r = L.solve_cvrp(dist, np.r_[0, np.ones(11)], 6, 3, time_windows=windows,
                     service_time=5)
    assert r.arrival[3] <= early and any(route[0] == 3 for route in r.routes)
    assert r.cost == L.route_cost(r.routes, dist)
    with pytest.raises(ValueError, match="more than a vehicle's capacity"):
        L.solve_cvrp(dist, np.r_[0, np.full(11, 9)], 6, 3)


def test_delivery_days_by_hand():
    km = np.array([100, 800, 2000, 100, 1300, 100, 900, 50])
    mode = np.array(["express"] * 3 + ["standard"] * 2 + ["economy"] * 2 + ["pickup"])
    assert L.delivery_days(km, mode).tolist() == [1, 2, 3, 2, 4, 3, 5, 0]
    assert L.promised_days(km, mode)[:5].tolist() == [1, 2, 3, 3, 5]
    # Beijing to Shanghai: about 1,070 km great-circle.
    gc = L.great_circle_km(116.407, 39.904, 121.474, 31.230)
    assert 1050 < gc < 1090 and L.road_km(gc) == pytest.approx(gc * 1.3 + 15)


def _profiled(size):
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size=size, seed=42)
    prof = profiling.build_profile(ds, as_of="2024-12-31 23:59:59")
    return ds, prof.segments_for(ds.tables["customers"])


@pytest.fixture(scope="module")
def default_network():
    ds, segs = _profiled("default")
    return ds, segs, L.network_comparison(ds.orders, ds.tables["customers"], segs,
                                          ds.tables["sites"], "2025-01-01")


def test_profile_aware_network_meets_the_express_share(default_network):
    """The logistics acceptance on the default synthetic data: at least 30 cities and
    15 candidate sites, solved to optimality; the profile-aware network meets the
    express segments' next-day share where the blind one does not, at a stated cost."""
    ds, _, r = default_network
    assert len(r["cities"]) >= 30 and len(ds.tables["sites"]) >= 15
    net = r["networks"].set_index("network")
    blind, aware = net.loc["profile-blind"], net.loc["profile-aware"]
    assert aware["min_segment_share_within_radius"] >= 0.9
    assert blind["min_segment_share_within_radius"] < 0.9
    assert aware["total_cost"] > blind["total_cost"]  # the price of the promise
    assert blind["total_cost"] <= net.loc["naive k-means", "total_cost"]
    assert aware["holdout_express_next_day"] > blind["holdout_express_next_day"]
    assert aware["holdout_mean_delivery_days"] < blind["holdout_mean_delivery_days"]
    fast_segments = list(r["express_segments"])
    needs = r["needs"].set_index("segment")
    assert 0 < len(fast_segments) < len(needs)
    fast = needs.loc[fast_segments, "days_accepted"]
    assert fast.max() < needs.drop(index=fast_segments)["days_accepted"].min()
    curve = r["curve"].dropna()
    assert curve["extra_cost"].is_monotonic_decreasing  # a wider radius costs less
    assert (r["variants"]["status"] == "optimal").all()


def test_delivery_tiers_and_last_mile(default_network):
    ds, segs, r = default_network
    open_sites = r["sites"][r["sites"]["profile-aware"]]
    t = L.delivery_tiers(ds.orders, ds.tables["customers"], segs, open_sites, "2025-01-01")
    rec = t["recommended"].set_index("segment")
    assert (rec.loc[[1, 2], "tier"] == "express").all()
    opts = t["options"].set_index(["segment", "tier"])
    assert (opts.xs("express", level="tier")["revenue_protected"] == 1).all()
    assert (opts.xs("express", level="tier")["cost_per_order"]
            > opts.xs("economy", level="tier")["cost_per_order"]).all()
    lm = L.last_mile(ds.orders, ds.tables["customers"], segs, "Shanghai", "2025-11-10",
                     r["express_segments"], solution_limit=300)
    pol = lm["policies"].set_index("policy")
    assert pol.loc["profile-aware", "express_on_time"] == 1.0
    assert pol.loc["profile-blind", "km"] <= pol.loc["profile-aware", "km"] * 1.001
    assert pol["parcels"].nunique() == 1 and pol.loc["profile-aware", "express_stops"] > 0


def test_city_points_spread_evenly_and_stay_put():
    import pandas as pd

    customers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(500)], "city": "X",
                              "lon": 120.0, "lat": 30.0})
    a, b = L.city_points(customers, 10), L.city_points(customers, 10)
    assert a.equals(b) and a["lon"].nunique() == 500
    d = L.great_circle_km(120.0, 30.0, a["lon"], a["lat"])
    assert d.max() <= 10.05 and np.median(d) == pytest.approx(10 / np.sqrt(2), rel=0.1)
