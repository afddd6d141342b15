"""The delivery ledger: one row per (issue, subscriber), and the moves between its states.

    pending -> sending -> sent | deferred (until) -> sending ... | failed
    pending | deferred -> skipped (the subscriber left, or was removed)

A failure may also mark its subscriber bounced (`Outbox.bounce`, through the
subscriber list); the row is "failed" either way. Which refusals fail, bounce or
wait how long is the sender's policy (emails.delivery), not the ledger's.

"sending" is committed (in a claimed batch) before the message's DATA and "sent"
after the server's 250, one row at a time, so after a crash the only rows in
doubt are those still "sending", and of those only one per open connection can
have reached the server: the first of its batch. All go back to pending and are
sent again with the same Message-ID; only those first ones count as resent.

"sent" is the one write per message, so it is the one made cheap (`Outbox.sent`):
a statement compiled once per database dialect, run on a pooled DBAPI connection
and committed at once. It is still one commit per message, never a group: a group
of k marks committed after k messages would leave up to k accepted rows per
connection "sending" at a kill, each sent again. On SQLite (WAL, synchronous=NORMAL:
store.Store) that commit is a write() into the WAL file with no fsync, which a
kill -9 of the process cannot undo (the kernel has the bytes); only an OS crash or a
power cut can lose the last marks, as it could before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from postroom.core.process import holder_gone
from postroom.store import Store
from postroom.store.consent import How
from postroom.store.holds import paused_in
from postroom.store.schema import outbox, subscribers
from postroom.store.subscribers import Status, SubscriberList
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    select,
    tuple_,
    update,
)


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
    edition: int = 0  # which rendering of the issue (store.editions)


def queue_rows(
    conn: Connection, issue: int, now: datetime, who: ColumnElement[bool], edition: int = 0
) -> int:
    """A pending row of `issue` at `edition` for each subscriber `who` names, written by
    one INSERT ... SELECT (no subscriber goes through Python); how many."""
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
        literal(edition),
    ).where(who)
    columns = ["issue", "subscriber_id", "address", "state", "attempts"]
    columns += ["not_before", "claimed_by", "reply", "updated_at", "edition"]
    return conn.execute(insert(outbox).from_select(columns, chosen)).rowcount


def _pending() -> ColumnElement[bool]:
    return outbox.c.state == State.PENDING.value


def _due(stamp: str) -> ColumnElement[bool]:
    """Deferred rows whose wait is over at `stamp`."""
    return (outbox.c.state == State.DEFERRED.value) & (outbox.c.not_before <= stamp)


def _ready(stamp: str) -> ColumnElement[bool]:
    """Rows to send at `stamp`: pending, or deferred and due."""
    return _pending() | _due(stamp)


def _still_theirs(per_row: bool = False) -> ColumnElement[bool]:
    """The row's subscriber is still active at the queued address. `per_row`: checked row
    by row through the subscribers' key (OFFSET 0 keeps PostgreSQL from turning it into
    a join over every subscriber), for a claim that stops after a few rows."""
    theirs = select(subscribers.c.id).where(
        subscribers.c.id == outbox.c.subscriber_id,
        subscribers.c.address == outbox.c.address,
        subscribers.c.status == Status.ACTIVE.value,
    )
    return (theirs.offset(literal_column("0")) if per_row else theirs).exists()


# The hot write: this sender's row of (issue, subscriber), still "sending", settled as
# sent. Bound by name, compiled once per dialect (sent_statement) and run without
# SQLAlchemy's per-execution work: building the statement and its cache key, a pooled
# Connection and its transaction were three quarters of a mark's CPU.
_SENT = (
    update(outbox)
    .where(
        outbox.c.issue == bindparam("k_issue"),
        outbox.c.subscriber_id == bindparam("k_subscriber"),
        outbox.c.state == bindparam("k_sending"),
        outbox.c.claimed_by == bindparam("k_holder"),
    )
    .values(
        state=bindparam("v_state"),
        code=bindparam("v_code"),
        reply=bindparam("v_reply"),
        updated_at=bindparam("v_updated"),
    )
)
_COMPILED: dict[str, tuple[str, tuple[str, ...] | None]] = {}


def sent_statement(engine: Engine) -> tuple[str, tuple[str, ...] | None]:
    """(SQL in the driver's own paramstyle, the bind names in order for a positional
    style, or None for a named one) of the sent mark, compiled once per dialect."""
    dialect = engine.dialect
    key = f"{dialect.name}+{dialect.driver}"
    if key not in _COMPILED:
        compiled = _SENT.compile(dialect=dialect)
        order = compiled.positiontup if compiled.positional else None
        _COMPILED[key] = (compiled.string, tuple(order) if order is not None else None)
    return _COMPILED[key]


class Outbox:
    """The ledger as one sender process sees it; `holder` (host:pid) names the process.

    Rows are claimed in batches: `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL,
    so any number of senders on any machines take disjoint rows without waiting
    for each other (SQLite runs the whole UPDATE under its single write lock). A
    batch carries a lease the sender renews while it lives; rows whose lease has
    lapsed, or whose holder is a dead process on this host, go back to pending.
    """

    def __init__(self, store: Store, holder: str, lease: timedelta = timedelta(seconds=60)) -> None:
        self.engine, self.holder, self.lease = store.engine, holder, lease
        self.subscribers = SubscriberList(store)

    def claim(self, issue: int, now: datetime, size: int = 1) -> list[Claim]:
        """Take up to `size` rows to send: pending ones first, then deferred ones now due;
        none while sending is paused (too many bounces or complaints: store.holds)."""
        with self.engine.begin() as conn:
            if paused_in(conn) is not None:
                return []
            rows = self._take(conn, issue, _pending(), size, now)
            if len(rows) < size:
                rows += self._take(conn, issue, _due(now.isoformat()), size - len(rows), now)
            if not rows:
                return []
            names = dict(
                conn.execute(
                    select(subscribers.c.id, subscribers.c.name).where(
                        subscribers.c.id.in_([r.subscriber_id for r in rows])
                    )
                ).all()
            )
        rows.sort(key=lambda r: r.subscriber_id)
        return [
            Claim(
                issue,
                r.subscriber_id,
                r.address,
                names.get(r.subscriber_id) or "",
                r.attempts,
                r.edition,
            )
            for r in rows
        ]

    def _take(
        self, conn: Connection, issue: int, ready: ColumnElement[bool], size: int, now: datetime
    ) -> list:
        """Mark up to `size` `ready` rows of `issue` as this sender's, in subscriber order.
        One state at a time reads one ordered range of the outbox_work index and stops after
        `size` rows; pending-or-deferred together made PostgreSQL fetch and sort every row
        still waiting, each claim (17 ms a claim at 5,000 recipients, growing with the
        list; now under 1 ms). A CTE that locks is run once (PostgreSQL never inlines it);
        a plain IN (subquery) was planned on a fresh table as a nested loop re-locking the
        rows for each row."""
        stamp = now.isoformat()
        chosen = (
            select(outbox.c.issue, outbox.c.subscriber_id)
            .where(outbox.c.issue == issue, ready, _still_theirs(per_row=True))
            .order_by(outbox.c.subscriber_id)
            # written out, not a parameter: a prepared statement's generic plan guesses
            # 10% of the table for LIMIT $n and hash-joins the whole outbox to it
            .limit(literal_column(str(int(size))))
            .with_for_update(skip_locked=True, of=outbox)
            .cte("chosen")
        )
        return list(
            conn.execute(
                # joined on the whole key, one unique row each whatever the statistics say
                # of a table just filled; the chosen rows are locked (PostgreSQL rechecks
                # `ready` as it locks them; SQLite runs the statement under its write
                # lock), so `ready` is not tested again: that made PostgreSQL scan every
                # waiting row for each claim
                update(outbox)
                .where(
                    outbox.c.issue == chosen.c.issue,
                    outbox.c.subscriber_id == chosen.c.subscriber_id,
                )
                .values(
                    state=State.SENDING.value,
                    attempts=outbox.c.attempts + 1,
                    claimed_by=self.holder,
                    lease_until=(now + self.lease).isoformat(),
                    updated_at=stamp,
                )
                .returning(
                    outbox.c.subscriber_id, outbox.c.address, outbox.c.attempts, outbox.c.edition
                )
            ).all()
        )

    def renew(self, now: datetime) -> int:
        """Extend the lease on every row this sender has in hand."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(outbox)
                .where(outbox.c.state == State.SENDING.value, outbox.c.claimed_by == self.holder)
                .values(lease_until=(now + self.lease).isoformat())
            ).rowcount

    def reclaim(self, now: datetime) -> int:
        """Rows left "sending" by a sender that is gone (its lease lapsed, or it was a
        process on this host that no longer exists) go back to pending. Returns how many of
        them may have reached the server, and so go twice (with the same Message-ID): a
        connection tries its batch in subscriber order and records each row's outcome before the
        next, so of a batch still "sending" (its rows share the claim's holder and stamp)
        only the first can have been in flight. The others were never tried: their claim
        is not counted as a try."""
        stamp = now.isoformat()
        sending = outbox.c.state == State.SENDING.value
        with self.engine.connect() as conn:  # a read alone: the write below starts its own
            holders = conn.execute(
                select(outbox.c.claimed_by).where(sending, outbox.c.lease_until >= stamp).distinct()
            ).scalars()
            dead = [h for h in holders if h != self.holder and holder_gone(h)]
        gone = (outbox.c.lease_until < stamp) | outbox.c.claimed_by.in_(dead)
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(outbox)
                .where(sending, gone)
                .values(state=State.PENDING.value, lease_until="")
                .returning(
                    outbox.c.issue, outbox.c.subscriber_id, outbox.c.claimed_by, outbox.c.updated_at
                )
            ).all()
            if not taken:
                return 0
            first: dict[tuple[int, str, str], int] = {}
            for r in taken:
                batch = (r.issue, r.claimed_by, r.updated_at)
                first[batch] = min(first.get(batch, r.subscriber_id), r.subscriber_id)
            untried = [
                (r.issue, r.subscriber_id)
                for r in taken
                if first[(r.issue, r.claimed_by, r.updated_at)] != r.subscriber_id
            ]
            key = tuple_(outbox.c.issue, outbox.c.subscriber_id)
            every = [(r.issue, r.subscriber_id) for r in taken]
            conn.execute(update(outbox).where(key.in_(every)).values(updated_at=stamp))
            if untried:
                conn.execute(
                    update(outbox).where(key.in_(untried)).values(attempts=outbox.c.attempts - 1)
                )
        return len(first)

    def _finish(self, claim: Claim, now: datetime, **values: object) -> bool:
        """Settle a row, only if this sender still holds it (a lapsed lease lets another
        sender take it: then the ledger is theirs; an erase skipped it: then it is no
        one's); whether it did."""
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.issue == claim.issue,
                        outbox.c.subscriber_id == claim.subscriber_id,
                        outbox.c.state == State.SENDING.value,
                        outbox.c.claimed_by == self.holder,
                    )
                    .values(updated_at=now.isoformat(), **values)
                ).rowcount
                == 1
            )

    def sent(self, claim: Claim, reply: str, now: datetime) -> bool:
        """The server accepted the message: the row is sent, committed before this returns
        (see the module's docstring for why one commit a message, and why it is cheap).
        Only if this sender still holds it, as `_finish`; whether it did. Raises the
        driver's own error (the caller asks again), the connection then going back to
        the pool rolled back, or discarded if it broke."""
        sql, order = sent_statement(self.engine)
        values = {
            "k_issue": claim.issue,
            "k_subscriber": claim.subscriber_id,
            "k_sending": State.SENDING.value,
            "k_holder": self.holder,
            "v_state": State.SENT.value,
            "v_code": int(reply[:3]),
            "v_reply": reply,
            "v_updated": now.isoformat(),
        }
        params = tuple(values[name] for name in order) if order is not None else values
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, params)
                settled = cursor.rowcount == 1
            finally:
                cursor.close()
            raw.commit()
        finally:
            raw.close()  # back to the pool; reset (rolled back) there, dropped if broken
        return settled

    def defer(self, claim: Claim, code: int, reply: str, until: datetime, now: datetime) -> None:
        self._finish(
            claim,
            now,
            state=State.DEFERRED.value,
            code=code,
            reply=reply,
            not_before=until.isoformat(),
        )

    def fail(self, claim: Claim, code: int | None, reply: str, now: datetime) -> bool:
        """A failure for good: the row is never tried again. `code` is None when no server
        replied (the message could not be made for this recipient). Whether this sender
        settled it."""
        return self._finish(claim, now, state=State.FAILED.value, code=code, reply=reply)

    def bounce(self, claim: Claim, code: int, reply: str, now: datetime) -> None:
        """A failure for good that also marks the subscriber bounced: no later issue is
        queued for them (which refusals bounce is the sender's policy, `mail.bounce`).
        Only for a row this sender settled: one an erase took meanwhile names an id that
        SQLite may already have given to someone else."""
        if self.fail(claim, code, reply, now):
            self.subscribers.set_status_of(claim.subscriber_id, Status.BOUNCED, How.EMAIL)

    def release(self, claim: Claim, now: datetime, *, tried: bool = True) -> None:
        """Back to pending: the connection went before the message was accepted
        (`tried`), or the sender is stopping before its turn (the try is not counted)."""
        attempts = outbox.c.attempts - (0 if tried else 1)
        self._finish(claim, now, state=State.PENDING.value, lease_until="", attempts=attempts)

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

    def waiting(self) -> dict[int, int]:
        """Issues with rows still to send (pending, in flight, or deferred), and how many;
        read from the (state, issue) index, so a year of sent rows costs nothing."""
        waiting = [State.PENDING.value, State.SENDING.value, State.DEFERRED.value]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.issue, func.count())
                .where(outbox.c.state.in_(waiting))
                .group_by(outbox.c.issue)
            ).all()
        return {issue: n for issue, n in sorted(rows)}

    def due(self, issue: int, now: datetime) -> bool:
        """Whether `issue` has a row to send now: pending, or deferred and due (call
        `reclaim` first for rows a dead sender left). A sender with nothing due does not
        open a connection."""
        with self.engine.connect() as conn:
            ready = _ready(now.isoformat())
            found = select(outbox.c.subscriber_id).where(outbox.c.issue == issue, ready).limit(1)
            return conn.execute(found).first() is not None

    def next_retry(self, issue: int) -> str | None:
        """When the earliest deferred row of `issue` is due, if any."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.min(outbox.c.not_before)).where(
                    and_(outbox.c.issue == issue, outbox.c.state == State.DEFERRED.value)
                )
            ).scalar()
