"""The scenario library: realistic incidents with ground truth.

Each function returns one :class:`~tests.scenarios.kit.Scenario`; ``SCENARIOS`` lists
them. Dates are in the past (Prometheus backfill) and far enough apart that no two
scenarios' sample ranges (window, window before, 1 day and 1 week earlier) overlap.
Truth: culprit (deploy tag or commit subject, None = no change explains), severity
from the runbook (P0 complete outage in market hours / position corruption /
risk-manager failure; P1 partial outage affecting trading, signal latency > 5 s,
reconciliation failure, feed interruption; P2 non-critical outage, degradation
< 5 s, data quality, monitoring; P3 minor), first symptom (time, service, kind).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from .kit import (
    Commit,
    Feed,
    Http,
    Latency,
    Log,
    Metrics,
    Scenario,
    Trading,
    Truth,
    Workload,
    burst,
    crash_loop,
    default_ups,
    metrics,
)
from .library_blind import BLIND_SCENARIOS
from .library_market import MARKET_SCENARIOS


# ---------------------------------------------------------------------------- 1
def bad_deploy_exec() -> Scenario:
    d = "2026-06-02"
    logs = [
        Log(f"{d}T13:44:40.120Z", "execution-engine", "INFO", "Starting execution-engine version 2.15.0"),
        Log(f"{d}T13:44:41.002Z", "execution-engine", "INFO", "broker client: async pool, max_size=8, acquire_timeout=5s"),
        Log(f"{d}T13:52:07.318Z", "execution-engine", "ERROR",
            "BrokerTimeout: order O-61234 not acknowledged by broker after 5000 ms (pool wait 4.8 s)"),
        *burst("execution-engine", "ERROR", f"{d}T13:53:40Z", f"{d}T14:38:00Z", 22,
               "BrokerTimeout: order O-{order} not acknowledged by broker after 5000 ms", seed="bde"),
        Log(f"{d}T13:58:12.500Z", "gui-gateway", "WARNING", "upstream execution-engine slow: p95 4.1 s"),
        Log(f"{d}T14:38:30.000Z", "execution-engine", "INFO",
            "feature flag BROKER_ASYNC_POOL=false applied: broker client back to sync sessions"),
    ]
    return Scenario(
        name="bad-deploy-exec", family="bad deploy of the failing service",
        summary="execution-engine 2.15.0 (async broker pool) times out orders 8 min after its deploy",
        start=f"{d}T13:00:00Z", end=f"{d}T15:00:00Z",
        commits=[
            Commit("2026-06-01T19:20:00Z", "risk-manager", "risk-manager: tighten per-account exposure soft limit to 85%",
                   "dana", ["src/limits.py"], tag="deploy-risk-manager-4.1.3", tag_at="2026-06-01T19:31:00Z"),
            Commit(f"{d}T09:05:00Z", "signal-generator", "docs: clarify RSI thresholds in strategy guide", "chen",
                   ["docs/strategies.md"]),
            Commit(f"{d}T11:40:00Z", "gui-gateway", "gui-gateway: paginate /api/positions", "bob",
                   ["src/routes/positions.py"], tag="deploy-gui-gateway-1.9.0", tag_at=f"{d}T11:52:00Z"),
            Commit(f"{d}T13:31:00Z", "execution-engine", "execution-engine: switch broker client to async pool",
                   "alice", ["src/broker/client.py", "src/broker/pool.py", "tests/test_pool.py"],
                   tag="deploy-execution-engine-2.15.0", tag_at=f"{d}T13:44:00Z"),
            Commit(f"{d}T14:20:00Z", "indicator-engine", "indicator-engine: add unit tests for EMA warm-up", "emre",
                   ["tests/test_ema.py"]),
        ],
        logs=logs,
        metrics=metrics(15, exec_regimes=[(f"{d}T13:55:00Z", f"{d}T14:38:30Z", 4.4, 0.35)],
                        http=[Http("gui-gateway", 25.0, 0.002, [(f"{d}T13:56:00Z", f"{d}T14:38:30Z", 0.03)]),
                              Http("execution-engine", 8.0, 0.001)]),
        trading=Trading(
            order_failures=[(f"{d}T13:52:07Z", f"{d}T14:38:30Z", 0.35, "rejected", "broker timeout after 5000 ms")],
            order_slow=[(f"{d}T13:55:00Z", f"{d}T14:38:30Z", 4600.0)],
        ),
        incident={
            "title": "Orders timing out at the broker", "services": ["execution-engine"],
            "triggered_at": f"{d}T13:58:40Z", "acknowledged_at": f"{d}T14:02:10Z", "resolved_at": f"{d}T14:55:00Z",
            "updates": [
                {"time": f"{d}T14:10:00Z", "status": "Investigating", "text": "Orders timing out at broker; checking execution-engine"},
                {"time": f"{d}T14:36:00Z", "status": "Identified", "text": "async broker pool in 2.15.0; disabling via flag"},
                {"time": f"{d}T14:55:00Z", "status": "Resolved", "text": "Flag off, orders filling normally"},
            ],
            "action_items": [{"text": "Load-test broker pool before deploy", "owner": "execution"}],
        },
        pg_tz="+07",
        truth=Truth(
            culprit="deploy-execution-engine-2.15.0", severity="P1",
            first_symptom=f"{d}T13:52:07.318Z", first_service="execution-engine", first_kind="log",
            why="execution-engine started timing out orders 8 min after its own 2.15.0 deploy changed the broker "
                "client; 35% of orders rejected in market hours is a partial outage affecting trading (P1); the "
                "gui-gateway deploy and the docs/tests commits touch nothing on the order path."),
    )


# ---------------------------------------------------------------------------- 2
def upstream_indicator_monorepo() -> Scenario:
    d = "2026-02-16"
    logs = [
        Log(f"{d}T08:06:31.450Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.8.0"),
        Log(f"{d}T08:06:33.010Z", "indicator-engine", "INFO", "RSI: rolling window cache enabled (size 4096)"),
        Log(f"{d}T08:13:05.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.9.1"),
        *burst("indicator-engine", "WARNING", f"{d}T08:14:10Z", f"{d}T09:04:00Z", 95,
               "rolling cache rebuild took {n}.9 s for GBPUSD", seed="ui1"),
        *burst("signal-generator", "WARNING", f"{d}T08:15:20Z", f"{d}T09:05:00Z", 40,
               "signal for EURUSD late: 6.{n} s after tick", seed="ui2"),
        Log(f"{d}T08:19:02.771Z", "signal-generator", "ERROR", "tick-to-signal budget exceeded for 12 consecutive bars"),
        Log(f"{d}T09:04:50.300Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.8.0"),
        Log(f"{d}T09:04:51.000Z", "indicator-engine", "INFO", "RSI: rolling window cache disabled (INDICATOR_ROLLING_CACHE=0)"),
    ]
    return Scenario(
        name="upstream-indicator-mono", family="upstream deploy through the pipeline (monorepo)",
        summary="indicator-engine 3.8.0 makes signal-generator's p95 latency exceed 5 s; monorepo",
        start=f"{d}T07:30:00Z", end=f"{d}T09:30:00Z", layout="monorepo",
        commits=[
            Commit("2026-02-15T16:10:00Z", "data-ingestor", "data-ingestor: log venue sequence gaps at debug", "bob",
                   ["src/feed.py"]),
            Commit(f"{d}T06:50:00Z", "signal-generator", "signal-generator: document rsi-v3 parameters", "chen",
                   ["README.md", "docs/rsi-v3.md"]),
            Commit(f"{d}T07:58:00Z", "indicator-engine", "indicator-engine: vectorise RSI with rolling window cache",
                   "alice", ["src/rsi.py", "src/cache.py"], tag="deploy-indicator-engine-3.8.0",
                   tag_at=f"{d}T08:06:00Z"),
            Commit(f"{d}T08:09:00Z", "gui-gateway", "gui-gateway: show order latency column", "bob",
                   ["src/ui/orders.tsx"], tag="deploy-gui-gateway-1.9.1", tag_at=f"{d}T08:12:30Z"),
            Commit(f"{d}T08:40:00Z", "docs", "docs: on-call notes for the indicator cache", "dana", ["oncall.md"]),
        ],
        logs=logs,
        metrics=metrics(30, signal_regimes=[(f"{d}T08:14:00Z", f"{d}T09:05:00Z", 6.6, 0.25)]),
        trading=Trading(signal_latency=[(f"{d}T08:14:00Z", f"{d}T09:05:00Z", 6.4)], signal_every_s=60),
        incident={
            "title": "Signals late (p95 above 5 s)", "severity": "P2", "services": ["signal-generator"],
            "triggered_at": f"{d}T08:21:00Z", "acknowledged_at": f"{d}T08:29:00Z", "resolved_at": f"{d}T09:15:00Z",
            "updates": [{"time": f"{d}T08:35:00Z", "status": "Investigating", "text": "signal latency high"}],
        },
        pg_tz="UTC",
        truth=Truth(
            culprit="deploy-indicator-engine-3.8.0", severity="P1",
            first_symptom=f"{d}T08:14:00Z", first_service="signal-generator", first_kind="metric",
            why="signal-generator's latency jumps 8 min after indicator-engine (its direct upstream) deployed a new "
                "RSI cache, and recovers when that cache is switched off; p95 above 5 s is P1 (the page said P2); "
                "the gui-gateway deploy is closer but sits in front of the pipeline, the signal-generator commit is docs."),
    )


# ---------------------------------------------------------------------------- 3
def migration_lock() -> Scenario:
    d = "2026-03-19"
    logs = [
        Log(f"{d}T14:29:50.200Z", "risk-manager", "INFO", "Starting risk-manager version 4.2.0"),
        Log(f"{d}T14:29:52.640Z", "risk-manager", "INFO",
            "running migration 0042_margin_tier: ALTER TABLE positions ADD COLUMN margin_tier smallint"),
        Log(f"{d}T14:30:03.882Z", "execution-engine", "ERROR",
            "order O-61402 rejected: could not update positions: canceling statement due to lock timeout (55P03)"),
        Log(f"{d}T14:30:03.879Z", "postgres", "ERROR", "canceling statement due to lock timeout"),
        *burst("execution-engine", "ERROR", f"{d}T14:30:31Z", f"{d}T14:51:20Z", 18,
               "order O-{order} rejected: could not update positions: canceling statement due to lock timeout (55P03)",
               seed="ml1"),
        *burst("risk-manager", "WARNING", f"{d}T14:32:00Z", f"{d}T14:51:00Z", 120,
               "migration 0042_margin_tier still running ({n} min)", seed="ml2"),
        Log(f"{d}T14:51:30.114Z", "postgres", "FATAL", "terminating connection due to administrator command"),
        Log(f"{d}T14:51:30.120Z", "risk-manager", "ERROR",
            "migration 0042_margin_tier aborted: terminating connection due to administrator command"),
        Log(f"{d}T14:51:31.000Z", "execution-engine", "INFO", "positions update latency back to normal"),
    ]
    return Scenario(
        name="migration-lock", family="migration lock from another service",
        summary="risk-manager 4.2.0's migration locks positions; execution-engine orders fail with lock timeouts",
        start=f"{d}T14:00:00Z", end=f"{d}T16:00:00Z",
        commits=[
            Commit(f"{d}T10:15:00Z", "execution-engine",
                   "execution-engine: retry rejected orders once on venue REJECT 'stale price'", "alice",
                   ["src/orders/retry.py"], tag="deploy-execution-engine-2.15.3", tag_at=f"{d}T10:30:00Z"),
            Commit(f"{d}T13:40:00Z", "signal-generator", "signal-generator: bump numpy to 2.1", "bob",
                   ["requirements.txt"]),
            Commit(f"{d}T14:22:00Z", "risk-manager", "risk-manager: migration 0042 add margin_tier to positions",
                   "dana", ["migrations/0042_margin_tier.sql", "src/margin.py"], tag="deploy-risk-manager-4.2.0",
                   tag_at=f"{d}T14:29:00Z"),
            Commit(f"{d}T14:47:00Z", "execution-engine", "execution-engine: raise DB lock_timeout to 3s", "alice",
                   ["config/production.yaml"]),
        ],
        logs=logs,
        metrics=metrics(15, exec_regimes=[(f"{d}T14:30:04Z", f"{d}T14:51:30Z", 1.0, 0.3)]),
        trading=Trading(
            order_every_s=25,
            order_failures=[(f"{d}T14:30:03Z", f"{d}T14:51:30Z", 0.42, "rejected", "lock timeout on positions (55P03)")],
            order_slow=[(f"{d}T14:30:03Z", f"{d}T14:51:30Z", 1050.0)],
        ),
        workload=Workload(lock_chain=True),
        incident={
            "title": "Orders rejected: lock timeout on positions", "services": ["execution-engine"],
            "triggered_at": f"{d}T14:34:00Z", "acknowledged_at": f"{d}T14:37:00Z", "resolved_at": f"{d}T15:05:00Z",
            "updates": [
                {"time": f"{d}T14:45:00Z", "status": "Investigating", "text": "orders rejected with lock timeouts"},
                {"time": f"{d}T14:52:00Z", "status": "Monitoring", "text": "migration 0042 terminated"},
            ],
        },
        pg_tz="-03",
        truth=Truth(
            culprit="deploy-risk-manager-4.2.0", severity="P1",
            first_symptom=f"{d}T14:30:03.879Z", first_service="execution-engine", first_kind="log",
            why="the lock timeouts start 11 s after risk-manager 4.2.0 began its ALTER TABLE on positions and stop "
                "when that session is terminated; ~40% of orders rejected in market hours is P1; the execution-engine "
                "config commit came after the first rejection (a hotfix attempt)."),
    )


# ---------------------------------------------------------------------------- 4
def config_no_tag() -> Scenario:
    d = "2026-03-04"
    logs = [
        Log(f"{d}T09:51:12.004Z", "execution-engine", "INFO", "Starting execution-engine version 2.15.1"),
        Log(f"{d}T09:51:12.900Z", "execution-engine", "INFO", "config loaded: broker.pool.max_size=2"),
        *burst("execution-engine", "WARNING", f"{d}T09:58:05Z", f"{d}T11:03:00Z", 45,
               "order O-{order} waited 2.{n} s for a broker connection (pool max_size=2)", seed="cn1"),
        Log(f"{d}T11:04:20.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.15.1"),
        Log(f"{d}T11:04:20.800Z", "execution-engine", "INFO", "config loaded: broker.pool.max_size=16"),
        Log(f"{d}T10:25:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.9.2"),
    ]
    return Scenario(
        name="config-no-tag", family="config change with no deploy tag",
        summary="a production config commit shrinks execution-engine's broker pool; orders slow (no errors)",
        start=f"{d}T09:30:00Z", end=f"{d}T11:30:00Z",
        commits=[
            Commit("2026-03-03T17:45:00Z", "data-ingestor", "data-ingestor: add USDCHF to subscription list", "bob",
                   ["src/subscriptions.py"], tag="deploy-data-ingestor-2.3.0", tag_at="2026-03-03T18:00:00Z"),
            Commit(f"{d}T08:55:00Z", "signal-generator", "signal-generator: refactor feature pipeline (no behaviour change)",
                   "chen", ["src/features.py"]),
            Commit(f"{d}T09:48:00Z", "execution-engine", "execution-engine: broker pool max_size 16 -> 2 in production config",
                   "emre", ["config/production.yaml"]),
            Commit(f"{d}T10:20:00Z", "gui-gateway", "gui-gateway: cache /api/positions for 2s", "bob",
                   ["src/routes/positions.py"], tag="deploy-gui-gateway-1.9.2", tag_at=f"{d}T10:25:00Z"),
            Commit(f"{d}T11:01:00Z", "execution-engine", "execution-engine: restore broker pool max_size 16", "emre",
                   ["config/production.yaml"]),
        ],
        logs=logs,
        metrics=metrics(10, exec_regimes=[(f"{d}T09:57:30Z", f"{d}T11:04:20Z", 2.2, 0.3)]),
        trading=Trading(order_slow=[(f"{d}T09:57:30Z", f"{d}T11:04:20Z", 2700.0)]),
        incident={
            "title": "Order execution slow", "services": ["execution-engine"],
            "triggered_at": f"{d}T10:12:00Z", "acknowledged_at": f"{d}T10:40:00Z", "resolved_at": f"{d}T11:10:00Z",
        },
        pg_tz="+0530",
        truth=Truth(
            culprit="execution-engine: broker pool max_size 16 -> 2 in production config", severity="P2",
            first_symptom=f"{d}T09:57:30Z", first_service="execution-engine", first_kind="metric",
            why="order latency rises 6 min after the restart that loaded the shrunk pool (a config commit, no deploy "
                "tag) and recovers when it is restored; every order still fills, so it is a degradation under 5 s (P2)."),
    )


# ---------------------------------------------------------------------------- 5
def broker_down() -> Scenario:
    d = "2026-05-07"
    logs = [
        Log(f"{d}T15:32:18.640Z", "execution-engine", "ERROR",
            "FIX session LMAX-PROD: connection refused by 203.0.113.40:4443 (ECONNREFUSED); reconnecting in 5s"),
        *burst("execution-engine", "ERROR", f"{d}T15:32:24Z", f"{d}T15:58:30Z", 5.5,
               "FIX session LMAX-PROD: connection refused by 203.0.113.40:4443 (ECONNREFUSED); reconnecting in 5s",
               seed="bd1"),
        Log(f"{d}T15:33:20.010Z", "execution-engine", "CRITICAL", "no broker session for 60s: rejecting new orders"),
        Log(f"{d}T15:58:40.500Z", "execution-engine", "INFO", "FIX session LMAX-PROD logged on (seq 1)"),
        *burst("gui-gateway", "ERROR", f"{d}T15:33:30Z", f"{d}T15:58:00Z", 60,
               "POST /api/orders 502: execution-engine has no broker session", seed="bd2"),
    ]
    return Scenario(
        name="broker-down", family="no change to blame (broker down)",
        summary="the broker refuses FIX connections for 26 min; no change of ours explains it",
        start=f"{d}T15:00:00Z", end=f"{d}T17:00:00Z",
        commits=[
            Commit("2026-05-06T18:30:00Z", "execution-engine", "execution-engine: add venue latency histogram", "alice",
                   ["src/metrics.py"], tag="deploy-execution-engine-2.16.1", tag_at="2026-05-06T18:42:00Z"),
            Commit(f"{d}T09:10:00Z", "signal-generator", "signal-generator: retrain rsi-v3 weights (April data)", "chen",
                   ["models/rsi-v3.onnx"], tag="deploy-signal-generator-1.22.3", tag_at=f"{d}T09:25:00Z"),
            Commit(f"{d}T14:40:00Z", "gui-gateway", "docs: broker failover drill notes", "dana", ["docs/failover.md"]),
            Commit(f"{d}T15:31:00Z", "indicator-engine", "indicator-engine: rename internal metric labels", "emre",
                   ["src/metrics.py"]),
        ],
        logs=logs,
        metrics=metrics(15, http=[Http("gui-gateway", 25.0, 0.002, [(f"{d}T15:33:30Z", f"{d}T15:58:40Z", 0.22)]),
                                  Http("execution-engine", 8.0, 0.001, [(f"{d}T15:32:18Z", f"{d}T15:58:40Z", 0.9)])]),
        trading=Trading(order_failures=[(f"{d}T15:32:18Z", f"{d}T15:58:40Z", 1.0, "failed",
                                         "no broker session (ECONNREFUSED 203.0.113.40:4443)")],
                        health_now={"execution-engine": "degraded"}),
        incident={
            "title": "Orders failing: broker connection refused", "services": ["execution-engine"],
            "triggered_at": f"{d}T15:34:00Z", "acknowledged_at": f"{d}T15:36:00Z", "resolved_at": f"{d}T16:05:00Z",
            "updates": [{"time": f"{d}T15:45:00Z", "status": "Identified", "text": "LMAX refusing connections; ticket open"}],
        },
        truth=Truth(
            culprit=None, severity="P1",
            first_symptom=f"{d}T15:32:18.640Z", first_service="execution-engine", first_kind="log",
            why="the broker refused connections from outside (ECONNREFUSED at its address) and came back on its own; "
                "our last execution-engine deploy was 21 h earlier and ran clean, the rest is docs, another service or "
                "undeployed; all orders failing for 26 min with signals and risk up is a partial outage (P1)."),
    )


# ---------------------------------------------------------------------------- 6
def feed_stale_monorepo() -> Scenario:
    d = "2026-04-14"
    logs = [
        Log(f"{d}T09:15:01.204Z", "data-ingestor", "WARNING", "no ticks from LMAX-MD for 30s (EURUSD, GBPUSD, USDJPY)"),
        *burst("data-ingestor", "ERROR", f"{d}T09:15:15.500Z", f"{d}T09:40:50Z", 20,
               "market data session LMAX-MD heartbeat missed; reconnecting (attempt {n})", seed="fs1"),
        *burst("signal-generator", "WARNING", f"{d}T09:15:40Z", f"{d}T09:41:00Z", 60,
               "no new bars for {n}0s: strategy loop idle", seed="fs2"),
        Log(f"{d}T09:41:05.870Z", "data-ingestor", "INFO", "market data session LMAX-MD resumed (gap fill 26m31s requested)"),
    ]
    return Scenario(
        name="feed-stale-mono", family="no change to blame (market-data feed stale)",
        summary="the venue's market-data session goes silent for 26 min; monorepo with unrelated changes",
        start=f"{d}T09:00:00Z", end=f"{d}T10:30:00Z", layout="monorepo",
        commits=[
            Commit("2026-04-13T16:00:00Z", "data-ingestor", "data-ingestor: reconnect backoff capped at 30s", "bob",
                   ["src/session.py"], tag="deploy-data-ingestor-2.3.4", tag_at="2026-04-13T16:20:00Z"),
            Commit(f"{d}T08:41:00Z", "indicator-engine", "indicator-engine: cache Bollinger bands per symbol", "emre",
                   ["src/bollinger.py"], tag="deploy-indicator-engine-3.7.5", tag_at=f"{d}T08:50:00Z"),
            Commit(f"{d}T09:05:00Z", "risk-manager", "risk-manager: lower max leverage for account 21 to 10x", "dana",
                   ["config/accounts.yaml"]),
            Commit(f"{d}T09:20:00Z", "docs", "docs: market data vendor contacts", "dana", ["vendors.md"]),
        ],
        logs=logs,
        metrics=metrics(15, ups="job", stale=[(f"{d}T09:14:30Z", f"{d}T09:41:00Z")]),
        trading=Trading(signal_gaps=[(f"{d}T09:14:30Z", f"{d}T09:41:30Z")],
                        order_gaps=[(f"{d}T09:15:00Z", f"{d}T09:42:00Z")]),
        incident={
            "title": "Market data stale", "services": ["data-ingestor"],
            "triggered_at": f"{d}T09:17:00Z", "acknowledged_at": f"{d}T09:19:30Z", "resolved_at": f"{d}T09:50:00Z",
            "updates": [{"time": f"{d}T09:25:00Z", "status": "Investigating", "text": "no ticks from LMAX-MD"}],
            "action_items": [{"text": "Fail over to the secondary market-data venue automatically", "owner": "data"}],
        },
        pg_tz="+0530",
        truth=Truth(
            culprit=None, severity="P1",
            first_symptom=f"{d}T09:14:30Z", first_service="data-ingestor", first_kind="metric",
            why="the price updates stop at 09:14:30 for every symbol at once and the venue session misses heartbeats "
                "until it resumes on its own; the indicator-engine deploy 24 min earlier is downstream of the feed and "
                "the other changes are config of another service and docs; a feed interruption is P1."),
    )


# ---------------------------------------------------------------------------- 7
def outage_shared_lib_p0() -> Scenario:
    d = "2026-07-01"
    logs: list[Log] = []
    downs: dict[str, list[tuple[str, str]]] = {}
    svcs = ["data-ingestor", "indicator-engine", "signal-generator", "risk-manager", "execution-engine", "gui-gateway"]
    for i, svc in enumerate(svcs):
        start = pd.Timestamp(f"{d}T09:36:41.207Z") + pd.Timedelta(seconds=7 * i + (0.113 if i else 0))
        logs.append(Log((start - pd.Timedelta(seconds=2.1)).isoformat(), svc, "INFO", f"Starting {svc} version 5.0.0"))
        crash, down = crash_loop(svc, start.isoformat(), f"{d}T09:57:40Z", 35,
                                 "cannot decode message from bus: codec 'msgpack-legacy' not registered",
                                 "5.0.0", level="FATAL", seed=f"p0-{svc}")
        logs.extend(crash)
        downs[svc] = [(down[0][0], f"{d}T09:58:40Z")]
        logs.append(Log(f"{d}T09:58:{10 + 3 * i:02d}.000Z", svc, "INFO", f"Starting {svc} version 4.9.3"))
    return Scenario(
        name="outage-shared-lib-p0", family="complete outage in market hours (P0), rollback",
        summary="a shared-library release deployed to every service crash-loops all of them for 22 min; monorepo",
        start=f"{d}T09:00:00Z", end=f"{d}T11:00:00Z", layout="monorepo",
        commits=[
            Commit(f"{d}T08:20:00Z", "gui-gateway", "gui-gateway: sortable blotter columns", "bob", ["src/ui/blotter.tsx"],
                   tag="deploy-gui-gateway-1.9.4", tag_at=f"{d}T08:30:00Z"),
            Commit(f"{d}T09:10:00Z", "docs", "docs: eafix-common 5.0 migration guide", "chen", ["eafix-common-5.md"]),
            Commit(f"{d}T09:24:00Z", "libs/eafix-common", "eafix-common: drop legacy msgpack codec (5.0.0)", "chen",
                   ["src/codec.py", "/data-ingestor/requirements.txt", "/indicator-engine/requirements.txt",
                    "/signal-generator/requirements.txt", "/risk-manager/requirements.txt",
                    "/execution-engine/requirements.txt", "/gui-gateway/requirements.txt"],
                   tag="deploy-data-ingestor-5.0.0", tag_at=f"{d}T09:36:00Z",
                   extra_tags=[f"deploy-{s}-5.0.0" for s in svcs[1:]]),
            Commit(f"{d}T09:55:00Z", "libs/eafix-common", "", "chen", [],
                   revert="eafix-common: drop legacy msgpack codec (5.0.0)",
                   tag="deploy-data-ingestor-4.9.3-1", tag_at=f"{d}T09:57:00Z",
                   extra_tags=[f"deploy-{s}-4.9.3-1" for s in svcs[1:]]),
        ],
        logs=logs,
        metrics=metrics(15, ups="instance", down=downs,
                        http=[Http("gui-gateway", 25.0, 0.002, [(f"{d}T09:37:30Z", f"{d}T09:58:40Z", 1.0)])]),
        silent=downs,
        trading=Trading(signal_gaps=[(f"{d}T09:36:40Z", f"{d}T09:58:40Z")],
                        order_gaps=[(f"{d}T09:36:40Z", f"{d}T09:59:00Z")]),
        incident={
            "title": "EAFIX down: all services crash-looping", "severity": "P0",
            "triggered_at": f"{d}T09:38:30Z", "acknowledged_at": f"{d}T09:39:10Z", "resolved_at": f"{d}T10:10:00Z",
            "updates": [
                {"time": f"{d}T09:45:00Z", "status": "Identified", "text": "eafix-common 5.0.0 codec removal; rolling back"},
                {"time": f"{d}T10:00:00Z", "status": "Monitoring", "text": "4.9.3 redeployed everywhere"},
            ],
        },
        pg_tz="+07",
        truth=Truth(
            culprit="eafix-common: drop legacy msgpack codec (5.0.0)", severity="P0",
            first_symptom=f"{d}T09:36:41.207Z", first_service="data-ingestor", first_kind="log",
            why="every service starts crash-looping on the codec removed by the shared-library commit seconds after it "
                "was deployed to all of them, and recovers on its revert; every service down at once on a Wednesday "
                "morning is a complete outage in market hours (P0)."),
    )


# ---------------------------------------------------------------------------- 8
def outage_weekend_disk() -> Scenario:
    d = "2026-04-25"  # Saturday: the FX week is closed
    logs = [
        Log(f"{d}T13:41:09.332Z", "postgres", "PANIC",
            'could not write to file "pg_wal/xlogtemp.412": No space left on device'),
        Log(f"{d}T13:41:09.610Z", "postgres", "LOG", "server process (PID 412) was terminated by signal 6: Aborted"),
        Log(f"{d}T13:41:09.700Z", "postgres", "LOG", "terminating any other active server processes"),
    ]
    downs: dict[str, list[tuple[str, str]]] = {}
    for i, svc in enumerate(["risk-manager", "execution-engine", "signal-generator", "data-ingestor",
                             "indicator-engine", "gui-gateway"]):
        t = pd.Timestamp(f"{d}T13:41:10.100Z") + pd.Timedelta(seconds=1.7 * i)
        logs.append(Log(t.isoformat(), svc, "FATAL",
                        'database connection lost: connection to server at "postgres" (172.18.0.2), port 5432 failed: '
                        "Connection refused"))
        logs.append(Log((t + pd.Timedelta(milliseconds=30)).isoformat(), svc, "EXIT", "1"))
        downs[svc] = [(t.isoformat(), f"{d}T14:07:{10 + 4 * i:02d}Z")]
        logs.append(Log(f"{d}T14:07:{4 * i:02d}.500Z", svc, "INFO", f"Starting {svc} version {['4.1.3', '2.16.1', '1.22.3', '2.3.4', '3.7.5', '1.9.4'][i]}"))
    logs.append(Log(f"{d}T14:06:50.000Z", "postgres", "LOG", "database system is ready to accept connections"))
    return Scenario(
        name="outage-weekend-disk", family="complete outage out of market hours, no change",
        summary="PostgreSQL's disk fills on a Saturday; every service is down 26 min while the FX market is closed",
        start=f"{d}T13:00:00Z", end=f"{d}T15:00:00Z",
        commits=[
            Commit("2026-04-24T14:50:00Z", "risk-manager", "risk-manager: weekly VaR report includes JPY crosses", "dana",
                   ["src/reports.py"], tag="deploy-risk-manager-4.1.4", tag_at="2026-04-24T15:05:00Z"),
            Commit(f"{d}T12:15:00Z", "gui-gateway", "docs: weekend maintenance checklist", "ops", ["docs/weekend.md"]),
        ],
        logs=logs,
        metrics=metrics(30, ups="service", down=downs),
        silent=downs,
        trading=Trading(market_closed=True),
        incident={
            "title": "All services down (weekend)", "triggered_at": f"{d}T13:43:00Z",
            "acknowledged_at": f"{d}T13:55:00Z", "resolved_at": f"{d}T14:20:00Z",
            "updates": [{"time": f"{d}T14:00:00Z", "status": "Identified", "text": "postgres volume full (WAL)"}],
            "action_items": [{"text": "Alert on postgres volume at 80%", "owner": "platform"}],
        },
        pg_tz="+07",
        truth=Truth(
            culprit=None, severity="P2",
            first_symptom=f"{d}T13:41:09.332Z", first_service="postgres", first_kind="log",
            why="the database PANICs on a full disk and every service loses it a second later; nothing was deployed "
                "for 22 h and the only change since is docs; the FX week is closed on Saturday, so a complete outage "
                "with no trading impact, fixed long before Sunday's 22:00 open, is not P0/P1 but P2."),
    )


# ---------------------------------------------------------------------------- 9
def noisy_baseline_exec() -> Scenario:
    d = "2026-07-15"
    logs = [
        Log(f"{d}T12:41:40.030Z", "execution-engine", "INFO", "Starting execution-engine version 2.17.0"),
        Log(f"{d}T12:49:13.407Z", "execution-engine", "ERROR",
            "order O-61807 rejected by broker: 35=j 58=Unsupported TimeInForce (59=3) for EURUSD"),
        *burst("execution-engine", "ERROR", f"{d}T12:50:02Z", f"{d}T13:40:00Z", 30,
               "order O-{order} rejected by broker: 35=j 58=Unsupported TimeInForce (59=3)", seed="nb1"),
        *burst("signal-generator", "WARNING", f"{d}T12:00:30Z", f"{d}T14:00:00Z", 600,
               "signal latency 1.{n} s above soft target 1.0 s", seed="nb2"),
    ]
    return Scenario(
        name="noisy-baseline-exec", family="noisy baseline near a threshold (signal p95 ~1 s) + bad deploy",
        summary="signal latency normally ~1 s (chronic 'degraded'); the real incident is execution-engine 2.17.0",
        start=f"{d}T12:00:00Z", end=f"{d}T14:00:00Z",
        commits=[
            Commit(f"{d}T11:40:00Z", "execution-engine", "docs: FIX tag reference for time-in-force", "alice",
                   ["docs/fix-tags.md"]),
            Commit(f"{d}T12:12:00Z", "indicator-engine", "indicator-engine: parallel bar aggregation", "emre",
                   ["src/bars.py"], tag="deploy-indicator-engine-3.9.0", tag_at=f"{d}T12:20:00Z"),
            Commit(f"{d}T12:30:00Z", "execution-engine",
                   "execution-engine: send time-in-force on every order (FIX tag 59)", "alice",
                   ["src/fix/order.py"], tag="deploy-execution-engine-2.17.0", tag_at=f"{d}T12:41:00Z"),
            Commit(f"{d}T13:05:00Z", "signal-generator", "signal-generator: tests for spread filter", "chen",
                   ["tests/test_spread.py"]),
        ],
        logs=logs,
        metrics=metrics(15, signal=0.6, signal_sigma=0.33),
        trading=Trading(signal_latency_normal_s=0.9,
                        order_failures=[(f"{d}T12:49:13Z", f"{d}T13:40:00Z", 0.22, "rejected",
                                         "broker reject 35=j: Unsupported TimeInForce")]),
        incident={
            "title": "Broker rejecting orders (TimeInForce)", "services": ["execution-engine"],
            "triggered_at": f"{d}T12:58:00Z", "acknowledged_at": f"{d}T13:01:00Z", "resolved_at": f"{d}T13:45:00Z",
        },
        pg_tz="-03",
        truth=Truth(
            culprit="deploy-execution-engine-2.17.0", severity="P1",
            first_symptom=f"{d}T12:49:13.407Z", first_service="execution-engine", first_kind="log",
            why="broker rejects start 8 min after the deploy that added the time-in-force tag they name; signal latency "
                "around 1 s is the same in every baseline (chronic, not a symptom); 22% of orders rejected in market "
                "hours is P1; the docs commit and the indicator-engine deploy cannot produce a FIX reject."),
    )


# ---------------------------------------------------------------------------- 10
def near_threshold_signal() -> Scenario:
    d = "2026-08-11"
    logs = [
        Log(f"{d}T10:58:40.250Z", "signal-generator", "INFO", "Starting signal-generator version 2.4.0"),
        Log(f"{d}T10:58:42.000Z", "signal-generator", "INFO", "model ensemble-v5 loaded (7 members)"),
        *burst("signal-generator", "WARNING", f"{d}T11:08:30Z", f"{d}T11:50:00Z", 90,
               "tick-to-signal 9.{n} s exceeds budget 5 s", seed="nt1"),
        Log(f"{d}T11:20:30.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.9.5"),
        Log(f"{d}T11:51:10.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.3.9"),
    ]
    return Scenario(
        name="near-threshold-signal", family="baseline just under a threshold (signal p95 ~4.3 s, hourly spikes over 5 s)",
        summary="a heavy model runs just under the 5 s P1 line with hourly spikes over it; the ensemble deploy doubles it",
        start=f"{d}T10:00:00Z", end=f"{d}T12:00:00Z",
        commits=[
            Commit(f"{d}T10:40:00Z", "data-ingestor", "data-ingestor: subscribe to USDCHF depth", "bob",
                   ["config/subscriptions.yaml"]),
            Commit(f"{d}T10:52:00Z", "signal-generator", "signal-generator: enable ensemble model v5", "chen",
                   ["src/models/ensemble.py", "config/models.yaml"], tag="deploy-signal-generator-2.4.0",
                   tag_at=f"{d}T10:58:00Z"),
            Commit(f"{d}T11:14:00Z", "gui-gateway", "gui-gateway: tooltip for model name", "bob", ["src/ui/signals.tsx"],
                   tag="deploy-gui-gateway-1.9.5", tag_at=f"{d}T11:20:00Z"),
            Commit(f"{d}T11:49:00Z", "signal-generator", "", "chen", [], revert="signal-generator: enable ensemble model v5",
                   tag="deploy-signal-generator-2.3.9", tag_at=f"{d}T11:50:30Z"),
        ],
        logs=logs,
        metrics=metrics(60, signal=2.6, signal_sigma=0.3, signal_spikes=[(20, 4, 3.1)],
                        signal_regimes=[(f"{d}T11:06:00Z", f"{d}T11:51:00Z", 6.8, 0.3)]),
        trading=Trading(signal_latency_normal_s=3.2, signal_every_s=120,
                        signal_latency=[(f"{d}T11:06:00Z", f"{d}T11:51:00Z", 11.0)]),
        incident={
            "title": "Signal latency p95 above 5 s", "services": ["signal-generator"],
            "triggered_at": f"{d}T11:12:00Z", "acknowledged_at": f"{d}T11:15:00Z", "resolved_at": f"{d}T11:58:00Z",
        },
        truth=Truth(
            culprit="deploy-signal-generator-2.4.0", severity="P1",
            first_symptom=f"{d}T11:06:00Z", first_service="signal-generator", first_kind="metric",
            why="p95 normally sits near 4.3 s and crosses 5 s for a few minutes every hour in every baseline (chronic); "
                "from 11:06, 8 min after the ensemble model deploy, it holds above 10 s until the revert: sustained "
                "signal latency over 5 s is P1; the data-ingestor config commit changed only a depth subscription."),
    )


# ---------------------------------------------------------------------------- 11
def rollback_red_herrings() -> Scenario:
    d = "2026-09-09"
    crash, down = crash_loop("signal-generator", f"{d}T16:09:41.337Z", f"{d}T16:26:00Z", 45,
                             "unhandled exception in strategy loop: ZeroDivisionError: float division by zero "
                             "(atr=0.0 for USDJPY)", "1.23.0", seed="rb1")
    logs = [
        Log(f"{d}T16:02:35.000Z", "signal-generator", "INFO", "Starting signal-generator version 1.23.0"),
        Log(f"{d}T16:06:20.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.10.0"),
        *crash,
        *burst("risk-manager", "WARNING", f"{d}T16:11:00Z", f"{d}T16:27:00Z", 120,
               "no signals received for {n}2 s", seed="rb2"),
        Log(f"{d}T16:26:40.120Z", "signal-generator", "INFO", "Starting signal-generator version 1.23.1"),
    ]
    return Scenario(
        name="rollback-red-herrings", family="rollback after the first symptom; red herrings just before and after",
        summary="signal-generator 1.23.0 crash-loops; a gui-gateway deploy lands in between, a revert fixes it",
        start=f"{d}T15:30:00Z", end=f"{d}T17:30:00Z",
        commits=[
            Commit("2026-09-08T10:00:00Z", "signal-generator", "signal-generator: rotate logs daily", "chen",
                   ["config/logging.yaml"], tag="deploy-signal-generator-1.22.4", tag_at="2026-09-08T10:10:00Z"),
            Commit(f"{d}T15:48:00Z", "signal-generator", "signal-generator: size positions by ATR instead of fixed lots",
                   "alice", ["src/sizing.py"], tag="deploy-signal-generator-1.23.0", tag_at=f"{d}T16:02:00Z"),
            Commit(f"{d}T16:01:00Z", "gui-gateway", "gui-gateway: dark mode for the blotter", "bob", ["src/ui/theme.tsx"],
                   tag="deploy-gui-gateway-1.10.0", tag_at=f"{d}T16:06:00Z"),
            Commit(f"{d}T16:12:00Z", "indicator-engine", "indicator-engine: expose ATR(14) warm-up flag", "emre",
                   ["src/atr.py"]),
            Commit(f"{d}T16:24:00Z", "signal-generator", "", "alice", [],
                   revert="signal-generator: size positions by ATR instead of fixed lots",
                   tag="deploy-signal-generator-1.23.1", tag_at=f"{d}T16:26:00Z"),
        ],
        logs=logs,
        metrics=metrics(15, down={"signal-generator": down}),
        silent={"signal-generator": down},
        trading=Trading(signal_gaps=[(f"{d}T16:09:41Z", f"{d}T16:26:50Z")],
                        order_gaps=[(f"{d}T16:10:30Z", f"{d}T16:27:30Z")]),
        incident={
            "title": "No signals: signal-generator crash-looping", "services": ["signal-generator"],
            "triggered_at": f"{d}T16:13:00Z", "acknowledged_at": f"{d}T16:15:00Z", "resolved_at": f"{d}T16:40:00Z",
            "updates": [{"time": f"{d}T16:22:00Z", "status": "Identified", "text": "ATR sizing divides by zero; reverting"}],
        },
        pg_tz="UTC",
        truth=Truth(
            culprit="deploy-signal-generator-1.23.0", severity="P1",
            first_symptom=f"{d}T16:09:41.337Z", first_service="signal-generator", first_kind="log",
            why="signal-generator crash-loops on the ATR sizing code its 1.23.0 deploy introduced and stops when that "
                "commit is reverted; the gui-gateway deploy is closer but its service shows nothing, the indicator "
                "commit and the revert come after; no signals for 17 min in market hours is a partial outage (P1)."),
    )


# ---------------------------------------------------------------------------- 12
def docs_only_change() -> Scenario:
    d = "2026-10-08"
    return Scenario(
        name="docs-only-gateway", family="a docs-only change as the only change",
        summary="gui-gateway runs out of file descriptors; the only change in 24 h is a runbook edit",
        start=f"{d}T12:30:00Z", end=f"{d}T14:00:00Z", layout="monorepo",
        commits=[
            Commit(f"{d}T12:31:00Z", "docs", "docs: update runbook section on broker failover", "dana",
                   ["runbook/broker-failover.md"]),
        ],
        logs=[
            Log(f"{d}T12:57:03.482Z", "gui-gateway", "ERROR", "accept failed: [Errno 24] Too many open files"),
            *burst("gui-gateway", "ERROR", f"{d}T12:57:20Z", f"{d}T13:24:00Z", 12,
                   "accept failed: [Errno 24] Too many open files", seed="do1"),
            Log(f"{d}T13:24:30.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.10.2"),
            Log(f"{d}T13:24:30.400Z", "gui-gateway", "INFO", "open files limit 65536"),
        ],
        metrics=metrics(15, http=[Http("gui-gateway", 30.0, 0.002, [(f"{d}T12:57:03Z", f"{d}T13:24:30Z", 0.12)]),
                                  Http("execution-engine", 8.0, 0.001)]),
        incident={
            "title": "GUI errors (HTTP 500)", "services": ["gui-gateway"],
            "triggered_at": f"{d}T13:02:00Z", "acknowledged_at": f"{d}T13:20:00Z", "resolved_at": f"{d}T13:30:00Z",
        },
        pg_tz="-03",
        truth=Truth(
            culprit=None, severity="P2",
            first_symptom=f"{d}T12:57:03.482Z", first_service="gui-gateway", first_kind="log",
            why="file-descriptor exhaustion on the gateway host, fixed by a restart with a higher limit; a markdown edit "
                "cannot change a running service; orders keep flowing (signals to execution do not pass the gateway), "
                "so a partial outage of the front end is P2."),
    )


# ---------------------------------------------------------------------------- 13
def slow_query_index_drop() -> Scenario:
    d = "2026-05-20"
    return Scenario(
        name="slow-query-index-drop", family="slow query after an index drop (monorepo)",
        summary="execution-engine's migration drops an index still used by the order lookup; orders slow down",
        start=f"{d}T11:00:00Z", end=f"{d}T13:00:00Z", layout="monorepo",
        commits=[
            Commit(f"{d}T10:41:00Z", "risk-manager", "risk-manager: cache account limits for 5s", "dana",
                   ["src/limits.py"], tag="deploy-risk-manager-4.2.3", tag_at=f"{d}T10:50:00Z"),
            Commit(f"{d}T11:12:00Z", "execution-engine",
                   "execution-engine: migration 0107 drop unused index idx_executions_order_id", "emre",
                   ["migrations/0107_drop_idx_executions_order_id.sql"], tag="deploy-execution-engine-2.16.2",
                   tag_at=f"{d}T11:18:00Z"),
            Commit(f"{d}T11:40:00Z", "data-ingestor", "data-ingestor: drop unused depth fields", "bob", ["src/depth.py"]),
            Commit(f"{d}T12:35:00Z", "execution-engine", "execution-engine: migration 0108 recreate idx_executions_order_id",
                   "emre", ["migrations/0108_recreate_idx.sql"], tag="deploy-execution-engine-2.16.3",
                   tag_at=f"{d}T12:40:00Z"),
        ],
        logs=[
            Log(f"{d}T10:50:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.2.3"),
            Log(f"{d}T11:18:30.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.16.2"),
            Log(f"{d}T11:18:31.500Z", "execution-engine", "INFO",
                "migration 0107: DROP INDEX idx_executions_order_id (0.2 s)"),
            *burst("execution-engine", "WARNING", f"{d}T11:24:10Z", f"{d}T12:41:00Z", 70,
                   "slow query 18{n}0 ms: SELECT id, status, qty FROM executions WHERE order_id = $1", seed="sq1"),
            Log(f"{d}T12:40:30.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.16.3"),
        ],
        metrics=metrics(30, exec_regimes=[(f"{d}T11:21:00Z", f"{d}T12:41:00Z", 1.7, 0.3)]),
        trading=Trading(order_slow=[(f"{d}T11:21:00Z", f"{d}T12:41:00Z", 2300.0)]),
        workload=Workload(index_drop=True),
        incident={
            "title": "Order acknowledgements slow", "services": ["execution-engine"],
            "triggered_at": f"{d}T11:40:00Z", "acknowledged_at": f"{d}T12:05:00Z", "resolved_at": f"{d}T12:50:00Z",
        },
        pg_tz="+0530",
        truth=Truth(
            culprit="deploy-execution-engine-2.16.2", severity="P2",
            first_symptom=f"{d}T11:21:00Z", first_service="execution-engine", first_kind="metric",
            why="order latency rises 3 min after the migration that dropped the index the order lookup uses (the lookup "
                "now seq-scans: pg_stat_statements), and recovers when it is recreated; every order still fills, "
                "so it is a degradation under 5 s (P2); the risk-manager deploy is older and its service is fine."),
    )


# ---------------------------------------------------------------------------- 14
def risk_manager_p0() -> Scenario:
    d = "2026-09-24"
    crash, down = crash_loop("risk-manager", f"{d}T20:11:02.918Z", f"{d}T20:33:00Z", 60,
                             "MemoryError: unable to allocate 3.1 GiB for covariance matrix (412 instruments)", "4.3.0",
                             level="ERROR", seed="rm1")
    return Scenario(
        name="risk-manager-p0", family="risk-manager failure (P0); a deploy of the downstream service in between",
        summary="risk-manager 4.3.0's VaR model runs out of memory and blocks every order",
        start=f"{d}T19:30:00Z", end=f"{d}T21:30:00Z",
        commits=[
            Commit(f"{d}T19:52:00Z", "risk-manager", "risk-manager: compute VaR with Ledoit-Wolf covariance", "dana",
                   ["src/var.py"], tag="deploy-risk-manager-4.3.0", tag_at=f"{d}T20:05:00Z"),
            Commit(f"{d}T20:01:00Z", "execution-engine", "execution-engine: log venue reject codes", "alice",
                   ["src/fix/rejects.py"], tag="deploy-execution-engine-2.17.2", tag_at=f"{d}T20:09:00Z"),
            Commit(f"{d}T20:25:00Z", "risk-manager", "risk-manager: RISK_VAR_MODEL=sample in production", "dana",
                   ["config/production.yaml"]),
        ],
        logs=[
            Log(f"{d}T20:05:30.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.3.0"),
            Log(f"{d}T20:09:30.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.17.2"),
            *crash,
            Log(f"{d}T20:11:03.300Z", "risk-manager", "CRITICAL", "risk limits unavailable: blocking all new orders"),
            *burst("execution-engine", "ERROR", f"{d}T20:11:20Z", f"{d}T20:33:30Z", 15,
                   "order O-{order} rejected: risk check unavailable (risk-manager 503)", seed="rm2"),
            Log(f"{d}T20:33:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.3.0"),
            Log(f"{d}T20:33:40.500Z", "risk-manager", "INFO", "VaR model: sample covariance (RISK_VAR_MODEL=sample)"),
        ],
        metrics=metrics(15, ups="job", down={"risk-manager": down}),
        silent={"risk-manager": down},
        trading=Trading(order_failures=[(f"{d}T20:11:20Z", f"{d}T20:33:40Z", 1.0, "rejected",
                                         "risk check unavailable")]),
        incident={
            "title": "All orders rejected: risk check unavailable", "services": ["risk-manager", "execution-engine"],
            "triggered_at": f"{d}T20:13:00Z", "acknowledged_at": f"{d}T20:14:00Z", "resolved_at": f"{d}T20:45:00Z",
        },
        pg_tz="+07",
        truth=Truth(
            culprit="deploy-risk-manager-4.3.0", severity="P0",
            first_symptom=f"{d}T20:11:02.918Z", first_service="risk-manager", first_kind="log",
            why="risk-manager runs out of memory in the VaR code its 4.3.0 deploy changed, 6 min after it, and every "
                "order is blocked until the model is switched back; a risk-management failure is P0; the "
                "execution-engine deploy is closer but its rejects only follow risk-manager's failure."),
    )


# ---------------------------------------------------------------------------- 15
def upstream_ingestor_data_quality() -> Scenario:
    d = "2026-02-03"
    return Scenario(
        name="upstream-ingestor-quality", family="upstream deploy through the pipeline; old deploy of the failing service",
        summary="data-ingestor 2.4.0 emits zero GBPUSD bids; indicator-engine rejects bars (data quality)",
        start=f"{d}T06:30:00Z", end=f"{d}T08:30:00Z",
        commits=[
            Commit(f"{d}T04:10:00Z", "indicator-engine", "indicator-engine: upgrade ta-lib bindings to 0.5", "emre",
                   ["requirements.txt", "src/ta.py"], tag="deploy-indicator-engine-3.7.2", tag_at=f"{d}T04:20:00Z"),
            Commit(f"{d}T07:18:00Z", "data-ingestor", "data-ingestor: parse GBPUSD ticks from binary protocol v2", "bob",
                   ["src/protocol/v2.py", "src/protocol/__init__.py"], tag="deploy-data-ingestor-2.4.0",
                   tag_at=f"{d}T07:25:00Z"),
            Commit(f"{d}T07:50:00Z", "signal-generator", "signal-generator: skip symbols with incomplete bars", "chen",
                   ["src/loop.py"]),
            Commit(f"{d}T08:01:00Z", "data-ingestor", "", "bob", [],
                   revert="data-ingestor: parse GBPUSD ticks from binary protocol v2",
                   tag="deploy-data-ingestor-2.4.1", tag_at=f"{d}T08:04:00Z"),
        ],
        logs=[
            Log(f"{d}T04:20:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.7.2"),
            Log(f"{d}T07:25:35.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.4.0"),
            Log(f"{d}T07:32:18.702Z", "indicator-engine", "ERROR",
                "invalid tick rejected: GBPUSD bid=0.0 ask=1.2655 (bar 07:32 skipped)"),
            *burst("indicator-engine", "ERROR", f"{d}T07:33:01Z", f"{d}T08:04:30Z", 45,
                   "invalid tick rejected: GBPUSD bid=0.0 (bar skipped)", seed="uq1"),
            *burst("signal-generator", "WARNING", f"{d}T07:33:30Z", f"{d}T08:05:00Z", 180,
                   "no GBPUSD signal: indicator input incomplete", seed="uq2"),
            Log(f"{d}T08:04:40.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.4.1"),
        ],
        metrics=metrics(15),
        incident={
            "title": "GBPUSD bars skipped", "services": ["indicator-engine"],
            "triggered_at": f"{d}T07:45:00Z", "acknowledged_at": f"{d}T07:58:00Z", "resolved_at": f"{d}T08:15:00Z",
        },
        pg_tz="UTC",
        truth=Truth(
            culprit="deploy-data-ingestor-2.4.0", severity="P2",
            first_symptom=f"{d}T07:32:18.702Z", first_service="indicator-engine", first_kind="log",
            why="indicator-engine rejects zero GBPUSD bids 7 min after its upstream data-ingestor deployed a new parser "
                "for exactly those ticks, and the errors stop with its revert; indicator-engine's own deploy is 3 h "
                "older and ran clean; one symbol's bars skipped while trading continues is a data-quality issue (P2)."),
    )


# ---------------------------------------------------------------------------- 16
def config_monorepo_signal() -> Scenario:
    d = "2026-10-21"
    return Scenario(
        name="config-mono-signal", family="config change with no deploy tag (monorepo)",
        summary="a strategy-universe config commit (no tag) slows signal-generator to ~2.5 s p95",
        start=f"{d}T14:00:00Z", end=f"{d}T16:00:00Z", layout="monorepo",
        commits=[
            Commit(f"{d}T13:22:00Z", "risk-manager", "risk-manager: expose limits endpoint", "dana", ["src/api.py"],
                   tag="deploy-risk-manager-4.3.2", tag_at=f"{d}T13:30:00Z"),
            Commit(f"{d}T14:22:00Z", "signal-generator", "signal-generator: raise strategy universe to 40 symbols",
                   "ops", ["config/strategies.yaml"]),
            Commit(f"{d}T14:31:00Z", "indicator-engine", "indicator-engine: precompute ATR for new symbols", "emre",
                   ["src/atr.py"], tag="deploy-indicator-engine-3.9.4", tag_at=f"{d}T14:35:00Z"),
            Commit(f"{d}T15:12:00Z", "signal-generator", "signal-generator: strategy universe back to 12 symbols", "ops",
                   ["config/strategies.yaml"]),
        ],
        logs=[
            Log(f"{d}T13:30:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.3.2"),
            Log(f"{d}T14:25:10.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.3.9"),
            Log(f"{d}T14:25:11.000Z", "signal-generator", "INFO", "strategy universe: 40 symbols"),
            Log(f"{d}T14:35:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.9.4"),
            *burst("signal-generator", "WARNING", f"{d}T14:33:00Z", f"{d}T15:14:00Z", 150,
                   "strategy loop took 2.{n} s (budget 1 s)", seed="cm1"),
            Log(f"{d}T15:14:30.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.3.9"),
            Log(f"{d}T15:14:31.000Z", "signal-generator", "INFO", "strategy universe: 12 symbols"),
        ],
        metrics=metrics(20, signal_regimes=[(f"{d}T14:29:00Z", f"{d}T15:15:00Z", 1.5, 0.3)]),
        trading=Trading(signal_latency=[(f"{d}T14:29:00Z", f"{d}T15:15:00Z", 2.4)]),
        incident={
            "title": "Signals slow (p95 2.5 s)", "services": ["signal-generator"],
            "triggered_at": f"{d}T14:40:00Z", "acknowledged_at": f"{d}T15:00:00Z", "resolved_at": f"{d}T15:25:00Z",
        },
        truth=Truth(
            culprit="signal-generator: raise strategy universe to 40 symbols", severity="P2",
            first_symptom=f"{d}T14:29:00Z", first_service="signal-generator", first_kind="metric",
            why="signal latency rises 4 min after the restart that loaded the 40-symbol universe (a config commit, no "
                "tag) and recovers when it goes back to 12; the indicator-engine deploy came after the rise; p95 around "
                "2.5 s is a degradation under 5 s (P2)."),
    )


# ---------------------------------------------------------------------------- 17
def minor_feature_p3() -> Scenario:
    d = "2026-06-18"
    return Scenario(
        name="minor-csv-export-p3", family="minor feature issue (P3)",
        summary="gui-gateway 1.9.3's new CSV export fails for names with non-ASCII characters",
        start=f"{d}T10:00:00Z", end=f"{d}T11:00:00Z",
        commits=[
            Commit(f"{d}T09:20:00Z", "risk-manager", "risk-manager: docs for exposure limits", "dana", ["docs/limits.md"]),
            Commit(f"{d}T10:05:00Z", "gui-gateway", "gui-gateway: add CSV export of the blotter", "bob",
                   ["src/routes/export.py"], tag="deploy-gui-gateway-1.9.3", tag_at=f"{d}T10:12:00Z"),
            Commit(f"{d}T10:30:00Z", "execution-engine", "execution-engine: typo in log message", "alice", ["src/log.py"]),
        ],
        logs=[
            Log(f"{d}T10:12:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.9.3"),
            Log(f"{d}T10:21:44.005Z", "gui-gateway", "ERROR",
                "GET /api/blotter.csv 500: UnicodeEncodeError: 'latin-1' codec can't encode character '\\u0141'"),
            *burst("gui-gateway", "ERROR", f"{d}T10:29:10Z", f"{d}T10:55:00Z", 420,
                   "GET /api/blotter.csv 500: UnicodeEncodeError: 'latin-1' codec can't encode character", seed="p3"),
        ],
        metrics=metrics(15),
        incident={
            "title": "CSV export broken for some accounts", "triggered_at": f"{d}T10:40:00Z",
            "acknowledged_at": f"{d}T12:10:00Z",
        },
        pg_tz="+07",
        truth=Truth(
            culprit="deploy-gui-gateway-1.9.3", severity="P3",
            first_symptom=f"{d}T10:21:44.005Z", first_service="gui-gateway", first_kind="log",
            why="only the CSV export that gui-gateway 1.9.3 added fails, a handful of times, for non-ASCII names; "
                "trading, the blotter and every other endpoint are fine: a minor feature issue (P3)."),
    )


# ---------------------------------------------------------------------------- 18
def sunday_open_deploy() -> Scenario:
    d = "2026-06-28"  # Sunday: the FX week opens at 22:00 UTC
    return Scenario(
        name="sunday-open-deploy", family="bad deploy made while the market was closed, failing at the open",
        summary="data-ingestor 2.5.0, deployed Sunday afternoon, cannot log on to the market-data venue at 22:00",
        start=f"{d}T21:30:00Z", end=f"{d}T23:30:00Z",
        commits=[
            Commit("2026-06-26T14:00:00Z", "execution-engine", "execution-engine: venue reject code mapping", "alice",
                   ["src/fix/rejects.py"], tag="deploy-execution-engine-2.17.1", tag_at="2026-06-26T14:10:00Z"),
            Commit(f"{d}T17:40:00Z", "data-ingestor", "data-ingestor: new FIX logon sequence with per-session SenderCompID",
                   "bob", ["src/session/logon.py", "config/sessions.yaml"], tag="deploy-data-ingestor-2.5.0",
                   tag_at=f"{d}T18:05:00Z"),
            Commit(f"{d}T20:00:00Z", "risk-manager", "risk-manager: weekly limits for new accounts", "dana",
                   ["config/accounts.yaml"]),
            Commit(f"{d}T21:40:00Z", "gui-gateway", "docs: Sunday open checklist", "ops", ["docs/sunday-open.md"]),
            Commit(f"{d}T22:27:00Z", "data-ingestor", "", "bob", [],
                   revert="data-ingestor: new FIX logon sequence with per-session SenderCompID",
                   tag="deploy-data-ingestor-2.5.1", tag_at=f"{d}T22:30:00Z"),
        ],
        logs=[
            Log(f"{d}T21:58:00.000Z", "data-ingestor", "INFO", "market opens in 2 min: arming LMAX-MD session"),
            Log(f"{d}T22:00:04.512Z", "data-ingestor", "ERROR",
                "logon rejected by LMAX-MD: 58=Invalid SenderCompID 'EAFIX-MD-2' (35=5)"),
            *burst("data-ingestor", "ERROR", f"{d}T22:00:15Z", f"{d}T22:31:00Z", 10,
                   "logon rejected by LMAX-MD: 58=Invalid SenderCompID 'EAFIX-MD-2' (35=5)", seed="so1"),
            *burst("signal-generator", "WARNING", f"{d}T22:01:00Z", f"{d}T22:31:30Z", 120,
                   "no ticks since market open ({n}) - strategies idle", seed="so2"),
            Log(f"{d}T22:31:40.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.5.1"),
            Log(f"{d}T22:31:45.300Z", "data-ingestor", "INFO", "logon accepted by LMAX-MD (seq 1)"),
        ],
        metrics=Metrics(
            step_s=15,
            latencies=[
                Latency("signal_latency_seconds", "signal-generator", 0.35, 0.35, 1.5,
                        pauses=[(f"{d}T22:00:00Z", f"{d}T22:32:30Z")]),
                Latency("order_execution_seconds", "execution-engine", 0.12, 0.4, 1.0,
                        pauses=[(f"{d}T22:00:00Z", f"{d}T22:33:00Z")]),
            ],
            ups=default_ups("service"),
            http=[Http("gui-gateway", 12.0, 0.002), Http("execution-engine", 4.0, 0.001)],
            feed=Feed(stale=[("2026-06-26T22:00:00Z", f"{d}T22:31:45Z")]),
        ),
        trading=Trading(signal_gaps=[(f"{d}T22:00:00Z", f"{d}T22:32:30Z")],
                        order_gaps=[(f"{d}T22:00:00Z", f"{d}T22:33:00Z")]),
        incident={
            "title": "No market data after the Sunday open", "services": ["data-ingestor"],
            "triggered_at": f"{d}T22:06:00Z", "acknowledged_at": f"{d}T22:11:00Z", "resolved_at": f"{d}T22:45:00Z",
            "updates": [{"time": f"{d}T22:20:00Z", "status": "Identified", "text": "venue rejects new SenderCompID"}],
        },
        pg_tz="+07",
        truth=Truth(
            culprit="deploy-data-ingestor-2.5.0", severity="P1",
            first_symptom=f"{d}T22:00:04.512Z", first_service="data-ingestor", first_kind="log",
            why="the new logon sequence deployed at 18:05 was first exercised at the 22:00 open and the venue rejects "
                "exactly the SenderCompID it introduced, until its revert; 4 h of a closed market are no evidence "
                "that it worked; no market data after the open is a feed interruption (P1); the other changes are "
                "config of another service and docs."),
    )


# ---------------------------------------------------------------------------- 19
def backfill_lock_monorepo() -> Scenario:
    d = "2026-08-27"
    return Scenario(
        name="backfill-lock-mono", family="migration lock from another service (monorepo, row locks, degradation)",
        summary="risk-manager's backfill job holds row locks on positions for 33 min; execution-engine orders slow",
        start=f"{d}T06:00:00Z", end=f"{d}T08:00:00Z", layout="monorepo",
        commits=[
            Commit("2026-08-26T15:00:00Z", "execution-engine", "execution-engine: expose fill ratio metric", "alice",
                   ["src/metrics.py"], tag="deploy-execution-engine-2.17.4", tag_at="2026-08-26T15:10:00Z"),
            Commit(f"{d}T06:20:00Z", "signal-generator", "signal-generator: tune rsi-v3 oversold level to 28", "chen",
                   ["config/strategies.yaml"]),
            Commit(f"{d}T06:31:00Z", "risk-manager", "risk-manager: backfill margin_tier for open positions (job 0043)",
                   "dana", ["jobs/backfill_margin_tier.py", "migrations/0043_backfill_margin_tier.sql"],
                   tag="deploy-risk-manager-4.2.1", tag_at=f"{d}T06:38:00Z"),
            Commit(f"{d}T06:50:00Z", "docs", "docs: margin tiers explained", "dana", ["margin-tiers.md"]),
        ],
        logs=[
            Log(f"{d}T06:38:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.2.1"),
            Log(f"{d}T06:39:02.100Z", "risk-manager", "INFO",
                "job 0043 backfill_margin_tier started: 48211 positions in one transaction"),
            *burst("execution-engine", "WARNING", f"{d}T06:40:02Z", f"{d}T07:12:00Z", 50,
                   "position update for order O-{order} waited 1.{n} s for a lock on positions", seed="bl1"),
            Log(f"{d}T07:12:30.400Z", "risk-manager", "INFO", "job 0043 backfill_margin_tier committed (33m28s)"),
        ],
        metrics=metrics(15, exec_regimes=[(f"{d}T06:39:15Z", f"{d}T07:12:30Z", 1.3, 0.3)]),
        trading=Trading(order_slow=[(f"{d}T06:39:15Z", f"{d}T07:12:30Z", 1900.0)]),
        workload=Workload(lock_chain=True, lock_kind="update"),
        incident={
            "title": "Order execution slow (lock waits on positions)", "services": ["execution-engine"],
            "triggered_at": f"{d}T06:52:00Z", "acknowledged_at": f"{d}T07:05:00Z", "resolved_at": f"{d}T07:20:00Z",
        },
        pg_tz="-03",
        truth=Truth(
            culprit="deploy-risk-manager-4.2.1", severity="P2",
            first_symptom=f"{d}T06:39:15Z", first_service="execution-engine", first_kind="metric",
            why="execution-engine's order latency rises as soon as risk-manager 4.2.1 starts its one-transaction backfill "
                "of positions and recovers when it commits; execution-engine's own deploy is 15 h old; every order still "
                "fills, a degradation under 5 s (P2)."),
    )


# ---------------------------------------------------------------------------- 20
def host_down_p0() -> Scenario:
    d = "2026-01-20"
    versions = {"gui-gateway": "1.8.7", "data-ingestor": "2.2.9", "indicator-engine": "3.6.1",
                "signal-generator": "1.21.0", "risk-manager": "4.0.8", "execution-engine": "2.14.5"}
    gap = (f"{d}T10:14:39Z", f"{d}T10:24:50Z")
    logs = [
        Log(f"{d}T10:24:18.200Z", "postgres", "LOG", "database system was interrupted; last known up at 2026-01-20 17:14:31 +07"),
        Log(f"{d}T10:24:18.900Z", "postgres", "LOG", "database system was not properly shut down; automatic recovery in progress"),
        Log(f"{d}T10:24:21.000Z", "postgres", "LOG", "database system is ready to accept connections"),
        Log(f"{d}T09:58:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.14.5"),
    ]
    for i, (svc, v) in enumerate(versions.items()):
        logs.append(Log(f"{d}T10:24:{30 + 3 * i:02d}.250Z", svc, "INFO", f"Starting {svc} version {v}"))
    downs = {svc: [(f"{d}T10:14:45Z", f"{d}T10:24:45Z")] for svc in [*versions, "postgres"]}
    m = metrics(15, ups="job", down=downs)
    m.scrape_gaps = [(f"{d}T10:14:45Z", f"{d}T10:24:45Z")]  # scrapes fail: up = 0, no other samples
    return Scenario(
        name="host-down-p0", family="complete outage in market hours (P0), no change (host lost)",
        summary="the Docker host loses power on a Tuesday morning: every target down 10 min, logs silent",
        start=f"{d}T09:30:00Z", end=f"{d}T11:30:00Z",
        commits=[
            Commit(f"{d}T09:41:00Z", "execution-engine", "execution-engine: per-venue order throttle", "alice",
                   ["src/throttle.py"], tag="deploy-execution-engine-2.14.5", tag_at=f"{d}T09:58:00Z"),
            Commit(f"{d}T08:30:00Z", "indicator-engine", "indicator-engine: docs for the MACD parameters", "emre",
                   ["docs/macd.md"]),
            Commit(f"{d}T10:40:00Z", "gui-gateway", "docs: post-mortem template link", "ops", ["docs/postmortem.md"]),
        ],
        logs=logs,
        metrics=m,
        silent={svc: [gap] for svc in versions},
        trading=Trading(signal_gaps=[gap], order_gaps=[(gap[0], f"{d}T10:25:30Z")]),
        incident={
            "title": "EAFIX unreachable", "severity": "P0",
            "triggered_at": f"{d}T10:16:00Z", "acknowledged_at": f"{d}T10:17:00Z", "resolved_at": f"{d}T10:40:00Z",
            "updates": [{"time": f"{d}T10:22:00Z", "status": "Identified", "text": "docker host power loss; rebooting"}],
            "action_items": [{"text": "Second host with automatic failover", "owner": "platform"}],
        },
        pg_tz="+07",
        truth=Truth(
            culprit=None, severity="P0",
            first_symptom=f"{d}T10:14:45Z", first_service="", first_kind="metric",
            why="every target on the host, PostgreSQL included, goes down in the same scrape and every log stops at "
                "once, then all come back by a reboot (the database recovers from an unclean shutdown); one "
                "service's deploy 17 min earlier, running clean, cannot take down the host; everything down on a "
                "Tuesday morning is a complete outage in market hours (P0)."),
    )


# ---------------------------------------------------------------------------- 21
def upstream_signal_risk_monorepo() -> Scenario:
    d = "2026-10-30"  # Friday
    return Scenario(
        name="upstream-signal-risk-mono", family="upstream deploy through the pipeline (monorepo): signal -> risk",
        summary="signal-generator 2.5.0 sizes in units instead of lots; risk-manager rejects every oversized signal",
        start=f"{d}T13:00:00Z", end=f"{d}T15:00:00Z", layout="monorepo",
        commits=[
            Commit(f"{d}T09:15:00Z", "risk-manager", "risk-manager: pre-trade check logs the limit it applied", "dana",
                   ["src/pretrade.py"], tag="deploy-risk-manager-4.3.5", tag_at=f"{d}T09:30:00Z"),
            Commit(f"{d}T13:18:00Z", "signal-generator", "signal-generator: size positions in units instead of lots",
                   "chen", ["src/sizing.py", "tests/test_sizing.py"], tag="deploy-signal-generator-2.5.0",
                   tag_at=f"{d}T13:26:00Z"),
            Commit(f"{d}T13:29:00Z", "risk-manager", "risk-manager: clarify pre-trade reject messages", "dana",
                   ["src/messages.py"]),
            Commit(f"{d}T13:50:00Z", "docs", "docs: position sizing conventions", "chen", ["sizing.md"]),
            Commit(f"{d}T14:02:00Z", "signal-generator", "", "chen", [],
                   revert="signal-generator: size positions in units instead of lots",
                   tag="deploy-signal-generator-2.5.1", tag_at=f"{d}T14:05:00Z"),
        ],
        logs=[
            Log(f"{d}T09:30:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.3.5"),
            Log(f"{d}T13:26:45.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.5.0"),
            Log(f"{d}T13:28:12.604Z", "risk-manager", "ERROR",
                "signal S-4471 rejected by pre-trade check: qty 12000000 exceeds max position 500000 (EURUSD)"),
            *burst("risk-manager", "ERROR", f"{d}T13:29:40Z", f"{d}T14:05:30Z", 75,
                   "signal S-{order} rejected by pre-trade check: qty exceeds max position 500000", seed="sr1"),
            Log(f"{d}T14:05:40.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.5.1"),
        ],
        metrics=metrics(30),
        trading=Trading(order_gaps=[(f"{d}T13:28:00Z", f"{d}T14:06:00Z")]),
        incident={
            "title": "No orders since 13:28: signals rejected by risk", "services": ["risk-manager"],
            "triggered_at": f"{d}T13:41:00Z", "acknowledged_at": f"{d}T13:44:00Z", "resolved_at": f"{d}T14:15:00Z",
        },
        pg_tz="UTC",
        truth=Truth(
            culprit="deploy-signal-generator-2.5.0", severity="P1",
            first_symptom=f"{d}T13:28:12.604Z", first_service="risk-manager", first_kind="log",
            why="risk-manager's pre-trade check starts rejecting 2 min after its upstream signal-generator deployed "
                "unit-based sizing (quantities 100x too large) and stops with its revert; risk-manager works as "
                "designed and its own deploy is 4 h old; no orders for 38 min in market hours is P1."),
    )


# ---------------------------------------------------------------------------- 22
def illiquid_feed_noise() -> Scenario:
    d = "2026-11-10"
    return Scenario(
        name="illiquid-feed-noise", family="noisy baseline over a threshold (illiquid symbol's price age > 60 s)",
        summary="USDTRY ticks about once a minute, so its price age is 'stale' all day; the incident is a risk deploy",
        start=f"{d}T08:00:00Z", end=f"{d}T10:00:00Z",
        commits=[
            Commit(f"{d}T07:10:00Z", "data-ingestor", "data-ingestor: subscribe USDTRY (illiquid, 1 tick/min)", "bob",
                   ["config/subscriptions.yaml"]),
            Commit(f"{d}T08:37:00Z", "risk-manager", "risk-manager: margin model v2 with per-currency haircuts", "dana",
                   ["src/margin/v2.py", "config/haircuts.yaml"], tag="deploy-risk-manager-4.4.0",
                   tag_at=f"{d}T08:44:00Z"),
            Commit(f"{d}T08:58:00Z", "execution-engine", "execution-engine: more detail in reject logs", "alice",
                   ["src/log.py"], tag="deploy-execution-engine-2.18.0", tag_at=f"{d}T09:04:00Z"),
        ],
        logs=[
            Log(f"{d}T08:44:35.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.4.0"),
            Log(f"{d}T08:51:27.090Z", "risk-manager", "ERROR",
                "margin model v2: negative margin -1250.40 for account 21 (USDJPY haircut missing); rejecting order"),
            *burst("risk-manager", "ERROR", f"{d}T08:52:30Z", f"{d}T09:40:00Z", 60,
                   "margin model v2: negative margin for account 21 (USDJPY haircut missing); rejecting order", seed="if1"),
            *burst("execution-engine", "WARNING", f"{d}T08:51:40Z", f"{d}T09:40:00Z", 70,
                   "order O-{order} rejected: pre-trade margin check failed (risk-manager)", seed="if2"),
            Log(f"{d}T09:04:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.18.0"),
            Log(f"{d}T09:40:20.000Z", "risk-manager", "INFO", "margin model v1 re-enabled (MARGIN_MODEL=v1)"),
        ],
        metrics=Metrics(
            step_s=15,
            latencies=metrics().latencies,
            ups=default_ups("service"),
            http=[Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001)],
            feed=Feed(slow_symbols={"USDTRY": 70.0}),
        ),
        trading=Trading(order_failures=[(f"{d}T08:51:27Z", f"{d}T09:40:20Z", 0.3, "rejected",
                                         "pre-trade margin check failed")]),
        incident={
            "title": "Orders rejected by margin check", "services": ["execution-engine", "risk-manager"],
            "triggered_at": f"{d}T09:02:00Z", "acknowledged_at": f"{d}T09:06:00Z", "resolved_at": f"{d}T09:50:00Z",
        },
        pg_tz="+0530",
        truth=Truth(
            culprit="deploy-risk-manager-4.4.0", severity="P1",
            first_symptom=f"{d}T08:51:27.090Z", first_service="risk-manager", first_kind="log",
            why="the margin-check rejects start 7 min after risk-manager 4.4.0's new margin model and stop when v1 is "
                "re-enabled; USDTRY's price age over 60 s is its normal tick rate (the same in every baseline), not "
                "a feed interruption; 30% of orders rejected in market hours is P1; the execution-engine deploy "
                "came after the first reject."),
    )


# ---------------------------------------------------------------------------- 23
def partial_feed_deploy_monorepo() -> Scenario:
    d = "2026-01-08"
    return Scenario(
        name="partial-feed-deploy-mono", family="bad deploy of the failing service (monorepo): one symbol's feed stops",
        summary="data-ingestor 2.6.0's de-duplication drops every USDJPY tick after a sequence wrap; monorepo",
        start=f"{d}T12:00:00Z", end=f"{d}T13:30:00Z", layout="monorepo",
        commits=[
            Commit(f"{d}T11:20:00Z", "data-ingestor", "data-ingestor: drop duplicate ticks by sequence number", "bob",
                   ["src/dedupe.py", "tests/test_dedupe.py"], tag="deploy-data-ingestor-2.6.0",
                   tag_at=f"{d}T12:21:00Z"),
            Commit(f"{d}T11:58:00Z", "indicator-engine", "indicator-engine: warm EMA caches at start-up", "emre",
                   ["src/ema.py"], tag="deploy-indicator-engine-3.9.6", tag_at=f"{d}T12:05:00Z"),
            Commit(f"{d}T12:40:00Z", "docs", "docs: sequence numbers per venue", "bob", ["venues/sequence.md"]),
            Commit(f"{d}T13:02:00Z", "data-ingestor", "", "bob", [],
                   revert="data-ingestor: drop duplicate ticks by sequence number",
                   tag="deploy-data-ingestor-2.6.1", tag_at=f"{d}T13:04:00Z"),
        ],
        logs=[
            Log(f"{d}T12:05:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.9.6"),
            Log(f"{d}T12:21:31.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.6.0"),
            *burst("data-ingestor", "WARNING", f"{d}T12:23:10Z", f"{d}T13:04:00Z", 60,
                   "dropped {n}40 duplicate ticks (USDJPY) in the last 60 s", seed="pf1"),
            *burst("signal-generator", "WARNING", f"{d}T12:24:00Z", f"{d}T13:05:00Z", 150,
                   "USDJPY bars incomplete: strategy skipped", seed="pf2"),
            Log(f"{d}T13:04:35.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.6.1"),
        ],
        metrics=Metrics(
            step_s=30,
            latencies=metrics().latencies,
            ups=default_ups("service"),
            http=[Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001)],
            feed=Feed(stale_symbols={"USDJPY": [(f"{d}T12:22:00Z", f"{d}T13:05:00Z")]}),
        ),
        trading=Trading(),
        incident={
            "title": "USDJPY prices stale", "services": ["data-ingestor"],
            "triggered_at": f"{d}T12:27:00Z", "acknowledged_at": f"{d}T12:31:00Z", "resolved_at": f"{d}T13:10:00Z",
        },
        pg_tz="-03",
        truth=Truth(
            culprit="deploy-data-ingestor-2.6.0", severity="P1",
            first_symptom=f"{d}T12:22:00Z", first_service="data-ingestor", first_kind="metric",
            why="USDJPY prices stop one minute after data-ingestor 2.6.0 started de-duplicating by sequence number "
                "(it logs the dropped USDJPY ticks) and resume with its revert; the indicator-engine deploy is "
                "downstream; no prices for a traded symbol in market hours is a feed interruption (P1)."),
    )


# ---------------------------------------------------------------------------- 24
def config_repo_risk() -> Scenario:
    d = "2026-03-27"  # Friday
    return Scenario(
        name="config-repo-risk", family="config change with no deploy tag, in a separate config repository",
        summary="a limits change in the eafix-config repository (a typo: 50000) makes risk-manager reject most signals",
        start=f"{d}T10:00:00Z", end=f"{d}T12:00:00Z",
        commits=[
            Commit(f"{d}T09:58:00Z", "execution-engine", "execution-engine: retry on venue throttling", "alice",
                   ["src/fix/throttle.py"], tag="deploy-execution-engine-2.17.6", tag_at=f"{d}T10:10:00Z"),
            Commit(f"{d}T10:31:00Z", "risk-manager", "risk-manager: max_position 500000 -> 50000 for all accounts",
                   "dana", ["risk-manager/limits.yaml"], repo="eafix-config"),
            Commit(f"{d}T10:38:00Z", "signal-generator", "signal-generator: new momentum strategy behind a flag", "chen",
                   ["src/strategies/momentum.py"], tag="deploy-signal-generator-2.5.4", tag_at=f"{d}T10:45:00Z"),
            Commit(f"{d}T11:12:00Z", "risk-manager", "risk-manager: max_position back to 500000", "dana",
                   ["risk-manager/limits.yaml"], repo="eafix-config"),
        ],
        logs=[
            Log(f"{d}T10:10:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.17.6"),
            Log(f"{d}T10:33:05.000Z", "risk-manager", "INFO", "limits reloaded from eafix-config: max_position=50000"),
            Log(f"{d}T10:33:40.118Z", "risk-manager", "ERROR",
                "signal S-8812 rejected by pre-trade check: qty 100000 exceeds max position 50000 (EURUSD)"),
            *burst("risk-manager", "ERROR", f"{d}T10:34:30Z", f"{d}T11:13:30Z", 50,
                   "signal S-{order} rejected by pre-trade check: qty exceeds max position 50000", seed="cr1"),
            Log(f"{d}T10:45:40.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.5.4"),
            Log(f"{d}T11:13:50.000Z", "risk-manager", "INFO", "limits reloaded from eafix-config: max_position=500000"),
        ],
        metrics=metrics(15, ups="job"),
        trading=Trading(order_failures=[(f"{d}T10:33:40Z", f"{d}T11:13:50Z", 0.6, "rejected",
                                         "pre-trade check: exceeds max position 50000")]),
        incident={
            "title": "Most signals rejected by risk", "services": ["risk-manager"],
            "triggered_at": f"{d}T10:41:00Z", "acknowledged_at": f"{d}T10:44:00Z", "resolved_at": f"{d}T11:20:00Z",
        },
        pg_tz="+07",
        truth=Truth(
            culprit="risk-manager: max_position 500000 -> 50000 for all accounts", severity="P1",
            first_symptom=f"{d}T10:33:40.118Z", first_service="risk-manager", first_kind="log",
            why="risk-manager starts rejecting at exactly the limit the config commit set (reloaded 35 s before the "
                "first reject) and stops when it is restored; the commit lives in the config repository, not a "
                "service's, and has no deploy tag; 60% of orders rejected in market hours is P1; the "
                "execution-engine deploy is older and downstream, the signal-generator one comes after."),
    )


# ---------------------------------------------------------------------------- 25
def release_train_old_commit() -> Scenario:
    d = "2026-11-18"
    return Scenario(
        name="release-train-old-commit", family="bad deploy of the failing service: a commit merged days before the deploy",
        summary="signal-generator 1.24.0 ships a 3-day-old commit (outside the 24 h lookback) that breaks at the session roll",
        start=f"{d}T13:30:00Z", end=f"{d}T15:30:00Z",
        commits=[
            Commit("2026-11-15T10:20:00Z", "signal-generator", "signal-generator: cache strategy parameters per session",
                   "chen", ["src/params/cache.py"], tag="deploy-signal-generator-1.24.0", tag_at=f"{d}T14:02:00Z"),
            Commit(f"{d}T09:40:00Z", "signal-generator", "signal-generator: fix typo in README", "chen", ["README.md"]),
            Commit(f"{d}T11:15:00Z", "execution-engine", "execution-engine: reconnect jitter", "alice",
                   ["src/fix/session.py"], tag="deploy-execution-engine-2.18.2", tag_at=f"{d}T11:30:00Z"),
            Commit(f"{d}T13:50:00Z", "risk-manager", "risk-manager: audit log for limit overrides", "dana",
                   ["src/audit.py"]),
            Commit(f"{d}T14:20:00Z", "gui-gateway", "gui-gateway: bump chart library", "bob", ["package.json"],
                   tag="deploy-gui-gateway-1.10.4", tag_at=f"{d}T14:25:00Z"),
            Commit(f"{d}T14:36:00Z", "signal-generator", "", "chen", [],
                   revert="signal-generator: cache strategy parameters per session",
                   tag="deploy-signal-generator-1.24.1", tag_at=f"{d}T14:39:00Z"),
        ],
        logs=[
            Log(f"{d}T11:30:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.18.2"),
            Log(f"{d}T14:02:40.000Z", "signal-generator", "INFO", "Starting signal-generator version 1.24.0"),
            Log(f"{d}T14:09:12.345Z", "signal-generator", "ERROR",
                "KeyError: 'session-2026-11-18' not in parameter cache; strategy loop restarting"),
            *burst("signal-generator", "ERROR", f"{d}T14:09:45Z", f"{d}T14:39:30Z", 30,
                   "KeyError: 'session-2026-11-18' not in parameter cache; strategy loop restarting", seed="rt1"),
            Log(f"{d}T14:25:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.10.4"),
            Log(f"{d}T14:39:40.000Z", "signal-generator", "INFO", "Starting signal-generator version 1.24.1"),
        ],
        metrics=metrics(15),
        trading=Trading(signal_gaps=[(f"{d}T14:09:12Z", f"{d}T14:40:00Z")],
                        order_gaps=[(f"{d}T14:10:00Z", f"{d}T14:41:00Z")]),
        incident={
            "title": "No signals since 14:09", "services": ["signal-generator"],
            "triggered_at": f"{d}T14:15:00Z", "acknowledged_at": f"{d}T14:18:00Z", "resolved_at": f"{d}T14:50:00Z",
        },
        pg_tz="UTC",
        truth=Truth(
            culprit="deploy-signal-generator-1.24.0", severity="P1",
            first_symptom=f"{d}T14:09:12.345Z", first_service="signal-generator", first_kind="log",
            why="signal-generator fails 7 min after the 1.24.0 deploy, in the parameter cache that release introduced, "
                "and recovers with its revert; the commit is 3 days old but was deployed only at 14:02 (the deploy "
                "is the change); no signals for 30 min in market hours is P1."),
    )


SCENARIOS: list[Callable[[], Scenario]] = [
    bad_deploy_exec,
    upstream_indicator_monorepo,
    migration_lock,
    config_no_tag,
    broker_down,
    feed_stale_monorepo,
    outage_shared_lib_p0,
    outage_weekend_disk,
    noisy_baseline_exec,
    near_threshold_signal,
    rollback_red_herrings,
    docs_only_change,
    slow_query_index_drop,
    risk_manager_p0,
    upstream_ingestor_data_quality,
    config_monorepo_signal,
    minor_feature_p3,
    sunday_open_deploy,
    backfill_lock_monorepo,
    host_down_p0,
    upstream_signal_risk_monorepo,
    illiquid_feed_noise,
    partial_feed_deploy_monorepo,
    config_repo_risk,
    release_train_old_commit,
    *MARKET_SCENARIOS,  # issue #19: market time (weekend, Friday close, silent stalls), shared-library releases
    *BLIND_SCENARIOS,  # issue #20: the families varied blind (innocent rollbacks, gradual onset, cascades, ...)
]


def all_scenarios() -> list[Scenario]:
    return [f() for f in SCENARIOS]
