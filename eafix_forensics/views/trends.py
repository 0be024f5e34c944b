"""The incident-trends page's views."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..render import Block, Table, esc, md_escape
from ._common import _pick, _report_href


def table(frame: pd.DataFrame, **options: Any) -> Table:
    """Any frame as a table for people (see :class:`~eafix_forensics.render.Table`)."""
    return Table(frame.reset_index(drop=True), **options)


def similar_to(catalog: Any, incident_id: str, *, output_dir: str | None = None) -> Block:
    """The library's incidents most like ``incident_id``, best first, with their root
    causes and action items, linked to their reports when those exist."""
    seen = catalog.similar_to(incident_id)
    lead = (f"Past incidents most like {incident_id}, best first (score: 0.7 × the weighted Jaccard index of "
            "their error signatures + 0.3 × the Jaccard index of their services).")
    if seen is None or not len(seen):
        text = f"No past incident in the library looks like {incident_id}."
        return Block(f"<p>{esc(text)}</p>", md_escape(text))
    cols = _pick(seen, ("rank", "incident_id", "score", "severity", "shared_services", "shared_signatures",
                        "root_causes", "action_items"))
    links = [_report_href(output_dir, str(i)).removeprefix("../") for i in seen["incident_id"]]
    t = Table(cols, headers={"incident_id": "Incident"}, links={"incident_id": links})
    return Block(f"<p>{esc(lead)}</p>{t._repr_html_()}", f"{md_escape(lead)}\n\n{t._repr_markdown_()}")
