"""One incident through every real source at once, as an on-call engineer runs it:
`eafix-forensics collect` (a real process) against PostgreSQL holding a live lock, the
harness Prometheus, a git repository, the six service APIs, a PagerDuty stand-in and
`docker compose logs` through a stand-in `docker` (no Docker engine runs here), then
`report --kind all`, and the findings read from both HTML reports.

The story planted here (2024-12-02, UTC; window 13:00-15:00):

- 13:10 signal-generator commit "feature pipeline: batch indicator reads", deployed as tag
  deploy-signal-generator-2024.12.02 at 13:18 (the only change: the culprit)
- from 13:30 signal latency degraded (> 1 s), 14:00-14:30 above 5 s (the harness
  Prometheus dataset): P1 by the runbook; execution latency slow 13:55-14:50
- logs: signal-generator latency WARNINGs from 13:31, execution-engine BrokerTimeout
  ERRORs from 13:56
- PagerDuty Q2P1DEMO: P1 "Signal latency above 5 s", triggered 14:05, acknowledged
  14:09, resolved 15:20
- PostgreSQL: risk-manager holds positions rows FOR UPDATE in an open transaction, an
  execution-engine UPDATE waits on it while collect --watch samples
- services: execution-engine's health check answers 503, the others are fine
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from eafix_forensics import EvidenceBundle
from eafix_forensics.config import DEFAULT_SERVICES
from tests.harness.pagerduty import TOKEN, running_pagerduty
from tests.story import html_text

EXE = [sys.executable, "-m", "eafix_forensics.cli"]
DAY = "2024-12-02"
DEPLOY_TAG = "deploy-signal-generator-2024.12.02"
SERVICES = tuple(DEFAULT_SERVICES)


def _git(repo: Path, *args: str, at: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": at, "GIT_COMMITTER_DATE": at, "GIT_AUTHOR_NAME": "Chen Wei",
           "GIT_AUTHOR_EMAIL": "chen@eafix.example", "GIT_COMMITTER_NAME": "Chen Wei",
           "GIT_COMMITTER_EMAIL": "chen@eafix.example"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def make_repo(root: Path) -> Path:
    repo = root / "signal-generator"
    (repo / "signal_generator").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "signal_generator" / "pipeline.py").write_text("BATCH = 1\n")
    _git(repo, "add", "-A", at=f"{DAY}T08:00:00Z")
    _git(repo, "commit", "-q", "-m", "signal-generator: initial pipeline", at=f"{DAY}T08:00:00Z")
    (repo / "signal_generator" / "pipeline.py").write_text("BATCH = 64\nREADS = 'batched'\n")
    _git(repo, "commit", "-q", "-am", "feature pipeline: batch indicator reads", at=f"{DAY}T13:10:00Z")
    _git(repo, "tag", "-a", DEPLOY_TAG, "-m", "signal-generator 3.1.0", at=f"{DAY}T13:18:00Z")
    return repo


def compose_log_text() -> str:
    """What `docker compose logs --timestamps --no-color` prints for the window."""
    lines = []

    def line(hhmmss: str, svc: str, level: str, msg: str) -> None:
        stamp = f"{DAY}T{hhmmss}.000000000Z"
        lines.append((stamp, f"{svc}-1".ljust(20) + f"| {stamp} {DAY} {hhmmss},000 {level} [{svc}] {msg}"))

    for minute in range(0, 120, 2):
        hh, mm = 13 + minute // 60, minute % 60
        for svc in SERVICES:
            line(f"{hh:02d}:{mm:02d}:05", svc, "INFO", f"{svc} heartbeat ok")
    line("13:18:30", "signal-generator", "INFO", "Starting signal-generator version 3.1.0")
    for minute in range(31, 90, 3):
        line(f"{13 + minute // 60:02d}:{minute % 60:02d}:10", "signal-generator", "WARNING",
             "signal latency 5.4s above threshold 5.0s")
    order = 70001
    for minute in range(56, 110, 2):
        line(f"{13 + minute // 60:02d}:{minute % 60:02d}:20", "execution-engine", "ERROR",
             f"BrokerTimeout: order {order} not acknowledged by broker after 5000 ms")
        order += 3
    return "".join(text + "\n" for _, text in sorted(lines))


STAND_IN_DOCKER = """\
import os, sys
args = sys.argv[1:]
with open(os.environ["E2E_DOCKER_ARGS"], "a") as fh:
    fh.write(" ".join(args) + "\\n")
if args[:1] != ["compose"] or "logs" not in args:
    sys.stderr.write("stand-in docker: unexpected arguments %r\\n" % (args,))
    sys.exit(2)
sys.stdout.write(open(os.environ["E2E_COMPOSE_LOGS"]).read())
"""


def write_config(src: Path, *, prometheus: str, postgres: str, services: dict[str, str], pagerduty: str,
                 project: Path, repo: Path) -> Path:
    lines = [
        "[prometheus]", f'url = "{prometheus}"', "",
        "[postgres]", f'url = "{postgres}"', "watch_interval_s = 0.5", "lock_wait_threshold_s = 0.5", "",
        "[logs]", "files = []", f'compose_project = "{project}"', "",
        "[git]", f'repos = ["{repo}"]', "",
        "[incidents]", f'pagerduty_url = "{pagerduty}"', 'pagerduty_token_env = "EAFIX_E2E_PD_TOKEN"', "",
    ]
    for name, url in services.items():
        lines += [f"[services.{name}]", f'url = "{url}"', f'health = "{DEFAULT_SERVICES[name][1]}"', ""]
    path = src / "eafix.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def live_lock(pg, db: str):
    """risk-manager holds positions rows in an open transaction; execution-engine's UPDATE
    waits on it. Returns (holder, waiter thread, waiter pid)."""
    holder = psycopg.connect(pg.conninfo(db) + " application_name=risk-manager")
    holder.execute("SELECT * FROM positions WHERE account_id = 17 FOR UPDATE")
    waiter = psycopg.connect(pg.conninfo(db) + " application_name=execution-engine", autocommit=True)
    pid = waiter.info.backend_pid

    def wait() -> None:
        try:
            waiter.execute("UPDATE positions SET qty = qty + 1 WHERE account_id = 17")
        except psycopg.Error:
            pass

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not pg.execute(f"SELECT 1 FROM pg_stat_activity WHERE pid = {pid} AND wait_event_type = 'Lock'"):
        assert time.monotonic() < deadline, "the UPDATE never started waiting"
        time.sleep(0.05)
    return holder, waiter, t, pid


@pytest.fixture(scope="module")
def collected(pg_server, prometheus, services_harness, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    url = pg_server.create_database("e2e_prod")
    db = url.rsplit("/", 1)[1]
    pg_server.execute("CREATE TABLE positions (id serial PRIMARY KEY, account_id int, symbol text, qty int)",
                      dbname=db)
    pg_server.execute("INSERT INTO positions (account_id, symbol, qty) VALUES (17, 'EURUSD', 120000), "
                      "(21, 'USDJPY', 80000)", dbname=db)
    repo = make_repo(root / "repos")
    project = root / "eafix"
    project.mkdir()
    bin_dir = root / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\n" + textwrap.dedent(STAND_IN_DOCKER))
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    (root / "compose.log").write_text(compose_log_text())
    services_harness.reset()
    services_harness.set_mode("execution-engine", "failing", endpoint="health", status=503,
                              error="broker connection pool exhausted")
    out = root / "output"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "EAFIX_E2E_PD_TOKEN": TOKEN,
           "E2E_DOCKER_ARGS": str(root / "docker-args"), "E2E_COMPOSE_LOGS": str(root / "compose.log")}
    env.pop("EAFIX_CONFIG", None)
    env.pop("EAFIX_OUTPUT_DIR", None)
    with running_pagerduty() as pagerduty:
        cfg = write_config(root, prometheus=prometheus.url, postgres=url,
                           services={n: services_harness.url(n) for n in SERVICES},
                           pagerduty=f"http://127.0.0.1:{pagerduty.server_port}", project=project, repo=repo)
        holder, waiter, t, pid = live_lock(pg_server, db)
        try:
            collect = subprocess.run(
                [*EXE, "collect", "Q2P1DEMO", "--start", f"{DAY}T13:00Z", "--end", f"{DAY}T15:00Z",
                 "--config", str(cfg), "--output-dir", str(out), "--watch", "3s", "--quiet"],
                capture_output=True, text=True, env=env, timeout=600)
        finally:
            holder.rollback()
            holder.close()
            t.join(10)
            waiter.close()
            services_harness.reset()
    report = subprocess.run(
        [*EXE, "report", "Q2P1DEMO", "--kind", "all", "--config", str(cfg), "--output-dir", str(out)],
        capture_output=True, text=True, env=env, timeout=900)
    return {"out": out, "collect": collect, "report": report, "pid": pid, "root": root, "repo": repo}


def test_collect_gets_every_source(collected):
    p = collected["collect"]
    assert p.returncode == 0, p.stderr[-3000:]
    bundle = EvidenceBundle.open(collected["out"] / "Q2P1DEMO" / "evidence")
    assert p.stdout.splitlines()[0] == f"{bundle.path}: {len(bundle.tables)} tables"  # nothing unavailable
    assert p.stdout.splitlines()[1] == f"manifest sha256 {bundle.manifest_sha256}"
    assert bundle.verify() == []
    sources = {bundle.manifest["tables"][t]["source"] for t in bundle.tables if len(bundle.table(t))}
    assert sources >= {"postgres", "prometheus", "git", "services", "incident", "logs"}
    # PagerDuty has no action items: that table is empty, every other one collected fine
    assert {t: bundle.status(t) for t in bundle.tables if bundle.status(t) != "ok"} == {"action_items": "empty"}
    # the live lock, seen by every watch sample
    locks = bundle.table("pg_locks")
    waits = locks[~locks["granted"].astype(bool)]
    assert set(waits["pid"]) == {collected['pid']}
    assert waits["sampled_at"].nunique() == bundle.manifest["tables"]["pg_locks"]["details"]["samples"] == 6
    # the stand-in docker was asked for the window's logs
    args = (collected["root"] / "docker-args").read_text()
    assert "logs --timestamps --no-color" in args and f"--since {DAY}T13:00:00Z" in args
    assert re.search(rf"--until {DAY}T15:00:0[01]Z", args)  # the end, or a second past it (whole seconds)
    assert bundle.table("incident")["title"].tolist() == ["Signal latency above 5 s"]


@pytest.fixture(scope="module")
def pages(collected):
    p = collected["report"]
    assert p.returncode == 0, p.stderr[-3000:]
    folder = collected["out"] / "Q2P1DEMO"
    assert p.stdout.splitlines() == [str(folder / "investigation.html"), str(folder / "post_incident_review.html")]
    return html_text(folder / "investigation.html"), html_text(folder / "post_incident_review.html")


def test_the_investigation_report_tells_the_planted_story(pages, collected):
    inv, _ = pages
    culprit = f"{DEPLOY_TAG} of signal-generator at {DAY} 13:18 UTC"
    assert re.search(rf"Likely cause \(\w+ confidence\) {re.escape(culprit)}", inv), inv[:3000]
    assert "Suggested severity: P1" in inv
    assert re.search(r"P1: signal latency above 5 s: signal_latency_p95 above 5 s from 14:0\d to 14:3\d", inv)
    assert re.search(r"[Ff]irst symptom (?:2024-12-02 )?13:3\d", inv)
    # PostgreSQL: the execution-engine UPDATE waiting on risk-manager's open transaction
    assert re.search(rf"execution-engine pid {collected['pid']} waited [\d.]+ s for \w+Lock on positions, "
                     r"blocked by pid \d+ \(risk-manager\)", inv)
    # services: the failing health check, with what it answered
    assert re.search(r"execution-engine down 503 [\d.,]+ HTTP 503: broker connection pool exhausted", inv)
    # logs: the errors, by service
    assert "BrokerTimeout: order 70001 not acknowledged by broker after 5000 ms" in inv
    # PagerDuty: the record's milestones
    assert re.search(r"detection 2024-12-02 14:05:00 time to detect", inv)
    assert re.search(r"acknowledgement 2024-12-02 14:09:00 time to acknowledge 4 min", inv)


def test_the_review_tells_the_planted_story(pages):
    _, review = pages
    assert f"Trigger: {DEPLOY_TAG} of signal-generator at {DAY} 13:18 UTC" in review
    assert re.search(r"Severity P1\b", review)
    assert re.search(r"\backnowledge 15 min 4 min [^✓✗]{0,40}✓ met", review)
    assert re.search(r"\bresolve 8 h 00 min 1 h 15 min [^✓✗]{0,40}✓ met", review)
