"""A series creeping out of its baseline band (a leak): catalogue entries marked ``creep``.

A working set that grows while something leaks has no fixed threshold: what it does is
leave the band it lived in and keep climbing. :func:`creep_breaches` finds the runs where
a ``creep`` series stays above its band (its baseline's p1-p99 range, padded by half its
width) for at least :data:`CREEP_MIN` while rising by several band widths; the breach starts
at the first sample out of the band — the first symptom of a gradual onset, long before
any alert threshold would be crossed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model.catalogue import QueryEntry

__all__ = ["CREEP_MIN", "CREEP_RISE", "creep_breaches"]

#: A creep lasts at least this long out of the band.
CREEP_MIN = pd.Timedelta(minutes=10)
#: ... and rises by at least this many band widths between its first and last quarter.
CREEP_RISE = 3.0
_MIN_REFERENCE = 10


def creep_breaches(
    entry: QueryEntry, series: str, frame: pd.DataFrame, base: np.ndarray | None, service: str,
) -> list[dict[str, Any]]:
    """Breach rows (metrics.BREACH_COLUMNS) of one ``creep`` series sorted by time; the band is
    ``base`` (the series' baseline values), else its first third in the window."""
    ts = frame["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    values = frame["value"].to_numpy(dtype=np.float64)
    ref = base if base is not None and len(base) >= _MIN_REFERENCE else values[: len(values) // 3]
    ref = ref[np.isfinite(ref)]
    if len(ref) < _MIN_REFERENCE or len(values) < 2:
        return []
    lo, hi = (float(x) for x in np.quantile(ref, [0.01, 0.99]))
    width = max(hi - lo, abs(hi) * 0.01, 1e-12)
    upper = hi + width / 2
    out_of_band = np.isfinite(values) & (values > upper)
    step = int(np.median(np.diff(ts)))
    rows: list[dict[str, Any]] = []
    edges = np.diff(np.concatenate(([0], out_of_band.astype(np.int8), [0])))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if ts[b - 1] - ts[a] < CREEP_MIN.value or b - a < 4:
            continue
        seg = values[a:b]
        q = max(1, len(seg) // 4)
        if float(np.median(seg[-q:]) - np.median(seg[:q])) < CREEP_RISE * width:
            continue  # a step up that stays flat is not a creep
        j = int(np.argmax(seg))
        ongoing = b == len(values)
        rows.append({
            "start": pd.Timestamp(ts[a], tz="UTC"),
            "end": pd.Timestamp(ts[b] if not ongoing else ts[b - 1] + step, tz="UTC"),
            "peak": float(seg[j]), "rule": "creep", "service": service, "severity": "warning",
            "name": entry.name, "series": series, "op": ">", "threshold": upper,
            "peak_at": pd.Timestamp(ts[a + j], tz="UTC"), "samples": int(b - a), "ongoing": ongoing,
            "summary": f"{entry.name} creeping out of its baseline band (above {upper:.4g}, from {hi:.4g}) "
                       f"and still rising",
            "chronic": False, "baseline_share": np.nan, "onset": pd.Timestamp(ts[a], tz="UTC"),
        })
    return rows
