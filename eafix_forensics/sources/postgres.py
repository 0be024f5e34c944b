"""PostgreSQL evidence: pg_stat_statements, pg_stat_activity, pg_locks, connections.

Read-only and safe to point at the production database in the middle of an
incident. Every connection made by :func:`postgres_engine` carries these guard
rails as startup options, so they hold before the first statement runs:

- ``default_transaction_read_only = on``: nothing the toolkit sends can write;
- ``statement_timeout`` (5 s), ``lock_timeout`` (1 s) and
  ``idle_in_transaction_session_timeout`` (10 s) from ``[postgres]``;
- ``application_name = 'eafix-forensics'`` so a DBA sees who we are;
- a connect timeout, one pooled connection (no overflow), and a ``LIMIT`` on
  every query.

The password never appears in a URL: it comes from the environment variable
named by ``[postgres] password_env`` (``EAFIX_PG_PASSWORD``) or from libpq's
``~/.pgpass``. A URL that contains a password is refused.

Errors from sqlalchemy/psycopg are translated in one place
(:func:`_translate`): failing to connect (refused, timeout, authentication)
is ``SourceUnavailable`` naming host:port; a statement the server rejects
(including one cancelled by the statement timeout) is ``QueryError`` with the
server's message.

A missing ``pg_stat_statements`` extension is a ``QueryError`` whose message
gives the fix; in :func:`collect` it makes the statements tables
``unavailable`` while activity, locks and connections are still collected.
A role without ``pg_read_all_stats`` sees other roles' statements and sessions
as ``<insufficient privilege>``: those rows are kept, counted in
``frame.attrs["insufficient_privilege"]`` and named in the manifest.
"""

from __future__ import annotations

import math
import os
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..bundle import Evidence
from ..config import Config, PostgresConfig
from ..errors import ConfigError, QueryError, SourceError, SourceUnavailable
from ..model import tables
from .base import CollectContext, Collector

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "COLLECTOR",
    "HIDDEN",
    "activity",
    "blocked_locks",
    "connections",
    "postgres_engine",
    "statements_delta",
    "statements_snapshot",
    "top_statements",
]

APPLICATION_NAME = "eafix-forensics"
HIDDEN = "<insufficient privilege>"
SOURCE = "postgres"

MISSING_EXTENSION = (
    "pg_stat_statements is not installed in database {db}: add "
    "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf, restart PostgreSQL, "
    "then run CREATE EXTENSION pg_stat_statements; in {db}"
)
NOT_PRELOADED = (
    "pg_stat_statements is installed in database {db} but not loaded: add "
    "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf and restart PostgreSQL "
    "(CREATE EXTENSION pg_stat_statements alone is not enough)"
)
PRIVILEGE_HINT = (
    "{n} row(s) show {hidden}: role {role} cannot see other roles' {what}; "
    "GRANT pg_read_all_stats TO {role} to see them"
)

# order_by name -> column of pg_stat_statements (PostgreSQL 13+, 12 and older)
_ORDER = {
    "total_exec_time": ("total_exec_time", "total_time"),
    "mean_exec_time": ("mean_exec_time", "mean_time"),
    "calls": ("calls", "calls"),
    "rows": ("rows", "rows"),
    "shared_blks_read": ("shared_blks_read", "shared_blks_read"),
    "shared_blks_hit": ("shared_blks_hit", "shared_blks_hit"),
}
# The config an engine was made from, for error hints (the Engine has no place for it).
_ENGINE_CONFIG: weakref.WeakKeyDictionary[Engine, PostgresConfig] = weakref.WeakKeyDictionary()
_COUNTERS = ("calls", "total_exec_time_ms", "rows", "shared_blks_hit", "shared_blks_read")
_KEY = ["userid", "dbid", "toplevel", "queryid"]


# ----------------------------------------------------------------------------- engine
def _pg_config(url_or_config: str | Config | PostgresConfig | None) -> PostgresConfig:
    if url_or_config is None:
        return Config.load().postgres
    if isinstance(url_or_config, Config):
        return url_or_config.postgres
    if isinstance(url_or_config, PostgresConfig):
        return url_or_config
    if isinstance(url_or_config, str):
        return PostgresConfig(url=url_or_config)
    raise ConfigError(f"postgres_engine({url_or_config!r}): expected a URL, a Config or a PostgresConfig")


def postgres_engine(
    url_or_config: str | Config | PostgresConfig | None = None,
    *,
    statement_timeout_ms: int | None = None,
    lock_timeout_ms: int | None = None,
) -> Engine:
    """Return a SQLAlchemy Engine (``postgresql+psycopg``) with the read-only guard rails.

    ``url_or_config`` is a URL without password, a Config or its ``[postgres]``
    section (None: ``Config.load()``). The password comes from the variable
    named by ``password_env`` or from ``~/.pgpass``. The engine holds one
    connection; ``engine.url`` never contains a password.
    """
    import sqlalchemy
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    cfg = _pg_config(url_or_config)
    try:
        url = make_url(cfg.url)
    except ArgumentError as exc:
        raise ConfigError(f"[postgres] url {cfg.url!r}: not a database URL ({exc})") from None
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            f"[postgres] url {url.render_as_string(hide_password=True)}: expected postgresql+psycopg://user@host:port/db"
        )
    if url.password:
        raise ConfigError(
            f"[postgres] url {url.render_as_string(hide_password=True)}: remove the password from the URL "
            f"(it would end up in logs and bundles); set ${cfg.password_env} or use ~/.pgpass"
        )
    url = url.set(drivername="postgresql+psycopg")
    stmt_ms = int(statement_timeout_ms if statement_timeout_ms is not None else cfg.statement_timeout_ms)
    lock_ms = int(lock_timeout_ms if lock_timeout_ms is not None else cfg.lock_timeout_ms)
    for key, value in (("statement_timeout_ms", stmt_ms), ("lock_timeout_ms", lock_ms),
                       ("idle_in_transaction_timeout_ms", cfg.idle_in_transaction_timeout_ms),
                       ("connect_timeout_s", cfg.connect_timeout_s)):
        if not value > 0:
            # PostgreSQL reads 0 as "no limit": that would take a guard rail away.
            raise ConfigError(f"[postgres] {key} = {value!r}: must be positive")
    options = " ".join(
        f"-c {k}={v}"
        for k, v in (
            ("default_transaction_read_only", "on"),
            ("statement_timeout", stmt_ms),
            ("lock_timeout", lock_ms),
            ("idle_in_transaction_session_timeout", int(cfg.idle_in_transaction_timeout_ms)),
        )
    )
    connect_args: dict[str, Any] = {
        "application_name": APPLICATION_NAME,
        "options": options,
        # libpq treats 1 as 2 and 0 as "wait forever"
        "connect_timeout": max(2, math.ceil(cfg.connect_timeout_s)),
    }
    password = os.environ.get(cfg.password_env) if cfg.password_env else None
    if password:
        connect_args["password"] = password
    engine = sqlalchemy.create_engine(
        url,
        connect_args=connect_args,
        pool_size=1,
        max_overflow=0,
        pool_timeout=max(1.0, cfg.connect_timeout_s),
        pool_pre_ping=True,
        hide_parameters=True,
    )
    _ENGINE_CONFIG[engine] = cfg
    return engine


def _where(engine: Engine) -> str:
    u = engine.url
    return f"{u.host or 'localhost'}:{u.port or 5432} (database {u.database or '?'}, user {u.username or '?'})"


def _translate(exc: BaseException, engine: Engine, sql: str | None) -> SourceError:
    """The one place sqlalchemy/psycopg errors become ours."""
    from sqlalchemy import exc as sa_exc

    where = _where(engine)
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    server_msg = getattr(diag, "message_primary", None) if diag is not None else None
    lines = (server_msg or str(orig if orig is not None else exc)).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    if sql is None or isinstance(exc, sa_exc.TimeoutError):
        hint = ""
        if "password" in text:
            cfg = _ENGINE_CONFIG.get(engine)
            var = f"${cfg.password_env}" if cfg and cfg.password_env else "the variable named by [postgres] password_env"
            hint = f"; set the password in {var} or in ~/.pgpass"
        return SourceUnavailable(f"PostgreSQL at {where}: cannot connect: {text}{hint}")
    if isinstance(exc, sa_exc.DBAPIError) and (
        sqlstate is None or sqlstate.startswith("08") or exc.connection_invalidated
    ):
        return SourceUnavailable(f"PostgreSQL at {where}: connection lost: {text}")
    if "pg_stat_statements must be loaded" in text:
        return QueryError(NOT_PRELOADED.format(db=engine.url.database), query=sql)
    return QueryError(f"PostgreSQL at {where} refused the query: {text}", query=sql)


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction on the engine's single connection, rolled back at the end."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        raise _translate(exc, engine, None) from exc
    try:
        yield conn
    finally:
        try:
            conn.rollback()
            conn.close()
        except SQLAlchemyError:
            conn.invalidate()


def _fetch(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        result = conn.execute(text(sql), dict(params or {}))
        return [dict(r._mapping) for r in result]
    except SQLAlchemyError as exc:
        raise _translate(exc, conn.engine, " ".join(sql.split())) from exc


def _server_version(conn: Connection) -> int:
    rows = _fetch(conn, "SELECT current_setting('server_version_num')::int AS v LIMIT 1")
    return int(rows[0]["v"])


def _extension(conn: Connection) -> tuple[str, tuple[int, ...]]:
    """(schema, version) of pg_stat_statements in this database, or QueryError with the fix."""
    rows = _fetch(
        conn,
        "SELECT n.nspname AS schema, e.extversion AS version, current_database() AS db "
        "FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_stat_statements' LIMIT 1",
    )
    if not rows:
        db = _fetch(conn, "SELECT current_database() AS db LIMIT 1")[0]["db"]
        raise QueryError(MISSING_EXTENSION.format(db=db), query="pg_stat_statements")
    version = tuple(int(p) for p in str(rows[0]["version"]).split(".") if p.isdigit())
    return str(rows[0]["schema"]), version


# ----------------------------------------------------------------------------- statements
def _statements_sql(ext_version: tuple[int, ...], schema: str, *, order: str, all_databases: bool) -> str:
    """The pg_stat_statements query for this version of the extension.

    The columns follow the extension's version, not the server's: 1.8 (PostgreSQL
    13) renamed total_time to total_exec_time, 1.9 (14) added toplevel; a database
    upgraded without ALTER EXTENSION … UPDATE keeps the old names.
    """
    new = ext_version >= (1, 8)
    total, mean, stddev, mx = (
        ("total_exec_time", "mean_exec_time", "stddev_exec_time", "max_exec_time")
        if new
        else ("total_time", "mean_time", "stddev_time", "max_time")
    )
    toplevel = "s.toplevel" if ext_version >= (1, 9) else "true"
    where = "" if all_databases else "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ident = '"' + schema.replace('"', '""') + '"'
    order_col = _ORDER[order][0 if new else 1]
    return f"""
        SELECT s.queryid, s.query, s.calls,
               s.{total} AS total_exec_time_ms, s.{mean} AS mean_exec_time_ms, s.rows,
               s.shared_blks_hit, s.shared_blks_read,
               s.userid::bigint AS userid, s.dbid::bigint AS dbid, {toplevel} AS toplevel,
               r.rolname AS usename, d.datname,
               s.{stddev} AS stddev_exec_time_ms, s.{mx} AS max_exec_time_ms,
               now() AS sampled_at
        FROM {ident}.pg_stat_statements s
        LEFT JOIN pg_roles r ON r.oid = s.userid
        LEFT JOIN pg_database d ON d.oid = s.dbid
        {where}
        ORDER BY s.{order_col} DESC NULLS LAST, s.queryid
        LIMIT :limit
    """


def _statements_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """pg_statements rows (as the server returns them) shaped into the schema."""
    frame = tables.conform(list(rows), "pg_statements") if rows else _empty_statements()
    frame.attrs["insufficient_privilege"] = int((frame["query"] == HIDDEN).sum()) if len(frame) else 0
    return frame


def _empty_statements() -> pd.DataFrame:
    return tables.empty(
        "pg_statements",
        {"userid": "Int64", "dbid": "Int64", "toplevel": "boolean", "usename": "str", "datname": "str",
         "stddev_exec_time_ms": "float64", "max_exec_time_ms": "float64", "sampled_at": "datetime64[ns, UTC]"},
    )


def _check_limit(limit: int, what: str) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfigError(f"{what}: limit={limit!r} must be a positive integer")
    return limit


def _statements(engine: Engine, *, limit: int, order_by: str, all_databases: bool, info: bool) -> pd.DataFrame:
    if order_by not in _ORDER:
        raise ConfigError(f"order_by={order_by!r}: use one of {', '.join(_ORDER)}")
    _check_limit(limit, "pg_stat_statements")
    with _transaction(engine) as conn:
        version = _server_version(conn)
        schema, ext_version = _extension(conn)
        rows = _fetch(
            conn,
            _statements_sql(ext_version, schema, order=order_by, all_databases=all_databases),
            {"limit": limit},
        )
        meta: dict[str, Any] = {"server_version": version, "sampled_at": None, "stats_reset": None, "dealloc": None}
        if info:
            meta["sampled_at"] = _iso(_fetch(conn, "SELECT now() AS t LIMIT 1")[0]["t"])
            if ext_version >= (1, 9):
                ident = '"' + schema.replace('"', '""') + '"'
                i = _fetch(conn, f"SELECT dealloc, stats_reset FROM {ident}.pg_stat_statements_info LIMIT 1")[0]
                meta["dealloc"] = int(i["dealloc"])
                meta["stats_reset"] = _iso(i["stats_reset"])
        role = _fetch(conn, "SELECT current_user AS u LIMIT 1")[0]["u"]
    frame = _statements_frame(rows)
    frame.attrs.update(meta)
    frame.attrs["truncated"] = len(rows) >= limit
    frame.attrs["role"] = role
    return frame


def top_statements(
    engine: Engine, limit: int = 10, order_by: str = "total_exec_time", *, all_databases: bool = False
) -> pd.DataFrame:
    """The ``limit`` statements of pg_stat_statements with the most ``order_by``.

    ``order_by``: total_exec_time, mean_exec_time, calls, rows, shared_blks_read
    or shared_blks_hit (``total_time``/``mean_time`` are read where the
    extension is older than 1.8, e.g. PostgreSQL 12). Only the connected
    database unless ``all_databases``. Returns
    pg_statements columns (queryid, query, calls, total_exec_time_ms,
    mean_exec_time_ms, rows, shared_blks_hit, shared_blks_read) then userid,
    dbid, toplevel, usename, datname, stddev_exec_time_ms, max_exec_time_ms,
    sampled_at. Rows another role ran show ``<insufficient privilege>`` without
    ``pg_read_all_stats``; ``attrs["insufficient_privilege"]`` counts them.
    Raises QueryError (with the fix) when the extension is missing.
    """
    return _statements(engine, limit=limit, order_by=order_by, all_databases=all_databases, info=False)


def statements_snapshot(engine: Engine, *, limit: int = 5000, all_databases: bool = False) -> pd.DataFrame:
    """Every pg_stat_statements entry now (up to ``limit``), for :func:`statements_delta`.

    Columns as :func:`top_statements`. ``attrs`` holds ``sampled_at`` (server
    time), ``stats_reset`` and ``dealloc`` (pg_stat_statements_info, 1.9+),
    ``truncated`` and ``insufficient_privilege``.
    """
    return _statements(engine, limit=limit, order_by="total_exec_time", all_databases=all_databases, info=True)


def _iso(ts: Any) -> str | None:
    """attrs hold times as ISO text so frames still write to Parquet (attrs go in as JSON)."""
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).tz_convert("UTC").isoformat()


def _meta(frame: pd.DataFrame, key: str) -> Any:
    value = frame.attrs.get(key)
    if isinstance(value, str) and key in ("sampled_at", "stats_reset"):
        return pd.Timestamp(value)
    if value is None and key in frame.columns and len(frame):
        value = frame[key].dropna().max() if frame[key].notna().any() else None
    return value


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """Counters per statement key; hidden rows (no queryid) of one role/database are summed."""
    f = frame.copy()
    for col in _KEY:
        if col not in f.columns:
            f[col] = pd.NA
    agg: dict[str, Any] = {c: "sum" for c in _COUNTERS}
    agg.update({c: "first" for c in ("query", "usename", "datname") if c in f.columns})
    return f.groupby(_KEY, dropna=False, sort=False).agg(agg).reset_index()


def statements_delta(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """What each statement did between two :func:`statements_snapshot` results.

    Returns pg_statements columns whose counters are the work done between the
    snapshots (mean = total / calls in the window), only statements that ran,
    most total time first, then: userid, dbid, toplevel, usename, datname,
    ``change``, ``baseline_calls``, ``baseline_mean_exec_time_ms`` (the
    cumulative figures at ``before``), ``since``, ``until``.

    ``change`` is ``delta`` (after minus before), ``new`` (first seen after
    ``before``: all its calls are in the window), ``reset`` (the counters went
    down, or pg_stat_statements_reset() ran in between: the figures are those
    since the reset, a lower bound), or ``evicted`` (in ``before`` only;
    counters missing; not listed after a full reset, which clears every
    entry). Counters are never negative. ``attrs``: ``reset`` (bool),
    ``stats_reset``, ``evicted`` (count), ``dealloc`` (entries evicted per
    pg_stat_statements_info), ``notes`` (readable lines).
    """
    since, until = _meta(before, "sampled_at"), _meta(after, "sampled_at")
    reset_before, reset_after = _meta(before, "stats_reset"), _meta(after, "stats_reset")
    full_reset = reset_before is not None and reset_after is not None and reset_after > reset_before
    b, a = _keyed(before), _keyed(after)
    m = a.merge(b, on=_KEY, how="outer", suffixes=("", "_before"), indicator=True)
    went_down = pd.Series(False, index=m.index)
    for c in ("calls", "total_exec_time_ms"):
        went_down |= (m[c] < m[f"{c}_before"]).fillna(False).astype(bool)
    both = m["_merge"] == "both"
    change = pd.Series("delta", index=m.index, dtype=object)
    change[m["_merge"] == "left_only"] = "new"
    change[m["_merge"] == "right_only"] = "evicted"
    change[both & (went_down | full_reset)] = "reset"
    if full_reset:
        # After a full reset every entry of `before` is gone by design; listing them is noise.
        change[m["_merge"] == "right_only"] = "cleared"
    out = pd.DataFrame({k: m[k] for k in _KEY})
    for c in ("query", "usename", "datname"):
        if c in m.columns:
            out[c] = m[c].where(m[c].notna(), m.get(f"{c}_before"))
    for c in _COUNTERS:
        diff = m[c] - m[f"{c}_before"].fillna(0)
        out[c] = diff.where(change == "delta", m[c]).where(change != "evicted")
    out["change"] = change
    out["baseline_calls"] = m["calls_before"].where(both)
    baseline_mean = m["total_exec_time_ms_before"] / m["calls_before"].where(m["calls_before"] > 0)
    out["baseline_mean_exec_time_ms"] = baseline_mean.where(both)
    out = out[(out["change"] == "evicted") | ((out["change"] != "cleared") & (out["calls"].fillna(0) > 0))]
    calls = out["calls"].astype("float64")
    out["mean_exec_time_ms"] = out["total_exec_time_ms"].astype("float64") / calls.where(calls > 0)
    out["since"] = since
    out["since"] = out["since"].where(out["change"] != "reset", reset_after if full_reset else None)
    out["until"] = until
    out = out.sort_values(["total_exec_time_ms", "calls"], ascending=False, na_position="last")
    cols = list(tables.SCHEMAS["pg_statements"]) + [c for c in out.columns if c not in tables.SCHEMAS["pg_statements"]]
    frame = tables.conform(out[cols], "pg_statements")
    for col in ("since", "until"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[ns, UTC]")
    frame["change"] = frame["change"].astype("str")
    evicted = int((frame["change"] == "evicted").sum())
    notes = []
    if full_reset:
        notes.append(f"pg_stat_statements_reset() ran at {reset_after}: figures after it are lower bounds")
    n_reset = int((frame["change"] == "reset").sum())
    if n_reset and not full_reset:
        notes.append(f"{n_reset} statement(s) were reset between the snapshots: their figures are lower bounds")
    if evicted:
        notes.append(f"{evicted} statement(s) left pg_stat_statements between the snapshots (evicted or reset)")
    d0, d1 = _meta(before, "dealloc"), _meta(after, "dealloc")
    dealloc = int(d1 - d0) if d0 is not None and d1 is not None and d1 >= d0 else None
    if dealloc:
        notes.append(f"pg_stat_statements evicted entries {dealloc} time(s): raise pg_stat_statements.max")
    frame.attrs.update(
        {"reset": bool(full_reset or n_reset), "stats_reset": _iso(reset_after), "evicted": evicted,
         "dealloc": dealloc, "notes": notes, "since": _iso(since), "until": _iso(until)}
    )
    return frame


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


# ----------------------------------------------------------------------------- collect
def _describe(config: Config) -> str:
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
