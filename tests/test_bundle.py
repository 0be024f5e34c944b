import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eafix_forensics import BundleError, Evidence, EvidenceBundle, TimeWindow
from eafix_forensics.bundle import bundle_dir, check_incident_id
from eafix_forensics.model import tables as schemas

WINDOW = TimeWindow.parse("2024-12-02T14:00Z", "2024-12-02T15:00Z")


def sample_logs(n=3):
    return schemas.conform(pd.DataFrame({
        "timestamp": pd.date_range("2024-12-02T14:00:00.123456789Z", periods=n, freq="1s"),
        "service": ["execution-engine"] * n,
        "replica": pd.array([1, None, 2][:n], dtype="Int64"),
        "level": ["ERROR", None, "INFO"][:n],
        "message": ["BrokerTimeout: order 1", "é ü — multi\nline", "ok"][:n],
        "source": "f.txt",
        "line": range(1, n + 1),
    }), "logs")


def write(path, evidence, **kw):
    return EvidenceBundle.write(path, incident_id="INC-1", window=WINDOW, evidence=evidence, **kw)


def test_round_trip_keeps_values_and_dtypes_exactly(tmp_path):
    logs = sample_logs()
    metrics = schemas.conform(pd.DataFrame({
        "timestamp": pd.to_datetime(["2024-12-02T14:00:00Z"] * 4, utc=True),
        "query": "up", "series": '{job="a"}',
        "value": [1.0, np.nan, np.inf, -np.inf], "job": "a",
    }), "metrics")
    b = write(tmp_path / "ev", [Evidence("logs", logs, source="logs"), Evidence("metrics", metrics, source="prometheus")])
    again = EvidenceBundle.open(tmp_path / "ev")
    # Stored as the schema's text; read with `level` as the ordered scale.
    pd.testing.assert_frame_equal(pd.read_parquet(b.path / "logs.parquet"), logs)
    pd.testing.assert_frame_equal(again.table("logs"), schemas.ordered(logs.copy(), "logs"))
    pd.testing.assert_frame_equal(again.table("metrics"), metrics)
    assert again.table("logs")["timestamp"].iloc[0].nanosecond == 789
    assert str(again.table("logs")["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert b.verify() == []


def test_a_callers_edits_to_a_table_never_reach_the_next_reader(tmp_path):
    """Tables are read once per open bundle; every reader still gets the evidence as stored."""
    write(tmp_path / "ev", [Evidence("logs", sample_logs(), source="logs")])
    b = EvidenceBundle.open(tmp_path / "ev")
    first = b.table("logs")
    first.loc[0, "message"] = "edited by an analyst"
    first["service"] = "someone-else"
    first["level"] = first["level"].cat.add_categories(["EDITED"]).fillna("EDITED")
    first.drop(index=2, inplace=True)
    pd.testing.assert_frame_equal(b.table("logs"), schemas.ordered(sample_logs(), "logs"))


def test_manifest_records_every_table(tmp_path):
    empty = schemas.empty("pg_locks")
    write(tmp_path / "ev", [
        Evidence("logs", sample_logs(), source="logs", query="docker compose logs", duration_s=0.25),
        Evidence("pg_locks", empty, source="postgres", query="SELECT … FROM pg_locks"),
        Evidence("health", schemas.empty("health"), source="services", status="unavailable",
                 error="connection refused: 127.0.0.1:8080"),
    ])
    m = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    assert m["incident_id"] == "INC-1" and m["window"] == WINDOW.to_dict()
    assert m["tool_version"] and m["collected_at"]
    logs = m["tables"]["logs"]
    assert logs["rows"] == 3 and logs["status"] == "ok" and logs["source"] == "logs"
    assert logs["query"] == "docker compose logs" and logs["duration_s"] == 0.25
    assert len(logs["sha256"]) == 64 and logs["file"] == "logs.parquet"
    assert m["tables"]["pg_locks"]["status"] == "empty"
    health = m["tables"]["health"]
    assert health["status"] == "unavailable" and "connection refused" in health["error"]
    b = EvidenceBundle.open(tmp_path / "ev")
    # An unavailable table reads back as an empty frame with the schema's columns.
    assert list(b.table("health").columns) == list(schemas.SCHEMAS["health"])


def test_open_accepts_incident_dir(tmp_path):
    write(tmp_path / "INC-1" / "evidence", [Evidence("logs", sample_logs(), source="logs")])
    assert EvidenceBundle.open(tmp_path / "INC-1").incident_id == "INC-1"
    with pytest.raises(BundleError, match="no manifest.json"):
        EvidenceBundle.open(tmp_path)


def test_never_overwrites_without_force(tmp_path):
    write(tmp_path / "ev", [Evidence("logs", sample_logs(1), source="logs")])
    with pytest.raises(BundleError, match="--force"):
        write(tmp_path / "ev", [Evidence("logs", sample_logs(2), source="logs")])
    assert len(EvidenceBundle.open(tmp_path / "ev").table("logs")) == 1
    write(tmp_path / "ev", [Evidence("logs", sample_logs(2), source="logs")], force=True)
    assert len(EvidenceBundle.open(tmp_path / "ev").table("logs")) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".evidence-")]


def test_verify_names_altered_and_missing_files(tmp_path):
    b = write(tmp_path / "ev", [Evidence("logs", sample_logs(), source="logs"),
                                Evidence("health", schemas.conform([{"service": "a", "status": "ok"}], "health"), source="s")])
    f = b.path / "logs.parquet"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    (b.path / "health.parquet").unlink()
    problems = b.verify()
    assert problems == ["health.parquet: missing", "logs.parquet: sha256 differs from manifest"]


def test_redactor_failure_writes_nothing(tmp_path):
    class Exploding:
        def frame(self, df):
            from eafix_forensics.redact import RedactionError
            raise RedactionError("boom")

        def data(self, d):
            return d

    with pytest.raises(BundleError, match="boom"):
        write(tmp_path / "ev", [Evidence("logs", sample_logs(), source="logs")], redactor=Exploding())
    assert list(tmp_path.iterdir()) == []


def test_redaction_error_inside_a_column_fails_closed(tmp_path):
    from eafix_forensics.redact import RedactionError, Redactor

    class Weird:
        def __str__(self):
            raise RuntimeError("unprintable")

    df = pd.DataFrame({"message": pd.Series([["ok", Weird()]], dtype=object)})

    class Breaks(Redactor):
        def value(self, v):
            if isinstance(v, Weird):
                raise RuntimeError("cannot redact")
            return super().value(v)

    with pytest.raises(RedactionError):
        write(tmp_path / "ev", [Evidence("things", df, source="x")], redactor=Breaks())
    assert not (tmp_path / "ev").exists()
    assert list(tmp_path.iterdir()) == []


WRITER = textwrap.dedent("""
    import sys, pandas as pd
    from eafix_forensics import Evidence, EvidenceBundle, TimeWindow
    from eafix_forensics.redact import Redactor
    import time

    class Fast(Redactor):
        # Keep the test about the write, not about redaction speed.
        def frame(self, df):
            return df

    big = pd.DataFrame({"message": [f"line {i} " + "x" * 200 for i in range(200_000)]})
    ev = [Evidence(f"t{i}", big, source="x") for i in range(60)]
    print("ready", flush=True)
    EvidenceBundle.write(sys.argv[1], incident_id="INC-K", window=TimeWindow.parse("1h"), evidence=ev,
                         redactor=Fast())
""")


def test_sigkill_mid_write_leaves_nothing_under_final_name(tmp_path):
    final = tmp_path / "INC-K" / "evidence"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(final)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    parent = final.parent
    deadline = time.monotonic() + 60
    # Wait until the writer has started writing Parquet into its temporary directory.
    while time.monotonic() < deadline:
        temps = list(parent.glob(".evidence-tmp-*")) if parent.exists() else []
        if temps and any(temps[0].glob("*.parquet")):
            break
        time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("writer never started writing")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not final.exists()
    assert list(parent.glob(".evidence-tmp-*"))  # the debris is only in the temp dir
    # The next writer cleans up after the dead one and succeeds.
    EvidenceBundle.write(final, incident_id="INC-K", window=WINDOW, evidence=[Evidence("logs", sample_logs(), source="logs")])
    assert not list(parent.glob(".evidence-tmp-*"))
    assert EvidenceBundle.open(final).verify() == []


@pytest.mark.parametrize("bad", ["a/b", "..", "../x", "INC 1", "INC\t1", "INC\x001", "INC\n1", "", "x" * 200, "-rf", "INC..1"])
def test_incident_ids_that_could_escape_are_refused(bad):
    from eafix_forensics import ConfigError

    with pytest.raises(ConfigError, match="incident id"):
        check_incident_id(bad)


def test_bundle_dir_layout():
    assert bundle_dir("INC-123", "out") == Path("out/INC-123/evidence")


def test_missing_table_is_an_empty_schema_frame_or_a_clear_error(tmp_path):
    b = write(tmp_path / "ev", [Evidence("logs", sample_logs(), source="logs")])
    assert list(b.table("commits").columns) == list(schemas.SCHEMAS["commits"])
    assert b.status("commits") == "missing"
    with pytest.raises(BundleError, match="no table 'positions'"):
        b.table("positions")


def test_levels_compare_by_rank_and_a_table_read_writes_back_as_text(tmp_path):
    logs = schemas.conform(pd.DataFrame({
        "timestamp": pd.date_range("2024-12-02T14:00Z", periods=6, freq="1s"),
        "level": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", None], "message": list("abcdef"),
    }), "logs")
    b = write(tmp_path / "ev", [Evidence("logs", logs, source="logs")])
    read = b.table("logs")
    assert read[read.level >= "WARNING"]["message"].tolist() == ["c", "d", "e"]
    assert read["level"].isna().tolist() == [False] * 5 + [True]
    assert schemas.ordered(schemas.empty("logs"), "logs")["level"].cat.ordered
    # A level outside the scale is kept (ranked above it), never read as missing.
    odd = schemas.ordered(logs.assign(level=["TRACE", *logs["level"][1:]]), "logs")
    assert odd["level"].tolist()[:2] == ["TRACE", "INFO"] and odd["level"].iloc[0] > "CRITICAL"
    # Written again from what was read: the same bytes as the first write.
    again = write(tmp_path / "ev2", [Evidence("logs", read, source="logs")])
    assert (again.path / "logs.parquet").read_bytes() == (b.path / "logs.parquet").read_bytes()


def test_notebook_display_shows_window_statuses_rows_verify_state_escaped(tmp_path):
    from bs4 import BeautifulSoup

    hostile = '<img src=x onerror="alert(1)">'
    b = write(tmp_path / "ev", [
        Evidence("logs", sample_logs(), source="logs"),
        Evidence("health", schemas.empty("health"), source=f"svc{hostile}", status="unavailable",
                 error=f"connect refused {hostile}"),
    ])
    soup = BeautifulSoup(b._repr_html_(), "html.parser")
    assert soup.find("img") is None and soup.find("script") is None
    text = soup.get_text(" ")
    assert "INC-1" in text and "2024-12-02T14:00:00+00:00" in text and "✓ intact" in text
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in soup.find("tbody").find_all("tr")]
    assert rows == [["health", f"svc{hostile}", "unavailable", "0", f"connect refused {hostile}"],
                    ["logs", "logs", "ok", "3", ""]]
    (b.path / "logs.parquet").write_bytes(b"tampered")
    text = BeautifulSoup(b._repr_html_(), "html.parser").get_text(" ")
    assert "✗ 1 problem" in text and "logs.parquet: sha256 differs from manifest" in text
