"""A followed site's feed, read into entries that can become posts (issue 16).

RSS 0.9x, 1.0 and 2.0 and Atom are read by feedparser, JSON Feed 1.0 and 1.1 here with
`json` (feedparser does not know it). Whatever the format, an entry comes out the same:
a one-line title, the author's name, an aware UTC date, the body as a sanitized HTML
fragment (the full content when the feed carries it, else its summary) and its page's
canonical URL without its tracking parameters (as `postroom add` keeps a page's), so an
entry shared with utm_* is found to be the page the curator added by hand.

feedparser is asked only to parse: its own sanitizer and relative-URI rewriter are
pure-Python HTML passes that cost more than the parse itself, and everything it hands
back is untrusted anyway. Links inside a body are made absolute with lxml against the
entry's base (xml:base, against the feed's URL) and the result goes through `clean_html`,
which is what makes it safe. The encoding is feedparser's to find, from the bytes, the
server's charset and the XML declaration, as RFC 7303 has it (a charset the server
named, else the declaration, else UTF-8; text/xml gets no US-ASCII default).

Anything that is not a feed (an HTML page, bytes no parser recovers anything from, JSON
that is not a JSON Feed, nothing at all) is a FeedError with one line saying which;
a feed with a flaw feedparser recovers from (an undefined entity, a wrong charset) is
read, not refused.
"""

from __future__ import annotations

import html
import io
import json
import re
import time
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe
from lxml import etree
from lxml import html as lxml_html
from postroom.content.fetch import Fetched
from postroom.content.links import canonical
from postroom.core.model import LeadImage
from postroom.core.sanitize import (
    bom_encoding,
    clean_html,
    html_to_text,
    one_line,
    summarize,
    text_to_html,
)
from postroom.core.urls import absolute_html, lead_image

_JSON_FEED_PREFIX = "https://jsonfeed.org/version/"
_JSON_KINDS = {"1": "json10", "1.1": "json11"}
_JSON_TYPES = frozenset({"application/json", "application/feed+json"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# feedparser's names for an HTML body and a plain-text one (Atom's html/xhtml/text)
_HTML_BODY = frozenset({"", "text/html", "application/xhtml+xml", "html", "xhtml"})
_TEXT_BODY = frozenset({"text/plain", "text"})
# the document's first element is <html> (or its doctype is): a page, not a feed
_HTML_START = re.compile(
    rb"(?:\s|<\?.*?\?>|<!--.*?-->)*+<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL
)
_MARKUP = re.compile(r"<[a-zA-Z!/?]")
_SCHEME = re.compile(r"\s*[a-zA-Z][a-zA-Z0-9+.\-]*:")  # a link with one is not relative
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
_TITLE_WORDS = 80  # characters of text a title without one is made from
_REASON_LENGTH = 200
# elements whose start and end break a paragraph (a list item also gets its bullet)
_BLOCKS = {
    "p", "div", "section", "article", "header", "footer", "aside", "main", "nav", "br", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol", "li", "dl", "dt",
    "dd", "table", "caption", "thead", "tbody", "tfoot", "tr", "figure", "figcaption",
    "address", "details", "summary",
}  # fmt: skip
_CELLS = {"td", "th"}
_UNSEEN = {"script", "style", "template"}
_BULLET = "• "


class FeedError(Exception):
    """Why a fetched body is not a feed we can read: one line."""


@dataclass(frozen=True)
class FeedEntry:
    id: str  # the entry's id / guid / JSON Feed id, "" when it has none
    link: str  # absolute URL of the entry's page, canonical (no tracking parameters); or ""
    title: str  # one line of plain text; else the text's first words; "" only with no text
    author: str  # one line; "" if none
    published: datetime | None  # aware, UTC: published, else updated, else None
    html: str  # the body, sanitized by clean_html: full content, else the summary; or ""
    tags: tuple[str, ...]  # categories, one line each, deduplicated, in order
    full: bool  # `html` is the full content (not only a summary)
    # its picture: media:thumbnail, an image media:content or enclosure, JSON Feed's image
    image: LeadImage | None = None

    def text(self) -> str:
        """The body as plain-text paragraphs split by blank lines, for a Markdown post:
        each block (paragraph, heading, quote, table row) one paragraph, each list item
        one "• item" paragraph (`core.sanitize.text_to_html` makes those a list again),
        whitespace folded, no HTML left."""
        return "\n\n".join(_paragraphs(self.html))


@dataclass(frozen=True)
class SourceFeed:
    title: str  # one line; "" if none
    link: str  # the site's home page, "" if none
    entries: tuple[FeedEntry, ...]  # in document order
    kind: str  # feedparser's version ("rss20", "rss10", "rss091u", "atom10", ...) or "json11"


def read_feed(fetched: Fetched) -> SourceFeed:
    """The feed in `fetched`, or FeedError saying in one line why it is not one."""
    if fetched.status == 304:
        raise FeedError("not modified since it was last fetched: nothing to read")
    start = fetched.body.removeprefix(b"\xef\xbb\xbf").lstrip()[:4096]
    if not start:
        raise FeedError("an empty body, not a feed")
    first = start[:1]
    if first in (b"{", b"[") or (fetched.content_type in _JSON_TYPES and first != b"<"):
        return _read_json(fetched)
    if _HTML_START.match(start):
        raise FeedError("an HTML page, not a feed")
    return _read_xml(fetched)


# RSS, RDF and Atom, through feedparser


def _read_xml(fetched: Fetched) -> SourceFeed:
    charset = f"; charset={fetched.charset}" if fetched.charset else ""
    # no Content-Location: with a base, feedparser joins URLs at every element (a third
    # of its time); the few links that need it are joined against the feed's URL here
    headers = {"content-type": "application/xml" + charset}
    try:
        parsed = feedparser.parse(
            io.BytesIO(fetched.body),  # bytes, never a str: feedparser opens a str as a path
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # untrusted bytes: whatever trips feedparser is the feed's doing
        raise FeedError(f"not a feed: {_reason(exc)}") from None
    version = str(parsed.get("version") or "")
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, ThingsNobodyCaresAboutButMe):  # a charset it recovered from
        problem = None
    feed = parsed.get("feed") or {}
    found = [entry for entry in parsed.get("entries") or [] if isinstance(entry, Mapping)]
    if not version:
        if fetched.content_type in _HTML_TYPES:
            raise FeedError("an HTML page, not a feed")
        why = _reason(problem, fetched.body) if problem else "no RSS, RDF or Atom document element"
        raise FeedError(f"not a feed: {why}")
    typed = version.startswith("atom")
    title = _title(feed.get("title_detail"), feed.get("title"), typed)
    if problem and not found and not title:
        raise FeedError(f"not a feed: {_reason(problem, fetched.body)}")
    # Atom: an entry without an author is written by the feed's (RFC 4287 4.2.1); an RSS
    # channel's managingEditor is no such thing
    inherited = _person(feed) if typed else ""
    entries = (_xml_entry(entry, fetched.url, inherited, typed) for entry in found)
    return SourceFeed(
        title=title,
        link=_web_url(fetched.url, feed.get("link")),
        entries=tuple(entry for entry in entries if entry is not None),
        kind=version,
    )


def _xml_entry(entry: Mapping, base: str, inherited: str, typed: bool) -> FeedEntry | None:
    body, full = "", False
    contents = [c for c in entry.get("content") or [] if isinstance(c, Mapping)]
    # an HTML alternative before a plain one, when a feed gives both
    contents.sort(key=lambda c: str(c.get("type") or "").lower() not in _HTML_BODY)
    for content in contents:
        if body := _body(content, base):
            full = True
            break
    if not body:
        body = _body(entry.get("summary_detail"), base)
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    link = entry.get("link")
    if entry.get("guidislink") and link == entry.get("id") and not _SCHEME.match(link or ""):
        link = ""  # an RSS guid not marked isPermaLink="false", but no URL: "post-4412"
    link = _web_url(base, link)
    return _kept(
        FeedEntry(
            id=_text(entry.get("id")),
            link=canonical(link) if link else "",
            title=_title(entry.get("title_detail"), entry.get("title"), typed),
            author=_person(entry) or inherited,
            published=_from_struct(stamp),
            html=body,
            tags=_tags(tag.get("label") or tag.get("term") for tag in _mappings(entry.get("tags"))),
            full=full,
            image=_xml_image(entry, base),
        )
    )


def _xml_image(entry: Mapping, base: str) -> LeadImage | None:
    """The entry's picture, the first a feed reader would show: Media RSS's thumbnail,
    else an image media:content, else an image enclosure (RSS's, Atom's rel="enclosure"),
    whose type and length the feed says."""
    for thumbnail in _mappings(entry.get("media_thumbnail")):
        if image := lead_image(thumbnail.get("url"), "", base):
            return image
    for content in _mappings(entry.get("media_content")):
        kind = str(content.get("type") or "")
        if content.get("medium") == "image" or kind.startswith("image/"):
            size = content.get("filesize") or content.get("fileSize")
            if image := lead_image(content.get("url"), "", base, kind, size):
                return image
    for link in _mappings(entry.get("links")):
        kind = str(link.get("type") or "")
        image = lead_image(link.get("href"), "", base, kind, link.get("length"))
        if link.get("rel") == "enclosure" and kind.startswith("image/") and image:
            return image
    return None


def _body(detail: object, base: str) -> str:
    """A feedparser content or summary ({type, value, base}) as a sanitized fragment."""
    if not isinstance(detail, Mapping):
        return ""
    value = detail.get("value")
    kind = str(detail.get("type") or "").lower()
    if not isinstance(value, str) or not value.strip():
        return ""
    if kind in _TEXT_BODY:
        return _text_html(value)
    if kind not in _HTML_BODY:  # base64 image or other media as "content": no text
        return ""
    return _html(value, _web_url(base, detail.get("base")) or base)  # xml:base, if any


def _title(detail: object, fallback: object, typed: bool) -> str:
    """One line of plain text, HTML unescaped and stripped of tags. Only Atom says which a
    title is (type="text": a "<" is a "<"); an RSS title is read as HTML whatever
    feedparser guessed from its tags, so "<script>" in one is not kept as text."""
    if isinstance(detail, Mapping) and isinstance(detail.get("value"), str):
        value, kind = detail["value"], str(detail.get("type") or "").lower()
    elif isinstance(fallback, str):
        value, kind = fallback, "text/html"
    else:
        return ""
    plain = (typed and kind in _TEXT_BODY) or ("<" not in value and "&" not in value)
    return one_line(value if plain else html_to_text(value))


def _person(item: Mapping) -> str:
    """The author's name: RSS "email (Name)" gives Name, an address alone gives nothing
    (a post does not publish someone's email address)."""
    detail = item.get("author_detail")
    if isinstance(detail, Mapping) and (name := _text(detail.get("name"))):
        return name
    raw = _text(item.get("author"))
    return "" if "@" in raw else raw


def _from_struct(stamp: object) -> datetime | None:
    """feedparser's *_parsed: a UTC struct_time."""
    if not isinstance(stamp, time.struct_time):
        return None
    try:
        return datetime(*stamp[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _reason(exc: BaseException | None, body: bytes = b"") -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        # feedparser puts its own XML declaration in, on a line of its own when the feed
        # had none: the line is the feed's again, the column no longer is
        added = not body.removeprefix(b"\xef\xbb\xbf").startswith(b"<?xml")
        said = f"line {max(1, exc.getLineNumber() - added)}: {exc.getMessage()}"
    else:
        said = str(exc or "") or type(exc).__name__
    said = one_line(said)
    return said if len(said) <= _REASON_LENGTH else said[: _REASON_LENGTH - 1] + "…"


# JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/)


def _read_json(fetched: Fetched) -> SourceFeed:
    body = fetched.body
    encoding = bom_encoding(body) or fetched.charset or "utf-8"
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know: JSON is UTF-8 anyway
        text = body.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"invalid JSON: {_reason(exc)}") from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not version.startswith(_JSON_FEED_PREFIX):
        raise FeedError(f"JSON but not a JSON Feed (no {_JSON_FEED_PREFIX}… version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedError("a JSON Feed without an items list")
    # relative URLs are the feed's: against its feed_url, else where it was fetched
    base = _web_url(fetched.url, doc.get("feed_url")) or fetched.url
    inherited = _json_author(doc)
    entries = (_json_entry(item, base, inherited) for item in items if isinstance(item, dict))
    return SourceFeed(
        title=_text(doc.get("title")),
        link=_web_url(base, doc.get("home_page_url")),
        entries=tuple(entry for entry in entries if entry is not None),
        kind=_JSON_KINDS.get(version.removeprefix(_JSON_FEED_PREFIX), "json"),
    )


def _json_entry(item: dict, base: str, inherited: str) -> FeedEntry | None:
    raw_id = item.get("id")
    page = _web_url(base, item.get("url")) or _web_url(base, item.get("external_url"))
    # its HTML was written for the item's page, so that is what its relative URLs mean
    content_html, content_text = item.get("content_html"), item.get("content_text")
    body, full = "", False
    if isinstance(content_html, str) and content_html.strip():
        body, full = _html(content_html, page or base), True
    if not body and isinstance(content_text, str) and content_text.strip():
        body, full = _text_html(content_text), True
    if not body and isinstance(item.get("summary"), str):
        body, full = _text_html(item["summary"]), False  # plain text, by the spec
    stamp = _from_rfc3339(item.get("date_published")) or _from_rfc3339(item.get("date_modified"))
    return _kept(
        FeedEntry(
            id=_text(raw_id) if not isinstance(raw_id, bool) else "",
            link=canonical(page) if page else "",
            title=_text(item.get("title")),  # plain text, by the spec: "<" is a "<"
            author=_json_author(item) or inherited,  # 1.1: the feed's authors are the item's
            published=stamp,
            html=body,
            tags=_tags(item.get("tags") if isinstance(item.get("tags"), list) else ()),
            full=full,
            image=lead_image(item.get("image"), "", base),
        )
    )


def _json_author(holder: dict) -> str:
    """1.1's `authors` (the first with a name), else 1.0's `author`."""
    authors = holder.get("authors")
    people = [*(authors if isinstance(authors, list) else ()), holder.get("author")]
    for person in people:
        if isinstance(person, dict) and (name := _text(person.get("name"))):
            return name
    return ""


def _from_rfc3339(value: object) -> datetime | None:
    """RFC 3339 (lower-case t and z too); no offset is taken to mean UTC."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().upper())
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    except (ValueError, OverflowError):  # "0001-01-01T00:00:00+01:00" is before year 1 in UTC
        return None


# shared by both


def _kept(entry: FeedEntry) -> FeedEntry | None:
    """The entry, titled with its text's first words when it has no title; None when it
    has nothing to post (no id, link, title or text)."""
    if entry.title:  # the usual entry: its text need not be read here
        return entry
    if paragraphs := _paragraphs(entry.html):
        words = " ".join(p.removeprefix(_BULLET) for p in paragraphs)
        return replace(entry, title=summarize(words, _TITLE_WORDS))
    return entry if entry.id or entry.link else None


def _html(fragment: str, base: str) -> str:
    """An HTML body, its relative links made absolute against `base`, sanitized. A body
    with no markup at all is plain text in an HTML field: its blank lines are paragraphs."""
    if not _MARKUP.search(fragment):
        return _text_html(html.unescape(fragment))
    return clean_html(absolute_html(fragment, base))


def _text_html(text: str) -> str:
    """Plain text as paragraphs of HTML, split where it has blank lines."""
    paragraphs = [one_line(part) for part in _PARAGRAPH_BREAK.split(text)]
    return clean_html(text_to_html([part for part in paragraphs if part]))


def _paragraphs(fragment: str) -> list[str]:
    """Sanitized HTML as paragraphs of plain text, list items "• " first."""
    if not fragment.strip():
        return []
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.LxmlError, ValueError):
        return [text] if (text := one_line(html_to_text(fragment))) else []
    out: list[str] = []
    words: list[str] = []
    bullet = False

    def flush() -> None:
        nonlocal bullet
        text = one_line("".join(words))
        words.clear()
        if text:
            out.append(_BULLET + text if bullet else text)
            bullet = False

    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""  # "": a comment
        if event == "start":
            if tag in _BLOCKS:
                flush()
                bullet = tag == "li" or (bullet and tag not in ("ul", "ol"))
            if tag and tag not in _UNSEEN and element.text:
                words.append(element.text)
            continue
        if tag in _BLOCKS:
            flush()
            bullet = False
        elif tag in _CELLS:
            words.append(" ")
        if element is not root and element.tail:
            words.append(element.tail)
    flush()
    return out


def _web_url(base: str, ref: object) -> str:
    """`ref` made absolute against `base` (the feed's URL, an xml:base), if that is an
    http(s) URL with a host; else "" (a javascript: link is no post's source)."""
    if not isinstance(ref, str) or not (ref := one_line(ref)):
        return ""
    try:
        url = urljoin(base, ref)
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unclosed IPv6 bracket, a bad port
        return ""
    if parts.scheme not in ("http", "https") or not host:
        return ""
    return url


def _text(value: object) -> str:
    """One line of a field that should be a string; a number is coerced, anything else is
    nothing."""
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _mappings(value: object) -> list[Mapping]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _tags(values: Iterable[object]) -> tuple[str, ...]:
    """One line each, the first spelling of each kept (Python and python are one tag)."""
    seen: dict[str, str] = {}
    for value in values:
        if isinstance(value, str) and (tag := one_line(value)):
            seen.setdefault(tag.casefold(), tag)
    return tuple(seen.values())
