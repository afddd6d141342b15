"""One digest issue rendered once: HTML (CSS inlined by premailer) and plain text.

The rendered parts are frozen with the issue; per recipient only the personal
placeholders (ADDRESS, UNSUBSCRIBE_URL) are replaced, never the whole thing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, select_autoescape
from postroom.core.config import Site
from postroom.core.model import Post
from postroom.core.sanitize import one_line
from postroom.feeds.archive import issue_url
from postroom.feeds.credit import byline, credit_html
from postroom.feeds.syndication import post_url
from postroom.feeds.theme import ThemeLoader, render, theme_folder
from premailer import Premailer

ADDRESS = "%%ADDRESS%%"
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"


@dataclass(frozen=True)
class RenderedDigest:
    subject: str  # one line: no CR/LF can reach a header
    html: str
    text: str


@cache
def _environment(themes: Path | None) -> Environment:
    """The email templates for a site whose overrides are in `themes` (its
    templates/emails/, see feeds.theme; None: the packaged ones alone), one per folder."""
    env = Environment(
        loader=ThemeLoader(themes, "postroom.emails"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(
        credit=credit_html,
        byline=byline,
        day=lambda d: f"{d.day} {d:%B %Y}",
        wrap=lambda text: textwrap.fill(
            one_line(text), 72, initial_indent="   ", subsequent_indent="   "
        ),
    )
    return env


def render_email(site: Site, name: str, values: dict) -> str:
    """Email template `name` of `site`: its own override (templates/emails/) if it has a
    good one, else the packaged template."""
    return render(_environment, theme_folder(site, "emails"), name, values)


def _inline(html: str) -> str:
    # @media blocks stay in <style> (premailer keeps them); everything else is inlined.
    return Premailer(
        html,
        strip_important=False,
        disable_validation=True,
        allow_network=False,
        cssutils_logging_level="CRITICAL",
    ).transform(pretty_print=False)


def render_digest(site: Site, number: int | None, posts: Sequence[Post]) -> RenderedDigest:
    """`number` None is a preview of the next issue."""
    config = site.config
    shown, more = list(posts[: config.digest.max_posts]), list(posts[config.digest.max_posts :])
    label = f"No. {number}" if number is not None else "Preview"
    subject = one_line(
        f"{config.site.title} {label}: {posts[0].title}"
        if posts
        else f"{config.site.title} {label}"
    )
    count = f"{len(posts)} post{'s' if len(posts) != 1 else ''}"
    values = {
        "site": site,
        "subject": subject,
        "heading": f"{label} · {count}",
        "preheader": " · ".join(p.title for p in posts[:3]),
        "posts": shown,
        "more": more,
        "full_text": config.digest.full_text,
        "url": lambda p: post_url(site, p),
        "archive_url": issue_url(site, number) if number is not None else "",
    }
    # lxml drops the doctype on the way through premailer; standards mode wants it back
    html = "<!doctype html>\n" + _inline(render_email(site, "digest.html", values))
    text = render_email(site, "digest.txt", values)
    return RenderedDigest(subject, html, text)
