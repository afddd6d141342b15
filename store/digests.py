"""Digest issues and slot decisions as kept: issues frozen once made, a post in at most
one issue (the `digest_posts.post_id` unique key), a slot decided at most once (the
`digest_slots.slot` key).

Those keys are the only arbiter between processes making issues at once: a write that
loses to another process's raises `RaceLost` with nothing of it kept, and the caller
reads again. What goes in an issue and which slot is due are `emails.issues`' to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from postroom.store import Store
from postroom.store.outbox import queue
from postroom.store.schema import digest_issues, digest_posts, digest_slots
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError


class SlotOutcome(StrEnum):
    """How a slot was decided; kept in `digest_slots.outcome` and shown as is."""

    ISSUED = "issued"
    EMPTY = "empty"  # nothing new since the last issue
    LATE = "late"  # found too long after its time: its posts roll into the next issue
    BEFORE_START = "before-start"  # the slot before the site's first: never mailed


@dataclass(frozen=True)
class Issue:
    number: int
    cutoff: str
    created_at: str
    subject: str
    html: str
    text: str
    post_ids: tuple[str, ...]
    released: bool = False  # its archive page is written: it may be mailed
    intro_html: str = ""  # the curator's intro as frozen with it (sanitized HTML)
    intro_sha256: str = ""  # of the intro file it came from: no other issue may use it


class RaceLost(Exception):
    """Another process wrote first (this issue's number, one of its posts, or this slot's
    decision): nothing of this write was kept."""


def _key(slot: datetime) -> str:
    return slot.astimezone(UTC).isoformat()


def issued_post_ids(store: Store) -> set[str]:
    """Every post that is in an issue already."""
    with store.engine.connect() as conn:
        return set(conn.execute(select(digest_posts.c.post_id)).scalars())


def next_issue_number(store: Store) -> int:
    with store.engine.connect() as conn:
        return (conn.execute(select(func.max(digest_issues.c.number))).scalar() or 0) + 1


def save_issue(store: Store, issue: Issue, now: datetime, slot: datetime | None = None) -> int:
    """Keep `issue` with its posts and one pending ledger row for every active subscriber,
    in one transaction (with `slot`, recorded as that slot's issue in it too), so an issue
    and its recipients exist together or not at all; how many rows were queued. Raises
    RaceLost if another process took the number, a post or the slot first."""
    try:
        with store.engine.begin() as conn:
            if slot is not None:  # first: a slot already decided costs no other write
                _insert_slot(conn, slot, SlotOutcome.ISSUED, now, issue.number)
            conn.execute(
                insert(digest_issues).values(
                    number=issue.number,
                    cutoff=issue.cutoff,
                    created_at=issue.created_at,
                    subject=issue.subject,
                    html=issue.html,
                    text=issue.text,
                    intro_html=issue.intro_html,
                    intro_sha256=issue.intro_sha256,
                )
            )
            conn.execute(
                insert(digest_posts),
                [
                    {"issue": issue.number, "post_id": post_id, "position": i}
                    for i, post_id in enumerate(issue.post_ids)
                ],
            )
            return queue(conn, issue.number, now)
    except IntegrityError as exc:
        raise RaceLost(f"issue {issue.number}: another process made it first") from exc


def slot_outcome(store: Store, slot: datetime) -> SlotOutcome | None:
    """How `slot` was decided, or None while it is not."""
    with store.engine.connect() as conn:
        found = conn.execute(
            select(digest_slots.c.outcome).where(digest_slots.c.slot == _key(slot))
        ).scalar()
    return None if found is None else SlotOutcome(found)


def any_slot_decided(store: Store) -> bool:
    with store.engine.connect() as conn:
        return conn.execute(select(digest_slots.c.slot).limit(1)).first() is not None


def record_slot(store: Store, slot: datetime, outcome: SlotOutcome, now: datetime) -> None:
    """`slot` decided without an issue (`outcome`); RaceLost if it was decided already."""
    try:
        with store.engine.begin() as conn:
            _insert_slot(conn, slot, outcome, now, None)
    except IntegrityError as exc:
        raise RaceLost(f"the slot of {_key(slot)}: another process decided it first") from exc


def _insert_slot(
    conn: Connection, slot: datetime, outcome: SlotOutcome, now: datetime, issue: int | None
) -> None:
    conn.execute(
        insert(digest_slots).values(
            slot=_key(slot), outcome=outcome.value, issue=issue, decided_at=now.isoformat()
        )
    )


def _read_issues(store: Store, number: int | None = None) -> list[Issue]:
    """Issues in order, with their posts in order; only issue `number` when given."""
    issues, posts = select(digest_issues), select(digest_posts)
    if number is not None:
        issues = issues.where(digest_issues.c.number == number)
        posts = posts.where(digest_posts.c.issue == number)
    with store.engine.connect() as conn:
        members: dict[int, list[str]] = {}
        for row in conn.execute(posts.order_by(digest_posts.c.position)):
            members.setdefault(row.issue, []).append(row.post_id)
        rows = conn.execute(issues.order_by(digest_issues.c.number)).all()
    return [
        Issue(r.number, r.cutoff, r.created_at, r.subject, r.html, r.text,
              tuple(members.get(r.number, ())), bool(r.released_at), r.intro_html,
              r.intro_sha256)
        for r in rows
    ]  # fmt: skip


def issue_with_intro(store: Store, sha256: str) -> int | None:
    """The first issue introduced by the intro file with these bytes, or None."""
    with store.engine.connect() as conn:
        return conn.execute(
            select(func.min(digest_issues.c.number)).where(digest_issues.c.intro_sha256 == sha256)
        ).scalar()


def all_issues(store: Store) -> list[Issue]:
    return _read_issues(store)


def issue_by_number(store: Store, number: int) -> Issue | None:
    return next(iter(_read_issues(store, number)), None)


def release(store: Store, numbers: list[int], now: datetime) -> None:
    """Let senders mail these issues: called once their archive pages are written."""
    with store.engine.begin() as conn:
        conn.execute(
            update(digest_issues)
            .where(digest_issues.c.number.in_(numbers), digest_issues.c.released_at == "")
            .values(released_at=now.isoformat())
        )
