"""An incident's timeline for other tools: Timesketch JSONL, or CSV.

``eafix-forensics export INC-123 --format timesketch`` writes ``output/INC-123/timeline.jsonl``:
one JSON object per timeline event (:func:`~eafix_forensics.analysis.timeline.timeline`), with the
fields Timesketch's JSONL/CSV importer requires — ``message``, ``datetime`` (ISO 8601, UTC) and
``timestamp_desc`` — plus ``timestamp`` (microseconds since the epoch, which Timesketch would
otherwise derive), and ``source``, ``service``, ``severity``, ``kind``, ``ref`` (back into the
evidence) and ``incident_id`` as extra fields. ``--format csv`` writes the same columns as CSV
(``timeline.csv``, a header line first), which Timesketch imports too, as does any spreadsheet:
a text cell starting like a formula (``=``, ``+``, ``-``, ``@``) gets a leading ``'``, so evidence
such as a service named ``=HYPERLINK(...)`` is shown, never run.
The timeline comes from the bundle, which is redacted at collection.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis.timeline import timeline
from .bundle import EvidenceBundle, make_dirs, refuse_symlinks, write_new_file
from .errors import ConfigError

__all__ = ["EXPORT_FORMATS", "TIMESKETCH_REQUIRED", "export_timeline", "timesketch_events"]

EXPORT_FORMATS = {"timesketch": ".jsonl", "csv": ".csv"}
# Timesketch: "mandatory fields ... message, datetime (ISO 8601), timestamp_desc" for JSONL and CSV.
TIMESKETCH_REQUIRED = ("message", "datetime", "timestamp_desc")
COLUMNS = (*TIMESKETCH_REQUIRED, "timestamp", "source", "service", "severity", "kind", "ref", "incident_id")

# What the time of each kind of event is (Timesketch's timestamp_desc, e.g. "Time created").
_TIME_OF = {
    "first_error": "First error logged",
    "error_burst": "Error burst start",
    "new_warning": "New warning first logged",
    "threshold_breach": "Threshold breach start",
    "deploy": "Deploy time",
    "slow_query": "Slow query seen",
    "lock_wait": "Lock wait seen",
    "health_failed": "Health check failed",
    "incident_triggered": "Incident triggered",
    "acknowledged": "Incident acknowledged",
    "responded": "Responder engaged",
    "status_update": "Status update posted",
    "resolved": "Incident resolved",
    "restart": "Service (re)started",
    "mitigation": "Mitigation applied",
}


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...), DDE
# "=cmd|..."): OWASP's CSV-injection rule, a quote in front makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text starting like a formula gets a leading ``'``."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def timesketch_events(bundle: EvidenceBundle) -> pd.DataFrame:
    """The bundle's timeline as Timesketch events: one row per timeline event, :data:`COLUMNS`."""
    t = timeline(bundle)
    stamps = pd.to_datetime(t["timestamp"], utc=True)
    if stamps.isna().any():
        raise ConfigError(f"{bundle.path}: {int(stamps.isna().sum())} timeline event(s) without a time")
    services = t["service"].map(_text)
    summaries = t["summary"].map(lambda s: _text(s) or "")
    out = pd.DataFrame({
        "message": [f"[{svc}] {s}" if svc and not s.startswith(f"[{svc}]") else s
                    for svc, s in zip(services, summaries, strict=True)],
        "datetime": [ts.isoformat(timespec="microseconds") for ts in stamps],
        "timestamp_desc": t["kind"].map(lambda k: _TIME_OF.get(str(k), str(k).replace("_", " ").capitalize())),
        "timestamp": (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1),
        "source": t["source"].map(_text),
        "service": services,
        "severity": t["severity"].map(_text),
        "kind": t["kind"].map(_text),
        "ref": t["ref"].map(_text),
        "incident_id": bundle.incident_id,
    }, columns=list(COLUMNS))
    return out.astype(object).where(out.notna(), None)


def export_timeline(
    bundle: EvidenceBundle, fmt: str = "timesketch", output: str | os.PathLike[str] | None = None
) -> tuple[Path, int]:
    """Write the timeline as ``fmt`` (timesketch or csv) to ``output`` (default: beside the
    bundle, ``INCIDENT/timeline.jsonl`` or ``.csv``); returns the path and the number of events."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"export format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}")
    path = Path(output) if output else bundle.path.parent / f"timeline{EXPORT_FORMATS[fmt]}"
    events = timesketch_events(bundle)
    make_dirs(path.parent)
    refuse_symlinks(path)
    if fmt == "timesketch":
        lines = [json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False)
                 for row in events.itertuples(index=False, name=None)]
        data = "".join(line + "\n" for line in lines).encode("utf-8")
    else:
        data = events.map(_cell).to_csv(index=False, lineterminator="\n").encode("utf-8")
    write_new_file(path, data)
    return path, len(events)
