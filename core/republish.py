"""How much of a post is shown: the one rule feeds, pages and the digest all follow.

A curator's own writing is theirs to show whole; another publication's text is
not, unless they say so. The post's own choice wins, then what the config says
of its source, then the site's default for other people's posts.
"""

from __future__ import annotations

from collections.abc import Iterable

from postroom.core.config import Config, source_key
from postroom.core.excerpts import EXCERPT_CHARS, EXCERPT_WORDS, excerpt  # noqa: F401 (callers)
from postroom.core.model import Post, Republish, brief
from postroom.core.sanitize import one_line


def read_republish(value: object, where: str) -> tuple[Republish, str | None]:
    """A post's own `republish` (front matter, sidecar), and a warning naming `where`
    when it is no rule: then the post is shown as `link`, the least, until it is mended.
    Not an error: a broken file keeps its last good version published, and a typo must
    not keep a whole article up that the curator meant to narrow."""
    if isinstance(value, str) and value.strip().lower() in tuple(Republish):
        return Republish(value.strip().lower()), None
    allowed = ", ".join(tuple(Republish))
    why = f"{where} 'republish' must be one of {allowed}, not {brief(value)}; shown as link"
    return Republish.LINK, why


#: the files a curator writes themselves: a post from one with no source is theirs
OWN_SUFFIXES = (".md", ".markdown")


def is_own(config: Config, post: Post) -> bool:
    """The curator's own post: a Markdown post with no source, or with the site itself
    named as its source. A capture or a saved page with no source is still someone
    else's text whose publication intake could not name: it is not shown whole."""
    if not one_line(post.attribution.source or ""):
        return bool(post.files) and all(f.lower().endswith(OWN_SUFFIXES) for f in post.files)
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
