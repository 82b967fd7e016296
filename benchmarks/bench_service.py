"""Personalised service (notebook 07 to come): recommenders on the real Online Retail data
(about 4,300 customers x 3,700 products), as ratios within one run.

- Each recommender learned on the lines before 2011-09-01 and scoring every customer,
  against one pass that builds the customers x items matrix.
- The ranking metrics of every customer who bought in the 90 days after, against the
  same pass.

    python benchmarks/bench_service.py
"""

from __future__ import annotations

import time

import pandas as pd

from chainsight import datasets, service
from chainsight import schema as S


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def main() -> None:
    o = datasets.load("online_retail").orders
    start = pd.Timestamp("2011-09-01")
    before = o[o[S.TIMESTAMP] < start]
    after = o[(o[S.TIMESTAMP] >= start) & (o[S.TIMESTAMP] < start + pd.Timedelta(days=90))]
    customers = pd.Index(sorted(before[S.CUSTOMER_ID].unique()))
    items = pd.Index(sorted(before[S.PRODUCT_ID].unique()))
    t_pass, _ = timed(lambda: service._matrix(before, customers, items))
    print(f"{len(customers):,} customers x {len(items):,} items: the matrix {t_pass:.3f} s")
    for method in service.RECOMMENDERS:
        t, (rec, _) = timed(lambda m=method: service.recommend(before, m, customers, None,
                                                               10, 0, items))
        print(f"  {method}: learned and scored {t:.2f} s (x{t / t_pass:.0f})")
    judged = pd.Index(sorted(after[S.CUSTOMER_ID].unique()))
    relevant = service._matrix(after, judged, items) > 0
    rec, _ = service.recommend(before, "best-sellers", judged, None, 10, 0, items)
    t_eval, m = timed(lambda: service.ranking_metrics(rec, relevant, 10))
    print(f"ranking metrics of {len(judged):,} customers: {t_eval:.3f} s "
          f"(x{t_eval / t_pass:.1f} the matrix)")


if __name__ == "__main__":
    main()
