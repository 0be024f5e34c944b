"""What the report notebooks display: one call per cell, one readable object back.

Each function takes a bundle and returns a ``Markdown`` block or a trimmed
DataFrame with readable columns (times as ``YYYY-MM-DD HH:MM:SS``, durations as
``1 h 05 min``). Views only arrange what ``analysis/`` computes; they read no
source and decide nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .errors import ForensicsError

if TYPE_CHECKING:
    from IPython.display import Markdown

    from .bundle import EvidenceBundle

__all__ = [
    "action_items", "breaches", "connections", "error_bursts", "error_signatures", "failed_executions",
    "follow_up_checklist", "headline", "health", "impact", "key_times", "lock_waits", "missing", "open_positions",
    "reconciliation", "response_evaluation", "seen_before", "severity", "sla", "sources", "suspects",
    "timeline_table", "top_statements",
]


def _md(text: str) -> Markdown:
    from IPython.display import Markdown

    return Markdown(text)  # type: ignore[no-untyped-call]


def _escape(text: object) -> str:
    # Evidence text goes into Markdown: neutralise markup so a log line stays a log line.
    s = str(text)
    for ch in "\\`*_{}[]<>#|":
        s = s.replace(ch, "\\" + ch)
    return s


def duration(td: object) -> str:
    """``1 h 05 min``, ``4 min``, ``35 s``, or ``—`` for a missing duration."""
    if td is None or (not isinstance(td, str) and pd.isna(td)):
        return "—"
    t = pd.Timedelta(td)
    sign = "−" if t < pd.Timedelta(0) else ""
    secs = int(abs(t).total_seconds())
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{sign}{h} h {m:02d} min"
    if m:
        return f"{sign}{m} min" + (f" {s:02d} s" if s else "")
    return f"{sign}{s} s"


def _readable(df: pd.DataFrame, *, max_rows: int = 30, text_width: int = 160) -> pd.DataFrame:
    out = df.head(max_rows).copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("—")
        elif pd.api.types.is_timedelta64_dtype(s.dtype):
            out[col] = s.map(duration)
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            short = s.map(lambda v: v if not isinstance(v, str) or len(v) <= text_width else v[: text_width - 1] + "…")
            out[col] = short.astype(object).where(short.notna(), "")
    return out.reset_index(drop=True)


def _empty(what: str) -> Markdown:
    return _md(f"_No {what} in the evidence._")


def headline(bundle: EvidenceBundle) -> Markdown:
    """Incident id, title, window and the recorded severity."""
    from .analysis.incident import incident_from_bundle

    lines = [f"**Incident {bundle.incident_id}**"]
    try:
        inc = incident_from_bundle(bundle)
    except ForensicsError:  # no usable incident record: the rest of the report still stands
        inc = None
    if inc is not None and inc.title:
        lines[0] += f" — {_escape(inc.title)}"
    w = bundle.window
    lines.append(f"Evidence window: {w.start:%Y-%m-%d %H:%M} to {w.end:%Y-%m-%d %H:%M} UTC ({duration(w.duration)})")
    if inc is not None:
        lines.append(f"Recorded severity: {inc.severity or 'not classified'}; status: {inc.status}")
    return _md("  \n".join(lines))


def severity(bundle: EvidenceBundle) -> Markdown:
    """The suggested severity (runbook P0–P3) and every reason for it."""
    from .analysis.severity import suggest_severity

    level, reasons = suggest_severity(bundle)
    body = "\n".join(f"- {_escape(r)}" for r in reasons) or "- no rule of P0–P2 holds on this evidence"
    return _md(f"**Suggested severity: {level}**\n\n{body}")


def key_times(bundle: EvidenceBundle) -> pd.DataFrame:
    """First symptom, detection, acknowledgement, mitigation, resolution and the times between."""
    from .analysis.key_times import key_times as compute

    frame = compute(bundle).frame()
    keep = [c for c in ("milestone", "timestamp", "time_to", "duration", "evidence") if c in frame.columns]
    return _readable(frame[keep])


def impact(bundle: EvidenceBundle) -> pd.DataFrame:
    """Trading impact: services down, open positions and exposure, failed executions, mismatches."""
    from .analysis.health import impact_from_bundle

    summary = impact_from_bundle(bundle)
    rows = []
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:,.0f}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value)) or "none"
        elif value is None:
            value = "unknown (source unavailable)"
        elif isinstance(value, float):
            value = f"{value:,.2f}"
        rows.append({"measure": key.replace("_", " "), "value": str(value)})
    return pd.DataFrame(rows, columns=["measure", "value"])


def _table(bundle: EvidenceBundle, name: str) -> pd.DataFrame:
    return bundle.table(name) if bundle.has(name) else pd.DataFrame()


def open_positions(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Open positions and their exposure (runbook: are positions at risk?)."""
    df = _table(bundle, "positions")
    if df.empty:
        return _empty("positions")
    if "status" in df.columns:
        df = df[df["status"].astype(str).str.lower() == "open"]
    cols = [c for c in ("account", "symbol", "side", "quantity", "entry_price", "current_price", "exposure",
                        "unrealized_pnl", "opened_at") if c in df.columns]
    return _readable(df.sort_values("exposure", ascending=False) if "exposure" in df.columns else df)[cols]


def failed_executions(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Executions rejected or failed in the window (runbook: are orders executing?)."""
    df = _table(bundle, "executions")
    if df.empty or "status" not in df.columns:
        return _empty("executions")
    bad = df[df["status"].astype(str).str.lower().isin(["rejected", "failed", "error", "timeout", "cancelled"])]
    if bad.empty:
        return _md(f"All {len(df)} executions in the window succeeded.")
    cols = [c for c in ("timestamp", "order_id", "symbol", "side", "quantity", "status", "error", "latency_ms")
            if c in bad.columns]
    return _readable(bad[cols], max_rows=20)


def reconciliation(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Position reconciliation rows (mismatches first)."""
    df = _table(bundle, "reconcile")
    if df.empty:
        return _empty("reconciliation result")
    if "status" in df.columns:
        df = df.assign(_ok=df["status"].astype(str).str.lower().isin(["ok", "matched", "match"])).sort_values("_ok")
        df = df.drop(columns="_ok")
    return _readable(df)


def timeline_table(bundle: EvidenceBundle, *, max_rows: int = 60) -> pd.DataFrame:
    """The merged cross-source timeline, oldest first."""
    from .analysis.timeline import timeline

    t = timeline(bundle)
    return _readable(t[["timestamp", "source", "service", "kind", "severity", "summary"]], max_rows=max_rows)


def error_signatures(bundle: EvidenceBundle, *, limit: int = 15) -> pd.DataFrame | Markdown:
    """Error message templates (numbers, ids, quoted values masked) by count."""
    from .analysis.logs import error_signatures as compute

    sig = compute(bundle.table("logs"), limit=limit)
    if sig.empty:
        return _empty("error log lines")
    cols = [c for c in ("signature", "count", "first_seen", "last_seen", "services", "level") if c in sig.columns]
    return _readable(sig[cols])


def error_bursts(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Periods where a service's error rate rose well above its own baseline."""
    from .analysis.logs import error_bursts as compute

    b = compute(bundle.table("logs"))
    return _empty("error bursts") if b.empty else _readable(b)


def breaches(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Threshold breaches of the query catalogue's rules."""
    from .analysis.timeline import bundle_breaches

    b = bundle_breaches(bundle)
    if b.empty:
        return _empty("threshold breaches")
    cols = [c for c in ("start", "end", "service", "severity", "rule", "peak", "peak_at", "threshold", "ongoing")
            if c in b.columns]
    return _readable(b[cols])


def top_statements(bundle: EvidenceBundle, *, limit: int = 10) -> pd.DataFrame | Markdown:
    """Top statements by total time: inside the window when a delta was taken, else cumulative."""
    name = "pg_statements_delta" if bundle.has("pg_statements_delta") else "pg_statements"
    df = _table(bundle, name)
    if df.empty:
        return _empty("pg_stat_statements rows")
    df = df.sort_values("total_exec_time_ms", ascending=False)
    cols = [c for c in ("query", "calls", "total_exec_time_ms", "mean_exec_time_ms", "baseline_mean_exec_time_ms",
                        "rows", "shared_blks_read") if c in df.columns]
    return _readable(df[cols], max_rows=limit)


def lock_waits(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Ungranted locks with their blockers (root blockers first), latest sample per waiter."""
    df = _table(bundle, "pg_locks")
    if df.empty:
        return _empty("lock waits")
    if "sampled_at" in df.columns:
        df = df.sort_values("sampled_at").drop_duplicates(subset=["pid", "granted"], keep="last")
    sort = [c for c in ("root_blocker", "depth") if c in df.columns]
    if sort:
        df = df.sort_values(sort)
    cols = [c for c in ("pid", "application_name", "relation", "mode", "granted", "blocked_by", "waiting_s",
                        "depth", "query") if c in df.columns]
    return _readable(df[cols])


def connections(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Connections by state and application against max_connections (latest sample)."""
    df = _table(bundle, "pg_connections")
    if df.empty:
        return _empty("connection counts")
    if "sampled_at" in df.columns:
        df = df[df["sampled_at"] == df["sampled_at"].max()]
    cols = [c for c in ("state", "application_name", "count", "max_connections") if c in df.columns]
    return _readable(df.sort_values("count", ascending=False)[cols])


def suspects(bundle: EvidenceBundle, *, limit: int = 10) -> pd.DataFrame | Markdown:
    """Changes ranked by how likely they caused the incident, each with its reason."""
    from .analysis.suspects import suspects as compute

    s = compute(bundle)
    if s.empty:
        return _empty("changes before the first symptom")
    cols = [c for c in ("rank", "kind", "timestamp", "service", "sha", "score", "reason") if c in s.columns]
    out = _readable(s[cols], max_rows=limit, text_width=400)
    if "sha" in out.columns:
        out["sha"] = out["sha"].map(lambda v: v[:10] if isinstance(v, str) else v)
    return out


def health(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """The health snapshot of every service."""
    df = bundle.table("health")
    if df.empty:
        return _empty("health checks")
    return _readable(df[["checked_at", "service", "status", "status_code", "latency_ms", "error", "url"]])


def sources(bundle: EvidenceBundle) -> pd.DataFrame:
    """Every table of the bundle: source, status, rows, and the error for what was unavailable."""
    st = bundle.status_table()
    st["error"] = st["error"].fillna("")
    return _readable(st[["table", "source", "status", "rows", "error"]], max_rows=200)


def seen_before(
    bundle: EvidenceBundle, *, output_dir: str | None = None, catalog_url: str | None = None, limit: int = 5
) -> pd.DataFrame | Markdown:
    """Past incidents of the incident library that look like this one, best first."""
    from .catalog import Catalog, similar

    catalog = Catalog.open(catalog_url, output_dir=output_dir or None)
    try:
        found = similar(bundle, catalog)
    finally:
        catalog.close()
    if found is None or len(found) == 0:
        return _md("_No similar past incident in the library (index bundles with `eafix-forensics index`)._")
    cols = [c for c in ("rank", "incident_id", "title", "severity", "triggered_at", "score", "shared_services",
                        "shared_signatures", "root_causes", "action_items") if c in found.columns]
    out = found[cols].copy()
    for col in ("shared_services", "shared_signatures", "root_causes", "action_items"):
        if col in out.columns:
            out[col] = out[col].map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    return _readable(out, max_rows=limit, text_width=120)


def missing(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Sources whose evidence is missing or unavailable, and why."""
    from .analysis.timeline import missing_sources

    m = missing_sources(bundle)
    return _md("Every source answered.") if m.empty else _readable(m)


def sla(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Each runbook SLA: target, actual, met or missed and the margin."""
    from .analysis.sla import sla_report

    try:
        rep = sla_report(bundle)
    except ForensicsError as exc:  # no incident record: say so in the review instead of failing it
        return _md(f"_No SLA report: {_escape(exc)}_")
    rep = rep.assign(result=rep["met"].map(lambda m: "met" if m is True else ("missed" if m is False else "open")))
    return _readable(rep[["sla", "target", "actual", "result", "margin", "clock", "detail"]])


def response_evaluation(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """The status updates as posted, with the gap since the previous one."""
    df = _table(bundle, "incident_updates")
    if df.empty:
        return _empty("status updates")
    df = df.sort_values("timestamp")
    df = df.assign(gap=df["timestamp"].diff())
    return _readable(df[["timestamp", "status", "gap", "text"]])


def action_items(bundle: EvidenceBundle) -> pd.DataFrame | Markdown:
    """Action items from the incident record."""
    df = _table(bundle, "action_items")
    return _empty("action items") if df.empty else _readable(df)


FOLLOW_UP = (
    ("Process improvements", "Update runbooks and procedures"),
    ("System improvements", "Implement preventive measures"),
    ("Training updates", "Share learnings with team"),
    ("Monitoring enhancements", "Improve alerting and detection"),
)


def follow_up_checklist() -> Markdown:
    """The runbook's long-term follow-up (1–4 weeks) as a checklist."""
    return _md("\n".join(f"- [ ] **{a}**: {b}" for a, b in FOLLOW_UP))


