"""Progress bars with ``tqdm.auto``: a bar on a terminal, a widget in JupyterLab (with ipywidgets,
the ``lab`` extra), nothing when stderr is a pipe or a file unless asked.

``progress`` arguments take True (bars), False (none) or None (automatic: on when stderr is a
terminal or the code runs in a Jupyter kernel; ``$EAFIX_PROGRESS`` = 1/0 decides first).
Report kernels started by papermill get ``EAFIX_PROGRESS=0``: a bar is no part of a report.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from tqdm import TqdmWarning

with warnings.catch_warnings():
    # In a kernel without ipywidgets tqdm.auto falls back to the terminal bar, and says so on import.
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

__all__ = ["ENV", "bar", "off_in_children", "wanted"]

ENV = "EAFIX_PROGRESS"


def _in_jupyter_kernel() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel.zmqshell" not in sys.modules:
        return False
    ip = shell.get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def wanted(progress: bool | None) -> bool:
    """Whether to show bars: ``progress`` when given, else ``$EAFIX_PROGRESS``, else a terminal or JupyterLab."""
    if progress is not None:
        return bool(progress)
    env = os.environ.get(ENV, "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty or _in_jupyter_kernel()


@contextlib.contextmanager
def bar(enabled: bool, **options: Any) -> Iterator[Any | None]:
    """A tqdm bar (``options`` as tqdm's: total, desc, unit, delay…) when ``enabled``, else None."""
    if not enabled:
        yield None
        return
    b = tqdm(file=sys.stderr, dynamic_ncols=True, **options)
    try:
        yield b
    finally:
        b.close()


@contextlib.contextmanager
def off_in_children() -> Iterator[None]:
    """``$EAFIX_PROGRESS=0`` for processes started inside (the report kernels), restored after."""
    old = os.environ.get(ENV)
    os.environ[ENV] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old
