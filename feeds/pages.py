"""Static HTML: the index with feed autodiscovery, one page per post, a list of all posts,
a page (or pages) per tag and per source, an overview of them, and a page of every feed.

Templates are autoescaped; post bodies, sanitized at intake, are the only
thing marked safe. Pages keep a body whole even when the feeds cut it short.
A site's templates/pages/ overrides any of them (feeds.theme).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, select_autoescape
from postroom.core.config import Site
from postroom.core.model import Post, PostHead
from postroom.core.sanitize import one_line
from postroom.feeds.catalogue import Loader
from postroom.feeds.credit import credit_html, day
from postroom.feeds.keys import digest, post_key
from postroom.feeds.offered import offered
from postroom.feeds.selection import Topic, TopicKind, topic_folder
from postroom.feeds.showing import canonical_url, showing
from postroom.feeds.syndication import FORMATS, post_url
from postroom.feeds.theme import ThemeLoader, render, theme_folder
from postroom.feeds.writer import OutputWriter


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


def by_date(posts: Sequence[PostHead]) -> list[PostHead]:
    """Newest first by the post's own date (then id, so ties never depend on input order):
    the order of posts/ and of every topic page."""
    return sorted(posts, key=lambda p: (p.date, p.id), reverse=True)


def write_lists(
    site: Site,
    ordered: Sequence[PostHead],
    dated: Sequence[PostHead],
    newest: Sequence[PostHead],
    found: Sequence[Topic],
    base: str,
    out: OutputWriter,
    loader: Loader,
) -> None:
    """The pages that list posts, each rendered only when its key changed: the index
    shows `newest` (the site feed's window, read whole for their teasers) and the
    most-used of the topics `found`; posts/ lists every post by its own date, newest
    first (`dated`, `by_date` of `ordered`). The index's subscribe form offers the
    topics `feeds.offered` does, as the web app that takes the form does."""
    offer = offered(site, ((post.tags, post.attribution.source) for post in ordered))
    on_index = _on_index(found)
    summary = [(t.folder, t.name, len(t.posts)) for t in (*on_index["tags"], *on_index["sources"])]
    key = digest(base, "index", repr(offer), summary, len(found), *map(post_key, newest))
    if out.fresh("index.html", key):
        out.keep("index.html")
    else:
        posts = loader.get([post.id for post in newest])
        page = render_page("index.html", site, posts=posts, offer=offer, **on_index)
        out.put("index.html", page, key)
    _write_post_lists(site, dated, base, out)


#: posts posts/ itself lists, the newest by their own date; every post is on its year's page
POSTS_ON_LIST = 50


@dataclass(frozen=True)
class Year:
    """A year of posts by their own date, as posts/ links to it."""

    year: int
    count: int
    url: str


def year_page(year: int) -> str:
    """posts/<year>.html: a file, never a folder, so no post's id (a folder of posts/)
    can ever be the same name."""
    return f"posts/{year}.html"


def _write_post_lists(site: Site, dated: Sequence[PostHead], base: str, out: OutputWriter) -> None:
    """posts/: the newest POSTS_ON_LIST posts by their own date and every year, linked to
    its page listing that year's posts. By year, not numbered pages: a new post changes
    posts/ and its year's page, and no other list of every post is made again (a
    numbered page 2 would shift with every post; one list of 100,000 posts is a 15 MB
    page that takes a second to make)."""
    by_year: dict[int, list[PostHead]] = {}
    for post in dated:
        by_year.setdefault(post.date.year, []).append(post)
    years = [Year(y, len(p), site.base_url + year_page(y)) for y, p in by_year.items()]
    key = digest(base, "posts", len(dated), repr(years), *map(post_key, dated[:POSTS_ON_LIST]))
    if out.fresh("posts/index.html", key):
        out.keep("posts/index.html")
    else:
        values = {"posts": dated[:POSTS_ON_LIST], "years": years, "count": len(dated)}
        out.put("posts/index.html", render_page("posts.html", site, **values), key)
    for i, year in enumerate(years):  # a year's page: its posts and its neighbours
        newer, older = years[i - 1] if i else None, years[i + 1] if i + 1 < len(years) else None
        posts = by_year[year.year]
        name = year_page(year.year)
        key = digest(base, "year", year, newer, older, *map(post_key, posts))
        if out.fresh(name, key):
            out.keep(name)
            continue
        values = {"posts": posts, "year": year, "newer": newer, "older": older}
        out.put(name, render_page("year.html", site, **values), key)


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


def write_topics(site: Site, found: Sequence[Topic], base: str, out: OutputWriter) -> None:
    """Each topic's pages, TOPIC_PAGE_SIZE posts a page, newest first by their own date,
    each rendered only when its key changed; then topics/, every tag and source by name."""
    title = _site_title(site)
    for topic in found:
        posts = topic.dated or by_date(topic.posts)
        pages = max(1, -(-len(posts) // TOPIC_PAGE_SIZE))
        feeds = feed_links(site, topic.folder)
        for number in range(1, pages + 1):
            name = _page_path(topic.folder, number) + "index.html"
            shown = posts[(number - 1) * TOPIC_PAGE_SIZE : number * TOPIC_PAGE_SIZE]
            key = digest(base, "topic", topic.folder, topic.name, number, pages, len(posts))
            key = digest(key, *map(post_key, shown))
            if out.fresh(name, key):
                out.keep(name)
                continue
            page = render_page(
                "topic.html",
                site,
                topic=topic,
                tag=topic.kind is TopicKind.TAG,
                posts=shown,
                count=len(posts),
                number=number,
                pages=pages,
                newer=number > 1 and site.base_url + _page_path(topic.folder, number - 1),
                older=number < pages and site.base_url + _page_path(topic.folder, number + 1),
                feeds=feeds,
                feed_title=topic.feed_title(title),
            )
            out.put(name, page, key)
    by_name = sorted(found, key=lambda t: (t.name.casefold(), t.folder))
    out.put("topics/index.html", render_page("topics.html", site, **_kinds(by_name)))


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
