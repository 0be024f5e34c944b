"""The runbook's update message, filled from the incident record."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from eafix_forensics import update_message
from eafix_forensics.analysis.incident import Incident
from eafix_forensics.demo import DEMO_INCIDENT_TOML, build_demo
from eafix_forensics.errors import ConfigError, ReportError
from eafix_forensics.sources.incident import parse_incident_toml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo() -> Incident:
    return parse_incident_toml(DEMO_INCIDENT_TOML, incident_id="INC-DEMO")


def test_identified_on_the_demo_is_the_runbook_template_filled(demo):
    assert update_message(demo, "Identified") == (
        "🚨 INCIDENT UPDATE - INC-DEMO\n"
        "Status: Identified\n"
        "Impact: execution-engine, signal-generator (P1): Signal latency above 5 s after execution-engine deploy\n"
        "Actions: Async broker pool from the 13:48 execution-engine deploy exhausts connections\n"
        "ETA: Not yet known; P1 resolution target 2024-12-02 22:05 UTC\n"
        "Next Update: 2024-12-02 15:15 UTC"  # the 14:45 Identified update + 30 min (P1)
    )


def test_bundle_gives_the_same_message(demo, tmp_path):
    assert update_message(build_demo(tmp_path), "identified") == update_message(demo, "Identified")


def test_resolved(demo):
    lines = update_message(demo, "Resolved").splitlines()
    assert lines[1] == "Status: Resolved"
    assert lines[3] == "Actions: Rollback holding for 15 minutes; closing"
    assert lines[4] == "ETA: Resolved at 2024-12-02 15:20 UTC"
    assert lines[5].startswith("Next Update: None planned")


def test_given_fields_win_over_the_record(demo):
    msg = update_message(
        demo, "Monitoring", impact="EURUSD orders delayed", actions="Watching broker acks",
        eta=pd.Timestamp("2024-12-02T15:30:00+01:00"), next_update="after the 15:00 fixing",
    )
    assert msg.splitlines()[2:] == [
        "Impact: EURUSD orders delayed",
        "Actions: Watching broker acks",
        "ETA: 2024-12-02 14:30 UTC",
        "Next Update: after the 15:00 fixing",
    ]


def test_new_status_on_an_open_p2_uses_its_cadence():
    rec = Incident("INC-7", triggered_at=pd.Timestamp("2024-12-02T10:00Z"), severity="P2",
                   services=("data-ingestor",), title="Stale EURGBP quotes")
    msg = update_message(rec, "Investigating", at="2024-12-02T10:20Z").splitlines()
    assert msg[2] == "Impact: data-ingestor (P2): Stale EURGBP quotes"
    assert msg[3] == "Actions: Investigating the cause"
    assert msg[4] == "ETA: Not yet known; P2 resolution target 2024-12-03 10:00 UTC"
    assert msg[5] == "Next Update: 2024-12-02 12:20 UTC"  # 2 h cadence for P2


def test_unknown_status_is_refused(demo):
    with pytest.raises(ConfigError, match=r"status 'Fixed': expected one of Investigating, Identified"):
        update_message(demo, "Fixed")


def test_packaged_template_is_the_runbooks_update_template():
    packaged = ROOT / "eafix_forensics" / "templates" / "incident_update.md.j2"
    # The runbook's Update Template, field by field.
    assert [line.split(":")[0] for line in packaged.read_text(encoding="utf-8").splitlines()[1:]] == [
        "Status", "Impact", "Actions", "ETA", "Next Update"]


def test_custom_template_and_its_errors(demo, tmp_path):
    t = tmp_path / "short.j2"
    t.write_text("{{ incident_id }} is {{ status }} until {{ eta }}\n")
    assert update_message(demo, "Monitoring", template=t) == (
        "INC-DEMO is Monitoring until Not yet known; P1 resolution target 2024-12-02 22:05 UTC")
    t.write_text("{{ incident_id }} {{ no_such_field }}")
    with pytest.raises(ReportError, match="no_such_field"):
        update_message(demo, "Monitoring", template=t)
    t.write_text("{% if %}")
    with pytest.raises(ReportError, match=r"short.j2: line 1"):
        update_message(demo, "Monitoring", template=t)
