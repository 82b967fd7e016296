"""How hard the synthetic retailer's hidden personas are to recover.

A segmentation that "recovers the personas" only means something if the personas
are not a lookup: if one demographic column, or a pair, names the persona, any
method finds them and the profile's value is overstated. These checks fit two
standard classifiers on the profile's own features and report, cross-validated,
how well they predict the hidden persona: with every feature, on demographics
alone, and on behaviour alone. Tests and benchmarks pass the persona from the
generator's ground truth; the analysis never reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from chainsight import profiling
from chainsight import schema as S

DEMOGRAPHIC_PREFIXES = ("age", "female", "income", "tier", "occ_")


def feature_sets(features: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The segmentation matrix of :func:`chainsight.profiling.segmentation_matrix`, whole,
    demographics only (age, gender, income, city tier, occupation) and behaviour only
    (everything else: what, how, when and how often customers buy)."""
    m = profiling.segmentation_matrix(features)
    demo = [c for c in m.columns if c.startswith(DEMOGRAPHIC_PREFIXES)]
    return {"all features": m, "demographics": m[demo],
            "behaviour": m.drop(columns=demo)}


@dataclass(frozen=True)
class Predictability:
    accuracy: pd.DataFrame  # features, classifier, accuracy (mean over folds), majority share
    n_customers: int


def persona_predictability(features: pd.DataFrame, persona: pd.Series | np.ndarray,
                           folds: int = 5, seed: int = 42,
                           sets: tuple[str, ...] = ("all features", "demographics", "behaviour")
                           ) -> Predictability:
    """Cross-validated accuracy of a logistic regression and a gradient-boosting
    classifier predicting ``persona`` (one per row of ``features``) from each of the
    feature ``sets`` of :func:`feature_sets`. The majority share is the accuracy of
    always guessing the largest persona."""
    y = np.asarray(persona)
    if len(y) != len(features):
        raise ValueError(f"persona has {len(y)} rows, features {len(features)}")
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    models = {
        "logistic regression": make_pipeline(StandardScaler(),
                                             LogisticRegression(max_iter=2000)),
        "gradient boosting": HistGradientBoostingClassifier(max_iter=150, random_state=seed),
    }
    majority = pd.Series(y).value_counts(normalize=True).iloc[0]
    rows = []
    for name, X in feature_sets(features).items():
        if name not in sets:
            continue
        for model_name, model in models.items():
            acc = cross_val_score(model, X.to_numpy(float), y, cv=cv, scoring="accuracy")
            rows.append({"features": name, "classifier": model_name,
                         "accuracy": float(acc.mean()), "majority_share": float(majority)})
    return Predictability(pd.DataFrame(rows), len(y))


def segmentation_ari(features: pd.DataFrame, persona, k_range=range(3, 9),
                     seed: int = 42) -> pd.DataFrame:
    """Adjusted Rand index of the mixture segmentation against the hidden persona,
    three ways: with every feature, without demographics, and on behaviour only
    (without demographics, order value or purchase rate). Reported, never tuned."""
    demo = [c for c in (S.AGE, S.GENDER, S.INCOME_BAND, S.OCCUPATION, S.CITY_TIER)
            if c in features.columns]
    no_demo = features.drop(columns=demo)
    behaviour = no_demo.copy()
    # Order value and purchase rate are the mixture's continuous block: constant
    # columns leave that block without information.
    behaviour["avg_order_value"] = 1.0
    behaviour["orders_per_year"] = 1.0
    rows = []
    for name, f in (("all features", features), ("without demographics", no_demo),
                    ("behaviour only", behaviour)):
        seg = profiling.segment_customers(f, k_range=k_range, seed=seed)
        rows.append({"features": name, "segments": seg.k,
                     "ari": float(adjusted_rand_score(np.asarray(persona), seg.labels))})
    return pd.DataFrame(rows)


CONTROL_LEVELS = (("segment x category", None), (S.CATEGORY, None), (S.CATEGORY, True))


def forecast_control_units(customers: int, seed: int, effects: dict | None = None,
                           true_personas: bool = False, n_origins: int = 8,
                           step: int = 6) -> dict:
    """The forecasting comparison of notebook 02 on a synthetic scenario, for its
    controls. Returns ``{(baseline, level, festival): units}``
    (:func:`chainsight.forecasting.profile_units`), with baseline ``"split"`` (the
    top-down split, at every level of :data:`CONTROL_LEVELS`) and ``"placebo"`` (the
    same bottom-up forecast over shuffled segment labels, at category level). The
    profile is built before the first of ``n_origins`` origins ``step`` weeks apart;
    with ``true_personas`` the segments are the generator's personas instead (what
    knowing every customer's persona could gain)."""
    from chainsight import datasets, forecasting

    ds = datasets.load("synthetic", size=customers, seed=seed, effects=effects)
    cat = forecasting.demand_panel(ds.orders, [S.CATEGORY], products=ds.tables["products"])
    origins = forecasting.default_origins(cat, h=8, n_origins=n_origins, step=step)
    if true_personas:
        truth = datasets.load_truth(customers, seed, effects).customers
        segments = truth[[S.CUSTOMER_ID]].assign(segment=truth["persona"])
    else:
        prof = profiling.build_profile(ds, as_of=origins[0], seed=seed)
        segments = prof.segments_for(ds.tables["customers"])

    def run(segs):
        return forecasting.compare_profile(ds.orders, segs, ds.tables["products"],
                                           ds.tables["calendar"], origins=origins, seed=seed)

    cmp = run(segments)
    placebo = run(forecasting.placebo_segments(segments, seed))
    out = {("split", *lv): forecasting.profile_units(cmp, *lv) for lv in CONTROL_LEVELS}
    out.update({("placebo", *lv): forecasting.profile_units(cmp, *lv, baseline=placebo)
                for lv in CONTROL_LEVELS if lv[0] != "segment x category"})
    return out


def forecast_differences(size: str | int, seed: int, effects: dict | None = None, h: int = 8,
                         n_origins: int = 4, step: int = 13, model: str = "gbm",
                         profile_settings: dict | None = None) -> dict:
    """Notebook 02's six comparisons (:func:`chainsight.forecasting.profile_differences`)
    on a synthetic scenario, with the run's profile at the first origin
    (:func:`chainsight.profiling.decision_profile` with ``profile_settings``: the run's
    ``holdout_start`` and profile settings; default: the run defaults): what a notebook
    shows as its negative control with the exploited effects switched off."""
    from chainsight import datasets, forecasting

    ds = datasets.load("synthetic", size=size, seed=seed, effects=effects)
    settings = profile_settings or {"seed": seed}
    engine = settings.get("engine", "duckdb")  # the run's engine aggregates here too
    cat = forecasting.demand_panel(ds.orders, [S.CATEGORY], products=ds.tables["products"],
                                   engine=engine)
    origins = forecasting.default_origins(cat, h=h, n_origins=n_origins, step=step)
    profile, _ = profiling.decision_profile(ds, origins[0], **settings)
    segments = profile.segments_for(ds.tables["customers"])
    return forecasting.profile_differences(ds.orders, segments, ds.tables["products"],
                                           ds.tables["calendar"], origins, h, model, seed,
                                           engine=engine)[0]
