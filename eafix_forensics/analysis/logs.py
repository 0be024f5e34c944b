"""What the logs say: error signatures, error bursts and the log events of the timeline.

Pure: every function takes a LOGS frame (or a bundle) and returns a DataFrame.

Burst rule (:func:`error_bursts`): each service's ERROR and CRITICAL events are
counted per ``bucket`` (1 minute) over the whole span of the logs, empty
buckets included. The service's baseline is the median of those counts (robust
to the burst itself as long as it covers less than half the span). A bucket is
*hot* when it holds at least ``min_per_bucket`` errors and at least
``factor × (baseline + 1)``. Hot buckets separated by at most ``max_gap`` cold
buckets form one burst; a burst needs at least ``min_errors`` errors in total.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..model import tables

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = [
    "BURST_COLUMNS",
    "SIGNATURE_COLUMNS",
    "bundle_events",
    "error_bursts",
    "error_signatures",
    "log_events",
    "signature",
    "symptom_errors",
]

SOURCE = "logs"
ERROR_LEVELS = ("ERROR", "CRITICAL")
SIGNATURE_COLUMNS = ("signature", "count", "first_seen", "last_seen", "services", "level", "example")
BURST_COLUMNS = ("service", "start", "end", "errors", "peak_per_bucket", "baseline_per_bucket", "first_line")

# A leading application timestamp and level are layout, not part of what went wrong.
_LEAD = re.compile(
    r"^\s*(?:\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?\s*)?"
    r"(?:\[?(?:TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|ERR|FATAL|CRITICAL|CRIT)\b\]?\s*[:-]?\s*)?"
)
_MASKS = (
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"), "<str>"),
    (re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "<num>"),
)
_RESTART = re.compile(
    r"(?i)\b(?:starting|started|restarting|restarted|booting)\b.*?\bv(?:ersion)?\s*:?\s*(?P<version>\d[\w.+-]*)"
)
_EXITED = re.compile(r"^(?P<name>\S+) exited with code (?P<code>-?\d+)\s*$")
# Errors that a person's mitigation causes (a session terminated by an operator, a
# service stopped for a restart or rollback): evidence of the response, not symptoms.
MITIGATION = re.compile(
    r"(?i)terminating connection due to administrator command|canceling statement due to user request"
    r"|pg_terminate_backend|pg_cancel_backend|received (?:sig)?term(?:inate)?\b|graceful(?:ly)? shut ?down"
    r"|shutting down|stopping (?:the )?(?:service|container|server)|rolling back to|rollback (?:started|to)"
)
# An error signature seen in at least this share of the logs' 10-minute buckets, and
# never at more than BACKGROUND_PEAK per bucket, is the service's background noise.
BACKGROUND_SHARE = 0.6
BACKGROUND_BUCKET = pd.Timedelta(minutes=10)
BACKGROUND_PEAK = 3
#: A WARNING signature first seen this far into the logs (and after a tenth of their span),
#: then repeated at least NEW_WARNING_MIN times, is new: a symptom (``new_warning``).
NEW_WARNING_AFTER = pd.Timedelta(minutes=15)
NEW_WARNING_MIN = 10


def signature(message: str) -> str:
    """The template of one message: first line, leading time and level dropped,
    UUIDs, hex ids, quoted values and numbers masked (``<uuid>``, ``<hex>``,
    ``<str>``, ``<num>``)."""
    first = (message or "").split("\n", 1)[0]
    text = _LEAD.sub("", first, count=1)
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return re.sub(r"\s+", " ", text).strip()


def _errors(logs: pd.DataFrame | None) -> pd.DataFrame:
    if logs is None or len(logs) == 0 or "level" not in logs.columns:
        return logs.iloc[0:0] if logs is not None else tables.empty("logs")
    return logs[logs["level"].isin(ERROR_LEVELS)]


def error_signatures(logs: pd.DataFrame, *, limit: int | None = None) -> pd.DataFrame:
    """ERROR and CRITICAL messages grouped by :func:`signature`, most frequent first.

    Columns: signature, count, first_seen, last_seen (UTC), services (sorted,
    comma-separated), level (the worst seen), example (the first message).
    """
    errs = _errors(logs)
    if len(errs) == 0:
        return pd.DataFrame({
            "signature": pd.Series([], dtype="str"), "count": pd.Series([], dtype="Int64"),
            "first_seen": pd.Series([], dtype=tables.UTC_TS), "last_seen": pd.Series([], dtype=tables.UTC_TS),
            "services": pd.Series([], dtype="str"), "level": pd.Series([], dtype="str"),
            "example": pd.Series([], dtype="str"),
        })
    msgs = errs["message"].astype(object).where(errs["message"].notna(), "")
    uniq = pd.unique(msgs)
    sig_of = {m: signature(m) for m in uniq}
    frame = pd.DataFrame({
        "signature": msgs.map(sig_of).to_numpy(),
        "timestamp": errs["timestamp"].to_numpy(),
        "service": errs["service"].astype(object).where(errs["service"].notna(), "").to_numpy(),
        "level": errs["level"].astype(object).to_numpy(),
        "message": msgs.to_numpy(),
    })
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    groups = frame.groupby("signature", sort=False)
    out = pd.DataFrame({
        "count": groups.size(),
        "first_seen": groups["timestamp"].min(),
        "last_seen": groups["timestamp"].max(),
        "services": groups["service"].agg(lambda s: ",".join(sorted({v for v in s if v}))),
        "level": groups["level"].agg(lambda s: "CRITICAL" if (s == "CRITICAL").any() else "ERROR"),
        "example": groups["message"].first(),
    }).reset_index()
    out = out.sort_values(["count", "first_seen", "signature"], ascending=[False, True, True], kind="stable")
    if limit is not None:
        out = out.head(limit)
    out = out.reset_index(drop=True)
    out["count"] = out["count"].astype("Int64")
    for c in ("signature", "services", "level", "example"):
        out[c] = out[c].astype("str")
    return out[list(SIGNATURE_COLUMNS)]


def error_bursts(
    logs: pd.DataFrame,
    *,
    bucket: str | pd.Timedelta = "1min",
    factor: float = 3.0,
    min_per_bucket: int = 3,
    min_errors: int = 5,
    max_gap: int = 2,
) -> pd.DataFrame:
    """Periods where a service's error rate rises well above its own baseline
    (the rule is in the module docstring), in time order.

    Columns: service, start (UTC, the burst's first error), end (end exclusive: the
    end of the last hot bucket), errors (in the burst), peak_per_bucket, baseline_per_bucket,
    first_line (``source:line`` of the burst's first error).
    """
    empty = pd.DataFrame({
        "service": pd.Series([], dtype="str"), "start": pd.Series([], dtype=tables.UTC_TS),
        "end": pd.Series([], dtype=tables.UTC_TS), "errors": pd.Series([], dtype="Int64"),
        "peak_per_bucket": pd.Series([], dtype="Int64"), "baseline_per_bucket": pd.Series([], dtype="float64"),
        "first_line": pd.Series([], dtype="str"),
    })
    if logs is None or len(logs) == 0:
        return empty
    dated = logs[logs["timestamp"].notna()]
    errs = _errors(dated)
    if len(errs) == 0:
        return empty
    step = pd.Timedelta(bucket)
    span_start = dated["timestamp"].min().floor(step)
    span_end = dated["timestamp"].max().floor(step) + step
    edges = pd.date_range(span_start, span_end, freq=step, inclusive="left")
    rows = []
    services = errs["service"].astype(object).where(errs["service"].notna(), "")
    for service, group in errs.groupby(services.to_numpy(), sort=True):
        ts = group["timestamp"]
        idx = ((ts - span_start) // step).to_numpy(dtype=np.int64)
        counts = np.bincount(idx, minlength=len(edges))
        baseline = float(np.median(counts))
        hot = (counts >= min_per_bucket) & (counts >= factor * (baseline + 1))
        for a, b in _runs(np.flatnonzero(hot), max_gap):
            total = int(counts[a : b + 1].sum())
            if total < min_errors:
                continue
            inside = group[(idx >= a) & (idx <= b)]
            first = inside.sort_values("timestamp", kind="stable").iloc[0]
            rows.append({
                "service": service or None,
                # The burst starts at its first error, not at the minute it falls in.
                "start": first["timestamp"],
                "end": edges[a] + step * (b - a + 1),
                "errors": total,
                "peak_per_bucket": int(counts[a : b + 1].max()),
                "baseline_per_bucket": baseline,
                "first_line": f"{first['source']}:{first['line']}",
            })
    if not rows:
        return empty
    out = pd.DataFrame(rows).sort_values(["start", "service"], kind="stable").reset_index(drop=True)
    return out.astype({"service": "str", "errors": "Int64", "peak_per_bucket": "Int64", "first_line": "str"})


def _runs(hot: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """(first, last) bucket of each run of hot buckets, bridging gaps of up to max_gap."""
    runs: list[tuple[int, int]] = []
    for i in hot.tolist():
        if runs and i - runs[-1][1] <= max_gap + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _ref(row: pd.Series) -> str:
    return f"logs:{row['source']}:{row['line']}"


def _short(message: str, width: int = 160) -> str:
    first = _LEAD.sub("", (message or "").split("\n", 1)[0], count=1).strip()
    return first if len(first) <= width else first[: width - 1] + "…"


def log_events(logs: pd.DataFrame, **burst_options: object) -> pd.DataFrame:
    """TIMELINE rows from LOGS.

    - ``first_error``: each service's first ERROR/CRITICAL event (severity
      ``critical`` for CRITICAL, else ``warning``), its summary counting them all;
    - ``error_burst``: one per :func:`error_bursts` burst (severity ``critical``),
      at the burst's start, ref pointing at its first error;
    - ``new_warning``: a WARNING signature new in the logs and repeated (:func:`new_warnings`);
    - ``restart``: a service (re)starting (``Starting … version X``) or a
      container exiting (Compose's ``x-1 exited with code N``, placed at the
      service's last dated line before it), severity ``info`` (``warning`` for
      a non-zero exit code).

    ``ref`` is ``logs:<source>:<line>``.
    """
    if logs is None or len(logs) == 0:
        return tables.empty("timeline")
    rows: list[dict[str, object]] = []
    errs = _errors(logs)
    errs = errs[errs["timestamp"].notna()]
    msgs = errs["message"].astype(object).where(errs["message"].notna(), "")
    by_person = msgs.map(lambda m: MITIGATION.search(m) is not None).astype(bool).to_numpy()
    rows.extend(_mitigation_rows(errs[by_person]))
    errs = errs[~by_person]
    background = _background(errs, logs)
    if len(errs):
        services = errs["service"].astype(object).where(errs["service"].notna(), "")
        for service, group in errs.groupby(services.to_numpy(), sort=True):
            group = group.sort_values("timestamp", kind="stable")
            sigs = group["message"].astype(object).map(lambda m: signature(m if isinstance(m, str) else ""))
            noise = sigs.isin(background).to_numpy()
            for sig in sorted(set(sigs[noise])):
                same = group[(sigs == sig).to_numpy()]
                rows.append({
                    "timestamp": same["timestamp"].iloc[0], "source": SOURCE, "service": service or None,
                    "kind": "first_error", "severity": "info",
                    "summary": (f"chronic: {len(same)} {service or 'unknown service'} errors throughout the logs, "
                                f"the service's background: {_short(same['message'].iloc[0])}"),
                    "ref": _ref(same.iloc[0]),
                })
            group = group[~noise]
            if not len(group):
                continue
            first = group.iloc[0]
            n = len(group)
            rows.append({
                "timestamp": first["timestamp"],
                "source": SOURCE,
                "service": service or None,
                "kind": "first_error",
                "severity": "critical" if (group["level"] == "CRITICAL").any() else "warning",
                "summary": f"first error in {service or 'unknown service'} ({n} in the logs): {_short(first['message'])}",
                "ref": _ref(first),
            })
    bursts = error_bursts(logs, **burst_options)  # type: ignore[arg-type]
    for b in bursts.itertuples(index=False):
        minutes = (b.end - b.start).total_seconds() / 60
        rows.append({
            "timestamp": b.start,
            "source": SOURCE,
            "service": b.service,
            "kind": "error_burst",
            "severity": "critical",
            "summary": (
                f"error burst in {b.service}: {b.errors} errors in {minutes:.0f} min "
                f"(peak {b.peak_per_bucket}/bucket, baseline {b.baseline_per_bucket:g})"
            ),
            "ref": f"logs:{b.first_line}",
        })
    rows.extend(new_warnings(logs))
    rows.extend(_restart_rows(logs))
    if not rows:
        return tables.empty("timeline")
    out = tables.conform(rows, "timeline")
    return out.sort_values(["timestamp", "kind"], kind="stable").reset_index(drop=True)


def new_warnings(logs: pd.DataFrame) -> list[dict[str, object]]:
    """``new_warning`` TIMELINE rows (severity warning): per service, each WARNING signature
    that first appears at least :data:`NEW_WARNING_AFTER` (and a tenth of the logs' span)
    after the logs begin and then repeats at least :data:`NEW_WARNING_MIN` times — something
    the service never said before, saying it again and again. A warning there from the
    start (the service's usual chatter) or seen a few times only is not one; neither are
    warnings a person's mitigation causes."""
    if "level" not in logs.columns:
        return []
    warn = logs[(logs["level"] == "WARNING") & logs["timestamp"].notna()]
    ts = logs["timestamp"].dropna()
    if len(warn) < NEW_WARNING_MIN or not len(ts):
        return []
    msgs = warn["message"].astype(object).map(lambda m: m if isinstance(m, str) else "")
    warn = warn[~msgs.map(lambda m: MITIGATION.search(m) is not None).astype(bool).to_numpy()]
    since = ts.min() + max(NEW_WARNING_AFTER, (ts.max() - ts.min()) / 10)
    sigs = warn["message"].astype(object).map(lambda m: signature(_said(m if isinstance(m, str) else "")))
    svc = warn["service"].astype(object).where(warn["service"].notna(), "")
    rows: list[dict[str, object]] = []
    for (service, _), g in warn.groupby([svc.to_numpy(), sigs.to_numpy()], sort=True):
        g = g.sort_values("timestamp", kind="stable")
        first = g.iloc[0]
        if len(g) < NEW_WARNING_MIN or first["timestamp"] < since:
            continue
        rows.append({
            "timestamp": first["timestamp"], "source": SOURCE, "service": service or None, "kind": "new_warning",
            "severity": "warning",
            "summary": (f"new warning in {service or 'unknown service'} ({len(g)} in the logs, never before "
                        f"{first['timestamp']:%H:%M:%S}): {_short(first['message'])}"),
            "ref": _ref(first),
        })
    return rows


def _said(message: str) -> str:
    """What a line says: a JSON line's ``msg``/``message`` field (its other fields are
    layout: time, level, logger), else the line itself."""
    if message.startswith("{"):
        try:
            doc = json.loads(message)
        except ValueError:
            return message
        if isinstance(doc, dict):
            for key in ("msg", "message", "event"):
                if isinstance(doc.get(key), str):
                    return str(doc[key])
    return message


def symptom_errors(logs: pd.DataFrame | None) -> pd.DataFrame:
    """The ERROR and CRITICAL rows of ``logs`` that are symptoms: dated, not caused by a
    person's mitigation (:data:`MITIGATION`), not a service's steady background."""
    if logs is None or len(logs) == 0:
        return tables.empty("logs")
    errs = _errors(logs)
    errs = errs[errs["timestamp"].notna()]
    if not len(errs):
        return errs
    msgs = errs["message"].astype(object).where(errs["message"].notna(), "")
    errs = errs[~msgs.map(lambda m: MITIGATION.search(m) is not None).astype(bool).to_numpy()]
    background = _background(errs, logs)
    if background:
        sigs = errs["message"].astype(object).map(lambda m: signature(m if isinstance(m, str) else ""))
        errs = errs[~sigs.isin(background).to_numpy()]
    return errs


def _background(errs: pd.DataFrame, logs: pd.DataFrame) -> set[str]:
    """Error signatures that are a service's steady background: seen in at least
    :data:`BACKGROUND_SHARE` of the logs' 10-minute buckets, never more than
    :data:`BACKGROUND_PEAK` in one. Logs shorter than an hour have no background."""
    ts = logs["timestamp"].dropna()
    if not len(errs) or not len(ts):
        return set()
    start = ts.min().floor(BACKGROUND_BUCKET)
    n_buckets = int((ts.max() - start) // BACKGROUND_BUCKET) + 1
    if n_buckets < 6:
        return set()
    sigs = errs["message"].astype(object).map(lambda m: signature(m if isinstance(m, str) else ""))
    idx = ((errs["timestamp"] - start) // BACKGROUND_BUCKET).astype(int)
    svc = errs["service"].astype(object).where(errs["service"].notna(), "")
    out: set[str] = set()
    counts = pd.DataFrame({"sig": sigs.to_numpy(), "svc": svc.to_numpy(), "b": idx.to_numpy()})
    for (sig, _), g in counts.groupby(["sig", "svc"], sort=False):
        per = g["b"].value_counts()
        if len(per) >= BACKGROUND_SHARE * n_buckets and per.max() <= BACKGROUND_PEAK:
            out.add(str(sig))
    return out


def _mitigation_rows(errs: pd.DataFrame) -> list[dict[str, object]]:
    """One ``mitigation`` event per service: the first error a person's action caused."""
    rows: list[dict[str, object]] = []
    if not len(errs):
        return rows
    services = errs["service"].astype(object).where(errs["service"].notna(), "")
    for service, group in errs.groupby(services.to_numpy(), sort=True):
        first = group.sort_values("timestamp", kind="stable").iloc[0]
        rows.append({
            "timestamp": first["timestamp"], "source": SOURCE, "service": service or None, "kind": "mitigation",
            "severity": "info",
            "summary": f"mitigation in {service or 'unknown service'}: {_short(first['message'])}",
            "ref": _ref(first),
        })
    return rows


def _restart_rows(logs: pd.DataFrame) -> list[dict[str, object]]:
    msgs = logs["message"].astype(object).where(logs["message"].notna(), "")
    starts = msgs.map(lambda m: _RESTART.search(m) is not None).astype(bool) & logs["timestamp"].notna()
    exits = msgs.map(lambda m: _EXITED.match(m) is not None).astype(bool)
    rows: list[dict[str, object]] = []
    for i in np.flatnonzero(starts.to_numpy()):
        r = logs.iloc[i]
        m = _RESTART.search(r["message"])
        svc = r["service"] if isinstance(r["service"], str) else None
        rows.append({
            "timestamp": r["timestamp"], "source": SOURCE, "service": svc, "kind": "restart",
            "severity": "info",
            "summary": f"{svc or 'a service'} started version {m.group(1) if m else '?'}: {_short(r['message'])}",
            "ref": _ref(r),
        })
    if exits.any():
        # Compose prints exits without a time: place each at its service's last dated line.
        svc_col = logs["service"].astype(object).where(logs["service"].notna(), "")
        last_seen = logs["timestamp"].groupby(svc_col.to_numpy()).ffill()
        for i in np.flatnonzero(exits.to_numpy()):
            r = logs.iloc[i]
            when = r["timestamp"] if pd.notna(r["timestamp"]) else last_seen.iloc[i]
            if pd.isna(when):
                continue
            m = _EXITED.match(r["message"])
            code = int(m["code"]) if m else 0
            svc = r["service"] if isinstance(r["service"], str) else (m["name"] if m else None)
            rows.append({
                "timestamp": when, "source": SOURCE, "service": svc, "kind": "restart",
                "severity": "warning" if code != 0 else "info",
                "summary": f"{svc} container exited with code {code}",
                "ref": _ref(r),
            })
    return rows


def bundle_events(bundle: EvidenceBundle) -> pd.DataFrame:
    """TIMELINE rows (:func:`log_events`) from the bundle's ``logs`` table;
    empty when the table is missing, unavailable or empty."""
    if bundle.status("logs") in ("missing", "unavailable", "skipped"):
        return tables.empty("timeline")
    return log_events(bundle.table("logs"))
