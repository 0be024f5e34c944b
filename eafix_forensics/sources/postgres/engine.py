"""The read-only engine (guard rails as startup options), the one error translation,
and the transaction and fetch helpers every query goes through."""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ...config import Config, PostgresConfig
from ...errors import ConfigError, QueryError, SourceError, SourceUnavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


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
# The config an engine was made from, for error hints (the Engine has no place for it).
_ENGINE_CONFIG: weakref.WeakKeyDictionary[Engine, PostgresConfig] = weakref.WeakKeyDictionary()


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
    # deferred: sqlalchemy costs ~0.23 s to import
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
    # deferred: sqlalchemy costs ~0.23 s to import
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
    # deferred: sqlalchemy costs ~0.23 s to import
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
    # deferred: sqlalchemy costs ~0.23 s to import
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
