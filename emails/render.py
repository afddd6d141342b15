"""One digest issue rendered once: HTML (CSS inlined by premailer) and plain text.

The rendered parts are frozen with the issue; per recipient only the personal
placeholders (ADDRESS, UNSUBSCRIBE_URL) are replaced, never the whole thing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape
from postroom.content.intro import Intro
from postroom.core.config import Site
from postroom.core.model import Post
from postroom.core.sanitize import html_to_text, one_line
from postroom.feeds.archive import issue_url
from postroom.feeds.credit import byline, credit_html
from postroom.feeds.syndication import post_url
from postroom.feeds.theme import ThemeLoader, render, theme_folder
from premailer import Premailer

ADDRESS = "%%ADDRESS%%"
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"
#: who a preview is addressed to when the config names no curator
SAMPLE_ADDRESS = "you@example.org"
#: a preview's unsubscribe link: plainly a sample, and refused as a forged token if followed
SAMPLE_TOKEN = "SAMPLE-preview-only-not-a-real-token"


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


def intro_values(intro: Intro | None) -> dict[str, object]:
    """What the templates get of the intro: `intro_html` (sanitized at reading, so safe as
    it is) and `intro_text` (the same words as plain text); both empty without one."""
    if intro is None or not intro.html:
        return {"intro_html": "", "intro_text": ""}
    return {"intro_html": Markup(intro.html), "intro_text": html_to_text(intro.html).strip()}


def digest_subject(site: Site, posts: Sequence[Post], override: str | None = None) -> str:
    """One line: `override` (the intro's front matter) if given, else `digest.subject` with
    {lead} the lead post's title and {more} how many others; with one post, its title
    alone when the template counts the others ("+ 0 more" reads as a mistake). The brand
    is left out: it is in From. The template was checked when the config was read."""
    if override and (line := one_line(override)):
        return line
    if not posts:
        return one_line(f"{site.config.site.title}: nothing new")
    lead, more = one_line(posts[0].title), len(posts) - 1
    template = site.config.digest.subject
    if more == 0 and "{more}" in template:
        return lead
    return one_line(template.format(lead=lead, more=more))


def digest_preheader(posts: Sequence[Post], titles: int = 3) -> str:
    """The line inboxes show after the subject: the titles after the lead's (the subject
    has that one already), else the lead's summary when it is alone."""
    if len(posts) == 1:
        return one_line(posts[0].summary)
    shown = " · ".join(one_line(p.title) for p in posts[1 : titles + 1])
    rest = len(posts) - 1 - titles
    return f"{shown} · and {rest} more" if rest > 0 else shown


def render_digest(
    site: Site, number: int | None, posts: Sequence[Post], intro: Intro | None = None
) -> RenderedDigest:
    """`number` None is a preview of the next issue; `intro` the curator's, above the posts
    (`intro_html`, `intro_text`), and its front matter's subject if it has one."""
    config = site.config
    shown, more = list(posts[: config.digest.max_posts]), list(posts[config.digest.max_posts :])
    label = f"No. {number}" if number is not None else "Preview"
    subject = digest_subject(site, posts, intro.subject if intro else None)
    count = f"{len(posts)} post{'s' if len(posts) != 1 else ''}"
    values = {
        "site": site,
        "subject": subject,
        "heading": f"{label} · {count}",
        "preheader": digest_preheader(posts),
        **intro_values(intro),
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


def sample_recipient(site: Site) -> tuple[str, str]:
    """(address, unsubscribe URL) a preview shows in place of the personal placeholders:
    the curator's address (else you@example.org) and a link whose token says it is a
    sample, so a preview reads as a reader would see it and cannot unsubscribe anyone."""
    address = site.config.curator.email or SAMPLE_ADDRESS
    return address, f"{site.base_url}unsubscribe?token={SAMPLE_TOKEN}"


def with_sample_recipient(site: Site, rendered: RenderedDigest) -> RenderedDigest:
    """`rendered` with the sample recipient spliced in where each reader's own values go."""
    address, url = sample_recipient(site)

    def fill(part: str, quote: Callable[[str], str]) -> str:
        return part.replace(ADDRESS, quote(address)).replace(UNSUBSCRIBE_URL, quote(url))

    return replace(
        rendered,
        html=fill(rendered.html, lambda value: str(escape(value))),
        text=fill(rendered.text, str),
    )
