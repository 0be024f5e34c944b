"""The trading calendar: FX week by default, configurable days, times, timezone and holidays."""

from __future__ import annotations

import pandas as pd
import pytest

from eafix_forensics.analysis.calendar import TradingCalendar
from eafix_forensics.config import Config
from eafix_forensics.errors import ConfigError

H = pd.Timedelta(hours=1)


def T(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def test_fx_week_default():
    cal = TradingCalendar.from_config()
    assert not cal.is_open(T("2024-11-30T12:00Z"))  # Saturday
    assert not cal.is_open(T("2024-12-01T21:59Z"))  # Sunday before the open
    assert cal.is_open(T("2024-12-01T22:00Z"))
    assert cal.is_open(T("2024-12-06T21:59Z"))
    assert not cal.is_open(T("2024-12-06T22:00Z"))  # Friday close
    # A whole week holds 5 × 24 h of trading.
    assert cal.trading_time(T("2024-12-01T00:00Z"), T("2024-12-08T00:00Z")) == 120 * H
    assert cal.trading_time(T("2024-11-29T20:00Z"), T("2024-12-02T10:00Z")) == 14 * H


def test_add_skips_the_closed_weekend():
    cal = TradingCalendar.from_config()
    assert cal.add(T("2024-11-29T20:00Z"), 8 * H) == T("2024-12-02T04:00Z")
    assert cal.add(T("2024-11-29T20:00Z"), pd.Timedelta(days=5), clock="business") == T("2024-12-06T20:00Z")
    assert cal.add(T("2024-11-29T20:00Z"), 8 * H, clock="wall") == T("2024-11-30T04:00Z")


def test_holidays_and_business_days():
    cal = TradingCalendar.from_config(Config.from_dict({"calendar": {"holidays": ["2024-12-25"]}}))
    assert not cal.is_open(T("2024-12-25T12:00Z"))
    assert cal.trading_time(T("2024-12-24T00:00Z"), T("2024-12-27T00:00Z")) == 48 * H
    assert cal.business_time(T("2024-12-24T00:00Z"), T("2024-12-27T00:00Z")) == 48 * H
    six_days = TradingCalendar.from_config({"business_days": ["Monday", "Tuesday", "Wednesday", "Thursday",
                                                             "Friday", "Saturday"]})
    assert six_days.business_time(T("2024-11-30T00:00Z"), T("2024-12-02T00:00Z")) == 24 * H


def test_local_timezone_follows_daylight_saving():
    # New York 17:00 Sunday to 17:00 Friday: 22:00 UTC in winter, 21:00 UTC in summer.
    cal = TradingCalendar.from_config({"open_time": "17:00", "close_time": "17:00", "timezone": "America/New_York"})
    assert cal.is_open(T("2024-12-01T22:00Z")) and not cal.is_open(T("2024-12-01T21:30Z"))
    assert cal.is_open(T("2024-06-02T21:00Z")) and not cal.is_open(T("2024-06-02T20:30Z"))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"open_day": "Sundy"}, r"open_day = 'Sundy': expected a weekday name"),
        ({"close_time": "10pm"}, r"close_time = '10pm': expected HH:MM"),
        ({"timezone": "Mars/Olympus"}, r"timezone = 'Mars/Olympus': unknown IANA timezone"),
        ({"holidays": ["25/12/2024"]}, r"holidays: '25/12/2024' is not an ISO date"),
    ],
)
def test_bad_calendar_config_is_named(section, message):
    with pytest.raises(ConfigError, match=message):
        TradingCalendar.from_config(Config.from_dict({"calendar": section}))


def test_naive_times_are_refused():
    with pytest.raises(ConfigError, match="needs a timezone"):
        TradingCalendar.from_config().trading_time(pd.Timestamp("2024-12-02T10:00"), T("2024-12-02T11:00Z"))


def test_open_grace_leaves_out_the_minutes_after_each_open():
    cal = TradingCalendar.from_config()
    assert cal.open_grace == pd.Timedelta(minutes=10)
    times = pd.Series([T("2024-12-01T22:05Z"), T("2024-12-01T22:10Z"), T("2024-12-03T10:00Z"),
                       T("2024-12-06T21:59Z"), T("2024-12-06T22:00Z")])
    assert cal.open_mask(times).tolist() == [True, True, True, True, False]
    assert cal.open_mask(times, after_open=cal.open_grace).tolist() == [False, True, True, True, False]
    # A window starting mid-week is not an open: its first samples stay in.
    assert cal.open_mask(times[2:3], after_open=cal.open_grace).tolist() == [True]
    assert cal.opened_at(T("2024-12-03T10:00Z")) == T("2024-12-01T22:00Z")
    assert cal.opened_at(T("2024-12-07T10:00Z")) is None
    # A holiday splits the week: the market reopens after it, with its grace.
    xmas = TradingCalendar.from_config({"holidays": ["2024-12-25"]})
    assert xmas.opened_at(T("2024-12-26T00:05Z")) == T("2024-12-26T00:00Z")
    assert not xmas.open_mask(pd.Series([T("2024-12-26T00:05Z")]), after_open=xmas.open_grace)[0]
    none = TradingCalendar.from_config({"open_grace": "0"})
    assert none.open_grace == pd.Timedelta(0)
    # New York's 17:00 open moves with daylight saving; so does the grace after it.
    ny = TradingCalendar.from_config({"open_time": "17:00", "close_time": "17:00", "timezone": "America/New_York"})
    assert ny.opened_at(T("2024-06-03T10:00Z")) == T("2024-06-02T21:00Z")
    assert ny.opened_at(T("2024-12-03T10:00Z")) == T("2024-12-01T22:00Z")


def test_a_bad_open_grace_is_named():
    with pytest.raises(ConfigError, match=r"\[calendar\] open_grace = 'ten minutes': expected a duration"):
        Config.from_dict({"calendar": {"open_grace": "ten minutes"}})
    with pytest.raises(ConfigError, match=r"open_grace = 10: expected str"):
        Config.from_dict({"calendar": {"open_grace": 10}})
