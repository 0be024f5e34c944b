"""A PagerDuty REST v2 stand-in on loopback (a real HTTP server, recorded answers).

``PagerDutyServer`` serves ``/incidents/<id>`` and its paged ``/log_entries`` from
tests/data/incidents/pagerduty_*.json (incident Q2P1DEMO: triggered 14:05 UTC,
acknowledged 14:09, resolved 15:20 on 2024-12-02), demands ``Authorization: Token
token=TOKEN`` and has special ids for failure modes (QRATE: one 429 then the answer;
QFLOOD: always 429; QHTML: a non-JSON page; Q500: 503; QLOOP: log entries that say "more" for ever). ``running_pagerduty()``
starts one in a thread.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from . import free_port

DATA = Path(__file__).resolve().parent.parent / "data" / "incidents"
TOKEN = "u+test-pd-token-1234"
PAGE = 4  # the server's page size: the 7 log entries come in two pages


class _PagerDutyHandler(BaseHTTPRequestHandler):
    server: PagerDutyServer

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, code: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        srv = self.server
        with srv.lock:
            srv.requests.append({"path": url.path, "query": query, "headers": dict(self.headers)})
            srv.hits[url.path] = srv.hits.get(url.path, 0) + 1
            hits = srv.hits[url.path]
        if self.headers.get("Authorization") != f"Token token={TOKEN}":
            self._send(401, {"error": {"message": "Unauthorized", "code": 2006}})
            return
        parts = url.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "incidents":
            self._send(404, {"error": {"message": "Not Found", "code": 2100}})
            return
        iid = parts[1]
        if iid == "QRATE" and hits == 1:
            self._send(429, {"error": {"message": "Too many requests"}}, {"Retry-After": "1"})
            return
        if iid == "QHTML":
            data = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if iid == "Q500":
            self._send(503, {"error": {"message": "Service Unavailable"}})
            return
        if iid == "QFLOOD":
            self._send(429, {"error": {"message": "Too many requests"}}, {"Retry-After": "3600"})
            return
        if iid == "QLOOP" and len(parts) > 2:
            # A broken server: the first page again, and "more" for ever, whatever the offset.
            page = srv.log_entries["log_entries"][:PAGE]
            self._send(200, {"log_entries": page, "limit": PAGE, "offset": 0, "more": True, "total": None})
            return
        if iid not in ("Q2P1DEMO", "QRATE", "QLOOP"):
            self._send(404, {"error": {"message": "Incident Not Found", "code": 5001}})
            return
        if len(parts) == 2:
            body = copy.deepcopy(srv.incident)
            body["incident"]["id"] = iid
            self._send(200, body)
            return
        entries = srv.log_entries["log_entries"]
        offset = int(query.get("offset", 0))
        limit = min(int(query.get("limit", 25)), PAGE)
        page = entries[offset: offset + limit]
        self._send(200, {"log_entries": page, "limit": limit, "offset": offset,
                         "more": offset + limit < len(entries), "total": None})


class PagerDutyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _PagerDutyHandler)
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.hits: dict[str, int] = {}
        self.incident = json.loads((DATA / "pagerduty_incident.json").read_text())
        self.log_entries = json.loads((DATA / "pagerduty_log_entries.json").read_text())

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.hits.clear()




@contextmanager
def running_pagerduty() -> Iterator[PagerDutyServer]:
    srv = PagerDutyServer(free_port())
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
