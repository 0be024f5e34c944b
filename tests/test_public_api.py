import importlib

import eafix_forensics as ef

DESIGN_NAMES = {
    "Config", "TimeWindow", "read_compose_logs", "read_container_json_logs", "compose_logs",
    "error_signatures", "error_bursts", "query_range", "prometheus_client", "breaches",
    "postgres_engine", "top_statements", "statements_snapshot", "statements_delta", "activity",
    "blocked_locks", "connections", "commits", "health", "positions", "signals", "executions",
    "reconcile", "incident_record", "sla_report", "update_message", "collect", "EvidenceBundle",
    "timeline", "suspects", "suggest_severity", "key_times", "Catalog", "similar",
}


def test_all_is_sorted_and_complete():
    assert ef.__all__ == sorted(ef.__all__)
    assert DESIGN_NAMES <= set(ef.__all__)


def test_every_exported_name_resolves():
    missing = []
    for name in ef.__all__:
        try:
            getattr(ef, name)
        except (AttributeError, ImportError) as exc:
            missing.append(f"{name}: {exc}")
    assert not missing, missing


def test_nothing_public_hides_outside_all():
    exposed = {n for n in dir(ef) if not n.startswith("_")} - {"annotations", "importlib", "Any"}
    submodules = {n for n in exposed if isinstance(getattr(ef, n), type(importlib))}
    assert exposed - submodules <= set(ef.__all__)


def test_error_tree():
    assert issubclass(ef.ConfigError, ef.ForensicsError)
    assert issubclass(ef.SourceUnavailable, ef.SourceError) and issubclass(ef.QueryError, ef.SourceError)
    assert issubclass(ef.IntegrityError, ef.BundleError)
    assert issubclass(ef.ReportError, ef.ForensicsError)


def test_collect_is_the_function_whatever_the_import_order():
    import subprocess
    import sys

    code = ("import eafix_forensics.collect, eafix_forensics.sources.logs; import eafix_forensics as ef; "
            "from eafix_forensics import collect; assert callable(collect) and collect.__name__ == 'collect', collect; "
            "assert ef.collect is collect")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_notebook_reaches_the_figures_and_views_from_ef_without_importing_them_first():
    import subprocess
    import sys

    code = ("import sys, eafix_forensics as ef; "
            "assert 'matplotlib' not in sys.modules and 'eafix_forensics.plots' not in sys.modules; "
            "assert callable(ef.plots.swimlane_timeline) and ef.views.__name__ == 'eafix_forensics.views'; "
            "assert callable(ef.interactive.swimlane); assert 'plots' in dir(ef)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_open_finds_an_incident_as_every_command_does(tmp_path, monkeypatch):
    from eafix_forensics.demo import build_demo

    built = build_demo(tmp_path / "out")
    assert ef.open("INC-DEMO", output_dir=tmp_path / "out").path == built.path
    monkeypatch.setenv("EAFIX_OUTPUT_DIR", str(tmp_path / "out"))
    assert ef.open("INC-DEMO").manifest_sha256 == built.manifest_sha256
    assert ef.open(built.path.parent).path == built.path  # a path: that bundle
    try:
        ef.open("INC-NONE")
    except ef.ConfigError as exc:
        assert "no evidence bundle for INC-NONE" in str(exc) and "collect" in str(exc)
    else:
        raise AssertionError("ef.open of a missing incident must say how to collect it")
