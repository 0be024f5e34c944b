"""The incident record: ``incidents/INCIDENT_ID.toml`` or the PagerDuty REST API v2.

Either way the result is an :class:`~eafix_forensics.model.incident.Incident`
(title, severity, services, the four milestones, status updates, action
items). The TOML record is the embedded default (format in DESIGN.md; its
datetimes must carry an offset). With ``[incidents] pagerduty_url`` set, the
record comes from ``GET /incidents/{id}`` and ``GET /incidents/{id}/log_entries``
(paged by ``more``/``offset``), authenticated with ``Authorization: Token
token=…`` read from the variable ``[incidents] pagerduty_token_env``. HTTP 429
is retried after its Retry-After, each wait capped by ``max_retry_wait_s``.

PagerDuty has no "responded" or "status" field of its own: the first note
(annotate log entry) or status update counts as the response, and every note is
a status update whose status is the runbook word it starts with, if any. A
priority named P0-P3 becomes the severity; any other leaves it unset.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from ..bundle import Evidence, check_incident_id
from ..config import Config
from ..errors import ConfigError, QueryError, SourceError, SourceUnavailable
from ..model.incident import (
    MILESTONES,
    SEVERITIES,
    UPDATE_STATUSES,
    Incident,
    incident_tables,
    normalize_status,
)
from .base import CollectContext, Collector, loads_json

__all__ = ["COLLECTOR", "incident_record", "pagerduty_incident", "parse_incident_toml", "read_incident_toml"]

TABLES = ("incident", "incident_updates", "action_items")
_TOP_KEYS = {"title", "severity", "services", *MILESTONES, "updates", "action_items", "url"}
_UPDATE_KEYS = {"time", "status", "text", "author"}
_PD_ACCEPT = "application/vnd.pagerduty+json;version=2"
_PD_PAGE = 100  # PagerDuty's largest page
_PD_MAX_OFFSET = 10_000  # PagerDuty's classic pagination ends here
_LEADING_STATUS = re.compile(
    r"^\s*(?:status\s*[:=-]\s*)?(" + "|".join(UPDATE_STATUSES) + r")\b\s*[:.\-–—]?\s*", re.IGNORECASE
)


# ------------------------------------------------------------------ TOML records
def _toml_time(value: Any, where: str) -> pd.Timestamp:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ConfigError(
                f"{where} = {value.isoformat()}: needs a UTC offset, e.g. {value.isoformat()}Z "
                "(times without one are ambiguous across on-call timezones)"
            )
        return pd.Timestamp(value).tz_convert("UTC").as_unit("ns")
    if isinstance(value, dt.date):
        raise ConfigError(f"{where} = {value.isoformat()}: a date, expected a datetime with offset")
    raise ConfigError(
        f"{where} = {value!r}: expected a TOML datetime with offset, unquoted (2024-12-02T14:05:00Z)"
    )


def parse_incident_toml(text: str, *, incident_id: str, source: str = "") -> Incident:
    """The :class:`Incident` described by the TOML ``text`` (format in DESIGN.md).

    Raises ConfigError naming ``source`` and the key for invalid TOML, an unknown key,
    a datetime without offset, a bad severity or update status, or a missing triggered_at.
    """
    where = source or f"{incident_id}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {min(unknown)!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    if "triggered_at" not in raw:
        raise ConfigError(f"{where}: triggered_at is required (e.g. triggered_at = 2024-12-02T14:05:00Z)")
    severity = raw.get("severity")
    if severity is not None and (not isinstance(severity, str) or severity.upper() not in SEVERITIES):
        raise ConfigError(f"{where}: severity = {severity!r}: expected one of {', '.join(SEVERITIES)}")
    services = raw.get("services", [])
    if isinstance(services, str):
        services = [services]
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        raise ConfigError(f"{where}: services must be a list of service names")
    milestones = {m: _toml_time(raw[m], f"{where}: {m}") for m in MILESTONES if m in raw}

    updates = []
    for i, u in enumerate(raw.get("updates", [])):
        uw = f"{where}: updates[{i}]"
        if not isinstance(u, dict):
            raise ConfigError(f"{uw}: expected a [[updates]] table")
        bad = set(u) - _UPDATE_KEYS
        if bad:
            raise ConfigError(f"{uw}: unknown key {min(bad)!r} (known: {', '.join(sorted(_UPDATE_KEYS))})")
        if "time" not in u:
            raise ConfigError(f"{uw}: time is required")
        updates.append({
            "timestamp": _toml_time(u["time"], f"{uw}.time"),
            "status": normalize_status(u["status"], where=f"{uw}.status") if "status" in u else None,
            "text": str(u.get("text", "")),
            "author": u.get("author"),
        })
    actions = raw.get("action_items", [])
    if not isinstance(actions, list) or not all(isinstance(a, dict) and "text" in a for a in actions):
        raise ConfigError(f"{where}: action_items must be [[action_items]] tables with a text key")
    try:
        return Incident(
            incident_id=incident_id,
            title=str(raw.get("title", "")),
            severity=severity.upper() if isinstance(severity, str) else None,
            services=tuple(services),
            updates=updates,  # rows; Incident shapes them
            action_items=actions,
            source=source,
            url=str(raw.get("url", "")),
            as_of=pd.Timestamp.now(tz="UTC"),
            **milestones,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def read_incident_toml(path: str | Path, *, incident_id: str | None = None) -> Incident:
    """The :class:`Incident` in the TOML file ``path`` (id defaults to the file's stem)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no incident record (write it in the format of DESIGN.md)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read incident record: {exc}") from None
    return parse_incident_toml(text, incident_id=incident_id or p.stem, source=str(p))


# ------------------------------------------------------------------ PagerDuty
class _PagerDuty:
    """One PagerDuty REST v2 client; every httpx error is translated in :meth:`get`."""

    def __init__(self, base_url: str, token: str, config: Config) -> None:
        self.base_url = base_url.rstrip("/")
        self.cfg = config.incidents
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={"Accept": _PD_ACCEPT, "Authorization": f"Token token={token}"},
            timeout=self.cfg.timeout_s,
        )

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        what = f"PagerDuty GET {self.base_url}{path}"
        for attempt in range(self.cfg.max_retries + 1):
            try:
                resp = self.client.get(path, params=params)
            except httpx.TimeoutException as exc:
                raise SourceUnavailable(f"{what}: timed out after {self.cfg.timeout_s:g} s") from exc
            except httpx.HTTPError as exc:
                raise SourceUnavailable(f"{what}: cannot connect: {exc}") from exc
            if resp.status_code == 429 and attempt < self.cfg.max_retries:
                time.sleep(self._retry_wait(resp))
                continue
            return self._json(resp, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_wait(self, resp: httpx.Response) -> float:
        header = resp.headers.get("Retry-After", "")
        wait = 1.0
        try:
            wait = float(header.strip())
        except ValueError:
            # Retry-After may also be an HTTP date.
            try:
                when = email.utils.parsedate_to_datetime(header)
                wait = (when - dt.datetime.now(dt.UTC)).total_seconds()
            except (TypeError, ValueError):
                pass
        # A huge Retry-After must not hang an on-call engineer's collect.
        return max(0.0, min(wait, self.cfg.max_retry_wait_s))

    def _json(self, resp: httpx.Response, what: str) -> dict[str, Any]:
        code = resp.status_code
        if code == 401:
            raise QueryError(
                f"{what}: HTTP 401 Unauthorized: PagerDuty rejected the API token in "
                f"${self.cfg.pagerduty_token_env}; set it to a valid REST API key",
                query=what,
            )
        if code == 429:
            raise SourceUnavailable(
                f"{what}: still rate limited (HTTP 429) after {self.cfg.max_retries} retries"
            )
        if code >= 500:
            raise SourceUnavailable(f"{what}: HTTP {code}: {resp.text[:200]}")
        if code >= 400:
            raise QueryError(f"{what}: HTTP {code}: {_pd_error(resp)}", query=what)
        try:
            data = loads_json(resp.content)
        except ValueError as exc:
            raise QueryError(f"{what}: response is not JSON: {resp.text[:200]!r}", query=what) from exc
        if not isinstance(data, dict):
            raise QueryError(f"{what}: expected a JSON object, got {type(data).__name__}", query=what)
        return data

    def log_entries(self, incident_id: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        offset = 0
        while True:
            page = self.get(
                f"/incidents/{incident_id}/log_entries",
                {"time_zone": "UTC", "is_overview": "false", "include[]": "channels",
                 "limit": _PD_PAGE, "offset": offset},
            )
            got = page.get("log_entries") or []
            got = got if isinstance(got, list) else [got]
            keys = [json.dumps(e, sort_keys=True, default=str) for e in got]
            fresh = [e for e, k in zip(got, keys, strict=True) if k not in seen]
            seen.update(keys)
            entries.extend(fresh)
            # A server that says "more" but sends nothing new (the same page again, whatever the
            # offset) would loop for ever; PagerDuty's offsets end at 10,000.
            offset += len(got)
            if not page.get("more") or not fresh or offset >= _PD_MAX_OFFSET:
                return entries


def _pd_error(resp: httpx.Response) -> str:
    try:
        err = loads_json(resp.content).get("error", {})
        return f"{err.get('message', '')} {'; '.join(err.get('errors', []))}".strip() or resp.text[:200]
    except (ValueError, AttributeError):
        return resp.text[:200]


def _pd_time(value: Any) -> pd.Timestamp | None:
    """A PagerDuty time (ISO 8601; epoch seconds or ms) in UTC, None when missing or unreadable."""
    if not value or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            t = pd.Timestamp(value, unit="ms" if abs(value) > 1e11 else "s")
        else:
            t = pd.Timestamp(str(value))
    except (ValueError, TypeError, OverflowError):
        return None
    if t is pd.NaT:
        return None
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).as_unit("ns")


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a field of the wrong type)."""
    return value if isinstance(value, dict) else {}


def _readable_entries(entries: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """(log entries with a readable time, oldest first; the others as JSON text, for details)."""
    good, bad = [], []
    for e in entries:
        if isinstance(e, dict) and _pd_time(e.get("created_at")) is not None:
            good.append(e)
        else:
            bad.append(json.dumps(e, default=str)[:300])
    good.sort(key=lambda e: _pd_time(e["created_at"]))  # type: ignore[arg-type,return-value]
    return good, bad


def _note_text(entry: dict[str, Any]) -> str:
    channel = _obj(entry.get("channel"))
    for key in ("content", "notes", "summary", "message"):
        value = channel.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return str(entry.get("summary") or "").strip()


def pagerduty_incident(incident_id: str, config: Config, *, base_url: str | None = None) -> Incident:
    """The :class:`Incident` ``incident_id`` from PagerDuty REST v2 (see the module docstring).

    Raises ConfigError when the token variable is unset, QueryError on 401/4xx,
    SourceUnavailable when PagerDuty cannot be reached or keeps answering 429.
    """
    base = base_url or config.incidents.pagerduty_url
    env = config.incidents.pagerduty_token_env
    token = config.secret(env)
    if not token:
        raise ConfigError(f"PagerDuty {base}: set ${env} to a REST API key ([incidents] pagerduty_token_env)")
    pd_client = _PagerDuty(base, token, config)
    try:
        data = pd_client.get(f"/incidents/{incident_id}", {"time_zone": "UTC"})
        entries = pd_client.log_entries(incident_id)
    finally:
        pd_client.close()
    inc = data.get("incident")
    if not isinstance(inc, dict):
        raise QueryError(f"PagerDuty GET /incidents/{incident_id}: no 'incident' object in the response")
    # One odd entry (a time that is no time, a string, a channel that is no object) must not
    # cost the incident: it is left out of the milestones, counted and shown in the details.
    entries, malformed = _readable_entries(list(entries) if isinstance(entries, list) else [])

    def first(kind: str) -> pd.Timestamp | None:
        return next((_pd_time(e["created_at"]) for e in entries if e.get("type") == kind), None)

    updates = []
    for e in entries:
        kind = str(e.get("type", ""))
        if kind != "annotate_log_entry" and "status_update" not in kind:
            continue
        text = _note_text(e)
        m = _LEADING_STATUS.match(text)
        updates.append({
            "timestamp": _pd_time(e["created_at"]),
            "status": normalize_status(m.group(1)) if m else None,
            "text": text[m.end():] if m and text[m.end():] else text,
            "author": _obj(e.get("agent")).get("summary"),
        })
    resolved = None
    if inc.get("status") == "resolved":
        resolves = [_pd_time(e["created_at"]) for e in entries if e.get("type") == "resolve_log_entry"]
        resolved = resolves[-1] if resolves else _pd_time(inc.get("resolved_at") or inc.get("last_status_change_at"))
    priority = inc.get("priority")
    priority = priority if isinstance(priority, str) else _obj(priority).get("summary") or _obj(priority).get("name")
    service = inc.get("service")
    service = service if isinstance(service, str) else _obj(service).get("summary")
    rec = Incident(
        incident_id=incident_id,
        title=str(inc.get("title") or inc.get("summary") or ""),
        severity=priority.upper() if isinstance(priority, str) and priority.upper() in SEVERITIES else None,
        services=(service,) if service else (),
        triggered_at=first("trigger_log_entry") or _pd_time(inc.get("created_at")),
        acknowledged_at=first("acknowledge_log_entry"),
        responded_at=updates[0]["timestamp"] if updates else None,
        resolved_at=resolved,
        updates=updates,
        source=f"pagerduty:{base.rstrip('/')}/incidents/{incident_id}",
        url=str(inc.get("html_url") or ""),
        as_of=pd.Timestamp.now(tz="UTC"),
    )
    if malformed:
        rec.updates.attrs["malformed_log_entries"] = len(malformed)
        rec.updates.attrs["malformed_samples"] = malformed[:3]
    return rec


# ------------------------------------------------------------------ public entry
def incident_record(
    incident_id: str, config: Config | None = None, *, embedded: Mapping[str, str] | None = None
) -> Incident:
    """The incident ``incident_id``: from PagerDuty when ``[incidents] pagerduty_url`` is
    set, else from ``<[incidents] dir>/INCIDENT_ID.toml``, else from ``embedded``
    (incident id -> TOML record, e.g. the demo's sample, which the CLI passes in).

    Returns an :class:`Incident`; ``incident_tables(rec)`` gives its bundle tables
    ``incident``, ``incident_updates`` (timestamp, status, text, author) and
    ``action_items`` (text, owner, …), and ``sla_report(rec)`` its SLAs.
    """
    check_incident_id(incident_id)
    config = config if config is not None else Config.load()
    if config.incidents.pagerduty_url:
        return pagerduty_incident(incident_id, config)
    path = config.resolve(config.incidents.dir) / f"{incident_id}.toml"
    if not path.is_file() and embedded and incident_id in embedded:
        # An embedded record works anywhere, before a bundle or a record file exists.
        return parse_incident_toml(embedded[incident_id], incident_id=incident_id,
                                   source=f"embedded {incident_id} sample")
    return read_incident_toml(path, incident_id=incident_id)


def _describe(config: Config) -> str:
    if config.incidents.pagerduty_url:
        base = config.incidents.pagerduty_url.rstrip("/")
        return f"GET {base}/incidents/<id> and /log_entries"
    return f"{config.resolve(config.incidents.dir)}/<id>.toml"


def _run(ctx: CollectContext) -> list[Evidence]:
    query = _describe(ctx.config).replace("<id>", ctx.incident_id)
    t0 = time.monotonic()
    try:
        rec = incident_record(ctx.incident_id, ctx.config, embedded=ctx.embedded_incidents)
    except (ConfigError, SourceError) as exc:
        return [
            Evidence(t, pd.DataFrame(), source="incident", query=query, status="unavailable",
                     error=str(exc), duration_s=time.monotonic() - t0)
            for t in TABLES
        ]
    dt_s = time.monotonic() - t0
    details = {k: rec.updates.attrs[k] for k in ("malformed_log_entries", "malformed_samples") if k in rec.updates.attrs}
    return [Evidence(name, frame, source="incident", query=query, duration_s=dt_s,
                     details=details if name == "incident_updates" else {})
            for name, frame in incident_tables(rec).items()]


def _configured(config: Config) -> bool:
    return bool(
        config.incidents.pagerduty_url
        or "incidents" in config.explicit
        or config.resolve(config.incidents.dir).is_dir()
    )


COLLECTOR = Collector(name="incident", run=_run, tables=TABLES, configured=_configured, describe=_describe)
