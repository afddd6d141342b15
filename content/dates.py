"""Reading dates the way people write them on web pages.

dateparser does the parsing; this module only decides which lines are worth
asking about (short ones with a digit) and peels the words around a date
("Posted on 23/06/2016 by"). Results are cached per string: an archive page
repeats its date format, and dateparser costs about a millisecond a call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache

from dateparser.date import DateDataParser

from content.model import DateSource

# "Posted on 23/06/2016 by Jane Doe", "Published: June 23, 2016", "Updated 2016-06-23"
_AFFIXES = re.compile(
    r"^(?P<lead>(?:posted|published|updated|first published|last updated|written)"
    r"(?:\s+on)?\s*:?\s*)?(?P<date>.+?)(?:\s+by\b:?\s*(?P<by>.*))?$",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")
_MAX_DATE_LINE = 60
_MAX_DATE_WORDS = 6


@dataclass(frozen=True)
class DateLine:
    """A line that is (mostly) a date."""

    date: datetime  # timezone-aware
    source: DateSource  # TEXT, or TEXT_GUESS when day and month could swap
    byline: bool  # had words around it ("Posted on … by"): it follows its title
    author: str | None  # the name after "by", when the capture kept it


@lru_cache(maxsize=4)
def _parser(day_first: bool) -> DateDataParser:
    return DateDataParser(
        languages=["en"],
        settings={
            "DATE_ORDER": "DMY" if day_first else "MDY",
            "PREFER_LOCALE_DATE_ORDER": False,
            "STRICT_PARSING": True,
            "REQUIRE_PARTS": ["day", "month", "year"],
            "RETURN_AS_TIMEZONE_AWARE": False,
            # a capture's date is absolute: skipping "2 days ago" parsing halves the cost
            "PARSERS": ["custom-formats", "absolute-time"],
        },
    )


@lru_cache(maxsize=4096)
def _parse(text: str, day_first: bool) -> datetime | None:
    return _parser(day_first).get_date_data(text).date_obj


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


def is_ambiguous(text: str) -> bool:
    """03/04/2016 could be either; 23/06/2016 and 2016-04-03 cannot."""
    match = _NUMERIC.match(text)
    if not match:
        return False
    first, second = int(match[1]), int(match[2])
    return first != second and first <= 12 and second <= 12


def read_date_line(line: str, tz: tzinfo, day_first: bool = True) -> DateLine | None:
    """The date on a line that is a date header or a "Posted on" byline, else None."""
    if len(line) > _MAX_DATE_LINE or not any(c.isdigit() for c in line):
        return None
    parts = _AFFIXES.match(line.strip())
    if not parts or len(parts["date"].split()) > _MAX_DATE_WORDS:
        return None
    text = parts["date"].rstrip(" ,|·-")
    value = parse_date(text, tz, day_first)
    if value is None:
        return None
    guess = is_ambiguous(text)
    return DateLine(
        date=value,
        source=DateSource.TEXT_GUESS if guess else DateSource.TEXT,
        byline=bool(parts["lead"] or parts["by"] is not None),
        author=(parts["by"] or "").strip() or None,
    )
