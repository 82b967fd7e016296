"""Forecasting: the backtest machinery on data with a known answer, and the
profile comparison on the small synthetic retailer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chainsight import datasets, forecasting, profiling
from chainsight import schema as S

WEEKS = pd.date_range("2022-01-03", periods=160, freq="W-MON")


def _panel(values: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": k, "ds": WEEKS[:len(v)], "y": v})
                      for k, v in values.items()], ignore_index=True)


def test_naive_forecasts_a_constant_series_exactly():
    panel = _panel({"flat": np.full(120, 7.0)})
    origins = forecasting.default_origins(panel, h=8, n_origins=4, step=10)
    bt = forecasting.backtest(panel, ["naive", "seasonal_naive"], origins, h=8)
    acc = forecasting.accuracy(bt).set_index("model")
    assert acc.loc["naive", "wape"] == 0 and acc.loc["naive", "bias"] == 0
    assert acc.loc["naive", "coverage"] == 1
    assert len(bt) == 2 * 4 * 8


def test_seasonal_naive_beats_naive_on_a_seasonal_series():
    t = np.arange(160)
    season = 50 + 30 * np.sin(2 * np.pi * t / 52)
    panel = _panel({"seasonal": season})
    origins = forecasting.default_origins(panel, h=8, n_origins=4, step=8)
    bt = forecasting.backtest(panel, ["naive", "seasonal_naive"], origins, h=8)
    acc = forecasting.accuracy(bt, panel).set_index("model")
    assert acc.loc["seasonal_naive", "wape"] == pytest.approx(0, abs=1e-12)
    assert acc.loc["naive", "wape"] > 0.05
    assert acc.loc["seasonal_naive", "mase"] < acc.loc["naive", "mase"]


def test_series_errors_are_actual_minus_forecast():
    panel = _panel({"flat": np.full(60, 4.0), "up": np.arange(60, dtype=float)})
    origins = forecasting.default_origins(panel, h=4, n_origins=2, step=5)
    errs = forecasting.series_errors(forecasting.backtest(panel, ["naive"], origins, h=4))
    assert len(errs) == 2 * 2 * 4
    up = errs[errs["unique_id"] == "up"].sort_values(["origin", "step"])
    assert up["error"].tolist() == [1.0, 2.0, 3.0, 4.0] * 2  # naive lags a trend by k
    assert (errs.loc[errs["unique_id"] == "flat", "error"] == 0).all()


def test_accuracy_by_hand():
    bt = pd.DataFrame({"model": "m", "origin": pd.Timestamp("2024-01-01"), "unique_id": "a",
                       "y": [10.0, 20.0], "yhat": [12.0, 14.0], "lo": [8.0, 15.0],
                       "hi": [13.0, 16.0]})
    acc = forecasting.accuracy(bt).iloc[0]
    assert acc["wape"] == pytest.approx(8 / 30)
    assert acc["bias"] == pytest.approx(-4 / 30)
    assert acc["coverage"] == 0.5


def test_weekly_panel_fills_missing_weeks_with_zero():
    orders = pd.DataFrame({S.CUSTOMER_ID: ["a", "a", "b"], S.PRODUCT_ID: ["p", "p", "q"],
                           S.QUANTITY: [2.0, 3.0, 1.0],
                           S.TIMESTAMP: pd.to_datetime(["2024-01-01", "2024-01-03",
                                                        "2024-01-17"])})
    p = forecasting.weekly_panel(orders, [S.PRODUCT_ID])
    wide = p.pivot(index="ds", columns="unique_id", values="y")
    assert list(wide.index) == list(pd.date_range("2024-01-01", periods=3, freq="W-MON"))
    assert wide["p"].tolist() == [5.0, 0.0, 0.0] and wide["q"].tolist() == [0.0, 0.0, 1.0]
    seg = forecasting.weekly_panel(orders, ["segment"], customers=pd.DataFrame(
        {S.CUSTOMER_ID: ["a"], "segment": [1]}))
    assert set(seg["segment"]) == {"1", "new"}  # b was not in the profile


def test_gbm_uses_the_calendar():
    t = np.arange(160)
    y = 20 + (t % 26 == 10) * 60.0  # a known event every 26 weeks
    panel = _panel({"a": y, "b": y * 2})
    cal = pd.DataFrame({S.DATE: pd.date_range(WEEKS[0], WEEKS[-1] + pd.Timedelta(days=6)),
                        S.EVENT: "", S.EVENT_KIND: "", "peak": False})
    event_weeks = WEEKS[t % 26 == 10]
    cal.loc[cal[S.DATE].isin(event_weeks), [S.EVENT, S.EVENT_KIND]] = ["sale", "festival"]
    cal_w = forecasting.weekly_calendar(cal, WEEKS)
    origin = WEEKS[135]  # the next event is at week 140, five weeks ahead
    fc = forecasting.forecast(panel[panel["ds"] <= origin], "gbm", 8, calendar_weekly=cal_w)
    a = fc[fc["unique_id"] == "a"].set_index("ds")["yhat"]
    assert a.loc[WEEKS[140]] > 2 * a.drop(WEEKS[140]).mean()


def _comparison(size):
    """Profile before the first origin, then blind vs aware backtests."""
    ds = datasets.load("synthetic", size=size, seed=42)
    cat = forecasting.weekly_panel(ds.orders, [S.CATEGORY], products=ds.tables["products"])
    origins = forecasting.default_origins(cat, h=8)
    prof = profiling.build_profile(ds, as_of=origins[0])
    cmp = forecasting.compare_profile(ds.orders, prof.segments_for(ds.tables["customers"]),
                                      ds.tables["products"], ds.tables["calendar"],
                                      origins=origins)
    return ds, prof, cmp


@pytest.fixture(scope="module")
def small_comparison():
    return _comparison("small")


def test_profile_comparison_covers_every_level_and_adds_up(small_comparison):
    _, _, cmp = small_comparison
    a = cmp.accuracy
    per_origin = a[(a["level"] == "segment x category") & a["origin"].notna()
                   & a["festival"].isna()]
    assert len(per_origin) == 2 * 4 and per_origin["wape"].between(0, 1).all()
    assert set(a.loc[a["festival"].notna(), "festival"]) == {True, False}
    for level in ("segment x category", "category", "sku"):
        bt = cmp.backtests[level]
        assert set(bt["method"]) == {"profile-aware", "profile-blind"}
    # Both hierarchies add up: categories are the sums of their segments.
    seg = cmp.backtests["segment x category"]
    cat = cmp.backtests["category"]
    for method in ("profile-blind", "profile-aware"):
        s = seg[seg["method"] == method].groupby([S.CATEGORY, "ds", "origin"])["yhat"].sum()
        c = cat[cat["method"] == method].set_index([S.CATEGORY, "ds", "origin"])["yhat"]
        assert np.allclose(s.sort_index(), c.sort_index().loc[s.sort_index().index])


def test_interval_coverage_is_calibrated(small_comparison):
    _, _, cmp = small_comparison
    bt = cmp.backtests["segment x category"]
    cov = forecasting.accuracy(bt[bt["method"] == "profile-aware"]).iloc[0]["coverage"]
    assert 0.65 <= cov <= 0.95


def test_customer_base_forecast(small_comparison):
    ds, prof, _ = small_comparison
    cb = forecasting.customer_base_forecast(prof, ds.orders, ds.tables["products"], h=8)
    assert set(cb[S.CATEGORY]) == set(ds.tables["products"][S.CATEGORY])
    assert cb.groupby(S.CATEGORY).size().eq(8).all() and (cb["yhat"] > 0).all()


def test_profile_aware_beats_blind_where_the_customer_mix_moves():
    """The acceptance of the forecasting notebook, on 8,000 customers (on the 3,000 of
    the quick set, weekly segment series are too noisy to separate the methods)."""
    _, _, cmp = _comparison(8000)
    a = cmp.accuracy
    overall = a[a["origin"].isna() & a["festival"].isna()].pivot(
        index="level", columns="method", values="wape")
    festival = a[a["origin"].isna() & (a["festival"] == True)].pivot(  # noqa: E712
        index="level", columns="method", values="wape")
    seg, cat_f = overall.loc["segment x category"], festival.loc[S.CATEGORY]
    assert seg["profile-aware"] < seg["profile-blind"]
    assert cat_f["profile-aware"] < cat_f["profile-blind"]


def test_daily_panels_run_through_the_same_backtest():
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    qty = 5 + 10 * (days.dayofweek >= 5)  # busy weekends
    orders = pd.DataFrame({S.CUSTOMER_ID: "c", S.PRODUCT_ID: "p", S.QUANTITY: qty.astype(float),
                           S.TIMESTAMP: days + pd.Timedelta(hours=12)})
    panel = forecasting.weekly_panel(orders, [S.PRODUCT_ID], daily=True)
    assert len(panel) == 120 and panel["y"].sum() == qty.sum()
    origins = forecasting.default_origins(panel, h=7, n_origins=3, step=14)
    bt = forecasting.backtest(panel, ["naive", "seasonal_naive", "ets"], origins, h=7,
                              season_length=7)
    acc = forecasting.accuracy(bt).set_index("model")
    assert acc.loc["seasonal_naive", "wape"] == 0 < acc.loc["naive", "wape"]
    assert bt["step"].between(1, 7).all() and len(bt) == 3 * 3 * 7
