"""Past incidents for the demo's incident library, deterministic.

INC-DEMO alone makes an empty "seen before" section and a one-point trend. This
module writes five earlier incidents as real evidence bundles (logs as ``docker
compose logs`` text read back by the logs reader, the incident record as TOML
read by the record reader, commits and deploy tags through the git shapers) and
indexes them, with INC-DEMO, into the catalog::

    INC-2024-0812  P3  gui-gateway template error after a deploy             (unrelated)
    INC-2024-0917  P1  BrokerTimeout on execution-engine after a deploy      (INC-DEMO's twin)
    INC-2024-1021  P2  BrokerTimeout + gateway 503s during broker maintenance (related)
    INC-2024-1105  P2  market-data feed stale on data-ingestor               (unrelated)
    INC-2024-1118  P0  risk-manager deadlocks halt trading                    (unrelated)

Some SLAs are missed on purpose (INC-2024-0917 is acknowledged after 25 min)
and some action items are still open, so the trends report has something to say.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..bundle import Evidence, EvidenceBundle, bundle_dir
from ..catalog import Catalog, IndexResult
from ..config import DEFAULT_SERVICES, Config
from ..model.incident import incident_tables
from ..sources.git import commits_frame, tags_frame
from ..sources.incident import read_incident_toml
from ..sources.logs import read_compose_logs
from ..window import TimeWindow
from .sample import DEMO_ID

__all__ = ["PAST_INCIDENTS", "build_demo_history", "index_demo_history"]


@dataclass(frozen=True)
class _Past:
    incident_id: str
    day: str
    window: tuple[str, str]  # HH:MM on ``day``
    title: str
    severity: str
    services: tuple[str, ...]
    milestones: dict[str, str]  # triggered/acknowledged/responded/resolved → ISO time
    errors: tuple[tuple[str, str, str, str, int], ...]  # (service, level, message with {n}, from-to, every s)
    change: tuple[str, str, str] | None  # (service, HH:MM, subject) deployed with a tag
    updates: tuple[tuple[str, str, str], ...]  # (ISO time, status, text)
    action_items: tuple[tuple[str, str, str], ...]  # (text, owner, status)
    extra: dict[str, Any] = field(default_factory=dict)


PAST_INCIDENTS: tuple[_Past, ...] = (
    _Past(
        "INC-2024-0812", "2024-08-12", ("08:30", "10:30"),
        "Positions page fails to render after gui-gateway deploy", "P3", ("gui-gateway",),
        {"triggered_at": "2024-08-12T09:20:00Z", "acknowledged_at": "2024-08-12T10:05:00Z",
         "responded_at": "2024-08-12T11:30:00Z", "resolved_at": "2024-08-13T10:00:00Z"},
        (("gui-gateway", "ERROR", "TemplateError: undefined variable 'pnl_ccy' in positions.html (request {n})",
          "09:10-10:20", 90),),
        ("gui-gateway", "09:00", "gui-gateway: show P&L currency on the positions page"),
        (("2024-08-12T10:10:00Z", "Investigating", "Positions page shows an error; trading unaffected"),
         ("2024-08-13T10:00:00Z", "Resolved", "Template fixed and redeployed")),
        (("Render tests for every gui-gateway page", "frontend", "done"),),
    ),
    _Past(
        "INC-2024-0917", "2024-09-17", ("12:30", "14:30"),
        "Orders time out at the broker after execution-engine deploy", "P1",
        ("execution-engine", "signal-generator"),
        {"triggered_at": "2024-09-17T13:05:00Z", "acknowledged_at": "2024-09-17T13:30:00Z",
         "responded_at": "2024-09-17T13:40:00Z", "resolved_at": "2024-09-17T14:20:00Z"},
        (("execution-engine", "ERROR", "BrokerTimeout: order {n} not acknowledged by broker after 5000 ms",
          "12:55-13:50", 25),
         ("signal-generator", "WARNING", "signal latency {n}.2s above threshold 5.0s", "13:00-13:45", 120)),
        ("execution-engine", "12:40", "execution-engine: raise broker request concurrency to 64"),
        (("2024-09-17T13:35:00Z", "Investigating", "Broker timeouts on execution-engine"),
         ("2024-09-17T13:55:00Z", "Identified", "Broker concurrency raised in the 12:40 deploy"),
         ("2024-09-17T14:20:00Z", "Resolved", "Concurrency back to 16; acknowledgements normal")),
        (("Cap broker client concurrency in config, not code", "execution", "done"),
         ("Alert on broker acknowledgement timeouts per minute", "platform", "open")),
    ),
    _Past(
        "INC-2024-1021", "2024-10-21", ("06:30", "08:30"),
        "Broker maintenance window: order acknowledgements time out", "P2",
        ("execution-engine", "gui-gateway"),
        {"triggered_at": "2024-10-21T07:10:00Z", "acknowledged_at": "2024-10-21T07:25:00Z",
         "responded_at": "2024-10-21T07:50:00Z", "resolved_at": "2024-10-21T08:15:00Z"},
        (("execution-engine", "ERROR", "BrokerTimeout: order {n} not acknowledged by broker after 5000 ms",
          "07:00-08:00", 60),
         ("gui-gateway", "ERROR", "upstream execution-engine returned 503", "07:05-07:55", 300)),
        None,
        (("2024-10-21T07:30:00Z", "Investigating", "Order acknowledgements slow"),
         ("2024-10-21T08:15:00Z", "Resolved", "Broker maintenance over")),
        (("Subscribe the on-call rota to the broker maintenance calendar", "ops", "open"),),
    ),
    _Past(
        "INC-2024-1105", "2024-11-05", ("10:00", "12:00"),
        "Market data feed stale for EURUSD and GBPUSD", "P2", ("data-ingestor", "indicator-engine"),
        {"triggered_at": "2024-11-05T10:40:00Z", "acknowledged_at": "2024-11-05T10:52:00Z",
         "responded_at": "2024-11-05T11:20:00Z", "resolved_at": "2024-11-05T11:45:00Z"},
        (("data-ingestor", "ERROR", "ConnectionResetError: market data websocket closed by peer (session {n})",
          "10:30-11:30", 45),
         ("indicator-engine", "ERROR", "MarketDataStale: no ticks for EURUSD in {n} s", "10:35-11:30", 120)),
        ("data-ingestor", "10:15", "data-ingestor: switch to market data feed v3 endpoint"),
        (("2024-11-05T11:00:00Z", "Investigating", "No ticks on EURUSD, GBPUSD"),
         ("2024-11-05T11:45:00Z", "Resolved", "Back on feed v2")),
        (("Fail over to the secondary market data feed automatically", "data", "open"),),
    ),
    _Past(
        "INC-2024-1118", "2024-11-18", ("14:00", "16:00"),
        "Risk limits unavailable: trading halted", "P0", ("risk-manager",),
        {"triggered_at": "2024-11-18T14:32:00Z", "acknowledged_at": "2024-11-18T14:35:00Z",
         "responded_at": "2024-11-18T14:44:00Z", "resolved_at": "2024-11-18T16:10:00Z"},
        (("risk-manager", "ERROR", "deadlock detected while updating exposure limits for account {n}",
          "14:25-15:30", 40),
         ("risk-manager", "CRITICAL", "risk limits unavailable: trading halted", "14:31-15:20", 600)),
        ("risk-manager", "14:10", "risk-manager: recompute exposure in one transaction"),
        (("2024-11-18T14:40:00Z", "Investigating", "Trading halted: risk limits unavailable"),
         ("2024-11-18T15:10:00Z", "Identified", "Lock ordering in the exposure recompute"),
         ("2024-11-18T15:40:00Z", "Monitoring", "risk-manager rolled back"),
         ("2024-11-18T16:10:00Z", "Resolved", "Trading resumed")),
        (("Review lock ordering in risk-manager", "risk", "done"),
         ("Game day: risk-manager failover", "platform", "open")),
    ),
)


def _at(day: str, hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day}T{hhmm}", tz="UTC").as_unit("ns")


def _compose_text(p: _Past, window: TimeWindow) -> str:
    """The incident's logs as ``docker compose logs --timestamps --no-color`` prints them."""
    rng = random.Random(p.incident_id)
    rows: list[tuple[pd.Timestamp, str, str, str]] = []
    t = window.start
    while t < window.end:
        for svc in DEFAULT_SERVICES:
            if rng.random() < 0.3:
                rows.append((t + pd.Timedelta(seconds=rng.randint(0, 59)), svc, "INFO", f"{svc} heartbeat ok"))
        t += pd.Timedelta(minutes=1)
    for svc, level, message, span, every in p.errors:
        a, b = (_at(p.day, s) for s in span.split("-"))
        n = 40000 + rng.randint(0, 9000)
        while a < b:
            rows.append((a, svc, level, message.format(n=n)))
            n += rng.randint(1, 9)
            a += pd.Timedelta(seconds=every)
    width = max(len(s) for s in DEFAULT_SERVICES) + 2
    lines = []
    for ts, svc, level, msg in sorted(rows, key=lambda r: (r[0], r[1])):
        stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        app = ts.strftime("%Y-%m-%d %H:%M:%S,") + f"{ts.microsecond // 1000:03d}"
        lines.append(f"{f'{svc}-1'.ljust(width)}| {stamp} {app} {level} [{svc}] {msg}")
    return "\n".join(lines) + "\n"


def _record_toml(p: _Past) -> str:
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = [f"title = {q(p.title)}", f"severity = {q(p.severity)}",
           "services = [" + ", ".join(q(s) for s in p.services) + "]"]
    out += [f"{k} = {v}" for k, v in p.milestones.items()]
    for time, status, text in p.updates:
        out += ["", "[[updates]]", f"time = {time}", f"status = {q(status)}", f"text = {q(text)}"]
    for text, owner, status in p.action_items:
        out += ["", "[[action_items]]", f"text = {q(text)}", f"owner = {q(owner)}", f"status = {q(status)}"]
    return "\n".join(out) + "\n"


def _evidence(p: _Past, window: TimeWindow, workdir: Path) -> list[Evidence]:

    workdir.mkdir(parents=True, exist_ok=True)
    name = f"incident_logs_{p.day.replace('-', '')}.txt"
    (workdir / name).write_text(_compose_text(p, window), encoding="utf-8")
    logs = read_compose_logs(workdir / name, window, source=name)
    record_path = workdir / "incidents" / f"{p.incident_id}.toml"
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record_path.write_text(_record_toml(p), encoding="utf-8")
    record = read_incident_toml(record_path, incident_id=p.incident_id)
    record.source = f"incidents/{p.incident_id}.toml"

    commits: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    if p.change is not None:
        svc, hhmm, subject = p.change
        at = _at(p.day, hhmm)
        sha_hex = hashlib.sha1(f"{p.incident_id} {subject}".encode()).hexdigest()
        tag = f"deploy-{svc}-{p.day.replace('-', '.')}"
        commits.append({"timestamp": at - pd.Timedelta(minutes=10), "sha": sha_hex, "author": "Demo Engineer",
                        "subject": subject, "files_changed": 3, "insertions": 40, "deletions": 12,
                        "refs": f"tag: {tag}", "committed_at": at - pd.Timedelta(minutes=10),
                        "author_tz": "+00:00", "is_merge": False, "parents": "", "tags": tag,
                        "deployed_at": at, "shallow_boundary": False, "repo": svc, "service": svc})
        tags.append({"tagged_at": at, "tag": tag, "sha": sha_hex, "annotated": True, "tagger": "Demo Engineer",
                     "message": subject, "is_deploy": True, "repo": svc, "service": svc})
    git_q = "git log --numstat; git for-each-ref refs/tags (generated history)"
    return [
        Evidence("logs", logs, source="logs", query=f"docker compose logs --timestamps (generated {name})"),
        Evidence("commits", commits_frame(commits), source="git", query=git_q),
        Evidence("tags", tags_frame(tags), source="git", query=git_q),
        *(Evidence(n, f, source="incident", query=f"incidents/{p.incident_id}.toml")
          for n, f in incident_tables(record).items()),
    ]


def build_demo_history(output_dir: str | Path = "output", *, force: bool = True) -> list[EvidenceBundle]:
    """Write the bundles of :data:`PAST_INCIDENTS` under ``output_dir``; returns them, oldest first."""
    output_dir = Path(output_dir)
    out = []
    for p in PAST_INCIDENTS:
        window = TimeWindow(_at(p.day, p.window[0]), _at(p.day, p.window[1]))
        target = bundle_dir(p.incident_id, output_dir)
        if target.exists() and not force:
            out.append(EvidenceBundle.open(target))
            continue
        evidence = _evidence(p, window, output_dir / p.incident_id / "sample")
        out.append(EvidenceBundle.write(target, incident_id=p.incident_id, window=window, evidence=evidence,
                                        config=Config(), force=True))
    return out


def index_demo_history(
    output_dir: str | Path = "output",
    *,
    catalog: Catalog | str | None = None,
    force: bool = True,
) -> IndexResult:
    """Write the past incidents' bundles and index them, and INC-DEMO when its bundle
    exists, into ``catalog`` (default: SQLite at ``<output_dir>/catalog.db``).

    Returns the :class:`~eafix_forensics.catalog.IndexResult` of all of them.
    """
    output_dir = Path(output_dir)
    bundles = [b.path for b in build_demo_history(output_dir, force=force)]
    demo = bundle_dir(DEMO_ID, output_dir)
    if (demo / "manifest.json").is_file():
        bundles.append(demo)
    cat = catalog if isinstance(catalog, Catalog) else Catalog.open(catalog, config=Config(), output_dir=output_dir)
    try:
        result = IndexResult(cat.url)
        for path in bundles:
            one = cat.index(path)
            result.added += one.added
            result.refreshed += one.refreshed
            result.unchanged += one.unchanged
            result.refused += one.refused
        return result
    finally:
        if not isinstance(catalog, Catalog):
            cat.close()
