"""The service graph: which EAFIX service depends on which.

``[topology]`` in eafix.toml maps a service to what it depends on
(``execution-engine = ["risk-manager", "postgres"]``); without it the graph is
the runbook's pipeline — market data flows data-ingestor → indicator-engine →
signal-generator → risk-manager → execution-engine, gui-gateway sits in front
of the trading services, and PostgreSQL is shared. A database is a node like any
other.

A **shared library** (``[topology.libraries]``: ``eafix-common = ["execution-engine",
"risk-manager"]``, the library and the services that consume it; or a library declared
with ``[topology] libraries = ["eafix-common"]`` and named in its consumers' dependency
lists) runs inside its consumers: a change to it is a change to each of them, so
:meth:`Topology.distance` from a library is the distance from its nearest consumer
(0 when the failing service consumes it).

The investigation reads the graph one way: a change to service *S* can explain
a symptom of service *F* when *F* is *S* or depends on *S* (directly or through
other services). :meth:`Topology.distance` is that number of hops, and
:func:`upstream_credit` turns it into the overlap credit a change earns.
Pure: no IO.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Config

__all__ = [
    "DEFAULT_TOPOLOGY",
    "Topology",
    "normalize_service",
    "upstream_credit",
]

#: The runbook's pipeline: NAME -> what it depends on.
DEFAULT_TOPOLOGY: dict[str, tuple[str, ...]] = {
    "data-ingestor": (),
    "indicator-engine": ("data-ingestor",),
    "signal-generator": ("indicator-engine",),
    "risk-manager": ("signal-generator", "postgres"),
    "execution-engine": ("risk-manager", "postgres"),
    "gui-gateway": ("execution-engine", "risk-manager", "signal-generator", "postgres"),
    "postgres": (),
}

#: Overlap credit by hops upstream of the failing service (0 = the service itself).
_UPSTREAM_CREDIT = (1.0, 0.7, 0.5, 0.35, 0.25)
#: A change downstream of the failing service (the failing one does not depend on it)
#: rarely explains the failure; a change to a service unconnected to it never does.
DOWNSTREAM_CREDIT = 0.1


def normalize_service(name: str) -> str:
    """A service name as the graph keys it: lower case, ``_`` and spaces as ``-``."""
    return "-".join(name.strip().lower().replace("_", "-").split())


@dataclass(frozen=True)
class Topology:
    """A directed graph of services: ``depends_on[a]`` is what ``a`` calls or reads;
    ``libraries[lib]`` are the services that consume shared library ``lib``."""

    depends_on: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_TOPOLOGY))
    libraries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Iterable[str]] | None, libraries: Mapping[str, Iterable[str]] | None = None,
    ) -> Topology:
        """The runbook's pipeline updated by ``[topology]`` (service -> dependencies): a
        service named there gets exactly the dependencies listed; the others keep the
        default (so naming one service does not drop the rest of the graph).
        ``libraries`` (library -> consumers) adds shared libraries; a service whose
        dependencies name a library is one of its consumers too."""
        graph: dict[str, tuple[str, ...]] = dict(DEFAULT_TOPOLOGY)
        for name, deps in (mapping or {}).items():
            node = normalize_service(str(name))
            graph[node] = tuple(dict.fromkeys(normalize_service(str(d)) for d in deps))
            for d in graph[node]:
                graph.setdefault(d, ())
        libs: dict[str, list[str]] = {}
        for lib, consumers in (libraries or {}).items():
            node = normalize_service(str(lib))
            libs.setdefault(node, []).extend(normalize_service(str(c)) for c in consumers)
        for node, deps in graph.items():
            for d in deps:
                if d in libs:
                    libs[d].append(node)
        for lib, consumers in libs.items():
            graph.pop(lib, None)  # a library is no service: it runs inside its consumers
            for c in consumers:
                graph.setdefault(c, ())
        return cls(graph, {k: tuple(sorted(set(v))) for k, v in libs.items()})

    @classmethod
    def from_config(cls, config: Config) -> Topology:
        """The graph of ``[topology]`` and ``[topology.libraries]`` of ``config``."""
        return cls.from_mapping(config.topology, config.libraries)

    def is_library(self, name: str) -> bool:
        return normalize_service(name) in self.libraries

    def consumers(self, library: str) -> tuple[str, ...]:
        """The services that consume ``library`` (empty for a service)."""
        return tuple(self.libraries.get(normalize_service(library), ()))

    @property
    def services(self) -> tuple[str, ...]:
        """Every node a change can be attributed to: the services and the libraries."""
        return tuple(sorted({*self.depends_on, *self.libraries}))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (normalize_service(name) in self.depends_on
                                          or normalize_service(name) in self.libraries)

    def distance(self, changed: str, failing: str, _seen: frozenset[str] = frozenset()) -> int | None:
        """Hops from ``failing`` down its dependencies to ``changed``: 0 when they are the
        same service, 1 when ``failing`` depends on ``changed`` directly, …; None when
        ``failing`` does not depend on ``changed`` at all. For a library, the distance from
        its nearest consumer (0 when ``failing`` consumes it)."""
        a, b = normalize_service(changed), normalize_service(failing)
        if a in self.libraries and a not in _seen:
            via = [self.distance(c, b, _seen | {a}) for c in self.libraries[a]]
            found = [h for h in via if h is not None]
            return min(found) if found else None
        if a == b:
            return 0
        seen = {b}
        queue = deque([(b, 0)])
        while queue:
            node, hops = queue.popleft()
            for dep in self.depends_on.get(node, ()):
                if dep == a:
                    return hops + 1
                if dep not in seen:
                    seen.add(dep)
                    queue.append((dep, hops + 1))
        return None

    def dependents(self, service: str) -> set[str]:
        """Every service that depends on ``service``, directly or not (``service`` excluded)."""
        target = normalize_service(service)
        return {s for s in self.depends_on if s != target and self.distance(target, s) is not None}


def upstream_credit(distance: int | None, *, downstream: bool = False) -> float:
    """Overlap credit of a change ``distance`` hops upstream of a failing service
    (1.0 for the service itself, 0.7 one hop up, 0.5 two, …); :data:`DOWNSTREAM_CREDIT`
    when the change is downstream of it, 0 when the two are unconnected."""
    if distance is None:
        return DOWNSTREAM_CREDIT if downstream else 0.0
    return _UPSTREAM_CREDIT[min(distance, len(_UPSTREAM_CREDIT) - 1)]
