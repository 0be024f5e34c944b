"""The GET-only HTTP client and one request with retries (back-off, Retry-After, deadline),
with httpx errors translated into ours in this one place."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pandas as pd

from ...config import ServiceConfig
from ...errors import ConfigError, ForensicsError, QueryError, SourceError, SourceUnavailable
from ..base import loads_json

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


def read_only_client(*, timeout_s: float = 5.0, ca_bundles: Sequence[str] = ()) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that can only send GET: any other method raises
    QueryError before a connection is opened. Environment proxies are ignored
    (``trust_env=False``) so every request goes straight to the service. HTTPS
    servers are verified against the default CA store plus ``ca_bundles`` (the
    ``ca_bundle`` files of ``[services.NAME]``; a private CA)."""
    verify: bool | ssl.SSLContext = _ca_context(ca_bundles) if ca_bundles else True
    return httpx.AsyncClient(
        transport=_GetOnlyTransport(httpx.AsyncHTTPTransport(retries=0, verify=verify)),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers={"Accept": "application/json", "User-Agent": "eafix-forensics"},
    )


def ca_bundles(services: Mapping[str, ServiceConfig]) -> list[str]:
    """The CA bundle files the services' configuration names, each once."""
    return list(dict.fromkeys(s.ca_bundle for s in services.values() if s.ca_bundle))


def _ca_context(paths: Sequence[str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    for path in paths:
        try:
            ctx.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[services] ca_bundle {path}: cannot load CA certificates: {exc}") from exc
    return ctx


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
        return loads_json(reply.body)
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
        body = loads_json(reply.body) if reply.body else None
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
