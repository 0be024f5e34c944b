"""One cross-source timeline of an incident, and the slice around a moment.

:func:`timeline` gathers every source's TIMELINE events — each analysis module
defines ``bundle_events(bundle)`` (logs, metrics, database, changes, health,
incident) — sorts them and
merges duplicates. A source whose evidence is missing, unavailable or whose
events cannot be computed never stops the others: it is named in
``frame.attrs["missing_sources"]`` and by :func:`missing_sources`.

Pure: reads a bundle, never a live system.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..bundle import bundle_config
from ..config import Config
from ..errors import ForensicsError
from ..model import tables as schemas
from ..model.catalogue import catalogue
from ..window import parse_time
from . import changes, database, health, incident, logs, metrics
from .metrics import breaches, bundle_baseline, bundle_calendar

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = [
    "KIND_ORDER",
    "MILESTONE_KINDS",
    "SOURCES",
    "SYMPTOM_KINDS",
    "around",
    "bundle_breaches",
    "bundle_config",
    "failed_services",
    "first_symptom",
    "merge_events",
    "metric_step",
    "missing_sources",
    "timeline",
]

# source (COLLECTOR.name) -> the analysis module whose bundle_events() reads its tables
SOURCES: dict[str, ModuleType] = {
    "logs": logs,
    "prometheus": metrics,
    "postgres": database,
    "git": changes,
    "services": health,
    "incident": incident,
}
SYMPTOM_KINDS = ("first_error", "error_burst", "new_warning", "threshold_breach", "slow_query", "lock_wait",
                 "health_failed")
MILESTONE_KINDS = ("incident_triggered", "acknowledged", "responded", "status_update", "resolved")
# At one instant, a change reads before what it caused, the log line that records a
# failure before the metrics computed over rate() windows (which lag it), and people last.
KIND_ORDER = ("deploy", "restart", *SYMPTOM_KINDS, "mitigation", *MILESTONE_KINDS)
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_USABLE = ("ok", "empty", "truncated")
MISSING_COLUMNS = ("source", "status", "tables", "reason")


# ---------------------------------------------------------------- breaches
def bundle_breaches(bundle: EvidenceBundle, config: Config | None = None) -> pd.DataFrame:
    """Threshold breaches of the bundle's ``metrics`` under ``config``'s catalogue
    (default: the config the bundle was collected with).

    Columns: :data:`eafix_forensics.analysis.metrics.BREACH_COLUMNS` (start, end,
    peak, rule, service, severity, name, series, op, threshold, peak_at, samples,
    ongoing, summary); empty with those columns when there are no metrics.
    """
    metrics = bundle.table("metrics")
    cfg = config if config is not None else bundle_config(bundle)
    try:
        entries = catalogue(cfg)
    except ForensicsError:
        # A catalogue override that no longer parses: judge by the shipped rules.
        entries = catalogue(Config())
    return breaches(metrics, entries, baseline=bundle_baseline(bundle), margin=cfg.severity.baseline_margin,
                    calendar=bundle_calendar(cfg))


# ---------------------------------------------------------------- gathering events
def _source_tables(bundle: EvidenceBundle) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {s: [] for s in SOURCES}
    for name, entry in sorted(bundle.manifest.get("tables", {}).items()):
        src = str(entry.get("source") or "")
        out.setdefault(src, []).append((name, str(entry.get("status") or "missing")))
    return out


def _analysis_module(source: str) -> ModuleType | None:
    return SOURCES.get(source)


def missing_sources(bundle: EvidenceBundle) -> pd.DataFrame:
    """The sources whose events the timeline of ``bundle`` lacks, and why.

    One row per source (of :data:`SOURCES`) that is not fully there. Columns:

    - ``source``: the collector name (logs, prometheus, postgres, git, services, incident);
    - ``status``: ``missing`` (no table of it in the bundle), ``unavailable``,
      ``skipped`` (the config does not name it), ``partial`` (some of its tables
      unavailable), or ``no analysis`` (no module turns its tables into events);
    - ``tables``: its tables with their status (``logs: unavailable``);
    - ``reason``: the collector's error text, or what is missing.

    :func:`timeline` adds sources whose events failed to compute (status ``error``)
    to its ``attrs["missing_sources"]``.
    """
    rows: list[dict[str, str]] = []
    for source, tables in _source_tables(bundle).items():
        if source not in SOURCES:
            continue
        listing = ", ".join(f"{t}: {s}" for t, s in tables)
        usable = [t for t, s in tables if s in _USABLE]
        errors = sorted({
            str(bundle.manifest["tables"][t].get("error"))
            for t, s in tables
            if s not in _USABLE and bundle.manifest["tables"][t].get("error")
        })
        if not tables:
            status, reason = "missing", f"the bundle holds no table from {source}"
        elif not usable:
            statuses = {s for _, s in tables}
            status = "skipped" if statuses == {"skipped"} else "unavailable"
            reason = "; ".join(errors) or (
                f"{source} is not named in the config" if status == "skipped" else f"{source} returned nothing"
            )
        elif len(usable) < len(tables):
            status, reason = "partial", "; ".join(errors) or "some tables unavailable"
        elif _analysis_module(source) is None:
            status = "no analysis"
            reason = f"{source} has no analysis module: {source} gives no timeline events"
        else:
            continue
        rows.append({"source": source, "status": status, "tables": listing, "reason": reason})
    frame = pd.DataFrame(rows, columns=list(MISSING_COLUMNS))
    return frame.astype(schemas.empty("timeline")["source"].dtype)


def _events(bundle: EvidenceBundle) -> tuple[list[pd.DataFrame], dict[str, str]]:
    frames: list[pd.DataFrame] = []
    problems: dict[str, str] = {}
    for row in missing_sources(bundle).itertuples(index=False):
        if row.status != "partial":
            problems[str(row.source)] = f"{row.status}: {row.reason}"
    for source in SOURCES:
        if source in problems:
            continue
        module = _analysis_module(source)
        if module is None:  # not reached: every key of SOURCES has its module
            continue
        try:
            frames.append(schemas.conform(module.bundle_events(bundle), "timeline"))
        except Exception as exc:  # noqa: BLE001 - one source's analysis failing must not lose the others
            problems[source] = f"error: {type(exc).__name__}: {exc}"
    return frames, problems


def _key(*parts: Any) -> tuple[str, ...]:
    return tuple("" if p is None or (not isinstance(p, str) and pd.isna(p)) else str(p) for p in parts)


def merge_events(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate TIMELINE frames, merge duplicates and sort.

    Two rows are the same event when they fall in the same second, on the same
    service, with the same kind, and either the same ``ref`` or the same
    ``summary`` (the same evidence read twice); ``first_error`` rows of one
    service in the same second are one event whatever their source (the same
    failure seen by the logs and the trading API). A merged event keeps the
    summary of its first source (in :data:`SOURCES` order), the highest severity,
    and every ``ref`` joined with `` | ``.

    Sorted by timestamp (missing last), then :data:`KIND_ORDER`, source, service.
    Returns TIMELINE columns plus ``sources`` (comma-separated) and ``merged``
    (how many rows were merged into the event).
    """
    parts = [schemas.conform(f, "timeline") for f in frames if f is not None and len(f)]
    if not parts:
        out = schemas.empty("timeline")
        out["sources"] = out["source"]
        out["merged"] = pd.Series([], dtype="Int64")
        return out
    events = pd.concat([p[list(schemas.SCHEMAS["timeline"])] for p in parts], ignore_index=True)
    source_rank = {s: i for i, s in enumerate(SOURCES)}
    kind_rank = {k: i for i, k in enumerate(KIND_ORDER)}
    events["_src"] = events["source"].map(lambda s: source_rank.get(s, len(source_rank))).astype(int)
    events["_kind"] = events["kind"].map(lambda k: kind_rank.get(k, len(kind_rank))).astype(int)
    events = events.sort_values(
        ["timestamp", "_kind", "_src", "service", "summary"], kind="stable", na_position="last"
    ).reset_index(drop=True)
    second = events["timestamp"].dt.floor("s")

    # Union-find over rows sharing any duplicate key; a group's root is its first row.
    parent = list(range(len(events)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[tuple[str, ...], int] = {}
    for i, (ts, svc, kind, ref, summary) in enumerate(
        zip(second, events["service"], events["kind"], events["ref"], events["summary"], strict=True)
    ):
        if pd.isna(ts):
            continue
        keys = [_key("ref", ts, svc, kind, ref), _key("summary", ts, svc, kind, summary)]
        if kind == "first_error":
            keys.append(_key("first", ts, svc))
        for k in keys:
            if k[-1] == "" and k[0] != "first":
                continue  # an empty ref or summary says nothing about sameness
            j = seen.setdefault(k, i)
            a, b = root(i), root(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    group = [root(i) for i in range(len(events))]
    events["_group"] = group
    rows: list[dict[str, Any]] = []
    for _, g in events.groupby("_group", sort=False):
        first = g.iloc[0]
        sev = max(g["severity"].dropna(), key=lambda s: _SEVERITY_RANK.get(s, -1), default=first["severity"])
        refs = list(dict.fromkeys(r for r in g["ref"].dropna() if r))
        sources = list(dict.fromkeys(s for s in g.sort_values("_src")["source"].dropna()))
        rows.append({
            **{c: first[c] for c in schemas.SCHEMAS["timeline"]},
            "severity": sev,
            "ref": " | ".join(refs) if refs else first["ref"],
            "sources": ",".join(sources),
            "merged": len(g),
        })
    out = schemas.conform(rows, "timeline")
    out["sources"] = out["sources"].astype(out["source"].dtype)
    out["merged"] = out["merged"].astype("Int64")
    return out


def timeline(bundle: EvidenceBundle) -> pd.DataFrame:
    """TIMELINE of every source's events in ``bundle``, sorted, duplicates merged.

    Events: first_error, error_burst (logs); threshold_breach (metrics); slow_query,
    lock_wait (database); deploy (git); restart (container restarts, logs);
    health_failed and failed executions (services); incident_triggered,
    acknowledged, responded, status_update, resolved (incident record).

    Columns: timestamp, source, service, kind, severity, summary, ref (back into
    the evidence: ``logs:<file>:<line>``, a commit sha, ``queryid:<id>``,
    ``metrics:<name>:<series>``…), then ``sources`` and ``merged`` (see
    :func:`merge_events`); ``severity`` is an ordered categorical (info < warning <
    critical: ``events[events.severity >= "warning"]``). ``attrs["missing_sources"]`` maps each source whose
    events are absent to why (``unavailable: connection refused``); it is empty
    when every source contributed.
    """
    key = _cache_key(bundle)
    cached = _CACHE.get(bundle)
    if cached is not None and cached[0] == key:
        out = cached[1].copy()
    else:
        frames, problems = _events(bundle)
        out = merge_events(frames)
        out.attrs["missing_sources"] = dict(problems)
        _CACHE[bundle] = (key, out.copy())
    out.attrs["missing_sources"] = dict(out.attrs.get("missing_sources", {}))
    return schemas.ordered(out, "timeline")


# A report asks for the timeline several times (suspects, key times, the swimlane);
# a bundle on disk does not change under one open object, so compute it once per
# object and manifest (any rewrite changes the manifest's hash or its file times).
_CACHE: weakref.WeakKeyDictionary[EvidenceBundle, tuple[tuple[Any, ...], pd.DataFrame]] = weakref.WeakKeyDictionary()


def _cache_key(bundle: EvidenceBundle) -> tuple[Any, ...]:
    stamps = []
    for entry in sorted(bundle.manifest.get("tables", {}).items()):
        f = entry[1].get("file")
        try:
            st = (bundle.path / f).stat() if f else None
        except OSError:
            st = None
        stamps.append((entry[0], f, st.st_mtime_ns if st else None, st.st_size if st else None))
    return tuple(stamps)


def around(
    timeline: pd.DataFrame, t: str | datetime | pd.Timestamp, *, minutes: float = 5
) -> pd.DataFrame:
    """The events of ``timeline`` within ``minutes`` either side of ``t`` (inclusive).

    ``t`` is a Timestamp or ISO 8601 text (no offset means UTC). Returns the
    timeline's columns plus ``offset`` (Timedelta from ``t``; negative before it),
    in timeline order.
    """
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes >= 0:
        raise ForensicsError(f"around: minutes={minutes!r}: expected a number of minutes >= 0")
    at = parse_time(t)
    span = pd.Timedelta(minutes=minutes)
    ts = timeline["timestamp"]
    out = timeline[(ts >= at - span) & (ts <= at + span)].copy()
    out["offset"] = out["timestamp"] - at
    return out.reset_index(drop=True)


def first_symptom(
    timeline: pd.DataFrame, *, service: str | None = None, metric_step: pd.Timedelta | None = None,
) -> pd.Series | None:
    """The earliest symptom event (a :data:`SYMPTOM_KINDS` row of severity warning or
    critical) in ``timeline``, for one ``service`` when given; None when there is none.

    A metric sample stands for everything up to its time, so a threshold breach is
    known to one ``metric_step`` only: when an exactly timed symptom (a log line, an
    order, a lock wait) follows it within that step, that one is the first symptom.
    """
    ev = timeline[
        timeline["kind"].isin(SYMPTOM_KINDS)
        & timeline["severity"].isin(("warning", "critical"))
        & timeline["timestamp"].notna()
    ]
    if service is not None:
        ev = ev[ev["service"] == service]
    if ev.empty:
        return None
    ev = ev.sort_values("timestamp", kind="stable")
    first = ev.iloc[0]
    if metric_step is not None and first["kind"] == "threshold_breach":
        exact = ev[(ev["kind"] != "threshold_breach") & (ev["timestamp"] <= first["timestamp"] + metric_step)]
        if len(exact):
            return exact.iloc[0]
    return first


def metric_step(bundle: EvidenceBundle) -> pd.Timedelta | None:
    """The typical sample step of the bundle's metrics (None without metrics)."""
    if bundle.status("metrics") not in _USABLE:
        return None
    m = bundle.table("metrics")
    if len(m) < 2 or "series" not in m.columns:
        return None
    steps = m.sort_values("timestamp", kind="stable").groupby("series", sort=False)["timestamp"].diff().dropna()
    return pd.Timedelta(steps.median()) if len(steps) else None


def failed_services(timeline: pd.DataFrame) -> list[str]:
    """Services with at least one symptom event (warning or critical), by their first symptom."""
    ev = timeline[
        timeline["kind"].isin(SYMPTOM_KINDS)
        & timeline["severity"].isin(("warning", "critical"))
        & timeline["service"].notna()
        & timeline["timestamp"].notna()
    ]
    firsts = ev.groupby("service")["timestamp"].min().sort_values(kind="stable")
    return [str(s) for s in firsts.index if str(s)]
