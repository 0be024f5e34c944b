"""The investigation report's evidence sections: header, impact, trading tables,
timeline, errors, metrics, database, changes, health, sources, seen before."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..analysis import key_times as key_times_analysis
from ..analysis import logs as logs_analysis
from ..analysis import suspects as suspects_analysis
from ..analysis.health import impact_from_bundle
from ..analysis.incident import incident_from_bundle
from ..analysis.severity import suggest_severity
from ..analysis.timeline import bundle_breaches, missing_sources, timeline
from ..bundle import EvidenceBundle
from ..errors import ForensicsError
from ..model.catalogue import catalogue
from ..render import MISSING, Block, Table, duration, esc, fmt_number, fmt_time, md_escape
from ._common import (
    _commit_links,
    _empty,
    _escape,
    _library,
    _md,
    _pick,
    _report_href,
    _table,
    _when,
)

if TYPE_CHECKING:
    from IPython.display import Markdown

    from ..analysis.verdict import Verdict


# ------------------------------------------------------------------ page header
def headline(bundle: EvidenceBundle) -> Block:
    """Incident id and title, the evidence window, the recorded severity and status,
    when the evidence was collected and by which tool version."""
    try:
        inc = incident_from_bundle(bundle)
    except ForensicsError:  # no usable incident record: the rest of the report still stands
        inc = None
    title = f" — {inc.title}" if inc is not None and inc.title else ""
    w = bundle.window
    facts = [f"Evidence window {w.start:%Y-%m-%d %H:%M} to {w.end:%H:%M} UTC ({duration(w.duration)})"]
    if inc is not None:
        facts.append(f"recorded severity {inc.severity or 'not classified'}, status {inc.status}")
    collected = bundle.manifest.get("collected_at")
    version = bundle.manifest.get("tool_version")
    if collected:
        facts.append(f"collected {fmt_time(collected, seconds=False)} UTC")
    if version:
        facts.append(f"eafix-forensics {version}")
    line = " · ".join(facts)
    html = (f'<div class="eafix-head"><p class="eafix-id"><strong>{esc(bundle.incident_id)}</strong>'
            f"{esc(title)}</p><p class=\"eafix-facts\">{esc(line)}</p></div>")
    return Block(html, f"**{md_escape(bundle.incident_id)}**{md_escape(title)}  \n{md_escape(line)}")


def severity(source: EvidenceBundle | Verdict) -> Markdown:
    """The suggested severity (runbook P0–P3) and every reason for it: the verdict's
    when given one (computed once per report), else the bundle's."""
    if isinstance(source, EvidenceBundle):
        level, reasons = suggest_severity(source)
    else:
        level, reasons = source.severity, list(source.severity_reasons)
    body = "\n".join(f"- {_escape(r)}" for r in reasons) or "- no rule of P0–P2 holds on this evidence"
    return _md(f"**Suggested severity: {level}**\n\n{body}")


# Where each key-time interval starts (analysis/key_times.py): one stated start per duration.
_KEY_TIME_FROM = {"time to detect": "first symptom", "time to acknowledge": "detection",
                  "time to mitigate": "first symptom", "time to resolve": "first symptom"}


def key_times(bundle: EvidenceBundle) -> Table:
    """First symptom, detection, acknowledgement, mitigation, resolution, and each
    interval with the milestone it is measured from."""
    kt = key_times_analysis.key_times(bundle)
    frame = kt.frame()
    starts = {"first symptom": kt.first_symptom, "detection": kt.detection}
    since = [
        f"{_KEY_TIME_FROM[t]} ({_when(starts[_KEY_TIME_FROM[t]])})" if t in _KEY_TIME_FROM else ""
        for t in frame["time_to"]
    ]
    out = pd.DataFrame({
        "milestone": frame["milestone"],
        "time": frame["timestamp"],
        "interval": frame["time_to"].where(frame["time_to"] != "", None),
        "duration": frame["duration"],
        "measured from": pd.Series(since, dtype=object).where(pd.Series(since) != "", None),
        "evidence": frame["evidence"].where(frame["evidence"] != "", None),
    })
    return Table(out)


def impact(bundle: EvidenceBundle) -> Table:
    """Trading impact in numbers: orders, signals, positions and exposure, services down."""
    s = impact_from_bundle(bundle)
    rows: list[tuple[str, str]] = []

    def add(measure: str, value: object) -> None:
        rows.append((measure, value if isinstance(value, str) else fmt_number(value)))

    def listed(v: object) -> str:
        return ", ".join(map(str, v)) if isinstance(v, (list, tuple)) and v else "none"

    add("services down", listed(s.get("services_down")))
    if s.get("services_degraded"):
        add("services degraded", listed(s.get("services_degraded")))
    if s.get("executions") is not None:
        bad = (s.get("rejected_executions") or 0) + (s.get("failed_executions") or 0)
        total = s.get("executions") or 0
        share = f" ({bad / total:.1%})" if total else ""
        add("orders rejected or failed", f"{bad:,} of {total:,}{share}")
        if s.get("first_failed_execution_at") is not None:
            add("first failed order", f"{fmt_time(s['first_failed_execution_at'])} UTC")
    else:
        add("orders", "unknown (executions source unavailable)")
    if s.get("signals") is not None:
        late = s.get("late_signals")
        add("signals late", f"{late or 0:,} of {s['signals']:,}")
        if s.get("max_signal_latency_s") is not None:
            add("slowest signal (s)", round(float(s["max_signal_latency_s"]), 2))
    if s.get("open_positions") is not None:
        add("open positions", s["open_positions"])
    if s.get("exposure") is not None:
        by = s.get("exposure_by_symbol") or {}
        detail = "; ".join(f"{k} {fmt_number(v)}" for k, v in by.items())
        add("open exposure (notional, currency not reported)", f"{fmt_number(s['exposure'])}" + (f" ({detail})" if detail else ""))
    if s.get("reconcile_mismatches") is not None:
        add("reconciliation mismatches", f"{s['reconcile_mismatches']:,} of {s.get('reconciled') or 0:,} positions checked")
    for key in ("unknown", "truncated"):
        if s.get(key):
            add(f"{key} (limits these numbers)", listed(s[key]))
    return Table(pd.DataFrame(rows, columns=["measure", "value"]))


def open_positions(bundle: EvidenceBundle) -> Table | Markdown:
    """Open positions and their exposure, largest first (runbook: are positions at risk?)."""
    df = _table(bundle, "positions")
    if df.empty:
        return _empty("positions")
    if "status" in df.columns:
        df = df[df["status"].astype(str).str.lower() == "open"]
    if "exposure" in df.columns:
        df = df.sort_values("exposure", ascending=False)
    out = _pick(df, ("account", "symbol", "side", "quantity", "entry_price", "current_price", "exposure",
                     "unrealized_pnl", "opened_at"))
    return Table(out, headers={"unrealized_pnl": "Unrealized P&L", "exposure": "Exposure (notional)"})


def failed_executions(bundle: EvidenceBundle) -> Table | Markdown:
    """Executions rejected or failed in the window (runbook: are orders executing?)."""
    df = _table(bundle, "executions")
    if df.empty or "status" not in df.columns:
        return _empty("executions")
    bad = df[df["status"].astype(str).str.lower().isin(["rejected", "failed", "error", "timeout", "cancelled"])]
    if bad.empty:
        return _md(f"All {len(df):,} executions in the window succeeded.")
    out = _pick(bad, ("timestamp", "order_id", "symbol", "side", "quantity", "status", "latency_ms", "error"))
    return Table(out, caption=f"{len(bad):,} of {len(df):,} executions rejected or failed", collapse_after=8)


def reconciliation(bundle: EvidenceBundle) -> Table | Markdown:
    """Position reconciliation rows, mismatches first; a one-line summary when all match."""
    df = _table(bundle, "reconcile")
    if df.empty:
        return _empty("reconciliation result")
    if "status" in df.columns:
        ok = df["status"].astype(str).str.lower().isin(["ok", "matched", "match"])
        if ok.all():
            when = fmt_time(df["checked_at"].max(), seconds=False) if "checked_at" in df.columns else ""
            return _md(f"All {len(df):,} positions reconcile with the broker" + (f" (checked {when} UTC)." if when else "."))
        df = df.assign(_ok=ok).sort_values("_ok").drop(columns="_ok")
    return Table(_pick(df, ("checked_at", "account", "symbol", "internal_quantity", "broker_quantity", "difference",
                            "status", "detail")))


def timeline_table(bundle: EvidenceBundle, *, max_rows: int = 200) -> Table:
    """The merged cross-source timeline, oldest first."""
    t = timeline(bundle)
    out = _pick(t, ("timestamp", "service", "kind", "severity", "summary", "source"))
    out["kind"] = out["kind"].astype(object).map(lambda k: str(k).replace("_", " ") if isinstance(k, str) else k)
    return Table(out, headers={"timestamp": "Time (UTC)"}, max_rows=max_rows, css_class="timeline")


def error_signatures(bundle: EvidenceBundle, *, limit: int = 15) -> Table | Markdown:
    """Error message templates (numbers, ids, quoted values masked) by count."""
    sig = logs_analysis.error_signatures(bundle.table("logs"), limit=limit)
    if sig.empty:
        return _empty("error log lines")
    return Table(_pick(sig, ("signature", "count", "first_seen", "last_seen", "services", "level")),
                 headers={"count": "Lines"})


def error_bursts(bundle: EvidenceBundle) -> Table | Markdown:
    """Periods where a service's error rate rose well above its own baseline."""
    b = logs_analysis.error_bursts(bundle.table("logs"))
    if b.empty:
        return _empty("error bursts")
    return Table(_pick(b, ("service", "start", "end", "errors", "peak_per_bucket", "baseline_per_bucket",
                           "first_line")),
                 headers={"errors": "Error lines", "peak_per_bucket": "Peak per minute",
                          "baseline_per_bucket": "Baseline per minute", "first_line": "First line (file:line)"})


def breaches(bundle: EvidenceBundle) -> Table | Markdown:
    """Threshold breaches of the query catalogue's rules, with peak in the metric's unit."""
    b = bundle_breaches(bundle)
    if b.empty:
        return _empty("threshold breaches")
    units = {name: entry.unit for name, entry in catalogue().items()}
    unit = b["name"].map(lambda n: units.get(str(n), "")) if "name" in b.columns else ""

    def with_unit(v: object, u: object) -> str:
        return MISSING if pd.isna(v) else f"{fmt_number(v)} {u}".strip()

    out = pd.DataFrame({
        "start": b["start"], "end": b["end"], "service": b.get("service"), "severity": b.get("severity"),
        "metric": b.get("name"),
        "rule": [f"{r} ({o} {with_unit(t, u)})" for r, o, t, u in zip(b["rule"], b["op"], b["threshold"], unit, strict=True)],
        "peak": [with_unit(v, u) for v, u in zip(b["peak"], unit, strict=True)],
        "peak_at": b["peak_at"],
        "ongoing at window end": b["ongoing"].fillna(False).astype(bool) if "ongoing" in b.columns else None,
    })
    return Table(out, headers={"peak_at": "Peak at (UTC)"})


def top_statements(bundle: EvidenceBundle, *, limit: int = 10) -> Table | Markdown:
    """Top statements by total time: inside the window when a delta was taken, else cumulative."""
    name = "pg_statements_delta" if bundle.has("pg_statements_delta") else "pg_statements"
    df = _table(bundle, name)
    if df.empty:
        return _empty("pg_stat_statements rows")
    df = df.sort_values("total_exec_time_ms", ascending=False).head(limit)
    out = _pick(df, ("query", "calls", "total_exec_time_ms", "mean_exec_time_ms", "baseline_mean_exec_time_ms",
                     "rows", "shared_blks_read"))
    caption = "within the collection window (delta of two snapshots)" if name == "pg_statements_delta" \
        else "cumulative since the statistics were last reset"
    return Table(out, caption=caption, headers={"total_exec_time_ms": "Total time (ms)",
                                                "mean_exec_time_ms": "Mean time (ms)",
                                                "baseline_mean_exec_time_ms": "Baseline mean (ms)",
                                                "shared_blks_read": "Blocks read"})


def lock_waits(bundle: EvidenceBundle) -> Table | Markdown:
    """Ungranted locks with their blockers (root blockers first), latest sample per waiter."""
    df = _table(bundle, "pg_locks")
    if df.empty:
        return _empty("lock waits")
    if "sampled_at" in df.columns:
        df = df.sort_values("sampled_at").drop_duplicates(subset=["pid", "granted"], keep="last")
    sort = [c for c in ("root_blocker", "depth") if c in df.columns]
    if sort:
        df = df.sort_values(sort)
    out = _pick(df, ("pid", "application_name", "relation", "mode", "granted", "blocked_by", "waiting_s", "depth",
                     "query"))
    return Table(out, headers={"application_name": "Application", "blocked_by": "Blocked by (pid)",
                               "pid": "PID", "waiting_s": "Waiting (s)"})


def connections(bundle: EvidenceBundle) -> Table | Markdown:
    """Connections by state and application against max_connections (latest sample)."""
    df = _table(bundle, "pg_connections")
    if df.empty:
        return _empty("connection counts")
    if "sampled_at" in df.columns:
        df = df[df["sampled_at"] == df["sampled_at"].max()]
    out = _pick(df.sort_values("count", ascending=False), ("state", "application_name", "count", "max_connections"))
    return Table(out, headers={"application_name": "Application", "count": "Connections"})


def suspects(bundle: EvidenceBundle, *, limit: int = 10) -> Table | Markdown:
    """Changes ranked by how likely they caused the incident, each with its reason."""
    s = suspects_analysis.suspects(bundle)
    if s.empty:
        return _empty("changes before the first symptom")
    s = s.head(limit)
    out = _pick(s, ("rank", "kind", "timestamp", "service", "summary", "score", "reason"))
    links = _commit_links(bundle, s["sha"]) if "sha" in s.columns else []
    return Table(out, headers={"timestamp": "Time (UTC)", "summary": "Change"},
                 links={"summary": links} if links else {}, fold=400)


def health(bundle: EvidenceBundle) -> Table | Markdown:
    """The health snapshot of every service (taken at collection time, not during the incident)."""
    df = bundle.table("health")
    if df.empty:
        return _empty("health checks")
    out = _pick(df, ("service", "status", "status_code", "latency_ms", "error", "checked_at", "url"))
    return Table(out, headers={"status_code": "HTTP status", "url": "URL"})


def sources(bundle: EvidenceBundle) -> Block:
    """One line: how many sources answered, and only the ones that did not (with why);
    the full per-table list folded underneath."""
    st = bundle.status_table()
    problems = st[~st["status"].isin(["ok"])]
    answered = len(st) - len(problems)
    line = f"{answered} of {len(st)} evidence tables collected without a problem."
    items = [f"{r.table} ({r.source}): {r.status}" + (f" — {r.error}" if isinstance(r.error, str) and r.error else "")
             for r in problems.itertuples(index=False)]
    detail = Table(_pick(st, ("table", "source", "status", "rows", "duration_s", "error")),
                   headers={"duration_s": "Took (s)"})
    html = (f'<p class="eafix-sources">{esc(line)}</p>'
            + ("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>" if items else "")
            + f"<details><summary>Every table, its source and row count</summary>{detail._repr_html_()}</details>")
    md = line + ("\n\n" + "\n".join(f"- {md_escape(i)}" for i in items) if items else "")
    return Block(html, md)




def seen_before(
    bundle: EvidenceBundle, *, output_dir: str | None = None, catalog_url: str | None = None, limit: int = 5
) -> Table | Markdown:
    """Past incidents of the incident library that look like this one, best first,
    linked to their reports when those sit in the same output folder."""
    found, _ = _library(bundle, output_dir=output_dir, catalog_url=catalog_url)
    if found is None or len(found) == 0:
        return _md("_No similar past incident in the library (index bundles with `eafix-forensics index`)._")
    found = found.head(limit)
    out = _pick(found, ("rank", "incident_id", "title", "severity", "triggered_at", "score", "shared_services",
                        "shared_signatures", "root_causes", "action_items"))
    links = [_report_href(output_dir, str(i)) for i in found["incident_id"]]
    return Table(out, headers={"incident_id": "Incident", "triggered_at": "Triggered (UTC)"},
                 links={"incident_id": links})


def missing(bundle: EvidenceBundle) -> Table | Markdown:
    """Sources whose evidence is missing or unavailable, and why."""
    m = missing_sources(bundle)
    return _md("Every source answered.") if m.empty else Table(m.reset_index(drop=True))


