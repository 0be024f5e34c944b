"""Declared dependencies are the ones the package uses (issue 17: ``rich`` was declared and never
imported; ``pandas>=2.2`` was declared while the code needs pandas 3).

Read from pyproject.toml and from the package's own import statements (modules and the notebooks
shipped inside it), with ast: every runtime dependency is imported somewhere, every third-party
import is declared.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "eafix_forensics"

# Distribution name -> the module it is imported as, where the two differ.
MODULE_OF = {"pyzmq": "zmq", "ipython": "IPython", "jupyter-client": "jupyter_client", "markdown-it-py": "markdown_it",
             "prometheus-api-client": "prometheus_api_client", "psycopg": "psycopg"}
# Used at run time without an import statement; each with the text in the package that proves the use.
USED_WITHOUT_IMPORT = {
    "ipykernel": ("the python3 kernel papermill starts", 'kernel_name="python3"'),
    "psycopg": ("SQLAlchemy's PostgreSQL driver", "postgresql+psycopg"),
    "jupyter-client": ("papermill's kernel manager; transport_encryption needs 8.10", "transport_encryption"),
}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def _declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_name(r): r for r in project["dependencies"]}


def _optional() -> dict[str, str]:
    """What the extras a user installs add (not test or dev): modules that import these guard the import."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    return {_name(r): r for name, reqs in extras.items() if name not in ("test", "dev") for r in reqs
            if _name(r) != "eafix-forensics"}


def _sources() -> list[tuple[str, str]]:
    out = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in PACKAGE.rglob("*.py")]
    for nb in PACKAGE.rglob("*.ipynb"):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        # IPython magics and shell escapes are not Python.
        out.append((str(nb.relative_to(ROOT)), "\n".join(l for l in code.splitlines() if not l.lstrip().startswith(("%", "!")))))
    return out


def _imported_top_level() -> dict[str, str]:
    """Top-level module -> one file importing it (absolute imports only)."""
    found: dict[str, str] = {}
    for where, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for n in names:
                found.setdefault(n.split(".")[0], where)
    return found


def _third_party(imported: dict[str, str]) -> dict[str, str]:
    return {m: w for m, w in imported.items()
            if m not in sys.stdlib_module_names and m != "eafix_forensics" and m != "__future__"}


def test_every_declared_dependency_is_imported_or_used_by_name():
    imported = _imported_top_level()
    everything = "\n".join(text for _, text in _sources())
    unused = []
    for dist in _declared():
        module = MODULE_OF.get(dist, dist.replace("-", "_"))
        if module in imported:
            continue
        why = USED_WITHOUT_IMPORT.get(dist)
        if why is None or why[1] not in everything:
            unused.append(dist)
    assert unused == [], f"declared in pyproject.toml but never used by eafix_forensics/: {unused}"


def test_every_third_party_import_is_declared():
    declared_modules = {MODULE_OF.get(d, d.replace("-", "_")) for d in (*_declared(), *_optional())}
    undeclared = {m: w for m, w in _third_party(_imported_top_level()).items() if m not in declared_modules}
    assert undeclared == {}, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_pins_the_code_needs():
    declared = _declared()
    assert declared["pandas"] == "pandas>=3"  # pd.StringDtype(na_value=...), str as the default string dtype
    assert "bleach" not in declared and "rich" not in declared
    assert "nh3" in declared


def test_the_check_sees_a_missing_and_an_unused_dependency(monkeypatch):
    """The two checks above fail on the mistakes they are for."""
    real = _declared()
    monkeypatch.setattr(sys.modules[__name__], "_declared", lambda: {**real, "rich": "rich>=13"})
    try:
        test_every_declared_dependency_is_imported_or_used_by_name()
    except AssertionError as exc:
        assert "rich" in str(exc)
    else:
        raise AssertionError("an unused declared dependency went unnoticed")
    monkeypatch.setattr(sys.modules[__name__], "_declared",
                        lambda: {k: v for k, v in real.items() if k != "httpx"})
    try:
        test_every_third_party_import_is_declared()
    except AssertionError as exc:
        assert "httpx" in str(exc)
    else:
        raise AssertionError("an undeclared import went unnoticed")
