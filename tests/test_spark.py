"""The same profile and panels on Apache Spark as on DuckDB. Without pyspark or Java these
tests skip, unless ``CHAINSIGHT_REQUIRE_SPARK`` is set, as CI sets it after installing
both (``make spark``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chainsight import clv, datasets, forecasting, profiling, sql

ROOT = Path(__file__).resolve().parents[1]


def _spark_or_skip() -> None:
    missing = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing.append("pyspark (make spark)")
    if shutil.which("java") is None:
        missing.append("Java 17 or later (apt-get install -y openjdk-17-jre-headless)")
    if missing and os.environ.get("CHAINSIGHT_REQUIRE_SPARK"):
        pytest.fail("CHAINSIGHT_REQUIRE_SPARK is set but this machine lacks "
                    + " and ".join(missing))
    if missing:
        pytest.skip("no " + " and no ".join(missing))


@pytest.fixture(scope="module")
def both(small, tmp_path_factory):
    """The small retailer's orders, in memory and as the Parquet file the generator writes
    (read out of core by either engine: its time stamps are in microseconds, which Spark
    reads, not pandas' nanoseconds, which it refuses)."""
    _spark_or_skip()
    folder = datasets.write_synthetic("small", 42, tmp_path_factory.mktemp("spark") / "small")
    return small, folder / "orders.parquet"


def assert_same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same rows in the same order, same dtypes, values equal to 1e-9 relative."""
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark)
    assert duck.dtypes.to_dict() == spark.dtypes.to_dict()
    for col in duck.columns:
        a, b = duck[col].to_numpy(), spark[col].to_numpy()
        if duck[col].dtype.kind == "f":
            assert np.allclose(a, b, rtol=1e-9, atol=0, equal_nan=True), col
        else:
            assert (pd.Series(a).isna() == pd.Series(b).isna()).all(), col
            assert (a[pd.notna(a)] == b[pd.notna(b)]).all(), col


def test_rfm_summary_and_customer_features_are_the_same_on_spark(both):
    ds, path = both
    for orders in (ds.orders, str(path)):
        assert_same(clv.rfm_summary(orders, "2024-12-31", "2025-06-30"),
                    clv.rfm_summary(orders, "2024-12-31", "2025-06-30", engine="spark"))
    args = (ds.customers, ds.products, ds.calendar)
    assert_same(profiling.customer_features(ds.orders, *args, as_of="2024-12-31"),
                profiling.customer_features(ds.orders, *args, as_of="2024-12-31",
                                            engine="spark"))


@pytest.mark.parametrize("by", [["category"], ["segment", "category"], ["product_id"]],
                         ids=lambda b: " x ".join(b))
def test_demand_panels_are_the_same_on_spark(both, by):
    ds, _ = both
    segments = ds.customers[["customer_id"]].assign(
        segment=(np.arange(len(ds.customers)) % 3) + 1)
    kw = dict(customers=segments, products=ds.products)
    assert_same(forecasting.demand_panel(ds.orders, by, **kw).reset_index(drop=True),
                forecasting.demand_panel(ds.orders, by, engine="spark", **kw)
                .reset_index(drop=True))


def test_an_unknown_engine_is_a_clear_error():
    with pytest.raises(ValueError, match="engine must be one of duckdb, spark, not 'postgres'"):
        sql.query("SELECT 1 AS x", engine="postgres")


def test_a_failing_spark_query_is_one_clear_error(both, capfd, tmp_path):
    ds, _ = both
    with pytest.raises(RuntimeError, match="Spark could not run a query") as err:
        sql.query("SELECT result FROM orders", engine="spark", orders=ds.orders.head())
    assert "result" in str(err.value) and len(str(err.value)) < 800
    assert "DRIVER_MEMORY" not in str(err.value)  # a missing column is not a memory problem
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "org.apache" not in capfd.readouterr().err  # no Java trace beside the error
    nanos = tmp_path / "ns.parquet"
    ds.orders.head().to_parquet(nanos)  # pandas' default: nanoseconds
    with pytest.raises(RuntimeError, match="coerce_timestamps='us'"):
        clv.rfm_summary(str(nanos), "2024-12-31", engine="spark")


def test_a_cluster_that_does_not_start_is_one_clear_error(both, monkeypatch):
    """What an unreachable master raises (the Java error PySpark passes on), said in one
    line; the builder is stubbed, so that no test waits for a cluster that is not there."""
    from pyspark.sql import SparkSession

    java = ("An error occurred while calling None.org.apache.spark.sql.classic.SparkSession.\n"
            ": java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext."
            "\n\tat org.apache.spark.SparkContext.assertNotStopped(SparkContext.scala:128)\n")

    def refuse(self):
        raise RuntimeError(java)

    monkeypatch.setenv("CHAINSIGHT_SPARK_MASTER", "spark://127.0.0.1:9")
    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", refuse)
    with pytest.raises(RuntimeError) as err:
        sql.spark_session()
    assert str(err.value).startswith(
        "Spark did not start on spark://127.0.0.1:9: java.lang.IllegalStateException: Cannot "
        "call methods on a stopped SparkContext. Check that the address is right")
    assert "\tat org.apache" not in str(err.value) and err.value.__cause__ is None


def test_a_cluster_address_is_checked_before_spark_starts(monkeypatch):
    for key in ("CHAINSIGHT_SPARK_MASTER", "CHAINSIGHT_SPARK_REMOTE"):
        monkeypatch.setenv(key, "")  # so that the test's own settings are undone after it
        monkeypatch.delenv(key)
    with pytest.raises(ValueError, match="spark_master must be a Spark master URL"):
        sql.use_spark(master="http://cluster:8080")
    with pytest.raises(ValueError, match="spark_remote must be a Spark Connect URL"):
        sql.use_spark(remote="cluster:15002")
    with pytest.raises(ValueError, match="not both"):
        sql.use_spark("spark://a:7077", "sc://b:15002")
    sql.use_spark()  # empty: the environment (or local[*]) stays in charge
    assert "CHAINSIGHT_SPARK_MASTER" not in os.environ
    sql.use_spark(remote="sc://b:15002")
    assert os.environ["CHAINSIGHT_SPARK_REMOTE"] == "sc://b:15002"
    sql.use_spark(master="spark://a:7077")
    assert os.environ["CHAINSIGHT_SPARK_MASTER"] == "spark://a:7077"
    assert "CHAINSIGHT_SPARK_REMOTE" not in os.environ


def test_spark_stays_quiet_and_notebook_01_runs_on_it(both, quick_run, tmp_path):
    # Starting Spark writes nothing to the terminal (or a notebook's output).
    run = subprocess.run([sys.executable, "-c", "from chainsight import sql; "
                          "print(sql.query('SELECT 1 AS x', engine='spark')['x'][0])"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "1", run.stderr[-2000:]
    assert run.stderr == "", run.stderr[-2000:]
    # The spark parameter set's notebook 01 gives the profile of the quick run on DuckDB.
    from chainsight import cli, report

    assert report.load_params(ROOT / "reports/params/spark.yaml").parameters["size"] == "small"
    out = tmp_path / "spark"
    assert cli.main(["report", "--params", str(ROOT / "reports/params/spark.yaml"),
                     "--notebooks", "01", "--out", str(out)]) == 0
    spark_metrics = report.read_run(out)["01_customer_profiles"]["metrics"]
    duck_metrics = quick_run[1]["01_customer_profiles"]["metrics"]
    assert spark_metrics["run_profile"] == duck_metrics["run_profile"]
    assert spark_metrics["holdout_comparisons"] == duck_metrics["holdout_comparisons"]
