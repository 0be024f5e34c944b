"""The incident library's pure half: what a bundle contributes to the catalog,
how alike two incidents are, and response metrics across incidents.

No database here: :mod:`eafix_forensics.catalog` stores and loads, this module
decides. Three parts:

- :func:`summarize` turns an evidence bundle into an :class:`IncidentSummary`
  (identity, window, recorded and suggested severity, services, key times, SLA
  results, error signatures with counts, top suspects, action items).
- :func:`similarity` scores two incidents (the score is documented there).
- ``response_times``, ``sla_compliance``, ``recurring_signatures`` and
  ``open_action_items`` turn catalog frames into the trends report's tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import ForensicsError
from ..model.times import to_utc
from .calendar import TradingCalendar
from .incident import incident_from_bundle
from .key_times import key_times
from .logs import error_signatures
from .severity import suggest_severity
from .sla import sla_report
from .suspects import suspects

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = [
    "ACTION_DONE",
    "SIGNATURE_SHARE",
    "IncidentSummary",
    "open_action_items",
    "recurring_signatures",
    "repeated_action_items",
    "response_times",
    "score_candidates",
    "signature_key",
    "signature_weight",
    "similarity",
    "sla_compliance",
    "summarize",
]

# Share of the similarity score that comes from error signatures; the rest is services.
SIGNATURE_SHARE = 0.7
SUSPECTS_KEPT = 3
SIGNATURE_CHARS = 500  # longer templates are cut: a btree key (PostgreSQL) must stay well under 2.7 kB
# An action item whose status is one of these is closed; anything else (or nothing) is open.
ACTION_DONE = frozenset({"done", "closed", "resolved", "complete", "completed", "fixed", "wontfix"})
SLA_ORDER = ("acknowledge", "respond", "resolve", "initial_update", "update_cadence", "resolution_notice")

_TEXT = pd.StringDtype(na_value=np.nan)
_UTC = "datetime64[ns, UTC]"


def signature_key(signature: str) -> str:
    """A short stable key for an error signature (indexed in the catalog)."""
    return hashlib.sha1(signature.encode("utf-8", "replace")).hexdigest()[:20]


def signature_weight(count: float) -> float:
    """The weight of a signature seen ``count`` times: ``log2(1 + count)``.

    Logarithmic so that 2,000 BrokerTimeouts and 200 are "the same problem"
    while a signature that dominates an incident still outweighs a stray one.
    """
    return math.log2(1.0 + max(float(count), 0.0))


@dataclass
class IncidentSummary:
    """What the catalog keeps of one bundle. Times are UTC Timestamps or None.

    ``signatures``: dicts with signature, count, first_seen, last_seen, services.
    ``suspects``: rank, ref, service, reason (the top few). ``action_items``: position,
    text, owner, status. ``sla``: sla, target_s, actual_s, met, clock, detail.
    ``notes``: analyses that could not run on this bundle, in words.
    """

    incident_id: str
    bundle_path: str
    manifest_sha256: str
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    collected_at: pd.Timestamp | None = None
    title: str = ""
    severity: str | None = None
    suggested_severity: str | None = None
    severity_reasons: list[str] = field(default_factory=list)
    status: str | None = None
    services: list[str] = field(default_factory=list)
    triggered_at: pd.Timestamp | None = None
    acknowledged_at: pd.Timestamp | None = None
    responded_at: pd.Timestamp | None = None
    resolved_at: pd.Timestamp | None = None
    first_symptom_at: pd.Timestamp | None = None
    mitigated_at: pd.Timestamp | None = None
    key_times: dict[str, Any] = field(default_factory=dict)
    signatures: list[dict[str, Any]] = field(default_factory=list)
    suspects: list[dict[str, Any]] = field(default_factory=list)
    action_items: list[dict[str, Any]] = field(default_factory=list)
    sla: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def signature_weights(self) -> dict[str, float]:
        """signature key → weight (see :func:`signature_weight`)."""
        return {signature_key(s["signature"]): signature_weight(s["count"]) for s in self.signatures}


# ------------------------------------------------------------------ summarize
def _ts(value: Any) -> pd.Timestamp | None:
    """A catalog time as UTC; None when missing or unreadable (an old or hand-edited row)."""
    try:
        return to_utc(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, pd.Timedelta):
        return None if pd.isna(value) else value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _key_times_dict(value: Any) -> dict[str, Any]:
    """key_times(bundle) as plain data, whatever container it comes in."""
    if isinstance(value, pd.DataFrame):
        if {"name", "timestamp"} <= set(value.columns) or {"key", "timestamp"} <= set(value.columns):
            name = "name" if "name" in value.columns else "key"
            return {str(r[name]): _jsonable(r.to_dict()) for _, r in value.iterrows()}
        return {"rows": _jsonable(value.to_dict(orient="records"))}
    if isinstance(value, pd.Series):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return {"value": _jsonable(value)}


def _find_time(times: Mapping[str, Any], *names: str) -> pd.Timestamp | None:
    for name in names:
        v = times.get(name)
        if isinstance(v, Mapping):
            v = v.get("timestamp") or v.get("time") or v.get("at")
        t = _ts(v) if isinstance(v, (str, pd.Timestamp)) else None
        if t is not None:
            return t
    return None


def signature_rows(signatures: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of :func:`~eafix_forensics.analysis.logs.error_signatures` as the catalog
    keeps them: signature (cut to :data:`SIGNATURE_CHARS`), count, first_seen,
    last_seen, services (comma-separated). Signatures equal after the cut are merged."""
    out: dict[str, dict[str, Any]] = {}
    for r in signatures.itertuples(index=False):
        sig = (_text(r.signature) or "")[:SIGNATURE_CHARS]
        if not sig:
            continue
        row = out.setdefault(sig, {"signature": sig, "count": 0, "first_seen": None, "last_seen": None,
                                   "services": set()})
        row["count"] += 0 if pd.isna(r.count) else int(r.count)
        first, last = _ts(r.first_seen), _ts(r.last_seen)
        if first is not None and (row["first_seen"] is None or first < row["first_seen"]):
            row["first_seen"] = first
        if last is not None and (row["last_seen"] is None or last > row["last_seen"]):
            row["last_seen"] = last
        row["services"].update(s for s in (_text(r.services) or "").split(",") if s)
    rows = sorted(out.values(), key=lambda d: (-d["count"], d["signature"]))
    for d in rows:
        d["services"] = ",".join(sorted(d["services"]))
    return rows


def summarize(bundle: EvidenceBundle) -> IncidentSummary:
    """What the catalog stores for ``bundle`` (see :class:`IncidentSummary`).

    Each analysis runs on its own: a bundle without an incident record still gives
    its window, signatures and suspects; what could not run is named in ``notes``.
    The affected services are the incident record's, else those of the error signatures.
    """
    window = bundle.window
    s = IncidentSummary(
        incident_id=bundle.incident_id,
        bundle_path=str(bundle.path),
        manifest_sha256=bundle.manifest_sha256,
        window_start=window.start,
        window_end=window.end,
        collected_at=_ts(bundle.manifest.get("collected_at")),
    )
    try:
        incident = incident_from_bundle(bundle)
    except ForensicsError as exc:
        incident = None
        s.notes.append(f"incident record: {exc}")
    if incident is not None:
        s.title, s.severity, s.status = incident.title, incident.severity, incident.status
        s.services = list(incident.services)
        s.triggered_at, s.acknowledged_at = incident.triggered_at, incident.acknowledged_at
        s.responded_at, s.resolved_at = incident.responded_at, incident.resolved_at
        items = incident.action_items
        for i, (_, r) in enumerate(items.iterrows()):
            text = _text(r.get("text"))
            if text:
                status = _text(r.get("status")) or ("done" if _text(r.get("done")) in ("True", "true") else None)
                s.action_items.append({"position": i, "text": text, "owner": _text(r.get("owner")),
                                       "status": status})
        sla = sla_report(incident, calendar=_bundle_calendar(bundle))
        for _, r in sla.iterrows():
            s.sla.append({
                "sla": str(r["sla"]),
                "target_s": None if pd.isna(r["target"]) else r["target"].total_seconds(),
                "actual_s": None if pd.isna(r["actual"]) else r["actual"].total_seconds(),
                "met": None if pd.isna(r["met"]) else bool(r["met"]),
                "clock": _text(r["clock"]),
                "detail": _text(r["detail"]),
            })

    logs = bundle.table("logs") if "logs" in bundle.manifest["tables"] else None
    if logs is not None and len(logs):
        s.signatures = signature_rows(error_signatures(logs))
    if not s.services:
        s.services = sorted({svc for row in s.signatures for svc in row["services"].split(",") if svc})

    try:
        level, reasons = suggest_severity(bundle)
        s.suggested_severity = _text(level)
        s.severity_reasons = [str(r) for r in (reasons or [])]
    except ForensicsError as exc:
        s.notes.append(f"suggested severity: {exc}")
    try:
        s.key_times = _key_times_dict(key_times(bundle))
        s.first_symptom_at = _find_time(s.key_times, "first_symptom", "first_symptom_at", "symptom")
        s.mitigated_at = _find_time(s.key_times, "mitigation", "mitigated", "mitigated_at")
    except ForensicsError as exc:
        s.notes.append(f"key times: {exc}")
    try:
        top = suspects(bundle)
        for _, r in top.head(SUSPECTS_KEPT).iterrows():
            ref = _text(r.get("sha")) if "sha" in top.columns else None
            ref = ref or (_text(r.get("ref")) if "ref" in top.columns else None)
            s.suspects.append({"rank": int(r["rank"]) if "rank" in top.columns else len(s.suspects) + 1,
                               "ref": ref, "service": _text(r.get("service")),
                               "reason": _text(r.get("reason")) or ""})
    except ForensicsError as exc:
        s.notes.append(f"suspects: {exc}")
    return s


def _bundle_calendar(bundle: EvidenceBundle) -> Any:
    section = (bundle.manifest.get("config") or {}).get("calendar")
    return TradingCalendar.from_config(section) if isinstance(section, dict) else TradingCalendar.from_config()


# ------------------------------------------------------------------ similarity
def similarity(
    signatures_a: Mapping[str, float],
    services_a: Iterable[str],
    signatures_b: Mapping[str, float],
    services_b: Iterable[str],
) -> tuple[float, float, float]:
    """How alike two incidents are: ``(score, signature_score, service_score)``, each 0..1.

    ``signature_score`` is the weighted Jaccard index of the two error-signature
    sets, ``Σ min(a_s, b_s) / Σ max(a_s, b_s)`` over all signatures ``s``, with
    ``a_s = log2(1 + count)`` (:func:`signature_weight`; 0 when absent).
    ``service_score`` is the plain Jaccard index ``|A ∩ B| / |A ∪ B|`` of the
    affected services. ``score = 0.7 · signature_score + 0.3 · service_score``:
    the same errors weigh more than the same service, because six services are
    shared by many unrelated incidents. Two incidents with nothing in common score 0.
    """
    shared = sum(min(w, signatures_b[k]) for k, w in signatures_a.items() if k in signatures_b)
    union = sum(signatures_a.values()) + sum(signatures_b.values()) - shared
    sa, sb = set(services_a), set(services_b)
    sig = shared / union if union > 0 else 0.0
    svc = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
    return SIGNATURE_SHARE * sig + (1 - SIGNATURE_SHARE) * svc, sig, svc


def score_candidates(
    query_signatures: Mapping[str, float],
    query_services: Iterable[str],
    shared_signatures: Iterable[tuple[Any, str, float]],
    shared_services: Mapping[Any, int],
    totals: Mapping[Any, tuple[float, int]],
) -> list[tuple[Any, float, float, float]]:
    """:func:`similarity` for many stored incidents at once, best first.

    ``shared_signatures``: (incident, signature key, weight) rows of stored
    signatures the query also has; ``shared_services``: incident → number of the
    query's services it has; ``totals``: incident → (sum of its signature
    weights, number of its services). Returns (incident, score, signature_score,
    service_score), only incidents sharing something, sorted by score descending.
    """
    q_total = sum(query_signatures.values())
    q_services = len(set(query_services))
    mins: dict[Any, float] = {}
    for pk, key, weight in shared_signatures:
        q = query_signatures.get(key)
        if q is not None:
            mins[pk] = mins.get(pk, 0.0) + min(q, float(weight))
    out = []
    for pk in set(mins) | set(shared_services):
        sig_total, svc_count = totals.get(pk, (0.0, 0))
        shared = mins.get(pk, 0.0)
        union = q_total + float(sig_total or 0.0) - shared
        sig = shared / union if union > 0 else 0.0
        n = shared_services.get(pk, 0)
        svc_union = q_services + int(svc_count or 0) - n
        svc = n / svc_union if svc_union > 0 else 0.0
        out.append((pk, SIGNATURE_SHARE * sig + (1 - SIGNATURE_SHARE) * svc, sig, svc))
    out.sort(key=lambda t: (-t[1], -t[2], str(t[0])))
    return out


# ------------------------------------------------------------------ response metrics
def _minutes(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds() / 60.0


def response_times(incidents: pd.DataFrame) -> pd.DataFrame:
    """Time to acknowledge and to resolve, by severity and month of ``triggered_at``.

    ``incidents``: one row per incident with severity, triggered_at, acknowledged_at,
    resolved_at (UTC). Returns columns severity (``unclassified`` when unset), month
    (``YYYY-MM``), incidents, acknowledged, ack_median_min, ack_max_min, resolved,
    resolve_median_min, resolve_max_min — wall-clock minutes; sorted by month, severity.
    Incidents never triggered (no incident record) are left out.
    """
    cols = ["severity", "month", "incidents", "acknowledged", "ack_median_min", "ack_max_min",
            "resolved", "resolve_median_min", "resolve_max_min"]
    df = incidents[incidents["triggered_at"].notna()] if len(incidents) else incidents
    if len(df) == 0:
        return _typed(pd.DataFrame(columns=cols), text=("severity", "month"),
                      ints=("incidents", "acknowledged", "resolved"))
    df = df.assign(
        severity=df["severity"].astype(object).where(df["severity"].notna(), "unclassified"),
        month=df["triggered_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m"),
        ack=_minutes(df["acknowledged_at"] - df["triggered_at"]),
        res=_minutes(df["resolved_at"] - df["triggered_at"]),
    )
    g = df.groupby(["month", "severity"], sort=True)
    out = pd.DataFrame({
        "incidents": g.size(),
        "acknowledged": g["ack"].count(),
        "ack_median_min": g["ack"].median(),
        "ack_max_min": g["ack"].max(),
        "resolved": g["res"].count(),
        "resolve_median_min": g["res"].median(),
        "resolve_max_min": g["res"].max(),
    }).reset_index()
    return _typed(out[cols], text=("severity", "month"), ints=("incidents", "acknowledged", "resolved"))


def sla_compliance(sla: pd.DataFrame) -> pd.DataFrame:
    """SLA compliance rate per severity and SLA, plus an ``all`` SLA row per severity.

    ``sla``: one row per incident and SLA with incident_id, severity, sla, met
    (True/False, missing when not measured). Returns severity, sla, incidents
    (measured), met, missed, rate (met / measured, 0..1; NaN when none measured).
    The ``all`` row counts an incident as compliant only when every measured SLA was met.
    """
    cols = ["severity", "sla", "incidents", "met", "missed", "rate"]
    df = sla[sla["met"].notna()] if len(sla) else sla
    if len(df) == 0:
        return _typed(pd.DataFrame(columns=cols), text=("severity", "sla"), ints=("incidents", "met", "missed"))
    df = df.assign(
        severity=df["severity"].astype(object).where(df["severity"].notna(), "unclassified"),
        met=df["met"].astype(bool),
    )
    per = df.groupby(["severity", "sla"]).agg(incidents=("met", "size"), met=("met", "sum")).reset_index()
    whole = df.groupby(["severity", "incident_id"])["met"].all().reset_index()
    overall = whole.groupby("severity").agg(incidents=("met", "size"), met=("met", "sum")).reset_index()
    overall["sla"] = "all"
    out = pd.concat([per, overall[per.columns]], ignore_index=True)
    out["missed"] = out["incidents"] - out["met"]
    out["rate"] = out["met"] / out["incidents"]
    order = {name: i for i, name in enumerate((*SLA_ORDER, "all"))}
    out = out.assign(_o=out["sla"].map(lambda v: order.get(v, len(order)))).sort_values(
        ["severity", "_o", "sla"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return _typed(out[cols], text=("severity", "sla"), ints=("incidents", "met", "missed"))


def recurring_signatures(signatures: pd.DataFrame, *, min_incidents: int = 2) -> pd.DataFrame:
    """Error signatures seen in at least ``min_incidents`` incidents, most widespread first.

    ``signatures``: one row per incident and signature with incident_id, signature,
    count, services, triggered_at (or window_start). Returns signature, incidents,
    occurrences (total count), services (comma-separated), first_incident_at,
    last_incident_at, incident_ids (comma-separated, oldest first).
    """
    cols = ["signature", "incidents", "occurrences", "services", "first_incident_at",
            "last_incident_at", "incident_ids"]
    if len(signatures) == 0:
        return _typed(pd.DataFrame(columns=cols), text=("signature", "services", "incident_ids"),
                      ints=("incidents", "occurrences"), times=("first_incident_at", "last_incident_at"))
    df = signatures.assign(at=signatures["triggered_at"].fillna(signatures["window_start"]))
    df = df.sort_values(["at", "incident_id"], kind="stable")
    rows = []
    for sig, g in df.groupby("signature", sort=False):
        ids = list(dict.fromkeys(g["incident_id"]))
        if len(ids) < min_incidents:
            continue
        services = sorted({s for v in g["services"].dropna() for s in str(v).split(",") if s})
        rows.append({"signature": sig, "incidents": len(ids), "occurrences": int(g["count"].sum()),
                     "services": ",".join(services), "first_incident_at": g["at"].min(),
                     "last_incident_at": g["at"].max(), "incident_ids": ",".join(ids)})
    out = pd.DataFrame(rows, columns=cols)
    if len(out):
        out = out.sort_values(["incidents", "occurrences", "signature"], ascending=[False, False, True],
                              kind="stable").reset_index(drop=True)
    return _typed(out, text=("signature", "services", "incident_ids"), ints=("incidents", "occurrences"),
                  times=("first_incident_at", "last_incident_at"))


def open_action_items(items: pd.DataFrame, *, now: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Action items not yet done (status missing or not one of :data:`ACTION_DONE`).

    ``items``: incident_id, triggered_at, text, owner, status. Returns incident_id,
    text, owner, status (``open`` when unset), raised_at (the incident's trigger
    time), age_days (at ``now``, default the newest incident's trigger time so the
    figure does not drift between runs), oldest first.
    """
    cols = ["incident_id", "text", "owner", "status", "raised_at", "age_days"]
    status = items["status"].astype(object) if len(items) else pd.Series([], dtype=object)
    is_open = status.map(lambda v: _text(v) is None or str(v).strip().lower() not in ACTION_DONE)
    df = items[is_open.astype(bool)] if len(items) else items
    if len(df) == 0:
        return _typed(pd.DataFrame(columns=cols), text=("incident_id", "text", "owner", "status"),
                      times=("raised_at",))
    at = _ts(now) if now is not None else _ts(items["triggered_at"].max())
    out = pd.DataFrame({
        "incident_id": df["incident_id"].to_numpy(),
        "text": df["text"].to_numpy(),
        "owner": df["owner"].to_numpy(),
        "status": df["status"].astype(object).where(df["status"].notna(), "open").to_numpy(),
        "raised_at": df["triggered_at"].to_numpy(),
    })
    out["raised_at"] = pd.to_datetime(out["raised_at"], utc=True)
    out["age_days"] = ((at - out["raised_at"]).dt.total_seconds() / 86400.0).round(1) if at is not None else np.nan
    out = out.sort_values(["raised_at", "incident_id"], kind="stable").reset_index(drop=True)
    return _typed(out, text=("incident_id", "text", "owner", "status"), times=("raised_at",))


REPEAT_OVERLAP = 0.6  # share of words two action items must have in common to be "the same item"


def _words(text: object) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", str(text).lower()) if len(w) > 2)


def repeated_action_items(texts: Iterable[object], open_items: pd.DataFrame) -> pd.Series:
    """For each action item text, the earlier open item it repeats, or None.

    ``open_items`` is :func:`open_action_items` of *other* incidents (incident_id,
    text, age_days). Two items are the same when their words (lower case, three
    letters or more) overlap by at least :data:`REPEAT_OVERLAP` (Jaccard index).
    The answer reads ``INC-2024-0917 (open 76 days): <its text>``, oldest match first.
    """
    candidates = [(_words(r.text), r) for r in open_items.itertuples(index=False)] if len(open_items) else []
    out: list[str | None] = []
    for text in texts:
        mine = _words(text)
        found = None
        for words, r in candidates:
            if mine and words and len(mine & words) / len(mine | words) >= REPEAT_OVERLAP:
                age = getattr(r, "age_days", None)
                days = f" (open {age:.0f} days)" if age is not None and not pd.isna(age) else ""
                found = f"{r.incident_id}{days}: {r.text}"
                break
        out.append(found)
    return pd.Series(out, dtype=object)


def _typed(df: pd.DataFrame, *, text: Iterable[str] = (), ints: Iterable[str] = (),
           times: Iterable[str] = ()) -> pd.DataFrame:
    """Fixed dtypes so an empty result and a full one look the same."""
    df = df.copy()
    for c in text:
        df[c] = df[c].astype(object).where(df[c].notna(), None).astype(_TEXT)
    for c in ints:
        df[c] = pd.to_numeric(df[c]).astype("Int64")
    for c in times:
        df[c] = pd.to_datetime(df[c], utc=True).astype(_UTC)
    for c in df.columns:
        if c not in set(text) | set(ints) | set(times) and df[c].dtype == object:
            df[c] = pd.to_numeric(df[c]).astype("float64")
    return df
