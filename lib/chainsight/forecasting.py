"""Demand forecasting (需求预测) from order lines, with and without the profile.

Panels are long frames ``unique_id, ds, y`` (units per period: a week starting on
Monday, a month, or a day; read from the data or set, see :class:`Grain`) plus the
keys of each series (segment, category, product). Every model, the backtest and the
metrics take the grain from the panel. Models:

* ``naive`` and ``seasonal_naive`` baselines (with normal prediction intervals
  from their in-sample errors);
* ``ets`` (statsforecast AutoETS, non-seasonal; the calendar is left to the
  global model);
* the intermittent-demand methods of :data:`INTERMITTENT` (statsforecast);
* ``gbm``: one global gradient-boosting model (scikit-learn) across all series of
  a panel, direct multi-horizon, with recent levels, the same period last year,
  calendar and event features (festival and promotion days, a period before and
  after), and the series keys; a split-conformal interval from its own errors on
  the last periods of the training data.

:func:`backtest` runs models from several forecast origins; :func:`accuracy`
scores them (MASE, RMSSE, WAPE, bias, interval coverage) and
:func:`stock_evaluation` by the stock each forecast gives. :func:`compare_profile`
sets a profile-blind forecast (category totals split by historical segment
shares) against a profile-aware one (per segment x category, summed), at
segment x category, category and SKU level.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingRegressor

from chainsight import progress
from chainsight import schema as S
from chainsight.sql import query, source

# Models for intermittent series (many zero weeks), all from statsforecast: Croston
# (classic and with its smoothing constant optimised), SBA (Syntetos-Boylan's
# bias-corrected Croston), ADIDA and IMAPA (temporal aggregation), TSB with fixed
# constants and TSB with its two constants chosen on the training weeks (tsb_opt).
INTERMITTENT = ("croston", "croston_opt", "sba", "adida", "imapa", "tsb", "tsb_opt")
MODELS = ("naive", "seasonal_naive", "ets", *INTERMITTENT, "gbm")
TSB_GRID = (0.05, 0.1, 0.2, 0.3, 0.5)  # the constants tsb_opt chooses from
KEYS = ("segment", S.CATEGORY, S.PRODUCT_ID)


# ---------------------------------------------------------------------------
# Time grain
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Grain:
    """A panel's period: its pandas / statsforecast frequency, the periods in a season,
    its mean length in days, the level windows of the global model and the share
    windows of the profile-blind split (in periods: recent, medium, a year), and a
    backtest's default horizon and spacing of origins."""

    name: str
    freq: str
    season: int
    days: float
    windows: tuple[int, int, int]
    share_windows: tuple[int, ...]
    horizon: int  # the periods a backtest forecasts ahead by default
    origin_step: int  # the periods between its origins by default

    def start(self, t):
        """The start of the period each timestamp (a Timestamp or a Series) falls in."""
        ts = pd.Series(pd.to_datetime(t)) if not isinstance(t, pd.Series) else t
        day = ts.dt.normalize()
        out = {"day": day, "week": day - pd.to_timedelta(day.dt.dayofweek, unit="D"),
               "month": day - pd.to_timedelta(day.dt.day - 1, unit="D")}[self.name]
        return out if isinstance(t, pd.Series) else out.iloc[0]

    def shift(self, t, n: int) -> pd.Timestamp:
        """``t`` moved by ``n`` periods."""
        t = pd.Timestamp(t)
        return t + (pd.DateOffset(months=n) if self.name == "month" else
                    pd.Timedelta(days=n * (7 if self.name == "week" else 1)))


GRAINS = {
    "day": Grain("day", "D", 7, 1.0, (7, 28, 365), (7, 14, 28, 91, 365), 14, 28),
    "week": Grain("week", "W-MON", 52, 7.0, (4, 13, 52), (4, 8, 13, 26, 52), 8, 13),
    "month": Grain("month", "MS", 12, 365.25 / 12, (3, 6, 12), (1, 2, 3, 6, 12), 6, 6),
}


def grain(name: str | None) -> Grain:
    """The :class:`Grain` called ``name`` (day, week or month)."""
    if name not in GRAINS:
        raise ValueError(f"unknown time grain {name!r}; use one of {list(GRAINS)}, or leave "
                         "it empty to read it from the data")
    return GRAINS[name]


_grain_named = grain  # for functions whose ``grain`` parameter hides it


def infer_grain(timestamps) -> str:
    """The grain the data itself comes in: ``month`` when its distinct dates lie a month
    or more apart (the median gap; monthly totals such as one line per item and month),
    otherwise ``week``. Daily panels are asked for, never inferred: order lines with a
    date every day are forecast by week unless a notebook sets the grain to ``day``."""
    days = pd.DatetimeIndex(pd.Series(pd.to_datetime(timestamps)).dt.normalize().unique())
    if len(days) < 3:
        return "week"
    gaps = np.diff(days.sort_values()) / pd.Timedelta(days=1)
    if np.all(gaps % 7 == 0):  # one weekday only: weekly data, however sparse
        return "week"
    gap = np.median(gaps)
    if gap > 45:
        raise ValueError(f"the order dates lie {gap:.0f} days apart (median): coarser than a "
                         "month, which the forecasts do not handle; give the data by month, "
                         "week or day")
    return "month" if gap >= 27 else "week"


def grain_of(panel: pd.DataFrame) -> Grain:
    """The grain of a panel, from the spacing of its periods (a week when it has one)."""
    ds = pd.DatetimeIndex(panel["ds"].unique()).sort_values()
    if len(ds) < 2:
        return GRAINS["week"]
    gap = np.min(np.diff(ds) / pd.Timedelta(days=1))
    for g, (lo, hi) in (("day", (1, 1)), ("week", (7, 7)), ("month", (28, 31))):
        if lo <= gap <= hi:
            if not (GRAINS[g].start(pd.Series(ds)) == pd.Series(ds)).all():
                raise ValueError(f"a {g}ly panel is dated on the first day of each period "
                                 f"({'Mondays' if g == 'week' else 'the 1st'}); its 'ds' is "
                                 "not: build it with demand_panel")
            return GRAINS[g]
    raise ValueError(f"the panel's periods are {gap:g} days apart: not a day, week or month")


# ---------------------------------------------------------------------------
# Panels
# ---------------------------------------------------------------------------
def _edge_sentence(which: str, g: Grain, period: pd.Timestamp, has: int, of: int) -> str:
    return (f"The {which} {g.name} ({period:%Y-%m-%d}) has only {has} of its {of} days in the "
            "data and is left out of the panel.")


def demand_panel(orders, by: list[str] | tuple = (), customers: pd.DataFrame | None = None,
                 products: pd.DataFrame | None = None, start=None, end=None,
                 grain: str | None = None, engine: str = "duckdb") -> pd.DataFrame:
    """Units per series and period, every period present (zeros filled). ``engine``:
    where the SQL runs (:data:`chainsight.sql.ENGINES`).

    ``grain``: ``day``, ``week`` (weeks start on Monday) or ``month``; empty: read from
    the data (:func:`infer_grain`). ``ds`` is the first day of each period; every
    model, the backtest and the lead-time demand read the grain from it.

    ``by`` lists the keys: any of ``segment`` (needs ``customers`` with
    customer_id and segment; customers not in it, for example those who arrived
    after the profile was built, form the segment ``new``), ``category`` (needs
    ``products``) and ``product_id``; empty for the total. Without ``start`` (``end``),
    a first (last) week or month that the data covers only in part is left out: the
    data starts after (stops before) a day it trades on elsewhere, such as a weekday or
    a day of the month, so that the period's units would read as a collapse.
    A week is partial when it misses a weekday the data trades on, a month when it misses
    two; data with one date per period has none. ``panel.attrs["partial"]`` says so ("" if
    nothing was left out) and
    ``panel.attrs["grain"]`` names the grain.
    """
    src, columns, tables = source(orders)
    S.require_columns(columns, "orders", (S.CUSTOMER_ID, S.TIMESTAMP, S.PRODUCT_ID, S.QUANTITY))
    by = list(by)
    unknown = [k for k in by if k not in ("segment", S.CATEGORY, S.PRODUCT_ID)]
    if unknown:
        raise ValueError(f"a panel can be keyed by segment, {S.CATEGORY} or {S.PRODUCT_ID}, "
                         f"not {unknown}")
    joins = []
    if "segment" in by:
        if customers is None or "segment" not in customers.columns:
            raise ValueError("a panel by segment needs customers with a 'segment' column")
        tables["seg"] = customers[[S.CUSTOMER_ID, "segment"]]
        joins.append(f"LEFT JOIN seg USING ({S.CUSTOMER_ID})")
    if S.CATEGORY in by:
        if products is None or S.CATEGORY not in products.columns:
            raise ValueError("a panel by category needs products with a 'category' column")
        tables["prod"] = products[[S.PRODUCT_ID, S.CATEGORY]]
        joins.append(f"JOIN prod USING ({S.PRODUCT_ID})")
    days = query(f"SELECT DISTINCT CAST({S.TIMESTAMP} AS DATE) AS d FROM {src} o",
                 engine=engine, **tables)["d"]
    g = _grain_named(grain) if grain else GRAINS[infer_grain(days)]
    sel = "".join(("coalesce(CAST(segment AS VARCHAR), 'new') AS segment" if k == "segment"
                   else k) + ", " for k in by)
    agg = query(f"""
        SELECT {sel} CAST(date_trunc('{g.name}', {S.TIMESTAMP}) AS DATE) AS ds,
               sum({S.QUANTITY}) AS y
        FROM {src} o {' '.join(joins)}
        GROUP BY ALL""", engine=engine, **tables)
    agg["ds"] = pd.to_datetime(agg["ds"])
    days = pd.DatetimeIndex(pd.to_datetime(days)).sort_values()
    partial = []
    # Data with one date per period (totals per week or month) has no partial period.
    dated_daily = len(days) and pd.Series(g.start(pd.Series(days))).duplicated().any()
    if g.name != "day" and dated_daily:
        trading = set(days.dayofweek)  # the weekdays the data has orders on
        # A week missing one trading day at an end is partial; a month, two (a holiday
        # such as 1 January is not taken for a missing day).
        least = 1 if g.name == "week" else 2

        def missed(a, b):  # trading weekdays from a to b, both included
            return sum(d.dayofweek in trading for d in pd.date_range(a, b, freq="D"))

        def length(p):
            return (g.shift(p, 1) - p).days

        if start is None:
            first = days[0]
            p = g.start(first)
            if missed(p, first - pd.Timedelta(days=1)) >= least and p < agg["ds"].max():
                partial.append(_edge_sentence("first", g, p, length(p) - (first - p).days,
                                              length(p)))
                agg = agg[agg["ds"] > p]
        if end is None:
            last = days[-1]
            p = g.start(last)
            if (missed(last + pd.Timedelta(days=1), g.shift(p, 1) - pd.Timedelta(days=1))
                    >= least and p > agg["ds"].min()):
                partial.append(_edge_sentence("last", g, p, (last - p).days + 1, length(p)))
                agg = agg[agg["ds"] < p]
    start = g.start(start) if start is not None else agg["ds"].min()
    end = pd.Timestamp(end) if end is not None else agg["ds"].max()
    periods = pd.date_range(start, end, freq=g.freq)
    series = agg[by].drop_duplicates() if by else pd.DataFrame(index=[0])
    grid = series.merge(pd.DataFrame({"ds": periods}), how="cross")
    panel = grid.merge(agg, on=[*by, "ds"], how="left").fillna({"y": 0.0})
    panel["unique_id"] = (panel[by].astype(str).agg("|".join, axis=1) if by else "total")
    panel = panel[["unique_id", "ds", "y", *by]].sort_values(["unique_id", "ds"],
                                                           ignore_index=True)
    panel.attrs["partial"] = " ".join(partial)  # the sentence a notebook prints
    panel.attrs["grain"] = g.name
    return panel


def period_calendar(calendar: pd.DataFrame | None, periods: pd.Series | pd.DatetimeIndex
                    ) -> pd.DataFrame:
    """Calendar features per period (``ds``, the periods of a panel, any grain): festival,
    peak, promotion and holiday days in the period, in the period before (lead) and after
    (lag), the position in the season (week of the year, month, or weekday for days) and
    ``festival_period``, true when the period holds a festival or peak day."""
    periods = pd.DatetimeIndex(pd.Series(periods).drop_duplicates().sort_values())
    g = grain_of(pd.DataFrame({"ds": periods}))
    position = {"week": lambda p: p.isocalendar().week.to_numpy(),
                "month": lambda p: p.month.to_numpy(),
                "day": lambda p: p.dayofweek.to_numpy()}[g.name]
    out = pd.DataFrame({"ds": periods, "season_position": position(periods)})
    cols = ["festival_days", "peak_days", "promo_days", "holiday_days"]
    if calendar is None or S.EVENT_KIND not in calendar.columns:
        for c in cols:
            out[c] = 0.0
    else:
        c = calendar.copy()
        c["ds"] = g.start(c[S.DATE])
        kind, event = c[S.EVENT_KIND], c[S.EVENT].astype(str)
        c["festival_days"] = ((kind == "festival") & ~event.str.endswith("holiday")).astype(float)
        c["holiday_days"] = event.str.endswith("holiday").astype(float)
        c["peak_days"] = c["peak"].astype(float) if "peak" in c else 0.0
        c["promo_days"] = (kind == "promotion").astype(float)
        wk = c.groupby("ds")[cols].sum()
        out = out.merge(wk, left_on="ds", right_index=True, how="left").fillna(0.0)
    for col in ("festival_days", "peak_days"):
        out[f"{col}_next"] = out[col].shift(-1).fillna(0.0)
        out[f"{col}_last"] = out[col].shift(1).fillna(0.0)
    out["festival_period"] = (out["festival_days"] + out["peak_days"]) > 0
    return out


# ---------------------------------------------------------------------------
# Models: each returns unique_id, ds, yhat, lo, hi for h periods after the training end
# ---------------------------------------------------------------------------
def _future(train: pd.DataFrame, h: int) -> pd.DatetimeIndex:
    """The ``h`` periods after the end of ``train``."""
    return pd.date_range(train["ds"].max(), periods=h + 1, freq=grain_of(train).freq)[1:]


def _wide(train: pd.DataFrame) -> pd.DataFrame:
    return train.pivot(index="unique_id", columns="ds", values="y").sort_index()


def _simple(train: pd.DataFrame, h: int, season: int, level: float) -> pd.DataFrame:
    """Naive (season 1) or seasonal naive with normal intervals from in-sample errors
    (Hyndman & Athanasopoulos, FPP3 5.5). A series shorter than a season falls back
    to naive."""
    W = _wide(train).to_numpy(float)
    n = W.shape[1]
    m = season if n > season else 1
    resid = W[:, m:] - W[:, :-m]
    sigma = np.sqrt(np.nanmean(resid**2, axis=1)) if resid.shape[1] else np.zeros(len(W))
    k = np.arange(1, h + 1)
    idx = n - m + (k - 1) % m
    yhat = W[:, idx]
    z = stats.norm.ppf(0.5 + level / 200)
    spread = z * sigma[:, None] * np.sqrt(((k - 1) // m + 1) if m > 1 else k)[None, :]
    return _frame(_wide(train).index, _future(train, h), yhat, yhat - spread,
                  yhat + spread)


def _frame(ids, weeks, yhat, lo, hi) -> pd.DataFrame:
    n, h = yhat.shape
    return pd.DataFrame({"unique_id": np.repeat(np.asarray(ids), h),
                         "ds": np.tile(weeks.to_numpy(), n),
                         "yhat": np.clip(yhat, 0, None).ravel(),
                         "lo": np.clip(lo, 0, None).ravel(), "hi": np.clip(hi, 0, None).ravel()})


def tsb_constants(train: pd.DataFrame, grid=TSB_GRID) -> tuple[float, float]:
    """TSB's smoothing constants (demand size, demand probability) for a panel: the pair
    from ``grid`` with the least one-step-ahead squared error over the training weeks of
    all its series."""
    W = _wide(train).to_numpy(float)
    occurs = (W > 0).astype(float)
    # The mean size of a non-zero period (0 for a series without one).
    mean_size = np.where(W > 0, W, 0).sum(axis=1) / np.maximum(occurs.sum(axis=1), 1)
    best, best_err = (0.2, 0.2), np.inf
    for a_d in grid:
        for a_p in grid:
            z = np.where(occurs[:, 0] > 0, W[:, 0], mean_size)
            prob, err = occurs[:, 0].copy(), 0.0
            for t in range(1, W.shape[1]):
                err += float(np.sum((W[:, t] - z * prob) ** 2))
                prob += a_p * (occurs[:, t] - prob)
                z = np.where(occurs[:, t] > 0, z + a_d * (W[:, t] - z), z)
            if err < best_err:
                best, best_err = (a_d, a_p), err
    return best


def _statsforecast(train: pd.DataFrame, h: int, name: str, level: float) -> pd.DataFrame:
    with warnings.catch_warnings():  # its progress bar warns when ipywidgets is absent
        warnings.simplefilter("ignore")
        from statsforecast import StatsForecast
        from statsforecast.models import (
            ADIDA,
            IMAPA,
            TSB,
            AutoETS,
            CrostonClassic,
            CrostonOptimized,
            CrostonSBA,
        )

    if name == "tsb_opt":
        a_d, a_p = tsb_constants(train)
        model = TSB(alpha_d=a_d, alpha_p=a_p, alias="m")
    else:
        model = {"ets": lambda: AutoETS(season_length=1, alias="m"),
                 "tsb": lambda: TSB(alpha_d=0.2, alpha_p=0.2, alias="m"),
                 "croston": lambda: CrostonClassic(alias="m"),
                 "croston_opt": lambda: CrostonOptimized(alias="m"),
                 "sba": lambda: CrostonSBA(alias="m"),
                 "adida": lambda: ADIDA(alias="m"),
                 "imapa": lambda: IMAPA(alias="m")}[name]()
    sf = StatsForecast(models=[model], freq=grain_of(train).freq, n_jobs=1)
    lvl = [int(level)] if name == "ets" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(df=train[["unique_id", "ds", "y"]], h=h, level=lvl)
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    if name == "ets":
        lo, hi = fc[f"m-lo-{int(level)}"], fc[f"m-hi-{int(level)}"]
    else:  # point forecasts only; the interval from Poisson noise around them
        lo = pd.Series(stats.poisson.ppf(0.5 - level / 200, fc["m"]), index=fc.index)
        hi = pd.Series(stats.poisson.ppf(0.5 + level / 200, fc["m"]), index=fc.index)
    return pd.DataFrame({"unique_id": fc["unique_id"].astype(str), "ds": fc["ds"],
                         "yhat": fc["m"].clip(lower=0), "lo": lo.clip(lower=0),
                         "hi": hi.clip(lower=0)})


def _gbm_rows(W: np.ndarray, anchors: np.ndarray, h: int, season: int,
              windows: tuple[int, int, int] = (4, 13, 52)):
    """Direct multi-horizon design: for each series, anchor period a and step k, the
    levels known at a (mean log units over the ``windows``: recent, medium, a year) and
    the target period a+k. Returns features and targets."""
    n_s, n_w = W.shape
    L = np.log1p(np.clip(W, 0, None))
    csum = np.concatenate([np.zeros((n_s, 1)), np.cumsum(L, axis=1)], axis=1)

    def mean_last(a, w):
        lo = np.maximum(a - w + 1, 0)
        return (csum[:, a + 1] - csum[:, lo]) / (a + 1 - lo)

    rows = []
    for a in anchors:
        m4, m13, m52 = (mean_last(a, w) for w in windows)
        for k in range(1, h + 1):
            t = a + k
            last_year = L[:, t - season] if t - season >= 0 else np.full(n_s, np.nan)
            rows.append(np.column_stack([
                np.arange(n_s), np.full(n_s, a), np.full(n_s, t), np.full(n_s, k),
                L[:, a] - m13, m4 - m13, m52 - m13, last_year - m13, m13,
            ]))
    return np.vstack(rows)


def _scale(block: np.ndarray) -> np.ndarray:
    """A series' recent level in units, from the larger of its recent and medium log means
    (4 and 13 weeks; the larger, so that a series that has just started growing is not divided by
    its empty past)."""
    m13 = block[:, 8]
    m4 = block[:, 5] + m13
    return np.expm1(np.maximum(m4, m13)) + 1


def _gbm(train: pd.DataFrame, h: int, level: float, season: int, cal_w: pd.DataFrame | None,
         keys: list[str], seed: int = 0) -> pd.DataFrame:
    """One gradient-boosting model across the series of ``train``: Poisson loss on units
    relative to each series' recent level, features on the log scale; the interval
    is split-conformal (see below)."""
    wide = _wide(train)
    W = wide.to_numpy(float)
    n_w = W.shape[1]
    windows = grain_of(train).windows
    future = _future(train, h)
    all_periods = pd.DatetimeIndex(wide.columns).append(future)
    cal = (period_calendar(None, all_periods) if cal_w is None else
           pd.DataFrame({"ds": all_periods}).merge(cal_w, on="ds", how="left").fillna(0))
    cal_cols = [c for c in cal.columns if c not in ("ds", "festival_period")]
    calX = cal[cal_cols].to_numpy(float)
    key_codes = (train.drop_duplicates("unique_id").set_index("unique_id").loc[wide.index, keys]
                 .apply(lambda s: pd.Categorical(s.astype(str)).codes).to_numpy(float)
                 if keys else np.zeros((len(W), 0)))

    def design(block):
        s, t = block[:, 0].astype(int), block[:, 2].astype(int)
        return np.column_stack([block[:, 3:], calX[t], key_codes[s]])

    Wfull = np.concatenate([W, np.full((len(W), h), np.nan)], axis=1)
    first = min(windows[1], n_w - h - 1)
    train_block = _gbm_rows(Wfull, np.arange(max(first, 0), n_w - 1), h, season, windows)
    train_block = train_block[train_block[:, 2] < n_w]
    t_idx = train_block[:, 2].astype(int)
    s_idx = train_block[:, 0].astype(int)
    # Target: units relative to the series' recent level (mean of the last 13 weeks, or
    # the grain's medium window, on the log scale), so that one model serves small and
    # large series; Poisson loss forecasts the mean, which adds up across series (a
    # median would not).
    scale = _scale(train_block)
    target = np.clip(W[s_idx, t_idx], 0, None) / scale
    X = design(train_block)
    cat_mask = [False] * (X.shape[1] - key_codes.shape[1]) + [True] * key_codes.shape[1]
    pred_block = _gbm_rows(Wfull, np.array([n_w - 1]), h, season, windows)
    Xp = design(pred_block)
    known = ~np.all(np.isnan(X), axis=0)  # e.g. "last year" with less than a year of data
    X, Xp = X[:, known], Xp[:, known]
    cat_mask = [m for m, k in zip(cat_mask, known, strict=True) if k]

    def fit(mask):
        """The model on the rows of ``mask``, with the columns those rows know (with a
        little over a year of data, "last year" is known only late); returns a predictor."""
        cols = ~np.all(np.isnan(X[mask]), axis=0)
        cats = [m for m, k in zip(cat_mask, cols, strict=True) if k]
        model = HistGradientBoostingRegressor(
            loss="poisson", max_iter=200, learning_rate=0.08, max_leaf_nodes=31,
            categorical_features=cats or None, random_state=seed).fit(
                X[mask][:, cols], target[mask])
        return lambda Z: model.predict(Z[:, cols])

    # Split-conformal interval: a model fitted without the last `cal` periods forecasts
    # them from the anchors just before; the spread of its errors per step, on the
    # log scale, is the interval around the final model's forecast.
    cal = min(windows[1], max(n_w // 4, 1))
    cut = n_w - cal
    early = t_idx < cut
    calib = (train_block[:, 1] >= cut - 1) & ~early
    k_all = train_block[:, 3].astype(int)
    q_lo, q_hi = np.zeros(h + 1), np.zeros(h + 1)
    if early.sum() > 50 and calib.sum() > 0:
        resid = (np.log1p(target[calib] * scale[calib])
                 - np.log1p(fit(early)(X[calib]) * scale[calib]))
        for k in range(1, h + 1):
            r = resid[k_all[calib] == k]
            r = r if len(r) >= 5 else resid
            q_lo[k], q_hi[k] = np.quantile(r, [0.5 - level / 200, 0.5 + level / 200])
    mean = fit(np.ones(len(X), dtype=bool))(Xp) * _scale(pred_block)
    s = pred_block[:, 0].astype(int)
    k = pred_block[:, 3].astype(int)
    res = pd.DataFrame({"unique_id": wide.index.to_numpy()[s], "ds": future[k - 1],
                        "yhat": mean, "lo": np.expm1(np.log1p(mean) + np.minimum(q_lo[k], 0)),
                        "hi": np.expm1(np.log1p(mean) + np.maximum(q_hi[k], 0))})
    res[["yhat", "lo", "hi"]] = res[["yhat", "lo", "hi"]].clip(lower=0)
    return res.sort_values(["unique_id", "ds"], ignore_index=True)


ETS_MIN_PERIODS = 7  # statsforecast's AutoETS refuses shorter series ("tiny datasets")


def forecast(train: pd.DataFrame, model: str, h: int = 8, level: float = 80,
             season_length: int | None = None,
             calendar_features: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """Forecast ``h`` periods after the end of ``train`` (a panel) with one model.
    ``season_length``: periods in a season (default: the grain's, 52 weeks, 12 months or
    7 days); ``calendar_features``: :func:`period_calendar` of the panel's periods and
    the next ones (the global model's festival and promotion features)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {MODELS}")
    season_length = season_length or grain_of(train).season
    if model == "naive":
        return _simple(train, h, 1, level)
    if model == "seasonal_naive":
        return _simple(train, h, season_length, level)
    if model == "ets":
        length = train.groupby("unique_id", observed=True).size()
        if length.min() < ETS_MIN_PERIODS:
            raise ValueError(
                f"model 'ets' needs at least {ETS_MIN_PERIODS} periods per series; series "
                f"{length.idxmin()!r} has {length.min()} (use 'naive' or a longer history)")
    if model == "ets" or model in INTERMITTENT:
        return _statsforecast(train, h, model, level)
    keys = [k for k in KEYS if k in train.columns]
    return _gbm(train, h, level, season_length, calendar_features, keys, seed)


# ---------------------------------------------------------------------------
# Backtest and accuracy
# ---------------------------------------------------------------------------
def default_origins(panel: pd.DataFrame, h: int | None = None, n_origins: int = 4,
                    step: int | None = None) -> list[pd.Timestamp]:
    """The last period of training for each origin: the latest leaves exactly ``h``
    periods, the others are ``step`` periods apart before it. The first needs 13
    periods of history. ``h`` and ``step`` default to the grain's (8 and 13 weeks, 6 and 6
    months, 14 and 28 days)."""
    g = grain_of(panel)
    h, step = h or g.horizon, step or g.origin_step
    periods = np.sort(panel["ds"].unique())
    last = len(periods) - h - 1
    idx = [last - i * step for i in range(n_origins)][::-1]
    if idx[0] < 13:
        unit = g.name
        raise ValueError(f"not enough history for {n_origins} origins {step} {unit}s apart "
                         f"with horizon {h} ({len(periods)} {unit}s of data; the first "
                         "origin needs 13)")
    return [pd.Timestamp(periods[i]) for i in idx]


def backtest(panel: pd.DataFrame, models, origins, h: int = 8, level: float = 80,
             season_length: int | None = None,
             calendar_features: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """Rolling-origin backtest: for each origin (last training period) and model, the
    forecast of the next ``h`` periods beside the actuals. Long format:
    ``model, origin, step, unique_id, ds, y, yhat, lo, hi`` (+ series keys)."""
    keys = [k for k in KEYS if k in panel.columns]
    periods = pd.DatetimeIndex(np.sort(panel["ds"].unique()))
    parts = []
    for origin in progress.bar(origins, f"backtest of {len(models)} model(s)", unit="origin"):
        origin = pd.Timestamp(origin)
        at = periods.searchsorted(origin, side="right")  # periods up to the origin
        train = panel[panel["ds"] <= origin]
        test = panel[panel["ds"].isin(periods[at:at + h])]
        for m in models:
            fc = forecast(train, m, h, level, season_length, calendar_features, seed)
            fc["unique_id"] = fc["unique_id"].astype(str)
            part = test.merge(fc, on=["unique_id", "ds"], how="left")
            part["model"], part["origin"] = m, origin
            part["step"] = periods.searchsorted(part["ds"]) - at + 1
            parts.append(part)
    cols = ["model", "origin", "step", "unique_id", "ds", "y", "yhat", "lo", "hi", *keys]
    return pd.concat(parts, ignore_index=True)[cols]


def scale_mae(panel: pd.DataFrame, origin, season_length: int | None = None,
              power: int = 1) -> pd.Series:
    """MASE denominators: each series' in-sample mean absolute seasonal-naive error up to
    ``origin`` (naive when the history is shorter than two seasons); with ``power=2``
    the mean squared error (RMSSE's denominator)."""
    season_length = season_length or grain_of(panel).season
    wide = _wide(panel[panel["ds"] <= pd.Timestamp(origin)])
    W = wide.to_numpy(float)
    m = season_length if W.shape[1] > 2 * season_length else 1
    return pd.Series(np.nanmean(np.abs(W[:, m:] - W[:, :-m]) ** power, axis=1),
                     index=wide.index)


def accuracy(bt: pd.DataFrame, panel: pd.DataFrame | None = None, by=("model",),
             season_length: int | None = None) -> pd.DataFrame:
    """WAPE, bias, 80% interval coverage and (with ``panel``) MASE and RMSSE, grouped by
    ``by``.

    WAPE = sum|error| / sum(actual); bias = sum(error) / sum(actual); coverage =
    share of actuals inside [lo, hi]; MASE = mean over series and origins of
    MAE / in-sample seasonal-naive MAE; RMSSE = the same mean of sqrt(MSE / in-sample
    seasonal-naive MSE). On intermittent series MASE rewards forecasting zero (the
    median of mostly-zero periods); RMSSE, like a stock decision, rewards the mean.
    """
    missing = bt[bt["yhat"].isna()]
    if len(missing):
        raise ValueError(f"{len(missing)} forecast(s) are missing (models "
                         f"{sorted(missing['model'].unique())}); a missing forecast cannot be "
                         "scored")
    d = bt.copy()
    d["err"] = d["yhat"] - d["y"]
    d["abs_err"] = d["err"].abs()
    d["covered"] = (d["y"] >= d["lo"] - 1e-9) & (d["y"] <= d["hi"] + 1e-9)
    by = list(by)
    out = d.groupby(by).agg(wape_num=("abs_err", "sum"), bias_num=("err", "sum"),
                            actual=("y", "sum"), coverage=("covered", "mean"),
                            points=("y", "size"))
    out["wape"] = out["wape_num"] / out["actual"]
    out["bias"] = out["bias_num"] / out["actual"]
    if panel is not None:
        scales = pd.concat([pd.DataFrame({
            "scale": scale_mae(panel, o, season_length),
            "scale2": scale_mae(panel, o, season_length, power=2)}).assign(
                origin=pd.Timestamp(o)) for o in d["origin"].unique()])
        scales.index.name = "unique_id"
        d = d.merge(scales.reset_index(), on=["unique_id", "origin"], how="left")
        d["sq_err"] = d["err"] ** 2
        per = d.groupby([*by, "unique_id", "origin"]).agg(
            mae=("abs_err", "mean"), mse=("sq_err", "mean"), scale=("scale", "first"),
            scale2=("scale2", "first"))
        per = per[per["scale"] > 0]
        out["mase"] = (per["mae"] / per["scale"]).groupby(level=by).mean()
        out["rmsse"] = np.sqrt(per["mse"] / per["scale2"]).groupby(level=by).mean()
    return out.drop(columns=["wape_num", "bias_num"]).reset_index()


def stock_evaluation(bt: pd.DataFrame, lead_time: int = 1, service: float = 0.95
                     ) -> pd.DataFrame:
    """What each model's forecast gives in stock: from each origin, every series gets a
    base-stock level covering the first ``lead_time`` + 1 forecast periods (the Poisson
    quantile at ``service`` of their forecast sum), and the backtest's actual demand is
    replayed against it (:func:`chainsight.inventory.simulate`, reviewed every period).
    Per model: ``fill_rate`` (units served / demanded) and ``mean_stock`` (units on hand
    per series and period). The measure that settles intermittent forecasts: a forecast
    of zero scores well on MASE and serves nobody here."""
    from chainsight import inventory

    rows = []
    for (model, origin), g in bt.groupby(["model", "origin"], sort=True):
        wide = g.pivot(index="unique_id", columns="step", values=["yhat", "y"])
        cover = wide["yhat"].iloc[:, :lead_time + 1].sum(axis=1).to_numpy(float)
        level = stats.poisson.ppf(service, np.maximum(cover, 1e-9))
        res = inventory.simulate(wide["y"].to_numpy(float), lead_time=lead_time,
                                 reorder_point=np.maximum(level - 1, 0), order_up_to=level)
        rows.append((model, origin, res.served.sum(), res.demand.sum(),
                     res.on_hand.mean()))
    d = pd.DataFrame(rows, columns=["model", "origin", "served", "demand", "stock"])
    out = d.groupby("model").agg(served=("served", "sum"), demand=("demand", "sum"),
                                 mean_stock=("stock", "mean"))
    out["fill_rate"] = out["served"] / out["demand"]
    return out[["fill_rate", "mean_stock"]].reset_index()


def series_errors(bt: pd.DataFrame) -> pd.DataFrame:
    """Backtest errors per series, model and step: what the inventory notebook turns
    into lead-time demand distributions."""
    d = bt.assign(error=bt["y"] - bt["yhat"], ratio=bt["y"] / bt["yhat"].replace(0, np.nan))
    return d[["model", "unique_id", "origin", "step", "ds", "y", "yhat", "error", "ratio"]]


# ---------------------------------------------------------------------------
# Profile-blind vs profile-aware
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileComparison:
    backtests: dict[str, pd.DataFrame]  # level -> backtest with both methods
    accuracy: pd.DataFrame  # level, method, origin, festival, wape, bias, coverage
    grain: str = "week"  # the panels' period


def _split(fc_parent: pd.DataFrame, shares: pd.DataFrame, parent: list[str],
           child: list[str]) -> pd.DataFrame:
    """Split parent forecasts into children by shares (columns parent + child + share)."""
    out = fc_parent.merge(shares, on=parent, how="inner")
    for c in ("yhat", "lo", "hi"):
        out[c] = out[c] * out["share"]
    return out[[*parent, *child, "ds", "origin", "yhat", "lo", "hi"]]


def _shares(panel: pd.DataFrame, origin, parent: list[str], child: list[str],
            window: int) -> pd.DataFrame:
    """Each child's share of its parent's units over the last ``window`` periods."""
    start = grain_of(panel).shift(origin, -window)
    recent = panel[(panel["ds"] <= origin) & (panel["ds"] > start)]
    tot = recent.groupby([*parent, *child])["y"].sum().reset_index()
    tot["share"] = tot["y"] / tot.groupby(parent)["y"].transform("sum")
    return tot.drop(columns="y").fillna({"share": 0})


def tuned_share_window(panel: pd.DataFrame, origin, parent: list[str], child: list[str],
                       h: int = 8, candidates=None) -> int:
    """The share window (periods) that best split the parents' actual units into
    children over the last ``h`` periods before ``origin``, with shares computed from
    the periods before those: a split tuned on the training period only (ties go to the
    longer window). ``candidates``: by default the grain's (4 to 52 weeks, 1 to 12
    months)."""
    g = grain_of(panel)
    candidates = candidates or g.share_windows
    o = pd.Timestamp(origin)
    cut = g.shift(o, -h)
    recent = panel[(panel["ds"] > cut) & (panel["ds"] <= o)]
    actual = recent.groupby([*parent, *child, "ds"])["y"].sum().rename("y").reset_index()
    actual["parent_y"] = actual.groupby([*parent, "ds"])["y"].transform("sum")
    best, best_err = candidates[-1], np.inf
    for w in sorted(candidates, reverse=True):
        sh = _shares(panel, cut, parent, child, w)
        d = actual.merge(sh, on=[*parent, *child], how="left").fillna({"share": 0.0})
        err = (d["parent_y"] * d["share"] - d["y"]).abs().sum()
        if err < best_err - 1e-9:
            best, best_err = w, err
    return best


def compare_profile(orders, customers: pd.DataFrame, products: pd.DataFrame,
                    calendar: pd.DataFrame | None, origins=None, h: int = 8,
                    model: str = "gbm", share_window: int | None = None, level: float = 80,
                    season_length: int | None = None, seed: int = 0,
                    grain: str | None = None, engine: str = "duckdb") -> ProfileComparison:
    """Backtest profile-blind against profile-aware forecasts at three levels.

    ``customers`` gives each customer's segment (customer_id, segment), from a profile
    built before the first origin; customers it does not know form the segment
    ``new``.

    Blind: forecast each category's total, split it into segments by the segments'
    shares of the category over the last ``share_window`` periods; by default the
    window is tuned at each origin on the training periods only
    (:func:`tuned_share_window`), the strongest split a planner without a profile
    model makes. Aware: forecast
    each segment x category series (the segment is a feature of the global model) and
    add them up to categories. Both go down to SKUs
    by each SKU's share within its category (blind) or within its segment x
    category (aware), each with its own tuned window, so both hierarchies add up.
    ``grain``, ``engine``: the panels' period and where they are aggregated (see
    :func:`demand_panel`).
    """
    seg_keys = ["segment", S.CATEGORY]
    cat = demand_panel(orders, [S.CATEGORY], products=products, grain=grain, engine=engine)
    grain = cat.attrs["grain"]  # the same for every panel, also when read from the data
    sku = demand_panel(orders, [S.CATEGORY, S.PRODUCT_ID], products=products, grain=grain,
                       engine=engine)
    seg = demand_panel(orders, seg_keys, customers=customers, products=products, grain=grain,
                       engine=engine)
    seg_sku = demand_panel(orders, [*seg_keys, S.PRODUCT_ID], customers=customers,
                           products=products, grain=grain, engine=engine)
    cal = period_calendar(calendar, cat["ds"].drop_duplicates()) if calendar is not None \
        else None
    origins = origins or default_origins(cat, h)
    kw = dict(h=h, level=level, season_length=season_length, calendar_features=cal,
              seed=seed)
    bt_cat = backtest(cat, [model], origins, **kw)
    bt_seg = backtest(seg, [model], origins, **kw)
    cols = ["ds", "origin", "yhat", "lo", "hi"]
    parts = {"segment x category": [], S.CATEGORY: [], "sku": []}
    for origin in origins:
        o = pd.Timestamp(origin)
        fc_c = bt_cat[bt_cat["origin"] == o][[S.CATEGORY, *cols]]
        fc_s = bt_seg[bt_seg["origin"] == o][[*seg_keys, *cols]]
        def window(panel, parent, child, o=o):
            return share_window or tuned_share_window(panel, o, parent, child, h)

        blind_seg = _split(fc_c, _shares(seg, o, [S.CATEGORY], ["segment"],
                                         window(seg, [S.CATEGORY], ["segment"])),
                           [S.CATEGORY], ["segment"])
        parts["segment x category"] += [blind_seg.assign(method="profile-blind"),
                                         fc_s.assign(method="profile-aware")]
        aware_cat = fc_s.groupby([S.CATEGORY, "ds", "origin"], as_index=False)[
            ["yhat", "lo", "hi"]].sum()
        blind_sku = _split(fc_c, _shares(sku, o, [S.CATEGORY], [S.PRODUCT_ID],
                                         window(sku, [S.CATEGORY], [S.PRODUCT_ID])),
                           [S.CATEGORY], [S.PRODUCT_ID])
        aware_sku = (_split(fc_s, _shares(seg_sku, o, seg_keys, [S.PRODUCT_ID],
                                          window(seg_sku, seg_keys, [S.PRODUCT_ID])),
                            seg_keys, [S.PRODUCT_ID])
                     .groupby([S.CATEGORY, S.PRODUCT_ID, "ds", "origin"], as_index=False)[
                         ["yhat", "lo", "hi"]].sum())
        parts[S.CATEGORY] += [fc_c.assign(method="profile-blind"),
                              aware_cat.assign(method="profile-aware")]
        parts["sku"] += [blind_sku.assign(method="profile-blind"),
                         aware_sku.assign(method="profile-aware")]
    actuals = {"segment x category": (seg, seg_keys), S.CATEGORY: (cat, [S.CATEGORY]),
               "sku": (sku, [S.CATEGORY, S.PRODUCT_ID])}
    festival = cal[["ds", "festival_period"]] if cal is not None else None
    backtests, acc = {}, []
    for lvl, frames in parts.items():
        panel, keys = actuals[lvl]
        d = pd.concat(frames, ignore_index=True).merge(panel[[*keys, "ds", "y"]],
                                                       on=[*keys, "ds"], how="left")
        d["y"] = d["y"].fillna(0.0)
        d["model"] = d["method"]
        d["festival"] = (d.merge(festival, on="ds", how="left")["festival_period"]
                         .fillna(False).to_numpy() if festival is not None else False)
        backtests[lvl] = d
        for by in (["method"], ["method", "origin"], ["method", "festival"],
                   ["method", "origin", "festival"]):
            acc.append(accuracy(d, by=by).assign(level=lvl))
    return ProfileComparison(backtests, pd.concat(acc, ignore_index=True), grain)


def customer_base_forecast(profile, orders: pd.DataFrame, products: pd.DataFrame,
                           h: int = 8, grain: str = "week") -> pd.DataFrame:
    """Category demand from the customer base: the bridge from profile to demand.

    Each profiled customer's expected purchases in each of the ``h`` periods (of
    ``grain``) after the period of the profile date (BG/NBD conditional expectation),
    times their segment's units per purchase in each category (from the orders up to
    the profile date), summed by category and period. Customers who have not bought
    yet are not in it, and the calendar is not either: it is the demand of the customers
    already known.
    """
    from chainsight import clv

    as_of = pd.Timestamp(profile.as_of)
    known = orders[orders[S.TIMESTAMP] <= as_of]
    summary = clv.rfm_summary(known, calibration_end=as_of)
    c = profile.customers[[S.CUSTOMER_ID, "segment"]].merge(summary, on=S.CUSTOMER_ID)
    g = GRAINS[grain]
    start = g.shift(g.start(as_of), 1)
    # BG/NBD counts time in weeks: the end of each period, in weeks from the first.
    ends = [(g.shift(start, k) - start).days / 7 for k in range(h + 1)]
    cum = np.stack([profile.value_fit.expected_purchases(w, c["x"], c["t_x"],
                                                          c["T"]) for w in ends])
    tx = pd.DataFrame(np.diff(cum, axis=0).T, index=c["segment"].to_numpy()).groupby(
        level=0).sum()  # segment x period: expected purchases
    past = known.merge(c[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID).merge(
        products[[S.PRODUCT_ID, S.CATEGORY]], on=S.PRODUCT_ID)
    units = past.groupby(["segment", S.CATEGORY])[S.QUANTITY].sum()
    purchases = past.assign(day=past[S.TIMESTAMP].dt.normalize()).drop_duplicates(
        [S.CUSTOMER_ID, "day"]).groupby("segment").size()
    per_purchase = units.div(purchases, level="segment").rename("units").reset_index()
    rows = []
    for _, r in per_purchase.iterrows():
        for k in range(h):
            rows.append((r[S.CATEGORY], g.shift(start, k),
                         tx.loc[r["segment"], k] * r["units"]))
    out = pd.DataFrame(rows, columns=[S.CATEGORY, "ds", "yhat"])
    return out.groupby([S.CATEGORY, "ds"], as_index=False)["yhat"].sum()


def placebo_segments(segments: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The same segment labels shuffled among the customers: groups of the same sizes
    that carry no profile information. Forecast by them, bottom-up like the profile,
    they give the profile-blind side the same structure (many series, summed), so the
    gain left over is the profile's own (DESIGN.md, attribution)."""
    rng = np.random.default_rng(seed)
    return segments.assign(segment=rng.permutation(segments["segment"].to_numpy()))


def profile_units(cmp: ProfileComparison, level: str = "segment x category",
                  festival: bool | None = None,
                  baseline: ProfileComparison | None = None) -> pd.DataFrame:
    """The units a profile comparison is judged on: one row per origin x target week,
    with the absolute errors of each method summed over the level's series (``blind``,
    ``aware``) and the actual units (``actual``). ``festival``: only festival weeks
    (True), only other weeks (False), or all (None). With ``baseline`` (the comparison
    run on :func:`placebo_segments`), the blind side is that run's bottom-up forecast
    instead of the top-down split (category and SKU levels only)."""
    if baseline is not None and level == "segment x category":
        raise ValueError("a placebo baseline has other groups than the segments: compare it "
                         "at category or sku level")

    def errors(c, method):
        d = c.backtests[level]
        d = d[d["method"] == method]
        if festival is not None:
            d = d[d["festival"] == festival]
        return d.assign(e=(d["yhat"] - d["y"]).abs()).groupby(["origin", "ds"]).agg(
            e=("e", "sum"), y=("y", "sum"))

    aware = errors(cmp, "profile-aware")
    blind = errors(baseline, "profile-aware") if baseline is not None else \
        errors(cmp, "profile-blind")
    blind = blind.reindex(aware.index)
    return pd.DataFrame({"blind": blind["e"], "aware": aware["e"],
                         "actual": aware["y"]}).reset_index()


def profile_difference(cmp: ProfileComparison, level: str = "segment x category",
                       festival: bool | None = None,
                       baseline: ProfileComparison | None = None, n_boot: int = 2000,
                       seed: int = 0):
    """WAPE of profile-aware against profile-blind at one level of a
    :class:`ProfileComparison` (or against ``baseline``, the placebo run; see
    :func:`profile_units`), with a paired bootstrap interval over the origin x week
    units. Returns a :class:`chainsight.compare.Paired`."""
    u = profile_units(cmp, level, festival, baseline)
    unit = cmp.grain
    metric = (f"WAPE at {level}" + {None: "", True: f", festival {unit}s",
                                    False: f", other {unit}s"}[festival]
              + (", against random groups" if baseline is not None else ""))
    return wape_difference(u, metric, f"origin x {unit}", n_boot=n_boot, seed=seed)


def profile_differences(orders, segments: pd.DataFrame, products: pd.DataFrame,
                        calendar: pd.DataFrame | None, origins, h: int = 8, model: str = "gbm",
                        seed: int = 0, grain: str | None = None, engine: str = "duckdb"
                        ) -> tuple[dict, ProfileComparison]:
    """The six comparisons a notebook states for the profile's forecast.

    Profile-aware against profile-blind (the category forecast split by tuned shares)
    at the segment x category and the category level, and at the category level
    against the same bottom-up forecast over random groups of the same sizes
    (:func:`placebo_segments`); each over all weeks and, with a ``calendar``, over
    festival weeks. Returns the
    :class:`chainsight.compare.Paired` results by name, and the profile comparison.
    ``engine``: where the panels are aggregated (:func:`demand_panel`).
    """
    cmp = compare_profile(orders, segments, products, calendar, origins=origins, h=h,
                          model=model, seed=seed, grain=grain, engine=engine)
    placebo = compare_profile(orders, placebo_segments(segments, seed), products, calendar,
                              origins=origins, h=h, model=model, seed=seed, grain=grain,
                              engine=engine)
    # Festival periods are compared only where a calendar names them.
    unit = cmp.grain
    weeks = {None: f"all {unit}s", True: f"festival {unit}s"} if calendar is not None \
        else {None: f"all {unit}s"}
    diffs = {f"{lvl}, {weeks[fest]}": profile_difference(cmp, lvl, fest, seed=seed)
             for lvl in ("segment x category", "category") for fest in weeks}
    diffs.update({f"category against random groups, {weeks[fest]}":
                  profile_difference(cmp, "category", fest, placebo, seed=seed)
                  for fest in weeks})
    return diffs, cmp


def wape_difference(units: pd.DataFrame, metric: str = "WAPE", unit: str = "origin x week",
                    n_boot: int = 2000, seed: int = 0):
    """Paired WAPE difference over units with columns blind, aware (absolute errors) and
    actual, for example :func:`profile_units` of several runs concatenated."""
    from chainsight import compare

    return compare.paired(units["blind"].to_numpy(), units["aware"].to_numpy(),
                          units["actual"].to_numpy(), metric=metric, unit=unit,
                          n_boot=n_boot, seed=seed)
