"""What a new post's row is made of, made the same way wherever it is made: its identity
key, the id the scan gives it, the `Post` its versions settle on, and that Post's
fingerprint (what tells an update from the same words read again).

Its own module, light on imports (no store, no SQLAlchemy): a cold scan's workers make
each post's key, id and fingerprint as they read it (`content.handback`), so the scan's
parent, one process every worker waits on, only checks the id is free; and the parent
makes them with these same functions when a worker did not (a delta scan, a clash's
"-2", a post whose versions are weighed at commit). A fingerprint that changed would
make every post of every existing site "updated" on upgrade: tests/test_excerpt_stored.py
holds ones made before.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime, tzinfo
from pathlib import Path

from postroom.core.model import DateSource, ParsedPost, Post
from postroom.core.slug import slugify
from postroom.store.encoding import plain, sorted_json, spliced

_NOT_WORD = re.compile(r"\W+")


def identity_key(post: ParsedPost, tz: tzinfo) -> str:
    if post.id_hint:
        return f"id:{post.id_hint}"
    title = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", post.title).casefold()).strip()
    day = post.date.astimezone(tz).date().isoformat() if post.date else "undated"
    return f"{day}:{title}"


def id_base(post: ParsedPost, path: str, tz: tzinfo) -> str:
    """A new post's id before any clash's "-2", made from the content alone so that a
    rebuild from content/ (the database lost) gives every post the id, page URL and feed
    entry it had: the date and title; for a post with no date, its file's name and its
    title (the day it was first picked up would differ on the second pick-up)."""
    if post.id_hint:
        return post.id_hint
    if post.date is not None:
        return f"{post.date.astimezone(tz).date().isoformat()}-{slugify(post.title, 60)}"
    return f"{slugify(Path(path).stem, 40)}-{slugify(post.title, 60)}"


def publishable(
    post_id: str,
    parsed: ParsedPost,
    files: tuple[str, ...],
    picked_up: datetime,
    now: datetime,
    tz: tzinfo,
) -> Post:
    """The post as published from the version chosen (`parsed`)."""
    return Post(
        id=post_id,
        title=parsed.title,
        date=parsed.date or picked_up.astimezone(tz).replace(microsecond=0),
        date_source=parsed.date_source or DateSource.PICKED_UP,
        picked_up=picked_up,
        updated=now,
        body_html=parsed.body_html,
        summary=parsed.summary,
        attribution=parsed.attribution,
        tags=parsed.tags,
        files=files,
        comment=parsed.comment,
        image=parsed.image,
        republish=parsed.republish,
    )


def fingerprint(post: Post, body_json: str | None = None) -> str:
    """`body_json`: `json.dumps(post.body_html)`, when the caller made it already (a cold
    scan's worker, for the version's JSON too: `first_fingerprint`)."""
    # what `replace(post, picked_up=None, updated=None, files=())` gives, without making it
    data = plain(post) | {"picked_up": None, "updated": None, "files": []}
    for added in ("comment", "image", "republish"):  # keys that came later: an upgrade
        if not data[added]:  # must not make every post without them "updated"
            del data[added]
    if body_json is None:
        text = _FINGERPRINT_JSON(data)
    else:  # the same text: the body written the default way, as json.dumps writes it here
        text = spliced(data, post.body_html, body_json, _FINGERPRINT_JSON)
    return hashlib.sha256(text.encode()).hexdigest()


_FINGERPRINT_JSON = sorted_json(default=str)


def first_fingerprint(
    post: ParsedPost, path: str, now: datetime, tz: tzinfo, body_json: str | None = None
) -> tuple[str, str]:
    """(id_base, fingerprint) of a post new at `now` under that id, settled by this one
    version (a cold scan's every post): what the scan's parent would make. `body_json`:
    as `fingerprint`'s."""
    base = id_base(post, path, tz)
    return base, fingerprint(publishable(base, post, (), now, now, tz), body_json)
