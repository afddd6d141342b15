"""Atom 1.0 and RSS 2.0 (feedgen) and JSON Feed 1.1 for one set of posts.

Everything written is a function of the posts and the config, never of the
clock, so a rebuild with nothing new is byte-identical and is not rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from lxml import etree

from content.model import Post
from content.sanitize import clean_html, one_line, strip_illegal
from content.site import Site
from feeds.credit import credit_html

ATOM_NS = "http://www.w3.org/2005/Atom"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedSet:
    """One family of feeds: the site's, a tag's or a source's."""

    folder: str  # "" or "tags/<slug>/" or "sources/<slug>/"
    title: str
    posts: Sequence[Post]  # the window, newest pick-up first


def window(posts: Sequence[Post], size: int) -> list[Post]:
    """The latest posts by pick-up time, not their own date: an old article added today is new."""
    return sorted(posts, key=lambda p: (p.picked_up, p.id), reverse=True)[:size]


def post_url(site: Site, post: Post) -> str:
    return f"{site.base_url}posts/{post.id}/"


def entry_id(site: Site, post: Post) -> str:
    """tag: URI minted once from the host and the pick-up day, so edits never change it."""
    host = urlsplit(site.base_url).hostname
    return f"tag:{host},{post.picked_up:%Y-%m-%d}:{post.id}"


def too_long(site: Site, post: Post) -> bool:
    """A body the feeds cut short (pages keep it whole)."""
    return len(post.body_html.encode()) > site.config.feed.max_content_kb * 1024


def feed_content(site: Site, post: Post) -> str:
    """Credit line plus body, cut to the configured size and repaired."""
    body = post.body_html
    if too_long(site, post):
        limit = site.config.feed.max_content_kb * 1024
        shortened = body.encode()[:limit].decode(errors="ignore").rsplit("<", 1)[0]
        body = clean_html(shortened) + (
            f'\n<p><a href="{post_url(site, post)}">Read the whole post</a></p>'
        )
    credit = credit_html(post)
    head = f'<p class="credit"><em>{credit}</em></p>\n' if credit else ""
    return strip_illegal(head + body)[0]


def _author(post: Post) -> str | None:
    return post.attribution.author or post.attribution.source


def _newest(posts: Sequence[Post]) -> datetime:
    return max((p.updated for p in posts), default=EPOCH)


def _generator(site: Site, feed: FeedSet, self_name: str) -> FeedGenerator:
    config = site.config
    fg = FeedGenerator()
    fg.load_extension("dc")
    fg.id(f"{site.base_url}{feed.folder}")
    fg.title(one_line(feed.title))
    fg.subtitle(one_line(config.site.description) or one_line(feed.title))
    fg.link(href=f"{site.base_url}{feed.folder}{self_name}", rel="self")
    fg.link(href=site.base_url, rel="alternate")
    fg.language(config.site.language)
    fg.author(name=one_line(config.curator.name))
    fg.updated(_newest(feed.posts))
    fg.lastBuildDate(_newest(feed.posts))
    for post in feed.posts:
        content = feed_content(site, post)
        fe = fg.add_entry(order="append")
        fe.id(entry_id(site, post))
        fe.guid(entry_id(site, post), permalink=False)
        fe.title(one_line(post.title))
        fe.link(href=post_url(site, post))
        fe.published(post.picked_up)
        fe.updated(post.updated)
        fe.pubDate(post.picked_up)
        fe.content(content, type="html")
        fe.summary(one_line(post.summary) or one_line(post.title))
        if author := _author(post):
            fe.author(name=one_line(author))
            fe.dc.dc_creator(one_line(author))
        for tag in post.tags:
            fe.category(term=one_line(tag))
    return fg


def atom(site: Site, feed: FeedSet) -> bytes:
    """Atom with entry links fixed: feedgen 1.0.0 drops rel and type (python-feedgen#135)."""
    tree = etree.fromstring(_generator(site, feed, "atom.xml").atom_str(pretty=True))
    originals = {entry_id(site, p): p.attribution.url for p in feed.posts}
    for entry in tree.iterfind(f"{{{ATOM_NS}}}entry"):
        link = entry.find(f"{{{ATOM_NS}}}link")
        link.set("rel", "alternate")
        link.set("type", "text/html")
        if original := originals[entry.findtext(f"{{{ATOM_NS}}}id")]:
            via = etree.Element(f"{{{ATOM_NS}}}link", rel="via", href=original)
            via.tail = link.tail
            link.addnext(via)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def rss(site: Site, feed: FeedSet) -> bytes:
    return _generator(site, feed, "rss.xml").rss_str(pretty=True)


def json_feed(site: Site, feed: FeedSet) -> bytes:
    config = site.config
    items = []
    for post in feed.posts:
        content = feed_content(site, post)
        a = post.attribution
        item = {
            "id": entry_id(site, post),
            "url": post_url(site, post),
            "title": one_line(post.title),
            "content_html": content,
            "summary": one_line(post.summary),
            "date_published": post.picked_up.isoformat(),
            "date_modified": post.updated.isoformat(),
        }
        if a.url:
            item["external_url"] = a.url
        if author := _author(post):
            item["authors"] = [{"name": one_line(author)}]
        if post.tags:
            item["tags"] = list(post.tags)
        item["_postroom"] = {
            "source": a.source,
            "author_role": a.author_role,
            "original_date": post.date.isoformat(),
            "date_source": post.date_source.value,
        }
        items.append(item)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": one_line(feed.title),
        "home_page_url": site.base_url,
        "feed_url": f"{site.base_url}{feed.folder}feed.json",
        "description": one_line(config.site.description),
        "language": config.site.language,
        "authors": [{"name": one_line(config.curator.name)}],
        "items": items,
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode() + b"\n"


FORMATS = {"atom.xml": atom, "rss.xml": rss, "feed.json": json_feed}
