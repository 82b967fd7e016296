"""The one place where order lines are aggregated: SQL on DuckDB.

Frames are registered as views (no copy), and a Parquet path becomes a view the same
way, so large files are handled out of core. No value from the data or from the user is
written into SQL text: names are the data contract's, values are bound parameters.

DuckDB runs on one thread unless ``$CHAINSIGHT_SQL_THREADS`` says more. With several
threads a floating-point sum or mean is added up in an order that changes from run to
run, so its last bits do too (a customer's mean spend by about 1e-15), and a ranking
that breaks ties on such a value can change: one thread keeps the same parameters and
seed giving the same numbers. On large Parquet files, more threads are faster and give
results equal to about 1e-12.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd


def query(sql: str, params: dict | None = None, **tables: pd.DataFrame) -> pd.DataFrame:
    """Run ``sql`` with each keyword frame visible as a table of that name.

    Values never go into the SQL text: the text holds only column and table names of
    the data contract, and values (dates, labels) are bound as ``$name`` parameters
    from ``params``.
    """
    con = connect()
    try:
        for name, frame in tables.items():
            if isinstance(frame, str | Path):  # a Parquet file or glob, read out of core
                con.read_parquet(str(frame)).create_view(name)
            else:
                con.register(name, frame)
        return (con.execute(sql, params) if params else con.execute(sql)).df()
    finally:
        con.close()


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB on ``$CHAINSIGHT_SQL_THREADS`` threads (default 1; see the
    module's note on determinism)."""
    raw = os.environ.get("CHAINSIGHT_SQL_THREADS", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CHAINSIGHT_SQL_THREADS must be a whole number of threads, at "
                         f"least 1; got {raw!r}")
    return duckdb.connect(config={"threads": int(raw)})


def source(frame_or_path, name: str = "orders") -> tuple[str, list[str], dict]:
    """Something to query: a DataFrame, or a Parquet file path (or glob) read out of
    core. Returns the table name to select from, its column names, and the tables to
    pass to :func:`query` (the path itself for a file: it becomes a view there, and
    never part of the SQL text). Time-zone-aware columns of a frame are read as the
    wall clock of their own zone, so a day or week is the data's own."""
    if isinstance(frame_or_path, pd.DataFrame):
        frame = frame_or_path
        zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
        if zoned:  # the wall clock of their own zone, not DuckDB's session zone
            frame = frame.assign(**{c: frame[c].dt.tz_localize(None) for c in zoned})
        return name, list(frame.columns), {name: frame}
    path = str(Path(frame_or_path))
    con = connect()
    try:
        cols = list(con.read_parquet(path).columns)
    finally:
        con.close()
    return name, cols, {name: path}
