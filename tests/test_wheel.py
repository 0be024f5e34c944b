"""The package as a new user gets it: the wheel, installed into a fresh venv outside the checkout,
runs ``eafix-forensics demo`` in an empty folder (issue 17: the wheel once held no notebooks).

Dependencies come from the pip cache and the configured package index (no other network).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=420, **kw)
    assert proc.returncode == 0, f"{cmd}: {proc.stderr[-3000:]}"
    return proc


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "EAFIX_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return env


def _pip(venv: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy: an in-tree build leaves build/lib behind, whose stale files a later wheel would ship.
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "eafix_forensics", src / "eafix_forensics",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp / "dist"), str(src)])
    (wheel,) = (tmp / "dist").glob("eafix_forensics-*.whl")
    venv = tmp / "venv"
    # A venv without its own pip (ensurepip costs ~6 s): this pip installs into it with --python.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    _run([*_pip(venv), "install", "--quiet", "--no-compile", str(wheel)], env=_clean_env(tmp))
    return venv


@pytest.mark.timeout(900)
def test_installed_wheel_runs_the_demo_in_an_empty_folder(wheel_venv, tmp_path):
    env = _clean_env(tmp_path)
    where = _run([str(wheel_venv / "bin" / "python"), "-c", "import eafix_forensics; print(eafix_forensics.__file__)"],
                 cwd=tmp_path, env=env).stdout.strip()
    assert Path(where).is_relative_to(wheel_venv), where  # the installed copy, not the checkout

    proc = _run([str(wheel_venv / "bin" / "eafix-forensics"), "demo"], cwd=tmp_path, env=env)
    for html in (tmp_path / "output" / "INC-DEMO" / "investigation.html",
                 tmp_path / "output" / "INC-DEMO" / "post_incident_review.html"):
        text = html.read_text(encoding="utf-8")
        assert "INC-DEMO" in text, html
        assert "<script" not in text.lower()
        assert proc.stdout.count(str(html)) == 1  # each report listed once
    # No kernel chatter: neither ipykernel's TCP warning nor the "KeyboardInterrupt caught in
    # kernel" that jupyter_client's interrupt-before-shutdown can provoke.
    for noise in ("WARNING", "ERROR", "KeyboardInterrupt"):
        assert noise not in proc.stderr, proc.stderr[-2000:]


def test_the_wheel_requires_no_bleach_and_pandas_3(wheel_venv, tmp_path):
    pip = [*_pip(wheel_venv), "show"]
    ours = _run([*pip, "eafix-forensics"], env=_clean_env(tmp_path)).stdout
    requires = next(l for l in ours.splitlines() if l.startswith("Requires:"))
    assert "nh3" in requires and "bleach" not in requires and "rich" not in requires
    pandas = _run([*pip, "pandas"], env=_clean_env(tmp_path)).stdout
    assert int(next(l for l in pandas.splitlines() if l.startswith("Version:")).split()[1].split(".")[0]) >= 3
    # Nothing in the install pulls bleach (end of life) in: the HTML export is ours (nh3 +
    # markdown-it-py), not nbconvert's, which still requires it.
    listed = _run([*_pip(wheel_venv), "list", "--format=json"], env=_clean_env(tmp_path)).stdout
    installed = {d["name"].lower() for d in json.loads(listed)}
    assert "bleach" not in installed and "nbconvert" not in installed, sorted(installed)
    assert {"nh3", "markdown-it-py", "papermill"} <= installed
