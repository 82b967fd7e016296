"""What each notebook can do, and the holdout: derived, or given and checked."""

from __future__ import annotations

import pandas as pd
import pytest

from chainsight import datasets, readiness
from chainsight import schema as S
from chainsight.schema import DataContractError


@pytest.fixture(scope="module")
def orders():
    days = pd.date_range("2023-01-02", "2024-12-29", freq="D")
    return pd.DataFrame({S.TIMESTAMP: days})


def test_the_holdout_is_derived_or_given(orders):
    derived = readiness.holdout_start(orders, "", weeks=26, monday=True)
    assert derived.start == pd.Timestamp("2024-07-01") and derived.start.dayofweek == 0
    assert "derived: the last 26 weeks" in derived.sentence
    # Data ending on a Wednesday: the Monday after the cut leaves 25.6 weeks, and says so.
    wednesday = readiness.holdout_start(orders[orders[S.TIMESTAMP] <= "2024-12-25"], "",
                                        weeks=26, monday=True)
    assert wednesday.start == pd.Timestamp("2024-07-01")
    assert "the last 26 weeks of the data, moved on 5 day(s) to a Monday): 78 weeks " \
           "before it to learn from, 25.3 weeks after it" in wednesday.sentence
    given = readiness.holdout_start(orders, "2024-03-01T00:00+08:00", weeks=26)
    assert given.start == pd.Timestamp("2024-03-01") and "(given)" in given.sentence
    short = readiness.holdout_start(orders.iloc[:140], "", weeks=52)
    assert "derived: the last third of the data" in short.sentence


@pytest.mark.parametrize("given,message", [
    ("July", r"'July' is not a date; write it as YYYY-MM-DD"),
    ("someday", r"'someday' is not a date"),
    ("2024-12-20", r"leaves 102.6 week\(s\) of order lines before it and 1.3 after it"),
    ("2030-01-01", r"the data runs from 2023-01-02 to 2024-12-29"),
])
def test_a_given_holdout_outside_the_data_is_a_sentence(orders, given, message):
    with pytest.raises(DataContractError, match=message):
        readiness.holdout_start(orders, given, weeks=26)


def test_built_in_datasets_get_no_mapping_lines():
    table = readiness.table(datasets.load("online_retail"))
    assert (table["fix"] == "").all()
    assert "skips 'warehouse network', 'holdout', 'delivery tiers', 'last mile'" in set(
        table["status"])
