"""Changes as timeline events: deploy markers from the git tags and commits.

A deploy is a tag matching the deploy patterns (:mod:`eafix_forensics.model.changes`).
Its time is the tag's time (the tagger date of an annotated tag, the commit's time for a lightweight one),
taken from the bundle's ``tags`` table; a deploy tag seen only on a commit
(``tags`` column or ``refs``) falls back to the commit's ``deployed_at``,
else its committer time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..model import tables
from ..model.changes import DEFAULT_DEPLOY_TAGS, deploy_patterns, is_deploy_tag

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["DEFAULT_DEPLOY_TAGS", "bundle_events", "deploy_events", "is_deploy_tag"]

SOURCE = "git"
_REF_TAG = re.compile(r"(?:^|,\s*)tag: ([^,]+)")


def _str(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _commit_tags(row: pd.Series) -> list[str]:
    listed = [t.strip() for t in _str(row.get("tags")).split(",") if t.strip()]
    return listed or [m.strip() for m in _REF_TAG.findall(_str(row.get("refs")))]


def _summary(tag: str, sha: str, commit: pd.Series | None, message: str) -> str:
    if commit is not None:
        who = _str(commit.get("author"))
        what = _str(commit.get("subject"))
        return f"deploy {tag}: {sha[:8]} {what}" + (f" ({who})" if who else "")
    return f"deploy {tag}: {sha[:8]}" + (f" {message}" if message else "")


def deploy_events(
    commits: pd.DataFrame | None,
    tags: pd.DataFrame | None = None,
    *,
    patterns: Iterable[str] = DEFAULT_DEPLOY_TAGS,
) -> pd.DataFrame:
    """TIMELINE ``deploy`` events (severity info, ref = the commit sha), one per deploy tag.

    ``commits`` is a COMMITS frame, ``tags`` the git source's tags table (tagged_at,
    tag, sha, …, service); either may be empty or None.
    """
    patterns = tuple(patterns)
    by_sha: dict[str, pd.Series] = {}
    if commits is not None and len(commits):
        for _, c in commits.iterrows():
            by_sha.setdefault(_str(c.get("sha")), c)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    if tags is not None and len(tags):
        for _, t in tags.iterrows():
            name, sha = _str(t.get("tag")), _str(t.get("sha"))
            if not is_deploy_tag(name, patterns) or pd.isna(t.get("tagged_at")):
                continue
            seen.add((name, sha))
            commit = by_sha.get(sha)
            rows.append({
                "timestamp": t["tagged_at"], "source": SOURCE,
                "service": _str(t.get("service")) or (_str(commit.get("service")) if commit is not None else ""),
                "kind": "deploy", "severity": "info",
                "summary": _summary(name, sha, commit, _str(t.get("message"))), "ref": sha,
            })
    for sha, c in by_sha.items():
        for name in _commit_tags(c):
            if (name, sha) in seen or not is_deploy_tag(name, patterns):
                continue
            seen.add((name, sha))
            when = next((c.get(k) for k in ("deployed_at", "committed_at", "timestamp")
                         if k in c and not pd.isna(c.get(k))), None)
            if when is None:
                continue
            rows.append({
                "timestamp": when, "source": SOURCE, "service": _str(c.get("service")) or None,
                "kind": "deploy", "severity": "info", "summary": _summary(name, sha, c, ""), "ref": sha,
            })
    if not rows:
        return tables.empty("timeline")
    out = tables.conform(rows, "timeline")
    return out.sort_values(["timestamp", "summary"], kind="stable").reset_index(drop=True)


def bundle_events(bundle: EvidenceBundle) -> pd.DataFrame:
    """TIMELINE deploy events of the bundle's ``commits`` and ``tags`` tables (empty
    when it has neither), using the deploy patterns of the config it was collected with."""
    commits = bundle.table("commits")
    tags = bundle.table("tags") if bundle.has("tags") else None
    return deploy_events(commits, tags, patterns=deploy_patterns(bundle.manifest.get("config")))
