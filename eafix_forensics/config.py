"""Config: ``eafix.toml`` plus ``EAFIX_*`` environment variables.

Every key is optional; defaults come from the incident runbook (Prometheus on
localhost:9090, PostgreSQL eafix@localhost:5432/eafix_prod, the six services on
8080-8085). Secrets come only from environment variables (their *names* are
configurable) and are never stored on the Config object that gets written to a
bundle. An unknown section or key is an error naming it: a typo must not
silently disable a source.

The path is ``Config.load(path)``, else ``$EAFIX_CONFIG``, else ``./eafix.toml``
when it exists, else pure defaults.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .window import parse_duration

__all__ = [
    "DEFAULT_SERVICES",
    "BundleConfig",
    "CalendarConfig",
    "CatalogConfig",
    "CollectConfig",
    "Config",
    "GitConfig",
    "IncidentsConfig",
    "LogsConfig",
    "PostgresConfig",
    "PrometheusConfig",
    "RedactConfig",
    "ServiceConfig",
    "SeverityConfig",
    "output_root",
]

# Runbook: gui-gateway serves /health on 8080; the other five /healthz on 8081-8085.
DEFAULT_SERVICES: dict[str, tuple[int, str]] = {
    "gui-gateway": (8080, "/health"),
    "data-ingestor": (8081, "/healthz"),
    "indicator-engine": (8082, "/healthz"),
    "signal-generator": (8083, "/healthz"),
    "risk-manager": (8084, "/healthz"),
    "execution-engine": (8085, "/healthz"),
}


@dataclass
class PrometheusConfig:
    url: str = "http://localhost:9090"
    token_env: str = "EAFIX_PROMETHEUS_TOKEN"  # bearer token, read from this variable
    username: str = ""  # basic auth user; password from password_env
    password_env: str = "EAFIX_PROMETHEUS_PASSWORD"
    headers: dict[str, str] = field(default_factory=dict)
    verify: bool = True
    ca_bundle: str = ""
    timeout_s: float = 30.0
    query_timeout_s: float = 0.0  # Prometheus' own evaluation timeout; 0 = timeout_s
    points: int = 1000  # default points per series when no step is given
    concurrency: int = 4  # chunks fetched at once
    queries: dict[str, Any] = field(default_factory=dict)  # catalogue overrides/additions
    # Baselines collected beside the window (metrics_baseline): "window" = the window of the
    # same length just before it; a duration ("1d", "7d") = the same hours that long earlier.
    baselines: list[str] = field(default_factory=lambda: ["window", "1d", "7d"])


@dataclass
class PostgresConfig:
    url: str = "postgresql+psycopg://eafix@localhost:5432/eafix_prod"
    password_env: str = "EAFIX_PG_PASSWORD"
    statement_timeout_ms: int = 5000
    lock_timeout_ms: int = 1000
    idle_in_transaction_timeout_ms: int = 10000
    connect_timeout_s: float = 5.0
    watch_interval_s: float = 5.0
    lock_wait_threshold_s: float = 5.0
    row_limit: int = 1000  # LIMIT on activity, locks and connections queries; rows of pg_statements kept
    snapshot_limit: int = 5000  # LIMIT on a pg_stat_statements snapshot (its default pg_stat_statements.max)
    # application_name -> service, for sessions whose application_name is not the service's name
    applications: dict[str, str] = field(default_factory=dict)


@dataclass
class LogsConfig:
    files: list[str] = field(default_factory=lambda: ["incident_logs_*.txt"])
    json_files: list[str] = field(default_factory=list)
    compose_project: str = ""
    services: list[str] = field(default_factory=list)


@dataclass
class GitConfig:
    repos: list[str] = field(default_factory=lambda: ["."])
    deploy_tags: list[str] = field(default_factory=lambda: ["deploy-*", "release-*", "v*"])
    lookback: str = "24h"  # commits this long before the window start are evidence too
    # repository directory name -> service it deploys (default: the directory name itself)
    services: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 60.0  # per git command
    web_url: str = ""  # e.g. https://git.example.com/eafix/{repo}: commit links are <web_url>/commit/<sha>


@dataclass
class ServiceConfig:
    """One EAFIX service's HTTP API (``[services.NAME]``), read with GET only."""

    url: str
    health: str = "/healthz"
    critical: bool = True  # on the trading path (the runbook's "non-critical path" is False)
    # Trading API paths this service serves. "" = the runbook's default for its name
    # (gui-gateway: positions and reconcile; signal-generator: signals; execution-engine:
    # executions) unless another service claims that API explicitly.
    positions: str = ""
    signals: str = ""
    executions: str = ""
    reconcile: str = ""
    timeout_s: float = 5.0  # per request attempt, connect to last byte
    tries: int = 3  # connect errors and 5xx only; more than 3 would hammer a sick service
    backoff_s: float = 0.25  # first retry waits 0.5-1x this, doubling after (jittered)
    max_retry_after_s: float = 10.0  # a server's Retry-After is honoured up to this
    max_bytes: int = 10 * 1024 * 1024  # per endpoint (all pages); the rest is cut: truncated
    max_pages: int = 50
    degraded_ms: float = 2000.0  # a healthy answer slower than this is "degraded"
    ca_bundle: str = ""  # PEM file of a private CA that signed this service's HTTPS certificate

    def __post_init__(self) -> None:
        # [services.NAME] tables are not type-checked by the loader: check here, naming the key.
        where = f"[services] url = {self.url!r}"
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: expected an http:// or https:// URL")
        for key in ("health", "positions", "signals", "executions", "reconcile"):
            value = getattr(self, key)
            if not isinstance(value, str) or (value and not value.startswith("/")):
                raise ConfigError(f"{where}: {key} = {value!r}: expected a path starting with '/'")
        if not isinstance(self.critical, bool):
            raise ConfigError(f"{where}: critical = {self.critical!r}: expected true or false")
        for key in ("timeout_s", "backoff_s", "max_retry_after_s", "degraded_ms"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{where}: {key} = {value!r}: expected a non-negative number")
        if self.timeout_s <= 0:
            raise ConfigError(f"{where}: timeout_s = {self.timeout_s!r}: must be positive")
        for key, low, high in (("tries", 1, 3), ("max_bytes", 1, 1 << 40), ("max_pages", 1, 10_000)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"{where}: {key} = {value!r}: expected an integer {low}..{high}")


@dataclass
class IncidentsConfig:
    dir: str = "incidents"
    pagerduty_url: str = ""  # e.g. https://api.pagerduty.com; empty = use the TOML records
    pagerduty_token_env: str = "EAFIX_PAGERDUTY_TOKEN"
    timeout_s: float = 30.0  # per PagerDuty request
    max_retries: int = 3  # after HTTP 429, how many times to try again
    max_retry_wait_s: float = 30.0  # the longest Retry-After we honour in one wait


@dataclass
class RedactConfig:
    patterns: list[str] = field(default_factory=list)  # extra regexes whose matches are scrubbed
    keywords: list[str] = field(default_factory=list)  # extra literal strings scrubbed anywhere


@dataclass
class SeverityConfig:
    signal_latency_critical_s: float = 5.0
    signal_latency_normal_s: float = 1.0
    # "Above normal" is judged against each series' own baseline: above its p99 times this
    # margin, with the catalogue threshold as a floor.
    baseline_margin: float = 1.25
    # Orders rejected or failed in the window: this share (and at least rejected_min orders)
    # is a partial outage affecting trading (P1); rejected_share_degraded is degradation (P2).
    rejected_share_outage: float = 0.1
    rejected_share_degraded: float = 0.05
    rejected_min: int = 5
    # No execution for this long (and 20x the usual spacing) in market hours: orders stopped (P1).
    orders_gap_min: str = "15m"
    # A service logging this many errors that are symptoms (not its background) is P2.
    errors_min: int = 10
    price_staleness_s: float = 60.0
    error_rate_degraded: float = 0.05
    # Without a latency metric, this many signals slower than signal_latency_critical_s
    # make "signal latency above 5 s" (one slow signal is noise, not a P1).
    late_signals_min: int = 3
    reconcile_mismatches_min: int = 1  # mismatched positions that count as data corruption (P0)
    risk_service: str = "risk-manager"  # its failure is a P0 on its own
    market_data_services: list[str] = field(default_factory=lambda: ["data-ingestor"])
    # Case-insensitive regexes; a WARNING+ log line or the incident title matching one is a
    # security breach (P0). Words of active exploitation only: a 401 is not a breach.
    security_patterns: list[str] = field(
        default_factory=lambda: [
            r"security breach",
            r"intrusion detected",
            r"\bexploit(?:ed|ation)\b",
            r"\bcompromised\b",
            r"privilege escalation",
            r"data exfiltration",
            r"\bransomware\b",
        ]
    )


@dataclass
class CalendarConfig:
    """The trading week (default: the FX week, Sunday 22:00 to Friday 22:00 UTC)."""

    open_day: str = "Sunday"
    open_time: str = "22:00"
    close_day: str = "Friday"
    close_time: str = "22:00"
    timezone: str = "UTC"
    # "5 business days" (P3 resolve) counts these days, in ``timezone``
    business_days: list[str] = field(
        default_factory=lambda: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    )
    holidays: list[str] = field(default_factory=list)  # ISO dates with no trading and no business time
    # After each open, series that only move with the market (price age) are not judged for this long.
    open_grace: str = "10m"


@dataclass
class CatalogConfig:
    url: str = ""  # empty = SQLite at output/catalog.db
    password_env: str = "EAFIX_CATALOG_PASSWORD"  # PostgreSQL password, read from this variable
    busy_timeout_s: float = 30.0  # SQLite: how long a writer waits for another one's lock
    connect_timeout_s: float = 10.0  # PostgreSQL


@dataclass
class BundleConfig:
    """Signing of the evidence manifest with an SSH key (``ssh-keygen -Y sign``)."""

    signing_key: str = ""  # an SSH private key (no passphrase): collect writes manifest.json.sig
    allowed_signers: str = ""  # ssh-keygen allowed-signers file: verify requires a valid signature by one of them


@dataclass
class CollectConfig:
    source_timeout_s: float = 120.0
    output_dir: str = "output"


_SECTIONS: dict[str, type] = {
    "prometheus": PrometheusConfig,
    "postgres": PostgresConfig,
    "logs": LogsConfig,
    "git": GitConfig,
    "incidents": IncidentsConfig,
    "redact": RedactConfig,
    "severity": SeverityConfig,
    "calendar": CalendarConfig,
    "catalog": CatalogConfig,
    "collect": CollectConfig,
    "bundle": BundleConfig,
}
_PATH_LISTS = {("logs", "files"), ("logs", "json_files"), ("git", "repos")}
_PATHS = {("logs", "compose_project"), ("incidents", "dir"), ("collect", "output_dir"), ("bundle", "signing_key"),
          ("bundle", "allowed_signers")}


@dataclass
class Config:
    """The whole configuration; every section has runbook defaults."""

    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    postgres: PostgresConfig = field(default_factory=PostgresConfig)
    logs: LogsConfig = field(default_factory=LogsConfig)
    git: GitConfig = field(default_factory=GitConfig)
    services: dict[str, ServiceConfig] = field(
        default_factory=lambda: {
            name: ServiceConfig(url=f"http://localhost:{port}", health=path)
            for name, (port, path) in DEFAULT_SERVICES.items()
        }
    )
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    redact: RedactConfig = field(default_factory=RedactConfig)
    severity: SeverityConfig = field(default_factory=SeverityConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    # [topology]: service -> the services it depends on; empty = the runbook's pipeline
    topology: dict[str, list[str]] = field(default_factory=dict)
    # [topology.libraries]: shared library -> the services that consume it
    libraries: dict[str, list[str]] = field(default_factory=dict)
    bundle: BundleConfig = field(default_factory=BundleConfig)
    path: Path | None = None  # the file it was loaded from
    # Sections the file named explicitly; a source whose section is absent is "skipped"
    # by collect() unless it has a useful default.
    explicit: frozenset[str] = frozenset()

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Config:
        """Load ``path`` (or ``$EAFIX_CONFIG``, or ``./eafix.toml``), else defaults."""
        if path is None:
            env = os.environ.get("EAFIX_CONFIG")
            if env:
                path = env
            elif Path("eafix.toml").is_file():
                path = "eafix.toml"
        if path is None:
            cfg = cls()
            cfg._apply_env()
            return cfg
        p = Path(path).expanduser()
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: invalid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: cannot read: {exc}") from None
        return cls.from_dict(raw, path=p.resolve())

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, path: Path | None = None) -> Config:
        where = str(path) if path else "config"
        base = path.parent if path else Path.cwd()
        kwargs: dict[str, Any] = {}
        for section, values in raw.items():
            if section == "services":
                kwargs["services"] = _services(values, where)
                continue
            if section == "topology":
                kwargs["topology"], kwargs["libraries"] = _topology(values, where)
                continue
            klass = _SECTIONS.get(section)
            if klass is None:
                known = ", ".join(sorted([*_SECTIONS, "services", "topology"]))
                raise ConfigError(f"{where}: unknown section [{section}] (known: {known})")
            if not isinstance(values, dict):
                raise ConfigError(f"{where}: [{section}] must be a table")
            kwargs[section] = _section(klass, section, values, where, base)
        cfg = cls(**kwargs, path=path, explicit=frozenset(raw))
        cfg._apply_env()
        return cfg

    def _apply_env(self) -> None:
        """Non-secret EAFIX_* overrides of the most used addresses."""
        if url := os.environ.get("EAFIX_PROMETHEUS_URL"):
            self.prometheus.url = url
        if url := os.environ.get("EAFIX_POSTGRES_URL"):
            self.postgres.url = url

    def secret(self, env_name: str) -> str | None:
        """The value of the secret variable ``env_name`` (never stored on the Config)."""
        return os.environ.get(env_name) or None

    def resolve(self, relative: str) -> Path:
        """``relative`` resolved against the config file's directory."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def to_dict(self) -> dict[str, Any]:
        """Config as plain data for the manifest. Holds no secret: only variable names."""
        out = dataclasses.asdict(self)
        # Header values are credentials (Authorization, X-Api-Key): only their names are recorded.
        out["prometheus"]["headers"] = sorted(self.prometheus.headers)
        out["path"] = str(self.path) if self.path else None
        out["explicit"] = sorted(self.explicit)
        return out


def _section(klass: type, section: str, values: dict[str, Any], where: str, base: Path) -> Any:
    fields = {f.name: f for f in dataclasses.fields(klass)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{where}: unknown key {key!r} in [{section}] (known: {', '.join(sorted(fields))})"
            )
        default = getattr(klass(), key)
        if not _same_kind(default, value):
            raise ConfigError(
                f"{where}: [{section}] {key} = {value!r}: expected {type(default).__name__}"
            )
        _check_value(section, key, value, where)
        if (section, key) in _PATH_LISTS:
            value = [str(_rel(base, v)) for v in value]
        elif (section, key) in _PATHS and value:
            value = str(_rel(base, value))
        kwargs[key] = value
    return klass(**kwargs)


# Numbers that must be above zero (the others must be zero or more); every number must be finite.
_POSITIVE = {
    ("prometheus", "timeout_s"), ("prometheus", "points"), ("prometheus", "concurrency"),
    ("postgres", "statement_timeout_ms"), ("postgres", "lock_timeout_ms"),
    ("postgres", "idle_in_transaction_timeout_ms"), ("postgres", "connect_timeout_s"),
    ("postgres", "watch_interval_s"), ("postgres", "row_limit"), ("postgres", "snapshot_limit"),
    ("git", "timeout_s"), ("incidents", "timeout_s"), ("catalog", "connect_timeout_s"),
    ("collect", "source_timeout_s"), ("severity", "late_signals_min"), ("severity", "reconcile_mismatches_min"),
}
_FRACTIONS = {("severity", "error_rate_degraded")}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _check_value(section: str, key: str, value: Any, where: str) -> None:
    """Raise ConfigError naming ``[section] key`` when ``value`` is out of its range."""
    name = f"{where}: [{section}] {key} = {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{name}: expected a finite number")
        if (section, key) in _POSITIVE and value <= 0:
            raise ConfigError(f"{name}: must be greater than 0")
        if value < 0:
            raise ConfigError(f"{name}: must not be negative")
        if (section, key) in _FRACTIONS and value > 1:
            raise ConfigError(f"{name}: expected a fraction between 0 and 1")
    elif section == "calendar":
        _check_calendar(key, value, name)
    elif (section, key) == ("git", "lookback"):
        try:
            parse_duration(value)
        except ConfigError as exc:
            raise ConfigError(f"{name}: {exc}") from None


def _check_calendar(key: str, value: Any, name: str) -> None:
    days = [value] if key in ("open_day", "close_day") else value if key == "business_days" else []
    for d in days:
        if d.strip().lower() not in _WEEKDAYS:
            raise ConfigError(f"{name}: expected a weekday name (Monday … Sunday)")
    if key in ("open_time", "close_time"):
        try:
            dt.time.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(f"{name}: expected HH:MM (e.g. 22:00)") from None
    if key == "timezone":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{name}: unknown IANA timezone") from None
    if key == "open_grace":
        from_zero = re.fullmatch(r"\s*0+(?:\.0*)?\s*[smhd]?\s*", value)
        if not from_zero:
            try:
                parse_duration(value)
            except ConfigError:
                raise ConfigError(f"{name}: expected a duration (e.g. 10m, or 0)") from None
    if key == "holidays":
        for h in value:
            try:
                dt.date.fromisoformat(h)
            except ValueError:
                where = name.split(" [calendar]")[0]
                raise ConfigError(f"{where} [calendar] holidays: {h!r} is not an ISO date (2024-12-25)") from None


def _rel(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return isinstance(value, type(default))


def _services(values: Any, where: str) -> dict[str, ServiceConfig]:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: [services] must be a table of [services.NAME] tables")
    out: dict[str, ServiceConfig] = {}
    fields = {f.name for f in dataclasses.fields(ServiceConfig)}
    for name, spec in values.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: [services.{name}] must be a table")
        unknown = set(spec) - fields
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {sorted(unknown)[0]!r} in [services.{name}] "
                f"(known: {', '.join(sorted(fields))})"
            )
        if not isinstance(spec.get("url"), str) or not spec["url"]:
            raise ConfigError(f"{where}: [services.{name}] needs url = \"http://host:port\"")
        out[name] = ServiceConfig(**spec)
    return out


def output_root(
    output_dir: str | os.PathLike[str] | None = None,
    config: Config | None = None,
    *,
    source_tree: bool = False,
) -> Path:
    """Where bundles, reports and the incident library go; the one rule every command uses.

    ``output_dir`` (``--output-dir``) if given, else ``$EAFIX_OUTPUT_DIR``, else
    ``[collect] output_dir`` of a config read from a file (relative to that file;
    default ``output``), else ``./output``. With ``source_tree`` (readers without a config: notebooks
    opened from ``notebooks/``), a missing ``./output`` falls back to the source
    tree's ``output/`` when the package runs from its tree.
    """
    if output_dir:
        return Path(output_dir)
    env = os.environ.get("EAFIX_OUTPUT_DIR")
    if env:
        return Path(env)
    if config is not None and (config.path is not None or "collect" in config.explicit):
        return config.resolve(config.collect.output_dir)
    here = Path.cwd() / "output"
    tree = Path(__file__).resolve().parent.parent
    if not source_tree or here.is_dir() or not (tree / "pyproject.toml").is_file():
        return here
    return tree / "output"


def _topology(values: Any, where: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """``[topology]`` as (service -> dependencies, library -> consumers). Libraries come from
    ``[topology.libraries]`` (``NAME = ["consumer", …]``) or ``libraries = ["NAME", …]``
    (consumers then name the library in their own dependency lists)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: [topology] must be a table of NAME = [dependencies]")
    out: dict[str, list[str]] = {}
    libraries: dict[str, list[str]] = {}
    for name, deps in values.items():
        if name == "libraries" and isinstance(deps, dict):
            for lib, consumers in deps.items():
                if not isinstance(consumers, list) or not all(isinstance(c, str) and c for c in consumers):
                    raise ConfigError(f"{where}: [topology.libraries] {lib} = {consumers!r}: expected a list of "
                                      "the services that use it")
                libraries[str(lib)] = list(consumers)
            continue
        if not isinstance(deps, list) or not all(isinstance(d, str) and d for d in deps):
            what = ("a list of library names, or a [topology.libraries] table" if name == "libraries"
                    else "a list of service names")
            raise ConfigError(f"{where}: [topology] {name} = {deps!r}: expected {what}")
        if name == "libraries":
            for lib in deps:
                libraries.setdefault(lib, [])
            continue
        out[str(name)] = list(deps)
    for lib in libraries:
        if lib in out:
            raise ConfigError(f"{where}: [topology] {lib} is a library ([topology.libraries]) and a service: "
                              "name its consumers in [topology.libraries] only")
    return out, libraries
