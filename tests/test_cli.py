"""The command line as a user runs it: a real process, its exit status and its one-line errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eafix_forensics.demo import build_demo

EXE = [sys.executable, "-m", "eafix_forensics.cli"]


def run(*args, cwd=None, env=None):
    e = dict(os.environ)
    e.pop("EAFIX_CONFIG", None)
    e.update(env or {})
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd, env=e, timeout=300)


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    build_demo(out)
    return out


def one_line_error(proc):
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert lines, proc
    assert "Traceback" not in proc.stderr
    return lines[-1]


def test_help_lists_the_commands():
    p = run("--help")
    assert p.returncode == 0
    for cmd in ("collect", "report", "verify", "demo", "update", "index"):
        assert cmd in p.stdout
    assert run("collect", "--help").returncode == 0


def test_verify_ok_then_names_flipped_and_missing_files(demo_out, tmp_path):
    import shutil

    ev = tmp_path / "evidence"
    shutil.copytree(demo_out / "INC-DEMO" / "evidence", ev)
    ok = run("verify", str(ev))
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    for parquet in sorted(ev.glob("*.parquet")):
        data = bytearray(parquet.read_bytes())
        data[len(data) // 3] ^= 0xFF
        parquet.write_bytes(bytes(data))
        bad = run("verify", str(ev))
        assert bad.returncode == 1
        assert f"{parquet.name}: sha256 differs" in bad.stderr
        data[len(data) // 3] ^= 0xFF
        parquet.write_bytes(bytes(data))
    victim = sorted(ev.glob("*.parquet"))[0]
    victim.unlink()
    gone = run("verify", str(ev))
    assert gone.returncode == 1 and f"{victim.name}: missing" in gone.stderr


@pytest.mark.parametrize("bad_id", ["INC/1", "../INC", "..", "INC 1", "INC\t1", "INC\x07"])
def test_bad_incident_id_exits_2_with_one_line(bad_id, tmp_path):
    p = run("collect", bad_id, "--since", "1h", "--output-dir", str(tmp_path))
    assert p.returncode == 2
    assert "incident id" in one_line_error(p)
    assert list(tmp_path.iterdir()) == []


def test_window_end_before_start_exits_2(tmp_path):
    p = run("collect", "INC-1", "--start", "2024-12-02T15:00Z", "--end", "2024-12-02T14:00Z",
            "--output-dir", str(tmp_path))
    assert p.returncode == 2
    assert "must be after start" in one_line_error(p)


def test_unparsable_time_exits_2(tmp_path):
    p = run("collect", "INC-1", "--start", "yesterday-ish", "--output-dir", str(tmp_path))
    assert p.returncode == 2 and "yesterday-ish" in one_line_error(p)


def test_malformed_config_names_file_and_line(tmp_path):
    cfg = tmp_path / "eafix.toml"
    cfg.write_text('[prometheus]\nurl = "http://x"\nbroken line\n')
    p = run("collect", "INC-1", "--since", "1h", "--config", str(cfg), "--output-dir", str(tmp_path))
    assert p.returncode == 2
    line = one_line_error(p)
    assert str(cfg) in line and "line 3" in line


def test_misspelled_config_key_names_the_key(tmp_path):
    cfg = tmp_path / "eafix.toml"
    cfg.write_text('[postgres]\nurll = "postgresql+psycopg://x@h/db"\n')
    p = run("collect", "INC-1", "--since", "1h", "--config", str(cfg), "--output-dir", str(tmp_path))
    assert p.returncode == 2 and "'urll'" in one_line_error(p) and str(cfg) in one_line_error(p)


def test_debug_shows_the_traceback(tmp_path):
    p = run("--debug", "collect", "a/b", "--since", "1h", "--output-dir", str(tmp_path))
    assert p.returncode == 2 and "Traceback" in p.stderr


def test_report_without_bundle_or_window_exits_2(tmp_path):
    p = run("report", "INC-NONE", "--output-dir", str(tmp_path))
    assert p.returncode == 2
    assert "no evidence bundle for INC-NONE" in one_line_error(p)


def unreachable_config(tmp_path):
    from tests.harness import free_port

    port = free_port()  # nobody listens there
    cfg = tmp_path / "eafix.toml"
    services = "".join(
        f'[services.{name}]\nurl = "http://127.0.0.1:{port}"\n' for name in ("gui-gateway", "execution-engine")
    )
    cfg.write_text(
        f'[prometheus]\nurl = "http://127.0.0.1:{port}"\n'
        f'[postgres]\nurl = "postgresql+psycopg://eafix@127.0.0.1:{port}/eafix_prod"\n'
        f'[logs]\nfiles = []\n[git]\nrepos = []\n[incidents]\ndir = "no-such-dir"\n'
        f'[collect]\nsource_timeout_s = 20.0\n' + services
    )
    return cfg


def test_report_with_no_bundle_and_no_reachable_source_exits_2(tmp_path):
    cfg = unreachable_config(tmp_path)
    out = tmp_path / "out"
    p = run("report", "INC-DARK", "--since", "1h", "--config", str(cfg), "--output-dir", str(out))
    assert p.returncode == 2, p.stderr
    assert "no source reachable" in one_line_error(p)
    assert not (out / "INC-DARK" / "evidence").exists()


def test_collect_twice_refuses_without_force(tmp_path):
    cfg = unreachable_config(tmp_path)
    out = tmp_path / "out"
    first = run("collect", "INC-7", "--since", "1h", "--config", str(cfg), "--output-dir", str(out), "--quiet")
    assert first.returncode == 0, first.stderr
    again = run("collect", "INC-7", "--since", "1h", "--config", str(cfg), "--output-dir", str(out), "--quiet")
    assert again.returncode == 2 and "--force" in one_line_error(again)
    forced = run("collect", "INC-7", "--since", "1h", "--config", str(cfg), "--output-dir", str(out),
                 "--quiet", "--force")
    assert forced.returncode == 0, forced.stderr


def test_collect_honours_the_configured_output_dir(tmp_path):
    cfg = unreachable_config(tmp_path)
    cfg.write_text(cfg.read_text() + '[collect]\noutput_dir = "bundles"\n' if "[collect]" not in cfg.read_text()
                   else cfg.read_text().replace("[collect]\n", '[collect]\noutput_dir = "bundles"\n'))
    p = run("collect", "INC-8", "--since", "1h", "--config", str(cfg), "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "bundles" / "INC-8" / "evidence" / "manifest.json").is_file()


def test_update_prints_the_runbook_template(demo_out):
    p = run("update", "INC-DEMO", "--status", "Identified", "--output-dir", str(demo_out))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "🚨 INCIDENT UPDATE - INC-DEMO"
    assert lines[1] == "Status: Identified"
    assert [l.split(":")[0] for l in lines[2:6]] == ["Impact", "Actions", "ETA", "Next Update"]
    bad = run("update", "INC-DEMO", "--status", "Done", "--output-dir", str(demo_out))
    assert bad.returncode == 2


# ------------------------------------------------------------------ success paths
def test_version_is_the_installed_package_version():
    from importlib.metadata import version

    p = run("--version")
    assert p.returncode == 0
    assert p.stdout.strip() == f"eafix-forensics {version('eafix-forensics')}"


def test_update_with_every_field_given(demo_out):
    p = run("update", "INC-DEMO", "--status", "Monitoring", "--impact", "signals late on signal-generator",
            "--actions", "execution-engine rolled back to 2.13.4", "--eta", "15:30 UTC",
            "--next-update", "15:20 UTC", "--output-dir", str(demo_out))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "🚨 INCIDENT UPDATE - INC-DEMO",
        "Status: Monitoring",
        "Impact: signals late on signal-generator",
        "Actions: execution-engine rolled back to 2.13.4",
        "ETA: 15:30 UTC",
        "Next Update: 15:20 UTC",
    ]


@pytest.fixture(scope="module")
def elsewhere(demo_out, tmp_path_factory):
    """An output directory holding no bundle (reports of the demo bundle go here via --bundle),
    with the demo's past incidents in its library for the trends report."""
    from eafix_forensics.demo import index_demo_history

    out = tmp_path_factory.mktemp("elsewhere")
    index_demo_history(out)
    return out


@pytest.mark.parametrize(("kind", "name"), [("investigation", "investigation"), ("review", "post_incident_review")])
def test_report_kind_from_a_given_bundle_with_a_timeout(demo_out, elsewhere, kind, name):
    from tests.story import contradictions, html_text

    bundle = demo_out / "INC-DEMO" / "evidence"
    p = run("report", "INC-DEMO", "--kind", kind, "--bundle", str(bundle), "--timeout", "240",
            "--output-dir", str(elsewhere))
    assert p.returncode == 0, p.stderr[-3000:]
    html = elsewhere / "INC-DEMO" / f"{name}.html"
    assert p.stdout.splitlines() == [str(html)]
    assert contradictions(html_text(html), kind) == []
    assert not (elsewhere / "INC-DEMO" / "evidence").exists()  # the given bundle was used, not a new one


def test_report_kind_trends_reads_the_incident_library(elsewhere):
    from tests.story import html_text

    p = run("report", "INC-DEMO", "--kind", "trends", "--output-dir", str(elsewhere))
    assert p.returncode == 0, p.stderr[-3000:]
    (path,) = [Path(line) for line in p.stdout.splitlines()]
    text = html_text(path)
    # the five past incidents the demo history indexes, by id
    for incident in ("INC-2024-0812", "INC-2024-0917", "INC-2024-1021", "INC-2024-1105", "INC-2024-1118"):
        assert incident in text, incident


def test_report_collects_first_when_there_is_no_bundle(tmp_path):
    """open_or_collect's collect-then-render path: no bundle, a window and a config whose
    only reachable sources are a compose log file and the incident record."""
    from eafix_forensics.demo.sample import DEMO_INCIDENT_TOML, demo_compose_log_text
    from tests.story import html_text

    cfg = unreachable_config(tmp_path)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "incident_logs_20241202_153000.txt").write_text(demo_compose_log_text())
    (tmp_path / "incidents").mkdir()
    (tmp_path / "incidents" / "INC-OC.toml").write_text(DEMO_INCIDENT_TOML)
    text = cfg.read_text().replace('files = []', 'files = ["logs/incident_logs_*.txt"]')
    cfg.write_text(text.replace('dir = "no-such-dir"', 'dir = "incidents"'))
    out = tmp_path / "out"
    p = run("report", "INC-OC", "--start", "2024-12-02T13:30Z", "--end", "2024-12-02T15:30Z",
            "--config", str(cfg), "--output-dir", str(out))
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.splitlines() == [str(out / "INC-OC" / "investigation.html")]
    assert run("verify", str(out / "INC-OC" / "evidence")).returncode == 0
    page = html_text(out / "INC-OC" / "investigation.html")
    assert "First symptom 2024-12-02 13:55:00 UTC" in page
    assert "BrokerTimeout: order 48213 not acknowledged by broker after 5000 ms" in page
    # the sources that were down are named in the report, not silently missing
    assert "unavailable" in page
