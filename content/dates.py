"""Reading dates the way people write them on web pages.

Two questions, kept apart: *where* is there a date in this text (`find_dates`:
patterns for the forms pages use, with their weekday, ordinal and time), and
*which day* is it (`parse_date`: dateparser, cached per string, since a listing
repeats its format and dateparser costs about a millisecond a call). Numeric
dates are read by the page's evidence first (a day over 12 decides the
order), then by the site's locale, and the result says when it was a guess.
A date must name its day, month and year: "16 June" or "February 2014" is not
a publication date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING

from postroom.core.model import DateSource

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# English month and weekday names and their abbreviations, lower case
MONTH_NAMES = frozenset(
    n.lower() for n in (*calendar.month_name[1:], *calendar.month_abbr[1:], "Sept")
)
WEEKDAY_NAMES = frozenset(
    n.lower() for n in (*calendar.day_name, *calendar.day_abbr, "Tues", "Thur", "Thurs")
)
_WEEKDAY = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19[89]\d|20\d\d)"
_ZONE = r"(?:GMT|UTC|BST|CET|CEST|[ECMP][SD]T|AEST|AEDT|IST|[+-]\d\d:?\d\d)"
_TIME = (
    r"(?:(?:at|@)\s*)?(?:[01]?\d|2[0-3])(?:[:.][0-5]\d(?:[:.][0-5]\d)?\s*(?:[ap]\.?m\.?)?"
    r"|\s*[ap]\.?m\.?)(?:\s*" + _ZONE + r")?"
)
# Each pattern is a whole date; the time after it, if any, is part of the match.
_PATTERNS = [
    # Mon Oct 14 15:07:00 BST 2013 (a server's timestamp)
    rf"{_WEEKDAY}\s+{_MONTH}\s+{_DAY}\s+\d\d:\d\d(?::\d\d)?\s+(?:{_ZONE}\s+)?{_YEAR}",
    # Tuesday, 9th March, 2019 · 23 April 2010 · Sat 22nd Jan, 2022
    rf"(?:{_WEEKDAY},?\s+)?{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}",
    # Wednesday, September 30, 2009 · Jul. 5, 2018 · December 21st 2012
    rf"(?:{_WEEKDAY},?\s+)?{_MONTH}\s+{_DAY},?\s+{_YEAR}",
    # 17-Nov-2017 · 11-Jun-15
    rf"(?:{_WEEKDAY},?\s+)?{_DAY}-{_MONTH}-(?:{_YEAR}|\d\d)",
    # 2016-06-23, 2016/06/23, with a time
    rf"{_YEAR}(?P<isep>[-/])(?:0?[1-9]|1[0-2])(?P=isep)(?:[12]\d|3[01]|0?[1-9])"
    r"(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?",
    # 23/06/2016 · 09.04.2014 · 16.6.12 · 9/29/09 · 19-05-2025
    r"(?:[12]\d|3[01]|0?[1-9])(?P<nsep>[/.\-])(?:[12]\d|3[01]|0?[1-9])(?P=nsep)(?:"
    + _YEAR
    + r"|\d\d)",
    # 23 January 18: a two-digit year, written out only where the four-digit form is not
    rf"(?:{_WEEKDAY},?\s+)?{_DAY}\s+{_MONTH},?\s+'?\d\d(?![\d:])",
]
# After a month-name date only a letter or digit may not follow ("/234 words/" may);
# a numeric one must not run on into more numbers ("1.2.3.4", "2020/234").
_END = [r"(?!\w)"] * 4 + [r"(?![\w/\-]|\.\d)"] * 2 + [r"(?!\w)"]
_FINDER = re.compile(
    r"(?<![\w/.\-])(?:"
    + "|".join(f"(?P<p{i}>{p})(?:,?\\s*{_TIME})?{_END[i]}" for i, p in enumerate(_PATTERNS))
    + ")",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{2,4})$")
# the weekday adds nothing to the day and doubles what dateparser spends on the string
_LEADING_WEEKDAY = re.compile(rf"^{_WEEKDAY},?\s+(?=\d|{_MONTH})", re.IGNORECASE)


@dataclass(frozen=True)
class DateHit:
    """A date found in a line: where it is and what day it names."""

    start: int
    end: int
    value: datetime  # naive: the caller knows the zone
    numeric: bool  # 03/04/2016-style: day and month could swap
    order: str | None  # "dmy" or "mdy" when the numbers themselves decide
    short_year: bool = False  # "13 Oct 20": at a text's cut end, the year may be cut too

    def aware(self, tz: tzinfo) -> datetime:
        return self.value if self.value.tzinfo else self.value.replace(tzinfo=tz)


@lru_cache(maxsize=4)
def _parser(day_first: bool, zoned: bool = False) -> DateDataParser:
    """dateparser set up for pages: absolute dates only (a page's date is absolute, and
    skipping "2 days ago" parsing halves the cost), aware only when the text names a zone.
    Imported here, at the first date written in words or numbers (a capture's, a page's, a
    string in front matter), not with the readers: 0.05 s a process (dateparser and its
    regex), which a site of Markdown posts with YAML dates never needs."""
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=["en"],
        settings={
            "DATE_ORDER": "DMY" if day_first else "MDY",
            "PREFER_LOCALE_DATE_ORDER": False,
            "STRICT_PARSING": True,
            "REQUIRE_PARTS": ["day", "month", "year"],
            "RETURN_AS_TIMEZONE_AWARE": zoned,
            "PARSERS": ["custom-formats", "absolute-time"],
        },
    )


_NAMED_ZONE = re.compile(rf"(?<![A-Za-z]){_ZONE}$")


@lru_cache(maxsize=4096)
def _parse(text: str, day_first: bool) -> datetime | None:
    """Naive unless the text names its zone ("10:30 a.m. EDT"): then aware in that zone."""
    zoned = bool(_NAMED_ZONE.search(text))
    return _parser(day_first, zoned).get_date_data(text).date_obj


def parse_date(text: str, tz: tzinfo, day_first: bool = True) -> datetime | None:
    """A free-form date, made timezone-aware in the site's zone when it names none."""
    text = text.strip()
    try:  # ISO 8601 needs no guessing, and this is a hundred times cheaper
        value = datetime.fromisoformat(text)
    except ValueError:
        value = _parse(text, day_first)
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _numeric(text: str, day_first: bool) -> tuple[datetime, str | None] | None:
    match = _NUMERIC.match(text)
    if not match:
        return None
    first, second, year = int(match[1]), int(match[3]), int(match[4])
    if year < 100:
        year += 2000 if year < 70 else 1900
    order = "dmy" if first > 12 or first == second else "mdy" if second > 12 else None
    dmy = order == "dmy" or (order is None and day_first)
    day, month = (first, second) if dmy else (second, first)
    try:
        return datetime(year, month, day), order
    except ValueError:
        return None


_DIGIT = re.compile(r"\d")


def find_dates(text: str, day_first: bool = True) -> list[DateHit]:
    """Every full date in `text` (day, month and year), in order."""
    if not _DIGIT.search(text):
        return []
    return list(_find_dates(text, day_first))


@lru_cache(maxsize=8192)
def _find_dates(text: str, day_first: bool) -> tuple[DateHit, ...]:
    """find_dates, once per string: a line is asked about by several readers."""
    hits = []
    for match in _FINDER.finditer(text):
        span = match.group(0).strip(" ,")
        numeric = _numeric(match.group("p5") or "", day_first) if match.group("p5") else None
        if numeric:
            value, order = numeric
            time = span[len(match.group("p5")) :].strip(" ,")
            if time and (timed := _parse(f"{value:%d %B %Y} {time}", True)):
                value = timed
        else:
            span_text = _LEADING_WEEKDAY.sub("", span)
            value = parse_date(span_text, _UTC_NAIVE, day_first)
            if value is None and match.end(match.lastgroup or 0) < match.end():
                date_only = match.group(match.lastgroup or 0)
                value = parse_date(date_only, _UTC_NAIVE, day_first)
            if value is None:
                continue
            if value.tzinfo is _UTC_NAIVE:
                value = value.replace(tzinfo=None)
            order = None
        end = match.start() + len(span)
        short = bool(match.group("p6"))
        hits.append(DateHit(match.start(), end, value, bool(numeric), order, short_year=short))
    return tuple(hits)


class _Naive(tzinfo):
    """Stands in for a zone when the caller only wants the wall-clock reading."""

    def utcoffset(self, dt):  # pragma: no cover - never asked
        return None


_UTC_NAIVE = _Naive()


def date_source(hit: DateHit, decided_by_page: bool) -> DateSource:
    """TEXT, or TEXT_GUESS when a numeric date's order came from the locale alone."""
    if hit.numeric and hit.order is None and not decided_by_page:
        return DateSource.TEXT_GUESS
    return DateSource.TEXT


_ANY_NUMERIC = re.compile(
    r"(?<![\w/.\-])(\d{1,2})([/.\-])(\d{1,2})\2(?:\d{4}|\d\d)(?![\w/\-]|\.\d)"
)


def numeric_orders(text: str) -> set[str]:
    """'dmy' and 'mdy' for each numeric date in `text` whose numbers decide its order
    (a day over 12); cheap enough to run over a whole page."""
    orders = set()
    for match in _ANY_NUMERIC.finditer(text):
        first, second = int(match[1]), int(match[3])
        if 12 < first <= 31 and 1 <= second <= 12:
            orders.add("dmy")
        elif 12 < second <= 31 and 1 <= first <= 12:
            orders.add("mdy")
    return orders


def is_ambiguous(text: str) -> bool:
    """03/04/2016 could be either; 23/06/2016 and 2016-04-03 cannot."""
    match = _NUMERIC.match(text.strip())
    if not match:
        return False
    first, second = int(match[1]), int(match[3])
    return first != second and first <= 12 and second <= 12
