"""The public readers: saved ``docker compose logs`` output and Docker json-file logs."""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ...errors import ConfigError, SourceUnavailable
from ...model import tables
from ...progress import bar as progress_bar
from ...window import TimeWindow
from ..base import loads_json
from .framing import _ANSI, _PAD, NAT, _chunk_parts, _chunks, _clean
from .lines import _LEVEL_CODE, _prepare, _Prepared
from .parser import MALFORMED_SAMPLES, _Parser
from .times import _iso_ns

WORKERS = 2


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


_GZIP_MAGIC = b"\x1f\x8b"


class _Gunzip(io.RawIOBase):
    """A gzip-rotated log (logrotate's ``.gz``, Docker's ``compress: true``) read as its text.

    A stream cut short (a rotation still being written) or corrupt ends with a line
    ``…[gzip stream cut: why]``: what came before is kept, and that line is a malformed row.
    A file that only starts like gzip (nothing decompresses) is read as it is.
    ``tell()`` and ``fileno()`` are the compressed file's, for the progress bar."""

    _PIECE = 1 << 16

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._gz: gzip.GzipFile | None = gzip.GzipFile(fileobj=raw, mode="rb")
        self._done = False
        self._produced = 0  # text bytes handed out so far
        self._last = b"\n"  # the last of them

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._gz is None:
            return self._raw.read(-1 if size is None else size)
        if self._done:
            return b""
        want = size if size is not None and size >= 0 else 1 << 62
        parts: list[bytes] = []
        got = 0
        try:
            while got < want:
                piece = self._gz.read(min(self._PIECE, want - got))
                if not piece:
                    self._done = True
                    break
                parts.append(piece)
                got += len(piece)
                self._last = piece[-1:]
        except (EOFError, OSError, zlib.error) as exc:
            self._done = True
            if self._produced == 0 and not parts:
                self._gz = None  # not gzip after all: the bytes as they are
                self._raw.seek(0)
                return self._raw.read(-1 if size is None else size)
            parts.append((b"" if self._last == b"\n" else b"\n") + f"…[gzip stream cut: {exc}]\n".encode())
        self._produced += got
        return b"".join(parts)

    def fileno(self) -> int:
        return self._raw.fileno()

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _open(p: Path) -> IO[bytes]:
    fh = _open_raw(p)
    try:
        magic = fh.read(2)
        fh.seek(0)
    except OSError:
        return fh
    return _Gunzip(fh) if magic == _GZIP_MAGIC else fh  # type: ignore[return-value]


def _open_raw(p: Path) -> IO[bytes]:
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


def _size(fh: IO[bytes]) -> int | None:
    try:
        return os.fstat(fh.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        return None


def _parse_bar(enabled: bool, fh: IO[bytes], source: str) -> Any:
    """A bar over a file's bytes, shown only once its parse has taken a second (a long log)."""
    return progress_bar(enabled, total=_size(fh), desc=f"parse {Path(source).name}", unit="B", unit_scale=True,
                        unit_divisor=1024, delay=1.0, leave=False)


def _advance(b: Any, fh: IO[bytes]) -> None:
    if b is not None:
        b.update(fh.tell() - b.n)


def _read_stream(
    fh: IO[bytes],
    source: str,
    *,
    window: TimeWindow | None,
    service: str | None,
    project: str | None,
    levels: frozenset[str] | None,
    progress: bool = False,
) -> pd.DataFrame:
    parser = _Parser(source, window=window, service=service, project=project, levels=levels)
    bounds = parser.window_bounds()
    wanted = np.array([_LEVEL_CODE[v] for v in levels], dtype=np.int8) if levels is not None and window is None else None
    # Chunks are decoded two at a time (numpy and Arrow release the GIL); the parser
    # takes them in file order. At most a few chunks are in flight, bounding memory.
    with _parse_bar(progress, fh, source) as b, ThreadPoolExecutor(WORKERS, thread_name_prefix="logs") as pool:
        pending: deque[Future[_Prepared]] = deque()
        for parts in _chunk_parts(fh):
            pending.append(pool.submit(_prepare, parts, bounds, wanted))
            if len(pending) > WORKERS:
                parser.consume(pending.popleft().result())
                _advance(b, fh)
        while pending:
            parser.consume(pending.popleft().result())
        _advance(b, fh)
    return parser.frame()


def read_compose_logs(
    path_or_text: str | os.PathLike[str] | bytes | Sequence[str | os.PathLike[str]],
    window: TimeWindow | None = None,
    *,
    service: str | None = None,
    project: str | None = None,
    levels: Iterable[str] | None = None,
    source: str | None = None,
    progress: bool = False,
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
    ``source`` replaces the file name in the ``source`` column. ``progress`` shows a bar
    (tqdm.auto) over a file's bytes once its parse has taken a second.
    ``.attrs`` holds ``malformed``, ``malformed_samples`` and ``lines_read``.
    """
    window = _window_or_none(window)
    wanted = _levels_option(levels)
    frames = []
    for name, opener in _inputs(path_or_text):
        with opener() as fh:
            frames.append(
                _read_stream(fh, source or name, window=window, service=service, project=project, levels=wanted,
                             progress=progress)
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
    progress: bool = False,
) -> pd.DataFrame:
    """Read Docker json-file driver logs (``<id>-json.log``) into LOGS.

    Each line is ``{"log": …, "stream": …, "time": …}``; records without a
    final newline (Docker splits long lines) are joined with the records after
    them on the same stream. Returns LOGS plus ``lines``, ``malformed`` and
    ``stream``; ``line`` is the first JSON line of the event. The service is
    ``service=``, else the record's ``attrs`` (``com.docker.compose.service``),
    else the container id (the file's directory name, 12 characters).
    A line that is not such a record is a malformed row. ``progress`` as for
    :func:`read_compose_logs`.
    """
    window = _window_or_none(window)
    wanted = _levels_option(levels)
    paths = [Path(x) for x in path] if isinstance(path, (list, tuple)) else [Path(path)]  # type: ignore[arg-type]
    frames = []
    for p in paths:
        with _open(p) as fh, _parse_bar(progress, fh, str(p)) as bar:
            frames.append(_read_json_stream(fh, str(p), window=window, service=service or _container_name(p),
                                            levels=wanted, on_chunk=lambda: _advance(bar, fh)))
    return _merge(frames)


def _container_name(p: Path) -> str:
    # <id>-json.log, and its rotations <id>-json.log.1 and <id>-json.log.2.gz
    stem = re.sub(r"\.log(?:\.\d+)?(?:\.gz)?$", "", p.name).removesuffix("-json")
    if re.fullmatch(r"[0-9a-f]{64}", stem):
        return stem[:12]
    if re.fullmatch(r"[0-9a-f]{64}", p.parent.name):
        return p.parent.name[:12]
    return stem


def _read_json_stream(
    fh: IO[bytes], source: str, *, window: TimeWindow | None, service: str, levels: frozenset[str] | None,
    on_chunk: Callable[[], None] = lambda: None,
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
        on_chunk()
    for stream, (first_line, first_time, key, parts) in sorted(pending.items()):
        entries.append((first_line, first_time, key, "".join(parts), False, stream, len(parts)))
    flush()
    return parser.frame()


def _json_record(raw: str) -> tuple[str, str, str | None, str | None] | None:
    """(log, stream, time, service) of one json-file line, None when it is not one."""
    try:
        obj = loads_json(raw)
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
