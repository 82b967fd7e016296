"""First look at a dataset: headline figures, orders over time, festival uplift,
where customers live, and what each city tier buys."""

from __future__ import annotations

import numpy as np
import pandas as pd

from chainsight import schema as S
from chainsight.datasets import Dataset
from chainsight.sql import query

_O, _C, _P = S.ORDER_ID, S.CUSTOMER_ID, S.PRODUCT_ID
_REV = f"{S.QUANTITY} * {S.UNIT_PRICE}"


def _order_key(orders: pd.DataFrame) -> str:
    """An order is an order id, or a customer's purchases at one timestamp when the
    data has no order ids."""
    return _O if _O in orders.columns else f"{_C} || '@' || CAST({S.TIMESTAMP} AS VARCHAR)"


def headline(ds: Dataset) -> dict:
    """Customers, orders, order lines, revenue and the period covered."""
    o = ds.orders
    r = query(f"""SELECT count(*) AS order_lines, count(DISTINCT {_order_key(o)}) AS orders,
                         count(DISTINCT {_C}) AS customers, count(DISTINCT {_P}) AS products,
                         sum({_REV}) AS revenue, min({S.TIMESTAMP}) AS first,
                         max({S.TIMESTAMP}) AS last FROM orders""", orders=o).iloc[0]
    return {"customers": int(r.customers), "orders": int(r.orders),
            "order_lines": int(r.order_lines), "products": int(r.products),
            "revenue": float(r.revenue), "first_day": str(r["first"].date()),
            "last_day": str(r["last"].date())}


def daily_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders and revenue per calendar day: ``date, orders, revenue``."""
    return query(f"""SELECT CAST({S.TIMESTAMP} AS DATE) AS {S.DATE},
                            count(DISTINCT {_order_key(orders)}) AS orders,
                            sum({_REV}) AS revenue
                     FROM orders GROUP BY 1 ORDER BY 1""", orders=orders).assign(
        **{S.DATE: lambda d: pd.to_datetime(d[S.DATE])})


def festival_uplift(daily: pd.DataFrame, calendar: pd.DataFrame) -> pd.DataFrame:
    """Orders per day in each festival or promotion against ordinary days.

    Ordinary days are days with no event. The uplift is the ratio of the means;
    days without any order count as zero. ``extra_orders`` is the orders above an
    ordinary day summed over the event's days: a short event can have the highest
    uplift and still add fewer orders than a long one. Sorted by uplift.
    """
    d = calendar[[S.DATE, S.EVENT, "peak"]].merge(daily, on=S.DATE, how="left").fillna(
        {"orders": 0, "revenue": 0})
    d = d[(d[S.DATE] >= daily[S.DATE].min()) & (d[S.DATE] <= daily[S.DATE].max())]
    return query(f"""
        WITH base AS (SELECT avg(orders) AS o FROM d WHERE {S.EVENT} = '')
        SELECT {S.EVENT} AS event, count(*) AS days, avg(orders) AS orders_per_day,
               avg(orders) / (SELECT o FROM base) AS uplift,
               sum(orders) - count(*) * (SELECT o FROM base) AS extra_orders
        FROM d GROUP BY 1 ORDER BY uplift DESC""", d=d).replace({"event": {"": "(ordinary day)"}})


def customers_by_city(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers per city with its coordinates and tier."""
    tier = S.CITY_TIER if S.CITY_TIER in customers.columns else "NULL"
    return query(f"""SELECT {S.CITY}, any_value({tier}) AS {S.CITY_TIER},
                            any_value({S.LON}) AS {S.LON}, any_value({S.LAT}) AS {S.LAT},
                            count(*) AS customers
                     FROM customers GROUP BY 1 ORDER BY customers DESC""",
                 customers=customers)


def customers_by_country(orders: pd.DataFrame) -> pd.DataFrame:
    """Customers per country, for data with no geography finer than a country."""
    return query(f"""SELECT {S.COUNTRY}, count(DISTINCT {_C}) AS customers FROM orders
                     GROUP BY 1 ORDER BY customers DESC""", orders=orders)


def category_mix_by_tier(orders: pd.DataFrame, customers: pd.DataFrame,
                         products: pd.DataFrame) -> pd.DataFrame:
    """Revenue share of each category within each city tier, and nationally
    (tier 'all'): ``city_tier, category, revenue, share``."""
    return query(f"""
        WITH r AS (SELECT c.{S.CITY_TIER} AS tier, p.{S.CATEGORY} AS category,
                          sum(o.{S.QUANTITY} * o.{S.UNIT_PRICE}) AS revenue
                   FROM orders o JOIN customers c USING ({_C}) JOIN products p USING ({_P})
                   GROUP BY GROUPING SETS ((tier, category), (category)))
        SELECT coalesce(tier, 'all') AS {S.CITY_TIER}, category, revenue,
               revenue / sum(revenue) OVER (PARTITION BY tier) AS share
        FROM r ORDER BY 1, 2""", orders=orders, customers=customers, products=products)


def mix_holdout_comparison(orders: pd.DataFrame, customers: pd.DataFrame,
                           products: pd.DataFrame, split: str | pd.Timestamp,
                           window_days: int = 365, n_boot: int = 2000, seed: int = 0):
    """Profile-blind against profile-aware category plan per city tier, judged on
    the holdout after ``split``.

    Both plans forecast each tier's revenue over the holdout from its last
    ``window_days`` before ``split`` (the same forecast for both; shorter if the data
    is) and split it across categories with shares learned on that window: the blind
    plan with the national mix, the aware plan with the tier's own mix. Neither sees
    the holdout.

    Returns ``(table, paired)``: per method the WAPE of tier x category revenue per
    holdout week, the WAPE and bias of the plan's holdout totals, and the share of
    demand the plan covers; and the :class:`chainsight.compare.Paired` WAPE difference
    over holdout weeks.
    """
    from chainsight import compare

    split = pd.Timestamp(split).normalize()
    first = orders[S.TIMESTAMP].min().normalize()
    window = min(int(window_days), (split - first).days)
    train = orders[(orders[S.TIMESTAMP] >= split - pd.Timedelta(days=window))
                   & (orders[S.TIMESTAMP] < split)]
    test = orders[orders[S.TIMESTAMP] >= split]
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"split {split.date()} leaves no orders on one side")
    holdout_days = (test[S.TIMESTAMP].max().normalize() - split).days + 1
    learned = category_mix_by_tier(train, customers, products)
    tiers = learned[learned[S.CITY_TIER] != "all"]
    tier_plan = tiers.groupby(S.CITY_TIER)["revenue"].sum() * holdout_days / window
    national = learned[learned[S.CITY_TIER] == "all"].set_index("category")["share"]
    cells = pd.MultiIndex.from_product([tier_plan.index, national.index],
                                       names=[S.CITY_TIER, "category"])
    own = tiers.set_index([S.CITY_TIER, "category"])["share"].reindex(cells, fill_value=0)
    level = tier_plan.reindex(cells.get_level_values(0)).to_numpy()
    plans = {"profile-blind (national mix)":
             level * national.reindex(cells.get_level_values(1)).to_numpy(),
             "profile-aware (mix per city tier)": level * own.to_numpy()}
    test = test.assign(week=(test[S.TIMESTAMP].dt.normalize() - split).dt.days // 7)
    weekly = query(f"""
        SELECT o.week, c.{S.CITY_TIER} AS tier, p.{S.CATEGORY} AS category,
               sum(o.{S.QUANTITY} * o.{S.UNIT_PRICE}) AS revenue
        FROM test o JOIN customers c USING ({_C}) JOIN products p USING ({_P})
        GROUP BY 1, 2, 3""", test=test, customers=customers, products=products)
    n_weeks = int(test["week"].max()) + 1
    week_days = np.minimum(7, holdout_days - 7 * np.arange(n_weeks)).astype(float)
    actual = (weekly.pivot_table(index="week", columns=["tier", "category"], values="revenue",
                                 aggfunc="sum", fill_value=0.0)
              .reindex(index=range(n_weeks), columns=cells, fill_value=0.0).to_numpy())
    rows, errors = [], {}
    for method, plan in plans.items():
        pred = week_days[:, None] / holdout_days * plan[None, :]
        errors[method] = np.abs(pred - actual).sum(axis=1)
        total_actual = actual.sum(axis=0)
        rows.append({"method": method,
                     "weekly_wape": errors[method].sum() / actual.sum(),
                     "total_wape": np.abs(plan - total_actual).sum() / total_actual.sum(),
                     "bias": plan.sum() / total_actual.sum() - 1,
                     "demand_covered": np.minimum(plan, total_actual).sum()
                     / total_actual.sum()})
    blind, aware = plans
    paired = compare.paired(errors[blind], errors[aware], actual.sum(axis=1),
                            metric="WAPE of weekly tier x category revenue", unit="holdout week",
                            n_boot=n_boot, seed=seed)
    return pd.DataFrame(rows), paired


# ---------------------------------------------------------------------------
# Calibration: the synthetic retailer's marginal statistics against real data
# ---------------------------------------------------------------------------
CALIBRATION_STATS = (
    "one_time_buyer_share", "orders_per_customer_mean", "orders_per_customer_median",
    "orders_per_customer_p90", "inter_purchase_days_median", "inter_purchase_days_mean",
    "order_value_cv", "top20_customer_revenue_share", "sku_weekly_cv_median",
    "sku_zero_week_share_median",
)
_MIN_SKU_WEEKS = 8


def calibration_stats(orders: pd.DataFrame, products: pd.DataFrame | None = None) -> dict:
    """Marginal statistics of a dataset, to calibrate the synthetic retailer against real data.

    Parameters
    ----------
    orders : DataFrame
        Canonical order lines with columns ``customer_id, timestamp, product_id, quantity,
        unit_price``; ``order_id`` is optional (without it an order is a customer's
        purchases at one timestamp).
    products : DataFrame, optional
        With column ``product_id``. When given, the SKU statistics cover only the products
        it lists (order lines of other products are left out of those two figures); the
        customer and order figures always use every line.

    Returns
    -------
    dict
        The statistics of ``CALIBRATION_STATS``, and three counts that say what they
        rest on (``customers``, ``orders``, ``skus_in_weekly_stats``):

        - ``one_time_buyer_share``: share of customers with exactly one distinct purchase
          *day* (several orders on one day count as one purchase).
        - ``orders_per_customer_mean``, ``_median``, ``_p90``: orders (order ids, or
          customer-timestamps) per customer; the percentile interpolates linearly.
        - ``inter_purchase_days_median``, ``_mean``: days between consecutive distinct
          purchase days of a customer, pooled over all customers' gaps (NaN when no
          customer buys on two days).
        - ``order_value_cv``: population standard deviation over mean of order value
          (sum of quantity * unit_price per order), across all orders.
        - ``top20_customer_revenue_share``: revenue share of the ceil(20%) customers with
          the highest revenue.
        - ``sku_weekly_cv_median``: per SKU, population CV of its weekly units over the
          weeks (Monday to Sunday) from its first sale to the data's last week, weeks
          without a sale counting as zero; the median over SKUs whose span has at least
          8 weeks (NaN when there is none).
        - ``sku_zero_week_share_median``: median over the same SKUs of the share of their
          span's weeks with no units.
        - ``skus_in_weekly_stats``: how many SKUs the two weekly figures cover.
    """
    S.require_columns(orders, "orders", S.REQUIRED["orders"])
    if len(orders) == 0:
        raise S.DataContractError("table 'orders': no rows")
    key = _order_key(orders)
    day = f"CAST({S.TIMESTAMP} AS DATE)"

    # Per customer: distinct purchase days, orders, revenue (small; finished in pandas).
    cust = query(f"""SELECT {_C}, count(DISTINCT {day}) AS days,
                            count(DISTINCT {key}) AS orders, sum({_REV}) AS revenue
                     FROM orders GROUP BY 1""", orders=orders)
    n_orders = cust["orders"].to_numpy(dtype=float)
    revenue = np.sort(cust["revenue"].to_numpy(dtype=float))[::-1]
    top = int(np.ceil(0.2 * len(revenue)))

    gaps = query(f"""
        WITH d AS (SELECT DISTINCT {_C}, {day} AS d FROM orders),
             g AS (SELECT d - lag(d) OVER (PARTITION BY {_C} ORDER BY d) AS gap FROM d)
        SELECT median(gap) AS median, avg(gap) AS mean FROM g WHERE gap IS NOT NULL""",
                 orders=orders).iloc[0]

    value = query(f"""
        WITH v AS (SELECT sum({_REV}) AS v FROM orders GROUP BY {key})
        SELECT stddev_pop(v) / avg(v) AS cv FROM v""", orders=orders).iloc[0]

    sku = _sku_weekly(orders, products)
    return {
        "one_time_buyer_share": float((cust["days"] == 1).mean()),
        "orders_per_customer_mean": float(n_orders.mean()),
        "orders_per_customer_median": float(np.median(n_orders)),
        "orders_per_customer_p90": float(np.percentile(n_orders, 90)),
        "inter_purchase_days_median": _float(gaps["median"]),
        "inter_purchase_days_mean": _float(gaps["mean"]),
        "order_value_cv": _float(value["cv"]),
        "top20_customer_revenue_share": float(revenue[:top].sum() / revenue.sum()),
        "sku_weekly_cv_median": float(sku["cv"].median()) if len(sku) else float("nan"),
        "sku_zero_week_share_median": (float(sku["zero_share"].median()) if len(sku)
                                       else float("nan")),
        "customers": len(cust),
        "orders": int(n_orders.sum()),
        "skus_in_weekly_stats": len(sku),
    }


def _float(x) -> float:
    return float("nan") if pd.isna(x) else float(x)


def _sku_weekly(orders: pd.DataFrame, products: pd.DataFrame | None) -> pd.DataFrame:
    """Per SKU with at least 8 weeks from its first sale to the data's last week: the CV
    of weekly units and the share of zero weeks, zeros included.

    The zero weeks are never materialised: with n weeks in the span, the mean is
    sum / n and the population variance sum of squares / n - mean², where only weeks
    with sales add to the sums.
    """
    tables = {"orders": orders}
    keep = ""
    if products is not None:
        S.require_columns(products, "products", (S.PRODUCT_ID,))
        tables["products"] = products[[S.PRODUCT_ID]]
        keep = f"WHERE {_P} IN (SELECT {_P} FROM products)"
    return query(f"""
        WITH w AS (SELECT {_P}, date_trunc('week', {S.TIMESTAMP}) AS week,
                          sum({S.QUANTITY}) AS units
                   FROM orders {keep} GROUP BY 1, 2),
             last AS (SELECT date_trunc('week', max({S.TIMESTAMP})) AS week FROM orders),
             s AS (SELECT {_P}, count(*) AS sold_weeks, sum(units) AS s1,
                          sum(units * units) AS s2,
                          date_diff('day', min(week), (SELECT week FROM last)) // 7 + 1 AS n
                   FROM w GROUP BY 1)
        SELECT {_P}, n AS weeks, 1 - sold_weeks / n AS zero_share,
               sqrt(greatest(s2 / n - (s1 / n) * (s1 / n), 0)) / (s1 / n) AS cv
        FROM s WHERE n >= {_MIN_SKU_WEEKS} ORDER BY 1""", **tables)


def calibration_table(named: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """:func:`calibration_stats` of each dataset side by side.

    Parameters
    ----------
    named : dict of str to DataFrame
        Dataset name to its canonical order lines (see :func:`calibration_stats`).

    Returns
    -------
    DataFrame
        One row per statistic of ``CALIBRATION_STATS`` (index ``statistic``), one
        column per dataset name. The counts (customers, orders, SKUs) are left out: they
        measure a dataset's size, not its shape.
    """
    table = pd.DataFrame({name: calibration_stats(o) for name, o in named.items()},
                         index=list(CALIBRATION_STATS), dtype=float)
    table.index.name = "statistic"
    return table


def outside_real_range(table: pd.DataFrame, synthetic_col: str,
                       real_cols: list[str]) -> list[str]:
    """The statistics whose synthetic value lies outside [min, max] of the real datasets.

    Parameters
    ----------
    table : DataFrame
        A :func:`calibration_table` (statistics as rows).
    synthetic_col : str
        The column holding the synthetic dataset.
    real_cols : list of str
        The columns holding the real datasets.

    Returns
    -------
    list of str
        Statistic names, in the table's order. A row with a missing synthetic or real
        value is left out: there is no range to judge it against.
    """
    if not real_cols:
        raise ValueError("outside_real_range: no real dataset columns given")
    missing = [c for c in [synthetic_col, *real_cols] if c not in table.columns]
    if missing:
        raise ValueError(f"calibration table: no column(s) {missing}; "
                         f"columns present: {list(table.columns)}")
    real = table[list(real_cols)]
    syn = table[synthetic_col]
    judged = syn.notna() & real.notna().all(axis=1)
    out = judged & ((syn < real.min(axis=1)) | (syn > real.max(axis=1)))
    return [str(s) for s in table.index[out]]
