"""Suspect changes: what changed shortly before the incident, ranked.

Candidates are the changes in the bundle — deploys (deploy tags), commits, and
container restarts seen in the logs (the timeline's ``restart`` events) — that happened before the symptoms they
could explain. Each gets a score from two things, and its reason in words:

- **proximity**: ``0.5 ** (lead / half_life)`` where ``lead`` is how long before
  the first symptom the change happened (the first symptom of the change's own
  service when that service failed, else the incident's first symptom); a
  change ``half_life`` (default 30 min) before counts half as much as one right
  before it;
- **overlap** of the service it touches with the services that failed: 1.0 for
  the service that failed first, 0.7 for another failed service, 0.3 when the
  change names no service, 0 for a service that never failed.

``score = weight(kind) * (0.6 * proximity + 0.4 * overlap)``, with weights
deploy 1.0, restart 0.8, commit 0.5 (a commit without a deploy tag may not have
reached production). A change after the incident's first symptom is scored at
half (it can only explain a later symptom of its own service) and a change
after its own service's first symptom is no suspect at all.

One change is one row: a commit that was deployed is its deploy, and a restart
of the deployed service from 5 minutes before to 15 minutes after the deploy is
that deploy rolling out (both are named in the deploy's reason).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..model import tables as schemas
from ..window import parse_duration
from .timeline import failed_services, first_symptom, timeline

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["KIND_WEIGHTS", "SUSPECT_COLUMNS", "bundle_services", "rank_changes", "suspects"]

KIND_WEIGHTS = {"deploy": 1.0, "restart": 0.8, "commit": 0.5}
SUSPECT_COLUMNS: dict[str, str] = {
    "rank": "Int64",
    "kind": "str",
    "timestamp": "datetime64[ns, UTC]",
    "service": "str",
    "sha": "str",
    "ref": "str",
    "lead": "timedelta64[ns]",
    "score": "float64",
    "reason": "str",
    "summary": "str",
}
HALF_LIFE = pd.Timedelta(minutes=30)
_ROLLOUT_BEFORE = pd.Timedelta(minutes=5)
_ROLLOUT_AFTER = pd.Timedelta(minutes=15)


def _text(v: Any) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _minutes(td: pd.Timedelta) -> str:
    s = int(abs(td).total_seconds())
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h} h {m} min"
    if m:
        return f"{m} min" + (f" {sec} s" if sec and m < 10 else "")
    return f"{sec} s"


def _commit_service(c: pd.Series, known: set[str]) -> str:
    svc = _text(c.get("service"))
    if svc:
        return svc
    # "execution-engine: switch …": the conventional subject prefix names the service.
    prefix = _text(c.get("subject")).split(":", 1)[0].strip()
    return prefix if prefix in known else ""


def _candidates(
    commits: pd.DataFrame, deploys: pd.DataFrame, restarts: pd.DataFrame, known: set[str]
) -> list[dict[str, Any]]:
    """One dict per change: kind, timestamp, service, sha, ref, summary, notes."""
    by_sha = {_text(c.get("sha")): c for _, c in commits.iterrows()} if len(commits) else {}
    out: list[dict[str, Any]] = []
    deployed: dict[str, dict[str, Any]] = {}
    for _, d in deploys.sort_values("timestamp", kind="stable").iterrows():
        sha = _text(d.get("ref"))
        if sha in deployed:
            deployed[sha]["notes"].append(f"also tagged at {d['timestamp']:%H:%M:%S}: {_text(d.get('summary'))}")
            continue
        commit = by_sha.get(sha)
        notes = []
        if commit is not None and not pd.isna(commit.get("timestamp")):
            notes.append(f"committed {commit['timestamp']:%Y-%m-%d %H:%M} by {_text(commit.get('author')) or 'unknown'}")
        cand = {
            "kind": "deploy", "timestamp": d["timestamp"],
            "service": _text(d.get("service")) or (_commit_service(commit, known) if commit is not None else ""),
            "sha": sha, "ref": sha, "summary": _text(d.get("summary")), "notes": notes,
        }
        deployed[sha] = cand
        out.append(cand)
    for sha, c in by_sha.items():
        if sha in deployed or pd.isna(c.get("timestamp")):
            continue
        out.append({
            "kind": "commit", "timestamp": c["timestamp"], "service": _commit_service(c, known), "sha": sha,
            "ref": sha, "summary": f"commit {sha[:8]} {_text(c.get('subject'))} ({_text(c.get('author')) or 'unknown'})",
            "notes": [],
        })
    for _, r in restarts.sort_values("timestamp", kind="stable").iterrows():
        svc = _text(r.get("service"))
        rollout = next(
            (d for d in deployed.values()
             if d["service"] == svc and d["timestamp"] - _ROLLOUT_BEFORE <= r["timestamp"] <= d["timestamp"] + _ROLLOUT_AFTER),
            None,
        )
        if rollout is not None:
            rollout["notes"].append(f"{_text(r.get('summary'))} at {r['timestamp']:%H:%M:%S} ({_text(r.get('ref'))})")
            continue
        out.append({
            "kind": "restart", "timestamp": r["timestamp"], "service": svc, "sha": None, "ref": _text(r.get("ref")),
            "summary": _text(r.get("summary")), "notes": [],
        })
    return out


def rank_changes(
    changes: list[dict[str, Any]],
    *,
    first_symptom_at: pd.Timestamp,
    first_symptom_what: str = "",
    service_first: dict[str, pd.Timestamp] | None = None,
    half_life: pd.Timedelta = HALF_LIFE,
) -> pd.DataFrame:
    """Score and rank ``changes`` (dicts with kind, timestamp, service, sha, ref,
    summary and optional ``notes``) against the first symptom.

    ``service_first`` maps each failed service to its own first symptom, in the
    order they failed (the first is the service that failed first). Returns
    :data:`SUSPECT_COLUMNS` (rank, kind, timestamp, service, sha, ref, lead —
    Timedelta before the incident's first symptom, negative after it — score,
    reason, summary), best first; ties go to the later change.
    """
    firsts = dict(service_first or {})
    first_failed = next(iter(firsts), None)
    rows: list[dict[str, Any]] = []
    for ch in changes:
        ts: pd.Timestamp = ch["timestamp"]
        svc = _text(ch.get("service"))
        own = firsts.get(svc)
        reference = own if own is not None else first_symptom_at
        own_lead = reference - ts
        if own_lead < pd.Timedelta(0):
            continue
        lead = first_symptom_at - ts
        proximity = float(0.5 ** (own_lead / half_life))
        if not svc:
            overlap, touch = 0.3, "it names no service"
        elif svc == first_failed:
            overlap, touch = 1.0, f"it touches {svc}, the service that failed first"
        elif own is not None:
            overlap, touch = 0.7, f"it touches {svc}, which failed at {own:%H:%M:%S}"
        else:
            overlap, touch = 0.0, f"it touches {svc}, which shows no symptom"
        score = KIND_WEIGHTS.get(ch["kind"], 0.5) * (0.6 * proximity + 0.4 * overlap)
        if lead < pd.Timedelta(0):
            score *= 0.5
            when = (f"{_minutes(lead)} after the first symptom ({first_symptom_what}) but "
                    f"{_minutes(own_lead)} before {svc}'s own first symptom")
        else:
            when = f"{_minutes(lead)} before the first symptom" + (f" ({first_symptom_what})" if first_symptom_what else "")
        what = {"deploy": "deploy", "commit": "commit (no deploy tag)", "restart": "restart"}.get(ch["kind"], ch["kind"])
        reason = f"{what} of {svc or 'an unnamed service'} at {ts:%Y-%m-%d %H:%M:%S}, {when}; {touch}"
        notes = [n for n in ch.get("notes", []) if n]
        if notes:
            reason += "; " + "; ".join(notes)
        rows.append({
            "kind": ch["kind"], "timestamp": ts, "service": svc or None, "sha": ch.get("sha") or None,
            "ref": _text(ch.get("ref")) or None, "lead": lead, "score": round(score, 4), "reason": reason,
            "summary": _text(ch.get("summary")),
        })
    if not rows:
        return _frame([])
    frame = pd.DataFrame(rows).sort_values(["score", "timestamp"], ascending=[False, False], kind="stable")
    frame["rank"] = np.arange(1, len(frame) + 1)
    return _frame(frame.to_dict("records"))


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    text = schemas.empty("timeline")["source"].dtype
    data: dict[str, pd.Series] = {}
    for col, t in SUSPECT_COLUMNS.items():
        values = [r.get(col) for r in rows]
        if t == "str":
            data[col] = pd.Series(values, dtype=object).astype(text)
        elif t.startswith("datetime64"):
            data[col] = pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True)).astype(t)
        elif t.startswith("timedelta64"):
            data[col] = pd.Series(pd.to_timedelta(pd.Series(values, dtype=object))).astype(t)
        else:
            data[col] = pd.Series(values, dtype=object).astype(t)
    return pd.DataFrame(data)


def suspects(bundle: EvidenceBundle, *, half_life: str | pd.Timedelta = "30m") -> pd.DataFrame:
    """Changes that could have caused the incident in ``bundle``, best first.

    Deploys (deploy tags), commits and container restarts, scored as the module
    docstring says against the first symptom of the timeline (else the incident's
    triggered time, else the window end). Columns: rank, kind (deploy | commit |
    restart), timestamp, service, sha (missing for a restart), ref (the sha, or
    ``logs:<file>:<line>``), lead (Timedelta before the first symptom), score
    (0-1), reason (in words), summary. Empty with those columns when nothing
    changed before the symptoms. ``attrs["first_symptom"]`` is the summary of the
    symptom the leads are measured to.
    """
    from .changes import bundle_events as deploy_events

    events = timeline(bundle)
    first = first_symptom(events)
    if first is not None:
        at: pd.Timestamp = first["timestamp"]
        what = f"{at:%H:%M:%S} {first['kind']} on {_text(first['service']) or 'an unnamed service'}"
    else:
        triggered = events[events["kind"] == "incident_triggered"]["timestamp"].dropna()
        at = triggered.min() if len(triggered) else bundle.window.end
        what = f"{at:%H:%M:%S} " + ("incident triggered" if len(triggered) else "window end")
    order = failed_services(events)
    service_first = {}
    for svc in order:
        row = first_symptom(events, service=svc)
        if row is not None:
            service_first[svc] = row["timestamp"]
    commits = bundle.table("commits")
    restarts = events[events["kind"] == "restart"]
    known = {*bundle_services(bundle), *order}
    changes = _candidates(commits, deploy_events(bundle), restarts, known)
    out = rank_changes(
        changes, first_symptom_at=at, first_symptom_what=what, service_first=service_first,
        half_life=parse_duration(half_life),
    )
    out.attrs["first_symptom"] = what
    return out


def bundle_services(bundle: EvidenceBundle) -> list[str]:
    """The service names the bundle's config lists (``[services.NAME]``)."""
    services = (bundle.manifest.get("config") or {}).get("services") or {}
    return sorted(str(s) for s in services) if isinstance(services, dict) else []
