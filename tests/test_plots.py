"""The figures, checked by what they show: lanes, markers per kind and severity,
shaded breaches, deploy and milestone lines, error bars per service."""

from __future__ import annotations

from pathlib import Path

import matplotlib.dates as mdates
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import eafix_forensics as ef
from eafix_forensics import plots
from eafix_forensics.bundle import EvidenceBundle
from eafix_forensics.demo import T, build_demo
from eafix_forensics.model import tables as schemas

DEPLOY_SHA = "9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> EvidenceBundle:
    return build_demo(tmp_path_factory.mktemp("demo"))


def x(ts: pd.Timestamp) -> float:
    return float(mdates.date2num(ts))


def line_x(line: object) -> float:
    xs = line.get_xdata()  # type: ignore[attr-defined]
    return float(mdates.date2num(pd.Timestamp(xs[0]))) if isinstance(xs[0], pd.Timestamp) else float(xs[0])


def by_gid(artists: list, prefix: str) -> list:
    return [a for a in artists if (a.get_gid() or "").startswith(prefix)]


def test_swimlane_lanes_markers_and_lines(demo: EvidenceBundle) -> None:
    fig = plots.swimlane_timeline(demo)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lanes = [t.get_text() for t in ax.get_yticklabels()]
    # Failed services in the order they failed first, then every other service in the evidence.
    assert lanes[:4] == ["execution-engine", "signal-generator", "eafix_prod", "gui-gateway"]
    assert {"risk-manager", "data-ingestor", "indicator-engine"} <= set(lanes[4:])
    kinds = {c.get_gid() for c in ax.collections}
    assert {"kind:deploy", "kind:restart", "kind:first_error", "kind:error_burst", "kind:threshold_breach",
            "kind:slow_query", "kind:lock_wait", "kind:health_failed"} <= kinds
    # Colour by severity: the 14:02 signal latency breach is critical, the 13:56 one a warning.
    # One collection per kind and severity, so one face colour per collection.
    breach_colours = {
        (round(float(off[0]), 4), to_hex(c.get_facecolors()[0]))
        for c in by_gid(ax.collections, "kind:threshold_breach")
        for off in c.get_offsets()
    }
    assert (round(x(T("14:02")), 4), plots.SEVERITY_COLORS["critical"]) in breach_colours
    assert (round(x(T("13:56")), 4), plots.SEVERITY_COLORS["warning"]) in breach_colours
    health = by_gid(ax.collections, "kind:health_failed")[0]
    assert health.get_offsets()[0][1] == pytest.approx(lanes.index("execution-engine"))
    # Deploy and milestones are vertical lines at their times.
    deploy = by_gid(ax.lines, "deploy:")
    assert [line.get_gid() for line in deploy] == [f"deploy:{DEPLOY_SHA}"]
    assert line_x(deploy[0]) == pytest.approx(x(T("13:48")))
    milestones = {line.get_gid(): line_x(line) for line in by_gid(ax.lines, "milestone:") if "status" not in line.get_gid()}
    assert milestones == pytest.approx({
        "milestone:incident_triggered": x(T("14:05")), "milestone:acknowledged": x(T("14:09")),
        "milestone:responded": x(T("14:20")), "milestone:resolved": x(T("15:20")),
    })
    assert len(by_gid(ax.lines, "milestone:status_update")) == 4
    # Mitigation (end of the last breach) is marked, and every status update is labelled with its status.
    assert [line_x(line) for line in by_gid(ax.lines, "mitigation")] == pytest.approx([x(T("14:50"))])
    labels = " ".join(t.get_text() for t in ax.texts)
    assert all(f"update: {s}" in labels for s in ("Investigating", "Identified", "Monitoring", "Resolved"))
    # Two small legends: one for the kinds (shapes), one for severities and lines.
    assert [lg.get_title().get_text() for lg in fig.legends] == ["event kind (shape)", "severity (colour) and lines"]
    assert "execution-engine" in fig.eafix_alt and "mitigated 14:50 UTC" in fig.eafix_alt
    assert ax.get_xlim() == pytest.approx((x(T("13:30")), x(T("15:30"))))


def test_swimlane_of_a_timeline_frame_and_of_nothing() -> None:
    events = schemas.conform([
        {"timestamp": T("14:00"), "source": "logs", "service": None, "kind": "first_error", "severity": "critical",
         "summary": "boom", "ref": "logs:x:1"},
    ], "timeline")
    ax = plots.swimlane_timeline(events, title="one event").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["(no service)"]
    assert ax.get_title(loc="left") == "one event"
    empty = plots.swimlane_timeline(schemas.empty("timeline")).axes[0]
    assert [t.get_text() for t in empty.texts] == ["no events"]


def test_metric_panels_shade_breaches_and_mark_deploys(demo: EvidenceBundle) -> None:
    fig = plots.metric_panels(demo)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["order_execution_latency_p95", "signal_latency_p95", "up"]
    sig = fig.axes[1]
    spans = {p.get_gid(): p for p in by_gid(sig.patches, "breach:")}
    assert set(spans) == {"breach:signal_latency_p95:degraded", "breach:signal_latency_p95:critical"}
    crit = spans["breach:signal_latency_p95:critical"]
    assert crit.get_x() == pytest.approx(x(T("14:02")))
    assert crit.get_x() + crit.get_width() == pytest.approx(x(T("14:50")))
    assert to_hex(crit.get_facecolor()) == plots.SEVERITY_COLORS["critical"]
    assert to_hex(spans["breach:signal_latency_p95:degraded"].get_facecolor()) == plots.SEVERITY_COLORS["warning"]
    thresholds = sorted(line.get_ydata()[0] for line in by_gid(sig.lines, "threshold:"))
    assert thresholds == [1.0, 5.0]
    for ax in fig.axes:
        assert [line_x(line) for line in by_gid(ax.lines, "deploy:")] == pytest.approx([x(T("13:48"))])
    assert by_gid(fig.axes[2].patches, "breach:") == []  # every service stayed up
    # One line per series, never in a severity colour; the PromQL under the panel; the baseline range as a band.
    sig_lines = [line for line in sig.lines if not line.get_gid()]
    assert len(sig_lines) == 1
    assert not {to_hex(line.get_color()) for line in sig_lines} & set(plots.SEVERITY_COLORS.values())
    assert "signal_latency_seconds_bucket" in sig.get_xlabel()
    band = by_gid(sig.patches, "baseline:signal_latency_p95")
    assert len(band) == 1 and band[0].get_y() <= 0.4 <= band[0].get_y() + band[0].get_height()
    # Incident period (first symptom 13:55 → mitigation 14:50) and the first error on every panel.
    for ax in fig.axes:
        period = by_gid(ax.patches, "period")[0]
        assert (period.get_x(), period.get_x() + period.get_width()) == pytest.approx((x(T("13:55")), x(T("14:50"))))
        assert [line_x(line) for line in by_gid(ax.lines, "first_error")] == pytest.approx([x(T("13:55"))])
    # up is a state strip per service that agrees with the health check: all six scraped up,
    # execution-engine's failed health check (HTTP 503 at 14:30) marked on its strip.
    up = fig.axes[2]
    strips = {c.get_gid() for c in by_gid(up.collections, "up:")}
    assert strips == {f"up:{s}:up" for s in ("data-ingestor", "execution-engine", "gui-gateway", "indicator-engine",
                                            "risk-manager", "signal-generator")}
    assert [c.get_gid() for c in by_gid(up.collections, "health:")] == ["health:execution-engine"]
    assert any("health down (HTTP 503) 14:30" in t.get_text() for t in up.texts)
    assert "health check failed: execution-engine" in fig.eafix_alt


def test_metric_panels_from_frames_pick_the_names_asked(demo: EvidenceBundle) -> None:
    fig = plots.metric_panels(demo.table("metrics"), names=["up"])
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["up"]
    assert by_gid(fig.axes[0].patches, "breach:") == [] and by_gid(fig.axes[0].lines, "deploy:") == []
    nothing = plots.metric_panels(schemas.empty("metrics"))
    assert [t.get_text() for t in nothing.axes[0].texts] == ["no metrics in this bundle"]


def test_error_rate_by_service_counts_every_warning_and_error(demo: EvidenceBundle) -> None:
    logs = demo.table("logs")
    fig = plots.error_rate_by_service(demo)
    noisy = logs[logs["level"].isin(["WARNING", "ERROR", "CRITICAL"])]
    assert [ax.get_ylabel() for ax in fig.axes] == sorted(set(noisy["service"]))
    for ax in fig.axes:
        svc = ax.get_ylabel()
        rows = noisy[noisy["service"] == svc]
        errors = sum(p.get_height() for p in by_gid(ax.patches, f"errors:{svc}"))
        warnings = sum(p.get_height() for p in by_gid(ax.patches, f"warnings:{svc}"))
        assert errors == rows["level"].isin(["ERROR", "CRITICAL"]).sum()
        assert warnings == (rows["level"] == "WARNING").sum()
        for p in by_gid(ax.patches, "errors:"):
            assert to_hex(p.get_facecolor()) == plots.SEVERITY_COLORS["critical"]
        assert [line_x(line) for line in by_gid(ax.lines, "deploy:")] == pytest.approx([x(T("13:48"))])
    quiet = logs[logs["level"] == "INFO"]
    assert [t.get_text() for t in plots.error_rate_by_service(quiet).axes[0].texts] == [
        "no warnings or errors in the logs"
    ]


def _share_of(image, hex_color: str, tol: float = 0.06) -> float:
    """The fraction of an RGBA image's pixels within ``tol`` of ``hex_color``."""
    import numpy as np
    from matplotlib.colors import to_rgb

    return float((np.abs(image[..., :3] - np.array(to_rgb(hex_color))) < tol).all(axis=-1).mean())


def test_figures_render_to_png(demo: EvidenceBundle, tmp_path: Path) -> None:
    """Decode each saved PNG and check what a reader would see: the figure's size, a white
    background with something drawn on it, and the demo's findings in their colours."""
    import matplotlib.image as mpimg

    # name -> (figure, colours that must cover a visible share of it)
    expected = {
        "overview": (plots.evidence_overview(demo), [plots.MILESTONE_COLOR]),
        "swimlane": (plots.swimlane_timeline(demo), [plots.SEVERITY_COLORS["critical"], plots.DEPLOY_COLOR]),
        "metrics": (plots.metric_panels(demo), [plots.SEVERITY_COLORS["critical"]]),
        "errors": (plots.error_rate_by_service(demo), [plots.SEVERITY_COLORS["critical"]]),
    }
    for name, (fig, colours) in expected.items():
        out = tmp_path / f"{name}.png"
        fig.savefig(out, dpi=80)
        image = mpimg.imread(out)
        width, height = fig.get_size_inches() * 80
        assert image.shape[:2] == (round(height), round(width)), name
        assert 0.3 < _share_of(image, "#ffffff") < 0.995, f"{name}: blank or solid"
        for colour in colours:
            assert _share_of(image, colour) > 0.0005, f"{name}: nothing drawn in {colour}"


def test_evidence_overview_still_draws_lanes_and_commits(demo: EvidenceBundle) -> None:
    ax = plots.evidence_overview(demo).axes[0]
    assert "execution-engine" in [t.get_text() for t in ax.get_yticklabels()]
    assert {line.get_label() for line in ax.lines} >= {"commit", "triggered", "resolved"}


def test_the_bundle_timeline_is_what_the_swimlane_draws(demo: EvidenceBundle) -> None:
    tl = ef.timeline(demo)
    ax = plots.swimlane_timeline(tl).axes[0]
    drawn = sum(len(c.get_offsets()) for c in by_gid(ax.collections, "kind:"))
    people = tl["kind"].isin(["incident_triggered", "acknowledged", "responded", "status_update", "resolved"])
    assert drawn == int((~people).sum())
