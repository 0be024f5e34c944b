"""The incident record as data: the :class:`Incident` object, its bundle tables,
and its milestones as TIMELINE events.

Pure: no IO. :mod:`eafix_forensics.sources.incident` reads a record (TOML or
PagerDuty) into an :class:`Incident`; a bundle holds it as three tables,
``incident`` (one row), ``incident_updates`` and ``action_items``, and
:func:`incident_from_bundle` rebuilds the same object from them, so the
post-incident review needs nothing but the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import schemas
from ..errors import BundleError, ConfigError

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = [
    "INCIDENT_COLUMNS",
    "SEVERITIES",
    "UPDATE_STATUSES",
    "Incident",
    "bundle_events",
    "incident_events",
    "incident_from_bundle",
    "incident_from_tables",
    "incident_tables",
    "normalize_status",
]

SOURCE = "incident"
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


def _ts(value: Any) -> pd.Timestamp | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    t = pd.Timestamp(value)
    if t.tzinfo is None:
        raise ConfigError(f"incident time {value!r}: needs a UTC offset")
    return t.tz_convert("UTC").as_unit("ns")


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


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
        out[c] = out[c].astype(object).map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)).astype(_TEXT)
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
        ts = _ts(self.triggered_at)
        if ts is None:
            raise ConfigError(f"incident {self.incident_id}: triggered_at is required")
        self.triggered_at = ts
        for name in MILESTONES[1:]:
            setattr(self, name, _ts(getattr(self, name)))
            value = getattr(self, name)
            if value is not None and value < self.triggered_at:
                raise ConfigError(
                    f"incident {self.incident_id}: {name} {value.isoformat()} is before "
                    f"triggered_at {self.triggered_at.isoformat()}"
                )
        self.services = tuple(self.services)
        self.updates = _updates_frame(self.updates)
        self.action_items = _actions_frame(self.action_items)
        self.as_of = _ts(self.as_of)

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


def incident_from_bundle(bundle: EvidenceBundle) -> Incident:
    """The :class:`Incident` stored in ``bundle``; ``as_of`` is the bundle's collection time.

    Raises BundleError naming the table's status when the bundle holds no incident record.
    """
    if not bundle.has("incident"):
        raise BundleError(
            f"{bundle.path}: no incident record in this bundle (incident table: {bundle.status('incident')})"
        )
    incident = bundle.table("incident")
    updates = bundle.table("incident_updates") if bundle.has("incident_updates") else None
    actions = bundle.table("action_items") if bundle.has("action_items") else None
    collected = bundle.manifest.get("collected_at")
    return incident_from_tables(incident, updates, actions, as_of=pd.Timestamp(collected) if collected else None)


_MILESTONE_KIND = {
    "triggered_at": "incident_triggered",
    "acknowledged_at": "acknowledged",
    "responded_at": "responded",
    "resolved_at": "resolved",
}


def incident_events(incident: pd.DataFrame, updates: pd.DataFrame | None = None) -> pd.DataFrame:
    """TIMELINE rows for the incident's milestones and its status updates.

    Kinds: incident_triggered (critical for P0/P1, warning otherwise), acknowledged,
    responded, resolved, status_update (info). ``service`` is the first affected
    service; ``ref`` is ``incident:<id>:<milestone>`` or ``incident_updates:<row>``.
    """
    if incident is None or len(incident) == 0:
        return schemas.empty("timeline")
    rows: list[dict[str, Any]] = []
    for _, r in incident.iterrows():
        iid = _text(r.get("incident_id")) or ""
        sev = _text(r.get("severity"))
        services = [s for s in (_text(r.get("services")) or "").split(",") if s]
        service = services[0] if services else None
        title = _text(r.get("title")) or ""
        triggered = _ts(r.get("triggered_at"))
        for col, kind in _MILESTONE_KIND.items():
            ts = _ts(r.get(col))
            if ts is None:
                continue
            if kind == "incident_triggered":
                summary = f"{iid} triggered ({sev or 'unclassified'}): {title}"
                if services:
                    summary += f" [{', '.join(services)}]"
                severity = "critical" if sev in ("P0", "P1") else "warning"
            else:
                summary = f"{iid} {kind} after {_minutes(ts - triggered if triggered is not None else None)}"
                severity = "info"
            rows.append({
                "timestamp": ts, "source": SOURCE, "service": service, "kind": kind,
                "severity": severity, "summary": summary, "ref": f"incident:{iid}:{col.removesuffix('_at')}",
            })
        if updates is not None:
            for i, u in updates.reset_index(drop=True).iterrows():
                ts = _ts(u.get("timestamp"))
                if ts is None:
                    continue
                status = _text(u.get("status")) or "Update"
                rows.append({
                    "timestamp": ts, "source": SOURCE, "service": service, "kind": "status_update",
                    "severity": "info", "summary": f"{status}: {_text(u.get('text')) or ''}".rstrip(": "),
                    "ref": f"incident_updates:{i}",
                })
    if not rows:
        return schemas.empty("timeline")
    out = schemas.conform(rows, "timeline")
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _minutes(delta: pd.Timedelta | None) -> str:
    if delta is None:
        return "?"
    total = int(delta.total_seconds() // 60)
    h, m = divmod(total, 60)
    return f"{h} h {m} min" if h else f"{m} min"


def bundle_events(bundle: EvidenceBundle) -> pd.DataFrame:
    """TIMELINE events of the bundle's incident record (empty when it has none)."""
    if not bundle.has("incident"):
        return schemas.empty("timeline")
    updates = bundle.table("incident_updates") if bundle.has("incident_updates") else None
    return incident_events(bundle.table("incident"), updates)
