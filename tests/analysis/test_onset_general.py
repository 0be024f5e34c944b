"""First symptoms that must be found on shapes nobody tuned for: a working set creeping out
of its band (a leak, long before any threshold), and a warning the service never said before."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eafix_forensics.analysis.logs import log_events
from eafix_forensics.analysis.metrics import breaches
from eafix_forensics.analysis.timeline import first_symptom
from eafix_forensics.model import tables as schemas
from eafix_forensics.model.catalogue import catalogue

T0 = pd.Timestamp("2026-03-12T10:00:00Z")
LABEL = "container_label_com_docker_compose_service"


def memory(mb: np.ndarray, service: str = "indicator-engine", start: pd.Timestamp = T0) -> pd.DataFrame:
    """container_memory samples every 30 s (bytes), one series."""
    n = len(mb)
    return pd.DataFrame({
        "timestamp": [start + pd.Timedelta(seconds=30 * i) for i in range(n)],
        "query": ["mem"] * n, "series": [f'{{{LABEL}="{service}"}}'] * n, "value": mb * 1e6,
        "name": ["container_memory"] * n, LABEL: [service] * n,
    })


def test_a_working_set_creeping_out_of_its_band_is_a_breach_from_where_it_left_it() -> None:
    rng = np.random.default_rng(7)
    base = 260 + rng.random(2000) * 5  # a week of a flat ~260-265 MB
    past = memory(base, start=T0 - pd.Timedelta(days=7))
    flat = 260 + rng.random(240) * 5  # two hours in the window
    leak = flat.copy()
    leak[86:180] += 9 * np.arange(1, 95)  # +18 MB/min from 10:43:00 (sample 86) until a restart at 11:30
    found = breaches(memory(leak), catalogue(), baseline=past)
    creep = found[found["rule"] == "creep"]
    assert len(creep) == 1
    row = creep.iloc[0]
    assert row["service"] == "indicator-engine" and row["severity"] == "warning"
    assert T0 + pd.Timedelta(minutes=43) <= row["start"] <= T0 + pd.Timedelta(minutes=43, seconds=30)
    assert row["end"] == T0 + pd.Timedelta(minutes=90) and "creeping out of its baseline band" in row["summary"]
    # The same series flat, or stepping up once and staying there (a bigger cache), is no creep.
    assert breaches(memory(flat), catalogue(), baseline=past).empty
    step = flat.copy()
    step[86:] += 40
    assert breaches(memory(step), catalogue(), baseline=past).empty


def logs(rows: list[tuple[float, str, str, str]]) -> pd.DataFrame:
    """LOGS rows: (minutes after T0, service, level, message)."""
    return schemas.conform([
        {"timestamp": T0 + pd.Timedelta(minutes=m), "service": s, "replica": 1, "level": lv, "message": msg,
         "source": "compose.log", "line": i + 1} for i, (m, s, lv, msg) in enumerate(rows)
    ], "logs")


def test_a_warning_never_said_before_and_said_again_and_again_is_the_first_symptom() -> None:
    chatter = [(m * 0.33, "signal-generator", "WARNING", f"spread filter: USDJPY bar skipped (spread 2.{m % 9} pips)")
               for m in range(360)]  # all two hours, every 20 s
    heartbeats = [(m, svc, "INFO", "heartbeat ok") for m in range(120) for svc in ("gui-gateway", "risk-manager")]
    sporadic = [(m, "risk-manager", "WARNING", f"exposure near soft limit for account 21 ({m}%)") for m in (3, 50, 97)]
    new = [(42.5 + 3 * k, "gui-gateway", "WARNING", "i18n: missing key 'pnl.currency_symbol'; rendering the raw key")
           for k in range(22)]
    ev = log_events(logs(chatter + heartbeats + sporadic + new))
    warned = ev[ev["kind"] == "new_warning"]
    assert list(warned["service"]) == ["gui-gateway"]
    first = first_symptom(ev)
    assert first is not None and first["kind"] == "new_warning" and first["service"] == "gui-gateway"
    assert first["timestamp"] == T0 + pd.Timedelta(minutes=42.5)
    assert "new warning in gui-gateway (22 in the logs, never before 10:42:30)" in first["summary"]
    # Said only a few times, it is not one.
    assert "new_warning" not in set(log_events(logs(chatter + heartbeats + new[:4]))["kind"])


def test_json_lines_are_told_apart_by_what_they_say() -> None:
    # A JSON logger's lines share their layout ({"ts": …, "level": …, "msg": …}); two rare warnings
    # first seen late are not one signature repeated 12 times.
    def line(m: float, msg: str) -> tuple[float, str, str, str]:
        return (m, "signal-generator", "WARNING", f'{{"ts": "2026-03-12T10:{int(m):02d}:00Z", "level": "warn", "msg": "{msg}"}}')

    rows = [(m, "signal-generator", "INFO", "heartbeat ok") for m in range(120)]
    rows += [line(20 + 8 * k, "strategy rsi-v3 skipped bar: spread too wide") for k in range(6)]
    rows += [line(24 + 8 * k, "model warm-up incomplete for USDJPY") for k in range(6)]
    assert "new_warning" not in set(log_events(logs(rows))["kind"])
    rows += [line(70 + k, "tick-to-signal 9.1 s exceeds budget 5 s") for k in range(12)]
    warned = log_events(logs(rows)).query("kind == 'new_warning'")
    assert len(warned) == 1 and "exceeds budget" in warned.iloc[0]["summary"]
