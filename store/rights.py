"""A person's data in their own hands: everything kept of them (a subject access request,
`subscribers show`), everyone at once (`subscribers export`), and forgetting them
(`subscribers erase`); and forgetting, after the confirmation link's life, whoever
asked to join and never confirmed.

Erasing deletes every row about the person and blanks what must stay for the list's
own truth (the ledger's rows, so an issue's counts do not change, lose their address
and the server's reply, which often quotes it). What remains is one salted hash on
the suppression list (store.holds), so an old import or the form cannot bring them
back. On SQLite a deleted row's bytes stay in the file's free pages, and older copies
of it in pages that were rewritten since; so after the erase the file is rebuilt
(VACUUM) and the write-ahead log truncated (`scrub`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from postroom.store import Store
from postroom.store.consent import Entry, Event, entries
from postroom.store.holds import ERASED, erase_salt, erased_key, suppress, suppressed_among
from postroom.store.outbox import State
from postroom.store.schema import (
    bounce_reports,
    bounce_suppressed,
    consent_log,
    outbox,
    subscribers,
    welcomes,
)
from postroom.store.subscribers import (
    Status,
    Subscriber,
    _subscriber,
    normalize_address,
)
from sqlalchemy import Connection, and_, delete, func, or_, select, update

_CHUNK = 500  # ids to an IN list


@dataclass(frozen=True)
class LedgerRow:
    """One digest queued for the person: which issue and rendering, how it went."""

    issue: int
    edition: int
    state: State
    attempts: int
    code: int | None
    reply: str
    updated_at: str


@dataclass(frozen=True)
class BounceReport:
    """A report that came back about a message to them (store.bounces)."""

    issue: int
    kind: str
    status: str
    detail: str
    received_at: str


@dataclass(frozen=True)
class Access:
    """Everything kept of one address: for a subject access request."""

    address: str  # as asked, normalised
    subscriber: Subscriber | None  # None: not on the list (removed, or never)
    consent: tuple[Entry, ...]
    ledger: tuple[LedgerRow, ...]
    reports: tuple[BounceReport, ...]
    suppressed: str  # why they are on the suppression list ("" when not)
    welcomed_at: str  # when the welcome email went ("" when it has not)

    @property
    def known(self) -> bool:
        return bool(
            self.subscriber or self.consent or self.ledger or self.suppressed or self.welcomed_at
        )


@dataclass(frozen=True)
class Record:
    """One subscriber and their consent record, for `subscribers export`."""

    subscriber: Subscriber
    consent: tuple[Entry, ...]


@dataclass(frozen=True)
class Erased:
    """What an erase found and did."""

    address: str
    subscriber: bool  # their subscribers row was deleted
    consent: int  # consent events deleted
    ledger: tuple[tuple[int, int], ...]  # (issue, subscriber id) of the rows blanked
    reports: int  # bounce reports deleted
    welcome: bool  # their welcome row was deleted
    already: bool  # erased before: only the hash was there

    @property
    def found(self) -> bool:
        return bool(self.subscriber or self.consent or self.ledger or self.reports or self.welcome)


def _key(address: str) -> str:
    return normalize_address(address).lower()


def _ledger_pairs(conn: Connection, key: str, row) -> list[tuple[int, int]]:
    """(issue, subscriber id) of every ledger row queued to this address key: by the
    address (any case) or by their id, each checked in Python (SQLite's lower() folds
    ASCII only, and an id SQLite gave again may have been someone else's)."""
    who = [func.lower(outbox.c.address) == key]
    if row is not None:
        who += [outbox.c.address == row.address, outbox.c.subscriber_id == row.id]
    found = conn.execute(
        select(outbox.c.issue, outbox.c.subscriber_id, outbox.c.address).where(or_(*who))
    ).all()
    return sorted({(r.issue, r.subscriber_id) for r in found if r.address.lower() == key})


def _of_pairs(table, pairs: list[tuple[int, int]]) -> Iterator:
    """WHERE clauses matching (issue, subscriber_id) pairs, a chunk at a time."""
    by_id: dict[int, list[int]] = {}
    for issue, sid in pairs:
        by_id.setdefault(sid, []).append(issue)
    for sid, issues in by_id.items():
        for start in range(0, len(issues), _CHUNK):
            chunk = issues[start : start + _CHUNK]
            yield and_(table.c.subscriber_id == sid, table.c.issue.in_(chunk))


def subject_access(store: Store, address: str) -> Access:
    """Everything kept of `address` (AddressError for one that is not an address)."""
    key = _key(address)
    with store.engine.connect() as conn:
        # locked first (PostgreSQL): an issue being queued for them now either committed
        # its rows before this reads the ledger, or waits and finds them gone
        row = conn.execute(
            select(subscribers).where(subscribers.c.address_key == key).with_for_update()
        ).first()
        pairs = _ledger_pairs(conn, key, row)
        ledger, reports = [], []
        for where in _of_pairs(outbox, pairs):
            ledger += conn.execute(select(outbox).where(where)).all()
        for where in _of_pairs(bounce_reports, pairs):
            reports += conn.execute(select(bounce_reports).where(where)).all()
        welcomed = conn.execute(
            select(welcomes.c.sent_at).where(welcomes.c.address_key == key)
        ).scalar()
        return Access(
            address=row.address if row is not None else normalize_address(address),
            subscriber=_subscriber(row) if row is not None else None,
            consent=tuple(entries(conn, key)),
            ledger=tuple(
                LedgerRow(
                    r.issue, r.edition, State(r.state), r.attempts, r.code, r.reply, r.updated_at
                )
                for r in sorted(ledger, key=lambda r: r.issue)
            ),
            reports=tuple(
                BounceReport(r.issue, r.kind, r.status, r.detail, r.received_at)
                for r in sorted(reports, key=lambda r: (r.received_at, r.issue))
            ),
            suppressed=suppressed_among(conn, [key]).get(key, ""),
            welcomed_at=welcomed or "",
        )


def export(store: Store) -> list[Record]:
    """Everyone on the list with their consent record, by address: two queries, however
    long the list."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(subscribers).order_by(subscribers.c.address)).all()
        consent: dict[str, list[Entry]] = {}
        log = select(consent_log.c.address_key, consent_log.c.at, consent_log.c.event,
                     consent_log.c.detail).order_by(consent_log.c.id)  # fmt: skip
        for r in conn.execute(log):
            consent.setdefault(r.address_key, []).append(
                Entry(r.at, Event(r.event), json.loads(r.detail))
            )
    return [Record(_subscriber(r), tuple(consent.get(r.address_key, ()))) for r in rows]


def erase(store: Store, address: str, now: datetime) -> Erased:
    """Delete everything of `address` in one transaction, and put a salted hash of it on
    the suppression list (always: an address asked to be erased must not come back,
    whether or not anything was found). The ledger keeps its rows (an issue's counts
    stay true) without the address or the server's reply; rows not sent yet are
    skipped. The caller scrubs the file after (`scrub`) and deletes the mail files."""
    key = _key(address)
    stamp = now.astimezone(UTC).isoformat(timespec="microseconds")
    # the write lock first (SQLite): nothing of theirs is added between reading and erasing
    with store.immediate(secure_delete=True) as conn:
        salt = erase_salt(conn, create=True)
        assert salt is not None
        hashed = erased_key(salt, key)
        had_hash = conn.execute(
            select(bounce_suppressed.c.address_key).where(bounce_suppressed.c.address_key == hashed)
        ).first()
        # locked first (PostgreSQL): an issue being queued for them now either committed
        # its rows before this reads the ledger, or waits and finds them gone
        row = conn.execute(
            select(subscribers).where(subscribers.c.address_key == key).with_for_update()
        ).first()
        pairs = _ledger_pairs(conn, key, row)
        reports = 0
        for where in _of_pairs(outbox, pairs):
            # a row in flight too: its sender finds it no longer "sending" and writes no
            # reply (which would quote the address) back into it (store.outbox._finish)
            waiting = outbox.c.state.in_(
                [State.PENDING.value, State.DEFERRED.value, State.SENDING.value]
            )
            conn.execute(
                update(outbox)
                .where(where, waiting)
                .values(state=State.SKIPPED.value, updated_at=stamp)
            )
            conn.execute(update(outbox).where(where).values(address="", reply=""))
        for where in _of_pairs(bounce_reports, pairs):
            reports += conn.execute(delete(bounce_reports).where(where)).rowcount
        consent = conn.execute(delete(consent_log).where(consent_log.c.address_key == key))
        welcome = conn.execute(delete(welcomes).where(welcomes.c.address_key == key))
        if row is not None:
            conn.execute(delete(subscribers).where(subscribers.c.id == row.id))
        conn.execute(delete(bounce_suppressed).where(bounce_suppressed.c.address_key == key))
        suppress(conn, hashed, ERASED, now)
    erased = Erased(
        address=row.address if row is not None else normalize_address(address),
        subscriber=row is not None,
        consent=consent.rowcount,
        ledger=tuple(pairs),
        reports=reports,
        welcome=welcome.rowcount > 0,
        already=False,
    )
    return erased if erased.found or not had_hash else _already(erased)


def _already(erased: Erased) -> Erased:
    return Erased(erased.address, False, 0, (), 0, False, already=True)


def scrub(store: Store) -> str:
    """Leave nothing deleted in the database's files: on SQLite the file is rebuilt
    (VACUUM: no free page or freed cell keeps old bytes, whatever was updated before) and
    the write-ahead log checkpointed and truncated (its frames hold old pages too). ""
    when done; else why not (another process held a read open through the busy
    timeout): the bytes go at the next checkpoint. On PostgreSQL, nothing: its dead
    rows are reclaimed by autovacuum, its own business (see the README)."""
    if store.engine.dialect.name != "sqlite":
        return ""
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM")
        busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy:
        return (
            "another process is reading the database: its log is truncated at the next checkpoint"
        )
    return ""


def purge_unconfirmed(store: Store, cutoff: datetime) -> list[str]:
    """Delete the sign-ups still pending that were last asked for before `cutoff` (the
    confirmation link's life ago), with their consent records: someone who never
    confirmed leaves nothing. Their addresses, for the files a transport wrote them."""
    before = cutoff.astimezone(UTC).isoformat(timespec="microseconds")
    with store.engine.begin() as conn:
        gone = conn.execute(
            delete(subscribers)
            .where(subscribers.c.status == Status.PENDING.value, subscribers.c.updated_at < before)
            .returning(subscribers.c.address, subscribers.c.address_key, subscribers.c.created_at)
        ).all()
        for r in gone:  # the sign-up's own record; an earlier subscription's stays
            conn.execute(
                delete(consent_log).where(
                    consent_log.c.address_key == r.address_key, consent_log.c.at >= r.created_at
                )
            )
    return sorted(r.address for r in gone)
