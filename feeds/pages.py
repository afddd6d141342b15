"""Static HTML: the index with feed autodiscovery, one page per post, a list of all posts,
a page (or pages) per tag and per source, an overview of them, and a page of every feed.

Templates are autoescaped; post bodies, sanitized at intake, are the only
thing marked safe. Pages keep a body whole even when the feeds cut it short.
A site's templates/pages/ overrides any of them (feeds.theme).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape
from postroom.core.config import Site
from postroom.core.model import Post, PostHead
from postroom.core.sanitize import one_line
from postroom.feeds.catalogue import Loader
from postroom.feeds.credit import credit_html, day
from postroom.feeds.keys import digest, post_key
from postroom.feeds.offered import Tagged, offered, offered_counted
from postroom.feeds.selection import Topic, TopicKind, topic_folder
from postroom.feeds.showing import canonical_url, showing
from postroom.feeds.syndication import FORMATS, post_url
from postroom.feeds.theme import ThemeLoader, render, theme_folder
from postroom.feeds.writer import OutputWriter


class Carry(Protocol):
    """What a build kept of its last (a service's `cache.BuildCache`): the outputs of a
    thing (a list, a topic) carried as they are while it is what it was."""

    def carried(self, what: str, made_of: object) -> tuple[str, ...] | None: ...

    def made(self, what: str, made_of: object, names: Sequence[str]) -> None: ...

    #: the key of the posts each year's page showed last (`_shown`), by page name
    memo: dict[str, tuple[Sequence[PostHead], str]]


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
    `url(post)` and `local(moment)` (the site's timezone) at hand, and the site's
    `base_url` and `site_title` escaped once: base.html shows them ~20 times a page, and
    `site.config.site.title` from a template is three lookups and an escape each time
    (~16 us of a post page's ~65; a site's own base.html may still ask `site`)."""
    values = {
        "site": site,
        "base_url": escape(site.base_url),  # Markup: shown as it is
        "site_title": escape(site.config.site.title),
        "url": lambda post: post_url(site, post),
        "local": lambda moment: moment.astimezone(site.config.tz),
        "shown": lambda post: showing(site, post),
        "canonical": lambda post: canonical_url(site, post),
        "tag_url": lambda name: topic_url(site, TopicKind.TAG, name),
        "source_url": lambda name: topic_url(site, TopicKind.SOURCE, name),
        "listed": lambda post: Listed(site, post),
        **values,
    }
    return render(_environment, theme_folder(site, "pages"), name, values).encode()


class Listed:
    """What a list's row shows of a post besides its head's fields (`listed(post)` in
    topic.html and posts.html): one call a row, not three or four. A cold build of
    10,000 posts lists ~33,000 rows, and each call from a template costs ~1 us of
    Jinja's own besides its work; `credit(post)`, `url(post)` and `day(post.date)` stay
    for a site's own templates."""

    __slots__ = ("_post", "datetime", "day", "url")

    def __init__(self, site: Site, post: PostHead) -> None:
        date = post.date
        self._post = post
        self.url = post_url(site, post)
        self.datetime = date.isoformat(timespec="seconds")  # for <time datetime>
        self.day = day(date)  # '23 June 2016'

    @property
    def credit(self) -> Markup:
        """`credit_html` ('' when nothing is known): made only when asked for (posts/
        shows none)."""
        return credit_html(self._post)


def post_page_name(post: Post | PostHead) -> str:
    """Interned: a build names every post's page in its manifest, its cache and the
    manifest it read (`writer`, which interns those too); one string, not three copies
    (~9 MB each at 100,000 posts)."""
    return sys.intern(f"posts/{post.id}/index.html")


def render_post_page(site: Site, post: Post) -> bytes:
    """A post's page. What it shows of the post is worked out here and handed to the
    template as values (`view`, `credit_line`, `canonical_url`, `tag_links`: (tag, its
    page or ""), `source_link`), not asked for by calls from it: a call from a template
    costs ~1 us of Jinja's `Context.call` each, and a cold build renders every post's
    page (~7 us of ~68 a page). The helpers (`shown(post)`, `credit(post)`, ...) are
    still there for a site's own post.html."""
    return render_page(
        "post.html",
        site,
        post=post,
        view=showing(site, post),
        credit_line=credit_html(post),
        canonical_url=canonical_url(site, post),
        tag_links=[(tag, topic_url(site, TopicKind.TAG, tag)) for tag in post.tags],
        source_link=topic_url(site, TopicKind.SOURCE, post.attribution.source or ""),
    )


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
    counted: Iterable[tuple[Tagged, int]] | None = None,
    carry: Carry | None = None,
) -> None:
    """The pages that list posts, each rendered only when its key changed: the index
    shows `newest` (the site feed's window, read whole for their teasers) and the
    most-used of the topics `found`; posts/ lists every post by its own date, newest
    first (`dated`, `by_date` of `ordered`). The index's subscribe form offers the
    topics `feeds.offered` does, as the web app that takes the form does (`counted`:
    each distinct (tags, source) of `ordered` and how many posts have it, if known).
    `carry`: posts/ carried as it is while `dated` is what it was (a service's cache)."""
    if counted is not None:
        offer = offered_counted(site, counted)
    else:
        offer = offered(site, ((post.tags, post.attribution.source) for post in ordered))
    on_index = _on_index(found)
    summary = [(t.folder, t.name, len(t.posts)) for t in (*on_index["tags"], *on_index["sources"])]
    out.make(
        "index.html",
        digest(base, "index", repr(offer), summary, len(found), *map(post_key, newest)),
        lambda: render_page(
            "index.html",
            site,
            posts=loader.get([post.id for post in newest]),
            offer=offer,
            **on_index,
        ),
    )
    if carry is not None and (names := carry.carried("posts/", dated)) is not None:
        out.keep_many(names)
        return
    names = _write_dated(site, out, digest(base, "posts"), "posts/", dated, "posts.html", {}, carry)
    if carry is not None:
        carry.made("posts/", dated, names)


#: posts a list's first page shows, the newest by their own date (posts/, each topic's
#: page); every post is on its year's page
ON_FIRST_PAGE = 50


@dataclass(frozen=True)
class Year:
    """A year of a list's posts by their own date, as the list's first page links to it."""

    year: int
    count: int
    url: str


@dataclass(frozen=True)
class YearLink:
    """A year as the page of the year beside it links to it: no count, so a post added
    to one year changes that year's page and the list's first page, not its neighbours'
    (on a site of 100,000 posts, last year's page is thousands of posts to render)."""

    year: int
    url: str


@dataclass(frozen=True)
class YearPage:
    """One year's page of a list: its posts and the years beside it."""

    name: str  # path under public/
    year: Year
    posts: Sequence[PostHead]
    newer: YearLink | None
    older: YearLink | None


def by_year(
    site: Site, folder: str, dated: Sequence[PostHead]
) -> tuple[list[Year], list[YearPage]]:
    """The years of `dated` (newest first by their own date, as `by_date` gives them) and
    a page for each, `<folder><year>.html`: a file, never a folder, so no post's id (a
    folder of posts/) and no feed of a topic's folder can be the same name.

    Why years, not numbered pages: a new post changes a list's first page and its own
    year's page and no other (a numbered page 2 would shift with every post; a single
    list of 100,000 posts is a 15 MB page that takes a second to make). None while the
    first page shows every post: a page of each year would only repeat it."""
    if len(dated) <= ON_FIRST_PAGE:
        return [], []
    grouped: dict[int, list[PostHead]] = {}
    for post in dated:
        grouped.setdefault(post.date.year, []).append(post)
    years = [Year(y, len(p), f"{site.base_url}{folder}{y}.html") for y, p in grouped.items()]
    links = [YearLink(year.year, year.url) for year in years]
    pages = [
        YearPage(
            f"{folder}{year.year}.html",
            year,
            grouped[year.year],
            links[i - 1] if i else None,
            links[i + 1] if i + 1 < len(years) else None,
        )
        for i, year in enumerate(years)
    ]
    return years, pages


def _write_dated(
    site: Site,
    out: OutputWriter,
    head: str,
    folder: str,
    dated: Sequence[PostHead],
    template: str,
    values: dict[str, object],
    carry: Carry | None = None,
) -> list[str]:
    """A list of posts by their own date (`dated`): `<folder>index.html`, the newest
    ON_FIRST_PAGE and the years, and each year's page (`by_year`, given `year`), both
    with `template`; `values` go to both, `head` keys both (the site and
    what the list is). A year's page does not show the list's count: a post added to
    another year leaves it alone. Returns the names of its pages."""
    years, pages = by_year(site, folder, dated)
    newest = dated[:ON_FIRST_PAGE]
    out.make(
        folder + "index.html",
        digest(head, len(dated), repr(years), *map(post_key, newest)),
        lambda: render_page(template, site, posts=newest, years=years, count=len(dated), **values),
    )
    for page in pages:
        out.make(
            page.name,
            digest(head, page.year, page.newer, page.older, _shown(page.name, page.posts, carry)),
            lambda page=page: render_page(
                template,
                site,
                posts=page.posts,
                year=page.year,
                newer=page.newer,
                older=page.older,
                **values,
            ),
        )
    return [folder + "index.html", *(page.name for page in pages)]


def _shown(name: str, posts: Sequence[PostHead], carry: Carry | None) -> str:
    """The key of the posts a year's page shows: worked out again (a hash of thousands of
    posts' keys on a big site) only when they are not the very heads the last build's
    page `name` showed (`carry.memo`, a service's cache)."""
    if carry is not None and (known := carry.memo.get(name)) is not None and known[0] == posts:
        return known[1]
    key = digest(*map(post_key, posts))
    if carry is not None:
        carry.memo[name] = (posts, key)
    return key


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


def _site_title(site: Site) -> str:
    return one_line(site.config.site.title) or site.base_url


def _on_index(found: Sequence[Topic]) -> dict[str, object]:
    def most_used(kind: TopicKind) -> list[Topic]:
        of_kind = [t for t in found if t.kind is kind]
        return sorted(of_kind, key=lambda t: (-len(t.posts), t.name.casefold(), t.folder))

    tags, sources = most_used(TopicKind.TAG), most_used(TopicKind.SOURCE)
    return {"tags": tags[:ON_INDEX], "sources": sources[:ON_INDEX], "all_topics": len(found)}


def write_topics(
    site: Site, found: Sequence[Topic], base: str, out: OutputWriter, carry: Carry | None = None
) -> None:
    """Each topic's page (its folder, beside its feeds): the newest ON_FIRST_PAGE of its
    posts by their own date and its years, each linked to the year's page (`by_year`);
    every page rendered only when its key changed (`carry`: a topic's pages carried as
    they are while the topic is what it was). Then topics/, every tag and source by
    name."""
    title = _site_title(site)
    for topic in found:
        if carry is not None and (names := carry.carried(topic.folder, topic)) is not None:
            out.keep_many(names)
            continue
        values = {
            "topic": topic,
            "tag": topic.kind is TopicKind.TAG,
            "feeds": feed_links(site, topic.folder),
            "feed_title": topic.feed_title(title),
        }
        head = digest(base, "topic", topic.folder, topic.name)
        posts = topic.dated or by_date(topic.posts)
        names = _write_dated(site, out, head, topic.folder, posts, "topic.html", values, carry)
        if carry is not None:
            carry.made(topic.folder, topic, names)
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
