"""The embedded sample incident INC-DEMO and its past incidents; only the CLI imports this.

:mod:`.sample` builds INC-DEMO's evidence through the real source parsers;
:mod:`.history` writes five earlier incidents and indexes them, so "seen
before" and the trends report have something to show. Production code never
names INC-DEMO: the CLI hands :data:`EMBEDDED_INCIDENTS` to the incident source.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..report import run_reports
from .history import PAST_INCIDENTS, build_demo_history, index_demo_history
from .sample import (
    DEMO_ID,
    DEMO_INCIDENT_TOML,
    DEMO_WINDOW,
    T,
    build_demo,
    demo_evidence,
    demo_log_records,
)

__all__ = [
    "DEMO_ID",
    "DEMO_INCIDENT_TOML",
    "DEMO_WINDOW",
    "EMBEDDED_INCIDENTS",
    "PAST_INCIDENTS",
    "T",
    "build_demo",
    "build_demo_history",
    "demo_evidence",
    "demo_log_records",
    "index_demo_history",
    "run_demo",
]

# incident id -> TOML record: INC-DEMO's record works before any bundle or file exists
EMBEDDED_INCIDENTS = {DEMO_ID: DEMO_INCIDENT_TOML}


def run_demo(output_dir: str | Path = "output", *, kinds: Sequence[str] = ("investigation",)) -> list[Path]:
    """Build INC-DEMO and render its reports; returns the HTML paths."""
    bundle = build_demo(output_dir)
    # Past incidents in the library, so "seen before" and the trends report show something real.
    index_demo_history(output_dir)
    return run_reports(DEMO_ID, kinds=kinds, output_dir=output_dir, bundle_path=bundle.path)
