"""What postroom fetched from the web on the curator's behalf, and what it is to fetch.

Two things, both kept here so they survive restarts and are shared by every process:

- targets: each followed feed and each listed link not yet fetched, with the state polite
  polling needs: the validators of the last answer (a conditional GET next time), how
  many tries in a row failed (the backoff), when to try next, and why the last try
  failed (for `check`, `status` and `follow list`);
- articles: every article written into content/ from the web, and every feed entry passed
  over on purpose, so none is written twice, whichever way it came (added, listed,
  followed) and however a feed reorders or renames its entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from postroom.store import Store
from postroom.store.holds import insert_new
from postroom.store.schema import fetch_targets, fetched_articles, posts
from sqlalchemy import Connection, and_, delete, func, select, update

# a longer key or id is kept by its hash: PostgreSQL's index entries have a size limit
# (2,704 bytes), and a link or a feed's id can be any length in any script
_KEY_BYTES = 500
_CHUNK = 500


class TargetKind(StrEnum):
    FEED = "feed"  # a [[follow]] feed, polled for ever
    LINK = "link"  # a URL in a links file, fetched until it works once


@dataclass(frozen=True)
class Target:
    url: str
    kind: TargetKind
    etag: str
    last_modified: str
    last_ok: str  # ISO time of the last good answer, "" never
    last_error: str  # why the last try failed, "" when it did not
    failures: int  # tries failed in a row
    next_try: str  # ISO time, "" as soon as possible
    listed_in: str  # a link's links file (content path)
    title: str  # a feed's own title, as last read


@dataclass(frozen=True)
class Outcome:
    """What one try of a target came to, to be saved."""

    next_try: datetime
    ok: bool
    error: str = ""
    etag: str = ""
    last_modified: str = ""
    title: str = ""  # a feed's title when its body was read


def short_key(text: str) -> str:
    """`text`, or its hash when it is over 500 bytes in UTF-8: fits any index."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= _KEY_BYTES:
        return text
    return "sha256:" + hashlib.sha256(data).hexdigest()


def article_key(link: str) -> str:
    """The key an article is known by: its canonical link (hashed when very long)."""
    return short_key(link)


def _entry_key(feed: str, entry_id: str) -> str:
    return short_key(f"{feed} {entry_id}")


def targets(store: Store, kind: TargetKind) -> dict[str, Target]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(fetch_targets).where(fetch_targets.c.kind == kind.value)).all()
    return {
        row.url: Target(
            row.url,
            TargetKind(row.kind),
            row.etag,
            row.last_modified,
            row.last_ok,
            row.last_error,
            row.failures,
            row.next_try,
            row.listed_in,
            row.title,
        )
        for row in rows
    }


def add_target(
    store: Store, url: str, kind: TargetKind, next_try: datetime, listed_in: str = ""
) -> None:
    """A target new to the store (one known already is left as it is)."""
    with store.engine.begin() as conn:
        values = {"kind": kind.value, "next_try": next_try.isoformat(), "listed_in": listed_in}
        insert_new(conn, fetch_targets, "url", url=url, **values)


def save_outcome(store: Store, url: str, outcome: Outcome, now: datetime) -> None:
    """Record a try: a good one clears the failures and keeps the new validators (a 304
    keeps the old ones); a failed one counts towards the backoff and says why."""
    values: dict[str, object] = {"next_try": outcome.next_try.isoformat()}
    if outcome.ok:
        values |= {"last_ok": now.isoformat(), "last_error": "", "failures": 0}
        if outcome.etag or outcome.last_modified:
            values |= {"etag": outcome.etag, "last_modified": outcome.last_modified}
        if outcome.title:
            values["title"] = outcome.title
    else:
        values |= {"last_error": outcome.error, "failures": fetch_targets.c.failures + 1}
    with store.engine.begin() as conn:
        conn.execute(update(fetch_targets).where(fetch_targets.c.url == url).values(values))


def drop_targets(store: Store, urls: Iterable[str]) -> None:
    """Targets no longer wanted: a feed unfollowed, a link fetched or taken off its list."""
    wanted = list(urls)
    with store.engine.begin() as conn:
        for start in range(0, len(wanted), _CHUNK):
            part = wanted[start : start + _CHUNK]
            conn.execute(delete(fetch_targets).where(fetch_targets.c.url.in_(part)))


def known_links(store: Store, links: Iterable[str], *, written_only: bool = False) -> set[str]:
    """Which of these canonical links are articles seen already (`written_only`: written
    into content/, not only passed over by a feed's first poll)."""
    by_key = {article_key(link): link for link in links if link}
    keys, found = list(by_key), set()
    column = fetched_articles.c.key
    with store.engine.connect() as conn:
        for start in range(0, len(keys), _CHUNK):
            query = select(column).where(column.in_(keys[start : start + _CHUNK]))
            if written_only:
                query = query.where(fetched_articles.c.path != "")
            found.update(by_key[key] for (key,) in conn.execute(query))
    return found


def post_links(store: Store) -> list[str]:
    """The original URL of every post in the store: articles saved or written by hand
    count as seen too, so a feed or a list never brings one in a second time."""
    column = posts.c.source_url
    with store.engine.connect() as conn:
        rows = conn.execute(select(column).where(posts.c.withdrawn.is_(False), column != ""))
        return [url for (url,) in rows if url]


def written_to(store: Store, link: str) -> str | None:
    """Where in content/ the article at `link` was written ("" passed over), or None
    when it was never seen."""
    with store.engine.connect() as conn:
        column = fetched_articles.c.path
        return conn.execute(
            select(column).where(fetched_articles.c.key == article_key(link))
        ).scalar()


def known_entries(store: Store, feed: str, ids: Iterable[str]) -> set[str]:
    """Which of this feed's entry ids were seen already."""
    by_key = {short_key(i): i for i in ids if i}
    wanted, found = list(by_key), set()
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            part = wanted[start : start + _CHUNK]
            rows = conn.execute(
                select(fetched_articles.c.entry_id).where(
                    and_(fetched_articles.c.feed == feed, fetched_articles.c.entry_id.in_(part))
                )
            )
            found.update(by_key[entry_id] for (entry_id,) in rows)
    return found


def remember(
    store: Store,
    now: datetime,
    *,
    link: str = "",
    also: Iterable[str] = (),
    feed: str = "",
    entry_id: str = "",
    path: str = "",
) -> bool:
    """Note an article as seen: written to `path` in content/, or passed over (""). `also`
    are other links it is known by (the URL it was listed or shared as). True when this
    call made it ours: new, or only passed over until now and written at last. False:
    another process (a `postroom add` of the same article) wrote it first."""
    return remember_all(store, now, [(link, entry_id, path)], feed=feed, also=also) == 1


def remember_all(
    store: Store,
    now: datetime,
    articles: Iterable[tuple[str, str, str]],
    *,
    feed: str = "",
    also: Iterable[str] = (),
) -> int:
    """`remember` of many (link, entry id, path) at once, in one transaction (a feed's
    first poll notes dozens it passes over); how many it made ours."""
    made = 0
    with store.engine.begin() as conn:
        for link, entry_id, path in articles:
            ident = short_key(entry_id) if entry_id else ""
            key = article_key(link) if link else _entry_key(feed, ident)
            row = {"feed": feed, "entry_id": ident, "path": path, "seen_at": now.isoformat()}
            fresh = insert_new(conn, fetched_articles, "key", key=key, **row)
            if not fresh and path:
                fresh = _written_at_last(conn, key, path)
            if ident and link and not fresh:  # the feed renamed it: its new id is noted too
                insert_new(conn, fetched_articles, "key", key=_entry_key(feed, ident), **row)
            aliases = {article_key(other) for other in also if other} - {key}
            for alias in sorted(aliases):
                insert_new(conn, fetched_articles, "key", key=alias, **(row | {"entry_id": ""}))
            made += fresh
    return made


def _written_at_last(conn: Connection, key: str, path: str) -> bool:
    """An article passed over before (a feed's first poll), now written: the row says so."""
    statement = (
        update(fetched_articles)
        .where(fetched_articles.c.key == key, fetched_articles.c.path == "")
        .values(path=path)
        .returning(fetched_articles.c.key)
    )
    return conn.execute(statement).first() is not None


def entries_seen(store: Store, feeds: Iterable[str]) -> dict[str, int]:
    """How many distinct entries of each feed have been seen (written or passed over)."""
    wanted = list(feeds)
    counts = dict.fromkeys(wanted, 0)
    column = fetched_articles.c.feed
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(column, func.count(func.distinct(fetched_articles.c.entry_id)))
            .where(column.in_(wanted), fetched_articles.c.entry_id != "")
            .group_by(column)
        )
        counts.update({feed: count for feed, count in rows if feed in counts})
    return counts
