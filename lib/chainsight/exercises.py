"""Automatic checks for the notebooks' exercises.

An exercise asks the learner to compute a value; :func:`check` compares it with
the value the library computes and says, in one line, whether it is right.
An exercise left unanswered (``None``) is reported as not attempted, so a
notebook still runs end to end in the report pipeline.
"""

from __future__ import annotations

import math

import pandas as pd

from chainsight import schema as S
from chainsight.datasets import Dataset


def check(name: str, answer, expected, rel_tol: float = 1e-3) -> bool | None:
    """Print whether ``answer`` matches ``expected``; return True, False or None
    (not attempted)."""
    if answer is None:
        print(f"{name}: not attempted yet. Replace None with your answer and re-run.")
        return None
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        try:
            ok = math.isclose(float(answer), float(expected), rel_tol=rel_tol, abs_tol=1e-9)
        except (TypeError, ValueError):
            ok = False
    else:
        ok = answer == expected
    print(f"{name}: {'correct' if ok else 'not quite, try again'} (your answer: {answer!r})")
    return ok


# Expected values, computed from the data the notebook loaded ---------------
def express_share(ds: Dataset) -> float:
    """Share of order lines shipped by express (0-1)."""
    return float((ds.orders[S.SHIP_MODE] == "express").mean())


def repeat_customer_share(orders: pd.DataFrame) -> float:
    """Share of customers with orders on more than one day (0-1)."""
    days = orders.groupby(S.CUSTOMER_ID)[S.TIMESTAMP].apply(lambda t: t.dt.normalize().nunique())
    return float((days > 1).mean())


def segment_revenue_share(customers: pd.DataFrame, segment: int = 1) -> float:
    """Share of past revenue (0-1) that comes from one segment of a profile."""
    return float(customers.loc[customers["segment"] == segment, "monetary"].sum()
                 / customers["monetary"].sum())


def rfm_group_size(customers: pd.DataFrame, group: str = "champions") -> int:
    """Number of customers in an RFM group."""
    return int((customers["rfm_group"] == group).sum())


def model_wape(bt: pd.DataFrame, model: str) -> float:
    """WAPE (0-1) of one model over a whole backtest."""
    d = bt[bt["model"] == model]
    return float((d["yhat"] - d["y"]).abs().sum() / d["y"].sum())


def least_biased_model(bt: pd.DataFrame) -> str:
    """The model whose total error is closest to zero over a backtest."""
    bias = bt.assign(e=bt["yhat"] - bt["y"]).groupby("model")["e"].sum().abs()
    return str(bias.idxmin())
