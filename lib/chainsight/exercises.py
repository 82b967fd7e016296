"""Automatic checks for the notebooks' exercises.

An exercise asks the learner to compute a value; :func:`check` compares it with
the value the library computes and says, in one line, whether it is right.
An exercise left unanswered (``None``) is reported as not attempted, so a
notebook still runs end to end in the report pipeline.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from chainsight import schema as S
from chainsight.datasets import Dataset

# Worked solutions, per notebook: each exercise's blank and the code that fills it, as a
# learner following the hint would write it. `chainsight report --solutions` runs the
# notebooks with them (a facilitator's copy); the tests check every one reads "correct".
SOLUTIONS = {
    "00_data_overview": {
        "answer_1 = None": "answer_1 = float((ds.orders[\"ship_mode\"] == \"express\").mean())",
        "answer_2 = None": "days = ds.orders.groupby(\"customer_id\")[\"timestamp\"].apply(\n"
                           "    lambda t: t.dt.normalize().nunique())\n"
                           "answer_2 = float((days > 1).mean())",
    },
    "01_customer_profiles": {
        "answer_1 = None": "answer_1 = (customers.loc[customers[\"segment\"] == 1, \"monetary\"]"
                           ".sum()\n            / customers[\"monetary\"].sum())",
        "answer_2 = None": "answer_2 = int((customers[\"rfm_group\"] == \"champions\").sum())",
    },
    "02_demand_forecasting": {
        "answer_1 = None": "naive = bt[bt[\"model\"] == \"naive\"]\n"
                           "answer_1 = (naive[\"yhat\"] - naive[\"y\"]).abs().sum() / "
                           "naive[\"y\"].sum()",
        "answer_2 = None": "errors = bt.assign(e=bt[\"yhat\"] - bt[\"y\"])\n"
                           "answer_2 = errors.groupby(\"model\")[\"e\"].sum().abs().idxmin()",
    },
    "03_inventory": {
        "answer_1 = None": "answer_1 = (2 * 200 * 52 * ltd.weekly_rate[example]"
                           " / (holding_rate * unit_cost)) ** 0.5",
        "answer_2 = None": "answer_2 = float(np.quantile(ltd.samples[example], 0.90))",
    },
    "05_customised_production": {
        "answer_1 = None": "answer_1 = 0.8 / (1 - 0.8) * (1 + 1 ** 2) / 2 * 2",
        "answer_2 = None": "answer_2 = production.RED_TOMATO_OPTIMUM['lp'] - production."
                           "aggregate_plan(production.RED_TOMATO_DEMAND, production.PlanCosts("
                           "subcontract=20.0)).cost",
    },
    "06_supply_chain_risk": {
        "answer_1 = None": "answer_1 = 0.5 ** 2 + 0.3 ** 2 + 0.2 ** 2",
        "answer_2 = None": "answer_2 = 60 / (30 - 15)",
    },
    "07_personalised_service": {
        "answer_1 = None": "answer_1 = 2 / 5",
        "answer_2 = None": "answer_2 = 2 / 3",
        "answer_3 = None": "answer_3 = 60 / 1000 - 45 / 1000",
    },
    "08_summary_cockpit": {
        "answer_1 = None": "answer_1 = int((decisions['verdict'] == 'better').sum())",
        "answer_2 = None": "answer_2 = 'no measurable difference'",
    },
    "04_logistics": {
        "answer_1 = None": "answer_1 = 2",
        "answer_2 = None": "nn = net['networks'].set_index('network')['total_cost']\n"
                           "answer_2 = nn['profile-aware'] - nn['ship-mode rule, equal cost']",
    },
}


def with_solutions(nb, stem: str):
    """A copy of notebook ``nb`` (named ``stem``) with every exercise blank filled by its
    worked solution; an error names a blank without a solution, or a solution whose
    blank the notebook no longer has."""
    import copy

    nb = copy.deepcopy(nb)
    solutions = SOLUTIONS.get(stem, {})
    used = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or "exercise" not in cell.metadata.get("tags", []):
            continue
        for blank, answer in solutions.items():
            if blank in cell.source:
                cell.source = cell.source.replace(blank, answer)
                used.add(blank)
        if re.search(r"^answer_\d+ = None$", cell.source, re.M):
            raise ValueError(f"{stem}: an exercise has no worked solution in "
                             f"chainsight.exercises.SOLUTIONS:\n{cell.source}")
    if set(solutions) - used:
        raise ValueError(f"{stem}: solutions for blanks the notebook does not have: "
                         f"{sorted(set(solutions) - used)}")
    return nb


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
