"""Suspect changes: every change in the lookback, ranked by how well it explains the symptoms.

Candidates are the bundle's changes — deploys (deploy tags), commits without a
deploy tag, and container restarts seen in the logs that are not a deploy's
rollout. Each one is scored against the symptoms it *could* explain:

- **which symptoms**: those of a service the change can reach through the service
  graph (:mod:`eafix_forensics.model.topology`): its own service, the services
  depending on it (credit 1.0, 0.7, 0.5 … by hops upstream), a session of its
  service blocking another service's lock in PostgreSQL (0.9), a schema migration
  reaching everything on the database; a change downstream of a failing service
  earns 0.1, one unconnected to every failing service nothing;
- **proximity**: ``0.5 ** (lead / half_life)``, where ``lead`` runs from the
  change to the first symptom it could explain (never a later error, never a
  chronic condition, never an error a mitigation caused); half_life is 30 min;
- ``explain = max over the reachable failing services of credit × proximity``,
  at 0.6 when the symptom it explains is not the incident's first one, and half that
  again when a service that one depends on had failed before it (a cascade: a change
  to the downstream service only explains a consequence);
- **weight** of the kind of change: deploy 1.0, migration commit 0.9, config
  commit 0.8, restart 0.6, code commit 0.5 (it may not have reached production);
  a commit touching only docs, tests or CI ×0.1 (it cannot change what runs);
- a change after the incident's first symptom ×0.3 (it can only explain a later
  symptom); a rollback or a restart after the first symptom is mitigation, scored 0;
- a change made before the first symptom and undone during the incident (a
  ``Revert "<its subject>"``, or a deploy of its service back to the version before it)
  after which the symptoms stopped within :data:`REVERT_CONFIRM` is confirmed by the
  response: it explains the first symptom in full (credit 1.0, proximity by age);
  undone while the symptoms went on past :data:`REVERT_CONFIRM` (or still going at the
  window's end), it is cleared (×0.25) — unless undoing the code does not undo it (a
  schema migration, a library its consumers still run);
- when the database refused clients for lack of slots ("too many clients"), a change to
  the client that loaded it — a client showing no symptom while others were refused, or
  one the database's connection sample during the incident shows holding a large share —
  earns :data:`~eafix_forensics.analysis.shared_load.LOAD_CREDIT` for the refusals
  (:mod:`eafix_forensics.analysis.shared_load`); a refused client is a victim.

- a change to the database's client that loaded it is judged on the time scale of its
  work (×4 the half-life): the load comes when the job runs, not when it was changed;
- a symptom that is a service's link to an outside party failing (an expired certificate,
  a broker that does not answer) is not explained by a change to another, healthy service
  upstream of it (×0.3);
- a service its clients' errors say does not answer ("approval from risk-manager timed
  out") failed by the first such report, before them (a hang shows no symptom of its own):
  it is where the incident broke, and its clients' failures are its consequences.

The incident's first symptom (and each service's) follows the verdict's rule: an exact
symptom within one metric step after a metric sample is the first one.

``score = weight × explain``. Every change is listed, each with the reason it
ranks where it does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..bundle import bundle_config
from ..config import Config
from ..model import tables as schemas
from ..model.attribution import NON_RUNTIME_CLASSES
from ..model.times import format_duration
from ..model.topology import Topology, normalize_service, upstream_credit
from ..window import parse_duration
from .calendar import TradingCalendar
from .candidates import candidates, link_reverts
from .health import LIVE_CHECK_GRACE
from .logs import symptom_errors
from .reports import unanswered
from .shared_load import LOAD_CREDIT, LOAD_TIME_SCALE, connection_holders, refusal
from .timeline import SYMPTOM_KINDS, bundle_breaches, metric_step, timeline

if TYPE_CHECKING:
    from ..bundle import EvidenceBundle

__all__ = [
    "KIND_WEIGHTS",
    "LOCK_CREDIT",
    "SUSPECT_COLUMNS",
    "Symptoms",
    "bundle_services",
    "lock_links",
    "rank_changes",
    "suspects",
    "symptoms_of",
]

KIND_WEIGHTS = {"deploy": 1.0, "migration": 0.9, "config": 0.8, "restart": 0.6, "commit": 0.5}
NON_RUNTIME_FACTOR = 0.1
AFTER_FIRST_FACTOR = 0.3
LATER_SYMPTOM_FACTOR = 0.6
#: ... and this again when a service it depends on had failed before it (a cascade).
CASCADE_FACTOR = 0.5
NO_SERVICE_CREDIT = 0.3
LOCK_CREDIT = 0.9
SUSPECT_COLUMNS: dict[str, str] = {
    "rank": "Int64",
    "kind": "str",
    "timestamp": "datetime64[ns, UTC]",
    "service": "str",
    "sha": "str",
    "ref": "str",
    "lead": "timedelta64[ns]",
    "score": "float64",
    "reason": "str",
    "summary": "str",
    "change_class": "str",
    "subject": "str",
    "author": "str",
    "tag": "str",
    "version": "str",
    "previous_tag": "str",
    "files_changed": "Int64",
    "insertions": "Int64",
    "deletions": "Int64",
    "explains": "str",
    "mitigation": "boolean",
}
HALF_LIFE = pd.Timedelta(minutes=30)
#: A change undone during the incident is confirmed when the symptoms stop this soon after.
REVERT_CONFIRM = pd.Timedelta(minutes=15)
#: A symptom that is a service's link to an outside party failing (the broker, the venue, a peer's
#: certificate): a change to another, healthy service upstream does not carry that link.
OUTSIDE = re.compile(
    r"(?i)certificate (?:has )?expired|certificate verify failed|\b(?:tls|ssl) handshake\b"
    r"|\blogon (?:rejected|refused|failed)\b"
    r"|\b(?:broker|venue|exchange|counterparty)\b[^\n]{0,60}?\b(?:unreachable|refused|timed? ?out|disconnected|unavailable)\b"
)
OUTSIDE_FACTOR = 0.3
#: A change undone during the incident while the symptoms went on is cleared this far.
UNDONE_IN_VAIN_FACTOR = 0.25
DB_NODE = "postgres"


def _text(v: Any) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _minutes(td: pd.Timedelta) -> str:
    return format_duration(abs(td), seconds_under=pd.Timedelta(minutes=10))


# ------------------------------------------------------------------ symptoms
@dataclass
class Symptoms:
    """The symptoms a change can explain: each failing graph node's first symptom."""

    first_at: dict[str, pd.Timestamp] = field(default_factory=dict)  # node -> first symptom time
    what: dict[str, str] = field(default_factory=dict)  # node -> "13:55:00 first_error on execution-engine"
    incident_at: pd.Timestamp | None = None
    incident_what: str = ""
    incident_node: str = ""
    together: set[str] = field(default_factory=set)  # nodes that failed at the incident's first instant
    ended_at: pd.Timestamp | None = None  # when the last symptom stopped (None: unknown or still going)
    ongoing_until: pd.Timestamp | None = None  # a symptom still going at this time (the window's end)
    exhausted: dict[str, str] = field(default_factory=dict)  # resource node -> its refusal, in words
    refused: set[str] = field(default_factory=set)  # nodes whose symptoms say the resource refused them
    holders: dict[str, str] = field(default_factory=dict)  # service -> its share of the database's connections
    outside: dict[str, str] = field(default_factory=dict)  # node -> words of its link to an outside party failing
    blamers: dict[str, set[str]] = field(default_factory=dict)  # node -> the nodes whose errors say it did not answer


def _node(service: str, source: str, topology: Topology) -> str:
    norm = normalize_service(service) if service else ""
    if norm and norm in topology:
        return norm
    if source == "postgres" and DB_NODE in topology:
        return DB_NODE  # a database name (eafix_prod) is the shared database node
    return norm


#: Symptoms this close to the incident's first one happened "at once".
TOGETHER = pd.Timedelta(minutes=1)


def symptoms_of(
    events: pd.DataFrame, topology: Topology, *, until: pd.Timestamp | None = None,
    together: pd.Timedelta = TOGETHER, metric_step: pd.Timedelta | None = None,
) -> Symptoms:
    """The first symptom (warning/critical, not chronic) of each failing node of ``events``;
    symptoms after ``until`` (checks made at collection, long after the window) are left out.
    ``Symptoms.together`` holds the nodes whose first symptom came within ``together`` of
    the incident's first one (a failure of several services at once).

    The first symptom follows :func:`~eafix_forensics.analysis.timeline.first_symptom`'s
    rule, so the leads are measured to the symptom the verdict names: a metric sample is
    known to one ``metric_step`` only, and an exactly timed symptom within that step after
    it is the first one (for the incident and for each node)."""
    ev = events[
        events["kind"].isin(SYMPTOM_KINDS)
        & events["severity"].isin(("warning", "critical"))
        & events["timestamp"].notna()
    ]
    if until is not None:
        ev = ev[ev["timestamp"] <= until]
    out = Symptoms()
    rows: list[tuple[pd.Timestamp, bool, str, str]] = []  # (time, exact, node, what)
    blamed: list[tuple[pd.Timestamp, bool, str, str]] = []  # a node its clients say did not answer
    for _, r in ev.sort_values("timestamp", kind="stable").iterrows():
        node = _node(_text(r.get("service")), _text(r.get("source")), topology)
        what = f"{r['timestamp']:%H:%M:%S} {r['kind']} on {_text(r.get('service')) or 'an unnamed service'}"
        rows.append((r["timestamp"], r["kind"] != "threshold_breach", node, what))
        said = unanswered(_text(r.get("summary")), _dependencies(node, topology)) if node in topology else None
        if said is not None:
            blamed.append((r["timestamp"], True, said[0],
                           f"{r['timestamp']:%H:%M:%S} {node} reports {said[0]} not answering ({said[1]!r})"))
            out.blamers.setdefault(said[0], set()).add(node)
        link = OUTSIDE.search(_text(r.get("summary")))
        if link and node:
            out.outside.setdefault(node, link.group(0))
        refused = refusal(_text(r.get("summary")))
        if refused and node:
            # The database's own words, or a client quoting them: the database ran out of slots.
            res = DB_NODE if DB_NODE in topology else node
            out.exhausted.setdefault(res, f"{r['timestamp']:%H:%M:%S} {_text(r.get('service')) or node}: {refused!r}")
            out.refused.add(node)
    if not rows:
        return out
    first = _first_of(rows, metric_step)
    out.incident_at, _, out.incident_node, out.incident_what = first
    for node in dict.fromkeys(n for _, _, n, _ in rows if n):
        at, _, _, what = _first_of([x for x in rows if x[2] == node], metric_step)
        out.first_at[node], out.what[node] = at, what
    # A service its clients say did not answer failed by the first such report (before its
    # reporters: it is where the incident broke when the report is the incident's first symptom).
    for at, _, node, what in blamed:
        if node not in out.first_at or at < out.first_at[node]:
            out.first_at[node], out.what[node] = at, what
        if at <= out.incident_at and out.incident_node in out.blamers.get(node, ()):
            out.incident_node = node
    out.together = {n for n, at in out.first_at.items() if at <= out.incident_at + together}
    return out


def _dependencies(node: str, topology: Topology) -> list[str]:
    """The services ``node`` depends on, directly or not (nearest first)."""
    deps = [(topology.distance(n, node), n) for n in topology.depends_on if n != node]
    return [n for d, n in sorted((d, n) for d, n in deps if d is not None)]


def _first_of(
    rows: list[tuple[pd.Timestamp, bool, str, str]], step: pd.Timedelta | None,
) -> tuple[pd.Timestamp, bool, str, str]:
    """The first of time-ordered symptom ``rows``: an exact one within ``step`` after a metric sample wins."""
    head = rows[0]
    if step is not None and not head[1]:
        exact = next((x for x in rows if x[1] and x[0] <= head[0] + step), None)
        if exact is not None:
            return exact
    return head


#: Services failing at the same instant: this many make a common-mode failure, which a
#: change explains only as far as it reaches all of them.
COMMON_MODE_MIN = 3


def lock_links(bundle: EvidenceBundle, config: Config, known: set[str]) -> dict[tuple[str, str], str]:
    """(blocker's service, waiter's service) -> evidence, from ``pg_locks``: a session of
    one service holding a lock another service's session waits for. Sessions are mapped
    to services by ``[postgres] applications``, else by their application_name."""
    if not bundle.has("pg_locks") or bundle.status("pg_locks") not in ("ok", "truncated"):
        return {}
    locks = bundle.table("pg_locks")
    if locks.empty or "granted" not in locks.columns:
        return {}
    names = {normalize_service(k): k for k in known}
    apps = {normalize_service(k): v for k, v in config.postgres.applications.items()}

    def service(app: Any) -> str:
        a = normalize_service(_text(app))
        if not a:
            return ""
        if a in apps:
            return normalize_service(apps[a])
        return a if a in names else ""

    app_of: dict[int, str] = {}
    if "application_name" in locks.columns:
        for pid, app in zip(locks["pid"], locks["application_name"], strict=True):
            if pd.notna(pid) and _text(app):
                app_of[int(pid)] = _text(app)
    if bundle.has("pg_activity"):
        act = bundle.table("pg_activity")
        if len(act) and "application_name" in act.columns:
            for pid, app in zip(act["pid"], act["application_name"], strict=True):
                if pd.notna(pid) and _text(app):
                    app_of.setdefault(int(pid), _text(app))
    links: dict[tuple[str, str], str] = {}
    waiting = locks[~locks["granted"].fillna(True).astype(bool)]
    for _, w in waiting.iterrows():
        waiter = service(w.get("application_name") or app_of.get(_int(w.get("pid")) or -1))
        blockers = [p for p in re.split(r"[,\s]+", _text(w.get("blocked_by"))) if p.isdigit()]
        root = _text(w.get("root_blocker")) if "root_blocker" in w else ""
        for pid in dict.fromkeys([*blockers, *([root] if root.isdigit() else [])]):
            blocker = service(app_of.get(int(pid)))
            if blocker and waiter and blocker != waiter:
                links.setdefault((blocker, waiter), f"pid {pid} ({app_of.get(int(pid))}) blocked pid "
                                 f"{_int(w.get('pid'))} ({_text(w.get('application_name')) or waiter})"
                                 + (f" on {_text(w.get('relation'))}" if _text(w.get("relation")) else ""))
    return links


# ------------------------------------------------------------------ ranking
def _credit(
    service: str, klass: str, failing: str, topology: Topology, links: dict[tuple[str, str], str],
) -> tuple[float, str]:
    """Overlap credit of a change to ``service`` for a symptom of node ``failing``, and why."""
    if not service:
        return NO_SERVICE_CREDIT, "it names no service"
    s = normalize_service(service)
    touched = [s] + ([DB_NODE] if klass == "migration" and DB_NODE in topology and s != DB_NODE else [])
    best, why = 0.0, ""
    for t in touched:
        if (t, failing) in links:
            if LOCK_CREDIT > best:
                best, why = LOCK_CREDIT, f"its session blocked {failing} in PostgreSQL: {links[(t, failing)]}"
            continue
        d = topology.distance(t, failing)
        down = topology.distance(failing, t) is not None
        c = upstream_credit(d, downstream=down)
        if c > best:
            if topology.is_library(t) and d is not None:
                users = ", ".join(topology.consumers(t))
                why = (f"{t} is a library {failing} uses: it changes {failing} itself" if d == 0 else
                       f"{t} is a library of {users}, upstream of {failing} ({d} hop{'s' if d > 1 else ''})")
            elif d == 0:
                why = f"it touches {failing} itself" if t == s else f"its migration touches {failing}"
            elif d is not None:
                why = (f"{t} is upstream of {failing} ({d} hop{'s' if d > 1 else ''})"
                       + (" — a schema migration" if t == DB_NODE and t != s else ""))
            else:
                why = f"{t} is downstream of {failing}"
            best = c
    return best, why


@dataclass
class _Context:
    """What every change is scored against (see :func:`rank_changes`)."""

    symptoms: Symptoms
    topology: Topology
    links: dict[tuple[str, str], str]
    half_life: pd.Timedelta
    calendar: TradingCalendar | None
    t0: pd.Timestamp | None
    t0_what: str

    def explain(self, ts: pd.Timestamp, svc: str, klass: str) -> tuple[float, str, str, pd.Timestamp | None]:
        """(value, why, node, its first symptom time) of the best symptom a change at ``ts``
        to ``svc`` could explain; value 0 and node "" when it can explain none."""
        sym = self.symptoms
        common = sym.together if len(sym.together) >= COMMON_MODE_MIN else set()
        reach = {n for n in common if self.credit(svc, klass, n)[0] >= upstream_credit(4)}
        best: tuple[float, str, str, pd.Timestamp | None] = (0.0, "", "", None)
        for node, at in sym.first_at.items():
            if at < ts:
                continue
            graph = self.outside_link(svc, node, _credit(svc, klass, node, self.topology, self.links))
            load = self.load_credit(svc, node)
            if graph[0] <= 0 and load[0] <= 0:
                continue
            age, closed = at - ts, ""
            if self.calendar is not None and self.calendar.is_open(at):
                age = self.calendar.trading_time(ts, at)
                if age < at - ts:
                    closed = f" (the market was closed for {_minutes(at - ts - age)} of the {_minutes(at - ts)} before it)"
            value, why = graph[0] * float(0.5 ** (age / self.half_life)), graph[1]
            if load[0] > 0:
                # A load comes when the client's work runs (a scheduled job, the busy hour), not when it changed.
                slow = load[0] * float(0.5 ** (age / (self.half_life * LOAD_TIME_SCALE)))
                value, why = max(value, slow), f"{why}; {load[1]}" if graph[0] > 0 else load[1]
            why += closed
            if node in common:
                value *= len(reach) / len(common)
                if len(reach) < len(common):
                    why += f"; it reaches only {len(reach)} of the {len(common)} services that failed at once"
            elif node != sym.incident_node:
                value *= LATER_SYMPTOM_FACTOR
            cause = self.failed_upstream(node, at) if node != sym.incident_node else ""
            if cause:
                value *= CASCADE_FACTOR
                why += f"; but {node} failed after {cause} upstream of it: a consequence of that failure"
            if value > best[0]:
                best = (value, why, node, at)
        return best

    def outside_link(self, svc: str, node: str, graph: tuple[float, str]) -> tuple[float, str]:
        """``graph`` (credit, why) of a change to ``svc`` for ``node``'s symptom, cut to
        :data:`OUTSIDE_FACTOR` when that symptom is ``node``'s link to an outside party
        failing (:data:`OUTSIDE`: an expired certificate, a broker that does not answer) and
        ``svc`` is another service, upstream and without a symptom of its own: it does not
        carry that link. The failing service's own change keeps its credit."""
        s, text = normalize_service(svc), self.symptoms.outside.get(node, "")
        if graph[0] <= 0 or not text or not s or s == node or s in self.symptoms.first_at \
                or (s, node) in self.links or self.topology.distance(s, node) in (None, 0):
            return graph
        why = f"{graph[1]}; but {node}'s error is its link to an outside party failing ({text!r}), which {s} does not carry"
        return graph[0] * OUTSIDE_FACTOR, why

    def failed_upstream(self, node: str, at: pd.Timestamp) -> str:
        """The first service ``node`` depends on that failed before ``node`` did, in words
        ("risk-manager (20:11:02 first_error on risk-manager)"); "" when none did."""
        sym = self.symptoms
        ups = sorted((t, n) for n, t in sym.first_at.items()
                     if n != node and (t < at or node in sym.blamers.get(n, ()))
                     and self.topology.distance(n, node) is not None)
        return f"{ups[0][1]} ({self.symptoms.what.get(ups[0][1], '')})" if ups else ""

    def credit(self, svc: str, klass: str, node: str) -> tuple[float, str]:
        """The overlap credit of a change to ``svc`` for a symptom of ``node``: by the
        service graph and the lock links (:func:`_credit`), or as the client that loaded
        a resource which refused the others (:meth:`load_credit`), whichever is higher."""
        graph = _credit(svc, klass, node, self.topology, self.links)
        load = self.load_credit(svc, node)
        if load[0] <= 0:
            return graph
        return (max(load[0], graph[0]), load[1] if graph[0] <= 0 else f"{graph[1]}; {load[1]}")

    def load_credit(self, svc: str, node: str) -> tuple[float, str]:
        """A resource refused its clients for lack of slots (too many connections): a client
        of it that shows no symptom while others were refused — or that the database's own
        sample during the incident shows holding a large share of it — loaded it. A change
        to that client explains the refusals: :data:`LOAD_CREDIT` for the resource, the
        refused services and the services depending on the resource."""
        sym, s = self.symptoms, normalize_service(svc)
        if not s or not sym.exhausted:
            return 0.0, ""
        for res, refused in sym.exhausted.items():
            victims = sorted(sym.refused - {res, s})
            held = sym.holders.get(s, "")
            client = s != res and (self.topology.distance(res, s) is not None or bool(held))
            if not client or not victims or (s in sym.first_at and not held):
                continue
            if node != res and node not in sym.refused and self.topology.distance(res, node) is None:
                continue
            shown = ", ".join(victims[:4]) + (f" and {len(victims) - 4} more" if len(victims) > 4 else "")
            why = (f"{s} is a client of {res}, which refused clients ({refused}); "
                   + (f"{held}" if held else f"{s} shows no symptom while {len(victims)} other client(s) were "
                      f"refused ({shown})"))
            return LOAD_CREDIT, why
        return 0.0, ""

    def undone_in_vain(self, ch: dict[str, Any]) -> str:
        """Why undoing ``ch`` during the incident clears it: it was reverted (or its service
        deployed back) and the symptoms went on past :data:`REVERT_CONFIRM` after that.
        "" when it was not undone, the symptoms stopped in time, or undoing the code does
        not undo the change (a schema migration, a library its consumers still run)."""
        sym, t0, undone = self.symptoms, self.symptoms.incident_at, ch.get("reverted_at")
        svc = _text(ch.get("service"))
        if undone is None or t0 is None or ch["timestamp"] > t0 or _text(ch.get("change_class")) == "migration" \
                or (svc and self.topology.is_library(svc)):
            return ""
        went_on = sym.ended_at if sym.ended_at is not None else sym.ongoing_until
        if went_on is None or went_on <= undone + REVERT_CONFIRM:
            return ""
        until = f"until {went_on:%H:%M:%S}" if sym.ended_at is not None else "still going at the end of the window"
        return (f"but it was undone at {undone:%H:%M:%S} ({ch.get('reverted_by')}) and the symptoms went on "
                f"{_minutes(went_on - undone)} after that ({until}): undoing it did not end them")

    def confirmed_by_revert(self, ch: dict[str, Any]) -> tuple[float, str, str, pd.Timestamp] | None:
        """A change made before the first symptom, undone during the incident, after which
        the symptoms stopped within :data:`REVERT_CONFIRM`: the response confirms it. It
        explains the incident's first symptom in full, by age alone (None otherwise)."""
        sym, t0, ts = self.symptoms, self.symptoms.incident_at, ch["timestamp"]
        undone = ch.get("reverted_at")
        if undone is None or t0 is None or sym.ended_at is None or ts > t0:
            return None
        if not undone <= sym.ended_at <= undone + REVERT_CONFIRM:
            return None
        age = t0 - ts
        if self.calendar is not None and self.calendar.is_open(t0):
            age = self.calendar.trading_time(ts, t0)
        why = (f"it was undone at {undone:%H:%M:%S} ({ch.get('reverted_by')}) and the symptoms stopped "
               f"{_minutes(sym.ended_at - undone)} later ({sym.ended_at:%H:%M:%S})")
        return float(0.5 ** (age / self.half_life)), why, sym.incident_node, t0

    def score(self, ch: dict[str, Any]) -> dict[str, Any]:
        """One SUSPECT_COLUMNS row (without rank) for change ``ch``."""
        ts: pd.Timestamp = ch["timestamp"]
        svc, klass, kind = _text(ch.get("service")), _text(ch.get("change_class")), ch["kind"]
        weight = KIND_WEIGHTS.get(kind if kind != "commit" else (klass if klass in KIND_WEIGHTS else "commit"), 0.5)
        notes: list[str] = []
        if kind == "commit" and klass in NON_RUNTIME_CLASSES:
            weight *= NON_RUNTIME_FACTOR
            notes.append(f"{klass} only: it cannot change what runs")
        t0, t0_what = self.t0, self.t0_what
        after_first = t0 is not None and ts > t0
        best, best_why, explains, explains_at = self.explain(ts, svc, klass)
        confirmed = self.confirmed_by_revert(ch)
        if confirmed is not None and confirmed[0] > best:
            best, best_why, explains, explains_at = confirmed
        mitigation = bool(after_first and (ch.get("rollback") or kind == "restart"))
        what = {"deploy": "deploy", "commit": "commit (no deploy tag)", "restart": "restart"}.get(kind, kind)
        head = f"{what} of {svc or 'an unnamed service'} at {ts:%Y-%m-%d %H:%M:%S}"
        score = 0.0
        if mitigation:
            reason = (f"{head}, {_minutes(ts - t0)} after the first symptom ({t0_what}): "
                      + ("a rollback" if ch.get("rollback") else "a restart") + " — mitigation, not a cause")
        elif explains_at is not None:
            score = weight * best * (AFTER_FIRST_FACTOR if after_first else 1.0)
            where = ("the service that failed first" if explains == self.symptoms.incident_node
                     else "a later symptom, not the first")
            reason = (f"{head}, {_minutes(explains_at - ts)} before the first symptom it could explain "
                      f"({self.symptoms.what.get(explains, explains)}, {where}); {best_why}")
            if after_first:
                reason += f"; but after the incident's first symptom ({t0_what})"
            in_vain = self.undone_in_vain(ch)
            if in_vain:
                score *= UNDONE_IN_VAIN_FACTOR
                reason += f"; {in_vain}"
        elif after_first:
            reason = f"{head}, {_minutes(ts - t0)} after the first symptom ({t0_what}) and after every symptom it could explain"
        else:
            if svc and self.topology.is_library(svc):
                users = ", ".join(self.topology.consumers(svc)) or "no declared service"
                reason = f"{head}; {svc} is a library used by {users}, none of which shows a symptom or is upstream of one"
            else:
                reason = (f"{head}; it touches {svc}, which shows no symptom and is not upstream of one" if svc
                          else f"{head}; no symptom follows it")
            if t0 is not None:
                # Unconnected changes still order by age, far below any connected one.
                score = weight * 0.01 * float(0.5 ** ((t0 - ts) / self.half_life))
        reason += "".join(f"; {n}" for n in notes + [n for n in ch.get("notes", []) if n])
        return {
            "kind": kind, "timestamp": ts, "service": svc or None, "sha": ch.get("sha") or None,
            "ref": _text(ch.get("ref")) or None, "lead": (t0 - ts) if t0 is not None else pd.NaT,
            "score": round(score, 4), "reason": reason, "summary": _text(ch.get("summary")),
            "change_class": klass or None, "subject": _text(ch.get("subject")) or None,
            "author": _text(ch.get("author")) or None, "tag": _text(ch.get("tag")) or None,
            "version": _text(ch.get("version")) or None, "previous_tag": _text(ch.get("previous_tag")) or None,
            "files_changed": ch.get("files_changed"), "insertions": ch.get("insertions"),
            "deletions": ch.get("deletions"), "explains": self.symptoms.what.get(explains) if explains else None,
            "mitigation": mitigation,
        }


def rank_changes(
    changes: list[dict[str, Any]],
    *,
    symptoms: Symptoms,
    topology: Topology | None = None,
    links: dict[tuple[str, str], str] | None = None,
    half_life: pd.Timedelta = HALF_LIFE,
    fallback_at: pd.Timestamp | None = None,
    fallback_what: str = "",
    calendar: TradingCalendar | None = None,
) -> pd.DataFrame:
    """Score and rank ``changes`` (dicts with kind, timestamp, service, sha, ref, summary
    and optionally change_class, subject, author, tag, version, previous_tag, diff stat,
    notes, rollback) against ``symptoms`` as the module docstring says.

    With a ``calendar``, the age of a change before a symptom in market hours is counted
    in market-open time: a change made while the market was closed is first exercised at
    the open. When :data:`COMMON_MODE_MIN` or more services failed at the same instant, a
    change explains that instant only in the share of them it reaches. A change undone
    after the first symptom (a later change with ``rollback`` true whose subject is
    ``Revert "<its subject>"``, or a deploy of its service back to an earlier version) is
    confirmed when ``symptoms.ended_at`` falls within :data:`REVERT_CONFIRM` after that.

    Returns :data:`SUSPECT_COLUMNS`, best first (ties go to the later change); ``lead``
    is the Timedelta before the incident's first symptom (negative after it),
    ``explains`` the symptom the score was measured to.
    """
    ctx = _Context(
        symptoms=symptoms, topology=topology or Topology(), links=links or {}, half_life=half_life,
        calendar=calendar, t0=symptoms.incident_at if symptoms.incident_at is not None else fallback_at,
        t0_what=symptoms.incident_what or fallback_what,
    )
    link_reverts(changes, symptoms.incident_at)
    rows = [ctx.score(ch) for ch in changes]
    if not rows:
        return _frame([])
    frame = pd.DataFrame(rows).sort_values(["score", "timestamp"], ascending=[False, False], kind="stable")
    frame["rank"] = np.arange(1, len(frame) + 1)
    return _frame(frame.to_dict("records"))


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    text = schemas.empty("timeline")["source"].dtype
    data: dict[str, pd.Series] = {}
    for col, t in SUSPECT_COLUMNS.items():
        values = [r.get(col) for r in rows]
        if t == "str":
            data[col] = pd.Series(values, dtype=object).astype(text)
        elif t.startswith("datetime64"):
            data[col] = pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True)).astype(t)
        elif t.startswith("timedelta64"):
            data[col] = pd.Series(pd.to_timedelta(pd.Series(values, dtype=object))).astype(t)
        else:
            data[col] = pd.Series([None if v is None or (isinstance(v, float) and np.isnan(v)) else v
                                   for v in values], dtype=object).astype(t)
    return pd.DataFrame(data)




def suspects(
    bundle: EvidenceBundle, *, half_life: str | pd.Timedelta = "30m", config: Config | None = None,
) -> pd.DataFrame:
    """Every change in ``bundle``'s lookback, best suspect first.

    Deploys (deploy tags), commits and container restarts, scored as the module
    docstring says against the symptoms of the timeline (else the incident's
    triggered time, else the window end). Columns: :data:`SUSPECT_COLUMNS` — rank,
    kind (deploy | commit | restart), timestamp, service, sha (missing for a
    restart), ref (the sha, or ``logs:<file>:<line>``), lead (Timedelta before the
    first symptom), score (0-1), reason (in words), summary, change_class (code,
    config, migration, docs, tests, ci, restart), subject, author, tag, version,
    previous_tag (the service's deploy before it: what to roll back to),
    files_changed, insertions, deletions, explains, mitigation. Empty with those
    columns when nothing changed. ``attrs["first_symptom"]`` is the symptom the
    leads are measured to.
    """
    cfg = config if config is not None else bundle_config(bundle)
    topo = Topology.from_config(cfg)
    events = timeline(bundle)
    step = metric_step(bundle)
    found = symptoms_of(events, topo, until=bundle.window.end + LIVE_CHECK_GRACE,
                        together=max(step or pd.Timedelta(0), pd.Timedelta(minutes=1)), metric_step=step)
    found.ended_at, ongoing = _symptoms_span(bundle)
    found.ongoing_until = bundle.window.end if ongoing else None
    known = {*bundle_services(bundle), *topo.services, *(_text(s) for s in events["service"].dropna())}
    known.discard("")
    if found.exhausted:
        found.holders = connection_holders(bundle, cfg, known)
    if found.incident_at is not None:
        at, what = found.incident_at, found.incident_what
    else:
        triggered = events[events["kind"] == "incident_triggered"]["timestamp"].dropna()
        at = triggered.min() if len(triggered) else bundle.window.end
        what = f"{at:%H:%M:%S} " + ("incident triggered" if len(triggered) else "window end")
    changes = candidates(bundle, events, known, cfg, found.incident_at, topo)
    out = rank_changes(
        changes, symptoms=found, topology=topo, links=lock_links(bundle, cfg, known),
        half_life=parse_duration(half_life), fallback_at=at, fallback_what=what,
        calendar=TradingCalendar.from_config(cfg),
    )
    out.attrs["first_symptom"] = what
    return out


def symptoms_end(bundle: EvidenceBundle) -> pd.Timestamp | None:
    """When the incident's symptoms stopped: the last error log line that is a symptom
    and the end of the last metric breach that is not chronic, whichever is later; None
    while a breach is still going at the end of the window, or without any symptom."""
    return _symptoms_span(bundle)[0]


def _symptoms_span(bundle: EvidenceBundle) -> tuple[pd.Timestamp | None, bool]:
    """(:func:`symptoms_end`, whether a breach is still going at the end of the window)."""
    ends: list[pd.Timestamp] = []
    try:
        found = bundle_breaches(bundle) if bundle.status("metrics") in ("ok", "truncated") else None
    except Exception:  # noqa: BLE001 - unreadable metrics: judge by the logs alone
        found = None
    if found is not None and len(found):
        live = found[~found["chronic"].fillna(False).astype(bool)]
        if live["ongoing"].fillna(False).astype(bool).any():
            return None, True
        if len(live):
            ends.append(live["end"].max())
    if bundle.status("logs") in ("ok", "truncated"):
        errs = symptom_errors(bundle.table("logs"))
        if len(errs):
            ends.append(errs["timestamp"].max())
    return (max(ends) if ends else None), False


def bundle_services(bundle: EvidenceBundle) -> list[str]:
    """The service names the bundle's config lists (``[services.NAME]``)."""
    services = (bundle.manifest.get("config") or {}).get("services") or {}
    return sorted(str(s) for s in services) if isinstance(services, dict) else []

