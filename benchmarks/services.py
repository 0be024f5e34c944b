"""How exactly the services client keeps its time limits, on loopback servers
(tests/harness/services.py). The tests check these with generous bounds (they run
on loaded machines); the figures themselves are measured and enforced here.

    .venv/bin/python benchmarks/services.py [--repeat 5]

Targets (median of ``--repeat`` runs; exit 1 when one is missed):

- overall deadline 2 s with one service hanging: health returns within +10 %
- overall deadline 1.5 s on a trickling positions endpoint: within +10 %
- 5xx retried with backoff base 0.2 s: first gap in [0.1, 0.2] s, second in
  [0.2, 0.4] s, each plus 50 ms of request time
- Retry-After: 1 honoured: the gap is 1.0-1.1 s
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import eafix_forensics as ef  # noqa: E402
from eafix_forensics.errors import SourceUnavailable  # noqa: E402
from tests.harness.services import ServicesHarness  # noqa: E402

SLACK_S = 0.05  # request time on loopback allowed on top of a backoff


def _gaps(harness: ServicesHarness, service: str) -> list[float]:
    reqs = harness.requests(service, "health")
    return [b.t - a.t for a, b in itertools.pairwise(reqs)]


def deadline_hanging(h: ServicesHarness) -> float:
    h.set_mode("execution-engine", "hanging")
    t0 = time.monotonic()
    ef.health(h.config(timeout_s=30.0), deadline_s=2.0)
    return time.monotonic() - t0


def deadline_trickling(h: ServicesHarness) -> float:
    h.set_mode("gui-gateway", "trickling", endpoint="positions", interval=0.05)
    t0 = time.monotonic()
    try:
        ef.positions(h.config(timeout_s=30.0), deadline_s=1.5)
    except SourceUnavailable:
        pass
    return time.monotonic() - t0


def backoff(h: ServicesHarness) -> tuple[float, float]:
    h.set_mode("execution-engine", "failing", endpoint="health")
    ef.health(h.config(backoff_s=0.2))
    first, second = _gaps(h, "execution-engine")
    return first, second


def retry_after(h: ServicesHarness) -> float:
    h.set_mode("execution-engine", "failing", endpoint="health", status=503, retry_after=1)
    ef.health(h.config(tries=2, backoff_s=0.05))
    (gap,) = _gaps(h, "execution-engine")
    return gap


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    def median(fn: Callable[[ServicesHarness], float], h: ServicesHarness) -> float:
        runs = []
        for _ in range(args.repeat):
            h.reset()
            runs.append(fn(h))
        return statistics.median(runs)

    checks: list[tuple[str, float, float, float]] = []  # name, value, low, high
    with ServicesHarness() as h:
        checks.append(("deadline 2 s, one service hanging (s)", median(deadline_hanging, h), 2.0, 2.2))
        checks.append(("deadline 1.5 s, trickling endpoint (s)", median(deadline_trickling, h), 1.5, 1.65))
        gaps = []
        for _ in range(args.repeat):
            h.reset()
            gaps.append(backoff(h))
        checks.append(("5xx backoff, first gap (s)", statistics.median(g[0] for g in gaps), 0.1, 0.2 + SLACK_S))
        checks.append(("5xx backoff, second gap (s)", statistics.median(g[1] for g in gaps), 0.2, 0.4 + SLACK_S))
        checks.append(("Retry-After: 1, gap (s)", median(retry_after, h), 1.0, 1.1))
    missed = []
    print(f"{'measure (median of ' + str(args.repeat) + ')':<42} {'value':>7}  target")
    for name, value, low, high in checks:
        ok = low <= value <= high
        print(f"{name:<42} {value:7.3f}  [{low:g}, {high:g}] {'ok' if ok else 'MISSED'}")
        if not ok:
            missed.append(name)
    print("all targets met" if not missed else f"TARGET MISSED: {'; '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
