"""How much of a post is shown: the one rule feeds, pages and the digest all follow.

A curator's own writing is theirs to show whole; another publication's text is
not, unless they say so. The post's own choice wins, then what the config says
of its source, then the site's default for other people's posts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from postroom.core.config import Config, source_key
from postroom.core.model import Post, Republish, brief
from postroom.core.sanitize import html_to_text, one_line


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


EXCERPT_WORDS = 80
#: and never longer than this many characters, a wide (CJK) one counting as 3.5 and one of
#: the other scripts written without spaces (Thai, Lao, Khmer, Myanmar) as 1.75: such a
#: text is one "word" however long, and 200 wide characters, or 400 Thai, say about what
#: 80 English words do
EXCERPT_CHARS = 700
_WIDE = 3.5
_UNSPACED = 1.75
_UNSPACED_SCRIPTS = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF))  # Thai, Lao; …
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
        text = one_line(html_to_text(body_html[:size]))
        found = text.split(" ")
        if len(found) > words or len(text) > EXCERPT_CHARS or size >= len(body_html):
            break  # more words or characters than shown (the last may be cut), or all read
        size *= 4
    shown = " ".join(found[:words])
    if (cut := _room(shown)) is not None:
        head = shown[:cut]
        shown = head.rsplit(" ", 1)[0] if " " in head[cut // 2 :] else head
    elif len(found) <= words:
        return shown
    return shown.rstrip(" ,;:.、。") + "…"


def _room(text: str) -> int | None:
    """Where `text` passes EXCERPT_CHARS (characters of unspaced scripts weighing more),
    or None."""
    if text.isascii():  # every character weighs 1: the common case, without the loop
        return EXCERPT_CHARS if len(text) > EXCERPT_CHARS else None
    if len(text) * _WIDE <= EXCERPT_CHARS:  # even at the heaviest weight it fits
        return None
    used = 0.0
    for i, char in enumerate(text):
        used += _weight(char)
        if used > EXCERPT_CHARS:
            return i
    return None


def _weight(char: str) -> float:
    if char.isascii():
        return 1
    if unicodedata.east_asian_width(char) in "WF":
        return _WIDE
    point = ord(char)
    return _UNSPACED if any(low <= point <= high for low, high in _UNSPACED_SCRIPTS) else 1
