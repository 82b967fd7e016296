"""The one place where order lines are aggregated: SQL on DuckDB, or on Apache Spark.

Frames are registered as views (no copy), and a Parquet path becomes a view the same
way, so large files are handled out of core. No value from the data or from the user is
written into SQL text: names are the data contract's, values are bound parameters.

DuckDB runs on one thread unless ``$CHAINSIGHT_SQL_THREADS`` says more. With several
threads a floating-point sum or mean is added up in an order that changes from run to
run, so its last bits do too (a customer's mean spend by about 1e-15), and a ranking
that breaks ties on such a value can change: one thread keeps the same parameters and
seed giving the same numbers. On large Parquet files, more threads are faster and give
results equal to about 1e-12.

**Two engines, one SQL.** Every query is written once, in DuckDB's dialect. With
``engine="spark"`` it is transpiled by sqlglot to Spark SQL (``$name`` parameters become
Spark's ``:name`` markers) and run on a Spark session (:func:`spark_session`: local by
default, a cluster through ``$CHAINSIGHT_SPARK_MASTER`` or Spark Connect through
``$CHAINSIGHT_SPARK_REMOTE``). Frames become temporary views and Parquet paths are read by
Spark itself; only the aggregated result comes back to pandas, cast to the types DuckDB
gives (:func:`_as_duckdb_types`: Spark's decimals of a division become float64 and its
dates datetime64). The queries use only what both engines read the same way.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import duckdb
import pandas as pd

ENGINES = ("duckdb", "spark")


def query(sql: str, params: dict | None = None, engine: str = "duckdb",
          **tables: pd.DataFrame) -> pd.DataFrame:
    """Run ``sql`` with each keyword frame visible as a table of that name, on
    ``engine`` (:data:`ENGINES`; see the module's note).

    Values never go into the SQL text: the text holds only column and table names of
    the data contract, and values (dates, labels) are bound as ``$name`` parameters
    from ``params``.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "spark":
        return _spark_query(sql, params or {}, tables)
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


def _spark_query(sql: str, params: dict, tables: dict) -> pd.DataFrame:
    import sqlglot

    spark = spark_session()
    for name, frame in tables.items():
        try:
            view = (spark.read.parquet(str(frame)) if isinstance(frame, str | Path)
                    else spark.createDataFrame(frame))
        except Exception as err:
            nanos = "TIMESTAMP(NANOS" in str(err)
            raise RuntimeError(
                f"Spark could not read {frame if isinstance(frame, str | Path) else name}: "
                + ("its time stamps are in nanoseconds, which Spark does not read; write it "
                   "with to_parquet(..., coerce_timestamps='us')" if nanos else _cause(err))
            ) from None
        view.createOrReplaceTempView(name)
    tree = sqlglot.parse_one(sql, read="duckdb")
    for cte in tree.find_all(sqlglot.exp.CTE):  # a planner's hint DuckDB reads, Spark not
        cte.set("materialized", None)
    text = tree.sql(dialect="spark")
    try:
        with warnings.catch_warnings():  # Arrow's note on a failed collect: said below instead
            warnings.simplefilter("ignore", UserWarning)
            result = spark.sql(text, args=params).toPandas()
    except Exception as err:  # a Java stack trace of hundreds of lines: its cause, said once
        lost = any(k in str(err) for k in ("TaskResultLost", "maxResultSize", "OutOfMemory"))
        hint = ("; the result is collected in the driver: raise CHAINSIGHT_SPARK_DRIVER_MEMORY "
                "(now " + _driver_memory() + ")") if lost else ""
        raise RuntimeError(f"Spark could not run a query: {_cause(err)}{hint}") from None
    return _as_duckdb_types(result)


def _cause(err: Exception) -> str:
    """The line of a Spark error that says what went wrong (its last cause)."""
    import re

    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    caused = [ln for ln in lines if ln.startswith("Caused by:")]
    if caused:
        return caused[-1][:500]
    said = [ln for ln in lines if ln.startswith("[")
            or re.match(r":?\s*[a-z][\w.]*\.[A-Z]\w*(Exception|Error)\b", ln)]
    return (said or lines or [type(err).__name__])[0].lstrip(": ")[:500]


def _as_duckdb_types(frame: pd.DataFrame) -> pd.DataFrame:
    """A Spark result with DuckDB's types: decimals (Spark's exact division) as float64,
    dates as datetime64; the one cast between the engines."""
    import datetime
    import decimal

    for col in frame.columns:
        first = frame[col].dropna()
        if first.empty or frame[col].dtype != object:
            continue
        value = first.iloc[0]
        if isinstance(value, decimal.Decimal):
            frame[col] = frame[col].astype("float64")
        elif isinstance(value, datetime.date):
            frame[col] = pd.to_datetime(frame[col]).astype("datetime64[us]")
    return frame


def use_spark(master: str = "", remote: str = "") -> None:
    """Where ``engine="spark"`` runs in this process (the notebooks' ``spark_master`` and
    ``spark_remote`` parameters): a cluster's master URL (``spark://host:7077``, ``yarn``,
    ``k8s://...``, ``local[4]``) or a Spark Connect URL (``sc://host:15002``). Empty
    leaves ``$CHAINSIGHT_SPARK_MASTER`` / ``$CHAINSIGHT_SPARK_REMOTE`` as they are (by
    default ``local[*]``); a value sets them, so :func:`spark_session` reads one place."""
    if master and remote:
        raise ValueError("give spark_master (a cluster) or spark_remote (Spark Connect), not "
                         "both")
    if master and not master.startswith(("local", "spark://", "yarn", "k8s://", "mesos://")):
        raise ValueError(f"spark_master must be a Spark master URL (local[*], spark://host:7077,"
                         f" yarn or k8s://...), not {master!r}")
    if remote and not remote.startswith("sc://"):
        raise ValueError(f"spark_remote must be a Spark Connect URL (sc://host:15002), not "
                         f"{remote!r}")
    if master:
        os.environ["CHAINSIGHT_SPARK_MASTER"] = master
        os.environ.pop("CHAINSIGHT_SPARK_REMOTE", None)
    if remote:
        os.environ["CHAINSIGHT_SPARK_REMOTE"] = remote


def _driver_memory() -> str:
    return os.environ.get("CHAINSIGHT_SPARK_DRIVER_MEMORY", "4g")


def spark_session():
    """The Spark session queries run on: Spark Connect at ``$CHAINSIGHT_SPARK_REMOTE``
    (``sc://host:15002``), else a session on ``$CHAINSIGHT_SPARK_MASTER`` (default
    ``local[*]``, in this process). Quiet: no progress bars or start-up log in a notebook,
    time stamps read as written (UTC session). The driver, where each aggregated result is
    collected before it becomes a pandas frame, gets ``$CHAINSIGHT_SPARK_DRIVER_MEMORY``
    (default 4g; Spark's own default of 1g cannot hold the features of a few million
    customers)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ImportError("engine='spark' needs pyspark: pip install -e '.[spark]' (or "
                          "make spark), and Java 17 or later") from None
    remote = os.environ.get("CHAINSIGHT_SPARK_REMOTE")
    builder = (SparkSession.builder.remote(remote) if remote else SparkSession.builder.master(
        os.environ.get("CHAINSIGHT_SPARK_MASTER", "local[*]")))
    builder = builder.appName("chainsight").config("spark.sql.session.timeZone", "UTC")
    if not remote:
        log = Path(__file__).parent / "log4j2.properties"
        builder = (builder.config("spark.ui.enabled", "false")
                   .config("spark.driver.memory", _driver_memory())
                   .config("spark.driver.maxResultSize", "0")  # the driver's memory limits
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "8")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log}"))
    # The JVM starts here and writes its start-up notes to the process's stderr, which a
    # notebook would show: it is given /dev/null instead (its errors still reach Python).
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    where = remote or os.environ.get("CHAINSIGHT_SPARK_MASTER", "local[*]")
    try:
        os.dup2(null, 2)
        spark = builder.getOrCreate()
    except Exception as err:  # an unreachable cluster: a Java trace of many lines
        raise RuntimeError(f"Spark did not start on {where}: {_cause(err).rstrip('.')}. Check "
                           "that the address is right and reachable from this machine, that "
                           "Java 17 or later is installed, and that "
                           f"CHAINSIGHT_SPARK_DRIVER_MEMORY ({_driver_memory()}) is a Java "
                           "memory size such as 4g") from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    if not remote:
        spark.sparkContext.setLogLevel("ERROR")
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        # They write a failed query's Java trace to stderr; the error says its cause once.
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
    return spark


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
