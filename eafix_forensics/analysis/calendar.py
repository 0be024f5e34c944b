"""The trading calendar: when the market is open, and what a business day is.

The runbook states the P0/P1 resolution targets "during market hours" and the
P3 target in "business days". Both clocks only run while their calendar is
open, so an incident triggered on Friday evening and resolved on Monday
morning has used little of either. The default is the FX week: open Sunday
22:00 UTC, closed Friday 22:00 UTC; business days are Monday to Friday.
Holidays close both clocks for the whole (local) day.

Every market-hours question is asked about the incident's own time (a symptom, the
evidence window), never about when the evidence was collected. ``open_grace``
(``[calendar] open_grace``, default 10 min) is how long after an open a series that
only moves with the market (price age) still lags: :meth:`TradingCalendar.open_mask`
with ``after_open`` leaves it out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ..config import CalendarConfig, Config
from ..errors import ConfigError
from ..model.times import to_utc
from ..window import parse_duration

__all__ = ["TradingCalendar"]

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_Interval = tuple[pd.Timestamp, pd.Timestamp]


def _day(name: str, key: str) -> int:
    try:
        return _DAYS.index(name.strip().lower())
    except ValueError:
        raise ConfigError(
            f"[calendar] {key} = {name!r}: expected a weekday name (Monday … Sunday)"
        ) from None


def _clock(value: str, key: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"[calendar] {key} = {value!r}: expected HH:MM (e.g. 22:00)") from None


def _utc(ts: pd.Timestamp | dt.datetime | str) -> pd.Timestamp:
    t = to_utc(ts, naive_error="time {value}: needs a timezone (calendar arithmetic is in UTC)")
    if t is None:
        raise ConfigError(f"time {ts!r}: missing (calendar arithmetic needs a time)")
    return t


@dataclass(frozen=True)
class TradingCalendar:
    """A weekly trading session plus business days and holidays, in one timezone."""

    open_day: int = 6  # Sunday
    open_time: dt.time = dt.time(22, 0)
    close_day: int = 4  # Friday
    close_time: dt.time = dt.time(22, 0)
    timezone: str = "UTC"
    business_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    open_grace: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(minutes=10))

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"[calendar] timezone = {self.timezone!r}: unknown IANA timezone") from None

    @classmethod
    def from_config(cls, config: Config | CalendarConfig | Mapping[str, Any] | None = None) -> TradingCalendar:
        """The calendar of ``[calendar]`` (a Config, its section, or the section as a dict)."""
        if config is None:
            section = CalendarConfig()
        elif isinstance(config, Config):
            section = config.calendar
        elif isinstance(config, CalendarConfig):
            section = config
        else:
            known = {f for f in CalendarConfig.__dataclass_fields__}
            section = CalendarConfig(**{k: v for k, v in config.items() if k in known})
        holidays = set()
        for h in section.holidays:
            try:
                holidays.add(dt.date.fromisoformat(h))
            except (TypeError, ValueError):
                raise ConfigError(f"[calendar] holidays: {h!r} is not an ISO date (2024-12-25)") from None
        return cls(
            open_day=_day(section.open_day, "open_day"),
            open_time=_clock(section.open_time, "open_time"),
            close_day=_day(section.close_day, "close_day"),
            close_time=_clock(section.close_time, "close_time"),
            timezone=section.timezone,
            business_days=frozenset(_day(d, "business_days") for d in section.business_days),
            holidays=frozenset(holidays),
            open_grace=_grace(section.open_grace),
        )

    # -- intervals ---------------------------------------------------------------
    def _local(self, d: dt.date, t: dt.time) -> pd.Timestamp:
        # Built from local wall time so a DST change keeps "22:00 local" at 22:00.
        return pd.Timestamp(dt.datetime.combine(d, t), tz=ZoneInfo(self.timezone)).tz_convert("UTC")

    def _dates(self, start: pd.Timestamp, end: pd.Timestamp, pad: int) -> Iterator[dt.date]:
        tz = ZoneInfo(self.timezone)
        d = start.tz_convert(tz).date() - dt.timedelta(days=pad)
        last = end.tz_convert(tz).date() + dt.timedelta(days=1)
        while d <= last:
            yield d
            d += dt.timedelta(days=1)

    def _holiday_intervals(self, start: pd.Timestamp, end: pd.Timestamp) -> list[_Interval]:
        return [
            (self._local(d, dt.time()), self._local(d + dt.timedelta(days=1), dt.time()))
            for d in self._dates(start, end, 1)
            if d in self.holidays
        ]

    def sessions(self, start: pd.Timestamp, end: pd.Timestamp) -> list[_Interval]:
        """The open trading intervals inside ``[start, end)``, in UTC, holidays removed."""
        start, end = _utc(start), _utc(end)
        span = (self.close_day - self.open_day) % 7
        if span == 0 and self.close_time <= self.open_time:
            span = 7
        out: list[_Interval] = []
        for d in self._dates(start, end, 8):
            if d.weekday() != self.open_day:
                continue
            opens = self._local(d, self.open_time)
            closes = self._local(d + dt.timedelta(days=span), self.close_time)
            out.extend(_clip([(opens, closes)], start, end))
        return _subtract(out, self._holiday_intervals(start, end))

    def business_intervals(self, start: pd.Timestamp, end: pd.Timestamp) -> list[_Interval]:
        """The business-day intervals (whole local days) inside ``[start, end)``, in UTC."""
        start, end = _utc(start), _utc(end)
        days = [
            (self._local(d, dt.time()), self._local(d + dt.timedelta(days=1), dt.time()))
            for d in self._dates(start, end, 1)
            if d.weekday() in self.business_days and d not in self.holidays
        ]
        return _clip(days, start, end)

    # -- clocks ------------------------------------------------------------------
    def trading_time(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.Timedelta:
        """How much of ``[start, end)`` the market was open (zero when end <= start)."""
        return _total(self.sessions(start, end)) if _utc(end) > _utc(start) else pd.Timedelta(0)

    def business_time(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.Timedelta:
        """How much of ``[start, end)`` fell on business days; one business day is 24 h of it."""
        return _total(self.business_intervals(start, end)) if _utc(end) > _utc(start) else pd.Timedelta(0)

    def open_mask(self, times: pd.Series, *, after_open: pd.Timedelta | None = None) -> np.ndarray:
        """Boolean array: whether the market is open at each of ``times`` (UTC timestamps);
        with ``after_open``, only from that long after each open (a reopening after a
        holiday is an open too)."""
        ts = pd.to_datetime(pd.Series(times), utc=True)
        out = np.zeros(len(ts), dtype=bool)
        valid = ts.notna().to_numpy()
        if not valid.any():
            return out
        values = ts[valid]
        grace = pd.Timedelta(after_open) if after_open is not None else pd.Timedelta(0)
        for a, b in self._whole_sessions(values.min(), values.max() + pd.Timedelta(1, "ns")):
            out[valid] |= ((values >= a + grace) & (values < b)).to_numpy()
        return out

    def _whole_sessions(self, start: pd.Timestamp, end: pd.Timestamp) -> list[_Interval]:
        """The open intervals overlapping ``[start, end)`` with their true opens and closes
        (not clipped), abutting ones merged (a market open around the clock has no open)."""
        start, end = _utc(start), _utc(end)
        raw = self.sessions(start - pd.Timedelta(days=8), end + pd.Timedelta(days=8))
        merged: list[_Interval] = []
        for a, b in raw:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return [(a, b) for a, b in merged if b > start and a < end]

    def opened_at(self, ts: pd.Timestamp) -> pd.Timestamp | None:
        """When the session holding ``ts`` opened (None when the market is closed at ``ts``)."""
        t = _utc(ts)
        return next((a for a, b in self._whole_sessions(t, t + pd.Timedelta(1, "ns")) if a <= t < b), None)

    def is_open(self, ts: pd.Timestamp) -> bool:
        """True when the market is open at ``ts``."""
        t = _utc(ts)
        return bool(self.sessions(t, t + pd.Timedelta(1, "ns")))

    def add(self, start: pd.Timestamp, duration: pd.Timedelta, *, clock: str = "trading") -> pd.Timestamp:
        """The moment ``duration`` of ``clock`` time ("trading", "business" or "wall") has
        elapsed after ``start``: the deadline of a target counted on that clock."""
        start = _utc(start)
        if clock == "wall":
            return start + duration
        if clock not in ("trading", "business"):
            raise ConfigError(f"clock {clock!r}: expected trading, business or wall")
        intervals = self.sessions if clock == "trading" else self.business_intervals
        left = pd.Timedelta(duration)
        cursor = start
        # Look a few weeks ahead at a time; a calendar with no open time at all ends the loop.
        for _ in range(104):
            chunk_end = cursor + pd.Timedelta(days=28)
            for a, b in intervals(cursor, chunk_end):
                if b - a >= left:
                    return a + left
                left -= b - a
            cursor = chunk_end
        raise ConfigError("the trading calendar has no open time within two years; check [calendar]")


def _grace(value: str) -> pd.Timedelta:
    """``[calendar] open_grace`` as a Timedelta ("0" or "0s" for none)."""
    if re.fullmatch(r"\s*0+(?:\.0*)?\s*[smhd]?\s*", str(value)):
        return pd.Timedelta(0)
    try:
        return pd.Timedelta(parse_duration(value))
    except ConfigError:
        raise ConfigError(f"[calendar] open_grace = {value!r}: expected a duration (e.g. 10m, or 0)") from None


def _clip(intervals: list[_Interval], start: pd.Timestamp, end: pd.Timestamp) -> list[_Interval]:
    out = []
    for a, b in intervals:
        a, b = max(a, start), min(b, end)
        if b > a:
            out.append((a, b))
    return out


def _subtract(intervals: list[_Interval], holes: list[_Interval]) -> list[_Interval]:
    out = intervals
    for ha, hb in holes:
        nxt: list[_Interval] = []
        for a, b in out:
            if hb <= a or ha >= b:
                nxt.append((a, b))
                continue
            if a < ha:
                nxt.append((a, ha))
            if hb < b:
                nxt.append((hb, b))
        out = nxt
    return out


def _total(intervals: list[_Interval]) -> pd.Timedelta:
    return sum((b - a for a, b in intervals), pd.Timedelta(0))
