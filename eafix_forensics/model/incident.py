"""The incident record as data: the :class:`Incident` object and its bundle tables.

An incident has an identity, a severity (P0-P3), the four milestones
(:data:`MILESTONES`), status updates in the runbook's words
(:data:`UPDATE_STATUSES`) and action items. A bundle holds it as three tables,
``incident`` (one row), ``incident_updates`` and ``action_items``:
:func:`incident_tables` writes them and :func:`incident_from_tables` reads them
back. No IO: :mod:`eafix_forensics.sources.incident` reads records,
:mod:`eafix_forensics.analysis.incident` turns them into timeline events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BundleError, ConfigError
from .times import is_missing, to_utc

__all__ = [
    "ACTION_COLUMNS",
    "INCIDENT_COLUMNS",
    "MILESTONES",
    "SEVERITIES",
    "UPDATE_COLUMNS",
    "UPDATE_STATUSES",
    "Incident",
    "incident_from_tables",
    "incident_tables",
    "incident_time",
    "normalize_status",
]

SEVERITIES = ("P0", "P1", "P2", "P3")
UPDATE_STATUSES = ("Investigating", "Identified", "Monitoring", "Resolved")
MILESTONES = ("triggered_at", "acknowledged_at", "responded_at", "resolved_at")
INCIDENT_COLUMNS = (
    "incident_id", "title", "severity", "services", "status", *MILESTONES, "source", "url",
)
UPDATE_COLUMNS = ("timestamp", "status", "text", "author")
ACTION_COLUMNS = ("text", "owner")

_TEXT = pd.StringDtype(na_value=np.nan)
_UTC = "datetime64[ns, UTC]"


def normalize_status(status: str, *, where: str = "status") -> str:
    """``status`` as one of the runbook's update statuses (case-insensitive), else ConfigError."""
    for s in UPDATE_STATUSES:
        if isinstance(status, str) and status.strip().lower() == s.lower():
            return s
    raise ConfigError(f"{where} {status!r}: expected one of {', '.join(UPDATE_STATUSES)}")


def incident_time(value: Any) -> pd.Timestamp | None:
    """An incident time as UTC (None when missing); ConfigError when it has no offset."""
    return to_utc(value, naive_error="incident time {value}: needs a UTC offset")


def _text(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def _updates_frame(rows: pd.DataFrame | list[dict[str, Any]] | None) -> pd.DataFrame:
    df = pd.DataFrame(rows if rows is not None else [])
    out = pd.DataFrame({
        "timestamp": pd.to_datetime(df["timestamp"], utc=True) if "timestamp" in df else pd.Series([], dtype=_UTC),
        **{c: (df[c] if c in df else pd.Series([None] * len(df), dtype=object)).astype(object) for c in UPDATE_COLUMNS[1:]},
    })
    for c in UPDATE_COLUMNS[1:]:
        out[c] = out[c].where(out[c].notna(), None).astype(_TEXT)
    out["timestamp"] = out["timestamp"].astype(_UTC)
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _actions_frame(rows: pd.DataFrame | list[dict[str, Any]] | None) -> pd.DataFrame:
    df = pd.DataFrame(rows if rows is not None else [])
    cols = list(ACTION_COLUMNS) + [c for c in df.columns if c not in ACTION_COLUMNS]
    out = pd.DataFrame({c: (df[c] if c in df else pd.Series([None] * len(df), dtype=object)) for c in cols})
    for c in cols:
        # Extra keys (due, ticket, …) are kept; as text so Parquet never sees mixed types.
        out[c] = out[c].astype(object).map(_text).astype(_TEXT)
    return out.reset_index(drop=True)


@dataclass
class Incident:
    """One incident: identity, severity, the four milestones, status updates and action items.

    ``updates`` has columns timestamp (UTC), status, text, author, sorted by time;
    ``action_items`` has text, owner and whatever else the record gave. Milestones
    are UTC Timestamps or None while the incident has not reached them. ``as_of`` is
    when the record was read: the "now" of an open incident's SLA clocks.
    """

    incident_id: str
    triggered_at: pd.Timestamp
    title: str = ""
    severity: str | None = None
    services: tuple[str, ...] = ()
    acknowledged_at: pd.Timestamp | None = None
    responded_at: pd.Timestamp | None = None
    resolved_at: pd.Timestamp | None = None
    updates: pd.DataFrame = field(default_factory=lambda: _updates_frame(None))
    action_items: pd.DataFrame = field(default_factory=lambda: _actions_frame(None))
    source: str = ""
    url: str = ""
    as_of: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ConfigError(
                f"incident {self.incident_id}: severity {self.severity!r}: expected one of {', '.join(SEVERITIES)}"
            )
        ts = incident_time(self.triggered_at)
        if ts is None:
            raise ConfigError(f"incident {self.incident_id}: triggered_at is required")
        self.triggered_at = ts
        for name in MILESTONES[1:]:
            setattr(self, name, incident_time(getattr(self, name)))
            value = getattr(self, name)
            if value is not None and value < self.triggered_at:
                raise ConfigError(
                    f"incident {self.incident_id}: {name} {value.isoformat()} is before "
                    f"triggered_at {self.triggered_at.isoformat()}"
                )
        self.services = tuple(self.services)
        self.updates = _updates_frame(self.updates)
        self.action_items = _actions_frame(self.action_items)
        self.as_of = incident_time(self.as_of)

    @property
    def status(self) -> str:
        """triggered, acknowledged or resolved (PagerDuty's words)."""
        if self.resolved_at is not None:
            return "resolved"
        if self.acknowledged_at is not None:
            return "acknowledged"
        return "triggered"

    def __repr__(self) -> str:
        return (
            f"Incident({self.incident_id!r}, {self.severity or 'unclassified'}, {self.status}, "
            f"triggered {self.triggered_at.isoformat()}, {len(self.updates)} updates)"
        )


def incident_tables(incident: Incident) -> dict[str, pd.DataFrame]:
    """The bundle tables of ``incident``.

    ``incident``: one row — incident_id, title, severity, services (comma-separated),
    status, triggered_at, acknowledged_at, responded_at, resolved_at (UTC), source, url.
    ``incident_updates``: timestamp, status, text, author. ``action_items``: text, owner, …
    """
    row: dict[str, Any] = {
        "incident_id": incident.incident_id,
        "title": incident.title,
        "severity": incident.severity,
        "services": ",".join(incident.services),
        "status": incident.status,
        **{m: getattr(incident, m) for m in MILESTONES},
        "source": incident.source,
        "url": incident.url,
    }
    frame = pd.DataFrame([row])
    for c in INCIDENT_COLUMNS:
        frame[c] = frame[c].astype(_UTC) if c in MILESTONES else frame[c].astype(object).where(frame[c].notna(), None).astype(_TEXT)
    return {
        "incident": frame[list(INCIDENT_COLUMNS)],
        "incident_updates": incident.updates.copy(),
        "action_items": incident.action_items.copy(),
    }


def incident_from_tables(
    incident: pd.DataFrame,
    updates: pd.DataFrame | None = None,
    action_items: pd.DataFrame | None = None,
    *,
    as_of: pd.Timestamp | None = None,
) -> Incident:
    """Rebuild the :class:`Incident` from its tables (the inverse of :func:`incident_tables`)."""
    if len(incident) != 1:
        raise BundleError(f"incident table: expected exactly one row, found {len(incident)}")
    r = incident.iloc[0]

    def get(col: str) -> Any:
        return r[col] if col in incident.columns else None

    services = _text(get("services")) or ""
    return Incident(
        incident_id=_text(get("incident_id")) or "",
        title=_text(get("title")) or "",
        severity=_text(get("severity")),
        services=tuple(s.strip() for s in services.split(",") if s.strip()),
        triggered_at=get("triggered_at"),
        acknowledged_at=get("acknowledged_at"),
        responded_at=get("responded_at"),
        resolved_at=get("resolved_at"),
        updates=updates,
        action_items=action_items,
        source=_text(get("source")) or "",
        url=_text(get("url")) or "",
        as_of=as_of,
    )
