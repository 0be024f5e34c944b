"""Incident record: TOML files, and a real local HTTP server speaking PagerDuty REST v2."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from eafix_forensics import incident_record
from eafix_forensics.analysis.incident import incident_tables
from eafix_forensics.collect import CollectContext
from eafix_forensics.config import Config
from eafix_forensics.demo import DEMO_INCIDENT_TOML, EMBEDDED_INCIDENTS
from eafix_forensics.errors import ConfigError, QueryError, SourceUnavailable
from eafix_forensics.sources import incident as incsrc
from eafix_forensics.window import TimeWindow
from tests.harness import free_port
from tests.harness.pagerduty import PAGE, TOKEN, running_pagerduty

DATA = Path(__file__).resolve().parent.parent / "data" / "incidents"


@pytest.fixture(scope="module")
def pagerduty():
    with running_pagerduty() as srv:
        yield srv


@pytest.fixture
def pd_config(pagerduty, monkeypatch, tmp_path) -> Config:
    pagerduty.reset()
    monkeypatch.setenv("EAFIX_TEST_PD_TOKEN", TOKEN)
    return Config.from_dict(
        {"incidents": {"pagerduty_url": f"http://127.0.0.1:{pagerduty.server_port}",
                       "pagerduty_token_env": "EAFIX_TEST_PD_TOKEN",
                       "max_retry_wait_s": 0.3, "max_retries": 2, "timeout_s": 5.0}},
        path=tmp_path / "eafix.toml",
    )


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


# ------------------------------------------------------------------ PagerDuty
def test_pagerduty_record_from_two_pages_of_log_entries(pagerduty, pd_config):
    rec = incident_record("Q2P1DEMO", pd_config)
    log_calls = [r for r in pagerduty.requests if r["path"].endswith("/log_entries")]
    assert [r["query"]["offset"] for r in log_calls] == ["0", str(PAGE)]
    assert all(r["query"]["time_zone"] == "UTC" for r in log_calls)
    first = pagerduty.requests[0]
    assert first["path"] == "/incidents/Q2P1DEMO"
    assert first["headers"]["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert first["headers"]["Authorization"] == f"Token token={TOKEN}"

    assert (rec.incident_id, rec.title, rec.severity, rec.services) == (
        "Q2P1DEMO", "Signal latency above 5 s", "P1", ("signal-generator",))
    assert rec.triggered_at == _ts("2024-12-02T14:05:00Z")
    assert rec.acknowledged_at == _ts("2024-12-02T14:09:00Z")  # sent as 09:09-05:00
    assert rec.responded_at == _ts("2024-12-02T14:15:00Z")  # the first note
    assert rec.resolved_at == _ts("2024-12-02T15:20:00Z")
    assert rec.status == "resolved"
    assert rec.url == "https://eafix.pagerduty.com/incidents/Q2P1DEMO"
    ups = rec.updates
    assert list(ups["timestamp"]) == [_ts("2024-12-02T14:15Z"), _ts("2024-12-02T14:45Z"), _ts("2024-12-02T15:05Z")]
    assert list(ups["status"].fillna("-")) == ["Investigating", "Identified", "-"]
    assert list(ups["text"]) == ["broker timeouts on execution-engine", "async broker pool exhausts connections",
                                 "rolled back execution-engine to 2.13.4"]
    assert list(ups["author"]) == ["Sam Lee", "Dana Ortiz", "Sam Lee"]


def test_pagerduty_401_names_the_token_variable(pagerduty, pd_config, monkeypatch):
    monkeypatch.setenv("EAFIX_TEST_PD_TOKEN", "wrong-token-value")
    with pytest.raises(QueryError) as err:
        incident_record("Q2P1DEMO", pd_config)
    msg = str(err.value)
    assert "401" in msg and "$EAFIX_TEST_PD_TOKEN" in msg
    assert "wrong-token-value" not in msg


def test_pagerduty_without_token_is_config_error(pd_config, monkeypatch):
    monkeypatch.delenv("EAFIX_TEST_PD_TOKEN")
    with pytest.raises(ConfigError, match=r"set \$EAFIX_TEST_PD_TOKEN"):
        incident_record("Q2P1DEMO", pd_config)


def test_pagerduty_429_retry_after_is_honoured(pagerduty, pd_config):
    pd_config.incidents.max_retry_wait_s = 5.0
    t0 = time.monotonic()
    rec = incident_record("QRATE", pd_config)
    elapsed = time.monotonic() - t0
    assert rec.severity == "P1"
    assert pagerduty.hits["/incidents/QRATE"] == 2  # the 429, then the answer
    assert elapsed >= 1.0


def test_pagerduty_429_wait_is_bounded(pagerduty, pd_config):
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable, match=r"rate limited \(HTTP 429\) after 2 retries"):
        incident_record("QFLOOD", pd_config)
    # Retry-After: 3600 is capped at max_retry_wait_s = 0.3 s per wait.
    assert time.monotonic() - t0 < 30.0  # generous under load; an uncapped wait would be 2 h
    assert pagerduty.hits["/incidents/QFLOOD"] == 3


def test_pagerduty_unknown_incident_is_query_error(pd_config):
    with pytest.raises(QueryError, match=r"HTTP 404: Incident Not Found"):
        incident_record("QNOPE", pd_config)


def test_pagerduty_unreachable_is_source_unavailable(pd_config):
    pd_config.incidents.pagerduty_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceUnavailable, match="cannot connect"):
        incident_record("Q2P1DEMO", pd_config)


def test_non_json_and_server_errors(pd_config):
    with pytest.raises(QueryError, match=r"response is not JSON: '<html>maintenance</html>'"):
        incident_record("QHTML", pd_config)
    with pytest.raises(SourceUnavailable, match=r"HTTP 503"):
        incident_record("Q500", pd_config)


def test_silent_server_times_out(pd_config):
    import socket

    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        pd_config.incidents.pagerduty_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        pd_config.incidents.timeout_s = 0.3
        with pytest.raises(SourceUnavailable, match=r"timed out after 0.3 s"):
            incident_record("Q2P1DEMO", pd_config)


def test_every_caught_httpx_error_maps_to_ours(pd_config):
    # A garbage URL scheme makes httpx raise before any socket: still one of ours.
    pd_config.incidents.pagerduty_url = "htp://127.0.0.1:1"
    with pytest.raises(SourceUnavailable):
        incident_record("Q2P1DEMO", pd_config)


def test_collector_with_pagerduty(pd_config):
    ctx = CollectContext("Q2P1DEMO", TimeWindow.parse("2024-12-02T13:30Z", "2024-12-02T15:30Z"), pd_config)
    assert incsrc.COLLECTOR.configured(pd_config)
    ev = {e.name: e for e in incsrc.COLLECTOR.run(ctx)}
    assert set(ev) == {"incident", "incident_updates", "action_items"}
    assert ev["incident"].status == "ok" and ev["incident_updates"].status == "ok"
    assert ev["action_items"].status == "empty"
    assert TOKEN not in ev["incident"].query
    assert ev["incident"].query.endswith("/incidents/Q2P1DEMO and /log_entries")


# ------------------------------------------------------------------ TOML records
def _toml_config(tmp_path: Path, files: dict[str, str]) -> Config:
    d = tmp_path / "incidents"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return Config.from_dict({"incidents": {"dir": "incidents"}}, path=tmp_path / "eafix.toml")


def test_toml_record_of_the_demo(tmp_path):
    cfg = _toml_config(tmp_path, {"INC-DEMO.toml": DEMO_INCIDENT_TOML})
    rec = incident_record("INC-DEMO", cfg)
    assert (rec.title, rec.severity, rec.services) == (
        "Signal latency above 5 s after execution-engine deploy", "P1", ("execution-engine", "signal-generator"))
    assert [rec.triggered_at, rec.acknowledged_at, rec.responded_at, rec.resolved_at] == [
        _ts("2024-12-02T14:05Z"), _ts("2024-12-02T14:09Z"), _ts("2024-12-02T14:20Z"), _ts("2024-12-02T15:20Z")]
    assert list(rec.updates["status"]) == ["Investigating", "Identified", "Monitoring", "Resolved"]
    assert list(rec.action_items["owner"]) == ["execution", "platform"]
    tables = incident_tables(rec)
    inc = tables["incident"]
    assert inc.loc[0, "services"] == "execution-engine,signal-generator"
    assert inc.loc[0, "status"] == "resolved"
    assert str(inc["resolved_at"].dtype) == "datetime64[ns, UTC]"
    assert str(tables["incident_updates"]["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_toml_offsets_are_converted_and_extra_action_keys_kept(tmp_path):
    cfg = _toml_config(tmp_path, {"INC-P3.toml": (DATA / "INC-P3.toml").read_text()})
    rec = incident_record("INC-P3", cfg)
    assert rec.acknowledged_at == _ts("2024-11-29T16:00Z")  # 17:00+01:00
    assert rec.updates.loc[0, "status"] == "Investigating"  # normalised from "investigating"
    assert rec.updates.loc[0, "author"] == "Dana Ortiz"
    assert rec.action_items.loc[0, "due"] == "2024-12-20"


def test_toml_datetime_without_offset_is_a_clear_error(tmp_path):
    cfg = _toml_config(tmp_path, {"INC-NAIVE.toml": (DATA / "INC-NAIVE.toml").read_text()})
    with pytest.raises(ConfigError, match=r"INC-NAIVE.toml: triggered_at = 2024-12-02T14:05:00: needs a UTC offset"):
        incident_record("INC-NAIVE", cfg)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('severity = "P1"\n', r"triggered_at is required"),
        ('triggerd_at = 2024-12-02T14:05:00Z\n', r"unknown key 'triggerd_at'"),
        ('severity = "SEV1"\ntriggered_at = 2024-12-02T14:05:00Z\n', r"severity = 'SEV1': expected one of P0, P1, P2, P3"),
        ('triggered_at = "2024-12-02T14:05:00Z"\n', r"expected a TOML datetime with offset, unquoted"),
        ('triggered_at = 2024-12-02\n', r"a date, expected a datetime"),
        ('triggered_at = 2024-12-02T14:05:00Z\nacknowledged_at = 2024-12-02T14:00:00Z\n',
         r"acknowledged_at 2024-12-02T14:00:00\+00:00 is before triggered_at"),
        ('triggered_at = 2024-12-02T14:05:00Z\n[[updates]]\ntime = 2024-12-02T14:10:00Z\nstatus = "Fixed"\n',
         r"updates\[0\].status 'Fixed': expected one of Investigating, Identified, Monitoring, Resolved"),
        ('triggered_at = 2024-12-02T14:05:00Z\n[[updates]]\nstatus = "Identified"\n', r"updates\[0\]: time is required"),
        ("title = 'unterminated\n", r"invalid TOML"),
    ],
)
def test_toml_errors_name_the_file_and_key(tmp_path, text, message):
    cfg = _toml_config(tmp_path, {"INC-X.toml": text})
    with pytest.raises(ConfigError, match=message) as err:
        incident_record("INC-X", cfg)
    assert "INC-X.toml" in str(err.value)


def test_missing_record_and_unsafe_id(tmp_path):
    cfg = _toml_config(tmp_path, {})
    with pytest.raises(ConfigError, match=r"incidents/INC-404.toml: no incident record"):
        incident_record("INC-404", cfg)
    with pytest.raises(ConfigError, match="incident id"):
        incident_record("../etc/passwd", cfg)


def test_collector_records_a_missing_file_as_unavailable(tmp_path):
    cfg = _toml_config(tmp_path, {})
    assert incsrc.COLLECTOR.configured(cfg)
    ev = incsrc.COLLECTOR.run(CollectContext("INC-404", TimeWindow.last("1h"), cfg))
    assert [e.status for e in ev] == ["unavailable"] * 3
    assert "no incident record" in ev[0].error
    assert not incsrc.COLLECTOR.configured(Config.from_dict({}, path=tmp_path / "elsewhere" / "eafix.toml"))


def test_demo_record_is_embedded_when_no_file_exists(tmp_path):
    rec = incident_record("INC-DEMO", _toml_config(tmp_path, {}), embedded=EMBEDDED_INCIDENTS)
    assert rec.source == "embedded INC-DEMO sample"
    assert (rec.severity, rec.resolved_at) == ("P1", _ts("2024-12-02T15:20Z"))
    # A file of that name still wins.
    cfg = _toml_config(tmp_path, {"INC-DEMO.toml": DEMO_INCIDENT_TOML.replace('"P1"', '"P2"')})
    assert incident_record("INC-DEMO", cfg, embedded=EMBEDDED_INCIDENTS).severity == "P2"


def test_collected_bundle_alone_drives_sla_and_update(tmp_path):
    from eafix_forensics import EvidenceBundle, sla_report, update_message
    from eafix_forensics.collect import collect

    cfg = _toml_config(tmp_path, {"INC-P3.toml": (DATA / "INC-P3.toml").read_text()})
    bundle = collect("INC-P3", TimeWindow.parse("2024-11-29T15:00Z", "2024-12-03T12:00Z"), cfg,
                     output_dir=tmp_path / "out", sources=[incsrc.COLLECTOR], progress=False)
    (tmp_path / "incidents" / "INC-P3.toml").unlink()  # the review has only the bundle
    reopened = EvidenceBundle.open(bundle.path)
    assert [reopened.status(t) for t in ("incident", "incident_updates", "action_items")] == ["ok"] * 3
    report = sla_report(reopened).set_index("sla")
    assert report.loc["resolve", "actual"] == pd.Timedelta(hours=42)  # business days, over the weekend
    assert bool(report.loc["resolve", "met"]) and not bool(report.loc["update_cadence", "met"])
    assert update_message(reopened, "Resolved").splitlines()[4] == "ETA: Resolved at 2024-12-03 10:00 UTC"
