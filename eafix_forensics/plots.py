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

import io
import re
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .analysis.changes import bundle_events as deploy_events
from .analysis.key_times import key_times
from .analysis.suspects import bundle_services
from .analysis.timeline import MILESTONE_KINDS, bundle_breaches, timeline
from .bundle import EvidenceBundle
from .model.catalogue import catalogue
from .window import TimeWindow, parse_duration

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


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
    "new_warning": "d",
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
    # deferred: matplotlib costs ~0.3 s to import
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
        # deferred: IPython costs ~60 ms and is only needed inside a notebook
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with jupyterlab
        return
    ip = get_ipython()
    if ip is None:
        return
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib.figure import Figure

    png = ip.display_formatter.formatters["image/png"]
    if Figure not in png.type_printers:
        png.for_type(Figure, _figure_png)


# Figures are drawn at 100 px per inch of page width and rendered at twice that, so
# they stay sharp when a phone or a zoomed page shows them larger than 1:1 (1.6x: sharper costs
# render and export time for little gain).
PAGE_DPI = 100
RENDER_DPI = 160


def describe(fig: Figure, text: str) -> Figure:
    """Attach the alt text a report shows for ``fig`` (what the figure shows, in words).

    Also takes the plotted data out of the layout computation: it is clipped to its axes
    anyway, and measuring hundreds of bars or markers for the constrained layout made
    rendering a figure several times slower than drawing it.
    """
    fig.eafix_alt = text  # type: ignore[attr-defined]
    for ax in fig.axes:
        for artist in (*ax.patches, *ax.lines, *ax.collections, *ax.images):
            artist.set_in_layout(False)
    return fig


def _figure_png(fig: Figure) -> tuple[bytes, dict[str, Any]]:
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib import rc_context
    from matplotlib.text import Text

    buf = io.BytesIO()
    # Evidence is text, never mathtext: a service or label value like "a $^$ b" or "$\\x$" made
    # savefig raise (ParseFatalException) and cost the report. Tick labels are made while drawing.
    with rc_context({"text.parse_math": False}):
        for text in fig.findobj(Text):
            text.set_parse_math(False)
        fig.savefig(buf, format="png", dpi=RENDER_DPI)
    width, _ = fig.get_size_inches()
    meta = {"width": round(width * PAGE_DPI),
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
    return describe(fig, f"{bundle.incident_id}: warning and error log lines of {len(services)} services over the window, "
                         "commits dashed, incident milestones solid.")


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
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib.dates import AutoDateLocator, DateFormatter

    if span is not None:
        ax.set_xlim(span[0], span[1])
    locator = AutoDateLocator(minticks=5, maxticks=12)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz="UTC"))  # type: ignore[no-untyped-call]
    ax.grid(axis="x", alpha=0.3)


def _deploy_lines(ax: Axes, deploys: pd.DataFrame | None, *, label_top: bool,
                  span: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> None:
    """Grey dashed vertical lines at deploys (TIMELINE rows of kind deploy)."""
    if deploys is None or deploys.empty:
        return
    for _, d in deploys.iterrows():
        ts = d["timestamp"]
        if pd.isna(ts):
            continue
        ax.axvline(ts, color=DEPLOY_COLOR, linestyle="--", linewidth=1.2, gid=f"deploy:{d.get('ref')}",
                   label="deploy", zorder=1)
        if label_top and (span is None or span[0] <= ts <= span[1]):
            svc = d.get("service")
            text = f"deploy {svc}" if isinstance(svc, str) and svc else "deploy"
            # Inside the axes, so a long service name never pushes the layout around.
            ax.annotate(text, (ts, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3), in_layout=False,
                        textcoords="offset points", fontsize=7, color=DEPLOY_COLOR, va="top", ha="left",
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


def _series_label(series: str) -> str:
    """A legend label for a series without a service: its label values, wrapped (never cut)."""
    values = re.findall(r'="([^"]*)"', series)
    return "\n".join(textwrap.wrap(" / ".join(values) if values else series, 26)) or series


def _dedupe_legend(ax: Axes, *, only: set[str] | None = None, **kwargs: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    unique = {lab: h for lab, h in zip(labels, handles, strict=False) if only is None or lab in only}
    if unique:
        ax.legend(unique.values(), unique.keys(), **kwargs)


def _bundle_timeline(source: EvidenceBundle | pd.DataFrame) -> tuple[pd.DataFrame, TimeWindow | None, str]:
    if isinstance(source, EvidenceBundle):
        return timeline(source), source.window, source.incident_id
    return source, None, ""


# ------------------------------------------------------------------ incident context
MITIGATION_COLOR = "#1a7f37"
PERIOD_COLOR = "#444444"
BASELINE_COLOR = "#9e9e9e"
UP_COLOR = "#8fd19e"
NO_DATA_COLOR = "#e0e0e0"


def _incident_context(bundle: EvidenceBundle) -> dict[str, Any]:
    """First symptom, first error and mitigation of ``bundle`` (None when unknown)."""
    kt = key_times(bundle)
    return {"first_symptom": kt.first_symptom, "first_error": kt.first_error, "mitigation": kt.mitigation,
            "period": (kt.first_symptom, kt.mitigation or bundle.window.end) if kt.first_symptom is not None else None}


def _hhmm(ts: Any) -> str:
    return f"{pd.Timestamp(ts).tz_convert('UTC'):%H:%M}"


def _mark_period(ax: Axes, context: dict[str, Any] | None, *, label: bool) -> None:
    """The incident period as a dark bar along the top of the panel, the first error as a red dotted line."""
    if not context:
        return
    period = context.get("period")
    if period is not None:
        ax.axvspan(period[0], period[1], ymin=0.955, ymax=1.0, color=PERIOD_COLOR, linewidth=0, zorder=4,
                   gid="period", label="incident period (first symptom → mitigation)")
    err = context.get("first_error")
    if err is not None:
        ax.axvline(err, color=SEVERITY_COLORS["critical"], linestyle=":", linewidth=1.3, zorder=4,
                   gid="first_error", label=f"first error {_hhmm(err)}")
        if label:
            ax.annotate(f"first error {_hhmm(err)}", (err, 0.8), xycoords=("data", "axes fraction"), xytext=(3, 0),
                        in_layout=False,
                        textcoords="offset points", fontsize=7.5, color=SEVERITY_COLORS["critical"], va="top",
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


# ------------------------------------------------------------------ swimlanes
def _lanes(lanes_ev: pd.DataFrame, known: Sequence[str]) -> list[str]:
    """Lanes: services in the order they first show a symptom, then the other services
    with events by their first event, then every other service in the evidence."""
    first_bad = lanes_ev[lanes_ev["severity"].isin(("warning", "critical"))].groupby("lane")["timestamp"].min()
    first_any = lanes_ev.groupby("lane")["timestamp"].min()
    busy = sorted(first_any.index, key=lambda s: (s not in first_bad.index, first_bad.get(s, first_any[s]), s))
    return busy + sorted(set(known) - set(busy))


def _swimlane_legends(fig: Any, lanes_ev: pd.DataFrame, people: pd.DataFrame, context: dict[str, Any] | None) -> None:
    """Two small legends under the swimlane: event kind (shape), and severity (colour) with the lines."""
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    kinds_present = [k for k in KIND_MARKERS if k in set(lanes_ev["kind"])]
    kind_handles: list[Any] = [
        Line2D([], [], marker=KIND_MARKERS[k], linestyle="none", color="#bbbbbb", markeredgecolor="black",
               markersize=7, label=k.replace("_", " "))
        for k in kinds_present
    ]
    other: list[Any] = [Patch(color=c, label=s) for s, c in SEVERITY_COLORS.items()]
    if not lanes_ev[lanes_ev["kind"] == "deploy"].empty:
        other.append(Line2D([], [], color=DEPLOY_COLOR, linestyle="--", label="deploy"))
    if not people.empty:
        other.append(Line2D([], [], color=MILESTONE_COLOR, label="incident milestone"))
        other.append(Line2D([], [], color=MILESTONE_COLOR, linestyle=":", label="status update"))
    if context and context.get("mitigation") is not None:
        other.append(Line2D([], [], color=MITIGATION_COLOR, linestyle="-.", label="mitigated"))
    if kind_handles:
        fig.legend(handles=kind_handles, loc="outside lower left", ncols=min(len(kind_handles), 4), fontsize=7.5,
                   frameon=False, title="event kind (shape)", title_fontsize=7.5, alignment="left")
    fig.legend(handles=other, loc="outside lower right", ncols=min(len(other), 4), fontsize=7.5, frameon=False,
               title="severity (colour) and lines", title_fontsize=7.5, alignment="left")


def swimlane_timeline(
    events: EvidenceBundle | pd.DataFrame,
    *,
    window: TimeWindow | None = None,
    title: str | None = None,
) -> Figure:
    """The timeline as swimlanes: one lane per service (y tick labels, the service
    that failed first on top, then every other service in the evidence, quiet ones
    included), one marker per event — shape by kind (:data:`KIND_MARKERS`),
    colour by severity (:data:`SEVERITY_COLORS`), each explained in its own small
    legend — deploys as grey dashed vertical lines, incident milestones
    (triggered, acknowledged, responded, resolved) as green lines, status updates
    dotted and labelled with their status, and mitigation (the end of the last
    breach) as a dash-dot line with the incident period shaded under it.

    ``events`` is a TIMELINE frame or a bundle (its :func:`timeline`, over its window).
    Markers carry ``gid="kind:<kind>"``, deploy lines ``deploy:<ref>``, milestone
    lines ``milestone:<kind>``, the mitigation line ``mitigation``.
    """
    frame, bundle_window, incident_id = _bundle_timeline(events)
    context = _incident_context(events) if isinstance(events, EvidenceBundle) else None
    known: list[str] = []
    if isinstance(events, EvidenceBundle):
        known = bundle_services(events)
    window = window or bundle_window
    frame = frame[frame["timestamp"].notna()]
    people = frame[frame["kind"].isin(MILESTONE_KINDS)]
    lanes_ev = frame[~frame["kind"].isin(MILESTONE_KINDS)].copy()
    lanes_ev["lane"] = lanes_ev["service"].astype(object).map(lambda s: s if isinstance(s, str) and s else "(no service)")
    lanes = _lanes(lanes_ev, known)
    y = {lane: i for i, lane in enumerate(lanes)}

    fig = _figure(10, 2.6 + 0.42 * max(len(lanes), 1))
    ax = fig.add_subplot()
    for lane in lanes:
        if lane not in set(lanes_ev["lane"]):
            ax.axhline(y[lane], color="#dddddd", linewidth=0.8, zorder=0)
    if context and context.get("period") is not None:
        start, end = context["period"]
        ax.axvspan(start, end, color="#000000", alpha=0.045, linewidth=0, zorder=0, gid="period")
    for (kind, sev), g in lanes_ev.groupby(["kind", "severity"], sort=True):
        ax.scatter(g["timestamp"], g["lane"].map(y) + _LANE_OFFSET.get(str(kind), 0.0), marker=KIND_MARKERS.get(str(kind), "o"), s=70,
                   color=SEVERITY_COLORS.get(str(sev), "#999999"), edgecolors="black", linewidths=0.5,
                   zorder=3, gid=f"kind:{kind}")
    deploys = lanes_ev[lanes_ev["kind"] == "deploy"]
    # Deploy labels go in the row of labels above the plot, where they hide no marker.
    _deploy_lines(ax, deploys, label_top=False)
    labelled: list[tuple[pd.Timestamp, str]] = [
        (d.timestamp, f"deploy {d.service}" if isinstance(d.service, str) and d.service else "deploy")
        for d in deploys.itertuples(index=False)
    ]
    for _, m in people.iterrows():
        kind = str(m["kind"])
        if kind == "status_update":
            continue
        ax.axvline(m["timestamp"], color=MILESTONE_COLOR, linewidth=1.6, gid=f"milestone:{kind}", zorder=1)
        labelled.append((m["timestamp"], _MILESTONES.get(kind, kind)))
    for _, m in people[people["kind"] == "status_update"].iterrows():
        ax.axvline(m["timestamp"], color=MILESTONE_COLOR, linestyle=":", linewidth=1.1, gid="milestone:status_update",
                   zorder=1)
        status = str(m["summary"]).split(":", 1)[0] if isinstance(m["summary"], str) else "update"
        labelled.append((m["timestamp"], f"update: {status}"))
    if context and context.get("mitigation") is not None:
        ax.axvline(context["mitigation"], color=MITIGATION_COLOR, linestyle="-.", linewidth=1.6, gid="mitigation", zorder=1)
        labelled.append((context["mitigation"], "mitigated"))
    # One label per moment: a milestone and an update at the same minute share it.
    merged: dict[pd.Timestamp, list[str]] = {}
    for ts, text in sorted(labelled, key=lambda t: t[0]):
        key = next((k for k in merged if abs(k - ts) < pd.Timedelta(minutes=1)), ts)
        merged.setdefault(key, []).append(text)
    span = _span(window, frame["timestamp"])
    for ts, texts in merged.items():
        if span is not None and not span[0] <= ts <= span[1]:
            continue  # a change long before the window: in the table, not on this axis
        colour = DEPLOY_COLOR if all(t.startswith("deploy") for t in texts) else MILESTONE_COLOR
        ax.annotate(" + ".join(texts), (ts, 1.0), xycoords=("data", "axes fraction"), xytext=(2, 2), in_layout=False,
                    textcoords="offset points", rotation=40, fontsize=7.5, color=colour,
                    va="bottom", ha="left", annotation_clip=False)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(len(lanes) - 0.5, -0.5) if lanes else ax.set_ylim(0.5, -0.5)
    _time_axis(ax, span)
    ax.set_xlabel("UTC")
    heading = title or (f"{incident_id}: timeline by service" if incident_id else "Timeline by service")
    ax.set_title(heading, loc="left", pad=80 if merged else 8)

    _swimlane_legends(fig, lanes_ev, people, context)
    if lanes_ev.empty:
        ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", va="center", color="#777777")
    first = lanes_ev[lanes_ev["severity"].isin(("warning", "critical"))]["timestamp"]
    describe(fig, (f"Timeline of {incident_id or 'the incident'}: {len(lanes_ev)} events in {len(lanes)} service lanes "
                   f"({', '.join(lanes)})"
                   + (f"; first symptom {_hhmm(first.min())} UTC on {lanes[0]}" if len(first) else "")
                   + (f"; mitigated {_hhmm(context['mitigation'])} UTC" if context and context.get("mitigation") is not None else "")
                   + "."))
    return fig


# ------------------------------------------------------------------ metric panels
def _units() -> dict[str, str]:
    return {name: entry.unit for name, entry in catalogue().items()}


def _is_state(values: pd.Series) -> bool:
    v = values.dropna()
    return bool(len(v)) and bool(v.isin((0.0, 1.0)).all())


def _state_strip(ax: Axes, rows: pd.DataFrame, health: pd.DataFrame | None, span: tuple[pd.Timestamp, pd.Timestamp] | None,
                 step: pd.Timedelta) -> list[str]:
    """``up`` as one strip per service: green while up, red while down, grey without
    samples; failed health checks marked on the strip (at their time, or at the right
    edge "at collection" when they were taken after the window)."""
    key = rows["service"].astype(object).where(rows["service"].notna(), rows["series"].map(_series_label)) \
        if "service" in rows.columns else rows["series"].map(_series_label)
    rows = rows.assign(_lane=key.astype(str))
    services = sorted(set(rows["_lane"]))
    if health is not None and len(health):
        services = sorted(set(services) | {str(s) for s in health["service"].dropna()})
    for i, svc in enumerate(services):
        g = rows[rows["_lane"] == svc].sort_values("timestamp")
        if span is not None:
            ax.broken_barh([(span[0], span[1] - span[0])], (i - 0.35, 0.7), facecolors=NO_DATA_COLOR, zorder=1)
        if len(g):
            t = g["timestamp"].reset_index(drop=True)
            v = g["value"].reset_index(drop=True)
            run = (v != v.shift()).cumsum()
            for _, seg in pd.DataFrame({"t": t, "v": v, "run": run}).groupby("run"):
                start, end = seg["t"].iloc[0], seg["t"].iloc[-1] + step
                state = seg["v"].iloc[0]
                colour = UP_COLOR if state == 1 else SEVERITY_COLORS["critical"] if state == 0 else NO_DATA_COLOR
                ax.broken_barh([(start, end - start)], (i - 0.35, 0.7), facecolors=colour, zorder=2,
                               gid=f"up:{svc}:{'up' if state == 1 else 'down'}")
    if health is not None and len(health):
        for r in health.itertuples(index=False):
            status = str(getattr(r, "status", "")).lower()
            if status in ("ok", "", "nan") or str(r.service) not in services:
                continue
            i = services.index(str(r.service))
            at = pd.Timestamp(r.checked_at)
            code = getattr(r, "status_code", None)
            text = f"health {status}" + (f" (HTTP {int(code)})" if code is not None and not pd.isna(code) else "")
            if span is not None and not (span[0] <= at <= span[1]):
                at, text = span[1], f"{text} at collection {at:%H:%M}"
                ha, dx = "right", -4
            else:
                text = f"{text} {at:%H:%M}"
                ha, dx = "left", 6
            ax.scatter([at], [i], marker="v", s=60, color=SEVERITY_COLORS["critical"], edgecolors="black",
                       linewidths=0.6, zorder=5, gid=f"health:{r.service}")
            ax.annotate(text, (at, i), xytext=(dx, 0), textcoords="offset points", ha=ha, va="center", fontsize=7.5,
                        in_layout=False,
                        zorder=6, bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "#b00020"})
    ax.set_yticks(range(len(services)), services, fontsize=8)
    ax.set_ylim(len(services) - 0.5, -0.5)
    return services


def _common_legend(fig: Figure, axes: Any, *, title: str) -> None:
    """One legend on top for what the panels share: incident period, first error, baseline, deploy, breaches."""
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib.patches import Patch

    wanted = ("incident period", "first error", "baseline range", "deploy")
    found: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=False):
            key = next((w for w in wanted if lab.startswith(w)), None)
            if key and key not in found:
                found[key] = (h, lab)
    handles = [found[k][0] for k in wanted if k in found]
    labels = [found[k][1] for k in wanted if k in found]
    if any(p.get_gid() and str(p.get_gid()).startswith("breach:") for ax in axes for p in ax.patches):
        handles += [Patch(color=SEVERITY_COLORS["warning"], alpha=0.3), Patch(color=SEVERITY_COLORS["critical"], alpha=0.3)]
        labels += ["breach (warning)", "breach (critical)"]
    if handles:
        fig.legend(handles, labels, loc="outside upper left", ncols=min(len(handles), 3), fontsize=7.5, frameon=False,
                   title=title, title_fontsize=10, alignment="left")
    else:
        fig.suptitle(title, x=0.01, ha="left", fontsize=10)


def _baseline_band(ax: Any, base: pd.Series, name: str, unit: str) -> None:
    """The baseline's usual range (5th–95th percentile) as a labelled grey band."""
    if not len(base):
        return
    lo, hi = float(base.quantile(0.05)), float(base.quantile(0.95))
    # A flat baseline still shows as a band a little wider than the line.
    pad = max(abs(hi) * 0.15, 0.02) if hi - lo < max(abs(hi) * 0.1, 0.02) else 0.0
    ax.axhspan(lo - pad, hi + pad, color=BASELINE_COLOR, alpha=0.35, linewidth=0, zorder=0,
               gid=f"baseline:{name}", label="baseline range (5th–95th pct, before the window)")
    ax.annotate(f"baseline {lo:.3g}" + (f"–{hi:.3g}" if hi != lo else "") + f" {unit}".rstrip(),
                (0.0, hi + pad), xycoords=("axes fraction", "data"), xytext=(3, 2),
                textcoords="offset points", fontsize=7.5, color="#555555", va="bottom")


def _breach_marks(ax: Any, mine: pd.DataFrame, name: str, unit: str) -> str:
    """Shade ``mine`` (one metric's breaches) and draw each rule's threshold; returns the
    words the alt text adds ("; above degraded (> 1) 13:56–14:02")."""
    for b in mine.itertuples(index=False):
        ax.axvspan(b.start, b.end, color=SEVERITY_COLORS.get(str(b.severity), "#999999"), alpha=0.18,
                   gid=f"breach:{name}:{b.rule}", zorder=0, linewidth=0)
    for rule in mine.drop_duplicates("rule").itertuples(index=False):
        ax.axhline(rule.threshold, color=SEVERITY_COLORS.get(str(rule.severity), "#999999"),
                   linestyle="--", linewidth=0.9, gid=f"threshold:{name}:{rule.rule}", zorder=1)
        ax.annotate(f"{rule.rule} {rule.op} {rule.threshold:g} {unit}".rstrip(), (1.0, rule.threshold),
                    xycoords=("axes fraction", "data"), xytext=(-4, 2), textcoords="offset points",
                    ha="right", va="bottom", fontsize=7.5, color=SEVERITY_COLORS.get(str(rule.severity)))
    if not len(mine):
        return ""
    return "; above " + ", ".join(f"{r.rule} ({r.op} {r.threshold:g}) {_hhmm(r.start)}–{_hhmm(r.end)}"
                                  for r in mine.itertuples(index=False))


def _state_panel(ax: Any, name: str, rows: pd.DataFrame, health: pd.DataFrame | None, span: Any) -> str:
    """Draw a 0/1 metric as a per-service state strip; returns its alt-text words."""
    times = rows["timestamp"].drop_duplicates().sort_values()
    step = times.diff().median() if len(times) > 1 else pd.Timedelta(seconds=60)
    shown = _state_strip(ax, rows, health, span, step)
    down = sorted({str(s) for s in rows.loc[rows["value"] == 0, "service"].dropna()}) if "service" in rows.columns else []
    failed = sorted({str(r.service) for r in health.itertuples(index=False)
                     if str(getattr(r, "status", "ok")).lower() not in ("ok", "nan", "")}) if health is not None and len(health) else []
    return (f"{name}: {len(shown)} services, " + (f"down in Prometheus: {', '.join(down)}" if down else "all up in Prometheus")
            + (f"; health check failed: {', '.join(failed)}" if failed else ""))


def _panel_names(metrics: pd.DataFrame, key: str, breaches: pd.DataFrame | None,
                 names: Sequence[str] | None) -> list[str]:
    """The panels to draw, in order: ``names`` when given, else those with breaches first."""
    present = list(dict.fromkeys(str(n) for n in metrics[key].dropna())) if len(metrics) else []
    if names is None:
        breached = list(dict.fromkeys(str(n) for n in breaches["name"])) if breaches is not None and len(breaches) else []
        names = [n for n in breached if n in present] + [n for n in present if n not in breached]
    return [n for n in names if n in present]


def _byte_axis(ax: Any) -> None:
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib.ticker import EngFormatter

    ax.yaxis.set_major_formatter(EngFormatter(unit="B"))
    ax.set_ylabel("")


def metric_panels(
    metrics: EvidenceBundle | pd.DataFrame,
    *,
    breaches: pd.DataFrame | None = None,
    deploys: pd.DataFrame | None = None,
    window: TimeWindow | None = None,
    names: Sequence[str] | None = None,
    baseline: pd.DataFrame | None = None,
    health: pd.DataFrame | None = None,
) -> Figure:
    """One panel per metric (catalogue entry ``name``, else query), one line per
    series coloured by service; breach intervals shaded in their severity colour
    with the rule's threshold (and unit) as a dashed line; deploys as grey dashed
    lines; the baseline's usual range (5th–95th percentile of ``baseline``) as a
    grey band; the PromQL under each panel. A 0/1 metric (``up``) is drawn as a
    state strip, one row per service, with failed health checks marked on it.

    ``metrics`` is a METRICS frame or a bundle (then ``breaches``, ``deploys``,
    ``baseline`` and ``health`` default to the bundle's, and the incident period
    and first error are marked on every panel). ``names`` picks and orders the
    panels (default: every metric, those with breaches first). Shaded spans carry
    ``gid="breach:<name>:<rule>"``, deploy lines ``deploy:<sha>``, baseline bands
    ``baseline:<name>``, state bars ``up:<service>:up|down``.
    """
    incident_id = ""
    context = None
    if isinstance(metrics, EvidenceBundle):
        bundle = metrics
        metrics = bundle.table("metrics")
        breaches = bundle_breaches(bundle) if breaches is None else breaches
        deploys = deploy_events(bundle) if deploys is None else deploys
        if baseline is None and bundle.has("metrics_baseline"):
            baseline = bundle.table("metrics_baseline")
        if health is None and bundle.has("health"):
            health = bundle.table("health")
        window = window or bundle.window
        incident_id = bundle.incident_id
        context = _incident_context(bundle)
    key = "name" if "name" in metrics.columns else "query"
    # Samples without a time cannot be drawn; they stay in the bundle and its tables.
    metrics = metrics[metrics["timestamp"].notna()] if "timestamp" in metrics.columns else metrics.iloc[0:0]
    names = _panel_names(metrics, key, breaches, names)
    if not names:
        fig = _figure(10, 2.0)
        no_data(fig.add_subplot(), "no metrics in this bundle")
        return describe(fig, "No metrics in this bundle.")
    states = {n: _is_state(metrics.loc[metrics[key] == n, "value"]) for n in names}
    n_rows = {n: max(metrics.loc[metrics[key] == n, "series"].nunique(), 1) for n in names}
    heights = [0.45 + 0.3 * n_rows[n] if states[n] else 2.1 for n in names]
    fig = _figure(10, 0.9 + sum(heights) + 0.35 * len(names))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
    units = _units()
    services = sorted({str(s) for s in metrics.get("service", pd.Series(dtype=object)).dropna()})
    colour = {s: SERVICE_COLORS[i % len(SERVICE_COLORS)] for i, s in enumerate(services)}
    span = _span(window, metrics["timestamp"])
    described: list[str] = []
    for ax, name in zip(axes, names, strict=True):
        rows = metrics[metrics[key] == name]
        unit = units.get(name, "")
        query = str(rows["query"].iloc[0]) if "query" in rows.columns and len(rows) else ""
        if states[name]:
            described.append(_state_panel(ax, name, rows, health, span))
        else:
            # A band is read against one or two lines; across a dozen series it says nothing.
            if baseline is not None and len(baseline) and key in baseline.columns and rows["series"].nunique() <= 2:
                _baseline_band(ax, baseline.loc[baseline[key] == name, "value"].dropna(), name, unit)
            for j, (series, g) in enumerate(rows.sort_values("timestamp").groupby("series", sort=True)):
                svc = g["service"].iloc[0] if "service" in g.columns else None
                label = str(svc) if isinstance(svc, str) and svc else _series_label(str(series))
                ax.plot(g["timestamp"], g["value"], linewidth=1.4, label=label,
                        color=colour.get(label, SERVICE_COLORS[j % len(SERVICE_COLORS)]), zorder=2)
            summary = f"{name}: peak {rows['value'].max():.3g} {unit}".rstrip()
            if breaches is not None and len(breaches):
                summary += _breach_marks(ax, breaches[breaches["name"] == name], name, unit)
            described.append(summary)
            if unit:
                ax.set_ylabel(unit, fontsize=9)
            ax.margins(y=0.15)
        _deploy_lines(ax, deploys, label_top=ax is axes[0], span=span)
        _mark_period(ax, context, label=ax is axes[0])
        ax.set_title(name, loc="left", fontsize=10, fontweight="bold")
        if query:
            ax.set_xlabel("\n".join(textwrap.wrap(query, 130)), fontsize=7, family="monospace", loc="left",
                          color="#444444")
        if not states[name] and rows["series"].nunique() <= 8:
            # Outside the axes: inside, it hides data or the deploy label wherever it goes. Only the
            # series here: what every panel shares (baseline, deploy, period) is explained once, on top.
            series_labels = {ln.get_label() for ln in ax.lines if not ln.get_gid()}
            _dedupe_legend(ax, only=series_labels, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7,
                           frameon=False)
        if unit in ("bytes", "B"):
            _byte_axis(ax)
        _time_axis(ax, span)
        ax.tick_params(axis="x", labelbottom=True)
    _common_legend(fig, axes, title=f"{incident_id}: metrics (UTC)" if incident_id else "metrics (UTC)")
    describe(fig, f"{len(names)} metric panels for {incident_id or 'the evidence'}: " + "; ".join(described) + ".")
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
    # deferred: matplotlib costs ~0.3 s to import
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    incident_id = ""
    context = None
    if isinstance(logs, EvidenceBundle):
        bundle = logs
        logs = bundle.table("logs")
        deploys = deploy_events(bundle) if deploys is None else deploys
        window = window or bundle.window
        incident_id = bundle.incident_id
        context = _incident_context(bundle)
    step = parse_duration(freq)
    noisy = logs[logs["level"].isin(list(LEVEL_SEVERITY)) & logs["timestamp"].notna()] if len(logs) else logs
    services = sorted(set(noisy["service"].dropna())) if len(noisy) else []
    fig = _figure(10, 1.0 + 1.15 * max(len(services), 1))
    if not services:
        no_data(fig.add_subplot(), "no warnings or errors in the logs")
        return describe(fig, "No warnings or errors in the logs.")
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
        _deploy_lines(ax, deploys, label_top=ax is axes[0], span=_span(window, logs["timestamp"]))
        _mark_period(ax, context, label=ax is axes[0])
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
    counts = []
    for svc in services:
        rows = noisy[noisy["service"] == svc]
        n_err = int(rows["level"].isin(("ERROR", "CRITICAL")).sum())
        counts.append(f"{svc} {n_err:,} errors, {int((rows['level'] == 'WARNING').sum()):,} warnings")
    return describe(fig, f"Warnings and errors per {freq} for {len(services)} services: " + "; ".join(counts) + ".")
