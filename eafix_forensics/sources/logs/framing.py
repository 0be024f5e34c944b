"""Framing: bytes into chunks and lines, ANSI and UTF-8 cleaning, long-line cuts, and the
Compose ``service-1  | `` prefixes (service and replica), decoded with numpy over a whole chunk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa

MAX_LINE_BYTES = 1 << 20
CHUNK_BYTES = 8 << 20
_PAD = 96  # bytes of zero padding so fixed-width windows never run off a chunk
_PREFIX_W = 64  # a Compose prefix longer than this is not a prefix
_TS_W = 40
NAT = np.iinfo(np.int64).min
# The big per-chunk Arrow buffers go to the system allocator: the default pool keeps
# freed chunks mapped, which raised peak RSS by about half the file size.
_POOL = pa.system_memory_pool()

_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_V1_NAME = re.compile(r"^(?P<project>[a-z0-9]+)_(?P<service>.+)_(?P<replica>\d+)$")
_V2_NAME = re.compile(r"^(?P<service>.+?)[-_](?P<replica>\d+)$")

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
_TAB, _LF, _CR, _SPACE, _DOLLAR, _PLUS, _COMMA, _MINUS, _DOT = 9, 10, 13, 32, 36, 43, 44, 45, 46
_ZERO, _COLON, _UPPER_A, _T, _Z, _LBRACKET, _RBRACKET, _PIPE = 48, 58, 65, 84, 90, 91, 93, 124
# prefix codes: a line without a Compose prefix; one left to the per-line path
_NO_PREFIX, _UNDECIDED = -1, -2


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
    cr_only: bool | None = None  # old Mac line ends: no LF in the first block, but CRs
    while True:
        block = fh.read(chunk_bytes)
        if cr_only is None and block:
            cr_only = b"\n" not in block and b"\r" in block
        if cr_only:
            # Else the whole file is one line, cut at MAX_LINE_BYTES: every event after lost.
            block = block.replace(b"\r", b"\n")
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


def _factorize_rows(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, first row of each code) for hashable keys ``h``."""
    codes, uniq = pd.factorize(h)
    first = np.empty(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(h) - 1, -1, -1)
    return codes, first


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
        return np.full(0, _NO_PREFIX, dtype=np.int64), [], starts.copy()
    # Compose pads every prefix to one width, so "|" is usually at the same column
    # on every line: those lines are grouped by their first `col` bytes alone.
    col = pb[starts[0] : starts[0] + _PREFIX_W].tobytes().find(b"|")
    if col < 2:
        return _prefix_codes_general(pb, starts, lens)
    at = starts + col
    fast = (pb[at] == _PIPE) & (col < lens) & ((pb[at - 1] == _SPACE) | (pb[at + 1] == _SPACE) | (col + 1 == lens))
    width = (col + 7) // 8 * 8
    rows = np.flatnonzero(fast)
    m = _windows(pb, starts[rows], width) * (_COLS[None, :width] < col)
    words = m.view(np.uint64)
    h = words @ _HASH_MULT[: width // 8]
    h2 = words @ _HASH_MULT2[: width // 8]
    ucodes, first = _factorize_rows(h)
    index: dict[bytes, int] = {}
    ucode = np.full(len(first), _NO_PREFIX, dtype=np.int64)
    for u, row in enumerate(first.tolist()):
        name = _PREFIX_NAME.match(m[row, :col].tobytes())
        if name:
            ucode[u] = index.setdefault(name.group(1), len(index))
    codes = np.full(n, _UNDECIDED, dtype=np.int64)  # decided by the general path below
    ok = (ucode[ucodes] >= 0) & (h2 == h2[first[ucodes]])
    codes[rows[ok]] = ucode[ucodes[ok]]
    text = starts.copy()
    p = at[rows[ok]] + 1
    text[rows[ok]] = p + ((pb[p] == _SPACE) & (p < starts[rows[ok]] + lens[rows[ok]]))
    rest = np.flatnonzero(codes == _UNDECIDED)
    if len(rest):
        rcodes, rnames, rtext = _prefix_codes_general(pb, starts[rest], lens[rest])
        remap = np.array([index.setdefault(nm, len(index)) for nm in rnames] + [_NO_PREFIX], dtype=np.int64)
        codes[rest] = remap[rcodes]
        text[rest] = rtext
    return codes, list(index), text


def _prefix_codes_general(
    pb: np.ndarray, starts: np.ndarray, lens: np.ndarray
) -> tuple[np.ndarray, list[bytes], np.ndarray]:
    """_prefix_codes for lines whose "|" may be anywhere in the first _PREFIX_W bytes."""
    n = len(starts)
    codes = np.full(n, _NO_PREFIX, dtype=np.int64)
    text = starts.copy()
    names: list[bytes] = []
    if n == 0:
        return codes, names, text
    m = _windows(pb, starts, _PREFIX_W)
    is_pipe = m == _PIPE
    pipe = is_pipe.argmax(1)
    has = is_pipe[np.arange(n), pipe] & (pipe < lens) & (pipe >= 2)
    at_pipe = starts + pipe
    has &= (pb[at_pipe - 1] == _SPACE) | (pb[at_pipe + 1] == _SPACE) | (pipe + 1 == lens)
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
            return _NO_PREFIX
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
    text[rows] = p + ((pb[p] == _SPACE) & (p < starts[rows] + lens[rows]))
    return codes, names, text


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
    newlines = np.flatnonzero(pb[:used] == _LF)
    # Cleaning may leave nothing (a line of colour codes): that is still one empty line.
    ends = newlines if used and data[used - 1] == _LF else np.append(newlines, used)
    starts = np.concatenate(([0], newlines + 1))[: len(ends)]
    ends = ends - ((ends > starts) & (pb[np.maximum(ends - 1, 0)] == _CR))
    if len(starts) and (ends - starts).max() > MAX_LINE_BYTES + 64:
        raw = [pb[s:e].tobytes() for s, e in zip(starts.tolist(), ends.tolist())]
        for i in np.flatnonzero(ends - starts > MAX_LINE_BYTES + 64).tolist():
            cut = raw[i][:MAX_LINE_BYTES].decode("utf-8", "replace").encode()
            raw[i] = cut + _marker(len(raw[i]) - MAX_LINE_BYTES)
        return _frame_chunk(b"\n".join(raw) + b"\n")
    return pb, starts, ends
