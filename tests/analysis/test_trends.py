"""Pure half of the incident library: summaries, the similarity score, response metrics."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eafix_forensics import EvidenceBundle
from eafix_forensics.analysis import trends
from eafix_forensics.bundle import Evidence
from eafix_forensics.demo import DEMO_WINDOW, build_demo

T = pd.Timestamp


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> EvidenceBundle:
    return build_demo(tmp_path_factory.mktemp("demo"))


# ------------------------------------------------------------------ summarize
def test_summary_of_the_demo(demo: EvidenceBundle) -> None:
    s = trends.summarize(demo)
    assert (s.incident_id, s.severity, s.suggested_severity, s.status) == ("INC-DEMO", "P1", "P1", "resolved")
    assert any("signal latency" in r for r in s.severity_reasons)
    assert s.services == ["execution-engine", "signal-generator"]
    assert (s.triggered_at, s.acknowledged_at, s.resolved_at) == (T("2024-12-02T14:05Z"), T("2024-12-02T14:09Z"),
                                                                  T("2024-12-02T15:20Z"))
    assert s.first_symptom_at == T("2024-12-02T13:55Z")  # the first BrokerTimeout
    assert s.mitigated_at is not None and s.triggered_at < s.mitigated_at < s.resolved_at
    broker = s.signatures[0]
    assert "BrokerTimeout: order <num> not acknowledged" in broker["signature"]
    assert broker["services"] == "execution-engine" and broker["first_seen"] == T("2024-12-02T13:55Z")
    logs = demo.table("logs")
    assert broker["count"] == int(logs["message"].str.contains("BrokerTimeout").sum())
    assert s.suspects[0]["service"] == "execution-engine" and s.suspects[0]["rank"] == 1
    assert s.suspects[0]["ref"] == "9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"
    assert [a["text"] for a in s.action_items] == [
        "Load-test the async broker pool before release", "Alert on broker acknowledgement timeouts per minute"]
    sla = {r["sla"]: r for r in s.sla}
    assert sla["acknowledge"]["met"] is True and sla["acknowledge"]["actual_s"] == 240.0
    assert sla["resolve"]["target_s"] == 8 * 3600
    assert s.manifest_sha256 == demo.manifest_sha256 and not s.notes


def test_summary_without_an_incident_record_keeps_the_rest(demo: EvidenceBundle, tmp_path: Path) -> None:
    evidence = [Evidence(n, demo.table(n), source=demo.manifest["tables"][n]["source"])
                for n in ("logs", "commits", "tags")]
    bundle = EvidenceBundle.write(tmp_path / "evidence", incident_id="INC-NOREC", window=DEMO_WINDOW,
                                  evidence=evidence)
    s = trends.summarize(bundle)
    assert s.triggered_at is None and s.severity is None and not s.sla and not s.action_items
    assert any("incident record" in n for n in s.notes)
    # Services fall back to those with error signatures.
    assert s.services == ["execution-engine", "gui-gateway"]
    assert "BrokerTimeout" in s.signatures[0]["signature"]


def test_signature_rows_cut_long_templates_and_merge_them() -> None:
    long = "X" * (trends.SIGNATURE_CHARS + 50)
    frame = pd.DataFrame({
        "signature": [long + "a", long + "b", "short"],
        "count": pd.array([2, 3, 1], dtype="Int64"),
        "first_seen": [T("2024-01-01T10:00Z"), T("2024-01-01T09:00Z"), T("2024-01-01T11:00Z")],
        "last_seen": [T("2024-01-01T10:30Z"), T("2024-01-01T12:00Z"), T("2024-01-01T11:00Z")],
        "services": ["a,b", "c", "a"],
    })
    rows = trends.signature_rows(frame)
    assert [(len(r["signature"]), r["count"]) for r in rows] == [(trends.SIGNATURE_CHARS, 5), (5, 1)]
    assert rows[0]["first_seen"] == T("2024-01-01T09:00Z") and rows[0]["last_seen"] == T("2024-01-01T12:00Z")
    assert rows[0]["services"] == "a,b,c"


# ------------------------------------------------------------------ similarity
def test_similarity_follows_the_documented_formula() -> None:
    a = {"timeout": trends.signature_weight(127), "503": trends.signature_weight(1)}  # 7 and 1
    b = {"timeout": trends.signature_weight(7)}  # 3
    score, sig, svc = trends.similarity(a, ["exec", "signal"], b, ["exec", "gateway"])
    assert sig == pytest.approx(3 / (7 + 1))  # Σmin / Σmax
    assert svc == pytest.approx(1 / 3)
    assert score == pytest.approx(0.7 * 3 / 8 + 0.3 / 3)
    assert trends.similarity(a, ["exec"], a, ["exec"])[0] == pytest.approx(1.0)
    assert trends.similarity(a, ["exec"], {"other": 1.0}, ["risk"]) == (0.0, 0.0, 0.0)
    assert trends.similarity({}, [], {}, []) == (0.0, 0.0, 0.0)


weights = st.dictionaries(st.sampled_from("abcdefgh"), st.floats(0.5, 12, allow_nan=False), max_size=6)
services = st.sets(st.sampled_from(["s1", "s2", "s3", "s4", "s5", "s6"]), max_size=4)


@given(query=weights, query_services=services,
       stored=st.lists(st.tuples(weights, services), min_size=1, max_size=8))
def test_score_candidates_agrees_with_similarity(query: dict[str, float], query_services: set[str],
                                                 stored: list[tuple[dict[str, float], set[str]]]) -> None:
    """The catalog scores from shared rows only; the result must equal the full formula."""
    shared_sigs = [(i, k, w) for i, (sig, _) in enumerate(stored) for k, w in sig.items() if k in query]
    shared_svcs = {i: len(svc & query_services) for i, (_, svc) in enumerate(stored) if svc & query_services}
    totals = {i: (sum(sig.values()), len(svc)) for i, (sig, svc) in enumerate(stored)}
    ranked = trends.score_candidates(query, query_services, shared_sigs, shared_svcs, totals)
    scores = [r[1] for r in ranked]
    assert scores == sorted(scores, reverse=True)
    got = {r[0]: r for r in ranked}
    for i, (sig, svc) in enumerate(stored):
        expected = trends.similarity(query, query_services, sig, svc)
        if i in got:
            assert got[i][1:] == pytest.approx(expected)
        else:
            assert expected[0] == 0.0


# ------------------------------------------------------------------ response metrics
def _incidents() -> pd.DataFrame:
    rows = [
        ("A", "P1", "2024-09-03T10:00Z", "2024-09-03T10:10Z", "2024-09-03T11:00Z"),
        ("B", "P1", "2024-09-20T10:00Z", "2024-09-20T10:30Z", "2024-09-20T14:00Z"),
        ("C", "P2", "2024-09-21T10:00Z", "2024-09-21T10:05Z", None),
        ("D", None, "2024-10-01T00:00Z", None, None),
        ("E", "P3", None, None, None),  # a bundle without a record: never triggered
    ]
    df = pd.DataFrame(rows, columns=["incident_id", "severity", "triggered_at", "acknowledged_at", "resolved_at"])
    for c in ("triggered_at", "acknowledged_at", "resolved_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def test_response_times_by_severity_and_month() -> None:
    out = trends.response_times(_incidents()).set_index(["month", "severity"])
    assert list(out.index) == [("2024-09", "P1"), ("2024-09", "P2"), ("2024-10", "unclassified")]
    p1 = out.loc[("2024-09", "P1")]
    assert (p1["incidents"], p1["ack_median_min"], p1["ack_max_min"]) == (2, 20.0, 30.0)
    assert (p1["resolve_median_min"], p1["resolve_max_min"]) == (150.0, 240.0)
    p2 = out.loc[("2024-09", "P2")]
    assert p2["resolved"] == 0 and pd.isna(p2["resolve_median_min"])
    empty = trends.response_times(_incidents().iloc[0:0])
    assert list(empty.columns) == list(trends.response_times(_incidents()).columns) and empty.empty


def test_sla_compliance_counts_measured_slas_only() -> None:
    sla = pd.DataFrame({
        "incident_id": ["A", "A", "B", "B", "C"],
        "severity": ["P1", "P1", "P1", "P1", "P1"],
        "sla": ["acknowledge", "resolve", "acknowledge", "resolve", "acknowledge"],
        "met": pd.array([True, True, False, True, None], dtype="boolean"),
    })
    out = trends.sla_compliance(sla).set_index("sla")
    assert list(out.index) == ["acknowledge", "resolve", "all"]
    assert (out.loc["acknowledge", "incidents"], out.loc["acknowledge", "met"]) == (2, 1)
    assert out.loc["resolve", "rate"] == 1.0
    assert (out.loc["all", "incidents"], out.loc["all", "met"], out.loc["all", "rate"]) == (2, 1, 0.5)


def test_recurring_signatures_need_two_incidents() -> None:
    sigs = pd.DataFrame({
        "incident_id": ["A", "B", "B", "C"],
        "signature": ["timeout", "timeout", "deadlock", "timeout"],
        "count": [10, 5, 2, 1],
        "services": ["exec", "exec,gw", "risk", "exec"],
        "triggered_at": pd.to_datetime(["2024-09-03T10:00Z", "2024-09-20T10:00Z", "2024-09-20T10:00Z", None], utc=True),
        "window_start": pd.to_datetime(["2024-09-03T09:00Z", "2024-09-20T09:00Z", "2024-09-20T09:00Z",
                                        "2024-10-01T09:00Z"], utc=True),
    })
    out = trends.recurring_signatures(sigs)
    assert list(out["signature"]) == ["timeout"]
    row = out.iloc[0]
    assert (row["incidents"], row["occurrences"], row["services"]) == (3, 16, "exec,gw")
    assert row["incident_ids"] == "A,B,C" and row["last_incident_at"] == T("2024-10-01T09:00Z")
    assert len(trends.recurring_signatures(sigs, min_incidents=1)) == 2


def test_open_action_items_leave_out_done_ones() -> None:
    items = pd.DataFrame({
        "incident_id": ["B", "A", "A", "B"],
        "text": ["page on timeouts", "pin client", "add alert", "game day"],
        "owner": ["platform", None, "platform", "ops"],
        "status": ["in progress", "Done", None, "closed"],
        "triggered_at": pd.to_datetime(["2024-09-20T10:00Z", "2024-09-03T10:00Z", "2024-09-03T10:00Z",
                                        "2024-09-20T10:00Z"], utc=True),
    })
    out = trends.open_action_items(items)
    assert list(out["text"]) == ["add alert", "page on timeouts"]
    assert list(out["status"]) == ["open", "in progress"]
    assert list(out["age_days"]) == [17.0, 0.0]  # measured at the newest incident
    assert trends.open_action_items(items, now="2024-09-13T10:00Z")["age_days"].iloc[0] == 10.0
