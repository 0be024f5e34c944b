"""Logs reader: the sample corpus in tests/data/logs, windows, chunking, bytes that are
not logs, the json-file driver, the live `docker compose logs` path (through a stand-in
`docker` executable, since no Docker engine runs here) and the collector."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eafix_forensics as ef
from eafix_forensics.collect import CollectContext
from eafix_forensics.config import Config
from eafix_forensics.demo import DEMO_WINDOW, demo_log_records
from eafix_forensics.demo.sample import _demo_logs
from eafix_forensics.errors import ConfigError, QueryError, SourceUnavailable
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources import logs as logs_mod
from eafix_forensics.sources.logs import framing as logs_framing
from eafix_forensics.sources.logs import lines as logs_lines
from eafix_forensics.sources.logs import times as logs_times
from eafix_forensics.window import TimeWindow

DATA = Path(__file__).resolve().parent.parent / "data" / "logs"


def T(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC") if "+" not in text and not text.endswith("Z") else pd.Timestamp(text)


def read(name: str, **kw):
    return ef.read_compose_logs(DATA / name, **kw)


def records(df: pd.DataFrame) -> list[tuple]:
    out = []
    for r in df.itertuples(index=False):
        out.append((
            None if pd.isna(r.timestamp) else r.timestamp,
            None if pd.isna(r.service) else r.service,
            None if pd.isna(r.replica) else int(r.replica),
            None if pd.isna(r.level) else r.level,
            int(r.line),
            int(r.lines),
            bool(r.malformed),
        ))
    return out


def input_lines(data: bytes) -> int:
    if b"\n" not in data and b"\r" in data:  # old-Mac line ends
        data = data.replace(b"\r", b"\n")
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


# ------------------------------------------------------------------ schema
def test_columns_and_dtypes_match_the_logs_schema_full_and_empty():
    full = read("compose_v2_timestamps.txt")
    empty = ef.read_compose_logs(b"")
    for df in (full, empty):
        assert list(df.columns[:7]) == list(schemas.SCHEMAS["logs"])
        for col, dtype in schemas.SCHEMAS["logs"].items():
            assert str(df[col].dtype) == dtype, col
    assert list(full.columns) == list(empty.columns)
    assert [str(t) for t in full.dtypes] == [str(t) for t in empty.dtypes]
    assert empty.attrs["malformed"] == 0 and empty.attrs["lines_read"] == 0


# ------------------------------------------------------------------ the corpus
def test_compose_v2_with_timestamps():
    df = read("compose_v2_timestamps.txt")
    assert records(df) == [
        (None, None, None, None, 1, 1, False),  # "Attaching to …": kept, undated, not malformed
        (T("2024-12-02T14:00:00.123456789Z"), "gui-gateway", 1, "INFO", 2, 1, False),
        (T("2024-12-02T14:00:01Z"), "execution-engine", 1, "INFO", 3, 1, False),
        (T("2024-12-02T14:00:01.5Z"), "execution-engine", 2, "INFO", 4, 1, False),
        (T("2024-12-02T14:00:02.000000001Z"), "signal-generator", 1, "WARNING", 5, 1, False),
        (T("2024-12-02T14:00:03.25Z"), "risk-manager", 1, "ERROR", 6, 1, False),
        (T("2024-12-02T14:00:04.0001Z"), "execution-engine", 1, "ERROR", 7, 5, False),
        (T("2024-12-02T14:00:04.5Z"), "gui-gateway", 1, "WARNING", 11, 1, False),
        (T("2024-12-02T14:00:05Z"), "execution-engine", 2, "CRITICAL", 13, 1, False),
        (T("2024-12-02T13:00:06Z"), "gui-gateway", 1, "DEBUG", 14, 1, False),  # +01:00 offset
        (T("2024-12-02T14:00:07.999999999Z"), "signal-generator", 1, None, 15, 1, False),
        (None, "execution-engine", 1, None, 16, 1, False),  # "exited with code 137"
    ]
    assert df["timestamp"].iloc[1].value == 1733148000123456789  # to the nanosecond
    assert df.attrs["malformed"] == 0 and df.attrs["lines_read"] == 16
    assert df["lines"].sum() == 16
    assert set(df["source"]) == {str(DATA / "compose_v2_timestamps.txt")}
    # The application's own time is dropped from the message; the level stays.
    assert df["message"].iloc[1] == "INFO [gui-gateway] listening on :8080"
    assert df["message"].iloc[11] == "execution-engine-1 exited with code 137"


def test_python_traceback_is_one_error_event_holding_every_line():
    df = read("compose_v2_timestamps.txt")
    ev = df[df["line"] == 7].iloc[0]
    assert ev["level"] == "ERROR"
    assert ev["message"] == textwrap.dedent("""\
        ERROR [execution-engine] order 48213 failed
        Traceback (most recent call last):
          File "/app/broker.py", line 88, in submit
            await self.pool.acquire(timeout=5)
        asyncio.exceptions.TimeoutError: pool exhausted""")
    # The gui-gateway line printed in the middle of the traceback stays its own event.
    assert df[df["line"] == 11]["service"].item() == "gui-gateway"


def test_chained_python_traceback_without_prefix_joins_its_event():
    df = read("no_log_prefix.txt", service="signal-generator")
    assert records(df) == [
        (T("2024-12-02T14:05:00Z"), "signal-generator", None, "INFO", 1, 1, False),
        (T("2024-12-02T14:05:01.25Z"), "signal-generator", None, "ERROR", 2, 12, False),
        (T("2024-12-02T14:05:02Z"), "signal-generator", None, "WARNING", 14, 1, False),
    ]
    msg = df["message"].iloc[1]
    assert msg.splitlines()[0] == "ERROR [signal-generator] indicator fetch failed"
    assert "httpx.ReadTimeout: timed out" in msg
    assert "During handling of the above exception, another exception occurred:" in msg
    assert msg.endswith("signals.SignalError: no indicators")
    assert len(msg.split("\n")) == 12
    assert df.attrs["malformed"] == 0


def test_java_stack_trace_is_one_error_event():
    df = read("java_stack.txt")
    assert records(df) == [
        (T("2024-12-02T14:06:00.1Z"), "execution-engine", 1, "ERROR", 1, 7, False),
        (T("2024-12-02T14:06:01Z"), "execution-engine", 1, "INFO", 8, 1, False),
    ]
    lines = df["message"].iloc[0].split("\n")
    assert lines[0] == "ERROR [main] c.e.broker.Client - order submit failed"
    assert lines[2] == "\tat com.eafix.broker.Pool.acquire(Pool.java:120)"
    assert lines[4] == "Caused by: java.net.SocketTimeoutException: connect timed out"
    assert lines[6] == "\t... 12 more"


def test_compose_v1_prefixes_and_application_times():
    df = read("compose_v1_app_times.txt")
    assert records(df) == [
        (T("2024-12-02T14:03:11.123Z"), "risk-manager", 1, "ERROR", 1, 1, False),
        (T("2024-12-02T13:03:12.5Z"), "risk-manager", 1, "INFO", 2, 1, False),  # ISO with +01:00
        (T("2024-12-02T14:03:13Z"), "data-ingestor", 1, "WARNING", 3, 1, False),  # epoch seconds
        (T("2024-12-02T14:03:14.123Z"), "data-ingestor", 1, "CRITICAL", 4, 1, False),  # epoch millis, FATAL
        (T("2024-12-02T14:03:15.25Z"), "signal-generator", 1, "ERROR", 5, 1, False),  # JSON
        (T("2024-12-02T14:03:16Z"), "signal-generator", 1, "INFO", 6, 1, False),  # logfmt
        (T("2024-12-02T14:03:17Z"), "signal-generator", 1, "ERROR", 7, 1, False),  # [error]
        (None, "risk-manager", 1, None, 8, 1, True),  # Python logging without a time
        (T("2024-12-02T14:03:18Z"), "risk-manager", 1, "INFO", 9, 1, False),
        (T("2024-12-02T14:03:19.000001Z"), "gui-gateway", 2, "INFO", 10, 1, False),  # NOTICE
    ]
    assert df.attrs["malformed"] == 1
    assert df.attrs["malformed_samples"] == ["eafix_risk-manager_1       | ERROR:root:no timestamp on this line"]
    # Malformed rows keep the raw line as their message.
    assert df["message"].iloc[7] == "eafix_risk-manager_1       | ERROR:root:no timestamp on this line"


def test_project_option_strips_the_project_from_v2_container_names():
    text = "eafix-risk-manager-3  | 2024-12-02T14:00:00Z INFO x\n"
    df = ef.read_compose_logs(text, project="eafix")
    assert (df["service"].item(), df["replica"].item()) == ("risk-manager", 3)


def test_crlf_line_endings():
    df = read("crlf.txt")
    assert records(df) == [
        (T("2024-12-02T14:07:00Z"), "gui-gateway", 1, "INFO", 1, 1, False),
        (T("2024-12-02T14:07:01Z"), "gui-gateway", 1, "ERROR", 2, 1, False),
        (None, None, None, None, 3, 1, True),  # the blank line
        (T("2024-12-02T14:07:02Z"), "gui-gateway", 1, "INFO", 4, 1, False),
    ]
    assert not df["message"].str.contains("\r").any()
    assert df["message"].iloc[1] == "ERROR crlf two"


def test_ansi_colour_codes_are_removed():
    df = read("ansi_color.txt")
    assert records(df) == [
        (T("2024-12-02T14:08:00Z"), "gui-gateway", 1, "INFO", 1, 1, False),
        (T("2024-12-02T14:08:01Z"), "execution-engine", 1, "ERROR", 2, 1, False),
    ]
    assert list(df["message"]) == ["INFO coloured one", "ERROR coloured two"]


def test_invalid_utf8_is_replaced_never_a_crash():
    df = read("invalid_utf8.txt")
    assert records(df) == [
        (T("2024-12-02T14:09:00Z"), "risk-manager", 1, "INFO", 1, 1, False),
        (T("2024-12-02T14:09:01Z"), "risk-manager", 1, "ERROR", 2, 1, False),
        (None, None, None, None, 3, 1, True),
    ]
    assert df["message"].iloc[0] == "INFO bad bytes \ufffd\ufffd here"
    assert df["message"].iloc[1] == "ERROR café ok and trunc \ufffd"
    assert df.attrs["malformed"] == 1


def test_lines_over_one_mib_are_truncated_with_a_marker(tmp_path):
    big = b"x" * (3 * 1024 * 1024 + 17)
    data = (
        b"svc-1  | 2024-12-02T14:00:00Z ERROR " + big + b"\n"
        b"svc-1  | 2024-12-02T14:00:01Z INFO after\n"
        b"svc-1  | 2024-12-02T14:00:02Z INFO " + b"y" * (1024 * 1024 + 5)  # last line, no newline
    )
    p = tmp_path / "long.txt"
    p.write_bytes(data)
    df = ef.read_compose_logs(p)
    assert len(df) == 3 and df["lines"].sum() == 3 == df.attrs["lines_read"]
    assert list(df["level"]) == ["ERROR", "INFO", "INFO"]
    first = df["message"].iloc[0]
    dropped = len(data.split(b"\n")[0]) - logs_mod.MAX_LINE_BYTES
    assert first.endswith(f" …[truncated {dropped} bytes]")
    assert len(first.encode()) < logs_mod.MAX_LINE_BYTES + 64
    assert df["message"].iloc[1] == "INFO after"
    last = len(data.split(b"\n")[2]) - logs_mod.MAX_LINE_BYTES
    assert df["message"].iloc[2].endswith(f" …[truncated {last} bytes]")


def test_text_bytes_path_and_several_paths():
    text = (DATA / "crlf.txt").read_bytes()
    by_path = read("crlf.txt")
    by_bytes = ef.read_compose_logs(text)
    by_text = ef.read_compose_logs(text.decode())
    for df in (by_bytes, by_text):
        assert records(df) == records(by_path)
        assert set(df["source"]) == {"<text>"}
    both = ef.read_compose_logs([DATA / "crlf.txt", DATA / "ansi_color.txt"])
    assert len(both) == 6
    assert both["source"].tolist() == [str(DATA / "crlf.txt")] * 4 + [str(DATA / "ansi_color.txt")] * 2
    assert both.attrs["malformed"] == 1 and both.attrs["lines_read"] == 6


def test_levels_option_keeps_only_those_levels():
    df = read("compose_v2_timestamps.txt", levels=["error", "CRITICAL"])
    assert list(df["line"]) == [6, 7, 13]
    assert df["lines"].tolist() == [1, 5, 1]
    with pytest.raises(ConfigError, match="levels"):
        read("crlf.txt", levels=["LOUD"])


def test_bad_inputs_name_the_input():
    with pytest.raises(SourceUnavailable, match="nope.txt: log file not found"):
        ef.read_compose_logs(DATA / "nope.txt")
    with pytest.raises(SourceUnavailable, match="is a directory"):
        ef.read_compose_logs(DATA)
    with pytest.raises(ConfigError, match="window"):
        ef.read_compose_logs(DATA / "crlf.txt", window="1h")
    with pytest.raises(ConfigError, match="logs input"):
        ef.read_compose_logs(42)


# ------------------------------------------------------------------ windows
def test_window_keeps_exactly_the_events_inside_start_end():
    full = read("compose_v2_timestamps.txt")
    w = TimeWindow(T("2024-12-02T14:00:01.5Z"), T("2024-12-02T14:00:05Z"))
    df = read("compose_v2_timestamps.txt", window=w)
    dated = full[full["timestamp"].notna()]
    expected = dated[(dated["timestamp"] >= w.start) & (dated["timestamp"] < w.end)]
    assert list(df["line"]) == list(expected["line"]) == [4, 5, 6, 7, 11]
    # start is inside, end is outside, to the nanosecond
    w2 = TimeWindow(T("2024-12-02T14:00:00.123456789Z"), T("2024-12-02T14:00:07.999999999Z"))
    df2 = read("compose_v2_timestamps.txt", window=w2)
    assert df2["line"].iloc[0] == 2 and 15 not in set(df2["line"])
    # the traceback still belongs to its event
    assert df[df["line"] == 7]["lines"].item() == 5


def test_window_keeps_undated_rows_among_the_lines_inside_it():
    text = (
        "a-1  | 2024-12-02T13:00:00Z INFO before\n"
        "a-1  | no time at all\n"
        "a-1  | 2024-12-02T14:00:00Z INFO inside\n"
        "garbage inside\n"
        "a-1  | 2024-12-02T15:00:00Z INFO after\n"
        "garbage after\n"
    )
    w = TimeWindow(T("2024-12-02T13:30:00Z"), T("2024-12-02T14:30:00Z"))
    df = ef.read_compose_logs(text, w)
    assert list(df["line"]) == [3, 4]
    assert df["malformed"].tolist() == [False, True]
    assert df.attrs["malformed"] == 3  # counted over everything read


# ------------------------------------------------------------------ chunking
@pytest.mark.parametrize(
    "name", ["compose_v2_timestamps.txt", "no_log_prefix.txt", "java_stack.txt", "compose_v1_app_times.txt",
             "crlf.txt", "invalid_utf8.txt"],
)
def test_small_chunks_give_the_same_frame(monkeypatch, name):
    whole = read(name, service="svc")
    monkeypatch.setattr(logs_framing, "CHUNK_BYTES", 97)
    pieces = read(name, service="svc")
    pd.testing.assert_frame_equal(whole, pieces)
    assert whole.attrs == pieces.attrs


# ------------------------------------------------------------------ arbitrary bytes
_LOGISH = st.sampled_from([
    b"svc-1  | ", b"2024-12-02T14:00:00.5Z ", b"2024-12-02 14:00:00,123 ", b"ERROR ", b"level=warn ",
    b"Traceback (most recent call last):", b"  File x", b"\tat a.b(C.java:1)", b"x.YError: boom",
    b"\n", b"\r\n", b"\x1b[31m", b"\xff", b"|", b" ", b"1733148193 ", b'{"level":"error"}', b"\xe2\x82",
    b"Attaching to svc-1", b"svc-1 exited with code 137",
])
_STATUS = r"(?:[A-Za-z0-9][\w.-]* exited with code -?\d+|Attaching to \S.*)"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=400), st.lists(_LOGISH, max_size=40).map(b"".join)))
def test_arbitrary_bytes_never_crash_and_every_line_is_accounted_for(data):
    df = ef.read_compose_logs(data)
    n = input_lines(data)
    assert df.attrs["lines_read"] == n
    assert int(df["lines"].sum()) == n  # each line is in exactly one row
    assert int(df.loc[df["malformed"], "lines"].sum()) == df.attrs["malformed"]
    assert df["level"].dropna().isin(schemas.LEVELS).all()
    # Rows are events (dated), Compose status lines (undated, not malformed) or malformed (undated,
    # no level): an undated row that is neither would be a line silently passed off as fine.
    undated = df["timestamp"].isna()
    assert df.loc[df["malformed"], "level"].isna().all()
    assert undated[df["malformed"]].all()
    # (an unprefixed line after a status line is kept as its continuation: check the first line)
    first_lines = df.loc[undated & ~df["malformed"], "message"].str.split("\n").str[0]
    assert first_lines.str.strip().str.fullmatch(_STATUS).all()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_json_file_lines_never_crash(data):
    import tempfile

    with tempfile.NamedTemporaryFile(suffix="-json.log") as fh:
        fh.write(data)
        fh.flush()
        df = ef.read_container_json_logs(fh.name)
    assert df.attrs["lines_read"] == input_lines(data)
    assert int(df["lines"].sum()) == input_lines(data)


# ------------------------------------------------------------------ json-file driver
def test_container_json_logs():
    df = ef.read_container_json_logs(DATA / "container-json.log")
    assert records(df) == [
        (T("2024-12-02T14:10:00.000000001Z"), "data-ingestor", None, "INFO", 1, 1, False),
        (T("2024-12-02T14:10:01.000000002Z"), "data-ingestor", None, "ERROR", 2, 2, False),
        (T("2024-12-02T14:10:02.5Z"), "data-ingestor", None, None, 4, 1, False),
        (None, "container", None, None, 5, 1, True),
        (T("2024-12-02T14:10:03Z"), "data-ingestor", None, "WARNING", 6, 1, False),
        (None, "container", None, None, 7, 1, True),
    ]
    assert df["message"].iloc[1] == "ERROR a very long line split by docker into two records"
    assert df["message"].iloc[4] == 'level=warn msg="lag 2s"'
    assert df["stream"].tolist()[:3] == ["stdout", "stderr", "stdout"]
    assert df.attrs["malformed"] == 2 and df.attrs["lines_read"] == 7
    w = TimeWindow(T("2024-12-02T14:10:01Z"), T("2024-12-02T14:10:03Z"))
    assert list(ef.read_container_json_logs(DATA / "container-json.log", w)["line"]) == [2, 4, 5]


def test_container_json_logs_service_from_container_directory(tmp_path):
    cid = "a" * 64
    d = tmp_path / cid
    d.mkdir()
    p = d / f"{cid}-json.log"
    p.write_text('{"log":"hello\\n","stream":"stdout","time":"2024-12-02T14:00:00Z"}\n')
    assert ef.read_container_json_logs(p)["service"].item() == "a" * 12
    assert ef.read_container_json_logs(p, service="risk-manager")["service"].item() == "risk-manager"


# ------------------------------------------------------------------ live path
RECORDED = (DATA / "compose_v2_timestamps.txt").read_text()


def _stand_in(bin_dir: Path, name: str, script: str) -> None:
    p = bin_dir / name
    p.write_text(f"#!{sys.executable}\n" + textwrap.dedent(script))
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


DOCKER_OK = """\
import sys, os
args = sys.argv[1:]
expected = ["compose", "--project-directory", os.environ["EXPECT_DIR"], "logs", "--timestamps", "--no-color",
            "--since", "2024-12-02T14:00:00Z", "--until", "2024-12-02T14:00:06Z"] + os.environ.get("EXPECT_SVC", "").split()
if args != expected:
    sys.stderr.write("stand-in docker: unexpected arguments %r\\n" % (args,))
    sys.exit(2)
sys.stdout.write(open(os.environ["RECORDED"]).read())
"""


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))
    monkeypatch.setenv("RECORDED", str(DATA / "compose_v2_timestamps.txt"))
    return d


@pytest.fixture
def project(tmp_path, monkeypatch):
    p = tmp_path / "eafix"
    p.mkdir()
    monkeypatch.setenv("EXPECT_DIR", str(p))
    return p


LIVE_WINDOW = TimeWindow(T("2024-12-02T14:00:00Z"), T("2024-12-02T14:00:05Z"))


def test_live_compose_logs_through_a_stand_in_docker(bin_dir, project):
    _stand_in(bin_dir, "docker", DOCKER_OK)
    df = ef.compose_logs(project, LIVE_WINDOW)
    offline = read("compose_v2_timestamps.txt", window=LIVE_WINDOW)
    assert records(df) == records(offline)
    assert len(df) == 7 and set(df["source"]) == {"docker compose logs (eafix)"}


def test_live_compose_logs_passes_services(bin_dir, project, monkeypatch):
    _stand_in(bin_dir, "docker", DOCKER_OK)
    monkeypatch.setenv("EXPECT_SVC", "execution-engine gui-gateway")
    df = ef.compose_logs(project, LIVE_WINDOW, services=["execution-engine", "gui-gateway"])
    assert len(df) == 7  # the stand-in printed its recording once it saw the right arguments


def test_live_compose_logs_without_docker(bin_dir, project):
    with pytest.raises(SourceUnavailable, match="neither `docker` nor `docker-compose` is on PATH"):
        ef.compose_logs(project, LIVE_WINDOW)


def test_live_compose_logs_daemon_refuses(bin_dir, project):
    _stand_in(bin_dir, "docker", """\
        import sys
        sys.stderr.write("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\\n")
        sys.exit(1)
    """)
    with pytest.raises(SourceUnavailable, match="Docker daemon refused: Cannot connect to the Docker daemon"):
        ef.compose_logs(project, LIVE_WINDOW)


def test_live_compose_logs_rejected_command_is_a_query_error(bin_dir, project):
    _stand_in(bin_dir, "docker", """\
        import sys
        sys.stderr.write("no such service: nope\\n")
        sys.exit(1)
    """)
    with pytest.raises(QueryError, match="no such service: nope") as info:
        ef.compose_logs(project, LIVE_WINDOW, services=["nope"])
    assert "docker compose logs --timestamps" in info.value.query


def test_live_compose_logs_falls_back_to_docker_compose(bin_dir, project):
    _stand_in(bin_dir, "docker", """\
        import sys
        sys.stderr.write("docker: 'compose' is not a docker command.\\n")
        sys.exit(1)
    """)
    _stand_in(bin_dir, "docker-compose", """\
        import sys, os
        assert sys.argv[1:4] == ["--project-directory", os.environ["EXPECT_DIR"], "logs"], sys.argv
        assert "--timestamps" in sys.argv and "--no-color" in sys.argv
        sys.stdout.write(open(os.environ["RECORDED"]).read())
    """)
    df = ef.compose_logs(project, LIVE_WINDOW)
    assert len(df) == 7  # v1 has no --since/--until: the window is applied after parsing


def test_live_compose_logs_needs_a_project_directory(project):
    with pytest.raises(ConfigError, match="not a directory"):
        ef.compose_logs(project / "missing", LIVE_WINDOW)


# ------------------------------------------------------------------ collector
def _ctx(config: Config, window: TimeWindow) -> CollectContext:
    import time

    return CollectContext("INC-1", window, config, deadline=time.monotonic() + 60)


def test_collector_reads_files_and_json_files_with_malformed_details(tmp_path):
    (tmp_path / "incident_logs_a.txt").write_bytes((DATA / "compose_v1_app_times.txt").read_bytes())
    (tmp_path / "incident_logs_b.txt").write_bytes((DATA / "crlf.txt").read_bytes())
    (tmp_path / "c-json.log").write_bytes((DATA / "container-json.log").read_bytes())
    cfg_path = tmp_path / "eafix.toml"
    cfg_path.write_text('[logs]\nfiles = ["incident_logs_*.txt", "missing_*.txt"]\njson_files = ["*-json.log"]\n')
    config = Config.load(cfg_path)
    assert logs_mod.COLLECTOR.configured(config)
    window = TimeWindow(T("2024-12-02T14:00:00Z"), T("2024-12-02T15:00:00Z"))
    [ev] = logs_mod.COLLECTOR.run(_ctx(config, window))
    assert ev.name == "logs" and ev.status == "ok" and ev.error is None
    # v1 without its 13:03 line (outside the window), crlf, json (undated rows kept by position)
    assert len(ev.frame) == 9 + 4 + 6
    assert ev.details["malformed"] == 1 + 1 + 2
    assert ev.details["malformed_samples"][0].endswith("ERROR:root:no timestamp on this line")
    assert ev.details["unmatched_patterns"] == [str(tmp_path / "missing_*.txt")]
    assert "incident_logs_*.txt" in ev.query


def test_collector_not_configured_when_nothing_matches(tmp_path):
    cfg_path = tmp_path / "eafix.toml"
    cfg_path.write_text("[logs]\n")
    assert not logs_mod.COLLECTOR.configured(Config.load(cfg_path))


def test_collector_live_path_failure_keeps_file_rows(tmp_path, bin_dir, project):
    (tmp_path / "incident_logs_a.txt").write_bytes((DATA / "crlf.txt").read_bytes())
    _stand_in(bin_dir, "docker", """\
        import sys
        sys.stderr.write("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\\n")
        sys.exit(1)
    """)
    cfg_path = tmp_path / "eafix.toml"
    cfg_path.write_text(f'[logs]\ncompose_project = "{project}"\n')
    config = Config.load(cfg_path)
    window = TimeWindow(T("2024-12-02T14:00:00Z"), T("2024-12-02T15:00:00Z"))
    [ev] = logs_mod.COLLECTOR.run(_ctx(config, window))
    assert len(ev.frame) == 4 and ev.status == "ok"
    assert "Cannot connect to the Docker daemon" in ev.error


def test_collector_live_path_only_and_it_fails(tmp_path, bin_dir, project):
    cfg_path = tmp_path / "eafix.toml"
    cfg_path.write_text(f'[logs]\nfiles = []\ncompose_project = "{project}"\n')
    [ev] = logs_mod.COLLECTOR.run(_ctx(Config.load(cfg_path), LIVE_WINDOW))
    assert ev.status == "unavailable" and "neither `docker` nor `docker-compose` is on PATH" in ev.error
    assert list(ev.frame.columns[:7]) == list(schemas.SCHEMAS["logs"])


# ------------------------------------------------------------------ demo
def test_demo_logs_go_through_the_reader_and_keep_the_story(tmp_path):
    [ev] = _demo_logs(tmp_path)
    assert (tmp_path / "incident_logs_20241202_153000.txt").is_file()
    story = demo_log_records()
    df = ev.frame
    assert len(df) == len(story) and ev.details["malformed"] == 0
    assert list(df["timestamp"]) == [r[0] for r in story]
    assert list(df["service"]) == [r[1] for r in story]
    assert list(df["level"]) == [r[3] for r in story]
    assert all(m.endswith(r[4]) for m, r in zip(df["message"], story))
    assert DEMO_WINDOW.mask(df["timestamp"]).all()
    assert set(df["source"]) == {"incident_logs_20241202_153000.txt"}


def test_window_over_many_chunks_equals_filtering_the_full_parse(monkeypatch):
    # Chunks wholly outside the window are skipped unparsed; the result must not change.
    lines = []
    t = pd.Timestamp("2024-12-02T10:00:00Z")
    for i in range(3000):
        t += pd.Timedelta(seconds=7, microseconds=1234 * (i % 7))
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        svc = ("gui-gateway-1      ", "execution-engine-1 ")[i % 2]
        level = "ERROR" if i % 50 == 0 else "INFO"
        lines.append(f"{svc}| {stamp} {level} step {i}")
        if i % 50 == 0:
            lines.append(f"{svc}| {stamp} Traceback (most recent call last):")
            lines.append(f"{svc}| {stamp}   File \"x.py\", line {i}, in f")
            lines.append(f"{svc}| {stamp} ValueError: {i}")
    text = "\n".join(lines) + "\n"
    w = TimeWindow(T("2024-12-02T13:00:00.5Z"), T("2024-12-02T14:00:00Z"))
    full = ef.read_compose_logs(text)
    expected = full[w.mask(full["timestamp"])].reset_index(drop=True)
    monkeypatch.setattr(logs_framing, "CHUNK_BYTES", 4096)
    verdicts = []
    real = logs_times._outside_window
    monkeypatch.setattr(logs_lines, "_outside_window", lambda *a: verdicts.append(real(*a)) or verdicts[-1])
    skipped = ef.read_compose_logs(text, w)
    assert verdicts.count(True) > 20 and verdicts.count(False) > 5  # most chunks were skipped
    pd.testing.assert_frame_equal(skipped, expected, check_index_type=False)
    errors = int((skipped["level"] == "ERROR").sum())
    assert errors == 11 and skipped["lines"].sum() == len(skipped) + 3 * errors  # tracebacks kept whole
    assert skipped.attrs["lines_read"] == full.attrs["lines_read"] == len(lines)


@pytest.mark.parametrize("levels", [["ERROR", "CRITICAL"], ["WARNING"], ["INFO", "DEBUG"]])
def test_levels_option_equals_filtering_the_full_parse(monkeypatch, levels):
    # Lines surely of other levels are skipped before decoding; the result must not change.
    lines = []
    t = pd.Timestamp("2024-12-02T10:00:00Z")
    kinds = ["INFO", "ERROR", "WARNING", "INFO", "CRITICAL", "DEBUG", "INFO", "level=error"]
    for i in range(1200):
        t += pd.Timedelta(milliseconds=1700 + i % 13)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
        app = t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"
        svc = ("gui-gateway-1      ", "execution-engine-1 ", "risk-manager-2     ")[i % 3]
        kind = kinds[i % len(kinds)]
        lines.append(f"{svc}| {stamp} {app} {kind} step {i} Error-free text" if i % 17 == 0
                     else f"{svc}| {stamp} {app} {kind} step {i}")
        if i % 9 == 0:  # tracebacks under events of every level
            lines += [f"{svc}| {stamp} Traceback (most recent call last):", f"{svc}| {stamp}   File \"x.py\", line {i}",
                      f"{svc}| {stamp} KeyError: {i}"]
        if i % 11 == 0:  # an exception line that continues only after an indented one
            lines += [f"{svc}| {stamp}   File \"y.py\", line {i}", f"{svc}| {stamp} httpx.ReadTimeout: {i}"]
        if i % 31 == 0:
            lines.append(f"{svc}| {stamp} plain line without a time")
    text = "\n".join(lines) + "\n"
    full = ef.read_compose_logs(text)
    monkeypatch.setattr(logs_framing, "CHUNK_BYTES", 3000)
    fast = ef.read_compose_logs(text, levels=levels)
    expected = full[full["level"].isin(levels)].reset_index(drop=True)
    assert len(expected) > 100
    pd.testing.assert_frame_equal(fast, expected, check_index_type=False)
    assert fast.attrs["lines_read"] == full.attrs["lines_read"] == len(lines)


def test_live_compose_logs_that_never_answers_times_out(bin_dir, project):
    _stand_in(bin_dir, "docker", """\
        import time
        time.sleep(30)
    """)
    import time as _time

    t0 = _time.monotonic()
    with pytest.raises(SourceUnavailable, match="no answer within 1s"):
        ef.compose_logs(project, LIVE_WINDOW, timeout_s=1)
    assert _time.monotonic() - t0 < 20  # the stand-in sleeps 30 s


# ------------------------------------------------------------------ real shapes: PostgreSQL, severities
PG = "2026-08-22 12:10:02.441 +07 [1] LOG:  database system is ready to accept connections"


@pytest.mark.parametrize(
    ("line", "utc"),
    [
        (PG, "2026-08-22T05:10:02.441Z"),
        ("2026-08-22 12:10:02.441 -03 [7] LOG:  checkpoint starting: time", "2026-08-22T15:10:02.441Z"),
        ("2026-08-22 12:10:02.441 +0530 [7] LOG:  checkpoint complete", "2026-08-22T06:40:02.441Z"),
        ("2026-08-22 12:10:02 +07 [7] LOG:  %t, no milliseconds", "2026-08-22T05:10:02Z"),
        (f"postgres-1  | {PG}", "2026-08-22T05:10:02.441Z"),
        # Docker's --timestamps time comes first and is the event's time; PostgreSQL's own follows it.
        (f"postgres-1  | 2026-08-22T05:10:02.441000000Z {PG}", "2026-08-22T05:10:02.441Z"),
    ],
)
def test_postgres_log_line_prefix_with_a_numeric_zone_is_utc(line, utc):
    [row] = ef.read_compose_logs(line + "\n").itertuples(index=False)
    assert row.timestamp == pd.Timestamp(utc)
    assert row.level == "INFO" and not row.malformed
    # the message starts after PostgreSQL's time and zone
    assert row.message.startswith("[") and "LOG:" in row.message and "+07" not in row.message


def test_postgres_levels_and_fatal_words_are_read():
    text = "".join(
        f"postgres-1  | 2026-08-22 12:10:0{i}.000 +07 [1] {word}:  something happened\n"
        for i, word in enumerate(["LOG", "WARNING", "ERROR", "FATAL", "PANIC"])
    )
    got = ef.read_compose_logs(text)
    assert list(got["level"]) == ["INFO", "WARNING", "ERROR", "CRITICAL", "CRITICAL"]
    assert list(got["service"].unique()) == ["postgres"]


@pytest.mark.parametrize(
    "text",
    ["FATAL boom", "PANIC boom", "CRITICAL boom", "CRIT boom", "ALERT boom", "EMERG boom", "EMERGENCY boom",
     "SEVERE boom", "[emergency] boom", "[severe] boom", "level=panic boom", '{"level":"emerg","msg":"boom"}'],
)
def test_fatal_words_are_critical_and_count_as_errors(text):
    logs = ef.read_compose_logs(f"svc-1  | 2024-12-02T14:03:11.000000000Z {text}\n")
    assert list(logs["level"]) == ["CRITICAL"]
    assert int(ef.error_signatures(logs)["count"].sum()) == 1
