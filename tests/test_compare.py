"""Comparison harness: the paired bootstrap on known cases, its coverage, and the runners."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chainsight import compare
from chainsight.compare import VERDICTS, Paired, over_seeds, paired, seed_summary, table


def _pair(blind, aware, weight=None, **kwargs):
    kwargs.setdefault("metric", "WAPE")
    kwargs.setdefault("unit", "week x origin")
    return paired(blind, aware, weight, **kwargs)


# ---------------------------------------------------------------------------
# Known cases by hand
# ---------------------------------------------------------------------------
def test_identical_sides_give_exact_zero_interval():
    x = np.random.default_rng(1).gamma(2.0, 10.0, 30)
    r = _pair(x, x.copy())
    assert (r.difference, r.lo, r.hi) == (0.0, 0.0, 0.0)
    assert r.verdict == "no measurable difference"
    assert r.blind == r.aware == pytest.approx(x.mean())
    assert r.n_units == 30 and r.n_boot == 2000 and r.level == 0.95


def test_two_units_bootstrap_distribution_by_hand():
    # Per-unit differences (0, 1): the resampled mean is 0, 0.5 or 1 with probabilities
    # 1/4, 1/2, 1/4, so the 2.5% and 97.5% quantiles are exactly 0 and 1.
    r = _pair([5.0, 5.0], [5.0, 6.0], n_boot=4000)
    assert r.difference == pytest.approx(0.5)
    assert (r.lo, r.hi) == (0.0, 1.0)
    assert r.verdict == "no measurable difference"
    # A constant per-unit shift has no resampling spread at all: the interval is the shift.
    r = _pair([1.0, 3.0], [1.25, 3.25])
    assert (r.lo, r.hi) == (0.25, 0.25)
    assert r.verdict == "worse"


def test_ratio_of_sums_point_estimate_by_hand():
    y = np.array([10.0, 0.0, 30.0, 60.0])
    e_blind = np.array([2.0, 1.0, 6.0, 3.0])
    e_aware = np.array([1.0, 0.0, 3.0, 4.0])
    r = _pair(e_blind, e_aware, y)
    assert r.blind == pytest.approx(12 / 100)
    assert r.aware == pytest.approx(8 / 100)
    assert r.difference == pytest.approx(8 / 100 - 12 / 100)
    # Not the mean of per-unit ratios (which would be undefined here anyway).
    assert r.blind != pytest.approx(np.mean(e_blind))
    assert r.lo <= r.difference <= r.hi


def test_ratio_interval_matches_a_plain_loop():
    # Same resampled indices, statistic computed one resample at a time.
    rng = np.random.default_rng(3)
    y = rng.gamma(2.0, 50.0, 40)
    eb, ea = np.abs(rng.normal(0, 20, 40)), np.abs(rng.normal(0, 18, 40))
    r = _pair(eb, ea, y, n_boot=300, seed=9)
    idx = np.random.default_rng(9).integers(0, 40, size=(300, 40))
    loop = [ea[i].sum() / y[i].sum() - eb[i].sum() / y[i].sum() for i in idx]
    lo, hi = np.quantile(loop, [0.025, 0.975])
    assert r.lo == pytest.approx(lo) and r.hi == pytest.approx(hi)


# ---------------------------------------------------------------------------
# Direction and noise
# ---------------------------------------------------------------------------
def _improvement(n=200, shift=-0.02, seed=5):
    rng = np.random.default_rng(seed)
    blind = rng.uniform(0.1, 0.4, n)
    aware = blind + shift + rng.normal(0, 0.01, n)
    return blind, aware


def test_clear_improvement_is_better():
    blind, aware = _improvement()
    r = _pair(blind, aware)
    assert r.verdict == "better"
    assert r.hi < 0
    assert r.lo <= -0.02 <= r.hi


def test_mirror_is_worse():
    blind, aware = _improvement()
    r = _pair(aware, blind)
    assert r.verdict == "worse"
    assert r.lo > 0
    assert r.lo <= 0.02 <= r.hi


def test_higher_is_better_flips_the_verdict():
    blind, aware = _improvement()
    assert _pair(blind, aware, lower_is_better=False).verdict == "worse"
    assert _pair(aware, blind, lower_is_better=False).verdict == "better"


def test_pairing_removes_between_unit_spread():
    # Units differ a lot, the shift is small and constant up to small noise: an unpaired
    # comparison would not see it, the paired one must.
    rng = np.random.default_rng(11)
    base = rng.lognormal(3.0, 1.0, 100)
    r = _pair(base, base - 0.5 + rng.normal(0, 0.2, 100))
    assert r.verdict == "better"
    assert r.hi - r.lo < 0.2
    assert base.std() / np.sqrt(100) > 1.0  # the unpaired standard error would swamp 0.5


def test_pure_noise_interval_contains_zero():
    rng = np.random.default_rng(7)
    blind = rng.normal(100, 10, 200)
    aware = rng.normal(100, 10, 200)
    r = _pair(blind, aware)
    assert r.lo <= 0 <= r.hi
    assert r.verdict == "no measurable difference"


def test_coverage_of_a_known_mean_difference():
    rng = np.random.default_rng(2024)
    true_diff, n, sims = -0.3, 50, 200
    covered = 0
    for s in range(sims):
        blind = rng.normal(5.0, 1.0, n)
        aware = blind + true_diff + rng.normal(0, 1.0, n)
        r = _pair(blind, aware, n_boot=500, seed=s)
        covered += r.lo <= true_diff <= r.hi
    assert 0.88 <= covered / sims <= 0.99


def test_deterministic_for_a_seed():
    blind, aware = _improvement(n=60, shift=-0.001)
    a = _pair(blind, aware, seed=3)
    b = _pair(blind, aware, seed=3)
    c = _pair(blind, aware, seed=4)
    assert a == b
    assert (a.lo, a.hi) != (c.lo, c.hi)


def test_large_unit_count_is_chunked_consistently(monkeypatch):
    blind, aware = _improvement(n=300)
    whole = _pair(blind, aware, n_boot=500)
    monkeypatch.setattr(compare, "_CHUNK_ELEMENTS", 300 * 7)  # 7 resamples a chunk
    chunked = _pair(blind, aware, n_boot=500)
    # Chunking only changes how the same stream of draws is cut, not the draws.
    assert (chunked.lo, chunked.hi) == pytest.approx((whole.lo, whole.hi))


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("blind", "aware", "weight", "match"),
    [
        ([1, 2, 3], [1, 2], None, "same length"),
        ([1.0], [2.0], None, "at least 2 units"),
        ([1, np.nan, 3], [1, 2, 3], None, "blind has 1 NaN"),
        ([1, 2, 3], [1, 2, np.inf], None, "aware has 1 NaN or infinite"),
        ([1, 2, 3], [1, 2, 3], [1, np.nan, 1], "weight has 1 NaN"),
        ([1, 2, 3], [1, 2, 3], [0, 0, 0], "total weight must be positive"),
        ([1, 2, 3], [1, 2, 3], [1, -1, 1], "non-negative"),
        ([1, 2, 3], [1, 2, 3], [1, 1], "weight must have one value per unit"),
        ([[1, 2], [3, 4]], [[1, 2], [3, 4]], None, "one-dimensional"),
    ],
)
def test_validation_errors(blind, aware, weight, match):
    with pytest.raises(ValueError, match=match):
        _pair(blind, aware, weight)


def test_rounding_between_equal_sums_is_no_difference():
    """Two ways of adding the same numbers differ in the last bits; that is no verdict."""
    x = np.random.default_rng(2).gamma(2.0, 10.0, 40)
    r = _pair(x, x * (1 + 1e-15), x)
    assert (r.lo, r.hi) == (0.0, 0.0) and r.verdict == "no measurable difference"


def test_block_bootstrap_keeps_runs_together_and_widens_for_carried_weeks():
    # Per-unit differences in runs of four (a backlog carried over weeks): resampling
    # runs of four keeps them together and gives a wider interval than one by one.
    d = np.repeat([1.0, -1.0, 3.0], 4)
    r = _pair(np.zeros(12), d, block=4, n_boot=500)
    assert r.difference == pytest.approx(1.0)
    one = _pair(np.zeros(12), d, n_boot=4000)
    four = _pair(np.zeros(12), d, block=4, n_boot=4000)
    assert four.hi - four.lo > one.hi - one.lo
    # A series that drifts slowly: one by one the interval is too narrow.
    walk = np.cumsum(np.random.default_rng(3).normal(0, 1, 200)) / 10 + 0.3
    assert (_pair(np.zeros(200), walk, block=20).hi - _pair(np.zeros(200), walk, block=20).lo
            > 1.5 * (_pair(np.zeros(200), walk).hi - _pair(np.zeros(200), walk).lo))
    with pytest.raises(ValueError, match="block must be between 1 and the 12 units"):
        _pair(np.zeros(12), d, block=13)


def test_parameter_validation():
    with pytest.raises(ValueError, match="n_boot"):
        _pair([1, 2], [1, 2], n_boot=0)
    with pytest.raises(ValueError, match="level"):
        _pair([1, 2], [1, 2], level=1.5)


# ---------------------------------------------------------------------------
# Words and records
# ---------------------------------------------------------------------------
def _fixed(**kw):
    fields = dict(metric="WAPE", unit="week x origin", n_units=64, blind=0.210, aware=0.201,
                  difference=-0.009, lo=-0.015, hi=-0.003, level=0.95, lower_is_better=True,
                  verdict="better", n_boot=2000)
    fields.update(kw)
    return Paired(**fields)


def test_sentence_percent_points():
    assert _fixed().sentence() == (
        "WAPE: profile-aware 20.1% against profile-blind 21.0%, a difference of -0.9 points "
        "(95% interval -1.5 to -0.3 over 64 week x origin units): better.")


def test_sentence_other_format_and_positive_sign():
    r = _fixed(metric="Total cost", unit="scenario", n_units=20, blind=1000.0, aware=1250.0,
               difference=250.0, lo=40.0, hi=460.0, verdict="worse", level=0.9)
    assert r.sentence("{:,.0f}") == (
        "Total cost: profile-aware 1,250 against profile-blind 1,000, a difference of +250 "
        "(90% interval +40 to +460 over 20 scenario units): worse.")


def test_a_verdict_never_rests_on_a_bound_that_reads_as_zero():
    r = _fixed(metric="Lost margin", unit="SKU", blind=100.0, aware=197.0, difference=97.0,
               lo=0.436, hi=194.2, verdict="worse")
    assert "(95% interval +0.4 USD to +194.2 USD over 64 SKU units): worse." in r.sentence(
        "{:,.0f} USD")
    fill = _fixed(metric="Fill rate", blind=0.97, aware=0.955, difference=-0.015, lo=-0.03,
                  hi=-0.0004, verdict="worse")
    assert "(95% interval -3.00 to -0.04 over" in fill.sentence()
    # Without a verdict the bounds keep their format: a zero is then honest.
    same = _fixed(difference=0.001, lo=-0.0004, hi=0.005, verdict="no measurable difference")
    assert "(95% interval -0.0 to +0.5 over" in same.sentence()


def test_sentence_follows_the_computed_result():
    blind, aware = _improvement()
    r = _pair(blind, aware)
    s = r.sentence("{:.2%}")
    assert s.endswith(": better.")
    assert f"{100 * r.difference:.2f} points" in s
    assert f"{100 * r.lo:.2f} to {100 * r.hi:.2f}" in s
    assert "over 200 week x origin units" in s


def test_as_dict_is_plain_json():
    r = _pair(*_improvement())
    d = r.as_dict()
    assert json.loads(json.dumps(d)) == d
    assert all(type(v) in (str, float, int, bool) for v in d.values())
    assert Paired(**d) == r


def test_verdicts_constant():
    assert VERDICTS == ("better", "worse", "no measurable difference")


def test_table_one_row_per_comparison():
    blind, aware = _improvement()
    results = {"all": _pair(blind, aware), "mirror": _pair(aware, blind)}
    t = table(results)
    assert list(t["name"]) == ["all", "mirror"]
    assert list(t["verdict"]) == ["better", "worse"]
    assert t.loc[0, "difference"] == pytest.approx(results["all"].difference)
    assert {"metric", "unit", "n_units", "lo", "hi"} <= set(t.columns)


# ---------------------------------------------------------------------------
# Seeds runner
# ---------------------------------------------------------------------------
def _toy_run(seed: int) -> dict[str, Paired]:
    rng = np.random.default_rng(seed)
    blind = rng.normal(10, 1, 80)
    return {
        "gain": _pair(blind, blind - 1 + rng.normal(0, 0.3, 80), n_boot=300, seed=seed),
        "null": _pair(blind, blind + rng.normal(0, 0.3, 80), n_boot=300, seed=seed),
    }


def test_over_seeds_long_frame():
    frame = over_seeds(_toy_run, seeds=(1, 2, 3))
    assert list(frame.columns) == ["seed", "name", "metric", "blind", "aware", "difference",
                                   "lo", "hi", "verdict"]
    assert len(frame) == 6
    assert list(frame["seed"]) == [1, 1, 2, 2, 3, 3]
    assert set(frame.loc[frame["name"] == "gain", "verdict"]) == {"better"}
    row = frame.iloc[2]
    assert row["difference"] == pytest.approx(_toy_run(2)["gain"].difference)


def test_over_seeds_single_paired_is_named_by_metric():
    frame = over_seeds(lambda s: _toy_run(s)["gain"], seeds=(4, 5))
    assert list(frame["name"]) == ["WAPE", "WAPE"]
    with pytest.raises(TypeError, match="expected Paired"):
        over_seeds(lambda s: {"x": 1.0}, seeds=(1,))


def test_seed_summary():
    frame = over_seeds(_toy_run, seeds=(1, 2, 3, 4))
    summary = seed_summary(frame).set_index("name")
    assert list(summary.index) == ["gain", "null"]
    gain = frame[frame["name"] == "gain"]
    assert summary.loc["gain", "difference_mean"] == pytest.approx(gain["difference"].mean())
    assert summary.loc["gain", "aware_min"] == pytest.approx(gain["aware"].min())
    assert summary.loc["gain", "blind_max"] == pytest.approx(gain["blind"].max())
    assert summary.loc["gain", "n_seeds"] == 4
    assert summary.loc["gain", "better"] == 4
    assert summary.loc["gain", "worse"] == 0
    counts = summary[list(VERDICTS)].sum(axis=1)
    assert (counts == 4).all()
    null_counts = frame.loc[frame["name"] == "null", "verdict"].value_counts()
    assert summary.loc["null", "no measurable difference"] == null_counts.get(
        "no measurable difference", 0)


def test_seed_summary_names_missing_column():
    frame = pd.DataFrame({"seed": [1], "name": ["a"], "blind": [1.0], "aware": [1.0]})
    with pytest.raises(ValueError, match="difference"):
        seed_summary(frame)


def test_paired_statistic_agrees_with_paired_for_a_ratio_of_sums():
    rng = np.random.default_rng(3)
    actual = rng.gamma(2.0, 5.0, 300)
    blind = np.abs(rng.normal(0, 4, 300))
    aware = blind * 0.8
    ref = compare.paired(blind, aware, actual, metric="WAPE", unit="customer", seed=1)
    got = compare.paired_statistic(
        300, lambda i: (blind[i].sum() / actual[i].sum(), aware[i].sum() / actual[i].sum()),
        metric="WAPE", unit="customer", seed=1)
    assert got.blind == pytest.approx(ref.blind) and got.aware == pytest.approx(ref.aware)
    assert got.verdict == ref.verdict == "better"
    assert got.lo == pytest.approx(ref.lo, abs=0.01) and got.hi == pytest.approx(ref.hi, abs=0.01)


def test_paired_statistic_of_a_nonlinear_statistic_finds_no_difference_between_equals():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, 200)
    p = compare.paired_statistic(200, lambda i: (abs(x[i].sum()), abs(x[i].sum())),
                                 metric="|total|", unit="unit", n_boot=200)
    assert p.difference == 0 and p.verdict == "no measurable difference"
    with pytest.raises(ValueError, match="at least 2 units"):
        compare.paired_statistic(1, lambda i: (0.0, 0.0), metric="m", unit="u")


def test_sentence_with_other_names_and_lines_by_hand():
    p = Paired(metric="Total cost", unit="SKU", n_units=3, blind=100.0, aware=90.0,
               difference=-10.0, lo=-15.0, hi=-5.0, level=0.95, lower_is_better=True,
               verdict="better", n_boot=10)
    assert p.sentence("{:,.0f}", aware="with", blind="without") == (
        "Total cost: with 90 against without 100, a difference of -10 (95% interval -15 "
        "to -5 over 3 SKU units): better.")
    got = compare.lines({"total cost": p, "at equal cost": p}, "{:,.0f}")
    assert got[0] == p.sentence("{:,.0f}")  # the name only repeats the metric
    assert got[1] == "At equal cost: " + p.sentence("{:,.0f}")
    assert compare.lines({"x": p}, lambda q: "{:.1f}")[0].endswith(
        "a difference of -10.0 (95% interval -15.0 to -5.0 over 3 SKU units): better.")


def test_shown_formats_each_row_as_its_sentence():
    share = Paired(metric="share", unit="customer", n_units=9, blind=0.5, aware=0.55,
                   difference=0.05, lo=0.01, hi=0.09, level=0.95, lower_is_better=False,
                   verdict="better", n_boot=10)
    mse = Paired(metric="mean squared error", unit="customer", n_units=9, blind=3.0, aware=2.5,
                 difference=-0.5, lo=-0.8, hi=-0.2, level=0.95, lower_is_better=True,
                 verdict="better", n_boot=10)
    frame = compare.shown({"a": share, "b": mse},
                          lambda p: "{:.3f}" if "squared" in p.metric else "{:.1%}")
    assert frame["profile-blind"].tolist() == ["50.0%", "3.000"]
    assert frame["difference (95% interval)"].tolist() == ["+5.0 pts (+1.0 to +9.0)",
                                                           "-0.500 (-0.800 to -0.200)"]
    assert frame["verdict"].tolist() == ["better", "better"]
