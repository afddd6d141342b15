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
    "times", "日本語" to "untitled"), a short digest of the name after it, so that names
    that differ keep their own folders and feeds. Accents only ("Café") lose nothing a
    reader tells apart, and keep the plain slug, as do all-ASCII names."""
    slug = slugify(name)
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    if all(c.isascii() or not c.isalnum() for c in plain):
        return slug
    digest = hashlib.sha256(" ".join(name.casefold().split()).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"
