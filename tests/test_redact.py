import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

from eafix_forensics import Config, Evidence, EvidenceBundle, TimeWindow
from eafix_forensics.model import tables as schemas
from eafix_forensics.redact import Redactor

WINDOW = TimeWindow.parse("2024-12-02T14:00Z", "2024-12-02T15:00Z")
CANARIES = {
    "dsn": "CanaryDsnPw91",
    "bearer": "CanaryBearer0a1b2c3d4e",
    "basic": "Q2FuYXJ5QmFzaWM6cHc=",
    "api_key": "CanaryApiKey55",
    "json_token": "CanaryJsonTok77",
    "pgpassword": "CanaryPgPw33",
    "secret": "CanarySecret44",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDYW5hcnkifQ.CanaryJwtSig_x",
    "aws": "AKIACANARY0123456789",
    "pem": "MIIEvQIBADANBgkqhkiG9w0BCanaryPemBody",
    "keyword": "tenant-canary-acme",
}
PLANTED = (
    f"connect postgresql://eafix:{CANARIES['dsn']}@db:5432/eafix_prod failed; "
    f"Authorization: Bearer {CANARIES['bearer']} / Authorization: Basic {CANARIES['basic']} "
    f"api_key={CANARIES['api_key']} {{\"token\": \"{CANARIES['json_token']}\"}} "
    f"PGPASSWORD={CANARIES['pgpassword']} client_secret: {CANARIES['secret']} jwt {CANARIES['jwt']} "
    f"aws {CANARIES['aws']} -----BEGIN RSA PRIVATE KEY-----\n{CANARIES['pem']}\n-----END RSA PRIVATE KEY----- "
    f"customer {CANARIES['keyword']}"
)


def planted_evidence():
    """Every schema, with the canaries planted in every text column (and an extra one)."""
    out = []
    for name, cols in schemas.SCHEMAS.items():
        row = {}
        for col, t in cols.items():
            if t == "str":
                row[col] = PLANTED
        row["extra_note"] = PLANTED
        frame = schemas.conform(pd.DataFrame([row, row]), name)
        out.append(Evidence(name, frame, source="canary", query=f"SELECT 1 -- {PLANTED}",
                            error=None, details={"samples": [PLANTED]}))
    return out


def config_with_keyword():
    return Config.from_dict({"redact": {"keywords": [CANARIES["keyword"]]}})


def assert_clean(blob: bytes, where: str):
    for kind, canary in CANARIES.items():
        assert canary.encode() not in blob, f"{kind} canary leaked into {where}"


def test_each_rule_scrubs_its_secret():
    r = Redactor(keywords=[CANARIES["keyword"]])
    out = r.text(PLANTED)
    assert_clean(out.encode(), "redacted text")
    assert "postgresql://eafix:***@db:5432" in out  # the user and host stay: they are evidence
    assert "Authorization: Bearer ***" in out


@pytest.mark.parametrize("harmless", [
    "BrokerTimeout: order 48213 not acknowledged after 5000 ms",
    "UPDATE positions SET qty = $1 WHERE account_id = $2",
    "GET /api/signals?since=1h 200 12ms",
    "token bucket refilled",
])
def test_ordinary_evidence_is_untouched(harmless):
    assert Redactor().text(harmless) == harmless


def test_secret_values_from_the_environment_are_scrubbed(monkeypatch):
    monkeypatch.setenv("EAFIX_PG_PASSWORD", "plain-env-pw-123")
    r = Redactor.from_config(Config())
    assert r.text("login with plain-env-pw-123 failed") == "login with *** failed"


def test_canaries_appear_nowhere_in_the_bundle(tmp_path):
    b = EvidenceBundle.write(tmp_path / "INC-C" / "evidence", incident_id="INC-C", window=WINDOW,
                             evidence=planted_evidence(), config=config_with_keyword())
    files = sorted(b.path.iterdir())
    assert len(files) == len(schemas.SCHEMAS) + 1
    for f in files:
        assert_clean(f.read_bytes(), f.name)
        if f.suffix == ".parquet":
            table = pq.read_table(f).to_pandas()
            assert_clean(table.to_csv().encode(), f"decoded {f.name}")
            # the planted column really was there and is still a string column
            assert table.shape[0] == 2
    manifest = json.loads((b.path / "manifest.json").read_text())
    assert "***" in manifest["tables"]["logs"]["query"]


def test_canaries_appear_nowhere_in_the_html_report(tmp_path):
    out = tmp_path / "out"
    EvidenceBundle.write(out / "INC-C" / "evidence", incident_id="INC-C", window=WINDOW,
                         evidence=planted_evidence(), config=config_with_keyword())
    from eafix_forensics.report import run_report

    html = run_report("INC-C", kind="investigation", output_dir=out)
    assert_clean(html.read_bytes(), html.name)
    assert "INC-C" in html.read_text()


def test_invalid_configured_regex_is_a_config_error():
    from eafix_forensics import ConfigError

    with pytest.raises(ConfigError, match="invalid regex"):
        Redactor(patterns=["(unclosed"])
