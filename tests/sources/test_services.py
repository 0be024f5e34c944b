"""sources.services against the real loopback servers of tests/harness/services.py."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pandas as pd
import pytest

import eafix_forensics as ef
from eafix_forensics.collect import CollectContext, collect, run_collectors
from eafix_forensics.config import DEFAULT_SERVICES, Config, ServiceConfig
from eafix_forensics.errors import ConfigError, QueryError, SourceUnavailable
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources import services as S
from eafix_forensics.sources.services.client import _translate as translate
from tests.harness import free_port

WINDOW = ef.TimeWindow.parse("2024-12-02T14:00:00Z", "2024-12-02T14:30:00Z")
FAST = {"backoff_s": 0.05}  # keep retry tests quick where backoff is not what is measured


def _row(frame: pd.DataFrame, service: str) -> pd.Series:
    rows = frame[frame["service"] == service]
    assert len(rows) == 1, frame
    return rows.iloc[0]


# ---------------------------------------------------------------- health
def test_health_all_services_ok(services_api):
    frame = ef.health(services_api.config())
    assert list(frame.columns[:7]) == list(schemas.SCHEMAS["health"])
    assert frame.dtypes.iloc[:7].astype(str).tolist() == schemas.empty("health").dtypes.astype(str).tolist()
    assert sorted(frame["service"]) == sorted(DEFAULT_SERVICES)
    assert set(frame["status"]) == {"ok"}
    assert (frame["status_code"] == 200).all()
    assert frame["error"].isna().all()
    assert (frame["latency_ms"] > 0).all()
    assert str(frame["checked_at"].dtype) == "datetime64[ns, UTC]"
    gateway = _row(frame, "gui-gateway")
    assert gateway["url"] == services_api.url("gui-gateway") + "/health"
    assert _row(frame, "risk-manager")["url"].endswith("/healthz")
    # One GET per service, nothing else.
    assert len(services_api.requests(method="GET", endpoint="health")) == 6
    assert services_api.requests(method="POST") == []


HEALTH_MODES = [
    # mode, options, service config, expected status, text the error must contain
    ("failing", {}, {}, "down", "HTTP 500: internal error"),
    ("failing", {"status": 503, "error": "broker pool exhausted"}, {}, "down", "HTTP 503: broker pool exhausted"),
    # (slow: 2.5 s against a 1.5 s threshold, so a loaded machine does not make the healthy ones "slow")
    ("slow", {"delay": 2.5}, {"degraded_ms": 1500.0}, "degraded", "slow: answered in"),
    ("degraded", {}, {}, "degraded", "service reports status 'degraded'"),
    ("malformed", {}, {}, "degraded", "invalid JSON"),
    ("oversized", {}, {"max_bytes": 4096}, "degraded", "size cap"),
    ("trickling", {"interval": 0.05}, {"timeout_s": 2.0}, "unreachable", "no complete answer within 2 s"),
    ("hanging", {}, {"timeout_s": 2.0}, "unreachable", "no complete answer within 2 s"),
    ("status", {"code": 404}, {}, "down", "HTTP 404"),
]


@pytest.mark.parametrize(("mode", "options", "svc", "status", "error"), HEALTH_MODES, ids=[
    f"{m[0]}-{m[3]}-{i}" for i, m in enumerate(HEALTH_MODES)
])
def test_health_mode_gives_documented_status_and_others_still_arrive(services_api, mode, options, svc, status, error):
    services_api.set_mode("execution-engine", mode, **options)
    frame = ef.health(services_api.config(**FAST, **svc), deadline_s=5)
    bad = _row(frame, "execution-engine")
    assert bad["status"] == status
    assert error in bad["error"]
    others = frame[frame["service"] != "execution-engine"]
    assert len(others) == 5
    assert set(others["status"]) == {"ok"}


def test_health_invalid_json_error_names_url_and_shows_sample(services_api):
    services_api.set_mode("risk-manager", "malformed")
    row = _row(ef.health(services_api.config()), "risk-manager")
    assert services_api.url("risk-manager") + "/healthz" in row["error"]
    assert '{"status": "ok", "items": [{"id": "S-1"' in row["error"]


def test_health_oversized_stops_reading_at_the_cap(services_api):
    services_api.set_mode("data-ingestor", "oversized", size=50 * 1024 * 1024)
    t0 = time.monotonic()
    frame = ef.health(services_api.config(max_bytes=64 * 1024))
    row = _row(frame, "data-ingestor")
    assert row["status"] == "degraded"
    assert "cut after 65536 bytes" in row["error"]
    assert time.monotonic() - t0 < 15  # generous under load; the abort below is what shows the cap
    deadline = time.monotonic() + 5
    (req,) = services_api.requests("data-ingestor")
    while not req.aborted and time.monotonic() < deadline:
        time.sleep(0.05)
    # The client hung up: the server never got its 50 MB out.
    assert req.aborted
    assert req.bytes_sent < 50 * 1024 * 1024


def test_health_announced_oversize_is_not_read_at_all(services_api):
    services_api.set_mode("data-ingestor", "oversized", size=20 * 1024 * 1024, announce=True)
    row = _row(ef.health(services_api.config(max_bytes=1024)), "data-ingestor")
    assert row["status"] == "degraded"
    assert "cut after 0 bytes" in row["error"]


def test_health_unreachable_service_is_retried_three_times(services_api):
    cfg = services_api.config(backoff_s=0.1)
    cfg.services["risk-manager"] = ServiceConfig(url=f"http://127.0.0.1:{free_port()}", backoff_s=0.1)
    t0 = time.monotonic()
    frame = ef.health(cfg)
    row = _row(frame, "risk-manager")
    assert row["status"] == "unreachable"
    assert pd.isna(row["status_code"])
    assert "cannot connect" in row["error"]
    assert row["attempts"] == 3
    # Two backoffs of at least 0.5x and 1x the base happened between the tries.
    assert time.monotonic() - t0 >= 0.05 + 0.1
    assert (frame[frame["service"] != "risk-manager"]["status"] == "ok").all()


def test_health_strips_credentials_from_urls(services_api):
    cfg = services_api.config()
    port = services_api.ports["gui-gateway"]
    cfg.services["gui-gateway"] = ServiceConfig(url=f"http://ops:s3cr3t@127.0.0.1:{port}", health="/health")
    frame = ef.health(cfg)
    row = _row(frame, "gui-gateway")
    assert row["status"] == "ok"
    assert row["url"] == f"http://127.0.0.1:{port}/health"
    assert "s3cr3t" not in S.COLLECTOR.describe(cfg)


def test_health_works_inside_a_running_event_loop(services_api):
    # Jupyter runs cells inside an event loop; asyncio.run() alone would refuse.
    async def notebook_cell():
        return ef.health(services_api.config())

    frame = asyncio.run(notebook_cell())
    assert set(frame["status"]) == {"ok"}


def test_health_needs_services_and_a_positive_deadline(services_api):
    with pytest.raises(ConfigError, match="no \\[services.NAME\\]"):
        ef.health(Config(services={}))
    with pytest.raises(ConfigError, match="deadline_s = 0"):
        ef.health(services_api.config(), deadline_s=0)


# ---------------------------------------------------------------- GET only
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_non_get_request_is_refused_before_any_byte_leaves(services_api, method):
    url = services_api.url("gui-gateway") + "/emergency/stop-trading"

    async def attempt():
        async with S.read_only_client() as client:
            with pytest.raises(QueryError, match=f"{method} .*refused.*GET only") as err:
                await client.request(method, url, json={"confirm": True})
            # The same client does reach the server with a GET: the server would have seen it.
            resp = await client.get(services_api.url("gui-gateway") + "/health")
            return err.value, resp.status_code

    err, status = asyncio.run(attempt())
    assert status == 200
    assert "nothing was sent" in str(err)
    assert services_api.requests(method=method) == []
    assert [r.method for r in services_api.requests("gui-gateway")] == ["GET"]
    # Exactly one TCP connection: the GET's. The refused request never connected.
    assert services_api.connections("gui-gateway") == 1


# ---------------------------------------------------------------- HTTPS
def test_https_services_with_a_private_ca(tls_ca, tmp_path):
    from tests.harness.services import ServicesHarness

    with ServicesHarness(ssl_context=tls_ca.server_context()) as https:
        assert https.url("gui-gateway").startswith("https://127.0.0.1:")
        # Trusting the CA that issued the servers' certificate: every handshake succeeds.
        frame = ef.health(https.config(ca_bundle=str(tls_ca.pem), **FAST))
        assert set(frame["status"]) == {"ok"}
        assert len(ef.positions(https.config(ca_bundle=str(tls_ca.pem)))) == 4
        seen = len(https.requests())
        # Without it the handshake fails: each service is unreachable, saying why, and no
        # request got through to a server.
        frame = ef.health(https.config(**FAST))
        assert set(frame["status"]) == {"unreachable"}
        assert frame["error"].str.contains("CERTIFICATE_VERIFY_FAILED|certificate verify failed").all()
        assert len(https.requests()) == seen
        # A CA file that holds no certificate is a config error naming the file.
        bad = tmp_path / "ca.pem"
        bad.write_text("not a certificate\n")
        with pytest.raises(ConfigError, match=f"ca_bundle {bad}: cannot load CA certificates"):
            ef.health(https.config(ca_bundle=str(bad)))


# ---------------------------------------------------------------- retries and backoff
def _gaps(reqs):
    return [b.t - a.t for a, b in itertools.pairwise(reqs)]


def test_5xx_is_retried_three_times_with_jittered_exponential_backoff(services_api):
    services_api.set_mode("execution-engine", "failing", endpoint="health")
    base = 0.2
    row = _row(ef.health(services_api.config(backoff_s=base)), "execution-engine")
    assert row["attempts"] == 3
    reqs = services_api.requests("execution-engine", "health")
    assert len(reqs) == 3
    first, second = _gaps(reqs)
    # Attempt n waits base * 2**(n-1) * uniform(0.5, 1): the lower bounds are what the client
    # guarantees; the upper ones are generous (a loaded machine adds scheduling delay) but still
    # rule out a fixed or unbounded wait. Exact figures: benchmarks/services.py.
    assert 0.5 * base <= first <= 1.0 * base + 1.5
    assert 1.0 * base <= second <= 2.0 * base + 1.5


def test_jitter_spreads_simultaneous_retries(services_api):
    for name in DEFAULT_SERVICES:
        services_api.set_mode(name, "failing", endpoint="health")
    ef.health(services_api.config(backoff_s=0.4, tries=2))
    first_gaps = [_gaps(services_api.requests(name, "health"))[0] for name in DEFAULT_SERVICES]
    assert all(0.2 <= g <= 2.0 for g in first_gaps)  # at least 0.5x the base; generous above
    # Six services failing together must not come back in lockstep (0.2 s of jitter; a
    # spread under 20 ms has a chance of about 6e-5).
    assert max(first_gaps) - min(first_gaps) > 0.02


def test_recovering_service_needs_one_retry(services_api):
    services_api.set_mode("signal-generator", "flaky", endpoint="health", fail_times=1, status=502)
    row = _row(ef.health(services_api.config(**FAST)), "signal-generator")
    assert row["status"] == "ok"
    assert row["attempts"] == 2
    assert len(services_api.requests("signal-generator", "health")) == 2


@pytest.mark.parametrize(("mode", "options"), [
    ("status", {"code": 404}),
    ("status", {"code": 429}),
    ("malformed", {}),
    ("slow", {"delay": 1.0}),  # a read timeout is not a connect error: no retry
])
def test_no_retry_on_4xx_bad_body_or_timeout(services_api, mode, options):
    services_api.set_mode("indicator-engine", mode, endpoint="health", **options)
    row = _row(ef.health(services_api.config(timeout_s=0.4, **FAST)), "indicator-engine")
    assert row["attempts"] == 1
    assert len(services_api.requests("indicator-engine", "health")) == 1


def test_retry_after_is_honoured(services_api):
    services_api.set_mode("execution-engine", "failing", endpoint="health", status=503, retry_after=1)
    ef.health(services_api.config(tries=2, **FAST))
    (gap,) = _gaps(services_api.requests("execution-engine", "health"))
    # The configured backoff is 0.05 s: only the server's Retry-After explains a gap of 1 s.
    assert 1.0 <= gap <= 4.0


def test_retry_after_is_bounded_by_max_retry_after(services_api):
    services_api.set_mode("execution-engine", "failing", endpoint="health", status=503, retry_after=3600)
    t0 = time.monotonic()
    ef.health(services_api.config(tries=2, max_retry_after_s=0.4, **FAST))
    (gap,) = _gaps(services_api.requests("execution-engine", "health"))
    assert 0.4 <= gap <= 3.0  # capped at 0.4 s, never the announced hour
    assert time.monotonic() - t0 < 30


def test_retry_after_beyond_the_deadline_stops_retrying(services_api):
    services_api.set_mode("execution-engine", "failing", endpoint="health", status=503, retry_after=5)
    t0 = time.monotonic()
    frame = ef.health(services_api.config(**FAST), deadline_s=2)
    assert time.monotonic() - t0 < 4  # it did not sit out the 5 s Retry-After
    row = _row(frame, "execution-engine")
    assert row["status"] == "down"
    assert row["attempts"] == 1
    assert row["error"] == (
        "HTTP 503: internal error; stopped retrying after 1 of 3 tries: the overall deadline is near"
    )
    assert len(services_api.requests("execution-engine", "health")) == 1


# ---------------------------------------------------------------- the overall deadline
def test_overall_deadline_cuts_a_hanging_service_and_keeps_the_others(services_api):
    # How close to the deadline it returns (within 10 %) is measured by benchmarks/services.py;
    # here: it waited for the hanging service until the deadline, not for its 30 s timeout.
    services_api.set_mode("execution-engine", "hanging")
    cfg = services_api.config(timeout_s=30.0)
    t0 = time.monotonic()
    frame = ef.health(cfg, deadline_s=2.0)
    elapsed = time.monotonic() - t0
    assert 2.0 <= elapsed < 12.0
    assert len(services_api.requests("execution-engine", "health")) == 1  # the server saw it, and hung
    row = _row(frame, "execution-engine")
    assert row["status"] == "unreachable"
    assert "overall deadline" in row["error"]
    assert set(frame[frame["service"] != "execution-engine"]["status"]) == {"ok"}


def test_trickling_server_is_cut_at_the_overall_deadline(services_api):
    services_api.set_mode("gui-gateway", "trickling", endpoint="positions", interval=0.05)
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable, match="overall deadline") as err:
        ef.positions(services_api.config(timeout_s=30.0), deadline_s=1.5)
    elapsed = time.monotonic() - t0
    assert 1.5 <= elapsed < 12.0  # the deadline, not the 30 s timeout nor the 100 kB trickle (~80 min)
    assert services_api.url("gui-gateway") + "/api/positions" in str(err.value)
    (req,) = services_api.requests("gui-gateway", "positions")
    assert req.bytes_sent > 5  # it was sending, slowly, when it was cut


# ---------------------------------------------------------------- the trading API
def test_positions_have_documented_columns_and_keep_unknown_fields(services_api):
    frame = ef.positions(services_api.config())
    assert list(frame.columns[: len(S.POSITIONS)]) == list(S.POSITIONS)
    assert "strategy" in frame.columns  # an API field we have no column for
    assert frame.attrs["status"] == "ok"
    assert len(frame) == 4
    p1 = frame[frame["position_id"] == "P-1"].iloc[0]
    assert p1["symbol"] == "EURUSD" and p1["quantity"] == 120000 and p1["exposure"] == 125976.0
    assert p1["account"] == "17" and p1["unrealized_pnl"] == -168.0 and p1["strategy"] == "momentum"
    assert p1["opened_at"] == pd.Timestamp("2024-12-02T09:12:00Z")
    assert str(frame["opened_at"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["fetched_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["service"].eq("gui-gateway").all()
    assert services_api.requests("gui-gateway", "positions")[0].path == "/api/positions"


def test_slow_endpoint_still_answers_within_its_timeout(services_api, tmp_path):
    services_api.set_mode("gui-gateway", "slow", endpoint="positions", delay=0.5)
    toml = tmp_path / "eafix.toml"
    toml.write_text(
        f'[services.gui-gateway]\nurl = "{services_api.url("gui-gateway")}"\nhealth = "/health"\ntimeout_s = 2.0\n'
    )
    t0 = time.monotonic()
    frame = ef.positions(toml)  # a config path works like a Config
    assert time.monotonic() - t0 >= 0.5
    assert frame.attrs["status"] == "ok" and len(frame) == 4


def test_signals_ask_since_the_window_start_and_keep_only_its_rows(services_api):
    frame = ef.signals(services_api.config(), WINDOW)
    (req,) = services_api.requests("signal-generator", "signals")
    assert list(req.query) == ["since"]
    since = req.query["since"]
    minutes = int(since[:-1]) * (60 if since.endswith("h") else 1)
    # Measured on the server's clock when the request arrived, with the minute of slack:
    # the window start is covered however late the request lands, and at most ~2 minutes more.
    reaches_back_to = pd.Timestamp(req.at) - pd.Timedelta(minutes=minutes)
    assert WINDOW.start - pd.Timedelta(minutes=2) <= reaches_back_to <= WINDOW.start
    assert len(frame) == 15
    assert WINDOW.mask(frame["timestamp"]).all()
    assert list(frame.columns[: len(S.SIGNALS)]) == list(S.SIGNALS)
    assert (frame["latency_ms"] > 5000).sum() == 10
    assert "model" in frame.columns


def test_rows_outside_the_window_are_dropped_and_counted(services_api):
    # A server that ignores since/until: the client still returns the window only.
    services_api.set_mode("execution-engine", "healthy", endpoint="executions",
                          payload=[{"id": "a", "ts": "2024-12-02T13:00:00Z", "status": "filled"},
                                   {"id": "b", "ts": "2024-12-02T14:10:00Z", "status": "failed"},
                                   {"id": "c", "ts": None, "status": "rejected"}])
    frame = ef.executions(services_api.config(), WINDOW)
    assert list(frame["execution_id"]) == ["b", "c"]  # a row without a time is kept, not guessed
    assert frame.attrs["details"]["outside_window"] == 1


def test_empty_result_has_the_same_columns_and_dtypes_as_a_full_one(services_api):
    full = ef.executions(services_api.config(), WINDOW)
    services_api.set_mode("execution-engine", "healthy", endpoint="executions", payload=[])
    empty = ef.executions(services_api.config(), WINDOW)
    assert len(full) > 0 and len(empty) == 0
    assert empty.attrs["status"] == "empty"
    n = len(S.EXECUTIONS)
    assert list(empty.columns) == list(full.columns[:n])
    assert empty.dtypes.astype(str).tolist() == full.dtypes.iloc[:n].astype(str).tolist()


def test_last_hour_asks_since_1h_like_the_runbook(services_api):
    frame = ef.signals(services_api.config(), ef.TimeWindow.last("1h", now=pd.Timestamp.now(tz="UTC").floor("min")))
    (req,) = services_api.requests("signal-generator", "signals")
    since = req.query["since"]
    assert since in ("61m", "62m")  # the runbook's 1h, plus the minute of slack (+1 when a minute turned)
    assert len(frame) == 0  # the harness data is from 2024
    ef.signals(services_api.config(), "90m")
    assert services_api.requests("signal-generator", "signals")[-1].query["since"] in ("91m", "92m")


def test_executions_statuses_and_reasons(services_api):
    frame = ef.executions(services_api.config(), WINDOW)
    assert list(frame.columns[: len(S.EXECUTIONS)]) == list(S.EXECUTIONS)
    assert frame["status"].value_counts().to_dict() == {"filled": 5, "rejected": 3, "failed": 2}
    bad = frame[frame["status"].isin(["rejected", "failed"])]
    assert (bad["error"] == "broker timeout after 5000 ms").all()
    assert frame["service"].eq("execution-engine").all()


def test_reconcile_statuses(services_api):
    frame = ef.reconcile(services_api.config())
    assert list(frame.columns[: len(S.RECONCILE)]) == list(S.RECONCILE)
    assert frame["status"].tolist() == ["match", "match", "mismatch"]
    bad = frame[frame["status"] == "mismatch"].iloc[0]
    assert bad["difference"] == -10000 and bad["detail"] == "broker shows 10000 fewer units"


def test_reconcile_object_listing_only_mismatches(services_api):
    services_api.set_mode("gui-gateway", "healthy", endpoint="reconcile",
                          payload={"status": "failed", "checked": 12,
                                   "mismatches": [{"symbol": "EURUSD", "internal": 5, "broker": 7}]})
    frame = ef.reconcile(services_api.config())
    assert frame["status"].tolist() == ["mismatch"]
    assert frame["difference"].tolist() == [2.0]
    assert frame.attrs["details"]["summary"] == {"status": "failed", "checked": 12}


@pytest.mark.parametrize("style", ["next", "cursor"])
def test_pagination_is_followed(services_api, style):
    services_api.set_mode("signal-generator", "paginated", endpoint="signals", page_size=4, style=style)
    frame = ef.signals(services_api.config(), WINDOW)
    assert len(frame) == 15
    assert frame["signal_id"].is_unique
    reqs = services_api.requests("signal-generator", "signals")
    # The API returns everything since the window start (24 signals, 6 pages); the
    # 9 after the window's end are dropped here and counted.
    assert len(reqs) == 6
    assert len({r.query["since"] for r in reqs}) == 1  # every page asks for the same window
    assert frame.attrs["details"]["pages"] == 6
    assert frame.attrs["details"]["outside_window"] == 9


def test_page_limit_truncates(services_api):
    services_api.set_mode("signal-generator", "paginated", endpoint="signals", page_size=4)
    frame = ef.signals(services_api.config(max_pages=2), WINDOW)
    assert len(frame) == 8
    assert frame.attrs["status"] == "truncated"
    assert "max_pages = 2" in frame.attrs["error"]
    assert len(services_api.requests("signal-generator", "signals")) == 2


def test_next_page_on_another_host_is_not_followed(services_api):
    services_api.set_mode("signal-generator", "healthy", endpoint="signals",
                          payload={"items": [{"id": "x", "ts": "2024-12-02T14:01:00Z"}],
                                   "next": "http://198.51.100.7/api/signals?page=2"})
    frame = ef.signals(services_api.config(), WINDOW)
    assert len(frame) == 1  # the page already read is kept
    assert frame.attrs["status"] == "truncated"
    assert "another host" in frame.attrs["error"]
    assert len(services_api.requests("signal-generator")) == 1


def test_oversized_table_is_truncated_at_the_size_cap(services_api):
    services_api.set_mode("gui-gateway", "oversized", endpoint="positions", size=30 * 1024 * 1024)
    frame = ef.positions(services_api.config(max_bytes=100_000))
    assert frame.attrs["status"] == "truncated"
    assert "size cap of 100000 bytes" in frame.attrs["error"]
    assert frame.attrs["details"]["bytes"] == 100_000
    assert len(frame) == 0 and list(frame.columns) == list(S.POSITIONS)


def test_size_cap_counts_all_pages(services_api):
    services_api.set_mode("signal-generator", "paginated", endpoint="signals", page_size=4)
    frame = ef.signals(services_api.config(max_bytes=2000), WINDOW)
    assert frame.attrs["status"] == "truncated"
    assert frame.attrs["details"]["bytes"] <= 2000
    assert 0 < len(frame) < 15  # the pages that fitted are kept


def test_malformed_json_is_a_query_error_naming_url_and_sample(services_api):
    services_api.set_mode("signal-generator", "malformed", endpoint="signals")
    with pytest.raises(QueryError) as err:
        ef.signals(services_api.config(), WINDOW)
    msg = str(err.value)
    assert services_api.url("signal-generator") + "/api/signals" in msg
    assert "invalid JSON" in msg and '{"status": "ok", "items"' in msg
    assert len(msg) < 400


def test_failing_endpoint_raises_source_unavailable_after_three_tries(services_api):
    services_api.set_mode("execution-engine", "failing", endpoint="executions")
    with pytest.raises(SourceUnavailable, match="HTTP 500: internal error after 3 tries") as err:
        ef.executions(services_api.config(**FAST), WINDOW)
    assert services_api.url("execution-engine") + "/api/executions" in str(err.value)
    assert len(services_api.requests("execution-engine", "executions")) == 3


def test_4xx_endpoint_is_a_query_error_without_retry(services_api):
    services_api.set_mode("gui-gateway", "status", endpoint="reconcile", code=403, error="forbidden")
    with pytest.raises(QueryError, match="HTTP 403: forbidden after 1 try"):
        ef.reconcile(services_api.config(**FAST))
    assert len(services_api.requests("gui-gateway", "reconcile")) == 1


def test_unexpected_json_shape_is_a_query_error(services_api):
    services_api.set_mode("gui-gateway", "healthy", endpoint="positions", payload={"hello": "world"})
    with pytest.raises(QueryError, match="expected a list of positions.*got keys \\['hello'\\]"):
        ef.positions(services_api.config())


def test_non_object_records_are_kept_and_counted(services_api):
    services_api.set_mode("gui-gateway", "healthy", endpoint="positions",
                          payload=[{"id": "P-9", "symbol": "EURUSD", "qty": 1}, "garbage", 42])
    frame = ef.positions(services_api.config())
    assert len(frame) == 3
    assert frame["raw"].tolist()[1:] == ['"garbage"', "42"]
    assert frame.attrs["details"]["malformed_records"] == 2


def test_api_served_by_another_service_when_configured(services_api):
    cfg = services_api.config()
    risk = cfg.services["risk-manager"]
    cfg.services["risk-manager"] = ServiceConfig(url=risk.url, positions="/api/positions")
    ef.positions(cfg)
    assert len(services_api.requests("risk-manager", "positions")) == 1
    assert services_api.requests("gui-gateway", "positions") == []


def test_table_without_a_serving_service_is_a_config_error(services_api):
    cfg = services_api.config()
    del cfg.services["signal-generator"]
    with pytest.raises(ConfigError, match="no configured service serves signals"):
        ef.signals(cfg, WINDOW)


# ---------------------------------------------------------------- shaping
def test_shape_records_reads_epoch_and_iso_times_and_keeps_bad_ones():
    now = pd.Timestamp("2024-12-02T15:00Z")
    frame = S.shape_records("signals", [
        {"id": 1, "ts": 1733148000},  # epoch seconds
        {"id": 2, "ts": 1733148000000},  # epoch ms
        {"id": 3, "ts": "2024-12-02 14:00:00"},  # no offset: UTC
        {"id": 4, "ts": "2024-12-02T15:00:00+01:00"},
        {"id": 5, "ts": "not a time", "latency_s": 6.5},
    ], service="signal-generator", fetched_at=now)
    assert frame["timestamp"].iloc[:4].tolist() == [pd.Timestamp("2024-12-02T14:00Z")] * 4
    assert pd.isna(frame["timestamp"].iloc[4])
    assert frame["timestamp_raw"].iloc[4] == "not a time"
    assert frame.attrs["details"]["unreadable_timestamp"] == 1
    assert frame["latency_ms"].iloc[4] == 6500.0
    assert frame["signal_id"].tolist() == ["1", "2", "3", "4", "5"]


def test_shape_records_nested_values_become_json_text():
    frame = S.shape_records("positions", [{"id": "a", "tags": ["x", "y"], "meta": {"k": 1}}],
                            service="gui-gateway", fetched_at=pd.Timestamp("2024-12-02T15:00Z"))
    assert frame["tags"].iloc[0] == '["x", "y"]'
    assert frame["meta"].iloc[0] == '{"k": 1}'
    assert frame["fetched_at"].iloc[0] == pd.Timestamp("2024-12-02T15:00Z")


# ---------------------------------------------------------------- errors
# Which of our errors a foreign one becomes decides what the user gets: a ConfigError stops with
# a fix to make, a connect failure (SourceUnavailable, retried) is tried again, any other
# transport failure (SourceUnavailable) and a bad body (QueryError) mark the source without
# a retry. Each row: the exception, our class, retried, text the message must hold.
FOREIGN_ERRORS = [
    (httpx.ConnectError("refused"), SourceUnavailable, True, "cannot connect: refused"),
    (httpx.ConnectTimeout("t"), SourceUnavailable, True, "cannot connect: t"),
    (httpx.ReadTimeout("t"), SourceUnavailable, False, "no complete answer within 1 s (ReadTimeout)"),
    (httpx.WriteTimeout("t"), SourceUnavailable, False, "no complete answer within 1 s (WriteTimeout)"),
    (httpx.PoolTimeout("t"), SourceUnavailable, False, "no complete answer within 1 s (PoolTimeout)"),
    (httpx.ReadError("r"), SourceUnavailable, False, "ReadError: r"),
    (httpx.WriteError("w"), SourceUnavailable, False, "WriteError: w"),
    (httpx.CloseError("c"), SourceUnavailable, False, "CloseError: c"),
    (httpx.RemoteProtocolError("p"), SourceUnavailable, False, "RemoteProtocolError: p"),
    (httpx.LocalProtocolError("p"), SourceUnavailable, False, "LocalProtocolError: p"),
    (httpx.ProxyError("p"), SourceUnavailable, False, "ProxyError: p"),
    (httpx.UnsupportedProtocol("ftp"), ConfigError, False, "unsupported URL scheme"),
    (httpx.DecodingError("d"), QueryError, False, "undecodable response body: d"),
    (httpx.TooManyRedirects("r"), SourceUnavailable, False, "TooManyRedirects: r"),
    (httpx.InvalidURL("bad"), ConfigError, False, "invalid URL: bad"),
    (TimeoutError(), SourceUnavailable, False, "no complete answer within 1 s (TimeoutError)"),
]


@pytest.mark.parametrize(("exc", "ours", "retried", "text"), FOREIGN_ERRORS,
                         ids=[type(e[0]).__name__ for e in FOREIGN_ERRORS])
def test_every_caught_foreign_error_maps_to_ours(exc, ours, retried, text):
    from eafix_forensics.sources.services.client import _ConnectFailed

    got = translate(exc, "http://h:1/x", timeout_s=1.0)
    # exactly this public class: not a subclass of another branch (a QueryError is a SourceError too)
    public = [c for c in (ConfigError, SourceUnavailable, QueryError) if isinstance(got, c)]
    assert public == [ours], (type(got), ours)
    assert isinstance(got, _ConnectFailed) is retried
    assert str(got).startswith("http://h:1/x: ")
    assert text in str(got)


def test_the_overall_deadline_is_named_when_it_cut_the_request():
    got = translate(TimeoutError(), "http://h:1/x", timeout_s=1.0, deadline_hit=True)
    assert type(got) is SourceUnavailable
    assert str(got) == "http://h:1/x: no complete answer before the overall deadline"


def test_bad_service_config_is_a_config_error():
    with pytest.raises(ConfigError, match="tries = 4"):
        Config.from_dict({"services": {"x": {"url": "http://h:1", "tries": 4}}})
    with pytest.raises(ConfigError, match="expected an http"):
        Config.from_dict({"services": {"x": {"url": "localhost:8080"}}})
    with pytest.raises(ConfigError, match="health = 'healthz'"):
        Config.from_dict({"services": {"x": {"url": "http://h:1", "health": "healthz"}}})
    with pytest.raises(ConfigError, match="unknown key 'timeout'"):
        Config.from_dict({"services": {"x": {"url": "http://h:1", "timeout": 3}}})
    cfg = Config.from_dict({"services": {"x": {"url": "http://h:1", "timeout_s": 2, "max_bytes": 1000}}})
    assert cfg.services["x"].timeout_s == 2 and cfg.services["x"].max_bytes == 1000


# ---------------------------------------------------------------- collect()
def _ctx(cfg, timeout=30.0):
    return CollectContext("INC-T", WINDOW, cfg, None, time.monotonic() + timeout)


def test_collector_records_each_endpoint_failure_per_table(services_api):
    services_api.set_mode("execution-engine", "failing", endpoint="executions")
    services_api.set_mode("signal-generator", "malformed", endpoint="signals")
    services_api.set_mode("gui-gateway", "oversized", endpoint="positions")
    evidence = {e.name: e for e in run_collectors(
        _ctx(services_api.config(max_bytes=50_000, **FAST)), [S.COLLECTOR], progress=False
    )}
    assert set(evidence) == {"health", "positions", "signals", "executions", "reconcile"}
    assert evidence["health"].status == "ok" and len(evidence["health"].frame) == 6
    assert evidence["executions"].status == "unavailable"
    assert "HTTP 500" in evidence["executions"].error
    assert evidence["signals"].status == "unavailable" and "invalid JSON" in evidence["signals"].error
    assert evidence["positions"].status == "truncated"
    assert evidence["reconcile"].status == "ok" and len(evidence["reconcile"].frame) == 3
    assert all(e.source == "services" for e in evidence.values())
    assert evidence["reconcile"].query.startswith("GET http://127.0.0.1:")


def test_collector_with_a_hanging_service_keeps_the_others(services_api):
    services_api.set_mode("execution-engine", "hanging")
    cfg = services_api.config(timeout_s=30.0)
    t0 = time.monotonic()
    # 4 s left before collect's deadline: the collector keeps 2 s for itself, so every table
    # below arrives (a collector cut by collect's own deadline would leave none).
    evidence = {e.name: e for e in run_collectors(_ctx(cfg), [S.COLLECTOR], timeout_s=4.0, progress=False)}
    assert time.monotonic() - t0 < 12.0  # not the hanging service's 30 s timeout
    assert _row(evidence["health"].frame, "execution-engine")["status"] == "unreachable"
    assert evidence["executions"].status == "unavailable"
    assert "overall deadline" in evidence["executions"].error
    assert len(evidence["positions"].frame) == 4 and evidence["positions"].status == "ok"


def test_collect_writes_the_services_tables_to_the_bundle(services_api, tmp_path):
    services_api.set_mode("execution-engine", "failing", endpoint="health", status=503)
    bundle = collect("INC-SVC", WINDOW, services_api.config(**FAST), output_dir=tmp_path,
                     sources=[S.COLLECTOR], progress=False)
    assert {bundle.status(t) for t in ("health", "positions", "signals", "executions", "reconcile")} == {"ok"}
    health = bundle.table("health")
    assert _row(health, "execution-engine")["status"] == "down"
    assert str(bundle.table("signals")["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert bundle.manifest["tables"]["signals"]["details"]["pages"] == 1
    assert bundle.verify() == []


def test_collector_is_configured_only_with_services():
    assert S.COLLECTOR.configured(Config())
    assert not S.COLLECTOR.configured(Config(services={}))
    assert S.COLLECTOR.tables == ("health", "positions", "signals", "executions", "reconcile")
    assert S.COLLECTOR.name == "services"


def test_a_service_with_an_unusable_url_does_not_cost_the_others(services_api):
    cfg = services_api.config()
    cfg.services["risk-manager"] = ServiceConfig(url="http://bad host:80")
    frame = ef.health(cfg)
    row = _row(frame, "risk-manager")
    assert row["status"] == "unreachable"
    assert "invalid URL" in row["error"] or "bad host" in row["error"]
    assert set(frame[frame["service"] != "risk-manager"]["status"]) == {"ok"}
