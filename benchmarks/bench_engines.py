"""DuckDB against Apache Spark on the same order lines, and the `large` profile against
`default`, as ratios within one run.

1. Customer features, the RFM summary and the weekly category panel from one Parquet file
   of about 15 million order lines (the synthetic retailer at 2.3 million customers,
   generated once into the data folder): DuckDB on one thread (the default) and on two,
   and Spark ``local[2]``. Spark's session start-up is timed on its own; each query is
   timed after one warm-up run (Spark compiles its plan on the first). Every result is
   checked equal between the engines before a time is printed.
2. A projection to a cluster, from the measured Spark throughput per core: the stated
   assumptions are printed with it.
3. The `large` profile (1,000,000 customers) end to end against `default`: time and peak
   memory per customer, each in its own process so that the peak is its own.

    python benchmarks/bench_engines.py [--customers 2300000] [--skip-spark]
                                       [--skip-engines] [--skip-profile]

Spark needs ``make spark`` and Java 17 or later.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from chainsight import clv, datasets, forecasting, profiling, sql
from chainsight import schema as S

PROFILE = r"""
import json, resource, sys, time
import pandas as pd
from chainsight import datasets, profiling, readiness
size = sys.argv[1]
ds = datasets.load("synthetic", size=size, seed=42)
t0 = time.perf_counter()
start = readiness.holdout_start(ds.orders, "", weeks=profiling.PROFILE_WEEKS).start
prof = profiling.build_profile(ds, as_of=start - pd.Timedelta(seconds=1))
print(json.dumps({"seconds": time.perf_counter() - t0, "customers": len(prof.customers),
                  "lines": len(ds.orders), "k": prof.segmentation.k,
                  "fitted_on": prof.segmentation.fitted_on,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}))
"""


def timed(fn, warm: bool = False):
    if warm:
        fn()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Equal frames to 1e-9 relative (the equality tests' standard)."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if a[col].dtype.kind == "f":
            if not np.allclose(x, y, rtol=1e-9, atol=0, equal_nan=True):
                return False
        elif not (pd.Series(x).astype(str) == pd.Series(y).astype(str)).all():
            return False
    return True


def engines(customers: int, skip_spark: bool) -> None:
    folder = datasets.synthetic_dir(customers, 42)
    if not (folder / "_complete").exists():
        print(f"generating {customers:,} customers once (about {customers / 30_000:.0f} s) ...")
        datasets.write_synthetic(customers, 42, folder)
    path = str(folder / "orders.parquet")
    lines = pq.ParquetFile(path).metadata.num_rows
    products = pd.read_parquet(folder / "products.parquet")
    calendar = pd.read_parquet(folder / "calendar.parquet")
    people = pd.read_parquet(folder / "customers.parquet")
    as_of = pd.Timestamp("2025-12-31 23:59:59")
    jobs = {
        "customer features": lambda e: profiling.customer_features(
            path, people, products, calendar, as_of=as_of, engine=e),
        "RFM summary": lambda e: clv.rfm_summary(path, as_of, engine=e),
        "weekly category panel": lambda e: forecasting.demand_panel(
            path, [S.CATEGORY], products=products, engine=e),
    }
    print(f"1. {lines:,} order lines of {customers:,} customers, one Parquet file "
          f"({os.path.getsize(path) / 1e6:,.0f} MB)")
    results: dict[str, dict[str, tuple[float, pd.DataFrame]]] = {name: {} for name in jobs}
    for threads in ("1", "2"):
        os.environ["CHAINSIGHT_SQL_THREADS"] = threads
        for name, job in jobs.items():
            results[name][f"DuckDB, {threads} thread(s)"] = timed(lambda job=job: job("duckdb"))
    os.environ["CHAINSIGHT_SQL_THREADS"] = "1"
    spark_start = None
    if not skip_spark:
        os.environ["CHAINSIGHT_SPARK_MASTER"] = "local[2]"
        spark_start, _ = timed(sql.spark_session)
        for name, job in jobs.items():
            results[name]["Spark local[2]"] = timed(lambda job=job: job("spark"), warm=True)
    base = "DuckDB, 1 thread(s)"
    for name, runs in results.items():
        ref = runs[base][1]
        print(f"   {name} ({len(ref):,} rows back):")
        for engine, (seconds, frame) in runs.items():
            ok = "equal" if same(ref, frame) else "NOT EQUAL to DuckDB's"
            print(f"     {engine:22s} {seconds:7.1f} s  x{seconds / runs[base][0]:5.2f} of "
                  f"DuckDB on one thread; {lines / seconds / 1e6:5.2f} M lines/s; {ok}")
    if spark_start is None:
        return
    print(f"   Spark session start-up (JVM, local[2]): {spark_start:.1f} s, paid once per "
          "notebook kernel")
    spark_s = results["customer features"]["Spark local[2]"][0]
    per_core = lines / spark_s / 2
    print("2. Projection to a cluster, for customer features (assumptions: the scan and "
          "the per-customer aggregation split evenly over cores, as Spark's stages do for "
          "a Parquet file cut into row groups; each executor core as fast as one here; "
          "the shuffle of the aggregated rows and the driver's collect of one row per "
          "customer not counted, and 10 s of scheduling added):")
    for total, cores in ((500_000_000, 32), (500_000_000, 128), (5_000_000_000, 128)):
        print(f"   {total / 1e6:,.0f} M lines on {cores} cores: about "
              f"{total / (per_core * cores) + 10:,.0f} s (measured {per_core / 1e6:.2f} M "
              "lines/s per core)")


def profiles() -> None:
    rows = {}
    for size in ("default", "large"):
        datasets.load("synthetic", size=size, seed=42)  # generate outside the timing
        run = subprocess.run([sys.executable, "-c", PROFILE, size], capture_output=True,
                             text=True, check=True)
        rows[size] = json.loads(run.stdout.strip().splitlines()[-1])
    d, g = rows["default"], rows["large"]
    for size, r in rows.items():
        print(f"3. {size} profile (features, CLV, segments: k = {r['k']}, fitted on "
              f"{r['fitted_on']:,}): {r['seconds']:.1f} s for {r['customers']:,} customers "
              f"({r['lines']:,} lines), process peak {r['peak_gb']:.2f} GB (data included)")
    per = [r["seconds"] / r["customers"] for r in (d, g)]
    mem = [r["peak_gb"] / r["customers"] for r in (d, g)]
    print(f"   large/default per customer: time x{per[1] / per[0]:.2f}, peak memory "
          f"x{mem[1] / mem[0]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=2_300_000)
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--skip-engines", action="store_true")
    ap.add_argument("--skip-profile", action="store_true")
    args = ap.parse_args()
    if not args.skip_engines:
        engines(args.customers, args.skip_spark)
    if not args.skip_profile:
        profiles()


if __name__ == "__main__":
    main()
