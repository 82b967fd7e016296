"""Supply-chain risk (供应链风险管理): whose demand the business cannot afford to lose.

- **Concentration.** :func:`hhi` and :func:`pareto` measure how concentrated revenue (or
  CLV) is over customers, segments, cities, products or suppliers; :func:`concentration`
  gives one row per dimension of the order lines.
- **Key customers lapsing.** :func:`early_warning_comparison`: alert rules and rankings
  from each customer's own history against the same with P(alive), judged in money on
  who bought again, at free thresholds and at equal cost, with a placebo.
- **Drift.** :func:`share_drift`: CUSUMs on each group's category shares, thresholds
  simulated (:func:`drift_threshold`) for a number of false alarms a year.
- **Quality.** :func:`quality_monitors`: daily binomial charts per product, at its own
  rate or at its buyers' segments' rates; :func:`quality_comparison` judges them on
  injected incidents. :func:`return_alarms` and :func:`p_chart` are the weekly charts.
- **Stress test.** :func:`time_to_survive` (the TTS linear programme),
  :func:`segment_exposure` (what a site, supplier or region down costs per segment),
  :func:`outage_scenarios` / :func:`named_outages` and :func:`outage_losses` (years of
  outages), and :func:`mitigation_comparison` (a backup site, or none, chosen in money).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from chainsight import schema as S


def _amounts(values, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError(f"{name}: no values to measure")
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        raise ValueError(f"{name}: {int(bad.sum())} values are negative or not finite; "
                         "concentration is measured on amounts of 0 or more")
    if v.sum() <= 0:
        raise ValueError(f"{name}: the values add up to 0; there is nothing to share out")
    return v


def hhi(values) -> float:
    """The Herfindahl-Hirschman index: the sum of the squared shares, from 1/n (n equal
    holders) to 1 (one holder has everything). Competition authorities quote it times
    10,000."""
    v = _amounts(values, "hhi")
    share = v / v.sum()
    return float(share @ share)


def pareto(values) -> pd.DataFrame:
    """The Pareto (Lorenz-type) curve: holders from the largest down, with the share of
    holders so far and the share of the total they hold."""
    v = np.sort(_amounts(values, "pareto"))[::-1]
    return pd.DataFrame({"holders_share": np.arange(1, v.size + 1) / v.size,
                         "value_share": np.cumsum(v) / v.sum()})


def top_share(values, fraction: float) -> float:
    """The share of the total held by the top ``fraction`` of holders: the
    ceil(fraction x n) largest, at least one."""
    if not 0 < fraction <= 1:
        raise ValueError(f"top_share: fraction must lie in (0, 1], got {fraction}")
    v = np.sort(_amounts(values, "top_share"))[::-1]
    k = max(1, int(np.ceil(fraction * v.size - 1e-9)))
    return float(v[:k].sum() / v.sum())


def concentration(orders: pd.DataFrame, dimensions: dict[str, pd.Series]) -> pd.DataFrame:
    """Revenue concentration of the order lines along each of ``dimensions`` (name ->
    the holder of each order line, aligned to ``orders``; lines whose holder is missing
    are counted apart, in ``revenue_without``). One row per dimension: holders, HHI, the
    equivalent number of equal holders (1/HHI), the share of the top 1%, 5% and 20% of
    holders and of the largest one, and which holder that is."""
    S.require_columns(orders, "orders", [S.QUANTITY, S.UNIT_PRICE])
    revenue = orders[S.QUANTITY].astype(float) * orders[S.UNIT_PRICE].astype(float)
    rows = []
    for name, holder in dimensions.items():
        holder = pd.Series(holder)
        if len(holder) != len(orders):
            raise ValueError(f"concentration: '{name}' gives {len(holder)} holders for "
                             f"{len(orders)} order lines")
        holder = pd.Series(holder.to_numpy(), index=orders.index)
        known = holder.notna()
        per = revenue[known].groupby(holder[known]).sum()
        per = per[per > 0]
        if per.empty:
            raise ValueError(f"concentration: no revenue with a known '{name}'")
        h = hhi(per)
        rows.append({"dimension": name, "holders": int(len(per)), "hhi": h,
                     "equivalent_holders": 1 / h, "top_1pct": top_share(per, 0.01),
                     "top_5pct": top_share(per, 0.05), "top_20pct": top_share(per, 0.20),
                     "largest": str(per.idxmax()), "largest_share": float(per.max() / per.sum()),
                     "revenue_without": float(revenue[~known].sum())})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Key customers: who is lapsing, and how early a monitor says so
# ---------------------------------------------------------------------------
# The blind rule's grid: days without a purchase (0: contact every key customer;
# infinite: contact nobody). The aware side may use these too.
QUIET_DAYS = (0, 7, 14, 21, 30, 60, 90, 120, 180, 270, 365, np.inf)
ALIVE_BELOW = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # P(alive) thresholds
GAPS_OVER = (1.5, 2.0, 3.0, 4.0, 6.0)  # multiples of the customer's own mean gap


def _key_customers(orders: pd.DataFrame, cut, horizon_days: int, top: float,
                   seed: int, margin: float = 1.0) -> pd.DataFrame:
    """The customers worth most at ``cut`` (the ``top`` share by CLV, from the value
    models fitted on the orders before ``cut``), with their history as of the day before
    and whether they bought again in the ``horizon_days`` after it (``lapsed``: not)."""
    from chainsight import clv

    cut = pd.Timestamp(cut)
    cal_end = cut - pd.Timedelta(days=1)
    summary = clv.rfm_summary(orders, calibration_end=cal_end,
                              holdout_end=cut + pd.Timedelta(days=horizon_days - 1))
    fit = clv.fit_value_models(summary, seed=seed)
    value = clv.customer_value(fit, summary, margin=margin)
    frame = summary.assign(clv=value["clv"].to_numpy(), p_alive=value["p_alive"].to_numpy())
    frame = frame[frame[clv.T_] > 0]
    keep = frame["clv"].rank(ascending=False, method="first") <= max(1, round(top * len(frame)))
    frame = frame[keep].copy()
    frame["quiet_days"] = np.round((frame[clv.T_] - frame[clv.TX]) * 7)  # whole days
    frame["mean_gap_days"] = np.where(frame[clv.X] > 0,
                                      frame[clv.TX] * 7 / frame[clv.X].clip(lower=1), np.nan)
    frame["lapsed"] = frame["x_holdout"] == 0
    return _with_alive_rule(frame, fit)


def _with_alive_rule(frame: pd.DataFrame, fit) -> pd.DataFrame:
    """Attach the P(alive) rule: ``attrs["alive_after"](p)`` gives the days after each
    customer's last purchase at which P(alive) falls below p (in closed form,
    :func:`chainsight.clv.weeks_until_lapse_likely`); None when the purchases are not
    from a BG/NBD fit."""
    from chainsight import clv

    x, tx = frame[clv.X].to_numpy(float), frame[clv.TX].to_numpy(float)
    frame["p_alive"] = fit.p_alive(x, tx, frame[clv.T_].to_numpy(float))
    frame.attrs["alive_after"] = (
        (lambda p: 7 * clv.weeks_until_lapse_likely(fit.bgnbd, x, tx, p))
        if fit.purchases == "bgnbd" else None)
    frame.attrs["fit"] = fit.purchases
    return frame


def _delays(frame: pd.DataFrame, rule: str, param: float) -> np.ndarray:
    """Days after each customer's last purchase at which ``rule`` raises its alert
    (infinite: never). A customer with one purchase has no gap of their own: the own-gap
    rule uses the median gap of the key customers who have one."""
    if rule == "quiet days":
        return np.full(len(frame), float(param))
    if rule == "own gap":
        gap = frame["mean_gap_days"]
        return (param * gap.fillna(gap.median())).fillna(np.inf).to_numpy(float)
    return frame.attrs["alive_after"](param)


def _score(frame: pd.DataFrame, delay: np.ndarray, contact_cost: float,
           save_rate: float) -> dict:
    """Who a rule flags at the cut (its alert has fired by then), and the money: each
    flag costs ``contact_cost``; a flagged customer who would have lapsed is kept with
    probability ``save_rate``, worth their CLV."""
    flagged = delay <= frame["quiet_days"].to_numpy(float)
    lapsed = frame["lapsed"].to_numpy(bool)
    value = flagged * (save_rate * lapsed * frame["clv"].to_numpy(float) - contact_cost)
    hits = flagged & lapsed
    return {"flagged": int(flagged.sum()), "lapsed": int(lapsed.sum()),
            "precision": hits.sum() / flagged.sum() if flagged.any() else np.nan,
            "recall": hits.sum() / lapsed.sum() if lapsed.any() else np.nan,
            "clv_flagged_correctly": float(frame["clv"].to_numpy(float)[hits].sum()),
            "median_delay_days": float(np.median(delay[hits])) if hits.any() else np.nan,
            "net_value": float(value.sum()), "per_customer": value}


def _shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The key customers with the profile's score, P(alive) (and its rule), shuffled
    among them: the placebo, in which the profile knows nothing."""
    perm = np.random.default_rng(seed).permutation(len(frame))
    out = frame.assign(p_alive=frame["p_alive"].to_numpy()[perm])
    alive = frame.attrs["alive_after"]
    out.attrs = {**frame.attrs,
                 "alive_after": None if alive is None else (lambda p: alive(p)[perm])}
    return out


BUDGETS = (0.05, 0.1, 0.2, 0.3, 0.5)  # shares of the key customers contacted
ALIVE_RANKING = "P(alive), lowest first"  # the profile's; the others use a customer's own
RANKINGS = {  # history. Most urgent first; ties go to the higher CLV.
    "days quiet": lambda f: f["quiet_days"].to_numpy(float),
    "days quiet over own gap": lambda f: (f["quiet_days"] / f["mean_gap_days"].fillna(
        f["mean_gap_days"].median())).to_numpy(float),
    ALIVE_RANKING: lambda f: -f["p_alive"].to_numpy(float),
}


def _contact_top(frame: pd.DataFrame, ranking: str, share: float, save_rate: float
                 ) -> np.ndarray:
    """Per key customer, the value kept by contacting the ``share`` most urgent by
    ``ranking``: a contacted customer who would have lapsed is kept with probability
    ``save_rate``, worth their CLV (the contacts' cost, the same number on both sides,
    is left out)."""
    urgency = RANKINGS[ranking](frame)
    order = np.lexsort((-frame["clv"].to_numpy(float), -np.nan_to_num(urgency, nan=-np.inf)))
    picked = np.zeros(len(frame), bool)
    picked[order[:round(share * len(frame))]] = True
    return picked * save_rate * frame["lapsed"].to_numpy(bool) * frame["clv"].to_numpy(float)


def early_warning_comparison(orders: pd.DataFrame, start, horizon_days: int = 180,
                             top: float = 0.2, contact_cost: float = 20.0,
                             save_rate: float = 0.2, margin: float = 1.0,
                             n_boot: int = 2000, seed: int = 0, placebo: bool = False
                             ) -> dict:
    """Alerts on the valuable customers who are lapsing, set before ``start`` and judged
    on whether each bought again in the ``horizon_days`` after it.

    The valuable customers are the ``top`` share by CLV at ``start`` (the same for both
    sides). A rule raises its alert a number of days after a customer's last purchase;
    it has flagged the customer at ``start`` when that many days have passed. Each flag
    costs ``contact_cost``; a flagged customer who would have lapsed is kept with
    probability ``save_rate`` and is worth their CLV in margin (``margin``: the share of
    revenue that is margin): one money objective, net value.

    - **Profile-blind**: the rules a planner builds from each customer's own history:
      no purchase for D days (:data:`QUIET_DAYS`; 0: everyone, infinite: nobody), or for
      k times the customer's own mean gap (:data:`GAPS_OVER`; for a customer with one
      purchase, the median gap of the key customers who have one), the one with the
      most net value on the decision ``horizon_days`` before ``start`` (learned before
      it). The fixed 90-day rule is shown beside it.
    - **Profile-aware**: the same choice over those rules and the profile's: P(alive)
      from the BG/NBD, fitted on all customers, below a threshold (:data:`ALIVE_BELOW`).
      The BG/NBD keeps a customer with no repeat purchase alive, so that rule never
      flags one, though such customers lapse more often than the others.

    Free thresholds let either side contact everyone when a contact is cheap against a
    kept customer's value, so the two are also compared at equal cost: for each share of
    the key customers in :data:`BUDGETS`, contact that many, the most urgent first, each
    side by the ranking of :data:`RANKINGS` open to it (blind: days quiet, or days quiet
    over the own gap; aware: also P(alive)) that did best on the earlier decision. The
    contacts cost the same on both sides, so the paired difference is of the CLV kept.

    Returns per rule: flagged, lapsed, precision, recall, the CLV of the customers
    flagged correctly, the median days from the last purchase to the alert among them,
    and net value; the choices; the paired difference of net value per customer
    (:class:`chainsight.compare.Paired`, higher is better); the rankings and the
    ``frontier``, one paired comparison per budget (net values, and the difference in
    CLV kept). ``placebo``: P(alive) shuffled among the key customers, and the aware
    side held to ranking by it: the negative control, in which the profile must not
    win. It needs a BG/NBD fit."""
    from chainsight import compare

    start = pd.Timestamp(start)
    if not (0 < top <= 1 and horizon_days > 0 and contact_cost >= 0 and 0 <= save_rate <= 1):
        raise ValueError("early_warning_comparison: top must lie in (0, 1], horizon_days be "
                         "positive, contact_cost not negative and save_rate in [0, 1]")
    last = orders[S.TIMESTAMP].max()
    if start + pd.Timedelta(days=horizon_days) > last + pd.Timedelta(days=1):
        raise ValueError(f"early_warning_comparison: the data ends {last:%Y-%m-%d}, before "
                         f"{start:%Y-%m-%d} + {horizon_days} days; a shorter horizon_days or "
                         "an earlier start is needed to see who lapsed")
    vcut = start - pd.Timedelta(days=horizon_days)
    before = orders[orders[S.TIMESTAMP] < start]
    if before[S.TIMESTAMP].min() > vcut - pd.Timedelta(weeks=13):
        raise ValueError(f"early_warning_comparison: the data begins "
                         f"{before[S.TIMESTAMP].min():%Y-%m-%d}; tuning the rules needs "
                         f"{horizon_days} days and 13 weeks before {start:%Y-%m-%d}")
    if not 0 < margin <= 1:
        raise ValueError(f"early_warning_comparison: margin must lie in (0, 1], got {margin}")
    check = _key_customers(before, vcut, horizon_days, top, seed, margin)
    now = _key_customers(orders, start, horizon_days, top, seed, margin)
    alive = check.attrs["fit"] == "bgnbd" and now.attrs["fit"] == "bgnbd"
    if placebo and not alive:
        raise ValueError("early_warning_comparison: the placebo shuffles P(alive), which only "
                         "a BG/NBD fit gives; here the fit fell back")
    if placebo:
        check, now = _shuffled(check, seed), _shuffled(now, seed + 1)

    def best(candidates):
        scored = {c: _score(check, _delays(check, *c), contact_cost, save_rate)["net_value"]
                  for c in candidates}
        return max(scored, key=scored.get)

    own = [("quiet days", d) for d in QUIET_DAYS] + [("own gap", k) for k in GAPS_OVER]
    profile = [("P(alive)", a) for a in ALIVE_BELOW] if alive else []
    blind = best(own)
    aware = best(own + profile)
    rules = {"no purchase for 90 days": ("quiet days", 90), "profile-blind": blind,
             "profile-aware": aware}
    scores = {name: _score(now, _delays(now, *rule), contact_cost, save_rate)
              for name, rule in rules.items()}
    table = pd.DataFrame({name: {k: v for k, v in s.items() if k != "per_customer"}
                          for name, s in scores.items()}).T
    table.insert(0, "rule", [f"{r} {p:g}" for r, p in rules.values()])
    paired = compare.paired(scores["profile-blind"]["per_customer"],
                            scores["profile-aware"]["per_customer"],
                            metric="net value of the alerts per key customer",
                            unit="customer", lower_is_better=False, n_boot=n_boot, seed=seed)
    # At equal cost: the same number of contacts, the most urgent by each side's ranking.
    tuned = {r: sum(_contact_top(check, r, q, save_rate).sum() for q in BUDGETS)
             for r in RANKINGS if alive or r != ALIVE_RANKING}
    blind_tuned = {r: v for r, v in tuned.items() if r != ALIVE_RANKING}
    ranked = {"blind": max(blind_tuned, key=blind_tuned.get),
              "aware": ALIVE_RANKING if placebo else max(tuned, key=tuned.get)}
    rows = []
    for q in BUDGETS:
        b, a = (_contact_top(now, ranked[side], q, save_rate) for side in ("blind", "aware"))
        p = compare.paired(b, a, metric=f"CLV kept per key customer, {q:.0%} contacted",
                           unit="customer", lower_is_better=False, n_boot=n_boot, seed=seed)
        cost = contact_cost * round(q * len(now)) / len(now)
        rows.append({"contacted": q, "contacts": round(q * len(now)), "blind": p.blind - cost,
                     "aware": p.aware - cost, "difference": p.difference, "lo": p.lo,
                     "hi": p.hi, "verdict": p.verdict, "paired": p})
    return {"rules": table, "chosen": {"blind": blind, "aware": aware},
            "customers": len(now), "value": paired, "fit": now.attrs["fit"],
            "ranked": ranked, "frontier": pd.DataFrame(rows)}


# ---------------------------------------------------------------------------
# Change detection: CUSUM on a series, p-charts on rates
# ---------------------------------------------------------------------------
def cusum(values, baseline: int, k: float = 0.5, h: float = 5.0, side: str = "up"
          ) -> np.ndarray:
    """Positions of the alarms of a one-sided tabular CUSUM (Page 1954) on ``values``,
    standardised by the mean and standard deviation of its first ``baseline`` points:
    S_t = max(0, S_{t-1} + z_t - k) (``side="down"``: on -z), an alarm when S_t > h, and
    S restarts at 0 after each alarm. k = 0.5 and h = 5 give about one false alarm in
    465 points on a stable normal series of known mean and spread, and find a shift of one
    standard deviation in about 10; a baseline estimated from 26 points raises several
    times more (on pure noise, about 0.4 a year for both sides together)."""
    x = np.asarray(values, dtype=float)
    if side not in ("up", "down"):
        raise ValueError(f"cusum: side must be 'up' or 'down', got {side!r}")
    if baseline < 8 or len(x) <= baseline:
        raise ValueError(f"cusum: a baseline of {baseline} points from a series of {len(x)} "
                         "leaves too little: at least 8 points to learn from and one to watch")
    if not np.isfinite(x).all():
        raise ValueError(f"cusum: {int((~np.isfinite(x)).sum())} values are missing or not "
                         "finite")
    mu, sd = x[:baseline].mean(), x[:baseline].std(ddof=1)
    if sd == 0:
        raise ValueError("cusum: the baseline does not vary, so there is no scale to "
                         "measure a change against")
    z = (x - mu) / sd * (1 if side == "up" else -1)
    s, alarms = 0.0, []
    for i in range(baseline, len(x)):
        s = max(0.0, s + z[i] - k)
        if s > h:
            alarms.append(i)
            s = 0.0
    return np.array(alarms, dtype=int)


def p_chart(events, totals, baseline: int, alpha: float = 0.00135) -> pd.DataFrame:
    """A p-chart on the rate ``events / totals`` per period, with exact binomial limits:
    the centre line p is the rate of the first ``baseline`` periods (at least half an
    event, so that a clean baseline still has a limit); a later period with e events in
    n is an alarm when P(X >= e | n, p) < ``alpha`` (0.00135: the upper 3-sigma tail,
    which the normal approximation misses when n is small). Returns per period after the
    baseline: events, totals, rate, the smallest count that would alarm, and alarm."""
    e, n = np.asarray(events, dtype=float), np.asarray(totals, dtype=float)
    if e.shape != n.shape or (e < 0).any() or (e > n).any():
        raise ValueError("p_chart: events and totals must align, with 0 <= events <= totals")
    if baseline < 4 or len(n) <= baseline or n[:baseline].sum() <= 0:
        raise ValueError(f"p_chart: a baseline of {baseline} periods from {len(n)} leaves "
                         "too little (at least 4 periods with some volume, and one to watch)")
    if not 0 < alpha < 1:
        raise ValueError(f"p_chart: alpha must lie in (0, 1), got {alpha}")
    p = max(e[:baseline].sum(), 0.5) / n[:baseline].sum()
    et, nt = e[baseline:], n[baseline:]
    limit, alarm = _binomial_alarms(et, nt, p, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(nt > 0, et / nt, np.nan)
    return pd.DataFrame({"period": np.arange(baseline, len(n)), "events": et, "totals": nt,
                         "rate": rate, "alarm_at": limit, "alarm": alarm})


def _binomial_alarms(events, totals, p, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The smallest count whose upper binomial tail under rate ``p`` is below ``alpha``,
    and whether each period's ``events`` in ``totals`` reach it."""
    from scipy.stats import binom

    p = np.clip(p, 1e-12, 1 - 1e-12)
    return (binom.isf(alpha, totals, p) + 1,
            (totals > 0) & (binom.sf(events - 1, totals, p) < alpha))


PROBLEMS = (S.RETURNED, S.COMPLAINT)  # a line with a problem: returned or complained of


def return_alarms(orders: pd.DataFrame, keys: list[str], start, until,
                  baseline_weeks: int = 26, alpha: float = 0.00135,
                  events=PROBLEMS) -> pd.DataFrame:
    """Weekly p-charts (:func:`p_chart`) of the share of order lines with a problem (any
    of ``events``: returned or complained of) for every group of ``keys`` (e.g. ``[product_id]``,
    ``[product_id, segment]``, or ``[]`` for the whole business), learned on the
    ``baseline_weeks`` before ``start`` and watched from ``start`` to ``until``. With
    many groups, ``alpha`` holds for all of them together (each chart watches at
    alpha / groups, Bonferroni), so that a few hundred charts do not raise alarms by
    chance. Returns every alarm: the group, the week, the events, lines, rate and the
    count that alarms. Groups without lines in the baseline are not watched (they have
    no rate to compare with)."""
    cols = [events] if isinstance(events, str) else list(events)
    S.require_columns(orders, "orders", [S.TIMESTAMP, *cols, *keys])
    start, until = pd.Timestamp(start), pd.Timestamp(until)
    first = start - pd.Timedelta(weeks=baseline_weeks)
    o = orders[(orders[S.TIMESTAMP] >= first) & (orders[S.TIMESTAMP] < until)]
    week = first + ((o[S.TIMESTAMP] - first) // pd.Timedelta(weeks=1)) * pd.Timedelta(weeks=1)
    weeks = pd.date_range(first, until, freq="7D", inclusive="left")
    frame = o.assign(week=week, ev=o[cols].astype(bool).any(axis=1).astype(float), one=1.0)
    groups = list(frame.groupby(keys)) if keys else [((), frame)]
    watched = [(name, g.groupby("week")[["ev", "one"]].sum().reindex(weeks, fill_value=0.0))
               for name, g in groups]
    watched = [(name, per) for name, per in watched
               if per["one"].iloc[:baseline_weeks].sum() > 0 and len(per) > baseline_weeks]
    out = []
    for name, per in watched:
        chart = p_chart(per["ev"], per["one"], baseline_weeks, alpha / len(watched))
        hit = chart[chart["alarm"]]
        if len(hit):
            key = name if isinstance(name, tuple) else (name,)
            out.append(pd.DataFrame({**{k: v for k, v in zip(keys, key, strict=True)},
                                     "week": weeks[hit["period"].to_numpy()],
                                     "events": hit["events"].to_numpy(),
                                     "lines": hit["totals"].to_numpy(),
                                     "rate": hit["rate"].to_numpy(),
                                     "alarm_at": hit["alarm_at"].to_numpy()}))
    cols = [*keys, "week", "events", "lines", "rate", "alarm_at"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


WINDOWS = (7, 14, 28)  # days a quality chart sums over, each checked every day


def _daily_quality(orders: pd.DataFrame, products: pd.DataFrame,
                   segments: pd.DataFrame | None, start, until, baseline_weeks: int,
                   events) -> dict:
    """Per product and day watched: lines, lines with a problem, the problem lines
    expected of them, and the product's mean line value (see :func:`quality_monitors`)."""
    cols = [events] if isinstance(events, str) else list(events)
    S.require_columns(orders, "orders", [S.TIMESTAMP, S.PRODUCT_ID, S.CUSTOMER_ID,
                                         S.QUANTITY, S.UNIT_PRICE, *cols])
    S.require_columns(products, "products", [S.PRODUCT_ID, S.CATEGORY])
    if baseline_weeks < 4:
        raise ValueError(f"quality_monitors: baseline_weeks must be at least 4, got "
                         f"{baseline_weeks}")
    start, until = pd.Timestamp(start).normalize(), pd.Timestamp(until)
    first = start - pd.Timedelta(weeks=baseline_weeks)
    if orders[S.TIMESTAMP].min() > first + pd.Timedelta(days=7):
        raise ValueError(f"quality_monitors: the data begins {orders[S.TIMESTAMP].min():%Y-%m-%d}"
                         f", after the {baseline_weeks}-week baseline before {start:%Y-%m-%d} "
                         "begins; a later start or a shorter baseline is needed")
    o = orders[(orders[S.TIMESTAMP] >= first) & (orders[S.TIMESTAMP] < until)]
    o = o[[S.PRODUCT_ID, S.CUSTOMER_ID]].assign(
        ev=o[cols].astype(bool).any(axis=1).to_numpy(float), one=1.0,
        value=(o[S.QUANTITY].astype(float) * o[S.UNIT_PRICE].astype(float)).to_numpy(),
        day=((o[S.TIMESTAMP] - start) // pd.Timedelta(days=1)).to_numpy(int))
    o = o.merge(products[[S.PRODUCT_ID, S.CATEGORY]], on=S.PRODUCT_ID, how="left")
    if segments is None:
        o["mix"] = "all"
    else:
        twice = segments[S.CUSTOMER_ID].duplicated()
        if twice.any():
            raise ValueError(f"quality_monitors: {int(twice.sum())} customer_id values appear "
                             "more than once in segments")
        seg = segments.set_index(S.CUSTOMER_ID)["segment"].astype(str)
        o["mix"] = o[S.CUSTOMER_ID].map(seg).astype(object).where(
            o[S.CUSTOMER_ID].isin(seg.index), "unknown")
    base = o[o["day"] < 0]
    cat = base.groupby(S.CATEGORY)[["ev", "one"]].sum()
    cat_rate = (cat["ev"].clip(lower=0.5) / cat["one"]).rename("cat_rate")
    mix = base.groupby([S.CATEGORY, "mix"])[["ev", "one"]].sum().join(cat_rate)
    prior = 2 / mix["cat_rate"]  # two expected problems' worth of lines
    rate = ((mix["ev"] + prior * mix["cat_rate"]) / (mix["one"] + prior)).rename("r")
    o = o.join(cat_rate, on=S.CATEGORY).join(rate, on=[S.CATEGORY, "mix"])
    o["r"] = o["r"].fillna(o["cat_rate"])  # a segment new to the category: its rate
    o = o.dropna(subset=["cat_rate"])
    b = o[o["day"] < 0].groupby(S.PRODUCT_ID).agg(e=("ev", "sum"), x=("r", "sum"))
    factor = (b["e"] + 2) / (b["x"] + 2)
    ids = pd.Index(factor.index)
    days = int(np.ceil((until - start) / pd.Timedelta(days=1)))
    w = o[(o["day"] >= 0) & o[S.PRODUCT_ID].isin(ids)]
    cell = ids.get_indexer(w[S.PRODUCT_ID]) * days + w["day"].to_numpy(int)
    size = len(ids) * days

    def grid(v):
        return np.bincount(cell, v, size).reshape(len(ids), days)

    value = w.groupby(S.PRODUCT_ID)["value"].mean().reindex(ids).fillna(0.0)
    return {"ids": ids, "start": start, "events": grid(w["ev"].to_numpy(float)),
            "lines": grid(w["one"].to_numpy(float)),
            "expected": grid(w["r"].to_numpy(float)) * factor.to_numpy()[:, None],
            "line_value": value.to_numpy()}


def _window_alarms(events, lines, expected, alpha: float, products: int) -> np.ndarray:
    """Days (columns) on which a product's (rows) problem lines over any of the
    :data:`WINDOWS` ending that day are improbably many for its lines and the rate
    expected of them (exact binomial tail below ``alpha`` / (windows x 7 x products):
    ``alpha`` is the false-alarm probability of a week for all products together)."""
    level = alpha / (len(WINDOWS) * 7 * max(products, 1))
    pad = ((0, 0), (1, 0))
    ce, cn, cx = (np.cumsum(np.pad(a, pad), axis=1) for a in (events, lines, expected))
    end = np.arange(1, events.shape[1] + 1)
    alarm = np.zeros(events.shape, bool)
    for w in WINDOWS:
        lo = np.maximum(end - w, 0)  # a window is shorter in the first days watched
        e, n, x = (c[:, end] - c[:, lo] for c in (ce, cn, cx))
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(n > 0, x / n, 0.5)
        alarm |= _binomial_alarms(np.round(e), n, p, level)[1]
    return alarm


def _episodes(alarm_days: np.ndarray) -> int:
    """Alarms on one product count as one episode (one investigation) until a week
    passes without one."""
    d = np.sort(np.asarray(alarm_days))
    return int(len(d) and 1 + (np.diff(d) > 7).sum())


def quality_monitors(orders: pd.DataFrame, products: pd.DataFrame,
                     segments: pd.DataFrame | None, start, until, baseline_weeks: int = 26,
                     alpha: float = 0.00135, events=PROBLEMS) -> pd.DataFrame:
    """Daily charts of each product's share of order lines with a problem (any of
    ``events``) over the last 7, 14 and 28 days, learned on the ``baseline_weeks``
    before ``start`` and watched from ``start`` to ``until``. A day alarms when a
    window's problem lines are improbably many (exact binomial tail) for its lines and
    the rate expected of them; ``alpha`` is the false-alarm probability of a week for
    all products together (Bonferroni over products, windows and days). Checking every
    day, not once a week, means an incident is not seen later for starting on the wrong
    weekday.

    - **profile-blind** (``segments`` None): the product's baseline rate, shrunk towards
      its category's by two expected problems' worth of lines, so that a product with
      few lines is not judged on one or two;
    - **profile-aware**: the same product factor times the rates of the window's own
      buyers: each segment's baseline rate on the product's category (shrunk towards
      the category's the same way). A window bought by segments that return and complain
      more is expected to have more problems, and one bought by careful buyers is held
      to their standard.

    Returns every alarm: product, day, problem lines, lines and expected problem lines
    that day."""
    if not 0 < alpha < 1:
        raise ValueError(f"quality_monitors: alpha must lie in (0, 1), got {alpha}")
    q = _daily_quality(orders, products, segments, start, until, baseline_weeks, events)
    alarm = _window_alarms(q["events"], q["lines"], q["expected"], alpha, len(q["ids"]))
    prod, day = np.nonzero(alarm)
    return pd.DataFrame({S.PRODUCT_ID: q["ids"][prod].to_numpy(),
                         "day": q["start"] + pd.to_timedelta(day, unit="D"),
                         "events": q["events"][prod, day], "lines": q["lines"][prod, day],
                         "expected": q["expected"][prod, day]})


def quality_comparison(orders: pd.DataFrame, products: pd.DataFrame, segments: pd.DataFrame,
                       start, until, investigation_cost: float, incidents: int = 40,
                       incident_days: int = 21, incident_rate: float = 0.5,
                       baseline_weeks: int = 26, alpha: float = 0.00135, events=PROBLEMS,
                       n_boot: int = 2000, seed: int = 0) -> dict:
    """The profile-blind and profile-aware :func:`quality_monitors` judged on
    ``incidents`` quality incidents injected into the data: each on a product drawn at
    random (weighted by its lines), from a day drawn at random, for ``incident_days``,
    in which each of its lines without a problem gets one with probability
    ``incident_rate`` (0.5: about the synthetic retailer's food incident, 35% returned
    and 30% complained of), whoever bought it. Both monitors see the same incidents.

    One money objective per incident: the value of the problem lines it adds before the
    end of the day of the first alarm on its product (all of them if none comes), plus
    ``investigation_cost`` for the alarm. False alarms are counted on the data as it is,
    as episodes (alarms on one product until a week passes without one, one
    investigation each) a year, and priced the same way (a real incident in the data
    counts among them: the negative control, with none, gives the false ones).

    Returns per monitor: incidents caught, the median days from an incident's start to
    its first alarm, the problem value let through, false-alarm episodes a year and
    their cost; the per-incident results; and the paired difference of cost per
    incident (:class:`chainsight.compare.Paired`)."""
    from chainsight import compare

    if investigation_cost < 0 or incidents < 2 or incident_days < 1 or not (
            0 < incident_rate <= 1):
        raise ValueError("quality_comparison: investigation_cost must not be negative, "
                         "incidents be at least 2, incident_days at least 1 and "
                         "incident_rate in (0, 1]")
    sides = {side: _daily_quality(orders, products, by, start, until, baseline_weeks, events)
             for side, by in (("profile-blind", None), ("profile-aware", segments))}
    blind = sides["profile-blind"]
    days = blind["lines"].shape[1]
    if days <= incident_days:
        raise ValueError(f"quality_comparison: {days} days watched leave no room for an "
                         f"incident of {incident_days} days")
    rng = np.random.default_rng(seed)
    weight = blind["lines"].sum(axis=1)
    prods = rng.choice(len(weight), size=incidents, p=weight / weight.sum())
    begins = rng.integers(0, days - incident_days, incidents)
    added = [rng.binomial((blind["lines"][p, b:b + incident_days]
                           - blind["events"][p, b:b + incident_days]).astype(int), incident_rate)
             for p, b in zip(prods, begins, strict=True)]
    years = days / 365.25
    summary, per = {}, {}
    for side, q in sides.items():
        n_prod = len(q["ids"])
        clean = _window_alarms(q["events"], q["lines"], q["expected"], alpha, n_prod)
        episodes = sum(_episodes(np.flatnonzero(row)) for row in clean)
        rows = []
        for p, b, k in zip(prods, begins, added, strict=True):
            ev = q["events"][p].copy()
            ev[b:b + incident_days] += k
            hit = _window_alarms(ev[None], q["lines"][p][None], q["expected"][p][None],
                                 alpha, n_prod)[0]
            after = np.flatnonzero(hit[b:])
            caught = len(after) > 0 and after[0] < incident_days
            upto = after[0] + 1 if caught else incident_days
            rows.append({"product": q["ids"][p], "start": q["start"] + pd.Timedelta(days=b),
                         "caught": caught, "days_to_alarm": upto if caught else np.nan,
                         "problem_value": float(k[:upto].sum() * q["line_value"][p]),
                         "cost": float(k[:upto].sum() * q["line_value"][p])
                         + investigation_cost * caught})
        per[side] = pd.DataFrame(rows)
        summary[side] = {"caught": float(per[side]["caught"].mean()),
                         "median_days_to_alarm": float(per[side]["days_to_alarm"].median()),
                         "problem_value_per_incident": float(per[side]["problem_value"].mean()),
                         "cost_per_incident": float(per[side]["cost"].mean()),
                         "false_alarms_per_year": episodes / years,
                         "false_alarm_cost_per_year": investigation_cost * episodes / years}
    paired = compare.paired(per["profile-blind"]["cost"].to_numpy(),
                            per["profile-aware"]["cost"].to_numpy(),
                            metric="cost of a quality incident", unit="incident",
                            n_boot=n_boot, seed=seed)
    return {"monitors": pd.DataFrame(summary).T, "incidents": per, "value": paired}


def _drift_steps(x, w, baseline: int, min_shift: float) -> tuple[np.ndarray, float]:
    """The CUSUM steps of a share series ``x`` with weights ``w`` (the square root of a
    week's lines over the baseline's mean): (x_t - p0) w_t / sd - min_shift / 2 w_t / sd,
    p0 the baseline's share (weighted by lines) and sd the spread of its weighted
    residuals. A week's share varies as 1 / its lines, so a thin week counts less and a
    move of ``min_shift`` adds the same whatever the volume. Returns the steps up (the
    steps down are those of -x) and sd."""
    p0 = np.average(x[:baseline], weights=w[:baseline] ** 2)
    resid = (x - p0) * w
    sd = float(np.std(resid[:baseline], ddof=1))
    return resid / sd, sd


def drift_threshold(weights, baseline: int, kappa: float, rate: float, runs: int = 1000,
                    seed: int = 0) -> float:
    """The decision interval h at which a CUSUM on a stable share series with these
    ``weights`` and reference value ``kappa`` (half the shift to find, in baseline
    spreads) raises ``rate`` false alarms a week watched, one side, counting that its
    level and spread are learned from its first ``baseline`` weeks (``runs`` normal
    series simulated: an estimated baseline raises false alarms several times more
    often than a known one, which Siegmund's approximation assumes)."""
    w = np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((len(w), runs))
    b = slice(0, baseline)
    shift = (w[b, None] ** 2 * eps[b] / w[b, None]).sum(axis=0) / (w[b] ** 2).sum()
    resid = eps - w[:, None] * shift  # the baseline's level learned with its error
    sd = resid[b].std(axis=0, ddof=1)
    steps = (resid[baseline:] - kappa * w[baseline:, None]) / sd
    watched = steps.shape[0] * runs

    def alarms(h):
        s, count = np.zeros(runs), 0
        for step in steps:
            s = np.maximum(0.0, s + step)
            hit = s > h
            count += int(hit.sum())
            s[hit] = 0.0
        return count / watched

    lo, hi = 0.0, 1.0
    while alarms(hi) > rate and hi < 1e4:
        lo, hi = hi, hi * 2
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if alarms(mid) > rate else (lo, mid)
    return hi


def share_drift(orders: pd.DataFrame, products: pd.DataFrame, categories=None,
                groups: pd.DataFrame | None = None, baseline_weeks: int = 26,
                false_alarms: float = 1.0, min_shift: float = 0.05,
                calendar: pd.DataFrame | None = None, start=None, seed: int = 0
                ) -> pd.DataFrame:
    """Has a group's share of units in a category moved by ``min_shift`` (0.05: five
    percentage points) or more? For every category of ``categories`` (default: all) and
    every group (``groups``: customer_id and ``group``, e.g. segments; and ``all``, the
    whole business), a CUSUM up and one down on the weekly share, learned on its first
    ``baseline_weeks`` weeks from ``start`` (default: the data's first full week) and
    watched after them.

    - The steps weigh each week by its lines (:func:`_drift_steps`), and the reference
      value is half of ``min_shift``, so that the slow wobble of a share by a point or
      two does not add up to an alarm, and a group that thins out is not taken to move.
    - The decision interval is set by simulation (:func:`drift_threshold`) so that all
      the charts together raise ``false_alarms`` a year on stable series, the baseline's
      own error included.
    - Weeks with a festival or promotion day in ``calendar`` (``date``, ``event_kind``;
      optional) are neither learned from nor watched: their mix is the event's.
    - Weeks the data does not cover from end to end are left out.

    Segments found from behaviour should be fixed at ``start`` from the orders before
    it: a segment picked on the very weeks it is then watched on drifts back towards its
    members' usual mix (regression to the mean), which the monitor would take for a move.

    Returns per category and group: weeks watched, the first alarm (week and direction),
    the number of alarms and alarms per year; a group too short or too flat to learn a
    baseline says so in ``note``."""
    S.require_columns(orders, "orders", [S.CUSTOMER_ID, S.TIMESTAMP, S.PRODUCT_ID,
                                         S.QUANTITY])
    S.require_columns(products, "products", [S.PRODUCT_ID, S.CATEGORY])
    known = sorted(set(products[S.CATEGORY].dropna()))
    categories = known if categories is None else list(categories)
    wrong = [c for c in categories if c not in known]
    if wrong:
        raise ValueError(f"share_drift: no product of category {wrong[0]!r}; the categories "
                         f"are {known}")
    if not (false_alarms > 0 and 0 < min_shift < 1 and baseline_weeks >= 8):
        raise ValueError(f"share_drift: false_alarms must be positive, min_shift lie in "
                         f"(0, 1) and baseline_weeks be at least 8, got {false_alarms}, "
                         f"{min_shift} and {baseline_weeks}")
    o = orders[[S.CUSTOMER_ID, S.TIMESTAMP, S.PRODUCT_ID, S.QUANTITY]].merge(
        products[[S.PRODUCT_ID, S.CATEGORY]], on=S.PRODUCT_ID, how="left")
    o = o.assign(week=o[S.TIMESTAMP].dt.to_period("W-SUN").dt.start_time)
    first_day = o[S.TIMESTAMP].min().normalize()
    o = o[o["week"] >= max(first_day, pd.Timestamp(start) if start is not None else first_day)]
    last_day = o[S.TIMESTAMP].max().normalize() + pd.Timedelta(days=1)
    o = o[o["week"] + pd.Timedelta(weeks=1) <= last_day]
    if calendar is not None:
        S.require_columns(calendar, "calendar", [S.DATE, "event_kind"])
        busy = calendar.loc[calendar["event_kind"].fillna("").astype(str) != "", S.DATE]
        o = o[~o["week"].isin(set(pd.to_datetime(busy).dt.to_period("W-SUN").dt.start_time))]
    parts = [("all", o)]
    if groups is not None:
        S.require_columns(groups, "groups", [S.CUSTOMER_ID, "group"])
        g = o.merge(groups[[S.CUSTOMER_ID, "group"]], on=S.CUSTOMER_ID, how="inner")
        if g.empty:
            raise ValueError("share_drift: no order line belongs to a customer in groups")
        parts += list(g.groupby("group"))
    rate = false_alarms / 52.18 / (len(categories) * len(parts) * 2)
    rows = []
    for name, part in parts:
        units = part.pivot_table(index="week", columns=S.CATEGORY, values=S.QUANTITY,
                                 aggfunc="sum", fill_value=0)
        lines = part.groupby("week").size().reindex(units.index)
        keep = (units.sum(axis=1) > 0).to_numpy()
        units, lines = units[keep], lines[keep].to_numpy(float)
        for category in categories:
            share = (units.get(category, 0 * units.iloc[:, 0]) / units.sum(axis=1)).to_numpy()
            row = {"category": category, "group": name, "weeks": len(share),
                   "first_alarm": pd.NaT, "direction": "", "alarms": 0,
                   "alarms_per_year": np.nan, "note": ""}
            if len(share) <= baseline_weeks + 1 or np.ptp(share[:baseline_weeks]) == 0:
                rows.append({**row, "note": "too short or flat to learn a baseline"})
                continue
            w = np.sqrt(lines / lines[:baseline_weeks].mean())
            z, sd = _drift_steps(share, w, baseline_weeks, min_shift)
            kappa = min_shift / 2 / sd
            h = drift_threshold(w, baseline_weeks, kappa, rate, seed=seed)
            found = []
            for side, sign in (("up", 1.0), ("down", -1.0)):
                level = 0.0
                for t in range(baseline_weeks, len(z)):
                    level = max(0.0, level + sign * z[t] - kappa * w[t])
                    if level > h:
                        found.append((t, side))
                        level = 0.0
            first = min(found, default=(None, ""))
            watched = (units.index[-1] - units.index[baseline_weeks]).days / 7 + 1
            rows.append({**row, "first_alarm": units.index[first[0]]
                         if first[0] is not None else pd.NaT, "direction": first[1],
                         "alarms": len(found), "alarms_per_year": len(found) / (watched / 52.18)})
    if groups is not None:  # a group without a line in the weeks watched says so
        empty = sorted(set(groups["group"].dropna()) - {name for name, _ in parts}, key=str)
        rows += [{"category": c, "group": name, "weeks": 0, "first_alarm": pd.NaT,
                  "direction": "", "alarms": 0, "alarms_per_year": np.nan,
                  "note": "no order lines in the weeks watched"}
                 for name in empty for c in categories]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Stress test: how long the network survives losing one node
# ---------------------------------------------------------------------------
def time_to_survive(demand, capacity, inventory, can_serve, down, horizon: float = 365.0
                    ) -> tuple[float, np.ndarray]:
    """Time-to-survive (Simchi-Levi, Schmidt & Wei, Harvard Business Review 2014): the
    longest time t (days, at most ``horizon``) the network can meet every customer's
    demand after node ``down`` (one node, or a list of nodes) stops, from the other
    nodes' ``inventory`` and their
    ``capacity`` per day. ``demand`` per customer (per day), ``can_serve`` a customers x
    nodes boolean matrix of the arcs allowed. The linear programme:

        max t  s.t.  sum_j y_ij >= d_i t  (every customer i),
                     sum_i y_ij <= I_j + c_j t  (every node j that still works),
                     y_ij = 0 on arcs not allowed or from the node down, 0 <= t <= horizon.

    Returns t and the flows y (customers x nodes) over those t days. ``horizon`` means
    the rest of the network can carry the demand indefinitely (within the horizon)."""
    from scipy.optimize import linprog

    d = np.asarray(demand, dtype=float)
    c, inv = np.asarray(capacity, dtype=float), np.asarray(inventory, dtype=float)
    arcs = np.asarray(can_serve, dtype=bool)
    n, m = arcs.shape
    if d.shape != (n,) or c.shape != (m,) or inv.shape != (m,):
        raise ValueError(f"time_to_survive: {n} customers x {m} nodes need {n} demands and "
                         f"{m} capacities and inventories")
    if (d < 0).any() or (c < 0).any() or (inv < 0).any():
        raise ValueError("time_to_survive: demand, capacity and inventory must not be "
                         "negative")
    try:
        down = np.atleast_1d(np.asarray(down, dtype=int))
    except (TypeError, ValueError):
        raise ValueError(f"time_to_survive: down takes node positions (0 to {m - 1}), got "
                         f"{down!r}") from None
    if ((down < 0) | (down >= m)).any():
        raise ValueError(f"time_to_survive: node {down.tolist()} is not one of the {m} nodes")
    allowed = arcs.copy()
    allowed[:, down] = False
    idx = np.argwhere(allowed)  # one variable per allowed arc, then t
    k = len(idx)
    obj = np.r_[np.zeros(k), -1.0]
    rows_i = np.zeros((n, k + 1))
    rows_i[idx[:, 0], np.arange(k)] = -1.0
    rows_i[:, -1] = d  # d_i t - sum_j y_ij <= 0
    rows_j = np.zeros((m, k + 1))
    rows_j[idx[:, 1], np.arange(k)] = 1.0
    rows_j[:, -1] = -c  # sum_i y_ij - c_j t <= I_j
    res = linprog(obj, A_ub=np.vstack([rows_i, rows_j]), b_ub=np.r_[np.zeros(n), inv],
                  bounds=[(0, None)] * k + [(0, horizon)], method="highs")
    if res.status != 0:
        raise ValueError(f"time_to_survive: the programme could not be solved ({res.message})")
    flows = np.zeros((n, m))
    flows[idx[:, 0], idx[:, 1]] = res.x[:k]
    return float(res.x[-1]), flows


def unmet_per_day(demand, capacity, can_serve, down, weight=None) -> np.ndarray:
    """Each customer's demand per day the network cannot meet once node(s) ``down`` stop
    and the stock is gone: the other nodes' ``capacity`` per day shared out to serve as
    much as possible, each unit of customer i counting ``weight[i]`` (default 1: the
    most units; a customer's value per unit puts the valuable customers first)."""
    from scipy.optimize import linprog

    d, c = np.asarray(demand, dtype=float), np.asarray(capacity, dtype=float)
    arcs = np.asarray(can_serve, dtype=bool).copy()
    arcs[:, np.atleast_1d(np.asarray(down, dtype=int))] = False
    w = np.ones(len(d)) if weight is None else np.asarray(weight, dtype=float)
    idx = np.argwhere(arcs)
    if len(idx) == 0:
        return d.copy()
    k = len(idx)
    a_cust = np.zeros((len(d), k))
    a_cust[idx[:, 0], np.arange(k)] = 1.0
    a_node = np.zeros((len(c), k))
    a_node[idx[:, 1], np.arange(k)] = 1.0
    # Ties in the weights are broken towards more units, by a hair.
    res = linprog(-(w[idx[:, 0]] + 1e-9), A_ub=np.vstack([a_cust, a_node]),
                  b_ub=np.r_[d, c], bounds=[(0, None)] * k, method="highs")
    if res.status != 0:
        raise ValueError(f"unmet_per_day: the programme could not be solved ({res.message})")
    return np.maximum(d - a_cust @ res.x, 0.0)


def outage_scenarios(nodes: int, n: int, p_down, mean_days: float, seed: int = 0
                     ) -> list[tuple[np.ndarray, float]]:
    """``n`` random years: each node is down with probability ``p_down`` (one per node,
    or one for all), all together for one outage of exponential length (mean
    ``mean_days``). Returns (the nodes down, days) per scenario."""
    p = np.broadcast_to(np.asarray(p_down, dtype=float), (nodes,))
    if ((p < 0) | (p > 1)).any() or mean_days <= 0 or n < 1:
        raise ValueError("outage_scenarios: p_down must lie in [0, 1] per node, mean_days "
                         "be positive and n at least 1")
    rng = np.random.default_rng(seed)
    down = rng.random((n, nodes)) < p
    days = rng.exponential(mean_days, n)
    return [(np.flatnonzero(row), float(t)) for row, t in zip(down, days, strict=True)]


def _site_outage(network: dict, down, weight=None) -> dict:
    """What node(s) ``down`` do to each city of ``network``: ``cut`` (a node reached it,
    and no working node does), the time-to-survive of the rest, and each city's demand
    per day unmet once stock is gone. A city no node reaches even with all of them up
    is the network's gap, not the outage's: it is left out."""
    d = np.asarray(network["demand"], dtype=float)
    arcs = np.asarray(network["can_serve"], dtype=bool)
    w = np.ones(len(d)) if weight is None else np.asarray(weight, dtype=float)
    works = np.ones(arcs.shape[1], bool)
    works[list(down)] = False
    served = arcs.any(axis=1)
    cut = served & ~(arcs & works[None, :]).any(axis=1)
    rest = served & ~cut
    tts, unmet = np.inf, np.zeros(len(d))
    if rest.any():
        tts, _ = time_to_survive(d[rest], network["capacity"], network["inventory"],
                                 arcs[rest], list(down))
        unmet[rest] = unmet_per_day(d[rest], network["capacity"], arcs[rest], list(down),
                                    w[rest])
    return {"cut": cut, "tts": tts, "unmet": unmet}


def _lost_share(network: dict, hit: dict, days: float, churn_days: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per city: the share of its demand lost over an outage of ``days`` (the cut-off
    cities all of it, the others their unmet share once the rest's stock is gone), and
    the share of its customers' value at risk of leaving (the unmet share times the days
    unserved over ``churn_days``, at most 1)."""
    d = np.asarray(network["demand"], dtype=float)
    short = max(days - hit["tts"], 0.0) if np.isfinite(hit["tts"]) else 0.0
    unmet = np.divide(hit["unmet"], d, out=np.zeros_like(d), where=d > 0)
    lost = np.where(hit["cut"], 1.0, unmet * short / days if days > 0 else 0.0)
    risk_ = np.where(hit["cut"], min(days / churn_days, 1.0), unmet * min(short / churn_days,
                                                                           1.0))
    return lost, risk_


def named_outages(nodes: list, table, n: int, seed: int = 0
                  ) -> list[tuple[np.ndarray, float]]:
    """``n`` random years drawn from ``table``, the outcomes of a year: one row each,
    with ``down`` (the names of the nodes down together, comma-separated; empty: none),
    ``probability`` and ``mean_days`` (an outage's length is exponential with that
    mean). The probabilities must add up to 1, and every name be one of ``nodes``.
    Returns (the positions of the nodes down, days) per year, as
    :func:`outage_scenarios`."""
    rows = pd.DataFrame(table)
    missing = {"down", "probability", "mean_days"} - set(rows.columns)
    if rows.empty or missing:
        raise ValueError(f"named_outages: the table needs rows with down, probability and "
                         f"mean_days; missing {sorted(missing) or 'rows'}")
    p = rows["probability"].to_numpy(float)
    if (p < 0).any() or not np.isfinite(p).all() or abs(p.sum() - 1) > 1e-6:
        raise ValueError(f"named_outages: the probabilities must be 0 or more and add up to "
                         f"1 (every outcome of a year, 'nothing down' included); they add "
                         f"up to {p.sum():.6g}")
    where = {str(name): j for j, name in enumerate(nodes)}
    downs = []
    for k, cell in enumerate(rows["down"].fillna("").astype(str)):
        names = [x.strip() for x in cell.split(",") if x.strip()]
        unknown = [x for x in names if x not in where]
        if unknown:
            raise ValueError(f"named_outages: row {k} names {unknown[0]!r}, which is not one "
                             f"of the nodes {sorted(where)}")
        downs.append(np.array([where[x] for x in names], dtype=int))
    mean = rows["mean_days"].to_numpy(float)
    live = np.array([len(d) > 0 for d in downs]) & (p > 0)
    if not (np.isfinite(mean[live]) & (mean[live] > 0)).all():
        raise ValueError("named_outages: mean_days must be a positive number on every row "
                         "with a node down and a probability above 0")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), size=n, p=p / p.sum())
    days = rng.exponential(1.0, n) * mean[pick]
    return [(downs[k], float(t)) for k, t in zip(pick, days, strict=True)]


def outage_losses(network: dict, scenarios, weight=None, churn: float = 0.3,
                  churn_days: float = 30.0) -> pd.DataFrame:
    """Per scenario: the customers cut off at once (no working node reaches them), the
    time the network then carries everyone else (:func:`time_to_survive` on them), the
    units it cannot deliver (the cut-off customers' for the whole outage, the others'
    once stock is gone) and the CLV lost: a customer left without delivery for
    ``churn_days`` or more leaves with probability ``churn`` (for fewer days, in
    proportion), in proportion to the share of their demand not met.
    ``network``: ``nodes``, ``demand``, ``capacity`` per day, ``inventory``,
    ``can_serve`` and ``clv`` per customer (a city, say); ``weight`` orders who is served
    first once stock is gone (:func:`unmet_per_day`)."""
    if not 0 <= churn <= 1 or churn_days <= 0:
        raise ValueError(f"outage_losses: churn must lie in [0, 1] and churn_days be "
                         f"positive, got {churn} and {churn_days}")
    d = np.asarray(network["demand"], dtype=float)
    clv = np.asarray(network["clv"], dtype=float)
    cache, rows = {}, []
    for down, days in scenarios:
        key = tuple(down)
        if not key:
            rows.append({"down": "", "days": days, "cut_off_share": 0.0,
                         "survive_days": np.inf, "lost_units": 0.0, "lost_clv": 0.0})
            continue
        if key not in cache:
            cache[key] = _site_outage(network, down, weight)
        hit = cache[key]
        lost, at_risk = _lost_share(network, hit, days, churn_days)
        rows.append({"down": ",".join(str(network["nodes"][j]) for j in down), "days": days,
                     "cut_off_share": float(d[hit["cut"]].sum() / d.sum()) if d.sum() else 0.0,
                     "survive_days": hit["tts"], "lost_units": float((d * lost).sum() * days),
                     "lost_clv": float(churn * (clv * at_risk).sum())})
    return pd.DataFrame(rows)


def with_backup(network: dict, candidate: int) -> dict:
    """The network with one more node open: candidate ``candidate`` of
    ``network["backups"]`` (its capacity, no stock of its own at the start)."""
    b = network["backups"]
    return {**network, "capacity": np.r_[network["capacity"], b["capacity"][candidate]],
            "inventory": np.r_[network["inventory"], 0.0],
            "can_serve": np.column_stack([network["can_serve"],
                                          b["can_serve"][:, candidate]]),
            "nodes": [*network["nodes"], b["nodes"][candidate]]}


def _days_covered(orders: pd.DataFrame, start) -> float:
    """Days of the year before ``start`` that the order lines cover (fewer than 365 when
    the data begins later), so that a year's totals become amounts per day."""
    first = orders[S.TIMESTAMP].min().normalize()
    start = pd.Timestamp(start)
    days = float(min(365, (start - max(first, start - pd.Timedelta(days=365))).days))
    if days < 28:
        raise ValueError(f"the data begins {first:%Y-%m-%d}, {days:.0f} days before "
                         f"{start:%Y-%m-%d}; a stress test needs at least 28 days of orders "
                         "before it")
    return days


def outage_network(orders: pd.DataFrame, customers: pd.DataFrame, sites: pd.DataFrame,
                   clv: pd.Series, start, reach_km: float = 1600.0,
                   volume_scale: float = 100.0, cover_days: float = 14.0,
                   detour: float = 1.3) -> dict:
    """The current network for :func:`outage_losses`, from the year before ``start``:
    one customer per city (units per day, scaled by ``volume_scale`` to the whole
    business as the sites' capacities are; the CLV of its customers, ``clv`` by
    customer_id), the current sites (capacity per day, stock of ``cover_days`` of the
    demand nearest to them), which sites reach which cities (``reach_km`` by road), and
    the other sites as backups."""
    from chainsight import logistics

    S.require_columns(sites, "sites", [S.SITE_ID, S.CITY, S.LON, S.LAT, S.CAPACITY, "current"])
    start = pd.Timestamp(start)
    year = orders[(orders[S.TIMESTAMP] < start)
                  & (orders[S.TIMESTAMP] >= start - pd.Timedelta(days=365))]
    geo = customers[[S.CUSTOMER_ID, S.CITY, S.LON, S.LAT]]
    units = year.assign(revenue=year[S.QUANTITY] * year[S.UNIT_PRICE]).merge(
        geo, on=S.CUSTOMER_ID, how="inner").groupby(S.CITY).agg(
        units=(S.QUANTITY, "sum"), revenue=("revenue", "sum"), lon=(S.LON, "mean"),
        lat=(S.LAT, "mean"))
    value = geo.assign(clv=geo[S.CUSTOMER_ID].map(clv).fillna(0.0)).groupby(S.CITY)["clv"].sum()
    cities = units.join(value, how="left").fillna({"clv": 0.0})
    km = logistics.road_km(logistics.great_circle_km(
        cities["lon"].to_numpy()[:, None], cities["lat"].to_numpy()[:, None],
        sites[S.LON].to_numpy()[None, :], sites[S.LAT].to_numpy()[None, :]), detour)
    reach = km <= reach_km
    cur = sites["current"].astype(bool).to_numpy()
    if not cur.any():
        raise ValueError("outage_network: no site is marked current")
    covered = _days_covered(orders, start)
    demand = cities["units"].to_numpy(float) * volume_scale / covered
    nearest = np.argmin(np.where(cur[None, :], km, np.inf), axis=1)
    stock = np.bincount(nearest, weights=demand, minlength=len(sites))[cur] * cover_days
    capacity = sites[S.CAPACITY].to_numpy(float) / 365
    return {"nodes": list(sites.loc[cur, S.SITE_ID]), "cities": list(cities.index),
            "scale": float(volume_scale),
            "demand": demand, "clv": cities["clv"].to_numpy(float),
            "revenue": cities["revenue"].to_numpy(float) * 365 / covered,
            "capacity": capacity[cur], "inventory": stock, "can_serve": reach[:, cur],
            "backups": {"nodes": list(sites.loc[~cur, S.SITE_ID]),
                        "capacity": capacity[~cur], "can_serve": reach[:, ~cur],
                        "fixed_cost": sites.loc[~cur, "fixed_cost"].to_numpy(float)
                        if "fixed_cost" in sites else np.zeros((~cur).sum())}}


def city_clusters(customers: pd.DataFrame, cluster_km: float = 500.0,
                  detour: float = 1.3) -> pd.Series:
    """Cities grouped into regions: complete-linkage clusters in which no two cities are
    more than ``cluster_km`` apart by road. Returns each city's region, named after its
    city with the most customers ("Shanghai area")."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    from chainsight import logistics

    S.require_columns(customers, "customers", [S.CITY, S.LON, S.LAT])
    if cluster_km <= 0:
        raise ValueError(f"city_clusters: cluster_km must be positive, got {cluster_km}")
    cities = customers.groupby(S.CITY).agg(lon=(S.LON, "mean"), lat=(S.LAT, "mean"),
                                           n=(S.LON, "size"))
    if len(cities) == 1:
        return pd.Series(f"{cities.index[0]} area", index=cities.index, name="region")
    lon, lat = cities["lon"].to_numpy(), cities["lat"].to_numpy()
    km = logistics.road_km(logistics.great_circle_km(lon[:, None], lat[:, None],
                                                     lon[None, :], lat[None, :]), detour)
    np.fill_diagonal(km, 0.0)
    label = fcluster(linkage(squareform((km + km.T) / 2, checks=False), "complete"),
                     cluster_km, criterion="distance")
    head = cities.assign(label=label).sort_values("n", ascending=False).groupby("label").head(1)
    name = {lab: f"{city} area" for city, lab in zip(head.index, head["label"], strict=True)}
    return pd.Series([name[lab] for lab in label], index=cities.index, name="region")


def segment_exposure(orders: pd.DataFrame, customers: pd.DataFrame, products: pd.DataFrame,
                     segments: pd.DataFrame, clv: pd.Series, network: dict, start,
                     days: float, cover_days: float = 14.0, churn: float = 0.3,
                     churn_days: float = 30.0, cluster_km: float = 500.0) -> pd.DataFrame:
    """What each site, supplier and region costs, per segment, if it is down for
    ``days`` (its time-to-recover), from the order lines of the year before ``start``.

    - **Site**: the cities no other site reaches lose everything; the others are carried
      for the time-to-survive of ``network`` (:func:`time_to_survive`), then lose what the
      rest cannot make (:func:`unmet_per_day`).
    - **Supplier**: its products' stock carries ``cover_days``; after that its products
      are not sold (no second supplier).
    - **Region** (:func:`city_clusters`, ``cluster_km``): its customers cannot be served
      at all.

    Revenue lost is the revenue per day not sold over the outage; CLV lost is ``churn``
    times the CLV of the customers affected, in proportion to the share of their buying
    hit and to the days unserved over ``churn_days`` (at most 1). Both are at the
    business's scale: the data's times ``network["scale"]`` (its ``volume_scale``).
    Returns one row per kind, node and segment, with the node's time-to-survive in days
    (0 for a site whose loss cuts cities off at once)."""
    if days <= 0 or cover_days < 0 or not 0 <= churn <= 1 or churn_days <= 0:
        raise ValueError("segment_exposure: days and churn_days must be positive, cover_days "
                         "not negative and churn in [0, 1]")
    S.require_columns(products, "products", [S.PRODUCT_ID, S.SUPPLIER])
    S.require_columns(segments, "segments", [S.CUSTOMER_ID, "segment"])
    start = pd.Timestamp(start)
    year = orders[(orders[S.TIMESTAMP] < start)
                  & (orders[S.TIMESTAMP] >= start - pd.Timedelta(days=365))]
    for name, frame in (("segments", segments), ("customers", customers)):
        twice = frame[S.CUSTOMER_ID].duplicated()
        if twice.any():
            raise ValueError(f"segment_exposure: {int(twice.sum())} customer_id values appear "
                             f"more than once in {name}, e.g. "
                             f"{frame.loc[twice, S.CUSTOMER_ID].iloc[0]!r}")
    seg = segments.set_index(S.CUSTOMER_ID)["segment"].astype(str)
    geo = customers.set_index(S.CUSTOMER_ID)[S.CITY]
    lines = pd.DataFrame({
        "customer": year[S.CUSTOMER_ID].to_numpy(),
        "revenue": (year[S.QUANTITY].astype(float) * year[S.UNIT_PRICE].astype(float)
                    ).to_numpy() / _days_covered(orders, start),
        "supplier": year[S.PRODUCT_ID].map(products.set_index(S.PRODUCT_ID)[S.SUPPLIER])
        .to_numpy()})
    lines["city"] = lines["customer"].map(geo)
    lines["segment"] = lines["customer"].map(seg).fillna("unassigned")
    lines = lines.dropna(subset=["city"])
    region = city_clusters(customers, cluster_km)
    lines["region"] = lines["city"].map(region)
    value = clv.reindex(lines["customer"].unique()).fillna(0.0).clip(lower=0.0)
    spend = lines.groupby("customer")["revenue"].sum()
    # Each customer's CLV shared out over what they buy, so that losing part of it puts
    # that part of their value at risk.
    lines["clv"] = lines["customer"].map(value).to_numpy() * lines["revenue"].to_numpy() \
        / lines["customer"].map(spend).to_numpy()
    rows = []
    scale = float(network.get("scale", 1.0))

    def add(kind, node, tts, frame, lost_share, risk_share):
        per = frame.groupby("segment")[["revenue", "clv"]].sum() * scale
        for segment, r in per.iterrows():
            rows.append({"kind": kind, "node": node, "survive_days": tts,
                         "segment": segment, "revenue_lost": float(r["revenue"]) * days
                         * lost_share, "clv_lost": churn * float(r["clv"]) * risk_share})

    city_pos = {c: i for i, c in enumerate(network["cities"])}
    at = lines["city"].map(city_pos)
    if at.isna().all():
        raise ValueError("segment_exposure: none of the customers' cities is a city of the "
                         "network; build the network from the same customers "
                         "(outage_network)")
    for j, node in enumerate(network["nodes"]):
        hit = _site_outage(network, [j])
        lost, at_risk = _lost_share(network, hit, days, churn_days)
        inside = lines[at.notna()]
        k = at[at.notna()].astype(int).to_numpy()
        per = inside.assign(revenue=inside["revenue"] * lost[k], clv=inside["clv"] * at_risk[k])
        add("site", node, 0.0 if hit["cut"].any() else hit["tts"], per, 1.0, 1.0)
    short = max(days - cover_days, 0.0)
    for node, part in lines.dropna(subset=["supplier"]).groupby("supplier"):
        add("supplier", node, cover_days, part, short / days, min(short / churn_days, 1.0))
    for node, part in lines.groupby("region"):
        add("region", node, 0.0, part, 1.0, min(days / churn_days, 1.0))
    return pd.DataFrame(rows)


def mitigation_comparison(network: dict, choose_on, judge_on, churn: float = 0.3,
                          margin: float = 1.0, n_boot: int = 2000, seed: int = 0) -> dict:
    """One backup site, or none, against the outages of a year, chosen profile-blind and
    profile-aware and judged in money: the backup's fixed cost a year plus the CLV lost
    in the year's outages, at the business's scale (``network["scale"]`` times the
    data's CLV, as the sites' costs and capacities are).

    - **Profile-blind**: once stock is gone, serve the most units; value a lost
      customer at a year of their margin (``network["revenue"]`` a year times
      ``margin``), and pick the option with the least fixed cost plus expected loss so
      valued.
    - **Profile-aware**: serve the most CLV per unit first; value losses at each city's
      own CLV, and pick the same way.

    Each side chooses on the years ``choose_on`` and is judged on others, ``judge_on``
    (drawn apart), on its cost per year (paired over years). Ties go to the cheaper
    option. Returns each option's expected figures on the years chosen on, the choices,
    the costs per judged year and the paired comparison."""
    from chainsight import compare

    scale = float(network.get("scale", 1.0))
    d, clv = np.asarray(network["demand"], float), np.asarray(network["clv"], float)
    value = np.divide(clv, d, out=np.zeros(len(d)), where=d > 0)
    if not 0 < margin <= 1:
        raise ValueError(f"mitigation_comparison: margin must lie in (0, 1], got {margin}")
    seen = margin * np.asarray(network["revenue"], float)  # what the blind side can value
    backups = network["backups"]
    if "fixed_cost" not in backups:
        raise ValueError("mitigation_comparison: the backup sites need a fixed_cost (a year), "
                         "to weigh against the value they protect")
    options = [("no backup", network, {**network, "clv": seen}, 0.0)] + [
        (name, with_backup(network, k), {**with_backup(network, k), "clv": seen},
         float(backups["fixed_cost"][k])) for k, name in enumerate(backups["nodes"])]
    rows, nets = [], {}
    for name, net, net_seen, fixed in options:
        blind_view = outage_losses(net_seen, choose_on, None, churn)
        aware_view = outage_losses(net, choose_on, value, churn)
        nets[name] = (net, fixed)
        rows.append({"backup": name, "fixed_cost": fixed,
                     "expected_lost_units": blind_view["lost_units"].mean(),
                     "expected_cost_blind": fixed + scale * blind_view["lost_clv"].mean(),
                     "expected_lost_clv": scale * aware_view["lost_clv"].mean(),
                     "expected_cost_aware": fixed + scale * aware_view["lost_clv"].mean(),
                     "p95_lost_clv": scale * aware_view["lost_clv"].quantile(0.95)})
    table = pd.DataFrame(rows).sort_values("fixed_cost", kind="stable").reset_index(drop=True)
    chosen = {side: table.loc[table[f"expected_cost_{side}"].idxmin(), "backup"]
              for side in ("blind", "aware")}
    cost = {}
    for side, weight in (("blind", None), ("aware", value)):
        net, fixed = nets[chosen[side]]
        cost[side] = fixed + scale * outage_losses(net, judge_on, weight, churn)["lost_clv"]
    paired = compare.paired(cost["blind"].to_numpy(), cost["aware"].to_numpy(),
                            metric="backup fixed cost plus CLV lost, per year",
                            unit="year", n_boot=n_boot, seed=seed)
    return {"candidates": table, "chosen": chosen, "cost": pd.DataFrame(cost),
            "value": paired}
