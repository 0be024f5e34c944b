"""git: what changed before and during the incident — commits and (deploy) tags.

The runbook's ``git log --oneline --since="24 hours ago"``, done with the ``git``
executable and a fixed, parse-safe format (fields separated by NUL, records by
0x1E), over every branch, tag and remote ref (plus a detached HEAD) of each
repository in ``[git] repos``. A commit belongs to a window when its committer
time (when it landed) falls inside it; ``timestamp`` is the author time, as
``git log`` shows it. Tags come from ``git for-each-ref``: an annotated tag's
time is its tagger date, a lightweight tag's is its commit's committer date.

Read-only: git runs with ``GIT_OPTIONAL_LOCKS=0`` so it never rewrites the
index of the repository it reads. Every subprocess failure is translated in
:func:`_git`.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..bundle import Evidence
from ..config import Config
from ..errors import ConfigError, QueryError, SourceError, SourceUnavailable
from ..model import tables
from ..model.attribution import change_class, change_service
from ..model.changes import DEFAULT_DEPLOY_TAGS, is_deploy_tag
from ..model.times import to_utc
from ..model.topology import Topology
from ..window import TimeWindow, parse_duration
from .base import CollectContext, Collector

__all__ = [
    "COLLECTOR",
    "DEFAULT_DEPLOY_TAGS",
    "TAG_COLUMNS",
    "assemble",
    "commits",
    "commits_frame",
    "is_deploy_tag",
    "parse_log",
    "parse_tag_refs",
    "read_repo",
    "tags_frame",
]

# Extra COMMITS columns, after the schema's.
COMMIT_EXTRAS = {
    "committed_at": "datetime64[ns, UTC]",
    "author_tz": "str",
    "is_merge": "boolean",
    "parents": "str",
    "tags": "str",
    "deployed_at": "datetime64[ns, UTC]",
    "shallow_boundary": "boolean",
    "repo": "str",
    "service": "str",
    "paths": "str",
    "change_class": "str",
    "service_from": "str",
}
TAG_COLUMNS = {
    "tagged_at": "datetime64[ns, UTC]",
    "tag": "str",
    "sha": "str",
    "annotated": "boolean",
    "tagger": "str",
    "message": "str",
    "is_deploy": "boolean",
    "repo": "str",
    "service": "str",
}

_LOG_FORMAT = "%x1e%H%x00%P%x00%an%x00%aI%x00%cI%x00%D%x00%s%x00"
_LOG_FIELDS = ("sha", "parents", "author", "authored", "committed", "refs", "subject")
# NUL separates the fields: it is the one byte a name, a subject or a message cannot hold
# (a 0x1E in a tag's subject or tagger name made the tag vanish).
_TAG_FORMAT = (
    "%00%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)"
    "%00%(taggerdate:iso-strict)%00%(creatordate:iso-strict)%00%(taggername)%00%(contents:subject)"
)
# Where a git log record starts: the 0x1E of the format, then a full sha and its NUL. A 0x1E
# in a subject or an author name (git keeps it) cannot fake this: no field can hold a NUL.
_RECORD_START = re.compile(r"\x1e(?=[0-9a-f]{40}(?:[0-9a-f]{24})?\x00)")
# git --since stops walking at old commits; a day of slack keeps commits whose
# committer clock was behind, and the exact window is applied afterwards.
_SINCE_SLACK = pd.Timedelta(days=1)


# ------------------------------------------------------------------ the one subprocess adapter
def _git(repo: Path, args: Sequence[str], *, timeout_s: float, ok_codes: Iterable[int] = (0,)) -> str:
    """Run ``git -C repo args`` and return stdout; every failure becomes one of our errors."""
    cmd = ["git", "-C", str(repo), "-c", "core.quotepath=off", "-c", "log.showSignature=false", *args]
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "GIT_PAGER": "cat"}
    shown = "git " + " ".join(args)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, env=env, check=False)
    except FileNotFoundError as exc:
        raise SourceUnavailable(f"{repo}: the git executable is not on PATH ({shown})") from exc
    except subprocess.TimeoutExpired as exc:
        raise SourceUnavailable(f"{repo}: {shown} timed out after {timeout_s:g} s") from exc
    except OSError as exc:
        raise SourceUnavailable(f"{repo}: cannot run {shown}: {exc}") from exc
    if proc.returncode not in tuple(ok_codes):
        err = proc.stderr.decode("utf-8", "replace").strip()
        if "not a git repository" in err or "cannot change to" in err:
            raise ConfigError(f"{repo}: not a git repository ([git] repos)")
        if "dubious ownership" in err:
            raise SourceUnavailable(f"{repo}: git refuses a repository owned by another user: {err.splitlines()[0]}")
        raise QueryError(f"{repo}: {shown} failed (exit {proc.returncode}): {err[:500]}", query=shown)
    return proc.stdout.decode("utf-8", "replace")


# ------------------------------------------------------------------ parsing (pure)
def _utc(value: str) -> pd.Timestamp | None:
    return to_utc(value) if value else None


def _offset(value: str) -> str:
    """The "+02:00" of an ISO time ("Z" means +00:00)."""
    if value.endswith("Z"):
        return "+00:00"
    return value[-6:] if len(value) >= 6 and value[-6] in "+-" else ""


def parse_log(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Commit rows from ``git log --format=<_LOG_FORMAT> --numstat`` output, and the
    raw records that could not be parsed (kept for ``details``, never silently dropped)."""
    rows: list[dict[str, Any]] = []
    malformed: list[str] = []
    for rec in _RECORD_START.split(text)[1:]:
        parts = rec.split("\x00")
        if len(parts) < len(_LOG_FIELDS) + 1:
            malformed.append(rec)
            continue
        head = dict(zip(_LOG_FIELDS, parts[: len(_LOG_FIELDS)], strict=True))
        files = ins = dels = 0
        paths: list[str] = []
        for line in "\x00".join(parts[len(_LOG_FIELDS):]).split("\n"):
            cols = line.split("\t", 2)
            if len(cols) != 3:
                continue
            files += 1
            paths.append(cols[2].strip("\x00"))
            # Binary files show "-" for both counts.
            ins += int(cols[0]) if cols[0].isdigit() else 0
            dels += int(cols[1]) if cols[1].isdigit() else 0
        try:
            authored, committed = _utc(head["authored"]), _utc(head["committed"])
        except ValueError:
            malformed.append(rec)
            continue
        parents = head["parents"].split()
        rows.append({
            "timestamp": authored,
            "sha": head["sha"],
            "author": head["author"],
            "subject": head["subject"],
            "files_changed": files,
            "insertions": ins,
            "deletions": dels,
            "refs": head["refs"],
            "committed_at": committed,
            "author_tz": _offset(head["authored"]),
            "is_merge": len(parents) > 1,
            "parents": " ".join(parents),
            "paths": "\n".join(paths),
        })
    return rows, malformed


def parse_tag_refs(text: str) -> list[dict[str, Any]]:
    """Tag rows (tag, sha of the commit, tagged_at, annotated, tagger, message) from
    ``git for-each-ref refs/tags --format=<_TAG_FORMAT>``; tags of trees/blobs are left out."""
    rows = []
    # Not splitlines(): it also splits on 0x1E, 0x1C…, which a subject may hold.
    for line in text.split("\n"):
        parts = line.split("\x00")[1:]
        if len(parts) != 9:
            continue
        name, otype, oname, ptype, pname, tagger_date, creator_date, tagger, subject = parts
        annotated = otype == "tag"
        if (ptype if annotated else otype) != "commit":
            continue
        rows.append({
            "tag": name,
            "sha": pname if annotated else oname,
            "tagged_at": _utc(tagger_date if annotated and tagger_date else creator_date),
            "annotated": annotated,
            "tagger": tagger or None,
            "message": subject if annotated else None,
        })
    return rows


def commits_frame(rows: list[dict[str, Any]] | pd.DataFrame | None) -> pd.DataFrame:
    """COMMITS rows shaped to the schema plus the extra columns (committed_at, author_tz,
    is_merge, parents, tags, deployed_at, shallow_boundary, repo, service), newest first."""
    if rows is None or len(rows) == 0:
        return tables.empty("commits", COMMIT_EXTRAS)
    df = tables.conform(pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows, "commits")
    for col, dtype in COMMIT_EXTRAS.items():
        df[col] = _cast(df[col] if col in df else pd.Series([None] * len(df)), dtype)
    cols = [*tables.SCHEMAS["commits"], *COMMIT_EXTRAS]
    df = df[cols + [c for c in df.columns if c not in cols]]
    return df.sort_values(["committed_at", "sha"], ascending=False, kind="stable").reset_index(drop=True)


def tags_frame(rows: list[dict[str, Any]] | pd.DataFrame | None) -> pd.DataFrame:
    """Tag rows with columns tagged_at, tag, sha, annotated, tagger, message, is_deploy,
    repo, service (dtypes fixed), oldest first."""
    df = pd.DataFrame(rows if rows is not None else [])
    out = pd.DataFrame({c: _cast(df[c] if c in df else pd.Series([None] * len(df)), t) for c, t in TAG_COLUMNS.items()})
    return out.sort_values(["tagged_at", "tag"], kind="stable").reset_index(drop=True)


def _cast(s: pd.Series, dtype: str) -> pd.Series:
    s = s.reset_index(drop=True)
    if dtype.startswith("datetime64"):
        return pd.to_datetime(s, utc=True).astype(dtype)
    if dtype == "boolean":
        return s.astype(object).where(s.notna(), None).astype("boolean")
    return tables._cast(s, tables.TEXT)


# ------------------------------------------------------------------ reading a repository
def _service_of(repo: Path, services: dict[str, str] | None) -> str | None:
    """The service ``[git] services`` maps the repository to, else None (attributed per change)."""
    return (services or {}).get(repo.resolve().name)


def known_services(config: Config) -> list[str]:
    """Service names a change can be attributed to: the config's services and the graph's nodes."""
    return sorted({*config.services, *Topology.from_config(config).services})


def read_repo(
    repo: str | os.PathLike[str],
    window: TimeWindow,
    *,
    deploy_tags: Iterable[str] = DEFAULT_DEPLOY_TAGS,
    service: str | None = None,
    known_services: Iterable[str] = (),
    services_map: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(commits, tags, details) of ``repo`` for ``window``: commits that landed in the
    window, tags made in it, and details (shallow; malformed_records count and samples)."""
    path = Path(repo).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{path}: not a directory, so not a git repository ([git] repos)")
    info = _git(path, ["rev-parse", "--is-shallow-repository", "--git-path", "shallow"], timeout_s=timeout_s)
    lines = info.splitlines()
    shallow = bool(lines) and lines[0].strip() == "true"
    boundary: set[str] = set()
    if shallow and len(lines) > 1:
        shallow_file = Path(lines[1].strip())
        shallow_file = shallow_file if shallow_file.is_absolute() else path / shallow_file
        try:
            boundary = set(shallow_file.read_text().split())
        except OSError:
            boundary = set()
    has_head = _git(path, ["rev-parse", "--verify", "-q", "HEAD^{commit}"], timeout_s=timeout_s, ok_codes=(0, 1)).strip()
    revs = ["--branches", "--tags", "--remotes"] + (["HEAD"] if has_head else [])
    since = (window.start - _SINCE_SLACK).isoformat()
    out = _git(
        path,
        ["log", "--no-color", "--no-ext-diff", "--no-textconv", "--diff-merges=first-parent",
         f"--format={_LOG_FORMAT}", "--numstat", f"--since={since}", *revs, "--"],
        timeout_s=timeout_s,
    )
    tag_text = _git(path, ["for-each-ref", f"--format={_TAG_FORMAT}", "refs/tags"], timeout_s=timeout_s)
    commits_df, tags_df, malformed = assemble(
        out, tag_text, window, deploy_tags=deploy_tags, repo=path.resolve().name,
        service=service, shallow_boundary=boundary, known_services=known_services, services_map=services_map,
    )
    details: dict[str, Any] = {"shallow": shallow, "malformed_records": len(malformed)}
    if malformed:
        details["malformed_samples"] = [m[:300].replace("\x00", " | ") for m in malformed[:3]]
    return commits_df, tags_df, details


def assemble(
    log_text: str,
    tag_text: str,
    window: TimeWindow,
    *,
    deploy_tags: Iterable[str] = DEFAULT_DEPLOY_TAGS,
    repo: str,
    service: str | None = None,
    shallow_boundary: Iterable[str] = (),
    known_services: Iterable[str] = (),
    services_map: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(commits, tags, malformed raw records) from the raw ``git log`` and
    ``git for-each-ref`` output of one repository: commits that landed in ``window``
    joined with their tags, and the tags made in ``window``. Pure.

    Each commit's ``service`` is ``service`` when given (``[git] services`` named the
    repository), else the one its deploy tag, subject prefix or changed paths name among
    ``known_services`` (:func:`eafix_forensics.model.attribution.change_service`), else
    the repository's name when that is a known service; ``service_from`` says which.
    """
    rows, malformed = parse_log(log_text)
    tag_rows = parse_tag_refs(tag_text)
    patterns = tuple(deploy_tags)
    boundary = set(shallow_boundary)
    known = list(known_services)
    mapping = dict(services_map or {})
    if service:
        mapping.setdefault(repo, service)
    by_sha_rows = {r["sha"]: r for r in rows}
    for t in tag_rows:
        commit = by_sha_rows.get(t["sha"])
        svc, how = change_service(known=known, repo=repo, tags=[t["tag"]], mapping=mapping,
                                  subject=commit["subject"] if commit else "",
                                  paths=commit["paths"] if commit else None)
        t.update(is_deploy=is_deploy_tag(t["tag"], patterns), repo=repo, service=svc or None)
    tags_by_sha: dict[str, list[dict[str, Any]]] = {}
    for t in tag_rows:
        tags_by_sha.setdefault(t["sha"], []).append(t)
    kept = []
    for r in rows:
        if not window.contains(r["committed_at"]):
            continue
        on = sorted(tags_by_sha.get(r["sha"], []), key=lambda t: t["tag"])
        deploys = [t["tagged_at"] for t in on if t["is_deploy"] and t["tagged_at"] is not None]
        svc, how = change_service(known=known, repo=repo, mapping=mapping, subject=r["subject"],
                                  paths=r["paths"], tags=[t["tag"] for t in on if t["is_deploy"]])
        r.update(
            tags=", ".join(t["tag"] for t in on),
            deployed_at=min(deploys) if deploys else None,
            shallow_boundary=r["sha"] in boundary,
            repo=repo,
            service=svc or None,
            service_from=how or None,
            change_class=change_class(r["paths"]) or None,
        )
        if r["sha"] in boundary:
            # The parents are not in a shallow clone: its diff would be the whole tree.
            r.update(files_changed=None, insertions=None, deletions=None)
        kept.append(r)
    tags_in = [t for t in tag_rows if t["tagged_at"] is not None and window.contains(t["tagged_at"])]
    return commits_frame(kept), tags_frame(tags_in), malformed


def commits(
    repo: str | os.PathLike[str],
    window: TimeWindow,
    *,
    deploy_tags: Iterable[str] = DEFAULT_DEPLOY_TAGS,
    service: str | None = None,
    timeout_s: float = 60.0,
) -> pd.DataFrame:
    """COMMITS of ``repo`` that landed (committer time) in ``window``, newest first.

    Columns: timestamp (author time, UTC), sha, author, subject, files_changed,
    insertions, deletions, refs (``git log %D``), then committed_at (UTC), author_tz
    (the author's offset, "+02:00"), is_merge, parents, tags (comma-separated tags on
    the commit), deployed_at (earliest matching ``deploy_tags`` tag time),
    shallow_boundary (counts unknown: the parents are not in this shallow clone),
    repo and service (``service`` when given, else the service the change's deploy tag,
    subject prefix or changed paths name, else the repository's name when it is one of
    the runbook's services), paths (changed files, one per line), change_class
    (code, config, migration, docs, tests, ci) and service_from (how the service was found).
    A repository or window without commits gives an empty frame; a path that is not
    a repository raises ConfigError; a missing/failing git SourceUnavailable/QueryError.
    """
    frame, _, _ = read_repo(repo, window, deploy_tags=deploy_tags, service=service,
                            known_services=known_services(Config()), timeout_s=timeout_s)
    return frame


# ------------------------------------------------------------------ collect()
def _repos(config: Config) -> list[Path]:
    return [config.resolve(r) for r in config.git.repos]


def _describe(config: Config, since: str | None = None) -> str:
    repos = ", ".join(str(r) for r in _repos(config))
    since = since or f"<window start - {config.git.lookback}>"
    return (f"git log --numstat --since={since} --branches --tags --remotes HEAD; "
            f"git for-each-ref refs/tags (repos: {repos})")


def _run(ctx: CollectContext) -> list[Evidence]:
    cfg = ctx.config
    t0 = time.monotonic()
    window = TimeWindow(ctx.window.start - parse_duration(cfg.git.lookback), ctx.window.end)
    query = _describe(cfg, window.start.isoformat())
    commit_frames, tag_frames, errors = [], [], []
    details: dict[str, Any] = {"window": window.to_dict(), "repos": {}}
    for repo in _repos(cfg):
        try:
            c, t, d = read_repo(repo, window, deploy_tags=cfg.git.deploy_tags,
                                service=_service_of(repo, cfg.git.services), known_services=known_services(cfg),
                                services_map=cfg.git.services, timeout_s=cfg.git.timeout_s)
        except (ConfigError, SourceError) as exc:
            # One unreadable repository must not hide the others' changes.
            errors.append(str(exc))
            details["repos"][str(repo)] = {"error": str(exc)}
            continue
        commit_frames.append(c)
        tag_frames.append(t)
        details["repos"][str(repo)] = {**d, "commits": len(c), "tags": len(t)}
    dt_s = time.monotonic() - t0
    status: str | None = None
    if errors:
        status = "truncated" if commit_frames else "unavailable"
    frames = [f for f in commit_frames if len(f)]
    commits_df = commits_frame(pd.concat(frames, ignore_index=True) if frames else None)
    tframes = [f for f in tag_frames if len(f)]
    tags_df = tags_frame(pd.concat(tframes, ignore_index=True) if tframes else None)
    error = "; ".join(errors) or None
    return [
        Evidence("commits", commits_df, source="git", query=query, status=status, error=error,
                 duration_s=dt_s, details=details),
        Evidence("tags", tags_df, source="git", query=query, status=status, error=error, duration_s=dt_s),
    ]


COLLECTOR = Collector(
    name="git",
    run=_run,
    tables=("commits", "tags"),
    # Only when eafix.toml names [git] with repositories: reading whatever repository the
    # current directory happens to be would be a surprising default.
    configured=lambda cfg: "git" in cfg.explicit and bool(cfg.git.repos),
    describe=lambda cfg: _describe(cfg),
)
