"""Calibration statistics: a hand-made order table with answers worked out by hand, the
CDNOW sample against its published counts, Online Retail against plain pandas, and the
range check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from chainsight import datasets
from chainsight import schema as S
from chainsight.overview import (
    CALIBRATION_STATS,
    calibration_stats,
    calibration_table,
    outside_real_range,
)

# Weeks run Monday to Sunday: W1 = 2024-01-01..07, W2 = 01-08.., W4 = 01-22.., W5 = 01-29..,
# W7 = 02-12.., W9 = 02-26.. (the data's last week).
_LINES = [  # customer, order, timestamp, product, quantity, unit price
    ("A", "o1", "2024-01-01 10:00", "P1", 2, 10),   # W1, order o1 = 25
    ("A", "o1", "2024-01-01 10:00", "P2", 1, 5),    # W1
    ("A", "o2", "2024-01-01 15:00", "P1", 1, 10),   # W1, same day, second order = 10
    ("A", "o3", "2024-01-11 09:00", "P4", 1, 10),   # W2, = 10; P4's first sale
    ("A", "o4", "2024-01-31 12:00", "P2", 2, 5),    # W5, = 10
    ("B", "o5", "2024-01-03 12:00", "P1", 3, 10),   # W1, = 30
    ("C", "o6", "2024-01-05 12:00", "P2", 4, 5),    # W1, = 20
    ("C", "o7", "2024-01-27 12:00", "P1", 1, 10),   # W4, = 10
    ("D", "o8", "2024-02-15 12:00", "P1", 1, 10),   # W7, = 10
    ("E", "o9", "2024-02-26 12:00", "P1", 5, 20),   # W9, order o9 = 110
    ("E", "o9", "2024-02-26 12:00", "P3", 1, 10),   # W9; P3's span is 1 week: left out
]


@pytest.fixture(scope="module")
def tiny():
    o = pd.DataFrame(_LINES, columns=[S.CUSTOMER_ID, S.ORDER_ID, S.TIMESTAMP, S.PRODUCT_ID,
                                      S.QUANTITY, S.UNIT_PRICE])
    return o.assign(**{S.TIMESTAMP: pd.to_datetime(o[S.TIMESTAMP]),
                       S.QUANTITY: o[S.QUANTITY].astype(float),
                       S.UNIT_PRICE: o[S.UNIT_PRICE].astype(float)})


def test_customer_and_order_figures_on_a_hand_made_table(tiny):
    st = calibration_stats(tiny)
    assert st["customers"] == 5
    # Purchase days: A 3 (01-01, 01-11, 01-31), B 1, C 2 (01-05, 01-27), D 1, E 1.
    assert st["one_time_buyer_share"] == pytest.approx(3 / 5)
    # Orders: A 4 (two on 01-01), B 1, C 2, D 1, E 1 -> sorted 1 1 1 2 4.
    assert st["orders"] == 9
    assert st["orders_per_customer_mean"] == pytest.approx(9 / 5)
    assert st["orders_per_customer_median"] == 1
    # p90 at position 0.9 * 4 = 3.6 between 2 and 4: 2 + 0.6 * 2.
    assert st["orders_per_customer_p90"] == pytest.approx(3.2)
    # Gaps between distinct days: A 10 and 20, C 22 (the same-day order adds no gap).
    assert st["inter_purchase_days_median"] == pytest.approx(20)
    assert st["inter_purchase_days_mean"] == pytest.approx(52 / 3)
    # Order values 25 10 10 10 30 20 10 10 110: mean 235/9, E[x^2] 14525/9.
    mean = 235 / 9
    assert st["order_value_cv"] == pytest.approx(math.sqrt(14525 / 9 - mean**2) / mean)
    assert st["order_value_cv"] == pytest.approx(1.16925, abs=1e-5)
    # Revenue A 55, B 30, C 30, D 10, E 110; the top 20% is one customer, E.
    assert st["top20_customer_revenue_share"] == pytest.approx(110 / 235)


def test_sku_weekly_figures_on_a_hand_made_table(tiny):
    st = calibration_stats(tiny)
    # Weekly units from first sale to W9, zeros filled:
    #   P1 W1..W9 = 6 0 0 1 0 0 1 0 5   CV sqrt(398)/13, zero share 5/9
    #   P2 W1..W9 = 5 0 0 0 2 0 0 0 0   CV sqrt(212)/7,  zero share 7/9
    #   P4 W2..W9 = 1 0 0 0 0 0 0 0     CV sqrt(7),      zero share 7/8 (8 weeks: kept)
    #   P3 W9     = 1                   one week: left out
    assert st["skus_in_weekly_stats"] == 3
    assert st["sku_weekly_cv_median"] == pytest.approx(math.sqrt(212) / 7)
    assert st["sku_zero_week_share_median"] == pytest.approx(7 / 9)
    # Restricted to the products listed, the median is P1's own figure.
    only_p1 = calibration_stats(tiny, products=pd.DataFrame({S.PRODUCT_ID: ["P1"]}))
    assert only_p1["skus_in_weekly_stats"] == 1
    assert only_p1["sku_weekly_cv_median"] == pytest.approx(math.sqrt(398) / 13)
    assert only_p1["sku_zero_week_share_median"] == pytest.approx(5 / 9)
    assert only_p1["one_time_buyer_share"] == st["one_time_buyer_share"]


def test_without_order_ids_an_order_is_a_customer_timestamp(tiny):
    # In the table each order id is exactly one customer-timestamp, so nothing changes.
    with_ids = calibration_stats(tiny)
    without = calibration_stats(tiny.drop(columns=S.ORDER_ID))
    assert without == pytest.approx(with_ids)


def test_missing_column_is_named(tiny):
    with pytest.raises(S.DataContractError, match="unit_price"):
        calibration_stats(tiny.drop(columns=S.UNIT_PRICE))
    with pytest.raises(S.DataContractError, match="product_id"):
        calibration_stats(tiny, products=pd.DataFrame({"sku": ["P1"]}))


def test_one_sku_too_young_gives_no_weekly_figure(tiny):
    st = calibration_stats(tiny[tiny[S.PRODUCT_ID] == "P3"])
    assert st["skus_in_weekly_stats"] == 0
    assert math.isnan(st["sku_weekly_cv_median"])
    assert math.isnan(st["inter_purchase_days_median"])  # nobody buys twice


# ---------------------------------------------------------------------------
# CDNOW 1/10 sample
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cdnow():
    return datasets.load("cdnow").orders


def _raw_cdnow() -> pd.DataFrame:
    """The sample file read with plain pandas, independently of the loader."""
    return pd.read_csv(datasets.reference_dir() / "cdnow" / "CDNOW_sample.txt", sep=r"\s+",
                       header=None, names=["master", "id", "date", "cds", "value"],
                       dtype={"date": str})


def test_cdnow_matches_the_published_counts(cdnow):
    st = calibration_stats(cdnow)
    assert st["customers"] == 2357
    raw = _raw_cdnow()
    days = raw.groupby("id")["date"].nunique()
    assert st["one_time_buyer_share"] == pytest.approx((days == 1).mean())
    assert st["orders"] == len(raw[["id", "date"]].drop_duplicates())  # 6,696 customer-days
    value = raw.groupby("id")["value"].sum().sort_values(ascending=False)
    top = value.iloc[:math.ceil(0.2 * len(value))].sum() / value.sum()  # 472 customers
    assert st["top20_customer_revenue_share"] == pytest.approx(top)
    assert 0.5 < st["top20_customer_revenue_share"] < 0.8  # 0.675
    assert st["orders_per_customer_median"] == 1


def test_cdnow_calibration_period_reproduces_fader_hardie_lee(cdnow):
    # Weeks 0-39 (to 1997-09-30): 1,411 of the 2,357 made no repeat purchase and there
    # were 2,457 repeat purchases (same-day transactions merged), as in Fader, Hardie
    # and Lee (2005) and the published summary file.
    st = calibration_stats(cdnow[cdnow[S.TIMESTAMP] < "1997-10-01"])
    assert st["customers"] == 2357
    assert st["one_time_buyer_share"] == pytest.approx(1411 / 2357)
    assert st["orders"] == 2357 + 2457


# ---------------------------------------------------------------------------
# Online Retail
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def online_retail():
    return datasets.load("online_retail").orders


def test_online_retail_in_plausible_ranges_and_equal_to_plain_pandas(online_retail):
    o = online_retail
    st = calibration_stats(o)
    # The usual cleaning's well-known counts are 4,338 customers and 18,532 invoices; with
    # the lines a cancellation cancels also removed (152 invoices entirely, 11 customers'
    # every purchase): 4,327 customers and 18,380 invoices.
    assert st["customers"] == 4327
    assert st["orders"] == 18380
    assert st["orders_per_customer_mean"] == pytest.approx(18380 / 4327)
    assert 0.3 < st["one_time_buyer_share"] < 0.45  # 0.357
    assert 14 <= st["inter_purchase_days_median"] <= 60  # 28
    assert st["inter_purchase_days_mean"] > st["inter_purchase_days_median"]
    assert 1 < st["order_value_cv"] < 10  # 3.5: a few very large wholesale invoices
    assert 0.6 < st["top20_customer_revenue_share"] < 0.85  # 0.747
    assert 1 < st["sku_weekly_cv_median"] < 3  # 1.9
    assert 0.2 < st["sku_zero_week_share_median"] < 0.8  # 0.48
    assert 3000 < st["skus_in_weekly_stats"] <= o[S.PRODUCT_ID].nunique()

    # The same figures with plain pandas, zero weeks materialised.
    days = o.groupby(S.CUSTOMER_ID)[S.TIMESTAMP].agg(lambda t: t.dt.normalize().nunique())
    assert st["one_time_buyer_share"] == pytest.approx((days == 1).mean())
    value = (o[S.QUANTITY] * o[S.UNIT_PRICE]).groupby(o[S.ORDER_ID]).sum()
    assert st["order_value_cv"] == pytest.approx(value.std(ddof=0) / value.mean())
    week = o[S.TIMESTAMP].dt.to_period("W-SUN").dt.start_time
    grid = o.groupby([o[S.PRODUCT_ID], week])[S.QUANTITY].sum().unstack(fill_value=0.0)
    # Weeks in which nothing at all sold (the shop closed over Christmas 2010) count too.
    grid = grid.reindex(columns=pd.date_range(week.min(), week.max(), freq="7D"),
                        fill_value=0.0)
    weeks = np.arange(grid.shape[1])
    first = (grid.to_numpy() > 0).argmax(axis=1)
    in_span = weeks[None, :] >= first[:, None]
    span = in_span.sum(axis=1)
    x = np.where(in_span, grid.to_numpy(), np.nan)[span >= 8]
    cv = np.nanstd(x, axis=1) / np.nanmean(x, axis=1)
    zero = np.nansum(x == 0, axis=1) / span[span >= 8]
    assert st["skus_in_weekly_stats"] == len(x)
    assert st["sku_weekly_cv_median"] == pytest.approx(np.median(cv))
    assert st["sku_zero_week_share_median"] == pytest.approx(np.median(zero))


# ---------------------------------------------------------------------------
# The table and the range check
# ---------------------------------------------------------------------------
def test_calibration_table_on_the_real_datasets(cdnow, online_retail):
    table = calibration_table({"cdnow": cdnow, "online_retail": online_retail})
    assert list(table.index) == list(CALIBRATION_STATS)
    assert list(table.columns) == ["cdnow", "online_retail"]
    assert np.isfinite(table.to_numpy()).all()
    assert table.loc["one_time_buyer_share", "cdnow"] == pytest.approx(
        calibration_stats(cdnow)["one_time_buyer_share"])
    assert table.loc["orders_per_customer_mean", "online_retail"] == pytest.approx(18380 / 4327)


def test_default_synthetic_retailer_sits_inside_the_real_range(cdnow, online_retail):
    """The calibration of the synthetic retailer (default size, seed 42): every statistic
    within the range spanned by Online Retail and CDNOW."""
    from chainsight import synthetic

    table = calibration_table({"cdnow": cdnow, "online_retail": online_retail,
                               "synthetic": synthetic.generate("default", 42).orders})
    assert outside_real_range(table, "synthetic", ["cdnow", "online_retail"]) == []


def test_outside_real_range_on_a_hand_made_table():
    table = pd.DataFrame({"real_a": [0.2, 10.0, 1.0, 5.0, np.nan],
                          "real_b": [0.4, 20.0, 2.0, 5.0, 1.0],
                          "syn": [0.1, 20.0, 2.5, 5.0, 9.0]},
                         index=["below", "on_edge", "above", "equal", "no_range"])
    # Bounds are inclusive; a row with a missing real value has no range to judge against.
    assert outside_real_range(table, "syn", ["real_a", "real_b"]) == ["below", "above"]
    assert outside_real_range(table, "syn", ["real_b"]) == ["below", "above", "no_range"]
    with pytest.raises(ValueError, match="real_c"):
        outside_real_range(table, "syn", ["real_a", "real_c"])
    with pytest.raises(ValueError, match="no real"):
        outside_real_range(table, "syn", [])
