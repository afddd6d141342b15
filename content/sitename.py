"""The name of the site a post was published on, as a reader would write it.

From the post's URL and the page's own words: the site's domain found in the
text as a proper name ("Northgate Review" for northgatereview.org.uk, "BASW"
for basw.co.uk), else a readable name made from the domain by word
segmentation ("communitycare" -> "Community Care"), never a bare hostname.
On blog hosts (WordPress.com, Blogger, Substack, …) the site is the
subdomain, not the host.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from postroom.content import words

# Hosts whose subdomains are other people's sites.
_BLOG_HOSTS = frozenset(
    [
        "wordpress",
        "tumblr",
        "substack",
        "livejournal",
        "ghost",
        "weebly",
        "typepad",
        "squarespace",
        "neocities",
        "medium",
        "blogspot",
        "blogger",
        "wixsite",
        "jimdosite",
        "webflow",
        "dreamwidth",
        "hashnode",
        "bearblog",
        "micro",
        "over-blog",
    ]
)
# Words that continue an organisation's name after the part its domain spells.
_ORG_WORDS = frozenset(
    [
        "council",
        "trust",
        "foundation",
        "university",
        "college",
        "society",
        "association",
        "institute",
        "agency",
        "network",
        "charity",
        "group",
        "partnership",
        "services",
        "centre",
        "center",
        "school",
        "hospital",
        "authority",
        "commission",
        "board",
        "club",
        "project",
        "journal",
        "news",
        "times",
        "review",
    ]
)
_GLUE_WORDS = frozenset(
    ["a", "an", "and", "the", "of", "in", "on", "for", "at", "to", "my", "our", "by", "uk"]
)
# a piece rarer than this is no word of its own: "ballot|pedia", "stein|heimer"
_RARE = 2.5e5
_LONG = 10  # a known token this long and this rare is two words run together
_SMALL = frozenset(["a", "an", "and", "the", "of", "in", "on", "for", "at", "to", "by"])


# Subdomains that name a part of every site, not which site or section this is.
_GENERIC_SUBDOMAINS = frozenset(
    [
        "www",
        "www2",
        "www3",
        "m",
        "mobile",
        "amp",
        "en",
        "de",
        "fr",
        "es",
        "news",
        "blog",
        "blogs",
        "my",
        "web",
        "content",
        "hosted",
        "home",
        "portal",
        "app",
        "apps",
        "shop",
        "store",
        "info",
        "media",
        "static",
        "cdn",
        "wp",
        "beta",
        "old",
        "new",
        "online",
        "go",
        "secure",
        "edition",
        "editions",
    ]
)


def site_tokens(url: str) -> list[str]:
    """The parts of a URL's host that name its site, most specific first:
    ['columbian', 'gwu'] for columbian.gwu.edu, ['communitycare'] for www.communitycare.co.uk.
    On a blog host the subdomain is the whole site (WordPress.com, Blogger, Substack, …)."""
    from tld import get_tld

    parsed = get_tld(url, as_object=True, fail_silently=True)
    if parsed is None:
        return []
    domain, subdomain = parsed.domain, parsed.subdomain
    labels = [s for s in subdomain.lower().split(".") if s and s not in _GENERIC_SUBDOMAINS]
    if domain.lower() in _BLOG_HOSTS:
        return labels[-1:] or [domain]
    return [*labels[-1:], domain] if domain else labels[-1:]


def _compact(text: str) -> tuple[str, list[int]]:
    """Lower-case letters and digits of `text`, with each one's position in it."""
    chars, where = [], []
    for i, c in enumerate(text):
        if c.isalnum():
            chars.append(c.lower())
            where.append(i)
    return "".join(chars), where


def _word_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The match widened to whole words; None when it starts or ends inside a word."""
    if start > 0 and text[start - 1].isalnum():
        return None
    # "Dudleyfield" is another word ("Tusla’s" ends at the apostrophe)
    if end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        return None
    return start, end


def _extend(text: str, end: int) -> int:
    """Carry on over words that continue an organisation's name: 'Dudley' + ' Council'."""
    match = re.match(r"\s+([A-Z][a-z]+)", text[end:])
    if match and match[1].lower() in _ORG_WORDS:
        return end + match.end()
    return end


def name_in_text(token: str, text: str) -> str | None:
    """How the page writes the site's name, when it writes it as a proper name."""
    target, _ = _compact(token)
    if len(target) < 3:
        return None
    compact, where = _compact(text)
    found: Counter[str] = Counter()
    at = compact.find(target)
    while at != -1:
        start, end = where[at], where[at + len(target) - 1] + 1
        span = _word_span(text, start, end)
        if span and text[start].isupper():
            found[text[start : _extend(text, end)]] += 1
        at = compact.find(target, at + 1)
    if not found:
        return None
    return found.most_common(1)[0][0]


def _join_rare(pieces: list[str]) -> list[str]:
    """Rejoin a piece too rare to be a word to the one before: 'Lauren Steinheimer',
    'Ballotpedia' (a rare first piece is a place or a name: 'Dereham Times')."""
    out: list[str] = []

    def fragment(piece: str) -> bool:
        return len(piece) <= 6 and words.frequency(piece) < _RARE

    for piece in pieces:
        if out and fragment(piece) and piece not in _GLUE_WORDS and out[-1] not in _GLUE_WORDS:
            out[-1] += piece
            continue
        out.append(piece)
    return out


def _pieces(part: str) -> list[str]:
    """How a reader would split one run of letters into words."""
    if not part.isalpha():
        return [part]
    return [w for piece in words.segment(part) for w in _unrun(piece)]


def _unrun(piece: str) -> list[str]:
    """'huffingtonpost', 'greymatter': in the word list as one rare token, but two
    common words run together, as a reader would write them apart (one of them very
    common: 'ponderings' is no 'ponder' + 'ings')."""
    if len(piece) >= _LONG and words.frequency(piece) < 2e5:
        for cut in range(4, len(piece) - 3):
            left, right = words.frequency(piece[:cut]), words.frequency(piece[cut:])
            if min(left, right) >= 5e5 and max(left, right) >= 1e7:
                return [piece[:cut], piece[cut:]]
    return [piece]


@lru_cache(maxsize=1024)
def readable(token: str) -> str:
    """'fosteringinbrightonandhove' -> 'Fostering in Brighton and Hove'; 'impower' stays whole."""
    out: list[str] = []
    for part in re.split(r"[-_]+", token):
        if not part:
            continue
        pieces = _pieces(part)
        # a two-letter piece that is no word ("im power", "tus la") means the split is a guess
        if any(len(p) <= 2 and p not in _GLUE_WORDS for p in pieces):
            pieces = [part]
        pieces = _join_rare(pieces)
        out.extend(pieces)
    return " ".join(p if p in _SMALL and i else p[:1].upper() + p[1:] for i, p in enumerate(out))


def site_name(url: str | None, text: str, masthead: str | None = None) -> str | None:
    """The publishing site's name for a post found at `url`: its domain as the page
    writes it, else the name the page shows at its top (`masthead`), else the domain made
    readable."""
    tokens = site_tokens(url) if url else []
    for token in tokens:
        if found := name_in_text(token, text):
            return found
    if masthead:
        return masthead
    return readable(tokens[0]) if tokens else None
