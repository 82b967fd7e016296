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


def test_service_targets_follow_the_buyers():
    import pandas as pd

    shares = pd.DataFrame({1: [1.0, 0.5, 0.0], 2: [0.0, 0.5, 0.0]}, index=["x", "y", "z"])
    t = inventory.service_targets(shares, {1: 0.98, 2: 0.90}, default=0.85)
    assert t["x"] == pytest.approx(0.98) and t["y"] == pytest.approx(0.94)
    assert t["z"] == pytest.approx(0.85)


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


def test_policy_comparison_mechanics():
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size="small", seed=42)
    prof = profiling.build_profile(ds, as_of="2025-07-06")
    segs = prof.segments_for(ds.tables["customers"])
    targets = {s: (0.99 if s == 1 else 0.90) for s in prof.segments["segment"]}
    r = inventory.policy_comparison(ds.orders, ds.tables["products"], segs, "2025-07-07",
                                    targets, frontier=(0.8, 0.9, 0.99))
    pol = r["policies"].set_index("policy")
    assert list(pol.index) == ["uniform 95%", "profile-differentiated"]
    assert pol["fill_rate"].between(0, 1).all() and (pol["holding_cost"] > 0).all()
    f = r["frontier"]
    assert f["holding_cost"].is_monotonic_increasing and f["fill_rate"].is_monotonic_increasing
    assert r["targets"].between(0.9, 0.99).all()
    assert set(r["by_segment"].columns) == {"segment", "uniform 95%", "profile-differentiated"}
