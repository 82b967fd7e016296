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
