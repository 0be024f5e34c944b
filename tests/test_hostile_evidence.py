"""Hostile evidence (session 4 hardening): what a broken or malicious system hands the collectors,
against real servers and files. Each test is one defect found and fixed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import eafix_forensics as ef
from eafix_forensics import Evidence, EvidenceBundle
from eafix_forensics.collect import collect
from eafix_forensics.sources import services as S

WINDOW = ef.TimeWindow.parse("2024-12-02T14:00:00Z", "2024-12-02T14:30:00Z")


# ------------------------------------------------------------------ services (HTTP)
def test_odd_field_types_cost_no_execution_and_unreadable_numbers_are_kept(services_api):
    # One integer past 64 bits used to fail the whole table (OverflowError); a quantity
    # given as text or an object was silently turned into NaN.
    services_api.set_mode("execution-engine", "healthy", endpoint="executions", payload=[
        {"id": "a", "ts": "2024-12-02T14:01:00Z", "status": "filled", "quantity": 5, "broker_ref": 10**25},
        {"id": "b", "ts": "2024-12-02T14:02:00Z", "status": "failed", "quantity": "12 lots"},
        {"id": "c", "ts": "2024-12-02T14:03:00Z", "status": "failed", "quantity": {"value": 3}, "price": "1.25"},
    ])
    frame = ef.executions(services_api.config(), WINDOW)
    assert list(frame["execution_id"]) == ["a", "b", "c"]
    assert frame["broker_ref"].iloc[0] == str(10**25)  # exact, not rounded through a float
    assert frame["quantity"].iloc[0] == 5 and frame["price"].iloc[2] == 1.25
    assert list(frame["quantity_raw"].iloc[1:]) == ["12 lots", '{"value": 3}']
    assert frame.attrs["details"]["unreadable_quantity"] == 2


@pytest.mark.parametrize("body, content_type, status, shown", [
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", "degraded", "502 Bad Gateway"),
    (b'{"error": "database unreachable"}', "application/json", "degraded", "database unreachable"),
    (b'{"healthy": false, "checks": {"db": "timeout"}}', "application/json", "down", "healthy: false"),
    (b"ERROR: broker session lost", "text/plain", "down", "broker session lost"),
    (b"OK", "text/plain", "ok", None),
])
def test_a_200_health_answer_saying_trouble_is_not_ok(services_api, body, content_type, status, shown):
    services_api.set_mode("risk-manager", "raw", endpoint="health", body=body, content_type=content_type)
    frame = ef.health(services_api.config(), deadline_s=5)
    row = frame[frame["service"] == "risk-manager"].iloc[0]
    assert (row["status_code"], row["status"]) == (200, status)
    assert (shown is None and pd.isna(row["error"])) or shown in row["error"]
    assert set(frame[frame["service"] != "risk-manager"]["status"]) == {"ok"}


def test_manifest_is_strict_json_when_a_service_reports_nan(services_api, tmp_path):
    # A page summary {"total": NaN} went into the manifest as a bare NaN: not JSON (jq refuses it).
    services_api.set_mode("gui-gateway", "healthy", endpoint="positions",
                          payload={"items": [{"id": "p1", "symbol": "EURUSD", "quantity": float("inf")}],
                                   "total": float("nan"), "exposure": float("-inf")})
    bundle = collect("INC-NAN", WINDOW, services_api.config(tries=1), output_dir=tmp_path, sources=[S.COLLECTOR],
                     progress=False)
    text = (bundle.path / "manifest.json").read_text()
    manifest = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in manifest.json"))
    assert manifest["tables"]["positions"]["details"]["summary"] == {"total": "NaN", "exposure": "-Infinity"}
    assert bundle.table("positions")["quantity"].iloc[0] == float("inf")  # the value itself is kept
    assert bundle.verify() == []


# ------------------------------------------------------------------ redaction fails closed
def test_text_in_arrow_set_and_numpy_string_columns_is_scrubbed(tmp_path):
    # Arrow-backed columns (strings, lists, structs), sets and numpy string arrays went
    # into the bundle unread.
    key = "AKIACANARY0123456789"
    frame = pd.DataFrame({
        "note": pd.Series([f"aws {key}"], dtype=pd.ArrowDtype(pa.string())),
        "lines": pd.Series([[f"aws {key}"]], dtype=pd.ArrowDtype(pa.list_(pa.string()))),
        "record": pd.Series([{"text": f"aws {key}"}], dtype=pd.ArrowDtype(pa.struct([("text", pa.string())]))),
        "tags": [{f"aws {key}"}],
        "words": [np.array([f"aws {key}"])],
        "n": [1],
    })
    b = EvidenceBundle.write(tmp_path / "ev", incident_id="INC-1", window=WINDOW,
                             evidence=[Evidence("notes", frame, source="analyst")])
    assert key.encode() not in (b.path / "notes.parquet").read_bytes()
    back = pq.read_table(b.path / "notes.parquet").to_pandas()
    assert key not in back.to_csv()
    assert "[REDACTED AWS KEY]" in back["note"].iloc[0] and back["n"].iloc[0] == 1
