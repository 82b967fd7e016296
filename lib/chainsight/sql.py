"""The one place where order lines are aggregated: SQL on DuckDB.

Frames are registered as views (no copy), and a Parquet path can be queried the
same way with ``read_parquet('...')``, so large files are handled out of core.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd


def query(sql: str, **tables: pd.DataFrame) -> pd.DataFrame:
    """Run ``sql`` with each keyword frame visible as a table of that name."""
    con = duckdb.connect()
    try:
        for name, frame in tables.items():
            con.register(name, frame)
        return con.execute(sql).df()
    finally:
        con.close()


def source(frame_or_path, name: str = "orders") -> tuple[str, list[str], dict]:
    """Something to query: a DataFrame, or a Parquet file path (or glob) read out of
    core. Returns the SQL to select from, its column names, and the frames to
    register with :func:`query`."""
    if isinstance(frame_or_path, pd.DataFrame):
        return name, list(frame_or_path.columns), {name: frame_or_path}
    path = str(Path(frame_or_path)).replace("'", "''")
    expr = f"read_parquet('{path}')"
    cols = query(f"DESCRIBE SELECT * FROM {expr}")["column_name"].tolist()
    return expr, cols, {}
