"""What `postroom status` reads from the store, two ways behind one small API:

- `SqlitePeek`: a SQLite file opened read-only with the standard library's `sqlite3`, for
  the command line. Importing SQLAlchemy alone takes 0.3 s, ten times the whole read,
  and `status` is what an operator (or a monitoring script, every minute) runs.
- `StorePeek`: the same reads through an open `Store`'s own API (SQLAlchemy), for
  PostgreSQL, for a store `SqlitePeek` declines, and for callers that hold a Store.

Both hand back the same plain records, so service.status shapes one output from either,
and tests/test_startup.py checks the two agree on a site with content.

`SqlitePeek` never writes and never decides anything the Store would: `open_peek` gives
None for anything but a SQLite file that exists at this postroom's schema version (a URL
it cannot read, no file yet, an older or newer schema, an unreadable file), and the
caller opens the Store as before, which makes, migrates or refuses the database and
words any error as it always has. A read that fails after opening raises `PeekFailed`,
for the same fall back.

This module imports the standard library and `core` only, never SQLAlchemy nor the
store package's own modules at import time: the command line loads it without running
store/__init__.py (scheduler.peek_module). StorePeek imports what it uses when called.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from postroom.core.model import Problem, Severity
from postroom.core.process import holder_gone

if TYPE_CHECKING:
    from postroom.store import Store

#: store.schema.SCHEMA_VERSION, which cannot be imported here without SQLAlchemy;
#: tests/test_startup.py checks the two agree. A database at any other version goes the
#: Store's way (migrated, or refused), as before.
SCHEMA_VERSION = 16

_WAITING_STAGES = ("proof", "held")  # store.digests._WAITING
_STAGES = ("issued", *_WAITING_STAGES)  # what `digest status --json` lists
_SLOT_OUTCOMES = ("proof", "held")  # store.digests.slots_of_waiting_issues


class PeekFailed(Exception):
    """A read-only read failed (a file that is not a database, a lock held too long):
    the caller goes the Store's way, which says why in its own words."""


@dataclass(frozen=True)
class Activity:
    """A job's last run, as store.activity keeps it."""

    at: str
    data: dict


@dataclass(frozen=True)
class IssueRow:
    """One digest issue, issued or waiting, with what `digest status --json` counts."""

    number: int
    created_at: str
    subject: str
    posts: int  # posts in it
    stage: str  # store.digests.IssueStage's value
    states: dict[str, int]  # its outbox rows by state (store.outbox.State's value)
    next_retry: str | None  # the earliest deferred row's not_before
    reports: dict[str, int]  # reports that came back, by kind (store.bounces.Kind's value)
    paused: str | None  # why it paused sending, until `digest resume`
    slot: str | None  # the slot it awaits, as kept (issues awaiting one or held only)


@dataclass(frozen=True)
class Target:
    """A followed feed or a listed link, with what status and check show of it."""

    url: str
    last_ok: str
    last_error: str
    failures: int
    next_try: str
    listed_in: str
    title: str


class Peek(Protocol):
    """What status reads: each call one short read."""

    def activity(self, name: str) -> Activity | None: ...
    def count_posts(self) -> int: ...
    def problems(self) -> list[Problem]: ...
    def issues(self) -> list[IssueRow]: ...
    def targets(self, kind: str) -> dict[str, Target]: ...
    def entries_seen(self, feeds: Iterable[str]) -> dict[str, int]: ...
    def lease_holder(self, name: str, now: datetime) -> str | None: ...


def sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:///<path>` URL (as Site.store_url writes it); None for
    any other URL, or one whose reading is SQLAlchemy's to say (options, %-escapes,
    memory)."""
    for scheme in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(scheme):
            path = url[len(scheme) :]
            if path and path != ":memory:" and not any(c in path for c in "?%#"):
                return Path(path)
    return None


def open_peek(url: str) -> SqlitePeek | None:
    """A read-only reader of the store at `url`, or None when the Store must open it."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        # mode=ro: SQLite itself refuses any write on this connection
        where = f"file:{quote(str(path.resolve()))}?mode=ro"
        conn = sqlite3.connect(where, uri=True, timeout=10.0, isolation_level=None)
    except sqlite3.Error:
        return None
    peek = SqlitePeek(conn)
    try:
        found = peek._one("SELECT version FROM schema_version")
    except PeekFailed:  # not a database, no schema yet: the Store's to make or refuse
        found = None
    if found != (SCHEMA_VERSION,):
        peek.close()
        return None
    return peek


class SqlitePeek:
    """The reads, as SQL on a read-only sqlite3 connection. Each statement is the one
    SQLAlchemy renders for the store function named beside it, so the rows, and their
    order, are the same."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SqlitePeek:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            with closing(self.conn.execute(sql, params)) as cursor:
                return cursor.fetchall()
        except sqlite3.Error as exc:
            raise PeekFailed(str(exc)) from None

    def _one(self, sql: str, params: tuple = ()) -> tuple | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def activity(self, name: str) -> Activity | None:  # store.activity.last
        row = self._one("SELECT at, data FROM activity WHERE name = ?", (name,))
        return Activity(row[0], json.loads(row[1])) if row else None

    def count_posts(self) -> int:  # Store.count_posts
        row = self._one("SELECT count(*) FROM posts WHERE withdrawn IS 0")
        return (row[0] if row else 0) or 0

    def problems(self) -> list[Problem]:  # Store.problems
        rows = self._rows("SELECT path, problems FROM files WHERE problems != '[]' ORDER BY path")
        return [
            Problem(path, reason, Severity(severity))
            for path, kept in rows
            for reason, severity in json.loads(kept)
        ]

    def issues(self) -> list[IssueRow]:
        """Issued and waiting issues, by number (store.digests.all_issues and
        waiting_issues, Outbox.counts and next_retry, store.bounces.counts and pauses,
        slots_of_waiting_issues)."""
        marks = ", ".join("?" * len(_STAGES))
        found = self._rows(
            "SELECT number, created_at, subject, proof_stage FROM digest_issues"
            f" WHERE proof_stage IN ({marks}) ORDER BY number",
            _STAGES,
        )
        posts = dict(self._rows("SELECT issue, count(*) FROM digest_posts GROUP BY issue"))
        states = _nested(
            self._rows("SELECT issue, state, count(*) FROM outbox GROUP BY issue, state")
        )
        retry = dict(
            self._rows(
                "SELECT issue, min(not_before) FROM outbox WHERE state = 'deferred' GROUP BY issue"
            )
        )
        reports = _nested(
            self._rows("SELECT issue, kind, count(*) FROM bounce_reports GROUP BY issue, kind")
        )
        paused = dict(self._rows("SELECT issue, reason FROM bounce_pauses WHERE resumed_at = ''"))
        marks = ", ".join("?" * len(_SLOT_OUTCOMES))
        slots = dict(
            self._rows(
                f"SELECT issue, slot FROM digest_slots WHERE outcome IN ({marks})", _SLOT_OUTCOMES
            )
        )
        return [
            IssueRow(number, created_at, subject, posts.get(number, 0), stage,
                     states.get(number, {}), retry.get(number), reports.get(number, {}),
                     paused.get(number), slots.get(number))
            for number, created_at, subject, stage in found
        ]  # fmt: skip

    def targets(self, kind: str) -> dict[str, Target]:  # store.fetched.targets
        rows = self._rows(
            "SELECT url, last_ok, last_error, failures, next_try, listed_in, title"
            " FROM fetch_targets WHERE kind = ?",
            (kind,),
        )
        return {row[0]: Target(*row) for row in rows}

    def entries_seen(self, feeds: Iterable[str]) -> dict[str, int]:  # store.fetched.entries_seen
        counts = dict.fromkeys(feeds, 0)
        for chunk in _chunks(list(counts)):
            marks = ", ".join("?" * len(chunk))
            rows = self._rows(
                "SELECT feed, count(DISTINCT entry_id) FROM fetched_articles"
                f" WHERE feed IN ({marks}) AND entry_id != '' GROUP BY feed",
                tuple(chunk),
            )
            counts.update({feed: n for feed, n in rows if feed in counts})
        return counts

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """store.leases.Lease.current_holder: a SQLite store's lease is its row."""
        row = self._one("SELECT holder, expires FROM leases WHERE name = ?", (name,))
        if row is None or row[1] <= now.isoformat() or holder_gone(row[0]):
            return None
        return row[0]


class StorePeek:
    """The reads through an open Store (any database): the store functions `status` has
    always called."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def activity(self, name: str) -> Activity | None:
        from postroom.store.activity import last

        kept = last(self.store, name)
        return Activity(kept.at, kept.data) if kept else None

    def count_posts(self) -> int:
        return self.store.count_posts()

    def problems(self) -> list[Problem]:
        return self.store.problems()

    def issues(self) -> list[IssueRow]:
        from postroom.core.process import this_process
        from postroom.store.bounces import counts, pauses
        from postroom.store.digests import all_issues, slots_of_waiting_issues, waiting_issues
        from postroom.store.outbox import Outbox

        store = self.store
        outbox = Outbox(store, this_process())
        states, reports, held = outbox.counts(), counts(store), pauses(store)
        slots = slots_of_waiting_issues(store)
        issues = sorted([*all_issues(store), *waiting_issues(store)], key=lambda i: i.number)
        return [
            IssueRow(i.number, i.created_at, i.subject, len(i.post_ids), i.stage.value,
                     {s.value: n for s, n in states.get(i.number, {}).items()},
                     outbox.next_retry(i.number),
                     {k.value: n for k, n in reports.get(i.number, {}).items()},
                     held[i.number].reason if i.number in held else None,
                     slots[i.number].isoformat() if i.number in slots else None)
            for i in issues
        ]  # fmt: skip

    def targets(self, kind: str) -> dict[str, Target]:
        from postroom.store.fetched import TargetKind, targets

        return {
            url: Target(t.url, t.last_ok, t.last_error, t.failures, t.next_try, t.listed_in,
                        t.title)
            for url, t in targets(self.store, TargetKind(kind)).items()
        }  # fmt: skip

    def entries_seen(self, feeds: Iterable[str]) -> dict[str, int]:
        from postroom.store.fetched import entries_seen

        return entries_seen(self.store, feeds)

    def lease_holder(self, name: str, now: datetime) -> str | None:
        from postroom.store.leases import role_lease

        return role_lease(self.store, name).current_holder(now)


def _nested(rows: list[tuple]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for issue, key, n in rows:
        out.setdefault(issue, {})[key] = n
    return out


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
