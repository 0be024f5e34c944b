"""The six EAFIX services' HTTP APIs on loopback, with failure modes.

One real ``ThreadingHTTPServer`` per service, each on a free 127.0.0.1 port,
serving the runbook's endpoints::

    /health, /healthz            {"status": "ok", "service": NAME}
    /api/positions               open and closed positions
    /api/signals?since=&until=   signals (since/until: ISO 8601 or a duration like 1h)
    /api/executions?since=&until=
    /api/reconcile/positions     per-position internal vs broker quantities

Every endpoint of every service can be switched to a mode with
``set_mode(service, mode, endpoint="*", **options)``:

    healthy     200 with the JSON above (``payload=`` replaces it)
    degraded    health answers {"status": "degraded"}
    failing     ``status`` (500) with {"error": ...}; ``retry_after=`` adds the header
    flaky       the first ``fail_times`` (1) requests fail as ``failing``, then healthy
    slow        waits ``delay`` (0.5 s), then healthy
    hanging     reads the request and never answers (until the harness stops)
    trickling   200, then one byte of a JSON list every ``interval`` (0.1 s)
    oversized   200, then ``size`` bytes (50 MB) of a valid JSON list;
                ``announce=True`` sends Content-Length, else the body ends at close
    malformed   200 application/json whose body is not JSON
    raw         ``code`` (200) with ``body`` (bytes) as ``content_type`` (text/html)
    paginated   list endpoints in pages of ``page_size`` (5) linked by "next"
                (``style="cursor"``: by "next_cursor")
    status      answers HTTP ``code`` with {"error": ...}

Every request (any method) is logged with a monotonic and a UTC time, and each
accepted TCP connection is counted, so tests can assert retries, backoff and
that nothing was sent. ``ServicesHarness`` is a context manager (for
benchmarks; ``ssl_context=`` makes it serve HTTPS); the fixtures are
``services_harness`` (session) and ``services_api`` (per test: modes and log reset).
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import pytest

from eafix_forensics.config import DEFAULT_SERVICES, Config, ServiceConfig

from . import free_port

BASE = datetime(2024, 12, 2, 14, 0, tzinfo=UTC)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Deterministic data the endpoints serve (times on 2024-12-02, around 14:00 UTC).
POSITIONS: list[dict[str, Any]] = [
    {"id": "P-1", "account_id": "17", "symbol": "EURUSD", "side": "long", "qty": 120000,
     "entry_price": 1.0512, "current_price": 1.0498, "exposure": 125976.0, "pnl": -168.0,
     "status": "open", "open_time": "2024-12-02T09:12:00Z", "strategy": "momentum"},
    {"id": "P-2", "account_id": "17", "symbol": "GBPUSD", "side": "short", "qty": 50000,
     "entry_price": 1.2701, "current_price": 1.2655, "exposure": 63275.0, "pnl": 230.0,
     "status": "open", "open_time": "2024-12-02T11:40:00Z", "strategy": "mean-revert"},
    {"id": "P-3", "account_id": "21", "symbol": "USDJPY", "side": "long", "qty": 80000,
     "entry_price": 150.12, "current_price": 149.80, "exposure": 80000.0, "pnl": -170.9,
     "status": "open", "open_time": "2024-12-02T13:05:00Z", "strategy": "momentum"},
    {"id": "P-4", "account_id": "21", "symbol": "EURUSD", "side": "long", "qty": 10000,
     "entry_price": 1.0490, "current_price": 1.0501, "exposure": 0.0, "pnl": 11.0,
     "status": "closed", "open_time": "2024-12-02T08:00:00Z", "strategy": "manual"},
]
SIGNALS: list[dict[str, Any]] = [
    {"id": f"S-{i}", "ts": _iso(BASE + timedelta(minutes=2 * i)), "symbol": ("EURUSD", "GBPUSD", "USDJPY")[i % 3],
     "direction": "buy" if i % 2 else "sell", "confidence": round(0.5 + (i % 5) / 10, 2), "price": 1.05,
     "latency_ms": 6200.0 if 1 <= i <= 10 else 380.0, "status": "emitted", "model": "rsi-v3"}
    for i in range(24)
]
EXECUTIONS: list[dict[str, Any]] = [
    {"id": f"E-{i}", "ts": _iso(BASE + timedelta(minutes=3 * i)), "order_id": f"O-{48213 + 7 * i}",
     "symbol": ("EURUSD", "GBPUSD", "USDJPY")[i % 3], "side": "buy", "qty": 10000, "price": 1.05,
     "status": ("rejected" if i % 4 == 1 else "failed" if i % 4 == 2 else "filled"),
     "reason": "broker timeout after 5000 ms" if i % 4 in (1, 2) else None,
     "latency_ms": 5000.0 if i % 4 in (1, 2) else 120.0, "venue": "LMAX"}
    for i in range(16)
]
RECONCILE: list[dict[str, Any]] = [
    {"account_id": "17", "symbol": "EURUSD", "internal": 120000, "broker": 120000, "status": "match"},
    {"account_id": "17", "symbol": "GBPUSD", "internal": 50000, "broker": 50000, "status": "match"},
    {"account_id": "21", "symbol": "USDJPY", "internal": 80000, "broker": 70000, "status": "mismatch",
     "message": "broker shows 10000 fewer units"},
]
_DATA = {"positions": POSITIONS, "signals": SIGNALS, "executions": EXECUTIONS, "reconcile": RECONCILE}
_ENDPOINTS = {
    "/health": "health",
    "/healthz": "health",
    "/api/positions": "positions",
    "/api/signals": "signals",
    "/api/executions": "executions",
    "/api/reconcile/positions": "reconcile",
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


@dataclass
class Request:
    """One request as the server saw it."""

    t: float  # time.monotonic() when the request line was read
    at: datetime  # UTC
    service: str
    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    mode: str
    bytes_sent: int = 0
    aborted: bool = False  # the client went away before the whole body was sent


@dataclass
class _Mode:
    name: str = "healthy"
    options: dict[str, Any] = field(default_factory=dict)
    count: int = 0  # requests served in this mode (for flaky)


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    m = _DURATION.match(value)
    if m:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return datetime.now(UTC) - timedelta(seconds=float(m.group(1)) * unit)
    return datetime.fromisoformat(value)


def _handler(harness: ServicesHarness, service: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"eafix-{service}"

        def setup(self) -> None:
            super().setup()
            harness._connected(service)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            endpoint = _ENDPOINTS.get(parts.path, "unknown")
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            mode = harness._mode_for(service, endpoint)
            req = Request(
                t=time.monotonic(), at=datetime.now(UTC), service=service, method=self.command,
                path=parts.path, endpoint=endpoint, query=query, mode=mode.name,
            )
            harness._record(req)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            try:
                self._answer(req, mode, endpoint, query)
            except (BrokenPipeError, ConnectionResetError):
                req.aborted = True
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        def _json(self, req: Request, code: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
                req.bytes_sent += len(body)

        def _stream_start(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _answer(self, req: Request, mode: _Mode, endpoint: str, query: dict[str, str]) -> None:
            opts = mode.options
            name = mode.name
            wake = harness._wake  # set by reset() and stop(): hangers and tricklers end then
            if self.command != "GET":
                # What a real gateway would do with a POST: act on it. The toolkit must never get here.
                self._json(req, 200, {"accepted": True, "action": req.path})
                return
            if endpoint == "unknown":
                self._json(req, 404, {"error": f"no route {req.path}"})
                return
            if name == "flaky":
                name = "failing" if mode.count <= int(opts.get("fail_times", 1)) else "healthy"
            if name == "failing":
                headers = {"Retry-After": str(opts["retry_after"])} if "retry_after" in opts else None
                self._json(req, int(opts.get("status", 500)), {"error": opts.get("error", "internal error")}, headers)
            elif name == "status":
                self._json(req, int(opts["code"]), {"error": opts.get("error", f"status {opts['code']}")})
            elif name == "hanging":
                wake.wait(float(opts.get("hang", 60.0)))
                self.close_connection = True
            elif name == "slow":
                time.sleep(float(opts.get("delay", 0.5)))
                self._healthy(req, endpoint, query, opts)
            elif name == "trickling":
                self._stream_start()
                interval = float(opts.get("interval", 0.1))
                body = b"[" + b" " * 100000
                for i in range(len(body)):
                    if wake.wait(interval if i else 0):
                        break
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    req.bytes_sent += 1
            elif name == "oversized":
                size = int(opts.get("size", 50 * 1024 * 1024))
                record = json.dumps({"id": "X", "symbol": "EURUSD", "pad": "x" * 200}).encode() + b","
                chunk = record * (65536 // len(record))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if opts.get("announce"):
                    self.send_header("Content-Length", str(size))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(b"[")
                sent = 1
                while sent < size - 2:
                    piece = chunk[: size - 2 - sent]
                    self.wfile.write(piece)
                    sent += len(piece)
                    req.bytes_sent = sent
                self.wfile.write(b"0]")
                req.bytes_sent = size
            elif name == "malformed":
                body = b'{"status": "ok", "items": [{"id": "S-1", "symbol": "EURUSD"}, {"id": '
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                req.bytes_sent = len(body)
            elif name == "raw":
                body = bytes(opts["body"])
                self.send_response(int(opts.get("code", 200)))
                self.send_header("Content-Type", str(opts.get("content_type", "text/html")))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                req.bytes_sent = len(body)
            elif name == "degraded" and endpoint == "health":
                self._json(req, 200, {"status": "degraded", "service": service, "detail": "queue lag"})
            else:
                self._healthy(req, endpoint, query, opts, paginated=name == "paginated")

        def _healthy(
            self, req: Request, endpoint: str, query: dict[str, str], opts: dict[str, Any], paginated: bool = False
        ) -> None:
            if "payload" in opts:
                self._json(req, 200, opts["payload"])
                return
            if endpoint == "health":
                self._json(req, 200, {"status": "ok", "service": service})
                return
            rows = list(_DATA[endpoint])
            since, until = _parse_since(query.get("since")), _parse_since(query.get("until"))
            if since or until:
                rows = [
                    r for r in rows
                    if (since is None or _parse_since(r["ts"]) >= since)  # type: ignore[operator]
                    and (until is None or _parse_since(r["ts"]) < until)  # type: ignore[operator]
                ]
            if not paginated:
                self._json(req, 200, rows)
                return
            size = int(opts.get("page_size", 5))
            if opts.get("style") == "cursor":
                start = int(query.get("cursor", 0))
                doc: dict[str, Any] = {"items": rows[start:start + size], "total": len(rows)}
                if start + size < len(rows):
                    doc["next_cursor"] = str(start + size)
            else:
                page = int(query.get("page", 1))
                start = (page - 1) * size
                doc = {"items": rows[start:start + size], "page": page, "total": len(rows)}
                if start + size < len(rows):
                    rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "page")
                    doc["next"] = f"{req.path}?page={page + 1}" + (f"&{rest}" if rest else "")
            self._json(req, 200, doc)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # hanging handlers must not hold up stop()


class ServicesHarness:
    """Six service servers on loopback; see the module docstring."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context  # serve HTTPS with this context (tests/harness/tls.py)
        self.ports: dict[str, int] = {}
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._modes: dict[tuple[str, str], _Mode] = {}
        self._log: list[Request] = []
        self._connections: dict[str, int] = {}
        self._wake = threading.Event()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for name in DEFAULT_SERVICES:
            for _ in range(5):
                port = free_port()
                try:
                    server = _Server(("127.0.0.1", port), _handler(self, name))
                    break
                except OSError:
                    continue
            else:
                raise RuntimeError(f"no free port for {name}")
            if self.ssl_context is not None:
                server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
            self.ports[name] = port
            self._servers[name] = server
            t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._wake.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for t in self._threads:
            t.join(timeout=5)

    # -- configuration -----------------------------------------------------------
    def url(self, service: str) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.ports[service]}"

    def config(self, **options: Any) -> Config:
        """A Config whose six services point here; ``options`` go to every ServiceConfig."""
        return Config(services={
            name: ServiceConfig(url=self.url(name), health=path, **options)
            for name, (_, path) in DEFAULT_SERVICES.items()
        })

    def set_mode(self, service: str, mode: str, *, endpoint: str = "*", **options: Any) -> None:
        with self._lock:
            self._modes[(service, endpoint)] = _Mode(mode, dict(options))

    def reset(self) -> None:
        with self._lock:
            self._wake.set()
            self._wake = threading.Event()
            self._modes.clear()
            self._log.clear()
            self._connections.clear()

    # -- what the servers saw ------------------------------------------------------
    def requests(
        self, service: str | None = None, endpoint: str | None = None, method: str | None = None
    ) -> list[Request]:
        with self._lock:
            return [
                r for r in self._log
                if (service is None or r.service == service)
                and (endpoint is None or r.endpoint == endpoint)
                and (method is None or r.method == method)
            ]

    def connections(self, service: str | None = None) -> int:
        with self._lock:
            if service is None:
                return sum(self._connections.values())
            return self._connections.get(service, 0)

    # -- called by the handlers --------------------------------------------------------
    def _mode_for(self, service: str, endpoint: str) -> _Mode:
        with self._lock:
            mode = self._modes.get((service, endpoint)) or self._modes.get((service, "*"))
            if mode is None:
                return _Mode()
            mode.count += 1
            return _Mode(mode.name, mode.options, mode.count)

    def _record(self, req: Request) -> None:
        with self._lock:
            self._log.append(req)

    def _connected(self, service: str) -> None:
        with self._lock:
            self._connections[service] = self._connections.get(service, 0) + 1


@pytest.fixture(scope="session")
def services_harness() -> Iterator[ServicesHarness]:
    with ServicesHarness() as harness:
        yield harness


@pytest.fixture
def services_api(services_harness: ServicesHarness) -> Iterator[ServicesHarness]:
    """The session's service servers, all healthy and with an empty log."""
    services_harness.reset()
    yield services_harness
    services_harness.reset()
