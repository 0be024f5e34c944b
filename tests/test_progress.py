"""Quiet and visible (issue 17): progress bars (tqdm.auto) on a terminal and when asked, none in a
pipe; no kernel warnings on stderr from a report."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import ClassVar

import pytest

from eafix_forensics import progress
from eafix_forensics.demo import build_demo
from eafix_forensics.sources.logs import read_compose_logs, read_container_json_logs

DATA = Path(__file__).parent / "data" / "logs"
EXE = [sys.executable, "-m", "eafix_forensics.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EAFIX_")}
    return {**env, **extra}


@pytest.fixture
def logs_config(tmp_path):
    from tests.harness import free_port

    port = free_port()  # nobody listens: those sources fail fast, the logs land
    cfg = tmp_path / "eafix.toml"
    cfg.write_text(
        f'[prometheus]\nurl = "http://127.0.0.1:{port}"\n'
        f'[postgres]\nurl = "postgresql+psycopg://eafix@127.0.0.1:{port}/eafix_prod"\n'
        f'[logs]\nfiles = ["{DATA / "compose_v2_timestamps.txt"}"]\n[git]\nrepos = []\n'
        f'[incidents]\ndir = "no-such-dir"\n[collect]\nsource_timeout_s = 20.0\n'
    )
    return cfg


def _collect(cfg: Path, out: Path, *flags: str, **kw) -> subprocess.CompletedProcess[str]:
    cmd = [*EXE, "collect", "INC-1", "--start", "2024-12-02T14:00Z", "--end", "2024-12-02T15:00Z",
           "--config", str(cfg), "--output-dir", str(out), *flags]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120, check=False, **kw)


def test_collect_in_a_pipe_prints_lines_and_no_bar_unless_asked(logs_config, tmp_path):
    piped = _collect(logs_config, tmp_path / "a")
    assert piped.returncode == 0, piped.stderr
    assert "✓ logs" in piped.stderr and "collect:" not in piped.stderr
    asked = _collect(logs_config, tmp_path / "b", "--progress")
    assert asked.returncode == 0, asked.stderr
    assert "collect:" in asked.stderr and "source" in asked.stderr  # the tqdm bar of sources done
    assert "✓ logs" in asked.stderr
    silent = _collect(logs_config, tmp_path / "c", "--no-progress")
    assert silent.returncode == 0 and silent.stderr == ""


def test_collect_on_a_terminal_shows_the_bar(logs_config, tmp_path):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    cmd = [*EXE, "collect", "INC-1", "--start", "2024-12-02T14:00Z", "--end", "2024-12-02T15:00Z",
           "--config", str(logs_config), "--output-dir", str(tmp_path / "t")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, env=_env())
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    assert b"collect:" in seen, seen[-2000:]


class _Recorded(progress.tqdm):  # type: ignore[misc,name-defined]
    made: ClassVar[list[_Recorded]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _Recorded.made.append(self)

    def close(self):
        self.final = (self.n, self.total, self.desc)
        super().close()


@pytest.mark.parametrize("reader, name", [(read_compose_logs, "compose_v2_timestamps.txt"),
                                          (read_container_json_logs, "container-json.log")])
def test_a_log_parse_advances_its_bar_over_the_whole_file(reader, name, monkeypatch, tmp_path):
    # Many 8 MiB chunks: the bar moves per chunk and ends at the file's size.
    src = (DATA / name).read_bytes()
    big = tmp_path / name
    big.write_bytes(src * (20_000_000 // len(src) + 1))
    monkeypatch.setattr(progress, "tqdm", _Recorded)
    _Recorded.made = []
    frame = reader(big, progress=True)
    assert len(frame)
    (bar,) = _Recorded.made
    assert bar.final == (big.stat().st_size, big.stat().st_size, f"parse {name}")
    _Recorded.made = []
    reader(big)  # off unless asked
    assert _Recorded.made == []


def test_wanted_follows_the_flag_the_environment_and_the_terminal(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    assert progress.wanted(True) and not progress.wanted(False)
    assert not progress.wanted(None)  # pytest's stderr is no terminal
    monkeypatch.setenv(progress.ENV, "1")
    assert progress.wanted(None)
    monkeypatch.setenv(progress.ENV, "0")
    assert not progress.wanted(None) and progress.wanted(True)


def test_a_jupyter_kernel_gets_bars_and_a_report_kernel_none():
    from jupyter_client.manager import start_new_kernel

    code = "from eafix_forensics.progress import wanted; print('bars', wanted(None))"
    for env, expect in (({}, "bars True"), ({progress.ENV: "0"}, "bars False")):
        km, kc = start_new_kernel(kernel_name="python3", env=_env(**env))
        try:
            kc.execute(code)
            out = ""
            while True:
                msg = kc.get_iopub_msg(timeout=60)
                if msg["msg_type"] == "stream":
                    out += msg["content"]["text"]
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle" and out:
                    break
            assert expect in out
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def test_a_report_prints_no_kernel_warning(tmp_path):
    build_demo(tmp_path)
    p = subprocess.run([*EXE, "report", "INC-DEMO", "--output-dir", str(tmp_path)], capture_output=True,
                       text=True, env=_env(), timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert "WARNING" not in p.stderr and "without encryption" not in p.stderr, p.stderr
    assert p.stdout.splitlines() == [str(tmp_path / "INC-DEMO" / "investigation.html")]
