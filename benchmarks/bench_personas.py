"""How hard the synthetic personas are to recover, over seeds 42-46 (default size).

For each seed: cross-validated accuracy of a logistic regression and a gradient-boosting
classifier predicting the hidden persona from the profile's features (all, demographics
only, behaviour only), beside the share of the largest persona; and the adjusted Rand
index of the mixture segmentation three ways (all features, without demographics,
behaviour only). The ARI is reported as it comes out; it is not a target.

    python benchmarks/bench_personas.py [--size default] [--seeds 42,43,44,45,46]
        [--no-ari] [--no-accuracy]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from chainsight import profiling, realism, synthetic
from chainsight import schema as S


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="default")
    ap.add_argument("--seeds", default="42,43,44,45,46")
    ap.add_argument("--no-ari", action="store_true")
    ap.add_argument("--no-accuracy", action="store_true")
    args = ap.parse_args()
    acc, ari = [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        t0 = time.perf_counter()
        d = synthetic.generate(args.size, seed)
        f = profiling.customer_features(d.orders, d.customers, d.products, d.calendar)
        persona = f[[S.CUSTOMER_ID]].merge(d.truth.customers, on=S.CUSTOMER_ID)["persona"]
        if not args.no_accuracy:
            acc.append(realism.persona_predictability(f, persona, seed=seed).accuracy
                       .assign(seed=seed))
        if not args.no_ari:
            ari.append(realism.segmentation_ari(f, persona, seed=seed).assign(seed=seed))
        print(f"seed {seed}: {len(f):,} customers, {time.perf_counter() - t0:.0f} s")
    if acc:
        acc = pd.concat(acc)
        print("\nPersona accuracy (5-fold cross-validated):")
        print(acc.pivot_table(index=["features", "classifier"], columns="seed",
                              values="accuracy")
              .assign(mean=lambda t: t.mean(axis=1)).round(3).to_string())
        print(f"largest persona's share: {acc['majority_share'].mean():.3f}")
    if ari:
        ari = pd.concat(ari)
        print("\nSegmentation ARI against the persona (segments chosen by ICL):")
        print(ari.pivot_table(index="features", columns="seed", values="ari")
              .assign(mean=lambda t: t.mean(axis=1)).round(3).to_string())
        print(ari.pivot_table(index="features", columns="seed", values="segments").to_string())


if __name__ == "__main__":
    main()
