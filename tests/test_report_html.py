"""The HTML export (report_html): what a reader of the page sees, from notebooks built here.

The report notebooks themselves are exported in test_report.py / test_report_browser.py; these
cases hold the exporter to its contract on outputs the reports rarely make: every output type,
hostile values, a broken notebook.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from bs4 import BeautifulSoup

from eafix_forensics import ReportError
from eafix_forensics.report import execute_notebook
from eafix_forensics.report_html import export_html

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


def _nb(cells: list[dict]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"papermill": {"parameters": {"incident_id": "INC-7"}}},
            "cells": cells}


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "id": _id(), "metadata": {}, "source": text}


def _id(count=iter(range(10**6))) -> str:
    return f"cell-{next(count)}"


def _code(source: str, outputs: list[dict], tags: list[str] | None = None) -> dict:
    return {"cell_type": "code", "id": _id(), "metadata": {"tags": tags or []}, "source": source, "outputs": outputs,
            "execution_count": 1}


def _export(tmp_path, nb: dict, name: str = "investigation") -> BeautifulSoup:
    src = tmp_path / f"{name}.ipynb"
    src.write_text(json.dumps(nb))
    html = export_html(src, tmp_path / f"{name}.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower() and not re.search(r"<[^>]+\son[a-z]+\s*=", html, re.I)
    return BeautifulSoup(html, "html.parser")


def test_a_page_of_outputs_without_code(tmp_path):
    nb = _nb([
        _code("incident_id = 'x'", [], tags=["parameters"]),
        _md("# Investigation report"),
        _code("secret_code_line()", [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                      "data": {"text/markdown": "**Incident INC-7** — broker down",
                                               "text/plain": "<IPython.core.display.Markdown object>"}}]),
        _md("## Summary\n\nWhy it *matters*.\n\n| a | b |\n|---|---|\n| 1 | 2 |"),
        _md("### Key times"),
        _code("plot()", [{"output_type": "display_data", "data": {"image/png": PNG, "text/plain": "<Figure>"},
                          "metadata": {"image/png": {"width": 640, "alt": "swimlane of INC-7"}}}]),
        _code("print(x)", [{"output_type": "stream", "name": "stdout", "text": ["evidence integrity: ok\n"]}]),
        _md("## Data sources"),
        {"cell_type": "raw", "metadata": {}, "source": "RAW TEXT NOT SHOWN"},
    ])
    page = _export(tmp_path, nb)
    text = page.get_text(" ")
    assert page.title.string == "INC-7 — Investigation report"
    assert "secret_code_line" not in text and "incident_id = 'x'" not in text and "RAW TEXT" not in text
    assert "<IPython" not in text  # the Markdown form wins over the plain-text repr
    assert page.find("strong", string="Incident INC-7")
    # headings keep nbconvert's ids (old links into reports still land), contents list them in order
    assert page.find("h2", id="Summary") and page.find("h3", id="Key-times")
    toc = page.find("nav", class_="eafix-toc")
    assert [a["href"] for a in toc.find_all("a")] == ["#Summary", "#Key-times", "#Data-sources"]
    # the contents sit after the header and before the first section
    assert toc.find_previous("h1").get_text(strip=True).startswith("Investigation report")
    assert toc.find_next_sibling("div").find("h2").get("id") == "Summary"
    assert page.find("table").find("td").get_text() == "1"
    img = page.find("img")
    assert img["src"] == f"data:image/png;base64,{PNG}" and img["alt"] == "swimlane of INC-7" and img["width"] == "640"
    assert page.find("pre").get_text() == "evidence integrity: ok\n"


def test_hostile_outputs_are_escaped_or_dropped(tmp_path):
    nb = _nb([
        _md("## Logs <img src=x onerror=alert(1)>\n\n[click](javascript:alert(2))"),
        _code("", [
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": "<p>ok</p><script>alert(3)</script><iframe src='//evil'></iframe>",
                      "text/plain": "x"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/svg+xml": "<svg onload='alert(4)'><script>alert(5)</script></svg>",
                      "text/plain": "svg repr"}},
            {"output_type": "display_data", "data": {"image/png": "not base64 <script>"}, "metadata": {}},
            {"output_type": "display_data", "metadata": {"image/png": {"alt": '"><script>alert(6)</script>'}},
             "data": {"image/png": PNG}},
            {"output_type": "stream", "name": "stdout", "text": "<b>log line</b> \x1b[31mred\x1b[0m"},
            {"output_type": "error", "ename": "ValueError", "evalue": "bad <input>",
             "traceback": ["\x1b[0;31mValueError\x1b[0m: bad <input>"]},
        ]),
    ])
    page = _export(tmp_path, nb)
    html = str(page)
    assert not page.select("a[href^=javascript]") and "iframe" not in html and "<svg" not in html
    assert "svg repr" in page.get_text()  # SVG is never inlined: its plain-text form stands in
    assert "not valid base64" in page.get_text()
    (img,) = page.select("img[src]")  # the heading's <img src=x> lost its src (not inline data) and onerror
    assert img["alt"] == '"><script>alert(6)</script>'  # an attribute value, escaped
    pres = [p.get_text() for p in page.find_all("pre")]
    assert "<b>log line</b> red" in pres  # printed text is text, colour codes gone
    assert "ValueError: bad <input>" in pres
    assert page.find("div", class_="stderr")


def test_an_unreadable_notebook_is_a_report_error_naming_it(tmp_path):
    bad = tmp_path / "investigation.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match=r"investigation\.ipynb: unreadable notebook"):
        export_html(bad, tmp_path / "out.html")
    bad.write_text(json.dumps({"cells": "no"}))
    with pytest.raises(ReportError, match="no list of cells"):
        export_html(bad, tmp_path / "out2.html")
    assert not (tmp_path / "out.html").exists() and not (tmp_path / "out2.html").exists()


def test_the_kernel_log_stays_off_the_terminal(tmp_path, capfd):
    """ipykernel logs to the stderr papermill's kernel inherits: a report prints none of it (the
    "KeyboardInterrupt caught in kernel." jupyter_client's interrupt-before-shutdown can provoke is
    one such ERROR line). A cell's own failure still reaches the user as a ReportError."""
    cells = [_code("x = 1", [], tags=["parameters"]),
             _code("get_ipython().kernel.log.error('kernel log line at ERROR')\nprint('done')", [])]
    src = tmp_path / "src.ipynb"
    src.write_text(json.dumps({**_nb(cells), "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                                        "display_name": "Python 3"}}}))
    out = execute_notebook(src, tmp_path / "out.ipynb", {"x": 2}, timeout_s=120)
    assert "done" in out.read_text()
    err = capfd.readouterr().err
    assert "kernel log line at ERROR" not in err and "WARNING" not in err, err[-2000:]


def test_report_kernels_listen_below_the_ephemeral_port_range(tmp_path):
    """jupyter_client's own port choice (bind port 0, close, let the kernel bind later) draws from
    the ephemeral range, where any outgoing connection — the other report worker's client among
    them — can take the port first: "Address already in use", the kernel dies, the report fails.
    The report kernels' ports come from below that range."""
    from eafix_forensics.report import _ephemeral_floor

    cells = [_code("x = 1", [], tags=["parameters"]),
             _code("from ipykernel.kernelapp import IPKernelApp\napp = IPKernelApp.instance()\n"
                   "print(sorted([app.shell_port, app.iopub_port, app.stdin_port, app.control_port, app.hb_port]))", [])]
    src = tmp_path / "src.ipynb"
    src.write_text(json.dumps({**_nb(cells), "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                                        "display_name": "Python 3"}}}))
    out = json.loads(execute_notebook(src, tmp_path / "out.ipynb", {"x": 2}, timeout_s=120).read_text())
    printed = "".join(out["cells"][-1]["outputs"][0]["text"])
    ports = json.loads(printed)
    assert len(set(ports)) == 5 and all(0 < p < _ephemeral_floor() for p in ports), ports
