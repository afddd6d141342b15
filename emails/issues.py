"""Digest issues by membership, not timestamps.

Issue N holds every published post that is in no earlier issue and was picked
up before N's cut-off. The `digest_posts.post_id` unique key makes "at most one
issue per post" the database's promise, so back-dated captures, future-dated
posts and clock skew can never send a post twice or never.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from postroom.core.config import Site
from postroom.core.model import Post
from postroom.core.schedule import latest_slot
from postroom.emails.outbox import queue
from postroom.emails.render import render_digest
from postroom.store import Store
from postroom.store.schema import digest_issues, digest_posts, digest_slots
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError


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


def pending_posts(store: Store, cutoff: datetime) -> list[Post]:
    """Published posts in no issue yet, picked up before `cutoff`, newest first."""
    with store.engine.connect() as conn:
        taken = set(conn.execute(select(digest_posts.c.post_id)).scalars())
    return [p for p in store.posts() if p.id not in taken and p.picked_up <= cutoff]


def create_issue(
    site: Site, store: Store, cutoff: datetime, now: datetime, slot: datetime | None = None
) -> Issue | None:
    """Freeze the next issue (rendered once) and queue it for every active subscriber, in
    one transaction (with `slot`, recorded as that slot's issue in it too); None when
    there is nothing new. Raises IntegrityError if another process made it first."""
    posts = pending_posts(store, cutoff)
    if not posts:
        return None
    with store.engine.begin() as conn:
        if slot is not None:
            _record_slot(conn, slot, "issued", now)
        number = (conn.execute(select(func.max(digest_issues.c.number))).scalar() or 0) + 1
        rendered = render_digest(site, number, posts)
        issue = Issue(
            number,
            cutoff.isoformat(),
            now.isoformat(),
            rendered.subject,
            rendered.html,
            rendered.text,
            tuple(p.id for p in posts),
        )
        conn.execute(
            insert(digest_issues).values(
                number=number,
                cutoff=issue.cutoff,
                created_at=issue.created_at,
                subject=issue.subject,
                html=issue.html,
                text=issue.text,
            )
        )
        conn.execute(
            insert(digest_posts),
            [
                {"issue": number, "post_id": post_id, "position": i}
                for i, post_id in enumerate(issue.post_ids)
            ],
        )
        queue(conn, number, now)
        if slot is not None:
            conn.execute(
                update(digest_slots).where(digest_slots.c.slot == _key(slot)).values(issue=number)
            )
    return issue


def _key(slot: datetime) -> str:
    return slot.astimezone(UTC).isoformat()


def _record_slot(conn: Connection, slot: datetime, outcome: str, now: datetime) -> None:
    conn.execute(
        insert(digest_slots).values(slot=_key(slot), outcome=outcome, decided_at=now.isoformat())
    )


@dataclass(frozen=True)
class SlotDecision:
    slot: datetime
    outcome: str  # issued, empty (nothing new), late, before-start; or already decided
    issue: Issue | None  # made now
    already: bool = False


def decide_slot(site: Site, store: Store, now: datetime) -> SlotDecision:
    """Make the issue of the latest due slot, once; or record why there is none.

    The first slot a site ever sees is the one before it began: recorded, not
    sent, so a new site does not mail last week's posts on its first run. A slot
    older than `digest.late_limit_hours` (postroom was down) is skipped and its
    posts roll into the next issue."""
    config = site.config
    slot = latest_slot(config.digest.schedule, config.tz, now)
    with store.engine.connect() as conn:
        found = conn.execute(
            select(digest_slots.c.outcome).where(digest_slots.c.slot == _key(slot))
        ).scalar()
        first = conn.execute(select(func.count()).select_from(digest_slots)).scalar() == 0
    if found is not None:
        return SlotDecision(slot, found, None, already=True)
    outcome, issue = "before-start", None
    try:
        if not first and now - slot > timedelta(hours=config.digest.late_limit_hours):
            outcome = "late"
        elif not first:
            issue = create_issue(site, store, slot, now, slot=slot)
            outcome = "issued" if issue else "empty"
        if issue is None:
            with store.engine.begin() as conn:
                _record_slot(conn, slot, outcome, now)
    except IntegrityError:  # another process decided this slot first
        return decide_slot(site, store, now)
    return SlotDecision(slot, outcome, issue)


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
              tuple(members.get(r.number, ())), bool(r.released_at))
        for r in rows
    ]  # fmt: skip


def release(store: Store, numbers: list[int], now: datetime) -> None:
    """Let senders mail these issues: called once their archive pages are written."""
    with store.engine.begin() as conn:
        conn.execute(
            update(digest_issues)
            .where(digest_issues.c.number.in_(numbers), digest_issues.c.released_at == "")
            .values(released_at=now.isoformat())
        )


def all_issues(store: Store) -> list[Issue]:
    return _read_issues(store)


def issue_by_number(store: Store, number: int) -> Issue | None:
    return next(iter(_read_issues(store, number)), None)
