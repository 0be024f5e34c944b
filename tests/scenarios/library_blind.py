"""Blind incidents (issue #20): the existing families, varied the way real incidents vary,
written from what happened without looking at the analysis rules.

* An innocent deploy of the failing service rolled back during the incident while the
  errors go on; the cause is an upstream deploy (fixed forward by config), or nothing of
  ours at all (the broker's TLS certificate expired at its daily session reset).
* The older of two deploys of the failing service is the culprit: the newer one is a
  hotfix made after the first symptom, and the first ERROR line only comes after it.
* A chronic ERROR signature all through the window next to the new, different error.
* Gradual onset: a memory leak from a deploy's restart; the first symptom is when the
  working set leaves its band, 20 min before the first WARNING or the latency rise.
* A batch job's schedule changed by a config commit in a service that never fails
  exhausts the database's connections; the failing service's own deploy is the trap.
* A cascade: the upstream service's few errors come first, the downstream's loud ones
  2-3 min later, with a downstream deploy in between.
* One symbol's prices stop after a config commit (a typo), a P1 with no ERROR line.
* risk-manager hangs (no crash, no line of its own, still up): the errors are execution-
  engine's, whose own deploy came 4 min before; no order passes the pre-trade check (P0).
* A P3 cosmetic issue in logs saved the runbook's way (no Docker timestamps: every
  service's own time format, one in local time, one in epoch millis) with a service
  that warns all day.

Second round (written after the rules were fitted to the first ten, as holdouts):

* a new, repeated but harmless WARNING (a deprecation notice) from an earlier deploy of
  another service, before the real incident;
* a deploy that steps a service's memory up to a new flat level (no creep), then a venue
  outage with no change to blame.

Truth is the runbook's (P0-P3) and each scenario's ``why`` says how an on-call engineer
reads the evidence. Dates are free of the other scenarios' sample ranges.
"""

from __future__ import annotations

from collections.abc import Callable

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
    burst,
    default_ups,
    metrics,
)


# ---------------------------------------------------------------------------- innocent revert, upstream culprit
def innocent_revert_signal() -> Scenario:
    d = "2026-11-04"  # Wednesday
    reject = "pre-trade check failed for signal S-{order}: stop distance 0.0016 below the venue minimum 5.0 pips"
    return Scenario(
        name="innocent-revert-signal",
        family="the failing service's own deploy rolled back without effect; the cause is an upstream deploy",
        summary="signal-generator 2.8.0 sends stop distances in price units; risk-manager rejects them; the on-call "
                "rolls back risk-manager 4.9.0 (deployed 5 min before it) and the rejections go on",
        start=f"{d}T13:00:00Z", end=f"{d}T15:00:00Z",
        commits=[
            Commit("2026-11-03T16:20:00Z", "execution-engine", "execution-engine: venue latency buckets per symbol",
                   "alice", ["src/metrics.py"], tag="deploy-execution-engine-2.27.3", tag_at="2026-11-03T16:35:00Z"),
            Commit(f"{d}T13:31:00Z", "risk-manager", "risk-manager: per-symbol margin tiers from the limits table",
                   "dana", ["src/margin.py", "config/limits.yaml"], tag="deploy-risk-manager-4.9.0",
                   tag_at=f"{d}T13:44:00Z"),
            Commit(f"{d}T13:38:00Z", "signal-generator", "signal-generator: stop-loss distance from ATR(14)", "chen",
                   ["src/stops.py", "tests/test_stops.py"], tag="deploy-signal-generator-2.8.0",
                   tag_at=f"{d}T13:49:00Z"),
            Commit(f"{d}T13:55:00Z", "gui-gateway", "gui-gateway: show the rejection reason in the blotter", "bob",
                   ["src/ui/blotter.tsx"]),
            Commit(f"{d}T14:12:00Z", "risk-manager", "", "dana", [],
                   revert="risk-manager: per-symbol margin tiers from the limits table",
                   tag="deploy-risk-manager-4.9.1", tag_at=f"{d}T14:14:00Z"),
            Commit(f"{d}T14:33:00Z", "signal-generator", "signal-generator: STOP_UNITS=pips in the production config",
                   "chen", ["config/production.yaml"]),
        ],
        logs=[
            Log(f"{d}T13:44:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.9.0"),
            Log(f"{d}T13:44:41.300Z", "risk-manager", "INFO", "margin tiers loaded for 3 symbols"),
            Log(f"{d}T13:49:35.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.8.0"),
            Log(f"{d}T13:49:36.200Z", "signal-generator", "INFO", "stops: ATR(14) x 1.5 on every signal"),
            Log(f"{d}T13:52:18.204Z", "risk-manager", "ERROR",
                "pre-trade check failed for signal S-7312: stop distance 0.0016 below the venue minimum 5.0 pips"),
            *burst("risk-manager", "ERROR", f"{d}T13:52:50Z", f"{d}T14:36:00Z", 25, reject, seed="ir1"),
            Log(f"{d}T14:14:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.9.1"),
            Log(f"{d}T14:35:50.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.8.0"),
            Log(f"{d}T14:35:50.900Z", "signal-generator", "INFO", "config loaded: stops.units=pips"),
        ],
        metrics=metrics(15),
        trading=Trading(order_failures=[(f"{d}T13:52:18Z", f"{d}T14:36:00Z", 0.4, "rejected",
                                         "pre-trade: stop distance below the venue minimum")]),
        incident={
            "title": "Signals rejected by the pre-trade check", "services": ["risk-manager"],
            "triggered_at": f"{d}T13:57:00Z", "acknowledged_at": f"{d}T14:01:00Z", "resolved_at": f"{d}T14:45:00Z",
            "updates": [
                {"time": f"{d}T14:08:00Z", "status": "Investigating",
                 "text": "risk-manager rejecting signals since shortly after its 4.9.0 deploy; rolling it back"},
                {"time": f"{d}T14:25:00Z", "status": "Investigating", "text": "rejections continue on 4.9.1"},
            ],
        },
        pg_tz="+02",
        truth=Truth(
            culprit="deploy-signal-generator-2.8.0", severity="P1",
            first_symptom=f"{d}T13:52:18.204Z", first_service="risk-manager", first_kind="log",
            why="risk-manager rejects the stop distances signal-generator 2.8.0 started sending 3 min after its start "
                "(price units read as pips), and the rejections stop only when signal-generator is configured back "
                "to pips; rolling back risk-manager 4.9.0 (margin tiers, deployed 5 min earlier) changed nothing, so "
                "it is cleared; 40% of orders rejected in market hours is a partial outage affecting trading (P1)."),
    )


# ---------------------------------------------------------------------------- older of two deploys
def older_deploy_hotfix_monorepo() -> Scenario:
    d = "2026-04-09"  # Thursday
    return Scenario(
        name="older-deploy-hotfix-mono",
        family="bad deploy of the failing service: the older of its two deploys (the newer is a hotfix after the "
               "first symptom); monorepo",
        summary="signal-generator 2.9.0 looks up features over HTTP per bar; signal latency p95 goes over 10 s; the "
                "2.9.1 hotfix (longer timeout) only turns the slowness into timeouts",
        start=f"{d}T08:30:00Z", end=f"{d}T10:30:00Z", layout="monorepo",
        commits=[
            Commit("2026-04-08T15:00:00Z", "risk-manager", "risk-manager: exposure by currency in the EOD report",
                   "dana", ["src/reports.py"], tag="deploy-risk-manager-4.6.2", tag_at="2026-04-08T15:20:00Z"),
            Commit(f"{d}T08:22:00Z", "indicator-engine", "indicator-engine: MACD histogram in the bar payload", "emre",
                   ["src/macd.py"], tag="deploy-indicator-engine-3.15.0", tag_at=f"{d}T08:41:00Z"),
            Commit(f"{d}T08:50:00Z", "signal-generator", "signal-generator: features from the feature store per bar",
                   "alice", ["src/features/store.py", "src/strategy.py"], tag="deploy-signal-generator-2.9.0",
                   tag_at=f"{d}T09:10:00Z"),
            Commit(f"{d}T09:29:00Z", "signal-generator", "signal-generator: feature store timeout 3 s -> 10 s", "alice",
                   ["config/production.yaml"], tag="deploy-signal-generator-2.9.1", tag_at=f"{d}T09:31:00Z"),
            Commit(f"{d}T09:45:00Z", "docs", "docs: feature store on-call notes", "dana", ["feature-store.md"]),
            Commit(f"{d}T10:01:00Z", "signal-generator", "", "alice", [],
                   revert="signal-generator: features from the feature store per bar",
                   tag="deploy-signal-generator-2.9.2", tag_at=f"{d}T10:04:00Z"),
        ],
        logs=[
            Log(f"{d}T08:41:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.15.0"),
            Log(f"{d}T09:10:40.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.9.0"),
            Log(f"{d}T09:10:41.200Z", "signal-generator", "INFO",
                "feature store client: http://features:8090, timeout 3 s, one request per bar"),
            Log(f"{d}T09:31:40.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.9.1"),
            Log(f"{d}T09:36:20.518Z", "signal-generator", "ERROR",
                "feature store request timed out after 10 s (GBPUSD bar 09:36); signal skipped"),
            *burst("signal-generator", "ERROR", f"{d}T09:37:10Z", f"{d}T10:04:30Z", 50,
                   "feature store request timed out after 10 s; signal skipped", seed="od1"),
            Log(f"{d}T10:04:40.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.9.2"),
        ],
        metrics=metrics(15, signal_regimes=[(f"{d}T09:24:00Z", f"{d}T10:05:30Z", 7.5, 0.3)]),
        trading=Trading(signal_every_s=60, signal_latency=[(f"{d}T09:24:00Z", f"{d}T10:05:30Z", 9.0)]),
        incident={
            "title": "Signals late: p95 above 10 s", "services": ["signal-generator"],
            "triggered_at": f"{d}T09:33:00Z", "acknowledged_at": f"{d}T09:36:00Z", "resolved_at": f"{d}T10:15:00Z",
            "updates": [
                {"time": f"{d}T09:42:00Z", "status": "Investigating", "text": "2.9.1 did not help; timeouts now"},
                {"time": f"{d}T10:00:00Z", "status": "Identified", "text": "rolling back to the code before 2.9.0"},
            ],
        },
        pg_tz="UTC",
        truth=Truth(
            culprit="deploy-signal-generator-2.9.0", severity="P1",
            first_symptom=f"{d}T09:24:00Z", first_service="signal-generator", first_kind="metric",
            why="signal latency leaves its band at 09:24 as the morning volume loads 2.9.0's per-bar feature lookups, "
                "7 min before the 2.9.1 hotfix, whose longer timeout only turns the slowness into the ERROR lines "
                "from 09:36; it recovers when 2.9.0's commit is reverted; the indicator-engine deploy is 43 min "
                "older and its bars are on time; signal latency over 5 s is P1."),
    )


# ---------------------------------------------------------------------------- chronic error + new error
def chronic_error_exec() -> Scenario:
    d = "2026-02-10"  # Tuesday
    chronic = "drop-copy session DC-2 logon rejected by broker: 58=Unknown CompID EAFIX-DC2 (retrying in 300 s)"
    return Scenario(
        name="chronic-error-exec",
        family="bad deploy of the failing service, next to a chronic ERROR signature of the same service",
        summary="execution-engine logs a drop-copy logon ERROR every 5 min all day; its 2.24.0 deploy adds the "
                "account tag and the broker rejects account 21's orders",
        start=f"{d}T10:30:00Z", end=f"{d}T12:30:00Z",
        chronic_logs=["drop-copy session DC-2 logon rejected"],
        commits=[
            Commit("2026-02-09T17:10:00Z", "data-ingestor", "data-ingestor: venue sequence reset handling", "bob",
                   ["src/session.py"], tag="deploy-data-ingestor-2.3.1", tag_at="2026-02-09T17:25:00Z"),
            Commit(f"{d}T10:52:00Z", "execution-engine", "execution-engine: send the account (tag 1) on every "
                   "NewOrderSingle", "alice", ["src/fix/order.py", "config/accounts.yaml"],
                   tag="deploy-execution-engine-2.24.0", tag_at=f"{d}T11:20:00Z"),
            Commit(f"{d}T11:15:00Z", "risk-manager", "risk-manager: exposure report by account group", "dana",
                   ["src/reports.py"], tag="deploy-risk-manager-4.8.2", tag_at=f"{d}T11:23:00Z"),
            Commit(f"{d}T11:40:00Z", "gui-gateway", "gui-gateway: account column in the blotter", "bob",
                   ["src/ui/blotter.tsx"]),
            Commit(f"{d}T11:58:00Z", "execution-engine", "", "alice", [],
                   revert="execution-engine: send the account (tag 1) on every NewOrderSingle",
                   tag="deploy-execution-engine-2.24.1", tag_at=f"{d}T12:01:00Z"),
        ],
        logs=[
            *burst("execution-engine", "ERROR", f"{d}T10:20:00Z", f"{d}T12:30:00Z", 300, chronic, seed="ce0"),
            Log(f"{d}T11:20:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.24.0"),
            Log(f"{d}T11:23:30.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.8.2"),
            Log(f"{d}T11:27:41.622Z", "execution-engine", "ERROR",
                "order O-61733 rejected by broker: 35=j 58=Unknown account 'ACC-21' (tag 1)"),
            *burst("execution-engine", "ERROR", f"{d}T11:28:20Z", f"{d}T12:01:30Z", 35,
                   "order O-{order} rejected by broker: 35=j 58=Unknown account 'ACC-21' (tag 1)", seed="ce1"),
            Log(f"{d}T12:01:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.24.1"),
        ],
        metrics=metrics(10, http=[Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001,
                                                                          [(f"{d}T11:27:41Z", f"{d}T12:01:40Z", 0.3)])]),
        trading=Trading(order_failures=[(f"{d}T11:27:41Z", f"{d}T12:01:40Z", 0.3, "rejected",
                                         "broker reject 35=j: Unknown account (tag 1)")]),
        incident={
            "title": "Broker rejecting account 21's orders", "services": ["execution-engine"],
            "triggered_at": f"{d}T11:33:00Z", "acknowledged_at": f"{d}T11:36:00Z", "resolved_at": f"{d}T12:10:00Z",
        },
        pg_tz="-05",
        truth=Truth(
            culprit="deploy-execution-engine-2.24.0", severity="P1",
            first_symptom=f"{d}T11:27:41.622Z", first_service="execution-engine", first_kind="log",
            why="the drop-copy logon ERROR repeats every 5 min from before the window to its end, unchanged by "
                "anything (chronic noise); the new error, broker rejects naming the account tag, starts 7 min after "
                "the 2.24.0 deploy that added that tag and stops with its revert; the risk-manager deploy is a report; "
                "30% of orders rejected in market hours is P1."),
    )


# ---------------------------------------------------------------------------- gradual onset
def memory_leak_gradual() -> Scenario:
    d = "2026-03-12"  # Thursday
    return Scenario(
        name="memory-leak-gradual",
        family="gradual onset after a deploy (memory leak): first symptom when the metric leaves its band",
        summary="indicator-engine 3.12.0 keeps every tick of the session; its working set climbs 18 MB/min from its "
                "start and GC pauses slow the signals from ~11:05 until it is rolled back at 11:30",
        start=f"{d}T10:00:00Z", end=f"{d}T12:00:00Z",
        commits=[
            Commit("2026-03-11T16:00:00Z", "gui-gateway", "gui-gateway: session timeout 8 h", "bob",
                   ["config/session.yaml"], tag="deploy-gui-gateway-1.14.1", tag_at="2026-03-11T16:10:00Z"),
            Commit(f"{d}T10:25:00Z", "indicator-engine", "indicator-engine: keep the session's ticks for bar replay",
                   "emre", ["src/replay.py", "src/bars.py"], tag="deploy-indicator-engine-3.12.0",
                   tag_at=f"{d}T10:42:00Z"),
            Commit(f"{d}T10:48:00Z", "gui-gateway", "gui-gateway: compact blotter rows", "bob", ["src/ui/blotter.tsx"],
                   tag="deploy-gui-gateway-1.14.2", tag_at=f"{d}T10:55:00Z"),
            Commit(f"{d}T11:00:00Z", "signal-generator", "docs: bar timing budget", "chen", ["docs/timing.md"]),
            Commit(f"{d}T11:26:00Z", "indicator-engine", "", "emre", [],
                   revert="indicator-engine: keep the session's ticks for bar replay",
                   tag="deploy-indicator-engine-3.12.1", tag_at=f"{d}T11:30:00Z"),
        ],
        logs=[
            Log(f"{d}T10:42:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.12.0"),
            Log(f"{d}T10:42:41.100Z", "indicator-engine", "INFO", "bar replay buffer enabled (session scope)"),
            Log(f"{d}T10:55:30.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.14.2"),
            *burst("indicator-engine", "WARNING", f"{d}T11:06:10Z", f"{d}T11:30:20Z", 90,
                   "GC pause of 1.{n} s while aggregating bars", seed="ml1"),
            *burst("signal-generator", "WARNING", f"{d}T11:12:30Z", f"{d}T11:31:00Z", 150,
                   "bars from indicator-engine late by 1.{n} s", seed="ml2"),
            Log(f"{d}T11:30:30.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.12.1"),
        ],
        metrics=Metrics(
            step_s=30,
            latencies=[
                Latency("signal_latency_seconds", "signal-generator", 0.35, 0.35, 1.5, regimes=[
                    (f"{d}T11:05:00Z", f"{d}T11:15:00Z", 0.8, 0.3), (f"{d}T11:15:00Z", f"{d}T11:25:00Z", 1.4, 0.3),
                    (f"{d}T11:25:00Z", f"{d}T11:31:00Z", 1.8, 0.3)]),
                Latency("order_execution_seconds", "execution-engine", 0.12, 0.4, 1.0),
            ],
            ups=default_ups("service"),
            http=[Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001)],
            memory_ramps={"indicator-engine": [(f"{d}T10:43:00Z", f"{d}T11:30:30Z", 18.0)]},
        ),
        trading=Trading(signal_latency=[(f"{d}T11:05:00Z", f"{d}T11:31:00Z", 1.4)]),
        incident={
            "title": "Signal latency creeping up", "services": ["signal-generator"],
            "triggered_at": f"{d}T11:18:00Z", "acknowledged_at": f"{d}T11:21:00Z", "resolved_at": f"{d}T11:40:00Z",
        },
        pg_tz="+01",
        truth=Truth(
            culprit="deploy-indicator-engine-3.12.0", severity="P2",
            first_symptom=f"{d}T10:43:30Z", first_service="indicator-engine", first_kind="metric", onset="gradual",
            why="indicator-engine's working set leaves its flat band as soon as 3.12.0 starts and climbs 18 MB/min "
                "without levelling off until the revert; the GC warnings and the slower signals 20-45 min later "
                "are its consequences, and the gui-gateway deploy comes after the climb began; signal latency "
                "creeping up to a few seconds (< 5 s), nothing down, is a performance degradation (P2)."),
    )


# ---------------------------------------------------------------------------- batch job, config commit
def cron_pool_exhaustion() -> Scenario:
    d = "2026-05-28"  # Thursday
    slots = "remaining connection slots are reserved for non-replication superuser connections"
    return Scenario(
        name="cron-pool-exhaustion",
        family="connection exhaustion by another service's batch job, moved by a config commit (no deploy tag)",
        summary="a gui-gateway config commit moves the client-statements job to 12:00 UTC with 48 workers; it takes "
                "every database connection and execution-engine's orders fail for 24 min",
        start=f"{d}T11:00:00Z", end=f"{d}T13:00:00Z",
        commits=[
            Commit("2026-05-27T14:30:00Z", "risk-manager", "risk-manager: intraday VaR every 15 min", "dana",
                   ["src/var.py"], tag="deploy-risk-manager-4.8.0", tag_at="2026-05-27T14:45:00Z"),
            Commit(f"{d}T11:20:00Z", "gui-gateway", "gui-gateway: client statements at 12:00 UTC with 48 workers",
                   "emre", ["config/jobs.yaml"]),
            Commit(f"{d}T11:41:00Z", "execution-engine", "execution-engine: order amend via FIX 35=G", "alice",
                   ["src/fix/amend.py", "tests/test_amend.py"], tag="deploy-execution-engine-2.26.0",
                   tag_at=f"{d}T11:48:00Z"),
            Commit(f"{d}T12:10:00Z", "risk-manager", "risk-manager: tests for margin tiers", "dana",
                   ["tests/test_margin.py"]),
            Commit(f"{d}T12:29:00Z", "gui-gateway", "gui-gateway: client statements back to 22:30 UTC, 4 workers",
                   "emre", ["config/jobs.yaml"]),
        ],
        logs=[
            Log(f"{d}T11:21:05.500Z", "gui-gateway", "INFO",
                "scheduler reloaded from config/jobs.yaml: client-statements daily at 12:00 UTC, workers=48"),
            Log(f"{d}T11:48:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.26.0"),
            Log(f"{d}T12:00:00.310Z", "gui-gateway", "INFO", "client-statements started: 2140 accounts, 48 workers"),
            Log(f"{d}T12:00:01.884Z", "postgres", "FATAL", slots),
            *burst("postgres", "FATAL", f"{d}T12:00:03Z", f"{d}T12:24:20Z", 4, slots, seed="cp0"),
            Log(f"{d}T12:00:02.406Z", "execution-engine", "ERROR",
                f"order O-61422 failed: could not connect to database: FATAL:  {slots}"),
            *burst("execution-engine", "ERROR", f"{d}T12:00:25Z", f"{d}T12:24:20Z", 20,
                   f"order O-{{order}} failed: could not connect to database: FATAL:  {slots}", seed="cp1"),
            *burst("risk-manager", "ERROR", f"{d}T12:00:40Z", f"{d}T12:24:20Z", 60,
                   "limits refresh failed: connection pool exhausted (timeout 5 s)", seed="cp2"),
            Log(f"{d}T12:24:20.000Z", "gui-gateway", "INFO", "client-statements cancelled by operator (912 of 2140 done)"),
            Log(f"{d}T12:31:10.000Z", "gui-gateway", "INFO",
                "scheduler reloaded from config/jobs.yaml: client-statements daily at 22:30 UTC, workers=4"),
        ],
        metrics=metrics(15, http=[Http("gui-gateway", 25.0, 0.002),
                                  Http("execution-engine", 8.0, 0.001, [(f"{d}T12:00:02Z", f"{d}T12:24:20Z", 0.35)])]),
        trading=Trading(order_failures=[(f"{d}T12:00:02Z", f"{d}T12:24:20Z", 0.35, "failed",
                                         "database unavailable: no connection slots")]),
        incident={
            "title": "Orders failing: database refusing connections", "services": ["execution-engine"],
            "triggered_at": f"{d}T12:04:00Z", "acknowledged_at": f"{d}T12:07:00Z", "resolved_at": f"{d}T12:35:00Z",
            "updates": [{"time": f"{d}T12:20:00Z", "status": "Identified",
                         "text": "client-statements job holds the connections; cancelling it"}],
        },
        pg_tz="+0530",
        truth=Truth(
            culprit="gui-gateway: client statements at 12:00 UTC with 48 workers", severity="P1",
            first_symptom=f"{d}T12:00:01.884Z", first_service="postgres", first_kind="log",
            why="PostgreSQL runs out of connection slots 1.6 s after the client-statements job starts its 48 workers "
                "at the time the gui-gateway config commit (hot-reloaded, no deploy tag) gave it, and the order "
                "failures stop when the job is cancelled; execution-engine's own 2.26.0 deploy 12 min earlier ran "
                "clean until then and was never rolled back; 35% of orders failing in market hours is P1."),
    )


# ---------------------------------------------------------------------------- cascade
def cascade_indicator() -> Scenario:
    d = "2026-06-10"  # Wednesday
    return Scenario(
        name="cascade-indicator",
        family="cascade: the upstream service fails first, downstream 3 min later; a downstream deploy in between",
        summary="indicator-engine 3.16.0 publishes bars the consumers' contract refuses; signal-generator halts its "
                "strategies 3 min later and logs it loudly; signal-generator was itself deployed 4 min earlier",
        start=f"{d}T09:30:00Z", end=f"{d}T11:30:00Z",
        commits=[
            Commit("2026-06-09T16:00:00Z", "execution-engine", "execution-engine: broker heartbeat 15 s", "alice",
                   ["config/broker.yaml"], tag="deploy-execution-engine-2.25.1", tag_at="2026-06-09T16:15:00Z"),
            Commit(f"{d}T09:58:00Z", "indicator-engine", "indicator-engine: bars carry their close time (contract v4)",
                   "emre", ["src/bars.py", "contracts/bar.v4.json"], tag="deploy-indicator-engine-3.16.0",
                   tag_at=f"{d}T10:14:00Z"),
            Commit(f"{d}T10:09:00Z", "signal-generator", "signal-generator: momentum filter for GBPUSD", "chen",
                   ["src/filters/momentum.py"], tag="deploy-signal-generator-2.10.0", tag_at=f"{d}T10:18:00Z"),
            Commit(f"{d}T10:30:00Z", "data-ingestor", "docs: venue holiday calendar", "bob", ["docs/holidays.md"]),
            Commit(f"{d}T10:49:00Z", "indicator-engine", "", "emre", [],
                   revert="indicator-engine: bars carry their close time (contract v4)",
                   tag="deploy-indicator-engine-3.16.1", tag_at=f"{d}T10:52:00Z"),
        ],
        logs=[
            Log(f"{d}T10:14:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.16.0"),
            Log(f"{d}T10:14:41.000Z", "indicator-engine", "INFO", "warming up 6 min of bars before publishing"),
            Log(f"{d}T10:18:35.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.10.0"),
            Log(f"{d}T10:21:07.338Z", "indicator-engine", "ERROR",
                "publish to bars failed: contract check: unknown field 'ts_close' (consumers on v3); EURUSD bar dropped"),
            *burst("indicator-engine", "ERROR", f"{d}T10:22:05Z", f"{d}T10:52:30Z", 60,
                   "publish to bars failed: contract check: unknown field 'ts_close'; bar dropped", seed="ci1"),
            Log(f"{d}T10:24:02.117Z", "signal-generator", "ERROR", "no bars for 180 s from indicator-engine: strategies halted"),
            *burst("signal-generator", "ERROR", f"{d}T10:24:10Z", f"{d}T10:53:00Z", 6,
                   "no bars from indicator-engine: strategies halted ({n})", seed="ci2"),
            *burst("risk-manager", "WARNING", f"{d}T10:26:00Z", f"{d}T10:53:30Z", 60, "no signals received for {n}0 s",
                   seed="ci3"),
            *burst("gui-gateway", "WARNING", f"{d}T10:27:00Z", f"{d}T10:53:30Z", 120, "signals panel stale ({n} min)",
                   seed="ci4"),
            Log(f"{d}T10:52:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.16.1"),
            Log(f"{d}T10:53:05.000Z", "signal-generator", "INFO", "bars resumed: strategies running"),
        ],
        metrics=Metrics(
            step_s=15,
            latencies=[Latency("signal_latency_seconds", "signal-generator", 0.35, 0.35, 1.5,
                               pauses=[(f"{d}T10:21:30Z", f"{d}T10:53:30Z")]),
                       Latency("order_execution_seconds", "execution-engine", 0.12, 0.4, 1.0,
                               pauses=[(f"{d}T10:22:00Z", f"{d}T10:54:00Z")])],
            ups=default_ups("service"), http=[Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001)],
        ),
        trading=Trading(signal_gaps=[(f"{d}T10:21:07Z", f"{d}T10:53:05Z")],
                        order_gaps=[(f"{d}T10:21:40Z", f"{d}T10:53:40Z")]),
        incident={
            "title": "No signals: strategies halted", "services": ["signal-generator"],
            "triggered_at": f"{d}T10:27:00Z", "acknowledged_at": f"{d}T10:30:00Z", "resolved_at": f"{d}T11:00:00Z",
            "updates": [{"time": f"{d}T10:38:00Z", "status": "Investigating",
                         "text": "signal-generator halted: no bars from indicator-engine"}],
        },
        pg_tz="-03",
        truth=Truth(
            culprit="deploy-indicator-engine-3.16.0", severity="P1",
            first_symptom=f"{d}T10:21:07.338Z", first_service="indicator-engine", first_kind="log",
            why="indicator-engine's first bar after its 3.16.0 warm-up is refused by the consumers' contract and from "
                "then on no bar reaches signal-generator, which halts 3 min later and logs ten times louder; its own "
                "2.10.0 deploy only adds a GBPUSD filter and it recovers without a rollback when indicator-engine is "
                "reverted; no signals for 32 min in market hours is a partial outage affecting trading (P1)."),
    )


# ---------------------------------------------------------------------------- external dependency
def venue_cert_expiry() -> Scenario:
    d = "2026-09-30"  # Wednesday
    tls = ("FIX session LMAX-PROD: TLS handshake with fix.lmax-prod.example:4443 failed: certificate verify failed: "
           "certificate has expired (notAfter 2026-09-30T12:00:00Z)")
    return Scenario(
        name="venue-cert-expiry",
        family="no change to blame (the broker's TLS certificate expired); an innocent deploy rolled back in vain",
        summary="at the broker's 12:00 daily session reset its FIX gateway presents an expired certificate; no "
                "session for 38 min; four deploys in the lookback, one of them the failing service's, rolled back "
                "without effect",
        start=f"{d}T11:00:00Z", end=f"{d}T13:00:00Z",
        commits=[
            Commit("2026-09-29T17:00:00Z", "risk-manager", "risk-manager: per-account daily loss limit", "dana",
                   ["src/limits.py"], tag="deploy-risk-manager-4.9.4", tag_at="2026-09-29T17:15:00Z"),
            Commit(f"{d}T10:40:00Z", "data-ingestor", "data-ingestor: EURGBP depth subscription", "bob",
                   ["config/subscriptions.yaml"], tag="deploy-data-ingestor-2.9.0", tag_at=f"{d}T11:10:00Z"),
            Commit(f"{d}T11:25:00Z", "gui-gateway", "gui-gateway: keyboard shortcuts in the order ticket", "bob",
                   ["src/ui/ticket.tsx"], tag="deploy-gui-gateway-1.15.0", tag_at=f"{d}T11:35:00Z"),
            Commit(f"{d}T11:30:00Z", "execution-engine", "execution-engine: venue reject codes in the blotter feed",
                   "alice", ["src/blotter.py"], tag="deploy-execution-engine-2.27.0", tag_at=f"{d}T11:41:00Z"),
            Commit(f"{d}T11:52:00Z", "risk-manager", "risk-manager: limits for account 33", "dana",
                   ["config/accounts.yaml"]),
            Commit(f"{d}T12:14:00Z", "execution-engine", "", "alice", [],
                   revert="execution-engine: venue reject codes in the blotter feed",
                   tag="deploy-execution-engine-2.27.1", tag_at=f"{d}T12:20:00Z"),
        ],
        logs=[
            Log(f"{d}T11:10:40.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.9.0"),
            Log(f"{d}T11:35:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.15.0"),
            Log(f"{d}T11:41:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.27.0"),
            Log(f"{d}T11:41:42.100Z", "execution-engine", "INFO",
                "FIX session LMAX-PROD logged on (TLS; peer CN=fix.lmax-prod.example, notAfter 2026-09-30T12:00:00Z)"),
            Log(f"{d}T12:00:00.420Z", "execution-engine", "INFO", "FIX session LMAX-PROD: logout by venue (daily reset)"),
            Log(f"{d}T12:00:03.117Z", "execution-engine", "ERROR", tls),
            *burst("execution-engine", "ERROR", f"{d}T12:00:08Z", f"{d}T12:38:00Z", 5, tls, seed="vc1"),
            Log(f"{d}T12:01:05.000Z", "execution-engine", "CRITICAL", "no broker session for 60 s: rejecting new orders"),
            *burst("gui-gateway", "ERROR", f"{d}T12:01:20Z", f"{d}T12:38:00Z", 60,
                   "POST /api/orders 502: execution-engine has no broker session", seed="vc2"),
            Log(f"{d}T12:20:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.27.1"),
            Log(f"{d}T12:38:12.000Z", "execution-engine", "INFO",
                "FIX session LMAX-PROD logged on (TLS; peer CN=fix.lmax-prod.example, notAfter 2027-09-30T12:00:00Z)"),
        ],
        metrics=metrics(15, http=[Http("gui-gateway", 25.0, 0.002, [(f"{d}T12:01:20Z", f"{d}T12:38:12Z", 0.2)]),
                                  Http("execution-engine", 8.0, 0.001, [(f"{d}T12:00:03Z", f"{d}T12:38:12Z", 0.9)])]),
        trading=Trading(order_failures=[(f"{d}T12:00:03Z", f"{d}T12:38:12Z", 1.0, "failed",
                                         "no broker session (venue TLS certificate expired)")]),
        incident={
            "title": "Orders failing: no broker session", "services": ["execution-engine"],
            "triggered_at": f"{d}T12:02:00Z", "acknowledged_at": f"{d}T12:04:00Z", "resolved_at": f"{d}T12:45:00Z",
            "updates": [
                {"time": f"{d}T12:12:00Z", "status": "Investigating", "text": "rolling back execution-engine 2.27.0"},
                {"time": f"{d}T12:26:00Z", "status": "Investigating", "text": "rollback did not help; broker ticket open"},
            ],
        },
        pg_tz="+07",
        truth=Truth(
            culprit=None, severity="P1",
            first_symptom=f"{d}T12:00:03.117Z", first_service="execution-engine", first_kind="log",
            why="the broker's gateway certificate expired at 12:00 and our session failed to come back at its daily "
                "reset that minute, until the broker installed a new one at 12:38; execution-engine 2.27.0 had logged "
                "on fine at 11:41 and rolling it back changed nothing, the other deploys are other services; every "
                "order failing for 38 min with signals flowing is a partial outage affecting trading (P1)."),
    )


# ---------------------------------------------------------------------------- one symbol, config typo
def one_symbol_config_monorepo() -> Scenario:
    d = "2026-08-05"  # Wednesday
    stop, back = f"{d}T13:04:10.200Z", f"{d}T13:41:05.300Z"
    return Scenario(
        name="one-symbol-config-mono",
        family="one symbol's feed stops after a config commit (no deploy tag, no ERROR line); monorepo",
        summary="a data-ingestor subscriptions edit misspells GBPUSD; after the hot reload GBPUSD prices stop for "
                "37 min while EURUSD and USDJPY tick on",
        start=f"{d}T12:30:00Z", end=f"{d}T14:30:00Z", layout="monorepo",
        commits=[
            Commit(f"{d}T11:20:00Z", "data-ingestor", "data-ingestor: jitter on venue reconnects", "bob",
                   ["src/session.py"], tag="deploy-data-ingestor-2.9.3", tag_at=f"{d}T11:30:00Z"),
            Commit(f"{d}T12:40:00Z", "indicator-engine", "indicator-engine: Ichimoku cloud", "emre",
                   ["src/ichimoku.py"], tag="deploy-indicator-engine-3.17.0", tag_at=f"{d}T12:55:00Z"),
            Commit(f"{d}T13:01:00Z", "data-ingestor", "data-ingestor: subscribe EURGBP, one symbol per line", "bob",
                   ["config/subscriptions.yaml"]),
            Commit(f"{d}T13:20:00Z", "docs", "docs: EURGBP in the instrument list", "dana", ["instruments.md"]),
            Commit(f"{d}T13:40:00Z", "data-ingestor", "data-ingestor: fix the GBPUSD typo in subscriptions", "bob",
                   ["config/subscriptions.yaml"]),
        ],
        logs=[
            Log(f"{d}T12:55:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.17.0"),
            Log(f"{d}T13:04:09.870Z", "data-ingestor", "INFO", "config reloaded: config/subscriptions.yaml (4 symbols)"),
            Log(f"{d}T13:04:10.214Z", "data-ingestor", "WARNING",
                "subscription list: unknown symbol 'GPBUSD' ignored; subscribed EURUSD, USDJPY, EURGBP"),
            *burst("signal-generator", "WARNING", f"{d}T13:05:15Z", f"{d}T13:41:30Z", 120,
                   "GBPUSD: no fresh tick for {n}0 s; GBPUSD strategies paused", seed="os1"),
            *burst("risk-manager", "WARNING", f"{d}T13:06:00Z", f"{d}T13:41:30Z", 300,
                   "stale fx rate for GBPUSD used for pre-trade check", seed="os2"),
            Log(f"{d}T13:41:05.000Z", "data-ingestor", "INFO", "config reloaded: config/subscriptions.yaml (4 symbols)"),
            Log(back, "data-ingestor", "INFO", "subscribed GBPUSD"),
        ],
        metrics=Metrics(
            step_s=15,
            latencies=metrics(15).latencies, ups=default_ups("job"),
            http=[Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001)],
            feed=Feed(stale_symbols={"GBPUSD": [(stop, back)]}),
        ),
        incident={
            "title": "GBPUSD prices stale", "services": ["data-ingestor"],
            "triggered_at": f"{d}T13:09:00Z", "acknowledged_at": f"{d}T13:14:00Z", "resolved_at": f"{d}T13:45:00Z",
        },
        pg_tz="-03",
        truth=Truth(
            culprit="data-ingestor: subscribe EURGBP, one symbol per line", severity="P1",
            first_symptom=stop, first_service="data-ingestor", first_kind="metric",
            why="GBPUSD's last fresh price arrives the moment data-ingestor reloads the subscriptions commit that "
                "misspelt it (the reload warns it ignored 'GPBUSD'), and it resumes with the typo fix; data-ingestor's "
                "own deploy ran 1.5 h clean and the indicator-engine deploy is downstream; no prices for a traded "
                "symbol in market hours is a market data feed interruption (P1)."),
    )


# ---------------------------------------------------------------------------- P3 in mixed log formats
def cosmetic_p3_mixed_logs() -> Scenario:
    d = "2026-01-28"  # Wednesday
    return Scenario(
        name="cosmetic-p3-mixed-logs",
        family="minor cosmetic issue (P3) in logs without Docker timestamps (mixed formats), a service warning all day",
        summary="gui-gateway 1.16.0 shows the raw i18n key instead of the P&L currency symbol; the logs were saved "
                "without --timestamps, gui-gateway logs in local time (+01:00), data-ingestor in epoch millis, and "
                "signal-generator warns about wide spreads all day",
        start=f"{d}T14:30:00Z", end=f"{d}T16:30:00Z",
        docker_timestamps=False,
        log_styles={"gui-gateway": "iso+01:00", "data-ingestor": "epoch-ms"},
        commits=[
            Commit(f"{d}T14:20:00Z", "risk-manager", "risk-manager: tests for the VaR report", "dana",
                   ["tests/test_var.py"]),
            Commit(f"{d}T14:48:00Z", "gui-gateway", "gui-gateway: currency symbols from the i18n catalogue", "bob",
                   ["src/ui/pnl.tsx", "src/i18n/en.json"], tag="deploy-gui-gateway-1.16.0", tag_at=f"{d}T15:05:00Z"),
            Commit(f"{d}T15:00:00Z", "execution-engine", "execution-engine: FIX message log rotation", "alice",
                   ["config/logging.yaml"], tag="deploy-execution-engine-2.21.4", tag_at=f"{d}T15:09:00Z"),
        ],
        logs=[
            *burst("signal-generator", "WARNING", f"{d}T14:20:00Z", f"{d}T16:30:00Z", 20,
                   "spread filter: USDJPY bar skipped (spread 2.{n} pips > 1.8)", seed="cm0"),
            Log(f"{d}T15:05:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.16.0"),
            Log(f"{d}T15:09:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.21.4"),
            Log(f"{d}T15:12:31.004Z", "gui-gateway", "WARNING",
                "i18n: missing key 'pnl.currency_symbol' for locale en-GB; rendering the raw key"),
            *burst("gui-gateway", "WARNING", f"{d}T15:16:00Z", f"{d}T16:30:00Z", 200,
                   "i18n: missing key 'pnl.currency_symbol' for locale en-GB; rendering the raw key", seed="cm1"),
        ],
        metrics=metrics(20),
        incident={
            "title": "Blotter P&L column shows 'pnl.currency_symbol' instead of the currency",
            "triggered_at": f"{d}T15:40:00Z", "acknowledged_at": f"{d}T16:05:00Z",
        },
        pg_tz="+01",
        truth=Truth(
            culprit="deploy-gui-gateway-1.16.0", severity="P3",
            first_symptom=f"{d}T15:12:31.004Z", first_service="gui-gateway", first_kind="log",
            why="the first blotter render after gui-gateway 1.16.0 (15:12 UTC, 16:12 in the gateway's own clock) "
                "misses the i18n key that release introduced, and only that label is wrong; orders, signals and "
                "prices are untouched, the spread warnings are the same all day and the execution-engine deploy is "
                "log rotation; a wrong label is a cosmetic problem (P3)."),
    )


# ---------------------------------------------------------------------------- hung risk-manager (P0)
def risk_hang_p0() -> Scenario:
    d = "2026-06-17"  # Wednesday
    hung = (f"{d}T14:02:13Z", f"{d}T14:30:40Z")
    timeout = "order O-{order} rejected: pre-trade approval from risk-manager timed out after 2 s"
    return Scenario(
        name="risk-hang-p0",
        family="risk-manager failure (P0) without a crash: it hangs silently; a downstream deploy in between",
        summary="risk-manager 4.10.0's pre-trade worker pool deadlocks 14 min after its start; the process stays up "
                "and logs nothing, every order times out waiting for approval for 28 min; execution-engine, which "
                "logs the errors, was deployed 4 min before",
        start=f"{d}T13:30:00Z", end=f"{d}T15:30:00Z",
        commits=[
            Commit("2026-06-16T16:00:00Z", "gui-gateway", "gui-gateway: blotter CSV includes venue", "bob",
                   ["src/routes/export.py"], tag="deploy-gui-gateway-1.13.4", tag_at="2026-06-16T16:10:00Z"),
            Commit(f"{d}T13:35:00Z", "risk-manager", "risk-manager: pre-trade checks on a worker pool (4 threads)",
                   "dana", ["src/pretrade/pool.py", "src/pretrade/checks.py"], tag="deploy-risk-manager-4.10.0",
                   tag_at=f"{d}T13:48:00Z"),
            Commit(f"{d}T13:52:00Z", "execution-engine", "execution-engine: order ids carry the venue prefix", "alice",
                   ["src/orders/ids.py"], tag="deploy-execution-engine-2.28.0", tag_at=f"{d}T13:58:00Z"),
            Commit(f"{d}T14:10:00Z", "signal-generator", "signal-generator: tests for the momentum filter", "chen",
                   ["tests/test_momentum.py"]),
            Commit(f"{d}T14:24:00Z", "risk-manager", "", "dana", [],
                   revert="risk-manager: pre-trade checks on a worker pool (4 threads)",
                   tag="deploy-risk-manager-4.10.1", tag_at=f"{d}T14:30:00Z"),
        ],
        logs=[
            Log(f"{d}T13:48:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.10.0"),
            Log(f"{d}T13:48:41.200Z", "risk-manager", "INFO", "pre-trade worker pool: 4 threads"),
            Log(f"{d}T13:58:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.28.0"),
            Log(f"{d}T14:02:18.431Z", "execution-engine", "ERROR",
                "order O-61502 rejected: pre-trade approval from risk-manager timed out after 2 s"),
            *burst("execution-engine", "ERROR", f"{d}T14:02:30Z", f"{d}T14:31:00Z", 12, timeout, seed="rh1"),
            *burst("gui-gateway", "ERROR", f"{d}T14:03:30Z", f"{d}T14:31:00Z", 60,
                   "POST /api/orders 504: approval timeout", seed="rh2"),
            Log(f"{d}T14:30:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.10.1"),
            Log(f"{d}T14:31:20.000Z", "execution-engine", "INFO", "pre-trade approvals flowing again"),
        ],
        silent={"risk-manager": [hung]},
        metrics=metrics(15, http=[Http("gui-gateway", 25.0, 0.002, [(f"{d}T14:03:30Z", f"{d}T14:31:00Z", 0.15)]),
                                  Http("execution-engine", 8.0, 0.001, [(f"{d}T14:02:18Z", f"{d}T14:31:20Z", 0.95)])]),
        trading=Trading(order_failures=[(f"{d}T14:02:18Z", f"{d}T14:31:20Z", 1.0, "rejected",
                                         "pre-trade approval timed out (risk-manager)")]),
        incident={
            "title": "Every order rejected: approval timeouts", "services": ["execution-engine"],
            "triggered_at": f"{d}T14:05:00Z", "acknowledged_at": f"{d}T14:06:00Z", "resolved_at": f"{d}T14:40:00Z",
            "updates": [{"time": f"{d}T14:18:00Z", "status": "Identified",
                         "text": "risk-manager not answering (no log lines since 14:02); restarting on 4.10.1"}],
        },
        pg_tz="+0530",
        truth=Truth(
            culprit="deploy-risk-manager-4.10.0", severity="P0",
            first_symptom=f"{d}T14:02:18.431Z", first_service="execution-engine", first_kind="log",
            why="risk-manager's log goes silent at 14:02 while its process stays up and from then on every order "
                "times out waiting for its approval, until it is restarted on 4.10.1 (the revert of the worker pool "
                "4.10.0 introduced); execution-engine, whose 2.28.0 only changes order ids, just reports the "
                "timeouts; no order can pass the pre-trade check in market hours: a risk management system failure "
                "(P0)."),
    )


# ---------------------------------------------------------------------------- second round (holdouts)
def deprecation_warning_trap() -> Scenario:
    d = "2026-10-28"  # Wednesday
    reject = "order O-{order} rejected by broker: 35=j 58=Invalid price precision for USDJPY (5 decimals, max 3)"
    return Scenario(
        name="deprecation-warning-trap",
        family="bad deploy of the failing service; an earlier deploy of another service starts a new, repeated "
               "but harmless WARNING",
        summary="risk-manager 4.11.0 starts warning about a deprecated config key at every limits refresh; 30 min "
                "later execution-engine 2.29.0 sends USDJPY prices with 5 decimals and the broker rejects them",
        start=f"{d}T09:30:00Z", end=f"{d}T11:30:00Z",
        commits=[
            Commit("2026-10-27T16:40:00Z", "signal-generator", "signal-generator: model card for rsi-v3", "chen",
                   ["docs/rsi-v3.md"], tag="deploy-signal-generator-2.11.2", tag_at="2026-10-27T16:50:00Z"),
            Commit(f"{d}T09:48:00Z", "risk-manager", "risk-manager: rename limits.soft_pct to limits.soft_ratio "
                   "(the old key is still read)", "dana", ["src/limits.py", "docs/config.md"],
                   tag="deploy-risk-manager-4.11.0", tag_at=f"{d}T10:02:00Z"),
            Commit(f"{d}T10:12:00Z", "execution-engine", "execution-engine: price precision from the instrument table",
                   "alice", ["src/orders/price.py", "config/instruments.yaml"], tag="deploy-execution-engine-2.29.0",
                   tag_at=f"{d}T10:24:00Z"),
            Commit(f"{d}T10:40:00Z", "gui-gateway", "gui-gateway: price column uses the instrument's precision", "bob",
                   ["src/ui/prices.tsx"]),
            Commit(f"{d}T11:00:00Z", "execution-engine", "", "alice", [],
                   revert="execution-engine: price precision from the instrument table",
                   tag="deploy-execution-engine-2.29.1", tag_at=f"{d}T11:03:00Z"),
        ],
        logs=[
            Log(f"{d}T10:02:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.11.0"),
            *burst("risk-manager", "WARNING", f"{d}T10:02:41.500Z", f"{d}T11:30:00Z", 90,
                   "config key 'limits.soft_pct' is deprecated; use 'limits.soft_ratio' (read for now)", seed="dw0"),
            Log(f"{d}T10:24:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.29.0"),
            Log(f"{d}T10:31:12.806Z", "execution-engine", "ERROR",
                "order O-61904 rejected by broker: 35=j 58=Invalid price precision for USDJPY (5 decimals, max 3)"),
            *burst("execution-engine", "ERROR", f"{d}T10:32:40Z", f"{d}T11:03:30Z", 100, reject, seed="dw1"),
            Log(f"{d}T11:03:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.29.1"),
        ],
        metrics=metrics(15, http=[Http("gui-gateway", 25.0, 0.002),
                                  Http("execution-engine", 8.0, 0.001, [(f"{d}T10:31:12Z", f"{d}T11:03:40Z", 0.12)])]),
        trading=Trading(order_failures=[(f"{d}T10:31:12Z", f"{d}T11:03:40Z", 0.33, "rejected",
                                         "broker reject 35=j: Invalid price precision (USDJPY)")]),
        incident={
            "title": "USDJPY orders rejected by the broker", "services": ["execution-engine"],
            "triggered_at": f"{d}T10:36:00Z", "acknowledged_at": f"{d}T10:39:00Z", "resolved_at": f"{d}T11:10:00Z",
        },
        pg_tz="UTC",
        truth=Truth(
            culprit="deploy-execution-engine-2.29.0", severity="P1",
            first_symptom=f"{d}T10:31:12.806Z", first_service="execution-engine", first_kind="log",
            why="the broker rejects every USDJPY order from the first one after execution-engine 2.29.0 changed price "
                "precision, naming the precision, until its revert; risk-manager's new warning is a deprecation "
                "notice its own 4.11.0 announced (the old key is still read) and nothing it does fails; a third of "
                "orders rejected in market hours is a partial outage affecting trading (P1)."),
    )


def memory_step_venue() -> Scenario:
    d = "2026-09-22"  # Tuesday
    stop, back = f"{d}T13:47:05Z", f"{d}T14:05:52Z"
    refused = "LMAX-MD: connection refused by 198.51.100.7:5001 (ECONNREFUSED); retrying in 10 s"
    return Scenario(
        name="memory-step-venue",
        family="no change to blame (market-data venue refuses connections); a deploy an hour before raised a "
               "service's memory to a new flat level",
        summary="indicator-engine 3.18.0 keeps 2 days of bars (+100 MB, flat from its start); 37 min later the "
                "market-data venue logs everyone out and refuses connections for 19 min",
        start=f"{d}T13:00:00Z", end=f"{d}T15:00:00Z",
        commits=[
            Commit("2026-09-21T15:00:00Z", "execution-engine", "execution-engine: cancel-on-disconnect flag", "alice",
                   ["config/broker.yaml"], tag="deploy-execution-engine-2.26.4", tag_at="2026-09-21T15:10:00Z"),
            Commit(f"{d}T13:02:00Z", "indicator-engine", "indicator-engine: keep 2 days of 1-min bars in memory "
                   "(was 6 h)", "emre", ["src/history.py", "config/history.yaml"], tag="deploy-indicator-engine-3.18.0",
                   tag_at=f"{d}T13:10:00Z"),
            Commit(f"{d}T13:25:00Z", "gui-gateway", "gui-gateway: venue status badge", "bob", ["src/ui/status.tsx"],
                   tag="deploy-gui-gateway-1.17.0", tag_at=f"{d}T13:32:00Z"),
            Commit(f"{d}T13:40:00Z", "data-ingestor", "data-ingestor: README for the reconnect settings", "bob",
                   ["README.md"]),
        ],
        logs=[
            Log(f"{d}T13:10:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.18.0"),
            Log(f"{d}T13:10:52.000Z", "indicator-engine", "INFO", "bar history loaded: 2 days x 3 symbols"),
            Log(f"{d}T13:32:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.17.0"),
            Log(f"{d}T13:47:05.400Z", "data-ingestor", "WARNING",
                "LMAX-MD: logout received (58=unscheduled maintenance); reconnecting"),
            Log(f"{d}T13:47:10.212Z", "data-ingestor", "ERROR", refused),
            *burst("data-ingestor", "ERROR", f"{d}T13:47:20Z", f"{d}T14:05:40Z", 10, refused, seed="mv1"),
            *burst("signal-generator", "WARNING", f"{d}T13:48:10Z", f"{d}T14:06:00Z", 120,
                   "no ticks for {n}0 s: strategies idle", seed="mv2"),
            Log(f"{d}T14:05:52.300Z", "data-ingestor", "INFO", "LMAX-MD logged on; gap fill requested"),
        ],
        silent={"data-ingestor": [(stop, back)]},
        metrics=Metrics(
            step_s=30,
            latencies=[Latency("signal_latency_seconds", "signal-generator", 0.35, 0.35, 1.5,
                               pauses=[(f"{d}T13:47:30Z", f"{d}T14:06:30Z")]),
                       Latency("order_execution_seconds", "execution-engine", 0.12, 0.4, 1.0,
                               pauses=[(f"{d}T13:48:00Z", f"{d}T14:07:00Z")])],
            ups=default_ups("service"), http=[Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001)],
            feed=Feed(stale=[(stop, back)]),
            memory_levels={"indicator-engine": [(f"{d}T13:11:00Z", f"{d}T15:10:00Z", 100.0)]},
        ),
        trading=Trading(signal_gaps=[(f"{d}T13:47:20Z", f"{d}T14:06:20Z")],
                        order_gaps=[(f"{d}T13:47:40Z", f"{d}T14:06:40Z")]),
        incident={
            "title": "No market data: LMAX-MD refusing connections", "services": ["data-ingestor"],
            "triggered_at": f"{d}T13:50:00Z", "acknowledged_at": f"{d}T13:53:00Z", "resolved_at": f"{d}T14:15:00Z",
            "updates": [{"time": f"{d}T13:58:00Z", "status": "Investigating", "text": "venue contacted"}],
        },
        pg_tz="+07",
        truth=Truth(
            culprit=None, severity="P1",
            first_symptom=stop, first_service="data-ingestor", first_kind="metric",
            why="the venue logged data-ingestor out and refused connections at its own address until it logged on "
                "again at 14:05, so the prices of every symbol stop at 13:47:05; indicator-engine's working set "
                "stepped up 100 MB when 3.18.0 loaded its longer history and stayed flat (a planned cost, nothing "
                "failed), the gui-gateway deploy and the README cannot touch a venue session; no market data in "
                "market hours is a feed interruption (P1)."),
    )


BLIND_SCENARIOS: list[Callable[[], Scenario]] = [
    innocent_revert_signal,
    older_deploy_hotfix_monorepo,
    chronic_error_exec,
    memory_leak_gradual,
    cron_pool_exhaustion,
    cascade_indicator,
    venue_cert_expiry,
    one_symbol_config_monorepo,
    cosmetic_p3_mixed_logs,
    risk_hang_p0,
    deprecation_warning_trap,
    memory_step_venue,
]
