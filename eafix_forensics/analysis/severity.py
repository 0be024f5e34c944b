"""Suggested severity: the runbook's P0-P3 classification applied to the evidence.

Each rule of the runbook is one function ``rule(evidence, config) -> str | None``
that returns the reason in words when the evidence meets it, else None.
:func:`suggest_severity` runs them all; the level is the highest one met.

==== ================================= ===========================================
P0   complete outage in market hours   every critical service down at once, market open
P0   position data corruption          reconciliation mismatches
P0   risk-manager failure              the risk service down, or its clients' errors saying it
                                       does not answer (a hang: process up, log silent)
P0   security breach                   log lines / incident title naming one
P1   partial outage affecting trading  a critical (trading-path) service down, or a share of
                                       the window's orders rejected/failed (rejected_share_outage)
P1   signal latency above 5 s          signal latency p95 or signals above the threshold
P1   reconciliation failure            reconciliation could not run (the endpoint answered
                                       so, or with an HTTP error; no answer is no evidence)
P1   market-data interruption          prices stale, or the market-data service down
P2   non-critical service down         a service with ``critical = false`` down
P2   performance degradation           latency/error-rate warning breaches, degraded health,
                                       some orders rejected/failed (rejected_share_degraded)
P2   service errors                    an error burst in a service's logs
P2   data-quality or monitoring issue  a source unavailable or cut, malformed log lines
P3   otherwise
==== ================================= ===========================================

Thresholds are ``[severity]`` in the config; market hours are the ``[calendar]``
trading week (default the FX week); "critical" is ``[services.NAME] critical``.

The rules grade the incident by the window's own evidence. Metric breaches are
judged against each series' baseline (:func:`eafix_forensics.analysis.metrics.breaches`):
a chronic condition or the series' usual noise grades nothing. A service is down
by ``up == 0`` (its series named by the ``service``, else ``job``, else
``instance`` label) or by a health check. Live checks (health, reconcile) made
more than :data:`LIVE_CHECK_GRACE` after the window ended describe the system at
collection, not the incident: they are reported (``at collection``, with their
date-time) and grade nothing.

Every market-hours question is asked about the incident's time — a down period's own
times, a check made just after the window at the window's end, the price-age series'
samples — never about when the bundle was collected or the report is read. Price age
counts only with the market open, from ``[calendar] open_grace`` after each open.
Rules that read a source's answers (:data:`NEEDS_ANSWER`) do not fire when it gave
none; :func:`severity_table` says "no answer" for them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..bundle import bundle_config
from ..config import Config
from .health import FailingOrders, failing_orders
from .logs import symptom_errors
from .reports import reported_unanswered
from .rule_evidence import (
    _DOWN,
    SeverityEvidence,
    _calendar,
    _describe_down,
    _down,
    _down_in_hours,
    _ensure_breaches,
    _hm,
    _live_breaches,
    _name_of,
    _norm,
    _runs,
    _series,
    _trading,
    _true_runs,
    _up_runs,
    _up_services,
    down_periods,
    incident_time,
    severity_evidence,
)

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

LEVELS = ("P0", "P1", "P2", "P3")
_NOTICE_LEVELS = ("WARNING", "ERROR", "CRITICAL")

__all__ = [
    "LEVELS",
    "NEEDS_ANSWER",
    "RULES",
    "SeverityEvidence",
    "complete_outage_in_market_hours",
    "data_quality_or_monitoring_issue",
    "down_periods",
    "market_data_interruption",
    "no_answer",
    "non_critical_service_down",
    "orders_stopped",
    "partial_outage_affecting_trading",
    "performance_degradation",
    "position_data_corruption",
    "reconciliation_failure",
    "risk_manager_failure",
    "security_breach",
    "service_errors",
    "severity_evidence",
    "severity_table",
    "signal_latency_above_threshold",
    "suggest_severity",
]

# ------------------------------------------------------------------ P0
def complete_outage_in_market_hours(ev: SeverityEvidence, config: Config) -> str | None:
    """P0 "complete system outage during market hours": at some moment every
    critical service was down at once (one health snapshot with all of them
    down/unreachable, or ``up == 0`` for all of them overlapping) while the
    ``[calendar]`` market was open. Every critical service must be seen: a
    service without evidence is not assumed down."""
    _ensure_breaches(ev, config)
    critical = {s for s, c in ev.critical.items() if c}
    if not critical:
        return None
    cal = _calendar(config)
    h = ev.health
    if h is not None and len(h) and "checked_at" in h.columns:
        snap = h.assign(_at=h["checked_at"].dt.floor("min"))
        for at, g in snap.groupby("_at", sort=True):
            down = set(g.loc[g["status"].astype(object).map(lambda v: str(v).lower() in _DOWN), "service"])
            # A check made just after the window stands for the window's end (the incident's time).
            when = incident_time(at, ev.window)
            if critical <= set(g["service"]) and critical <= down and cal.is_open(when):
                return (f"complete outage during market hours: all {len(critical)} critical services "
                        f"down in the health check at {_hm(at)} UTC with the market open")
    runs = _up_runs(ev)
    if len(runs):
        up = _series(ev, "up")
        seen = {_norm(s) for s in _up_services(up)} if len(up) else set(runs["service"].map(_norm))
        # Every critical service Prometheus scrapes (at least two of them) down at once.
        targets = {s for s in seen if ev.is_critical(_name_of(ev, s))}
        runs = runs.assign(_svc=runs["service"].map(_norm))
        if len(targets) >= 2 and set(runs["_svc"]) >= targets:
            for t in sorted(runs["start"]):
                covering = [runs[(runs["_svc"] == s) & (runs["start"] <= t) & (runs["end"] > t)] for s in targets]
                if all(len(c) for c in covering):
                    end = min(c["end"].max() for c in covering)
                    open_for = cal.trading_time(t, end)
                    if open_for > pd.Timedelta(0):
                        return (f"complete outage during market hours: all {len(targets)} critical services "
                                f"up == 0 from {_hm(t)} to {end:%H:%M} UTC, {int(open_for.total_seconds() // 60)} min "
                                "of it with the market open")
    return None



def position_data_corruption(ev: SeverityEvidence, config: Config) -> str | None:
    """P0 "data corruption affecting positions": at least
    ``[severity] reconcile_mismatches_min`` positions whose reconciliation with the
    broker is a ``mismatch``."""
    r = ev.reconcile
    if r is None or len(r) == 0 or "status" not in r.columns:
        return None
    bad = r[r["status"].astype(object).map(lambda v: str(v).lower() == "mismatch")]
    if len(bad) < config.severity.reconcile_mismatches_min:
        return None
    which = ", ".join(
        f"{a} {s}" for a, s in zip(bad.get("account", [""] * len(bad)), bad.get("symbol", [""] * len(bad)), strict=False)
    )
    return f"data corruption affecting positions: {len(bad)} position(s) do not reconcile with the broker ({which})"


def risk_manager_failure(ev: SeverityEvidence, config: Config) -> str | None:
    """P0 "risk management system failure": the ``[severity] risk_service``
    (risk-manager) down — a health check down/unreachable or ``up == 0`` — while the
    market is open; or, when it hangs (process up, log silent), at least
    ``[severity] errors_min`` error lines of one of its clients saying it does not answer
    (timed out, unavailable, 504 …) while the market is open."""
    _ensure_breaches(ev, config)
    svc = config.severity.risk_service
    hits = [d for d in _down_in_hours(ev, config) if _norm(d[0]) == _norm(svc)]
    parts = [_describe_down(hits)] if hits else []
    for r in reported_unanswered(ev.logs, svc):
        if r["errors"] >= config.severity.errors_min and _trading(config, r["first"], r["last"]):
            parts.append(f"{r['reporter']} reports {svc} not answering from {r['first']:%H:%M:%S} to "
                         f"{r['last']:%H:%M:%S} ({r['errors']} errors, first: {r['example'][:100]})")
    return f"risk management failure: {'; '.join(parts)}" if parts else None


def security_breach(ev: SeverityEvidence, config: Config) -> str | None:
    """P0 "security breach with active exploitation": a WARNING/ERROR/CRITICAL log
    line or the incident title matching one of ``[severity] security_patterns``
    (case-insensitive)."""
    patterns = [re.compile(p, re.IGNORECASE) for p in config.severity.security_patterns]
    if not patterns:
        return None
    found: list[str] = []
    for p in patterns:
        if p.search(ev.incident_title):
            found.append(f"incident title {ev.incident_title!r}")
            break
    logs = ev.logs
    if logs is not None and len(logs):
        notice = logs[logs["level"].isin(_NOTICE_LEVELS)]
        msgs = notice["message"].astype(object).map(lambda v: "" if pd.isna(v) else str(v))
        hit = msgs.map(lambda m: any(p.search(m) for p in patterns))
        if hit.any():
            first = notice[hit.to_numpy()].iloc[0]
            found.append(
                f"{int(hit.sum())} log line(s), first {first['service']} at {first['timestamp']:%H:%M:%S}: "
                f"{str(first['message'])[:120]}"
            )
    return f"security breach: {'; '.join(found)}" if found else None


# ------------------------------------------------------------------ P1
def partial_outage_affecting_trading(ev: SeverityEvidence, config: Config) -> str | None:
    """P1 "partial system outage affecting trading": at least one critical
    (trading-path) service down while the market is open — a health check
    down/unreachable or ``up == 0`` — or at least ``[severity] rejected_min`` orders
    and ``rejected_share_outage`` of the orders rejected or failed while orders were failing."""
    _ensure_breaches(ev, config)
    parts = []
    hits = [d for d in _down_in_hours(ev, config) if ev.is_critical(d[0])]
    if hits:
        parts.append(_describe_down(hits))
    share = _rejected(ev)
    if share is not None and share.failed >= config.severity.rejected_min \
            and share.share >= config.severity.rejected_share_outage:
        parts.append(share.describe())
    stopped = orders_stopped(ev, config)
    if stopped:
        parts.append(stopped)
    return f"partial outage affecting trading: {'; '.join(parts)}" if parts else None


#: Executions needed in a window to know its usual order rate.
ORDERS_MIN_FOR_RATE = 20
#: A gap this many times the usual spacing (and at least ``[severity] orders_gap_min``) is orders stopping.
ORDERS_GAP_FACTOR = 20


def orders_stopped(ev: SeverityEvidence, config: Config) -> str | None:
    """"Are orders executing?": the longest stretch of market-open time without an
    execution, when orders usually flow (at least :data:`ORDERS_MIN_FOR_RATE` in the
    window) and the stretch is :data:`ORDERS_GAP_FACTOR` times their usual spacing and
    at least ``[severity] orders_gap_min``."""
    ex = ev.executions
    if ex is None or len(ex) < ORDERS_MIN_FOR_RATE or "timestamp" not in ex.columns or ev.window is None:
        return None
    ts = ex["timestamp"].dropna().sort_values(kind="stable")
    if len(ts) < ORDERS_MIN_FOR_RATE:
        return None
    usual = ts.diff().dropna().median()
    edges = [ev.window.start, *ts.tolist(), ev.window.end]
    cal = _calendar(config)
    # Market time never exceeds wall time: look at the longest wall gaps first, stop when
    # the next one is shorter than the longest market-time gap found.
    gaps = sorted(itertools.pairwise(edges), key=lambda p: p[1] - p[0], reverse=True)
    best: tuple[pd.Timedelta, pd.Timestamp, pd.Timestamp] | None = None
    for a, b in gaps:
        if best is not None and b - a <= best[0]:
            break
        open_for = cal.trading_time(a, b)
        if best is None or open_for > best[0]:
            best = (open_for, a, b)
    if best is None:
        return None
    gap, a, b = best
    if gap < max(pd.Timedelta(config.severity.orders_gap_min), ORDERS_GAP_FACTOR * usual):
        return None
    until = f"to {b:%H:%M} UTC" if b != ev.window.end else "to the end of the window"
    return (f"orders stopped: no execution for {int(gap.total_seconds() // 60)} min of market time "
            f"from {a:%H:%M} {until} (usually one every {usual.total_seconds():.0f} s)")


def _rejected(ev: SeverityEvidence) -> FailingOrders | None:
    return failing_orders(ev.executions)


def service_errors(ev: SeverityEvidence, config: Config) -> str | None:
    """P2 "service errors / data quality": an error burst in a service's logs, or at
    least ``[severity] errors_min`` errors in one service that are symptoms (not its
    steady background, not caused by a mitigation)."""
    parts: list[str] = []
    b = ev.bursts
    if b is not None and len(b):
        parts.extend(f"error burst in {r.service or 'unknown service'}: {int(r.errors)} errors from {r.start:%H:%M:%S}"
                     for r in b.itertuples(index=False))
    errs = symptom_errors(ev.logs)
    if len(errs):
        svc = errs["service"].astype(object).where(errs["service"].notna(), "")
        seen = {str(r.service) for r in b.itertuples(index=False)} if b is not None and len(b) else set()
        # The service that erred first is named first (ties by exact time, then name).
        groups = sorted(errs.groupby(svc.to_numpy(), sort=True), key=lambda kv: (kv[1]["timestamp"].min(), kv[0]))
        for service, g in groups:
            if len(g) >= config.severity.errors_min and service not in seen:
                first = g.sort_values("timestamp", kind="stable")
                parts.append(f"{len(g)} errors in {service or 'unknown service'} from {first['timestamp'].iloc[0]:%H:%M:%S}: "
                             f"{str(first['message'].iloc[0])[:100]}")
    return f"service errors: {'; '.join(parts[:4])}" if parts else None


def _above(
    ev: SeverityEvidence, name: str, threshold: float, state: str,
) -> tuple[pd.DataFrame, pd.Series] | None:
    """The non-chronic runs where catalogue metric ``name`` is in rule ``state`` (its
    threshold ``threshold``), and the run with the highest peak; None when it never is."""
    if ev.breaches is not None:
        runs = _live_breaches(ev, name, state)
    else:
        series = _series(ev, name)
        if not len(series):
            return None
        runs = _runs(series, series["value"] > threshold)
    if not len(runs):
        return None
    runs = runs.reset_index(drop=True)
    return runs, runs.loc[runs["peak"].astype(float).idxmax()]


def signal_latency_above_threshold(ev: SeverityEvidence, config: Config) -> str | None:
    """P1 "significant latency increase (>5 s for signals)": the signal latency p95
    metric above ``[severity] signal_latency_critical_s``, or at least
    ``late_signals_min`` signals slower than it."""
    _ensure_breaches(ev, config)
    thr = config.severity.signal_latency_critical_s
    parts: list[str] = []
    if over := _above(ev, "signal_latency_p95", thr, "critical"):
        runs, top = over
        parts.append(
            f"signal_latency_p95 above {thr:g} s from {runs['start'].min():%H:%M} to {runs['end'].max():%H:%M} "
            f"(peak {top['peak']:.1f} s at {top['peak_at']:%H:%M})"
        )
    sg = ev.signals
    if sg is not None and len(sg) and "latency_ms" in sg.columns:
        seconds = pd.to_numeric(sg["latency_ms"], errors="coerce") / 1000.0
        late = int((seconds > thr).sum())
        if late >= config.severity.late_signals_min:
            parts.append(f"{late} of {len(sg)} signals slower than {thr:g} s (max {seconds.max():.1f} s)")
    return f"signal latency above {thr:g} s: {'; '.join(parts)}" if parts else None


#: An error text saying the service answered (with an HTTP error status), not that nothing answered.
_ANSWERED = re.compile(r"\bHTTP [45]\d\d\b")
#: Rules that read a source's answers: when it gave none, they say "no answer" and do not fire.
NEEDS_ANSWER = {"position_data_corruption": "reconcile", "reconciliation_failure": "reconcile"}


def no_answer(ev: SeverityEvidence, table: str) -> str | None:
    """Why ``table`` holds no answer for the incident ("reconcile unavailable: connection
    refused"), None when it answered (even with an HTTP error status)."""
    entry = ev.tables.get(table) or {}
    status = ev.reconcile_status if table == "reconcile" else str(entry.get("status") or "missing")
    err = str(entry.get("error") or "")
    if status in ("ok", "empty", "truncated") or (status == "unavailable" and _ANSWERED.search(err)):
        return None
    return f"{table} {status}" + (f": {err[:120]}" if err else "")


def reconciliation_failure(ev: SeverityEvidence, config: Config) -> str | None:
    """P1 "position reconciliation failure": the reconciliation could not be done — the
    reconcile endpoint answered with an HTTP error status, or a reconciliation row has a
    status other than match/mismatch (error, failed…). When nothing answered (connection
    refused, timeout, every service unreachable) there is no answer to grade: the rule does
    not fire and the data-quality rule names the missing source."""
    if ev.reconcile_status == "unavailable" and no_answer(ev, "reconcile") is None:
        err = (ev.tables.get("reconcile") or {}).get("error")
        return f"position reconciliation failure: the reconcile endpoint answered {str(err)[:160]}"
    r = ev.reconcile
    if r is not None and len(r) and "status" in r.columns:
        st = r["status"].astype(object).map(lambda v: "" if pd.isna(v) else str(v).lower())
        bad = st[~st.isin(("match", "mismatch", ""))]
        if len(bad):
            return f"position reconciliation failure: {len(bad)} position(s) reconciled with status {sorted(set(bad))}"
    return None


def _stale_in_hours(
    ev: SeverityEvidence, config: Config,
) -> list[tuple[str, pd.Timestamp, pd.Timestamp, float, pd.Timestamp]]:
    """(series, start, end, oldest age, last fresh price) of every stretch where
    ``market_data_age`` is over ``[severity] price_staleness_s`` while the market is open
    (from ``[calendar] open_grace`` after the open), for at least that long. Prices stop
    when the market closes, so closed hours are no evidence; a series stale in most of its
    baseline's market hours (an illiquid symbol) is chronic and left out. The last fresh
    price is the first stale sample's time minus its age, not before the open plus grace."""
    m = _series(ev, "market_data_age")
    if not len(m):
        return []
    cal = _calendar(config)
    thr = config.severity.price_staleness_s
    base = ev.baseline
    if base is not None and len(base):
        base = base[base["name"] == "market_data_age"] if "name" in base.columns else base.iloc[0:0]
    out: list[tuple[str, pd.Timestamp, pd.Timestamp, float, pd.Timestamp]] = []
    for series, g in m.sort_values("timestamp", kind="stable").groupby("series", sort=True):
        if base is not None and len(base):
            b = base[base["series"] == series]
            b_open = cal.open_mask(b["timestamp"], after_open=cal.open_grace) if len(b) else np.zeros(0, dtype=bool)
            if b_open.sum() >= 10 and float((b["value"].to_numpy()[b_open] > thr).mean()) >= 0.5:
                continue
        ts = g["timestamp"].reset_index(drop=True)
        vals = g["value"].to_numpy(dtype=np.float64)
        hit = cal.open_mask(ts, after_open=cal.open_grace) & (vals > thr)
        for i, j in _true_runs(hit):
            if j > i and (ts[j] - ts[i]).total_seconds() >= thr:
                last = ts[i] - pd.Timedelta(seconds=float(vals[i]))
                opened = cal.opened_at(ts[i])
                if opened is not None:
                    last = max(last, opened + cal.open_grace)
                out.append((str(series), ts[i], ts[j], float(np.nanmax(vals[i : j + 1])), last))
    return out


def market_data_interruption(ev: SeverityEvidence, config: Config) -> str | None:
    """P1 "market data feed interruption": price data older than
    ``[severity] price_staleness_s`` (``market_data_age``) for at least that long while
    the market is open (prices stop when it closes, and need ``[calendar] open_grace`` to
    resume after the open; a symbol stale in most of its baseline's market hours is
    chronic), or one of ``market_data_services`` (data-ingestor) down while the market is open."""
    _ensure_breaches(ev, config)
    thr = config.severity.price_staleness_s
    parts: list[str] = []
    stale = _stale_in_hours(ev, config)
    if stale:
        top = max(stale, key=lambda r: r[3])
        first = min(stale, key=lambda r: r[4])
        parts.append(
            f"prices older than {thr:g} s with the market open from {min(r[1] for r in stale):%H:%M} to "
            f"{max(r[2] for r in stale):%H:%M} (last fresh price {first[4]:%H:%M:%S}, {first[0]}; "
            f"oldest {top[3]:.0f} s, {top[0]})"
        )
    feeds = {_norm(x) for x in config.severity.market_data_services}
    hits = [d for d in _down_in_hours(ev, config) if _norm(d[0]) in feeds]
    if hits:
        parts.append(_describe_down(hits))
    return f"market data interruption: {'; '.join(parts)}" if parts else None


# ------------------------------------------------------------------ P2
def non_critical_service_down(ev: SeverityEvidence, config: Config) -> str | None:
    """P2 "individual service outage (non-critical path)": a service whose
    ``[services.NAME] critical`` is false seen down; or any service down only while
    the market is closed (no trading to affect)."""
    _ensure_breaches(ev, config)
    parts = []
    hits = [d for d in _down(ev) if not ev.is_critical(d[0])]
    if hits:
        parts.append(f"non-critical service down: {_describe_down(hits)}")
    closed = [d for d in _down_in_hours(ev, config, open_market=False) if ev.is_critical(d[0])]
    if closed:
        parts.append(f"service outage with the market closed (no trading affected): {_describe_down(closed)}")
    return "; ".join(parts) if parts else None


def performance_degradation(ev: SeverityEvidence, config: Config) -> str | None:
    """P2 "performance degradation (<5 s latency)": a warning-severity breach of the
    query catalogue (signal latency above ``signal_latency_normal_s``, HTTP 5xx rate
    above ``error_rate_degraded``, slow order execution…), a health check
    answering ``degraded``, a slow statement or lock wait in PostgreSQL, or a share of
    orders rejected/failed (``rejected_share_degraded``)."""
    _ensure_breaches(ev, config)
    parts: list[str] = []
    # Trading impact first: it is what the reader has to weigh.
    share = _rejected(ev)
    if share is not None and share.share >= config.severity.rejected_share_degraded \
            and share.failed >= config.severity.rejected_min and share.share < config.severity.rejected_share_outage:
        parts.append(share.describe())
    if ev.breaches is not None and len(ev.breaches):
        found = ev.breaches
        warn = found[(found["severity"] == "warning") & ~found["chronic"].fillna(False).astype(bool)]
        for b in warn.itertuples(index=False):
            parts.append(f"{b.summary} ({b.service or b.series}, {b.start:%H:%M}-{b.end:%H:%M}, peak {b.peak:.3g})")
    db = ev.database
    if db is not None and len(db):
        for r in db[db["severity"].isin(("warning", "critical"))].head(2).itertuples(index=False):
            parts.append(f"{str(r.summary)[:160]} ({r.timestamp:%H:%M})")
    h = ev.health
    if h is not None and len(h):
        deg = h[h["status"].astype(object).map(lambda v: str(v).lower() == "degraded")]
        for _, r in deg.iterrows():
            parts.append(f"{r['service']} health degraded at {r['checked_at']:%H:%M}")
    more = f"; and {len(parts) - 5} more" if len(parts) > 5 else ""
    return f"performance degradation: {'; '.join(parts[:5])}{more}" if parts else None


def data_quality_or_monitoring_issue(ev: SeverityEvidence, config: Config) -> str | None:
    """P2 "data quality issues / monitoring system issues": a source the config
    names was unavailable or truncated (the investigation is partly blind), or
    log lines could not be parsed (malformed). Skipped sources do not count."""
    parts: list[str] = []
    by_source: dict[str, list[str]] = {}
    for name, entry in sorted(ev.tables.items()):
        status = entry.get("status")
        if status in ("unavailable", "truncated"):
            err = str(entry.get("error") or "")
            why = "" if status != "unavailable" or _ANSWERED.search(err) else f" (no answer{': ' + err[:60] if err else ''})"
            by_source.setdefault(str(entry.get("source") or name), []).append(f"{name} {status}{why}")
    for src, what in by_source.items():
        parts.append(f"{src}: {', '.join(what)}")
    malformed = int(((ev.tables.get("logs") or {}).get("details") or {}).get("malformed") or 0)
    if malformed:
        parts.append(f"{malformed} malformed log line(s)")
    return f"data-quality or monitoring issue: {'; '.join(parts)}" if parts else None


Rule = Callable[[SeverityEvidence, Config], "str | None"]
#: (level, rule) in the runbook's order.
RULES: tuple[tuple[str, Rule], ...] = (
    ("P0", complete_outage_in_market_hours),
    ("P0", position_data_corruption),
    ("P0", risk_manager_failure),
    ("P0", security_breach),
    ("P1", partial_outage_affecting_trading),
    ("P1", signal_latency_above_threshold),
    ("P1", reconciliation_failure),
    ("P1", market_data_interruption),
    ("P2", non_critical_service_down),
    ("P2", performance_degradation),
    ("P2", service_errors),
    ("P2", data_quality_or_monitoring_issue),
)


def _evaluate(ev: SeverityEvidence, config: Config) -> list[tuple[str, str, str | None]]:
    return [(level, rule.__name__, rule(ev, config)) for level, rule in RULES]


def severity_table(bundle: EvidenceBundle, config: Config | None = None) -> pd.DataFrame:
    """Every severity rule on ``bundle``: columns level, rule, met (bool), reason
    (empty when not met; "no answer: …" when a rule that reads a source's answers,
    :data:`NEEDS_ANSWER`, had none), in the runbook's order."""
    cfg = config if config is not None else bundle_config(bundle)
    ev = severity_evidence(bundle, cfg)
    rows = []
    for lv, name, reason in _evaluate(ev, cfg):
        why = ""
        if reason is None and name in NEEDS_ANSWER:
            missing = no_answer(ev, NEEDS_ANSWER[name])
            why = f"no answer: {missing}" if missing else ""
        rows.append({"level": lv, "rule": name, "met": reason is not None, "reason": reason or why})
    return pd.DataFrame(rows, columns=["level", "rule", "met", "reason"])


def suggest_severity(bundle: EvidenceBundle, config: Config | None = None) -> tuple[str, list[str]]:
    """The runbook severity the evidence in ``bundle`` suggests, and why.

    Returns ``(level, reasons)``: level is "P0".."P3", the highest level whose
    rule is met (P3 when none is); reasons has one line per rule met, highest
    level first, each prefixed with its level (``"P1: signal latency above 5 s:
    …"``). ``config`` defaults to the config the bundle was collected with.
    """
    cfg = config if config is not None else bundle_config(bundle)
    met = [(lv, reason) for lv, _, reason in _evaluate(severity_evidence(bundle, cfg), cfg) if reason]
    if not met:
        return "P3", ["P3: no P0-P2 rule of the runbook is met by the evidence"]
    level = min(lv for lv, _ in met)
    return level, [f"{lv}: {reason}" for lv, reason in sorted(met, key=lambda x: LEVELS.index(x[0]))]
