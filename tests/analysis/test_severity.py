"""The runbook's severity rules: each one with evidence that meets it and evidence
that just misses it, then suggest_severity on whole bundles (INC-DEMO: P1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import eafix_forensics as ef
from eafix_forensics.analysis import severity as sv
from eafix_forensics.analysis.severity import SeverityEvidence
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.config import DEFAULT_SERVICES, Config, ServiceConfig
from eafix_forensics.demo import DEMO_WINDOW, build_demo, demo_evidence
from eafix_forensics.model import tables as schemas
from eafix_forensics.window import TimeWindow

MONDAY = "2024-12-02"  # market open all day (FX week)
SATURDAY = "2024-12-07"  # market closed all day
FRIDAY = "2024-12-06"  # market closes 22:00 UTC
SERVICES = list(DEFAULT_SERVICES)
CFG = Config()


def ts(day: str, hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day}T{hhmm}", tz="UTC")


def health(at: pd.Timestamp, statuses: dict[str, str]) -> pd.DataFrame:
    rows = [
        {"checked_at": at, "service": s, "url": f"http://localhost/{s}", "status_code": 503 if st == "down" else 200,
         "status": st, "latency_ms": 10.0, "error": "HTTP 503" if st == "down" else None}
        for s, st in statuses.items()
    ]
    return schemas.conform(rows, "health")


def all_ok(**override: str) -> dict[str, str]:
    return {s: override.get(s.replace("-", "_"), "ok") for s in SERVICES}


def metric(name: str, start: pd.Timestamp, values: list[float], *, service: str, step_s: int = 60) -> pd.DataFrame:
    times = pd.date_range(start, periods=len(values), freq=f"{step_s}s")
    return schemas.conform(pd.DataFrame({
        "timestamp": times, "query": name, "series": f'{{service="{service}"}}', "value": values,
        "name": name, "service": service,
    }), "metrics")


def up(start: pd.Timestamp, down: dict[str, tuple[int, int]], n: int = 40) -> pd.DataFrame:
    """``up`` for every service, 0 for the sample range given per service."""
    frames = []
    for s in SERVICES:
        values = np.ones(n)
        if s in down:
            a, b = down[s]
            values[a:b] = 0
        frames.append(metric("up", start, list(values), service=s))
    return pd.concat(frames, ignore_index=True)


def logs(rows: list[tuple[str, str, str]], at: pd.Timestamp) -> pd.DataFrame:
    return schemas.conform([
        {"timestamp": at + pd.Timedelta(seconds=i), "service": svc, "replica": 1, "level": level, "message": msg,
         "source": "x.txt", "line": i + 1}
        for i, (svc, level, msg) in enumerate(rows)
    ], "logs")


def ev(**kwargs: object) -> SeverityEvidence:
    kwargs.setdefault("critical", {s: True for s in SERVICES})
    return SeverityEvidence(window=DEMO_WINDOW, **kwargs)  # type: ignore[arg-type]


def cfg_with(**severity: object) -> Config:
    return Config.from_dict({"severity": severity})


# ------------------------------------------------------------------ P0 rules
def test_complete_outage_in_market_hours_from_a_health_snapshot() -> None:
    everything_down = {s: "down" for s in SERVICES}
    reason = sv.complete_outage_in_market_hours(ev(health=health(ts(MONDAY, "14:00"), everything_down)), CFG)
    assert reason is not None and "all 6 critical services" in reason and "market open" in reason
    # Just misses: the same outage on a Saturday, and one critical service still up on a Monday.
    assert sv.complete_outage_in_market_hours(ev(health=health(ts(SATURDAY, "14:00"), everything_down)), CFG) is None
    one_up = {**everything_down, "risk-manager": "ok"}
    assert sv.complete_outage_in_market_hours(ev(health=health(ts(MONDAY, "14:00"), one_up)), CFG) is None


def test_complete_outage_from_up_metrics_counts_only_open_market_time() -> None:
    all_down = {s: (5, 15) for s in SERVICES}
    reason = sv.complete_outage_in_market_hours(ev(metrics=up(ts(MONDAY, "14:00"), all_down)), CFG)
    assert reason is not None and "up == 0 from 2024-12-02 14:05 to 14:15" in reason
    # Friday 21:50: the outage 21:55-22:05 overlaps the close by 5 minutes: still P0.
    assert sv.complete_outage_in_market_hours(ev(metrics=up(ts(FRIDAY, "21:50"), all_down)), CFG) is not None
    # Friday 22:00: the outage 22:05-22:15 starts after the close: not P0.
    assert sv.complete_outage_in_market_hours(ev(metrics=up(ts(FRIDAY, "22:00"), all_down)), CFG) is None
    # Down one after the other, never all at once: not complete.
    staggered = {s: (2 * i, 2 * i + 2) for i, s in enumerate(SERVICES)}
    assert sv.complete_outage_in_market_hours(ev(metrics=up(ts(MONDAY, "14:00"), staggered)), CFG) is None


def test_complete_outage_needs_evidence_for_every_critical_service() -> None:
    five = {s: "down" for s in SERVICES[:5]}
    assert sv.complete_outage_in_market_hours(ev(health=health(ts(MONDAY, "14:00"), five)), CFG) is None
    # With the sixth off the trading path, the five critical ones are the whole system.
    critical = {s: s != SERVICES[5] for s in SERVICES}
    assert sv.complete_outage_in_market_hours(
        ev(health=health(ts(MONDAY, "14:00"), five), critical=critical), CFG
    ) is not None


def reconcile(statuses: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"account": ["17"] * len(statuses), "symbol": ["EURUSD"] * len(statuses), "status": statuses})


def test_position_data_corruption() -> None:
    reason = sv.position_data_corruption(ev(reconcile=reconcile(["match", "mismatch", "match"])), CFG)
    assert reason is not None and "1 position(s) do not reconcile" in reason and "17 EURUSD" in reason
    assert sv.position_data_corruption(ev(reconcile=reconcile(["match", "match"])), CFG) is None
    assert sv.position_data_corruption(ev(reconcile=reconcile(["mismatch"])), cfg_with(reconcile_mismatches_min=2)) is None
    assert sv.position_data_corruption(ev(reconcile=None), CFG) is None


def test_risk_manager_failure() -> None:
    reason = sv.risk_manager_failure(ev(health=health(ts(MONDAY, "14:00"), all_ok(risk_manager="down"))), CFG)
    assert reason is not None and reason.startswith("risk management failure: risk-manager")
    assert sv.risk_manager_failure(ev(metrics=up(ts(MONDAY, "14:00"), {"risk-manager": (3, 6)})), CFG) is not None
    # Just misses: degraded is not failed, and another service down is not the risk manager.
    assert sv.risk_manager_failure(ev(health=health(ts(MONDAY, "14:00"), all_ok(risk_manager="degraded"))), CFG) is None
    assert sv.risk_manager_failure(ev(health=health(ts(MONDAY, "14:00"), all_ok(execution_engine="down"))), CFG) is None
    assert sv.risk_manager_failure(
        ev(health=health(ts(MONDAY, "14:00"), all_ok(execution_engine="down"))), cfg_with(risk_service="execution-engine")
    ) is not None


def test_security_breach() -> None:
    at = ts(MONDAY, "14:00")
    hit = logs([("gui-gateway", "ERROR", "Intrusion detected: admin session from 203.0.113.9")], at)
    reason = sv.security_breach(ev(logs=hit), CFG)
    assert reason is not None and "gui-gateway" in reason and "Intrusion detected" in reason
    assert sv.security_breach(ev(incident_title="Security breach on the gateway"), CFG) is not None
    # Just misses: the same words at INFO, and a plain 401 at ERROR.
    assert sv.security_breach(ev(logs=logs([("gui-gateway", "INFO", "intrusion detected test banner")], at)), CFG) is None
    assert sv.security_breach(ev(logs=logs([("gui-gateway", "ERROR", "401 Unauthorized for /api/positions")], at)), CFG) is None
    assert sv.security_breach(ev(incident_title="Signal latency above 5 s"), CFG) is None


# ------------------------------------------------------------------ P1 rules
def test_partial_outage_affecting_trading() -> None:
    reason = sv.partial_outage_affecting_trading(
        ev(health=health(ts(MONDAY, "14:30"), all_ok(execution_engine="down"))), CFG
    )
    assert reason is not None and "execution-engine" in reason
    # Just misses: the service that is down is off the trading path.
    critical = {s: s != "indicator-engine" for s in SERVICES}
    off_path = ev(health=health(ts(MONDAY, "14:30"), all_ok(indicator_engine="down")), critical=critical)
    assert sv.partial_outage_affecting_trading(off_path, CFG) is None
    assert sv.partial_outage_affecting_trading(ev(health=health(ts(MONDAY, "14:30"), all_ok())), CFG) is None


def signals(latencies_s: list[float]) -> pd.DataFrame:
    t0 = ts(MONDAY, "14:00")
    return pd.DataFrame({
        "timestamp": [t0 + pd.Timedelta(minutes=i) for i in range(len(latencies_s))],
        "service": "signal-generator", "latency_ms": [x * 1000 for x in latencies_s],
    })


def test_signal_latency_above_threshold_from_the_metric() -> None:
    lat = metric("signal_latency_p95", ts(MONDAY, "14:00"), [0.4, 5.2, 6.0, 0.4], service="signal-generator")
    reason = sv.signal_latency_above_threshold(ev(metrics=lat), CFG)
    assert reason is not None and reason.startswith("signal latency above 5 s")
    assert "peak 6.0 s at 14:02" in reason
    at_threshold = metric("signal_latency_p95", ts(MONDAY, "14:00"), [0.4, 5.0, 4.9], service="signal-generator")
    assert sv.signal_latency_above_threshold(ev(metrics=at_threshold), CFG) is None
    # The threshold is config: at 8 s the 6 s peak is no P1.
    assert sv.signal_latency_above_threshold(ev(metrics=lat), cfg_with(signal_latency_critical_s=8.0)) is None


def test_signal_latency_above_threshold_from_the_signals() -> None:
    reason = sv.signal_latency_above_threshold(ev(signals=signals([0.3, 5.1, 5.5, 6.2, 0.4])), CFG)
    assert reason is not None and "3 of 5 signals slower than 5 s" in reason
    assert sv.signal_latency_above_threshold(ev(signals=signals([0.3, 5.1, 5.5, 5.0, 0.4])), CFG) is None


def test_reconciliation_failure() -> None:
    reachable = health(ts(MONDAY, "14:30"), all_ok())
    failed = ev(health=reachable, reconcile_status="unavailable",
                tables={"reconcile": {"status": "unavailable", "error": "HTTP 500 from /api/reconcile/positions"}})
    reason = sv.reconciliation_failure(failed, CFG)
    assert reason is not None and "HTTP 500" in reason
    assert sv.reconciliation_failure(ev(reconcile=reconcile(["match", "error"])), CFG) is not None
    # Just misses: nothing answered at all (no health either) is not a reconciliation failure,
    # and a reconciliation that ran (match or mismatch) is not one either.
    assert sv.reconciliation_failure(ev(health=None, reconcile_status="unavailable"), CFG) is None
    assert sv.reconciliation_failure(ev(health=reachable, reconcile=reconcile(["match", "mismatch"]),
                                        reconcile_status="ok"), CFG) is None


def test_market_data_interruption() -> None:
    stale = metric("market_data_age", ts(MONDAY, "14:00"), [2, 30, 61, 75, 3], service="data-ingestor")
    reason = sv.market_data_interruption(ev(metrics=stale), CFG)
    assert reason is not None and "older than 60 s" in reason and "oldest 75 s" in reason
    fresh = metric("market_data_age", ts(MONDAY, "14:00"), [2, 30, 60, 59, 3], service="data-ingestor")
    assert sv.market_data_interruption(ev(metrics=fresh), CFG) is None
    down = ev(health=health(ts(MONDAY, "14:30"), all_ok(data_ingestor="down")))
    assert "data-ingestor" in (sv.market_data_interruption(down, CFG) or "")
    assert sv.market_data_interruption(ev(health=health(ts(MONDAY, "14:30"), all_ok(data_ingestor="degraded"))), CFG) is None


# ------------------------------------------------------------------ P2 rules
def test_non_critical_service_down() -> None:
    critical = {s: s != "indicator-engine" for s in SERVICES}
    reason = sv.non_critical_service_down(
        ev(health=health(ts(MONDAY, "14:30"), all_ok(indicator_engine="down")), critical=critical), CFG
    )
    assert reason is not None and "indicator-engine" in reason
    assert sv.non_critical_service_down(
        ev(health=health(ts(MONDAY, "14:30"), all_ok(indicator_engine="degraded")), critical=critical), CFG
    ) is None
    # A critical service down is P1's business, not this rule's.
    assert sv.non_critical_service_down(ev(health=health(ts(MONDAY, "14:30"), all_ok(indicator_engine="down"))), CFG) is None


def test_performance_degradation() -> None:
    slowish = metric("signal_latency_p95", ts(MONDAY, "14:00"), [0.4, 1.5, 2.5, 0.4], service="signal-generator")
    reason = sv.performance_degradation(ev(metrics=slowish), CFG)
    assert reason is not None and "signal latency degraded" in reason
    normal = metric("signal_latency_p95", ts(MONDAY, "14:00"), [0.4, 0.9, 1.0, 0.4], service="signal-generator")
    assert sv.performance_degradation(ev(metrics=normal), CFG) is None
    assert sv.performance_degradation(ev(health=health(ts(MONDAY, "14:30"), all_ok(gui_gateway="degraded"))), CFG) is not None
    errors = metric("http_error_rate", ts(MONDAY, "14:00"), [0.01, 0.06, 0.02], service="gui-gateway")
    assert sv.performance_degradation(ev(metrics=errors), CFG) is not None
    assert sv.performance_degradation(ev(metrics=errors), cfg_with(error_rate_degraded=0.1)) is None


def test_data_quality_or_monitoring_issue() -> None:
    tables = {"metrics": {"source": "prometheus", "status": "unavailable", "error": "connection refused"},
              "logs": {"source": "logs", "status": "ok", "details": {"malformed": 0}}}
    reason = sv.data_quality_or_monitoring_issue(ev(tables=tables), CFG)
    assert reason is not None and "prometheus: metrics unavailable" in reason
    malformed = {"logs": {"source": "logs", "status": "ok", "details": {"malformed": 12}}}
    assert "12 malformed log line(s)" in (sv.data_quality_or_monitoring_issue(ev(tables=malformed), CFG) or "")
    # Just misses: a source the config does not name (skipped) and a clean logs table.
    quiet = {"pg_locks": {"source": "postgres", "status": "skipped"},
             "logs": {"source": "logs", "status": "ok", "details": {"malformed": 0}}}
    assert sv.data_quality_or_monitoring_issue(ev(tables=quiet), CFG) is None


def test_every_rule_is_documented_and_listed_once() -> None:
    names = [rule.__name__ for _, rule in sv.RULES]
    assert len(names) == len(set(names)) == 12
    assert [lv for lv, _ in sv.RULES] == ["P0"] * 4 + ["P1"] * 4 + ["P2"] * 4
    for _, rule in sv.RULES:
        assert rule.__doc__ and rule.__doc__.split()[0] in ("P0", "P1", "P2")


# ------------------------------------------------------------------ whole bundles
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> EvidenceBundle:
    return build_demo(tmp_path_factory.mktemp("demo"))


def test_demo_is_p1_for_signal_latency_above_5_s(demo: EvidenceBundle) -> None:
    level, reasons = ef.suggest_severity(demo)
    assert level == "P1"
    assert any(r.startswith("P1: signal latency above 5 s") for r in reasons)
    assert not any(r.startswith("P0") for r in reasons)
    assert reasons == sorted(reasons, key=lambda r: r[:2])
    table = sv.severity_table(demo)
    assert table[table["met"]]["rule"].tolist() == [
        "partial_outage_affecting_trading", "signal_latency_above_threshold", "performance_degradation",
        "service_errors",
    ]


def test_config_thresholds_change_the_demo_verdict(demo: EvidenceBundle) -> None:
    cfg = Config.from_dict({
        "severity": {"signal_latency_critical_s": 8.0},
        "services": {"execution-engine": {"url": "http://localhost:8085", "critical": False}},
    })
    level, reasons = ef.suggest_severity(demo, cfg)
    assert not any("signal latency above" in r for r in reasons)
    assert any(r.startswith("P2: non-critical service down: execution-engine") for r in reasons)
    # 14 of the demo's 31 orders were rejected or failed: trading is affected whatever the health says.
    assert level == "P1"
    assert reasons[0].startswith(
        "P1: partial outage affecting trading: 14 of 17 orders rejected or failed between 13:55 and 14:38 UTC (82%)")
    cfg.severity.rejected_share_outage = 0.9
    level, reasons = ef.suggest_severity(demo, cfg)
    assert level == "P2" and any("14 of 17 orders rejected or failed" in r for r in reasons if r.startswith("P2"))


def _write(tmp: Path, evidence: list[Evidence], window: TimeWindow = DEMO_WINDOW) -> EvidenceBundle:
    return EvidenceBundle.write(tmp, incident_id="INC-T", window=window, evidence=evidence, config=Config())


def test_a_mismatch_in_the_bundle_makes_it_p0(tmp_path: Path) -> None:
    evidence = [e for e in demo_evidence(tmp_path / "w") if e.name != "reconcile"]
    rec = pd.DataFrame({"checked_at": [pd.Timestamp("2024-12-02T14:30Z")], "service": ["gui-gateway"],
                        "account": ["17"], "symbol": ["EURUSD"], "internal_quantity": [120000.0],
                        "broker_quantity": [100000.0], "difference": [20000.0], "status": ["mismatch"]})
    evidence.append(Evidence("reconcile", rec, source="services"))
    level, reasons = ef.suggest_severity(_write(tmp_path / "b", evidence))
    assert level == "P0"
    assert reasons[0].startswith("P0: data corruption affecting positions")


def test_a_quiet_bundle_is_p3(tmp_path: Path) -> None:
    quiet = [Evidence("health", health(ts(MONDAY, "14:30"), all_ok()), source="services")]
    level, reasons = ef.suggest_severity(_write(tmp_path / "b", quiet))
    assert level == "P3" and reasons == ["P3: no P0-P2 rule of the runbook is met by the evidence"]


def test_an_unavailable_source_alone_is_p2(tmp_path: Path) -> None:
    evidence = [
        Evidence("health", health(ts(MONDAY, "14:30"), all_ok()), source="services"),
        Evidence("metrics", schemas.empty("metrics"), source="prometheus", status="unavailable",
                 error="connection refused"),
    ]
    level, reasons = ef.suggest_severity(_write(tmp_path / "b", evidence))
    assert level == "P2" and "prometheus: metrics unavailable" in reasons[0]


def test_critical_flags_come_from_the_config_over_the_health_table(tmp_path: Path) -> None:
    snap = health(ts(MONDAY, "14:30"), all_ok(indicator_engine="down"))
    cfg = Config()
    cfg.services["indicator-engine"] = ServiceConfig(url="http://localhost:8082", critical=False)
    bundle = _write(tmp_path / "b", [Evidence("health", snap, source="services")])
    assert ef.suggest_severity(bundle)[0] == "P1"
    assert ef.suggest_severity(bundle, cfg)[0] == "P2"


# ------------------------------------------------------------------ the window's own evidence
def executions(statuses: list[str], at: pd.Timestamp, every_s: float | None = None) -> pd.DataFrame:
    """Executions with ``statuses`` spread evenly over the demo window (orders keep flowing)."""
    every = every_s if every_s is not None else (DEMO_WINDOW.duration.total_seconds() - 60) / len(statuses)
    start = DEMO_WINDOW.start + pd.Timedelta(seconds=30)
    return pd.DataFrame({
        "timestamp": [start + pd.Timedelta(seconds=every * i) for i in range(len(statuses))],
        "service": "execution-engine", "status": statuses,
        "error": ["lock timeout on positions" if s == "rejected" else None for s in statuses],
    })


def spaced(rejected: int, gap: int) -> list[str]:
    """``rejected`` rejections with ``gap`` fills between them, healthy hours around."""
    inner = (["rejected"] + ["filled"] * gap) * (rejected - 1) + ["rejected"]
    return ["filled"] * 50 + inner + ["filled"] * 50


def test_rejected_orders_are_a_partial_outage_or_a_degradation() -> None:
    at = ts(MONDAY, "14:00")
    # 5 rejections 8 fills apart: 5 of the 37 orders sent while orders were failing (14%);
    # the healthy orders before and after do not dilute it.
    outage = sv.partial_outage_affecting_trading(ev(executions=executions(spaced(5, 8), at)), CFG)
    assert outage is not None and "5 of 37 orders rejected or failed between" in outage
    assert "(14%), mostly: lock timeout" in outage
    # 12 fills apart: 5 of 53 (9%) is no outage but a degradation
    just_under = ev(executions=executions(spaced(5, 12), at))
    assert sv.partial_outage_affecting_trading(just_under, CFG) is None
    assert "5 of 53 orders rejected" in (sv.performance_degradation(just_under, CFG) or "")
    # four rejections are too few to say anything
    few = ev(executions=executions(spaced(4, 1), at))
    assert sv.partial_outage_affecting_trading(few, CFG) is None and sv.performance_degradation(few, CFG) is None
    # rejections spread over the whole window at a normal rate are no degradation either
    normal = ev(executions=executions(spaced(5, 120), at))
    assert sv.performance_degradation(normal, CFG) is None


def job_up(start: pd.Timestamp, down: dict[str, tuple[int, int]], n: int = 40) -> pd.DataFrame:
    """``up{job=…, instance=…}`` with no service label, as Prometheus scrapes it."""
    frames = []
    for s in SERVICES:
        values = np.ones(n)
        if s in down:
            values[down[s][0]:down[s][1]] = 0
        times = pd.date_range(start, periods=n, freq="60s")
        frames.append(schemas.conform(pd.DataFrame({
            "timestamp": times, "query": "up", "series": f'{{job="{s}",instance="{s}:80"}}', "value": values,
            "name": "up", "job": s, "instance": f"{s}:80", "service": "",
        }), "metrics"))
    return pd.concat(frames, ignore_index=True)


def test_up_without_a_service_label_falls_back_to_job_and_a_complete_outage_is_p0() -> None:
    everything = {s: (10, 20) for s in SERVICES}
    monday = ev(metrics=job_up(ts(MONDAY, "14:00"), everything))
    assert "all 6 critical services up == 0 from 2024-12-02 14:10" in (sv.complete_outage_in_market_hours(monday, CFG) or "")
    assert "execution-engine" in (sv.partial_outage_affecting_trading(monday, CFG) or "")
    # one service still up: no complete outage, still a partial one
    five = ev(metrics=job_up(ts(MONDAY, "14:00"), {s: (10, 20) for s in SERVICES[1:]}))
    assert sv.complete_outage_in_market_hours(five, CFG) is None
    assert sv.partial_outage_affecting_trading(five, CFG) is not None
    # everything down on a Saturday: the market is closed, so not P0
    saturday = SeverityEvidence(window=TimeWindow.parse(ts(SATURDAY, "13:30"), ts(SATURDAY, "15:30")),
                                metrics=job_up(ts(SATURDAY, "14:00"), everything), critical={s: True for s in SERVICES})
    assert sv.complete_outage_in_market_hours(saturday, CFG) is None
    # ... and no trading was affected: a P2 outage, not a P1
    assert sv.partial_outage_affecting_trading(saturday, CFG) is None
    assert "market closed (no trading affected)" in (sv.non_critical_service_down(saturday, CFG) or "")


def _health_bundle(tmp: Path, checked_at: pd.Timestamp) -> EvidenceBundle:
    evidence = [Evidence("health", health(checked_at, all_ok(risk_manager="down")), source="services")]
    return _write(tmp, evidence)


def test_health_checked_long_after_the_window_does_not_grade_the_incident(tmp_path: Path) -> None:
    late = _health_bundle(tmp_path / "late", DEMO_WINDOW.end + pd.Timedelta(days=2))
    level, reasons = ef.suggest_severity(late)
    assert level != "P0" and not any("risk management" in r for r in reasons)
    notes = sv.severity_evidence(late).at_collection
    assert notes and "at collection 2024-12-04 15:30 UTC" in notes[0] and "still down now" in notes[0]
    # within 15 minutes of the window's end the check is incident evidence
    prompt = _health_bundle(tmp_path / "prompt", DEMO_WINDOW.end + pd.Timedelta(minutes=14))
    assert ef.suggest_severity(prompt)[0] == "P0"


def test_a_chronic_breach_grades_nothing_but_a_new_one_does() -> None:
    base = metric("signal_latency_p95", ts(MONDAY, "10:00"), [5.5, 6.0] * 30, service="signal-generator")
    now = metric("signal_latency_p95", ts(MONDAY, "14:00"), [5.8] * 20, service="signal-generator")
    from eafix_forensics.analysis.metrics import breaches
    from eafix_forensics.sources.prometheus import catalogue

    chronic = breaches(now, catalogue(CFG), baseline=base)
    assert bool(chronic["chronic"].all())
    assert sv.signal_latency_above_threshold(ev(metrics=now, breaches=chronic), CFG) is None
    calm = metric("signal_latency_p95", ts(MONDAY, "10:00"), [0.8, 0.9] * 30, service="signal-generator")
    fresh = breaches(now, catalogue(CFG), baseline=calm)
    assert not fresh["chronic"].any()
    assert sv.signal_latency_above_threshold(ev(metrics=now, breaches=fresh), CFG) is not None


def test_an_error_burst_is_a_p2_service_error_and_a_trickle_is_not() -> None:
    from eafix_forensics.analysis.logs import error_bursts

    at = ts(MONDAY, "14:00")
    quiet = [("execution-engine", "INFO", "heartbeat")] * 300
    burst = quiet + [("execution-engine", "ERROR", "BrokerTimeout order 1")] * 30
    rows = logs(burst, at)
    reason = sv.service_errors(ev(logs=rows, bursts=error_bursts(rows)), CFG)
    assert reason is not None and "execution-engine" in reason
    trickle = logs(quiet + [("execution-engine", "ERROR", "BrokerTimeout order 1")] * 2, at)
    assert sv.service_errors(ev(logs=trickle, bursts=error_bursts(trickle)), CFG) is None


def test_orders_that_stop_flowing_in_market_hours_are_a_partial_outage() -> None:
    at = DEMO_WINDOW.start + pd.Timedelta(seconds=30)
    flowing = executions(["filled"] * 100, at, every_s=40)  # 13:30-14:36, then nothing to 15:30
    stopped = sv.partial_outage_affecting_trading(ev(executions=flowing), CFG)
    assert stopped is not None and "orders stopped: no execution for 53 min of market time from 14:36" in stopped
    # a pause of 12 min (18x the usual spacing, under the 15 min floor) is not
    pause = pd.concat([executions(["filled"] * 80, at, every_s=40),
                       executions(["filled"] * 80, at, every_s=40).assign(
                           timestamp=lambda d: d["timestamp"] + pd.Timedelta(minutes=65))])
    assert "orders stopped" not in (sv.partial_outage_affecting_trading(ev(executions=pause), CFG) or "")
    # too few executions to know the usual rate: nothing said
    few = executions(["filled"] * 10, at, every_s=40)
    assert sv.partial_outage_affecting_trading(ev(executions=few), CFG) is None
    # the same silence with the market closed (Saturday) is no outage
    sat = TimeWindow.parse(ts(SATURDAY, "13:30"), ts(SATURDAY, "15:30"))
    quiet = flowing.assign(timestamp=flowing["timestamp"] + pd.Timedelta(days=5))
    closed = SeverityEvidence(window=sat, executions=quiet, critical={s: True for s in SERVICES})
    assert sv.partial_outage_affecting_trading(closed, CFG) is None


def test_stale_prices_count_only_while_the_market_is_open() -> None:
    friday = ts(FRIDAY, "21:30")  # the market closes at 22:00: prices stop, ages grow
    ages = list(np.arange(60, dtype=float) + 1.0)
    ages = [1.0] * 30 + [60.0 * (i + 1) for i in range(30)]
    closing = metric("market_data_age", friday, ages, service="data-ingestor")
    win = TimeWindow.parse(ts(FRIDAY, "21:30"), ts(FRIDAY, "22:30"))
    e = SeverityEvidence(window=win, metrics=closing, critical={s: True for s in SERVICES})
    assert sv.market_data_interruption(e, CFG) is None
    monday = metric("market_data_age", ts(MONDAY, "14:00"), ages, service="data-ingestor")
    reason = sv.market_data_interruption(ev(metrics=monday), CFG)
    assert reason is not None and "prices older than 60 s with the market open from 14:31" in reason
    # an illiquid symbol stale through most of its baseline's market hours is chronic
    base = metric("market_data_age", ts(MONDAY, "10:00"), [300.0] * 60, service="data-ingestor")
    assert sv.market_data_interruption(ev(metrics=monday, baseline=base), CFG) is None


def test_a_slow_statement_is_a_degradation_and_a_quiet_database_is_not(tmp_path: Path) -> None:
    db = [e for e in demo_evidence(tmp_path / "w") if e.source == "postgres"]
    level, reasons = ef.suggest_severity(_write(tmp_path / "slow", db))
    assert level == "P2" and "slow query on eafix_prod: mean 22.4 ms" in reasons[0]
    quiet = [e for e in db if e.name not in ("pg_statements_delta", "pg_locks")]
    assert ef.suggest_severity(_write(tmp_path / "quiet", quiet))[0] == "P3"


def test_a_steady_stream_of_new_errors_is_a_p2_without_a_burst() -> None:
    at = ts(MONDAY, "14:00")
    quiet = [("indicator-engine", "INFO", "bar closed")] * 200
    stream = [("indicator-engine", "ERROR", f"invalid tick rejected: GBPUSD bid=0.0 (bar {i} skipped)") for i in range(10)]
    # one error a minute: never a burst, but ten of a new kind is a data-quality issue
    rows = schemas.conform([
        {"timestamp": at + pd.Timedelta(seconds=20 * i), "service": svc, "replica": 1, "level": lv, "message": m,
         "source": "x.txt", "line": i + 1}
        for i, (svc, lv, m) in enumerate(quiet[:50] + [r for pair in zip(stream, quiet[50:60], strict=True)
                                                          for r in pair] + quiet[60:])
    ], "logs")
    from eafix_forensics.analysis.logs import error_bursts

    assert error_bursts(rows).empty
    reason = sv.service_errors(ev(logs=rows, bursts=error_bursts(rows)), CFG)
    assert reason is not None and "10 errors in indicator-engine" in reason
    nine = rows[~((rows["level"] == "ERROR") & rows["message"].str.contains("bar 9 "))]
    assert sv.service_errors(ev(logs=nine, bursts=error_bursts(nine)), CFG) is None


def test_a_scrape_job_shared_by_several_instances_names_no_service() -> None:
    from eafix_forensics.analysis.metrics import breaches
    from eafix_forensics.model.catalogue import catalogue

    frames = []
    for s in ("execution-engine", "risk-manager"):
        values = np.ones(20)
        if s == "risk-manager":
            values[5:10] = 0
        frames.append(schemas.conform(pd.DataFrame({
            "timestamp": pd.date_range(ts(MONDAY, "14:00"), periods=20, freq="60s"), "query": "up",
            "series": f'{{job="eafix",instance="{s}:80"}}', "value": values, "name": "up", "job": "eafix",
            "instance": f"{s}:80",
        }), "metrics"))
    found = breaches(pd.concat(frames, ignore_index=True), catalogue(CFG))
    assert list(found["service"]) == ["risk-manager"]
    # one instance per job: the job names the service
    single = frames[1].assign(job="risk-manager")
    assert list(breaches(single, catalogue(CFG))["service"]) == ["risk-manager"]


def _reconcile_bundle(tmp: Path, error: str, statuses: dict[str, str]) -> EvidenceBundle:
    evidence = [
        Evidence("health", health(ts(MONDAY, "14:30"), statuses), source="services"),
        Evidence("reconcile", pd.DataFrame({"status": pd.Series([], dtype="str")}), source="services",
                 status="unavailable", error=error),
    ]
    # Collected during the incident: the reconcile answer (or its absence) is incident evidence.
    return EvidenceBundle.write(tmp, incident_id="INC-T", window=DEMO_WINDOW, evidence=evidence, config=Config(),
                                extra={"collected_at": ts(MONDAY, "14:31").isoformat()})


def test_a_reconciliation_nobody_answered_is_no_answer_not_a_failure(tmp_path: Path) -> None:
    # Every service unreachable: the reconcile endpoint gave no answer, so there is nothing to grade.
    refused = "ConnectError: [Errno 111] Connection refused (GET http://gui-gateway:8080/api/reconcile/positions)"
    dark = _reconcile_bundle(tmp_path / "dark", refused, {s: "unreachable" for s in SERVICES})
    table = sv.severity_table(dark).set_index("rule")
    assert not table.loc["reconciliation_failure", "met"]
    assert table.loc["reconciliation_failure", "reason"].startswith("no answer: reconcile unavailable: ConnectError")
    assert table.loc["position_data_corruption", "reason"].startswith("no answer: reconcile unavailable")
    dq = table.loc["data_quality_or_monitoring_issue"]
    assert dq["met"] and "reconcile unavailable (no answer: ConnectError" in dq["reason"]
    # The same with the services up and the endpoint refusing: still no answer.
    assert not sv.severity_table(_reconcile_bundle(tmp_path / "up", refused, all_ok())).set_index("rule").loc[
        "reconciliation_failure", "met"]
    # An answer saying it could not reconcile is a failure (P1).
    answered = _reconcile_bundle(tmp_path / "500", "http://gui-gateway:8080/api/reconcile/positions: HTTP 500: "
                                 "broker position feed timed out after 1 try", all_ok())
    table = sv.severity_table(answered).set_index("rule")
    assert table.loc["reconciliation_failure", "met"] and "HTTP 500" in table.loc["reconciliation_failure", "reason"]
    assert ef.suggest_severity(answered)[0] == "P1"
