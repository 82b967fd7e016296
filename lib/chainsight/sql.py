"""The one place where order lines are aggregated: SQL on DuckDB.

Frames are registered as views (no copy), and a Parquet path can be queried the
same way with ``read_parquet('...')``, so large files are handled out of core.
"""

from __future__ import annotations

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
