"""What the report notebooks display: one call per cell, one readable object back.

Each function takes a bundle (or the bundle's :class:`~eafix_forensics.analysis.verdict.Verdict`)
and returns a :class:`~eafix_forensics.render.Table` (a table for people: no
index, units and "UTC" in the headers, nothing cut), a
:class:`~eafix_forensics.render.Block` or a ``Markdown`` block. Views only
arrange and format what ``analysis/`` computes; they read no source and decide nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .analysis import key_times as key_times_analysis
from .analysis import logs as logs_analysis
from .analysis import suspects as suspects_analysis
from .analysis.health import impact_from_bundle
from .analysis.incident import incident_from_bundle
from .analysis.severity import suggest_severity
from .analysis.sla import sla_report
from .analysis.timeline import bundle_breaches, missing_sources, timeline
from .analysis.trends import repeated_action_items
from .analysis.updates import update_message
from .analysis.verdict import verdict
from .bundle import EvidenceBundle
from .catalog import Catalog, similar
from .errors import ForensicsError
from .model.catalogue import catalogue
from .render import (
    MISSING,
    Block,
    Table,
    duration,
    esc,
    fmt_number,
    fmt_time,
    md_escape,
    md_to_html,
)
from .report import default_output_dir

if TYPE_CHECKING:
    from IPython.display import Markdown

    from .analysis.verdict import Verdict

__all__ = [
    "action_items",
    "breaches",
    "connections",
    "decide",
    "detection",
    "duration",
    "error_bursts",
    "error_signatures",
    "failed_executions",
    "headline",
    "health",
    "impact",
    "impact_numbers",
    "key_times",
    "lessons_learned",
    "lock_waits",
    "missing",
    "open_positions",
    "reconciliation",
    "resolution",
    "response_evaluation",
    "review_summary",
    "root_cause",
    "seen_before",
    "severity",
    "sla",
    "sources",
    "suspects",
    "timeline_table",
    "top_statements",
    "triage_card",
]


def _md(text: str) -> Markdown:
    # deferred: IPython costs ~60 ms and is only needed inside a notebook
    from IPython.display import Markdown

    return Markdown(text)  # type: ignore[no-untyped-call]


def _escape(text: object) -> str:
    # Evidence text goes into Markdown: neutralise markup so a log line stays a log line.
    return md_escape(text)


def _empty(what: str) -> Markdown:
    return _md(f"_No {what} in the evidence._")


def _table(bundle: EvidenceBundle, name: str) -> pd.DataFrame:
    return bundle.table(name) if bundle.has(name) else pd.DataFrame()


def _pick(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    return df[[c for c in cols if c in df.columns]].reset_index(drop=True)


def _when(ts: object) -> str:
    """``14:05 UTC`` for a time on the incident's day, as the card and the review say it."""
    return MISSING if ts is None or pd.isna(ts) else f"{pd.Timestamp(ts).tz_convert('UTC'):%H:%M} UTC"


def _web_url(bundle: EvidenceBundle) -> str:
    git = (bundle.manifest.get("config") or {}).get("git") or {}
    return str(git.get("web_url") or "").rstrip("/")


def _commit_links(bundle: EvidenceBundle, shas: pd.Series) -> list[str]:
    """``[git] web_url``/commit/<sha> for each sha ("" when unknown); ``{repo}`` in the
    URL becomes the commit's repository, as for the verdict's cause."""
    base = _web_url(bundle)
    if not base:
        return []
    commits = _table(bundle, "commits")
    repos = dict(zip(commits["sha"].astype(str), commits["repo"].astype(str), strict=False)) \
        if len(commits) and "repo" in commits.columns else {}
    return [f"{base.replace('{repo}', repos.get(s, ''))}/commit/{s}" if isinstance(s, str) and len(s) >= 7 else ""
            for s in shas]


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


def _report_href(output_dir: str | Path | None, incident_id: str, here: str | Path | None = None) -> str:
    """A relative link from this incident's report folder to another incident's
    investigation report, when that report exists in the same output folder."""
    base = Path(output_dir) if output_dir else None
    if base is None:
        base = default_output_dir()
    target = base / incident_id / "investigation.html"
    return f"../{incident_id}/investigation.html" if target.is_file() else ""


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


# Which milestone each runbook SLA clock starts from (analysis/sla.py).
_SLA_FROM = {"acknowledge": "trigger", "respond": "trigger", "resolve": "trigger", "initial_update": "trigger",
             "update_cadence": "previous update", "resolution_notice": "resolution"}


def sla(bundle: EvidenceBundle) -> Table | Markdown:
    """Each runbook SLA: target, actual (with the milestone its clock starts from), met or missed, margin."""
    try:
        rep = sla_report(bundle)
    except ForensicsError as exc:  # no incident record: say so in the review instead of failing it
        return _md(f"_No SLA report: {_escape(exc)}_")
    out = pd.DataFrame({
        "SLA": rep["sla"].astype(object).map(lambda v: str(v).replace("_", " ")),
        "target": rep["target"],
        "actual": rep["actual"],
        "measured from": [f"{_SLA_FROM.get(str(n), 'start')} ({_when(t)})" for n, t in zip(rep["sla"], rep["started_at"], strict=True)],
        "met": rep["met"].map(lambda m: "✓ met" if m is True else ("✗ missed" if m is False else "open")),
        "margin": rep["margin"],
        "clock": rep["clock"],
    })
    return Table(out)


def response_evaluation(bundle: EvidenceBundle) -> Table | Markdown:
    """The status updates as posted, with the gap since the previous one."""
    df = _table(bundle, "incident_updates")
    if df.empty:
        return _empty("status updates")
    df = df.sort_values("timestamp")
    df = df.assign(gap=df["timestamp"].diff())
    return Table(_pick(df, ("timestamp", "status", "gap", "text")),
                 headers={"timestamp": "Posted (UTC)", "gap": "Since previous update"})


ACTION_COLUMNS = ("text", "type", "priority", "owner", "due", "status", "link")


def action_items(bundle: EvidenceBundle, *, output_dir: str | None = None, catalog_url: str | None = None) -> Table | Markdown:
    """Action items of the incident record with type (prevent/mitigate/detect), priority,
    owner, due date, status and link ("—" where the record does not say yet), and a
    flag on any item that repeats an item still open on an earlier incident."""
    df = _table(bundle, "action_items")
    if df.empty:
        return _md("_No action items recorded yet: add `[[action_items]]` (text, type, priority, owner, due, "
                   "status, link) to the incident record._")
    out = pd.DataFrame({c: (df[c] if c in df.columns else pd.Series([None] * len(df), dtype=object))
                        for c in ACTION_COLUMNS})
    earlier = _earlier_open_items(bundle, output_dir=output_dir, catalog_url=catalog_url)
    repeats = repeated_action_items(out["text"], earlier)
    out["repeats"] = repeats.map(lambda r: f"⚠ repeats {r}" if isinstance(r, str) else None)
    links = [str(v) if isinstance(v, str) and v.startswith(("http://", "https://")) else "" for v in out["link"]]
    return Table(out, headers={"text": "Action item", "repeats": "Repeats an earlier open item"},
                 links={"link": links})


def _earlier_open_items(bundle: EvidenceBundle, *, output_dir: str | None, catalog_url: str | None) -> pd.DataFrame:
    """Open action items of other incidents in the library (empty without one)."""
    _, items = _library(bundle, output_dir=output_dir, catalog_url=catalog_url)
    if items is None:
        return pd.DataFrame(columns=["incident_id", "text", "age_days"])
    return items[items["incident_id"] != bundle.incident_id].reset_index(drop=True)


# One look into the incident library per report: the verdict's similar incident, the
# Seen before table and the repeated action items all read the same two answers.
_LIBRARY: weakref.WeakKeyDictionary[EvidenceBundle, tuple[tuple[Any, ...], Any, Any]] = weakref.WeakKeyDictionary()


def _library(bundle: EvidenceBundle, *, output_dir: str | None,
             catalog_url: str | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """``similar(bundle, catalog)`` and ``catalog.open_action_items()``; (None, None) without a library."""
    key = (str(output_dir or ""), str(catalog_url or ""))
    hit = _LIBRARY.get(bundle)
    if hit is not None and hit[0] == key:
        return hit[1], hit[2]
    found = items = None
    try:
        catalog = Catalog.open(catalog_url, output_dir=output_dir or None)
    except ForensicsError:
        catalog = None
    if catalog is not None:
        try:
            found = similar(bundle, catalog)
            items = catalog.open_action_items()
        except ForensicsError:
            found = items = None
        finally:
            catalog.close()
    _LIBRARY[bundle] = (key, found, items)
    return found, items


LESSONS = (
    ("What went well", "Detection, response or tooling that worked and should be kept."),
    ("What went wrong", "Gaps in detection, response, runbooks or tooling; each one deserves an action item."),
    ("Where we got lucky", "What limited the damage by chance rather than by design."),
)


def lessons_learned() -> Markdown:
    """The postmortem's lessons-learned scaffold (what went well / wrong / where we got lucky), for the meeting to fill."""
    return _md("\n\n".join(f"**{title}**  \n_{hint}_\n\n- (to be filled in the review meeting)" for title, hint in LESSONS))


# ------------------------------------------------------------------ from the verdict
def decide(bundle: EvidenceBundle, *, output_dir: str | None = None, catalog_url: str | None = None) -> Verdict:
    """The bundle's :func:`~eafix_forensics.analysis.verdict.verdict`, with the incident
    library's most similar past incident when a library exists (none is no error)."""
    return verdict(bundle, similar=_similar_frame(bundle, output_dir=output_dir, catalog_url=catalog_url))


def _similar_frame(bundle: EvidenceBundle, *, output_dir: str | None, catalog_url: str | None) -> pd.DataFrame | None:
    found, items = _library(bundle, output_dir=output_dir, catalog_url=catalog_url)
    if found is None or not len(found):
        return found
    found = found.copy()
    # The verdict lists the similar incident's *open* items with their age, and links its report.
    if items is not None:
        found["action_items"] = [
            [{"text": str(r.text), "owner": str(r.owner) if isinstance(r.owner, str) else "",
              "age_days": float(r.age_days)} for r in items[items["incident_id"] == iid].itertuples(index=False)]
            for iid in found["incident_id"]
        ]
    found["report"] = [_report_href(output_dir, str(i)) for i in found["incident_id"]]
    return found


def _code_spans(text: str) -> str:
    """HTML of ``text`` with its `backtick` spans as <code>."""
    # Inside code, lines break only between words (never inside a service name at its hyphen);
    # a word too long for a phone's line (a URL) may still break anywhere.
    parts = str(text).split("`")
    return "".join(
        "<code>" + " ".join(f'<span class="nw">{esc(w)}</span>' if len(w) <= 28 else esc(w) for w in p.split(" "))
        + "</code>" if i % 2 else esc(p)
        for i, p in enumerate(parts)
    )


def _current_status(bundle: EvidenceBundle) -> str:
    df = _table(bundle, "incident_updates")
    if len(df) and "status" in df.columns and df["status"].notna().any():
        return str(df.sort_values("timestamp")["status"].dropna().iloc[-1])
    inc = _table(bundle, "incident")
    if len(inc) and "resolved_at" in inc.columns and inc["resolved_at"].notna().any():
        return "Resolved"
    return "Investigating"


def _cause_line(c: Any) -> str:
    if c.tag:
        what = c.tag if c.tag.startswith(c.kind) else f"{c.kind} {c.tag}"
    else:
        what = f"{c.kind} {c.sha[:10]}" if c.sha else c.kind
    parts = [f"{what} of {c.service or 'an unknown service'} at {fmt_time(c.timestamp, seconds=False)} UTC"]
    if c.lead is not None:
        parts[0] += f", {duration(c.lead)} before the first symptom"
    return parts[0]


def _cause_facts(c: Any) -> list[str]:
    facts = []
    if c.subject:
        facts.append(f"“{c.subject}”" + (f" by {c.author}" if c.author else ""))
    if c.version:
        facts.append(f"version {c.version}" + (f" (roll back to {c.previous_tag})" if c.previous_tag else ""))
    if c.files_changed is not None:
        files = "file" if c.files_changed == 1 else "files"
        facts.append(f"{c.files_changed:,} {files} changed, +{c.insertions or 0:,} −{c.deletions or 0:,}")
    if c.sha:
        facts.append(f"commit {c.sha[:10]}")
    return facts


def triage_card(v: Verdict, bundle: EvidenceBundle) -> Block:
    """The first screen of the investigation report, from the verdict: what is broken
    and since when (and how long before detection), severity with its reasons, the
    likely cause or "no change explains these symptoms", trading impact, the
    runbook's next steps, the status update to post now, and the most similar past incident."""
    sev = v.severity or "P?"
    first = v.first_symptom
    if first is not None:
        title = f"{', '.join(v.broken_services[:2]) or first.service or 'the system'} failing since {_when(first.timestamp)}"
        if len(v.broken_services) > 2:
            title += f" (+{len(v.broken_services) - 2} more)"
    else:
        title = "no symptom in the evidence"
    h: list[str] = [f'<div class="eafix-card sev-{esc(sev)}" aria-label="Triage">',
                    f'<h2><span class="sev">{esc(sev)}</span> {esc(title)}</h2><div class="eafix-grid"><div>']
    m: list[str] = [f"### {md_escape(sev)} — {md_escape(title)}", ""]
    st = bundle.status_table()
    gaps = st[st["status"].isin(["unavailable", "truncated"])]
    if len(gaps):
        # A verdict on partial evidence must say so where it is read.
        by_source: dict[str, list[str]] = {}
        for r in gaps.itertuples(index=False):
            by_source.setdefault(f"{r.source} {r.status}", []).append(str(r.table))
        line = "Evidence gaps, conclusions may miss them: " + "; ".join(
            f"{k} ({', '.join(v)})" for k, v in by_source.items())
        h.append(f'<p class="gaps"><strong>{esc(line)}</strong></p>')
        m += [f"**{md_escape(line)}**", ""]

    # left column: what, since when, how bad, impact
    # Blocks in two columns when wide; on a phone one column in the order a paged engineer
    # needs them: what broke, the likely cause, the next steps, then the rest.
    h.append('<div class="blk blk-what"><h3>What is broken, since when</h3>')
    m.append("**What is broken, since when**")
    if first is not None:
        since = f"First symptom {fmt_time(first.timestamp)} UTC"
        if v.detected_at is None:
            detected = "Not yet detected by an alert (no trigger time in the incident record)."
        elif v.time_to_detect is not None and v.time_to_detect >= pd.Timedelta(0):
            detected = f"Detected {_when(v.detected_at)}, {duration(v.time_to_detect)} after the first symptom."
        else:
            detected = f"Detected {_when(v.detected_at)}."
        h.append(f"<p><strong>{esc(since)}</strong> — {esc(first.summary)}</p><p>{esc(detected)}</p>")
        m.append(f"**{md_escape(since)}** — {md_escape(first.summary)}  \n{md_escape(detected)}")
        others = [f"{_when(s.timestamp)} {s.service or '?'} ({s.kind.replace('_', ' ')})" for s in v.symptoms[1:]]
        if others:
            h.append(f"<p>Then: {esc('; '.join(others))}.</p>")
            m.append(f"Then: {md_escape('; '.join(others))}.")
    else:
        h.append("<p>No symptom in the evidence window.</p>")
        m.append("No symptom in the evidence window.")
    if v.chronic:
        line = "Present throughout the baseline (not the cause): " + "; ".join(
            f"{c.service}: {c.summary}" for c in v.chronic[:3])
        h.append(f'<p class="muted">{esc(line)}</p>')
        m.append(f"_{md_escape(line)}_")
    h.append('</div><div class="blk blk-why">')
    h.append(f"<h3>Severity {esc(sev)}: why</h3><ul>")
    m += ["", f"**Severity {md_escape(sev)}: why**"]
    reasons = list(v.severity_reasons) or ["no rule of P0–P2 holds on this evidence"]
    top = [r for r in reasons if r.startswith(sev)] or reasons[:1]
    for r in top:
        h.append(f"<li>{esc(r)}</li>")
        m.append(f"- {md_escape(r)}")
    rest = [r for r in reasons if r not in top]
    if rest:
        h.append(f"<li><details><summary>{len(rest)} lower-level reason{'s' if len(rest) > 1 else ''}</summary>"
                 + "<br>".join(esc(r) for r in rest) + "</details></li>")
        m += [f"- {md_escape(r)}" for r in rest]
    h.append('</ul></div><div class="blk blk-impact"><h3>Trading impact</h3>')
    m += ["", "**Trading impact**"]
    impact_line = (v.impact.summary or "no trading data in the evidence").rstrip(".")
    # The verdict's summary may already say these; the card adds only what it leaves out.
    if v.impact.exposure is not None and "exposure" not in impact_line:
        cur = f" {v.impact.currency}" if v.impact.currency else " (notional, currency not reported)"
        impact_line += f"; open exposure {fmt_number(v.impact.exposure)}{cur}"
    if v.impact.services_down and "down:" not in impact_line:
        impact_line += f"; down: {', '.join(v.impact.services_down)}"
    h.append(f"<p>{esc(impact_line)}.</p>")
    m.append(f"{md_escape(impact_line)}.")
    if v.at_collection:
        h.append('<p class="muted">' + esc("; ".join(v.at_collection)) + "</p>")
        m.append("_" + md_escape("; ".join(v.at_collection)) + "_")

    # right column: cause, next steps, update, seen before
    h.append('</div></div><div><div class="blk blk-cause">')
    if v.cause is not None:
        c = v.cause
        h.append(f"<h3>Likely cause ({esc(v.confidence)} confidence)</h3>")
        m += ["", f"**Likely cause ({md_escape(v.confidence)} confidence)**"]
        line = _cause_line(c)
        link = f' <a href="{esc(c.url)}">view commit</a>' if c.url else ""
        h.append(f"<p><strong>{esc(line)}</strong>{link}</p>")
        m.append(f"{md_escape(line)}" + (f" ([commit]({c.url}))" if c.url else ""))
        facts = _cause_facts(c)
        if facts:
            h.append(f"<p>{esc('; '.join(facts))}</p>")
            m.append(md_escape("; ".join(facts)))
    else:
        h.append(f"<h3>Likely cause</h3><p><strong>{esc(v.no_cause or 'no change explains these symptoms')}</strong>"
                 f' <span class="muted">({esc(v.confidence_basis)})</span></p>')
        m += ["", "**Likely cause**", (f"{md_escape(v.no_cause or 'no change explains these symptoms')} "
              f"({md_escape(v.confidence_basis)})")]
        if v.look_next:
            h.append("<p>Look next at:</p><ul>" + "".join(f"<li>{_code_spans(x)}</li>" for x in v.look_next) + "</ul>")
            m += ["Look next at:"] + [f"- {x}" for x in v.look_next]
    h.append('</div><div class="blk blk-next"><h3>Next steps</h3><ol>')
    m += ["", "**Next steps**"]
    for i, step in enumerate(v.next_steps or ("Follow the runbook's triage phase",), start=1):
        step = step.replace("INCIDENT ", f"{v.incident_id} ")
        h.append(f"<li>{_code_spans(step)}</li>")
        m.append(f"{i}. {step}")
    h.append('</ol></div><div class="blk blk-more">')
    status = _current_status(bundle)
    try:
        message = update_message(bundle, status)
    except ForensicsError:
        message = ""
    if message:
        h.append(f"<details><summary>Status update to post ({esc(status)}, runbook template)</summary>"
                 f"<pre>{esc(message)}</pre></details>")
        m += ["", f"**Status update to post ({status})**", "", "```", message, "```"]
    if v.similar:
        s = v.similar
        label = f"{s.get('incident_id')} — {s.get('title') or 'untitled'} ({s.get('severity') or '?'}, similarity {float(s.get('score') or 0):.2f})"
        href = s.get("report") or ""
        link = f'<a href="{esc(href)}">{esc(label)}</a>' if href else esc(label)
        h.append(f"<h3>Seen before</h3><p>{link}</p>")
        m += ["", "**Seen before**", f"[{md_escape(label)}]({href})" if href else md_escape(label)]
        items = [i for i in s.get("open_action_items") or [] if isinstance(i, dict)]
        if items:
            h.append("<p>Its action items still open:</p><ul>")
            for it in items[:3]:
                age = it.get("age_days")
                line = f"{it.get('text')}" + (f" ({it.get('owner')}" if it.get("owner") else " (") + \
                    (f", open {float(age):.0f} days)" if age is not None else ")")
                h.append(f"<li>{esc(line)}</li>")
                m.append(f"- {md_escape(line)}")
            h.append("</ul>")
    h.append("</div></div></div></div>")
    return Block("".join(h), "\n".join(m))


# ------------------------------------------------------------------ the postmortem
def _md_block(markdown: str) -> Block:
    return Block(md_to_html(markdown), markdown)


def review_summary(v: Verdict, bundle: EvidenceBundle) -> Block:
    """The postmortem's Summary: what broke, when, how bad, why, and how long until
    mitigated and resolved, every duration counted from the first symptom."""
    kt = key_times_analysis.key_times(bundle)
    first = v.first_symptom
    lines = []
    if first is not None:
        day = f"{pd.Timestamp(first.timestamp):%Y-%m-%d}"
        lines.append(f"On {day} from {_when(first.timestamp)}, {md_escape(', '.join(v.broken_services) or first.service)} "
                     f"failed (first symptom: {md_escape(first.summary)}).")
    reason = v.severity_reasons[0].split(": ", 1)[-1] if v.severity_reasons else "no rule of P0–P2 holds"
    lines.append(f"Severity **{md_escape(v.severity)}**: {md_escape(reason)}.")
    if v.cause is not None:
        lines.append(f"Likely cause ({md_escape(v.confidence)} confidence): {md_escape(_cause_line(v.cause))}"
                     + (f" — {md_escape(v.cause.subject)}" if v.cause.subject else "") + ".")
    else:
        lines.append(f"{md_escape((v.no_cause or 'no change explains these symptoms').capitalize())}.")
    lines.append(f"Impact: {md_escape(v.impact.summary)}.")
    if first is not None:
        t0 = f"the first symptom ({_when(first.timestamp)})"
        spans = []
        if kt.detection is not None:
            spans.append(f"detected {duration(kt.time_to_detect)} after it")
        if kt.mitigation is not None:
            spans.append(f"mitigated at {_when(kt.mitigation)}, {duration(kt.time_to_mitigate)} after it")
        if kt.resolution is not None:
            spans.append(f"resolved at {_when(kt.resolution)}, {duration(kt.time_to_resolve)} after it")
        if spans:
            lines.append(f"Durations count from {t0}: " + "; ".join(spans) + ".")
    return _md_block("\n\n".join(lines))


def impact_numbers(v: Verdict) -> Table:
    """The postmortem's Impact in numbers (orders, signals, positions, duration), each with how it is counted."""
    i = v.impact
    first = v.first_symptom
    rows: list[tuple[str, str, str]] = []

    def of(part: int | None, whole: int | None) -> str:
        if whole is None:
            return "unknown (source unavailable)"
        return f"{part or 0:,} of {whole:,}" + (f" ({(part or 0) / whole:.1%})" if whole else "")

    bad = None if i.orders is None else (i.orders_rejected or 0) + (i.orders_failed or 0)
    rows.append(("orders rejected or failed", of(bad, i.orders), "executions in the evidence window"))
    rows.append(("signals late", of(i.signals_late, i.signals), "signals over the P1 latency threshold"))
    slowest = None if i.signal_latency_max_s is None else round(i.signal_latency_max_s, 2)
    rows.append(("slowest signal (s)", fmt_number(slowest), "signal latency, maximum"))
    rows.append(("open positions", fmt_number(i.positions_open), "at collection"))
    cur = i.currency or "notional, currency not reported"
    rows.append((f"open exposure ({cur})", fmt_number(i.exposure), "sum of open positions' exposure"))
    rows.append(("reconciliation mismatches", fmt_number(i.reconcile_mismatches), "positions vs the broker"))
    rows.append(("services down", ", ".join(i.services_down) or "none", "health checks"))
    start = f"from the first symptom ({_when(first.timestamp)}) to mitigation" if first is not None else "—"
    rows.append(("duration", duration(i.duration), start))
    return Table(pd.DataFrame(rows, columns=["measure", "value", "counted as"]))


def root_cause(v: Verdict) -> Block:
    """Root cause and trigger from the verdict, and a five-whys scaffold for the meeting to fill."""
    lines: list[str] = []
    first = v.first_symptom
    if v.cause is not None:
        c = v.cause
        lines.append(f"**Trigger:** {md_escape(_cause_line(c))}.")
        facts = _cause_facts(c)
        if facts:
            lines.append(f"**Change:** {md_escape('; '.join(facts))}" + (f" ([commit]({c.url}))" if c.url else "") + ".")
        lines.append(f"**Confidence:** {md_escape(v.confidence)} — {md_escape(v.confidence_basis)}.")
        why1 = f"Why did {first.service or 'the service'} fail? {first.summary}" if first is not None else "Why did it fail?"
        why2 = f"Why then? The {c.kind} of {c.service} {duration(c.lead)} before: {c.subject or c.tag or c.sha[:10]}" \
            if c.lead is not None else f"Why then? The {c.kind} of {c.service}"
    else:
        lines.append(f"**No change explains these symptoms** ({md_escape(v.confidence_basis)}).")
        if v.look_next:
            lines.append("Where to look: " + "; ".join(md_escape(x.split(':')[0]) for x in v.look_next) + ".")
        why1 = f"Why did {first.service or 'the service'} fail? {first.summary}" if first is not None else "Why did it fail?"
        why2 = "Why then? (no change in the evidence: fill in)"
    lines.append("**Five whys** (the first answers come from the evidence; the meeting fills the rest):")
    whys = [why1, why2, "Why was that possible? (fill in)", "Why did tests or review not catch it? (fill in)",
            "Why was it not detected sooner? (fill in)"]
    lines += [f"{i}. {md_escape(w)}" for i, w in enumerate(whys, start=1)]
    return _md_block("\n\n".join(lines[:-5]) + "\n\n" + "\n".join(lines[-5:]))


def detection(v: Verdict, bundle: EvidenceBundle) -> Block:
    """How the incident was detected: first symptom, trigger, acknowledgement, each with its start."""
    kt = key_times_analysis.key_times(bundle)
    lines = []
    if v.first_symptom is not None:
        lines.append(f"- First symptom {_when(v.first_symptom.timestamp)}: {md_escape(v.first_symptom.summary)}")
    if kt.detection is not None:
        late = f", {duration(kt.time_to_detect)} after the first symptom" if kt.time_to_detect is not None else ""
        lines.append(f"- Detected {_when(kt.detection)} (incident triggered{late})")
    else:
        lines.append("- No trigger time in the incident record")
    if kt.acknowledgement is not None:
        lines.append(f"- Acknowledged {_when(kt.acknowledgement)}, {duration(kt.time_to_acknowledge)} after detection")
    lines.append("- Could an alert have fired sooner? (fill in: which signal showed it first, and when)")
    return _md_block("\n".join(lines))


def resolution(bundle: EvidenceBundle) -> Block:
    """How it was mitigated and resolved: the end of the last breach, the status updates
    that name the fix (rollback, restart) and the resolution, each with its start."""
    kt = key_times_analysis.key_times(bundle)
    lines = []
    ups = _table(bundle, "incident_updates")
    for r in ups.sort_values("timestamp").itertuples(index=False) if len(ups) else []:
        if str(getattr(r, "status", "")) in ("Identified", "Monitoring", "Resolved"):
            lines.append(f"- {_when(r.timestamp)} {md_escape(r.status)}: {md_escape(r.text)}")
    if kt.mitigation is not None:
        lines.append(f"- Mitigated {_when(kt.mitigation)}, {duration(kt.time_to_mitigate)} after the first symptom "
                     f"({md_escape(kt.mitigation_evidence)})")
    elif kt.mitigation_ongoing:
        lines.append("- Not mitigated by the end of the evidence window (a breach is still ongoing)")
    if kt.resolution is not None:
        lines.append(f"- Resolved {_when(kt.resolution)}, {duration(kt.time_to_resolve)} after the first symptom")
    return _md_block("\n".join(lines) or "_No mitigation or resolution in the evidence yet._")


# ------------------------------------------------------------------ the trends page
def table(frame: pd.DataFrame, **options: Any) -> Table:
    """Any frame as a table for people (see :class:`~eafix_forensics.render.Table`)."""
    return Table(frame.reset_index(drop=True), **options)


def similar_to(catalog: Any, incident_id: str, *, output_dir: str | None = None) -> Block:
    """The library's incidents most like ``incident_id``, best first, with their root
    causes and action items, linked to their reports when those exist."""
    seen = catalog.similar_to(incident_id)
    lead = (f"Past incidents most like {incident_id}, best first (score: 0.7 × the weighted Jaccard index of "
            "their error signatures + 0.3 × the Jaccard index of their services).")
    if seen is None or not len(seen):
        text = f"No past incident in the library looks like {incident_id}."
        return Block(f"<p>{esc(text)}</p>", md_escape(text))
    cols = _pick(seen, ("rank", "incident_id", "score", "severity", "shared_services", "shared_signatures",
                        "root_causes", "action_items"))
    links = [_report_href(output_dir, str(i)).removeprefix("../") for i in seen["incident_id"]]
    t = Table(cols, headers={"incident_id": "Incident"}, links={"incident_id": links})
    return Block(f"<p>{esc(lead)}</p>{t._repr_html_()}", f"{md_escape(lead)}\n\n{t._repr_markdown_()}")
