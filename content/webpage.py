"""Saved HTML pages: trafilatura finds the article and its metadata.

The article's relative links are made absolute against the original's URL (the
curator's sidecar `url`, else the page's canonical or og:url): "/2020/x" in a
captured article means the source's site, and nobody else can resolve it later.
Its lead image is the one the page offers for sharing (og:image, twitter:image),
else the first image of the article that is not a pixel, an icon or a logo.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import tzinfo
from html import escape
from typing import TYPE_CHECKING

from postroom.core.model import Attribution, DateSource, LeadImage, ParsedPost, ReadError
from postroom.core.sanitize import clean_html, html_to_text, one_line, summarize
from postroom.core.urls import absolute_html, lead_image, web_url

if TYPE_CHECKING:
    from lxml import etree

# the page's image for sharing, best first, and where its alt text is said
_META_IMAGES = (
    "og:image:secure_url",
    "og:image:url",
    "og:image",
    "twitter:image",
    "twitter:image:src",
)
_META_ALTS = ("og:image:alt", "twitter:image:alt")
# where an image is chrome, not the article's: links around the site, its footer, a sidebar
_CHROME = frozenset({"nav", "footer", "aside", "form"})
# an image too small to be a picture: a tracking pixel (1x1), an icon, a bullet
_SMALLEST_PICTURE = 50
# words in an image's file name, class, id or alt that say it is the site's, not the story's
_NOT_A_PICTURE = re.compile(
    r"(?<![a-z])(?:logo|icons?|favicon|avatar|gravatar|sprite|spacer|pixel|tracking|"
    r"badge|emoji|blank|transparent|1x1|placeholder|loading|spinner)(?![a-z])"
)
# where lazy-loading pages keep the real address while src holds a placeholder
_SOURCES = ("src", "data-src", "data-lazy-src", "data-original")


def page_image(text: str, page_url: str) -> LeadImage | None:
    """The lead image of an HTML page, its URL absolute against `page_url` (or the page's
    own <base href>): og:image or twitter:image when the page names one, else the first
    picture of its article (<article>, else <main>, else the body) that is not a tracking
    pixel, an icon, a logo or an SVG. Its alt text is the page's og:image:alt, else the
    <img>'s own alt, else "" (never the title: it stands beside the image wherever the
    image is shown, and a screen reader would read it twice). None when there is none."""
    from lxml import etree  # here, as in core.urls: the readers import this module
    from lxml import html as lxml_html

    try:
        doc = lxml_html.document_fromstring(text)
    except (etree.LxmlError, ValueError):  # an empty or unparsable page: no image
        return None
    base = page_url
    for href in doc.xpath("//base/@href")[:1]:
        base = web_url(href, page_url) or page_url
    metas: dict[str, str] = {}
    for meta in doc.iter("meta"):  # the first of a name: a page lists its main image first
        if name := _meta_name(meta):
            metas.setdefault(name, meta.get("content") or "")
    for name in _META_IMAGES:
        if image := lead_image(metas.get(name), "", base):
            alt = next((metas[n] for n in _META_ALTS if metas.get(n)), "") or _alt_of(
                doc, image.url, base
            )
            return lead_image(image.url, alt)
    for img in _candidates(doc):
        if image := lead_image(_source(img), img.get("alt") or "", base):
            return image
    return None


def _meta_name(meta: etree._Element) -> str:
    return (meta.get("property") or meta.get("name") or "").strip().lower()


def _candidates(doc: etree._Element) -> list[etree._Element]:
    """The <img>s that may be the article's picture, in document order."""
    scope = doc.xpath("//article//img") or doc.xpath("//main//img") or doc.xpath("//body//img")
    return [img for img in scope if _picture(img)]


def _picture(img: etree._Element) -> bool:
    if any(isinstance(a.tag, str) and a.tag in _CHROME for a in img.iterancestors()):
        return False
    sizes = [_pixels(img.get(side)) for side in ("width", "height")]
    if any(size is not None and size < _SMALLEST_PICTURE for size in sizes):
        return False
    source = _source(img) or ""
    said = " ".join((source.rsplit("?", 1)[0], img.get("class") or "", img.get("id") or ""))
    if _NOT_A_PICTURE.search(f"{said} {img.get('alt') or ''}".lower()):
        return False
    return not source.split("?", 1)[0].lower().endswith(".svg")


def _source(img: etree._Element) -> str | None:
    """The image's address: its src, or where a lazy loader keeps the real one."""
    for name in _SOURCES:
        value = (img.get(name) or "").strip()
        if value and not value.lower().startswith("data:"):
            return value
    return None


def _pixels(value: str | None) -> int | None:
    digits = (value or "").strip().removesuffix("px")
    return int(digits) if digits.isdigit() else None


def _alt_of(doc: etree._Element, url: str, base: str) -> str:
    """The alt text of the page's own <img> of `url`, if it shows that image."""
    for img in doc.iter("img"):
        if (source := _source(img)) and web_url(source, base) == url:
            return img.get("alt") or ""
    return ""


def read_webpage(text: str, tz: tzinfo, url: str | None = None) -> list[ParsedPost]:
    """The article in a saved page. `url` is the original's address when the curator's
    sidecar gives one: it wins over the page's own as the base of its relative links."""
    import trafilatura  # slow to import; only sites with saved pages pay for it

    body = trafilatura.extract(
        text, output_format="html", include_formatting=True, include_links=True
    )
    meta = trafilatura.extract_metadata(text)
    if not body:
        raise ReadError("no article text found in the page")
    title = one_line(meta.title or "") if meta else ""
    if not title:
        raise ReadError("no title found in the page")
    page_url = web_url(url) or web_url(meta.url) or ""
    html = clean_html(body)
    heading = f"<h1>{escape(title, quote=False)}</h1>"
    if html.startswith(heading):  # the page's own h1 repeats the title
        html = html[len(heading) :].lstrip()
    html = absolute_html(html, page_url)  # the source's links, on the source's site
    date = None
    if meta and meta.date:
        day = dt.date.fromisoformat(meta.date)
        date = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    return [
        ParsedPost(
            title=title,
            date=date,
            date_source=DateSource.HTML if date else None,
            body_html=html,
            summary=summarize(meta.description or html_to_text(html)),
            attribution=Attribution(
                source=meta.sitename or None,
                author=meta.author or None,
                url=meta.url or None,
            ),
            tags=tuple(sorted(set(meta.tags or ()))),
            image=page_image(text, page_url),
        )
    ]
