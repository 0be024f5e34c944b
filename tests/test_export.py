"""Timeline export (issue 17): Timesketch JSONL that its importer accepts, and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys

import pytest

from eafix_forensics import EvidenceBundle
from eafix_forensics.analysis.timeline import timeline
from eafix_forensics.demo import build_demo
from eafix_forensics.export import TIMESKETCH_REQUIRED

EXE = [sys.executable, "-m", "eafix_forensics.cli"]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    build_demo(out)
    return out


def export(*args):
    return subprocess.run([*EXE, "export", *args], capture_output=True, text=True, timeout=120, check=False)


def test_inc_demo_timesketch_jsonl_validates_line_per_event(demo_out):
    p = export("INC-DEMO", "--format", "timesketch", "--output-dir", str(demo_out))
    assert p.returncode == 0, p.stderr
    path = demo_out / "INC-DEMO" / "timeline.jsonl"  # Timesketch imports only *.jsonl / *.csv names
    events = timeline(EvidenceBundle.open(demo_out / "INC-DEMO" / "evidence"))
    assert p.stdout.strip() == f"{path}: {len(events)} timeline events (timesketch)"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(events) > 10
    for line, (_, ev) in zip(lines, events.iterrows(), strict=True):
        rec = json.loads(line)
        # What Timesketch's importer requires of every JSONL line: message, datetime (ISO 8601), timestamp_desc.
        for field in TIMESKETCH_REQUIRED:
            assert isinstance(rec[field], str) and rec[field].strip(), (field, rec)
        when = dt.datetime.fromisoformat(rec["datetime"])
        assert when.utcoffset() == dt.timedelta(0) and when == ev["timestamp"].to_pydatetime()
        assert rec["timestamp"] == int(when.timestamp() * 1_000_000)  # microseconds, as Timesketch stores it
        assert ev["summary"] in rec["message"]
        assert (rec["source"], rec["service"], rec["severity"], rec["ref"], rec["incident_id"]) == (
            ev["source"], ev["service"], ev["severity"], ev["ref"], "INC-DEMO")
    kinds = {json.loads(l)["kind"]: json.loads(l)["timestamp_desc"] for l in lines}
    assert kinds["deploy"] == "Deploy time" and kinds["first_error"] == "First error logged"


def test_csv_export_has_the_same_events(demo_out, tmp_path):
    target = tmp_path / "inc.csv"
    p = export("INC-DEMO", "--format", "csv", "--output", str(target), "--output-dir", str(demo_out))
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    jsonl = demo_out / "INC-DEMO" / "timeline.jsonl"
    if not jsonl.exists():
        export("INC-DEMO", "--output-dir", str(demo_out))
    expected = [json.loads(l) for l in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["message"] for r in rows] == [e["message"] for e in expected]
    assert [r["datetime"] for r in rows] == [e["datetime"] for e in expected]
    assert set(TIMESKETCH_REQUIRED) <= set(rows[0])


def test_export_of_a_missing_incident_is_one_line_exit_2(tmp_path):
    p = export("INC-NONE", "--output-dir", str(tmp_path))
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1].startswith("eafix-forensics: error: no evidence bundle for INC-NONE")
    assert "Traceback" not in p.stderr
