"""Scenarios where market time and the repository layout decide the answer (issue #19).

* A weekend outage caused by a change (the FX market is closed, so no trading is at
  stake), and a Friday close where price age climbs because the market closed, not
  because the feed failed.
* Silent market-data stalls: the prices stop, nothing is logged above INFO; the first
  symptom is when the last fresh price arrived, not when its age crossed a threshold.
* A shared library released from its own repository in a one-repository-per-service
  setup, declared in ``[topology.libraries]`` with the services that consume it; two of
  them fail.

Truth is the runbook's (severities P0-P3, "complete system outage during market hours"
for P0), written from what happened, not from what the rules say. Dates are free of the
other scenarios' sample ranges (``check_disjoint``).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from .kit import (
    Commit,
    Http,
    Latency,
    Log,
    Metrics,
    Scenario,
    Trading,
    Truth,
    burst,
    crash_loop,
    default_ups,
    metrics,
    ts,
)


def _every_minute(service: str, start: str, end: str, message: str) -> list[Log]:
    """An INFO line a minute (a service's own heartbeat while it has nothing to report)."""
    out, t = [], ts(start)
    while t < ts(end):
        out.append(Log((t + pd.Timedelta(milliseconds=412)).isoformat(), service, "INFO", message))
        t += pd.Timedelta(minutes=1)
    return out


# ---------------------------------------------------------------------------- weekend outage
def weekend_deploy_outage() -> Scenario:
    d = "2026-11-21"  # Saturday: the FX week is closed (Friday 22:00 to Sunday 22:00 UTC)
    victims = ["execution-engine", "signal-generator", "data-ingestor", "indicator-engine", "gui-gateway"]
    versions = ["2.19.2", "2.6.1", "2.6.5", "3.10.2", "1.12.0"]
    logs = [
        Log(f"{d}T09:47:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.7.0"),
        Log(f"{d}T09:47:41.200Z", "risk-manager", "INFO",
            "scheduler: weekly-var-report at Sat 10:00 UTC, one worker per account"),
        Log(f"{d}T09:58:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.12.0"),
        Log(f"{d}T10:00:00.050Z", "risk-manager", "INFO", "weekly-var-report started: 164 accounts, 164 workers"),
        Log(f"{d}T10:00:02.911Z", "postgres", "FATAL", "sorry, too many clients already"),
        *burst("postgres", "FATAL", f"{d}T10:00:04Z", f"{d}T10:29:40Z", 6, "sorry, too many clients already",
               seed="wk0"),
        Log(f"{d}T10:29:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.7.1"),
        Log(f"{d}T10:29:41.000Z", "risk-manager", "INFO", "scheduler: weekly-var-report at Sat 10:00 UTC, 8 workers"),
    ]
    downs: dict[str, list[tuple[str, str]]] = {}
    for i, (svc, version) in enumerate(zip(victims, versions, strict=True)):
        first = pd.Timestamp(f"{d}T10:00:03.420Z") + pd.Timedelta(seconds=1.3 * i)
        crash, down = crash_loop(svc, first.isoformat(), f"{d}T10:29:40Z", 40,
                                 "database connection failed: FATAL:  sorry, too many clients already", version,
                                 level="FATAL", seed=f"wk-{svc}")
        logs.extend(crash)
        back = pd.Timestamp(f"{d}T10:30:05Z") + pd.Timedelta(seconds=4 * i)
        logs.append(Log(back.isoformat(), svc, "INFO", f"Starting {svc} version {version}"))
        downs[svc] = [(down[0][0], (back + pd.Timedelta(seconds=20)).isoformat())]
    return Scenario(
        name="weekend-deploy-outage",
        family="complete outage out of market hours, caused by a deploy",
        summary="risk-manager 4.7.0's weekly report opens a database connection per account at Saturday 10:00; "
                "PostgreSQL refuses every other client and the services crash-loop for 30 min",
        start=f"{d}T09:00:00Z", end=f"{d}T11:00:00Z",
        commits=[
            Commit("2026-11-20T15:30:00Z", "execution-engine", "execution-engine: venue session schedule for the "
                   "holiday week", "alice", ["config/sessions.yaml"], tag="deploy-execution-engine-2.19.2",
                   tag_at="2026-11-20T15:45:00Z"),
            Commit(f"{d}T09:20:00Z", "risk-manager", "risk-manager: weekly VaR report runs one worker per account",
                   "dana", ["src/reports/var.py", "src/scheduler.py"], tag="deploy-risk-manager-4.7.0",
                   tag_at=f"{d}T09:47:00Z"),
            Commit(f"{d}T09:40:00Z", "gui-gateway", "gui-gateway: maintenance banner while the market is closed",
                   "bob", ["src/ui/banner.tsx"], tag="deploy-gui-gateway-1.12.0", tag_at=f"{d}T09:58:00Z"),
            Commit(f"{d}T10:26:00Z", "risk-manager", "", "dana", [],
                   revert="risk-manager: weekly VaR report runs one worker per account",
                   tag="deploy-risk-manager-4.7.1", tag_at=f"{d}T10:29:00Z"),
        ],
        logs=logs,
        metrics=metrics(15, down=downs),
        silent=downs,
        trading=Trading(market_closed=True),
        incident={
            "title": "All services failing: database refusing connections", "triggered_at": f"{d}T10:02:00Z",
            "acknowledged_at": f"{d}T10:09:00Z", "resolved_at": f"{d}T10:40:00Z",
            "updates": [{"time": f"{d}T10:20:00Z", "status": "Identified",
                         "text": "risk-manager weekly report exhausts max_connections; rolling back"}],
        },
        pg_tz="+01",
        truth=Truth(
            culprit="deploy-risk-manager-4.7.0", severity="P2",
            first_symptom=f"{d}T10:00:02.911Z", first_service="postgres", first_kind="log",
            why="risk-manager 4.7.0's weekly report opened a connection per account at 10:00 sharp, PostgreSQL "
                "refused every other client 3 s later and the services crash-looped until its revert; the "
                "gui-gateway banner deployed 2 min earlier opens no connections; on a Saturday the FX market is "
                "closed (prices frozen since Friday 22:00, no signals or orders due), so a complete outage with no "
                "trading at stake, fixed long before Sunday's 22:00 open, is P2, not P0."),
    )


def friday_close_gateway() -> Scenario:
    d = "2026-11-13"  # Friday: the FX week closes at 22:00 UTC
    return Scenario(
        name="friday-close-gateway", family="outage after the Friday close (price age rises because the market closed)",
        summary="gui-gateway 2.0.0, deployed in the weekend window after the close, fails every new session; "
                "the prices stop at 22:00 because the market closed",
        start=f"{d}T21:00:00Z", end=f"{d}T23:00:00Z",
        commits=[
            Commit(f"{d}T16:10:00Z", "data-ingestor", "data-ingestor: log off the venue at the weekly close", "bob",
                   ["src/session/schedule.py"], tag="deploy-data-ingestor-2.6.4", tag_at=f"{d}T16:30:00Z"),
            Commit(f"{d}T21:50:00Z", "gui-gateway", "gui-gateway: sign sessions with rotating keys "
                   "(SESSION_SIGNING_KEYS)", "bob", ["src/auth/session.py"], tag="deploy-gui-gateway-2.0.0",
                   tag_at=f"{d}T22:06:00Z"),
            Commit(f"{d}T22:15:00Z", "signal-generator", "signal-generator: tests for the weekend bar roll", "chen",
                   ["tests/test_bar_roll.py"]),
            Commit(f"{d}T22:38:00Z", "gui-gateway", "", "bob", [],
                   revert="gui-gateway: sign sessions with rotating keys (SESSION_SIGNING_KEYS)",
                   tag="deploy-gui-gateway-2.0.1", tag_at=f"{d}T22:41:00Z"),
        ],
        logs=[
            Log(f"{d}T21:59:58.000Z", "data-ingestor", "INFO", "market closes in 2 s: logging off LMAX-MD"),
            Log(f"{d}T22:00:01.300Z", "data-ingestor", "INFO", "LMAX-MD logged off for the weekend (next open Sun 22:00)"),
            Log(f"{d}T22:06:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 2.0.0"),
            Log(f"{d}T22:09:31.207Z", "gui-gateway", "ERROR",
                "POST /api/login 500: KeyError: 'SESSION_SIGNING_KEYS' (rotating session keys not configured)"),
            *burst("gui-gateway", "ERROR", f"{d}T22:09:50Z", f"{d}T22:41:30Z", 14,
                   "GET /api/positions 500: KeyError: 'SESSION_SIGNING_KEYS'", seed="fc1"),
            Log(f"{d}T22:41:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 2.0.1"),
        ],
        metrics=metrics(15, http=[Http("gui-gateway", 12.0, 0.002, [(f"{d}T22:09:31Z", f"{d}T22:41:40Z", 0.6)]),
                                  Http("execution-engine", 6.0, 0.001)]),
        incident={
            "title": "Operators cannot log in to the gateway", "services": ["gui-gateway"],
            "triggered_at": f"{d}T22:15:00Z", "acknowledged_at": f"{d}T22:24:00Z", "resolved_at": f"{d}T22:50:00Z",
        },
        pg_tz="-03",
        truth=Truth(
            culprit="deploy-gui-gateway-2.0.0", severity="P2",
            first_symptom=f"{d}T22:09:31.207Z", first_service="gui-gateway", first_kind="log",
            why="gui-gateway fails every new session from its first login after the 2.0.0 deploy, on the key that "
                "release requires, until its revert; the price age climbing from 22:00 is the Friday close "
                "(data-ingestor logged off as scheduled), not a feed interruption; one non-trading service down "
                "while the market is closed is an individual service outage (P2)."),
    )


def sunday_deploy_outage() -> Scenario:
    d = "2026-08-16"  # Sunday: the FX week opens at 22:00 UTC
    crash, down = crash_loop("execution-engine", f"{d}T13:41:12.064Z", f"{d}T14:22:00Z", 30,
                             "config error: venue LMAX-PROD requires fix.session.heartbeat_s (missing); exiting",
                             "2.18.0", seed="sd1")
    return Scenario(
        name="sunday-deploy-outage",
        family="one service down on a Sunday afternoon (market closed), caused by its deploy",
        summary="execution-engine 2.18.0, deployed on Sunday afternoon, crash-loops on a missing setting for "
                "40 min; prices frozen since Friday's close the whole time",
        start=f"{d}T13:00:00Z", end=f"{d}T15:00:00Z",
        commits=[
            Commit("2026-08-14T11:00:00Z", "data-ingestor", "data-ingestor: venue failover order", "bob",
                   ["config/venues.yaml"], tag="deploy-data-ingestor-2.6.2", tag_at="2026-08-14T11:20:00Z"),
            Commit(f"{d}T13:10:00Z", "risk-manager", "risk-manager: Monday limits for two new accounts", "dana",
                   ["config/accounts.yaml"]),
            Commit(f"{d}T13:25:00Z", "execution-engine", "execution-engine: FIX session settings per venue", "alice",
                   ["src/fix/session.py", "config/venues.yaml"], tag="deploy-execution-engine-2.18.0",
                   tag_at=f"{d}T13:40:00Z"),
            Commit(f"{d}T14:18:00Z", "execution-engine", "", "alice", [],
                   revert="execution-engine: FIX session settings per venue", tag="deploy-execution-engine-2.18.1",
                   tag_at=f"{d}T14:21:00Z"),
        ],
        logs=[
            Log(f"{d}T13:40:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.18.0"),
            *crash,
            Log(f"{d}T14:22:30.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.18.1"),
            Log(f"{d}T14:22:31.500Z", "execution-engine", "INFO", "FIX session LMAX-PROD armed for the 22:00 open"),
        ],
        metrics=metrics(15, down={"execution-engine": [(down[0][0], f"{d}T14:22:50Z")]}),
        silent={"execution-engine": [(down[0][0], f"{d}T14:22:30Z")]},
        trading=Trading(market_closed=True),
        incident={
            "title": "execution-engine crash-looping (weekend)", "services": ["execution-engine"],
            "triggered_at": f"{d}T13:44:00Z", "acknowledged_at": f"{d}T13:58:00Z", "resolved_at": f"{d}T14:30:00Z",
        },
        pg_tz="+0530",
        truth=Truth(
            culprit="deploy-execution-engine-2.18.0", severity="P2",
            first_symptom=f"{d}T13:41:12.064Z", first_service="execution-engine", first_kind="log",
            why="execution-engine exits on the setting its own 2.18.0 deploy made mandatory, from its first start "
                "until the revert; the risk-manager commit is account config of another service; on a Sunday "
                "afternoon the FX market is closed (prices frozen since Friday 22:00 are no feed interruption), so one "
                "service down with no orders due, fixed 7 h before the open, is an individual service outage (P2)."),
    )


# ---------------------------------------------------------------------------- silent stall
def _stall_metrics(stall: str, resume: str, step: int = 15) -> Metrics:
    """Prices frozen from ``stall`` to ``resume``: no ticks means no signals, hence no
    signal or order latency observations (the histograms stop moving)."""
    after = (ts(stall) + pd.Timedelta(seconds=30)).isoformat()
    back = (ts(resume) + pd.Timedelta(seconds=60)).isoformat()
    base = metrics(step, stale=[(stall, resume)])
    return Metrics(
        step_s=step,
        latencies=[Latency("signal_latency_seconds", "signal-generator", 0.35, 0.35, 1.5, pauses=[(after, back)]),
                   Latency("order_execution_seconds", "execution-engine", 0.12, 0.4, 1.0, pauses=[(after, back)])],
        ups=default_ups("service"), http=base.http, feed=base.feed,
    )


def silent_feed_stall() -> Scenario:
    d = "2026-10-13"  # Tuesday
    stall, resume = f"{d}T08:12:00Z", f"{d}T08:52:30Z"
    return Scenario(
        name="silent-feed-stall",
        family="silent market-data stall after a deploy (no error lines)",
        summary="data-ingestor 2.7.0's bounded tick queue silently drops its venue subscription; prices stop for "
                "40 min and nothing is logged above INFO",
        start=f"{d}T07:30:00Z", end=f"{d}T09:30:00Z",
        commits=[
            Commit("2026-10-12T16:40:00Z", "execution-engine", "execution-engine: FIX resend on sequence gap", "alice",
                   ["src/fix/resend.py"], tag="deploy-execution-engine-2.19.0", tag_at="2026-10-12T16:55:00Z"),
            Commit(f"{d}T07:48:00Z", "data-ingestor", "data-ingestor: asyncio market-data client with a bounded tick "
                   "queue", "bob", ["src/feed/client.py", "src/feed/queue.py"], tag="deploy-data-ingestor-2.7.0",
                   tag_at=f"{d}T08:03:00Z"),
            Commit(f"{d}T08:02:00Z", "indicator-engine", "indicator-engine: Keltner channels", "emre",
                   ["src/keltner.py"], tag="deploy-indicator-engine-3.10.0", tag_at=f"{d}T08:09:00Z"),
            Commit(f"{d}T08:30:00Z", "data-ingestor", "docs: sizing the tick queue", "bob", ["docs/tick-queue.md"]),
            Commit(f"{d}T08:49:00Z", "data-ingestor", "", "bob", [],
                   revert="data-ingestor: asyncio market-data client with a bounded tick queue",
                   tag="deploy-data-ingestor-2.7.1", tag_at=f"{d}T08:51:00Z"),
        ],
        logs=[
            Log(f"{d}T08:03:40.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.7.0"),
            Log(f"{d}T08:03:41.300Z", "data-ingestor", "INFO",
                "LMAX-MD: subscribed EURUSD, GBPUSD, USDJPY (tick queue max 10000, drop-oldest)"),
            Log(f"{d}T08:09:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.10.0"),
            *_every_minute("data-ingestor", f"{d}T08:13:00Z", f"{d}T08:52:00Z", "ingested 0 ticks in last 60s"),
            Log(f"{d}T08:51:40.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.7.1"),
            Log(f"{d}T08:52:29.800Z", "data-ingestor", "INFO", "LMAX-MD: subscribed EURUSD, GBPUSD, USDJPY"),
        ],
        silent={"data-ingestor": [(stall, resume)]},
        metrics=_stall_metrics(stall, resume),
        trading=Trading(signal_gaps=[(f"{d}T08:12:20Z", f"{d}T08:53:00Z")],
                        order_gaps=[(f"{d}T08:12:40Z", f"{d}T08:53:30Z")]),
        incident={
            "title": "Prices stale for every symbol", "services": ["data-ingestor"],
            "triggered_at": f"{d}T08:19:00Z", "acknowledged_at": f"{d}T08:23:00Z", "resolved_at": f"{d}T09:00:00Z",
        },
        pg_tz="UTC",
        truth=Truth(
            culprit="deploy-data-ingestor-2.7.0", severity="P1",
            first_symptom=stall, first_service="data-ingestor", first_kind="metric",
            why="the last fresh price of every symbol arrived at 08:12:00, 9 min after data-ingestor 2.7.0 replaced "
                "its market-data client, and prices resume with its revert; it logs nothing but '0 ticks'; the "
                "indicator-engine deploy is downstream of the feed; no prices on a Tuesday morning is a market "
                "data feed interruption (P1), dated when the prices stopped, not when their age crossed 60 s."),
    )


def silent_feed_stall_venue() -> Scenario:
    d = "2026-02-25"  # Wednesday
    stall, resume = f"{d}T15:41:00Z", f"{d}T16:03:30Z"
    return Scenario(
        name="silent-feed-stall-venue",
        family="no change to blame (silent market-data stall at the venue)",
        summary="the venue stops publishing prices for 22 min without dropping the session; no error lines",
        start=f"{d}T15:00:00Z", end=f"{d}T17:00:00Z",
        commits=[
            Commit("2026-02-24T17:05:00Z", "data-ingestor", "data-ingestor: per-symbol tick counters", "bob",
                   ["src/metrics.py"], tag="deploy-data-ingestor-2.4.2", tag_at="2026-02-24T17:20:00Z"),
            Commit(f"{d}T15:10:00Z", "data-ingestor", "docs: LMAX-MD escalation contacts", "dana",
                   ["docs/vendors.md"]),
            Commit(f"{d}T15:22:00Z", "indicator-engine", "indicator-engine: faster ATR warm-up", "emre",
                   ["src/atr.py"], tag="deploy-indicator-engine-3.7.9", tag_at=f"{d}T15:30:00Z"),
            Commit(f"{d}T15:36:00Z", "signal-generator", "signal-generator: EURUSD spread filter 1.2 pips", "chen",
                   ["config/filters.yaml"]),
        ],
        logs=[
            Log(f"{d}T15:30:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.7.9"),
            *_every_minute("data-ingestor", f"{d}T15:42:00Z", f"{d}T16:03:00Z",
                           "ingested 0 ticks in last 60s (LMAX-MD session up, heartbeats ok)"),
            Log(f"{d}T16:03:31.100Z", "data-ingestor", "INFO",
                "LMAX-MD: sequence gap 104223-104981 filled after the venue resumed publishing"),
        ],
        silent={"data-ingestor": [(stall, resume)]},
        metrics=_stall_metrics(stall, resume),
        trading=Trading(signal_gaps=[(f"{d}T15:41:20Z", f"{d}T16:04:00Z")],
                        order_gaps=[(f"{d}T15:41:40Z", f"{d}T16:04:30Z")]),
        incident={
            "title": "No prices from LMAX-MD", "services": ["data-ingestor"],
            "triggered_at": f"{d}T15:47:00Z", "acknowledged_at": f"{d}T15:50:00Z", "resolved_at": f"{d}T16:10:00Z",
            "updates": [{"time": f"{d}T15:58:00Z", "status": "Identified", "text": "venue confirms a publishing halt"}],
        },
        pg_tz="+07",
        truth=Truth(
            culprit=None, severity="P1",
            first_symptom=stall, first_service="data-ingestor", first_kind="metric",
            why="every symbol's last fresh price arrived at 15:41:00 while the venue session stayed up, and prices "
                "resumed with a gap fill from the venue; data-ingestor's last deploy was 22 h earlier, today's "
                "changes are docs and two services downstream of the feed; a feed interruption in market hours is "
                "P1, dated when the prices stopped."),
    )


# ---------------------------------------------------------------------------- shared library
def shared_lib_release_repos() -> Scenario:
    d = "2026-09-02"  # Wednesday
    return Scenario(
        name="shared-lib-release-repos", family="shared-library release in a one-repository-per-service setup",
        summary="eafix-common 3.5.0 keeps two decimals in quantities; its consumers risk-manager and "
                "execution-engine are rebuilt with it and reject orders",
        start=f"{d}T13:00:00Z", end=f"{d}T15:00:00Z",
        libraries={"eafix-common": ["execution-engine", "risk-manager"]},
        commits=[
            Commit("2026-09-01T10:00:00Z", "eafix-common", "eafix-common: README for the Quantity type", "chen",
                   ["README.md"], repo="eafix-common"),
            Commit(f"{d}T11:20:00Z", "risk-manager", "risk-manager: tests for the weekend exposure report", "dana",
                   ["tests/test_exposure.py"]),
            Commit(f"{d}T13:12:00Z", "eafix-common", "eafix-common: Quantity keeps two decimals for fractional lots",
                   "chen", ["src/eafix_common/quantity.py", "tests/test_quantity.py"], repo="eafix-common",
                   tag="v3.5.0", tag_at=f"{d}T13:31:00Z"),
            Commit(f"{d}T13:20:00Z", "signal-generator", "signal-generator: confidence floor 0.55 for rsi-v3", "chen",
                   ["src/strategies/rsi.py"], tag="deploy-signal-generator-2.6.0", tag_at=f"{d}T13:36:00Z"),
            Commit(f"{d}T14:02:00Z", "gui-gateway", "gui-gateway: fractional lots in the order ticket", "bob",
                   ["src/ui/ticket.tsx"], tag="deploy-gui-gateway-1.13.0", tag_at=f"{d}T14:10:00Z"),
            Commit(f"{d}T14:21:00Z", "eafix-common", "", "chen", [], repo="eafix-common",
                   revert="eafix-common: Quantity keeps two decimals for fractional lots", tag="v3.5.1",
                   tag_at=f"{d}T14:24:00Z"),
        ],
        logs=[
            Log(f"{d}T13:35:10.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.5.2 (eafix-common 3.5.0)"),
            Log(f"{d}T13:36:40.000Z", "signal-generator", "INFO", "Starting signal-generator version 2.6.0"),
            Log(f"{d}T13:37:25.000Z", "execution-engine", "INFO",
                "Starting execution-engine version 2.19.1 (eafix-common 3.5.0)"),
            Log(f"{d}T13:41:07.482Z", "risk-manager", "ERROR",
                "pre-trade check failed for signal S-5120: Quantity('100000.00') is not a whole number of units"),
            *burst("risk-manager", "ERROR", f"{d}T13:41:50Z", f"{d}T14:29:30Z", 45,
                   "pre-trade check failed for signal S-{order}: Quantity is not a whole number of units", seed="sl1"),
            Log(f"{d}T13:41:52.118Z", "execution-engine", "ERROR",
                "order O-61877 rejected by broker: 35=j 58=Invalid OrderQty '50000.00' (tag 38 expects an integer)"),
            *burst("execution-engine", "ERROR", f"{d}T13:42:30Z", f"{d}T14:31:00Z", 30,
                   "order O-{order} rejected by broker: 35=j 58=Invalid OrderQty (tag 38 expects an integer)",
                   seed="sl2"),
            Log(f"{d}T14:10:40.000Z", "gui-gateway", "INFO", "Starting gui-gateway version 1.13.0"),
            Log(f"{d}T14:29:40.000Z", "risk-manager", "INFO", "Starting risk-manager version 4.5.2 (eafix-common 3.5.1)"),
            Log(f"{d}T14:31:10.000Z", "execution-engine", "INFO",
                "Starting execution-engine version 2.19.1 (eafix-common 3.5.1)"),
        ],
        metrics=metrics(15),
        trading=Trading(order_failures=[(f"{d}T13:41:52Z", f"{d}T14:31:10Z", 0.45, "rejected",
                                         "broker reject 35=j: Invalid OrderQty")]),
        incident={
            "title": "Orders rejected: invalid quantity", "services": ["execution-engine", "risk-manager"],
            "triggered_at": f"{d}T13:50:00Z", "acknowledged_at": f"{d}T13:53:00Z", "resolved_at": f"{d}T14:40:00Z",
        },
        pg_tz="-03",
        truth=Truth(
            culprit="v3.5.0", severity="P1",
            first_symptom=f"{d}T13:41:07.482Z", first_service="risk-manager", first_kind="log",
            why="both services failing are the two that consume eafix-common and were rebuilt with its 3.5.0 release "
                "minutes before; they reject exactly the two-decimal quantities that release introduced and recover "
                "on 3.5.1 (its revert); the signal-generator deploy only changes a confidence floor and the "
                "gui-gateway one comes after; 45% of orders rejected in market hours is P1."),
    )


def shared_lib_release_marketdata() -> Scenario:
    d = "2026-07-23"  # Thursday
    return Scenario(
        name="shared-lib-marketdata",
        family="shared-library release in a one-repository-per-service setup (market-data library, data quality)",
        summary="eafix-marketdata 1.8.0 scales JPY prices by 100; its consumers data-ingestor and "
                "indicator-engine are rebuilt with it and reject or flag USDJPY",
        start=f"{d}T08:30:00Z", end=f"{d}T10:30:00Z",
        libraries={"eafix-marketdata": ["data-ingestor", "indicator-engine"]},
        commits=[
            Commit("2026-07-22T16:00:00Z", "execution-engine", "execution-engine: venue latency buckets", "alice",
                   ["src/metrics.py"], tag="deploy-execution-engine-2.17.9", tag_at="2026-07-22T16:15:00Z"),
            Commit(f"{d}T08:52:00Z", "eafix-marketdata", "eafix-marketdata: pip size from the instrument table",
                   "bob", ["src/eafix_marketdata/pips.py", "src/eafix_marketdata/instruments.csv"],
                   repo="eafix-marketdata", tag="v1.8.0", tag_at=f"{d}T09:20:00Z"),
            Commit(f"{d}T09:05:00Z", "indicator-engine", "indicator-engine: ATR smoothing option (off by default)",
                   "emre", ["src/atr.py"], tag="deploy-indicator-engine-3.11.0", tag_at=f"{d}T09:12:00Z"),
            Commit(f"{d}T09:40:00Z", "execution-engine", "execution-engine: reject reasons in the blotter feed",
                   "alice", ["src/blotter.py"], tag="deploy-execution-engine-2.18.0", tag_at=f"{d}T09:46:00Z"),
            Commit(f"{d}T10:00:00Z", "eafix-marketdata", "", "bob", [], repo="eafix-marketdata",
                   revert="eafix-marketdata: pip size from the instrument table", tag="v1.8.1",
                   tag_at=f"{d}T10:02:00Z"),
        ],
        logs=[
            Log(f"{d}T09:12:40.000Z", "indicator-engine", "INFO", "Starting indicator-engine version 3.11.0"),
            Log(f"{d}T09:24:20.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.6.3 (eafix-marketdata 1.8.0)"),
            Log(f"{d}T09:24:51.337Z", "data-ingestor", "ERROR",
                "USDJPY tick 15012.30 outside the 5% sanity band around 150.12: published anyway"),
            *burst("data-ingestor", "ERROR", f"{d}T09:25:20Z", f"{d}T10:06:00Z", 30,
                   "USDJPY tick outside the 5% sanity band: published anyway ({n} in the last minute)", seed="md1"),
            Log(f"{d}T09:25:05.000Z", "indicator-engine", "INFO",
                "Starting indicator-engine version 3.11.0 (eafix-marketdata 1.8.0)"),
            Log(f"{d}T09:25:40.102Z", "indicator-engine", "ERROR",
                "USDJPY bar rejected: ATR(14) jumped 9900% in one bar (price scale changed?)"),
            *burst("indicator-engine", "ERROR", f"{d}T09:26:30Z", f"{d}T10:07:00Z", 60,
                   "USDJPY bar rejected: ATR(14) jumped in one bar (price scale changed?)", seed="md2"),
            *burst("signal-generator", "WARNING", f"{d}T09:27:00Z", f"{d}T10:07:30Z", 180,
                   "USDJPY signals suppressed: no valid indicator bars", seed="md3"),
            Log(f"{d}T09:46:40.000Z", "execution-engine", "INFO", "Starting execution-engine version 2.18.0"),
            Log(f"{d}T10:06:10.000Z", "data-ingestor", "INFO", "Starting data-ingestor version 2.6.3 (eafix-marketdata 1.8.1)"),
            Log(f"{d}T10:07:05.000Z", "indicator-engine", "INFO",
                "Starting indicator-engine version 3.11.0 (eafix-marketdata 1.8.1)"),
        ],
        metrics=metrics(30),
        incident={
            "title": "USDJPY prices scaled by 100", "services": ["data-ingestor", "indicator-engine"],
            "triggered_at": f"{d}T09:31:00Z", "acknowledged_at": f"{d}T09:36:00Z", "resolved_at": f"{d}T10:15:00Z",
        },
        pg_tz="+01",
        truth=Truth(
            culprit="v1.8.0", severity="P2",
            first_symptom=f"{d}T09:24:51.337Z", first_service="data-ingestor", first_kind="log",
            why="the two services flagging USDJPY are the two that consume eafix-marketdata, each from its first "
                "start on the 1.8.0 release (whose new pip table scales JPY prices by 100) until 1.8.1 reverted it; "
                "indicator-engine's own deploy 13 min earlier ran clean and only adds an option that is off; one "
                "symbol's prices wrong, with the other symbols trading, is a data quality issue (P2)."),
    )


MARKET_SCENARIOS: list[Callable[[], Scenario]] = [
    weekend_deploy_outage,
    friday_close_gateway,
    sunday_deploy_outage,
    silent_feed_stall,
    silent_feed_stall_venue,
    shared_lib_release_repos,
    shared_lib_release_marketdata,
]
