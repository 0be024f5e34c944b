"""One output-directory rule for every command:
``--output-dir`` > ``$EAFIX_OUTPUT_DIR`` > ``[collect] output_dir`` (relative to the config file) > ``./output``."""

from pathlib import Path

import pytest

from eafix_forensics.cli import main
from eafix_forensics.config import Config, output_root


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A working directory with an eafix.toml that names its own output directory
    and a record for INC-OUT, so collect has one real source to read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAFIX_CONFIG", raising=False)
    monkeypatch.delenv("EAFIX_OUTPUT_DIR", raising=False)
    conf = tmp_path / "conf"
    (conf / "incidents").mkdir(parents=True)
    (conf / "incidents" / "INC-OUT.toml").write_text(
        'title = "t"\nseverity = "P3"\ntriggered_at = 2024-12-02T14:05:00Z\n'
    )
    (conf / "eafix.toml").write_text('[collect]\noutput_dir = "from-config"\n[incidents]\ndir = "incidents"\n')
    return conf / "eafix.toml"


def _collect(config: Path, *extra: str) -> int:
    return main(["collect", "INC-OUT", "--start", "2024-12-02T14:00Z", "--end", "2024-12-02T15:00Z",
                 "--config", str(config), "--quiet", *extra])


def test_precedence(site, tmp_path, monkeypatch):
    cfg = Config.load(site)
    assert output_root(None, cfg) == tmp_path / "conf" / "from-config"
    assert output_root(None, None) == tmp_path / "output"
    monkeypatch.setenv("EAFIX_OUTPUT_DIR", str(tmp_path / "env"))
    assert output_root(None, cfg) == tmp_path / "env"
    assert output_root(tmp_path / "flag", cfg) == tmp_path / "flag"


def test_collect_report_and_index_use_eafix_output_dir(site, tmp_path, monkeypatch, capsys):
    env = tmp_path / "env"
    monkeypatch.setenv("EAFIX_OUTPUT_DIR", str(env))
    assert _collect(site) == 0
    assert (env / "INC-OUT" / "evidence" / "manifest.json").is_file()
    assert not (tmp_path / "conf" / "from-config").exists()
    # report looks for its bundle there: a missing one is named at that place
    assert main(["report", "INC-MISSING", "--config", str(site)]) == 2
    assert f"no evidence bundle for INC-MISSING at {env / 'INC-MISSING' / 'evidence'}" in capsys.readouterr().err
    # index reads bundles from there and keeps the library there
    assert main(["index", "--config", str(site)]) == 0
    assert "1 added" in capsys.readouterr().out
    assert (env / "catalog.db").is_file()
    # --output-dir still wins
    assert _collect(site, "--output-dir", str(tmp_path / "flag")) == 0
    assert (tmp_path / "flag" / "INC-OUT" / "evidence" / "manifest.json").is_file()


def test_without_the_variable_the_config_decides(site, tmp_path):
    assert _collect(site) == 0
    assert (tmp_path / "conf" / "from-config" / "INC-OUT" / "evidence" / "manifest.json").is_file()


def test_demo_uses_eafix_output_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EAFIX_OUTPUT_DIR", str(tmp_path / "env"))
    assert main(["demo"]) == 0
    assert (tmp_path / "env" / "INC-DEMO" / "evidence" / "manifest.json").is_file()
    assert (tmp_path / "env" / "INC-DEMO" / "investigation.html").is_file()
    assert not (tmp_path / "output").exists()
