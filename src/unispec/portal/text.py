"""Turning spec-provided text into markdown that cannot break a page.

Descriptions in real documents carry HTML fragments, images pointing at other
hosts and pipes that would split a table cell. The portal must work offline and
keep every table intact, so every string taken from a spec passes through here.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Tags kept as HTML (harmless, no external resource); every other tag is escaped.
_SAFE_TAGS = frozenset(
    {"p", "a", "code", "strong", "em", "b", "i", "ul", "ol", "li", "br", "pre", "span"}
)
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)([^<>]*)>")
_HREF_RE = re.compile(r"""href\s*=\s*("[^"]*"|'[^']*')""")
_MD_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\(")
_SLUG_RE = re.compile(r"[^A-Za-z0-9_-]+")


def _tag(match: re.Match[str]) -> str:
    closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
    if name not in _SAFE_TAGS:
        return match.group(0).replace("<", "&lt;").replace(">", "&gt;")
    if closing:
        return f"</{name}>"
    if name == "a":
        href = _HREF_RE.search(attrs)
        return f"<a href={href.group(1)}>" if href else "<a>"
    return f"<{name}>"


def sanitize(text: Any) -> str:
    """Spec markdown made safe: unknown tags escaped, images turned into plain links.

    Images would make the browser fetch another host, which breaks the offline
    promise; stray tags like ``<T>`` in a description would swallow the page.
    """
    if not isinstance(text, str):
        return ""
    out = _MD_IMAGE_RE.sub(r"[\1](", text)
    # A lone "<" that does not start a tag must not open one.
    out = re.sub(r"<(?![A-Za-z/])", "&lt;", out)
    return _TAG_RE.sub(_tag, out)


def cell(text: Any, limit: int = 0) -> str:
    """One table cell: single line, pipes escaped, optionally shortened."""
    out = sanitize(text).strip()
    if limit and len(out) > limit:
        cut = out[:limit].rsplit(" ", 1)[0]
        out = cut + " …"
        # Never leave an HTML tag or code span half open inside a cell.
        out = _TAG_RE.sub("", out).replace("`", "")
    out = re.sub(r"\s*\n\s*", " ", out)
    return out.replace("|", "\\|")


def first_sentence(text: Any, limit: int = 160) -> str:
    """A short summary used in index tables, where full descriptions would bloat pages."""
    if not isinstance(text, str) or not text.strip():
        return ""
    plain = _TAG_RE.sub("", text).strip().split("\n\n", 1)[0]
    match = re.match(r"(.+?[.!?])(\s|$)", plain, re.S)
    short = match.group(1) if match else plain
    return cell(short, limit)


def slug(value: str) -> str:
    """A file or anchor name that survives every file system and URL."""
    out = _SLUG_RE.sub("-", value).strip("-")
    return out or "x"


def code_inline(value: Any) -> str:
    """Inline code that may itself contain backticks."""
    text = str(value).replace("\n", " ").replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def to_json(value: Any) -> str:
    """Stable, readable JSON for examples (key order as written in the spec)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def fence(body: str, lang: str = "") -> str:
    """A fenced code block whose fence cannot be closed by the body itself."""
    ticks = "```"
    while ticks in body:
        ticks += "`"
    return f"{ticks}{lang}\n{body}\n{ticks}"


_CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1", re.S)
_LINK_RE = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*")


def h(value: Any) -> str:
    """HTML-escape plain text (for values that must never be interpreted)."""
    return (
        str(value)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def hcode(value: Any) -> str:
    """Inline code in HTML; non-strings shown as JSON (``true``, not ``True``)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"<code>{h(text)}</code>"


def inline_html(text: Any, limit: int = 0) -> str:
    """Spec markdown (one paragraph's worth) as HTML for raw-HTML tables.

    Tables are emitted as raw HTML because Python-Markdown's inline processing
    of large tables dominated build time; this handles what descriptions use in
    cells: code spans, links, bold, safe tags. Paragraph breaks become ``<br>``.
    """
    out = sanitize(text).strip()
    if limit and len(out) > limit:
        out = _TAG_RE.sub("", out[:limit].rsplit(" ", 1)[0]).replace("`", "") + " …"
    codes: list[str] = []

    def keep_code(m: re.Match[str]) -> str:
        codes.append(
            "<code>" + m.group(2).strip().replace("&", "&amp;").replace("<", "&lt;") + "</code>"
        )
        return f"\x00{len(codes) - 1}\x00"

    out = _CODE_SPAN_RE.sub(keep_code, out)
    out = _LINK_RE.sub(lambda m: f'<a href="{h(m.group(2))}">{m.group(1)}</a>', out)
    out = _BOLD_RE.sub(r"<strong>\1</strong>", out)
    out = re.sub(r"\n\s*\n", "<br>", out).replace("\n", " ")
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], out)
