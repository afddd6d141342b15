"""Static HTML: the index with feed autodiscovery, one page per post, a list of all posts.

Templates are autoescaped; post bodies were sanitized at intake and are the only
thing marked safe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape

from content.model import Post
from content.site import Site
from feeds.credit import credit_html
from feeds.syndication import post_url


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("feeds", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(credit=credit_html, day=lambda d: f"{d.day} {d:%B %Y}")
    return env


def _render(name: str, site: Site, **values: object) -> bytes:
    template = _environment().get_template(name)
    return template.render(site=site, url=lambda p: post_url(site, p), **values).encode()


def render_pages(
    site: Site, posts: Sequence[Post], newest: Sequence[Post]
) -> Iterator[tuple[str, bytes]]:
    """(path under public/, bytes) for every page."""
    yield "index.html", _render("index.html", site, posts=newest)
    by_date = sorted(posts, key=lambda p: (p.date, p.id), reverse=True)
    yield "posts/index.html", _render("posts.html", site, posts=by_date)
    for post in posts:
        yield f"posts/{post.id}/index.html", _render("post.html", site, post=post)
