"""Sanitized HTML as plain text for the email's text part, so both alternatives say the same.

No HTML-to-text converter is among the pinned dependencies, so this is a small one on
lxml (already pinned), for the markup `core.sanitize.clean_html` lets through:
paragraphs wrapped at 72 columns, lists with their markers, quotes with "> ", code kept
as it is, table rows as cells joined by " | ", and each link's URL as a numbered
reference listed after the text ("the report [1]" … "[1] https://…"), so a sentence
still reads as a sentence and every URL stays whole on its own line.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from lxml import etree, html
from postroom.core.sanitize import one_line

WIDTH = 72
_SKIP = {"script", "style", "head", "title", "template"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# elements whose content starts a new paragraph (lists, quotes, code, tables, br and hr
# are handled by name)
_BLOCKS = {
    "p", "div", "section", "article", "header", "footer", "aside", "main", "nav",
    "figure", "figcaption", "dl", "dt", "dd", "address", "details", "summary",
    "caption", "thead", "tbody", "tfoot", *_HEADINGS,
}  # fmt: skip


@dataclass
class _Writer:
    indent: str
    links: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # the paragraph being gathered
    marker: str = ""  # a list item's "- " or "3. ", put before its first line …
    outer: str = ""  # … after this prefix (its other lines are indented under its text)

    def flush(self, prefix: str, gap: bool = True) -> None:
        """The gathered words as one wrapped paragraph; a blank line after it if `gap`."""
        text = one_line("".join(self.words))
        self.words = []
        if not text:
            return
        first = self.outer + self.marker if self.marker else prefix
        rest = prefix
        self.marker = ""
        self.lines += textwrap.wrap(
            text,
            max(WIDTH, len(rest) + 20),
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,  # a URL or a long word stays whole
            break_on_hyphens=False,
        )
        if gap:
            self.gap(prefix)

    def gap(self, prefix: str) -> None:
        """A blank line (inside a quote, a bare '>'), never two."""
        if self.lines and self.lines[-1].strip() != prefix.strip():
            self.lines.append(prefix.rstrip())

    def link(self, href: str, text: str) -> str:
        """'text [n]', or the URL alone when the text is the URL."""
        if not href or href.startswith("#"):
            return ""
        if one_line(text) in (href, href.removeprefix("mailto:")):
            return ""
        if href not in self.links:
            self.links.append(href)
        return f" [{self.links.index(href) + 1}]"


def _walk(el: etree._Element, w: _Writer, prefix: str) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if not tag or tag in _SKIP:  # a comment or processing instruction: only its tail counts
        return
    if tag == "br":
        w.flush(prefix, gap=False)
    elif tag == "hr":
        w.flush(prefix)
    elif tag == "img":
        if alt := one_line(el.get("alt") or ""):
            w.words.append(f"[image: {alt}]")
    elif tag == "pre":
        w.flush(prefix)
        w.lines += [prefix + line for line in el.text_content().rstrip("\n").split("\n")]
        w.gap(prefix)
    elif tag in ("ul", "ol"):
        w.flush(prefix)
        items = [li for li in el if li.tag == "li"]
        for n, li in enumerate(items, start=1):
            w.marker, w.outer = (f"{n}. " if tag == "ol" else "- "), prefix
            inner = prefix + " " * len(w.marker)
            _children(li, w, inner)
            w.flush(inner, gap=False)
            w.marker = ""
        w.gap(prefix)
    elif tag == "blockquote":
        w.flush(prefix)
        _children(el, w, prefix + "> ")
        w.flush(prefix + "> ", gap=False)
        while w.lines and w.lines[-1] == (prefix + ">").rstrip():  # no empty quote line last
            w.lines.pop()
        w.gap(prefix)
    elif tag == "tr":
        cells = [one_line(cell.text_content()) for cell in el if cell.tag in ("td", "th")]
        w.flush(prefix, gap=False)
        w.words.append(" | ".join(cells))
        w.flush(prefix, gap=False)
    elif tag == "table":
        w.flush(prefix)
        _children(el, w, prefix)
        w.gap(prefix)
    elif tag == "a":
        start = len(w.words)
        _children(el, w, prefix)
        w.words.append(w.link(el.get("href", "").strip(), "".join(w.words[start:])))
    elif tag in _BLOCKS:
        w.flush(prefix)
        _children(el, w, prefix)
        w.flush(prefix)
    else:  # inline: em, strong, code, span, sub, …
        _children(el, w, prefix)
    if el.tail:
        w.words.append(el.tail)


def _children(el: etree._Element, w: _Writer, prefix: str) -> None:
    if el.text:
        w.words.append(el.text)
    for child in el:
        _walk(child, w, prefix)
        if not isinstance(child.tag, str) and child.tail:  # a comment's tail
            w.words.append(child.tail)


def html_to_plain(fragment: str, indent: str = "") -> str:
    """The fragment as wrapped plain text, each line starting with `indent`, its links'
    URLs listed after it as '[n] URL'. Empty for an empty fragment."""
    if not fragment.strip():
        return ""
    root = html.fragment_fromstring(fragment, create_parent="div")
    w = _Writer(indent)
    _children(root, w, indent)
    w.flush(indent)
    lines = w.lines
    if w.links:
        lines += [f"{indent}[{n}] {url}" for n, url in enumerate(w.links, start=1)]
    while lines and not lines[-1].strip(" >"):
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)
