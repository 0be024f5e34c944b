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

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..bundle import bundle_config
from ..config import Config
from ..model.topology import Topology
from .calendar import TradingCalendar
from .health import LIVE_CHECK_GRACE, failing_orders, impact_from_bundle
from .key_times import key_times
from .severity import (
    SeverityEvidence,
    down_periods,
    orders_stopped,
    severity_evidence,
    suggest_severity,
)
from .suspects import suspects
from .timeline import SYMPTOM_KINDS, failed_services, first_symptom, metric_step, timeline

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["CAUSE_MIN_SCORE", "Cause", "Impact", "Symptom", "Verdict", "verdict"]

#: A suspect scoring below this explains nothing well enough to be named the cause.
CAUSE_MIN_SCORE = 0.3
_SYMPTOM_KINDS = SYMPTOM_KINDS


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

    def change_label(self) -> str:
        """The change in a few words: its tag, else its short sha, else its ref."""
        return self.tag or (f"commit {self.sha[:8]}" if self.sha else self.ref)


def _kind_and_label(cause: Cause) -> str:
    """"deploy <tag>", "commit 1b022473" — the kind once, also when the label already names it."""
    label = cause.change_label()
    return label if label.startswith(f"{cause.kind} ") else f"{cause.kind} {label}"


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
    failing_share: float | None = None  # rejected/failed share while orders were failing
    failing_from: pd.Timestamp | None = None
    failing_until: pd.Timestamp | None = None
    orders_stopped: str = ""  # "no execution for 38 min of market time from 13:28 …", "" when they flowed
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
        plain: dict[str, Any] = _plain(asdict(self))
        return plain


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


def _impact(bundle: EvidenceBundle, config: Config, ev: SeverityEvidence, duration: pd.Timedelta | None) -> Impact:
    raw = impact_from_bundle(bundle, signal_latency_s=config.severity.signal_latency_critical_s)
    orders, rej, fail = raw.get("executions"), raw.get("rejected_executions"), raw.get("failed_executions")
    share = (rej + fail) / orders if orders and rej is not None and fail is not None else None
    failing = failing_orders(ev.executions)
    stopped = orders_stopped(ev, config) or ""
    currency = ""
    if bundle.has("positions"):
        pos = bundle.table("positions")
        for col in ("currency", "exposure_currency", "ccy"):
            if col in pos.columns and pos[col].notna().any():
                currency = _text(pos[col].dropna().iloc[0])
                break
    # Down during the incident: health checks made in time and up == 0 runs, not checks at collection.
    down = sorted({d[0] for d in down_periods(ev)})
    parts = []
    if failing is not None and failing.failed:
        parts.append(failing.describe() + (f"; {failing.failed:,} of {orders:,} in the window" if orders else ""))
    elif orders:
        parts.append(f"all {orders:,} orders in the window executed")
    if stopped:
        parts.append(stopped)
    if raw.get("signals"):
        parts.append(f"{raw['late_signals']:,} of {raw['signals']:,} signals slower than "
                     f"{config.severity.signal_latency_critical_s:g} s")
    if raw.get("reconcile_mismatches"):
        parts.append(f"{raw['reconcile_mismatches']} position(s) do not reconcile")
    if raw.get("open_positions") is not None:
        exposure = raw.get("exposure")
        parts.append(f"{raw['open_positions']} open position(s)"
                     + (f", exposure {exposure:,.0f}{' ' + currency if currency else ''}" if exposure else ""))
    for name in ("positions", "reconcile"):
        if bundle.status(name) == "unavailable":  # no answer: unknown, which is not "none"
            parts.append(f"{name}: no answer ({str(bundle.manifest['tables'][name].get('error') or 'unavailable')[:80]})")
    if down:
        parts.append(f"down: {', '.join(down)}")
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
        failing_share=failing.share if failing is not None and failing.failed else None,
        failing_from=failing.first if failing is not None else None,
        failing_until=failing.last if failing is not None else None,
        orders_stopped=stopped,
        services_down=tuple(down),
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


#: Where to look when no change explains the symptoms: (place, what to run, words in the
#: evidence that point there). Ordered by how much of the evidence points at each.
_PLACES = (
    ("broker", "is the external broker answering? (`curl -I https://api.external-broker.com/`, execution errors)",
     r"broker|venue|exchange|fix\b|35=|logon|order .*(?:reject|timeout)|not acknowledged|liquidity"),
    ("market-data feed", "are prices fresh? (market_data_age, {feeds} logs)",
     r"market.?data|feed|tick|quote|price|stale|sequence|{feed_names}"),
    ("database", "locks and slow statements (`SELECT * FROM pg_locks WHERE NOT granted;`, pg_stat_statements)",
     r"postgres|database|lock|deadlock|statement|sql|connection pool|too many (?:connections|clients)|connection slots|slow query|pg_"),
    ("host", "CPU, memory and disk of the containers (`docker stats --no-stream`, `df -h`)",
     r"disk|space|memory|oom|killed|cpu|no route|host|exited with code|panic|i/o|read-only file"),
)


def _look_next(events: pd.DataFrame, symptoms: tuple[Symptom, ...], config: Config) -> tuple[str, ...]:
    """The places to look next, the ones the symptoms point at first (the market-data
    services are ``[severity] market_data_services``)."""
    text = " ".join([s.summary for s in symptoms] + [s.service for s in symptoms]
                    + [_text(t) for t in events.loc[events["severity"].isin(("warning", "critical")), "summary"]]).lower()
    feeds = [f for f in config.severity.market_data_services if f] or ["market-data service"]
    names = "|".join(re.escape(f.lower()) for f in feeds)
    scored = []
    for i, (place, what_t, words_t) in enumerate(_PLACES):
        what = what_t.replace("{feeds}", ", ".join(feeds))
        words = words_t.replace("|{feed_names}", f"|{names}" if names else "")
        hits = len(re.findall(words, text))
        scored.append((-hits, i, f"{place}: {what}" + (f" — {hits} symptom mention(s)" if hits else "")))
    return tuple(x[2] for x in sorted(scored))


_PAGING = {
    "P0": "Page immediately, all hands; notify management now; call the trading desk (market hours)",
    "P1": "Page the dev team immediately; management within 30 minutes; notify the trading desk (market hours)",
    "P2": "Page during business hours; management gets the next business day summary",
    "P3": "Handle during business hours",
}


def _after_resolution(sev: str, cause: Cause | None, resolved: pd.Timestamp, bundle: EvidenceBundle) -> tuple[str, ...]:
    """The runbook's post-incident steps, for an incident already resolved."""
    iid = _text(bundle.manifest.get("incident_id")) or "INCIDENT"
    steps = [f"Resolved at {resolved:%Y-%m-%d %H:%M} UTC: watch the affected services closely for 24 hours",
             f"Post the Resolved update if it is not out yet (`eafix-forensics update {iid} --status Resolved`)"]
    if cause is not None:
        steps.append(f"Keep {cause.change_label()} out of production until its fix is reviewed")
    if sev in ("P0", "P1"):
        steps.append("Email the trading desk a summary within 1 hour of resolution")
    steps.append(f"Hold the post-incident review within 7 days (`eafix-forensics report {iid} --kind review`)")
    return tuple(steps)


def _next_steps(
    sev: str, cause: Cause | None, broken: tuple[str, ...], bundle: EvidenceBundle, config: Config,
    first: Symptom | None, resolved: pd.Timestamp | None = None,
) -> tuple[str, ...]:
    """The runbook's next steps for this situation, most urgent first (the post-incident
    steps once the incident record says it was resolved)."""
    if resolved is not None:
        return _after_resolution(sev, cause, resolved, bundle)
    steps: list[str] = []
    cal = TradingCalendar.from_config(config)
    now = first.timestamp if first is not None else bundle.window.end
    open_now = cal.is_open(now)
    if sev in ("P0", "P1"):
        if open_now:
            steps.append("Decide now whether to stop trading (`curl -X POST http://localhost:8080/emergency/stop-trading`);"
                         " the market was open when it began")
        else:
            steps.append("The market was closed when it began: no stop-trading decision; fix before the next open")
    steps.append(f"{sev}: {_PAGING.get(sev, _PAGING['P3'])}")
    users = Topology.from_config(config).consumers(cause.service) if cause is not None and cause.service else ()
    if cause is not None and users:
        back = f"to {cause.previous_tag}" if cause.previous_tag else "to its previous release"
        steps.append(f"Take library {cause.service} back {back} in the services that use it ({', '.join(users)}) "
                     f"and redeploy them (suspect: {cause.tag or cause.sha[:8]}, {cause.subject[:80]})")
    elif cause is not None and cause.kind == "deploy":
        back = f"to {cause.previous_tag}" if cause.previous_tag else "to its previous version"
        steps.append(f"Roll back {cause.service or 'the suspect service'} {back} "
                     f"(suspect: {cause.tag or cause.sha[:8]}, {cause.subject[:80]})")
    elif cause is not None and cause.kind == "restart":
        steps.append(f"Find what changed at the {cause.service} restart at {cause.timestamp:%H:%M:%S} UTC "
                     "(image, config, environment) and restore the previous one")
    elif cause is not None:
        steps.append(f"Revert {cause.change_label()} on {cause.service or 'its service'} and restart it")
    blocker = _blocker(bundle)
    if blocker:
        steps.append(blocker)
    for svc in broken[:2]:
        steps.append(f"Check {svc}: `docker compose logs {svc} --tail=50`; restart it if it is wedged "
                     f"(`docker compose restart {svc}`)")
    every = "30 minutes" if sev in ("P0", "P1") else "2 hours"
    steps.append(f"Post the status update now and every {every} (`eafix-forensics update "
                 f"{_text(bundle.manifest.get('incident_id')) or 'INCIDENT'} --status Investigating`)")
    return tuple(steps)


def _blocker(bundle: EvidenceBundle) -> str:
    """The runbook step for the PostgreSQL session at the root of a lock chain, if any."""
    if not bundle.has("pg_locks") or bundle.status("pg_locks") not in ("ok", "truncated"):
        return ""
    locks = bundle.table("pg_locks")
    if not len(locks) or "root_blocker" not in locks.columns:
        return ""
    waiting = locks[~locks["granted"].fillna(True).astype(bool)] if "granted" in locks.columns else locks
    roots = waiting["root_blocker"].dropna() if len(waiting) else locks["root_blocker"].dropna()
    if not len(roots):
        return ""
    pid = _text(roots.value_counts().index[0])
    rows = locks[locks["pid"].astype(str) == pid]
    query = _text(rows["query"].iloc[0]) if len(rows) else ""
    if not query and "blocker_query" in waiting.columns and waiting["blocker_query"].notna().any():
        query = _text(waiting["blocker_query"].dropna().iloc[0])
    app = _text(rows["application_name"].iloc[0]) if len(rows) and "application_name" in rows.columns else ""
    n = int((waiting["root_blocker"].astype(str) == pid).sum()) if len(waiting) else 0
    return (f"PostgreSQL pid {pid}" + (f" ({app})" if app else "") + f" blocks {n} waiting session(s)"
            + (f" holding `{query[:120]}`" if query else "")
            + f": confirm it is not needed, then `SELECT pg_terminate_backend({pid});`")


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
    grace = bundle.window.end + LIVE_CHECK_GRACE
    # Checks made at collection, long after the window, are not incident symptoms.
    in_time = events[events["timestamp"].isna() | (events["timestamp"] <= grace)]
    step = metric_step(bundle)
    symptoms, chronic = _symptoms(in_time, step)
    # The same rule as key_times(): the earliest symptom, an exact one within a metric step.
    first_row = first_symptom(in_time, metric_step=step)
    first = _symptom(first_row) if first_row is not None else None
    times = key_times(bundle)
    level, reasons = suggest_severity(bundle, cfg)
    ranked = suspects(bundle)
    cause: Cause | None = None
    if len(ranked) and float(ranked.iloc[0]["score"]) >= CAUSE_MIN_SCORE:
        cause = _cause(bundle, ranked.iloc[0], cfg)
    broken = tuple(s.service for s in symptoms if s.service)
    no_cause = "" if cause is not None else "no change explains these symptoms"
    look_next = () if cause is not None else _look_next(in_time, symptoms, cfg)
    if cause is None:
        closest = float(ranked.iloc[0]["score"]) if len(ranked) else 0.0
        # The further the closest change is from explaining anything, the surer "none" is.
        confidence = "high" if closest < CAUSE_MIN_SCORE / 3 else "medium" if closest < CAUSE_MIN_SCORE * 2 / 3 else "low"
        basis = (f"the closest change scores {closest:.2f} (a cause needs {CAUSE_MIN_SCORE:g}): "
                 f"{_text(ranked.iloc[0]['reason'])}" if len(ranked) else "no change in the lookback")
        if bundle.status("commits") not in ("ok", "empty", "truncated"):
            confidence = "low"
            basis = f"changes are unknown: the git source is {bundle.status('commits')} in this bundle; " + basis
    else:
        second = float(ranked.iloc[1]["score"]) if len(ranked) > 1 else 0.0
        margin = cause.score - second
        confidence = "high" if cause.score >= 0.6 and margin >= 0.2 else "medium" if margin >= 0.1 else "low"
        basis = f"score {cause.score:.2f}, {margin:.2f} ahead of the next change; {cause.reason}"
    detected = times.detection
    ttd = detected - first.timestamp if detected is not None and first is not None else None
    end = times.mitigation or bundle.window.end
    duration = end - first.timestamp if first is not None else None
    ev = severity_evidence(bundle, cfg)
    impact = _impact(bundle, cfg, ev, duration)
    collected = _ts(bundle.manifest.get("collected_at"))
    at_collection = list(ev.at_collection)
    if first is not None:
        since = f"failing since {first.timestamp:%Y-%m-%d %H:%M:%S} UTC ({first.kind} on {first.service or '?'})"
        what = ", ".join(broken) or "the system"
    else:
        since, what = "no symptom in the evidence", ""
    why = (f"likely cause: {_kind_and_label(cause)} of {cause.service or 'an unnamed service'}"
           if cause is not None else "no change explains these symptoms")
    headline = f"{level} — {what} {since}; {why}" if what else f"{level} — {since}; nothing to explain"
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
        next_steps=_next_steps(level, cause, broken, bundle, cfg, first, times.resolution),
        similar=_similar(similar),
        at_collection=tuple(at_collection),
        headline=headline,
    )
