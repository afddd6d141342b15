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
from functools import lru_cache

from markupsafe import Markup, escape
from postroom.core.config import Site
from postroom.core.model import Post, Republish
from postroom.core.republish import excerpt, is_own, republish_of
from postroom.core.sanitize import html_to_text, one_line, summarize


@dataclass(frozen=True)
class Showing:
    """A post as the site may show it: `rule` decided once, the rest derived from it."""

    rule: Republish
    # the source's words as shown (sanitized HTML; "" for `link`), then the link out
    body_html: Markup
    # one line of plain text for lists, summaries and the digest's shorter form: the
    # post's summary (the curator's, or its standfirst), at most ~300 characters; for
    # `link`, the curator's comment alone
    teaser: str
    link_html: Markup  # the prominent link to the original ("" when none is known)


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
    return _view(
        republish_of(site.config, post),
        post.body_html,
        post.summary,
        post.comment,
        post.attribution.url,
        post.attribution.source,
    )


# A build asks for each post's view many times (its page, every feed set holding it, each
# format's content and summary): it is made once per rule and text, keyed by strings
# (whose hashes Python keeps), not by the post (a dataclass hashes all its fields anew).
@lru_cache(maxsize=512)  # bounded: a FULL view holds a copy of its body (Markup)
def _view(
    rule: Republish, body: str, summary: str, comment: str, url: str | None, source: str | None
) -> Showing:
    link = _link(url, source)
    if rule is Republish.FULL:
        return Showing(rule, Markup(body), one_line(summary), link)
    if rule is Republish.EXCERPT:
        words = excerpt(body)
        shown = Markup(f"<p>{escape(words)}</p>\n{link}" if words else link)
        return Showing(rule, shown, summarize(summary) or summarize(words), link)
    teaser = summarize(html_to_text(comment)) if comment else ""
    return Showing(rule, link, teaser, link)


def canonical_url(site: Site, post: Post) -> str | None:
    """The original's URL when the post is the source's (not the curator's own), so
    search engines send readers to the source and count our page as its copy."""
    if not post.attribution.url or is_own(site.config, post):
        return None
    return post.attribution.url
