"""Error signatures, error bursts and the log events of the timeline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import eafix_forensics as ef
from eafix_forensics.analysis.logs import (
    bundle_events,
    error_bursts,
    error_signatures,
    log_events,
    signature,
)
from eafix_forensics.analysis.timeline import failed_services, first_symptom, merge_events
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.demo import DEMO_WINDOW, T
from eafix_forensics.demo.sample import _demo_logs
from eafix_forensics.model import tables as schemas

DATA = Path(__file__).resolve().parent.parent / "data" / "logs"


def logs(rows: list[tuple]) -> pd.DataFrame:
    """LOGS from (time, service, level, message) tuples."""
    return schemas.conform(
        [
            {"timestamp": t, "service": s, "replica": 1, "level": lv, "message": m, "source": "f.txt", "line": i + 1}
            for i, (t, s, lv, m) in enumerate(rows)
        ],
        "logs",
    )


# ------------------------------------------------------------------ signatures
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("2024-12-02 14:00:00,123 ERROR [exe] order 48213 failed after 5000 ms",
         "[exe] order <num> failed after <num> ms"),
        ("ERROR request 123e4567-e89b-12d3-a456-426614174000 failed", "request <uuid> failed"),
        ("CRITICAL ptr 0x7ffee4b2 sha 9b8e7d6c5b4a3928 gone", "ptr <hex> sha <hex> gone"),
        ("WARNING: user 'bob' and \"alice\" locked", "user <str> and <str> locked"),
        ("x.TimeoutError: pool exhausted\n  File a.py, line 3", "x.TimeoutError: pool exhausted"),
        ("upstream v2 returned 503", "upstream v2 returned <num>"),
    ],
)
def test_signature_masks_variable_parts(message, expected):
    assert signature(message) == expected


def test_error_signatures_group_count_and_span():
    df = logs([
        (T("14:00"), "exe", "ERROR", "ERROR order 1 not acknowledged after 5000 ms"),
        (T("14:01"), "exe", "ERROR", "ERROR order 22 not acknowledged after 5000 ms"),
        (T("14:02"), "gui", "CRITICAL", "CRITICAL order 333 not acknowledged after 4000 ms"),
        (T("14:03"), "gui", "ERROR", "ERROR upstream returned 503"),
        (T("14:04"), "gui", "WARNING", "WARNING order 4 not acknowledged after 1 ms"),  # not an error
        (T("14:05"), "exe", "INFO", "INFO fine"),
    ])
    sig = error_signatures(df)
    assert list(sig.columns) == ["signature", "count", "first_seen", "last_seen", "services", "level", "example"]
    assert sig.to_dict("records") == [
        {"signature": "order <num> not acknowledged after <num> ms", "count": 3, "first_seen": T("14:00"),
         "last_seen": T("14:02"), "services": "exe,gui", "level": "CRITICAL",
         "example": "ERROR order 1 not acknowledged after 5000 ms"},
        {"signature": "upstream returned <num>", "count": 1, "first_seen": T("14:03"), "last_seen": T("14:03"),
         "services": "gui", "level": "ERROR", "example": "ERROR upstream returned 503"},
    ]
    assert len(error_signatures(df, limit=1)) == 1


def test_error_signatures_without_errors_is_empty_with_columns():
    for frame in (schemas.empty("logs"), logs([(T("14:00"), "a", "INFO", "ok")])):
        sig = error_signatures(frame)
        assert len(sig) == 0
        assert list(sig.columns) == ["signature", "count", "first_seen", "last_seen", "services", "level", "example"]


# ------------------------------------------------------------------ bursts
def _steady(service: str, start: str, end: str, every_s: int, level: str = "ERROR") -> list[tuple]:
    out = []
    t = T(start)
    while t < T(end):
        out.append((t, service, level, f"{level} boom {t.value}"))
        t += pd.Timedelta(seconds=every_s)
    return out


def test_error_burst_is_found_against_the_services_own_baseline():
    rows = (
        _steady("exe", "13:00", "15:00", 60)  # baseline: one error a minute
        + _steady("exe", "14:10", "14:20", 10)  # burst: six more a minute
        + _steady("gui", "13:00", "15:00", 60, "INFO")
    )
    bursts = error_bursts(logs(rows))
    assert len(bursts) == 1
    b = bursts.iloc[0]
    assert (b["service"], b["start"], b["end"]) == ("exe", T("14:10"), T("14:20"))
    assert b["errors"] == 70 and b["peak_per_bucket"] == 7 and b["baseline_per_bucket"] == 1.0
    # A service erroring at a steady 1/min has no burst on its own.
    assert len(error_bursts(logs(_steady("exe", "13:00", "15:00", 60)))) == 0


def test_error_burst_rules_min_errors_and_gaps():
    # 3 errors in one minute: hot, but fewer than min_errors (5) in the burst.
    lone = _steady("exe", "14:00", "14:01", 20) + _steady("gui", "13:00", "15:00", 60, "INFO")
    assert len(error_bursts(logs(lone))) == 0
    # Two hot minutes two cold minutes apart are one burst; three apart are two.
    two_gap = _steady("exe", "14:00", "14:01", 15) + _steady("exe", "14:03", "14:04", 15)
    three_gap = _steady("exe", "14:00", "14:02", 15) + _steady("exe", "14:05", "14:07", 15)
    span = _steady("gui", "13:00", "15:00", 60, "INFO")
    assert len(error_bursts(logs(two_gap + span))) == 1
    assert error_bursts(logs(two_gap + span))["end"].item() == T("14:04")
    assert len(error_bursts(logs(three_gap + span))) == 2
    assert len(error_bursts(logs(three_gap + span), max_gap=3)) == 1


def test_error_bursts_empty_inputs():
    assert len(error_bursts(schemas.empty("logs"))) == 0
    assert list(error_bursts(schemas.empty("logs")).columns) == [
        "service", "start", "end", "errors", "peak_per_bucket", "baseline_per_bucket", "first_line"]


# ------------------------------------------------------------------ timeline events
def test_log_events_on_the_demo_logs(tmp_path):
    [ev] = _demo_logs(tmp_path)
    events = log_events(ev.frame)
    assert list(events.columns) == list(schemas.SCHEMAS["timeline"])
    got = [(r.timestamp, r.service, r.kind, r.severity) for r in events.itertuples()]
    assert got == [
        (T("13:48:30"), "execution-engine", "restart", "info"),
        (T("13:55:00"), "execution-engine", "first_error", "warning"),
        (T("14:00:00"), "execution-engine", "error_burst", "critical"),
        (T("14:12:00"), "gui-gateway", "first_error", "warning"),
    ]
    frame = ev.frame
    for r in events.itertuples():
        source, line = r.ref.split(":", 1)[1].rsplit(":", 1)
        row = frame[(frame["source"] == source) & (frame["line"] == int(line))]
        assert len(row) == 1 and row["service"].item() == r.service  # ref points back at the log line
    assert "2.14.0" in events["summary"].iloc[0]
    assert "BrokerTimeout" in events["summary"].iloc[1] and "126 in the logs" in events["summary"].iloc[1]
    assert events["summary"].iloc[2].startswith("error burst in execution-engine: 120 errors in 40 min")


def test_log_events_restarts_from_compose_exit_lines():
    df = ef.read_compose_logs(DATA / "compose_v2_timestamps.txt")
    events = log_events(df)
    restarts = events[events["kind"] == "restart"]
    assert list(zip(restarts["service"], restarts["severity"], restarts["timestamp"])) == [
        ("execution-engine", "info", pd.Timestamp("2024-12-02T14:00:01Z")),
        ("execution-engine", "info", pd.Timestamp("2024-12-02T14:00:01.5Z")),
        # exit has no time: placed at the service's last dated line before it
        ("execution-engine", "warning", pd.Timestamp("2024-12-02T14:00:05Z")),
    ]
    assert restarts["summary"].iloc[2] == "execution-engine container exited with code 137"
    assert restarts["ref"].iloc[2] == f"logs:{DATA / 'compose_v2_timestamps.txt'}:16"
    first = events[events["kind"] == "first_error"].set_index("service")
    assert first.loc["execution-engine", "severity"] == "critical"  # a CRITICAL line among them
    assert first.loc["risk-manager", "timestamp"] == pd.Timestamp("2024-12-02T14:00:03.25Z")


def test_log_events_of_nothing():
    assert len(log_events(schemas.empty("logs"))) == 0
    assert list(log_events(schemas.empty("logs")).columns) == list(schemas.SCHEMAS["timeline"])


def _bundle(tmp_path: Path, evidence: list[Evidence]) -> EvidenceBundle:
    return EvidenceBundle.write(tmp_path / "b", incident_id="INC-1", window=DEMO_WINDOW, evidence=evidence)


def test_bundle_events_from_a_written_bundle(tmp_path):
    (tmp_path / "work").mkdir()
    [ev] = _demo_logs(tmp_path / "work")
    bundle = _bundle(tmp_path, [ev])
    events = bundle_events(bundle)
    assert list(events["kind"]) == ["restart", "first_error", "error_burst", "first_error"]
    assert events["source"].eq("logs").all()


def test_bundle_events_when_logs_are_missing_or_unavailable(tmp_path):
    other = Evidence("health", schemas.empty("health"), source="services")
    assert len(bundle_events(_bundle(tmp_path / "a", [other]))) == 0
    down = Evidence("logs", schemas.empty("logs"), source="logs", status="unavailable", error="docker missing")
    events = bundle_events(_bundle(tmp_path / "b", [down]))
    assert len(events) == 0 and list(events.columns) == list(schemas.SCHEMAS["timeline"])


# ------------------------------------------------------------------ what is a symptom
def test_a_burst_starts_at_its_first_error_not_at_its_minute():
    rows = _steady("exe", "13:00", "15:00", 300, level="INFO")
    rows += [(T("14:10:23") + pd.Timedelta(seconds=5 * i), "exe", "ERROR", "BrokerTimeout") for i in range(40)]
    b = error_bursts(logs(rows))
    assert b.iloc[0]["start"] == T("14:10:23")
    events = log_events(logs(rows))
    assert set(events[events["kind"].isin(["first_error", "error_burst"])]["timestamp"]) == {T("14:10:23")}


def test_a_steady_background_error_is_chronic_and_a_new_one_is_the_symptom():
    background = [(T("13:00") + pd.Timedelta(minutes=7 * i), "exe", "ERROR", f"cache miss for key {i}")
                  for i in range(17)]  # 13:00-14:52, every 10-minute bucket
    new = [(T("14:21:05"), "exe", "ERROR", "BrokerTimeout: order 1 not acknowledged")]
    events = log_events(logs(background + new))
    firsts = events[events["kind"] == "first_error"]
    symptom = firsts[firsts["severity"] != "info"]
    assert list(symptom["timestamp"]) == [T("14:21:05")]
    chronic = firsts[firsts["severity"] == "info"].iloc[0]
    assert chronic["timestamp"] == T("13:00") and chronic["summary"].startswith("chronic: 17 exe errors")
    # The same errors in only half of the buckets are not background: the first one is the symptom.
    half = [r for r in background if r[0] < T("13:56")]
    events = log_events(logs(half + new + _steady("exe", "13:00", "15:00", 600, level="INFO")))
    firsts = events[(events["kind"] == "first_error") & (events["severity"] != "info")]
    assert list(firsts["timestamp"]) == [T("13:00")]


def test_errors_an_operator_caused_are_mitigation_not_symptoms():
    rows = [
        (T("14:00:00"), "postgres", "ERROR", "canceling statement due to lock timeout"),
        (T("14:20:00"), "postgres", "CRITICAL", "FATAL:  terminating connection due to administrator command"),
        (T("14:20:01"), "risk-manager", "ERROR", "migration aborted: terminating connection due to administrator command"),
    ]
    events = log_events(logs(rows))
    assert set(events[events["kind"] == "first_error"]["service"]) == {"postgres"}
    mit = events[events["kind"] == "mitigation"]
    assert list(mit["service"]) == ["postgres", "risk-manager"] and set(mit["severity"]) == {"info"}


def test_two_bursts_in_one_minute_are_ordered_by_their_first_error_not_by_name():
    # risk-manager's first error comes 7 s before execution-engine's, in the same minute.
    rows = _steady("execution-engine", "13:00", "15:00", 300, level="INFO")
    rows += _steady("risk-manager", "13:00", "15:00", 300, level="INFO")
    rows += [(T("14:10:40") + pd.Timedelta(seconds=4 * i), "execution-engine", "ERROR", "reject") for i in range(40)]
    rows += [(T("14:10:33") + pd.Timedelta(seconds=4 * i), "risk-manager", "ERROR", "check failed") for i in range(40)]
    b = error_bursts(logs(rows))
    assert list(b["service"]) == ["risk-manager", "execution-engine"]
    assert list(b["start"]) == [T("14:10:33"), T("14:10:40")]
    events = merge_events([log_events(logs(rows))])
    assert failed_services(events)[:2] == ["risk-manager", "execution-engine"]
    assert first_symptom(events)["service"] == "risk-manager"
