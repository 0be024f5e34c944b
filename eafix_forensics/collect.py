"""collect(): run every configured source for a window into one evidence bundle.

Each source runs in its own worker with its own deadline
(``[collect] source_timeout_s``). A source that raises or runs out of time is
recorded as ``unavailable`` with its error; the other sources still land in the
bundle. A source the config does not name is recorded as ``skipped``.

A source module takes part by defining ``COLLECTOR = Collector(...)``
(:mod:`eafix_forensics.sources.base`) and being listed, by import, in
:data:`COLLECTORS`. Tables derived from a source's evidence (``metric_breaches``
from ``metrics``) are computed here, after the source has run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis.metrics import breaches
from .bundle import (
    MANIFEST,
    CollectLock,
    Evidence,
    EvidenceBundle,
    bundle_dir,
    check_incident_id,
    make_dirs,
    refuse_existing,
)
from .config import Config, output_root
from .errors import BundleError, ForensicsError, SourceUnavailable
from .model import tables
from .model.catalogue import catalogue
from .progress import bar as progress_bar
from .progress import wanted as show_progress
from .sources import git, incident, logs, postgres, prometheus, services
from .sources.base import CollectContext, Collector
from .window import TimeWindow, parse_duration

__all__ = ["COLLECTORS", "CollectContext", "Collector", "collect", "collectors"]

# Every source's collector, in the order their progress lines print.
COLLECTORS: tuple[Collector, ...] = (
    logs.COLLECTOR,
    prometheus.COLLECTOR,
    postgres.COLLECTOR,
    git.COLLECTOR,
    services.COLLECTOR,
    incident.COLLECTOR,
)


# source -> tables derived here from its evidence (placeholders too when it fails)
DERIVED: dict[str, tuple[str, ...]] = {"prometheus": ("metric_breaches",)}


def collectors() -> list[Collector]:
    """Every source's collector (:data:`COLLECTORS`), in order."""
    return list(COLLECTORS)


class _Progress:
    """One line per source on stderr: started, then done with rows, status and time; above the
    bar of sources done when there is one (``tqdm.auto``: terminal or JupyterLab)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        if self.enabled:
            with self._lock:
                if self.bar is not None:
                    self.bar.write(text, file=sys.stderr)
                else:
                    print(text, file=sys.stderr, flush=True)

    def done(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(name, refresh=False)
            self.bar.update(1)


def _placeholders(c: Collector, status: str, error: str | None, duration: float, query: str) -> list[Evidence]:
    return [
        Evidence(
            name=t,
            frame=tables.empty(t) if t in tables.SCHEMAS else pd.DataFrame(),
            source=c.name,
            query=query,
            status=status,
            error=error,
            duration_s=duration,
        )
        for t in (*c.tables, *DERIVED.get(c.name, ()))
    ]


def _derived(c: Collector, evidence: list[Evidence], config: Config) -> list[Evidence]:
    """``metric_breaches``: the query catalogue's breach rules over the collected ``metrics``."""
    metrics = next((e for e in evidence if e.name == "metrics"), None)
    if "metric_breaches" not in DERIVED.get(c.name, ()) or metrics is None:
        return []
    baseline = next((e.frame for e in evidence if e.name == "metrics_baseline"), None)
    found = breaches(metrics.frame, catalogue(config), baseline=baseline, margin=config.severity.baseline_margin)
    return [
        Evidence("metric_breaches", found, source=c.name,
                 query="breach rules of the query catalogue",
                 status=metrics.status if metrics.status in ("unavailable", "truncated") else None,
                 error=metrics.error)
    ]


def _run_collector(c: Collector, ctx: CollectContext) -> list[Evidence]:
    return list(c.run(ctx))


def run_collectors(
    ctx: CollectContext,
    sources: Iterable[Collector] | None = None,
    *,
    timeout_s: float | None = None,
    progress: bool | None = None,
) -> list[Evidence]:
    """Run ``sources`` concurrently, each bounded by its deadline; never raises for a source.

    ``progress``: False prints nothing; otherwise a line per source on stderr, and with
    :func:`~eafix_forensics.progress.wanted` (True, or None on a terminal or in JupyterLab) a bar
    of sources done and, inside sources, bars for long work (a big log file's chunks)."""
    config = ctx.config
    timeout = float(timeout_s if timeout_s is not None else config.collect.source_timeout_s)
    if ctx.watch is not None:
        timeout += ctx.watch.total_seconds()
    out = _Progress(progress is not False)
    bars = show_progress(progress)
    todo = list(sources if sources is not None else collectors())
    results: list[Evidence] = []
    running: list[tuple[Collector, Future[list[Evidence]], float, str]] = []
    pool = ThreadPoolExecutor(max_workers=max(1, len(todo)), thread_name_prefix="collect")
    configured = sum(1 for c in todo if c.configured(config))
    with progress_bar(bars, total=configured, desc="collect", unit="source", leave=False) as out.bar:
        try:
            for c in todo:
                try:
                    query = c.describe(config)
                except Exception:  # noqa: BLE001 - a broken description must not stop collection
                    query = ""
                if not c.configured(config):
                    out.line(f"  - {c.name:<11} skipped (not configured)")
                    results.extend(_placeholders(c, "skipped", "not configured", 0.0, query))
                    continue
                out.line(f"  … {c.name:<11} collecting {query}".rstrip())
                cctx = dataclasses.replace(ctx, deadline=time.monotonic() + timeout, progress=bars)
                running.append((c, pool.submit(_run_collector, c, cctx), time.monotonic(), query))
            for c, fut, t0, query in running:
                try:
                    evidence = fut.result(timeout=max(0.0, t0 + timeout - time.monotonic()))
                except TimeoutError:
                    dt = time.monotonic() - t0
                    fut.cancel()
                    out.line(f"  ✗ {c.name:<11} unavailable: timed out after {timeout:.0f}s")
                    out.done(c.name)
                    results.extend(_placeholders(c, "unavailable", f"timed out after {timeout:.0f}s", dt, query))
                    continue
                except Exception as exc:  # noqa: BLE001 - one failing source never stops the others
                    dt = time.monotonic() - t0
                    msg = str(exc) if isinstance(exc, ForensicsError) else f"{type(exc).__name__}: {exc}"
                    out.line(f"  ✗ {c.name:<11} unavailable: {msg.splitlines()[0] if msg else ''}")
                    out.done(c.name)
                    results.extend(_placeholders(c, "unavailable", msg, dt, query))
                    continue
                evidence = [*evidence, *_derived(c, evidence, config)]
                dt = time.monotonic() - t0
                rows = sum(len(e.frame) for e in evidence)
                bad = [e for e in evidence if e.status in ("unavailable", "truncated")]
                mark = "!" if bad else "✓"
                note = "; ".join(f"{e.name} {e.status}" for e in bad)
                out.line(f"  {mark} {c.name:<11} {len(evidence)} tables, {rows} rows in {dt:.1f}s {note}".rstrip())
                out.done(c.name)
                results.extend(evidence)
        finally:
            out.bar = None
            pool.shutdown(wait=False, cancel_futures=True)
    return results


def collect(
    incident_id: str,
    window: TimeWindow | str,
    config: Config | str | Path | None = None,
    *,
    output_dir: str | Path | None = None,
    force: bool = False,
    watch: str | float | pd.Timedelta | None = None,
    sources: Iterable[Collector] | None = None,
    progress: bool | None = None,
    require_evidence: bool = False,
    embedded_incidents: Mapping[str, str] | None = None,
    reuse: bool = True,
) -> EvidenceBundle:
    """Collect every configured source for ``window`` into ``output/INCIDENT_ID/evidence``.

    ``window`` is a TimeWindow or a relative duration ("1h" = the last hour).
    ``output_dir`` defaults by :func:`~eafix_forensics.config.output_root`
    (``$EAFIX_OUTPUT_DIR``, else ``[collect] output_dir``).

    When a bundle is already there, collect does not collect again, so a notebook
    cell can be re-run: with ``reuse`` (the default) it returns that bundle if it
    covers the requested window (for a relative duration such as "1h": a window of
    that length, "the last hour" when it was collected), and raises BundleError
    naming both windows otherwise; ``force=True`` collects again and replaces it;
    ``reuse=False`` (the command line) refuses any existing bundle without ``force``.

    ``embedded_incidents`` (incident id -> TOML record) stand in for records the
    incidents directory lacks. With ``require_evidence``, raises SourceUnavailable
    (and writes nothing) when no source could be reached. ``progress``: False is silent;
    else a line per source on stderr, plus bars when True, or when None on a terminal
    or in JupyterLab. Returns the bundle.
    """
    check_incident_id(incident_id)
    if not isinstance(config, Config):
        config = Config.load(config)
    relative = window if isinstance(window, str) else None
    if isinstance(window, str):
        window = TimeWindow.last(window)
    target = bundle_dir(incident_id, output_root(output_dir, config))
    ctx = CollectContext(
        incident_id=incident_id,
        window=window,
        config=config,
        watch=parse_duration(watch) if watch is not None else None,
        embedded_incidents=embedded_incidents or {},
    )
    created = not target.parent.exists()
    lock = CollectLock(make_dirs(target.parent))
    try:
        with lock:
            if reuse and not force:
                existing = _matching_bundle(target, window, relative)
                if existing is not None:
                    if progress is not False:
                        print(f"{incident_id}: using the bundle collected at {existing.manifest.get('collected_at')} "
                              f"over {existing.window} (force=True collects again)", file=sys.stderr, flush=True)
                    return existing
            return _collect_locked(ctx, target, force=force, sources=sources, progress=progress,
                                   require_evidence=require_evidence)
    except BaseException:
        if created:  # nothing was written: leave no empty incident directory behind
            lock.path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                target.parent.rmdir()
        raise


def _matching_bundle(target: Path, window: TimeWindow, relative: str | None) -> EvidenceBundle | None:
    """The bundle at ``target`` when it covers ``window`` (a relative duration: a window of
    its length); None when there is none; BundleError naming both windows when it covers another."""
    if not (target / MANIFEST).is_file():
        return None
    bundle = EvidenceBundle.open(target)
    have = bundle.window
    if have == window or (relative is not None and have.duration == window.duration):
        return bundle
    asked = f"the last {relative} {window}" if relative is not None else str(window)
    raise BundleError(
        f"{target}: a bundle over {have} already exists, not over {asked}; "
        "use force=True (--force) to collect again and replace it"
    )


def _collect_locked(
    ctx: CollectContext,
    target: Path,
    *,
    force: bool,
    sources: Iterable[Collector] | None,
    progress: bool | None,
    require_evidence: bool,
) -> EvidenceBundle:
    """collect() once it holds the incident's lock: no other collect can replace the bundle meanwhile."""
    refuse_existing(target, force=force)
    incident_id, window, config = ctx.incident_id, ctx.window, ctx.config
    if progress is not False:
        print(f"collecting {incident_id} over {window}", file=sys.stderr, flush=True)
    evidence = run_collectors(ctx, sources, progress=progress)
    if require_evidence and not any(_reached(e) for e in evidence):
        reasons = sorted({f"{e.source}: {e.error}" for e in evidence if e.status == "unavailable"})
        raise SourceUnavailable(
            f"no evidence for {incident_id}: no source reachable"
            + (" (" + "; ".join(reasons) + ")" if reasons else " (none configured)")
        )
    bundle = EvidenceBundle.write(
        target, incident_id=incident_id, window=window, evidence=evidence, config=config, force=force
    )
    if progress is not False:
        print(f"wrote {bundle.path}", file=sys.stderr, flush=True)
    return bundle


def _reached(e: Evidence) -> bool:
    """Whether a source really answered: a health table of unreachable services does not count."""
    if e.status not in ("ok", "empty", "truncated") or e.details.get("reachable") is False:
        return False
    if "status" in e.frame.columns and e.name == "health" and len(e.frame):
        return bool((e.frame["status"] != "unreachable").any())
    return True


def evidence_summary(evidence: Iterable[Evidence]) -> dict[str, Any]:
    """Rows and status per table (for messages and tests)."""
    return {e.name: {"rows": len(e.frame), "status": e.status} for e in evidence}
