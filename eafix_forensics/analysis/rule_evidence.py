"""The evidence the severity rules read (:class:`SeverityEvidence`), taken from a bundle,
and the helpers the rules share: metric runs, down periods, market hours.

Every market-hours question is asked about the incident's time: a down period's own
times, a health check's time (a check made after the window stands for the window's
end), never the time the evidence was collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..bundle import bundle_config
from ..config import Config
from ..model import tables as schemas
from ..model.catalogue import catalogue
from ..model.topology import normalize_service
from ..window import TimeWindow
from . import database
from .calendar import TradingCalendar
from .health import LIVE_CHECK_GRACE
from .logs import error_bursts
from .metrics import breaches, bundle_baseline, bundle_calendar, series_service, shared_jobs
from .timeline import bundle_breaches

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["SeverityEvidence", "down_periods", "severity_evidence"]

_DOWN = ("down", "unreachable")
_USABLE = ("ok", "empty", "truncated")


@dataclass
class SeverityEvidence:
    """What the rules read, taken from a bundle by :func:`severity_evidence`.

    A table that is None is unknown (its source was missing or unavailable),
    which no rule reads as "all is well" nor as a failure.

    - ``metrics``: METRICS rows with a ``name`` column (catalogue entry) and labels;
    - ``health``: the health table (service, status, checked_at, …);
    - ``signals``: signals (timestamp, latency_ms); ``reconcile``: reconciliation rows
      (status match/mismatch) and ``reconcile_status`` its manifest status;
    - ``logs``: LOGS rows; ``incident_title``: the incident record's title;
    - ``tables``: manifest entries by table name (source, status, error, details);
    - ``critical``: service → on the trading path (``[services.NAME] critical``);
    - ``breaches``: baseline-aware metric breaches (chronic ones flagged);
      ``executions``: the window's executions; ``bursts``: error bursts of the logs;
    - ``at_collection``: live checks made long after the window, in words (they grade nothing).
    """

    window: TimeWindow | None = None
    metrics: pd.DataFrame = field(default_factory=lambda: schemas.empty("metrics"))
    health: pd.DataFrame | None = None
    signals: pd.DataFrame | None = None
    reconcile: pd.DataFrame | None = None
    reconcile_status: str = "missing"
    logs: pd.DataFrame | None = None
    incident_title: str = ""
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    critical: dict[str, bool] = field(default_factory=dict)
    breaches: pd.DataFrame | None = None
    baseline: pd.DataFrame | None = None
    database: pd.DataFrame | None = None
    executions: pd.DataFrame | None = None
    bursts: pd.DataFrame | None = None
    at_collection: list[str] = field(default_factory=list)

    def is_critical(self, service: str) -> bool:
        # Unknown services count as on the trading path: under-paging is the costlier mistake.
        if service in self.critical:
            return self.critical[service]
        norm = "-".join(service.strip().lower().replace("_", "-").split())
        return next((c for s, c in self.critical.items() if "-".join(s.lower().replace("_", "-").split()) == norm), True)


def _usable(bundle: EvidenceBundle, name: str) -> pd.DataFrame | None:
    return bundle.table(name) if bundle.status(name) in _USABLE else None


def _live(frame: pd.DataFrame | None, column: str, window: TimeWindow, what: str) -> tuple[pd.DataFrame | None, list[str]]:
    """The rows of a live check made during the incident, and the late ones in words."""
    if frame is None or not len(frame) or column not in frame.columns:
        return frame, []
    late_mask = (frame[column] > window.end + LIVE_CHECK_GRACE).fillna(False).to_numpy(dtype=bool)
    if not late_mask.any():
        return frame, []
    notes = []
    for _, r in frame[late_mask].iterrows():
        status = str(r.get("status") or "").lower()
        if status and status not in ("ok", "match", "healthy"):
            notes.append(f"{r.get('service') or what} {status} in the {what} at collection "
                         f"{r[column]:%Y-%m-%d %H:%M} UTC (still {status} now; not graded)")
    return frame[~late_mask], notes


def severity_evidence(bundle: EvidenceBundle, config: Config | None = None) -> SeverityEvidence:
    """The :class:`SeverityEvidence` of ``bundle`` (``config`` default: the bundle's own)."""
    cfg = config if config is not None else bundle_config(bundle)
    health_all = _usable(bundle, "health")
    critical: dict[str, bool] = {}
    if health_all is not None and "critical" in health_all.columns:
        for svc, flag in zip(health_all["service"], health_all["critical"], strict=True):
            if isinstance(svc, str) and not pd.isna(flag):
                critical[svc] = bool(flag)
    critical.update({name: svc.critical for name, svc in cfg.services.items()})
    health, late_health = _live(health_all, "checked_at", bundle.window, "health check")
    reconcile, late_reconcile = _live(_usable(bundle, "reconcile"), "checked_at", bundle.window, "reconciliation")
    incident = _usable(bundle, "incident")
    title = ""
    if incident is not None and len(incident) and "title" in incident.columns:
        t = incident["title"].iloc[0]
        title = "" if pd.isna(t) else str(t)
    metrics = _usable(bundle, "metrics")
    executions = _usable(bundle, "executions")
    if executions is not None and len(executions) and "timestamp" in executions.columns:
        ts = executions["timestamp"]
        executions = executions[ts.isna() | bundle.window.mask(ts)]
    logs = _usable(bundle, "logs")
    try:
        found = bundle_breaches(bundle, cfg) if metrics is not None and len(metrics) else None
    except Exception:  # noqa: BLE001 - a breach computation failing must not lose the other rules
        found = None
    reconcile_status = bundle.status("reconcile")
    collected = pd.Timestamp(bundle.manifest["collected_at"]) if bundle.manifest.get("collected_at") else None
    if reconcile_status == "unavailable" and collected is not None and collected > bundle.window.end + LIVE_CHECK_GRACE:
        reconcile_status = "unavailable at collection"
    return SeverityEvidence(
        window=bundle.window,
        metrics=metrics if metrics is not None else schemas.empty("metrics"),
        health=health,
        signals=_usable(bundle, "signals"),
        reconcile=reconcile,
        reconcile_status=reconcile_status,
        logs=logs,
        incident_title=title,
        tables={k: dict(v) for k, v in bundle.manifest.get("tables", {}).items()},
        critical=critical,
        breaches=found,
        baseline=bundle_baseline(bundle),
        database=database.bundle_events(bundle),
        executions=executions,
        bursts=error_bursts(logs) if logs is not None and len(logs) else None,
        at_collection=late_health + late_reconcile,
    )


# ------------------------------------------------------------------ helpers
def _hm(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d %H:%M}"


def _series(ev: SeverityEvidence, name: str) -> pd.DataFrame:
    """Metric rows of catalogue entry ``name`` (by the ``name`` column, else its query)."""
    m = ev.metrics
    if m is None or m.empty:
        return m.iloc[0:0] if m is not None else schemas.empty("metrics")
    if "name" in m.columns:
        rows = m[m["name"] == name]
        if len(rows):
            return rows
    entry = catalogue().get(name)
    return m[m["query"] == entry.query] if entry is not None else m.iloc[0:0]


def _service_of(rows: pd.DataFrame) -> pd.Series:
    for col in ("service", "label_service", "job"):
        if col in rows.columns:
            return rows[col].astype(object).map(lambda v: "" if v is None or pd.isna(v) else str(v))
    return pd.Series([""] * len(rows), index=rows.index, dtype=object)


def _true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of consecutive True values in ``flags``."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


def _runs(rows: pd.DataFrame, hit: pd.Series) -> pd.DataFrame:
    """Intervals of consecutive samples (per series) where ``hit`` holds.

    Columns: service, series, start, end (the first sample after the run, or the
    last sample of it), peak, peak_at (of ``value``).
    """
    out: list[dict[str, Any]] = []
    if rows.empty:
        return pd.DataFrame(out, columns=["service", "series", "start", "end", "peak", "peak_at"])
    rows = rows.assign(_hit=hit.to_numpy(), _svc=_service_of(rows).to_numpy())
    for series, g in rows.sort_values("timestamp", kind="stable").groupby("series", sort=True):
        flags = g["_hit"].to_numpy(dtype=bool)
        ts = g["timestamp"].tolist()
        vals = g["value"].to_numpy(dtype=np.float64)
        for i, j in _true_runs(flags):
            k = i + int(np.nanargmax(vals[i : j + 1])) if np.isfinite(vals[i : j + 1]).any() else i
            out.append({
                "service": g["_svc"].iloc[i], "series": series, "start": ts[i],
                "end": ts[j + 1] if j + 1 < len(ts) else ts[j], "peak": float(vals[k]), "peak_at": ts[k],
            })
    return pd.DataFrame(out, columns=["service", "series", "start", "end", "peak", "peak_at"])


def _down(ev: SeverityEvidence) -> list[tuple[str, pd.Timestamp, pd.Timestamp, str]]:
    """(service, start, end, evidence) for every time a service was seen down:
    a health check answering down/unreachable (an instant) or ``up == 0`` (a run)."""
    out: list[tuple[str, pd.Timestamp, pd.Timestamp, str]] = []
    h = ev.health
    if h is not None and len(h):
        status = h["status"].astype(object).map(lambda v: "" if pd.isna(v) else str(v).lower())
        for _, r in h[status.isin(_DOWN)].iterrows():
            when = r.get("checked_at")
            if when is None or pd.isna(when):
                continue
            err = r.get("error")
            detail = "" if err is None or pd.isna(err) else f": {err}"
            at = incident_time(when, ev.window)
            out.append((str(r["service"]), at, at, f"health check at {when:%H:%M} {r['status']}{detail}"))
    for r in _up_runs(ev).itertuples(index=False):
        out.append((str(r.service), r.start, r.end, f"up == 0 from {r.start:%H:%M} to {r.end:%H:%M}"))
    return out


def incident_time(checked_at: pd.Timestamp, window: TimeWindow | None) -> pd.Timestamp:
    """The incident moment a live check stands for: a check made just after the window
    (within :data:`LIVE_CHECK_GRACE`) stands for the window's end, so market-hours
    questions are asked about the incident, not about the moment of collection."""
    if window is not None and window.end < checked_at <= window.end + LIVE_CHECK_GRACE:
        return window.end
    return checked_at


def _trading(config: Config, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Whether the market was open at any moment of [start, end] (an instant when equal)."""
    cal = _calendar(config)
    if end <= start:
        return bool(cal.is_open(start))
    return bool(cal.trading_time(start, end) > pd.Timedelta(0))


def down_periods(ev: SeverityEvidence) -> list[tuple[str, pd.Timestamp, pd.Timestamp, str]]:
    """(service, start, end, evidence) of every time a service was seen down during the
    incident (health checks made in time, ``up == 0`` runs that are not chronic)."""
    return _down(ev)


def _down_in_hours(
    ev: SeverityEvidence, config: Config, *, open_market: bool = True,
) -> list[tuple[str, pd.Timestamp, pd.Timestamp, str]]:
    """:func:`_down` periods that overlap market hours (or, with ``open_market=False``,
    those entirely outside them): an outage affects trading only when there is trading."""
    return [d for d in _down(ev) if _trading(config, d[1], d[2]) == open_market]


def _ensure_breaches(ev: SeverityEvidence, config: Config) -> SeverityEvidence:
    """Fill ``ev.breaches`` from its metrics (no baseline) when it was built without them."""
    if ev.breaches is None and ev.metrics is not None and len(ev.metrics):
        ev.breaches = breaches(ev.metrics, catalogue(config), margin=config.severity.baseline_margin,
                               calendar=bundle_calendar(config))
    return ev


def _live_breaches(ev: SeverityEvidence, name: str, state: str | None = None) -> pd.DataFrame:
    """Non-chronic breaches of catalogue entry ``name`` (in rule ``state`` when given)."""
    b = ev.breaches
    if b is None or b.empty:
        return pd.DataFrame(columns=["service", "series", "start", "end", "peak", "peak_at"])
    rows = b[b["name"] == name]
    if state is not None:
        rows = rows[rows["rule"] == state]
    if "chronic" in rows.columns:
        rows = rows[~rows["chronic"].fillna(False).astype(bool)]
    return rows


def _up_runs(ev: SeverityEvidence) -> pd.DataFrame:
    """Runs of ``up == 0`` (service, series, start, end): from the baseline-aware breaches
    when there are any, else straight from the ``up`` series."""
    if ev.breaches is not None:
        return _live_breaches(ev, "up", "down")[["service", "series", "start", "end"]]
    up = _series(ev, "up")
    return _runs(up, up["value"] == 0) if len(up) else _runs(up.iloc[0:0], pd.Series([], dtype=bool))


def _describe_down(items: list[tuple[str, pd.Timestamp, pd.Timestamp, str]]) -> str:
    """The down periods by service, the service down first named first (ties by name)."""
    by_service: dict[str, list[str]] = {}
    first: dict[str, pd.Timestamp] = {}
    for svc, start, _, what in sorted(items, key=lambda d: (d[1], d[0])):
        by_service.setdefault(svc, []).append(what)
        first.setdefault(svc, start)
    return "; ".join(f"{svc} ({', '.join(w[:2])})" for svc, w in sorted(by_service.items(),
                                                                         key=lambda kv: (first[kv[0]], kv[0])))


def _calendar(config: Config) -> TradingCalendar:
    return TradingCalendar.from_config(config)



def _norm(name: Any) -> str:
    return normalize_service(str(name or ""))


def _name_of(ev: SeverityEvidence, norm: str) -> str:
    return next((s for s in ev.critical if _norm(s) == norm), norm)


def _up_services(up: pd.DataFrame) -> set[str]:
    shared = shared_jobs(up)
    return {series_service(g, ("service", "job"), shared=shared) for _, g in up.groupby("series", sort=False)} - {""}


