"""Shared fixtures: the real servers live in tests/harness/ and load as plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.harness.postgres", "tests.harness.prometheus", "tests.harness.services", "tests.harness.tls"]

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA
