"""Customer profiles (客户画像): features, RFM, segments, segment cards, and the one
entry point later notebooks use, :func:`build_profile`.

Features are aggregated from order lines in SQL on DuckDB (one pass per table);
segmentation uses scikit-learn (k-means and a Gaussian mixture) on scaled
features; customer value comes from :mod:`chainsight.clv`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from chainsight import clv
from chainsight import schema as S
from chainsight.sql import query, source

INCOME_ORDER = {"low": 0, "middle": 1, "high": 2, "very high": 3}
TIER_ORDER = {"1": 0, "new-1": 1, "2": 2, "3": 3}


def _ordered_tiers(frame: pd.DataFrame) -> bool:
    """Whether the city tiers are the ordered Chinese tiers (else labels without order)."""
    if S.CITY_TIER not in frame.columns or frame[S.CITY_TIER].isna().all():
        return False
    return bool(frame[S.CITY_TIER].dropna().astype(str).isin(list(TIER_ORDER)).all())

# RFM groups from the recency score and the frequency score (the usual map).
RFM_GROUPS = [
    ("champions", [5], [4, 5]), ("loyal", [3, 4], [4, 5]),
    ("potential loyalists", [4, 5], [2, 3]), ("new customers", [5], [1]),
    ("promising", [4], [1]), ("need attention", [3], [3]),
    ("about to sleep", [3], [1, 2]), ("cannot lose them", [1, 2], [5]),
    ("at risk", [1, 2], [3, 4]), ("hibernating", [1, 2], [1, 2]),
]  # fmt: skip


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------
def _safe(value) -> str:
    """A value as part of a column name: lower case, letters, digits and '_'."""
    return "".join(ch if ch.isalnum() else "_" for ch in str(value).lower())


def _cols(frame: pd.DataFrame | None, *names: str) -> bool:
    return frame is not None and all(n in frame.columns for n in names)


def _with_shares(feats: pd.DataFrame, rows: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Add one column ``{prefix}_{label}`` per label: each customer's share of the
    amount (lines, revenue) with that label, over all their amount (rows with no label
    count in the total only), in the labels' sorted order."""
    total = rows.groupby(S.CUSTOMER_ID)["amount"].sum()
    named = rows.dropna(subset=["label"])
    wide = named.pivot_table(index=S.CUSTOMER_ID, columns="label", values="amount",
                             aggfunc="sum", fill_value=0.0).reindex(total.index, fill_value=0.0)
    wide = wide[sorted(wide.columns)].div(total.replace(0, np.nan), axis=0)
    wide.columns = [f"{prefix}_{_safe(c)}" for c in wide.columns]
    return feats.merge(wide, left_on=S.CUSTOMER_ID, right_index=True, how="left")


def customer_features(orders: pd.DataFrame | str | Path,
                      customers: pd.DataFrame | None = None,
                      products: pd.DataFrame | None = None,
                      calendar: pd.DataFrame | None = None,
                      as_of: str | pd.Timestamp | None = None,
                      engine: str = "duckdb") -> pd.DataFrame:
    """One row per customer with RFM, behaviour and (where present) demographics.

    Required: orders (a DataFrame, or the path of a Parquet file, read out of core)
    with customer_id, timestamp, product_id, quantity, unit_price.
    Optional inputs add features: order_id (orders), discount, promo, ship_mode,
    channel, returned, complaint, customised (order lines); category (products:
    revenue share per category); festival days (calendar: the share of purchase
    days in a festival window); demographics and city tier (customers). Only
    orders up to ``as_of`` (default: the last order) are used. Shares of lines
    (discount, ship mode, channel, returns, ...) are per order line. ``engine``: where the
    SQL runs (:data:`chainsight.sql.ENGINES`).
    """
    src, columns, tables = source(orders)
    S.require_columns(columns, "orders", S.REQUIRED["orders"])
    if as_of is None:
        as_of = query(f"SELECT max({S.TIMESTAMP}) AS t FROM {src}", engine=engine,
                      **tables)["t"].iloc[0]
    as_of = pd.Timestamp(as_of)
    order_key = S.ORDER_ID if S.ORDER_ID in columns else \
        f"{S.CUSTOMER_ID} || '@' || CAST({S.TIMESTAMP} AS VARCHAR)"
    line_aggs = []
    if S.DISCOUNT in columns:
        line_aggs.append(f"avg(CAST({S.DISCOUNT} > 0 AS DOUBLE)) AS discount_share")
    for flag, name in ((S.PROMO, "promo_share"), (S.RETURNED, "return_rate"),
                       (S.COMPLAINT, "complaint_rate"), (S.CUSTOMISED, "customised_share")):
        if flag in columns:
            line_aggs.append(f"avg(CAST({flag} AS DOUBLE)) AS {name}")
    if S.SHIP_MODE in columns:
        for mode in ("express", "standard", "economy", "pickup"):
            line_aggs.append(f"avg(CAST({S.SHIP_MODE} = '{mode}' AS DOUBLE)) AS ship_{mode}")
    # Shares by channel and by category are pivoted from grouped rows, so that no
    # label from the data is ever written into the SQL text.
    shares = []
    if S.CHANNEL in columns:  # share of lines per channel
        shares.append(("channel", query(f"""
            SELECT {S.CUSTOMER_ID}, {S.CHANNEL} AS label, count(*) AS amount FROM {src}
            WHERE {S.TIMESTAMP} <= $as_of GROUP BY 1, 2""", {"as_of": as_of}, engine,
            **tables)))
    if _cols(products, S.PRODUCT_ID, S.CATEGORY):  # revenue share per category
        shares.append(("cat", query(f"""
            SELECT o.{S.CUSTOMER_ID}, p.{S.CATEGORY} AS label,
                   sum(o.{S.QUANTITY} * o.{S.UNIT_PRICE}) AS amount
            FROM {src} o LEFT JOIN (SELECT {S.PRODUCT_ID}, {S.CATEGORY} FROM products) p
                 USING ({S.PRODUCT_ID})
            WHERE o.{S.TIMESTAMP} <= $as_of GROUP BY 1, 2""", {"as_of": as_of}, engine,
            **tables, products=products)))
    fest_agg = ""
    if _cols(calendar, S.DATE, S.EVENT_KIND):  # a semi-join on the few festival days
        tables["festival_days"] = pd.DataFrame({"day": pd.to_datetime(
            calendar.loc[calendar[S.EVENT_KIND] == "festival", S.DATE]).dt.date.unique()})
        fest_agg = (", avg(CAST(day IN (SELECT day FROM festival_days) AS DOUBLE)) "
                    "AS festival_share")
    extra = "".join(", " + a for a in line_aggs)
    main_cte = main_col = main_join = ""
    if S.CHANNEL in columns:  # the most used channel; ties go to the first name
        main_cte = (f", chn AS (SELECT {S.CUSTOMER_ID}, {S.CHANNEL}, row_number() OVER ("
                    f"PARTITION BY {S.CUSTOMER_ID} ORDER BY count(*) DESC, {S.CHANNEL}) AS rank"
                    f" FROM l GROUP BY 1, 2), main AS (SELECT {S.CUSTOMER_ID}, {S.CHANNEL} AS "
                    f"main_channel FROM chn WHERE rank = 1)")
        main_col = ", main.main_channel"
        main_join = f"LEFT JOIN main USING ({S.CUSTOMER_ID})"
    # Only the columns used: the line CTE is read several times, so it is kept narrow.
    used = [c for c in (*S.REQUIRED["orders"], S.ORDER_ID, S.DISCOUNT, S.PROMO, S.RETURNED,
                        S.COMPLAINT, S.CUSTOMISED, S.SHIP_MODE, S.CHANNEL) if c in columns]
    feats = query(f"""
        WITH l AS NOT MATERIALIZED (SELECT {", ".join(used)} FROM {src}
                   WHERE {S.TIMESTAMP} <= $as_of),
        days AS (SELECT {S.CUSTOMER_ID}, CAST({S.TIMESTAMP} AS DATE) AS day
                 FROM l GROUP BY 1, 2),
        gaps AS (SELECT {S.CUSTOMER_ID}, day,
                        date_diff('day', lag(day) OVER (PARTITION BY {S.CUSTOMER_ID}
                                  ORDER BY day), day) AS gap FROM days),
        ipt AS (SELECT {S.CUSTOMER_ID}, count(*) AS purchase_days, avg(gap) AS ipt_mean_days,
                       stddev_samp(gap) / nullif(avg(gap), 0) AS ipt_cv {fest_agg}
                FROM gaps GROUP BY 1),
        base AS (
            SELECT l.{S.CUSTOMER_ID},
                   date_diff('day', CAST(max(l.{S.TIMESTAMP}) AS DATE),
                             CAST($as_of AS DATE)) AS recency_days,
                   count(DISTINCT {order_key}) AS frequency,
                   sum({S.QUANTITY} * {S.UNIT_PRICE}) AS monetary,
                   count(*) AS order_lines,
                   date_diff('day', CAST(min(l.{S.TIMESTAMP}) AS DATE),
                             CAST($as_of AS DATE)) AS tenure_days,
                   avg({S.UNIT_PRICE}) AS avg_unit_price
                   {extra}
            FROM l GROUP BY l.{S.CUSTOMER_ID})
        {main_cte}
        SELECT base.*, monetary / frequency AS avg_order_value,
               order_lines / frequency AS basket_lines, ipt.purchase_days,
               ipt.ipt_mean_days, ipt.ipt_cv{", ipt.festival_share" if fest_agg else ""}
               {main_col}
        FROM base JOIN ipt USING ({S.CUSTOMER_ID}) {main_join}
        ORDER BY {S.CUSTOMER_ID}""", {"as_of": as_of}, engine, **tables)
    for prefix, rows in shares:
        feats = _with_shares(feats, rows, prefix)
    # Column order: line shares with the other line features, category shares last.
    chan = [c for c in feats.columns if c.startswith("channel_")]
    cat = [c for c in feats.columns if c.startswith("cat_")]
    main = [c for c in feats.columns if c == "main_channel"]
    rest = [c for c in feats.columns if c not in {*chan, *cat, *main}]
    at = rest.index("avg_order_value")
    feats = feats[rest[:at] + chan + rest[at:] + cat + main]
    feats["orders_per_year"] = feats["frequency"] / np.maximum(feats["tenure_days"], 30) * 365
    if customers is not None:
        demo = [c for c in (S.AGE, S.GENDER, S.INCOME_BAND, S.OCCUPATION, S.CITY, S.CITY_TIER)
                if c in customers.columns]
        if demo:
            feats = feats.merge(customers[[S.CUSTOMER_ID, *demo]], on=S.CUSTOMER_ID, how="left")
    return feats


def rfm_scores(features: pd.DataFrame) -> pd.DataFrame:
    """R, F, M quintile scores (5 = best) and the named RFM group.

    Ties are broken by rank order, so each score has (nearly) equal counts.
    """
    f = features
    if len(f) < 5:
        raise ValueError(f"RFM scores rank customers into quintiles and need at least 5 "
                         f"customers with orders; the data has {len(f)}: a customer profile "
                         "cannot be built from it (notebooks 01 and 03 need one)")
    out = pd.DataFrame({S.CUSTOMER_ID: f[S.CUSTOMER_ID]})
    for col, name, ascending in (("recency_days", "r_score", False),
                                 ("frequency", "f_score", True),
                                 ("monetary", "m_score", True)):
        ranks = f[col].rank(method="first", ascending=ascending)
        out[name] = pd.qcut(ranks, 5, labels=False).astype(int) + 1
    out["rfm_score"] = out["r_score"] * 100 + out["f_score"] * 10 + out["m_score"]
    group = np.full(len(out), "other", dtype=object)
    for name, rs, fs in reversed(RFM_GROUPS):
        group[out["r_score"].isin(rs).to_numpy() & out["f_score"].isin(fs).to_numpy()] = name
    out["rfm_group"] = group
    return out


# ---------------------------------------------------------------------------
# Segmentation
# ---------------------------------------------------------------------------
def segmentation_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The numeric, scaled-ready matrix used for segmentation.

    Shares and rates are used as they are, money and counts on a log scale,
    demographics as numbers (age, female, income and tier as ordinals) and
    occupation one-hot; missing values are filled with the column median.
    """
    f = features
    cols = [c for c in f.columns if c.startswith(("cat_", "ship_", "channel_"))]
    cols += [c for c in ("discount_share", "festival_share", "promo_share", "return_rate",
                         "complaint_rate", "customised_share") if c in f.columns]
    m = f[cols].astype(float).copy()
    m["log_aov"] = np.log1p(f["avg_order_value"].clip(lower=0))
    m["log_unit_price"] = np.log1p(f["avg_unit_price"].clip(lower=0))
    m["log_orders_per_year"] = np.log1p(f["orders_per_year"])
    m["basket_lines"] = f["basket_lines"]
    if S.AGE in f.columns and f[S.AGE].notna().any():
        m["age"] = f[S.AGE].astype(float)
    if S.GENDER in f.columns and f[S.GENDER].notna().any():
        m["female"] = (f[S.GENDER] == "F").astype(float).where(f[S.GENDER].notna())
    if S.INCOME_BAND in f.columns and f[S.INCOME_BAND].notna().any():
        m["income"] = f[S.INCOME_BAND].map(INCOME_ORDER).astype(float)
    if _ordered_tiers(f):
        m["tier"] = f[S.CITY_TIER].map(TIER_ORDER).astype(float)
    # Tiers of other labels (regions, states) have no order: one column per label.
    for col, prefix in ((S.OCCUPATION, "occ"), (S.CITY_TIER, "tier")):
        if col in f.columns and f[col].notna().any() and (col != S.CITY_TIER
                                                           or not _ordered_tiers(f)):
            dummies = pd.get_dummies(f[col], prefix=prefix, dtype=float)
            dummies[f[col].isna().to_numpy()] = np.nan
            m = m.join(dummies)
    m = m.loc[:, m.notna().any()]
    return m.fillna(m.median()).fillna(0.0)


# A mixture model for mixed data: Gaussian (continuous), categorical (demographics)
# and multinomial (behaviour counts) blocks, conditionally independent given the
# segment. Missing values are left out of a customer's likelihood, not imputed.
BEHAVIOUR_BLOCKS = {
    "category": "cat_",
    "ship mode": "ship_",
    "channel": "channel_",
}
BINARY_BLOCKS = ("discount_share", "festival_share")
CATEGORICAL = (S.OCCUPATION, S.GENDER, S.INCOME_BAND, S.CITY_TIER)
EVIDENCE_CAP = 5  # purchases a customer's behaviour counts for, at most
# Customers the segment models are fitted on: above it, a random sample of this many is
# fitted and every customer assigned to the chosen model's most likely segment (the
# mixture's posterior; k-means' nearest centre). Default and small data fit on everyone.
FIT_SAMPLE = 50_000


@dataclass(frozen=True)
class MixtureData:
    gaussian: np.ndarray  # n x d, standardised, NaN where missing
    gaussian_names: list[str]
    categorical: list[tuple[str, np.ndarray, list]]  # name, codes (-1 missing), levels
    counts: list[tuple[str, np.ndarray, list]]  # name, n x L effective counts, levels
    gaussian_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gaussian_sd: np.ndarray = field(default_factory=lambda: np.ones(0))

    def rows(self, idx: np.ndarray) -> MixtureData:
        """The same arrangement for the customers at positions ``idx`` (standardised as
        for everyone, so a fit on them assigns everyone on one scale)."""
        return MixtureData(self.gaussian[idx], self.gaussian_names,
                           [(n, c[idx], lv) for n, c, lv in self.categorical],
                           [(n, c[idx], lv) for n, c, lv in self.counts],
                           self.gaussian_mean, self.gaussian_sd)

    def blocks(self) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """What the mixture's likelihood reads: the continuous block with 0 where missing,
        where it is present, and the count blocks (categoricals one-hot, then the
        behaviour counts)."""
        n = len(self.gaussian)
        present = ~np.isnan(self.gaussian)
        onehots = []
        for _, codes, levels in self.categorical:
            oh = np.zeros((n, len(levels)))
            ok = codes >= 0
            oh[np.flatnonzero(ok), codes[ok]] = 1
            onehots.append(oh)
        return (np.where(present, self.gaussian, 0.0), present,
                onehots + [c for _, c, _ in self.counts])


def mixture_data(features: pd.DataFrame, evidence_cap: int = EVIDENCE_CAP) -> MixtureData:
    """Arrange profile features for the mixed-data mixture.

    Continuous: age, log average order value, log orders per year (standardised).
    Categorical: occupation, gender, income band, city tier (where present).
    Behaviour: category, ship-mode and channel mixes, discount and festival shares,
    as counts over at most ``evidence_cap`` purchases, so that a heavy buyer's
    habits do not outweigh who they are (the model treats purchases as
    independent given the segment, which overstates the evidence of many).
    """
    f = features
    g = {"log_aov": np.log1p(f["avg_order_value"].clip(lower=0)),
         "log_orders_per_year": np.log1p(f["orders_per_year"])}
    if S.AGE in f.columns and f[S.AGE].notna().any():
        g = {"age": f[S.AGE].astype(float), **g}
    G = np.column_stack([np.asarray(v, dtype=float) for v in g.values()])
    mean, sd = np.nanmean(G, axis=0), np.nanstd(G, axis=0)
    sd = np.where(sd > 0, sd, 1)
    G = (G - mean) / sd
    cats = []
    for col in CATEGORICAL:
        if col in f.columns and f[col].notna().any():
            c = pd.Categorical(f[col])
            cats.append((col, c.codes.astype(int), list(c.categories)))
    weight = np.minimum(f["purchase_days"].to_numpy(float), evidence_cap)[:, None]
    counts = []
    for name, prefix in BEHAVIOUR_BLOCKS.items():
        cols = [c for c in f.columns if c.startswith(prefix)]
        if len(cols) > 1:
            shares = f[cols].fillna(0).to_numpy(float)
            counts.append((name, shares * weight, [c[len(prefix):] for c in cols]))
    for col in BINARY_BLOCKS:
        if col in f.columns:
            share = f[col].fillna(0).to_numpy(float)[:, None]
            counts.append((col, np.hstack([share, 1 - share]) * weight, ["yes", "no"]))
    return MixtureData(G, list(g), cats, counts, mean, sd)


@dataclass(frozen=True)
class MixtureFit:
    k: int
    labels: np.ndarray
    log_likelihood: float
    bic: float
    n_params: int
    iterations: int
    converged: bool
    log_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))  # k
    mu: np.ndarray = field(default_factory=lambda: np.zeros(0))  # k x d (standardised)
    var: np.ndarray = field(default_factory=lambda: np.zeros(0))  # k x d
    log_categorical: list = field(default_factory=list)  # per categorical block: k x levels
    icl: float = np.nan  # BIC + 2 x entropy of the assignments (Biernacki et al. 2000)
    log_blocks: list = field(default_factory=list)  # per count block (categoricals first)

    def assign(self, data: MixtureData, chunk: int = 100_000) -> np.ndarray:
        """Each customer's most likely segment under this fit (its E-step, in chunks)."""
        out = np.empty(len(data.gaussian), dtype=int)
        for lo in range(0, len(out), chunk):
            G0, present, blocks = data.rows(np.arange(lo, min(lo + chunk, len(out)))).blocks()
            out[lo:lo + len(G0)] = _log_joint(G0, present, blocks, self.log_weight, self.mu,
                                              self.var, self.log_blocks).argmax(axis=1)
        return out


def _log_joint(G0: np.ndarray, present: np.ndarray, blocks: list[np.ndarray],
               log_weight: np.ndarray, mu: np.ndarray, var: np.ndarray,
               log_blocks: list[np.ndarray]) -> np.ndarray:
    """log P(segment) + log P(customer | segment), customers x segments."""
    lp = np.tile(log_weight, (len(G0), 1))
    for d in range(G0.shape[1]):
        ll = -0.5 * (np.log(2 * np.pi * var[:, d])[None, :]
                     + (G0[:, [d]] - mu[None, :, d]) ** 2 / var[None, :, d])
        lp += np.where(present[:, [d]], ll, 0.0)
    for b, lpk in zip(blocks, log_blocks, strict=True):
        lp += b @ lpk.T
    return lp


def fit_mixture(data: MixtureData, k: int, seed: int = 42, n_init: int = 2,
                max_iter: int = 300, tol: float = 1e-7) -> MixtureFit:
    """EM for the mixed-data mixture with ``k`` segments; best of ``n_init`` starts."""
    G = data.gaussian
    n = len(G)
    G0, present, blocks = data.blocks()
    n_cat = len(data.categorical)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(n_init):
        R = rng.dirichlet(np.ones(k), size=n)
        prev, converged = -np.inf, False
        it = 0
        while it < max_iter:
            it += 1
            # M-step
            nk = R.sum(axis=0) + 1e-10
            w = R.T @ present
            mu = (R.T @ G0) / np.maximum(w, 1e-10)
            var = np.maximum((R.T @ G0**2) / np.maximum(w, 1e-10) - mu**2, 1e-2)
            logp = [np.log((R.T @ b + 0.01) / (R.T @ b + 0.01).sum(axis=1, keepdims=True))
                    for b in blocks]
            # E-step
            lp = _log_joint(G0, present, blocks, np.log(nk / n), mu, var, logp)
            total = logsumexp(lp, axis=1)
            ll_sum = float(total.sum())
            R = np.exp(lp - total[:, None])
            if ll_sum - prev < tol * abs(ll_sum):
                converged = True
                break
            prev = ll_sum
        if best is None or ll_sum > best[0]:
            entropy = float(-np.sum(R * np.log(np.maximum(R, 1e-300))))
            best = (ll_sum, R.argmax(axis=1), it, converged,
                    (np.log(nk / n), mu, var, logp), entropy)
    n_params = (k - 1) + 2 * k * G.shape[1] + k * sum(b.shape[1] - 1 for b in blocks)
    ll_sum, labels, it, converged, (log_w, mu, var, log_blocks), entropy = best
    bic = -2 * ll_sum + n_params * np.log(n)
    return MixtureFit(k, labels, ll_sum, bic, n_params, it, converged, log_w, mu, var,
                      log_blocks[:n_cat], bic + 2 * entropy, log_blocks)


@dataclass(frozen=True)
class Segmentation:
    labels: np.ndarray  # 0-based, not yet ordered by value
    method: str  # "mixture" or "kmeans"
    k: int
    diagnostics: pd.DataFrame  # k, bic and icl (mixture), silhouette (k-means)
    mixture: MixtureFit | None = None  # the chosen mixture (method "mixture")
    layout: MixtureData | None = None  # how features were arranged for it
    fitted_on: int = 0  # customers the models were fitted on (all, or FIT_SAMPLE of them)


def segment_customers(features: pd.DataFrame, k_range=range(3, 9), method: str = "mixture",
                      seed: int = 42, silhouette_sample: int = 4000,
                      fit_sample: int = FIT_SAMPLE) -> Segmentation:
    """Segment customers, choosing k from ``k_range``.

    ``mixture``: the mixed-data mixture (:func:`fit_mixture`), k with the lowest ICL:
    BIC plus twice the entropy of the assignments. BIC alone keeps falling slowly
    past the true number of groups, because extra components fit the variation of
    individuals within a group; those components overlap, and the entropy term
    charges for the overlap, so ICL picks segments that are distinct.
    ``kmeans``: k-means on the scaled :func:`segmentation_matrix`, k with the best
    silhouette (on a sample). Both criteria are computed for every k and returned
    in ``diagnostics``, so the two methods can be compared on one chart.

    With more than ``fit_sample`` customers, both are fitted (and k chosen) on a random
    sample of that many, and every customer is then assigned to the chosen model's most
    likely segment: EM's cost grows with customers x segments x iterations, the
    assignment's only with customers x segments. ``benchmarks/bench_profile.py`` measures
    what the sample costs in agreement with a fit on everyone.
    """
    if method not in ("mixture", "kmeans"):
        raise ValueError(f"method must be 'mixture' or 'kmeans', not {method!r}")
    n = len(features)
    ks = [k for k in k_range if 2 <= k < n]
    if not ks:
        raise ValueError(f"too few customers ({n}) to segment into {list(k_range)} segments")
    if fit_sample < max(ks) * 10:
        raise ValueError(f"fit_sample must be at least 10 customers a segment "
                         f"({max(ks) * 10} for k up to {max(ks)}), not {fit_sample}")
    data = mixture_data(features)
    X = StandardScaler().fit_transform(segmentation_matrix(features).to_numpy(float))
    fit = (np.sort(np.random.default_rng(seed).choice(n, size=fit_sample, replace=False))
           if n > fit_sample else None)
    data_fit, X_fit = (data, X) if fit is None else (data.rows(fit), X[fit])
    m = len(X_fit)
    idx = np.random.default_rng(seed).choice(m, size=min(silhouette_sample, m), replace=False)
    rows, fits = [], {}
    for k in ks:
        mix = fit_mixture(data_fit, k, seed=seed)
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(X_fit)
        fits[k] = (mix, km)
        rows.append({"k": k, "bic": mix.bic, "icl": mix.icl,
                     "silhouette": silhouette_score(X_fit[idx], km.labels_[idx]),
                     "mixture_converged": mix.converged})
    diag = pd.DataFrame(rows)
    if method == "mixture":
        k = int(diag.loc[diag["icl"].idxmin(), "k"])
        mix = fits[k][0]
        labels = mix.labels if fit is None else mix.assign(data)
        return Segmentation(np.asarray(labels), method, k, diag, mix, data, m)
    k = int(diag.loc[diag["silhouette"].idxmax(), "k"])
    km = fits[k][1]
    return Segmentation(np.asarray(km.labels_ if fit is None else km.predict(X)), method, k,
                        diag, fitted_on=m)


def demographic_segments(seg: Segmentation, customers: pd.DataFrame) -> np.ndarray:
    """Most likely mixture component of each customer from demographics alone (age and
    the categorical blocks); -1 where the segmentation has no mixture or the
    customer has no demographics at all."""
    out = np.full(len(customers), -1)
    mix, layout = seg.mixture, seg.layout
    if mix is None or layout is None or len(customers) == 0:
        return out
    lp = np.tile(mix.log_weight, (len(customers), 1))
    evidence = np.zeros(len(customers), dtype=bool)
    if "age" in layout.gaussian_names and S.AGE in customers.columns:
        d = layout.gaussian_names.index("age")
        z = ((customers[S.AGE].astype(float).to_numpy() - layout.gaussian_mean[d])
             / layout.gaussian_sd[d])
        ok = ~np.isnan(z)
        ll = -0.5 * (np.log(2 * np.pi * mix.var[:, d])[None, :]
                     + (np.nan_to_num(z)[:, None] - mix.mu[None, :, d]) ** 2 / mix.var[None, :, d])
        lp += np.where(ok[:, None], ll, 0.0)
        evidence |= ok
    for (name, _, levels), logp in zip(layout.categorical, mix.log_categorical, strict=True):
        if name not in customers.columns:
            continue
        codes = pd.Categorical(customers[name], categories=levels).codes
        ok = codes >= 0
        lp[ok] += logp[:, codes[ok]].T
        evidence |= ok
    out[evidence] = lp[evidence].argmax(axis=1)
    return out


def order_by_value(labels: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Renumber segments 1..k so that segment 1 has the highest mean ``value``
    (ties broken by size, then by the old label, so the order is deterministic)."""
    d = pd.DataFrame({"label": labels, "value": value})
    stats = d.groupby("label")["value"].agg(["mean", "size"]).reset_index()
    stats = stats.sort_values(["mean", "size", "label"], ascending=[False, False, True])
    mapping = {old: new for new, old in enumerate(stats["label"], start=1)}
    return np.array([mapping[v] for v in labels])


# ---------------------------------------------------------------------------
# Segment cards
# ---------------------------------------------------------------------------
# Feature -> (word when the segment is above the base, word when below).
_NAME_WORDS = {
    "tier_num": ("lower-tier", "tier-1"),
    "cat_apparel": ("apparel", None), "cat_electronics": ("electronics", None),
    "cat_furniture": ("furniture", None), "cat_food": ("food", None),
    "ship_express": ("express", None), "ship_economy": ("economy", None),
    "ship_pickup": ("store pickup", None),
    "festival_share": ("festival-driven", None), "discount_share": ("deal-seeking", "full-price"),
    "age": ("older", "young"), "female": ("female-leaning", "male-leaning"),
    "income_num": ("high-income", "low-income"),
    "log_orders_per_year": ("frequent", "occasional"), "log_aov": ("big-basket", "small-basket"),
    "customised_share": ("made-to-order", None),
}


def _name_frame(customers: pd.DataFrame) -> pd.DataFrame:
    c = customers
    out = pd.DataFrame(index=c.index)
    for col in _NAME_WORDS:
        if col in c.columns:
            out[col] = c[col].astype(float)
    if _ordered_tiers(c):
        out["tier_num"] = c[S.CITY_TIER].map(TIER_ORDER).astype(float)
    if S.GENDER in c.columns:
        out["female"] = (c[S.GENDER] == "F").astype(float).where(c[S.GENDER].notna())
    if S.INCOME_BAND in c.columns:
        out["income_num"] = c[S.INCOME_BAND].map(INCOME_ORDER).astype(float)
    out["log_orders_per_year"] = np.log1p(c["orders_per_year"])
    out["log_aov"] = np.log1p(c["avg_order_value"].clip(lower=0))
    return out.loc[:, out.notna().any()]


def segment_name(z: pd.Series, words: int = 4, threshold: float = 0.35) -> str:
    """A short name from the features that set a segment apart (standardised
    differences ``z`` from the whole base), strongest first."""
    parts = []
    for feat, val in z.reindex(z.abs().sort_values(ascending=False).index).items():
        if abs(val) < threshold or feat not in _NAME_WORDS:
            continue
        word = _NAME_WORDS[feat][0 if val > 0 else 1]
        if word and word not in parts:
            parts.append(word)
        if len(parts) == words:
            break
    return ", ".join(parts) if parts else "average"


def segment_cards(customers: pd.DataFrame) -> pd.DataFrame:
    """One row per segment: size, revenue share, value, mix and a generated name.

    Required columns: segment, monetary, clv, orders_per_year, avg_order_value;
    others (categories, ship modes, demographics, tier, festival share) are used
    when present.
    """
    c = customers
    S.require_columns(c, "profile", ("segment", "monetary", "clv", "orders_per_year",
                                     "avg_order_value"))
    nf = _name_frame(c)
    z = (nf.groupby(c["segment"]).mean() - nf.mean()) / nf.std().replace(0, 1)
    g = c.groupby("segment")
    cards = pd.DataFrame({
        "customers": g.size(),
        "customer_share": g.size() / len(c),
        "revenue_share": g["monetary"].sum() / c["monetary"].sum(),
        "mean_clv": g["clv"].mean(),
        "mean_p_alive": g["p_alive"].mean() if "p_alive" in c else np.nan,
        "orders_per_year": g["orders_per_year"].mean(),
        "avg_order_value": g["avg_order_value"].mean(),
    })
    cat_cols = [col for col in c.columns if col.startswith("cat_")]
    if cat_cols:
        means = g[cat_cols].mean()
        cards["top_categories"] = means.apply(
            lambda r: ", ".join(f"{k[4:]} {v:.0%}" for k, v in r.nlargest(2).items()), axis=1)
    ship_cols = [col for col in c.columns if col.startswith("ship_")]
    if ship_cols:
        cards["delivery_preference"] = g[ship_cols].mean().apply(
            lambda r: f"{r.idxmax()[5:]} {r.max():.0%}", axis=1)
    if "festival_share" in c.columns:
        base = c["festival_share"].mean()
        cards["festival_sensitivity"] = g["festival_share"].mean() / base if base > 0 else np.nan
    if S.AGE in c.columns and c[S.AGE].notna().any():
        cards["mean_age"] = g[S.AGE].mean()
    if S.GENDER in c.columns and c[S.GENDER].notna().any():
        cards["female_share"] = g[S.GENDER].apply(lambda s: (s.dropna() == "F").mean())
    for col, label in ((S.INCOME_BAND, "income_mix"), (S.CITY_TIER, "city_tier_mix")):
        if col in c.columns and c[col].notna().any():
            cards[label] = g[col].apply(lambda s: ", ".join(
                f"{k} {v:.0%}" for k, v in s.value_counts(normalize=True).head(2).items()))
    cards["name"] = [segment_name(z.loc[s]) for s in cards.index]
    cards.index.name = "segment"
    return cards.reset_index()


# ---------------------------------------------------------------------------
# Privacy
# ---------------------------------------------------------------------------
def pseudonymise(ids: pd.Series, salt: str) -> pd.Series:
    """Salted SHA-256 keys (16 hex characters) in place of customer ids."""
    if not salt:
        raise ValueError("pseudonymise needs a non-empty salt")
    return ids.astype(str).map(
        lambda v: hashlib.sha256(f"{salt}|{v}".encode()).hexdigest()[:16])


def suppress_small(cards: pd.DataFrame, min_size: int = 10) -> pd.DataFrame:
    """Segment cards safe to publish: segments under ``min_size`` customers keep only
    their number and a note; their figures are removed."""
    out = cards.copy()
    small = out["customers"] < min_size
    cols = [c for c in out.columns if c not in ("segment",)]
    out[cols] = out[cols].astype(object)
    out.loc[small, cols] = None
    out.loc[small, "name"] = f"(suppressed: fewer than {min_size} customers)"
    return out


# ---------------------------------------------------------------------------
# The one entry point
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """The customer profile later notebooks key their decisions on."""

    customers: pd.DataFrame  # features, RFM scores, CLV columns and `segment` (1 = most valuable)
    segments: pd.DataFrame  # segment cards
    segmentation: Segmentation
    value_fit: clv.ValueFit  # BG/NBD, Gamma-Gamma, their checks and what was used
    as_of: pd.Timestamp
    settings: dict = field(default_factory=dict)  # what build_profile was given besides as_of

    @property
    def bgnbd(self) -> clv.BGNBD:
        return self.value_fit.bgnbd

    @property
    def gamma_gamma(self) -> clv.GammaGamma:
        return self.value_fit.gamma_gamma

    def segments_for(self, customers: pd.DataFrame | None = None) -> pd.DataFrame:
        """``customer_id, segment`` for the profiled customers and, given a customers
        table, for customers the profile has not seen buy yet: they are placed in
        the segment their demographics make most likely (the mixture model with the
        behaviour left out, since they have none), or ``new`` when there is nothing
        to go on (no demographics, or k-means segments)."""
        known = self.customers[[S.CUSTOMER_ID, "segment"]].astype({"segment": object})
        if customers is None:
            return known
        others = customers.loc[~customers[S.CUSTOMER_ID].isin(known[S.CUSTOMER_ID])]
        raw = demographic_segments(self.segmentation, others)
        mapping = dict(zip(self.segmentation.labels, self.customers["segment"], strict=True))
        seg = [mapping.get(r, "new") if r >= 0 else "new" for r in raw]
        return pd.concat([known, pd.DataFrame({S.CUSTOMER_ID: others[S.CUSTOMER_ID].to_numpy(),
                                               "segment": seg})], ignore_index=True)


def build_profile(ds, k_range=range(3, 9), method: str = "mixture", seed: int = 42,
                  as_of: str | pd.Timestamp | None = None, horizon_weeks: float = 52,
                  annual_discount_rate: float = 0.10, engine: str = "duckdb",
                  fit_sample: int = FIT_SAMPLE) -> Profile:
    """Build the customer profile of a dataset: features, RFM, CLV and segments.

    Parameters
    ----------
    ds : a :class:`chainsight.datasets.Dataset` (or anything with ``tables``).
    k_range, method, seed, fit_sample : segmentation (see :func:`segment_customers`).
    as_of : use only orders up to this time (default: all); CLV looks forward from it.
    horizon_weeks, annual_discount_rate : the CLV horizon and discounting.
    engine : where the features and the RFM summary are aggregated
        (:data:`chainsight.sql.ENGINES`); both give the same profile.

    The same parameters give the same profile.
    """
    tables = ds.tables
    orders = tables["orders"]
    if as_of is not None:
        orders = orders[orders[S.TIMESTAMP] <= pd.Timestamp(as_of)]
    if len(orders) == 0:
        raise ValueError(f"no orders up to {as_of}")
    as_of = pd.Timestamp(as_of) if as_of is not None else orders[S.TIMESTAMP].max()
    feats = customer_features(orders, tables.get("customers"), tables.get("products"),
                              tables.get("calendar"), as_of=as_of, engine=engine)
    summary = clv.rfm_summary(orders, calibration_end=as_of, engine=engine)
    fit = clv.fit_value_models(summary, seed=seed)
    value = clv.customer_value(fit, summary, horizon_weeks, annual_discount_rate)
    cust = feats.merge(rfm_scores(feats), on=S.CUSTOMER_ID).merge(value, on=S.CUSTOMER_ID)
    seg = segment_customers(cust, k_range=k_range, method=method, seed=seed,
                            fit_sample=fit_sample)
    cust["segment"] = order_by_value(seg.labels, cust["clv"].to_numpy())
    settings = dict(k_range=range(min(k_range), max(k_range) + 1), method=method, seed=seed,
                    horizon_weeks=horizon_weeks, annual_discount_rate=annual_discount_rate,
                    engine=engine, fit_sample=fit_sample)
    return Profile(cust, segment_cards(cust), seg, fit, as_of, settings)


# Blind rankings for targeting, most recent first: a tie on the validation year goes to
# the more recent window (on short data the windows can coincide there).
TARGETING_BLIND = {**{f"spend_{d}d": f"spend of the last {d} days"
                      for d in sorted(clv.SPEND_WINDOWS)},
                   "spend": "past spend (RFM monetary)"}


def _reached(frame: pd.DataFrame, column: str, n_top: int, value: str) -> pd.Series:
    """Indicator of the ``n_top`` customers with the largest ``column`` (ties by id)."""
    order = frame.sort_values([column, S.CUSTOMER_ID], ascending=[False, True]).index[:n_top]
    return pd.Series(frame.index.isin(order), index=frame.index, name=value)


def holdout_check(ds, holdout_start: str | pd.Timestamp, top_share: float = 0.2,
                  n_boot: int = 2000, profile: Profile | None = None,
                  **profile_kwargs) -> dict:
    """Judge the profile on the period it did not see, against the strongest blind
    methods chosen on the training period.

    The profile is built from orders before ``holdout_start`` (or is ``profile``, when
    given, which must be built before it); the holdout runs from then to the last order.
    The units are the customers who bought before it.

    ``targeting``: a retention campaign reaches the top ``top_share`` of customers,
    ranked at random, by past spend or by the spend of the last 91, 182 or 365 days
    (the blind rankings; the best on a validation year before the holdout is the
    baseline) or by the profile's predicted CLV. Measured: the share of holdout revenue reached.

    ``purchases``: each customer's purchase days in the holdout, forecast blind in two
    ways, both learned on the training period only: from their own history
    (:func:`chainsight.clv.own_history_forecasts`; method, smoothing constant and a
    bias-correcting scale chosen by :func:`chainsight.clv.choose_own_history`), and by a
    regression on purchase history across customers
    (:func:`chainsight.clv.history_regression`); profile-aware by BG/NBD. Measured:
    mean squared error per customer (a forecast of the mean is judged by it; WAPE
    would favour forecasting zero), WAPE of segment totals, and the bias of the total.

    Returns the tables and ``comparisons``: :class:`chainsight.compare.Paired` results
    of the profile against the chosen blind baselines, paired over customers.
    """
    from chainsight import compare

    start = pd.Timestamp(holdout_start)
    orders = ds.tables["orders"]
    end = orders[S.TIMESTAMP].max()
    if not orders[S.TIMESTAMP].min() < start <= end:
        raise ValueError(f"holdout_start {start.date()} is outside the data "
                         f"({orders[S.TIMESTAMP].min().date()} to {end.date()})")
    if profile is not None and profile.as_of >= start:
        raise ValueError(f"the profile is built from orders up to {profile.as_of}, which is "
                         f"not before the holdout ({start.date()})")
    prof = profile or build_profile(ds, as_of=start - pd.Timedelta(seconds=1), **profile_kwargs)
    summ = clv.rfm_summary(orders, calibration_end=start - pd.Timedelta(days=1),
                           holdout_end=end)
    horizon_days = (end.normalize() - start.normalize()).days + 1
    weeks = horizon_days / 7
    days = clv.purchase_days(orders)
    choice = clv.choose_own_history(days, start, horizon_days)
    own = clv.own_history_forecasts(days, start, horizon_days, choice.alpha)
    regression, regression_choice = clv.history_regression(
        days, start, horizon_days, seed=profile_kwargs.get("seed", 42))
    c = (prof.customers[[S.CUSTOMER_ID, "segment", "monetary", "clv"]]
         .merge(summ[[S.CUSTOMER_ID, "x", "t_x", "T", "x_holdout", "value_holdout"]],
                on=S.CUSTOMER_ID)
         .merge(own, on=S.CUSTOMER_ID, validate="one_to_one")
         .merge(regression.rename(columns={"forecast": "regression"}), on=S.CUSTOMER_ID,
                validate="one_to_one"))
    c["own_history"] = c[choice.method] * choice.scale
    if not np.allclose(c["actual"], c["x_holdout"]):
        raise RuntimeError("own-history and RFM holdout purchase days disagree")
    c["aware"] = prof.value_fit.expected_purchases(weeks, c["x"], c["t_x"],
                                                       c["T"])
    n_top = max(1, int(round(top_share * len(c))))

    # Targeting: the blind ranking is chosen on the year before the holdout.
    val = clv.own_history_forecasts(days[days["day"] < start],
                                    start - pd.Timedelta(days=min(horizon_days, 365)),
                                    min(horizon_days, 365))
    val_top = max(1, int(round(top_share * len(val))))
    val_reach = {k: float(val.loc[_reached(val, k, val_top, k), "actual_value"].sum()
                          / max(val["actual_value"].sum(), 1e-12)) for k in TARGETING_BLIND}
    blind_rank = max(val_reach, key=val_reach.get)  # the first, most recent, among ties
    total = c["value_holdout"].sum()
    actual_top = _reached(c, "value_holdout", n_top, "top")
    rows = [{"method": "random (no profile)", "customers_reached": n_top,
             "holdout_revenue": total * n_top / len(c), "revenue_share": n_top / len(c),
             "top_customers_found": n_top / len(c), "validation_share": np.nan,
             "baseline": False}]
    reached = {}
    for key, label in [*TARGETING_BLIND.items(), ("clv", "predicted CLV (profile)")]:
        hit = _reached(c, key, n_top, key)
        reached[key] = hit
        rows.append({"method": label, "customers_reached": n_top,
                     "holdout_revenue": c.loc[hit, "value_holdout"].sum(),
                     "revenue_share": c.loc[hit, "value_holdout"].sum() / total,
                     "top_customers_found": (hit & actual_top).sum() / n_top,
                     "validation_share": val_reach.get(key, np.nan),
                     "baseline": key == blind_rank})
    targeting = pd.DataFrame(rows)

    # Purchases: per customer, per segment and in total.
    labels = {**{m: f"{label} (raw)" for m, label in clv.OWN_HISTORY_METHODS.items()},
              "own_history": f"{clv.OWN_HISTORY_METHODS[choice.method]}, scaled on training",
              "regression": "history regression: "
                            + clv.REGRESSIONS[regression_choice["model"].iloc[0]],
              "aware": f"{clv.PURCHASES_SHORT[prof.value_fit.purchases]} per customer"}
    blinds = {"own history": "own_history", "history regression": "regression"}
    seg_codes, seg_values = pd.factorize(c["segment"], sort=True)
    n_seg = len(seg_values)
    actual = c["actual"].to_numpy(float)
    rows = []
    for col, label in labels.items():
        f = c[col].to_numpy(float)
        seg_err = np.bincount(seg_codes, weights=f - actual, minlength=n_seg)
        rows.append({"method": label, "mse": float(((f - actual) ** 2).mean()),
                     "segment_wape": float(np.abs(seg_err).sum() / actual.sum()),
                     "bias": float(f.sum() / actual.sum() - 1),
                     "baseline": col in blinds.values()})
    errors = pd.DataFrame(rows)
    seg = c.groupby("segment").agg(customers=("actual", "size"), actual=("actual", "sum"),
                                   own_history=("own_history", "sum"),
                                   regression=("regression", "sum"),
                                   aware=("aware", "sum")).reset_index()
    for side in ("own_history", "regression", "aware"):
        seg[f"{side}_bias"] = seg[side] / seg["actual"] - 1

    aware_f = c["aware"].to_numpy(float)

    def segment_wape(blind_f):
        def stat(i):
            den = actual[i].sum()
            return tuple(float(np.abs(np.bincount(seg_codes[i], weights=f[i] - actual[i],
                                                  minlength=n_seg)).sum() / den)
                         for f in (blind_f, aware_f))
        return stat

    unit = "customer"
    hit_b, hit_a = reached[blind_rank].to_numpy(), reached["clv"].to_numpy()
    value = c["value_holdout"].to_numpy(float)
    comparisons = {"share of holdout revenue reached": compare.paired(
        value * hit_b, value * hit_a, value, metric="share of holdout revenue reached",
        unit=unit, lower_is_better=False, n_boot=n_boot)}
    for name, col in blinds.items():
        blind_f = c[col].to_numpy(float)
        comparisons[f"MSE against {name}"] = compare.paired(
            (blind_f - actual) ** 2, (aware_f - actual) ** 2,
            metric=f"mean squared error of purchase days per customer, against {name}",
            unit=unit, n_boot=n_boot)
        comparisons[f"segment WAPE against {name}"] = compare.paired_statistic(
            len(c), segment_wape(blind_f),
            metric=f"WAPE of segment purchase days, against {name}", unit=unit, n_boot=n_boot)
    return {"targeting": targeting, "targeting_baseline": TARGETING_BLIND[blind_rank],
            "segments": seg, "segment_errors": errors,
            "purchases_baseline": labels["own_history"], "purchases_choice": choice,
            "regression_baseline": labels["regression"], "regression_choice": regression_choice,
            "comparisons": comparisons, "profile": prof, "holdout_weeks": weeks}


# ---------------------------------------------------------------------------
# One profile per report run
# ---------------------------------------------------------------------------
PROFILE_WEEKS = 52  # without holdout_start, the run's profile learns before the last year


def _fingerprint(ds) -> str:
    """A digest of the data's tables: the same data (dataset, scenario, mapping) gives
    the same digest."""
    h = hashlib.sha256()
    for name in sorted(ds.tables):
        t = ds.tables[name]
        if isinstance(t, pd.DataFrame):
            h.update(name.encode())
            h.update(pd.util.hash_pandas_object(t, index=False).to_numpy().tobytes())
            h.update(",".join(map(str, t.columns)).encode())
    return h.hexdigest()


def _code_digest() -> str:
    """A digest of the code that builds a profile, so that a cached profile from an
    older version is not reused."""
    from importlib.metadata import version

    here = Path(__file__).resolve().parent
    code = b"".join((here / f).read_bytes() for f in
                    ("profiling.py", "clv.py", "schema.py", "sql.py", "readiness.py"))
    libraries = repr([(lib, version(lib)) for lib in
                      ("numpy", "pandas", "scipy", "scikit-learn", "duckdb")]).encode()
    return hashlib.sha256(code + libraries).hexdigest()


def run_profile(ds, holdout_start: str | pd.Timestamp | None = "", *, seed: int = 42,
                k_range=range(3, 9), method: str = "mixture", horizon_weeks: float = 52,
                annual_discount_rate: float = 0.10, cache: bool = True,
                engine: str = "duckdb", fit_sample: int = FIT_SAMPLE) -> Profile:
    """The report run's one profile, which every notebook keys its segments on.

    It learns from the orders before the run's holdout: ``holdout_start``, or when that
    is empty the last :data:`PROFILE_WEEKS` weeks (see
    :func:`chainsight.readiness.holdout_start`). The same data (dataset, scenario and
    mapping), date, seed and settings give the same profile; with ``cache`` it is built
    once and read back by every notebook of the run (``data/generated/profiles/``), one
    per ``engine`` (:func:`build_profile`), so that a run on Spark does run on it."""
    import os
    import pickle

    from chainsight import datasets, readiness

    start = readiness.holdout_start(ds.tables["orders"], holdout_start or "",
                                    weeks=PROFILE_WEEKS).start
    as_of = start - pd.Timedelta(seconds=1)
    settings = dict(k_range=range(min(k_range), max(k_range) + 1), method=method, seed=seed,
                    horizon_weeks=float(horizon_weeks),
                    annual_discount_rate=float(annual_discount_rate), engine=engine,
                    fit_sample=int(fit_sample))
    if not cache:
        return build_profile(ds, as_of=as_of, **settings)
    key = hashlib.sha256(repr((_fingerprint(ds), _code_digest(), str(as_of),
                               sorted((k, repr(v)) for k, v in settings.items())))
                         .encode()).hexdigest()[:24]
    path = datasets.data_dir() / "generated" / "profiles" / f"{key}.pkl"
    if path.exists():
        try:
            with path.open("rb") as f:
                cached = pickle.load(f)
            if isinstance(cached, Profile):
                return cached
        except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt, whatever the damage
            pass
        print(f"The cached profile {path.name} could not be read; it is rebuilt.")
    for stale in path.parent.glob(f"{key}.*.part"):  # left by an interrupted run
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)
    profile = build_profile(ds, as_of=as_of, **settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.part")  # notebooks may run side by side
    with part.open("wb") as f:
        pickle.dump(profile, f)
    os.replace(part, path)
    return profile


def relabel(profile: Profile, run: Profile) -> tuple[Profile, pd.DataFrame]:
    """``profile`` (built at another date) with its segments renumbered to the run's:
    each of its segments takes the number of the run segment that holds the most of its
    customers, so a number means the same customers' type as in the run. Two segments
    that land on one run segment are merged (their cards are recomputed); a run segment
    that no segment lands on has no counterpart at this date. Returns the relabelled
    profile and the mapping (``segment`` here, ``run segment``, ``shared``: the share of
    its customers in that run segment, and ``customers``)."""
    both = profile.customers[[S.CUSTOMER_ID, "segment"]].merge(
        run.customers[[S.CUSTOMER_ID, "segment"]], on=S.CUSTOMER_ID, suffixes=("", "_run"))
    if both.empty:
        raise ValueError("relabel: the two profiles share no customer")
    cross = pd.crosstab(both["segment"], both["segment_run"])
    new = {s: cross.columns[int(np.argmax(cross.loc[s].to_numpy()))] for s in cross.index}
    missing = sorted(set(profile.segments["segment"]) - set(new))
    if missing:  # every customer of an earlier cut is in the run's profile
        raise ValueError(f"relabel: segment(s) {missing} share no customer with the run")
    mapping = pd.DataFrame({
        "segment": list(new), "run segment": list(new.values()),
        "shared": [cross.loc[s, new[s]] / cross.loc[s].sum() for s in new],
        "customers": [int(cross.loc[s].sum()) for s in new]}).sort_values(
        ["run segment", "segment"], ignore_index=True)
    customers = profile.customers.assign(segment=profile.customers["segment"].map(new))
    return (Profile(customers, segment_cards(customers), profile.segmentation,
                    profile.value_fit, profile.as_of, profile.settings), mapping)


def profile_at(ds, cut, run: Profile) -> tuple[Profile, str]:
    """The profile a notebook uses for a decision made at ``cut``: the run's when it was
    built by then; otherwise one built from the orders up to ``cut`` with the run's
    settings, its segments renumbered to the run's (:func:`relabel`). Returns it and the
    sentence that says which (and how well the segments match)."""
    cut = pd.Timestamp(cut)
    if run.as_of <= cut:
        return run, (f"The run's profile (orders up to {run.as_of:%Y-%m-%d}) is used; it was "
                     f"built before this decision's date ({cut:%Y-%m-%d}).")
    early = build_profile(ds, as_of=cut, **run.settings)
    mapped, table = relabel(early, run)
    kept = (table["shared"] * table["customers"]).sum() / table["customers"].sum()
    line = (f"This decision is made at {cut:%Y-%m-%d}, before the run's profile date "
            f"({run.as_of:%Y-%m-%d}), so it uses a profile built from the orders up to then: "
            f"{len(table)} segments, each numbered as the run's segment that holds most of its "
            f"customers ({kept:.0%} of its customers are in the run segment of the same "
            "number).")
    merged = table.groupby("run segment")["segment"].size()
    for run_seg in merged[merged > 1].index:
        line += (f" {merged[run_seg]} of its segments fall mostly in run segment {run_seg} and "
                 "are merged into it.")
    absent = sorted(set(run.segments["segment"]) - set(table["run segment"]))
    if absent:
        line += (f" Run segment(s) {', '.join(map(str, absent))} have no counterpart at this "
                 "date.")
    return mapped, line


def decision_profile(ds, cut, holdout_start: str | pd.Timestamp | None = "",
                     **settings) -> tuple[Profile, str]:
    """The profile for a decision at ``cut`` on ``ds``, set up as a report run sets it up:
    :func:`run_profile` (``holdout_start`` and ``settings``, those of
    :attr:`Profile.settings`), then :func:`profile_at`. The negative controls use it on
    the data with the effects switched off, so that only the effects differ from the
    main comparison."""
    return profile_at(ds, cut, run_profile(ds, holdout_start, **settings))
