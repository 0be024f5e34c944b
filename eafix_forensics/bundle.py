"""EvidenceBundle: one incident's evidence on disk, redacted, hashed and atomic.

Layout of ``output/INCIDENT_ID/evidence/``::

    manifest.json        incident id, window, collected_at, tool version,
                         config (no secrets), and per table: file, sha256,
                         rows, source, query, window, status, error, duration_s
    <table>.parquet      one Parquet file per table

A bundle is written into a private temporary directory beside its final
place and renamed into place only when complete, so a writer killed at any
moment leaves nothing under the final name. An existing bundle is never
replaced unless ``force=True``. Redaction runs before hashing and fails closed.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import html
import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pandas as pd
import pyarrow.parquet as pq

from ._version import __version__
from .config import Config, ServiceConfig, output_root
from .errors import BundleError, ConfigError, ForensicsError, IntegrityError
from .model import tables
from .redact import Redactor
from .window import TimeWindow

__all__ = [
    "STATUSES",
    "CollectLock",
    "Evidence",
    "EvidenceBundle",
    "bundle_config",
    "bundle_dir",
    "check_incident_id",
    "existing_bundle",
    "make_dirs",
    "open_incident",
    "refuse_existing",
    "refuse_symlinks",
    "write_new_file",
]

FORMAT_VERSION = 1
STATUSES = ("ok", "empty", "unavailable", "truncated", "skipped")
_INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def check_incident_id(incident_id: str) -> str:
    """Return ``incident_id`` if it is safe as a directory name, else raise ConfigError."""
    if not isinstance(incident_id, str) or not _INCIDENT_ID.fullmatch(incident_id) or ".." in incident_id:
        raise ConfigError(
            f"incident id {incident_id!r}: use letters, digits, '.', '_' and '-' only "
            "(no '/', '..', whitespace or control characters), e.g. INC-123"
        )
    return incident_id


def bundle_dir(incident_id: str, output_dir: str | os.PathLike[str] = "output") -> Path:
    """``output/INCIDENT_ID/evidence``."""
    return Path(output_dir) / check_incident_id(incident_id) / "evidence"


def refuse_existing(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """``path``, unless a bundle is already there and not ``force``: then BundleError."""
    p = Path(path)
    if p.exists() and not force:
        raise BundleError(f"{p}: a bundle already exists; use --force (force=True) to replace it")
    return p


def existing_bundle(incident_id: str, output_dir: str | os.PathLike[str], *, hint: str = "") -> Path:
    """``output_dir/INCIDENT_ID/evidence`` when it holds a bundle, else ConfigError saying
    how to get one (``hint`` is added, e.g. "or pass --since/--start")."""
    path = bundle_dir(incident_id, output_dir)
    if not (path / "manifest.json").is_file():
        raise ConfigError(
            f"no evidence bundle for {incident_id} at {path}; collect one first "
            f"(eafix-forensics collect {incident_id} --since 1h)" + (f" {hint}" if hint else "")
        )
    return path


def refuse_symlinks(*paths: Path) -> None:
    """Raise BundleError when one of ``paths`` is a symbolic link: evidence and reports are
    written only where they appear to be, never through a link planted in the output tree."""
    for p in paths:
        if p.is_symlink():
            raise BundleError(f"{p}: is a symbolic link (to {os.readlink(p)}); refusing to write through it")


def make_dirs(path: Path) -> Path:
    """``mkdir -p path``, checking that no directory it creates or enters last is a link."""
    missing = [p for p in (path, *path.parents) if not p.exists() and not p.is_symlink()]
    refuse_symlinks(path)
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o755)
        except FileExistsError:
            pass
        refuse_symlinks(p)
    if not path.is_dir():
        raise BundleError(f"{path}: not a directory")
    return path


def write_new_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (replacing a regular file), never following a symlink there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class CollectLock:
    """An exclusive lock on one incident directory for a whole collect (``fcntl.flock`` on
    ``INCIDENT/.collect.lock``, released when the process ends however it ends). A second
    collect of the same incident fails at once with BundleError naming the holder."""

    def __init__(self, incident_dir: Path) -> None:
        self.path = incident_dir / ".collect.lock"
        self._fd: int | None = None

    def __enter__(self) -> Self:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise BundleError(f"{self.path}: cannot open the collect lock: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise BundleError(
                f"{self.path.parent}: another collect is writing this incident ({holder}); "
                "wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                      f"{pd.Timestamp.now(tz='UTC').isoformat(timespec='seconds')}".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


@dataclass
class Evidence:
    """One table of evidence and how it was obtained, as a source returns it."""

    name: str
    frame: pd.DataFrame
    source: str
    query: str = ""
    status: str | None = None  # None: "ok", or "empty" when the frame has no rows
    error: str | None = None
    duration_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)  # e.g. malformed line counts and samples

    def __post_init__(self) -> None:
        if not _TABLE_NAME.fullmatch(self.name):
            raise BundleError(f"table name {self.name!r}: use lower-case letters, digits and '_'")
        if self.status is None:
            self.status = "empty" if len(self.frame) == 0 else "ok"
        if self.status not in STATUSES:
            raise BundleError(f"table {self.name}: status {self.status!r} not one of {STATUSES}")


MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
SIGNING_NAMESPACE = "eafix-forensics"  # ssh-keygen -Y namespace: a signature made for another use never verifies


def _manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with the shape of ``manifest`` (None when its tables are well formed)."""
    tables = manifest["tables"]
    if not isinstance(tables, dict):
        return f'"tables" is {type(tables).__name__}, not an object'
    for name, entry in tables.items():
        if not isinstance(entry, dict):
            return f"table {name!r} is {type(entry).__name__}, not an object"
        for key, kinds in (("file", (str, type(None))), ("sha256", (str, type(None))), ("rows", (int, type(None))),
                           ("status", (str, type(None)))):
            value = entry.get(key)
            if not isinstance(value, kinds) or isinstance(value, bool):
                return f"table {name!r}: {key} = {value!r} is not a {kinds[0].__name__}"
        if entry.get("file") and not entry.get("sha256"):
            return f"table {name!r}: file without a sha256"
    return None


def _plain_name(fname: str) -> bool:
    """A file name directly inside the bundle: no directory part, no '..', not hidden."""
    return Path(fname).name == fname and fname not in ("", ".", "..") and not fname.startswith(".")


def _parquet_rows(path: Path) -> int | None:
    try:
        return int(pq.read_metadata(path).num_rows)
    except Exception:  # noqa: BLE001 - any unreadable Parquet is a row-count mismatch, named by verify
        return None


def _ssh_keygen(args: list[str], *, stdin: Any = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["ssh-keygen", *args], stdin=stdin if stdin is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise BundleError("ssh-keygen not found: signing needs OpenSSH 8.1 or later") from None
    except subprocess.TimeoutExpired:
        raise BundleError(f"ssh-keygen {args[1]} timed out") from None


def _sign(manifest: Path, key: Path) -> None:
    """Write ``manifest.json.sig`` with ``ssh-keygen -Y sign`` (fails closed: BundleError, nothing kept)."""
    if not key.is_file():
        raise BundleError(f"[bundle] signing_key = {str(key)!r}: no such key file")
    proc = _ssh_keygen(["-Y", "sign", "-f", str(key), "-n", SIGNING_NAMESPACE, str(manifest)])
    if proc.returncode != 0 or not manifest.with_name(SIGNATURE).is_file():
        raise BundleError(f"[bundle] signing_key = {str(key)!r}: ssh-keygen -Y sign failed: "
                          f"{' '.join(proc.stderr.split()) or proc.returncode}")


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _strict_json(value: Any) -> Any:
    """``value`` with NaN and the infinities (a service's page summary, a detail) as the strings
    "NaN", "Infinity", "-Infinity": bare NaN is not JSON, and jq or a JSONB column refuse it."""
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[str(float(value))]
    if isinstance(value, dict):
        return {_strict_json(k): _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    return value


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale_temps(parent: Path) -> None:
    """Remove temporary bundle directories left by writers that died (SIGKILL)."""
    for p in parent.glob(".evidence-tmp-*"):
        try:
            pid = int(p.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)


class EvidenceBundle:
    """A written evidence bundle: ``manifest`` plus one DataFrame per table."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        # Each table is read from Parquet once per open bundle (a report asks for the logs a
        # dozen times), and again only when its file was replaced (collect --force).
        self._frames: dict[str, tuple[tuple[int, int], pd.DataFrame]] = {}
        self._verified: tuple[tuple[Any, ...], list[str]] | None = None

    def __repr__(self) -> str:
        return f"EvidenceBundle({str(self.path)!r}, incident_id={self.incident_id!r}, tables={self.tables})"

    def _repr_html_(self) -> str:
        """What a notebook shows for the bundle: window, verify state, one row per table."""
        return _bundle_html(self)

    def _verify_cached(self) -> list[str]:
        """:meth:`verify`, computed again only when a file of the bundle changed (size or time)."""
        stamps = []
        for f in sorted(self.path.iterdir()):
            st = f.lstat()
            stamps.append((f.name, st.st_size, st.st_mtime_ns))
        key = tuple(stamps)
        if self._verified is None or self._verified[0] != key:
            self._verified = (key, self.verify())
        return list(self._verified[1])

    # -- reading -----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> EvidenceBundle:
        """Open a bundle directory (``…/evidence`` or the incident directory above it)."""
        p = Path(path)
        if not (p / "manifest.json").is_file() and (p / "evidence" / "manifest.json").is_file():
            p = p / "evidence"
        mf = p / "manifest.json"
        if not mf.is_file():
            raise BundleError(f"{p}: not an evidence bundle (no manifest.json)")
        try:
            manifest = json.loads(mf.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundleError(f"{mf}: unreadable manifest: {exc}") from exc
        if not isinstance(manifest, dict) or "tables" not in manifest:
            raise IntegrityError(f"{mf}: not an eafix-forensics manifest (no \"tables\")", files=["manifest.json"])
        problem = _manifest_problem(manifest)
        if problem:
            raise IntegrityError(f"{mf}: malformed manifest: {problem}", files=["manifest.json"])
        return cls(p, manifest)

    @property
    def incident_id(self) -> str:
        return str(self.manifest.get("incident_id", ""))

    @property
    def window(self) -> TimeWindow:
        return TimeWindow.from_dict(self.manifest["window"])

    @property
    def tables(self) -> list[str]:
        return sorted(self.manifest["tables"])

    def status(self, name: str) -> str:
        """The manifest status of table ``name`` (``missing`` when it is not in the bundle)."""
        entry = self.manifest["tables"].get(name)
        return str(entry["status"]) if entry else "missing"

    def status_table(self) -> pd.DataFrame:
        """One row per table: table, source, status, rows, duration_s, error, query."""
        rows = [
            {
                "table": name,
                "source": e.get("source"),
                "status": e.get("status"),
                "rows": e.get("rows"),
                "duration_s": e.get("duration_s"),
                "error": e.get("error"),
                "query": e.get("query"),
            }
            for name, e in sorted(self.manifest["tables"].items())
        ]
        return pd.DataFrame(rows, columns=["table", "source", "status", "rows", "duration_s", "error", "query"])

    def table(self, name: str) -> pd.DataFrame:
        """Table ``name`` as a DataFrame; an empty frame with the schema columns when
        the table is absent or its source was unavailable. Text columns with a scale
        (``logs.level``; :data:`~eafix_forensics.model.tables.ORDERED`) are ordered
        categoricals here, stored as text: ``logs[logs.level >= "WARNING"]`` works."""
        entry = self.manifest["tables"].get(name)
        if entry is None or not entry.get("file"):
            if name in tables.SCHEMAS:
                return tables.ordered(tables.empty(name), name)
            if entry is None:
                raise BundleError(
                    f"{self.path}: no table {name!r}; tables: {', '.join(self.tables) or 'none'}"
                )
            return pd.DataFrame()
        f = self.path / entry["file"]
        try:
            st = f.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            cached = self._frames.get(name)
            if cached is not None and cached[0] == stamp:
                return cached[1].copy(deep=False)  # copy-on-write: the caller's edits stay the caller's
            frame = tables.ordered(pd.read_parquet(f), name)
        except FileNotFoundError:
            raise IntegrityError(f"{f}: missing", files=[entry["file"]]) from None
        except Exception as exc:
            raise IntegrityError(f"{f}: unreadable Parquet: {exc}", files=[entry["file"]]) from exc
        self._frames[name] = (stamp, frame)
        return frame.copy(deep=False)

    def has(self, name: str) -> bool:
        """True when table ``name`` is present with rows."""
        e = self.manifest["tables"].get(name)
        return bool(e and e.get("file") and e.get("rows"))

    def verify(self, *, expect: str | None = None, allowed_signers: str | os.PathLike[str] | None = None) -> list[str]:
        """Problems found, one line each naming the file (empty list: the bundle is intact).

        Checks that every table file is a plain name inside the bundle, exists, has the
        manifest's sha256 and as many rows as the manifest says (Parquet metadata); that
        the directory holds no file the manifest does not list; with ``expect``, that the
        manifest's own sha256 is that value; with ``allowed_signers`` (an ssh-keygen
        allowed-signers file), that ``manifest.json.sig`` is a valid signature by one of them.
        """
        problems: list[str] = []
        listed = {MANIFEST, SIGNATURE}
        for name, entry in sorted(self.manifest["tables"].items()):
            fname = entry.get("file")
            if not fname:
                continue
            listed.add(fname)
            f = self.path / fname
            if not _plain_name(fname):
                problems.append(f"{fname}: table {name} points outside the bundle")
            elif f.is_symlink() or (f.exists() and not f.is_file()):
                problems.append(f"{fname}: not a regular file")
            elif not f.is_file():
                problems.append(f"{fname}: missing")
            elif _sha256(f) != entry.get("sha256"):
                problems.append(f"{fname}: sha256 differs from manifest")
            elif (rows := _parquet_rows(f)) != entry.get("rows"):
                problems.append(f"{fname}: {rows} rows in the file, {entry.get('rows')} in the manifest")
        for f in sorted(self.path.iterdir()):
            if f.name not in listed:
                problems.append(f"{f.name}: not listed in the manifest")
        if expect is not None and self.manifest_sha256 != expect.strip().lower():
            problems.append(f"{MANIFEST}: sha256 {self.manifest_sha256} is not the expected {expect.strip()}")
        if allowed_signers is not None:
            problems.extend(self._signature_problems(Path(allowed_signers)))
        return problems

    @property
    def signed(self) -> bool:
        """Whether the bundle carries a manifest signature (``manifest.json.sig``)."""
        return (self.path / SIGNATURE).is_file()

    def signer(self, allowed_signers: str | os.PathLike[str]) -> str | None:
        """The principal of ``allowed_signers`` whose key signed the manifest, or None."""
        if not self.signed:
            return None
        proc = _ssh_keygen(["-Y", "find-principals", "-s", str(self.path / SIGNATURE), "-f", str(allowed_signers)])
        principals = proc.stdout.split()
        return principals[0] if proc.returncode == 0 and principals else None

    def _signature_problems(self, allowed_signers: Path) -> list[str]:
        if not allowed_signers.is_file():
            return [f"{allowed_signers}: allowed-signers file not found"]
        if not self.signed:
            return [f"{SIGNATURE}: missing (the manifest is not signed)"]
        principal = self.signer(allowed_signers)
        if principal is None:
            return [f"{SIGNATURE}: not made by a key in {allowed_signers}"]
        with (self.path / MANIFEST).open("rb") as fh:
            proc = _ssh_keygen(["-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", SIGNING_NAMESPACE,
                                "-s", str(self.path / SIGNATURE)], stdin=fh)
        if proc.returncode != 0:
            return [f"{SIGNATURE}: does not match the manifest ({' '.join(proc.stderr.split())})"]
        return []

    def check(self) -> None:
        """Raise IntegrityError naming every missing or altered file."""
        problems = self.verify()
        if problems:
            raise IntegrityError(
                f"{self.path}: " + "; ".join(problems), files=[p.split(":")[0] for p in problems]
            )

    @property
    def manifest_sha256(self) -> str:
        return _sha256(self.path / MANIFEST)

    # -- writing -----------------------------------------------------------------
    @classmethod
    def write(
        cls,
        path: str | os.PathLike[str],
        *,
        incident_id: str,
        window: TimeWindow,
        evidence: Iterable[Evidence],
        config: Any = None,
        redactor: Redactor | None = None,
        force: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> EvidenceBundle:
        """Redact, write, hash and atomically move ``evidence`` into ``path``.

        Raises BundleError when ``path`` exists and ``force`` is false; RedactionError
        (nothing written) when redaction fails.
        """
        check_incident_id(incident_id)
        final = Path(path)
        refuse_symlinks(final.parent, final)
        final = refuse_existing(final, force=force)
        redactor = redactor or (Redactor.from_config(config) if config is not None else Redactor())
        bundle_cfg = getattr(config, "bundle", None)
        signing_key = config.resolve(bundle_cfg.signing_key) if bundle_cfg and bundle_cfg.signing_key else None
        items = list(evidence)
        names = [e.name for e in items]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise BundleError(f"duplicate tables in bundle: {', '.join(sorted(dupes))}")

        # Redact everything first: if it fails, nothing at all is written.
        redacted = [(e, redactor.frame(tables.stored(e.frame, e.name))) for e in items]
        config_dict = config.to_dict() if hasattr(config, "to_dict") else (config or {})
        manifest: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "incident_id": incident_id,
            "window": window.to_dict(),
            "collected_at": pd.Timestamp.now(tz="UTC").isoformat(),
            "tool_version": __version__,
            "config": config_dict,
            "tables": {},
        }
        if extra:
            manifest.update(extra)

        parent = make_dirs(final.parent)
        _clean_stale_temps(parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".evidence-tmp-{os.getpid()}-", dir=parent))
        try:
            for e, frame in redacted:
                entry: dict[str, Any] = {
                    "file": None,
                    "sha256": None,
                    "rows": len(frame),
                    "source": e.source,
                    "query": e.query,
                    "window": window.to_dict(),
                    "status": e.status,
                    "error": e.error,
                    "duration_s": round(float(e.duration_s), 6),
                    "columns": [str(c) for c in frame.columns],
                }
                if e.details:
                    entry["details"] = e.details
                if e.status != "unavailable" or len(frame):
                    fname = f"{e.name}.parquet"
                    try:
                        frame.to_parquet(tmp / fname, index=False, engine="pyarrow")
                    except Exception as exc:
                        raise BundleError(f"table {e.name}: cannot write Parquet: {exc}") from exc
                    entry["file"] = fname
                    entry["sha256"] = _sha256(tmp / fname)
                manifest["tables"][e.name] = entry
            manifest = redactor.data(manifest)
            data = json.dumps(_strict_json(manifest), indent=2, sort_keys=False, default=str, allow_nan=False).encode()
            with open(tmp / MANIFEST, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if signing_key:
                _sign(tmp / MANIFEST, Path(signing_key))
            os.chmod(tmp, 0o755)
            if final.exists():
                trash = parent / f".evidence-old-{os.getpid()}-{time.time_ns()}"
                os.rename(final, trash)
                os.rename(tmp, final)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(tmp, final)
            _fsync_dir(parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(final, manifest)


_STATUS_COLOURS = {"ok": "#1a7f37", "empty": "#57606a", "truncated": "#9a6700", "unavailable": "#cf222e",
                   "skipped": "#57606a"}


def _bundle_html(bundle: EvidenceBundle) -> str:
    """The bundle as an HTML fragment for Jupyter; every value from the manifest is escaped."""
    def esc(value: Any) -> str:
        return html.escape("" if value is None else str(value), quote=True)

    try:
        window = esc(bundle.window)
    except (ForensicsError, KeyError, TypeError, ValueError) as exc:
        window = f"unreadable ({esc(exc)})"
    try:
        problems = bundle._verify_cached()
    except OSError as exc:
        problems = [f"cannot read the bundle: {exc}"]
    if problems:
        shown = "".join(f"<li>{esc(p)}</li>" for p in problems[:10])
        more = f"<li>… and {len(problems) - 10} more</li>" if len(problems) > 10 else ""
        verified = (f'<span style="color:#cf222e">✗ {len(problems)} problem(s)</span>'
                    f'<ul style="margin:0">{shown}{more}</ul>')
    else:
        verified = '<span style="color:#1a7f37">✓ intact (every sha256 and row count matches the manifest)</span>'
    signed = "signed (manifest.json.sig)" if bundle.signed else "not signed"
    rows = []
    for name, e in sorted(bundle.manifest["tables"].items()):
        status = str(e.get("status"))
        colour = _STATUS_COLOURS.get(status, "#57606a")
        error = str(e.get("error") or "")
        rows.append(
            f"<tr><td>{esc(name)}</td><td>{esc(e.get('source'))}</td>"
            f'<td style="color:{colour}">{esc(status)}</td><td style="text-align:right">{esc(e.get("rows"))}</td>'
            f'<td style="text-align:left">{esc(error[:200] + ("…" if len(error) > 200 else ""))}</td></tr>'
        )
    return (
        f'<div class="eafix-bundle"><p><b>EvidenceBundle {esc(bundle.incident_id)}</b> '
        f"<code>{esc(bundle.path)}</code><br>window {window}, collected {esc(bundle.manifest.get('collected_at'))} "
        f"by eafix-forensics {esc(bundle.manifest.get('tool_version'))}; {signed}<br>verify: {verified}</p>"
        '<table><thead><tr><th>table</th><th>source</th><th>status</th><th>rows</th><th>error</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def open_incident(
    incident: str | os.PathLike[str],
    *,
    output_dir: str | os.PathLike[str] | None = None,
    config: Config | str | os.PathLike[str] | None = None,
) -> EvidenceBundle:
    """``ef.open("INC-123")``: the bundle of an incident, ``<output_dir>/INC-123/evidence``
    (output directory as every command finds it: ``output_dir``, ``$EAFIX_OUTPUT_DIR``, the
    config's ``[collect] output_dir``, ``./output``), or the bundle at a path. ConfigError
    saying how to collect one when there is none."""
    if isinstance(incident, os.PathLike) or any(sep in str(incident) for sep in ("/", os.sep)):
        return EvidenceBundle.open(incident)
    if config is not None and not isinstance(config, Config):
        config = Config.load(config)
    root = output_root(output_dir, config, source_tree=config is None)
    return EvidenceBundle.open(existing_bundle(str(incident), root))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def bundle_config(bundle: EvidenceBundle) -> Config:
    """The Config the bundle was collected with, rebuilt from its manifest.

    Sections the manifest lacks or that no longer validate keep their defaults
    (an older or hand-edited manifest still gives usable thresholds); unknown
    keys are ignored. Secrets are never in a manifest, so none are here.
    """
    raw = bundle.manifest.get("config") or {}
    cfg = Config()
    if not isinstance(raw, Mapping):
        return cfg
    for f in dataclasses.fields(Config):
        section = raw.get(f.name)
        if not isinstance(section, Mapping) or f.name == "services":
            continue
        current = getattr(cfg, f.name)
        if not dataclasses.is_dataclass(current) or isinstance(current, type):
            continue
        klass: Any = type(current)
        known = {x.name for x in dataclasses.fields(klass)}
        try:
            setattr(cfg, f.name, klass(**{k: v for k, v in section.items() if k in known}))
        except (TypeError, ValueError, ForensicsError):
            continue
    topology = raw.get("topology")
    if isinstance(topology, Mapping):
        cfg.topology = {str(k): [str(d) for d in v] for k, v in topology.items() if isinstance(v, list)}
    libraries = raw.get("libraries")
    if isinstance(libraries, Mapping):
        cfg.libraries = {str(k): [str(c) for c in v] for k, v in libraries.items() if isinstance(v, list)}
    services = raw.get("services")
    if isinstance(services, Mapping) and services:
        known = {x.name for x in dataclasses.fields(ServiceConfig)}
        built: dict[str, ServiceConfig] = {}
        for name, spec in services.items():
            if not isinstance(spec, Mapping):
                continue
            try:
                built[str(name)] = ServiceConfig(**{k: v for k, v in spec.items() if k in known})
            except (TypeError, ValueError, ForensicsError):
                continue
        if built:
            cfg.services = built
    return cfg
