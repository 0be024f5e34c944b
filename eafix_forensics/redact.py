"""Secret scrubbing, applied to every text value before anything is written.

What is scrubbed (each replaced by ``***`` or ``[REDACTED …]``):

- passwords in DSNs/URLs: ``postgresql://user:***@host``;
- ``password=``, ``passwd=``, ``pwd=``, ``PGPASSWORD=`` assignments;
- ``Authorization: Bearer|Basic|Token …`` headers and bare ``Bearer <token>``;
- key=value and JSON pairs whose key mentions api_key, token, secret, password,
  access_key, private_key, credential or session id;
- JSON Web Tokens (``eyJ….….…``), AWS access key ids (``AKIA…``/``ASIA…``);
- PEM private key blocks (terminated or not);
- the values of the secret environment variables the config names
  (``EAFIX_PG_PASSWORD``…) when set, and the regexes and keywords of ``[redact]``.

Redaction fails closed: any error raises :class:`RedactionError` (a
:class:`~eafix_forensics.errors.BundleError`) and the caller writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from .errors import BundleError, ConfigError

__all__ = ["RedactionError", "Redactor"]

MASK = "***"

_BUILTIN: list[tuple[str, str]] = [
    # PEM private keys, with or without their END line.
    (
        r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|.*\Z)",
        "[REDACTED PRIVATE KEY]",
    ),
    # user:password@ in any URL / DSN.
    (r"(?P<k>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#\s@]*:)[^@\s/]+(?=@)", r"\g<k>" + MASK),
    # Authorization headers; then bare bearer tokens.
    (
        r"(?i)(?P<k>\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|digest|apikey)\s+)[^\s\"',;]+",
        r"\g<k>" + MASK,
    ),
    (r"(?i)(?P<k>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}", r"\g<k>" + MASK),
    # JSON Web Tokens.
    (r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", "[REDACTED JWT]"),
    # AWS access key ids.
    (r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b", "[REDACTED AWS KEY]"),
    # "secret-ish": "value" JSON pairs and secret-ish=value / : value assignments.
    (
        r"(?i)(?P<k>[\"'](?:[\w.-]*(?:api[_-]?key|apikey|token|secret|passw(?:or)?d|passphrase|pwd|access[_-]?key|private[_-]?key|credential|session[_-]?id|auth)[\w.-]*)[\"']\s*:\s*)(?:\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s,}\]]+)",
        r"\g<k>" + '"' + MASK + '"',
    ),
    (
        r"(?i)(?P<k>\b[\w.-]*(?:api[_-]?key|apikey|token|secret|passw(?:or)?d|passphrase|pwd|access[_-]?key|private[_-]?key|credential|session[_-]?id)[\w.-]*\s*[=:]\s*)(?:\"[^\"]*\"|'[^']*'|[^\s\"',;&]+)",
        r"\g<k>" + MASK,
    ),
]


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
        for rx, repl in _BUILTIN:
            rules.append((re.compile(rx, re.DOTALL), repl))
        for rx in patterns:
            try:
                rules.append((re.compile(rx), MASK))
            except re.error as exc:
                raise ConfigError(f"[redact] patterns: invalid regex {rx!r}: {exc}") from None
        literals = [k for k in (*keywords, *secret_values) if k and len(k) >= 3]
        if literals:
            alternation = "|".join(re.escape(k) for k in sorted(set(literals), key=len, reverse=True))
            rules.append((re.compile(alternation), MASK))
        self._rules = rules

    @classmethod
    def from_config(cls, config: Any) -> Redactor:
        """Redactor with the config's [redact] rules and the values of its secret variables."""
        names = [
            config.prometheus.token_env,
            config.prometheus.password_env,
            config.postgres.password_env,
            config.incidents.pagerduty_token_env,
        ]
        values = [v for n in names if (v := config.secret(n))]
        return cls(config.redact.patterns, config.redact.keywords, secret_values=values)

    def text(self, value: str) -> str:
        for rx, repl in self._rules:
            value = rx.sub(repl, value)
        return value

    def value(self, value: Any) -> Any:
        """Redact strings anywhere inside ``value`` (lists, dicts, arrays)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        if isinstance(value, np.ndarray) and value.dtype == object:
            return np.array([self.value(v) for v in value], dtype=object)
        return value

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with every text (and object) column scrubbed; dtypes kept."""
        try:
            out = df.copy()
            for col in out.columns:
                s = out[col]
                if isinstance(s.dtype, pd.StringDtype):
                    uniques = s.dropna().unique()
                    mapping = {u: self.text(u) for u in uniques}
                    changed = {k: v for k, v in mapping.items() if k != v}
                    if changed:
                        out[col] = s.map(lambda v, c=changed: c.get(v, v) if isinstance(v, str) else v).astype(s.dtype)
                elif s.dtype == object:
                    out[col] = s.map(self.value)
            out.columns = [self.text(str(c)) for c in out.columns]
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
