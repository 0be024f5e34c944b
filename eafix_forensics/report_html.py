"""An executed report notebook as one self-contained, sanitized HTML page, without code.

Our own exporter, not nbconvert's: a report needs the outputs only (Markdown cells, HTML
tables and cards, inline PNG figures, printed text), and nbconvert brings the JupyterLab
theme CSS, a Jinja template tree and ``bleach`` (end of life, still required by nbconvert
7.17) into every install for that. Here:

- Markdown (cells and ``text/markdown`` outputs) is rendered by markdown-it-py (CommonMark
  plus tables); every heading gets the id nbconvert gave it (its text, spaces as ``-``),
  so links into a report keep working;
- every HTML fragment goes through :func:`clean_html` (nh3 with the report's allowlist);
  text is escaped; a figure is an ``<img>`` with inline PNG data and its alt text;
- a contents list sits before the first ``##`` section (after the header and the triage
  card); the page has no script, no remote resource and prints cleanly.

Input cells, the parameters cells and raw cells are never shown.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html as html_lib
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import nh3
from markdown_it import MarkdownIt

from .bundle import write_new_file
from .errors import ReportError

__all__ = ["cell_text", "clean_html", "export_html", "notebook_html", "render_markdown", "report_title"]

_TEMPLATES = resources.files("eafix_forensics").joinpath("templates", "eafix")

# Output types in the order a report prefers them (nbconvert's order, less what a report never
# shows: SVG can carry script, LaTeX and PDF need a renderer the page does not load).
_MIME_ORDER = ("text/html", "image/png", "image/jpeg", "text/markdown", "text/plain")
_SKIPPED_TAGS = frozenset({"parameters", "injected-parameters", "remove_cell", "remove-cell"})
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

_TITLES = {"investigation": "Investigation report", "post_incident_review": "Post-incident review",
           "incident_trends": "Incident trends", "explore": "Evidence exploration"}


def _markdown() -> MarkdownIt:
    # CommonMark (raw HTML allowed: it is sanitized after rendering) plus GitHub tables.
    return MarkdownIt("commonmark").enable("table")


_MD = _markdown()
_HEADING = re.compile(r"<(h[1-6])>(.*?)</\1>", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def heading_id(text: str) -> str:
    """The anchor a heading gets: its text with spaces as ``-`` (nbconvert's rule, so old links hold)."""
    return html_lib.unescape(_TAGS.sub("", text)).strip().replace(" ", "-")


def render_markdown(text: str) -> str:
    """Markdown -> sanitized HTML; each heading carries its id and a ``¶`` link to itself."""
    def anchor(m: re.Match[str]) -> str:
        ident = html_lib.escape(heading_id(m.group(2)), quote=True)
        return f'<{m.group(1)} id="{ident}">{m.group(2)}<a class="anchor-link" href="#{ident}">¶</a></{m.group(1)}>'

    return clean_html(_HEADING.sub(anchor, _MD.render(text)))


def cell_text(value: Any) -> str:
    """A notebook string field (a cell's source, an output's text): one string or a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value or "")


def _image(data: str, mime: str, meta: dict[str, Any]) -> str:
    payload = "".join(data.split())
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return '<p class="eafix-note">(a figure whose image data is not valid base64 was left out)</p>'
    attrs = f'src="data:{mime};base64,{payload}"'
    width = meta.get("width")
    if isinstance(width, (int, float)) and not isinstance(width, bool) and width > 0:
        attrs += f' width="{int(width)}"'
    alt = html_lib.escape(str(meta.get("alt") or "figure"), quote=True)
    return f'<div class="jp-RenderedImage jp-OutputArea-output"><img {attrs} alt="{alt}"></div>'


def _rich_output(out: dict[str, Any]) -> str:
    data = out.get("data") or {}
    for mime in _MIME_ORDER:
        if mime not in data:
            continue
        value = cell_text(data[mime])
        if mime == "text/html":
            return f'<div class="jp-RenderedHTMLCommon jp-OutputArea-output">{clean_html(value)}</div>'
        if mime.startswith("image/"):
            return _image(value, mime, (out.get("metadata") or {}).get(mime) or {})
        if mime == "text/markdown":
            return f'<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-OutputArea-output">{render_markdown(value)}</div>'
        return _pre(value, "jp-RenderedText")
    return ""


def _pre(text: str, cls: str) -> str:
    return f'<div class="{cls} jp-OutputArea-output"><pre>{html_lib.escape(_ANSI.sub("", text))}</pre></div>'


def _output(out: dict[str, Any]) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        stderr = out.get("name") == "stderr"
        return _pre(cell_text(out.get("text")), "jp-RenderedText stderr" if stderr else "jp-RenderedText")
    if kind in ("display_data", "execute_result"):
        return _rich_output(out)
    if kind == "error":
        trace = "\n".join(cell_text(t) for t in out.get("traceback") or []) or f"{out.get('ename')}: {out.get('evalue')}"
        return _pre(trace, "jp-RenderedText stderr")
    return ""


def _cells(nb: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    for cell in nb.get("cells") or []:
        tags = set((cell.get("metadata") or {}).get("tags") or [])
        if tags & _SKIPPED_TAGS:
            continue
        if cell.get("cell_type") == "markdown":
            body = render_markdown(cell_text(cell.get("source")))
            parts.append(f'<div class="jp-Cell jp-MarkdownCell"><div class="jp-RenderedHTMLCommon jp-RenderedMarkdown">{body}</div></div>')
        elif cell.get("cell_type") == "code":
            outs = "".join(_output(o) for o in cell.get("outputs") or [] if isinstance(o, dict))
            if outs:
                parts.append(f'<div class="jp-Cell jp-CodeCell">{outs}</div>')
    return parts


_SECTION = re.compile(r'<(h[23]) id="([^"]*)">(.*?)<a class="anchor-link"', re.DOTALL)


def _contents(parts: list[str]) -> tuple[list[dict[str, str]], int | None]:
    """The ``##``/``###`` headings of the Markdown cells, and the index of the first ``##`` cell."""
    entries: list[dict[str, str]] = []
    first: int | None = None
    for i, part in enumerate(parts):
        if not part.startswith('<div class="jp-Cell jp-MarkdownCell">'):
            continue
        for level, ident, text in _SECTION.findall(part):
            if level == "h2" and first is None:
                first = i
            entries.append({"level": f"toc-{level}", "id": html_lib.unescape(ident),
                            "text": html_lib.unescape(_TAGS.sub("", text)).strip()})
    return entries, first


@functools.cache
def _page() -> tuple[jinja2.Template, str]:
    """The page template and its stylesheet (package data: read once per process)."""
    loader = jinja2.FunctionLoader(lambda name: _TEMPLATES.joinpath(name).read_text(encoding="utf-8"))
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("page.html.j2"), _TEMPLATES.joinpath("report.css").read_text(encoding="utf-8")


def report_title(nb: dict[str, Any], ipynb: Path) -> str:
    """The page title: the incident id first (what a tab or a bookmark must show), then the report."""
    meta = nb.get("metadata") or {}
    name = _TITLES.get(ipynb.stem, ipynb.stem.replace("_", " "))
    params = (meta.get("papermill") or {}).get("parameters") or {}
    incident = str(params.get("incident_id") or "")
    if ipynb.stem == "incident_trends" or not incident:
        return str(meta.get("title") or name)
    return f"{incident} — {name}"


def read_notebook(ipynb: Path) -> dict[str, Any]:
    """The notebook's JSON; a clear ReportError naming the file when it is not a notebook."""
    try:
        nb = json.loads(ipynb.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{ipynb}: unreadable notebook: {exc}") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ReportError(f"{ipynb}: unreadable notebook: no list of cells")
    return nb


def notebook_html(nb: dict[str, Any], title: str) -> str:
    """The whole page for a notebook's outputs."""
    parts = _cells(nb)
    contents, first = _contents(parts)
    template, css = _page()
    page = template.render(
        title=title, css=css, contents=contents, contents_at=first,
        cells=[markupsafe.Markup(p) for p in parts],
    )
    return _strip_event_handlers(page)


def export_html(ipynb: Path, html: Path) -> Path:
    """Export an executed notebook to one self-contained, sanitized HTML file without code."""
    nb = read_notebook(ipynb)
    try:
        page = notebook_html(nb, report_title(nb, ipynb))
    except (jinja2.TemplateError, OSError) as exc:
        raise ReportError(f"{ipynb}: HTML export failed: {exc}") from exc
    write_new_file(html, page.encode("utf-8"))
    return html


# The allowlist keeps what reports need and nothing that runs: no script/style/iframe/object,
# no on* attributes, no javascript: links, and images only as inline data.
_ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
_ALLOWED_ATTRS = {
    "*": ["class", "id", "title", "align", "colspan", "rowspan", "scope"],
    "td": ["data-label"],
    "a": ["href", "name"],
    "img": ["src", "alt", "width", "height"],
    "ol": ["start"],
    "table": ["border"],
}
_URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})
_RELATIVE_LINK = re.compile(r"(?:\.\./)*[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.(?:html|md)(?:#[A-Za-z0-9_-]*)?")


def _attribute_ok(tag: str, name: str, value: str) -> bool:
    if name.lower().startswith("on"):
        return False
    if tag == "img" and name == "src":
        return value.startswith("data:image/")
    if tag == "a" and name == "href":
        # Absolute web links, anchors, or a relative path to another report in the same
        # output folder (no scheme, no "//": nothing that could run or leave the folder tree).
        return value.startswith(("#", "http://", "https://", "mailto:")) or bool(_RELATIVE_LINK.fullmatch(value))
    return name in _ALLOWED_ATTRS.get(tag, ()) or name in _ALLOWED_ATTRS["*"]


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    return value if _attribute_ok(tag, name, value) else None


# nh3 takes the allowlist as sets; the callable above still decides each value.
_NH3_ATTRS = {tag: set(names) for tag, names in _ALLOWED_ATTRS.items()}


def clean_html(element: str | bytes) -> str:
    """Sanitize one HTML fragment (a Markdown cell or an output) for the report.

    nh3 (the Rust ammonia sanitizer): tags outside the allowlist are dropped with their text
    kept, except <script>/<style>, which go with their content; comments go; links get no
    added ``rel`` so the output matches the allowlist exactly.
    """
    text = element.decode() if isinstance(element, bytes) else str(element)
    return nh3.clean(
        text,
        tags=set(_ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes=_NH3_ATTRS,
        attribute_filter=_attribute_filter,
        url_schemes=set(_URL_SCHEMES),
        strip_comments=True,
        link_rel=None,
    )


_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_ON_ATTR = re.compile(r"""\s on[a-z]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE | re.VERBOSE)


def _strip_event_handlers(page: str) -> str:
    # Belt and braces behind the sanitizer: no inline event handler survives in a tag.
    return _TAG.sub(lambda m: _ON_ATTR.sub("", m.group(0)), page)
