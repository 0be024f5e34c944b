"""How report tables and blocks look: one renderer for HTML, Markdown and plain text.

:class:`Table` wraps a DataFrame for people: no index; text left-aligned and
wrapped (text longer than ``fold`` characters folds into ``<details>``, never
cut); integers with thousands separators; decimals without float noise; times
``YYYY-MM-DD HH:MM:SS`` with "UTC" in the header; durations ``1 h 05 min``;
booleans ✓/✗; anything missing "—"; units in the headers (``latency_ms`` →
"Latency (ms)"). It displays as HTML in a notebook and in the exported report,
and as a Markdown table in the Markdown export.

:class:`Block` is a piece of HTML with its Markdown twin (the triage card, a
summary line). Neither decides anything: views hand them finished values.
"""

from __future__ import annotations

import html as _html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from .model.times import format_duration

__all__ = ["MISSING", "Block", "Table", "duration", "esc", "fmt_number", "fmt_time", "md_escape"]

MISSING = "—"
# Numbers that name something (a process, a query, an order) are not quantities: no thousands separator.
_IDENTIFIER = re.compile(r"(?:^|_)(?:pid|id|queryid|rank|port|account|blocked_by|root_blocker|code)$|^status_code$")
_UNITS = {"_ms": "ms", "_s": "s", "_min": "min", "_pct": "%", "_days": "days", "_bytes": "bytes"}


# Invisible characters that reorder or hide text: bidi overrides/isolates/marks ("Trojan Source"),
# zero-width space, word joiner, BOM. Evidence holding them is shown with them named, so a report
# never displays reversed or disguised text (ZWJ/ZWNJ stay: emoji and scripts need them).
_INVISIBLE = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def visible(text: str) -> str:
    """``text`` with bidi controls and zero-width characters shown as ``<U+202E>``."""
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def esc(text: object) -> str:
    """``text`` escaped for HTML (invisible controls named, see :func:`visible`)."""
    return _html.escape(visible(str(text)), quote=True)


def md_escape(text: object) -> str:
    """``text`` safe inside Markdown (and a Markdown table cell): markup characters escaped,
    invisible controls named (:func:`visible`)."""
    s = visible(str(text)).replace("\r", "").replace("\n", " ")
    for ch in "\\`*_{}[]<>#|":
        s = s.replace(ch, "\\" + ch)
    return s


def _missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, (str, bytes, list, tuple, dict, set)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def duration(td: object) -> str:
    """``1 h 05 min``, ``4 min``, ``35 s``, or ``—`` for a missing duration (model.times' one format)."""
    return format_duration(td, pad=True, missing=MISSING)


def fmt_time(ts: object, *, seconds: bool = True) -> str:
    """``2024-12-02 14:05:00`` (UTC) or ``—``."""
    if _missing(ts):
        return MISSING
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return str(t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"))


def fmt_number(value: object) -> str:
    """An integer with thousands separators (``10,000``); a decimal with at most
    four places and no float noise (``1.0512``, ``22.38``); ``—`` when missing."""
    if _missing(value):
        return MISSING
    if isinstance(value, bool):
        return "✓" if value else "✗"
    v = float(value)  # type: ignore[arg-type]
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    for places in range(1, 5):
        if abs(round(v, places) - v) < 1e-9 + 1e-12 * abs(v):
            return f"{v:,.{places}f}"
    return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"


def _header(col: str, kind: str) -> str:
    name = str(col)
    unit = ""
    for suffix, u in _UNITS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            name, unit = name[: -len(suffix)], u
            break
    text = name.replace("_", " ").strip()
    text = text[:1].upper() + text[1:]
    if kind == "time" and "UTC" not in text:
        unit = "UTC"
    return f"{text} ({unit})" if unit else text


def _kind(s: pd.Series) -> str:
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return "time"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "duration"
    if pd.api.types.is_bool_dtype(dtype):
        return "flag"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    values = [v for v in s if not _missing(v)]
    if values and all(isinstance(v, bool) for v in values):
        return "flag"
    if values and all(isinstance(v, pd.Timestamp) for v in values):
        return "time"
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    return "text"


def _cell_text(value: object, kind: str) -> str:
    if _missing(value):
        return MISSING
    if kind == "identifier":
        try:
            return str(int(value))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return str(value)
    if kind == "time":
        return fmt_time(value)
    if kind == "duration":
        return duration(value)
    if kind == "flag" or isinstance(value, bool):
        return "✓" if value else "✗"
    if kind == "number" or isinstance(value, (int, float)):
        return fmt_number(value)
    if isinstance(value, (list, tuple, set)):
        return "; ".join(map(str, value)) or MISSING
    text = str(value).strip()
    return text if text else MISSING


@dataclass
class Table:
    """A DataFrame shown for people (see the module docstring).

    ``headers`` renames columns (the unit/UTC rules still apply to the rest);
    ``links`` maps a column to one href per row ("" for none); rows past
    ``max_rows`` are counted in a note under the table, never silently dropped;
    ``fold`` is the text length above which a cell folds into ``<details>``.
    """

    frame: pd.DataFrame
    headers: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, Sequence[str]] = field(default_factory=dict)
    caption: str = ""
    max_rows: int = 200
    fold: int = 240
    css_class: str = ""
    collapse_after: int | None = None  # rows past this many fold under "N more rows" (HTML only)

    def _columns(self) -> list[tuple[str, str, str]]:
        out = []
        for col in self.frame.columns:
            kind = _kind(self.frame[col])
            if kind == "number" and _IDENTIFIER.search(str(col).lower()):
                kind = "identifier"
            out.append((str(col), kind, self.headers.get(str(col)) or _header(str(col), kind)))
        return out

    def _short(self) -> set[str]:
        """Text columns whose every value is short (names, statuses): kept on one line."""
        short = set()
        for col in self.frame.columns:
            values = self.frame[col].head(self.max_rows).dropna().astype(str)
            if _kind(self.frame[col]) == "text" and (values.str.len().max() if len(values) else 0) <= 24:
                short.add(str(col))
        return short

    def rows(self) -> list[list[str]]:
        """The cells as display text, row by row (at most ``max_rows``)."""
        cols = self._columns()
        shown = self.frame.head(self.max_rows)
        return [[_cell_text(v, kind) for v, (_, kind, _) in zip(row, cols, strict=True)]
                for row in shown.itertuples(index=False, name=None)]

    def _note(self) -> str:
        n = len(self.frame)
        return f"Showing the first {self.max_rows:,} of {n:,} rows." if n > self.max_rows else ""

    def _repr_html_(self) -> str:
        cols = self._columns()
        short = self._short()
        head = "".join(f'<th scope="col" class="{kind}">{esc(h)}</th>' for _, kind, h in cols)
        body = []
        for i, cells in enumerate(self.rows()):
            tds = []
            for (name, kind, header), text in zip(cols, cells, strict=True):
                content = esc(text)
                href = self.links.get(name)
                if href is not None and i < len(href) and href[i] and text != MISSING:
                    content = f'<a href="{esc(href[i])}">{content}</a>'
                elif kind == "text" and len(text) > self.fold:
                    cut = text.rfind(" ", 0, self.fold // 2)
                    cut = cut if cut > 20 else self.fold // 2
                    content = (f"<details><summary>{esc(text[:cut])} <span class=\"more\">(show all "
                               f"{len(text):,} characters)</span></summary>{esc(text)}</details>")
                cls = kind + (" short" if name in short else "") + (" missing" if text == MISSING else "")
                tds.append(f'<td class="{cls}" data-label="{esc(header)}">{content}</td>')
            body.append("<tr>" + "".join(tds) + "</tr>")
        caption = f"<caption>{esc(self.caption)}</caption>" if self.caption else ""
        note = f'<p class="eafix-note">{esc(self._note())}</p>' if self._note() else ""
        klass = "eafix" + (f" {self.css_class}" if self.css_class else "")
        thead = f"<thead><tr>{head}</tr></thead>"
        if self.collapse_after is not None and len(body) > self.collapse_after + 2:
            cut = self.collapse_after
            # The first rows stay in view; the rest fold away (a phone shows each row as a card).
            rest = len(body) - cut
            return (f'<div class="eafix-table"><table class="{klass}">{caption}{thead}<tbody>{"".join(body[:cut])}'
                    f'</tbody></table><details class="eafix-more"><summary>{rest:,} more rows</summary>'
                    f'<table class="{klass}">{thead}<tbody>{"".join(body[cut:])}</tbody></table></details></div>{note}')
        return (f'<div class="eafix-table"><table class="{klass}">{caption}{thead}'
                f"<tbody>{''.join(body)}</tbody></table></div>{note}")

    def _repr_markdown_(self) -> str:
        cols = self._columns()
        lines = []
        if self.caption:
            lines += [f"*{md_escape(self.caption)}*", ""]
        lines.append("| " + " | ".join(md_escape(h) for _, _, h in cols) + " |")
        lines.append("|" + "|".join("---:" if kind == "number" else "---" for _, kind, _ in cols) + "|")
        for i, cells in enumerate(self.rows()):
            out = []
            for (name, _, _), text in zip(cols, cells, strict=True):
                cell = md_escape(text) if text != MISSING else MISSING
                href = self.links.get(name)
                if href is not None and i < len(href) and href[i] and text != MISSING:
                    cell = f"[{cell}]({href[i]})"
                out.append(cell)
            lines.append("| " + " | ".join(out) + " |")
        if self._note():
            lines += ["", f"_{self._note()}_"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        cols = self._columns()
        rows = [[h for _, _, h in cols], *self.rows()]
        widths = [max(len(r[j]) for r in rows) for j in range(len(cols))]
        text = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
        return text + (f"\n{self._note()}" if self._note() else "")

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class Block:
    """A finished piece of a report: its HTML and the same content in Markdown."""

    html: str
    markdown: str

    def _repr_html_(self) -> str:
        return self.html

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.markdown


def md_to_html(text: str) -> str:
    """A small Markdown subset (paragraphs, ``-`` lists, ``**bold**``, ``[a](href)``) as HTML;
    the text must already be Markdown-escaped (``md_escape``) where it holds evidence."""
    def inline(s: str) -> str:
        out = esc(s.replace("\\", "\x00"))
        out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
        out = re.sub(r"\[([^\]\x00]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', out)
        # an escaped character (``\x00`` + char) shows as itself
        return re.sub("\x00(.)", r"\1", out).replace("\x00", "\\")

    html: list[str] = []
    items: list[str] = []
    tag = "ul"
    for line in text.splitlines() + [""]:
        numbered = re.match(r"(\d+)\. (.*)", line)
        if line.startswith("- ") or numbered:
            kind = "ol" if numbered else "ul"
            if items and kind != tag:
                html.append(f"<{tag}>" + "".join(items) + f"</{tag}>")
                items = []
            tag = kind
            items.append(f"<li>{inline(numbered.group(2) if numbered else line[2:])}</li>")
            continue
        if items:
            html.append(f"<{tag}>" + "".join(items) + f"</{tag}>")
            items = []
        if line.strip():
            html.append(f"<p>{inline(line)}</p>")
    return "".join(html)
