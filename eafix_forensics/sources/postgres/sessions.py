"""Live sessions: pg_stat_activity, blocked locks with their blockers, and connection counts."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...model import tables
from .engine import HIDDEN, _fetch, _server_version, _transaction
from .statements import _check_limit

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


# ----------------------------------------------------------------------------- activity
_ACTIVITY_SQL = """
    SELECT a.pid, a.usename, a.application_name, a.state, a.wait_event_type, a.wait_event,
           a.query_start, a.xact_start,
           EXTRACT(EPOCH FROM now() - a.query_start)::float8 AS duration_s,
           a.query,
           CASE WHEN a.wait_event_type = 'Lock'
                THEN array_to_string(pg_blocking_pids(a.pid), ',') ELSE '' END AS blocked_by,
           a.datname, a.backend_type, a.state_change, host(a.client_addr) AS client_addr,
           EXTRACT(EPOCH FROM now() - a.xact_start)::float8 AS xact_age_s,
           now() AS sampled_at
    FROM pg_stat_activity a
    WHERE a.pid <> pg_backend_pid()
      AND (a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.usesysid IS NOT NULL))
      AND a.state IS DISTINCT FROM 'idle'
    ORDER BY a.xact_start NULLS LAST, a.query_start NULLS LAST, a.pid
    LIMIT :limit
"""


def _activity_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """pg_activity rows shaped into the schema (shared by the live query and the demo)."""
    frame = tables.conform(list(rows), "pg_activity") if rows else tables.empty(
        "pg_activity",
        {"datname": "str", "backend_type": "str", "state_change": "datetime64[ns, UTC]", "client_addr": "str",
         "xact_age_s": "float64", "sampled_at": "datetime64[ns, UTC]"},
    )
    frame["blocked_by"] = frame["blocked_by"].fillna("")
    frame.attrs["insufficient_privilege"] = int((frame["query"] == HIDDEN).sum())
    return frame


def activity(engine: Engine, *, limit: int = 1000) -> pd.DataFrame:
    """Sessions that are not idle (active, idle in transaction, …), oldest transaction first.

    Returns pg_activity columns (pid, usename, application_name, state,
    wait_event_type, wait_event, query_start, xact_start, duration_s = seconds
    since query_start, query, blocked_by = comma-separated pids from
    pg_blocking_pids when waiting on a lock) then datname, backend_type,
    state_change, client_addr, xact_age_s, sampled_at. The toolkit's own session
    is left out. Without ``pg_read_all_stats`` other roles' sessions show
    ``<insufficient privilege>`` with no state (counted in
    ``attrs["insufficient_privilege"]``).
    """
    return _read_view(engine, _ACTIVITY_SQL, _activity_frame, limit=limit)


def _read_view(engine: Engine, sql: str, shape: Callable[[list[dict[str, Any]]], pd.DataFrame], *,
               limit: int) -> pd.DataFrame:
    """Run one pg_stat_activity query and shape it; attrs say who read it and if rows were cut."""
    _check_limit(limit, "pg_stat_activity")
    with _transaction(engine) as conn:
        rows = _fetch(conn, sql, {"limit": limit})
        role = _fetch(conn, "SELECT current_user AS u LIMIT 1")[0]["u"]
    frame = shape(rows)
    frame.attrs.update({"truncated": len(rows) >= limit, "role": role})
    return frame


# ----------------------------------------------------------------------------- locks
def _locks_sql(server_version: int) -> tuple[str, str]:
    # pg_locks.waitstart exists from 14; before that the query start is the best guess.
    waitstart = "l.waitstart" if server_version >= 140000 else "NULL::timestamptz"
    cur_db = "(SELECT oid FROM pg_database WHERE datname = current_database())"
    tables_of = """(SELECT string_agg(DISTINCT h.relation::regclass::text, ',')
                    FROM pg_locks h JOIN pg_class c ON c.oid = h.relation
                    WHERE h.pid = {pid} AND h.granted AND h.locktype = 'relation' AND h.database = {db}
                      AND c.relkind IN ('r', 'p') AND c.relnamespace <> 'pg_catalog'::regnamespace)"""
    return f"""
    SELECT l.pid, l.locktype,
           COALESCE(
             CASE WHEN l.relation IS NULL THEN NULL
                  WHEN l.database IN (0, {cur_db}) THEN l.relation::regclass::text
                  ELSE (SELECT datname FROM pg_database WHERE oid = l.database) || ':' || l.relation::text END,
             (SELECT string_agg(DISTINCT t.relation::regclass::text, ',') FROM pg_locks t
               WHERE t.pid = l.pid AND t.granted AND t.locktype = 'tuple' AND t.database = {cur_db}),
             {tables_of.format(pid="l.pid", db=cur_db)}
           ) AS relation,
           l.mode, l.granted,
           array_to_string(pg_blocking_pids(l.pid), ',') AS blocked_by,
           EXTRACT(EPOCH FROM now() - COALESCE({waitstart}, a.query_start))::float8 AS waiting_s,
           a.query, now() AS sampled_at, {waitstart} AS wait_started_at,
           a.application_name, a.usename, a.datname, a.state, a.xact_start
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE NOT l.granted AND l.pid IS NOT NULL
    ORDER BY waiting_s DESC NULLS LAST, l.pid
    LIMIT :limit
    """, f"""
    SELECT a.pid, a.query, a.application_name, a.usename, a.datname, a.state, a.xact_start,
           {tables_of.format(pid="a.pid", db=cur_db)} AS relation,
           (SELECT string_agg(DISTINCT h.mode, ',') FROM pg_locks h JOIN pg_class c ON c.oid = h.relation
             WHERE h.pid = a.pid AND h.granted AND h.locktype = 'relation' AND h.database = {cur_db}
               AND c.relkind IN ('r', 'p') AND c.relnamespace <> 'pg_catalog'::regnamespace) AS mode,
           now() AS sampled_at
    FROM pg_stat_activity a
    WHERE a.pid = ANY(:pids)
    LIMIT :limit
    """


def _pids(text: Any) -> list[int]:
    if text is None or (isinstance(text, float) and math.isnan(text)) or text is pd.NA:
        return []
    return [int(p) for p in str(text).split(",") if p.strip()]


def _locks_frame(
    waiting: Sequence[Mapping[str, Any]], blockers: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """Ungranted locks plus their root blockers, as a blocking tree (root first, depth-first).

    Shared by the live query and the demo: ``waiting`` are pg_locks rows with
    ``granted = false``; ``blockers`` the pg_stat_activity rows of the pids
    blocking them (their query, and the tables they hold locks on).
    """
    by_pid: dict[int, dict[str, Any]] = {}
    for r in waiting:
        by_pid.setdefault(int(r["pid"]), dict(r))
    info = {int(r["pid"]): dict(r) for r in blockers}
    for pid, r in by_pid.items():
        info.setdefault(pid, r)
    parent: dict[int, int | None] = {}
    for pid, r in by_pid.items():
        blockers_of = _pids(r.get("blocked_by"))
        # Hang a waiter under a blocker that itself waits, so chains show their full depth.
        waiting_blockers = [b for b in blockers_of if b in by_pid]
        candidates = waiting_blockers or blockers_of
        parent[pid] = candidates[0] if candidates else None

    def root_of(pid: int) -> int:
        seen = {pid}
        while parent.get(pid) is not None and parent[pid] not in seen:
            pid = parent[pid]  # type: ignore[assignment]
            seen.add(pid)
        return pid

    children: dict[int | None, list[int]] = {}
    for pid, p in parent.items():
        children.setdefault(p, []).append(pid)
    roots = sorted({root_of(pid) for pid in by_pid})
    rows: list[dict[str, Any]] = []
    placed: set[int] = set()

    def blocker_queries(pids: list[int]) -> str | None:
        qs = [str(info[p]["query"]) for p in pids if p in info and info[p].get("query") is not None]
        return " | ".join(qs) if qs else None

    def walk(pid: int, depth: int, root: int) -> None:
        if pid in placed:
            return
        placed.add(pid)
        if pid in by_pid:
            r = dict(by_pid[pid])
            r.update({"depth": depth, "root_blocker": root, "blocker_query": blocker_queries(_pids(r.get("blocked_by")))})
        else:  # a root blocker: holds the locks, waits for nobody
            b = info.get(pid, {})
            r = {
                "pid": pid, "locktype": "relation" if b.get("relation") else None, "relation": b.get("relation"),
                "mode": b.get("mode"), "granted": True, "blocked_by": "", "waiting_s": None,
                "query": b.get("query"), "sampled_at": b.get("sampled_at"), "application_name": b.get("application_name"),
                "usename": b.get("usename"), "datname": b.get("datname"),
                "state": b.get("state") if b else "ended", "xact_start": b.get("xact_start"),
                "depth": 0, "root_blocker": root, "blocker_query": None,
            }
        rows.append(r)
        kids = sorted(children.get(pid, []), key=lambda k: -(by_pid[k].get("waiting_s") or 0.0))
        for k in kids:
            walk(k, depth + 1, root)

    for root in roots:
        walk(root, 0, root)
    for pid in by_pid:  # cycles (a deadlock about to be broken) have no root
        walk(pid, 0, pid)
    extra = {
        "sampled_at": "datetime64[ns, UTC]", "wait_started_at": "datetime64[ns, UTC]", "application_name": "str",
        "usename": "str", "datname": "str", "state": "str", "xact_start": "datetime64[ns, UTC]",
        "depth": "Int64", "root_blocker": "Int64", "blocker_query": "str",
    }
    if not rows:
        return tables.empty("pg_locks", extra)
    frame = tables.conform(rows, "pg_locks")
    for col, dtype in extra.items():
        if col not in frame.columns:
            frame[col] = pd.Series([None] * len(frame))
        if dtype.startswith("datetime"):
            frame[col] = pd.to_datetime(frame[col], utc=True).astype(dtype)
        else:
            frame[col] = frame[col].astype(dtype)
    frame["blocked_by"] = frame["blocked_by"].fillna("")
    return frame[list(tables.SCHEMAS["pg_locks"]) + list(extra)]


def blocked_locks(engine: Engine, *, limit: int = 1000) -> pd.DataFrame:
    """Lock waits now, as a blocking tree: each root blocker, then who waits on it.

    Returns pg_locks columns: pid, locktype, relation (table name; for a wait
    on a transaction id, the table of the row being waited for), mode, granted
    (False for a waiting lock; True on root-blocker rows, which hold the locks
    and wait for nobody), blocked_by (comma-separated pids), waiting_s, query;
    then sampled_at, wait_started_at, application_name, usename, datname,
    state, xact_start, depth (0 = root blocker), root_blocker (pid) and
    blocker_query (the blockers' current or last query). Rows are ordered
    depth-first from each root. ``locks[~locks.granted]`` is the runbook's
    ``pg_locks WHERE NOT granted``.
    """
    _check_limit(limit, "pg_locks")
    with _transaction(engine) as conn:
        waiting_sql, blockers_sql = _locks_sql(_server_version(conn))
        waiting = _fetch(conn, waiting_sql, {"limit": limit})
        pids = sorted({p for r in waiting for p in _pids(r["blocked_by"])} - {int(r["pid"]) for r in waiting})
        blockers = _fetch(conn, blockers_sql, {"pids": pids, "limit": limit}) if pids else []
    frame = _locks_frame(waiting, blockers)
    frame.attrs["truncated"] = len(waiting) >= limit
    return frame


# ----------------------------------------------------------------------------- connections
_CONNECTIONS_SQL = f"""
    SELECT COALESCE(a.state, '{HIDDEN}') AS state, a.application_name, count(*) AS count,
           current_setting('max_connections')::int AS max_connections,
           current_setting('superuser_reserved_connections')::int AS reserved_connections,
           now() AS sampled_at
    FROM pg_stat_activity a
    WHERE a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.usesysid IS NOT NULL)
    GROUP BY 1, 2
    ORDER BY count(*) DESC, 1, 2
    LIMIT :limit
"""


def _connections_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    if not rows:
        return tables.empty(
            "pg_connections",
            {"max_connections": "Int64", "reserved_connections": "Int64", "sampled_at": "datetime64[ns, UTC]"},
        )
    frame = tables.conform(list(rows), "pg_connections")
    for col in ("max_connections", "reserved_connections"):
        if col in frame.columns:
            frame[col] = frame[col].astype("Int64")
    frame.attrs["insufficient_privilege"] = int(frame.loc[frame["state"] == HIDDEN, "count"].sum())
    return frame


def connections(engine: Engine, *, limit: int = 1000) -> pd.DataFrame:
    """Client connections counted by state and application, against ``max_connections``.

    Returns pg_connections columns (state, application_name, count) then
    max_connections, reserved_connections (superuser_reserved_connections) and
    sampled_at; most connections first. The toolkit's own connection is
    counted (it is one of them). Sessions hidden from a role without
    ``pg_read_all_stats`` have state ``<insufficient privilege>``.
    """
    return _read_view(engine, _CONNECTIONS_SQL, _connections_frame, limit=limit)
