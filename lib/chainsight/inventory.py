"""Inventory (库存管理): textbook policies and a vectorised stock simulation.

The formulas follow Snyder & Shen, *Fundamentals of Supply Chain Theory*:
economic order quantity, the newsvendor (normal or from samples, such as a
forecast's backtest errors), and the optimal periodic-review (s, S) policy for
discrete demand. :func:`simulate` replays daily demand against a reorder policy
for many SKUs at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


# ---------------------------------------------------------------------------
# Textbook policies
# ---------------------------------------------------------------------------
def eoq(fixed_cost: float, holding_cost: float, demand_rate: float) -> tuple[float, float]:
    """Economic order quantity and its cost per unit time: Q* = sqrt(2 K λ / h),
    g(Q*) = sqrt(2 K λ h)."""
    if min(fixed_cost, holding_cost, demand_rate) <= 0:
        raise ValueError("EOQ needs a positive fixed cost, holding cost and demand rate")
    q = np.sqrt(2 * fixed_cost * demand_rate / holding_cost)
    return float(q), float(np.sqrt(2 * fixed_cost * demand_rate * holding_cost))


def newsvendor_normal(mean: float, sd: float, overage: float, underage: float
                      ) -> tuple[float, float]:
    """Order-up-to level and expected cost for normal demand:
    S* = μ + σ z, z = Φ⁻¹(p / (p + h)); g(S*) = (h + p) σ φ(z)."""
    ratio = underage / (overage + underage)
    z = stats.norm.ppf(ratio)
    return float(mean + sd * z), float((overage + underage) * sd * stats.norm.pdf(z))


def newsvendor_quantity(samples, overage: float, underage: float) -> float:
    """Newsvendor quantity from demand samples (for example forecast + backtest
    errors): the p / (p + h) quantile of the samples."""
    samples = np.asarray(samples, dtype=float)
    if samples.size == 0:
        raise ValueError("newsvendor_quantity needs at least one demand sample")
    return float(np.quantile(samples, underage / (overage + underage)))


def ss_cost(s: int, S: int, pmf: np.ndarray, holding: float, penalty: float,
            fixed: float) -> float:
    """Long-run cost per period of a periodic-review (s, S) policy with backorders,
    zero lead time and i.i.d. discrete demand with probabilities ``pmf[0..]``:
    (K + Σ_j m(j) G(S - j)) / Σ_j m(j), j < S - s, where m is the renewal mass of
    the demand and G(y) the expected holding and backorder cost from level y."""
    pmf = np.asarray(pmf, dtype=float)
    n = S - s
    if n < 1:
        raise ValueError("need s < S")
    m = np.zeros(n)
    m[0] = 1 / (1 - pmf[0])
    for j in range(1, n):
        k = min(j, len(pmf) - 1)  # m(j) = Σ_{l=1..j} f(l) m(j - l) / (1 - f(0))
        m[j] = np.dot(pmf[1:k + 1], m[j - 1::-1][:k]) / (1 - pmf[0])
    d = np.arange(len(pmf))
    levels = S - np.arange(n)
    G = (holding * (pmf * np.maximum(levels[:, None] - d, 0)).sum(axis=1)
         + penalty * (pmf * np.maximum(d - levels[:, None], 0)).sum(axis=1))
    return float((fixed + np.dot(m, G)) / m.sum())


def optimal_ss(pmf, holding: float, penalty: float, fixed: float,
               s_range: range | None = None, S_max: int | None = None) -> tuple[int, int, float]:
    """The (s, S) pair of least long-run cost, by search over ``s_range`` and
    s < S <= ``S_max`` (defaults cover the demand's range)."""
    pmf = np.asarray(pmf, dtype=float)
    top = int(np.searchsorted(np.cumsum(pmf), 0.9999)) + 1
    s_range = s_range or range(-top, 2 * top)
    S_max = S_max or 4 * top
    best = (np.inf, 0, 0)
    for s in s_range:
        for S in range(s + 1, S_max + 1):
            c = ss_cost(s, S, pmf, holding, penalty, fixed)
            if c < best[0]:
                best = (c, s, S)
    return best[1], best[2], best[0]


# ---------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulationResult:
    """Per-SKU outcomes of a simulation (arrays of length n_sku) and the daily
    on-hand stock (n_sku x days)."""

    demand: np.ndarray
    served: np.ndarray
    lost: np.ndarray
    stockout_days: np.ndarray
    orders: np.ndarray
    average_on_hand: np.ndarray
    on_hand: np.ndarray

    @property
    def fill_rate(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.demand > 0, self.served / self.demand, 1.0)

    def summary(self, unit_holding_cost_per_day=0.0) -> pd.DataFrame:
        return pd.DataFrame({
            "demand": self.demand, "served": self.served, "lost_sales": self.lost,
            "fill_rate": self.fill_rate, "stockout_days": self.stockout_days,
            "orders": self.orders, "average_on_hand": self.average_on_hand,
            "holding_cost": self.average_on_hand * self.on_hand.shape[1]
            * np.asarray(unit_holding_cost_per_day, dtype=float)})


def simulate(demand, lead_time, reorder_point, order_up_to, initial=None,
             review_period: int = 1) -> SimulationResult:
    """Replay daily demand against an (s, S) policy for many SKUs at once, with lost
    sales.

    Each day: what arrives today is added to stock; demand is served from stock
    (what cannot be served is lost); then, on review days (every ``review_period``
    days, 1 = continuous review), a SKU whose inventory position (stock + on order)
    is at or below its reorder point s orders up to S. An order placed at the end
    of day t arrives at the end of day t + L, so the reorder point must cover L
    days of demand.

    Parameters
    ----------
    demand : (n_sku, days) units per day.
    lead_time : days, per SKU (or one number).
    reorder_point, order_up_to : s and S per SKU (or one number each).
    initial : starting stock per SKU (default S).
    """
    D = np.atleast_2d(np.asarray(demand, dtype=float))
    n, T = D.shape
    L = np.broadcast_to(np.asarray(lead_time, dtype=int), (n,)).copy()
    s = np.broadcast_to(np.asarray(reorder_point, dtype=float), (n,))
    S = np.broadcast_to(np.asarray(order_up_to, dtype=float), (n,))
    if (L < 0).any():
        raise ValueError("lead times must be >= 0 days")
    if (S < s).any():
        raise ValueError("order-up-to levels must be >= reorder points")
    stock = (S if initial is None else np.broadcast_to(np.asarray(initial, float), (n,))).copy()
    horizon = int(L.max()) + 2
    pipeline = np.zeros((n, T + horizon))  # arrivals by day
    on_order = np.zeros(n)
    served = np.zeros(n)
    lost = np.zeros(n)
    stockout_days = np.zeros(n, dtype=int)
    orders = np.zeros(n, dtype=int)
    on_hand = np.empty((n, T))
    rows = np.arange(n)
    for t in range(T):
        arriving = pipeline[:, t]
        stock += arriving
        on_order -= arriving
        sale = np.minimum(stock, D[:, t])
        served += sale
        short = D[:, t] - sale
        lost += short
        stockout_days += short > 0
        stock -= sale
        if t % review_period == 0:
            position = stock + on_order
            need = position <= s
            qty = np.where(need, S - position, 0.0)
            if need.any():
                pipeline[rows[need], t + L[need] + 1] += qty[need]  # usable from t + L + 1
                on_order += qty
                orders += need
        on_hand[:, t] = stock
    return SimulationResult(D.sum(axis=1), served, lost, stockout_days, orders,
                            on_hand.mean(axis=1), on_hand)


# ---------------------------------------------------------------------------
# Classification and targets
# ---------------------------------------------------------------------------
def abc_xyz(panel: pd.DataFrame, revenue: pd.Series, a_share: float = 0.8,
            b_share: float = 0.95, x_cv: float = 0.5, y_cv: float = 1.0) -> pd.DataFrame:
    """ABC by value and XYZ by variability, per SKU.

    ``panel``: weekly units per SKU (``unique_id, ds, y``); ``revenue``: revenue per
    SKU (indexed like ``unique_id``). A: the SKUs making the first ``a_share`` of
    revenue, B: up to ``b_share``, C: the rest. X: coefficient of variation of weekly
    units below ``x_cv``, Y: below ``y_cv``, Z: above.
    """
    weekly = panel.groupby("unique_id")["y"].agg(["mean", "std"])
    cv = (weekly["std"] / weekly["mean"].where(weekly["mean"] > 0)).fillna(np.inf)
    rev = revenue.reindex(weekly.index).fillna(0).sort_values(ascending=False)
    # A SKU's class is set by the share of revenue of the SKUs ranked before it.
    before = (rev.cumsum() - rev) / rev.sum() if rev.sum() > 0 else rev * 0
    abc = np.select([before < a_share - 1e-12, before < b_share - 1e-12], ["A", "B"], "C")
    out = pd.DataFrame({"revenue": rev, "abc": abc}).join(
        pd.DataFrame({"mean_weekly_units": weekly["mean"], "cv": cv}))
    out["xyz"] = np.select([out["cv"] < x_cv, out["cv"] < y_cv], ["X", "Y"], "Z")
    out["class"] = out["abc"] + out["xyz"]
    out.index.name = "unique_id"
    return out.reset_index()


def lead_time_demand_samples(weekly_forecast: np.ndarray, errors: np.ndarray,
                             lead_time_days: float, n_samples: int = 2000,
                             seed: int = 0) -> np.ndarray:
    """Samples of demand over a lead time from a weekly forecast and that model's
    backtest errors (actual - forecast, per week) for the series: each sample adds,
    for every week of the lead time, the forecast and an error drawn from the
    observed ones (part weeks pro rata). No normal distribution is assumed."""
    errors = np.asarray(errors, dtype=float)
    errors = errors[np.isfinite(errors)]
    if errors.size == 0:
        raise ValueError("lead_time_demand_samples needs backtest errors for the series")
    weeks = lead_time_days / 7
    full = int(np.floor(weeks))
    part = weeks - full
    fc = np.resize(np.asarray(weekly_forecast, dtype=float), full + 1)
    rng = np.random.default_rng(seed)
    draws = rng.choice(errors, size=(n_samples, full + 1))
    weights = np.append(np.ones(full), part)
    return np.clip(((fc + draws) * weights).sum(axis=1), 0, None)


def service_targets(sku_segment_share: pd.DataFrame, segment_target: dict,
                    default: float = 0.90) -> pd.Series:
    """Cycle-service target per SKU from the segments that buy it.

    ``sku_segment_share``: rows SKUs, columns segments, values the share of the SKU's
    units each segment buys. ``segment_target``: the target the user sets per segment
    (for example 0.98 for the high-value, express-preferring segments). A SKU gets
    the demand-weighted average of its buyers' targets; segments not in the mapping
    count at ``default``.
    """
    shares = sku_segment_share.fillna(0)
    targets = np.array([segment_target.get(c, segment_target.get(str(c), default))
                        for c in shares.columns], dtype=float)
    total = shares.sum(axis=1).replace(0, np.nan)
    return (shares.to_numpy() @ targets / total).fillna(default).rename("service_target")


# ---------------------------------------------------------------------------
# Festival pre-build and inventory health
# ---------------------------------------------------------------------------
def prebuild_quantity(event_demand_samples, unit_cost: float, price: float,
                      holding_cost: float = 0.0, salvage_value: float = 0.0,
                      markdown: float = 0.0, shelf_life_days: float | None = None,
                      sell_through_days: float = 0.0) -> dict:
    """Units to build before a festival, by the newsvendor rule.

    Overage (a unit left over): unit cost - what it fetches afterwards (salvage
    value, or the price after a ``markdown`` share, whichever is higher) + the cost
    of holding it. A unit whose shelf life runs out before it can be sold after the
    festival (``shelf_life_days`` < ``sell_through_days``) fetches nothing.
    Underage (a sale lost): the margin, price - unit cost.
    """
    recovery = max(salvage_value, price * (1 - markdown) if markdown else 0.0)
    if shelf_life_days is not None and shelf_life_days < sell_through_days:
        recovery = 0.0
    overage = max(unit_cost - recovery, 0.0) + holding_cost
    underage = max(price - unit_cost, 0.0)
    if overage + underage == 0:
        raise ValueError("prebuild_quantity: overage and underage costs are both zero")
    return {"quantity": newsvendor_quantity(event_demand_samples, overage, underage),
            "critical_ratio": underage / (overage + underage), "overage": overage,
            "underage": underage}


def inventory_health(on_hand: np.ndarray, demand: np.ndarray, unit_cost,
                     excess_days: float = 90, obsolete_days: int = 90) -> pd.DataFrame:
    """Turnover, days of supply, excess and obsolete stock per SKU from daily on-hand
    units and demand (n_sku x days, as from :func:`simulate`).

    Turnover: cost of the units sold over the period, annualised, over the average
    stock value. Days of supply: ending stock over average daily demand. Excess:
    ending stock beyond ``excess_days`` of average demand. Obsolete: ending stock of
    a SKU with no demand in its last ``obsolete_days`` days.
    """
    on_hand, demand = np.atleast_2d(on_hand), np.atleast_2d(demand)
    days = demand.shape[1]
    cost = np.broadcast_to(np.asarray(unit_cost, dtype=float), (on_hand.shape[0],))
    daily = demand.mean(axis=1)
    end = on_hand[:, -1]
    avg_value = on_hand.mean(axis=1) * cost
    with np.errstate(divide="ignore", invalid="ignore"):
        turnover = np.where(avg_value > 0, demand.sum(axis=1) * cost * 365 / days / avg_value,
                            np.nan)
        supply = np.where(daily > 0, end / daily, np.inf)
    excess = np.maximum(end - excess_days * daily, 0)
    dead = demand[:, -min(obsolete_days, days):].sum(axis=1) == 0
    return pd.DataFrame({"turnover": turnover, "days_of_supply": supply,
                         "excess_units": excess, "excess_value": excess * cost,
                         "obsolete_units": np.where(dead, end, 0.0),
                         "obsolete_value": np.where(dead, end, 0.0) * cost})


# ---------------------------------------------------------------------------
# Uniform against profile-differentiated service, on the holdout
# ---------------------------------------------------------------------------
def policy_comparison(orders: pd.DataFrame, products: pd.DataFrame, segments: pd.DataFrame,
                      holdout_start, segment_targets: dict, uniform_target: float = 0.95,
                      frontier=(0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99),
                      cycle_weeks: float = 2, holding_rate: float = 0.25,
                      default_lead_time: float = 14, n_samples: int = 1000,
                      seed: int = 0) -> dict:
    """Simulate stocking policies on the holdout with its actual daily demand.

    Reorder points come from each SKU's lead-time demand: its ETS forecast at
    ``holdout_start`` plus its own backtest errors (4 origins before the holdout);
    the order-up-to level adds ``cycle_weeks`` of forecast demand. A *uniform* policy
    gives every SKU ``uniform_target``; the *profile-differentiated* one gives each
    SKU the demand-weighted target of the segments that buy it
    (:func:`service_targets` with ``segment_targets``). ``frontier`` traces the
    uniform policy's cost against its fill rate.

    Returns ``policies`` (fill rate, lost margin, holding cost per policy),
    ``by_segment`` (fill rate per segment and policy) and ``frontier``.
    """
    from chainsight import forecasting
    from chainsight import schema as S

    start = pd.Timestamp(holdout_start)
    train, hold = orders[orders[S.TIMESTAMP] < start], orders[orders[S.TIMESTAMP] >= start]
    if len(train) == 0 or len(hold) == 0:
        raise ValueError(f"holdout_start {start.date()} leaves no orders on one side")
    skus = products[S.PRODUCT_ID].astype(str).to_numpy()
    weekly = forecasting.weekly_panel(train, [S.PRODUCT_ID])
    weekly = weekly[weekly[S.PRODUCT_ID].isin(skus)]
    origins = forecasting.default_origins(weekly, h=4, n_origins=4, step=4)
    errors = forecasting.series_errors(forecasting.backtest(weekly, ["ets"], origins, h=4))
    lead = products.set_index(S.PRODUCT_ID)[S.LEAD_TIME_DAYS].reindex(skus).fillna(
        default_lead_time).to_numpy(float) if S.LEAD_TIME_DAYS in products else \
        np.full(len(skus), default_lead_time)
    fc = forecasting.forecast(weekly, "ets", h=int(np.ceil(lead.max() / 7)) + 1)
    fc_wide = fc.pivot(index="unique_id", columns="ds", values="yhat").reindex(skus).fillna(0)
    err_by = errors.groupby("unique_id")["error"].apply(np.asarray)
    samples = np.vstack([
        lead_time_demand_samples(fc_wide.loc[k].to_numpy(), err_by.get(k, np.zeros(1)),
                                 lead[i], n_samples, seed)
        for i, k in enumerate(skus)])
    cycle = cycle_weeks * fc_wide.iloc[:, 0].to_numpy()

    daily = forecasting.weekly_panel(hold, [S.PRODUCT_ID], start=start, daily=True)
    demand = daily.pivot(index=S.PRODUCT_ID, columns="ds", values="y").reindex(skus).fillna(0)
    D = demand.to_numpy(float)
    info = products.set_index(S.PRODUCT_ID).reindex(skus)
    cost = info[S.UNIT_COST].to_numpy(float) if S.UNIT_COST in info else np.ones(len(skus))
    price = info[S.UNIT_PRICE].to_numpy(float) if S.UNIT_PRICE in info else cost

    held = hold.merge(segments[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID, how="left")
    held["segment"] = held["segment"].astype(object).where(held["segment"].notna(), "new")
    seg_units = held.pivot_table(index=S.PRODUCT_ID, columns="segment", values=S.QUANTITY,
                                 aggfunc="sum").reindex(skus).fillna(0)
    train_shares = (train.merge(segments[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID)
                    .pivot_table(index=S.PRODUCT_ID, columns="segment", values=S.QUANTITY,
                                 aggfunc="sum").reindex(skus))
    diff_targets = service_targets(train_shares, segment_targets,
                                   default=uniform_target).to_numpy()

    def run(targets):
        t = np.broadcast_to(np.asarray(targets, dtype=float), (len(skus),))
        s = np.array([np.quantile(samples[i], t[i]) for i in range(len(skus))])
        res = simulate(D, lead, s, s + cycle, initial=s + cycle)
        holding = float((res.average_on_hand * cost).sum() * holding_rate * D.shape[1] / 365)
        lost_margin = float((res.lost * np.maximum(price - cost, 0)).sum())
        seg_fill = (seg_units.mul(res.fill_rate, axis=0).sum() / seg_units.sum()).to_dict()
        return {"fill_rate": float(res.served.sum() / max(res.demand.sum(), 1e-9)),
                "lost_units": float(res.lost.sum()), "lost_margin": lost_margin,
                "holding_cost": holding, "mean_target": float(t.mean())}, seg_fill

    uni, uni_seg = run(uniform_target)
    dif, dif_seg = run(diff_targets)
    policies = pd.DataFrame([{"policy": f"uniform {uniform_target:.0%}", **uni},
                             {"policy": "profile-differentiated", **dif}])
    by_segment = pd.DataFrame({f"uniform {uniform_target:.0%}": uni_seg,
                               "profile-differentiated": dif_seg})
    by_segment.index.name = "segment"
    frontier_rows = [{"target": t, **run(t)[0]} for t in frontier]
    return {"policies": policies, "by_segment": by_segment.reset_index(),
            "frontier": pd.DataFrame(frontier_rows), "targets": pd.Series(diff_targets,
                                                                         index=skus)}
