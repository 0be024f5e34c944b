import pandas as pd
import pytest

from eafix_forensics import ConfigError, TimeWindow
from eafix_forensics.window import parse_duration, parse_time

NOW = pd.Timestamp("2024-12-02T15:00:00Z")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-12-02T14:00:00Z", "2024-12-02T14:00:00+00:00"),
        ("2024-12-02T14:00Z", "2024-12-02T14:00:00+00:00"),
        ("2024-12-02T14:00:00", "2024-12-02T14:00:00+00:00"),  # no offset means UTC
        ("2024-12-02 16:00:00+02:00", "2024-12-02T14:00:00+00:00"),
        ("2024-12-02T09:00:00.123456-05:00", "2024-12-02T14:00:00.123456+00:00"),
        ("1h", "2024-12-02T14:00:00+00:00"),
        ("15m", "2024-12-02T14:45:00+00:00"),
        ("24h", "2024-12-01T15:00:00+00:00"),
        ("now", "2024-12-02T15:00:00+00:00"),
    ],
)
def test_parse_time_gives_utc(text, expected):
    ts = parse_time(text, now=NOW)
    assert str(ts.tz) == "UTC"
    assert ts == pd.Timestamp(expected)


@pytest.mark.parametrize("bad", ["", "yesterday", "2024-13-02T14:00Z", "1 hour", "14:00 tomorrow", "-1h"])
def test_parse_time_rejects_garbage_naming_it(bad):
    with pytest.raises(ConfigError) as err:
        parse_time(bad, now=NOW)
    assert repr(bad) in str(err.value) or "time" in str(err.value)


def test_window_parse_and_last():
    w = TimeWindow.parse("2024-12-02T14:00Z", "2024-12-02T15:00Z")
    assert w.duration == pd.Timedelta("1h")
    last = TimeWindow.last("1h", now=NOW)
    assert last == w
    assert TimeWindow.parse("1h", now=NOW) == w


def test_window_end_must_follow_start():
    with pytest.raises(ConfigError, match="must be after start"):
        TimeWindow.parse("2024-12-02T15:00Z", "2024-12-02T14:00Z")
    with pytest.raises(ConfigError, match="must be after start"):
        TimeWindow.parse("2024-12-02T15:00Z", "2024-12-02T15:00Z")


def test_window_is_half_open():
    w = TimeWindow.parse("2024-12-02T14:00Z", "2024-12-02T15:00Z")
    s = pd.Series(pd.to_datetime(["2024-12-02T13:59:59.999999999Z", "2024-12-02T14:00Z",
                                  "2024-12-02T14:59:59.999999999Z", "2024-12-02T15:00Z"], utc=True, format="ISO8601"))
    assert w.mask(s).tolist() == [False, True, True, False]
    assert w.before() == TimeWindow.parse("2024-12-02T13:00Z", "2024-12-02T14:00Z")


@pytest.mark.parametrize("span, points, step", [("1h", 1000, "5s"), ("24h", 1000, "120s"), ("30d", 1000, "3600s"), ("1h", 11000, "1s")])
def test_step_targets_about_n_points(span, points, step):
    w = TimeWindow.last(span, now=NOW)
    assert w.step(points) == pd.Timedelta(step)
    assert w.duration / w.step(points) <= points


@pytest.mark.parametrize("bad", ["0s", "abc", "-5m", float("nan"), True])
def test_parse_duration_rejects(bad):
    with pytest.raises(ConfigError):
        parse_duration(bad)


def test_window_round_trips_through_dict():
    w = TimeWindow.parse("2024-12-02T14:00:00.5Z", "2024-12-02T15:00Z")
    assert TimeWindow.from_dict(w.to_dict()) == w
