"""From a segment of lines to a post: title, date, attribution and body.

The date is the post's own (a credit line's date only when the page gives no
other); the author comes from a byline, a name line, a byline glued into the
text, a teaser that introduces its writer, a statement's signatory or a
sign-off; the source from a credit, a dateline, an outlet line or a
reblogged blog's header, else the publishing site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from postroom.content.captures.body import Body, read_body
from postroom.content.captures.credits import permission_credit
from postroom.content.captures.kinds import Info, Kind
from postroom.content.captures.layout import Segment
from postroom.content.captures.people import (
    Person,
    closing_credit,
    name_line,
    sign_off,
    teaser_writer,
)
from postroom.content.captures.titles import title_from_meta
from postroom.content.dates import MONTH_NAMES, WEEKDAY_NAMES, date_source, find_dates
from postroom.core.model import Attribution, DateSource, ParsedPost
from postroom.core.sanitize import summarize, text_to_html

# "Statement from Council Member Maxie Johnson": the page is one person's words
_STATEMENT = re.compile(
    r"^(?:an?\s+)?(?:(?:joint\s+)?statement|remarks|message|letter|open\s+letter|speech|"
    r"foreword|op-ed)\s+(?:from|by)\s+(?P<who>.+)$",
    re.IGNORECASE,
)
_PROMOTED_TITLE_WORDS = 25
_BY_LINE = re.compile(r"^(?:written\s+|posted\s+|post\s+)?by\b", re.IGNORECASE)


@dataclass(frozen=True)
class PageContext:
    tz: tzinfo
    day_first_decided: bool  # numeric dates' order came from the page, not the locale
    site: str | None  # the publishing site's name, for posts that credit no one
    single: bool  # the capture holds one post: standfirsts are skipped
    title_after: bool | None = None  # the page's headlines follow their date lines
    titled: bool = False  # the page's other posts have headlines
    stored: datetime | None = None  # the date the page was stored with (one post only)


def _date(
    segment: Segment, ctx: PageContext, body: Body
) -> tuple[datetime | None, DateSource | None]:
    """The post's own date; a credit's date (the original's) only when it has none."""
    own = ([segment.head] if segment.head else []) + segment.tail
    for block in own:
        for info in block.infos:
            if info.published and not info.credit:
                return info.meta.hit.aware(ctx.tz), date_source(
                    info.meta.hit, ctx.day_first_decided
                )
    for block in own[:1] + segment.blocks + segment.tail:
        for info in block.infos:
            if info.credit and info.published:
                return info.meta.hit.aware(ctx.tz), date_source(
                    info.meta.hit, ctx.day_first_decided
                )
    if body.dated is not None:
        return body.dated.aware(ctx.tz), date_source(body.dated, ctx.day_first_decided)
    if ctx.stored is not None:
        return ctx.stored, DateSource.TEXT
    return None, None


def _statement_author(title: str | None) -> Person | None:
    match = _STATEMENT.match(title or "")
    if not match:
        return None
    words = match["who"].split()
    for size in (3, 2):
        if len(words) >= size and (person := name_line(" ".join(words[-size:]))) and person.known:
            return person
    return None


def _author(segment: Segment, title: Info | None, body: Body) -> Person | None:
    if title is not None and title.title_author:
        return title.title_author
    head = segment.head.infos if segment.head else []
    for info in head:
        if info.kind is Kind.META and info.person:
            return info.person
        if info.credit and info.credit.author:
            return Person(info.credit.author)
    for info in head:
        if info.kind is Kind.HEAD and info is not title and info.person and info.person.known:
            return info.person
    if body.author:
        return body.author
    if person := _statement_author(title.text if title else None):
        return person
    if body.paragraphs and (person := teaser_writer(body.paragraphs[0].text)):
        return person
    for block in segment.tail:
        for info in block.infos:
            if info.person and (info.person.known or info.kind is Kind.META):
                return info.person
            if info.credit and info.credit.author:
                return Person(info.credit.author)
    for info in body.paragraphs[-3:]:
        if person := closing_credit(info.text):
            return person
    for block in segment.blocks:  # "By Jim Downing" under the text, before a gallery
        for info in block.infos:
            if info.kind is Kind.META and info.person and _BY_LINE.match(info.text):
                return info.person
    if body.paragraphs:
        return sign_off(body.paragraphs[-1].text) or _dashed_sign_off(segment, body)
    return None


def _dashed_sign_off(segment: Segment, body: Body) -> Person | None:
    """'— Katherine' after the text (a dashed name above it is an epigraph's author)."""
    last = body.paragraphs[-1].line.index
    for block in segment.blocks:
        for info in block.infos:
            if info.line.dash and info.person and info.line.index > last:
                return info.person
    return None


def _credit(segment: Segment, title: Info | None) -> Info | None:
    """The line crediting another publication, if the post has one."""
    if title is not None and title.credit:
        return title
    everything = ([segment.head] if segment.head else []) + segment.blocks + segment.tail
    for block in everything:
        for info in block.infos:
            if info.credit and info.credit.source:
                return info
    return None


def _source(segment: Segment, title: Info | None, body: Body) -> str | None:
    everything = ([segment.head] if segment.head else []) + segment.blocks + segment.tail
    if credit := _credit(segment, title):
        return credit.credit.source
    if body.source:
        return body.source
    for block in everything:
        outlets = [i.outlet for i in block.infos if i.outlet]
        for n, info in enumerate(block.infos):
            if info.outlet and (
                block is not segment.head
                or _beside_meta(block.infos, n)
                or outlets.count(info.outlet) > 1  # "CBC" … "- CBC": an item's source tag
            ):
                return info.outlet
    if segment.head:
        infos = segment.head.infos
        for n, info in enumerate(infos[:-1]):
            after = infos[n + 1]
            if (
                info.kind is Kind.HEAD
                and info.person is not None
                and info.person.known
                and after.kind is Kind.HEAD
                and after is not title
                and len(after.text.split()) <= 5
                and not find_dates(after.text)
                and after.text.lower().rstrip(".") not in MONTH_NAMES | WEEKDAY_NAMES
            ):
                return after.text  # "Peter Mares" then "Inside Story"
    if segment.reblog:
        headings = [b for b in segment.blocks if b.heading]
        if headings:
            last = headings[-1].infos[-1]
            return last.person.name if last.person and last.kind is Kind.META else last.text
    for info in body.paragraphs[:3]:
        if found := permission_credit(info.text):
            return found
    return None


def _beside_meta(infos: list[Info], n: int) -> bool:
    """An outlet line in an opening block counts beside a name or date line, not as a
    page's heading ("News Focus" above a listing)."""
    near = infos[max(n - 1, 0) : n] + infos[n + 1 : n + 2]
    return any(i.meta is not None or i.person is not None for i in near)


def build_post(segment: Segment, title: Info | None, ctx: PageContext) -> ParsedPost | None:
    """The post a segment holds under its headline (`titles.pick_title`), or None when it
    has no text of its own."""
    body = read_body(segment, title, ctx.single)
    paras = body.paragraphs
    if not paras:
        return None
    title_text = title.text if title else None
    if title_text is None and segment.head is not None:
        title_text = title_from_meta(segment.head)
    if (
        title_text is None
        and ctx.titled
        and len(paras) >= 2
        and len(paras[0].text.split()) <= _PROMOTED_TITLE_WORDS
    ):
        # an item whose headline ends in a full stop, on a page whose items have headlines
        title_text = paras.pop(0).text
    date, source_kind = _date(segment, ctx, body)
    author = _author(segment, title, body)
    source = _source(segment, title, body) or ctx.site
    credit = _credit(segment, title)
    texts = [("• " + p.text) if p.line.bullet else p.text for p in paras]
    first = paras[0].text
    return ParsedPost(
        title=title_text or summarize(first, 80),
        date=date,
        date_source=source_kind,
        body_html=text_to_html(texts),
        summary=" ".join(body.standfirst) or summarize(first),
        attribution=Attribution(
            source=source,
            author=author.name if author else None,
            author_role=author.role if author else None,
            credit=credit.line.text if credit else None,
        ),
    )


def share_dates(posts: list[ParsedPost]) -> list[ParsedPost]:
    """Items under one date heading: when only the first post of a listing is dated, the
    date is the page's ("News Releases for Tuesday, August 23, 2022") and dates them all."""
    dated = [n for n, p in enumerate(posts) if p.date is not None]
    if len(posts) < 2 or len(dated) != 1:
        return posts
    first = dated[0]
    source = posts[first]
    return posts[: first + 1] + [
        replace(p, date=source.date, date_source=source.date_source) for p in posts[first + 1 :]
    ]
