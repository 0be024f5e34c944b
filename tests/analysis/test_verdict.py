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
    assert v.broken_services[0] == "execution-engine"
    assert v.time_to_detect == pd.Timedelta(minutes=10)
    assert any("Roll back execution-engine" in s for s in v.next_steps)
    assert any("stop trading" in s for s in v.next_steps)
    assert v.impact.orders and v.impact.orders_rejected is not None
    assert v.no_cause == "" and v.headline.startswith("P1")
    # The demo's health snapshot is inside the window: it is incident evidence, not "at collection".
    assert v.at_collection == ()
    json.dumps(v.as_dict())
