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

from chainsight import progress


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
    """Outcomes of a simulation: per SKU (arrays of length n_sku), per demand class
    (``class_demand``, ``class_served``: n_class x n_sku) and per day (``on_hand``,
    ``lost_by_day``: n_sku x days)."""

    class_demand: np.ndarray
    class_served: np.ndarray
    stockout_days: np.ndarray
    orders: np.ndarray
    on_hand: np.ndarray
    lost_by_day: np.ndarray

    @property
    def demand(self) -> np.ndarray:
        return self.class_demand.sum(axis=0)

    @property
    def served(self) -> np.ndarray:
        return self.class_served.sum(axis=0)

    @property
    def lost(self) -> np.ndarray:
        return self.demand - self.served

    @property
    def average_on_hand(self) -> np.ndarray:
        return self.on_hand.mean(axis=1)

    @property
    def fill_rate(self) -> np.ndarray:
        return _ratio(self.served, self.demand)

    @property
    def class_fill_rate(self) -> np.ndarray:
        return _ratio(self.class_served, self.class_demand)

    def summary(self, unit_holding_cost_per_day=0.0) -> pd.DataFrame:
        return pd.DataFrame({
            "demand": self.demand, "served": self.served, "lost_sales": self.lost,
            "fill_rate": self.fill_rate, "stockout_days": self.stockout_days,
            "orders": self.orders, "average_on_hand": self.average_on_hand,
            "holding_cost": self.average_on_hand * self.on_hand.shape[1]
            * np.asarray(unit_holding_cost_per_day, dtype=float)})


def _ratio(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 1.0)


def _per_day(value, n: int, T: int, name: str) -> np.ndarray:
    """A policy level per SKU (n,) or per SKU and day (n, T), as (n, T)."""
    a = np.asarray(value, dtype=float)
    if a.ndim < 2:
        return np.broadcast_to(np.broadcast_to(a, (n,))[:, None], (n, T))
    if a.shape != (n, T):
        raise ValueError(f"{name} per day must have shape ({n}, {T}), not {a.shape}")
    return a


def simulate(demand, lead_time, reorder_point, order_up_to, initial=None,
             review_period: int = 1, reserve=None) -> SimulationResult:
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
    demand : (n_sku, days) units per day, or (n_class, n_sku, days) for demand
        classes in priority order: each day class 0 is served first, then class 1,
        and so on.
    lead_time : days, per SKU (or one number).
    reorder_point, order_up_to : s and S per SKU (or one number each), or per SKU
        and day (n_sku, days) for levels that change over time, such as a festival
        pre-build.
    initial : starting stock per SKU (default S on the first day).
    reserve : (n_class, n_sku) critical levels: class k is served only from the
        stock above ``reserve[k]``, which is kept for the classes before it
        (default none).
    """
    D = np.asarray(demand, dtype=float)
    D = D.reshape((1,) * (3 - D.ndim) + D.shape)
    K, n, T = D.shape
    L = np.broadcast_to(np.asarray(lead_time, dtype=int), (n,)).copy()
    s = _per_day(reorder_point, n, T, "reorder_point")
    S = _per_day(order_up_to, n, T, "order_up_to")
    c = np.zeros((K, n)) if reserve is None else np.broadcast_to(
        np.asarray(reserve, dtype=float), (K, n))
    if (L < 0).any():
        raise ValueError("lead times must be >= 0 days")
    if (S < s).any():
        raise ValueError("order-up-to levels must be >= reorder points")
    stock = (S[:, 0] if initial is None
             else np.broadcast_to(np.asarray(initial, float), (n,))).copy()
    pipeline = np.zeros((n, T + int(L.max()) + 2))  # arrivals by day
    on_order = np.zeros(n)
    served = np.zeros((K, n))
    stockout_days = np.zeros(n, dtype=int)
    orders = np.zeros(n, dtype=int)
    on_hand = np.empty((n, T))
    lost_by_day = np.empty((n, T))
    rows = np.arange(n)
    for t in range(T):
        arriving = pipeline[:, t]
        stock += arriving
        on_order -= arriving
        short = np.zeros(n)
        for k in range(K):
            sale = np.minimum(np.maximum(stock - c[k], 0), D[k, :, t])
            served[k] += sale
            short += D[k, :, t] - sale
            stock -= sale
        lost_by_day[:, t] = short
        stockout_days += short > 0
        if t % review_period == 0:
            position = stock + on_order
            # An order needs a quantity: with s == S and nothing sold, none is placed.
            need = (position <= s[:, t]) & (position < S[:, t])
            qty = np.where(need, S[:, t] - position, 0.0)
            if need.any():
                pipeline[rows[need], t + L[need] + 1] += qty[need]  # usable from t + L + 1
                on_order += qty
                orders += need
        on_hand[:, t] = stock
    return SimulationResult(D.sum(axis=2), served, stockout_days, orders, on_hand, lost_by_day)


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


def lead_time_demand_samples(forecast: np.ndarray, errors: np.ndarray,
                             lead_time_days: float, n_samples: int = 2000,
                             seed: int = 0, period_days: float = 7) -> np.ndarray:
    """Samples of demand over a lead time from a forecast per period (``period_days``
    long: 7 for weeks, about 30.4 for months) and that model's backtest errors
    (actual - forecast, per period) for the series: each sample adds, for every period
    of the lead time, the forecast and an error drawn from the observed ones. A part
    period takes its share of the forecast and the error times the square root of that
    share: demand in disjoint stretches of time adds its variance, so a 3-day lead time
    on weekly data keeps 3/7 of the week's variance, not (3/7)². No normal
    distribution is assumed."""
    errors = np.asarray(errors, dtype=float)
    errors = errors[np.isfinite(errors)]
    if errors.size == 0:
        raise ValueError("lead_time_demand_samples needs backtest errors for the series")
    periods = lead_time_days / period_days
    full = int(np.floor(periods))
    part = periods - full
    fc = np.resize(np.asarray(forecast, dtype=float), full + 1)
    rng = np.random.default_rng(seed)
    draws = rng.choice(errors, size=(n_samples, full + 1))
    weights = np.append(np.ones(full), part)
    return np.clip((fc * weights + draws * np.sqrt(weights)).sum(axis=1), 0, None)


def service_tiers(segment_targets: dict, segments, default: float = 0.90) -> pd.DataFrame:
    """Demand classes from the targets the user sets per segment: one tier per
    distinct cycle-service target, tier 0 the highest. Segments not in the mapping
    (and customers with no segment, ``new``) get ``default``.

    Returns ``segment, target, tier``.
    """
    segs = list(dict.fromkeys(list(segments) + ["new"]))
    targets = [float(segment_targets.get(s, segment_targets.get(str(s), default))) for s in segs]
    bad = [f"{s}: {t}" for s, t in zip(segs, targets, strict=True) if not 0 < t < 1]
    if bad:
        raise ValueError(f"service targets must lie strictly between 0 and 1: {', '.join(bad)}")
    levels = sorted(set(targets), reverse=True)
    return pd.DataFrame({"segment": segs, "target": targets,
                         "tier": [levels.index(t) for t in targets]})


def critical_levels(samples, tier_shares, tier_targets) -> tuple[np.ndarray, np.ndarray]:
    """Reorder point and reserved stock per SKU when demand classes with different
    cycle-service targets share one stock (critical-level rationing).

    ``samples``: (n_sku, m) lead-time demand samples; ``tier_shares``: (K, n_sku)
    share of each SKU's demand by tier, tier 0 first; ``tier_targets``: K targets,
    highest first. Tier k is served only from the stock above its critical level
    c_k (c_0 = 0).

    The levels come from a fluid picture of one lead time: stock falls from the
    reorder point s at the rate of all demand until it reaches c_{K-1}, where the
    last tier is turned away; then at the rate of the remaining tiers, and so on.
    Tier k runs short exactly when the lead-time demand X exceeds
    x_k = s - c_{K-1} + Σ_{j=k}^{K-2} (c_{j+1} - c_j) / A_j, with A_j the share of
    tiers 0..j. Setting x_k to the quantile q_k of X at tier k's target gives
    c_{k+1} = c_k + A_k (q_k - q_{k+1}) and s = q_{K-1} + c_{K-1}.

    Returns ``(s, reserve)`` with reserve of shape (K, n_sku).
    """
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    shares = np.atleast_2d(np.asarray(tier_shares, dtype=float))
    targets = np.asarray(tier_targets, dtype=float)
    if (np.diff(targets) >= 0).any():
        raise ValueError("critical_levels needs tier targets from highest to lowest")
    q = np.quantile(samples, targets, axis=1)  # (K, n)
    cumulative = np.cumsum(shares, axis=0)
    reserve = np.zeros_like(q)
    for k in range(len(targets) - 1):
        reserve[k + 1] = reserve[k] + cumulative[k] * (q[k] - q[k + 1])
    return q[-1] + reserve[-1], reserve


# ---------------------------------------------------------------------------
# Festival pre-build and inventory health
# ---------------------------------------------------------------------------
def prebuild_quantity(event_demand_samples, unit_cost: float, price: float,
                      holding_cost: float = 0.0, salvage_value: float = 0.0,
                      markdown: float = 0.0, shelf_life_days: float | None = None,
                      sell_through_days: float = 0.0) -> dict:
    """Units to build before a festival, by the newsvendor rule.

    Overage (a unit left over): unit cost - what it fetches afterwards (salvage
    value, or the price after a ``markdown`` share, whichever is higher; ``markdown``
    0 means no markdown sale, so a leftover fetches its salvage value only) + the cost
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
def festival_windows(calendar: pd.DataFrame, kinds=("festival",)) -> pd.DataFrame:
    """Each run of consecutive festival days in a calendar (``date, event,
    event_kind``) as ``event, first, last, days``."""
    cal = calendar[calendar["event_kind"].isin(kinds)].sort_values(["event", "date"])
    if cal.empty:
        return pd.DataFrame(columns=["event", "first", "last", "days"])
    dates = pd.to_datetime(cal["date"])
    run = ((dates.diff().dt.days != 1) | (cal["event"] != cal["event"].shift())).cumsum()
    out = dates.groupby([cal["event"].to_numpy(), run.to_numpy()]).agg(["min", "max"])
    out = out.reset_index(level=0).rename(columns={"level_0": "event", "min": "first",
                                                   "max": "last"})
    out["days"] = (out["last"] - out["first"]).dt.days + 1
    return out.sort_values("first").reset_index(drop=True)


def _units(frame: pd.DataFrame, rows: str, cols: str, index, columns) -> pd.DataFrame:
    from chainsight import schema as S

    return (frame.pivot_table(index=rows, columns=cols, values=S.QUANTITY, aggfunc="sum")
            .reindex(index=index, columns=columns).fillna(0.0))


@dataclass(frozen=True)
class LeadTimeDemand:
    """Lead-time demand per SKU: ``samples`` (n_sku x m) from the ETS forecast per
    period and the SKU's own backtest errors (``errors``: actual - forecast per period
    of ``grain``)."""

    skus: np.ndarray
    lead_time: np.ndarray  # days
    weekly_rate: np.ndarray  # forecast units in the first period, per week
    samples: np.ndarray
    errors: dict
    grain: str = "week"

    def reorder_points(self, target) -> np.ndarray:
        """The reorder point per SKU for a cycle-service target (one, or one per SKU)."""
        t = np.broadcast_to(np.asarray(target, dtype=float), (len(self.skus),))
        return np.array([np.quantile(self.samples[i], t[i]) for i in range(len(self.skus))])


def lead_time_demand(orders: pd.DataFrame, products: pd.DataFrame, *,
                     default_lead_time: float = 14, n_origins: int = 4, n_samples: int = 1000,
                     seed: int = 0, grain: str | None = None) -> LeadTimeDemand:
    """Lead-time demand samples per SKU of ``products`` from ``orders`` (the history
    before the decision): units per SKU and period (``grain``; by default read from the
    data, see :func:`chainsight.forecasting.demand_panel`), an ETS backtest from
    ``n_origins`` origins 4 periods apart (4 periods ahead), and
    :func:`lead_time_demand_samples` from the forecast after the last period and the
    SKU's own errors. Lead times come from the products' ``lead_time_days``, or are
    ``default_lead_time`` days."""
    from chainsight import forecasting
    from chainsight import schema as S

    skus = products[S.PRODUCT_ID].astype(str).to_numpy()
    info = products.assign(**{S.PRODUCT_ID: skus}).set_index(S.PRODUCT_ID)
    lead = (info[S.LEAD_TIME_DAYS].fillna(default_lead_time).to_numpy(float)
            if S.LEAD_TIME_DAYS in info else np.full(len(skus), float(default_lead_time)))
    panel = forecasting.demand_panel(orders, [S.PRODUCT_ID], grain=grain)
    g = forecasting.grain(panel.attrs["grain"])
    panel = panel[panel[S.PRODUCT_ID].astype(str).isin(skus)]
    if panel.empty:
        raise ValueError("lead_time_demand: none of the products has orders in the history")
    origins = forecasting.default_origins(panel, h=4, n_origins=n_origins, step=4)
    errors = forecasting.series_errors(forecasting.backtest(panel, ["ets"], origins, h=4))
    err_by = errors.groupby("unique_id")["error"].apply(np.asarray).to_dict()
    fc = forecasting.forecast(panel, "ets", h=int(np.ceil(lead.max() / g.days)) + 1)
    fc_wide = fc.pivot(index="unique_id", columns="ds", values="yhat").reindex(skus).fillna(0)
    samples = np.vstack([
        lead_time_demand_samples(fc_wide.loc[k].to_numpy(), err_by.get(k, np.zeros(1)),
                                 lead[i], n_samples, seed, g.days) for i, k in enumerate(skus)])
    return LeadTimeDemand(skus, lead, fc_wide.iloc[:, 0].to_numpy() * 7 / g.days, samples,
                          err_by, g.name)


# The policy families. Each is traced over its service target t: *uniform* gives every
# SKU the cycle-service target t; *profile* gives the top tier t and every other tier its
# own target shifted by the same amount (the gaps between the tiers stay as set). A
# family with a pre-build raises its levels before each festival: *calendar* sizes the
# build without segments (the whole base as one segment), *segment* from each segment's
# festival units and growth.
FAMILIES: dict[str, tuple[str, str | None]] = {
    "uniform": ("uniform", None),
    "uniform + pre-build": ("uniform", "calendar"),
    "uniform + segment pre-build": ("uniform", "segment"),
    "profile": ("profile", None),
    "profile + pre-build": ("profile", "segment"),
}
TARGETS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)


def top_products(orders: pd.DataFrame, products: pd.DataFrame | None, before,
                 n: int) -> pd.DataFrame:
    """The ``n`` products with the most revenue in the orders before ``before``, with their
    products rows (none needed). A product without a ``unit_price`` gets the median price
    its order lines paid before ``before``."""
    from chainsight import schema as S

    past = orders[orders[S.TIMESTAMP] < pd.Timestamp(before)]
    revenue = (past[S.QUANTITY] * past[S.UNIT_PRICE]).groupby(past[S.PRODUCT_ID]).sum()
    top = revenue.nlargest(n).index
    if products is None:
        products = pd.DataFrame({S.PRODUCT_ID: top})
    out = products[products[S.PRODUCT_ID].isin(top)].copy()
    paid = past.groupby(S.PRODUCT_ID)[S.UNIT_PRICE].median()
    listed = out[S.UNIT_PRICE] if S.UNIT_PRICE in out else pd.Series(np.nan, index=out.index)
    out[S.UNIT_PRICE] = listed.fillna(out[S.PRODUCT_ID].map(paid)).astype(float)
    return out


@dataclass(frozen=True)
class _Window:
    """The demand of one replay window and what the policies know before it."""

    days: pd.DatetimeIndex
    D: np.ndarray  # (K, n, T) units per tier, SKU and day
    shares: np.ndarray  # (K, n) tier shares of each SKU's units before the window
    boost: dict  # pre-build kind -> (n, T) rise of the levels
    festival_day: np.ndarray
    prebuild: pd.DataFrame
    seg_units: pd.DataFrame  # units per SKU and segment in the window


def _shifted(targets: np.ndarray, top: float) -> np.ndarray:
    """The tier targets moved so that the top tier's is ``top`` (gaps kept)."""
    return np.clip(np.asarray(targets, float) + (top - targets[0]), 0.01, 0.999)


def policy_comparison(orders: pd.DataFrame, products: pd.DataFrame, segments: pd.DataFrame,
                      holdout_start, segment_targets: dict, *, uniform_target: float = 0.95,
                      default_target: float = 0.90, calendar: pd.DataFrame | None = None,
                      frontier=TARGETS, validation_weeks: int = 13,
                      cycle_weeks: float = 2, holding_rate: float = 0.25,
                      default_lead_time: float = 14, markdown: float = 0.2,
                      sell_through_days: float = 60, cost_share: float = 0.6,
                      n_samples: int = 1000, seed: int = 0, n_boot: int = 2000,
                      demand: LeadTimeDemand | None = None) -> dict:
    """Profile-blind against profile-aware stocking, replayed on the holdout's actual
    daily demand and judged on one objective: total cost = holding cost + lost margin
    (lost units x (price - cost)). A stock-out costs the sale only: the data model has
    no customers leaving after one, so there is no lost-future-margin term.

    Every policy orders from each SKU's lead-time demand samples (its ETS forecast at
    the start of the window plus its own backtest errors, :func:`lead_time_demand`);
    the order-up-to level adds ``cycle_weeks`` of forecast demand. The families
    (:data:`FAMILIES`), each traced over the targets ``frontier``:

    - *uniform*: one cycle-service target for every SKU, one queue.
    - *profile*: the segments' targets (``segment_targets``, others at
      ``default_target``, see :func:`service_tiers`) become demand tiers sharing the
      stock; :func:`critical_levels` sets each SKU's reorder point and the stock kept
      for the higher tiers from the tier shares of its past units. The family moves
      all tier targets together (the top tier's target is the family's target).
    - *+ pre-build* (with a ``calendar``): for each festival in the window, the event
      demand per SKU is last year's festival units scaled by growth (the units of the 8
      weeks before the window against the same weeks a year earlier); the newsvendor
      (:func:`prebuild_quantity` with ``markdown``, shelf life and
      ``sell_through_days``) gives the build, and the levels rise by the build less the
      normal cover from one lead time before the festival to its end. The
      *calendar* pre-build treats the whole base as one segment (profile-blind); the
      *segment* pre-build scales each segment by its own growth (profile-aware).

    The profile-blind policy is "uniform" or "uniform + pre-build", the profile-aware
    one "profile" or "profile + pre-build" (without festivals to build for, "uniform"
    and "profile"). Each side's family and target are chosen on a validation window,
    the ``validation_weeks`` before ``holdout_start``, replayed the same way with only
    the orders before it (forecast, errors, tier shares and pre-build from them, with 3
    or 2 backtest origins when the history is too short for 4; the segments as given):
    the family and target of least total cost there are used on the holdout (a tie
    keeps the pre-build), and the other uniform (profile)
    families take the blind (aware) target. When there is no such window (too little
    history), the targets are the parameters (``uniform_target``, and the segment
    targets as set). The blind family is also run at the target whose holding cost on
    the holdout equals the aware policy's (interpolated on its frontier).

    Columns: orders ``customer_id, product_id, timestamp, quantity``; products
    ``product_id`` and ``unit_cost`` or ``unit_price`` (``lead_time_days`` and
    ``shelf_life_days`` when known); segments ``customer_id, segment``; calendar
    ``date, event, event_kind``. With prices only, the unit cost is ``cost_share`` of
    the price. ``demand``: the lead-time demand from :func:`lead_time_demand` on the
    orders before ``holdout_start`` for the same products (computed when not given).

    Returns a dict: ``policies`` (one row per family at its tuned target, plus the
    equal-holding-cost blind run: fill rates overall, top tier and the rest, lost units
    and margin, holding and total cost, festival-day lost units, turnover, excess and
    obsolete stock), ``frontier`` and ``validation`` (every family and target on the
    holdout and on the validation window), ``tuning`` (targets and how they were
    chosen), ``paired`` (name -> :class:`chainsight.compare.Paired` over SKUs, see
    :func:`_paired_comparisons`), ``blind`` and ``aware`` (the family names),
    ``per_sku`` (holding cost, lost margin and total cost per policy and SKU),
    ``by_segment``, ``tiers``, ``skus``, ``prebuild`` (both builds per festival and
    SKU, with the festival's actual units) and ``daily``.
    """
    from chainsight import schema as S

    S.require_columns(orders, "orders", [S.CUSTOMER_ID, S.PRODUCT_ID, S.TIMESTAMP, S.QUANTITY])
    S.require_columns(segments, "segments", [S.CUSTOMER_ID, "segment"])
    start = pd.Timestamp(holdout_start)
    train, hold = orders[orders[S.TIMESTAMP] < start], orders[orders[S.TIMESTAMP] >= start]
    if len(train) == 0 or len(hold) == 0:
        raise ValueError(f"holdout_start {start.date()} leaves no orders on one side")
    skus = products[S.PRODUCT_ID].astype(str).to_numpy()
    n = len(skus)
    info = products.assign(**{S.PRODUCT_ID: skus}).set_index(S.PRODUCT_ID)
    if S.UNIT_COST in info:
        cost = info[S.UNIT_COST].to_numpy(float)
        price = info[S.UNIT_PRICE].to_numpy(float) if S.UNIT_PRICE in info else cost
    elif S.UNIT_PRICE in info:
        price = info[S.UNIT_PRICE].to_numpy(float)
        cost = cost_share * price
    else:
        raise S.DataContractError("table 'products': policy_comparison needs a unit_cost or "
                                  f"unit_price column; columns present: {list(products.columns)}")
    shelf = info["shelf_life_days"].to_numpy(float) if "shelf_life_days" in info \
        else np.full(n, np.nan)
    margin = np.maximum(price - cost, 0)

    ltd = demand or lead_time_demand(train, products, default_lead_time=default_lead_time,
                                     n_samples=n_samples, seed=seed)
    if list(ltd.skus) != list(skus):
        raise ValueError("policy_comparison: the lead-time demand given is for other products")

    seg_of = segments[[S.CUSTOMER_ID, "segment"]].astype({"segment": object})
    tiers = service_tiers(segment_targets, seg_of["segment"].unique(), default_target)
    tier_of = dict(zip(tiers["segment"], tiers["tier"], strict=True))
    targets = tiers.groupby("tier")["target"].first().sort_index().to_numpy()
    K = len(targets)

    def labelled(frame):
        out = frame.merge(seg_of, on=S.CUSTOMER_ID, how="left")
        out["segment"] = out["segment"].where(out["segment"].notna(), "new")
        out["tier"] = out["segment"].map(tier_of)
        out[S.PRODUCT_ID] = out[S.PRODUCT_ID].astype(str)
        return out

    pb_kw = dict(holding_rate=holding_rate, markdown=markdown,
                 sell_through_days=sell_through_days, n_samples=n_samples, seed=seed)

    def window(before, during, days, ltd_):
        before_l, during_l = labelled(before), labelled(during)
        tier_units = _units(before_l, "tier", S.PRODUCT_ID, range(K), skus).to_numpy()
        total = tier_units.sum(axis=0)
        shares = tier_units / np.where(total > 0, total, 1)
        shares[-1] += total == 0  # no history: the lowest tier
        during_l["day"] = during_l[S.TIMESTAMP].dt.normalize()
        g = during_l.groupby(["tier", S.PRODUCT_ID, "day"])[S.QUANTITY].sum().reset_index()
        D = np.zeros((K, n, len(days)))
        pos, day = pd.Index(skus).get_indexer(g[S.PRODUCT_ID]), days.get_indexer(g["day"])
        keep = (pos >= 0) & (day >= 0)
        np.add.at(D, (g["tier"].to_numpy()[keep], pos[keep], day[keep]),
                  g[S.QUANTITY].to_numpy(float)[keep])
        seg_units = _units(during_l, S.PRODUCT_ID, "segment", skus, tiers["segment"])
        boost = {"calendar": np.zeros((n, len(days))), "segment": np.zeros((n, len(days)))}
        festival_day, builds = np.zeros(len(days), dtype=bool), []
        if calendar is not None:
            for kind, frame in (("calendar", before_l.assign(segment="all")),
                                ("segment", before_l)):
                boost[kind], festival_day, rows = _festival_prebuild(
                    frame, calendar, days, ltd_, cost, price, shelf, actual=D.sum(axis=0),
                    **pb_kw)
                builds.append(rows.assign(prebuild=kind))
        prebuild = pd.concat(builds, ignore_index=True) if builds else pd.DataFrame()
        return _Window(days, D, shares, boost, festival_day, prebuild, seg_units)

    def run(w, ltd_, family, t):
        kind, pb = FAMILIES[family]
        D, T = w.D, len(w.days)
        boost = w.boost[pb] if pb else np.zeros((n, T))
        if kind == "uniform":
            s, reserve, D_ = ltd_.reorder_points(t), None, D.sum(axis=0)
        else:
            s, reserve = critical_levels(ltd_.samples, w.shares, _shifted(targets, t))
            D_ = D
        S_ = s + cycle_weeks * ltd_.weekly_rate
        res = simulate(D_, ltd_.lead_time, s[:, None] + boost, S_[:, None] + boost,
                       initial=S_, reserve=reserve)
        tier_fill = res.class_fill_rate if kind == "profile" else \
            np.broadcast_to(res.fill_rate, (K, n))
        served_k = tier_fill * D.sum(axis=2)
        holding = res.average_on_hand * cost * holding_rate * T / 365
        lost_margin = res.lost * margin
        value = res.average_on_hand * cost
        health = inventory_health(res.on_hand, D.sum(axis=0), cost)
        row = {"target": float(t),
               "fill_rate": float(res.served.sum() / max(res.demand.sum(), 1e-9)),
               "top_tier_fill_rate": float(served_k[0].sum() / max(D[0].sum(), 1e-9)),
               "other_fill_rate": float(served_k[1:].sum() / max(D[1:].sum(), 1e-9)),
               "lost_units": float(res.lost.sum()),
               "lost_margin": float(lost_margin.sum()),
               "holding_cost": float(holding.sum()),
               "total_cost": float(holding.sum() + lost_margin.sum()),
               "festival_lost_units": float(res.lost_by_day[:, w.festival_day].sum()),
               "average_stock_value": float(value.sum()),
               "turnover": float((res.served * cost).sum() * 365 / T / max(value.sum(), 1e-9)),
               "excess_value": float(health["excess_value"].sum()),
               "obsolete_value": float(health["obsolete_value"].sum())}
        per_sku = pd.DataFrame({S.PRODUCT_ID: skus, "target": float(t), "holding_cost": holding,
                                "lost_margin": lost_margin, "total_cost": holding + lost_margin,
                                "demand": res.demand, "served": res.served,
                                "top_tier_demand": D[0].sum(axis=1),
                                "top_tier_served": served_k[0], "reorder_point": s})
        fill_of = {seg: tier_fill[k] for seg, k in tier_of.items()}
        su = w.seg_units
        seg_fill = {seg: float((su[seg] * fill_of[seg]).sum() / su[seg].sum())
                    if su[seg].sum() > 0 else np.nan for seg in su.columns}
        daily = pd.DataFrame({"date": w.days, "lost_units": res.lost_by_day.sum(axis=0),
                              "stock_value": cost @ res.on_hand, "festival": w.festival_day})
        return row, per_sku, seg_fill, daily

    def trace(w, ltd_, families):
        runs = [(f, t) for f in families for t in frontier]
        return pd.DataFrame([{"policy": f, **run(w, ltd_, f, t)[0]}
                             for f, t in progress.bar(runs, "replaying the policies",
                                                      unit="policy")])

    days = pd.date_range(start, hold[S.TIMESTAMP].max().normalize(), freq="D")
    hw = window(train, hold, days, ltd)
    has_prebuild = not hw.prebuild.empty
    families = list(FAMILIES) if has_prebuild else ["uniform", "profile"]
    # Each side may build for festivals or not; the validation window decides. Without
    # a validation window each side keeps its pre-build.
    options = ({"blind": ["uniform + pre-build", "uniform"],
                "aware": ["profile + pre-build", "profile"]} if has_prebuild
               else {"blind": ["uniform"], "aware": ["profile"]})
    blind, aware = options["blind"][0], options["aware"][0]

    # The targets, tuned on the validation window before the holdout.
    val_start = start - pd.Timedelta(weeks=validation_weeks)
    tuning = {"tuned": False, "validation_start": val_start, "validation_end":
              start - pd.Timedelta(days=1), "reason": ""}
    validation = pd.DataFrame()
    try:
        before = orders[orders[S.TIMESTAMP] < val_start]
        during = orders[(orders[S.TIMESTAMP] >= val_start) & (orders[S.TIMESTAMP] < start)]
        if len(before) == 0 or len(during) == 0:
            raise ValueError("no orders before or in the validation window")
        for n_origins in (4, 3, 2):  # short histories: fewer backtest origins
            try:
                ltd_val = lead_time_demand(before, products, default_lead_time=default_lead_time,
                                           n_origins=n_origins, n_samples=n_samples, seed=seed)
                break
            except ValueError:
                if n_origins == 2:
                    raise
        tuning["validation_origins"] = n_origins
        vw = window(before, during, pd.date_range(val_start, start - pd.Timedelta(days=1)),
                    ltd_val)
        validation = trace(vw, ltd_val, options["blind"] + options["aware"])
        best = validation.sort_values(["total_cost", "target"]).groupby("policy").first()
        blind, aware = (min(options[side], key=lambda f: (best.loc[f, "total_cost"],
                                                           options[side].index(f)))
                        for side in ("blind", "aware"))
        tuned = {"uniform": float(best.loc[blind, "target"]),
                 "profile": float(best.loc[aware, "target"])}
        tuning["tuned"] = True
    except ValueError as e:  # too little history for a validation window
        tuning["reason"] = str(e)
        tuned = {"uniform": float(uniform_target), "profile": float(targets[0])}
    # The policies beside the two sides take their side's target, so that each pair of
    # policies compared differs in one thing only (the pre-build, or the tiers).
    chosen = tuning["targets"] = {f: tuned[FAMILIES[f][0]] for f in families}

    front = trace(hw, ltd, [f for f in families if f != "uniform + segment pre-build"])
    rows, per_sku, seg_rows, daily = [], {}, {}, []
    for f in families:
        row, per_sku[f], seg_rows[f], d = run(hw, ltd, f, chosen[f])
        role = "profile-blind" if f == blind else "profile-aware" if f == aware else "beside"
        rows.append({"policy": f, "role": role, **row})
        daily.append(d.assign(policy=f))
    # The blind family at the aware policy's holding cost, from its holdout frontier.
    curve = front[front["policy"] == blind].sort_values("holding_cost")
    h_aware = rows[families.index(aware)]["holding_cost"]
    equal = np.nan
    if curve["holding_cost"].min() <= h_aware <= curve["holding_cost"].max():
        equal = float(np.interp(h_aware, curve["holding_cost"], curve["target"]))
        name = f"{blind}, equal holding cost"
        row, per_sku[name], seg_rows[name], _ = run(hw, ltd, blind, equal)
        rows.append({"policy": name, "role": "profile-blind at equal holding cost", **row})
    tuning["equal_cost_target"] = equal

    prebuild = hw.prebuild
    by_segment = tiers.merge(pd.DataFrame(seg_rows).rename_axis("segment").reset_index(),
                             on="segment")
    sku_table = pd.DataFrame({S.PRODUCT_ID: skus, "unit_cost": cost, "unit_price": price,
                              "lead_time_days": ltd.lead_time, "weekly_forecast": ltd.weekly_rate,
                              "top_tier_share": hw.shares[0],
                              "reorder_point_blind": per_sku[blind]["reorder_point"].to_numpy(),
                              "reorder_point_aware": per_sku[aware]["reorder_point"].to_numpy()})
    long = pd.concat([p.assign(policy=k) for k, p in per_sku.items()], ignore_index=True)
    return {"policies": pd.DataFrame(rows), "frontier": front, "validation": validation,
            "tuning": tuning, "blind": blind, "aware": aware, "has_prebuild": has_prebuild,
            "paired": _paired_comparisons(per_sku, blind, aware, has_prebuild, n_boot, seed),
            "per_sku": long, "by_segment": by_segment, "tiers": tiers, "skus": sku_table,
            "prebuild": prebuild, "daily": pd.concat(daily, ignore_index=True)}


def _paired_comparisons(per_sku: dict, blind: str, aware: str, has_prebuild: bool,
                        n_boot: int, seed: int) -> dict:
    """The paired comparisons over SKUs (:func:`chainsight.compare.paired`; money as
    totals over the SKUs, fill rates as units served over units wanted):

    - ``total_cost``, ``lost_margin``, ``fill_rate``, ``top_tier_fill_rate``: blind
      against aware, each at its tuned target;
    - ``total_cost_equal_holding``: blind at the aware policy's holding cost against
      aware (when that cost lies on the blind frontier);
    - ``service_tiers``: "uniform" against "profile", no pre-build (the tiers' share);
    - with a pre-build, ``calendar_prebuild``: "uniform" against "uniform + pre-build"
      (the calendar's gain, given to the blind side) and ``segment_prebuild``:
      "uniform + pre-build" against "uniform + segment pre-build" (the profile's share
      of the pre-build).
    """
    from chainsight import compare

    n = len(per_sku[blind])
    money = np.full(n, 1.0 / n)  # a ratio of sums over weights summing to 1: the total

    def pair(b, a, column, metric, weight=None, lower=True):
        w = money if weight is None else per_sku[b][weight].to_numpy()
        return compare.paired(per_sku[b][column].to_numpy(), per_sku[a][column].to_numpy(), w,
                              metric=metric, unit="SKU", lower_is_better=lower, n_boot=n_boot,
                              seed=seed)

    out = {"total_cost": pair(blind, aware, "total_cost", "Total cost (holding + lost margin)"),
           "lost_margin": pair(blind, aware, "lost_margin", "Lost margin"),
           "fill_rate": pair(blind, aware, "served", "Fill rate", "demand", lower=False),
           "top_tier_fill_rate": pair(blind, aware, "top_tier_served", "Top tier's fill rate",
                                      "top_tier_demand", lower=False)}
    equal = f"{blind}, equal holding cost"
    if equal in per_sku:
        out["total_cost_equal_holding"] = pair(equal, aware, "total_cost",
                                               "Total cost at equal holding cost")
    out["service_tiers"] = pair("uniform", "profile", "total_cost",
                                "Total cost, service tiers without pre-build")
    if has_prebuild:
        out["calendar_prebuild"] = pair("uniform", "uniform + pre-build", "total_cost",
                                        "Total cost, pre-build without segments")
        out["segment_prebuild"] = pair("uniform + pre-build", "uniform + segment pre-build",
                                       "total_cost", "Total cost, pre-build by segment")
    return out


def effects_control(effects: dict, *, size, seed: int, holdout_start, segment_targets: dict,
                    n_products: int = 300, profile_settings: dict | None = None,
                    **kwargs) -> dict:
    """:func:`policy_comparison` on the synthetic retailer with the given effect
    strengths (e.g. all at 0: the negative control), set up as notebook 03 does: the
    run's profile for a decision the day before ``holdout_start``
    (:func:`chainsight.profiling.decision_profile` with ``profile_settings``: the run's
    ``holdout_start`` and :attr:`~chainsight.profiling.Profile.settings`; default: the
    run defaults), the ``n_products`` products with the most revenue before it, the
    calendar's festivals. ``kwargs`` go to :func:`policy_comparison`."""
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size=size, seed=seed, effects=effects)
    start = pd.Timestamp(holdout_start)
    profile, _ = profiling.decision_profile(ds, start - pd.Timedelta(seconds=1),
                                            **(profile_settings or {"seed": seed}))
    segments = profile.segments_for(ds.tables.get("customers"))
    products = top_products(ds.orders, ds.tables["products"], start, n_products)
    return policy_comparison(ds.orders, products, segments, start, segment_targets,
                             calendar=ds.tables.get("calendar"), seed=seed, **kwargs)


def control_table(results: dict, names=("total_cost", "lost_margin",
                                        "total_cost_equal_holding", "segment_prebuild")
                  ) -> pd.DataFrame:
    """The paired comparisons ``names`` of several :func:`policy_comparison` results
    (scenario name -> result) as one frame: scenario, comparison, blind, aware,
    difference, interval and verdict."""
    rows = []
    for scenario, r in results.items():
        for name in names:
            if name in r["paired"]:
                p = r["paired"][name]
                equal = name == "total_cost_equal_holding"  # the blind side's other target
                rows.append({"scenario": scenario, "comparison": p.metric,
                             "blind target": r["tuning"]["equal_cost_target"] if equal
                             else r["tuning"]["targets"][r["blind"]],
                             "aware target": r["tuning"]["targets"][r["aware"]],
                             **{k: getattr(p, k) for k in ("blind", "aware", "difference",
                                                            "lo", "hi", "verdict")}})
    return pd.DataFrame(rows)


def _festival_prebuild(train: pd.DataFrame, calendar: pd.DataFrame, days: pd.DatetimeIndex,
                       ltd: LeadTimeDemand, cost, price, shelf, *, holding_rate: float,
                       markdown: float, sell_through_days: float, n_samples: int, seed: int,
                       actual: np.ndarray | None = None):
    """The festival pre-build of :func:`policy_comparison`: the rise of the policy
    levels per SKU and day, the festival days of the window, and the build per
    festival and SKU. ``train``: orders before the window with their ``segment`` (one
    value for all: the pre-build without segments); ``actual``: units per SKU and day
    in the window (for the festival's actual units in the rows)."""
    from chainsight import forecasting
    from chainsight import schema as S

    skus, lead, rate = ltd.skus, ltd.lead_time, ltd.weekly_rate
    period_days = forecasting.grain(ltd.grain).days
    n, T, start = len(skus), len(days), days[0]
    boost, festival_day, rows = np.zeros((n, T)), np.zeros(T, dtype=bool), []
    windows = festival_windows(calendar)
    now = windows[(windows["first"] >= start) & (windows["first"] <= days[-1])]
    recent = train[train[S.TIMESTAMP] >= start - pd.Timedelta(weeks=8)]
    before = train[(train[S.TIMESTAMP] >= start - pd.Timedelta(weeks=60))
                   & (train[S.TIMESTAMP] < start - pd.Timedelta(weeks=52))]
    growth = (recent.groupby("segment")[S.QUANTITY].sum()
              / before.groupby("segment")[S.QUANTITY].sum()).replace(np.inf, np.nan).fillna(1.0)
    for w in now.itertuples():
        last = windows[(windows["event"] == w.event)
                       & (windows["first"] < w.first - pd.Timedelta(days=300))
                       & (windows["first"] > w.first - pd.Timedelta(days=430))]
        if last.empty:
            continue
        ly = train[(train[S.TIMESTAMP] >= last["first"].iloc[0])
                   & (train[S.TIMESTAMP] < last["last"].iloc[0] + pd.Timedelta(days=1))]
        event_fc = _units(ly, S.PRODUCT_ID, "segment", skus, growth.index).to_numpy() \
            @ growth.to_numpy()
        a, b = days.get_indexer([w.first])[0], min(days.searchsorted(w.last), T - 1)
        festival_day[a:b + 1] = True
        weeks = w.days / 7
        for i in range(n):
            # The festival's units per period of the errors' grain, and the errors scaled
            # from the usual rate to it.
            per_period = event_fc[i] / (w.days / period_days)
            usual = rate[i] * period_days / 7
            scale = max(per_period / usual, 1.0) if usual > 0 else 1.0
            ev = lead_time_demand_samples([per_period],
                                          ltd.errors.get(skus[i], np.zeros(1)) * scale,
                                          w.days, n_samples, seed, period_days)
            pb = prebuild_quantity(ev, cost[i], price[i],
                                   holding_cost=cost[i] * holding_rate * sell_through_days / 365,
                                   markdown=markdown,
                                   shelf_life_days=None if np.isnan(shelf[i]) else shelf[i],
                                   sell_through_days=sell_through_days)
            extra = max(pb["quantity"] - rate[i] * weeks, 0.0)
            lo, hi = max(a - int(lead[i]) - 1, 0), max(b - int(lead[i]), 0)
            boost[i, lo:hi] = np.maximum(boost[i, lo:hi], extra)
            rows.append({"event": w.event, "first": w.first, "last": w.last,
                         S.PRODUCT_ID: skus[i], "event_forecast": event_fc[i],
                         "build": pb["quantity"], "extra": extra,
                         "critical_ratio": pb["critical_ratio"],
                         "actual": float(actual[i, a:b + 1].sum()) if actual is not None
                         else np.nan})
    return boost, festival_day, pd.DataFrame(rows)
