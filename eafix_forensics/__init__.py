"""eafix-forensics: incident evidence for the EAFIX trading platform.

The notebook-facing API. Names load lazily so ``import eafix_forensics`` stays
fast (papermill, sqlalchemy and httpx are only imported when used)::

    import eafix_forensics as ef
    bundle = ef.open("INC-DEMO")          # or ef.collect("INC-1", "1h"): re-running returns the bundle
    ef.timeline(bundle)
    ef.plots.swimlane_timeline(bundle)   # ef.plots, ef.views, ef.interactive load on first use
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__ as __version__

# public name -> module (relative to this package) that defines it ("module:name" when
# the module calls it otherwise)
_EXPORTS: dict[str, str] = {
    # core
    "BundleError": "errors",
    "Catalog": "catalog",
    "Config": "config",
    "ConfigError": "errors",
    "Evidence": "bundle",
    "EvidenceBundle": "bundle",
    "ForensicsError": "errors",
    "IntegrityError": "errors",
    "QueryError": "errors",
    "ReportError": "errors",
    "SourceError": "errors",
    "SourceUnavailable": "errors",
    "TimeWindow": "window",
    "collect": "collect",
    "open": "bundle:open_incident",
    "run_report": "report",
    "similar": "catalog",
    # logs
    "compose_logs": "sources.logs",
    "error_bursts": "analysis.logs",
    "error_signatures": "analysis.logs",
    "read_compose_logs": "sources.logs",
    "read_container_json_logs": "sources.logs",
    # prometheus
    "baseline_shift": "analysis.metrics",
    "breaches": "analysis.metrics",
    "prometheus_client": "sources.prometheus",
    "query_range": "sources.prometheus",
    # postgres
    "activity": "sources.postgres",
    "blocked_locks": "sources.postgres",
    "connections": "sources.postgres",
    "postgres_engine": "sources.postgres",
    "statements_delta": "sources.postgres",
    "statements_snapshot": "sources.postgres",
    "top_statements": "sources.postgres",
    # changes and incident
    "commits": "sources.git",
    "incident_record": "sources.incident",
    "sla_report": "analysis.sla",
    "update_message": "analysis.updates",
    # services
    "executions": "sources.services",
    "health": "sources.services",
    "positions": "sources.services",
    "reconcile": "sources.services",
    "signals": "sources.services",
    # investigation
    "around": "analysis.timeline",
    "key_times": "analysis.key_times",
    "missing_sources": "analysis.timeline",
    "suggest_severity": "analysis.severity",
    "suspects": "analysis.suspects",
    "timeline": "analysis.timeline",
    "verdict": "analysis.verdict",
    "Verdict": "analysis.verdict",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - a sorted list, built from the export map

# The function `collect` shares its name with the submodule `collect`: importing the
# submodule (which any collector does) would rebind the package attribute to the module.
# Binding the function eagerly, after the submodule is loaded, keeps
# `eafix_forensics.collect` the function whatever the import order.
from .collect import collect as collect

# Submodules a notebook reaches as ``ef.plots`` etc. without importing them (each is
# imported on first use: matplotlib and plotly stay out of ``import eafix_forensics``).
_SUBMODULES = frozenset({"interactive", "plots", "report", "trend_plots", "views"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)  # binds the package attribute too
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'eafix_forensics' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(f".{module}", __name__), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
