import time

import pandas as pd
import pytest

from eafix_forensics import BundleError, Config, EvidenceBundle, SourceUnavailable, TimeWindow
from eafix_forensics.bundle import Evidence
from eafix_forensics.collect import Collector, collect, collectors
from eafix_forensics.model import tables as schemas

WINDOW = TimeWindow.parse("2024-12-02T14:00Z", "2024-12-02T15:00Z")


def good_run(ctx):
    frame = schemas.conform([{"timestamp": ctx.window.start, "service": "a", "level": "ERROR",
                              "message": "boom", "source": "x", "line": 1}], "logs")
    return [Evidence("logs", frame, source="good", query="cat x")]


def failing_run(ctx):
    raise ConnectionRefusedError("connect to 127.0.0.1:1 refused")


def hanging_run(ctx):
    time.sleep(30)
    return []


GOOD = Collector("good", good_run, ("logs",), describe=lambda c: "cat x")
FAILING = Collector("failing", failing_run, ("metrics",))
HANGING = Collector("hanging", hanging_run, ("health",))
UNCONFIGURED = Collector("unconfigured", good_run, ("commits",), configured=lambda c: False)


def test_one_failing_source_never_stops_the_others(tmp_path, capsys):
    b = collect("INC-1", WINDOW, Config(), output_dir=tmp_path, sources=[FAILING, GOOD, UNCONFIGURED])
    assert b.status("logs") == "ok" and len(b.table("logs")) == 1
    assert b.status("metrics") == "unavailable"
    assert "ConnectionRefusedError" in b.manifest["tables"]["metrics"]["error"]
    assert b.status("commits") == "skipped"
    err = capsys.readouterr().err
    assert "failing" in err and "unavailable" in err and "good" in err and "skipped" in err


def test_each_source_has_its_own_deadline(tmp_path):
    cfg = Config.from_dict({"collect": {"source_timeout_s": 0.5}})
    t0 = time.monotonic()
    b = collect("INC-2", WINDOW, cfg, output_dir=tmp_path, sources=[HANGING, GOOD], progress=False)
    assert time.monotonic() - t0 < 20  # the hanging source sleeps 30 s; generous for a loaded machine
    assert b.status("health") == "unavailable" and "timed out" in b.manifest["tables"]["health"]["error"]
    assert b.status("logs") == "ok"


def test_second_collect_refuses_without_force(tmp_path):
    collect("INC-3", WINDOW, Config(), output_dir=tmp_path, sources=[GOOD], progress=False)
    with pytest.raises(BundleError, match="already exists.*--force"):
        collect("INC-3", WINDOW, Config(), output_dir=tmp_path, sources=[GOOD], progress=False, reuse=False)
    b = collect("INC-3", WINDOW, Config(), output_dir=tmp_path, sources=[GOOD], progress=False, force=True)
    assert b.verify() == []


def test_a_rerun_cell_gets_the_bundle_of_its_window_back(tmp_path, capsys):
    """A notebook's collect cell run again: the same window returns the bundle as it is
    (not collected again); another window is an error naming both; force collects again."""
    first = collect("INC-6", WINDOW, Config(), output_dir=tmp_path, sources=[GOOD], progress=False)
    sha = first.manifest_sha256
    again = collect("INC-6", WINDOW, Config(), output_dir=tmp_path, sources=[FAILING])
    assert again.manifest_sha256 == sha and again.status("logs") == "ok"
    assert "using the bundle collected at" in capsys.readouterr().err
    other = TimeWindow.parse("2024-12-02T13:00Z", "2024-12-02T15:00Z")
    with pytest.raises(BundleError, match=r"over \[2024-12-02T14:00:00\+00:00.*not over \[2024-12-02T13:00.*force=True"):
        collect("INC-6", other, Config(), output_dir=tmp_path, sources=[GOOD], progress=False)
    forced = collect("INC-6", other, Config(), output_dir=tmp_path, sources=[GOOD], progress=False, force=True)
    assert forced.window == other and forced.manifest_sha256 != sha


def test_a_relative_window_matches_a_bundle_of_its_length(tmp_path):
    first = collect("INC-7", "1h", Config(), output_dir=tmp_path, sources=[GOOD], progress=False)
    time.sleep(0.01)
    assert collect("INC-7", "1h", Config(), output_dir=tmp_path, sources=[GOOD], progress=False).window == first.window
    with pytest.raises(BundleError, match="not over the last 2h"):
        collect("INC-7", "2h", Config(), output_dir=tmp_path, sources=[GOOD], progress=False)


def test_require_evidence_writes_nothing_when_no_source_answers(tmp_path):
    with pytest.raises(SourceUnavailable, match="no source reachable.*127.0.0.1:1"):
        collect("INC-4", WINDOW, Config(), output_dir=tmp_path, sources=[FAILING], progress=False,
                require_evidence=True)
    assert not (tmp_path / "INC-4").exists()


def test_manifest_keeps_config_without_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("EAFIX_PG_PASSWORD", "pw-that-must-not-leak")
    b = collect("INC-5", WINDOW, Config(), output_dir=tmp_path, sources=[GOOD], progress=False)
    text = (b.path / "manifest.json").read_text()
    assert "pw-that-must-not-leak" not in text
    assert b.manifest["config"]["postgres"]["password_env"] == "EAFIX_PG_PASSWORD"


def test_every_source_module_offers_a_collector():
    names = {c.name for c in collectors()}
    assert {"logs", "prometheus", "postgres", "git", "services", "incident"} <= names
