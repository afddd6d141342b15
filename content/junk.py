"""Lines a web-page capture carries that are not the article.

Two kinds: lines that are junk wherever they stand (banners, image credits,
hash lines, share buttons), and lines that open a comment section, after
which nothing belongs to the post (the sign-in prompt, the terms lines).
"""

from __future__ import annotations

import re

_JUNK = re.compile(
    r"""^(?:
      cookie\ consent\b.*
    | .*\bcookies?\b.*\b(?:disabled|consent|enable|accept|use\ of)\b.*
    | .*\b(?:consent|agree)\ to\ (?:the\ |our\ )?(?:use\ (?:of\ )?)?cookies\b.*
    | (?:accept|reject|manage)\ (?:all\ )?cookies
    | your\ browser\ (?:is\ no\ longer\ supported|is\ out\ of\ date|appears\ to\ have).*
    | for\ the\ best\ (?:possible\ )?experience\b.*
    | (?:upgrade|update)\ your\ browser.*
    | connecting\ to\ \w+\W*
    | learn\ more | read\ more | skip\ to\ (?:main\ )?content | advertisement
    | (?:shutterstock|getty\ images|alamy|istock(?:photo)?)\b.*
    | (?:photo|image|picture|credit)\s*(?:credit)?\s*:.*
    | .*\b\d{3,4}w
    | [•·*\-]?\s*(?:\d+\ )?comments?
    | share(?:\ this)?(?:\ (?:article|post|story|page))?\s*:?
    | (?:tweet|email|print|facebook|twitter|linkedin|whatsapp|pinterest|reddit|x)
    | (?:share\ on|follow\ us\ on)\ .*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

_COMMENTS_START = re.compile(
    r"""^(?:have\ your\ say|you\ must\ (?:sign|log)\ in\ to\ (?:make|post|leave)\ a\ comment.*
      |leave\ a\ (?:comment|reply)|post\ a\ comment|add\ (?:a|your)\ comment
      |\d+\ (?:comments|responses|replies)\ (?:on|to)\ .*
      |related\ (?:articles|posts|stories))\W*$""",
    re.IGNORECASE | re.VERBOSE,
)

# Page furniture is short; a long paragraph that mentions cookies is prose.
_MAX_JUNK_LINE = 200

# "C7521 A40553 Ed23 D02 Dc01960583 E27 E": file names of images, left as text.
_HASH_TOKEN = re.compile(r"^(?:[A-Za-z]{0,3}\d[A-Za-z\d]*|[A-Z])$")


def _is_hash_line(line: str) -> bool:
    tokens = line.split()
    if len(tokens) < 3 or not all(_HASH_TOKEN.match(t) for t in tokens):
        return False
    return sum(any(c.isdigit() for c in t) for t in tokens) * 2 >= len(tokens)


def is_junk(line: str) -> bool:
    """True for a line that is page furniture wherever it stands."""
    return len(line) <= _MAX_JUNK_LINE and (bool(_JUNK.match(line)) or _is_hash_line(line))


def opens_comments(line: str) -> bool:
    """True for a line after which the capture holds only comments and terms."""
    return bool(_COMMENTS_START.match(line))
