"""TimeWindow: the half-open UTC interval ``[start, end)`` an investigation covers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from .errors import ConfigError

__all__ = ["TimeWindow", "parse_duration", "parse_time"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The times an incident can have: Unix time (logs, Prometheus, git) to well before pandas'
# nanosecond limit (2262). A time outside is a typo, never evidence.
EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
LATEST = pd.Timestamp("2200-01-01", tz="UTC")
_LONGEST = pd.Timedelta(days=365 * 100)
# Steps Prometheus users expect to see; the default step is rounded up to one of these.
_NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def parse_duration(value: str | float | timedelta | pd.Timedelta) -> pd.Timedelta:
    """Return ``value`` ("15m", "1h", "30s", "1.5h", seconds, or a timedelta) as a positive Timedelta."""
    if isinstance(value, bool):
        raise ConfigError(f"duration {value!r}: expected e.g. 30s, 15m, 1h, 24h or 7d")
    if isinstance(value, (pd.Timedelta, timedelta)):
        td = pd.Timedelta(value)
    elif isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ConfigError(f"duration {value!r}: must be a finite number of seconds")
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ConfigError(f"duration {value!r}: expected e.g. 30s, 15m, 1h, 24h or 7d")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
    else:
        raise ConfigError(f"duration {value!r}: expected e.g. 30s, 15m, 1h, 24h or 7d")
    if not isinstance(value, (pd.Timedelta, timedelta)):
        if seconds > _LONGEST.total_seconds():
            raise ConfigError(f"duration {value!r}: longer than 100 years")
        td = pd.Timedelta(seconds=seconds)
    if td <= pd.Timedelta(0):
        raise ConfigError(f"duration {value!r}: must be positive")
    if td > _LONGEST:
        raise ConfigError(f"duration {value!r}: longer than 100 years")
    return td


def parse_time(value: str | datetime | pd.Timestamp, *, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """Return ``value`` as a tz-aware UTC Timestamp.

    Accepts ISO 8601 with or without an offset (none means UTC), ``now``, and a
    relative duration meaning that long before now (``15m``, ``1h``, ``24h``).
    """
    if isinstance(value, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ConfigError("time '': expected ISO 8601 (2024-12-02T14:00Z) or a relative 1h")
        if text.lower() == "now":
            return _now(now)
        if _DURATION.match(text):
            return _now(now) - parse_duration(text)
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        try:
            ts = pd.Timestamp(datetime.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                f"time {value!r}: expected ISO 8601 (2024-12-02T14:00Z, 2024-12-02 14:00+01:00) "
                "or a relative duration (15m, 1h, 24h)"
            ) from None
    else:
        raise ConfigError(f"time {value!r}: expected a string or datetime")
    if ts is pd.NaT:
        raise ConfigError(f"time {value!r}: not a time")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    _check_bounds(ts, f"time {value!r}")
    return ts.as_unit("ns")


def _check_bounds(ts: pd.Timestamp, what: str) -> None:
    if not EARLIEST <= ts <= LATEST:
        raise ConfigError(f"{what}: outside {EARLIEST.date()} … {LATEST.date()}")


def _now(now: pd.Timestamp | None) -> pd.Timestamp:
    return (now if now is not None else pd.Timestamp.now(tz="UTC")).tz_convert("UTC")


@dataclass(frozen=True)
class TimeWindow:
    """A half-open interval ``[start, end)`` in UTC."""

    start: pd.Timestamp
    end: pd.Timestamp

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            ts = getattr(self, name)
            if not isinstance(ts, pd.Timestamp) or ts.tzinfo is None:
                raise ConfigError(f"window {name} {ts!r}: must be a tz-aware Timestamp")
            _check_bounds(ts, f"window {name} {ts.isoformat()}")
        if self.end <= self.start:
            raise ConfigError(
                f"window: end {self.end.isoformat()} must be after start {self.start.isoformat()}"
            )

    @classmethod
    def parse(
        cls,
        start: str | datetime | pd.Timestamp,
        end: str | datetime | pd.Timestamp | None = None,
        *,
        now: pd.Timestamp | None = None,
    ) -> TimeWindow:
        """Window from two times (ISO 8601 or relative like ``1h`` = an hour ago); end defaults to now."""
        now = _now(now)
        s = parse_time(start, now=now)
        e = parse_time(end, now=now) if end is not None else now
        return cls(s, e)

    @classmethod
    def last(cls, duration: str | float | timedelta, *, now: pd.Timestamp | None = None) -> TimeWindow:
        """The window of ``duration`` ending now (``TimeWindow.last("1h")``)."""
        end = _now(now)
        td = parse_duration(duration)
        if end - EARLIEST < td:
            raise ConfigError(f"duration {duration!r}: reaches back before {EARLIEST.date()}")
        return cls(end - td, end)

    @property
    def duration(self) -> pd.Timedelta:
        return self.end - self.start

    def contains(self, ts: pd.Timestamp) -> bool:
        return bool(self.start <= ts < self.end)

    def mask(self, timestamps: pd.Series) -> pd.Series:
        """Boolean mask of ``timestamps`` inside ``[start, end)``."""
        return (timestamps >= self.start) & (timestamps < self.end)

    def before(self) -> TimeWindow:
        """The window of the same length just before this one (a baseline)."""
        return TimeWindow(self.start - self.duration, self.start)

    def step(self, points: int = 1000) -> pd.Timedelta:
        """A round step giving about ``points`` samples over the window (at least 1 s)."""
        raw = self.duration.total_seconds() / max(points, 1)
        for nice in _NICE_STEPS:
            if nice >= raw:
                return pd.Timedelta(seconds=nice)
        return pd.Timedelta(seconds=math.ceil(raw / 86400) * 86400)

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> TimeWindow:
        return cls.parse(data["start"], data["end"])

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"
