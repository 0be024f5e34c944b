"""INC-DEMO: the embedded sample incident, deterministic, in every DESIGN schema.

The story (all times UTC, 2024-12-02; window 13:30-15:30):

- 09:10 indicator-engine commit (an unrelated change, hours before)
- 13:40 execution-engine commit "switch broker client to async connection pool",
  tagged ``deploy-execution-engine-2024.12.02`` at 13:48 (the deploy)
- 13:55 first ``BrokerTimeout`` ERROR in execution-engine; an error burst 14:00-14:40
- 13:56 execution latency p95 above 2 s (until 14:50); signal latency degraded
- 14:02 signal-generator p95 signal latency rises past 5 s (until 14:50)
- 14:05 incident triggered (P1); 14:09 acknowledged; 14:20 responded
- 14:10 lock waits on the ``positions`` table (an UPDATE waits on a long transaction)
- 14:30 health snapshot: execution-engine failing (HTTP 503), the rest ok
- status updates 14:15 Investigating, 14:45 Identified, 15:05 Monitoring, 15:20 Resolved
- 15:20 resolved

Each ``_demo_<source>`` function builds one source's evidence; a source module
that can parse raw artifacts (the logs reader, the incident TOML reader) gets
them from here so the demo runs the real code paths.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.metrics import breaches
from ..bundle import Evidence, EvidenceBundle, bundle_dir
from ..config import DEFAULT_SERVICES, Config
from ..model import tables
from ..model.catalogue import catalogue
from ..model.incident import incident_tables
from ..sources import services as api
from ..sources.git import assemble, commits_frame, tags_frame
from ..sources.incident import read_incident_toml
from ..sources.logs import read_compose_logs
from ..sources.postgres import collector as pg_collector
from ..sources.postgres import sessions as pg_sessions
from ..sources.postgres import statements as pg_statements
from ..sources.prometheus import grid, read_query_range
from ..window import TimeWindow

__all__ = ["DEMO_ID", "DEMO_INCIDENT_TOML", "DEMO_WINDOW", "T", "build_demo", "demo_evidence", "demo_log_records"]

DEMO_ID = "INC-DEMO"
DEMO_WINDOW = TimeWindow.parse("2024-12-02T13:30:00Z", "2024-12-02T15:30:00Z")
SERVICES = tuple(DEFAULT_SERVICES)


def T(hhmm: str, day: str = "2024-12-02") -> pd.Timestamp:
    """A demo time: ``T("14:05")`` or ``T("14:05:30")`` on 2024-12-02 UTC."""
    return pd.Timestamp(f"{day}T{hhmm}", tz="UTC").as_unit("ns")


# --------------------------------------------------------------------- logs
def demo_log_records() -> list[tuple[pd.Timestamp, str, int, str, str]]:
    """(timestamp, service, replica, level, message) rows of the demo's logs, sorted."""
    rng = random.Random(20241202)
    rows: list[tuple[pd.Timestamp, str, int, str, str]] = []
    t = DEMO_WINDOW.start
    while t < DEMO_WINDOW.end:
        for svc in SERVICES:
            if rng.random() < 0.5:
                rows.append((t + pd.Timedelta(seconds=rng.randint(0, 29)), svc, 1, "INFO", f"{svc} heartbeat ok"))
        t += pd.Timedelta(seconds=30)
    # The restart of execution-engine with the deployed image.
    rows.append((T("13:48:30"), "execution-engine", 1, "INFO", "Starting execution-engine version 2.14.0"))
    # Broker timeouts: a trickle from 13:55, a burst 14:00-14:40.
    t = T("13:55:00")
    order = 48213
    while t < T("14:50:00"):
        step = 20 if (T("14:00") <= t < T("14:40")) else 150
        rows.append((
            t, "execution-engine", 1, "ERROR",
            f"BrokerTimeout: order {order} not acknowledged by broker after 5000 ms",
        ))
        order += 7
        t += pd.Timedelta(seconds=step)
    rows.append((T("14:02:10"), "signal-generator", 1, "WARNING", "signal latency 5.4s above threshold 5.0s"))
    rows.append((T("14:10:05"), "risk-manager", 1, "WARNING", "position update waiting on lock for positions"))
    rows.append((T("14:12:00"), "gui-gateway", 1, "ERROR", "upstream execution-engine returned 503"))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def demo_compose_log_text() -> str:
    """The demo logs as ``docker compose logs --timestamps --no-color`` prints them."""
    width = max(len(s) for s in SERVICES) + 2
    lines = []
    for ts, svc, replica, level, msg in demo_log_records():
        prefix = f"{svc}-{replica}".ljust(width)
        stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        app = ts.strftime("%Y-%m-%d %H:%M:%S,") + f"{ts.microsecond // 1000:03d}"
        lines.append(f"{prefix}| {stamp} {app} {level} [{svc}] {msg}")
    return "\n".join(lines) + "\n"


def _demo_logs(workdir: Path) -> list[Evidence]:
    # The saved file goes through the real reader, as `collect` would read it.

    name = "incident_logs_20241202_153000.txt"
    path = workdir / name
    path.write_text(demo_compose_log_text(), encoding="utf-8")
    frame = read_compose_logs(path, DEMO_WINDOW, source=name)
    details = {
        "malformed": int(frame.attrs.get("malformed", 0)),
        "malformed_samples": list(frame.attrs.get("malformed_samples", [])),
        "lines_read": int(frame.attrs.get("lines_read", 0)),
    }
    return [
        Evidence("logs", frame, source="logs", query=f"docker compose logs --timestamps (sample {name})",
                 details=details)
    ]


# --------------------------------------------------------------------- metrics
def _demo_metric_values(ts: pd.DatetimeIndex) -> list[tuple[str, dict[str, str], np.ndarray]]:
    """(catalogue entry, labels, values) of the demo's series at times ``ts``."""
    # signal latency p95 (seconds) for signal-generator: ~0.4 s, past 5 s 14:02-14:50.
    lat = np.full(len(ts), 0.4)
    for i, t in enumerate(ts):
        if T("14:02") <= t < T("14:50"):
            lat[i] = round(5.6 + 1.5 * np.sin((t - T("14:02")).total_seconds() / 900), 4)
        elif T("13:56") <= t < T("14:02"):
            lat[i] = 1.5
    # Execution latency p95 is computed over a rate window, so it lags the first
    # broker timeout (13:55:00) by a minute.
    exe = np.where((ts >= T("13:56")) & (ts < T("14:50")), 4.8, 0.25)
    out = [
        ("signal_latency_p95", {"service": "signal-generator"}, lat),
        ("order_execution_latency_p95", {"service": "execution-engine"}, exe),
    ]
    for svc, (port, _) in DEFAULT_SERVICES.items():
        labels = {"__name__": "up", "instance": f"{svc}:{port}", "job": svc, "service": svc}
        out.append(("up", labels, np.ones(len(ts))))
    return out


def _demo_metrics(workdir: Path) -> list[Evidence]:
    """The Prometheus collector's tables for the demo, through its real parser.

    Writes the ``/api/v1/query_range`` answers Prometheus would give for the
    catalogue entries (at the collector's default step for the window) into
    ``workdir/prometheus/`` and reads them back with ``read_query_range``.
    """

    entries = catalogue()
    folder = workdir / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Evidence] = []
    for table, window in (("metrics", DEMO_WINDOW), ("metrics_baseline", DEMO_WINDOW.before())):
        first, step_ms, points = grid(window, DEMO_WINDOW.step(1000))
        ts = pd.DatetimeIndex(pd.to_datetime(first + step_ms * np.arange(points), unit="ms", utc=True))
        seconds = (ts.as_unit("ms").asi8 // 1000).tolist()
        answers: dict[str, list[dict[str, object]]] = {}
        for name, labels, values in _demo_metric_values(ts):
            answers.setdefault(name, []).append(
                {"metric": labels, "values": [[t, repr(float(v))] for t, v in zip(seconds, values, strict=True)]}
            )
        frames = []
        for name, result in answers.items():
            path = folder / f"{table}_{name}.json"
            path.write_text(json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}))
            frames.append(read_query_range(path, entries[name].query, name=name))
        frame = tables.conform(pd.concat(frames, ignore_index=True), "metrics")
        out.append(Evidence(table, frame, source="prometheus", query="catalogue query_range answers (sample)",
                            details={"window": window.to_dict()}))
    out.append(Evidence("metric_breaches", breaches(out[0].frame, entries), source="prometheus",
                        query="breach rules of the query catalogue"))
    return out


# --------------------------------------------------------------------- postgres
def _demo_postgres(workdir: Path) -> list[Evidence]:
    """A 60 s ``collect --watch`` from 14:09:30: risk-manager's idle transaction holds a
    ``SELECT … FOR UPDATE`` on positions; execution-engine's UPDATE waits on it from
    14:10:03, and that UPDATE is the statement whose mean time jumped (22.4 ms vs 1.2 ms).

    The rows are what the server returns; they go through the source's own shapers,
    statements_delta and table assembly, like a live collect.
    """

    start, end, step = T("14:09:30"), T("14:10:30"), pd.Timedelta(seconds=5)
    holder_q = "SELECT * FROM positions WHERE account_id = 17 FOR UPDATE"
    waiter_q = "UPDATE positions SET qty = 120000 WHERE account_id = 17 AND symbol = 'EURUSD'"
    update_q = "UPDATE positions SET qty = $1, updated_at = now() WHERE account_id = $2 AND symbol = $3"
    orders_q = "SELECT * FROM orders WHERE status = $1 ORDER BY created_at DESC LIMIT $2"
    insert_q = "INSERT INTO executions (order_id, broker_ref, status, ts) VALUES ($1, $2, $3, $4)"

    def snapshot(at: pd.Timestamp, figures: dict[str, tuple[int, float, int, int, int]]) -> pd.DataFrame:
        ids = {update_q: 7212345678901, orders_q: 4412345678902, insert_q: 1112345678903}
        rows = [
            {"queryid": ids[q], "query": q, "calls": c, "total_exec_time_ms": t, "mean_exec_time_ms": t / c,
             "rows": r, "shared_blks_hit": hit, "shared_blks_read": read, "userid": 16384, "dbid": 16385,
             "toplevel": True, "usename": "eafix", "datname": "eafix_prod", "sampled_at": at}
            for q, (c, t, r, hit, read) in figures.items()
        ]
        frame = pg_statements._statements_frame(sorted(rows, key=lambda r: -r["total_exec_time_ms"]))
        frame.attrs.update({"sampled_at": pg_statements._iso(at), "stats_reset": pg_statements._iso(T("00:00:00")), "dealloc": 0,
                            "truncated": False, "role": "eafix"})
        return frame

    before = snapshot(start, {
        update_q: (180000, 216000.0, 180000, 9012345, 1100),   # 1.2 ms each until the incident
        orders_q: (9000, 98000.0, 450000, 2340000, 45600),
        insert_q: (30000, 44700.0, 30000, 400000, 320),
    })
    after = snapshot(end, {
        update_q: (180423, 225468.7, 180423, 9024690, 1234),   # 423 calls, 22.4 ms mean in the window
        orders_q: (9021, 98234.5, 451050, 2345678, 45678),
        insert_q: (30211, 45123.2, 30211, 401234, 321),
    })

    def session(pid: int, app: str, state: str, wtype: str, wevent: str, qstart: pd.Timestamp,
                xstart: pd.Timestamp, query: str, at: pd.Timestamp, blocked_by: str = "") -> dict[str, object]:
        return {"pid": pid, "usename": "eafix", "application_name": app, "state": state,
                "wait_event_type": wtype, "wait_event": wevent, "query_start": qstart, "xact_start": xstart,
                "duration_s": (at - qstart).total_seconds(), "query": query, "blocked_by": blocked_by,
                "datname": "eafix_prod", "backend_type": "client backend", "state_change": qstart,
                "client_addr": "10.0.3.14", "xact_age_s": (at - xstart).total_seconds(), "sampled_at": at}

    got = pg_collector._Sampled(before=before, after=after, interval_s=5.0)
    at = start
    while at <= end:
        got.samples += 1
        sessions = []
        if at >= T("14:09:40"):
            sessions.append(session(4242, "risk-manager", "idle in transaction", "Client", "ClientRead",
                                    T("14:09:40"), T("14:09:38"), holder_q, at))
        waiting = []
        blockers = []
        if at >= T("14:10:03"):
            sessions.append(session(4317, "execution-engine", "active", "Lock", "transactionid",
                                    T("14:10:03"), T("14:10:03"), waiter_q, at, blocked_by="4242"))
            waiting.append({"pid": 4317, "locktype": "transactionid", "relation": "positions", "mode": "ShareLock",
                            "granted": False, "blocked_by": "4242", "waiting_s": (at - T("14:10:03")).total_seconds(),
                            "query": waiter_q, "sampled_at": at, "wait_started_at": T("14:10:03"),
                            "application_name": "execution-engine", "usename": "eafix", "datname": "eafix_prod",
                            "state": "active", "xact_start": T("14:10:03")})
            blockers.append({"pid": 4242, "query": holder_q, "application_name": "risk-manager", "usename": "eafix",
                             "datname": "eafix_prod", "state": "idle in transaction", "xact_start": T("14:09:38"),
                             "relation": "positions", "mode": "RowShareLock", "sampled_at": at})
        got.activity.append(pg_sessions._activity_frame(sessions))
        got.locks.append(pg_sessions._locks_frame(waiting, blockers))
        at += step
    got.connections = pg_sessions._connections_frame([
        {"state": state, "application_name": app, "count": n, "max_connections": 100,
         "reserved_connections": 3, "sampled_at": end}
        for state, app, n in (("active", "execution-engine", 14), ("idle", "signal-generator", 8),
                              ("idle in transaction", "risk-manager", 1), ("active", "eafix-forensics", 1))
    ])
    query = ("postgresql+psycopg://eafix@localhost:5432/eafix_prod: pg_stat_statements, pg_stat_activity "
             "(not idle), pg_locks (not granted), connections (sample, --watch 60s)")
    return pg_collector._tables(got, query=query, duration=60.4, limit=1000)


# --------------------------------------------------------------------- git
DEMO_GIT_LOG = {
    # `git log --format=<NUL-separated fields> --numstat` as the git source runs it, per repository.
    "indicator-engine": (
        "\x1e3f1c2ab9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3\x001d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c\x00Dana Ortiz"
        "\x002024-12-02T10:10:00+01:00\x002024-12-02T10:10:00+01:00\x00\x00indicator-engine: tune RSI window\x00\n\n"
        "10\t4\tindicator_engine/rsi.py\n4\t2\ttests/test_rsi.py\n"
    ),
    "execution-engine": (
        "\x1e9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6\x008a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b\x00Sam Lee"
        "\x002024-12-02T13:40:00Z\x002024-12-02T13:40:00Z\x00tag: deploy-execution-engine-2024.12.02"
        "\x00execution-engine: switch broker client to async connection pool\x00\n\n"
        "120\t60\texecution_engine/broker/pool.py\n50\t20\texecution_engine/broker/client.py\n"
        "30\t10\texecution_engine/config.py\n10\t5\ttests/test_pool.py\n2\t2\trequirements.txt\n"
    ),
}
DEMO_GIT_TAGS = {
    # `git for-each-ref refs/tags`: the annotated deploy tag, made at 13:48.
    "indicator-engine": "",
    "execution-engine": (
        "\x00deploy-execution-engine-2024.12.02\x00tag\x005e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d\x00commit"
        "\x009b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6\x002024-12-02T13:48:00+00:00\x002024-12-02T13:48:00+00:00"
        "\x00Sam Lee\x00execution-engine 2.14.0\n"
    ),
}


def _demo_git(workdir: Path) -> list[Evidence]:

    # The raw git output goes through the same parser and join as a real repository.
    window = TimeWindow(DEMO_WINDOW.start - pd.Timedelta(hours=24), DEMO_WINDOW.end)
    (workdir / "git").mkdir(parents=True, exist_ok=True)
    commit_frames, tag_frames = [], []
    for repo, log_text in DEMO_GIT_LOG.items():
        (workdir / "git" / f"{repo}.log").write_text(log_text, encoding="utf-8")
        c, t, _ = assemble(log_text, DEMO_GIT_TAGS[repo], window, repo=repo, service=repo)
        commit_frames.append(c)
        tag_frames.append(t)
    commits = commits_frame(pd.concat(commit_frames, ignore_index=True))
    tags = tags_frame(pd.concat([t for t in tag_frames if len(t)], ignore_index=True))
    q = "git log --numstat; git for-each-ref refs/tags (sample)"
    return [Evidence("commits", commits, source="git", query=q), Evidence("tags", tags, source="git", query=q)]


# --------------------------------------------------------------------- services
def _demo_health(snap: pd.Timestamp) -> pd.DataFrame:
    """Health: execution-engine answers 503 after its broker pool is exhausted; the rest ok."""
    rows = []
    for svc, (port, path) in DEFAULT_SERVICES.items():
        failing = svc == "execution-engine"
        body = (
            {"status": "down", "error": "broker connection pool exhausted"} if failing
            else {"status": "ok", "service": svc}
        )
        rows.append(api.health_row(
            service=svc, url=f"http://localhost:{port}{path}", checked_at=snap,
            status_code=503 if failing else 200, body=json.dumps(body).encode(),
            latency_ms=5003.0 if failing else 12.0 + port % 7, attempts=3 if failing else 1,
        ))
    return api.health_frame(rows)


def _demo_positions() -> list[dict[str, Any]]:
    return [
        {"id": "P-1001", "account_id": "17", "symbol": "EURUSD", "side": "long", "qty": 120000,
         "entry_price": 1.0512, "current_price": 1.0498, "exposure": 125976.0, "pnl": -168.0,
         "status": "open", "open_time": "2024-12-02T09:12:00Z", "updated_at": "2024-12-02T14:10:03Z"},
        {"id": "P-1002", "account_id": "17", "symbol": "GBPUSD", "side": "short", "qty": 50000,
         "entry_price": 1.2701, "current_price": 1.2655, "exposure": 63275.0, "pnl": 230.0,
         "status": "open", "open_time": "2024-12-02T11:40:00Z", "updated_at": "2024-12-02T13:20:00Z"},
        {"id": "P-1003", "account_id": "21", "symbol": "USDJPY", "side": "long", "qty": 80000,
         "entry_price": 150.12, "current_price": 149.80, "exposure": 80000.0, "pnl": -170.9,
         "status": "open", "open_time": "2024-12-02T13:05:00Z", "updated_at": "2024-12-02T13:05:00Z"},
        {"id": "P-0998", "account_id": "21", "symbol": "EURUSD", "side": "long", "qty": 10000,
         "entry_price": 1.0490, "current_price": 1.0501, "exposure": 0.0, "pnl": 11.0,
         "status": "closed", "open_time": "2024-12-02T08:00:00Z", "updated_at": "2024-12-02T12:45:00Z"},
    ]


def _demo_signals() -> list[dict[str, Any]]:
    """Signals every 2 minutes; tick-to-signal latency past 5 s from 14:02 to 14:50."""
    signals = []
    t, i = DEMO_WINDOW.start, 0
    while t < DEMO_WINDOW.end:
        if T("14:02") <= t < T("14:50"):
            latency = 5.6 + 1.5 * float(np.sin((t - T("14:02")).total_seconds() / 900))
        elif T("13:56") <= t < T("14:02"):
            latency = 1.5
        else:
            latency = 0.4
        signals.append({
            "id": f"SIG-{7000 + i}", "ts": t.isoformat(), "symbol": ("EURUSD", "GBPUSD", "USDJPY")[i % 3],
            "direction": "buy" if i % 2 else "sell", "confidence": round(0.55 + (i % 4) / 10, 2),
            "price": (1.0505, 1.2660, 149.85)[i % 3], "latency_ms": round(latency * 1000.0, 1),
            "status": "emitted", "model": "rsi-macd-v3",
        })
        t += pd.Timedelta(minutes=2)
        i += 1
    return signals


def _demo_executions() -> list[dict[str, Any]]:
    """Executions: fills every 5 minutes; the logged BrokerTimeouts 13:55-14:50 as rejects/failures."""
    executions = []
    t, i = DEMO_WINDOW.start, 0
    while t < DEMO_WINDOW.end:
        if not (T("13:55") <= t < T("14:50")) or i % 3 == 0:
            executions.append({
                "id": f"EX-{90000 + i}", "ts": t.isoformat(), "order_id": f"{47900 + i}",
                "symbol": ("EURUSD", "GBPUSD", "USDJPY")[i % 3], "side": "buy" if i % 2 else "sell",
                "qty": 10000, "price": (1.0505, 1.2660, 149.85)[i % 3], "status": "filled",
                "latency_ms": 240.0 if not (T("13:55") <= t < T("14:50")) else 4100.0, "venue": "broker-a",
            })
        t += pd.Timedelta(minutes=5)
        i += 1
    timeouts = [
        (ts, msg) for ts, svc, _, level, msg in demo_log_records()
        if svc == "execution-engine" and level == "ERROR" and msg.startswith("BrokerTimeout")
    ]
    for k, (ts, msg) in enumerate(timeouts[::9]):
        order = msg.split()[2]
        executions.append({
            "id": f"EX-T{k:03d}", "ts": ts.isoformat(), "order_id": order,
            "symbol": ("EURUSD", "GBPUSD", "USDJPY")[k % 3], "side": "buy", "qty": 10000, "price": None,
            "status": "rejected" if k % 2 else "failed",
            "reason": f"broker timeout: order {order} not acknowledged after 5000 ms",
            "latency_ms": 5000.0, "venue": "broker-a",
        })
    executions.sort(key=lambda r: r["ts"])
    return executions


def _demo_services(workdir: Path) -> list[Evidence]:
    """The 14:30 snapshot: raw API answers written to ``workdir/services`` and read
    back through the services source's own page parser and shapers."""
    snap = T("14:30:00")
    raw_dir = workdir / "services"
    raw_dir.mkdir(parents=True, exist_ok=True)
    health = _demo_health(snap)
    positions = _demo_positions()
    signals = _demo_signals()
    executions = _demo_executions()
    # Reconciliation at 14:30: every open position agrees with the broker.
    reconcile = {
        "status": "ok", "checked": 3,
        "positions": [
            {"account_id": p["account_id"], "symbol": p["symbol"], "internal": p["qty"], "broker": p["qty"],
             "status": "match", "timestamp": snap.isoformat()}
            for p in positions if p["status"] == "open"
        ],
    }

    answers = {
        "positions": (positions, "gui-gateway", 8080, "/api/positions", ""),
        "signals": (signals, "signal-generator", 8083, "/api/signals", "?since=1h"),
        "executions": (executions, "execution-engine", 8085, "/api/executions", "?since=1h"),
        "reconcile": (reconcile, "gui-gateway", 8080, "/api/reconcile/positions", ""),
    }
    out = [Evidence("health", health, source="services", query="GET /health, /healthz (sample)")]
    for table, (doc, svc, port, path, query) in answers.items():
        url = f"http://localhost:{port}{path}"
        raw_file = raw_dir / f"{table}.json"
        raw_file.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        records, _, _, _ = api.page_records(json.loads(raw_file.read_text(encoding="utf-8")), table, url)
        frame = api.shape_records(table, records, service=svc, fetched_at=snap)
        details = frame.attrs.pop("details", {})
        if table in ("signals", "executions"):
            frame = frame[DEMO_WINDOW.mask(frame["timestamp"])].reset_index(drop=True)
        out.append(Evidence(table, frame, source="services", query=f"GET {url}{query} (sample)", details=details))
    return out


# --------------------------------------------------------------------- incident
DEMO_INCIDENT_TOML = """\
title = "Signal latency above 5 s after execution-engine deploy"
severity = "P1"
services = ["execution-engine", "signal-generator"]
triggered_at = 2024-12-02T14:05:00Z
acknowledged_at = 2024-12-02T14:09:00Z
responded_at = 2024-12-02T14:20:00Z
resolved_at = 2024-12-02T15:20:00Z

[[updates]]
time = 2024-12-02T14:15:00Z
status = "Investigating"
text = "Signal latency above 5 s on signal-generator; broker timeouts on execution-engine"

[[updates]]
time = 2024-12-02T14:45:00Z
status = "Identified"
text = "Async broker pool from the 13:48 execution-engine deploy exhausts connections"

[[updates]]
time = 2024-12-02T15:05:00Z
status = "Monitoring"
text = "execution-engine rolled back to 2.13.4; latency back under 1 s"

[[updates]]
time = 2024-12-02T15:20:00Z
status = "Resolved"
text = "Rollback holding for 15 minutes; closing"

[[action_items]]
text = "Load-test the async broker pool before release"
type = "prevent"
priority = "P1"
owner = "execution"
due = "2024-12-16"
status = "open"

[[action_items]]
text = "Alert on broker acknowledgement timeouts per minute"
type = "detect"
priority = "P1"
owner = "platform"
due = "2024-12-09"
status = "open"
"""


def _demo_incident(workdir: Path) -> list[Evidence]:

    # The record goes through the real TOML reader, as incidents/INC-DEMO.toml would.
    path = workdir / "incidents" / f"{DEMO_ID}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEMO_INCIDENT_TOML, encoding="utf-8")
    record = read_incident_toml(path, incident_id=DEMO_ID)
    record.source = f"incidents/{DEMO_ID}.toml"
    return [
        Evidence(name, frame, source="incident", query=f"incidents/{DEMO_ID}.toml")
        for name, frame in incident_tables(record).items()
    ]


DEMO_SOURCES: dict[str, Callable[[Path], list[Evidence]]] = {
    "logs": _demo_logs,
    "prometheus": _demo_metrics,
    "postgres": _demo_postgres,
    "git": _demo_git,
    "services": _demo_services,
    "incident": _demo_incident,
}


def demo_evidence(workdir: Path) -> list[Evidence]:
    """All the demo's evidence tables; ``workdir`` receives any raw artifacts."""
    workdir.mkdir(parents=True, exist_ok=True)
    out: list[Evidence] = []
    for fn in DEMO_SOURCES.values():
        out.extend(fn(workdir))
    return out


def build_demo(output_dir: str | Path = "output", *, force: bool = True) -> EvidenceBundle:
    """Write the INC-DEMO bundle under ``output_dir`` and return it."""
    output_dir = Path(output_dir)
    target = bundle_dir(DEMO_ID, output_dir)
    workdir = output_dir / DEMO_ID / "sample"
    evidence = demo_evidence(workdir)
    return EvidenceBundle.write(
        target, incident_id=DEMO_ID, window=DEMO_WINDOW, evidence=evidence, config=Config(), force=force
    )
