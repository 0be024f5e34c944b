"""The scenario library's pytest wiring: the ``scorecard`` marker (opt-in for now),
the session fixture that builds every scenario on the real servers, and the
scorecard printed at the end of the run.

Opt-in: tests marked ``scorecard`` are skipped unless the run selects them
(``pytest -m scorecard``) or ``EAFIX_SCORECARD=1`` is set (``make scorecard-test``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .build import build
from .library import all_scenarios
from .scorecard import Score, score_dir, table

_SCORES: list[Score] = []
_TIMES: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scorecard: the scenario library scored against ground truth (opt-in)")


def _enabled(config: pytest.Config) -> bool:
    return os.environ.get("EAFIX_SCORECARD") == "1" or "scorecard" in (config.option.markexpr or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _enabled(config):
        return
    skip = pytest.mark.skip(reason="scorecard is opt-in: pytest -m scorecard, EAFIX_SCORECARD=1 or make scorecard")
    for item in items:
        if "scorecard" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def scenario_scores(pg_server: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Score]]:
    """Every scenario built from scratch and collected, then scored: {name: Score}."""
    root = tmp_path_factory.mktemp("scenarios")
    scenarios = all_scenarios()
    t0 = time.monotonic()
    build(scenarios, root, pg=pg_server, workdir=root / "_work", rebuild=True, log=lambda m: None)
    _TIMES["build"] = time.monotonic() - t0
    t1 = time.monotonic()
    scores = score_dir(root, [s.name for s in scenarios])
    _TIMES["score"] = time.monotonic() - t1
    _SCORES[:] = scores
    yield {s.name: s for s in scores}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _SCORES:
        return
    terminalreporter.section("scenario scorecard")
    terminalreporter.write_line(table(_SCORES))
    terminalreporter.write_line(
        f"build+collect {_TIMES.get('build', 0):.1f}s, scoring {_TIMES.get('score', 0):.1f}s")


def scenario_names() -> list[str]:
    return [s.name for s in all_scenarios()]


ROOT = Path(__file__).parent
