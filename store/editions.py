"""Who gets which rendering of an issue: readers grouped by what they chose, and the
ledger rows and `served` marks that make each post reach each person at most once.

Every subscriber has `served`: the last issue whose posts were theirs to get. At a
slot, the readers due (their cadence's slot, not paused) are grouped by
(topics, sources, served) (`groups`); `emails.editions` gives each group the
posts of the issues after its `served` that match its choice, rendered once per
distinct list of posts (an `Edition`), and this module queues them (`queue_plan`):
in the transaction that makes or issues the issue, each group's readers get a
ledger row for their edition and `served` moves to the issue, together. A reader
whose choice changed since the groups were read is in no group: they get nothing
now and everything owed at their next slot. Readers who are off, or paused at a
slot they are due at, and subscribers not active, have `served` moved on with no row:
the paused weeks are skipped, not saved up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from postroom.core.model import Cadence
from postroom.store import Store
from postroom.store.outbox import queue_rows
from postroom.store.schema import digest_editions, digest_issues, digest_posts, subscribers
from postroom.store.subscribers import Status
from sqlalchemy import ColumnElement, Connection, false, func, insert, select, update

#: subscriber ids to an INSERT at once: well under SQLite's parameter limit
_CHUNK = 2000


@dataclass(frozen=True)
class Group:
    """Readers who chose alike and were last served alike: one list of posts is theirs.
    `topics` and `sources` are the store's canonical JSON (`Selection.stored`)."""

    topics: str
    sources: str
    served: int
    readers: int = 0  # how many, when read
    edition: int | None = None  # in a Plan: which rendering; None: nothing new for them


@dataclass(frozen=True)
class Edition:
    """One rendering of an issue, for the groups whose posts it holds. Edition 0 is the
    issue's own parts (kept with the issue); a plan carries only the others."""

    number: int
    subject: str
    html: str
    text: str
    post_ids: tuple[str, ...]


@dataclass(frozen=True)
class Due:
    """Who is due at a slot: readers of these cadences (those with none chosen have
    `default`), unless paused past `slot`."""

    cadences: frozenset[Cadence]
    default: Cadence
    slot: datetime
    # readers paused at `slot` miss its digest (the paused weeks are skipped); False when
    # the issue goes long after its slot (a held issue sent after a later one): a reader
    # paused then is left as they are, and gets its posts with their next digest
    skip_paused: bool = True

    def cadence_is_due(self) -> ColumnElement[bool]:
        chosen = [c.value for c in self.cadences]
        if self.default in self.cadences:
            chosen.append("")
        return subscribers.c.cadence.in_(chosen)

    def is_off(self) -> ColumnElement[bool]:
        chosen = [Cadence.OFF.value] + ([""] if self.default is Cadence.OFF else [])
        return subscribers.c.cadence.in_(chosen)

    def is_paused(self) -> ColumnElement[bool]:
        return subscribers.c.paused_until > _stamp(self.slot)


@dataclass(frozen=True)
class Plan:
    """What `queue_plan` writes for one issue: its editions, and each due group's."""

    due: Due
    editions: tuple[Edition, ...]
    groups: tuple[Group, ...]


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _active() -> ColumnElement[bool]:
    return subscribers.c.status == Status.ACTIVE.value


def groups(store: Store, due: Due, number: int, waiting: bool = False) -> list[Group]:
    """The readers due at `due.slot` who are owed issues up to `number`, grouped. With
    `waiting` (issue `number` is being made, or issued after its proof or hold) also
    those served past it: a held issue sent after a later one went out is still theirs,
    though `served` (the later issue's) says nothing of it."""
    owed = subscribers.c.served < number
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(subscribers.c.topics, subscribers.c.sources, subscribers.c.served, func.count())
            .where(_active(), due.cadence_is_due(), ~due.is_paused(), *([] if waiting else [owed]))
            .group_by(subscribers.c.topics, subscribers.c.sources, subscribers.c.served)
            .order_by(subscribers.c.topics, subscribers.c.sources, subscribers.c.served)
        ).all()
    return [Group(r.topics, r.sources, r.served, r[3]) for r in rows]


def issued_posts_between(store: Store, after: int, through: int) -> list[str]:
    """The posts of the issued issues numbered after `after`, up to `through`, by issue
    and position: what a reader last served `after` is owed besides a new issue's."""
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                select(digest_posts.c.post_id)
                .join(digest_issues, digest_issues.c.number == digest_posts.c.issue)
                .where(
                    digest_posts.c.issue > after,
                    digest_posts.c.issue <= through,
                    digest_issues.c.proof_stage == "issued",
                )
                .order_by(digest_posts.c.issue, digest_posts.c.position)
            ).scalars()
        )


def queue_plan(conn: Connection, number: int, now: datetime, plan: Plan) -> int:
    """Write `plan` for issue `number` in the caller's transaction: its editions, a pending
    ledger row for each reader of each group (at their group's edition), and `served`
    moved to `number` for them, for the groups with nothing new, and for readers off or
    paused. The list is read once to find each group's readers; each group's are then
    marked by id, still in the group (`served` set, the rows locked), and their rows
    written for the ids that returned, so a reader whose choice changed meanwhile is
    neither queued nor marked. (One UPDATE per group scanning the list took twice as long
    at 100,000 readers in 100 groups: bench/selections.py.) How many rows were queued."""
    if plan.editions:
        conn.execute(
            insert(digest_editions),
            [
                {
                    "issue": number,
                    "edition": e.number,
                    "subject": e.subject,
                    "html": e.html,
                    "text": e.text,
                    "post_ids": json.dumps(list(e.post_ids)),
                }
                for e in plan.editions
            ],
        )
    due, queued = plan.due, 0
    # who is in which group, in one pass over the list; each group's readers are then
    # marked by their ids (the primary key), not by a scan of the list per group
    members: dict[tuple[str, str, int], list[int]] = {}
    wanted = {(g.topics, g.sources, g.served) for g in plan.groups}
    for r in (
        ()
        if not wanted
        else conn.execute(
            select(
                subscribers.c.id, subscribers.c.topics, subscribers.c.sources, subscribers.c.served
            )
            .where(_active(), due.cadence_is_due(), ~due.is_paused())
            .order_by(subscribers.c.id)
        )
    ):
        if (key := (r.topics, r.sources, r.served)) in wanted:
            members.setdefault(key, []).append(r.id)
    for group in plan.groups:
        ids = members.get((group.topics, group.sources, group.served), [])
        for start in range(0, len(ids), _CHUNK):
            marked = conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.id.in_(ids[start : start + _CHUNK]),
                    _active(),
                    due.cadence_is_due(),
                    ~due.is_paused(),
                    subscribers.c.topics == group.topics,
                    subscribers.c.sources == group.sources,
                    subscribers.c.served == group.served,
                )
                .values(served=max(number, group.served))  # never back: see `groups`
                .returning(subscribers.c.id)
            ).all()
            if group.edition is None or not marked:
                continue
            who = subscribers.c.id.in_([r.id for r in marked])
            queued += queue_rows(conn, number, now, who, group.edition)
    conn.execute(
        update(subscribers)
        .where(subscribers.c.served < number, passed_over(due))
        .values(served=number)
    )
    return queued


def passed_over(due: Due) -> ColumnElement[bool]:
    """Who has `served` moved on with no row: readers off, readers paused at a slot they
    were due at (a monthly reader paused between its slots has no digest to skip, and
    keeps what was issued before and after the pause), and anyone not active (a
    subscriber set active again after a bounce gets new posts, as before readers chose,
    not every issue made while away)."""
    skipped = due.cadence_is_due() & due.is_paused() if due.skip_paused else false()
    return ~_active() | due.is_off() | skipped


def edition_parts(store: Store, number: int) -> dict[int, Edition]:
    """Issue `number`'s editions besides its own, by edition number."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(digest_editions).where(digest_editions.c.issue == number)).all()
    return {
        r.edition: Edition(r.edition, r.subject, r.html, r.text, tuple(json.loads(r.post_ids)))
        for r in rows
    }


def next_edition(store: Store, number: int) -> int:
    """The first free edition number of issue `number` (editions may be added later: a
    monthly slot with no new posts queues its readers' on the last issue)."""
    with store.engine.connect() as conn:
        found = select(func.max(digest_editions.c.edition)).where(digest_editions.c.issue == number)
        return (conn.execute(found).scalar() or 0) + 1
