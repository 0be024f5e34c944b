"""What a line says besides its time: its level, whether it continues the event before it,
and the per-chunk preparation the worker threads run (prefixes, times, fast levels)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...model import tables
from .framing import (
    _LBRACKET,
    _PAD,
    _RBRACKET,
    _SPACE,
    _TS_W,
    _WORD_CHARS,
    _Z,
    _ZERO,
    NAT,
    _frame_chunk,
    _prefix_codes,
    _windows,
)
from .times import _outside_window, _parse_iso

_STATUS_LINE = re.compile(r"^(?:(?P<name>[A-Za-z0-9][\w.-]*) exited with code (?P<code>-?\d+)|Attaching to \S.*)$")
_CONTINUATION = (
    r"^(?:Traceback \(most recent call last\)|Caused by: |During handling of the above exception"
    r"|The above exception was the direct cause|\.\.\. \d+ (?:more|common frames omitted)"
    r"|(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception|Exit|Interrupt|Warning|Failure)(?::|$))"
)
# An exception line without the usual suffix ("httpx.ReadTimeout: timed out"): a
# continuation only right after another continuation line of the same service.
_EXCEPTION_LINE = r"^(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?::\s|:$|$)"
_LEVEL_RE = (
    r"(?:\b(?:level|lvl|severity|loglevel)[\"']?\s*[=:]\s*[\"']?(?P<kv>[A-Za-z]+))"
    r"|\[(?P<br>(?i:trace|debug|info|notice|warn|warning|error|err|crit|critical|alert|emerg|emergency|fatal"
    r"|panic|severe))\]"
    r"|\b(?P<w>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|CRIT|SEVERE|PANIC|EMERGENCY|EMERG"
    r"|ALERT)\b"
    r"|\b(?P<pg>LOG):"
)
_LEVEL_MAP = {
    "trace": "DEBUG", "debug": "DEBUG", "dbg": "DEBUG",
    "info": "INFO", "notice": "INFO", "information": "INFO",
    "warn": "WARNING", "warning": "WARNING",
    "log": "INFO",  # PostgreSQL's "LOG:"
    "error": "ERROR", "err": "ERROR",
    "fatal": "CRITICAL", "critical": "CRITICAL", "crit": "CRITICAL", "panic": "CRITICAL",
    "emerg": "CRITICAL", "emergency": "CRITICAL", "alert": "CRITICAL", "severe": "CRITICAL",
}
# Level words tried right after the application's timestamp (the common layout), longest first.
_FAST_LEVELS = (
    (b"WARNING", "WARNING"), (b"CRITICAL", "CRITICAL"), (b"ERROR", "ERROR"), (b"DEBUG", "DEBUG"),
    (b"FATAL", "CRITICAL"), (b"TRACE", "DEBUG"), (b"INFO", "INFO"), (b"WARN", "WARNING"),
)
_LEVEL_CODE = {name: i + 1 for i, name in enumerate(tables.LEVELS)}  # 0: missing


_FAST_LEVEL_WORDS = [
    (np.uint64(int.from_bytes(word.ljust(8, b"\0"), "little")), np.uint64((1 << (8 * len(word))) - 1 if len(word) < 8
     else 0xFFFFFFFFFFFFFFFF), len(word), _LEVEL_CODE[name])
    for word, name in _FAST_LEVELS
]


def _fast_levels(m: np.ndarray) -> np.ndarray:
    """Level code (_LEVEL_CODE) of a level word at the start of each row (0: none)."""
    out = np.zeros(len(m), dtype=np.int8)
    if len(m) == 0:
        return out
    w = np.ascontiguousarray(m[:, :8]).view(np.uint64)[:, 0]
    for pattern, mask, k, code in _FAST_LEVEL_WORDS:
        hit = ((w & mask) == pattern) & ~_WORD_CHARS[m[:, k]]
        out[hit & (out == 0)] = code
    return out


def _regex_levels(texts: pa.Array) -> np.ndarray:
    """Level codes (_LEVEL_CODE, 0 when none) by the full level rules."""
    found = pc.extract_regex(texts, _LEVEL_RE)
    cols = [pc.struct_field(found, name).to_pylist() for name in ("kv", "br", "w", "pg")]
    out = np.zeros(len(texts), dtype=np.int8)
    for i, (kv, br, w, pg) in enumerate(zip(*cols)):
        raw = kv or br or w or pg
        if raw:
            out[i] = _LEVEL_CODE.get(_LEVEL_MAP.get(raw.lower(), ""), 0)
    return out


@dataclass
class _Prepared:
    """One chunk decoded as far as it can be without the parser's state (runs in a worker)."""

    n: int
    skip: bool = False
    pb: np.ndarray | None = None
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    codes: np.ndarray | None = None
    names: list[bytes] = field(default_factory=list)
    text: np.ndarray | None = None
    docker_ns: np.ndarray | None = None
    app: tuple[np.ndarray, ...] | None = None
    unwanted: np.ndarray | None = None  # lines known to be events of levels not asked for


def _prepare(
    parts: tuple[bytes, memoryview], bounds: tuple[bytes, bytes] | None, wanted: np.ndarray | None = None
) -> _Prepared:
    pb, starts, ends = _frame_chunk(b"".join((*parts, bytes(_PAD))), _PAD)
    n = len(starts)
    if bounds is not None and _outside_window(pb, starts, *bounds):
        return _Prepared(n=n, skip=True)
    codes, names, text = _prefix_codes(pb, starts, ends - starts)
    rows = np.arange(n)
    unwanted = None
    if wanted is not None:
        unwanted = _unwanted_lines(pb, starts, ends, codes, text, wanted)
        rows = np.flatnonzero(~unwanted)
    # Docker's own time follows the prefix only when the line had one.
    t = text[rows]
    d_ok, d_ns, d_len = _parse_iso(_windows(pb, t, _TS_W), docker=True)
    d_ok &= (t + d_len <= ends[rows]) & (codes[rows] >= 0)
    t = np.where(d_ok, np.minimum(t + d_len + 1, ends[rows]), t)
    app = _app_times(pb, t, ends[rows], d_ok)
    if unwanted is None:
        return _Prepared(n=n, pb=pb, starts=starts, ends=ends, codes=codes, names=names, text=t,
                         docker_ns=np.where(d_ok, d_ns, NAT), app=app)
    text[rows] = t
    docker_ns = np.full(n, NAT, dtype=np.int64)
    docker_ns[rows] = np.where(d_ok, d_ns, NAT)
    full: tuple[np.ndarray, ...] = (np.zeros(n, dtype=bool), np.full(n, NAT, dtype=np.int64), text.copy(), np.zeros(n, dtype=np.int8))
    for whole, part in zip(full, app):
        whole[rows] = part
    return _Prepared(n=n, pb=pb, starts=starts, ends=ends, codes=codes, names=names, text=text,
                     docker_ns=docker_ns, app=full, unwanted=unwanted)


def _unwanted_lines(
    pb: np.ndarray, starts: np.ndarray, ends: np.ndarray, codes: np.ndarray, text: np.ndarray,
    wanted: np.ndarray,
) -> np.ndarray:
    """Lines that are surely events of a level not asked for (codes ``wanted``):
    ``name | <Docker time>Z <application time> LEVEL …`` — a line starting with a
    time never continues another, and its level is the word right after that time."""
    n = len(starts)
    m = _windows(pb, text, 36)
    space = (m == _SPACE).argmax(1)
    body = text + space + 1
    sure = (codes >= 0) & (space >= 20) & (m[np.arange(n), np.maximum(space - 1, 0)] == _Z) & (body < ends)
    sure &= pb[body] - np.uint8(_ZERO) < 10
    a_ok, _, _, level = _app_times(pb, body, ends, np.ones(n, dtype=bool), shape_only=True)
    unwanted: np.ndarray = sure & a_ok & (level > 0) & ~np.isin(level, wanted)
    return unwanted


def _app_times(
    pb: np.ndarray, text: np.ndarray, ends: np.ndarray, d_ok: np.ndarray, *, shape_only: bool = False
) -> tuple[np.ndarray, ...]:
    """(ok, ns, body, fast level) per line: the application's own time at the start of
    its text (optionally in brackets), where the message starts after it, and the level
    word found right there (_LEVEL_CODE, 0 when none)."""
    bracket = (pb[text] == _LBRACKET) & (text < ends)
    at = text + bracket
    a_ok, a_ns, a_len = _parse_iso(_windows(pb, at, _TS_W), docker=False, values=~d_ok, shape_only=shape_only)
    a_ok &= at + a_len <= ends
    # The message starts after the application's own time (the timestamp column has it).
    body = at + a_len
    body = body + (a_ok & bracket & (pb[body] == _RBRACKET))
    for _ in range(3):
        body = body + (a_ok & (pb[body] == _SPACE) & (body < ends))
    body = np.where(a_ok, body, text)
    after = body + (pb[body] == _LBRACKET)
    return a_ok, a_ns, body, _fast_levels(_windows(pb, after, 10))
