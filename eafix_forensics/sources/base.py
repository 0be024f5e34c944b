"""What every source shares with the orchestrator: :class:`Collector` and :class:`CollectContext`.

A source module takes part in :func:`eafix_forensics.collect.collect` by
defining ``COLLECTOR = Collector(...)``; :data:`eafix_forensics.collect.COLLECTORS`
lists them by import. This module sits below both, so no source imports the
orchestrator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from ..bundle import Evidence
from ..config import Config
from ..window import TimeWindow

__all__ = ["CollectContext", "Collector"]


@dataclass
class CollectContext:
    """What a collector gets: the incident, the window, the config and the options."""

    incident_id: str
    window: TimeWindow
    config: Config
    watch: pd.Timedelta | None = None  # sample live state (pg activity/locks) this long
    deadline: float = 0.0  # time.monotonic() by which the collector should return
    # incident id -> TOML record to use when the incidents directory has none (the demo's)
    embedded_incidents: Mapping[str, str] = field(default_factory=dict)
    progress: bool = False  # show bars for long work (tqdm.auto), e.g. a big log file's chunks

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True)
class Collector:
    """A source's entry point for collect().

    ``run(ctx)`` returns the source's Evidence tables. ``tables`` lists what it
    produces (used for the placeholders when it fails or is skipped).
    ``configured(config)`` says whether the config names this source.
    """

    name: str
    run: Callable[[CollectContext], Iterable[Evidence]]
    tables: tuple[str, ...]
    configured: Callable[[Config], bool] = lambda config: True
    describe: Callable[[Config], str] = lambda config: ""
