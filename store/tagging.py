"""Each published post's tags and source, and nothing else of it.

The subscribe form and a reader's preferences page offer the site's most used topics
and sources (feeds.offered). The web app counts them for each page it answers, so it
reads these two small columns, not every post's body as `Store.posts()` does.
"""

from __future__ import annotations

import json

from postroom.store import Store
from postroom.store.schema import posts
from sqlalchemy import select

#: (tags, source) of one post
Tagged = tuple[tuple[str, ...], str | None]


def tags_and_sources(store: Store) -> list[Tagged]:
    """(tags, source) of every published post, in id order (counting needs no other)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(posts.c.tags, posts.c.source)
            .where(posts.c.withdrawn.is_(False))
            .order_by(posts.c.id)
        ).all()
    return [(tuple(json.loads(tags)), source) for tags, source in rows]
