"""A shared resource that ran out of room for its clients, and who was holding it.

When the database refuses clients ("too many clients", "remaining connection slots are
reserved", "too many connections"), the services it refused are victims; the client
that loaded it is the one that kept working while the others were refused — or the one
the database's own connection sample (taken during the incident) shows holding most of
its connections. A change to that client explains the refusals as well as a change to
the database itself would.

Pure functions over the timeline and the bundle's PostgreSQL tables; the scoring that
uses them is :mod:`eafix_forensics.analysis.suspects`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..config import Config
from ..model.topology import normalize_service
from .health import LIVE_CHECK_GRACE

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["LOAD_CREDIT", "LOAD_TIME_SCALE", "REFUSED", "connection_holders", "refusal"]

#: What a server says when it has no connection slot left for a client.
REFUSED = re.compile(
    r"(?i)too many (?:clients|connections)|remaining connection slots are reserved"
    r"|connection limit (?:exceeded|reached)|max_connections"
)
#: Credit of a change to the client that loaded a resource which refused the others.
LOAD_CREDIT = 0.8
#: A load comes when the client's work runs (a scheduled job, the busy hour), not when it was
#: changed: the change's age counts on this many times the usual half-life.
LOAD_TIME_SCALE = 4
#: A client holding at least this share of the server's connections during the incident loaded it.
HOLDER_SHARE = 0.3


def refusal(summary: str) -> str:
    """The words of ``summary`` saying a server refused a client for lack of slots ("" when none)."""
    m = REFUSED.search(summary or "")
    return m.group(0) if m else ""


def _text(v: Any) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def connection_holders(bundle: EvidenceBundle, config: Config, known: set[str]) -> dict[str, str]:
    """service -> evidence, for each client holding at least :data:`HOLDER_SHARE` of the
    database's connections in a ``pg_connections`` sample taken during the incident (by
    the window's end plus the live-check grace; a sample at collection, long after, says
    nothing about the incident). Sessions map to services by ``[postgres] applications``,
    else by an application_name that is a known service."""
    if not bundle.has("pg_connections") or bundle.status("pg_connections") not in ("ok", "truncated"):
        return {}
    conn = bundle.table("pg_connections")
    need = {"application_name", "count", "sampled_at"}
    if conn.empty or not need <= set(conn.columns):
        return {}
    when = pd.to_datetime(conn["sampled_at"], utc=True, errors="coerce")
    conn = conn[(when <= bundle.window.end + LIVE_CHECK_GRACE) & (when >= bundle.window.start)]
    if conn.empty:
        return {}
    names = {normalize_service(k) for k in known}
    apps = {normalize_service(k): normalize_service(v) for k, v in config.postgres.applications.items()}
    out: dict[str, str] = {}
    for at, sample in conn.groupby(pd.to_datetime(conn["sampled_at"], utc=True), sort=True):
        counts = pd.to_numeric(sample["count"], errors="coerce").fillna(0)
        limit = pd.to_numeric(sample.get("max_connections", pd.Series(dtype=float)), errors="coerce").dropna()
        total = float(limit.iloc[0]) if len(limit) else float(counts.sum())
        if total <= 0:
            continue
        per_app = counts.groupby(sample["application_name"].map(_text).to_numpy()).sum()
        for app, n in per_app.items():
            a = normalize_service(str(app))
            svc = apps.get(a, a if a in names else "")
            if svc and n / total >= HOLDER_SHARE:
                out.setdefault(svc, f"it held {int(n)} of the {int(total)} connections at {at:%H:%M:%S}")
    return out
