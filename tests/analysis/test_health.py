"""analysis.health: timeline events and trading impact from the services tables."""

from __future__ import annotations

import pandas as pd
import pytest

from eafix_forensics.analysis.health import (
    bundle_events,
    execution_events,
    health_events,
    impact_from_bundle,
    impact_summary,
    reconcile_events,
)
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.demo import DEMO_WINDOW, build_demo
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources.services import shape_records
from eafix_forensics.window import TimeWindow

T0 = pd.Timestamp("2024-12-02T14:30:00Z")
WINDOW = TimeWindow.parse("2024-12-02T14:00:00Z", "2024-12-02T15:00:00Z")


def _health(rows):
    base = {"checked_at": T0, "url": "http://localhost:8085/healthz", "latency_ms": 12.0, "error": None}
    return schemas.conform([{**base, **r} for r in rows], "health")


def _same_as_timeline(frame):
    assert list(frame.columns) == list(schemas.SCHEMAS["timeline"])
    assert frame.dtypes.astype(str).tolist() == schemas.empty("timeline").dtypes.astype(str).tolist()


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"))


# ---------------------------------------------------------------- health_events
def test_health_events_one_per_failed_check_with_severity():
    frame = _health([
        {"service": "gui-gateway", "status_code": 200, "status": "ok"},
        {"service": "execution-engine", "status_code": 503, "status": "down",
         "error": "HTTP 503: broker connection pool exhausted", "latency_ms": 5003.0},
        {"service": "risk-manager", "status_code": None, "status": "unreachable", "error": "cannot connect",
         "critical": False},
        {"service": "data-ingestor", "status_code": 200, "status": "degraded", "error": "slow: answered in 2500 ms"},
    ])
    ev = health_events(frame)
    _same_as_timeline(ev)
    assert set(ev["kind"]) == {"health_failed"} and set(ev["source"]) == {"services"}
    got = dict(zip(ev["service"], ev["severity"], strict=True))
    assert got == {"execution-engine": "critical", "risk-manager": "warning", "data-ingestor": "warning"}
    ee = ev[ev["service"] == "execution-engine"].iloc[0]
    assert ee["timestamp"] == T0
    assert ee["summary"] == (
        "execution-engine down: HTTP 503: broker connection pool exhausted "
        "(GET http://localhost:8085/healthz, 5003 ms)"
    )
    assert ee["ref"] == "health:execution-engine@2024-12-02T14:30:00Z"


def test_health_events_empty_inputs():
    _same_as_timeline(health_events(schemas.empty("health")))
    assert len(health_events(_health([{"service": "a", "status": "ok", "status_code": 200}]))) == 0


# ---------------------------------------------------------------- executions and reconcile
def _executions(rows):
    return shape_records("executions", rows, service="execution-engine", fetched_at=T0)


def test_execution_events_first_failure_per_service_with_counts():
    frame = _executions([
        {"id": "E1", "ts": "2024-12-02T14:05:00Z", "status": "filled"},
        {"id": "E3", "ts": "2024-12-02T14:20:00Z", "status": "REJECTED", "order_id": "O3", "reason": "no margin"},
        {"id": "E2", "ts": "2024-12-02T14:10:00Z", "status": "failed", "order_id": "O2",
         "reason": "broker timeout after 5000 ms"},
        {"id": "E4", "ts": "2024-12-02T14:25:00Z", "status": "failed"},
    ])
    ev = execution_events(frame)
    _same_as_timeline(ev)
    assert len(ev) == 1
    e = ev.iloc[0]
    assert e["timestamp"] == pd.Timestamp("2024-12-02T14:10:00Z")
    assert e["kind"] == "first_error" and e["severity"] == "warning" and e["ref"] == "executions:E2"
    assert e["summary"] == (
        "first failed execution: order O2 failed (broker timeout after 5000 ms); "
        "1 rejected and 2 failed in the window"
    )


def test_execution_events_none_when_all_filled():
    assert len(execution_events(_executions([{"id": "E1", "ts": "2024-12-02T14:05:00Z", "status": "filled"}]))) == 0


def test_reconcile_events_one_critical_event_per_mismatch():
    frame = shape_records("reconcile", [
        {"account_id": "17", "symbol": "EURUSD", "internal": 100, "broker": 100},
        {"account_id": "21", "symbol": "USDJPY", "internal": 80000, "broker": 70000, "message": "missing fill"},
    ], service="gui-gateway", fetched_at=T0)
    ev = reconcile_events(frame)
    assert len(ev) == 1
    e = ev.iloc[0]
    assert e["severity"] == "critical" and e["kind"] == "health_failed" and e["service"] == "gui-gateway"
    assert e["summary"] == (
        "position reconciliation mismatch, account 21 USDJPY: internal 80000 vs broker 70000 (missing fill)"
    )
    assert e["ref"] == "reconcile:21:USDJPY" and e["timestamp"] == T0


# ---------------------------------------------------------------- impact_summary
def test_impact_summary_counts_what_the_severity_rules_read():
    positions = shape_records("positions", [
        {"id": "1", "symbol": "EURUSD", "qty": 100000, "exposure": -105000.0, "status": "open"},
        {"id": "2", "symbol": "EURUSD", "qty": 20000, "status": "OPEN"},  # no exposure: its quantity
        {"id": "3", "symbol": "GBPUSD", "qty": 5000},  # no status, non-zero: open
        {"id": "4", "symbol": "USDJPY", "qty": 7000, "exposure": 7000.0, "status": "closed"},
    ], service="gui-gateway", fetched_at=T0)
    executions = _executions([
        {"id": "a", "ts": "2024-12-02T13:00:00Z", "status": "failed"},  # before the window
        {"id": "b", "ts": "2024-12-02T14:10:00Z", "status": "rejected"},
        {"id": "c", "ts": "2024-12-02T14:11:00Z", "status": "timeout"},
        {"id": "d", "ts": "2024-12-02T14:12:00Z", "status": "filled"},
    ])
    signals = shape_records("signals", [
        {"id": "s1", "ts": "2024-12-02T14:01:00Z", "latency_ms": 6200},
        {"id": "s2", "ts": "2024-12-02T14:02:00Z", "latency_ms": 300},
    ], service="signal-generator", fetched_at=T0)
    reconcile = shape_records("reconcile", [
        {"symbol": "EURUSD", "internal": 1, "broker": 2}, {"symbol": "GBPUSD", "status": "match"},
    ], service="gui-gateway", fetched_at=T0)
    health = _health([
        {"service": "execution-engine", "status": "down", "status_code": 503},
        {"service": "risk-manager", "status": "unreachable", "critical": False},
        {"service": "data-ingestor", "status": "degraded", "status_code": 200},
    ])
    out = impact_summary(health=health, positions=positions, executions=executions, signals=signals,
                         reconcile=reconcile, window=WINDOW)
    assert out["open_positions"] == 3
    assert out["exposure"] == 105000.0 + 20000.0 + 5000.0
    assert out["exposure_by_symbol"] == {"EURUSD": 125000.0, "GBPUSD": 5000.0}
    assert (out["executions"], out["rejected_executions"], out["failed_executions"]) == (3, 1, 1)
    assert out["first_failed_execution_at"] == pd.Timestamp("2024-12-02T14:10:00Z")
    assert (out["signals"], out["late_signals"], out["max_signal_latency_s"]) == (2, 1, 6.2)
    assert (out["reconciled"], out["reconcile_mismatches"]) == (2, 1)
    assert out["services_down"] == ["execution-engine", "risk-manager"]
    assert out["critical_services_down"] == ["execution-engine"]
    assert out["services_degraded"] == ["data-ingestor"]
    assert out["unknown"] == []


def test_impact_summary_unknown_is_none_not_zero():
    out = impact_summary()
    for key in ("open_positions", "exposure", "rejected_executions", "failed_executions",
                "reconcile_mismatches", "late_signals", "services_down"):
        assert out[key] is None, key
    assert out["unknown"] == ["health", "positions", "executions", "signals", "reconcile"]
    empty = impact_summary(positions=shape_records("positions", [], service="g", fetched_at=T0),
                           reconcile=shape_records("reconcile", [], service="g", fetched_at=T0))
    assert (empty["open_positions"], empty["exposure"], empty["reconcile_mismatches"]) == (0, 0.0, 0)


# ---------------------------------------------------------------- from a bundle
def test_demo_impact_is_p1_material_without_mismatches(demo_bundle):
    out = impact_from_bundle(demo_bundle)
    assert out["reconcile_mismatches"] == 0 and out["reconciled"] == 3
    assert out["open_positions"] == 3
    assert out["exposure_by_symbol"] == {"EURUSD": 125976.0, "GBPUSD": 63275.0, "USDJPY": 80000.0}
    assert out["rejected_executions"] == 7 and out["failed_executions"] == 7
    assert out["first_failed_execution_at"] == pd.Timestamp("2024-12-02T13:55:00Z")
    assert out["late_signals"] == 24
    assert out["services_down"] == ["execution-engine"]
    assert out["unknown"] == [] and out["truncated"] == []


def test_demo_bundle_events(demo_bundle):
    ev = bundle_events(demo_bundle)
    _same_as_timeline(ev)
    assert ev[["timestamp", "service", "kind", "severity"]].values.tolist() == [
        [pd.Timestamp("2024-12-02T13:55:00Z"), "execution-engine", "first_error", "warning"],
        [pd.Timestamp("2024-12-02T14:30:00Z"), "execution-engine", "health_failed", "critical"],
    ]
    assert "HTTP 503: broker connection pool exhausted" in ev["summary"].iloc[1]
    assert ev["ref"].iloc[0] == "executions:EX-T000"


def test_demo_late_signals_are_inside_the_latency_breach(demo_bundle):
    signals = demo_bundle.table("signals")
    late = signals[signals["latency_ms"] > 5000]
    assert late["timestamp"].min() >= pd.Timestamp("2024-12-02T14:02Z")
    assert late["timestamp"].max() < pd.Timestamp("2024-12-02T14:50Z")


def test_bundle_without_services_tables(tmp_path):
    bundle = EvidenceBundle.write(
        tmp_path / "b", incident_id="INC-X", window=DEMO_WINDOW,
        evidence=[Evidence("logs", schemas.empty("logs"), source="logs")],
    )
    _same_as_timeline(bundle_events(bundle))
    out = impact_from_bundle(bundle)
    assert out["reconcile_mismatches"] is None and out["open_positions"] is None
    assert len(out["unknown"]) == 5


def test_bundle_with_unavailable_services_tables(tmp_path):
    evidence = [Evidence("health", schemas.empty("health"), source="services", status="unavailable", error="x")]
    evidence += [Evidence(t, pd.DataFrame(), source="services", status="unavailable", error="down")
                 for t in ("positions", "signals", "executions", "reconcile")]
    bundle = EvidenceBundle.write(tmp_path / "b", incident_id="INC-Y", window=DEMO_WINDOW, evidence=evidence)
    assert len(bundle_events(bundle)) == 0
    out = impact_from_bundle(bundle)
    assert out["reconcile_mismatches"] is None and out["failed_executions"] is None
