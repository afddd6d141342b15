"""Raw text captures of web pages: one post, an archive of several, or none dated.

A capture is read line by line. Junk lines go first (content.junk); then every
date line starts a post, and its title is the heading line beside it: after a
bare date header ("Wednesday, 19 April 2017", a blog archive), before a byline
date ("Posted on 23/06/2016 by", a news page). Lines before the first post are
page furniture. Within a post, a comment section ends it, and credit lines,
bylines, sign-offs and a standfirst become its attribution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import tzinfo

from content.dates import DateLine, read_date_line
from content.junk import is_junk, opens_comments
from content.model import Attribution, ParsedPost
from content.sanitize import one_line, summarize, text_to_html

_MAX_TITLE_CHARS = 200
_MAX_TITLE_WORDS = 25
_CREDIT = re.compile(
    r"^(?:source|via|credit|originally published (?:in|on|by|at)"
    r"|first published (?:in|on|by|at)|this (?:article|post) (?:was )?first "
    r"(?:appeared|published) (?:in|on))\s*:?\s*(?P<source>.+?)\.?$",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^by:?\s+(?P<name>[^,]{2,60})(?:,\s*(?P<role>.{2,120}))?$", re.IGNORECASE)
# "Mark Rogers, chief executive, Solihull MBC": a name of 2-4 capitalised words, then a role.
_SIGN_OFF = re.compile(
    r"^(?P<name>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3}),\s+(?P<role>[^.!?]{2,120})$"
)
_STANDFIRST_SPAN = 3  # a byline this close under the title has a standfirst above it


@dataclass
class _Segment:
    title: str | None
    date: DateLine | None
    lines: list[str]  # the body, junk already gone


def _is_title_like(line: str) -> bool:
    return (
        len(line) <= _MAX_TITLE_CHARS
        and len(line.split()) <= _MAX_TITLE_WORDS
        and not line.endswith((".", ",", ";", ":"))
        and not _CREDIT.match(line)
        and not _BYLINE.match(line)
    )


def _lines(text: str) -> list[str]:
    folded = (one_line(raw) for raw in text.splitlines())
    return [line for line in folded if line and not is_junk(line)]


def _title_index(lines: list[str], at: int, date: DateLine, taken: int) -> int | None:
    """Where the title of the post dated on line `at` is; `taken` lines are earlier posts'."""
    before, after = at - 1, at + 1
    order = (before, after) if date.byline else (after, before)
    for index in order:
        if taken <= index < len(lines) and index != at and _is_title_like(lines[index]):
            return index
    return None


def _segments(lines: list[str], tz: tzinfo, day_first: bool) -> list[_Segment]:
    dates = [(i, d) for i, line in enumerate(lines) if (d := read_date_line(line, tz, day_first))]
    if not dates:
        first = next((i for i, line in enumerate(lines) if _is_title_like(line)), None)
        if first is None:
            return [_Segment(None, None, lines)] if lines else []
        return [_Segment(lines[first], None, lines[first + 1 :])]
    heads: list[tuple[int, int | None, DateLine]] = []  # (start, title index, date)
    taken = 0
    for at, date in dates:
        title_at = _title_index(lines, at, date, taken)
        start = min(at, title_at) if title_at is not None else at
        heads.append((start, title_at, date))
        taken = max(at, title_at if title_at is not None else at) + 1
    segments = []
    for n, (start, title_at, date) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        skip = {title_at, dates[n][0]}
        body = [lines[i] for i in range(start, end) if i not in skip]
        segments.append(_Segment(lines[title_at] if title_at is not None else None, date, body))
    return segments


def _attribution(lines: list[str], date: DateLine | None) -> tuple[Attribution, list[str], str]:
    """Pull credit, byline, sign-off and standfirst out of a post's lines."""
    body = list(lines)
    for i, line in enumerate(body):
        if opens_comments(line):
            body = body[:i]
            break
    source = credit = author = role = None
    standfirst: list[str] = []
    for i in range(len(body) - 1, -1, -1):
        if match := _CREDIT.match(body[i]):
            source, credit = match["source"], body.pop(i)
            break
    for i, line in enumerate(body[: _STANDFIRST_SPAN + 1]):
        if match := _BYLINE.match(line):
            author, role = match["name"], match["role"]
            standfirst = body[:i]
            del body[i]
            break
    if body and (match := _SIGN_OFF.match(body[-1])) and len(body[-1].split()) <= 15:
        author = author or match["name"]
        role = role or match["role"]
        body.pop()
    if author is None and date is not None:
        author = date.author
    attribution = Attribution(source=source, author=author, author_role=role, credit=credit)
    return attribution, body, " ".join(standfirst)


def read_capture(text: str, tz: tzinfo, day_first: bool = True) -> list[ParsedPost]:
    """Every post in a capture; an undated one has date None for the store to fill in."""
    posts = []
    for segment in _segments(_lines(text), tz, day_first):
        attribution, body, standfirst = _attribution(segment.lines, segment.date)
        title = segment.title or (summarize(body[0], 80) if body else None)
        if not title or not body:
            continue
        posts.append(
            ParsedPost(
                title=title,
                date=segment.date.date if segment.date else None,
                date_source=segment.date.source if segment.date else None,
                body_html=text_to_html(body),
                summary=standfirst or summarize(body[0]),
                attribution=attribution,
            )
        )
    return posts
