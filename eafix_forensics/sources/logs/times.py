"""Time decoding: Docker's and the application's ISO 8601 times (with an offset, ``Z``,
PostgreSQL's ``+07``, or none = UTC) vectorised over a chunk; epoch and ``time=`` keys per line."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .framing import (
    _COLON,
    _COLS,
    _COMMA,
    _DOT,
    _MINUS,
    _PIPE,
    _PLUS,
    _PREFIX_W,
    _SPACE,
    _T,
    _TS_W,
    _WORD_CHARS,
    _Z,
    _ZERO,
    NAT,
    _factorize_rows,
    _windows,
)

_TIME_KEY = re.compile(
    r"""["']?(?:@timestamp|timestamp|time|ts|t)["']?\s*[=:]\s*(?:"([^"]{6,40})"|'([^']{6,40})'|(\d{9,13}(?:\.\d+)?)\b|([0-9][^\s,}]{9,39}))"""
)
_EPOCH_START = re.compile(r"^\[?(\d{10}(?:\.\d{1,9})?|\d{13})(?![\d.])")
_ISO_ANY = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


_ISO_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_POW9 = 10 ** np.arange(8, -1, -1, dtype=np.int64)


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
    ok &= (m[:, 10] == _T) if docker else ((m[:, 10] == _T) | (m[:, 10] == _SPACE))
    ok &= (m[:, 16] == _COLON) & (m[:, 17] - np.uint8(_ZERO) < 6) & (m[:, 18] - np.uint8(_ZERO) < 10)
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
    frac_d = m[:, 20:36] - np.uint8(_ZERO)
    nondigit = frac_d >= 10
    nondigit[:, -1] = True
    digits = nondigit.argmax(1)
    has_frac = ((fsep == _DOT) | ((fsep == _COMMA) & (not docker))) & (digits > 0)
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
    minute_s, minute_ok = _minutes(m, words)
    sec = (m[:, 17] - np.uint8(_ZERO)).astype(np.int64) * 10 + (m[:, 18] - np.uint8(_ZERO))
    good &= minute_ok & (sec < 60)
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
    ns[rows[w]] = (minute_s[w] + sec[w] - offset_s[w]) * 1_000_000_000 + frac
    return ok, ns, length


def _minutes(m: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds of the minute, whether that date and minute exist) per row.

    Date, hour and minute repeat from line to line: each distinct one is decoded once.
    """
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
    return minute_s[codes], minute_ok[codes] & same


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
    if not ((pb[at] == _PIPE) & (pb[at + 1] == _SPACE)).all():
        return False
    m = _windows(pb, at + 2, 32)
    words = np.ascontiguousarray(m[:, :16]).view(np.uint64)
    shape = _digits_ok(words[:, 0], _W0) & _digits_ok(words[:, 1], _W1) & (m[:, 10] == _T)
    shape &= (m[:, 16] == _COLON) & (m[:, 17] - np.uint8(_ZERO) < 6) & (m[:, 18] - np.uint8(_ZERO) < 10)
    if not shape.all():
        return False
    nondigit = (m[:, 20:31] - np.uint8(_ZERO)) >= 10
    nondigit[:, -1] = True
    end = np.where(m[:, 19] == _DOT, 20 + nondigit.argmax(1), 19)
    if not (m[np.arange(n), end] == _Z).all():
        return False
    secs = np.ascontiguousarray(m[:, :19]).view("S19").ravel()
    return bool(((secs < lo) | (secs >= hi)).all())
