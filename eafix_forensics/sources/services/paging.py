"""The trading API's tables: which service serves them, and paging through their records."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pandas as pd

from ...config import Config, ServiceConfig
from ...errors import ConfigError, QueryError, SourceError, SourceUnavailable
from ...window import TimeWindow
from .client import _get, _http_error, _json, _public_url, _Reply
from .records import _empty_table, shape_records

# The runbook's trading API: table -> (service that serves it, path).
API_DEFAULTS: dict[str, tuple[str, str]] = {
    "positions": ("gui-gateway", "/api/positions"),
    "signals": ("signal-generator", "/api/signals"),
    "executions": ("execution-engine", "/api/executions"),
    "reconcile": ("gui-gateway", "/api/reconcile/positions"),
}
# Where a JSON object keeps its list of records.
_LIST_KEYS = ("items", "data", "results", "records", "positions", "signals", "executions")


# ---------------------------------------------------------------- the trading API
@dataclass
class _TableResult:
    """One trading-API table as fetched: rows plus how it went."""

    name: str
    frame: pd.DataFrame
    query: str
    status: str | None = None  # None: ok/empty
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    raise_: SourceError | None = None  # what the public function raises


def _endpoint(config: Config, table: str) -> tuple[str, ServiceConfig, str] | None:
    """(service name, its config, path) serving ``table``, or None when no service does."""
    for name, svc in config.services.items():
        path = getattr(svc, table)
        if path:
            return name, svc, path
    default_service, default_path = API_DEFAULTS[table]
    found = config.services.get(default_service)
    return (default_service, found, default_path) if found else None


def page_records(body: Any, table: str, url: str) -> tuple[list[Any], str | None, str | None, dict[str, Any]]:
    """(records, next page URL, next cursor, the page's scalar summary fields) of
    one parsed JSON page of ``table``: a list, or an object holding the list under
    the table's name or items/data/results/records (reconcile: also
    ``mismatches``). Raises QueryError naming ``url`` for any other shape."""
    if isinstance(body, list):
        return body, None, None, {}
    if not isinstance(body, dict):
        raise QueryError(
            f"{url}: expected a JSON list or object of {table}, got {type(body).__name__}",
            query=f"GET {url}",
        )
    records: list[Any] | None = None
    for key in (table, *_LIST_KEYS):
        if isinstance(body.get(key), list):
            records = body[key]
            break
    if records is None and table == "reconcile" and isinstance(body.get("mismatches"), list):
        # A reconcile answer listing only its breaks: each one is a mismatch.
        records = [
            {"status": "mismatch", **r} if isinstance(r, dict) and "status" not in r else r
            for r in body["mismatches"]
        ]
    if records is None:
        raise QueryError(
            f"{url}: expected a list of {table} (or an object with one under "
            f"{', '.join(repr(k) for k in (table, *_LIST_KEYS))}); got keys {sorted(body)[:10]}",
            query=f"GET {url}",
        )
    nxt = body.get("next") or body.get("next_url")
    cursor = body.get("next_cursor")
    summary = {
        k: v for k, v in body.items()
        if isinstance(v, (str, int, float, bool)) and k not in ("next", "next_url", "next_cursor")
    }
    return records, nxt if isinstance(nxt, str) else None, str(cursor) if cursor else None, summary


async def _fetch_table(
    client: httpx.AsyncClient,
    config: Config,
    table: str,
    deadline: float,
    *,
    window: TimeWindow | None = None,
) -> _TableResult:
    """Every page of ``table`` within the size cap, page limit and deadline."""
    ep = _endpoint(config, table)
    if ep is None:
        return _TableResult(
            table, _empty_table(table), "", status="skipped",
            error=f"no configured service serves {table} (set {table} = \"/path\" on one)",
        )
    service, svc, path = ep
    base = svc.url.rstrip("/")
    url: str | None = base + path
    params: dict[str, str] | None = None
    if window is not None:
        params = {"since": _since(window.start)}
    query = f"GET {_public_url(base + path)}" + (f"?since={params['since']}" if params else "")
    fetched_at = pd.Timestamp.now(tz="UTC").as_unit("ns")
    records: list[Any] = []
    summary: dict[str, Any] = {}
    seen: set[str] = set()
    used = pages = 0
    status: str | None = None
    error: str | None = None
    failure: SourceError | None = None
    origin = urlsplit(base)[:2]
    while url is not None:
        if pages >= svc.max_pages:
            status, error = "truncated", f"stopped after {pages} pages (max_pages = {svc.max_pages})"
            break
        try:
            reply = await _get(client, url, svc, deadline, params=params, budget=svc.max_bytes - used)
        except ConfigError as exc:
            failure = SourceUnavailable(str(exc))
            break
        pages += 1
        used += len(reply.body)
        failure = _reply_failure(reply, query)
        if failure is not None:
            break
        if reply.truncated:
            status = "truncated"
            error = (
                f"{reply.url}: response larger than the size cap of {svc.max_bytes} bytes; "
                f"stopped reading after {used} bytes"
            )
            break
        try:
            body = _json(reply)
            page_rows, nxt, cursor, page_summary = page_records(body, table, reply.url)
            records.extend(page_rows)
            summary.update(page_summary)
            url, params = _next_page(url, params, nxt, cursor, origin)
        except QueryError as exc:
            failure = exc
            break
        if url is not None:
            key = url + json.dumps(params, sort_keys=True)
            if key in seen:
                status, error = "truncated", f"{reply.url}: pagination loops back to {url}; stopped"
                break
            seen.add(key)
    if failure is not None and records:
        # Pages already read are kept: the failure is noted, not fatal to them.
        status, error = "truncated", f"{failure} (after {pages - 1} good pages)"
        failure = None
    frame = shape_records(table, records, service=service, fetched_at=fetched_at)
    details: dict[str, Any] = {"pages": pages, "bytes": used, "url": _public_url(base + path)}
    details.update(frame.attrs.pop("details", {}))
    if summary:
        details["summary"] = summary
    if window is not None and len(frame):
        frame, outside = _in_window(frame, window)
        if outside:
            details["outside_window"] = outside
    if failure is not None:
        return _TableResult(table, frame, query, "unavailable", str(failure), details, failure)
    return _TableResult(table, frame, query, status, error, details)


def _reply_failure(reply: _Reply, query: str) -> SourceError | None:
    """Why a page's reply is no good (no answer, or an HTTP error status), else None."""
    if reply.failure is not None:
        return type(reply.failure)(f"{reply.failure}; {reply.note}") if reply.note else reply.failure
    if reply.status_code is None or reply.status_code >= 300:
        msg = f"{reply.url}: {_http_error(reply)} after {reply.attempts} {'try' if reply.attempts == 1 else 'tries'}"
        if reply.note:
            msg = f"{msg}; {reply.note}"
        if reply.status_code and reply.status_code >= 500:
            return SourceUnavailable(msg)
        return QueryError(msg, query=query)
    return None


def _next_page(
    url: str,
    params: dict[str, str] | None,
    nxt: str | None,
    cursor: str | None,
    origin: tuple[str, str],
) -> tuple[str | None, dict[str, str] | None]:
    if nxt:
        target = urljoin(url, nxt)
        if urlsplit(target)[:2] != origin:
            # Following a link elsewhere would send requests we never configured.
            raise_url = _public_url(target)
            raise QueryError(f"{_public_url(url)}: next page {raise_url} is on another host; not followed")
        return target, None
    if cursor:
        return url, {**(params or {}), "cursor": cursor}
    return None, None


def _since(start: pd.Timestamp) -> str:
    """The runbook's relative ``since`` (``1h``, ``95m``) reaching back to ``start``.

    The API takes a duration, not a time, and applies it to *its* clock when the
    request arrives: whole minutes rounded up plus one minute of slack cover the
    window's start however late that is; rows outside the window are dropped on our side.
    """
    seconds = (pd.Timestamp.now(tz="UTC") - start).total_seconds()
    minutes = max(1, math.ceil(seconds / 60) + 1)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _in_window(frame: pd.DataFrame, window: TimeWindow) -> tuple[pd.DataFrame, int]:
    ts = frame["timestamp"]
    keep = ts.isna() | window.mask(ts)
    return frame[keep].reset_index(drop=True), int((~keep).sum())
