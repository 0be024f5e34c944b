"""Hostile text in the evidence never becomes markup in the HTML reports."""

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from eafix_forensics import EvidenceBundle
from eafix_forensics.bundle import Evidence
from eafix_forensics.demo import DEMO_WINDOW, T, demo_evidence
from eafix_forensics.model import tables as schemas
from eafix_forensics.report import run_report

HOSTILE = [
    "BrokerTimeout <script>alert(1)</script> order 7",
    "upstream said <img src=x onerror=alert(1)> and <svg onload=alert(2)>",
    "link [x](javascript:alert(3)) <a href=\"javascript:alert(4)\">click</a> <iframe src=//evil></iframe>",
    # bidi override and zero-width space: the reader would see "order filled" (Trojan Source)
    "BrokerReject order \u202edellif\u202c\u200b for EURUSD",
]

MATHTEXT_SERVICE = "svc $^$ \\x $\\badcommand$"


@pytest.fixture(scope="module")
def hostile_reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    evidence = demo_evidence(out / "INC-XSS" / "sample")
    for e in evidence:
        if e.name == "logs":
            extra = schemas.conform(pd.DataFrame({
                "timestamp": [T(f"14:2{i}:00") for i in range(len(HOSTILE))],
                "service": "execution-engine", "replica": 1, "level": "ERROR",
                "message": HOSTILE, "source": "hostile.txt", "line": list(range(1, len(HOSTILE) + 1)),
            }), "logs")
            # a json-file log's service label is any text: as mathtext it made the figure (and report) fail
            mathtext = schemas.conform(pd.DataFrame({
                "timestamp": [T("14:25:00")], "service": [MATHTEXT_SERVICE], "replica": 1, "level": "ERROR",
                "message": ["odd label"], "source": "hostile.txt", "line": [9]}), "logs")
            e.frame = schemas.conform(pd.concat([e.frame, extra, mathtext], ignore_index=True), "logs")
        if e.name == "health":
            e.frame = e.frame.assign(error=e.frame["error"].fillna(HOSTILE[1]))
    EvidenceBundle.write(out / "INC-XSS" / "evidence", incident_id="INC-XSS", window=DEMO_WINDOW, evidence=evidence)
    return [run_report("INC-XSS", kind=k, output_dir=out) for k in ("investigation", "review")]


def test_no_script_and_no_event_handler_survives(hostile_reports):
    for html in hostile_reports:
        soup = BeautifulSoup(html.read_text(), "html.parser")
        assert soup.find_all("script") == [], html.name
        assert soup.find_all(["iframe", "svg", "object", "embed"]) == [], html.name
        for tag in soup.find_all(True):
            assert not [a for a in tag.attrs if a.lower().startswith("on")], (html.name, tag)
            for attr in ("href", "src"):
                value = str(tag.get(attr, ""))
                assert not value.lower().startswith("javascript:"), (html.name, tag)
            if tag.name == "img":
                assert str(tag.get("src", "")).startswith("data:image/"), tag


def test_hostile_text_is_still_shown_as_text(hostile_reports):
    investigation = BeautifulSoup(hostile_reports[0].read_text(), "html.parser").get_text()
    # The evidence stays readable: the signature table shows the message as plain text.
    assert "<script>alert(<num>)</script>" in investigation  # error signature, numbers masked
    assert "<img src=x onerror=alert(1)>" in investigation  # health error text


def test_bidi_overrides_and_zero_width_characters_are_shown_not_obeyed(hostile_reports):
    for html in hostile_reports:
        text = html.read_text()
        assert not [c for c in "\u202e\u202c\u200b" if c in text], html.name
    investigation = BeautifulSoup(hostile_reports[0].read_text(), "html.parser").get_text()
    assert "<U+202E>dellif<U+202C><U+200B>" in investigation



def test_evidence_quoted_in_the_next_steps_is_no_link_in_the_markdown_export(tmp_path):
    # A commit subject quoted in "Roll back … (suspect: …)" reached the Markdown export raw: a live link.
    evidence = demo_evidence(tmp_path / "INC-MD" / "sample")
    for e in evidence:
        if e.name == "commits":
            e.frame = e.frame.assign(subject=e.frame["subject"].str.replace(
                ": ", ": [docs](javascript:alert(5)) ", n=1, regex=False))
        if e.name == "incident":  # still open: the next steps are the rollback
            e.frame = e.frame.assign(status="identified", resolved_at=pd.NaT)
        if e.name == "incident_updates":
            e.frame = e.frame.iloc[:2]
    EvidenceBundle.write(tmp_path / "INC-MD" / "evidence", incident_id="INC-MD", window=DEMO_WINDOW,
                         evidence=evidence)
    md = run_report("INC-MD", kind="investigation", output_dir=tmp_path, format="md").read_text()
    steps = md[md.index("**Next steps**"):]
    assert "Roll back execution-engine" in steps and "(javascript:alert(5))" in steps  # quoted, as text
    assert "[docs](javascript:" not in md


def test_a_service_named_like_mathtext_is_drawn_as_text(hostile_reports):
    investigation = BeautifulSoup(hostile_reports[0].read_text(), "html.parser")
    assert len(investigation.find_all("img")) >= 3  # the figures are there
    assert MATHTEXT_SERVICE in investigation.get_text()
