"""Build scenarios on the real servers and collect their evidence bundles.

For each scenario: git repositories, a compose logs file, the incident record and an
``eafix.toml`` under ``<root>/<name>/src``; its own database on the PostgreSQL
cluster with a workload (and a live lock chain held while collect runs); its series
backfilled into one Prometheus shared by every scenario of the run; its HTTP answers
served by the services harness. Then the real ``eafix_forensics.collect`` writes the
bundle to ``<root>/<name>/output/SCN-<name>/evidence`` and ``truth.json`` records the
ground truth with the culprit resolved to a sha.

A scenario is rebuilt only when its definition (or this code) changed: ``digest``
holds the hash it was built from.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from tests.harness.prometheus import openmetrics_text, running_prometheus
from tests.harness.services import ServicesHarness

from .kit import (
    Scenario,
    build_git,
    market_open,
    metric_ranges,
    render_incident,
    render_logs,
    render_series,
    render_trading,
    ts,
)

HEALTH_PATHS = {"gui-gateway": "/health"}
# Series whose value is seconds since the data last arrived (the catalogue's price age).
AGE_SERIES = frozenset({"market_data_age"})


# ------------------------------------------------------------------ cache
def scenario_dir(root: Path, scn: Scenario) -> Path:
    return root / scn.name


def bundle_path(root: Path, scn: Scenario) -> Path:
    return scenario_dir(root, scn) / "output" / scn.incident_id / "evidence"


def is_fresh(root: Path, scn: Scenario) -> bool:
    d = scenario_dir(root, scn)
    try:
        return (d / "digest").read_text().strip() == scn.digest() and (bundle_path(root, scn) / "manifest.json").is_file()
    except OSError:
        return False


def check_disjoint(scenarios: Sequence[Scenario]) -> None:
    """Scenarios share one Prometheus: their sample ranges must not overlap."""
    spans = sorted((lo, hi, s.name) for s in scenarios for lo, hi in metric_ranges(s))
    for (lo1, hi1, n1), (lo2, hi2, n2) in itertools.pairwise(spans):
        if lo2 < hi1:
            raise ValueError(f"scenarios {n1} and {n2} have overlapping metric ranges ({lo2} < {hi1}): move a date")


# ------------------------------------------------------------------ Prometheus
def _write_scenario_openmetrics(scn: Scenario, workdir: Path) -> list[Path]:
    files = []
    for i, (lo, hi) in enumerate(metric_ranges(scn)):
        path = workdir / f"{scn.name}-{i}.om"
        path.write_text(openmetrics_text(render_series(scn, lo, hi)), encoding="utf-8")
        files.append(path)
    return files


def write_openmetrics(scenarios: Sequence[Scenario], workdir: Path) -> list[Path]:
    """One OpenMetrics file per scenario and time range, rendered in worker processes."""
    workdir.mkdir(parents=True, exist_ok=True)
    workers = min(len(scenarios), os.cpu_count() or 1)
    if workers <= 1:
        return [f for scn in scenarios for f in _write_scenario_openmetrics(scn, workdir)]
    ctx = multiprocessing.get_context("spawn")  # no forked copies of the caller's servers and threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        done = pool.map(_write_scenario_openmetrics, scenarios, [workdir] * len(scenarios))
        return [f for files in done for f in files]


@contextmanager
def scenario_prometheus(scenarios: Sequence[Scenario], workdir: Path) -> Iterator[str]:
    """One real Prometheus holding every scenario's series; yields its URL."""
    check_disjoint(scenarios)
    files = write_openmetrics(scenarios, workdir / "openmetrics")
    with running_prometheus(files, workdir / "prometheus") as prom:
        yield prom.url


# ------------------------------------------------------------------ PostgreSQL
_SCHEMA = """
CREATE TABLE positions (id serial PRIMARY KEY, account_id int NOT NULL, symbol text NOT NULL,
                        qty numeric NOT NULL, updated_at timestamptz DEFAULT now());
CREATE TABLE executions (id bigserial PRIMARY KEY, order_id text NOT NULL, symbol text NOT NULL,
                         status text NOT NULL, qty numeric NOT NULL, created_at timestamptz DEFAULT now());
INSERT INTO positions (account_id, symbol, qty)
  SELECT 17 + (g % 5), (ARRAY['EURUSD','GBPUSD','USDJPY'])[1 + g % 3], 10000 * (1 + g % 7)
  FROM generate_series(1, 60) g;
INSERT INTO executions (order_id, symbol, status, qty)
  SELECT 'O-' || g, (ARRAY['EURUSD','GBPUSD','USDJPY'])[1 + g % 3],
         CASE WHEN g % 50 = 0 THEN 'rejected' ELSE 'filled' END, 10000
  FROM generate_series(1, {rows}) g;
CREATE INDEX idx_executions_order_id ON executions (order_id);
ANALYZE positions; ANALYZE executions;
"""


def _connect(pg: Any, db: str, app: str) -> Any:
    import psycopg

    return psycopg.connect(pg.conninfo(db) + f" application_name={app}", autocommit=True)


def prepare_database(pg: Any, scn: Scenario) -> str:
    """The scenario's database with the application's usual statements in
    pg_stat_statements; for ``index_drop`` the lookup runs before and after the
    index is dropped (the migration)."""
    db = "scn_" + scn.name.replace("-", "_")
    pg.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    pg.create_database(db)
    rows = 300_000 if scn.workload.index_drop else 4_000
    with _connect(pg, db, "migrations") as conn:
        conn.execute(_SCHEMA.format(rows=rows))
    lookup = "SELECT id, status, qty FROM executions WHERE order_id = %s"
    with _connect(pg, db, "risk-manager") as rm, _connect(pg, db, "execution-engine") as ee:
        for i in range(25):
            rm.execute("SELECT id, symbol, qty FROM positions WHERE account_id = %s", (17 + i % 5,))
            ee.execute("UPDATE positions SET qty = qty + 0, updated_at = now() WHERE id = %s", (1 + i % 60,))
            ee.execute("INSERT INTO executions (order_id, symbol, status, qty) VALUES (%s, 'EURUSD', 'filled', 10000)",
                       (f"N-{i}",))
        for i in range(15):
            ee.execute(lookup, (f"O-{1 + i * 37}",))
        if scn.workload.index_drop:
            with _connect(pg, db, "execution-engine-migrate") as mig:
                mig.execute("DROP INDEX idx_executions_order_id")
            for i in range(40):
                ee.execute(lookup, (f"O-{7 + i * 4111}",))
    return db


@contextmanager
def lock_chain(pg: Any, db: str, kind: str = "alter") -> Iterator[None]:
    """A risk-manager session holds locks on positions in an open transaction — its migration's
    ACCESS EXCLUSIVE (``alter``) or a bulk backfill's row locks (``update``) — and two
    execution-engine sessions wait behind it. Released (rolled back) on exit."""
    holder = _connect(pg, db, "risk-manager")
    holder.autocommit = False
    if kind == "alter":
        holder.execute("ALTER TABLE positions ADD COLUMN margin_tier smallint")  # migration 0042, not committed
    else:
        holder.execute("UPDATE positions SET updated_at = now()")  # backfill job 0043, not committed
    waiters = []

    def wait(sql: str) -> None:
        with _connect(pg, db, "execution-engine") as conn:
            waiters.append(conn)
            try:
                conn.execute(sql)
            except Exception:  # noqa: BLE001, S110 - the holder rolled back or the session was cancelled
                pass

    threads = [threading.Thread(target=wait, args=(q,), daemon=True) for q in (
        "UPDATE positions SET qty = qty - 10000, updated_at = now() WHERE id = 7",
        "SELECT id, qty FROM positions WHERE account_id = 17 FOR UPDATE",
    )]
    for t in threads:
        t.start()
        time.sleep(0.05)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        n = pg.execute(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND wait_event_type = 'Lock'")
        if n and n[0][0] >= 2:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("lock chain did not form")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()
        for t in threads:
            t.join(timeout=10)


# ------------------------------------------------------------------ one scenario
def write_sources(scn: Scenario, src: Path) -> dict[str, str]:
    """git repositories, compose logs and the incident record; returns {subject or tag: sha}."""
    if src.exists():
        shutil.rmtree(src)
    (src / "logs").mkdir(parents=True)
    (src / "incidents").mkdir()
    repos, shas = build_git(scn, src / "repos")
    end = scn.window[1]
    (src / "logs" / f"incident_logs_{end:%Y%m%d_%H%M%S}.txt").write_text(render_logs(scn), encoding="utf-8")
    (src / "incidents" / f"{scn.incident_id}.toml").write_text(render_incident(scn), encoding="utf-8")
    (src / "repos.json").write_text(json.dumps([str(r.relative_to(src)) for r in repos]))
    return shas


def write_config(src: Path, *, prometheus: str, postgres: str, services: dict[str, str],
                 libraries: dict[str, list[str]] | None = None) -> Path:
    repos = json.loads((src / "repos.json").read_text())
    lines = [
        "[prometheus]", f'url = "{prometheus}"', "",
        "[postgres]", f'url = "{postgres}"', "",
        "[logs]", 'files = ["logs/incident_logs_*.txt"]', "",
        "[git]", "repos = [" + ", ".join(f'"{r}"' for r in repos) + "]", "",
        "[incidents]", 'dir = "incidents"', "",
    ]
    for name, url in services.items():
        lines += [f"[services.{name}]", f'url = "{url}"', f'health = "{HEALTH_PATHS.get(name, "/healthz")}"', ""]
    if libraries:
        lines += ["[topology.libraries]", *(f"{lib} = {json.dumps(users)}" for lib, users in libraries.items()), ""]
    path = src / "eafix.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def serve_trading(harness: ServicesHarness, scn: Scenario) -> None:
    harness.reset()
    data = render_trading(scn)
    harness.set_mode("signal-generator", "healthy", endpoint="signals", payload=data["signals"])
    harness.set_mode("execution-engine", "healthy", endpoint="executions", payload=data["executions"])
    harness.set_mode("gui-gateway", "healthy", endpoint="positions", payload=data["positions"])
    harness.set_mode("gui-gateway", "healthy", endpoint="reconcile", payload=data["reconcile"])
    for svc, mode in scn.trading.health_now.items():
        opts = {"status": 503, "error": "service unavailable"} if mode == "failing" else {}
        harness.set_mode(svc, mode, endpoint="health", **opts)


def tolerance_s(scn: Scenario) -> float:
    """One sample: 1 s for a log symptom; for a metric the scrape interval (or the
    collector's query step when coarser)."""
    if scn.truth.first_kind == "log":
        return 1.0
    from eafix_forensics import TimeWindow

    start, end = scn.window
    return float(max(scn.metrics.step_s, TimeWindow(start, end).step(1000).total_seconds()))


def truth_record(scn: Scenario, shas: dict[str, str]) -> dict[str, Any]:
    t = scn.truth
    sha = ""
    if t.culprit is not None:
        if t.culprit not in shas:
            raise ValueError(f"{scn.name}: culprit {t.culprit!r} is neither a tag nor a commit subject")
        sha = shas[t.culprit]
    names = {tag for c in scn.commits for tag in (c.tag, *c.extra_tags) if tag}
    tags = sorted(k for k, v in shas.items() if v == sha and k in names) if sha else []
    return {
        "name": scn.name, "family": scn.family, "summary": scn.summary, "incident_id": scn.incident_id,
        "culprit": t.culprit, "culprit_sha": sha, "culprit_tags": tags,
        "severity": t.severity, "first_symptom": ts(t.first_symptom).isoformat(),
        "first_service": t.first_service, "first_kind": t.first_kind, "tolerance_s": tolerance_s(scn),
        "why": t.why, "layout": scn.layout, "window": [scn.start, scn.end], "pending_issue": scn.pending_issue,
    }


def build_one(scn: Scenario, root: Path, *, pg: Any, prometheus: str, harness: ServicesHarness) -> Path:
    """Render, serve and collect one scenario; returns its bundle path."""
    import eafix_forensics as ef

    d = scenario_dir(root, scn)
    d.mkdir(parents=True, exist_ok=True)
    (d / "digest").unlink(missing_ok=True)
    shas = write_sources(scn, d / "src")
    db = prepare_database(pg, scn)
    cfg_path = write_config(d / "src", prometheus=prometheus, postgres=pg.url(db),
                            services={n: harness.url(n) for n in harness.ports}, libraries=scn.libraries)
    serve_trading(harness, scn)
    start, end = scn.window
    try:
        config = ef.Config.load(cfg_path)
    except ef.ConfigError as exc:
        if not scn.pending_issue:
            raise
        # The configuration it needs is what its pending issue adds: scored as a failure, reported, not gated.
        record = {**truth_record(scn, shas), "build_error": f"{type(exc).__name__}: {exc}"}
        (d / "truth.json").write_text(json.dumps(record, indent=2))
        harness.reset()
        return d / "output" / scn.incident_id / "evidence"
    out = d / "output"
    with lock_chain(pg, db, scn.workload.lock_kind) if scn.workload.lock_chain else _nothing():
        bundle = ef.collect(scn.incident_id, ef.TimeWindow(start, end), config, output_dir=out, force=True,
                            progress=False)
    harness.reset()
    validate_truth(scn, bundle)
    (d / "truth.json").write_text(json.dumps(truth_record(scn, shas), indent=2))
    (d / "definition.json").write_text(json.dumps(asdict(scn), indent=2, default=str))
    (d / "digest").write_text(scn.digest())
    return Path(bundle.path)


def _outside(values: pd.Series, hi: float, lo: float) -> pd.Series:
    """Values above 1.5x ``hi``, or below ``lo``/1.5 by at least half the normal range
    (``up`` 1 -> 0; not a sawtooth touching 0)."""
    above = (values > 1.5 * hi) if hi > 0 else pd.Series(False, index=values.index)
    below = ((values < lo / 1.5) & (lo - values >= 0.5 * max(hi - lo, lo))) if lo > 0 else False
    return above | below


def _first_deviation(bundle: Any, until: pd.Timestamp) -> tuple[pd.Timestamp, str] | None:
    """The earliest sample before ``until`` where a series leaves 1.5x the range it had in
    the baseline (the rule-independent yardstick of the truth checks). Price age while the
    FX market is closed is left out: no prices arrive then by design, which is no symptom."""
    metrics, base = bundle.table("metrics"), bundle.table("metrics_baseline")
    age = metrics["name"].isin(AGE_SERIES)
    closed = ~metrics.loc[age, "timestamp"].map(market_open).astype(bool)
    metrics = metrics.drop(index=closed[closed].index)
    found: tuple[pd.Timestamp, str] | None = None
    for (name, series), grp in metrics[metrics["timestamp"] < until].groupby(["name", "series"]):
        b = base[(base["name"] == name) & (base["series"] == series)]["value"].dropna()
        grp = grp.dropna(subset=["value"])
        if not len(b) or not len(grp):
            continue
        out = grp[_outside(grp["value"], b.max(), b.min())]
        if len(out) and (found is None or out["timestamp"].iloc[0] < found[0]):
            found = (out["timestamp"].iloc[0], f"{name} {series}")
    return found


def validate_truth(scn: Scenario, bundle: Any) -> None:
    """The ground truth must be visible in the collected evidence, else the build fails:
    no ERROR+ line and no metric deviation (beyond 1.5x the baseline's range) comes more
    than one tolerance before it; a log symptom is a WARNING-or-worse line at that exact time; a metric
    symptom is the first sample (within one tolerance) where some series rises above 1.5x
    the most it reached in the baselines and earlier in the window (or falls below 2/3 of
    the least, e.g. ``up`` going to 0); with ``onset="gradual"``, the first sample where a series
    leaves its band for good (it reaches 1.5x only later). ERROR lines the scenario declares
    chronic (``chronic_logs``) may come before, provided they are there from the window's start."""
    t = scn.truth
    at = ts(t.first_symptom)
    tol = pd.Timedelta(seconds=tolerance_s(scn))
    # Nothing an SRE would call a symptom comes before the truth's first symptom.
    logs = bundle.table("logs")
    early = logs[(logs["timestamp"] < at - tol) & logs["level"].isin(["ERROR", "CRITICAL"])]
    for noise in scn.chronic_logs:
        # Declared chronic: it must really be there from the start (first quarter hour of the window).
        same = logs["message"].str.contains(noise, regex=False, na=False)
        if not (same & (logs["timestamp"] < scn.window[0] + pd.Timedelta(minutes=15))).any():
            raise ValueError(f"{scn.name}: chronic log {noise!r} does not appear in the window's first 15 min")
        early = early[~early["message"].str.contains(noise, regex=False, na=False)]
    if len(early):
        raise ValueError(f"{scn.name}: an {early['level'].iloc[0]} line at {early['timestamp'].iloc[0]} comes before "
                         f"the truth's first symptom {at}: {early['message'].iloc[0][:80]}")
    dev = _first_deviation(bundle, at - tol)
    if dev is not None:
        raise ValueError(f"{scn.name}: {dev[1]} deviates from its baseline at {dev[0]}, before the truth's first "
                         f"symptom {at}")
    if t.first_kind == "log":
        logs = bundle.table("logs")
        hit = logs[((logs["timestamp"] - at).abs() < pd.Timedelta(milliseconds=2))
                   & logs["level"].isin(["WARNING", "ERROR", "CRITICAL"])]
        if not len(hit):
            raise ValueError(f"{scn.name}: no WARNING+ log line at the truth's first symptom {at}")
        return
    metrics, base = bundle.table("metrics"), bundle.table("metrics_baseline")
    for (name, series), grp in metrics.groupby(["name", "series"]):
        grp = grp.dropna(subset=["value"])
        b = base[(base["name"] == name) & (base["series"] == series)]["value"].dropna()
        before = grp[grp["timestamp"] < at - tol]["value"]
        ref = pd.concat([b, before])
        if name in AGE_SERIES:
            # An age dates itself: its first deviating sample, minus its value, is when the data stopped.
            out = grp[(grp["timestamp"] >= at - tol)]
            out = out[_outside(out["value"], ref.max(), ref.min())] if len(ref) else out.iloc[0:0]
            if len(out) and abs(out["timestamp"].iloc[0] - pd.Timedelta(seconds=out["value"].iloc[0]) - at) <= tol:
                return
            continue
        near = grp[(grp["timestamp"] >= at - tol) & (grp["timestamp"] <= at + tol)]["value"]
        if not len(ref) or not len(near):
            continue
        if t.onset == "gradual" and _leaves_band(grp, ref, at, tol):
            return
        if _outside(near, ref.max(), ref.min()).any():
            return
    raise ValueError(f"{scn.name}: no series deviates (beyond 1.5x its baseline and earlier range) within "
                     f"{tol} of the truth's first symptom {at}")


def _leaves_band(grp: pd.DataFrame, ref: pd.Series, at: pd.Timestamp, tol: pd.Timedelta) -> bool:
    """A gradual onset: the series' first sample above the most it reached before (baselines
    and the window up to the truth) is within ``tol`` of ``at``, it stays above for the next
    ten samples, and it later rises beyond 1.5x that range (a creep, not jitter)."""
    after = grp[grp["timestamp"] >= at - tol]
    above = after["value"] > ref.max()
    if not above.any():
        return False
    first = int(above.to_numpy().argmax())
    return (abs(after["timestamp"].iloc[first] - at) <= tol and bool(above.iloc[first:first + 10].all())
            and bool(_outside(after["value"], ref.max(), ref.min()).any()))


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def build(scenarios: Sequence[Scenario], root: Path, *, pg: Any, workdir: Path, rebuild: bool = False,
          log: Any = print) -> dict[str, float]:
    """Build every stale scenario (all with ``rebuild``); returns seconds per rebuilt scenario."""
    todo = [s for s in scenarios if rebuild or not is_fresh(root, s)]
    times: dict[str, float] = {}
    if not todo:
        return times
    t0 = time.monotonic()
    with scenario_prometheus(todo, workdir) as prom_url, ServicesHarness() as harness:
        log(f"prometheus backfilled with {len(todo)} scenario(s) in {time.monotonic() - t0:.1f}s")
        for scn in todo:
            t1 = time.monotonic()
            build_one(scn, root, pg=pg, prometheus=prom_url, harness=harness)
            times[scn.name] = time.monotonic() - t1
            log(f"built {scn.name} in {times[scn.name]:.1f}s")
    return times


def window_of(truth: dict[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp]:
    return ts(truth["window"][0]), ts(truth["window"][1])
