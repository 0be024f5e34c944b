"""Health checks: one classification of an HTTP answer into ok, degraded, down or unreachable."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from typing import Any

import httpx
import pandas as pd

from ...config import Config, ServiceConfig
from ...errors import ForensicsError, QueryError
from ...model import tables
from .client import _get, _http_error, _json, _public_url, _Reply, _sample

# ---------------------------------------------------------------- health
_OK_WORDS = {"ok", "healthy", "up", "pass", "passing", "green", "ready", "alive", "serving", "pong"}
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
    ``down`` for 4xx/5xx or a body whose ``status`` says down (or a false
    ``healthy``/``ok``/``up`` flag, or a text answer starting with a down word),
    ``degraded`` for a body saying so, a 200 carrying an ``error`` and no status,
    a text answer that is not ``OK``-like (an HTML error page), a redirect, invalid
    JSON, a truncated body or an answer slower than ``degraded_ms``, else ``ok``. Extra keys: ``critical``,
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
        if isinstance(doc, dict):
            status, error = _said(doc, status, error)
    elif body.strip():
        status, error = _text_answer(body)
    if status == "ok" and latency_ms > degraded_ms:
        status, error = "degraded", f"slow: answered in {latency_ms:.0f} ms (> {degraded_ms:g} ms)"
    row.update(status=status, error=error)
    return row


# Boolean health flags ({"healthy": false}) and error fields of a 200 answer without a status.
_FLAGS = ("healthy", "ok", "up", "alive", "ready", "live", "success")
_ERROR_KEYS = ("error", "errors", "err", "failure", "exception")


def _said(doc: dict[str, Any], status: str, error: str | None) -> tuple[str, str | None]:
    """What a JSON health answer says: its ``status`` word, else a false health flag (down)
    or an error field (degraded); a 200 is not "ok" when the body says otherwise."""
    said = doc.get("status")
    word = str(said).strip().lower() if said is not None else ""
    if word in _DOWN_WORDS or said is False:
        return "down", f"service reports status {said!r}"
    if word in _DEGRADED_WORDS:
        return "degraded", f"service reports status {said!r}"
    if word and word not in _OK_WORDS:
        return "degraded", f"service reports unknown status {said!r}"
    if said is None:
        flag = next((k for k in _FLAGS if doc.get(k) is False), None)
        if flag:
            return "down", f"service reports {flag}: false"
        bad = next((k for k in _ERROR_KEYS if doc.get(k) not in (None, "", [], {}, False)), None)
        if bad:
            return "degraded", f"HTTP 200 with an error: {_sample(json.dumps(doc[bad], default=str).encode())}"
    return status, error


def _text_answer(body: bytes) -> tuple[str, str | None]:
    """A health answer that is not JSON: ``OK``/``healthy`` is ok, a down word is down,
    anything else (an HTML error page from a proxy) is degraded and shown."""
    text = body.decode("utf-8", "replace").strip()
    first = re.split(r"[^A-Za-z]+", text.lower(), maxsplit=1)[0] if text[:1].isalpha() else ""
    if first in _OK_WORDS:
        return "ok", None
    if first in _DOWN_WORDS:
        return "down", f"service reports {_sample(body).strip()!r}"
    kind = "an HTML page" if text[:1] == "<" else "text that is no health status"
    return "degraded", f"health answer is {kind}: {_sample(body).strip()!r}"


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
