"""Supply-chain risk (供应链风险管理): whose demand the business cannot afford to lose.

- :func:`hhi` and :func:`pareto` measure how concentrated revenue (or CLV) is over
  customers, segments, cities, products or suppliers; :func:`concentration` gives one row
  per dimension of the order lines: the Herfindahl-Hirschman index, the number of
  equal-sized holders it corresponds to, and the share of the top 1%, 5% and 20% and of
  the single largest holder.
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
