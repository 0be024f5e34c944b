"""The verdict: one object that says what broke, since when, how bad, why, and what to do.

:func:`verdict` reads a bundle (pure: never a live system) and gathers the
investigation's conclusions into plain frozen dataclasses, so a report's
first screen, the post-incident review, a chat message or another program can
use them without re-deriving anything:

- **what is broken**: the services with a symptom that is not chronic, first
  failed first, and each one's first symptom with its evidence ref;
- **since when**: the first symptom (exact to the evidence: a log line's time,
  a metric sample) and how long before detection (``triggered_at``);
- **how bad**: the suggested severity and its reasons, and the trading impact
  in numbers (orders rejected/failed, late signals, reconciliation);
- **why**: the top-ranked suspect change when its score clears
  :data:`CAUSE_MIN_SCORE`, with its commit subject, author, tag, version, the
  tag to roll back to and diff stat; else "no change explains these symptoms"
  and where to look next;
- **what to do**: the runbook's next steps for this situation;
- **seen before**: the most similar past incident (from ``similar=``, the
  frame :func:`eafix_forensics.similar` returns) with its open action items.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..config import Config
from .health import impact_from_bundle
from .key_times import key_times
from .severity import severity_evidence, suggest_severity
from .suspects import suspects
from ..bundle import bundle_config
from .timeline import failed_services, first_symptom, metric_step, timeline

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["CAUSE_MIN_SCORE", "Cause", "Impact", "Symptom", "Verdict", "verdict"]

#: A suspect scoring below this explains nothing well enough to be named the cause.
CAUSE_MIN_SCORE = 0.3
_SYMPTOM_KINDS = ("first_error", "error_burst", "threshold_breach", "slow_query", "lock_wait", "health_failed")


def _text(v: Any) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _ts(v: Any) -> pd.Timestamp | None:
    if v is None or v is pd.NaT or (not isinstance(v, pd.Timestamp) and pd.isna(v)):
        return None
    t = pd.Timestamp(v)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


@dataclass(frozen=True)
class Symptom:
    """One symptom: when, where, what, and where in the evidence it is."""

    timestamp: pd.Timestamp
    service: str
    kind: str
    summary: str
    ref: str
    chronic: bool = False


@dataclass(frozen=True)
class Cause:
    """The change most likely to have caused the incident."""

    kind: str
    timestamp: pd.Timestamp
    service: str
    sha: str
    ref: str
    subject: str
    author: str
    tag: str
    version: str
    previous_tag: str
    files_changed: int | None
    insertions: int | None
    deletions: int | None
    url: str
    score: float
    reason: str
    lead: pd.Timedelta | None


@dataclass(frozen=True)
class Impact:
    """Trading impact in numbers; None where the evidence is unavailable."""

    orders: int | None = None
    orders_rejected: int | None = None
    orders_failed: int | None = None
    rejected_share: float | None = None
    signals: int | None = None
    signals_late: int | None = None
    signal_latency_max_s: float | None = None
    positions_open: int | None = None
    reconcile_mismatches: int | None = None
    exposure: float | None = None
    currency: str = ""
    services_down: tuple[str, ...] = ()
    duration: pd.Timedelta | None = None
    summary: str = ""


@dataclass(frozen=True)
class Verdict:
    """The investigation's conclusions for one incident (see the module docstring)."""

    incident_id: str
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    collected_at: pd.Timestamp | None
    broken_services: tuple[str, ...]
    symptoms: tuple[Symptom, ...]
    chronic: tuple[Symptom, ...]
    first_symptom: Symptom | None
    detected_at: pd.Timestamp | None
    time_to_detect: pd.Timedelta | None
    severity: str
    severity_reasons: tuple[str, ...]
    cause: Cause | None
    no_cause: str
    look_next: tuple[str, ...]
    confidence: str
    confidence_basis: str
    impact: Impact
    next_steps: tuple[str, ...]
    similar: dict[str, Any] | None
    at_collection: tuple[str, ...] = field(default=())
    headline: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The verdict as JSON-able dicts (times ISO 8601, durations in seconds)."""
        return _plain(asdict(self))


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, pd.Timedelta):
        return v.total_seconds()
    return v


# ------------------------------------------------------------------ pieces
def _symptom(row: pd.Series, *, chronic: bool = False) -> Symptom:
    return Symptom(
        timestamp=pd.Timestamp(row["timestamp"]),
        service=_text(row.get("service")),
        kind=_text(row.get("kind")),
        summary=_text(row.get("summary")),
        ref=_text(row.get("ref")),
        chronic=chronic,
    )


def _symptoms(
    events: pd.DataFrame, step: pd.Timedelta | None = None,
) -> tuple[tuple[Symptom, ...], tuple[Symptom, ...]]:
    """First symptom per failed service (time order), and the chronic conditions."""
    chronic_mask = (events["kind"].isin(_SYMPTOM_KINDS) & (events["severity"] == "info")
                    & events["summary"].astype(object).map(lambda t: _text(t).startswith("chronic"))).astype(bool)
    live = events
    out = []
    for svc in failed_services(live):
        row = first_symptom(live, service=svc, metric_step=step)
        if row is not None:
            out.append(_symptom(row))
    chronic: list[Symptom] = []
    if chronic_mask.any():
        ch = events[chronic_mask.to_numpy()]
        chronic = [_symptom(r, chronic=True) for _, r in ch.iterrows()]
    return tuple(sorted(out, key=lambda s: s.timestamp)), tuple(chronic)


def _commit_of(bundle: EvidenceBundle, sha: str) -> pd.Series | None:
    if not sha or not bundle.has("commits"):
        return None
    commits = bundle.table("commits")
    hit = commits[commits["sha"].astype(object) == sha] if len(commits) else commits
    return hit.iloc[0] if len(hit) else None


def _cause(bundle: EvidenceBundle, top: pd.Series, config: Config) -> Cause:
    sha = _text(top.get("sha"))
    commit = _commit_of(bundle, sha)

    def pick(col: str, commit_col: str | None = None) -> str:
        v = _text(top.get(col))
        if not v and commit is not None and commit_col:
            v = _text(commit.get(commit_col))
        return v

    def num(col: str) -> int | None:
        v = top.get(col)
        if (v is None or pd.isna(v)) and commit is not None:
            v = commit.get(col)
        return _int(v)

    base = config.git.web_url.rstrip("/")
    repo = _text(commit.get("repo")) if commit is not None else ""
    base = base.replace("{repo}", repo) if base else ""
    return Cause(
        kind=_text(top.get("kind")),
        timestamp=pd.Timestamp(top["timestamp"]),
        service=_text(top.get("service")),
        sha=sha,
        ref=_text(top.get("ref")),
        subject=pick("subject", "subject") or _text(top.get("summary")),
        author=pick("author", "author"),
        tag=pick("tag"),
        version=pick("version"),
        previous_tag=pick("previous_tag"),
        files_changed=num("files_changed"),
        insertions=num("insertions"),
        deletions=num("deletions"),
        url=f"{base}/commit/{sha}" if base and sha else "",
        score=float(top.get("score") or 0.0),
        reason=_text(top.get("reason")),
        lead=pd.Timedelta(top["lead"]) if "lead" in top and not pd.isna(top["lead"]) else None,
    )


def _impact(bundle: EvidenceBundle, config: Config, duration: pd.Timedelta | None) -> Impact:
    raw = impact_from_bundle(bundle, signal_latency_s=config.severity.signal_latency_critical_s)
    orders, rej, fail = raw.get("executions"), raw.get("rejected_executions"), raw.get("failed_executions")
    share = (rej + fail) / orders if orders and rej is not None and fail is not None else None
    currency = ""
    if bundle.has("positions"):
        pos = bundle.table("positions")
        if "currency" in pos.columns and pos["currency"].notna().any():
            currency = _text(pos["currency"].dropna().iloc[0])
    parts = []
    if orders:
        parts.append(f"{rej + fail:,} of {orders:,} orders rejected or failed ({share:.0%})")
    if raw.get("signals"):
        parts.append(f"{raw['late_signals']:,} of {raw['signals']:,} signals slower than "
                     f"{config.severity.signal_latency_critical_s:g} s")
    if raw.get("reconcile_mismatches"):
        parts.append(f"{raw['reconcile_mismatches']} position(s) do not reconcile")
    if raw.get("open_positions") is not None:
        parts.append(f"{raw['open_positions']} open position(s)")
    return Impact(
        orders=orders,
        orders_rejected=rej,
        orders_failed=fail,
        rejected_share=share,
        signals=raw.get("signals"),
        signals_late=raw.get("late_signals"),
        signal_latency_max_s=raw.get("max_signal_latency_s"),
        positions_open=raw.get("open_positions"),
        reconcile_mismatches=raw.get("reconcile_mismatches"),
        exposure=raw.get("exposure"),
        currency=currency,
        services_down=tuple(raw.get("services_down") or ()),
        duration=duration,
        summary="; ".join(parts) if parts else "no trading data in the evidence",
    )


def _similar(similar: pd.DataFrame | None) -> dict[str, Any] | None:
    if similar is None or len(similar) == 0:
        return None
    top = similar.iloc[0]
    items = top.get("action_items")
    return {
        "incident_id": _text(top.get("incident_id")),
        "title": _text(top.get("title")),
        "score": float(top.get("score") or 0.0),
        "severity": _text(top.get("severity")),
        "report": _text(top.get("report")) if "report" in top else "",
        "open_action_items": list(items) if isinstance(items, (list, tuple)) else [],
    }


_LOOK_NEXT = (
    "broker: is the external broker answering? (`curl -I https://api.external-broker.com/`, execution errors)",
    "market-data feed: are prices fresh? (market_data_age, data-ingestor logs)",
    "database: locks and slow statements (`SELECT * FROM pg_locks WHERE NOT granted;`, pg_stat_statements)",
    "host: CPU, memory and disk of the containers (`docker stats --no-stream`)",
)


def _at_collection(bundle: EvidenceBundle, config: Config) -> list[str]:
    """Live checks (health, reconciliation) made long after the window ended, in words."""
    return list(severity_evidence(bundle, config).at_collection)


def _next_steps(sev: str, cause: Cause | None, broken: tuple[str, ...], bundle: EvidenceBundle) -> tuple[str, ...]:
    steps: list[str] = []
    if sev in ("P0", "P1"):
        steps.append("Decide whether to stop trading (`curl -X POST http://localhost:8080/emergency/stop-trading`)"
                     + (" — P0: page all hands now" if sev == "P0" else " — P1: page the dev team now"))
    if cause is not None and cause.kind == "deploy":
        back = f"to {cause.previous_tag}" if cause.previous_tag else "to the previous version"
        steps.append(f"Roll back {cause.service or 'the suspect service'} {back} "
                     f"(suspect: {cause.tag or cause.sha[:8]})")
    elif cause is not None:
        steps.append(f"Revert or undo {cause.kind} {cause.sha[:8] or cause.ref} on {cause.service or 'its service'} "
                     "and restart it")
    if bundle.has("pg_locks"):
        locks = bundle.table("pg_locks")
        if len(locks) and "root_blocker" in locks.columns:
            roots = locks["root_blocker"].dropna()
            if len(roots):
                pid = _text(roots.iloc[0])
                blocker = locks[locks["pid"].astype(str) == pid]
                what = _text(blocker["query"].iloc[0])[:120] if len(blocker) else ""
                steps.append(f"Blocking PostgreSQL pid {pid}" + (f" holds `{what}`" if what else "")
                             + f": confirm, then `SELECT pg_terminate_backend({pid});`")
    for svc in broken[:2]:
        steps.append(f"Check {svc}: `docker compose logs {svc} --tail=50`; restart if it is wedged "
                     f"(`docker compose restart {svc}`)")
    if sev in ("P0", "P1"):
        steps.append("Post the status update now and every 30 minutes (`eafix-forensics update INCIDENT --status "
                     "Investigating`)")
    else:
        steps.append("Post a status update every 2 hours")
    return tuple(steps)


def verdict(
    bundle: EvidenceBundle,
    *,
    config: Config | None = None,
    similar: pd.DataFrame | None = None,
) -> Verdict:
    """The :class:`Verdict` of ``bundle``.

    ``config`` defaults to the config the bundle was collected with; ``similar`` is
    the frame :func:`eafix_forensics.similar` gives for this bundle (its first row
    becomes ``Verdict.similar``).
    """
    cfg = config if config is not None else bundle_config(bundle)
    events = timeline(bundle)
    grace = bundle.window.end + pd.Timedelta(minutes=15)
    # Checks made at collection, long after the window, are not incident symptoms.
    in_time = events[events["timestamp"].isna() | (events["timestamp"] <= grace)]
    symptoms, chronic = _symptoms(in_time, metric_step(bundle))
    first = symptoms[0] if symptoms else None
    times = key_times(bundle)
    level, reasons = suggest_severity(bundle, cfg)
    ranked = suspects(bundle)
    cause: Cause | None = None
    if len(ranked) and float(ranked.iloc[0]["score"]) >= CAUSE_MIN_SCORE:
        cause = _cause(bundle, ranked.iloc[0], cfg)
    broken = tuple(s.service for s in symptoms if s.service)
    no_cause = "" if cause is not None else "no change explains these symptoms"
    look_next = () if cause is not None else _LOOK_NEXT
    if cause is None:
        confidence = "low" if symptoms else "low"
        basis = ("no change in the lookback scores above "
                 f"{CAUSE_MIN_SCORE:g}" if len(ranked) else "no change in the lookback")
    else:
        second = float(ranked.iloc[1]["score"]) if len(ranked) > 1 else 0.0
        margin = cause.score - second
        confidence = "high" if cause.score >= 0.6 and margin >= 0.2 else "medium" if margin >= 0.1 else "low"
        basis = f"score {cause.score:.2f}, {margin:.2f} ahead of the next change; {cause.reason}"
    detected = times.detection
    ttd = detected - first.timestamp if detected is not None and first is not None else None
    end = times.mitigation or bundle.window.end
    duration = end - first.timestamp if first is not None else None
    impact = _impact(bundle, cfg, duration)
    collected = _ts(bundle.manifest.get("collected_at"))
    at_collection = _at_collection(bundle, cfg)
    if first is not None:
        since = f"failing since {first.timestamp:%Y-%m-%d %H:%M:%S} UTC ({first.kind} on {first.service or '?'})"
        what = ", ".join(broken) or "the system"
    else:
        since, what = "no symptom in the evidence", "nothing"
    why = (f"likely cause: {cause.kind} {cause.tag or cause.sha[:8]} of {cause.service}" if cause is not None
           else "no change explains these symptoms")
    headline = f"{level} — {what} {since}; {why}"
    return Verdict(
        incident_id=_text(bundle.manifest.get("incident_id")),
        window_start=bundle.window.start,
        window_end=bundle.window.end,
        collected_at=collected,
        broken_services=broken,
        symptoms=symptoms,
        chronic=chronic,
        first_symptom=first,
        detected_at=detected,
        time_to_detect=ttd,
        severity=level,
        severity_reasons=tuple(reasons),
        cause=cause,
        no_cause=no_cause,
        look_next=look_next,
        confidence=confidence,
        confidence_basis=basis,
        impact=impact,
        next_steps=_next_steps(level, cause, broken, bundle),
        similar=_similar(similar),
        at_collection=tuple(at_collection),
        headline=headline,
    )
