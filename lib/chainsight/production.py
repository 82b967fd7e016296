"""Customised production (定制化生产): capacity planning and lead times.

- :func:`aggregate_plan` plans capacity period by period as a linear (or mixed-integer)
  programme: regular hours of the workforce, hiring and layoffs, overtime, subcontracting,
  inventory and backlog, at least cost (HiGHS through scipy). It reproduces the Red Tomato
  Tools plan of Chopra & Meindl, *Supply Chain Management*, chapter 8.
- :func:`queue_wait` gives the mean wait of a single-server queue by the
  Pollaczek-Khinchine formula (Poisson arrivals) or Kingman's approximation (general
  arrivals); :func:`simulate_queue` simulates the same queue, vectorised, to check it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PlanCosts:
    """The costs and limits of an aggregate plan, per period and unit (Chopra & Meindl's
    names). ``hours_per_worker`` are the regular hours a worker gives a period."""

    material: float = 10.0  # per unit produced in house
    holding: float = 2.0  # per unit in stock at the end of a period
    backlog: float = 5.0  # per unit owed at the end of a period
    hiring: float = 300.0  # per worker hired
    layoff: float = 500.0  # per worker laid off
    hours_per_unit: float = 4.0
    regular_wage: float = 4.0  # per regular hour
    overtime_wage: float = 6.0  # per overtime hour
    subcontract: float = 30.0  # per unit bought outside
    hours_per_worker: float = 160.0  # regular hours per worker and period
    overtime_per_worker: float = 10.0  # overtime hours a worker may give a period

    def __post_init__(self):
        bad = [k for k, v in self.__dict__.items() if not np.isfinite(v) or v < 0]
        if bad:
            raise ValueError(f"plan costs must be finite and not negative: {bad}")
        if self.hours_per_unit <= 0 or self.hours_per_worker <= 0:
            raise ValueError("hours_per_unit and hours_per_worker must be positive")


@dataclass(frozen=True)
class Plan:
    """An aggregate plan: one row per period (workers, hired, laid off, overtime hours,
    units made, subcontracted, inventory and backlog at the end), its cost and status."""

    table: pd.DataFrame
    cost: float
    status: str


# Variables per period, in this order, in the programme of :func:`aggregate_plan`.
_VARS = ("workers", "hired", "laid_off", "overtime_hours", "inventory", "backlog", "made",
         "subcontracted")


def aggregate_plan(demand, costs: PlanCosts = PlanCosts(), workers: float = 80,
                   inventory: float = 1000, final_inventory: float = 500,
                   integer: bool = False, make_to_order: bool = False,
                   time_limit: float = 10.0) -> Plan:
    """The least-cost aggregate plan for ``demand`` per period (Chopra & Meindl, ch. 8).

    Per period t, with workforce W, hired H, laid off L, overtime hours O, inventory I,
    backlog S, units made P and subcontracted C:

    - W_t = W_{t-1} + H_t - L_t (``workers`` before the first period);
    - P_t <= (hours_per_worker W_t + O_t) / hours_per_unit, O_t <= overtime_per_worker W_t;
    - I_{t-1} - S_{t-1} + P_t + C_t = demand_t + I_t - S_t (``inventory`` before the
      first period, no backlog);
    - at the end, I >= ``final_inventory`` and no backlog.

    Cost: wages (regular for every worker on the payroll, overtime per hour), hiring,
    layoffs, material for units made, subcontracting, holding and backlog. ``integer``
    asks for whole workers and units (a MILP). ``make_to_order`` keeps no stock (work
    made to an order cannot be made ahead of it): capacity, overtime, subcontracting and
    backlog then meet demand.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    d = np.asarray(demand, dtype=float)
    if d.ndim != 1 or len(d) == 0 or not np.isfinite(d).all() or (d < 0).any():
        raise ValueError("demand must be one finite, non-negative number per period")
    if min(workers, inventory, final_inventory) < 0:
        raise ValueError("workers, inventory and final_inventory must not be negative")
    if make_to_order and (inventory or final_inventory):
        raise ValueError("a make-to-order plan keeps no stock: inventory and "
                         "final_inventory must be 0")
    T, k = len(d), len(_VARS)
    c = costs

    def v(name, t):  # the column of variable ``name`` in period t
        return t * k + _VARS.index(name)

    per_period = {"workers": c.regular_wage * c.hours_per_worker, "hired": c.hiring,
                  "laid_off": c.layoff, "overtime_hours": c.overtime_wage,
                  "inventory": c.holding, "backlog": c.backlog, "made": c.material,
                  "subcontracted": c.subcontract}
    obj = np.tile([per_period[name] for name in _VARS], T)
    rows, cols, vals, lo, hi = [], [], [], [], []

    def row(entries, low, high):
        r = len(lo)
        for col, val in entries:
            rows.append(r)
            cols.append(col)
            vals.append(val)
        lo.append(low)
        hi.append(high)

    for t in range(T):
        prev_w = [] if t == 0 else [(v("workers", t - 1), -1.0)]
        row([(v("workers", t), 1.0), *prev_w, (v("hired", t), -1.0), (v("laid_off", t), 1.0)],
            workers if t == 0 else 0.0, workers if t == 0 else 0.0)
        row([(v("made", t), c.hours_per_unit), (v("workers", t), -c.hours_per_worker),
             (v("overtime_hours", t), -1.0)], -np.inf, 0.0)
        row([(v("overtime_hours", t), 1.0), (v("workers", t), -c.overtime_per_worker)],
            -np.inf, 0.0)
        prev = [] if t == 0 else [(v("inventory", t - 1), 1.0), (v("backlog", t - 1), -1.0)]
        rhs = d[t] - (inventory if t == 0 else 0.0)
        row([*prev, (v("made", t), 1.0), (v("subcontracted", t), 1.0),
             (v("inventory", t), -1.0), (v("backlog", t), 1.0)], rhs, rhs)
    lower = np.zeros(T * k)
    upper = np.full(T * k, np.inf)
    lower[v("inventory", T - 1)] = final_inventory
    upper[v("backlog", T - 1)] = 0.0
    if make_to_order:
        upper[[v("inventory", t) for t in range(T)]] = 0.0
    A = sparse.csr_matrix((vals, (rows, cols)), shape=(len(lo), T * k))
    res = milp(obj, constraints=LinearConstraint(A, lo, hi), bounds=Bounds(lower, upper),
               integrality=np.full(T * k, 1 if integer else 0),
               options={"time_limit": time_limit})
    if res.x is None:
        raise ValueError(f"aggregate_plan: no feasible plan ({res.message})")
    x = res.x.reshape(T, k)
    table = pd.DataFrame(x, columns=list(_VARS))
    table.insert(0, "period", np.arange(1, T + 1))
    table.insert(1, "demand", d)
    status = "optimal" if res.status == 0 else f"stopped: {res.message}"
    return Plan(table, float(res.fun), status)


# Chopra & Meindl, Supply Chain Management, chapter 8: Red Tomato Tools.
RED_TOMATO_DEMAND = (1600, 3000, 3200, 3800, 2200, 2200)
RED_TOMATO_OPTIMUM = {"lp": 422_275.0, "integer": 422_660.0}


def queue_wait(utilisation, service_mean: float, service_cv: float,
               arrival_cv: float = 1.0) -> np.ndarray:
    """Mean wait in queue (before service) of a single server at ``utilisation``:
    Kingman's approximation rho/(1-rho) (ca^2 + cs^2)/2 E[S], which is the exact
    Pollaczek-Khinchine mean for Poisson arrivals (``arrival_cv`` 1)."""
    rho = np.asarray(utilisation, dtype=float)
    if ((rho <= 0) | (rho >= 1)).any():
        raise ValueError("utilisation must lie strictly between 0 and 1")
    if service_mean <= 0 or service_cv < 0 or arrival_cv < 0:
        raise ValueError("service_mean must be positive and the CVs not negative")
    return rho / (1 - rho) * (arrival_cv ** 2 + service_cv ** 2) / 2 * service_mean


def simulate_queue(utilisation: float, service_mean: float, service_cv: float,
                   n_jobs: int = 100_000, seed: int = 0, warmup: float = 0.1) -> float:
    """Mean wait in queue of a single first-come-first-served server with Poisson
    arrivals and gamma service times (mean ``service_mean``, coefficient of variation
    ``service_cv``), simulated without a loop: by Lindley's recursion the waits are the
    random walk of (service - interarrival) less its running minimum. The first
    ``warmup`` share of the jobs is left out."""
    if not 0 < utilisation < 1:
        raise ValueError("utilisation must lie strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(service_mean / utilisation, n_jobs)
    if service_cv == 0:
        service = np.full(n_jobs, service_mean)
    else:
        shape = 1 / service_cv ** 2
        service = rng.gamma(shape, service_mean / shape, n_jobs)
    walk = np.concatenate([[0.0], np.cumsum(service[:-1] - gaps[1:])])
    wait = walk - np.minimum.accumulate(np.minimum(walk, 0.0))
    return float(wait[int(warmup * n_jobs):].mean())


# ---------------------------------------------------------------------------
# Who wants customisation, and how fast that grows
# ---------------------------------------------------------------------------
def _logistic_trend(t, n, k, iterations: int = 50) -> tuple[float, float]:
    """Intercept and slope of a binomial logistic regression of ``k`` customised out of
    ``n`` lines on time ``t`` (Newton's method on the weekly counts)."""
    from scipy.special import expit

    X = np.column_stack([np.ones_like(t), t])
    beta = np.array([np.log((k.sum() + 0.5) / (n.sum() - k.sum() + 0.5)), 0.0])
    for _ in range(iterations):
        p = expit(X @ beta)
        w = n * p * (1 - p)
        hess = X.T @ (X * w[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, X.T @ (k - n * p))
        beta = beta + step
        if np.abs(step).max() < 1e-10:
            break
    return float(beta[0]), float(beta[1])


MIN_LINES = 10  # customised (and plain) lines a group needs for a trend


def customisation_trend(orders: pd.DataFrame, products: pd.DataFrame,
                        groups: pd.DataFrame | None = None, until=None, n_boot: int = 1000,
                        seed: int = 0) -> pd.DataFrame:
    """The share of customisable order lines that were customised, and its trend, per
    group (``groups``: customer_id and ``segment``; without it, the whole base).

    The trend is a logistic regression of a line being customised on time (in years),
    fitted on weekly counts; its 95% interval comes from resampling the weeks. Returns
    per group: lines, customised lines, the share, the fitted share at the first and
    the last week, the slope (log-odds per year) with its interval, and a verdict
    (``rising``, ``falling`` or ``no measurable trend``). Lines up to ``until``."""
    from chainsight import schema as S

    S.require_columns(orders, "orders", [S.CUSTOMER_ID, S.TIMESTAMP, S.PRODUCT_ID,
                                         S.CUSTOMISED])
    S.require_columns(products, "products", [S.PRODUCT_ID, S.CUSTOMISABLE])
    able = products.loc[products[S.CUSTOMISABLE].astype(bool), S.PRODUCT_ID]
    lines = orders[orders[S.PRODUCT_ID].isin(able)]
    if until is not None:
        lines = lines[lines[S.TIMESTAMP] < pd.Timestamp(until)]
    if lines.empty:
        raise ValueError("customisation_trend: no order lines of customisable products")
    if groups is None:
        lines = lines.assign(segment="all")
    else:
        lines = lines.merge(groups[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID, how="left")
        lines["segment"] = lines["segment"].astype(object).where(lines["segment"].notna(), "new")
    from scipy.special import expit

    week = lines[S.TIMESTAMP].dt.to_period("W-SUN").dt.start_time
    start = week.min()
    weekly = (lines.assign(week=week, customised=lines[S.CUSTOMISED].astype(bool))
              .groupby(["segment", "week"])["customised"].agg(["size", "sum"]).reset_index())
    rng = np.random.default_rng(seed)
    rows = []
    for seg, g in weekly.groupby("segment", sort=True):
        t = ((g["week"] - start).dt.days / 365.25).to_numpy()
        n, k = g["size"].to_numpy(float), g["sum"].to_numpy(float)
        row = {"segment": seg, "lines": int(n.sum()), "customised": int(k.sum()),
               "share": k.sum() / n.sum(), "share_first_week": np.nan,
               "share_last_week": np.nan, "slope_per_year": np.nan, "lo": np.nan,
               "hi": np.nan, "verdict": f"too few lines to tell (fewer than {MIN_LINES} "
                                        "customised or plain, or 8 weeks)"}
        if min(k.sum(), n.sum() - k.sum()) >= MIN_LINES and len(g) >= 8:
            a, b = _logistic_trend(t, n, k)
            picks = rng.integers(len(g), size=(n_boot, len(g)))
            lo, hi = np.quantile([_logistic_trend(t[i], n[i], k[i])[1] for i in picks],
                                 [0.025, 0.975])
            row.update(share_first_week=expit(a + b * t.min()),
                       share_last_week=expit(a + b * t.max()), slope_per_year=b, lo=lo, hi=hi,
                       verdict="rising" if lo > 0 else "falling" if hi < 0
                       else "no measurable trend")
        rows.append(row)
    return pd.DataFrame(rows)


SHARE_WINDOWS = (13, 26, 52)  # weeks of recent share a forecast may average
VALIDATION_WEEKS = 13


def _weekly_counts(lines: pd.DataFrame, key: str) -> pd.DataFrame:
    """Customisable units and customised units per group and week (every week present)."""
    from chainsight import schema as S

    week = lines[S.TIMESTAMP].dt.to_period("W-SUN").dt.start_time
    q = lines[S.QUANTITY].astype(float)
    frame = pd.DataFrame({key: lines[key].to_numpy(), "week": week.to_numpy(),
                          "units": q.to_numpy(),
                          "custom": (q * lines[S.CUSTOMISED].astype(bool)).to_numpy()})
    out = frame.groupby([key, "week"])[["units", "custom"]].sum()
    weeks = pd.date_range(frame["week"].min(), frame["week"].max(), freq="7D")
    full = pd.MultiIndex.from_product([sorted(frame[key].unique(), key=str), weeks],
                                      names=[key, "week"])
    return out.reindex(full, fill_value=0.0).reset_index()


def _share_forecast(g: pd.DataFrame, cut: pd.Timestamp, future: pd.DatetimeIndex,
                    method) -> np.ndarray:
    """Customised share for the weeks ``future`` of one group, learned before ``cut``:
    the share of the last ``method`` weeks, or (``"trend"``) the logistic trend."""
    from scipy.special import expit

    past = g[g["week"] < cut]
    if method == "trend":
        t = ((past["week"] - past["week"].min()).dt.days / 365.25).to_numpy()
        n, k = past["units"].to_numpy(), past["custom"].to_numpy()
        if min(k.sum(), n.sum() - k.sum()) < MIN_LINES:
            method = SHARE_WINDOWS[-1]
        else:
            a, b = _logistic_trend(t, n, k)
            tf = ((future - past["week"].min()).days / 365.25).to_numpy()
            return expit(a + b * tf)
    recent = past.tail(int(method))
    share = recent["custom"].sum() / recent["units"].sum() if recent["units"].sum() else 0.0
    return np.full(len(future), share)


def _customised_units(weekly: pd.DataFrame, key: str, cut, future, level_weeks: int,
                      choose: bool) -> tuple[pd.DataFrame, dict]:
    """Customised units per week of ``future`` for each group of ``weekly``: the group's
    recent customisable units per week times its share forecast. With ``choose``, each
    group's share method is the one of least absolute error on the weeks just before
    ``cut`` (learned before them); the methods chosen are returned."""
    out, chosen = [], {}
    for name, g in weekly.groupby(key, sort=True):
        past = g[g["week"] < cut]
        level = past["units"].tail(level_weeks).mean() if len(past) else 0.0
        method = "trend"
        if choose:
            vcut = cut - pd.Timedelta(weeks=VALIDATION_WEEKS)
            check = past[past["week"] >= vcut]
            if len(check) and len(past[past["week"] < vcut]):
                errors = {}
                for m in (*SHARE_WINDOWS, "trend"):
                    share = _share_forecast(past, vcut, pd.DatetimeIndex(check["week"]), m)
                    errors[m] = np.abs(share * check["units"].to_numpy()
                                       - check["custom"].to_numpy()).sum()
                method = min(errors, key=errors.get)
        chosen[name] = method
        share = _share_forecast(g, cut, future, method)
        out.append(pd.DataFrame({key: name, "week": future, "forecast": level * share}))
    return pd.concat(out, ignore_index=True), chosen


def customised_forecast_comparison(orders: pd.DataFrame, products: pd.DataFrame,
                                   segments: pd.DataFrame, start, level_weeks: int = 13,
                                   n_boot: int = 2000, seed: int = 0) -> dict:
    """Customised units per week after ``start``, forecast profile-blind (one share for
    the whole base) and profile-aware (a share per segment, added up), judged on the
    weeks after ``start``.

    Both sides forecast each group's customisable units per week as its mean of the
    last ``level_weeks`` weeks, times a customised share. The share is the group's share
    of the last 13, 26 or 52 weeks or its logistic trend (:func:`customisation_trend`),
    whichever had the least error on the 13 weeks before ``start`` (learned before
    them): the strongest blind forecast is tuned exactly as the aware one. Returns the
    weekly table (actual, blind, aware), the methods chosen, and the paired WAPE
    difference over the holdout weeks (:class:`chainsight.compare.Paired`)."""
    from chainsight import compare
    from chainsight import schema as S

    start = pd.Timestamp(start)
    able = products.loc[products[S.CUSTOMISABLE].astype(bool), S.PRODUCT_ID]
    lines = orders[orders[S.PRODUCT_ID].isin(able)].merge(
        segments[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID, how="left")
    lines["segment"] = lines["segment"].astype(object).where(lines["segment"].notna(), "new")
    lines["all"] = "all"
    if lines.empty or not lines[S.CUSTOMISED].astype(bool).any():
        raise ValueError("customised_forecast_comparison: no customised order lines")
    by_seg = _weekly_counts(lines, "segment")
    whole = _weekly_counts(lines, "all")
    future = pd.DatetimeIndex(sorted(whole.loc[whole["week"] >= start, "week"].unique()))
    if len(future) < 4 or (whole["week"] < start).sum() < 2 * VALIDATION_WEEKS:
        raise ValueError(f"customised_forecast_comparison: {start.date()} leaves "
                         f"{(whole['week'] < start).sum()} weeks before it (at least "
                         f"{2 * VALIDATION_WEEKS}) and {len(future)} after it (at least 4)")
    blind, blind_method = _customised_units(whole, "all", start, future, level_weeks, True)
    aware, aware_method = _customised_units(by_seg, "segment", start, future, level_weeks,
                                            True)
    actual = whole[whole["week"] >= start].set_index("week")["custom"].reindex(future)
    table = pd.DataFrame({"week": future, "actual": actual.to_numpy(),
                          "blind": blind.groupby("week")["forecast"].sum().reindex(future)
                          .to_numpy(),
                          "aware": aware.groupby("week")["forecast"].sum().reindex(future)
                          .to_numpy()})
    paired = compare.paired(np.abs(table["blind"] - table["actual"]).to_numpy(),
                            np.abs(table["aware"] - table["actual"]).to_numpy(),
                            table["actual"].to_numpy(), metric="WAPE of customised units "
                            "per week", unit="week", n_boot=n_boot, seed=seed)
    return {"weekly": table, "blind_method": blind_method["all"],
            "aware_methods": aware_method, "wape": paired,
            "bias": {side: float(table[side].sum() / table["actual"].sum() - 1)
                     for side in ("blind", "aware")}}


def replay_capacity(plan: Plan, actual, costs: PlanCosts = PlanCosts(),
                    opening_backlog: float = 0.0) -> pd.DataFrame:
    """A capacity plan against the demand that came, period by period.

    The plan fixes the workforce and the subcontracted units of each period; its
    overtime is a ceiling, used only as far as demand and backlog need it. Each period
    makes what is owed (backlog and demand) up to that capacity; the rest waits, at the
    backlog cost, and what is still owed after the last period is bought outside then
    (at the subcontracting cost), as the plan itself must leave no backlog. Returns per
    period: demand, made, subcontracted, overtime hours used, idle regular hours,
    backlog at the end, and the cost (wages for the workforce, overtime, material,
    subcontracting, backlog)."""
    t = plan.table
    d = np.asarray(actual, dtype=float)
    if len(d) != len(t) or not np.isfinite(d).all() or (d < 0).any():
        raise ValueError(f"replay_capacity: {len(t)} periods of demand needed, finite and "
                         "not negative")
    c = costs
    owed, rows = float(opening_backlog), []
    for i in range(len(t)):
        w, sub = float(t["workers"].iloc[i]), float(t["subcontracted"].iloc[i])
        regular = w * c.hours_per_worker / c.hours_per_unit
        extra = min(float(t["overtime_hours"].iloc[i]), c.overtime_per_worker * w)
        need = max(owed + d[i] - sub, 0.0)
        made = min(need, regular + extra / c.hours_per_unit)
        ot = max(made - regular, 0.0) * c.hours_per_unit
        idle = max(regular - made, 0.0) * c.hours_per_unit
        owed = max(owed + d[i] - sub - made, 0.0)
        cost = (w * c.hours_per_worker * c.regular_wage + ot * c.overtime_wage
                + made * c.material + sub * c.subcontract + owed * c.backlog)
        if i == len(t) - 1:  # the plan ends with nothing owed: the rest is bought outside
            cost += owed * c.subcontract
            sub, owed = sub + owed, 0.0
        rows.append({"period": i + 1, "demand": d[i], "made": made, "subcontracted": sub,
                     "overtime_hours": ot, "idle_hours": idle, "backlog": owed, "cost": cost})
    return pd.DataFrame(rows)


def capacity_comparison(forecast: pd.DataFrame, costs: PlanCosts, workers: float,
                        n_boot: int = 2000, seed: int = 0) -> dict:
    """Capacity for customised work planned from each side's forecast and replayed on the
    units that came.

    ``forecast``: per week, ``actual`` and the ``blind`` and ``aware`` forecasts of
    customised units (:func:`customised_forecast_comparison`'s weekly table). Each side
    plans the weeks with :func:`aggregate_plan` against its own forecast, from the same
    ``workers``, made to order (no stock), then :func:`replay_capacity` runs the plan
    against the actual units. Returns each side's replay, the totals (cost, late
    unit-weeks, idle hours) and the paired difference of the cost per week
    (:class:`chainsight.compare.Paired`)."""
    from chainsight import compare

    out = {}
    for side in ("blind", "aware"):
        plan = aggregate_plan(forecast[side].to_numpy(), costs, workers=workers,
                              inventory=0.0, final_inventory=0.0, make_to_order=True)
        out[side] = replay_capacity(plan, forecast["actual"].to_numpy(), costs)
    totals = pd.DataFrame({side: {"cost": r["cost"].sum(),
                                  "late_unit_weeks": r["backlog"].sum(),
                                  "idle_hours": r["idle_hours"].sum()}
                           for side, r in out.items()})
    paired = compare.paired(out["blind"]["cost"].to_numpy(), out["aware"]["cost"].to_numpy(),
                            metric="cost of customised work per week", unit="week",
                            n_boot=n_boot, seed=seed)
    return {"replay": out, "totals": totals, "cost": paired}
