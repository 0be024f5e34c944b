"""The fixed table schemas every source and analysis returns.

Column names and dtypes are decided here and nowhere else: sources hand their
rows to :func:`conform` (or :func:`empty`), so an empty result and a full one
have the same columns and dtypes, and Parquet round-trips them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ForensicsError

__all__ = ["LEVELS", "ORDERED", "SCHEMAS", "TIMELINE_KINDS", "TIMELINE_SEVERITIES", "conform", "empty", "ordered",
           "stored"]

UTC_TS = "datetime64[ns, UTC]"
TEXT = "str"  # pandas' string dtype (NaN for missing), the default for text in pandas 3
INT = "Int64"
FLOAT = "float64"
BOOL = "boolean"

SCHEMAS: dict[str, dict[str, str]] = {
    "logs": {
        "timestamp": UTC_TS,
        "service": TEXT,
        "replica": INT,
        "level": TEXT,
        "message": TEXT,
        "source": TEXT,
        "line": INT,
    },
    "metrics": {
        "timestamp": UTC_TS,
        "query": TEXT,
        "series": TEXT,
        "value": FLOAT,
    },
    "pg_statements": {
        "queryid": INT,
        "query": TEXT,
        "calls": INT,
        "total_exec_time_ms": FLOAT,
        "mean_exec_time_ms": FLOAT,
        "rows": INT,
        "shared_blks_hit": INT,
        "shared_blks_read": INT,
    },
    "pg_activity": {
        "pid": INT,
        "usename": TEXT,
        "application_name": TEXT,
        "state": TEXT,
        "wait_event_type": TEXT,
        "wait_event": TEXT,
        "query_start": UTC_TS,
        "xact_start": UTC_TS,
        "duration_s": FLOAT,
        "query": TEXT,
        "blocked_by": TEXT,
    },
    "pg_locks": {
        "pid": INT,
        "locktype": TEXT,
        "relation": TEXT,
        "mode": TEXT,
        "granted": BOOL,
        "blocked_by": TEXT,
        "waiting_s": FLOAT,
        "query": TEXT,
    },
    "pg_connections": {
        "state": TEXT,
        "application_name": TEXT,
        "count": INT,
    },
    "commits": {
        "timestamp": UTC_TS,
        "sha": TEXT,
        "author": TEXT,
        "subject": TEXT,
        "files_changed": INT,
        "insertions": INT,
        "deletions": INT,
        "refs": TEXT,
    },
    "health": {
        "checked_at": UTC_TS,
        "service": TEXT,
        "url": TEXT,
        "status_code": INT,
        "status": TEXT,
        "latency_ms": FLOAT,
        "error": TEXT,
    },
    "timeline": {
        "timestamp": UTC_TS,
        "source": TEXT,
        "service": TEXT,
        "kind": TEXT,
        "severity": TEXT,
        "summary": TEXT,
        "ref": TEXT,
    },
}

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TIMELINE_KINDS = (
    "first_error",
    "error_burst",
    "new_warning",
    "threshold_breach",
    "deploy",
    "slow_query",
    "lock_wait",
    "health_failed",
    "incident_triggered",
    "acknowledged",
    "responded",
    "status_update",
    "resolved",
    "restart",
    "mitigation",
)
TIMELINE_SEVERITIES = ("info", "warning", "critical")

# Columns read as ordered categoricals, so ``logs[logs.level >= "WARNING"]`` and
# ``events[events.severity >= "warning"]`` compare by rank, not alphabetically. They are
# stored as text (the schemas above: Parquet holds strings), made ordered on read by
# ``EvidenceBundle.table`` and ``timeline``, and turned back into text by :func:`stored`.
ORDERED: dict[str, dict[str, tuple[str, ...]]] = {
    "logs": {"level": LEVELS},
    "timeline": {"severity": TIMELINE_SEVERITIES},
}


def _schema(name: str) -> Mapping[str, str]:
    try:
        return SCHEMAS[name]
    except KeyError:
        raise ForensicsError(f"unknown schema {name!r}; known: {', '.join(sorted(SCHEMAS))}") from None


def empty(name: str, extra: Mapping[str, str] | None = None) -> pd.DataFrame:
    """An empty DataFrame with the columns and dtypes of schema ``name`` (plus ``extra``)."""
    cols = dict(_schema(name))
    cols.update(extra or {})
    return pd.DataFrame({c: pd.Series([], dtype=_dtype(t)) for c, t in cols.items()})


def _dtype(t: str) -> Any:
    return pd.StringDtype(na_value=np.nan) if t == TEXT else t


def _cast(series: pd.Series, t: str) -> pd.Series:
    if t == UTC_TS:
        if not isinstance(series.dtype, pd.DatetimeTZDtype):
            series = pd.to_datetime(series, utc=True, format="mixed")
        return series.dt.tz_convert("UTC").astype(UTC_TS)
    if t == TEXT:
        if series.dtype == _dtype(TEXT):
            return series
        return series.astype(object).where(series.notna(), None).map(
            lambda v: v if v is None or isinstance(v, str) else str(v)
        ).astype(_dtype(TEXT))
    if t == INT:
        return pd.to_numeric(series, errors="coerce").astype(INT) if series.dtype == object else series.astype(INT)
    if t == FLOAT:
        return pd.to_numeric(series, errors="coerce").astype(FLOAT)
    if t == BOOL:
        return series.astype(BOOL)
    return series.astype(t)


def conform(df: pd.DataFrame | list[dict[str, Any]] | None, name: str) -> pd.DataFrame:
    """Return ``df`` with schema ``name``'s columns first, in order and with their dtypes.

    Missing schema columns are added empty; extra columns are kept after them
    (with their own dtype, text as ``str``).
    """
    schema = _schema(name)
    if df is None:
        return empty(name)
    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(list(df))
    assert isinstance(df, pd.DataFrame)
    if df.empty and len(df.columns) == 0:
        return empty(name)
    out: dict[str, pd.Series] = {}
    n = len(df)
    for col, t in schema.items():
        if col in df.columns:
            out[col] = _cast(df[col].reset_index(drop=True), t)
        else:
            out[col] = pd.Series([None] * n, dtype=_dtype(t) if t != UTC_TS else UTC_TS)
    for col in df.columns:
        if col not in schema:
            s = df[col].reset_index(drop=True)
            if s.dtype == object and s.map(lambda v: v is None or isinstance(v, str)).all():
                s = s.astype(_dtype(TEXT))
            out[str(col)] = s
    return pd.DataFrame(out)


def ordered(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """``df`` with table ``name``'s :data:`ORDERED` columns as ordered categoricals (in place
    and returned). A value outside the scale is kept: it joins the scale above its top, so
    nothing read is ever turned into a missing value."""
    for col, scale in ORDERED.get(name, {}).items():
        if col not in df.columns:
            continue
        values = df[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            if values.cat.ordered and tuple(values.cat.categories[: len(scale)]) == scale:
                continue
            values = values.astype(object)
        if values.dtype != _dtype(TEXT):
            values = _cast(values, TEXT)
        extra = sorted(set(values.dropna().unique()) - set(scale))
        df[col] = pd.Categorical(values, categories=[*scale, *extra], ordered=True)
    return df


def stored(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """``df`` with table ``name``'s :data:`ORDERED` columns back as text, the dtype the
    schemas store (a copy when something changes): what a bundle writes never depends on
    how its frames were read."""
    cols = [c for c in ORDERED.get(name, {}) if c in df.columns and isinstance(df[c].dtype, pd.CategoricalDtype)]
    if not cols:
        return df
    out = df.copy()
    for c in cols:
        out[c] = _cast(out[c].astype(object), TEXT)
    return out
