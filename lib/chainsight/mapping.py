"""The YAML mapping from your export to the canonical tables: its shape, derived columns,
value recoding, number formats and tables built from order lines.

Used by :func:`chainsight.datasets.load_mapped`; the README ("Bring your own data") shows
every feature with an example. Every check here turns a wrong mapping into a sentence
naming the section and the key, never a traceback.
"""

from __future__ import annotations

import codecs
import difflib
import re
import zoneinfo

import numpy as np
import pandas as pd

from chainsight import schema as S

TOP_KEYS = ("name", "description", "currency", "timezone")
SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
PICKS = ("most_frequent", "latest")
# Tables that can be built from the order lines, and their key.
FROM_ORDERS = {"customers": S.CUSTOMER_ID, "products": S.PRODUCT_ID}

# Each key of a table's section: what it must be, in words, and a check.
_TEXT = ("text", lambda v: isinstance(v, str) and v != "")
_CHAR = ("one character, e.g. ','", lambda v: isinstance(v, str) and len(v) == 1)
SECTION_KEYS: dict[str, tuple[str, object]] = {
    "path": _TEXT,
    "from": ("'orders'", lambda v: v == "orders"),
    "pick": (f"one of {list(PICKS)}", lambda v: v in PICKS),
    "encoding": _TEXT,
    "sep": ("one character, or tab, comma, semicolon or pipe",
            lambda v: isinstance(v, str) and (len(v) == 1 or v in SEPARATORS)),
    "decimal": _CHAR,
    "thousands": _CHAR,
    "date_format": _TEXT,
    "timestamp_unit": (f"one of {list(S.TIMESTAMP_UNITS)}", lambda v: v in S.TIMESTAMP_UNITS),
    "columns": ("a mapping of canonical names to your column names, one per line, e.g. "
                "'customer_id: CustomerID'",
                lambda v: isinstance(v, dict)
                and all(isinstance(c, str | int) for c in v.values())),
    "derive": ("a mapping of canonical names to expressions, e.g. "
               "'unit_price: Sales / Quantity'",
               lambda v: isinstance(v, dict) and all(isinstance(e, str | int | float)
                                                     for e in v.values())),
    "values": ("a mapping of canonical names to {your value: canonical value}, e.g. "
               "'ship_mode: {Same Day: express}'",
               lambda v: isinstance(v, dict) and all(isinstance(m, dict) for m in v.values())),
    "drop": ("a list of rules", lambda v: isinstance(v, list)),
}


class MappingError(S.DataContractError):
    """A mapping of the wrong shape."""


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_spec(spec, where: str) -> dict[str, dict]:
    """The mapping's shape, checked key by key; returns the table sections present."""
    if not isinstance(spec, dict) or "orders" not in spec:
        raise MappingError(f"{where}: needs an 'orders' section")
    for key in spec:
        if key not in S.TABLES and key not in TOP_KEYS:
            raise MappingError(f"{where}: unknown section '{key}'{_suggest(key, S.TABLES)}; "
                               f"sections are the tables {list(S.TABLES)} and {list(TOP_KEYS)}")
    for key in TOP_KEYS:
        if key in spec and not isinstance(spec[key], str):
            raise MappingError(f"{where}: '{key}' must be text, got {spec[key]!r}")
    if "timezone" in spec:
        try:
            zoneinfo.ZoneInfo(spec["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise MappingError(f"{where}: unknown timezone '{spec['timezone']}'; use an IANA "
                               "name such as Asia/Shanghai, Europe/London or UTC") from None
    sections = {t: spec[t] for t in S.TABLES if spec.get(t) is not None}
    for table, section in sections.items():
        _check_section(section, table, f"{where}, section '{table}'")
    return sections


def _check_section(section, table: str, where: str) -> None:
    if not isinstance(section, dict):
        raise MappingError(f"{where}: must be a mapping with 'path' and 'columns', got "
                           f"{type(section).__name__} {section!r}")
    for key, value in section.items():
        if key not in SECTION_KEYS:
            raise MappingError(f"{where}: unknown key '{key}'{_suggest(key, SECTION_KEYS)}; "
                               f"keys are {list(SECTION_KEYS)}")
        what, ok = SECTION_KEYS[key]
        if not ok(value):
            hint = f", e.g. 'drop: [{value if isinstance(value, str) else 'duplicate'}]'" \
                if key == "drop" else ""
            raise MappingError(f"{where}: '{key}' must be {what}{hint}; got "
                               f"{type(value).__name__} {value!r}")
    if ("path" in section) == ("from" in section):
        raise MappingError(f"{where}: needs either 'path' (a file) or 'from: orders' (built "
                           "from the order lines), not both")
    if "from" in section:
        if table not in FROM_ORDERS:
            raise MappingError(f"{where}: only {list(FROM_ORDERS)} can be built 'from: orders'")
        for key in ("encoding", "sep", "decimal", "thousands", "drop", "date_format", "derive",
                    "timestamp_unit"):
            if key in section:
                raise MappingError(f"{where}: '{key}' applies to a file; a table built "
                                   "'from: orders' is read with the orders section's settings")
    elif "pick" in section:
        raise MappingError(f"{where}: 'pick' applies to a table built 'from: orders'")
    if "encoding" in section:
        try:
            codecs.lookup(section["encoding"])
        except LookupError:
            raise MappingError(f"{where}: unknown encoding '{section['encoding']}'; use a name "
                               "such as utf-8, utf-8-sig, gbk, gb18030 or latin-1") from None
    sep = SEPARATORS.get(section.get("sep"), section.get("sep"))
    if section.get("decimal") is not None and section.get("decimal") in (
            section.get("thousands"), sep):
        raise MappingError(f"{where}: 'decimal' ({section['decimal']!r}) must differ from "
                           "'sep' and 'thousands'")
    known = S.COLUMNS[table]
    columns, derive = section.get("columns", {}), section.get("derive", {})
    for key in ("columns", "derive", "values"):
        for canon in section.get(key, {}):
            if canon not in known:
                raise MappingError(
                    f"{where}, '{key}': unknown canonical column '{canon}'"
                    f"{_suggest(canon, known)}; the columns of '{table}' are {list(known)}")
    both = sorted(set(columns) & set(derive))
    if both:
        raise MappingError(f"{where}: '{both[0]}' is both mapped in 'columns' and derived in "
                           "'derive'; keep one")
    used: dict[str, list[str]] = {}
    for canon, col in columns.items():
        used.setdefault(str(col), []).append(canon)
    for col, canon in used.items():
        if len(canon) > 1:
            raise MappingError(f"{where}: column '{col}' is mapped twice ({', '.join(canon)}); "
                               "a column of your file can feed one canonical column")
    for canon, text in derive.items():
        Expression(str(text), f"{where}, derive '{canon}'")
    for canon, recoding in section.get("values", {}).items():
        if canon not in columns and canon not in derive:
            raise MappingError(f"{where}, 'values': '{canon}' is not mapped in 'columns'")
        odd = [k for k in recoding if not isinstance(k, str)]
        if odd:
            raise MappingError(
                f"{where}, 'values: {{{canon}: ...}}': YAML read the key {odd[0]!r} as "
                f"{type(odd[0]).__name__}, not as the text in your file; put each key in "
                "quotes, e.g. {'yes': express, '01': standard}")
    if "from" in section and FROM_ORDERS[table] not in columns:
        raise MappingError(f"{where}: a table built 'from: orders' needs its key "
                           f"'{FROM_ORDERS[table]}' in 'columns'")


# ---------------------------------------------------------------------------
# Derived columns: arithmetic over your columns, parsed here, never eval'd
# ---------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|`(?P<quoted>[^`]+)`|"
                    r"(?P<name>[^\W\d]\w*)|(?P<op>[-+*/()]))")


class Expression:
    """A derived column: numbers, your column names (in backticks when they hold spaces
    or symbols), ``+ - * /`` and parentheses. Parsed by a small grammar, never by ``eval``,
    so a mapping cannot run code."""

    def __init__(self, text: str, where: str):
        self.text, self.where = text, where
        self.tokens = self._tokenize(text)
        self.names: list[str] = [v for k, v in self.tokens if k == "name"]
        self._pos = 0
        self._tree = self._sum()
        if self._pos != len(self.tokens):
            self._fail(f"unexpected '{self.tokens[self._pos][1]}'")

    def _fail(self, problem: str):
        raise MappingError(f"{self.where}: cannot read the expression {self.text!r}: {problem}; "
                           "use your column names (in backticks if they contain spaces), "
                           "numbers, + - * / and parentheses")

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                self._fail(f"unexpected character {text[pos:].lstrip()[:1]!r}")
            kind = m.lastgroup
            tokens.append(("name" if kind == "quoted" else kind, m.group(kind)))
            pos = m.end()
        if not tokens:
            self._fail("it is empty")
        return tokens

    def _peek(self):
        return self.tokens[self._pos] if self._pos < len(self.tokens) else (None, None)

    def _take(self):
        token = self._peek()
        if token[0] is None:
            self._fail("it ends too early")
        self._pos += 1
        return token

    def _sum(self):
        node = self._product()
        while self._peek()[1] in ("+", "-") and self._peek()[0] == "op":
            op = self._take()[1]
            node = (op, node, self._product())
        return node

    def _product(self):
        node = self._unary()
        while self._peek()[1] in ("*", "/") and self._peek()[0] == "op":
            op = self._take()[1]
            node = (op, node, self._unary())
        return node

    def _unary(self):
        if self._peek() == ("op", "-"):
            self._take()
            return ("neg", self._unary())
        kind, value = self._take()
        if kind == "num":
            return ("num", float(value))
        if kind == "name":
            return ("col", value)
        if value == "(":
            node = self._sum()
            if self._peek() != ("op", ")"):
                self._fail("a '(' is not closed")
            self._take()
            return node
        self._fail(f"unexpected '{value}'")

    def evaluate(self, numbers: dict[str, pd.Series]) -> pd.Series:
        """The value per row, from the named columns as numbers. Division by zero gives
        a missing value (the loader then names the rows)."""
        def run(node):
            kind = node[0]
            if kind == "num":
                return node[1]
            if kind == "col":
                return numbers[node[1]]
            if kind == "neg":
                return -run(node[1])
            a, b = run(node[1]), run(node[2])
            if kind == "/":
                b = b.where(b != 0) if isinstance(b, pd.Series) else (b or np.nan)
            return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[kind]
        return run(self._tree)


_SPACES = r"[\s\u00a0\u202f\u2009]"  # a thousands "space" may be any of these


def numbers(values: pd.Series, section: dict, table: str, column: str, purpose: str = ""
            ) -> pd.Series:
    """A column of your file as numbers, read with the section's ``decimal`` and
    ``thousands``. Text that is not a number in that format is an error showing the text
    as the file has it, with a hint when it looks like another number format."""
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        return values
    decimal, thousands = section.get("decimal") or ".", section.get("thousands")
    text = values.astype(object).where(values.isna(), values.astype(str).str.strip())
    grouped = pd.Series(True, index=text.index)
    if thousands:
        sep = _SPACES if thousands.isspace() else re.escape(thousands)
        has = text.str.contains(sep, regex=True, na=False)
        pattern = rf"^[-+]?\d{{1,3}}(?:{sep}\d{{3}})+(?:{re.escape(decimal)}\d*)?$"
        grouped = ~has | text.str.match(pattern, na=False)
        text = text.str.replace(sep, "", regex=True)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    value = pd.to_numeric(text.where(grouped), errors="coerce")
    bad = value.isna() & values.notna()
    if bad.any():
        raise S.contract_error(table, column, f"values that are not numbers{purpose}"
                               f"{_number_hint(values[bad], section)}",
                               values.to_frame(column), bad)
    return value


def _number_hint(bad: pd.Series, section: dict) -> str:
    text = bad.astype(str).str.strip()
    if text.str.endswith("%").all():
        return "; they end in '%': export them as fractions (0.2 for 20%)"
    if text.str.match(r"^[-+]?\d{1,3}([,.' \u00a0\u202f])\d{3}(\1\d{3})*([,.]\d+)?$").all():
        now = ", ".join(f"{k}: {section[k]!r}" for k in ("decimal", "thousands")
                        if k in section) or "none set"
        return (f"; they look like grouped numbers such as {text.iloc[0]!r}: set 'thousands' "
                f"and 'decimal' in the mapping to the file's format (now: {now})")
    return ""


def derive(raw: pd.DataFrame, section: dict, table: str, where: str) -> dict[str, pd.Series]:
    """The section's derived columns, computed from the file's columns. A division by
    zero leaves the row empty; :func:`check_derived` names such rows after the drop
    rules, which may remove them."""
    out = {}
    for canon, text in section.get("derive", {}).items():
        expr = Expression(str(text), f"{where}, derive '{canon}'")
        missing = [n for n in expr.names if n not in raw.columns]
        if missing:
            unquoted = [c for c in raw.columns if not re.fullmatch(r"\w+", str(c))
                        and str(c) in str(text)]
            hint = (f"; write a name with spaces or symbols in backticks, e.g. `{unquoted[0]}`"
                    if unquoted else "")
            raise MappingError(f"{where}, derive '{canon}': column(s) {missing} not in the "
                               f"file{hint}; columns in the file: {list(raw.columns)}")
        operands = {n: numbers(raw[n], section, table, n, f" (used to derive '{canon}')")
                    .astype(float) for n in expr.names}
        value = expr.evaluate(operands)
        out[canon] = value if isinstance(value, pd.Series) else pd.Series(float(value),
                                                                          index=raw.index)
    return out


def check_derived(frame: pd.DataFrame, raw: pd.DataFrame, section: dict, table: str) -> None:
    """Rows the drop rules kept whose derived value is empty although its columns are
    not: a division by zero."""
    for canon, text in section.get("derive", {}).items():
        names = Expression(str(text), "").names
        given = raw.loc[frame.index, names].notna().all(axis=1) if names else True
        bad = frame[canon].isna() & given
        if bad.any():
            raise S.contract_error(table, canon, f"'{text}' has no value (division by zero)",
                                   frame.join(raw[names].add_prefix("file: ")), bad)


def recode(frame: pd.DataFrame, section: dict, table: str) -> pd.DataFrame:
    """Replace your values by canonical ones (``values:``). A value the recoding does not
    list is an error that names each such value and how many rows carry it."""
    for canon, table_of_values in section.get("values", {}).items():
        lookup = {str(k).strip(): v for k, v in table_of_values.items()}
        text = frame[canon].astype(object).where(frame[canon].isna(),
                                                 frame[canon].astype(str).str.strip())
        unknown = text.notna() & ~text.isin(list(lookup))
        if unknown.any():
            counts = text[unknown].value_counts()
            listed = ", ".join(f"{v!r} ({n:,} row{'' if n == 1 else 's'})"
                               for v, n in counts.head(10).items())
            raise S.contract_error(
                table, canon, f"value(s) that 'values' does not recode: {listed}; add them to "
                f"the section's 'values: {{{canon}: ...}}'", frame, unknown)
        frame[canon] = text.map(lookup).astype(object).where(text.notna())
    return frame


ID_COLUMNS = (S.CUSTOMER_ID, S.PRODUCT_ID, S.ORDER_ID, S.SITE_ID)


def clean_ids(frame: pd.DataFrame, table: str, ledger: S.Ledger) -> pd.DataFrame:
    """Ids as your file writes them, less surrounding spaces ('c1 ' is 'c1'; the ledger
    notes how many). Ids that Excel turned into numbers in scientific notation
    ('1.23457E+11') are an error: distinct ids became one."""
    for col in ID_COLUMNS:
        if col not in frame.columns or not (pd.api.types.is_string_dtype(frame[col])
                                            or frame[col].dtype == object):
            continue
        text = frame[col].astype(object).where(frame[col].isna(), frame[col].astype(str))
        sci = text.str.fullmatch(r"\d(?:\.\d+)?[eE]\+\d+", na=False)
        if sci.any():
            raise S.contract_error(table, col, "ids in scientific notation (Excel rounded "
                                   "long numbers, so different ids may now be equal); export "
                                   "the column as text", frame, sci)
        stripped = text.str.strip()
        changed = int((stripped != text).sum())
        if changed:
            ledger.note(table, f"{changed:,} value(s) of '{col}' had spaces around them; the "
                        "spaces were removed")
        frame[col] = stripped
    return frame


def from_orders(raw: pd.DataFrame, orders: pd.DataFrame, orders_section: dict, section: dict,
                table: str, ledger: S.Ledger) -> pd.DataFrame:
    """A customers or products table built from the kept order lines: one row per key,
    each column's most frequent value (ties go to the latest) or its latest value
    (``pick: latest``). Numbers and dates are read as the orders section says. The ledger
    notes how many keys had several values per column."""
    key = FROM_ORDERS[table]
    pick = section.get("pick", "most_frequent")
    columns = {k: str(v) for k, v in section["columns"].items()}
    where = f"table '{table}' (from: orders)"
    absent = {canon: col for canon, col in columns.items() if col not in raw.columns}
    if absent:
        raise MappingError(
            f"{where}: column(s) not in the orders file: "
            + ", ".join(f"{canon} <- '{col}'" for canon, col in absent.items())
            + f"; columns in the file: {list(raw.columns)}")
    own_key = str(orders_section.get("columns", {}).get(key))
    if columns[key] != own_key:
        raise MappingError(f"{where}: its key '{key}' must be the orders' own column "
                           f"'{own_key}', not '{columns[key]}'")
    lines = raw.loc[orders.index, list(columns.values())].rename(
        columns={v: k for k, v in columns.items()})
    for col in S.NUMERIC_COLUMNS[table]:
        if col in lines.columns:
            lines[col] = numbers(lines[col], orders_section, table, col)
    lines[key] = orders[key]  # the key exactly as the order lines carry it
    lines["_when"], lines["_line"] = orders[S.TIMESTAMP], np.arange(len(lines))
    out = pd.DataFrame({key: pd.unique(lines[key])})
    for col in [c for c in columns if c != key]:
        values = lines[[key, col, "_when", "_line"]].dropna(subset=[col])
        several = int((values.groupby(key)[col].nunique() > 1).sum())
        if pick == "latest":
            best = values.sort_values(["_when", "_line"]).drop_duplicates(key, keep="last")
        else:
            best = (values.groupby([key, col], sort=False)
                    .agg(n=("_line", "size"), last=("_when", "max"), at=("_line", "max"))
                    .reset_index().sort_values(["n", "last", "at"], ascending=False)
                    .drop_duplicates(key))
        out[col] = out[key].map(best.set_index(key)[col])
        if several:
            kept = "the latest" if pick == "latest" else "the most frequent"
            ledger.note(table, f"{several:,} of {len(out):,} {key} value(s) appear with several "
                        f"'{col}' values in the order lines; {kept} was kept")
    ledger.note(table, f"built from {len(lines):,} kept order lines: {len(out):,} rows")
    ledger.start(table, len(out))
    return out
