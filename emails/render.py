"""One digest issue rendered once: HTML (CSS inlined by premailer) and plain text.

The rendered parts are frozen with the issue; per recipient only the personal
placeholders (ADDRESS, UNSUBSCRIBE_URL, PREFERENCES_URL) are replaced, never the whole thing.

The HTML has a size budget (`digest.max_html_kb`): Gmail clips a message whose HTML
passes 102 KB, unsubscribe link and all. Posts that do not fit fall back to their
excerpt, then to a linked title with a compact credit ("More this week"), then (an
issue of hundreds of posts) to a count and a link to the issue's page; the lead post
keeps the most. The budget counts the final inlined HTML with the personal footer
filled with the longest address and unsubscribe URL a recipient can have. The text part
gets the same content, so the two alternatives never differ.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import cache
from pathlib import Path

from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape
from postroom.content.intro import Intro
from postroom.core.config import Site
from postroom.core.model import Post, Republish
from postroom.core.republish import republish_of
from postroom.core.sanitize import one_line
from postroom.core.urls import absolute_html
from postroom.emails.plaintext import WIDTH, html_to_plain
from postroom.feeds.archive import issue_url
from postroom.feeds.credit import byline, credit_compact_html, credit_html, credit_text
from postroom.feeds.showing import showing
from postroom.feeds.syndication import post_url
from postroom.feeds.theme import ThemeLoader, render, theme_folder

ADDRESS = "%%ADDRESS%%"
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"
PREFERENCES_URL = "%%PREFERENCES_URL%%"  # the reader's own preferences page (web.app)
#: who a preview is addressed to when the config names no curator
SAMPLE_ADDRESS = "you@example.org"
#: a preview's unsubscribe link: plainly a sample, and refused as a forged token if followed
SAMPLE_TOKEN = "SAMPLE-preview-only-not-a-real-token"
# The most a recipient can add to the HTML: an address is at most 254 octets (RFC 5321
# with RFC 3696's erratum) and an unsubscribe token stays well under 600 characters.
LONGEST_ADDRESS = 254
LONGEST_TOKEN = 600
_MARK = re.compile(r"<!--(/?)post:(\d+)-->")


class Shown(IntEnum):
    """How much of a post an issue shows; lower is smaller."""

    OMITTED = 0  # counted in a line linking to the issue's page
    LISTED = 1  # its linked title and compact credit under "More this week"
    EXCERPT = 2
    FULL = 3


@dataclass(frozen=True)
class Cut:
    """A post shown with less than the config asked for, to keep the HTML in budget."""

    title: str
    shown: Shown


@dataclass(frozen=True)
class RenderedDigest:
    subject: str  # one line: no CR/LF can reach a header
    html: str
    text: str
    cut: tuple[Cut, ...] = ()  # what the HTML budget cut, in the issue's order
    budget_kb: int = 0  # the budget it was held to

    def cut_note(self) -> str:
        """One line saying what the budget cut, or '' when nothing was."""
        if not self.cut:
            return ""
        by = {s: [c.title for c in self.cut if c.shown is s] for s in Shown}
        said = [
            f"{len(by[s])} {what} ({', '.join(repr(t) for t in by[s][:3])}"
            f"{', …' if len(by[s]) > 3 else ''})"
            for s, what in (
                (Shown.EXCERPT, "to excerpts"),
                (Shown.LISTED, "to links"),
                (Shown.OMITTED, "left to the issue's page"),
            )
            if by[s]
        ]
        return (
            f"the email's HTML is kept under {self.budget_kb} KB (digest.max_html_kb; Gmail"
            f" clips at 102 KB): posts cut {'; '.join(said)}"
        )


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(
        one_line(text),
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,  # a URL stays whole
        break_on_hyphens=False,
    )


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
        credit_compact=credit_compact_html,
        credit_text=credit_text,
        byline=byline,
        # the source's own words are quoted; a curator's own post is not a quotation
        quoted=lambda post: bool(post.attribution.source or post.attribution.url),
        wrap=_wrap,
        plain=html_to_plain,
    )
    return env


def render_email(site: Site, name: str, values: dict) -> str:
    """Email template `name` of `site`: its own override (templates/emails/) if it has a
    good one, else the packaged template."""
    return render(_environment, theme_folder(site, "emails"), name, values)


def _inline(html: str) -> str:
    # @media blocks stay in <style> (premailer keeps them); everything else is inlined.
    # No height attribute made from CSS: `height: auto` would become height="auto",
    # invalid HTML (a number only); the inlined CSS keeps the image's proportions.
    # Imported here, at the first issue rendered: premailer (with cssutils and requests)
    # is 0.2 s to import, and a `run --once` or a build renders no issue most times.
    from premailer import Premailer

    return Premailer(
        html,
        disable_basic_attributes=["height"],
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
    return {"intro_html": Markup(intro.html), "intro_text": html_to_plain(intro.html).strip()}


def digest_subject(site: Site, posts: Sequence[Post], override: str | None = None) -> str:
    """One line: `override` (the intro's front matter) if given, else `digest.subject`, with
    {lead} the lead post's title and {more} how many others (in both); with one post, its
    title alone when the template counts the others ("+ 0 more" reads as a mistake). The
    brand is left out: it is in From. Both templates were checked when they were read."""
    template = one_line(override or "") or site.config.digest.subject
    if not posts:
        return one_line(override or f"{site.config.site.title}: nothing new")
    lead, more = one_line(posts[0].title), len(posts) - 1
    if more == 0 and "{more}" in template:
        return lead
    return one_line(template.format(lead=lead, more=more))


def digest_preheader(site: Site, posts: Sequence[Post], titles: int = 3) -> str:
    """The line inboxes show after the subject: the titles after the lead's (the subject
    has that one already), else the lead's teaser when it is alone: its summary, or for
    a post shown only as a link, the curator's comment (`feeds.showing`)."""
    if len(posts) == 1:
        return showing(site, posts[0]).teaser
    shown = " · ".join(one_line(p.title) for p in posts[1 : titles + 1])
    rest = len(posts) - 1 - titles
    return f"{shown} · and {rest} more" if rest > 0 else shown


def _item(n: int, title: str, width: int) -> str:
    """'7. Title', its number right-aligned to `width` digits ('10.' over ' 9.') and the
    title's other lines under its first letter."""
    return textwrap.fill(
        one_line(title),
        WIDTH,
        initial_indent=f"{n:>{width}}. ",
        subsequent_indent=" " * (width + 2),
        break_long_words=False,
    )


def _filled(site: Site, html: str) -> int:
    """The HTML's size in octets as the recipient with the longest address and token gets it."""
    longest = f"{site.base_url}unsubscribe?token={'x' * LONGEST_TOKEN}"
    extra = html.count(ADDRESS) * (LONGEST_ADDRESS - len(ADDRESS))
    extra += html.count(UNSUBSCRIBE_URL) * (len(longest) - len(UNSUBSCRIBE_URL))
    extra += html.count(PREFERENCES_URL) * (len(longest) + 1 - len(PREFERENCES_URL))
    return len(html.encode()) + extra


def _block_sizes(html: str) -> dict[int, int]:
    """Each post's octets in the rendered HTML, between its markers."""
    sizes, starts = {}, {}
    for m in _MARK.finditer(html):
        n = int(m.group(2))
        if m.group(1):
            sizes[n] = len(html[starts[n] : m.start()].encode())
        else:
            starts[n] = m.end()
    return sizes


def render_digest(
    site: Site,
    number: int | None,
    posts: Sequence[Post],
    intro: Intro | None = None,
    edition: bool = False,
) -> RenderedDigest:
    """`number` None is a preview of the next issue; `intro` the curator's, above the posts
    (`intro_html`, `intro_text`), and its front matter's subject if it has one. An
    `edition` (a reader's own choice of the issue's posts, emails.editions) links the
    issue's page as the whole issue, which it is not a copy of."""
    posts = [_absolute(site, post) for post in posts]
    config = site.config
    label = f"No. {number}" if number is not None else "Preview"
    subject = digest_subject(site, posts, intro.subject if intro else None)
    count = f"{len(posts)} post{'s' if len(posts) != 1 else ''}"
    mail = config.mail
    values = {
        "site": site,
        "subject": subject,
        "heading": f"{label} · {count}",
        "preheader": digest_preheader(site, posts),
        **intro_values(intro),
        "url": lambda p: post_url(site, p),
        "shown": lambda p: showing(site, p),
        "archive_url": issue_url(site, number) if number is not None else "",
        "edition": edition,
        "sender": f"{one_line(mail.from_name or config.site.title)} <{mail.from_address}>"
        f" · {site.base_url}",
        "postal_address": tuple(
            one_line(line) for line in mail.postal_address.splitlines() if line.strip()
        ),
    }
    return _Layout(site, posts, values).render()


def _whole(site: Site, post: Post) -> bool:
    """Whether the post may be shown whole: its republishing rule says `full`. Any other
    rule caps it at its excerpt or link, however long the budget (feeds.showing)."""
    return republish_of(site.config, post) is Republish.FULL


def _absolute(site: Site, post: Post) -> Post:
    """The post with the relative URLs of its body and comment made absolute against its
    page, as in the feeds: in an inbox, "/about/" or "chart.png" lead nowhere; and with
    no lead image when its rule does not show one (`feeds.showing`)."""
    base = post_url(site, post)
    body, comment = absolute_html(post.body_html, base), absolute_html(post.comment, base)
    image = showing(site, post).image
    if body is post.body_html and comment is post.comment and image is post.image:
        return post
    return replace(post, body_html=body, comment=comment, image=image)


class _Layout:
    """Chooses how much of each post the issue shows, within the HTML budget."""

    def __init__(self, site: Site, posts: Sequence[Post], values: dict) -> None:
        digest = site.config.digest
        self.site, self.posts, self.values = site, list(posts), values
        self.budget = digest.max_html_kb * 1024
        most = Shown.FULL if digest.full_text else Shown.EXCERPT
        self.wanted = [
            Shown.LISTED if i >= digest.max_posts else most if _whole(site, p) else Shown.EXCERPT
            for i, p in enumerate(posts)
        ]

    def _values(self, shown: Sequence[Shown]) -> dict:
        """The templates' values with each post shown as `shown` says."""
        pairs = list(zip(self.posts, shown, strict=True))
        return {
            **self.values,
            "posts": [p for p, k in pairs if k >= Shown.EXCERPT],
            "full": {p.id for p, k in pairs if k is Shown.FULL},
            "more": [p for p, k in pairs if k is Shown.LISTED],
            "omitted": sum(k is Shown.OMITTED for _, k in pairs),
            "order": {p.id: i for i, p in enumerate(self.posts)},  # for the size markers
        }

    def _html(self, shown: Sequence[Shown]) -> str:
        html = render_email(self.site, "digest.html", self._values(shown))
        # lxml drops the doctype on the way through premailer; standards mode wants it back
        return "<!doctype html>\n" + _inline(html)

    def render(self) -> RenderedDigest:
        shown = list(self.wanted)
        html = self._html(shown)
        if _filled(self.site, html) > self.budget and self.posts:  # with none, nothing to cut
            shown = self._fit()
            html = self._html(shown)
            while _filled(self.site, html) > self.budget and any(shown):
                # the estimate was short (shared markup): the last post shown in part goes
                # down a step, or else the last one listed
                kept = [i for i, k in enumerate(shown) if k >= Shown.EXCERPT]
                last = max(kept or [i for i, k in enumerate(shown) if k])
                shown[last] = Shown(shown[last] - 1)
                html = self._html(shown)
        values = self._values(shown)
        width = len(str(len(values["posts"])))  # '10.' lines up '9.' as ' 9.'
        text = render_email(
            self.site,
            "digest.txt",
            {**values, "indent": " " * (width + 2), "item": lambda n, t: _item(n, t, width)},
        )
        cut = tuple(
            Cut(p.title, k) for p, k, w in zip(self.posts, shown, self.wanted, strict=True) if k < w
        )
        subject = self.values["subject"]
        return RenderedDigest(subject, _MARK.sub("", html), text, cut, self.budget // 1024)

    def _fit(self) -> list[Shown]:
        """The most of each post that fits, from sizes measured on whole renders: every
        post at least listed if the list fits, then excerpts in the issue's order, then
        whole posts, the lead first."""
        size: dict[Shown, dict[int, int]] = {}
        levels = [s for s in (Shown.LISTED, Shown.EXCERPT, Shown.FULL) if s <= max(self.wanted)]
        for level in levels:
            trial = [min(w, level) for w in self.wanted]
            html = self._html(trial)
            size[level] = _block_sizes(html)
            if level is Shown.LISTED:
                frame = _filled(self.site, html) - sum(size[level].values())
        shown = [Shown.OMITTED] * len(self.posts)
        room = self.budget - frame - 1024  # the "and N more" line, should it be needed
        for level in levels:
            for i, wanted in enumerate(self.wanted):
                if wanted < level or shown[i] != level - 1:
                    continue
                # a site's own template may lack the markers: nothing measured, and the
                # step-down in `render` finds what fits by whole renders instead
                step = size[level].get(i, 0) - size.get(Shown(level - 1), {}).get(i, 0)
                if step > room:
                    if level is Shown.LISTED:
                        break  # a list goes in order: none after the first left out
                    continue
                room -= step
                shown[i] = level
        return shown


def sample_recipient(site: Site) -> tuple[str, str]:
    """(address, unsubscribe URL) a preview shows in place of the personal placeholders:
    the curator's address (else you@example.org) and a link whose token says it is a
    sample, so a preview reads as a reader would see it and cannot unsubscribe anyone."""
    address = site.config.curator.email or SAMPLE_ADDRESS
    return address, f"{site.base_url}unsubscribe?token={SAMPLE_TOKEN}"


def with_sample_recipient(site: Site, rendered: RenderedDigest) -> RenderedDigest:
    """`rendered` with the sample recipient spliced in where each reader's own values go."""
    address, url = sample_recipient(site)
    preferences = f"{site.base_url}preferences?token={SAMPLE_TOKEN}"

    def fill(part: str, quote: Callable[[str], str]) -> str:
        part = part.replace(ADDRESS, quote(address)).replace(UNSUBSCRIBE_URL, quote(url))
        return part.replace(PREFERENCES_URL, quote(preferences))

    return replace(
        rendered,
        html=fill(rendered.html, lambda value: str(escape(value))),
        text=fill(rendered.text, str),
    )
