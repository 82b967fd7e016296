"""Loading data into the canonical tables, with a row ledger.

One entry point, :func:`load`, gives every notebook its data:

* ``load("synthetic", size="small", seed=42)``: the embedded synthetic retailer,
  generated into ``data/generated/`` on first use;
* ``load("online_retail")``: UCI Online Retail (all 541,909 lines accounted for);
* ``load("cdnow")``: the CDNOW 1/10 sample used in the BG/NBD papers;
* ``load("custom", mapping="data/user/my_shop.yaml")``: your own order lines through a
  small YAML column mapping (see the README); a relative path is read from the
  project folder.

Every loader returns a :class:`Dataset`: the canonical tables present, and the
ledger that accounts for every input row.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from chainsight import mapping as M
from chainsight import progress, synthetic
from chainsight import schema as S

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATASETS = ("synthetic", "online_retail", "cdnow", "custom")


def data_dir() -> Path:
    """Where data lives: ``$CHAINSIGHT_DATA_DIR`` or the project's ``data/``."""
    return Path(os.environ.get("CHAINSIGHT_DATA_DIR", PROJECT_ROOT / "data"))


def reference_dir() -> Path:
    return PROJECT_ROOT / "data" / "reference"


@dataclass(frozen=True)
class Dataset:
    """Canonical tables of one dataset and the ledger of how they were loaded."""

    name: str
    tables: dict[str, pd.DataFrame]
    ledger: S.Ledger
    description: str = ""
    currency: str = "currency units"  # for axis labels and tables
    effects: dict[str, float] = field(default_factory=dict)  # synthetic: effect strengths

    @property
    def orders(self) -> pd.DataFrame:
        return self.tables["orders"]

    def has(self, table: str, column: str | None = None) -> bool:
        """Whether an optional table (and column) is present and not all empty."""
        frame = self.tables.get(table)
        if frame is None or len(frame) == 0:
            return False
        return column is None or (column in frame.columns and frame[column].notna().any())

    def effect_note(self, effect: str, exploited_by: str) -> str:
        """One line for a notebook whose profile-aware policy can exploit an injected
        effect: that it is there and at what strength ('' for data without effects)."""
        if effect not in self.effects:
            return ""
        strength = self.effects[effect]
        state = "switched off" if strength == 0 else f"at strength {strength:g}"
        return (f"Synthetic effect '{effect}' is {state} in this data "
                f"({synthetic.EFFECTS[effect]}); {exploited_by} is meant to exploit it, and "
                "the comparisons below say whether it does.")


# ---------------------------------------------------------------------------
# Drop rules: the one list of cleaning rules, shared by all loaders
# ---------------------------------------------------------------------------
def _starts_with_c(f: pd.DataFrame) -> pd.Series:
    if S.ORDER_ID not in f.columns:
        return pd.Series(False, index=f.index)
    return f[S.ORDER_ID].astype(str).str.startswith("C")


def _cancelled(date_format: str | None = None, timestamp_unit: str | None = None,
               timezone: str | None = None, skip_duplicates: bool = False):
    """A rule: the lines that a later cancellation line cancels (same customer, product
    and quantity, dated at or before it, the same minute included; each cancellation
    cancels at most one line, the latest before it). The usual cleaning of Online Retail:
    dropping only the cancellation lines would keep the orders they cancel.

    With ``skip_duplicates`` (the rule ``duplicate`` is also applied), an exact copy of an
    earlier line is not matched on its own: a repeated cancellation line cancels one
    purchase, not two, and a cancelled purchase goes with its copies (counted here, as
    cancelled lines; the duplicate rule would no longer see them once the original is
    gone)."""
    def rule(f: pd.DataFrame) -> pd.Series:
        mask = np.zeros(len(f), dtype=bool)
        if S.ORDER_ID not in f.columns:
            return pd.Series(mask, index=f.index)
        qty = pd.to_numeric(f[S.QUANTITY], errors="coerce").to_numpy()
        when = S.to_timestamps(f[S.TIMESTAMP], date_format, timestamp_unit,
                               timezone or "UTC").to_numpy()
        is_c = _starts_with_c(f).to_numpy()
        keys = list(zip(f[S.CUSTOMER_ID].astype(str), f[S.PRODUCT_ID].astype(str),
                        np.abs(qty), strict=True))
        valid = ~pd.isna(when) & f[S.CUSTOMER_ID].notna().to_numpy()
        copies: dict[int, np.ndarray] = {}
        if skip_duplicates:
            repeated = f.duplicated(keep=False).to_numpy()
            valid &= ~f.duplicated(keep="first").to_numpy()
            if repeated.any():
                same = f[repeated].groupby(list(f.columns), dropna=False, sort=False).ngroup()
                for rows in pd.Series(np.flatnonzero(repeated)).groupby(same.to_numpy()):
                    copies[int(rows[1].iloc[0])] = rows[1].to_numpy()
        lines: dict[tuple, list[int]] = {}
        for i in np.flatnonzero(~is_c & (qty > 0) & valid):
            lines.setdefault(keys[i], []).append(i)
        for idx in lines.values():
            idx.sort(key=lambda i: (when[i], i))
        for c in sorted(np.flatnonzero(is_c & (qty < 0) & valid), key=lambda i: (when[i], i)):
            candidates = lines.get(keys[c], [])
            for j in range(len(candidates) - 1, -1, -1):  # the latest earlier line left
                if when[candidates[j]] <= when[c]:
                    i = candidates.pop(j)
                    mask[copies.get(i, i)] = True  # with its exact copies, if any
                    break
        return pd.Series(mask, index=f.index)
    return rule


CANCELLED = "cancelled by a later cancellation line (same customer, product and quantity)"
CANCELLATION = "cancellation (order id starts with 'C')"

DROP_RULES: dict[str, list[S.Rule]] = {
    # The cancellation lines and the lines they cancel, each counted under its own reason.
    "cancellation": [(CANCELLED, _cancelled()), (CANCELLATION, _starts_with_c)],
    # The cancellation lines only (the orders they cancel stay in).
    "cancellation_only": [(CANCELLATION, _starts_with_c)],
    "missing_customer": [("missing customer id", lambda f: f[S.CUSTOMER_ID].isna())],
    "missing_product": [("missing product id", lambda f: f[S.PRODUCT_ID].isna())],
    "non_positive_quantity": [("quantity <= 0",
                               lambda f: pd.to_numeric(f[S.QUANTITY], errors="coerce") <= 0)],
    "non_positive_price": [("unit price <= 0",
                            lambda f: pd.to_numeric(f[S.UNIT_PRICE], errors="coerce") <= 0)],
    "duplicate": [("exact duplicate of an earlier line", lambda f: f.duplicated(keep="first"))],
}


# Applied after the dates are parsed (with the mapping's date format), to order lines.
FUTURE = ("future", "dated after today")


# Rules that read a column the mapping must name; without it they would drop nothing.
RULE_NEEDS = {"cancellation": S.ORDER_ID, "cancellation_only": S.ORDER_ID}


def _rules(names: list[str], where: str, columns: dict | None = None,
           dates: dict | None = None) -> list[S.Rule]:
    """The rules named, in order, as (reason, function) pairs; ``dates`` (date_format,
    timestamp_unit, timezone) is how the cancellation matching reads the dates."""
    unknown = [n for n in names if n not in DROP_RULES and n != FUTURE[0]]
    if unknown:
        raise S.DataContractError(
            f"{where}: unknown drop rule(s) {unknown}; available: "
            f"{[*DROP_RULES, FUTURE[0]]}")
    if "cancellation" in names:
        # Its lines have negative quantities and may lack a customer: a rule run before it
        # would drop them, and the lines they cancel would stay in.
        early = [n for n in names[:names.index("cancellation")]
                 if n in ("non_positive_quantity", "missing_customer", "duplicate")]
        if early:
            raise S.DataContractError(
                f"{where}: put 'cancellation' before {early} in 'drop': those rules would "
                "remove the cancellation lines first, and the lines they cancel would stay")
    for name in names:
        need = RULE_NEEDS.get(name)
        if columns is not None and need and need not in columns:
            raise S.DataContractError(f"{where}: the drop rule '{name}' reads '{need}', which "
                                      f"'columns' does not map; map it, e.g. '{need}: <your "
                                      "column>', or remove the rule")
    out = []
    for name in names:
        if name == "cancellation":
            match = _cancelled(**(dates or {}), skip_duplicates="duplicate" in names)
            out += [(CANCELLED, match), (CANCELLATION, _starts_with_c)]
        elif name != FUTURE[0]:
            out += DROP_RULES[name]
    return out


def _future(frame: pd.DataFrame, table: str, drop: list, ledger: S.Ledger) -> pd.DataFrame:
    """Order lines dated after today: dropped by the rule ``future`` (and counted), or an
    error naming them. One such line would stretch every weekly panel to its date."""
    if table != "orders":
        return frame
    today = pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    late = frame[S.TIMESTAMP] >= today
    if FUTURE[0] in drop:
        ledger.drop(table, FUTURE[1], int(late.sum()))
        if late.all():
            raise S.DataContractError(f"table '{table}': every row is {FUTURE[1]}")
        return frame.loc[~late]
    if late.any():
        raise S.contract_error(
            table, S.TIMESTAMP, f"dates after today ({today - pd.Timedelta(days=1):%Y-%m-%d}); "
            "fix them, or add 'future' to the section's 'drop' rules", frame, late)
    return frame


# ---------------------------------------------------------------------------
# Synthetic retailer on disk
# ---------------------------------------------------------------------------
def synthetic_dir(size: str | int, seed: int, effects=None) -> Path:
    """Where a synthetic dataset is cached; the scenario is part of the name (for
    example ``synthetic-small-seed42-acquisition_shift0``), so data generated
    with different effect strengths never mixes."""
    key = synthetic.Scenario.from_dict(effects).key()
    return data_dir() / "generated" / f"synthetic-{size}-seed{seed}{'-' + key if key else ''}"


def _is_current(path: Path) -> bool:
    """A cached folder is whole and was written by this version of the generator."""
    marker = path / "_complete"
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()).get("generator") == synthetic.GENERATOR_VERSION
    except (json.JSONDecodeError, AttributeError):
        return False


def write_synthetic(size: str | int = "default", seed: int = 42, out: Path | None = None,
                    chunk_customers: int = synthetic.CHUNK_CUSTOMERS, effects=None) -> Path:
    """Generate the synthetic retailer into Parquet files, chunk by chunk.

    Customers and order lines are streamed one chunk of customers at a time, so the
    ``large`` size never sits in memory whole. The ground truth goes to ``truth/``
    beside the data. Everything is written to a private folder first and moved into
    place at the end, so notebooks running in parallel never read a half-written
    file; a ``_complete`` marker says the folder is whole and which generator
    version wrote it (an older folder is regenerated). ``effects``: effect strengths
    (see :class:`chainsight.synthetic.Scenario`).
    """
    scenario = synthetic.Scenario.from_dict(effects)
    final = Path(out) if out else synthetic_dir(size, seed, scenario)
    final.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        _write_synthetic(size, seed, out, chunk_customers, scenario)
        if final.exists():
            if _is_current(final):  # another process finished first
                shutil.rmtree(out)
                return final
            shutil.rmtree(final)  # partial (an interrupted run) or from an older generator
        os.rename(out, final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return final


def _write_synthetic(size: str | int, seed: int, out: Path, chunk_customers: int,
                     scenario: synthetic.Scenario) -> None:
    (out / "truth").mkdir(parents=True, exist_ok=True)
    products, sites, calendar = synthetic.static_tables(seed)
    writers: dict[str, pq.ParquetWriter] = {}
    effects = None
    try:
        n = synthetic.SIZES[size] if isinstance(size, str) else int(size)
        chunks = synthetic.iter_chunks(size, seed, products, sites, calendar, chunk_customers,
                                       scenario)
        for customers, orders, truth, eff, campaigns, campaign_truth in progress.bar(
                chunks, f"generating {n:,} customers", total=-(-n // chunk_customers),
                unit="chunk"):
            effects = effects or eff
            for name, frame in (("customers", customers), ("orders", orders),
                                ("campaigns", campaigns), ("truth/customers", truth),
                                ("truth/campaigns", campaign_truth)):
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if name not in writers:  # microseconds: what Spark and DuckDB both read
                    writers[name] = pq.ParquetWriter(out / f"{name}.parquet", table.schema,
                                                     coerce_timestamps="us")
                writers[name].write_table(table)
    finally:
        for w in writers.values():
            w.close()
    products.drop(columns="popularity").to_parquet(out / "products.parquet", index=False)
    sites.to_parquet(out / "sites.parquet", index=False)
    calendar.to_parquet(out / "calendar.parquet", index=False, coerce_timestamps="us")
    synthetic._persona_table().to_csv(out / "truth" / "personas.csv", index=False)
    (out / "truth" / "effects.json").write_text(
        json.dumps(synthetic.effects_doc(effects, scenario), indent=2))
    # What the data says about itself (not ground truth): the effects and strengths.
    (out / "scenario.json").write_text(json.dumps(scenario.strengths(), indent=2))
    (out / "_complete").write_text(json.dumps({"size": str(size), "seed": seed,
                                               "generator": synthetic.GENERATOR_VERSION}))


def load_synthetic(size: str | int = "small", seed: int = 42, effects=None) -> Dataset:
    """The synthetic retailer, generated on first use and read from Parquet after.

    ``effects``: strengths of the injected effects, e.g. ``{"acquisition_shift": 0}``
    (see :class:`chainsight.synthetic.Scenario`); the description lists them all."""
    scenario = synthetic.Scenario.from_dict(effects)
    path = synthetic_dir(size, seed, scenario)
    if not _is_current(path):
        write_synthetic(size, seed, path, effects=scenario)
    ledger = S.Ledger()
    tables = {}
    for t in S.TABLES:
        frame = pd.read_parquet(path / f"{t}.parquet")
        ledger.start(t, len(frame))
        tables[t] = S.validate(frame, t)
    S.check_references(tables)
    stored = synthetic.Scenario.from_dict(json.loads((path / "scenario.json").read_text()))
    description = (f"Synthetic omni-channel retailer, size '{size}', seed {seed}. Injected "
                   "effects (strength: 0 = off, 1 = default):\n"
                   + "\n".join("- " + line for line in stored.describe()))
    return Dataset("synthetic", tables, ledger, description, "CNY", stored.strengths())


def load_truth(size: str | int, seed: int, effects=None) -> synthetic.GroundTruth:
    """The generator's ground truth. For tests and checks: no model or monitor reads it;
    notebook 06 reads the food incident's record only to judge its quality monitors."""
    path = synthetic_dir(size, seed, effects)
    if not _is_current(path):
        write_synthetic(size, seed, path, effects=effects)
    return synthetic.GroundTruth(
        pd.read_parquet(path / "truth" / "customers.parquet"),
        pd.read_csv(path / "truth" / "personas.csv"),
        json.loads((path / "truth" / "effects.json").read_text()),
        pd.read_parquet(path / "truth" / "campaigns.parquet"),
    )


# ---------------------------------------------------------------------------
# Reference datasets
# ---------------------------------------------------------------------------
ONLINE_RETAIL_RULES = ["cancellation", "missing_customer", "non_positive_quantity",
                       "non_positive_price", "duplicate"]


def load_online_retail(path: Path | None = None) -> Dataset:
    """UCI Online Retail as canonical tables; every one of its lines is in the ledger.

    Rules, in order (a line is counted under the first that matches): cancellation
    invoices ('C' prefix), missing CustomerID, quantity <= 0, unit price <= 0, exact
    duplicate of an earlier line. The copy's 'Unknown' descriptions are restored to
    missing (see data/reference/online_retail/PROVENANCE.md).
    """
    path = Path(path) if path else reference_dir() / "online_retail" / "online_retail.parquet"
    raw = _read_file(path, "orders")
    raw["Description"] = raw["Description"].where(raw["Description"] != "Unknown")
    mapped = _rename(raw, {S.ORDER_ID: "InvoiceNo", S.PRODUCT_ID: "StockCode",
                           S.DESCRIPTION: "Description", S.QUANTITY: "Quantity",
                           S.TIMESTAMP: "InvoiceDate", S.UNIT_PRICE: "UnitPrice",
                           S.CUSTOMER_ID: "CustomerID", S.COUNTRY: "Country"}, "orders", path)
    ledger = S.Ledger()
    orders = S.apply_drop_rules(mapped, "orders", _rules(ONLINE_RETAIL_RULES, str(path)), ledger)
    orders = S.validate(orders, "orders").reset_index(drop=True)
    products = (orders.groupby(S.PRODUCT_ID)
                .agg(**{S.DESCRIPTION: (S.DESCRIPTION, _mode),
                        S.UNIT_PRICE: (S.UNIT_PRICE, "median")}).reset_index())
    customers = (orders.groupby(S.CUSTOMER_ID)
                 .agg(**{S.COUNTRY: (S.COUNTRY, _mode)}).reset_index())
    tables = {"orders": orders, "products": products, "customers": customers}
    ledger.check()
    return Dataset("online_retail", tables, ledger,
                   "UCI Online Retail: UK gift retailer, 2010-12-01 to 2011-12-09", "GBP")


def load_cdnow(path: Path | None = None) -> Dataset:
    """The CDNOW 1/10 sample (2,357 customers): one product, 'CD'; quantity is the
    number of CDs and unit price the dollar value per CD."""
    path = Path(path) if path else reference_dir() / "cdnow" / "CDNOW_sample.txt"
    try:
        raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str,
                          names=["master_id", "sample_id", "date", "cds", "value"])
    except FileNotFoundError:
        raise S.DataContractError(f"table 'orders': file not found: {path}") from None
    cds = pd.to_numeric(raw["cds"], errors="coerce")
    value = pd.to_numeric(raw["value"], errors="coerce")
    orders = pd.DataFrame({
        S.CUSTOMER_ID: raw["sample_id"].str.lstrip("0"),
        S.TIMESTAMP: pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce"),
        S.PRODUCT_ID: "CD",
        S.QUANTITY: cds,
        S.UNIT_PRICE: value / cds,
    })
    ledger = S.Ledger()
    orders = S.apply_drop_rules(orders, "orders", _rules(["non_positive_quantity"], str(path)),
                                ledger)
    orders = S.validate(orders, "orders").reset_index(drop=True)
    ledger.check()
    return Dataset("cdnow", {"orders": orders}, ledger,
                   "CDNOW 1/10 sample: 2,357 customers, 1997-01 to 1998-06", "USD")


def _mode(s: pd.Series):
    m = s.dropna().mode()
    return m.iloc[0] if len(m) else None


# ---------------------------------------------------------------------------
# Your own data through a YAML mapping
# ---------------------------------------------------------------------------
def load_mapped(mapping: str | Path) -> Dataset:
    """Load your own order lines (and optionally customers, products, sites, calendar)
    through a YAML column mapping. See the README, "Bring your own data".

    The YAML has one section per table; each names the file (``path``, relative to
    the YAML file) or builds the table from the order lines (``from: orders``), maps
    canonical names to your columns (``columns``), and optionally derives columns,
    recodes values, sets the file's format and lists cleaning rules (``drop``, in order,
    from :data:`DROP_RULES`; every dropped row is counted in the ledger). The shape is
    checked by :func:`chainsight.mapping.check_spec`. The tables keep the canonical
    columns only; the drop rules see every column of the file.
    """
    mapping = Path(mapping)
    try:
        spec = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise S.DataContractError(f"mapping file not found: {mapping}") from None
    except yaml.YAMLError as err:
        raise S.DataContractError(f"mapping file {mapping} is not valid YAML: {err}") from None
    sections = M.check_spec(spec, f"mapping file {mapping}")
    for section in sections.values():  # a header such as 2024 is text in the file
        section["columns"] = {k: str(v) for k, v in section.get("columns", {}).items()}
    rules = {table: _rules(section.get("drop", []), f"mapping file {mapping}, section '{table}'",
                           section.get("columns", {}),
                           {"date_format": section.get("date_format"),
                            "timestamp_unit": section.get("timestamp_unit"),
                            "timezone": spec.get("timezone")})
             for table, section in sections.items()}
    timezone = spec.get("timezone")
    ledger = S.Ledger()
    tables, raws = {}, {}
    for table, section in sorted(sections.items(), key=lambda kv: "from" in kv[1]):
        if "from" in section:
            frame = M.from_orders(raws["orders"], tables["orders"], sections["orders"],
                                  section, table, ledger)
            frame = M.recode(frame, section, table)
            orders = sections["orders"]
            tables[table] = S.validate(frame, table, orders.get("date_format"),
                                       timezone=timezone,
                                       timestamp_unit=orders.get("timestamp_unit"), ledger=ledger)
            continue
        file = (mapping.parent / section["path"]).resolve()
        where = f"table '{table}', file {file}"
        raw = _read_file(file, table, section.get("encoding", "utf-8"), section.get("sep"))
        raws[table] = raw
        derived = M.derive(raw, section, table, where)
        frame = _rename(raw, section.get("columns", {}), table, file).assign(**derived)
        for col in S.NUMERIC_COLUMNS[table]:
            if col in section.get("columns", {}):
                frame[col] = M.numbers(frame[col], section, table, col)
        frame = M.clean_ids(frame, table, ledger)
        S.require_columns(frame, table, S.REQUIRED[table])
        frame = M.recode(frame, section, table)
        frame = S.apply_drop_rules(frame, table, rules[table], ledger)
        M.check_derived(frame, raw, section, table)
        frame = S.validate(frame, table, section.get("date_format"), timezone=timezone,
                           timestamp_unit=section.get("timestamp_unit"), ledger=ledger)
        tables[table] = _future(frame, table, section.get("drop", []), ledger)
    S.check_references(tables)
    # The canonical columns only: what the mapping names, derives or builds.
    tables = {t: tables[t][[c for c in tables[t].columns if c in S.COLUMNS[t]]]
              .reset_index(drop=True) for t in S.TABLES if t in tables}
    ledger.check()
    return Dataset(spec.get("name", mapping.stem), tables, ledger, spec.get("description", ""),
                   spec.get("currency", "currency units"))


_BINARY_SIGNATURES = {b"PK\x03\x04": "an Excel workbook (.xlsx) or a zip archive",
                      b"\xd0\xcf\x11\xe0": "an Excel 97-2003 workbook (.xls)",
                      b"PAR1": "a Parquet file",
                      b"\x1f\x8b": "a gzip archive (name it .csv.gz to have it read)"}
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst")  # pandas reads these by their suffix
_SINGLE_BYTE = ("latin_1", "iso8859_1", "cp1252", "iso8859_15")
_BOMS = {b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"}


def _binary_kind(path: Path, encoding: str) -> str | None:
    """What a file that should be text looks like, if it is binary (else None)."""
    if path.suffix.lower() in _COMPRESSED:
        return None
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for signature, kind in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            return kind
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    for bom, name in _BOMS.items():
        if head.startswith(bom) and not wide:
            return f"{name} text; set 'encoding: {name}'"
    return "a file with NUL bytes" if b"\x00" in head and not wide else None


def _decode_error(path: Path, encoding: str) -> str:
    """Where the first byte that ``encoding`` cannot read is: line and byte offset."""
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        return f"line {line:,}, byte {err.start:,} of the file"
    return "somewhere in the file"


def _wrong_single_byte(path: Path, encoding: str) -> str | None:
    """A UTF-8 file read as latin-1 turns 'München' into 'MÃ¼nchen'; a cp1252 file read as
    latin-1 hides its quotes and euro signs. Say which encoding fits instead."""
    if codecs.lookup(encoding).name not in [codecs.lookup(e).name for e in _SINGLE_BYTE]:
        return None
    data = path.read_bytes()
    if not any(b > 127 for b in data[:1 << 20]):
        return None
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if codecs.lookup(encoding).name == "iso8859-1" and any(0x80 <= b <= 0x9F for b in data):
        return "cp1252"
    return None


def _csv_lines(path: Path, encoding: str, sep: str, skip: int, n: int) -> pd.RangeIndex | list:
    """The file line on which each of the ``n`` records starts (header on line
    ``1 + skip``). Quoted fields may hold line breaks, so count them only when needed."""
    data = path.read_bytes()
    breaks = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if breaks == n + 1 + skip:
        return pd.RangeIndex(2 + skip, n + 2 + skip, name="line")
    import csv
    import io

    reader = csv.reader(io.StringIO(data.decode(encoding, errors="replace"), newline=""),
                        delimiter=sep)
    starts, line, records = [], 1, 0
    for row in reader:
        if row:  # pandas skips blank lines too
            records += 1
            if records > skip + 1:
                starts.append(line)
        line = reader.line_num + 1
    return pd.Index(starts[:n], name="line")


def _read_file(path: Path, table: str, encoding: str = "utf-8", sep: str | None = None
               ) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning I/O failures into contract errors. The index is
    the file's line number (CSV, header = line 1) or row number (Parquet, from 1), so that
    errors point into the file. Library warnings never reach the user: each problem they
    hint at is an error of its own."""
    import warnings

    path = Path(path)
    where = f"table '{table}', file {path}"
    if not path.exists():
        raise S.DataContractError(f"{where}: file not found")
    sep = M.SEPARATORS.get(sep, sep)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.suffix.lower() in (".parquet", ".pq"):
                names = pq.read_schema(path).names
                twice = sorted({c for c in names if names.count(c) > 1})
                if twice:
                    raise S.DataContractError(f"{where}: column name(s) {twice} appear more "
                                              "than once; rename them so that each is unique")
                frame = pd.read_parquet(path)
                frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
                return _rows_or_error(frame, where)
            codecs.lookup(encoding)
            kind = _binary_kind(path, encoding)
            if kind:
                raise S.DataContractError(
                    f"{where}: a binary file (it looks like {kind}), not CSV text; save it "
                    "as CSV (UTF-8) or Parquet, or point 'path' at the .parquet file")
            better = _wrong_single_byte(path, encoding)
            if better:
                raise S.DataContractError(
                    f"{where}: read as '{encoding}' the text would be garbled (the file is "
                    f"'{better}' text); set 'encoding: {better}'")
            first = pd.read_csv(path, encoding=encoding, header=None, nrows=1, dtype=str,
                                sep=sep or ",", keep_default_na=False).iloc[0].tolist() \
                if path.suffix.lower() not in _COMPRESSED else []
            skip = 0
            if first and str(first[0]).startswith("sep=") and len(str(first[0])) == 5:
                sep, skip = sep or str(first[0])[4], 1  # Excel's "sep=;" first line
                first = pd.read_csv(path, encoding=encoding, header=None, skiprows=1, nrows=1,
                                    dtype=str, sep=sep, keep_default_na=False).iloc[0].tolist()
            twice = sorted({c for c in first if first.count(c) > 1})
            if twice:
                raise S.DataContractError(f"{where}: the header names {twice} more than once; "
                                          "rename them so that each column is unique")
            frame = pd.read_csv(path, encoding=encoding, dtype=str, sep=sep or ",",
                                skiprows=skip, keep_default_na=False, na_values=[""],
                                index_col=False)
    except S.DataContractError:
        raise
    except LookupError:
        raise S.DataContractError(
            f"{where}: unknown encoding '{encoding}'; use a name such as utf-8, utf-8-sig, "
            "gbk, gb18030 or latin-1") from None
    except pd.errors.EmptyDataError:
        raise S.DataContractError(f"{where}: the file is empty") from None
    except UnicodeDecodeError:
        raise S.DataContractError(
            f"{where}: cannot be read as '{encoding}' text (first bad byte at "
            f"{_decode_error(path, encoding)}); set 'encoding:' in the mapping, for example "
            "gbk, gb18030 or latin-1") from None
    except pd.errors.ParserError as err:
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if fields:
            want, line, saw = fields.groups()
            raise S.DataContractError(
                f"{where}: line {line} has {saw} fields, the header {want}; a field that "
                f"contains the separator '{sep or ','}' must be in double quotes") from None
        raise S.DataContractError(f"{where}: cannot be read: {err}") from None
    except (OSError, ValueError) as err:
        raise S.DataContractError(f"{where}: cannot be read: {err}") from None
    if len(frame.columns) == 1 and any(c in frame.columns[0] for c in ";\t|,"):
        raise S.DataContractError(
            f"{where}: one column only ({frame.columns[0][:60]!r}); set 'sep:' in the mapping "
            "to the file's separator (';', tab, '|' or ',')")
    frame = _rows_or_error(frame, where)
    if path.suffix.lower() not in _COMPRESSED:
        frame.index = _csv_lines(path, encoding, sep or ",", skip, len(frame))
    else:
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return frame


def _rows_or_error(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    if len(frame) == 0:
        raise S.DataContractError(f"{where}: the file has a header but no rows")
    return frame


def _rename(raw: pd.DataFrame, columns: dict, table: str, path) -> pd.DataFrame:
    missing = {canon: col for canon, col in columns.items() if col not in raw.columns}
    if missing:
        raise S.DataContractError(
            f"table '{table}', file {path}: mapped column(s) not in the file: "
            + ", ".join(f"{canon} <- '{col}'" for canon, col in missing.items())
            + f"; columns in the file: {list(raw.columns)}")
    return raw.rename(columns={v: k for k, v in columns.items()})


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------
def load(dataset: str = "synthetic", size: str | int = "small", seed: int = 42,
         mapping: str | Path | None = None, effects: dict | None = None) -> Dataset:
    """Load a dataset by name: 'synthetic', 'online_retail', 'cdnow' or 'custom'
    (with ``mapping``, the path of your YAML column mapping). ``effects`` sets the
    strengths of the synthetic retailer's injected effects (synthetic only)."""
    if dataset == "synthetic":
        return load_synthetic(size, seed, effects)
    if effects:
        raise S.DataContractError(f"'effects' applies to the synthetic data only, not to "
                                  f"'{dataset}'")
    if dataset == "online_retail":
        return load_online_retail()
    if dataset == "cdnow":
        return load_cdnow()
    if dataset == "custom":
        if not mapping:
            raise S.DataContractError("dataset 'custom' needs a mapping file (mapping=...)")
        mapping = Path(mapping)
        # Relative to the project folder, so a path means the same from notebooks/ and from
        # the command line.
        return load_mapped(mapping if mapping.is_absolute() else PROJECT_ROOT / mapping)
    raise S.DataContractError(f"unknown dataset '{dataset}'; expected one of {DATASETS}")


def table_summary(ds: Dataset) -> pd.DataFrame:
    """Rows and columns of each table present."""
    return pd.DataFrame(
        [(t, len(f), ", ".join(f.columns)) for t, f in ds.tables.items()],
        columns=["table", "rows", "columns"])


__all__ = ["Dataset", "load", "load_synthetic", "load_online_retail", "load_cdnow",
           "load_mapped", "load_truth", "write_synthetic", "DROP_RULES"]


# ---------------------------------------------------------------------------
# Reference instances for location and routing: OR-Library and CVRPLIB
# ---------------------------------------------------------------------------
def read_pmed(path) -> tuple[np.ndarray, int]:
    """An OR-Library p-median instance: the all-pairs shortest-path distances of its
    graph (edges read in file order; for a repeated edge the last cost wins) and p."""
    nums = Path(path).read_text().split()
    n, e, p = (int(v) for v in nums[:3])
    edges = np.array(nums[3:3 + 3 * e], dtype=float).reshape(e, 3)
    W = np.full((n, n), np.inf)
    for i, j, c in edges:  # in file order: the last cost of a repeated edge wins
        W[int(i) - 1, int(j) - 1] = W[int(j) - 1, int(i) - 1] = c
    np.fill_diagonal(W, 0)
    from scipy.sparse.csgraph import shortest_path

    return shortest_path(np.where(np.isfinite(W), W, 0), method="D", directed=False), p


# OR-Library's pmed instances: (n, edges, p) of pmed1-40 (Beasley 1985).
PMED_SIZES: tuple[tuple[int, int, int], ...] = tuple(
    (n, e, p) for n, e, ps in (
        (100, 200, (5, 10, 10, 20, 33)), (200, 800, (5, 10, 20, 40, 67)),
        (300, 1800, (5, 10, 30, 60, 100)), (400, 3200, (5, 10, 40, 80, 133)),
        (500, 5000, (5, 10, 50, 100, 167)), (600, 7200, (5, 10, 60, 120, 200)),
        (700, 9800, (5, 10, 70, 140)), (800, 12800, (5, 10, 80)), (900, 16200, (5, 10, 90)))
    for p in ps)


def random_pmed(n: int, edges: int, seed: int = 0) -> np.ndarray:
    """A p-median instance made the way OR-Library's pmed instances were (Beasley 1985):
    a connected random graph of ``n`` nodes and ``edges`` edges (a random spanning tree,
    then edges between random pairs) with integer costs uniform on 1-100, and the
    all-pairs shortest-path distances; every node is a customer and a candidate site.
    It is not the published instance of that size (its generator is not public), so it
    has no published optimum."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    if not n - 1 <= edges <= n * (n - 1) // 2:
        raise ValueError(f"random_pmed: {edges} edges cannot connect {n} nodes simply")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    cost: dict[tuple[int, int], int] = {}
    for k in range(1, n):  # each node joins one placed before it
        a, b = int(order[k]), int(order[rng.integers(k)])
        cost[min(a, b), max(a, b)] = int(rng.integers(1, 101))
    while len(cost) < edges:
        a, b = (int(v) for v in rng.integers(n, size=2))
        if a != b:
            cost.setdefault((min(a, b), max(a, b)), int(rng.integers(1, 101)))
    i, j = np.array(list(cost)).T
    w = np.array(list(cost.values()), dtype=float)
    graph = csr_matrix((np.r_[w, w], (np.r_[i, j], np.r_[j, i])), shape=(n, n))
    return shortest_path(graph, method="D", directed=False)


def read_cap(path) -> dict:
    """An OR-Library capacitated warehouse instance: ``capacity`` and ``fixed`` per
    warehouse, ``demand`` per customer and ``cost`` (customers x warehouses) of
    serving a customer's whole demand."""
    tok = Path(path).read_text().split()
    m, n = int(tok[0]), int(tok[1])
    pos = 2
    cap, fixed = np.empty(m), np.empty(m)
    for i in range(m):
        cap[i], fixed[i] = float(tok[pos]), float(tok[pos + 1])
        pos += 2
    demand, cost = np.empty(n), np.empty((n, m))
    for j in range(n):
        demand[j] = float(tok[pos])
        cost[j] = np.array(tok[pos + 1:pos + 1 + m], dtype=float)
        pos += 1 + m
    return {"capacity": cap, "fixed": fixed, "demand": demand, "cost": cost}


def read_optima(path) -> dict[str, float]:
    """``name value`` lines of an OR-Library optima file (the header line skipped)."""
    out = {}
    for line in Path(path).read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = float(parts[1])
    return out


def read_cvrp(path) -> dict:
    """A CVRPLIB instance (TSPLIB format): ``coords``, ``demand``, ``capacity``,
    ``depot`` (0-based) and ``vehicles`` (from the name's ``-kN``)."""
    text = Path(path).read_text()
    name = re.search(r"NAME\s*:\s*(\S+)", text).group(1)
    capacity = float(re.search(r"CAPACITY\s*:\s*(\d+)", text).group(1))

    def section(title, width):
        body = text.split(title, 1)[1]
        rows = []
        for line in body.strip().splitlines():
            parts = line.split()
            if not parts or not re.fullmatch(r"-?\d+(\.\d+)?", parts[0]):
                break
            rows.append([float(v) for v in parts[:width]])
        return np.array(rows)

    nodes = section("NODE_COORD_SECTION", 3)
    demand = section("DEMAND_SECTION", 2)
    depot = int(section("DEPOT_SECTION", 1)[0, 0]) - 1
    vehicles = int(re.search(r"-k(\d+)", name).group(1))
    return {"name": name, "coords": nodes[:, 1:], "demand": demand[:, 1], "capacity": capacity,
            "depot": depot, "vehicles": vehicles}


def read_cvrp_solution(path) -> tuple[list, float]:
    """Routes (0-based customer node numbers, depot 0) and the cost of a ``.sol``."""
    routes, cost = [], math.nan
    for line in Path(path).read_text().splitlines():
        if line.startswith("Route"):
            routes.append([int(v) for v in line.split(":", 1)[1].split()])
        elif line.lower().startswith("cost"):
            cost = float(line.split()[1])
    return routes, cost
