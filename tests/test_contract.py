"""The data contract: bad input gets a clear error; the ledger always adds up."""

from __future__ import annotations

import os
import textwrap

import pandas as pd
import pytest

from chainsight import datasets
from chainsight import schema as S
from chainsight.schema import DataContractError

ORDERS_CSV = """Customer,Order date,SKU,Qty,Price,Order no
c1,2024-01-05 10:00,p1,2,10.5,o1
c2,2024-01-06 11:30,p2,1,99,o2
c1,2024-02-01 09:15,p2,1,99,o3
"""


def _mapping(tmp_path, orders_csv=ORDERS_CSV, extra="", orders_bytes=None, in_orders=""):
    """Write the order lines and a YAML mapping for them; ``in_orders`` adds lines to the
    orders section, ``extra`` adds sections."""
    path = tmp_path / "orders.csv"
    if orders_bytes is not None:
        path.write_bytes(orders_bytes)
    else:
        path.write_text(orders_csv, encoding="utf-8")
    spec = tmp_path / "shop.yaml"
    spec.write_text(textwrap.dedent("""\
        name: my_shop
        orders:
          path: orders.csv
          columns:
            customer_id: Customer
            timestamp: Order date
            product_id: SKU
            quantity: Qty
            unit_price: Price
            order_id: Order no
        """) + textwrap.indent(in_orders, "  ") + extra)
    return spec


def test_mapping_loads_and_accounts_for_rows(tmp_path):
    ds = datasets.load("custom", mapping=_mapping(tmp_path))
    assert ds.name == "my_shop"
    assert list(ds.orders[S.CUSTOMER_ID]) == ["c1", "c2", "c1"]
    assert pd.api.types.is_datetime64_any_dtype(ds.orders[S.TIMESTAMP])
    assert ds.orders[S.QUANTITY].dtype == float
    assert ds.ledger.rows_in == {"orders": 3} and ds.ledger.kept == {"orders": 3}


def test_drop_rules_are_counted(tmp_path):
    csv = ORDERS_CSV + "c3,2024-02-02 09:00,p1,0,10,o4\n,2024-02-03 09:00,p1,1,10,o5\n" \
        "c1,2024-02-01 09:15,p2,1,99,o3\nc4,2024-02-04 09:00,p1,1,-1,C6\n"
    spec = _mapping(tmp_path, csv, in_orders="drop: [cancellation, missing_customer, "
                    "non_positive_quantity, non_positive_price, duplicate]\n")
    ds = datasets.load_mapped(spec)
    frame = ds.ledger.to_frame().set_index("reason")["rows"]
    assert frame["rows read"] == 7 and frame["rows kept"] == 3
    assert frame["cancellation (order id starts with 'C')"] == 1
    assert frame["missing customer id"] == 1
    assert frame["quantity <= 0"] == 1
    assert frame["unit price <= 0"] == 0  # the negative price was a cancellation first
    assert frame["exact duplicate of an earlier line"] == 1
    ds.ledger.check()


def test_missing_required_column(tmp_path):
    csv = ORDERS_CSV.replace("Qty", "Amount")
    with pytest.raises(DataContractError, match=r"orders.*Qty"):
        datasets.load_mapped(_mapping(tmp_path, csv))


def test_unmapped_required_column(tmp_path):
    spec = _mapping(tmp_path)
    spec.write_text(spec.read_text().replace("    quantity: Qty\n", ""))
    with pytest.raises(DataContractError, match=r"table 'orders'.*missing required.*quantity"):
        datasets.load_mapped(spec)


def test_unparsable_dates_name_column_and_rows(tmp_path):
    csv = ORDERS_CSV.replace("2024-01-06 11:30", "sometime in January")
    with pytest.raises(DataContractError) as err:
        datasets.load_mapped(_mapping(tmp_path, csv))
    msg = str(err.value)
    assert "table 'orders'" in msg and "'timestamp'" in msg and "sometime in January" in msg
    assert "1 row(s)" in msg


def test_date_format_from_mapping(tmp_path):
    csv = ORDERS_CSV.replace("2024-01-05 10:00", "05/01/2024 10:00").replace(
        "2024-01-06 11:30", "06/01/2024 11:30").replace("2024-02-01 09:15", "01/02/2024 09:15")
    ds = datasets.load_mapped(_mapping(tmp_path, csv, in_orders="date_format: '%d/%m/%Y %H:%M'\n"))
    assert ds.orders[S.TIMESTAMP].iloc[2] == pd.Timestamp("2024-02-01 09:15")


def test_wrong_type_names_column_and_value(tmp_path):
    csv = ORDERS_CSV.replace(",2,10.5,", ",two,10.5,")
    with pytest.raises(DataContractError, match=r"(?s)'quantity'.*not numbers.*two"):
        datasets.load_mapped(_mapping(tmp_path, csv))


def test_value_rule_breaks_are_errors_not_silent_drops(tmp_path):
    csv = ORDERS_CSV.replace(",2,10.5,", ",-2,10.5,")
    with pytest.raises(DataContractError, match=r"(?s)'quantity'.*greater_than.*-2"):
        datasets.load_mapped(_mapping(tmp_path, csv))


def test_empty_file(tmp_path):
    with pytest.raises(DataContractError, match="empty"):
        datasets.load_mapped(_mapping(tmp_path, orders_bytes=b""))
    with pytest.raises(DataContractError, match="no rows"):
        datasets.load_mapped(_mapping(tmp_path, ORDERS_CSV.splitlines()[0] + "\n"))


def test_unreadable_encoding_suggests_the_fix(tmp_path):
    csv = ORDERS_CSV.replace("c2,", "客户二,")
    spec = _mapping(tmp_path, orders_bytes=csv.encode("gbk"))
    with pytest.raises(DataContractError, match=r"cannot be read as 'utf-8'.*encoding"):
        datasets.load_mapped(spec)
    spec = _mapping(tmp_path, orders_bytes=csv.encode("gbk"), in_orders="encoding: gbk\n")
    assert "客户二" in set(datasets.load_mapped(spec).orders[S.CUSTOMER_ID])


def test_unknown_customer_and_product(tmp_path):
    (tmp_path / "customers.csv").write_text("id,city\nc1,Beijing\n")
    extra = "customers:\n  path: customers.csv\n  columns: {customer_id: id}\n"
    with pytest.raises(DataContractError) as err:
        datasets.load_mapped(_mapping(tmp_path, extra=extra))
    assert "customer_id" in str(err.value) and "'customers'" in str(err.value)
    assert "c2" in str(err.value)
    (tmp_path / "customers.csv").write_text("id,city\nc1,Beijing\nc2,Wuhan\n")
    (tmp_path / "products.csv").write_text("sku\np1\n")
    extra += "products:\n  path: products.csv\n  columns: {product_id: sku}\n"
    with pytest.raises(DataContractError, match=r"(?s)product_id.*'products'.*p2"):
        datasets.load_mapped(_mapping(tmp_path, extra=extra))


def test_mapping_errors_name_the_problem(tmp_path):
    spec = _mapping(tmp_path)
    spec.write_text(spec.read_text().replace("SKU", "Sku"))
    with pytest.raises(DataContractError, match=r"product_id <- 'Sku'"):
        datasets.load_mapped(spec)
    with pytest.raises(DataContractError, match="not found"):
        datasets.load_mapped(tmp_path / "nope.yaml")
    spec.write_text("orders:\n  path: orders.csv\n  drop: [everything]\n")
    with pytest.raises(DataContractError, match="unknown drop rule"):
        datasets.load_mapped(spec)
    with pytest.raises(DataContractError, match="unknown dataset"):
        datasets.load("mystery")


def test_ledger_invariant_holds_under_any_rules():
    frame = pd.DataFrame({S.CUSTOMER_ID: ["a", None, "b", "b", "c"],
                          S.QUANTITY: [1, 1, 0, 0, 2], S.UNIT_PRICE: [1, 1, 1, 1, 0],
                          S.PRODUCT_ID: "p", S.TIMESTAMP: "2024-01-01"})
    for order in (["missing_customer", "duplicate", "non_positive_quantity"],
                  ["duplicate", "non_positive_price", "missing_customer"]):
        ledger = S.Ledger()
        kept = S.apply_drop_rules(frame, "orders", [datasets.DROP_RULES[r] for r in order],
                                  ledger)
        ledger.check()
        assert ledger.kept["orders"] == len(kept)
    ledger.kept["orders"] += 1
    with pytest.raises(AssertionError, match="does not add up"):
        ledger.check()


def test_online_retail_every_line_accounted_for():
    ds = datasets.load_online_retail()
    ledger = ds.ledger.to_frame().set_index("reason")["rows"]
    assert ledger["rows read"] == 541_909
    assert ledger["cancellation (order id starts with 'C')"] == 9_288
    dropped = ledger.drop(["rows read", "rows kept"]).sum()
    assert ledger["rows kept"] + dropped == 541_909
    # The usual RFM cleaning (no cancellations, a customer id, quantity and price > 0)
    # keeps 397,884 lines; this loader also removes exact duplicates among them.
    assert ledger["rows kept"] + ledger["exact duplicate of an earlier line"] == 397_884
    assert ds.orders[S.CUSTOMER_ID].nunique() == 4_338
    assert ds.orders[S.CUSTOMER_ID].str.fullmatch(r"\d+").all()  # no '.0' from the float ids
    assert ds.tables["products"][S.DESCRIPTION].notna().mean() > 0.99


def test_cdnow_sample():
    ds = datasets.load("cdnow")
    assert len(ds.orders) == 6_919 and ds.orders[S.CUSTOMER_ID].nunique() == 2_357
    revenue = (ds.orders[S.QUANTITY] * ds.orders[S.UNIT_PRICE]).sum()
    assert revenue == pytest.approx(244_091.94, abs=0.01)


def test_relative_mapping_path_is_read_from_the_project_folder(tmp_path):
    spec = _mapping(tmp_path)
    relative = os.path.relpath(spec, datasets.PROJECT_ROOT)
    assert len(datasets.load("custom", mapping=relative).orders) == 3


# Bad mappings and bad files that used to give a traceback or load silently wrong: each
# now gets a sentence naming what is wrong and where.
BAD_INPUT = {
    "unknown encoding": (dict(in_orders="encoding: no-such-codec\n"),
                         r"unknown encoding 'no-such-codec'"),
    "drop written as a string": (dict(in_orders="drop: duplicate\n"),
                                 r"'drop' must be a list of rules.*drop: \[duplicate\]"),
    "infinite quantity": (dict(orders_csv=ORDERS_CSV + "c3,2024-02-02 09:00,p1,inf,10,o4\n"),
                          r"column 'quantity': infinite values \(1 row"),
    "Excel workbook saved as .csv": (dict(orders_bytes=b"PK\x03\x04" + b"\x00" * 64),
                                     r"binary file \(it looks like an Excel workbook"),
    "binary bytes": (dict(orders_bytes=b"Customer,Qty\n\x00\x01\x02\x00"),
                     r"binary file"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_gets_a_sentence(case, tmp_path):
    kwargs, message = BAD_INPUT[case]
    with pytest.raises(DataContractError, match=message):
        datasets.load_mapped(_mapping(tmp_path, **kwargs))


def test_columns_must_be_a_mapping(tmp_path):
    spec = _mapping(tmp_path)
    text = spec.read_text().replace(
        "  columns:\n    customer_id: Customer\n", "  columns:\n    - customer_id: Customer\n")
    text = text.replace("\n    timestamp:", "\n    - timestamp:").replace(
        "\n    product_id:", "\n    - product_id:").replace("\n    quantity:", "\n    - quantity:")
    text = text.replace("\n    unit_price:", "\n    - unit_price:").replace(
        "\n    order_id:", "\n    - order_id:")
    spec.write_text(text)
    with pytest.raises(DataContractError, match=r"section 'orders': 'columns' must map"):
        datasets.load_mapped(spec)


def test_a_column_mapped_twice_is_an_error(tmp_path):
    spec = _mapping(tmp_path, in_orders="")
    spec.write_text(spec.read_text().replace("order_id: Order no", "order_id: SKU"))
    with pytest.raises(DataContractError,
                       match=r"column 'SKU' is mapped twice \(product_id, order_id\)"):
        datasets.load_mapped(spec)


def test_utc_offsets_are_dropped_and_the_time_kept_as_written(tmp_path):
    csv = ORDERS_CSV.replace("2024-01-05 10:00", "2024-01-05T10:00:00+08:00").replace(
        "2024-01-06 11:30", "2024-01-06T11:30:00Z").replace(
        "2024-02-01 09:15", "2024-02-01T09:15:00-05:00")
    ds = datasets.load_mapped(_mapping(tmp_path, csv))
    assert list(ds.orders[S.TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M")) == [
        "2024-01-05 10:00", "2024-01-06 11:30", "2024-02-01 09:15"]
    assert ds.orders[S.TIMESTAMP].dt.tz is None


def test_every_line_dropped_names_the_rules(tmp_path):
    csv = "Customer,Order date,SKU,Qty,Price,Order no\nc1,2024-01-05 10:00,p1,0,10,o1\n" \
        "c2,2024-01-06 11:30,p2,-1,99,C2\n"
    spec = _mapping(tmp_path, csv, in_orders="drop: [cancellation, non_positive_quantity]\n")
    with pytest.raises(DataContractError, match=r"every row was dropped: 1 by cancellation.*"
                       r"1 by quantity <= 0"):
        datasets.load_mapped(spec)


def test_future_dates_are_an_error_or_a_counted_drop(tmp_path):
    csv = ORDERS_CSV + "c3,2099-02-02 09:00,p1,1,10,o4\n"
    with pytest.raises(DataContractError, match=r"column 'timestamp': dates after today.*"
                       r"add 'future' to the section's 'drop' rules \(1 row"):
        datasets.load_mapped(_mapping(tmp_path, csv))
    ds = datasets.load_mapped(_mapping(tmp_path, csv, in_orders="drop: [future]\n"))
    assert len(ds.orders) == 3 and ds.orders[S.TIMESTAMP].max().year == 2024
    dropped = ds.ledger.to_frame()
    assert dropped.loc[dropped["reason"] == "dated after today", "rows"].tolist() == [1]
    ds.ledger.check()
