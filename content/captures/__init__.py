"""Raw text captures of web pages: one post, a listing of several, or none dated.

The pipeline, each step a module of its own:

1. `lines`: the text as lines, glued blocks parted ("…EngineerArticle by …").
2. `kinds`: what each line is on its own (junk, a post's end, a meta line
   with its date, author or credit, a heading with a headline score, prose).
3. `layout`: where posts begin, from blocks of headings and prose and what
   the page is (a listing or an article).
4. `assemble`: each post's title, date, author, source and body.

Nothing here names a site: every rule is a feature any page of its kind has.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from postroom.content.captures.assemble import PageContext, build_post, share_dates
from postroom.content.captures.kinds import classify
from postroom.content.captures.layout import move_trailers, segment
from postroom.content.captures.lines import split_lines
from postroom.content.captures.masthead import is_site_header, masthead
from postroom.content.captures.titles import pick_title, title_side
from postroom.content.dates import numeric_orders
from postroom.content.sitename import site_name
from postroom.core.model import ParsedPost

# " date 2024-02-23 Submit Release": the date the page's text was stored with, at its top
_STORED_DATE = re.compile(r"^\s*date\s+(?P<iso>\d{4}-\d\d(?:-\d\d)?)\b[ \t]*", re.IGNORECASE)


def _stored_date(text: str, tz: tzinfo) -> tuple[datetime | None, str]:
    """The capture's stored date (a full day only) and its text without it."""
    match = _STORED_DATE.match(text)
    if not match:
        return None, text
    rest = text[match.end() :]
    if len(match["iso"]) < 10:
        return None, rest  # "date 2021-11": a month, not a day
    try:
        return datetime.fromisoformat(match["iso"]).replace(tzinfo=tz), rest
    except ValueError:
        return None, rest


def _page_day_first(text: str, day_first: bool) -> tuple[bool, bool]:
    """Whether 03/04 means 3 April on this page, and whether the page itself says so."""
    orders = numeric_orders(text)
    if orders == {"dmy"}:
        return True, True
    if orders == {"mdy"}:
        return False, True
    return day_first, False


def read_capture(
    text: str, tz: tzinfo, day_first: bool = True, url: str | None = None
) -> list[ParsedPost]:
    """Every post in a capture; an undated one has date None for the store to fill in."""
    stored, text = _stored_date(text, tz)
    day_first, decided = _page_day_first(text, day_first)
    infos = [info for line in split_lines(text) for info in classify(line, day_first)]
    segments = segment(infos, url)
    name = masthead(infos)
    if name and len(segments) > 1 and is_site_header(segments[0], name):
        segments = segments[1:]  # the blog's name over its tagline, not a post
    move_trailers(segments)
    single = len(segments) == 1
    titled = sum(1 for s in segments if s.head and s.head.titles) * 2 > len(segments)
    title_after = title_side(segments)
    titles = [pick_title(s.head, title_after) if s.head else None for s in segments]
    headlines = {t.text for t in titles if t is not None}
    name = None if name in headlines else name
    ctx = PageContext(
        tz,
        decided,
        site_name(url, text, name),
        single=single,
        title_after=title_after,
        titled=titled and not single,
        stored=stored if single else None,
    )
    posts = [build_post(s, t, ctx) for s, t in zip(segments, titles, strict=True)]
    return share_dates([p for p in posts if p is not None])
