"""The service graph: distances upstream, credit, [topology] from the config."""

from __future__ import annotations

import pytest

from eafix_forensics.config import Config
from eafix_forensics.errors import ConfigError
from eafix_forensics.model.topology import Topology, upstream_credit


def test_the_default_graph_is_the_runbook_pipeline():
    t = Topology()
    assert t.distance("execution-engine", "execution-engine") == 0
    assert t.distance("risk-manager", "execution-engine") == 1
    assert t.distance("data-ingestor", "execution-engine") == 4
    assert t.distance("execution-engine", "data-ingestor") is None  # downstream, not upstream
    assert t.distance("postgres", "execution-engine") == 1
    assert "indicator-engine" in t.dependents("data-ingestor")
    assert t.distance("Indicator_Engine", "signal-generator") == 1  # names are normalised


def test_credit_falls_with_distance():
    assert upstream_credit(0) == 1.0 > upstream_credit(1) > upstream_credit(2) > upstream_credit(3) > 0
    assert upstream_credit(None, downstream=True) == 0.1
    assert upstream_credit(None) == 0.0


def test_topology_from_the_config(tmp_path):
    p = tmp_path / "eafix.toml"
    p.write_text('[topology]\npricing = ["feed"]\nfeed = []\n')
    t = Topology.from_mapping(Config.load(p).topology)
    assert t.distance("feed", "pricing") == 1
    # naming some services keeps the rest of the runbook's graph
    assert t.distance("risk-manager", "execution-engine") == 1
    p.write_text('[topology]\nexecution-engine = ["postgres"]\n')
    t = Topology.from_mapping(Config.load(p).topology)
    assert t.distance("risk-manager", "execution-engine") is None and t.distance("postgres", "execution-engine") == 1
    p.write_text('[topology]\npricing = "feed"\n')
    with pytest.raises(ConfigError, match=r"\[topology\] pricing"):
        Config.load(p)
