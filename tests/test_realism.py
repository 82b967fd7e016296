"""The synthetic personas are tendencies, not a lookup: limits on how well standard
classifiers recover them from the profile's own features (acceptance of the
realistic-personas design, on the default size)."""

from __future__ import annotations

import numpy as np
import pytest

from chainsight import profiling, realism, synthetic
from chainsight import schema as S


def _features(size, seed):
    d = synthetic.generate(size, seed)
    f = profiling.customer_features(d.orders, d.customers, d.products, d.calendar)
    persona = f[[S.CUSTOMER_ID]].merge(d.truth.customers, on=S.CUSTOMER_ID)["persona"]
    return f, persona


@pytest.fixture(scope="module")
def default_predictability():
    f, persona = _features("default", 42)
    return realism.persona_predictability(f, persona, sets=("all features", "demographics"))


def test_classifiers_cannot_read_the_persona_off_the_profile(default_predictability):
    acc = default_predictability.accuracy.set_index(["features", "classifier"])["accuracy"]
    for clf in ("logistic regression", "gradient boosting"):
        assert acc[("all features", clf)] <= 0.85, clf
        assert acc[("demographics", clf)] <= 0.70, clf


def test_the_profile_still_carries_the_persona(default_predictability):
    """The limits above are not met by noise: every classifier is far above always
    guessing the largest persona."""
    a = default_predictability.accuracy
    assert (a["accuracy"] > a["majority_share"] + 0.2).all()


def test_feature_sets_split_demographics_from_behaviour(small):
    f = profiling.customer_features(small.orders, small.customers, small.products,
                                    small.calendar)
    sets = realism.feature_sets(f)
    demo, beh = set(sets["demographics"].columns), set(sets["behaviour"].columns)
    assert {"age", "female", "income", "tier"} <= demo and any(c.startswith("occ_") for c in demo)
    assert not demo & beh and demo | beh == set(sets["all features"].columns)
    assert "cat_electronics" in beh and "ship_express" in beh
    with pytest.raises(ValueError, match="persona has 3 rows"):
        realism.persona_predictability(f, ["a", "b", "c"])


def test_segmentation_ari_three_ways():
    """Behaviour shuffled between customers carries no persona: the behaviour-only ARI
    falls to chance, while demographics keep the all-features ARI above it. (On 1,500
    customers the mixture sometimes settles on clusters that ignore demographics, and
    the all-features ARI is then at chance too: 3,000 customers.)"""
    f, persona = _features(3_000, 3)
    behaviour = [c for c in f.columns if c.startswith(("cat_", "ship_", "channel_"))
                 or c in ("discount_share", "festival_share", "avg_order_value",
                          "orders_per_year", "purchase_days")]
    rng = np.random.default_rng(0)
    shuffled = f.copy()
    shuffled[behaviour] = f[behaviour].to_numpy()[rng.permutation(len(f))]
    ari = realism.segmentation_ari(shuffled, persona, k_range=range(3, 6)).set_index("features")
    assert list(ari.index) == ["all features", "without demographics", "behaviour only"]
    assert abs(ari.loc["behaviour only", "ari"]) < 0.02
    assert ari.loc["all features", "ari"] > 0.05
