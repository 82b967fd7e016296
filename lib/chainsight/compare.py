"""Comparison harness: a profile-blind result against a profile-aware one on the same units.

Every notebook states its finding the same way (DESIGN.md, "The comparison protocol"):
the two sides are evaluated on the same units (origins, weeks, SKUs, customers,
scenarios), the difference comes with a paired bootstrap interval over those units,
and a verdict in words: better, worse, or no measurable difference.

:func:`paired` computes one such comparison and returns a :class:`Paired`, whose
:meth:`Paired.sentence` is the computed sentence a notebook prints. :func:`table`
lays several comparisons out for display, and :func:`over_seeds` with
:func:`seed_summary` repeats a comparison over seeds for benchmarks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

VERDICTS: tuple[str, str, str] = ("better", "worse", "no measurable difference")

# Resampled index matrices are drawn in row chunks of about this many elements so that
# many units times many resamples does not build one huge matrix (~32 MB of int64 a chunk).
_CHUNK_ELEMENTS = 1 << 22

_FRAME_COLUMNS = ["seed", "name", "metric", "blind", "aware", "difference", "lo", "hi",
                  "verdict"]


@dataclass(frozen=True)
class Paired:
    """One profile-blind against profile-aware comparison over paired units.

    Attributes
    ----------
    metric : str
        Name of the measure, e.g. ``"WAPE"``.
    unit : str
        What one resampling unit is, e.g. ``"week x origin"``.
    n_units : int
        Number of units both sides were evaluated on.
    blind, aware : float
        The statistic of each side (mean over units, or ratio of sums with weights).
    difference : float
        ``aware - blind``.
    lo, hi : float
        Paired bootstrap percentile interval of ``difference``.
    level : float
        Coverage of the interval, e.g. 0.95.
    lower_is_better : bool
        Direction of the measure (True for errors and costs, False for service, margin).
    verdict : str
        One of :data:`VERDICTS`.
    n_boot : int
        Number of bootstrap resamples behind the interval.
    """

    metric: str
    unit: str
    n_units: int
    blind: float
    aware: float
    difference: float
    lo: float
    hi: float
    level: float
    lower_is_better: bool
    verdict: str
    n_boot: int

    def sentence(self, fmt: str = "{:.1%}", aware: str = "profile-aware",
                 blind: str = "profile-blind") -> str:
        """The result in one computed sentence.

        Parameters
        ----------
        fmt : str
            Format for the two sides, e.g. ``"{:.1%}"`` for fractions or ``"{:,.0f}"``
            for money. With a percent format the difference and its interval are stated
            in percentage points at the same precision; otherwise they use ``fmt`` too.
        aware, blind : str
            Names of the two sides, for comparisons that are not profile-aware against
            profile-blind (e.g. with and without a festival pre-build).

        Returns
        -------
        str
            E.g. ``"WAPE: profile-aware 20.1% against profile-blind 21.0%, a difference
            of -0.9 points (95% interval -1.5 to -0.3 over 64 week x origin units):
            better."``
        """
        t = self.formatted(fmt)
        suffix = " points" if t["points"] else ""
        level = f"{100 * self.level:g}%"
        return (
            f"{self.metric}: {aware} {t['aware']} against {blind} "
            f"{t['blind']}, a difference of {t['difference']}{suffix} "
            f"({level} interval {t['lo']} to {t['hi']} over {self.n_units} "
            f"{self.unit} units): {self.verdict}."
        )

    def formatted(self, fmt: str = "{:.1%}") -> dict:
        """The two sides in ``fmt``, and the difference and its interval signed (in
        percentage points for a percent format, flagged by ``points``). When a verdict
        rests on an interval that excludes zero, its bounds get more decimals (up to three
        more) rather than read as zero."""
        out = self._formatted(fmt)
        for _ in range(3):
            if self.verdict == "no measurable difference" or not any(
                    _reads_as_zero(out[k]) for k in ("lo", "hi")):
                break
            finer = re.sub(r"\.(\d+)([f%])", lambda m: f".{int(m[1]) + 1}{m[2]}", fmt, count=1)
            if finer == fmt:
                break
            fmt, out = finer, self._formatted(finer)
        return out

    def _formatted(self, fmt: str) -> dict:
        if fmt.format(0.5).endswith("%"):
            # Differences of fractions read as percentage points, not as percent.
            points_fmt = fmt.replace("%}", "f}")

            def diff(x: float) -> str:
                return _signed(points_fmt.format(100 * x), x)
        else:

            def diff(x: float) -> str:
                return _signed(fmt.format(x), x)

        return {"blind": fmt.format(self.blind), "aware": fmt.format(self.aware),
                "difference": diff(self.difference), "lo": diff(self.lo), "hi": diff(self.hi),
                "points": fmt.format(0.5).endswith("%")}

    def as_dict(self) -> dict[str, str | float | int | bool]:
        """The fields as plain JSON-able Python values (for recording metrics)."""
        return {
            "metric": str(self.metric),
            "unit": str(self.unit),
            "n_units": int(self.n_units),
            "blind": float(self.blind),
            "aware": float(self.aware),
            "difference": float(self.difference),
            "lo": float(self.lo),
            "hi": float(self.hi),
            "level": float(self.level),
            "lower_is_better": bool(self.lower_is_better),
            "verdict": str(self.verdict),
            "n_boot": int(self.n_boot),
        }


def _reads_as_zero(text: str) -> bool:
    """Whether a formatted number shows as zero, e.g. '+0', '-0.0' or '0 USD'."""
    number = re.search(r"[-+]?[\d,]*\.?\d+", text)
    return number is not None and float(number[0].replace(",", "")) == 0


def _signed(text: str, x: float) -> str:
    """Prefix a '+' to a formatted positive number that has no sign of its own."""
    if x > 0 and not text.lstrip().startswith(("+", "-")):
        return "+" + text
    return text


def _as_vector(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one value per unit), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} has {bad} NaN or infinite value(s); "
                         "drop or fill those units on both sides first")
    return arr


def verdict(lo: float, hi: float, lower_is_better: bool) -> str:
    """The verdict an interval of ``aware - blind`` gives: no measurable difference if it
    holds 0, else better or worse by its side of 0 and the measure's direction."""
    if lo <= 0 <= hi:
        return "no measurable difference"
    improved = hi < 0 if lower_is_better else lo > 0
    return "better" if improved else "worse"


def paired(blind, aware, weight=None, *, metric: str, unit: str, lower_is_better: bool = True,
           n_boot: int = 2000, level: float = 0.95, seed: int = 0, block: int = 1) -> Paired:
    """Compare a profile-blind and a profile-aware result with a paired bootstrap.

    Parameters
    ----------
    blind, aware : array-like of float
        Per-unit values of each side, aligned (element ``i`` of both is unit ``i``).
        Units are what is resampled: origins, weeks, SKUs, customers, scenarios.
    weight : array-like of float, optional
        Per-unit denominators shared by both sides (e.g. actual demand per unit). If
        given, each side's statistic is ``sum(values) / sum(weight)`` (a ratio of
        sums, so WAPE is passed as per-unit absolute errors with actuals as weight);
        otherwise it is the mean over units. Must be non-negative with positive total.
    metric : str
        Name of the measure, e.g. ``"WAPE"``.
    unit : str
        What one unit is, e.g. ``"week x origin"``.
    lower_is_better : bool, default True
        Direction of the measure; False for service level, margin, fill rate.
    n_boot : int, default 2000
        Number of bootstrap resamples.
    level : float, default 0.95
        Coverage of the percentile interval.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; the result is deterministic for a seed.
    block : int, default 1
        Units in time order that carry over (weeks of a plan with a backlog) are
        resampled in runs of ``block`` consecutive units (circular block bootstrap: a
        run may wrap from the last unit to the first, so every unit is drawn equally
        often), so that the interval keeps their dependence; 1 resamples units one by
        one.

    Returns
    -------
    Paired
        Both statistics, ``difference = aware - blind``, its interval and the verdict:
        "no measurable difference" if the interval contains 0, else "better" or "worse"
        by the sign of the difference and ``lower_is_better``. Per-unit differences
        within rounding (1e-9 of the largest value) count as none.

    Raises
    ------
    ValueError
        If the sides differ in length, have fewer than 2 units, contain NaN or
        infinite values, the weight is misaligned, negative or sums to zero or less,
        or ``n_boot`` or ``level`` are out of range.
    """
    b = _as_vector(blind, "blind")
    a = _as_vector(aware, "aware")
    if a.shape != b.shape:
        raise ValueError(f"blind and aware must have the same length (one value per unit), "
                         f"got {b.size} and {a.size}")
    n = b.size
    if n < 2:
        raise ValueError(f"a paired bootstrap needs at least 2 units, got {n}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if not 1 <= int(block) <= n:
        raise ValueError(f"block must be between 1 and the {n} units, got {block}")
    n_boot, block = int(n_boot), int(block)

    # The statistic is linear in the per-unit values given the denominator, so the
    # difference of the two statistics is the statistic of the per-unit difference:
    # one gather per resample instead of two.
    d = a - b
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()))
    d[np.abs(d) <= 1e-9 * scale] = 0.0  # rounding, not a difference
    w: np.ndarray | None = None
    if weight is None:
        blind_stat, aware_stat = float(b.mean()), float(a.mean())
    else:
        w = _as_vector(weight, "weight")
        if w.shape != b.shape:
            raise ValueError(f"weight must have one value per unit ({n}), got {w.size}")
        if np.any(w < 0):
            raise ValueError(f"weight must be non-negative, got {int(np.sum(w < 0))} "
                             "negative value(s)")
        total = float(w.sum())
        if not total > 0:
            raise ValueError(f"total weight must be positive for a ratio of sums, got {total}")
        blind_stat, aware_stat = float(b.sum() / total), float(a.sum() / total)

    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    rows = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_boot, rows):  # chunks of resamples, not one resample at a time
        stop = min(n_boot, start + rows)
        if block == 1:
            idx = rng.integers(0, n, size=(stop - start, n))
        else:
            starts = rng.integers(0, n, size=(stop - start, -(-n // block)))
            idx = ((starts[:, :, None] + np.arange(block)) % n).reshape(stop - start, -1)[:, :n]
        if w is None:
            diffs[start:stop] = d[idx].mean(axis=1)
        else:
            num = d[idx].sum(axis=1)
            den = w[idx].sum(axis=1)
            # A resample of only zero-weight units has no ratio; it is left out below.
            with np.errstate(divide="ignore", invalid="ignore"):
                diffs[start:stop] = np.where(den > 0, num / den, np.nan)
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0:
        raise ValueError("every bootstrap resample had zero total weight; "
                         "too few units carry weight")
    alpha = (1 - level) / 2
    lo, hi = (float(q) for q in np.quantile(diffs, [alpha, 1 - alpha]))
    return Paired(
        metric=metric, unit=unit, n_units=n, blind=blind_stat, aware=aware_stat,
        difference=aware_stat - blind_stat, lo=lo, hi=hi, level=float(level),
        lower_is_better=bool(lower_is_better),
        verdict=verdict(lo, hi, bool(lower_is_better)), n_boot=n_boot,
    )


def paired_statistic(n_units: int, statistic: Callable[[np.ndarray], tuple[float, float]], *,
                     metric: str, unit: str, lower_is_better: bool = True, n_boot: int = 2000,
                     level: float = 0.95, seed: int = 0) -> Paired:
    """Like :func:`paired`, for a statistic that is not a mean or a ratio of sums.

    ``statistic(index)`` receives an array of unit positions (``arange(n_units)`` for
    the observed result, a resample with replacement otherwise) and returns the
    ``(blind, aware)`` statistic over those units, e.g. a WAPE of segment totals where
    the units are customers, or the absolute bias of a total. Both sides always see the
    same resample, so the interval is paired.
    """
    n = int(n_units)
    if n < 2:
        raise ValueError(f"a paired bootstrap needs at least 2 units, got {n}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    blind_stat, aware_stat = (float(v) for v in statistic(np.arange(n)))
    if not (np.isfinite(blind_stat) and np.isfinite(aware_stat)):
        raise ValueError(f"the statistic is not finite on the observed units "
                         f"(blind {blind_stat}, aware {aware_stat})")
    rng = np.random.default_rng(seed)
    diffs = np.empty(int(n_boot))
    for i in range(int(n_boot)):
        b, a = statistic(rng.integers(0, n, size=n))
        diffs[i] = a - b
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0:
        raise ValueError("the statistic was not finite on any bootstrap resample")
    alpha = (1 - level) / 2
    lo, hi = (float(q) for q in np.quantile(diffs, [alpha, 1 - alpha]))
    return Paired(
        metric=metric, unit=unit, n_units=n, blind=blind_stat, aware=aware_stat,
        difference=aware_stat - blind_stat, lo=lo, hi=hi, level=float(level),
        lower_is_better=bool(lower_is_better),
        verdict=verdict(lo, hi, bool(lower_is_better)), n_boot=int(n_boot),
    )


def lines(results: Mapping[str, Paired], fmt: str | Callable[[Paired], str] = "{:.1%}"
          ) -> list[str]:
    """One computed sentence per named comparison, ``"Name: <sentence>"`` (the name is
    left out where it only repeats the metric). ``fmt`` is a format for every sentence
    or a function giving each comparison its format."""
    out = []
    for name, p in results.items():
        text = p.sentence(fmt(p) if callable(fmt) else fmt)
        same = name.strip().lower() == p.metric.strip().lower()
        out.append(text if same else f"{name[0].upper() + name[1:]}: {text}")
    return out


def table(results: Mapping[str, Paired]) -> pd.DataFrame:
    """Several named comparisons as one frame, for notebooks to display.

    Parameters
    ----------
    results : mapping of str to Paired
        Name of each comparison (e.g. ``"WAPE, all SKUs"``) to its result.

    Returns
    -------
    pandas.DataFrame
        One row per comparison, in the mapping's order, with columns ``name`` and the
        fields of :class:`Paired` (``metric, unit, n_units, blind, aware, difference,
        lo, hi, level, lower_is_better, verdict, n_boot``).
    """
    columns = ["name", *Paired.__dataclass_fields__]
    rows = []
    for name, result in results.items():
        if not isinstance(result, Paired):
            raise TypeError(f"table needs Paired results, got {type(result).__name__} "
                            f"for {name!r}")
        rows.append({"name": name, **result.as_dict()})
    return pd.DataFrame(rows, columns=columns)


def shown(results: Mapping[str, Paired], fmt: str | Callable[[Paired], str] = "{:.1%}"
          ) -> pd.DataFrame:
    """Named comparisons as text for a reader: comparison, the two sides, the
    difference with its interval, and the verdict, each row in its own format (``fmt``,
    or a function giving each comparison its format), as :meth:`Paired.sentence`."""
    rows = []
    for name, p in results.items():
        t = p.formatted(fmt(p) if callable(fmt) else fmt)
        unit = " pts" if t["points"] else ""
        rows.append({"comparison": name, "profile-blind": t["blind"],
                     "profile-aware": t["aware"],
                     f"difference ({100 * p.level:g}% interval)":
                     f"{t['difference']}{unit} ({t['lo']} to {t['hi']})",
                     "units": f"{p.n_units} {p.unit}", "verdict": p.verdict})
    return pd.DataFrame(rows)


def over_seeds(run: Callable[[int], Paired | Mapping[str, Paired]],
               seeds: Iterable[int] = (42, 43, 44, 45, 46)) -> pd.DataFrame:
    """Repeat a comparison over seeds (the benchmark runner).

    Parameters
    ----------
    run : callable
        ``run(seed)`` builds the data and both sides for one seed and returns a
        :class:`Paired`, or a mapping of name to :class:`Paired` for several
        comparisons at once. A single :class:`Paired` is named by its metric.
    seeds : iterable of int, default (42, 43, 44, 45, 46)
        Seeds passed to ``run`` in turn.

    Returns
    -------
    pandas.DataFrame
        Long frame, one row per seed and name, with columns ``seed, name, metric,
        blind, aware, difference, lo, hi, verdict``.
    """
    rows = []
    for seed in seeds:
        out = run(seed)
        named = {out.metric: out} if isinstance(out, Paired) else dict(out)
        for name, result in named.items():
            if not isinstance(result, Paired):
                raise TypeError(f"run({seed}) returned {type(result).__name__} for {name!r}; "
                                "expected Paired or a mapping of name to Paired")
            rows.append({"seed": seed, "name": name, "metric": result.metric,
                         "blind": result.blind, "aware": result.aware,
                         "difference": result.difference, "lo": result.lo, "hi": result.hi,
                         "verdict": result.verdict})
    if not rows:
        raise ValueError("over_seeds needs at least one seed")
    return pd.DataFrame(rows, columns=_FRAME_COLUMNS)


def seed_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Summarise an :func:`over_seeds` frame per comparison name.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`over_seeds`; needs columns ``seed, name, blind, aware,
        difference, verdict``.

    Returns
    -------
    pandas.DataFrame
        One row per name (in order of first appearance) with ``name, n_seeds``, the
        mean, min and max of ``blind``, ``aware`` and ``difference``
        (``blind_mean, blind_min, blind_max, ...``), and the number of seeds with each
        verdict in columns ``better, worse, no measurable difference``.
    """
    required = ["seed", "name", "blind", "aware", "difference", "verdict"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"seed_summary: the over_seeds frame lacks column(s) {missing}")
    unknown = sorted(set(frame["verdict"]) - set(VERDICTS))
    if unknown:
        raise ValueError(f"seed_summary: unknown verdict(s) {unknown}; expected {VERDICTS}")
    groups = frame.groupby("name", sort=False)
    stats = groups[["blind", "aware", "difference"]].agg(["mean", "min", "max"])
    stats.columns = [f"{col}_{how}" for col, how in stats.columns]
    counts = (pd.crosstab(frame["name"], frame["verdict"])
              .reindex(columns=list(VERDICTS), fill_value=0))
    counts.columns.name = None
    out = pd.concat([groups["seed"].nunique().rename("n_seeds"), stats,
                     counts.reindex(stats.index)], axis=1)
    return out.rename_axis("name").reset_index()
