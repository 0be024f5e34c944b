"""Container logs into LOGS: saved ``docker compose logs`` output, Docker json-file logs,
and the live ``docker compose logs`` command.

LOGS columns: timestamp, service, replica, level, message, source, line, then
``lines`` (input lines in the event), ``malformed`` (bool), and for json-file
logs ``stream``. Rows are in file order.

How a line is read (the same rules for every adapter):

- Lines end at ``\\n``; a trailing ``\\r`` is dropped (a file whose first 8 MiB hold
  no ``\\n`` but ``\\r``s has old-Mac line ends: each ``\\r`` ends a line); a gzip file (``.gz`` rotation)
  is read as its text, and one cut short ends with a malformed ``…[gzip stream cut: why]`` row; ANSI colour codes are
  removed; invalid UTF-8 is replaced (U+FFFD); a line over 1 MiB is cut there
  and ends with ``…[truncated N bytes]``.
- A Compose prefix ``service-1  | `` (v2) or ``project_service_1  | `` (v1)
  gives service and replica; without one (``--no-log-prefix``) the service is
  the ``service=`` option (missing by default).
- The time is Docker's (``--timestamps``), else the application's own at the
  start of its text (``2024-12-02 14:03:11,123``, ISO 8601 with or without an
  offset, epoch seconds or millis), else a ``time``/``ts``/``timestamp`` key
  (JSON, logfmt), else an ISO time in the first 64 characters. No offset means UTC.
- The message is the application's text after Docker's prefix and time and
  after the application's own leading time (the timestamp column holds it).
- The level is the first level word of the first line: ``ERROR``, ``WARN``,
  ``level=error``, ``"level":"error"``, ``[error]``, Python logging, ``FATAL``…
  mapped onto DEBUG/INFO/WARNING/ERROR/CRITICAL, missing when none is found.
- A line without its own time that continues a multi-line event (indented,
  ``Traceback (most recent call last):``, ``Caused by:``, ``... 5 more``, an
  ``…Error:``/``…Exception:`` line, blank, or ``pkg.Name: text`` right after
  another continuation) joins the previous event of the same service and
  replica in the same source; its text is appended after a newline.
- A line that starts no datable event is kept as a *malformed* row: the raw
  line as message, level missing, ``malformed`` True. Compose status lines
  (``x-1 exited with code 0``, ``Attaching to …``) are kept undated, not malformed.

Every input line is in exactly one row (``lines`` counts them), so
``frame["lines"].sum()`` equals the number of lines read when no window is
given. ``frame.attrs`` holds ``malformed`` (input lines in malformed rows),
``malformed_samples`` (the first few raw lines) and ``lines_read``. With a
window, events inside ``[start, end)`` are kept, and undated rows when the last
dated line before them is inside.

The parser is vectorised: a file is read in 8 MiB chunks, which two worker
threads frame and decode with numpy/pyarrow (prefixes, times, common levels);
the parser then takes them in order, and only unusual lines take a per-line
Python path. With a window, a chunk whose every line carries a Docker time
more than a minute outside the window is counted and skipped unparsed (a
continuation line stamped over a minute after its event, at the window's
edge, would be lost with it).
"""

from __future__ import annotations

from .collector import COLLECTOR
from .framing import MAX_LINE_BYTES
from .live import compose_logs
from .readers import read_compose_logs, read_container_json_logs

__all__ = [
    "COLLECTOR",
    "MAX_LINE_BYTES",
    "compose_logs",
    "read_compose_logs",
    "read_container_json_logs",
]
