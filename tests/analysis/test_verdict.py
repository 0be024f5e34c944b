"""verdict(): the investigation's conclusions as one object, on the embedded demo incident."""

from __future__ import annotations

import json

import pandas as pd

import eafix_forensics as ef
from eafix_forensics.demo import build_demo


def test_demo_verdict_names_the_execution_engine_deploy(tmp_path):
    v = ef.verdict(build_demo(tmp_path))
    assert v.incident_id == "INC-DEMO"
    assert v.severity == "P1"
    assert v.cause is not None and v.cause.kind == "deploy"
    assert v.cause.service == "execution-engine"
    assert v.cause.tag == "deploy-execution-engine-2024.12.02"
    assert v.cause.subject.startswith("execution-engine: switch broker client")
    assert v.cause.author and v.cause.files_changed and v.cause.insertions is not None
    assert v.first_symptom is not None
    assert v.first_symptom.timestamp == pd.Timestamp("2024-12-02T13:55:00Z")
    assert v.first_symptom.service == "execution-engine"
    assert v.first_symptom.timestamp == ef.key_times(build_demo(tmp_path / "again")).first_symptom
    assert v.broken_services[0] == "execution-engine"
    assert v.time_to_detect == pd.Timedelta(minutes=10)
    assert v.impact.orders and v.impact.orders_rejected is not None
    assert v.no_cause == "" and v.headline.startswith("P1")
    # The demo's health snapshot is inside the window: it is incident evidence, not "at collection".
    assert v.at_collection == ()
    json.dumps(v.as_dict())


def test_demo_next_steps_follow_the_runbook(tmp_path):
    from eafix_forensics.analysis.verdict import _next_steps

    bundle = build_demo(tmp_path)
    v = ef.verdict(bundle)
    # INC-DEMO was resolved at 15:20: the post-incident steps, no stop-trading decision
    after = "\n".join(v.next_steps)
    assert "Resolved at 2024-12-02 15:20 UTC" in after and "stop trading" not in after
    assert "Roll back" not in after and "Keep deploy-execution-engine-2024.12.02 out of production" in after
    # while it is open, the runbook's incident steps
    steps = "\n".join(_next_steps(v.severity, v.cause, v.broken_services, bundle, ef.Config(), v.first_symptom))
    assert "Decide now whether to stop trading" in steps  # P1 with the market open (Monday 13:55)
    assert "Roll back execution-engine to its previous version" in steps
    assert "P1: Page the dev team immediately" in steps
    assert "PostgreSQL pid 4242" in steps and "pg_terminate_backend(4242)" in steps
    assert "update INC-DEMO --status Investigating" in steps
    assert "orders rejected or failed between 13:55 and 14:38 UTC" in v.impact.summary
    # A library release as the cause: take the library back in its consumers, not "roll back a service".
    from dataclasses import replace

    lib = replace(v.cause, service="eafix-common", tag="v3.5.0", previous_tag="v3.4.2")
    cfg = ef.Config.from_dict({"topology": {"libraries": {"eafix-common": ["execution-engine", "risk-manager"]}}})
    steps = "\n".join(_next_steps(v.severity, lib, v.broken_services, bundle, cfg, v.first_symptom))
    assert ("Take library eafix-common back to v3.4.2 in the services that use it (execution-engine, risk-manager)"
            in steps) and "Roll back eafix-common" not in steps


def test_no_cause_points_where_the_evidence_points(tmp_path):
    from eafix_forensics.demo import DEMO_WINDOW, demo_evidence
    from eafix_forensics.bundle import EvidenceBundle
    from eafix_forensics.config import Config

    # Without git and without the restart line there is no change to blame.
    evidence = [e for e in demo_evidence(tmp_path / "w") if e.source != "git"]
    for e in evidence:
        if e.name == "logs":
            e.frame = e.frame[~e.frame["message"].astype(str).str.contains("Starting")].reset_index(drop=True)
    bundle = EvidenceBundle.write(tmp_path / "b", incident_id="INC-T", window=DEMO_WINDOW, evidence=evidence,
                                  config=Config())
    v = ef.verdict(bundle)
    assert v.cause is None and v.no_cause == "no change explains these symptoms"
    assert v.headline.endswith("no change explains these symptoms")
    # BrokerTimeout errors everywhere: the broker is the first place to look
    assert v.look_next[0].startswith("broker:")
    # the bundle has no git evidence at all: "no change" is said with low confidence, and why
    assert v.confidence == "low" and v.confidence_basis.startswith("changes are unknown: the git source is missing")


def test_the_headline_names_an_untagged_commit_once():
    """"likely cause: commit 1b022473 of data-ingestor", not "commit commit 1b022473"."""
    import pandas as pd

    from eafix_forensics.analysis.verdict import Cause, _kind_and_label

    base = dict(timestamp=pd.Timestamp("2026-08-05 13:00", tz="UTC"), service="data-ingestor", ref="",
                subject="s", author="a", version="", previous_tag="", files_changed=None, insertions=None,
                deletions=None, url="", score=0.9, reason="r", lead=None)
    commit = Cause(kind="commit", sha="1b022473aa", tag="", **base)
    deploy = Cause(kind="deploy", sha="9b8e7d6c", tag="deploy-data-ingestor-2.7.0", **base)
    assert _kind_and_label(commit) == "commit 1b022473"
    assert _kind_and_label(deploy) == "deploy deploy-data-ingestor-2.7.0"
