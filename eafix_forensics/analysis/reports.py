"""What the services say about each other: a service's errors naming another one that does
not answer ("pre-trade approval from risk-manager timed out").

A service that hangs — its process up, its log silent — shows no symptom of its own; its
clients' errors are the evidence that it failed. :func:`unanswered` reads one message,
:func:`reported_unanswered` the logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..model.topology import normalize_service
from .logs import symptom_errors

__all__ = ["UNANSWERED", "reported_unanswered", "unanswered"]

#: Words saying a service did not answer (not that it answered "no").
UNANSWERED = re.compile(
    r"(?i)\b(?:timed?[ -]?out|timeout|unavailable|unreachable|not (?:responding|answering)"
    r"|no (?:response|answer)|connection refused|refused (?:the )?connection|connection reset)\b|\b50[234]\b"
)


def _names(message: str, name: str) -> bool:
    text = message.lower().replace("_", "-")
    return re.search(rf"(?<![\w-]){re.escape(normalize_service(name))}(?![\w-])", text) is not None


def unanswered(message: str, candidates: Iterable[str]) -> tuple[str, str] | None:
    """(service, words) when ``message`` says one of ``candidates`` did not answer, else None."""
    words = UNANSWERED.search(message or "")
    if not words:
        return None
    for name in candidates:
        if _names(message, name):
            return normalize_service(name), words.group(0)
    return None


def reported_unanswered(logs: pd.DataFrame | None, service: str) -> list[dict[str, Any]]:
    """Per other service: the error lines that are symptoms and say ``service`` did not
    answer — dicts reporter, first, last, errors, example — most errors first."""
    errs = symptom_errors(logs)
    if not len(errs):
        return []
    target = normalize_service(service)
    msgs = errs["message"].astype(object).map(lambda m: m if isinstance(m, str) else "")
    who = errs["service"].astype(object).map(lambda v: normalize_service(v) if isinstance(v, str) else "")
    hit = (msgs.map(lambda m: unanswered(m, [target]) is not None) & (who != target)).astype(bool)
    out = []
    for reporter, g in errs[hit.to_numpy()].groupby(who[hit].to_numpy(), sort=True):
        g = g.sort_values("timestamp", kind="stable")
        out.append({"reporter": str(reporter), "first": g["timestamp"].iloc[0], "last": g["timestamp"].iloc[-1],
                    "errors": len(g), "example": str(g["message"].iloc[0])})
    return sorted(out, key=lambda r: (-r["errors"], r["first"]))
