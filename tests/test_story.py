"""`eafix-forensics demo` as a user runs it, and INC-DEMO's reports checked against its
story (tests/story.py: written by hand from the demo's source and the runbook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.story import FACTS, contradictions, html_text
from tests.test_cli import run


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run("demo", "--output-dir", str(out))


def test_demo_builds_a_verified_bundle_and_renders_every_report(demo_run):
    out, p = demo_run
    assert p.returncode == 0, p.stderr[-3000:]
    printed = [Path(line) for line in p.stdout.splitlines() if line.strip()]
    assert printed == [out / "INC-DEMO" / "investigation.html", out / "INC-DEMO" / "post_incident_review.html",
                       out / "incident_trends.html"]
    assert all(path.stat().st_size > 10_000 for path in printed)
    ok = run("verify", str(out / "INC-DEMO" / "evidence"))
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stderr
    # The trends report reads the incident library the demo filled: the past incidents are there.
    trends = html_text(out / "incident_trends.html")
    assert "INC-2024-0917" in trends and "INC-DEMO" in trends


@pytest.mark.parametrize(("kind", "name"), [("investigation", "investigation"), ("review", "post_incident_review")])
def test_the_demo_report_tells_the_demo_story(demo_run, kind, name):
    out, _ = demo_run
    assert contradictions(html_text(out / "INC-DEMO" / f"{name}.html"), kind) == []


def test_a_finding_changed_by_hand_contradicts_the_story(demo_run):
    """The check can fail: each edit a wrong analysis could make is caught."""
    out, _ = demo_run
    inv = html_text(out / "INC-DEMO" / "investigation.html")
    review = html_text(out / "INC-DEMO" / "post_incident_review.html")
    edits = [
        (inv, "investigation", "of execution-engine at 2024-12-02 13:48", "of execution-engine at 2024-12-02 13:38"),
        (inv, "investigation", "Suggested severity: P1", "Suggested severity: P2"),
        (inv, "investigation", "first symptom 2024-12-02 13:55:00", "first symptom 2024-12-02 14:02:00"),
        (inv, "investigation", "mitigation 2024-12-02 14:50:00", "mitigation 2024-12-02 15:05:00"),
        (review, "review", "Trigger: deploy-execution-engine", "Trigger: deploy-indicator-engine"),
        (review, "review", "✓ met", "✗ missed"),
    ]
    for text, kind, old, new in edits:
        assert old in text, old
        assert contradictions(text.replace(old, new), kind), f"{old!r} -> {new!r} went unnoticed"


def test_every_fact_belongs_to_a_report():
    assert all(f.kinds and set(f.kinds) <= {"investigation", "review"} for f in FACTS)
    assert {k for f in FACTS for k in f.kinds} == {"investigation", "review"}
