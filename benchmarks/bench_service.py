"""Personalised service (notebook 07): recommenders on the real Online Retail data
(about 4,300 customers x 3,700 products), and the coupon uplift model on 1 million
customers, as ratios within one run.

- Each recommender learned on the lines before 2011-09-01 and scoring every customer,
  against one pass that builds the customers x items matrix.
- The ranking metrics of every customer who bought in the 90 days after, against the
  same pass.
- The two-model uplift model with the profile (:func:`chainsight.service.uplift_model`)
  learned and scoring 1,000,000 campaign customers (own history, demographics and a
  segment drawn at random, a coupon effect that differs by segment), against a least-
  squares fit of the same outcome on the same inputs.
- The coupon-targeting comparison over seeds and coupon-response strengths, with the
  true personas as the segments (the best segments there can be), each with its placebo:
  the controls the closing notes quote.

    python benchmarks/bench_service.py
"""

from __future__ import annotations

import time

import numpy as np
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
    uplift(1_000_000)
    campaign_controls()


def campaign_controls(seeds=(42, 7), strengths=(1.0, 0.5, 0.0), start="2025-01-01") -> None:
    from chainsight import synthetic

    print(f"coupon targeting, default size, holdout campaigns from {start}, true personas:")
    for seed in seeds:
        for strength in strengths:
            d = synthetic.generate("default", seed=seed, effects={"coupon_response": strength})
            frame = service.campaign_frame(d.orders, d.campaigns, d.products, d.customers)
            personas = d.truth.customers[[S.CUSTOMER_ID, "persona"]].rename(
                columns={"persona": "segment"})
            for placebo in (False, True):
                r = service.campaign_comparison(frame, start, personas, seed=seed, n_boot=500,
                                                placebo=placebo)
                v = r["value"]
                print(f"  seed {seed}, coupon_response {strength:g}"
                      f"{', placebo' if placebo else ''}: {r['chosen']['blind']} against "
                      f"{r['chosen']['aware']}, {v.difference:+.2f} CNY per customer "
                      f"({v.lo:+.2f} to {v.hi:+.2f}): {v.verdict}")


def uplift(n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    segment = rng.integers(1, 7, n)
    coupon = rng.random(n) < 0.5
    frame = pd.DataFrame({
        S.CAMPAIGN_ID: "C1", S.CUSTOMER_ID: np.arange(n).astype(str), "coupon": coupon,
        "recency_days": rng.exponential(90, n), "orders_before": rng.poisson(3, n) + 1.0,
        "revenue_before": rng.lognormal(6, 1, n), "tenure_days": rng.uniform(30, 900, n),
        "order_value": rng.lognormal(5, 0.8, n), "discount_share": rng.beta(2, 5, n),
        S.AGE: rng.integers(18, 80, n).astype(float),
        S.GENDER: rng.choice(["F", "M"], n), S.INCOME_BAND: rng.choice(["low", "mid", "high"], n),
        S.CITY_TIER: rng.choice(["1", "new-1", "2", "3"], n)})
    effect = np.where(segment >= 4, 8.0, -3.0)  # the coupon pays in three segments of six
    frame["margin"] = rng.gamma(0.3, 50, n) + coupon * effect + rng.normal(0, 20, n)
    segments = pd.DataFrame({S.CUSTOMER_ID: frame[S.CUSTOMER_ID], "segment": segment})
    x = np.column_stack([frame[list(service.OWN_HISTORY)].to_numpy(float), coupon,
                         np.ones(n)])
    t_ls, _ = timed(lambda: np.linalg.lstsq(x, frame["margin"].to_numpy(), rcond=None))
    t_fit, predict = timed(lambda: service.uplift_model(frame, True, segments, seed=seed))
    t_score, u = timed(lambda: predict(frame))
    right = float(((u > 0) == (effect > 0)).mean())
    print(f"uplift model on {n:,} customers: learned {t_fit:.1f} s, scored {t_score:.1f} s "
          f"(x{(t_fit + t_score) / t_ls:.0f} a least-squares fit of the same inputs, "
          f"{t_ls:.2f} s); the coupon's sign right for {right:.1%} of them")


if __name__ == "__main__":
    main()
