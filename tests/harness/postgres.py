"""A private PostgreSQL 15 cluster with pg_stat_statements, for tests and benchmarks.

Plain context manager (benchmarks, scripts)::

    from tests.harness.postgres import running_postgres

    with running_postgres() as pg:
        url = pg.create_database("bench")          # fresh database with pg_stat_statements
        engine = sqlalchemy.create_engine(pg.superuser_url)

``running_postgres(workdir=None)`` runs ``initdb`` as the ``postgres`` user
(``runuser -u postgres --`` when we are root, because initdb refuses root),
writes a postgresql.conf with ``fsync=off``,
``shared_preload_libraries=pg_stat_statements`` and ``listen_addresses=127.0.0.1``
on a free port, starts the server with ``pg_ctl`` and stops it (and removes the
cluster) at the end. It yields a :class:`PostgresServer`:

- ``.host`` (``127.0.0.1``), ``.port``, ``.socket_dir``, ``.data_dir``, ``.log_path``
- ``.url(dbname="postgres", user="postgres")`` → ``postgresql+psycopg://user@127.0.0.1:port/dbname``
- ``.superuser_url`` → the url of the ``postgres`` database as superuser ``postgres``
- ``.conninfo(dbname, user, password=None)`` → a libpq conninfo string for ``psycopg.connect``
- ``.create_database(name=None, *, extension=True)`` → url of a new database
  (``CREATE EXTENSION pg_stat_statements`` in it unless ``extension=False``)
- ``.create_role(name, *, password=None, stats=False)`` → a LOGIN role; ``stats=True``
  grants ``pg_read_all_stats``. A role with a password must authenticate with it
  (scram-sha-256 over TCP); roles without one are trusted.
- ``.execute(sql, dbname="postgres")`` → runs SQL as superuser (autocommit).
- ``.stop()`` → immediate shutdown now (the context manager's exit is then a no-op stop).

``running_postgres(preload="")`` starts a cluster without pg_stat_statements loaded.

pytest fixtures (loaded for every test by tests/conftest.py):

- ``pg_server`` (session): the running :class:`PostgresServer`, shared by all tests.
  Other work (e.g. the incident catalog) gets a database of its own with
  ``pg_server.create_database("catalog_test", extension=False)``.
- ``pg_database`` (function): the SQLAlchemy url of a fresh database with
  pg_stat_statements installed, dropped by nobody (the cluster is thrown away).
- ``pg_database_factory`` (session): ``make(name=None, *, extension=True) -> url``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import free_port

__all__ = ["PostgresServer", "pg_database", "pg_database_factory", "pg_server", "running_postgres"]

SUPERUSER = "postgres"
# Roles in this group must give a password over TCP; everyone else is trusted.
PASSWORD_GROUP = "password_login"
_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin")


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in _BIN_DIRS:
        p = Path(d) / name
        if p.is_file():
            return str(p)
    raise RuntimeError(f"PostgreSQL binary {name!r} not found on PATH or in {', '.join(_BIN_DIRS)}; "
                       "install postgresql-15")


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--", *args]
    return args


@dataclass
class PostgresServer:
    """A running private cluster (see the module docstring)."""

    host: str
    port: int
    socket_dir: Path
    data_dir: Path
    log_path: Path

    def stop(self) -> None:
        """Stop the server now (immediate shutdown), e.g. to test a database that goes away."""
        subprocess.run(
            _as_postgres([_binary("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"]),
            capture_output=True, timeout=60, check=False,
        )

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql+psycopg://{user}@{self.host}:{self.port}/{dbname}"

    @property
    def superuser_url(self) -> str:
        return self.url("postgres", SUPERUSER)

    def conninfo(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        info = f"host={self.host} port={self.port} dbname={dbname} user={user} connect_timeout=5"
        return info + (f" password={password}" if password else "")

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(sql)
            return list(cur.fetchall()) if cur.description else []

    def create_database(self, name: str | None = None, *, extension: bool = True) -> str:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"')
        if extension:
            self.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname=name)
        return self.url(name)

    def create_role(self, name: str, *, password: str | None = None, stats: bool = False) -> str:
        self.execute(f'CREATE ROLE "{name}" LOGIN' + (f" PASSWORD '{password}'" if password else ""))
        if password:
            self.execute(f'GRANT "{PASSWORD_GROUP}" TO "{name}"')
        if stats:
            self.execute(f'GRANT pg_read_all_stats TO "{name}"')
        return name


def _tree_for_postgres(workdir: Path | None) -> Path:
    """A directory the postgres user owns, under ``workdir`` when it can reach it."""
    candidates = [workdir] if workdir is not None else []
    candidates.append(Path(tempfile.gettempdir()))
    for parent in candidates:
        assert parent is not None
        parent.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="eafix-pg-", dir=parent))
        if os.geteuid() == 0:
            shutil.chown(base, SUPERUSER, SUPERUSER)
            reachable = subprocess.run(
                ["runuser", "-u", SUPERUSER, "--", "test", "-w", str(base)], capture_output=True, check=False
            ).returncode == 0
            if not reachable:  # e.g. pytest's 0700 tmp dirs owned by root
                shutil.rmtree(base, ignore_errors=True)
                continue
        return base
    raise RuntimeError("no directory the postgres user can write to")


def _run(args: list[str], what: str, log: Path | None = None) -> None:
    proc = subprocess.run(_as_postgres(args), capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}")


@contextmanager
def running_postgres(
    workdir: Path | None = None, *, preload: str = "pg_stat_statements", keep: bool = False
) -> Iterator[PostgresServer]:
    """Start a private PostgreSQL cluster; stop and remove it on exit (see module docstring).

    ``preload`` is shared_preload_libraries ("" to test a server without the extension
    loaded); ``keep`` leaves the data directory behind for a post-mortem.
    """
    base = _tree_for_postgres(workdir)
    data, sock, logdir = base / "data", base / "socket", base / "log"
    for d in (sock, logdir):
        d.mkdir()
        if os.geteuid() == 0:
            shutil.chown(d, SUPERUSER, SUPERUSER)
    log = logdir / "postgres.log"
    _run([_binary("initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
          "--locale=C", "--no-sync"], "initdb")
    conf = f"""
listen_addresses = '127.0.0.1'
unix_socket_directories = '{sock}'
shared_preload_libraries = '{preload}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 32MB
log_min_messages = warning
deadlock_timeout = 5s
password_encryption = 'scram-sha-256'
"""
    if "pg_stat_statements" in preload:
        conf += "pg_stat_statements.track = 'top'\n"
    with (data / "postgresql.conf").open("a") as fh:
        fh.write(conf)
    # First match wins: the password group must authenticate, everyone else is trusted.
    (data / "pg_hba.conf").write_text(
        f"local all all trust\n"
        f"host all +{PASSWORD_GROUP} 127.0.0.1/32 scram-sha-256\n"
        f"host all all 127.0.0.1/32 trust\n"
    )
    server = PostgresServer("127.0.0.1", 0, sock, data, log)
    try:
        for attempt in range(3):
            # The free port can be taken by someone else before the server binds it: retry.
            server.port = free_port()
            try:
                _run([_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                      "-o", f"-p {server.port}", "start"], "pg_ctl start", log)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        server.execute(f'CREATE ROLE "{PASSWORD_GROUP}" NOLOGIN')
        yield server
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """The private PostgreSQL cluster shared by the whole test session."""
    with running_postgres(tmp_path_factory.getbasetemp()) as server:
        yield server


@pytest.fixture(scope="session")
def pg_database_factory(pg_server: PostgresServer) -> Callable[..., str]:
    """``make(name=None, *, extension=True) -> url`` of a new database on ``pg_server``."""
    return pg_server.create_database


@pytest.fixture
def pg_database(pg_server: PostgresServer) -> str:
    """The url of a fresh database with pg_stat_statements installed."""
    return pg_server.create_database()
