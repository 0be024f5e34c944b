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

import random
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
    default_ups,
    ts,
)


def burst(service: str, level: str, start: str, end: str, every_s: float, message: str, *, seed: str) -> list[Log]:
    """Log lines from ``start`` (exactly) to ``end``, about every
    ``every_s`` seconds (jittered); ``message`` may use {n} (a counter) and {order}."""
    rng = random.Random(seed)
    out = []
    t, n = ts(start), 0
    while t < ts(end):
        out.append(Log(t.isoformat(), service, level, message.format(n=n, order=61000 + 7 * n + rng.randint(0, 6))))
        n += 1
        t += pd.Timedelta(seconds=every_s * rng.uniform(0.5, 1.5))
    return out


def metrics(step: int = 15, *, signal: float = 0.35, signal_sigma: float = 0.35, execution: float = 0.12,
            signal_regimes: list[tuple[str, str, float, float]] | None = None,
            exec_regimes: list[tuple[str, str, float, float]] | None = None,
            signal_spikes: list[tuple[int, int, float]] | None = None,
            ups: str = "service", down: dict[str, list[tuple[str, str]]] | None = None,
            http: list[Http] | None = None, stale: list[tuple[str, str]] | None = None) -> Metrics:
    return Metrics(
        step_s=step,
        latencies=[
            Latency("signal_latency_seconds", "signal-generator", signal, signal_sigma, 1.5,
                    regimes=signal_regimes or [], hourly_spikes=signal_spikes or []),
            Latency("order_execution_seconds", "execution-engine", execution, 0.4, 1.0, regimes=exec_regimes or []),
        ],
        ups=default_ups(ups, down),
        http=http or [Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001)],
        feed=Feed(stale=stale or []),
    )


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
        metrics=metrics(15, exec_regimes=[(f"{d}T14:30:00Z", f"{d}T14:51:30Z", 1.0, 0.3)]),
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


SCENARIOS: list[Callable[[], Scenario]] = [
    bad_deploy_exec,
    upstream_indicator_monorepo,
    migration_lock,
    config_no_tag,
    broker_down,
]


def all_scenarios() -> list[Scenario]:
    return [f() for f in SCENARIOS]
