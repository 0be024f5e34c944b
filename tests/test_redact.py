import json
import re

import pandas as pd
import pyarrow.parquet as pq
import pytest

from eafix_forensics import Config, Evidence, EvidenceBundle, TimeWindow
from eafix_forensics.model import tables as schemas
from eafix_forensics.redact import RULES, Redactor, secret_name

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
    **{f"rule {r.name}": r.secret for r in RULES},
}
PLANTED = (
    f"connect postgresql://eafix:{CANARIES['dsn']}@db:5432/eafix_prod failed; "
    f"Authorization: Bearer {CANARIES['bearer']} / Authorization: Basic {CANARIES['basic']} "
    f"api_key={CANARIES['api_key']} {{\"token\": \"{CANARIES['json_token']}\"}} "
    f"PGPASSWORD={CANARIES['pgpassword']} client_secret: {CANARIES['secret']} jwt {CANARIES['jwt']} "
    f"aws {CANARIES['aws']} -----BEGIN RSA PRIVATE KEY-----\n{CANARIES['pem']}\n-----END RSA PRIVATE KEY----- "
    f"customer {CANARIES['keyword']}\n"
    + "\n".join(r.example for r in RULES)
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


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_each_rule_of_the_table_scrubs_its_example(rule):
    assert rule.secret in rule.example
    out = Redactor().text(rule.example)
    assert rule.secret not in out
    assert re.compile(rule.pattern, rule.flags).search(rule.example), "the example exercises its own rule"


@pytest.mark.parametrize("text, secret", [
    ("password=ab;rest done", ";rest"),
    ('password=abc"rest done', 'rest'),
    ("postgresql://app:pa/ss@wd@db:5432/x", "pa/ss@wd"),
    ("redis://:redispw99@cache:6379/0", "redispw99"),
    ("CREATE ROLE r LOGIN PASSWORD 'it''s-secret'", "s-secret"),
    ("ALTER USER eafix PASSWORD 'AlterCanary'", "AlterCanary"),
    ("ALTER ROLE app ENCRYPTED PASSWORD 'md5abcdef'", "md5abcdef"),
    ('{\\"password\\":\\"EscapedCanary\\"}', "EscapedCanary"),
    ("GET /login?user=bob&password%3DUrlCanary%26next=1", "UrlCanary"),
    ("Authorization%3A%20Bearer%20UrlBearerCanary", "UrlBearerCanary"),
    ("mysqldump -u root -pDumpCanary db", "DumpCanary"),
    ("redis-cli -h cache -a RedisCliCanary ping", "RedisCliCanary"),
    ("curl -u deploy:CurlCanary https://ci", "CurlCanary"),
    ("psql --password=PsqlCanary -h db", "PsqlCanary"),
    ("Set-Cookie: session=CookieCanary; Path=/", "CookieCanary"),
    ("db_pass=DbPassCanary pw: PwCanary", "DbPassCanary"),
    ("db_pass=DbPassCanary pw: PwCanary", "PwCanary"),
    ("token xoxp-1234567890-1234567890-SlackUserCanary", "SlackUserCanary"),
    ("github_pat_11AAAAAAA0GithubPatCanary_abcdefghijkl", "GithubPatCanary"),
    ("gho_GithubOauthCanary0123456789abcdefghijkl", "GithubOauthCanary"),
])
def test_forms_that_used_to_leak(text, secret):
    assert secret not in Redactor().text(text)


def test_secret_named_columns_are_scrubbed_whole():
    frame = pd.DataFrame({"position_id": ["p1", "p2"], "api_key": ["k-1", None], "secret": ["s", "t"],
                          "password": ["pw1", "pw2"], "token": [12345, 67890], "qty": [1.0, 2.0],
                          "payload": [{"nested": {"client_secret": "NestedCanary"}}, None]})
    out = Redactor().frame(frame)
    assert out["api_key"].tolist()[0] == "***" and pd.isna(out["api_key"].tolist()[1])
    assert out["secret"].tolist() == ["***", "***"] and out["password"].tolist() == ["***", "***"]
    assert out["token"].tolist() == ["***", "***"]
    assert out["position_id"].tolist() == ["p1", "p2"] and out["qty"].tolist() == [1.0, 2.0]
    assert "NestedCanary" not in repr(out["payload"].tolist())
    for harmless in ("position_id", "tokens_used", "password_env", "service", "passed", "bypass", "compass"):
        assert not secret_name(harmless), harmless


PEM_LOG = """\
risk-manager-1  | 2024-12-02T14:00:01Z INFO starting
risk-manager-1  | 2024-12-02T14:00:02Z ERROR bad key -----BEGIN OPENSSH PRIVATE KEY-----
data-ingestor-1  | 2024-12-02T14:00:02Z INFO tick
risk-manager-1  | b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcn
risk-manager-1  | NhAAAAAwEAAQAAAYEAOpenSshBodyCanaryxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
risk-manager-1  | -----END OPENSSH PRIVATE KEY-----
risk-manager-1  | 2024-12-02T14:00:03Z INFO after the key
-----BEGIN PGP PRIVATE KEY BLOCK-----
Version: GnuPG v2

lQOYBGPgpBodyCanaryAQgAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
-----END PGP PRIVATE KEY BLOCK-----
"""


def test_key_blocks_over_many_rows_are_scrubbed_in_the_frame_and_the_samples(tmp_path):
    from eafix_forensics import read_compose_logs

    path = tmp_path / "keys.txt"
    path.write_text(PEM_LOG)
    logs = read_compose_logs(path)
    out = Redactor().frame(logs)
    text = out["message"].str.cat(sep="\n")
    for canary in ("AAAAdzc2gtcn", "OpenSshBodyCanary", "PgpBodyCanary", "GnuPG"):
        assert canary not in text
    assert "INFO after the key" in text and "INFO tick" in text  # the rows around the key are evidence
    samples = Redactor().data(logs.attrs["malformed_samples"])
    assert samples and not any("Canary" in s or "AAAAdzc2gtcn" in s for s in samples)
    # a sample list cut before its BEGIN line still loses the key body
    cut = PEM_LOG.splitlines()[3:6]
    assert not any("Canary" in s or "AAAAdzc2gtcn" in s for s in Redactor().data(cut))


def test_config_headers_are_recorded_by_name_only(tmp_path):
    cfg = Config.from_dict({"prometheus": {"headers": {"Authorization": "Basic SGVhZGVyQ2FuYXJ5",
                                                         "X-Api-Key": "HeaderKeyCanary"}}})
    b = EvidenceBundle.write(tmp_path / "INC-H" / "evidence", incident_id="INC-H", window=WINDOW,
                             evidence=[], config=cfg)
    text = (b.path / "manifest.json").read_text()
    assert "SGVhZGVyQ2FuYXJ5" not in text and "HeaderKeyCanary" not in text
    assert b.manifest["config"]["prometheus"]["headers"] == ["Authorization", "X-Api-Key"]


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
    # Clean because the evidence is shown redacted, not because it is missing: each planted
    # secret's place holds its marker, with the evidence around it kept.
    from bs4 import BeautifulSoup

    text = " ".join(BeautifulSoup(html.read_text(), "html.parser").get_text(" ").split())
    assert "INC-C" in text
    for shown in ("postgresql://eafix:***@db:5432/eafix_prod failed", "Authorization: Bearer ***",
                  "api_key=***", "PGPASSWORD=***", "jwt [REDACTED JWT]", "aws [REDACTED AWS KEY]",
                  "[REDACTED PRIVATE KEY] customer ***"):
        assert shown in text, shown
    redactor = Redactor(keywords=[CANARIES["keyword"]])
    for rule in RULES:
        assert " ".join(redactor.text(rule.example).split()) in text, rule.name


def test_invalid_configured_regex_is_a_config_error():
    from eafix_forensics import ConfigError

    with pytest.raises(ConfigError, match="invalid regex"):
        Redactor(patterns=["(unclosed"])


def test_hex_digests_are_not_key_bodies_but_a_cut_off_run_of_base64_rows_is():
    shas = pd.DataFrame({"sha": ["b068e3d9dcafe54a605af57e600e9204bcd7c47c", "3f786850e387550fdab836ed7e6dc881de23001b",
                                 "a" * 64, "0123456789abcdef" * 4]})
    assert Redactor().frame(shas)["sha"].tolist() == shas["sha"].tolist()
    body = ["MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9OiJjRazXBZ1BjP5CE/WmRsaBodyCanaryxx",
            "z9fJ8wD1q0M2d3a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D"]
    assert not any("Canary" in s or "z9fJ8" in s for s in Redactor().data(["boot", *body]))


def test_a_categorical_text_column_is_scrubbed_too(tmp_path):
    """A frame whose text is categorical (a table read back, an analyst's own) leaks nothing."""
    frame = pd.DataFrame({"note": pd.Categorical([PLANTED, "ok", None]), "level": pd.Categorical(["ERROR", "INFO", None])})
    b = EvidenceBundle.write(tmp_path / "ev", incident_id="INC-1", window=WINDOW,
                             evidence=[Evidence("notes", frame, source="analyst")], config=config_with_keyword())
    assert_clean((b.path / "notes.parquet").read_bytes(), "notes.parquet")
    assert_clean(pq.read_table(b.path / "notes.parquet").to_pandas().to_csv().encode(), "decoded notes.parquet")
    assert b.table("notes")["level"].tolist()[:2] == ["ERROR", "INFO"]
