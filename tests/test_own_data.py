"""A real export through one mapping, end to end: a file in the shape of Tableau's
"Sample - Superstore" (BOM, US dates, Sales without a unit price, ship-mode words,
customers in several cities, regions instead of city tiers) loads with no preprocessing
and runs every notebook in a report. Its text columns carry HTML and script strings,
and no page shows them unescaped (tests/test_safety.py runs a report whose pages do show
such labels, escaped)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chainsight import cli, datasets, readiness
from chainsight import schema as S

HOSTILE = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>")
TEXT_COLUMNS = ("Customer Name", "Segment", "City", "State", "Region", "Category",
                "Sub-Category", "Product Name")
SHIP_MODES = {"Same Day": "express", "First Class": "express", "Second Class": "standard",
              "Standard Class": "economy"}
COLUMNS = ["Row ID", "Order ID", "Order Date", "Ship Date", "Ship Mode", "Customer ID",
           "Customer Name", "Segment", "Country", "City", "State", "Postal Code", "Region",
           "Product ID", "Category", "Sub-Category", "Product Name", "Sales", "Quantity",
           "Discount", "Profit"]


def superstore(n_customers: int = 300, seed: int = 7) -> pd.DataFrame:
    """Order lines in Superstore's columns and formats, four years of them."""
    rng = np.random.default_rng(seed)
    cities = [("New York City", "New York", "East"), ("Los Angeles", "California", "West"),
              ("Seattle", "Washington", "West"), ("Houston", "Texas", "Central"),
              ("Chicago", "Illinois", "Central"), ("Atlanta", "Georgia", "South"),
              ("Miami", "Florida", "South"), ("Boston", "Massachusetts", "East")]
    cats = {"Furniture": ["Chairs", "Tables"], "Office Supplies": ["Paper", "Binders", "Art"],
            "Technology": ["Phones", "Accessories"]}
    products = [(f"{c[:3].upper()}-{s[:2].upper()}-{1000 + i:08d}", c, s, f"{s} model {i}",
                 float(np.round(rng.lognormal(3.2 if c != "Technology" else 4.5, 0.6), 2)))
                for i, (c, s) in enumerate((c, s) for c in cats for s in cats[c]
                                           for _ in range(12))]
    rows, order_no = [], 100000
    start, days = pd.Timestamp("2014-01-03"), 4 * 365 - 5
    for k in range(n_customers):
        cid = f"{'ABCDEFGH'[k % 8]}{'KLMNOP'[k % 6]}-{10000 + k * 15}"
        name, segment = f"Customer {k}", ["Consumer", "Corporate", "Home Office"][k % 3]
        home = int(rng.integers(len(cities)))
        rate = rng.gamma(2.0, 3.0)  # orders over the four years
        for _ in range(max(1, rng.poisson(rate))):
            order_no += int(rng.integers(1, 40))
            when = start + pd.Timedelta(days=int(rng.integers(days)))
            city = cities[home if rng.random() < 0.7 else int(rng.integers(len(cities)))]
            mode = rng.choice(list(SHIP_MODES), p=[0.05, 0.15, 0.2, 0.6])
            oid = f"{rng.choice(['CA', 'US'])}-{when.year}-{order_no}"
            for _ in range(int(rng.integers(1, 4))):
                pid, cat, sub, pname, price = products[int(rng.integers(len(products)))]
                qty = int(rng.integers(1, 8))
                disc = float(rng.choice([0, 0, 0, 0.1, 0.2, 0.5, 0.8]))
                sales = round(price * qty * (1 - disc), 4)
                rows.append([len(rows) + 1, oid, f"{when.month}/{when.day}/{when.year}",
                             f"{(when + pd.Timedelta(days=3)):%-m/%-d/%Y}", mode, cid, name,
                             segment, "United States", city[0], city[1],
                             str(10000 + home), city[2], pid, cat, sub, pname, sales, qty,
                             disc, round(sales * 0.12, 4)])
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # HTML and script strings in every text column, on a few lines each
    hit = rng.choice(len(frame), 40, replace=False)
    for i, col in enumerate(TEXT_COLUMNS):
        for j, row in enumerate(hit[i * 5:(i + 1) * 5]):
            frame.loc[row, col] = f"{frame.loc[row, col]} {HOSTILE[j % 2]}"
    return frame


MAPPING = """\
name: superstore
currency: USD
orders:
  path: superstore.csv
  encoding: utf-8-sig
  date_format: "%m/%d/%Y"
  columns:
    order_id: Order ID
    timestamp: Order Date
    customer_id: Customer ID
    product_id: Product ID
    quantity: Quantity
    discount: Discount
    ship_mode: Ship Mode
    country: Country
  derive:
    unit_price: Sales / Quantity
    list_price: Sales / Quantity / (1 - Discount)
  values:
    ship_mode: {Same Day: express, First Class: express, Second Class: standard,
                Standard Class: economy}
  drop: [duplicate]
customers:
  from: orders
  columns: {customer_id: Customer ID, city: City, city_tier: Region}
products:
  from: orders
  pick: latest
  columns: {product_id: Product ID, category: Category, description: Product Name}
"""


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("superstore")
    frame = superstore()
    frame.to_csv(folder / "superstore.csv", index=False, encoding="utf-8-sig")
    assert (folder / "superstore.csv").read_bytes()[:3] == b"\xef\xbb\xbf"  # the BOM
    (folder / "superstore.yaml").write_text(MAPPING)
    return folder / "superstore.yaml"


def test_the_export_loads_through_one_mapping(export):
    ds = datasets.load("custom", mapping=export)
    raw = pd.read_csv(export.parent / "superstore.csv", encoding="utf-8-sig")
    assert ds.ledger.rows_in["orders"] == len(raw) == ds.ledger.kept["orders"]
    orders = ds.orders
    assert set(orders[S.SHIP_MODE]) <= set(S.SHIP_MODES)
    paid = raw["Sales"] / raw["Quantity"]
    assert np.allclose(orders[S.UNIT_PRICE], paid)
    assert orders[S.TIMESTAMP].min() >= pd.Timestamp("2014-01-03")
    customers = ds.tables["customers"]
    assert len(customers) == raw["Customer ID"].nunique()
    several = raw.groupby("Customer ID")["City"].nunique().gt(1).sum()
    assert f"{several:,} of {len(customers):,} customer_id value(s) appear with several " \
           "'city' values" in " ".join(ds.ledger.notes)
    home = raw.groupby("Customer ID")["City"].agg(lambda s: s.value_counts().index[0])
    agree = customers.set_index(S.CUSTOMER_ID)[S.CITY].eq(home.reindex(customers[S.CUSTOMER_ID])
                                                          .to_numpy())
    assert agree.mean() > 0.95  # ties may go to the latest


def test_check_says_what_each_notebook_can_do(export, capsys):
    assert cli.main(["check", "--mapping", str(export)]) == 0
    out = capsys.readouterr().out
    ds = datasets.load("custom", mapping=export)
    frame = readiness.table(ds)
    assert "runs fully" in set(frame.loc[frame["notebook"] == "02", "status"]) or \
        "festival calendar" in " ".join(frame["status"])
    skipped_04 = frame.loc[frame["notebook"] == "04", "status"].str.cat()
    assert "warehouse network" in skipped_04 and "negative control" in skipped_04
    assert "column 'lon' of table 'customers'" in out and "table 'sites'" in out
    holdout = readiness.holdout_start(ds.orders, "", weeks=52).sentence
    assert f"Notebooks 00, 01, 04, 05 with holdout_start left empty: {holdout}" in out
    assert holdout.startswith("Holdout from 2016-12-27 (derived: the last 52 weeks")
    assert "category mix by tier" not in out  # regions serve as tiers


@pytest.fixture(scope="module")
def export_run(export, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "superstore"
    params = out.parent / "superstore_params.yaml"
    params.write_text(textwrap.dedent(f"""\
        name: superstore
        parameters:
          dataset: custom
          mapping: {export}
          top_products: 60
        """))
    code = cli.main(["report", "--params", str(params), "--out", str(out), "--jobs", "2"])
    metrics = json.loads((out / "metrics.json").read_text())["notebooks"]
    assert code == 0, {k: v["error"] for k, v in metrics.items() if v["error"]}
    return out, metrics


def test_every_notebook_runs_on_the_export(export, export_run):
    from test_notebooks import assert_skips_as_readiness_says

    out, metrics = export_run
    assert_skips_as_readiness_says(metrics, datasets.load("custom", mapping=export))
    assert set(metrics) >= {"00_data_overview", "01_customer_profiles",
                            "02_demand_forecasting", "03_inventory", "04_logistics"}
    m00 = metrics["00_data_overview"]["metrics"]
    assert "category mix by tier" not in m00.get("skipped", {})
    assert "profile comparison" not in metrics["02_demand_forecasting"]["metrics"].get(
        "skipped", {})


def test_no_page_shows_html_from_the_data(export_run):
    out, _ = export_run
    pages = list(out.glob("*.html"))
    notebooks = list((datasets.PROJECT_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert len(pages) == len(notebooks) + 1  # every notebook and the index
    for page in pages:
        text = page.read_text()
        for payload in HOSTILE:
            assert payload not in text, (page.name, payload)


def test_notebook_02_on_intermittent_products(export, tmp_path):
    """Without categories notebook 02 forecasts the top products, whose weeks are mostly
    empty: the intermittent methods join, RMSSE decides, and the stock table shows."""
    spec = tmp_path / "no_categories.yaml"
    spec.write_text(export.read_text().split("products:")[0].replace(
        "path: superstore.csv", f"path: {export.parent / 'superstore.csv'}"))
    params = tmp_path / "params.yaml"
    params.write_text(f"name: no_categories\nparameters:\n  dataset: custom\n  mapping: {spec}\n")
    out = tmp_path / "report"
    assert cli.main(["report", "--params", str(params), "--notebooks", "02", "--out",
                     str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())["notebooks"]["02_demand_forecasting"]
    assert m["metrics"]["deciding_metric"] == "rmsse"
    assert {"sba", "croston", "tsb_opt"} <= set(m["metrics"]["rmsse"])
    html = (out / "02_demand_forecasting.html").read_text()
    assert "so RMSSE decides" in html and "fill_rate" in html


def test_monthly_part_sales_run_through_notebook_02(tmp_path):
    """Monthly sales of spare parts in the carparts layout, as order lines with one
    'customer': notebook 02 reads the grain as months, forecasts every part-month, and
    the notebooks that need a customer profile say why they cannot run."""
    from test_forecasting import _carparts_shaped

    wide = _carparts_shaped(n=120)
    lines = wide.rename_axis("Part").reset_index().melt(id_vars="Part", var_name="Month",
                                                        value_name="Qty")
    lines = lines[lines["Qty"] > 0].assign(Customer="all", Price=25.0)
    lines.to_csv(tmp_path / "parts.csv", index=False)
    (tmp_path / "parts.yaml").write_text(textwrap.dedent("""\
        orders:
          path: parts.csv
          date_format: '%Y-%m'
          columns: {customer_id: Customer, timestamp: Month, product_id: Part,
                    quantity: Qty, unit_price: Price}
        """))
    params = tmp_path / "params.yaml"
    params.write_text(f"name: parts\nparameters:\n  dataset: custom\n"
                      f"  mapping: {tmp_path / 'parts.yaml'}\n")
    out = tmp_path / "report"
    assert cli.main(["report", "--params", str(params), "--notebooks", "01,02", "--out",
                     str(out)]) == 1
    nbs = json.loads((out / "metrics.json").read_text())["notebooks"]
    assert "need at least 5 customers with orders; the data has 1" in \
        nbs["01_customer_profiles"]["error"]
    m = nbs["02_demand_forecasting"]
    assert not m["error"]
    assert m["metrics"]["grain"] == "month" and m["metrics"]["forecasts_missing"] == 0
    assert m["metrics"]["deciding_metric"] == "rmsse"
    html = (out / "02_demand_forecasting.html").read_text()
    assert "51 months; origins" in html and "one-month lead time" in html
    assert "weeks; origins" not in html
