"""Digest issues by membership, not timestamps.

Issue N holds every published post that is in no earlier issue and was picked
up before N's cut-off. The `digest_posts.post_id` unique key makes "at most one
issue per post" the database's promise, so back-dated captures, future-dated
posts and clock skew can never send a post twice or never.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from content.model import Post
from content.site import Site
from emails.render import render_digest
from store import Store
from store.schema import digest_issues, digest_posts


@dataclass(frozen=True)
class Issue:
    number: int
    cutoff: str
    created_at: str
    subject: str
    html: str
    text: str
    post_ids: tuple[str, ...]


def pending_posts(store: Store, cutoff: datetime) -> list[Post]:
    """Published posts in no issue yet, picked up before `cutoff`, newest first."""
    with store.engine.connect() as conn:
        taken = set(conn.execute(select(digest_posts.c.post_id)).scalars())
    return [p for p in store.posts() if p.id not in taken and p.picked_up <= cutoff]


def create_issue(site: Site, store: Store, cutoff: datetime, now: datetime) -> Issue | None:
    """Freeze the next issue (rendered once); None when there is nothing new."""
    posts = pending_posts(store, cutoff)
    if not posts:
        return None
    with store.engine.begin() as conn:
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
    return issue


def all_issues(store: Store) -> list[Issue]:
    with store.engine.connect() as conn:
        members: dict[int, list[str]] = {}
        for row in conn.execute(select(digest_posts).order_by(digest_posts.c.position)):
            members.setdefault(row.issue, []).append(row.post_id)
        rows = conn.execute(select(digest_issues).order_by(digest_issues.c.number)).all()
    return [
        Issue(
            r.number,
            r.cutoff,
            r.created_at,
            r.subject,
            r.html,
            r.text,
            tuple(members.get(r.number, ())),
        )
        for r in rows
    ]
