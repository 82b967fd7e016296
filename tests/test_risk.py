"""Concentration measures, by hand and on the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chainsight import risk
from chainsight import schema as S


def test_hhi_and_shares_by_hand():
    # Shares 0.5, 0.3, 0.2: HHI = 0.25 + 0.09 + 0.04 = 0.38 (3,800 in the authorities'
    # points); 1/0.38 = 2.63 equal firms.
    assert risk.hhi([50, 30, 20]) == pytest.approx(0.38)
    assert risk.hhi([1, 1, 1, 1]) == pytest.approx(0.25) and risk.hhi([7]) == 1.0
    assert risk.top_share([50, 30, 20], 0.01) == pytest.approx(0.5)  # at least one holder
    assert risk.top_share([10] * 8 + [60, 20], 0.2) == pytest.approx(80 / 160)  # two of ten
    assert risk.top_share(range(1, 101), 0.05) == pytest.approx(sum(range(96, 101)) / 5050)
    curve = risk.pareto([20, 50, 30])
    assert list(curve["value_share"]) == pytest.approx([0.5, 0.8, 1.0])
    assert list(curve["holders_share"]) == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_bad_amounts_are_named():
    with pytest.raises(ValueError, match="hhi: 1 values are negative or not finite"):
        risk.hhi([1, -2, 3])
    with pytest.raises(ValueError, match="pareto: no values"):
        risk.pareto([])
    with pytest.raises(ValueError, match="add up to 0"):
        risk.hhi([0, 0])
    with pytest.raises(ValueError, match=r"fraction must lie in \(0, 1\]"):
        risk.top_share([1, 2], 0)


def test_concentration_of_order_lines_by_hand():
    orders = pd.DataFrame({S.QUANTITY: [1, 2, 1, 1, 5], S.UNIT_PRICE: [10.0, 10, 30, 40, 2],
                           "who": ["a", "a", "b", "c", None]})
    out = risk.concentration(orders, {"customer": orders["who"]}).set_index("dimension")
    row = out.loc["customer"]
    # a 30, b 30, c 40 of 100 known; 10 without a holder.
    assert row["holders"] == 3 and row["hhi"] == pytest.approx(0.09 + 0.09 + 0.16)
    assert row["largest"] == "c" and row["largest_share"] == pytest.approx(0.4)
    assert row["revenue_without"] == pytest.approx(10.0)
    assert row["equivalent_holders"] == pytest.approx(1 / 0.34)
    with pytest.raises(ValueError, match="'customer' gives 2 holders for 5 order lines"):
        risk.concentration(orders, {"customer": ["a", "b"]})


def test_concentration_on_the_synthetic_retailer():
    from chainsight import datasets

    ds = datasets.load("synthetic", size="small", seed=42)
    o = ds.orders.merge(ds.tables["customers"][[S.CUSTOMER_ID, S.CITY]], on=S.CUSTOMER_ID,
                        how="left").merge(ds.tables["products"][[S.PRODUCT_ID, S.SUPPLIER]],
                                          on=S.PRODUCT_ID, how="left")
    out = risk.concentration(o, {"customer": o[S.CUSTOMER_ID], "city": o[S.CITY],
                                 "product": o[S.PRODUCT_ID],
                                 "supplier": o[S.SUPPLIER]}).set_index("dimension")
    assert (out["hhi"] >= 1 / out["holders"] - 1e-12).all() and (out["hhi"] <= 1).all()
    assert (out["top_1pct"] <= out["top_5pct"]).all() and (
        out["top_5pct"] <= out["top_20pct"]).all()
    revenue = (o[S.QUANTITY] * o[S.UNIT_PRICE]).sum()
    assert out.loc["customer", "revenue_without"] == 0
    per = (o[S.QUANTITY] * o[S.UNIT_PRICE]).groupby(o[S.CUSTOMER_ID]).sum()
    assert out.loc["customer", "hhi"] == pytest.approx(((per / revenue) ** 2).sum())
    assert np.isclose(out.loc["customer", "largest_share"], per.max() / revenue)
