"""Record shaping: the trading API's JSON records into the positions, signals, executions and
reconcile tables (aliases, UTC times, dtypes), shared by the collector and the demo."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConfigError

_TS = "datetime64[ns, UTC]"
_TEXT = "str"
_FLOAT = "float64"

#: positions: one row per position the gateway reports. ``exposure`` is the
#: API's own exposure/notional figure (missing when the API gives none).
POSITIONS: dict[str, str] = {
    "fetched_at": _TS,
    "service": _TEXT,
    "position_id": _TEXT,
    "account": _TEXT,
    "symbol": _TEXT,
    "side": _TEXT,
    "quantity": _FLOAT,
    "entry_price": _FLOAT,
    "current_price": _FLOAT,
    "exposure": _FLOAT,
    "unrealized_pnl": _FLOAT,
    "status": _TEXT,
    "opened_at": _TS,
    "updated_at": _TS,
}
#: signals: one row per generated signal; ``latency_ms`` tick-to-signal.
SIGNALS: dict[str, str] = {
    "timestamp": _TS,
    "service": _TEXT,
    "signal_id": _TEXT,
    "symbol": _TEXT,
    "side": _TEXT,
    "strength": _FLOAT,
    "price": _FLOAT,
    "latency_ms": _FLOAT,
    "status": _TEXT,
}
#: executions: one row per order execution attempt; ``status`` lower-case
#: (e.g. filled, rejected, failed), ``error`` the broker's or engine's reason.
EXECUTIONS: dict[str, str] = {
    "timestamp": _TS,
    "service": _TEXT,
    "execution_id": _TEXT,
    "order_id": _TEXT,
    "symbol": _TEXT,
    "side": _TEXT,
    "quantity": _FLOAT,
    "price": _FLOAT,
    "status": _TEXT,
    "error": _TEXT,
    "latency_ms": _FLOAT,
}
#: reconcile: one row per reconciled position; ``status`` is ``match`` or
#: ``mismatch`` (derived from ``difference`` when the API gives no status).
RECONCILE: dict[str, str] = {
    "checked_at": _TS,
    "service": _TEXT,
    "account": _TEXT,
    "symbol": _TEXT,
    "internal_quantity": _FLOAT,
    "broker_quantity": _FLOAT,
    "difference": _FLOAT,
    "status": _TEXT,
    "detail": _TEXT,
}
TABLES: dict[str, dict[str, str]] = {
    "positions": POSITIONS,
    "signals": SIGNALS,
    "executions": EXECUTIONS,
    "reconcile": RECONCILE,
}
# Snapshot tables are stamped with the fetch time when the API gives none; event
# tables (signals, executions) keep a missing time missing rather than invent one.
_STAMP = {"positions": "fetched_at", "reconcile": "checked_at"}

# Field names seen in trading APIs for our columns; the canonical name wins when both exist.
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "positions": {
        "position_id": ("id", "position"),
        "account": ("account_id",),
        "side": ("direction",),
        "quantity": ("qty", "size", "volume", "units"),
        "entry_price": ("open_price", "avg_price", "average_price"),
        "current_price": ("price", "mark_price", "market_price"),
        "exposure": ("notional", "exposure_usd"),
        "unrealized_pnl": ("pnl", "upl", "unrealised_pnl"),
        "opened_at": ("open_time", "opened", "created_at"),
        "updated_at": ("update_time", "modified_at"),
    },
    "signals": {
        "timestamp": ("ts", "time", "generated_at", "created_at"),
        "signal_id": ("id",),
        "side": ("direction", "action"),
        "strength": ("confidence", "score"),
    },
    "executions": {
        "timestamp": ("ts", "time", "executed_at", "created_at"),
        "execution_id": ("id", "exec_id"),
        "order_id": ("order",),
        "quantity": ("qty", "size", "volume"),
        "price": ("fill_price", "avg_price"),
        "error": ("reason", "reject_reason", "message"),
    },
    "reconcile": {
        "account": ("account_id",),
        "internal_quantity": ("internal", "internal_qty", "system_quantity", "local_quantity", "expected"),
        "broker_quantity": ("broker", "broker_qty", "external_quantity", "actual"),
        "difference": ("diff", "delta"),
        "detail": ("message", "reason"),
        "checked_at": ("timestamp", "ts", "time"),
    },
}


# ---------------------------------------------------------------- shaping (shared by the demo)
def _empty_table(table: str) -> pd.DataFrame:
    spec = TABLES[table]
    return pd.DataFrame({c: pd.Series([], dtype=_dtype(t)) for c, t in spec.items()})


def _dtype(t: str) -> Any:
    return pd.StringDtype(na_value=np.nan) if t == _TEXT else t


def _one_utc(v: Any) -> pd.Timestamp | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        if isinstance(v, (int, float)):
            # Epoch seconds vs milliseconds: ms values are past year 5138 as seconds.
            ts = pd.Timestamp(v, unit="ms" if abs(v) > 1e11 else "s")
        else:
            ts = pd.Timestamp(v if not isinstance(v, str) else v.strip())
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is pd.NaT:
        return None
    # Inputs without an offset are UTC.
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _to_utc(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(UTC timestamps, mask of values that were given but could not be read)."""
    values = series.astype(object).where(series.notna(), None)
    parsed = [_one_utc(v) for v in values]
    out = pd.Series(pd.array([pd.NaT if t is None else t for t in parsed], dtype=_TS), index=series.index)
    bad = values.notna() & out.isna()
    return out, bad


def _plain(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def _cast(series: pd.Series, t: str) -> pd.Series:
    if t == _TEXT:
        return series.astype(object).where(series.notna(), None).map(
            lambda v: v if v is None or isinstance(v, str) else str(_plain(v))
        ).astype(_dtype(_TEXT))
    return pd.to_numeric(series.astype(object).map(_plain), errors="coerce").astype(_FLOAT)


_INT64 = (-(2**63), 2**63 - 1)


def _int64(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and _INT64[0] <= v <= _INT64[1]


def _unread_numbers(given: pd.Series, numbers: pd.Series) -> pd.Series:
    """Mask of the values given for a number column that are not numbers (text, objects)."""
    values = given.astype(object).where(given.notna(), None)
    return values.notna() & numbers.isna() & ~values.map(lambda v: isinstance(v, float))


def _extra(series: pd.Series) -> pd.Series:
    """An API field we have no column for, as a Parquet-safe column (an integer past
    64 bits is kept exactly, as text)."""
    values = series.astype(object).where(series.notna(), None)
    present = values.dropna()
    if present.map(lambda v: isinstance(v, bool)).all() and len(present):
        return values.astype("boolean")
    if present.map(_int64).all() and len(present):
        return values.astype("Int64")
    if present.map(lambda v: isinstance(v, int) and not isinstance(v, bool)).all() and len(present):
        return values.map(lambda v: None if v is None else str(v)).astype(_dtype(_TEXT))
    if present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all() and len(present):
        return pd.to_numeric(values).astype(_FLOAT)
    return values.map(lambda v: None if v is None else (v if isinstance(v, str) else str(_plain(v)))).astype(
        _dtype(_TEXT)
    )


_RECONCILE_WORDS = {
    "match": "match", "matched": "match", "ok": "match", "reconciled": "match", "true": "match",
    "mismatch": "mismatch", "mismatched": "mismatch", "break": "mismatch", "diff": "mismatch",
    "false": "mismatch", "error": "mismatch",
}


def shape_records(
    table: str,
    records: Sequence[Any],
    *,
    service: str,
    fetched_at: pd.Timestamp,
) -> pd.DataFrame:
    """The DataFrame for trading-API ``table`` (positions, signals, executions,
    reconcile) from the API's JSON records.

    Columns: ``TABLES[table]`` in order with their dtypes (timestamps UTC, text
    ``str``, numbers float64), then every other field of the records, in first-seen
    order (nested values as JSON text). Known alternative field names (``qty``,
    ``id``, ``reason``…) fill the canonical column when it is absent. A record
    that is not a JSON object is kept as a row whose ``raw`` column holds it;
    unreadable timestamps and numbers (``"12 lots"``, an object) keep their text in
    ``<column>_raw``. Counts of both are in ``frame.attrs["details"]``.
    """
    spec = TABLES.get(table)
    if spec is None:
        raise ConfigError(f"unknown services table {table!r}; known: {', '.join(TABLES)}")
    details: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    malformed = 0
    for rec in records:
        if isinstance(rec, dict):
            rows.append({str(k): v for k, v in rec.items()})
        else:
            malformed += 1
            rows.append({"raw": json.dumps(rec, default=str)})
    if malformed:
        details["malformed_records"] = malformed
    if not rows:
        frame = _empty_table(table)
        frame.attrs["details"] = details
        return frame
    raw = pd.DataFrame(rows)
    for canonical, aliases in _ALIASES.get(table, {}).items():
        if canonical in raw.columns:
            continue
        for alias in aliases:
            if alias in raw.columns:
                raw = raw.rename(columns={alias: canonical})
                break
    if table == "signals" and "latency_ms" not in raw.columns and "latency_s" in raw.columns:
        raw["latency_ms"] = pd.to_numeric(raw["latency_s"], errors="coerce") * 1000.0
    out: dict[str, pd.Series] = {}
    raw_cols: dict[str, pd.Series] = {}
    n = len(raw)
    for col, t in spec.items():
        given = raw[col] if col in raw.columns else pd.Series([None] * n, dtype=object)
        if col == "service":
            given = given.astype(object).where(given.notna(), service)
        if t == _TS:
            if col == _STAMP.get(table):
                given = given.astype(object).where(given.notna(), fetched_at)
            ts, bad = _to_utc(given)
            if bad.any():
                details[f"unreadable_{col}"] = int(bad.sum())
                raw_cols[f"{col}_raw"] = given.astype(object).where(bad, None).map(
                    lambda v: None if v is None else str(v)
                ).astype(_dtype(_TEXT))
            out[col] = ts
        else:
            out[col] = _cast(given, t)
            bad = _unread_numbers(given, out[col]) if t == _FLOAT else None
            if bad is not None and bad.any():
                # "12 lots", {"value": 5}: not a number, but evidence: counted and kept as text.
                details[f"unreadable_{col}"] = int(bad.sum())
                raw_cols[f"{col}_raw"] = given.astype(object).where(bad, None).map(
                    lambda v: None if v is None else str(_plain(v))
                ).astype(_dtype(_TEXT))
    if "status" in out:
        status = out["status"].str.strip().str.lower()
        if table == "reconcile":
            status = status.map(lambda v: _RECONCILE_WORDS.get(v, v) if isinstance(v, str) else v)
            matched = raw.get("matched", raw.get("match"))
            if matched is not None:
                from_flag = matched.map(lambda v: None if v is None or pd.isna(v) else ("match" if v else "mismatch"))
                status = status.where(status.notna(), from_flag)
            out["difference"] = out["difference"].fillna(out["broker_quantity"] - out["internal_quantity"])
            derived = out["difference"].map(lambda d: None if pd.isna(d) else ("match" if d == 0 else "mismatch"))
            status = status.where(status.notna(), derived)
        out["status"] = status.astype(_dtype(_TEXT))
    frame = pd.DataFrame(out)
    for col, s in raw_cols.items():
        frame[col] = s.reset_index(drop=True)
    for col in raw.columns:
        if col not in spec and col not in frame.columns:
            frame[col] = _extra(raw[col]).reset_index(drop=True)
    frame.attrs["details"] = details
    return frame
