"""The services source's part in collect(): health of every service and the trading API tables."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import pandas as pd

from ...bundle import Evidence
from ...config import Config
from ..base import CollectContext, Collector
from .api import _T, DEFAULT_DEADLINE_S, _run
from .client import _public_url, ca_bundles, read_only_client
from .health import _health_all, health_frame
from .paging import _endpoint, _fetch_table, _TableResult
from .records import TABLES, _empty_table


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
        async with read_only_client(ca_bundles=ca_bundles(config.services)) as client:

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
