"""The logs source's part in collect(): saved files, json-file logs and a live compose project."""

from __future__ import annotations

import glob
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ...bundle import Evidence
from ...config import Config, LogsConfig
from ...errors import SourceError
from ...model import tables
from ..base import CollectContext, Collector
from .live import compose_logs
from .parser import MALFORMED_SAMPLES
from .readers import _merge, read_compose_logs, read_container_json_logs


# ------------------------------------------------------------------ collect()
def _globs(config: Config, patterns: Sequence[str], refused: list[str] | None = None) -> tuple[list[Path], list[str]]:
    """Files the patterns match, and the patterns that match none. A match that is a symlink
    leading out of the pattern's own folder (``incident_logs_x.txt -> ~/.ssh/id_rsa`` planted in
    copied evidence) is not read: it goes to ``refused`` with why."""
    found: list[Path] = []
    unmatched: list[str] = []
    for pat in patterns:
        full = str(config.resolve(pat))
        base = _fixed_part(Path(full)).resolve()
        hits = []
        matched = sorted(Path(h) for h in glob.glob(full) if Path(h).is_file())
        for h in matched:
            real = h.resolve()
            if real != base and base not in real.parents:
                if refused is not None:
                    refused.append(f"{h}: a symlink to {real}, outside {base}; not read")
                continue
            hits.append(h)
        if hits:
            found.extend(h for h in hits if h not in found)
        elif not matched:
            unmatched.append(pat)
    return found, unmatched


def _fixed_part(path: Path) -> Path:
    """The folder of a glob pattern before its first wildcard (the file itself without one)."""
    parts = path.parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), None)
    return path if fixed is None else Path(*parts[:fixed])


def _configured(config: Config) -> bool:
    cfg = config.logs
    if cfg.compose_project or cfg.json_files or (cfg.files and cfg.files != LogsConfig().files):
        return True  # files named in [logs] that match nothing are an error, not a skip
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
    refused: list[str] = []
    files, unmatched = _globs(ctx.config, cfg.files, refused)
    jfiles, junmatched = _globs(ctx.config, cfg.json_files, refused)
    errors.extend(refused)
    if unmatched or junmatched:
        details["unmatched_patterns"] = unmatched + junmatched
    per_file: dict[str, int] = {}
    for p in files:
        try:
            f = read_compose_logs(p, ctx.window, progress=ctx.progress)
        except SourceError as exc:
            errors.append(str(exc))
            continue
        frames.append(f)
        per_file[str(p)] = len(f)
    for p in jfiles:
        try:
            f = read_container_json_logs(p, ctx.window, progress=ctx.progress)
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
    if not frames and (unmatched or junmatched):
        errors.append("no file matches " + ", ".join(unmatched + junmatched))
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
