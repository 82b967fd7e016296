"""CLV models against published values (CDNOW) and data with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chainsight import clv, datasets
from chainsight import schema as S

REF = datasets.reference_dir() / "cdnow"


@pytest.fixture(scope="module")
def cdnow():
    orders = datasets.load("cdnow").orders
    summary = clv.rfm_summary(orders, "1997-09-30", "1998-06-30")
    return orders, summary


@pytest.fixture(scope="module")
def fitted(cdnow):
    _, summary = cdnow
    return clv.fit_bgnbd(summary), clv.fit_gamma_gamma(summary)


def test_summary_from_raw_transactions_equals_the_published_one(cdnow):
    _, s = cdnow
    pub = pd.read_csv(REF / "cdnow_customers_summary_with_transactions.csv")
    s = s.assign(ID=s[S.CUSTOMER_ID].astype(int)).set_index("ID").loc[pub["ID"]]
    assert len(s) == len(pub) == 2357
    assert (s["x"].to_numpy() == pub["x"].to_numpy()).all()
    # The published file rounds to two decimals.
    for col in ("t_x", "T", "zbar"):
        assert np.abs(s[col].to_numpy() - pub[col].to_numpy()).max() <= 0.005 + 1e-9, col
    assert s["x"].sum() == 2457 and (s["x"] > 0).sum() == 946
    assert s["x_holdout"].sum() == 1882


def test_bgnbd_reproduces_fader_hardie_lee_2005(fitted):
    bg, _ = fitted
    pub = clv.CDNOW_PUBLISHED["bgnbd"]
    for name in ("r", "alpha", "a", "b"):
        assert round(bg.params[name], 3) == pub[name], name
    assert round(bg.log_likelihood, 1) == pub["log_likelihood"]
    assert bg.report.converged and bg.report.n_converged >= 3
    assert bg.report.ll_spread < 1e-3


def test_gamma_gamma_reproduces_fader_hardie_2013(fitted):
    _, gg = fitted
    pub = clv.CDNOW_PUBLISHED["gamma_gamma"]
    for name in ("p", "q", "gamma"):
        assert round(gg.params[name], 2) == pub[name], name
    assert gg.log_likelihood == pytest.approx(-4055.9177, abs=0.01)


def test_predictions_match_hardies_spreadsheet(fitted, cdnow):
    bg, gg = fitted
    t = [0.1429, 1, 3, 31.8571, 32, 78]
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    assert clv.expected_transactions(bg, t) == pytest.approx(expected, abs=5e-4)
    assert clv.conditional_expected_transactions(bg, 39, 2, 30.43, 38.86) == pytest.approx(
        1.226, abs=1e-3)
    pub = pd.read_csv(REF / "cdnow_customers_summary_with_transactions.csv").head(10)
    spend = clv.conditional_expected_spend(gg, pub["x"], pub["zbar"])
    assert spend == pytest.approx([24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17,
                                   27.28, 35.17], abs=0.01)


def test_calibration_holdout_check(cdnow):
    orders, _ = cdnow
    res = clv.calibration_holdout_check(orders, "1997-01-01", "1997-09-30", "1998-06-30")
    track = res["tracking"]
    assert res["final_week"] == 78 and track["actual"].iloc[-1] == 2457 + 1882
    assert track["actual"].iloc[38] == 2457  # end of the 39-week calibration
    assert abs(res["final_error"]) < 0.06
    by_x = res["by_frequency"]
    assert by_x["customers"].sum() == 2357
    assert (np.diff(by_x["predicted"]) > 0).all()  # more past purchases, more expected


def test_bgnbd_recovers_known_parameters():
    rng = np.random.default_rng(1)
    n, T, true = 30_000, 52.0, dict(r=0.6, alpha=5.0, a=0.9, b=3.0)
    lam = rng.gamma(true["r"], 1 / true["alpha"], n)
    p = rng.beta(true["a"], true["b"], n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):  # the BG/NBD story, customer by customer
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x[i] += 1
            tx[i] = t
            if rng.random() < p[i]:
                break
    summary = pd.DataFrame({"x": x, "t_x": tx, "T": T})
    bg = clv.fit_bgnbd(summary, subsample=10_000)
    for name, value in true.items():
        assert bg.params[name] == pytest.approx(value, rel=0.2), name
    assert "polished on all 30,000 customers" in bg.report.message


def test_customer_value_is_consistent(fitted, cdnow):
    bg, gg = fitted
    _, s = cdnow
    fit = clv.ValueFit(bg, gg, {}, "bgnbd", "gamma_gamma", clv.rate_prior(s))
    v = clv.customer_value(fit, s, horizon_weeks=52, annual_discount_rate=0.1)
    assert len(v) == len(s) and v["p_alive"].between(0, 1).all()
    assert (v["clv"] <= v["expected_spend"] + 1e-9).all()  # discounting only lowers it
    undiscounted = clv.customer_value(fit, s, horizon_weeks=52, annual_discount_rate=0)
    assert undiscounted["clv"].to_numpy() == pytest.approx(
        undiscounted["expected_spend"].to_numpy())
    longer = clv.customer_value(fit, s, horizon_weeks=104)
    assert (longer["clv"] >= v["clv"] - 1e-9).all()


def test_gamma_gamma_needs_repeat_buyers():
    s = pd.DataFrame({"x": [0, 1, 0], "t_x": [0, 1, 0], "T": [5, 5, 5], "zbar": [0, 10, 0]})
    with pytest.raises(ValueError, match="at least 3 customers"):
        clv.fit_gamma_gamma(s)


def test_fits_on_the_full_online_retail_base():
    orders = datasets.load("online_retail").orders
    s = clv.rfm_summary(orders)
    fit = clv.fit_value_models(s)
    assert len(s) == 4327
    assert fit.bgnbd.report.converged and fit.gamma_gamma.report.converged
    # a = 0.003: hardly anyone leaves, so P(alive) is near 1 and the simpler rate is used
    assert fit.bgnbd.a < 0.01 and fit.purchases == "shrunk"
    assert np.isfinite(clv.customer_value(fit, s)["clv"]).all()


def _days(rows):
    return pd.DataFrame(rows, columns=[S.CUSTOMER_ID, "day", "value"]).assign(
        day=lambda d: pd.to_datetime(d["day"]))


def test_own_history_forecasts_by_hand():
    days = _days([
        ("A", "2024-01-01", 10), ("A", "2024-06-03", 20), ("A", "2024-12-30", 30),
        ("B", "2024-12-20", 5),
        ("A", "2025-01-10", 40), ("B", "2025-03-01", 6), ("C", "2025-01-02", 7)])
    f = clv.own_history_forecasts(days, "2025-01-01", 70, alpha=0.5).set_index(S.CUSTOMER_ID)
    assert list(f.index) == ["A", "B"]  # C first bought after the origin
    # Repeat days before the origin: A twice (June, 30 Dec), B none.
    assert f.loc["A", "naive_365"] == pytest.approx(2 * 70 / 365)
    assert f.loc["B", "naive_365"] == 0
    weeks_a, weeks_b = 366 / 7, 12 / 7
    assert f.loc["A", "average_rate"] == pytest.approx(2 / (weeks_a + weeks_b) * 10)
    # SES of A: the 30 Dec purchase is in week 0, 3 June in week 30; started at A's mean.
    level = 0.5 + 0.5 * 0.5 ** 30 + 0.5 ** np.ceil(weeks_a) * 2 / weeks_a
    assert f.loc["A", "ses"] == pytest.approx(level * 10)
    assert f.loc["A", "actual"] == 1 and f.loc["B", "actual"] == 1
    assert f.loc["A", "spend"] == 60 and f.loc["A", "spend_365d"] == 50
    assert f.loc["A", "spend_182d"] == 30 and f.loc["A", "spend_91d"] == 30
    assert f.loc["A", "repeat_365d"] == 2 and f.loc["A", "repeat_91d"] == 1
    assert (f.loc["A", "recency_days"], f.loc["A", "age_days"]) == (2, 366)
    with pytest.raises(ValueError, match="alpha"):
        clv.own_history_forecasts(days, "2025-01-01", 70, alpha=0)


def test_choose_own_history_never_sees_the_holdout(small):
    days = clv.purchase_days(small.orders)
    choice = clv.choose_own_history(days, "2025-01-01", 365)
    table = choice.table
    assert table["validation_origin"].iloc[0] == pd.Timestamp("2024-01-02")  # 2024 has 366 days
    assert table.iloc[0]["method"] == choice.method and table["mse"].is_monotonic_increasing
    # The scale matches each candidate's total to the validation window's.
    f = clv.own_history_forecasts(days[days["day"] < "2025-01-01"], "2024-01-02", 365,
                                  choice.alpha)
    assert (choice.scale * f[choice.method]).sum() == pytest.approx(f["actual"].sum())
    # Doubling every purchase after the origin changes nothing in the choice, nor in the
    # regression learned on the training period.
    later = days[days["day"] >= "2025-01-01"]
    doubled = pd.concat([days, later])
    again = clv.choose_own_history(doubled, "2025-01-01", 365)
    assert (again.method, again.alpha, again.scale) == (choice.method, choice.alpha,
                                                         choice.scale)
    pd.testing.assert_frame_equal(again.table, table)
    for a, b in zip(clv.history_regression(doubled, "2025-01-01", 365),
                    clv.history_regression(days, "2025-01-01", 365), strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_fit_checks_pass_on_cdnow_and_catch_a_base_without_dropout(cdnow):
    _, s = cdnow
    fit = clv.fit_value_models(s)
    assert fit.checks == {"BG/NBD": [], "Gamma-Gamma": []}
    assert fit.lines() == ["Fit checks: no parameter at a bound, most starts converged, and the "
                           "BG/NBD finds dropout; CLV uses both models."]
    assert (fit.purchases, fit.spend) == ("bgnbd", "gamma_gamma")
    # Customers who never drop out: each buys at a steady rate of their own until the end.
    rng = np.random.default_rng(3)
    n = 2000
    T = rng.uniform(30, 78, n)
    rate = rng.gamma(2.0, 0.1, n)
    x = rng.poisson(rate * T)
    # the last of x purchases spread uniformly over (0, T): T times the largest of x uniforms
    tx = np.where(x > 0, T * rng.uniform(size=n) ** (1 / np.maximum(x, 1)), 0)
    steady = pd.DataFrame({S.CUSTOMER_ID: np.arange(n).astype(str), "x": x, "t_x": tx,
                           "T": T, "zbar": rng.gamma(5, 10, n)})
    fit = clv.fit_value_models(steady)
    assert fit.purchases == "shrunk"
    assert any("the fit finds almost no dropout" in c for c in fit.checks["BG/NBD"])
    assert any(line.startswith("Used instead: purchases from each customer's repeat rate")
               for line in fit.lines())
    v = clv.customer_value(fit, steady, horizon_weeks=52, annual_discount_rate=0)
    assert v["p_alive"].isna().all()
    # Shrinkage: the expected purchases lie between the customer's own rate and the mean.
    own, mean = x / T * 52, x.sum() / T.sum() * 52
    got = v["expected_purchases"].to_numpy()
    assert ((got - own) * (got - mean) <= 1e-9).all()
    assert np.corrcoef(got, rate)[0, 1] > 0.8


def test_a_base_that_barely_leaves_and_spends_alike_is_said(cdnow):
    """P(alive) near 1 for most repeat customers is flagged even when a/(a+b) is not tiny;
    a Gamma-Gamma that finds no spread in mean spend is a note, not a failure."""
    _, s = cdnow
    report = clv.FitReport(True, 4, 4, -1.0, 0.0, "", pd.DataFrame())
    barely = clv.BGNBD(1.8, 59.1, 0.05, 17.0, -1.0, report)  # a/(a+b) = 0.003
    found = clv.check_bgnbd(barely, s)
    assert len(found) == 1 and "P(alive) is above 0.95 for" in found[0]
    alike = clv.GammaGamma(6.0, 128.0, 35_430.0, -1.0, report)
    assert clv.check_gamma_gamma(alike) == []
    assert clv.gamma_gamma_notes(alike) == [
        "customers' mean spend per purchase is almost alike (q = 128: a spread of 9% of the "
        "mean), so each customer's CLV uses about the average spend, whatever they spent before"]
    assert clv.gamma_gamma_notes(clv.fit_value_models(s).gamma_gamma) == []


def test_gamma_gamma_with_q_at_most_one_is_replaced():
    report = clv.FitReport(True, 4, 4, -1.0, 0.0, "", pd.DataFrame())
    gg = clv.GammaGamma(2.0, 0.8, 10.0, -1.0, report)
    assert clv.check_gamma_gamma(gg) == ["q = 0.8 <= 1: the model's mean spend per purchase "
                                         "is infinite"]
    s = pd.DataFrame({"x": [0, 1, 3], "zbar": [0.0, 10.0, 30.0]})
    assert list(clv.shrunk_spend(s)) == pytest.approx([25.0, 17.5, 28.75])


def test_the_fallback_survives_new_customers_and_failed_fits(cdnow):
    _, s = cdnow
    # A customer who first bought on the last day (T = 0) leaves the prior as it was.
    newcomer = s.iloc[:1].assign(**{S.CUSTOMER_ID: "new", "x": 0, "t_x": 0.0, "T": 0.0})
    assert clv.rate_prior(pd.concat([s, newcomer])) == pytest.approx(clv.rate_prior(s))
    # Spend the same for everyone: Gamma-Gamma cannot be fitted, and the shrunk spend is used.
    flat = s.assign(zbar=np.where(s["x"] > 0, 25.0, 0.0))
    fit = clv.fit_value_models(flat)
    assert fit.spend == "shrunk" and fit.checks["Gamma-Gamma"]
    assert np.isfinite(clv.customer_value(fit, flat)["clv"]).all()


def test_one_dropout_chance_for_everyone_is_not_a_degenerate_fit():
    report = clv.FitReport(True, 4, 4, -1.0, 0.0, "", pd.DataFrame())
    bg = clv.BGNBD(0.5, 5.0, 3e6, 2e6, -1.0, report)  # a, b at the bound, a/(a+b) = 0.6
    s = pd.DataFrame({"x": [1, 2, 0], "t_x": [5.0, 8.0, 0.0], "T": [10.0, 10.0, 10.0]})
    assert clv.check_bgnbd(bg, s) == []
