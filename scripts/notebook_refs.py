"""Refresh the reference outputs that nbval checks, and strip every other output.

Notebooks are stored without outputs, except cells marked ``# NBVAL_CHECK_OUTPUT``:
those keep the outputs of a run on INC-DEMO as the reference nbval compares
against. Run after changing a notebook or the demo (``make notebook-refs``).

    python scripts/notebook_refs.py notebooks/*.ipynb
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
import papermill as pm

ROOT = Path(__file__).resolve().parent.parent


def refresh(path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        pm.execute_notebook(str(path), str(out), cwd=str(path.parent), kernel_name="python3", progress_bar=False)
        ran = nbformat.read(str(out), as_version=4)
    nb = nbformat.read(str(path), as_version=4)
    ran_cells = [c for c in ran.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    count = 0
    for cell, done in zip(nb.cells, ran_cells, strict=True):
        if cell.cell_type != "code":
            continue
        # nbval refuses a reference cell with outputs but no execution count.
        count += 1
        if "NBVAL_CHECK_OUTPUT" in cell.source:
            cell.execution_count = count
            cell.outputs = list(done.outputs)
            for o in cell.outputs:
                if "execution_count" in o:
                    o["execution_count"] = count
        else:
            cell.execution_count = None
            cell.outputs = []
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, str(path))
    print(f"refreshed {path}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        refresh(Path(arg))
