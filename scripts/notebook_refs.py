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
    for cell, done in zip(nb.cells, ran_cells, strict=True):
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        if "NBVAL_CHECK_OUTPUT" in cell.source:
            cell.outputs = [o for o in done.outputs if o.get("output_type") != "display_data"]
            for o in cell.outputs:
                if "execution_count" in o:
                    o["execution_count"] = None
                o.pop("metadata", None) if o.get("output_type") == "stream" else None
        else:
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
