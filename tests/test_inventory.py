"""Inventory: textbook values (Snyder & Shen) and the simulator on known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from chainsight import inventory


def test_eoq_example_3_1():
    q, cost = inventory.eoq(fixed_cost=8, holding_cost=0.225, demand_rate=1300)
    assert q == pytest.approx(304.0468, abs=1e-3)
    assert cost == pytest.approx(68.4105, abs=1e-3)


def test_newsvendor_example_4_3():
    s, cost = inventory.newsvendor_normal(mean=50, sd=8, overage=0.18, underage=0.7)
    assert s == pytest.approx(56.6040, abs=1e-3)
    assert cost == pytest.approx(1.9976, abs=1e-3)


def test_newsvendor_from_samples_matches_the_normal_case():
    samples = stats.norm.ppf(np.linspace(0.00005, 0.99995, 20001), 50, 8)
    q = inventory.newsvendor_quantity(samples, overage=0.18, underage=0.7)
    assert q == pytest.approx(56.6040, abs=0.01)
    with pytest.raises(ValueError, match="at least one"):
        inventory.newsvendor_quantity([], 1, 1)


def test_ss_example_4_7():
    pmf = stats.poisson.pmf(np.arange(60), 6)
    assert inventory.ss_cost(4, 10, pmf, holding=1, penalty=4, fixed=5) == pytest.approx(
        8.0341, abs=1e-3)
    s, S, cost = inventory.optimal_ss(pmf, holding=1, penalty=4, fixed=5)
    assert (s, S) == (4, 10) and cost == pytest.approx(8.0341, abs=1e-3)


def test_simulator_known_answer():
    days, d, lead = 120, 5.0, 4
    demand = np.full((2, days), d)
    # SKU 0 reorders at the lead-time demand; SKU 1 one unit lower.
    res = inventory.simulate(demand, lead_time=lead, reorder_point=[d * lead, d * lead - 1],
                             order_up_to=100)
    assert res.lost[0] == 0 and res.stockout_days[0] == 0 and res.fill_rate[0] == 1
    assert res.lost[1] > 0 and res.stockout_days[1] > 0
    assert res.served.sum() + res.lost.sum() == demand.sum()
    assert res.orders[0] > 0 and (res.on_hand >= 0).all()


def test_simulator_periodic_review_and_vectorised_shapes():
    rng = np.random.default_rng(0)
    demand = rng.poisson(3, size=(50, 365)).astype(float)
    res = inventory.simulate(demand, lead_time=rng.integers(1, 10, 50), reorder_point=40,
                             order_up_to=80, review_period=7)
    assert res.on_hand.shape == (50, 365)
    assert np.allclose(res.served + res.lost, demand.sum(axis=1))
    assert (res.orders <= 365 // 7 + 1).all()
    summary = res.summary(unit_holding_cost_per_day=0.01)
    assert len(summary) == 50 and summary["fill_rate"].between(0, 1).all()
    with pytest.raises(ValueError, match="order-up-to"):
        inventory.simulate(demand, 2, reorder_point=10, order_up_to=5)


def test_abc_xyz_by_hand():
    import pandas as pd

    weeks = pd.date_range("2024-01-01", periods=4, freq="W-MON")
    panel = pd.DataFrame({"unique_id": np.repeat(["a", "b", "c"], 4), "ds": np.tile(weeks, 3),
                          "y": [10, 10, 10, 10, 0, 20, 0, 20, 1, 0, 0, 9.0]})
    revenue = pd.Series({"a": 80.0, "b": 15.0, "c": 5.0})
    out = inventory.abc_xyz(panel, revenue).set_index("unique_id")
    assert out.loc["a", "abc"] == "A" and out.loc["b", "abc"] == "B"
    assert out.loc["c", "abc"] == "C"
    assert out.loc["a", "xyz"] == "X" and out.loc["b", "xyz"] == "Z"
    assert out.loc["a", "class"] == "AX"


def test_lead_time_demand_from_errors():
    samples = inventory.lead_time_demand_samples(np.full(3, 100.0), errors=[-10.0, 10.0],
                                                 lead_time_days=14, n_samples=4000)
    assert samples.min() >= 180 and samples.max() <= 220 and samples.mean() == pytest.approx(
        200, abs=2)
    half = inventory.lead_time_demand_samples([100.0], [0.0], lead_time_days=3.5)
    assert np.allclose(half, 50)
    with pytest.raises(ValueError, match="backtest errors"):
        inventory.lead_time_demand_samples([1.0], [], 7)


def test_service_tiers_from_the_mapping():
    tiers = inventory.service_tiers({1: 0.98, "2": 0.95}, [1, 2, 3], default=0.90)
    assert tiers.set_index("segment")["tier"].to_dict() == {1: 0, 2: 1, 3: 2, "new": 2}
    assert tiers.set_index("segment").loc["new", "target"] == 0.90
    with pytest.raises(ValueError, match="strictly between 0 and 1: 1: 1.0"):
        inventory.service_tiers({1: 1.0}, [1, 2])


def test_critical_levels_by_hand():
    samples = np.linspace(0, 100, 100001)[None]  # lead-time demand, evenly 0..100
    s, reserve = inventory.critical_levels(samples, [[0.25], [0.75]], [0.98, 0.90])
    assert s[0] == pytest.approx(92) and reserve[:, 0] == pytest.approx([0, 2])
    # Three tiers: each tier runs short exactly at its own quantile in the fluid picture.
    shares, q = np.array([0.2, 0.3, 0.5]), np.array([99.0, 95.0, 90.0])
    s, reserve = inventory.critical_levels(samples, shares[:, None], [0.99, 0.95, 0.90])
    c = reserve[:, 0]
    assert c == pytest.approx([0, 0.8, 3.3]) and s[0] == pytest.approx(93.3)
    A = np.cumsum(shares)
    x2 = s[0] - c[2]
    x1 = x2 + (c[2] - c[1]) / A[1]
    x0 = x1 + (c[1] - c[0]) / A[0]
    assert [x0, x1, x2] == pytest.approx(q)
    with pytest.raises(ValueError, match="highest to lowest"):
        inventory.critical_levels(samples, [[0.5], [0.5]], [0.90, 0.98])


def test_simulator_reserve_keeps_stock_for_the_first_class():
    # No replenishment, 20 units: class 0 wants 2 a day, class 1 wants 3 a day but is
    # served only from the stock above 10.
    demand = np.zeros((2, 1, 8))
    demand[0], demand[1] = 2.0, 3.0
    res = inventory.simulate(demand, lead_time=0, reorder_point=-1, order_up_to=-1,
                             initial=20, reserve=[[0], [10]])
    assert res.class_served[:, 0].tolist() == [14, 6]
    assert res.class_fill_rate[:, 0] == pytest.approx([14 / 16, 6 / 24])
    assert res.lost_by_day.sum() == res.lost.sum() == 40 - 20
    plain = inventory.simulate(demand, lead_time=0, reorder_point=-1, order_up_to=-1,
                               initial=20)
    assert plain.class_served[0, 0] < 14


def test_simulator_levels_that_change_over_time():
    days = 20
    s = np.full((1, days), -1.0)
    S = np.full((1, days), 0.0)
    s[0, 5], S[0, 5] = 50, 50  # a build ordered on day 5 only
    res = inventory.simulate(np.zeros((1, days)), lead_time=3, reorder_point=s, order_up_to=S,
                             initial=0)
    assert res.on_hand[0, 8] == 0 and res.on_hand[0, 9] == 50 and res.orders[0] == 1
    with pytest.raises(ValueError, match=r"shape \(1, 20\)"):
        inventory.simulate(np.zeros((1, days)), 3, s[:, :5], S[:, :5])


def test_festival_windows_split_runs():
    import pandas as pd

    dates = pd.date_range("2024-11-01", "2025-11-12")
    cal = pd.DataFrame({"date": dates, "event": "", "event_kind": ""})
    for year in (2024, 2025):
        days = (dates >= f"{year}-11-09") & (dates <= f"{year}-11-11")
        cal.loc[days, ["event", "event_kind"]] = ["Double 11", "festival"]
    cal.loc[dates == "2025-03-01", ["event", "event_kind"]] = ["Brand day", "promotion"]
    w = inventory.festival_windows(cal)
    assert w["event"].tolist() == ["Double 11", "Double 11"]
    assert w["days"].tolist() == [3, 3] and str(w["first"].iloc[1].date()) == "2025-11-09"


def test_prebuild_quantity_by_hand():
    samples = np.arange(0, 101)  # 0..100 units, evenly
    r = inventory.prebuild_quantity(samples, unit_cost=60, price=100, salvage_value=20)
    assert r["overage"] == 40 and r["underage"] == 40 and r["critical_ratio"] == 0.5
    assert r["quantity"] == pytest.approx(50)
    # Food that expires before it can be sold after the festival is worth nothing after.
    food = inventory.prebuild_quantity(samples, unit_cost=60, price=100, salvage_value=20,
                                       shelf_life_days=10, sell_through_days=30)
    assert food["overage"] == 60 and food["quantity"] < r["quantity"]
    marked = inventory.prebuild_quantity(samples, unit_cost=60, price=100, markdown=0.3)
    assert marked["overage"] == pytest.approx(0) and marked["quantity"] == pytest.approx(100)


def test_inventory_health_by_hand():
    on_hand = np.array([[100.0, 90, 80, 70], [50, 50, 50, 50]])
    demand = np.array([[10.0, 10, 10, 10], [0, 0, 0, 0]])
    h = inventory.inventory_health(on_hand, demand, unit_cost=[2.0, 5.0], excess_days=3,
                                   obsolete_days=4)
    assert h.loc[0, "days_of_supply"] == 7 and h.loc[0, "excess_units"] == 40
    assert h.loc[0, "turnover"] == pytest.approx(40 * 2 * 365 / 4 / (85 * 2))
    assert h.loc[1, "obsolete_units"] == 50 and h.loc[1, "obsolete_value"] == 250
    assert h.loc[0, "obsolete_units"] == 0


def _policies(size, **kw):
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size=size, seed=42)
    prof = profiling.build_profile(ds, as_of="2025-07-06")
    segs = prof.segments_for(ds.tables["customers"])
    return inventory.policy_comparison(ds.orders, ds.tables["products"], segs, "2025-07-07",
                                       {1: 0.95, 2: 0.95}, calendar=ds.tables["calendar"], **kw)


def test_policy_comparison_mechanics():
    r = _policies("small", frontier=(0.8, 0.9, 0.95, 0.99))
    pol = r["policies"].set_index("policy")
    assert list(pol.index) == ["uniform 95%", "profile-differentiated",
                               "profile + festival pre-build"]
    assert pol[["fill_rate", "top_tier_fill_rate", "other_fill_rate"]].stack().between(0, 1).all()
    assert (pol["holding_cost"] > 0).all()
    uni = r["frontier"][r["frontier"]["policy"] == "uniform"]
    assert uni["holding_cost"].is_monotonic_increasing and uni["fill_rate"].is_monotonic_increasing
    profile = r["frontier"][r["frontier"]["policy"] == "profile"]
    assert profile["target"].tolist() == [0.95, 0.99]
    tiers = r["tiers"].set_index("segment")
    assert tiers.loc[1, "tier"] == tiers.loc[2, "tier"] == 0 and tiers.loc["new", "tier"] == 1
    assert {"segment", "tier", "target", "uniform 95%"} <= set(r["by_segment"].columns)
    skus = r["skus"]
    assert (skus["reserved_stock"] >= 0).all() and skus["top_tier_share"].between(0, 1).all()
    assert set(r["prebuild"]["event"]) == {"National Day", "Double 11", "Double 12"}
    assert (r["prebuild"]["build"] >= 0).all()
    daily = r["daily"]
    assert daily.groupby("policy").size().nunique() == 1 and len(daily) % 3 == 0
    assert daily["festival"].any() and (pol["turnover"] > 0).all()
    # Festival days are where the pre-build policy loses less.
    lost = daily[daily["festival"]].groupby("policy")["lost_units"].sum()
    assert lost["profile + festival pre-build"] == pytest.approx(
        pol.loc["profile + festival pre-build", "festival_lost_units"])


def test_profile_policy_protects_the_valuable_segments_for_less():
    """The inventory acceptance on 8,000 customers: the top-value segments get at least
    the uniform policy's fill rate at a lower holding cost, and the festival pre-build
    cuts the festival-day lost sales."""
    r = _policies(8000)
    pol = r["policies"].set_index("policy")
    uni, pro = pol.loc["uniform 95%"], pol.loc["profile-differentiated"]
    assert pro["top_tier_fill_rate"] >= uni["top_tier_fill_rate"]
    assert pro["holding_cost"] < uni["holding_cost"]
    pre = pol.loc["profile + festival pre-build"]
    assert pre["festival_lost_units"] < 0.5 * pro["festival_lost_units"]
    h = r["headline"]
    assert h["profile_top_tier_fill_rate_at_equal_cost"] > h["uniform_top_tier_fill_rate"]
    assert h["profile_holding_cost_at_equal_fill"] < h["uniform_holding_cost"]


def test_policy_comparison_needs_prices_or_costs(small):
    from chainsight import schema as S

    products = small.tables()["products"].drop(columns=[S.UNIT_COST, S.UNIT_PRICE])
    segs = small.tables()["customers"][[S.CUSTOMER_ID]].assign(segment=1)
    with pytest.raises(S.DataContractError, match="unit_cost or unit_price"):
        inventory.policy_comparison(small.orders, products, segs, "2025-07-07", {1: 0.95})


def test_policy_comparison_rejects_demand_for_other_products(small):
    from chainsight import schema as S

    products = small.tables()["products"]
    train = small.orders[small.orders[S.TIMESTAMP] < "2025-07-07"]
    ltd = inventory.lead_time_demand(train, products.head(5))
    assert ltd.samples.shape == (5, 1000)
    assert (ltd.reorder_points(0.9) <= ltd.reorder_points(0.99)).all()
    segs = small.tables()["customers"][[S.CUSTOMER_ID]].assign(segment=1)
    with pytest.raises(ValueError, match="other products"):
        inventory.policy_comparison(small.orders, products, segs, "2025-07-07", {1: 0.95},
                                    demand=ltd)
