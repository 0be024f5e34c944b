"""Pure analysis of METRICS: threshold breaches, baseline shift, timeline events.

Nothing here talks to Prometheus; the rules come from the query catalogue
(:func:`eafix_forensics.sources.prometheus.catalogue`), which is plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from typing import Any

import numpy as np
import pandas as pd

from ..bundle import EvidenceBundle, bundle_config
from ..config import Config
from ..errors import ForensicsError
from ..model import tables
from ..model.catalogue import QueryEntry, Rule, catalogue
from ..window import TimeWindow
from .calendar import TradingCalendar
from .creep import creep_breaches

__all__ = [
    "BREACH_COLUMNS", "SHIFT_COLUMNS", "baseline_shift", "breaches", "bundle_calendar", "bundle_events", "metric_events",
]

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
    "chronic": "boolean",
    "baseline_share": "float64",
    "onset": "datetime64[ns, UTC]",
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
#: A baseline needs this many finite samples of a series to judge it by.
BASELINE_MIN_SAMPLES = 10
#: A state held in at least this share of the baseline's samples is chronic.
CHRONIC_SHARE = 0.5
#: A run no longer than this many times the baseline's longest run of the same state
#: (and no higher than the baseline's own peak) is the series' usual noise.
NOISE_RUN_FACTOR = 1.5
DEFAULT_MARGIN = 1.25

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


def shared_jobs(metrics: pd.DataFrame) -> frozenset[str]:
    """``job`` values scraping several instances: such a job names a group, not a service."""
    if metrics is None or metrics.empty or "job" not in metrics.columns or "instance" not in metrics.columns:
        return frozenset()
    pairs = metrics[["job", "instance"]].dropna().drop_duplicates()
    counts = pairs.groupby("job")["instance"].nunique()
    return frozenset(str(j) for j, n in counts.items() if n > 1 and str(j))


def series_service(frame: pd.DataFrame, labels: Sequence[str], *, shared: frozenset[str] = frozenset()) -> str:
    """The service a series belongs to: the first non-empty of its ``labels``, then
    ``service``, ``job`` (unless it is one of the ``shared`` jobs scraping several
    instances), ``instance`` (without its port)."""
    for label in (*labels, "service", "job", "instance"):
        for col in (label, f"label_{label}"):
            if col in frame.columns:
                v = frame[col].iloc[0]
                if label == "job" and v in shared:
                    continue
                if isinstance(v, str) and v:
                    return v.rsplit(":", 1)[0] if label == "instance" and ":" in v else v
    return ""


def _groups(metrics: pd.DataFrame, entries: Sequence[QueryEntry]) -> Iterable[tuple[QueryEntry, str, pd.DataFrame]]:
    """(entry, series, rows sorted by time) for every series an entry with rules covers."""
    if metrics.empty:
        return
    by_name = {e.name: e for e in entries if e.rules or e.creep}
    by_query = {e.query: e for e in entries if (e.rules or e.creep) and e.query}
    key = "name" if "name" in metrics.columns else "query"
    for (k, series), rows in metrics.groupby([key, "series"], sort=True, dropna=True):
        entry = by_name.get(str(k)) if key == "name" else by_query.get(str(k))
        if entry is None and key == "name" and "query" in rows.columns:
            entry = by_query.get(str(rows["query"].iloc[0]))
        if entry is None:
            continue
        yield entry, str(series), rows.sort_values("timestamp", kind="stable")


def _longest_run(flags: np.ndarray) -> int:
    best = cur = 0
    for f in flags.tolist():
        cur = cur + 1 if f else 0
        best = max(best, cur)
    return best


@dataclass(frozen=True)
class _Baseline:
    """One series' baseline as the rules see it: per rule, the share of samples in that
    state, its longest run, and the peak inside that state."""

    share: tuple[float, ...]
    longest: tuple[int, ...]
    peak: tuple[float, ...]


def _adapt(rules: Sequence[Rule], base: np.ndarray | None, margin: float) -> tuple[Rule, ...]:
    """The rules with "above normal" (warning, > or >=) thresholds raised to the
    baseline's p99 times ``margin`` — the catalogue number stays the floor."""
    if base is None:
        return tuple(rules)
    q99 = float(np.nanquantile(base, 0.99))
    out = []
    for r in rules:
        if r.severity == "warning" and r.op in (">", ">=") and np.isfinite(q99) and q99 * margin > r.threshold:
            r = dc_replace(r, threshold=q99 * margin)
        out.append(r)
    return tuple(out)


def _states(rules: Sequence[Rule], values: np.ndarray) -> np.ndarray:
    state = np.full(len(values), -1, dtype=np.int64)
    for i in range(len(rules) - 1, -1, -1):
        state[rules[i].matches(values)] = i
    return state


def _judge_baseline(rules: Sequence[Rule], base: np.ndarray) -> _Baseline:
    state = _states(rules, base)
    share, longest, peak = [], [], []
    for i, r in enumerate(rules):
        hit = state == i
        share.append(float(hit.mean()) if len(hit) else 0.0)
        longest.append(_longest_run(hit))
        vals = base[hit]
        peak.append(float(np.nanmin(vals) if r.op in ("<", "<=") else np.nanmax(vals)) if len(vals) else np.nan)
    return _Baseline(tuple(share), tuple(longest), tuple(peak))


def _market_baseline(
    baseline: pd.DataFrame | None, entries: Sequence[QueryEntry], calendar: TradingCalendar | None,
) -> pd.DataFrame | None:
    """``baseline`` without the samples of market-hours entries taken while they are not judged."""
    if baseline is None or baseline.empty or calendar is None:
        return baseline
    key = "name" if "name" in baseline.columns else "query"
    market = {e.name if key == "name" else e.query for e in entries if e.market_hours}
    rows = baseline[key].isin(market).to_numpy(dtype=bool) if market and key in baseline.columns else None
    if rows is None or not rows.any():
        return baseline
    drop = np.zeros(len(baseline), dtype=bool)
    drop[rows] = ~calendar.open_mask(baseline.loc[rows, "timestamp"], after_open=calendar.open_grace)
    return baseline[~drop]


def _baseline_values(baseline: pd.DataFrame | None) -> dict[tuple[str, str], np.ndarray]:
    """(catalogue name or query, series) -> the baseline's finite values."""
    if baseline is None or baseline.empty or "series" not in baseline.columns:
        return {}
    key = "name" if "name" in baseline.columns else "query"
    out: dict[tuple[str, str], np.ndarray] = {}
    for (k, series), rows in baseline.groupby([key, "series"], sort=False, dropna=True):
        v = rows["value"].to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v) >= BASELINE_MIN_SAMPLES:
            out[(str(k), str(series))] = v
    return out


def _onset(
    values: np.ndarray, state: np.ndarray, gap: np.ndarray, a: int, base: np.ndarray | None, op: str, margin: float,
    closed: np.ndarray | None = None,
) -> int:
    """The sample where a run starting at ``a`` really began: walking back while the series
    is already off its normal (above the reference's p99 times ``margin`` for ``>`` rules,
    the reference being the baseline, else the window's samples before the run). The walk
    stops at a run of another rule (a "degraded" run before a "critical" one is its own event)
    and at a sample that is not judged (``closed``: the market was closed)."""
    if op not in (">", ">="):
        return a
    ref = base if base is not None else values[:a][np.isfinite(values[:a])]
    if ref is None or len(ref) < BASELINE_MIN_SAMPLES:
        return a
    upper = float(np.nanquantile(ref, 0.99)) * margin
    if not np.isfinite(upper):
        return a
    k = a
    while (k > 0 and state[k - 1] < 0 and not gap[k - 1] and np.isfinite(values[k - 1]) and values[k - 1] > upper
           and (closed is None or not closed[k - 1])):
        k -= 1
    return k


def _age_onset(ts_ns: int, value: float, floor_ns: int | None) -> int | None:
    """When an age series' X last happened, from one breaching sample: its time minus its
    value (60.3 s at 08:13:00 -> 08:11:59.7), never before ``floor_ns`` (when the series
    started being judged: the open plus its grace)."""
    if not np.isfinite(value) or value < 0:
        return None
    at = ts_ns - round(value * 1e9)
    return max(at, floor_ns) if floor_ns is not None else at


def _closed(entry: QueryEntry, times: pd.Series, calendar: TradingCalendar | None) -> np.ndarray | None:
    """Samples of a market-hours entry taken while it is not judged (market closed, or
    within ``open_grace`` of the open); None for the other entries."""
    if calendar is None or not entry.market_hours:
        return None
    return ~calendar.open_mask(times, after_open=calendar.open_grace)


def _series_breaches(
    entry: QueryEntry, series: str, frame: pd.DataFrame, base: np.ndarray | None, margin: float,
    shared: frozenset[str], calendar: TradingCalendar | None = None,
) -> list[dict[str, Any]]:
    """The breach rows of one series (rows sorted by time), judged against ``base``; a
    market-hours entry only where ``calendar`` has the market open (after its grace)."""
    rows: list[dict[str, Any]] = []
    ts = frame["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    values = frame["value"].to_numpy(dtype=np.float64)
    n = len(values)
    if n == 0:
        return rows
    entry_rules = _adapt(entry.rules, base, margin)
    judged = _judge_baseline(entry_rules, base) if base is not None else None
    state = _states(entry_rules, values)
    closed = _closed(entry, frame["timestamp"], calendar)
    if closed is not None:
        state[closed] = -1  # a closed market is no evidence either way
    diffs = np.diff(ts)
    step = int(np.median(diffs)) if len(diffs) else 0
    gap = (diffs > _GAP_STEPS * step) if step else np.zeros(len(diffs), dtype=bool)
    # A run breaks where the state changes or the series has a gap.
    breaks = np.flatnonzero((state[1:] != state[:-1]) | gap) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [n]))
    service = series_service(frame, entry.service_labels, shared=shared)
    for a, b in zip(starts, ends, strict=True):
        s = int(state[a])
        if s < 0:
            continue
        rule = entry_rules[s]
        onset_ns = int(ts[_onset(values, state, gap, a, base, rule.op, margin, closed)])
        if entry.age and rule.op in (">", ">="):
            opened = calendar.opened_at(pd.Timestamp(ts[a], tz="UTC")) if closed is not None and calendar else None
            floor = int((opened + calendar.open_grace).value) if opened is not None and calendar else None
            last_fresh = _age_onset(int(ts[a]), float(values[a]), floor)
            onset_ns = min(onset_ns, last_fresh) if last_fresh is not None else onset_ns
        seg = values[a:b]
        low = rule.op in ("<", "<=")
        j = int(np.argmin(seg)) if low else int(np.argmax(seg))
        if b < n and not gap[b - 1]:
            end, ongoing = ts[b], False
        else:
            end, ongoing = ts[b - 1] + step, b == n
        chronic, share = False, np.nan
        if judged is not None:
            share = judged.share[s]
            peak = judged.peak[s]
            usual = (judged.longest[s] * NOISE_RUN_FACTOR >= (b - a) and np.isfinite(peak)
                     and (seg[j] >= peak / margin if low else seg[j] <= peak * margin))
            chronic = share >= CHRONIC_SHARE or (judged.longest[s] > 0 and bool(usual))
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
                "chronic": chronic,
                "baseline_share": share,
                "onset": pd.Timestamp(onset_ns, tz="UTC"),
            }
        )
    return rows


def breaches(
    metrics: pd.DataFrame,
    rules: RulesArg = None,
    *,
    baseline: pd.DataFrame | None = None,
    margin: float = DEFAULT_MARGIN,
    calendar: TradingCalendar | None = None,
) -> pd.DataFrame:
    """Intervals where a series met a breach rule, one row per interval.

    Each sample gets the state of the first rule of its catalogue entry that it
    meets (so "degraded" means above normal but not critical). A run of
    consecutive samples in one state is an interval: ``start`` is its first
    sample, ``end`` the first sample after it (half-open, like TimeWindow);
    when the run reaches the last sample or a gap, ``end`` is its last sample
    plus one step and ``ongoing`` says whether it reached the last sample.

    With a ``baseline`` (METRICS rows of earlier windows: ``metrics_baseline``),
    each series is judged against its own past (at least
    :data:`BASELINE_MIN_SAMPLES` samples of the same name and series):

    - an "above normal" rule (severity warning, ``>``/``>=``) fires only above the
      baseline's p99 times ``margin`` — the catalogue threshold is the floor, so a
      system whose usual p95 is 1 s is not "degraded" at 1.05 s;
    - a run is ``chronic`` when its state held in at least :data:`CHRONIC_SHARE` of
      the baseline's samples (it was there before the incident), or when the baseline
      had runs of that state at least 1/:data:`NOISE_RUN_FACTOR` as long and within
      ``margin`` of as high (the series' usual noise around a threshold). ``baseline_share`` is the share of
      baseline samples in the run's state.

    With a ``calendar``, an entry marked ``market_hours`` (price age) is judged only while
    the market is open, from ``calendar.open_grace`` after each open: a closed market is no
    breach, and its baseline is its market hours. An entry marked ``age`` (seconds since
    the last X) has its ``onset`` at the last fresh X: the first breaching sample's time
    minus its value (60.3 s at 08:13:00 -> 08:11:59.7), not before the open plus grace.

    Rows are matched to entries by the ``name`` column (catalogue entry name),
    else by ``query``. ``rules`` defaults to the shipped catalogue.

    Columns: start, end, peak (max for > / >=, min for < / <=), rule (the
    state, e.g. critical, degraded, down, feed_interruption), service,
    severity (critical|warning), name, series, op, threshold (the one applied),
    peak_at, samples, ongoing, summary, chronic, baseline_share, onset (when the series
    left its normal on the way into the run: the first deviation, at or before start).
    Sorted by start.
    """
    rows: list[dict[str, Any]] = []
    entries = _entries(rules)
    past = _baseline_values(_market_baseline(baseline, entries, calendar))
    shared = shared_jobs(metrics)
    key = "name" if metrics is not None and "name" in metrics.columns else "query"
    for entry, series, frame in _groups(metrics, entries):
        base = past.get((entry.name if key == "name" else entry.query, series))
        rows.extend(_series_breaches(entry, series, frame, base, margin, shared, calendar))
        if entry.creep:
            rows.extend(creep_breaches(entry, series, frame, base,
                                       series_service(frame, entry.service_labels, shared=shared)))
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
                "service": series_service(frame, ("service", "job")) if frame is not None else "",
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


def metric_events(
    metrics: pd.DataFrame,
    rules: RulesArg = None,
    *,
    baseline: pd.DataFrame | None = None,
    margin: float = DEFAULT_MARGIN,
    calendar: TradingCalendar | None = None,
) -> pd.DataFrame:
    """TIMELINE ``threshold_breach`` events, one per breach interval (at its onset, see
    :func:`breaches`, which ``calendar`` is passed to).

    severity is the rule's (critical|warning); summary reads e.g. "signal
    latency above the P1 threshold: signal_latency_p95 > 5 from 14:02 to 14:50
    (peak 7.1 at 14:25)"; ref is ``metrics:<name>:<series>``. A chronic breach
    (see :func:`breaches`: there before the incident, or the series' usual noise) is
    severity ``info`` and its summary starts with "chronic:" — shown, never a symptom.
    """
    entries = _entries(rules)
    found = breaches(metrics, entries, baseline=baseline, margin=margin, calendar=calendar)
    if found.empty:
        return tables.empty("timeline")
    ages = {e.name for e in entries if e.age}
    rows = []
    for b in found.itertuples(index=False):
        until = "ongoing" if b.ongoing else f"to {b.end:%H:%M:%S}"
        chronic = bool(b.chronic) if not pd.isna(b.chronic) else False
        prefix = f"chronic ({b.baseline_share:.0%} of the baseline's samples): " if chronic else ""
        onset = b.onset if not pd.isna(b.onset) and b.onset < b.start else None
        left = f"; off its baseline from {onset:%H:%M:%S}" if onset is not None else ""
        if onset is not None and b.name in ages:
            left = f"; last fresh at {onset:%H:%M:%S.%f}"[:-3]
        rows.append(
            {
                "timestamp": onset if onset is not None else b.start,
                "source": SOURCE,
                "service": b.service or None,
                "kind": "threshold_breach",
                "severity": "info" if chronic else b.severity,
                "summary": (
                    f"{prefix}{b.summary}: {b.name} {b.op} {_fmt(b.threshold)} from {b.start:%H:%M:%S} {until} "
                    f"(peak {_fmt(b.peak)} at {b.peak_at:%H:%M:%S}){left}"
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
    cfg = bundle_config(bundle)
    return metric_events(metrics, _bundle_entries(bundle), baseline=bundle_baseline(bundle),
                         margin=cfg.severity.baseline_margin, calendar=bundle_calendar(cfg))


def bundle_calendar(config: Config) -> TradingCalendar:
    """The ``[calendar]`` of ``config``; the FX week when that section no longer parses."""
    try:
        return TradingCalendar.from_config(config)
    except ForensicsError:
        return TradingCalendar()


def bundle_baseline(bundle: EvidenceBundle) -> pd.DataFrame | None:
    """The bundle's ``metrics_baseline`` when it holds usable rows, else None."""
    if bundle.status("metrics_baseline") not in ("ok", "truncated"):
        return None
    frame = bundle.table("metrics_baseline")
    return frame if len(frame) else None
