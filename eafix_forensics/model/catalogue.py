"""The Prometheus query catalogue: what the runbook watches, and each entry's breach rules.

The shipped entries live in ``eafix_forensics/data/queries.toml``; ``[prometheus.queries]``
in eafix.toml overrides or disables them. :func:`catalogue` returns
``{name: QueryEntry}``; a :class:`Rule` says when a series is in a breach state
(thresholds may name a config key such as ``severity.signal_latency_critical_s``).
The Prometheus source pulls the queries; :mod:`eafix_forensics.analysis.metrics`
applies the rules. No IO but reading the packaged TOML.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ..config import Config
from ..errors import ConfigError
from ..window import parse_duration

__all__ = ["QueryEntry", "Rule", "catalogue"]

_OPS = (">", ">=", "<", "<=", "==", "!=")
_SEVERITIES = ("critical", "warning")


@dataclass(frozen=True)
class Rule:
    """A breach rule: the series is in ``state`` while ``value <op> threshold``."""

    state: str  # e.g. "critical", "degraded", "down", "feed_interruption"
    op: str
    threshold: float
    severity: str  # critical | warning
    summary: str = ""  # readable line, e.g. "signal latency above 5 s (P1)"

    def matches(self, values: np.ndarray) -> np.ndarray:
        """Boolean array: which ``values`` meet the rule (NaN never does)."""
        with np.errstate(invalid="ignore"):
            if self.op == ">":
                return np.asarray(values > self.threshold)
            if self.op == ">=":
                return np.asarray(values >= self.threshold)
            if self.op == "<":
                return np.asarray(values < self.threshold)
            if self.op == "<=":
                return np.asarray(values <= self.threshold)
            if self.op == "==":
                return np.asarray(values == self.threshold)
            return np.asarray((values != self.threshold) & ~np.isnan(values))


@dataclass(frozen=True)
class QueryEntry:
    """One catalogue entry: a named PromQL query and its breach rules (first match wins)."""

    name: str
    query: str
    description: str = ""
    unit: str = ""
    service_labels: tuple[str, ...] = ("service", "job")
    step: str = ""  # empty: the default step
    rules: tuple[Rule, ...] = ()
    # The value is an age in seconds (time since the last X): a breach is dated back to the
    # last fresh X (the breaching sample's time minus its value).
    age: bool = False
    # The series only moves while the market is open (prices): judged only in market hours,
    # from ``[calendar] open_grace`` after each open.
    market_hours: bool = False
    # The series creeps when something leaks (a working set): leaving its baseline band and
    # rising for a while is a warning breach from the sample where it left the band.
    creep: bool = False


def _default_catalogue_text() -> str:
    return resources.files("eafix_forensics").joinpath("data/queries.toml").read_text(encoding="utf-8")


def catalogue(config: Config | None = None) -> dict[str, QueryEntry]:
    """The query catalogue: the shipped entries merged with ``[prometheus.queries]``.

    Thresholds given as a name (``"severity.signal_latency_critical_s"``) are
    read from ``config`` (defaults when None). An override entry replaces the
    shipped keys it names; ``enabled = false`` drops an entry.
    """
    config = config or Config()
    shipped = tomllib.loads(_default_catalogue_text()).get("queries", {})
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in shipped.items()}
    for key, override in (config.prometheus.queries or {}).items():
        if not isinstance(override, dict):
            raise ConfigError(f"[prometheus.queries] {key}: must be a table (query = \"...\", rules = [...])")
        merged[key] = {**merged.get(key, {}), **override}
    out: dict[str, QueryEntry] = {}
    for key, spec in merged.items():
        if spec.get("enabled", True) is False:
            continue
        out[key] = _entry(key, spec, config)
    return out


def _entry(key: str, spec: Mapping[str, Any], config: Config) -> QueryEntry:
    where = f"[prometheus.queries.{key}]"
    known = {"query", "description", "unit", "service_labels", "step", "rules", "enabled", "age", "market_hours", "creep"}
    unknown = set(spec) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key {min(unknown)!r} (known: {', '.join(sorted(known))})")
    query = spec.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ConfigError(f"{where}: needs query = \"<PromQL>\"")
    labels = spec.get("service_labels", ["service", "job"])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ConfigError(f"{where}: service_labels must be a list of label names")
    rules = []
    for i, r in enumerate(spec.get("rules", [])):
        if not isinstance(r, dict):
            raise ConfigError(f"{where} rules[{i}]: must be a table {{state, op, threshold, severity}}")
        op = r.get("op")
        severity = r.get("severity")
        if op not in _OPS:
            raise ConfigError(f"{where} rules[{i}]: op {op!r} not one of {', '.join(_OPS)}")
        if severity not in _SEVERITIES:
            raise ConfigError(f"{where} rules[{i}]: severity {severity!r} not one of {', '.join(_SEVERITIES)}")
        rules.append(
            Rule(
                state=str(r.get("state") or severity),
                op=op,
                threshold=_threshold(r.get("threshold"), config, f"{where} rules[{i}]"),
                severity=severity,
                summary=str(r.get("summary", "")),
            )
        )
    step = spec.get("step", "")
    if step:
        parse_duration(step)
    for flag in ("age", "market_hours", "creep"):
        if not isinstance(spec.get(flag, False), bool):
            raise ConfigError(f"{where}: {flag} = {spec[flag]!r}: expected true or false")
    return QueryEntry(
        name=key,
        query=query.strip(),
        description=str(spec.get("description", "")),
        unit=str(spec.get("unit", "")),
        service_labels=tuple(labels),
        step=str(step),
        rules=tuple(rules),
        age=bool(spec.get("age", False)),
        market_hours=bool(spec.get("market_hours", False)),
        creep=bool(spec.get("creep", False)),
    )


def _threshold(value: Any, config: Config, where: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: threshold {value!r} must be a number or a config name")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and "." in value:
        section, _, key = value.partition(".")
        obj = getattr(config, section, None)
        got = getattr(obj, key, None) if obj is not None else None
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            return float(got)
    raise ConfigError(
        f"{where}: threshold {value!r} must be a number or a numeric config key like "
        "\"severity.signal_latency_critical_s\""
    )
