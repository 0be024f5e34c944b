"""What every view shares: Markdown and table helpers, report links, one look into the incident library."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..bundle import EvidenceBundle
from ..catalog import Catalog, similar
from ..errors import ForensicsError
from ..render import MISSING, md_escape
from ..report import default_output_dir

if TYPE_CHECKING:
    from IPython.display import Markdown


def _md(text: str) -> Markdown:
    # deferred: IPython costs ~60 ms and is only needed inside a notebook
    from IPython.display import Markdown

    return Markdown(text)  # type: ignore[no-untyped-call]


def _escape(text: object) -> str:
    # Evidence text goes into Markdown: neutralise markup so a log line stays a log line.
    return md_escape(text)


def _empty(what: str) -> Markdown:
    return _md(f"_No {what} in the evidence._")


def _table(bundle: EvidenceBundle, name: str) -> pd.DataFrame:
    return bundle.table(name) if bundle.has(name) else pd.DataFrame()


def _pick(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    return df[[c for c in cols if c in df.columns]].reset_index(drop=True)


def _when(ts: object) -> str:
    """``14:05 UTC`` for a time on the incident's day, as the card and the review say it."""
    return MISSING if ts is None or pd.isna(ts) else f"{pd.Timestamp(ts).tz_convert('UTC'):%H:%M} UTC"


def _web_url(bundle: EvidenceBundle) -> str:
    git = (bundle.manifest.get("config") or {}).get("git") or {}
    return str(git.get("web_url") or "").rstrip("/")


def _commit_links(bundle: EvidenceBundle, shas: pd.Series) -> list[str]:
    """``[git] web_url``/commit/<sha> for each sha ("" when unknown); ``{repo}`` in the
    URL becomes the commit's repository, as for the verdict's cause."""
    base = _web_url(bundle)
    if not base:
        return []
    commits = _table(bundle, "commits")
    repos = dict(zip(commits["sha"].astype(str), commits["repo"].astype(str), strict=False)) \
        if len(commits) and "repo" in commits.columns else {}
    return [f"{base.replace('{repo}', repos.get(s, ''))}/commit/{s}" if isinstance(s, str) and len(s) >= 7 else ""
            for s in shas]



def _report_href(output_dir: str | Path | None, incident_id: str, here: str | Path | None = None) -> str:
    """A relative link from this incident's report folder to another incident's
    investigation report, when that report exists in the same output folder."""
    base = Path(output_dir) if output_dir else None
    if base is None:
        base = default_output_dir()
    target = base / incident_id / "investigation.html"
    return f"../{incident_id}/investigation.html" if target.is_file() else ""


# One look into the incident library per report: the verdict's similar incident, the
# Seen before table and the repeated action items all read the same two answers.
_LIBRARY: weakref.WeakKeyDictionary[EvidenceBundle, tuple[tuple[Any, ...], Any, Any]] = weakref.WeakKeyDictionary()


def _library(bundle: EvidenceBundle, *, output_dir: str | None,
             catalog_url: str | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """``similar(bundle, catalog)`` and ``catalog.open_action_items()``; (None, None) without a library."""
    key = (str(output_dir or ""), str(catalog_url or ""))
    hit = _LIBRARY.get(bundle)
    if hit is not None and hit[0] == key:
        return hit[1], hit[2]
    found = items = None
    try:
        catalog = Catalog.open(catalog_url, output_dir=output_dir or None)
    except ForensicsError:
        catalog = None
    if catalog is not None:
        try:
            found = similar(bundle, catalog)
            items = catalog.open_action_items()
        except ForensicsError:
            found = items = None
        finally:
            catalog.close()
    _LIBRARY[bundle] = (key, found, items)
    return found, items

