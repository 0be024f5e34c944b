import pytest

from eafix_forensics import Config, ConfigError


def write(tmp_path, text):
    p = tmp_path / "eafix.toml"
    p.write_text(text)
    return p


def test_defaults_follow_the_runbook(monkeypatch, tmp_path):
    monkeypatch.delenv("EAFIX_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = Config.load()
    assert cfg.prometheus.url == "http://localhost:9090"
    assert cfg.postgres.url == "postgresql+psycopg://eafix@localhost:5432/eafix_prod"
    ports = {name: s.url.rsplit(":", 1)[1] for name, s in cfg.services.items()}
    assert ports == {"gui-gateway": "8080", "data-ingestor": "8081", "indicator-engine": "8082",
                     "signal-generator": "8083", "risk-manager": "8084", "execution-engine": "8085"}
    assert cfg.services["gui-gateway"].health == "/health"
    assert {s.health for n, s in cfg.services.items() if n != "gui-gateway"} == {"/healthz"}


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    p = write(tmp_path, '[logs]\nfiles = ["logs/*.txt"]\n[git]\nrepos = ["svc", "/abs/repo"]\n')
    cfg = Config.load(p)
    assert cfg.logs.files == [str(tmp_path / "logs/*.txt")]
    assert cfg.git.repos == [str(tmp_path / "svc"), "/abs/repo"]


def test_path_from_environment(monkeypatch, tmp_path):
    p = write(tmp_path, '[prometheus]\nurl = "http://prom:9091"\n')
    monkeypatch.setenv("EAFIX_CONFIG", str(p))
    assert Config.load().prometheus.url == "http://prom:9091"


def test_unknown_key_is_named(tmp_path):
    p = write(tmp_path, '[prometheus]\nulr = "http://x"\n')
    with pytest.raises(ConfigError) as err:
        Config.load(p)
    assert str(p) in str(err.value) and "'ulr'" in str(err.value) and "[prometheus]" in str(err.value)


def test_unknown_section_is_named(tmp_path):
    p = write(tmp_path, '[promethus]\nurl = "http://x"\n')
    with pytest.raises(ConfigError, match=r"unknown section \[promethus\]"):
        Config.load(p)


def test_malformed_toml_names_file_and_line(tmp_path):
    p = write(tmp_path, '[prometheus]\nurl = "http://x"\ntimeout_s = = 3\n')
    with pytest.raises(ConfigError) as err:
        Config.load(p)
    assert str(p) in str(err.value) and "line 3" in str(err.value)


def test_wrong_type_is_named(tmp_path):
    p = write(tmp_path, '[postgres]\nstatement_timeout_ms = "fast"\n')
    with pytest.raises(ConfigError, match="statement_timeout_ms"):
        Config.load(p)


def test_services_table(tmp_path):
    p = write(tmp_path, '[services.gui-gateway]\nurl = "http://127.0.0.1:9000"\nhealth = "/health"\n')
    cfg = Config.load(p)
    assert list(cfg.services) == ["gui-gateway"]
    with pytest.raises(ConfigError, match=r"services.gui-gateway.*url"):
        Config.load(write(tmp_path, '[services.gui-gateway]\nhealth = "/health"\n'))


def test_secrets_never_stored(monkeypatch, tmp_path):
    monkeypatch.setenv("EAFIX_PG_PASSWORD", "s3cr3t-value")
    monkeypatch.setenv("EAFIX_PROMETHEUS_TOKEN", "tok-value-123")
    cfg = Config.load(write(tmp_path, "[postgres]\n"))
    dumped = repr(cfg.to_dict())
    assert "s3cr3t-value" not in dumped and "tok-value-123" not in dumped
    assert cfg.secret(cfg.postgres.password_env) == "s3cr3t-value"


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Config.load(tmp_path / "nope.toml")


# (section, key, TOML value) the loader must refuse, naming the key; also run through the CLI
# by tests/test_hostile.py.
OUT_OF_RANGE = [
    ("collect", "source_timeout_s", "-5"),
    ("collect", "source_timeout_s", "nan"),
    ("collect", "source_timeout_s", "inf"),
    ("git", "timeout_s", "0"),
    ("severity", "signal_latency_critical_s", "-1.0"),
    ("severity", "error_rate_degraded", "1.5"),
    ("catalog", "busy_timeout_s", "-3.0"),
    ("calendar", "open_day", '"Funday"'),
    ("calendar", "open_time", '"25:99"'),
    ("calendar", "timezone", '"Mars/Olympus"'),
    ("calendar", "holidays", '["2024-13-45"]'),
    ("git", "lookback", '"forever"'),
]


@pytest.mark.parametrize("section, key, value", OUT_OF_RANGE)
def test_values_out_of_range_are_refused_at_load_naming_the_key(tmp_path, section, key, value):
    p = tmp_path / "eafix.toml"
    p.write_text(f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=rf"\[{section}\] {key}( = |: )"):
        Config.load(p)
