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


def test_a_shared_library_is_a_change_to_each_of_its_consumers(tmp_path):
    p = tmp_path / "eafix.toml"
    p.write_text('[topology.libraries]\neafix-common = ["execution-engine", "risk-manager"]\n')
    t = Topology.from_config(Config.load(p))
    assert t.is_library("eafix_common") and "eafix-common" in t.services
    assert t.consumers("eafix-common") == ("execution-engine", "risk-manager")
    assert t.distance("eafix-common", "execution-engine") == 0 and t.distance("eafix-common", "risk-manager") == 0
    # gui-gateway calls execution-engine: one hop above a consumer; data-ingestor uses neither
    assert t.distance("eafix-common", "gui-gateway") == 1
    assert t.distance("eafix-common", "data-ingestor") is None
    assert t.distance("execution-engine", "eafix-common") is None  # a library fails only through its consumers
    # The same graph when the consumers name the library in their own dependency lists.
    p.write_text('[topology]\nlibraries = ["eafix-common"]\n'
                 'execution-engine = ["risk-manager", "postgres", "eafix-common"]\n'
                 'risk-manager = ["signal-generator", "postgres", "eafix-common"]\n')
    t2 = Topology.from_config(Config.load(p))
    assert t2.consumers("eafix-common") == t.consumers("eafix-common")
    assert t2.distance("eafix-common", "risk-manager") == 0 and t2.distance("eafix-common", "data-ingestor") is None
    # Without the declaration it is just an unknown name: no consumer, no credit.
    assert Topology().distance("eafix-common", "execution-engine") is None


@pytest.mark.parametrize(("text", "message"), [
    ('[topology.libraries]\neafix-common = "execution-engine"\n', r"\[topology.libraries\] eafix-common = 'execution-engine'"),
    ('[topology.libraries]\neafix-common = [1]\n', r"\[topology.libraries\] eafix-common = \[1\]"),
    ('[topology]\nlibraries = "eafix-common"\n', r"\[topology\] libraries = 'eafix-common': expected a list of library"),
    ('[topology]\neafix-common = ["postgres"]\n[topology.libraries]\neafix-common = ["risk-manager"]\n',
     r"eafix-common is a library .* and a service"),
])
def test_library_config_errors_name_the_key(tmp_path, text, message):
    p = tmp_path / "eafix.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Config.load(p)
