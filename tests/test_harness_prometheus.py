"""The Prometheus harness serves exactly the samples it backfilled (issue 2, acceptance 5)."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from tests.harness.prometheus import (
    DATASET_END,
    DATASET_START,
    DATASET_STEP_S,
    dataset_values,
    running_prometheus,
)

pytestmark = pytest.mark.prometheus


def _range(url: str, query: str, start: pd.Timestamp, end: pd.Timestamp, step: int) -> list[dict]:
    resp = httpx.get(
        f"{url}/api/v1/query_range",
        params={"query": query, "start": start.timestamp(), "end": end.timestamp(), "step": step},
    )
    resp.raise_for_status()
    return resp.json()["data"]["result"]


def test_prometheus_returns_the_backfilled_values_over_the_backfilled_window(prometheus):
    key = 'up{job="data-ingestor",service="data-ingestor"}'
    expected = dataset_values(key)
    last = DATASET_END - pd.Timedelta(seconds=DATASET_STEP_S)
    result = _range(prometheus.url, 'up{job="data-ingestor"}', DATASET_START, last, DATASET_STEP_S)

    assert len(result) == 1
    got = pd.Series(
        [float(v) for _, v in result[0]["values"]],
        index=pd.to_datetime([t for t, _ in result[0]["values"]], unit="s", utc=True),
    )
    assert len(got) == len(expected) == 4 * 3600 // DATASET_STEP_S
    assert (got.index == expected.index).all()
    assert got.tolist() == expected.tolist()
    assert got.min() == 0.0 and got.max() == 1.0  # the outage is in the data, not only ones


def test_nothing_is_served_outside_the_backfilled_window(prometheus):
    # Prometheus looks back at most 5 minutes for a sample, so 10 minutes
    # before the first sample there is nothing.
    before = DATASET_START - pd.Timedelta(minutes=30)
    result = _range(prometheus.url, "up", before, before + pd.Timedelta(minutes=20), 60)
    assert result == []


def test_running_prometheus_backfills_a_file_and_stops_on_exit(tmp_path):
    om = tmp_path / "data.om"
    om.write_text(
        "# TYPE eafix_probe gauge\n"
        'eafix_probe{k="a"} 3.5 1733140800\n'
        'eafix_probe{k="a"} 4.5 1733140860\n'
        "# EOF\n"
    )
    with running_prometheus(om, tmp_path / "prom") as prom:
        t0 = pd.Timestamp("2024-12-02T12:00:00Z")
        result = _range(prom.url, "eafix_probe", t0, t0 + pd.Timedelta(minutes=1), 60)
        assert [float(v) for _, v in result[0]["values"]] == [3.5, 4.5]
        url = prom.url
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/-/ready", timeout=2)
