"""Hostile strings: quotes, semicolons and SQL in every label, id and path a user can
give. No value is written into SQL text, so each goes through as data."""

from __future__ import annotations

import pandas as pd
import pytest

from chainsight import clv, datasets, forecasting, overview, profiling
from chainsight import schema as S

HOSTILE = ["Kids' toys", "'; DROP TABLE orders; --", 'say "hi"; SELECT 1', "O'Brien's"]


@pytest.fixture(scope="module")
def hostile(small):
    """The small retailer with hostile labels in categories, channels, tiers and ids."""
    o, c, p = small.orders.copy(), small.customers.copy(), small.products.copy()
    cats = sorted(p[S.CATEGORY].unique())
    p[S.CATEGORY] = p[S.CATEGORY].map(dict(zip(cats, HOSTILE, strict=False)))
    chans = sorted(o[S.CHANNEL].unique())
    o[S.CHANNEL] = o[S.CHANNEL].map(dict(zip(chans, HOSTILE, strict=False)))
    tiers = sorted(c[S.CITY_TIER].unique())
    c[S.CITY_TIER] = c[S.CITY_TIER].map(dict(zip(tiers, HOSTILE, strict=False)))
    ids = {cid: f"{cid}'; DROP TABLE x; --" for cid in c[S.CUSTOMER_ID]}
    o[S.CUSTOMER_ID] = o[S.CUSTOMER_ID].map(ids)
    c[S.CUSTOMER_ID] = c[S.CUSTOMER_ID].map(ids)
    return o, c, p, small.calendar


def test_hostile_labels_are_data_not_sql(hostile, small, tmp_path):
    o, c, p, cal = hostile
    f = profiling.customer_features(o, c, p, cal, as_of="2025-01-01")
    plain = profiling.customer_features(small.orders, small.customers, small.products, cal,
                                        as_of="2025-01-01")
    assert len(f) == len(plain)
    cat_cols = [col for col in f.columns if col.startswith("cat_")]
    assert len(cat_cols) == 4 and f[cat_cols].sum(axis=1).round(9).eq(1).all()
    # The same customers get the same shares, whatever the labels are called.
    assert f["monetary"].sum() == pytest.approx(plain["monetary"].sum())
    summary = clv.rfm_summary(o, calibration_end="2024-12-31", holdout_end="2025-12-31")
    assert summary[S.CUSTOMER_ID].str.contains("DROP TABLE").all()
    panel = forecasting.demand_panel(o, [S.CATEGORY], products=p)
    assert set(panel[S.CATEGORY]) == set(HOSTILE)
    mix = overview.category_mix_by_tier(o, c, p)
    assert set(mix[S.CITY_TIER]) - {"all"} <= set(HOSTILE)
    # A Parquet path with a quote in it is read as a file, not as SQL.
    path = tmp_path / "it's; DROP TABLE.parquet"
    o.to_parquet(path)
    pd.testing.assert_frame_equal(clv.rfm_summary(path, calibration_end="2024-12-31"),
                                  clv.rfm_summary(o, calibration_end="2024-12-31"),
                                  check_dtype=False)


def test_panel_keys_are_checked_names():
    with pytest.raises(ValueError, match="can be keyed by"):
        forecasting.demand_panel(pd.DataFrame(columns=[S.CUSTOMER_ID, S.TIMESTAMP,
                                                       S.PRODUCT_ID, S.QUANTITY]),
                                 ["1; DROP TABLE orders"])


def test_styled_tables_escape_html():
    from chainsight import plots

    plots.use_style()
    frame = pd.DataFrame({"name": ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"],
                          "share": [0.5, 0.25]})
    html = frame.style.format({"share": "{:.1%}"}).hide(axis="index").to_html()
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "50.0%" in html
    labelled = frame.set_index("name").T.style.format("{:.2f}").to_html()  # labels, headers
    assert "<script>" not in labelled and "<img src=x" not in labelled
    assert "&lt;img src=x onerror=alert(1)&gt;" in labelled
    # A label formatted again (dates shown without their time) is escaped too.
    relabelled = frame.set_index("name").style.format_index(
        lambda v: f"[{v}]" if isinstance(v, str) else v, axis=0).to_html()
    assert "<script>" not in relabelled and "[&lt;script&gt;alert(1)" in relabelled


# A whole report on data whose text carries HTML, script and SQL strings: the small
# retailer written to Parquet with a payload in every free-text column, loaded through a
# mapping, and every notebook run. No page may show a payload unescaped.
PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>",
            "'; DROP TABLE orders; --")
TEXT = {"customers": (S.CITY, S.OCCUPATION), "products": (S.CATEGORY, "family", S.DESCRIPTION,
                                                          S.SUPPLIER),
        "orders": (S.CHANNEL,), "sites": (S.CITY,), "calendar": (S.EVENT,),
        "campaigns": (S.CAMPAIGN_ID,)}


def _with_payloads(values: pd.Series, shared: dict) -> pd.Series:
    """Every label gets a payload (the same label the same payload in every table)."""
    def tagged(v):
        if pd.isna(v) or v == "":
            return v
        return shared.setdefault(v, f"{v} {PAYLOADS[len(shared) % len(PAYLOADS)]}")
    return values.map(tagged)


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    import json

    import yaml

    from chainsight import cli, datasets

    folder = tmp_path_factory.mktemp("hostile")
    ds = datasets.load("synthetic", size="small", seed=42)
    spec, shared = {"name": "hostile", "currency": "CNY"}, {}
    for table, frame in ds.tables.items():
        frame = frame.copy()
        for col in TEXT[table]:
            frame[col] = _with_payloads(frame[col], shared)
        frame.to_parquet(folder / f"{table}.parquet")
        spec[table] = {"path": f"{table}.parquet", "columns": {c: c for c in frame.columns}}
    (folder / "hostile.yaml").write_text(yaml.safe_dump(spec))
    params = folder / "params.yaml"
    params.write_text(yaml.safe_dump({"name": "hostile", "parameters": {
        "dataset": "custom", "mapping": str(folder / "hostile.yaml")}}))
    out = folder / "report"
    code = cli.main(["report", "--params", str(params), "--out", str(out), "--jobs", "2"])
    metrics = json.loads((out / "metrics.json").read_text())["notebooks"]
    assert code == 0, {k: v["error"] for k, v in metrics.items() if v["error"]}
    return out


def test_no_report_page_shows_a_payload_unescaped(hostile_report):
    import html

    pages = sorted(hostile_report.glob("*.html"))
    notebooks = list((datasets.PROJECT_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert len(pages) == len(notebooks) + 1  # every notebook and the index
    shown = {}
    for page in pages:
        text = page.read_text()
        for payload in PAYLOADS[:2]:
            assert payload not in text, (page.name, payload)
            shown[page.name] = shown.get(page.name, 0) + text.count(
                html.escape(payload, quote=False))
    # The labels do reach the pages (festivals in 00 and 03, cities in 04), escaped.
    assert shown["00_data_overview.html"] and shown["04_logistics.html"], shown
