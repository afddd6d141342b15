"""Digest issues by membership, not timestamps: what goes in an issue, and which slot
is due.

Issue N holds every published post that is in no earlier issue and was picked
up before N's cut-off. The store's promise of "at most one issue per post"
(store.digests) means back-dated captures, future-dated posts and clock skew can
never send a post twice or never.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from postroom.core.config import Site
from postroom.core.model import Post
from postroom.core.schedule import latest_slot
from postroom.core.signals import issue_issued, send
from postroom.emails.render import RenderedDigest, render_digest
from postroom.store import Store
from postroom.store.digests import (
    Issue,
    RaceLost,
    SlotOutcome,
    any_slot_decided,
    issued_post_ids,
    next_issue_number,
    record_slot,
    save_issue,
    slot_outcome,
)

_RACES = 3  # issues another process may make while this one makes its own


def pending_posts(store: Store, cutoff: datetime) -> list[Post]:
    """Published posts in no issue yet, picked up before `cutoff`, newest first."""
    taken = issued_post_ids(store)
    return [p for p in store.posts() if p.id not in taken and p.picked_up <= cutoff]


def create_issue(
    site: Site,
    store: Store,
    cutoff: datetime,
    now: datetime,
    told: Callable[[RenderedDigest], None] | None = None,
) -> Issue | None:
    """Freeze the next issue (rendered once) and queue it for every active subscriber;
    None when there is nothing new. If another process makes an issue meanwhile, this
    one is made of what that one left (if anything); RaceLost only if that happens
    `_RACES` times running. `told` is given the rendering of the issue kept (what its
    HTML budget cut, for a person at the terminal)."""
    for _ in range(_RACES - 1):
        try:
            return _make_issue(site, store, cutoff, now, told=told)
        except RaceLost:
            continue
    return _make_issue(site, store, cutoff, now, told=told)


def _make_issue(
    site: Site,
    store: Store,
    cutoff: datetime,
    now: datetime,
    slot: datetime | None = None,
    told: Callable[[RenderedDigest], None] | None = None,
) -> Issue | None:
    """The issue of the posts pending at `cutoff`, kept (as `slot`'s issue, with one) and
    announced; None if there are none. RaceLost if another process wrote first."""
    posts = pending_posts(store, cutoff)
    if not posts:
        return None
    number = next_issue_number(store)
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
    save_issue(store, issue, now, slot)
    send(issue_issued, site, issue=issue, posts=tuple(posts))
    if told:
        told(rendered)
    return issue


@dataclass(frozen=True)
class SlotDecision:
    slot: datetime
    outcome: SlotOutcome
    issue: Issue | None  # made now
    already: bool = False  # decided before this call (`outcome` is that decision)


def decide_slot(site: Site, store: Store, now: datetime) -> SlotDecision:
    """Make the issue of the latest due slot, once; or record why there is none.

    The first slot a site ever sees is the one before it began: recorded, not
    sent, so a new site does not mail last week's posts on its first run. A slot
    older than `digest.late_limit_hours` (postroom was down) is skipped and its
    posts roll into the next issue."""
    config = site.config
    slot = latest_slot(config.digest.schedule, config.tz, now)
    found = slot_outcome(store, slot)
    if found is not None:
        return SlotDecision(slot, found, None, already=True)
    first = not any_slot_decided(store)
    outcome, issue = SlotOutcome.BEFORE_START, None
    try:
        if not first and now - slot > timedelta(hours=config.digest.late_limit_hours):
            outcome = SlotOutcome.LATE
        elif not first:
            issue = _make_issue(site, store, slot, now, slot=slot)
            outcome = SlotOutcome.ISSUED if issue else SlotOutcome.EMPTY
        if issue is None:
            record_slot(store, slot, outcome, now)
    except RaceLost:  # another process decided this slot, or made an issue, first
        return decide_slot(site, store, now)
    return SlotDecision(slot, outcome, issue)
