"""Interactive figures for exploring a bundle in JupyterLab (the ``[interactive]`` extra).

``pip install 'eafix-forensics[interactive]'`` brings plotly; JupyterLab then draws these
figures through the extension plotly's wheel ships (plotly.js inside it: no CDN, no
network, nothing to trust). Reports stay static (:mod:`eafix_forensics.plots`).

- :func:`swimlane`: the timeline, one lane per service; hover shows the event's kind,
  severity, time, summary and its evidence ref (``logs:<file>:<line>``, a commit sha…);
  drag to zoom on time (lanes stay put), double-click to zoom out.
- :func:`metric_panels`: one panel per metric, time shared; breaches shaded, each
  breach's peak a marker whose hover gives the breach summary and its ref.

Colours and shapes are those of the static figures. Without plotly, each function
returns the static figure of :mod:`~eafix_forensics.plots` and warns once how to get
the interactive one.
"""

from __future__ import annotations

import html
import textwrap
import warnings
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import plots
from .analysis.changes import bundle_events as deploy_events
from .analysis.suspects import bundle_services
from .analysis.timeline import MILESTONE_KINDS, bundle_breaches, timeline
from .bundle import EvidenceBundle
from .model.catalogue import catalogue

try:  # ~0.08 s: plotly.graph_objects loads its figure classes with the first figure (~0.2 s)
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
except ImportError:  # the [interactive] extra is not installed
    go = None

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

__all__ = ["available", "metric_panels", "swimlane"]

# matplotlib marker -> plotly symbol, for the shapes of plots.KIND_MARKERS
_SYMBOLS = {"X": "x", "s": "square", "^": "triangle-up", "D": "diamond", "P": "cross", "v": "triangle-down",
            "*": "star", "o": "circle"}
_HOVER_WIDTH = 90
_MILESTONE_NAMES = {"incident_triggered": "triggered", "acknowledged": "acknowledged", "responded": "responded",
                    "resolved": "resolved", "status_update": "update"}


def available() -> bool:
    """Whether plotly is installed (``pip install 'eafix-forensics[interactive]'``)."""
    return go is not None


def _static(name: str) -> None:
    warnings.warn(f"ef.interactive.{name}: plotly is not installed, showing the static figure "
                  "(pip install 'eafix-forensics[interactive]' for zoom and hover)", stacklevel=3)


def _text(value: Any) -> str:
    """Hover text: escaped (plotly.js reads a few HTML tags in labels) and wrapped."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    lines = textwrap.wrap(str(value), _HOVER_WIDTH, max_lines=6, placeholder=" …") or [""]
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def _layout(fig: Figure, title: str, height: int, *, top: int = 70) -> None:
    fig.update_layout(
        title={"text": html.escape(title, quote=False), "x": 0.01, "xanchor": "left", "y": 1.0, "yanchor": "top",
               "pad": {"t": 12}},
        height=height + top, template="plotly_white", hovermode="closest", dragmode="zoom",
        margin={"l": 10, "r": 90, "t": top, "b": 40}, legend={"orientation": "h", "y": -0.12},
    )


def _vlines(fig: Figure, events: pd.DataFrame, *, label: bool) -> None:
    """Deploys (grey dashed) and incident milestones (green) as vertical lines across the
    figure; with ``label``, one slanted label per minute above the plot naming them all."""
    labels: dict[pd.Timestamp, list[tuple[str, str]]] = {}
    for e in events.sort_values("timestamp", kind="stable").itertuples(index=False):
        kind = str(e.kind)
        deploy = kind == "deploy"
        colour = plots.DEPLOY_COLOR if deploy else plots.MILESTONE_COLOR
        fig.add_vline(x=e.timestamp, line_dash="dash" if deploy else ("dot" if kind == "status_update" else "solid"),
                      line_color=colour, line_width=1.2)
        name = f"deploy {e.service}" if deploy and isinstance(e.service, str) else _MILESTONE_NAMES.get(kind, kind)
        at = next((t for t in labels if abs(t - e.timestamp) < pd.Timedelta(minutes=1)), e.timestamp)
        labels.setdefault(at, []).append((name, colour))
    for at, names in labels.items() if label else ():
        text = " + ".join(dict.fromkeys(n for n, _ in names))
        fig.add_annotation(x=at, y=1.0, xref="x", yref="paper", yanchor="bottom", xanchor="left", showarrow=False,
                           text=html.escape(text, quote=False), textangle=-30, font={"size": 10, "color": names[0][1]})


def swimlane(events: EvidenceBundle | pd.DataFrame, *, title: str | None = None) -> Any:
    """The timeline as interactive swimlanes: one lane per service (the one that failed
    first on top, quiet services of the bundle too), one marker per event — shape by
    kind, colour by severity as in :func:`eafix_forensics.plots.swimlane_timeline` —,
    deploys and incident milestones as vertical lines, the incident period shaded.

    Hover a marker for its kind, severity, time, summary and ``ref`` (where in the
    evidence it comes from). Drag to zoom on time, double-click to zoom out.
    ``events`` is a bundle or a TIMELINE frame. Returns a plotly Figure.
    """
    if go is None:
        _static("swimlane")
        return plots.swimlane_timeline(events, title=title)
    bundle = events if isinstance(events, EvidenceBundle) else None
    frame: pd.DataFrame = timeline(events) if isinstance(events, EvidenceBundle) else events
    frame = frame[frame["timestamp"].notna()]
    lanes_ev = frame[~frame["kind"].isin(MILESTONE_KINDS)].copy()
    lanes_ev["lane"] = lanes_ev["service"].astype(object).map(lambda s: s if isinstance(s, str) and s else "(no service)")
    lanes = plots._lanes(lanes_ev, bundle_services(bundle) if bundle is not None else [])
    incident_id = bundle.incident_id if bundle is not None else ""
    fig = go.Figure()
    context = plots._incident_context(bundle) if bundle is not None else None
    if context and context.get("period") is not None:
        start, end = context["period"]
        fig.add_vrect(x0=start, x1=end, fillcolor="#000000", opacity=0.05, line_width=0, layer="below")
    for sev, colour in plots.SEVERITY_COLORS.items():
        g = lanes_ev[lanes_ev["severity"].astype(object) == sev]
        if g.empty:
            continue
        hover = [
            f"<b>{_text(k)}</b> ({sev}) on {_text(lane)}<br>{ts:%Y-%m-%d %H:%M:%S} UTC<br>{_text(s)}"
            f"<br><i>ref</i> {_text(r) or '—'}"
            for k, lane, ts, s, r in zip(g["kind"], g["lane"], g["timestamp"], g["summary"], g["ref"], strict=True)
        ]
        fig.add_trace(go.Scatter(
            x=g["timestamp"], y=g["lane"], mode="markers", name=sev,
            marker={"color": colour, "size": 11, "line": {"color": "black", "width": 0.6},
                    "symbol": [_SYMBOLS.get(plots.KIND_MARKERS.get(str(k), "o"), "circle") for k in g["kind"]]},
            hovertext=hover, hoverinfo="text", hoverlabel={"align": "left"},
        ))
    _vlines(fig, frame[(frame["kind"] == "deploy") | frame["kind"].isin(MILESTONE_KINDS)], label=True)
    heading = title or (f"{incident_id}: timeline by service" if incident_id else "Timeline by service")
    _layout(fig, heading, 160 + 42 * max(len(lanes), 1), top=150)
    fig.update_yaxes(categoryorder="array", categoryarray=lanes[::-1], fixedrange=True, title=None)
    fig.update_xaxes(title="UTC", showspikes=True, spikemode="across", spikethickness=1)
    if bundle is not None:
        fig.update_xaxes(range=[bundle.window.start, bundle.window.end])
    if not len(lanes_ev):
        fig.add_annotation(text="no events", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def metric_panels(bundle: EvidenceBundle, *, names: list[str] | None = None) -> Any:
    """One panel per metric of ``bundle`` (those with breaches first), time shared:
    a line per series (hover: series, time, value), each breach shaded in its severity
    colour with its threshold dashed, and a marker at its peak whose hover gives the
    breach's summary and ref (``metrics:<name>:<series>``); deploys as grey dashed lines.
    Drag to zoom on time (every panel follows). Returns a plotly Figure."""
    if go is None:
        _static("metric_panels")
        return plots.metric_panels(bundle, names=names)
    metrics = bundle.table("metrics")
    metrics = metrics[metrics["timestamp"].notna()]
    breaches = bundle_breaches(bundle)
    key = "name" if "name" in metrics.columns else "query"
    panels = plots._panel_names(metrics, key, breaches, names)
    if not panels:
        fig = go.Figure()
        fig.add_annotation(text="no metrics in this bundle", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        _layout(fig, f"{bundle.incident_id}: metrics", 200)
        return fig
    units = {n: e.unit for n, e in catalogue().items()}
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.25 / len(panels),
                        subplot_titles=[html.escape(f"{n} ({units[n]})" if units.get(n) else n, quote=False)
                                        for n in panels])
    colours = plots.SERVICE_COLORS
    for row, name in enumerate(panels, start=1):
        rows = metrics[metrics[key] == name].sort_values("timestamp", kind="stable")
        for j, (series, g) in enumerate(rows.groupby("series", sort=True)):
            svc = g["service"].iloc[0] if "service" in g.columns else None
            label = str(svc) if isinstance(svc, str) and svc else str(series)
            fig.add_trace(go.Scatter(
                x=g["timestamp"], y=g["value"], mode="lines", name=html.escape(label, quote=False),
                line={"color": colours[j % len(colours)], "width": 1.6}, legendgroup=name, showlegend=False,
                hovertemplate=f"{_text(series)}<br>%{{x|%H:%M:%S}} UTC: %{{y:.4g}}<extra>{_text(name)}</extra>",
            ), row=row, col=1)
        _breaches(fig, breaches[breaches["name"] == name] if len(breaches) else breaches, row, units.get(name, ""))
    deploys = deploy_events(bundle)
    for d in deploys[deploys["timestamp"].notna()].itertuples(index=False):
        fig.add_vline(x=d.timestamp, line_dash="dash", line_color=plots.DEPLOY_COLOR, line_width=1.2)
    _layout(fig, f"{bundle.incident_id}: metrics (UTC)", 120 + 210 * len(panels))
    fig.update_xaxes(range=[bundle.window.start, bundle.window.end], showspikes=True, spikemode="across")
    fig.update_xaxes(title="UTC", row=len(panels), col=1)
    fig.update_yaxes(fixedrange=True)
    return fig


def _breaches(fig: Figure, mine: pd.DataFrame, row: int, unit: str) -> None:
    """One metric's breaches on panel ``row``: shaded spans, dashed thresholds, peak markers."""
    for b in mine.itertuples(index=False):
        colour = plots.SEVERITY_COLORS.get(str(b.severity), "#999999")
        fig.add_vrect(x0=b.start, x1=b.end, fillcolor=colour, opacity=0.18, line_width=0, layer="below", row=row, col=1)
    for rule in mine.drop_duplicates("rule").itertuples(index=False):
        fig.add_hline(y=rule.threshold, line_dash="dash", line_width=1,
                      line_color=plots.SEVERITY_COLORS.get(str(rule.severity), "#999999"), row=row, col=1,
                      annotation_text=html.escape(f"{rule.rule} {rule.op} {rule.threshold:g} {unit}".rstrip(), quote=False),
                      annotation_position="top right", annotation_font_size=10)
    if not len(mine):
        return
    hover = [f"<b>breach</b> ({_text(b.severity)}) {_text(b.summary)}<br><i>ref</i> {_text(f'metrics:{b.name}:{b.series}')}"
             for b in mine.itertuples(index=False)]
    fig.add_trace(go.Scatter(
        x=mine["peak_at"], y=mine["peak"], mode="markers", name="breach peak", showlegend=False,
        marker={"symbol": "triangle-up", "size": 11, "line": {"color": "black", "width": 0.6},
                "color": [plots.SEVERITY_COLORS.get(str(s), "#999999") for s in mine["severity"]]},
        hovertext=hover, hoverinfo="text", hoverlabel={"align": "left"},
    ), row=row, col=1)
