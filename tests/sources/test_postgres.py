"""eafix_forensics.sources.postgres on the private PostgreSQL 15 cluster (tests/harness/postgres.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import psycopg
import pytest
import sqlalchemy
from sqlalchemy import text

from eafix_forensics.analysis.database import bundle_events
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.collect import Collector, collect
from eafix_forensics.config import Config, PostgresConfig
from eafix_forensics.errors import ConfigError, QueryError, SourceUnavailable
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources import postgres as pgsrc
from eafix_forensics.sources.postgres import (
    activity,
    blocked_locks,
    connections,
    postgres_engine,
    statements_delta,
    statements_snapshot,
    top_statements,
)
from eafix_forensics.sources.postgres import engine as pg_engine
from eafix_forensics.sources.postgres import statements as pg_statements
from eafix_forensics.window import TimeWindow
from tests.harness import free_port

pytestmark = pytest.mark.postgres

WORKLOAD = "workload"  # the role that runs the test workloads, so toolkit queries never mix in
MARKED = ("wl_rank_a", "wl_rank_b", "wl_rank_c", "wl_delta_before_only", "wl_delta_both", "wl_delta_new",
          "wl_reset", "wl_watch", "wl_hidden")


@pytest.fixture(scope="module")
def db(pg_server):
    """(server, dbname): a database with pg_stat_statements, a positions table and a workload role."""
    url = pg_server.create_database(f"src_{uuid.uuid4().hex[:8]}")
    name = url.rsplit("/", 1)[1]
    if not pg_server.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{WORKLOAD}'"):
        pg_server.create_role(WORKLOAD)
    pg_server.execute(f'GRANT ALL ON SCHEMA public TO "{WORKLOAD}"', dbname=name)
    pg_server.execute(
        "CREATE TABLE positions (account_id int, symbol text, qty int, PRIMARY KEY (account_id, symbol))",
        dbname=name,
    )
    pg_server.execute("INSERT INTO positions VALUES (17, 'EURUSD', 100000), (18, 'GBPUSD', 5)", dbname=name)
    pg_server.execute(f'GRANT SELECT, UPDATE ON positions TO "{WORKLOAD}"', dbname=name)
    # pg_stat_statements ignores aliases and constants: one table per workload statement
    for t in MARKED:
        pg_server.execute(f"CREATE TABLE {t} (id int); INSERT INTO {t} VALUES (1)", dbname=name)
        pg_server.execute(f'GRANT SELECT ON {t} TO "{WORKLOAD}"', dbname=name)
    return pg_server, name


@pytest.fixture
def engine(db):
    server, name = db
    eng = postgres_engine(PostgresConfig(url=server.url(name)))
    yield eng
    eng.dispose()


@contextmanager
def session(server, dbname, app="", user="postgres", autocommit=True) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(server.conninfo(dbname, user), autocommit=autocommit, application_name=app)
    try:
        yield conn
    finally:
        conn.close()


def wait_until_waiting(server, dbname, pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = server.execute(
            f"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid IN ({','.join(map(str, pids))})",
            dbname=dbname,
        )
        if rows[0][0] == len(pids):
            return
        time.sleep(0.05)
    raise AssertionError(f"sessions {pids} never started waiting on a lock")


def background(conn, sql, params=()):
    def run():
        try:
            conn.execute(sql, params)
        except psycopg.Error:
            pass  # cancelled at teardown

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def mine(frame, marker):
    return frame[frame["query"].str.contains(marker, regex=False, na=False)]


# ------------------------------------------------------------------ statements
def test_top_statements_orders_a_real_workload_as_asked(db, engine):
    server, name = db
    with session(server, name, user=WORKLOAD) as w:
        for _ in range(2):
            w.execute("SELECT pg_sleep(%s) FROM wl_rank_a", (0.15,))  # total 300 ms, mean 150
        for _ in range(12):
            w.execute("SELECT pg_sleep(%s) FROM wl_rank_b", (0.01,))  # total 120 ms (+ overhead), mean 10
        for i in range(30):
            w.execute("SELECT id * %s FROM wl_rank_c", (i,))  # cheap, most calls
    def order(**kw):
        f = top_statements(engine, limit=100, **kw)
        return [q.rsplit("wl_rank_", 1)[1] for q in mine(f[f["usename"] == WORKLOAD], "wl_rank_")["query"]]

    assert order() == ["a", "b", "c"]
    assert order(order_by="mean_exec_time") == ["a", "b", "c"]
    assert order(order_by="calls") == ["c", "b", "a"]
    assert order(order_by="rows") == ["c", "b", "a"]
    top3 = top_statements(engine, limit=3)
    assert len(top3) == 3 and list(top3.columns[:8]) == list(schemas.SCHEMAS["pg_statements"])
    assert top3["total_exec_time_ms"].is_monotonic_decreasing


def test_top_statements_rejects_bad_options(engine):
    with pytest.raises(ConfigError, match="order_by='total_time'"):
        top_statements(engine, order_by="total_time")
    with pytest.raises(ConfigError, match="limit=0"):
        top_statements(engine, limit=0)


def test_statements_sql_is_version_aware():
    pg12 = pg_statements._statements_sql((1, 7), "public", order="total_exec_time", all_databases=False)  # PostgreSQL 12
    pg15 = pg_statements._statements_sql((1, 10), "public", order="mean_exec_time", all_databases=True)
    assert "s.total_time AS total_exec_time_ms" in pg12 and "ORDER BY s.total_time" in pg12
    assert "s.toplevel" not in pg12
    assert "s.total_exec_time AS total_exec_time_ms" in pg15 and "ORDER BY s.mean_exec_time" in pg15
    assert "current_database()" not in pg15
    for sql in (pg12, pg15):
        assert "LIMIT :limit" in sql


def test_old_extension_version_uses_the_old_column_names(pg_server):
    """A database whose pg_stat_statements is 1.7 (as on PostgreSQL 12) has total_time, no toplevel."""
    url = pg_server.create_database(f"ext17_{uuid.uuid4().hex[:6]}", extension=False)
    name = url.rsplit("/", 1)[1]
    pg_server.execute("CREATE EXTENSION pg_stat_statements VERSION '1.7'", dbname=name)
    cols = {r[0] for r in pg_server.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'pg_stat_statements'::regclass", dbname=name)}
    assert "total_time" in cols and "total_exec_time" not in cols
    with session(pg_server, name) as w:
        for _ in range(3):
            w.execute("SELECT pg_sleep(%s)", (0.02,))
    eng = postgres_engine(url)
    try:
        top = top_statements(eng, limit=5)
        snap = statements_snapshot(eng)
    finally:
        eng.dispose()
    row = top[top["query"] == "SELECT pg_sleep($1)"].iloc[0]
    assert row["calls"] == 3 and row["total_exec_time_ms"] >= 60
    assert snap.attrs["stats_reset"] is None  # pg_stat_statements_info arrived in 1.9


def test_statements_delta_counts_exactly_the_calls_inside_the_window(db, engine):
    server, name = db
    with session(server, name, user=WORKLOAD) as w:
        for i in range(5):
            w.execute("SELECT id + %s FROM wl_delta_before_only", (i,))
        for i in range(4):
            w.execute("SELECT id + %s FROM wl_delta_both", (i,))
        before = statements_snapshot(engine)
        for i in range(3):
            w.execute("SELECT id + %s FROM wl_delta_both", (i,))
        for i in range(7):
            w.execute("SELECT id + %s FROM wl_delta_new", (i,))
        w.execute("UPDATE positions SET qty = qty WHERE account_id = %s", (18,))
        after = statements_snapshot(engine)
    delta = statements_delta(before, after)
    ours = delta[delta["usename"] == WORKLOAD]
    got = dict(zip(ours["query"], ours["calls"]))
    assert got == {
        "SELECT id + $1 FROM wl_delta_both": 3,
        "SELECT id + $1 FROM wl_delta_new": 7,
        "UPDATE positions SET qty = qty WHERE account_id = $1": 1,
    }
    row = ours.set_index("query").loc["SELECT id + $1 FROM wl_delta_both"]
    assert row["change"] == "delta" and row["baseline_calls"] == 4
    assert ours.set_index("query").loc["SELECT id + $1 FROM wl_delta_new", "change"] == "new"
    assert (delta["calls"].dropna() > 0).all()
    assert delta.attrs["reset"] is False
    assert pd.Timestamp(before.attrs["sampled_at"]) < pd.Timestamp(after.attrs["sampled_at"])
    assert (delta["since"] == pd.Timestamp(before.attrs["sampled_at"])).all()
    assert list(delta.columns[:8]) == list(schemas.SCHEMAS["pg_statements"])


def test_reset_between_snapshots_is_reported_never_negative(db, engine):
    server, name = db
    with session(server, name, user=WORKLOAD) as w:
        for i in range(6):
            w.execute("SELECT id + %s FROM wl_reset", (i,))
        before = statements_snapshot(engine)
        server.execute("SELECT pg_stat_statements_reset()", dbname=name)
        for i in range(2):
            w.execute("SELECT id + %s FROM wl_reset", (i,))
        after = statements_snapshot(engine)
    delta = statements_delta(before, after)
    assert delta.attrs["reset"] is True
    assert any("pg_stat_statements_reset()" in n for n in delta.attrs["notes"])
    assert not (delta["change"] == "evicted").any()  # a full reset is not an eviction
    row = delta[delta["query"] == "SELECT id + $1 FROM wl_reset"].iloc[0]
    assert row["change"] == "reset"
    assert row["calls"] == 2  # what ran since the reset, not 2 - 6
    assert row["since"] == pd.Timestamp(after.attrs["stats_reset"])
    for c in ("calls", "total_exec_time_ms", "rows", "shared_blks_hit", "shared_blks_read"):
        assert (delta[c].dropna() >= 0).all()


def _snap(rows, sampled_at, stats_reset=None):
    f = pg_statements._statements_frame(
        [{"userid": 10, "dbid": 5, "toplevel": True, "usename": "app", "datname": "eafix_prod",
          "rows": r[2], "shared_blks_hit": 0, "shared_blks_read": 0, "queryid": r[0], "query": r[3],
          "calls": r[1], "total_exec_time_ms": r[2] * 1.0} for r in rows]
    )
    f.attrs.update({"sampled_at": pd.Timestamp(sampled_at, tz="UTC"), "stats_reset": stats_reset, "dealloc": None})
    return f


def test_delta_without_stats_info_detects_entry_reset_and_eviction():
    before = _snap([(1, 10, 100, "q1"), (2, 5, 50, "q2"), (None, 3, 30, pgsrc.HIDDEN), (None, 2, 20, pgsrc.HIDDEN)],
                   "2024-12-02T14:00Z")
    after = _snap([(1, 4, 40, "q1"), (3, 2, 20, "q3"), (None, 9, 90, pgsrc.HIDDEN)], "2024-12-02T14:10Z")
    d = statements_delta(before, after).set_index("query")
    assert d.loc["q1", "change"] == "reset" and d.loc["q1", "calls"] == 4
    assert d.loc["q2", "change"] == "evicted" and pd.isna(d.loc["q2", "calls"])
    assert d.loc["q3", "change"] == "new" and d.loc["q3", "calls"] == 2
    # hidden entries of one role and database are summed: 9 - (3 + 2)
    assert d.loc[pgsrc.HIDDEN, "change"] == "delta" and d.loc[pgsrc.HIDDEN, "calls"] == 4
    attrs = statements_delta(before, after).attrs
    assert attrs["reset"] is True and attrs["evicted"] == 1
    assert any("evicted" in n for n in attrs["notes"])


def test_delta_of_empty_snapshots_has_the_schema():
    e = pg_statements._statements_frame([])
    d = statements_delta(e, e)
    assert d.empty
    assert list(d.columns[:8]) == list(schemas.SCHEMAS["pg_statements"])


# ------------------------------------------------------------------ locks and activity
def test_lock_wait_shows_blocker_pid_relation_and_query(db, engine):
    server, name = db
    holder_sql = "SELECT * FROM positions WHERE account_id = 17 FOR UPDATE"
    with session(server, name, "risk-manager", autocommit=False) as holder, \
            session(server, name, "execution-engine") as waiter:
        holder.execute(holder_sql)
        holder_pid, waiter_pid = holder.info.backend_pid, waiter.info.backend_pid
        t = background(waiter, "UPDATE positions SET qty = 120000 WHERE account_id = 17 AND symbol = 'EURUSD'")
        wait_until_waiting(server, name, [waiter_pid])
        time.sleep(0.2)
        locks = blocked_locks(engine)
        act = activity(engine)
        holder.rollback()
        t.join(5)
    waits = locks[~locks["granted"]]
    assert len(waits) == 1
    w = waits.iloc[0]
    assert w["pid"] == waiter_pid
    assert w["blocked_by"] == str(holder_pid)
    assert w["relation"] == "positions"
    assert w["blocker_query"] == holder_sql
    assert w["query"].startswith("UPDATE positions SET qty = 120000")
    assert w["application_name"] == "execution-engine"
    assert 0.2 <= w["waiting_s"] < 10
    root = locks.iloc[0]
    assert (root["pid"], root["depth"], bool(root["granted"])) == (holder_pid, 0, True)
    assert root["query"] == holder_sql and root["relation"] == "positions" and root["state"] == "idle in transaction"
    assert list(locks.columns[:8]) == list(schemas.SCHEMAS["pg_locks"])
    # activity: both sessions, the waiter blocked by the holder, the toolkit itself left out
    a = act.set_index("pid")
    assert a.loc[waiter_pid, "blocked_by"] == str(holder_pid)
    assert a.loc[waiter_pid, "wait_event_type"] == "Lock"
    assert a.loc[holder_pid, "state"] == "idle in transaction"
    assert a.loc[holder_pid, "blocked_by"] == ""
    assert not (act["application_name"] == "eafix-forensics").any()
    assert list(act.columns[:11]) == list(schemas.SCHEMAS["pg_activity"])


def test_chain_of_three_sessions_gives_the_tree(db, engine):
    server, name = db
    with session(server, name, "risk-manager", autocommit=False) as a, \
            session(server, name, "execution-engine") as b, session(server, name, "gui-gateway") as c:
        a.execute("SELECT * FROM positions WHERE account_id = 18 FOR UPDATE")
        pa, pb, pc = a.info.backend_pid, b.info.backend_pid, c.info.backend_pid
        tb = background(b, "UPDATE positions SET qty = 6 WHERE account_id = 18")
        wait_until_waiting(server, name, [b.info.backend_pid])
        tc = background(c, "UPDATE positions SET qty = 7 WHERE account_id = 18")
        wait_until_waiting(server, name, [b.info.backend_pid, c.info.backend_pid])
        locks = blocked_locks(engine)
        a.rollback()
        tb.join(5)
        tc.join(5)
    assert list(locks["pid"]) == [pa, pb, pc]
    assert list(locks["depth"]) == [0, 1, 2]
    assert list(locks["root_blocker"]) == [pa, pa, pa]
    assert list(locks["blocked_by"]) == ["", str(pa), str(pb)]
    assert list(locks["granted"]) == [True, False, False]
    assert set(locks["relation"]) == {"positions"}
    assert locks.iloc[2]["blocker_query"] == "UPDATE positions SET qty = 6 WHERE account_id = 18"


def test_no_lock_waits_gives_an_empty_schema_frame(engine):
    locks = blocked_locks(engine)
    assert locks.empty
    assert list(locks.columns[:8]) == list(schemas.SCHEMAS["pg_locks"])
    assert str(locks["waiting_s"].dtype) == "float64"


def test_connections_by_state_and_application(db, engine):
    server, name = db
    conns = [psycopg.connect(server.conninfo(name), application_name="signal-generator") for _ in range(3)]
    try:
        frame = connections(engine)
    finally:
        for c in conns:
            c.close()
    row = frame[(frame["application_name"] == "signal-generator") & (frame["state"] == "idle")]
    assert row["count"].tolist() == [3]
    assert (frame["max_connections"] == 60).all()
    assert (frame[frame["application_name"] == "eafix-forensics"]["count"] == 1).all()
    assert list(frame.columns[:3]) == list(schemas.SCHEMAS["pg_connections"])


# ------------------------------------------------------------------ guard rails
def test_toolkit_connection_cannot_write_and_statements_time_out(db):
    server, name = db
    eng = postgres_engine(PostgresConfig(url=server.url(name), statement_timeout_ms=500))
    try:
        with eng.connect() as conn:
            settings = {k: conn.execute(text(f"SHOW {k}")).scalar() for k in (
                "default_transaction_read_only", "statement_timeout", "lock_timeout",
                "idle_in_transaction_session_timeout", "application_name")}
        assert settings == {
            "default_transaction_read_only": "on", "statement_timeout": "500ms", "lock_timeout": "1s",
            "idle_in_transaction_session_timeout": "10s", "application_name": "eafix-forensics",
        }
        for sql in ("CREATE TABLE toolkit_wrote (id int)", "UPDATE positions SET qty = 0"):
            with eng.connect() as conn, pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only transaction"):
                conn.execute(text(sql))
        t0 = time.monotonic()
        with eng.connect() as conn, pytest.raises(sqlalchemy.exc.DBAPIError, match="statement timeout"):
            conn.execute(text("SELECT pg_sleep(30)"))
        assert time.monotonic() - t0 < 20  # not the 30 s sleep; generous under load
        # through the toolkit's own query path the same refusals are QueryError with the server's message
        with pg_engine._transaction(eng) as conn, pytest.raises(QueryError, match="read-only transaction") as err:
            pg_engine._fetch(conn, "UPDATE positions SET qty = 0")
        assert err.value.query == "UPDATE positions SET qty = 0"
        with pg_engine._transaction(eng) as conn, pytest.raises(QueryError, match="statement timeout"):
            pg_engine._fetch(conn, "SELECT pg_sleep(30)")
    finally:
        eng.dispose()
    assert server.execute("SELECT qty FROM positions WHERE account_id = 17", dbname=name)[0][0] > 0
    assert not server.execute("SELECT 1 FROM pg_class WHERE relname = 'toolkit_wrote'", dbname=name)


def test_url_options_cannot_loosen_the_guard_rails(db):
    server, name = db
    loose = server.url(name) + "?options=-c%20default_transaction_read_only%3Doff&application_name=sneaky"
    eng = postgres_engine(loose)
    try:
        with eng.connect() as conn:
            assert conn.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
            assert conn.execute(text("SHOW application_name")).scalar() == "eafix-forensics"
    finally:
        eng.dispose()
    for key in ("statement_timeout_ms", "lock_timeout_ms", "idle_in_transaction_timeout_ms"):
        with pytest.raises(ConfigError, match=f"{key} = 0: must be positive"):
            postgres_engine(PostgresConfig(url=server.url(name), **{key: 0}))


def test_one_connection_only(db):
    server, name = db
    eng = postgres_engine(PostgresConfig(url=server.url(name), connect_timeout_s=1.0))
    try:
        with eng.connect():
            t0 = time.monotonic()
            with pytest.raises(SourceUnavailable, match=f"127.0.0.1:{server.port}"):
                activity(eng)
            assert time.monotonic() - t0 < 20  # not the 30 s sleep; generous under load
    finally:
        eng.dispose()


def test_password_only_from_the_environment(db, monkeypatch):
    server, name = db
    role = f"pw_{uuid.uuid4().hex[:6]}"
    secret = f"S3cret-{uuid.uuid4().hex[:8]}"
    server.create_role(role, password=secret)
    cfg = PostgresConfig(url=server.url(name, role), password_env="TEST_EAFIX_PG_PW")
    monkeypatch.delenv("TEST_EAFIX_PG_PW", raising=False)
    with pytest.raises(SourceUnavailable) as err:
        connections(postgres_engine(cfg))
    assert f"127.0.0.1:{server.port}" in str(err.value)
    assert "no password supplied" in str(err.value) and "$TEST_EAFIX_PG_PW or in ~/.pgpass" in str(err.value)
    monkeypatch.setenv("TEST_EAFIX_PG_PW", "wrong")
    with pytest.raises(SourceUnavailable, match="password authentication failed"):
        connections(postgres_engine(cfg))
    monkeypatch.setenv("TEST_EAFIX_PG_PW", secret)
    eng = postgres_engine(cfg)
    try:
        assert (connections(eng)["count"] >= 1).all()
        assert secret not in str(eng.url) and secret not in repr(eng)
    finally:
        eng.dispose()
    with pytest.raises(ConfigError, match="remove the password") as err:
        postgres_engine(f"postgresql://{role}:{secret}@127.0.0.1:{server.port}/{name}")
    assert secret not in str(err.value)


def test_unreachable_server_is_source_unavailable_naming_host_and_port():
    port = free_port()
    eng = postgres_engine(PostgresConfig(url=f"postgresql+psycopg://eafix@127.0.0.1:{port}/eafix_prod",
                                         connect_timeout_s=2))
    for fn in (top_statements, statements_snapshot, activity, blocked_locks, connections):
        with pytest.raises(SourceUnavailable, match=f"127.0.0.1:{port}"):
            fn(eng)


def test_bad_urls_are_config_errors():
    with pytest.raises(ConfigError, match="mysql"):
        postgres_engine("mysql://root@localhost/db")
    with pytest.raises(ConfigError, match="not a database URL"):
        postgres_engine("not a url")


# ------------------------------------------------------------------ collect
def _config(url, **kw):
    return Config(postgres=PostgresConfig(url=url, **kw))


WINDOW = TimeWindow.last("1h")


def test_collect_writes_every_postgres_table(db, tmp_path):
    server, name = db
    with session(server, name, "risk-manager", autocommit=False) as holder:
        holder.execute("SELECT * FROM positions WHERE account_id = 17 FOR UPDATE")
        bundle = collect("INC-PG1", WINDOW, _config(server.url(name)), sources=[pgsrc.COLLECTOR],
                         output_dir=tmp_path, progress=False)
        holder.rollback()
    reopened = EvidenceBundle.open(bundle.path)
    assert reopened.verify() == []
    assert reopened.status("pg_statements") == "ok"
    assert reopened.status("pg_statements_delta") == "skipped"
    assert "--watch" in reopened.manifest["tables"]["pg_statements_delta"]["error"]
    act = reopened.table("pg_activity")
    assert "risk-manager" in set(act["application_name"])
    assert act["sampled_at"].nunique() == 1
    assert reopened.table("pg_connections")["count"].sum() >= 2
    assert reopened.manifest["tables"]["pg_statements"]["source"] == "postgres"
    assert "127.0.0.1" in reopened.manifest["tables"]["pg_locks"]["query"]


def test_collect_watch_samples_locks_and_takes_a_statements_delta(db, tmp_path):
    server, name = db
    with session(server, name, "risk-manager", autocommit=False) as holder, \
            session(server, name, "execution-engine") as waiter, \
            session(server, name, "signal-generator", user=WORKLOAD) as w:
        holder.execute("SELECT * FROM positions WHERE account_id = 17 FOR UPDATE")
        waiter_pid = waiter.info.backend_pid
        t = background(waiter, "UPDATE positions SET qty = 3 WHERE account_id = 17")
        wait_until_waiting(server, name, [waiter.info.backend_pid])

        def snapshots_taken():
            return server.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE 'SELECT dealloc, stats_reset%'",
                dbname=name)[0][0]

        already = snapshots_taken()

        def workload():
            # inside the window: only once the opening snapshot is done
            deadline = time.monotonic() + 10
            while snapshots_taken() == already and time.monotonic() < deadline:
                time.sleep(0.02)
            for i in range(5):
                w.execute("SELECT id + %s FROM wl_watch", (i,))

        wt = threading.Thread(target=workload)
        wt.start()
        cfg = _config(server.url(name), watch_interval_s=0.5, lock_wait_threshold_s=0.5)
        bundle = collect("INC-PG2", WINDOW, cfg, sources=[pgsrc.COLLECTOR], output_dir=tmp_path,
                         watch="2s", progress=False)
        wt.join()
        holder.rollback()
        t.join(5)
    locks = bundle.table("pg_locks")
    waits = locks[~locks["granted"]]
    # The watch counts its samples (2 s / 0.5 s = 4), however slowly a loaded machine takes them;
    # the lock is held throughout, so every sample sees the wait.
    assert bundle.manifest["tables"]["pg_locks"]["details"]["samples"] == 4
    assert waits["sampled_at"].nunique() == 4
    assert set(waits["pid"]) == {waiter_pid}
    assert waits["waiting_s"].is_monotonic_increasing
    assert bundle.table("pg_activity")["sampled_at"].nunique() == 4
    delta = bundle.table("pg_statements_delta")
    assert bundle.status("pg_statements_delta") == "ok"
    got = delta[delta["usename"] == WORKLOAD]
    assert dict(zip(got["query"], got["calls"])) == {"SELECT id + $1 FROM wl_watch": 5}
    # the staged wait is one lock_wait event on the timeline, at its real start
    events = bundle_events(bundle)
    waits = events[events["kind"] == "lock_wait"]
    assert list(waits["ref"]) == [f"pid:{waiter_pid}"]
    assert waits.iloc[0]["service"] == "execution-engine" and "risk-manager" in waits.iloc[0]["summary"]
    assert waits.iloc[0]["timestamp"] == locks.loc[~locks["granted"], "wait_started_at"].iloc[0]


def test_missing_extension_unavailable_with_the_fix_rest_still_written(pg_server, tmp_path):
    url = pg_server.create_database(f"noext_{uuid.uuid4().hex[:6]}", extension=False)
    name = url.rsplit("/", 1)[1]
    eng = postgres_engine(PostgresConfig(url=url))
    try:
        with pytest.raises(QueryError, match="CREATE EXTENSION pg_stat_statements") as err:
            top_statements(eng)
        assert "shared_preload_libraries" in str(err.value)
    finally:
        eng.dispose()
    health = schemas.conform([{"checked_at": pd.Timestamp.now(tz="UTC"), "service": "gui-gateway",
                               "url": "http://localhost:8080/health", "status_code": 200, "status": "ok"}], "health")
    other_source = Collector(name="services", run=lambda ctx: [Evidence("health", health, source="services")],
                             tables=("health",))
    with session(pg_server, name, "risk-manager", autocommit=False) as other:
        other.execute("SELECT 1")
        bundle = collect("INC-PG3", WINDOW, _config(url), sources=[pgsrc.COLLECTOR, other_source],
                         output_dir=tmp_path, progress=False)
    tables = bundle.manifest["tables"]
    assert tables["health"]["status"] == "ok" and len(bundle.table("health")) == 1
    assert tables["pg_statements"]["status"] == "unavailable"
    assert "shared_preload_libraries" in tables["pg_statements"]["error"]
    assert "CREATE EXTENSION pg_stat_statements" in tables["pg_statements"]["error"]
    stmts = bundle.table("pg_statements")
    assert stmts.empty and list(stmts.columns[:8]) == list(schemas.SCHEMAS["pg_statements"])
    assert tables["pg_activity"]["status"] == "ok" and tables["pg_connections"]["status"] == "ok"
    assert "risk-manager" in set(bundle.table("pg_activity")["application_name"])
    assert bundle.verify() == []


def test_role_without_pg_read_all_stats(db, tmp_path):
    server, name = db
    role = f"nostats_{uuid.uuid4().hex[:6]}"
    server.create_role(role)
    with session(server, name, "risk-manager", autocommit=False) as other:
        other.execute("SELECT count(*) FROM wl_hidden")
        top = top_statements(postgres_engine(PostgresConfig(url=server.url(name, role))), limit=500)
        assert top.attrs["insufficient_privilege"] > 0
        assert (top["query"] == pgsrc.HIDDEN).sum() == top.attrs["insufficient_privilege"]
        bundle = collect("INC-PG4", WINDOW, _config(server.url(name, role)), sources=[pgsrc.COLLECTOR],
                         output_dir=tmp_path, progress=False)
        other.rollback()
    tables = bundle.manifest["tables"]
    for t in ("pg_statements", "pg_activity"):
        assert tables[t]["status"] == "ok"
        assert "pg_read_all_stats" in tables[t]["error"] and role in tables[t]["error"]
        assert tables[t]["details"]["insufficient_privilege"] > 0
    act = bundle.table("pg_activity")
    assert (act["query"] == pgsrc.HIDDEN).any()
    assert "risk-manager" in set(act["application_name"])  # still counted, just not readable
    assert tables["pg_connections"]["status"] == "ok"
    conns = bundle.table("pg_connections")
    hidden = conns[conns["state"] == pgsrc.HIDDEN]
    assert set(hidden["application_name"]) >= {"risk-manager"}  # counted even when its state is hidden
    assert role in tables["pg_connections"]["error"]


def test_unreachable_database_is_unavailable_and_does_not_stop_collect(tmp_path):
    port = free_port()
    cfg = _config(f"postgresql+psycopg://eafix@127.0.0.1:{port}/eafix_prod", connect_timeout_s=2)
    bundle = collect("INC-PG5", WINDOW, cfg, sources=[pgsrc.COLLECTOR], output_dir=tmp_path, progress=False)
    for t in pgsrc.COLLECTOR.tables:
        assert bundle.status(t) == "unavailable"
        assert f"127.0.0.1:{port}" in bundle.manifest["tables"][t]["error"]
    assert bundle.table("pg_locks").empty


def test_password_from_pgpass(db, tmp_path, monkeypatch):
    server, name = db
    role = f"pgpass_{uuid.uuid4().hex[:6]}"
    secret = f"P4ss-{uuid.uuid4().hex[:8]}"
    server.create_role(role, password=secret)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{server.port}:{name}:{role}:{secret}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    monkeypatch.delenv("EAFIX_PG_PASSWORD", raising=False)
    eng = postgres_engine(PostgresConfig(url=server.url(name, role)))
    try:
        assert connections(eng)["count"].sum() >= 1
    finally:
        eng.dispose()


def test_every_toolkit_query_is_a_limited_read(db, tmp_path):
    """What a DBA would check in the server log: only SELECT/SHOW, each with a LIMIT."""
    server, name = db
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    try:
        with session(server, name, "risk-manager", autocommit=False) as holder, \
                session(server, name, "execution-engine") as waiter:
            holder.execute("SELECT * FROM positions WHERE account_id = 18 FOR UPDATE")
            t = background(waiter, "UPDATE positions SET qty = 9 WHERE account_id = 18")
            wait_until_waiting(server, name, [waiter.info.backend_pid])
            collect("INC-PG6", WINDOW, _config(server.url(name), watch_interval_s=0.2), sources=[pgsrc.COLLECTOR],
                    output_dir=tmp_path, watch="0.5s", progress=False)
            holder.rollback()
            t.join(5)
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    ours = [s for s in sent if "pg_stat" in s or "pg_locks" in s or "SELECT 1 AS ok" in s]
    assert any("pg_locks" in s for s in ours) and any("pg_stat_statements" in s for s in ours)
    for sql in sent:
        if sql.lower().startswith(("select pg_catalog.version()", "select current_schema()", "show ")):
            continue  # sqlalchemy's own first-connect probes
        assert sql.upper().startswith(("SELECT", "WITH")), sql
        assert "LIMIT" in sql.upper(), sql


def test_server_without_preload_and_a_server_that_goes_away_mid_watch(tmp_path):
    from tests.harness.postgres import running_postgres

    with running_postgres(preload="") as bare:
        url = bare.create_database("eafix_prod")  # CREATE EXTENSION works even when not preloaded
        eng = postgres_engine(PostgresConfig(url=url))
        try:
            with pytest.raises(QueryError, match="not loaded: add shared_preload_libraries") as err:
                top_statements(eng)
            assert "CREATE EXTENSION pg_stat_statements alone is not enough" in str(err.value)
        finally:
            eng.dispose()
        cfg = _config(url, watch_interval_s=0.2, connect_timeout_s=2)
        # The server goes away once the watch has taken two samples, as its third begins (a
        # condition, not a timer: a loaded machine may take longer than any fixed delay).
        samples: list[str] = []

        def stop_after_two_samples(conn, cursor, statement, parameters, context, executemany):
            if "pg_stat_activity" not in statement:
                return
            samples.append(statement)
            if statement == samples[0] and samples.count(statement) == 3:
                bare.stop()

        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", stop_after_two_samples)
        try:
            with session(bare, "eafix_prod", "risk-manager", autocommit=False) as holder:
                holder.execute("SELECT 1")
                bundle = collect("INC-PG7", WINDOW, cfg, sources=[pgsrc.COLLECTOR], output_dir=tmp_path,
                                 watch="2s", progress=False)
        finally:
            sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", stop_after_two_samples)
    tables = bundle.manifest["tables"]
    act = bundle.table("pg_activity")
    assert tables["pg_activity"]["status"] == "ok"  # the samples taken before it went away are kept
    assert "risk-manager" in set(act["application_name"]) and act["sampled_at"].nunique() == 2
    assert f"127.0.0.1:{bare.port}" in tables["pg_activity"]["error"]
    assert tables["pg_activity"]["details"]["failed_attempts"] >= 1
    assert tables["pg_statements"]["status"] == "unavailable"
    assert "shared_preload_libraries" in tables["pg_statements"]["error"]
    assert tables["pg_connections"]["status"] == "unavailable"
    assert bundle.verify() == []
