import re

import nbformat
import pytest

from eafix_forensics import ReportError
from eafix_forensics.demo import build_demo
from eafix_forensics.report import execute_notebook, export_html, run_report


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    build_demo(out)
    return run_report("INC-DEMO", kind="investigation", output_dir=out)


def test_investigation_html_is_self_contained(demo_html):
    html = demo_html.read_text()
    assert "INC-DEMO" in html
    assert re.search(r'<img[^>]+src="data:image/png;base64,', html)
    # no remote resources and no code cells
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', html)
    assert "<script" not in html
    assert "open_or_collect" not in html  # input cells are excluded
    assert 'class="eafix-toc"' in html
    assert demo_html.with_suffix(".ipynb").is_file()
    # ... and it tells INC-DEMO's story (tests/story.py), not just any page with an id on it
    from tests.story import contradictions, html_text

    assert contradictions(html_text(demo_html), "investigation") == []


def test_failing_cell_names_the_cell_and_keeps_the_partial_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print('before')"),
                nbformat.v4.new_code_cell("raise ValueError('broken evidence')"),
                nbformat.v4.new_code_cell("print('after')")]
    src = tmp_path / "bad.ipynb"
    nbformat.write(nb, src)
    dst = tmp_path / "out.ipynb"
    with pytest.raises(ReportError) as err:
        execute_notebook(src, dst, {"x": 2}, timeout_s=60)
    assert err.value.exception_name == "ValueError"
    assert err.value.cell_index == 3  # papermill's injected-parameters cell counts
    assert "broken evidence" in str(err.value) and "cell 3" in str(err.value)
    partial = nbformat.read(dst, as_version=4)
    assert any("before" in "".join(o.get("text", "")) for c in partial.cells if c.cell_type == "code" for o in c.outputs)


def test_html_sanitizes_hostile_output(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": '<p>log: <script>alert(1)</script><img src=x onerror=alert(1)></p>',
        "text/plain": "x"})]
    nb.cells = [nbformat.v4.new_markdown_cell("## Logs\n<img src=y onload=alert(2)>"), cell]
    ipynb = tmp_path / "hostile.ipynb"
    nbformat.write(nb, ipynb)
    html = export_html(ipynb, tmp_path / "hostile.html").read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html, re.IGNORECASE)


def test_unknown_report_kind_is_a_config_error(tmp_path):
    from eafix_forensics import ConfigError

    with pytest.raises(ConfigError, match="report kind"):
        run_report("INC-DEMO", kind="weekly", output_dir=tmp_path)


def test_plain_papermill_with_a_misspelled_parameter_fails_clearly(tmp_path):
    import subprocess
    import sys

    from eafix_forensics.report import NOTEBOOK_DIR

    out = tmp_path / "out"
    build_demo(out)
    env = {**__import__("os").environ, "EAFIX_OUTPUT_DIR": str(out)}
    cmd = [sys.executable, "-m", "papermill", str(NOTEBOOK_DIR / "investigation.ipynb"), str(tmp_path / "o.ipynb")]
    ok = subprocess.run([*cmd, "-p", "incident_id", "INC-DEMO"], capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    bad = subprocess.run([*cmd, "-p", "incident_idd", "INC-DEMO"], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode != 0
    assert "unknown parameter(s) incident_idd (did you mean incident_id?)" in bad.stderr


def test_run_report_validates_parameters_before_running(tmp_path):
    from eafix_forensics import ConfigError

    build_demo(tmp_path)
    with pytest.raises(ConfigError, match="unknown parameter.*colect"):
        run_report("INC-DEMO", output_dir=tmp_path, parameters={"colect": False})
    with pytest.raises(ConfigError, match="'not-a-time'"):
        run_report("INC-DEMO", output_dir=tmp_path, parameters={"start": "not-a-time"})
    assert not (tmp_path / "INC-DEMO" / "investigation.ipynb").exists()


@pytest.fixture(scope="module")
def demo_review(tmp_path_factory):
    from eafix_forensics.demo import index_demo_history

    out = tmp_path_factory.mktemp("review")
    build_demo(out)
    index_demo_history(out)
    return run_report("INC-DEMO", kind="review", output_dir=out)


REVIEW_SECTIONS = ["Summary", "Impact", "Root cause and trigger", "Detection", "Resolution", "Timeline",
                   "Lessons learned", "Action items", "Data sources"]


def test_review_is_a_postmortem_and_its_markdown_holds_the_same_sections(demo_review):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(demo_review.read_text(), "html.parser")
    assert [h.get_text().strip("¶ ") for h in soup.find_all("h2") if not h.find_parent(class_="eafix-toc")] == REVIEW_SECTIONS
    assert soup.title.get_text().startswith("INC-DEMO")
    md = demo_review.with_suffix(".md").read_text()
    assert [line[3:] for line in md.splitlines() if line.startswith("## ")] == REVIEW_SECTIONS
    # Action items carry type, priority, owner, due date and status; the one raised again
    # while still open on INC-2024-0917 (76 days) is flagged, in the HTML and the Markdown.
    assert "| Action item | Type | Priority | Owner | Due | Status | Link | Repeats an earlier open item |" in md
    assert "| Alert on broker acknowledgement timeouts per minute | detect | P1 | platform | 2024-12-09 | open |" in md
    assert "⚠ repeats INC-2024-0917 (open 76 days)" in md
    assert "⚠ repeats INC-2024-0917 (open 76 days)" in soup.get_text()
    from tests.story import contradictions, html_text

    assert contradictions(html_text(demo_review), "review") == []
    # Root cause from the verdict, with the five-whys scaffold.
    assert "deploy-execution-engine-2024.12.02 of execution-engine" in soup.get_text()
    assert "Five whys" in md and "Why was it not detected sooner?" in md


def test_review_durations_agree_and_name_their_start(demo_review):
    md = demo_review.with_suffix(".md").read_text()
    # Resolution is 1 h 25 min from the first symptom and 1 h 15 min from the trigger: both
    # appear, each with its start, never as a bare "after 1 h ..".
    assert "resolved at 15:20 UTC, 1 h 25 min after it" in md  # summary: counted from the first symptom
    assert "| resolution | 2024-12-02 15:20:00 | time to resolve | 1 h 25 min | first symptom (13:55 UTC) |" in md
    assert "| resolve | 8 h 00 min | 1 h 15 min | trigger (14:05 UTC) |" in md
    # (evidence text may say "not acknowledged after 5000 ms"; a duration never stands alone)
    assert not re.search(r"(?:resolved|acknowledged) after \d+ (?:h|min)", md)


def test_report_format_md_writes_only_markdown(demo_review, tmp_path):
    from eafix_forensics.cli import main

    out = demo_review.parent.parent
    md = out / "INC-DEMO" / "post_incident_review.md"
    md.unlink()
    html_mtime = demo_review.stat().st_mtime
    assert main(["report", "INC-DEMO", "--kind", "review", "--format", "md", "--output-dir", str(out)]) == 0
    assert md.read_text().count("\n## ") == len(REVIEW_SECTIONS)
    assert demo_review.stat().st_mtime == html_mtime
