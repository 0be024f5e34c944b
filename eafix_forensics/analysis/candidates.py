"""The changes a suspect ranking scores: deploys (deploy tags), commits without a deploy
tag and container restarts that are not a deploy's rollout, each as a dict (kind,
timestamp, service, sha, ref, summary, change_class, subject, author, tag, version,
previous_tag, diff stat, notes, rollback); and which of them were undone during the
incident (a ``Revert "<subject>"``, or a deploy of its service back to an earlier version).

Used by :mod:`eafix_forensics.analysis.suspects`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..config import Config
from ..model import tables as schemas
from ..model.attribution import change_class, change_service, tag_version
from ..model.topology import Topology, normalize_service
from .changes import bundle_events as deploy_events

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["candidates", "link_reverts"]

_ROLLOUT_BEFORE = pd.Timedelta(minutes=5)
_ROLLOUT_AFTER = pd.Timedelta(minutes=15)
_ROLLBACK = re.compile(r"(?i)\b(?:revert|rollback|roll back|rolled back|roll-back|undo)\b")
_RESTART_VERSION = re.compile(r"(?i)version\s+v?(\d[\w.+-]*)")


def _text(v: Any) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


# ------------------------------------------------------------------ candidates
def _tag_rows(bundle: EvidenceBundle) -> pd.DataFrame | None:
    return bundle.table("tags") if bundle.has("tags") else None


def candidates(
    bundle: EvidenceBundle, events: pd.DataFrame, known: set[str], config: Config, first_at: pd.Timestamp | None,
    topology: Topology | None = None,
) -> list[dict[str, Any]]:
    """One dict per change: kind, timestamp, service, sha, ref, summary, change_class,
    subject, author, tag, version, previous_tag, diff stat, notes, mitigation. A restart
    within the rollout window of a change to its service — or, with ``topology``, of a
    release of a library it consumes — is that change's rollout (a note), not a change."""
    commits = bundle.table("commits") if bundle.has("commits") else schemas.empty("commits")
    by_sha = {_text(c.get("sha")): c for _, c in commits.iterrows()} if len(commits) else {}
    tags = _tag_rows(bundle)
    mapping = dict(config.git.services)

    def attribute(c: pd.Series | None, tag: str = "") -> str:
        svc = _text(c.get("service")) if c is not None else ""
        if svc and normalize_service(svc) in {normalize_service(k) for k in known}:
            return svc
        found, _ = change_service(
            known=known, repo=_text(c.get("repo")) if c is not None else "", tags=[tag] if tag else [],
            subject=_text(c.get("subject")) if c is not None else "", paths=c.get("paths") if c is not None else None,
            mapping=mapping,
        )
        return found or svc

    out: list[dict[str, Any]] = []
    deployed: dict[str, dict[str, Any]] = {}
    deploys = deploy_events(bundle)
    history: dict[str, list[tuple[pd.Timestamp, str, str]]] = {}  # service -> (time, tag, version)
    for _, d in deploys.sort_values("timestamp", kind="stable").iterrows():
        sha = _text(d.get("ref"))
        tag = _tag_name(d, tags, sha)
        if sha in deployed:
            deployed[sha]["notes"].append(f"also tagged at {d['timestamp']:%H:%M:%S}: {_text(d.get('summary'))}")
            continue
        commit = by_sha.get(sha)
        svc = _text(d.get("service")) or attribute(commit, tag)
        if svc and commit is not None and normalize_service(svc) not in {normalize_service(k) for k in known}:
            svc = attribute(commit, tag) or svc
        version = tag_version(tag)
        prev = history.get(normalize_service(svc), [])
        earlier_versions = {v for _, _, v in prev}
        notes = []
        if commit is not None and not pd.isna(commit.get("timestamp")):
            notes.append(f"committed {commit['timestamp']:%Y-%m-%d %H:%M} by {_text(commit.get('author')) or 'unknown'}")
        subject = _text(commit.get("subject")) if commit is not None else ""
        rollback = bool(_ROLLBACK.search(tag) or _ROLLBACK.search(subject)) or (
            bool(version) and version in earlier_versions)
        cand = {
            "kind": "deploy", "timestamp": d["timestamp"], "service": svc, "sha": sha, "ref": sha,
            "summary": _text(d.get("summary")), "notes": notes,
            "change_class": _text(commit.get("change_class")) if commit is not None else "",
            "subject": subject, "author": _text(commit.get("author")) if commit is not None else "",
            "tag": tag, "version": version, "previous_tag": prev[-1][1] if prev else "",
            "files_changed": _int(commit.get("files_changed")) if commit is not None else None,
            "insertions": _int(commit.get("insertions")) if commit is not None else None,
            "deletions": _int(commit.get("deletions")) if commit is not None else None,
            "rollback": rollback,
        }
        if cand["change_class"] == "" and commit is not None and "paths" in commit:
            cand["change_class"] = change_class(commit.get("paths"))
        history.setdefault(normalize_service(svc), []).append((d["timestamp"], tag, version))
        deployed[sha] = cand
        out.append(cand)
    for sha, c in by_sha.items():
        if sha in deployed or pd.isna(c.get("timestamp")):
            continue
        cls = _text(c.get("change_class")) or change_class(c.get("paths") if "paths" in c else None)
        subject = _text(c.get("subject"))
        out.append({
            "kind": "commit", "timestamp": c["timestamp"], "service": attribute(c), "sha": sha, "ref": sha,
            "summary": f"commit {sha[:8]} {subject} ({_text(c.get('author')) or 'unknown'})", "notes": [],
            "change_class": cls, "subject": subject, "author": _text(c.get("author")), "tag": "", "version": "",
            "previous_tag": "", "files_changed": _int(c.get("files_changed")), "insertions": _int(c.get("insertions")),
            "deletions": _int(c.get("deletions")), "rollback": bool(_ROLLBACK.search(subject)),
        })
    _add_restarts(out, events, first_at, topology)
    return out


def _add_restarts(
    out: list[dict[str, Any]], events: pd.DataFrame, first_at: pd.Timestamp | None, topology: Topology | None,
) -> None:
    """Add each restart of ``events`` to ``out``: as a note on the change it rolls out, else
    as a change of its own (a rollback when it goes back to an earlier deployed version)."""
    restarts = events[events["kind"] == "restart"]
    for _, r in restarts.sort_values("timestamp", kind="stable").iterrows():
        svc = _text(r.get("service"))
        m = _RESTART_VERSION.search(_text(r.get("summary")))
        version = m.group(1) if m else ""
        rollouts = [
            d for d in out
            if d["kind"] in ("deploy", "commit") and _runs_in(d["service"], svc, topology)
            and d["timestamp"] - _ROLLOUT_BEFORE <= r["timestamp"] <= d["timestamp"] + _ROLLOUT_AFTER
            # A restart after the first symptom with another version is a rollback, not this rollout.
            and (first_at is None or r["timestamp"] <= first_at or not version or not d.get("version")
                 or version == d.get("version") or normalize_service(d["service"]) != normalize_service(svc))
        ]
        # Its own change first; else a release of a library it uses (the restart picks the release up).
        rollouts.sort(key=lambda d: normalize_service(d["service"]) != normalize_service(svc))
        rollout = rollouts[0] if rollouts else None
        if rollout is not None:
            rollout["notes"].append(f"{_text(r.get('summary'))} at {r['timestamp']:%H:%M:%S} ({_text(r.get('ref'))})")
            continue
        earlier = [d for d in out if d["kind"] == "deploy" and normalize_service(d["service"]) == normalize_service(svc)
                   and d["timestamp"] < r["timestamp"]]
        out.append({
            "kind": "restart", "timestamp": r["timestamp"], "service": svc, "sha": None, "ref": _text(r.get("ref")),
            "summary": _text(r.get("summary")), "notes": [], "change_class": "restart", "subject": "", "author": "",
            "tag": "", "version": version, "previous_tag": earlier[-1]["tag"] if earlier else "",
            "files_changed": None, "insertions": None, "deletions": None,
            "rollback": bool(version and any(d.get("version") == version for d in earlier[:-1])),
        })


_REVERT_SUBJECT = re.compile(r'^\s*Revert\s+"(?P<subject>.+)"\s*$', re.IGNORECASE)


def _runs_in(changed: str, service: str, topology: Topology | None) -> bool:
    """Whether a change to ``changed`` runs in ``service``: the same service, or a library it consumes."""
    c, s = normalize_service(changed), normalize_service(service)
    return c == s or (topology is not None and s in topology.consumers(c))


def link_reverts(changes: list[dict[str, Any]], first_at: pd.Timestamp | None) -> None:
    """Mark each change undone after the incident's first symptom (``reverted_at``,
    ``reverted_by``): a ``Revert "<its subject>"`` commit or deploy, or a deploy of its
    service back to a version it ran before (the deploys since that version are undone)."""
    if first_at is None:
        return
    for r in sorted(changes, key=lambda c: c["timestamp"]):
        if r["kind"] == "restart" or r["timestamp"] <= first_at or not r.get("rollback"):
            continue
        earlier = [c for c in changes if c is not r and c["kind"] != "restart" and c["timestamp"] < r["timestamp"]]
        m = _REVERT_SUBJECT.match(_text(r.get("subject")))
        if m:
            targets = [c for c in earlier if _text(c.get("subject")) == m["subject"]][-1:]
        elif r["kind"] == "deploy" and r.get("version"):
            same = [c for c in earlier if c["kind"] == "deploy"
                    and normalize_service(_text(c.get("service"))) == normalize_service(_text(r.get("service")))]
            back = [i for i, c in enumerate(same) if c.get("version") == r["version"]]
            targets = same[back[-1] + 1:] if back else []
        else:
            targets = []
        for t in targets:
            if t.get("reverted_at") is None and not t.get("rollback"):
                t["reverted_at"] = r["timestamp"]
                t["reverted_by"] = _text(r.get("tag")) or f"commit {_text(r.get('sha'))[:8]}"


def _tag_name(d: pd.Series, tags: pd.DataFrame | None, sha: str) -> str:
    summary = _text(d.get("summary"))
    m = re.match(r"deploy (\S+?):", summary)
    if m:
        return m.group(1)
    if tags is not None and len(tags):
        on = tags[tags["sha"].astype(object) == sha]
        if len(on):
            return _text(on.iloc[0]["tag"])
    return ""
