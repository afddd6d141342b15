"""How much of a post is shown: the one rule feeds, pages and the digest all follow.

A curator's own writing is theirs to show whole; another publication's text is
not, unless they say so. The post's own choice wins, then what the config says
of its source, then the site's default for other people's posts.
"""

from __future__ import annotations

from collections.abc import Iterable

from postroom.core.config import Config, source_key
from postroom.core.model import Post, ReadError, Republish, brief
from postroom.core.sanitize import html_to_text, one_line


def read_republish(value: object, where: str) -> Republish:
    """A post's own `republish` (front matter, sidecar), or ReadError naming `where`: a
    typo must not quietly show a whole article the curator meant to link to."""
    if isinstance(value, str) and value.strip().lower() in tuple(Republish):
        return Republish(value.strip().lower())
    allowed = ", ".join(tuple(Republish))
    raise ReadError(f"{where} 'republish' must be one of {allowed}, not {brief(value)}")


def is_own(config: Config, post: Post) -> bool:
    """The curator's own post: no source, or the site itself named as its source."""
    if not one_line(post.attribution.source or ""):
        return True
    own = {source_key(config.site.title), source_key(config.curator.name)}
    return source_key(post.attribution.source or "") in own


def unmatched_sources(config: Config, posts: Iterable[Post]) -> list[str]:
    """The `[sources."…"]` tables no post's source matches: most likely a misspelling,
    whose rule would never apply."""
    found = {source_key(p.attribution.source) for p in posts if p.attribution.source}
    return [table.name for key, table in config.sources if key not in found]


def republish_of(config: Config, post: Post) -> Republish:
    if post.republish is not None:
        return post.republish
    if is_own(config, post):
        return Republish.FULL
    table = config.source(post.attribution.source)
    if table is not None and table.republish is not None:
        return table.republish
    return config.site.republish


EXCERPT_WORDS = 80
_EXCERPT_START = 2048  # characters of HTML read first: ~80 words of prose with its tags


def excerpt(body_html: str, words: int = EXCERPT_WORDS) -> str:
    """The first `words` words of a post's text as one line of plain text, ending "…"
    when there is more: what an `excerpt` post shows of the source's words. Words, not
    characters: a reader judges a quotation by its length in words.

    Only as much of the body is read as the words need (a longer start when markup is
    dense): every page, feed and digest asks, and a whole long article costs a
    millisecond to turn into text where its first few KB cost a tenth of that."""
    size = _EXCERPT_START
    while True:
        found = one_line(html_to_text(body_html[:size])).split(" ")
        if len(found) > words or size >= len(body_html):
            break  # more words than shown (the last may be cut), or the whole body read
        size *= 4
    if len(found) <= words:
        return " ".join(found)
    return " ".join(found[:words]).rstrip(" ,;:.") + "…"
