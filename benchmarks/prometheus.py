"""Benchmark: Prometheus range pulls into METRICS against prometheus-api-client.

Starts its own Prometheus (tests/harness/prometheus.py) with 30 days x 20
series at 15 s backfilled, then in one run:

1. 24 h x 20 series at 15 s: ``query_range`` (METRICS, tz-aware) versus
   ``PrometheusConnect.custom_query_range`` + ``MetricRangeDataFrame`` (the
   baseline); prints both wall times (best of N) and the ratio (target >= 2x).
2. 30 days x 20 series at 15 s (172,800 points per series, chunked under the
   11,000-point limit): wall time and peak RSS of a fresh process doing only that.

Run: ``.venv/bin/python benchmarks/prometheus.py`` (about two minutes; not part of ``make test``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eafix_forensics.sources.prometheus import query_range
from eafix_forensics.window import TimeWindow

END = pd.Timestamp("2024-12-02T16:00:00Z")
DAYS = 30
SERIES = 20
STEP_S = 15
QUERY = "eafix_bench_latency_seconds"
TARGET_RATIO = 2.0  # our 24 h pull against PrometheusConnect + MetricRangeDataFrame, at least


def write_openmetrics(folder: Path) -> tuple[list[Path], int]:
    """30 days x 20 series at 15 s of random walks as one OpenMetrics file per day.

    Returns the files and the sample count. One file per day because promtool
    re-reads its whole input for each 2-hour block it writes.
    """
    rng = np.random.default_rng(20241202)
    start_s = int((END - pd.Timedelta(days=DAYS)).timestamp())
    times = np.arange(start_s, int(END.timestamp()), STEP_S)
    walks = [np.round(np.abs(0.4 + np.cumsum(rng.normal(0, 0.01, len(times)))), 4) for _ in range(SERIES)]
    per_day = 86400 // STEP_S
    files = []
    for day in range(DAYS):
        path = folder / f"day-{day:02d}.om"
        sl = slice(day * per_day, (day + 1) * per_day)
        with path.open("w", encoding="utf-8") as fh:
            fh.write(f"# TYPE {QUERY} gauge\n")
            for i, walk in enumerate(walks):
                key = f'{QUERY}{{instance="node-{i:02d}:9100",service="svc-{i:02d}"}}'
                fh.write("".join(f"{key} {v!r} {t}\n" for v, t in zip(walk[sl].tolist(), times[sl].tolist(), strict=True)))
            fh.write("# EOF\n")
        files.append(path)
    return files, SERIES * len(times)


def best_of(n: int, fn):  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def compare_24h(url: str, repeats: int) -> float:
    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

    window = TimeWindow(END - pd.Timedelta(hours=24), END)
    client = PrometheusConnect(url=url)
    # custom_query_range includes its end; ask for the same 5,760 points as [start, end)
    last = (END - pd.Timedelta(seconds=STEP_S)).to_pydatetime()

    def baseline() -> pd.DataFrame:
        raw = client.custom_query_range(QUERY, window.start.to_pydatetime(), last, step=str(STEP_S))
        return MetricRangeDataFrame(raw)

    def ours() -> pd.DataFrame:
        return query_range(url, QUERY, window, step=STEP_S)

    ours()  # warm both paths (imports, Prometheus page cache)
    baseline()
    t_base, base_df = best_of(repeats, baseline)
    t_ours, ours_df = best_of(repeats, ours)
    assert len(base_df) == len(ours_df) == SERIES * 24 * 3600 // STEP_S, (len(base_df), len(ours_df))
    base_tz = base_df.index.tz if isinstance(base_df.index, pd.DatetimeIndex) else None
    print(f"24 h x {SERIES} series at {STEP_S} s = {len(ours_df):,} rows (best of {repeats})")
    print(f"  PrometheusConnect.custom_query_range + MetricRangeDataFrame: {t_base:.3f} s  (timestamps tz={base_tz})")
    print(f"  eafix_forensics.query_range -> METRICS:                       {t_ours:.3f} s  "
          f"(timestamps {ours_df['timestamp'].dtype})")
    print(f"  ratio: {t_base / t_ours:.1f}x faster (target >= {TARGET_RATIO:g}x)")
    return t_base / t_ours


def pull_30d(url: str) -> dict[str, float]:
    window = TimeWindow(END - pd.Timedelta(days=DAYS), END)
    t0 = time.perf_counter()
    df = query_range(url, QUERY, window, step=STEP_S)
    wall = time.perf_counter() - t0
    assert df["timestamp"].is_unique is False  # 20 series share the grid
    per_series = df.groupby("series", observed=True)["timestamp"]
    assert per_series.nunique().eq(DAYS * 86400 // STEP_S).all()
    assert per_series.apply(lambda s: s.is_unique and s.is_monotonic_increasing).all()
    return {
        "rows": float(len(df)),
        "wall_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "frame_mb": df.memory_usage(deep=True).sum() / 2**20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pull-30d", metavar="URL", help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.pull_30d:
        print(json.dumps(pull_30d(args.pull_30d)))
        return 0

    from tests.harness.prometheus import running_prometheus

    with tempfile.TemporaryDirectory(prefix="eafix-bench-prom-") as tmp:
        t0 = time.perf_counter()
        files, samples = write_openmetrics(Path(tmp))
        size = sum(f.stat().st_size for f in files) / 2**20
        print(f"backfilling {samples:,} samples ({size:.0f} MiB OpenMetrics in {len(files)} files) …", flush=True)
        with running_prometheus(files, Path(tmp) / "prom", ready_timeout_s=300) as prom:
            print(f"  Prometheus ready at {prom.url} after {time.perf_counter() - t0:.1f} s\n", flush=True)
            ratio = compare_24h(prom.url, args.repeats)
            child = subprocess.run(
                [sys.executable, __file__, "--pull-30d", prom.url], capture_output=True, text=True, check=True
            )
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"\n{DAYS} days x {SERIES} series at {STEP_S} s through chunking "
                  f"({DAYS * 86400 // STEP_S:,} points per series, <= 11,000 per request):")
            print(f"  {r['rows']:,.0f} rows in {r['wall_s']:.2f} s ({r['rows'] / r['wall_s']:,.0f} rows/s); "
                  f"peak RSS {r['peak_rss_mb']:.0f} MiB (frame {r['frame_mb']:.0f} MiB)")
    if ratio < TARGET_RATIO:
        print(f"TARGET MISSED: 24 h pull {ratio:.2f}x the baseline's speed, target >= {TARGET_RATIO:g}x")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
