import json
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
