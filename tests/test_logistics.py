"""Logistics: exact facility location and vehicle routing, checked on the published
OR-Library and CVRPLIB instances, then on the synthetic retailer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chainsight import compare, datasets
from chainsight import logistics as L
from chainsight import schema as S

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


def _routed(path, iterations):
    inst = datasets.read_cvrp(path)
    routes, best = datasets.read_cvrp_solution(path.with_suffix(".sol"))
    dist = L.tsplib_distances(inst["coords"])
    assert L.route_cost(routes, dist) == best  # the reader and the distances agree
    r = L.solve_cvrp(dist, inst["demand"], inst["capacity"], inst["vehicles"], inst["depot"],
                     iterations=iterations)
    visited = sorted(n for route in r.routes for n in route)
    assert visited == [i for i in range(len(dist)) if i != inst["depot"]]
    assert all(inst["demand"][route].sum() <= inst["capacity"] for route in r.routes)
    assert len(r.routes) <= inst["vehicles"]
    assert r.cost == L.route_cost(r.routes, dist)
    return r.cost, best


@pytest.mark.parametrize("path", CVRP, ids=lambda p: p.stem)
def test_cvrplib_a_at_its_published_optimum(path):
    cost, best = _routed(path, 3000)
    assert cost == best


@pytest.mark.parametrize("name", ["B-n78-k10", "P-n76-k5", "P-n101-k4"])
def test_cvrplib_b_and_p_within_one_percent(name):
    cost, best = _routed(REF / "cvrplib_BP" / f"{name}.vrp", 10_000)
    assert cost <= best * 1.01


def test_cvrp_same_routes_on_every_run():
    inst = datasets.read_cvrp(CVRP[0])
    dist = L.tsplib_distances(inst["coords"])
    runs = [L.solve_cvrp(dist, inst["demand"], inst["capacity"], inst["vehicles"],
                         iterations=500).routes for _ in range(2)]
    assert runs[0] == runs[1]


def test_routes_that_cannot_be_found_say_why():
    dist = np.array([[0, 3, 4, 5], [3, 0, 2, 6], [4, 2, 0, 3], [5, 6, 3, 0]])
    with pytest.raises(ValueError, match=r"total demand 18 exceeds the fleet's capacity \(2 "
                                         r"vehicles x 7 = 14\); at least 3 vehicles"):
        L.solve_cvrp(dist, [0, 6, 6, 6], 7, 2)
    # 3 x 4 units fit 2 x 7 in total, but no vehicle carries two of them.
    with pytest.raises(ValueError, match="the loads do not pack into them; try 3 vehicles"):
        L.solve_cvrp(dist, [0, 4, 4, 4], 7, 2, iterations=200)
    assert len(L.solve_cvrp(dist, [0, 4, 4, 4], 7, 3, iterations=200).routes) == 3


def test_p_median_local_search_bound_and_time_limit_are_honest():
    dist, p = datasets.read_pmed(REF / "orlib_pmed" / "pmed6.txt")
    best = PMED["pmed6"]
    fast = L.pmedian(dist, p, exact=False)
    assert fast.cost >= best >= fast.cost * (1 - fast.gap) - 1e-9
    assert fast.status.startswith(f"within {fast.gap:.2%}") and fast.gap > 0
    short = L.pmedian(dist, p, time_limit=0.2)
    assert short.cost >= best >= short.cost * (1 - short.gap) - 1e-9
    assert short.status == "optimal" or "time limit" in short.status
    # Vertex substitution ends where no single swap helps: brute force on a small graph.
    small = datasets.random_pmed(12, 30, seed=1)
    is_open, cost = L.swap_search(small, 3, [0, 1, 2])
    from itertools import combinations
    costs = {s: small[:, list(s)].min(axis=1).sum() for s in combinations(range(12), 3)}
    assert cost == costs[tuple(np.flatnonzero(is_open))] >= min(costs.values())
    exact = L.pmedian(small, 3)
    assert exact.status == "optimal" and exact.cost == min(costs.values())


def test_lagrangian_branch_and_bound_alone_proves_the_optimum():
    """The tree search by itself, with no MILP behind it and no local search inside, on
    brute-forced graphs and on pmed6 (published optimum), from a poor start."""
    from itertools import combinations

    def cut(c):
        return c - (1 - 1e-6)

    for seed, (n, p) in enumerate([(14, 3), (16, 4), (15, 1)]):
        C = datasets.random_pmed(n, 2 * n, seed=seed)
        best = min(C[:, list(s)].min(axis=1).sum() for s in combinations(range(n), p))
        start = np.arange(n) < p
        _, lam, _ = L.lagrangian_bound(C, p, C[:, start].min(axis=1).sum(), iterations=50)
        is_open, cost, bound = L._branch_and_bound(C, p, np.arange(n), lam, start,
                                                   C[:, start].min(axis=1).sum(), cut, np.inf,
                                                   polish=0)
        assert cost == bound == best == C[:, is_open].min(axis=1).sum() and is_open.sum() == p
    dist, p = datasets.read_pmed(REF / "orlib_pmed" / "pmed6.txt")
    start = L._greedy_sites(dist, p)
    is_open, cost = np.isin(np.arange(len(dist)), start), dist[:, start].min(axis=1).sum()
    _, lam, _ = L.lagrangian_bound(dist, p, cost)
    is_open, cost, bound = L._branch_and_bound(dist, p, np.arange(len(dist)), lam, is_open,
                                               cost, cut, np.inf, polish=0)
    assert cost == bound == PMED["pmed6"]


def test_p_median_is_exact_at_any_cost_scale_and_refuses_negative_costs():
    """Fractional costs far below 1 are solved as at scale 1: the tolerances are relative
    (at 1e-8 an absolute one once let a 0.8% worse answer pass as optimal)."""
    from itertools import combinations

    rng = np.random.default_rng(31)
    pts, sites = rng.random((25, 2)), rng.random((12, 2))
    C = np.sqrt(((pts[:, None] - sites[None]) ** 2).sum(-1))
    best = min(C[:, list(c)].min(axis=1).sum() for c in combinations(range(12), 3))
    for scale in (1.0, 1e-8, 1e8):
        r = L.pmedian(C * scale, 3)
        assert r.status == "optimal" and r.cost == pytest.approx(best * scale, rel=1e-12)
    with pytest.raises(ValueError, match="1 costs are negative or not finite; a constant"):
        L.pmedian(C - 2 * (C == C.max()), 3)


def test_random_pmed_is_an_or_library_shaped_graph():
    d = datasets.random_pmed(300, 1800, seed=4)
    assert d.shape == (300, 300) and np.isfinite(d).all() and (np.diag(d) == 0).all()
    assert (d == d.T).all() and (d == np.round(d)).all() and d[d > 0].min() >= 1
    assert (datasets.random_pmed(300, 1800, seed=4) == d).all()
    assert len(datasets.PMED_SIZES) == 40


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


EFFECTS_OFF = {"acquisition_shift": 0, "customisation_ramp": 0, "category_shift": 0,
               "quality_incident": 0}


def _profiled(size, effects=None):
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size=size, seed=42, effects=effects)
    prof = profiling.build_profile(ds, as_of="2024-12-31 23:59:59")
    return ds, prof.segments_for(ds.tables["customers"])


@pytest.fixture(scope="module")
def default_network():
    ds, segs = _profiled("default")
    return ds, segs, L.network_comparison(ds.orders, ds.tables["customers"], segs,
                                          ds.tables["sites"], "2025-01-01", n_boot=500)


def test_networks_meet_their_rules_and_are_matched_on_the_planning_year(default_network):
    """The logistics acceptance on the default synthetic data: at least 30 cities and
    15 candidate sites, solved to optimality; each rule meets its share on the planning
    year; the ship-mode networks matched to the profile-aware one are chosen on the
    planning year (equal cost: no dearer, at least its express reach; equal service:
    at least its express reach, no dearer)."""
    ds, _, r = default_network
    assert len(r["cities"]) >= 30 and len(ds.tables["sites"]) >= 15
    net = r["networks"].set_index("network")
    aware, ship = net.loc["profile-aware"], net.loc["ship-mode rule"]
    eqc, eqs = net.loc["ship-mode rule, equal cost"], net.loc["ship-mode rule, equal service"]
    assert aware["min_segment_share_within_radius"] >= 0.9
    assert ship["express_orders_within_radius"] >= 0.9
    assert net.loc["cost only", "min_segment_share_within_radius"] < 0.9
    for matched in (eqc, eqs):
        assert matched["total_cost"] <= aware["total_cost"] * (1 + 1e-9)
        assert matched["express_orders_within_radius"] >= aware["express_orders_within_radius"]
    assert net.loc["cost only", "total_cost"] <= net["total_cost"].min()
    assert 0 < aware["holdout_express_next_day"] <= 1
    fast_segments = list(r["express_segments"])
    needs = r["needs"].set_index("segment")
    assert 0 < len(fast_segments) < len(needs)
    fast = needs.loc[fast_segments, "days_accepted"]
    assert fast.max() < needs.drop(index=fast_segments)["days_accepted"].min()
    # Along each rule a larger required share costs at least as much and reaches more.
    for rule, f in r["frontier"].groupby("rule"):
        f = f.sort_values("required_share")
        assert f["planned_cost"].is_monotonic_increasing, rule
        if rule == "ship-mode rule":
            assert f["express_orders_within_radius"].is_monotonic_increasing
    assert (r["variants"]["status"] == "optimal").all()
    assert r["holdout"]["customers_changing_city"] == 0  # the generator never moves anyone


def test_network_comparisons_come_with_intervals(default_network):
    _, _, r = default_network
    c = r["comparisons"]
    assert {"express orders next day, at equal cost", "cost per order, at equal service",
            "express orders next day, against cost only (strawman)"} <= set(c)
    for p in c.values():
        assert p.verdict in compare.VERDICTS and p.lo <= p.difference <= p.hi
        assert p.unit == "city" and p.n_units >= 30
    # Any service rule beats no service rule on next-day express delivery.
    assert c["express orders next day, against cost only (strawman)"].verdict == "better"
    net = r["networks"].set_index("network")
    assert c["express orders next day, at equal cost"].aware == pytest.approx(
        net.loc["profile-aware", "holdout_express_next_day"])


def test_negative_control_profile_network_not_better_at_equal_cost():
    """With every effect off the profile-aware network is not better than the ship-mode
    rule at equal cost, on next-day express delivery or on cost at equal service."""
    r = L.network_control(EFFECTS_OFF, size="default", seed=42, n_boot=1000)
    c = r["comparisons"]
    assert c["express orders next day, at equal cost"].verdict != "better"
    assert c["cost per order, at equal service"].verdict != "better"


def _toy(hold_city):
    """Three cities on a line, a site at each; the planning year's express orders are
    all in city A, the holdout's in ``hold_city`` from a customer first seen then."""
    import pandas as pd

    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "n"],
                              "city": ["A", "B", "C", hold_city],
                              "lon": [100.0, 110.0, 120.0, {"A": 100.0, "B": 110.0,
                                                             "C": 120.0}[hold_city]],
                              "lat": [30.0] * 4})
    sites = pd.DataFrame({"site_id": ["S1", "S2", "S3"], "city": ["A", "B", "C"],
                          "lon": [100.0, 110.0, 120.0], "lat": [30.0] * 3,
                          "fixed_cost": [1e5, 1e5, 1e5]})
    rows = [("a", "2024-03-01", "express")] * 20 + [("b", "2024-04-01", "standard")] * 5
    rows += [("c", "2024-05-01", "economy")] * 5 + [("n", "2025-02-01", "express")] * 20
    orders = pd.DataFrame(rows, columns=["customer_id", "timestamp", "ship_mode"])
    orders = orders.assign(order_id=[f"o{i}" for i in range(len(orders))], quantity=1,
                           unit_price=10.0, timestamp=pd.to_datetime(orders["timestamp"]))
    segments = pd.DataFrame({"customer_id": ["a", "b", "c", "n"], "segment": [1, 2, 2, 1]})
    return L.network_comparison(orders, customers, segments, sites, "2025-01-01",
                                volume_scale=1, shares=(0.9,), n_boot=200)


def test_holdout_can_disagree_with_the_plan():
    """New customers in a city the plan did not serve: the planning year's reach is
    met, the holdout's next-day share is not; with the holdout demand where the plan
    put it, both agree."""
    far = _toy("C")["networks"]
    near = _toy("A")["networks"]
    for t in (far, near):
        row = t.set_index("network").loc["profile-aware"]
        assert row["express_orders_within_radius"] == 1.0
    assert far.set_index("network").loc["profile-aware", "holdout_express_next_day"] == 0.0
    assert near.set_index("network").loc["profile-aware", "holdout_express_next_day"] == 1.0
    h = _toy("C")["holdout"]
    assert h["new_customer_share_of_express"] == 1.0 and h["new_express_cities"] == 1


def test_city_changes_counts_movers():
    import pandas as pd

    customers = pd.DataFrame({"customer_id": ["a", "b"], "city": ["X", "Y"]})
    orders = pd.DataFrame({"customer_id": ["a", "a", "b"]})
    assert L.city_changes(orders, customers) == 0
    assert L.city_changes(orders.assign(city=["X", "Z", "Y"]), customers) == 1
    assert L.city_changes(orders, pd.concat([customers, customers.assign(city="Q")])) == 2


def test_delivery_tiers_against_customers_choice(default_network):
    ds, segs, r = default_network
    open_sites = r["sites"][r["sites"]["profile-aware"]]
    t = L.delivery_tiers(ds.orders, ds.tables["customers"], segs, open_sites, "2025-01-01",
                         products=ds.tables["products"], n_boot=300)
    pol = t["policies"].set_index("policy")
    assert pol.loc["customers' choice", "lost_margin_per_order"] == 0
    assert pol.loc["customers' choice", "revenue_protected"] == pytest.approx(1)
    assert pol.loc["standard for all", "lost_margin_per_order"] > 0
    # The by-segment figures are those of each segment's recommended tier.
    rec = t["recommended"]
    assert (rec["orders"] * rec["total_per_order"]).sum() / rec["orders"].sum() == \
        pytest.approx(pol.loc["by segment", "total_per_order"])
    opts = t["options"].set_index(["segment", "tier"])
    assert (opts.xs("express", level="tier")["revenue_protected"] == 1).all()
    for p in t["comparisons"].values():
        assert p.verdict in compare.VERDICTS and p.unit == "customer"


def test_last_mile_windows_in_both_plans(default_network):
    ds, segs, r = default_network
    lm = L.last_mile(ds.orders, ds.tables["customers"], segs, "Shanghai", "2025-11-10",
                     r["express_segments"], solution_limit=300)
    pol = lm["policies"].set_index("policy")
    assert pol.loc["profile-blind", "express_on_time"] == 1.0  # every express stop
    assert pol.loc["profile-aware", "segment_express_on_time"] == 1.0
    assert pol["parcels"].nunique() == 1 and pol.loc["profile-aware", "express_stops"] > 0
    city, days = L.pick_route_days(ds.orders, ds.tables["customers"], segs, ["Shanghai"],
                                   "2025-01-01", 3)
    many = L.last_mile_days(ds.orders, ds.tables["customers"], segs, city, days,
                            r["express_segments"], solution_limit=200, n_boot=200)
    assert len(many["days"]) == 6 and set(many["comparisons"]) <= {
        "road km per day", "express stops within the window"}
    assert (many["days"].query("policy == 'profile-blind'")["express_on_time"]
            .dropna() == 1.0).all()


def test_city_points_spread_evenly_and_stay_put():
    import pandas as pd

    customers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(500)], "city": "X",
                              "lon": 120.0, "lat": 30.0})
    a, b = L.city_points(customers, 10), L.city_points(customers, 10)
    assert a.equals(b) and a["lon"].nunique() == 500
    d = L.great_circle_km(120.0, 30.0, a["lon"], a["lat"])
    assert d.max() <= 10.05 and np.median(d) == pytest.approx(10 / np.sqrt(2), rel=0.1)


def test_demand_by_country_from_the_customers_or_the_orders():
    orders = pd.DataFrame({S.CUSTOMER_ID: ["a", "a", "b"], S.ORDER_ID: ["1", "2", "3"],
                           S.QUANTITY: [1.0, 2.0, 1.0], S.UNIT_PRICE: [10.0, 10.0, 5.0],
                           S.COUNTRY: ["US", "US", "CA"]})
    from_orders = L.demand_by_country(orders, pd.DataFrame({S.CUSTOMER_ID: ["a", "b"]}))
    assert from_orders["revenue"].to_dict() == {"US": 30.0, "CA": 5.0}
    customers = pd.DataFrame({S.CUSTOMER_ID: ["a", "b"], S.COUNTRY: ["UK", "UK"]})
    assert L.demand_by_country(orders, customers)["customers"].to_dict() == {"UK": 2}
