"""English word frequencies (wordsegment's unigram table), loaded once, only when asked.

Two jobs need to know whether a string is a word: telling "WebHow" (two words
glued when a page was flattened to text) from "TechCrunch" (a name that is
written that way), and turning a domain such as "communitycare" into
"Community Care". The table costs about half a second and 60 MB to load, so
nothing loads it until one of them runs.
"""

from __future__ import annotations

import threading
from functools import lru_cache

_lock = threading.Lock()
_loaded = False


def _table() -> dict[str, float]:
    global _loaded
    import wordsegment

    if not _loaded:
        with _lock:
            if not _loaded:
                wordsegment.load()
                _loaded = True
    return wordsegment.UNIGRAMS


def frequency(word: str) -> float:
    """How often `word` (any case) occurs in the web corpus; 0 for unknown strings."""
    return _table().get(word.lower(), 0.0)


def is_word(word: str, at_least: float = 50_000) -> bool:
    """A word common enough that seeing it is evidence, not chance."""
    return frequency(word) >= at_least


@lru_cache(maxsize=4096)
def segment(text: str) -> tuple[str, ...]:
    """'fosteringinbrightonandhove' -> ('fostering', 'in', 'brighton', 'and', 'hove')."""
    import wordsegment

    _table()
    return tuple(wordsegment.segment(text))


@lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    """Given names from the US Census 1990 lists (public domain), as the `names`
    package ships them: 5,163 names, enough to tell "Lucy Webster" (a person)
    from "Nature Materials" (a journal) on a line that holds only a name."""
    from importlib.resources import files

    found: set[str] = set()
    for table in ("dist.male.first", "dist.female.first"):
        for row in (files("names") / table).read_text(encoding="ascii").splitlines():
            if row.strip():
                found.add(row.split()[0].lower())
    return frozenset(found)


def is_given_name(word: str) -> bool:
    return word.lower().strip(".") in _given_names()
