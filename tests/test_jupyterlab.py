"""explore.ipynb in a real JupyterLab, driven by headless Chromium as an analyst would use it.

A JupyterLab server (its own settings, workspaces and runtime directories; token off; no
browser) serves a folder holding explore.ipynb and the INC-DEMO bundle. Chromium opens the
notebook, runs all cells, then all cells again (a re-run must work: nothing raises, nothing
is written to stderr), hovers a marker of the interactive swimlane and reads the event's
evidence ref in the hover label, and writes a screenshot of the swimlane to
``output/screenshots/jupyterlab-swimlane.png`` for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import resources
from pathlib import Path

import pytest

import eafix_forensics as ef
from eafix_forensics.demo import build_demo
from tests.harness import stop_process

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "output" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it)"),
    pytest.mark.timeout(240),
]
pytest.importorskip("plotly")
pytest.importorskip("jupyterlab")


def _explore() -> Path:
    return Path(str(resources.files("eafix_forensics") / "notebooks" / "explore.ipynb"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port serving explore.ipynb beside INC-DEMO's bundle."""
    work = tmp_path_factory.mktemp("lab")
    home = work / "home"
    root = work / "notebooks"
    root.mkdir()
    shutil.copy(_explore(), root / "explore.ipynb")
    bundle = build_demo(work / "output")
    refs = [str(r).split(" | ")[0] for r in ef.timeline(bundle)["ref"].dropna() if r]
    # No news, no update check: nothing leaves the machine, no toast covers the page.
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, "EAFIX_OUTPUT_DIR": str(work / "output"), "HOME": str(home),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_CONFIG_DIR": str(home / "config")}
    port = _free_port()
    log = (work / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.port_retries=0",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab did not start:\n{(work / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, refs
    finally:
        stop_process(proc)
        log.close()


# Run every cell; resolves once they ran, with what each code cell produced.
RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  await app.commands.execute('notebook:run-all-cells');
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const deadline = Date.now() + 90000;
  while (Date.now() < deadline) {
    const busy = panel.sessionContext.session.kernel.status !== 'idle'
      || cells.some(c => c.model.executionCount === null || c.promptNode.textContent.includes('*'));
    if (!busy) break;
    await new Promise(r => setTimeout(r, 200));
  }
  return cells.map(c => ({count: c.model.executionCount, outputs: c.model.outputs.toJSON()}));
}"""


def _problems(cells: list[dict]) -> list[str]:
    out = []
    for i, c in enumerate(cells):
        if c["count"] is None:
            out.append(f"code cell {i} did not run")
        for o in c["outputs"]:
            if o["output_type"] == "error":
                out.append(f"code cell {i}: {o['ename']}: {o['evalue']}")
            elif o["output_type"] == "stream" and o["name"] == "stderr":
                out.append(f"code cell {i} wrote to stderr: {''.join(o['text'])[:300]}")
    return out


def test_explore_runs_twice_in_jupyterlab_and_its_swimlane_hovers_the_evidence(lab):
    from playwright.sync_api import sync_playwright

    lab, refs = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page_errors: list[str] = []
        remote: list[str] = []
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith((lab, "data:", "blob:")) else None)
        page.goto(f"{lab}/lab/tree/explore.ipynb")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext", timeout=60000)
        first = page.evaluate(RUN_ALL)
        assert _problems(first) == []
        second = page.evaluate(RUN_ALL)
        assert _problems(second) == []
        assert all(b["count"] > a["count"] for a, b in zip(first, second, strict=True))
        html = [o for c in second for o in c["outputs"] if "text/html" in o.get("data", {})]
        assert any("EvidenceBundle INC-DEMO" in "".join(o["data"]["text/html"]) for o in html)

        # The interactive swimlane, drawn by the JupyterLab extension plotly ships.
        plot = page.locator(".js-plotly-plot").first
        plot.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        markers = plot.locator(".scatterlayer .trace .points path")
        assert markers.count() >= 5
        box = markers.nth(1).bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function("document.querySelector('.js-plotly-plot .hoverlayer .hovertext') !== null",
                               timeout=5000)
        hover = plot.locator(".hoverlayer").text_content() or ""
        assert " UTC" in hover and any(f"ref {r}" in hover for r in refs), hover
        SHOTS.mkdir(parents=True, exist_ok=True)
        plot.screenshot(path=str(SHOTS / "jupyterlab-swimlane.png"))
        page.screenshot(path=str(SHOTS / "jupyterlab-explore.png"))
        browser.close()
    assert page_errors == []
    assert remote == [], remote[:5]
