"""Market-hours questions are asked about the incident's time, never about when the
evidence was collected: one bundle graded with several collection times."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import eafix_forensics as ef
from eafix_forensics import views
from eafix_forensics.analysis.severity import severity_table
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.config import DEFAULT_SERVICES, Config
from eafix_forensics.model import tables as schemas
from eafix_forensics.window import TimeWindow

SERVICES = list(DEFAULT_SERVICES)
STEP = pd.Timedelta(seconds=30)


def _metrics(start: pd.Timestamp, end: pd.Timestamp, outage: tuple[pd.Timestamp, pd.Timestamp],
             prices_until: pd.Timestamp) -> pd.DataFrame:
    times = pd.date_range(start, end, freq=STEP, inclusive="left")
    frames = []
    for svc in SERVICES:
        down = (times >= outage[0]) & (times < outage[1])
        frames.append(pd.DataFrame({"timestamp": times, "query": "up", "series": f'{{service="{svc}"}}',
                                    "value": np.where(down, 0.0, 1.0), "name": "up", "service": svc}))
    # Price age: fresh (0.4 s) until the feed's last price, then the time since it.
    age = np.where(times < prices_until, 0.4, (times - prices_until).total_seconds())
    frames.append(pd.DataFrame({"timestamp": times, "query": "age", "series": '{service="data-ingestor"}',
                                "value": age, "name": "market_data_age", "service": "data-ingestor"}))
    return schemas.conform(pd.concat(frames, ignore_index=True), "metrics")


def _logs(at: pd.Timestamp) -> pd.DataFrame:
    rows = [{"timestamp": at + pd.Timedelta(seconds=2.911 + 1.3 * i), "service": svc, "replica": 1, "level": "ERROR",
             "message": "database connection failed: FATAL: sorry, too many clients already", "source": "c.txt",
             "line": i + 1} for i, svc in enumerate(SERVICES)]
    rows += [{"timestamp": at + pd.Timedelta(seconds=10 + 20 * k), "service": "execution-engine", "replica": 1,
              "level": "ERROR", "message": f"database connection failed (attempt {k})", "source": "c.txt",
              "line": 100 + k} for k in range(60)]
    return schemas.conform(rows, "logs")


def _health(at: pd.Timestamp) -> pd.DataFrame:
    return schemas.conform([{"checked_at": at, "service": s, "url": f"http://{s}/health", "status_code": 503,
                             "status": "down", "latency_ms": 3.0, "error": "HTTP 503"} for s in SERVICES], "health")


def incident(tmp: Path, day: str, collected: pd.Timestamp) -> EvidenceBundle:
    """Every service down 10:00-10:30 on ``day``, prices frozen since the last Friday
    close (or fresh, on a weekday), health checks made when the bundle is collected."""
    start, end = pd.Timestamp(f"{day}T09:00Z"), pd.Timestamp(f"{day}T11:00Z")
    outage = (pd.Timestamp(f"{day}T10:00Z"), pd.Timestamp(f"{day}T10:30Z"))
    friday = start.normalize() - pd.Timedelta(days=(start.weekday() - 4) % 7) + pd.Timedelta(hours=22)
    prices_until = friday if start.weekday() >= 5 else end
    evidence = [
        Evidence("metrics", _metrics(start, end, outage, prices_until), source="prometheus"),
        Evidence("logs", _logs(outage[0]), source="logs"),
        Evidence("health", _health(collected), source="services"),
    ]
    return EvidenceBundle.write(tmp, incident_id="INC-T", window=TimeWindow(start, end), evidence=evidence,
                                config=Config(), extra={"collected_at": collected.isoformat()})


def test_the_same_bundle_collected_on_another_day_grades_the_same(tmp_path: Path) -> None:
    saturday = "2026-11-21"
    collections = {
        "saturday, 5 min after the window": pd.Timestamp(f"{saturday}T11:05Z"),  # checks count: market closed
        "sunday noon (market closed)": pd.Timestamp("2026-11-22T12:00Z"),
        "monday morning (market open)": pd.Timestamp("2026-11-23T09:00Z"),
    }
    verdicts = {name: ef.verdict(incident(tmp_path / str(i), saturday, at))
                for i, (name, at) in enumerate(collections.items())}
    first = {name: (v.severity, v.first_symptom.timestamp, v.first_symptom.service) for name, v in verdicts.items()}
    assert len(set(first.values())) == 1, first
    severity, at, service = next(iter(first.values()))
    # A complete outage with the FX market closed is P2; the frozen prices are the closed market, not a symptom.
    assert severity == "P2" and service == "gui-gateway" and at == pd.Timestamp(f"{saturday}T10:00:02.911Z")
    table = severity_table(incident(tmp_path / "t", saturday, collections["monday morning (market open)"]))
    met = set(table.loc[table["met"], "rule"])
    assert "market_data_interruption" not in met and "complete_outage_in_market_hours" not in met
    assert "non_critical_service_down" in met
    # The same outage on a trading Tuesday is the P0 the runbook names: the market question is the incident's.
    tuesday = ef.verdict(incident(tmp_path / "tue", "2026-11-24", pd.Timestamp("2026-11-29T12:00Z")))
    assert tuesday.severity == "P0"


def test_a_check_made_just_after_the_window_is_asked_at_the_window_end(tmp_path: Path) -> None:
    # Friday: the window ends 21:55 with everything down; the checks run at 22:05, after the close.
    # They stand for the window's end (market open): the complete outage is P0.
    start, end = pd.Timestamp("2026-11-20T20:55Z"), pd.Timestamp("2026-11-20T21:55Z")
    evidence = [Evidence("health", _health(end + pd.Timedelta(minutes=10)), source="services")]
    bundle = EvidenceBundle.write(tmp_path / "fri", incident_id="INC-T", window=TimeWindow(start, end),
                                  evidence=evidence, config=Config(),
                                  extra={"collected_at": (end + pd.Timedelta(minutes=10)).isoformat()})
    level, reasons = ef.suggest_severity(bundle)
    assert level == "P0" and reasons[0].startswith("P0: complete outage during market hours: all 6 critical")
    assert any(r.startswith("P0: risk management failure") for r in reasons)


def test_the_triage_card_reads_the_same_whatever_day_the_bundle_was_collected(tmp_path: Path) -> None:
    """What the on-call engineer reads first (the card's severity, title and first symptom)
    does not move with the collection day."""
    def card(i: int, collected: str) -> tuple[str, str]:
        bundle = incident(tmp_path / f"c{i}", "2026-11-21", pd.Timestamp(collected))
        html = views.triage_card(ef.verdict(bundle), bundle)._repr_html_()
        title = re.search(r"<h2>(.*?)</h2>", html, re.DOTALL)
        first = re.search(r"First symptom [^<]*", html)
        assert title is not None and first is not None, html[:400]
        return title.group(1), first.group(0)

    saturday, monday = card(0, "2026-11-21T11:05Z"), card(1, "2026-11-23T09:00Z")
    assert saturday == monday
    assert '<span class="sev">P2</span>' in saturday[0] and "2026-11-21 10:00:02" in saturday[1]
