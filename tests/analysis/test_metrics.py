"""breaches, baseline_shift, metric_events and bundle_events on hand-built METRICS frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eafix_forensics.analysis.calendar import TradingCalendar
from eafix_forensics.analysis.metrics import baseline_shift, breaches, bundle_events, metric_events
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.config import Config
from eafix_forensics.errors import ConfigError
from eafix_forensics.model import tables as schemas
from eafix_forensics.model.catalogue import QueryEntry, Rule, catalogue
from eafix_forensics.window import TimeWindow

T0 = pd.Timestamp("2024-12-02T14:00:00Z")


def metrics(name: str, values: list[float], *, service: str = "signal-generator", step_s: int = 60,
            start: pd.Timestamp = T0, drop: tuple[int, ...] = ()) -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(values), freq=f"{step_s}s")
    keep = [i for i in range(len(values)) if i not in drop]
    return schemas.conform(
        pd.DataFrame(
            {
                "timestamp": ts[keep],
                "query": "q",
                "series": f'{{service="{service}"}}',
                "value": np.array(values, dtype=float)[keep],
                "name": name,
                "service": service,
            }
        ),
        "metrics",
    )


def at(minute: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minute)


def test_first_matching_rule_wins_and_intervals_are_half_open():
    df = metrics("signal_latency_p95", [0.4, 1.5, 6.0, 7.5, 5.5, 2.0, 0.4, 0.4])
    got = breaches(df)
    assert got[["rule", "start", "end", "peak", "severity", "service"]].values.tolist() == [
        ["degraded", at(1), at(2), 1.5, "warning", "signal-generator"],
        ["critical", at(2), at(5), 7.5, "critical", "signal-generator"],
        ["degraded", at(5), at(6), 2.0, "warning", "signal-generator"],
    ]
    crit = got.iloc[1]
    assert crit.peak_at == at(3) and crit.samples == 3 and not crit.ongoing
    assert str(got["start"].dtype) == "datetime64[ns, UTC]"


def test_exactly_at_the_threshold_is_not_above_it():
    got = breaches(metrics("signal_latency_p95", [0.4, 5.0, 5.0, 0.4]))
    assert got["rule"].tolist() == ["degraded"]  # 5.0 is not above 5 s, but above normal


def test_breach_running_to_the_end_is_ongoing_and_ends_one_step_later():
    got = breaches(metrics("up", [1, 1, 0, 0], service="risk-manager"))
    assert got.iloc[0].start == at(2) and got.iloc[0].end == at(4)
    assert bool(got.iloc[0].ongoing) is True
    assert got.iloc[0].rule == "down" and got.iloc[0].service == "risk-manager"


def test_a_gap_in_the_series_ends_a_breach():
    # samples 3 and 4 missing: the series was absent, not "still down"
    got = breaches(metrics("up", [1, 0, 0, 9, 9, 0, 1], drop=(3, 4)))
    assert [(r.start, r.end, bool(r.ongoing)) for r in got.itertuples()] == [
        (at(1), at(3), False),
        (at(5), at(6), False),
    ]


def test_nan_never_breaches_and_infinity_does():
    got = breaches(metrics("signal_latency_p95", [np.nan, np.inf, np.nan, 0.4]))
    assert got["rule"].tolist() == ["critical"]
    assert got.iloc[0].start == at(1) and got.iloc[0].end == at(2) and got.iloc[0].peak == np.inf


def test_below_rules_report_the_minimum_as_peak():
    entry = QueryEntry(name="fill_ratio", query="q", rules=(Rule("low_fill", "<", 0.5, "warning"),))
    got = breaches(metrics("fill_ratio", [0.9, 0.4, 0.1, 0.3, 0.8]), {"fill_ratio": entry})
    assert got.iloc[0].peak == 0.1 and got.iloc[0].peak_at == at(2)


def test_rules_as_a_plain_mapping_of_rule_lists():
    got = breaches(metrics("queue", [1, 200, 300, 1]), {"queue": [Rule("backlog", ">", 100, "warning")]})
    assert got["rule"].tolist() == ["backlog"] and got.iloc[0].end == at(3)


def test_rows_match_by_query_when_there_is_no_name_column():
    entry = catalogue()["signal_latency_p95"]
    df = metrics("x", [0.4, 9.0, 0.4]).drop(columns=["name"])
    df["query"] = entry.query
    assert breaches(df)["name"].tolist() == ["signal_latency_p95"]


def test_series_and_entries_without_rules_give_nothing():
    assert breaches(metrics("container_cpu", [1, 99, 1])).empty
    assert breaches(metrics("not_in_catalogue", [1, 99, 1])).empty
    empty = breaches(schemas.empty("metrics"))
    assert empty.empty and "start" in empty.columns and str(empty["start"].dtype) == "datetime64[ns, UTC]"


def test_thresholds_follow_the_configured_severity():
    cfg = Config()
    cfg.severity.signal_latency_critical_s = 10.0
    got = breaches(metrics("signal_latency_p95", [0.4, 7.0, 0.4]), catalogue(cfg))
    assert got["rule"].tolist() == ["degraded"]


def test_metric_events_are_timeline_threshold_breaches():
    df = pd.concat([
        metrics("signal_latency_p95", [0.4, 6.0, 6.5, 0.4]),
        metrics("up", [1, 1, 0, 1], service="execution-engine"),
    ])
    ev = metric_events(df)
    assert list(ev.columns) == list(schemas.SCHEMAS["timeline"])
    assert ev["kind"].unique().tolist() == ["threshold_breach"]
    assert ev[["timestamp", "service", "severity"]].values.tolist() == [
        [at(1), "signal-generator", "critical"],
        [at(2), "execution-engine", "critical"],
    ]
    assert ev.iloc[0].ref == 'metrics:signal_latency_p95:{service="signal-generator"}'
    assert "from 14:01:00 to 14:03:00" in ev.iloc[0].summary and "peak 6.5" in ev.iloc[0].summary
    assert (ev["source"] == "prometheus").all()


def test_metric_events_empty_is_the_empty_timeline():
    ev = metric_events(metrics("up", [1, 1, 1]))
    pd.testing.assert_frame_equal(ev, schemas.empty("timeline"))


def test_baseline_shift_compares_with_the_span_just_before():
    window = TimeWindow(at(60), at(120))
    base = [1.0, 1.2, 0.8, 1.0] * 15  # median 1.0, MAD 0.1
    incident = [3.0] * 60
    df = metrics("signal_latency_p95", base + incident)
    got = baseline_shift(df, window)
    row = got.iloc[0]
    assert row.baseline_median == 1.0 and row.incident_median == 3.0
    assert row.change == 2.0 and row.ratio == 3.0
    assert row.robust_z == pytest.approx(2.0 / (1.4826 * 0.1))
    assert row.baseline_samples == 60 and row.incident_samples == 60


def test_baseline_shift_takes_a_separate_baseline_frame_and_orders_by_z():
    window = TimeWindow(at(10), at(20))
    inc = pd.concat([
        metrics("signal_latency_p95", [5.0] * 10, start=at(10)),
        metrics("up", [1.0] * 10, start=at(10), service="risk-manager"),
    ])
    base = pd.concat([
        metrics("signal_latency_p95", [0.4, 0.5] * 5, start=at(0)),
        metrics("up", [1.0] * 10, start=at(0), service="risk-manager"),
    ])
    got = baseline_shift(inc, window, baseline=base)
    assert got["name"].tolist() == ["signal_latency_p95", "up"]
    assert got.iloc[1].robust_z == 0.0  # flat and unchanged
    assert got.iloc[0].robust_z == pytest.approx((5.0 - 0.45) / (1.4826 * 0.05))


def test_baseline_shift_ignores_non_finite_samples():
    window = TimeWindow(at(4), at(8))
    got = baseline_shift(metrics("x", [1, np.nan, 1, np.inf, 2, 2, np.nan, 2]), window)
    assert got.iloc[0].baseline_samples == 2 and got.iloc[0].incident_samples == 3


def _bundle(tmp_path, evidence, config=None):
    return EvidenceBundle.write(
        tmp_path / "INC-T" / "evidence", incident_id="INC-T", window=TimeWindow(at(0), at(60)),
        evidence=evidence, config=config or Config(),
    )


def test_bundle_events_from_the_metrics_table(tmp_path):
    df = metrics("market_data_age", [1, 90, 120, 1], service="data-ingestor")
    bundle = _bundle(tmp_path, [Evidence("metrics", df, source="prometheus")])
    ev = bundle_events(bundle)
    assert ev["severity"].tolist() == ["critical"]
    # Price age 90 s at 14:01: the last fresh price came at 13:59:30, when the feed stopped.
    assert ev.iloc[0].timestamp == at(1) - pd.Timedelta(seconds=90) and ev.iloc[0].service == "data-ingestor"


def test_bundle_events_use_the_bundles_configured_thresholds(tmp_path):
    cfg = Config()
    cfg.severity.price_staleness_s = 100.0
    df = metrics("market_data_age", [1, 90, 120, 1], service="data-ingestor")
    bundle = _bundle(tmp_path, [Evidence("metrics", df, source="prometheus")], cfg)
    ev = bundle_events(bundle)
    # Over 100 s only from 14:02 (120 s): the breach starts there, dated back to its last fresh price.
    assert "from 14:02:00" in ev["summary"].iloc[0]
    assert ev["timestamp"].tolist() == [at(2) - pd.Timedelta(seconds=120)]


def test_bundle_events_without_metrics_is_empty_timeline(tmp_path):
    bundle = _bundle(tmp_path, [Evidence("commits", schemas.empty("commits"), source="git")])
    pd.testing.assert_frame_equal(bundle_events(bundle), schemas.empty("timeline"))
    unavailable = _bundle(tmp_path / "u", [Evidence("metrics", schemas.empty("metrics"), source="prometheus",
                                                    status="unavailable", error="refused")])
    pd.testing.assert_frame_equal(bundle_events(unavailable), schemas.empty("timeline"))


# ------------------------------------------------------------------ baselines
def _lat(start: str, values: list[float], step_s: int = 60) -> pd.DataFrame:
    times = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=len(values), freq=f"{step_s}s")
    return schemas.conform(pd.DataFrame({
        "timestamp": times, "query": "q", "series": '{service="signal-generator"}', "value": values,
        "name": "signal_latency_p95", "service": "signal-generator",
    }), "metrics")


def test_above_normal_is_judged_against_the_series_own_baseline():
    from eafix_forensics.sources.prometheus import catalogue

    rules = catalogue()
    usual = _lat("2024-12-02T12:00Z", [0.95, 1.05, 1.0, 1.1, 0.9] * 12)  # p95 around 1 s is normal here
    same = _lat("2024-12-02T14:00Z", [1.0, 1.1, 1.05, 0.95] * 10)
    # With the fixed 1 s "normal" every sample above it is degraded; against its baseline none is.
    assert len(breaches(same, rules)) > 0
    assert len(breaches(same, rules, baseline=usual)) == 0
    # p99 1.1 s x 1.25 = 1.375 s: 1.5 s is degraded, 1.3 s is not
    up = _lat("2024-12-02T14:00Z", [1.0] * 10 + [1.5] * 10 + [1.0] * 10)
    just = _lat("2024-12-02T14:00Z", [1.0] * 10 + [1.3] * 10 + [1.0] * 10)
    found = breaches(up, rules, baseline=usual)
    assert len(found) == 1 and found.iloc[0]["rule"] == "degraded" and not found.iloc[0]["chronic"]
    assert found.iloc[0]["threshold"] == pytest.approx(1.1 * 1.25)
    assert len(breaches(just, rules, baseline=usual)) == 0


def test_a_state_held_throughout_the_baseline_is_chronic_and_the_usual_spike_is_noise():
    from eafix_forensics.sources.prometheus import catalogue

    rules = catalogue()
    spiky = _lat("2024-12-02T12:00Z", ([4.0] * 19 + [5.6]) * 3)  # a 1-sample spike above 5 s every 20 min
    spike = _lat("2024-12-02T14:00Z", [4.0] * 10 + [5.5] + [4.0] * 10)
    longer = _lat("2024-12-02T14:00Z", [4.0] * 10 + [5.5] * 3 + [4.0] * 10)
    higher = _lat("2024-12-02T14:00Z", [4.0] * 10 + [7.5] + [4.0] * 10)  # above 1.25 x the baseline's 5.6
    assert bool(breaches(spike, rules, baseline=spiky).query("rule == 'critical'")["chronic"].all())
    assert not breaches(longer, rules, baseline=spiky).query("rule == 'critical'")["chronic"].any()
    assert not breaches(higher, rules, baseline=spiky).query("rule == 'critical'")["chronic"].any()
    high = _lat("2024-12-02T12:00Z", [6.0] * 60)
    ev = metric_events(_lat("2024-12-02T14:00Z", [6.0] * 30), rules, baseline=high)
    assert list(ev["severity"]) == ["info"] and ev["summary"].iloc[0].startswith("chronic (100% of the baseline")


def test_a_breach_starts_where_the_series_left_its_baseline():
    from eafix_forensics.sources.prometheus import catalogue

    usual = _lat("2024-12-02T12:00Z", [0.25, 0.26] * 30, step_s=10)
    rising = _lat("2024-12-02T14:00Z", [0.25] * 20 + [1.0, 3.0, 6.0, 7.0] + [0.25] * 5, step_s=10)
    found = breaches(rising, catalogue(), baseline=usual)
    crit = found[found["rule"] == "critical"].iloc[0]
    assert crit["start"] == crit["onset"] == pd.Timestamp("2024-12-02T14:03:40Z")  # the degraded run is its own event
    degraded = found[found["rule"] == "degraded"].iloc[0]
    assert degraded["start"] == pd.Timestamp("2024-12-02T14:03:30Z")
    assert degraded["onset"] == pd.Timestamp("2024-12-02T14:03:20Z")  # 1.0 s is already far off a 0.26 s baseline
    events = metric_events(rising, catalogue(), baseline=usual)
    assert events["timestamp"].min() == pd.Timestamp("2024-12-02T14:03:20Z")


def price_age(start: str, stop: str, n: int, *, step_s: int = 15, close: str | None = None) -> pd.DataFrame:
    """market_data_age as Prometheus computes it (time() - last price update) for a feed
    ticking every 0.3 s that stops at ``stop`` (and at ``close``, when the market closes)."""
    times = pd.date_range(pd.Timestamp(start), periods=n, freq=f"{step_s}s")
    stops = [pd.Timestamp(s) for s in (stop, close) if s]
    last = [min([s for s in stops if s <= t], default=t - pd.Timedelta(seconds=0.3)) for t in times]
    values = [(t - u).total_seconds() for t, u in zip(times, last, strict=True)]
    frame = metrics("market_data_age", values, service="data-ingestor", step_s=step_s, start=times[0])
    return frame


def test_a_stalled_feed_is_dated_when_its_last_price_arrived() -> None:
    cal = TradingCalendar.from_config()
    # Prices stop at 08:11:59.7; the age crosses 60 s at 08:13:00 (60.3 s): the onset is the last price.
    df = price_age("2024-12-03T08:00:00Z", "2024-12-03T08:11:59.7Z", 80)
    found = breaches(df, catalogue(), calendar=cal)
    assert len(found) == 1
    b = found.iloc[0]
    assert b["start"] == pd.Timestamp("2024-12-03T08:13:00Z")
    assert b["onset"] == pd.Timestamp("2024-12-03T08:11:59.7Z")
    # Just missing: a stall of 59 s never crosses the threshold, so there is nothing to date.
    short = price_age("2024-12-03T08:00:00Z", "2024-12-03T08:11:59.7Z", 52)
    assert breaches(short[short["value"] < 60], catalogue(), calendar=cal).empty
    # The timeline event sits at the onset and says so.
    ev = metric_events(df, catalogue(), calendar=cal)
    assert ev["timestamp"].iloc[0] == b["onset"] and "last fresh at 08:11:59.700" in ev["summary"].iloc[0]


def test_a_closed_market_is_not_a_stale_feed() -> None:
    cal = TradingCalendar.from_config()
    # Friday: the feed ticks until the 22:00 close, then the age climbs all night.
    friday = price_age("2024-12-06T21:30:00Z", "2024-12-06T23:59:00Z", 360, close="2024-12-06T21:59:59.9Z")
    assert breaches(friday, catalogue(), calendar=cal).empty
    assert not breaches(friday, catalogue()).empty  # without the calendar it would read as an outage
    # The same feed stopping at 21:40 with the market open is a stall, dated 21:40.
    stall = price_age("2024-12-06T21:30:00Z", "2024-12-06T21:40:00Z", 360, close="2024-12-06T21:59:59.9Z")
    found = breaches(stall, catalogue(), calendar=cal)
    assert len(found) == 1 and found["onset"].iloc[0] == pd.Timestamp("2024-12-06T21:40:00Z")
    assert found["end"].iloc[0] <= pd.Timestamp("2024-12-06T22:00:15Z")  # judged no further than the close


def test_after_the_open_prices_have_the_grace_to_resume() -> None:
    cal = TradingCalendar.from_config()  # open Sunday 22:00 UTC, open_grace 10 min
    closed_since = "2024-12-06T21:59:59.9Z"
    # Ticks resume at 22:08, within the grace: nothing.
    late = price_age("2024-12-08T21:50:00Z", closed_since, 120)
    late.loc[late["timestamp"] >= pd.Timestamp("2024-12-08T22:08:00Z"), "value"] = 0.3
    assert breaches(late, catalogue(), calendar=cal).empty
    # Ticks never resume: stale from the end of the grace (22:10), not since Friday.
    never = price_age("2024-12-08T21:50:00Z", closed_since, 120)
    found = breaches(never, catalogue(), calendar=cal)
    assert len(found) == 1 and found["start"].iloc[0] == pd.Timestamp("2024-12-08T22:10:00Z")
    assert found["onset"].iloc[0] == pd.Timestamp("2024-12-08T22:10:00Z")
    # The grace is the config's: with none, the open itself.
    no_grace = TradingCalendar.from_config({"open_grace": "0s"})
    assert breaches(never, catalogue(), calendar=no_grace)["onset"].iloc[0] == pd.Timestamp("2024-12-08T22:00:00Z")


def test_catalogue_flags_are_checked() -> None:
    cfg = Config.from_dict({"prometheus": {"queries": {"market_data_age": {"age": "yes"}}}})
    with pytest.raises(ConfigError, match=r"\[prometheus.queries.market_data_age\]: age = 'yes': expected true or false"):
        catalogue(cfg)
    assert catalogue()["market_data_age"].age and catalogue()["market_data_age"].market_hours
    assert not catalogue()["up"].market_hours  # a service down on a Saturday is still down
