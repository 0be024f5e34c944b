"""INC-DEMO's story, written down once by hand: the ground truth its reports must tell.

Read from the demo's source (eafix_forensics/demo/sample.py: the commits, tags, logs,
series and incident record it plants) and the runbook (severity classes, SLA targets),
not from what the analysis computes, so a change to a finding shows up as a
contradiction here rather than being copied into a snapshot:

- 13:40 execution-engine commit "switch broker client to async connection pool",
  deployed as tag deploy-execution-engine-2024.12.02 at 13:48 (the culprit; the only
  other change is an indicator-engine commit at 09:10)
- 13:55:00 first BrokerTimeout ERROR in execution-engine: the first symptom
- 14:02-14:50 signal-generator p95 signal latency above 5 s: P1 by the runbook
  ("Significant latency increase (>5s for signals)")
- 14:05 triggered (detection), 14:09 acknowledged, 14:20 responded, 15:20 resolved
- 14:50 the last breach ends (mitigation); 14:30 health: execution-engine HTTP 503
- SLA for P1 (runbook): acknowledge < 15 min (4 min: met), respond < 30 min (15 min:
  met), resolve < 8 h (1 h 15 min from the trigger: met), initial update within the
  response SLA (14:15, 10 min: met), updates every 30 min (14:15, 14:45, 15:05, 15:20:
  longest gap 30 min: met), resolution notice within 15 min (Resolved posted 15:20: met)

``contradictions(text, kind)`` lists the facts a rendered report's text fails to
state; the tests check both HTML reports with it and ``make notebook-refs``
(scripts/notebook_refs.py) refuses to store references from a run that fails it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEPLOY_TAG = "deploy-execution-engine-2024.12.02"
DAY = "2024-12-02"
DEPLOY = "13:48"
FIRST_ERROR = "13:55"
LATENCY_P1 = ("14:02", "14:50")  # signal latency above 5 s
TRIGGERED, ACKNOWLEDGED, RESOLVED = "14:05", "14:09", "15:20"
MITIGATED = "14:50"
# SLA row -> (target, actual, met) for P1, as the runbook's tables give them
SLA = {
    "acknowledge": ("15 min", "4 min", True),
    "respond": ("30 min", "15 min", True),
    "resolve": ("8 h 00 min", "1 h 15 min", True),
    "initial update": ("30 min", "10 min", True),
    "update cadence": ("30 min", "30 min", True),
    "resolution notice": ("15 min", "0 s", True),
}


@dataclass(frozen=True)
class Fact:
    says: str  # the fact, as a reviewer would put it
    kinds: tuple[str, ...]  # the reports that must state it: "investigation", "review"
    pattern: str  # how the report's text states it (whitespace collapsed to single spaces)
    # (regex with one group, value): wherever the report states this, the group must be the
    # value (one right statement does not excuse a wrong one elsewhere on the page)
    each: tuple[str, str] | None = None


def _t(hhmm: str) -> str:
    return re.escape(f"{DAY} {hhmm}")


_CULPRIT = re.escape(f"{DEPLOY_TAG} of execution-engine at {DAY} {DEPLOY} UTC")
FACTS = [
    Fact(f"the top suspect is the execution-engine deploy at {DEPLOY}", ("investigation",),
         rf"Likely cause \(high confidence\) {_CULPRIT}", each=(r"Likely cause \([^)]*\) (\S+)", DEPLOY_TAG)),
    Fact(f"the root cause names the execution-engine deploy at {DEPLOY}", ("review",),
         rf"Trigger: {_CULPRIT}"),
    Fact(f"the deploy is on the timeline at {DEPLOY}", ("investigation",),
         rf"{_t(DEPLOY)}:00 execution-engine deploy info deploy {re.escape(DEPLOY_TAG)}"),
    Fact(f"the first symptom is the first execution-engine error at {FIRST_ERROR}", ("investigation", "review"),
         rf"[Ff]irst symptom (?:{DAY} )?{FIRST_ERROR}(?::00)?\b[^.]{{0,40}}?first[ _]error (?:in|on) execution-engine",
         each=(rf"(?i)first symptom:? \(?(?:{DAY} )?(\d\d:\d\d)", FIRST_ERROR)),
    Fact("the deploy came 7 min before the first symptom", ("investigation", "review"),
         rf"{_CULPRIT}, 7 min before the first symptom"),
    Fact("the suggested severity is P1", ("investigation",), r"Suggested severity: P1\b",
         each=(r"Suggested severity:? (P\d)", "P1")),
    Fact(f"P1 because signal latency was above 5 s from {LATENCY_P1[0]} to {LATENCY_P1[1]}", ("investigation",),
         rf"P1: signal latency above 5 s: signal_latency_p95 above 5 s from {LATENCY_P1[0]} to {LATENCY_P1[1]}"),
    Fact("the review's severity is P1", ("review",), r"Severity P1\b"),
    Fact(f"detected (triggered) at {TRIGGERED}, 10 min after the first symptom", ("investigation", "review"),
         rf"detection {_t(TRIGGERED)}:00 time to detect 10 min"),
    Fact(f"acknowledged at {ACKNOWLEDGED}", ("investigation", "review"),
         rf"acknowledgement {_t(ACKNOWLEDGED)}:00 time to acknowledge 4 min"),
    Fact(f"mitigated at {MITIGATED}, when the last breach ended", ("investigation", "review"),
         rf"mitigation {_t(MITIGATED)}:00 time to mitigate 55 min first symptom \({FIRST_ERROR} UTC\) "
         r"end of the last breach", each=(rf"(?i)\bmitigat(?:ion|ed)(?: at)? (?:{DAY} )?(\d\d:\d\d)", MITIGATED)),
    Fact(f"resolved at {RESOLVED}", ("investigation", "review"),
         rf"resolution {_t(RESOLVED)}:00 time to resolve 1 h 25 min first symptom \({FIRST_ERROR} UTC\)"),
    Fact("execution-engine's health check was down (HTTP 503)", ("investigation",),
         r"execution-engine down 503 [\d,]+ HTTP 503"),
    *[
        Fact(f"SLA {name}: target {target}, actual {actual}, {'met' if met else 'missed'}", ("review",),
             rf"\b{re.escape(name)} {re.escape(target)} {re.escape(actual)} [^✓✗]{{0,40}}"
             + ("✓ met" if met else "✗ missed"))
        for name, (target, actual, met) in SLA.items()
    ],
]


def normalise(text: str) -> str:
    return " ".join(text.split())


def html_text(html: str | Path) -> str:
    """What a reader sees of an HTML report: its text, whitespace collapsed (no markup,
    no style or script)."""
    from bs4 import BeautifulSoup

    raw = html.read_text(encoding="utf-8") if isinstance(html, Path) else html
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["style", "script"]):
        tag.decompose()
    return normalise(soup.get_text(" "))


def contradictions(text: str, kind: str) -> list[str]:
    """The story's facts for report ``kind`` that ``text`` does not state."""
    if kind not in ("investigation", "review"):
        raise ValueError(f"no story for report kind {kind!r}")
    text = normalise(text)
    out = []
    for f in FACTS:
        if kind not in f.kinds:
            continue
        if not re.search(f.pattern, text):
            out.append(f.says)
        elif f.each and (wrong := sorted({m for m in re.findall(f.each[0], text) if m != f.each[1]})):
            out.append(f"{f.says} (the page also says {', '.join(wrong)})")
    return out
