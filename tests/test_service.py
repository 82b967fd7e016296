"""Personalised service: the ranking metrics on microsoft/recommenders' worked examples,
the recommenders on toy data, and the comparison on the synthetic retailer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from chainsight import schema as S
from chainsight import service

# microsoft/recommenders' evaluation fixtures (rating_true, rating_pred): what three users
# bought, and what was recommended to them, best first (items 1 to 14).
TRUE = {1: [3, 1, 2], 2: [1, 4, 5, 6, 7], 3: [2, 5, 6, 8, 9, 10, 11, 12, 13, 14]}
PRED = {1: [3, 10, 12], 2: [10, 3, 5, 11, 13], 3: [4, 10, 7, 13, 1, 3, 5, 2, 11, 14]}


def _relevant(lists, n_items=15):
    rel = sparse.lil_matrix((len(lists), n_items), dtype=bool)
    for u, items in enumerate(lists.values()):
        rel[u, items] = True
    return rel


def _recommended(lists, k=10):
    rec = -np.ones((len(lists), k), dtype=int)
    for u, items in enumerate(lists.values()):
        rec[u, :len(items)] = items
    return rec


def test_ranking_metrics_on_the_worked_examples():
    m = service.ranking_metrics(_recommended(PRED), _relevant(TRUE), k=10).mean()
    assert m["precision"] == pytest.approx(0.26666, abs=1e-4)
    assert m["recall"] == pytest.approx(0.37777, abs=1e-4)
    assert m["ndcg"] == pytest.approx(0.38172, abs=1e-4)
    assert m["map"] == pytest.approx(0.23613, abs=1e-4)
    # Recommending what each bought: precision 0.6 at k = 10 (3, 5 and 10 of 10).
    best = service.ranking_metrics(_recommended(TRUE), _relevant(TRUE), k=10).mean()
    assert best.to_dict() == pytest.approx({"precision": 0.6, "recall": 1.0, "ndcg": 1.0,
                                            "map": 1.0})
    nohit = service.ranking_metrics(np.full((3, 10), 0), _relevant(TRUE), k=10).mean()
    assert (nohit == 0).all()


def test_ranking_metrics_by_hand_when_more_is_relevant_than_k():
    """Five items relevant, k = 3, hits at ranks 1 and 3: precision 2/3, recall 2/5,
    NDCG (1 + 1/2) / (1 + 1/log2 3 + 1/2), AP (1/1 + 2/3) / 3. A customer with nothing
    relevant has no score."""
    rel = sparse.csr_matrix(np.array([[1, 1, 1, 1, 1, 0, 0], [0] * 7], dtype=bool))
    rec = np.array([[0, 6, 1], [0, 1, 2]])
    m = service.ranking_metrics(rec, rel, k=3)
    assert m.loc[0].to_dict() == pytest.approx({
        "precision": 2 / 3, "recall": 2 / 5,
        "ndcg": (1 + 0.5) / (1 + 1 / np.log2(3) + 0.5), "map": (1 + 2 / 3) / 3})
    assert m.loc[1].isna().all()
    with pytest.raises(ValueError, match="k must lie between 1 and the 3 items"):
        service.ranking_metrics(rec, rel, k=4)
    with pytest.raises(ValueError, match="2 lists of recommendations for 1 customers"):
        service.ranking_metrics(rec, rel[:1], k=3)


def test_coverage_on_the_worked_example():
    # diversity_data: recommended items 3, 5, 2, 5, 1, 2 from a catalogue of 5.
    assert service.coverage(np.array([[3, 5], [2, 5], [1, 2]]), 5) == pytest.approx(0.8)


def _toy():
    """Two groups of buyers: A-C buy items a, b, c; D-F buy x, y, z; item a sells most."""
    lines = [("A", "a"), ("A", "b"), ("B", "a"), ("B", "c"), ("C", "a"), ("C", "b"),
             ("D", "x"), ("D", "y"), ("E", "x"), ("E", "z"), ("F", "y"), ("F", "z"),
             ("G", "a")]
    orders = pd.DataFrame(lines, columns=[S.CUSTOMER_ID, S.PRODUCT_ID])
    segments = pd.DataFrame({S.CUSTOMER_ID: list("ABCDEFH"),
                             "segment": [1, 1, 1, 2, 2, 2, 2]})
    return orders, segments


def test_recommenders_on_toy_data():
    orders, segments = _toy()
    who = ["A", "D", "H"]  # H has no history: cold start, segment 2
    top = {m: service.recommend(orders, m, who, segments, k=3, seed=1) for m in
           service.RECOMMENDERS}
    items = top["best-sellers"][1]

    def names(method, row):
        return list(items[top[method][0][row]])

    assert names("best-sellers", 0)[0] == "a"
    assert names("best-sellers", 0) == names("best-sellers", 2)
    assert set(names("buy again", 0)[:2]) == {"a", "b"}
    # Segment 2's best-sellers for D and for H, who has no history but a segment.
    assert set(names("segment best-sellers", 1)) == {"x", "y", "z"}
    assert set(names("segment best-sellers", 2)) == {"x", "y", "z"}
    assert set(names("item-item", 1)) == {"x", "y", "z"}
    assert set(names("ALS", 1)) == {"x", "y", "z"} and set(names("ALS", 0)) == {"a", "b", "c"}
    again = service.recommend(orders, "ALS", who, segments, k=3, seed=1)[0]
    assert (again == top["ALS"][0]).all()  # the same seed, the same lists
    with pytest.raises(ValueError, match="unknown method 'random'"):
        service.recommend(orders, "random", who, segments)


def test_recommendation_comparison_on_the_synthetic_retailer():
    from chainsight import datasets

    ds = datasets.load("synthetic", size="small", seed=42)
    truth = datasets.load_truth("small", 42).customers
    personas = truth[[S.CUSTOMER_ID, "persona"]].rename(columns={"persona": "segment"})
    r = service.recommendation_comparison(ds.orders, "2025-01-01", 90, personas, n_boot=200)
    t = r["methods"]
    assert list(t.index) == list(service.RECOMMENDERS)
    assert ((t[["precision", "recall", "ndcg", "map", "coverage"]] >= 0)
            & (t[["precision", "recall", "ndcg", "map", "coverage"]] <= 1)).all().all()
    assert r["chosen"]["blind"] in service.BLIND and r["chosen"]["aware"] in service.AWARE
    assert r["value"].n_units == r["customers"] and 0 < r["cold"] < r["customers"]
    assert set(r["by_segment"].index) <= set(personas["segment"]) | {"none"}
    with pytest.raises(ValueError, match="no order lines before 2020-01-01"):
        service.recommendation_comparison(ds.orders, "2020-04-01", 91)


def test_segment_best_sellers_win_on_the_segments_and_not_on_a_placebo():
    """On the default data the run's segments carry the personas' category mixes:
    segment best-sellers beat best-sellers by about 0.015 NDCG@10 (seed 42). Shuffle the
    segments among the customers and the gain is gone (within 0.003). Item-item does not
    use the segments, so the placebo leaves it, and the aware side may still choose it."""
    from chainsight import datasets, profiling

    ds = datasets.load("synthetic", size="default", seed=42)
    profile, _ = profiling.decision_profile(ds, pd.Timestamp("2025-01-01")
                                            - pd.Timedelta(seconds=1), seed=42)
    segments = profile.segments_for(ds.tables["customers"])
    real, fake = (service.recommendation_comparison(ds.orders, "2025-01-01", 90, segments,
                                                    n_boot=300, seed=42, placebo=p)
                  for p in (False, True))
    ndcg, placebo = real["methods"]["ndcg"], fake["methods"]["ndcg"]
    assert ndcg["segment best-sellers"] - ndcg["best-sellers"] > 0.01
    assert abs(placebo["segment best-sellers"] - placebo["best-sellers"]) < 0.003
    assert placebo["item-item"] == pytest.approx(ndcg["item-item"])
    with pytest.raises(ValueError, match="the placebo shuffles the segments"):
        service.recommendation_comparison(ds.orders, "2025-01-01", 90, None, placebo=True)


# ---------------------------------------------------------------------------
# Coupon campaigns
# ---------------------------------------------------------------------------
def test_qini_curve_on_a_hand_worked_example():
    """Four customers, sorted by score: couponed bought 1, control 0, couponed 0,
    control 1. Incremental at each cut, as scikit-uplift computes it (the control's total
    scaled to as many customers as were couponed; no control yet counts as 0)."""
    curve = service.qini_curve([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0], [1.0, 0.0, 0.0, 1.0])
    assert curve["share"].tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert curve["incremental"].tolist() == [0, 1, 1, 1, 0]
    assert service.qini_coefficient(curve) == pytest.approx(0.75)
    # Tied scores are one cut.
    tied = service.qini_curve([1, 1, 0, 0], [1, 0, 1, 0], [1.0, 0.0, 0.0, 1.0])
    assert tied["incremental"].tolist() == [0, 1, 0]


def test_policy_value_reweights_by_the_group_chosen():
    f = pd.DataFrame({S.CAMPAIGN_ID: "A", "coupon": [True, True, False, False],
                      "margin": [10.0, 0.0, 4.0, 2.0]})
    assert service.policy_value(f, True).mean() == pytest.approx(5.0)  # couponed mean
    assert service.policy_value(f, False).mean() == pytest.approx(3.0)  # control mean
    mixed = service.policy_value(f, [True, False, False, True])
    assert mixed.tolist() == [20.0, 0.0, 8.0, 0.0]


def _orders(rows):
    return pd.DataFrame(rows, columns=[S.ORDER_ID, S.CUSTOMER_ID, S.TIMESTAMP, S.PRODUCT_ID,
                                       S.QUANTITY, S.UNIT_PRICE, S.DISCOUNT]).assign(
        **{S.TIMESTAMP: lambda f: pd.to_datetime(f[S.TIMESTAMP])})


def test_campaign_frame_counts_the_window_and_the_history_before():
    orders = _orders([("o1", "a", "2024-01-01", "p", 1, 100.0, 0.0),
                      ("o2", "a", "2024-03-02", "p", 2, 90.0, 0.1),
                      ("o3", "a", "2024-03-20", "p", 1, 100.0, 0.0),  # after the window
                      ("o4", "b", "2024-02-01", "p", 1, 50.0, 0.2)])
    products = pd.DataFrame({S.PRODUCT_ID: ["p"], S.UNIT_COST: [40.0]})
    campaigns = pd.DataFrame({S.CAMPAIGN_ID: "C1", S.CUSTOMER_ID: ["a", "b"],
                              S.DATE: pd.Timestamp("2024-03-01"), S.CAMPAIGN_DAYS: 14,
                              S.COUPON: [True, False]})
    f = service.campaign_frame(orders, campaigns, products).set_index(S.CUSTOMER_ID)
    assert f.loc["a", "orders"] == 1 and f.loc["a", "margin"] == pytest.approx(2 * 50.0)
    assert f.loc["a", "orders_before"] == 1 and f.loc["a", "recency_days"] == 60
    assert f.loc["b", "orders"] == 0 and f.loc["b", "margin"] == 0
    assert f.loc["b", "discount_share"] == 1.0 and f.loc["b", "order_value"] == 50.0


def test_a_campaign_without_control_group_is_refused():
    orders = _orders([("o1", "a", "2024-01-01", "p", 1, 100.0, 0.0)])
    campaigns = pd.DataFrame({S.CAMPAIGN_ID: "C7", S.CUSTOMER_ID: ["a"],
                              S.DATE: pd.Timestamp("2024-03-01"), S.CAMPAIGN_DAYS: 14,
                              S.COUPON: [True]})
    with pytest.raises(ValueError, match="campaigns C7: every customer .* was sent the coupon"
                                         ".*random control group"):
        service.campaign_frame(orders, campaigns)
    with pytest.raises(ValueError, match="twice in the same campaign"):
        service.campaign_frame(orders, pd.concat([campaigns, campaigns.assign(
            coupon=False), campaigns.assign(coupon=False)]))


@pytest.fixture(scope="module")
def default_campaigns():
    from chainsight import synthetic

    d = synthetic.generate("default", seed=42)
    frame = service.campaign_frame(d.orders, d.campaigns, d.products, d.customers)
    personas = d.truth.customers[[S.CUSTOMER_ID, "persona"]].rename(
        columns={"persona": "segment"})
    return d, frame, personas


def test_coupon_uplift_per_persona_holds_the_injected_truth(default_campaigns):
    """The difference between couponed and control orders per persona (the coupon's
    average effect) has the generator's expected extra orders inside its interval, and
    orders the personas as their discount sensitivity does at the ends."""
    d, frame, personas = default_campaigns
    est = service.uplift_by_segment(frame, personas, "orders")
    truth = (d.truth.campaigns.merge(personas, on=S.CUSTOMER_ID)
             .groupby("segment")["expected_extra_orders"].mean())
    assert ((est["lo"] <= truth) & (truth <= est["hi"])).all(), pd.concat([est, truth], axis=1)
    assert est["uplift"].idxmin() == "urban_professional"  # the least discount-sensitive
    assert est.loc["value_seeker", "uplift"] > est.loc["urban_professional", "hi"]


def test_coupon_targeting_negative_controls(default_campaigns):
    """With the coupon bringing no extra orders, no targeting earns more than sending no
    coupon; with the profile shuffled, the profile-aware side cannot beat the blind."""
    from chainsight import synthetic

    d = synthetic.generate("default", seed=42, effects={"coupon_response": 0})
    frame = service.campaign_frame(d.orders, d.campaigns, d.products, d.customers)
    _, _, personas = default_campaigns
    off = service.campaign_comparison(frame, "2025-10-01", personas, n_boot=300)
    assert off["chosen"]["blind"] == "no coupon"
    assert off["value"].verdict != "better"
    _, frame_on, _ = default_campaigns
    placebo = service.campaign_comparison(frame_on, "2025-10-01", personas, n_boot=300,
                                          placebo=True)
    assert placebo["value"].verdict != "better"
    assert set(placebo["equal_cost"]) == {f"{b:.0%} of the audience" for b in service.BUDGETS}


# ---------------------------------------------------------------------------
# Price sensitivity
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [42, 7])
def test_promotion_response_finds_the_personas_discount_sensitivity(seed):
    """With the true personas as segments, each persona's estimated promotion uplift
    holds its true one (0.3 x its discount sensitivity: promotions lift demand by 30%
    for an average customer) inside its interval, and the two most discount-sensitive
    personas are estimated above the least."""
    from chainsight import reference_tables as ref
    from chainsight import synthetic

    d = synthetic.generate("default", seed=seed)
    personas = d.truth.customers[[S.CUSTOMER_ID, "persona"]].rename(
        columns={"persona": "segment"})
    est = service.promotion_response(d.orders, d.calendar, personas, "2025-01-01")
    truth = pd.Series({k: 0.3 * p["discount_sensitivity"] for k, p in ref.PERSONAS.items()})
    est = est.drop(index="all")
    truth = truth.reindex(est.index)
    assert ((est["lo"] <= truth) & (truth <= est["hi"])).all(), est.assign(truth=truth)
    top = est.loc[["value_seeker", "young_trendsetter"], "lo"]
    assert (top > est.loc["urban_professional", "uplift"]).all()


def test_promotion_response_needs_promotions(small):
    cal = small.calendar.assign(event_kind="")
    with pytest.raises(ValueError, match="only 0 promotion day"):
        service.promotion_response(small.orders, cal, None, "2025-01-01")
    with pytest.raises(ValueError, match="needs a calendar with an event_kind"):
        service.promotion_comparison(small.orders, None, None, "2025-01-01")
    r = service.promotion_comparison(small.orders, small.calendar, None, "2025-01-01",
                                     n_boot=200)
    assert list(r["response"].index) == ["all"]  # no segments: one uplift for all
    assert r["value"].difference == pytest.approx(0.0)


# ---------------------------------------------------------------------------
# Service tiers and what service does to stock
# ---------------------------------------------------------------------------
def test_tier_matrix_places_segments_by_value_and_sensitivity():
    prof = pd.DataFrame({"segment": [1, 1, 2, 2, 3, 4], "clv": [900, 1100, 800, 1000, 10, 20]})
    response = pd.DataFrame({"uplift": [0.1, 0.6, 0.5, 0.5, 0.3],
                             "lo": [0.0, 0.4, 0.1, 0.35, 0.2]},
                            index=["1", "2", "3", "4", "all"])
    m = service.tier_matrix(prof, response).set_index("segment")
    assert m.loc[1, "tier"] == "premium" and m.loc[1, "delivery"] == "express"
    assert m.loc[2, "tier"] == "valued"
    # Segment 3's uplift is above the business's, its interval is not: not price-sensitive.
    assert m.loc[3, "tier"] == "core"
    assert m.loc[4, "tier"] == "economy" and m.loc[4, "stock_target"] == 0.90
    # No promotions at all: the tiers follow value alone.
    assert set(service.tier_matrix(prof, None)["tier"]) == {"premium", "core"}
    with pytest.raises(ValueError, match="row 'all'"):
        service.tier_matrix(prof, response.drop(index="all"))


def test_delivery_tiers_offers_the_tiers_it_is_given(small):
    from chainsight import logistics

    seg = small.truth.customers[[S.CUSTOMER_ID, "persona"]].rename(
        columns={"persona": "segment"})
    sites = small.sites[small.sites["current"]]
    offer = {"urban_professional": "express", "value_seeker": "economy"}
    d = logistics.delivery_tiers(small.orders, small.customers, seg, sites, "2025-01-01",
                                 products=small.products, offer=offer, n_boot=200)
    assert dict(zip(d["recommended"]["segment"], d["recommended"]["tier"],
                    strict=True)) == offer
    with pytest.raises(ValueError, match="unknown tier.*'drone'"):
        logistics.delivery_tiers(small.orders, small.customers, seg, sites, "2025-01-01",
                                 offer={"value_seeker": "drone"})


def test_recommendation_stock_without_conversion_changes_nothing(small):
    start = pd.Timestamp("2025-07-01")
    before = small.orders[small.orders[S.TIMESTAMP] < start]
    customers = pd.Index(sorted(before[S.CUSTOMER_ID].unique()))
    rec, items = service.recommend(before, "best-sellers", customers, None, 5)
    none = service.recommendation_stock(small.orders, small.products, rec, customers, items,
                                        start, conversion=0.0, n_boot=200)
    assert none["moved_lines"] == 0 and none["value"].difference == 0
    some = service.recommendation_stock(small.orders, small.products, rec, customers, items,
                                        start, conversion=0.3, n_boot=200)
    assert some["moved_lines"] > 0
    moved = some["per_item"]["moved_units"]
    assert (moved > 0).any() and (moved < 0).any()
    # Moved, not made: only lines of products first sold after the start (not in the
    # catalogue the lists come from) can add units to it.
    after = small.orders[(small.orders[S.TIMESTAMP] >= start)
                         & (small.orders[S.TIMESTAMP] < start + pd.Timedelta(days=90))]
    assert 0 <= moved.sum() <= after.loc[~after[S.PRODUCT_ID].isin(items), S.QUANTITY].sum()
    top = items.get_indexer(pd.Index(items[rec[0]]))
    assert (some["per_item"]["expected_shift"].to_numpy()[top] > 0).all()
    with pytest.raises(ValueError, match="conversion must lie between 0 and 1"):
        service.recommendation_stock(small.orders, small.products, rec, customers, items,
                                     start, conversion=1.5)


def test_campaign_stock_builds_for_the_campaign(default_campaigns):
    d, frame, personas = default_campaigns
    r = service.campaign_stock(d.orders, d.products, frame, "2025-09-01", personas,
                               n_boot=200)
    assert r["campaigns"] == ["CP09", "CP10"]
    s = r["summary"]
    # A pre-build holds more stock than none. (Lost sales need not fall: a pre-build that is
    # not all sold delays the next order, and an (s, S) policy on lumpy demand can then run
    # short later in the replay.)
    assert (s["holding_cost"].drop("no pre-build") > s.loc["no pre-build", "holding_cost"]).all()
    # Both sides size the campaign's extra units near what the control group shows.
    extra = r["extra_units"]
    for side in ("profile-blind", "profile-aware"):
        assert (abs(extra[side] / extra["seen"] - 1) < 0.35).all(), extra
    assert r["stockouts_avoided"] == pytest.approx(
        s.loc["no pre-build", "lost_units"] - s.loc["pre-build by customer", "lost_units"])
    with pytest.raises(ValueError, match="needs campaigns before"):
        service.campaign_stock(d.orders, d.products, frame, "2023-01-01", personas)


def test_a_users_campaigns_table_is_checked_on_load():
    """The campaigns table of the data contract: the coupon flag must be true or false,
    and every customer in an audience must be a known customer."""
    frame = pd.DataFrame({S.CAMPAIGN_ID: ["C1", "C1"], S.CUSTOMER_ID: ["a", "b"],
                          S.DATE: ["2024-03-01", "2024-03-01"], S.CAMPAIGN_DAYS: [14, 14],
                          S.COUPON: [True, "maybe"]})
    with pytest.raises(S.DataContractError, match="campaigns.*coupon"):
        S.validate(frame, "campaigns")
    good = S.validate(frame.assign(coupon=[True, False]), "campaigns")
    customers = pd.DataFrame({S.CUSTOMER_ID: ["a"]})
    orders = pd.DataFrame({S.CUSTOMER_ID: ["a"], S.PRODUCT_ID: ["p"]})
    with pytest.raises(S.DataContractError, match="campaigns.*customer_id.*customers"):
        S.check_references({"orders": orders, "customers": customers, "campaigns": good})
    with pytest.raises(S.DataContractError, match="campaigns.*days"):
        S.validate(frame.drop(columns=S.CAMPAIGN_DAYS).assign(coupon=[True, False]),
                   "campaigns")
