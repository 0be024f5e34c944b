"""Changes: which git tags mark a deploy.

A deploy is a tag matching one of the deploy patterns (``[git] deploy_tags``,
shell globs, by default ``deploy-*``, ``release-*``, ``v*``). The git source marks
its tags with :func:`is_deploy_tag`; :mod:`eafix_forensics.analysis.changes`
turns them into timeline events with the patterns the bundle was collected with
(:func:`deploy_patterns`). No IO.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_DEPLOY_TAGS", "deploy_patterns", "is_deploy_tag"]

DEFAULT_DEPLOY_TAGS = ("deploy-*", "release-*", "v*")


def is_deploy_tag(tag: str, patterns: Iterable[str] = DEFAULT_DEPLOY_TAGS) -> bool:
    """True when ``tag`` matches one of the deploy ``patterns`` (shell globs, case-sensitive)."""
    return any(fnmatch.fnmatchcase(tag, p) for p in patterns)


def deploy_patterns(config: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The ``[git] deploy_tags`` of a config as plain data (a manifest's ``config``),
    else :data:`DEFAULT_DEPLOY_TAGS`."""
    git = (config or {}).get("git") or {}
    pats = git.get("deploy_tags") if isinstance(git, Mapping) else None
    return tuple(pats) if isinstance(pats, list) and pats else DEFAULT_DEPLOY_TAGS
