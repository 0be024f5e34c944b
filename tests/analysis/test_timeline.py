"""timeline(), merge_events(), missing_sources() and around() on INC-DEMO and on
bundles with a source unavailable, missing, skipped or unreadable."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import eafix_forensics as ef
from eafix_forensics.analysis.timeline import merge_events, missing_sources
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.config import Config
from eafix_forensics.demo import DEMO_WINDOW, T, build_demo, demo_evidence
from eafix_forensics.errors import ForensicsError
from eafix_forensics.model import tables as schemas

DEPLOY_SHA = "9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> EvidenceBundle:
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def demo_timeline(demo: EvidenceBundle) -> pd.DataFrame:
    return ef.timeline(demo)


def _bundle(path: Path, evidence: list[Evidence]) -> EvidenceBundle:
    return EvidenceBundle.write(path, incident_id="INC-T", window=DEMO_WINDOW, evidence=evidence, config=Config())


def _without_source(workdir: Path, source: str, *, status: str | None = None, error: str = "") -> list[Evidence]:
    out = []
    for e in demo_evidence(workdir):
        if e.source != source:
            out.append(e)
        elif status is not None:
            empty = schemas.empty(e.name) if e.name in schemas.SCHEMAS else pd.DataFrame()
            out.append(Evidence(e.name, empty, source=source, status=status, error=error or None))
    return out


def _ev(ts: str, source: str, service: str, kind: str, severity: str, summary: str, ref: str) -> dict[str, object]:
    return {"timestamp": T(ts), "source": source, "service": service, "kind": kind, "severity": severity,
            "summary": summary, "ref": ref}


def test_demo_timeline_has_every_source_in_time_order(demo_timeline: pd.DataFrame) -> None:
    tl = demo_timeline
    assert list(tl.columns[:7]) == list(schemas.SCHEMAS["timeline"])
    assert tl["timestamp"].is_monotonic_increasing
    assert set(tl["source"]) == {"logs", "prometheus", "postgres", "git", "services", "incident"}
    assert {"deploy", "first_error", "error_burst", "threshold_breach", "slow_query", "lock_wait", "health_failed",
            "incident_triggered", "acknowledged", "resolved", "status_update"} <= set(tl["kind"])
    assert tl["ref"].notna().all() and (tl["ref"].str.len() > 0).all()
    assert tl.attrs["missing_sources"] == {}
    deploy = tl[tl["kind"] == "deploy"].iloc[0]
    assert (deploy["timestamp"], deploy["service"], deploy["ref"]) == (T("13:48"), "execution-engine", DEPLOY_SHA)


def test_demo_first_error_comes_before_the_first_breach(demo_timeline: pd.DataFrame) -> None:
    tl = demo_timeline.reset_index(drop=True)
    first_error = tl[tl["kind"] == "first_error"].iloc[0]
    breaches = tl[tl["kind"] == "threshold_breach"]
    # The demo's first breach (order execution p95) starts in the same second as the
    # first BrokerTimeout; the log line still reads first, and every breach that is
    # not that one (the signal latency ones) starts strictly later.
    assert first_error.name < breaches.index[0]
    assert first_error["timestamp"] <= breaches["timestamp"].min()
    assert first_error["timestamp"] < breaches[breaches["severity"] == "critical"]["timestamp"].min()
    assert first_error["service"] == "execution-engine"


def test_the_same_failure_seen_by_logs_and_the_trading_api_is_one_event(demo_timeline: pd.DataFrame) -> None:
    first = demo_timeline[(demo_timeline["kind"] == "first_error") & (demo_timeline["service"] == "execution-engine")]
    assert len(first) == 1
    row = first.iloc[0]
    assert row["source"] == "logs" and row["sources"] == "logs,services" and row["merged"] == 2
    assert row["ref"].startswith("logs:") and "executions:" in row["ref"]


def test_merge_events_merges_duplicates_and_keeps_refs() -> None:
    a = _ev("14:00:00.200", "logs", "x", "error_burst", "warning", "burst", "logs:a.txt:10")
    dup_same_ref = _ev("14:00:00.900", "logs", "x", "error_burst", "critical", "burst again", "logs:a.txt:10")
    other_ref = _ev("14:00:00", "prometheus", "x", "threshold_breach", "warning", "latency", "metrics:a:{}")
    other_breach = _ev("14:00:00", "prometheus", "x", "threshold_breach", "warning", "errors", "metrics:b:{}")
    later = _ev("14:01:00", "logs", "x", "error_burst", "warning", "burst", "logs:a.txt:10")
    out = merge_events([pd.DataFrame([later, a, other_ref]), pd.DataFrame([dup_same_ref, other_breach])])
    assert len(out) == 4
    burst = out[(out["kind"] == "error_burst") & (out["timestamp"] < T("14:01"))].iloc[0]
    assert burst["merged"] == 2 and burst["severity"] == "critical" and burst["summary"] == "burst"
    assert burst["ref"] == "logs:a.txt:10"
    # Two different metrics breaching in the same second are two events.
    assert sorted(out[out["kind"] == "threshold_breach"]["ref"]) == ["metrics:a:{}", "metrics:b:{}"]
    assert out["timestamp"].is_monotonic_increasing


def test_merge_events_of_nothing_is_an_empty_timeline() -> None:
    out = merge_events([schemas.empty("timeline"), pd.DataFrame()])
    assert out.empty and list(out.columns[:7]) == list(schemas.SCHEMAS["timeline"])
    assert out["timestamp"].dtype == "datetime64[ns, UTC]"


def test_same_instant_orders_change_then_log_then_metric_then_people() -> None:
    at = "14:00:00"
    rows = [
        _ev(at, "incident", "x", "incident_triggered", "critical", "triggered", "incident:I:triggered"),
        _ev(at, "prometheus", "x", "threshold_breach", "warning", "breach", "metrics:a:{}"),
        _ev(at, "logs", "x", "first_error", "warning", "error", "logs:a:1"),
        _ev(at, "git", "x", "deploy", "info", "deploy", "abc"),
    ]
    out = merge_events([pd.DataFrame(rows)])
    assert list(out["kind"]) == ["deploy", "first_error", "threshold_breach", "incident_triggered"]


def test_timeline_with_prometheus_unavailable_still_works_and_says_so(tmp_path: Path) -> None:
    ev = _without_source(tmp_path / "w", "prometheus", status="unavailable", error="GET /api/v1/query_range: connection refused")
    bundle = _bundle(tmp_path / "b", ev)
    tl = ef.timeline(bundle)
    assert "threshold_breach" not in set(tl["kind"])
    assert {"first_error", "deploy", "incident_triggered"} <= set(tl["kind"])
    assert set(tl.attrs["missing_sources"]) == {"prometheus"}
    assert "connection refused" in tl.attrs["missing_sources"]["prometheus"]
    missing = missing_sources(bundle)
    assert list(missing["source"]) == ["prometheus"]
    assert missing.iloc[0]["status"] == "unavailable"
    assert "metrics: unavailable" in missing.iloc[0]["tables"]


def test_timeline_names_a_source_absent_from_the_bundle_and_a_skipped_one(tmp_path: Path) -> None:
    ev = _without_source(tmp_path / "w", "git")  # no git tables at all
    ev = [e for e in ev if e.source != "postgres"] + [
        Evidence(n, schemas.empty(n), source="postgres", status="skipped")
        for n in ("pg_statements", "pg_activity", "pg_locks", "pg_connections")
    ]
    bundle = _bundle(tmp_path / "b", ev)
    tl = ef.timeline(bundle)
    assert "deploy" not in set(tl["kind"]) and "lock_wait" not in set(tl["kind"])
    assert len(tl[tl["kind"] == "first_error"]) >= 1
    missing = missing_sources(bundle).set_index("source")["status"].to_dict()
    assert missing == {"git": "missing", "postgres": "skipped"}
    assert set(tl.attrs["missing_sources"]) == {"git", "postgres"}


def test_a_partly_unavailable_source_is_reported_but_its_events_kept(tmp_path: Path) -> None:
    ev = [e for e in demo_evidence(tmp_path / "w") if e.name != "health"]
    ev.append(Evidence("health", schemas.empty("health"), source="services", status="unavailable", error="timed out"))
    bundle = _bundle(tmp_path / "b", ev)
    row = missing_sources(bundle).set_index("source").loc["services"]
    assert row["status"] == "partial" and row["reason"] == "timed out"
    tl = ef.timeline(bundle)
    # Failed executions come from another services table and are still there.
    assert "executions:" in " ".join(tl[tl["kind"] == "first_error"]["ref"])
    assert "health_failed" not in set(tl["kind"])


def test_an_unreadable_table_costs_only_its_source(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b", demo_evidence(tmp_path / "w"))
    (bundle.path / "metrics.parquet").write_bytes(b"not parquet")
    tl = ef.timeline(bundle)
    assert "threshold_breach" not in set(tl["kind"])
    assert {"deploy", "lock_wait", "first_error"} <= set(tl["kind"])
    assert tl.attrs["missing_sources"]["prometheus"].startswith("error: IntegrityError")


def test_around_returns_the_slice_with_offsets(demo_timeline: pd.DataFrame) -> None:
    near = ef.around(demo_timeline, "2024-12-02T14:05:00Z", minutes=5)
    assert near["timestamp"].between(T("14:00"), T("14:10")).all()
    assert "incident_triggered" in set(near["kind"])
    assert len(near) == demo_timeline["timestamp"].between(T("14:00"), T("14:10")).sum()
    trig = near[near["kind"] == "incident_triggered"].iloc[0]
    assert trig["offset"] == pd.Timedelta(0)
    assert (near["offset"] == near["timestamp"] - T("14:05")).all()
    # A time without an offset is UTC; the bounds are inclusive.
    edge = ef.around(demo_timeline, T("13:46"), minutes=2)
    assert list(edge["kind"]) == ["deploy"]
    assert ef.around(demo_timeline, "2024-12-02 13:48", minutes=0)["kind"].tolist() == ["deploy"]


def test_around_rejects_a_negative_span(demo_timeline: pd.DataFrame) -> None:
    with pytest.raises(ForensicsError, match="minutes"):
        ef.around(demo_timeline, T("14:00"), minutes=-1)


def test_asking_twice_gives_an_independent_copy_and_a_changed_file_is_reread(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b", demo_evidence(tmp_path / "w"))
    first = ef.timeline(bundle)
    first.loc[0, "summary"] = "edited by the caller"
    first.attrs["missing_sources"]["logs"] = "edited"
    again = ef.timeline(bundle)
    assert again.loc[0, "summary"] != "edited by the caller" and again.attrs["missing_sources"] == {}
    (bundle.path / "metrics.parquet").write_bytes(b"changed on disk")
    assert "prometheus" in ef.timeline(bundle).attrs["missing_sources"]


def test_an_exact_symptom_within_one_metric_step_is_the_first_symptom():
    import pandas as pd

    from eafix_forensics.model import tables as schemas
    from eafix_forensics.analysis.timeline import first_symptom

    t0 = pd.Timestamp("2024-12-02T14:30:00Z")
    events = schemas.conform([
        {"timestamp": t0, "source": "prometheus", "service": "exe", "kind": "threshold_breach",
         "severity": "warning", "summary": "slow", "ref": "metrics:x"},
        {"timestamp": t0 + pd.Timedelta(seconds=3.9), "source": "logs", "service": "exe", "kind": "first_error",
         "severity": "warning", "summary": "lock timeout", "ref": "logs:a:1"},
    ], "timeline")
    assert first_symptom(events)["kind"] == "threshold_breach"
    assert first_symptom(events, metric_step=pd.Timedelta(seconds=10))["kind"] == "first_error"
    # a log line more than one step later does not move it
    assert first_symptom(events, metric_step=pd.Timedelta(seconds=3))["kind"] == "threshold_breach"
