"""Service health and trading impact, from the services source's tables (pure).

- :func:`health_events` / :func:`execution_events` / :func:`reconcile_events`
  turn one table into TIMELINE rows; :func:`bundle_events` gathers them from a
  bundle for the investigation timeline.
- :func:`impact_summary` answers the runbook's "are positions at risk, are
  orders executing, do positions reconcile?" as a plain dict the severity
  rules read; :func:`impact_from_bundle` does it for a bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..bundle import EvidenceBundle
from ..model import tables
from ..window import TimeWindow

__all__ = [
    "FAILED_STATUSES",
    "REJECTED_STATUSES",
    "FailingOrders",
    "bundle_events",
    "execution_events",
    "failing_orders",
    "health_events",
    "impact_from_bundle",
    "impact_summary",
    "reconcile_events",
]

SOURCE = "services"  # COLLECTOR.name of sources.services
REJECTED_STATUSES = frozenset({"rejected", "reject", "refused", "denied"})
FAILED_STATUSES = frozenset({"failed", "failure", "error", "errored", "timeout", "timed_out", "expired"})
_OPEN_STATUSES = frozenset({"open", "opened", "active"})
_NOT_OK = ("degraded", "down", "unreachable")


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA else str(v)


def _timeline(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return tables.empty("timeline")
    frame = tables.conform(rows, "timeline")
    return frame.sort_values(["timestamp", "service"], kind="stable", na_position="last").reset_index(drop=True)


def health_events(health: pd.DataFrame) -> pd.DataFrame:
    """TIMELINE rows (kind ``health_failed``) for every health check not ``ok``.

    Severity: ``critical`` for a down or unreachable service on the trading path
    (``critical`` column true or absent), ``warning`` for a degraded one or a
    non-critical service. ``ref`` is ``health:<service>@<checked_at>``.
    """
    if health is None or len(health) == 0:
        return tables.empty("timeline")
    rows = []
    critical = _col(health, "critical")
    for i, r in enumerate(health.itertuples(index=False)):
        status = _text(getattr(r, "status", None)).lower()
        if status not in _NOT_OK:
            continue
        on_path = critical.iloc[i]
        on_path = True if on_path is None or pd.isna(on_path) else bool(on_path)
        severity = "critical" if status in ("down", "unreachable") and on_path else "warning"
        when = getattr(r, "checked_at", pd.NaT)
        code = getattr(r, "status_code", None)
        error = _text(getattr(r, "error", None))
        latency = getattr(r, "latency_ms", None)
        bits = [f"{r.service} {status}"]
        if error:
            bits.append(error)
        elif code is not None and not pd.isna(code):
            bits.append(f"HTTP {int(code)}")
        where = f"GET {_text(getattr(r, 'url', ''))}".strip()
        if latency is not None and not pd.isna(latency):
            where += f", {float(latency):.0f} ms"
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(when, pd.Timestamp) and not pd.isna(when) else "?"
        rows.append({
            "timestamp": when,
            "source": SOURCE,
            "service": r.service,
            "kind": "health_failed",
            "severity": severity,
            "summary": f"{': '.join(bits)} ({where})",
            "ref": f"health:{r.service}@{stamp}",
        })
    return _timeline(rows)


def _status(frame: pd.DataFrame) -> pd.Series:
    return _col(frame, "status").astype(object).map(lambda v: _text(v).strip().lower())


def execution_events(executions: pd.DataFrame) -> pd.DataFrame:
    """TIMELINE rows: the first rejected or failed execution of each service
    (kind ``first_error``, severity ``warning``), its summary counting all of
    them. ``ref`` is ``executions:<execution_id>`` (or the order id)."""
    if executions is None or len(executions) == 0 or "timestamp" not in executions.columns:
        return tables.empty("timeline")
    status = _status(executions)
    bad = executions[status.isin(REJECTED_STATUSES | FAILED_STATUSES) & executions["timestamp"].notna()]
    if len(bad) == 0:
        return tables.empty("timeline")
    rows = []
    bad = bad.sort_values("timestamp", kind="stable")
    for service, group in bad.groupby(_col(bad, "service").astype(object).map(_text), sort=True):
        first = group.iloc[0]
        st = _status(group)
        n_rej, n_fail = int(st.isin(REJECTED_STATUSES).sum()), int(st.isin(FAILED_STATUSES).sum())
        ident = _text(first.get("execution_id")) or _text(first.get("order_id")) or str(first.name)
        order = _text(first.get("order_id"))
        reason = _text(first.get("error"))
        what = f"order {order} " if order else ""
        rows.append({
            "timestamp": first["timestamp"],
            "source": SOURCE,
            "service": service or None,
            "kind": "first_error",
            "severity": "warning",
            "summary": (
                f"first failed execution: {what}{_text(first.get('status')).lower()}"
                + (f" ({reason})" if reason else "")
                + f"; {n_rej} rejected and {n_fail} failed in the window"
            ),
            "ref": f"executions:{ident}",
        })
    return _timeline(rows)


def reconcile_events(reconcile: pd.DataFrame) -> pd.DataFrame:
    """TIMELINE rows (kind ``health_failed``, severity ``critical``), one per
    position whose reconciliation is a ``mismatch``. ``ref`` is
    ``reconcile:<account>:<symbol>``."""
    if reconcile is None or len(reconcile) == 0:
        return tables.empty("timeline")
    mismatched = reconcile[_status(reconcile) == "mismatch"]
    rows = []
    for _, r in mismatched.iterrows():
        account, symbol = _text(r.get("account")), _text(r.get("symbol"))
        internal, broker = r.get("internal_quantity"), r.get("broker_quantity")
        qty = ""
        if internal is not None and broker is not None and not (pd.isna(internal) or pd.isna(broker)):
            qty = f": internal {float(internal):g} vs broker {float(broker):g}"
        detail = _text(r.get("detail"))
        rows.append({
            "timestamp": r.get("checked_at"),
            "source": SOURCE,
            "service": _text(r.get("service")) or None,
            "kind": "health_failed",
            "severity": "critical",
            "summary": f"position reconciliation mismatch, account {account or '?'} {symbol or '?'}{qty}"
            + (f" ({detail})" if detail else ""),
            "ref": f"reconcile:{account}:{symbol}",
        })
    return _timeline(rows)


def _usable(bundle: EvidenceBundle, name: str) -> pd.DataFrame | None:
    # skipped/unavailable/missing: nothing is known, which is not the same as "none".
    if bundle.status(name) not in ("ok", "empty", "truncated"):
        return None
    return bundle.table(name)


def bundle_events(bundle: EvidenceBundle) -> pd.DataFrame:
    """TIMELINE rows from the bundle's services tables (health, executions,
    reconcile): :func:`health_events`, :func:`execution_events` and
    :func:`reconcile_events` together, by time. Empty TIMELINE when the
    tables are absent or empty.

    Health checks and reconciliations are made when the bundle is collected; one made
    more than :data:`LIVE_CHECK_GRACE` after the window ended describes the system at
    collection, not the incident: its event is severity ``info`` (never a symptom) and
    its summary starts with "at collection <date-time> UTC (still … now)"."""
    parts = []
    for name, fn in (("health", health_events), ("executions", execution_events), ("reconcile", reconcile_events)):
        frame = _usable(bundle, name)
        if frame is not None and len(frame):
            parts.append(_label_late(fn(frame), bundle) if name != "executions" else fn(frame))
    parts = [p for p in parts if len(p)]
    if not parts:
        return tables.empty("timeline")
    return _timeline(pd.concat(parts, ignore_index=True).to_dict("records"))


@dataclass(frozen=True)
class FailingOrders:
    """Orders rejected or failed while orders were failing (first to last bad execution)."""

    failed: int
    orders: int  # executions between the first and the last failed one
    share: float
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    why: str  # the most common error
    window_orders: int

    def describe(self) -> str:
        when = f" between {self.first:%H:%M} and {self.last:%H:%M} UTC" if self.first is not None else ""
        return (f"{self.failed:,} of {self.orders:,} orders rejected or failed{when} ({self.share:.0%})"
                + (f", mostly: {self.why[:80]}" if self.why else ""))


def failing_orders(executions: pd.DataFrame | None) -> FailingOrders | None:
    """:class:`FailingOrders` of ``executions`` (None without a status column). The share
    is over the orders sent from the first rejected/failed execution to the last, so a
    40-minute incident in a 2-hour window is not diluted by the healthy hours around it."""
    if executions is None or not len(executions) or "status" not in executions.columns:
        return None
    st = _status(executions)
    bad = executions[st.isin(REJECTED_STATUSES | FAILED_STATUSES).to_numpy()]
    if not len(bad):
        return FailingOrders(0, len(executions), 0.0, None, None, "", len(executions))
    span, first, last = executions, None, None
    if "timestamp" in executions.columns and bad["timestamp"].notna().any():
        first, last = bad["timestamp"].min(), bad["timestamp"].max()
        ts = executions["timestamp"]
        span = executions[(ts >= first) & (ts <= last)]
    why = ""
    if "error" in bad.columns and bad["error"].notna().any():
        why = str(bad["error"].dropna().astype(str).value_counts().index[0])
    return FailingOrders(len(bad), len(span), len(bad) / max(len(span), 1), first, last, why, len(executions))


#: A live check made this long after the window ended describes "now", not the incident.
LIVE_CHECK_GRACE = pd.Timedelta(minutes=15)


def _label_late(events: pd.DataFrame, bundle: EvidenceBundle) -> pd.DataFrame:
    if not len(events):
        return events
    late = (events["timestamp"] > bundle.window.end + LIVE_CHECK_GRACE).fillna(False).to_numpy(dtype=bool)
    if not late.any():
        return events
    out = events.copy()
    out.loc[late, "severity"] = "info"
    out.loc[late, "summary"] = [
        f"at collection {t:%Y-%m-%d %H:%M} UTC (still so now, not incident evidence): {s}"
        for t, s in zip(out.loc[late, "timestamp"], out.loc[late, "summary"], strict=True)
    ]
    return out


def impact_summary(
    *,
    health: pd.DataFrame | None = None,
    positions: pd.DataFrame | None = None,
    executions: pd.DataFrame | None = None,
    reconcile: pd.DataFrame | None = None,
    signals: pd.DataFrame | None = None,
    window: TimeWindow | None = None,
    signal_latency_s: float = 5.0,
) -> dict[str, Any]:
    """The trading impact the severity rules read, as a dict.

    A table passed as None is unknown and its fields are None (not 0):

    - ``open_positions`` (int): positions whose status is open/active (or with
      no status and a non-zero quantity); ``exposure`` (float): the sum of their
      absolute ``exposure``, where missing their absolute ``quantity``;
      ``exposure_by_symbol`` (dict symbol → float);
    - ``executions``, ``rejected_executions``, ``failed_executions`` (int):
      executions in ``window`` (all when None), and those whose status is in
      REJECTED_STATUSES / FAILED_STATUSES; ``first_failed_execution_at``;
    - ``signals``, ``late_signals`` (int): signals in the window, and those with
      ``latency_ms`` above ``signal_latency_s``; ``max_signal_latency_s``;
    - ``reconciled`` (int), ``reconcile_mismatches`` (int): positions
      reconciled and those whose status is ``mismatch``;
    - ``services_down``, ``services_degraded``, ``critical_services_down``
      (sorted lists of names; down includes unreachable);
    - ``unknown``: the inputs that were None.
    """
    out: dict[str, Any] = {"unknown": []}
    if health is None:
        out["unknown"].append("health")
        out.update(services_down=None, services_degraded=None, critical_services_down=None)
    else:
        st = _status(health)
        down = health[st.isin(("down", "unreachable"))]
        crit = _col(down, "critical").map(lambda v: True if v is None or pd.isna(v) else bool(v))
        out["services_down"] = sorted({_text(s) for s in _col(down, "service")})
        out["services_degraded"] = sorted({_text(s) for s in _col(health[st == "degraded"], "service")})
        out["critical_services_down"] = sorted({_text(s) for s in _col(down[crit.astype(bool)], "service")})

    if positions is None:
        out["unknown"].append("positions")
        out.update(open_positions=None, exposure=None, exposure_by_symbol=None)
    else:
        st = _status(positions)
        qty = pd.to_numeric(_col(positions, "quantity"), errors="coerce")
        is_open = st.isin(_OPEN_STATUSES) | ((st == "") & qty.fillna(0).ne(0))
        opened = positions[is_open]
        exp = pd.to_numeric(_col(opened, "exposure"), errors="coerce").abs()
        exp = exp.fillna(pd.to_numeric(_col(opened, "quantity"), errors="coerce").abs()).fillna(0.0)
        by_symbol = exp.groupby(_col(opened, "symbol").astype(object).map(_text)).sum()
        out["open_positions"] = len(opened)
        out["exposure"] = float(exp.sum())
        out["exposure_by_symbol"] = {str(k): float(v) for k, v in by_symbol.items()}

    if executions is None:
        out["unknown"].append("executions")
        out.update(executions=None, rejected_executions=None, failed_executions=None,
                   first_failed_execution_at=None)
    else:
        ex = _in(executions, window)
        st = _status(ex)
        bad = ex[st.isin(REJECTED_STATUSES | FAILED_STATUSES)]
        out["executions"] = len(ex)
        out["rejected_executions"] = int(st.isin(REJECTED_STATUSES).sum())
        out["failed_executions"] = int(st.isin(FAILED_STATUSES).sum())
        first = _col(bad, "timestamp").dropna()
        out["first_failed_execution_at"] = first.min() if len(first) else None

    if signals is None:
        out["unknown"].append("signals")
        out.update(signals=None, late_signals=None, max_signal_latency_s=None)
    else:
        sg = _in(signals, window)
        lat = pd.to_numeric(_col(sg, "latency_ms"), errors="coerce") / 1000.0
        out["signals"] = len(sg)
        out["late_signals"] = int((lat > signal_latency_s).sum())
        out["max_signal_latency_s"] = float(lat.max()) if lat.notna().any() else None

    if reconcile is None:
        out["unknown"].append("reconcile")
        out.update(reconciled=None, reconcile_mismatches=None)
    else:
        out["reconciled"] = len(reconcile)
        out["reconcile_mismatches"] = int((_status(reconcile) == "mismatch").sum())
    return out


def _in(frame: pd.DataFrame, window: TimeWindow | None) -> pd.DataFrame:
    if window is None or "timestamp" not in frame.columns or len(frame) == 0:
        return frame
    ts = frame["timestamp"]
    return frame[ts.isna() | window.mask(ts)]


def impact_from_bundle(bundle: EvidenceBundle, *, signal_latency_s: float | None = None) -> dict[str, Any]:
    """:func:`impact_summary` of the bundle's services tables over its window.

    Tables that are missing, skipped or unavailable count as unknown (None);
    ``truncated`` lists tables that were cut, whose counts are lower bounds.
    ``signal_latency_s`` defaults to the bundle config's
    ``[severity] signal_latency_critical_s`` (5 s).
    """
    if signal_latency_s is None:
        cfg = bundle.manifest.get("config") or {}
        signal_latency_s = float((cfg.get("severity") or {}).get("signal_latency_critical_s", 5.0))
    out = impact_summary(
        health=_usable(bundle, "health"),
        positions=_usable(bundle, "positions"),
        executions=_usable(bundle, "executions"),
        reconcile=_usable(bundle, "reconcile"),
        signals=_usable(bundle, "signals"),
        window=bundle.window,
        signal_latency_s=signal_latency_s,
    )
    out["truncated"] = sorted(
        n for n in ("health", "positions", "signals", "executions", "reconcile") if bundle.status(n) == "truncated"
    )
    return out
