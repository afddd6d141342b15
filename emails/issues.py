"""Digest issues by membership, not timestamps: what goes in an issue, and which slot
is due.

Issue N holds every published post that is in no earlier issue and was picked
up before N's cut-off. The store's promise of "at most one issue per post"
(store.digests) means back-dated captures, future-dated posts and clock skew can
never send a post twice or never.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from postroom.content.intro import INTRO_PATH, Intro, read_intro
from postroom.core.config import Site
from postroom.core.model import Cadence, Post, ReadError, newest_first
from postroom.core.republish import republish_of
from postroom.core.schedule import latest_slot
from postroom.core.signals import issue_issued, send
from postroom.emails.editions import due_at, plan_issue
from postroom.emails.render import RenderedDigest, render_digest
from postroom.store import Store
from postroom.store.digests import (
    Issue,
    IssueStage,
    RaceLost,
    SlotIssue,
    SlotOutcome,
    any_slot_decided,
    issue_by_number,
    issue_now,
    issue_with_intro,
    issued_post_ids,
    last_issue,
    next_issue_number,
    record_slot,
    save_issue,
    slot_issue,
    unmake_issue,
)
from postroom.store.editions import Plan, next_edition

_LOG = logging.getLogger("postroom.digest")
_AWAITING = frozenset({SlotOutcome.PROOF})  # the slot whose issue decide_slot still needs
_RACES = 3  # issues another process may make while this one makes its own


def pending_posts(store: Store, cutoff: datetime) -> list[Post]:
    """Published posts in no issue yet, picked up before `cutoff`, newest first: by pick-up
    time, then by their own date (`newest_first`), so the lead story (and the subject) is
    the newest of a batch picked up together, not the first by id."""
    taken = issued_post_ids(store)
    found = [p for p in store.posts() if p.id not in taken and p.picked_up <= cutoff]
    return sorted(found, key=newest_first, reverse=True)


def next_intro(site: Site, store: Store) -> tuple[Intro | None, str | None]:
    """The intro (content/_digest/next.md) the next issue carries, and if it carries none
    though the file is there, why (for the log and `digest preview`). An intro is used
    by one issue: the same bytes again (nobody edited it since) are not, so last week's
    words never reach this week's readers by default; editing the file makes it new."""
    try:
        intro = read_intro(site)
    except ReadError as exc:
        return None, f"{INTRO_PATH} not used: {exc}"
    if intro is None:
        return None, None
    if (number := issue_with_intro(store, intro.sha256)) is not None:
        return None, f"{INTRO_PATH} not used: issue {number} had it; edit it for the next issue"
    return intro, None


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
    HTML budget cut, for a person at the terminal); without it, a cut is logged."""
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
    stage: IssueStage = IssueStage.ISSUED,
    told: Callable[[RenderedDigest], None] | None = None,
) -> Issue | None:
    """The issue of the posts pending at `cutoff`, kept (as `slot`'s issue, with one) and,
    once issued, announced; None if there are none. RaceLost if another process wrote
    first. At the PROOF stage it is frozen (posts, rendered parts) but mailed to nobody
    until its slot (`emails.proof`)."""
    posts = pending_posts(store, cutoff)
    if not posts:
        return None
    number = next_issue_number(store)
    intro, why_not = next_intro(site, store)
    if why_not:
        _LOG.warning("digest: issue %d: %s", number, why_not)
    rendered = render_digest(site, number, posts, intro)
    issue = Issue(
        number,
        cutoff.isoformat(),
        now.isoformat(),
        rendered.subject,
        rendered.html,
        rendered.text,
        tuple(p.id for p in posts),
        intro_html=intro.html if intro else "",
        intro_sha256=intro.sha256 if intro else "",
        stage=stage,
        # what each post was shown by: its public page is made again should one narrow
        # (emails.archive_pages); the email sent stays as it was
        rules=tuple(republish_of(site.config, p) for p in posts),
    )
    plan = None
    if stage is IssueStage.ISSUED:
        plan = plan_issue(site, store, issue, posts, due_at(site, slot, now), intro)
    save_issue(store, issue, now, slot, plan)
    if stage is IssueStage.ISSUED:
        send(issue_issued, site, issue=issue, posts=tuple(posts))
    if told:
        told(rendered)
    elif rendered.cut:  # the service's issue: its log says what a person at `send` is told
        _LOG.warning("digest: issue %d: %s", number, rendered.cut_note())
    return issue


def make_proof_issue(site: Site, store: Store, slot: datetime, now: datetime) -> Issue | None:
    """Freeze `slot`'s issue now, for the curator's proof: the posts pending now, rendered
    now, kept as the slot's (outcome PROOF) and queued for nobody yet. Posts picked up
    after this go in the next issue. None if there is nothing new; RaceLost if another
    process decided the slot or made an issue first."""
    return _make_issue(site, store, now, now, slot=slot, stage=IssueStage.PROOF)


def members(store: Store, issue: Issue) -> tuple[Post, ...]:
    """The issue's posts as they are now, in its order (a withdrawn one left out)."""
    wanted = set(issue.post_ids)
    posts = {p.id: p for p in store.posts() if p.id in wanted}
    return tuple(posts[i] for i in issue.post_ids if i in posts)


def announce(site: Site, store: Store, number: int) -> Issue | None:
    """Issue `number` as issued now, announced (`issue_issued`) as a new issue is."""
    issue = issue_by_number(store, number)
    if issue is not None:
        send(issue_issued, site, issue=issue, posts=members(store, issue))
    return issue


@dataclass(frozen=True)
class SlotDecision:
    slot: datetime
    outcome: SlotOutcome
    issue: Issue | None  # made now
    already: bool = False  # decided before this call (`outcome` is that decision)
    noticed: bool = False  # the curator was told of this slot's outcome (emails.proof)


def decide_slot(site: Site, store: Store, now: datetime) -> SlotDecision:
    """Make the issue of the latest due slot, once; or record why there is none.

    The first slot a site ever sees is the one before it began: recorded, not
    sent, so a new site does not mail last week's posts on its first run. A slot
    older than `digest.late_limit_hours` (postroom was down) is skipped and its
    posts roll into the next issue."""
    config = site.config
    slot = latest_slot(config.digest.schedule, config.tz, now)
    found = slot_issue(store, slot, only=_AWAITING)  # the tick's question: no parts read
    if found is not None and found.outcome is SlotOutcome.PROOF and found.issue is not None:
        return _at_slot_after_proof(site, store, found, now)
    if found is not None:
        return SlotDecision(slot, found.outcome, None, already=True, noticed=found.noticed)
    first = not any_slot_decided(store)
    outcome, issue = SlotOutcome.BEFORE_START, None
    try:
        if not first and now - slot > timedelta(hours=config.digest.late_limit_hours):
            outcome = SlotOutcome.LATE
        elif not first:
            issue = _make_issue(site, store, slot, now, slot=slot)
            outcome = SlotOutcome.ISSUED if issue else SlotOutcome.EMPTY
        if issue is None:
            owed = _owed(site, store, slot) if outcome is SlotOutcome.EMPTY else None
            record_slot(store, slot, outcome, now, owed)
    except RaceLost:  # another process decided this slot, or made an issue, first
        return decide_slot(site, store, now)
    return SlotDecision(slot, outcome, issue)


def _owed(site: Site, store: Store, slot: datetime) -> tuple[int, Plan] | None:
    """At a slot with nothing new, the readers due who are still owed posts of issues
    since their last digest (monthly readers, readers just turned weekly), queued on the
    last issue; and the readers off, or paused at this slot, passed over to it, as at a
    slot with an issue (what was owed to them before is not saved up)."""
    due = due_at(site, slot)
    if (last := last_issue(store)) is None:
        return None
    # weekly readers too: one who was monthly (or whose choice changed as the last issue
    # was queued) is owed posts now, not at the next slot that has something new
    plan = plan_issue(site, store, last, (), due, first_edition=next_edition(store, last.number))
    return last.number, plan  # with no group: readers off or paused now passed over


def issue_waiting(
    site: Site, store: Store, slot: datetime, number: int, now: datetime,
    sources: tuple[SlotOutcome, ...],
) -> bool:  # fmt: skip
    """Issue `slot`'s frozen issue `number` now (store.digests.issue_now), queued for the
    readers due at `slot` as they chose; False if the slot was no longer in `sources`."""
    found = slot_issue(store, slot)
    if found is None or found.issue is None or found.issue.number != number:
        return False
    due = due_at(site, slot, now)
    if (last := last_issue(store)) is not None and last.number > number:
        # sent after a later issue went out: every reader (monthly ones too, whatever
        # the slot) gets its posts now, as `served` past it cannot carry them to later;
        # paused or not as they are now (a pause then has ended since), and one paused
        # now is left as they are, not passed over
        cadences = frozenset({Cadence.WEEKLY, Cadence.MONTHLY})
        due = replace(due, cadences=cadences, slot=now, skip_paused=False)
    plan = plan_issue(site, store, found.issue, members(store, found.issue), due)
    return issue_now(store, slot, number, now, sources, plan)


def _at_slot_after_proof(site: Site, store: Store, found: SlotIssue, now: datetime) -> SlotDecision:
    """The slot's time has come for the issue frozen at its proof: issued now, as the
    proof showed it; or, found later than `digest.late_limit_hours`, unmade like any late
    slot's (its posts roll into the next issue)."""
    assert found.issue is not None
    slot, number = found.slot, found.issue.number
    if now - slot > timedelta(hours=site.config.digest.late_limit_hours):
        if unmake_issue(store, slot, number, (SlotOutcome.PROOF,), SlotOutcome.LATE):
            return SlotDecision(slot, SlotOutcome.LATE, None)
    elif issue_waiting(site, store, slot, number, now, (SlotOutcome.PROOF,)):
        return SlotDecision(slot, SlotOutcome.ISSUED, announce(site, store, number))
    return decide_slot(site, store, now)  # the curator (or another process) moved it first
