"""A post's text, from its first real sentence.

What stands between a headline and the text is not the text: a standfirst
(kept as the summary), a caption and its photo credit, the headline printed
again, a byline, key-point bullets, a wire dateline ("LANGHORNE, Pa. (AP) —"),
a label ("Global News: …") or a byline glued into the first sentence ("A blog
by Professor Donald Forrester When I …"). Each is recognised by its shape and
place, noting any author or source it names.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

from postroom.content.captures.credits import dateline, label_prefix
from postroom.content.captures.kinds import Info, Kind
from postroom.content.captures.layout import Segment
from postroom.content.captures.meta import opening_date
from postroom.content.captures.people import Person, leading_name
from postroom.content.dates import DateHit, find_dates

# "A blog by Professor Donald Forrester When I …", "By: Briana Ryan Here’s …"
_GLUED_BY = re.compile(
    r"^(?:(?:a\s+)?(?:guest\s+)?(?:blog|post|article|column)\s+)?by:?\s+", re.IGNORECASE
)
_INNER_BY = re.compile(r"[.!?]\s+By:?\s+(?=[A-Z])")
_GUEST = re.compile(
    r"^this\s+is\s+a\s+guest\s+(?:blog|post|article|piece)\s+(?:by|from)\s+(?P<who>.+)$",
    re.IGNORECASE,
)
# "… Picture via Dreamstime", "(Photo: Jane Doe)", "… / Getty Images": a caption's credit
_PHOTO_CREDIT = re.compile(
    r"(?:\b(?:picture|photo|image|photograph|illustration)s?\s*(?:via|by|:|credit)\s*[^.]{2,60}"
    r"|/\s*(?:getty images|shutterstock|alamy|pa|ap|reuters|unsplash))\W*$",
    re.IGNORECASE,
)
_STANDFIRST_WORDS = 8
_CAPTION_WORDS = 25


@dataclass
class Body:
    paragraphs: list[Info]
    standfirst: list[str] = field(default_factory=list)
    source: str | None = None
    author: Person | None = None
    dated: DateHit | None = None  # a dateline's date: "Basseterre, January 17, 2019 (RSCNPF):"


def _similar(a: str, b: str) -> float:
    """How alike two lines read (0 to 1), on their first 300 characters. Lines that share
    few words are not compared letter by letter (that costs a millisecond a pair)."""
    a, b = a[:300].lower(), b[:300].lower()
    if min(len(a), len(b)) * 2 < max(len(a), len(b)):
        return 0.0
    words_a, words_b = set(a.split()), set(b.split())
    if len(words_a & words_b) * 3 < len(words_a | words_b) * 2:
        return 0.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def _punctuated(text: str) -> bool:
    return text.rstrip("”\"’')").endswith((".", "!", "?", "…", ":"))


def _drop_opening_byline(items: list[Info], body: Body, keep_before: bool) -> None:
    """A byline or name line near the top: its person wrote the post, and what stood
    above it was a standfirst or a caption."""
    for n, info in enumerate(items[:5]):
        person = info.person
        if info.kind is Kind.HEAD and not (person and person.known):
            continue
        if info.kind not in (Kind.META, Kind.HEAD) or person is None:
            continue
        body.author = body.author or person
        if keep_before:
            del items[n]
        else:
            body.standfirst += [i.text for i in items[:n] if i.kind is Kind.PROSE]
            del items[: n + 1]
        return


def _drop_repeats(items: list[Info], body: Body, title: str | None) -> None:
    # the headline printed again under a standfirst
    if title:
        for n, info in enumerate(items[:2]):
            if info.kind is Kind.HEAD and _similar(info.text, title) > 0.9:
                body.standfirst += [i.text for i in items[:n] if i.kind is Kind.PROSE]
                del items[: n + 1]
                break
    # a standfirst printed twice, or reworded as the first paragraph (once: a text that
    # repeats itself further down is still text)
    if len(items) >= 3 and _similar(items[0].text, items[1].text) > 0.8:
        body.standfirst.append(items[0].text)
        del items[: 2 if items[0].text == items[1].text else 1]


def _drop_captions(items: list[Info], single: bool) -> None:
    while len(items) > 1:
        first, second = items[0], items[1]
        words = len(first.text.split())
        if _PHOTO_CREDIT.search(first.text) and words <= 60:
            del items[0]  # "… Picture via Dreamstime"
        elif single and words <= _CAPTION_WORDS and second.line.index - first.line.index > 1:
            del items[0]  # a short line between the player's or gallery's junk lines
        else:
            return


def _drop_key_points(items: list[Info]) -> None:
    bullets = 0
    while bullets < len(items) and items[bullets].line.bullet:
        bullets += 1
    if 2 <= bullets < len(items) and items[bullets].kind is Kind.PROSE:
        del items[:bullets]


def _strip_first(items: list[Info], body: Body, single: bool) -> None:
    """Datelines, labels and glued bylines at the first paragraph's start."""
    first = items[0]
    text = first.text
    if opened := opening_date(text):
        body.dated, text = opened  # "29 June 2020. Barnardos …"
    source, text, place = dateline(text)
    body.source = body.source or source
    if place and (hits := find_dates(place)):
        body.dated = hits[0]
    label, text = label_prefix(text)
    body.source = body.source or label
    if guest := _GUEST.match(text):
        if lead := leading_name(guest["who"]):
            body.author = body.author or Person(lead[0])
        if single and len(items) > 1:
            body.standfirst.append(text)
            del items[0]
            return
    elif glued := _GLUED_BY.match(text):
        if lead := leading_name(text[glued.end() :]):
            body.author = body.author or Person(lead[0])
            text = lead[1]
    elif (inner := _INNER_BY.search(text[:200])) and (lead := leading_name(text[inner.end() :])):
        # "Welcome to the Tuesday Brew.  By: Briana Ryan Here’s what’s in store …"
        body.author = body.author or Person(lead[0])
    if text != first.text:
        items[0] = replace(first, text=text)


def _drop_unpunctuated_lead(items: list[Info], body: Body) -> None:
    """A standfirst or caption with no full stop before text that has them (on a page
    that leaves out every full stop, the first line is text like the rest)."""
    if len(items) < 2:
        return
    lead = items[0]
    if lead.teaser_end or _punctuated(lead.text) or len(lead.text.split()) < _STANDFIRST_WORDS:
        return
    if any(p.text.rstrip("”\"’')").endswith((".", "!", "?")) for p in items[1:4]):
        body.standfirst.append(lead.text)
        del items[0]


def read_body(segment: Segment, title: Info | None, single: bool) -> Body:
    """The post's paragraphs from the first real sentence, and what stood before them."""
    items: list[Info] = []
    for block in segment.blocks:
        items += [i for i in block.infos if i.kind in (Kind.PROSE, Kind.HEAD, Kind.META)]
    if segment.head is not None and title is not None:
        # long headings under the headline in its own block: a standfirst
        after = segment.head.infos[segment.head.infos.index(title) + 1 :]
        lead = [i.text for i in after if i.kind is Kind.HEAD and len(i.text.split()) >= 8]
    else:
        lead = []
    body = Body([], list(lead))
    _drop_opening_byline(items, body, keep_before=segment.reblog)
    items = [i for i in items if i.kind is not Kind.META]
    _drop_repeats(items, body, title.text if title else None)
    _drop_captions(items, single)
    _drop_key_points(items)
    if items:
        _strip_first(items, body, single)
        _drop_unpunctuated_lead(items, body)
    body.paragraphs = items
    return body
