"""Report rendering speed: `eafix-forensics report INC-DEMO --kind all` against an
empty notebook run by papermill, measured in the same run (target ratio ≤ 3).

    .venv/bin/python benchmarks/report.py [--repeat 3]

Both are timed as the commands a user types (fresh processes), median of
``--repeat`` runs. It then breaks the report down: interpreter and imports,
kernel start-up, cell execution (from papermill's per-cell timings), HTML export.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_RATIO = 3.0  # report --kind all / an empty papermill run, at most


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import nbformat

    from eafix_forensics.demo import build_demo, index_demo_history

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "output"
        build_demo(out)
        index_demo_history(out)
        empty = Path(tmp) / "empty.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell("")]
        nbformat.write(nb, empty)

        base_cmd = [str(BIN / "papermill"), str(empty), str(Path(tmp) / "empty_out.ipynb"), "-k", "python3"]
        report_cmd = [str(BIN / "eafix-forensics"), "report", "INC-DEMO", "--kind", "all", "--output-dir", str(out)]
        timed(base_cmd)  # warm the page cache and font caches for both
        timed(report_cmd)
        # Alternate the two, so a machine whose load changes during the run slows both alike.
        base: list[float] = []
        report: list[float] = []
        for _ in range(args.repeat):
            base.append(timed(base_cmd))
            report.append(timed(report_cmd))
        b, r = statistics.median(base), statistics.median(report)
        print(f"empty notebook via papermill          : {b:6.2f} s (median of {args.repeat}: {', '.join(f'{x:.2f}' for x in base)})")
        print(f"report INC-DEMO --kind all (2 reports): {r:6.2f} s (median of {args.repeat}: {', '.join(f'{x:.2f}' for x in report)})")
        print(f"ratio                                 : {r / b:6.2f}  (target ≤ {TARGET_RATIO:g})")

        # Where the time goes, from one in-process run of each stage.
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import eafix_forensics.report, papermill"], check=True)
        imports = time.perf_counter() - t0
        print(f"\nbreakdown (sequential, one report at a time):")
        print(f"  interpreter + eafix_forensics + papermill imports : {imports:5.2f} s")
        from eafix_forensics.report import execute_notebook, export_html, notebook_path

        for kind, name in (("investigation", "investigation"), ("review", "post_incident_review")):
            dst = Path(tmp) / f"{name}.ipynb"
            t0 = time.perf_counter()
            execute_notebook(notebook_path(kind), dst, {"incident_id": "INC-DEMO", "output_dir": str(out)})
            executed = time.perf_counter() - t0
            cells = sum(c.get("metadata", {}).get("papermill", {}).get("duration") or 0
                        for c in json.loads(dst.read_text())["cells"])
            t0 = time.perf_counter()
            export_html(dst, dst.with_suffix(".html"))
            exported = time.perf_counter() - t0
            print(f"  {kind:<13}: kernel start + messaging {executed - cells:4.2f} s, cells {cells:4.2f} s, "
                  f"HTML export {exported:4.2f} s")
    if r / b > TARGET_RATIO:
        print(f"TARGET MISSED: report --kind all takes {r / b:.2f}x an empty papermill run, target <= {TARGET_RATIO:g}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
