"""What of a post a reader is shown, by its republishing rule (`core.republish`).

One place words the three ways, so a feed entry, the post's page and the digest
never disagree about how much of another publication's article is shown:

- `full`: the whole text, as intake kept it;
- `excerpt`: the first ~80 words as plain text (a quotation a reader can judge,
  with no markup of the source's), then a prominent link to the original;
- `link`: none of the source's words; the title, credit and the curator's comment
  (shown by the caller as always) and the link to the original.

The credit line is the caller's, as before: every rule keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from markupsafe import Markup, escape
from postroom.core.config import Site
from postroom.core.model import LeadImage, Post, Republish
from postroom.core.republish import is_own, republish_of
from postroom.core.sanitize import html_to_text, one_line, summarize


@dataclass(frozen=True)
class Showing:
    """A post as the site may show it: `rule` decided once, the rest derived from it."""

    rule: Republish
    # the source's words as shown (sanitized HTML; "" for `link`), then the link out
    body_html: Markup
    link_html: Markup  # the prominent link to the original ("" when none is known)
    # the lead image, but for `link`: the source's picture is the source's too
    image: LeadImage | None = None
    #: what the post's views share this build (`_View`): the teaser, once worked out
    view: _View | None = field(default=None, repr=False, compare=False)

    @property
    def teaser(self) -> str:
        """One line of plain text for lists, summaries and the digest's shorter form, at
        most ~300 characters: for `full` the post's summary (the curator's, or the
        standfirst), for `excerpt` the excerpt's start, for `link` the curator's comment
        alone. Worked out when first asked, once a post and build: a post's own page
        never asks (10,000 of them in a cold build)."""
        return self.view.teaser() if self.view is not None else ""


class _View:
    """What every view of one post shares in a build: the rule, the words shown but for
    `full`'s whole body, the link out, and the teaser, made from `teaser_of` when first
    asked."""

    __slots__ = ("_teaser", "_teaser_of", "link", "rule", "shown")

    def __init__(
        self, rule: Republish, shown: Markup, link: Markup, teaser_of: Callable[[], str]
    ) -> None:
        self.rule, self.shown, self.link = rule, shown, link
        self._teaser: str | None = None
        self._teaser_of: Callable[[], str] | None = teaser_of

    def teaser(self) -> str:
        if self._teaser is None:
            assert self._teaser_of is not None
            self._teaser, self._teaser_of = self._teaser_of(), None  # its text let go
        return self._teaser


def _link(url: str | None, source: str | None) -> Markup:
    """'Read the whole article at Community Care', linked to the original; empty when
    no original URL is known."""
    if not url:
        return Markup("")
    where = f" at {escape(one_line(source))}" if source and one_line(source) else ""
    return Markup(
        f'<p class="original"><a href="{escape(url)}"><strong>'
        f"Read the whole article{where}</strong></a></p>"
    )


def showing(site: Site, post: Post) -> Showing:
    made = _views.get(post.id)
    if made is None or made[0] is not site or (made[1] is not post and made[1] != post):
        made = (site, post, _parts(site, post))
        _views[post.id] = made
    view = made[2]
    rule = view.rule
    if rule is Republish.FULL:
        return Showing(rule, Markup(post.body_html), view.link, post.image, view)
    image = post.image if rule is Republish.EXCERPT else None
    return Showing(rule, view.shown, view.link, image, view)


def _parts(site: Site, post: Post) -> _View:
    """The rule, the source's words as shown but for `full`'s whole body, the link, and
    how to make the teaser."""
    rule = republish_of(site.config, post)
    link = _link(post.attribution.url, post.attribution.source)
    if rule is Republish.FULL:
        return _View(rule, link, link, partial(summarize, post.summary))
    if rule is Republish.EXCERPT:
        words = post.excerpt  # worked out once, at scan (core.excerpts), kept by the store
        shown = Markup(f"<p>{escape(words)}</p>\n{link}" if words else link)
        # its teaser from the excerpt itself, never the standfirst (post.summary): a
        # reader would see the standfirst and 80 words more of the source's text
        return _View(rule, shown, link, partial(summarize, words))
    comment = post.comment
    return _View(rule, link, link, partial(_comment_teaser, comment))


def _comment_teaser(comment: str | None) -> str:
    return summarize(html_to_text(comment)) if comment else ""


# A build asks for each post's view many times (its page, every feed set and archive page
# holding it, each format's content and summary): it is worked out once per post and
# build, kept by post id for this very site and an equal post (the page's copy and the
# feeds' are read apart; nothing stale is ever given), the whole body never copied into
# it; `forget()`, at each build's start and end, lets a long-running service drop it all.
_views: dict[str, tuple[Site, Post, _View]] = {}


def forget() -> None:
    """Drop the views kept for the last build's posts."""
    _views.clear()


def canonical_url(site: Site, post: Post) -> str | None:
    """The original's URL when the post is the source's (not the curator's own), so
    search engines send readers to the source and count our page as its copy."""
    if not post.attribution.url or is_own(site.config, post):
        return None
    return post.attribution.url
