"""Key times of an incident: when it started, was detected, acknowledged, mitigated
and resolved, and how long each step took.

- **first symptom**: the earliest symptom event of the timeline (first_error,
  error_burst, threshold_breach, slow_query, lock_wait, health_failed; warning
  or critical) — when the incident really began;
- **detection**: the incident record's ``triggered_at`` (the alert);
- **acknowledgement**: ``acknowledged_at``;
- **mitigation**: the end of the last threshold breach (metrics back under every
  rule); unknown while a breach is still ongoing at the end of the window;
- **resolution**: ``resolved_at``.

Time to detect, mitigate and resolve are measured from the first symptom (the
customer's clock); time to acknowledge from detection (the pager's clock, as
the SLA counts it).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..model.times import to_utc
from .health import LIVE_CHECK_GRACE
from .timeline import _cache_key, bundle_breaches, first_symptom, metric_step, timeline

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = ["KEY_TIME_COLUMNS", "KeyTimes", "key_times"]

KEY_TIME_COLUMNS = ("milestone", "timestamp", "time_to", "duration", "evidence", "ref")


_ts = to_utc


def _since(later: pd.Timestamp | None, earlier: pd.Timestamp | None) -> pd.Timedelta | None:
    if later is None or earlier is None:
        return None
    return later - earlier


@dataclass(frozen=True)
class KeyTimes:
    """The incident's milestones (UTC Timestamps, None when unknown) and the time
    between them (Timedeltas, None when either end is unknown).

    ``first_error`` and ``first_breach`` are the first ``first_error`` event and the
    first breach start; ``*_evidence``/``*_ref`` say what the first symptom and
    mitigation are; ``mitigation_ongoing`` is True when a breach had not ended by
    the end of the window (mitigation then is None).
    """

    first_symptom: pd.Timestamp | None
    detection: pd.Timestamp | None
    acknowledgement: pd.Timestamp | None
    mitigation: pd.Timestamp | None
    resolution: pd.Timestamp | None
    first_error: pd.Timestamp | None = None
    first_breach: pd.Timestamp | None = None
    first_symptom_evidence: str = ""
    first_symptom_ref: str = ""
    mitigation_evidence: str = ""
    mitigation_ref: str = ""
    mitigation_ongoing: bool = False

    @property
    def time_to_detect(self) -> pd.Timedelta | None:
        """detection - first symptom."""
        return _since(self.detection, self.first_symptom)

    @property
    def time_to_acknowledge(self) -> pd.Timedelta | None:
        """acknowledgement - detection."""
        return _since(self.acknowledgement, self.detection)

    @property
    def time_to_mitigate(self) -> pd.Timedelta | None:
        """mitigation - first symptom."""
        return _since(self.mitigation, self.first_symptom)

    @property
    def time_to_resolve(self) -> pd.Timedelta | None:
        """resolution - first symptom."""
        return _since(self.resolution, self.first_symptom)

    def _repr_html_(self) -> str:
        # A notebook cell that ends in key_times(bundle) shows the table, not the repr.
        return str(self.frame().to_html(index=False, na_rep="", escape=True))

    def frame(self) -> pd.DataFrame:
        """One row per milestone, in order: first symptom, first error, first breach,
        detection, acknowledgement, mitigation, resolution.

        Columns: milestone, timestamp (UTC, NaT when unknown), time_to (e.g. "time to
        detect", empty for the first three), duration (Timedelta of that interval),
        evidence (what the time is taken from), ref (into the evidence).
        """
        rows = [
            ("first symptom", self.first_symptom, "", None, self.first_symptom_evidence, self.first_symptom_ref),
            ("first error", self.first_error, "", None, "first first_error event of the timeline", ""),
            ("first breach", self.first_breach, "", None, "first threshold breach of the metrics", ""),
            ("detection", self.detection, "time to detect", self.time_to_detect, "incident triggered_at", ""),
            ("acknowledgement", self.acknowledgement, "time to acknowledge", self.time_to_acknowledge,
             "incident acknowledged_at", ""),
            ("mitigation", self.mitigation, "time to mitigate", self.time_to_mitigate,
             self.mitigation_evidence or ("a breach is still ongoing" if self.mitigation_ongoing else "no breach"),
             self.mitigation_ref),
            ("resolution", self.resolution, "time to resolve", self.time_to_resolve, "incident resolved_at", ""),
        ]
        frame = pd.DataFrame(rows, columns=list(KEY_TIME_COLUMNS))
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
        frame["duration"] = pd.to_timedelta(frame["duration"]).astype("timedelta64[ns]")
        for col in ("milestone", "time_to", "evidence", "ref"):
            frame[col] = frame[col].astype("str")
        return frame


# A report asks for the key times many times (the verdict, the key-times table, every
# figure's incident period); KeyTimes is frozen, so one per bundle object and manifest.
_CACHE: weakref.WeakKeyDictionary[EvidenceBundle, tuple[tuple[Any, ...], KeyTimes]] = weakref.WeakKeyDictionary()


def key_times(bundle: EvidenceBundle) -> KeyTimes:
    """The :class:`KeyTimes` of ``bundle`` (see the module docstring for each time);
    ``key_times(bundle).frame()`` is the table a report shows."""
    key = _cache_key(bundle)
    cached = _CACHE.get(bundle)
    if cached is not None and cached[0] == key:
        return cached[1]
    found = _key_times(bundle)
    _CACHE[bundle] = (key, found)
    return found


def _key_times(bundle: EvidenceBundle) -> KeyTimes:
    events = timeline(bundle)
    # Checks made at collection, long after the window, are not incident symptoms.
    in_time = events[events["timestamp"].isna() | (events["timestamp"] <= bundle.window.end + LIVE_CHECK_GRACE)]
    first = first_symptom(in_time, metric_step=metric_step(bundle))
    errors = events[(events["kind"] == "first_error") & events["timestamp"].notna()]["timestamp"]
    found = bundle_breaches(bundle)
    mitigation: pd.Timestamp | None = None
    mitigation_evidence = mitigation_ref = ""
    ongoing = bool(len(found) and found["ongoing"].fillna(False).astype(bool).any())
    if len(found) and not ongoing:
        last = found.sort_values("end", kind="stable").iloc[-1]
        mitigation = _ts(last["end"])
        mitigation_evidence = f"end of the last breach: {last['summary']} ({last['name']})"
        mitigation_ref = f"metrics:{last['name']}:{last['series']}"
    record = bundle.table("incident") if bundle.has("incident") else None

    def milestone(col: str) -> pd.Timestamp | None:
        if record is None or col not in record.columns or len(record) == 0:
            return None
        return _ts(record[col].iloc[0])

    return KeyTimes(
        first_symptom=_ts(first["timestamp"]) if first is not None else None,
        detection=milestone("triggered_at"),
        acknowledgement=milestone("acknowledged_at"),
        mitigation=mitigation,
        resolution=milestone("resolved_at"),
        first_error=_ts(errors.min()) if len(errors) else None,
        first_breach=_ts(found["start"].min()) if len(found) else None,
        first_symptom_evidence=(f"{first['kind']} on {first['service']}: {first['summary']}" if first is not None else ""),
        first_symptom_ref=str(first["ref"]) if first is not None and not pd.isna(first["ref"]) else "",
        mitigation_evidence=mitigation_evidence,
        mitigation_ref=mitigation_ref,
        mitigation_ongoing=ongoing,
    )
