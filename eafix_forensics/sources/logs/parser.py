"""The parser: prepared chunks, in file order, into LOGS rows; multi-line events joined
per service across chunks; windows and level filters; the final DataFrame."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...model import tables
from ...window import TimeWindow
from .framing import _DOLLAR, _DOT, _POOL, _SPACE, _TAB, _UPPER_A, NAT, _slices, _split_name
from .lines import (
    _CONTINUATION,
    _EXCEPTION_LINE,
    _LEVEL_CODE,
    _STATUS_LINE,
    _app_times,
    _Prepared,
    _regex_levels,
)
from .times import _slow_time

MALFORMED_SAMPLES = 5


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


# owner of a continuation line, besides a row of the chunk
_OWNER_NONE, _OWNER_EARLIER_CHUNK, _OWNER_SKIPPED_CHUNK = -1, -2, -3
_NO_ROW = -1  # a line that is no row of the part (a continuation, or outside the window)
_DROPPED = -1  # part index of an open event whose row was not kept
_PATTERN_SPAN = 300  # bytes of a line the continuation patterns look at
_LEVEL_SPAN = 4096  # bytes of a line searched for a level word


@dataclass
class _Chunk:
    """The lines of one chunk being fed: bytes, bounds, keys and per-line options."""

    pb: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    keys: np.ndarray
    text: np.ndarray
    weight: np.ndarray
    unwanted: np.ndarray | None
    force_malformed: np.ndarray | None


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
        c = _Chunk(pb, starts, ends, keys, text, weight, unwanted, force_malformed)
        d_ok = docker_ns != NAT
        # The application's own time at the start of its text (optionally in brackets).
        a_ok, a_ns, body, fast_level = app if app is not None else _app_times(pb, text, ends, d_ok)
        ts = np.where(d_ok, docker_ns, np.where(a_ok, a_ns, NAT))
        cont = self._continuations(c, a_ok)
        status = self._per_line_times(c, ts, cont)
        owner, is_event = self._owners(c, ts, cont)
        malformed = is_event & (ts == NAT) & ~status
        if unwanted is not None:
            malformed &= ~unwanted
        if force_malformed is not None:
            malformed |= force_malformed & is_event
        ev_idx = np.flatnonzero(is_event)
        keep_ev = self._in_window(ts[ev_idx])
        self._count_malformed(c, malformed)
        kept = ev_idx[keep_ev]
        lvl_names = self._levels(c, kept, malformed, fast_level)
        if self.levels is not None:
            sel = np.isin(lvl_names, [_LEVEL_CODE[v] for v in self.levels])
            kept, lvl_names = kept[sel], lvl_names[sel]
        # Messages: the application's text after its time; the raw line for malformed rows.
        msg_start = np.where(malformed[kept], starts[kept], body[kept])
        row_of = np.full(n, _NO_ROW, dtype=np.int64)
        row_of[kept] = np.arange(len(kept))
        part = _Part(
            ts=ts[kept],
            key=keys[kept].astype(np.int32),
            level=lvl_names,
            message=_slices(pb, msg_start, ends[kept]),
            line=line_no[kept],
            lines=weight[kept].astype(np.int32),
            malformed=malformed[kept],
            stream=stream[kept] if stream is not None else None,
        )
        self._attach_continuations(c, part, cont, owner, malformed, row_of)
        # Joined now, while this chunk's messages are the only ones being rebuilt (joining
        # every chunk at the end would hold old and new messages of all of them at once).
        _apply_appends(part)
        self._remember_open(keys, ev_idx, row_of, malformed)
        self.parts.append(part)

    def _continuations(self, c: _Chunk, a_ok: np.ndarray) -> np.ndarray:
        """Lines that may continue the event before them (checked against open events later)."""
        pb, text, ends = c.pb, c.text, c.ends
        first = np.where(text < ends, pb[text], 0)
        cont: np.ndarray = ~a_ok & ((text >= ends) | (first == _SPACE) | (first == _TAB))
        if c.unwanted is not None:
            cont &= ~c.unwanted
        # Lines starting like a name ("Traceback", "java.lang.X", "$Proxy"): test the patterns.
        named = (first >= _UPPER_A) | (first == _DOT) | (first == _DOLLAR)
        check = np.flatnonzero(~a_ok & ~cont & (text < ends) & named)
        if len(check):
            sub = _slices(pb, text[check], np.minimum(ends[check], text[check] + _PATTERN_SPAN))
            hit = pc.match_substring_regex(sub, _CONTINUATION).to_numpy(zero_copy_only=False)
            cont[check[hit]] = True
            weak = check[~hit & pc.match_substring_regex(sub, _EXCEPTION_LINE).to_numpy(zero_copy_only=False)]
            if len(weak):
                self._weak_continuations(c.keys, cont, weak)
        if c.force_malformed is not None:
            cont &= ~c.force_malformed
        self._remember_continuations(c.keys, cont)
        return cont

    def _per_line_times(self, c: _Chunk, ts: np.ndarray, cont: np.ndarray) -> np.ndarray:
        """Undated lines that are not continuations: the per-line time rules fill ``ts``;
        returns which lines are Compose status lines (their key set from the name)."""
        n = len(ts)
        undated = np.flatnonzero((ts == NAT) & ~cont & (~c.unwanted if c.unwanted is not None else True))
        status = np.zeros(n, dtype=bool)
        if not len(undated):
            return status
        raw = _slices(c.pb, c.text[undated], c.ends[undated]).to_pylist()
        for i, s in zip(undated.tolist(), raw):
            if c.force_malformed is not None and c.force_malformed[i]:
                continue
            ns = _slow_time(s)
            if ns != NAT:
                ts[i] = ns
            elif c.keys[i] == 0:
                sm = _STATUS_LINE.match(s)
                if sm:
                    status[i] = True
                    if sm["name"]:
                        c.keys[i] = self._key_for(sm["name"].encode())
        return status

    def _owners(self, c: _Chunk, ts: np.ndarray, cont: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(owner row per continuation line, which lines are events), in file order.

        A continuation's owner is the last event of its key before it in this chunk;
        else _OWNER_EARLIER_CHUNK (an open event of an earlier chunk), else
        _OWNER_SKIPPED_CHUNK (most likely an event in a chunk skipped as outside the
        window); else it is promoted to an event of its own (and ``cont`` cleared).
        """
        n = len(ts)
        keys = c.keys
        is_event = ~cont
        cont_rows = np.flatnonzero(cont)
        owner = np.full(n, _OWNER_NONE, dtype=np.int64)
        if not len(cont_rows):
            return owner, is_event
        # Sort rows by (key, row) and carry the last event's position forward within each key.
        order = np.lexsort((np.arange(n), keys))
        sorted_keys = keys[order]
        pos = np.arange(n)
        group_start = np.maximum.accumulate(np.where(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]], pos, 0))
        last_event = np.maximum.accumulate(np.where(is_event[order], pos, -1))
        found = last_event >= group_start
        owner[order] = np.where(found, order[np.maximum(last_event, 0)], _OWNER_NONE)
        owner[is_event] = _OWNER_NONE
        for i in cont_rows[owner[cont_rows] < 0].tolist():
            if int(keys[i]) in self.open:
                owner[i] = _OWNER_EARLIER_CHUNK
            elif self.skipped:
                owner[i] = _OWNER_SKIPPED_CHUNK
            else:
                is_event[i] = True
                cont[i] = False
                # A promoted line: try the per-line time rules too.
                ns = _slow_time(_slices(c.pb, c.text[i : i + 1], c.ends[i : i + 1]).to_pylist()[0])
                if ns != NAT:
                    ts[i] = ns
        return owner, is_event

    def _in_window(self, ev_ts: np.ndarray) -> np.ndarray:
        """Which events to keep: dated ones inside the window; undated ones by the last
        dated event before them (carried across chunks in ``last_dated``)."""
        dated = ev_ts != NAT
        pos_ts = np.where(dated, ev_ts, NAT)
        if len(pos_ts):
            filled = np.maximum.accumulate(np.where(dated, np.arange(len(ev_ts)), -1))
            pos_ts = np.where(filled >= 0, ev_ts[np.maximum(filled, 0)], self.last_dated)
            if dated.any():
                self.last_dated = int(ev_ts[np.flatnonzero(dated)[-1]])
        if self.window is None:
            return np.ones(len(ev_ts), dtype=bool)
        keep: np.ndarray = (pos_ts >= self.lo) & (pos_ts < self.hi)
        return keep

    def _count_malformed(self, c: _Chunk, malformed: np.ndarray) -> None:
        n_mal = int(c.weight[malformed].sum())
        self.malformed += n_mal
        if n_mal and len(self.samples) < MALFORMED_SAMPLES:
            mrows = np.flatnonzero(malformed)[: MALFORMED_SAMPLES - len(self.samples)]
            self.samples.extend(_slices(c.pb, c.starts[mrows], c.ends[mrows]).to_pylist())

    def _levels(self, c: _Chunk, kept: np.ndarray, malformed: np.ndarray, fast_level: np.ndarray) -> np.ndarray:
        """Level codes of the kept events: the fast path after the application's time, else the regex."""
        lvl_names = np.zeros(len(kept), dtype=np.int8)
        good = ~malformed[kept]
        if c.unwanted is not None:
            good &= ~c.unwanted[kept]  # their level is known not to be asked for
        if good.any():
            g = kept[good]
            names = fast_level[g]
            slow = np.flatnonzero(names == 0)
            if len(slow):
                rows = g[slow]
                sub = _slices(c.pb, c.text[rows], np.minimum(c.ends[rows], c.text[rows] + _LEVEL_SPAN))
                names[slow] = _regex_levels(sub)
            lvl_names[good] = names
        return lvl_names

    def _attach_continuations(
        self, c: _Chunk, part: _Part, cont: np.ndarray, owner: np.ndarray, malformed: np.ndarray, row_of: np.ndarray
    ) -> None:
        """Queue each continuation line's text on its owner's row (this part or an earlier one)."""
        cont_rows = np.flatnonzero(cont)
        if not len(cont_rows):
            return
        texts = _slices(c.pb, c.text[cont_rows], c.ends[cont_rows]).to_pylist()
        for i, s in zip(cont_rows.tolist(), texts):
            o = int(owner[i])
            if o == _OWNER_SKIPPED_CHUNK:
                continue
            if o == _OWNER_EARLIER_CHUNK:
                pi, r, bad = self.open[int(c.keys[i])]
                self.malformed += int(c.weight[i]) * bad
                if pi >= 0:
                    target = self.parts[pi]
                    target.appends.setdefault(r, []).append(s)
                    target.lines[r] += c.weight[i]
                continue
            self.malformed += int(c.weight[i]) * bool(malformed[o])
            r = int(row_of[o])
            if r >= 0:
                part.appends.setdefault(r, []).append(s)
                part.lines[r] += c.weight[i]

    def _remember_open(self, keys: np.ndarray, ev_idx: np.ndarray, row_of: np.ndarray, malformed: np.ndarray) -> None:
        """Remember the last event of each key for continuations in the next chunk."""
        if not len(ev_idx):
            return
        part_index = len(self.parts)
        for key_id, last_pos in _last_index(keys[ev_idx]).items():
            row = int(ev_idx[last_pos])
            r = int(row_of[row])
            self.open[key_id] = (part_index if r >= 0 else _DROPPED, r, bool(malformed[row]))

    def consume(self, prep: _Prepared) -> None:
        """Add one prepared chunk (in file order)."""
        if prep.skip:
            # Every line is dated outside the window: count them, close the open events.
            self.lines_read += prep.n
            self.open = {k: (_DROPPED, _NO_ROW, False) for k in self.open}
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
