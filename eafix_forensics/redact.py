"""Secret scrubbing, applied to every text value before anything is written.

:data:`RULES` is the one table of what is scrubbed: each :class:`Rule` has a
name, a regex, and an example that a test plants in every text column of every
schema (and in the rendered HTML) and then looks for. It covers

- key blocks: PEM/OpenSSH/PGP/PuTTY private keys, on one line or spread over
  many rows (:meth:`Redactor.frame` scans the rows of one service and source;
  lists such as ``malformed_samples`` are scanned the same way);
- passwords in DSNs/URLs (``postgresql://user:***@host``, also with ``/`` or
  ``@`` in the password), SQL role passwords (``ALTER ROLE … PASSWORD '…'``),
  ``Authorization``/``Cookie``/``Set-Cookie`` headers, bearer tokens, CLI flags
  (``mysql -p…``, ``--password …``, ``redis-cli -a …``, ``curl -u user:…``);
- key=value, JSON (also escaped or URL-encoded) pairs whose key names a secret
  (:data:`SECRET_KEY` — ``password``, ``pass``, ``pw``, ``token``, ``api_key``…);
- token shapes of the detect-secrets / gitleaks families: JWT, AWS, GitHub,
  GitLab, Slack, Stripe, Google, npm, PyPI, SendGrid, Twilio, OpenAI,
  Anthropic, DigitalOcean, Shopify, Telegram, Mailgun, Azure storage keys;
- columns and dict keys whose *name* is secret-like (:func:`secret_name`):
  their values are scrubbed whole;
- the values of the secret environment variables the config names
  (``EAFIX_PG_PASSWORD``…) when set, and the regexes and keywords of ``[redact]``.

Speed: a value is only run through the rules when one case-insensitive
prefilter of the rules' keywords matches it, evaluated for a whole column at
once by pyarrow's regex engine; the rest of a large LOGS frame is never
touched by Python.

Redaction fails closed: any error raises :class:`RedactionError` (a
:class:`~eafix_forensics.errors.BundleError`) and the caller writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from .errors import BundleError, ConfigError

__all__ = ["RULES", "SECRET_KEY", "RedactionError", "Redactor", "Rule", "secret_name"]

MASK = "***"
KEY_BLOCK = "[REDACTED PRIVATE KEY]"

# A name (column, JSON key, header, variable, flag) that says its value is a secret.
SECRET_KEY = (
    r"(?:[\w.-]*?(?:api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|secret|token|passw(?:or)?d|passphrase"
    r"|pwd|credential|session[_.-]?id|auth[_.-]?key|client[_.-]?secret|cookie|signature)[\w.-]*"
    r"|(?:[\w.-]*[_.-])?(?:pass|pw|auth)(?![\w-]))"
)
_SECRET_NAME = re.compile(rf"(?i)^{SECRET_KEY}$")
# Names that match SECRET_KEY's words but hold no secret.
_HARMLESS_NAMES = re.compile(
    r"(?i)^(?:tokens?_(?:count|total|used|bucket\w*)|\w*_tokens|password_(?:changed|expires)_at|\w*_env)$"
)

# Prefilter of the key=value rules: a secret word, then (maybe after quotes) a separator.
_SECRET_PAIR = (
    r"(?:key|secret|token|pass|pwd|pw|credential|session|auth|cookie|signature)[\w.-]*\\*[\"']?(?:\s|%20|\+)*(?:[=:]|%3[ad])"
)
_SEP = r"(?:\s|%20|\+)*(?:[=:]|%3[aAdD])(?:\s|%20|\+)*"  # "=", ": ", URL-encoded %3D / %3A%20
_QUOTED = r"(?:\"(?:[^\"\\\n]|\\.)*\"?|'(?:[^'\\\n]|\\.)*'?)"


@dataclass(frozen=True)
class Rule:
    """One scrubbing rule: ``pattern`` replaced by ``replacement``.

    ``example`` is a realistic line holding a secret and ``secret`` the part
    of it that must never reach a bundle; ``keywords`` are lower-case literals
    regex fragments (RE2 syntax, matched case-insensitively) one of which
    matches wherever the rule could: the prefilter.
    """

    name: str
    pattern: str
    replacement: str | Callable[[re.Match[str]], str]
    example: str
    secret: str
    keywords: tuple[str, ...]
    flags: int = 0


def _token(name: str, pattern: str, example: str, secret: str, *keywords: str) -> Rule:
    return Rule(name, pattern, f"[REDACTED {name}]", example, secret, keywords)


def _json_value(m: re.Match[str]) -> str:
    """The key kept, the value masked inside quotes of the same kind (escaped or not)."""
    key = m.group("k")
    value = m.group(0)[len(key):]
    quote = re.match(r"\\*[\"']", value)
    q = quote.group(0) if quote else '"'
    return f"{key}{q}{MASK}{q}"


RULES: tuple[Rule, ...] = (
    # -- key blocks (the multi-row form is handled by Redactor.frame / _blocks)
    Rule(
        "private key block",
        r"-{4,5} ?BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)? ?-{4,5}(?:.*?-{4,5} ?END (?:[A-Z0-9]+ )*PRIVATE KEY"
        r"(?: BLOCK)? ?-{4,5}|.*\Z)",
        KEY_BLOCK,
        "key -----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BRsaBodyCanary\n-----END RSA PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BRsaBodyCanary",
        (r"-{4,5} ?begin",),
        re.DOTALL,
    ),
    Rule(
        "putty private key",
        r"(?i)PuTTY-User-Key-File-\d: .*?(?:Private-MAC: \S+|\Z)",
        KEY_BLOCK,
        "PuTTY-User-Key-File-3: ssh-rsa Private-Lines: 1 AAAAPuttyBodyCanary Private-MAC: 0a1b2c",
        "AAAAPuttyBodyCanary",
        ("putty-user-key-file",),
        re.DOTALL,
    ),
    # -- URLs, SQL, headers, flags
    Rule(
        "url password",
        # user:password@host, the password running to the last '@' of the URL ('/' and '@' allowed).
        r"(?P<k>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#\s@'\"]*:)[^\s'\"]*@(?=[^@\s'\"]*(?:[\s'\"]|\Z))",
        rf"\g<k>{MASK}@",
        "connect postgresql://eafix:Dsn/Canary@Pw91@db:5432/eafix_prod failed",
        "Dsn/Canary@Pw91",
        (r"://[^:/?#\s@]*:[^\s]*@",),
    ),
    Rule(
        "sql password",
        r"(?i)(?P<k>\b(?:(?:encrypted|unencrypted)\s+)?password\s+|\bidentified\s+(?:with\s+\w+\s+)?by\s+)"
        r"(?:E?'(?:[^']|'')*'?|\"[^\"]*\"?|\$(?P<tag>\w*)\$.*?\$(?P=tag)\$)",
        rf"\g<k>'{MASK}'",
        "LOG:  statement: ALTER USER app WITH PASSWORD 'SqlRoleCanary1'",
        "SqlRoleCanary1",
        ("password", "identified"),
    ),
    Rule(
        "sql insert of a secret column",
        # INSERT INTO users (name, password) VALUES ('bob', 'x'): which literal is the secret is
        # positional, so every string literal of the VALUES is masked (fail closed).
        r"(?is)(?P<k>\binsert\s+into\s+[\w.\"]+\s*\((?=[^)]*(?:passw|secret|token|api_?key|private_?key|credential"
        r"|pwd))[^)]*\)\s*values\s*)(?P<v>\((?:E?'(?:[^']|'')*'|[^()';])*\)(?:\s*,\s*\((?:E?'(?:[^']|'')*'|[^()';])*\))*)",
        lambda m: m.group("k") + re.sub(r"E?'(?:[^']|'')*'", f"'{MASK}'", m.group("v")),
        "LOG:  statement: INSERT INTO creds (username, password) VALUES ('app', 'InsertCanary1'), ('b', 'x')",
        "InsertCanary1",
        (r"insert\s+into",),
    ),
    Rule(
        "sql set_config of a secret",
        r"(?is)(?P<k>\bset_config\s*\(\s*'[^']*(?:passw|secret|token|api_?key|private_?key|credential|pwd)[^']*'\s*,\s*)"
        r"E?'(?:[^']|'')*'",
        rf"\g<k>'{MASK}'",
        "select set_config('app.api_token', 'SetConfigCanary2', false)",
        "SetConfigCanary2",
        ("set_config",),
    ),
    Rule(
        "authorization header",
        r"(?i)(?P<k>\b(?:proxy-)?authorization[\"']?" + _SEP + r"[\"']?(?:(?:bearer|basic|token|digest|apikey|negotiate"
        r"|aws4-hmac-sha256)(?:\s|%20|\+)+)?)[^\s\"',;&]+",
        rf"\g<k>{MASK}",
        "Authorization%3A%20Bearer%20AuthUrlEncCanary9 then Authorization: Basic QmFzaWNDYW5hcnk6cHc=",
        "AuthUrlEncCanary9",
        ("authorization",),
    ),
    Rule(
        "bearer token",
        r"(?i)(?P<k>\bbearer(?:\s|%20|\+)+)[A-Za-z0-9._~+/=-]{8,}",
        rf"\g<k>{MASK}",
        "retrying with bearer BareBearerCanary0a1b2c",
        "BareBearerCanary0a1b2c",
        ("bearer",),
    ),
    Rule(
        "cookie header",
        r"(?i)(?P<k>\b(?:set-)?cookie[\"']?\s*:\s*)[^\n\"]+",
        rf"\g<k>{MASK}",
        "< Set-Cookie: session=CookieCanary77; Path=/; HttpOnly",
        "CookieCanary77",
        ("cookie",),
    ),
    Rule(
        "cli password flag",
        r"(?i)(?P<k>(?:^|\s)--?(?:password|passwd|pass|pw|token|api-?key|secret|client-secret|auth-token|access-token)"
        r"(?:=|\s+))(?!-)(?:" + _QUOTED + r"|\S+)",
        rf"\g<k>{MASK}",
        "run psql --password FlagCanary12 -h db",
        "FlagCanary12",
        (r"--?(?:password|passwd|pass|pw|token|api-?key|secret|client-secret|auth-token|access-token)",),
    ),
    Rule(
        "cli short password flag",
        # mysql -pSECRET; sshpass -p SECRET; redis-cli -a SECRET; curl -u user:SECRET
        r"(?P<k>\b(?:(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n|;]*?\s-p|sshpass\b[^\n|;]*?\s-p\s*"
        r"|redis-cli\b[^\n|;]*?\s-a\s*|curl\b[^\n|;]*?\s(?:-u\s*|--user[=\s]+)[^\s:]+:))(?:" + _QUOTED + r"|\S+)",
        rf"\g<k>{MASK}",
        "mysql -uroot -pMysqlCanary3 db; redis-cli -h r -a RedisCanary4; curl -u bob:CurlCanary5 http://x",
        "MysqlCanary3",
        ("mysql", "mysqladmin", "mariadb", "sshpass", "redis-cli", "curl"),
    ),
    # -- token shapes (detect-secrets / gitleaks families)
    _token("JWT", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*|\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
           "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDYW5hcnkifQ.JwtSigCanary_x", "eyJzdWIiOiJDYW5hcnkifQ", "eyj"),
    _token("AWS KEY", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
           "aws AKIACANARY0123456789", "AKIACANARY0123456789",
           r"\b(?:a3t|akia|asia|abia|acca|agpa|aida|aroa|anpa|anva|aipa)[a-z0-9]{16}"),
    _token("AWS SECRET", r"(?i)(?P<k>aws.{0,20}?(?:secret|key).{0,20}?[=:]\s*[\"']?)[A-Za-z0-9/+]{40}\b",
           "aws_secret = wJalrXUtnFEMI/K7MDENG/bPxRfiCYAWSCANARY1", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYAWSCANARY1", "aws"),
    _token("GITHUB TOKEN", r"\b(?:gh[pousr]_[A-Za-z0-9_]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
           "push with ghp_GithubCanary0123456789abcdefghijklmnopq and github_pat_11ABCDEFG0123456789_PatCanary",
           "ghp_GithubCanary0123456789abcdefghijklmnopq", r"\bgh[pousr]_", "github_pat_"),
    _token("GITLAB TOKEN", r"\bgl(?:pat|ptt|dt|rt|cbt|oas|soat|imt|agent)-[A-Za-z0-9_-]{20,}",
           "glpat-GitlabCanary0123456789", "glpat-GitlabCanary0123456789",
           r"gl(?:pat|ptt|dt|rt|cbt|oas|soat|imt|agent)-"),
    _token("SLACK TOKEN", r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}",
           "slack xoxb-123456789012-SlackCanary0abc", "xoxb-123456789012-SlackCanary0abc", r"\bxox[abposre]-", r"\bxapp-"),
    _token("SLACK WEBHOOK", r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{8,}",
           "post https://hooks.slack.com/services/T000/B000/SlackHookCanary", "SlackHookCanary", r"hooks\.slack\.com"),
    _token("STRIPE KEY", r"\b(?:sk|rk|pk)_(?:live|test|prod)_[A-Za-z0-9]{10,}",
           "charge with sk_live_StripeCanary0123456789", "sk_live_StripeCanary0123456789", r"[spr]k_(?:live|test|prod)_"),
    _token("GOOGLE API KEY", r"\bAIza[0-9A-Za-z_-]{35}", "maps AIzaSyGoogleCanary0123456789abcdefghijk",
           "AIzaSyGoogleCanary0123456789abcdefghijk", r"\baiza"),
    _token("GOOGLE OAUTH", r"\bya29\.[0-9A-Za-z_-]{20,}|\bGOCSPX-[0-9A-Za-z_-]{20,}",
           "oauth ya29.GoogleOauthCanary0123456789", "ya29.GoogleOauthCanary0123456789", r"ya29\.", "gocspx-"),
    _token("NPM TOKEN", r"\bnpm_[A-Za-z0-9]{36,}", "npm_NpmCanary0123456789abcdefghijklmnopqr",
           "npm_NpmCanary0123456789abcdefghijklmnopqr", r"\bnpm_"),
    _token("PYPI TOKEN", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{30,}", "pypi-AgEIcHlwaS5vcmcPypiCanary0123456789abcdefghij",
           "pypi-AgEIcHlwaS5vcmcPypiCanary0123456789abcdefghij", "pypi-ageichlwas5vcmc"),
    _token("SENDGRID KEY", r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}", "SG.SendgridCanary0123.abcdefghijklmnopqrstuvwxyz012345",
           "SG.SendgridCanary0123.abcdefghijklmnopqrstuvwxyz012345", r"\bsg\."),
    _token("TWILIO KEY", r"\b(?:AC|SK)[0-9a-fA-F]{32}\b", "twilio SK0123456789abcdef0123456789abcdef",
           "SK0123456789abcdef0123456789abcdef", r"\b(?:ac|sk)[0-9a-f]{32}"),
    _token("OPENAI KEY", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", "sk-proj-OpenaiCanary0123456789abcd",
           "sk-proj-OpenaiCanary0123456789abcd", r"\bsk-"),
    _token("DIGITALOCEAN TOKEN", r"\bdo[opr]_v1_[a-f0-9]{64}\b", "dop_v1_" + "c0ffee" * 10 + "abcd",
           "dop_v1_" + "c0ffee" * 10 + "abcd", r"do[opr]_v1_"),
    _token("SHOPIFY TOKEN", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", "shpat_0123456789abcdef0123456789abcdef",
           "shpat_0123456789abcdef0123456789abcdef", r"shp(?:at|ca|pa|ss)_"),
    _token("TELEGRAM BOT TOKEN", r"\b\d{8,10}:AA[0-9A-Za-z_-]{30,40}", "bot 123456789:AATelegramCanary0123456789abcdefghij",
           "AATelegramCanary0123456789abcdefghij", r"\d:aa"),
    _token("MAILGUN KEY", r"\bkey-[0-9a-z]{32}\b", "key-0123456789abcdefmailguncanary001", "key-0123456789abcdefmailguncanary001", r"\bkey-"),
    _token("AZURE STORAGE KEY", r"(?i)(?P<k>AccountKey=)[A-Za-z0-9+/=]{20,}",
           "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=AzureCanary0123456789abcdef==",
           "AzureCanary0123456789abcdef==", "accountkey="),
    # -- key = value pairs whose key names a secret (JSON, escaped JSON, URL-encoded, env, logfmt)
    Rule(
        "secret json pair",
        r"(?i)(?P<k>\\*[\"']" + SECRET_KEY + r"\\*[\"']\s*:\s*)(?:\\+\"(?:[^\"\\]|\\(?!\")|\\\"(?!\s*[,}\]]|\s*\Z))*\\+\"?"
        r"|\"(?:[^\"\\]|\\.)*\"?|'[^']*'?|[^\s,}\]]+)",
        _json_value,
        'body {\\"password\\":\\"Esc\\"aped\\"JsonCanary\\"} and {"api_token": "JsonTokCanary77"}',
        "JsonCanary",
        (_SECRET_PAIR,),
    ),
    Rule(
        "secret assignment",
        r"(?i)(?P<k>(?<![\w.-])" + SECRET_KEY + _SEP + r")(?:" + _QUOTED + r"|[^\s\"']\S*)",
        rf"\g<k>{MASK}",
        "pass=PassCanary;rest pw=PwCanary2 password%3DUrlEncCanary%26x=1 PGPASSWORD=PgCanary3 api_key: KeyCanary4",
        "PassCanary;rest",
        (_SECRET_PAIR,),
    ),
)


def secret_name(name: object) -> bool:
    """Whether a column, dict key or label called ``name`` holds a secret."""
    s = str(name)
    return bool(_SECRET_NAME.match(s)) and not _HARMLESS_NAMES.match(s)


# -- multi-row key blocks ---------------------------------------------------------------
_BLOCK_BEGIN = re.compile(r"-{4,5} ?BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)? ?-{4,5}")
_BLOCK_END = re.compile(r"-{4,5} ?END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)? ?-{4,5}")
# What a row of a key body looks like once a `svc-1  | ` prefix and a timestamp are set aside:
# base64, an armor header (Proc-Type:, Comment:, Version:), or nothing.
_BODY = re.compile(r"^(?:[^|\n]*\|\s?)?(?:\d{4}-\d\d-\d\dT\S+\s+)?(?:[A-Za-z0-9+/=]*|[A-Za-z-]+: .*)\s*$")
# A row that is nothing but a long base64 run in both cases (not a hex digest): two or more
# in a row are a key body even without their BEGIN/END (a window or a sample list cut them off).
_LONG_BODY = r"^(?:[^|\n]*\|\s?)?(?:\d{4}-\d\d-\d\dT\S+\s+)?[A-Za-z0-9+/]{60,}={0,2}\s*$"
_MARKER = r"-{4,5} ?(?:BEGIN|END) (?:[A-Z0-9]+ )*PRIVATE KEY"
_LONG_BODY_RX = re.compile(_LONG_BODY)
_MARKER_RX = re.compile(_MARKER)


def _long_body(v: str) -> bool:
    m = _LONG_BODY_RX.match(v)
    return bool(m) and re.search(r"[a-z]", v) is not None and re.search(r"[A-Z]", v.rsplit("|", 1)[-1]) is not None
_BLOCK_ROWS = 400  # the longest key block looked for (an 8192-bit RSA key in PEM is ~100 rows)


def _key_blocks(texts: Sequence[object], marks: Iterable[int], long_rows: Iterable[int]) -> dict[int, str]:
    """Rows (by position) of ``texts`` that belong to a key block, with their scrubbed text.

    ``marks`` are the rows holding a BEGIN or END marker, ``long_rows`` those that
    are nothing but a long base64 run. From a BEGIN left unterminated in its row
    the block runs forward over body rows to its END; from an END whose BEGIN is
    elsewhere (a cut file, a sample list) it runs back over the body rows before
    it; two or more adjacent long base64 rows are a block on their own. Fails
    closed: an unterminated block is scrubbed up to the first row that is not body.
    """
    out: dict[int, str] = {}
    n = len(texts)
    ends: dict[int, int] = {}  # row -> where its END marker ends
    for i in marks:
        v = texts[i]
        m = _BLOCK_END.search(v) if isinstance(v, str) else None
        if m:
            ends[i] = m.end()

    def body(j: int) -> bool:
        v = texts[j]
        return (isinstance(v, str) and j not in out and not _MARKER_RX.search(v)
                and all(_BODY.match(line) for line in v.splitlines() or [""]))

    for i in marks:
        v = texts[i]
        if not isinstance(v, str):
            continue
        begin = _BLOCK_BEGIN.search(v)
        end = _BLOCK_END.search(v)
        if end and not (begin and begin.start() < end.start()):
            out[i] = KEY_BLOCK + v[end.end():]
            j = i - 1
            while j >= 0 and body(j):
                out[j] = KEY_BLOCK
                j -= 1
        if begin and not _BLOCK_END.search(v, begin.end()):
            # Up to its END (whatever the rows between look like), else over the body rows that follow.
            stop = next((j for j in range(i + 1, min(n, i + 1 + _BLOCK_ROWS)) if j in ends), None)
            if stop is not None:
                out.update(dict.fromkeys(range(i + 1, stop), KEY_BLOCK))
                w = str(texts[stop])
                out[stop] = KEY_BLOCK + w[ends[stop]:]
                continue
            j = i + 1
            while j < n and body(j):
                out[j] = KEY_BLOCK
                j += 1
    run: list[int] = []
    for j in [*sorted(long_rows), -2]:
        if run and j != run[-1] + 1:
            if len(run) >= 2:
                out.update(dict.fromkeys(run, KEY_BLOCK))
            run = []
        run.append(j)
    return out


def _list_blocks(values: Sequence[object]) -> dict[int, str]:
    """:func:`_key_blocks` over a plain list (``malformed_samples``)."""
    text = [(i, v) for i, v in enumerate(values) if isinstance(v, str)]
    return _key_blocks(
        values,
        [i for i, v in text if _MARKER_RX.search(v)],
        [i for i, v in text if _long_body(v)],
    )


def _group_positions(df: pd.DataFrame, names: Sequence[object]) -> Iterable[np.ndarray]:
    """Row positions of each service/replica/source (all rows when the frame has none of them)."""
    keys = [names.index(c) for c in ("service", "replica", "source") if c in names]
    if not keys:
        return [np.arange(len(df))]
    return [np.sort(v) for v in df.groupby(keys, dropna=False, sort=False).indices.values()]


class _Rows(Sequence[object]):
    """The rows ``positions`` of ``values``, as a sequence (no copy)."""

    def __init__(self, values: np.ndarray, positions: np.ndarray) -> None:
        self._values, self._positions = values, positions

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        return self._values[self._positions[i]]


def _plain_dtype(dtype: Any) -> bool:
    """A dtype that cannot hold text: numbers, booleans, times and durations (numpy or masked)."""
    if isinstance(dtype, pd.ArrowDtype):
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
                or pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
                or isinstance(dtype, pd.PeriodDtype))


class RedactionError(BundleError):
    """Redaction failed; nothing may be written (fail closed)."""


class Redactor:
    """Scrubs secrets from strings, DataFrames and nested plain data."""

    def __init__(
        self,
        patterns: Iterable[str] = (),
        keywords: Iterable[str] = (),
        *,
        secret_values: Iterable[str] = (),
    ) -> None:
        rules: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = []
        words: set[str] = set()
        for rule in RULES:
            rules.append((re.compile(rule.pattern, rule.flags), rule.replacement))
            words.update(rule.keywords)
        self._anywhere: list[re.Pattern[str]] = []  # rules without keywords: run on every value
        for rx in patterns:
            try:
                compiled = re.compile(rx)
            except re.error as exc:
                raise ConfigError(f"[redact] patterns: invalid regex {rx!r}: {exc}") from None
            rules.append((compiled, MASK))
            self._anywhere.append(compiled)
        literals = [k for k in (*keywords, *secret_values) if k and len(k) >= 3]
        if literals:
            alternation = "|".join(re.escape(k) for k in sorted(set(literals), key=len, reverse=True))
            rules.append((re.compile(alternation), MASK))
            words.update(re.escape(k.lower()) for k in literals)
        self._rules = rules
        self._words = sorted(words, key=len, reverse=True)
        self._prefilter = re.compile("|".join(self._words), re.IGNORECASE)
        self._column_filter = "|".join([*self._words, _MARKER.lower(), _LONG_BODY])

    @classmethod
    def from_config(cls, config: Any) -> Redactor:
        """Redactor with the config's [redact] rules and the values of its secret variables."""
        names = [
            config.prometheus.token_env,
            config.prometheus.password_env,
            config.postgres.password_env,
            config.incidents.pagerduty_token_env,
            config.catalog.password_env,
        ]
        values = [v for n in names if (v := config.secret(n))]
        return cls(config.redact.patterns, config.redact.keywords, secret_values=values)

    def text(self, value: str) -> str:
        if not self._anywhere and not self._prefilter.search(value):
            return value
        for rx, repl in self._rules:
            value = rx.sub(repl, value)
        return value

    def value(self, value: Any, key: object = None) -> Any:
        """Redact strings anywhere inside ``value`` (lists, dicts, arrays); a value
        stored under a secret-like ``key`` is scrubbed whole."""
        if key is not None and secret_name(key) and value not in (None, "") and not isinstance(value, (bool, dict)):
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        if isinstance(value, dict):
            return {self.value(k): self.value(v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            blocks = _list_blocks(value)
            return type(value)(self.text(blocks[i]) if i in blocks else self.value(v) for i, v in enumerate(value))
        if isinstance(value, (set, frozenset)):
            return type(value)(self.value(v) for v in value)
        if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
            return np.array(self.value(value.tolist()), dtype=object)
        return value

    def _candidates(self, s: pd.Series) -> np.ndarray:
        """Positions of the values of text column ``s`` that the prefilter (or a key-block
        marker, or a long base64 row) picks, in one vectorised pass."""
        if self._anywhere:
            return np.flatnonzero(s.notna().to_numpy())
        try:
            # pyarrow's RE2 engine: ~600 MB/s where pandas would fall back to Python's re.
            hits = pc.match_substring_regex(s.array.__arrow_array__(), self._column_filter, ignore_case=True)
            return np.flatnonzero(hits.to_numpy(zero_copy_only=False) == True)  # nulls are None
        except (AttributeError, TypeError):
            rx = re.compile(self._column_filter, re.IGNORECASE)
            return np.flatnonzero([isinstance(v, str) and rx.search(v) is not None for v in s])

    def _column(self, s: pd.Series, groups: Callable[[], list[np.ndarray]]) -> pd.Series:
        """Text column ``s`` scrubbed: the rules on the values the prefilter picks, then
        key blocks spread over rows, per group of rows (``groups()``: service/replica/source)."""
        picked = self._candidates(s)
        if len(picked) == 0:
            return s
        raw = s.array
        texts = {int(i): raw[i] for i in picked}
        changed: dict[int, str] = {}
        memo: dict[str, str] = {}
        for i, v in texts.items():
            if isinstance(v, str):
                out = memo[v] if v in memo else memo.setdefault(v, self.text(v))
                if out != v:
                    changed[i] = out
        marks = [i for i, v in texts.items() if isinstance(v, str) and _MARKER_RX.search(v)]
        longs = [i for i, v in texts.items() if isinstance(v, str) and _long_body(v)]
        if marks or len(longs) >= 2:
            for rows in groups():
                m = np.flatnonzero(np.isin(rows, marks)).tolist()
                lg = np.flatnonzero(np.isin(rows, longs)).tolist()
                if m or len(lg) >= 2:
                    for pos, scrubbed in _key_blocks(_Rows(raw, rows), m, lg).items():
                        changed[int(rows[pos])] = self.text(scrubbed)
        if not changed:
            return s
        out = s.copy()
        positions = np.fromiter(changed, dtype=np.int64, count=len(changed))
        out.iloc[positions] = list(changed.values())
        return out

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with every text (and object) column scrubbed; dtypes kept.

        A column whose name is secret-like (:func:`secret_name`) is scrubbed whole;
        key blocks spread over rows are scrubbed per service/replica/source."""
        try:
            names = list(df.columns)
            out = df.set_axis(pd.RangeIndex(len(names)), axis=1)  # duplicate names must not alias
            out = out.copy()
            cache: list[list[np.ndarray]] = []

            def groups() -> list[np.ndarray]:
                if not cache:
                    cache.append(list(_group_positions(df.set_axis(out.columns, axis=1), names)))
                return cache[0]

            for i, name in enumerate(names):
                s = out[i]
                text_like = isinstance(s.dtype, pd.StringDtype) or s.dtype == object
                if secret_name(name):
                    if text_like:
                        out[i] = s.where(s.isna(), MASK)
                    elif not pd.api.types.is_bool_dtype(s.dtype):
                        out[i] = pd.Series([None if pd.isna(v) else MASK for v in s], index=s.index, dtype="str")
                elif isinstance(s.dtype, pd.StringDtype):
                    out[i] = self._column(s, groups)
                elif isinstance(s.dtype, pd.CategoricalDtype):
                    # Categories are text too (an ordered `level` read back from a bundle): scrubbed
                    # as text, kept as text, never passed through unread.
                    values = s.astype(object).where(s.notna(), None)
                    if values.map(lambda v: v is None or isinstance(v, str)).all():
                        out[i] = self._column(values.astype(pd.StringDtype(na_value=np.nan)), groups)
                    else:
                        out[i] = values.map(self.value)
                elif s.dtype == object:
                    out[i] = s.map(self.value)
                elif not _plain_dtype(s.dtype):
                    # Anything else that can hold text (Arrow strings, lists, structs, a dtype
                    # added later): read as Python values and scrubbed, never passed through.
                    values = s.astype(object).where(s.notna(), None)
                    scrubbed = values.map(self.value)
                    if not scrubbed.equals(values):
                        out[i] = scrubbed
            out.columns = [self.text(str(c)) for c in names]
            out.attrs = self.value(dict(df.attrs))  # attrs travel into the Parquet metadata
            return out
        except RedactionError:
            raise
        except Exception as exc:  # fail closed, whatever went wrong
            raise RedactionError(f"redaction failed: {type(exc).__name__}: {exc}") from exc

    def data(self, value: Any) -> Any:
        """Redact plain data (the manifest); fails closed."""
        try:
            return self.value(value)
        except Exception as exc:
            raise RedactionError(f"redaction failed: {type(exc).__name__}: {exc}") from exc
