"""URL-safe names for posts, tags and sources."""

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
