"""The live path: ``docker compose logs`` run for a window, its output read like a saved file."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ...errors import ConfigError, QueryError, SourceError, SourceUnavailable
from ...window import TimeWindow
from .readers import _read_stream, _window_or_none


# ------------------------------------------------------------------ live path
def _compose_command(project_dir: Path, window: TimeWindow, services: Sequence[str]) -> list[list[str]]:
    since = window.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (window.end + pd.Timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    opts = ["logs", "--timestamps", "--no-color", "--since", since, "--until", until, *services]
    cmds = []
    if shutil.which("docker"):
        cmds.append(["docker", "compose", "--project-directory", str(project_dir), *opts])
    if shutil.which("docker-compose"):
        # Compose v1 has no --since/--until; the window is applied after parsing.
        cmds.append(["docker-compose", "--project-directory", str(project_dir), "logs", "--timestamps",
                     "--no-color", *services])
    return cmds


def compose_logs(
    project_dir: str | os.PathLike[str],
    window: TimeWindow,
    services: Sequence[str] | None = None,
    *,
    timeout_s: float = 120.0,
) -> pd.DataFrame:
    """Run ``docker compose logs --timestamps --no-color --since … --until …`` in
    ``project_dir`` (falling back to ``docker-compose``) and parse its output as
    it streams. Returns LOGS for ``window`` (columns as read_compose_logs).

    Raises SourceUnavailable when docker is not installed or the daemon refuses,
    QueryError when compose rejects the command (e.g. an unknown service).
    """
    checked = _window_or_none(window)
    if checked is None:
        raise ConfigError("compose_logs: a window is required (TimeWindow.last('1h'))")
    window = checked
    pdir = Path(project_dir)
    if not pdir.is_dir():
        raise ConfigError(f"compose project {pdir}: not a directory")
    cmds = _compose_command(pdir, window, list(services or []))
    if not cmds:
        raise SourceUnavailable("docker compose logs: neither `docker` nor `docker-compose` is on PATH")
    last: SourceError | None = None
    for cmd in cmds:
        try:
            return _run_compose(cmd, pdir, window, timeout_s)
        except _NoComposePlugin as exc:
            last = SourceUnavailable(str(exc))
    assert last is not None
    raise last


class _NoComposePlugin(Exception):
    """``docker`` exists but has no ``compose`` subcommand."""


def _run_compose(cmd: list[str], pdir: Path, window: TimeWindow, timeout_s: float) -> pd.DataFrame:
    at = cmd.index("--project-directory")
    shown = " ".join(cmd[:at] + cmd[at + 2 :])
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, cwd=pdir, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise SourceUnavailable(f"{shown}: cannot run {cmd[0]}: {exc.strerror or exc}") from exc
        assert proc.stdout is not None
        # A daemon that accepts the connection but never answers must not hang collect().
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            frame = _read_stream(proc.stdout, f"docker compose logs ({pdir.name})", window=window,
                                 service=None, project=None, levels=None)
            rc = proc.wait()
        finally:
            timer.cancel()
            proc.stdout.close()
        if expired.is_set():
            raise SourceUnavailable(f"{shown}: no answer within {timeout_s:.0f}s")
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace").strip()
    if rc != 0:
        first = stderr.splitlines()[0] if stderr else f"exit code {rc}"
        if "is not a docker command" in stderr or "unknown command" in stderr.lower() and "compose" in stderr:
            raise _NoComposePlugin(f"{shown}: {first}")
        if "Cannot connect to the Docker daemon" in stderr or "permission denied" in stderr.lower() \
                or "Is the docker daemon running" in stderr:
            raise SourceUnavailable(f"{shown}: the Docker daemon refused: {first}")
        raise QueryError(f"{shown}: {first}", query=shown)
    return frame
