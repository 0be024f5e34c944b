"""A real Prometheus serving backfilled data, for tests and benchmarks.

``running_prometheus(openmetrics, workdir)`` is a plain context manager: it
backfills ``openmetrics`` (OpenMetrics text or a file path; it must end with
``# EOF``) into a fresh TSDB with ``promtool tsdb create-blocks-from
openmetrics``, starts ``prometheus`` on a free loopback port with a 100-year
retention (the data is historical), waits for ``/-/ready`` and stops the server
on exit. The ``prometheus`` pytest fixture (session scope) does that once for
the known dataset built by :func:`dataset_text`; tests assert against the
values :func:`dataset_values` says the dataset holds.

Backfilled blocks must lie outside Prometheus' head block (older than ~2 h
relative to its wall clock), so the dataset lives on 2024-12-02, the INC-DEMO
date.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from . import free_port, stop_process

__all__ = [
    "DATASET_END",
    "DATASET_START",
    "DATASET_STEP_S",
    "RunningPrometheus",
    "dataset_text",
    "dataset_values",
    "openmetrics_text",
    "running_prometheus",
]

_MINIMAL_CONFIG = "global:\n  scrape_interval: 1h\nscrape_configs: []\n"


@dataclass(frozen=True)
class RunningPrometheus:
    url: str
    data_dir: Path
    log: Path


def _binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH (Debian package 'prometheus'; `make test` installs it)")
    return path


@contextmanager
def running_prometheus(
    openmetrics: str | Path | Sequence[Path], workdir: str | Path, *, ready_timeout_s: float = 60.0
) -> Iterator[RunningPrometheus]:
    """Backfill ``openmetrics`` and run Prometheus on it until the block exits.

    ``openmetrics`` is OpenMetrics text, a file, or several files (each
    ending with ``# EOF``). promtool re-reads its whole input for every 2-hour
    block it writes, so long spans backfill far faster split into files of a
    day or so; the files are backfilled in parallel.
    """
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "tsdb"
    data.mkdir(exist_ok=True)
    if isinstance(openmetrics, Path):
        sources = [openmetrics]
    elif isinstance(openmetrics, str):
        sources = [work / "backfill.om"]
        sources[0].write_text(openmetrics, encoding="utf-8")
    else:
        sources = list(openmetrics)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        blocks = list(pool.map(lambda ix: _backfill(ix[1], work / f"blocks-{ix[0]}"), enumerate(sources)))
    for out in blocks:
        for block in out.iterdir():
            block.rename(data / block.name)
        out.rmdir()
    config = work / "prometheus.yml"
    config.write_text(_MINIMAL_CONFIG, encoding="utf-8")
    port = free_port()
    log = work / "prometheus.log"
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            [
                _binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log, ready_timeout_s)
        yield RunningPrometheus(url=url, data_dir=data, log=log)
    finally:
        stop_process(proc)


def _backfill(source: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    backfill = subprocess.run(
        [_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if backfill.returncode != 0:
        raise RuntimeError(f"promtool backfill of {source} failed: {backfill.stderr or backfill.stdout}")
    return out


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"prometheus at {url} not ready after {timeout_s:.0f}s: {log.read_text(errors='replace')[-2000:]}")


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def openmetrics_text(series: dict[str, tuple[pd.DatetimeIndex, list[float] | object]]) -> str:
    """OpenMetrics text for ``{'name{labels}': (timestamps, values)}``, ending with ``# EOF``.

    Samples of one metric family must be contiguous, so series are grouped by
    metric name (the text before ``{``).
    """
    by_family: dict[str, list[str]] = {}
    for key, (times, values) in series.items():
        family = key.split("{", 1)[0]
        seconds = times.as_unit("ms").asi8 / 1000.0
        lines = by_family.setdefault(family, [])
        for t, v in zip(seconds, values, strict=True):  # type: ignore[call-overload]
            lines.append(f"{key} {_fmt(v)} {t:.3f}")
    out: list[str] = []
    for family, lines in by_family.items():
        out.append(f"# TYPE {family} gauge")
        out.extend(lines)
    out.append("# EOF")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- the dataset
# Raw samples every 15 s over 2024-12-02 12:00-16:00 UTC (a historical day, so
# backfill works) plus an 18-hour low-resolution tail for the chunking test.
DATASET_START = pd.Timestamp("2024-12-02T12:00:00Z")
DATASET_END = pd.Timestamp("2024-12-02T16:00:00Z")
DATASET_STEP_S = 15
# chunk test: one series at 1 s resolution over 3 h 10 min = 11,400 samples
CHUNK_START = pd.Timestamp("2024-12-02T08:00:00Z")
CHUNK_END = pd.Timestamp("2024-12-02T11:10:00Z")

SERVICES = ("signal-generator", "execution-engine", "data-ingestor")
# Incident shape in the dataset: when each raw metric changes.
UP_DOWN = (pd.Timestamp("2024-12-02T14:10:00Z"), pd.Timestamp("2024-12-02T14:20:00Z"))  # data-ingestor up=0
SIGNAL_SLOW = (pd.Timestamp("2024-12-02T14:00:00Z"), pd.Timestamp("2024-12-02T14:30:00Z"))
SIGNAL_DEGRADED = (pd.Timestamp("2024-12-02T13:30:00Z"), pd.Timestamp("2024-12-02T14:00:00Z"))
EXEC_SLOW = (pd.Timestamp("2024-12-02T13:55:00Z"), pd.Timestamp("2024-12-02T14:50:00Z"))
PRICE_STALL = (pd.Timestamp("2024-12-02T14:05:00Z"), pd.Timestamp("2024-12-02T14:25:00Z"))
ERRORS = (pd.Timestamp("2024-12-02T14:00:00Z"), pd.Timestamp("2024-12-02T14:40:00Z"))
TRICKY_LABEL = 'x"],"values":[[1,"2"]]},{"metric":{ ]] \\ é'
BUCKETS = ("0.5", "1", "2.5", "5", "10", "+Inf")


def _grid(start: pd.Timestamp, end: pd.Timestamp, step_s: int) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=f"{step_s}s", inclusive="left")


def _histogram(name: str, service: str, ts: pd.DatetimeIndex, slow: tuple[pd.Timestamp, pd.Timestamp] | None,
               degraded: tuple[pd.Timestamp, pd.Timestamp] | None) -> dict[str, tuple[pd.DatetimeIndex, list[float]]]:
    """Cumulative bucket counters: 10 observations per interval, all fast (<=0.5 s)
    except in ``degraded`` (all in (1, 2.5]) and ``slow`` (all in (5, 10])."""
    counts = {le: 1000.0 for le in BUCKETS}  # large start values: no zero-clamp in rate()
    values: dict[str, list[float]] = {le: [] for le in BUCKETS}
    for t in ts:
        if slow and slow[0] < t <= slow[1]:
            first = "10"
        elif degraded and degraded[0] < t <= degraded[1]:
            first = "2.5"
        else:
            first = "0.5"
        reached = False
        for le in BUCKETS:
            reached = reached or le == first
            if reached:
                counts[le] += 10
            values[le].append(counts[le])
    return {f'{name}_bucket{{le="{le}",service="{service}"}}': (ts, values[le]) for le in BUCKETS}


def dataset_series() -> dict[str, tuple[pd.DatetimeIndex, list[float]]]:
    """The known dataset: ``{'name{labels}': (timestamps, values)}``."""
    ts = _grid(DATASET_START, DATASET_END, DATASET_STEP_S)
    secs = ts.as_unit("s").asi8.astype(float)
    out: dict[str, tuple[pd.DatetimeIndex, list[float]]] = {}
    for svc in SERVICES:
        down = (ts >= UP_DOWN[0]) & (ts < UP_DOWN[1]) if svc == "data-ingestor" else [False] * len(ts)
        out[f'up{{job="{svc}",service="{svc}"}}'] = (ts, [0.0 if d else 1.0 for d in down])
    out.update(_histogram("signal_latency_seconds", "signal-generator", ts, SIGNAL_SLOW, SIGNAL_DEGRADED))
    out.update(_histogram("order_execution_seconds", "execution-engine", ts, EXEC_SLOW, None))
    # last price update: follows the clock, frozen during the stall
    last = [PRICE_STALL[0].timestamp() if PRICE_STALL[0].timestamp() <= s < PRICE_STALL[1].timestamp() else s
            for s in secs]
    out['price_last_update_timestamp_seconds{service="data-ingestor",symbol="EURUSD"}'] = (ts, last)
    # HTTP requests: 100 per interval, half of them 5xx during ERRORS
    ok, bad, ok_n, bad_n = [], [], 5000.0, 5000.0
    for t in ts:
        if ERRORS[0] < t <= ERRORS[1]:
            ok_n += 50
            bad_n += 50
        else:
            ok_n += 100
        ok.append(ok_n)
        bad.append(bad_n)
    out['http_requests_total{code="200",service="gui-gateway"}'] = (ts, ok)
    out['http_requests_total{code="500",service="gui-gateway"}'] = (ts, bad)
    # special values for the NaN/Inf test: one per minute cycling
    special = [[1.5, float("nan"), float("inf"), float("-inf")][i % 4] for i in range(len(ts))]
    out['eafix_special_values{kind="mixed"}'] = (ts, special)
    # a label value full of the JSON markers the fast parser looks for
    out['eafix_tricky{note="' + TRICKY_LABEL.replace("\\", "\\\\").replace('"', '\\"') + '"}'] = (ts, [2.5] * len(ts))
    # dense series for chunking: value = seconds since CHUNK_START
    dense = _grid(CHUNK_START, CHUNK_END, 1)
    out['eafix_dense_counter{kind="dense"}'] = (dense, [float(i) for i in range(len(dense))])
    return out


def dataset_text() -> str:
    """The known dataset as OpenMetrics text."""
    return openmetrics_text(dataset_series())


def dataset_values(key: str) -> pd.Series:
    """The backfilled samples of series ``key`` (as in :func:`dataset_series`), indexed by time."""
    ts, values = dataset_series()[key]
    return pd.Series(values, index=ts, dtype=float)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    """A real Prometheus serving :func:`dataset_text`, for the whole session."""
    with running_prometheus(dataset_text(), tmp_path_factory.mktemp("prometheus")) as prom:
        yield prom
