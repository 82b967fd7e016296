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
        "answer_3 = None": 'answer_3 = overview.mix_holdout_comparison(\n'
                           '    ds.orders, ds.tables["customers"], ds.tables["products"],'
                           ' holdout.start,\n'
                           '    window_days=91, seed=seed)[1].difference',
    },
    "01_customer_profiles": {
        "answer_1 = None": "answer_1 = (customers.loc[customers[\"segment\"] == 1, \"monetary\"]"
                           ".sum()\n            / customers[\"monetary\"].sum())",
        "answer_2 = None": "answer_2 = int((customers[\"rfm_group\"] == \"champions\").sum())",
        "answer_3 = None": 'answer_3 = profiling.holdout_check(\n'
                           '    ds, holdout.start, top_share=0.05, profile=profile,\n'
                           '    seed=seed)["comparisons"]["share of holdout revenue'
                           ' reached"].difference',
    },
    "02_demand_forecasting": {
        "answer_1 = None": "naive = bt[bt[\"model\"] == \"naive\"]\n"
                           "answer_1 = (naive[\"yhat\"] - naive[\"y\"]).abs().sum() / "
                           "naive[\"y\"].sum()",
        "answer_2 = None": "errors = bt.assign(e=bt[\"yhat\"] - bt[\"y\"])\n"
                           "answer_2 = errors.groupby(\"model\")[\"e\"].sum().abs().idxmin()",
        "answer_3 = None": 'bt95 = forecasting.backtest(panel, ["ets"], origins, h=horizon,'
                           ' level=95,\n'
                           '                           calendar_features=cal_w, seed=seed)\n'
                           'answer_3 = float(forecasting.accuracy(bt95)["coverage"].iloc[0])',
    },
    "03_inventory": {
        "answer_1 = None": "answer_1 = (2 * 200 * 52 * ltd.weekly_rate[example]"
                           " / (holding_rate * unit_cost)) ** 0.5",
        "answer_2 = None": "answer_2 = float(np.quantile(ltd.samples[example], 0.90))",
        "answer_3 = None": 'answer_3 = ltd.reorder_points(0.99)[example] -'
                           ' ltd.reorder_points(0.95)[example]',
        "answer_4 = None": "answer_4 = rerun_inventory(0.5, default_target)"
                           "['paired']['total_cost'].difference",
    },
    "05_customised_production": {
        "answer_1 = None": "answer_1 = 0.8 / (1 - 0.8) * (1 + 1 ** 2) / 2 * 2",
        "answer_2 = None": "answer_2 = production.RED_TOMATO_OPTIMUM['lp'] - production."
                           "aggregate_plan(production.RED_TOMATO_DEMAND, production.PlanCosts("
                           "subcontract=20.0)).cost",
        "answer_3 = None": 'answer_3 = float(production.queue_wait(0.95, 1.0, 1.0) /'
                           ' production.queue_wait(0.80, 1.0, 1.0))',
    },
    "06_supply_chain_risk": {
        "answer_1 = None": "answer_1 = 0.5 ** 2 + 0.3 ** 2 + 0.2 ** 2",
        "answer_2 = None": "answer_2 = 60 / (30 - 15)",
        "answer_3 = None": 'dearer = risk.early_warning_comparison(\n'
                           '    ds.orders, start, horizon_days, key_share, 2 * contact_cost,'
                           ' save_rate, margin_share,\n'
                           '    seed=seed)\n'
                           'answer_3 = int(dearer["rules"].loc["profile-blind", "flagged"])',
    },
    "07_personalised_service": {
        "answer_1 = None": "answer_1 = 2 / 5",
        "answer_2 = None": "answer_2 = 2 / 3",
        "answer_3 = None": "answer_3 = 60 / 1000 - 45 / 1000",
        "answer_4 = None": 'answer_4 = service.ranking_metrics([[5, 1, 9, 7, 3, 4, 6, 8, 0,'
                           ' 2]],\n'
                           '                                   [[i in (2, 5, 9) for i in'
                           ' range(10)]],\n'
                           '                                   k=10)["precision"].iloc[0]',
    },
    "08_summary_cockpit": {
        "answer_1 = None": "answer_1 = int((decisions['verdict'] == 'better').sum())",
        "answer_2 = None": "answer_2 = 'no measurable difference'",
        "answer_3 = None": 'answer_3 = int((controls["verdict"] == "better").sum())',
    },
    "04_logistics": {
        "answer_1 = None": "answer_1 = 2",
        "answer_2 = None": "nn = net['networks'].set_index('network')['total_cost']\n"
                           "answer_2 = nn['profile-aware'] - nn['ship-mode rule, equal cost']",
        "answer_3 = None": "further = rerun_network(next_day_km + 200, required_share)\n"
                           "answer_3 = int(further['networks'].set_index('network')"
                           ".loc['profile-aware', 'sites'])",
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
    (not attempted). ``expected`` may be a function of no arguments, called only once an
    answer is given: an exercise that re-runs a comparison costs nothing until then."""
    if answer is None:
        print(f"{name}: not attempted yet. Replace None with your answer and re-run.")
        return None
    if callable(expected):
        expected = expected()
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
    days = (orders[S.TIMESTAMP].dt.normalize().groupby(orders[S.CUSTOMER_ID], sort=False)
            .nunique())
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
