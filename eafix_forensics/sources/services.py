"""The EAFIX services over HTTP: health and the trading API, read with GET only.

The runbook curls ``/health`` (gui-gateway) and ``/healthz`` (the other five),
``/api/positions``, ``/api/signals?since=1h``, ``/api/executions?since=1h`` and
``/api/reconcile/positions``. This module takes that snapshot in one call:

- :func:`health` → the ``health`` schema, one row per configured service;
- :func:`positions`, :func:`signals`, :func:`executions`, :func:`reconcile` →
  DataFrames with the columns in ``POSITIONS``, ``SIGNALS``, ``EXECUTIONS`` and
  ``RECONCILE`` first, then every unknown field of the API kept as a column.

Safety and robustness, all in one private request helper:

- the client's transport refuses every method but GET before a connection is
  opened, so nothing here can stop trading or inject a tick;
- retries only on connect errors and 5xx, at most ``tries`` (≤ 3) per request,
  jittered exponential backoff, a server's ``Retry-After`` honoured up to
  ``max_retry_after_s``;
- each attempt is bounded by ``timeout_s`` (connect to last byte) and every
  request by one overall deadline, so a server that trickles bytes is cut;
- bodies are streamed and reading stops at ``max_bytes`` (status ``truncated``);
- invalid JSON is a :class:`QueryError` naming the URL with a short sample.

httpx errors are translated to ours in :func:`_translate` and nowhere else.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import numpy as np
import pandas as pd

from ..bundle import Evidence
from ..config import Config, ServiceConfig
from ..errors import ConfigError, ForensicsError, QueryError, SourceError, SourceUnavailable
from ..model import tables
from ..window import TimeWindow
from .base import CollectContext, Collector

__all__ = [
    "API_DEFAULTS",
    "COLLECTOR",
    "DEFAULT_DEADLINE_S",
    "EXECUTIONS",
    "POSITIONS",
    "RECONCILE",
    "SIGNALS",
    "TABLES",
    "executions",
    "health",
    "health_frame",
    "health_row",
    "page_records",
    "positions",
    "read_only_client",
    "reconcile",
    "shape_records",
    "signals",
]

# Without a collect deadline, a snapshot never takes longer than this.
DEFAULT_DEADLINE_S = 20.0

# The runbook's trading API: table -> (service that serves it, path).
API_DEFAULTS: dict[str, tuple[str, str]] = {
    "positions": ("gui-gateway", "/api/positions"),
    "signals": ("signal-generator", "/api/signals"),
    "executions": ("execution-engine", "/api/executions"),
    "reconcile": ("gui-gateway", "/api/reconcile/positions"),
}

_TS = "datetime64[ns, UTC]"
_TEXT = "str"
_FLOAT = "float64"

#: positions: one row per position the gateway reports. ``exposure`` is the
#: API's own exposure/notional figure (missing when the API gives none).
POSITIONS: dict[str, str] = {
    "fetched_at": _TS,
    "service": _TEXT,
    "position_id": _TEXT,
    "account": _TEXT,
    "symbol": _TEXT,
    "side": _TEXT,
    "quantity": _FLOAT,
    "entry_price": _FLOAT,
    "current_price": _FLOAT,
    "exposure": _FLOAT,
    "unrealized_pnl": _FLOAT,
    "status": _TEXT,
    "opened_at": _TS,
    "updated_at": _TS,
}
#: signals: one row per generated signal; ``latency_ms`` tick-to-signal.
SIGNALS: dict[str, str] = {
    "timestamp": _TS,
    "service": _TEXT,
    "signal_id": _TEXT,
    "symbol": _TEXT,
    "side": _TEXT,
    "strength": _FLOAT,
    "price": _FLOAT,
    "latency_ms": _FLOAT,
    "status": _TEXT,
}
#: executions: one row per order execution attempt; ``status`` lower-case
#: (e.g. filled, rejected, failed), ``error`` the broker's or engine's reason.
EXECUTIONS: dict[str, str] = {
    "timestamp": _TS,
    "service": _TEXT,
    "execution_id": _TEXT,
    "order_id": _TEXT,
    "symbol": _TEXT,
    "side": _TEXT,
    "quantity": _FLOAT,
    "price": _FLOAT,
    "status": _TEXT,
    "error": _TEXT,
    "latency_ms": _FLOAT,
}
#: reconcile: one row per reconciled position; ``status`` is ``match`` or
#: ``mismatch`` (derived from ``difference`` when the API gives no status).
RECONCILE: dict[str, str] = {
    "checked_at": _TS,
    "service": _TEXT,
    "account": _TEXT,
    "symbol": _TEXT,
    "internal_quantity": _FLOAT,
    "broker_quantity": _FLOAT,
    "difference": _FLOAT,
    "status": _TEXT,
    "detail": _TEXT,
}
TABLES: dict[str, dict[str, str]] = {
    "positions": POSITIONS,
    "signals": SIGNALS,
    "executions": EXECUTIONS,
    "reconcile": RECONCILE,
}
# Snapshot tables are stamped with the fetch time when the API gives none; event
# tables (signals, executions) keep a missing time missing rather than invent one.
_STAMP = {"positions": "fetched_at", "reconcile": "checked_at"}

# Field names seen in trading APIs for our columns; the canonical name wins when both exist.
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "positions": {
        "position_id": ("id", "position"),
        "account": ("account_id",),
        "side": ("direction",),
        "quantity": ("qty", "size", "volume", "units"),
        "entry_price": ("open_price", "avg_price", "average_price"),
        "current_price": ("price", "mark_price", "market_price"),
        "exposure": ("notional", "exposure_usd"),
        "unrealized_pnl": ("pnl", "upl", "unrealised_pnl"),
        "opened_at": ("open_time", "opened", "created_at"),
        "updated_at": ("update_time", "modified_at"),
    },
    "signals": {
        "timestamp": ("ts", "time", "generated_at", "created_at"),
        "signal_id": ("id",),
        "side": ("direction", "action"),
        "strength": ("confidence", "score"),
    },
    "executions": {
        "timestamp": ("ts", "time", "executed_at", "created_at"),
        "execution_id": ("id", "exec_id"),
        "order_id": ("order",),
        "quantity": ("qty", "size", "volume"),
        "price": ("fill_price", "avg_price"),
        "error": ("reason", "reject_reason", "message"),
    },
    "reconcile": {
        "account": ("account_id",),
        "internal_quantity": ("internal", "internal_qty", "system_quantity", "local_quantity", "expected"),
        "broker_quantity": ("broker", "broker_qty", "external_quantity", "actual"),
        "difference": ("diff", "delta"),
        "detail": ("message", "reason"),
        "checked_at": ("timestamp", "ts", "time"),
    },
}
# Where a JSON object keeps its list of records.
_LIST_KEYS = ("items", "data", "results", "records", "positions", "signals", "executions")
_SAMPLE_CHARS = 80


# ---------------------------------------------------------------- the GET-only client
class _GetOnlyTransport(httpx.AsyncBaseTransport):
    """Refuses every method but GET before the wrapped transport opens a connection."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            # Raised here, before the inner transport: not a byte reaches the service.
            raise QueryError(
                f"{request.method} {_public_url(str(request.url))} refused: the services client is "
                "read-only and sends GET only (nothing was sent)",
                query=f"{request.method} {_public_url(str(request.url))}",
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def read_only_client(*, timeout_s: float = 5.0) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that can only send GET: any other method raises
    QueryError before a connection is opened. Environment proxies are ignored
    (``trust_env=False``) so every request goes straight to the service."""
    return httpx.AsyncClient(
        transport=_GetOnlyTransport(httpx.AsyncHTTPTransport(retries=0)),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers={"Accept": "application/json", "User-Agent": "eafix-forensics"},
    )


# ---------------------------------------------------------------- one request, with retries
@dataclass
class _Reply:
    """What one GET came to, after its retries."""

    url: str  # without userinfo
    started_at: pd.Timestamp
    attempts: int = 0
    status_code: int | None = None
    body: bytes = b""
    truncated: bool = False
    latency_ms: float = float("nan")
    content_type: str = ""
    failure: SourceError | None = None  # no HTTP answer (refused, timed out, cut)
    note: str = ""  # e.g. why retrying stopped early

    @property
    def connect_failed(self) -> bool:
        return isinstance(self.failure, _ConnectFailed)


class _ConnectFailed(SourceUnavailable):
    """No connection could be made (the only transport failure worth a retry)."""


def _translate(exc: BaseException, url: str, *, timeout_s: float, deadline_hit: bool = False) -> ForensicsError:
    """The one place httpx (and asyncio timeout) errors become ours."""
    if isinstance(exc, httpx.InvalidURL):
        return ConfigError(f"{url}: invalid URL: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigError(f"{url}: unsupported URL scheme (use http:// or https://): {exc}")
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return _ConnectFailed(f"{url}: cannot connect: {exc or type(exc).__name__}")
    if isinstance(exc, TimeoutError) and deadline_hit:
        return SourceUnavailable(f"{url}: no complete answer before the overall deadline")
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return SourceUnavailable(f"{url}: no complete answer within {timeout_s:g} s ({type(exc).__name__})")
    if isinstance(exc, httpx.DecodingError):
        return QueryError(f"{url}: undecodable response body: {exc}", query=f"GET {url}")
    if isinstance(exc, httpx.HTTPError):
        return SourceUnavailable(f"{url}: {type(exc).__name__}: {exc}")
    return SourceUnavailable(f"{url}: {type(exc).__name__}: {exc}")


_jitter = random.Random()


def _backoff(svc: ServiceConfig, attempt: int) -> float:
    # Jitter keeps six clients that failed together from retrying together.
    return float(svc.backoff_s * (2 ** (attempt - 1)) * _jitter.uniform(0.5, 1.0))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, float((pd.Timestamp(when) - pd.Timestamp.now(tz="UTC")).total_seconds()))


async def _attempt(
    client: httpx.AsyncClient,
    url: str,
    params: Mapping[str, str] | None,
    svc: ServiceConfig,
    deadline: float,
    budget: int,
    reply: _Reply,
) -> str | None:
    """One GET into ``reply``; returns the Retry-After header when there was one."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    limit = min(svc.timeout_s, max(0.0, deadline - t0))
    deadline_bound = deadline - t0 < svc.timeout_s
    reply.attempts += 1
    reply.failure, reply.status_code, reply.body, reply.truncated = None, None, b"", False
    retry_after = None
    try:
        async with asyncio.timeout(limit):
            async with client.stream(
                "GET", url, params=params, timeout=httpx.Timeout(svc.timeout_s)
            ) as resp:
                reply.status_code = resp.status_code
                reply.content_type = resp.headers.get("content-type", "")
                retry_after = resp.headers.get("retry-after")
                length = resp.headers.get("content-length", "")
                chunks: list[bytes] = []
                size = 0
                if length.isdigit() and int(length) > budget:
                    # Announced too big: do not read a byte of it.
                    reply.truncated = True
                else:
                    async for chunk in resp.aiter_bytes():
                        if size + len(chunk) > budget:
                            chunks.append(chunk[: budget - size])
                            size = budget
                            reply.truncated = True
                            break
                        chunks.append(chunk)
                        size += len(chunk)
                reply.body = b"".join(chunks)
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
        err = _translate(exc, reply.url, timeout_s=svc.timeout_s, deadline_hit=deadline_bound)
        if isinstance(err, ConfigError):
            raise err from exc
        assert isinstance(err, SourceError)
        reply.failure = err
        reply.status_code = None
        reply.body = b""
    reply.latency_ms = (loop.time() - t0) * 1000.0
    return retry_after


async def _get(
    client: httpx.AsyncClient,
    url: str,
    svc: ServiceConfig,
    deadline: float,
    *,
    params: Mapping[str, str] | None = None,
    budget: int | None = None,
) -> _Reply:
    """GET ``url`` with retries on connect errors and 5xx; never raises for the service's faults."""
    loop = asyncio.get_running_loop()
    reply = _Reply(url=_public_url(url), started_at=pd.Timestamp.now(tz="UTC").as_unit("ns"))
    budget = svc.max_bytes if budget is None else budget
    for attempt in range(1, svc.tries + 1):
        retry_after = await _attempt(client, url, params, svc, deadline, budget, reply)
        server_error = reply.status_code is not None and reply.status_code >= 500
        if not (reply.connect_failed or server_error) or attempt == svc.tries:
            break
        wait = _backoff(svc, attempt)
        asked = _retry_after(retry_after) if server_error else None
        if asked is not None:
            wait = min(asked, svc.max_retry_after_s)
        if loop.time() + wait >= deadline:
            reply.note = f"stopped retrying after {attempt} of {svc.tries} tries: the overall deadline is near"
            break
        await asyncio.sleep(wait)
    return reply


def _public_url(url: str) -> str:
    """``url`` without user:password, so it can be shown and stored."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _sample(body: bytes) -> str:
    text = body[:_SAMPLE_CHARS].decode("utf-8", "replace")
    return text + ("…" if len(body) > _SAMPLE_CHARS else "")


def _json(reply: _Reply) -> Any:
    try:
        return json.loads(reply.body)
    except (ValueError, UnicodeDecodeError) as exc:
        what = f"{exc.msg} at byte {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise QueryError(
            f"{reply.url}: invalid JSON ({what}); body starts {_sample(reply.body)!r}",
            query=f"GET {reply.url}",
        ) from None


def _http_error(reply: _Reply) -> str:
    """``HTTP 503: <the service's own message>`` for an error answer."""
    detail = ""
    try:
        body = json.loads(reply.body) if reply.body else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        for key in ("error", "message", "detail", "reason"):
            if isinstance(body.get(key), str) and body[key]:
                detail = body[key]
                break
    elif reply.body:
        detail = _sample(reply.body).strip()
    return f"HTTP {reply.status_code}" + (f": {detail}" if detail else "")


# ---------------------------------------------------------------- health
_OK_WORDS = {"ok", "healthy", "up", "pass", "passing", "green", "ready", "alive", "serving"}
_DEGRADED_WORDS = {"degraded", "warn", "warning", "yellow", "partial", "slow"}
_DOWN_WORDS = {"down", "unhealthy", "fail", "failed", "failing", "error", "critical", "red"}


def health_row(
    *,
    service: str,
    url: str,
    checked_at: pd.Timestamp,
    status_code: int | None,
    body: bytes = b"",
    latency_ms: float = float("nan"),
    failure: str | None = None,
    truncated: bool = False,
    degraded_ms: float = 2000.0,
    critical: bool = True,
    attempts: int = 1,
) -> dict[str, Any]:
    """One ``health`` row from what a health endpoint answered.

    ``status`` is ``unreachable`` with no HTTP answer (``failure`` says why),
    ``down`` for 4xx/5xx or a body whose ``status`` says down, ``degraded``
    for a body saying so, a redirect, invalid JSON, a truncated body or an
    answer slower than ``degraded_ms``, else ``ok``. Extra keys: ``critical``,
    ``attempts``.
    """
    row: dict[str, Any] = {
        "checked_at": checked_at,
        "service": service,
        "url": _public_url(url),
        "status_code": status_code,
        "latency_ms": latency_ms,
        "critical": critical,
        "attempts": attempts,
    }
    if status_code is None:
        row.update(status="unreachable", error=failure or "no answer")
        return row
    reply = _Reply(url=_public_url(url), started_at=checked_at, status_code=status_code, body=body)
    if status_code >= 400:
        row.update(status="down", error=_http_error(reply))
        return row
    status, error = "ok", None
    if status_code >= 300:
        status, error = "degraded", f"HTTP {status_code}: health endpoint redirects"
    elif truncated:
        status, error = "degraded", f"health answer larger than the size cap, cut after {len(body)} bytes"
    elif body.strip()[:1] in (b"{", b"["):
        try:
            doc = _json(reply)
        except QueryError as exc:
            doc, status, error = None, "degraded", str(exc)
        said = doc.get("status") if isinstance(doc, dict) else None
        word = str(said).strip().lower() if said is not None else ""
        if word in _DOWN_WORDS:
            status, error = "down", f"service reports status {said!r}"
        elif word in _DEGRADED_WORDS:
            status, error = "degraded", f"service reports status {said!r}"
        elif word and word not in _OK_WORDS:
            status, error = "degraded", f"service reports unknown status {said!r}"
    if status == "ok" and latency_ms > degraded_ms:
        status, error = "degraded", f"slow: answered in {latency_ms:.0f} ms (> {degraded_ms:g} ms)"
    row.update(status=status, error=error)
    return row


async def _health_one(
    client: httpx.AsyncClient, name: str, svc: ServiceConfig, deadline: float
) -> dict[str, Any]:
    url = svc.url.rstrip("/") + svc.health
    try:
        reply = await _get(client, url, svc, deadline)
    except Exception as exc:  # noqa: BLE001 - one service's surprise must not cost the other rows
        msg = str(exc) if isinstance(exc, ForensicsError) else f"{type(exc).__name__}: {exc}"
        return health_row(
            service=name, url=url, checked_at=pd.Timestamp.now(tz="UTC"), status_code=None,
            failure=msg, critical=svc.critical, attempts=0,
        )
    failure = str(reply.failure) if reply.failure else None
    row = health_row(
        service=name,
        url=url,
        checked_at=reply.started_at,
        status_code=reply.status_code,
        body=reply.body,
        latency_ms=reply.latency_ms,
        failure=failure,
        truncated=reply.truncated,
        degraded_ms=svc.degraded_ms,
        critical=svc.critical,
        attempts=reply.attempts,
    )
    if reply.note and row["error"]:
        row["error"] = f"{row['error']}; {reply.note}"
    return row


def health_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The ``health`` table from :func:`health_row` rows (schema columns, then
    ``critical`` and ``attempts``); the empty table when there are none."""
    if not rows:
        return tables.empty("health", {"critical": "boolean", "attempts": "Int64"})
    frame = tables.conform(list(rows), "health")
    frame["critical"] = frame["critical"].astype("boolean")
    frame["attempts"] = frame["attempts"].astype("Int64")
    return frame


async def _health_all(client: httpx.AsyncClient, config: Config, deadline: float) -> pd.DataFrame:
    rows = await asyncio.gather(
        *(_health_one(client, name, svc, deadline) for name, svc in config.services.items())
    )
    return health_frame(rows)


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
        if reply.failure is not None:
            failure = reply.failure
            if reply.note:
                failure = type(failure)(f"{failure}; {reply.note}")
            break
        if reply.status_code is None or reply.status_code >= 300:
            msg = f"{reply.url}: {_http_error(reply)} after {reply.attempts} {'try' if reply.attempts == 1 else 'tries'}"
            if reply.note:
                msg = f"{msg}; {reply.note}"
            failure = (
                SourceUnavailable(msg) if reply.status_code and reply.status_code >= 500
                else QueryError(msg, query=query)
            )
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

    The API takes a duration, not a time; whole minutes rounded up cover the
    window's start, and rows outside the window are dropped on our side.
    """
    seconds = (pd.Timestamp.now(tz="UTC") - start).total_seconds()
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _in_window(frame: pd.DataFrame, window: TimeWindow) -> tuple[pd.DataFrame, int]:
    ts = frame["timestamp"]
    keep = ts.isna() | window.mask(ts)
    return frame[keep].reset_index(drop=True), int((~keep).sum())


# ---------------------------------------------------------------- shaping (shared by the demo)
def _empty_table(table: str) -> pd.DataFrame:
    spec = TABLES[table]
    return pd.DataFrame({c: pd.Series([], dtype=_dtype(t)) for c, t in spec.items()})


def _dtype(t: str) -> Any:
    return pd.StringDtype(na_value=np.nan) if t == _TEXT else t


def _one_utc(v: Any) -> pd.Timestamp | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        if isinstance(v, (int, float)):
            # Epoch seconds vs milliseconds: ms values are past year 5138 as seconds.
            ts = pd.Timestamp(v, unit="ms" if abs(v) > 1e11 else "s")
        else:
            ts = pd.Timestamp(v if not isinstance(v, str) else v.strip())
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is pd.NaT:
        return None
    # Inputs without an offset are UTC.
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _to_utc(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(UTC timestamps, mask of values that were given but could not be read)."""
    values = series.astype(object).where(series.notna(), None)
    parsed = [_one_utc(v) for v in values]
    out = pd.Series(pd.array([pd.NaT if t is None else t for t in parsed], dtype=_TS), index=series.index)
    bad = values.notna() & out.isna()
    return out, bad


def _plain(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def _cast(series: pd.Series, t: str) -> pd.Series:
    if t == _TEXT:
        return series.astype(object).where(series.notna(), None).map(
            lambda v: v if v is None or isinstance(v, str) else str(_plain(v))
        ).astype(_dtype(_TEXT))
    return pd.to_numeric(series.astype(object).map(_plain), errors="coerce").astype(_FLOAT)


def _extra(series: pd.Series) -> pd.Series:
    """An API field we have no column for, as a Parquet-safe column."""
    values = series.astype(object).where(series.notna(), None)
    present = values.dropna()
    if present.map(lambda v: isinstance(v, bool)).all() and len(present):
        return values.astype("boolean")
    if present.map(lambda v: isinstance(v, int) and not isinstance(v, bool)).all() and len(present):
        return values.astype("Int64")
    if present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all() and len(present):
        return pd.to_numeric(values).astype(_FLOAT)
    return values.map(lambda v: None if v is None else (v if isinstance(v, str) else str(_plain(v)))).astype(
        _dtype(_TEXT)
    )


_RECONCILE_WORDS = {
    "match": "match", "matched": "match", "ok": "match", "reconciled": "match", "true": "match",
    "mismatch": "mismatch", "mismatched": "mismatch", "break": "mismatch", "diff": "mismatch",
    "false": "mismatch", "error": "mismatch",
}


def shape_records(
    table: str,
    records: Sequence[Any],
    *,
    service: str,
    fetched_at: pd.Timestamp,
) -> pd.DataFrame:
    """The DataFrame for trading-API ``table`` (positions, signals, executions,
    reconcile) from the API's JSON records.

    Columns: ``TABLES[table]`` in order with their dtypes (timestamps UTC, text
    ``str``, numbers float64), then every other field of the records, in first-seen
    order (nested values as JSON text). Known alternative field names (``qty``,
    ``id``, ``reason``…) fill the canonical column when it is absent. A record
    that is not a JSON object is kept as a row whose ``raw`` column holds it;
    unreadable timestamps keep their text in ``<column>_raw``. Counts of both
    are in ``frame.attrs["details"]``.
    """
    spec = TABLES.get(table)
    if spec is None:
        raise ConfigError(f"unknown services table {table!r}; known: {', '.join(TABLES)}")
    details: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    malformed = 0
    for rec in records:
        if isinstance(rec, dict):
            rows.append({str(k): v for k, v in rec.items()})
        else:
            malformed += 1
            rows.append({"raw": json.dumps(rec, default=str)})
    if malformed:
        details["malformed_records"] = malformed
    if not rows:
        frame = _empty_table(table)
        frame.attrs["details"] = details
        return frame
    raw = pd.DataFrame(rows)
    for canonical, aliases in _ALIASES.get(table, {}).items():
        if canonical in raw.columns:
            continue
        for alias in aliases:
            if alias in raw.columns:
                raw = raw.rename(columns={alias: canonical})
                break
    if table == "signals" and "latency_ms" not in raw.columns and "latency_s" in raw.columns:
        raw["latency_ms"] = pd.to_numeric(raw["latency_s"], errors="coerce") * 1000.0
    out: dict[str, pd.Series] = {}
    raw_cols: dict[str, pd.Series] = {}
    n = len(raw)
    for col, t in spec.items():
        given = raw[col] if col in raw.columns else pd.Series([None] * n, dtype=object)
        if col == "service":
            given = given.astype(object).where(given.notna(), service)
        if t == _TS:
            if col == _STAMP.get(table):
                given = given.astype(object).where(given.notna(), fetched_at)
            ts, bad = _to_utc(given)
            if bad.any():
                details[f"unreadable_{col}"] = int(bad.sum())
                raw_cols[f"{col}_raw"] = given.astype(object).where(bad, None).map(
                    lambda v: None if v is None else str(v)
                ).astype(_dtype(_TEXT))
            out[col] = ts
        else:
            out[col] = _cast(given, t)
    if "status" in out:
        status = out["status"].str.strip().str.lower()
        if table == "reconcile":
            status = status.map(lambda v: _RECONCILE_WORDS.get(v, v) if isinstance(v, str) else v)
            matched = raw.get("matched", raw.get("match"))
            if matched is not None:
                from_flag = matched.map(lambda v: None if v is None or pd.isna(v) else ("match" if v else "mismatch"))
                status = status.where(status.notna(), from_flag)
            out["difference"] = out["difference"].fillna(out["broker_quantity"] - out["internal_quantity"])
            derived = out["difference"].map(lambda d: None if pd.isna(d) else ("match" if d == 0 else "mismatch"))
            status = status.where(status.notna(), derived)
        out["status"] = status.astype(_dtype(_TEXT))
    frame = pd.DataFrame(out)
    for col, s in raw_cols.items():
        frame[col] = s.reset_index(drop=True)
    for col in raw.columns:
        if col not in spec and col not in frame.columns:
            frame[col] = _extra(raw[col]).reset_index(drop=True)
    frame.attrs["details"] = details
    return frame


# ---------------------------------------------------------------- sync entry points
_T = TypeVar("_T")


def _run(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion, also from inside a running loop (Jupyter)."""

    async def main() -> _T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="eafix-services") as pool:
        return pool.submit(asyncio.run, main()).result()


def _deadline_s(deadline_s: float | None) -> float:
    if deadline_s is None:
        return DEFAULT_DEADLINE_S
    if isinstance(deadline_s, bool) or not isinstance(deadline_s, (int, float)) or deadline_s <= 0:
        raise ConfigError(f"deadline_s = {deadline_s!r}: expected a positive number of seconds")
    return float(deadline_s)


def _config(config: Config | str | os.PathLike[str] | None) -> Config:
    cfg = config if isinstance(config, Config) else Config.load(config)
    if not cfg.services:
        raise ConfigError("no [services.NAME] configured: nothing to check")
    return cfg


def health(
    config: Config | str | os.PathLike[str] | None = None, *, deadline_s: float | None = None
) -> pd.DataFrame:
    """Health of every configured service, all checked at once.

    Returns the ``health`` schema (checked_at, service, url, status_code, status,
    latency_ms, error) plus ``critical`` and ``attempts``; one row per service,
    also for those that did not answer. ``status`` is ok, degraded, down or
    unreachable (see :func:`health_row`). Nothing takes longer than
    ``deadline_s`` (default ``DEFAULT_DEADLINE_S``) overall. ``config`` is a
    Config or the path of an eafix.toml (None: ``Config.load()``).
    """
    config = _config(config)
    limit = _deadline_s(deadline_s)

    async def go() -> pd.DataFrame:
        deadline = asyncio.get_running_loop().time() + limit
        async with read_only_client() as client:
            return await _health_all(client, config, deadline)

    return _run(go)


def _public_table(
    config: Config | str | os.PathLike[str] | None, table: str, window: TimeWindow | None, deadline_s: float | None
) -> pd.DataFrame:
    config = _config(config)
    limit = _deadline_s(deadline_s)

    async def go() -> _TableResult:
        deadline = asyncio.get_running_loop().time() + limit
        async with read_only_client() as client:
            return await _fetch_table(client, config, table, deadline, window=window)

    res = _run(go)
    if res.raise_ is not None:
        raise res.raise_
    if res.status == "skipped":
        raise ConfigError(res.error or f"no service serves {table}")
    res.frame.attrs.update(status=res.status or ("ok" if len(res.frame) else "empty"), error=res.error, details=res.details)
    return res.frame


def _window(window: TimeWindow | str) -> TimeWindow:
    if isinstance(window, TimeWindow):
        return window
    if isinstance(window, str):
        return TimeWindow.last(window)
    raise ConfigError(f"window {window!r}: expected a TimeWindow or a duration like '1h'")


def positions(config: Config | str | os.PathLike[str] | None = None, *, deadline_s: float | None = None) -> pd.DataFrame:
    """Positions from ``/api/positions`` (gui-gateway by default).

    Returns columns ``POSITIONS`` (fetched_at, service, position_id, account,
    symbol, side, quantity, entry_price, current_price, exposure, unrealized_pnl,
    status, opened_at, updated_at) then the API's other fields. ``frame.attrs``
    holds status (ok/empty/truncated), error and details (pages, bytes).
    Raises SourceUnavailable when the service cannot be reached or answers 5xx,
    QueryError for 4xx or a body that is not the expected JSON.
    """
    return _public_table(config, "positions", None, deadline_s)


def signals(
    config: Config | str | os.PathLike[str] | None, window: TimeWindow | str, *, deadline_s: float | None = None) -> pd.DataFrame:
    """Signals generated in ``window`` from ``/api/signals`` (signal-generator).

    Sends the runbook's relative ``since`` (``1h``, ``95m``: back to the window's
    start), follows pagination, and keeps rows inside the window (or without a
    timestamp; ``attrs["details"]["outside_window"]`` counts the rest). Returns columns ``SIGNALS``
    (timestamp, service, signal_id, symbol, side, strength, price, latency_ms,
    status) then the API's other fields; attrs and errors as :func:`positions`.
    """
    return _public_table(config, "signals", _window(window), deadline_s)


def executions(
    config: Config | str | os.PathLike[str] | None, window: TimeWindow | str, *, deadline_s: float | None = None) -> pd.DataFrame:
    """Executions in ``window`` from ``/api/executions`` (execution-engine).

    Returns columns ``EXECUTIONS`` (timestamp, service, execution_id, order_id,
    symbol, side, quantity, price, status, error, latency_ms) then the API's
    other fields; window, attrs and errors as :func:`signals`.
    """
    return _public_table(config, "executions", _window(window), deadline_s)


def reconcile(config: Config | str | os.PathLike[str] | None = None, *, deadline_s: float | None = None) -> pd.DataFrame:
    """Position reconciliation from ``/api/reconcile/positions`` (gui-gateway).

    Returns columns ``RECONCILE`` (checked_at, service, account, symbol,
    internal_quantity, broker_quantity, difference, status = match|mismatch,
    detail) then the API's other fields; attrs and errors as :func:`positions`.
    """
    return _public_table(config, "reconcile", None, deadline_s)


# ---------------------------------------------------------------- collect()
def _describe(config: Config) -> str:
    parts = [f"GET {_public_url(s.url.rstrip('/') + s.health)}" for s in config.services.values()]
    for table in TABLES:
        ep = _endpoint(config, table)
        if ep:
            parts.append(f"GET {_public_url(ep[1].url.rstrip('/') + ep[2])}")
    return ", ".join(parts)


def _run_collector(ctx: CollectContext) -> list[Evidence]:
    config = ctx.config
    # Leave the collect runner a moment to record our tables before its own deadline.
    limit = min(DEFAULT_DEADLINE_S, max(1.0, ctx.remaining() - 2.0)) if ctx.deadline else DEFAULT_DEADLINE_S
    windowed = {"signals": ctx.window, "executions": ctx.window}

    async def go() -> tuple[pd.DataFrame, float, list[_TableResult | BaseException], list[float]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        async with read_only_client() as client:

            async def timed(coro: Awaitable[_T]) -> tuple[_T, float]:
                t0 = time.monotonic()
                value = await coro
                return value, time.monotonic() - t0

            health_job = timed(_health_all(client, config, deadline))
            table_jobs = [timed(_fetch_table(client, config, t, deadline, window=windowed.get(t))) for t in TABLES]
            results = await asyncio.gather(health_job, *table_jobs, return_exceptions=True)
        first = results[0]
        if isinstance(first, BaseException):
            frame, health_s = health_frame([]), 0.0
            frame.attrs["error"] = f"{type(first).__name__}: {first}"
        else:
            frame, health_s = first
        tables: list[_TableResult | BaseException] = []
        durations: list[float] = []
        for r in results[1:]:
            if isinstance(r, BaseException):
                tables.append(r)
                durations.append(0.0)
            else:
                tables.append(r[0])
                durations.append(r[1])
        return frame, health_s, tables, durations

    hframe, health_s, results, durations = _run(go)
    describe_health = ", ".join(f"GET {_public_url(s.url.rstrip('/') + s.health)}" for s in config.services.values())
    bad = hframe[hframe["status"] != "ok"]
    health_error = hframe.attrs.pop("error", None)
    out = [
        Evidence(
            "health", hframe, source="services", query=describe_health, duration_s=health_s,
            status="unavailable" if health_error else None, error=health_error,
            details={"not_ok": {str(r.service): str(r.status) for r in bad.itertuples()}} if len(bad) else {},
        )
    ]
    for table, res, dt in zip(TABLES, results, durations, strict=True):
        if isinstance(res, BaseException):
            # One endpoint's surprise must not cost the others their tables.
            out.append(Evidence(table, _empty_table(table), source="services", status="unavailable",
                                error=f"{type(res).__name__}: {res}"))
            continue
        out.append(Evidence(
            table, res.frame, source="services", query=res.query, status=res.status, error=res.error,
            duration_s=dt, details=res.details,
        ))
    return out


COLLECTOR = Collector(
    name="services",
    run=_run_collector,
    tables=("health", *TABLES),
    configured=lambda cfg: bool(cfg.services),
    describe=_describe,
)
