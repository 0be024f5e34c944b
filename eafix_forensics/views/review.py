"""The post-incident review: summary, impact, root cause, detection, resolution,
SLAs, status updates, action items and the lessons-learned scaffold."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..analysis import key_times as key_times_analysis
from ..analysis.sla import sla_report
from ..analysis.trends import repeated_action_items
from ..bundle import EvidenceBundle
from ..errors import ForensicsError
from ..render import Block, Table, duration, fmt_number, md_escape, md_to_html
from ._common import _empty, _escape, _library, _md, _pick, _table, _when
from .card import _cause_facts, _cause_line

if TYPE_CHECKING:
    from IPython.display import Markdown

    from ..analysis.verdict import Verdict


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



LESSONS = (
    ("What went well", "Detection, response or tooling that worked and should be kept."),
    ("What went wrong", "Gaps in detection, response, runbooks or tooling; each one deserves an action item."),
    ("Where we got lucky", "What limited the damage by chance rather than by design."),
)


def lessons_learned() -> Markdown:
    """The postmortem's lessons-learned scaffold (what went well / wrong / where we got lucky), for the meeting to fill."""
    return _md("\n\n".join(f"**{title}**  \n_{hint}_\n\n- (to be filled in the review meeting)" for title, hint in LESSONS))


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


