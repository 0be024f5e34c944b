"""Real servers for the tests, started on free loopback ports.

Each module offers a plain context manager (usable from benchmarks/) and the
pytest fixtures built on it: postgres.py (private PostgreSQL 15 with
pg_stat_statements), prometheus.py (real Prometheus with backfilled data),
services.py (the EAFIX service APIs on loopback).
"""

import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a server the tests started: SIGTERM, then SIGKILL when it has not exited in ``timeout`` s."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
