"""Times and durations: one way to make a time UTC, one way to write a duration.

Everything time-like in this package is a tz-aware UTC ``pandas.Timestamp``
(``datetime64[ns, UTC]`` in frames). An input without an offset is UTC unless
the caller says an offset is required (incident records, calendar arithmetic).
No IO.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import ConfigError

__all__ = ["format_duration", "is_missing", "to_utc"]

_HOUR = pd.Timedelta(hours=1)


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas' NA (a string is never missing)."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def to_utc(value: Any, *, naive_error: str | None = None) -> pd.Timestamp | None:
    """``value`` (Timestamp, datetime, ISO string, epoch ns) as a UTC Timestamp in ns,
    or None when it is missing.

    A time without an offset is taken as UTC; with ``naive_error`` it raises
    ConfigError with that message instead (``{value}`` is replaced by the value's repr).
    """
    if is_missing(value):
        return None
    t = pd.Timestamp(value)
    if t.tzinfo is None:
        if naive_error is not None:
            raise ConfigError(naive_error.replace("{value}", repr(value)))
        t = t.tz_localize("UTC")
    return t.tz_convert("UTC").as_unit("ns")


def format_duration(
    td: Any,
    *,
    seconds_under: pd.Timedelta | None = _HOUR,
    pad: bool = False,
    missing: str = "—",
) -> str:
    """A duration for people: ``1 h 5 min``, ``4 min 05 s``, ``35 s``.

    Hours and minutes when there are hours; below ``seconds_under`` the seconds
    are shown too (``None``: never; sub-minute durations then read ``0 min``).
    ``pad`` writes minutes after hours, and seconds after minutes, with two digits.
    A negative duration starts with ``−``; a missing one is ``missing``.
    """
    if is_missing(td):
        return missing
    t = pd.Timedelta(td)
    sign = "−" if t < pd.Timedelta(0) else ""
    total = int(abs(t).total_seconds())
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    two = "{:02d}" if pad else "{:d}"
    if h:
        return f"{sign}{h} h {two.format(m)} min"
    if seconds_under is None or abs(t) >= seconds_under:
        return f"{sign}{m} min"
    if m:
        return f"{sign}{m} min" + (f" {two.format(s)} s" if s else "")
    return f"{sign}{s} s"
