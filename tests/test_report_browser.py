"""The reports in a real browser, as the on-call engineer reads them: headless Chromium (Debian's package).

Five incidents: INC-DEMO (a deploy breaks execution-engine); two of the scenario
library's, collected on the real servers: broker-down (no change to blame) and
migration-lock (a migration in another service holds a lock); INC-NOCAUSE (the demo's
symptoms with no change in the evidence, still open) and INC-OUTAGE (Prometheus
unreachable, PostgreSQL not configured). Each one's investigation report and
post-incident review are opened at 1440×900 and at 390×844; screenshots of every page
at both widths go to ``output/screenshots/`` for a person to look at.
"""

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from eafix_forensics import EvidenceBundle, verdict
from eafix_forensics.bundle import Evidence
from eafix_forensics.config import Config, GitConfig
from eafix_forensics.demo import DEMO_WINDOW, build_demo, demo_evidence, index_demo_history
from eafix_forensics.report import run_reports

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "output" / "screenshots"
# Flags that keep Chromium off the network and quiet on a machine with no outside access.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WEB_URL = "https://git.example.com/eafix/{repo}"
WIDE, NARROW = {"width": 1440, "height": 900}, {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it)")


def _no_change(evidence: list[Evidence]) -> list[Evidence]:
    """The demo's symptoms with no commit, tag or restart in the evidence; still open."""
    out = []
    for e in evidence:
        if e.name in ("commits", "tags"):
            e = Evidence(e.name, e.frame.iloc[0:0], source=e.source, query=e.query)
        elif e.name == "logs":
            e.frame = e.frame[~e.frame["message"].astype(str).str.contains("Starting execution-engine version")]
        elif e.name == "incident":
            e.frame = e.frame.assign(incident_id="INC-NOCAUSE", resolved_at=pd.NaT, title="Orders rejected by the broker")
        elif e.name == "incident_updates":
            e.frame = e.frame.iloc[:1]
        out.append(e)
    return out


def _sources_down(evidence: list[Evidence]) -> list[Evidence]:
    """Prometheus unreachable, PostgreSQL not configured: the report must say so and still decide."""
    out = []
    for e in evidence:
        if e.name in ("metrics", "metrics_baseline", "metric_breaches"):
            e = Evidence(e.name, e.frame.iloc[0:0], source=e.source, query=e.query, status="unavailable",
                         error="GET http://localhost:9090/api/v1/query_range: connection refused")
        elif e.name.startswith("pg_"):
            e = Evidence(e.name, e.frame.iloc[0:0], source=e.source, query=e.query, status="skipped",
                         error="[postgres] url not configured")
        elif e.name == "incident":
            e.frame = e.frame.assign(incident_id="INC-OUTAGE", severity="P2",
                                     title="Prometheus down during an execution-engine incident")
        out.append(e)
    return out


VARIANTS = {"INC-NOCAUSE": _no_change, "INC-OUTAGE": _sources_down}
INCIDENTS = ["INC-DEMO", "SCN-broker-down", "SCN-migration-lock", *VARIANTS]
SCENARIOS = ("broker-down", "migration-lock")


def _scenario_incidents(out: Path, pg, workdir: Path) -> list[str]:
    """Build two scenarios of the library on the real servers; their bundles join ``out``."""
    from tests.scenarios.build import build, bundle_path
    from tests.scenarios.library import all_scenarios

    chosen = [s for s in all_scenarios() if s.name in SCENARIOS]
    build(chosen, workdir, pg=pg, workdir=workdir / "_work", rebuild=True, log=lambda m: None)
    for scn in chosen:
        shutil.copytree(bundle_path(workdir, scn), out / scn.incident_id / "evidence")
    return [scn.incident_id for scn in chosen]


@pytest.fixture(scope="module")
def reports(tmp_path_factory, pg_server):
    out = tmp_path_factory.mktemp("out")
    build_demo(out)
    index_demo_history(out)
    for incident_id, change in VARIANTS.items():
        evidence = change(demo_evidence(out / incident_id / "sample"))
        # INC-OUTAGE's repositories have a web front end: commits become links.
        config = Config(git=GitConfig(web_url=WEB_URL)) if incident_id == "INC-OUTAGE" else None
        EvidenceBundle.write(out / incident_id / "evidence", incident_id=incident_id, window=DEMO_WINDOW,
                             evidence=evidence, config=config)
    incidents = ["INC-DEMO", *VARIANTS, *_scenario_incidents(out, pg_server, tmp_path_factory.mktemp("scenarios"))]
    assert sorted(incidents) == sorted(INCIDENTS)
    return {i: (*run_reports(i, kinds=("investigation", "review"), output_dir=out),
                verdict(EvidenceBundle.open(out / i / "evidence")).cause is not None) for i in incidents}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _open(browser, html: Path, viewport: dict) -> tuple:
    page = browser.new_page(viewport=viewport)
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return page, problems, requests


# Whether the element holding each text ends inside the first screen.
ABOVE_FOLD = """texts => texts.map(t => {
  const el = [...document.querySelectorAll('.eafix-card p, .eafix-card li, .eafix-card h2, .eafix-card h3')]
    .find(e => e.textContent.includes(t));
  return el ? el.getBoundingClientRect().bottom <= window.innerHeight : null;
})"""


def _page_checks(page, html: Path, incident_id: str) -> None:
    assert incident_id in page.title(), page.title()
    assert page.locator("script").count() == 0
    cells = page.evaluate("[...document.querySelectorAll('td, th')].map(c => c.textContent.trim())")
    assert not [c for c in cells if c.endswith(("...", "…"))], "a table cell is cut"
    # No pandas index column, no pandas HTML at all: every table is the report's own.
    assert page.locator("table.dataframe").count() == 0
    assert page.evaluate("[...document.querySelectorAll('table')].every(t => t.classList.contains('eafix'))")
    assert page.locator("tbody th").count() == 0
    text = page.evaluate("document.body.textContent")
    # "None planned" is the runbook template's Next Update once resolved, not a missing value.
    assert not re.search(r"\b(NaN|NaT)\b|\bNone\b(?! planned)|<NA>", text), re.search(r".{40}\b(NaN|NaT|None)\b.{40}", text)
    alts = page.evaluate("[...document.images].map(i => i.alt)")
    assert all(a and "No description" not in a for a in alts), alts
    assert all(w > 0 for w in page.evaluate("[...document.images].map(i => i.naturalWidth)"))


@pytest.mark.parametrize("incident_id", INCIDENTS)
def test_investigation_first_screen_decides(reports, browser, incident_id):
    html = reports[incident_id][0]
    page, problems, requests = _open(browser, html, WIDE)
    _page_checks(page, html, incident_id)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{incident_id}-investigation-1440.png"))
    page.screenshot(path=str(SHOTS / f"{incident_id}-investigation-1440-full.png"), full_page=True)
    card = page.locator(".eafix-card").inner_text()
    severity = re.search(r"\bP[0-3]\b", card)
    assert severity is not None
    first = re.search(r"First symptom (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", card)
    assert first is not None, card
    # The first screen says what the verdict says: a likely change, or that none explains the symptoms.
    has_cause = reports[incident_id][2]
    if incident_id.startswith("INC-"):
        assert has_cause == (incident_id != "INC-NOCAUSE")
    cause = "Likely cause" if has_cause else "no change explains these symptoms"
    needles = [severity.group(0), f"First symptom {first.group(1)} UTC", cause, "Next steps"]
    step = page.locator(".eafix-card ol li").first.inner_text()
    assert page.evaluate(ABOVE_FOLD, [*needles, step[:30]]) == [True] * 5, needles
    if not has_cause:
        assert "Look next at" in card and "Likely cause (" not in card
    elif incident_id.startswith("INC-"):
        assert "switch broker client to async connection pool" in card and "Sam Lee" in card
    headings = page.locator("h2").all_inner_texts()
    assert {"Summary", "Timeline", "Data sources", "Contents"} <= {h.strip("¶ ") for h in headings}
    if incident_id == "INC-OUTAGE":
        # The likely cause links its commit; so does the changes table.
        sha = "9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"
        href = f"https://git.example.com/eafix/execution-engine/commit/{sha}"
        assert page.locator(f'.eafix-card a[href="{href}"]').count() == 1
        assert page.locator(f'table.eafix a[href="{href}"]').count() == 1
        # The card says its verdict stands on partial evidence.
        assert "Evidence gaps, conclusions may miss them: prometheus unavailable (" in card
        sources = page.locator(".eafix-sources").inner_text()
        assert "of 19 evidence tables" in sources and "metrics (prometheus): unavailable" in page.content()
    page.close()
    assert problems == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


@pytest.mark.parametrize("incident_id", INCIDENTS)
@pytest.mark.parametrize("kind", [0, 1], ids=["investigation", "review"])
def test_reports_read_on_a_phone(reports, browser, incident_id, kind):
    html = reports[incident_id][kind]
    page, problems, requests = _open(browser, html, NARROW)
    _page_checks(page, html, incident_id)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    name = html.stem
    page.screenshot(path=str(SHOTS / f"{incident_id}-{name}-390.png"))
    page.screenshot(path=str(SHOTS / f"{incident_id}-{name}-390-full.png"), full_page=True)
    page.close()
    if kind == 1:
        wide, _, _ = _open(browser, html, WIDE)
        wide.screenshot(path=str(SHOTS / f"{incident_id}-{name}-1440.png"))
        wide.screenshot(path=str(SHOTS / f"{incident_id}-{name}-1440-full.png"), full_page=True)
        headings = [h.strip("¶ ") for h in wide.locator("h2").all_inner_texts()]
        assert [h for h in headings if h != "Contents"] == [
            "Summary", "Impact", "Root cause and trigger", "Detection", "Resolution", "Timeline", "Lessons learned",
            "Action items", "Data sources"]
        wide.close()
    assert problems == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
