"""Forecasting: the backtest machinery on data with a known answer, and the
profile comparison on the small synthetic retailer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chainsight import datasets, forecasting, profiling, realism, synthetic
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


def test_demand_panel_fills_missing_weeks_with_zero():
    orders = pd.DataFrame({S.CUSTOMER_ID: ["a", "a", "b"], S.PRODUCT_ID: ["p", "p", "q"],
                           S.QUANTITY: [2.0, 3.0, 1.0],
                           S.TIMESTAMP: pd.to_datetime(["2024-01-01", "2024-01-03",
                                                        "2024-01-17"])})
    p = forecasting.demand_panel(orders, [S.PRODUCT_ID], end="2024-01-15")  # whole weeks
    wide = p.pivot(index="ds", columns="unique_id", values="y")
    assert list(wide.index) == list(pd.date_range("2024-01-01", periods=3, freq="W-MON"))
    assert wide["p"].tolist() == [5.0, 0.0, 0.0] and wide["q"].tolist() == [0.0, 0.0, 1.0]
    seg = forecasting.demand_panel(orders, ["segment"], end="2024-01-15",
                                   customers=pd.DataFrame({S.CUSTOMER_ID: ["a"],
                                                           "segment": [1]}))
    assert set(seg["segment"]) == {"1", "new"}  # b was not in the profile


def test_gbm_uses_the_calendar():
    t = np.arange(160)
    y = 20 + (t % 26 == 10) * 60.0  # a known event every 26 weeks
    panel = _panel({"a": y, "b": y * 2})
    cal = pd.DataFrame({S.DATE: pd.date_range(WEEKS[0], WEEKS[-1] + pd.Timedelta(days=6)),
                        S.EVENT: "", S.EVENT_KIND: "", "peak": False})
    event_weeks = WEEKS[t % 26 == 10]
    cal.loc[cal[S.DATE].isin(event_weeks), [S.EVENT, S.EVENT_KIND]] = ["sale", "festival"]
    cal_w = forecasting.period_calendar(cal, WEEKS)
    origin = WEEKS[135]  # the next event is at week 140, five weeks ahead
    fc = forecasting.forecast(panel[panel["ds"] <= origin], "gbm", 8, calendar_features=cal_w)
    a = fc[fc["unique_id"] == "a"].set_index("ds")["yhat"]
    assert a.loc[WEEKS[140]] > 2 * a.drop(WEEKS[140]).mean()


def _comparison(size):
    """Profile before the first origin, then blind vs aware backtests."""
    ds = datasets.load("synthetic", size=size, seed=42)
    cat = forecasting.demand_panel(ds.orders, [S.CATEGORY], products=ds.tables["products"])
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


def test_profile_units_add_up_to_the_backtest_wape(small_comparison):
    _, _, cmp = small_comparison
    units = forecasting.profile_units(cmp, S.CATEGORY)
    assert len(units) == 4 * 8  # origins x weeks
    acc = forecasting.accuracy(cmp.backtests[S.CATEGORY], by=["method"]).set_index("method")
    assert units["blind"].sum() / units["actual"].sum() == pytest.approx(
        acc.loc["profile-blind", "wape"])
    assert units["aware"].sum() / units["actual"].sum() == pytest.approx(
        acc.loc["profile-aware", "wape"])
    d = forecasting.profile_difference(cmp, S.CATEGORY)
    assert d.difference == pytest.approx(acc.loc["profile-aware", "wape"]
                                         - acc.loc["profile-blind", "wape"])
    assert d.n_units == 32 and d.lo <= d.difference <= d.hi


def test_share_window_is_tuned_on_the_training_weeks():
    weeks = pd.date_range("2023-01-02", periods=104, freq="W-MON")
    rng = np.random.default_rng(0)

    def panel(share_a):
        a = rng.poisson(1000 * share_a).astype(float)
        return pd.concat([pd.DataFrame({"ds": weeks, "p": "x", "c": "a", "y": a}),
                          pd.DataFrame({"ds": weeks, "p": "x", "c": "b", "y": 1000 - a})])

    moved = panel(np.where(np.arange(104) >= 84, 0.8, 0.2))  # the mix moved 20 weeks ago
    assert forecasting.tuned_share_window(moved, weeks[-1], ["p"], ["c"], h=8) <= 8
    steady = panel(np.full(104, 0.3))
    assert forecasting.tuned_share_window(steady, weeks[-1], ["p"], ["c"], h=8) >= 26


# The controls of the forecasting comparison (DESIGN.md, comparison protocol 4). The
# effects a profile-aware forecast can exploit move the customer mix: the acquisition
# shift (and the category shift). Summing many series gains something even over random
# groups, so the profile is set against that placebo too (protocol 5, attribution). Per
# seed, 20,000 customers and 64 forecast weeks leave intervals of about +-1 WAPE point,
# so the units of three seeds are pooled. At the documented strength the profile's gain
# over the placebo is within noise (benchmarks/bench_controls.py reports it over five
# seeds); its positive control, the acquisition shift at three times its strength, does not
# hold (README) and is measured there too: `python benchmarks/bench_controls.py --runs 5`.
CONTROL_SEEDS = (42, 43, 44)
ALL_OFF = synthetic.EFFECTS_OFF
SPLIT_KEYS = [("split", *lv) for lv in realism.CONTROL_LEVELS]
PLACEBO_KEYS = [("placebo", *lv) for lv in realism.CONTROL_LEVELS[1:]]


@pytest.fixture(scope="module")
def controls():
    runs = [realism.forecast_control_units(20_000, seed, ALL_OFF) for seed in CONTROL_SEEDS]
    return {"off": {k: forecasting.wape_difference(pd.concat([r[k] for r in runs]))
                    for k in runs[0]}}


@pytest.mark.parametrize("key", SPLIT_KEYS + PLACEBO_KEYS, ids=str)
def test_negative_control_profile_does_not_win_without_the_effects(controls, key):
    assert controls["off"][key].verdict != "better", controls["off"][key].sentence()


def test_daily_panels_run_through_the_same_backtest():
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    qty = 5 + 10 * (days.dayofweek >= 5)  # busy weekends
    orders = pd.DataFrame({S.CUSTOMER_ID: "c", S.PRODUCT_ID: "p", S.QUANTITY: qty.astype(float),
                           S.TIMESTAMP: days + pd.Timedelta(hours=12)})
    panel = forecasting.demand_panel(orders, [S.PRODUCT_ID], grain="day")
    assert len(panel) == 120 and panel["y"].sum() == qty.sum()
    origins = forecasting.default_origins(panel, h=7, n_origins=3, step=14)
    bt = forecasting.backtest(panel, ["naive", "seasonal_naive", "ets"], origins, h=7,
                              season_length=7)
    acc = forecasting.accuracy(bt).set_index("model")
    assert acc.loc["seasonal_naive", "wape"] == 0 < acc.loc["naive", "wape"]
    assert bt["step"].between(1, 7).all() and len(bt) == 3 * 3 * 7


def test_profile_differences_without_a_calendar_compare_all_weeks_only():
    ds = datasets.load("synthetic", size="small", seed=42)
    panel = forecasting.demand_panel(ds.orders, [S.CATEGORY], products=ds.tables["products"])
    origins = forecasting.default_origins(panel, 8, 2, 13)
    segments = profiling.build_profile(ds, as_of=origins[0], seed=42).segments_for(
        ds.tables["customers"])
    diffs, _ = forecasting.profile_differences(ds.orders, segments, ds.tables["products"], None,
                                               origins, 8, "naive", 42)
    assert set(diffs) == {"segment x category, all weeks", "category, all weeks",
                          "category against random groups, all weeks"}


def test_a_last_partial_week_is_left_out_and_said():
    days = pd.date_range("2024-01-01", "2024-01-24", freq="D")  # ends on a Wednesday
    orders = pd.DataFrame({S.CUSTOMER_ID: "c", S.PRODUCT_ID: "p", S.QUANTITY: 1.0,
                           S.TIMESTAMP: days})
    panel = forecasting.demand_panel(orders)
    assert panel["ds"].max() == pd.Timestamp("2024-01-15")
    assert list(panel["y"]) == [7.0, 7.0, 7.0]
    assert panel.attrs["partial"].startswith("The last week (2024-01-22) has only 3 of its 7")
    whole = forecasting.demand_panel(orders[orders[S.TIMESTAMP] <= "2024-01-21"])
    assert whole["ds"].max() == pd.Timestamp("2024-01-15") and whole.attrs["partial"] == ""
    asked = forecasting.demand_panel(orders, end="2024-01-22")  # an explicit end is kept
    assert asked["ds"].max() == pd.Timestamp("2024-01-22")
    # A shop closed on Sundays: a week ending on Saturday is complete.
    closed = orders[(orders[S.TIMESTAMP] <= "2024-01-20")
                    & (orders[S.TIMESTAMP].dt.dayofweek != 6)]
    shop = forecasting.demand_panel(closed)
    assert shop["ds"].max() == pd.Timestamp("2024-01-15") and shop.attrs["partial"] == ""


def _intermittent_panel(n=60, weeks=150, seed=5):
    """Intermittent weekly series (about 70% zero weeks), carparts-like."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-04", periods=weeks, freq="W-MON")
    p = rng.uniform(0.2, 0.4, n)
    size = rng.gamma(2.0, 2.0, n)
    y = (rng.random((n, weeks)) < p[:, None]) * rng.poisson(size[:, None], (n, weeks))
    return pd.DataFrame({"unique_id": np.repeat([f"s{i}" for i in range(n)], weeks),
                         "ds": np.tile(ds, n), "y": y.ravel().astype(float)})


def test_intermittent_methods_and_why_rmsse_decides():
    panel = _intermittent_panel()
    assert 0.6 < (panel["y"] == 0).mean() < 0.8
    origins = forecasting.default_origins(panel, h=8, n_origins=3, step=8)
    models = list(forecasting.INTERMITTENT)
    bt = forecasting.backtest(panel, models, origins, h=8)
    assert len(bt) == len(models) * 60 * 3 * 8 and bt["yhat"].notna().all()
    zero = bt[bt["model"] == "sba"].assign(model="zero", yhat=0.0, lo=0.0, hi=0.0)
    acc = forecasting.accuracy(pd.concat([bt, zero]), panel).set_index("model")
    # MASE rewards forecasting zero on such data; RMSSE does not.
    assert acc.loc["zero", "mase"] < acc.loc["sba", "mase"]
    assert acc.loc["zero", "rmsse"] > acc.loc[models, "rmsse"].max()
    a_d, a_p = forecasting.tsb_constants(panel[panel["ds"] <= origins[0]])
    assert a_d in forecasting.TSB_GRID and a_p in forecasting.TSB_GRID
    # In stock: the zero forecast serves nobody; the intermittent methods serve most units.
    stock = forecasting.stock_evaluation(pd.concat([bt, zero]), lead_time=1).set_index("model")
    assert stock.loc["zero", "fill_rate"] < 0.05 and stock.loc["zero", "mean_stock"] < 0.5
    assert (stock.loc[models, "fill_rate"] > 0.7).all()


def test_a_first_partial_week_and_partial_months_are_left_out_and_said():
    days = pd.date_range("2024-01-03", "2024-01-28", freq="D")  # starts on a Wednesday
    orders = pd.DataFrame({S.CUSTOMER_ID: "c", S.PRODUCT_ID: "p", S.QUANTITY: 1.0,
                           S.TIMESTAMP: days})
    panel = forecasting.demand_panel(orders)
    assert panel["ds"].min() == pd.Timestamp("2024-01-08") and set(panel["y"]) == {7.0}
    assert panel.attrs["partial"].startswith("The first week (2024-01-01) has only 5 of its 7")
    # By month: daily lines from 10 January to 20 April keep February and March.
    days = pd.date_range("2024-01-10", "2024-04-20", freq="D")
    orders = pd.DataFrame({S.CUSTOMER_ID: "c", S.PRODUCT_ID: "p", S.QUANTITY: 1.0,
                           S.TIMESTAMP: days})
    months = forecasting.demand_panel(orders, grain="month")
    assert list(months["ds"].dt.month) == [2, 3] and list(months["y"]) == [29.0, 31.0]
    assert "first month (2024-01-01) has only 22 of its 31" in months.attrs["partial"]
    assert "last month (2024-04-01) has only 20 of its 30" in months.attrs["partial"]


def _carparts_shaped(n=300, months=51, seed=11) -> pd.DataFrame:
    """A wide table in the carparts layout (Hyndman's expsmooth::carparts): one row per
    part, one column per month, most cells zero."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2.0, 5.0, n)  # chance of a sale in a month, about 0.28 on average
    size = 1 + rng.poisson(rng.gamma(1.5, 1.0, n)[:, None], (n, months))
    y = (rng.random((n, months)) < p[:, None]) * size
    cols = pd.period_range("1998-01", periods=months, freq="M").strftime("%Y-%m")
    return pd.DataFrame(y, index=[f"part{i:04d}" for i in range(n)], columns=cols)


def test_monthly_intermittent_data_runs_end_to_end():
    from chainsight import inventory

    wide = _carparts_shaped()
    assert 0.70 <= (wide.to_numpy() == 0).mean() <= 0.75
    # The analyst's one step: the wide table as order lines dated on the first of the month.
    long = wide.rename_axis(S.PRODUCT_ID).reset_index().melt(
        id_vars=S.PRODUCT_ID, var_name="month", value_name=S.QUANTITY)
    orders = long[long[S.QUANTITY] > 0].assign(
        **{S.CUSTOMER_ID: "all", S.TIMESTAMP: lambda d: pd.to_datetime(d["month"])})
    panel = forecasting.demand_panel(orders, [S.PRODUCT_ID])
    assert panel.attrs["grain"] == "month" and panel.attrs["partial"] == ""
    assert panel["ds"].nunique() == 51 and (panel["ds"].dt.day == 1).all()
    g = forecasting.grain("month")
    origins = forecasting.default_origins(panel, g.horizon, 4, g.origin_step)
    models = ["naive", "seasonal_naive", "ets", *forecasting.INTERMITTENT]
    bt = forecasting.backtest(panel, models, origins, h=g.horizon)
    n_parts = panel["unique_id"].nunique()  # a part that never sold has no order line
    assert len(bt) == len(models) * n_parts * 4 * g.horizon and bt["yhat"].notna().all()
    assert (bt["ds"].dt.day == 1).all() and bt["step"].between(1, g.horizon).all()
    acc = forecasting.accuracy(bt, panel).set_index("model")
    assert acc[["mase", "rmsse"]].notna().all().all()
    stock = forecasting.stock_evaluation(bt).set_index("model")
    assert (stock.loc[list(forecasting.INTERMITTENT), "fill_rate"] > 0.6).all()
    # Reorder points over a one-month lead time sit near each part's own 90th percentile
    # of monthly demand (before months were read, they came out near 0.24 units).
    products = pd.DataFrame({S.PRODUCT_ID: wide.index[:40], S.LEAD_TIME_DAYS: 30.0})
    ltd = inventory.lead_time_demand(orders, products)
    assert ltd.grain == "month"
    rop = ltd.reorder_points(0.9)
    own = np.quantile(wide.iloc[:40].to_numpy(float), 0.9, axis=1)
    ratio = rop[own > 0] / own[own > 0]
    assert 0.6 < np.median(ratio) < 1.6, np.median(ratio)
    assert np.allclose(ltd.weekly_rate * g.days / 7,
                       forecasting.forecast(panel[panel[S.PRODUCT_ID].isin(wide.index[:40])],
                                            "ets", 1).set_index("unique_id")["yhat"]
                       .reindex(wide.index[:40]))


def test_the_grain_is_read_from_the_data_or_refused_clearly():
    monthly = pd.date_range("2020-01-31", periods=12, freq="ME")  # month ends
    assert forecasting.infer_grain(monthly) == "month"
    assert forecasting.infer_grain(pd.date_range("2020-01-01", periods=60, freq="D")) == "week"
    with pytest.raises(ValueError, match="unknown time grain 'quarter'"):
        forecasting.grain("quarter")
    odd = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=5,
                                                             freq="3D"), "y": 1.0})
    with pytest.raises(ValueError, match="3 days apart: not a day, week or month"):
        forecasting.grain_of(odd)


def _lines(ts, qty=1.0, product="p") -> pd.DataFrame:
    return pd.DataFrame({S.CUSTOMER_ID: "c", S.PRODUCT_ID: product, S.QUANTITY: qty,
                         S.TIMESTAMP: pd.DatetimeIndex(ts)})


def test_what_is_not_a_partial_period():
    # Monthly totals dated at month end: every month is whole.
    ends = forecasting.demand_panel(_lines(pd.date_range("2022-01-31", periods=24, freq="ME")))
    assert ends.attrs["grain"] == "month" and len(ends) == 24 and ends.attrs["partial"] == ""
    # A weekday trader from Monday 2 January to Friday 29 March: the holiday and the
    # closing weekend are not missing days.
    weekdays = forecasting.demand_panel(_lines(pd.bdate_range("2023-01-02", "2024-03-29")),
                                        grain="month")
    assert len(weekdays) == 15 and weekdays.attrs["partial"] == ""
    # Sparse weekly data (one Monday in seven) stays weekly.
    sparse = _lines(pd.date_range("2023-01-02", periods=20, freq="7W-MON"))
    assert forecasting.infer_grain(sparse[S.TIMESTAMP]) == "week"
    quarters = pd.date_range("2020-01-01", periods=8, freq="QS")
    with pytest.raises(ValueError, match="coarser than a month"):
        forecasting.demand_panel(_lines(quarters))
    # Time-zone-aware times count in their own zone: 07:00 in Shanghai on Monday 1 January
    # is Sunday 31 December in UTC, and the day and week are the local ones.
    local = pd.date_range("2024-01-01 07:00", periods=21, freq="D", tz="Asia/Shanghai")
    daily = forecasting.demand_panel(_lines(local), grain="day")
    assert daily["ds"].iloc[0] == pd.Timestamp("2024-01-01") and len(daily) == 21
    assert forecasting.demand_panel(_lines(local), grain="week")["y"].tolist() == [7.0] * 3


def test_forecasts_are_never_missing_or_scored_as_perfect():
    sundays = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2021-01-03", periods=90,
                                                                   freq="W-SUN"), "y": 10.0})
    with pytest.raises(ValueError, match="dated on the first day of each period"):
        forecasting.forecast(sundays, "naive", 3)
    with pytest.raises(ValueError, match="'ets' needs at least 7 periods per series; series "
                       "'a' has 6"):
        forecasting.forecast(sundays.head(6).assign(ds=lambda f: f["ds"] + pd.Timedelta(
            days=1)), "ets", 3)
    panel = _panel({"a": np.full(40, 5.0)})
    bt = forecasting.backtest(panel, ["naive"], forecasting.default_origins(panel, 4, 2, 4), 4)
    with pytest.raises(ValueError, match="2 forecast\\(s\\) are missing"):
        forecasting.accuracy(bt.assign(yhat=[np.nan, np.nan, *bt["yhat"].iloc[2:]]))
    # A little over a year of monthly history: "last year" is known only late, and the
    # global model still forecasts.
    months = pd.date_range("2022-01-01", periods=14, freq="MS")
    rng = np.random.default_rng(0)
    short = pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": months,
                                     "y": rng.poisson(5, 14).astype(float)})
                       for i in range(20)], ignore_index=True)
    fc = forecasting.forecast(short, "gbm", h=6)
    assert len(fc) == 120 and fc["yhat"].notna().all()
    longer = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=30,
                                                                  freq="MS"), "y": 1.0})
    first, second = forecasting.default_origins(longer, n_origins=2)  # 6 ahead, 6 apart
    assert (first, second) == (pd.Timestamp("2021-06-01"), pd.Timestamp("2021-12-01"))


def test_calendar_without_peaks_and_integer_product_ids():
    from chainsight import inventory

    cal = pd.DataFrame({S.DATE: pd.to_datetime(["2023-02-10", "2023-05-01"]),
                        S.EVENT: ["spring festival", "labour day"],
                        S.EVENT_KIND: ["festival", "festival"]})
    feats = forecasting.period_calendar(cal, pd.date_range("2023-01-01", periods=6, freq="MS"))
    assert list(feats["festival_days"]) == [0, 1, 0, 0, 1, 0]
    assert list(feats["season_position"]) == [1, 2, 3, 4, 5, 6]
    days = pd.date_range("2022-01-03", periods=400, freq="D")
    orders = _lines(days, 2.0, 7).assign(**{S.UNIT_PRICE: 1.0})
    ltd = inventory.lead_time_demand(orders, pd.DataFrame({S.PRODUCT_ID: [7]}))
    assert ltd.grain == "week" and ltd.weekly_rate[0] == pytest.approx(14, rel=0.05)
