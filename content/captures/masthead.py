"""The site's name as a page shows it at its top, when it does.

Blogs and small sites open with their name: "Home Is Where The Art Is" and a
tagline under it, "Life Reflected" repeated in the search box, "Department of
Social & Policy Sciences" above a department's news. A first line is taken as
the site's name only when it looks like one (a short line in title case, not
a headline, a person or a date) and the page confirms it: a tagline follows,
the name comes back later on the page, or it names an organisation.
"""

from __future__ import annotations

from postroom.content.captures.kinds import Info, Kind
from postroom.content.captures.layout import Segment

_MAX_WORDS = 7
_TAGLINE_WORDS = 30
_ORG_WORDS = frozenset(
    [
        "community",
        "council",
        "department",
        "faculty",
        "school",
        "college",
        "university",
        "institute",
        "society",
        "association",
        "foundation",
        "trust",
        "network",
        "agency",
        "centre",
        "center",
        "charity",
        "partnership",
        "group",
        "club",
        "service",
        "services",
        "office",
        "commission",
        "board",
    ]
)
_SMALL = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "in",
        "on",
        "for",
        "at",
        "to",
        "by",
        "&",
        "is",
        "from",
        "with",
        "into",
        "over",
        "about",
        "as",
        "or",
        "vs",
    ]
)


# a section's or listing's heading, not the site's name: "Research Archive", "Latest News"
_SECTION_WORDS = frozenset(
    [
        "archive",
        "archives",
        "news",
        "blog",
        "posts",
        "latest",
        "research",
        "releases",
        "press",
        "category",
        "tag",
        "results",
        "search",
        "media",
        "events",
        "stories",
        "articles",
        "updates",
    ]
)


def _title_case(text: str) -> bool:
    words = [w for w in text.split() if w.lower() not in _SMALL]
    return bool(words) and all(w[:1].isupper() or not w[:1].isalpha() for w in words)


def masthead(infos: list[Info]) -> str | None:
    """The site's name if the capture's first line looks like it, else None."""
    kept = [i for i in infos if i.kind is not Kind.JUNK]
    if len(kept) < 3:
        return None
    first, second = kept[0], kept[1]
    text = first.text
    person = first.person
    if first.kind is not Kind.HEAD or (person and person.known) or not _title_case(text):
        return None
    if len(text.split()) > _MAX_WORDS or any(w.lower() in _SECTION_WORDS for w in text.split()):
        return None
    tagline = second.kind is Kind.PROSE and len(second.text.split()) <= _TAGLINE_WORDS
    repeated = any(text in i.text for i in infos[infos.index(first) + 1 :])
    organisation = any(w.lower() in _ORG_WORDS for w in text.split())
    return text if tagline or repeated or organisation else None


def is_site_header(segment: Segment, name: str) -> bool:
    """A 'post' that is only the site's name over its tagline: the page's header."""
    head = segment.head
    if head is None or not any(i.text == name for i in head.infos):
        return False
    prose = [i for b in segment.blocks for i in b.infos if i.kind is Kind.PROSE]
    return len(prose) <= 1 and all(len(i.text.split()) <= _TAGLINE_WORDS for i in prose)
