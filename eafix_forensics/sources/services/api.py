"""The synchronous entry points: health(), positions(), signals(), executions(), reconcile()."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pandas as pd

from ...config import Config
from ...errors import ConfigError
from ...window import TimeWindow
from .client import ca_bundles, read_only_client
from .health import _health_all
from .paging import _fetch_table, _TableResult

# Without a collect deadline, a snapshot never takes longer than this.
DEFAULT_DEADLINE_S = 20.0


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
        async with read_only_client(ca_bundles=ca_bundles(config.services)) as client:
            return await _health_all(client, config, deadline)

    return _run(go)


def _public_table(
    config: Config | str | os.PathLike[str] | None, table: str, window: TimeWindow | None, deadline_s: float | None
) -> pd.DataFrame:
    config = _config(config)
    limit = _deadline_s(deadline_s)

    async def go() -> _TableResult:
        deadline = asyncio.get_running_loop().time() + limit
        async with read_only_client(ca_bundles=ca_bundles(config.services)) as client:
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
