"""Static HTML: the index with feed autodiscovery, one page per post, a list of all posts,
a page (or pages) per tag and per source, an overview of them, and a page of every feed.

Templates are autoescaped; post bodies, sanitized at intake, are the only
thing marked safe. Pages keep a body whole even when the feeds cut it short.
A site's templates/pages/ overrides any of them (feeds.theme).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, select_autoescape
from postroom.core.config import Site
from postroom.core.model import Post
from postroom.core.sanitize import one_line
from postroom.feeds.credit import credit_html, day
from postroom.feeds.offered import offered
from postroom.feeds.selection import Topic, TopicKind, topic_folder
from postroom.feeds.showing import canonical_url, showing
from postroom.feeds.syndication import FORMATS, post_url
from postroom.feeds.theme import ThemeLoader, fingerprint, render, theme_folder

if TYPE_CHECKING:
    from postroom.feeds.history import ArchiveMemo


@cache
def _environment(themes: Path | None) -> Environment:
    """The templates for a site whose overrides are in `themes` (None: the packaged ones
    alone), one per such folder."""
    env = Environment(
        loader=ThemeLoader(themes, "postroom.feeds"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(credit=credit_html, day=day)
    return env


def render_page(name: str, site: Site, **values: object) -> bytes:
    """A template of feeds/templates (or the site's override of it) with the site,
    `url(post)` and `local(moment)` (the site's timezone) at hand."""
    values = {
        "site": site,
        "url": lambda post: post_url(site, post),
        "local": lambda moment: moment.astimezone(site.config.tz),
        "shown": lambda post: showing(site, post),
        "canonical": lambda post: canonical_url(site, post),
        "tag_url": lambda name: topic_url(site, TopicKind.TAG, name),
        "source_url": lambda name: topic_url(site, TopicKind.SOURCE, name),
        **values,
    }
    return render(_environment, theme_folder(site, "pages"), name, values).encode()


def post_page_name(post: Post) -> str:
    return f"posts/{post.id}/index.html"


def render_post_page(site: Site, post: Post) -> bytes:
    return render_page("post.html", site, post=post)


def by_date(posts: Sequence[Post]) -> list[Post]:
    """Newest first by the post's own date (then id, so ties never depend on input order):
    the order of posts/ and of every topic page."""
    return sorted(posts, key=lambda p: (p.date, p.id), reverse=True)


def render_lists(
    site: Site, posts: Sequence[Post], newest: Sequence[Post], found: Sequence[Topic] = ()
) -> Iterator[tuple[str, bytes]]:
    """(path under public/, bytes) of the pages that list posts: the index shows `newest`
    (the site feed's window) and the most-used of the topics `found`, posts/ lists every
    post by its own date, newest first. The index's subscribe form offers the topics
    `feeds.offered` does, as the web app that takes the form does."""
    offer = offered(site, ((post.tags, post.attribution.source) for post in posts))
    on_index = _on_index(found)
    yield "index.html", render_page("index.html", site, posts=newest, offer=offer, **on_index)
    yield "posts/index.html", render_page("posts.html", site, posts=by_date(posts))


#: posts on one page of a tag or source: 50 titles with their credit lines load quickly
#: on a phone, and even a topic of 1,000 posts has 20 pages, not 200
TOPIC_PAGE_SIZE = 50
#: tags (and sources) the index names, most posts first. A site grows to hundreds of
#: tags; listing them all would push the index's purpose, the newest posts, off the
#: screen, so the index names the few a reader most likely wants and links to
#: topics/, which lists every one compactly, and to feeds/.
ON_INDEX = 12
#: each format a topic's feeds come in: its media type and the name a reader knows it by
_FORMAT_NAMES = {
    "atom.xml": ("application/atom+xml", "Atom"),
    "rss.xml": ("application/rss+xml", "RSS"),
    "feed.json": ("application/feed+json", "JSON Feed"),
}


@dataclass(frozen=True)
class FeedLink:
    """One feed file as pages link to it (autodiscovery and visible links)."""

    type: str  # media type
    label: str  # "Atom", "RSS", "JSON Feed"
    url: str


def feed_links(site: Site, folder: str) -> tuple[FeedLink, ...]:
    """The feeds `build` writes in `folder` ("" for the site's), in FORMATS' order: a
    format added there and not here is a KeyError in every build, not a silent gap."""
    return tuple(FeedLink(*_FORMAT_NAMES[name], site.base_url + folder + name) for name in FORMATS)


def topic_url(site: Site, kind: TopicKind, name: str) -> str:
    """The page of the tag or source `name` ("" for a name with no page): the same folder
    as its feeds, by `selection.topic_folder`."""
    folder = topic_folder(kind, name)
    return site.base_url + folder if folder else ""


def _page_path(folder: str, number: int) -> str:
    """Page 1 is the topic's folder itself, the address its feeds sit beside."""
    return folder if number == 1 else f"{folder}page/{number}/"


def _site_title(site: Site) -> str:
    return one_line(site.config.site.title) or site.base_url


def _on_index(found: Sequence[Topic]) -> dict[str, object]:
    def most_used(kind: TopicKind) -> list[Topic]:
        of_kind = [t for t in found if t.kind is kind]
        return sorted(of_kind, key=lambda t: (-len(t.posts), t.name.casefold(), t.folder))

    tags, sources = most_used(TopicKind.TAG), most_used(TopicKind.SOURCE)
    return {"tags": tags[:ON_INDEX], "sources": sources[:ON_INDEX], "all_topics": len(found)}


def render_topics(site: Site, found: Sequence[Topic]) -> Iterator[tuple[str, bytes]]:
    """(path under public/, bytes) of each topic's pages, TOPIC_PAGE_SIZE posts a page, newest
    first by their own date, then of topics/, every tag and source by name."""
    title = _site_title(site)
    for topic in found:
        posts = by_date(topic.posts)
        pages = max(1, -(-len(posts) // TOPIC_PAGE_SIZE))
        feeds = feed_links(site, topic.folder)
        for number in range(1, pages + 1):
            yield (
                _page_path(topic.folder, number) + "index.html",
                render_page(
                    "topic.html",
                    site,
                    topic=topic,
                    tag=topic.kind is TopicKind.TAG,
                    posts=posts[(number - 1) * TOPIC_PAGE_SIZE : number * TOPIC_PAGE_SIZE],
                    count=len(posts),
                    number=number,
                    pages=pages,
                    newer=number > 1 and site.base_url + _page_path(topic.folder, number - 1),
                    older=number < pages and site.base_url + _page_path(topic.folder, number + 1),
                    feeds=feeds,
                    feed_title=topic.feed_title(title),
                ),
            )
    by_name = sorted(found, key=lambda t: (t.name.casefold(), t.folder))
    yield "topics/index.html", render_page("topics.html", site, **_kinds(by_name))


def render_feeds_index(site: Site, found: Sequence[Topic]) -> tuple[str, bytes]:
    """feeds/index.html: every feed the site has, with its addresses and how to use them."""
    by_name = sorted(found, key=lambda t: (t.name.casefold(), t.folder))
    page = render_page(
        "feeds.html",
        site,
        site_feeds=feed_links(site, ""),
        feeds_of=lambda topic: feed_links(site, topic.folder),
        **_kinds(by_name),
    )
    return "feeds/index.html", page


def _kinds(found: Sequence[Topic]) -> dict[str, list[Topic]]:
    return {
        "tags": [t for t in found if t.kind is TopicKind.TAG],
        "sources": [t for t in found if t.kind is TopicKind.SOURCE],
    }


class PageMemo:
    """The post pages one process has written, and from what: a page whose post and site
    are unchanged and whose file nobody has touched since is not rendered again.

    A long-running service keeps one; it turns "a new post on a site of 10,000" from
    10,000 renders into one. Keys are in-process hashes, so it is never stored. A change
    to the site's page templates (`theme`, told at each build) renders every page again."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[int, int, int]] = {}  # path -> (inputs, size, mtime)
        self._theme: object = None
        # the site feed's full archive pages written, and from what (feeds.history.memo_for)
        self.archives: ArchiveMemo | None = None

    def theme(self, site: Site) -> None:
        """Before a build: forget every page if the site's page templates changed since."""
        now = fingerprint(theme_folder(site, "pages"))
        if now != self._theme:
            self._made.clear()
            self._theme = now

    def fresh(self, path: Path, site: Site, post: Post) -> bool:
        made = self._made.get(str(path))
        if made is None or made[0] != hash((site, post)):
            return False
        try:
            st = path.stat()
        except OSError:
            return False
        return made[1:] == (st.st_size, st.st_mtime_ns)

    def made(self, path: Path, site: Site, post: Post) -> None:
        st = path.stat()
        self._made[str(path)] = (hash((site, post)), st.st_size, st.st_mtime_ns)
