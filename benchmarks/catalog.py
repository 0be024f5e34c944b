"""Incident library speed, on SQLite and on a private PostgreSQL (tests/harness).

Targets (issue 10): with 10,000 indexed incidents ``similar`` answers in under
200 ms on both backends; indexing 1,000 bundles' summaries takes under 60 s.

    python benchmarks/catalog.py [--incidents 10000] [--indexed 1000] [--queries 30]

For each backend it prints:

- index: 1,000 summaries stored one by one with ``Catalog.put`` (what ``index``
  does per bundle: its own transaction, lock, upsert, children), against the
  baseline of plain INSERTs of the same rows in one transaction, measured in the
  same run;
- similar: median and worst of ``similar`` over queries drawn from the
  catalog's own incidents (the worst case shares the most common signature and
  the busiest services), against the baseline of scoring every incident in
  Python after loading all their signatures and services.

Also prints the time per bundle of a full ``index`` (the analysis of a real
bundle dominates it) for the demo bundles. Summaries are synthetic but shaped
like real ones: 1-8 error signatures out of 3,000 templates with Zipf-like
popularity, 1-3 of the six services, 3 suspects, 2 action items, 6 SLA rows.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eafix_forensics.analysis.trends import IncidentSummary, similarity
from eafix_forensics.catalog import Catalog, similar
from eafix_forensics.config import DEFAULT_SERVICES

SIMILAR_TARGET_MS = 200.0
INDEX_TARGET_S = 60.0
SERVICES = list(DEFAULT_SERVICES)
SLAS = ("acknowledge", "respond", "resolve", "initial_update", "update_cadence", "resolution_notice")


def _templates(n: int, rng: random.Random) -> list[str]:
    words = ["BrokerTimeout", "ConnectionResetError", "DeadlockDetected", "MarketDataStale", "KeyError",
             "TemplateError", "HTTP 503", "ValueError", "OrderRejected", "LockTimeout"]
    return [f"[{rng.choice(SERVICES)}] {rng.choice(words)}: {rng.choice(['order', 'account', 'symbol', 'request'])} "
            f"<num> failed in step {i} after <num> ms" for i in range(n)]


def make_summaries(n: int, seed: int = 7) -> list[IncidentSummary]:
    rng = random.Random(seed)
    templates = _templates(3000, rng)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(templates))]  # a few signatures recur a lot
    start = pd.Timestamp("2022-01-03T00:00Z")
    out = []
    for i in range(n):
        t0 = start + pd.Timedelta(hours=rng.randint(0, 3 * 365 * 24))
        sigs = set(rng.choices(templates, weights=weights, k=rng.randint(1, 8)))
        services = sorted(set(rng.sample(SERVICES, rng.randint(1, 3))))
        severity = rng.choice(["P0", "P1", "P1", "P2", "P2", "P3"])
        out.append(IncidentSummary(
            incident_id=f"INC-B{i:06d}", bundle_path=f"/bundles/INC-B{i:06d}/evidence",
            manifest_sha256=f"{i:064x}", window_start=t0 - pd.Timedelta(hours=1), window_end=t0 + pd.Timedelta(hours=1),
            collected_at=t0 + pd.Timedelta(hours=2), title=f"synthetic incident {i}", severity=severity,
            suggested_severity=severity, severity_reasons=[f"{severity}: synthetic"], status="resolved",
            services=services, triggered_at=t0, acknowledged_at=t0 + pd.Timedelta(minutes=rng.randint(1, 60)),
            responded_at=t0 + pd.Timedelta(minutes=rng.randint(5, 90)),
            resolved_at=t0 + pd.Timedelta(minutes=rng.randint(30, 600)),
            first_symptom_at=t0 - pd.Timedelta(minutes=5), mitigated_at=t0 + pd.Timedelta(minutes=20),
            key_times={"first_symptom": (t0 - pd.Timedelta(minutes=5)).isoformat()},
            signatures=[{"signature": s, "count": rng.randint(1, 2000), "first_seen": t0, "last_seen": t0,
                         "services": s[1:s.index("]")]} for s in sorted(sigs)],
            suspects=[{"rank": r, "ref": f"{rng.getrandbits(160):040x}", "service": rng.choice(services),
                       "reason": f"deploy of {rng.choice(services)} {r * 7} min before the first error"}
                      for r in (1, 2, 3)],
            action_items=[{"position": p, "text": f"follow-up {p} of incident {i}", "owner": "platform",
                           "status": rng.choice(["open", "done"])} for p in (0, 1)],
            sla=[{"sla": s, "target_s": 900.0, "actual_s": float(rng.randint(60, 2000)),
                  "met": rng.random() < 0.8, "clock": "wall clock", "detail": "synthetic"} for s in SLAS],
        ))
    return out


def _plain_inserts(cat: Catalog, summaries: list[IncidentSummary]) -> float:
    """Baseline: the same rows as plain INSERTs in one transaction (no lock, upsert or lookup)."""
    md = sa.MetaData()
    with cat.engine.begin() as conn:
        md.reflect(conn)
        scratch = {name: sa.Table(f"scratch_{name}", sa.MetaData(), *[
            sa.Column(c.name, c.type) for c in md.tables[name].columns]) for name in (
            "incidents", "incident_signatures", "incident_services", "incident_suspects", "action_items",
            "incident_sla")}
        for table in scratch.values():
            table.create(conn)
    t0 = time.perf_counter()
    with cat.engine.begin() as conn:
        for pk, s in enumerate(summaries, start=1):
            conn.execute(sa.insert(scratch["incidents"]), [{"id": pk, **cat._incident_values(s)}])
            for name, rows in cat._child_rows(s, pk).items():
                if rows:
                    conn.execute(sa.insert(scratch[name]), rows)
    elapsed = time.perf_counter() - t0
    with cat.engine.begin() as conn:
        for table in scratch.values():
            table.drop(conn)
    return elapsed


def _naive_similar(cat: Catalog, query: IncidentSummary) -> float:
    """Baseline: load every incident's signatures and services, score each in Python."""
    t0 = time.perf_counter()
    with cat.engine.connect() as conn:
        sigs: dict[int, dict[str, float]] = {}
        for pk, key, w in conn.execute(sa.text("SELECT incident_pk, signature_key, weight FROM incident_signatures")):
            sigs.setdefault(pk, {})[key] = w
        svcs: dict[int, list[str]] = {}
        for pk, svc in conn.execute(sa.text("SELECT incident_pk, service FROM incident_services")):
            svcs.setdefault(pk, []).append(svc)
    q = query.signature_weights
    scores = sorted(((similarity(q, query.services, sigs.get(pk, {}), svcs.get(pk, []))[0], pk)
                     for pk in set(sigs) | set(svcs)), reverse=True)[:10]
    assert scores
    return time.perf_counter() - t0


def run(url: str, label: str, summaries: list[IncidentSummary], indexed: int, queries: int) -> dict[str, float]:
    with Catalog.open(url) as cat:
        timed, rest = summaries[:indexed], summaries[indexed:]
        t0 = time.perf_counter()
        for s in timed:
            cat.put(s)
        index_s = time.perf_counter() - t0
        baseline_s = _plain_inserts(cat, timed)
        t0 = time.perf_counter()
        cat.put_many(rest)
        bulk_s = time.perf_counter() - t0
        with cat.engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one()
        assert n == len(summaries), n
        if cat.backend == "postgresql":
            with cat.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        else:
            with cat.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))

        rng = random.Random(11)
        # The worst case first: the incident holding the most common signatures on the busiest services.
        common = max(summaries, key=lambda s: (len(s.services), sum(int(x["signature"].split("step ")[1].split()[0]) < 5
                                                                     for x in s.signatures)))
        picks = [common, *rng.sample(summaries, queries - 1)]
        similar(picks[0], cat)  # warm the connection pool and the page cache
        times, found = [], 0
        for q in picks:
            t0 = time.perf_counter()
            result = similar(q, cat)
            times.append(time.perf_counter() - t0)
            found += len(result)
        naive = statistics.median(_naive_similar(cat, q) for q in picks[:5])

    median_ms, worst_ms = statistics.median(times) * 1000, max(times) * 1000
    print(f"[{label}] {n:,} incidents in the catalog (bulk-loaded {len(rest):,} in {bulk_s:.1f} s)")
    print(f"[{label}] index {indexed:,} summaries one by one: {index_s:.1f} s = {indexed / index_s:,.0f}/s "
          f"(target < {INDEX_TARGET_S:.0f} s: {'OK' if index_s < INDEX_TARGET_S else 'MISSED'}); "
          f"baseline plain INSERTs {baseline_s:.1f} s, ratio {index_s / baseline_s:.2f}x")
    print(f"[{label}] similar over {len(picks)} queries: median {median_ms:.1f} ms, worst {worst_ms:.1f} ms "
          f"(target < {SIMILAR_TARGET_MS:.0f} ms: {'OK' if worst_ms < SIMILAR_TARGET_MS else 'MISSED'}); "
          f"{found / len(picks):.1f} results each; baseline full scan in Python {naive * 1000:.0f} ms, "
          f"{naive * 1000 / median_ms:.0f}x slower")
    return {"index_s": index_s, "similar_worst_ms": worst_ms}


def full_index(label: str, url: str) -> None:
    from eafix_forensics.demo import build_demo, build_demo_history

    with tempfile.TemporaryDirectory() as tmp:
        build_demo(tmp)
        build_demo_history(tmp)
        with Catalog.open(url) as cat:
            t0 = time.perf_counter()
            result = cat.index(tmp)
            elapsed = time.perf_counter() - t0
        n = len(result.added)
        print(f"[{label}] full index of {n} real bundles (verify + analysis + write): {elapsed:.2f} s, "
              f"{elapsed / n * 1000:.0f} ms per bundle")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--incidents", type=int, default=10_000)
    ap.add_argument("--indexed", type=int, default=1_000)
    ap.add_argument("--queries", type=int, default=30)
    args = ap.parse_args()
    t0 = time.perf_counter()
    summaries = make_summaries(args.incidents)
    print(f"generated {len(summaries):,} synthetic summaries in {time.perf_counter() - t0:.1f} s")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/catalog.db"
        r = run(url, "sqlite", summaries, args.indexed, args.queries)
        ok &= r["index_s"] < INDEX_TARGET_S and r["similar_worst_ms"] < SIMILAR_TARGET_MS
        full_index("sqlite", f"sqlite:///{tmp}/real.db")
    from tests.harness.postgres import running_postgres

    with running_postgres() as pg:
        r = run(pg.create_database("catalog_bench", extension=False), "postgresql", summaries, args.indexed,
                args.queries)
        ok &= r["index_s"] < INDEX_TARGET_S and r["similar_worst_ms"] < SIMILAR_TARGET_MS
        full_index("postgresql", pg.create_database("catalog_real", extension=False))
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
