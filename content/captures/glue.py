"""Undoing the glue of pages flattened to text.

When a page becomes text, blocks that sat side by side can lose the space
between them: "Software EngineerArticle by …", "Sam FosterThe hard work …",
"The Next WebHow robotics …", "3 min readMar 27, 2017", or a teaser's
"…" run straight into the next headline. Each is a lower-case letter followed
by a capital inside one token, where the token is not a name written that
way ("TechCrunch", "WordPress", "HuffPost"): the glued token is not a word,
the left half is, and either the left half is written in lower case (names
are not: "walkingDivorce") or the right half is a month or a word that
begins lines (an article, a pronoun, a question word, a byline verb).
"""

from __future__ import annotations

import re

from postroom.content import words
from postroom.content.dates import MONTH_NAMES

# a word, glued to a capitalised word: "EngineerArticle", "WebHow", "readMar", "KnightsA post";
# found from each lower-to-upper case change, each side read a bounded way (no backtracking
# over a long run of letters)
_CHANGE = re.compile(r"(?<=[a-z]{2})(?=[A-Z])")
_LEFT = re.compile(r"[A-Za-z]{2,40}$")
_RIGHT = re.compile(r"[A-Z][a-z]{1,40}(?![A-Za-z])|[AI](?=\s)")
# "…" or "..." then a capital: a teaser's end glued to whatever came next
_ELLIPSIS = re.compile(r"(?<=\S)(?:…|\.\.\.)(?=[A-Z“‘\"'])")
# words that begin a headline, a sentence or a byline, whatever the page is about
_LINE_START = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "how",
        "why",
        "what",
        "when",
        "where",
        "who",
        "which",
        "it",
        "its",
        "i",
        "we",
        "you",
        "he",
        "she",
        "they",
        "our",
        "my",
        "your",
        "his",
        "her",
        "their",
        "there",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "after",
        "before",
        "as",
        "if",
        "by",
        "posted",
        "published",
        "written",
        "article",
        "read",
        "updated",
    ]
)
_KNOWN = 5e4  # a glued token this common is a name written that way ("PayPal")


def _is_glue(left: str, right: str, chunk: str) -> bool:
    joined = left + right
    if words.frequency(joined) >= _KNOWN:
        return False
    if right in ("A", "I"):
        return words.is_word(left, 1e5) or left[:1].isupper()  # "Emma KnightsA post office"
    if right.lower() in MONTH_NAMES or left.lower().endswith("more"):
        return True  # "readMar 27", "Read MoreGordon fires four …"
    if left[0].islower() and len(left) >= 3 and len(chunk.split()) <= 12:
        # "group of children walkingDivorce Myths": a caption run into a headline (names
        # written this way start with a capital or with one letter: "HuffPost", "iPhone")
        return True
    return right.lower() in _LINE_START and words.is_word(left, 1e6)


_MAYBE = re.compile(r"[a-z][A-Z]|…|\.\.\.")


def split_glued(line: str) -> list[str]:
    """One flattened line as the lines it was made of (usually just itself)."""
    if not _MAYBE.search(line):
        return [line]
    parts: list[str] = []
    for piece in _ELLIPSIS.sub("…\n", line).split("\n"):
        start = 0
        for change in _CHANGE.finditer(piece):
            cut = change.start()
            left = _LEFT.search(piece, max(start, cut - 40), cut)
            right = _RIGHT.match(piece, cut)
            if left and right and _is_glue(left.group(), right.group(), piece[start:cut]):
                parts.append(piece[start:cut])
                start = cut
        parts.append(piece[start:])
    return [p.strip() for p in parts if p.strip()]
