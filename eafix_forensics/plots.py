"""Matplotlib figures from bundles and analysis frames.

Functions return a ``matplotlib.figure.Figure`` and never call ``plt.show()``;
notebooks display what they get. One colour per severity everywhere:
``SEVERITY_COLORS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .bundle import EvidenceBundle

__all__ = ["SEVERITY_COLORS", "evidence_overview"]

SEVERITY_COLORS = {"info": "#1f77b4", "warning": "#ff7f0e", "critical": "#d62728"}
LEVEL_SEVERITY = {"WARNING": "warning", "ERROR": "critical", "CRITICAL": "critical"}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    _show_figures_as_png()
    return Figure(figsize=(width, height), layout="constrained")


def _show_figures_as_png() -> None:
    """In IPython (JupyterLab, papermill, nbval), display a returned Figure as a PNG.

    Figures here are built without pyplot (no global state, nothing shown twice),
    so IPython needs a formatter for the Figure class itself.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with jupyterlab
        return
    ip = get_ipython()
    if ip is None:
        return
    from matplotlib.figure import Figure

    png = ip.display_formatter.formatters["image/png"]
    if Figure not in png.type_printers:
        png.for_type(Figure, _figure_png)


def _figure_png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def evidence_overview(bundle: EvidenceBundle) -> Figure:
    """A first look: one lane per service with WARNING/ERROR log lines, commits as
    vertical dashed lines and incident milestones as solid lines, over the window."""
    logs = bundle.table("logs")
    window = bundle.window
    noisy = logs[logs["level"].isin(list(LEVEL_SEVERITY))] if len(logs) else logs
    services = sorted(set(noisy["service"].dropna())) if len(noisy) else []
    fig = _figure(11, 1.2 + 0.45 * max(len(services), 1))
    ax = fig.add_subplot()
    for i, svc in enumerate(services):
        rows = noisy[noisy["service"] == svc]
        for level, sev in LEVEL_SEVERITY.items():
            pts = rows[rows["level"] == level]
            if len(pts):
                ax.scatter(pts["timestamp"], [i] * len(pts), s=14, marker="|",
                           color=SEVERITY_COLORS[sev], label=level)
    commits = bundle.table("commits")
    for ts in commits["timestamp"] if len(commits) else []:
        if window.contains(ts):
            ax.axvline(ts, color="#555555", linestyle="--", linewidth=1, label="commit")
    if bundle.has("incident"):
        inc = bundle.table("incident").iloc[0]
        for col in ("triggered_at", "acknowledged_at", "resolved_at"):
            ts = inc.get(col)
            if ts is not None and not pd.isna(ts):
                ax.axvline(pd.Timestamp(ts), color="#2ca02c", linewidth=1.2, label=col.replace("_at", ""))
    ax.set_yticks(range(len(services)), services)
    ax.set_xlim(window.start, window.end)
    ax.set_ylim(-0.8, max(len(services), 1) - 0.2)
    ax.set_title(f"{bundle.incident_id}: warnings and errors by service (UTC)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc="upper left", fontsize=8, ncols=min(len(unique), 6))
    ax.grid(axis="x", alpha=0.3)
    return fig
