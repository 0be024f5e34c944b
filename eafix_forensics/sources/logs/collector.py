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
    files, unmatched = _globs(ctx.config, cfg.files)
    jfiles, junmatched = _globs(ctx.config, cfg.json_files)
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
