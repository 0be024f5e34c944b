"""Building blocks of the scenario library: what a scenario *is* and how its raw
artifacts are rendered (git repositories, compose logs, Prometheus series, the
services' HTTP answers, the PostgreSQL workload, the incident record).

A :class:`Scenario` is plain data (its JSON form is hashed to decide when a cached
bundle is stale); everything random is drawn from ``random.Random`` seeded by the
scenario name, so a definition always renders the same evidence.

Noise every scenario gets unless it says otherwise: heartbeat INFO lines from every
service, harmless WARNINGs, PostgreSQL checkpoint lines with the ``%m`` prefix,
metric jitter (latencies drawn per scrape from a log-normal), unrelated commits by
several authors (``Scenario.commits`` holds them next to the culprit).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import random
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

SERVICES = ("gui-gateway", "data-ingestor", "indicator-engine", "signal-generator", "risk-manager",
            "execution-engine")
PORTS = {"gui-gateway": 8080, "data-ingestor": 8081, "indicator-engine": 8082, "signal-generator": 8083,
         "risk-manager": 8084, "execution-engine": 8085}
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY")
AUTHORS = {
    "alice": ("Alice Moreau", "alice@eafix.example"),
    "bob": ("Bob Okafor", "bob@eafix.example"),
    "chen": ("Chen Wei", "chen.wei@eafix.example"),
    "dana": ("Dana Kowalski", "dana@eafix.example"),
    "ops": ("EAFIX Ops Bot", "ops-bot@eafix.example"),
    "emre": ("Emre Yilmaz", "emre@eafix.example"),
}
# How each service writes its application line (after Docker's own timestamp).
LOG_STYLE = {
    "gui-gateway": "python", "data-ingestor": "python", "indicator-engine": "python",
    "signal-generator": "json", "risk-manager": "logfmt", "execution-engine": "python", "postgres": "postgres",
}


def ts(value: str | pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(value)
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).as_unit("ns")


# ============================================================== the definition
@dataclass
class Commit:
    """One commit. ``service`` picks the repository (one repo per service) or the
    folder (monorepo: ``<service>/…``; ``docs``/``libs/…`` are folders too).
    ``files`` are paths under that folder (or absolute repo paths starting with '/')."""

    at: str
    service: str
    subject: str
    author: str = "alice"
    files: list[str] = field(default_factory=lambda: ["src/app.py"])
    tag: str = ""  # deploy tag put on this commit ("" = not deployed)
    tag_at: str = ""  # when the tag was made (the deploy), default: 4 min after ``at``
    revert: str = ""  # subject of the commit this one reverts (its content is restored)
    extra_tags: list[str] = field(default_factory=list)  # more deploy tags on the same commit (same time)
    repo: str = ""  # a repository of its own (e.g. "eafix-config"); files relative to its root


@dataclass
class Log:
    """One application log line."""

    at: str
    service: str
    level: str  # DEBUG INFO WARNING ERROR CRITICAL FATAL PANIC LOG (postgres)
    message: str
    replica: int = 1


@dataclass
class Latency:
    """A latency histogram: per scrape, ``rate_per_s * step`` observations drawn from a
    log-normal with median ``median`` and spread ``sigma``; ``regimes`` replace them
    between two times; ``daily_spikes`` are (minute of hour, length min, median) excursions
    repeated every hour of every day (a chronic, seasonal pattern)."""

    metric: str  # signal_latency_seconds | order_execution_seconds
    service: str
    median: float
    sigma: float = 0.35
    rate_per_s: float = 2.0
    regimes: list[tuple[str, str, float, float]] = field(default_factory=list)  # start, end, median, sigma
    hourly_spikes: list[tuple[int, int, float]] = field(default_factory=list)
    market_only: bool = True  # no observations while the FX market is closed (no ticks, no orders)
    pauses: list[tuple[str, str]] = field(default_factory=list)  # no observations then (nothing flowing)


@dataclass
class Up:
    job: str
    instance: str
    service_label: str = ""  # "" = the series has no service label (job/instance only)
    down: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Http:
    """http_requests_total{service, code}: ``rps`` requests/s, ``error_share`` of them 5xx,
    ``regimes`` (start, end, share) replace the share for a while."""

    service: str
    rps: float = 20.0
    error_share: float = 0.002
    regimes: list[tuple[str, str, float]] = field(default_factory=list)


@dataclass
class Feed:
    """price_last_update_timestamp_seconds{service="data-ingestor", symbol}: follows the
    clock (ticks every ~``tick_s``), frozen during ``stale`` and while the FX market is closed."""

    symbols: list[str] = field(default_factory=lambda: list(SYMBOLS))
    tick_s: float = 0.8
    stale: list[tuple[str, str]] = field(default_factory=list)
    slow_symbols: dict[str, float] = field(default_factory=dict)  # illiquid symbol -> mean seconds between ticks
    stale_symbols: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # symbol -> its own stale spans


@dataclass
class Metrics:
    step_s: int = 15  # scrape interval
    latencies: list[Latency] = field(default_factory=list)
    ups: list[Up] = field(default_factory=list)
    http: list[Http] = field(default_factory=list)
    feed: Feed = field(default_factory=Feed)
    cpu_busy: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)  # service -> (start, end, cores)
    scrape_gaps: list[tuple[str, str]] = field(default_factory=list)  # no samples but up (host unreachable)
    # service -> (start, end, MB per minute): working set grows linearly (a leak) until ``end`` (restart/OOM kill)
    memory_ramps: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)
    # service -> (start, end, MB): the working set is that much higher, flat (e.g. a bigger cache after a deploy)
    memory_levels: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)


@dataclass
class Trading:
    """The services' HTTP answers for the window: signals, executions, positions, reconcile."""

    signal_every_s: float = 90.0
    signal_gaps: list[tuple[str, str]] = field(default_factory=list)  # no signals then
    signal_latency: list[tuple[str, str, float]] = field(default_factory=list)  # (start, end, latency s)
    signal_latency_normal_s: float = 0.35
    order_every_s: float = 40.0
    order_gaps: list[tuple[str, str]] = field(default_factory=list)
    # (start, end, share of orders not filled, status, reason)
    order_failures: list[tuple[str, str, float, str, str]] = field(default_factory=list)
    order_latency_ms: float = 140.0
    order_slow: list[tuple[str, str, float]] = field(default_factory=list)  # (start, end, latency ms)
    reconcile_mismatch: list[str] = field(default_factory=list)  # symbols that mismatch at collection
    market_closed: bool = False  # no signals and no orders at all (the FX week is closed)
    health_now: dict[str, str] = field(default_factory=dict)  # service -> mode at collection (default healthy)


@dataclass
class Workload:
    """PostgreSQL work for the scenario's database: ``index_drop`` runs the query
    before and after its index is dropped; ``lock_chain`` holds a lock on positions
    from a risk-manager session (an ALTER TABLE in an open transaction) with an
    execution-engine UPDATE waiting, while collect runs."""

    index_drop: bool = False
    lock_chain: bool = False
    lock_kind: str = "alter"  # "alter": ALTER TABLE (relation lock); "update": a bulk UPDATE (row locks)


@dataclass
class Truth:
    culprit: str | None  # a deploy tag name or a commit subject; None = no change explains
    severity: str
    first_symptom: str
    first_service: str
    first_kind: str  # "log" (tolerance 1 s) or "metric" (tolerance one scrape)
    why: str  # one sentence an experienced SRE would accept
    # "step": the symptom series jumps (beyond 1.5x its baseline range at the truth); "gradual": it creeps, and
    # the first symptom is when it leaves its baseline band for good (it reaches 1.5x only later)
    onset: str = "step"


@dataclass
class Scenario:
    name: str
    family: str
    summary: str
    start: str
    end: str
    truth: Truth
    layout: str = "per-service"  # or "monorepo"
    commits: list[Commit] = field(default_factory=list)
    logs: list[Log] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    trading: Trading = field(default_factory=Trading)
    workload: Workload = field(default_factory=Workload)
    incident: dict[str, Any] = field(default_factory=dict)
    pg_tz: str = "+00"  # the PostgreSQL container's %m zone ("+07", "-03", "+0530", "UTC")
    quiet_services: list[str] = field(default_factory=list)  # no heartbeat noise (e.g. down all window)
    silent: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # service -> spans with no noise (down)
    noise_warnings: bool = True
    # [topology.libraries] of its eafix.toml: a shared library's name -> the services that consume it
    libraries: dict[str, list[str]] = field(default_factory=dict)
    # An issue whose rules this scenario waits for: the scorecard reports it but the gate does not fail
    # on it (the stream that makes it pass removes the flag); 0 = gated like every other scenario.
    pending_issue: int = 0
    # ERROR lines containing one of these are chronic noise (present from the start of the logs, before and
    # during the incident): the truth check lets them precede the first symptom (and checks they are chronic)
    chronic_logs: list[str] = field(default_factory=list)
    # False: the logs were saved the runbook's way (``docker compose logs --since=1h > file``, no
    # ``--timestamps``), so each line's only time is the application's own, in its own format
    docker_timestamps: bool = True
    # per-service override of LOG_STYLE: "iso+HH:MM" (ISO 8601 in that local offset), "epoch-ms", ...
    log_styles: dict[str, str] = field(default_factory=dict)

    @property
    def incident_id(self) -> str:
        return "SCN-" + self.name

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return ts(self.start), ts(self.end)

    def definition(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        """Hash of the definition, of the code that renders it and of the collector (a
        change to the analysis rules only needs a re-score, not a rebuild)."""
        h = hashlib.sha256(json.dumps(self.definition(), sort_keys=True, default=str).encode())
        for mod in ("kit.py", "build.py"):
            h.update((Path(__file__).parent / mod).read_bytes())
        h.update(collector_fingerprint().encode())
        return h.hexdigest()


def collector_fingerprint() -> str:
    """Hash of the code that writes a bundle: sources/, model/ (schemas, catalogue, change
    attribution), collect, bundle, config, window, redact, data/. Analysis modules are
    left out on purpose: a rule change only needs a re-score."""
    import eafix_forensics

    pkg = Path(eafix_forensics.__file__).parent
    h = hashlib.sha256()
    paths = sorted(p for d in ("sources", "model", "data") for p in (pkg / d).rglob("*") if p.suffix in (".py", ".toml"))
    paths += [pkg / n for n in ("collect.py", "bundle.py", "config.py", "window.py", "redact.py")]
    for p in paths:
        if p.is_file():
            h.update(str(p.relative_to(pkg)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


# ============================================================== the FX week
def market_open(t: pd.Timestamp) -> bool:
    """FX week: Sunday 22:00 to Friday 22:00 UTC."""
    wd, hour = t.weekday(), t.hour + t.minute / 60
    if wd == 5:
        return False
    if wd == 4:
        return hour < 22
    if wd == 6:
        return hour >= 22
    return True


def last_open_before(t: pd.Timestamp) -> pd.Timestamp:
    """When the market was last open at or before ``t`` (``t`` itself when open)."""
    if market_open(t):
        return t
    friday = (t - pd.Timedelta(days=(t.weekday() - 4) % 7)).normalize() + pd.Timedelta(hours=22)
    return friday if friday <= t else friday - pd.Timedelta(days=7)


# ============================================================== git
def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull, **(env or {})}
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=full, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {repo}: {out.stderr.strip()}")
    return out.stdout.strip()


# Where the authors' clocks are: git records each date with the author's own offset.
AUTHOR_TZ = {"alice": "+02:00", "bob": "-05:00", "chen": "+08:00", "dana": "+01:00", "ops": "+00:00",
             "emre": "+03:00"}


def _who(author: str, at: pd.Timestamp) -> dict[str, str]:
    name, email = AUTHORS.get(author, (author, f"{author}@eafix.example"))
    tz = AUTHOR_TZ.get(author, "+00:00")
    local = at.tz_convert(datetime.timezone(pd.Timedelta(hours=int(tz[:3]), minutes=int(tz[0] + tz[4:]))))
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S") + tz
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": stamp}


def build_git(scn: Scenario, root: Path) -> tuple[list[Path], dict[str, str]]:
    """The scenario's repositories under ``root``; returns (repos, {subject or tag: sha})."""
    start, _ = scn.window
    genesis = start - pd.Timedelta(days=30)
    repos: dict[str, Path] = {}
    shas: dict[str, str] = {}

    def repo_for(service: str, repo: str = "") -> tuple[Path, str]:
        if repo:
            key, prefix = repo, ""
        elif scn.layout == "monorepo":
            key, prefix = "eafix", service.strip("/") + "/"
        else:
            key = service if service in SERVICES else "gui-gateway"
            prefix = "" if service in SERVICES else service.strip("/") + "/"
        if key not in repos:
            path = root / key
            path.mkdir(parents=True)
            _git(path, "init", "-q", "-b", "main")
            names = SERVICES + ("docs", "libs/eafix-common") if scn.layout == "monorepo" and not repo else ("",)
            for n in names:
                d = path / n
                (d / "src").mkdir(parents=True, exist_ok=True)
                (d / "README.md").write_text(f"# {n or key}\n")
                (d / "src" / "app.py").write_text("VERSION = '1.0.0'\n")
            _git(path, "add", "-A")
            _git(path, "commit", "-q", "-m", "initial import", env=_who("alice", genesis))
            repos[key] = path
        return repos[key], prefix

    for i, c in enumerate(sorted(scn.commits, key=lambda c: ts(c.at))):
        at = ts(c.at)
        path, prefix = repo_for(c.service, c.repo)
        env = _who(c.author, at)
        if c.revert:
            _git(path, "revert", "--no-edit", shas[c.revert], env=env)
            if c.subject:
                _git(path, "commit", "-q", "--amend", "-m", c.subject, env=env)
            c = Commit(**{**asdict(c), "subject": _git(path, "log", "-1", "--format=%s")})
        else:
            for f in c.files:
                p = path / (f.lstrip("/") if f.startswith("/") else prefix + f)
                p.parent.mkdir(parents=True, exist_ok=True)
                with p.open("a") as fh:
                    fh.write(f"# {c.subject} ({i})\n")
            _git(path, "add", "-A")
            _git(path, "commit", "-q", "-m", c.subject, env=env)
        sha = _git(path, "rev-parse", "HEAD")
        shas[c.subject] = sha
        for tag in [t for t in (c.tag, *c.extra_tags) if t]:
            tag_at = ts(c.tag_at) if c.tag_at else at + pd.Timedelta(minutes=4)
            _git(path, "tag", "-a", tag, "-m", f"deploy {tag}", sha, env=_who("ops", tag_at))
            shas[tag] = sha
    return sorted(repos.values()), shas


# ============================================================== logs
def _app_line(service: str, level: str, message: str, at: pd.Timestamp, pg_tz: str, style: str = "") -> str:
    style = style or LOG_STYLE.get(service, "python")
    if style.startswith(("iso+", "iso-")):  # e.g. a Node service logging in its host's zone
        sign, hh, mm = (1 if style[3] == "+" else -1), int(style[4:6]), int(style[7:9])
        local = at + sign * pd.Timedelta(hours=hh, minutes=mm)
        lv = {"WARNING": "WARN"}.get(level, level)
        return f"{local.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}{style[3:]} {lv} {message}"
    if style == "epoch-ms":
        return f"{int(at.value // 1_000_000)} {level} {service}: {message}"
    if style == "json":
        lv = {"WARNING": "warn", "CRITICAL": "critical"}.get(level, level.lower())
        return json.dumps({"ts": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "level": lv, "msg": message,
                           "logger": "signal_generator.loop"})
    if style == "logfmt":
        lv = {"WARNING": "warning", "CRITICAL": "fatal"}.get(level, level.lower())
        msg = message.replace('"', "'")
        return f'time="{at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z" level={lv} msg="{msg}"'
    if style == "postgres":
        offset = {"UTC": 0, "+00": 0}.get(pg_tz)
        if offset is None:
            sign = -1 if pg_tz.startswith("-") else 1
            digits = pg_tz[1:]
            offset = sign * (int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0))
        local = at + pd.Timedelta(minutes=offset)
        pid = 1 if level in ("LOG", "PANIC") else 4000 + (at.second * 37) % 900
        lv = "LOG" if level == "INFO" else level
        return f"{local.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} {pg_tz} [{pid}] {lv}:  {message}"
    return f"{at.strftime('%Y-%m-%d %H:%M:%S')},{at.microsecond // 1000:03d} {level} [{service}] {message}"


_HARMLESS = {
    "gui-gateway": ["client 10.0.4.{n} closed websocket before response", "slow client: /api/positions took 812 ms"],
    "data-ingestor": ["tick gap 1.4s on USDJPY (within tolerance)", "feed sequence resync requested by venue"],
    "indicator-engine": ["GC pause 140 ms", "indicator cache at 81% of capacity"],
    "signal-generator": ["strategy rsi-v3 skipped bar: spread too wide", "model warm-up incomplete for USDJPY"],
    "risk-manager": ["exposure near soft limit for account 21 (82%)", "stale fx rate for USDJPY used for 2s"],
    "execution-engine": ["broker heartbeat late by 600 ms", "order 7{n} partially filled, remainder re-queued"],
}


def render_logs(scn: Scenario) -> str:
    """``docker compose logs --timestamps --no-color`` text for the window (plus 10 min before)."""
    rng = random.Random("logs:" + scn.name)
    start, end = scn.window
    t0 = start - pd.Timedelta(minutes=10)
    rows: list[tuple[pd.Timestamp, str, int, str, str]] = []
    names = [s for s in SERVICES if s not in scn.quiet_services]
    t = t0
    while t < end:
        for svc in names:
            if rng.random() < 0.6:
                at = t + pd.Timedelta(milliseconds=rng.randint(0, 59_999))
                if _between(at, scn.silent.get(svc, [])):
                    continue
                msg = {"gui-gateway": "GET /health 200 2ms", "data-ingestor": "ingested {n} ticks in last 60s",
                       "risk-manager": "limits refreshed for 4 accounts"}.get(svc, f"{svc} heartbeat ok")
                rows.append((at, svc, 1, "INFO", msg.format(n=rng.randint(900, 1400))))
            if scn.noise_warnings and rng.random() < 0.04:
                at = t + pd.Timedelta(milliseconds=rng.randint(0, 59_999))
                if _between(at, scn.silent.get(svc, [])):
                    continue
                rows.append((at, svc, 1, "WARNING", rng.choice(_HARMLESS[svc]).format(n=rng.randint(10, 99))))
        if rng.random() < 0.2:
            rows.append((t + pd.Timedelta(seconds=rng.randint(0, 59)), "postgres", 1, "LOG",
                         f"checkpoint complete: wrote {rng.randint(20, 400)} buffers ({rng.random() * 2:.1f}%); 0 WAL file(s) added"))
        t += pd.Timedelta(minutes=1)
    for e in scn.logs:
        rows.append((ts(e.at), e.service, e.replica, e.level, e.message))
    rows.sort(key=lambda r: r[0])
    width = max(len(s) for s in (*SERVICES, "postgres")) + 4
    attach = sorted({f"{r[1]}-{r[2]}" for r in rows})
    out = ["Attaching to " + ", ".join(attach)]
    for at, svc, replica, level, msg in rows:
        if level == "EXIT":  # compose's own line, no timestamp
            out.append(f"{svc}-{replica} exited with code {msg}")
            continue
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{rng.randint(0, 999):03d}Z "
        prefix = f"{svc}-{replica}".ljust(width)
        line = _app_line(svc, level, msg, at, scn.pg_tz, scn.log_styles.get(svc, ""))
        out.append(f"{prefix}| {stamp if scn.docker_timestamps else ''}{line}")
    return "\n".join(out) + "\n"


# ============================================================== Prometheus
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def metric_ranges(scn: Scenario) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Time ranges holding samples: the window and the window before it (baseline), and the
    same hours one day and one week earlier (seasonal baselines), each with a 10 min lead-in
    for rate()."""
    start, end = scn.window
    length = end - start
    lead, tail = pd.Timedelta(minutes=10), pd.Timedelta(minutes=2)
    return [(start - length - lead, end + tail),
            *((start - off - lead, end - off + tail) for off in (pd.Timedelta(days=1), pd.Timedelta(days=7)))]


def _between(t: pd.Timestamp, spans: list[tuple[str, str]] | list[tuple[str, str, Any]]) -> Any:
    for span in spans:
        if ts(span[0]) <= t < ts(span[1]):
            return span[2] if len(span) > 2 else True
    return None


def render_series(scn: Scenario, lo: pd.Timestamp, hi: pd.Timestamp) -> dict[str, tuple[pd.DatetimeIndex, list[float]]]:
    """Every series of the scenario between ``lo`` and ``hi`` at its scrape interval."""
    m = scn.metrics
    step = pd.Timedelta(seconds=m.step_s)
    grid = pd.date_range(lo.ceil(f"{m.step_s}s"), hi, freq=step, inclusive="left")
    rng = random.Random(f"metrics:{scn.name}:{lo.isoformat()}")
    out: dict[str, tuple[pd.DatetimeIndex, list[float]]] = {}
    for lat in m.latencies:
        counts = [50_000.0] * (len(BUCKETS) + 1)  # large start values: no counter reset seen by rate()
        series: list[list[float]] = [[] for _ in range(len(BUCKETS) + 1)]
        for t in grid:
            median, sigma = lat.median, lat.sigma
            regime = _between(t, [(r[0], r[1], (r[2], r[3])) for r in lat.regimes])
            if regime is not None:
                median, sigma = regime
            else:
                for minute, length, spike in lat.hourly_spikes:
                    if minute <= t.minute < minute + length:
                        median = spike
            n = max(1, int(rng.gauss(lat.rate_per_s * m.step_s, math.sqrt(lat.rate_per_s * m.step_s))))
            if (lat.market_only and not market_open(t)) or _between(t, lat.pauses):
                n = 0
            obs = [rng.lognormvariate(math.log(median), sigma) for _ in range(n)]
            for i, le in enumerate(BUCKETS):
                counts[i] += sum(1 for o in obs if o <= le)
            counts[-1] += n
            for i in range(len(BUCKETS) + 1):
                series[i].append(counts[i])
        for i, le in enumerate((*[str(b) for b in BUCKETS], "+Inf")):
            out[f'{lat.metric}_bucket{{le="{le}",service="{lat.service}"}}'] = (grid, series[i])
    if m.scrape_gaps:
        # Nothing is scraped while the host is unreachable: every series but ``up`` has a hole.
        for key, (times, values) in list(out.items()):
            keep = [i for i, t in enumerate(times) if not _between(t, m.scrape_gaps)]
            out[key] = (times[keep], [values[i] for i in keep])
    for up in m.ups:
        labels = f'instance="{up.instance}",job="{up.job}"' + (f',service="{up.service_label}"' if up.service_label else "")
        out[f"up{{{labels}}}"] = (grid, [0.0 if _between(t, up.down) else 1.0 for t in grid])
    for h in m.http:
        ok, bad, vals_ok, vals_bad = 1e6, 2e3, [], []
        for t in grid:
            share = _between(t, h.regimes)
            share = h.error_share if share is None else share
            n = max(0.0, rng.gauss(h.rps * m.step_s, math.sqrt(h.rps * m.step_s)))
            b = round(n * share + (rng.random() < (n * share) % 1))
            ok += round(n) - b
            bad += b
            vals_ok.append(ok)
            vals_bad.append(bad)
        out[f'http_requests_total{{code="200",service="{h.service}"}}'] = (grid, vals_ok)
        out[f'http_requests_total{{code="500",service="{h.service}"}}'] = (grid, vals_bad)
    feed = m.feed
    for sym in [*feed.symbols, *feed.slow_symbols]:
        vals = []
        tick_s = feed.slow_symbols.get(sym, feed.tick_s)
        spans = [*feed.stale, *feed.stale_symbols.get(sym, [])]
        for t in grid:
            stale = _between(t, spans)
            if stale:
                frozen = next(ts(s[0]) for s in spans if ts(s[0]) <= t < ts(s[1]))
                vals.append(round(frozen.timestamp() - rng.random() * tick_s, 3))
                continue
            t_open = last_open_before(t)
            vals.append(round(t_open.timestamp() - rng.expovariate(1 / tick_s) if tick_s > 5 else t_open.timestamp() - rng.random() * tick_s, 3))
        out[f'price_last_update_timestamp_seconds{{service="data-ingestor",symbol="{sym}"}}'] = (grid, vals)
    # cAdvisor and postgres_exporter are scraped less often (30 s, or the app interval when coarser).
    infra_s = max(30, m.step_s)
    infra = pd.date_range(lo.ceil(f"{infra_s}s"), hi, freq=f"{infra_s}s", inclusive="left")
    for svc in SERVICES:
        cpu, vals_cpu, vals_mem = 5e4, [], []
        base_mem = 180e6 + 40e6 * SERVICES.index(svc)
        for t in infra:
            busy = _between(t, m.cpu_busy.get(svc, []))
            cores = busy if busy is not None else 0.15 + 0.1 * rng.random()
            cpu += cores * infra_s
            vals_cpu.append(round(cpu, 3))
            ramp = next((ts(r[0]) for r in m.memory_ramps.get(svc, []) if ts(r[0]) <= t < ts(r[1])), None)
            grown = 0.0 if ramp is None else _between(t, m.memory_ramps[svc]) * 1e6 * (t - ramp).total_seconds() / 60
            grown += (_between(t, m.memory_levels.get(svc, [])) or 0.0) * 1e6
            vals_mem.append(float(round(base_mem + grown + rng.random() * 5e6)))
        lab = f'container_label_com_docker_compose_service="{svc}",name="eafix-{svc}-1"'
        out[f"container_cpu_usage_seconds_total{{{lab}}}"] = (infra, vals_cpu)
        out[f"container_memory_working_set_bytes{{{lab}}}"] = (infra, vals_mem)
    out['pg_stat_activity_count{datname="eafix_prod",state="active"}'] = (
        infra, [float(rng.randint(2, 6)) for _ in infra])
    out['pg_stat_activity_count{datname="eafix_prod",state="idle"}'] = (infra, [18.0] * len(infra))
    return out


def default_ups(step_labels: str = "service", down: dict[str, list[tuple[str, str]]] | None = None) -> list[Up]:
    """``up`` for the six services (+postgres-exporter): with a service label
    (``"service"``), job/instance only (``"job"``), or one job scraping everything so
    only the instance names the service (``"instance"``)."""
    down = down or {}
    out = []
    for svc, port in PORTS.items():
        if step_labels == "instance":
            out.append(Up(job="eafix", instance=f"{svc}:{port}", down=down.get(svc, [])))
        else:
            out.append(Up(job=svc, instance=f"{svc}:{port}", service_label=svc if step_labels == "service" else "",
                          down=down.get(svc, [])))
    out.append(Up(job="postgres-exporter", instance="postgres-exporter:9187", down=down.get("postgres", [])))
    return out


# ============================================================== shapes the library reuses
def burst(service: str, level: str, start: str, end: str, every_s: float, message: str, *, seed: str) -> list[Log]:
    """Log lines from ``start`` (exactly) to ``end``, about every
    ``every_s`` seconds (jittered); ``message`` may use {n} (a counter) and {order}."""
    rng = random.Random(seed)
    out = []
    t, n = ts(start), 0
    while t < ts(end):
        out.append(Log(t.isoformat(), service, level, message.format(n=n, order=61000 + 7 * n + rng.randint(0, 6))))
        n += 1
        t += pd.Timedelta(seconds=every_s * rng.uniform(0.5, 1.5))
    return out


def metrics(step: int = 15, *, signal: float = 0.35, signal_sigma: float = 0.35, execution: float = 0.12,
            signal_regimes: list[tuple[str, str, float, float]] | None = None,
            exec_regimes: list[tuple[str, str, float, float]] | None = None,
            signal_spikes: list[tuple[int, int, float]] | None = None,
            ups: str = "service", down: dict[str, list[tuple[str, str]]] | None = None,
            http: list[Http] | None = None, stale: list[tuple[str, str]] | None = None) -> Metrics:
    return Metrics(
        step_s=step,
        latencies=[
            Latency("signal_latency_seconds", "signal-generator", signal, signal_sigma, 1.5,
                    regimes=signal_regimes or [], hourly_spikes=signal_spikes or []),
            Latency("order_execution_seconds", "execution-engine", execution, 0.4, 1.0, regimes=exec_regimes or []),
        ],
        ups=default_ups(ups, down),
        http=http or [Http("gui-gateway", 25.0, 0.002), Http("execution-engine", 8.0, 0.001)],
        feed=Feed(stale=stale or []),
    )


def crash_loop(service: str, start: str, end: str, every_s: float, fatal: str, version: str, *, level: str = "CRITICAL",
               seed: str, first_exact: str = "") -> tuple[list[Log], list[tuple[str, str]]]:
    """A container that dies ``every_s`` seconds after each start: the fatal line, compose's
    ``exited with code`` line and the next ``Starting <service> version X``; returns the log
    lines and the spans its ``up`` target is down (from each crash to the next start + 20 s)."""
    rng = random.Random(seed)
    logs: list[Log] = []
    down: list[tuple[str, str]] = []
    t = ts(first_exact or start)
    while t < ts(end):
        logs.append(Log(t.isoformat(), service, level, fatal))
        logs.append(Log((t + pd.Timedelta(milliseconds=40)).isoformat(), service, "EXIT", "1"))
        up_at = t + pd.Timedelta(seconds=rng.uniform(8, 15))
        logs.append(Log(up_at.isoformat(), service, "INFO", f"Starting {service} version {version}"))
        down.append((t.isoformat(), (up_at + pd.Timedelta(seconds=20)).isoformat()))
        t = up_at + pd.Timedelta(seconds=every_s * rng.uniform(0.7, 1.3))
    return logs, down


# ============================================================== trading API
def _iso(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def render_trading(scn: Scenario) -> dict[str, list[dict[str, Any]]]:
    """signals, executions, positions, reconcile as the services answer them."""
    tr = scn.trading
    rng = random.Random("trading:" + scn.name)
    start, end = scn.window
    signals: list[dict[str, Any]] = []
    executions: list[dict[str, Any]] = []
    if not tr.market_closed:
        t, i = start + pd.Timedelta(seconds=rng.uniform(5, 40)), 0
        while t < end:
            if market_open(t) and not _between(t, tr.signal_gaps):
                lat = _between(t, tr.signal_latency)
                lat = lat if lat is not None else tr.signal_latency_normal_s * rng.uniform(0.6, 1.5)
                signals.append({"id": f"S-{i}", "ts": _iso(t), "symbol": SYMBOLS[i % 3],
                                "direction": "buy" if rng.random() < 0.5 else "sell",
                                "confidence": round(rng.uniform(0.5, 0.95), 2), "price": 1.0842,
                                "latency_ms": round(lat * 1000 * rng.uniform(0.9, 1.1), 1), "status": "emitted",
                                "model": "rsi-v3"})
                i += 1
            t += pd.Timedelta(seconds=tr.signal_every_s * rng.uniform(0.6, 1.4))
        t, i = start + pd.Timedelta(seconds=rng.uniform(5, 30)), 0
        while t < end:
            if market_open(t) and not _between(t, tr.order_gaps):
                status, reason = "filled", None
                fail = _between(t, [(f[0], f[1], f) for f in tr.order_failures])
                if fail is not None and rng.random() < fail[2]:
                    status, reason = fail[3], fail[4]
                slow = _between(t, tr.order_slow)
                latency = slow if slow is not None else tr.order_latency_ms
                executions.append({"id": f"E-{i}", "ts": _iso(t), "order_id": f"O-{61000 + 3 * i}",
                                   "symbol": SYMBOLS[i % 3], "side": "buy" if i % 2 else "sell",
                                   "qty": rng.choice((10000, 20000, 50000)), "price": 1.0842,
                                   "status": status, "reason": reason,
                                   "latency_ms": round(latency * rng.uniform(0.7, 1.3), 1), "venue": "LMAX"})
                i += 1
            t += pd.Timedelta(seconds=tr.order_every_s * rng.uniform(0.5, 1.5))
    positions = [
        {"id": "P-1", "account_id": "17", "symbol": "EURUSD", "side": "long", "qty": 120000, "entry_price": 1.0812,
         "current_price": 1.0842, "exposure": 130104.0, "pnl": 360.0, "status": "open",
         "open_time": _iso(start - pd.Timedelta(hours=3))},
        {"id": "P-2", "account_id": "17", "symbol": "GBPUSD", "side": "short", "qty": 50000, "entry_price": 1.2701,
         "current_price": 1.2655, "exposure": 63275.0, "pnl": 230.0, "status": "open",
         "open_time": _iso(start - pd.Timedelta(hours=1))},
        {"id": "P-3", "account_id": "21", "symbol": "USDJPY", "side": "long", "qty": 80000, "entry_price": 150.12,
         "current_price": 149.80, "exposure": 80000.0, "pnl": -170.9, "status": "open",
         "open_time": _iso(start - pd.Timedelta(minutes=40))},
    ]
    reconcile = [
        {"account_id": p["account_id"], "symbol": p["symbol"], "internal": p["qty"],
         "broker": p["qty"] - (10000 if p["symbol"] in tr.reconcile_mismatch else 0),
         "status": "mismatch" if p["symbol"] in tr.reconcile_mismatch else "match"}
        for p in positions
    ]
    return {"signals": signals, "executions": executions, "positions": positions, "reconcile": reconcile}


# ============================================================== incident record
def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        try:
            t = pd.Timestamp(v)
            if t.tzinfo is not None and "T" in v:
                return t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            pass
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v)


def render_incident(scn: Scenario) -> str:
    """incidents/<ID>.toml from ``scn.incident`` (times as ISO strings with Z)."""
    lines = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for k, v in scn.incident.items():
        if k in ("updates", "action_items"):
            tables.extend((k, x) for x in v)
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for name, row in tables:
        lines.append(f"\n[[{name}]]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in row.items())
    return "\n".join(lines) + "\n"


SeriesFn = Callable[[Scenario, pd.Timestamp, pd.Timestamp], dict[str, tuple[pd.DatetimeIndex, list[float]]]]
