"""SLA clocks of an incident against the runbook's targets.

Targets per severity (runbook "Incident Metrics")::

            acknowledge  respond   resolve                      updates every
    P0      5 min        15 min    2 h  (market hours)          30 min
    P1      15 min       30 min    8 h  (market hours)          30 min
    P2      1 h          4 h       24 h                         2 h
    P3      4 h          24 h      5 business days              2 h

plus the communication SLAs: the initial update within the response target,
and the Resolved notice within 15 minutes of the fix. "Market hours" and
"business days" run on the trading calendar (``[calendar]``); the rest is wall
clock time from ``triggered_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..config import Config
from .calendar import TradingCalendar
from .incident import Incident, incident_from_bundle

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["SLA_COLUMNS", "TARGETS", "SlaTargets", "sla_report"]

_M = pd.Timedelta(minutes=1)
_H = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class SlaTargets:
    """One severity's targets; ``resolve_clock`` is wall, trading (market hours) or business."""

    acknowledge: pd.Timedelta
    respond: pd.Timedelta
    resolve: pd.Timedelta
    resolve_clock: str
    update_every: pd.Timedelta


TARGETS: dict[str, SlaTargets] = {
    "P0": SlaTargets(5 * _M, 15 * _M, 2 * _H, "trading", 30 * _M),
    "P1": SlaTargets(15 * _M, 30 * _M, 8 * _H, "trading", 30 * _M),
    "P2": SlaTargets(1 * _H, 4 * _H, 24 * _H, "wall", 2 * _H),
    "P3": SlaTargets(4 * _H, 24 * _H, pd.Timedelta(days=5), "business", 2 * _H),
}
RESOLUTION_NOTICE = 15 * _M
SLA_COLUMNS = (
    "sla", "target", "actual", "met", "margin", "clock", "started_at", "ended_at", "deadline", "detail",
)
_CLOCK_NAMES = {"wall": "wall clock", "trading": "market hours", "business": "business days"}


def _fmt(td: pd.Timedelta) -> str:
    sign = "-" if td < pd.Timedelta(0) else ""
    minutes = int(abs(td).total_seconds() // 60)
    d, rem = divmod(minutes, 1440)
    h, m = divmod(rem, 60)
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m or not (d or h) else ""]
    return sign + " ".join(p for p in parts if p)


class _Clock:
    def __init__(self, calendar: TradingCalendar) -> None:
        self.calendar = calendar

    def elapsed(self, clock: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Timedelta:
        if clock == "trading":
            return self.calendar.trading_time(start, end)
        if clock == "business":
            return self.calendar.business_time(start, end)
        return end - start


def _row(
    sla: str,
    target: pd.Timedelta,
    clock: str,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    *,
    clocks: _Clock,
    now: pd.Timestamp,
    closed: bool,
    what: str,
    noun: str,
) -> dict[str, Any]:
    """One SLA row: reached (met or missed), not reached but already overdue, or still running."""
    row: dict[str, Any] = {"sla": sla, "target": target, "clock": _CLOCK_NAMES[clock],
                           "started_at": start, "ended_at": end,
                           "deadline": clocks.calendar.add(start, target, clock=clock)}
    if end is not None:
        actual = clocks.elapsed(clock, start, end)
        met = bool(actual <= target)
        row.update(actual=actual, met=met, margin=target - actual,
                   detail=f"{what} after {_fmt(actual)} ({'within' if met else 'over'} {_fmt(target)})")
    elif closed:
        row.update(actual=pd.NaT, met=False, margin=pd.NaT, detail=f"no {noun} before the incident closed")
    else:
        so_far = clocks.elapsed(clock, start, now)
        if so_far > target:
            row.update(actual=pd.NaT, met=False, margin=target - so_far,
                       detail=f"no {noun} yet; overdue by {_fmt(so_far - target)}")
        else:
            row.update(actual=pd.NaT, met=pd.NA, margin=target - so_far,
                       detail=f"no {noun} yet; {_fmt(target - so_far)} left")
    return row


def _cadence(incident: Incident, every: pd.Timedelta, now: pd.Timestamp) -> dict[str, Any]:
    stop = incident.resolved_at if incident.resolved_at is not None else now
    times = [t for t in incident.updates["timestamp"] if incident.triggered_at <= t <= stop]
    points = [incident.triggered_at, *sorted(times), stop]
    gaps = [(b - a, a, b) for a, b in pairwise(points)]
    gap, a, b = max(gaps, key=lambda g: g[0])
    row: dict[str, Any] = {"sla": "update_cadence", "target": every, "clock": _CLOCK_NAMES["wall"],
                           "started_at": a, "ended_at": b, "deadline": a + every, "actual": gap,
                           "margin": every - gap}
    label = f"longest gap without an update {_fmt(gap)}, {a:%H:%M}→{b:%H:%M} UTC"
    if gap > every:
        row.update(met=False, detail=f"{label} (over {_fmt(every)})")
    elif incident.resolved_at is None:
        row.update(met=pd.NA, detail=f"{label}; open, next update due {b - gap + every:%H:%M} UTC")
    else:
        row.update(met=True, detail=f"{label} (within {_fmt(every)})")
    return row


def _calendar_of(calendar: TradingCalendar | Config | None, bundle: EvidenceBundle | None) -> TradingCalendar:
    if isinstance(calendar, TradingCalendar):
        return calendar
    if isinstance(calendar, Config):
        return TradingCalendar.from_config(calendar)
    if bundle is not None:
        section = (bundle.manifest.get("config") or {}).get("calendar")
        if isinstance(section, dict):
            return TradingCalendar.from_config(section)
    return TradingCalendar.from_config()


def sla_report(
    incident: Incident | EvidenceBundle,
    *,
    calendar: TradingCalendar | Config | None = None,
    now: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """One row per SLA of ``incident`` (an Incident, or a bundle holding one).

    Rows: acknowledge, respond, resolve, initial_update, update_cadence,
    resolution_notice. Columns: sla, target, actual, margin (Timedeltas on the row's
    clock; margin = target - actual, negative when missed), met (True/False, <NA>
    while an open incident has neither met nor missed it yet), clock (wall clock,
    market hours, business days), started_at, ended_at, deadline (UTC), detail.

    An open incident is measured at ``now`` (default: when the record was read, else
    the current time); a milestone it has not reached but whose target has passed is
    missed (met False, negative margin). With no severity, targets are unknown: all
    rows have met <NA>. The calendar defaults to the bundle's ``[calendar]`` or the FX week.
    """
    bundle = None
    if not isinstance(incident, Incident):
        bundle = incident
        incident = incident_from_bundle(bundle)
    cal = _calendar_of(calendar, bundle)
    clocks = _Clock(cal)
    if now is not None:
        at = pd.Timestamp(now)
        at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    else:
        at = incident.as_of if incident.as_of is not None else pd.Timestamp.now(tz="UTC")
    targets = TARGETS.get(incident.severity or "")
    if targets is None:
        rows = [{"sla": s, "detail": "severity not set: no targets"} for s in
                ("acknowledge", "respond", "resolve", "initial_update", "update_cadence", "resolution_notice")]
        return _frame(rows)
    closed = incident.resolved_at is not None
    t0 = incident.triggered_at
    updates = incident.updates
    first_update = updates["timestamp"].min() if len(updates) else None
    common = {"clocks": clocks, "now": at, "closed": closed}
    rows = [
        _row("acknowledge", targets.acknowledge, "wall", t0, incident.acknowledged_at, what="acknowledged", noun="acknowledgement", **common),
        _row("respond", targets.respond, "wall", t0, incident.responded_at, what="responded", noun="response", **common),
        _row("resolve", targets.resolve, targets.resolve_clock, t0, incident.resolved_at,
             what="resolved", noun="resolution", clocks=clocks, now=at, closed=False),
        _row("initial_update", targets.respond, "wall", t0,
             None if first_update is None or pd.isna(first_update) else first_update,
             what="first update posted", noun="status update", **common),
        _cadence(incident, targets.update_every, at),
    ]
    if closed:
        assert incident.resolved_at is not None
        resolved_notes = updates.loc[updates["status"] == "Resolved", "timestamp"]
        note = resolved_notes.min() if len(resolved_notes) else None
        # A notice posted a moment before resolved_at was recorded still counts as immediate.
        end = max(note, incident.resolved_at) if note is not None else None
        rows.append(_row("resolution_notice", RESOLUTION_NOTICE, "wall", incident.resolved_at, end,
                         what="Resolved update posted", noun="Resolved update", **common))
    else:
        rows.append({"sla": "resolution_notice", "target": RESOLUTION_NOTICE, "clock": _CLOCK_NAMES["wall"],
                     "detail": "incident not resolved yet"})
    return _frame(rows)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows).reindex(columns=list(SLA_COLUMNS))
    for c in ("target", "actual", "margin"):
        df[c] = pd.to_timedelta(df[c]).astype("timedelta64[ns]")
    for c in ("started_at", "ended_at", "deadline"):
        df[c] = pd.to_datetime(df[c], utc=True).astype("datetime64[ns, UTC]")
    df["met"] = df["met"].astype(object).where(df["met"].notna(), None).astype("boolean")
    for c in ("sla", "clock", "detail"):
        df[c] = df[c].astype(object).where(df[c].notna(), None).astype(pd.StringDtype(na_value=np.nan))
    return df
