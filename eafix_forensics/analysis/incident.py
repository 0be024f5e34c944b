"""The incident record as data: the :class:`Incident` object, its bundle tables,
and its milestones as TIMELINE events.

Pure: no IO. :mod:`eafix_forensics.sources.incident` reads a record (TOML or
PagerDuty) into an :class:`Incident`; a bundle holds it as three tables,
``incident`` (one row), ``incident_updates`` and ``action_items``, and
:func:`incident_from_bundle` rebuilds the same object from them, so the
post-incident review needs nothing but the bundle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import BundleError
from ..model import tables
from ..model.incident import (
    INCIDENT_COLUMNS,
    SEVERITIES,
    UPDATE_STATUSES,
    Incident,
    incident_from_tables,
    incident_tables,
    incident_time,
    normalize_status,
)
from ..model.times import format_duration, is_missing

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


def _text(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


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
        return tables.empty("timeline")
    rows: list[dict[str, Any]] = []
    for _, r in incident.iterrows():
        iid = _text(r.get("incident_id")) or ""
        sev = _text(r.get("severity"))
        services = [s for s in (_text(r.get("services")) or "").split(",") if s]
        service = services[0] if services else None
        title = _text(r.get("title")) or ""
        triggered = incident_time(r.get("triggered_at"))
        for col, kind in _MILESTONE_KIND.items():
            ts = incident_time(r.get(col))
            if ts is None:
                continue
            if kind == "incident_triggered":
                summary = f"{iid} triggered ({sev or 'unclassified'}): {title}"
                if services:
                    summary += f" [{', '.join(services)}]"
                severity = "critical" if sev in ("P0", "P1") else "warning"
            else:
                # One stated start for every duration: these run from the trigger.
                took = format_duration(ts - triggered if triggered is not None else None, seconds_under=None, missing='?')
                summary = f"{iid} {kind} {took} after the trigger"
                severity = "info"
            rows.append({
                "timestamp": ts, "source": SOURCE, "service": service, "kind": kind,
                "severity": severity, "summary": summary, "ref": f"incident:{iid}:{col.removesuffix('_at')}",
            })
        if updates is not None:
            for i, u in updates.reset_index(drop=True).iterrows():
                ts = incident_time(u.get("timestamp"))
                if ts is None:
                    continue
                status = _text(u.get("status")) or "Update"
                rows.append({
                    "timestamp": ts, "source": SOURCE, "service": service, "kind": "status_update",
                    "severity": "info", "summary": f"{status}: {_text(u.get('text')) or ''}".rstrip(": "),
                    "ref": f"incident_updates:{i}",
                })
    if not rows:
        return tables.empty("timeline")
    out = tables.conform(rows, "timeline")
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def bundle_events(bundle: EvidenceBundle) -> pd.DataFrame:
    """TIMELINE events of the bundle's incident record (empty when it has none)."""
    if not bundle.has("incident"):
        return tables.empty("timeline")
    updates = bundle.table("incident_updates") if bundle.has("incident_updates") else None
    return incident_events(bundle.table("incident"), updates)
