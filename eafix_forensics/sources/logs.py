"""Container logs into LOGS: saved ``docker compose logs`` output, Docker json-file logs,
and the live ``docker compose logs`` command.

LOGS columns: timestamp, service, replica, level, message, source, line, then
``lines`` (input lines in the event), ``malformed`` (bool), and for json-file
logs ``stream``. Rows are in file order.

How a line is read (the same rules for every adapter):

- Lines end at ``\\n``; a trailing ``\\r`` is dropped; ANSI colour codes are
  removed; invalid UTF-8 is replaced (U+FFFD); a line over 1 MiB is cut there
  and ends with ``…[truncated N bytes]``.
- A Compose prefix ``service-1  | `` (v2) or ``project_service_1  | `` (v1)
  gives service and replica; without one (``--no-log-prefix``) the service is
  the ``service=`` option (missing by default).
- The time is Docker's (``--timestamps``), else the application's own at the
  start of its text (``2024-12-02 14:03:11,123``, ISO 8601 with or without an
  offset, epoch seconds or millis), else a ``time``/``ts``/``timestamp`` key
  (JSON, logfmt), else an ISO time in the first 64 characters. No offset means UTC.
- The message is the application's text after Docker's prefix and time and
  after the application's own leading time (the timestamp column holds it).
- The level is the first level word of the first line: ``ERROR``, ``WARN``,
  ``level=error``, ``"level":"error"``, ``[error]``, Python logging, ``FATAL``…
  mapped onto DEBUG/INFO/WARNING/ERROR/CRITICAL, missing when none is found.
- A line without its own time that continues a multi-line event (indented,
  ``Traceback (most recent call last):``, ``Caused by:``, ``... 5 more``, an
  ``…Error:``/``…Exception:`` line, blank, or ``pkg.Name: text`` right after
  another continuation) joins the previous event of the same service and
  replica in the same source; its text is appended after a newline.
- A line that starts no datable event is kept as a *malformed* row: the raw
  line as message, level missing, ``malformed`` True. Compose status lines
  (``x-1 exited with code 0``, ``Attaching to …``) are kept undated, not malformed.

Every input line is in exactly one row (``lines`` counts them), so
``frame["lines"].sum()`` equals the number of lines read when no window is
given. ``frame.attrs`` holds ``malformed`` (input lines in malformed rows),
``malformed_samples`` (the first few raw lines) and ``lines_read``. With a
window, events inside ``[start, end)`` are kept, and undated rows when the last
dated line before them is inside.

The parser is vectorised: a file is read in 8 MiB chunks, which two worker
threads frame and decode with numpy/pyarrow (prefixes, times, common levels);
the parser then takes them in order, and only unusual lines take a per-line
Python path. With a window, a chunk whose every line carries a Docker time
more than a minute outside the window is counted and skipped unparsed (a
continuation line stamped over a minute after its event, at the window's
edge, would be lost with it).
"""

from __future__ import annotations

import glob
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..bundle import Evidence
from ..config import Config
from ..errors import ConfigError, QueryError, SourceError, SourceUnavailable
from ..model import tables
from ..window import TimeWindow
from .base import CollectContext, Collector

__all__ = [
    "COLLECTOR",
    "MAX_LINE_BYTES",
    "compose_logs",
    "read_compose_logs",
    "read_container_json_logs",
]

MAX_LINE_BYTES = 1 << 20
CHUNK_BYTES = 8 << 20
WORKERS = 2
MALFORMED_SAMPLES = 5
_PAD = 96  # bytes of zero padding so fixed-width windows never run off a chunk
_PREFIX_W = 64  # a Compose prefix longer than this is not a prefix
_TS_W = 40
NAT = np.iinfo(np.int64).min
# The big per-chunk Arrow buffers go to the system allocator: the default pool keeps
# freed chunks mapped, which raised peak RSS by about half the file size.
_POOL = pa.system_memory_pool()

_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_STATUS_LINE = re.compile(r"^(?:(?P<name>[A-Za-z0-9][\w.-]*) exited with code (?P<code>-?\d+)|Attaching to \S.*)$")
_V1_NAME = re.compile(r"^(?P<project>[a-z0-9]+)_(?P<service>.+)_(?P<replica>\d+)$")
_V2_NAME = re.compile(r"^(?P<service>.+?)[-_](?P<replica>\d+)$")
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
_TIME_KEY = re.compile(
    r"""["']?(?:@timestamp|timestamp|time|ts|t)["']?\s*[=:]\s*(?:"([^"]{6,40})"|'([^']{6,40})'|(\d{9,13}(?:\.\d+)?)\b|([0-9][^\s,}]{9,39}))"""
)
_EPOCH_START = re.compile(r"^\[?(\d{10}(?:\.\d{1,9})?|\d{13})(?![\d.])")
_ISO_ANY = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?")

_NAME_CHARS = np.zeros(256, dtype=bool)
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-":
    _NAME_CHARS[_c] = True
_WORD_CHARS = np.zeros(256, dtype=bool)
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_":
    _WORD_CHARS[_c] = True
_COLS = np.arange(_PREFIX_W)
_HASH_MULT = np.random.default_rng(20241202).integers(1, 2**63, size=_PREFIX_W // 8, dtype=np.uint64) | np.uint64(1)
_HASH_MULT2 = np.random.default_rng(7).integers(1, 2**63, size=_PREFIX_W // 8, dtype=np.uint64) | np.uint64(1)
# Compose pads names with spaces before the "|"; a name as wide as the pad column has none.
_PREFIX_NAME = re.compile(rb"^([A-Za-z0-9][A-Za-z0-9_.-]*) *$")
# ASCII codes the vectorised decoders compare bytes with
_SPACE, _PLUS, _MINUS, _DOT, _COMMA, _COLON = 32, 43, 45, 46, 44, 58
_ZERO, _T, _Z, _LBRACKET, _RBRACKET = 48, 84, 90, 91, 93
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


# ------------------------------------------------------------------ reading bytes
def _chunks(fh: IO[bytes], chunk_bytes: int | None = None, *, pad: int = 0) -> Iterator[bytes]:
    """Yield pieces of ``fh`` that end at a newline, with over-long lines already cut,
    each followed by ``pad`` zero bytes (added in the one copy a piece needs anyway)."""
    zeros = bytes(pad)
    for parts in _chunk_parts(fh, chunk_bytes):
        yield b"".join((*parts, zeros))


def _chunk_parts(fh: IO[bytes], chunk_bytes: int | None = None) -> Iterator[tuple[bytes, memoryview]]:
    """_chunks before the join: (the previous block's tail, this block up to its last
    newline). Joining is left to whoever takes the piece, so a worker can do the copy."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    carry = b""
    dropped = 0  # bytes of the current over-long line thrown away so far
    while True:
        block = fh.read(chunk_bytes)
        if not block:
            if dropped:
                carry += _marker(dropped)
            if carry:
                yield carry, memoryview(b"")
            return
        if dropped:
            nl = block.find(b"\n")
            if nl < 0:
                dropped += len(block)
                continue
            carry += _marker(dropped + nl)
            dropped = 0
            block = block[nl:]
        last = block.rfind(b"\n")
        if last < 0:
            carry += block
        else:
            yield carry, memoryview(block)[: last + 1]
            carry = block[last + 1 :]
        if len(carry) > MAX_LINE_BYTES:
            dropped = len(carry) - MAX_LINE_BYTES
            carry = carry[:MAX_LINE_BYTES]


def _marker(dropped: int) -> bytes:
    return f" …[truncated {dropped} bytes]".encode()


def _clean(data: bytes) -> bytes:
    """Valid UTF-8 without ANSI codes, every line at most MAX_LINE_BYTES (plus its marker)."""
    if b"\x1b" in data:
        data = _ANSI.sub(b"", data)
    if np.frombuffer(data, dtype=np.uint8).max(initial=0) >= 0x80:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode("utf-8", "replace").encode("utf-8")
    return data


# ------------------------------------------------------------------ vectorised pieces
def _windows(pb: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """Rows of ``width`` bytes of ``pb`` starting at each of ``pos`` (pb is zero padded)."""
    view = np.lib.stride_tricks.sliding_window_view(pb, width)
    out: np.ndarray = view[np.minimum(pos, len(pb) - width)]
    return out


_ISO_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_POW9 = 10 ** np.arange(8, -1, -1, dtype=np.int64)


def _factorize_rows(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, first row of each code) for hashable keys ``h``."""
    codes, uniq = pd.factorize(h)
    first = np.empty(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(h) - 1, -1, -1)
    return codes, first


def _word_masks(template: str) -> tuple[np.uint64, np.uint64, np.uint64]:
    """(digit mask, separator mask, separator value) of an 8-byte template ('d' = digit)."""
    dm = sm = sv = 0
    for i, ch in enumerate(template):
        if ch == "d":
            dm |= 0xFF << (8 * i)
        elif ch != "?":
            sm |= 0xFF << (8 * i)
            sv |= ord(ch) << (8 * i)
    return np.uint64(dm), np.uint64(sm), np.uint64(sv)


_W0 = _word_masks("dddd-dd-")  # bytes 0-7 of 2024-12-02T14:03:11
_W1 = _word_masks("dd?dd:dd")  # bytes 8-15 (byte 10 is T or a space)
_HI = np.uint64(0xF0F0F0F0F0F0F0F0)
_X30 = np.uint64(0x3030303030303030)
_X06 = np.uint64(0x0606060606060606)
_HASH_A = np.uint64(0x9E3779B97F4A7C15)
_HASH_B = np.uint64(0xC2B2AE3D27D4EB4F)


def _digits_ok(w: np.ndarray, masks: tuple[np.uint64, np.uint64, np.uint64]) -> np.ndarray:
    dm, sm, sv = masks
    x = w & dm
    ok: np.ndarray = ((x & _HI) == (_X30 & dm)) & (((x + (_X06 & dm)) & _HI & dm) == (_X30 & dm)) & ((w & sm) == sv)
    return ok


def _parse_iso(
    m: np.ndarray, *, docker: bool, values: np.ndarray | bool = True, shape_only: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode an ISO 8601 time at the start of each row of ``m`` (n × _TS_W bytes).

    Returns (ok, epoch ns, length in bytes); ns is computed only where
    ``values`` is true (NAT elsewhere). Docker's form needs ``T`` and an
    offset; the application's may use a space and ``,`` and lack an offset (UTC).
    """
    n = len(m)
    ns = np.full(n, NAT, dtype=np.int64)
    length = np.zeros(n, dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=bool), ns, length
    words = np.ascontiguousarray(m[:, :16]).view(np.uint64)
    ok = _digits_ok(words[:, 0], _W0) & _digits_ok(words[:, 1], _W1)
    ok &= (m[:, 10] == 84) if docker else ((m[:, 10] == 84) | (m[:, 10] == 32))
    ok &= (m[:, 16] == 58) & (m[:, 17] - np.uint8(48) < 6) & (m[:, 18] - np.uint8(48) < 10)
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        return ok, ns, length
    every = len(rows) == n
    if not every:
        m, words = m[rows], words[rows]
    k = len(rows)
    flat = m.reshape(-1)
    base = np.arange(k, dtype=np.int64) * m.shape[1]
    fsep = m[:, 19]
    frac_d = m[:, 20:36] - np.uint8(48)
    nondigit = frac_d >= 10
    nondigit[:, -1] = True
    digits = nondigit.argmax(1)
    has_frac = ((fsep == 46) | ((fsep == 44) & (not docker))) & (digits > 0)
    end = 19 + has_frac * (1 + digits)
    c = flat[base + end]
    z = c == _Z
    if docker:
        at = end
    else:
        # PostgreSQL's %m/%t prefix writes a numeric zone after a space: "… 12:10:02.441 +07".
        nxt = flat[base + np.minimum(end + 1, _TS_W - 1)]
        at = end + ((c == _SPACE) & ((nxt == _PLUS) | (nxt == _MINUS)))
    sc = flat[base + at]
    signed = np.flatnonzero((sc == _PLUS) | (sc == _MINUS))
    has_off = np.zeros(k, dtype=bool)
    offset_s = np.zeros(k, dtype=np.int64)
    if len(signed):
        has_off[signed], offset_s[signed], taken = _offsets(m[signed], at[signed], hours_only=not docker)
        end[signed] = np.where(taken > 0, at[signed] + taken, end[signed])
    end = end + z
    good = (z | has_off) if docker else np.ones(k, dtype=bool)
    # A time must end at a word boundary: "2024-12-02T14:03:11Zfoo" is not one.
    after = flat[base + np.minimum(end, _TS_W - 1)]
    good &= ~_WORD_CHARS[after] | (after == 0)
    if shape_only:  # the caller needs where a time-shaped token ends, not whether the date exists
        ok[rows] = good
        length[rows] = np.where(good, end, 0)
        return ok, ns, length
    # Date, hour and minute repeat from line to line: decode each distinct one once.
    w0 = words[:, 0]
    w1 = words[:, 1] & np.uint64(0xFFFFFFFFFF00FFFF)  # byte 10, 'T' or ' ', does not matter
    codes, uniq_idx = _factorize_rows(w0 * _HASH_A ^ w1)
    same = (w0 * _HASH_B + w1) == (w0 * _HASH_B + w1)[uniq_idx][codes]
    minute_s = np.zeros(len(uniq_idx), dtype=np.int64)
    minute_ok = np.zeros(len(uniq_idx), dtype=bool)
    for u, row in enumerate(uniq_idx.tolist()):
        t = bytes(m[row, :16]).decode("ascii", "replace")
        try:
            minute_s[u] = int(pd.Timestamp(t[:10] + " " + t[11:16], tz="UTC").value // 1_000_000_000)
            minute_ok[u] = 1677 < int(t[:4]) < 2262
        except (ValueError, OverflowError):
            minute_ok[u] = False
    sec = (m[:, 17] - np.uint8(48)).astype(np.int64) * 10 + (m[:, 18] - np.uint8(48))
    good &= minute_ok[codes] & same & (sec < 60)
    if every:
        ok = good
        length = np.where(good, end, 0)
    else:
        ok[rows] = good
        length[rows] = np.where(good, end, 0)
    if values is False:
        return ok, ns, length
    want = good if values is True else good & np.asarray(values, dtype=bool)[rows]
    if not want.any():
        return ok, ns, length
    w = np.flatnonzero(want)
    fd = frac_d[:, :9] if len(w) == k else frac_d[w, :9]
    run = _COLS[None, :9] < np.where(has_frac[w], digits[w], 0)[:, None]
    frac = np.where(run, fd, 0).astype(np.int64) @ _POW9
    ns[rows[w]] = (minute_s[codes[w]] + sec[w] - offset_s[w]) * 1_000_000_000 + frac
    return ok, ns, length


def _offsets(sm: np.ndarray, at: np.ndarray, *, hours_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ok, offset seconds east, bytes taken) of a UTC offset starting at ``at`` in each row of ``sm``:
    ``+01:00``, ``+0100``, and with ``hours_only`` ``+01`` (PostgreSQL's zone abbreviation).

    Rare enough to decode in numpy over the few rows that have one.
    """
    rows = np.arange(len(sm))
    e = np.minimum(at, _TS_W - 6)
    g = np.stack([sm[rows, e + j] for j in range(6)], axis=1).astype(np.int64) - _ZERO
    colon = g[:, 3] == _COLON - _ZERO
    four = (g[:, 3] >= 0) & (g[:, 3] <= 9)
    short = ~colon & ~four & hours_only
    mm = np.where(colon[:, None], g[:, 4:6], np.where(four[:, None], g[:, 3:5], 0))
    ok = (g[:, 1:3] >= 0).all(1) & (g[:, 1:3] <= 9).all(1) & (mm >= 0).all(1) & (mm <= 9).all(1)
    ok &= colon | four | short
    oh = g[:, 1] * 10 + g[:, 2]
    om = mm[:, 0] * 10 + mm[:, 1]
    ok &= (oh < 24) & (om < 60)
    sign = np.where(sm[rows, e] == _PLUS, 1, -1)
    taken = np.where(ok, np.where(colon, 6, np.where(four, 5, 3)), 0)
    return ok, np.where(ok, sign * (oh * 3600 + om * 60), 0), taken


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


def _slices(pb: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """A large_string array of pb[starts[i]:ends[i]], built without a Python loop.

    The slices are described as Arrow string views over ``pb`` (16 bytes each,
    short strings inline) and Arrow copies them out in one pass.
    """
    n = len(starts)
    lengths = np.maximum(ends - starts, 0).astype(np.int64)
    if n == 0:
        return pa.array([], pa.large_string())
    if len(pb) >= 2**31:
        raise ValueError("chunk too large for string views")
    win = _windows(pb, starts, 12)
    win = np.where(_COLS[None, :12] < lengths[:, None], win, 0).astype(np.uint8)
    views = np.zeros((n, 4), dtype="<i4")
    views[:, 0] = lengths
    raw = views.view(np.uint8)
    short = lengths <= 12
    raw[short, 4:16] = win[short]
    long_ = ~short
    raw[long_, 4:8] = win[long_, :4]
    views[long_, 3] = starts[long_]
    arr = pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views), pa.py_buffer(pb)])
    return arr.cast(pa.large_string(), memory_pool=_POOL)


# ------------------------------------------------------------------ per-line fallbacks
def _slow_time(text: str) -> int:
    """Epoch ns of an application time found by the per-line rules, NAT when none."""
    m = _EPOCH_START.match(text)
    if m:
        return _epoch_ns(m.group(1))
    m = _TIME_KEY.search(text[:512])
    if m:
        value = next(g for g in m.groups() if g is not None)
        ns = _epoch_ns(value) if re.fullmatch(r"\d{9,13}(?:\.\d+)?", value) else _iso_ns(value)
        if ns != NAT:
            return ns
    m = _ISO_ANY.search(text[:64])
    if m:
        return _iso_ns(m.group(0))
    return NAT


def _epoch_ns(value: str) -> int:
    try:
        num = float(value)
    except ValueError:
        return NAT
    if "." not in value and len(value) == 13:
        return int(value) * 1_000_000
    if not 1e8 <= num < 1e10:
        return NAT
    whole, _, frac = value.partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


def _iso_ns(value: str) -> int:
    try:
        ts = pd.Timestamp(value.replace(",", "."))
    except (ValueError, OverflowError):
        return NAT
    if ts is pd.NaT:
        return NAT
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    try:
        return int(ts.as_unit("ns").value)
    except (OverflowError, ValueError):
        return NAT


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


# ------------------------------------------------------------------ names
def _split_name(name: str, project: str | None) -> tuple[str, int | None]:
    """(service, replica) from a Compose prefix name (v2 ``svc-1``, v1 ``proj_svc_1``)."""
    if project:
        for sep in ("-", "_"):
            if name.startswith(project + sep) and len(name) > len(project) + 1:
                name = name[len(project) + 1 :]
                break
    m = _V1_NAME.match(name)
    if m and not project:
        return m["service"], int(m["replica"])
    m = _V2_NAME.match(name)
    if m:
        return m["service"], int(m["replica"])
    return name, None


def _prefix_codes(pb: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, list[bytes], np.ndarray]:
    """(code per line into names, -1 without a prefix; the distinct prefix names; text start per line)."""
    n = len(starts)
    if n == 0:
        return np.full(0, -1, dtype=np.int64), [], starts.copy()
    # Compose pads every prefix to one width, so "|" is usually at the same column
    # on every line: those lines are grouped by their first `col` bytes alone.
    col = pb[starts[0] : starts[0] + _PREFIX_W].tobytes().find(b"|")
    if col < 2:
        return _prefix_codes_general(pb, starts, lens)
    at = starts + col
    fast = (pb[at] == 124) & (col < lens) & ((pb[at - 1] == 32) | (pb[at + 1] == 32) | (col + 1 == lens))
    width = (col + 7) // 8 * 8
    rows = np.flatnonzero(fast)
    m = _windows(pb, starts[rows], width) * (_COLS[None, :width] < col)
    words = m.view(np.uint64)
    h = words @ _HASH_MULT[: width // 8]
    h2 = words @ _HASH_MULT2[: width // 8]
    ucodes, first = _factorize_rows(h)
    index: dict[bytes, int] = {}
    ucode = np.full(len(first), -1, dtype=np.int64)
    for u, row in enumerate(first.tolist()):
        name = _PREFIX_NAME.match(m[row, :col].tobytes())
        if name:
            ucode[u] = index.setdefault(name.group(1), len(index))
    codes = np.full(n, -2, dtype=np.int64)  # -2: decided by the general path below
    ok = (ucode[ucodes] >= 0) & (h2 == h2[first[ucodes]])
    codes[rows[ok]] = ucode[ucodes[ok]]
    text = starts.copy()
    p = at[rows[ok]] + 1
    text[rows[ok]] = p + ((pb[p] == 32) & (p < starts[rows[ok]] + lens[rows[ok]]))
    rest = np.flatnonzero(codes == -2)
    if len(rest):
        rcodes, rnames, rtext = _prefix_codes_general(pb, starts[rest], lens[rest])
        remap = np.array([index.setdefault(nm, len(index)) for nm in rnames] + [-1], dtype=np.int64)
        codes[rest] = remap[rcodes]
        text[rest] = rtext
    return codes, list(index), text


def _prefix_codes_general(
    pb: np.ndarray, starts: np.ndarray, lens: np.ndarray
) -> tuple[np.ndarray, list[bytes], np.ndarray]:
    """_prefix_codes for lines whose "|" may be anywhere in the first _PREFIX_W bytes."""
    n = len(starts)
    codes = np.full(n, -1, dtype=np.int64)
    text = starts.copy()
    names: list[bytes] = []
    if n == 0:
        return codes, names, text
    m = _windows(pb, starts, _PREFIX_W)
    is_pipe = m == 124
    pipe = is_pipe.argmax(1)
    has = is_pipe[np.arange(n), pipe] & (pipe < lens) & (pipe >= 2)
    at_pipe = starts + pipe
    has &= (pb[at_pipe - 1] == 32) | (pb[at_pipe + 1] == 32) | (pipe + 1 == lens)
    # Identical prefixes are grouped by a hash of their bytes; each distinct one is
    # checked once in Python, and a second hash catches collisions.
    masked = m * (_COLS[None, :] < pipe[:, None])
    words = masked.view(np.uint64)
    h = words @ _HASH_MULT
    h2 = words @ _HASH_MULT2
    h[~has] = 0
    ucodes, first = _factorize_rows(h)
    index: dict[bytes, int] = {}

    def code_of(row: int) -> int:
        name = _PREFIX_NAME.match(masked[row, : pipe[row]].tobytes()) if has[row] else None
        if not name:
            return -1
        return index.setdefault(name.group(1), len(index))

    ucode = np.array([code_of(row) for row in first.tolist()], dtype=np.int64)
    codes = ucode[ucodes]
    same = h2 == h2[first[ucodes]]
    if not same.all():
        for i in np.flatnonzero(~same).tolist():
            codes[i] = code_of(i)
    names = list(index)
    rows = np.flatnonzero(codes >= 0)
    p = starts[rows] + pipe[rows] + 1
    text[rows] = p + ((pb[p] == 32) & (p < starts[rows] + lens[rows]))
    return codes, names, text


def _outside_window(pb: np.ndarray, starts: np.ndarray, lo: bytes, hi: bytes) -> bool:
    """True when every line is ``name | <Docker time>Z …`` at one column and every
    time (to the second) is before ``lo`` or at/after ``hi`` (no parsing needed)."""
    n = len(starts)
    if n == 0:
        return False
    c = pb[starts[0] : starts[0] + _PREFIX_W].tobytes().find(b"|")
    if c < 1:
        return False
    at = starts + c
    if not ((pb[at] == 124) & (pb[at + 1] == 32)).all():
        return False
    m = _windows(pb, at + 2, 32)
    words = np.ascontiguousarray(m[:, :16]).view(np.uint64)
    shape = _digits_ok(words[:, 0], _W0) & _digits_ok(words[:, 1], _W1) & (m[:, 10] == 84)
    shape &= (m[:, 16] == 58) & (m[:, 17] - np.uint8(48) < 6) & (m[:, 18] - np.uint8(48) < 10)
    if not shape.all():
        return False
    nondigit = (m[:, 20:31] - np.uint8(48)) >= 10
    nondigit[:, -1] = True
    end = np.where(m[:, 19] == 46, 20 + nondigit.argmax(1), 19)
    if not (m[np.arange(n), end] == 90).all():
        return False
    secs = np.ascontiguousarray(m[:, :19]).view("S19").ravel()
    return bool(((secs < lo) | (secs >= hi)).all())


def _frame_chunk(data: bytes, pad: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the bytes as a zero-padded array, line starts, line ends without CR/LF) of a
    chunk whose last ``pad`` bytes are zero padding."""
    if b"\x1b" in data or np.frombuffer(data, dtype=np.uint8).max(initial=0) >= 0x80:
        body = data[: len(data) - pad] if pad else data
        cleaned = _clean(body)
        if cleaned is not body:
            data, pad = cleaned, 0
    if pad < _PAD:
        data, pad = data[: len(data) - pad] + bytes(_PAD), _PAD
    used = len(data) - pad
    pb = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(pb[:used] == 10)
    # Cleaning may leave nothing (a line of colour codes): that is still one empty line.
    ends = newlines if used and data[used - 1] == 10 else np.append(newlines, used)
    starts = np.concatenate(([0], newlines + 1))[: len(ends)]
    ends = ends - ((ends > starts) & (pb[np.maximum(ends - 1, 0)] == 13))
    if len(starts) and (ends - starts).max() > MAX_LINE_BYTES + 64:
        raw = [pb[s:e].tobytes() for s, e in zip(starts.tolist(), ends.tolist())]
        for i in np.flatnonzero(ends - starts > MAX_LINE_BYTES + 64).tolist():
            cut = raw[i][:MAX_LINE_BYTES].decode("utf-8", "replace").encode()
            raw[i] = cut + _marker(len(raw[i]) - MAX_LINE_BYTES)
        return _frame_chunk(b"\n".join(raw) + b"\n")
    return pb, starts, ends


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
    full = (np.zeros(n, dtype=bool), np.full(n, NAT, dtype=np.int64), text.copy(), np.zeros(n, dtype=np.int8))
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
    space = (m == 32).argmax(1)
    body = text + space + 1
    sure = (codes >= 0) & (space >= 20) & (m[np.arange(n), np.maximum(space - 1, 0)] == 90) & (body < ends)
    sure &= pb[body] - np.uint8(48) < 10
    a_ok, _, _, level = _app_times(pb, body, ends, np.ones(n, dtype=bool), shape_only=True)
    unwanted: np.ndarray = sure & a_ok & (level > 0) & ~np.isin(level, wanted)
    return unwanted


def _app_times(
    pb: np.ndarray, text: np.ndarray, ends: np.ndarray, d_ok: np.ndarray, *, shape_only: bool = False
) -> tuple[np.ndarray, ...]:
    """(ok, ns, body, fast level) per line: the application's own time at the start of
    its text (optionally in brackets), where the message starts after it, and the level
    word found right there (_LEVEL_CODE, 0 when none)."""
    bracket = (pb[text] == 91) & (text < ends)
    at = text + bracket
    a_ok, a_ns, a_len = _parse_iso(_windows(pb, at, _TS_W), docker=False, values=~d_ok, shape_only=shape_only)
    a_ok &= at + a_len <= ends
    # The message starts after the application's own time (the timestamp column has it).
    body = at + a_len
    body = body + (a_ok & bracket & (pb[body] == 93))
    for _ in range(3):
        body = body + (a_ok & (pb[body] == 32) & (body < ends))
    body = np.where(a_ok, body, text)
    after = body + (pb[body] == 91)
    return a_ok, a_ns, body, _fast_levels(_windows(pb, after, 10))


# ------------------------------------------------------------------ the parser
@dataclass
class _Part:
    """One chunk's rows, before they become a DataFrame."""

    ts: np.ndarray
    key: np.ndarray  # index into _Parser.keys
    level: np.ndarray  # int8 codes, _LEVEL_CODE
    message: pa.Array
    line: np.ndarray
    lines: np.ndarray
    malformed: np.ndarray
    stream: np.ndarray | None = None
    appends: dict[int, list[str]] = field(default_factory=dict)  # row -> continuation texts


def _apply_appends(part: _Part) -> None:
    """Append the continuation lines collected for ``part``'s rows to their messages."""
    if not part.appends:
        return
    rows = sorted(part.appends)
    base = part.message.take(pa.array(rows)).to_pylist()
    new = [b + "\n" + "\n".join(part.appends[r]) for b, r in zip(base, rows)]
    mask = np.zeros(len(part.message), dtype=bool)
    mask[rows] = True
    part.message = pc.replace_with_mask(part.message, pa.array(mask), pa.array(new, pa.large_string()),
                                        memory_pool=_POOL)
    part.appends = {}


def _last_index(keys: np.ndarray) -> dict[int, int]:
    """{key: index of its last occurrence} for small non-negative integer keys."""
    last = np.full(int(keys.max()) + 1, -1, dtype=np.int64)
    np.maximum.at(last, keys, np.arange(len(keys)))
    return {k: int(last[k]) for k in np.flatnonzero(last >= 0).tolist()}


class _Parser:
    """Stateful across chunks of one source: open events per service for continuations."""

    def __init__(
        self,
        source: str,
        *,
        window: TimeWindow | None,
        service: str | None,
        project: str | None,
        levels: frozenset[str] | None,
    ) -> None:
        self.source = source
        self.window = window
        self.lo = int(window.start.value) if window else None
        self.hi = int(window.end.value) if window else None
        self.default_service = service
        self.project = project
        self.levels = levels
        self.keys: list[tuple[str | None, int | None]] = [(service, None)]
        self._key_index: dict[bytes, int] = {}
        self.parts: list[_Part] = []
        # key -> (part index, row in part, malformed) of its last event; part -1 when it was dropped
        self.open: dict[int, tuple[int, int, bool]] = {}
        self.skipped = False  # a chunk was skipped as wholly outside the window
        self.with_stream = False  # json-file logs have a stream column
        self.last_cont: dict[int, bool] = {}  # key -> its last line was a continuation
        self.last_dated = NAT  # the time of the last dated event so far (file order)
        self.lines_read = 0
        self.malformed = 0
        self.samples: list[str] = []

    # -- names
    def _key_for(self, name: bytes) -> int:
        k = self._key_index.get(name)
        if k is None:
            svc, rep = _split_name(name.decode("utf-8", "replace"), self.project)
            k = len(self.keys)
            self.keys.append((svc, rep))
            self._key_index[name] = k
        return k

    def _weak_continuations(self, keys: np.ndarray, cont: np.ndarray, weak: np.ndarray) -> None:
        """Mark ``weak`` rows (``pkg.SomeTimeout: text``) as continuations when the line
        before them of the same service is one (the last line of a Python traceback)."""
        n = len(keys)
        order = np.lexsort((np.arange(n), keys))
        same = keys[order][1:] == keys[order][:-1]
        prev = np.full(n, -1, dtype=np.int64)
        prev[order[1:][same]] = order[:-1][same]
        for i in weak.tolist():
            j = int(prev[i])
            cont[i] = bool(cont[j]) if j >= 0 else self.last_cont.get(int(keys[i]), False)

    def _remember_continuations(self, keys: np.ndarray, cont: np.ndarray) -> None:
        if not cont.any():
            self.last_cont = {}
            return
        last = _last_index(keys)
        self.last_cont = {k: bool(cont[r]) for k, r in last.items()}

    # -- one chunk of text lines
    def feed_lines(
        self,
        pb: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        *,
        docker_ns: np.ndarray,
        keys: np.ndarray,
        text: np.ndarray,
        app: tuple[np.ndarray, ...] | None = None,
        line_no: np.ndarray | None = None,
        force_malformed: np.ndarray | None = None,
        unwanted: np.ndarray | None = None,
        stream: np.ndarray | None = None,
        weight: np.ndarray | None = None,
    ) -> None:
        """Turn one chunk of lines (pb[starts[i]:ends[i]]) into a part of rows.

        ``weight`` is the number of input lines behind each line (joined Docker
        partial records); 1 by default.
        """
        n = len(starts)
        first_line = self.lines_read
        if weight is None:
            weight = np.ones(n, dtype=np.int64)
        self.lines_read += int(weight.sum())
        if n == 0:
            return
        if line_no is None:
            line_no = np.arange(first_line + 1, first_line + n + 1, dtype=np.int64)
        d_ok = docker_ns != NAT
        # The application's own time at the start of its text (optionally in brackets).
        a_ok, a_ns, body, fast_level = app if app is not None else _app_times(pb, text, ends, d_ok)
        ts = np.where(d_ok, docker_ns, np.where(a_ok, a_ns, NAT))
        first = np.where(text < ends, pb[text], 0)
        # Lines that may continue the event before them (checked against open events below).
        cont = ~a_ok & ((text >= ends) | (first == 32) | (first == 9))
        if unwanted is not None:
            cont &= ~unwanted
        check = np.flatnonzero(~a_ok & ~cont & (text < ends) & ((first >= 65) | (first == 46) | (first == 36)))
        if len(check):
            sub = _slices(pb, text[check], np.minimum(ends[check], text[check] + 300))
            hit = pc.match_substring_regex(sub, _CONTINUATION).to_numpy(zero_copy_only=False)
            cont[check[hit]] = True
            weak = check[~hit & pc.match_substring_regex(sub, _EXCEPTION_LINE).to_numpy(zero_copy_only=False)]
            if len(weak):
                self._weak_continuations(keys, cont, weak)
        if force_malformed is not None:
            cont &= ~force_malformed
        self._remember_continuations(keys, cont)
        # Undated lines that are not continuations: try the per-line time rules.
        undated = np.flatnonzero((ts == NAT) & ~cont & (~unwanted if unwanted is not None else True))
        status = np.zeros(n, dtype=bool)
        if len(undated):
            raw = _slices(pb, text[undated], ends[undated]).to_pylist()
            for i, s in zip(undated.tolist(), raw):
                if force_malformed is not None and force_malformed[i]:
                    continue
                ns = _slow_time(s)
                if ns != NAT:
                    ts[i] = ns
                elif keys[i] == 0:
                    sm = _STATUS_LINE.match(s)
                    if sm:
                        status[i] = True
                        if sm["name"]:
                            keys[i] = self._key_for(sm["name"].encode())
        # Resolve continuations in file order: they need an open event of their key.
        is_event = ~cont
        cont_rows = np.flatnonzero(cont)
        owner = np.full(n, -1, dtype=np.int64)
        if len(cont_rows):
            # Each continuation's owner is the last event of its key before it: sort rows
            # by (key, row) and carry the last event's position forward within each key.
            order = np.lexsort((np.arange(n), keys))
            sorted_keys = keys[order]
            pos = np.arange(n)
            group_start = np.maximum.accumulate(
                np.where(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]], pos, 0)
            )
            last_event = np.maximum.accumulate(np.where(is_event[order], pos, -1))
            found = last_event >= group_start
            owner_sorted = np.where(found, order[np.maximum(last_event, 0)], -1)
            owner[order] = owner_sorted
            owner[is_event] = -1
            for i in cont_rows[owner[cont_rows] < 0].tolist():
                k = int(keys[i])
                if k in self.open:
                    owner[i] = -2  # belongs to an event of an earlier chunk
                elif self.skipped:
                    owner[i] = -3  # most likely to an event in a chunk skipped as outside the window
                else:
                    is_event[i] = True
                    cont[i] = False
            if np.any(is_event[cont_rows]):
                # Promoted lines: try the per-line time rules too.
                for i in cont_rows[is_event[cont_rows]].tolist():
                    s = _slices(pb, text[i : i + 1], ends[i : i + 1]).to_pylist()[0]
                    ns = _slow_time(s)
                    if ns != NAT:
                        ts[i] = ns
        malformed = is_event & (ts == NAT) & ~status
        if unwanted is not None:
            malformed &= ~unwanted
        if force_malformed is not None:
            malformed |= force_malformed & is_event
        # Window: dated events inside it; undated rows by the last dated event before them.
        ev_idx = np.flatnonzero(is_event)
        dated = ts[ev_idx] != NAT
        pos_ts = np.where(dated, ts[ev_idx], NAT)
        if len(pos_ts):
            filled = np.maximum.accumulate(np.where(dated, np.arange(len(ev_idx)), -1))
            pos_ts = np.where(filled >= 0, ts[ev_idx][np.maximum(filled, 0)], self.last_dated)
            if dated.any():
                self.last_dated = int(ts[ev_idx][np.flatnonzero(dated)[-1]])
        keep_ev = np.ones(len(ev_idx), dtype=bool)
        if self.window is not None:
            keep_ev = (pos_ts >= self.lo) & (pos_ts < self.hi)
        n_mal = int(weight[malformed].sum())
        self.malformed += n_mal
        if n_mal and len(self.samples) < MALFORMED_SAMPLES:
            mrows = np.flatnonzero(malformed)[: MALFORMED_SAMPLES - len(self.samples)]
            self.samples.extend(_slices(pb, starts[mrows], ends[mrows]).to_pylist())
        # Levels of the kept events: fast path after the application's time, else the regex.
        kept = ev_idx[keep_ev]
        lvl_names = np.zeros(len(kept), dtype=np.int8)
        good = ~malformed[kept]
        if unwanted is not None:
            good &= ~unwanted[kept]  # their level is known not to be asked for
        if good.any():
            g = kept[good]
            names = fast_level[g]
            slow = np.flatnonzero(names == 0)
            if len(slow):
                sub = _slices(pb, text[g[slow]], np.minimum(ends[g[slow]], text[g[slow]] + 4096))
                names[slow] = _regex_levels(sub)
            lvl_names[good] = names
        if self.levels is not None:
            sel = np.isin(lvl_names, [_LEVEL_CODE[v] for v in self.levels])
            kept, lvl_names = kept[sel], lvl_names[sel]
        # Messages: the application's text after its time; the raw line for malformed rows.
        msg_start = np.where(malformed[kept], starts[kept], body[kept])
        message = _slices(pb, msg_start, ends[kept])
        part_index = len(self.parts)
        row_of = np.full(n, -1, dtype=np.int64)
        row_of[kept] = np.arange(len(kept))
        part = _Part(
            ts=ts[kept],
            key=keys[kept].astype(np.int32),
            level=lvl_names,
            message=message,
            line=line_no[kept],
            lines=weight[kept].astype(np.int32),
            malformed=malformed[kept],
            stream=stream[kept] if stream is not None else None,
        )
        if len(cont_rows):
            texts = _slices(pb, text[cont_rows], ends[cont_rows]).to_pylist()
            for i, s in zip(cont_rows.tolist(), texts):
                if not cont[i]:
                    continue
                o = int(owner[i])
                if o == -3:
                    continue
                if o == -2:
                    pi, r, bad = self.open[int(keys[i])]
                    self.malformed += int(weight[i]) * bad
                    if pi >= 0:
                        target = self.parts[pi]
                        target.appends.setdefault(r, []).append(s)
                        target.lines[r] += weight[i]
                    continue
                self.malformed += int(weight[i]) * bool(malformed[o])
                r = int(row_of[o])
                if r >= 0:
                    part.appends.setdefault(r, []).append(s)
                    part.lines[r] += weight[i]
        # Joined now, while this chunk's messages are the only ones being rebuilt (joining
        # every chunk at the end would hold old and new messages of all of them at once).
        _apply_appends(part)
        # Remember the last event of each key for continuations in the next chunk.
        if len(ev_idx):
            for key_id, last_pos in _last_index(keys[ev_idx]).items():
                row = int(ev_idx[last_pos])
                r = int(row_of[row])
                self.open[key_id] = (part_index if r >= 0 else -1, r, bool(malformed[row]))
        self.parts.append(part)

    def consume(self, prep: _Prepared) -> None:
        """Add one prepared chunk (in file order)."""
        if prep.skip:
            # Every line is dated outside the window: count them, close the open events.
            self.lines_read += prep.n
            self.open = {k: (-1, -1, False) for k in self.open}
            self.skipped = True
            self.last_cont = {}
            self.last_dated = NAT
            return
        assert prep.pb is not None and prep.starts is not None and prep.ends is not None
        assert prep.codes is not None and prep.text is not None and prep.docker_ns is not None
        name_keys = np.array([self._key_for(name) for name in prep.names] + [0], dtype=np.int64)
        keys = name_keys[prep.codes]
        if prep.unwanted is None or not prep.unwanted.any():
            self.feed_lines(prep.pb, prep.starts, prep.ends, docker_ns=prep.docker_ns, keys=keys,
                            text=prep.text, app=prep.app, unwanted=prep.unwanted)
            return
        # Lines of levels not asked for matter only as the event a continuation line of
        # the same service joins: keep those right before another line of their service
        # that is not such a line, and the last of each service (for the next chunk).
        n = prep.n
        # Few services: 16-bit keys let numpy's stable sort use radix sort.
        order = np.argsort(keys.astype(np.int16 if len(self.keys) < 2**15 else np.int32), kind="stable")
        same = keys[order][1:] == keys[order][:-1]
        nxt = np.full(n, -1, dtype=np.int64)
        nxt[order[:-1][same]] = order[1:][same]
        keep = ~prep.unwanted | (nxt < 0) | ~prep.unwanted[np.maximum(nxt, 0)]
        idx = np.flatnonzero(keep)
        line_no = self.lines_read + 1 + idx
        self.feed_lines(
            prep.pb, prep.starts[idx], prep.ends[idx], docker_ns=prep.docker_ns[idx], keys=keys[idx],
            text=prep.text[idx], app=tuple(a[idx] for a in prep.app) if prep.app is not None else None,
            unwanted=prep.unwanted[idx], line_no=line_no,
        )
        self.lines_read += n - len(idx)

    def window_bounds(self) -> tuple[bytes, bytes] | None:
        """Second-resolution bounds a chunk must stay outside of to be skipped unparsed."""
        if self.window is None:
            return None
        # Continuation lines come within milliseconds of their event: a minute of margin
        # keeps a chunk that holds the tail of an event inside the window.
        lo = (self.window.start - pd.Timedelta(minutes=1)).floor("s")
        hi = (self.window.end + pd.Timedelta(minutes=1)).ceil("s")
        return lo.strftime("%Y-%m-%dT%H:%M:%S").encode(), hi.strftime("%Y-%m-%dT%H:%M:%S").encode()

    # -- result
    def frame(self) -> pd.DataFrame:
        parts = self.parts
        for part in parts:
            _apply_appends(part)
        n = sum(len(p.ts) for p in parts)
        empty = {"ts": np.int64, "key": np.int32, "level": np.int8, "line": np.int64, "lines": np.int32,
                 "malformed": bool, "stream": object}

        def column(name: str) -> np.ndarray:
            # Concatenate one column and let go of its pieces at once: peak memory
            # stays near the size of the result, not twice it.
            pieces = [getattr(p, name) for p in parts]
            for p in parts:
                setattr(p, name, None)
            return np.concatenate(pieces) if pieces else np.zeros(0, empty[name])

        message = pa.chunked_array([p.message for p in parts], type=pa.large_string())
        stream = column("stream") if self.with_stream else None
        cols = {name: column(name) for name in ("ts", "key", "level", "line", "lines", "malformed")}
        self.parts = []
        _release_free_memory()
        return _shape(
            ts=cols["ts"],
            key=cols["key"],
            keys=self.keys,
            level=cols["level"],
            message=message,
            source=self.source,
            line=cols["line"],
            lines=cols["lines"],
            malformed=cols["malformed"],
            stream=stream,
            n=n,
            attrs={"malformed": self.malformed, "malformed_samples": list(self.samples), "lines_read": self.lines_read},
        )


def _release_free_memory() -> None:
    """Give the heap's free pages back to the OS before the frame is assembled.

    Parsing frees many chunk-sized buffers that glibc keeps mapped; on a big file
    they would otherwise add about half the file to the peak RSS.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


_STR = pd.StringDtype(storage="pyarrow", na_value=np.nan)
_REPEAT_BLOCK = 1 << 16


def _repeated(value: str, n: int) -> pa.ChunkedArray:
    """``value`` n times as a string column whose chunks all share one block's buffers
    (a file's path on every row would otherwise cost about a third of the file)."""
    block = max(1, min(n, _REPEAT_BLOCK))
    one = pc.take(pa.array([value], pa.large_string()), pa.array(np.zeros(block, np.int64)), memory_pool=_POOL)
    whole, rest = divmod(n, block)
    chunks = [one] * whole + ([one.slice(0, rest)] if rest else [])
    return pa.chunked_array(chunks, type=pa.large_string())


def _shape(
    *,
    ts: np.ndarray,
    key: np.ndarray,
    keys: Sequence[tuple[str | None, int | None]],
    level: np.ndarray,
    message: pa.ChunkedArray,
    source: str,
    line: np.ndarray,
    lines: np.ndarray,
    malformed: np.ndarray,
    stream: np.ndarray | None,
    n: int,
    attrs: dict[str, Any],
) -> pd.DataFrame:
    """The one place LOGS frames get their columns and dtypes (every adapter ends here)."""
    if n == 0:
        extra = {"lines": "int32", "malformed": "bool"}
        if stream is not None:
            extra["stream"] = "str"
        out = tables.empty("logs", extra)
        out.attrs.update(attrs)
        return out
    services = pa.array([k[0] for k in keys], pa.large_string())
    replicas = np.array([k[1] if k[1] is not None else -1 for k in keys], dtype=np.int64)
    rep = replicas[key]
    level_arr = pc.take(pa.array([None, *tables.LEVELS], pa.large_string()), pa.array(level), memory_pool=_POOL)
    service_arr = pc.take(services, pa.array(key), memory_pool=_POOL)
    source_arr = _repeated(source, n)
    frame = pd.DataFrame(
        {
            "timestamp": pd.Series(pd.DatetimeIndex(ts.view("M8[ns]")).tz_localize("UTC"), copy=False),
            "service": pd.Series(pd.array(service_arr, dtype=_STR), copy=False),
            "replica": pd.Series(pd.arrays.IntegerArray(rep, rep < 0), copy=False),
            "level": pd.Series(pd.array(level_arr, dtype=_STR), copy=False),
            "message": pd.Series(pd.array(message, dtype=_STR), copy=False),
            "source": pd.Series(pd.array(source_arr, dtype=_STR), copy=False),
            "line": pd.Series(pd.arrays.IntegerArray(line, np.zeros(n, bool)), copy=False),
            "lines": pd.Series(lines.astype(np.int32, copy=False), copy=False),
            "malformed": pd.Series(malformed, copy=False),
        },
        copy=False,
    )
    if stream is not None:
        frame["stream"] = pd.Series(pd.array(pa.array(stream.tolist(), pa.large_string()), dtype=_STR), copy=False)
    frame.attrs.update(attrs)
    return frame


# ------------------------------------------------------------------ public readers
def _merge(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    nonempty = [f for f in frames if len(f)]
    out = pd.concat(nonempty, ignore_index=True) if nonempty else frames[0].iloc[0:0].copy()
    out.attrs = {
        "malformed": sum(f.attrs.get("malformed", 0) for f in frames),
        "malformed_samples": [s for f in frames for s in f.attrs.get("malformed_samples", [])][:MALFORMED_SAMPLES],
        "lines_read": sum(f.attrs.get("lines_read", 0) for f in frames),
    }
    return out


def _window_or_none(window: TimeWindow | None) -> TimeWindow | None:
    if window is not None and not isinstance(window, TimeWindow):
        raise ConfigError(f"window {window!r}: expected a TimeWindow (TimeWindow.parse(start, end))")
    return window


def _inputs(path_or_text: Any) -> list[tuple[str, Callable[[], IO[bytes]]]]:
    """(source name, opener) for a path, a text, bytes, or a list of paths/texts."""
    if isinstance(path_or_text, (list, tuple)):
        return [item for x in path_or_text for item in _inputs(x)]
    if isinstance(path_or_text, bytes):
        data = path_or_text
        return [("<text>", lambda: io.BytesIO(data))]
    if isinstance(path_or_text, str) and ("\n" in path_or_text or "\r" in path_or_text):
        text = path_or_text.encode("utf-8", "surrogateescape")
        return [("<text>", lambda: io.BytesIO(text))]
    if isinstance(path_or_text, (str, os.PathLike)):
        p = Path(path_or_text)
        return [(str(p), lambda: _open(p))]
    raise ConfigError(f"logs input {path_or_text!r}: expected a path, the log text, or a list of paths")


def _open(p: Path) -> IO[bytes]:
    try:
        return p.open("rb")
    except FileNotFoundError:
        raise SourceUnavailable(f"{p}: log file not found") from None
    except IsADirectoryError:
        raise SourceUnavailable(f"{p}: is a directory, not a log file") from None
    except OSError as exc:
        raise SourceUnavailable(f"{p}: cannot read log file: {exc.strerror or exc}") from exc


def _levels_option(levels: Iterable[str] | None) -> frozenset[str] | None:
    if levels is None:
        return None
    out = frozenset(str(v).upper() for v in levels)
    bad = out - set(tables.LEVELS)
    if bad:
        raise ConfigError(f"levels {sorted(bad)}: expected some of {', '.join(tables.LEVELS)}")
    return out


def _read_stream(
    fh: IO[bytes],
    source: str,
    *,
    window: TimeWindow | None,
    service: str | None,
    project: str | None,
    levels: frozenset[str] | None,
) -> pd.DataFrame:
    parser = _Parser(source, window=window, service=service, project=project, levels=levels)
    bounds = parser.window_bounds()
    wanted = np.array([_LEVEL_CODE[v] for v in levels], dtype=np.int8) if levels is not None and window is None else None
    # Chunks are decoded two at a time (numpy and Arrow release the GIL); the parser
    # takes them in file order. At most a few chunks are in flight, bounding memory.
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="logs") as pool:
        pending: deque[Future[_Prepared]] = deque()
        for parts in _chunk_parts(fh):
            pending.append(pool.submit(_prepare, parts, bounds, wanted))
            if len(pending) > WORKERS:
                parser.consume(pending.popleft().result())
        while pending:
            parser.consume(pending.popleft().result())
    return parser.frame()


def read_compose_logs(
    path_or_text: str | os.PathLike[str] | bytes | Sequence[str | os.PathLike[str]],
    window: TimeWindow | None = None,
    *,
    service: str | None = None,
    project: str | None = None,
    levels: Iterable[str] | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Read saved ``docker compose logs`` output into LOGS.

    ``path_or_text`` is a path, several paths, or the text itself (a string
    holding a newline, or bytes). Returns one row per event in file order with
    columns timestamp, service, replica, level, message, source, line, lines,
    malformed, stream (see the module docstring for the rules). ``window``
    keeps the events inside ``[start, end)`` (undated rows by the last dated
    event before them). ``service`` names lines without a Compose prefix;
    ``project`` is stripped from container names; ``levels`` keeps only those
    levels (e.g. ``["ERROR", "CRITICAL"]``, much faster on big files);
    ``source`` replaces the file name in the ``source`` column.
    ``.attrs`` holds ``malformed``, ``malformed_samples`` and ``lines_read``.
    """
    window = _window_or_none(window)
    wanted = _levels_option(levels)
    frames = []
    for name, opener in _inputs(path_or_text):
        with opener() as fh:
            frames.append(
                _read_stream(fh, source or name, window=window, service=service, project=project, levels=wanted)
            )
    if not frames:
        return _read_stream(io.BytesIO(b""), source or "<text>", window=window, service=service,
                            project=project, levels=wanted)
    return _merge(frames)


def read_container_json_logs(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    window: TimeWindow | None = None,
    *,
    service: str | None = None,
    levels: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read Docker json-file driver logs (``<id>-json.log``) into LOGS.

    Each line is ``{"log": …, "stream": …, "time": …}``; records without a
    final newline (Docker splits long lines) are joined with the records after
    them on the same stream. Returns LOGS plus ``lines``, ``malformed`` and
    ``stream``; ``line`` is the first JSON line of the event. The service is
    ``service=``, else the record's ``attrs`` (``com.docker.compose.service``),
    else the container id (the file's directory name, 12 characters).
    A line that is not such a record is a malformed row.
    """
    window = _window_or_none(window)
    wanted = _levels_option(levels)
    paths = [Path(x) for x in path] if isinstance(path, (list, tuple)) else [Path(path)]  # type: ignore[arg-type]
    frames = []
    for p in paths:
        with _open(p) as fh:
            frames.append(_read_json_stream(fh, str(p), window=window, service=service or _container_name(p),
                                            levels=wanted))
    return _merge(frames)


def _container_name(p: Path) -> str:
    stem = p.name.removesuffix(".log").removesuffix("-json")
    if re.fullmatch(r"[0-9a-f]{64}", stem):
        return stem[:12]
    if re.fullmatch(r"[0-9a-f]{64}", p.parent.name):
        return p.parent.name[:12]
    return stem


def _read_json_stream(
    fh: IO[bytes], source: str, *, window: TimeWindow | None, service: str, levels: frozenset[str] | None
) -> pd.DataFrame:
    parser = _Parser(source, window=window, service=service, project=None, levels=levels)
    parser.with_stream = True
    # stream -> (first line no, its time, key, pieces) of a record still waiting for its newline
    pending: dict[str, tuple[int, str | None, int, list[str]]] = {}
    # (first line no, Docker time, key, text, not a record, stream, input lines)
    entries: list[tuple[int, str | None, int, str, bool, str | None, int]] = []
    line_no = 0

    def flush() -> None:
        if not entries:
            return
        enc = [e[3].encode("utf-8", "replace") for e in entries]
        lens = np.fromiter((len(b) for b in enc), dtype=np.int64, count=len(enc))
        starts = np.zeros(len(enc), dtype=np.int64)
        if len(enc) > 1:
            np.cumsum(lens[:-1] + 1, out=starts[1:])
        body = b"\n".join(enc)
        pb = np.zeros(len(body) + _PAD, dtype=np.uint8)
        pb[: len(body)] = np.frombuffer(body, dtype=np.uint8)
        parser.feed_lines(
            pb, starts, starts + lens,
            docker_ns=np.array([_iso_ns(e[1]) if e[1] else NAT for e in entries], dtype=np.int64),
            keys=np.array([e[2] for e in entries], dtype=np.int64),
            text=starts.copy(),
            line_no=np.array([e[0] for e in entries], dtype=np.int64),
            force_malformed=np.array([e[4] for e in entries], dtype=bool),
            stream=np.array([e[5] for e in entries], dtype=object),
            weight=np.array([e[6] for e in entries], dtype=np.int64),
        )
        entries.clear()

    for chunk in _chunks(fh):
        lines = _clean(chunk).decode("utf-8").split("\n")
        if chunk.endswith(b"\n"):
            lines.pop()
        for raw in lines:
            line_no += 1
            raw = raw.removesuffix("\r")
            rec = _json_record(raw)
            if rec is None:
                entries.append((line_no, None, 0, raw, True, None, 1))
                continue
            log, stream, when, svc = rec
            key = parser._key_for(svc.encode()) if svc else 0
            prev = pending.pop(stream, None)
            if prev is not None:
                first_line, first_time, key, parts = prev
                parts.append(log)
            else:
                first_line, first_time, parts = line_no, when, [log]
            if log.endswith("\n"):
                text = "".join(parts)[:-1].removesuffix("\r")
                entries.append((first_line, first_time, key, text, False, stream, len(parts)))
            else:
                pending[stream] = (first_line, first_time, key, parts)
        flush()
    for stream, (first_line, first_time, key, parts) in sorted(pending.items()):
        entries.append((first_line, first_time, key, "".join(parts), False, stream, len(parts)))
    flush()
    return parser.frame()


def _json_record(raw: str) -> tuple[str, str, str | None, str | None] | None:
    """(log, stream, time, service) of one json-file line, None when it is not one."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("log"), str):
        return None
    stream = str(obj["stream"]) if isinstance(obj.get("stream"), str) else "stdout"
    when = str(obj["time"]) if isinstance(obj.get("time"), str) else None
    attrs: dict[str, Any] = obj["attrs"] if isinstance(obj.get("attrs"), dict) else {}
    svc = attrs.get("com.docker.compose.service") or attrs.get("tag")
    log = str(obj["log"])
    if "\x1b" in log:
        log = _ANSI.sub(b"", log.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")
    return log, stream, when, svc if isinstance(svc, str) else None


# ------------------------------------------------------------------ live path
def _compose_command(project_dir: Path, window: TimeWindow, services: Sequence[str]) -> list[list[str]]:
    since = window.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (window.end + pd.Timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    opts = ["logs", "--timestamps", "--no-color", "--since", since, "--until", until, *services]
    cmds = []
    if shutil.which("docker"):
        cmds.append(["docker", "compose", "--project-directory", str(project_dir), *opts])
    if shutil.which("docker-compose"):
        # Compose v1 has no --since/--until; the window is applied after parsing.
        cmds.append(["docker-compose", "--project-directory", str(project_dir), "logs", "--timestamps",
                     "--no-color", *services])
    return cmds


def compose_logs(
    project_dir: str | os.PathLike[str],
    window: TimeWindow,
    services: Sequence[str] | None = None,
    *,
    timeout_s: float = 120.0,
) -> pd.DataFrame:
    """Run ``docker compose logs --timestamps --no-color --since … --until …`` in
    ``project_dir`` (falling back to ``docker-compose``) and parse its output as
    it streams. Returns LOGS for ``window`` (columns as read_compose_logs).

    Raises SourceUnavailable when docker is not installed or the daemon refuses,
    QueryError when compose rejects the command (e.g. an unknown service).
    """
    checked = _window_or_none(window)
    if checked is None:
        raise ConfigError("compose_logs: a window is required (TimeWindow.last('1h'))")
    window = checked
    pdir = Path(project_dir)
    if not pdir.is_dir():
        raise ConfigError(f"compose project {pdir}: not a directory")
    cmds = _compose_command(pdir, window, list(services or []))
    if not cmds:
        raise SourceUnavailable("docker compose logs: neither `docker` nor `docker-compose` is on PATH")
    last: SourceError | None = None
    for cmd in cmds:
        try:
            return _run_compose(cmd, pdir, window, timeout_s)
        except _NoComposePlugin as exc:
            last = SourceUnavailable(str(exc))
    assert last is not None
    raise last


class _NoComposePlugin(Exception):
    """``docker`` exists but has no ``compose`` subcommand."""


def _run_compose(cmd: list[str], pdir: Path, window: TimeWindow, timeout_s: float) -> pd.DataFrame:
    at = cmd.index("--project-directory")
    shown = " ".join(cmd[:at] + cmd[at + 2 :])
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, cwd=pdir, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise SourceUnavailable(f"{shown}: cannot run {cmd[0]}: {exc.strerror or exc}") from exc
        assert proc.stdout is not None
        # A daemon that accepts the connection but never answers must not hang collect().
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            frame = _read_stream(proc.stdout, f"docker compose logs ({pdir.name})", window=window,
                                 service=None, project=None, levels=None)
            rc = proc.wait()
        finally:
            timer.cancel()
            proc.stdout.close()
        if expired.is_set():
            raise SourceUnavailable(f"{shown}: no answer within {timeout_s:.0f}s")
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace").strip()
    if rc != 0:
        first = stderr.splitlines()[0] if stderr else f"exit code {rc}"
        if "is not a docker command" in stderr or "unknown command" in stderr.lower() and "compose" in stderr:
            raise _NoComposePlugin(f"{shown}: {first}")
        if "Cannot connect to the Docker daemon" in stderr or "permission denied" in stderr.lower() \
                or "Is the docker daemon running" in stderr:
            raise SourceUnavailable(f"{shown}: the Docker daemon refused: {first}")
        raise QueryError(f"{shown}: {first}", query=shown)
    return frame


# ------------------------------------------------------------------ collect()
def _globs(config: Config, patterns: Sequence[str]) -> tuple[list[Path], list[str]]:
    found: list[Path] = []
    unmatched: list[str] = []
    for pat in patterns:
        full = str(config.resolve(pat))
        hits = sorted(Path(h) for h in glob.glob(full) if Path(h).is_file())
        if hits:
            found.extend(h for h in hits if h not in found)
        else:
            unmatched.append(pat)
    return found, unmatched


def _configured(config: Config) -> bool:
    cfg = config.logs
    if cfg.compose_project:
        return True
    files, _ = _globs(config, cfg.files)
    jfiles, _ = _globs(config, cfg.json_files)
    return bool(files or jfiles)


def _describe(config: Config) -> str:
    cfg = config.logs
    parts = []
    if cfg.files:
        parts.append("docker compose logs files " + ", ".join(cfg.files))
    if cfg.json_files:
        parts.append("json-file logs " + ", ".join(cfg.json_files))
    if cfg.compose_project:
        parts.append(f"docker compose logs --timestamps --no-color in {cfg.compose_project}")
    return "; ".join(parts)


def _run(ctx: CollectContext) -> list[Evidence]:
    cfg = ctx.config.logs
    t0 = time.monotonic()
    frames: list[pd.DataFrame] = []
    errors: list[str] = []
    details: dict[str, Any] = {}
    files, unmatched = _globs(ctx.config, cfg.files)
    jfiles, junmatched = _globs(ctx.config, cfg.json_files)
    if unmatched or junmatched:
        details["unmatched_patterns"] = unmatched + junmatched
    per_file: dict[str, int] = {}
    for p in files:
        try:
            f = read_compose_logs(p, ctx.window)
        except SourceError as exc:
            errors.append(str(exc))
            continue
        frames.append(f)
        per_file[str(p)] = len(f)
    for p in jfiles:
        try:
            f = read_container_json_logs(p, ctx.window)
        except SourceError as exc:
            errors.append(str(exc))
            continue
        frames.append(f)
        per_file[str(p)] = len(f)
    if cfg.compose_project:
        try:
            f = compose_logs(cfg.compose_project, ctx.window, cfg.services or None,
                             timeout_s=max(1.0, ctx.remaining()))
            frames.append(f)
            per_file["docker compose logs"] = len(f)
        except SourceError as exc:
            errors.append(str(exc))
    if per_file:
        details["rows_per_input"] = per_file
    frame = _merge(frames) if frames else tables.empty("logs")
    if cfg.services and len(frame):
        frame = frame[frame["service"].isin(cfg.services)].reset_index(drop=True)
    details["malformed"] = int(sum(f.attrs.get("malformed", 0) for f in frames))
    details["malformed_samples"] = [s for f in frames for s in f.attrs.get("malformed_samples", [])][
        :MALFORMED_SAMPLES
    ]
    status = "unavailable" if errors and not frames else None
    return [
        Evidence(
            "logs",
            frame,
            source="logs",
            query=_describe(ctx.config),
            status=status,
            error="; ".join(errors) or None,
            duration_s=time.monotonic() - t0,
            details=details,
        )
    ]


COLLECTOR = Collector(name="logs", run=_run, tables=("logs",), configured=_configured, describe=_describe)
