"""Hostile evidence (session 4 hardening): what a broken or malicious system hands the collectors,
against real servers and files. Each test is one defect found and fixed."""

from __future__ import annotations

import csv
import gzip
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import eafix_forensics as ef
from eafix_forensics import Evidence, EvidenceBundle
from eafix_forensics.collect import collect
from eafix_forensics.export import export_timeline
from eafix_forensics.sources import incident as I
from eafix_forensics.sources import logs as L
from eafix_forensics.sources import postgres as P
from eafix_forensics.sources import services as S
from eafix_forensics.sources.git import read_repo
from tests.harness.pagerduty import TOKEN, running_pagerduty
from tests.sources.test_git import commit, git

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


def test_a_lone_surrogate_in_a_service_answer_costs_no_table(services_api, tmp_path):
    # "\ud800" is valid JSON but not Unicode: Arrow refused the string and the table was lost
    # (executions: UnicodeEncodeError while shaping; health: the bundle could not be written).
    services_api.set_mode("execution-engine", "healthy", endpoint="executions", payload=[
        {"id": "a", "ts": "2024-12-02T14:01:00Z", "status": "failed", "error": "broker said \ud800 bye"}])
    services_api.set_mode("risk-manager", "status", endpoint="health", code=503, error="db \udfff gone")
    bundle = collect("INC-SUR", WINDOW, services_api.config(tries=1), output_dir=tmp_path, sources=[S.COLLECTOR],
                     progress=False)
    assert bundle.table("executions")["error"].tolist() == ["broker said \ufffd\ufffd\ufffd bye"]
    health = bundle.table("health").set_index("service")
    assert health.loc["risk-manager", "error"] == "HTTP 503: db \ufffd\ufffd\ufffd gone"


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


# ------------------------------------------------------------------ exports
def _json_log(tmp_path, service: str, message: str, n: int = 12):
    """A Docker json-file log whose Compose service label and messages are ``service``, ``message``."""
    path = tmp_path / "c-json.log"
    path.write_text("".join(json.dumps({
        "log": f"2024-12-02T14:{i:02d}:00Z ERROR {message} {i}\n", "stream": "stderr",
        "time": f"2024-12-02T14:{i:02d}:00Z", "attrs": {"com.docker.compose.service": service}}) + "\n"
        for i in range(1, n + 1)))
    cfg = tmp_path / "eafix.toml"
    cfg.write_text('[logs]\nfiles = []\njson_files = ["c-json.log"]\n')
    return ef.Config.load(cfg)


def test_csv_export_hands_a_spreadsheet_no_formula(tmp_path):
    # A service label "=cmd|' /C calc'!A0" reached timeline.csv as a live formula (CSV injection).
    formula = "=cmd|' /C calc'!A0"
    config = _json_log(tmp_path, formula, '=HYPERLINK("http://evil.example","x")')
    bundle = collect("INC-CSV", WINDOW, config, output_dir=tmp_path / "out", sources=[L.COLLECTOR], progress=False)
    path, n = export_timeline(bundle, "csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert n == len(rows) >= 1
    assert not [c for row in rows for c in row.values() if c[:1] in ("=", "+", "-", "@")]
    assert rows[0]["service"] == "'" + formula  # still readable, as text


# ------------------------------------------------------------------ log files
def test_a_log_with_cr_only_line_ends_is_read_line_by_line(tmp_path):
    # Old-Mac line ends made the whole file one event, cut at 1 MiB: every later event lost.
    lines = [f"{svc}-1  | 2024-12-02T{14 + i // 3600}:{i // 60 % 60:02d}:{i % 60:02d}Z ERROR event {i} " + "x" * 60
             for i in range(20000) for svc in ["risk-manager" if i % 2 else "gui-gateway"]]
    path = tmp_path / "incident_logs_mac.txt"
    path.write_bytes("\r".join(lines).encode() + b"\r")
    assert path.stat().st_size > 1 << 20
    frame = L.read_compose_logs(path)
    assert len(frame) == 20000 and frame.attrs["malformed"] == 0
    assert frame["message"].iloc[-1].startswith("ERROR event 19999")
    assert frame["service"].value_counts().to_dict() == {"gui-gateway": 10000, "risk-manager": 10000}



def test_gzip_rotated_logs_are_read_and_a_cut_one_keeps_what_came_before(tmp_path):
    # A .gz log (logrotate, Docker's compress: true) was read as binary: a few garbage rows, no events.
    lines = b"".join(b"gui-gateway-1  | 2024-12-02T%02d:%02d:%02dZ ERROR event %d\n"
                     % (14 + i // 3600, i // 60 % 60, i % 60, i) for i in range(20000))
    (tmp_path / "whole.txt.gz").write_bytes(gzip.compress(lines))
    whole = L.read_compose_logs(tmp_path / "whole.txt.gz")
    assert len(whole) == 20000 and whole.attrs["malformed"] == 0
    packed = gzip.compress(lines)
    (tmp_path / "cut.txt.gz").write_bytes(packed[: len(packed) // 2])  # a rotation still being written
    cut = L.read_compose_logs(tmp_path / "cut.txt.gz")
    events = cut[~cut["malformed"]]
    assert len(events) > 5000 and list(events["message"].head(2)) == ["ERROR event 0", "ERROR event 1"]
    assert cut["message"].iloc[-1].startswith("…[gzip stream cut: ") and cut.attrs["malformed"] >= 1
    # Docker's own rotation of a json-file log: <id>-json.log.1.gz, named by its container
    rotated = tmp_path / ("c0ffee" * 10 + "abcd-json.log.1.gz")
    rotated.write_bytes(gzip.compress(json.dumps({"log": "ERROR rotated\n", "stream": "stderr",
                                                  "time": "2024-12-02T14:00:00Z"}).encode() + b"\n"))
    frame = L.read_container_json_logs(rotated)
    assert (frame["service"].iloc[0], frame["message"].iloc[0]) == ("c0ffeec0ffee", "ERROR rotated")


# ------------------------------------------------------------------ git
def test_a_record_separator_in_a_commit_or_tag_hides_nothing(tmp_path):
    # git keeps a 0x1E in subjects, author names and tag messages; it split the parser's
    # records, so such a commit was only "malformed" (no suspect) and such a deploy tag vanished.
    r = tmp_path / "execution-engine"
    r.mkdir()
    git(r, "init", "-q")
    commit(r, "execution-engine: first", "2024-12-02T10:00:00Z", {"a.txt": "a\n"})
    hidden = commit(r, "execution-engine: raise limits\x1e" + "f" * 40 + " quietly", "2024-12-02T11:00:00Z",
                    {"a.txt": "b\n"})
    git(r, "tag", "-a", "deploy-execution-engine-1", "-m", "release\x1enotes", hidden, date="2024-12-02T11:05:00Z")
    commits, tags, details = read_repo(r, ef.TimeWindow.parse("2024-12-02T06:00:00Z", "2024-12-03T00:00:00Z"))
    assert hidden in set(commits["sha"]) and details["malformed_records"] == 0
    assert commits.set_index("sha").loc[hidden, "subject"] == "execution-engine: raise limits\x1e" + "f" * 40 + " quietly"
    assert list(tags["tag"]) == ["deploy-execution-engine-1"] and tags["message"].iloc[0] == "release\x1enotes"


def test_a_log_symlink_out_of_the_log_folder_is_not_read(tmp_path):
    # Copied evidence can carry "incident_logs_x.txt -> ~/.aws/credentials": it was read into the bundle.
    outside = tmp_path / "home" / "credentials"
    outside.parent.mkdir()
    outside.write_text("2024-12-02T14:00:00Z ERROR private analyst file OutsideCanary\n")
    logs = tmp_path / "case" / "logs"
    logs.mkdir(parents=True)
    (logs / "incident_logs_a.txt").write_text("gui-gateway-1  | 2024-12-02T14:01:00Z ERROR real event\n")
    (logs / "incident_logs_b.txt").symlink_to(outside)
    (logs / "incident_logs_c.txt").symlink_to(logs / "incident_logs_a.txt")  # inside the folder: fine
    (tmp_path / "case" / "eafix.toml").write_text('[logs]\nfiles = ["logs/incident_logs_*.txt"]\n')
    bundle = collect("INC-LINK", WINDOW, ef.Config.load(tmp_path / "case" / "eafix.toml"), output_dir=tmp_path / "out",
                     sources=[L.COLLECTOR], progress=False)
    frame = bundle.table("logs")
    assert "OutsideCanary" not in frame.to_csv() and len(frame) == 2
    entry = bundle.manifest["tables"]["logs"]
    assert "incident_logs_b.txt: a symlink to" in entry["error"] and "not read" in entry["error"]
    assert bundle.status("logs") != "unavailable"


# ------------------------------------------------------------------ PagerDuty
def test_one_odd_pagerduty_entry_does_not_cost_the_incident(tmp_path, monkeypatch):
    # An entry whose time is no time, an entry that is a string, an agent or a priority given as
    # a string: each raised out of the collector (DateParseError, AttributeError), no incident at all.
    # Epoch-second times were read as nanoseconds (1970).
    monkeypatch.setenv("EAFIX_TEST_PD_TOKEN", TOKEN)
    with running_pagerduty() as srv:
        entries = srv.log_entries["log_entries"]
        entries[1]["created_at"] = "yesterday-ish"
        entries.insert(2, "not an entry")
        entries[4]["agent"] = "on-call bot"
        entries[0]["created_at"] = 1733148300  # 2024-12-02T14:05:00Z in epoch seconds
        srv.incident["incident"]["priority"] = "P1"
        config = ef.Config.from_dict({"incidents": {"pagerduty_url": f"http://127.0.0.1:{srv.server_port}",
                                                    "pagerduty_token_env": "EAFIX_TEST_PD_TOKEN"}},
                                     path=tmp_path / "eafix.toml")
        bundle = collect("Q2P1DEMO", WINDOW, config, output_dir=tmp_path / "out", sources=[I.COLLECTOR],
                         progress=False)
    incident = bundle.table("incident")
    assert incident["triggered_at"].iloc[0] == pd.Timestamp("2024-12-02T14:05:00Z")
    assert incident["severity"].iloc[0] == "P1"
    assert len(bundle.table("incident_updates")) == 3
    details = bundle.manifest["tables"]["incident_updates"]["details"]
    assert details["malformed_log_entries"] == 2 and '"not an entry"' in details["malformed_samples"]



def test_pagerduty_saying_more_for_ever_does_not_hang_the_collector(tmp_path, monkeypatch):
    # A server answering the same page with "more": true whatever the offset was read for ever.
    monkeypatch.setenv("EAFIX_TEST_PD_TOKEN", TOKEN)
    with ThreadPoolExecutor(1) as pool, running_pagerduty() as srv:  # the server stops first
        config = ef.Config.from_dict({"incidents": {"pagerduty_url": f"http://127.0.0.1:{srv.server_port}",
                                                    "pagerduty_token_env": "EAFIX_TEST_PD_TOKEN"}},
                                     path=tmp_path / "eafix.toml")
        rec = pool.submit(I.incident_record, "QLOOP", config).result(timeout=30)
        pages = [r for r in srv.requests if r["path"].endswith("/log_entries")]
    assert len(pages) == 2  # the second page brought nothing new: stop
    assert rec.triggered_at == pd.Timestamp("2024-12-02T14:05:00Z") and len(rec.updates) == 1


# ------------------------------------------------------------------ PostgreSQL
def test_a_password_inserted_by_a_session_in_flight_never_reaches_the_bundle(tmp_path, pg_server):
    # pg_stat_activity shows a session's statement with its literals: an INSERT of a password
    # column (or set_config of a token) went into pg_activity verbatim.
    import psycopg

    url = pg_server.create_database()
    name = url.rsplit("/", 1)[1]
    pg_server.execute("CREATE TABLE creds (username text, password text)", dbname=name)
    with psycopg.connect(pg_server.conninfo(name), application_name="gui-gateway") as a, \
            psycopg.connect(pg_server.conninfo(name), application_name="risk-manager") as b:
        a.execute("INSERT INTO creds (username, password) VALUES ('app', 'PgInsertCanary1')")  # idle in transaction
        b.execute("SELECT set_config('app.api_token', 'PgConfigCanary2', false)")
        config = ef.Config.from_dict({"postgres": {"url": url}}, path=tmp_path / "eafix.toml")
        bundle = collect("INC-PGI", WINDOW, config, output_dir=tmp_path / "out", sources=[P.COLLECTOR],
                         progress=False)
    queries = bundle.table("pg_activity")["query"].tolist()
    assert any("INSERT INTO creds (username, password) VALUES" in q for q in queries)  # still evidence
    assert any("set_config('app.api_token', '***'" in q for q in queries)
    for f in bundle.path.iterdir():
        blob = f.read_bytes() + (pq.read_table(f).to_pandas().to_csv().encode() if f.suffix == ".parquet" else b"")
        assert b"PgInsertCanary1" not in blob and b"PgConfigCanary2" not in blob, f.name
