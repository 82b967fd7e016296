"""Backtest speed: 1,000 weekly SKU series, three models, four origins.

The series are segment x SKU demand from the default synthetic retailer (157 weeks).
The baseline in the same run is statsforecast's seasonal AutoETS (season 52) on a
sample of the same series, scaled to 1,000 series: the model one would reach for
first, and the reason the workbook's models are what they are.

    python benchmarks/bench_forecast.py [--series 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from chainsight import datasets, forecasting, profiling
from chainsight import schema as S


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=20, help="series for the seasonal ETS baseline")
    args = ap.parse_args()
    ds = datasets.load("synthetic", "default", 42)
    prof = profiling.build_profile(ds)
    panel = forecasting.demand_panel(ds.orders, ["segment", S.PRODUCT_ID],
                                     customers=prof.customers[[S.CUSTOMER_ID, "segment"]])
    ids = np.sort(panel["unique_id"].unique())[: args.series]
    panel = panel[panel["unique_id"].isin(ids)]
    origins = forecasting.default_origins(panel, 8)
    zero_share = (panel["y"] == 0).mean()
    print(f"{len(ids):,} series x {panel['ds'].nunique()} weeks ({zero_share:.0%} zero weeks), "
          f"4 origins, horizon 8")
    # The global gradient-boosting model is for the segment x category panels (tens of
    # series); at SKU level the workbook splits those forecasts down by shares.
    total = 0.0
    for model in ("naive", "ets", "tsb"):
        t0 = time.perf_counter()
        bt = forecasting.backtest(panel, [model], origins, h=8)
        dt = time.perf_counter() - t0
        total += dt
        acc = forecasting.accuracy(bt).iloc[0]
        print(f"  {model:>5}: {dt:6.1f} s   WAPE {acc['wape']:.1%}")
    print(f"three models (naive, ETS, TSB), 4 origins: {total:.1f} s")

    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    sample = panel[panel["unique_id"].isin(ids[: args.sample])]
    t0 = time.perf_counter()
    for origin in origins:
        train = sample[sample["ds"] <= origin][["unique_id", "ds", "y"]]
        StatsForecast(models=[AutoETS(season_length=52)], freq="W-MON", n_jobs=1).forecast(
            df=train, h=8)
    per_series = (time.perf_counter() - t0) / args.sample
    scaled = per_series * len(ids)
    print(f"baseline: seasonal AutoETS(52), 4 origins, {args.sample} series measured: "
          f"{scaled:.0f} s scaled to {len(ids):,} series; three-model backtest is "
          f"x{scaled / total:.1f} faster")


if __name__ == "__main__":
    main()
