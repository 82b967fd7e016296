"""Charts in one style: seaborn/matplotlib, labelled axes with units, English labels."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from chainsight import schema as S

TIER_ORDER = list(S.CITY_TIERS)
CATEGORY_ORDER = list(S.CATEGORIES)


def ordered(labels, known: list) -> list:
    """The labels present: the known ones in their order, then any others (your data's
    tiers, regions or categories) sorted."""
    present = set(pd.Series(list(labels)).dropna())
    return [k for k in known if k in present] + sorted(present - set(known), key=str)


def _escape_styler_formats() -> None:
    """Make pandas Stylers escape HTML in values, index labels and column headers unless
    told otherwise. pandas applies its ``styler.format.escape`` option only to a Styler's
    default value format: a call such as ``.format({"share": "{:.1%}"})`` formats every
    column again without escaping, and the labels are never escaped (nor is a label
    formatted again with ``.format_index``)."""
    from pandas.io.formats.style import Styler

    if getattr(Styler.format, "escapes_html", False):
        return
    original, original_index = Styler.format, Styler.format_index
    original_init = Styler.__init__

    def format(self, *args, escape="html", **kwargs):  # noqa: A001 (pandas' own name)
        return original(self, *args, escape=escape, **kwargs)

    def format_index(self, *args, escape="html", **kwargs):
        return original_index(self, *args, escape=escape, **kwargs)

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.format_index(axis=0)
        self.format_index(axis=1)

    format.escapes_html = True
    format.__doc__, format_index.__doc__ = original.__doc__, original_index.__doc__
    Styler.format, Styler.format_index = format, format_index
    Styler.__init__ = __init__


def use_style() -> None:
    """The workbook's chart and table style (call once in a notebook's setup). Tables
    styled with pandas escape HTML in their text, so a product called
    ``<script>...</script>`` is shown, never run, in a report."""
    pd.set_option("styler.format.escape", "html")
    _escape_styler_formats()
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    plt.rcParams.update({"figure.figsize": (9, 4.5), "figure.dpi": 100,
                         "axes.titleweight": "bold", "savefig.bbox": "tight"})
    _describe_figures()
    _readable_tables()


def _cell(v) -> str:
    """A table cell in words: whole numbers with thousands separators, other numbers at
    4 significant digits (whole below 10,000 and above), nothing for a missing value."""
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
        return str(v)
    if pd.isna(v):
        return ""
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"


def table_html(table) -> str:
    """A DataFrame (or a pandas Styler) as a reader sees it: a plain row number (a
    RangeIndex) is hidden rather than shown beside the real columns, and a plain
    DataFrame's numbers read with thousands separators (:func:`_cell`); at most 60 rows."""
    from pandas.io.formats.style import Styler

    style = table if isinstance(table, Styler) else table.style.format(_cell, escape="html")
    if isinstance(style.data.index, pd.RangeIndex) and not any(style.hide_index_):
        style = style.hide(axis="index")
    return style.to_html(max_rows=60)


def _kernel():
    """The IPython shell this runs in, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _readable_tables() -> None:
    """In a kernel, show DataFrames and Stylers through :func:`table_html`."""
    shell = _kernel()
    if shell is None:
        return
    from pandas.io.formats.style import Styler

    html_formatter = shell.display_formatter.formatters["text/html"]
    for kind in (pd.DataFrame, Styler):
        html_formatter.for_type(kind, table_html)


def describe(fig: plt.Figure) -> str:
    """A chart in words, for its alt text: its title and each panel's title and axes."""
    parts = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for ax in fig.get_axes():
        if not ax.get_visible() or not (ax.has_data() or ax.get_title()):
            continue
        axes = [f"{k}: {t}" for k, t in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if t]
        parts.append(" ".join(filter(None, [ax.get_title(), f"({'; '.join(axes)})"
                                            if axes else ""])))
    text = ". ".join(p.strip() for p in parts if p.strip())
    return "Chart: " + text if text else "Chart without a title"


def _describe_figures() -> None:
    """In a kernel, give each chart's PNG its :func:`describe` as alt text (the report
    page writes it into the image's ``alt``)."""
    shell = _kernel()
    if shell is None:
        return
    plt.close(plt.figure())  # loads the kernel's chart backend, which registers its PNG
    png = shell.display_formatter.formatters["image/png"]
    drawn = png.lookup_by_type(plt.Figure) if plt.Figure in png else None
    if drawn is None or getattr(drawn, "describes", False):
        return

    def with_alt(fig):
        data = drawn(fig)
        return None if data is None else (data, {"alt": describe(fig)})

    with_alt.describes = True
    png.for_type(plt.Figure, with_alt)


def legend_outside(ax: plt.Axes, below: bool = False, **kwargs):
    """The legend beside the plot (right), or under it with ``below``: never over the
    data."""
    if below:
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18),
                         ncol=kwargs.pop("ncol", 3), **kwargs)
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), **kwargs)


def orders_over_time(daily: pd.DataFrame, calendar: pd.DataFrame | None = None,
                     freq: str = "W") -> plt.Axes:
    """Orders per week (or ``freq``) with festival peak days marked."""
    s = daily.set_index(S.DATE)["orders"].resample(freq).sum()
    fig, ax = plt.subplots()
    ax.plot(s.index, s.to_numpy(), lw=1.4, color="#34495e")
    unit = {"W": "week", "D": "day", "MS": "month", "ME": "month"}.get(freq, freq)
    ax.set(title=f"Orders per {unit}", xlabel="date", ylabel=f"orders per {unit}")
    if calendar is not None and S.EVENT in calendar.columns:
        fest = calendar[(calendar[S.EVENT_KIND] == "festival")
                        & calendar[S.DATE].between(s.index.min(), s.index.max())]
        names = sorted(fest[S.EVENT].unique())
        palette = dict(zip(names, sns.color_palette("tab10", len(names)), strict=True))
        for name, days in fest.groupby(S.EVENT):
            for _, run in days.groupby((days[S.DATE].diff().dt.days != 1).cumsum()):
                ax.axvspan(run[S.DATE].min(), run[S.DATE].max(), alpha=0.25,
                           color=palette[name], lw=0, label=name)
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        legend_outside(ax, handles=list(uniq.values()), labels=list(uniq.keys()), fontsize=8,
                       title="festival windows", title_fontsize=8)
    return ax


def customers_map(by_city: pd.DataFrame) -> plt.Axes:
    """Customers by city on a longitude/latitude plot, sized by count, coloured by tier."""
    fig, ax = plt.subplots(figsize=(8, 6))
    tiers = by_city[S.CITY_TIER].notna().any()
    sns.scatterplot(data=by_city, x=S.LON, y=S.LAT, size="customers",
                    hue=S.CITY_TIER if tiers else None,
                    hue_order=ordered(by_city[S.CITY_TIER], TIER_ORDER) if tiers else None,
                    sizes=(20, 600), alpha=0.7, ax=ax)
    for _, r in by_city.nlargest(12, "customers").iterrows():
        ax.annotate(r[S.CITY], (r[S.LON], r[S.LAT]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set(title="Customers by city", xlabel="longitude (°E)", ylabel="latitude (°N)")
    legend_outside(ax, fontsize=8)
    return ax


def share_bars(mix: pd.DataFrame, group: str, part: str, value: str = "share",
               title: str = "", order: list | None = None) -> plt.Axes:
    """Stacked horizontal bars: the share of each ``part`` within each ``group`` (in %)."""
    wide = mix.pivot(index=group, columns=part, values=value).fillna(0) * 100
    if order:
        wide = wide.reindex(ordered(wide.index, order))
    cols = ordered(wide.columns, CATEGORY_ORDER)
    ax = wide[cols].plot.barh(stacked=True, figsize=(9, 0.6 * len(wide) + 1.5), width=0.75)
    ax.set(title=title, xlabel="share of revenue (%)", ylabel=group.replace("_", " "))
    ax.legend(title=part, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.invert_yaxis()
    return ax


def bar(frame: pd.DataFrame, x: str, y: str, title: str, xlabel: str, ylabel: str,
        top: int = 15) -> plt.Axes:
    """A horizontal bar chart of the ``top`` rows."""
    fig, ax = plt.subplots(figsize=(8, 0.35 * min(top, len(frame)) + 1.2))
    sns.barplot(data=frame.head(top), y=x, x=y, ax=ax, color="#4c72b0")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def rfm_heatmap(rfm: pd.DataFrame, value: pd.Series, value_label: str) -> plt.Axes:
    """Mean ``value`` per recency score x frequency score, with customer counts."""
    d = rfm.assign(v=value.to_numpy())
    mean = d.pivot_table(index="r_score", columns="f_score", values="v", aggfunc="mean")
    count = d.pivot_table(index="r_score", columns="f_score", values="v", aggfunc="size")
    annot = mean.round(0).astype("Int64").astype(str) + "\n(" + count.fillna(0).astype(int) \
        .astype(str) + ")"
    fig, ax = plt.subplots(figsize=(7, 5))
    sns.heatmap(mean.sort_index(ascending=False), annot=annot.sort_index(ascending=False),
                fmt="", cmap="YlGnBu", ax=ax, cbar_kws={"label": value_label})
    ax.set(title=f"RFM grid: mean {value_label} (customers)",
           xlabel="frequency score (5 = most orders)", ylabel="recency score (5 = most recent)")
    return ax


def k_diagnostics(diag: pd.DataFrame, chosen: int) -> plt.Figure:
    """BIC and ICL of the mixture and silhouette of k-means for each number of segments."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    a1.plot(diag["k"], diag["bic"] / 1e3, marker="o", label="BIC")
    a1.plot(diag["k"], diag["icl"] / 1e3, marker="s", label="ICL = BIC + 2 x entropy")
    a1.set(title="Mixture: BIC and ICL (lower is better)", xlabel="number of segments k",
           ylabel="criterion (thousands)")
    a1.legend(fontsize=8)
    a2.plot(diag["k"], diag["silhouette"], marker="o", color="#dd8452")
    a2.set(title="k-means: silhouette (higher is better)", xlabel="number of segments k",
           ylabel="silhouette")
    for a in (a1, a2):
        a.axvline(chosen, color="grey", ls="--", lw=1)
    fig.tight_layout()
    return fig


def by_segment(customers: pd.DataFrame, columns: dict[str, str]) -> plt.Figure:
    """Box plots of features by segment; ``columns`` maps column -> axis label."""
    cols = [c for c in columns if c in customers.columns]
    fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 3.8), squeeze=False)
    for ax, col in zip(axes[0], cols, strict=True):
        sns.boxplot(data=customers, x="segment", y=col, ax=ax, showfliers=False,
                    color="#8fb3d9")
        ax.set(xlabel="segment (1 = most valuable)", ylabel=columns[col])
    fig.suptitle("Features by segment")
    fig.tight_layout()
    return fig


def lorenz(values: dict[str, pd.Series]) -> plt.Axes:
    """Cumulative share of each value against the share of customers, largest first."""
    fig, ax = plt.subplots(figsize=(6, 5))
    for label, v in values.items():
        v = v.clip(lower=0).sort_values(ascending=False).to_numpy()
        x = (pd.RangeIndex(1, len(v) + 1) / len(v)).to_numpy() * 100
        ax.plot(x, v.cumsum() / v.sum() * 100, label=label)
    ax.plot([0, 100], [0, 100], color="grey", ls="--", lw=1, label="all customers equal")
    ax.set(title="Value concentration", xlabel="customers, most valuable first (%)",
           ylabel="cumulative share of value (%)")
    ax.legend()
    return ax


def histogram(values: pd.Series, title: str, xlabel: str, log: bool = False) -> plt.Axes:
    fig, ax = plt.subplots(figsize=(8, 3.8))
    sns.histplot(values[values > 0] if log else values, bins=50, log_scale=log, ax=ax)
    ax.set(title=title, xlabel=xlabel, ylabel="customers")
    return ax


def actual_vs_predicted(frame: pd.DataFrame, x: str, title: str, xlabel: str, ylabel: str,
                        kind: str = "line", marker: float | None = None) -> plt.Axes:
    """``actual`` and ``predicted`` columns against ``x``, as lines or grouped bars."""
    fig, ax = plt.subplots(figsize=(8, 4))
    if kind == "line":
        ax.plot(frame[x], frame["actual"], label="actual", color="#34495e")
        ax.plot(frame[x], frame["predicted"], label="predicted", ls="--", color="#dd8452")
    else:
        frame.set_index(x)[["actual", "predicted"]].plot.bar(ax=ax, rot=0)
    if marker is not None:
        ax.axvline(marker, color="grey", ls=":", lw=1)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax


def method_bars(frame: pd.DataFrame, value: str, title: str, xlabel: str,
                percent: bool = False) -> plt.Axes:
    """One horizontal bar per method (the baseline-vs-profile comparison)."""
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(frame) + 1.2))
    v = frame[value] * (100 if percent else 1)
    ax.barh(frame["method"], v, color=sns.color_palette("deep", len(frame)))
    for i, val in enumerate(v):
        ax.annotate(f"{val:,.1f}{'%' if percent else ''}", (val, i), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=9)
    ax.set(title=title, xlabel=xlabel, ylabel="")
    ax.invert_yaxis()
    return ax


def intervals(frame: pd.DataFrame, value: str, lo: str, hi: str, title: str, xlabel: str,
              marker: str | None = None, marker_label: str = "", percent: bool = False
              ) -> plt.Axes:
    """One row per index entry: the estimate with its interval, and optionally a second
    value (``marker``, e.g. what the holdout showed) as a cross."""
    k = 100 if percent else 1
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(frame) + 1.4))
    y = np.arange(len(frame))
    v = frame[value].to_numpy(float) * k
    err = np.vstack([v - frame[lo].to_numpy(float) * k, frame[hi].to_numpy(float) * k - v])
    ax.errorbar(v, y, xerr=err, fmt="o", capsize=3, label="estimate, 95% interval")
    if marker is not None:
        ax.scatter(frame[marker].to_numpy(float) * k, y, marker="x", s=60, color="black",
                   zorder=3, label=marker_label)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [str(i) for i in frame.index])
    ax.set(title=title, xlabel=xlabel, ylabel="")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=9)
    return ax


def forecast_fan(forecasts: pd.DataFrame, actual: pd.DataFrame, title: str, xlabel: str,
                 ylabel: str, level: float = 80) -> plt.Axes:
    """What came (``actual``: ds, y) as a line, and each origin's forecast (``forecasts``:
    origin, ds, yhat, lo, hi, as from :func:`chainsight.forecasting.backtest`) with its
    ``level``% interval as a band; the legend sits outside the data."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(actual["ds"], actual["y"], color="black", lw=1.3, label="actual")
    for i, (_, f) in enumerate(forecasts.sort_values("ds").groupby("origin")):
        colour = f"C{i % 10}"
        if f["lo"].notna().any():
            ax.fill_between(f["ds"], f["lo"], f["hi"], color=colour, alpha=0.25, lw=0,
                            label=f"{level:g}% interval" if i == 0 else None)
        ax.plot(f["ds"], f["yhat"], color=colour, lw=1.6, label="forecast" if i == 0 else None)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.yaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    return ax


def heatmap(table: pd.DataFrame, title: str, xlabel: str, ylabel: str, value_label: str,
            fmt: str = ".0%") -> plt.Axes:
    """A table of values (rows x columns) as an annotated heatmap."""
    fig, ax = plt.subplots(figsize=(1.1 * table.shape[1] + 3, 0.45 * table.shape[0] + 1.5))
    sns.heatmap(table, annot=True, fmt=fmt, cmap="YlGnBu", ax=ax,
                cbar_kws={"label": value_label})
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def frontier(curves: pd.DataFrame, x: str, y: str, by: str, title: str, xlabel: str,
             ylabel: str, points: pd.DataFrame | None = None, label: str = "policy") -> plt.Axes:
    """Trade-off curves (one line per value of ``by``, points in row order), with
    optional highlighted ``points`` (columns ``x``, ``y`` and ``label``)."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for name, d in curves.groupby(by, sort=False):
        ax.plot(d[x], d[y], marker="o", ms=4, label=str(name))
    if points is not None:
        for _, p in points.iterrows():
            ax.scatter(p[x], p[y], s=90, zorder=3, edgecolor="black")
            ax.annotate(str(p[label]), (p[x], p[y]), textcoords="offset points",
                        xytext=(6, -12), fontsize=9)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    legend_outside(ax, title=by)
    return ax


def network_map(cities: pd.DataFrame, size: str, colour: str, colour_label: str,
                sites: pd.DataFrame | None = None, title: str = "",
                ax: plt.Axes | None = None) -> plt.Axes:
    """Cities on a longitude/latitude plot, sized by ``size`` and coloured by
    ``colour`` (0-1), the largest named, with the open ``sites`` (rows with ``lon, lat,
    city``) marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 6))
    pts = ax.scatter(cities[S.LON], cities[S.LAT], s=20 + 600 * cities[size]
                     / cities[size].max(), c=cities[colour], cmap="viridis", vmin=0,
                     vmax=max(cities[colour].max(), 1e-9), alpha=0.75, edgecolor="white")
    ax.figure.colorbar(pts, ax=ax, label=colour_label, shrink=0.8)
    named = set() if sites is None else set(sites[S.CITY])
    big = cities.nlargest(8, size)
    for city, r in zip(big[S.CITY] if S.CITY in big.columns else big.index, big.itertuples(),
                       strict=True):
        if city not in named:
            ax.annotate(str(city), (getattr(r, S.LON), getattr(r, S.LAT)), fontsize=7,
                        color="#555555", xytext=(4, 4), textcoords="offset points")
    if sites is not None:
        ax.scatter(sites[S.LON], sites[S.LAT], marker="^", s=160, color="#c0392b",
                   edgecolor="black", label="open warehouse", zorder=3)
        for _, r in sites.iterrows():
            ax.annotate(r[S.CITY], (r[S.LON], r[S.LAT]), fontsize=8, xytext=(5, -10),
                        textcoords="offset points")
        legend_outside(ax, below=True, fontsize=8)
    ax.set(title=title, xlabel="longitude (°E)", ylabel="latitude (°N)")
    return ax


def routes_map(points: pd.DataFrame, routes: list, depot: tuple, title: str,
               highlight: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Vehicle routes over delivery points (``lon, lat``; row i is node i + 1), from
    and back to the ``depot`` (lon, lat); points where ``highlight`` is true stand
    out."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    lon = np.r_[depot[0], points[S.LON].to_numpy()]
    lat = np.r_[depot[1], points[S.LAT].to_numpy()]
    for k, r in enumerate(routes):
        path = [0, *r, 0]
        ax.plot(lon[path], lat[path], lw=1.2, label=f"van {k + 1}")
    mark = points[highlight].to_numpy() if highlight else np.zeros(len(points), bool)
    ax.scatter(lon[1:][~mark], lat[1:][~mark], s=18, color="grey", zorder=3)
    if mark.any():
        ax.scatter(lon[1:][mark], lat[1:][mark], s=40, color="#e67e22", zorder=3,
                   label=highlight)
    ax.scatter([depot[0]], [depot[1]], marker="s", s=90, color="black", zorder=4,
               label="depot")
    ax.set(title=title, xlabel="longitude (°E)", ylabel="latitude (°N)")
    legend_outside(ax, fontsize=7)
    return ax
