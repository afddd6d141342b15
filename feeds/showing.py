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

from dataclasses import dataclass

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
    # one line of plain text for lists, summaries and the digest's shorter form, at most
    # ~300 characters: for `full` the post's summary (the curator's, or the standfirst),
    # for `excerpt` the excerpt's start, for `link` the curator's comment alone
    teaser: str
    link_html: Markup  # the prominent link to the original ("" when none is known)
    # the lead image, but for `link`: the source's picture is the source's too
    image: LeadImage | None = None


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
    rule, shown, teaser, link = made[2]
    if rule is Republish.FULL:
        return Showing(rule, Markup(post.body_html), teaser, link, post.image)
    return Showing(rule, shown, teaser, link, post.image if rule is Republish.EXCERPT else None)


def _parts(site: Site, post: Post) -> tuple[Republish, Markup, str, Markup]:
    """(rule, the source's words as shown but for `full`'s whole body, teaser, link)."""
    rule = republish_of(site.config, post)
    link = _link(post.attribution.url, post.attribution.source)
    if rule is Republish.FULL:
        return rule, link, summarize(post.summary), link
    if rule is Republish.EXCERPT:
        words = post.excerpt  # worked out once, at scan (core.excerpts), kept by the store
        shown = Markup(f"<p>{escape(words)}</p>\n{link}" if words else link)
        # its teaser from the excerpt itself, never the standfirst (post.summary): a
        # reader would see the standfirst and 80 words more of the source's text
        return rule, shown, summarize(words), link
    return rule, link, summarize(html_to_text(post.comment)) if post.comment else "", link


# A build asks for each post's view many times (its page, every feed set and archive page
# holding it, each format's content and summary): it is worked out once per post and
# build, kept by post id for this very site and an equal post (the page's copy and the
# feeds' are read apart; nothing stale is ever given), the whole body never copied into
# it; `forget()`, at each build's start and end, lets a long-running service drop it all.
_views: dict[str, tuple[Site, Post, tuple[Republish, Markup, str, Markup]]] = {}


def forget() -> None:
    """Drop the views kept for the last build's posts."""
    _views.clear()


def canonical_url(site: Site, post: Post) -> str | None:
    """The original's URL when the post is the source's (not the curator's own), so
    search engines send readers to the source and count our page as its copy."""
    if not post.attribution.url or is_own(site.config, post):
        return None
    return post.attribution.url
