"""A page the curator links to, as an editable post (`postroom add URL`).

trafilatura reads the page as it reads a saved one: its main text, and from its
metadata (Open Graph, JSON-LD, meta tags; the date through htmldate) the title, the
author, the publication's name and the date. The post is written as Markdown with front
matter, so the curator can correct what the page got wrong before the next scan
publishes it, and its attribution is the page's: source, author, original URL and date.
The URL kept is the page's canonical one (og:url, else where the fetch ended), with
tracking parameters (utm_*, fbclid, ...) removed by courlan, so the same article added
twice, however it was shared, is found to be one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit, urlunsplit

import courlan
import trafilatura
import yaml
from postroom.content.fetch import Fetched
from postroom.content.webpage import page_image
from postroom.core.model import LeadImage
from postroom.core.sanitize import one_line
from postroom.core.slug import slugify
from postroom.core.urls import image_type, lead_image

#: where added links are written, inside content/
LINKS_FOLDER = "links"


def canonical(url: str) -> str:
    """The URL without its tracking parameters (courlan), its #fragment (a place in the
    page, `#:~:text=` a shared quote) and any user:password@ (never to be published);
    as given, less those, if courlan cannot read it."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        url = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
    except ValueError:  # "http://a]b/": courlan gives it back as it is, or nothing
        pass
    return courlan.clean_url(url) or url


@dataclass(frozen=True)
class Link:
    url: str  # canonical
    title: str
    author: str
    source: str  # the publication: the page's site name
    published: str  # YYYY-MM-DD, an ISO time when the source gives one, or "" for none
    text: str  # the main text, paragraphs split by blank lines
    image: LeadImage | None = None  # the page's picture (og:image, else its first photo)

    def missing(self) -> list[str]:
        """What the page did not say, in the words `add` prints."""
        gaps = [
            ("no date: dated when first picked up", self.published),
            ("no author", self.author),
            ("no publication name", self.source),
            ("no text found", self.text),
        ]
        return [said for said, value in gaps if not value]


def read_link(fetched: Fetched) -> Link:
    """The page's post, as far as the page tells."""
    try:
        html = fetched.body.decode(fetched.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know ("x-unknown"): UTF-8 is likeliest
        html = fetched.body.decode("utf-8", errors="replace")
    found = trafilatura.bare_extraction(
        html, url=fetched.url, with_metadata=True, include_comments=False
    )
    meta = {
        name: one_line(str(getattr(found, name, "") or "")) if found is not None else ""
        for name in ("title", "author", "sitename", "date", "url")
    }
    paragraphs = [one_line(line) for line in (getattr(found, "text", "") or "").splitlines()]
    paragraphs = [line for line in paragraphs if line]
    if paragraphs and paragraphs[0] == meta["title"]:
        paragraphs = paragraphs[1:]  # the headline again, as the body's first line
    return Link(
        url=canonical(meta["url"] or fetched.url),
        title=meta["title"] or canonical(fetched.url),
        author=meta["author"],
        source=meta["sitename"].rpartition("@")[2]
        if " " not in meta["sitename"]
        else meta["sitename"],
        published=meta["date"][:10],
        text="\n\n".join(paragraphs),
        # resolved against where the page was served from: its relative URLs mean that
        image=page_image(html, fetched.url)
        or lead_image(getattr(found, "image", None), "", fetched.url),
    )


def _no_password(name: str) -> str:
    """A site name that is a host with a user:password@ before it (trafilatura falls back
    on the URL's), without them."""
    return name.rpartition("@")[2] if " " not in name else name


def link_file_name(link: Link, today: date, folder: str = LINKS_FOLDER) -> str:
    """<folder>/<date>-<slug>.md, inside content/: the page's date, else today's."""
    day = link.published[:10] or today.isoformat()
    return f"{folder}/{day}-{slugify(link.title, max_length=60) or 'link'}.md"


def link_post(
    link: Link, tags: tuple[str, ...] = (), comment: str = "", *, post_id: str = ""
) -> str:
    """The Markdown post, front matter first: what the page said, for the curator to edit.
    `post_id` keeps two articles of one title and day apart (a post is otherwise known
    by its day and title). With no text found, the post is a link to the article."""
    meta: dict[str, object] = {"title": link.title}
    if post_id:
        meta["id"] = post_id
    if len(link.published) > 10:  # a time: written as a YAML timestamp, read back as one
        meta["date"] = datetime.fromisoformat(link.published)
    elif link.published:
        meta["date"] = link.published
    for key, value in (("author", link.author), ("source", link.source)):
        if value:
            meta[key] = value
    meta["source_url"] = link.url
    if link.image is not None:  # the curator can change or remove it before it is published
        meta["image"] = link.image.url
        if link.image.alt:
            meta["image_alt"] = link.image.alt
        meta |= image_size(link.image)
    if tags:
        meta["tags"] = list(tags)
    if comment.strip():
        meta["comment"] = comment.strip()
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    body = link.text or f"Read it at [{_escaped(link.source or link.url)}](<{link.url}>)."
    return f"---\n{head}---\n{body}\n"


def image_size(image: LeadImage) -> dict[str, object]:
    """What the front matter must say of an image beyond its URL for the post's feeds to
    give it as an enclosure: its length in bytes when known (a followed feed's enclosure
    or media:content says it), with its type; its type alone when the URL's extension
    would not tell it. Nothing for a picture whose extension says all there is."""
    if image.length and image.media_type:
        return {"image_type": image.media_type, "image_length": image.length}
    if image.media_type and image.media_type != image_type(image.url):
        return {"image_type": image.media_type}
    return {}


def _escaped(text: str) -> str:
    """Text that Markdown shows as it is, inside a link's brackets."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", text)
