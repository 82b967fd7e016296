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


def test_date_format_from_mapping(tmp_path):
    csv = ORDERS_CSV.replace("2024-01-05 10:00", "05/01/2024 10:00").replace(
        "2024-01-06 11:30", "06/01/2024 11:30").replace("2024-02-01 09:15", "01/02/2024 09:15")
    ds = datasets.load_mapped(_mapping(tmp_path, csv, in_orders="date_format: '%d/%m/%Y %H:%M'\n"))
    assert ds.orders[S.TIMESTAMP].iloc[2] == pd.Timestamp("2024-02-01 09:15")


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


def test_ledger_invariant_holds_under_any_rules():
    frame = pd.DataFrame({S.CUSTOMER_ID: ["a", None, "b", "b", "c"],
                          S.QUANTITY: [1, 1, 0, 0, 2], S.UNIT_PRICE: [1, 1, 1, 1, 0],
                          S.PRODUCT_ID: "p", S.TIMESTAMP: "2024-01-01"})
    for order in (["missing_customer", "duplicate", "non_positive_quantity"],
                  ["duplicate", "non_positive_price", "missing_customer"]):
        ledger = S.Ledger()
        rules = [rule for r in order for rule in datasets.DROP_RULES[r]]
        kept = S.apply_drop_rules(frame, "orders", rules, ledger)
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
    # keeps 397,884 lines; this loader also removes the lines a cancellation cancels
    # and exact duplicates among them.
    assert ledger[datasets.CANCELLED] == 2_930
    assert ledger["rows kept"] + ledger["exact duplicate of an earlier line"] \
        + ledger[datasets.CANCELLED] == 397_884
    assert ledger["rows kept"] == 389_810
    assert ds.orders[S.CUSTOMER_ID].nunique() == 4_327
    # The two huge orders that were cancelled the same day are gone.
    assert not ds.orders[S.ORDER_ID].isin(["581483", "541431"]).any()
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


# The catalogue: bad mappings and bad files a user hits. Each gets a sentence naming what
# is wrong and where (never a traceback, never a silent load). A case is the keyword
# arguments of ``_mapping`` (plus ``yaml``: (old, new) replacements in the mapping text,
# and ``files``: other files to write) and the message expected.
def _case(**kwargs):
    return kwargs


def _with_column(name: str, values: tuple, canonical: str, **kwargs) -> dict:
    """A case whose last column ('Order no') becomes ``name`` with ``values``, mapped as
    ``canonical``."""
    csv = ORDERS_CSV.replace("Order no", name)
    for old, new in zip((",o1", ",o2", ",o3"), values, strict=True):
        csv = csv.replace(old, f",{new}")
    return _case(orders_csv=csv, yaml=[("order_id: Order no", f"{canonical}: {name}")],
                 **kwargs)


LINES = ORDERS_CSV.splitlines(keepends=True)
COLUMNS_BLOCK = ("  columns:\n    customer_id: Customer\n    timestamp: Order date\n"
                 "    product_id: SKU\n    quantity: Qty\n    unit_price: Price\n"
                 "    order_id: Order no\n")
SEMICOLONS = ORDERS_CSV.replace(",", ";")
BAD_INPUT = {
    # the mapping file itself
    "mapping file not found": (_case(yaml=[("", "")], spec_name="nope.yaml"),
                               r"mapping file not found"),
    "mapping is not YAML": (_case(yaml=[("  columns:\n", "  columns: [\n")]),
                            r"is not valid YAML"),
    "no orders section": (_case(yaml=[("orders:\n", "order_lines:\n")]),
                          r"needs an 'orders' section"),
    "unknown section, with a suggestion": (
        _case(extra="customer:\n  path: orders.csv\n"),
        r"unknown section 'customer' \(did you mean 'customers'\?\)"),
    "section is not a mapping": (_case(extra="customers: customers.csv\n"),
                                 r"section 'customers': must be a mapping"),
    "unknown key, with a suggestion": (_case(in_orders="date_fromat: '%d/%m/%Y'\n"),
                                       r"unknown key 'date_fromat' \(did you mean 'date_format'"),
    "columns as a list": (_case(yaml=[(COLUMNS_BLOCK, "  columns: [Customer, SKU, Qty]\n")]),
                          r"'columns' must be a mapping of canonical names to your column names"),
    "unknown canonical column, with a suggestion": (
        _case(in_orders="derive: {ship_mod: '1'}\n"),
        r"unknown canonical column 'ship_mod' \(did you mean 'ship_mode'\?\)"),
    "a column mapped twice": (_case(yaml=[("order_id: Order no", "order_id: SKU")]),
                              r"column 'SKU' is mapped twice \(product_id, order_id\)"),
    "mapped and derived": (_case(in_orders="derive: {unit_price: Price * 2}\n"),
                           r"'unit_price' is both mapped in 'columns' and derived"),
    "drop written as a string": (_case(in_orders="drop: duplicate\n"),
                                 r"'drop' must be a list of rules, e.g. 'drop: \[duplicate\]'; "
                                 r"got str 'duplicate'"),
    "unknown drop rule": (_case(in_orders="drop: [everything]\n"), r"unknown drop rule"),
    "unknown encoding": (_case(in_orders="encoding: no-such-codec\n"),
                         r"unknown encoding 'no-such-codec'"),
    "unknown timezone": (_case(extra="timezone: Mars/Olympus\n"),
                         r"unknown timezone 'Mars/Olympus'"),
    "timestamp unit not known": (_case(in_orders="timestamp_unit: seconds\n"),
                                 r"'timestamp_unit' must be one of \['s', 'ms', 'us', 'ns'\]"),
    "decimal equals the separator": (_case(in_orders="decimal: ','\nsep: comma\n"),
                                     r"'decimal' \(','\) must differ from 'sep'"),
    "both path and from": (_case(extra="customers:\n  path: orders.csv\n  from: orders\n"
                                 "  columns: {customer_id: Customer}\n"),
                           r"needs either 'path' .* or 'from: orders'"),
    "from: orders for sites": (_case(extra="sites:\n  from: orders\n  columns: {site_id: SKU}\n"),
                               r"only \['customers', 'products'\] can be built"),
    "from: orders without its key": (
        _case(extra="customers:\n  from: orders\n  columns: {city: Customer}\n"),
        r"needs its key 'customer_id' in 'columns'"),
    "from: orders naming a column the orders file lacks": (
        _case(extra="customers:\n  from: orders\n  columns: {customer_id: Customer, city: Town}\n"),
        r"table 'customers' \(from: orders\): column\(s\) not in the orders file: city <- 'Town'"),
    "pick on a file table": (_case(extra="customers:\n  path: orders.csv\n  pick: latest\n"
                                   "  columns: {customer_id: Customer}\n"),
                             r"'pick' applies to a table built 'from: orders'"),
    "recoding a column that is not mapped": (
        _case(in_orders="values: {ship_mode: {Fast: express}}\n"),
        r"'values': 'ship_mode' is not mapped in 'columns'"),
    "an expression with code": (_case(in_orders="derive: {list_price: \"__import__('os')\"}\n"),
                                r"cannot read the expression .*unexpected character \"'\""),
    "an expression that does not close": (_case(in_orders="derive: {list_price: (Price * 2}\n"),
                                          r"cannot read the expression.*'\(' is not closed"),
    # the files
    "data file not found": (_case(yaml=[("path: orders.csv", "path: order.csv")]),
                            r"file .*order.csv: file not found"),
    "mapped column not in the file": (_case(yaml=[("SKU", "Sku")]),
                                      r"mapped column\(s\) not in the file: product_id <- 'Sku'"),
    "required column unmapped": (_case(yaml=[("    quantity: Qty\n", "")]),
                                 r"table 'orders'.*missing required.*quantity"),
    "empty file": (_case(orders_bytes=b""), r"the file is empty"),
    "header only": (_case(orders_csv=LINES[0]), r"the file has a header but no rows"),
    "Excel workbook saved as .csv": (_case(orders_bytes=b"PK\x03\x04" + b"\x00" * 64),
                                     r"file .*orders.csv: a binary file \(it looks like an "
                                     r"Excel workbook"),
    "binary bytes": (_case(orders_bytes=b"Customer,Qty\n\x00\x01\x02\x00"), r"binary file"),
    "undecodable bytes name the line": (
        _case(orders_bytes=ORDERS_CSV.replace("c2,", "客户二,").encode("gbk")),
        r"cannot be read as 'utf-8' text \(first bad byte at line 3, byte \d+ of the file\)"),
    "semicolons without sep": (_case(orders_csv=SEMICOLONS),
                               r"one column only .*set 'sep:' in the mapping"),
    "unparsable dates name the line": (
        _case(orders_csv=ORDERS_CSV.replace("2024-01-06 11:30", "sometime")),
        r"(?s)'timestamp': dates that cannot be parsed \(1 row.*by line of the file.*\n3 +"
        r"sometime"),
    "dates not in date_format": (_case(in_orders="date_format: '%d/%m/%Y'\n"),
                                 r"dates that cannot be parsed with format '%d/%m/%Y'"),
    "text in a number column": (_case(orders_csv=ORDERS_CSV.replace(",2,10.5,", ",two,10.5,")),
                                r"(?s)'quantity': values that are not numbers.*two"),
    "infinite quantity": (_case(orders_csv=ORDERS_CSV + "c3,2024-02-02 09:00,p1,inf,10,o4\n"),
                          r"column 'quantity': infinite values \(1 row"),
    "negative quantity no rule removes": (
        _case(orders_csv=ORDERS_CSV.replace(",2,10.5,", ",-2,10.5,")),
        r"(?s)'quantity'.*greater_than.*-2"),
    "discount above 1": (_with_column("Disc", ("15", "0", "0"), "discount"),
                         r"'discount'.*in_range"),
    "a ship mode the contract does not know": (
        _with_column("Mode", ("Same Day", "express", "express"), "ship_mode"),
        r"'ship_mode'.*isin"),
    "missing customer and no rule": (_case(orders_csv=ORDERS_CSV.replace("c2,", ",")),
                                     r"'customer_id': missing values \(1 row"),
    "future dates without the rule": (_case(orders_csv=ORDERS_CSV + "c3,2099-01-01,p1,1,1,o9\n"),
                                      r"dates after today .*add 'future'"),
    "every line dropped names the rules": (
        _case(orders_csv=LINES[0] + "c1,2024-01-05,p1,0,10,o1\nc2,2024-01-06,p2,-1,99,C2\n",
              in_orders="drop: [cancellation, non_positive_quantity]\n"),
        r"every row was dropped: 0 by cancelled by a later.*1 by cancellation.*"
        r"1 by quantity <= 0"),
    "an order line names an unknown customer": (
        _case(files={"customers.csv": "id\nc1\n"},
              extra="customers:\n  path: customers.csv\n  columns: {customer_id: id}\n"),
        r"(?s)'customer_id': values not found in table 'customers'.*c2"),
    "a customer listed twice": (
        _case(files={"customers.csv": "id\nc1\nc2\nc1\n"},
              extra="customers:\n  path: customers.csv\n  columns: {customer_id: id}\n"),
        r"table 'customers', column 'customer_id': fails check 'field_uniqueness'"),
    "a site off the globe": (
        _case(files={"sites.csv": "id,city,lon,lat\ns1,Wuhan,114.3,130.6\n"},
              extra="sites:\n  path: sites.csv\n"
                    "  columns: {site_id: id, city: city, lon: lon, lat: lat}\n"),
        r"table 'sites', column 'lat': fails check 'in_range"),
    "a recoding that misses values": (
        _with_column("Mode", ("Same Day", "First Class", "Second Class"), "ship_mode",
                     in_orders="values: {ship_mode: {Same Day: express}}\n"),
        r"'values' does not recode: 'First Class' \(1 row\), 'Second Class' \(1 row\)"),
    "a derived column from text": (
        _case(orders_csv=ORDERS_CSV.replace("Order no", "Sales").replace(",o1", ",21")
              .replace(",o2", ",twelve").replace(",o3", ",99"),
              yaml=[("    unit_price: Price\n", ""), ("    order_id: Order no\n", "")],
              in_orders="derive: {unit_price: Sales / Qty}\n"),
        r"(?s)column 'Sales': values that are not numbers \(used to derive 'unit_price'\).*twelve"),
    "a derived column divided by zero": (
        _case(orders_csv=ORDERS_CSV.replace(",2,10.5,", ",0,10.5,"),
              yaml=[("    unit_price: Price\n", "")],
              in_orders="derive: {unit_price: Price / Qty}\n"),
        r"'unit_price': 'Price / Qty' has no value \(division by zero\)"),
    "a derived column from a missing column": (
        _case(yaml=[("    unit_price: Price\n", "")], in_orders="derive: {unit_price: Sales}\n"),
        r"derive 'unit_price': column\(s\) \['Sales'\] not in the file"),
    "a header naming a column twice": (
        _case(orders_csv=ORDERS_CSV.replace("Order no", "Qty")),
        r"the header names \['Qty'\] more than once"),
    "a Parquet file naming a column twice": (
        _case(parquet={"Qty": None}), r"column name\(s\) \['Qty'\] appear more than once"),
    "a UTF-8 file read as latin-1": (
        _case(orders_csv=ORDERS_CSV.replace("c2,", "München,"), in_orders="encoding: latin-1\n"),
        r"read as 'latin-1' the text would be garbled \(the file is 'utf-8' text\)"),
    "a cp1252 file read as latin-1": (
        _case(orders_bytes=ORDERS_CSV.replace("c2,", "“c2”,").encode("cp1252"),
              in_orders="encoding: latin-1\n"),
        r"the file is 'cp1252' text\); set 'encoding: cp1252'"),
    "a UTF-16 file read as utf-8": (_case(orders_bytes=ORDERS_CSV.encode("utf-16")),
                                    r"it looks like utf-16 text; set 'encoding: utf-16'"),
    "a field holding the separator, unquoted": (
        _case(orders_csv=ORDERS_CSV.replace(",99,o2", ",1,099.00,o2")),
        r"line 3 has 7 fields, the header 6; a field that contains the separator ','"),
    "the wrong separator": (_case(in_orders="sep: ';'\n"),
                            r"one column only \('Customer,Order date.*set 'sep:'"),
    "a separator of two characters": (_case(in_orders="sep: '::'\n"),
                                      r"'sep' must be one character, or tab"),
    "day and month in digits without date_format": (
        _case(orders_csv=ORDERS_CSV.replace("2024-01-06 11:30", "06/01/2024 11:30")),
        r"(?s)day and month in digits.*set 'date_format'.*'%d/%m/%Y'.*\n3 +06/01/2024"),
    "epoch numbers in a CSV without a unit": (
        _case(orders_csv=ORDERS_CSV.replace("2024-01-06 11:30", "1704540600")),
        r"dates that cannot be parsed; they are numbers: .*set 'timestamp_unit'"),
    "epoch seconds read as milliseconds": (
        _case(orders_csv=ORDERS_CSV.replace("2024-01-05 10:00", "1704448800").replace(
            "2024-01-06 11:30", "1704540600").replace("2024-02-01 09:15", "1706778900"),
            in_orders="timestamp_unit: ms\n"),
        r"epoch times in 'ms' that give dates outside 1980 to 2100 \(e.g. 1970-01-20"),
    "grouped numbers without a thousands setting": (
        _case(orders_csv=ORDERS_CSV.replace(",10.5,", ',"1,234.50",')),
        r"(?s)'unit_price': values that are not numbers; they look like grouped numbers.*"
        r"set 'thousands' and 'decimal'.*now: none set"),
    "a decimal comma read with thousands ','": (
        _case(orders_csv=ORDERS_CSV.replace(",10.5,", ',"10,5",'), in_orders="thousands: ','\n"),
        r"(?s)'unit_price': values that are not numbers.*10,5"),
    "percentages": (_with_column("Disc", ("20%", "0%", "5%"), "discount"),
                    r"they end in '%': export them as fractions"),
    "recoding keys YAML reads as booleans": (
        _with_column("Fast", ("yes", "no", "yes"), "ship_mode",
                     in_orders="values: {ship_mode: {yes: express, no: standard}}\n"),
        r"YAML read the key True as bool, not as the text in your file; put each key in quotes"),
    "from: orders keyed on another column": (
        _case(extra="customers:\n  from: orders\n  columns: {customer_id: Order no}\n"),
        r"its key 'customer_id' must be the orders' own column 'Customer', not 'Order no'"),
    "cancellation after the rules that drop its lines": (
        _case(in_orders="drop: [non_positive_quantity, cancellation]\n"),
        r"put 'cancellation' before \['non_positive_quantity'\] in 'drop'"),
    "cancellation without an order id": (
        _case(yaml=[("    order_id: Order no\n", "")], in_orders="drop: [cancellation]\n"),
        r"the drop rule 'cancellation' reads 'order_id', which 'columns' does not map"),
    "ids in scientific notation": (
        _case(orders_csv=ORDERS_CSV.replace("c1,", "1.23457E+11,")),
        r"'customer_id': ids in scientific notation \(Excel rounded"),
    "a column name with a dash, unquoted": (
        _case(orders_csv=ORDERS_CSV.replace("Price", "Net-Sales"),
              yaml=[("    unit_price: Price\n", "")],
              in_orders="derive: {unit_price: Net-Sales / Qty}\n"),
        r"column\(s\) \['Net', 'Sales'\] not in the file; write a name with spaces or symbols "
        r"in backticks, e.g. `Net-Sales`"),
    "epoch numbers in a Parquet date column": (
        _case(parquet={"timestamp": [1704448800, 1704540600, 1706778900]}),
        r"'timestamp': numbers, not dates; .*set 'timestamp_unit'"),
}


def _write_case(tmp_path, yaml=(), files=None, spec_name=None, parquet=None, **kwargs):
    spec = _mapping(tmp_path, **kwargs)
    text = spec.read_text()
    for old, new in yaml:
        text = text.replace(old, new)
    spec.write_text(text)
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content)
    if parquet is not None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = pd.read_csv(tmp_path / "orders.csv").rename(columns={"Order date": "timestamp"})
        twice = [col for col, values in parquet.items() if values is None]
        for col, values in parquet.items():
            if values is not None:
                frame[col] = values
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for col in twice:  # the same name once more
            table = table.append_column(col, table.column(col))
        pq.write_table(table, tmp_path / "orders.parquet")
        spec.write_text(spec.read_text().replace("path: orders.csv", "path: orders.parquet")
                        .replace("timestamp: Order date", "timestamp: timestamp"))
    return tmp_path / spec_name if spec_name else spec


def test_the_catalogue_has_at_least_35_cases():
    assert len(BAD_INPUT) >= 35


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_gets_a_sentence(case, tmp_path):
    kwargs, message = BAD_INPUT[case]
    with pytest.raises(DataContractError, match=message):
        datasets.load_mapped(_write_case(tmp_path, **kwargs))


def test_utc_offsets_are_dropped_and_the_time_kept_as_written(tmp_path):
    csv = ORDERS_CSV.replace("2024-01-05 10:00", "2024-01-05T10:00:00+08:00").replace(
        "2024-01-06 11:30", "2024-01-06T11:30:00Z").replace(
        "2024-02-01 09:15", "2024-02-01T09:15:00-05:00")
    ds = datasets.load_mapped(_mapping(tmp_path, csv))
    assert list(ds.orders[S.TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M")) == [
        "2024-01-05 10:00", "2024-01-06 11:30", "2024-02-01 09:15"]
    assert ds.orders[S.TIMESTAMP].dt.tz is None


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


# Mapping v2: what a real export needs, said in the mapping instead of a script.
def test_derived_columns_recoding_and_number_formats(tmp_path):
    csv = ("Customer;Order date;SKU;Qty;Sales;Discount;Mode\n"
           "c1;05/01/2024;p1;2;1.234,50;0,2;Same Day\n"
           "c2;06/01/2024;p2;1;99,00;0;Standard Class\n")
    (tmp_path / "orders.csv").write_text(csv)
    spec = tmp_path / "shop.yaml"
    spec.write_text(textwrap.dedent("""\
        orders:
          path: orders.csv
          sep: ";"
          decimal: ","
          thousands: "."
          date_format: "%d/%m/%Y"
          columns: {customer_id: Customer, timestamp: Order date, product_id: SKU,
                    quantity: Qty, discount: Discount, ship_mode: Mode}
          derive:
            unit_price: "`Sales` / Qty"
            list_price: Sales / Qty / (1 - Discount)
          values:
            ship_mode: {Same Day: express, Standard Class: economy}
        """))
    orders = datasets.load_mapped(spec).orders
    assert list(orders[S.UNIT_PRICE]) == [617.25, 99.0]
    assert orders[S.LIST_PRICE].iloc[0] == pytest.approx(617.25 / 0.8)
    assert list(orders[S.DISCOUNT]) == [0.2, 0.0]
    assert list(orders[S.SHIP_MODE]) == ["express", "economy"]


def test_expressions_are_arithmetic_only():
    from chainsight.mapping import Expression, MappingError

    expr = Expression("-(a + `b c`) * 2 / 4 - 1", "test")
    value = expr.evaluate({"a": pd.Series([1.0, 2.0]), "b c": pd.Series([3.0, 4.0])})
    assert list(value) == [-3.0, -4.0]
    for text in ("a.__class__", "open('x')", "a ** 2", "a; b", "lambda: 1", "[a]", "a +"):
        with pytest.raises(MappingError, match="cannot read the expression"):
            Expression(text, "test")


CITIES = """Customer,Order date,SKU,Qty,Price,City,Category
c1,2024-01-05,p1,1,10,Wuhan,Toys
c1,2024-01-06,p2,1,10,Wuhan,Books
c1,2024-03-01,p1,1,10,Xi'an,Toys
c2,2024-01-07,p2,1,10,Lyon,Books
"""


@pytest.mark.parametrize("pick,city", [("most_frequent", "Wuhan"), ("latest", "Xi'an")])
def test_tables_built_from_order_lines(tmp_path, pick, city):
    spec = _mapping(tmp_path, CITIES, extra=(
        f"customers:\n  from: orders\n  pick: {pick}\n"
        "  columns: {customer_id: Customer, city: City}\n"
        "products:\n  from: orders\n  columns: {product_id: SKU, category: Category}\n"),
        in_orders="")
    spec.write_text(spec.read_text().replace("    order_id: Order no\n", ""))
    ds = datasets.load_mapped(spec)
    customers = ds.tables["customers"].set_index(S.CUSTOMER_ID)[S.CITY]
    assert customers.to_dict() == {"c1": city, "c2": "Lyon"}
    assert ds.tables["products"].set_index(S.PRODUCT_ID)[S.CATEGORY].to_dict() == {
        "p1": "Toys", "p2": "Books"}
    kept = "the latest" if pick == "latest" else "the most frequent"
    assert (f"customers: 1 of 2 customer_id value(s) appear with several 'city' values in the "
            f"order lines; {kept} was kept") in ds.ledger.notes
    assert ds.ledger.rows_in["customers"] == ds.ledger.kept["customers"] == 2


def test_timezone_converts_offsets_and_the_ledger_says_so(tmp_path):
    csv = ORDERS_CSV.replace("2024-01-05 10:00", "2024-01-05T10:00:00+08:00").replace(
        "2024-01-06 11:30", "2024-01-06T11:30:00Z")
    ds = datasets.load_mapped(_mapping(tmp_path, csv, extra="timezone: Asia/Shanghai\n"))
    assert list(ds.orders[S.TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M")) == [
        "2024-01-05 10:00", "2024-01-06 19:30", "2024-02-01 09:15"]
    assert ds.ledger.notes == ["orders: 2 value(s) of 'timestamp' had a UTC offset; it was "
                               "converted to Asia/Shanghai"]


def test_epoch_timestamps_in_parquet_with_their_unit(tmp_path):
    kwargs, _ = BAD_INPUT["epoch numbers in a Parquet date column"]
    spec = _write_case(tmp_path, **kwargs)
    spec.write_text(spec.read_text() + "  timestamp_unit: s\n")
    ds = datasets.load_mapped(spec)
    assert str(ds.orders[S.TIMESTAMP].iloc[0]) == "2024-01-05 10:00:00"


def test_future_lines_dropped_by_the_rule_are_in_the_ledger(tmp_path):
    csv = ORDERS_CSV + "c3,2099-01-01,p1,1,1,o9\n"
    ds = datasets.load_mapped(_mapping(tmp_path, csv, in_orders="drop: [future]\n"))
    ledger = ds.ledger.to_frame().set_index("reason")["rows"]
    assert ledger["dated after today"] == 1 and ledger["rows kept"] == 3


def test_check_prints_tables_ledger_and_notes(tmp_path, capsys):
    from chainsight import cli

    csv = ORDERS_CSV.replace("2024-01-05 10:00", "2024-01-05T10:00:00Z")
    assert cli.main(["check", "--mapping", str(_mapping(tmp_path, csv))]) == 0
    out = capsys.readouterr().out
    assert "rows read" in out and "1 value(s) of 'timestamp' had a UTC offset" in out


def test_the_readme_mapping_example_is_a_valid_mapping():
    import re

    import yaml

    from chainsight import mapping

    readme = (datasets.PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(# data/user/my_shop.yaml\n.*?)```", readme, re.S).group(1)
    sections = mapping.check_spec(yaml.safe_load(block), "README")
    orders = sections["orders"]
    assert {"derive", "values", "sep", "decimal", "thousands", "encoding", "drop"} <= set(orders)
    assert sections["products"]["from"] == "orders"


def test_offsets_after_a_formatted_date(tmp_path):
    csv = ORDERS_CSV.replace("2024-01-05 10:00", "01/05/2024 10:00 +0800").replace(
        "2024-01-06 11:30", "01/06/2024 11:30").replace("2024-02-01 09:15", "02/01/2024 09:15Z")
    for zone, expected in ((None, ["2024-01-05 10:00", "2024-01-06 11:30", "2024-02-01 09:15"]),
                           ("UTC", ["2024-01-05 02:00", "2024-01-06 11:30", "2024-02-01 09:15"])):
        spec = _mapping(tmp_path, csv, in_orders="date_format: '%m/%d/%Y %H:%M%z'\n",
                        extra=f"timezone: {zone}\n" if zone else "")
        ds = datasets.load_mapped(spec)
        assert list(ds.orders[S.TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M")) == expected, zone
        assert ds.ledger.notes[0].startswith("orders: 2 value(s) of 'timestamp' had a UTC offset")



def test_what_real_exports_carry_loads(tmp_path):
    """Text ids such as 'NA', spaces around ids, a quoted line break, a trailing comma on
    every line, Excel's 'sep=' line, a number as a header, and a gzip file."""
    csv = ('sep=;\nCustomer;Order date;SKU;Qty;Price;Note;2024\n'
           'c1 ;2024-01-05;NA;2;10,5;"gift\nwrap";x;\n'
           'c2;2024-01-06;p2;1;99;ok;y;\n'
           'c1;2024-02-01;p2;1;99;ok;z;\n')
    spec = _mapping(tmp_path, csv, in_orders="decimal: ','\n")
    spec.write_text(spec.read_text().replace("order_id: Order no", "country: 2024"))
    ds = datasets.load_mapped(spec)
    assert list(ds.orders[S.CUSTOMER_ID]) == ["c1", "c2", "c1"]
    assert list(ds.orders[S.PRODUCT_ID]) == ["NA", "p2", "p2"]
    assert list(ds.orders[S.UNIT_PRICE]) == [10.5, 99.0, 99.0]
    assert list(ds.orders[S.COUNTRY]) == ["x", "y", "z"]
    assert "orders: 1 value(s) of 'customer_id' had spaces around them; the spaces were " \
           "removed" in ds.ledger.notes
    # line numbers count the quoted line break: the third record starts on line 6
    (tmp_path / "orders.csv").write_text(csv.replace("2024-02-01", "someday"))
    with pytest.raises(DataContractError, match=r"(?s)by line of the file.*\n6 +someday"):
        datasets.load_mapped(spec)
    import gzip

    (tmp_path / "orders.csv.gz").write_bytes(gzip.compress(ORDERS_CSV.encode()))
    spec = _mapping(tmp_path)
    spec.write_text(spec.read_text().replace("path: orders.csv", "path: orders.csv.gz"))
    assert len(datasets.load_mapped(spec).orders) == 3


def test_number_and_date_formats_of_real_exports(tmp_path):
    csv = ("Customer;Order date;SKU;Qty;Price\n"
           "c1;2024-01-05 10:00:00+08;p1;2;1\u202f234,50\n"
           "c2;2024-01-06 11:30:00+00;p2;1;99\n")
    spec = _mapping(tmp_path, csv, in_orders="sep: semicolon\ndecimal: ','\nthousands: ' '\n",
                    extra="timezone: Asia/Shanghai\n")
    spec.write_text(spec.read_text().replace("    order_id: Order no\n", ""))
    ds = datasets.load_mapped(spec)
    assert list(ds.orders[S.UNIT_PRICE]) == [1234.5, 99.0]
    assert list(ds.orders[S.TIMESTAMP].dt.strftime("%m-%d %H:%M")) == ["01-05 10:00",
                                                                       "01-06 19:30"]


def test_derived_values_and_tables_from_orders_follow_the_rules(tmp_path):
    """A division by zero on a line a drop rule removes is no error; a table built from
    the order lines reads numbers and dates as the orders section says."""
    csv = ("Customer;Order date;SKU;Qty;Sales;Cost;Since\n"
           "c1;05/01/2024;p1;2;21;4,25;01/02/2020\n"
           "c2;06/01/2024;p2;0;0;1,5;03/04/2021\n"
           "c1;01/02/2024;p2;1;99;1,5;01/02/2020\n")
    spec = _mapping(tmp_path, csv, in_orders=(
        "sep: ';'\ndecimal: ','\ndate_format: '%d/%m/%Y'\nderive: {unit_price: Sales / Qty}\n"
        "drop: [non_positive_quantity]\n"), extra=(
        "products:\n  from: orders\n  columns: {product_id: SKU, unit_cost: Cost}\n"
        "customers:\n  from: orders\n  columns: {customer_id: Customer, signup_date: Since}\n"))
    spec.write_text(spec.read_text().replace("    unit_price: Price\n", "").replace(
        "    order_id: Order no\n", ""))
    ds = datasets.load_mapped(spec)
    assert list(ds.orders[S.UNIT_PRICE]) == [10.5, 99.0]
    assert ds.tables["products"].set_index(S.PRODUCT_ID)[S.UNIT_COST].to_dict() == {
        "p1": 4.25, "p2": 1.5}
    assert str(ds.tables["customers"].set_index(S.CUSTOMER_ID)[S.SIGNUP_DATE]["c1"].date()) \
        == "2020-02-01"


def test_cancellations_remove_the_lines_they_cancel(tmp_path):
    csv = ORDERS_CSV + ("c1,2024-02-02 10:00,p2,-1,99,C9\n"     # cancels o3 (the latest)
                        "c2,2024-01-05 09:00,p2,-1,99,C8\n"     # before o2: cancels nothing
                        "c1,2024-03-01 10:00,p1,-5,10.5,C7\n")  # no line of 5: nothing
    ds = datasets.load_mapped(_mapping(tmp_path, csv, in_orders="drop: [cancellation]\n"))
    assert list(ds.orders[S.ORDER_ID]) == ["o1", "o2"]
    ledger = ds.ledger.to_frame().set_index("reason")["rows"]
    assert ledger[datasets.CANCELLED] == 1 and ledger[datasets.CANCELLATION] == 3
    only = datasets.load_mapped(_mapping(tmp_path, csv,
                                         in_orders="drop: [cancellation_only]\n"))
    assert list(only.orders[S.ORDER_ID]) == ["o1", "o2", "o3"]


def test_a_repeated_cancellation_line_cancels_once_and_the_same_minute_counts(tmp_path):
    """A cancellation in the minute of its purchase cancels it; with the duplicate rule,
    an exact copy of a cancellation line cancels nothing more, and a cancelled purchase
    that was repeated leaves no copy."""
    csv = ("Customer,Order date,SKU,Qty,Price,Order no\n"
           "A,2024-01-05 10:00,P1,5,1.0,1001\n"
           "A,2024-01-06 10:00,P1,5,1.0,1002\n"
           "A,2024-01-07 10:00,P1,-5,1.0,C2001\n"
           "A,2024-01-07 10:00,P1,-5,1.0,C2001\n"     # the same line twice
           "B,2024-01-08 12:30,P2,3,2.0,1003\n"
           "B,2024-01-08 12:30,P2,3,2.0,1003\n"       # a repeated purchase ...
           "B,2024-01-08 12:30,P2,-3,2.0,C2002\n")    # ... cancelled in the same minute
    rules = "drop: [cancellation, duplicate]\n"
    ds = datasets.load_mapped(_mapping(tmp_path, csv, in_orders=rules))
    assert list(ds.orders[S.ORDER_ID]) == ["1001"]
    ledger = ds.ledger.to_frame().set_index("reason")["rows"]
    # 1002, and 1003 with its copy; the three C lines; the copy of C2001 went as a C line
    assert ledger[datasets.CANCELLED] == 3 and ledger[datasets.CANCELLATION] == 3
    assert ledger["exact duplicate of an earlier line"] == 0
    # Without the duplicate rule every line is a line of its own: two cancellations.
    each = datasets.load_mapped(_mapping(tmp_path, csv, in_orders="drop: [cancellation]\n"))
    assert list(each.orders[S.ORDER_ID]) == ["1003"]


def test_cancellations_are_matched_with_epoch_times(tmp_path):
    csv = ("Customer,When,SKU,Qty,Price,Order no\n"
           "A,1704189600,P1,5,1.0,1001\nA,1704276000,P1,-5,1.0,C2001\n"
           "B,1704189600,P1,5,1.0,1002\n")
    spec = _mapping(tmp_path, csv, in_orders="timestamp_unit: s\ndrop: [cancellation]\n")
    spec.write_text(spec.read_text().replace("timestamp: Order date", "timestamp: When"))
    ds = datasets.load_mapped(spec)
    assert list(ds.orders[S.ORDER_ID]) == ["1002"]


def test_sql_aggregates_are_the_same_bits_on_every_run(monkeypatch):
    """Floating sums on several DuckDB threads change in their last bits from run to run
    (a tie in a ranking then breaks another way); the default single thread does not."""
    import numpy as np

    from chainsight import sql

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"cid": rng.integers(0, 2000, 1_000_000),
                          "v": rng.gamma(2.0, 50.0, 1_000_000)})
    q = "SELECT cid, avg(v) AS m, stddev_samp(v) AS s FROM f GROUP BY cid ORDER BY cid"
    monkeypatch.delenv("CHAINSIGHT_SQL_THREADS", raising=False)
    first = sql.query(q, f=frame)
    for _ in range(3):
        again = sql.query(q, f=frame)
        assert (again["m"].to_numpy() == first["m"].to_numpy()).all()
        assert (again["s"].to_numpy() == first["s"].to_numpy()).all()
    monkeypatch.setenv("CHAINSIGHT_SQL_THREADS", "two")
    with pytest.raises(ValueError, match="CHAINSIGHT_SQL_THREADS must be a whole number"):
        sql.query(q, f=frame)
