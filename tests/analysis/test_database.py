"""eafix_forensics.analysis.database: slow_query and lock_wait timeline events."""

from __future__ import annotations

import pandas as pd
import pytest

from eafix_forensics.analysis.database import bundle_events, lock_waits, slow_queries
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.demo import DEMO_WINDOW, T, build_demo
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources.postgres import sessions as pg_sessions
from eafix_forensics.sources.postgres import statements as pg_statements
from eafix_forensics.sources.postgres import statements_delta

TIMELINE = list(schemas.SCHEMAS["timeline"])


def snapshot(at, figures):
    """figures: {query: (queryid, calls, total_ms)} -> a statements_snapshot-like frame."""
    rows = [
        {"queryid": qid, "query": q, "calls": c, "total_exec_time_ms": t, "mean_exec_time_ms": t / c, "rows": c,
         "shared_blks_hit": 0, "shared_blks_read": 0, "userid": 10, "dbid": 5, "toplevel": True,
         "usename": "eafix", "datname": "eafix_prod"}
        for q, (qid, c, t) in figures.items()
    ]
    f = pg_statements._statements_frame(rows)
    f.attrs.update({"sampled_at": pd.Timestamp(at, tz="UTC").isoformat(), "stats_reset": None, "dealloc": None})
    return f


def delta_of(before, after):
    return statements_delta(snapshot("2024-12-02T14:00", before), snapshot("2024-12-02T14:10", after))


# ------------------------------------------------------------------ slow_query
def test_statement_well_above_its_baseline_is_a_slow_query():
    d = delta_of(
        {"UPDATE positions SET qty = $1": (71, 1000, 1200.0), "SELECT 1": (3, 1000, 1000.0)},
        {"UPDATE positions SET qty = $1": (71, 1100, 1200.0 + 100 * 40.0), "SELECT 1": (3, 1100, 1100.0)},
    )
    ev = slow_queries(d)
    assert list(ev.columns) == TIMELINE
    assert len(ev) == 1
    e = ev.iloc[0]
    assert (e["kind"], e["source"], e["service"], e["ref"]) == ("slow_query", "postgres", "eafix_prod", "queryid:71")
    assert e["timestamp"] == pd.Timestamp("2024-12-02T14:00", tz="UTC")  # start of the measured interval
    assert e["severity"] == "critical"  # 40 ms vs 1.2 ms is 33x
    assert "mean 40.0 ms over 100 calls" in e["summary"] and "33.3× its baseline 1.2 ms" in e["summary"]
    assert "UPDATE positions" in e["summary"]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ((1000, 10_000.0), (1100, 10_000.0 + 100 * 29.0), []),  # 2.9x: under the 3x ratio
        ((1000, 10_000.0), (1100, 10_000.0 + 100 * 30.0), ["warning"]),  # exactly 3x, 30 ms
        ((1000, 1_000.0), (1104, 1_000.0 + 4 * 100.0), []),  # 100x but only 4 calls
        ((1000, 100.0), (1100, 100.0 + 100 * 0.9), []),  # 9x but 0.9 ms: under min_mean_ms
        ((2, 10.0), (12, 10.0 + 10 * 500.0), []),  # baseline of 2 calls is no baseline; 500 ms < 1 s
        ((2, 10.0), (12, 10.0 + 10 * 1500.0), ["warning"]),  # no baseline, 1.5 s mean
        ((1000, 10_000.0), (1100, 10_000.0 + 100 * 6000.0), ["critical"]),
    ],
)
def test_slow_query_rule(before, after, expected):
    d = delta_of({"q": (1, *before)}, {"q": (1, *after)})
    assert list(slow_queries(d)["severity"]) == expected


def test_new_statement_needs_an_absolute_mean_and_evicted_are_ignored():
    d = delta_of(
        {"gone": (9, 50, 5000.0)},
        {"new slow": (2, 6, 6 * 2000.0), "new fast": (3, 50, 50 * 5.0)},
    )
    ev = slow_queries(d)
    assert list(ev["ref"]) == ["queryid:2"]
    assert "no baseline" in ev.iloc[0]["summary"]


def test_slow_queries_options_and_no_delta_columns():
    d = delta_of({"q": (1, 1000, 1000.0)}, {"q": (1, 1010, 1000.0 + 10 * 2.5)})
    assert slow_queries(d).empty
    assert len(slow_queries(d, ratio=2.0, min_mean_ms=2.0)) == 1
    plain = snapshot("2024-12-02T14:00", {"q": (1, 10, 10_000.0)})
    assert list(slow_queries(plain).columns) == TIMELINE and slow_queries(plain).empty
    assert slow_queries(pg_statements._statements_frame([])).empty


# ------------------------------------------------------------------ lock_wait
def lock_samples(start, waits, step_s=5):
    """waits: list of (pid, blocker, started, ended) -> pg_locks samples every step_s from start."""
    rows = []
    at = pd.Timestamp(start, tz="UTC")
    end = max(pd.Timestamp(e, tz="UTC") for *_, e in waits)
    while at <= end:
        waiting = []
        for pid, blocker, s, e in waits:
            s, e = pd.Timestamp(s, tz="UTC"), pd.Timestamp(e, tz="UTC")
            if s <= at < e:
                waiting.append({"pid": pid, "locktype": "transactionid", "relation": "positions", "mode": "ShareLock",
                                "granted": False, "blocked_by": str(blocker), "waiting_s": (at - s).total_seconds(),
                                "query": f"UPDATE positions /* {pid} */", "sampled_at": at,
                                "application_name": "execution-engine"})
        blockers = [{"pid": b, "query": "SELECT * FROM positions FOR UPDATE", "application_name": "risk-manager",
                     "state": "idle in transaction", "relation": "positions", "mode": "RowShareLock", "sampled_at": at}
                    for b in {w["blocked_by"] for w in waiting}]
        blockers = [dict(b, pid=int(b["pid"])) for b in blockers]
        rows.append(pg_sessions._locks_frame(waiting, blockers))
        at += pd.Timedelta(seconds=step_s)
    return pd.concat([r for r in rows if len(r)], ignore_index=True)


def test_one_event_per_wait_across_samples_at_its_start():
    locks = lock_samples("2024-12-02T14:10:00", [(4317, 4242, "2024-12-02T14:10:03", "2024-12-02T14:10:40")])
    assert (locks[~locks["granted"]]["pid"] == 4317).sum() == 7  # seen in 7 samples
    ev = lock_waits(locks)
    assert list(ev.columns) == TIMELINE
    assert len(ev) == 1
    e = ev.iloc[0]
    assert e["timestamp"] == pd.Timestamp("2024-12-02T14:10:03", tz="UTC")
    assert (e["kind"], e["service"], e["ref"], e["severity"]) == ("lock_wait", "execution-engine", "pid:4317", "critical")
    assert "waited 32.0 s for ShareLock on positions" in e["summary"]
    assert "blocked by pid 4242 (risk-manager): SELECT * FROM positions FOR UPDATE" in e["summary"]


def test_separate_waits_threshold_and_severity():
    locks = lock_samples(
        "2024-12-02T14:10:00",
        [(4317, 4242, "2024-12-02T14:10:00", "2024-12-02T14:10:11"),  # up to 10 s: warning
         (4317, 4242, "2024-12-02T14:11:00", "2024-12-02T14:11:06"),  # same pid, a second wait of 5 s
         (4400, 4242, "2024-12-02T14:10:00", "2024-12-02T14:10:04")],  # never seen waiting 5 s
    )
    ev = lock_waits(locks)
    assert list(ev["timestamp"]) == [pd.Timestamp("2024-12-02T14:10:00", tz="UTC"),
                                     pd.Timestamp("2024-12-02T14:11:00", tz="UTC")]
    assert list(ev["severity"]) == ["warning", "warning"]
    assert set(ev["ref"]) == {"pid:4317"}
    assert len(lock_waits(locks, threshold_s=1.0)) == 2  # 4400 only ever seen at 0 s
    assert lock_waits(locks, threshold_s=60).empty


def test_root_blocker_rows_and_empty_frames_give_no_events():
    assert lock_waits(pg_sessions._locks_frame([], [])).empty
    assert list(lock_waits(pg_sessions._locks_frame([], [])).columns) == TIMELINE
    roots_only = lock_samples("2024-12-02T14:10:00", [(1, 2, "2024-12-02T14:10:00", "2024-12-02T14:10:30")])
    assert lock_waits(roots_only[roots_only["granted"]]).empty


# ------------------------------------------------------------------ bundle_events
def test_bundle_events_of_the_demo(tmp_path):
    bundle = build_demo(tmp_path)
    ev = bundle_events(bundle)
    assert list(ev.columns) == TIMELINE
    assert list(ev["kind"]) == ["slow_query", "lock_wait"]
    slow, lock = ev.iloc[0], ev.iloc[1]
    assert "UPDATE positions" in slow["summary"] and slow["ref"] == "queryid:7212345678901"
    assert lock["timestamp"] == T("14:10:03") and lock["service"] == "execution-engine"
    assert "positions" in lock["summary"] and "risk-manager" in lock["summary"]
    assert ev["timestamp"].between(DEMO_WINDOW.start, DEMO_WINDOW.end).all()


def test_bundle_events_without_postgres_tables(tmp_path):
    other = Evidence("health", schemas.empty("health"), source="services")
    bundle = EvidenceBundle.write(tmp_path / "evidence", incident_id="INC-X", window=DEMO_WINDOW, evidence=[other])
    ev = bundle_events(bundle)
    assert ev.empty and list(ev.columns) == TIMELINE


def test_bundle_events_with_unavailable_and_skipped_tables(tmp_path):
    evidence = [
        Evidence("pg_locks", schemas.empty("pg_locks"), source="postgres", status="unavailable", error="refused"),
        Evidence("pg_statements_delta", pg_statements._statements_frame([]), source="postgres", status="skipped"),
    ]
    bundle = EvidenceBundle.write(tmp_path / "evidence", incident_id="INC-Y", window=DEMO_WINDOW, evidence=evidence)
    assert bundle_events(bundle).empty


def test_bundle_events_uses_the_bundle_lock_threshold(tmp_path):
    from eafix_forensics.config import Config, PostgresConfig

    locks = lock_samples("2024-12-02T14:10:00", [(7, 8, "2024-12-02T14:10:00", "2024-12-02T14:10:03")], step_s=1)
    ev = [Evidence("pg_locks", locks, source="postgres")]
    strict = Config(postgres=PostgresConfig(lock_wait_threshold_s=1.0))
    b1 = EvidenceBundle.write(tmp_path / "a", incident_id="INC-A", window=DEMO_WINDOW, evidence=ev, config=strict)
    b2 = EvidenceBundle.write(tmp_path / "b", incident_id="INC-B", window=DEMO_WINDOW, evidence=ev, config=Config())
    assert list(bundle_events(b1)["ref"]) == ["pid:7"]
    assert bundle_events(b2).empty
