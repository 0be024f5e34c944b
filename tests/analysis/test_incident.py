"""Incident milestones and status updates as TIMELINE events; the record rebuilt from a bundle."""

from __future__ import annotations

import pandas as pd
import pytest

from eafix_forensics.analysis.incident import (
    Incident,
    bundle_events,
    incident_events,
    incident_from_bundle,
    incident_tables,
)
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.demo import DEMO_INCIDENT_TOML, DEMO_WINDOW, build_demo
from eafix_forensics.errors import BundleError, ConfigError
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources.incident import parse_incident_toml


def T(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def test_demo_events_in_order(tmp_path):
    ev = bundle_events(build_demo(tmp_path))
    assert list(ev.columns) == list(schemas.SCHEMAS["timeline"])
    assert list(zip(ev["timestamp"].dt.strftime("%H:%M"), ev["kind"], strict=True)) == [
        ("14:05", "incident_triggered"), ("14:09", "acknowledged"), ("14:15", "status_update"),
        ("14:20", "responded"), ("14:45", "status_update"), ("15:05", "status_update"),
        ("15:20", "resolved"), ("15:20", "status_update"),
    ]
    first = ev.iloc[0]
    assert first["severity"] == "critical"  # a P1
    assert first["summary"] == ("INC-DEMO triggered (P1): Signal latency above 5 s after execution-engine deploy "
                                "[execution-engine, signal-generator]")
    assert first["ref"] == "incident:INC-DEMO:triggered"
    assert ev.iloc[1]["summary"] == "INC-DEMO acknowledged 4 min after the trigger"
    assert ev.iloc[4]["summary"].startswith("Identified: Async broker pool")
    assert ev.iloc[4]["ref"] == "incident_updates:1"
    assert set(ev["source"]) == {"incident"} and set(ev["service"]) == {"execution-engine"}


def test_open_p3_has_only_reached_milestones():
    rec = Incident("INC-9", triggered_at=T("2024-12-02T10:00Z"), severity="P3")
    tables = incident_tables(rec)
    ev = incident_events(tables["incident"], tables["incident_updates"])
    assert list(ev["kind"]) == ["incident_triggered"]
    assert ev.iloc[0]["severity"] == "warning"


def test_round_trip_through_a_bundle(tmp_path):
    rec = parse_incident_toml(DEMO_INCIDENT_TOML, incident_id="INC-DEMO")
    back = incident_from_bundle(build_demo(tmp_path))
    for field in ("incident_id", "title", "severity", "services", "triggered_at", "acknowledged_at",
                  "responded_at", "resolved_at"):
        assert getattr(back, field) == getattr(rec, field), field
    pd.testing.assert_frame_equal(back.updates, rec.updates)
    pd.testing.assert_frame_equal(back.action_items, rec.action_items)
    assert back.as_of is not None


def test_bundle_without_incident(tmp_path):
    bundle = EvidenceBundle.write(
        tmp_path / "b", incident_id="INC-1", window=DEMO_WINDOW,
        evidence=[Evidence(t, pd.DataFrame(), source="incident", status="unavailable", error="no record")
                  for t in ("incident", "incident_updates", "action_items")])
    assert bundle_events(bundle).empty
    with pytest.raises(BundleError, match="no incident record in this bundle .incident table: unavailable"):
        incident_from_bundle(bundle)


def test_incident_validates_its_fields():
    with pytest.raises(ConfigError, match="severity 'P5'"):
        Incident("I", triggered_at=T("2024-12-02T10:00Z"), severity="P5")
    with pytest.raises(ConfigError, match="needs a UTC offset"):
        Incident("I", triggered_at=pd.Timestamp("2024-12-02T10:00"))
    with pytest.raises(ConfigError, match="resolved_at .* is before triggered_at"):
        Incident("I", triggered_at=T("2024-12-02T10:00Z"), resolved_at=T("2024-12-02T09:00Z"))
