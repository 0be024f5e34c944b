"""Matplotlib figures from bundles and analysis frames.

Functions return a ``matplotlib.figure.Figure`` and never call ``plt.show()``;
notebooks display what they get. One colour per severity everywhere:
``SEVERITY_COLORS`` (info, warning, critical) — markers, breach spans and
error counts use it and nothing else does; services get ``SERVICE_COLORS``,
deploys are grey dashed lines, incident milestones green solid lines.

- :func:`evidence_overview`: a first look at the raw logs and commits;
- :func:`swimlane_timeline`: the cross-source timeline, one lane per service;
- :func:`metric_panels`: one panel per metric, breaches shaded, deploys marked;
- :func:`error_rate_by_service`: warnings and errors per minute, one panel per service.

Every plotted element carries a ``gid`` (``kind:<kind>``, ``deploy:<sha>``,
``milestone:<kind>``, ``breach:<name>:<rule>``…) so a test or a caller can find it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .window import TimeWindow, parse_duration

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .bundle import EvidenceBundle

__all__ = [
    "KIND_MARKERS",
    "SERVICE_COLORS",
    "SEVERITY_COLORS",
    "error_rate_by_service",
    "evidence_overview",
    "metric_panels",
    "swimlane_timeline",
]

SEVERITY_COLORS = {"info": "#1f77b4", "warning": "#ff7f0e", "critical": "#d62728"}
LEVEL_SEVERITY = {"WARNING": "warning", "ERROR": "critical", "CRITICAL": "critical"}
# Services never wear a severity colour, so a red line always means "critical".
SERVICE_COLORS = ("#9467bd", "#8c564b", "#17becf", "#e377c2", "#bcbd22", "#393b79", "#637939", "#843c39")
MILESTONE_COLOR = "#2ca02c"
DEPLOY_COLOR = "#555555"
KIND_MARKERS = {
    "first_error": "X",
    "error_burst": "s",
    "threshold_breach": "^",
    "slow_query": "D",
    "lock_wait": "P",
    "health_failed": "v",
    "deploy": "*",
    "restart": "o",
}
# Kinds that often share a moment in one lane (a deploy and its restart, an error and
# the breach it causes) sit slightly above/below the lane line so neither hides the other.
_LANE_OFFSET = {"deploy": -0.18, "restart": 0.18, "first_error": -0.18, "threshold_breach": 0.18}
_MILESTONES = {"incident_triggered": "triggered", "acknowledged": "acknowledged", "responded": "responded",
               "resolved": "resolved"}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    _show_figures_as_png()
    return Figure(figsize=(width, height), layout="constrained")


def no_data(ax: Axes, text: str) -> None:
    """Say ``text`` in the middle of an otherwise empty panel (a figure with nothing to draw)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center")
    ax.set_axis_off()


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


# Figures are drawn at 100 px per inch of page width and rendered at twice that, so
# they stay sharp when a phone or a zoomed page shows them larger than 1:1.
PAGE_DPI = 100
RENDER_DPI = 200


def describe(fig: Figure, text: str) -> Figure:
    """Attach the alt text a report shows for ``fig`` (what the figure shows, in words)."""
    fig.eafix_alt = text  # type: ignore[attr-defined]
    return fig


def _figure_png(fig: Figure) -> tuple[bytes, dict[str, Any]]:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=RENDER_DPI)
    width, _ = fig.get_size_inches()
    meta = {"width": int(round(width * PAGE_DPI)),
            "alt": getattr(fig, "eafix_alt", "") or "figure"}
    return buf.getvalue(), meta


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


# ------------------------------------------------------------------ shared pieces
def _span(window: TimeWindow | None, *stamps: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if window is not None:
        return window.start, window.end
    present = [s.dropna() for s in stamps if s is not None and s.notna().any()]
    if not present:
        return None
    values = pd.concat(present, ignore_index=True)
    lo, hi = values.min(), values.max()
    pad = max((hi - lo) * 0.03, pd.Timedelta(minutes=1))
    return lo - pad, hi + pad


def _time_axis(ax: Axes, span: tuple[pd.Timestamp, pd.Timestamp] | None) -> None:
    from matplotlib.dates import AutoDateLocator, DateFormatter

    if span is not None:
        ax.set_xlim(span[0], span[1])
    locator = AutoDateLocator(minticks=5, maxticks=12)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz="UTC"))  # type: ignore[no-untyped-call]
    ax.grid(axis="x", alpha=0.3)


def _deploy_lines(ax: Axes, deploys: pd.DataFrame | None, *, label_top: bool) -> None:
    """Grey dashed vertical lines at deploys (TIMELINE rows of kind deploy)."""
    if deploys is None or deploys.empty:
        return
    for _, d in deploys.iterrows():
        ts = d["timestamp"]
        if pd.isna(ts):
            continue
        ax.axvline(ts, color=DEPLOY_COLOR, linestyle="--", linewidth=1.2, gid=f"deploy:{d.get('ref')}",
                   label="deploy", zorder=1)
        if label_top:
            svc = d.get("service")
            text = f"deploy {svc}" if isinstance(svc, str) and svc else "deploy"
            # Inside the axes, so a long service name never pushes the layout around.
            ax.annotate(text, (ts, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                        textcoords="offset points", fontsize=7, color=DEPLOY_COLOR, va="top", ha="left",
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


def _dedupe_legend(ax: Axes, **kwargs: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=False))
    if unique:
        ax.legend(unique.values(), unique.keys(), **kwargs)


def _bundle_timeline(source: EvidenceBundle | pd.DataFrame) -> tuple[pd.DataFrame, TimeWindow | None, str]:
    from .bundle import EvidenceBundle

    if isinstance(source, EvidenceBundle):
        from .analysis.timeline import timeline

        return timeline(source), source.window, source.incident_id
    return source, None, ""


# ------------------------------------------------------------------ swimlanes
def swimlane_timeline(
    events: EvidenceBundle | pd.DataFrame,
    *,
    window: TimeWindow | None = None,
    title: str | None = None,
) -> Figure:
    """The timeline as swimlanes: one lane per service (y tick labels, the service
    that failed first on top), one marker per event — shape by kind
    (:data:`KIND_MARKERS`), colour by severity (:data:`SEVERITY_COLORS`) — deploys
    as grey dashed vertical lines and incident milestones (triggered, acknowledged,
    responded, resolved) as green vertical lines, status updates dotted.

    ``events`` is a TIMELINE frame or a bundle (its :func:`timeline`, over its window).
    Markers carry ``gid="kind:<kind>"``, deploy lines ``deploy:<ref>``, milestone
    lines ``milestone:<kind>``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .analysis.timeline import MILESTONE_KINDS

    frame, bundle_window, incident_id = _bundle_timeline(events)
    window = window or bundle_window
    frame = frame[frame["timestamp"].notna()]
    people = frame[frame["kind"].isin(MILESTONE_KINDS)]
    lanes_ev = frame[~frame["kind"].isin(MILESTONE_KINDS)].copy()
    lanes_ev["lane"] = lanes_ev["service"].astype(object).map(lambda s: s if isinstance(s, str) and s else "(no service)")
    # Lanes in the order services first appear with a symptom, then the rest by first event.
    first_bad = lanes_ev[lanes_ev["severity"].isin(("warning", "critical"))].groupby("lane")["timestamp"].min()
    first_any = lanes_ev.groupby("lane")["timestamp"].min()
    lanes = sorted(first_any.index, key=lambda s: (s not in first_bad.index, first_bad.get(s, first_any[s]), s))
    y = {lane: i for i, lane in enumerate(lanes)}

    fig = _figure(12, 2.2 + 0.5 * max(len(lanes), 1))
    ax = fig.add_subplot()
    for (kind, sev), g in lanes_ev.groupby(["kind", "severity"], sort=True):
        ax.scatter(g["timestamp"], g["lane"].map(y) + _LANE_OFFSET.get(str(kind), 0.0), marker=KIND_MARKERS.get(str(kind), "o"), s=70,
                   color=SEVERITY_COLORS.get(str(sev), "#999999"), edgecolors="black", linewidths=0.5,
                   zorder=3, gid=f"kind:{kind}")
    _deploy_lines(ax, lanes_ev[lanes_ev["kind"] == "deploy"], label_top=True)
    for _, m in people.iterrows():
        kind = str(m["kind"])
        if kind == "status_update":
            ax.axvline(m["timestamp"], color=MILESTONE_COLOR, linestyle=":", linewidth=1, gid="milestone:status_update",
                       zorder=1)
            continue
        ax.axvline(m["timestamp"], color=MILESTONE_COLOR, linewidth=1.6, gid=f"milestone:{kind}", zorder=1)
        ax.annotate(_MILESTONES.get(kind, kind), (m["timestamp"], 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, 2), textcoords="offset points", rotation=45, fontsize=8, color=MILESTONE_COLOR,
                    va="bottom", ha="left", annotation_clip=False)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(len(lanes) - 0.5, -0.5) if lanes else ax.set_ylim(0.5, -0.5)
    _time_axis(ax, _span(window, frame["timestamp"]))
    ax.set_xlabel("UTC")
    heading = title or (f"{incident_id}: timeline by service" if incident_id else "Timeline by service")
    ax.set_title(heading, loc="left", pad=38)

    kinds_present = [k for k in KIND_MARKERS if k in set(lanes_ev["kind"])]
    handles: list[Any] = [
        Line2D([], [], marker=KIND_MARKERS[k], linestyle="none", color="#bbbbbb", markeredgecolor="black",
               markersize=8, label=k.replace("_", " "))
        for k in kinds_present
    ]
    handles += [Patch(color=c, label=s) for s, c in SEVERITY_COLORS.items()]
    if not lanes_ev[lanes_ev["kind"] == "deploy"].empty:
        handles.append(Line2D([], [], color=DEPLOY_COLOR, linestyle="--", label="deploy time"))
    if not people.empty:
        handles.append(Line2D([], [], color=MILESTONE_COLOR, label="incident milestone"))
        handles.append(Line2D([], [], color=MILESTONE_COLOR, linestyle=":", label="status update"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 7), fontsize=8, frameon=False)
    if lanes_ev.empty:
        ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", va="center", color="#777777")
    return fig


# ------------------------------------------------------------------ metric panels
def _units() -> dict[str, str]:
    from .model.catalogue import catalogue

    return {name: entry.unit for name, entry in catalogue().items()}


def metric_panels(
    metrics: EvidenceBundle | pd.DataFrame,
    *,
    breaches: pd.DataFrame | None = None,
    deploys: pd.DataFrame | None = None,
    window: TimeWindow | None = None,
    names: Sequence[str] | None = None,
) -> Figure:
    """One panel per metric (catalogue entry ``name``, else query), one line per
    series coloured by service; breach intervals shaded in their severity colour
    with the rule's threshold as a dashed line; deploys as grey dashed lines.

    ``metrics`` is a METRICS frame or a bundle (then ``breaches`` default to the
    bundle's :func:`~eafix_forensics.analysis.timeline.bundle_breaches` and
    ``deploys`` to its deploy events). ``names`` picks and orders the panels
    (default: every metric, those with breaches first). Shaded spans carry
    ``gid="breach:<name>:<rule>"``, deploy lines ``deploy:<sha>``.
    """
    from .bundle import EvidenceBundle

    incident_id = ""
    if isinstance(metrics, EvidenceBundle):
        from .analysis.changes import bundle_events as deploy_events
        from .analysis.timeline import bundle_breaches

        bundle = metrics
        metrics = bundle.table("metrics")
        breaches = bundle_breaches(bundle) if breaches is None else breaches
        deploys = deploy_events(bundle) if deploys is None else deploys
        window = window or bundle.window
        incident_id = bundle.incident_id
    key = "name" if "name" in metrics.columns else "query"
    # Samples without a time cannot be drawn; they stay in the bundle and its tables.
    metrics = metrics[metrics["timestamp"].notna()] if "timestamp" in metrics.columns else metrics.iloc[0:0]
    present = list(dict.fromkeys(str(n) for n in metrics[key].dropna())) if len(metrics) else []
    if names is None:
        breached = list(dict.fromkeys(str(n) for n in breaches["name"])) if breaches is not None and len(breaches) else []
        names = [n for n in breached if n in present] + [n for n in present if n not in breached]
    names = [n for n in names if n in present]
    fig = _figure(12, 0.6 + 2.3 * max(len(names), 1))
    if not names:
        no_data(fig.add_subplot(), "no metrics in this bundle")
        return fig
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    units = _units()
    services = sorted({str(s) for s in metrics.get("service", pd.Series(dtype=object)).dropna()})
    colour = {s: SERVICE_COLORS[i % len(SERVICE_COLORS)] for i, s in enumerate(services)}
    for ax, name in zip(axes, names, strict=True):
        rows = metrics[metrics[key] == name]
        for j, (series, g) in enumerate(rows.sort_values("timestamp").groupby("series", sort=True)):
            svc = g["service"].iloc[0] if "service" in g.columns else None
            label = str(svc) if isinstance(svc, str) and svc else str(series)
            ax.plot(g["timestamp"], g["value"], linewidth=1.4, label=label,
                    color=colour.get(label, SERVICE_COLORS[j % len(SERVICE_COLORS)]), zorder=2)
        if breaches is not None and len(breaches):
            for b in breaches[breaches["name"] == name].itertuples(index=False):
                ax.axvspan(b.start, b.end, color=SEVERITY_COLORS.get(str(b.severity), "#999999"), alpha=0.18,
                           gid=f"breach:{name}:{b.rule}", zorder=0, linewidth=0)
            for rule in breaches[breaches["name"] == name].drop_duplicates("rule").itertuples(index=False):
                ax.axhline(rule.threshold, color=SEVERITY_COLORS.get(str(rule.severity), "#999999"),
                           linestyle="--", linewidth=0.9, gid=f"threshold:{name}:{rule.rule}", zorder=1)
                ax.annotate(f"{rule.rule} {rule.op} {rule.threshold:g}", (1.0, rule.threshold),
                            xycoords=("axes fraction", "data"), xytext=(-4, 2), textcoords="offset points",
                            ha="right", va="bottom", fontsize=7, color=SEVERITY_COLORS.get(str(rule.severity)))
        _deploy_lines(ax, deploys, label_top=ax is axes[0])
        ax.set_title(name, loc="left", fontsize=10)
        if units.get(name):
            ax.set_ylabel(units[name], fontsize=9)
        ax.margins(y=0.15)
        values = rows["value"].dropna()
        if len(values) and values.isin((0.0, 1.0)).all():
            # A 0/1 series (up): keep both states on the axis so "down" is visible as a drop.
            ax.set_ylim(-0.15, 1.25)
            ax.set_yticks([0, 1], ["0 (down)", "1 (up)"])
        if rows["series"].nunique() <= 8:
            # Outside the axes: inside, it hides data or the deploy label wherever it goes.
            _dedupe_legend(ax, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)
        _time_axis(ax, _span(window, metrics["timestamp"]))
    axes[-1].set_xlabel("UTC")
    if incident_id:
        fig.suptitle(f"{incident_id}: metrics, breaches shaded (orange warning, red critical), deploys dashed",
                     x=0.01, ha="left", fontsize=11)
    return fig


# ------------------------------------------------------------------ error rate
def error_rate_by_service(
    logs: EvidenceBundle | pd.DataFrame,
    *,
    freq: str = "1m",
    window: TimeWindow | None = None,
    deploys: pd.DataFrame | None = None,
) -> Figure:
    """Warnings and errors per ``freq`` bucket, one panel per service that logged any
    (the y label names it): ERROR/CRITICAL lines in the critical colour, WARNING
    lines in the warning colour, stacked; deploys as grey dashed lines.

    ``logs`` is a LOGS frame or a bundle (then ``deploys`` default to its deploy
    events). Bars carry ``gid="errors:<service>"`` and ``warnings:<service>"``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    from .bundle import EvidenceBundle

    incident_id = ""
    if isinstance(logs, EvidenceBundle):
        from .analysis.changes import bundle_events as deploy_events

        bundle = logs
        logs = bundle.table("logs")
        deploys = deploy_events(bundle) if deploys is None else deploys
        window = window or bundle.window
        incident_id = bundle.incident_id
    step = parse_duration(freq)
    noisy = logs[logs["level"].isin(list(LEVEL_SEVERITY)) & logs["timestamp"].notna()] if len(logs) else logs
    services = sorted(set(noisy["service"].dropna())) if len(noisy) else []
    fig = _figure(12, 0.8 + 1.3 * max(len(services), 1))
    if not services:
        no_data(fig.add_subplot(), "no warnings or errors in the logs")
        return fig
    axes = fig.subplots(len(services), 1, sharex=True, squeeze=False)[:, 0]
    width = step / pd.Timedelta(days=1)  # bar widths are in days on a date axis
    for ax, svc in zip(axes, services, strict=True):
        rows = noisy[noisy["service"] == svc]
        bucket = rows["timestamp"].dt.floor(step)
        errors = bucket[rows["level"].isin(("ERROR", "CRITICAL"))].value_counts().sort_index()
        warnings = bucket[rows["level"] == "WARNING"].value_counts().sort_index()
        if len(errors):
            ax.bar(errors.index, errors.to_numpy(), width=width, align="edge", color=SEVERITY_COLORS["critical"],
                   label="errors", gid=f"errors:{svc}")
        if len(warnings):
            base = errors.reindex(warnings.index, fill_value=0).to_numpy()
            ax.bar(warnings.index, warnings.to_numpy(), width=width, align="edge", bottom=base,
                   color=SEVERITY_COLORS["warning"], label="warnings", gid=f"warnings:{svc}")
        _deploy_lines(ax, deploys, label_top=ax is axes[0])
        ax.set_ylabel(svc, rotation=0, ha="right", va="center", fontsize=9)
        ax.margins(y=0.2)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        _time_axis(ax, _span(window, logs["timestamp"]))
    axes[-1].set_xlabel(f"UTC (lines per {freq})")
    handles: list[Any] = [Patch(color=SEVERITY_COLORS["critical"], label="ERROR / CRITICAL lines"),
                          Patch(color=SEVERITY_COLORS["warning"], label="WARNING lines")]
    if deploys is not None and len(deploys):
        handles.append(Line2D([], [], color=DEPLOY_COLOR, linestyle="--", label="deploy"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    heading = f"{incident_id}: " if incident_id else ""
    fig.suptitle(f"{heading}warnings and errors per {freq} by service", x=0.01, ha="left", fontsize=11)
    return fig
