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


def test_simulator_counts_only_orders_with_a_quantity():
    # s == S and no demand: the position sits at s every period, and nothing is ordered.
    idle = inventory.simulate(np.zeros((1, 10)), lead_time=2, reorder_point=5, order_up_to=5)
    assert idle.orders[0] == 0 and idle.on_hand[0, -1] == 5
    # One sale: one order to bring the position back to S.
    demand = np.zeros((1, 10))
    demand[0, 3] = 2
    once = inventory.simulate(demand, lead_time=2, reorder_point=5, order_up_to=5)
    assert once.orders[0] == 1 and once.on_hand[0, -1] == 5


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
    # A lead time shorter than a period: 20 units a day (Poisson), forecast by week, a
    # 3-day lead time. Its 95% quantile covers 95% of 3-day demand, not the 86% that
    # scaling the weekly error by 3/7 would give.
    rng = np.random.default_rng(1)
    errors = rng.poisson(140, 5000) - 140.0
    q95 = np.quantile(inventory.lead_time_demand_samples([140.0], errors, 3, 20000), 0.95)
    assert stats.poisson.cdf(q95, 60) == pytest.approx(0.95, abs=0.015)


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


START = "2025-07-07"
TARGETS = {1: 0.95, 2: 0.95}
OFF = {"acquisition_shift": 0, "customisation_ramp": 0, "category_shift": 0,
       "quality_incident": 0}


@pytest.fixture(scope="module")
def run():
    """Notebook 03's comparison on the small synthetic retailer (effects at 1)."""
    return inventory.effects_control(None, size="small", seed=42, holdout_start=START,
                                     segment_targets=TARGETS)


def test_policy_comparison_mechanics(run):
    pol = run["policies"].set_index("policy")
    assert run["blind"] in ("uniform + pre-build", "uniform")
    assert run["aware"] in ("profile + pre-build", "profile")
    assert list(pol.index[:5]) == list(inventory.FAMILIES)
    assert pol.loc[run["blind"], "role"] == "profile-blind"
    assert pol.loc[run["aware"], "role"] == "profile-aware"
    assert pol[["fill_rate", "top_tier_fill_rate", "other_fill_rate"]].stack().between(0, 1).all()
    assert np.allclose(pol["total_cost"], pol["holding_cost"] + pol["lost_margin"])
    # The per-SKU figures the intervals resample add up to the policy totals.
    sums = run["per_sku"].groupby("policy")[["total_cost", "lost_margin"]].sum()
    assert np.allclose(sums.loc[pol.index], pol[["total_cost", "lost_margin"]])
    front = run["frontier"]
    uni = front[front["policy"] == "uniform"].sort_values("target")
    assert uni["holding_cost"].is_monotonic_increasing and uni["fill_rate"].is_monotonic_increasing
    tiers = run["tiers"].set_index("segment")
    assert tiers.loc[1, "tier"] == tiers.loc[2, "tier"] == 0 and tiers.loc["new", "tier"] == 1
    pb = run["prebuild"]
    assert set(pb["event"]) == {"National Day", "Double 11", "Double 12"}
    assert set(pb["prebuild"]) == {"calendar", "segment"} and (pb["build"] >= 0).all()
    daily = run["daily"]
    lost = daily[daily["festival"]].groupby("policy")["lost_units"].sum()
    assert lost["uniform + pre-build"] == pytest.approx(
        pol.loc["uniform + pre-build", "festival_lost_units"])
    # The pre-build (the calendar's, given to the blind side) cuts festival-day lost sales.
    assert pol.loc["uniform + pre-build", "festival_lost_units"] < 0.5 * pol.loc[
        "uniform", "festival_lost_units"]


def test_targets_are_tuned_on_the_validation_window_only(run):
    tuning, val = run["tuning"], run["validation"]
    assert tuning["tuned"] and str(tuning["validation_end"].date()) == "2025-07-06"
    assert set(val["policy"]) == {"uniform", "uniform + pre-build", "profile",
                                  "profile + pre-build"}
    # Each side is the family and target of least total cost on the validation window.
    for side, kind in ((run["blind"], "uniform"), (run["aware"], "profile")):
        v = val[val["policy"].str.startswith(kind)]
        best = v.loc[v["total_cost"].idxmin()]
        assert side == best["policy"] and tuning["targets"][side] == best["target"]
    # The validation replay sees no holdout demand: its figures differ from the holdout's.
    assert not np.allclose(val["total_cost"].to_numpy(), run["frontier"].set_index(
        ["policy", "target"]).loc[list(zip(val["policy"], val["target"], strict=True)),
                                  "total_cost"].to_numpy())
    # Equal holding cost: the blind run sits at the aware policy's holding cost.
    pol = run["policies"].set_index("policy")
    eq = pol.loc[f"{run['blind']}, equal holding cost", "holding_cost"]
    assert eq == pytest.approx(pol.loc[run["aware"], "holding_cost"], rel=0.03)


def test_paired_comparisons_over_skus(run):
    p, pol = run["paired"], run["policies"].set_index("policy")
    assert {"total_cost", "lost_margin", "fill_rate", "top_tier_fill_rate",
            "total_cost_equal_holding", "service_tiers", "calendar_prebuild",
            "segment_prebuild"} == set(p)
    assert all(x.unit == "SKU" and x.n_units == len(run["skus"]) for x in p.values())
    assert p["total_cost"].blind == pytest.approx(pol.loc[run["blind"], "total_cost"])
    assert p["total_cost"].aware == pytest.approx(pol.loc[run["aware"], "total_cost"])
    assert p["fill_rate"].aware == pytest.approx(pol.loc[run["aware"], "fill_rate"])
    assert p["calendar_prebuild"].blind == pytest.approx(pol.loc["uniform", "total_cost"])
    assert p["total_cost"].lo <= p["total_cost"].difference <= p["total_cost"].hi


def test_segment_prebuild_with_one_segment_is_the_calendar_prebuild():
    """Attribution: with every customer in one segment the pre-build by segment is the
    pre-build without segments, so the profile's part of it is exactly zero."""
    from chainsight import datasets
    from chainsight import schema as S

    ds = datasets.load("synthetic", size="small", seed=42)
    products = inventory.top_products(ds.orders, ds.tables["products"], START, 300)
    one = ds.tables["customers"][[S.CUSTOMER_ID]].assign(segment=1)
    train = ds.orders[ds.orders[S.TIMESTAMP] < START]
    r = inventory.policy_comparison(ds.orders, products, one, START, {1: 0.95},
                                    calendar=ds.tables["calendar"], validation_weeks=400,
                                    demand=inventory.lead_time_demand(train, products))
    pb = r["prebuild"].pivot_table(index=["event", "product_id"], columns="prebuild",
                                   values="build")
    assert np.allclose(pb["calendar"], pb["segment"])
    assert r["paired"]["segment_prebuild"].difference == pytest.approx(0, abs=1e-6)
    assert r["paired"]["segment_prebuild"].verdict == "no measurable difference"
    # No history before the validation window: the targets are the parameters.
    assert not r["tuning"]["tuned"] and r["tuning"]["targets"][r["blind"]] == 0.95


def test_negative_control_profile_not_better_with_effects_off():
    """With every injected effect off, the profile-aware policy does not come out
    better than the blind one on total cost (the negative control)."""
    r = inventory.effects_control(OFF, size="small", seed=42, holdout_start=START,
                                  segment_targets=TARGETS)
    assert r["paired"]["total_cost"].verdict != "better"


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
