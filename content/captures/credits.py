"""Where a post first appeared, as the page credits it.

A credited third party is the post's source, whatever site carries it:
"Source: X", "Originally published in X", "This story continues at X",
"Reproduced with permission from X", "[Adapted from: …, X]", "© AAP 2024",
"Read more – X", a wire dateline "LANGHORNE, Pa. (AP) —", an outlet glued to
a teaser ("Global News: …"), and the "Name / Outlet:" lines of aggregators.
Each function takes one line (or a paragraph's start) and says what it
credits; deciding which credit belongs to which post is the layout's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postroom.content import words
from postroom.content.captures.people import as_name, strip_titles
from postroom.content.dates import find_dates

# Words that name news outlets and publishers, whatever the country or field.
MEDIA_WORDS = frozenset(
    [
        "news",
        "times",
        "post",
        "herald",
        "guardian",
        "mail",
        "telegraph",
        "journal",
        "gazette",
        "chronicle",
        "tribune",
        "press",
        "review",
        "observer",
        "express",
        "independent",
        "standard",
        "echo",
        "argus",
        "mirror",
        "star",
        "record",
        "courier",
        "advertiser",
        "magazine",
        "weekly",
        "daily",
        "radio",
        "tv",
        "television",
        "wire",
        "today",
        "insider",
        "online",
        "network",
        "networks",
        "bulletin",
        "dispatch",
        "examiner",
        "inquirer",
        "sentinel",
        "monitor",
        "reporter",
        "register",
        "bbc",
        "cnn",
        "reuters",
        "ap",
        "afp",
        "aap",
        "pa",
        "bloomberg",
        "npr",
        "abc",
        "nbc",
        "cbs",
        "itv",
        "sky",
        "channel",
        "media",
        "blog",
        "digest",
        "newsletter",
        "quarterly",
        "gazette",
        "voice",
        "world",
        "atlantic",
        "economist",
    ]
)

_CUT = re.compile(
    r"\s+(?:published|posted|first\ published|updated|on\ this\ site|-\s|–|—|\|)"
    r"|,\s*via\b|\s+via\s|\s*[\[(](?![A-Z]{2,8}\))|\s+on\s+(?=\d)|[.;]\s*$|[.;]\s+(?=[A-Z])",
    re.VERBOSE,
)
_LEAD = re.compile(
    r"""^[\[(]?\s*(?:
      (?:source|sources|courtesy(?:\ of)?|via)(?:\s*[:\-–]|\s+(?=(?-i:[A-Z@])))
    | (?:originally|first)\s+(?:published|appeared|posted|ran)(?:\s+(?:in|on|at|by|with))?\s*:?
    | this\ (?:story|article|post|piece|report)\s+(?:continues|was\ (?:originally\ |first\ )?
        (?:published|posted)|(?:first|originally)\ appeared|appeared\ first)\s+(?:at|on|in|by)
    | (?:reproduced|republished|reprinted|adapted|cross-?posted|reposted|syndicated|excerpted)
        (?:\s+(?:here\s+)?with\s+(?:kind\s+|the\s+)?permission)?\s+(?:from|of)\s*:?
    | read\ more\s*[-–—:]
    | (?:read\ (?:the\ )?)?full\ (?:story|article|report|news\ release|text|piece)
        (?:\s+(?:on|at|from|in))?\s*:?
    | original\ (?:article|story|post)(?:\ link)?\s*:?
    | (?:foreword|introduction)\ (?:from|by)\s*:?
    )\s*(?P<rest>.+?)[\])]?$""",
    re.IGNORECASE | re.VERBOSE,
)
_COPYRIGHT = re.compile(
    r"""^(?:copyright\s*)?(?:©|\(c\)|(?<=copyright)\s)\s*(?:(?:19|20)\d\d\s+)?(?P<src>[^©]+?)
    (?:,?\s+(?:19|20)\d\d)?\.?(?:\s+all\ rights\ reserved.*)?$""",
    re.IGNORECASE | re.VERBOSE,
)
# "Michael Arrington / TechCrunch:", "Barrett Lyon / BitGravity: Blog:"
_AGGREGATED = re.compile(r"^(?P<author>[^/]{3,60}?)\s+/\s+(?P<src>[^:/]{2,60}?)(?::\s*\w+)?:$")
# "LANGHORNE, Pa. (AP) — ", "Geneva/ Manila (ICRC) – ", "Basseterre, …, 2019 (RSCNPF): "
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][\w .,'’/-]{1,80}?)\s*\((?P<src>[A-Z][A-Za-z&.]{1,15})\)\s*[—–:-]+\s*"
    r"(?=[A-Z“\"‘'])"
)
# "GENEVA — ": a place in capitals before the first sentence
_PLACE_DATELINE = re.compile(r"^[A-Z][A-Z .,'’/-]{2,40}\s+[—–]\s+(?=[A-Z])")
# "Global News: Ethan Pokno’s …", "England: Ministers are …": a label before the first sentence
_LABEL_PREFIX = re.compile(
    r"^(?P<label>[A-Z][\w&.'’]*(?:\s+[A-Z&][\w&.'’]*){0,3}):\s+(?=[A-Z“\"‘'])"
)
_PERMISSION = re.compile(
    r"\b(?i:reproduced|republished|reprinted)\s+(?:here\s+)?with\s+(?:kind\s+|the\s+)?"
    r"permission\s+(?:from|of)\s+(?:(?:his|her|their|the|its)\s+)?"
    r"(?P<src>[A-Z][\w'’&.-]*(?:\s+(?:of\s+|&\s+)?[A-Z][\w'’&.-]*)*)",
)
# "Another article I wanted to share — this one from The Atlantic": a post passing on
# another outlet's piece says so, in the first person, in its opening sentence
_SHARED_PIECE = re.compile(
    r"\b(?i:article|piece|story|essay|report|interview|op-?ed|column|feature)s?\b"
    r"[^.!?]{0,80}?\b(?:from|in)\s+"
    r"(?P<src>(?:The\s+)?[A-Z][\w'’&.-]*(?:\s+(?:of\s+|&\s+|and\s+)?[A-Z][\w'’&.-]*){0,4})"
)
_PASSING_ON = re.compile(
    r"\b(?:I|I'd|I’d|we|We|We'd|We’d)\b[^.!?]{0,30}?\b(?:share|pass\ on|recommend)\b"
    r"|^(?:Sharing|Passing\ on|Recommended)\b|\bworth\ (?:a\ )?read(?:ing)?\b|\bthis\ one\ from\b"
)
# "Inside Story (No paywall)": an outlet, with a note on whether readers can get in
_ACCESS_NOTE = re.compile(
    r"\((?:[^)]*\b(?:paywall|subscription|subscribers?|free\ to\ read|registration)\b[^)]*)\)\s*$",
    re.I | re.X,
)
_PAREN_NOTE = re.compile(r"\s*\((?![A-Z]{2,8}\))[^)]*\)\s*$")


@dataclass(frozen=True)
class Credit:
    source: str | None
    author: str | None = None
    has_date: bool = False  # the credit line carries the original's date


def _tidy(name: str) -> str | None:
    name = _PAREN_NOTE.sub("", name).strip(" .,:;–—-\"'“”‘’[]")
    name = re.sub(r"^(?:the\s+)?(?:his|her|their|its)\s+", "", name, flags=re.IGNORECASE)
    name = re.sub(r"\s+(?:blog|website|site)$", "", name, flags=re.IGNORECASE)
    name = re.sub(r"(?:\s+(?:on|in|at|by|from|dated))+$", "", name).strip(" ,")
    if not name or len(name.split()) > 8 or not any(c.isalpha() for c in name):
        return None
    return name


def _source_of(rest: str) -> tuple[str | None, bool]:
    """The outlet named at the start of what a credit lead-in introduces."""
    dates = find_dates(rest)
    if dates and dates[0].start == 0:  # "Originally published: 04.03.15": a date, no outlet
        return None, True
    text = rest[: dates[0].start] if dates else rest
    if cut := _CUT.search(text):
        text = text[: cut.start()]
    return _tidy(text), bool(dates)


def credit_line(line: str) -> Credit | None:
    """What a whole credit line credits, or None when the line is no credit."""
    if len(line) > 220:
        return None
    if match := _LEAD.match(line):
        rest = match["rest"]
        if rest.lower().startswith("adapted from") or line.lstrip("[(").lower().startswith(
            "adapted"
        ):
            parts = [p.strip() for p in rest.split(",")]
            outlets = [p for p in parts[1:] if p and not find_dates(p)]
            return Credit(_tidy(outlets[-1]) if outlets else None, has_date=bool(find_dates(rest)))
        if re.match(r"https?://", rest):
            from postroom.content.sitename import site_name

            return Credit(site_name(rest.split()[0], ""))
        # "Foreword from the Children's Commissioner for England, Dame Rachel de Souza."
        head, _, tail = rest.rstrip(" .").rpartition(", ")
        if head and (signatory := as_name(strip_titles(tail))):
            source = _tidy(head)
            return Credit(source, signatory) if source else None
        source, dated = _source_of(rest)
        if source is None and not dated:
            return None
        # "… published on this site by Jill Powell": who put it here
        poster = re.search(r"\bby:?\s+(?P<who>[^,;()]+?)\s*$", rest)
        author = as_name(poster["who"]) if poster else None
        return Credit(source, author, has_date=dated)
    if match := _COPYRIGHT.match(line):
        source = _tidy(match["src"])
        if source and as_name(source) and not re.search(r"(?:19|20)\d\d", line):
            return None  # "© Valerii Honcharuk": a photographer's credit, not the story's
        return Credit(source) if source and len(source.split()) <= 5 else None
    if match := _AGGREGATED.match(line):
        author = as_name(match["author"])
        return Credit(_tidy(match["src"]), author) if author else None
    return None


def is_media_name(text: str) -> bool:
    """'Financial Times', 'BBC', 'Global News': a name made of an outlet's words."""
    tokens = re.findall(r"[A-Za-z]+", text)
    return any(t.lower() in MEDIA_WORDS for t in tokens)


def outlet_line(line: str) -> str | None:
    """A line that is only an outlet's name ('Financial Times', 'BBC (No paywall)')."""
    if len(line) > 60 or line.endswith((".", "?", "!", ":", ",")):
        return None
    noted = bool(_ACCESS_NOTE.search(line))
    name = _tidy(line)
    if not name or len(name.split()) > 5:
        return None
    words = name.replace("&", " ").split()
    if not all(
        w[0].isupper() or w[0].isdigit() or w.lower() in ("of", "the", "and", "for", "in")
        for w in words
    ):
        return None
    if any(c.isdigit() for c in name) and not noted:
        return None
    acronym = len(words) == 1 and name.isupper() and 2 <= len(name) <= 8
    # the outlet word names the outlet ("Daily Mail", "Financial Times"), it does not
    # sit in the middle of a headline ("Week 781 Weekly Menu")
    edges = {words[0].lower(), words[-1].lower()}
    return name if acronym or noted or edges & MEDIA_WORDS else None


def dateline(paragraph: str) -> tuple[str | None, str, str]:
    """A wire or press-release dateline at a paragraph's start: (its source, the rest, and
    the dateline itself, which may hold the release's date)."""
    if match := _DATELINE.match(paragraph):
        return match["src"], paragraph[match.end() :], match["place"]
    if match := _PLACE_DATELINE.match(paragraph):
        return None, paragraph[match.end() :], ""
    return None, paragraph, ""


def label_prefix(paragraph: str) -> tuple[str | None, str]:
    """'Global News: Ethan …' -> ('Global News', 'Ethan …'); 'England: Ministers …' -> (None, …).

    Only an outlet's name becomes a source; a region or topic label is just removed.
    """
    match = _LABEL_PREFIX.match(paragraph)
    if not match or len(paragraph) - match.end() < 40:
        return None, paragraph
    label = match["label"]
    if as_name(label):  # "Alison Phipps: …" is a person, not a label
        return None, paragraph
    return (label if is_media_name(label) else None), paragraph[match.end() :]


def permission_credit(text: str) -> str | None:
    """The outlet an opening paragraph says the post passes on: '… reproduced with kind
    permission from his Family Lore blog' -> 'Family Lore'; 'Another article I wanted to
    share — this one from The Atlantic, published in 2018' -> 'The Atlantic'."""
    if match := _PERMISSION.search(text):
        return _tidy(match["src"])
    sentence = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)[0]
    match = _SHARED_PIECE.search(sentence)
    if match and _PASSING_ON.search(sentence):
        name = as_name(match["src"])  # "an article by Jo Bloggs" names a writer
        if not (name and words.is_given_name(name.split()[0])):
            return _tidy(match["src"])
    return None
