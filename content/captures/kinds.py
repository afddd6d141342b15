"""What each line of a capture is, judged from the line alone.

A line is furniture (junk), a post's end, a "read more" link, a meta line
(a date with its labels and author, a byline, a credit, a bare name or
outlet), a heading (short, no sentence end: a headline, a subheading, a
caption, a category), or prose. Headings get a score for how much they look
like a headline; which heading is a post's title is decided later, from
where it stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from postroom.content import words
from postroom.content.captures import junk
from postroom.content.captures.credits import Credit, credit_line, outlet_line
from postroom.content.captures.lines import Line, sentence_case
from postroom.content.captures.meta import (
    DateRole,
    Meta,
    is_empty_template,
    is_time_only,
    read_meta,
)
from postroom.content.captures.people import Person, byline, name_line
from postroom.content.dates import find_dates

TITLE_MIN = 0.45  # a heading scoring less is a label, a name or a caption


class Kind(StrEnum):
    JUNK = "junk"
    END = "end"  # a comment section or a widget opens: the post is over
    MORE = "more"  # "Read more »": a teaser ended
    META = "meta"  # date, byline, credit, name or outlet
    HEAD = "head"  # short and unpunctuated: headline, subheading, caption, category
    PROSE = "prose"


_MAX_HEAD_WORDS = 24
_MAX_LONG_HEAD_WORDS = 32  # a long headline, when nothing in it ends a sentence
_SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "vs",
        "via",
        "with",
    ]
)
# verbs that label buttons and links, whatever the site
_ACTIONS = frozenset(
    [
        "submit",
        "search",
        "subscribe",
        "sign",
        "log",
        "view",
        "read",
        "download",
        "share",
        "print",
        "contact",
        "donate",
        "join",
        "follow",
        "register",
        "apply",
        "book",
        "buy",
        "get",
        "find",
        "explore",
        "discover",
        "watch",
        "listen",
        "see",
        "click",
        "visit",
        "browse",
        "shop",
        "order",
        "call",
        "email",
        "send",
    ]
)
_SENTENCE_END = re.compile(r"[.,;:]$|[.]['’\"”)]$")
# "This is a guest blog by …", "It was one of those days": a sentence, not a headline
_SENTENCE_START = re.compile(
    r"^(?:this|that|it|there|here|we|i|you|they|he|she)\s+(?:is|was|are|were|am|has|have|had|will)\b",
    re.IGNORECASE,
)
_INNER_SENTENCE = re.compile(r"[a-z0-9][.!?]['’\"”]?\s+[A-Z]")
# "Title by @PlanetCath": a headline carrying its author
_TITLE_BY = re.compile(
    r"^(?P<title>.{8,}?)\s+(?i:by)\s+(?P<who>@\w+|[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3})$"
)
# "How stress affects your brain – Madhumita Murgia", "Storm warning | The Herald"
_TITLE_SUFFIX = re.compile(r"^(?P<title>.{8,}?)\s+[–—|]\s+(?P<suffix>[^–—|]{2,60})$")
# "Headline — teaser …": an aggregator's headline glued to its teaser
_TITLE_DASH = re.compile(r"^(?P<title>[^.!?—]{10,140}?[?!]?)\s+—\s+(?P<rest>[A-Z“\"‘'].{20,})$")


@dataclass(frozen=True)
class Info:
    line: Line
    kind: Kind
    text: str  # the line as it will be used (a teaser's "Read more" gone)
    meta: Meta | None = None  # a date on a meta line
    person: Person | None = None  # a byline or a bare name
    credit: Credit | None = None
    outlet: str | None = None  # a line that is only an outlet's name
    title_score: float = 0.0  # how much a heading looks like a headline
    teaser_end: bool = False  # prose that ended "…" or "Read more"
    empty_date: bool = False  # "Posted on" with its date lost
    title_author: Person | None = None  # "Title by @X"

    @property
    def index(self) -> int:
        return self.line.index

    @property
    def published(self) -> bool:
        return self.meta is not None and self.meta.role is DateRole.PUBLISHED


def title_score(text: str) -> float:
    """0 (not a headline) to about 1 (a typical headline), from the words alone."""
    words = text.split()
    n = len(words)
    if n == 0 or n > _MAX_HEAD_WORDS + 8:
        return 0.0
    score = 0.35 if n == 1 else 0.5 if n <= 3 else 0.85 if n <= 18 else 0.6
    if n <= 3 and words[0].lower() in _ACTIONS:
        score -= 0.3  # "Submit Release", "View coronavirus information": a button
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) > 0.7 * len(letters) and n > 1:
        score -= 0.35  # SECTION LABELS and taglines shout
    content = [w for w in words if w.lower() not in _SMALL_WORDS and w[:1].isalpha()]
    if content:
        capitalised = sum(w[0].isupper() for w in content) / len(content)
        score += 0.15 * capitalised
    if not text[:1].isupper() and not text[:1].isdigit() and text[:1] not in "‘'\"“":
        score -= 0.25
    if text.endswith((".", ",", ";", ":")) and not text.endswith(("...", "…")):
        score -= 0.4
    if _INNER_SENTENCE.search(text):
        score -= 0.2
    if find_dates(text):
        score -= 0.25
    if (person := name_line(text)) and person.known:
        score -= 0.25
    if _SENTENCE_START.match(text):
        score -= 0.3
    return max(score, 0.0)


def _is_head(text: str) -> bool:
    words = text.split()
    if len(words) > _MAX_LONG_HEAD_WORDS or len(text) > 240:
        return False
    if len(words) > _MAX_HEAD_WORDS and (
        re.search(r"[.!?:;]", text) or not text.rstrip()[-1:].isalnum()
    ):
        return False
    if text.startswith("(") and text.endswith(")"):
        return False  # "(openly weeping)": an aside, not a heading
    if _SENTENCE_END.search(text) and not text.endswith(("...", "…")):
        return False
    if text.rstrip("'’\"”").endswith(("?", "!")) and len(words) > 16:
        return False
    return not (_INNER_SENTENCE.search(text) and title_score(text) < 0.8)


def classify(line: Line, day_first: bool = True) -> list[Info]:
    """What `line` is; a line holding a headline and its teaser gives two."""
    text = line.text
    if junk.is_junk(text):
        return [Info(line, Kind.JUNK, text)]
    if junk.ends_post(text):
        return [Info(line, Kind.END, text)]
    if (credit := credit_line(text)) is not None:
        meta = read_meta(text, day_first) if credit.has_date else None
        return [Info(line, Kind.META, text, meta=meta, credit=credit)]
    if junk.is_more_link(text):
        return [Info(line, Kind.MORE, text)]
    if is_empty_template(text) or is_time_only(text):
        return [Info(line, Kind.META, text, empty_date=True)]
    hits = find_dates(text, day_first)
    if hits and line.last and hits[-1].short_year and hits[-1].end == len(text):
        hits = hits[:-1]  # "… on 13 Oct 20": the capture stops inside the year
    if hits and (meta := read_meta(text, day_first, hits)) and _is_meta_line(meta, text):
        return [Info(line, Kind.META, text, meta=meta, person=meta.author)]
    if (person := byline(text)) and len(text.split()) <= 12:
        return [Info(line, Kind.META, text, person=person)]
    if outlet := outlet_line(text):
        return [Info(line, Kind.META, text, outlet=outlet)]
    if line.dash and (person := _dashed_name(text.lstrip("-–— "))):
        return [Info(line, Kind.META, text, person=person)]
    if junk.says_read_more(text) and len(text.split()) >= 6:
        prose, _ = junk.teaser_tail(text)
        return [Info(line, Kind.PROSE, prose or text, teaser_end=True)]
    if _is_head(text) and not _ellipsis_teaser(text):
        score = title_score(text)
        if match := _TITLE_BY.match(text):
            who = match["who"]
            person = Person(who) if who.startswith("@") else name_line(who)
            if person and person.known:
                title = match["title"]
                return [
                    Info(
                        line, Kind.HEAD, title, title_score=title_score(title), title_author=person
                    )
                ]
        if match := _TITLE_SUFFIX.match(text):
            title, suffix = match["title"], match["suffix"].strip()
            person = name_line(suffix)
            if person and person.known:
                return [
                    Info(
                        line, Kind.HEAD, title, title_score=title_score(title), title_author=person
                    )
                ]
            if outlet := outlet_line(suffix):
                credit = Credit(outlet)
                return [Info(line, Kind.HEAD, title, title_score=title_score(title), credit=credit)]
        if line.dash and len(text.split()) <= 2:
            score *= 0.5  # "- Climate": a tag in a list, not a headline
        return [Info(line, Kind.HEAD, text, person=name_line(text), title_score=score)]
    if match := _TITLE_DASH.match(text):
        title = match["title"]
        if _is_head(title) and title_score(title) >= 0.6:
            prose, ended = junk.teaser_tail(match["rest"])
            return [
                Info(line, Kind.HEAD, title, title_score=title_score(title)),
                Info(line, Kind.PROSE, prose, teaser_end=ended),
            ]
    prose, ended = junk.teaser_tail(text)
    return [Info(line, Kind.PROSE, prose or text, teaser_end=ended)]


def _dashed_name(text: str) -> Person | None:
    """'— Katherine', '- Jack Kerouac': a name after a dash (a sign-off or a quote's author)."""
    if person := name_line(text):
        return person
    single = text.strip()
    if single.isalpha() and single[:1].isupper() and words.is_given_name(single):
        return Person(single)
    return None


def _ellipsis_teaser(text: str) -> bool:
    """'Director of … tells you just about everything you…': a cut teaser, not a headline
    (which is written in title case: 'This is Why I Teach: … A Wish For You...')."""
    return text.endswith(("...", "…")) and len(text.split()) >= 10 and sentence_case(text)


def _is_meta_line(meta: Meta, text: str) -> bool:
    """A date line, not a headline or sentence that happens to hold a date."""
    if len(text) > 110:
        return False
    before = meta.before.split()
    if len(before) > 4 and meta.hit.start > 0:
        return False  # "The report published on 3 May 2019 found …"
    if len(before) >= 3 and before[-1].lower() not in _SMALL_WORDS and meta.author is None:
        return False  # "Web Release Notes: September 20, 2018": a headline naming a day
    return not (text.endswith(".") and len(text.split()) > 8)
