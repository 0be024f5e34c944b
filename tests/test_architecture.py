"""The floor plan of eafix_forensics/ (ARCHITECTURE.md), checked on the code's own import
statements with ast (scripts/import_graph.py draws the same graph)."""

from __future__ import annotations

import ast
import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_graph.py"
_spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
assert _spec is not None and _spec.loader is not None
graph_tool = importlib.util.module_from_spec(_spec)
sys.modules["import_graph"] = graph_tool
_spec.loader.exec_module(graph_tool)

@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph_tool.graph()


def test_the_graph_sees_every_module_and_function_level_imports(edges):
    assert "eafix_forensics.sources.logs.parser" in edges
    assert "eafix_forensics.model.tables" in edges["eafix_forensics.bundle"]
    # cli imports demo at module level; collect imports every source by import
    assert "eafix_forensics.demo" in edges["eafix_forensics.cli"]
    assert {"eafix_forensics.sources.logs", "eafix_forensics.sources.prometheus"} <= edges["eafix_forensics.collect"]


def test_no_import_cycles(edges):
    assert graph_tool.cycles(edges) == []


def test_floors_sources_analysis_demo_model(edges):
    assert graph_tool.rule_breaks(edges) == []


def test_no_module_over_800_lines_no_function_over_100():
    assert graph_tool.size_breaks() == []


def test_imports_inside_functions_are_commented_heavy_deferrals():
    assert graph_tool.deferred_import_breaks() == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    """A cycle, a source importing analysis, a demo import outside cli, an oversize
    function and an undeclared deferred import, in a throwaway package."""
    pkg = tmp_path / "eafix_forensics"
    for d in ("sources", "analysis", "demo", "model"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("from .a import x\n")
    (pkg / "sources" / "s.py").write_text("from ..analysis import t\n")
    (pkg / "analysis" / "t.py").write_text("")
    (pkg / "report.py").write_text("from .demo import d\n")
    (pkg / "demo" / "d.py").write_text("")
    (pkg / "model" / "m.py").write_text("from .. import bundle\n")
    (pkg / "bundle.py").write_text("")
    body = "\n".join(f"    x{i} = {i}" for i in range(101))
    (pkg / "long.py").write_text(f"def f():\n    import json\n    from . import a\n{body}\n")
    (pkg / "ok.py").write_text(textwrap.dedent("""\
        def g():
            # deferred: sqlalchemy is heavy
            import sqlalchemy
            from sqlalchemy import text
            return sqlalchemy, text
    """))
    edges = graph_tool.graph(pkg)
    assert graph_tool.cycles(edges) == [["eafix_forensics.a", "eafix_forensics.b"]]
    breaks = graph_tool.rule_breaks(edges)
    assert any("sources/ never imports analysis/" in b for b in breaks)
    assert any("only cli.py imports demo/" in b for b in breaks)
    assert any("model/ imports only the ground floor" in b for b in breaks)
    assert any("long.f" in b for b in graph_tool.size_breaks(pkg))
    deferred = graph_tool.deferred_import_breaks(pkg)
    assert len(deferred) == 2 and all("long:" in d for d in deferred)


def test_model_does_no_io():
    """model/ is vocabulary: no IO library, no subprocess, no network."""
    io_libs = {"httpx", "requests", "sqlalchemy", "psycopg", "subprocess", "socket", "papermill"}
    for path in (graph_tool.ROOT / "model").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & io_libs, f"{path.name} imports {names}"
