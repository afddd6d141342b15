"""URL-safe names for posts, tags and sources."""

import hashlib
import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = 80) -> str:
    """'Bye, Bye Sir Michael!' -> 'bye-bye-sir-michael'; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_WORD.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:  # cut at a word boundary
        slug = slug[: max_length + 1].rsplit("-", 1)[0]
    return slug or "untitled"


def name_slug(name: str) -> str:
    """A folder name for a tag or a source: its slug, and when the slug lost letters of
    the name (Cyrillic, Greek, CJK: "Россия Times" and "日本語 Times" both slug to
    "times", "日本語" and "🔥" to "untitled"), a short digest of the name's words after
    it, so that names that differ keep their own folders and feeds. Names are compared
    as their words, in any case (casefold: "Straße" is "strasse") and with any
    punctuation, as slugs compare Latin names; accents only ("Café") lose nothing a
    reader tells apart, and keep the plain slug, as do all-ASCII names."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    slug = slugify(folded, max_length=_NAME_MAX)
    decomposed = unicodedata.normalize("NFKD", folded)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    lossy = any(c.isalnum() and not c.isascii() for c in plain)
    if not lossy and (slug != "untitled" or plain.strip() == "untitled"):
        return slug
    words = " ".join(_NOT_WORD.sub(" ", folded).split()) or folded.strip()
    short = slugify(folded, max_length=_NAME_MAX - 9)  # room for the digest
    return f"{short}-{hashlib.sha256(words.encode()).hexdigest()[:8]}"


_NOT_WORD = re.compile(r"[\W_]+")
#: a name's slug, digest included, is at most this long: so the slug of a slug is itself
#: (a topic's key comes back from a form and is made a key again, core.selection)
_NAME_MAX = 80
