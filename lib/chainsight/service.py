"""Personalised service (个性化服务): what to recommend to whom, judged on what they bought.

- :func:`ranking_metrics`: precision@k, recall@k, NDCG@k and MAP@k per customer, with
  binary relevance, as microsoft/recommenders defines them (its worked examples are the
  tests), vectorised over all customers at once; :func:`coverage` the share of the
  catalogue recommended.
- Recommenders on the order lines before a date (:data:`RECOMMENDERS`):
  - profile-blind: ``best-sellers`` (the same for all), ``buy again`` (the customer's
    own purchases first, then best-sellers: their own history);
  - profile-aware: ``segment best-sellers`` (those of the customer's segment),
    ``item-item`` (SAR-style: items bought with the customer's, by Jaccard
    co-occurrence), ``ALS`` (implicit-feedback matrix factorisation, the ``implicit``
    package).
- :func:`recommendation_comparison`: each side's recommender chosen on the period
  before, then judged per customer on the holdout, with a paired interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from chainsight import schema as S


def _checked(recommended, relevant, k: int) -> tuple[np.ndarray, sparse.csr_matrix]:
    rec = np.asarray(recommended)
    if rec.ndim != 2 or not np.issubdtype(rec.dtype, np.integer):
        raise ValueError("ranking_metrics: recommended must be a customers x k array of item "
                         "positions (-1 where a list is shorter)")
    rel = sparse.csr_matrix(relevant, dtype=bool)
    if rel.shape[0] != rec.shape[0]:
        raise ValueError(f"ranking_metrics: {rec.shape[0]} lists of recommendations for "
                         f"{rel.shape[0]} customers")
    if k < 1 or k > rec.shape[1]:
        raise ValueError(f"ranking_metrics: k must lie between 1 and the {rec.shape[1]} "
                         f"items recommended, got {k}")
    if (rec >= rel.shape[1]).any():
        raise ValueError(f"ranking_metrics: an item position is beyond the {rel.shape[1]} "
                         "items")
    return rec[:, :k], rel


def ranking_metrics(recommended, relevant, k: int = 10) -> pd.DataFrame:
    """Per customer (row): precision@k (hits / k), recall@k (hits / items relevant),
    NDCG@k (hits discounted by log2(rank + 1), over the best possible) and AP@k (the
    precision at each hit, summed, over min(items relevant, k)).

    ``recommended``: customers x (at least k) item positions, best first (-1: nothing).
    ``relevant``: customers x items, true where the customer bought the item in the
    period judged. Customers with nothing relevant have no score (NaN); averages are
    over the others, as microsoft/recommenders takes them. No loop over customers."""
    rec, rel = _checked(recommended, relevant, k)
    n_items = rel.shape[1]
    rows, cols = rel.nonzero()
    bought = np.sort(rows.astype(np.int64) * n_items + cols)
    keys = np.arange(len(rec), dtype=np.int64)[:, None] * n_items + rec
    hits = (rec >= 0) & np.isin(keys, bought)
    n_rel = np.asarray(rel.sum(axis=1)).ravel().astype(float)
    rank = np.arange(1, k + 1)
    discount = 1 / np.log2(rank + 1)
    ideal = np.cumsum(discount)[np.clip(np.minimum(n_rel, k).astype(int) - 1, 0, k - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "precision": hits.sum(axis=1) / k,
            "recall": hits.sum(axis=1) / n_rel,
            "ndcg": (hits * discount).sum(axis=1) / ideal,
            "map": (hits * np.cumsum(hits, axis=1) / rank).sum(axis=1)
            / np.minimum(n_rel, k)})
    return out.where(np.repeat(n_rel[:, None] > 0, out.shape[1], axis=1))


def coverage(recommended, n_items: int) -> float:
    """The share of the ``n_items`` in the catalogue that appear in any list."""
    rec = np.asarray(recommended)
    return float(np.unique(rec[rec >= 0]).size / n_items)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The k best item positions per row, best first (ties to the lower position)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _matrix(lines: pd.DataFrame, customers: pd.Index, items: pd.Index) -> sparse.csr_matrix:
    """Customers x items: the number of order lines of each item each customer bought."""
    r = customers.get_indexer(lines[S.CUSTOMER_ID])
    c = items.get_indexer(lines[S.PRODUCT_ID])
    keep = (r >= 0) & (c >= 0)
    return sparse.csr_matrix((np.ones(keep.sum()), (r[keep], c[keep])),
                             shape=(len(customers), len(items)))


def _popularity(x: sparse.csr_matrix, rows: np.ndarray | None = None) -> np.ndarray:
    """Buyers per item, over ``rows`` of ``x`` (all by default)."""
    sub = x if rows is None else x[rows]
    return np.asarray((sub > 0).sum(axis=0), dtype=float).ravel()


def _scores_popularity(x, segment, seed):
    return np.broadcast_to(_popularity(x), x.shape)


def _scores_buy_again(x, segment, seed):
    pop = _popularity(x)
    return x.toarray() * (pop.max() + 1) + pop  # own purchases first, then best-sellers


def _scores_segment(x, segment, seed):
    pop = _popularity(x)
    out = np.empty(x.shape)
    for name in np.unique(segment):
        rows = np.flatnonzero(segment == name)
        own = _popularity(x, rows) if name != "" else np.zeros(x.shape[1])
        out[rows] = own * (pop.max() + 1) + pop  # the segment's, then everyone's
    return out


def _scores_item_item(x, segment, seed):
    b = (x > 0).astype(float)
    co = (b.T @ b).toarray()
    n = np.diag(co)
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = np.nan_to_num(co / (n[:, None] + n[None, :] - co))
    pop = _popularity(x)
    return (b @ jaccard) * (pop.max() + 1) + pop  # no history: best-sellers


def _scores_als(x, segment, seed):
    import warnings

    from threadpoolctl import threadpool_limits
    from tqdm import TqdmWarning

    # implicit loads tqdm's notebook progress bars, which warn in a notebook without
    # ipywidgets; its progress bar is switched off below, so the warning says nothing.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=TqdmWarning)
        import implicit

    # implicit solves its own small systems; BLAS threads on top of that slow it down
    # (and it warns), so BLAS runs on one thread while it fits.
    with threadpool_limits(1, "blas"):
        model = implicit.als.AlternatingLeastSquares(factors=32, regularization=0.05,
                                                     iterations=15, random_state=seed,
                                                     num_threads=1)
        model.fit((x > 0).astype(np.float32).tocsr(), show_progress=False)
    user, item = np.asarray(model.user_factors), np.asarray(model.item_factors)
    scores = user @ item.T
    cold = np.asarray(x.sum(axis=1)).ravel() == 0
    scores[cold] = _popularity(x)  # no history, no factors to speak of: best-sellers
    return scores


RECOMMENDERS = {"best-sellers": _scores_popularity, "buy again": _scores_buy_again,
                "segment best-sellers": _scores_segment, "item-item": _scores_item_item,
                "ALS": _scores_als}
BLIND = ("best-sellers", "buy again")
AWARE = ("segment best-sellers", "item-item", "ALS")


def recommend(orders: pd.DataFrame, method: str, customers, segments: pd.DataFrame | None,
              k: int = 10, seed: int = 0, items: pd.Index | None = None
              ) -> tuple[np.ndarray, pd.Index]:
    """The ``k`` items ``method`` (:data:`RECOMMENDERS`) recommends to each of
    ``customers``, learned from ``orders``; a customer with no history there gets their
    segment's best-sellers from segment best-sellers and the best-sellers of all from the
    others. Returns item positions (customers x k) and the items they index."""
    if method not in RECOMMENDERS:
        raise ValueError(f"recommend: unknown method {method!r}; one of {list(RECOMMENDERS)}")
    S.require_columns(orders, "orders", [S.CUSTOMER_ID, S.PRODUCT_ID])
    items = pd.Index(sorted(orders[S.PRODUCT_ID].unique())) if items is None else items
    if len(items) == 0:
        raise ValueError("recommend: no order lines to learn from")
    customers = pd.Index(customers)
    # Learned from every customer with lines, scored for those asked about.
    everyone = customers.append(pd.Index(orders[S.CUSTOMER_ID].unique())).unique()
    x = _matrix(orders, everyone, items)
    segment = np.full(len(everyone), "", dtype=object)
    if segments is not None:
        seg = segments.drop_duplicates(S.CUSTOMER_ID).set_index(S.CUSTOMER_ID)["segment"]
        segment = everyone.map(seg.astype(str)).fillna("").to_numpy(object)
    scores = np.asarray(RECOMMENDERS[method](x, segment, seed), dtype=float)
    return _top(scores[:len(customers)], k), items


def _judged(orders: pd.DataFrame, start, horizon_days: int, segments, k: int, seed: int,
            methods) -> dict:
    """Each of ``methods`` learned on the lines before ``start`` and judged on what each
    customer who bought in the ``horizon_days`` after it bought then: per-customer
    metrics, coverage, and the customers and items the lists could not know."""
    start = pd.Timestamp(start)
    before = orders[orders[S.TIMESTAMP] < start]
    after = orders[(orders[S.TIMESTAMP] >= start)
                   & (orders[S.TIMESTAMP] < start + pd.Timedelta(days=horizon_days))]
    if before.empty or after.empty:
        raise ValueError(f"recommendation_comparison: no order lines before {start:%Y-%m-%d} "
                         f"or none in the {horizon_days} days after it")
    customers = pd.Index(sorted(after[S.CUSTOMER_ID].unique()))
    items = pd.Index(sorted(before[S.PRODUCT_ID].unique()))
    relevant = _matrix(after, customers, items) > 0
    out = {"customers": customers,
           "cold": int((~customers.isin(before[S.CUSTOMER_ID])).sum()),
           "new_items": int((~after[S.PRODUCT_ID].isin(items)).sum()),
           "new_item_lines_share": float((~after[S.PRODUCT_ID].isin(items)).mean()),
           "metrics": {}, "coverage": {}}
    for m in methods:
        rec, _ = recommend(before, m, customers, segments, k, seed, items)
        out["metrics"][m] = ranking_metrics(rec, relevant, k)
        out["coverage"][m] = coverage(rec, len(items))
    return out


def recommendation_comparison(orders: pd.DataFrame, start, horizon_days: int = 90,
                              segments: pd.DataFrame | None = None, k: int = 10,
                              n_boot: int = 2000, seed: int = 0, placebo: bool = False
                              ) -> dict:
    """Best-sellers and the customer's own purchases (profile-blind) against segment
    best-sellers, item-item co-occurrence and ALS (profile-aware), each side's
    recommender chosen by NDCG@k on the ``horizon_days`` before ``start`` (learned on
    the lines before those), then judged on the ``horizon_days`` after ``start``: per
    customer who bought then, precision, recall, NDCG and MAP at ``k``, catalogue
    coverage, and the paired difference of NDCG@k over those customers. A customer
    with no history (cold start) is recommended their segment's best-sellers by segment
    best-sellers and everyone's by the rest; items first sold in the holdout cannot be
    recommended, and their lines are counted. ``placebo``: the segments shuffled among
    the customers (random segments of the same sizes), the negative control: segment
    best-sellers must then not beat best-sellers."""
    from chainsight import compare

    S.require_columns(orders, "orders", [S.CUSTOMER_ID, S.PRODUCT_ID, S.TIMESTAMP])
    if k < 1 or horizon_days < 1:
        raise ValueError(f"recommendation_comparison: k and horizon_days must be positive, "
                         f"got {k} and {horizon_days}")
    start = pd.Timestamp(start)
    if placebo:
        if segments is None:
            raise ValueError("recommendation_comparison: the placebo shuffles the segments, "
                             "and none were given")
        segments = segments.drop_duplicates(S.CUSTOMER_ID)
        segments = segments.assign(segment=np.random.default_rng(seed).permutation(
            segments["segment"].to_numpy()))
    check = _judged(orders, start - pd.Timedelta(days=horizon_days), horizon_days,
                    segments, k, seed, RECOMMENDERS)
    tuned = {m: float(v["ndcg"].mean()) for m, v in check["metrics"].items()}
    chosen = {"blind": max(BLIND, key=tuned.get), "aware": max(AWARE, key=tuned.get)}
    now = _judged(orders, start, horizon_days, segments, k, seed, RECOMMENDERS)
    table = pd.DataFrame({m: {**v.mean().to_dict(), "coverage": now["coverage"][m],
                              "ndcg_before": tuned[m]} for m, v in now["metrics"].items()}).T
    b, a = (now["metrics"][chosen[side]]["ndcg"] for side in ("blind", "aware"))
    keep = b.notna().to_numpy()
    paired = compare.paired(b.to_numpy()[keep], a.to_numpy()[keep], metric=f"NDCG@{k}",
                            unit="customer", lower_is_better=False, n_boot=n_boot, seed=seed)
    by_segment = None
    if segments is not None:
        seg = segments.drop_duplicates(S.CUSTOMER_ID).set_index(S.CUSTOMER_ID)["segment"]
        who = now["customers"].map(seg).fillna("none").astype(str)
        by_segment = pd.DataFrame({m: v["ndcg"].groupby(who.to_numpy()).mean()
                                   for m, v in now["metrics"].items()})
    return {"methods": table, "chosen": chosen, "value": paired, "by_segment": by_segment,
            "customers": len(now["customers"]), "cold": now["cold"],
            "new_item_lines_share": now["new_item_lines_share"]}


# ---------------------------------------------------------------------------
# Coupon campaigns: who to send a coupon, judged on a campaign with a control group
# ---------------------------------------------------------------------------
OWN_HISTORY = ("recency_days", "orders_before", "revenue_before", "tenure_days",
               "order_value", "discount_share")
_DEMOGRAPHICS = (S.AGE, S.GENDER, S.INCOME_BAND, S.CITY_TIER)

_CAMPAIGN_SQL = """
WITH lines AS (
    SELECT o.customer_id, o.order_id, o.timestamp, o.quantity,
           o.quantity * o.unit_price AS revenue,
           o.quantity * (o.unit_price - coalesce(p.unit_cost, 0)) AS margin,
           CASE WHEN coalesce(o.discount, 0) > 0 THEN 1 ELSE 0 END AS discounted
    FROM orders o LEFT JOIN products p ON o.product_id = p.product_id
)
SELECT c.campaign_id, c.customer_id, c.coupon,
       count(DISTINCT CASE WHEN l.timestamp < c.date THEN l.order_id END) AS orders_before,
       coalesce(sum(CASE WHEN l.timestamp < c.date THEN l.revenue END), 0) AS revenue_before,
       date_diff('day', max(CASE WHEN l.timestamp < c.date THEN l.timestamp END), c.date)
           AS recency_days,
       date_diff('day', min(CASE WHEN l.timestamp < c.date THEN l.timestamp END), c.date)
           AS tenure_days,
       avg(CASE WHEN l.timestamp < c.date THEN l.discounted END) AS discount_share,
       count(DISTINCT CASE WHEN l.timestamp >= c.date THEN l.order_id END) AS orders,
       coalesce(sum(CASE WHEN l.timestamp >= c.date THEN l.quantity END), 0) AS units,
       coalesce(sum(CASE WHEN l.timestamp >= c.date THEN l.revenue END), 0) AS revenue,
       coalesce(sum(CASE WHEN l.timestamp >= c.date THEN l.margin END), 0) AS margin
FROM campaigns c
LEFT JOIN lines l ON l.customer_id = c.customer_id
    AND l.timestamp < c.date + to_days(CAST(c.days AS INTEGER))
GROUP BY c.campaign_id, c.customer_id, c.coupon, c.date
"""


def campaign_frame(orders: pd.DataFrame, campaigns: pd.DataFrame,
                   products: pd.DataFrame | None = None,
                   customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer in each campaign's audience: whether they were sent the
    coupon, what they bought in the campaign's window (orders, units, revenue, and margin: the
    revenue less the products' unit cost, the coupon already taken off the price), and
    who they were on the campaign's date: their own history before it
    (:data:`OWN_HISTORY`) and, from ``customers``, their demographics.

    A campaign whose audience is all couponed or all control cannot show what the coupon
    does, and is an error: uplift is estimated against a control group."""
    from chainsight import sql

    S.require_columns(campaigns, "campaigns", S.REQUIRED["campaigns"])
    S.require_columns(orders, "orders", [S.ORDER_ID, S.CUSTOMER_ID, S.TIMESTAMP, S.QUANTITY,
                                         S.UNIT_PRICE])
    groups = campaigns.groupby(S.CAMPAIGN_ID)[S.COUPON].agg(["min", "max"])
    one_sided = groups.index[groups["min"] == groups["max"]]
    if len(one_sided):
        which = ", ".join(map(str, one_sided[:5]))
        raise ValueError(f"campaigns {which}: every customer in the audience was "
                         f"{'sent' if groups.loc[one_sided[0], 'max'] else 'not sent'} the "
                         "coupon, so there is no group to compare with; uplift is estimated "
                         "only against a random control group (customers left without the "
                         "coupon)")
    dup = campaigns.duplicated([S.CAMPAIGN_ID, S.CUSTOMER_ID])
    if dup.any():
        raise ValueError(f"campaigns: {int(dup.sum())} customer(s) appear twice in the same "
                         f"campaign, e.g. {campaigns.loc[dup, S.CUSTOMER_ID].iloc[0]} in "
                         f"{campaigns.loc[dup, S.CAMPAIGN_ID].iloc[0]}")
    cols = [S.PRODUCT_ID, S.UNIT_COST]
    prods = (products[cols] if products is not None and S.UNIT_COST in products.columns
             else pd.DataFrame({S.PRODUCT_ID: pd.Series(dtype=object),
                                S.UNIT_COST: pd.Series(dtype=float)}))
    o = orders[[S.ORDER_ID, S.CUSTOMER_ID, S.TIMESTAMP, S.QUANTITY, S.UNIT_PRICE,
                S.PRODUCT_ID]].assign(
        **{S.DISCOUNT: orders[S.DISCOUNT] if S.DISCOUNT in orders.columns else 0.0})
    c = campaigns[[S.CAMPAIGN_ID, S.CUSTOMER_ID, S.DATE, S.CAMPAIGN_DAYS, S.COUPON]]
    out = sql.query(_CAMPAIGN_SQL, orders=o, campaigns=c, products=prods)
    out = c[[S.CAMPAIGN_ID, S.CUSTOMER_ID, S.DATE, S.CAMPAIGN_DAYS]].merge(
        out, on=[S.CAMPAIGN_ID, S.CUSTOMER_ID], how="left")
    out["order_value"] = np.where(out["orders_before"] > 0,
                                  out["revenue_before"] / out["orders_before"].clip(lower=1), 0)
    out[list(OWN_HISTORY)] = out[list(OWN_HISTORY)].astype(float).fillna(0.0)
    out["coupon"] = out["coupon"].astype(bool)
    out["has_cost"] = S.UNIT_COST in prods.columns and len(prods) > 0
    if customers is not None:
        demo = [col for col in _DEMOGRAPHICS if col in customers.columns]
        out = out.merge(customers[[S.CUSTOMER_ID, *demo]].drop_duplicates(S.CUSTOMER_ID),
                        on=S.CUSTOMER_ID, how="left")
    return out.sort_values([S.DATE, S.CAMPAIGN_ID, S.CUSTOMER_ID], ignore_index=True)


def _design(frame: pd.DataFrame, aware: bool, segments: pd.DataFrame | None,
            levels: dict | None = None) -> tuple[np.ndarray, dict]:
    """The model's inputs: own history, and for the profile-aware model the customer's
    segment and demographics (one-hot, with the levels seen in training)."""
    x = frame[list(OWN_HISTORY)].to_numpy(float)
    if not aware:
        return x, {}
    cat = {}
    if segments is not None:
        seg = segments.drop_duplicates(S.CUSTOMER_ID).set_index(S.CUSTOMER_ID)["segment"]
        cat["segment"] = frame[S.CUSTOMER_ID].map(seg).astype(str)
    for col in _DEMOGRAPHICS:
        if col in frame.columns:
            if col == S.AGE:
                age = pd.to_numeric(frame[col], errors="coerce")
                x = np.column_stack([x, age.fillna(age.median()).to_numpy(float),
                                     age.isna().to_numpy(float)])
            else:
                cat[col] = frame[col].astype(str)
    levels = levels or {k: sorted(v.unique()) for k, v in cat.items()}
    for k, lv in levels.items():
        x = np.column_stack([x, (cat[k].to_numpy()[:, None] == np.array(lv)[None, :])
                             .astype(float)])
    return x, levels


def uplift_model(frame: pd.DataFrame, aware: bool = False,
                 segments: pd.DataFrame | None = None, outcome: str = "margin",
                 seed: int = 0):
    """A two-model (T-learner) uplift model: gradient-boosted trees (scikit-learn)
    predict ``outcome`` in the window for couponed and for control customers; the
    uplift is the difference. Returns ``predict(frame) -> uplift per row``."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    x, levels = _design(frame, aware, segments)
    y = frame[outcome].to_numpy(float)
    t = frame["coupon"].to_numpy(bool)
    models = []
    for group in (t, ~t):
        m = HistGradientBoostingRegressor(max_iter=100, learning_rate=0.05, max_leaf_nodes=15,
                                          min_samples_leaf=200, l2_regularization=1.0,
                                          early_stopping=False, random_state=seed)
        models.append(m.fit(x[group], y[group]))

    def predict(new: pd.DataFrame) -> np.ndarray:
        xn, _ = _design(new, aware, segments, levels)
        return models[0].predict(xn) - models[1].predict(xn)

    return predict


def policy_value(frame: pd.DataFrame, send, outcome: str = "margin") -> np.ndarray:
    """Per customer of a campaign with a random control group, the inverse-propensity
    estimate of ``outcome`` under the policy ``send`` (True: send the coupon): the
    customer's outcome over the chance of the group they were in, if that group is the
    one the policy picks, else 0. Its mean over the audience is the policy's value per
    customer, unbiased because the coupon was given at random."""
    t = frame["coupon"].to_numpy(bool)
    p = frame.groupby(S.CAMPAIGN_ID)["coupon"].transform("mean").to_numpy(float)
    send = np.broadcast_to(np.asarray(send, dtype=bool), t.shape)
    y = frame[outcome].to_numpy(float)
    return np.where(send == t, y / np.where(t, p, 1 - p), 0.0)


def qini_curve(score, coupon, outcome) -> pd.DataFrame:
    """The Qini curve: customers sorted by ``score`` (highest first); at each distinct
    score, the share of the audience targeted and the incremental outcome of that top
    part: the couponed's total less the control's scaled to as many customers, as
    scikit-uplift's ``qini_curve`` computes it. Starts at (0, 0)."""
    score, t, y = (np.asarray(v) for v in (score, coupon, outcome))
    t = t.astype(bool)
    order = np.argsort(-score, kind="stable")
    score, t, y = score[order], t[order], y[order].astype(float)
    last = np.r_[np.flatnonzero(np.diff(score) != 0), len(score) - 1]
    n_t = np.cumsum(t)[last]
    n_c = last + 1 - n_t
    y_t = np.cumsum(y * t)[last]
    y_c = np.cumsum(y * ~t)[last]
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = y_t - np.where(n_c > 0, y_c * n_t / np.where(n_c > 0, n_c, 1), 0.0)
    return pd.DataFrame({"share": np.r_[0.0, (last + 1) / len(score)],
                         "incremental": np.r_[0.0, inc]})


def qini_coefficient(curve: pd.DataFrame) -> float:
    """The area between the Qini curve and the straight line to its end (random
    targeting), over the share targeted: above 0, the score ranks uplift better than
    chance."""
    x, y = curve["share"].to_numpy(), curve["incremental"].to_numpy()
    return float(np.trapezoid(y, x) - y[-1] / 2)


def uplift_by_segment(frame: pd.DataFrame, segments: pd.DataFrame, outcome: str = "orders",
                      level: float = 0.95) -> pd.DataFrame:
    """Per segment: the mean ``outcome`` of couponed and control customers, the
    difference (the coupon's average effect there) and its normal-approximation
    interval, over the campaigns in ``frame``."""
    from scipy.stats import norm

    seg = segments.drop_duplicates(S.CUSTOMER_ID).set_index(S.CUSTOMER_ID)["segment"]
    f = frame.assign(segment=frame[S.CUSTOMER_ID].map(seg))
    missing = f["segment"].isna()
    if missing.any():
        raise ValueError(f"uplift_by_segment: {int(missing.sum())} campaign row(s) have no "
                         f"segment, e.g. customer {f.loc[missing, S.CUSTOMER_ID].iloc[0]}")
    g = f.groupby(["segment", "coupon"])[outcome].agg(["mean", "var", "size"]).unstack()
    diff = g[("mean", True)] - g[("mean", False)]
    se = np.sqrt(g[("var", True)] / g[("size", True)] + g[("var", False)] / g[("size", False)])
    z = norm.ppf(0.5 + level / 2)
    return pd.DataFrame({"couponed": g[("size", True)], "control": g[("size", False)],
                         "mean_couponed": g[("mean", True)], "mean_control": g[("mean", False)],
                         "uplift": diff, "lo": diff - z * se, "hi": diff + z * se})


# Who to send a coupon. Each side may also decide not to target: no coupon, or one for all.
BLANKET = ("no coupon", "coupon for all")
CAMPAIGN_BLIND = (*BLANKET, "discount users", "uplift, own history")
CAMPAIGN_AWARE = (*BLANKET, "uplift, profile", "segment uplift", "top CLV")
BUDGETS = (0.1, 0.25, 0.5, 0.75)
CHECK_CAMPAIGNS = 2  # the campaigns before the holdout each side's policy is chosen on


def _shuffled_profile(frame: pd.DataFrame, segments: pd.DataFrame | None,
                      value: pd.Series | None, seed: int):
    """The placebo: every customer gets another's segment, demographics and CLV (the
    same permutation for all three), their own history untouched."""
    who = pd.Index(frame[S.CUSTOMER_ID].unique())
    perm = pd.Series(np.random.default_rng(seed).permutation(who), index=who)
    demo = [c for c in _DEMOGRAPHICS if c in frame.columns]
    if demo:
        first = frame.drop_duplicates(S.CUSTOMER_ID).set_index(S.CUSTOMER_ID)[demo]
        frame = frame.assign(**{c: frame[S.CUSTOMER_ID].map(perm).map(first[c]).to_numpy()
                                for c in demo})
    if segments is not None:
        seg = segments.drop_duplicates(S.CUSTOMER_ID).set_index(S.CUSTOMER_ID)["segment"]
        segments = pd.DataFrame({S.CUSTOMER_ID: who, "segment": perm.map(seg).to_numpy()})
    if value is not None:
        value = pd.Series(perm.map(value).to_numpy(), index=who)
    return frame, segments, value


def _policies(train: pd.DataFrame, judge: pd.DataFrame, segments, value, seed: int) -> dict:
    """What each candidate policy sends on ``judge``, learned on ``train``, and the
    uplift scores that rank customers."""
    own = uplift_model(train, False, None, seed=seed)(judge)
    prof = uplift_model(train, True, segments, seed=seed)(judge)
    share = judge["discount_share"].to_numpy(float)
    send = {"no coupon": np.zeros(len(judge), bool), "coupon for all": np.ones(len(judge), bool),
            # own history: those who took discounts before (above the first quartile)
            "discount users": share > np.quantile(train["discount_share"], 0.25),
            "uplift, own history": own > 0, "uplift, profile": prof > 0}
    scores = {"discount users": share, "uplift, own history": own, "uplift, profile": prof}
    if segments is not None:
        by_seg = uplift_by_segment(train, segments, "margin")["uplift"]
        seg = segments.drop_duplicates(S.CUSTOMER_ID).set_index(S.CUSTOMER_ID)["segment"]
        s = judge[S.CUSTOMER_ID].map(seg).map(by_seg).fillna(0.0).to_numpy(float)
        send["segment uplift"], scores["segment uplift"] = s > 0, s
    if value is not None:
        v = judge[S.CUSTOMER_ID].map(value).fillna(0.0).to_numpy(float)
        n = int(send["uplift, profile"].sum())  # as many coupons as the profile model sends
        top = np.zeros(len(judge), bool)
        top[np.argsort(-v, kind="stable")[:n]] = True
        send["top CLV"], scores["top CLV"] = top, v
    return {"send": send, "scores": scores}


def campaign_comparison(frame: pd.DataFrame, start, segments: pd.DataFrame | None = None,
                        value: pd.Series | None = None, outcome: str = "margin",
                        n_boot: int = 2000, seed: int = 0, placebo: bool = False) -> dict:
    """Who to send a coupon. Either side may send none or send to all; profile-blind
    also has the customers who took discounts before (own history) and an uplift model
    on the customer's own history; profile-aware has an uplift model that also knows the
    segment and demographics, the segments whose coupon paid, and the top customers by
    CLV ``value`` (as many as the profile model sends).

    ``frame``: from :func:`campaign_frame`. The campaigns from ``start`` on are the
    holdout. Each side's policy is chosen on the :data:`CHECK_CAMPAIGNS` campaigns before
    it (each judged with what was learned on the campaigns before it, the values
    averaged), then learned again on all campaigns before ``start`` and judged on the
    holdout's audience: the margin per customer (revenue less cost, the coupon taken
    off), estimated from the random control group (:func:`policy_value`), paired over
    customers. Also at equal cost: the two uplift rankings sending the same number of
    coupons (:data:`BUDGETS`; the intervals widened for the number of budgets,
    Bonferroni), and the Qini curves. ``placebo``: the profile (segment, demographics
    and CLV) shuffled among the customers, the negative control."""
    from chainsight import compare

    if outcome not in frame.columns:
        raise ValueError(f"campaign_comparison: no column {outcome!r} in the campaign frame")
    start = pd.Timestamp(start)
    dates = frame.groupby(S.CAMPAIGN_ID)[S.DATE].min().sort_values()
    before, after = dates[dates < start], dates[dates >= start]
    if len(before) < 2 or after.empty:
        raise ValueError(f"campaign_comparison: needs at least two campaigns before "
                         f"{start:%Y-%m-%d} (one to learn on, one to choose on) and one from "
                         f"it on to judge; got {len(before)} before and {len(after)} after")
    if placebo:
        frame, segments, value = _shuffled_profile(frame, segments, value, seed)
    in_ = frame[S.CAMPAIGN_ID].isin
    checks = before.index[max(1, len(before) - CHECK_CAMPAIGNS):]
    values, weights = [], []
    for cid in checks:
        at = list(before.index).index(cid)
        check = frame[in_([cid])]
        tuned = _policies(frame[in_(before.index[:at])], check, segments, value, seed)
        values.append({m: float(policy_value(check, s, outcome).mean())
                       for m, s in tuned["send"].items()})
        weights.append(len(check))
    on_check = {m: float(np.average([v[m] for v in values], weights=weights))
                for m in values[0]}
    train, test = frame[in_(before.index)], frame[in_(after.index)]
    chosen = {"blind": max((m for m in CAMPAIGN_BLIND if m in on_check), key=on_check.get),
              "aware": max((m for m in CAMPAIGN_AWARE if m in on_check), key=on_check.get)}
    now = _policies(train, test, segments, value, seed)
    per = {m: policy_value(test, s, outcome) for m, s in now["send"].items()}
    table = pd.DataFrame({
        "side": ["either" if m in BLANKET else "profile-blind" if m in CAMPAIGN_BLIND
                 else "profile-aware" for m in per],
        "coupons_sent": [float(now["send"][m].mean()) for m in per],
        f"{outcome}_per_customer": [float(v.mean()) for v in per.values()],
        "on_the_campaigns_before": [on_check[m] for m in per]}, index=list(per))
    unit = "customer in the audience"
    result = compare.paired(per[chosen["blind"]], per[chosen["aware"]],
                            metric=f"{outcome} per customer", unit=unit,
                            lower_is_better=False, n_boot=n_boot, seed=seed)
    equal_cost = {}
    for b in BUDGETS:
        n = int(round(b * len(test)))
        sides = []
        for m in ("uplift, own history", "uplift, profile"):
            send = np.zeros(len(test), bool)
            send[np.argsort(-now["scores"][m], kind="stable")[:n]] = True
            sides.append(policy_value(test, send, outcome))
        equal_cost[f"{b:.0%} of the audience"] = compare.paired(
            *sides, metric=f"{outcome} per customer", unit=unit, lower_is_better=False,
            n_boot=n_boot, seed=seed, level=1 - 0.05 / len(BUDGETS))
    qini = {m: qini_curve(s, test["coupon"], test[outcome]) for m, s in now["scores"].items()}
    return {"policies": table, "chosen": chosen, "value": result, "equal_cost": equal_cost,
            "qini": qini, "qini_coefficient": {m: qini_coefficient(c) for m, c in qini.items()},
            "holdout": list(after.index), "checked_on": list(checks), "audience": len(test),
            "coupon_share": float(test["coupon"].mean())}


# ---------------------------------------------------------------------------
# Price sensitivity: how much each segment buys more on promotion days
# ---------------------------------------------------------------------------
_DAILY_UNITS_SQL = """
WITH first_orders AS (
    SELECT customer_id, min(timestamp) AS first_time FROM orders GROUP BY customer_id
)
SELECT CAST(o.timestamp AS DATE) AS date, coalesce(s.segment, 'none') AS segment,
       sum(o.quantity) AS units
FROM orders o
JOIN first_orders f ON o.customer_id = f.customer_id
LEFT JOIN segments s ON o.customer_id = s.customer_id
WHERE o.timestamp >= $first AND o.timestamp < $last AND o.timestamp > f.first_time
GROUP BY ALL
"""


def _calendar_design(days: pd.DatetimeIndex, calendar: pd.DataFrame) -> pd.DataFrame:
    """Per day: the promotion indicator, one indicator per festival window (and its
    peak), weekday and month, and a quadratic trend in years."""
    c = calendar.set_index(S.DATE).reindex(days)
    kind = c[S.EVENT_KIND].fillna("").astype(str)
    event = c[S.EVENT].fillna("").astype(str)
    x = pd.DataFrame({"promotion": (kind == "promotion").astype(float)}, index=days)
    for name in sorted(event[kind == "festival"].unique()):
        x[f"festival {name}"] = (event == name).astype(float)
    if "peak" in c:
        x["peak"] = c["peak"].fillna(False).astype(float)
    for d in range(1, 7):
        x[f"weekday {d}"] = (days.dayofweek == d).astype(float)
    for m in range(2, 13):
        x[f"month {m}"] = (days.month == m).astype(float)
    t = (days - days[0]).days.to_numpy() / 365.0
    x["trend"], x["trend2"] = t, t ** 2
    x.insert(0, "intercept", 1.0)
    return x.loc[:, (x != 0).any() | x.columns.isin(["intercept", "promotion"])]


def _poisson_fit(x: np.ndarray, y: np.ndarray, iterations: int = 50):
    """Poisson regression by iteratively reweighted least squares; the covariance of the
    coefficients scaled by the Pearson dispersion (quasi-Poisson), so that daily counts
    more variable than Poisson get wider intervals."""
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(max(y.mean(), 1e-9))
    for _ in range(iterations):
        mu = np.exp(np.clip(x @ beta, -30, 30))
        z = x @ beta + (y - mu) / mu
        w = mu
        xtwx = x.T @ (x * w[:, None])
        new = np.linalg.lstsq(xtwx, x.T @ (w * z), rcond=None)[0]
        if np.max(np.abs(new - beta)) < 1e-10:
            beta = new
            break
        beta = new
    mu = np.exp(x @ beta)
    dispersion = max(float(np.sum((y - mu) ** 2 / mu) / max(len(y) - x.shape[1], 1)), 1.0)
    cov = np.linalg.pinv(x.T @ (x * mu[:, None])) * dispersion
    return beta, cov


def _daily_units(orders: pd.DataFrame, segments: pd.DataFrame | None, first, last
                 ) -> pd.DataFrame:
    """Units bought again (a customer's first order left out) per day from ``first`` to
    the day before ``last``, one column per segment (``none``: no segment) and ``all``."""
    from chainsight import sql

    S.require_columns(orders, "orders", [S.CUSTOMER_ID, S.TIMESTAMP, S.QUANTITY])
    seg = (segments.drop_duplicates(S.CUSTOMER_ID)[[S.CUSTOMER_ID, "segment"]]
           .astype({"segment": str}) if segments is not None
           else pd.DataFrame({S.CUSTOMER_ID: pd.Series(dtype=object),
                              "segment": pd.Series(dtype=str)}))
    daily = sql.query(_DAILY_UNITS_SQL, {"first": first, "last": last},
                      orders=orders[[S.CUSTOMER_ID, S.TIMESTAMP, S.QUANTITY]], segments=seg)
    days = pd.date_range(first, last - pd.Timedelta(days=1), freq="D")
    panel = (daily.assign(date=pd.to_datetime(daily["date"]))
             .pivot_table(index="date", columns="segment", values="units", aggfunc="sum")
             .reindex(days).fillna(0.0))
    panel.columns = panel.columns.astype(str)
    total = panel.sum(axis=1)
    if segments is None:
        return pd.DataFrame({"all": total})
    return panel.assign(all=total)


def _needs_promotions(calendar: pd.DataFrame | None, where: str) -> None:
    if calendar is None or S.EVENT_KIND not in calendar.columns:
        raise ValueError(f"{where}: needs a calendar with an event_kind column that marks "
                         "promotion days")


def promotion_response(orders: pd.DataFrame, calendar: pd.DataFrame,
                       segments: pd.DataFrame | None, end, start=None,
                       level: float = 0.95) -> pd.DataFrame:
    """Each segment's response to promotions, from the daily units its customers buy
    again before ``end`` (from ``start``, else from the first order; a customer's first
    order, the day they were won, is left out: this is how existing customers respond):
    a Poisson regression of units per day on a promotion-day indicator, with festival
    windows and peaks, weekday, month and a quadratic trend as controls. The uplift on a
    promotion day is exp(coefficient) - 1, with its interval (quasi-Poisson). One row per
    segment, and ``all`` for the whole business (the profile-blind single uplift)."""
    from scipy.stats import norm

    _needs_promotions(calendar, "promotion_response")
    end = pd.Timestamp(end)
    first = pd.Timestamp(start) if start is not None else orders[S.TIMESTAMP].min().normalize()
    panel = _daily_units(orders, segments, first, end)
    x = _calendar_design(panel.index, calendar)
    if x["promotion"].sum() < 3:
        raise ValueError(f"promotion_response: only {int(x['promotion'].sum())} promotion "
                         f"day(s) between {first:%Y-%m-%d} and {end:%Y-%m-%d}; at least 3 "
                         "are needed to estimate a response")
    z = norm.ppf(0.5 + level / 2)
    rows = []
    for name in panel.columns:
        y = panel[name].to_numpy(float)
        beta, cov = _poisson_fit(x.to_numpy(float), y)
        b, se = beta[1], float(np.sqrt(cov[1, 1]))
        rows.append({"segment": name, "uplift": np.expm1(b), "lo": np.expm1(b - z * se),
                     "hi": np.expm1(b + z * se), "units_per_day": float(y.mean()),
                     "promotion_days": int(x["promotion"].sum())})
    return pd.DataFrame(rows).set_index("segment")


PROMOTION_WINDOWS = (182, 365, None)  # days of history an uplift is estimated on; None: all
PROMOTION_CHECK_DAYS = 182  # the promotions before the holdout each side's window is chosen on


def _promotion_errors(panel: pd.DataFrame, quiet: np.ndarray, promo: np.ndarray,
                      uplift: pd.Series, base_days: int, aware: bool) -> np.ndarray:
    """Units forecast on the promotion days ``promo`` (positions in ``panel``): the units of
    the ``base_days`` event-free days before each, times one uplift for all (``aware``
    False) or each segment's times its own (a segment without one takes the business's).
    Returns the forecasts."""
    segs = [c for c in panel.columns if c != "all"]
    up = uplift.reindex(segs + ["all"]).fillna(uplift["all"])
    base = np.empty((len(promo), panel.shape[1]))
    for i, day in enumerate(promo):
        base[i] = panel.iloc[np.flatnonzero(quiet[:day])[-base_days:]].mean(axis=0).to_numpy()
    base = pd.DataFrame(base, columns=panel.columns)
    if not aware or not segs:
        return base["all"].to_numpy() * (1 + up["all"])
    return sum((base[c].to_numpy() * (1 + up[c]) for c in segs), start=np.zeros(len(promo)))


def promotion_comparison(orders: pd.DataFrame, calendar: pd.DataFrame,
                         segments: pd.DataFrame | None, start, end=None, base_days: int = 14,
                         n_boot: int = 2000, seed: int = 0, placebo: bool = False) -> dict:
    """Units bought again on the promotion days from ``start`` on (to ``end``, else the
    last order), forecast from the units of the ``base_days`` event-free days before each
    promotion: profile-blind, the business's units times one uplift for all; profile-aware,
    each segment's units times its own uplift (:func:`promotion_response`), summed.

    The uplifts are estimated on the last 182 or 365 days before, or on all of it
    (:data:`PROMOTION_WINDOWS`), whichever made the profile-blind forecast of the
    promotions of the :data:`PROMOTION_CHECK_DAYS` before ``start`` best (learned before
    those); both sides then use that much history before ``start``, so that they differ
    in the segments alone. Judged by WAPE, paired over promotions (a promotion's days
    together). Also per segment, the uplift estimated before against the
    one seen on the holdout's promotions. ``placebo``: the segments shuffled among the
    customers."""
    from chainsight import compare

    _needs_promotions(calendar, "promotion_comparison")
    start = pd.Timestamp(start)
    end = (pd.Timestamp(end) if end is not None
           else orders[S.TIMESTAMP].max().normalize() + pd.Timedelta(days=1))
    if placebo and segments is not None:
        segments = segments.drop_duplicates(S.CUSTOMER_ID)
        segments = segments.assign(segment=np.random.default_rng(seed).permutation(
            segments["segment"].to_numpy()))
    first = orders[S.TIMESTAMP].min().normalize()
    panel = _daily_units(orders, segments, first, end)
    kind = calendar.set_index(S.DATE)[S.EVENT_KIND].reindex(panel.index).fillna("")
    is_promo, quiet = (kind == "promotion").to_numpy(), (kind == "").to_numpy()

    def promos(lo, hi):
        return np.flatnonzero(is_promo & (panel.index >= lo) & (panel.index < hi))

    def fitted(cut, window):
        lo = None if window is None else cut - pd.Timedelta(days=window)
        return promotion_response(orders, calendar, segments, cut,
                                  start=lo if lo is None or lo > first else None)

    check = start - pd.Timedelta(days=PROMOTION_CHECK_DAYS)
    on_check = {"blind": {}, "aware": {}}
    days = promos(check, start)
    for window in PROMOTION_WINDOWS:
        try:
            up = fitted(check, window)["uplift"]
        except ValueError:  # too few promotions in that window
            continue
        actual = panel["all"].to_numpy()[days]
        for side in on_check:
            f = _promotion_errors(panel, quiet, days, up, base_days, side == "aware")
            on_check[side][window] = float(np.abs(f - actual).sum() / max(actual.sum(), 1e-9))
    window = min(on_check["blind"], key=on_check["blind"].get) if on_check["blind"] else None
    chosen = {"blind": window, "aware": window}
    days = promos(start, end)
    runs = np.cumsum(np.r_[1, np.diff(days) > 1]) - 1  # which promotion each day is in
    if len(days) == 0 or runs[-1] < 1:
        raise ValueError(f"promotion_comparison: {runs[-1] + 1 if len(days) else 0} "
                         f"promotion(s) from {start:%Y-%m-%d}; at least 2 are needed to judge")
    actual = panel["all"].to_numpy()[days]
    forecast, responses = {}, {}
    for side, window in chosen.items():
        responses[side] = fitted(start, window)
        forecast[side] = _promotion_errors(panel, quiet, days, responses[side]["uplift"],
                                           base_days, side == "aware")
    err = {side: np.bincount(runs, weights=np.abs(f - actual)) for side, f in forecast.items()}
    result = compare.paired(err["blind"], err["aware"], weight=np.bincount(runs, weights=actual),
                            metric="WAPE of units on promotion days", unit="promotion",
                            n_boot=n_boot, seed=seed)
    cols = list(panel.columns)
    base = np.array([panel.iloc[np.flatnonzero(quiet[:d])[-base_days:]].mean(axis=0).to_numpy()
                     for d in days])
    seen = pd.Series(panel.iloc[days].sum(axis=0).to_numpy() / base.sum(axis=0) - 1, index=cols)
    table = responses["aware"].assign(seen_on_holdout=seen.reindex(
        responses["aware"].index))
    return {"response": table, "value": result, "windows": chosen, "on_check": on_check,
            "days": panel.index[days], "promotions": int(runs[-1] + 1),
            "forecast": pd.DataFrame({"actual": actual, **forecast}, index=panel.index[days])}


# ---------------------------------------------------------------------------
# Service tiers: value x price sensitivity
# ---------------------------------------------------------------------------
# (value above average, more promotion-sensitive than average) -> the tier and what it
# offers: delivery tier (logistics.delivery_tiers), cycle-service target for stock
# priority (inventory.service_tiers), returns handling.
SERVICE_TIERS = {
    (True, False): ("premium", "express", 0.98, "free, collected"),
    (True, True): ("valued", "standard", 0.95, "free, dropped off"),
    (False, False): ("core", "standard", 0.90, "dropped off, paid by the customer"),
    (False, True): ("economy", "economy", 0.90, "dropped off, paid by the customer"),
}


def tier_matrix(profile_customers: pd.DataFrame, response: pd.DataFrame | None,
                tiers: dict | None = None) -> pd.DataFrame:
    """One row per segment: its customers, CLV per customer and promotion uplift
    (:func:`promotion_response`), whether its value is above the average customer's and
    its uplift's interval above the whole business's uplift, and the tier that places it in
    (:data:`SERVICE_TIERS`, or ``tiers`` in the same form): delivery tier, stock target
    and returns handling. A segment with no estimated uplift is taken as average; with
    no ``response`` at all (data without promotions), every segment is, and the tiers
    follow value alone."""
    tiers = SERVICE_TIERS if tiers is None else tiers
    S.require_columns(profile_customers, "profile", ["segment", "clv"])
    if response is None:
        response = pd.DataFrame({"uplift": [np.nan]}, index=["all"])
    if "all" not in response.index:
        raise ValueError("tier_matrix: the response needs the whole business's row 'all' "
                         "(from promotion_response)")
    g = profile_customers.groupby("segment").agg(customers=("clv", "size"),
                                                 clv_per_customer=("clv", "mean"))
    g["promotion_uplift"] = g.index.astype(str).map(response["uplift"]).fillna(
        response.loc["all", "uplift"]).to_numpy(float)
    g["high_value"] = g["clv_per_customer"] > profile_customers["clv"].mean()
    # Price-sensitive only where the segment's interval lies above the business's uplift:
    # a point estimate above it is often noise.
    lo = g.index.astype(str).map(response["lo"]) if "lo" in response else None
    g["price_sensitive"] = (np.asarray(lo, dtype=float) > response.loc["all", "uplift"]
                            if lo is not None else False)
    rows = [tiers[(bool(v), bool(p))] for v, p in zip(g["high_value"], g["price_sensitive"],
                                                      strict=True)]
    g[["tier", "delivery", "stock_target", "returns"]] = pd.DataFrame(rows, index=g.index)
    return g.reset_index()


# ---------------------------------------------------------------------------
# What service does to stock: recommendations and campaigns shift demand
# ---------------------------------------------------------------------------
def _sku_economics(orders: pd.DataFrame, products: pd.DataFrame | None, items: pd.Index,
                   before, cost_share: float = 0.6, default_lead_time: float = 14
                   ) -> pd.DataFrame:
    """Per item: price (the median paid before ``before``), unit cost (the product's, else
    ``cost_share`` x price) and lead time in days (the product's, else the default)."""
    past = orders[orders[S.TIMESTAMP] < before]
    price = past.groupby(S.PRODUCT_ID)[S.UNIT_PRICE].median().reindex(items)
    price = price.fillna(orders.groupby(S.PRODUCT_ID)[S.UNIT_PRICE].median().reindex(items))
    out = pd.DataFrame({"price": price.fillna(0.0).to_numpy()}, index=items)
    p = (products.drop_duplicates(S.PRODUCT_ID).set_index(S.PRODUCT_ID).reindex(items)
         if products is not None else pd.DataFrame(index=items))
    cost = p[S.UNIT_COST] if S.UNIT_COST in p else pd.Series(np.nan, index=items)
    out["cost"] = cost.fillna(out["price"] * cost_share).to_numpy(float)
    lead = p[S.LEAD_TIME_DAYS] if S.LEAD_TIME_DAYS in p else pd.Series(np.nan, index=items)
    out["lead_time"] = lead.fillna(default_lead_time).round().astype(int).to_numpy()
    return out


def _daily_matrix(lines: pd.DataFrame, items: pd.Index, days: pd.DatetimeIndex) -> np.ndarray:
    """Items x days: units per day."""
    r = items.get_indexer(lines[S.PRODUCT_ID])
    c = days.get_indexer(lines[S.TIMESTAMP].dt.normalize())
    keep = (r >= 0) & (c >= 0)
    out = np.zeros((len(items), len(days)))
    np.add.at(out, (r[keep], c[keep]), lines[S.QUANTITY].to_numpy(float)[keep])
    return out


def stock_replay(demand: np.ndarray, plans: dict, sd: np.ndarray, econ: pd.DataFrame,
                 target: float = 0.95, cycle_days: float = 14, holding_rate: float = 0.25,
                 extra: dict | None = None) -> dict:
    """Replay daily ``demand`` (items x days) against one (s, S) plan per entry of
    ``plans`` (name -> planned mean units per day per item): s = mean x lead time + z x
    ``sd`` x sqrt(lead time) at the cycle-service ``target``, S = s + ``cycle_days`` of
    the mean, plus ``extra[name]`` units (items x days) raised on both levels where a plan
    builds ahead. Per plan and item: demand, served, lost units, lost margin (lost x
    (price - cost)), holding cost (average stock x cost x ``holding_rate``, over the
    days replayed) and their total."""
    from scipy.stats import norm

    from chainsight import inventory

    z = norm.ppf(target)
    lead = econ["lead_time"].to_numpy(int)
    margin = (econ["price"] - econ["cost"]).clip(lower=0).to_numpy(float)
    out = {}
    for name, mean in plans.items():
        mean = np.maximum(np.asarray(mean, float), 0.0)
        s = mean * lead + z * sd * np.sqrt(np.maximum(lead, 1))
        up = s + mean * cycle_days
        add = (extra or {}).get(name)
        if add is not None:
            s, up = s[:, None] + add, up[:, None] + add
        sim = inventory.simulate(demand, lead, s, up)
        lost = sim.lost
        holding = (sim.average_on_hand * econ["cost"].to_numpy(float) * holding_rate
                   * demand.shape[1] / 365)
        out[name] = pd.DataFrame({"demand": sim.demand, "served": sim.served,
                                  "lost_units": lost, "lost_margin": lost * margin,
                                  "holding_cost": holding,
                                  "total_cost": lost * margin + holding}, index=econ.index)
    return out


def _stock_summary(replay: dict) -> pd.DataFrame:
    return pd.DataFrame({k: {"fill_rate": v["served"].sum() / max(v["demand"].sum(), 1e-9),
                             "lost_units": v["lost_units"].sum(),
                             "lost_margin": v["lost_margin"].sum(),
                             "holding_cost": v["holding_cost"].sum(),
                             "total_cost": v["total_cost"].sum()}
                         for k, v in replay.items()}).T


def _paired_total(blind: pd.DataFrame, aware: pd.DataFrame, metric: str, n_boot: int,
                  seed: int, unit: str = "SKU"):
    """Total cost over items, paired over items (weights 1/n make the ratio of sums the
    total)."""
    from chainsight import compare

    n = len(blind)
    return compare.paired(blind["total_cost"].to_numpy(), aware["total_cost"].to_numpy(),
                          np.full(n, 1.0 / n), metric=metric, unit=unit, n_boot=n_boot,
                          seed=seed)


def recommendation_stock(orders: pd.DataFrame, products: pd.DataFrame | None,
                         recommended: np.ndarray, customers, items: pd.Index, start,
                         horizon_days: int = 90, conversion: float = 0.1,
                         history_days: int = 91, target: float = 0.95, seed: int = 0,
                         n_boot: int = 2000) -> dict:
    """What recommendations do to stock, as a what-if: a share ``conversion`` of each
    recommended customer's lines after ``start`` goes to a product on their list (one of
    its k at random) instead of what they chose. The shift is an assumption (the data
    records no response to recommendations); what follows is computed.

    Expected shift, known before ``start``: each customer buys in the next
    ``horizon_days`` what they bought in the ``horizon_days`` before; ``conversion`` of it
    moves from their own products (pro rata) to their list (evenly). Stock is planned
    from the ``history_days`` before ``start`` (mean and sd of daily units per item):
    profile-blind without the shift, profile-aware with the expected shift added to the
    mean. Both are replayed (:func:`stock_replay`) on the holdout's lines with the shift
    drawn (seeded), paired over items: total cost = lost margin + holding cost. Also the
    blind plan on the holdout without the shift, for what the shift itself does."""
    if not 0 <= conversion <= 1:
        raise ValueError(f"recommendation_stock: conversion must lie between 0 and 1, "
                         f"got {conversion}")
    start = pd.Timestamp(start)
    customers = pd.Index(customers)
    rec = np.asarray(recommended)
    if rec.shape[0] != len(customers):
        raise ValueError(f"recommendation_stock: {rec.shape[0]} lists for {len(customers)} "
                         "customers")
    horizon = pd.Timedelta(days=horizon_days)
    hist_days = pd.date_range(start - pd.Timedelta(days=history_days), periods=history_days)
    days = pd.date_range(start, periods=horizon_days)
    past = orders[(orders[S.TIMESTAMP] >= hist_days[0]) & (orders[S.TIMESTAMP] < start)]
    hist = _daily_matrix(past, items, hist_days)
    mean, sd = hist.mean(axis=1), hist.std(axis=1, ddof=1)
    # The expected shift: a customer's last horizon of units, ``conversion`` of it moved.
    recent = orders[(orders[S.TIMESTAMP] >= start - horizon) & (orders[S.TIMESTAMP] < start)]
    row = customers.get_indexer(recent[S.CUSTOMER_ID])
    col = items.get_indexer(recent[S.PRODUCT_ID])
    keep = (row >= 0) & (col >= 0)
    q = recent[S.QUANTITY].to_numpy(float)[keep]
    shift = np.zeros(len(items))
    np.add.at(shift, col[keep], -conversion * q)
    per_customer = np.bincount(row[keep], weights=q, minlength=len(customers))
    valid = rec >= 0
    n_valid = valid.sum(axis=1)
    share = np.where(valid, (conversion * per_customer / np.maximum(n_valid, 1))[:, None], 0.0)
    np.add.at(shift, rec[valid], share[valid])
    # The holdout with the shift drawn.
    after = orders[(orders[S.TIMESTAMP] >= start) & (orders[S.TIMESTAMP] < start + horizon)]
    rng = np.random.default_rng(seed)
    who = customers.get_indexer(after[S.CUSTOMER_ID])
    moved = (who >= 0) & (rng.random(len(after)) < conversion)
    moved &= n_valid[np.maximum(who, 0)] > 0
    pick = (rng.random(len(after)) * n_valid[np.maximum(who, 0)]).astype(int)
    new_item = np.where(moved, rec[np.maximum(who, 0), np.minimum(pick, rec.shape[1] - 1)], -1)
    shifted = after.assign(**{S.PRODUCT_ID: np.where(
        moved, items.to_numpy()[np.maximum(new_item, 0)], after[S.PRODUCT_ID].to_numpy())})
    demand = _daily_matrix(shifted, items, days)
    econ = _sku_economics(orders, products, items, start)
    plans = {"planned without the shift": mean,
             "planned with the expected shift": mean + shift / horizon_days}
    replay = stock_replay(demand, plans, sd, econ, target)
    unshifted = stock_replay(_daily_matrix(after, items, days), {"no shift": mean}, sd, econ,
                             target)
    summary = pd.concat([_stock_summary(unshifted), _stock_summary(replay)])
    value = _paired_total(replay["planned without the shift"],
                          replay["planned with the expected shift"],
                          "total cost (lost margin + holding)", n_boot, seed)
    per_item = pd.DataFrame({"expected_shift": shift, "moved_units": demand.sum(axis=1)
                             - _daily_matrix(after, items, days).sum(axis=1)}, index=items)
    return {"summary": summary, "value": value, "per_item": per_item,
            "moved_lines": int(moved.sum()), "lines": len(after)}


def campaign_stock(orders: pd.DataFrame, products: pd.DataFrame | None, frame: pd.DataFrame,
                   start, segments: pd.DataFrame | None = None, history_days: int = 91,
                   after_days: int = 60, target: float = 0.95, markdown: float = 0.2,
                   n_samples: int = 500, seed: int = 0, n_boot: int = 2000) -> dict:
    """Stock for a coupon campaign's extra demand, on each campaign from ``start`` on
    (``frame`` from :func:`campaign_frame`). Regular stock is planned from the
    ``history_days`` before the campaign (:func:`stock_replay`); a pre-build for the
    window is sized per SKU by the newsvendor (:func:`chainsight.inventory.
    prebuild_quantity`, Poisson samples of the expected extra units, ``markdown`` on
    what is left):

    - profile-blind: the extra units per couponed customer of the earlier campaigns
      (couponed less control), times the customers couponed now, spread over the SKUs
      by the business's mix;
    - profile-aware: each couponed customer's predicted extra units (the two-model uplift
      with the profile, :func:`uplift_model` on units), spread by their own mix.

    Replayed on the window's actual demand and the ``after_days`` after it (what is left
    is held until sold), paired over SKUs: total cost = lost margin + holding cost; and
    "no pre-build" for the stock-outs the pre-build avoids."""
    from chainsight import inventory

    start = pd.Timestamp(start)
    dates = frame.groupby(S.CAMPAIGN_ID)[S.DATE].min().sort_values()
    now = dates[dates >= start]
    train = frame[frame[S.CAMPAIGN_ID].isin(dates[dates < start].index)]
    if now.empty or train.empty:
        raise ValueError(f"campaign_stock: needs campaigns before {start:%Y-%m-%d} to learn "
                         "from and one from it on")
    items = pd.Index(sorted(orders[S.PRODUCT_ID].unique()))
    econ = _sku_economics(orders, products, items, start)
    g = train.groupby("coupon")["units"].mean()
    per_coupon = float(g.get(True, 0.0) - g.get(False, 0.0))
    model = uplift_model(train, True, segments, outcome="units", seed=seed)
    parts, sizing = [], []
    for cid, day in now.items():
        window = int(frame.loc[frame[S.CAMPAIGN_ID] == cid, S.CAMPAIGN_DAYS].max())
        days = pd.date_range(day, periods=window + after_days)
        hist_days = pd.date_range(day - pd.Timedelta(days=history_days), periods=history_days)
        past = orders[(orders[S.TIMESTAMP] >= hist_days[0]) & (orders[S.TIMESTAMP] < day)]
        hist = _daily_matrix(past, items, hist_days)
        mix = hist.sum(axis=1) / max(hist.sum(), 1e-9)
        sent = frame[(frame[S.CAMPAIGN_ID] == cid) & frame["coupon"]]
        blind_extra = per_coupon * len(sent) * mix
        pred = model(sent)
        own = past[past[S.CUSTOMER_ID].isin(sent[S.CUSTOMER_ID])]
        who = pd.Index(sent[S.CUSTOMER_ID])
        m = np.zeros((len(who), len(items)))
        r, c = who.get_indexer(own[S.CUSTOMER_ID]), items.get_indexer(own[S.PRODUCT_ID])
        ok = (r >= 0) & (c >= 0)
        np.add.at(m, (r[ok], c[ok]), own[S.QUANTITY].to_numpy(float)[ok])
        rows = m.sum(axis=1)
        m = np.where(rows[:, None] > 0, m / np.maximum(rows, 1e-9)[:, None], mix[None, :])
        # Predictions below zero count too (noise either way), the sum per SKU kept >= 0.
        aware_extra = np.maximum(pred @ m, 0.0)
        g_now = frame[frame[S.CAMPAIGN_ID] == cid].groupby("coupon")["units"].mean()
        sizing.append({"campaign": cid, "profile-blind": float(blind_extra.sum()),
                       "profile-aware": float(aware_extra.sum()),
                       "seen": float((g_now.get(True, 0.0) - g_now.get(False, 0.0))
                                     * len(sent))})
        demand = _daily_matrix(orders, items, days)
        builds = {}
        for name, extra in (("pre-build, one uplift for all", blind_extra),
                            ("pre-build by customer", aware_extra)):
            rng = np.random.default_rng([seed, len(parts)])  # the same draws for both sides
            q = np.zeros(len(items))
            for i in np.flatnonzero(extra > 0):
                q[i] = inventory.prebuild_quantity(
                    rng.poisson(extra[i], n_samples), econ["cost"].iat[i], econ["price"].iat[i],
                    markdown=markdown)["quantity"]
            add = np.zeros((len(items), len(days)))
            add[:, :window] = q[:, None]
            builds[name] = add
        mean, sd = hist.mean(axis=1), hist.std(axis=1, ddof=1)
        plans = {k: mean for k in ("no pre-build", *builds)}
        replay = stock_replay(demand, plans, sd, econ, target, extra=builds)
        parts.append({k: v.assign(campaign=cid) for k, v in replay.items()})
    replay = {k: pd.concat([p[k] for p in parts]) for k in parts[0]}
    summary = _stock_summary(replay)
    value = _paired_total(replay["pre-build, one uplift for all"],
                          replay["pre-build by customer"], "total cost (lost margin + holding)",
                          n_boot, seed, unit="SKU x campaign")
    return {"summary": summary, "value": value, "campaigns": list(now.index),
            "after_days": after_days,
            # extra units expected by each side, and seen (couponed less control, times
            # the customers couponed)
            "extra_units": pd.DataFrame(sizing).set_index("campaign"),
            "stockouts_avoided": float(summary.loc["no pre-build", "lost_units"]
                                       - summary.loc["pre-build by customer", "lost_units"])}
