"""``python -m tests.scenarios [--rebuild] [--only NAME ...] [--root DIR] [--strict] [--list]``

Builds the scenarios whose definition changed since their cached bundle (all with
``--rebuild``) on freshly started servers (PostgreSQL, Prometheus, the services), then
prints the scorecard of every cached bundle. ``make scorecard`` runs this;
``make scorecard REBUILD=1`` forces a rebuild. Exit status 0 unless ``--strict`` and
a scenario fails (a scenario flagged ``pending_issue`` is reported, never a failure here).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from .build import build, is_fresh
from .library import all_scenarios
from .scorecard import details, score_dir, table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.scenarios", description=__doc__.splitlines()[0])
    p.add_argument("--root", default="build/scenarios", help="cache of built scenarios (default build/scenarios)")
    p.add_argument("--rebuild", action="store_true", help="rebuild every scenario, even unchanged ones")
    p.add_argument("--only", nargs="*", default=None, help="scenario names (default: all)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a scenario fails")
    p.add_argument("--list", action="store_true", help="list the scenarios and their truth (markdown), build nothing")
    args = p.parse_args(argv)
    root = Path(args.root)
    scenarios = [s for s in all_scenarios() if not args.only or s.name in args.only]
    if args.list:
        print("| scenario | family | culprit | severity | first symptom |")
        print("|---|---|---|---|---|")
        for s in scenarios:
            t = s.truth
            print(f"| {s.name} | {s.family} | {t.culprit or 'none'} | {t.severity} | "
                  f"{t.first_symptom} {t.first_service} ({t.first_kind}) |")
        return 0
    stale = [s for s in scenarios if args.rebuild or not is_fresh(root, s)]
    t0 = time.monotonic()
    if stale:
        from tests.harness.postgres import running_postgres

        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="scenarios-", dir=root) as work, running_postgres(Path(work)) as pg:
            build(stale, root, pg=pg, workdir=Path(work), rebuild=True,
                  log=lambda m: print(m, file=sys.stderr, flush=True))
        print(f"built {len(stale)} scenario(s) in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    t1 = time.monotonic()
    scores = score_dir(root, [s.name for s in scenarios])
    print(table(scores))
    more = details(scores)
    if more:
        print("\nfailures:\n" + more)
    print(f"\nscored {len(scores)} bundle(s) in {time.monotonic() - t1:.1f}s", file=sys.stderr)
    return 1 if args.strict and not all(s.ok or s.pending for s in scores) else 0


if __name__ == "__main__":
    sys.exit(main())
