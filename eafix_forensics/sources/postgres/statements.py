"""pg_stat_statements: the top statements, snapshots, and the delta between two snapshots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...errors import ConfigError
from ...model import tables
from .engine import HIDDEN, _extension, _fetch, _server_version, _transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


# order_by name -> column of pg_stat_statements (PostgreSQL 13+, 12 and older)
_ORDER = {
    "total_exec_time": ("total_exec_time", "total_time"),
    "mean_exec_time": ("mean_exec_time", "mean_time"),
    "calls": ("calls", "calls"),
    "rows": ("rows", "rows"),
    "shared_blks_read": ("shared_blks_read", "shared_blks_read"),
    "shared_blks_hit": ("shared_blks_hit", "shared_blks_hit"),
}
_COUNTERS = ("calls", "total_exec_time_ms", "rows", "shared_blks_hit", "shared_blks_read")
_KEY = ["userid", "dbid", "toplevel", "queryid"]


# ----------------------------------------------------------------------------- statements
def _statements_sql(ext_version: tuple[int, ...], schema: str, *, order: str, all_databases: bool) -> str:
    """The pg_stat_statements query for this version of the extension.

    The columns follow the extension's version, not the server's: 1.8 (PostgreSQL
    13) renamed total_time to total_exec_time, 1.9 (14) added toplevel; a database
    upgraded without ALTER EXTENSION … UPDATE keeps the old names.
    """
    new = ext_version >= (1, 8)
    total, mean, stddev, mx = (
        ("total_exec_time", "mean_exec_time", "stddev_exec_time", "max_exec_time")
        if new
        else ("total_time", "mean_time", "stddev_time", "max_time")
    )
    toplevel = "s.toplevel" if ext_version >= (1, 9) else "true"
    where = "" if all_databases else "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ident = '"' + schema.replace('"', '""') + '"'
    order_col = _ORDER[order][0 if new else 1]
    return f"""
        SELECT s.queryid, s.query, s.calls,
               s.{total} AS total_exec_time_ms, s.{mean} AS mean_exec_time_ms, s.rows,
               s.shared_blks_hit, s.shared_blks_read,
               s.userid::bigint AS userid, s.dbid::bigint AS dbid, {toplevel} AS toplevel,
               r.rolname AS usename, d.datname,
               s.{stddev} AS stddev_exec_time_ms, s.{mx} AS max_exec_time_ms,
               now() AS sampled_at
        FROM {ident}.pg_stat_statements s
        LEFT JOIN pg_roles r ON r.oid = s.userid
        LEFT JOIN pg_database d ON d.oid = s.dbid
        {where}
        ORDER BY s.{order_col} DESC NULLS LAST, s.queryid
        LIMIT :limit
    """


def _statements_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """pg_statements rows (as the server returns them) shaped into the schema."""
    frame = tables.conform(list(rows), "pg_statements") if rows else _empty_statements()
    frame.attrs["insufficient_privilege"] = int((frame["query"] == HIDDEN).sum()) if len(frame) else 0
    return frame


def _empty_statements() -> pd.DataFrame:
    return tables.empty(
        "pg_statements",
        {"userid": "Int64", "dbid": "Int64", "toplevel": "boolean", "usename": "str", "datname": "str",
         "stddev_exec_time_ms": "float64", "max_exec_time_ms": "float64", "sampled_at": "datetime64[ns, UTC]"},
    )


def _check_limit(limit: int, what: str) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfigError(f"{what}: limit={limit!r} must be a positive integer")
    return limit


def _statements(engine: Engine, *, limit: int, order_by: str, all_databases: bool, info: bool) -> pd.DataFrame:
    if order_by not in _ORDER:
        raise ConfigError(f"order_by={order_by!r}: use one of {', '.join(_ORDER)}")
    _check_limit(limit, "pg_stat_statements")
    with _transaction(engine) as conn:
        version = _server_version(conn)
        schema, ext_version = _extension(conn)
        rows = _fetch(
            conn,
            _statements_sql(ext_version, schema, order=order_by, all_databases=all_databases),
            {"limit": limit},
        )
        meta: dict[str, Any] = {"server_version": version, "sampled_at": None, "stats_reset": None, "dealloc": None}
        if info:
            meta["sampled_at"] = _iso(_fetch(conn, "SELECT now() AS t LIMIT 1")[0]["t"])
            if ext_version >= (1, 9):
                ident = '"' + schema.replace('"', '""') + '"'
                i = _fetch(conn, f"SELECT dealloc, stats_reset FROM {ident}.pg_stat_statements_info LIMIT 1")[0]
                meta["dealloc"] = int(i["dealloc"])
                meta["stats_reset"] = _iso(i["stats_reset"])
        role = _fetch(conn, "SELECT current_user AS u LIMIT 1")[0]["u"]
    frame = _statements_frame(rows)
    frame.attrs.update(meta)
    frame.attrs["truncated"] = len(rows) >= limit
    frame.attrs["role"] = role
    return frame


def top_statements(
    engine: Engine, limit: int = 10, order_by: str = "total_exec_time", *, all_databases: bool = False
) -> pd.DataFrame:
    """The ``limit`` statements of pg_stat_statements with the most ``order_by``.

    ``order_by``: total_exec_time, mean_exec_time, calls, rows, shared_blks_read
    or shared_blks_hit (``total_time``/``mean_time`` are read where the
    extension is older than 1.8, e.g. PostgreSQL 12). Only the connected
    database unless ``all_databases``. Returns
    pg_statements columns (queryid, query, calls, total_exec_time_ms,
    mean_exec_time_ms, rows, shared_blks_hit, shared_blks_read) then userid,
    dbid, toplevel, usename, datname, stddev_exec_time_ms, max_exec_time_ms,
    sampled_at. Rows another role ran show ``<insufficient privilege>`` without
    ``pg_read_all_stats``; ``attrs["insufficient_privilege"]`` counts them.
    Raises QueryError (with the fix) when the extension is missing.
    """
    return _statements(engine, limit=limit, order_by=order_by, all_databases=all_databases, info=False)


def statements_snapshot(engine: Engine, *, limit: int = 5000, all_databases: bool = False) -> pd.DataFrame:
    """Every pg_stat_statements entry now (up to ``limit``), for :func:`statements_delta`.

    Columns as :func:`top_statements`. ``attrs`` holds ``sampled_at`` (server
    time), ``stats_reset`` and ``dealloc`` (pg_stat_statements_info, 1.9+),
    ``truncated`` and ``insufficient_privilege``.
    """
    return _statements(engine, limit=limit, order_by="total_exec_time", all_databases=all_databases, info=True)


def _iso(ts: Any) -> str | None:
    """attrs hold times as ISO text so frames still write to Parquet (attrs go in as JSON)."""
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).tz_convert("UTC").isoformat()


def _meta(frame: pd.DataFrame, key: str) -> Any:
    value = frame.attrs.get(key)
    if isinstance(value, str) and key in ("sampled_at", "stats_reset"):
        return pd.Timestamp(value)
    if value is None and key in frame.columns and len(frame):
        value = frame[key].dropna().max() if frame[key].notna().any() else None
    return value


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """Counters per statement key; hidden rows (no queryid) of one role/database are summed."""
    f = frame.copy()
    for col in _KEY:
        if col not in f.columns:
            f[col] = pd.NA
    agg: dict[str, Any] = {c: "sum" for c in _COUNTERS}
    agg.update({c: "first" for c in ("query", "usename", "datname") if c in f.columns})
    return f.groupby(_KEY, dropna=False, sort=False).agg(agg).reset_index()


def statements_delta(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """What each statement did between two :func:`statements_snapshot` results.

    Returns pg_statements columns whose counters are the work done between the
    snapshots (mean = total / calls in the window), only statements that ran,
    most total time first, then: userid, dbid, toplevel, usename, datname,
    ``change``, ``baseline_calls``, ``baseline_mean_exec_time_ms`` (the
    cumulative figures at ``before``), ``since``, ``until``.

    ``change`` is ``delta`` (after minus before), ``new`` (first seen after
    ``before``: all its calls are in the window), ``reset`` (the counters went
    down, or pg_stat_statements_reset() ran in between: the figures are those
    since the reset, a lower bound), or ``evicted`` (in ``before`` only;
    counters missing; not listed after a full reset, which clears every
    entry). Counters are never negative. ``attrs``: ``reset`` (bool),
    ``stats_reset``, ``evicted`` (count), ``dealloc`` (entries evicted per
    pg_stat_statements_info), ``notes`` (readable lines).
    """
    since, until = _meta(before, "sampled_at"), _meta(after, "sampled_at")
    reset_before, reset_after = _meta(before, "stats_reset"), _meta(after, "stats_reset")
    full_reset = reset_before is not None and reset_after is not None and reset_after > reset_before
    b, a = _keyed(before), _keyed(after)
    m = a.merge(b, on=_KEY, how="outer", suffixes=("", "_before"), indicator=True)
    went_down = pd.Series(False, index=m.index)
    for c in ("calls", "total_exec_time_ms"):
        went_down |= (m[c] < m[f"{c}_before"]).fillna(False).astype(bool)
    both = m["_merge"] == "both"
    change = pd.Series("delta", index=m.index, dtype=object)
    change[m["_merge"] == "left_only"] = "new"
    change[m["_merge"] == "right_only"] = "evicted"
    change[both & (went_down | full_reset)] = "reset"
    if full_reset:
        # After a full reset every entry of `before` is gone by design; listing them is noise.
        change[m["_merge"] == "right_only"] = "cleared"
    out = pd.DataFrame({k: m[k] for k in _KEY})
    for c in ("query", "usename", "datname"):
        if c in m.columns:
            out[c] = m[c].where(m[c].notna(), m.get(f"{c}_before"))
    for c in _COUNTERS:
        diff = m[c] - m[f"{c}_before"].fillna(0)
        out[c] = diff.where(change == "delta", m[c]).where(change != "evicted")
    out["change"] = change
    out["baseline_calls"] = m["calls_before"].where(both)
    baseline_mean = m["total_exec_time_ms_before"] / m["calls_before"].where(m["calls_before"] > 0)
    out["baseline_mean_exec_time_ms"] = baseline_mean.where(both)
    out = out[(out["change"] == "evicted") | ((out["change"] != "cleared") & (out["calls"].fillna(0) > 0))]
    calls = out["calls"].astype("float64")
    out["mean_exec_time_ms"] = out["total_exec_time_ms"].astype("float64") / calls.where(calls > 0)
    out["since"] = since
    out["since"] = out["since"].where(out["change"] != "reset", reset_after if full_reset else None)
    out["until"] = until
    out = out.sort_values(["total_exec_time_ms", "calls"], ascending=False, na_position="last")
    cols = list(tables.SCHEMAS["pg_statements"]) + [c for c in out.columns if c not in tables.SCHEMAS["pg_statements"]]
    frame = tables.conform(out[cols], "pg_statements")
    for col in ("since", "until"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[ns, UTC]")
    frame["change"] = frame["change"].astype("str")
    evicted = int((frame["change"] == "evicted").sum())
    notes = []
    if full_reset:
        notes.append(f"pg_stat_statements_reset() ran at {reset_after}: figures after it are lower bounds")
    n_reset = int((frame["change"] == "reset").sum())
    if n_reset and not full_reset:
        notes.append(f"{n_reset} statement(s) were reset between the snapshots: their figures are lower bounds")
    if evicted:
        notes.append(f"{evicted} statement(s) left pg_stat_statements between the snapshots (evicted or reset)")
    d0, d1 = _meta(before, "dealloc"), _meta(after, "dealloc")
    dealloc = int(d1 - d0) if d0 is not None and d1 is not None and d1 >= d0 else None
    if dealloc:
        notes.append(f"pg_stat_statements evicted entries {dealloc} time(s): raise pg_stat_statements.max")
    frame.attrs.update(
        {"reset": bool(full_reset or n_reset), "stats_reset": _iso(reset_after), "evicted": evicted,
         "dealloc": dealloc, "notes": notes, "since": _iso(since), "until": _iso(until)}
    )
    return frame
