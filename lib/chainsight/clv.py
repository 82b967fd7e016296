"""Customer lifetime value: BG/NBD purchase model and Gamma-Gamma spend model.

Both are fitted by maximum likelihood over log-parameters, from several starting
points, with an explicit convergence report instead of an exception.

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way",
Marketing Science 24(2); Fader & Hardie (2013), "The Gamma-Gamma model of
monetary value" (brucehardie.com/notes/025).

Time is measured in weeks throughout (as in the papers); a customer is summarised
by ``x`` (repeat purchase days), ``t_x`` (time of the last purchase after the
first), ``T`` (time from the first purchase to the end of calibration) and
``zbar`` (mean value of the repeat purchase days).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from chainsight import schema as S
from chainsight.sql import query, source

X, TX, T_, ZBAR = "x", "t_x", "T", "zbar"


# ---------------------------------------------------------------------------
# From order lines to the (x, t_x, T, zbar) summary
# ---------------------------------------------------------------------------
def rfm_summary(orders: pd.DataFrame | str, calibration_end: str | pd.Timestamp | None = None,
                holdout_end: str | pd.Timestamp | None = None, engine: str = "duckdb"
                ) -> pd.DataFrame:
    """Per customer: x, t_x, T (weeks), zbar, first purchase day, and if ``holdout_end``
    is given, the purchase days and value in the holdout period.

    Purchases on the same day are merged into one transaction (value summed).
    ``x`` counts purchase days after the first up to ``calibration_end``
    (inclusive; default: the last day in the data); ``zbar`` is the mean value of
    those repeat days (0 when x = 0). ``orders`` is a DataFrame or the path of a
    Parquet file with customer_id, timestamp, quantity, unit_price. ``engine``: where the
    SQL runs (:data:`chainsight.sql.ENGINES`).
    """
    src, columns, tables = source(orders)
    S.require_columns(columns, "orders", (S.CUSTOMER_ID, S.TIMESTAMP, S.QUANTITY, S.UNIT_PRICE))
    if calibration_end is None:
        calibration_end = query(f"SELECT max({S.TIMESTAMP}) AS t FROM {src}", engine=engine,
                                **tables)["t"][0]
    cal_end = pd.Timestamp(calibration_end).normalize()
    hold_end = pd.Timestamp(holdout_end).normalize() if holdout_end is not None else cal_end
    return query(f"""
        WITH days AS (
            SELECT {S.CUSTOMER_ID} AS cid, CAST({S.TIMESTAMP} AS DATE) AS day,
                   sum({S.QUANTITY} * {S.UNIT_PRICE}) AS value
            FROM {src} WHERE CAST({S.TIMESTAMP} AS DATE) <= $hold_end
            GROUP BY 1, 2),
        firsts AS (SELECT cid, min(day) AS first FROM days GROUP BY 1),
        d AS (SELECT days.*, firsts.first FROM days JOIN firsts USING (cid)
              WHERE firsts.first <= $cal_end)
        SELECT cid AS {S.CUSTOMER_ID},
               count(*) FILTER (WHERE day <= $cal_end) - 1 AS {X},
               CAST(date_diff('day', any_value(first),
                              max(day) FILTER (WHERE day <= $cal_end)) AS DOUBLE) / 7 AS {TX},
               CAST(date_diff('day', any_value(first), $cal_end) AS DOUBLE) / 7 AS {T_},
               coalesce(avg(value) FILTER (WHERE day > first
                        AND day <= $cal_end), 0) AS {ZBAR},
               any_value(first) AS first_purchase,
               count(*) FILTER (WHERE day > $cal_end) AS x_holdout,
               coalesce(sum(value) FILTER (WHERE day > $cal_end), 0)
                   AS value_holdout
        FROM d GROUP BY cid ORDER BY cid""",
                 {"cal_end": cal_end.date(), "hold_end": hold_end.date()}, engine, **tables)


# ---------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FitReport:
    """How the maximum-likelihood fit went, start by start."""

    converged: bool
    n_starts: int
    n_converged: int
    log_likelihood: float
    ll_spread: float  # best minus worst log-likelihood among converged starts
    message: str
    starts: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    report: FitReport = field(repr=False)

    @property
    def params(self) -> dict:
        return {"r": float(self.r), "alpha": float(self.alpha), "a": float(self.a),
                "b": float(self.b)}


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    log_likelihood: float
    report: FitReport = field(repr=False)

    @property
    def params(self) -> dict:
        return {"p": float(self.p), "q": float(self.q), "gamma": float(self.gamma)}


def bgnbd_loglik(params, x, t_x, T, weights=None, gradient: bool = False):
    """Total BG/NBD log-likelihood for parameters (r, alpha, a, b).

    With ``gradient=True`` also returns its gradient with respect to the
    logarithms of the parameters (what the optimiser works on).
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    rep = x > 0
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b)
          - special.gammaln(a + b + x))
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(rep, np.log(a) - np.log(np.where(rep, b + x - 1, 1.0))
                      - (r + x) * np.log(alpha + t_x), -np.inf)
    last = np.logaddexp(a3, a4)
    total = float(np.sum(w * (a1 + a2 + last)))
    if not gradient:
        return total
    w3, w4 = np.exp(a3 - last), np.exp(a4 - last)
    dg = special.digamma
    d_r = dg(r + x) - dg(r) + np.log(alpha) - w3 * np.log(alpha + T) \
        - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = dg(a + b) - dg(a + b + x) + w4 / a
    d_b = dg(a + b) + dg(b + x) - dg(b) - dg(a + b + x) \
        - w4 / np.where(rep, b + x - 1, 1.0)
    grad = np.array([np.sum(w * d) for d in (d_r, d_alpha, d_a, d_b)]) * np.asarray(params)
    return total, grad


def gg_loglik(params, x, zbar, weights=None, gradient: bool = False):
    """Total Gamma-Gamma log-likelihood for (p, q, gamma) over customers with x > 0;
    with ``gradient=True`` also its gradient with respect to the log-parameters."""
    p, q, g = params
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    px = p * x
    ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
          + (px - 1) * np.log(zbar) + px * np.log(x) - (px + q) * np.log(g + x * zbar))
    total = float(np.sum(w * ll))
    if not gradient:
        return total
    dg = special.digamma
    d_p = x * (dg(px + q) - dg(px) + np.log(zbar) + np.log(x) - np.log(g + x * zbar))
    d_q = dg(px + q) - dg(q) + np.log(g) - np.log(g + x * zbar)
    d_g = q / g - (px + q) / (g + x * zbar)
    grad = np.array([np.sum(w * d) for d in (d_p, d_q, d_g)]) * np.asarray(params)
    return total, grad


def _negative(loglik):
    """Objective for the optimiser: negative log-likelihood and gradient in log space,
    with a large finite value where the likelihood is not defined."""
    def f(log_params):
        with np.errstate(all="ignore"):
            ll, grad = loglik(np.exp(log_params))
        if not (np.isfinite(ll) and np.all(np.isfinite(grad))):
            return 1e300, np.zeros_like(log_params)
        return -ll, -grad
    return f


def _multistart(objective, starts: list[np.ndarray], names: list[str]):
    """Minimise ``objective`` (value, gradient) from each start; report every start."""
    rows, best = [], None
    for i, s in enumerate(starts):
        res = optimize.minimize(objective, s, jac=True, method="L-BFGS-B",
                                bounds=[(-15, 15)] * len(s),
                                options={"maxiter": 3000, "gtol": 1e-7, "ftol": 1e-13})
        ok = bool(res.success) and res.fun < 1e299
        row = {"start": i, **{f"start_{n}": float(np.exp(v)) for n, v in zip(names, s,
                                                                             strict=True)},
               "converged": ok, "log_likelihood": -float(res.fun) if ok else np.nan,
               "iterations": int(res.nit), "message": str(res.message)}
        row.update({n: float(np.exp(v)) for n, v in zip(names, res.x, strict=True)})
        rows.append(row)
        if ok and (best is None or res.fun < best.fun):
            best = res
    table = pd.DataFrame(rows)
    conv = table[table["converged"]]
    if best is None:
        return None, FitReport(False, len(starts), 0, np.nan, np.nan,
                               "no start converged; see the starts table", table)
    spread = float(conv["log_likelihood"].max() - conv["log_likelihood"].min())
    report = FitReport(True, len(starts), len(conv), -float(best.fun), spread,
                       f"{len(conv)} of {len(starts)} starts converged; best log-likelihood "
                       f"{-best.fun:.3f}, spread across converged starts {spread:.3g}", table)
    return np.exp(best.x), report


def fit_bgnbd(summary: pd.DataFrame, n_starts: int = 4, seed: int = 0,
              subsample: int = 50_000) -> BGNBD:
    """Fit BG/NBD by maximum likelihood on a summary from :func:`rfm_summary`.

    Several starts (the first one a standard guess, the others random around it)
    run on at most ``subsample`` customers; the best is then polished on all of
    them. Customers with identical (x, t_x, T) are fitted once with a weight.

    Raises
    ------
    RuntimeError with the convergence report when no start converges.
    """
    S.require_columns(summary, "rfm summary", (X, TX, T_))
    if (summary[T_] <= 0).all():
        raise ValueError("rfm summary: every T is 0; the calibration period is empty")
    g = summary.groupby([X, TX, T_], sort=False).size().reset_index(name="w")
    x, tx, T, w = (g[c].to_numpy(dtype=float) for c in (X, TX, T_, "w"))
    scale = max(float(np.mean(T)), 1e-9)

    def objective(idx, weights):
        return _negative(lambda p: bgnbd_loglik(p, x[idx], tx[idx], T[idx], weights,
                                                gradient=True))

    rng = np.random.default_rng(seed)
    idx_all = np.arange(len(g))
    idx, w_sub = idx_all, w
    if w.sum() > subsample:  # draw customers (not rows) in proportion to their weight
        draws = np.bincount(rng.choice(len(g), size=subsample, p=w / w.sum()),
                            minlength=len(g))
        idx = np.flatnonzero(draws)
        w_sub = draws[idx].astype(float)
    base = np.log([0.5, scale, 1.0, 2.0])
    starts = [base] + [base + rng.normal(0, 0.7, 4) for _ in range(n_starts - 1)]
    names = ["r", "alpha", "a", "b"]
    best, report = _multistart(objective(idx, w_sub), starts, names)
    if best is None:
        raise RuntimeError(f"BG/NBD fit failed: {report.message}\n{report.starts}")
    if len(idx) < len(idx_all):
        polished, rep2 = _multistart(objective(idx_all, w), [np.log(best)], names)
        if polished is not None:
            best = polished
            report = FitReport(True, report.n_starts, report.n_converged, rep2.log_likelihood,
                               report.ll_spread, report.message + f"; polished on all "
                               f"{int(w.sum()):,} customers: log-likelihood "
                               f"{rep2.log_likelihood:.3f}", report.starts)
    r, alpha, a, b = best
    return BGNBD(r, alpha, a, b, bgnbd_loglik(best, x, tx, T, w), report)


def fit_gamma_gamma(summary: pd.DataFrame, n_starts: int = 4, seed: int = 0) -> GammaGamma:
    """Fit the Gamma-Gamma spend model on the customers with x > 0 and zbar > 0."""
    S.require_columns(summary, "rfm summary", (X, ZBAR))
    rep = summary[(summary[X] > 0) & (summary[ZBAR] > 0)]
    if len(rep) < 3:
        raise ValueError("Gamma-Gamma needs at least 3 customers with repeat purchases")
    x, z = rep[X].to_numpy(float), rep[ZBAR].to_numpy(float)
    rng = np.random.default_rng(seed)
    base = np.log([2.0, 2.0, float(np.mean(z))])
    starts = [base] + [base + rng.normal(0, 0.7, 3) for _ in range(n_starts - 1)]
    objective = _negative(lambda p: gg_loglik(p, x, z, gradient=True))
    best, report = _multistart(objective, starts, ["p", "q", "gamma"])
    if best is None:
        raise RuntimeError(f"Gamma-Gamma fit failed: {report.message}\n{report.starts}")
    return GammaGamma(*best, gg_loglik(best, x, z), report)


# ---------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------
def expected_transactions(m: BGNBD, t) -> np.ndarray:
    """E[X(t)]: expected purchases in (0, t] for a customer just acquired."""
    t = np.asarray(t, dtype=float)
    r, al, a, b = m.r, m.alpha, m.a, m.b
    hyp = special.hyp2f1(r, b, a + b - 1, t / (al + t))
    return (a + b - 1) / (a - 1) * (1 - (al / (al + t)) ** r * hyp)


def p_alive(m: BGNBD, x, t_x, T) -> np.ndarray:
    """Probability that each customer is still active at the end of calibration."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x > 0, m.a / (m.b + x - 1)
                         * ((m.alpha + T) / (m.alpha + t_x)) ** (m.r + x), 0.0)
    return 1 / (1 + ratio)


def weeks_until_lapse_likely(m: BGNBD, x, t_x, threshold: float) -> np.ndarray:
    """Weeks after each customer's last purchase at which P(alive) (:func:`p_alive`)
    falls below ``threshold``: P(alive) < p when ((alpha + T) / (alpha + t_x))^(r + x)
    exceeds (1 - p) / p x (b + x - 1) / a, so T - t_x = (alpha + t_x)(c^(1 / (r + x)) - 1)
    for that bound c (0 when it is already below; infinite for a customer with no repeat
    purchase, whom the BG/NBD keeps alive until they buy again)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    x, t_x = np.asarray(x, dtype=float), np.asarray(t_x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (1 - threshold) / threshold * (m.b + x - 1) / m.a
        weeks = (m.alpha + t_x) * (c ** (1 / (m.r + x)) - 1)
    return np.where(x > 0, np.maximum(weeks, 0.0), np.inf)


def conditional_expected_transactions(m: BGNBD, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` weeks."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    t = np.asarray(t, dtype=float)
    r, al, a, b = m.r, m.alpha, m.a, m.b
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (al + T + t))
    num = (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * hyp)
    return num * p_alive(m, x, t_x, T)


def conditional_expected_spend(m: GammaGamma, x, zbar) -> np.ndarray:
    """E[M | x, zbar]: expected value of a customer's future transaction."""
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    mean_pop = m.p * m.gamma / (m.q - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = (m.gamma + x * zbar) * m.p / (m.p * x + m.q - 1)
    return np.where(x > 0, est, mean_pop)


# ---------------------------------------------------------------------------
# Fit checks, and the simpler estimates used when a fit is degenerate
# ---------------------------------------------------------------------------
_BOUND = 14.5  # |log parameter| beyond this sits at the search bounds (exp(+-15))
NO_DROPOUT = 1e-3  # a/(a+b) below this: under 10% of customers leave within 100 purchases
# P(alive) above FLAT_ALIVE for FLAT_SHARE of the repeat customers: it tells little (CDNOW
# and the synthetic retailer have 2% and 0.2% of them there).
FLAT_ALIVE, FLAT_SHARE = 0.95, 0.9
ALIKE_SPEND_CV = 0.10  # Gamma-Gamma's spread of mean spend below this: customers spend alike


def _at_bound(params: dict) -> list[str]:
    return [f"{k} = {v:.3g} sits at the {'upper' if v > 1 else 'lower'} bound of the search"
            for k, v in params.items() if abs(np.log(v)) > _BOUND]


def _starts(report: FitReport) -> list[str]:
    if report.n_converged * 2 <= report.n_starts:
        return [f"only {report.n_converged} of {report.n_starts} starts converged"]
    return []


def check_bgnbd(bg: BGNBD, summary: pd.DataFrame) -> list[str]:
    """Why the BG/NBD fit cannot be read as fitted (empty when it can): a parameter at the
    bounds of the search, most starts not converging, or (almost) no dropout: a chance
    of leaving after a purchase below :data:`NO_DROPOUT`, or P(alive) above 0.99 for
    every repeat customer, so that P(alive) tells little."""
    params = bg.params
    if abs(np.log(bg.a)) > _BOUND and abs(np.log(bg.b)) > _BOUND and bg.a > 1 and bg.b > 1:
        # a and b both large: the limit where every customer has the same dropout chance
        # a/(a+b), a fit the model can express; the dropout check below still applies.
        params = {k: v for k, v in params.items() if k not in ("a", "b")}
    found = _at_bound(params) + _starts(bg.report)
    repeat = summary[summary[X] > 0]
    alive = p_alive(bg, repeat[X], repeat[TX], repeat[T_])
    leave = bg.a / (bg.a + bg.b)
    if len(alive) and ((alive > FLAT_ALIVE).mean() >= FLAT_SHARE or leave < NO_DROPOUT):
        found.append(f"the fit finds almost no dropout: the chance of leaving after a purchase, "
                     f"a/(a+b), is {leave:.2g}, and P(alive) is above {FLAT_ALIVE:.2f} for "
                     f"{(alive > FLAT_ALIVE).mean():.0%} of repeat customers, so it tells little")
    return found


def gamma_gamma_notes(gg: GammaGamma | None) -> list[str]:
    """What a sound Gamma-Gamma fit says that changes how CLV reads: customers' mean
    spend per purchase almost alike (its coefficient of variation, 1/sqrt(q - 2), below
    :data:`ALIKE_SPEND_CV`), so every customer's CLV uses about the average spend."""
    if gg is None or gg.q <= 2:
        return []
    cv = 1 / np.sqrt(gg.q - 2)
    if cv >= ALIKE_SPEND_CV:
        return []
    return [f"customers' mean spend per purchase is almost alike (q = {gg.q:.3g}: a spread of "
            f"{cv:.0%} of the mean), so each customer's CLV uses about the average spend, "
            "whatever they spent before"]


def check_gamma_gamma(gg: GammaGamma) -> list[str]:
    """Why the Gamma-Gamma fit cannot be read as fitted: a parameter at the bounds, most
    starts not converging, or q <= 1 (the mean spend per purchase would be infinite)."""
    found = _at_bound(gg.params) + _starts(gg.report)
    if gg.q <= 1:
        found.append(f"q = {gg.q:.3g} <= 1: the model's mean spend per purchase is infinite")
    return found


def rate_prior(summary: pd.DataFrame) -> tuple[float, float]:
    """A gamma prior (r, alpha) on the customers' repeat purchases per week, fitted by
    moments (the NBD without dropout) on the customers observed for at least a week (one
    who first bought yesterday would swamp the Poisson-noise term). Without spread beyond
    Poisson noise, every customer gets the average rate: alpha is then infinite."""
    seen = summary[summary[T_] >= 1]  # customers observed for at least a week
    if len(seen) == 0:
        seen = summary
    x, T = seen[X].to_numpy(float), np.maximum(seen[T_].to_numpy(float), 1e-9)
    m = x.sum() / T.sum()
    v = np.var(x / T) - m * np.mean(1 / T)  # spread of the rates beyond Poisson noise
    if v <= 0 or m <= 0:
        return m, np.inf
    return m * m / v, m / v


def shrunk_rates(prior: tuple[float, float], x, T) -> np.ndarray:
    """Each customer's repeat purchases per week, shrunk toward the average:
    (x + r) / (T + alpha). The estimate used when the BG/NBD fit is degenerate."""
    r, alpha = prior
    x, T = np.asarray(x, float), np.asarray(T, float)
    if np.isinf(alpha):
        return np.full(len(x), r)
    return (x + r) / (T + alpha)


def shrunk_spend(summary: pd.DataFrame) -> np.ndarray:
    """Each customer's mean spend per purchase, shrunk toward the average with the weight
    of one purchase: (x zbar + mean) / (x + 1). Used when the Gamma-Gamma fit is
    degenerate."""
    x, z = summary[X].to_numpy(float), summary[ZBAR].to_numpy(float)
    mean = float(np.average(z[x > 0], weights=x[x > 0])) if (x > 0).any() else 0.0
    return (x * z + mean) / (x + 1)


@dataclass(frozen=True)
class ValueFit:
    """The CLV models of a profile, what their checks found and what was used."""

    bgnbd: BGNBD | None  # None when the fit failed outright
    gamma_gamma: GammaGamma | None
    checks: dict[str, list[str]]  # model -> problems found ([] when fine)
    purchases: str  # the estimate of future purchases used: "bgnbd" or "shrunk"
    spend: str  # the estimate of spend per purchase used: "gamma_gamma" or "shrunk"
    prior: tuple[float, float]  # the gamma prior of :func:`shrunk_rates`

    def lines(self) -> list[str]:
        """What the notebook prints: each problem and what was used instead (or that the
        checks passed), then what a sound fit says that changes how CLV reads."""
        out = [f"Fit check ({model}): {problem}." for model, found in self.checks.items()
               for problem in found]
        if out:
            out.append(f"Used instead: purchases from {PURCHASES[self.purchases]}; spend "
                       f"from {SPEND[self.spend]}.")
        else:
            out.append("Fit checks: no parameter at a bound, most starts converged, and the "
                       "BG/NBD finds dropout; CLV uses both models.")
        if self.spend == "gamma_gamma":
            out += [f"Fit note (Gamma-Gamma): {n}." for n in gamma_gamma_notes(self.gamma_gamma)]
        return out

    def expected_purchases(self, weeks, x, t_x, T) -> np.ndarray:
        """Purchases each customer is expected to make in the next ``weeks``."""
        if self.purchases == "bgnbd":
            return conditional_expected_transactions(self.bgnbd, weeks, x, t_x, T)
        return np.asarray(weeks, float) * shrunk_rates(self.prior, x, T)

    def p_alive(self, x, t_x, T) -> np.ndarray:
        if self.purchases == "bgnbd":
            return p_alive(self.bgnbd, x, t_x, T)
        return np.full(len(np.asarray(x)), np.nan)


PURCHASES = {"bgnbd": "BG/NBD", "shrunk": "each customer's repeat rate shrunk toward the "
             "average (no dropout; P(alive) not estimated)"}
PURCHASES_SHORT = {"bgnbd": "BG/NBD", "shrunk": "shrunk repeat rate"}
SPEND = {"gamma_gamma": "Gamma-Gamma", "shrunk": "each customer's mean spend shrunk toward "
         "the average"}


def fit_value_models(summary: pd.DataFrame, seed: int = 0) -> ValueFit:
    """BG/NBD and Gamma-Gamma fitted and checked; a degenerate fit, or one that fails
    outright (no start converges, too few repeat buyers), is replaced by the simpler
    estimate (:func:`shrunk_rates`, :func:`shrunk_spend`)."""
    checks: dict[str, list[str]] = {}
    try:
        bg = fit_bgnbd(summary, seed=seed)
        checks["BG/NBD"] = check_bgnbd(bg, summary)
    except (RuntimeError, ValueError) as err:
        bg, checks["BG/NBD"] = None, [f"the fit failed: {str(err).splitlines()[0]}"]
    try:
        gg = fit_gamma_gamma(summary, seed=seed)
        checks["Gamma-Gamma"] = check_gamma_gamma(gg)
    except (RuntimeError, ValueError) as err:
        gg, checks["Gamma-Gamma"] = None, [f"the fit failed: {str(err).splitlines()[0]}"]
    return ValueFit(bg, gg, checks, "shrunk" if checks["BG/NBD"] else "bgnbd",
                    "shrunk" if checks["Gamma-Gamma"] else "gamma_gamma", rate_prior(summary))


def customer_value(fit: ValueFit, summary: pd.DataFrame, horizon_weeks: float = 52,
                   annual_discount_rate: float = 0.1, margin: float = 1.0,
                   step_weeks: float = 4.345) -> pd.DataFrame:
    """Per customer: P(alive), expected purchases and spend over the horizon, and CLV.

    CLV sums, month by month (``step_weeks``), the expected purchases in that month
    times the expected spend per purchase times ``margin``, discounted at
    ``annual_discount_rate``. The estimates are those ``fit`` chose: BG/NBD and
    Gamma-Gamma, or their simpler stand-ins when a fit was degenerate (then P(alive) is
    missing).
    """
    x, tx, T = (summary[c].to_numpy(float) for c in (X, TX, T_))
    spend = (conditional_expected_spend(fit.gamma_gamma, x, summary[ZBAR].to_numpy(float))
             if fit.spend == "gamma_gamma" else shrunk_spend(summary))
    steps = np.arange(step_weeks, horizon_weeks + 1e-9, step_weeks)
    if len(steps) == 0 or steps[-1] < horizon_weeks - 1e-9:
        steps = np.append(steps, horizon_weeks)
    cum = np.stack([fit.expected_purchases(s, x, tx, T) for s in steps])
    per_step = np.diff(np.vstack([np.zeros(len(x)), cum]), axis=0)
    disc = (1 + annual_discount_rate) ** (-steps / 52.18)
    clv = (per_step * disc[:, None]).sum(axis=0) * spend * margin
    return pd.DataFrame({
        S.CUSTOMER_ID: summary[S.CUSTOMER_ID].to_numpy(),
        "p_alive": fit.p_alive(x, tx, T),
        "expected_purchases": cum[-1],
        "expected_spend_per_purchase": spend,
        "expected_spend": cum[-1] * spend,
        "clv": clv,
    })


# ---------------------------------------------------------------------------
# Profile-blind forecasts from each customer's own history
# ---------------------------------------------------------------------------
OWN_HISTORY_ALPHAS: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
SPEND_WINDOWS: tuple[int, ...] = (365, 182, 91)  # days of recent spend a ranking may use
OWN_HISTORY_METHODS: dict[str, str] = {
    "average_rate": "one average rate for everyone",
    "naive_365": "own purchase days of the last 365 days",
    "ses": "own weekly purchase days, exponentially smoothed",
}


def purchase_days(orders: pd.DataFrame | str) -> pd.DataFrame:
    """One row per customer and purchase day: ``customer_id``, ``day``, ``value``
    (the day's spend). Purchases on the same day are one transaction, as in
    :func:`rfm_summary`."""
    src, columns, tables = source(orders)
    S.require_columns(columns, "orders", (S.CUSTOMER_ID, S.TIMESTAMP, S.QUANTITY, S.UNIT_PRICE))
    days = query(f"""
        SELECT {S.CUSTOMER_ID}, CAST({S.TIMESTAMP} AS DATE) AS day,
               sum({S.QUANTITY} * {S.UNIT_PRICE}) AS value
        FROM {src} GROUP BY 1, 2 ORDER BY 1, 2""", **tables)
    days["day"] = pd.to_datetime(days["day"])
    return days


def own_history_forecasts(days: pd.DataFrame, origin, horizon_days: int,
                          alpha: float = 0.1) -> pd.DataFrame:
    """Profile-blind forecasts of each customer's purchase days in the next
    ``horizon_days`` from ``origin``, from the customer's own history only.

    One row per customer whose first purchase is before ``origin``:

    - ``average_rate``: the base's repeat rate per week for everyone (a strawman);
    - ``naive_365``: the customer's repeat purchase days of the last 365 days (of all
      the days before ``origin`` if the data is shorter), scaled to the horizon;
    - ``ses``: simple exponential smoothing (``alpha`` per week) of the customer's
      weekly repeat purchase days since their first purchase, started at their own
      mean rate, times the horizon in weeks;
    - the history a model may learn from: ``repeat_days``, ``age_days`` (since the
      first purchase), ``recency_days`` (since the last), ``spend`` before ``origin``,
      and ``repeat_{d}d`` and ``spend_{d}d`` over its last ``d`` days for each of
      :data:`SPEND_WINDOWS`;
    - ``actual`` and ``actual_value``: purchase days and spend in the horizon (zero if
      the data ends first).

    ``days`` is :func:`purchase_days`.
    """
    origin = pd.Timestamp(origin).normalize()
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, got {horizon_days}")
    before = days[days["day"] < origin]
    if before.empty:
        raise ValueError(f"no purchases before {origin.date()}")
    cid = S.CUSTOMER_ID
    first = before.groupby(cid)["day"].min()
    age_days = (origin - first).dt.days.to_numpy(float)
    weeks_seen = np.maximum(age_days / 7, 1.0)
    rep = before[before["day"] > before[cid].map(first)]
    k = ((origin - rep["day"]).dt.days // 7).to_numpy()
    codes = pd.Categorical(rep[cid], categories=first.index).codes
    n = len(first)
    n_rep = np.bincount(codes, minlength=n).astype(float)
    smoothed = np.bincount(codes, weights=alpha * (1 - alpha) ** k, minlength=n)
    level = smoothed + (1 - alpha) ** np.ceil(weeks_seen) * n_rep / weeks_seen
    window = min(365, (origin - days["day"].min()).days)  # shorter when the data is
    last_year = (rep["day"] >= origin - pd.Timedelta(days=window)).to_numpy()
    spend = before.groupby(cid)["value"].sum()
    recent = {f"spend_{d}d": before[before["day"] >= origin - pd.Timedelta(days=d)]
              .groupby(cid)["value"].sum().reindex(first.index, fill_value=0).to_numpy()
              for d in SPEND_WINDOWS}
    rep_days = (origin - rep["day"]).dt.days.to_numpy()
    recent.update({f"repeat_{d}d": np.bincount(codes[rep_days <= d], minlength=n)
                   for d in SPEND_WINDOWS})
    last = before.groupby(cid)["day"].max().reindex(first.index)
    ahead = days[(days["day"] >= origin)
                 & (days["day"] < origin + pd.Timedelta(days=int(horizon_days)))]
    ahead = ahead[ahead[cid].isin(first.index)].groupby(cid)["value"].agg(["size", "sum"])
    ahead = ahead.reindex(first.index, fill_value=0)
    weeks = horizon_days / 7
    return pd.DataFrame({
        cid: first.index.to_numpy(),
        "average_rate": n_rep.sum() / weeks_seen.sum() * weeks,
        "naive_365": np.bincount(codes[last_year], minlength=n) * horizon_days / window,
        "ses": level * weeks,
        "repeat_days": n_rep,
        "age_days": age_days,
        "recency_days": (origin - last).dt.days.to_numpy(float),
        "spend": spend.reindex(first.index).to_numpy(),
        **recent,
        "actual": ahead["size"].to_numpy(float),
        "actual_value": ahead["sum"].to_numpy(float),
    })


def customer_wape(forecast, actual) -> float:
    """WAPE of per-customer forecasts: sum of absolute errors over total actuals."""
    actual = np.asarray(actual, float)
    return float(np.abs(np.asarray(forecast, float) - actual).sum() / actual.sum())


def _validation(days: pd.DataFrame, origin: pd.Timestamp, horizon_days: int
                ) -> tuple[pd.Timestamp, int]:
    """A validation origin one horizon before ``origin`` (half the history if shorter)."""
    history = (origin - days["day"].min()).days
    val_days = int(min(horizon_days, history // 2))
    if val_days < 28:
        raise ValueError(f"{history} days of history before {origin.date()} are too few "
                         "to choose a forecast on the training period (need 56)")
    return origin - pd.Timedelta(days=val_days), val_days


@dataclass(frozen=True)
class OwnHistoryChoice:
    """The own-history forecast chosen on the training period, and how."""

    method: str  # a key of OWN_HISTORY_METHODS
    alpha: float  # smoothing constant (used by "ses")
    scale: float  # the method's forecasts are multiplied by this (total matched on validation)
    table: pd.DataFrame  # every candidate on the validation window, best first


def choose_own_history(days: pd.DataFrame, origin, horizon_days: int,
                       alphas=OWN_HISTORY_ALPHAS) -> OwnHistoryChoice:
    """The strongest own-history forecast, chosen on the training period only.

    The forecasts of :func:`own_history_forecasts` are backtested from a validation
    origin one horizon before ``origin`` (shortened to half the history when the
    history is short), over the smoothing constants ``alphas``. Each candidate is
    scaled so that its total matches the validation window's (a planner corrects a
    known bias), and the one with the lowest mean squared error per customer is chosen.
    """
    origin = pd.Timestamp(origin).normalize()
    val_origin, val_days = _validation(days, origin, horizon_days)
    train = days[days["day"] < origin]
    rows = []
    for alpha in alphas:
        f = own_history_forecasts(train, val_origin, val_days, alpha)
        total = f["actual"].sum()
        if total <= 0:
            raise ValueError(f"no repeat purchases between {val_origin.date()} and "
                             f"{origin.date()} to choose a forecast on")
        for m in ["ses"] if rows else list(OWN_HISTORY_METHODS):
            raw = f[m].sum()
            scale = float(total / raw) if raw > 0 else 1.0
            rows.append({"method": m, "alpha": alpha if m == "ses" else np.nan,
                         "bias_before_scaling": float(raw / total - 1), "scale": scale,
                         "mse": float(((scale * f[m] - f["actual"]) ** 2).mean()),
                         "wape": customer_wape(scale * f[m], f["actual"])})
    table = pd.DataFrame(rows).sort_values("mse", kind="stable").reset_index(drop=True)
    best = table.iloc[0]
    alpha = float(table[table["method"] == "ses"].iloc[0]["alpha"])  # the best smoothing
    return OwnHistoryChoice(str(best["method"]), alpha, float(best["scale"]),
                            table.assign(validation_origin=val_origin,
                                         validation_days=val_days))


HISTORY_FEATURES: tuple[str, ...] = (
    "repeat_days", "age_days", "recency_days", "spend",
    *(f"repeat_{d}d" for d in SPEND_WINDOWS), *(f"spend_{d}d" for d in SPEND_WINDOWS))


REGRESSIONS: dict[str, str] = {
    "poisson_glm": "Poisson regression on the log of the history",
    "boosted_trees": "gradient-boosted trees with a Poisson loss",
}


def _regression(kind: str, seed: int):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import PoissonRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if kind == "poisson_glm":
        return make_pipeline(FunctionTransformer(lambda x: np.log1p(np.maximum(x, 0))),
                             StandardScaler(), PoissonRegressor(alpha=1e-4, max_iter=1000))
    if kind == "boosted_trees":
        return HistGradientBoostingRegressor(loss="poisson", max_iter=200, learning_rate=0.05,
                                             random_state=seed)
    raise ValueError(f"unknown regression {kind!r}; one of {list(REGRESSIONS)}")


def _fit_predict(kind: str, fit_on: pd.DataFrame, predict_on: pd.DataFrame, scale: float,
                 seed: int) -> np.ndarray:
    cols = list(HISTORY_FEATURES)
    model = _regression(kind, seed)
    model.fit(fit_on[cols].to_numpy(float), fit_on["actual"].to_numpy(float))
    return model.predict(predict_on[cols].to_numpy(float)) * scale


def history_regression(days: pd.DataFrame, origin, horizon_days: int,
                       seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A profile-blind model of each customer's coming purchase days learned across
    customers from their purchase history alone (no segment, no demographics).

    The model (one of :data:`REGRESSIONS`) learns the purchase days of a window from
    the history features (:data:`HISTORY_FEATURES`) at its start. Which model is chosen
    on the training period only: each is fitted on the window before a validation
    origin and judged (mean squared error per customer) on the window from that origin
    to ``origin``. The chosen one is refitted on that last window and forecasts from the
    features at ``origin``, scaled from the window's length to ``horizon_days``.

    Returns the forecasts (``customer_id``, ``forecast``) of the customers who bought
    before ``origin``, and the choice table (model, MSE on the validation window), best
    first.
    """
    origin = pd.Timestamp(origin).normalize()
    train = days[days["day"] < origin]
    val_origin, val_days = _validation(train, origin, horizon_days)
    inner_origin, inner_days = _validation(train[train["day"] < val_origin], val_origin,
                                           val_days)
    inner = own_history_forecasts(train, inner_origin, inner_days)
    val = own_history_forecasts(train, val_origin, val_days)
    rows = [{"model": kind, "mse": float(((_fit_predict(
        kind, inner, val, val_days / inner_days, seed) - val["actual"]) ** 2).mean())}
        for kind in REGRESSIONS]
    table = pd.DataFrame(rows).sort_values("mse", kind="stable").reset_index(drop=True)
    now = own_history_forecasts(train, origin, horizon_days)
    pred = _fit_predict(str(table["model"].iloc[0]), val, now, horizon_days / val_days, seed)
    return (pd.DataFrame({S.CUSTOMER_ID: now[S.CUSTOMER_ID].to_numpy(), "forecast": pred}),
            table.assign(validation_origin=val_origin, validation_days=val_days))


# ---------------------------------------------------------------------------
# Calibration / holdout checks (the paper's two figures)
# ---------------------------------------------------------------------------
def cumulative_repeat_tracking(bg: BGNBD, orders: pd.DataFrame, summary: pd.DataFrame,
                               start: str | pd.Timestamp, end: str | pd.Timestamp
                               ) -> pd.DataFrame:
    """Weekly cumulative repeat transactions of the cohort, actual vs BG/NBD.

    Week k covers the days ``start + 7(k-1)`` to ``start + 7k - 1``. Each customer
    contributes E[X(t - first purchase)] to the prediction.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    n_weeks = int(np.ceil(((end - start).days + 1) / 7))
    days = query(f"""SELECT {S.CUSTOMER_ID}, CAST({S.TIMESTAMP} AS DATE) AS day
                     FROM orders GROUP BY 1, 2""", orders=orders)
    days = days.merge(summary[[S.CUSTOMER_ID, "first_purchase"]], on=S.CUSTOMER_ID)
    repeat = days[days["day"] > days["first_purchase"]]
    week = ((pd.to_datetime(repeat["day"]) - start).dt.days // 7 + 1).to_numpy()
    actual = np.cumsum(np.bincount(week[(week >= 1) & (week <= n_weeks)],
                                   minlength=n_weeks + 1)[1:])
    first_wk = ((pd.to_datetime(summary["first_purchase"]) - start).dt.days / 7).to_numpy()
    edges = np.arange(1, n_weeks + 1)
    pred = np.array([expected_transactions(bg, np.clip(e - first_wk, 0, None)).sum()
                     for e in edges])
    return pd.DataFrame({"week": edges, "actual": actual, "predicted": pred})


def conditional_expectations_by_frequency(bg: BGNBD, summary: pd.DataFrame,
                                          holdout_weeks: float, max_x: int = 7) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency (x capped at ``max_x``+),
    actual vs BG/NBD's conditional expectation."""
    pred = conditional_expected_transactions(bg, holdout_weeks, summary[X], summary[TX],
                                             summary[T_])
    d = pd.DataFrame({"x": np.minimum(summary[X], max_x), "actual": summary["x_holdout"],
                      "predicted": pred})
    out = d.groupby("x").agg(customers=("actual", "size"), actual=("actual", "mean"),
                             predicted=("predicted", "mean")).reset_index()
    out["x"] = out["x"].astype(str).where(out["x"] < max_x, f"{max_x}+")
    return out


# Published values for the CDNOW 1/10 sample (39-week calibration ending 1997-09-30).
CDNOW_PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}


def calibration_holdout_check(orders: pd.DataFrame, start: str, calibration_end: str,
                              holdout_end: str) -> dict:
    """Fit on the calibration period and compare with the holdout, as in the paper.

    Returns the summary, both fitted models, the weekly cumulative tracking
    (weeks counted from ``start``), the conditional expectations by calibration
    frequency, and the relative error of cumulative repeat transactions at the
    last holdout week.
    """
    summary = rfm_summary(orders, calibration_end, holdout_end)
    bg, gg = fit_bgnbd(summary), fit_gamma_gamma(summary)
    tracking = cumulative_repeat_tracking(bg, orders, summary, start, holdout_end)
    hold_weeks = ((pd.Timestamp(holdout_end) - pd.Timestamp(calibration_end)).days) / 7
    by_freq = conditional_expectations_by_frequency(bg, summary, hold_weeks)
    last = tracking.iloc[-1]
    return {"summary": summary, "bgnbd": bg, "gamma_gamma": gg, "tracking": tracking,
            "by_frequency": by_freq, "calibration_weeks": float(summary[T_].max()),
            "final_week": int(last["week"]),
            "final_error": float((last["predicted"] - last["actual"]) / last["actual"])}
