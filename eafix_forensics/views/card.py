"""The triage card: the investigation report's first screen, from the verdict."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..analysis.updates import update_message
from ..analysis.verdict import verdict
from ..bundle import EvidenceBundle
from ..errors import ForensicsError
from ..render import Block, duration, esc, fmt_number, fmt_time, md_escape
from ._common import _library, _report_href, _table, _when

if TYPE_CHECKING:
    from ..analysis.verdict import Verdict


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


def _md_code_spans(text: str) -> str:
    """Markdown of ``text`` with its `backtick` spans kept as code and the rest escaped: a step
    quoting a commit subject or a tag (evidence) never becomes a link or markup in the export."""
    parts = str(text).split("`")
    # an unpaired backtick (in a subject) stays a literal backtick
    return "".join(f"`{p}`" if i % 2 and i < len(parts) - 1 else ("\\`" if i % 2 else "") + md_escape(p)
                   for i, p in enumerate(parts))


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (CommonMark), so it cannot end early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


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


class _Card:
    """The card's HTML and its Markdown twin, written side by side."""

    def __init__(self) -> None:
        self.h: list[str] = []
        self.m: list[str] = []

    def add(self, html: str, *markdown: str) -> None:
        self.h.append(html)
        self.m.extend(markdown)


def _title(v: Verdict) -> str:
    first = v.first_symptom
    if first is None:
        return "no symptom in the evidence"
    title = f"{', '.join(v.broken_services[:2]) or first.service or 'the system'} failing since {_when(first.timestamp)}"
    if len(v.broken_services) > 2:
        title += f" (+{len(v.broken_services) - 2} more)"
    return title


def _gaps(card: _Card, bundle: EvidenceBundle) -> None:
    # A verdict on partial evidence must say so where it is read.
    st = bundle.status_table()
    gaps = st[st["status"].isin(["unavailable", "truncated"])]
    if not len(gaps):
        return
    by_source: dict[str, list[str]] = {}
    for r in gaps.itertuples(index=False):
        by_source.setdefault(f"{r.source} {r.status}", []).append(str(r.table))
    line = "Evidence gaps, conclusions may miss them: " + "; ".join(
        f"{k} ({', '.join(tables)})" for k, tables in by_source.items())
    card.add(f'<p class="gaps"><strong>{esc(line)}</strong></p>', f"**{md_escape(line)}**", "")


def _what(card: _Card, v: Verdict) -> None:
    card.add('<div class="blk blk-what"><h3>What is broken, since when</h3>', "**What is broken, since when**")
    first = v.first_symptom
    if first is not None:
        since = f"First symptom {fmt_time(first.timestamp)} UTC"
        if v.detected_at is None:
            detected = "Not yet detected by an alert (no trigger time in the incident record)."
        elif v.time_to_detect is not None and v.time_to_detect >= pd.Timedelta(0):
            detected = f"Detected {_when(v.detected_at)}, {duration(v.time_to_detect)} after the first symptom."
        else:
            detected = f"Detected {_when(v.detected_at)}."
        card.add(f"<p><strong>{esc(since)}</strong> — {esc(first.summary)}</p><p>{esc(detected)}</p>",
                 f"**{md_escape(since)}** — {md_escape(first.summary)}  \n{md_escape(detected)}")
        others = [f"{_when(s.timestamp)} {s.service or '?'} ({s.kind.replace('_', ' ')})" for s in v.symptoms[1:]]
        if others:
            card.add(f"<p>Then: {esc('; '.join(others))}.</p>", f"Then: {md_escape('; '.join(others))}.")
    else:
        card.add("<p>No symptom in the evidence window.</p>", "No symptom in the evidence window.")
    if v.chronic:
        line = "Present throughout the baseline (not the cause): " + "; ".join(
            f"{c.service}: {c.summary}" for c in v.chronic[:3])
        card.add(f'<p class="muted">{esc(line)}</p>', f"_{md_escape(line)}_")


def _why(card: _Card, v: Verdict, sev: str) -> None:
    card.add('</div><div class="blk blk-why">')
    card.add(f"<h3>Severity {esc(sev)}: why</h3><ul>", "", f"**Severity {md_escape(sev)}: why**")
    reasons = list(v.severity_reasons) or ["no rule of P0–P2 holds on this evidence"]
    top = [r for r in reasons if r.startswith(sev)] or reasons[:1]
    for r in top:
        card.add(f"<li>{esc(r)}</li>", f"- {md_escape(r)}")
    rest = [r for r in reasons if r not in top]
    if rest:
        card.add(f"<li><details><summary>{len(rest)} lower-level reason{'s' if len(rest) > 1 else ''}</summary>"
                 + "<br>".join(esc(r) for r in rest) + "</details></li>", *(f"- {md_escape(r)}" for r in rest))


def _impact(card: _Card, v: Verdict) -> None:
    card.add('</ul></div><div class="blk blk-impact"><h3>Trading impact</h3>', "", "**Trading impact**")
    line = (v.impact.summary or "no trading data in the evidence").rstrip(".")
    # The verdict's summary may already say these; the card adds only what it leaves out.
    if v.impact.exposure is not None and "exposure" not in line:
        cur = f" {v.impact.currency}" if v.impact.currency else " (notional, currency not reported)"
        line += f"; open exposure {fmt_number(v.impact.exposure)}{cur}"
    if v.impact.services_down and "down:" not in line:
        line += f"; down: {', '.join(v.impact.services_down)}"
    card.add(f"<p>{esc(line)}.</p>", f"{md_escape(line)}.")
    if v.at_collection:
        card.add('<p class="muted">' + esc("; ".join(v.at_collection)) + "</p>",
                 "_" + md_escape("; ".join(v.at_collection)) + "_")


def _cause(card: _Card, v: Verdict) -> None:
    card.add('</div></div><div><div class="blk blk-cause">')
    if v.cause is not None:
        c = v.cause
        card.add(f"<h3>Likely cause ({esc(v.confidence)} confidence)</h3>",
                 "", f"**Likely cause ({md_escape(v.confidence)} confidence)**")
        line = _cause_line(c)
        link = f' <a href="{esc(c.url)}">view commit</a>' if c.url else ""
        card.add(f"<p><strong>{esc(line)}</strong>{link}</p>",
                 f"{md_escape(line)}" + (f" ([commit]({c.url}))" if c.url else ""))
        facts = _cause_facts(c)
        if facts:
            card.add(f"<p>{esc('; '.join(facts))}</p>", md_escape("; ".join(facts)))
        return
    none = v.no_cause or "no change explains these symptoms"
    card.add(f"<h3>Likely cause</h3><p><strong>{esc(none)}</strong>"
             f' <span class="muted">({esc(v.confidence_basis)})</span></p>',
             "", "**Likely cause**", f"{md_escape(none)} ({md_escape(v.confidence_basis)})")
    if v.look_next:
        card.add("<p>Look next at:</p><ul>" + "".join(f"<li>{_code_spans(x)}</li>" for x in v.look_next) + "</ul>",
                 "Look next at:", *(f"- {_md_code_spans(x)}" for x in v.look_next))


def _next_steps(card: _Card, v: Verdict) -> None:
    card.add('</div><div class="blk blk-next"><h3>Next steps</h3><ol>', "", "**Next steps**")
    for i, step in enumerate(v.next_steps or ("Follow the runbook's triage phase",), start=1):
        step = step.replace("INCIDENT ", f"{v.incident_id} ")
        card.add(f"<li>{_code_spans(step)}</li>", f"{i}. {_md_code_spans(step)}")


def _status_update(card: _Card, bundle: EvidenceBundle) -> None:
    status = _current_status(bundle)
    try:
        message = update_message(bundle, status)
    except ForensicsError:
        message = ""
    if message:
        card.add(f"<details><summary>Status update to post ({esc(status)}, runbook template)</summary>"
                 f"<pre>{esc(message)}</pre></details>",
                 "", f"**Status update to post ({md_escape(status)})**", "", _fence(message), message, _fence(message))


def _seen_before(card: _Card, v: Verdict) -> None:
    if not v.similar:
        return
    s = v.similar
    label = (f"{s.get('incident_id')} — {s.get('title') or 'untitled'} ({s.get('severity') or '?'}, "
             f"similarity {float(s.get('score') or 0):.2f})")
    href = s.get("report") or ""
    link = f'<a href="{esc(href)}">{esc(label)}</a>' if href else esc(label)
    card.add(f"<h3>Seen before</h3><p>{link}</p>",
             "", "**Seen before**", f"[{md_escape(label)}]({href})" if href else md_escape(label))
    items = [i for i in s.get("open_action_items") or [] if isinstance(i, dict)]
    if not items:
        return
    card.add("<p>Its action items still open:</p><ul>")
    for it in items[:3]:
        age = it.get("age_days")
        line = f"{it.get('text')}" + (f" ({it.get('owner')}" if it.get("owner") else " (") + \
            (f", open {float(age):.0f} days)" if age is not None else ")")
        card.add(f"<li>{esc(line)}</li>", f"- {md_escape(line)}")
    card.add("</ul>")


def triage_card(v: Verdict, bundle: EvidenceBundle) -> Block:
    """The first screen of the investigation report, from the verdict: what is broken
    and since when (and how long before detection), severity with its reasons, the
    likely cause or "no change explains these symptoms", trading impact, the
    runbook's next steps, the status update to post now, and the most similar past incident.

    Blocks sit in two columns when wide; on a phone in one column, in the order a paged
    engineer needs them: what broke, the likely cause, the next steps, then the rest."""
    sev = v.severity or "P?"
    title = _title(v)
    card = _Card()
    card.add(f'<div class="eafix-card sev-{esc(sev)}" aria-label="Triage">'
             f'<h2><span class="sev">{esc(sev)}</span> {esc(title)}</h2><div class="eafix-grid"><div>',
             f"### {md_escape(sev)} — {md_escape(title)}", "")
    _gaps(card, bundle)
    # left column: what, since when, how bad, impact
    _what(card, v)
    _why(card, v, sev)
    _impact(card, v)
    # right column: cause, next steps, update, seen before
    _cause(card, v)
    _next_steps(card, v)
    card.add('</ol></div><div class="blk blk-more">')
    _status_update(card, bundle)
    _seen_before(card, v)
    card.add("</div></div></div></div>")
    return Block("".join(card.h), "\n".join(card.m))
