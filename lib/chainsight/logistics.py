"""Logistics (物流效率): where to put warehouses, what delivery to offer whom, and how
to route a day's deliveries.

- :func:`locate` solves facility location exactly: p-median (:func:`pmedian`: local
  search, Lagrangian bound and reduction, then Lagrangian branch and bound or the radius
  formulation in HiGHS), uncapacitated and capacitated (splittable) facility location
  as a mixed-integer programme (HiGHS), with an optional service constraint that puts a
  share of chosen demand within a radius of an open site.
- :func:`solve_cvrp` routes vehicles with capacities (PyVRP) and with time windows
  (OR-Tools).
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
           time_limit: float = 60.0, method: str = "auto") -> Location:
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
    integral in the assignments once the sites are fixed). A plain p-median (``p``, no
    fixed costs, capacities, coverage or forced sites) goes to :func:`pmedian`, which
    scales to hundreds of sites, unless ``method="milp"`` asks for the general
    formulation (the benchmark compares the two); ``gap`` and ``status`` say whether the
    result is proven optimal within ``time_limit``.
    """
    if method not in ("auto", "milp"):
        raise ValueError(f"locate: method {method!r} is not 'auto' or 'milp'")
    from scipy import sparse  # the solver's imports are paid only when it runs
    from scipy.optimize import Bounds, LinearConstraint, milp

    t0 = time.perf_counter()
    C = np.asarray(assign_cost, dtype=float)
    n, m = C.shape
    f = np.zeros(m) if fixed_cost is None else np.broadcast_to(
        np.asarray(fixed_cost, dtype=float), (m,))
    if (method == "auto" and p is not None and not f.any() and capacity is None
            and not coverage and open_sites is None and np.isfinite(C).all()):
        return pmedian(C, p, time_limit)
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
    status = "optimal" if res.status == 0 else \
        f"within {gap:.2%} of the optimum (time limit)"
    return Location(y, x, float(res.fun), fixed, float(res.fun) - fixed, status,
                    time.perf_counter() - t0, gap, covered)


# ---------------------------------------------------------------------------
# The p-median: local search, Lagrangian bound and reduction, then an exact MILP
# ---------------------------------------------------------------------------
def _greedy_sites(C: np.ndarray, p: int) -> np.ndarray:
    """Open ``p`` sites one at a time, each the one that lowers the cost most."""
    best, chosen = np.full(C.shape[0], np.inf), []
    for _ in range(p):
        total = np.minimum(C, best[:, None]).sum(axis=0)
        total[chosen] = np.inf
        chosen.append(int(np.argmin(total)))
        best = np.minimum(best, C[:, chosen[-1]])
    return np.array(chosen)


def swap_search(C, p: int, start) -> tuple[np.ndarray, float]:
    """Vertex substitution (Teitz-Bart, with Whitaker's fast interchange): from the open
    sites ``start``, make the best swap of one open site for one closed site while it
    lowers the cost. Every swap is priced at once from each customer's nearest and
    second-nearest open site. Returns the open sites (bool per site) and the cost."""
    C = np.asarray(C, dtype=float)
    n, m = C.shape
    is_open = np.zeros(m, bool)
    is_open[np.asarray(start, dtype=int)] = True
    rows = np.arange(n)
    while True:
        idx = np.flatnonzero(is_open)
        sub = C[:, idx]
        order = np.argsort(sub, axis=1, kind="stable")
        d1 = sub[rows, order[:, 0]]
        d2 = sub[rows, order[:, 1]] if p > 1 else np.full(n, np.inf)
        with_new = np.minimum(C, d1[:, None])  # each customer's cost with site i added
        gain = (with_new - d1[:, None]).sum(axis=0)  # per site added
        extra = np.minimum(C, d2[:, None]) - with_new  # paid by the closed site's customers
        owner = np.zeros((n, len(idx)))
        owner[rows, order[:, 0]] = 1.0
        delta = gain[:, None] + extra.T @ owner  # (added site, closed open site)
        delta[is_open, :] = np.inf
        i, j = np.unravel_index(np.argmin(delta), delta.shape)
        if delta[i, j] >= -1e-9 * d1.sum():
            return is_open, float(d1.sum())
        is_open[idx[j]], is_open[i] = False, True


def lagrangian_bound(C, p: int, upper: float, iterations: int = 3000, lam=None,
                     patience: int = 30, step: float = 2.0, deadline: float = np.inf):
    """A lower bound on the p-median cost: the assignment constraints relaxed with one
    multiplier per customer, set by subgradient optimisation (from ``lam`` if given;
    the step halves after ``patience`` iterations without progress; it stops at
    ``deadline``, a ``time.perf_counter`` value). Returns the bound,
    the multipliers, and the sites each of the last iterations chose (starts for the
    local search)."""
    C = np.asarray(C, dtype=float)
    if lam is None:
        lam = np.sort(C, axis=1)[:, min(1, C.shape[1] - 1)].copy()
    best, best_lam, theta, stall, picks = -np.inf, lam.copy(), step, 0, []
    for it in range(iterations):
        rho = np.minimum(C - lam[:, None], 0.0).sum(axis=0)
        chosen = np.argpartition(rho, p - 1)[:p]
        bound = lam.sum() + rho[chosen].sum()
        if bound > best + 1e-9:
            best, best_lam, stall = bound, lam.copy(), 0
        else:
            stall += 1
            if stall >= patience:
                theta, stall = theta / 2, 0
        if it % 10 == 0:
            picks.append(chosen)
        g = 1.0 - ((C[:, chosen] - lam[:, None]) < 0).sum(axis=1)
        norm = float(g @ g)
        if norm == 0 or theta < 1e-5 or upper - best <= 1e-9 * abs(upper) or (
                it % 50 == 49 and time.perf_counter() > deadline):
            break
        lam = lam + theta * (upper - bound) / norm * g
    return best, best_lam, picks[-20:]


def _reduce(C, p: int, lam, upper: float):
    """Sites that no solution cheaper than ``upper`` opens (closed) or leaves closed
    (opened), from the Lagrangian subproblem at ``lam``."""
    rho = np.minimum(C - lam[:, None], 0.0).sum(axis=0)
    order = np.argsort(rho, kind="stable")
    bound = lam.sum() + rho[order[:p]].sum()
    inside = np.zeros(len(rho), bool)
    inside[order[:p]] = True
    nxt = rho[order[p]] if len(rho) > p else np.inf
    closed = ~inside & (bound - rho[order[p - 1]] + rho >= upper)
    opened = inside & (bound - rho + nxt >= upper)
    return closed, opened


def _branch_and_bound(C, p: int, candidates, lam, is_open, best: float, cut, deadline,
                      polish: int = 20):
    """Lagrangian branch and bound over ``candidates``, best bound first. A node forces
    some sites open and leaves the others free: its customers pay at most their forced
    site's cost, and the bound is the Lagrangian of choosing the rest among the free
    sites (warm-started from the parent's multipliers, 60 subgradient steps). The node's
    own reduction test then forces or drops free sites, and it branches on the free site
    the relaxation likes best (open it; close it). ``cut(best)`` is the cost a solution
    must beat to matter; every ``polish``-th node's choice is improved by local search
    (0: never). Returns the open sites, their cost and the proven bound (the
    cost itself when the tree was searched to the end)."""
    import heapq

    n = C.shape[0]
    heap, count = [(-np.inf, 0, (), np.asarray(candidates), lam)], 1
    while heap and time.perf_counter() < deadline:
        parent, _, forced, free, lam = heapq.heappop(heap)
        if parent >= cut(best):
            continue
        forced = np.array(forced, dtype=int)
        k = p - len(forced)
        if k == 0 or len(free) <= k:  # nothing left to choose
            sites = forced if k == 0 else np.r_[forced, free] if len(free) == k else None
            cost = np.inf if sites is None else C[:, sites].min(axis=1).sum()
            if cost < best:
                best, is_open = cost, np.isin(np.arange(C.shape[1]), sites)
            continue
        cap = C[:, forced].min(axis=1) if len(forced) else np.full(n, np.inf)
        Cs = np.minimum(C[:, free], cap[:, None])
        bound, lam, picks = lagrangian_bound(Cs, k, cut(best), iterations=60,
                                             lam=np.minimum(lam, cap), patience=8, step=1.0)
        if bound >= cut(best):
            continue
        if polish and count % polish == 1:  # the node's choice, improved, may beat it
            o, c = swap_search(C, p, np.r_[forced, free[picks[-1]]])
            if c < best:
                is_open, best = o, c
        drop, force = _reduce(Cs, k, lam, cut(best))
        rho = np.minimum(Cs - lam[:, None], 0.0).sum(axis=0)
        forced, keep = np.r_[forced, free[force]], ~drop & ~force
        free, rho = free[keep], rho[keep]
        if len(free) and p - len(forced) > 0:
            j = int(np.argmin(rho))
            rest = np.delete(free, j)
            heapq.heappush(heap, (bound, count, tuple(forced), rest, lam))
            heapq.heappush(heap, (bound, count + 1, (*forced, free[j]), rest, lam))
            count += 2
        else:
            heapq.heappush(heap, (bound, count, tuple(forced), free, lam))
            count += 1
    return is_open, best, min([best] + [h[0] for h in heap])


def _radius_milp(C, p: int, candidates, forced, time_limit: float):
    """The radius formulation of the p-median (Elloumi 2010) over ``candidates``, with
    ``forced`` open, solved by HiGHS (through scipy). Each customer's distinct distances
    D1 < D2 < ... get a variable z_k (its distance exceeds D_k): z_1 + (sites at D_1) >= 1,
    z_k + (sites at D_k) >= z_{k-1}; the cost is D_1 + sum of (D_{k+1} - D_k) z_k.
    Distances beyond a forced site's are dropped. Returns the open sites (None if none
    was found in time), the cost, the proven bound and whether it is optimal."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    Cc = C[:, candidates]
    n, m = Cc.shape
    force = np.isin(candidates, forced)
    cap = Cc[:, force].min(axis=1) if force.any() else np.full(n, np.inf)
    rows, cols, vals, lower, cost = [], [], [], [], []
    offset, nz, r = 0.0, 0, 0
    for c in range(n):
        keep = np.flatnonzero(Cc[c] <= cap[c])
        levels, level_of = np.unique(Cc[c, keep], return_inverse=True)
        offset += levels[0]
        cost.append(np.diff(levels))
        for k in range(len(levels) - 1):
            sites = keep[level_of == k]
            rows += [r] * (len(sites) + 1 + (k > 0))
            cols += [*sites, m + nz + k] + ([m + nz + k - 1] if k else [])
            vals += [1.0] * (len(sites) + 1) + ([-1.0] if k else [])
            lower.append(1.0 if k == 0 else 0.0)
            r += 1
        nz += len(levels) - 1
    A = sparse.csr_matrix((np.r_[vals, np.ones(m)], (np.r_[rows, np.full(m, r)],
                                                     np.r_[cols, np.arange(m)])),
                          shape=(r + 1, m + nz))
    objective = np.concatenate([np.zeros(m), *cost]) if nz else np.zeros(m)
    integrality = np.r_[np.ones(m), np.zeros(nz)]
    lo = np.r_[force.astype(float), np.zeros(nz)]
    with _quiet_stdout():
        res = milp(objective, integrality=integrality, bounds=Bounds(lo, np.ones(m + nz)),
                   constraints=LinearConstraint(A, np.r_[lower, p], np.r_[[np.inf] * r, p]),
                   options={"time_limit": max(time_limit, 0.1), "mip_rel_gap": 0.0})
    bound = getattr(res, "mip_dual_bound", None)
    bound = -np.inf if bound is None or not np.isfinite(bound) else bound + offset
    if res.x is None:
        return None, np.inf, bound, False
    is_open = np.zeros(C.shape[1], bool)
    is_open[np.asarray(candidates)[res.x[:m] > 0.5]] = True
    return is_open, float(res.fun) + offset, bound, res.status == 0


def pmedian(assign_cost, p: int, time_limit: float = 60.0, exact: bool = True) -> Location:
    """The p-median: open ``p`` sites so that the customers' total cost to their nearest
    open site is least.

    A greedy start improved by vertex substitution (:func:`swap_search`) gives a
    solution; a Lagrangian bound (:func:`lagrangian_bound`) gives a lower bound and
    closes (or opens) every site that no cheaper solution could use, so the solution in
    hand cuts the exact problem down. A Lagrangian branch and bound in the spirit of
    ZEBRA (García, Labbé & Marín 2011) searches the sites left for half the time
    limit; if its tree is not closed by then, the radius formulation (Elloumi 2010) on
    those sites is solved by HiGHS with the time left.
    With ``exact=False`` both are skipped: the answer comes in seconds (under 5 s for
    900 sites here) and its ``gap`` says how far from the optimum it can be. A
    time-limited run returns its best solution with the proven gap (``status`` says so).
    Integer costs (as in OR-Library) let a bound within 1 of the solution prove it
    optimal."""
    t0 = time.perf_counter()
    C = np.asarray(assign_cost, dtype=float)
    n, m = C.shape
    if not 0 < p <= m:
        raise ValueError(f"pmedian: p = {p} must lie between 1 and the {m} sites")
    if not np.isfinite(C).all() or (C < 0).any():
        raise ValueError(f"pmedian: {int((~np.isfinite(C)).sum() + (C < 0).sum())} costs are "
                         "negative or not finite; a constant added to a customer's row does "
                         "not change the best sites, so shift each row to start at 0")
    integral = bool(np.all(C == np.round(C)))
    # Fractional costs are solved at a scale of 1 (the largest cost), so that every
    # tolerance below is relative; integer costs keep their scale (a bound within 1 of
    # the solution proves it).
    scale = 1.0 if integral else float(C.max()) or 1.0
    C = C / scale
    is_open, best = swap_search(C, p, _greedy_sites(C, p))
    if p == m:
        bound = best
    else:
        bound, lam, picks = lagrangian_bound(C, p, best, deadline=t0 + time_limit / 2)
        for start in picks:  # the Lagrangian's own choices, improved, may beat the start
            if time.perf_counter() > t0 + time_limit / 2:
                break
            o, c = swap_search(C, p, start)
            if c < best - 1e-9:
                is_open, best = o, c
        bound = np.ceil(bound - 1e-6) if integral else bound
        if exact and bound < best - 1e-9:
            # Only a solution cheaper than the one in hand matters (by 1 with integer
            # costs): the sites no such solution uses are dropped, those every such
            # solution uses are forced open. The solution in hand stays feasible, as the
            # MILP's start and cutoff.
            def cut(c):
                return c - (1 - 1e-6 if integral else 1e-9)

            closed, opened = _reduce(C, p, lam, cut(best))
            # Branch and bound closes the few-sites instances fast; a long tree (many
            # sites, near-equal solutions) goes to the MILP with the time left.
            is_open, best, b = _branch_and_bound(
                C, p, np.flatnonzero(~closed), lam, is_open, best, cut,
                t0 + time_limit / 2)
            bound = max(bound, b)
            if b < cut(best) + 1e-9 and time.perf_counter() < t0 + time_limit:
                cand = np.flatnonzero(~closed | is_open)
                o, c, b, proven = _radius_milp(C, p, cand, np.flatnonzero(opened & is_open),
                                               time_limit - (time.perf_counter() - t0))
                if o is not None:
                    c = float(C[:, o].min(axis=1).sum())  # the cost itself, not HiGHS's sum
                    if c < best - 1e-9:
                        is_open, best = o, c
                b = best if proven else min(b, best)  # outside the candidates none beats it
                bound = max(bound, b)
            bound = np.ceil(bound - 1e-6) if integral else bound
    gap = max(0.0, (best - bound) / best) if best > 0 else 0.0
    status = "optimal" if gap <= 1e-9 else f"within {gap:.2%} of the optimum (time limit)" \
        if exact else f"within {gap:.2%} of the optimum (local search)"
    assign = np.zeros((n, m))
    assign[np.arange(n), np.flatnonzero(is_open)[np.argmin(C[:, is_open], axis=1)]] = 1.0
    return Location(is_open, assign, best * scale, 0.0, best * scale, status,
                    time.perf_counter() - t0, gap)


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
               solution_limit: int = 4000, time_limit: float = 10.0,
               iterations: int = 30_000, seed: int = 0) -> Routes:
    """Capacitated vehicle routing.

    ``dist``: (n, n) integer costs; ``demand`` per node (the depot's is 0). Without time
    windows PyVRP's iterated local search solves it (``iterations`` of it, about 10 s for
    100 nodes here; the same ``seed`` gives the same routes on any machine;
    ``time_limit`` seconds is a guard). With ``time_windows`` ((earliest, latest)
    arrival per node in the units of ``travel_time``, default ``dist``, with
    ``service_time`` per node) OR-Tools' guided local search from a path-cheapest-arc
    start routes them, stopping after ``solution_limit`` solutions.

    Routes that cannot be found get an error with the reason: a node heavier than a
    vehicle, total demand beyond the fleet's capacity (with the fleet that would carry
    it), or loads that do not pack into the vehicles (try one more).
    """
    t0 = time.perf_counter()
    D = np.rint(np.asarray(dist, dtype=float)).astype(np.int64)
    n = len(D)
    q = np.rint(np.asarray(demand, dtype=float)).astype(np.int64)
    if q.max() > capacity:
        raise ValueError(f"solve_cvrp: node {int(q.argmax())} needs {q.max()} units, more than "
                         f"a vehicle's capacity {capacity:g}")
    total = int(q.sum())
    if total > vehicles * capacity:
        need = int(np.ceil(total / capacity))
        raise ValueError(f"solve_cvrp: total demand {total:,} exceeds the fleet's capacity "
                         f"({vehicles} vehicles x {capacity:g} = {vehicles * capacity:,.0f}); "
                         f"at least {need} vehicles are needed")
    if time_windows is None:
        routes = _pyvrp_routes(D, q, int(capacity), vehicles, depot, iterations, time_limit,
                               seed)
        if routes is None:
            raise ValueError(f"solve_cvrp: no feasible routes with {vehicles} vehicles: the "
                             f"total demand {total:,} fits their capacity "
                             f"{vehicles * capacity:,.0f}, but the loads do not pack into "
                             f"them; try {vehicles + 1} vehicles")
        return Routes(routes, route_cost(routes, D, depot), time.perf_counter() - t0)
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    manager = pywrapcp.RoutingIndexManager(n, vehicles, depot)
    model = pywrapcp.RoutingModel(manager)
    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitMatrix(D.tolist()))
    load = model.RegisterUnaryTransitVector(q.tolist())
    model.AddDimensionWithVehicleCapacity(load, 0, [int(capacity)] * vehicles, True, "load")
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
        raise ValueError(f"solve_cvrp: no feasible routes with {vehicles} vehicles and these "
                         f"time windows (total demand {total:,} of capacity "
                         f"{vehicles * capacity:,.0f}); try {vehicles + 1} vehicles or wider "
                         "windows")
    routes, arrival = [], {}
    for v in range(vehicles):
        i, route = sol.Value(model.NextVar(model.Start(v))), []
        while not model.IsEnd(i):
            node = manager.IndexToNode(i)
            route.append(node)
            arrival[node] = sol.Value(tdim.CumulVar(i))
            i = sol.Value(model.NextVar(i))
        if route:
            routes.append(route)
    return Routes(routes, route_cost(routes, D, depot), time.perf_counter() - t0, arrival)


def _pyvrp_routes(D, q, capacity: int, vehicles: int, depot: int, iterations: int,
                  time_limit: float, seed: int) -> list | None:
    """PyVRP on a distance matrix: the routes (node indices), or None if none is
    feasible."""
    from pyvrp import Model
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    model = Model()
    model.add_vehicle_type(num_available=vehicles, capacity=capacity)
    places = [model.add_location(0, 0) for _ in range(len(D))]
    model.add_depot(places[depot])
    nodes = [i for i in range(len(D)) if i != depot]
    for i in nodes:
        model.add_client(places[i], delivery=int(q[i]))
    for i in range(len(D)):
        for j in range(len(D)):
            if i != j:
                model.add_edge(places[i], places[j], distance=int(D[i, j]))
    stop = MultipleCriteria([MaxIterations(iterations), MaxRuntime(time_limit)])
    result = model.solve(stop=stop, seed=seed, display=False)
    if not result.is_feasible():
        return None
    # A route is its scheduled activities; a client's index counts the clients in the
    # order they were added.
    return [[nodes[a.idx] for a in route if a.is_client()] for route in result.best.routes()]


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


SHARES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)  # required shares traced on the frontier


def city_changes(orders: pd.DataFrame, customers: pd.DataFrame) -> int:
    """How many customers are seen in more than one city: from the orders' own ``city``
    column where the orders carry one (a ship-to address), else from the customers
    table (a customer listed with two cities). 0 means each customer's city, and so
    the distance of all their orders to any network, is fixed."""
    if S.CITY in orders.columns:
        n = orders.dropna(subset=[S.CITY]).groupby(S.CUSTOMER_ID)[S.CITY].nunique()
    else:
        n = customers.dropna(subset=[S.CITY]).groupby(S.CUSTOMER_ID)[S.CITY].nunique()
    return int((n > 1).sum())


def _cost_per_order(cost, orders):
    return float(cost.sum() / orders.sum()) if orders.sum() > 0 else np.nan


def network_comparison(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
                       sites: pd.DataFrame, holdout_start, *, express_segments=None,
                       express_threshold: float = 0.5, required_share: float = 0.9,
                       next_day_km: float = NEXT_DAY_KM, detour: float = DETOUR_FACTOR,
                       volume_scale: float = 100.0, per_km: float | None = None,
                       shares=SHARES, seed: int = 0, n_boot: int = 2000) -> dict:
    """Warehouse networks with and without the profile, planned on the 52 weeks before
    ``holdout_start`` and judged on the orders after it.

    Demand: orders per city in the 52 weeks before ``holdout_start`` times
    ``volume_scale`` (the customers in the data as a sample of the business whose
    sites' fixed costs and capacities the ``sites`` table gives). The cost of a
    network is the sites' annual fixed cost plus transport, orders x ``per_km``
    (default the standard tariff's) x road km from the serving site.

    Networks (all solved exactly, :func:`locate`):

    - *cost only* (a strawman): the least-cost network, no service rule.
    - *ship-mode rule* (the profile-blind baseline): at least ``required_share`` of the
      express orders (by each order's own ship mode, no segments) within
      ``next_day_km`` road km of an open site, at least cost.
    - *profile-aware*: at least ``required_share`` of the orders of every
      express-preferring segment (express share of orders at least
      ``express_threshold``, or ``express_segments``) within ``next_day_km``.
    - *ship-mode rule, equal cost*: the ship-mode rule with the largest required share
      whose planned cost does not exceed the profile-aware network's (bisection on the
      share); *ship-mode rule, equal service*: the cheapest ship-mode network that puts
      as many of the planning year's express orders within reach as the profile-aware
      one. Both are chosen on the planning year only.
    - *naive k-means*: demand-weighted k-means centres of the cities (as many as the
      profile-aware network has sites), each moved to the nearest free candidate site.

    On the holdout every express order (all customers, new ones included, by the mode
    each order chose) counts: next day if :func:`delivery_days` from the nearest open
    site is 1. Cost per order = fixed cost over the holdout's length + transport of
    the holdout orders, per order. Differences go through
    :func:`chainsight.compare.paired` over cities (the unit the network decides on).

    Returns ``networks`` (one row per network), ``sites`` (which are open),
    ``frontier`` (both rules over ``shares``: planned cost, planning-year reach and
    holdout figures), ``comparisons`` (name -> :class:`~chainsight.compare.Paired`),
    ``holdout`` (what the holdout adds that the plan did not see), ``variants``
    (p-median, uncapacitated and capacitated on the cost-only objective), ``cities``
    (demand per city and segment) and ``needs`` (:func:`segment_needs`).
    """
    from chainsight import compare

    S.require_columns(sites, "sites", [S.SITE_ID, S.CITY, S.LON, S.LAT, S.FIXED_COST])
    start = pd.Timestamp(holdout_start)
    o = _orders_with(orders, customers, segments)
    o["new"] = o.groupby(S.CUSTOMER_ID)[S.TIMESTAMP].transform("min") >= start
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

    cities = customers.groupby(S.CITY)[[S.LON, S.LAT]].first()
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
    reach = km <= next_day_km

    exp_cols = [s for s in express_segments if s in by_seg]
    if not exp_cols:
        raise ValueError("network_comparison: the express segments have no orders in the "
                         "52 weeks before the holdout")
    exp_train = (train[train[S.SHIP_MODE] == "express"].groupby(S.CITY).size()
                 .reindex(cities.index, fill_value=0).to_numpy(float))

    def ship_rule(share):
        return [Coverage(reach, exp_train, share, "express orders")]

    def aware_rule(share):
        return [Coverage(reach, by_seg[s].to_numpy(float), share, str(s)) for s in exp_cols]

    def solve(cover):
        try:
            return locate(cost, fixed, coverage=cover)
        except ValueError:  # no network reaches the share
            return None

    def within(open_, w):
        return float(w[reach[:, open_].any(axis=1)].sum() / max(w.sum(), 1e-12))

    cost_only = locate(cost, fixed)
    aware = locate(cost, fixed, coverage=aware_rule(required_share))
    ship = solve(ship_rule(required_share))
    # Equal service: the cheapest ship-mode network reaching the aware one's express share.
    eq_service = locate(cost, fixed, coverage=ship_rule(within(aware.open, exp_train) - 1e-9))
    # Equal cost: the largest share whose network costs no more (cost rises with the share).
    eq_cost, lo, hi = cost_only, 0.0, 1.0
    for _ in range(14):
        mid = (lo + hi) / 2
        net = solve(ship_rule(mid))
        if net is not None and net.cost <= aware.cost * (1 + 1e-9):
            eq_cost, lo = net, mid
        else:
            hi = mid
    naive_open = _kmeans_sites(cities, demand.to_numpy(float), sites, int(aware.open.sum()),
                               seed)

    # Holdout per city: orders, express orders (all and new customers'), delivered orders.
    pos = pd.Series(np.arange(len(cities)), index=cities.index)
    hc = pos[hold[S.CITY]].to_numpy()
    ship_mode = hold[S.SHIP_MODE].to_numpy()
    is_exp, is_new = ship_mode == "express", hold["new"].to_numpy()
    delivered = ship_mode != "pickup"
    n_c = len(cities)
    h_orders = np.bincount(hc, minlength=n_c).astype(float)
    h_exp = np.bincount(hc, weights=is_exp, minlength=n_c)
    h_exp_new = np.bincount(hc, weights=is_exp & is_new, minlength=n_c)
    h_deliv = np.bincount(hc, weights=delivered, minlength=n_c)
    span = max((hold[S.TIMESTAMP].max() - start).days + 1, 1) / 365.0

    def judge(name, open_):
        d = km[:, open_].min(axis=1)
        next_day = delivery_days(d, "express") <= 1
        days = delivery_days(d[hc], ship_mode) * delivered
        f = float(fixed[open_].sum())
        transport = float(cost[:, open_].min(axis=1).sum())
        seg_share = [within(open_, by_seg[s].to_numpy(float)) for s in exp_cols]
        per_city = {
            "express": h_exp, "express_next_day": h_exp * next_day,
            "new_express": h_exp_new, "new_express_next_day": h_exp_new * next_day,
            "delivered": h_deliv, "days": np.bincount(hc, weights=days, minlength=n_c),
            "orders": h_orders * volume_scale,
            "cost": h_orders * volume_scale * (rate * d + f * span / max(h_orders.sum()
                                                                         * volume_scale, 1)),
        }
        row = {"network": name, "sites": int(open_.sum()),
               "site_cities": ", ".join(sites.loc[open_, S.CITY]),
               "fixed_cost": f, "transport_cost": transport, "total_cost": f + transport,
               "express_orders_within_radius": within(open_, exp_train),
               "min_segment_share_within_radius": min(seg_share),
               "holdout_express_next_day": per_city["express_next_day"].sum()
               / max(h_exp.sum(), 1),
               "holdout_new_express_next_day": per_city["new_express_next_day"].sum()
               / h_exp_new.sum() if h_exp_new.sum() else np.nan,
               "holdout_mean_delivery_days": per_city["days"].sum() / max(h_deliv.sum(), 1),
               "holdout_cost_per_order": _cost_per_order(per_city["cost"], per_city["orders"]),
               "holdout_mean_km": float((d[hc] * delivered).sum() / max(delivered.sum(), 1))}
        return row, per_city

    plans = {"cost only": cost_only.open, "ship-mode rule": None if ship is None else ship.open,
             "ship-mode rule, equal cost": eq_cost.open,
             "ship-mode rule, equal service": eq_service.open,
             "profile-aware": aware.open, "naive k-means": naive_open}
    judged = {k: judge(k, v) for k, v in plans.items() if v is not None}
    networks = pd.DataFrame([r for r, _ in judged.values()])
    if ship is not None:
        networks.loc[networks["network"] == "ship-mode rule", "required_share"] = required_share
    networks.loc[networks["network"] == "ship-mode rule, equal cost", "required_share"] = lo
    networks.loc[networks["network"] == "profile-aware", "required_share"] = required_share

    def paired(blind, metric, num, den, lower, unit="city"):
        b, a = judged[blind][1], judged["profile-aware"][1]
        keep = a[den] > 0
        if keep.sum() < 2:
            return None
        return compare.paired(b[num][keep], a[num][keep], a[den][keep], metric=metric,
                              unit=unit, lower_is_better=lower, n_boot=n_boot, seed=seed)

    eqc, eqs = "ship-mode rule, equal cost", "ship-mode rule, equal service"
    comparisons = {
        "express orders next day, at equal cost": paired(
            eqc, "holdout express orders delivered next day", "express_next_day", "express",
            False),
        "cost per order, at equal service": paired(
            eqs, "holdout cost per order (fixed + transport)", "cost", "orders", True),
        "delivery days, at equal cost": paired(
            eqc, "holdout mean delivery days", "days", "delivered", True),
        "new customers' express orders next day, at equal cost": paired(
            eqc, "holdout express orders of new customers delivered next day",
            "new_express_next_day", "new_express", False),
        "express orders next day, against cost only (strawman)": paired(
            "cost only", "holdout express orders delivered next day", "express_next_day",
            "express", False),
    }
    comparisons = {k: v for k, v in comparisons.items() if v is not None}

    frontier = [{"rule": "cost only", "required_share": 0.0, **_point(cost_only, judge)}]
    for share in shares:
        for rule, cover in (("ship-mode rule", ship_rule(share)),
                            ("profile-aware", aware_rule(share))):
            net = solve(cover)
            if net is not None:
                frontier.append({"rule": rule, "required_share": share, **_point(net, judge)})

    variants = []
    k = int(cost_only.open.sum())
    for name, kw in [(f"p-median (p = {k}, transport only)", {"p": k}),
                     ("uncapacitated (fixed + transport)", {"fixed_cost": fixed}),
                     ("capacitated (fixed + transport)", {
                         "fixed_cost": fixed, "demand": demand.to_numpy(float),
                         "capacity": sites[S.CAPACITY].to_numpy(float)}
                      if S.CAPACITY in sites else None)]:
        if kw is None:
            continue
        v = locate(cost, **kw)
        variants.append({"model": name, "sites": ", ".join(sites.loc[v.open, S.CITY]),
                         "fixed_cost": v.fixed_cost, "transport_cost": v.assignment_cost,
                         "seconds": v.seconds, "status": v.status})
    open_sites = sites.assign(**{k: v for k, v in plans.items() if v is not None})
    city_table = by_seg.assign(orders_scaled=demand, lon=cities[S.LON], lat=cities[S.LAT])
    return {"networks": networks, "sites": open_sites, "frontier": pd.DataFrame(frontier),
            "comparisons": comparisons,
            "holdout": holdout_shift(o, start, city_changes(orders, customers)),
            "variants": pd.DataFrame(variants), "cities": city_table.reset_index(),
            "needs": needs, "express_segments": express_segments,
            "seconds": {"cost only": cost_only.seconds, "profile-aware": aware.seconds},
            "proof": {name: net.status for name, net in (
                ("cost only", cost_only), ("ship-mode rule", ship),
                ("ship-mode rule, equal cost", eq_cost),
                ("ship-mode rule, equal service", eq_service), ("profile-aware", aware))
                if net is not None}}


def _point(net, judge) -> dict:
    row, _ = judge("", net.open)
    return {"sites": row["sites"], "planned_cost": row["total_cost"],
            "express_orders_within_radius": row["express_orders_within_radius"],
            "holdout_express_next_day": row["holdout_express_next_day"],
            "holdout_cost_per_order": row["holdout_cost_per_order"]}


def holdout_shift(o: pd.DataFrame, start, city_changes: int = 0) -> dict:
    """What the holdout holds that the plan did not see (``o`` from
    :func:`_orders_with` with a ``new`` flag): customers first seen after ``start``,
    their share of the express orders, cities with express orders in the holdout and
    none in the planning year, and the express share of orders before and after."""
    start = pd.Timestamp(start)
    train = o[(o[S.TIMESTAMP] < start) & (o[S.TIMESTAMP] >= start - pd.Timedelta(weeks=52))]
    hold = o[o[S.TIMESTAMP] >= start]
    exp_h = hold[hold[S.SHIP_MODE] == "express"]
    seen = set(train.loc[train[S.SHIP_MODE] == "express", S.CITY])
    return {"customers_changing_city": int(city_changes),
            "new_customers": int(hold.loc[hold["new"], S.CUSTOMER_ID].nunique()),
            "new_customer_share_of_express": float(exp_h["new"].mean()) if len(exp_h) else 0.0,
            "new_express_cities": int(len(set(exp_h[S.CITY]) - seen)),
            "express_share_planning_year": float((train[S.SHIP_MODE] == "express").mean()),
            "express_share_holdout": float((hold[S.SHIP_MODE] == "express").mean()),
            "express_share_new_customers": float((hold.loc[hold["new"], S.SHIP_MODE]
                                                  == "express").mean())
            if hold["new"].any() else np.nan}


def network_control(effects: dict, *, size: str | int = "small", seed: int = 42,
                    holdout_start="2025-01-01", profile_settings: dict | None = None,
                    **kwargs) -> dict:
    """The network comparison again on the synthetic retailer with the given effect
    strengths (the negative control: every effect at 0). Takes the profile as the
    notebook does (:func:`chainsight.profiling.decision_profile` for a decision before
    ``holdout_start``, with ``profile_settings``: the run's ``holdout_start`` and
    profile settings; default: the run defaults) and returns
    :func:`network_comparison`'s result; ``kwargs`` go to it."""
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size=size, seed=seed, effects=effects)
    start = pd.Timestamp(holdout_start)
    prof, _ = profiling.decision_profile(ds, start - pd.Timedelta(seconds=1),
                                         **(profile_settings or {"seed": seed}))
    segments = prof.segments_for(ds.tables["customers"])
    return network_comparison(ds.orders, ds.tables["customers"], segments, ds.tables["sites"],
                              start, seed=seed, **kwargs)



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
                   open_sites: pd.DataFrame, holdout_start, *, products: pd.DataFrame | None = None,
                   margin_rate: float = 0.25, tariffs: dict | None = None,
                   protect_share: float = 0.8, detour: float = DETOUR_FACTOR, seed: int = 0,
                   n_boot: int = 2000, offer: dict | None = None) -> dict:
    """Which delivery tier to offer each segment from a given network, in money.

    Every delivered order has a cost to serve by tier (the tariff's fixed part + per
    km x road km from the nearest open site). Offering a tier slower than the one a
    buyer chose risks the sale: the order's margin (price - unit cost from
    ``products``, else ``margin_rate`` x revenue) counts as lost. Total cost = cost to
    serve + lost margin.

    - *customers' choice* (the profile-blind baseline): every tier is offered at its
      posted price and each order ships by the mode its buyer chose, as today.
    - *by segment* (profile-aware): each segment is offered one tier, the one with the
      least total cost per order among those that keep at least ``protect_share`` of
      its revenue, decided on the orders before ``holdout_start`` (express if none
      does; a segment first seen later keeps its choice). ``offer`` (segment -> tier)
      sets the tiers instead, as a service-tier matrix decides them; a segment it
      leaves out keeps its choice.
    - *standard for all*: a strawman.

    Judged on the holdout orders, paired over customers (:func:`compare.paired`,
    total cost per order). Returns ``options`` (segment x tier on the holdout),
    ``recommended`` (one row per segment), ``policies`` (one row per policy) and
    ``comparisons`` (name -> Paired).
    """
    from chainsight import compare

    tariffs = TARIFFS if tariffs is None else tariffs
    start = pd.Timestamp(holdout_start)
    o = _orders_with(orders, customers, segments)
    o = o[o[S.SHIP_MODE] != "pickup"].copy()
    if products is not None and S.UNIT_COST in products and products[S.UNIT_COST].notna().any():
        unit = orders[S.PRODUCT_ID].map(products.set_index(S.PRODUCT_ID)[S.UNIT_COST])
        line = orders[S.QUANTITY] * (orders[S.UNIT_PRICE] - unit.fillna(
            orders[S.UNIT_PRICE] * (1 - margin_rate)))
        o["margin"] = o[S.ORDER_ID].map(line.groupby(orders[S.ORDER_ID]).sum()).clip(lower=0)
    else:
        o["margin"] = o["revenue"] * margin_rate
    gc = great_circle_km(o[S.LON].to_numpy()[:, None], o[S.LAT].to_numpy()[:, None],
                         open_sites[S.LON].to_numpy()[None, :],
                         open_sites[S.LAT].to_numpy()[None, :])
    o["km"] = road_km(gc.min(axis=1), detour)
    o["speed"] = o[S.SHIP_MODE].map(SPEED)
    o["holdout"] = o[S.TIMESTAMP] >= start
    known = [t for t in tariffs if t in SPEED]
    for tier in known:
        base, per = tariffs[tier]
        ok = o["speed"] >= SPEED[tier]  # the tier is as fast as the buyer's choice
        o[f"cost_{tier}"] = base + per * o["km"]
        o[f"lost_{tier}"] = o["margin"] * ~ok
        o[f"kept_{tier}"] = o["revenue"] * ok
        o[f"days_{tier}"] = delivery_days(o["km"], tier)
    chosen = o[S.SHIP_MODE].where(o[S.SHIP_MODE].isin(known), known[-1])
    pick_col = {t: np.flatnonzero(chosen.to_numpy() == t) for t in known}
    o["cost_choice"] = 0.0
    for t, idx in pick_col.items():
        o.iloc[idx, o.columns.get_loc("cost_choice")] = o[f"cost_{t}"].to_numpy()[idx]
    o["days_choice"] = delivery_days(o["km"], chosen.to_numpy())

    rows = []
    for tier in known:
        g = o.groupby(["segment", "holdout"]).agg(
            orders=(S.ORDER_ID, "size"), cost_per_order=(f"cost_{tier}", "mean"),
            lost_margin_per_order=(f"lost_{tier}", "mean"), mean_days=(f"days_{tier}", "mean"),
            revenue=("revenue", "sum"), kept=(f"kept_{tier}", "sum")).reset_index()
        g["revenue_protected"] = g["kept"] / g["revenue"]
        g["total_per_order"] = g["cost_per_order"] + g["lost_margin_per_order"]
        rows.append(g.drop(columns="kept").assign(tier=tier))
    allt = pd.concat(rows, ignore_index=True)
    decide = allt[~allt["holdout"]]
    ok = decide[decide["revenue_protected"] >= protect_share]
    pick = (ok.sort_values(["segment", "total_per_order"]).groupby("segment")["tier"].first()
            .reindex(decide["segment"].unique()).fillna("express"))
    if offer is not None:
        unknown = sorted({str(t) for t in offer.values()} - set(known))
        if unknown:
            raise ValueError(f"delivery_tiers: offer names unknown tier(s) {unknown}; the "
                             f"tiers are {known}")
        pick = pd.Series(offer, dtype=object).rename_axis("segment")
    hold = o[o["holdout"]].copy()
    if hold.empty:
        raise ValueError(f"delivery_tiers: no delivered orders from {start.date()}")
    offer = hold["segment"].map(pick)

    def policy(tier_of):
        cost = hold["cost_choice"].to_numpy().copy()
        lost = np.zeros(len(hold))
        kept = hold["revenue"].to_numpy().copy()
        days = hold["days_choice"].to_numpy().astype(float)
        for t in known:
            m = (tier_of == t).to_numpy()
            cost[m] = hold[f"cost_{t}"].to_numpy()[m]
            lost[m] = hold[f"lost_{t}"].to_numpy()[m]
            kept[m] = hold[f"kept_{t}"].to_numpy()[m]
            days[m] = hold[f"days_{t}"].to_numpy()[m]
        return pd.DataFrame({S.CUSTOMER_ID: hold[S.CUSTOMER_ID].to_numpy(), "cost": cost,
                             "lost": lost, "total": cost + lost, "kept": kept, "days": days})

    none = pd.Series(None, index=hold.index, dtype=object)
    sides = {"customers' choice": policy(none), "by segment": policy(offer),
             "standard for all": policy(pd.Series("standard", index=hold.index))}
    policies = pd.DataFrame([{
        "policy": k, "orders": len(p), "cost_per_order": p["cost"].mean(),
        "lost_margin_per_order": p["lost"].mean(), "total_per_order": p["total"].mean(),
        "revenue_protected": p["kept"].sum() / hold["revenue"].sum(),
        "mean_days": p["days"].mean()} for k, p in sides.items()])
    per_cust = {k: p.groupby(S.CUSTOMER_ID)[["total"]].sum().join(
        p.groupby(S.CUSTOMER_ID).size().rename("n")) for k, p in sides.items()}
    aw = per_cust["by segment"]

    def paired(blind):
        b = per_cust[blind].reindex(aw.index)
        return compare.paired(b["total"], aw["total"], aw["n"], unit="customer",
                              metric="holdout total cost per order (delivery + lost margin)",
                              lower_is_better=True, n_boot=n_boot, seed=seed)

    options = (allt[allt["holdout"]].drop(columns="holdout")
               .sort_values(["segment", "tier"], key=lambda c: c.map(SPEED)
                            if c.name == "tier" else c.astype(str)).reset_index(drop=True))
    rec = options.merge(pick.rename("tier").reset_index(), on=["segment", "tier"])
    return {"options": options, "recommended": rec.reset_index(drop=True),
            "policies": policies,
            "comparisons": {"total cost per order, against customers' choice":
                            paired("customers' choice"),
                            "total cost per order, against standard for all (strawman)":
                            paired("standard for all")}}



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


def pick_route_days(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
                    cities, since, n_days: int = 5) -> tuple[str, list]:
    """A city and days worth routing: of ``cities`` (for example those with an open
    warehouse), the one with the most orders from ``since``, and its ``n_days`` days
    with the most express orders (by the orders' ship mode), in date order."""
    o = _orders_with(orders, customers, segments)
    o = o[(o[S.TIMESTAMP] >= pd.Timestamp(since)) & o[S.CITY].isin(list(cities))]
    if o.empty:
        raise ValueError("pick_route_days: no orders in those cities after the start date")
    city = o[S.CITY].value_counts().idxmax()
    c = o[(o[S.CITY] == city) & (o[S.SHIP_MODE] != "pickup")]
    day = c[S.TIMESTAMP].dt.normalize()
    rank = pd.DataFrame({"express": (c[S.SHIP_MODE] == "express").groupby(day).sum(),
                         "orders": c.groupby(day).size()})
    top = rank.sort_values(["express", "orders"], ascending=False).head(n_days).index
    return city, sorted(top)


def pick_route_day(orders, customers, segments, express_segments, cities, since):
    """The busiest city of ``cities`` and its day with the most express orders (kept
    for callers of the single-day version; ``express_segments`` is not used)."""
    city, days = pick_route_days(orders, customers, segments, cities, since, 1)
    return city, days[0]


def last_mile(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
              city: str, day, express_segments, *, vehicle_capacity: int = 30,
              express_window_min: float = 180, shift_min: float = 600,
              speed_kmh: float = 25, service_min: float = 4, radius_km: float = 15,
              detour: float = DETOUR_FACTOR, solution_limit: int = 1000,
              seed: int = 0) -> dict:
    """One day's deliveries in one city from a depot at its centre, routed twice, both
    with time windows: *profile-blind* gives every stop with an express order (by its
    ship mode) a window of ``express_window_min`` minutes from the vans leaving;
    *profile-aware* gives it only to the express orders of ``express_segments``, the
    other stops only the shift. Each stop is a customer with the parcels due that day.

    Returns ``policies`` (km, vans, express stops and the share of them reached within
    the window, last arrival), ``stops`` (position, parcels, express flags) and
    ``routes`` per policy.
    """
    o = _orders_with(orders, customers, segments)
    day = pd.Timestamp(day).normalize()
    o = o[(o[S.CITY] == city) & (o[S.TIMESTAMP].dt.normalize() == day)
          & (o[S.SHIP_MODE] != "pickup")]
    if o.empty:
        raise ValueError(f"last_mile: no deliveries in {city} on {day.date()}")
    o = o.assign(express=o[S.SHIP_MODE] == "express")
    o["segment_express"] = o["express"] & o["segment"].isin(list(express_segments))
    stops = o.groupby(S.CUSTOMER_ID).agg(parcels=(S.ORDER_ID, "size"),
                                         express=("express", "any"),
                                         segment_express=("segment_express", "any")).reset_index()
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

    def windows(flag):
        w = np.tile([0, shift_min], (n, 1)).astype(float)
        w[1:][stops[flag].to_numpy()] = [0, express_window_min]
        return w

    def arrivals(routes):
        out = {}
        for r in routes:
            t, prev = 0.0, 0
            for node in r:
                t += svc[prev] + minutes[prev, node]
                out[node] = t
                prev = node
        return out

    exp_nodes = np.flatnonzero(stops["express"].to_numpy()) + 1
    seg_nodes = np.flatnonzero(stops["segment_express"].to_numpy()) + 1
    results, routes = [], {}
    for name, flag in (("profile-blind", "express"), ("profile-aware", "segment_express")):
        r = solve_cvrp(metres, demand, vehicle_capacity, vehicles, time_windows=windows(flag),
                       service_time=svc, travel_time=minutes, solution_limit=solution_limit)
        arr = arrivals(r.routes)
        on_time = [arr[i] <= express_window_min for i in exp_nodes]
        seg_on_time = [arr[i] <= express_window_min for i in seg_nodes]
        results.append({"policy": name, "day": day, "km": r.cost / 1000, "vans": len(r.routes),
                        "stops": n - 1, "parcels": int(demand.sum()),
                        "express_stops": len(exp_nodes), "express_on_time_stops": sum(on_time),
                        "express_on_time": float(np.mean(on_time)) if on_time else np.nan,
                        "segment_express_on_time": float(np.mean(seg_on_time))
                        if seg_on_time else np.nan,
                        "last_arrival_min": max(arr.values())})
        routes[name] = r.routes
    stops = stops.assign(node=np.arange(1, n))
    return {"policies": pd.DataFrame(results), "stops": stops, "routes": routes,
            "depot": (float(centre[S.LON]), float(centre[S.LAT]))}


def last_mile_days(orders: pd.DataFrame, customers: pd.DataFrame, segments: pd.DataFrame,
                   city: str, days, express_segments, *, seed: int = 0, n_boot: int = 2000,
                   **kwargs) -> dict:
    """:func:`last_mile` on several days of one city, compared over days
    (:func:`compare.paired`): road km, and the share of express stops reached within
    the window. Returns ``days`` (one row per day and policy), ``comparisons`` and
    ``last`` (the :func:`last_mile` result of the day with the most express stops,
    for the map)."""
    from chainsight import compare

    runs = [last_mile(orders, customers, segments, city, d, express_segments, seed=seed,
                      **kwargs) for d in days]
    frame = pd.concat([r["policies"] for r in runs], ignore_index=True)
    comparisons = {}
    if len(runs) >= 2:
        b = frame[frame["policy"] == "profile-blind"].set_index("day")
        a = frame[frame["policy"] == "profile-aware"].set_index("day").reindex(b.index)
        comparisons["road km per day"] = compare.paired(
            b["km"], a["km"], metric="road km per day", unit="day", lower_is_better=True,
            n_boot=n_boot, seed=seed)
        if (a["express_stops"] > 0).sum() >= 2:
            comparisons["express stops within the window"] = compare.paired(
                b["express_on_time_stops"], a["express_on_time_stops"], a["express_stops"],
                metric="express stops reached within the window", unit="day",
                lower_is_better=False, n_boot=n_boot, seed=seed)
    last = max(runs, key=lambda r: (r["policies"]["express_stops"].iloc[0],
                                    r["policies"]["stops"].iloc[0]))
    return {"days": frame, "comparisons": comparisons, "last": last}



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
                       inst["vehicles"], inst["depot"], iterations=5000)
        rows.append(("vehicle routing", name, best, r.cost, r.seconds))
    out = pd.DataFrame(rows, columns=["problem", "instance", "published", "computed",
                                      "seconds"])
    out["gap"] = out["computed"] / out["published"] - 1
    return out


# ---------------------------------------------------------------------------
# Figures and sentences for the notebook
# ---------------------------------------------------------------------------
def frontier_plot(frontier: pd.DataFrame, networks: pd.DataFrame, currency: str = "",
                  ax=None):
    """Planned cost (x, million a year) against the holdout's express orders delivered
    next day (y), for each rule over its required shares; the networks of
    ``networks`` (profile-aware and the ship-mode rule at equal cost) are marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for rule, style in (("ship-mode rule", "o-"), ("profile-aware", "s--"), ("cost only", "^")):
        f = frontier[frontier["rule"] == rule].sort_values("planned_cost")
        ax.plot(f["planned_cost"] / 1e6, f["holdout_express_next_day"], style, label=rule,
                alpha=0.8)
    for name, marker in (("ship-mode rule, equal cost", "x"), ("profile-aware", "+")):
        r = networks.set_index("network").loc[name]
        ax.scatter(r["total_cost"] / 1e6, r["holdout_express_next_day"], marker=marker, s=160,
                   color="black", zorder=5, label=f"{name} (operating point)")
    ax.set(xlabel=f"planned cost, whole business (million {currency}/yr)".replace(" /", "/"),
           ylabel="holdout express orders next day",
           title="Cost against next-day service, each rule over its required share")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def same_network_sentence(sites: pd.DataFrame, a: str, b: str) -> str:
    """Whether networks ``a`` and ``b`` (boolean columns of ``sites``) open the same
    sites, and if not which sites differ."""
    sa, sb = set(sites.loc[sites[a], S.CITY]), set(sites.loc[sites[b], S.CITY])
    if sa == sb:
        return (f"Networks '{a}' and '{b}' open the same {len(sa)} sites "
                f"({', '.join(sorted(sa))}).")
    only_a = ", ".join(sorted(sa - sb)) or "none"
    only_b = ", ".join(sorted(sb - sa)) or "none"
    return (f"Network '{a}' opens {len(sa)} sites and '{b}' {len(sb)}; only in '{a}': "
            f"{only_a}; only in '{b}': {only_b}.")


def sentence_format(currency: str = ""):
    """The format of each logistics comparison, for :func:`chainsight.compare.lines`:
    shares as percentages, costs with two decimals and ``currency``, delivery days and
    road km with their unit."""
    money = "{:,.2f}" + (" " + currency.replace("{", "{{").replace("}", "}}")
                         if currency else "")

    def fmt(p) -> str:
        if any(w in p.metric for w in ("next day", "within the window")):
            return "{:.1%}"
        if "cost" in p.metric:
            return money
        return "{:,.2f} days" if "days" in p.metric else "{:,.1f} km" if "km" in p.metric \
            else "{:,.2f}"
    return fmt


def holdout_sentence(h: dict, start) -> str:
    """What the holdout can change, in words computed from :func:`holdout_shift`."""
    start = pd.Timestamp(start)
    if h["customers_changing_city"] == 0:
        head = ("No customer changes city in the data, so once the network is chosen the "
                "next-day reach of a returning customer's orders is fixed by geography; the "
                "holdout can differ from the plan only through new customers and changed "
                "ship-mode mixes")
    else:
        head = (f"{h['customers_changing_city']:,} customers are seen in more than one city, "
                "so the holdout also moves demand between cities; besides, it brings new "
                "customers and changed ship-mode mixes")
    new_mix = h["express_share_new_customers"]
    new_mix = "no new customers" if pd.isna(new_mix) else f"{new_mix:.1%} for new customers"
    k = h["new_express_cities"]
    cities = f"{k} city has" if k == 1 else f"{k} cities have"
    return (f"{head}: {h['new_customers']:,} customers first seen from {start.date()} place "
            f"{h['new_customer_share_of_express']:.0%} of the holdout's express orders, "
            f"{cities} express orders in the holdout and none in the planning year, and "
            f"express is {h['express_share_planning_year']:.1%} of orders in the planning "
            f"year against {h['express_share_holdout']:.1%} in the holdout ({new_mix}). The "
            "comparisons above are judged on the holdout orders: cost per order, delivery "
            "days and next-day delivery of every express order.")


def demand_by_country(orders: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """Customers, orders, revenue and revenue share per country (for data whose
    geography stops at the country), largest first: the customers' country, or the
    orders' own when the customers carry none."""
    if customers is not None and S.COUNTRY in customers and customers[S.COUNTRY].notna().any():
        lines = orders.drop(columns=S.COUNTRY, errors="ignore").merge(
            customers[[S.CUSTOMER_ID, S.COUNTRY]], on=S.CUSTOMER_ID)
    else:
        S.require_columns(orders, "orders", [S.COUNTRY])
        lines = orders
    out = (lines.assign(revenue=lambda d: d[S.QUANTITY] * d[S.UNIT_PRICE])
           .groupby(S.COUNTRY).agg(customers=(S.CUSTOMER_ID, "nunique"),
                                   orders=(S.ORDER_ID, "nunique"), revenue=("revenue", "sum"))
           .sort_values("revenue", ascending=False))
    out["revenue share"] = out["revenue"] / out["revenue"].sum()
    return out


NETWORK_LABELS = {"sites": "sites", "total_cost": "planned cost, whole business (/yr)",
                  "express_orders_within_radius": "planning year: express orders within reach",
                  "min_segment_share_within_radius": "express segments within reach (worst)",
                  "holdout_express_next_day": "holdout: express orders next day",
                  "holdout_mean_delivery_days": "holdout: mean delivery days",
                  "holdout_cost_per_order": "holdout: cost per order"}


def network_table(networks: pd.DataFrame, currency: str = ""):
    """The networks of :func:`network_comparison` as a formatted table (a pandas
    Styler), one row per network."""
    labels = {k: v.replace("(/yr)", f"({currency}/yr)") for k, v in NETWORK_LABELS.items()}
    labels["holdout_cost_per_order"] += f" ({currency})" if currency else ""
    fmt = {v: "{:.1%}" for v in list(labels.values())[2:5]}
    fmt.update({labels["sites"]: "{:,.0f}", labels["total_cost"]: "{:,.0f}",
                labels["holdout_mean_delivery_days"]: "{:.2f}",
                labels["holdout_cost_per_order"]: "{:.2f}"})
    return networks.set_index("network")[list(labels)].rename(columns=labels).style.format(fmt)
