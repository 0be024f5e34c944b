"""Throughput and memory of the logs reader on a generated `docker compose logs` file.

    .venv/bin/python benchmarks/logs.py [--size-mb 520] [--dir /tmp/eafix-bench]

Generates (once, under --dir, never in the repository) 24 hours of
`docker compose logs --timestamps` output from 6 services with ~2 % ERROR
lines and an occasional multi-line traceback, then runs each case in its own
process (so peak RSS is that case's alone) and prints MB/s, peak RSS and the
ratios to two baselines measured in the same run:

- naive pandas: read the lines, ``str.extract`` the prefix/time/level, then
  ``to_datetime`` (on the first --naive-mb MB, since it needs ~15x the file in memory);
- ``grep -c ERROR`` on the whole file (the ceiling: no parsing at all).

Cases: full parse to LOGS; a 1-hour window out of the 24 hours; error counts
per service (``levels=["ERROR", "CRITICAL"]`` then a groupby).
Targets (issue 3): full >= 150 MB/s with peak RSS <= 1.5x the file; window
>= 500 MB/s with RSS <= 300 MB; error counts >= 500 MB/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

SERVICES = ("gui-gateway", "data-ingestor", "indicator-engine", "signal-generator", "risk-manager", "execution-engine")
DAY = "2024-12-02"
WINDOW = ("2024-12-02T14:00:00Z", "2024-12-02T15:00:00Z")
MESSAGES = (
    "request {n} handled in {ms} ms for account {a}",
    "published {n} ticks for EURUSD,GBPUSD,USDJPY in {ms} ms",
    "computed RSI/MACD for {a} symbols, cache hit ratio 0.{ms}",
    "signal {n} emitted: BUY {a} lots confidence 0.{ms}",
    "exposure check passed for account {a}: {n} units",
    "order {n} routed to broker in {ms} ms",
)
ERRORS = (
    "BrokerTimeout: order {n} not acknowledged by broker after 5000 ms",
    "upstream execution-engine returned 503 for request {n}",
    "database error: could not serialize access for account {a}",
)
TRACEBACK = (
    "Traceback (most recent call last):",
    '  File "/app/broker.py", line 88, in submit',
    "    await self.pool.acquire(timeout=5)",
    "asyncio.exceptions.TimeoutError: pool exhausted",
)


def generate(path: Path, size_mb: int) -> None:
    """Write ~size_mb MB of compose logs spanning 24 hours (deterministic)."""
    rng = random.Random(20241202)
    width = max(len(s) for s in SERVICES) + 4
    prefixes = [f"{s}-1".ljust(width) + "| " for s in SERVICES]
    target = size_mb * 1_000_000
    avg = 175
    lines = target // avg
    step_ns = 86_400_000_000_000 // lines
    base = 1733097600 * 1_000_000_000  # 2024-12-02T00:00:00Z
    tmp = path.with_suffix(".tmp")
    written = 0
    t = base
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        buf: list[str] = []
        while written < target:
            t += rng.randint(1, 2 * step_ns)
            sec, ns = divmod(t, 1_000_000_000)
            hms = time.strftime("%H:%M:%S", time.gmtime(sec))
            frac = f"{ns:09d}".rstrip("0")
            stamp = f"{DAY}T{hms}" + (f".{frac}" if frac else "") + "Z"
            app = f"{DAY} {hms},{ns // 1_000_000:03d}"
            i = rng.randrange(6)
            svc = SERVICES[i]
            r = rng.random()
            n, ms, a = rng.randint(1, 999_999), rng.randint(1, 999), rng.randint(1, 999)
            if r < 0.02:
                msg = ERRORS[rng.randrange(3)].format(n=n, ms=ms, a=a)
                line = f"{prefixes[i]}{stamp} {app} ERROR [{svc}] {msg}\n"
                if r < 0.0005:
                    line += "".join(f"{prefixes[i]}{stamp} {tb}\n" for tb in TRACEBACK)
            else:
                level = "WARNING" if r < 0.05 else ("DEBUG" if r > 0.97 else "INFO")
                msg = MESSAGES[i].format(n=n, ms=ms, a=a)
                line = f"{prefixes[i]}{stamp} {app} {level} [{svc}] {msg}\n"
            buf.append(line)
            written += len(line)
            if len(buf) >= 20000:
                fh.write("".join(buf))
                buf.clear()
        fh.write("".join(buf))
    tmp.rename(path)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, path: Path, naive_mb: int) -> dict[str, float]:
    """Run one case in this process; returns bytes, seconds, rows and the peak RSS."""
    import pandas as pd

    import eafix_forensics as ef

    size = path.stat().st_size
    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    if case == "full":
        rows = len(ef.read_compose_logs(path))
    elif case == "window":
        rows = len(ef.read_compose_logs(path, ef.TimeWindow.parse(*WINDOW)))
    elif case == "errors":
        df = ef.read_compose_logs(path, levels=["ERROR", "CRITICAL"])
        rows = int(df.groupby("service").size().sum())
    elif case == "naive":
        with path.open("rb") as fh:
            data = fh.read(naive_mb * 1_000_000)
        size = data.rfind(b"\n") + 1
        t0 = time.perf_counter()
        s = pd.Series(data[:size].decode("utf-8").splitlines())
        del data
        parts = s.str.extract(
            r"^(?P<service>\S+?)-(?P<replica>\d+)\s+\| (?P<ts>\S+) \S+ \S+ (?P<level>[A-Z]+) (?P<message>.*)$"
        )
        parts["timestamp"] = pd.to_datetime(parts["ts"], utc=True, format="ISO8601")
        rows = len(parts)
    elif case == "grep":
        out = subprocess.run(["grep", "-c", "ERROR", str(path)], capture_output=True, text=True, check=False)
        rows = int(out.stdout.strip() or 0)
    else:
        raise SystemExit(f"unknown case {case}")
    dt = time.perf_counter() - t0
    peak = _peak_rss_mb()
    return {"case": case, "bytes": size, "seconds": dt, "rows": rows, "peak_rss_mb": peak,
            "baseline_rss_mb": rss0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=520)
    ap.add_argument("--dir", default="/tmp/eafix-bench")
    ap.add_argument("--naive-mb", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest is reported")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    path = Path(args.dir) / f"compose_24h_{args.size_mb}mb.log"
    if args.case:
        print(json.dumps(run_case(args.case, path, args.naive_mb)))
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.size_mb)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f}s")
    size_mb = path.stat().st_size / 1e6
    # Warm the page cache so every case reads from memory, as grep does.
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass
    results: dict[str, dict[str, float]] = {}
    # Cases interleave over the rounds so a busy moment on the machine hits them alike.
    for _ in range(args.repeat):
        for case in ("naive", "grep", "full", "window", "errors"):
            out = subprocess.run(
                [sys.executable, __file__, "--case", case, "--size-mb", str(args.size_mb), "--dir", args.dir,
                 "--naive-mb", str(args.naive_mb)],
                capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if case not in results or r["seconds"] < results[case]["seconds"]:
                results[case] = r
    naive = results["naive"]["bytes"] / 1e6 / results["naive"]["seconds"]
    grep = results["grep"]["bytes"] / 1e6 / results["grep"]["seconds"]
    print(f"file: {path} {size_mb:.0f} MB; {os.cpu_count()} cores")
    print(f"{'case':<8} {'MB/s':>8} {'peak RSS MB':>12} {'RSS/file':>9} {'x naive':>8} {'x grep':>7} {'rows':>10}")
    targets = {"full": (150, 1.5 * size_mb / 1.048576), "window": (500, 300), "errors": (500, None)}
    verdicts = []
    missed = []
    for case, r in results.items():
        mbps = r["bytes"] / 1e6 / r["seconds"]
        rss = r["peak_rss_mb"]
        if case == "grep":  # grep runs in a forked child; its RSS is not this process's to report
            print(f"{case:<8} {mbps:8.0f} {'-':>12} {'-':>9} {mbps / naive:8.1f} {mbps / grep:7.2f} {r['rows']:>10}")
            continue
        print(f"{case:<8} {mbps:8.0f} {rss:12.0f} {rss / (size_mb / 1.048576):9.2f} {mbps / naive:8.1f} "
              f"{mbps / grep:7.2f} {r['rows']:>10}")
        if case in targets:
            want, rss_max = targets[case]
            ok = mbps >= want and (rss_max is None or rss <= rss_max)
            limit = f", RSS <= {rss_max:.0f} MB" if rss_max else ""
            verdicts.append(f"{case}: {'meets' if ok else 'MISSES'} >= {want} MB/s{limit}")
            if not ok:
                missed.append(case)
    print(f"(best of {args.repeat} runs each; naive measured on the first {results['naive']['bytes'] / 1e6:.0f} MB, "
          "grep on the whole file; RSS in MiB as the kernel reports it)")
    print("\n".join(verdicts))
    print("all targets met" if not missed else f"TARGET MISSED: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
