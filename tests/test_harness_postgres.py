"""The private PostgreSQL harness (issue 2, acceptance 5)."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.postgres


def test_pg_stat_statements_returns_the_statements_this_test_ran(pg_server, pg_database):
    dbname = pg_database.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.conninfo(dbname), autocommit=True) as conn:
        conn.execute("CREATE TABLE harness_probe (id int PRIMARY KEY, note text)")
        for i in range(7):
            conn.execute("INSERT INTO harness_probe VALUES (%s, %s)", (i, f"n{i}"))
        for _ in range(3):
            conn.execute("SELECT count(*) FROM harness_probe WHERE id > %s", (2,))
        rows = conn.execute(
            "SELECT query, calls, rows FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database() AND query ILIKE '%harness_probe%'"
        ).fetchall()
    got = {q: (calls, nrows) for q, calls, nrows in rows}
    assert got["INSERT INTO harness_probe VALUES ($1, $2)"] == (7, 7)
    assert got["SELECT count(*) FROM harness_probe WHERE id > $1"] == (3, 3)
    assert got["CREATE TABLE harness_probe (id int PRIMARY KEY, note text)"][0] == 1


def test_cluster_is_private_on_loopback_with_the_extension_preloaded(pg_server):
    (preload,), = pg_server.execute("SHOW shared_preload_libraries")
    (listen,), = pg_server.execute("SHOW listen_addresses")
    (port,), = pg_server.execute("SHOW port")
    assert preload == "pg_stat_statements"
    assert listen == "127.0.0.1"
    assert int(port) == pg_server.port
    assert pg_server.data_dir.is_dir()


def test_role_with_password_must_authenticate(pg_server):
    pg_server.create_role("harness_pw", password="s3cret-harness")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(pg_server.conninfo("postgres", "harness_pw")).close()
    with psycopg.connect(pg_server.conninfo("postgres", "harness_pw", "s3cret-harness")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("harness_pw",)
