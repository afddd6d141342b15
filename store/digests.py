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

from postroom.core.model import Republish
from postroom.store import Store
from postroom.store.editions import Plan, queue_plan
from postroom.store.schema import digest_issues, digest_posts, digest_slots
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError


class SlotOutcome(StrEnum):
    """How a slot was decided; kept in `digest_slots.outcome` and shown as is."""

    ISSUED = "issued"
    EMPTY = "empty"  # nothing new since the last issue
    LATE = "late"  # found too long after its time: its posts roll into the next issue
    BEFORE_START = "before-start"  # the slot before the site's first: never mailed
    # with proofs (emails.proof): the issue frozen for the curator before the slot, then
    # issued at it; or held by the curator (not mailed until sent by hand); or skipped by
    # the curator (the issue unmade: its posts roll into the next)
    PROOF = "proof"
    HELD = "held"
    SKIPPED = "skipped"


class IssueStage(StrEnum):
    """Whether an issue is mailed yet; kept in `digest_issues.proof_stage`. Only an issued
    one has recipients, an archive page and a place in `all_issues`."""

    ISSUED = "issued"
    PROOF = "proof"  # frozen for the curator's proof, waiting for its slot
    HELD = "held"  # the curator held it: waits for "Send now" or `digest send`


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
    stage: IssueStage = IssueStage.ISSUED
    # the republishing rule each post (in `post_ids`' order) was shown by when the issue
    # was frozen; None where it was not recorded (an issue made before schema version 10,
    # or given none): its public page follows the posts' rules as they are now
    rules: tuple[Republish | None, ...] = ()


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


def save_issue(
    store: Store,
    issue: Issue,
    now: datetime,
    slot: datetime | None,
    plan: Plan | None,
) -> int:
    """Keep `issue` with its posts and its readers' ledger rows as `plan` has them (an issue
    at the PROOF stage has none: nobody is queued until its slot), in one transaction
    (with `slot`, recorded as that slot's issue in it too), so an issue and its
    recipients exist together or not at all; how many rows were queued. Raises
    RaceLost if another process took the number, a post or the slot first.

    An issue at the PROOF stage is kept with its posts and its slot (outcome PROOF) but
    queued for nobody: `issue_now` does that at its slot, or when the curator says so."""
    proof = issue.stage is IssueStage.PROOF
    try:
        with store.engine.begin() as conn:
            if slot is not None:  # first: a slot already decided costs no other write
                outcome = SlotOutcome.PROOF if proof else SlotOutcome.ISSUED
                _insert_slot(conn, slot, outcome, now, issue.number)
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
                    proof_stage=issue.stage.value,
                )
            )
            conn.execute(
                insert(digest_posts),
                [
                    {
                        "issue": issue.number,
                        "post_id": post_id,
                        "position": i,
                        "republish": rule.value if (rule := _rule(issue, i)) else None,
                    }
                    for i, post_id in enumerate(issue.post_ids)
                ],
            )
            return queue_plan(conn, issue.number, now, plan) if plan and not proof else 0
    except IntegrityError as exc:
        raise RaceLost(f"issue {issue.number}: another process made it first") from exc


def _rule(issue: Issue, i: int) -> Republish | None:
    return issue.rules[i] if i < len(issue.rules) else None


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


def record_slot(
    store: Store,
    slot: datetime,
    outcome: SlotOutcome,
    now: datetime,
    owed: tuple[int, Plan] | None = None,
) -> int:
    """`slot` decided without a new issue (`outcome`); RaceLost if it was decided already.
    `owed`: (the last issue, the plan of its readers due now who are still owed posts:
    monthly readers at a slot with nothing new), queued in the same transaction; how
    many rows that queued."""
    try:
        with store.engine.begin() as conn:
            _insert_slot(conn, slot, outcome, now, None)
            return queue_plan(conn, owed[0], now, owed[1]) if owed else 0
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


def _read_issues(
    store: Store, number: int | None = None, stages: tuple[IssueStage, ...] = (IssueStage.ISSUED,)
) -> list[Issue]:
    """Issues at `stages` in order, with their posts in order; only issue `number` when
    given."""
    issues, posts = select(digest_issues), select(digest_posts)
    issues = issues.where(digest_issues.c.proof_stage.in_([s.value for s in stages]))
    if number is not None:
        issues = issues.where(digest_issues.c.number == number)
        posts = posts.where(digest_posts.c.issue == number)
    with store.engine.connect() as conn:
        members: dict[int, list[str]] = {}
        rules: dict[int, list[Republish | None]] = {}
        for row in conn.execute(posts.order_by(digest_posts.c.position)):
            members.setdefault(row.issue, []).append(row.post_id)
            rules.setdefault(row.issue, []).append(_recorded(row.republish))
        rows = conn.execute(issues.order_by(digest_issues.c.number)).all()
    return [
        Issue(r.number, r.cutoff, r.created_at, r.subject, r.html, r.text,
              tuple(members.get(r.number, ())), bool(r.released_at), r.intro_html,
              r.intro_sha256, IssueStage(r.proof_stage), tuple(rules.get(r.number, ())))
        for r in rows
    ]  # fmt: skip


def _recorded(value: str | None) -> Republish | None:
    """A kept rule; None for none (NULL) or one this postroom does not know."""
    return Republish(value) if value in tuple(Republish) else None


def issue_with_intro(store: Store, sha256: str) -> int | None:
    """The first issue introduced by the intro file with these bytes, or None."""
    with store.engine.connect() as conn:
        return conn.execute(
            select(func.min(digest_issues.c.number)).where(digest_issues.c.intro_sha256 == sha256)
        ).scalar()


def all_issues(store: Store) -> list[Issue]:
    """Every issued issue (mailed, or being mailed), oldest first."""
    return _read_issues(store)


def last_issue(store: Store) -> Issue | None:
    """The last issued issue, if any."""
    with store.engine.connect() as conn:
        number = conn.execute(
            select(func.max(digest_issues.c.number)).where(
                digest_issues.c.proof_stage == IssueStage.ISSUED.value
            )
        ).scalar()
    return None if number is None else issue_by_number(store, number)


def issue_by_number(store: Store, number: int) -> Issue | None:
    """Issue `number`, if it is issued."""
    return next(iter(_read_issues(store, number)), None)


_WAITING = (IssueStage.PROOF, IssueStage.HELD)


def waiting_issues(store: Store) -> list[Issue]:
    """Issues frozen but not issued: awaiting their slot after a proof, or held."""
    return _read_issues(store, stages=_WAITING)


@dataclass(frozen=True)
class SlotIssue:
    """A slot as decided, with its issue (an issue at any stage), if it has one."""

    slot: datetime
    outcome: SlotOutcome
    issue: Issue | None
    proof_sent_at: str  # when the issue's proof went out ("" if it has not)
    noticed: bool  # the curator was told of this slot's outcome


def slot_issue(
    store: Store, slot: datetime, only: frozenset[SlotOutcome] | None = None
) -> SlotIssue | None:
    """`slot` as decided, with its issue (read only for an outcome in `only`, when given:
    the digest job asks at every tick, and needs the issue of a slot awaiting its time
    alone, not an issued one's parts); None while it is undecided."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(
                digest_slots.c.outcome,
                digest_slots.c.issue,
                digest_slots.c.proof_notice_at,
                digest_issues.c.proof_sent_at,
            )
            .outerjoin(digest_issues, digest_issues.c.number == digest_slots.c.issue)
            .where(digest_slots.c.slot == _key(slot))
        ).first()
    if row is None:
        return None
    stages = (IssueStage.ISSUED, *_WAITING)
    outcome = SlotOutcome(row.outcome)
    wanted = row.issue is not None and (only is None or outcome in only)
    issue = next(iter(_read_issues(store, row.issue, stages)), None) if wanted else None
    return SlotIssue(slot, outcome, issue, row.proof_sent_at or "", bool(row.proof_notice_at))


def slots_of_waiting_issues(store: Store) -> dict[int, datetime]:
    """The slot of every issue awaiting its slot or held, by issue number."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(digest_slots.c.issue, digest_slots.c.slot).where(
                digest_slots.c.outcome.in_([SlotOutcome.PROOF.value, SlotOutcome.HELD.value])
            )
        ).all()
    return {r.issue: datetime.fromisoformat(r.slot) for r in rows}


def _move_slot(
    conn: Connection, slot: datetime, number: int, sources: tuple[SlotOutcome, ...], to: SlotOutcome
) -> bool:
    """Compare and set: `slot` (whose issue is `number`) from one of `sources` to `to`;
    False if another process (or an earlier answer) moved it first."""
    moved = conn.execute(
        update(digest_slots)
        .where(
            digest_slots.c.slot == _key(slot),
            digest_slots.c.issue == number,
            digest_slots.c.outcome.in_([s.value for s in sources]),
        )
        .values(outcome=to.value)
    )
    return moved.rowcount == 1


def issue_now(
    store: Store,
    slot: datetime,
    number: int,
    now: datetime,
    sources: tuple[SlotOutcome, ...],
    plan: Plan,
) -> bool:
    """Issue `slot`'s frozen issue `number` (from a slot outcome in `sources`): queued for
    its readers as `plan` has them (emails.editions), dated now,
    its rendered parts as the proof showed them; all in one transaction. False if the
    slot was no longer in `sources`."""
    with store.engine.begin() as conn:
        if not _move_slot(conn, slot, number, sources, SlotOutcome.ISSUED):
            return False
        conn.execute(
            update(digest_issues)
            .where(digest_issues.c.number == number)
            .values(proof_stage=IssueStage.ISSUED.value, created_at=now.isoformat())
        )
        queue_plan(conn, number, now, plan)
    return True


def hold_issue(store: Store, slot: datetime, number: int) -> bool:
    """The curator held `slot`'s issue before its time; False if it was not awaiting it."""
    with store.engine.begin() as conn:
        if not _move_slot(conn, slot, number, (SlotOutcome.PROOF,), SlotOutcome.HELD):
            return False
        conn.execute(
            update(digest_issues)
            .where(digest_issues.c.number == number)
            .values(proof_stage=IssueStage.HELD.value)
        )
    return True


def unmake_issue(
    store: Store,
    slot: datetime,
    number: int,
    sources: tuple[SlotOutcome, ...],
    to: SlotOutcome,
) -> bool:
    """`slot` decided as `to` (skipped, late) and its unissued issue `number` unmade, its
    posts free for the next issue; False if the slot was no longer in `sources`."""
    with store.engine.begin() as conn:
        if not _move_slot(conn, slot, number, sources, to):
            return False
        conn.execute(
            update(digest_slots).where(digest_slots.c.slot == _key(slot)).values(issue=None)
        )
        conn.execute(delete(digest_posts).where(digest_posts.c.issue == number))
        conn.execute(
            delete(digest_issues).where(
                digest_issues.c.number == number,
                digest_issues.c.proof_stage != IssueStage.ISSUED.value,
            )
        )
    return True


def any_unreleased(store: Store) -> bool:
    """Whether an issued issue waits for its archive page (made by another process, say
    by the curator's "Send now" on the web)."""
    with store.engine.connect() as conn:
        found = select(digest_issues.c.number).where(
            digest_issues.c.released_at == "",
            digest_issues.c.proof_stage == IssueStage.ISSUED.value,
        )
        return conn.execute(found.limit(1)).first() is not None


def mark_proof_sent(store: Store, number: int, now: datetime) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(digest_issues)
            .where(digest_issues.c.number == number)
            .values(proof_sent_at=now.isoformat())
        )


def claim_notice(store: Store, slot: datetime, now: datetime) -> bool:
    """Take the telling of the curator about `slot` (skipped); False if it was taken."""
    with store.engine.begin() as conn:
        taken = conn.execute(
            update(digest_slots)
            .where(digest_slots.c.slot == _key(slot), digest_slots.c.proof_notice_at == "")
            .values(proof_notice_at=now.isoformat())
        )
    return taken.rowcount == 1


def release_notice(store: Store, slot: datetime) -> None:
    """The notice of `slot` could not be sent: the next run tries again."""
    with store.engine.begin() as conn:
        conn.execute(
            update(digest_slots).where(digest_slots.c.slot == _key(slot)).values(proof_notice_at="")
        )


def release(store: Store, numbers: list[int], now: datetime) -> None:
    """Let senders mail these issues: called once their archive pages are written."""
    with store.engine.begin() as conn:
        conn.execute(
            update(digest_issues)
            .where(digest_issues.c.number.in_(numbers), digest_issues.c.released_at == "")
            .values(released_at=now.isoformat())
        )
