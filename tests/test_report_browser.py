"""The investigation HTML in a real browser: headless Chromium (Debian's package)."""

import shutil
from pathlib import Path

import pytest

from eafix_forensics.demo import build_demo
from eafix_forensics.report import run_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parent.parent
# Flags that keep Chromium off the network and quiet on a machine with no outside access.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it)")
def test_investigation_html_opens_without_console_errors(tmp_path):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "out"
    build_demo(out)
    html = run_report("INC-DEMO", kind="investigation", output_dir=out)
    problems = []
    shot = ROOT / "output" / "INC-DEMO-investigation-screenshot.png"
    shot.parent.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        title = page.title()
        headings = page.locator("h2").all_inner_texts()
        images = page.locator("img").count()
        natural = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert problems == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert "Investigation" in title or "investigation" in title
    assert {"Summary", "Timeline", "Data sources"} <= set(headings)
    assert images >= 1 and all(w > 0 for w in natural)  # every embedded figure decodes
    assert shot.stat().st_size > 10_000
