"""Supply-chain risk: concentration, early warning, change detection and the stress test,
by hand and against the synthetic retailer's injected truth."""

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


def test_p_alive_threshold_in_closed_form():
    """The days at which P(alive) falls below a threshold, solved in closed form, agree
    with P(alive) itself: at the threshold then, above it a day before."""
    from types import SimpleNamespace

    from chainsight import clv

    m = SimpleNamespace(r=0.25, alpha=4.0, a=0.8, b=2.4)  # the parameters a BG/NBD fit gives
    x, tx = np.array([1.0, 3.0, 10.0, 0.0]), np.array([5.0, 20.0, 40.0, 0.0])
    weeks = clv.weeks_until_lapse_likely(m, x, tx, 0.4)
    assert np.isinf(weeks[3])  # no repeat purchase: alive until the next one
    assert clv.p_alive(m, x[:3], tx[:3], tx[:3] + weeks[:3]) == pytest.approx([0.4] * 3)
    assert (clv.p_alive(m, x[:3], tx[:3], tx[:3] + weeks[:3] - 1 / 7) > 0.4).all()
    with pytest.raises(ValueError, match="threshold must lie in"):
        clv.weeks_until_lapse_likely(m, x, tx, 1.0)


def _frame(quiet, gap, lapsed, value, alive=None):
    frame = pd.DataFrame({"quiet_days": quiet, "mean_gap_days": gap, "lapsed": lapsed,
                          "clv": value})
    frame.attrs["alive_after"] = alive
    return frame


def test_alert_delays_and_money_by_hand():
    # Three key customers, 40, 100 and 200 days since their last purchase; mean gaps of
    # 10 and 80 days (the third bought once: the median gap, 45, stands in); two of them
    # did not buy again.
    def alive(p):  # P(alive) falls under 0.5 three weeks after for the first, never
        return np.array([21.0, np.inf, 350.0]) if p == 0.5 else None  # for the second
    f = _frame([40.0, 100.0, 200.0], [10.0, 80.0, np.nan], [True, False, True],
               [1000.0, 500.0, 300.0], alive)
    assert list(risk._delays(f, "quiet days", 90)) == [90, 90, 90]
    assert list(risk._delays(f, "own gap", 2.0)) == [20.0, 160.0, 90.0]
    assert list(risk._delays(f, "P(alive)", 0.5)) == [21.0, np.inf, 350.0]
    # No purchase for 90 days flags the second and third: one hit (300 CLV), one miss.
    s = risk._score(f, risk._delays(f, "quiet days", 90), contact_cost=20, save_rate=0.5)
    assert (s["flagged"], s["lapsed"], s["precision"], s["recall"]) == (2, 2, 0.5, 0.5)
    assert s["net_value"] == pytest.approx(0.5 * 300 - 2 * 20)
    assert list(s["per_customer"]) == pytest.approx([0, -20, 0.5 * 300 - 20])
    # Twice the own gap flags the first (20 days <= 40) and the third (90 <= 200): two
    # hits worth 1,300.
    s = risk._score(f, risk._delays(f, "own gap", 2.0), contact_cost=20, save_rate=0.5)
    assert (s["flagged"], s["clv_flagged_correctly"], s["median_delay_days"]) == (2, 1300, 55)


def test_early_warning_on_the_synthetic_retailer_adds_up_and_bad_input_is_named():
    from chainsight import datasets

    ds = datasets.load("synthetic", size="small", seed=42)
    r = risk.early_warning_comparison(ds.orders, "2025-01-01", horizon_days=180,
                                      contact_cost=20, save_rate=0.2, n_boot=200)
    t = r["rules"]
    assert list(t.index) == ["no purchase for 90 days", "profile-blind", "profile-aware"]
    money = 0.2 * t["clv_flagged_correctly"] - 20 * t["flagged"]
    # The aware side may use the blind rules too: on the tuning period it is never worse.
    assert np.allclose(t["net_value"].astype(float), money.astype(float))
    assert r["chosen"]["blind"][0] == "quiet days" and r["value"].n_units == r["customers"]
    assert r["value"].verdict in ("better", "worse", "no measurable difference")
    with pytest.raises(ValueError, match="the data ends 2025-12-31, before 2025-10-01 \\+ "
                                         "180 days"):
        risk.early_warning_comparison(ds.orders, "2025-10-01", horizon_days=180)
    with pytest.raises(ValueError, match="top must lie in"):
        risk.early_warning_comparison(ds.orders, "2025-01-01", top=0)


@pytest.mark.parametrize("seed", [42, 7])
def test_early_warning_at_equal_cost_and_its_placebo(seed):
    """Contacting the same number of key customers: the blind side ranks by the
    customer's own history (days quiet over their own gap wins the earlier decision on
    both seeds), and P(alive) adds nothing it can show (on these seeds the aware side
    picks the same ranking). With P(alive) shuffled among the customers and the aware
    side held to it (the placebo), it is never better and worse at most budgets: the
    control has the power to catch a profile that does not know."""
    from chainsight import datasets

    ds = datasets.load("synthetic", size="default", seed=seed)
    args = (ds.orders, "2025-01-01", 180, 0.2, 20.0, 0.2, 0.35)
    real = risk.early_warning_comparison(*args, n_boot=500, seed=seed)
    fake = risk.early_warning_comparison(*args, n_boot=500, seed=seed, placebo=True)
    f = real["frontier"]
    assert list(f["contacted"]) == list(risk.BUDGETS)
    assert (f["contacts"] == [round(q * real["customers"]) for q in risk.BUDGETS]).all()
    assert real["ranked"]["blind"] == "days quiet over own gap"
    assert (f["verdict"] != "worse").all()
    assert fake["ranked"]["aware"] == risk.ALIVE_RANKING
    assert (fake["frontier"]["verdict"] != "better").all()
    assert (fake["frontier"]["verdict"] == "worse").sum() >= 3
    # The placebo leaves the blind side as it was; equal contacts cost the same.
    assert np.allclose(fake["frontier"]["blind"], f["blind"])
    assert np.allclose(f["aware"] - f["blind"], f["difference"])


def test_cusum_by_hand():
    base = [0.0, 1.0] * 5  # mean 0.5, standard deviation 0.527
    sd = np.std(base, ddof=1)
    z = (2.0 - 0.5) / sd
    x = np.array(base + [2.0] * 8)
    # Each step adds z - 0.5 = 2.35; the sum passes 5 on the third step, then restarts.
    steps = int(np.floor(5 / (z - 0.5))) + 1
    assert steps == 3
    alarms = risk.cusum(x, baseline=10)
    assert alarms[0] == 10 + steps - 1 and alarms[1] == 10 + 2 * steps - 1
    assert len(risk.cusum(np.r_[base, [0.5] * 30], baseline=10)) == 0  # no change, no alarm
    # Down by 2: each step adds 3.29, so every second point alarms.
    assert list(risk.cusum(np.r_[base, [-1.5] * 5], baseline=10, side="down")) == [11, 13]
    with pytest.raises(ValueError, match="at least 8 points to learn from"):
        risk.cusum([1, 2, 3], baseline=2)
    with pytest.raises(ValueError, match="the baseline does not vary"):
        risk.cusum([1.0] * 12, baseline=10)


def test_p_chart_exact_limits_by_hand():
    from scipy.stats import binom

    # Four weeks of 100 lines with one return each: p = 1%. Five returns in 100 lines
    # have an upper tail of 0.34% (no alarm at 0.135%); six, of 0.054% (an alarm).
    assert binom.sf(4, 100, 0.01) > 0.00135 > binom.sf(5, 100, 0.01)
    chart = risk.p_chart([1, 1, 1, 1, 5, 6, 0], [100] * 7, baseline=4)
    assert list(chart["alarm"]) == [False, True, False]
    assert list(chart["alarm_at"]) == [6, 6, 6]
    # A clean baseline still has a limit (half an event over its lines).
    clean = risk.p_chart([0, 0, 0, 0, 3], [50] * 5, baseline=4)
    assert bool(clean["alarm"].iloc[0]) == (binom.sf(2, 50, 0.5 / 200) < 0.00135)
    with pytest.raises(ValueError, match="0 <= events <= totals"):
        risk.p_chart([5], [3], baseline=4)


def test_drift_threshold_by_simulation():
    """With a long baseline and equal weeks the simulated threshold is Siegmund's
    (Montgomery's table: h = 3.5 gives an ARL of about 250 at k = 0.5); learned from 26
    weeks, the baseline's error needs a higher one for the same false-alarm rate."""
    def siegmund(k, arl):
        from scipy.optimize import brentq
        return brentq(lambda h: (np.expm1(2 * k * (h + 1.166)) - 2 * k * (h + 1.166))
                      / (2 * k * k) - arl, 0.0, 50.0)

    long = risk.drift_threshold(np.ones(3000), 2000, 0.5, 1 / 200, runs=400)
    assert long == pytest.approx(siegmund(0.5, 200), rel=0.08)
    short = risk.drift_threshold(np.ones(126), 26, 0.5, 1 / 200, runs=2000)
    assert short > 1.2 * long


def _shuffled_weeks(orders, calendar, seed):
    """The order lines with festival and promotion weeks dropped and the other weeks put
    in a random order: a stationary series, whatever drifts in the data."""
    busy = set(pd.to_datetime(calendar.loc[calendar["event_kind"].fillna("").astype(str)
                                           != "", S.DATE]).dt.to_period("W-SUN").dt.start_time)
    week = orders[S.TIMESTAMP].dt.to_period("W-SUN").dt.start_time
    keep = ~week.isin(busy)
    orders, week = orders[keep], week[keep]
    weeks = np.sort(week.unique())
    moved = dict(zip(weeks, weeks[np.random.default_rng(seed).permutation(len(weeks))],
                     strict=True))
    return orders.assign(**{S.TIMESTAMP: orders[S.TIMESTAMP] + (week.map(moved) - week)})


def test_share_drift_sees_the_silver_shoppers_move_and_holds_its_false_alarms():
    """The injected category shift moves silver shoppers' electronics preference from 10%
    to 35% of their lines over the three years. Their monitor alarms within a year of the
    preference having moved by min_shift (units lag lines: their food baskets hold more
    units), upwards; the whole business's electronics monitor sees it half a year later
    or never. The threshold aims at one false alarm a year for the 28 charts together:
    with the weeks shuffled (stationary) they raise 2.4 (seed 42) and 1.0 (seed 7). With
    every effect off but the weeks in order they raise 1.0 and 3.0: the personas' mixes
    do wander (customers change habits, join and leave)."""
    from chainsight import datasets, synthetic

    for seed in (42, 7):
        for on in (True, False):
            effects = None if on else {k: 0 for k in synthetic.EFFECTS}
            ds = datasets.load("synthetic", size="default", seed=seed, effects=effects)
            truth = datasets.load_truth("default", seed, effects)
            personas = truth.customers[[S.CUSTOMER_ID, "persona"]].rename(
                columns={"persona": "group"})
            out = risk.share_drift(ds.orders, ds.tables["products"], None, personas,
                                   calendar=ds.tables["calendar"])
            assert len(out) == 4 * 7
            if on:
                silver = out.set_index(["category", "group"]).loc[("electronics",
                                                                   "silver_shopper")]
                total = out.set_index(["category", "group"]).loc[("electronics", "all")]
                days = ds.orders[S.TIMESTAMP].max() - ds.orders[S.TIMESTAMP].min()
                moved = ds.orders[S.TIMESTAMP].min() + days * (0.05 / (0.35 - 0.10))
                assert silver["direction"] == "up"
                assert silver["first_alarm"] <= moved + pd.Timedelta(weeks=52)
                assert pd.isna(total["first_alarm"]) or (
                    total["first_alarm"] >= silver["first_alarm"] + pd.Timedelta(weeks=26))
            else:
                assert out["alarms_per_year"].sum() <= 3.5
                still = risk.share_drift(_shuffled_weeks(ds.orders, ds.tables["calendar"], 5),
                                         ds.tables["products"], None, personas)
                assert still["alarms_per_year"].sum() <= 3.0
    # Without the calendar, festival weeks move the electronics shares of every group.
    loud = risk.share_drift(ds.orders, ds.tables["products"], None, personas)
    assert loud["alarms_per_year"].sum() > out["alarms_per_year"].sum()
    with pytest.raises(ValueError, match="no product of category 'toys'"):
        risk.share_drift(ds.orders, ds.tables["products"], ["toys"])
    ghost = pd.DataFrame({S.CUSTOMER_ID: ["nobody"], "group": ["ghosts"]})
    out = risk.share_drift(ds.orders, ds.tables["products"], ["food"],
                           pd.concat([personas, ghost]), calendar=ds.tables["calendar"])
    assert out.set_index("group").loc["ghosts", "note"] == "no order lines in the weeks watched"
    with pytest.raises(ValueError, match="no order line belongs to a customer in groups"):
        risk.share_drift(ds.orders, ds.tables["products"], None,
                         personas.assign(customer_id="nobody"))


@pytest.mark.parametrize("seed", [42, 1])
def test_quality_monitors_find_the_food_incident_whatever_day_they_start(seed):
    """At its documented strength the generator's food incident is caught within its
    three weeks by both product monitors, on the same day whichever weekday the watch
    starts (15 days on seed 42, 8 on seed 1), with no alarm on any other product in two
    and a half years; the whole business's rate does not see it (one SKU among
    hundreds). Switched off, nothing alarms."""
    from chainsight import datasets

    for strength in (1.0, 0.0):
        effects = {"quality_incident": strength}
        ds = datasets.load("synthetic", size="default", seed=seed, effects=effects)
        truth = datasets.load_truth("default", seed, effects)
        incident = truth.effects["quality_incident"]
        begun = pd.Timestamp(incident["start"])
        personas = truth.customers[[S.CUSTOMER_ID, "persona"]].rename(
            columns={"persona": "segment"})
        until = ds.orders[S.TIMESTAMP].max()
        seen = set()
        for shift in range(7):
            first = pd.Timestamp("2023-07-02") + pd.Timedelta(days=shift)
            for by in (None, personas):
                a = risk.quality_monitors(ds.orders, ds.tables["products"], by, first, until)
                if strength:
                    assert set(a[S.PRODUCT_ID]) == {incident["sku"]}
                    seen.add((a["day"].min() - begun).days + 1)
                else:
                    assert a.empty
        if strength:
            assert len(seen) == 1 and 0 < seen.pop() <= incident["days"]
    total = risk.return_alarms(ds.orders, [], begun - pd.Timedelta(weeks=8),
                               begun + pd.Timedelta(weeks=8))
    assert total.empty
    with pytest.raises(ValueError, match="the data begins"):
        risk.quality_monitors(ds.orders, ds.tables["products"], None, "2023-02-01", until)


def test_quality_comparison_on_injected_incidents():
    """Forty incidents injected (half the product's lines get a problem for three
    weeks, whoever bought them), with the generator's own switched off: both monitors
    catch about the same share, the profile adds next to nothing (the incidents hit
    every buyer alike), no false alarm. An incident on every line is caught more often;
    the money adds up."""
    from chainsight import datasets

    effects = {"quality_incident": 0}
    ds = datasets.load("synthetic", size="default", seed=42, effects=effects)
    personas = datasets.load_truth("default", 42, effects).customers[
        [S.CUSTOMER_ID, "persona"]].rename(columns={"persona": "segment"})
    until = ds.orders[S.TIMESTAMP].max()
    out = risk.quality_comparison(ds.orders, ds.tables["products"], personas, "2023-07-02",
                                  until, investigation_cost=500.0, n_boot=300, seed=3)
    m = out["monitors"]
    assert (m["false_alarms_per_year"] == 0).all()
    assert 0.1 < m.loc["profile-blind", "caught"] < 0.6
    # Across seeds the verdict wanders (better on one, worse on another) around a few
    # percent: the segments' rates barely move a product's expected rate.
    assert abs(m.loc["profile-aware", "caught"] - m.loc["profile-blind", "caught"]) <= 0.05
    assert abs(out["value"].difference) < 0.05 * out["value"].blind
    assert out["value"].n_units == 40
    for per in out["incidents"].values():
        assert np.allclose(per["cost"], per["problem_value"] + 500.0 * per["caught"])
        assert (per["days_to_alarm"].dropna() <= 21).all()
    sure = risk.quality_comparison(ds.orders, ds.tables["products"], None, "2023-07-02",
                                   until, 500.0, incidents=10, incident_rate=1.0, n_boot=100)
    # Even so, a product with a handful of lines in three weeks cannot be told apart.
    assert (sure["monitors"]["caught"] > m["caught"].max()).all()
    assert sure["monitors"]["caught"].min() >= 0.6
    with pytest.raises(ValueError, match="incident_rate in"):
        risk.quality_comparison(ds.orders, ds.tables["products"], None, "2023-07-02", until,
                                500.0, incident_rate=0.0)


def test_time_to_survive_by_hand():
    """Two warehouses serve two cities (10 and 20 units a day). A makes 15 a day and
    holds 60; B makes 10 a day and holds 100 and can serve only city 2."""
    demand, capacity, inventory = [10.0, 20.0], [15.0, 10.0], [60.0, 100.0]
    arcs = [[True, False], [True, True]]
    # B down: A alone must cover 30 a day with 15 a day and 60 in stock: 60 + 15t = 30t,
    # t = 4 days.
    t, flows = risk.time_to_survive(demand, capacity, inventory, arcs, down=1)
    assert t == pytest.approx(4.0)
    assert flows[:, 1].sum() == 0 and flows.sum(axis=1) == pytest.approx([40.0, 80.0])
    # A down: city 1 has no other warehouse, so the network fails at once.
    t, _ = risk.time_to_survive(demand, capacity, inventory, arcs, down=0)
    assert t == 0.0
    # With an arc from B to city 1 as well, B alone must cover 30 a day with 10 a day
    # and 100 in stock: 100 + 10t = 30t, t = 5.
    t, _ = risk.time_to_survive(demand, capacity, inventory, [[True, True], [True, True]],
                                down=0)
    assert t == pytest.approx(5.0)
    # Enough capacity left: survives to the horizon.
    t, _ = risk.time_to_survive([1.0, 1.0], [5.0, 5.0], [0.0, 0.0], [[True, True]] * 2,
                                down=0, horizon=365)
    assert t == 365
    with pytest.raises(ValueError, match=r"node \[5\] is not one of the 2 nodes"):
        risk.time_to_survive(demand, capacity, inventory, arcs, down=5)


def _two_sites():
    return {"nodes": ["A", "B"], "demand": np.array([10.0, 20.0]),
            "capacity": np.array([15.0, 10.0]), "inventory": np.array([60.0, 100.0]),
            "can_serve": np.array([[True, False], [True, True]]),
            "clv": np.array([1000.0, 4000.0]),
            "backups": {"nodes": ["C"], "capacity": np.array([20.0]),
                        "can_serve": np.array([[True], [True]])}}


def test_outage_losses_by_hand():
    net = _two_sites()
    # B down, stock gone: A's 15 a day go to whoever counts more per unit.
    first_city = risk.unmet_per_day(net["demand"], net["capacity"], net["can_serve"], [1],
                                    weight=[5.0, 1.0])
    assert list(first_city) == pytest.approx([0.0, 15.0])
    second_city = risk.unmet_per_day(net["demand"], net["capacity"], net["can_serve"], [1],
                                     weight=[1.0, 5.0])
    assert list(second_city) == pytest.approx([10.0, 5.0])
    # Ten days without B: the network survives 4 (60 + 15t = 30t), then 6 days short.
    # Serving city 1 first leaves 75% of city 2 unserved: 0.5 x 4,000 x 0.75 = 1,500 CLV
    # lost; serving by value per unit (city 2: 200 a unit, city 1: 100) loses 0.5 x
    # (1,000 x 100% + 4,000 x 25%) = 1,000. Three days without B cost nothing.
    scen = [(np.array([1]), 10.0), (np.array([1]), 3.0), (np.array([], dtype=int), 50.0)]
    units = risk.outage_losses(net, scen, weight=[5.0, 1.0], churn=0.5, churn_days=1)
    value = risk.outage_losses(net, scen, weight=net["clv"] / net["demand"], churn=0.5,
                               churn_days=1)
    assert list(units["survive_days"])[:2] == pytest.approx([4.0, 4.0])
    assert list(units["lost_clv"]) == pytest.approx([1500.0, 0.0, 0.0])
    assert list(value["lost_clv"]) == pytest.approx([1000.0, 0.0, 0.0])
    assert list(units["lost_units"]) == pytest.approx([90.0, 0.0, 0.0])
    assert units["down"].iloc[0] == "B" and units["down"].iloc[2] == ""
    # A down for 15 days: city 1 has no other site and is cut off at once (150 units);
    # B carries city 2 for 10 days (100 + 10t = 20t), then misses 10 a day for 5 days.
    cut = risk.outage_losses(net, [(np.array([0]), 15.0)], churn=0.5, churn_days=1).iloc[0]
    assert cut["cut_off_share"] == pytest.approx(10 / 30) and cut["survive_days"] == 10
    assert cut["lost_units"] == pytest.approx(150 + 50)
    assert cut["lost_clv"] == pytest.approx(0.5 * (1000 * 1.0 + 4000 * 10 / 20))
    # Customers leave in full only after churn_days without delivery: with 30, city 1
    # (15 days cut off) counts half, city 2 (5 days short) a sixth.
    slow = risk.outage_losses(net, [(np.array([0]), 15.0)], churn=0.5).iloc[0]
    assert slow["lost_clv"] == pytest.approx(0.5 * (1000 * 0.5 + 4000 * 0.5 * 5 / 30))
    # A backup C (20 a day, both cities) carries the demand through any outage of B.
    backed = risk.outage_losses(risk.with_backup(net, 0), scen, churn=0.5)
    assert (backed["lost_clv"] == 0).all() and backed["survive_days"].iloc[0] == 365


def test_outage_scenarios_are_seeded_and_checked():
    a = risk.outage_scenarios(3, 200, 0.1, 20.0, seed=1)
    b = risk.outage_scenarios(3, 200, 0.1, 20.0, seed=1)
    assert all((x[0] == y[0]).all() and x[1] == y[1] for x, y in zip(a, b, strict=True))
    share_down = np.mean([len(d) for d, _ in a]) / 3
    assert 0.05 < share_down < 0.15
    with pytest.raises(ValueError, match="p_down must lie in"):
        risk.outage_scenarios(3, 10, 1.5, 20.0)


def test_named_outages_are_drawn_as_given_and_bad_tables_are_named():
    table = [{"down": "W01", "probability": 0.1, "mean_days": 20},
             {"down": "W01, W02", "probability": 0.05, "mean_days": 40},
             {"down": "", "probability": 0.85, "mean_days": 0}]
    draws = risk.named_outages(["W01", "W02", "W03"], table, 4000, seed=3)
    both = np.mean([list(d) == [0, 1] for d, _ in draws])
    none = np.mean([len(d) == 0 for d, _ in draws])
    assert 0.04 < both < 0.06 and 0.83 < none < 0.87
    assert 30 < np.mean([t for d, t in draws if len(d) == 2]) < 50  # 4 standard errors
    with pytest.raises(ValueError, match="add up to 1.*they add up to 0.95"):
        risk.named_outages(["W01", "W02"], table[:2] + [{**table[2], "probability": 0.8}], 10)
    with pytest.raises(ValueError, match="mean_days must be a positive number"):
        risk.named_outages(["W01"], [{"down": "W01", "probability": 1.0, "mean_days": None}], 5)
    # An outcome that never happens needs no length.
    assert len(risk.named_outages(["W01"], [{"down": "W01", "probability": 0.0, "mean_days": 0},
                                            {"down": "", "probability": 1.0, "mean_days": 0}],
                                  5)) == 5
    with pytest.raises(ValueError, match="row 1 names 'W09', which is not one of the nodes"):
        risk.named_outages(["W01", "W02"], [table[0], {**table[1], "down": "W09"}, table[2]], 10)


def test_city_clusters_by_hand():
    customers = pd.DataFrame({S.CITY: ["Shanghai", "Shanghai", "Suzhou", "Urumqi"],
                              S.LON: [121.47, 121.47, 120.58, 87.62],
                              S.LAT: [31.23, 31.23, 31.30, 43.83]})
    region = risk.city_clusters(customers, cluster_km=500)
    assert region.to_dict() == {"Shanghai": "Shanghai area", "Suzhou": "Shanghai area",
                                "Urumqi": "Urumqi area"}
    assert risk.city_clusters(customers, cluster_km=10_000).nunique() == 1


def test_segment_exposure_by_hand():
    """City X (segment 1, 1 a day of revenue, CLV 100) is reached only by site N1; city Y
    (segment 2, 2 a day, CLV 200) by both. A 30-day outage, churn 0.3, stock for 14 days:
    N1 cuts X off (30 of revenue, 0.3 x 100 of CLV); N2 costs nothing (N1 has room); X's
    supplier loses 16 days of its sales (16) and 0.3 x 100 x 16/30 of CLV; the region of X
    all of X's."""
    day = pd.Timestamp("2024-01-02")  # the first day of the year before 2025-01-01
    orders = pd.DataFrame({S.CUSTOMER_ID: ["A", "B"], S.PRODUCT_ID: ["P1", "P2"],
                           S.TIMESTAMP: [day, day], S.QUANTITY: [1, 2],
                           S.UNIT_PRICE: [365.0, 365.0]})
    customers = pd.DataFrame({S.CUSTOMER_ID: ["A", "B"], S.CITY: ["X", "Y"],
                              S.LON: [100.0, 120.0], S.LAT: [30.0, 30.0]})
    products = pd.DataFrame({S.PRODUCT_ID: ["P1", "P2"], S.SUPPLIER: ["S1", "S2"]})
    segments = pd.DataFrame({S.CUSTOMER_ID: ["A", "B"], "segment": [1, 2]})
    clv = pd.Series({"A": 100.0, "B": 200.0})
    network = {"nodes": ["N1", "N2"], "cities": ["X", "Y"], "demand": np.array([1.0, 2.0]),
               "clv": np.array([100.0, 200.0]), "capacity": np.array([10.0, 10.0]),
               "inventory": np.zeros(2), "can_serve": np.array([[True, False], [True, True]])}
    out = risk.segment_exposure(orders, customers, products, segments, clv, network,
                                "2025-01-01", days=30.0, cover_days=14.0, churn=0.3)
    got = out.set_index(["kind", "node", "segment"]).sort_index()
    assert got.loc[("site", "N1", "1"), ["revenue_lost", "clv_lost"]].tolist() == \
        pytest.approx([30.0, 30.0])
    assert got.loc[("site", "N1", "1"), "survive_days"] == 0.0
    assert got.loc[("site", "N2"), "revenue_lost"].sum() == pytest.approx(0.0)
    assert got.loc[("site", "N2", "2"), "survive_days"] == 365.0
    assert got.loc[("supplier", "S1", "1"), ["revenue_lost", "clv_lost"]].tolist() == \
        pytest.approx([16.0, 16.0])
    assert got.loc[("region", "X area", "1"), ["revenue_lost", "clv_lost"]].tolist() == \
        pytest.approx([30.0, 30.0])
    assert got.loc[("region", "Y area", "2"), "revenue_lost"] == pytest.approx(60.0)
    with pytest.raises(ValueError, match="appear more than once in segments"):
        risk.segment_exposure(orders, customers, products, pd.concat([segments, segments]),
                              clv, network, "2025-01-01", days=30.0)
    with pytest.raises(ValueError, match="none of the customers' cities is a city"):
        risk.segment_exposure(orders, customers, products, segments, clv,
                              {**network, "cities": ["P", "Q"]}, "2025-01-01", days=30.0)
    with pytest.raises(ValueError, match="down takes node positions"):
        risk.time_to_survive([1.0], [1.0, 1.0], [0.0, 0.0], [[True, True]], down="N1")
    # Half a year of data: its revenue is spread over the 181 days it covers.
    half = risk.segment_exposure(orders, customers, products, segments, clv, network,
                                 "2024-07-01", days=30.0).set_index(["kind", "node"]).sort_index()
    assert half.loc[("region", "X area"), "revenue_lost"].sum() == pytest.approx(365 / 181 * 30)
    with pytest.raises(ValueError, match="a stress test needs at least 28 days"):
        risk.segment_exposure(orders, customers, products, segments, clv, network,
                              "2024-01-20", days=30.0)


def test_outage_network_and_backup_choice_on_the_synthetic_retailer():
    from chainsight import datasets

    ds = datasets.load("synthetic", size="small", seed=42)
    customers, sites = ds.tables["customers"], ds.tables["sites"]
    value = pd.Series(1.0, index=customers[S.CUSTOMER_ID])  # one unit of CLV each
    net = risk.outage_network(ds.orders, customers, sites, value, "2025-01-01")
    cur = sites["current"].astype(bool)
    assert net["nodes"] == list(sites.loc[cur, S.SITE_ID])
    assert net["clv"].sum() == pytest.approx(
        customers[S.CITY].isin(net["cities"]).sum())  # every customer's CLV in a city
    year = ds.orders[(ds.orders[S.TIMESTAMP] >= "2024-01-02")
                     & (ds.orders[S.TIMESTAMP] < "2025-01-01")]
    assert net["demand"].sum() == pytest.approx(year[S.QUANTITY].sum() * 100 / 365)
    assert net["revenue"].sum() == pytest.approx((year[S.QUANTITY] * year[S.UNIT_PRICE]).sum())
    assert net["inventory"].sum() == pytest.approx(14 * net["demand"].sum())
    choose = risk.outage_scenarios(len(net["nodes"]), 100, 0.1, 30.0, seed=2)
    judge = risk.outage_scenarios(len(net["nodes"]), 100, 0.1, 30.0, seed=3)
    r = risk.mitigation_comparison(net, choose, judge, n_boot=200)
    options = r["candidates"]
    assert list(options["backup"])[0] == "no backup"
    assert options["fixed_cost"].is_monotonic_increasing
    assert set(r["chosen"].values()) <= set(options["backup"])
    assert r["value"].n_units == 100 and (r["cost"] >= 0).all().all()
    best = options.set_index("backup")
    for side in ("blind", "aware"):
        assert best.loc[r["chosen"][side], f"expected_cost_{side}"] == pytest.approx(
            best[f"expected_cost_{side}"].min())
    # A year's cost is the backup's fixed cost plus the CLV lost, at the business's scale.
    fixed = best.loc[r["chosen"]["aware"], "fixed_cost"]
    assert (r["cost"]["aware"] >= fixed).all()
    # A free backup that reaches every city is chosen by both; a dear one by neither.
    free = {**net, "backups": {**net["backups"],
                               "fixed_cost": np.zeros(len(net["backups"]["nodes"]))}}
    assert "no backup" not in risk.mitigation_comparison(free, choose, judge,
                                                         n_boot=50)["chosen"].values()
    # The blind side values a lost customer at a year of their margin: with no revenue
    # on record it sees nothing to protect and keeps to the cheapest option.
    unseen = risk.mitigation_comparison({**free, "revenue": np.zeros(len(net["cities"]))},
                                        choose, judge, n_boot=50)["chosen"]
    assert unseen["blind"] == "no backup" and unseen["aware"] != "no backup"
    dear = {**net, "backups": {**net["backups"],
                               "fixed_cost": np.full(len(net["backups"]["nodes"]), 1e12)}}
    assert set(risk.mitigation_comparison(dear, choose, judge, n_boot=50)["chosen"].values()
               ) == {"no backup"}
    with pytest.raises(ValueError, match="no site is marked current"):
        risk.outage_network(ds.orders, customers, sites.assign(current=False), value,
                            "2025-01-01")
