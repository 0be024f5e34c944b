"""query_range, the catalogue and the collector against a real Prometheus (tests/harness/prometheus.py)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eafix_forensics.analysis.metrics import breaches
from eafix_forensics.collect import DERIVED, CollectContext, collect, run_collectors
from eafix_forensics.config import Config
from eafix_forensics.errors import ConfigError, QueryError, SourceUnavailable
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources import prometheus as prom
from eafix_forensics.sources.prometheus import (
    COLLECTOR,
    MAX_POINTS_PER_REQUEST,
    catalogue,
    grid,
    prometheus_client,
    query_range,
)
from eafix_forensics.window import TimeWindow
from tests.harness import free_port
from tests.harness.prometheus import (
    CHUNK_END,
    CHUNK_START,
    DATASET_START,
    TRICKY_LABEL,
    dataset_values,
)

pytestmark = pytest.mark.prometheus

W = TimeWindow.parse("2024-12-02T14:05:00Z", "2024-12-02T14:15:00Z")
INCIDENT = TimeWindow.parse("2024-12-02T13:00:00Z", "2024-12-02T15:30:00Z")


def _config(url: str, **prometheus: object) -> Config:
    return Config.from_dict({"prometheus": {"url": url, **prometheus}})


# ------------------------------------------------------------------ samples and schema
def test_known_window_gives_exact_samples_values_and_schema(prometheus):
    df = query_range(prometheus.url, "up", W, step="15s")

    assert list(df.columns[:4]) == ["timestamp", "query", "series", "value"]
    assert str(df["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert {"__name__", "job", "service"} <= set(df.columns)
    # 3 services x 40 evaluation times in [14:05, 14:15) at 15 s
    assert len(df) == 3 * 40
    assert df.groupby("series").size().tolist() == [40, 40, 40]
    ing = df[df["service"] == "data-ingestor"].set_index("timestamp")["value"]
    expected = dataset_values('up{job="data-ingestor",service="data-ingestor"}')
    assert ing.index[0] == pd.Timestamp("2024-12-02T14:05:00Z")
    assert ing.index[-1] == pd.Timestamp("2024-12-02T14:14:45Z")
    assert ing.tolist() == expected[ing.index].tolist()
    assert ing[pd.Timestamp("2024-12-02T14:09:45Z")] == 1.0
    assert ing[pd.Timestamp("2024-12-02T14:10:00Z")] == 0.0
    assert set(df["series"]) == {
        f'{{__name__="up",job="{s}",service="{s}"}}' for s in ("data-ingestor", "execution-engine", "signal-generator")
    }
    assert (df["query"] == "up").all()


def test_nan_and_infinities_stay_floats(prometheus):
    df = query_range(prometheus.url, "eafix_special_values", W, 15)
    values = df["value"].to_numpy()
    assert df["value"].dtype == np.float64
    assert np.isnan(values).sum() == 10 and np.isposinf(values).sum() == 10 and np.isneginf(values).sum() == 10
    assert (values[np.isfinite(values)] == 1.5).all()


def test_empty_result_has_the_schema_columns_and_dtypes(prometheus):
    df = query_range(prometheus.url, "no_such_metric", W, 15)
    empty = schemas.empty("metrics")
    assert df.empty
    assert list(df.columns[:4]) == list(empty.columns)
    assert (df.dtypes[:4] == empty.dtypes).all()


def test_default_step_gives_about_a_thousand_points(prometheus):
    hour = TimeWindow.parse("2024-12-02T14:00:00Z", "2024-12-02T15:00:00Z")
    df = query_range(prometheus.url, 'up{job="signal-generator"}', hour)
    # 3600 s / 1000 points = 3.6 s, rounded up to a 5 s step: 720 points
    assert len(df) == 720
    assert df["timestamp"].diff().dropna().eq(pd.Timedelta(seconds=5)).all()


def test_step_accepts_seconds_strings_and_timedeltas(prometheus):
    a = query_range(prometheus.url, "up", W, 60)
    b = query_range(prometheus.url, "up", W, "1m")
    c = query_range(prometheus.url, "up", W, pd.Timedelta(minutes=1))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert len(a) == 3 * 10


def test_catalogue_name_column_and_label_clash(prometheus):
    df = query_range(prometheus.url, 'label_replace(up, "value", "v", "", "")', W, 60, name="probe")
    assert (df["name"] == "probe").all()
    # a label called "value" must not overwrite the value column
    assert (df["label_value"] == "v").all()
    assert set(df["value"]) == {0.0, 1.0}


# ------------------------------------------------------------------ chunking
def test_window_needing_more_than_11000_points_comes_back_whole(prometheus):
    window = TimeWindow(CHUNK_START, CHUNK_END)  # 3 h 10 min at 1 s = 11,400 points
    df = query_range(prometheus.url, "eafix_dense_counter", window, step=1)
    assert len(df) == 11_400 > MAX_POINTS_PER_REQUEST
    assert df["timestamp"].is_unique
    assert df["timestamp"].is_monotonic_increasing
    assert df["timestamp"].iloc[0] == CHUNK_START
    assert df["timestamp"].iloc[-1] == CHUNK_END - pd.Timedelta(seconds=1)
    # the counter is seconds since CHUNK_START: no sample lost or repeated at the join
    assert (df["value"].to_numpy() == np.arange(11_400)).all()


def test_unaligned_window_is_cut_on_the_step_grid_across_chunks(prometheus):
    window = TimeWindow(CHUNK_START + pd.Timedelta(milliseconds=500), CHUNK_END - pd.Timedelta(milliseconds=500))
    df = query_range(prometheus.url, "eafix_dense_counter", window, step=1, concurrency=3)
    assert df["timestamp"].iloc[0] == CHUNK_START + pd.Timedelta(seconds=1)
    assert df["timestamp"].iloc[-1] == CHUNK_END - pd.Timedelta(seconds=1)
    assert len(df) == 11_399 and df["timestamp"].is_unique


@given(
    start_ms=st.integers(0, 10**12),
    # The window is drawn as a number of grid steps (up to 5 requests' worth) plus a remainder,
    # so every example runs: drawing a length in ms made most of them too long to check.
    steps=st.integers(0, 5 * MAX_POINTS_PER_REQUEST),
    remainder=st.floats(0, 1, exclude_max=True),
    step_ms=st.sampled_from([1, 250, 1000, 15_000, 60_000, 300_000]),
)
def test_chunks_partition_the_grid(start_ms, steps, remainder, step_ms):
    length_ms = max(1, steps * step_ms + int(remainder * step_ms))
    window = TimeWindow(pd.Timestamp(start_ms, unit="ms", tz="UTC"), pd.Timestamp(start_ms + length_ms, unit="ms", tz="UTC"))
    first, step, points = grid(window, pd.Timedelta(milliseconds=step_ms))
    assert steps <= points <= steps + 1
    chunks = prom._chunks(first, step, points, MAX_POINTS_PER_REQUEST)
    got = np.concatenate([np.arange(a, b + 1, step) for a, b in chunks]) if chunks else np.empty(0)
    assert len(got) == points
    assert all((b - a) // step + 1 <= MAX_POINTS_PER_REQUEST for a, b in chunks)
    if points:
        assert (np.diff(got) == step).all()
        assert got[0] >= start_ms and got[0] - step < start_ms
        assert got[-1] < start_ms + length_ms <= got[-1] + step
        assert got[0] % step == 0


# ------------------------------------------------------------------ errors
def test_bad_promql_is_a_query_error_with_prometheus_message(prometheus):
    with pytest.raises(QueryError) as err:
        query_range(prometheus.url, "sum(rate(up[5m])", W, 15)
    assert "unclosed left parenthesis" in str(err.value)
    assert "bad_data" in str(err.value)
    assert err.value.query == "sum(rate(up[5m])"


def test_execution_error_422_is_a_query_error_with_prometheus_message(prometheus):
    with pytest.raises(QueryError) as err:
        query_range(prometheus.url, "up + on() up", W, 15)
    assert "HTTP 422 execution" in str(err.value)
    assert "many-to-many matching not allowed" in str(err.value)
    assert err.value.query == "up + on() up"


def test_query_timeout_is_a_query_error_with_prometheus_message(prometheus):
    conn = prometheus_client(_config(prometheus.url, query_timeout_s=0.001))
    window = TimeWindow(CHUNK_START, CHUNK_START + pd.Timedelta(hours=3))
    # a subquery heavy enough (~0.1 s) to outlast a 1 ms evaluation timeout every time
    heavy = "max_over_time(rate(eafix_dense_counter[1m])[3h:1s])"
    with pytest.raises(QueryError) as err:
        query_range(conn, heavy, window, step=1)
    assert "query timed out" in str(err.value)
    assert "HTTP 503 timeout" in str(err.value)
    assert err.value.query == heavy


def test_refused_connection_is_source_unavailable_naming_the_address():
    port = free_port()
    with pytest.raises(SourceUnavailable) as err:
        query_range(f"http://127.0.0.1:{port}", "up", W, 15)
    assert f"127.0.0.1:{port}" in str(err.value)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_no_answer_in_time_is_source_unavailable(silent_server):
    conn = prometheus_client(_config(silent_server, timeout_s=0.5))
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable) as err:
        query_range(conn, "up", W, 15)
    assert time.monotonic() - t0 < 20  # generous under load
    assert silent_server.removeprefix("http://") in str(err.value)
    assert "no answer within 0.5s" in str(err.value)


# ------------------------------------------------------------------ auth, headers, secrets
class _AuthProxy(http.server.ThreadingHTTPServer):
    upstream: str
    expect: dict[str, str]
    seen: list[dict[str, str]]
    fail: int


class _AuthHandler(http.server.BaseHTTPRequestHandler):
    server: _AuthProxy

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append(headers)
        if self.server.fail:
            body, code = b"<html>502 Bad Gateway</html>", self.server.fail
        elif any(headers.get(k.lower()) != v for k, v in self.server.expect.items()):
            body, code = b"unauthorized\n", 401
        else:
            upstream = httpx.get(self.server.upstream + self.path)
            body, code = upstream.content, upstream.status_code
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def auth_proxy(prometheus) -> Iterator[_AuthProxy]:
    """A real HTTP server in front of Prometheus that demands headers (an auth proxy)."""
    server = _AuthProxy(("127.0.0.1", 0), _AuthHandler)
    server.upstream = prometheus.url
    server.expect = {}
    server.seen = []
    server.fail = 0
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_bearer_token_from_environment_and_custom_headers(auth_proxy, monkeypatch):
    url = f"http://127.0.0.1:{auth_proxy.server_address[1]}"
    auth_proxy.expect = {"Authorization": "Bearer s3cr3t-token", "X-Scope-OrgID": "eafix"}
    monkeypatch.setenv("EAFIX_TEST_PROM_TOKEN", "s3cr3t-token")
    cfg = _config(url, token_env="EAFIX_TEST_PROM_TOKEN", headers={"X-Scope-OrgID": "eafix"})
    conn = prometheus_client(cfg)
    df = query_range(conn, "up", W, 60)
    assert len(df) == 30
    assert auth_proxy.seen[-1]["accept-encoding"] == "identity"
    # the secret is on the wire, never in what gets printed or stored
    assert "s3cr3t" not in repr(conn)
    assert "s3cr3t" not in COLLECTOR.describe(cfg)
    assert "s3cr3t" not in "".join(df["query"])


def test_basic_auth_password_from_environment(auth_proxy, monkeypatch):
    url = f"http://127.0.0.1:{auth_proxy.server_address[1]}"
    auth_proxy.expect = {"Authorization": "Basic ZWFmaXg6cGFzcw=="}  # eafix:pass
    monkeypatch.setenv("EAFIX_TEST_PROM_PASSWORD", "pass")
    cfg = _config(url, username="eafix", password_env="EAFIX_TEST_PROM_PASSWORD")
    assert len(query_range(prometheus_client(cfg), "up", W, 60)) == 30
    monkeypatch.delenv("EAFIX_TEST_PROM_PASSWORD")
    with pytest.raises(QueryError) as err:
        query_range(prometheus_client(cfg), "up", W, 60)
    assert "HTTP 401" in str(err.value)


def test_gateway_error_in_front_of_prometheus_is_source_unavailable(auth_proxy):
    url = f"http://127.0.0.1:{auth_proxy.server_address[1]}"
    auth_proxy.fail = 502
    with pytest.raises(SourceUnavailable) as err:
        query_range(url, "up", W, 60)
    assert url in str(err.value) and "HTTP 502" in str(err.value)


@pytest.fixture
def tls_proxy(prometheus, tls_ca) -> Iterator[str]:
    """The real Prometheus behind an HTTPS proxy whose certificate a private CA issued."""
    from tests.harness.tls import serve_tls

    server = _AuthProxy(("127.0.0.1", 0), _AuthHandler)
    server.upstream, server.expect, server.seen, server.fail = prometheus.url, {}, [], 0
    serve_tls(server, tls_ca.server_context())
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_https_prometheus_with_a_private_ca(tls_proxy, tls_ca, tmp_path):
    # Trusting the CA that issued the server's certificate: the handshake succeeds, data arrives.
    trusted = prometheus_client(_config(tls_proxy, ca_bundle=str(tls_ca.pem)))
    assert len(query_range(trusted, "up", W, 60)) == 30
    # The same server without that CA: the handshake fails, and the error says so and where.
    with pytest.raises(SourceUnavailable) as err:
        query_range(prometheus_client(_config(tls_proxy)), "up", W, 60)
    assert tls_proxy.removeprefix("https://") in str(err.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value) or "certificate verify failed" in str(err.value)
    # verify = false is the explicit opt-out: it connects without checking.
    assert len(query_range(prometheus_client(_config(tls_proxy, verify=False)), "up", W, 60)) == 30
    # A CA bundle that is not a certificate is named when the client is built.
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as err:
        query_range(prometheus_client(_config(tls_proxy, ca_bundle=str(bad))), "up", W, 60)
    assert str(bad) in str(err.value)


def test_userinfo_in_the_url_stays_out_of_messages():
    port = free_port()
    with pytest.raises(SourceUnavailable) as err:
        query_range(f"http://user:hunter2@127.0.0.1:{port}", "up", W, 15)
    assert "hunter2" not in str(err.value)
    assert "hunter2" not in COLLECTOR.describe(_config(f"http://user:hunter2@127.0.0.1:{port}"))


# ------------------------------------------------------------------ catalogue
def test_catalogue_covers_what_the_runbook_watches():
    cat = catalogue()
    assert {
        "up", "signal_latency_p95", "order_execution_latency_p95", "market_data_age",
        "http_error_rate", "db_connections", "container_cpu", "container_memory",
    } <= set(cat)
    assert [(r.state, r.op, r.threshold) for r in cat["signal_latency_p95"].rules] == [
        ("critical", ">", 5.0), ("degraded", ">", 1.0)
    ]
    assert cat["up"].rules[0].state == "down"
    assert cat["market_data_age"].rules[0].threshold == 60.0
    assert "container_cpu_usage_seconds_total" in cat["container_cpu"].query


def test_catalogue_overrides_from_eafix_toml(tmp_path):
    path = tmp_path / "eafix.toml"
    path.write_text(
        "[severity]\nprice_staleness_s = 30.0\n"
        "[prometheus.queries.up]\nenabled = false\n"
        "[prometheus.queries.queue_depth]\n"
        'query = "sum by (service) (queue_depth)"\n'
        'rules = [{state = "backlog", op = ">", threshold = 100, severity = "warning"}]\n'
    )
    cat = catalogue(Config.load(path))
    assert "up" not in cat
    assert cat["market_data_age"].rules[0].threshold == 30.0
    assert cat["queue_depth"].rules[0].state == "backlog"


@pytest.mark.parametrize(
    "override, message",
    [
        ({"up": {"qurey": "up"}}, "unknown key 'qurey'"),
        ({"new": {"rules": []}}, "needs query"),
        ({"up": {"rules": [{"op": "~", "threshold": 1, "severity": "critical"}]}}, "op '~'"),
        ({"up": {"rules": [{"op": ">", "threshold": 1, "severity": "page"}]}}, "severity 'page'"),
        ({"up": {"rules": [{"op": ">", "threshold": "severity.nope", "severity": "warning"}]}}, "severity.nope"),
    ],
)
def test_bad_catalogue_entries_are_config_errors_naming_the_entry(override, message):
    cfg = Config()
    cfg.prometheus.queries = override
    with pytest.raises(ConfigError) as err:
        catalogue(cfg)
    assert message in str(err.value)
    assert "[prometheus.queries." in str(err.value)


# ------------------------------------------------------------------ breaches from real data
def test_breach_intervals_start_and_end_where_the_backfilled_data_puts_them(prometheus):
    """Acceptance 3: every rule of the catalogue, on the harness dataset.

    Raw changes (tests/harness/prometheus.py) and why Prometheus shows them where it does:
    the 5 m rate() windows hold 21 samples (20 intervals); p95 leaves the fast
    bucket once 2 of 20 intervals are slow (1 of 20 is exactly 5 %), i.e. 30 s
    after the change, and falls back 4 m 45 s after it ends. The 5xx ratio
    passes 5 % with 3 half-failed intervals of 20 (45 s). Price age passes 60 s
    75 s... after the stall starts at the first 15 s step beyond 60 s.
    """
    df = pd.concat([query_range(prometheus.url, e.query, INCIDENT, "15s", name=e.name) for e in catalogue().values()])
    got = breaches(df)
    table = {
        (r.name, r.rule): (r.start.strftime("%H:%M:%S"), r.end.strftime("%H:%M:%S"), r.service, r.severity)
        for r in got.itertuples()
    }
    assert table == {
        ("up", "down"): ("14:10:00", "14:20:00", "data-ingestor", "critical"),
        ("signal_latency_p95", "degraded"): ("13:30:30", "14:00:30", "signal-generator", "warning"),
        ("signal_latency_p95", "critical"): ("14:00:30", "14:34:45", "signal-generator", "critical"),
        ("order_execution_latency_p95", "slow"): ("13:55:30", "14:54:45", "execution-engine", "warning"),
        ("market_data_age", "feed_interruption"): ("14:06:15", "14:25:00", "data-ingestor", "critical"),
        ("http_error_rate", "degraded"): ("14:00:45", "14:44:30", "gui-gateway", "warning"),
    }
    stale = got[got["name"] == "market_data_age"].iloc[0]
    assert stale.peak == 20 * 60 - 15  # last stale evaluation 14:24:45, frozen at 14:05:00
    assert not got["ongoing"].any()


# ------------------------------------------------------------------ collector
def _ctx(cfg: Config, window: TimeWindow = INCIDENT) -> CollectContext:
    return CollectContext("INC-T", window, cfg, deadline=time.monotonic() + 60)


def test_collector_runs_the_whole_catalogue(prometheus):
    # collect() derives metric_breaches from the collector's metrics
    evidence = {e.name: e for e in run_collectors(_ctx(_config(prometheus.url)), [COLLECTOR], progress=False)}
    assert set(evidence) == {*COLLECTOR.tables, *DERIVED["prometheus"]}
    metrics = evidence["metrics"]
    assert metrics.status == "ok" and metrics.error is None
    assert set(metrics.frame["name"]) == {
        "up", "signal_latency_p95", "order_execution_latency_p95", "market_data_age", "http_error_rate"
    }
    assert metrics.frame["timestamp"].min() == INCIDENT.start
    assert metrics.frame["timestamp"].max() < INCIDENT.end
    base = evidence["metrics_baseline"].frame
    # the baseline span is 10:30-13:00; the dataset starts at 12:00
    assert base["timestamp"].min() == DATASET_START
    assert base["timestamp"].max() < INCIDENT.start
    assert len(evidence["metric_breaches"].frame) == 6


def test_one_failing_query_does_not_lose_the_others(prometheus):
    cfg = _config(prometheus.url, queries={"broken": {"query": "rate(up[5m]"}})
    evidence = {e.name: e for e in COLLECTOR.run(_ctx(cfg))}
    metrics = evidence["metrics"]
    assert metrics.status == "truncated"
    assert "broken" in metrics.error and "unclosed left parenthesis" in metrics.error
    assert "up" in set(metrics.frame["name"])
    assert metrics.details["errors"].keys() == {"broken"}


def test_unreachable_prometheus_is_unavailable_quickly():
    cfg = _config(f"http://127.0.0.1:{free_port()}")
    t0 = time.monotonic()
    evidence = {e.name: e for e in COLLECTOR.run(_ctx(cfg))}
    assert time.monotonic() - t0 < 20  # generous under load
    assert evidence["metrics"].status == "unavailable"
    assert "cannot connect" in evidence["metrics"].error
    assert evidence["metrics"].frame.empty


def test_collect_writes_the_tables_into_a_bundle(prometheus, tmp_path):
    bundle = collect("INC-PROM", INCIDENT, _config(prometheus.url), output_dir=tmp_path,
                        sources=[COLLECTOR], progress=False)
    assert bundle.status("metrics") == "ok"
    assert len(bundle.table("metric_breaches")) == 6
    from eafix_forensics.analysis.metrics import bundle_events

    events = bundle_events(bundle)
    assert len(events) == 6 and set(events["kind"]) == {"threshold_breach"}


# ------------------------------------------------------------------ saved answers and the demo
def test_read_query_range_parses_a_saved_answer_like_the_live_one(prometheus, tmp_path):
    live = query_range(prometheus.url, "up", W, 15)
    answer = httpx.get(
        f"{prometheus.url}/api/v1/query_range",
        params={"query": "up", "start": W.start.timestamp(), "end": (W.end - pd.Timedelta(seconds=15)).timestamp(),
                "step": 15},
    ).text
    saved = tmp_path / "up.json"
    saved.write_text(answer)
    pd.testing.assert_frame_equal(prom.read_query_range(saved, "up"), live)
    pd.testing.assert_frame_equal(prom.read_query_range(answer, "up"), live)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"status":"error","errorType":"bad_data","error":"parse error"}', "parse error"),
        ('{"status":"success","data":{"resultType":"vector","result":[]}}', "expected a range"),
        ('{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1, "x"]]}]}}', "malformed series #0"),
        ("{not json", "not JSON"),
    ],
)
def test_read_query_range_rejects_what_is_not_a_range_answer(text, message):
    with pytest.raises(QueryError) as err:
        prom.read_query_range(text, "up")
    assert message in str(err.value)


def test_demo_metrics_are_the_collectors_tables_and_tell_the_story(tmp_path):
    from eafix_forensics.demo import DEMO_WINDOW, T
    from eafix_forensics.demo.sample import _demo_metrics

    evidence = {e.name: e for e in _demo_metrics(tmp_path)}
    assert set(evidence) == {*COLLECTOR.tables, *DERIVED["prometheus"]}
    metrics = evidence["metrics"].frame
    # the collector's default step for the 2 h window is 10 s: 720 samples per series
    assert metrics.groupby("series").size().eq(720).all()
    assert metrics["timestamp"].min() == DEMO_WINDOW.start
    assert set(metrics["name"]) == {"signal_latency_p95", "order_execution_latency_p95", "up"}
    cat = catalogue()
    assert all(metrics.loc[metrics["name"] == n, "query"].eq(cat[n].query).all() for n in cat if n in set(metrics["name"]))
    found = evidence["metric_breaches"].frame
    assert [(r.name, r.rule, r.start, r.end) for r in found.itertuples()] == [
        ("order_execution_latency_p95", "slow", T("13:56"), T("14:50")),
        ("signal_latency_p95", "degraded", T("13:56"), T("14:02")),
        ("signal_latency_p95", "critical", T("14:02"), T("14:50")),
    ]
    up = metrics[metrics["name"] == "up"]
    assert up["service"].nunique() == 6 and (up["value"] == 1.0).all()
    assert (tmp_path / "prometheus" / "metrics_up.json").is_file()


def test_label_values_with_json_markers_survive_the_fast_parser(prometheus):
    df = query_range(prometheus.url, "eafix_tricky", W, 15)
    assert df["note"].unique().tolist() == [TRICKY_LABEL]
    assert len(df) == 40 and (df["value"] == 2.5).all()


def test_fast_and_json_parsers_agree_on_real_answers(prometheus):
    for query in ("up", "eafix_special_values", "eafix_tricky", "no_such_metric", 'up{job="data-ingestor"} * 2'):
        raw = httpx.get(
            f"{prometheus.url}/api/v1/query_range",
            params={"query": query, "start": W.start.timestamp(), "end": W.end.timestamp(), "step": 15},
        ).content
        fast = prom._fast_parse(raw)
        slow = prom._parse(prom._matrix(json.loads(raw), query, "test"), query, "test")
        assert fast is not None, query
        assert len(fast) == len(slow)
        for (m1, t1, v1), (m2, t2, v2) in zip(fast, slow, strict=True):
            assert m1 == m2
            np.testing.assert_array_equal(t1, t2)
            np.testing.assert_array_equal(v1, v2)
    # pretty-printed JSON is not Prometheus' layout: the json path takes over
    pretty = json.dumps(json.loads(raw), indent=2).encode()
    assert prom._fast_parse(pretty) is None
