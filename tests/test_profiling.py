"""Customer profiles: features with known answers, RFM, segments recovering the
hidden personas, determinism, cards and privacy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from chainsight import datasets, profiling
from chainsight import schema as S


def _orders():
    rows = [  # customer, day, product, qty, price, ship, discount, order
        ("a", "2024-01-01", "p1", 1, 100.0, "express", 0.0, "o1"),
        ("a", "2024-01-01", "p2", 2, 50.0, "express", 0.1, "o1"),
        ("a", "2024-01-11", "p1", 1, 100.0, "standard", 0.0, "o2"),
        ("a", "2024-01-31", "p1", 1, 100.0, "express", 0.0, "o3"),
        ("b", "2024-01-21", "p2", 4, 25.0, "economy", 0.2, "o4"),
    ]
    o = pd.DataFrame(rows, columns=[S.CUSTOMER_ID, S.TIMESTAMP, S.PRODUCT_ID, S.QUANTITY,
                                    S.UNIT_PRICE, S.SHIP_MODE, S.DISCOUNT, S.ORDER_ID])
    o[S.TIMESTAMP] = pd.to_datetime(o[S.TIMESTAMP])
    products = pd.DataFrame({S.PRODUCT_ID: ["p1", "p2"], S.CATEGORY: ["apparel", "food"]})
    calendar = pd.DataFrame({S.DATE: pd.date_range("2024-01-01", "2024-01-31"),
                             S.EVENT_KIND: ""})
    calendar.loc[calendar[S.DATE] == "2024-01-11", S.EVENT_KIND] = "festival"
    return o, products, calendar


def test_features_have_known_values():
    o, products, calendar = _orders()
    f = profiling.customer_features(o, products=products, calendar=calendar,
                                    as_of="2024-02-10").set_index(S.CUSTOMER_ID)
    a, b = f.loc["a"], f.loc["b"]
    assert a["recency_days"] == 10 and b["recency_days"] == 20
    assert a["frequency"] == 3 and a["order_lines"] == 4 and a["purchase_days"] == 3
    assert a["monetary"] == 400 and a["avg_order_value"] == pytest.approx(400 / 3)
    assert a["ipt_mean_days"] == 15 and a["ipt_cv"] == pytest.approx(np.std([10, 20], ddof=1)
                                                                      / 15)
    assert np.isnan(b["ipt_mean_days"])  # one purchase day: no inter-purchase time
    assert a["ship_express"] == 0.75 and b["ship_economy"] == 1
    assert a["discount_share"] == 0.25
    assert a["cat_apparel"] == 0.75 and a["cat_food"] == 0.25
    assert a["festival_share"] == pytest.approx(1 / 3)  # one of three purchase days
    assert a["tenure_days"] == 40


def test_features_need_the_required_columns():
    o, _, _ = _orders()
    with pytest.raises(S.DataContractError, match="unit_price"):
        profiling.customer_features(o.drop(columns=S.UNIT_PRICE))


def test_rfm_scores_are_quintiles_with_named_groups():
    rng = np.random.default_rng(0)
    f = pd.DataFrame({S.CUSTOMER_ID: [f"c{i}" for i in range(500)],
                      "recency_days": rng.integers(0, 400, 500),
                      "frequency": rng.integers(1, 30, 500),
                      "monetary": rng.gamma(2, 100, 500)})
    r = profiling.rfm_scores(f)
    for col in ("r_score", "f_score", "m_score"):
        assert (r[col].value_counts() == 100).all()
    best = r.loc[f["recency_days"].idxmin()]
    assert best["r_score"] == 5
    champions = r[r["rfm_group"] == "champions"]
    assert (champions["r_score"] == 5).all() and champions["f_score"].isin([4, 5]).all()
    assert (r["rfm_group"] != "other").all()


@pytest.fixture(scope="module")
def small_profile():
    ds = datasets.load("synthetic", size="small", seed=42)
    return ds, profiling.build_profile(ds, seed=42)


def test_segments_carry_persona_information(small_profile):
    """Segments are not a lookup of the persona (see test_synthetic for the limits),
    but they carry information about it: the agreement is well above chance."""
    ds, prof = small_profile
    truth = datasets.load_truth("small", 42).customers
    persona = prof.customers[[S.CUSTOMER_ID]].merge(truth, on=S.CUSTOMER_ID)["persona"]
    ari = adjusted_rand_score(persona, prof.customers["segment"])
    rng = np.random.default_rng(0)
    chance = [adjusted_rand_score(rng.permutation(persona.to_numpy()),
                                  prof.customers["segment"]) for _ in range(50)]
    assert ari > max(chance) + 0.05, f"adjusted Rand index {ari:.3f}"


def test_electronics_segment_holds_the_tech_enthusiasts(small_profile):
    """The segment buying the most electronics holds at least twice the base's share
    of the persona the generator made electronics-minded."""
    ds, prof = small_profile
    truth = datasets.load_truth("small", 42).customers
    c = prof.customers[[S.CUSTOMER_ID, "segment", "cat_electronics"]].merge(truth)
    top = c.groupby("segment")["cat_electronics"].mean().idxmax()
    tech = c["persona"] == "tech_enthusiast"
    assert tech[c["segment"] == top].mean() > 2 * tech.mean()


def test_profile_is_deterministic(small_profile):
    ds, prof = small_profile
    again = profiling.build_profile(ds, seed=42)
    assert (again.customers["segment"].to_numpy() == prof.customers["segment"].to_numpy()).all()


def test_kmeans_option(small_profile):
    ds, prof = small_profile
    seg = profiling.segment_customers(prof.customers, k_range=range(3, 6), method="kmeans")
    assert 3 <= seg.k <= 5 and len(np.unique(seg.labels)) == seg.k
    with pytest.raises(ValueError, match="method"):
        profiling.segment_customers(prof.customers, method="dbscan")


def test_segments_fitted_on_a_sample_assign_everyone(small_profile):
    """Above ``fit_sample`` customers the models are fitted on a sample and everyone is
    assigned to the chosen model's most likely segment; on the whole base, the mixture's
    assignment is its own labels, and a sample fit keeps most of the full fit's segments."""
    ds, prof = small_profile
    cust, full = prof.customers, prof.segmentation
    assert full.fitted_on == len(cust)
    assert (full.mixture.assign(full.layout) == full.labels).all()
    k = full.k
    seg = profiling.segment_customers(cust, k_range=range(k, k + 1), fit_sample=1_000)
    assert seg.fitted_on == 1_000 and len(seg.labels) == len(cust)
    assert len(np.unique(seg.labels)) == k
    agree = adjusted_rand_score(full.labels, seg.labels)
    assert agree > 0.5, f"adjusted Rand index with the full fit {agree:.3f}"
    km = profiling.segment_customers(cust, k_range=range(3, 5), method="kmeans",
                                     fit_sample=1_000)
    assert km.fitted_on == 1_000 and len(km.labels) == len(cust)
    with pytest.raises(ValueError, match="fit_sample must be at least 10 customers a segment"):
        profiling.segment_customers(cust, fit_sample=50)


def test_segment_cards(small_profile):
    _, prof = small_profile
    cards = prof.segments
    assert cards["name"].str.len().gt(0).all() and cards["name"].nunique() == len(cards)
    for col in ("top_categories", "delivery_preference", "festival_sensitivity", "mean_age",
                "female_share", "income_mix", "city_tier_mix", "mean_clv"):
        assert col in cards.columns
    tech = cards[cards["top_categories"].str.startswith("electronics")]
    assert tech["name"].str.contains("electronics").any()


def test_small_segments_are_suppressed(small_profile):
    _, prof = small_profile
    cards = profiling.suppress_small(prof.segments, min_size=int(prof.segments["customers"]
                                                                 .median()) + 1)
    hidden = cards[cards["name"].str.startswith("(suppressed")]
    assert 0 < len(hidden) < len(cards)
    assert hidden[["customers", "mean_clv", "revenue_share"]].isna().all().all()


def test_pseudonymous_keys():
    ids = pd.Series(["C0000001", "C0000002", "C0000001"])
    k1 = profiling.pseudonymise(ids, "salt-a")
    assert k1.iloc[0] == k1.iloc[2] != k1.iloc[1]
    assert (k1 != profiling.pseudonymise(ids, "salt-b")).all()
    assert not k1.str.contains("C000").any()
    with pytest.raises(ValueError, match="salt"):
        profiling.pseudonymise(ids, "")


def test_holdout_check_judges_against_baselines_chosen_on_training(small_profile):
    ds, _ = small_profile
    res = profiling.holdout_check(ds, "2025-01-01", n_boot=200)
    t = res["targeting"].set_index("method")
    assert t["revenue_share"]["predicted CLV (profile)"] > t["revenue_share"]["random (no profile)"]
    # The blind ranking is the one that did better on the year before the holdout, and the
    # comparison is made against it.
    blind = t[t["baseline"]]
    assert len(blind) == 1 and blind.index[0] == res["targeting_baseline"]
    assert blind["validation_share"].iloc[0] == t["validation_share"].max()
    share = res["comparisons"]["share of holdout revenue reached"]
    assert share.blind == pytest.approx(blind["revenue_share"].iloc[0])
    assert share.aware == pytest.approx(t["revenue_share"]["predicted CLV (profile)"])
    # The purchase forecasts' baselines are learned on the training period, and the
    # comparisons are made against them.
    errs = res["segment_errors"].set_index("method")
    assert errs.index[errs["baseline"]].tolist() == [res["purchases_baseline"],
                                                     res["regression_baseline"]]
    assert res["regression_choice"]["mse"].is_monotonic_increasing
    choice = res["purchases_choice"]
    assert choice.table.iloc[0]["scale"] == choice.scale
    aware = "BG/NBD per customer"
    for name, label in (("own history", res["purchases_baseline"]),
                        ("history regression", res["regression_baseline"])):
        mse = res["comparisons"][f"MSE against {name}"]
        assert mse.blind == pytest.approx(errs.loc[label, "mse"])
        assert mse.aware == pytest.approx(errs.loc[aware, "mse"])
        seg = res["comparisons"][f"segment WAPE against {name}"]
        assert seg.blind == pytest.approx(errs.loc[label, "segment_wape"])
        assert seg.aware == pytest.approx(errs.loc[aware, "segment_wape"])
    assert res["profile"].as_of < pd.Timestamp("2025-01-01")
    with pytest.raises(ValueError, match="outside the data"):
        profiling.holdout_check(ds, "2030-01-01")


def test_features_and_summary_read_parquet_out_of_core(tmp_path, small):
    path = tmp_path / "orders.parquet"
    small.orders.to_parquet(path)
    from_frame = profiling.customer_features(small.orders, products=small.products)
    from_file = profiling.customer_features(path, products=small.products)
    pd.testing.assert_frame_equal(from_frame, from_file)
    from chainsight import clv
    pd.testing.assert_frame_equal(clv.rfm_summary(small.orders, "2025-06-30"),
                                  clv.rfm_summary(path, "2025-06-30"))


def test_new_customers_are_placed_by_demographics(small_profile):
    ds, _ = small_profile
    prof = profiling.build_profile(ds, as_of="2024-12-31")
    segs = prof.segments_for(ds.tables["customers"])
    assert len(segs) == len(ds.tables["customers"]) and segs[S.CUSTOMER_ID].is_unique
    later = ~segs[S.CUSTOMER_ID].isin(prof.customers[S.CUSTOMER_ID])
    assert later.sum() > 100 and (segs.loc[later, "segment"] != "new").mean() > 0.9
    # Demographics say less than behaviour, but the placement is better than chance.
    truth = datasets.load_truth("small", 42).customers
    m = segs[later].merge(truth, on=S.CUSTOMER_ID)
    ari = adjusted_rand_score(m["persona"], m["segment"].astype(str))
    rng = np.random.default_rng(0)
    chance = [adjusted_rand_score(rng.permutation(m["persona"].to_numpy()),
                                  m["segment"].astype(str)) for _ in range(50)]
    assert ari > max(chance), f"adjusted Rand index {ari:.3f}"
    customers = ds.tables["customers"]
    unseen = customers[~customers[S.CUSTOMER_ID].isin(prof.customers[S.CUSTOMER_ID])]
    no_demo = unseen.head(3).assign(
        age=np.nan, gender=None, income_band=None, occupation=None, city_tier=None)
    assert (prof.segments_for(no_demo).tail(3)["segment"] == "new").all()


def test_one_run_profile_built_once_and_mapped_for_an_earlier_cut(data_dir, monkeypatch):
    ds = datasets.load("synthetic", size="small", seed=42)
    run = profiling.run_profile(ds, "", seed=42)
    end = ds.orders[S.TIMESTAMP].max()
    assert run.as_of < end - pd.Timedelta(weeks=51)  # before the last 52 weeks
    built = []
    monkeypatch.setattr(profiling, "build_profile",
                        lambda *a, **k: built.append(1) or run)  # the cache is read
    again = profiling.run_profile(ds, "", seed=42)
    assert not built and again.as_of == run.as_of
    assert (again.customers["segment"].to_numpy() == run.customers["segment"].to_numpy()).all()
    monkeypatch.undo()
    # A damaged cache file is rebuilt, not a crash; so is one from other library versions.
    cached = next((data_dir / "generated" / "profiles").glob("*.pkl"))
    cached.write_bytes(cached.read_bytes()[:1000])
    rebuilt = profiling.run_profile(ds, "", seed=42)
    assert (rebuilt.customers["segment"].to_numpy() == run.customers["segment"].to_numpy()).all()
    digest = profiling._code_digest()
    monkeypatch.setattr("importlib.metadata.version", lambda lib: "0.0")
    assert profiling._code_digest() != digest
    monkeypatch.undo()
    # A decision after the profile date uses it; one before gets its own, renumbered.
    same, line = profiling.profile_at(ds, run.as_of + pd.Timedelta(days=30), run)
    assert same is run and line.startswith("The run's profile")
    early, line = profiling.profile_at(ds, run.as_of - pd.Timedelta(weeks=20), run)
    assert early.as_of < run.as_of and "numbered as the run's segment" in line
    _, table = profiling.relabel(early, run)
    assert (table["segment"] == table["run segment"]).all()  # already in the run's numbers
    both = early.customers[[S.CUSTOMER_ID, "segment"]].merge(
        run.customers[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID)
    for seg, g in both.groupby("segment_x"):
        if seg in set(run.customers["segment"]):  # matched: its customers are mostly there
            assert (g["segment_y"] == seg).mean() > 0.5, seg


def test_relabel_merges_segments_that_land_on_one_run_segment(small_profile):
    """An earlier cut with more segments than the run: the extra one takes the number of
    the run segment that holds most of its customers, and the two are merged."""
    _, prof = small_profile
    c = prof.customers
    top = c["segment"].max()
    split = c["segment"].where(~((c["segment"] == top) & (np.arange(len(c)) % 3 == 0)),
                               top + 1)
    early = profiling.Profile(c.assign(segment=split),
                              profiling.segment_cards(c.assign(segment=split)),
                              prof.segmentation, prof.value_fit, prof.as_of, prof.settings)
    back, table = profiling.relabel(early, prof)
    assert (back.customers["segment"] == c["segment"]).all()
    assert table.loc[table["segment"] == top + 1, "run segment"].item() == top
    assert list(back.segments["segment"]) == sorted(prof.segments["segment"])
    assert back.segments.set_index("segment")["customers"].to_dict() == \
        prof.segments.set_index("segment")["customers"].to_dict()


def test_relabel_follows_the_customers_not_the_numbers(small_profile):
    _, prof = small_profile
    flip = {s: len(prof.segments) + 1 - s for s in prof.segments["segment"]}
    shuffled = profiling.Profile(prof.customers.assign(segment=prof.customers["segment"].map(flip)),
                                 prof.segments.assign(segment=prof.segments["segment"].map(flip)),
                                 prof.segmentation, prof.value_fit, prof.as_of, prof.settings)
    back, table = profiling.relabel(shuffled, prof)
    assert (back.customers["segment"] == prof.customers["segment"]).all()
    assert (table["shared"] == 1).all()
    assert list(back.segments["segment"]) == sorted(prof.segments["segment"])
