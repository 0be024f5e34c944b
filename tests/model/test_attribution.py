"""Which service a change touches, and whether it can change what runs."""

from __future__ import annotations

import pytest

from eafix_forensics.model.attribution import change_class, change_service, split_paths, tag_version
from eafix_forensics.model.topology import DEFAULT_TOPOLOGY

KNOWN = list(DEFAULT_TOPOLOGY)


@pytest.mark.parametrize(("kwargs", "service", "how"), [
    ({"tags": ["deploy-execution-engine-2.14.0"]}, "execution-engine", "deploy tag deploy-execution-engine-2.14.0"),
    ({"tags": ["release-risk_manager-v3"]}, "risk-manager", "deploy tag release-risk_manager-v3"),
    ({"tags": ["signal-generator/v1.2.0"]}, "signal-generator", "deploy tag signal-generator/v1.2.0"),
    ({"subject": "execution-engine: switch broker client"}, "execution-engine", "subject prefix"),
    ({"subject": "[risk-manager] add index"}, "risk-manager", "subject prefix"),
    ({"subject": "fix(indicator_engine): cache"}, "indicator-engine", "subject prefix"),
    ({"paths": "indicator_engine/src/cache.py\nindicator_engine/README.md"}, "indicator-engine", "changed paths"),
    ({"paths": "services/data-ingestor/feed.py"}, "data-ingestor", "changed paths"),
    ({"repo": "/srv/git/risk-manager"}, "risk-manager", "repository risk-manager"),
])
def test_a_change_is_attributed_by_tag_subject_paths_or_repo(kwargs, service, how):
    assert change_service(known=KNOWN, **kwargs) == (service, how)


def test_a_repository_name_is_a_service_only_when_it_is_one():
    # The monorepo "eafix": its name names no service; the paths do.
    assert change_service(known=KNOWN, repo="/srv/eafix", subject="bump deps") == ("", "")
    assert change_service(known=KNOWN, repo="/srv/eafix", paths="execution-engine/app.py")[0] == "execution-engine"
    # A date-versioned tag without a service name, and a subject whose prefix is not a service
    assert change_service(known=KNOWN, tags=["deploy-2024.12.02"], subject="docs: typo") == ("", "")


def test_the_config_map_wins_and_ambiguous_paths_name_nobody():
    assert change_service(known=KNOWN, repo="/srv/exe", mapping={"exe": "execution-engine"},
                          tags=["deploy-risk-manager-1"])[0] == "execution-engine"
    assert change_service(known=KNOWN, paths="risk-manager/a.py\nexecution-engine/b.py") == ("", "")
    # docs files do not vote when runtime files are there
    assert change_service(known=KNOWN, paths="risk-manager/a.py\nexecution-engine/README.md")[0] == "risk-manager"


@pytest.mark.parametrize(("paths", "klass"), [
    ("docs/runbook.md\nREADME.md", "docs"),
    ("execution-engine/tests/test_pool.py", "tests"),
    (".github/workflows/ci.yml", "ci"),
    ("docs/a.md\ntests/test_a.py", "docs"),
    ("risk-manager/migrations/0042_drop_index.sql", "migration"),
    ("execution-engine/config/broker.yaml", "config"),
    ("execution-engine/pool.py\ndocs/a.md", "code"),
    ("", ""),
])
def test_change_class(paths, klass):
    assert change_class(paths) == klass


def test_renames_count_as_their_new_path_and_versions_are_read_from_tags():
    assert split_paths("docs/{old => new}/a.md\nx.py => src/y.py") == ["docs/new/a.md", "src/y.py"]
    assert tag_version("deploy-execution-engine-2.14.0") == "2.14.0"
    assert tag_version("v3.1") == "3.1"
    assert tag_version("deploy-execution-engine") == ""


def test_missing_paths_are_unknown_not_an_error():
    assert split_paths(float("nan")) == [] and change_class(float("nan")) == ""


def test_a_shared_library_is_named_by_its_repo_or_its_folder():
    known = [*DEFAULT_TOPOLOGY, "eafix-common"]
    assert change_service(known=known, repo="/src/eafix-common", tags=["v3.5.0"], subject="Quantity keeps two decimals",
                          paths="quantity.py") == ("eafix-common", "repository eafix-common")
    assert change_service(known=known, paths="libs/eafix_common/quantity.py\nlibs/eafix_common/money.py")[0] \
        == "eafix-common"
    # Not declared: the folder names nobody (a library is a node only once [topology] says so).
    assert change_service(known=list(DEFAULT_TOPOLOGY), paths="libs/eafix_common/quantity.py") == ("", "")
