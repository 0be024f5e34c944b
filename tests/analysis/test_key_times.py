"""key_times(): INC-DEMO's milestones and intervals; an ongoing breach; no record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import eafix_forensics as ef
from eafix_forensics.analysis.key_times import KEY_TIME_COLUMNS
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.config import Config
from eafix_forensics.demo import DEMO_WINDOW, T, build_demo, demo_evidence
from eafix_forensics.model import tables as schemas

MIN = pd.Timedelta(minutes=1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> EvidenceBundle:
    return build_demo(tmp_path_factory.mktemp("demo"))


def test_demo_key_times(demo: EvidenceBundle) -> None:
    k = ef.key_times(demo)
    assert k.first_symptom == T("13:55")
    assert k.first_symptom_ref.startswith("logs:")
    assert (k.detection, k.acknowledgement, k.resolution) == (T("14:05"), T("14:09"), T("15:20"))
    # Mitigation: signal latency and order execution p95 both back under their rules at 14:50.
    assert k.mitigation == T("14:50") and not k.mitigation_ongoing
    assert (k.time_to_detect, k.time_to_acknowledge, k.time_to_mitigate, k.time_to_resolve) == (
        10 * MIN, 4 * MIN, 55 * MIN, 85 * MIN
    )
    assert k.first_error is not None and k.first_breach is not None
    assert k.first_error <= k.first_breach


def test_demo_key_times_frame(demo: EvidenceBundle) -> None:
    f = ef.key_times(demo).frame()
    assert list(f.columns) == list(KEY_TIME_COLUMNS)
    assert f["milestone"].tolist() == [
        "first symptom", "first error", "first breach", "detection", "acknowledgement", "mitigation", "resolution"
    ]
    assert f["timestamp"].dtype == "datetime64[ns, UTC]" and f["duration"].dtype == "timedelta64[ns]"
    by = f.set_index("milestone")
    assert by.loc["detection", "time_to"] == "time to detect" and by.loc["detection", "duration"] == 10 * MIN
    assert by.loc["resolution", "duration"] == 85 * MIN
    assert "signal latency above the P1 threshold" in by.loc["mitigation", "evidence"]
    assert by.loc["mitigation", "ref"] == 'metrics:signal_latency_p95:{service="signal-generator"}'


def _bundle(tmp: Path, evidence: list[Evidence]) -> EvidenceBundle:
    return EvidenceBundle.write(tmp, incident_id="INC-T", window=DEMO_WINDOW, evidence=evidence, config=Config())


def test_a_breach_still_running_at_the_window_end_leaves_mitigation_unknown(tmp_path: Path) -> None:
    times = pd.date_range(DEMO_WINDOW.start, DEMO_WINDOW.end, freq="60s", inclusive="left")
    lat = np.where(times >= T("14:30"), 6.5, 0.4)
    metrics = schemas.conform(pd.DataFrame({
        "timestamp": times, "query": "q", "series": '{service="signal-generator"}', "value": lat,
        "name": "signal_latency_p95", "service": "signal-generator",
    }), "metrics")
    evidence = [e for e in demo_evidence(tmp_path / "w") if e.name != "metrics"]
    evidence.append(Evidence("metrics", metrics, source="prometheus"))
    k = ef.key_times(_bundle(tmp_path / "b", evidence))
    assert k.mitigation is None and k.mitigation_ongoing and k.time_to_mitigate is None
    assert k.first_breach == T("14:30")
    row = k.frame().set_index("milestone").loc["mitigation"]
    assert pd.isna(row["timestamp"]) and pd.isna(row["duration"]) and row["evidence"] == "a breach is still ongoing"


def test_without_an_incident_record_only_evidence_times_remain(tmp_path: Path) -> None:
    evidence = [e for e in demo_evidence(tmp_path / "w") if e.source != "incident"]
    k = ef.key_times(_bundle(tmp_path / "b", evidence))
    assert k.first_symptom == T("13:55") and k.mitigation == T("14:50")
    assert k.detection is None and k.acknowledgement is None and k.resolution is None
    assert k.time_to_detect is None and k.time_to_resolve is None and k.time_to_mitigate == 55 * MIN
    f = k.frame().set_index("milestone")
    assert f.loc[["detection", "acknowledgement", "resolution"], "timestamp"].isna().all()


def test_key_times_show_as_their_table_in_a_notebook(demo: EvidenceBundle) -> None:
    html = ef.key_times(demo)._repr_html_()
    assert html.startswith("<table") and "time to acknowledge" in html and "2024-12-02 14:09:00+00:00" in html
