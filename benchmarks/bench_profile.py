"""Customer profile speed, as ratios within one run.

1. Features for 10M order lines from Parquet: DuckDB (chainsight.profiling) against an
   idiomatic pandas group-by computing a subset of the same features.
2. BG/NBD fit on CDNOW: chainsight against lifetimes (when installed: `make bench`
   installs it), best of 5 runs each.
3. BG/NBD on 1M customers: summary from Parquet and fit, from the `large` synthetic base.
4. The whole profile (features, CLV, segments) on the default synthetic data, with the
   adjusted Rand index of the segments against the hidden personas.
5. The price of fitting the segments on a sample (what ``FIT_SAMPLE`` does above 50,000
   customers): on default, fits on samples of 2,000 to 10,000 customers, everyone then
   assigned, against the fit on all 20,000: time, the chosen k, agreement with the full
   fit's segments and with the hidden personas (adjusted Rand index), for each seed.

    python benchmarks/bench_profile.py [--lines 10000000] [--skip-large] [--seeds 42 43]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.metrics import adjusted_rand_score

from chainsight import clv, datasets, profiling
from chainsight import schema as S


def timed(fn, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def pandas_features(path: Path, products: pd.DataFrame) -> pd.DataFrame:
    """The idiomatic pandas way: read, derive, group by customer."""
    o = pd.read_parquet(path)
    o["revenue"] = o[S.QUANTITY] * o[S.UNIT_PRICE]
    o["day"] = o[S.TIMESTAMP].dt.normalize()
    o = o.merge(products[[S.PRODUCT_ID, S.CATEGORY]], on=S.PRODUCT_ID, how="left")
    as_of = o[S.TIMESTAMP].max()
    for mode in ("express", "standard", "economy", "pickup"):
        o[f"ship_{mode}"] = (o[S.SHIP_MODE] == mode).astype(float)
    o["discounted"] = (o[S.DISCOUNT] > 0).astype(float)
    g = o.groupby(S.CUSTOMER_ID)
    f = pd.DataFrame({
        "recency_days": (as_of - g[S.TIMESTAMP].max()).dt.days,
        "frequency": g[S.ORDER_ID].nunique(),
        "monetary": g["revenue"].sum(),
        "order_lines": g.size(),
        "purchase_days": g["day"].nunique(),
        "discount_share": g["discounted"].mean(),
        **{f"ship_{m}": g[f"ship_{m}"].mean() for m in ("express", "standard", "economy",
                                                          "pickup")},
    })
    f["avg_order_value"] = f["monetary"] / f["frequency"]
    cat = o.pivot_table(index=S.CUSTOMER_ID, columns=S.CATEGORY, values="revenue",
                        aggfunc="sum", fill_value=0)
    f = f.join(cat.div(cat.sum(axis=1), axis=0).add_prefix("cat_"))
    days = o[[S.CUSTOMER_ID, "day"]].drop_duplicates().sort_values([S.CUSTOMER_ID, "day"])
    gap = days.groupby(S.CUSTOMER_ID)["day"].diff().dt.days
    f["ipt_mean_days"] = gap.groupby(days[S.CUSTOMER_ID]).mean()
    return f


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43],
                    help="default data seeds for section 5 (fitting the segments on a sample)")
    args = ap.parse_args()

    if not args.skip_large:
        large = datasets.synthetic_dir("large", 42)
        if not (large / "_complete").exists():
            print("generating the large synthetic base (about a minute) ...")
            datasets.write_synthetic("large", 42, large)
        products = pd.read_parquet(large / "products.parquet")
        calendar = pd.read_parquet(large / "calendar.parquet")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "orders.parquet"
            table = pq.read_table(large / "orders.parquet").slice(0, args.lines)
            pq.write_table(table, path)
            n = table.num_rows
            del table
            t_duck, f = timed(lambda: profiling.customer_features(path, products=products,
                                                                  calendar=calendar))
            t_pd, _ = timed(lambda: pandas_features(path, products))
            print(f"1. features for {n:,} order lines ({len(f):,} customers) from Parquet: "
                  f"DuckDB {t_duck:.1f} s, pandas group-by {t_pd:.1f} s "
                  f"(pandas/DuckDB x{t_pd / t_duck:.1f}; DuckDB computes {f.shape[1]} columns)")
        t_sum, summary = timed(lambda: clv.rfm_summary(large / "orders.parquet"))
        t_fit, bg = timed(lambda: clv.fit_bgnbd(summary))
        print(f"3. BG/NBD on {len(summary):,} customers: summary from Parquet {t_sum:.1f} s, "
              f"fit {t_fit:.1f} s; {bg.report.message}")

    cd = clv.rfm_summary(datasets.load("cdnow").orders, "1997-09-30")
    t_ours, _ = timed(lambda: clv.fit_bgnbd(cd), repeat=5)
    try:
        from lifetimes import BetaGeoFitter

        t_lt, _ = timed(lambda: BetaGeoFitter().fit(cd["x"], cd["t_x"], cd["T"]), repeat=5)
        print(f"2. BG/NBD fit on CDNOW: chainsight {t_ours * 1e3:.0f} ms (4 starts), lifetimes "
              f"{t_lt * 1e3:.0f} ms (1 start): lifetimes/chainsight x{t_lt / t_ours:.2f}")
    except ImportError:
        print(f"2. BG/NBD fit on CDNOW: chainsight {t_ours * 1e3:.0f} ms (lifetimes not "
              "installed; `make bench` installs it)")

    ds = datasets.load("synthetic", "default", 42)
    t_prof, prof = timed(lambda: profiling.build_profile(ds))
    truth = datasets.load_truth("default", 42).customers
    persona = prof.customers[[S.CUSTOMER_ID]].merge(truth, on=S.CUSTOMER_ID)["persona"]
    ari = adjusted_rand_score(persona, prof.customers["segment"])
    print(f"4. whole profile on default ({len(prof.customers):,} customers, "
          f"{len(ds.orders):,} lines): {t_prof:.1f} s; k = {prof.segmentation.k}, "
          f"adjusted Rand index vs hidden personas {ari:.3f}")

    for seed in args.seeds:
        if seed != 42:
            prof = profiling.build_profile(datasets.load("synthetic", "default", seed), seed=seed)
            truth = datasets.load_truth("default", seed).customers
            persona = prof.customers[[S.CUSTOMER_ID]].merge(truth, on=S.CUSTOMER_ID)["persona"]
        cust = prof.customers
        t_all, full = timed(lambda cust=cust, seed=seed: profiling.segment_customers(
            cust, seed=seed))
        print(f"5. seed {seed}: segments of {len(cust):,} customers fitted on all: {t_all:.1f} s, "
              f"k = {full.k}, ARI vs personas {adjusted_rand_score(persona, full.labels):.3f}")
        for m in (2_000, 5_000, 10_000):
            t_m, seg = timed(lambda m=m, cust=cust, seed=seed: profiling.segment_customers(
                cust, seed=seed, fit_sample=m))
            print(f"   fitted on {m:,} ({m / len(cust):.0%}), all assigned: {t_m:.1f} s "
                  f"(x{t_m / t_all:.2f} of the full fit's time), k = {seg.k}, ARI vs full fit "
                  f"{adjusted_rand_score(full.labels, seg.labels):.3f}, vs personas "
                  f"{adjusted_rand_score(persona, seg.labels):.3f}")


if __name__ == "__main__":
    main()
