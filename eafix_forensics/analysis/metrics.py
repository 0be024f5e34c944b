"""Pure analysis of METRICS: threshold breaches, baseline shift, timeline events.

Nothing here talks to Prometheus; the rules come from the query catalogue
(:func:`eafix_forensics.sources.prometheus.catalogue`), which is plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..bundle import EvidenceBundle, bundle_config
from ..config import Config
from ..errors import ForensicsError
from ..model import tables
from ..model.catalogue import QueryEntry, Rule, catalogue
from ..window import TimeWindow

__all__ = ["BREACH_COLUMNS", "SHIFT_COLUMNS", "baseline_shift", "breaches", "bundle_events", "metric_events"]

SOURCE = "prometheus"
BREACH_COLUMNS: dict[str, str] = {
    "start": "datetime64[ns, UTC]",
    "end": "datetime64[ns, UTC]",
    "peak": "float64",
    "rule": "str",
    "service": "str",
    "severity": "str",
    "name": "str",
    "series": "str",
    "op": "str",
    "threshold": "float64",
    "peak_at": "datetime64[ns, UTC]",
    "samples": "Int64",
    "ongoing": "boolean",
    "summary": "str",
}
SHIFT_COLUMNS: dict[str, str] = {
    "name": "str",
    "series": "str",
    "service": "str",
    "baseline_median": "float64",
    "incident_median": "float64",
    "change": "float64",
    "ratio": "float64",
    "robust_z": "float64",
    "baseline_samples": "Int64",
    "incident_samples": "Int64",
}
# A gap longer than this many typical steps ends a breach (the series was absent).
_GAP_STEPS = 2.0

RulesArg = Mapping[str, QueryEntry] | Mapping[str, Sequence[Rule]] | Iterable[QueryEntry] | None


def _typed(rows: list[dict[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    str_dtype = tables.empty("timeline")["source"].dtype
    data = {}
    for col, t in columns.items():
        values = [r.get(col) for r in rows]
        if t == "str":
            data[col] = pd.Series(values, dtype=object).astype(str_dtype)
        elif t.startswith("datetime64"):
            data[col] = pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True)).astype(t)
        else:
            data[col] = pd.Series(values, dtype=object).astype(t) if rows else pd.Series([], dtype=t)
    return pd.DataFrame(data)


def _entries(rules: RulesArg) -> list[QueryEntry]:
    if rules is None:
        return list(catalogue().values())
    if isinstance(rules, Mapping):
        out = []
        for key, value in rules.items():
            if isinstance(value, QueryEntry):
                out.append(value)
            else:
                out.append(QueryEntry(name=str(key), query="", rules=tuple(value)))
        return out
    return list(rules)


def _service(frame: pd.DataFrame, labels: Sequence[str]) -> str:
    for label in (*labels, "service", "job"):
        for col in (label, f"label_{label}"):
            if col in frame.columns:
                v = frame[col].iloc[0]
                if isinstance(v, str) and v:
                    return v
    return ""


def _groups(metrics: pd.DataFrame, entries: Sequence[QueryEntry]) -> Iterable[tuple[QueryEntry, str, pd.DataFrame]]:
    """(entry, series, rows sorted by time) for every series an entry with rules covers."""
    if metrics.empty:
        return
    by_name = {e.name: e for e in entries if e.rules}
    by_query = {e.query: e for e in entries if e.rules and e.query}
    key = "name" if "name" in metrics.columns else "query"
    for (k, series), rows in metrics.groupby([key, "series"], sort=True, dropna=True):
        entry = by_name.get(str(k)) if key == "name" else by_query.get(str(k))
        if entry is None and key == "name" and "query" in rows.columns:
            entry = by_query.get(str(rows["query"].iloc[0]))
        if entry is None:
            continue
        yield entry, str(series), rows.sort_values("timestamp", kind="stable")


def breaches(metrics: pd.DataFrame, rules: RulesArg = None) -> pd.DataFrame:
    """Intervals where a series met a breach rule, one row per interval.

    Each sample gets the state of the first rule of its catalogue entry that it
    meets (so "degraded" means above normal but not critical). A run of
    consecutive samples in one state is an interval: ``start`` is its first
    sample, ``end`` the first sample after it (half-open, like TimeWindow);
    when the run reaches the last sample or a gap, ``end`` is its last sample
    plus one step and ``ongoing`` says whether it reached the last sample.

    Rows are matched to entries by the ``name`` column (catalogue entry name),
    else by ``query``. ``rules`` defaults to the shipped catalogue.

    Columns: start, end, peak (max for > / >=, min for < / <=), rule (the
    state, e.g. critical, degraded, down, feed_interruption), service,
    severity (critical|warning), name, series, op, threshold, peak_at,
    samples, ongoing, summary. Sorted by start.
    """
    rows: list[dict[str, Any]] = []
    for entry, series, frame in _groups(metrics, _entries(rules)):
        ts = frame["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        values = frame["value"].to_numpy(dtype=np.float64)
        n = len(values)
        if n == 0:
            continue
        state = np.full(n, -1, dtype=np.int64)
        for i in range(len(entry.rules) - 1, -1, -1):
            state[entry.rules[i].matches(values)] = i
        diffs = np.diff(ts)
        step = int(np.median(diffs)) if len(diffs) else 0
        gap = (diffs > _GAP_STEPS * step) if step else np.zeros(len(diffs), dtype=bool)
        # A run breaks where the state changes or the series has a gap.
        breaks = np.flatnonzero((state[1:] != state[:-1]) | gap) + 1
        starts = np.concatenate(([0], breaks))
        ends = np.concatenate((breaks, [n]))
        service = _service(frame, entry.service_labels)
        for a, b in zip(starts, ends, strict=True):
            s = int(state[a])
            if s < 0:
                continue
            rule = entry.rules[s]
            seg = values[a:b]
            j = int(np.argmin(seg)) if rule.op in ("<", "<=") else int(np.argmax(seg))
            if b < n and not gap[b - 1]:
                end, ongoing = ts[b], False
            else:
                end, ongoing = ts[b - 1] + step, b == n
            rows.append(
                {
                    "start": pd.Timestamp(ts[a], tz="UTC"),
                    "end": pd.Timestamp(end, tz="UTC"),
                    "peak": float(seg[j]),
                    "rule": rule.state,
                    "service": service,
                    "severity": rule.severity,
                    "name": entry.name,
                    "series": series,
                    "op": rule.op,
                    "threshold": rule.threshold,
                    "peak_at": pd.Timestamp(ts[a + j], tz="UTC"),
                    "samples": b - a,
                    "ongoing": ongoing,
                    "summary": rule.summary or f"{entry.name} {rule.op} {rule.threshold:g}",
                }
            )
    out = _typed(rows, BREACH_COLUMNS)
    return out.sort_values(["start", "name", "series"], kind="stable", ignore_index=True)


def baseline_shift(
    metrics: pd.DataFrame, window: TimeWindow, *, baseline: pd.DataFrame | None = None
) -> pd.DataFrame:
    """How each series in ``window`` differs from the same span just before it.

    The baseline is ``window.before()`` (same length, ending at the window
    start), taken from ``baseline`` when given, else from ``metrics``. The
    statistic is robust to the spikes an incident brings: medians, and a
    robust z-score ``(incident_median - baseline_median) / (1.4826 * MAD)``
    where MAD is the baseline's median absolute deviation (1.4826 scales it to
    a standard deviation for normal data). A flat baseline (MAD 0) gives
    z = 0 without change and ±inf with one. NaN/±Inf samples are ignored.

    Columns: name, series, service, baseline_median, incident_median, change
    (incident - baseline), ratio (incident / baseline; NaN when the baseline
    median is 0), robust_z, baseline_samples, incident_samples. One row per
    series seen in either span, largest |robust_z| first.
    """
    before = window.before()
    base_src = baseline if baseline is not None else metrics
    key = "name" if "name" in metrics.columns else "query"

    def finite(frame: pd.DataFrame, w: TimeWindow) -> pd.DataFrame:
        if frame.empty:
            return frame
        f = frame[w.mask(frame["timestamp"])]
        return f[np.isfinite(f["value"].to_numpy(dtype=np.float64))]

    inc = finite(metrics, window)
    base = finite(base_src, before)
    if key not in base.columns and not base.empty:
        key = "query"
    rows: list[dict[str, Any]] = []
    keys: set[tuple[str, str]] = set()
    for f in (inc, base):
        if not f.empty:
            keys.update((str(a), str(b)) for a, b in f[[key, "series"]].drop_duplicates().itertuples(index=False))
    inc_groups = {(str(a), str(b)): g for (a, b), g in inc.groupby([key, "series"])} if not inc.empty else {}
    base_groups = {(str(a), str(b)): g for (a, b), g in base.groupby([key, "series"])} if not base.empty else {}
    for k in sorted(keys):
        gi = inc_groups.get(k)
        gb = base_groups.get(k)
        iv = gi["value"].to_numpy(dtype=np.float64) if gi is not None else np.empty(0)
        bv = gb["value"].to_numpy(dtype=np.float64) if gb is not None else np.empty(0)
        im = float(np.median(iv)) if len(iv) else np.nan
        bm = float(np.median(bv)) if len(bv) else np.nan
        change = im - bm
        mad = float(np.median(np.abs(bv - bm))) if len(bv) else np.nan
        if np.isnan(change) or np.isnan(mad):
            z = np.nan
        elif mad == 0:
            z = 0.0 if change == 0 else float(np.sign(change) * np.inf)
        else:
            z = change / (1.4826 * mad)
        frame = gi if gi is not None else gb
        rows.append(
            {
                "name": k[0],
                "series": k[1],
                "service": _service(frame, ("service", "job")) if frame is not None else "",
                "baseline_median": bm,
                "incident_median": im,
                "change": change,
                "ratio": im / bm if bm not in (0.0,) and not np.isnan(bm) else np.nan,
                "robust_z": z,
                "baseline_samples": len(bv),
                "incident_samples": len(iv),
            }
        )
    out = _typed(rows, SHIFT_COLUMNS)
    if out.empty:
        return out
    order = out["robust_z"].abs().fillna(-1).sort_values(ascending=False, kind="stable").index
    return out.loc[order].reset_index(drop=True)


def _fmt(value: float) -> str:
    return f"{value:.3g}" if np.isfinite(value) else str(value)


def metric_events(metrics: pd.DataFrame, rules: RulesArg = None) -> pd.DataFrame:
    """TIMELINE ``threshold_breach`` events, one per breach interval (at its start).

    severity is the rule's (critical|warning); summary reads e.g. "signal
    latency above the P1 threshold: signal_latency_p95 > 5 from 14:02 to 14:50
    (peak 7.1 at 14:25)"; ref is ``metrics:<name>:<series>``.
    """
    found = breaches(metrics, rules)
    if found.empty:
        return tables.empty("timeline")
    rows = []
    for b in found.itertuples(index=False):
        until = "ongoing" if b.ongoing else f"to {b.end:%H:%M:%S}"
        rows.append(
            {
                "timestamp": b.start,
                "source": SOURCE,
                "service": b.service or None,
                "kind": "threshold_breach",
                "severity": b.severity,
                "summary": (
                    f"{b.summary}: {b.name} {b.op} {_fmt(b.threshold)} from {b.start:%H:%M:%S} {until} "
                    f"(peak {_fmt(b.peak)} at {b.peak_at:%H:%M:%S})"
                ),
                "ref": f"metrics:{b.name}:{b.series}",
            }
        )
    return tables.conform(rows, "timeline")


def _bundle_entries(bundle: EvidenceBundle) -> dict[str, QueryEntry]:
    """The catalogue the bundle was collected with (its thresholds and overrides)."""
    try:
        return catalogue(bundle_config(bundle))
    except ForensicsError:
        # An older or hand-edited manifest: fall back to the shipped rules.
        return catalogue(Config())


def bundle_events(bundle: EvidenceBundle) -> pd.DataFrame:
    """TIMELINE events from the bundle's ``metrics`` table (empty TIMELINE when absent)."""
    metrics = bundle.table("metrics")
    if metrics.empty:
        return tables.empty("timeline")
    return metric_events(metrics, _bundle_entries(bundle))
