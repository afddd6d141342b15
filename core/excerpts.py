"""A post's excerpt: its first ~80 words as one line of plain text (`core.republish`
decides which posts show it; `feeds.showing` words it).

Its own module, below `core.model`: a `Post` carries its excerpt (`Post.excerpt`),
worked out once per version by the scan's workers (`content.examine`) and kept in
the version's JSON by the store, because a build asks for it on every page, feed
entry and archive document that shows the post (a third of a cold build's CPU when
each asked anew).

Kept excerpts are only as good as the rule that made them: change `EXCERPT_*`, the
weights below or what `excerpt` does, and bump `_ALGORITHM`. `EXCERPT_STAMP` is
stored with each excerpt and compared on read, so an excerpt made another way is
never shown: the post's is worked out again. The constants and the html-to-text
library's version are in the stamp by themselves; tests/test_excerpt_stored.py pins
the output of `excerpt` for sample bodies, so a change that forgets the bump fails.
"""

from __future__ import annotations

import hashlib
import unicodedata

import nh3
from postroom.core.sanitize import first_words, has_illegal, html_to_text, summary_head

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

#: bump when `excerpt`, `_room`, `_weight` or `core.sanitize.html_to_text`/`first_words`
#: change what an excerpt says (see the module's docstring)
_ALGORITHM = 1
_RULE = (EXCERPT_WORDS, EXCERPT_CHARS, _WIDE, _UNSPACED, _UNSPACED_SCRIPTS, nh3.__version__)
#: what made an excerpt, stored beside it: one kept under another stamp is made again
EXCERPT_STAMP = f"{_ALGORITHM}-" + hashlib.sha256(repr(_RULE).encode()).hexdigest()[:12]


def excerpt(body_html: str, words: int = EXCERPT_WORDS) -> str:
    """The first `words` words of a post's text as one line of plain text, ending "…"
    when there is more: what an `excerpt` post shows of the source's words. Words, not
    characters: a reader judges a quotation by its length in words.

    Only as much of the body is read as the words need (a longer start when markup is
    dense): a whole long article costs a millisecond to turn into text where its
    first few KB cost a tenth of that.

    A post's summary has just read the text of a head of it (`summary_head`): when that
    head lies within the first `_EXCERPT_START` characters and its text holds more than
    `words` words, those are the words the first look below would find (its text is
    the start of that look's, whose first words are whole), and it is not made again."""
    found, more = _summary_head_words(body_html, words)
    shown = " ".join(found)
    size = _EXCERPT_START
    while not more:
        found, more = first_words(html_to_text(body_html[:size]), words)
        shown = " ".join(found)
        if more or len(shown) > EXCERPT_CHARS or size >= len(body_html):
            break  # more words or characters than shown (the last may be cut), or all read
        size *= 4
    if (cut := _room(shown)) is not None:
        head = shown[:cut]
        shown = head.rsplit(" ", 1)[0] if " " in head[cut // 2 :] else head
    elif not more:
        return shown
    return shown.rstrip(" ,;:.、。") + "…"


def _summary_head_words(body_html: str, words: int) -> tuple[list[str], bool]:
    """`first_words` of the text of `summary_head(body_html)` (no words when it has none
    or passes `_EXCERPT_START`): the text `html_to_text` keeps from the summary's look.
    No words either when the first look would meet a character XML cannot carry (a
    lone surrogate fails it there; a body `clean_html` made holds none)."""
    head = summary_head(body_html)
    if head is None or len(head) > _EXCERPT_START:
        return [], False
    if not body_html.isascii() and has_illegal(body_html[:_EXCERPT_START]):
        return [], False
    return first_words(html_to_text(head), words)


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
