"""Static HTML: the index with feed autodiscovery, one page per post, a list of all posts.

Templates are autoescaped; post bodies, sanitized at intake, are the only
thing marked safe. Pages keep a body whole even when the feeds cut it short.
A site's templates/pages/ overrides any of them (feeds.theme).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

from jinja2 import Environment, select_autoescape
from postroom.core.config import Site
from postroom.core.model import Post
from postroom.feeds.credit import credit_html, day
from postroom.feeds.showing import canonical_url, showing
from postroom.feeds.syndication import post_url
from postroom.feeds.theme import ThemeLoader, fingerprint, render, theme_folder


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
        **values,
    }
    return render(_environment, theme_folder(site, "pages"), name, values).encode()


def post_page_name(post: Post) -> str:
    return f"posts/{post.id}/index.html"


def render_post_page(site: Site, post: Post) -> bytes:
    return render_page("post.html", site, post=post)


def render_lists(
    site: Site, posts: Sequence[Post], newest: Sequence[Post]
) -> Iterator[tuple[str, bytes]]:
    """(path under public/, bytes) of the pages that list posts: the index shows `newest`
    (the site feed's window), posts/ lists every post by its own date, newest first."""
    yield "index.html", render_page("index.html", site, posts=newest)
    by_date = sorted(posts, key=lambda p: (p.date, p.id), reverse=True)
    yield "posts/index.html", render_page("posts.html", site, posts=by_date)


class PageMemo:
    """The post pages one process has written, and from what: a page whose post and site
    are unchanged and whose file nobody has touched since is not rendered again.

    A long-running service keeps one; it turns "a new post on a site of 10,000" from
    10,000 renders into one. Keys are in-process hashes, so it is never stored. A change
    to the site's page templates (`theme`, told at each build) renders every page again."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[int, int, int]] = {}  # path -> (inputs, size, mtime)
        self._theme: object = None

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
