"""Logistics (物流效率): where to put warehouses, what delivery to offer whom, and how
to route a day's deliveries.

- :func:`locate` solves facility location exactly as a mixed-integer programme
  (HiGHS through scipy): p-median, uncapacitated and capacitated (splittable)
  facility location, with an optional service constraint that puts a share of
  chosen demand within a radius of an open site.
- :func:`solve_cvrp` routes vehicles with capacities (and time windows) with
  OR-Tools.
- Readers for the OR-Library and CVRPLIB instances the tests reproduce.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from chainsight import schema as S

# ---------------------------------------------------------------------------
# Distances and delivery days
# ---------------------------------------------------------------------------
DETOUR_FACTOR = 1.3  # road distance / great-circle distance
LAST_MILE_KM = 15  # added to every delivery: from the local depot to the door


def great_circle_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Haversine distance in km (broadcasts)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float))
                              for v in (lon1, lat1, lon2, lat2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def road_km(great_circle, detour: float = DETOUR_FACTOR) -> np.ndarray:
    """Road-like distance: great-circle km x the detour factor + the last mile."""
    return np.asarray(great_circle, dtype=float) * detour + LAST_MILE_KM


def delivery_days(km, mode) -> np.ndarray:
    """Days a parcel takes over ``km`` road km by ship mode, with no delay: express
    next day within 700 km, then 2 days within 1,600 km, else 3; standard 2 days +
    one per 600 km; economy 3 days + one per 400 km; pickup 0."""
    km, mode = np.asarray(km, dtype=float), np.asarray(mode)
    return np.select([mode == "express", mode == "standard", mode == "economy"],
                     [1 + (km > 700) + (km > 1600), 2 + km // 600, 3 + km // 400], 0)


def promised_days(km, mode) -> np.ndarray:
    """Days promised at checkout by ship mode: express as :func:`delivery_days`,
    standard one day more, economy two days more."""
    km, mode = np.asarray(km, dtype=float), np.asarray(mode)
    return np.select([mode == "express", mode == "standard"],
                     [1 + (km > 700) + (km > 1600), 3 + km // 600], 5 + km // 400)


NEXT_DAY_KM = 700  # the road distance within which express arrives the next day


# ---------------------------------------------------------------------------
# Facility location
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Coverage:
    """A service requirement: at least ``share`` of ``weight`` (per customer) must
    lie where ``within`` (customers x sites, True where the site is close enough)
    has an open site."""

    within: np.ndarray
    weight: np.ndarray
    share: float
    name: str = ""


@dataclass(frozen=True)
class Location:
    """An optimal network: ``open`` (bool per site), ``assign`` (customers x sites,
    the share of each customer's demand served from each site), the objective and
    its parts."""

    open: np.ndarray
    assign: np.ndarray
    cost: float
    fixed_cost: float
    assignment_cost: float
    status: str
    seconds: float
    gap: float = 0.0
    covered: dict = field(default_factory=dict)

    @property
    def sites(self) -> np.ndarray:
        return np.flatnonzero(self.open)


def locate(assign_cost, fixed_cost=None, p: int | None = None, demand=None, capacity=None,
           coverage: list[Coverage] | tuple = (), open_sites=None,
           time_limit: float = 60.0) -> Location:
    """Choose sites and assign customers to them at least cost, exactly (HiGHS MILP).

    Parameters
    ----------
    assign_cost : (n_customers, n_sites) cost of serving a customer's whole demand
        from a site (for a p-median: demand x distance).
    fixed_cost : per site (default 0: a p-median needs ``p``).
    p : exactly this many open sites (default: as many as pay for themselves).
    demand, capacity : per customer and per site; with both, a site serves at most
        its capacity, and a customer's demand may be split between sites.
    coverage : service requirements (:class:`Coverage`).
    open_sites : sites forced open (indices), e.g. the current network.

    Without capacities each customer goes to one site (the relaxation is then
    integral in the assignments once the sites are fixed).
    """
    t0 = time.perf_counter()
    C = np.asarray(assign_cost, dtype=float)
    n, m = C.shape
    f = np.zeros(m) if fixed_cost is None else np.broadcast_to(
        np.asarray(fixed_cost, dtype=float), (m,))
    if not np.isfinite(C).any(axis=1).all():
        raise ValueError("locate: a customer cannot be served from any site")
    big = np.where(np.isfinite(C), C, 0.0)
    nx = n * m
    cover = list(coverage)
    nu = n if cover else 0
    nvar = nx + m + nu  # x (row-major), y, u (covered flag per customer)
    c = np.concatenate([big.ravel(), f, np.zeros(nu)])
    lower = np.zeros(nvar)
    upper = np.ones(nvar)
    upper[:nx] = np.isfinite(C).ravel()  # no assignment where the cost is infinite
    if open_sites is not None:
        lower[nx + np.asarray(open_sites, dtype=int)] = 1
    integrality = np.zeros(nvar)
    integrality[nx:nx + m] = 1
    rows = []

    def block(mat, lo, hi):
        rows.append(LinearConstraint(sparse.csr_matrix(mat), lo, hi))

    rid = np.repeat(np.arange(n), m)
    xid = np.arange(nx)
    # Each customer fully served.
    block(sparse.coo_matrix((np.ones(nx), (rid, xid)), shape=(n, nvar)), 1, 1)
    # x_ij <= y_j.
    yid = nx + np.tile(np.arange(m), n)
    link = sparse.coo_matrix((np.r_[np.ones(nx), -np.ones(nx)],
                              (np.r_[xid, xid], np.r_[xid, yid])), shape=(nx, nvar))
    block(link, -np.inf, 0)
    if p is not None:
        block(sparse.coo_matrix((np.ones(m), (np.zeros(m, int), nx + np.arange(m))),
                                shape=(1, nvar)), p, p)
    if capacity is not None:
        if demand is None:
            raise ValueError("locate: capacities need the customers' demand")
        d = np.asarray(demand, dtype=float)
        cap = np.broadcast_to(np.asarray(capacity, dtype=float), (m,))
        sid = np.tile(np.arange(m), n)
        mat = sparse.coo_matrix((np.r_[np.repeat(d, m), -cap], (np.r_[sid, np.arange(m)],
                                 np.r_[xid, nx + np.arange(m)])), shape=(m, nvar))
        block(mat, -np.inf, 0)
    for k, cv in enumerate(cover):
        within = np.asarray(cv.within, dtype=bool)
        if k == 0:  # u_i <= sum of y_j over the sites within reach of customer i
            ci, sj = np.nonzero(within)
            mat = sparse.coo_matrix((np.r_[np.ones(n), -np.ones(len(ci))],
                                     (np.r_[np.arange(n), ci],
                                      np.r_[nx + m + np.arange(n), nx + sj])), shape=(n, nvar))
            block(mat, -np.inf, 0)
            reach = within
        elif not np.array_equal(within, reach):
            raise ValueError("locate: all coverage requirements must use the same radius")
        w = np.asarray(cv.weight, dtype=float)
        block(sparse.coo_matrix((w, (np.zeros(n, int), nx + m + np.arange(n))),
                                shape=(1, nvar)), cv.share * w.sum(), np.inf)
    with _quiet_stdout():  # HiGHS can print repair notes from C, past its display switch
        res = milp(c, constraints=rows, integrality=integrality, bounds=Bounds(lower, upper),
                   options={"time_limit": time_limit, "mip_rel_gap": 1e-9})
    if res.x is None:
        raise ValueError(f"locate: no feasible network ({res.message})")
    y = res.x[nx:nx + m] > 0.5
    x = res.x[:nx].reshape(n, m)
    covered = {}
    if cover:
        hit = (reach & y[None, :]).any(axis=1)
        covered = {cv.name or str(k): float(np.asarray(cv.weight)[hit].sum()
                                             / max(np.asarray(cv.weight).sum(), 1e-12))
                   for k, cv in enumerate(cover)}
    fixed = float(f[y].sum())
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    return Location(y, x, float(res.fun), fixed, float(res.fun) - fixed,
                    "optimal" if res.status == 0 else res.message, time.perf_counter() - t0,
                    gap, covered)


@contextmanager
def _quiet_stdout():
    """Silence what a C library writes to the process's standard output."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


# ---------------------------------------------------------------------------
# Vehicle routing
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Routes:
    """Vehicle routes (lists of node indices, depot excluded), total cost and the
    arrival time at each visited node when time windows are used."""

    routes: list
    cost: float
    seconds: float
    arrival: dict = field(default_factory=dict)


def tsplib_distances(coords) -> np.ndarray:
    """TSPLIB EUC_2D distances: Euclidean, rounded to the nearest integer."""
    xy = np.asarray(coords, dtype=float)
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    return np.floor(d + 0.5)


def solve_cvrp(dist, demand, capacity: float, vehicles: int, depot: int = 0,
               time_windows=None, service_time=None, travel_time=None,
               solution_limit: int = 4000, time_limit: float = 10.0) -> Routes:
    """Capacitated vehicle routing with OR-Tools: guided local search from a
    path-cheapest-arc start.

    ``dist``: (n, n) integer costs; ``demand`` per node (the depot's is 0);
    ``time_windows``: (earliest, latest) arrival per node in the units of
    ``travel_time`` (default ``dist``), with ``service_time`` per node. The search
    stops after ``solution_limit`` solutions, so the same input gives the same
    routes on any machine; ``time_limit`` seconds is a guard.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    t0 = time.perf_counter()
    D = np.rint(np.asarray(dist, dtype=float)).astype(np.int64)
    n = len(D)
    q = np.rint(np.asarray(demand, dtype=float)).astype(np.int64)
    if q.max() > capacity:
        raise ValueError(f"solve_cvrp: node {int(q.argmax())} needs {q.max()} units, more than "
                         f"a vehicle's capacity {capacity:g}")
    manager = pywrapcp.RoutingIndexManager(n, vehicles, depot)
    model = pywrapcp.RoutingModel(manager)
    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitMatrix(D.tolist()))
    load = model.RegisterUnaryTransitVector(q.tolist())
    model.AddDimensionWithVehicleCapacity(load, 0, [int(capacity)] * vehicles, True, "load")
    tdim = None
    if time_windows is not None:
        T = np.rint(np.asarray(dist if travel_time is None else travel_time,
                               dtype=float)).astype(np.int64)
        svc = np.zeros(n, np.int64) if service_time is None else np.rint(
            np.broadcast_to(np.asarray(service_time, dtype=float), (n,))).astype(np.int64)
        windows = np.rint(np.asarray(time_windows, dtype=float)).astype(np.int64)
        horizon = int(windows[:, 1].max() + T.max() + svc.max())
        model.AddDimension(model.RegisterTransitMatrix((T + svc[:, None]).tolist()), horizon,
                           horizon, False, "time")
        tdim = model.GetDimensionOrDie("time")
        for node, (lo, hi) in enumerate(windows):
            if node == depot:
                for v in range(vehicles):
                    tdim.CumulVar(model.Start(v)).SetRange(int(lo), int(hi))
            else:
                tdim.CumulVar(manager.NodeToIndex(node)).SetRange(int(lo), int(hi))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    params.solution_limit = solution_limit
    params.time_limit.FromMilliseconds(int(time_limit * 1000))
    sol = model.SolveWithParameters(params)
    if sol is None:
        raise ValueError("solve_cvrp: no feasible routes (too few vehicles, or time windows "
                         "that cannot be met)")
    routes, arrival = [], {}
    for v in range(vehicles):
        i, route = sol.Value(model.NextVar(model.Start(v))), []
        while not model.IsEnd(i):
            node = manager.IndexToNode(i)
            route.append(node)
            if tdim is not None:
                arrival[node] = sol.Value(tdim.CumulVar(i))
            i = sol.Value(model.NextVar(i))
        if route:
            routes.append(route)
    return Routes(routes, route_cost(routes, D, depot), time.perf_counter() - t0, arrival)


def route_cost(routes, dist, depot: int = 0) -> float:
    """Total cost of routes that start and end at the depot."""
    D = np.asarray(dist, dtype=float)
    total = 0.0
    for r in routes:
        path = [depot, *r, depot]
        total += D[path[:-1], path[1:]].sum()
    return float(total)


# ---------------------------------------------------------------------------
# From the profile to the network
# ---------------------------------------------------------------------------
# Carrier tariffs, CNY per parcel: (fixed, per road km). Illustrative rates; pass your own.
TARIFFS = {"express": (14.0, 0.010), "standard": (8.0, 0.005), "economy": (5.0, 0.0025)}
SPEED = {"express": 0, "standard": 1, "economy": 2, "pickup": 3}  # 0 the fastest


def _orders_with(orders: pd.DataFrame, customers: pd.DataFrame,
                 segments: pd.DataFrame) -> pd.DataFrame:
    """One row per order: customer, city and coordinates, segment, ship mode,
    revenue and units."""
    S.require_columns(orders, "orders", [S.ORDER_ID, S.CUSTOMER_ID, S.TIMESTAMP, S.QUANTITY,
                                         S.UNIT_PRICE, S.SHIP_MODE])
    S.require_columns(customers, "customers", [S.CUSTOMER_ID, S.CITY, S.LON, S.LAT])
    lines = orders.assign(revenue=orders[S.QUANTITY] * orders[S.UNIT_PRICE])
    per = lines.groupby(S.ORDER_ID, sort=False).agg(
        **{S.CUSTOMER_ID: (S.CUSTOMER_ID, "first"), S.TIMESTAMP: (S.TIMESTAMP, "first"),
           S.SHIP_MODE: (S.SHIP_MODE, "first"), "units": (S.QUANTITY, "sum"),
           "revenue": ("revenue", "sum")}).reset_index()
    geo = customers[[S.CUSTOMER_ID, S.CITY, S.LON, S.LAT]]
    out = per.merge(geo, on=S.CUSTOMER_ID, how="left")
    missing = out[S.CITY].isna()
    if missing.any():
        raise S.contract_error("orders", S.CUSTOMER_ID,
                               "customers without a city in the customers table", out, missing)
    seg = segments[[S.CUSTOMER_ID, "segment"]].astype({"segment": object})
    out = out.merge(seg, on=S.CUSTOMER_ID, how="left")
    out["segment"] = out["segment"].where(out["segment"].notna(), "new")
    return out


def segment_needs(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
                  sites: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per segment: orders, revenue, the share of orders by ship mode, the mean
    delivery days it got, its main cities and, given ``sites`` with a ``current``
    flag, the days it accepts: the days promised for the ship mode each order chose
    (:func:`promised_days`) from the nearest current site, averaged over its
    delivered orders."""
    o = _orders_with(orders, customers, segments)
    mix = pd.crosstab(o["segment"], o[S.SHIP_MODE], normalize="index")
    mix = mix.reindex(columns=list(SPEED), fill_value=0.0).add_suffix("_share")
    out = o.groupby("segment").agg(orders=(S.ORDER_ID, "size"), revenue=("revenue", "sum"))
    delivered = o[S.SHIP_MODE] != "pickup"
    if S.DELIVERY_DAYS in orders:
        days = orders.groupby(S.ORDER_ID)[S.DELIVERY_DAYS].first()
        dd = o.assign(d=o[S.ORDER_ID].map(days))
        out["mean_delivery_days"] = dd[delivered].groupby("segment")["d"].mean()
    if sites is not None and "current" in sites and sites["current"].any():
        cur = sites[sites["current"].astype(bool)]
        km = road_km(great_circle_km(o[S.LON].to_numpy()[:, None], o[S.LAT].to_numpy()[:, None],
                                     cur[S.LON].to_numpy()[None, :],
                                     cur[S.LAT].to_numpy()[None, :]).min(axis=1))
        accepted = pd.Series(promised_days(km, o[S.SHIP_MODE].to_numpy()), index=o.index)
        out["days_accepted"] = accepted[delivered].groupby(o.loc[delivered, "segment"]).mean()
    top = (o.groupby(["segment", S.CITY]).size().rename("n").reset_index()
           .sort_values(["segment", "n"], ascending=[True, False]))
    out["main_cities"] = top.groupby("segment")[S.CITY].apply(lambda c: ", ".join(c.head(3)))
    return out.join(mix).reset_index()


def network_comparison(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
                       sites: pd.DataFrame, holdout_start, *, express_segments=None,
                       express_threshold: float = 0.5, required_share: float = 0.9,
                       next_day_km: float = NEXT_DAY_KM, detour: float = DETOUR_FACTOR,
                       volume_scale: float = 100.0, per_km: float | None = None,
                       radii=(500, 600, 700, 800, 900, 1000), seed: int = 0) -> dict:
    """Warehouse networks with and without the profile, judged on the holdout.

    Demand: orders per city in the 52 weeks before ``holdout_start`` times
    ``volume_scale`` (the customers in the data as a sample of the business whose
    sites' fixed costs and capacities the ``sites`` table gives). The cost of a
    network is the sites' annual fixed cost plus transport, orders x ``per_km``
    (default the standard tariff's) x road km from the serving site.

    - *profile-blind*: the least-cost network (uncapacitated facility location).
    - *profile-aware*: the same, but for every express-preferring segment (express
      share of orders at least ``express_threshold``, or ``express_segments``) at
      least ``required_share`` of its orders lie within ``next_day_km`` road km of
      an open site.
    - *naive*: demand-weighted k-means centres of the cities (as many as the blind
      network has sites), each moved to the nearest free candidate site.

    Each network is then judged on the holdout orders: express orders of the
    express segments within the next-day radius, and mean delivery days by each
    order's own ship mode from the nearest open site (:func:`delivery_days`).

    Columns: orders ``order_id, customer_id, timestamp, quantity, unit_price,
    ship_mode``; customers ``customer_id, city, lon, lat``; segments ``customer_id,
    segment``; sites ``site_id, city, lon, lat, fixed_cost`` (``capacity`` for the
    capacitated variant).

    Returns ``networks`` (one row per network), ``sites`` (which are open),
    ``curve`` (the extra cost of the service constraint over ``radii``),
    ``variants`` (p-median, uncapacitated and capacitated on the blind objective),
    ``cities`` (demand per city and segment) and ``needs`` (:func:`segment_needs`).
    """
    S.require_columns(sites, "sites", [S.SITE_ID, S.CITY, S.LON, S.LAT, S.FIXED_COST])
    start = pd.Timestamp(holdout_start)
    o = _orders_with(orders, customers, segments)
    train = o[(o[S.TIMESTAMP] < start) & (o[S.TIMESTAMP] >= start - pd.Timedelta(weeks=52))]
    hold = o[o[S.TIMESTAMP] >= start]
    if train.empty or hold.empty:
        raise ValueError(f"holdout_start {start.date()} leaves no orders on one side")
    needs = segment_needs(orders[orders[S.TIMESTAMP] < start], customers, segments, sites)
    if express_segments is None:
        express_segments = needs.loc[needs["express_share"] >= express_threshold, "segment"]
    express_segments = list(express_segments)
    if not express_segments:
        raise ValueError("network_comparison: no segment prefers express; lower "
                         "express_threshold or name express_segments")

    cities = (customers.groupby(S.CITY)[[S.LON, S.LAT]].first())
    demand = train.groupby(S.CITY).size().reindex(cities.index, fill_value=0) * volume_scale
    by_seg = train.pivot_table(index=S.CITY, columns="segment", values=S.ORDER_ID,
                               aggfunc="size", fill_value=0).reindex(cities.index, fill_value=0)
    km = road_km(great_circle_km(cities[S.LON].to_numpy()[:, None],
                                 cities[S.LAT].to_numpy()[:, None],
                                 sites[S.LON].to_numpy()[None, :],
                                 sites[S.LAT].to_numpy()[None, :]), detour)
    rate = TARIFFS["standard"][1] if per_km is None else per_km
    cost = demand.to_numpy(float)[:, None] * rate * km
    fixed = sites[S.FIXED_COST].to_numpy(float)

    exp_cols = [s for s in express_segments if s in by_seg]
    if not exp_cols:
        raise ValueError("network_comparison: the express segments have no orders in the "
                         "52 weeks before the holdout")
    exp_units = by_seg[exp_cols].to_numpy(float)

    def coverage(radius):
        return [Coverage(km <= radius, by_seg[s].to_numpy(float), required_share, str(s))
                for s in exp_cols]

    blind = locate(cost, fixed)
    aware = locate(cost, fixed, coverage=coverage(next_day_km))
    naive_open = _kmeans_sites(cities, demand.to_numpy(float), sites, int(blind.open.sum()),
                               seed)
    city_pos = {c: i for i, c in enumerate(cities.index)}
    hold_city = hold[S.CITY].map(city_pos).to_numpy()
    exp_hold = hold["segment"].isin(express_segments).to_numpy()

    def judge(name, open_):
        d = km[:, open_].min(axis=1)
        transport = float((cost[:, open_]).min(axis=1).sum())
        f = float(fixed[open_].sum())
        ok = d <= next_day_km
        seg_share = [float(by_seg[s].to_numpy()[ok].sum() / max(by_seg[s].sum(), 1))
                     for s in exp_cols]
        hk = d[hold_city]
        ship = hold[S.SHIP_MODE].to_numpy()
        shipped = ship != "pickup"
        days = delivery_days(hk, ship)
        express = (ship == "express") & exp_hold
        return {"network": name, "sites": int(open_.sum()),
                "site_cities": ", ".join(sites.loc[open_, S.CITY]),
                "fixed_cost": f, "transport_cost": transport, "total_cost": f + transport,
                "express_demand_within_radius": float(exp_units[ok].sum()
                                                      / max(exp_units.sum(), 1)),
                "min_segment_share_within_radius": min(seg_share),
                "holdout_express_next_day": float((days[express] <= 1).mean())
                if express.any() else np.nan,
                "holdout_mean_delivery_days": float(days[shipped].mean()),
                "holdout_mean_km": float(hk[shipped].mean())}

    networks = pd.DataFrame([judge("profile-blind", blind.open),
                             judge("profile-aware", aware.open),
                             judge("naive k-means", naive_open)])
    curve = []
    for r in radii:
        try:
            a = locate(cost, fixed, coverage=coverage(r))
            extra, n_open = a.cost - blind.cost, int(a.open.sum())
        except ValueError:  # no network reaches the share at this radius
            extra, n_open = np.nan, 0
        blind_ok = km[:, blind.open].min(axis=1) <= r
        curve.append({"radius_km": r, "extra_cost": extra, "sites": n_open,
                      "blind_share_within": float(exp_units[blind_ok].sum()
                                                  / max(exp_units.sum(), 1))})
    k = int(blind.open.sum())
    variants = []
    for name, kw in [(f"p-median (p = {k}, transport only)", {"p": k}),
                     ("uncapacitated (fixed + transport)", {"fixed_cost": fixed}),
                     ("capacitated (fixed + transport)", {
                         "fixed_cost": fixed, "demand": train.groupby(S.CITY)["units"].sum()
                         .reindex(cities.index, fill_value=0).to_numpy(float) * volume_scale,
                         "capacity": sites[S.CAPACITY].to_numpy(float)}
                      if S.CAPACITY in sites else None)]:
        if kw is None:
            continue
        v = locate(cost, **kw)
        variants.append({"model": name, "sites": ", ".join(sites.loc[v.open, S.CITY]),
                         "fixed_cost": v.fixed_cost, "transport_cost": v.assignment_cost,
                         "seconds": v.seconds, "status": v.status})
    open_sites = sites.assign(**{"profile-blind": blind.open, "profile-aware": aware.open,
                                 "naive k-means": naive_open})
    city_table = by_seg.assign(orders_scaled=demand, lon=cities[S.LON], lat=cities[S.LAT])
    return {"networks": networks, "sites": open_sites, "curve": pd.DataFrame(curve),
            "variants": pd.DataFrame(variants), "cities": city_table.reset_index(),
            "needs": needs, "express_segments": express_segments,
            "seconds": {"profile-blind": blind.seconds, "profile-aware": aware.seconds}}


def _kmeans_sites(cities: pd.DataFrame, weight: np.ndarray, sites: pd.DataFrame, k: int,
                  seed: int) -> np.ndarray:
    """Demand-weighted k-means of the city coordinates, each centre moved to the
    nearest candidate site not taken yet."""
    from sklearn.cluster import KMeans

    lat0 = np.radians(cities[S.LAT].mean())
    xy = np.c_[cities[S.LON] * np.cos(lat0), cities[S.LAT]]
    km = KMeans(k, n_init=10, random_state=seed).fit(xy, sample_weight=weight)
    sxy = np.c_[sites[S.LON] * np.cos(lat0), sites[S.LAT]]
    chosen = np.zeros(len(sites), dtype=bool)
    for c in km.cluster_centers_:
        d = np.where(chosen, np.inf, ((sxy - c) ** 2).sum(axis=1))
        chosen[int(np.argmin(d))] = True
    return chosen


def delivery_tiers(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
                   open_sites: pd.DataFrame, holdout_start, *, tariffs: dict | None = None,
                   protect_share: float = 0.8, detour: float = DETOUR_FACTOR) -> dict:
    """Which delivery tier to offer each segment from a given network.

    For every segment and tier (express, standard, economy): the cost to serve an
    order (the tariff's fixed part + per km x road km from the nearest open site),
    the delivery days it gives, and the share of the segment's revenue it
    *protects*: revenue from orders whose buyers chose that tier or a slower one
    (a slower tier than the one chosen risks the sale). The recommended tier is the
    cheapest that protects at least ``protect_share`` of the segment's revenue in
    the orders before ``holdout_start``; the figures are those of the holdout.

    Returns ``options`` (segment x tier) and ``recommended`` (one row per segment),
    with ``blind``: every segment on the standard tier.
    """
    tariffs = TARIFFS if tariffs is None else tariffs
    start = pd.Timestamp(holdout_start)
    o = _orders_with(orders, customers, segments)
    o = o[o[S.SHIP_MODE] != "pickup"]
    gc = great_circle_km(o[S.LON].to_numpy()[:, None], o[S.LAT].to_numpy()[:, None],
                         open_sites[S.LON].to_numpy()[None, :],
                         open_sites[S.LAT].to_numpy()[None, :])
    o = o.assign(km=road_km(gc.min(axis=1), detour),
                 speed=o[S.SHIP_MODE].map(SPEED), holdout=o[S.TIMESTAMP] >= start)
    rows = []
    for tier, (base, per) in tariffs.items():
        t = o.assign(cost=base + per * o["km"], days=delivery_days(o["km"], tier),
                     ok=o["speed"] >= SPEED[tier])
        t["protected"] = t["revenue"] * t["ok"]
        g = t.groupby(["segment", "holdout"]).agg(
            orders=(S.ORDER_ID, "size"), cost_per_order=("cost", "mean"),
            mean_days=("days", "mean"), revenue=("revenue", "sum"),
            protected=("protected", "sum")).reset_index()
        g["revenue_protected"] = g["protected"] / g["revenue"]
        rows.append(g.assign(tier=tier))
    allt = pd.concat(rows, ignore_index=True)
    decide = allt[~allt["holdout"]].copy()
    decide["order"] = decide["tier"].map(SPEED)
    ok = decide[decide["revenue_protected"] >= protect_share]
    # The cheapest tier that protects enough; express when none does.
    pick = (ok.sort_values(["segment", "cost_per_order"]).groupby("segment")["tier"].first()
            .reindex(decide["segment"].unique()).fillna("express"))
    hold = allt[allt["holdout"]].drop(columns=["holdout", "protected"])
    options = hold.sort_values(["segment", "tier"], key=lambda c: c.map(SPEED)
                               if c.name == "tier" else c.astype(str)).reset_index(drop=True)
    rec = hold.merge(pick.rename("tier").reset_index(), on=["segment", "tier"])
    blind = hold[hold["tier"] == "standard"]
    return {"options": options, "recommended": rec.reset_index(drop=True),
            "blind": blind.reset_index(drop=True)}


def city_points(customers: pd.DataFrame, radius_km: float = 15.0,
                seed: int = 0) -> pd.DataFrame:
    """Delivery addresses for last-mile routing: the customers' own coordinates, or,
    where a city's customers share one point (data with city-level geography
    only), places spread evenly over a disc of ``radius_km`` around it, the same
    for a customer on every run."""
    import zlib

    pts = customers[[S.CUSTOMER_ID, S.CITY, S.LON, S.LAT]].copy()
    spread = pts.groupby(S.CITY)[[S.LON, S.LAT]].transform("nunique").max(axis=1) == 1
    key = pts[S.CUSTOMER_ID].astype(str).map(lambda s: zlib.crc32(f"{seed}:{s}".encode()))
    u = (key % 100_003) / 100_003
    v = (key // 100_003 % 100_019) / 100_019
    r, theta = radius_km * np.sqrt(u), 2 * np.pi * v
    dlat = r * np.sin(theta) / 111.2
    dlon = r * np.cos(theta) / (111.2 * np.cos(np.radians(pts[S.LAT])))
    pts.loc[spread, S.LON] = pts.loc[spread, S.LON] + dlon[spread]
    pts.loc[spread, S.LAT] = pts.loc[spread, S.LAT] + dlat[spread]
    return pts


def pick_route_day(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
                   express_segments, cities, since) -> tuple[str, pd.Timestamp]:
    """A city and day worth routing: of ``cities`` (for example those with an open
    warehouse), the one with the most orders from ``since``, and its day with the
    most express orders from the express segments."""
    o = _orders_with(orders, customers, segments)
    o = o[(o[S.TIMESTAMP] >= pd.Timestamp(since)) & o[S.CITY].isin(list(cities))]
    if o.empty:
        raise ValueError("pick_route_day: no orders in those cities after the start date")
    city = o[S.CITY].value_counts().idxmax()
    e = o[(o[S.CITY] == city) & (o[S.SHIP_MODE] == "express")
          & o["segment"].isin(list(express_segments))]
    days = (e if len(e) else o[o[S.CITY] == city])[S.TIMESTAMP].dt.normalize()
    return city, days.value_counts().idxmax()


def last_mile(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
              city: str, day, express_segments, *, vehicle_capacity: int = 30,
              express_window_min: float = 180, shift_min: float = 600,
              speed_kmh: float = 25, service_min: float = 4, radius_km: float = 15,
              detour: float = DETOUR_FACTOR, solution_limit: int = 1000,
              seed: int = 0) -> dict:
    """One day's deliveries in one city from a depot at its centre, routed twice:
    *profile-blind* (least distance) and *profile-aware* (express orders of the
    express segments must arrive within ``express_window_min`` minutes of the
    vans leaving). Each stop is a customer with the parcels (orders) due that day.

    Returns ``policies`` (km, vans, express stops on time, last arrival), ``stops``
    (position, parcels, express flag) and ``routes`` per policy.
    """
    o = _orders_with(orders, customers, segments)
    day = pd.Timestamp(day).normalize()
    o = o[(o[S.CITY] == city) & (o[S.TIMESTAMP].dt.normalize() == day)
          & (o[S.SHIP_MODE] != "pickup")]
    if o.empty:
        raise ValueError(f"last_mile: no deliveries in {city} on {day.date()}")
    o = o.assign(express=(o[S.SHIP_MODE] == "express") & o["segment"].isin(express_segments))
    stops = o.groupby(S.CUSTOMER_ID).agg(parcels=(S.ORDER_ID, "size"),
                                         express=("express", "any")).reset_index()
    pts = city_points(customers[customers[S.CITY] == city], radius_km, seed)
    stops = stops.merge(pts[[S.CUSTOMER_ID, S.LON, S.LAT]], on=S.CUSTOMER_ID)
    centre = customers.loc[customers[S.CITY] == city, [S.LON, S.LAT]].mean()
    lon = np.r_[centre[S.LON], stops[S.LON].to_numpy()]
    lat = np.r_[centre[S.LAT], stops[S.LAT].to_numpy()]
    km = great_circle_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :]) * detour
    metres = np.rint(km * 1000)
    minutes = np.rint(km / speed_kmh * 60)
    demand = np.r_[0, stops["parcels"].to_numpy()]
    vehicles = int(np.ceil(demand.sum() / vehicle_capacity)) + 2
    n = len(lon)
    svc = np.r_[0, np.full(n - 1, service_min)]
    windows = np.tile([0, shift_min], (n, 1)).astype(float)
    windows[1:][stops["express"].to_numpy()] = [0, express_window_min]

    def arrivals(routes):
        out = {}
        for r in routes:
            t, prev = 0.0, 0
            for node in r:
                t += svc[prev] + minutes[prev, node]
                out[node] = t
                prev = node
        return out

    results, routes = [], {}
    loose = np.tile([0, shift_min], (n, 1))
    for name, w in (("profile-blind", loose), ("profile-aware", windows)):
        r = solve_cvrp(metres, demand, vehicle_capacity, vehicles, time_windows=w,
                       service_time=svc, travel_time=minutes, solution_limit=solution_limit)
        arr = arrivals(r.routes)
        exp_nodes = [i + 1 for i in np.flatnonzero(stops["express"].to_numpy())]
        on_time = [arr[i] <= express_window_min for i in exp_nodes]
        results.append({"policy": name, "km": r.cost / 1000, "vans": len(r.routes),
                        "stops": n - 1, "parcels": int(demand.sum()),
                        "express_stops": len(exp_nodes),
                        "express_on_time": float(np.mean(on_time)) if on_time else np.nan,
                        "last_arrival_min": max(arr.values())})
        routes[name] = r.routes
    stops = stops.assign(node=np.arange(1, n))
    return {"policies": pd.DataFrame(results), "stops": stops, "routes": routes,
            "depot": (float(centre[S.LON]), float(centre[S.LAT]))}


def reference_results(folder, pmed=("pmed1", "pmed2", "pmed3", "pmed4", "pmed5"),
                      cap=("cap41", "cap51", "cap61", "cap71"),
                      cvrp=("A-n32-k5",)) -> pd.DataFrame:
    """Solve published OR-Library and CVRPLIB instances from ``folder`` (the
    project's ``data/reference``) and set each result beside the published optimum."""
    from chainsight.datasets import (
        read_cap,
        read_cvrp,
        read_cvrp_solution,
        read_optima,
        read_pmed,
    )

    folder = Path(folder)
    rows = []
    pm_opt = read_optima(folder / "orlib_pmed" / "pmedopt.txt")
    for name in pmed:
        dist, p = read_pmed(folder / "orlib_pmed" / f"{name}.txt")
        r = locate(dist, p=p)
        rows.append(("p-median", name, pm_opt[name], r.cost, r.seconds))
    cap_opt = read_optima(folder / "orlib_warehouse" / "capopt.txt")
    for name in cap:
        inst = read_cap(folder / "orlib_warehouse" / f"{name}.txt")
        r = locate(inst["cost"], inst["fixed"], demand=inst["demand"],
                   capacity=inst["capacity"])
        rows.append(("capacitated warehouse", name, cap_opt[name], r.cost, r.seconds))
    for name in cvrp:
        inst = read_cvrp(folder / "cvrplib_A" / f"{name}.vrp")
        _, best = read_cvrp_solution(folder / "cvrplib_A" / f"{name}.sol")
        r = solve_cvrp(tsplib_distances(inst["coords"]), inst["demand"], inst["capacity"],
                       inst["vehicles"], inst["depot"])
        rows.append(("vehicle routing", name, best, r.cost, r.seconds))
    out = pd.DataFrame(rows, columns=["problem", "instance", "published", "computed",
                                      "seconds"])
    out["gap"] = out["computed"] / out["published"] - 1
    return out
