"""Risk (notebook 06): the heavy paths on the default synthetic data, as ratios
within one run.

- Quality charts for every product, profile-blind and from every product x segment's
  lines (profile-aware), against one pass over the order lines.
- Key-customer early warning (two value-model fits, the rules tuned and scored),
  against the RFM summary it starts from; and the scoring alone for 1,000,000 key
  customers, against one vectorised pass over them.
- 1,000 outage scenarios to choose on and 1,000 to judge on, with 14 candidate backups, against
  one time-to-survive programme.

    python benchmarks/bench_risk.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from chainsight import clv, datasets, profiling, risk
from chainsight import schema as S


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def main(seed: int = 42) -> None:
    ds = datasets.load("synthetic", size="default", seed=seed)
    start = pd.Timestamp("2025-01-01")
    o = ds.orders
    t_pass, _ = timed(lambda: o.groupby(S.PRODUCT_ID)["returned"].mean())
    prof, _ = profiling.decision_profile(ds, start - pd.Timedelta(seconds=1), seed=seed)
    seg = prof.segments_for(ds.tables["customers"])
    until = start + pd.Timedelta(weeks=26)
    products = ds.tables["products"]
    t_prod, a = timed(lambda: risk.quality_monitors(o, products, None, start, until))
    t_seg, b = timed(lambda: risk.quality_monitors(o, products, seg, start, until))
    print(f"quality charts, 26 weeks watched: one pass over {len(o):,} lines {t_pass:.3f} s; "
          f"per product {t_prod:.2f} s (x{t_prod / t_pass:.0f}, {len(a)} alarms); per "
          f"product from its buyers' segments {t_seg:.2f} s (x{t_seg / t_pass:.0f}, "
          f"{len(b)} alarms)")
    t_rfm, summary = timed(lambda: clv.rfm_summary(o[o[S.TIMESTAMP] < start],
                                                   calibration_end=start))
    t_ew, ew = timed(lambda: risk.early_warning_comparison(o, start, horizon_days=180))
    print(f"early warning for the top 20% of {len(summary):,} customers: RFM summary "
          f"{t_rfm:.2f} s; tuned and scored {t_ew:.2f} s (x{t_ew / t_rfm:.0f})")
    fit = clv.fit_value_models(summary, seed=seed)
    value = clv.customer_value(fit, summary).set_index(S.CUSTOMER_ID)["clv"]
    scoring_at_scale(summary, fit, value)
    net = risk.outage_network(o, ds.tables["customers"], ds.tables["sites"], value, start)
    t_lp, _ = timed(lambda: risk.time_to_survive(net["demand"], net["capacity"],
                                                 net["inventory"], net["can_serve"], [0]))
    choose = risk.outage_scenarios(len(net["nodes"]), 1000, 0.05, 30.0, seed=seed)
    judge = risk.outage_scenarios(len(net["nodes"]), 1000, 0.05, 30.0, seed=seed + 1)
    t_mc, r = timed(lambda: risk.mitigation_comparison(net, choose, judge))
    print(f"stress test, 2 x 1,000 scenarios x {len(net['backups']['nodes'])} backups: one "
          f"time-to-survive programme {t_lp * 1e3:.1f} ms; all {t_mc:.2f} s "
          f"(x{t_mc / t_lp:.0f}); chosen {r['chosen']}")


def scoring_at_scale(summary: pd.DataFrame, fit, value: pd.Series, n: int = 1_000_000
                     ) -> None:
    """Every alert rule and every equal-cost ranking scored for ``n`` key customers (the
    default data's customers resampled; the value models already fitted), against one
    vectorised pass that computes their days without a purchase."""
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(summary), n)
    frame = summary.iloc[pick].reset_index(drop=True).assign(
        clv=value.reindex(summary[S.CUSTOMER_ID]).to_numpy()[pick],
        lapsed=rng.random(n) < 0.5)
    t_pass, _ = timed(lambda: (frame[clv.T_] - frame[clv.TX]) * 7)

    def score_all():
        f = frame.assign(quiet_days=(frame[clv.T_] - frame[clv.TX]) * 7,
                         mean_gap_days=np.where(frame[clv.X] > 0, frame[clv.TX] * 7
                                                / frame[clv.X].clip(lower=1), np.nan))
        f = risk._with_alive_rule(f, fit)
        rules = ([("quiet days", d) for d in risk.QUIET_DAYS]
                 + [("own gap", k) for k in risk.GAPS_OVER]
                 + [("P(alive)", a) for a in risk.ALIVE_BELOW])
        for rule in rules:
            risk._score(f, risk._delays(f, *rule), 20.0, 0.2)
        for ranking in risk.RANKINGS:
            for q in risk.BUDGETS:
                risk._contact_top(f, ranking, q, 0.2)

    t_all, _ = timed(score_all)
    n_rules = len(risk.QUIET_DAYS) + len(risk.GAPS_OVER) + len(risk.ALIVE_BELOW)
    print(f"early-warning scoring of {n:,} key customers, {n_rules} rules and "
          f"{len(risk.RANKINGS)} rankings x {len(risk.BUDGETS)} budgets: one pass "
          f"{t_pass:.3f} s; all {t_all:.2f} s (x{t_all / t_pass:.0f})")


if __name__ == "__main__":
    main()
