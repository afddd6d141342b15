"""People on a page: bylines, bare name lines, sign-offs, and names tidied.

A name is two to four capitalised words ("Jane Whitfield", "Rachel de Souza",
"S.P. Vijayakumar"), or a handle ("@PlanetCath", "muriel_volestrangler")
where the page shows one. Honorifics and post-nominals are not part of it
("Professor Sir Keith Burnett FRS" is Keith Burnett); a job title after a
comma is the role.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postroom.content import words
from postroom.content.dates import MONTH_NAMES, WEEKDAY_NAMES

_HONORIFIC = re.compile(
    r"^(?:(?:dr|prof|professor|sir|dame|lord|lady|baroness|baron|cllr|councillor|mr|mrs|ms|"
    r"miss|mx|rev|revd|reverend|hon|the\ hon|judge|justice|rt\ hon|fr|father|sister|"
    r"his\ honour\ judge|her\ honour\ judge|sheriff|chief|officer|sergeant|sgt|detective|"
    r"constable|inspector|superintendent|commissioner|mayor|governor|gov|senator|sen|"
    r"representative|rep|president|minister|deputy|council\ member|councilmember|"
    r"alderman|bishop|rabbi|imam|pastor)\.?\s+)+",
    re.IGNORECASE | re.VERBOSE,
)
# post-nominals: "QC", "FRS", "PhD", "JD", "MACP, CMC, ACC"
_POSTNOMINAL = re.compile(
    r"(?:,?\s+(?:[A-Z]{2,5}|Ph\.?D|M\.?D|[BM]\.?(?:Sc|A|Ed)|Hons|Jr\.?|Sr\.?|III|II))+$"
)
_PARTICLES = frozenset(
    [
        "de",
        "da",
        "di",
        "del",
        "della",
        "van",
        "von",
        "der",
        "den",
        "la",
        "le",
        "du",
        "bin",
        "al",
        "dos",
        "das",
    ]
)
# words that start a clause, not a name: "Donald Forrester When I first heard"
_NOT_NAME = (
    frozenset(
        [
            "the",
            "a",
            "an",
            "of",
            "and",
            "or",
            "in",
            "on",
            "at",
            "for",
            "to",
            "with",
            "from",
            "by",
            "this",
            "that",
            "these",
            "those",
            "it",
            "its",
            "our",
            "we",
            "you",
            "he",
            "she",
            "they",
            "his",
            "her",
            "their",
            "my",
            "i",
            "me",
            "is",
            "are",
            "was",
            "were",
            "be",
            "has",
            "have",
            "had",
            "will",
            "would",
            "can",
            "could",
            "should",
            "might",
            "when",
            "where",
            "why",
            "how",
            "what",
            "who",
            "which",
            "if",
            "as",
            "but",
            "so",
            "not",
            "no",
            "new",
            "news",
            "blog",
            "post",
            "posts",
            "home",
            "page",
            "about",
            "contact",
            "more",
            "read",
            "latest",
            "update",
            "updates",
            "via",
            "council",
            "county",
            "city",
            "government",
            "department",
            "ministry",
            "office",
            "service",
            "services",
            "university",
            "college",
            "school",
            "trust",
            "agency",
            "society",
            "association",
            "foundation",
            "institute",
            "centre",
            "center",
            "network",
            "group",
            "team",
            "club",
            "board",
            "committee",
            "commission",
            "court",
            "press",
            "daily",
            "weekly",
            "monthly",
            "times",
            "post",
            "journal",
            "herald",
            "review",
            "magazine",
            "media",
            "online",
            "posted",
            "published",
            "updated",
            "written",
            "here",
            "there",
            "today",
            "last",
            "next",
            "every",
            "after",
            "before",
            "since",
            "during",
            "recently",
            "yesterday",
            "now",
            "then",
        ]
    )
    | MONTH_NAMES
    | WEEKDAY_NAMES
)
# a capitalised word of letters (any alphabet's), an initial ("S.P."), "McDonald", "O’Neill"
_TOKEN = re.compile(
    r"^(?:[^\W\d_][^\W\d_'’\-]*(?:['’\-][^\W\d_]+)*|[A-Z]\.(?:[A-Z]\.)*|Mc[A-Z][a-z]+|O['’][A-Z][a-z]+)$"
)
_HANDLE = re.compile(r"^@?[A-Za-z][\w.]*(?:_[\w.]+)+$|^@[A-Za-z][\w.]{1,30}$")
_BY = re.compile(
    r"^(?:(?:written|posted|post|article|story|words|(?:additional\s+)?reporting|reports?\s+compiled"
    r"|compiled|interview|photos?)\s+)?by:?\s+(?P<rest>.+)$"
    r"|^(?:a\s+)?(?:guest\s+)?(?:blog|post|article|column)\s+by:?\s+(?P<rest2>.+)$"
    r"|^author(?:s|\(s\))?\s*:\s*(?P<rest3>.+)$",
    re.IGNORECASE,
)
# a byline that is no name: "By Social Work Manager", "By The Secret Social Worker"
_PSEUDONYM = re.compile(
    r"^(?:[A-Z][\w'’.-]*|of|the|and|&)(?:\s+(?:[A-Z][\w'’.-]*|of|the|and|&)){0,4}$"
)
_SIGN_OFF = re.compile(r"^(?P<name>[^,]{3,60}),\s+(?P<role>[^.!?]{2,120})$")


@dataclass(frozen=True)
class Person:
    name: str
    role: str | None = None
    #: the page says this is a person ("By …", a handle) or the name starts with a
    #: known given name; a bare "Nature Materials" line is a name only in shape
    known: bool = True


def strip_titles(text: str) -> str:
    """'Professor Sir Keith Burnett FRS' -> 'Keith Burnett', 'Monique Honaman, JD' ->
    'Monique Honaman'."""
    text = _HONORIFIC.sub("", text.strip()).strip()
    return _POSTNOMINAL.sub("", text).strip(" ,")


def as_name(text: str, allow_handle: bool = False) -> str | None:
    """`text` as a person's name without titles, or None when it is not one."""
    text = text.strip(" ,.;:|–—-")
    if allow_handle and _HANDLE.match(text):
        return text
    name = strip_titles(text)
    tokens = name.split()
    if not 2 <= len(tokens) <= 4:
        return None
    capitals = 0
    for token in tokens:
        if token.lower() in _PARTICLES:
            continue
        bare = re.sub(r"['’]s$", "", token).lower()
        acronym = len(token) > 1 and token.isupper() and "." not in token
        if bare in _NOT_NAME or not _TOKEN.match(token) or not token[0].isupper() or acronym:
            return None
        capitals += 1
    return name if capitals >= 2 else None


_MAX_NAME_TOKENS = 9  # "Professor Sir Keith Burnett FRS": titles, a name and letters after it


def _leading(text: str) -> tuple[str, int] | None:
    """The longest name at the start of `text`, and where in `text` it ends."""
    best = None
    for n, match in enumerate(re.finditer(r"\S+", text)):
        if n >= _MAX_NAME_TOKENS:
            break
        head = text[: match.end()]
        if (name := as_name(head)) is None:
            if best and not _POSTNOMINAL.match(" " + match.group().strip(",")):
                break
            continue
        best = (name, match.end() - (1 if head.endswith(",") else 0))
    return best


def leading_name(text: str) -> tuple[str, str] | None:
    """A name at the start of `text` and what follows it: ('Donald Forrester', 'When I …')."""
    found = _leading(text)
    if found is None:
        return None
    name, end = found
    return name, text[end:].lstrip(" ,")


def byline(text: str) -> Person | None:
    """'By Jane Doe', 'by: Monique Honaman, JD', 'Author: Emily Bower', 'Written by X'."""
    match = _BY.match(text.strip())
    if not match:
        return None
    rest = (match["rest"] or match["rest2"] or match["rest3"] or "").strip(" »«|:")
    if _HANDLE.match(rest.split(" ")[0] if rest else ""):
        return Person(rest.split(" ")[0])
    head, role = ([*re.split(r",|\s\|\s", rest, maxsplit=1), ""])[:2]
    if name := as_name(rest):
        return Person(name)
    if name := as_name(head):
        role = role.strip()
        return Person(name, role if role and not _POSTNOMINAL.fullmatch(", " + role) else None)
    if lead := leading_name(rest):
        return Person(lead[0])
    if _PSEUDONYM.match(rest):
        return Person(rest)  # "By Frontline Team Manager": the page's own byline
    if re.fullmatch(r"@?[A-Za-z][\w.-]{2,30}", rest) and any(c.isdigit() for c in rest):
        return Person(rest)  # "Post by parentvoice22": a member's handle
    return None


# "Alison Phipps, UNESCO Chair: …, looks at", "Here, Michelle Grimwood, PhD Scholar in …",
# "Marina Jirotka is Professor of …": a listing's teaser introducing its writer
_WRITES = re.compile(
    r"^(?:,[^.]{2,160}?,\s*|\s+)(?:looks?\ at|explains?|considers?|writes?|argues?|reflects?"
    r"|discuss(?:es)?|examines?|asks?|shares?|describes?|sets?\ out|outlines?|reviews?"
    r"|explores?|tells?|introduces?|offers?|makes?\ the\ case|on\ (?:why|how|what))\b"
    r"|^\s+is\s+(?:an?\s+)?[A-Z]",
    re.VERBOSE,
)
_HERE = re.compile(r"(?:^|[.!?]\s+)Here,?\s+(?=[A-Z])")


def teaser_writer(text: str) -> Person | None:
    """The writer a teaser names as it opens: 'Dr Robin Miller, Deputy Director of …, looks at'."""
    starts = [0] + [m.end() for m in _HERE.finditer(text[:400])]
    for at in starts:
        found = _leading(text[at:])
        if found is None or not _known(found[0]):
            continue
        rest = text[at + found[1] :]
        if at:
            return Person(found[0])  # "Here, Michelle Grimwood, PhD Scholar …"
        if _WRITES.match(rest):
            return Person(found[0])
    # the pattern itself says who: "Harri Helvon-Hardy, Founder and CEO of FABRIC, explores"
    found = _leading(text)
    if found and _WRITES.match(rest := text[found[1] :]) and rest.startswith(","):
        return Person(found[0])
    return None


# "Reporting by Mathieu Rosemain and …", "Reports compiled by Jon Slater, with the help of …"
_CLOSING_CREDIT = re.compile(
    r"^(?:(?:additional\s+)?reporting|reports?\s+compiled|compiled|written|edited|words)\s+by\s+",
    re.IGNORECASE,
)


def closing_credit(text: str) -> Person | None:
    """The writer a wire story or news brief credits in its last lines."""
    match = _CLOSING_CREDIT.match(text)
    if not match:
        return None
    found = _leading(text[match.end() :])
    return Person(found[0]) if found else None


def sign_off(text: str) -> Person | None:
    """'Mark Rogers, chief executive, Solihull MBC': a name and a role closing the text."""
    if len(text.split()) > 15:
        return None
    if (match := _SIGN_OFF.match(text)) and (name := as_name(match["name"])):
        role = match["role"].strip()
        credentials = _POSTNOMINAL.fullmatch(", " + role)
        return Person(name, None if credentials else role)
    return None


def _known(name: str) -> bool:
    first = name.split()[0]
    return words.is_given_name(first) or ("." in first and first.rstrip(".").isupper())


def name_line(text: str) -> Person | None:
    """A line that is only a name, maybe with credentials or an affiliation:
    'Lucy Webster', 'Lisa Borchetta, MACP, CMC, ACC', 'Terry Slevin, Cancer Council Australia',
    or a handle ('muriel_volestrangler', '@PlanetCath')."""
    if len(text) > 90:
        return None
    if _HANDLE.match(text.strip()) and any(c in text for c in "_@"):
        return Person(text.strip())
    if name := as_name(text):
        return Person(name, known=_known(name))
    head, _, rest = text.partition(",")
    if rest and (name := as_name(head)):
        role = rest.strip()
        credentials = _POSTNOMINAL.fullmatch(", " + role)
        return Person(name, None if credentials else role, known=_known(name))
    return None
