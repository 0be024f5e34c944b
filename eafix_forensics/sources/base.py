"""What every source shares with the orchestrator: :class:`Collector` and :class:`CollectContext`.

A source module takes part in :func:`eafix_forensics.collect.collect` by
defining ``COLLECTOR = Collector(...)``; :data:`eafix_forensics.collect.COLLECTORS`
lists them by import. This module sits below both, so no source imports the
orchestrator.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..bundle import Evidence
from ..config import Config
from ..window import TimeWindow

__all__ = ["CollectContext", "Collector", "loads_json"]

_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def loads_json(data: bytes | str) -> Any:
    """``json.loads``, with lone UTF-16 surrogates (``"\\ud800"``: valid JSON, not Unicode)
    replaced by U+FFFD. Left in, one such string made the table unwritable (Parquet and
    Arrow refuse it) and cost every row with it. Raises what ``json.loads`` raises."""
    obj = json.loads(data)
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    return _no_surrogates(obj) if _ESCAPED_SURROGATE.search(raw) else obj


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if _LONE_SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    return value


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
