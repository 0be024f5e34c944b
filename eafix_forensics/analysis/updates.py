"""The runbook's status update message, filled from the incident record.

The template is the runbook's "Update Template", shipped as package data in
``eafix_forensics/templates/incident_update.md.j2`` (the one copy to edit).
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import jinja2
import pandas as pd

from ..config import Config
from ..errors import ReportError
from .calendar import TradingCalendar
from .incident import Incident, incident_from_bundle, normalize_status
from .sla import TARGETS, _calendar_of

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["TEMPLATE_NAME", "update_message"]

TEMPLATE_NAME = "incident_update.md.j2"
_DEFAULT_ACTIONS = {
    "Investigating": "Investigating the cause",
    "Identified": "Cause identified; working on a fix",
    "Monitoring": "Fix applied; monitoring",
    "Resolved": "Resolved; post-incident review to follow",
}
# Without a severity the strictest cadence applies: better an update too early than late.
_UNCLASSIFIED_CADENCE = pd.Timedelta(minutes=30)

TimeLike: TypeAlias = str | dt.datetime | pd.Timestamp


def _when(ts: pd.Timestamp) -> str:
    return f"{ts.tz_convert('UTC'):%Y-%m-%d %H:%M} UTC"


def _as_text(value: TimeLike | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        ts = pd.Timestamp(value)
        return _when(ts if ts.tzinfo else ts.tz_localize("UTC"))
    return str(value)


def _template(path: str | Path | None) -> jinja2.Template:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    try:
        if path is not None:
            source = Path(path).read_text(encoding="utf-8")
        else:
            source = resources.files("eafix_forensics").joinpath("templates", TEMPLATE_NAME).read_text(encoding="utf-8")
        return env.from_string(source)
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"update template {path or TEMPLATE_NAME}: cannot read: {exc}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"update template {path or TEMPLATE_NAME}: line {exc.lineno}: {exc.message}") from exc


def update_message(
    incident: Incident | EvidenceBundle,
    status: str,
    *,
    impact: str | None = None,
    actions: str | None = None,
    eta: TimeLike | None = None,
    next_update: TimeLike | None = None,
    at: TimeLike | None = None,
    calendar: TradingCalendar | Config | None = None,
    template: str | Path | None = None,
) -> str:
    """The runbook's update message (🚨 INCIDENT UPDATE - ID / Status / Impact / Actions /
    ETA / Next Update) for ``incident`` at ``status``.

    Whatever is not given comes from the record: impact = severity, services and title;
    actions = the text of the record's latest update with this status (else its latest
    update); ETA = the resolution time, or the severity's resolution target; next update =
    the status time + the severity's cadence (30 min P0/P1, 2 h P2/P3). The status time
    ``at`` defaults to the record's latest update with this status, else now.
    Raises ConfigError for a status outside Investigating/Identified/Monitoring/Resolved.
    """
    bundle = None
    if not isinstance(incident, Incident):
        bundle = incident
        incident = incident_from_bundle(bundle)
    status = normalize_status(status)
    updates = incident.updates
    same = updates[updates["status"] == status]
    if at is not None:
        when = pd.Timestamp(at)
        when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    elif len(same):
        when = same["timestamp"].max()
    elif status == "Resolved" and incident.resolved_at is not None:
        when = incident.resolved_at
    else:
        when = pd.Timestamp.now(tz="UTC")
    targets = TARGETS.get(incident.severity or "")

    if impact is None:
        services = ", ".join(incident.services) or "service not recorded"
        impact = f"{services} ({incident.severity or 'unclassified'}): {incident.title or 'no title recorded'}"
    if actions is None:
        earlier = same[same["timestamp"] <= when] if len(same) else same
        pool = earlier if len(earlier) else updates[updates["timestamp"] <= when]
        texts = pool["text"].dropna()
        actions = str(texts.iloc[-1]) if len(texts) else _DEFAULT_ACTIONS[status]
    eta_text = _as_text(eta)
    if eta_text is None:
        if incident.resolved_at is not None and incident.resolved_at <= when:
            eta_text = f"Resolved at {_when(incident.resolved_at)}"
        elif status == "Resolved":
            eta_text = f"Resolved at {_when(when)}"
        elif targets is not None:
            cal = _calendar_of(calendar, bundle)
            deadline = cal.add(incident.triggered_at, targets.resolve, clock=targets.resolve_clock)
            eta_text = f"Not yet known; {incident.severity} resolution target {_when(deadline)}"
        else:
            eta_text = "Not yet known"
    next_text = _as_text(next_update)
    if next_text is None:
        if status == "Resolved":
            next_text = "None planned: incident resolved; post-incident review to follow"
        else:
            cadence = targets.update_every if targets is not None else _UNCLASSIFIED_CADENCE
            next_text = _when(when + cadence)
    try:
        return _template(template).render(
            incident_id=incident.incident_id, status=status, impact=impact, actions=actions,
            eta=eta_text, next_update=next_text, incident=incident,
        ).rstrip("\n")
    except jinja2.TemplateError as exc:
        raise ReportError(f"update template {template or TEMPLATE_NAME}: {exc}") from exc
