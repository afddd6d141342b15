"""The delivery ledger: one row per (issue, subscriber), and the moves between its states.

    pending -> sending -> sent | deferred (until) -> sending ... | failed
    pending | deferred -> skipped (the subscriber left, or was removed)

"sending" is committed before the message's DATA and "sent" after the server's
250, so after a crash the only rows in doubt are those still "sending": at most
one per open connection. They are sent again with the same Message-ID.
Claiming is one UPDATE on the row, so two connections never take the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, and_, func, insert, literal, select, true, update

from store import Store
from store.schema import outbox, subscribers


class State(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Claim:
    """A row taken for sending: who, and how many tries including this one."""

    issue: int
    subscriber_id: int
    address: str
    name: str
    attempts: int


def queue(conn: Connection, issue: int, now: datetime) -> int:
    """One pending row for every active subscriber, in the transaction that makes the issue,
    so the issue and its recipient list exist together or not at all."""
    chosen = select(
        literal(issue),
        subscribers.c.id,
        subscribers.c.address,
        literal(State.PENDING.value),
        literal(0),
        literal(""),
        literal(""),
        literal(""),
        literal(now.isoformat()),
    ).where(subscribers.c.status == "active")
    columns = ["issue", "subscriber_id", "address", "state", "attempts"]
    columns += ["not_before", "claimed_by", "reply", "updated_at"]
    return conn.execute(insert(outbox).from_select(columns, chosen)).rowcount


def _still_theirs():
    """The row's subscriber is still active at the queued address."""
    return (
        select(subscribers.c.id)
        .where(
            subscribers.c.id == outbox.c.subscriber_id,
            subscribers.c.address == outbox.c.address,
            subscribers.c.status == "active",
        )
        .exists()
    )


class Outbox:
    def __init__(self, store: Store, holder: str) -> None:
        self.engine, self.holder = store.engine, holder

    def claim(self, issue: int, now: datetime) -> Claim | None:
        """Take the next row to send (pending first, then deferred rows that are due)."""
        stamp = now.isoformat()
        for state, due in (
            (State.PENDING, true()),
            (State.DEFERRED, outbox.c.not_before <= stamp),
        ):
            subquery = (
                select(outbox.c.subscriber_id)
                .where(outbox.c.issue == issue, outbox.c.state == state.value, due, _still_theirs())
                .limit(1)
                .scalar_subquery()
            )
            with self.engine.begin() as conn:
                row = conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.issue == issue,
                        outbox.c.subscriber_id == subquery,
                        outbox.c.state == state.value,
                    )
                    .values(
                        state=State.SENDING.value,
                        attempts=outbox.c.attempts + 1,
                        claimed_by=self.holder,
                        updated_at=stamp,
                    )
                    .returning(outbox.c.subscriber_id, outbox.c.address, outbox.c.attempts)
                ).first()
                if row is None:
                    continue
                name = conn.execute(
                    select(subscribers.c.name).where(subscribers.c.id == row.subscriber_id)
                ).scalar()
            return Claim(issue, row.subscriber_id, row.address, name or "", row.attempts)
        return None

    def _finish(self, claim: Claim, now: datetime, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(
                    outbox.c.issue == claim.issue,
                    outbox.c.subscriber_id == claim.subscriber_id,
                    outbox.c.state == State.SENDING.value,
                    outbox.c.claimed_by == self.holder,
                )
                .values(updated_at=now.isoformat(), **values)
            )

    def sent(self, claim: Claim, reply: str, now: datetime) -> None:
        self._finish(claim, now, state=State.SENT.value, code=int(reply[:3]), reply=reply)

    def defer(self, claim: Claim, code: int, reply: str, until: datetime, now: datetime) -> None:
        self._finish(
            claim,
            now,
            state=State.DEFERRED.value,
            code=code,
            reply=reply,
            not_before=until.isoformat(),
        )

    def fail(self, claim: Claim, code: int, reply: str, now: datetime, bounce: bool) -> None:
        """A permanent failure; with `bounce` the subscriber is marked bounced too."""
        self._finish(claim, now, state=State.FAILED.value, code=code, reply=reply)
        if bounce:
            with self.engine.begin() as conn:
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == claim.subscriber_id)
                    .values(status="bounced", updated_at=now.isoformat())
                )

    def release(self, claim: Claim, now: datetime) -> None:
        """Back to pending: the connection went before the message was accepted."""
        self._finish(claim, now, state=State.PENDING.value)

    def recover(self, issue: int, now: datetime) -> int:
        """Rows left "sending" by a sender that died: send them again. Only the lease
        holder calls this, so no live sender owns them."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(outbox)
                .where(outbox.c.issue == issue, outbox.c.state == State.SENDING.value)
                .values(state=State.PENDING.value, updated_at=now.isoformat())
            ).rowcount

    def skip_departed(self, issue: int, now: datetime) -> int:
        """Rows still to send whose subscriber left: skipped, never sent."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(outbox)
                .where(
                    outbox.c.issue == issue,
                    outbox.c.state.in_([State.PENDING.value, State.DEFERRED.value]),
                    ~_still_theirs(),
                )
                .values(state=State.SKIPPED.value, reply="unsubscribed", updated_at=now.isoformat())
            ).rowcount

    def counts(self) -> dict[int, dict[State, int]]:
        """Per issue, how many rows are in each state (states with none are left out)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.issue, outbox.c.state, func.count()).group_by(
                    outbox.c.issue, outbox.c.state
                )
            ).all()
        out: dict[int, dict[State, int]] = {}
        for issue, state, n in rows:
            out.setdefault(issue, {})[State(state)] = n
        return out

    def unfinished(self) -> list[int]:
        """Issues with rows still to send (pending, in flight, or deferred)."""
        waiting = [State.PENDING.value, State.SENDING.value, State.DEFERRED.value]
        with self.engine.connect() as conn:
            found = conn.execute(
                select(outbox.c.issue).where(outbox.c.state.in_(waiting)).distinct()
            ).scalars()
            return sorted(found)

    def due(self, issue: int, now: datetime) -> bool:
        """Whether `issue` has a row to send now: pending, in flight at a crash, or deferred
        and due. A sender with nothing due does not open a connection."""
        waiting = [State.PENDING.value, State.SENDING.value]
        due = outbox.c.state.in_(waiting) | (
            (outbox.c.state == State.DEFERRED.value) & (outbox.c.not_before <= now.isoformat())
        )
        with self.engine.connect() as conn:
            found = select(outbox.c.subscriber_id).where(outbox.c.issue == issue, due).limit(1)
            return conn.execute(found).first() is not None

    def next_retry(self, issue: int) -> str | None:
        """When the earliest deferred row of `issue` is due, if any."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.min(outbox.c.not_before)).where(
                    and_(outbox.c.issue == issue, outbox.c.state == State.DEFERRED.value)
                )
            ).scalar()
