"""Database events for the timeline: slow queries and lock waits (pure).

``slow_queries(delta)`` reads a :func:`~eafix_forensics.statements_delta`
frame (the ``pg_statements_delta`` table that ``collect --watch`` writes) and
applies this rule. A statement is a **slow_query** when, inside the window,

1. it ran at least ``min_calls`` times (5) with a mean of at least
   ``min_mean_ms`` (10 ms), and
2. either it has a baseline (``change == "delta"`` and at least ``min_calls``
   calls before the window) and its window mean is at least ``ratio`` (3×) the
   baseline mean (its cumulative mean up to the window start), or it has no
   usable baseline (new, reset, or too few calls before) and its window mean
   is at least ``new_mean_ms`` (1 s).

Severity is ``critical`` when the mean is 10× the baseline or above 5 s,
``warning`` otherwise. The event time is the start of the measured interval
(``since``): pg_stat_statements only says that it happened inside it.

``lock_waits(locks)`` reads ``pg_locks`` (one or many samples) and makes one
**lock_wait** event per wait of at least ``threshold_s`` (5 s): samples of the
same session whose wait started at the same moment are one wait, reported at
its start with the longest time seen. ``critical`` from 6× the threshold.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..bundle import EvidenceBundle
from ..model import tables

__all__ = ["bundle_events", "lock_waits", "slow_queries"]

SOURCE = "postgres"
_QUERY_CHARS = 120


def _short(query: Any) -> str:
    text = " ".join(str(query).split()) if isinstance(query, str) else "(query not available)"
    return text if len(text) <= _QUERY_CHARS else text[: _QUERY_CHARS - 1] + "…"


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def slow_queries(
    delta: pd.DataFrame,
    *,
    ratio: float = 3.0,
    min_calls: int = 5,
    min_mean_ms: float = 10.0,
    new_mean_ms: float = 1000.0,
    source: str = SOURCE,
) -> pd.DataFrame:
    """TIMELINE ``slow_query`` events from a statements delta (rule in the module docstring).

    Columns: timestamp, source, service (the database), kind, severity,
    summary, ref (``queryid:<id>``). Empty TIMELINE when nothing qualifies or
    ``delta`` lacks the delta columns (e.g. a plain snapshot).
    """
    needed = {"calls", "mean_exec_time_ms", "change", "baseline_calls", "baseline_mean_exec_time_ms"}
    if delta is None or delta.empty or not needed <= set(delta.columns):
        return tables.empty("timeline")
    rows: list[dict[str, Any]] = []
    for r in delta.to_dict("records"):
        calls, mean = _num(r.get("calls")), _num(r.get("mean_exec_time_ms"))
        if r.get("change") == "evicted" or calls is None or mean is None:
            continue
        if calls < min_calls or mean < min_mean_ms:
            continue
        base_calls, base_mean = _num(r.get("baseline_calls")), _num(r.get("baseline_mean_exec_time_ms"))
        has_baseline = r.get("change") == "delta" and base_calls is not None and base_calls >= min_calls \
            and base_mean is not None and base_mean > 0
        if has_baseline:
            assert base_mean is not None
            factor = mean / base_mean
            if factor < ratio:
                continue
            versus = f"{factor:.1f}× its baseline {base_mean:.1f} ms"
            critical = factor >= 10 or mean >= 5000
        else:
            if mean < new_mean_ms:
                continue
            versus = "no baseline" if r.get("change") != "reset" else "counters reset in the window"
            critical = mean >= 5000
        ts = r.get("since")
        if ts is None or pd.isna(ts):
            ts = r.get("until")
        db = r.get("datname")
        service = db if isinstance(db, str) and db else "postgres"
        qid = r.get("queryid")
        rows.append({
            "timestamp": ts,
            "source": source,
            "service": service,
            "kind": "slow_query",
            "severity": "critical" if critical else "warning",
            "summary": f"slow query on {service}: mean {mean:,.1f} ms over {int(calls):,} calls ({versus}): "
                       f"{_short(r.get('query'))}",
            "ref": f"queryid:{int(qid)}" if qid is not None and not pd.isna(qid) else "queryid:hidden",
        })
    return _timeline(rows)


def lock_waits(locks: pd.DataFrame, *, threshold_s: float = 5.0, source: str = SOURCE) -> pd.DataFrame:
    """TIMELINE ``lock_wait`` events from ``pg_locks`` (one per wait ≥ ``threshold_s``).

    Columns: timestamp (when the wait started), source, service (the waiting
    session's application_name), kind, severity, summary (who waited how long
    for what on which table, and the blocker's pid, application and query),
    ref (``pid:<pid>``).
    """
    if locks is None or locks.empty or "granted" not in locks.columns:
        return tables.empty("timeline")
    waits = locks[~locks["granted"].fillna(True).astype(bool) & (locks["waiting_s"] >= threshold_s)].copy()
    if waits.empty:
        return tables.empty("timeline")
    sampled = waits["sampled_at"] if "sampled_at" in waits.columns else pd.Series(pd.NaT, index=waits.index)
    started = sampled - pd.to_timedelta(waits["waiting_s"], unit="s")
    if "wait_started_at" in waits.columns:
        started = waits["wait_started_at"].where(waits["wait_started_at"].notna(), started)
    waits["_start"] = started
    # who the blockers are, from any sample (root-blocker rows carry their application)
    apps = {int(p): a for p, a in zip(locks["pid"], locks.get("application_name", pd.Series(index=locks.index)))
            if pd.notna(p) and isinstance(a, str) and a}
    rows: list[dict[str, Any]] = []
    for pid, group in waits.sort_values("_start").groupby("pid", sort=False):
        # one wait = consecutive samples whose start agrees within 2 s (clock rounding)
        current: list[dict[str, Any]] = []
        for r in group.to_dict("records"):
            if current and pd.notna(r["_start"]) and pd.notna(current[0]["_start"]) \
                    and abs((r["_start"] - current[0]["_start"]).total_seconds()) > 2:
                rows.append(_lock_event(current, apps, threshold_s, source))
                current = []
            current.append(r)
        if current:
            rows.append(_lock_event(current, apps, threshold_s, source))
    return _timeline(rows)


def _lock_event(samples: list[dict[str, Any]], apps: dict[int, str], threshold_s: float, source: str) -> dict[str, Any]:
    worst = max(samples, key=lambda r: r["waiting_s"])
    app = worst.get("application_name")
    service = app if isinstance(app, str) and app else "postgres"
    blockers = [int(p) for p in str(worst.get("blocked_by") or "").split(",") if p.strip()]
    who = ", ".join(f"pid {b}" + (f" ({apps[b]})" if b in apps else "") for b in blockers) or "an unknown session"
    blocker_query = worst.get("blocker_query")
    relation = worst.get("relation") if isinstance(worst.get("relation"), str) else "an unknown table"
    summary = (
        f"{service} pid {int(worst['pid'])} waited {worst['waiting_s']:.1f} s for {worst.get('mode') or 'a lock'} "
        f"on {relation}, blocked by {who}"
    )
    if isinstance(blocker_query, str) and blocker_query:
        summary += f": {_short(blocker_query)}"
    return {
        "timestamp": worst["_start"],
        "source": source,
        "service": service,
        "kind": "lock_wait",
        "severity": "critical" if worst["waiting_s"] >= 6 * threshold_s else "warning",
        "summary": summary,
        "ref": f"pid:{int(worst['pid'])}",
    }


def _timeline(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return tables.empty("timeline")
    frame = tables.conform(rows, "timeline")
    return frame.sort_values(["timestamp", "kind", "ref"], kind="stable").reset_index(drop=True)


def bundle_events(bundle: EvidenceBundle) -> pd.DataFrame:
    """TIMELINE events (slow_query, lock_wait) from a bundle's PostgreSQL tables.

    Uses ``pg_statements_delta`` (present after ``collect --watch``) and
    ``pg_locks``, with the bundle config's ``[postgres] lock_wait_threshold_s``.
    Empty TIMELINE when the tables are missing, unavailable or empty.
    """
    cfg = (bundle.manifest.get("config") or {}).get("postgres") or {}
    threshold = float(cfg.get("lock_wait_threshold_s", 5.0))
    parts = []
    if bundle.status("pg_statements_delta") in ("ok", "truncated"):
        parts.append(slow_queries(bundle.table("pg_statements_delta")))
    if bundle.status("pg_locks") in ("ok", "truncated"):
        parts.append(lock_waits(bundle.table("pg_locks"), threshold_s=threshold))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return tables.empty("timeline")
    return _timeline(pd.concat(parts, ignore_index=True).to_dict("records"))
