"""SLA report against the runbook's targets, on the demo and on the edge cases."""

from __future__ import annotations

import pandas as pd
import pytest

from eafix_forensics import sla_report
from eafix_forensics.analysis.calendar import TradingCalendar
from eafix_forensics.analysis.incident import Incident
from eafix_forensics.config import Config
from eafix_forensics.demo import DEMO_INCIDENT_TOML, build_demo
from eafix_forensics.sources.incident import parse_incident_toml

M = pd.Timedelta(minutes=1)
H = pd.Timedelta(hours=1)


def T(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def by_sla(report: pd.DataFrame) -> dict[str, dict]:
    """Rows by sla name; to_dict turns an undecided (<NA>) met into None."""
    return {r["sla"]: r for r in report.to_dict("records")}


def updates(*times: str, status: str = "Investigating") -> list[dict]:
    return [{"timestamp": T(t), "status": status, "text": f"update at {t}"} for t in times]


def test_demo_meets_every_sla_with_exact_margins():
    rec = parse_incident_toml(DEMO_INCIDENT_TOML, incident_id="INC-DEMO")
    report = sla_report(rec)
    assert list(report["sla"]) == ["acknowledge", "respond", "resolve", "initial_update",
                                   "update_cadence", "resolution_notice"]
    rows = by_sla(report)
    assert {k: (r["target"], r["actual"], r["margin"], r["met"]) for k, r in rows.items()} == {
        "acknowledge": (15 * M, 4 * M, 11 * M, True),
        "respond": (30 * M, 15 * M, 15 * M, True),
        "resolve": (8 * H, 75 * M, 8 * H - 75 * M, True),
        "initial_update": (30 * M, 10 * M, 20 * M, True),
        "update_cadence": (30 * M, 30 * M, 0 * M, True),  # 14:15 → 14:45 exactly on the cadence
        "resolution_notice": (15 * M, 0 * M, 15 * M, True),
    }
    assert rows["resolve"]["clock"] == "market hours"
    assert rows["resolve"]["deadline"] == T("2024-12-02T22:05Z")
    assert str(report["met"].dtype) == "boolean"
    assert str(report["margin"].dtype) == "timedelta64[ns]"


def test_no_acknowledgement_yet():
    rec = Incident("INC-OPEN", triggered_at=T("2024-12-02T14:00Z"), severity="P1")
    early = by_sla(sla_report(rec, now="2024-12-02T14:10Z"))
    assert pd.isna(early["acknowledge"]["actual"])
    assert early["acknowledge"]["met"] is None  # still running: neither met nor missed
    assert early["acknowledge"]["margin"] == 5 * M  # time left
    assert early["acknowledge"]["detail"] == "no acknowledgement yet; 5 min left"
    late = by_sla(sla_report(rec, now="2024-12-02T14:20Z"))
    assert late["acknowledge"]["met"] is False and late["acknowledge"]["margin"] == -5 * M
    assert late["acknowledge"]["detail"] == "no acknowledgement yet; overdue by 5 min"
    assert late["resolve"]["met"] is None and late["resolve"]["margin"] == 8 * H - 20 * M
    assert late["resolution_notice"]["met"] is None


def test_open_incident_is_measured_when_the_record_was_read():
    rec = Incident("INC-OPEN", triggered_at=T("2024-12-02T14:00Z"), severity="P0", as_of=T("2024-12-02T14:03Z"))
    rows = by_sla(sla_report(rec))
    assert rows["acknowledge"]["margin"] == 2 * M and rows["acknowledge"]["met"] is None


def test_p3_resolved_across_a_weekend_counts_business_days():
    # Friday 16:00 → Tuesday 10:00: 90 h of wall clock, 8 + 24 + 10 = 42 h of business days.
    rec = Incident("INC-P3", triggered_at=T("2024-11-29T16:00Z"), severity="P3",
                   acknowledged_at=T("2024-11-29T16:30Z"), responded_at=T("2024-11-29T18:00Z"),
                   resolved_at=T("2024-12-03T10:00Z"))
    rows = by_sla(sla_report(rec))
    res = rows["resolve"]
    assert res["clock"] == "business days"
    assert res["target"] == pd.Timedelta(days=5)
    assert res["actual"] == 42 * H
    assert res["met"] is True and res["margin"] == pd.Timedelta(days=5) - 42 * H
    # Five business days from Friday 16:00 end the next Friday 16:00, not Wednesday.
    assert res["deadline"] == T("2024-12-06T16:00Z")


def test_p3_missed_after_more_than_five_business_days():
    rec = Incident("INC-P3", triggered_at=T("2024-11-29T16:00Z"), severity="P3",
                   resolved_at=T("2024-12-09T10:00Z"))
    res = by_sla(sla_report(rec))["resolve"]
    # Fri 8 h + Mon-Fri 5 × 24 h + Mon 10 h = 138 h; the target is 120 h.
    assert res["actual"] == 138 * H and res["met"] is False and res["margin"] == -18 * H


def test_p1_with_a_45_minute_gap_misses_the_update_cadence():
    rec = Incident("INC-GAP", triggered_at=T("2024-12-02T14:00Z"), severity="P1",
                   acknowledged_at=T("2024-12-02T14:05Z"), responded_at=T("2024-12-02T14:10Z"),
                   resolved_at=T("2024-12-02T15:20Z"),
                   updates=updates("2024-12-02T14:10Z", "2024-12-02T14:55Z", "2024-12-02T15:20Z"))
    cad = by_sla(sla_report(rec))["update_cadence"]
    assert cad["target"] == 30 * M and cad["actual"] == 45 * M
    assert cad["met"] is False and cad["margin"] == -15 * M
    assert (cad["started_at"], cad["ended_at"]) == (T("2024-12-02T14:10Z"), T("2024-12-02T14:55Z"))
    assert "14:10→14:55" in cad["detail"]


def test_p1_resolution_counts_only_market_hours():
    # Friday 21:00 → Sunday 23:30 UTC: 1 h before the Friday close, 1.5 h after the Sunday open.
    rec = Incident("INC-WKND", triggered_at=T("2024-11-29T21:00Z"), severity="P1",
                   resolved_at=T("2024-12-01T23:30Z"))
    res = by_sla(sla_report(rec))["resolve"]
    assert res["actual"] == 150 * M and res["met"] is True
    # A custom calendar (a holiday on Monday) and the same clock are honoured.
    cal = TradingCalendar.from_config(Config.from_dict({"calendar": {"open_day": "Monday", "open_time": "08:00"}}))
    res2 = by_sla(sla_report(rec, calendar=cal))["resolve"]
    assert res2["actual"] == 60 * M


def test_never_acknowledged_before_resolution_is_missed():
    rec = Incident("INC-AUTO", triggered_at=T("2024-12-02T14:00Z"), severity="P2",
                   resolved_at=T("2024-12-02T14:02Z"))
    rows = by_sla(sla_report(rec))
    assert rows["acknowledge"]["met"] is False and pd.isna(rows["acknowledge"]["margin"])
    assert rows["resolution_notice"]["met"] is False
    assert rows["resolve"]["met"] is True and rows["resolve"]["clock"] == "wall clock"


def test_unclassified_incident_has_no_targets():
    rec = Incident("INC-NEW", triggered_at=T("2024-12-02T14:00Z"))
    report = sla_report(rec, now="2024-12-02T16:00Z")
    assert report["met"].isna().all() and report["target"].isna().all()
    assert set(report["detail"]) == {"severity not set: no targets"}


def test_bundle_gives_the_same_report_as_the_record(tmp_path):
    bundle = build_demo(tmp_path)
    rec = parse_incident_toml(DEMO_INCIDENT_TOML, incident_id="INC-DEMO")
    pd.testing.assert_frame_equal(sla_report(bundle), sla_report(rec))


@pytest.mark.parametrize("sev,ack,resp,cadence", [("P0", 5, 15, 30), ("P2", 60, 240, 120), ("P3", 240, 1440, 120)])
def test_targets_follow_the_runbook(sev, ack, resp, cadence):
    rec = Incident("I", triggered_at=T("2024-12-02T14:00Z"), severity=sev, resolved_at=T("2024-12-02T14:01Z"),
                   acknowledged_at=T("2024-12-02T14:01Z"), responded_at=T("2024-12-02T14:01Z"))
    rows = by_sla(sla_report(rec))
    assert rows["acknowledge"]["target"] == ack * M
    assert rows["respond"]["target"] == resp * M
    assert rows["initial_update"]["target"] == resp * M
    assert rows["update_cadence"]["target"] == cadence * M
