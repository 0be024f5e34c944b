"""The scenario kit itself (no servers, runs by default): the FX calendar, the library's
definitions are consistent, and what it renders reads back through the real readers."""

from __future__ import annotations

import dataclasses
import json
import tomllib

import pandas as pd
import pytest

from eafix_forensics import TimeWindow
from eafix_forensics.sources.incident import parse_incident_toml
from eafix_forensics.sources.logs import read_compose_logs

from .build import _leaves_band, check_disjoint, write_config
from .kit import market_open, render_incident, render_logs, render_series, ts
from .library import all_scenarios
from .scorecard import Score, _matches, table

SCENARIOS = all_scenarios()


@pytest.mark.parametrize(("at", "is_open"), [
    ("2026-04-24T21:59:59Z", True),  # Friday just before the close
    ("2026-04-24T22:00:00Z", False),  # Friday close
    ("2026-04-25T12:00:00Z", False),  # Saturday
    ("2026-04-26T21:59:00Z", False),  # Sunday before the open
    ("2026-04-26T22:00:00Z", True),  # Sunday open
    ("2026-04-28T03:00:00Z", True),  # Tuesday night
])
def test_fx_week(at: str, is_open: bool) -> None:
    assert market_open(ts(at)) is is_open


def test_library_is_large_varied_and_disjoint() -> None:
    assert len(SCENARIOS) >= 12
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)
    assert {s.layout for s in SCENARIOS} == {"per-service", "monorepo"}
    assert {s.truth.severity for s in SCENARIOS} == {"P0", "P1", "P2", "P3"}
    assert any(s.truth.culprit is None for s in SCENARIOS) and any(s.truth.culprit for s in SCENARIOS)
    assert len({s.metrics.step_s for s in SCENARIOS}) >= 3
    check_disjoint(SCENARIOS)  # one Prometheus holds them all


def test_overlapping_dates_are_refused() -> None:
    a = SCENARIOS[0]
    b = dataclasses.replace(a, name="copy")
    with pytest.raises(ValueError, match="overlapping metric ranges"):
        check_disjoint([a, b])


@pytest.mark.parametrize("scn", SCENARIOS, ids=lambda s: s.name)
def test_definition_is_consistent(scn) -> None:  # type: ignore[no-untyped-def]
    t = scn.truth
    start, end = scn.window
    assert start <= ts(t.first_symptom) < end, "the first symptom lies in the window"
    assert t.first_kind in ("log", "metric") and t.severity in ("P0", "P1", "P2", "P3") and t.why
    if t.culprit is not None:
        names = {c.subject for c in scn.commits} | {tag for c in scn.commits for tag in (c.tag, *c.extra_tags) if tag}
        assert t.culprit in names, "the culprit is a deploy tag or a commit subject of the scenario"
        culprit = next(c for c in scn.commits if t.culprit in (c.subject, c.tag, *c.extra_tags))
        assert ts(culprit.tag_at or culprit.at) < ts(t.first_symptom), "the culprit precedes the first symptom"
    tags = [tag for c in scn.commits for tag in (c.tag, *c.extra_tags) if tag]
    assert len(tags) == len(set(tags)), "deploy tags are unique"


@pytest.mark.parametrize("scn", SCENARIOS, ids=lambda s: s.name)
def test_rendered_logs_and_record_read_back(scn) -> None:  # type: ignore[no-untyped-def]
    start, end = scn.window
    logs = read_compose_logs(render_logs(scn).encode(), TimeWindow(start, end))
    assert int(logs.attrs.get("malformed", 0)) == 0
    assert set(logs["service"]) >= {"gui-gateway", "execution-engine", "signal-generator"}
    if scn.truth.first_kind == "log":
        at = ts(scn.truth.first_symptom)
        hit = logs[(logs["timestamp"] - at).abs() < pd.Timedelta(milliseconds=2)]
        assert hit["level"].isin(["WARNING", "ERROR", "CRITICAL"]).any()
    incident = parse_incident_toml(render_incident(scn), incident_id=scn.incident_id)
    assert incident.title == scn.incident["title"]


def test_scorecard_matches_the_culprit_by_sha_or_tag_and_prints_totals() -> None:
    truth = {"name": "x", "family": "f", "culprit": "deploy-a-1", "culprit_sha": "abc123def456",
             "culprit_tags": ["deploy-a-1"], "severity": "P1", "first_symptom": "2026-01-01T00:00:00Z",
             "first_service": "a", "first_kind": "log", "tolerance_s": 1.0}
    assert _matches(pd.Series({"sha": "abc123de", "ref": ""}), truth)
    assert _matches(pd.Series({"sha": None, "ref": "deploy-a-1"}), truth)
    assert not _matches(pd.Series({"sha": "fff000", "ref": "deploy-b-1"}), truth)
    good = Score("x", "f", truth, culprit_rank=1, culprit_ok=True, severity="P1", severity_ok=True,
                 first_at=pd.Timestamp("2026-01-01T00:00:00.4Z"), first_error_s=0.4, first_ok=True, headline="h")
    bad = dataclasses.replace(good, name="y", severity="P2", severity_ok=False)
    assert good.ok and not bad.ok and bad.failures() == ["severity: want P1, got P2"]
    assert "TOTAL 2 scenarios: culprit 2/2, severity 1/2, first symptom 2/2, all three 1/2" in table([good, bad])


def test_a_pending_scenario_is_reported_but_not_gated() -> None:
    truth = {"name": "x", "family": "f", "culprit": None, "culprit_sha": "", "culprit_tags": [], "severity": "P2",
             "first_symptom": "2026-01-01T00:00:00Z", "first_service": "a", "first_kind": "log", "tolerance_s": 1.0}
    good = Score("x", "f", truth, culprit_ok=True, severity="P2", severity_ok=True, first_ok=True, first_error_s=0.0)
    waiting = Score("y", "f", {**truth, "pending_issue": 19}, culprit_ok=True, severity="P0", first_ok=True)
    assert waiting.pending == 19 and not waiting.ok and good.pending == 0
    out = table([good, waiting])
    assert "[pending #19]" in out
    assert "gated 1/1; pending (reported, not gated) 0/1: y #19" in out


def test_config_declares_shared_libraries(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "repos.json").write_text(json.dumps(["repos/eafix-common", "repos/risk-manager"]))
    path = write_config(tmp_path, prometheus="http://127.0.0.1:1", postgres="postgresql://x@127.0.0.1/db",
                        services={}, libraries={"eafix-common": ["execution-engine", "risk-manager"]})
    raw = tomllib.loads(path.read_text())
    assert raw["topology"]["libraries"] == {"eafix-common": ["execution-engine", "risk-manager"]}
    assert raw["git"]["repos"] == ["repos/eafix-common", "repos/risk-manager"]


def test_a_memory_ramp_climbs_from_its_start_and_a_gradual_onset_is_told_from_jitter() -> None:
    scn = next(s for s in SCENARIOS if s.metrics.memory_ramps)
    svc, ((start, _end, mb_per_min),) = next(iter(scn.metrics.memory_ramps.items()))
    times, values = render_series(scn, *scn.window)[
        f'container_memory_working_set_bytes{{container_label_com_docker_compose_service="{svc}",name="eafix-{svc}-1"}}']
    mem = pd.Series(values, index=times)
    before, after = mem[mem.index < ts(start)], mem[mem.index >= ts(start) + pd.Timedelta(minutes=10)]
    assert before.max() - before.min() < 5e6  # a flat band
    assert after.iloc[0] - before.max() > (10 - 1) * mb_per_min * 1e6  # then a linear climb
    frame = pd.DataFrame({"timestamp": mem.index, "value": mem.to_numpy()})
    assert _leaves_band(frame, before, ts(start) + pd.Timedelta(seconds=30), pd.Timedelta(seconds=30))
    assert not _leaves_band(frame[frame["timestamp"] < ts(start)], before.iloc[:20], ts(start), pd.Timedelta(seconds=30))
