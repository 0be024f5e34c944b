"""Draw the import graph of eafix_forensics/ from its own import statements (ast, no import).

    python scripts/import_graph.py            # floors, cycles, rule breaks, sizes; exit 1 on a break
    python scripts/import_graph.py --edges    # one "importer -> imported" line per edge

Every import statement counts, at module level or inside a function. The rules
(ARCHITECTURE.md): no cycles; ``sources/`` never imports ``analysis/`` and
``analysis/`` never imports ``sources/``; only ``cli.py`` imports ``demo/``;
``model/`` imports nothing above the ground floor; no module over
MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES lines; an import inside a
function only for a HEAVY library, with a ``# deferred`` comment.
tests/test_architecture.py runs the same checks.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "eafix_forensics"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 100
# Libraries measured heavy to import (tens of ms to seconds): the only imports allowed inside a
# function, each under or beside a "# deferred" comment saying so.
HEAVY = frozenset({"sqlalchemy", "matplotlib", "papermill", "nbconvert", "nbformat", "IPython",
                   "prometheus_api_client", "requests"})
# the ground floor: what model/ may import (besides itself and the standard library)
GROUND = frozenset({f"{PACKAGE}.errors", f"{PACKAGE}.config", f"{PACKAGE}.window", f"{PACKAGE}.redact"})


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported(node: ast.Import | ast.ImportFrom, name: str, is_pkg: bool, known: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:
        here = name.split(".") if is_pkg else name.split(".")[:-1]
        here = here[: len(here) - (node.level - 1)]
        base = ".".join(here + ([base] if base else []))
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        yield sub if sub in known else base


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Importer -> the package's own modules it imports (explicit imports only)."""
    known = modules(root)
    edges: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(node, name, path.name == "__init__.py", known):
                    if target in known and target != name:
                        edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _under(module: str, floor: str) -> bool:
    full = f"{PACKAGE}.{floor}"
    return module == full or module.startswith(full + ".")


def rule_breaks(edges: dict[str, set[str]]) -> list[str]:
    """One line per import that breaks a floor rule."""
    out = []
    for src, targets in sorted(edges.items()):
        for dst in sorted(targets):
            if _under(src, "sources") and _under(dst, "analysis"):
                out.append(f"{src} imports {dst}: sources/ never imports analysis/")
            if _under(src, "analysis") and _under(dst, "sources"):
                out.append(f"{src} imports {dst}: analysis/ never imports sources/")
            if _under(dst, "demo") and not _under(src, "demo") and src != f"{PACKAGE}.cli":
                out.append(f"{src} imports {dst}: only cli.py imports demo/")
            if _under(src, "model") and not _under(dst, "model") and dst not in GROUND:
                out.append(f"{src} imports {dst}: model/ imports only the ground floor")
    return out


def size_breaks(root: Path = ROOT) -> list[str]:
    """Modules over MAX_MODULE_LINES lines and functions over MAX_FUNCTION_LINES lines."""
    out = []
    for name, path in modules(root).items():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            out.append(f"{name}: {lines} lines (limit {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    out.append(f"{name}.{node.name} (line {node.lineno}): {n} lines (limit {MAX_FUNCTION_LINES})")
    return out


def _says_deferred(line: str) -> bool:
    return "#" in line and "deferred" in line.split("#", 1)[1]


def deferred_import_breaks(root: Path = ROOT) -> list[str]:
    """Imports inside a function that are not a commented deferral of a HEAVY library."""
    out = []
    for name, path in modules(root).items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if node is fn or not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                what = node.names[0].name if isinstance(node, ast.Import) else "." * node.level + (node.module or "")
                i = node.lineno - 1
                # the comment is on the line, above it, or above the group of imports it starts
                while i > 0 and not _says_deferred(lines[i]) and lines[i - 1].strip().startswith(("import ", "from ")):
                    i -= 1
                commented = _says_deferred(lines[i]) or (i > 0 and _says_deferred(lines[i - 1]))
                if what.split(".")[0] not in HEAVY:
                    out.append(f"{name}:{node.lineno}: import {what} inside {fn.name}(): not a heavy library")
                elif not commented:
                    out.append(f"{name}:{node.lineno}: import {what} inside {fn.name}(): no '# deferred' comment")
    return out


def largest(root: Path = ROOT) -> tuple[tuple[int, str], tuple[int, str]]:
    """(lines, module) of the largest module and (lines, function) of the longest function."""
    mod = (0, "")
    fun = (0, "")
    for name, path in modules(root).items():
        text = path.read_text(encoding="utf-8")
        mod = max(mod, (len(text.splitlines()), name))
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
                fun = max(fun, (node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
    return mod, fun


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="print every edge and stop")
    args = parser.parse_args(argv)
    edges = graph()
    if args.edges:
        for src, targets in sorted(edges.items()):
            for dst in sorted(targets):
                print(f"{src} -> {dst}")
        return 0
    found = cycles(edges)
    breaks = rule_breaks(edges)
    sizes = size_breaks()
    deferred = deferred_import_breaks()
    (mlines, mname), (flines, fname) = largest()
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports")
    print(f"cycles: {len(found)}")
    for comp in found:
        print("  " + " <-> ".join(comp))
    print(f"rule breaks: {len(breaks)}")
    for line in breaks:
        print("  " + line)
    print(f"largest module: {mname} ({mlines} lines); longest function: {fname} ({flines} lines)")
    print(f"size breaks: {len(sizes)}")
    for line in sizes:
        print("  " + line)
    print(f"imports inside functions that are not a commented heavy deferral: {len(deferred)}")
    for line in deferred:
        print("  " + line)
    return 1 if found or breaks or sizes or deferred else 0


if __name__ == "__main__":
    sys.exit(main())
