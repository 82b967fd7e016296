"""What each notebook can do with a dataset, from one place.

The notebooks ask :func:`missing` whether a section's inputs are there (and skip it with
that reason if not); ``chainsight check`` shows the same rules as a table, notebook by
notebook, with the mapping line that would fix each gap. :func:`holdout_start` derives
the holdout from the data when the parameter is left empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from chainsight import schema as S

EFFECTS = ("synthetic", "effects")  # a need met only by the synthetic data's switchable effects


@dataclass(frozen=True)
class Need:
    notebook: str
    section: str
    inputs: tuple[tuple[str, str | None], ...]  # (table, column); column None: the table
    without: str = ""  # what the notebook does instead


NEEDS: tuple[Need, ...] = (
    Need("00", "festivals", (("calendar", S.EVENT),)),
    Need("00", "customer map", (("customers", S.CITY), ("customers", S.LON),
                                ("customers", S.LAT)),
         "customers by country, when the order lines carry a country"),
    Need("00", "category mix by tier", (("customers", S.CITY_TIER), ("products", S.CATEGORY))),
    Need("01", "demographics", (("customers", S.AGE), ("customers", S.CITY_TIER),
                                ("products", S.CATEGORY), ("orders", S.SHIP_MODE)),
         "the profile uses what there is (value, frequency, basket, timing)"),
    Need("02", "profile comparison", (("products", S.CATEGORY),),
         "forecasts the top products without a profile comparison"),
    Need("02", "festival calendar", (("calendar", S.EVENT),),
         "the models use the time of year only (the week or month)"),
    Need("02", "negative control", (EFFECTS,)),
    Need("03", "pre-build", (("calendar", S.EVENT),)),
    Need("03", "negative control", (EFFECTS,)),
    *(Need("04", section, (("customers", S.CITY), ("customers", S.LON), ("customers", S.LAT),
                           ("sites", None), ("orders", S.SHIP_MODE)),
           "demand by country, when the customers or the orders carry a country")
      for section in ("warehouse network", "holdout", "delivery tiers", "last mile")),
    Need("04", "negative control", (EFFECTS,)),
    *(Need("05", section, (("orders", S.CUSTOMISED), ("products", S.CUSTOMISABLE)),
           "plans capacity on total demand")
      for section in ("customisation demand", "capacity for customised work")),
    Need("05", "lead time by segment", (("orders", S.CUSTOMISED), ("products", S.CUSTOMISABLE),
                                        ("orders", S.DELIVERY_DAYS))),
    Need("05", "make to stock or to order", (("orders", S.CUSTOMISED),
                                             ("products", S.CUSTOMISABLE),
                                             ("products", S.UNIT_COST))),
    Need("05", "negative control", (EFFECTS,)),
    Need("06", "demand drift", (("products", S.CATEGORY),)),
    Need("06", "quality incident", (("orders", S.RETURNED),)),
    Need("06", "stress test", (("customers", S.CITY), ("customers", S.LON),
                               ("customers", S.LAT), ("sites", S.CAPACITY),
                               ("sites", "current"))),
    Need("06", "negative control", (EFFECTS,)),
    Need("07", "price sensitivity", (("calendar", S.EVENT_KIND),),
         "the service tiers follow value alone"),
    Need("07", "delivery tiers", (("customers", S.CITY), ("customers", S.LON),
                                  ("customers", S.LAT), ("sites", None),
                                  ("orders", S.SHIP_MODE)),
         "the service tiers set stock priority only"),
    Need("07", "campaigns", (("campaigns", None),)),
    Need("07", "negative control", (EFFECTS,)),
)


def _has(ds, table: str, column: str | None) -> bool:
    if (table, column) == EFFECTS:
        return bool(ds.effects)
    return ds.has(table, column)


def _what(table: str, column: str | None) -> str:
    if (table, column) == EFFECTS:
        return "injected effects to switch off (only the synthetic retailer has them)"
    return f"column '{column}' of table '{table}'" if column else f"table '{table}'"


BUILT_IN = ("synthetic", "online_retail", "cdnow")  # loaded without a mapping


def _fix(ds, gaps) -> str:
    """The mapping lines that would add the missing inputs, one per table (none for the
    built-in datasets, which are not loaded through a mapping)."""
    if ds.name in BUILT_IN:
        return ""
    lines = []
    for table in dict.fromkeys(t for t, _ in gaps if (t, _) != EFFECTS):
        absent = table not in ds.tables or len(ds.tables[table]) == 0
        columns = [c for t, c in gaps if t == table and c]
        if absent or table in ("customers", "products"):
            columns = [*S.REQUIRED[table], *[c for c in columns if c not in S.REQUIRED[table]]]
        cols = ", ".join(f"{c}: <your column>" for c in columns)
        if not absent:
            lines.append(f"{table}: columns: {{{cols}}}" if table not in FROM else
                         f"{table}: {{from: orders, columns: {{{cols}}}}} (or your file's "
                         "columns)")
        else:
            source = "from: orders" if table in FROM else f"path: {table}.csv"
            lines.append(f"{table}: {{{source}, columns: {{{cols}}}}}")
    return "; ".join(lines)


FROM = ("customers", "products")  # tables a mapping can build from the order lines


def need(notebook: str, section: str) -> Need:
    for n in NEEDS:
        if (n.notebook, n.section) == (notebook, section):
            return n
    raise KeyError(f"no rule for notebook {notebook}, section '{section}'")


def missing(ds, notebook: str, section: str) -> str | None:
    """Why ``section`` of ``notebook`` cannot run on ``ds`` (one sentence), or None."""
    rule = need(notebook, section)
    absent = [_what(t, c) for t, c in rule.inputs if not _has(ds, t, c)]
    if not absent:
        return None
    instead = f"; instead, {rule.without}" if rule.without else ""
    return f"the {ds.name} data has no {', '.join(absent)}{instead}."


def skips(ds) -> dict[tuple[str, str], str]:
    """Every (notebook, section) that skips on ``ds``, with its reason."""
    found = {(n.notebook, n.section): missing(ds, n.notebook, n.section) for n in NEEDS}
    return {key: reason for key, reason in found.items() if reason}


def table(ds) -> pd.DataFrame:
    """Notebook by notebook: runs fully, or the sections it skips (those with the same
    inputs together), why, and the mapping lines that would add what is missing."""
    skipped = skips(ds)
    rows = []
    for notebook in sorted({n.notebook for n in NEEDS}):
        groups: dict[tuple, list[str]] = {}
        for n in NEEDS:
            if (n.notebook, n.section) in skipped and n.notebook == notebook:
                groups.setdefault(n.inputs, []).append(n.section)
        if not groups:
            rows.append((notebook, "runs fully", "", ""))
        for inputs, sections in groups.items():
            gaps = [(t, c) for t, c in inputs if not _has(ds, t, c)]
            rows.append((notebook, "skips " + ", ".join(f"'{s}'" for s in sections),
                         skipped[notebook, sections[0]], _fix(ds, gaps)))
    return pd.DataFrame(rows, columns=["notebook", "status", "why", "fix"])


# ---------------------------------------------------------------------------
# The holdout: given, or derived from the data
# ---------------------------------------------------------------------------
MIN_TRAIN_WEEKS, MIN_HOLDOUT_WEEKS = 13, 4


@dataclass(frozen=True)
class Holdout:
    start: pd.Timestamp
    sentence: str


def holdout_start(orders: pd.DataFrame, given: str | None, weeks: int,
                  monday: bool = False) -> Holdout:
    """The date the comparison learns before and is judged after.

    ``given`` (a date) is used as it is, after checking that it leaves at least
    13 weeks before and 4 weeks after it. Empty: the last ``weeks`` weeks of the data
    when the data spans twice that, else its last third; ``monday`` moves the date to
    the next Monday (weekly plans).
    """
    first, last = orders[S.TIMESTAMP].min().normalize(), orders[S.TIMESTAMP].max().normalize()
    span_weeks = (last - first).days / 7
    if given:
        try:
            start = pd.Timestamp(given)
        except ValueError:
            start = None
        if start is None or not 1900 <= start.year <= 2200:
            raise S.DataContractError(f"holdout_start {given!r} is not a date; write it as "
                                      "YYYY-MM-DD")
        start = start.tz_localize(None) if start.tz is not None else start  # as written
        how = "given"
    else:
        holdout_days = weeks * 7 if span_weeks >= 2 * weeks else round(span_weeks * 7 / 3)
        start = last - pd.Timedelta(days=holdout_days)
        shift = (7 - start.weekday()) % 7 if monday else 0
        start += pd.Timedelta(days=shift)
        how = (f"derived: the last {weeks} weeks of the data" if span_weeks >= 2 * weeks else
               "derived: the last third of the data")
        how += f", moved on {shift} day(s) to a Monday" if shift else ""
    before, after = (start - first).days / 7, (last - start).days / 7
    if before < MIN_TRAIN_WEEKS or after < MIN_HOLDOUT_WEEKS:
        raise S.DataContractError(
            f"holdout_start {start:%Y-%m-%d} ({how}) leaves {before:.1f} week(s) of order "
            f"lines before it and {after:.1f} after it (the data runs from {first:%Y-%m-%d} to "
            f"{last:%Y-%m-%d}); the comparison needs at least {MIN_TRAIN_WEEKS} before and "
            f"{MIN_HOLDOUT_WEEKS} after. Set holdout_start inside the data, or leave it empty")
    def n(w: float) -> str:
        return f"{w:.0f}" if abs(w - round(w)) < 0.05 else f"{w:.1f}"
    return Holdout(start, f"Holdout from {start:%Y-%m-%d} ({how}): {n(before)} weeks "
                          f"before it to learn from, {n(after)} weeks after it to judge on.")
