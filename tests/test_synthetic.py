"""The synthetic retailer: determinism, size, realism, and ground truth kept apart."""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from chainsight import datasets, overview, synthetic
from chainsight import reference_tables as ref
from chainsight import schema as S


def _fingerprint(d: synthetic.RetailData) -> str:
    h = hashlib.sha256()
    for frame in (d.orders, d.customers):
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def test_same_seed_same_data_other_seed_other_data(small):
    again = synthetic.generate("small", seed=42)
    assert _fingerprint(again) == _fingerprint(small)
    other = synthetic.generate("small", seed=43)
    assert _fingerprint(other) != _fingerprint(small)


def test_reference_content(small):
    assert len(small.customers) == synthetic.SIZES["small"]
    assert ref.CITIES["city"].nunique() >= 30
    assert set(ref.CITIES["city_tier"]) == set(S.CITY_TIERS)
    assert 5 <= len(ref.PERSONAS) <= 7
    p = small.products
    assert len(p) >= 200 and set(p[S.CATEGORY]) == set(S.CATEGORIES)
    assert p.loc[p[S.CATEGORY] == "food", S.SHELF_LIFE_DAYS].notna().all()
    furn = p[p[S.CATEGORY] == "furniture"]
    assert 0 < furn[S.CUSTOMISABLE].mean() < 1
    assert furn[S.LEAD_TIME_DAYS].mean() > p.loc[p[S.CATEGORY] == "food", S.LEAD_TIME_DAYS].mean()
    assert (p[S.UNIT_COST] < p[S.UNIT_PRICE]).all()
    assert len(small.sites) >= 15 and small.sites[S.FIXED_COST].gt(0).all()


def test_calendar_has_real_festival_dates(small):
    cal = small.calendar.set_index(S.DATE)
    assert cal.loc["2024-11-11", S.EVENT] == "Double 11" and cal.loc["2024-11-11", "peak"]
    assert cal.loc["2025-06-18", S.EVENT] == "618"
    assert cal.loc["2025-12-12", S.EVENT] == "Double 12"
    assert cal.loc["2024-10-03", S.EVENT] == "National Day"
    # Lunar new year 2024 was 10 February: the holiday starts on the eve.
    assert cal.loc["2024-02-09", S.EVENT] == "Spring Festival holiday"
    assert cal.loc["2024-02-01", S.EVENT] == "Spring Festival"
    assert (cal[S.EVENT_KIND] == "promotion").sum() > 20


def test_festival_uplift_is_visible_in_orders(small):
    daily = overview.daily_orders(small.orders)
    table = overview.festival_uplift(daily, small.calendar).set_index("event")
    up = table["uplift"]
    assert up["Double 11"] > 1.5
    assert up["618"] > 1.3
    assert up["Spring Festival holiday"] < 0.8
    base = table.loc["(ordinary day)", "orders_per_day"]
    assert table["extra_orders"].to_numpy() == pytest.approx(
        ((table["orders_per_day"] - base) * table["days"]).to_numpy())
    assert table.loc["(ordinary day)", "extra_orders"] == pytest.approx(0, abs=1e-6)


def test_personas_differ_in_category_mix_and_ship_mode(small):
    o = small.orders.merge(small.truth.customers[[S.CUSTOMER_ID, "persona"]])
    o[S.CATEGORY] = o[S.PRODUCT_ID].map(small.products.set_index(S.PRODUCT_ID)[S.CATEGORY])
    cat = pd.crosstab(o["persona"], o[S.CATEGORY], normalize="index")
    assert cat.loc["young_trendsetter", "apparel"] > 2 * cat.loc["tech_enthusiast", "apparel"]
    assert cat.loc["tech_enthusiast", "electronics"] > 0.5
    assert cat.min().min() > 0.02  # every persona buys every category sometimes
    ship = pd.crosstab(o["persona"], o[S.SHIP_MODE], normalize="index")
    assert ship.loc["urban_professional", "express"] > 3 * ship.loc["value_seeker", "express"]
    assert ship.loc["value_seeker", "economy"] > 0.4


@pytest.fixture(scope="module")
def effects_on_off():
    """20,000 customers with every effect at its default strength, and with all off."""
    on = synthetic.generate(20_000, seed=7)
    off = synthetic.generate(20_000, seed=7, effects={k: 0 for k in synthetic.EFFECTS})
    return on, off


def _lines(d: synthetic.RetailData) -> pd.DataFrame:
    o = d.orders.merge(d.truth.customers[[S.CUSTOMER_ID, "persona"]])
    o[S.CATEGORY] = o[S.PRODUCT_ID].map(d.products.set_index(S.PRODUCT_ID)[S.CATEGORY])
    o["year"] = o[S.TIMESTAMP].dt.year
    return o


def _acquisition(d):
    signup = d.customers.set_index(S.CUSTOMER_ID)[S.SIGNUP_DATE].dt.year
    t = d.truth.customers.assign(year=d.truth.customers[S.CUSTOMER_ID].map(signup))
    festive = t["persona"].isin(["young_trendsetter", "value_seeker"]).groupby(t["year"]).mean()
    return festive.loc[2025] - festive.loc[2023]


def _category(d):
    o = _lines(d)
    silver = o[o["persona"] == "silver_shopper"]
    share = silver.groupby("year")[S.CATEGORY].apply(lambda c: (c == "electronics").mean())
    return share.loc[2025] - share.loc[2023]


def _customisation(d):
    o = _lines(d)
    fam = o[(o["persona"] == "family_homemaker") & o[S.PRODUCT_ID].isin(
        d.products.loc[d.products[S.CUSTOMISABLE], S.PRODUCT_ID])]
    share = fam.groupby("year")[S.CUSTOMISED].mean()
    return share.loc[2025] - share.loc[2023]


def _incident(d):
    """Problem rate (return or complaint) of the incident SKU during the incident over
    the rate before it."""
    o = _lines(d)
    inc = d.truth.effects["quality_incident"]
    start = pd.Timestamp(inc["start"])
    sku = o[o[S.PRODUCT_ID] == inc["sku"]]
    during = sku[sku[S.TIMESTAMP].between(start, start + pd.Timedelta(days=inc["days"]))]
    before = sku[sku[S.TIMESTAMP] < start]
    problem = lambda f: (f[S.COMPLAINT] | f[S.RETURNED]).mean()  # noqa: E731
    assert len(during) >= 20
    return problem(during) / problem(before)


@pytest.mark.parametrize("effect, measure, on_above, off_within", [
    ("acquisition_shift", _acquisition, 0.08, 0.03),
    ("category_shift", _category, 0.08, 0.03),
    ("customisation_ramp", _customisation, 0.15, 0.05),
], ids=["acquisition_shift", "category_shift", "customisation_ramp"])
def test_each_effect_is_there_when_on_and_gone_when_off(effects_on_off, effect, measure,
                                                        on_above, off_within):
    on, off = effects_on_off
    assert on.truth.effects["strengths"][effect] == 1
    assert off.truth.effects["strengths"][effect] == 0
    assert measure(on) > on_above
    assert abs(measure(off)) < off_within


def test_quality_incident_on_and_off(effects_on_off):
    on, off = effects_on_off
    assert _incident(on) > 3
    assert _incident(off) < 1.6


def test_scenario_strengths_validate_and_name_the_data():
    sc = synthetic.Scenario.from_dict({"acquisition_shift": 0, "category_shift": 0.5})
    assert sc.strengths() == {"acquisition_shift": 0, "customisation_ramp": 1,
                              "category_shift": 0.5, "quality_incident": 1, "coupon_response": 1}
    assert sc.key() == "acquisition_shift0-category_shift0.5"
    assert synthetic.Scenario().key() == ""
    assert any(line.startswith("acquisition_shift = 0 (off)") for line in sc.describe())
    with pytest.raises(ValueError, match="unknown effect.*acquisiton_shift"):
        synthetic.Scenario.from_dict({"acquisiton_shift": 0})
    with pytest.raises(ValueError, match="'quality_incident'.*from 0"):
        synthetic.Scenario.from_dict({"quality_incident": -1})
    with pytest.raises(ValueError, match="strength"):
        synthetic.Scenario.from_dict({"quality_incident": "off"})
    with pytest.raises(ValueError, match="mapping of effect name"):
        synthetic.Scenario.from_dict(["acquisition_shift"])
    assert synthetic.Scenario.from_dict({"category_shift": np.int64(0)}).category_shift == 0
    close = [synthetic.Scenario.from_dict({"category_shift": v}).key()
             for v in (0.1234561, 0.1234564)]
    assert close[0] != close[1]  # different strengths, different data folders


def test_scenario_is_in_the_folder_and_the_description(data_dir):
    ds = datasets.load("synthetic", size=300, seed=2, effects={"acquisition_shift": 0})
    assert datasets.synthetic_dir(300, 2, {"acquisition_shift": 0}).name == \
        "synthetic-300-seed2-acquisition_shift0"
    assert ds.effects["acquisition_shift"] == 0 and ds.effects["quality_incident"] == 1
    assert "acquisition_shift = 0 (off)" in ds.description
    assert "quality_incident = 1 (on)" in ds.description
    note = ds.effect_note("acquisition_shift", "the profile-aware forecast")
    assert "switched off" in note and "profile-aware forecast" in note
    default = datasets.load("synthetic", size=300, seed=2)
    assert "at strength 1" in default.effect_note("acquisition_shift", "x")
    assert len(default.orders) != len(ds.orders)  # two folders, never mixed
    assert datasets.load("cdnow").effect_note("acquisition_shift", "x") == ""
    with pytest.raises(S.DataContractError, match="synthetic data only"):
        datasets.load("cdnow", effects={"acquisition_shift": 0})


def test_cached_data_from_an_older_generator_is_regenerated(data_dir):
    path = datasets.write_synthetic(200, seed=3)
    marker = json.loads((path / "_complete").read_text())
    assert marker["generator"] == synthetic.GENERATOR_VERSION
    (path / "_complete").write_text(json.dumps({**marker, "generator": 0}))
    (path / "orders.parquet").write_bytes(b"stale")
    ds = datasets.load("synthetic", size=200, seed=3)
    assert len(ds.orders) > 0


def test_occupations_are_shared_and_no_pair_of_columns_names_the_persona():
    """The personas are not a lookup: every occupation is held by at least two personas,
    and no demographic column or pair of columns predicts the persona with more than
    65% accuracy, even knowing the best persona for every combination of values."""
    for occ in {o for p in ref.PERSONAS.values() for o in p["occupation"]}:
        holders = [k for k, p in ref.PERSONAS.items() if p["occupation"].get(occ, 0) >= 0.04]
        assert len(holders) >= 2, occ
    d = synthetic.generate("default", 42)
    c = d.customers.merge(d.truth.customers[[S.CUSTOMER_ID, "persona"]])
    c["age_band"] = pd.cut(c[S.AGE], [0, 25, 30, 35, 40, 45, 50, 55, 60, 70, 90])
    cols = ["age_band", S.GENDER, S.INCOME_BAND, S.OCCUPATION, S.CITY_TIER]
    c = c.dropna(subset=cols)
    for k in (1, 2):
        for combo in itertools.combinations(cols, k):
            modal = c.groupby(list(combo), observed=True)["persona"].agg(
                lambda p: p.value_counts().iloc[0]).sum()
            assert modal / len(c) <= 0.65, combo


def test_behaviour_varies_within_a_persona_and_some_customers_switch(small):
    t = small.truth.customers
    switched = t["switch_date"].notna()
    assert 0.08 < switched.mean() < 0.25
    assert (t.loc[switched, "switch_to"] != t.loc[switched, "persona"]).all()
    rates = t.groupby("persona")["purchase_rate_per_year"]
    assert (rates.std() / rates.mean()).min() > 0.6  # heterogeneous rates


def test_delivery_days_follow_distance_and_mode(small):
    o = small.orders.merge(small.customers[[S.CUSTOMER_ID, S.CITY]])
    shipped = o[(o[S.SHIP_MODE] != "pickup") & ~o[S.CUSTOMISED]]
    by_mode = shipped.groupby(S.SHIP_MODE)[S.DELIVERY_DAYS].mean()
    assert by_mode["express"] < by_mode["standard"] < by_mode["economy"]
    exp = shipped[shipped[S.SHIP_MODE] == "standard"].groupby(S.CITY)[S.DELIVERY_DAYS].mean()
    assert exp["Urumqi"] > exp["Shanghai"] + 1
    assert (o.loc[(o[S.SHIP_MODE] == "pickup") & ~o[S.CUSTOMISED], S.DELIVERY_DAYS] == 0).all()


def test_customers_drop_out_and_truth_is_apart(small):
    t = small.truth.customers
    assert t["lapsed_by_end"].mean() > 0.2
    assert S.CUSTOMER_ID in t and "persona" not in small.customers.columns
    # Every order is either from the purchase process or an extra order a coupon brought.
    extra = small.truth.campaigns.groupby(S.CUSTOMER_ID)["extra_orders"].sum()
    assert (t["n_orders"] + t[S.CUSTOMER_ID].map(extra).fillna(0)
            == small.orders.groupby(S.CUSTOMER_ID)[S.ORDER_ID].nunique()
            .reindex(t[S.CUSTOMER_ID]).fillna(0).to_numpy()).all()


def test_streamed_chunks_equal_in_memory(data_dir):
    out = datasets.write_synthetic(1_200, seed=5, out=data_dir / "s", chunk_customers=500)
    mem = synthetic.generate(1_200, seed=5)
    # The in-memory generator uses one chunk of 1,200, the streamed one three of
    # at most 500: different random streams, so compare structure, not values.
    on_disk = pd.read_parquet(out / "orders.parquet")
    assert pd.read_parquet(out / "customers.parquet")[S.CUSTOMER_ID].is_unique
    assert on_disk[S.ORDER_ID].str.len().eq(11).all()
    assert list(on_disk.columns) == list(mem.orders.columns)
    assert len(pd.read_parquet(out / "customers.parquet")) == 1_200
    assert json.loads((out / "truth" / "effects.json").read_text())["quality_incident"]["sku"]
    again = datasets.write_synthetic(1_200, seed=5, out=data_dir / "t", chunk_customers=500)
    pd.testing.assert_frame_equal(on_disk, pd.read_parquet(again / "orders.parquet"))
    # Time stamps are stored in microseconds (what Spark reads; the generator makes none
    # finer) and loaded as the contract's nanoseconds, to the same instants.
    import pyarrow.parquet as pq

    for table, col in (("orders", S.TIMESTAMP), ("calendar", S.DATE)):
        assert str(pq.read_schema(out / f"{table}.parquet").field(col).type) == "timestamp[us]"
    loaded = S.validate(on_disk, "orders")
    assert loaded[S.TIMESTAMP].dtype == "datetime64[ns]"
    assert (loaded[S.TIMESTAMP].to_numpy() == on_disk[S.TIMESTAMP].to_numpy()).all()


def test_load_synthetic_generates_once_and_validates(data_dir):
    ds = datasets.load("synthetic", size=400, seed=1)
    assert (datasets.synthetic_dir(400, 1) / "_complete").exists()
    assert set(ds.tables) == set(S.TABLES)
    ds.ledger.check()
    assert ds.ledger.rows_in["orders"] == len(ds.orders)
    truth = datasets.load_truth(400, 1)
    assert len(truth.customers) == 400


@pytest.mark.parametrize("size", ["small"])
def test_sizes_are_known(size):
    assert synthetic.SIZES[size] > 0
    assert synthetic.SIZES["default"] >= 20_000 and synthetic.SIZES["large"] >= 1_000_000


def test_parallel_first_use_never_reads_a_half_written_folder(data_dir):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=3) as pool:
        sizes = list(pool.map(_orders_of_fresh_load, [300] * 3))
    assert len(set(sizes)) == 1 and sizes[0] > 0
    leftovers = [p.name for p in (data_dir / "generated").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def _orders_of_fresh_load(n: int) -> int:
    return len(datasets.load("synthetic", size=n, seed=3).orders)


def test_data_command_takes_effect_strengths(data_dir, capsys):
    from chainsight import cli

    assert cli.main(["data", "--size", "small", "--seed", "4", "--effect",
                     "quality_incident=0"]) == 0
    assert (datasets.synthetic_dir("small", 4, {"quality_incident": 0}) / "_complete").exists()
    assert cli.main(["data", "--size", "small", "--effect", "quality_incident"]) == 2
    assert "expected NAME=STRENGTH" in capsys.readouterr().err
    assert cli.main(["data", "--size", "small", "--effect", "typo=0"]) == 2
    assert "unknown effect" in capsys.readouterr().err


def test_tier_mix_plans_share_one_forecast_of_tier_totals(small):
    c, p, o = small.customers, small.products, small.orders
    table, paired = overview.mix_holdout_comparison(o, c, p, "2025-01-01", n_boot=200)
    assert table["bias"].iloc[0] == pytest.approx(table["bias"].iloc[1])  # same tier totals
    assert paired.unit == "holdout week" and paired.n_units == 53
    # With one tier the tier's own mix is the national mix: nothing to gain.
    one = c.assign(city_tier="tier1")
    table, paired = overview.mix_holdout_comparison(o, one, p, "2025-01-01", n_boot=200)
    assert paired.difference == pytest.approx(0) and paired.verdict == "no measurable difference"
    # The plan never sees the holdout: changing it moves the actuals, not the plans.
    later = o[o[S.TIMESTAMP] >= "2025-01-01"].assign(quantity=lambda d: d[S.QUANTITY] * 2)
    doubled = pd.concat([o[o[S.TIMESTAMP] < "2025-01-01"], later])
    t2, _ = overview.mix_holdout_comparison(doubled, c, p, "2025-01-01", n_boot=200)
    assert (t2["bias"] + 1).to_numpy() == pytest.approx((table["bias"] + 1).to_numpy() / 2)


def test_tier_mix_placebo_tiers_do_not_win(small):
    """Negative control: city tiers shuffled among the customers carry no profile, so the
    tier's own mix must not beat the national one."""
    c = small.customers
    rng = np.random.default_rng(0)
    shuffled = c.assign(city_tier=rng.permutation(c["city_tier"].to_numpy()))
    _, paired = overview.mix_holdout_comparison(small.orders, shuffled, small.products,
                                                "2025-01-01", n_boot=500)
    assert paired.verdict != "better", paired.sentence()


def test_coupon_campaigns_have_control_groups_and_their_truth(small):
    c, t = small.campaigns, small.truth.campaigns
    assert len(c) == len(t) and c[S.CAMPAIGN_ID].nunique() == len(synthetic.CAMPAIGNS)
    share = c.groupby(S.CAMPAIGN_ID)[S.COUPON].mean()
    assert share.between(0.4, 0.6).all()  # half the audience couponed, the rest control
    # Only couponed customers who are alive get extra orders; none with the effect off.
    assert (t.loc[~t[S.COUPON] | ~t["alive"], "extra_orders"] == 0).all()
    assert t["extra_orders"].sum() > 0
    assert t["extra_orders"].sum() == pytest.approx(t["expected_extra_orders"][t[S.COUPON]].sum(),
                                                    rel=0.25)
    # The coupon: the first order a couponed customer places in the window, once.
    o = small.orders.merge(c, on=S.CUSTOMER_ID)
    inside = o[(o[S.TIMESTAMP] >= o[S.DATE])
               & (o[S.TIMESTAMP] < o[S.DATE] + pd.Timedelta(days=synthetic.CAMPAIGN_DAYS))]
    first = inside.sort_values([S.TIMESTAMP, S.ORDER_ID]).drop_duplicates(
        [S.CAMPAIGN_ID, S.CUSTOMER_ID])
    couponed = first[first[S.COUPON]]
    rate = 1 - couponed[S.UNIT_PRICE] / couponed[S.LIST_PRICE]
    assert (rate >= synthetic.COUPON_RATE - 0.01).all()
    control = first[~first[S.COUPON]]
    assert (control[S.DISCOUNT] < synthetic.COUPON_RATE - 1e-9).mean() > 0.5


def test_coupon_response_off_brings_no_extra_orders():
    off = synthetic.generate(1_500, seed=3, effects={"coupon_response": 0})
    on = synthetic.generate(1_500, seed=3)
    assert off.truth.campaigns["extra_orders"].sum() == 0
    assert on.truth.campaigns["extra_orders"].sum() > 0
    assert off.campaigns.equals(on.campaigns)  # the same audiences and coupons
    assert off.truth.customers.equals(on.truth.customers)
