"""Reference outputs for nbval, kept beside the notebooks rather than inside them.

Notebooks are stored clean (no outputs). Cells marked ``# NBVAL_CHECK_OUTPUT``
hold the key numbers of INC-DEMO; their expected outputs live in
``tests/data/notebook_refs/<notebook>.json``, keyed by cell index together with
the cell's source so a stale reference is caught.

    python scripts/notebook_refs.py refresh eafix_forensics/notebooks/*.ipynb      # re-run on INC-DEMO, store references
                                                                                   # (refused when it contradicts tests/story.py)
    python scripts/notebook_refs.py assemble DIR eafix_forensics/notebooks/*.ipynb # copies with references, for nbval
    python scripts/notebook_refs.py strip eafix_forensics/notebooks/*.ipynb        # clear every output in place
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
REFS = ROOT / "tests" / "data" / "notebook_refs"
MARK = "NBVAL_CHECK_OUTPUT"


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def strip(path: Path) -> None:
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, str(path))


# notebook -> the report kind whose story (tests/story.py) its rendering must tell
STORY_KINDS = {"investigation": "investigation", "post_incident_review": "review"}


def story_contradictions(path: Path, executed: Path) -> list[str]:
    """What the rendered ``executed`` notebook fails to state of INC-DEMO's story."""
    kind = STORY_KINDS.get(path.stem)
    if kind is None:
        return []
    sys.path.insert(0, str(ROOT))
    from eafix_forensics.report import export_html
    from tests.story import contradictions, html_text

    html = export_html(executed, executed.with_suffix(".html"))
    return contradictions(html_text(html), kind)


def refresh(path: Path) -> None:
    import papermill as pm

    strip(path)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        pm.execute_notebook(str(path), str(out), cwd=str(path.parent), kernel_name="python3", progress_bar=False)
        ran = nbformat.read(str(out), as_version=4)
        # A reference is a snapshot: never store one that contradicts the story written by hand.
        wrong = story_contradictions(path, out)
        if wrong:
            sys.exit(f"{path}: references NOT refreshed: the rendered notebook does not state "
                     f"{len(wrong)} fact(s) of INC-DEMO's story (tests/story.py): " + "; ".join(wrong))
    ran_cells = [c for c in _code_cells(ran) if "injected-parameters" not in c.metadata.get("tags", [])]
    refs = {
        str(i): {"source": cell.source, "outputs": done.outputs}
        for i, (cell, done) in enumerate(zip(_code_cells(nbformat.read(str(path), as_version=4)), ran_cells, strict=True))
        if MARK in cell.source
    }
    REFS.mkdir(parents=True, exist_ok=True)
    (REFS / f"{path.stem}.json").write_text(json.dumps(refs, indent=1, sort_keys=True) + "\n")
    print(f"refreshed {REFS / (path.stem + '.json')} ({len(refs)} checked cells)")


def assemble(target: Path, path: Path) -> None:
    """Write ``target/<name>.ipynb``: the clean notebook with its reference outputs filled in."""
    refs = json.loads((REFS / f"{path.stem}.json").read_text())
    nb = nbformat.read(str(path), as_version=4)
    for i, cell in enumerate(_code_cells(nb)):
        ref = refs.get(str(i))
        if MARK not in cell.source:
            continue
        if ref is None or ref["source"] != cell.source:
            sys.exit(f"{path}: code cell {i} changed since its reference was stored; run `make notebook-refs`")
        # nbval refuses a reference cell with outputs but no execution count.
        cell.execution_count = i + 1
        cell.outputs = [nbformat.from_dict(o) for o in ref["outputs"]]
        for o in cell.outputs:
            if "execution_count" in o:
                o["execution_count"] = i + 1
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target / path.name))


if __name__ == "__main__":
    command, *args = sys.argv[1:] or ["help"]
    if command == "refresh":
        for a in args:
            refresh(Path(a))
    elif command == "strip":
        for a in args:
            strip(Path(a))
    elif command == "assemble" and args:
        for a in args[1:]:
            assemble(Path(args[0]), Path(a))
    else:
        sys.exit(__doc__)
