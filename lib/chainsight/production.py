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
    max_workers: float = np.inf  # the largest workforce (the workshop's places)
    max_subcontract: float = np.inf  # units the subcontractor takes a period

    def __post_init__(self):
        bad = [k for k, v in self.__dict__.items()
               if np.isnan(v) or v < 0 or (np.isinf(v) and not k.startswith("max_"))]
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
    _check_capacity(d, c, workers, inventory, final_inventory)

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
    upper[[v("workers", t) for t in range(T)]] = c.max_workers
    upper[[v("subcontracted", t) for t in range(T)]] = c.max_subcontract
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


def _check_capacity(d: np.ndarray, c: PlanCosts, workers: float, inventory: float,
                    final_inventory: float) -> None:
    """Backlog may wait until the last period, so a plan exists exactly when the most
    the periods can make and buy covers the demand and the final stock less the opening
    stock. If not, say so, with the smallest change of each limit that is enough."""
    if workers > c.max_workers:
        raise ValueError(f"no feasible plan: {workers:g} workers at the start exceed "
                         f"max_workers = {c.max_workers:g}")
    T = len(d)
    per_worker = (c.hours_per_worker + c.overtime_per_worker) / c.hours_per_unit
    most = T * (c.max_workers * per_worker + c.max_subcontract)
    need = d.sum() + final_inventory - inventory
    if most < need - 1e-9:
        short = need - most
        raise ValueError(
            f"no feasible plan: over {T} periods at most {most:,.0f} units can be made "
            f"or bought (max_workers = {c.max_workers:g}, max_subcontract = "
            f"{c.max_subcontract:g} a period), but {need:,.0f} are needed (demand + final "
            f"inventory - opening inventory). Raise max_subcontract by "
            f"{short / T:,.1f} units a period, or max_workers by "
            f"{short / (T * per_worker):,.2f}.")


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


def planned_utilisation(plan: Plan, costs: PlanCosts) -> float:
    """The share of the plan's paid hours (regular hours of the workforce and the
    overtime it plans) that its own units use, over all periods."""
    t = plan.table
    hours = (t["workers"] * costs.hours_per_worker + t["overtime_hours"]).sum()
    return float(t["made"].sum() * costs.hours_per_unit / hours) if hours > 0 else 0.0


def segment_lead_times(utilisation: float, service_days: float, service_cv: float,
                       build_days: float, ship_days: pd.Series) -> pd.DataFrame:
    """The lead time each segment can be promised for customised work: the mean wait of
    the workshop as one queue at ``utilisation`` (:func:`queue_wait`, Poisson arrivals,
    jobs that hold the workshop ``service_days`` on average), the ``build_days`` an order
    takes once started, and the segment's ``ship_days`` (index: segment)."""
    wait = float(queue_wait(utilisation, service_days, service_cv))
    ship = pd.Series(ship_days, dtype=float)
    return pd.DataFrame({"segment": ship.index, "wait_days": wait,
                         "build_days": float(build_days), "ship_days": ship.to_numpy(),
                         "lead_time_days": wait + build_days + ship.to_numpy()})


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
    fitted on weekly counts; its interval comes from resampling the weeks, at 95% for all
    the groups tested together (Bonferroni: 1 - 5%/G each, for G groups with a trend),
    so that among many segments one does not rise or fall by chance. Returns
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
    tested = sum(min(g["sum"].sum(), g["size"].sum() - g["sum"].sum()) >= MIN_LINES
                 and len(g) >= 8 for _, g in weekly.groupby("segment"))
    tail = 0.025 / max(tested, 1)  # Bonferroni: 95% for all the groups tested at once
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
                                 [tail, 1 - tail])
            row.update(share_first_week=expit(a + b * t.min()),
                       share_last_week=expit(a + b * t.max()), slope_per_year=b, lo=lo, hi=hi,
                       verdict="rising" if lo > 0 else "falling" if hi < 0
                       else "no measurable trend")
        rows.append(row)
    return pd.DataFrame(rows)


SHARE_WINDOWS = (13, 26, 52)  # weeks of recent share a forecast may average
VALIDATION_WEEKS = 13
WEEK_BLOCK = 4  # weeks resampled together: forecast errors and backlogs run on


LEVELS = ("mean of 13 weeks", "mean of 26 weeks", "trend of 52 weeks")


def _week_of(times: pd.Series, anchor) -> pd.Series:
    """The start of each time's week, weeks counted from ``anchor`` (the holdout's first
    day), so that no week straddles it."""
    anchor = pd.Timestamp(anchor)
    return anchor + ((times - anchor) // pd.Timedelta(weeks=1)) * pd.Timedelta(weeks=1)


def _weekly_counts(lines: pd.DataFrame, key: str, anchor) -> pd.DataFrame:
    """Customisable units and customised units per group and week (weeks from
    ``anchor``, every week present)."""
    from chainsight import schema as S

    week = _week_of(lines[S.TIMESTAMP], anchor)
    q = lines[S.QUANTITY].astype(float)
    frame = pd.DataFrame({key: lines[key].to_numpy(), "week": week.to_numpy(),
                          "units": q.to_numpy(),
                          "custom": (q * lines[S.CUSTOMISED].astype(bool)).to_numpy()})
    out = frame.groupby([key, "week"])[["units", "custom"]].sum()
    weeks = pd.date_range(frame["week"].min(), frame["week"].max(), freq="7D")
    full = pd.MultiIndex.from_product([sorted(frame[key].unique(), key=str), weeks],
                                      names=[key, "week"])
    return out.reindex(full, fill_value=0.0).reset_index()


def _complete_weeks(weeks: pd.DatetimeIndex, orders: pd.DataFrame):
    """The weeks the data covers to their end, and those it does not (a last, partial
    week would read as a collapse of demand)."""
    from chainsight import schema as S

    last_day = orders[S.TIMESTAMP].max().normalize() + pd.Timedelta(days=1)
    full = weeks + pd.Timedelta(weeks=1) <= last_day
    return weeks[full], weeks[~full]


def _level_forecast(units: pd.Series, cut, weeks: pd.DatetimeIndex, method: str) -> np.ndarray:
    """Units per week for ``weeks`` from the weekly ``units`` before ``cut``: the mean of
    the last 13 or 26 weeks, or the straight line through the last 52 (not below 0)."""
    past = units[units.index < cut]
    if method == "trend of 52 weeks" and len(past) >= 8:
        recent = past.tail(52)
        x = (recent.index - recent.index[0]).days / 7
        slope, intercept = np.polyfit(x, recent.to_numpy(float), 1)
        ahead = np.asarray((weeks - recent.index[0]).days, dtype=float) / 7
        return np.maximum(intercept + slope * ahead, 0.0)
    n = 26 if method == "mean of 26 weeks" else 13
    return np.full(len(weeks), float(past.tail(n).mean()) if len(past) else 0.0)


def _tuned_level(units: pd.Series, cut) -> str:
    """The level method of least absolute error on the ``VALIDATION_WEEKS`` weeks before
    ``cut`` (learned before them)."""
    vcut = cut - pd.Timedelta(weeks=VALIDATION_WEEKS)
    check = units[(units.index >= vcut) & (units.index < cut)]
    errors = {m: float(np.abs(_level_forecast(units, vcut, check.index, m)
                              - check.to_numpy()).sum()) for m in LEVELS}
    return min(errors, key=errors.get)


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


def _group_shares(weekly: pd.DataFrame, key: str, cut, weeks, method) -> pd.DataFrame:
    """Each group's share forecast for ``weeks`` (rows: groups, columns: weeks)."""
    return pd.DataFrame({name: _share_forecast(g, cut, weeks, method)
                         for name, g in weekly.groupby(key, sort=True)}, index=weeks).T


def _tuned_share(weekly: pd.DataFrame, key: str, cut):
    """One share method for every group of ``weekly``: the one whose customised units,
    given the units each group actually had, added up over the groups, erred least on
    the ``VALIDATION_WEEKS`` weeks before ``cut`` (learned before them; one method for
    all, so that a thin group cannot pick the method that was luckiest on a few lines).
    The level is judged apart (:func:`_tuned_level`), so this judges the share alone."""
    past = weekly[weekly["week"] < cut]
    vcut = cut - pd.Timedelta(weeks=VALIDATION_WEEKS)
    check = past[past["week"] >= vcut]
    if check.empty or not (past["week"] < vcut).any():
        return "trend"
    weeks = pd.DatetimeIndex(sorted(check["week"].unique()))
    units = check.pivot_table(index=key, columns="week", values="units", aggfunc="sum")
    custom = check.groupby("week")["custom"].sum().reindex(weeks).to_numpy()
    errors = {}
    for m in (*SHARE_WINDOWS, "trend"):
        share = _group_shares(past, key, vcut, weeks, m).reindex(units.index)
        errors[m] = float(np.abs((share.to_numpy() * units.reindex(columns=weeks).to_numpy())
                                 .sum(axis=0) - custom).sum())
    return min(errors, key=errors.get)


def _mix(weekly: pd.DataFrame, key: str, cut, weeks: int) -> pd.Series:
    """Each group's share of the customisable units of the ``weeks`` weeks before ``cut``."""
    recent = weekly[(weekly["week"] < cut) & (weekly["week"] >= cut - pd.Timedelta(weeks=weeks))]
    units = recent.groupby(key)["units"].sum()
    return units / units.sum() if units.sum() > 0 else units


def customised_forecast_comparison(orders: pd.DataFrame, products: pd.DataFrame,
                                   segments: pd.DataFrame, start, level_weeks: int = 13,
                                   n_boot: int = 2000, seed: int = 0) -> dict:
    """Customised units per week after ``start``, forecast profile-blind (one share for
    the whole base) and profile-aware (a share per segment, weighted by the segments'
    mix), judged on the complete weeks after ``start``.

    Both sides forecast the customisable units per week alike: the mean of the last 13
    or 26 weeks or the 52-week straight line, whichever erred least on the 13 weeks
    before ``start`` (learned before them). They differ only in the customised share.
    **Blind**: the whole base's share of the last 13, 26 or 52 weeks or its logistic
    trend (:func:`customisation_trend`). **Aware**: each segment's share by the same
    methods, weighted by each segment's share of the units of the last ``level_weeks``
    weeks. Each side picks its share method by the error of its shares on the 13 weeks
    before ``start`` (:func:`_tuned_share`). Weeks run from ``start``; a last week the
    data does not cover to its end is left out (``partial_week``). Returns the weekly
    table (actual customised units, units, each side's share and forecast), the methods
    chosen, the bias of each side and two paired WAPE differences over the holdout weeks
    (:class:`chainsight.compare.Paired`; weeks resampled in runs of ``WEEK_BLOCK``):
    ``share``, each side's share times the units that came (the profile's part alone),
    and ``wape``, the forecast itself (the level both share included); and ``by_segment``,
    each segment's holdout customised units with each side's WAPE and bias (the blind
    forecast split by the segments' part of the customised units of the last
    ``level_weeks`` weeks)."""
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
    by_seg = _weekly_counts(lines, "segment", start)
    whole = _weekly_counts(lines, "all", start)
    future, partial = _complete_weeks(
        pd.DatetimeIndex(sorted(whole.loc[whole["week"] >= start, "week"].unique())), orders)
    if len(future) < 4 or (whole["week"] < start).sum() < 2 * VALIDATION_WEEKS:
        raise ValueError(f"customised_forecast_comparison: {start.date()} leaves "
                         f"{(whole['week'] < start).sum()} weeks before it (at least "
                         f"{2 * VALIDATION_WEEKS}) and {len(future)} complete weeks after it "
                         "(at least 4)")
    units = whole.set_index("week")["units"]
    level_method = _tuned_level(units, start)
    level = _level_forecast(units, start, future, level_method)
    blind_method = _tuned_share(whole, "all", start)
    aware_method = _tuned_share(by_seg, "segment", start)
    blind_share = _group_shares(whole, "all", start, future, blind_method).loc["all"]
    mix = _mix(by_seg, "segment", start, level_weeks)
    aware_share = _group_shares(by_seg, "segment", start, future, aware_method).reindex(
        mix.index).mul(mix, axis=0).sum()
    came = whole[whole["week"] >= start].set_index("week").reindex(future)
    table = pd.DataFrame({"week": future, "actual": came["custom"].to_numpy(),
                          "units": came["units"].to_numpy(),
                          "blind_share": blind_share.to_numpy(),
                          "aware_share": aware_share.to_numpy(),
                          "blind": level * blind_share.to_numpy(),
                          "aware": level * aware_share.to_numpy()})

    def wape(blind, aware, metric):
        return compare.paired(np.abs(blind - table["actual"]).to_numpy(),
                              np.abs(aware - table["actual"]).to_numpy(),
                              table["actual"].to_numpy(), metric=metric, unit="week",
                              n_boot=n_boot, seed=seed, block=min(WEEK_BLOCK, len(table)))

    share = wape(table["units"] * table["blind_share"], table["units"] * table["aware_share"],
                 "WAPE of the customised share, on the units that came")
    # By segment: the aware forecast is per segment already; the blind one is split by
    # each segment's part of the customised units of the last ``level_weeks`` weeks.
    seg_future = by_seg[by_seg["week"].isin(future)].pivot_table(
        index="segment", columns="week", values="custom", aggfunc="sum").reindex(
        columns=future, fill_value=0.0)
    recent = by_seg[(by_seg["week"] < start)
                    & (by_seg["week"] >= start - pd.Timedelta(weeks=level_weeks))]
    part = recent.groupby("segment")["custom"].sum()
    part = part / part.sum() if part.sum() > 0 else part
    aware_seg = _group_shares(by_seg, "segment", start, future, aware_method).mul(
        mix, axis=0).mul(level, axis=1)
    rows = []
    for g in seg_future.index:
        a = seg_future.loc[g].to_numpy()
        sides = {"blind": part.get(g, 0.0) * table["blind"].to_numpy(),
                 "aware": aware_seg.loc[g].to_numpy() if g in aware_seg.index
                 else np.zeros(len(a))}
        rows.append({"segment": g, "customised_units": a.sum(),
                     **{f"{k}_wape": np.abs(f - a).sum() / a.sum() if a.sum() else np.nan
                        for k, f in sides.items()},
                     **{f"{k}_bias": f.sum() / a.sum() - 1 if a.sum() else np.nan
                        for k, f in sides.items()}})
    by_segment = pd.DataFrame(rows)
    paired = wape(table["blind"], table["aware"], "WAPE of customised units per week")
    return {"weekly": table, "level_method": level_method, "blind_method": blind_method,
            "aware_method": aware_method, "share": share, "wape": paired,
            "by_segment": by_segment,
            "partial_week": [f"{w:%Y-%m-%d}" for w in partial],
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
    backlog at the end, and the cost (wages for the workforce, the plan's hiring and
    layoffs, overtime, material, subcontracting, backlog)."""
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
                + made * c.material + sub * c.subcontract + owed * c.backlog
                + float(t["hired"].iloc[i]) * c.hiring
                + float(t["laid_off"].iloc[i]) * c.layoff)
        if i == len(t) - 1:  # the plan ends with nothing owed: the rest is bought outside
            cost += owed * c.subcontract
            sub, owed = sub + owed, 0.0
        rows.append({"period": i + 1, "demand": d[i], "made": made, "subcontracted": sub,
                     "overtime_hours": ot, "idle_hours": idle, "backlog": owed, "cost": cost})
    return pd.DataFrame(rows)


def _plan_and_replay(forecast, actual, costs: PlanCosts, workers: float,
                     utilisation: float) -> tuple[Plan, pd.DataFrame]:
    """A make-to-order plan for ``forecast`` whose units fill ``utilisation`` of the hours
    it pays, replayed on ``actual`` (:func:`replay_capacity`, at the true hours a unit)."""
    from dataclasses import replace

    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must lie in (0, 1], got {utilisation}")
    planning = replace(costs, hours_per_unit=costs.hours_per_unit / utilisation)
    plan = aggregate_plan(forecast, planning, workers=workers, inventory=0.0,
                          final_inventory=0.0, make_to_order=True)
    return plan, replay_capacity(plan, actual, costs)


def capacity_comparison(forecast: pd.DataFrame, costs: PlanCosts, workers: float,
                        utilisation: float = 1.0, n_boot: int = 2000, seed: int = 0) -> dict:
    """Capacity for customised work planned from each side's forecast and replayed on the
    units that came.

    ``forecast``: per week, ``actual`` and the ``blind`` and ``aware`` forecasts of
    customised units (:func:`customised_forecast_comparison`'s weekly table). Each side
    plans the weeks with :func:`aggregate_plan` against its own forecast, from the same
    ``workers``, made to order (no stock), for its units to fill ``utilisation`` of the
    hours it pays (a queue needs slack: at 100% the wait grows without end); then
    :func:`replay_capacity` runs the plan against the actual units. Returns each side's
    plan and replay, the totals (cost, late unit-weeks, idle hours) and the paired
    difference of the cost per week
    (:class:`chainsight.compare.Paired`; weeks resampled in runs of ``WEEK_BLOCK``, as a
    backlog carries over)."""
    from chainsight import compare

    out, plans = {}, {}
    for side in ("blind", "aware"):
        plans[side], out[side] = _plan_and_replay(forecast[side].to_numpy(),
                                                  forecast["actual"].to_numpy(), costs, workers,
                                                  utilisation)
    totals = pd.DataFrame({side: {"cost": r["cost"].sum(),
                                  "late_unit_weeks": r["backlog"].sum(),
                                  "idle_hours": r["idle_hours"].sum()}
                           for side, r in out.items()})
    paired = compare.paired(out["blind"]["cost"].to_numpy(), out["aware"]["cost"].to_numpy(),
                            metric="cost of customised work per week", unit="week",
                            n_boot=n_boot, seed=seed, block=min(WEEK_BLOCK, len(forecast)))
    return {"plans": plans, "replay": out, "totals": totals, "cost": paired}


# ---------------------------------------------------------------------------
# Make to stock, assemble to order or make to order, product by product
# ---------------------------------------------------------------------------
STRATEGIES = ("MTS", "ATO", "MTO")


@dataclass(frozen=True)
class StrategyCosts:
    """What each way of making a customisable product costs and how long it takes.

    MTS keeps finished stock and cannot customise: a customised request is a lost sale.
    ATO keeps the base in stock (worth ``base_share`` of the finished unit) and finishes
    each order in ``finish_days`` at ``finish_cost`` (share of the unit cost) more. MTO
    keeps nothing and makes each order in ``make_days`` at ``mto_cost`` more. A plain
    line waits for production only as long as its ship mode's buyer accepts
    (``patience_days``); a customised line as long as ``custom_patience_days``. A line
    kept waiting longer costs ``late_cost`` of its margin (the complaint, the
    cancellation). Stock costs ``holding_rate`` + ``obsolescence_rate`` of its value a
    year; it is replenished weekly up to a level covering the supplier's lead time at
    safety factor ``z``."""

    holding_rate: float = 0.25
    obsolescence_rate: float = 0.10
    base_share: float = 0.6
    finish_cost: float = 0.05
    mto_cost: float = 0.10
    finish_days: float = 2.0
    make_days: float = 14.0
    late_cost: float = 0.5
    custom_patience_days: float = 21.0
    z: float = 1.645
    patience_days: tuple = (("express", 1.0), ("standard", 3.0), ("economy", 7.0),
                            ("pickup", 7.0))

    def __post_init__(self):
        values = {k: v for k, v in self.__dict__.items() if k != "patience_days"}
        values.update({f"patience_days[{m}]": d for m, d in self.patience_days})
        bad = [k for k, v in values.items() if not np.isfinite(v) or v < 0]
        if bad:
            raise ValueError(f"strategy costs must be finite and not negative: {bad}")
        if self.late_cost > 1 or self.base_share > 1:
            raise ValueError("late_cost and base_share are shares: at most 1")

    def delay(self, strategy: str) -> float:
        return {"MTS": 0.0, "ATO": self.finish_days, "MTO": self.make_days}[strategy]

    def patience(self, mode) -> np.ndarray:
        table = dict(self.patience_days)
        return pd.Series(np.asarray(mode, dtype=object)).map(table).fillna(
            table.get("standard", 0.0)).to_numpy(float)


def _product_lines(orders: pd.DataFrame, products: pd.DataFrame, anchor) -> pd.DataFrame:
    """Order lines of customisable products with their week (from ``anchor``), units,
    margin and mode."""
    from chainsight import schema as S

    S.require_columns(orders, "orders", [S.CUSTOMER_ID, S.TIMESTAMP, S.PRODUCT_ID,
                                         S.QUANTITY, S.UNIT_PRICE, S.CUSTOMISED])
    S.require_columns(products, "products", [S.PRODUCT_ID, S.CUSTOMISABLE, S.UNIT_COST])
    able = products[products[S.CUSTOMISABLE].astype(bool)]
    lines = orders[orders[S.PRODUCT_ID].isin(able[S.PRODUCT_ID])]
    if lines.empty or not lines[S.CUSTOMISED].astype(bool).any():
        raise ValueError("no customised order lines of customisable products: nothing to "
                         "decide between making to stock and to order")
    cost = lines[S.PRODUCT_ID].map(able.set_index(S.PRODUCT_ID)[S.UNIT_COST]).astype(float)
    q = lines[S.QUANTITY].astype(float)
    mode = lines[S.SHIP_MODE] if S.SHIP_MODE in lines else pd.Series("standard", lines.index)
    return pd.DataFrame({S.CUSTOMER_ID: lines[S.CUSTOMER_ID].to_numpy(),
                         S.PRODUCT_ID: lines[S.PRODUCT_ID].to_numpy(),
                         S.TIMESTAMP: lines[S.TIMESTAMP].to_numpy(),
                         "week": _week_of(lines[S.TIMESTAMP], anchor).to_numpy(),
                         S.QUANTITY: q.to_numpy(), "custom": lines[S.CUSTOMISED].astype(bool)
                         .to_numpy(), "unit_cost": cost.to_numpy(),
                         "margin": ((lines[S.UNIT_PRICE].astype(float) - cost) * q).to_numpy(),
                         "mode": mode.to_numpy()})


def strategy_costs(stats: pd.DataFrame, share: pd.Series, costs: StrategyCosts) -> pd.DataFrame:
    """Expected cost per week of each strategy for each product, and the cheapest.

    ``stats`` per product (index): ``units`` (per week), ``sd_plain`` and ``sd_all`` (of
    weekly units), ``unit_cost``, ``unit_margin``, ``custom_margin`` (the margin of a
    customised unit, its premium included; optional, else ``unit_margin``),
    ``lead_weeks`` (supplier), and
    ``late_ato`` / ``late_mto`` (share of plain units whose buyers would not wait for
    the finishing / making); ``share``: the customised share expected. With
    h = (holding_rate + obsolescence_rate) / 52, c the unit cost, m the unit margin, s
    the share, u the units, q the late shares and stock(u, sd) = u/2 + z sd sqrt(L+1):

    - MTS = h c stock((1-s)u, sd_plain) + s u m_c (m_c: the customised margin)
    - ATO = h base_share c stock(u, sd_all) + finish_cost c u + q_ATO (1-s) u late_cost m
    - MTO = mto_cost c u + q_MTO (1-s) u late_cost m (+ s u late_cost m if the making
      outlasts the customised buyers' patience)"""
    c = costs
    h = (c.holding_rate + c.obsolescence_rate) / 52
    s, u = share.reindex(stats.index).fillna(0.0).clip(0, 1), stats["units"]
    cover = c.z * np.sqrt(stats["lead_weeks"] + 1)
    m, cost = stats["unit_margin"].clip(lower=0), stats["unit_cost"]
    mc = stats.get("custom_margin", stats["unit_margin"]).clip(lower=0)
    custom_late = float(c.make_days > c.custom_patience_days)
    out = pd.DataFrame({
        "MTS": h * cost * ((1 - s) * u / 2 + cover * stats["sd_plain"]) + s * u * mc,
        "ATO": h * c.base_share * cost * (u / 2 + cover * stats["sd_all"])
        + c.finish_cost * cost * u + stats["late_ato"] * (1 - s) * u * c.late_cost * m
        + float(c.finish_days > c.custom_patience_days) * s * u * c.late_cost * m,
        "MTO": c.mto_cost * cost * u + stats["late_mto"] * (1 - s) * u * c.late_cost * m
        + custom_late * s * u * c.late_cost * m})
    out["choice"] = out[list(STRATEGIES)].idxmin(axis=1)
    out["share"] = s
    return out


def replay_strategy(lines: pd.DataFrame, strategy: str, stats: pd.Series,
                    costs: StrategyCosts, weeks) -> dict:
    """One product's holdout order lines served by ``strategy``, week by week.

    MTS and ATO keep stock (finished plain units; bases for every unit), reviewed weekly
    up to u (L+1) + z sd sqrt(L+1) with the supplier's lead time L in weeks, starting in
    the steady state; units a week's stock cannot serve are lost sales (their margin).
    Customised lines are lost under MTS. A served line waits for production as the
    strategy says and costs ``late_cost`` of its margin when its buyer would not wait
    that long. Returns the totals: lines, lines on time, margin earned, holding, extra
    production cost, lost margin, late cost, total cost and the units in stock at the
    end."""
    from chainsight import schema as S

    c = costs
    weeks = pd.DatetimeIndex(weeks)
    delay = c.delay(strategy)
    can = ~lines["custom"].to_numpy() if strategy == "MTS" else np.ones(len(lines), bool)
    served = np.ones(len(lines))  # share of each line's units served
    holding, stock_left = 0.0, 0.0
    if strategy != "MTO":
        stocked = lines[can]
        demand = stocked.groupby("week")[S.QUANTITY].sum().reindex(weeks, fill_value=0.0)
        mean = stats["units"] * (1 - stats["share"]) if strategy == "MTS" else stats["units"]
        sd = stats["sd_plain"] if strategy == "MTS" else stats["sd_all"]
        L = int(stats["lead_weeks"])
        level = mean * (L + 1) + c.z * sd * np.sqrt(L + 1)
        on_hand, pipeline = max(level - mean * L, 0.0), [mean] * L
        value = stats["unit_cost"] * (1.0 if strategy == "MTS" else c.base_share)
        fill = {}
        for w, d in demand.items():
            if pipeline:
                on_hand += pipeline.pop(0)
            fill[w] = min(on_hand, d) / d if d > 0 else 1.0
            on_hand -= min(on_hand, d)
            holding += on_hand * value * (c.holding_rate + c.obsolescence_rate) / 52
            pipeline.append(max(level - on_hand - sum(pipeline), 0.0))
        stock_left = on_hand
        served[can] = stocked["week"].map(fill).to_numpy()
    served[~can] = 0.0
    margin = lines["margin"].to_numpy()
    patience = np.where(lines["custom"], c.custom_patience_days, c.patience(lines["mode"]))
    late = (delay > patience) & (served > 0)
    extra = {"MTS": 0.0, "ATO": c.finish_cost, "MTO": c.mto_cost}[strategy]
    produced = (served * lines[S.QUANTITY] * lines["unit_cost"]).sum() * extra
    lost = ((1 - served) * margin).sum()
    late_cost = (served * late * margin).sum() * c.late_cost
    return {"lines": len(lines), "on_time": float((served * ~late).sum()),
            "margin": float((served * margin).sum() - produced - late_cost),
            "holding": float(holding), "production": float(produced),
            "lost_margin": float(lost), "late_cost": float(late_cost),
            "total_cost": float(holding + produced + lost + late_cost),
            "stock_left": float(stock_left)}


SHRINK = (0.0, 2.0, 5.0, 10.0, 20.0, 50.0, 200.0, np.inf)  # prior strengths, in units


def _share_parts(lines: pd.DataFrame, key: str, cut, future
                 ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """For each product, learned before ``cut``: a prior share for the weeks ``future``
    (the share each group of ``key`` is expected to have, :func:`_tuned_share`, weighted
    by the group mix that bought the product in the year before ``cut``), and the
    product's own customised and total units of that year."""
    from chainsight import schema as S

    past = lines[lines["week"] < cut]
    groups = _weekly_counts(past.rename(columns={"custom": S.CUSTOMISED}), key, cut)
    share = _group_shares(groups, key, cut, future, _tuned_share(groups, key, cut)).mean(
        axis=1)
    year = past[past["week"] >= cut - pd.Timedelta(weeks=52)]
    if year.empty:
        year = past
    mix = pd.crosstab(year[S.PRODUCT_ID], year[key], values=year[S.QUANTITY],
                      aggfunc="sum", normalize="index").fillna(0.0)
    prior = (mix * share.reindex(mix.columns).fillna(0.0)).sum(axis=1)
    u = year.groupby(S.PRODUCT_ID)[S.QUANTITY].sum().reindex(prior.index, fill_value=0.0)
    c = (year[S.QUANTITY] * year["custom"]).groupby(year[S.PRODUCT_ID]).sum().reindex(
        prior.index, fill_value=0.0)
    return prior, c, u


def _shrunk(prior: pd.Series, c: pd.Series, u: pd.Series, strength: float) -> pd.Series:
    """The product's own share c / u pulled towards ``prior`` by ``strength`` units:
    (c + k prior) / (u + k); infinite strength gives the prior."""
    if np.isinf(strength):
        return prior
    return ((c + strength * prior) / (u + strength)).where(u + strength > 0, prior)


def _product_shares(lines: pd.DataFrame, key: str, start, future) -> tuple[pd.Series, float]:
    """Each product's customised share expected after ``start`` (:func:`_share_parts`,
    :func:`_shrunk`), with the prior strength of least absolute error on the
    ``VALIDATION_WEEKS`` weeks before ``start`` (learned before them)."""
    from chainsight import schema as S

    vcut = start - pd.Timedelta(weeks=VALIDATION_WEEKS)
    check = lines[(lines["week"] >= vcut) & (lines["week"] < start)]
    weeks = pd.DatetimeIndex(sorted(check["week"].unique()))
    units = check.groupby(S.PRODUCT_ID)[S.QUANTITY].sum()
    custom = (check[S.QUANTITY] * check["custom"]).groupby(check[S.PRODUCT_ID]).sum()
    parts = _share_parts(lines, key, vcut, weeks)
    errors = {k: float(np.abs(_shrunk(*parts, k).reindex(units.index).fillna(0.0) * units
                              - custom).sum()) for k in SHRINK}
    best = min(errors, key=errors.get)
    return _shrunk(*_share_parts(lines, key, start, future), best), best


def strategy_comparison(orders: pd.DataFrame, products: pd.DataFrame, segments: pd.DataFrame,
                        start, costs: StrategyCosts = StrategyCosts(), level_weeks: int = 13,
                        n_boot: int = 2000, seed: int = 0, tune: bool = True) -> dict:
    """MTS, ATO or MTO for each customisable product, chosen before ``start`` and judged
    on the order lines after it.

    Both sides cost the three strategies with :func:`strategy_costs` from the same
    figures of the year before ``start`` (units per week of the last ``level_weeks``
    weeks, weekly spread, unit cost and margin, supplier lead time, how long the buyers
    of plain lines wait, by ship mode); they differ only in the customised share they
    expect (:func:`_product_shares`): the product's own share of the past year pulled
    towards a prior, as strongly as forecast best on the 13 weeks before ``start``.
    **Blind**: the prior is the whole base's share, by the method (recent 13, 26 or 52
    weeks or the logistic trend) that forecast it best. **Aware**: the share each
    segment is expected to have (tuned the same way), weighted by the segment mix that
    bought the product. Both pool the thin products alike; only the prior differs.
    The **category rule** gives every product the one strategy the category's averages
    and the whole base's share choose. With ``tune``, each side replays its own rule and
    the category rule on the 13 weeks before ``start`` (decided before them) and keeps
    the cheaper (``rules``): the category rule is the blind side's when it is the
    stronger. **Hindsight** is the choice made with the holdout's own share (a perfect
    share forecast; the cost model still decides). Each choice is replayed on the
    holdout lines (:func:`replay_strategy`); the differences are paired over products.
    A customisable product with no line in the year before ``start`` gets no decision
    (``left_out`` counts them and their holdout lines). Returns the product table, the
    policies' totals, the paired comparisons (total cost, lines on time), the
    category's share, the prior strengths, the rules chosen and the customisation
    premium (what a customised unit paid over a plain unit of the same product, weighted
    by customised units, in the year before ``start``)."""
    from chainsight import compare
    from chainsight import schema as S

    start = pd.Timestamp(start)
    lines = _product_lines(orders, products, start)
    lines = lines.merge(segments[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID, how="left")
    lines["segment"] = lines["segment"].astype(object).where(lines["segment"].notna(), "new")
    train, hold = lines[lines["week"] < start], lines[lines["week"] >= start]
    if hold.empty or train["week"].nunique() < 2 * VALIDATION_WEEKS:
        raise ValueError(f"strategy_comparison: {start.date()} leaves {train['week'].nunique()} "
                         f"weeks of customisable lines before it (at least "
                         f"{2 * VALIDATION_WEEKS}) and {hold['week'].nunique()} after it")
    future = pd.DatetimeIndex(sorted(hold["week"].unique()))
    year = train[train["week"] >= start - pd.Timedelta(weeks=52)]
    weekly = _weekly_counts(train.rename(columns={"custom": S.CUSTOMISED}), S.PRODUCT_ID,
                            start)
    recent = weekly[weekly["week"] >= start - pd.Timedelta(weeks=52)]
    plain = recent["units"] - recent["custom"]
    lead = (products.set_index(S.PRODUCT_ID)[S.LEAD_TIME_DAYS] if S.LEAD_TIME_DAYS in products
            else pd.Series(7.0, products[S.PRODUCT_ID]))
    plain_year, custom_year = year[~year["custom"]], year[year["custom"]]
    wait = plain_year.assign(p=costs.patience(plain_year["mode"]))

    def late_share(delay):
        q = wait[S.QUANTITY] * (wait["p"] < delay)
        return q.groupby(wait[S.PRODUCT_ID]).sum() / wait.groupby(S.PRODUCT_ID)[S.QUANTITY].sum()

    by = weekly.groupby(S.PRODUCT_ID)
    stats = pd.DataFrame({
        "units": by.apply(lambda g: g["units"].tail(level_weeks).mean(), include_groups=False),
        "sd_all": recent.groupby(S.PRODUCT_ID)["units"].std(ddof=1),
        "sd_plain": plain.groupby(recent[S.PRODUCT_ID]).std(ddof=1),
        "unit_cost": year.groupby(S.PRODUCT_ID)["unit_cost"].mean(),
        "unit_margin": year.groupby(S.PRODUCT_ID)["margin"].sum()
        / year.groupby(S.PRODUCT_ID)[S.QUANTITY].sum(),
        "custom_margin": custom_year.groupby(S.PRODUCT_ID)["margin"].sum()
        / custom_year.groupby(S.PRODUCT_ID)[S.QUANTITY].sum(),
        "late_ato": late_share(costs.finish_days), "late_mto": late_share(costs.make_days)})
    stats["custom_margin"] = stats["custom_margin"].fillna(stats["unit_margin"])
    stats["lead_weeks"] = np.maximum(np.ceil(lead.reindex(stats.index).fillna(7.0) / 7), 1)
    stats = stats.dropna(subset=["unit_cost"]).fillna(0.0)
    blind, blind_k = _product_shares(lines.assign(all="all"), "all", start, future)
    aware, aware_k = _product_shares(lines, "segment", start, future)
    blind, aware = blind.reindex(stats.index).fillna(0.0), aware.reindex(stats.index).fillna(0.0)
    whole = _weekly_counts(train.assign(all="all").rename(columns={"custom": S.CUSTOMISED}),
                           "all", start)
    base_share = float(_group_shares(whole, "all", start, future,
                                     _tuned_share(whole, "all", start)).mean(axis=1).iloc[0])
    avg = stats.mean().to_frame("category").T
    category = strategy_costs(avg, pd.Series({"category": base_share}), costs)["choice"].iloc[0]
    choices = pd.DataFrame({"category rule": category,
                            "blind": strategy_costs(stats, blind, costs)["choice"],
                            "aware": strategy_costs(stats, aware, costs)["choice"]})
    shares = {"category rule": pd.Series(base_share, stats.index), "blind": blind,
              "aware": aware}
    rules = {"blind": "per product", "aware": "per product"}
    if tune:
        vcut = start - pd.Timedelta(weeks=VALIDATION_WEEKS)
        try:
            check = strategy_comparison(orders[orders[S.TIMESTAMP] < start], products,
                                        segments, vcut, costs, level_weeks, n_boot=2,
                                        seed=seed, tune=False)["totals"]["total_cost"]
        except ValueError:  # too little history to check on: each keeps its own rule
            check = None
        for side in rules:
            if check is not None and check["category rule"] < check[side]:
                rules[side] = "category rule"
                choices[side], shares[side] = choices["category rule"], shares["category rule"]
    actual = hold.groupby(S.PRODUCT_ID).apply(
        lambda g: (g[S.QUANTITY] * g["custom"]).sum() / g[S.QUANTITY].sum(),
        include_groups=False).reindex(stats.index).fillna(0.0)
    choices["hindsight"] = strategy_costs(stats, actual, costs)["choice"]
    shares["hindsight"] = actual
    policies = {}
    for side in choices:  # each side replays its choice with the share it expected
        policies[side] = pd.DataFrame({
            product: replay_strategy(hold[hold[S.PRODUCT_ID] == product],
                                     choices.loc[product, side],
                                     pd.concat([stats.loc[product], pd.Series(
                                         {"share": shares[side][product]})]),
                                     costs, future)
            for product in stats.index}).T
    table = stats[["units", "unit_cost", "unit_margin"]].assign(
        blind_share=shares["blind"], aware_share=shares["aware"], holdout_share=actual,
        blind_choice=choices["blind"], aware_choice=choices["aware"],
        blind_cost=policies["blind"]["total_cost"], aware_cost=policies["aware"]["total_cost"])
    totals = pd.DataFrame({side: per.sum() for side, per in policies.items()}).T
    totals["on_time_share"] = totals["on_time"] / totals["lines"]
    b, a = policies["blind"], policies["aware"]
    comparisons = {
        "total cost": compare.paired(b["total_cost"].astype(float), a["total_cost"].astype(float),
                                     metric="total cost per product over the holdout",
                                     unit="product", n_boot=n_boot, seed=seed),
        "lines on time": compare.paired(b["on_time"].astype(float), a["on_time"].astype(float),
                                        b["lines"].astype(float),
                                        metric="share of lines on time", unit="product",
                                        lower_is_better=False, n_boot=n_boot, seed=seed)}
    able = products.loc[products[S.CUSTOMISABLE].astype(bool), S.PRODUCT_ID]
    left = sorted(set(able) - set(stats.index))
    # The premium: what a customised unit paid over a plain unit of the same product,
    # over the products sold both ways in the year before the holdout.
    price = year.assign(price=year["margin"] / year[S.QUANTITY] + year["unit_cost"])
    both = price.pivot_table(index=S.PRODUCT_ID, columns="custom", values="price",
                             aggfunc="mean").dropna()
    weight = custom_year.groupby(S.PRODUCT_ID)[S.QUANTITY].sum().reindex(both.index)
    premium = float(np.average(both[True] / both[False] - 1, weights=weight)) \
        if len(both) and weight.sum() > 0 else float("nan")
    return {"products": table.reset_index(names=S.PRODUCT_ID), "totals": totals,
            "left_out": {"products": len(left),
                         "holdout_lines": int(hold[S.PRODUCT_ID].isin(left).sum())},
            "comparisons": comparisons, "category_share": base_share, "premium": premium,
            "strength": {"blind": blind_k, "aware": aware_k}, "rules": rules}


# ---------------------------------------------------------------------------
# The negative control and the charts of notebook 05
# ---------------------------------------------------------------------------
def production_control(effects: dict, *, size: str | int = "small", seed: int = 42,
                       holdout_start="2025-01-01", profile_settings: dict | None = None,
                       plan_costs: PlanCosts = PlanCosts(),
                       strategy: StrategyCosts = StrategyCosts(), level_weeks: int = 13,
                       utilisation: float = 1.0) -> dict:
    """Notebook 05's comparisons again on the synthetic retailer with the given effect
    strengths (the negative control: every effect at 0), with the profile taken as the
    notebook takes it (:func:`chainsight.profiling.decision_profile`, with the run's
    ``profile_settings``). Returns the paired comparisons by name."""
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size=size, seed=seed, effects=effects)
    start = pd.Timestamp(holdout_start)
    prof, _ = profiling.decision_profile(ds, start - pd.Timedelta(seconds=1),
                                         **(profile_settings or {"seed": seed}))
    segments = prof.segments_for(ds.tables["customers"])
    products = ds.tables["products"]
    fc = customised_forecast_comparison(ds.orders, products, segments, start, level_weeks,
                                        seed=seed)
    cap = capacity_comparison(fc["weekly"], plan_costs,
                              starting_workers(ds.orders, products, start, plan_costs),
                              utilisation, seed=seed)
    st = strategy_comparison(ds.orders, products, segments, start, strategy, level_weeks,
                             seed=seed)
    return {"customised share": fc["share"], "customised units forecast": fc["wape"],
            "capacity cost": cap["cost"],
            **{f"strategy, {k}": v for k, v in st["comparisons"].items()}}


def total_capacity_plan(orders: pd.DataFrame, start, costs: PlanCosts,
                        utilisation: float = 1.0) -> dict:
    """Capacity for all units (data without customisation): the units of each complete
    week after ``start`` forecast by the level method that erred least on the 13 weeks
    before it (:func:`_tuned_level`), planned made to order from the workforce the 13
    weeks before ``start`` needed, and replayed on the units that came."""
    from chainsight import schema as S

    start = pd.Timestamp(start)
    units = orders[S.QUANTITY].astype(float).groupby(_week_of(orders[S.TIMESTAMP], start)).sum()
    units = units.reindex(pd.date_range(units.index.min(), units.index.max(), freq="7D"),
                          fill_value=0.0)
    past = units[units.index < start]
    future = units[_complete_weeks(units.index[units.index >= start], orders)[0]]
    if len(past) < 2 * VALIDATION_WEEKS or len(future) < 4:
        raise ValueError(f"total_capacity_plan: {start.date()} leaves {len(past)} weeks "
                         f"before it (at least {2 * VALIDATION_WEEKS}) and {len(future)} "
                         "complete weeks after it (at least 4)")
    method = _tuned_level(units, start)
    forecast = _level_forecast(units, start, future.index, method)
    workers = float(past.tail(VALIDATION_WEEKS).mean()) * costs.hours_per_unit \
        / costs.hours_per_worker
    plan, replay = _plan_and_replay(forecast, future.to_numpy(), costs, workers, utilisation)
    return {"weekly": pd.DataFrame({"week": future.index, "actual": future.to_numpy(),
                                    "forecast": forecast}),
            "level_method": method, "workers": workers, "plan": plan, "replay": replay}


def starting_workers(orders: pd.DataFrame, products: pd.DataFrame, start,
                     costs: PlanCosts, weeks: int = 13) -> float:
    """The workforce the customised work of the ``weeks`` weeks before ``start`` needed
    in regular time (both plans start from it)."""
    from chainsight import schema as S

    able = products.loc[products[S.CUSTOMISABLE].astype(bool), S.PRODUCT_ID]
    start = pd.Timestamp(start)
    o = orders[orders[S.PRODUCT_ID].isin(able) & orders[S.CUSTOMISED].astype(bool)
               & (orders[S.TIMESTAMP] < start)
               & (orders[S.TIMESTAMP] >= start - pd.Timedelta(weeks=weeks))]
    return float(o[S.QUANTITY].sum() / weeks * costs.hours_per_unit / costs.hours_per_worker)


def share_chart(orders: pd.DataFrame, products: pd.DataFrame, segments: pd.DataFrame,
                names: dict | None = None, until=None, ax=None):
    """The customised share of customisable units per quarter, for each segment with
    enough customised lines for a trend (:data:`MIN_LINES`) and for the whole base,
    with a 95% band (Wilson, on lines)."""
    import matplotlib.pyplot as plt

    from chainsight import schema as S

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    able = products.loc[products[S.CUSTOMISABLE].astype(bool), S.PRODUCT_ID]
    o = orders[orders[S.PRODUCT_ID].isin(able)]
    if until is not None:
        o = o[o[S.TIMESTAMP] < pd.Timestamp(until)]
    o = o.merge(segments[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID, how="left")
    o = o.assign(quarter=o[S.TIMESTAMP].dt.to_period("Q").dt.start_time,
                 custom=o[S.CUSTOMISED].astype(bool))
    groups = [("whole base", o)] + [
        (f"segment {s}" + (f": {names[s]}" if names and s in names else ""), g)
        for s, g in o.dropna(subset=["segment"]).groupby("segment")
        if min(g["custom"].sum(), (~g["custom"]).sum()) >= MIN_LINES]
    z = 1.96
    for label, g in groups:
        q = g.groupby("quarter")["custom"].agg(["size", "sum"])
        n, p = q["size"], q["sum"] / q["size"]
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        line, = ax.plot(q.index, p, marker="o", label=label,
                        lw=2.5 if label == "whole base" else 1.2,
                        color="black" if label == "whole base" else None)
        ax.fill_between(q.index, centre - half, centre + half, alpha=0.12,
                        color=line.get_color())
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set(xlabel="quarter", ylabel="customised share of customisable units",
           title="Who asks for customisation, quarter by quarter (95% band)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def forecast_chart(weekly: pd.DataFrame, ax=None):
    """Customised units per holdout week: what came against each side's forecast."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    ax.plot(weekly["week"], weekly["actual"], color="black", lw=1.5, label="actual")
    ax.plot(weekly["week"], weekly["blind"], "--", label="profile-blind forecast")
    ax.plot(weekly["week"], weekly["aware"], ":", lw=2, label="profile-aware forecast")
    ax.set(xlabel="holdout week", ylabel="customised units per week",
           title="Customised units per week: forecasts against what came")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def lead_time_chart(service_days: float, service_cv: float, planned: float,
                    simulated: pd.DataFrame, ax=None):
    """Mean wait in the customisation queue against utilisation (the formula), the
    simulated queue at a few utilisations, and the plan's utilisation marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    rho = np.linspace(0.05, 0.97, 200)
    ax.plot(rho, queue_wait(rho, service_days, service_cv), label="formula (Pollaczek-Khinchine)")
    ax.scatter(simulated["utilisation"], simulated["simulated_days"], color="black", zorder=5,
               label="simulated queue")
    if 0 < planned < 1:
        ax.axvline(planned, color="grey", ls="--")
        ax.annotate(f"plan: {planned:.0%}", (planned, float(queue_wait(planned, service_days,
                                                                       service_cv))),
                    textcoords="offset points", xytext=(-70, 20), fontsize=9,
                    arrowprops={"arrowstyle": "->"})
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set(xlabel="utilisation of the customisation workshop", ylabel="mean wait (days)",
           title="Wait before the work starts, by utilisation", ylim=(0, None))
    ax.legend(fontsize=8, loc="upper left")
    return ax
