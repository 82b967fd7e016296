"""First look at a dataset: headline figures, orders over time, festival uplift,
where customers live, and what each city tier buys."""

from __future__ import annotations

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
    days without any order count as zero.
    """
    d = calendar[[S.DATE, S.EVENT, "peak"]].merge(daily, on=S.DATE, how="left").fillna(
        {"orders": 0, "revenue": 0})
    d = d[(d[S.DATE] >= daily[S.DATE].min()) & (d[S.DATE] <= daily[S.DATE].max())]
    return query(f"""
        WITH base AS (SELECT avg(orders) AS o FROM d WHERE {S.EVENT} = '')
        SELECT {S.EVENT} AS event, count(*) AS days, avg(orders) AS orders_per_day,
               avg(orders) / (SELECT o FROM base) AS uplift
        FROM d GROUP BY 1 ORDER BY uplift DESC""", d=d).replace({"event": {"": "(ordinary day)"}})


def customers_by_city(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers per city with its coordinates and tier."""
    return query(f"""SELECT {S.CITY}, any_value({S.CITY_TIER}) AS {S.CITY_TIER},
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
                           products: pd.DataFrame, split: str | pd.Timestamp) -> pd.DataFrame:
    """Profile-blind against profile-aware category mix, judged on later data.

    Both methods learn revenue shares by category from orders before ``split`` and
    split each city tier's actual revenue after ``split`` across categories:
    the blind one with the national mix, the aware one with the tier's own mix.
    Returns, per method, the WAPE of tier x category revenue, the revenue put in
    the wrong category (half the absolute error, CNY) and the share of demand a
    plan sized that way would cover.
    """
    split = pd.Timestamp(split)
    train = orders[orders[S.TIMESTAMP] < split]
    test = orders[orders[S.TIMESTAMP] >= split]
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"split {split.date()} leaves no orders on one side")
    learned = category_mix_by_tier(train, customers, products)
    actual = category_mix_by_tier(test, customers, products)
    actual = actual[actual[S.CITY_TIER] != "all"]
    tier_total = actual.groupby(S.CITY_TIER)["revenue"].transform("sum")
    national = learned[learned[S.CITY_TIER] == "all"].set_index("category")["share"]
    own = learned.set_index([S.CITY_TIER, "category"])["share"]
    preds = {
        "profile-blind (national mix)": actual["category"].map(national).fillna(0),
        "profile-aware (mix per city tier)": pd.Series(
            own.reindex(pd.MultiIndex.from_frame(actual[[S.CITY_TIER, "category"]]))
            .fillna(0).to_numpy(), index=actual.index),
    }
    rows = []
    for method, share in preds.items():
        pred = share * tier_total
        err = (pred - actual["revenue"]).abs().sum()
        rows.append({"method": method, "wape": err / actual["revenue"].sum(),
                     "misallocated_revenue": err / 2,
                     "demand_covered": (pd.concat([pred, actual["revenue"]], axis=1).min(axis=1)
                                        .sum() / actual["revenue"].sum())})
    return pd.DataFrame(rows)
