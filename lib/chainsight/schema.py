"""The data contract: canonical tables, their columns, validation and the row ledger.

Every dataset Chainsight analyses (the synthetic retailer, a reference dataset or a
user's own order lines) arrives as the same canonical tables:

``customers``, ``products``, ``orders`` (one row per order line), ``sites``
(candidate warehouses), ``calendar`` (one row per day, with festivals and
promotions) and ``campaigns`` (one row per customer in a coupon campaign's audience,
sent the coupon or in the control group). Only a few columns are required; the rest
are optional, and a notebook whose optional input is absent says so and skips that
section.

Loading never drops a row silently: a :class:`Ledger` accounts for every input
row as kept or dropped with a reason, and ``rows_in == kept + dropped`` always.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

# ---------------------------------------------------------------------------
# Column names (use these constants, never string literals, in library code)
# ---------------------------------------------------------------------------
CUSTOMER_ID = "customer_id"
PRODUCT_ID = "product_id"
ORDER_ID = "order_id"
TIMESTAMP = "timestamp"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
LIST_PRICE = "list_price"
DISCOUNT = "discount"
PROMO = "promo"
CHANNEL = "channel"
SHIP_MODE = "ship_mode"
DELIVERY_DAYS = "delivery_days"
RETURNED = "returned"
COMPLAINT = "complaint"
CUSTOMISED = "customised"
SITE_ID = "site_id"
COUNTRY = "country"

SIGNUP_DATE = "signup_date"
GENDER = "gender"
AGE = "age"
INCOME_BAND = "income_band"
OCCUPATION = "occupation"
CITY = "city"
CITY_TIER = "city_tier"
LON = "lon"
LAT = "lat"

CATEGORY = "category"
DESCRIPTION = "description"
UNIT_COST = "unit_cost"
SUPPLIER = "supplier"
LEAD_TIME_DAYS = "lead_time_days"
SHELF_LIFE_DAYS = "shelf_life_days"
CUSTOMISABLE = "customisable"

FIXED_COST = "fixed_cost"
CAPACITY = "capacity"

DATE = "date"
EVENT = "event"
EVENT_KIND = "event_kind"  # "festival" or "promotion"

CAMPAIGN_ID = "campaign_id"
COUPON = "coupon"  # True: sent the coupon; False: in the campaign's control group
CAMPAIGN_DAYS = "days"  # the campaign's window, from its date
COUPON_RATE = "coupon_rate"  # share taken off the order the coupon is used on

TABLES = ("customers", "products", "orders", "sites", "calendar", "campaigns")

REQUIRED: dict[str, tuple[str, ...]] = {
    "orders": (CUSTOMER_ID, TIMESTAMP, PRODUCT_ID, QUANTITY, UNIT_PRICE),
    "customers": (CUSTOMER_ID,),
    "products": (PRODUCT_ID,),
    "sites": (SITE_ID, CITY, LON, LAT),
    "calendar": (DATE,),
    "campaigns": (CAMPAIGN_ID, CUSTOMER_ID, DATE, CAMPAIGN_DAYS, COUPON),
}

# Columns whose values are timestamps / dates, parsed on load.
DATETIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": (TIMESTAMP,),
    "customers": (SIGNUP_DATE,),
    "calendar": (DATE,),
    "campaigns": (DATE,),
}

# Numeric columns, checked on load so that "12 pcs" in a quantity column is an error.
NUMERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": (QUANTITY, UNIT_PRICE, LIST_PRICE, DISCOUNT, DELIVERY_DAYS),
    "customers": (AGE, LON, LAT),
    "products": (UNIT_PRICE, UNIT_COST, LEAD_TIME_DAYS, SHELF_LIFE_DAYS),
    "sites": (LON, LAT, FIXED_COST, CAPACITY),
    "calendar": (),
    "campaigns": (CAMPAIGN_DAYS, COUPON_RATE),
}

# Every canonical column of each table. A mapping may name only these, and the tables it
# loads keep only these.
COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": (ORDER_ID, CUSTOMER_ID, TIMESTAMP, PRODUCT_ID, QUANTITY, LIST_PRICE, UNIT_PRICE,
               DISCOUNT, PROMO, CHANNEL, SHIP_MODE, DELIVERY_DAYS, RETURNED, COMPLAINT,
               CUSTOMISED, SITE_ID, COUNTRY),
    "customers": (CUSTOMER_ID, SIGNUP_DATE, GENDER, AGE, INCOME_BAND, OCCUPATION, CITY,
                  CITY_TIER, LON, LAT, COUNTRY),
    "products": (PRODUCT_ID, CATEGORY, "family", DESCRIPTION, UNIT_PRICE, UNIT_COST, SUPPLIER,
                 LEAD_TIME_DAYS, SHELF_LIFE_DAYS, CUSTOMISABLE),
    "sites": (SITE_ID, CITY, LON, LAT, CITY_TIER, FIXED_COST, CAPACITY, "current"),
    "calendar": (DATE, EVENT, EVENT_KIND, "peak", "uplift", "weekday"),
    "campaigns": (CAMPAIGN_ID, CUSTOMER_ID, DATE, CAMPAIGN_DAYS, COUPON, COUPON_RATE),
}

SHIP_MODES = ("express", "standard", "economy", "pickup")
CATEGORIES = ("apparel", "electronics", "furniture", "food")
# The synthetic retailer's city tiers, in order; your data may use any labels (regions,
# states, tiers of another country).
CITY_TIERS = ("1", "new-1", "2", "3")


class DataContractError(ValueError):
    """Input data that breaks the contract. The message names the table, the
    column and example rows, so the user can find and fix them."""


def _examples(frame: pd.DataFrame, mask: pd.Series | np.ndarray, columns, n: int = 5) -> str:
    rows = frame.loc[np.asarray(mask), [c for c in columns if c in frame.columns]].head(n)
    return rows.to_string(max_colwidth=40)


def _row_label(frame: pd.DataFrame) -> str:
    """How the examples are numbered: by line of the file (loaded through a mapping,
    header = line 1) or by row number."""
    return {"line": "line of the file", "row": "row of the file"}.get(
        frame.index.name, "input row number")


def contract_error(
    table: str, column: str, problem: str, frame: pd.DataFrame | None = None, mask=None
) -> DataContractError:
    """Build a :class:`DataContractError` naming table, column and example rows."""
    msg = f"table '{table}', column '{column}': {problem}"
    if frame is not None and mask is not None:
        count = int(np.asarray(mask).sum())
        msg += f" ({count:,} row(s); first examples below, by {_row_label(frame)})\n"
        msg += _examples(frame, mask, [column] + [c for c in frame.columns if c != column][:3])
    return DataContractError(msg)


def require_columns(frame, table: str, columns) -> None:
    """Fail with a clear message when ``frame`` (a DataFrame, or a list of column
    names) lacks any of ``columns``."""
    present = list(frame.columns) if hasattr(frame, "columns") else list(frame)
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataContractError(
            f"table '{table}': missing required column(s) {missing}; columns present: {present}"
        )


# ---------------------------------------------------------------------------
# Row ledger
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LedgerEntry:
    table: str
    reason: str
    rows: int


@dataclass
class Ledger:
    """Accounts for every input row of every table: kept, or dropped with a reason.

    ``rows_in[table] == kept[table] + sum(dropped rows of table)`` always holds
    (see :meth:`check`).
    """

    rows_in: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    dropped: list[LedgerEntry] = field(default_factory=list)
    # What loading changed without dropping a row: offsets removed, tables built from
    # order lines, values recoded. Shown by `chainsight check` and notebook 00.
    notes: list[str] = field(default_factory=list)

    def note(self, table: str, text: str) -> None:
        self.notes.append(f"{table}: {text}")

    def start(self, table: str, rows: int) -> None:
        self.rows_in[table] = self.rows_in.get(table, 0) + int(rows)
        self.kept[table] = self.kept.get(table, 0) + int(rows)

    def drop(self, table: str, reason: str, rows: int) -> None:
        # Zero counts are kept too: the ledger shows every rule that was applied.
        self.dropped.append(LedgerEntry(table, reason, int(rows)))
        self.kept[table] -= int(rows)

    def merge(self, other: Ledger) -> None:
        for t, n in other.rows_in.items():
            self.rows_in[t] = self.rows_in.get(t, 0) + n
            self.kept[t] = self.kept.get(t, 0) + other.kept[t]
        self.dropped.extend(other.dropped)
        self.notes.extend(other.notes)

    def check(self) -> None:
        for table, n_in in self.rows_in.items():
            dropped = sum(e.rows for e in self.dropped if e.table == table)
            if n_in != self.kept[table] + dropped:
                raise AssertionError(
                    f"ledger for '{table}' does not add up: {n_in} in, "
                    f"{self.kept[table]} kept, {dropped} dropped"
                )

    def to_frame(self) -> pd.DataFrame:
        """One row per table and outcome: ``table, outcome, reason, rows``."""
        rows = []
        for table, n_in in self.rows_in.items():
            rows.append((table, "in", "rows read", n_in))
            by_reason: dict[str, int] = {}
            for e in self.dropped:
                if e.table == table:
                    by_reason[e.reason] = by_reason.get(e.reason, 0) + e.rows
            for reason, n in by_reason.items():
                rows.append((table, "dropped", reason, n))
            rows.append((table, "kept", "rows kept", self.kept[table]))
        return pd.DataFrame(rows, columns=["table", "outcome", "reason", "rows"])

    def to_dict(self) -> dict:
        return {
            "rows_in": dict(self.rows_in),
            "kept": dict(self.kept),
            "dropped": [e.__dict__ for e in self.dropped],
            "notes": list(self.notes),
        }


Rule = tuple[str, Callable[[pd.DataFrame], pd.Series]]


def apply_drop_rules(frame: pd.DataFrame, table: str, rules: list[Rule], ledger: Ledger):
    """Drop rows by ordered rules, recording each drop in ``ledger``.

    A row is counted under the first rule that matches it, so reasons never
    double-count. Each rule is ``(reason, frame -> boolean Series)`` and sees
    only the rows that earlier rules kept. The kept rows keep their index (a file's
    line numbers, for errors); the loader resets it when it is done.
    """
    ledger.start(table, len(frame))
    n_in, counts = len(frame), []
    for reason, rule in rules:
        mask = np.asarray(rule(frame), dtype=bool)
        ledger.drop(table, reason, int(mask.sum()))
        counts.append(f"{int(mask.sum()):,} by {reason}")
        frame = frame.loc[~mask]
    if n_in and frame.empty:
        raise DataContractError(f"table '{table}': every row was dropped: "
                                + ", ".join(counts) + f" (of {n_in:,})")
    return frame


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
def _schema(table: str) -> pa.DataFrameSchema:
    """pandera schema for the columns of ``table`` that have value rules."""
    nonneg = pa.Check.ge(0)
    cols: dict[str, pa.Column] = {}
    if table == "orders":
        cols = {
            CUSTOMER_ID: pa.Column(str, nullable=False),
            PRODUCT_ID: pa.Column(str, nullable=False),
            TIMESTAMP: pa.Column("datetime64[ns]", nullable=False),
            QUANTITY: pa.Column(float, pa.Check.gt(0), nullable=False, coerce=True),
            UNIT_PRICE: pa.Column(float, nonneg, nullable=False, coerce=True),
            DISCOUNT: pa.Column(float, pa.Check.in_range(0, 1), required=False, coerce=True),
            SHIP_MODE: pa.Column(str, pa.Check.isin(SHIP_MODES), required=False, nullable=True),
            DELIVERY_DAYS: pa.Column(float, nonneg, required=False, nullable=True, coerce=True),
        }
    elif table == "customers":
        cols = {
            CUSTOMER_ID: pa.Column(str, unique=True, nullable=False),
            AGE: pa.Column(float, pa.Check.in_range(0, 120), required=False, nullable=True,
                           coerce=True),
            CITY_TIER: pa.Column(str, required=False, nullable=True),
        }
    elif table == "products":
        cols = {
            PRODUCT_ID: pa.Column(str, unique=True, nullable=False),
            UNIT_PRICE: pa.Column(float, nonneg, required=False, nullable=True, coerce=True),
            UNIT_COST: pa.Column(float, nonneg, required=False, nullable=True, coerce=True),
            LEAD_TIME_DAYS: pa.Column(float, nonneg, required=False, nullable=True, coerce=True),
        }
    elif table == "sites":
        cols = {
            SITE_ID: pa.Column(str, unique=True),
            LON: pa.Column(float, pa.Check.in_range(-180, 180), coerce=True),
            LAT: pa.Column(float, pa.Check.in_range(-90, 90), coerce=True),
            FIXED_COST: pa.Column(float, nonneg, required=False, coerce=True),
            CAPACITY: pa.Column(float, nonneg, required=False, coerce=True),
        }
    elif table == "calendar":
        cols = {DATE: pa.Column("datetime64[ns]", unique=True)}
    elif table == "campaigns":
        cols = {
            COUPON: pa.Column(bool, nullable=False),
            CAMPAIGN_DAYS: pa.Column(float, pa.Check.gt(0), required=False, coerce=True),
            COUPON_RATE: pa.Column(float, pa.Check.in_range(0, 1), required=False,
                                   coerce=True),
        }
    return pa.DataFrameSchema(cols, strict=False)


# A time of day and the UTC offset after it ("10:00+08:00", "10:00:00 Z"); a date alone
# such as "05-01-2024" has no offset.
_UTC_OFFSET = r"^(.*\d:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)$"
# Day and month in digits with a separator ("05/01/2024", "5.1.24"): without a date_format
# the order of day and month is a guess.
_DAY_MONTH = r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}(?:\D|$)"
# Epoch times that give dates before this are a wrong unit (or not epoch times).
_EPOCH_FLOOR, _EPOCH_CEILING = pd.Timestamp("1980-01-01"), pd.Timestamp("2100-01-01")


TIMESTAMP_UNITS = ("s", "ms", "us", "ns")


def _parse_datetimes(frame: pd.DataFrame, table: str, date_format: str | None,
                     timezone: str | None = None, timestamp_unit: str | None = None,
                     ledger: Ledger | None = None) -> pd.DataFrame:
    """Dates as naive timestamps.

    A UTC offset ("+08:00", "Z", or a tz-aware Parquet column) is converted to
    ``timezone`` when one is given; otherwise it is dropped and the time kept as
    written (the local time of the order). Either way the ledger notes how many rows
    carried an offset. Numbers in a date column are epoch times in ``timestamp_unit``;
    without a unit they are an error, never 1970-01-01.
    """
    for col in DATETIME_COLUMNS.get(table, ()):
        if col not in frame.columns:
            continue
        values = frame[col]
        offset = pd.Series(False, index=frame.index)
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            offset[:] = True
            values = (values.dt.tz_convert(timezone) if timezone else values).dt.tz_localize(None)
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            if timestamp_unit is None:
                raise contract_error(
                    table, col, "numbers, not dates; if they are epoch times, set "
                    f"'timestamp_unit' in the mapping to one of {list(TIMESTAMP_UNITS)}",
                    frame, values.notna())
            values = pd.to_datetime(values, unit=timestamp_unit, errors="coerce")
        elif not pd.api.types.is_datetime64_any_dtype(values):
            text = values.astype(object).where(values.isna(), values.astype(str).str.strip())
            if timestamp_unit is not None:
                values = pd.to_datetime(pd.to_numeric(text, errors="coerce"),
                                        unit=timestamp_unit, errors="coerce")
            else:
                ambiguous = text.str.match(_DAY_MONTH, na=False)
                if date_format is None and ambiguous.any():
                    raise contract_error(
                        table, col, "dates with day and month in digits, whose order is a "
                        "guess; set 'date_format' in the mapping, e.g. '%d/%m/%Y' (day first) "
                        "or '%m/%d/%Y' (month first)", frame, ambiguous)
                values, offset = _parse_text_dates(text, date_format, timezone)
        bad = values.isna() & frame[col].notna()
        if bad.any():
            fmt = f" with format '{date_format}'" if date_format else ""
            unit = f" as epoch times in '{timestamp_unit}'" if timestamp_unit else ""
            digits = frame.loc[bad, col].astype(str).str.strip().str.fullmatch(r"-?\d+(\.\d+)?")
            hint = ("; they are numbers: if they are epoch times, set 'timestamp_unit' to one of "
                    f"{list(TIMESTAMP_UNITS)}" if digits.all() and not timestamp_unit else "")
            raise contract_error(table, col, f"dates that cannot be parsed{fmt}{unit}{hint}",
                                 frame, bad)
        if timestamp_unit is not None:
            odd = values.notna() & ~values.between(_EPOCH_FLOOR, _EPOCH_CEILING)
            if odd.any():
                raise contract_error(
                    table, col, f"epoch times in '{timestamp_unit}' that give dates outside "
                    f"{_EPOCH_FLOOR:%Y} to {_EPOCH_CEILING:%Y} (e.g. {values[odd].iloc[0]}); "
                    "check 'timestamp_unit'", frame, odd)
        if ledger is not None and offset.any():
            how = (f"converted to {timezone}" if timezone else
                   "dropped and the time kept as written (set 'timezone' to convert instead)")
            ledger.note(table, f"{int(offset.sum()):,} value(s) of '{col}' had a UTC offset; "
                        f"it was {how}")
        frame[col] = _nanoseconds(values, table, col, frame)
    return frame


def _nanoseconds(values: pd.Series, table: str, col: str, frame: pd.DataFrame) -> pd.Series:
    """Time stamps in pandas' nanoseconds, whatever unit the file stored (Parquet written
    for Spark holds microseconds); a date nanoseconds cannot hold is an error."""
    if values.dtype == "datetime64[ns]":
        return values
    lo, hi = pd.Timestamp.min, pd.Timestamp.max
    outside = values.notna() & ((values < lo) | (values > hi))
    if outside.any():
        raise contract_error(table, col, f"dates outside {lo:%Y} to {hi:%Y}", frame, outside)
    return values.astype("datetime64[ns]")


def to_timestamps(values: pd.Series, date_format: str | None = None,
                  timestamp_unit: str | None = None, timezone: str | None = None) -> pd.Series:
    """Timestamps for rules that run before validation, read as :func:`validate` will
    read them (format, epoch unit, timezone); missing where a value does not parse
    (:func:`validate` reports those)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return (values.dt.tz_convert(timezone) if timezone else values).dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    if timestamp_unit is not None:
        return pd.to_datetime(pd.to_numeric(values, errors="coerce"), unit=timestamp_unit,
                              errors="coerce")
    text = values.astype(object).where(values.isna(), values.astype(str).str.strip())
    return _parse_text_dates(text, date_format, timezone)[0]


def _to_datetime(text: pd.Series, date_format: str | None) -> pd.Series:
    """Parse with ``date_format``; without one, pandas infers the format from the first
    value, and values in another ISO 8601 form ("2024-01-05" beside "2024-01-05 10:00")
    are read as ISO 8601, never guessed."""
    import warnings

    with warnings.catch_warnings():  # "could not infer format": the error below says more
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        retry = parsed.isna() & text.notna()
        if date_format is None and retry.any():
            parsed[retry] = pd.to_datetime(text[retry], format="ISO8601", errors="coerce")
    return parsed


def _parse_text_dates(text: pd.Series, date_format: str | None, timezone: str | None
                      ) -> tuple[pd.Series, pd.Series]:
    """Dates from text, and which rows carried a UTC offset. The offset is split from the
    time ('%z' in ``date_format`` is not needed); with ``timezone`` the time is moved to
    that zone, without it the time is kept as written."""
    parts = text.str.extract(_UTC_OFFSET)
    offset = parts[1].notna()
    fmt = date_format.replace("%z", "").strip() if date_format else None
    values = _to_datetime(parts[0].where(offset, text), fmt)
    if timezone and offset.any():
        code = parts.loc[offset, 1].str.replace(":", "")
        minutes = code.map(lambda c: 0 if c in ("Z", "UTC") else
                           (1 if c[0] == "+" else -1) * (int(c[1:3]) * 60 + int(c[3:5] or 0)))
        utc = values[offset] - pd.to_timedelta(minutes, unit="min")
        values[offset] = utc.dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None)
    return values, offset


def _check_numeric(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    for col in NUMERIC_COLUMNS.get(table, ()):
        if col not in frame.columns or pd.api.types.is_bool_dtype(frame[col]):
            continue
        if not pd.api.types.is_numeric_dtype(frame[col]):
            parsed = pd.to_numeric(frame[col], errors="coerce")
            bad = parsed.isna() & frame[col].notna()
            if bad.any():
                raise contract_error(table, col, "values that are not numbers", frame, bad)
            frame[col] = parsed
        infinite = np.isinf(frame[col].astype(float))
        if infinite.any():
            raise contract_error(table, col, "infinite values", frame, infinite)
    return frame


def validate(frame: pd.DataFrame, table: str, date_format: str | None = None, *,
             timezone: str | None = None, timestamp_unit: str | None = None,
             ledger: Ledger | None = None) -> pd.DataFrame:
    """Check ``frame`` against the contract for ``table`` and return it typed.

    Required columns must be present, id columns become strings, date columns are
    parsed (unparsable values are an error, not a silent NaT), numeric columns
    must hold numbers, and value rules (quantity > 0, price >= 0, known ship
    modes, ...) must hold. ``timezone`` and ``timestamp_unit``: see
    :func:`_parse_datetimes`; ``ledger`` receives its notes.

    Raises
    ------
    DataContractError
        naming the table, the column and example rows.
    """
    if table not in TABLES:
        raise DataContractError(f"unknown table '{table}'; expected one of {TABLES}")
    if len(frame) == 0:
        raise DataContractError(f"table '{table}': no rows")
    require_columns(frame, table, REQUIRED[table])
    frame = frame.copy()
    for col in (CUSTOMER_ID, PRODUCT_ID, ORDER_ID, SITE_ID, CAMPAIGN_ID):
        if col in frame.columns:
            missing = frame[col].isna()
            if missing.any() and col in REQUIRED[table]:
                raise contract_error(table, col, "missing values", frame, missing)
            frame[col] = _id_strings(frame[col])
    frame = _parse_datetimes(frame, table, date_format, timezone, timestamp_unit, ledger)
    frame = _check_numeric(frame, table)
    try:
        return _schema(table).validate(frame, lazy=True)
    except SchemaErrors as err:
        fc = err.failure_cases
        first = fc.iloc[0]
        column = str(first["column"])
        idx = fc.loc[fc["column"] == first["column"], "index"].dropna()
        mask = frame.index.isin(idx.astype(frame.index.dtype, errors="ignore"))
        raise contract_error(
            table, column, f"fails check '{first['check']}'", frame, mask
        ) from None


def _id_strings(col: pd.Series) -> pd.Series:
    """Ids as strings; integral floats (17850.0 from a CSV with blanks) lose the '.0'."""
    if pd.api.types.is_float_dtype(col):
        out = col.map(lambda v: None if pd.isna(v) else (str(int(v)) if v == int(v) else str(v)))
        return out.astype(object)
    return col.astype(object).where(col.isna(), col.astype(str))


def check_references(tables: dict[str, pd.DataFrame]) -> None:
    """Order lines and campaigns may only name customers and products that their tables
    list."""
    for table, ref_table, col in (("orders", "customers", CUSTOMER_ID),
                                  ("orders", "products", PRODUCT_ID),
                                  ("campaigns", "customers", CUSTOMER_ID)):
        frame, ref = tables.get(table), tables.get(ref_table)
        if frame is None or ref is None:
            continue
        unknown = ~frame[col].isin(ref[col])
        if unknown.any():
            raise contract_error(
                table, col, f"values not found in table '{ref_table}'", frame, unknown
            )
