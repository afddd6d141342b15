"""Static HTML: the index with feed autodiscovery, one page per post, a list of all posts.

Templates are autoescaped; post bodies, sanitized at intake, are the only
thing marked safe. Pages keep a body whole even when the feeds cut it short.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape

from content.model import Post
from content.site import Site
from feeds.credit import credit_html, day
from feeds.syndication import post_url


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("feeds", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(credit=credit_html, day=day)
    return env


def render_page(name: str, site: Site, **values: object) -> bytes:
    """A template of feeds/templates with the site, `url(post)` and `local(moment)` (the
    site's timezone) at hand."""
    template = _environment().get_template(name)
    return template.render(
        site=site,
        url=lambda post: post_url(site, post),
        local=lambda moment: moment.astimezone(site.config.tz),
        **values,
    ).encode()


def render_pages(
    site: Site, posts: Sequence[Post], newest: Sequence[Post]
) -> Iterator[tuple[str, bytes]]:
    """(path under public/, bytes) for every page: the index shows `newest` (the site
    feed's window), posts/ lists every post by its own date, newest first."""
    yield "index.html", render_page("index.html", site, posts=newest)
    by_date = sorted(posts, key=lambda p: (p.date, p.id), reverse=True)
    yield "posts/index.html", render_page("posts.html", site, posts=by_date)
    for post in sorted(posts, key=lambda p: p.id):
        yield f"posts/{post.id}/index.html", render_page("post.html", site, post=post)
