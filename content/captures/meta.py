"""Meta lines: the short lines around a headline that say when and by whom.

"Jonathan Stanley | Posted 09.04.2014 | UK Politics", "August 13, 2020 |
Written by Eddie Dube", "1 min read/Published On: November 5, 2020/234 words/",
"Valeroadmum Thu 11-Jun-15 14:10:27", "Posted on 25/02/2022 in Youth Sector
News": a date with labels, an author, a section and a reading time glued
round it. `read_meta` takes the date out, peels the labels and says what the
rest is. A date labelled as an update, or followed by a place ("14 March
2015, 16:30, Banbury Road North"), is not when the post was published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from postroom.content.captures.people import Person, byline, name_line
from postroom.content.dates import DateHit, find_dates

_LABEL = re.compile(
    r"""(?:^|[\s|/•·,:–—-])(?:
      posted|published|publish\ date|date\ published|first\ published|originally\ published
    | released|public\ release|issued|date|dated|written|filed|article|story|news|press\ release
    | mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday
    | saturday|sunday
    | on|at|in
    )\s*:?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "Joined: Mon Jan 06, 2020": when a forum member registered, not when they posted
_JOINED = re.compile(r"\b(?:joined|member\ since|registered|since)\b", re.IGNORECASE | re.VERBOSE)
_UPDATE = re.compile(
    r"\b(?:updated|modified|edited|revised|last\ reviewed)\b", re.IGNORECASE | re.VERBOSE
)
_PUBLISHED = re.compile(r"\b(?:posted|published|released|issued)\b", re.IGNORECASE)
_READ_TIME = re.compile(
    r"~?\d+\s*min(?:ute)?s?(?:\s*read)?\b|\d[\d,]*\s*words?\b|\d+\s*comments?", re.IGNORECASE
)
_SEPARATORS = re.compile(r"^[\s|/•·,:;–—\-]+|[\s|/•·,:;–—\-]+$")
_MONTH_YEAR = re.compile(r"^[A-Z][a-z]{2,8}\.?,?\s+(?:19|20)\d\d$")
_EMPTY_TEMPLATE = re.compile(
    r"^(?:posted|published|publish\ date|date\ published|date|posted\ on|published\ on|by)"
    r"(?:\s*(?:,|on|:)?\s*(?:updated)?\s*:?)?\s*$",
    re.IGNORECASE | re.VERBOSE,
)
_TIME_ONLY = re.compile(r"^\d{1,2}(?:[:.]\d\d)?\s*[ap]\.?m\.?$", re.IGNORECASE)


class DateRole(StrEnum):
    PUBLISHED = "published"  # when the post went out
    UPDATED = "updated"  # a later edit: not the publication date
    EVENT = "event"  # a fixture, a meeting: the date of something else


@dataclass(frozen=True)
class Meta:
    hit: DateHit
    role: DateRole
    author: Person | None
    before: str  # what stood before the date, labels removed
    after: str  # what stood after it, times and reading time removed


def is_empty_template(text: str) -> bool:
    """'Posted on', 'Posted , updated', 'Publish date': a date slot the capture lost."""
    return bool(_EMPTY_TEMPLATE.match(text.strip()))


def is_time_only(text: str) -> bool:
    return bool(_TIME_ONLY.match(text.strip()))


def _strip_labels(text: str) -> str:
    text = _READ_TIME.sub(" ", text)
    previous = None
    while previous != text:
        previous = text
        text = _SEPARATORS.sub("", text)
        text = _LABEL.sub("", text)
    return text.strip()


def read_meta(text: str, day_first: bool = True, hits: list[DateHit] | None = None) -> Meta | None:
    """The date on a meta line and what surrounds it; None if the line is no meta line."""
    hits = find_dates(text, day_first) if hits is None else hits
    if not hits or len(text) > 140:
        return None
    hit = hits[0]
    before_raw, after_raw = text[: hit.start], text[hit.end :]
    role = DateRole.PUBLISHED
    if _UPDATE.search(before_raw) and not _PUBLISHED.search(before_raw):
        role = DateRole.UPDATED
    elif _JOINED.search(before_raw):
        role = DateRole.EVENT
    author = None
    by_at = re.search(r"\bby\b:?", before_raw, re.IGNORECASE)
    if by_at and (person := byline(before_raw[by_at.start() :].strip(" |,"))):
        author = person
        before_raw = before_raw[: by_at.start()]
    before = _strip_labels(before_raw)
    if before and author is None and (person := name_line(before)) and person.known:
        author, before = person, ""
    elif before and author is None and _is_handle(before) and hit_has_time(text, hit):
        # forum posts: "Valeroadmum Thu 11-Jun-15 14:10:27"
        author, before = Person(before), ""
    fielded = bool(re.match(r"^\s*[|/•·]", after_raw))
    fielded_any = bool(re.search(r"[|/•·]", after_raw))
    after_raw = re.sub(r"\([^()]*\)", " ", after_raw)  # "(7 hours old)": an aside, no place
    rest: list[str] = []
    for field in re.split(r"\s*[|/•·]\s*", _READ_TIME.sub(" ", after_raw)):
        field = field.strip(" ,;–—-")
        if not field or _MONTH_YEAR.match(field):
            continue
        if by := re.search(r"\bby\b", field, re.IGNORECASE):
            author = author or byline(field[by.start() :])
            continue
        if _UPDATE.match(field) or re.match(r"^(?:in|under|filed\ under)\s", field):
            continue
        if fielded_any and (person := name_line(field)) and person.known:
            author = author or person  # "March 11, 2026 · 7 min · Rob Washington"
            continue
        rest.append(field)
    after = " ".join(rest)
    if after and not fielded and len(after.split()) >= 2 and role is DateRole.PUBLISHED:
        role = DateRole.EVENT
    return Meta(hit, role, author, before, after)


def _is_handle(text: str) -> bool:
    """'Valeroadmum', 'muriel_volestrangler': one token that is no dictionary word."""
    from postroom.content import words

    return len(text.split()) == 1 and (
        any(c in text for c in "_@0123456789") or words.frequency(text) < 1e5
    )


def hit_has_time(text: str, hit: DateHit) -> bool:
    return bool(re.search(r"\d[:.]\d\d", text[hit.start : hit.end]))


# a paragraph opening with its own day: "29 June 2020. Barnardos today …"
_DATE_OPENING = re.compile(r"^([^.]{6,40}?)\.\s+(?=[A-Z])")


def opening_date(text: str) -> tuple[DateHit, str] | None:
    """The day a paragraph opens with as a sentence of its own, and the rest of it."""
    stamp = _DATE_OPENING.match(text)
    hits = find_dates(stamp[1]) if stamp else []
    if hits and hits[0].start == 0 and hits[0].end == len(stamp[1]):
        return hits[0], text[stamp.end() :]
    return None
