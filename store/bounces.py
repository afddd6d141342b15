"""Reports that came back after sending, as kept: each matched report once, what it did
to its subscriber and the suppression list, and the pause it may put on sending.

A hard bounce marks the subscriber `bounced`, a complaint `complained`; both put the
address on the suppression list (store.holds). A soft bounce is only counted.
When an issue's hard bounces or complaints pass their share of the messages attempted,
sending pauses (a `bounce_pauses` row) until `postroom digest resume`; senders ask
store.holds before each claim (store.outbox), so a send in progress stops too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from postroom.store import Store
from postroom.store.consent import Event, How
from postroom.store.consent import record as record_event
from postroom.store.holds import Pause, insert_new, paused_in, suppress
from postroom.store.outbox import State
from postroom.store.schema import bounce_pauses, bounce_reports, outbox, subscribers
from postroom.store.subscribers import Status
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError


class Kind(StrEnum):
    HARD = "hard"  # a permanent failure (5.x.x): the address is dead
    SOFT = "soft"  # a delay or temporary failure (4.x.x): counted only
    COMPLAINT = "complaint"  # the recipient reported the digest as spam (ARF "abuse")


@dataclass(frozen=True)
class Matched:
    """A report matched to a message we sent: which issue, to whom."""

    key: str  # the report's identity: a report is recorded once
    issue: int
    subscriber_id: int
    address: str  # the address the message went to
    kind: Kind
    status: str = ""  # RFC 3463 code, "5.1.1"
    detail: str = ""


@dataclass(frozen=True)
class Limits:
    """mail.pause_bounce_rate and mail.pause_complaint_rate: shares of those attempted."""

    hard: float
    complaint: float


# ledger states of a message tried at least once
_ATTEMPTED = [s.value for s in (State.SENT, State.FAILED, State.DEFERRED, State.SENDING)]


def sent_to(store: Store, issue: int) -> list[tuple[int, str]]:
    """(subscriber id, address) of every message of `issue` a server accepted."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.subscriber_id, outbox.c.address).where(
                outbox.c.issue == issue, outbox.c.state == State.SENT.value
            )
        ).all()
    return [(r.subscriber_id, r.address) for r in rows]


def record(
    store: Store, report: Matched, limits: Limits, now: datetime
) -> tuple[bool, Pause | None]:
    """Keep `report` and act on it, in one transaction: (False, None) if it was recorded
    before; else True and the pause it caused (None if it caused none)."""
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(bounce_reports).values(
                    report_key=report.key,
                    issue=report.issue,
                    subscriber_id=report.subscriber_id,
                    kind=report.kind.value,
                    status=report.status[:20],
                    detail=report.detail[:1000],
                    received_at=now.isoformat(),
                )
            )
            if report.kind is Kind.HARD:
                _mark(conn, report, Status.BOUNCED, now)
            elif report.kind is Kind.COMPLAINT:
                _mark(conn, report, Status.COMPLAINED, now)
            return True, _pause_if_over(conn, report.issue, limits, now)
    except IntegrityError:  # recorded already (this run or another reader's)
        return False, None


def _mark(conn: Connection, report: Matched, status: Status, now: datetime) -> None:
    """The subscriber gets `status` (a complaint is never turned back into a bounce), and
    the address goes on the suppression list, even if the row has been removed."""
    who = subscribers.c.id == report.subscriber_id
    if status is Status.BOUNCED:
        who = who & (subscribers.c.status != Status.COMPLAINED.value)
    stamp = now.isoformat(timespec="microseconds")
    changed = conn.execute(
        update(subscribers)
        .where(who, subscribers.c.status != status.value)
        .values(status=status.value, updated_at=stamp)
        .returning(subscribers.c.address_key)
    )
    # the consent record says what the report did, and how it came: by email
    detail = {"how": How.EMAIL.value, "status": status.value, "issue": report.issue}
    record_event(conn, list(changed.scalars()), Event.STATUS, stamp, detail)
    suppress(conn, report.address.lower(), status.value, now)


def _pause_if_over(conn: Connection, issue: int, limits: Limits, now: datetime) -> Pause | None:
    """Pause sending when `issue`'s hard bounces or complaints have passed their limit;
    an issue pauses sending once (a resumed pause is not made again by the same issue)."""
    if conn.execute(select(bounce_pauses.c.issue).where(bounce_pauses.c.issue == issue)).first():
        return None
    attempted = conn.execute(
        select(func.count()).where(outbox.c.issue == issue, outbox.c.state.in_(_ATTEMPTED))
    ).scalar()
    if not attempted:
        return None
    counts = _kinds(conn, issue)
    reason = ""
    for kind, limit, what in (
        (Kind.HARD, limits.hard, "hard bounces"),
        (Kind.COMPLAINT, limits.complaint, "complaints"),
    ):
        n = counts.get(kind, 0)
        if n / attempted > limit:
            reason = (
                f"issue {issue}: {n} {what} of {attempted} attempted ({n / attempted:.1%})"
                f" passed the limit of {limit:.1%}"
            )
            break
    if not reason:
        return None
    pause = Pause(issue, reason, now.isoformat())
    values = {"issue": issue, "reason": reason, "paused_at": pause.paused_at}
    # another reader may pause it at the same moment: its pause stands, this report too
    return pause if insert_new(conn, bounce_pauses, "issue", **values) else None


def _kinds(conn: Connection, issue: int | None = None) -> dict:
    query = select(bounce_reports.c.issue, bounce_reports.c.kind, func.count()).group_by(
        bounce_reports.c.issue, bounce_reports.c.kind
    )
    if issue is not None:
        query = query.where(bounce_reports.c.issue == issue)
    out: dict[int, dict[Kind, int]] = {}
    for number, kind, n in conn.execute(query):
        out.setdefault(number, {})[Kind(kind)] = n
    return out.get(issue, {}) if issue is not None else out


def counts(store: Store) -> dict[int, dict[Kind, int]]:
    """Per issue, how many reports of each kind were recorded (kinds with none left out)."""
    with store.engine.connect() as conn:
        return _kinds(conn)


def paused(store: Store) -> Pause | None:
    with store.engine.connect() as conn:
        return paused_in(conn)


def pauses(store: Store) -> dict[int, Pause]:
    """Every pause not resumed, by the issue that caused it."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(bounce_pauses).where(bounce_pauses.c.resumed_at == "")).all()
    return {r.issue: Pause(r.issue, r.reason, r.paused_at) for r in rows}


def resume(store: Store, now: datetime) -> list[Pause]:
    """Lift every pause; the pauses lifted (none: sending was not paused)."""
    with store.engine.begin() as conn:
        held = conn.execute(select(bounce_pauses).where(bounce_pauses.c.resumed_at == "")).all()
        conn.execute(
            update(bounce_pauses)
            .where(bounce_pauses.c.resumed_at == "")
            .values(resumed_at=now.isoformat())
        )
    return [Pause(r.issue, r.reason, r.paused_at) for r in held]
