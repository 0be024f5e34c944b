"""Matplotlib figures of the incident library's trends (the trends report).

Each function takes a frame from :mod:`eafix_forensics.analysis.trends` (or the
same-named :class:`~eafix_forensics.catalog.Catalog` method) and returns a
``Figure``; an empty frame gives a figure that says so. Like :mod:`.plots`,
figures are built without pyplot and display as PNG in IPython.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .plots import _figure, describe, no_data

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["recurring_signatures_figure", "response_times_figure", "sla_compliance_figure"]

# One colour per severity, P0 the most alarming (the same red as a critical event in .plots).
SEVERITY_LEVEL_COLORS = {"P0": "#d62728", "P1": "#ff7f0e", "P2": "#bcbd22", "P3": "#1f77b4",
                         "unclassified": "#7f7f7f"}


def _empty(ax: Axes, what: str) -> None:
    no_data(ax, f"no {what} in the catalog yet")


def response_times_figure(times: pd.DataFrame) -> Figure:
    """Median time to acknowledge and to resolve (minutes, log scale) per month,
    one bar per severity; ``times`` is :func:`~eafix_forensics.analysis.trends.response_times`."""
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib.ticker import FuncFormatter, LogLocator

    fig = _figure(11, 4.2)
    axes = fig.subplots(1, 2)
    if len(times) == 0:
        for ax in axes:
            _empty(ax, "triggered incidents")
        return fig
    months = sorted(times["month"].unique())
    severities = [s for s in SEVERITY_LEVEL_COLORS if s in set(times["severity"])]
    width = 0.8 / max(len(severities), 1)
    x = np.arange(len(months))
    for ax, col, title in ((axes[0], "ack_median_min", "time to acknowledge"),
                           (axes[1], "resolve_median_min", "time to resolve")):
        if not (times[col].to_numpy(dtype=float) > 0).any():  # unresolved (or instant): nothing to log-scale
            _empty(ax, f"measured {title}")
            continue
        for i, sev in enumerate(severities):
            rows = times[times["severity"] == sev].set_index("month")[col].reindex(months)
            ax.bar(x + (i - (len(severities) - 1) / 2) * width, rows.to_numpy(dtype=float), width,
                   label=sev, color=SEVERITY_LEVEL_COLORS[sev])
        ax.set_xticks(x, months, rotation=45, ha="right")
        ax.set_yscale("log")
        # Plain minutes at 1-2-5 steps (2, 5, 10, 20, 50 …), not 10^x and not a lone "10":
        # the readers are on call, not physicists.
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        for i, sev in enumerate(severities):
            rows = times[times["severity"] == sev].set_index("month")[col].reindex(months)
            for xi, v in zip(x + (i - (len(severities) - 1) / 2) * width, rows.to_numpy(dtype=float), strict=True):
                if np.isfinite(v):
                    ax.annotate(f"{v:,.0f}", (xi, v), xytext=(0, 2), textcoords="offset points", ha="center",
                                va="bottom", fontsize=7.5)
        ax.set_ylabel("median minutes")
        ax.set_title(f"Median {title} by month")
        ax.grid(axis="y", alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(title="severity", fontsize=8)
    worst = times.sort_values("resolve_median_min", ascending=False).iloc[0]
    slowest = (f"slowest resolution: {worst['severity']} in {worst['month']} "
               f"({float(worst['resolve_median_min']):,.0f} min)" if pd.notna(worst["resolve_median_min"])
               else "no incident resolved yet")
    return describe(fig, f"Median minutes to acknowledge and to resolve by month and severity, {len(months)} months; "
                         f"{slowest}.")


def sla_compliance_figure(compliance: pd.DataFrame) -> Figure:
    """SLA compliance rate per SLA (rows) and severity (columns), as a heat map
    with the met/measured counts written in each cell; ``compliance`` is
    :func:`~eafix_forensics.analysis.trends.sla_compliance`."""
    fig = _figure(8, 4.2)
    ax = fig.add_subplot()
    if len(compliance) == 0:
        _empty(ax, "measured SLAs")
        return fig
    slas = list(dict.fromkeys(compliance["sla"]))
    severities = [s for s in SEVERITY_LEVEL_COLORS if s in set(compliance["severity"])]
    rate = compliance.pivot(index="sla", columns="severity", values="rate").reindex(index=slas, columns=severities)
    image = ax.imshow(rate.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for _, r in compliance.iterrows():
        i, j = slas.index(r["sla"]), severities.index(r["severity"])
        ax.text(j, i, f"{int(r['met'])}/{int(r['incidents'])}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(severities)), severities)
    ax.set_yticks(range(len(slas)), [s.replace("_", " ") for s in slas])
    ax.set_title("SLA compliance (met / measured)")
    fig.colorbar(image, ax=ax, label="compliance rate")
    missed = compliance[compliance["rate"] < 1]
    return describe(fig, "SLA compliance by SLA and severity; below 100%: "
                         + ("; ".join(f"{r.sla} {r.severity} {int(r.met)}/{int(r.incidents)}"
                                      for r in missed.itertuples(index=False)) or "none") + ".")


def recurring_signatures_figure(recurring: pd.DataFrame, *, top: int = 10) -> Figure:
    """The ``top`` recurring error signatures as horizontal bars of the number of
    incidents they appeared in; ``recurring`` is
    :func:`~eafix_forensics.analysis.trends.recurring_signatures`."""
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib.ticker import MaxNLocator

    rows = recurring.head(top)
    fig = _figure(11, 1.0 + 0.6 * max(len(rows), 2))
    ax = fig.add_subplot()
    if len(rows) == 0:
        _empty(ax, "recurring error signatures")
        return fig

    # Wrapped, never cut: the signature is the thing to recognise.
    labels = ["\n".join(textwrap.wrap(s, 70)) for s in rows["signature"]]
    y = np.arange(len(rows))[::-1]
    ax.barh(y, rows["incidents"].to_numpy(dtype=float), color="#d62728")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("incidents")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Recurring error signatures")
    ax.grid(axis="x", alpha=0.3)
    return describe(fig, "Error signatures seen in more than one incident: " + "; ".join(
        f"{r.signature} ({int(r.incidents)} incidents)" for r in rows.itertuples(index=False)) + ".")
