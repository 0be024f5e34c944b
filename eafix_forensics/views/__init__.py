"""What the report notebooks display: one call per cell, one readable object back.

Each function takes a bundle (or the bundle's :class:`~eafix_forensics.analysis.verdict.Verdict`)
and returns a :class:`~eafix_forensics.render.Table` (a table for people: no
index, units and "UTC" in the headers, nothing cut), a
:class:`~eafix_forensics.render.Block` or a ``Markdown`` block. Views only
arrange and format what ``analysis/`` computes; they read no source and decide nothing.

The views live in one module per report: ``evidence`` (the investigation report's sections),
``card`` (its triage card), ``review`` (the post-incident review) and ``trends`` (the trends
page); the notebooks call them all as ``views.<name>``.
"""

from __future__ import annotations

from ..render import duration
from .card import decide, triage_card
from .evidence import (
    breaches,
    connections,
    error_bursts,
    error_signatures,
    failed_executions,
    headline,
    health,
    impact,
    key_times,
    lock_waits,
    missing,
    open_positions,
    reconciliation,
    seen_before,
    severity,
    sources,
    suspects,
    timeline_table,
    top_statements,
)
from .review import (
    action_items,
    detection,
    impact_numbers,
    lessons_learned,
    resolution,
    response_evaluation,
    review_summary,
    root_cause,
    sla,
)
from .trends import similar_to, table

__all__ = [
    "action_items",
    "breaches",
    "connections",
    "decide",
    "detection",
    "duration",
    "error_bursts",
    "error_signatures",
    "failed_executions",
    "headline",
    "health",
    "impact",
    "impact_numbers",
    "key_times",
    "lessons_learned",
    "lock_waits",
    "missing",
    "open_positions",
    "reconciliation",
    "resolution",
    "response_evaluation",
    "review_summary",
    "root_cause",
    "seen_before",
    "severity",
    "similar_to",
    "sla",
    "sources",
    "suspects",
    "table",
    "timeline_table",
    "top_statements",
    "triage_card",
]
