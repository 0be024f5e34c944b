"""The CLI as a hostile user drives it (issue 16): real processes, their exit status and files.

Secrets in every form must not reach a bundle or a report; bad input is exit 2 and one
line, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from eafix_forensics.redact import RULES
from tests.test_config import OUT_OF_RANGE

EXE = [sys.executable, "-m", "eafix_forensics.cli"]
CLOSED = "127.0.0.1:9"  # discard port: nothing listens on loopback, a source fails at once


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("EAFIX_")}
    e.update(env or {})
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd, env=e, timeout=timeout,
                          check=False)


def usage_error(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit 2 with one error line (plus at most the usage hint) and no traceback; returns the line."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and len(lines) <= 2, proc.stderr
    return errors[0]


def write_config(root: Path, extra: str = "") -> Path:
    """A config whose network sources fail fast, plus ``extra``."""
    cfg = root / "eafix.toml"
    cfg.write_text(
        f'[prometheus]\nurl = "http://{CLOSED}"\ntimeout_s = 2\n'
        f'[postgres]\nurl = "postgresql+psycopg://eafix@{CLOSED}/x"\nconnect_timeout_s = 2\n'
        '[git]\nrepos = []\n'
        f'[services.gui-gateway]\nurl = "http://{CLOSED}"\ntries = 1\ntimeout_s = 2\n'
        + extra
    )
    return cfg


# ------------------------------------------------------------------ secrets
SQL_LINES = [
    "LOG:  statement: ALTER USER app WITH PASSWORD 'PgLogCanary1'",
    "LOG:  statement: CREATE ROLE r LOGIN PASSWORD 'PgLogCanary2'",
    "LOG:  statement: ALTER USER eafix PASSWORD 'PgLogCanary3'",
]
KEY_BLOCK = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9OiJjRazXBZ1BjP5CE/WmRsaBodyCanaryxx",
    "z9fJ8wD1q0M2d3a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D",
    "-----END RSA PRIVATE KEY-----",
]


def _compose_log(lines: list[str]) -> str:
    out = []
    for i, line in enumerate(lines):
        for part in line.split("\n"):
            out.append(f"risk-manager-1  | 2024-12-02T14:{10 + i // 60:02d}:{i % 60:02d}Z ERROR {part}\n")
    # the key as a program prints it: one log line per key line, the same service
    out.append("risk-manager-1  | 2024-12-02T14:20:00Z ERROR loaded key:\n")
    out.extend(f"risk-manager-1  | {k}\n" for k in KEY_BLOCK)
    return "".join(out)


def _secrets() -> dict[str, str]:
    out = {f"rule {r.name}": r.secret for r in RULES}
    out.update({f"sql {i}": f"PgLogCanary{i}" for i in (1, 2, 3)})
    out["key body"] = "RsaBodyCanary"
    out["key body 2"] = "z9fJ8wD1q0M2d3a1b2c3"
    return out


def _assert_clean(blob: bytes, where: str) -> None:
    for name, secret in _secrets().items():
        assert secret.encode() not in blob, f"{name}: {secret!r} leaked into {where}"


def test_no_secret_of_the_rule_table_reaches_the_bundle_or_the_report(tmp_path):
    (tmp_path / "incident_logs_hostile.txt").write_text(_compose_log([r.example for r in RULES] + SQL_LINES))
    write_config(tmp_path, '[logs]\nfiles = ["incident_logs_*.txt"]\n'
                           '[prometheus.headers]\nAuthorization = "Basic SGVhZGVyQ2FuYXJ5"\n')
    p = run("collect", "INC-HOSTILE", "--start", "2024-12-02T14:00Z", "--end", "2024-12-02T15:00Z", "--quiet",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    evidence = tmp_path / "output" / "INC-HOSTILE" / "evidence"
    logs = pq.read_table(evidence / "logs.parquet").to_pandas()
    assert len(logs) >= len(RULES) + len(SQL_LINES)  # the lines are there, scrubbed
    for f in sorted(evidence.iterdir()):
        _assert_clean(f.read_bytes(), f.name)
        if f.suffix == ".parquet":
            _assert_clean(pq.read_table(f).to_pandas().to_csv().encode(), f"decoded {f.name}")
    assert b"SGVhZGVyQ2FuYXJ5" not in (evidence / "manifest.json").read_bytes()
    assert "[REDACTED PRIVATE KEY]" in set(logs["message"])
    p = run("report", "INC-HOSTILE", "--kind", "investigation", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    html = tmp_path / "output" / "INC-HOSTILE" / "investigation.html"
    _assert_clean(html.read_bytes(), html.name)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("args, named", [
    (["collect", "x\n", "--since", "1h"], "incident id"),
    (["collect", "X", "--start", "0001-01-01T00:00Z"], "0001-01-01"),
    (["collect", "X", "--start", "2262-04-12"], "2262-04-12"),
    (["collect", "X", "--since", "99999999w"], "99999999w"),
    (["collect", "X", "--since", "1000000d"], "1000000d"),
    (["collect", "X", "--since", "1h", "--watch", "99999999w"], "99999999w"),
    (["collect", "X", "--since", "1h", "--output-dir", "/proc/nope"], "/proc/nope"),
    (["collect", "X", "--since", "1h", "--output-dir", "a-file"], "a-file"),
    (["index", ".", "--catalog", "sqlite:////proc/nope/catalog.db"], "/proc/nope"),
    (["index", ".", "--catalog", "nope://x"], "nope://x"),
    (["report", "X", "--timeout", "nan"], "--timeout"),
    (["report", "X", "--bundle", "/nonexistent"], "/nonexistent"),
    (["collect"], "INCIDENT_ID"),
    (["report", "X", "--kind", "nope"], "--kind"),
])
def test_bad_input_is_exit_2_and_one_line(tmp_path, args, named):
    write_config(tmp_path)
    (tmp_path / "a-file").write_text("not a directory")
    line = usage_error(run(*args, cwd=tmp_path, timeout=120))
    assert named in line
    assert not (tmp_path / "output" / "x\n").exists()


@pytest.mark.parametrize("section, key, value", OUT_OF_RANGE)
def test_config_out_of_range_is_exit_2_naming_the_key(tmp_path, section, key, value):
    (tmp_path / "eafix.toml").write_text(f"[{section}]\n{key} = {value}\n")
    line = usage_error(run("collect", "INC-1", "--since", "1h", cwd=tmp_path))
    assert f"[{section}] {key}" in line, line


def test_log_pattern_matching_nothing_is_unavailable_naming_it(tmp_path):
    write_config(tmp_path, '[logs]\nfiles = ["nomatch/*.txt"]\n')
    p = run("collect", "INC-LOGS", "--since", "1h", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "skipped" not in next(line for line in p.stderr.splitlines() if " logs " in line)
    manifest = json.loads((tmp_path / "output" / "INC-LOGS" / "evidence" / "manifest.json").read_text())
    entry = manifest["tables"]["logs"]
    assert entry["status"] == "unavailable"
    assert "nomatch/*.txt" in entry["error"]


def test_trends_report_on_unresolved_incidents_renders(tmp_path):
    incidents = tmp_path / "incidents"
    incidents.mkdir()
    for i in (1, 2):
        (incidents / f"INC-OPEN{i}.toml").write_text(
            f'title = "Still open {i}"\nseverity = "P2"\nservices = ["risk-manager"]\n'
            f"triggered_at = 2024-12-0{i}T14:05:00Z\n")
    write_config(tmp_path, '[incidents]\ndir = "incidents"\n')
    for i in (1, 2):
        p = run("collect", f"INC-OPEN{i}", "--start", f"2024-12-0{i}T14:00Z", "--end", f"2024-12-0{i}T15:00Z",
                "--quiet", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
    p = run("index", "output", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    p = run("report", "INC-OPEN1", "--kind", "trends", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "output" / "incident_trends.html").is_file()


# ------------------------------------------------------------------ the race
DOCKER_SLOW = """#!/bin/sh
# stand-in for `docker compose logs`: a source that answers only once the test releases it,
# so the two collects overlap however slowly a loaded machine starts them
touch started
for i in $(seq 1200); do [ -e release ] && break; sleep 0.1; done
echo "risk-manager-1  | 2024-12-02T14:10:00Z ERROR slow source"
"""


def test_second_concurrent_collect_exits_2_naming_the_holder(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(DOCKER_SLOW)
    (bin_dir / "docker").chmod(0o755)
    write_config(tmp_path, '[logs]\ncompose_project = "."\n')
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    e = {k: v for k, v in os.environ.items() if not k.startswith("EAFIX_")} | env
    args = ["collect", "INC-RACE", "--start", "2024-12-02T14:00Z", "--end", "2024-12-02T15:00Z", "--quiet"]
    first = subprocess.Popen([*EXE, *args], cwd=tmp_path, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    # The first collect holds its lock while its logs source runs: wait for that (a condition,
    # not a delay), run the second one to its end, then let the first finish.
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = run(*args, cwd=tmp_path, env=env)
    (tmp_path / "release").touch()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    line = usage_error(second)
    assert "another collect" in line and f"pid {first.pid}" in line
    p = run("verify", "output/INC-RACE/evidence", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    logs = pq.read_table(tmp_path / "output" / "INC-RACE" / "evidence" / "logs.parquet").to_pandas()
    assert "slow source" in set(logs["message"].str.replace("ERROR ", "", regex=False))


# ------------------------------------------------------------------ symlinks
def test_collect_refuses_a_symlinked_incident_directory(tmp_path):
    write_config(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "INC-LINK").symlink_to(elsewhere)
    line = usage_error(run("collect", "INC-LINK", "--since", "1h", "--quiet", cwd=tmp_path))
    assert "symbolic link" in line and "INC-LINK" in line
    assert list(elsewhere.iterdir()) == []


def test_collect_refuses_a_symlinked_evidence_directory_even_with_force(tmp_path):
    write_config(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "output" / "INC-LINK").mkdir(parents=True)
    (tmp_path / "output" / "INC-LINK" / "evidence").symlink_to(elsewhere)
    line = usage_error(run("collect", "INC-LINK", "--since", "1h", "--quiet", "--force", cwd=tmp_path))
    assert "symbolic link" in line
    assert list(elsewhere.iterdir()) == []


def _bundle(tmp_path: Path, incident: str = "INC-T", extra: str = "") -> tuple[Path, str]:
    """A small real bundle (a logs table with rows); returns its path and the sha256 collect printed."""
    (tmp_path / "incident_logs_t.txt").write_text(
        "".join(f"risk-manager-1  | 2024-12-02T14:{m:02d}:00Z ERROR BrokerTimeout {m}\n" for m in range(10)))
    if not (tmp_path / "eafix.toml").exists():
        write_config(tmp_path, '[logs]\nfiles = ["incident_logs_*.txt"]\n' + extra)
    p = run("collect", incident, "--start", "2024-12-02T14:00Z", "--end", "2024-12-02T15:00Z", "--quiet",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    sha = next(line.split()[-1] for line in p.stdout.splitlines() if line.startswith("manifest sha256"))
    return tmp_path / "output" / incident / "evidence", sha


def test_report_refuses_a_symlinked_html(tmp_path):
    _bundle(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "output" / "INC-T" / "investigation.html").symlink_to(victim)
    line = usage_error(run("report", "INC-T", cwd=tmp_path))
    assert "symbolic link" in line and "investigation.html" in line
    assert victim.read_text() == "precious"


# ------------------------------------------------------------------ manifest tampering
def _edit_manifest(evidence: Path, edit) -> None:
    mf = evidence / "manifest.json"
    data = json.loads(mf.read_text())
    edit(data)
    mf.write_text(json.dumps(data, indent=2))


def _verify_fails(evidence: Path, *extra: str, naming: str) -> str:
    p = run("verify", str(evidence), *extra, cwd=evidence.parent.parent.parent)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    assert naming in p.stderr, p.stderr
    return p.stderr


def test_verify_sees_every_kind_of_tampering(tmp_path):
    evidence, sha = _bundle(tmp_path)
    ok = run("verify", str(evidence), "--expect", sha, cwd=tmp_path)
    assert ok.returncode == 0 and sha in ok.stdout, ok.stderr
    pristine = {f.name: f.read_bytes() for f in evidence.iterdir()}

    def restore() -> None:
        for f in evidence.iterdir():
            if f.name not in pristine:
                f.unlink()
        for name, data in pristine.items():
            (evidence / name).write_bytes(data)

    _edit_manifest(evidence, lambda m: m["tables"]["logs"].update(rows=3))
    _verify_fails(evidence, naming="logs.parquet: 10 rows in the file, 3 in the manifest")
    restore()
    # a Parquet rewritten and its sha256 recomputed: only the manifest's own hash can tell
    import pandas as pd

    frame = pd.read_parquet(evidence / "logs.parquet")
    frame.loc[0, "message"] = "ERROR nothing to see here"
    frame.to_parquet(evidence / "logs.parquet", index=False)
    new_sha = hashlib.sha256((evidence / "logs.parquet").read_bytes()).hexdigest()
    _edit_manifest(evidence, lambda m: m["tables"]["logs"].update(sha256=new_sha))
    assert run("verify", str(evidence), cwd=tmp_path).returncode == 0  # self-consistent, yet…
    _verify_fails(evidence, "--expect", sha, naming=f"is not the expected {sha}")
    restore()
    _edit_manifest(evidence, lambda m: m["tables"].pop("logs"))
    _verify_fails(evidence, naming="logs.parquet: not listed in the manifest")
    restore()
    (evidence / "notes.txt").write_text("planted")
    _verify_fails(evidence, naming="notes.txt: not listed in the manifest")
    restore()
    _edit_manifest(evidence, lambda m: m["tables"]["logs"].update(file="/etc/hostname"))
    _verify_fails(evidence, naming="points outside the bundle")
    restore()
    _edit_manifest(evidence, lambda m: m["tables"]["logs"].update(file="../evidence/logs.parquet"))
    _verify_fails(evidence, naming="points outside the bundle")
    restore()
    assert run("verify", str(evidence), "--expect", sha, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("edit, naming", [
    (lambda m: m.update(tables=5), '"tables" is int'),
    (lambda m: m["tables"].update(logs="logs.parquet"), "table 'logs' is str"),
    (lambda m: m["tables"]["logs"].update(file=123), "file = 123"),
    (lambda m: m["tables"]["logs"].update(rows="ten"), "rows = 'ten'"),
])
def test_malformed_manifest_is_exit_1_naming_the_problem_and_index_skips_it(tmp_path, edit, naming):
    bad, _ = _bundle(tmp_path, "INC-BAD")
    _bundle(tmp_path, "INC-GOOD")
    _edit_manifest(bad, edit)
    err = _verify_fails(bad, naming=naming)
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    p = run("index", "output", "--catalog", f"sqlite:///{tmp_path / 'catalog.db'}", cwd=tmp_path)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "INC-BAD" in p.stdout + p.stderr and naming in p.stdout + p.stderr
    assert "INC-GOOD" in p.stdout


def test_catalog_keeps_the_manifest_sha256_and_verify_checks_it(tmp_path):
    evidence, sha = _bundle(tmp_path)
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    assert run("index", "output", "--catalog", url, cwd=tmp_path).returncode == 0
    ok = run("verify", str(evidence), "--catalog", url, cwd=tmp_path)
    assert ok.returncode == 0 and sha in ok.stdout, ok.stderr
    _edit_manifest(evidence, lambda m: m.update(collected_at="2024-12-02T14:00:00+00:00"))
    _verify_fails(evidence, "--catalog", url, naming=f"is not the expected {sha}")


# ------------------------------------------------------------------ signing
def _keypair(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    signers = tmp_path / f"{name}.allowed"
    signers.write_text(f'{name}@eafix namespaces="eafix-forensics" {key.with_suffix(".pub").read_text()}')
    return key, signers


def test_signed_manifest_proves_who_collected_it(tmp_path):
    key, signers = _keypair(tmp_path, "collector")
    _, other = _keypair(tmp_path, "intruder")
    evidence, _ = _bundle(tmp_path, extra=f'[bundle]\nsigning_key = "{key.name}"\n')
    assert (evidence / "manifest.json.sig").is_file()
    ok = run("verify", str(evidence), "--allowed-signers", str(signers), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "signed by collector@eafix" in ok.stdout
    _verify_fails(evidence, "--allowed-signers", str(other), naming="not made by a key in")
    _edit_manifest(evidence, lambda m: m.update(collected_at="2024-12-02T16:00:00+00:00"))
    _verify_fails(evidence, "--allowed-signers", str(signers), naming="does not match the manifest")
    (evidence / "manifest.json.sig").unlink()
    _verify_fails(evidence, "--allowed-signers", str(signers), naming="the manifest is not signed")


def test_role_passwords_in_pg_stat_statements_never_reach_the_bundle(tmp_path, pg_server):
    url = pg_server.create_database()
    name = url.rsplit("/", 1)[1]
    role = f"r_{name[-8:]}"
    pg_server.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'PgStatCanary1'", dbname=name)
    pg_server.execute(f"ALTER ROLE {role} WITH ENCRYPTED PASSWORD 'PgStatCanary2'", dbname=name)
    pg_server.execute(f"ALTER USER {role} PASSWORD 'PgStatCanary3'", dbname=name)
    statements = [str(r[0]) for r in pg_server.execute(
        "SELECT query FROM pg_stat_statements WHERE query LIKE '%PgStatCanary%'", dbname=name)]
    assert statements, "PostgreSQL keeps utility statements verbatim: the test has its secrets"
    write_config(tmp_path)
    cfg = (tmp_path / "eafix.toml").read_text().replace(f"postgresql+psycopg://eafix@{CLOSED}/x", url)
    (tmp_path / "eafix.toml").write_text(cfg)
    p = run("collect", "INC-PG", "--since", "1h", "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    evidence = tmp_path / "output" / "INC-PG" / "evidence"
    top = pq.read_table(evidence / "pg_statements.parquet").to_pandas()
    assert top["query"].str.contains(f"ROLE {role}", regex=False).any()  # the statement is evidence
    for f in evidence.iterdir():
        blob = f.read_bytes() + (pq.read_table(f).to_pandas().to_csv().encode() if f.suffix == ".parquet" else b"")
        assert b"PgStatCanary" not in blob, f.name


def test_prometheus_labels_named_like_secrets_are_scrubbed_whole(tmp_path):
    import pandas as pd

    from tests.harness.prometheus import openmetrics_text, running_prometheus

    ts = pd.date_range("2024-12-02T14:00Z", "2024-12-02T15:00Z", freq="60s")
    series = {'eafix_probe{service="risk-manager",api_key="PromKeyCanary1",token="PromTokCanary2"}': (ts, [1.0] * len(ts))}
    with running_prometheus(openmetrics_text(series), tmp_path / "prom") as prom:
        write_config(tmp_path, '[prometheus.queries.probe]\nquery = "eafix_probe"\n')
        cfg = (tmp_path / "eafix.toml").read_text().replace(f'url = "http://{CLOSED}"\ntimeout_s', f'url = "{prom.url}"\ntimeout_s', 1)
        (tmp_path / "eafix.toml").write_text(cfg)
        p = run("collect", "INC-PROM", "--start", "2024-12-02T14:00Z", "--end", "2024-12-02T15:00Z", "--quiet",
                cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    evidence = tmp_path / "output" / "INC-PROM" / "evidence"
    metrics = pq.read_table(evidence / "metrics.parquet").to_pandas()
    probe = metrics[metrics["query"].str.contains("eafix_probe", regex=False)]
    assert len(probe) and set(probe["api_key"]) == {"***"} and set(probe["token"]) == {"***"}
    assert set(probe["service"]) == {"risk-manager"}  # other labels are evidence
    for f in evidence.iterdir():
        blob = f.read_bytes() + (pq.read_table(f).to_pandas().to_csv().encode() if f.suffix == ".parquet" else b"")
        assert b"PromKeyCanary1" not in blob and b"PromTokCanary2" not in blob, f.name
