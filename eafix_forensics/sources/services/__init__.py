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

httpx errors are translated to ours in :func:`.client._translate` and nowhere else.

Modules: ``client`` (the GET-only client, one request with retries), ``health``
(classification), ``paging`` (the trading API's tables, paged), ``records`` (shaping
records into tables), ``api`` (the entry points), ``collector`` (collect()).
"""

from __future__ import annotations

from .api import DEFAULT_DEADLINE_S, executions, health, positions, reconcile, signals
from .client import read_only_client
from .collector import COLLECTOR
from .health import health_frame, health_row
from .paging import API_DEFAULTS, page_records
from .records import EXECUTIONS, POSITIONS, RECONCILE, SIGNALS, TABLES, shape_records

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
