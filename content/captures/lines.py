"""A capture as lines: whitespace folded, list markers noted, glued blocks parted.

Everything after this works on `Line`s, never on the raw text: a line knows
whether a blank line stood before it and whether it was a list item, which
are among the few layout clues a flattened page keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postroom.content.captures.glue import split_glued
from postroom.content.dates import find_dates
from postroom.core.sanitize import one_line

# "•", "·", "▪", "* ", "- ", "1. ": list markers a page's bullets became
_BULLET = re.compile(r"^(?:[•·▪◦‣●■□➤►✓✔]|[*\-–](?=\s)|\d{1,2}[.)](?=\s+\D))\s*")
# "— Katherine", "- Jack Kerouac": a dash before a name is an attribution, not a bullet
_DASH_NAME = re.compile(r"^[-–—]{1,2}\s*[A-Z@][\w.'’@-]*(?:\s+[A-Z][\w.'’-]*){0,3}$")


# "8:11 a.m. - Council voted …", "*Update 5:30pm* Crews …": a time stamp on a paragraph
_TIME_PREFIX = re.compile(
    r"^(?:\*?\s*update\b[^*]{0,24}\*|\d{1,2}[:.]\d\d\s*[ap]\.?m\.?\s*[-–—]|\d{1,2}\s*[ap]\.?m\.?\s*[-–—])\s+",
    re.IGNORECASE,
)
# "Tuesday, 9th March, 2019: Ballydowd …": a date glued to the teaser it dates
# "Summer Eats thumbnail Photo": an image's alt text left at the end of its caption
_ALT_SUFFIX = re.compile(
    r"(?<=\S)\s+(?:(?:image|photo)\s+)?thumbnail(?:\s+(?:photo|image|picture))?$", re.I
)
_AFTER_DATE = re.compile(r"^\s*[:–—]\s+(?=\S+(?:\s+\S+){3})")


# "… can run at maximum speed. (2020-11-09)": a listing's date after its teaser (not a
# judgment's date closing a case name: "… [2013] EWHC 4784 (Fam) (03 December 2013)")
_TRAILING_DATE = re.compile(r"\s*\(([^()]{6,40})\)$")


def _peel(piece: str) -> list[str]:
    """A paragraph's stamps (a date before or after it, a time) as lines of their own."""
    if stamp := _TIME_PREFIX.match(piece):
        return [piece[stamp.end() :]]
    hits = find_dates(piece[:60]) if piece[:1].isalnum() else []
    if hits and hits[0].start == 0 and (colon := _AFTER_DATE.match(piece[hits[0].end :])):
        return [piece[: hits[0].end], piece[hits[0].end + colon.end() :]]
    trailing = _TRAILING_DATE.search(piece)
    ends_sentence = trailing and piece[: trailing.start()].rstrip().endswith((".", "!", "?"))
    if ends_sentence and trailing.start() > 20 and _whole_date(trailing[1]):
        return [piece[: trailing.start()], trailing[1]]
    return [piece]


def _whole_date(text: str) -> bool:
    hits = find_dates(text)
    return len(hits) == 1 and hits[0].start == 0 and hits[0].end == len(text.strip())


@dataclass(frozen=True)
class Line:
    text: str
    index: int  # position in the capture's lines, after splitting
    blank_before: bool  # a blank line (or the start) stood before it
    bullet: bool  # it was a list item
    dash: bool  # it began with a dash: "— Katherine", "- Jack Kerouac"
    glued: bool  # split off the line before it (no line break in the capture)
    last: bool = False  # the capture's last line: a stored page is often cut in it


_CONTINUES = re.compile(r"^[a-z]")
_BYLINE_START = re.compile(r"^(?:by|posted|published|written|via|from)\b", re.IGNORECASE)


def capital_ratio(text: str) -> float:
    """The share of its longer words (over three letters) that start with a capital:
    near 1 for a headline in title case, low for a sentence; 0 when it has none."""
    content = [w for w in text.split() if len(w) > 3 and w[:1].isalpha()]
    return sum(w[0].isupper() for w in content) / len(content) if content else 0.0


def sentence_case(text: str) -> bool:
    """Most longer words start in lower case: a sentence, not a headline."""
    return any(len(w) > 3 and w[:1].isalpha() for w in text.split()) and capital_ratio(text) < 0.5


_WRAP_MIN_WORDS = 8


def _rejoin(lines: list[Line]) -> list[Line]:
    """A sentence broken over two lines ("… time and time again" / "the government
    announced today.") is one paragraph; a short line repeated at once ("Mohamed Idris"
    twice) is one line."""
    out: list[Line] = []
    for line in lines:
        if out:
            last = out[-1]
            wrapped = (
                _CONTINUES.match(line.text)
                and len(line.text.split()) >= 3
                and not _BYLINE_START.match(line.text)
                and len(last.text.split()) >= _WRAP_MIN_WORDS
                and sentence_case(last.text)
                and not last.text.rstrip("”\"’')").endswith((".", "!", "?", ":", "…"))
                and not line.bullet
            )
            if wrapped:
                out[-1] = Line(
                    f"{last.text} {line.text}",
                    last.index,
                    last.blank_before,
                    last.bullet,
                    last.dash,
                    last.glued,
                )
                continue
            if line.text == last.text and len(line.text.split()) <= 6:
                continue
        out.append(line)
    return [
        Line(ln.text, n, ln.blank_before, ln.bullet, ln.dash, ln.glued, n == len(out) - 1)
        for n, ln in enumerate(out)
    ]


def split_lines(text: str) -> list[Line]:
    """The capture's non-blank lines, each folded to one line of plain text."""
    lines: list[Line] = []
    blank = True
    for raw in text.splitlines():
        folded = one_line(raw.replace("\u00a0", " "))
        if len(folded.split()) >= 4:
            folded = _ALT_SUFFIX.sub("", folded)
        if not folded:
            blank = True
            continue
        pieces = [p for glued in split_glued(folded) for p in _peel(glued)]
        for n, piece in enumerate(pieces):
            dash = bool(_DASH_NAME.match(piece))
            bullet = _BULLET.match(piece) if not dash else None
            if bullet and bullet.end() < len(piece):
                piece = piece[bullet.end() :]
            lines.append(
                Line(
                    text=piece,
                    index=len(lines),
                    blank_before=blank and n == 0,
                    bullet=bool(bullet),
                    dash=dash,
                    glued=n > 0,
                )
            )
        blank = False
    return _rejoin(lines)
