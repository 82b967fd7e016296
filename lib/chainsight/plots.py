"""Charts in one style: seaborn/matplotlib, labelled axes with units, English labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from chainsight import schema as S

TIER_ORDER = list(S.CITY_TIERS)
CATEGORY_ORDER = list(S.CATEGORIES)


def use_style() -> None:
    """The workbook's chart style (call once in a notebook's setup)."""
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    plt.rcParams.update({"figure.figsize": (9, 4.5), "figure.dpi": 100,
                         "axes.titleweight": "bold", "savefig.bbox": "tight"})


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
        ax.legend(uniq.values(), uniq.keys(), loc="upper left", fontsize=8, ncol=3,
                  title="festival windows", title_fontsize=8)
    return ax


def customers_map(by_city: pd.DataFrame) -> plt.Axes:
    """Customers by city on a longitude/latitude plot, sized by count, coloured by tier."""
    fig, ax = plt.subplots(figsize=(8, 6))
    sns.scatterplot(data=by_city, x=S.LON, y=S.LAT, size="customers", hue=S.CITY_TIER,
                    hue_order=[t for t in TIER_ORDER if t in set(by_city[S.CITY_TIER])],
                    sizes=(20, 600), alpha=0.7, ax=ax)
    for _, r in by_city.nlargest(12, "customers").iterrows():
        ax.annotate(r[S.CITY], (r[S.LON], r[S.LAT]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set(title="Customers by city", xlabel="longitude (°E)", ylabel="latitude (°N)")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    return ax


def share_bars(mix: pd.DataFrame, group: str, part: str, value: str = "share",
               title: str = "", order: list | None = None) -> plt.Axes:
    """Stacked horizontal bars: the share of each ``part`` within each ``group`` (in %)."""
    wide = mix.pivot(index=group, columns=part, values=value).fillna(0) * 100
    if order:
        wide = wide.reindex([g for g in order if g in wide.index])
    cols = [c for c in CATEGORY_ORDER if c in wide.columns] or list(wide.columns)
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
