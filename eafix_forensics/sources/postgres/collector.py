"""The PostgreSQL source's part in collect(): statements before and after, activity and locks
(sampled with ``--watch``), connections."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ...bundle import Evidence
from ...config import Config
from ...errors import SourceError
from ..base import CollectContext, Collector
from .engine import HIDDEN, PRIVILEGE_HINT, SOURCE, _fetch, _transaction, postgres_engine
from .sessions import (
    _activity_frame,
    _connections_frame,
    _locks_frame,
    activity,
    blocked_locks,
    connections,
)
from .statements import _empty_statements, statements_delta, statements_snapshot


# ----------------------------------------------------------------------------- collect
def _describe(config: Config) -> str:
    # deferred: sqlalchemy costs ~0.23 s to import
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(config.postgres.url).render_as_string(hide_password=True)
    except ArgumentError:
        url = "(invalid [postgres] url)"
    return f"{url}: pg_stat_statements, pg_stat_activity (not idle), pg_locks (not granted), connections"


def _privilege_note(frame: pd.DataFrame, what: str) -> str | None:
    n = int(frame.attrs.get("insufficient_privilege") or 0)
    if not n:
        return None
    return PRIVILEGE_HINT.format(n=n, hidden=HIDDEN, role=frame.attrs.get("role") or "the toolkit's role", what=what)


def _evidence(name: str, frame: pd.DataFrame, query: str, duration: float, *, errors: Sequence[str] = (),
              notes: Sequence[str | None] = (), details: dict[str, Any] | None = None,
              truncated: bool = False, failed: bool = False) -> Evidence:
    lines = [n for n in notes if n]
    det = dict(details or {})
    hidden = int(frame.attrs.get("insufficient_privilege") or 0)
    if hidden:
        det["insufficient_privilege"] = hidden
    frame = frame.copy()
    frame.attrs = {}  # what they said is in the manifest (error, details)
    if errors:
        det["failed_attempts"] = len(errors)
        lines.extend(errors)
    status = "unavailable" if failed else ("truncated" if truncated else None)
    return Evidence(name, frame, source=SOURCE, query=query, status=status,
                    error="; ".join(dict.fromkeys(lines)) or None, duration_s=duration, details=det)


@dataclass
class _Sampled:
    """What one collect run read from the server (or the demo made up), before it becomes Evidence."""

    before: pd.DataFrame | None = None
    after: pd.DataFrame | None = None
    statements_errors: list[str] = field(default_factory=list)
    activity: list[pd.DataFrame] = field(default_factory=list)
    activity_errors: list[str] = field(default_factory=list)
    locks: list[pd.DataFrame] = field(default_factory=list)
    locks_errors: list[str] = field(default_factory=list)
    connections: pd.DataFrame | None = None
    connections_errors: list[str] = field(default_factory=list)
    samples: int = 0
    interval_s: float | None = None  # None: no --watch, one sample


def _collect(ctx: CollectContext) -> list[Evidence]:
    cfg = ctx.config.postgres
    limit = cfg.row_limit
    engine = postgres_engine(ctx.config)
    t_start = time.monotonic()
    got = _Sampled(interval_s=cfg.watch_interval_s if ctx.watch is not None else None)

    def attempt(errors: list[str], fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except SourceError as exc:
            errors.append(str(exc))
            return None

    try:
        with _transaction(engine) as conn:  # unreachable: the whole source is unavailable
            _fetch(conn, "SELECT 1 AS ok LIMIT 1")
        got.before = attempt(got.statements_errors, statements_snapshot, engine, limit=cfg.snapshot_limit)
        watch_s = ctx.watch.total_seconds() if ctx.watch is not None else 0.0
        t0 = time.monotonic()
        while True:
            got.samples += 1
            f = attempt(got.activity_errors, activity, engine, limit=limit)
            if f is not None:
                got.activity.append(f)
            f = attempt(got.locks_errors, blocked_locks, engine, limit=limit)
            if f is not None:
                got.locks.append(f)
            next_at = t0 + got.samples * cfg.watch_interval_s
            # Leave time for the closing snapshot before collect's deadline.
            if next_at >= t0 + watch_s or next_at > time.monotonic() + max(0.0, ctx.remaining() - 10.0):
                break
            time.sleep(max(0.0, next_at - time.monotonic()))
        got.connections = attempt(got.connections_errors, connections, engine, limit=limit)
        if ctx.watch is not None:
            got.after = attempt(got.statements_errors, statements_snapshot, engine, limit=cfg.snapshot_limit)
        else:
            got.after = got.before
    finally:
        engine.dispose()
    return _tables(got, query=_describe(ctx.config), duration=time.monotonic() - t_start, limit=limit)


def _tables(got: _Sampled, *, query: str, duration: float, limit: int) -> list[Evidence]:
    """The source's five tables from what was read (shared by collect and the demo)."""
    q, dt = query, duration
    out: list[Evidence] = []
    after, before = got.after, got.before
    latest = after if after is not None else before  # a failed closing snapshot keeps the opening one
    if latest is not None:
        out.append(_evidence(
            "pg_statements", latest.head(limit), q, dt, notes=[_privilege_note(latest, "statements")],
            errors=got.statements_errors,
            details={k: str(v) for k, v in latest.attrs.items() if k in ("stats_reset", "sampled_at", "server_version")},
            truncated=bool(latest.attrs.get("truncated")) or len(latest) > limit))
    else:
        out.append(_evidence("pg_statements", _empty_statements(), q, dt, errors=got.statements_errors, failed=True))

    delta_q = q + " (snapshots before and after --watch)"
    if got.interval_s is None:
        out.append(Evidence("pg_statements_delta", _empty_statements(), source=SOURCE, query=delta_q,
                            status="skipped", error="a delta needs two snapshots: collect with --watch DURATION"))
    elif before is None or after is None:
        out.append(_evidence("pg_statements_delta", _empty_statements(), delta_q, dt,
                             errors=got.statements_errors, failed=True))
    else:
        delta = statements_delta(before, after)
        out.append(_evidence("pg_statements_delta", delta, delta_q, dt,
                             notes=[*delta.attrs.get("notes", []), _privilege_note(after, "statements")],
                             details={"reset": bool(delta.attrs.get("reset")), "evicted": delta.attrs.get("evicted"),
                                      "since": delta.attrs.get("since"), "until": delta.attrs.get("until")},
                             truncated=bool(before.attrs.get("truncated") or after.attrs.get("truncated"))))

    for name, frames, errors, empty_frame in (
        ("pg_activity", got.activity, got.activity_errors, _activity_frame([])),
        ("pg_locks", got.locks, got.locks_errors, _locks_frame([], [])),
    ):
        rows = [f for f in frames if len(f)]
        frame = pd.concat(rows, ignore_index=True) if rows else empty_frame
        frame.attrs["insufficient_privilege"] = max(
            (int(f.attrs.get("insufficient_privilege") or 0) for f in frames), default=0)
        frame.attrs["role"] = next((f.attrs.get("role") for f in frames if f.attrs.get("role")), None)
        out.append(_evidence(name, frame, q, dt, errors=errors, notes=[_privilege_note(frame, "sessions")],
                             details={"samples": got.samples, "interval_s": got.interval_s},
                             truncated=any(bool(f.attrs.get("truncated")) for f in frames), failed=not frames))
    if got.connections is not None:
        out.append(_evidence("pg_connections", got.connections, q, dt,
                             notes=[_privilege_note(got.connections, "sessions")],
                             truncated=bool(got.connections.attrs.get("truncated"))))
    else:
        out.append(_evidence("pg_connections", _connections_frame([]), q, dt,
                             errors=got.connections_errors, failed=True))
    return out


COLLECTOR = Collector(
    name=SOURCE,
    run=_collect,
    tables=("pg_statements", "pg_statements_delta", "pg_activity", "pg_locks", "pg_connections"),
    configured=lambda config: True,  # the runbook's database is a useful default
    describe=_describe,
)
