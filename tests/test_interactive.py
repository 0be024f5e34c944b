"""The interactive figures (plotly, the [interactive] extra), checked by what a reader hovers:
one marker per event with its summary and evidence ref, breach peaks with theirs, time zoom
only; hostile text escaped; the static figure when plotly is missing."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import eafix_forensics as ef
from eafix_forensics.analysis.timeline import MILESTONE_KINDS, bundle_breaches
from eafix_forensics.bundle import EvidenceBundle
from eafix_forensics.demo import build_demo
from eafix_forensics.model import tables as schemas

pytest.importorskip("plotly")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> EvidenceBundle:
    return build_demo(tmp_path_factory.mktemp("demo"))


def test_swimlane_hover_gives_each_events_summary_and_ref(demo):
    fig = ef.interactive.swimlane(demo)
    events = ef.timeline(demo)
    events = events[~events["kind"].isin(MILESTONE_KINDS)]
    hovers = [h for t in fig.data for h in t.hovertext]
    assert len(hovers) == len(events) > 5
    for e in events.itertuples(index=False):
        mine = [h for h in hovers if f"<b>{e.kind}</b> ({e.severity})" in h and e.ref.split(" | ")[0] in h]
        assert mine, (e.kind, e.ref)
    # Zoom is on time: the lanes stay; the service that failed first is the top lane.
    assert fig.layout.yaxis.fixedrange is True
    assert list(fig.layout.yaxis.categoryarray)[-1] == "execution-engine"
    assert {t.name for t in fig.data} == {"info", "warning", "critical"}


def test_swimlane_escapes_hostile_text():
    frame = schemas.conform([{
        "timestamp": pd.Timestamp("2024-12-02T14:00Z"), "source": "logs", "service": "<b>svc</b>",
        "kind": "first_error", "severity": "critical",
        "summary": '<img src=x onerror="alert(1)"><a href="javascript:alert(2)">x</a>', "ref": "logs:<script>:1",
    }], "timeline")
    fig = ef.interactive.swimlane(frame)
    hover = fig.data[0].hovertext[0]
    assert "<img" not in hover and "<a " not in hover and "<script>" not in hover
    assert "&lt;img src=x" in hover and "logs:&lt;script&gt;:1" in hover


def test_metric_panels_one_per_metric_breach_peaks_hover_their_ref(demo):
    fig = ef.interactive.metric_panels(demo)
    names = set(demo.table("metrics")["name"].dropna())
    assert {a.text.split(" (")[0] for a in fig.layout.annotations if a.yref == "paper" and a.xref == "paper"} == names
    breaches = bundle_breaches(demo)
    peaks = [h for t in fig.data if t.name == "breach peak" for h in t.hovertext]
    assert len(peaks) == len(breaches) > 0
    for b in breaches.itertuples(index=False):
        assert any(f"metrics:{b.name}:{b.series}" in p for p in peaks), b.name
    assert all(ax["fixedrange"] for k, ax in fig.layout.to_plotly_json().items() if k.startswith("yaxis"))


def test_without_plotly_the_static_figure_and_a_hint(tmp_path):
    code = (
        "import sys, warnings; sys.modules['plotly'] = None; sys.modules['plotly.graph_objects'] = None\n"
        "import eafix_forensics as ef\n"
        f"from eafix_forensics.demo import build_demo; b = build_demo({str(tmp_path)!r})\n"
        "assert not ef.interactive.available()\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always'); fig = ef.interactive.swimlane(b)\n"
        "from matplotlib.figure import Figure; assert isinstance(fig, Figure), fig\n"
        "assert \"pip install 'eafix-forensics[interactive]'\" in str(w[0].message), w\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
