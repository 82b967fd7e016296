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
import papermill as pm
import pytest

from chainsight import clv, forecasting, profiling, sql

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
    """The small retailer's orders, in memory and as a Parquet file (read out of core;
    Spark reads time stamps in microseconds, not pandas' nanoseconds)."""
    _spark_or_skip()
    path = tmp_path_factory.mktemp("spark") / "orders.parquet"
    small.orders.to_parquet(path, index=False, coerce_timestamps="us",
                            allow_truncated_timestamps=True)
    return small, path


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


def test_spark_stays_quiet_and_notebook_01_runs_on_it(both, quick_run, tmp_path):
    # Starting Spark writes nothing to the terminal (or a notebook's output).
    run = subprocess.run([sys.executable, "-c", "from chainsight import sql; "
                          "print(sql.query('SELECT 1 AS x', engine='spark')['x'][0])"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "1", run.stderr[-2000:]
    assert run.stderr == "", run.stderr[-2000:]
    # Notebook 01 with engine: spark gives the profile of the quick run on DuckDB.
    out = pm.execute_notebook(str(ROOT / "notebooks" / "01_customer_profiles.ipynb"),
                              str(tmp_path / "01.ipynb"), kernel_name="python3",
                              parameters={"size": "small", "engine": "spark"},
                              cwd=str(ROOT / "notebooks"), progress_bar=False)
    from chainsight import report

    spark_metrics = report.read_metrics(out)
    duck_metrics = quick_run[1]["01_customer_profiles"]["metrics"]
    assert spark_metrics["run_profile"] == duck_metrics["run_profile"]
    assert spark_metrics["holdout_comparisons"] == duck_metrics["holdout_comparisons"]
