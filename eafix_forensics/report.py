"""Run a report notebook with papermill and export it to one self-contained HTML file.

``run_report("INC-123", kind="investigation")`` executes
``eafix_forensics/notebooks/investigation.ipynb`` (package data) into ``output/INC-123/investigation.ipynb``
(papermill, with an execution timeout) and exports
``output/INC-123/investigation.html`` (:mod:`eafix_forensics.report_html`): no input cells,
sanitized HTML, images inline, the page and styles in ``eafix_forensics/templates/eafix``.

A failing cell raises :class:`ReportError` carrying the cell index and the
exception name; the partial notebook stays in place for inspection.
"""

from __future__ import annotations

import ast
import difflib
import json
import multiprocessing
import os
import random
import socket
import types
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import zmq
from traitlets.config import Config as TraitletsConfig

from .bundle import (
    EvidenceBundle,
    bundle_dir,
    check_incident_id,
    existing_bundle,
    make_dirs,
    refuse_symlinks,
    write_new_file,
)
from .collect import collect as run_collect
from .config import Config, output_root
from .errors import ConfigError, ReportError
from .progress import off_in_children
from .report_html import cell_text, clean_html, export_html, read_notebook, report_title
from .window import TimeWindow, parse_time

__all__ = [
    "NOTEBOOKS",
    "check_parameters",
    "clean_html",
    "default_output_dir",
    "export_html",
    "export_markdown",
    "notebook_path",
    "open_or_collect",
    "run_report",
    "run_reports",
    "validate_parameters",
]

# Notebooks and the HTML template are package data (in the wheel too); papermill needs
# real paths, which an installed (unzipped) package has.
NOTEBOOK_DIR = Path(str(resources.files("eafix_forensics").joinpath("notebooks")))
NOTEBOOKS = {
    "investigation": "investigation.ipynb",
    "review": "post_incident_review.ipynb",
    "explore": "explore.ipynb",
    "trends": "incident_trends.ipynb",
}
# The HTML names users know from the runbook's vocabulary.
_HTML_NAMES = {"review": "post_incident_review", "trends": "incident_trends"}


def default_output_dir() -> Path:
    """Where reports look for bundles without a config: :func:`~eafix_forensics.config.output_root`
    (``$EAFIX_OUTPUT_DIR``, else ``./output``, else the source tree's ``output/``)."""
    return output_root(source_tree=True)


def notebook_path(kind: str) -> Path:
    """The source notebook for report ``kind``."""
    try:
        name = NOTEBOOKS[kind]
    except KeyError:
        raise ConfigError(f"report kind {kind!r}: expected one of {', '.join(NOTEBOOKS)}") from None
    path = NOTEBOOK_DIR / name
    if not path.is_file():
        raise ReportError(f"{path}: notebook not found (the installed package is missing its notebooks)")
    return path


def _parameter_defaults(path: Path) -> dict[str, Any]:
    """Names and default values assigned in the notebook's cell tagged ``parameters``.

    Read with ``ast`` rather than papermill's inspector: it is instant and needs no kernel.
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell_text(cell["source"])
            out: dict[str, Any] = {}
            for node in ast.parse(source).body:
                if isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for t in targets:
                        if isinstance(t, ast.Name) and node.value is not None:
                            try:
                                out[t.id] = ast.literal_eval(node.value)
                            except ValueError:
                                out[t.id] = None
            return out
    return {}


_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def check_parameters(kind: str, namespace: Mapping[str, Any]) -> None:
    """Fail fast inside a report notebook: called right after the parameters (and
    papermill's injected ones), it raises ConfigError naming any unknown parameter
    (a misspelled ``-p``) or unparsable time before any evidence cell runs."""
    given = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_")
        and name not in _IPYTHON_NAMES
        and not isinstance(value, (types.ModuleType, types.FunctionType, type))
    }
    validate_parameters(kind, given)


def validate_parameters(kind: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``parameters`` against the notebook's ``parameters`` cell before running it.

    Unknown names and unparsable times are a ConfigError naming them.
    """
    path = notebook_path(kind)
    known = _parameter_defaults(path)
    unknown = sorted(set(parameters) - set(known))
    # A near-miss is most likely a typo: say which name was meant.
    hints = {u: difflib.get_close_matches(u, list(known), n=1) for u in unknown}
    if unknown:
        named = ", ".join(f"{u} (did you mean {hints[u][0]}?)" if hints[u] else u for u in unknown)
        raise ConfigError(f"{path.name}: unknown parameter(s) {named}; known: {', '.join(sorted(known))}")
    for name in ("start", "end"):
        value = parameters.get(name)
        if value:
            parse_time(str(value))
    if "incident_id" in parameters:
        check_incident_id(str(parameters["incident_id"]))
    return dict(parameters)


def open_or_collect(
    incident_id: str,
    *,
    start: str | None = None,
    end: str | None = None,
    config_path: str | None = None,
    bundle_path: str | None = None,
    collect: bool = True,
    output_dir: str | os.PathLike[str] | None = None,
    window: TimeWindow | None = None,
) -> EvidenceBundle:
    """The bundle for ``incident_id``: ``bundle_path`` if given, else
    ``output/INCIDENT_ID/evidence``, else (when ``collect`` and a window — ``window``
    or ``start``/``end`` — is given) a fresh collection. Raises ConfigError when there
    is none to be had."""
    check_incident_id(incident_id)
    if bundle_path:
        return EvidenceBundle.open(bundle_path)
    config = Config.load(config_path) if config_path else None
    root = output_root(output_dir, config, source_tree=True)
    if window is None and start:
        window = TimeWindow.parse(start, end)
    if not collect or window is None:
        hint = "" if not collect else "or give a window (start/end, or --since) to collect one"
        return EvidenceBundle.open(existing_bundle(incident_id, root, hint=hint))
    existing = bundle_dir(incident_id, root)
    if (existing / "manifest.json").is_file():
        return EvidenceBundle.open(existing)
    return run_collect(incident_id, window, config or Config.load(), output_dir=root, require_evidence=True)


def run_report(
    incident_id: str,
    *,
    kind: str = "investigation",
    output_dir: str | os.PathLike[str] = "output",
    bundle_path: str | os.PathLike[str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    timeout_s: float = 600,
    progress: bool = False,
    format: str = "html",
) -> Path:
    """Execute report ``kind`` for ``incident_id`` and export it; returns the HTML path
    (the Markdown path for ``format="md"``).

    The executed notebook is ``output/INCIDENT_ID/<kind>.ipynb``; the HTML sits beside it,
    and for the post-incident review its Markdown export too (``.md``, for a wiki or a
    pull request). ``format="md"`` writes only the Markdown.
    """
    if format not in ("html", "md"):
        raise ConfigError(f"report format {format!r}: expected html or md")
    check_incident_id(incident_id)
    src = notebook_path(kind)
    out_dir = Path(output_dir)
    params: dict[str, Any] = {"incident_id": incident_id, "output_dir": str(out_dir)}
    if bundle_path is not None:
        params["bundle_path"] = str(bundle_path)
    if config_path is not None:
        params["config_path"] = str(config_path)
    if start is not None:
        params["start"] = start
    if end is not None:
        params["end"] = end
    params.update(parameters or {})
    known = _parameter_defaults(src)
    params = {k: v for k, v in params.items() if k in known or k not in ("output_dir", "bundle_path", "config_path")}
    validate_parameters(kind, params)

    if kind != "trends" and bundle_path is None and not start:
        existing_bundle(incident_id, out_dir, hint="or pass --start/--end")

    name = _HTML_NAMES.get(kind, kind)
    target_dir = out_dir / incident_id if kind != "trends" else out_dir
    ipynb = make_dirs(target_dir) / f"{name}.ipynb"
    refuse_symlinks(ipynb, ipynb.with_suffix(".html"), ipynb.with_suffix(".md"))
    execute_notebook(src, ipynb, params, timeout_s=timeout_s, progress=progress, cwd=Path.cwd())
    if format == "md":
        return export_markdown(ipynb, ipynb.with_suffix(".md"))
    if kind == "review":
        export_markdown(ipynb, ipynb.with_suffix(".md"))
    return export_html(ipynb, ipynb.with_suffix(".html"))


def run_reports(
    incident_id: str,
    *,
    kinds: Sequence[str] = ("investigation", "review"),
    bundle_path: str | os.PathLike[str] | None = None,
    **options: Any,
) -> list[Path]:
    """Run several reports of one incident at once; returns their HTML paths in ``kinds`` order.

    Each report runs in its own worker and kernel process, so on two cores the
    reports overlap instead of queueing (``report --kind all`` is then about as long as
    its longest notebook). The trends report never takes the incident's bundle.
    The first failure is raised after the others have finished.
    """
    jobs = [(incident_id, k, None if k == "trends" else bundle_path, options) for k in kinds]
    if len(jobs) == 1:
        return [_run_one(jobs[0])]
    import papermill  # noqa: F401  - deferred (~2 s): imported once here, inherited by the forked workers

    # Forked workers (not threads): the notebook client's message loop and the HTML
    # export are Python-bound, and two of them in one process queue on the GIL.
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(jobs), mp_context=ctx) as pool:
        futures = [pool.submit(_run_one, job) for job in jobs]
        return [f.result() for f in futures]


def _run_one(job: tuple[str, str, Any, dict[str, Any]]) -> Path:
    incident_id, kind, bundle_path, options = job
    return run_report(incident_id, kind=kind, bundle_path=bundle_path, **options)


def execute_notebook(
    src: Path,
    dst: Path,
    parameters: Mapping[str, Any],
    *,
    timeout_s: float = 600,
    progress: bool = False,
    cwd: Path | None = None,
) -> Path:
    """Run ``src`` with papermill into ``dst``; failures become ReportError (``dst`` is kept)."""
    # deferred: papermill costs ~2 s to import
    import papermill as pm
    from papermill.exceptions import PapermillException, PapermillExecutionError

    try:
        with off_in_children():  # the kernel shows no progress bar: a report holds none
            pm.execute_notebook(
                str(src),
                str(dst),
                parameters=dict(parameters),
                kernel_name="python3",
                execution_timeout=timeout_s,
                progress_bar=progress,
                cwd=str(cwd) if cwd else None,
                # Saving the growing notebook after every cell rewrites every embedded
                # figure each time; papermill still writes it once at the end, and on a
                # failure (the partial notebook is kept).
                request_save_on_cell_execute=False,
                config=_kernel_config(),
                # The kernel's own log goes to our stderr. At shutdown jupyter_client interrupts
                # the kernel first (SIGINT), and when that lands inside a message handler ipykernel
                # logs "KeyboardInterrupt caught in kernel." at ERROR: noise on a finished report.
                # A cell's failure reaches us as the notebook's error output, not through this log.
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
    except PapermillExecutionError as exc:
        first = str(exc.evalue).splitlines()[0] if exc.evalue else ""
        raise ReportError(
            f"{src.name}: cell {exc.cell_index} raised {exc.ename}: {first} (partial notebook: {dst})",
            cell_index=exc.cell_index,
            exception_name=exc.ename,
            notebook_path=str(dst),
        ) from exc
    except PapermillException as exc:
        raise ReportError(f"{src.name}: {exc}", notebook_path=str(dst)) from exc
    except TimeoutError as exc:
        raise ReportError(f"{src.name}: a cell ran longer than {timeout_s:.0f}s", notebook_path=str(dst)) from exc
    except RuntimeError as exc:  # kernel died or could not start
        raise ReportError(f"{src.name}: {exc}", notebook_path=str(dst)) from exc
    return dst


def _kernel_config() -> TraitletsConfig:
    """Traitlets config for the kernel manager papermill starts the kernel with.

    - Encryption: ipykernel 7 warns ``Kernel is running over TCP without encryption`` on stderr
      for every kernel whose loopback sockets are plain TCP. The fix it names: the kernel manager
      provisions CurveZMQ keys (jupyter_client's ``transport_encryption``; ``auto`` encrypts when
      the kernelspec declares curve support, as ipykernel's does). Without CurveZMQ in libzmq
      nothing changes.
    - Ports: jupyter_client picks the kernel's five ports by binding port 0 and closing it, so
      they come from the ephemeral range; until the kernel binds them, any outgoing connection on
      the machine (the other report worker's client talking to its kernel, a collector's HTTP
      request) may take one as its source port, and the kernel dies with "Address already in
      use". :func:`_kernel_ports` picks them below the ephemeral range instead.
    """
    km: dict[str, Any] = {}
    if zmq.has("curve"):
        km["transport_encryption"] = "auto"
    ports = _kernel_ports()
    if ports:
        km.update(ports, cache_ports=False)
    return TraitletsConfig({"KernelManager": km}) if km else TraitletsConfig()


_PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
_LOWEST_PORT = 10000


def _ephemeral_floor() -> int:
    """The first port of the OS's ephemeral range (Linux's ip_local_port_range; IANA's 49152 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def _kernel_ports() -> dict[str, int]:
    """Five free loopback ports outside the ephemeral range, chosen at random (so two report
    workers starting kernels at once do not pick alike); {} to leave the choice to jupyter_client
    when the ephemeral range leaves no room below it."""
    floor = _ephemeral_floor()
    if floor - _LOWEST_PORT < 1000:
        return {}
    rng = random.SystemRandom()
    chosen: list[int] = []
    for _ in range(200):
        port = rng.randrange(_LOWEST_PORT, floor)
        if port in chosen:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
        if len(chosen) == len(_PORT_NAMES):
            return dict(zip(_PORT_NAMES, chosen))
    return {}


def export_markdown(ipynb: Path, md: Path) -> Path:
    """Export an executed notebook to Markdown (for a wiki or a pull request): Markdown
    cells as written, each output as its Markdown form (tables as Markdown tables), a
    figure as its description, printed text in a code block. No code cells."""
    nb = read_notebook(ipynb)
    parts = [f"<!-- {report_title(nb, ipynb)}: generated by eafix-forensics; times are UTC -->"]
    for cell in nb["cells"]:
        source = cell_text(cell.get("source"))
        if cell.get("cell_type") == "markdown":
            parts.append(source.strip())
            continue
        if cell.get("cell_type") != "code" or "parameters" in (cell.get("metadata") or {}).get("tags", []):
            continue
        for out in cell.get("outputs") or []:
            if out.get("output_type") == "stream":
                text = cell_text(out.get("text")).strip()
                if text and out.get("name") == "stdout":
                    parts.append(f"```\n{text}\n```")
                continue
            data = out.get("data") or {}
            if "text/markdown" in data:
                parts.append(cell_text(data["text/markdown"]).strip())
            elif "image/png" in data:
                alt = ((out.get("metadata") or {}).get("image/png") or {}).get("alt") or "figure"
                parts.append(f"*Figure (in the HTML report): {alt}*")
            elif "text/plain" in data and "text/html" not in data:
                parts.append(f"```\n{cell_text(data['text/plain']).strip()}\n```")
    write_new_file(md, ("\n\n".join(p for p in parts if p) + "\n").encode("utf-8"))
    return md
