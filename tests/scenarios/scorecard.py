"""Score the analysis rules against the scenario library's ground truth.

Per scenario: the culprit's rank in ``suspects(bundle)`` (or, where no change
explains the symptoms, whether the verdict says so), ``suggest_severity(bundle)``
against the truth, the first symptom's error in seconds against its tolerance
(one sample), and the verdict's headline. Rules that raise are scored as failures
with the error, so one crash never hides the others.

Where ``eafix_forensics.verdict`` does not exist yet, the first symptom comes from
``key_times(bundle)`` and "no change explains" passes only when ``suspects`` is empty.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class Score:
    name: str
    family: str
    truth: dict[str, Any]
    culprit_rank: int | None = None  # rank of the culprit (None: not listed / no culprit)
    culprit_ok: bool = False
    culprit_note: str = ""
    severity: str = ""
    severity_ok: bool = False
    first_at: pd.Timestamp | None = None
    first_service: str = ""
    first_error_s: float | None = None
    first_ok: bool = False
    headline: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.culprit_ok and self.severity_ok and self.first_ok

    @property
    def pending(self) -> int:
        """The issue this scenario waits for (0 = none): reported, not gated."""
        return int(self.truth.get("pending_issue") or 0)

    def failures(self) -> list[str]:
        out = []
        t = self.truth
        if not self.culprit_ok:
            want = t["culprit"] or "no change explains"
            out.append(f"culprit: want {want!r}, got {self.culprit_note}")
        if not self.severity_ok:
            out.append(f"severity: want {t['severity']}, got {self.severity or '?'}")
        if not self.first_ok:
            got = f"{self.first_at} ({self.first_service or '?'})" if self.first_at is not None else "none"
            out.append(f"first symptom: want {t['first_symptom']} ±{t['tolerance_s']:g}s ({t['first_service']}), got {got}")
        return out + self.errors


def _verdict_fn() -> Any:
    import eafix_forensics as ef

    try:
        return ef.verdict
    except AttributeError:
        return None


def _matches(row: pd.Series, truth: dict[str, Any]) -> bool:
    sha = truth["culprit_sha"]
    for col in ("sha", "ref", "tag"):
        v = row.get(col)
        if isinstance(v, str) and v and (sha.startswith(v) or v.startswith(sha) or v in truth["culprit_tags"]):
            return True
    return False


def score_bundle(bundle_path: Path, truth: dict[str, Any]) -> Score:
    import eafix_forensics as ef

    s = Score(truth["name"], truth["family"], truth)
    bundle = ef.EvidenceBundle.open(bundle_path)
    verdict_fn = _verdict_fn()
    v = None
    if verdict_fn is not None:
        try:
            v = verdict_fn(bundle)
            s.headline = str(getattr(v, "headline", ""))
        except Exception as exc:  # noqa: BLE001 - a crashing rule is a scored failure
            s.errors.append(f"verdict raised {type(exc).__name__}: {exc}")
            s.headline = "(verdict raised)"
    else:
        s.headline = "(no verdict yet)"
    # culprit
    try:
        sus = ef.suspects(bundle)
        hit = sus[sus.apply(lambda r: _matches(r, truth), axis=1)] if len(sus) and truth["culprit_sha"] else sus.iloc[0:0]
        if len(hit):
            s.culprit_rank = int(hit["rank"].iloc[0])
        top = sus.iloc[0] if len(sus) else None
        top_txt = (f"rank 1 = {top['kind']} {top.get('service', '')} {str(top.get('summary', ''))[:60]!r}"
                   if top is not None else "no suspects")
        if truth["culprit"] is not None:
            s.culprit_ok = s.culprit_rank == 1
            s.culprit_note = f"rank {s.culprit_rank}" if s.culprit_rank else f"not listed ({top_txt})"
            if v is not None and s.culprit_ok:
                cause = getattr(v, "cause", None)
                if cause is None:
                    s.culprit_ok = False
                    s.culprit_note = "rank 1 but verdict says no change explains"
                elif not _matches(pd.Series({"sha": cause.sha, "ref": cause.ref}), truth) and cause.tag not in truth["culprit_tags"]:
                    s.culprit_ok = False
                    s.culprit_note = f"rank 1 but verdict cause is {cause.tag or cause.sha[:10]}"
            if not s.culprit_ok and s.culprit_rank and s.culprit_rank > 1:
                s.culprit_note += f"; {top_txt}"
        elif v is not None:
            cause = getattr(v, "cause", None)
            s.culprit_ok = cause is None
            s.culprit_note = "none" if cause is None else f"verdict cause {cause.kind} {cause.tag or cause.sha[:10]} {cause.subject[:50]!r}"
        else:
            s.culprit_ok = len(sus) == 0
            s.culprit_note = "none" if s.culprit_ok else f"{len(sus)} suspects ({top_txt})"
    except Exception as exc:  # noqa: BLE001
        s.errors.append(f"suspects raised {type(exc).__name__}: {exc}")
        s.culprit_note = "error"
    # severity
    try:
        level, _reasons = ef.suggest_severity(bundle)
        s.severity = str(level)
        s.severity_ok = s.severity == truth["severity"]
    except Exception as exc:  # noqa: BLE001
        s.errors.append(f"suggest_severity raised {type(exc).__name__}: {exc}")
    # first symptom
    try:
        if v is not None:
            fs = v.first_symptom
            s.first_at = pd.Timestamp(fs.timestamp) if fs is not None else None
            s.first_service = str(fs.service) if fs is not None else ""
        else:
            kt = ef.key_times(bundle)
            s.first_at = kt.first_symptom
            s.first_service = kt.first_symptom_evidence.split(" on ", 1)[-1].split(":", 1)[0] if kt.first_symptom_evidence else ""
        if s.first_at is not None:
            want = pd.Timestamp(truth["first_symptom"])
            s.first_error_s = (s.first_at - want).total_seconds()
            s.first_ok = abs(s.first_error_s) <= truth["tolerance_s"]
    except Exception as exc:  # noqa: BLE001
        s.errors.append(f"first symptom raised {type(exc).__name__}: {exc}")
        s.errors.append(traceback.format_exc(limit=2).splitlines()[-1])
    return s


def _score_one(d: Path) -> Score:
    truth = json.loads((d / "truth.json").read_text())
    if truth.get("build_error"):  # a pending scenario whose configuration is not accepted yet
        return Score(truth["name"], truth["family"], truth, culprit_note="not collected", headline="(not built)",
                     errors=[f"build failed: {truth['build_error']}"])
    return score_bundle(d / "output" / truth["incident_id"] / "evidence", truth)


def score_dir(root: Path, names: list[str], *, workers: int | None = None) -> list[Score]:
    """Score the built scenarios ``names`` under ``root``, in worker processes (one per core)."""
    dirs = [root / n for n in names]
    workers = workers if workers is not None else min(len(dirs), os.cpu_count() or 1)
    if workers <= 1 or len(dirs) < 4:
        return [_score_one(d) for d in dirs]
    ctx = multiprocessing.get_context("spawn")  # no forked copies of the caller's servers and threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(_score_one, dirs))


def _fmt_err(x: float | None) -> str:
    if x is None:
        return "none"
    return f"{x:+.1f}s" if abs(x) < 3600 else f"{x / 3600:+.1f}h"


def table(scores: list[Score]) -> str:
    """The scorecard as text: one line per scenario, then the totals."""
    lines = [f"{'scenario':<26} {'culprit':<16} {'severity':<10} {'first symptom':<22} verdict"]
    for s in scores:
        t = s.truth
        mark = "✓" if s.culprit_ok else "✗"
        if t["culprit"] is None:
            cul = f"{mark} none: {'yes' if s.culprit_ok else 'no'}"
        else:
            cul = f"{mark} rank {s.culprit_rank if s.culprit_rank else '-'}"
        sev = f"{'✓' if s.severity_ok else '✗'} {s.severity or '?'}/{t['severity']}"
        first = f"{'✓' if s.first_ok else '✗'} {_fmt_err(s.first_error_s)} (±{t['tolerance_s']:g}s)"
        head = (s.headline or "").replace("\n", " ")
        if s.pending:
            head = f"[pending #{s.pending}] {head}"
        lines.append(f"{s.name:<26} {cul:<16} {sev:<10} {first:<22} {head}")
    n = len(scores)
    lines.append(
        f"TOTAL {n} scenarios: culprit {sum(s.culprit_ok for s in scores)}/{n}, "
        f"severity {sum(s.severity_ok for s in scores)}/{n}, first symptom {sum(s.first_ok for s in scores)}/{n}, "
        f"all three {sum(s.ok for s in scores)}/{n}"
    )
    pending = [s for s in scores if s.pending]
    if pending:
        gated = [s for s in scores if not s.pending]
        lines.append(f"gated {sum(s.ok for s in gated)}/{len(gated)}; pending (reported, not gated) "
                     f"{sum(s.ok for s in pending)}/{len(pending)}: "
                     + ", ".join(f"{s.name} #{s.pending}" for s in pending))
    return "\n".join(lines)


def details(scores: list[Score]) -> str:
    out = []
    for s in scores:
        if not s.ok:
            out.append(f"- {s.name} ({s.family}){f' [pending #{s.pending}]' if s.pending else ''}:")
            out.extend(f"    {f}" for f in s.failures())
    return "\n".join(out)
