"""Leases and locks: one holder at a time for a role, kept in the store.

Two kinds, because a role outlives a command but a scan does not:

- A lease (`role_lease`): the service's role (one process on a site runs its
  schedule) or a site's digest sender. On SQLite it is a row (name, holder
  "host:pid", expires) that the holder renews while it works; another process may
  take it when it has expired, or at once when the holder is a process on this host
  that no longer exists (a sender killed with -9 must not keep the next run
  waiting). Taking it is a compare-and-set on the row, so two racers cannot both
  win. On PostgreSQL it is a session advisory lock, held among machines.
- A lock (`exclusive`): one scan of a site's content at a time, a PostgreSQL
  advisory lock or an flock beside the SQLite file, waited for, never expiring.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from postroom.core.process import holder_gone, this_process
from postroom.store import Store
from postroom.store.schema import leases
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError


class Lease:
    def __init__(self, store: Store, name: str, ttl: timedelta = timedelta(seconds=60)) -> None:
        self.engine, self.name, self.ttl = store.engine, name, ttl
        self.holder = this_process()

    def current_holder(self, now: datetime) -> str | None:
        """Who holds it now (None if nobody, or the lease has lapsed)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(leases).where(leases.c.name == self.name)).first()
        if row is None or row.expires <= now.isoformat() or holder_gone(row.holder):
            return None
        return row.holder

    def acquire(self, now: datetime) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        expires = (now + self.ttl).isoformat()
        with self.engine.begin() as conn:
            row = conn.execute(select(leases).where(leases.c.name == self.name)).first()
            if row is not None:
                free = (
                    row.holder == self.holder
                    or row.expires <= now.isoformat()
                    or holder_gone(row.holder)
                )
                taken = free and conn.execute(
                    update(leases)
                    .where(
                        leases.c.name == self.name,
                        leases.c.holder == row.holder,
                        leases.c.expires == row.expires,  # not renewed since we looked
                    )
                    .values(holder=self.holder, expires=expires)
                )
                return bool(taken) and taken.rowcount == 1
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(leases).values(name=self.name, holder=self.holder, expires=expires)
                )
        except IntegrityError:  # another process made the row first: it holds the lease
            return False
        return True

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(leases).where(leases.c.name == self.name, leases.c.holder == self.holder)
            )


_LOCK_SPACE = 0x706F7374  # "post": postroom's advisory locks, beside anyone else's
# The lock session is idle between renewals, so a machine that vanishes (power, network)
# sends no FIN: the server finds it gone by TCP keepalives, here after 10 + 3 x 5 s
# instead of the kernel's two hours, and frees the lock for a standby.
_SERVER_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}


class AdvisoryLease(Lease):
    """A role on PostgreSQL: a session advisory lock, held on a connection kept open for
    as long as the holder runs. The server frees it the moment that session ends (a
    process killed with -9, a machine gone), on any host, with no TTL to wait out. The
    lease row is still written, so `status` and the standbys can name the holder."""

    def __init__(self, store: Store, name: str, ttl: timedelta = timedelta(seconds=60)) -> None:
        super().__init__(store, name, ttl)
        # the two-int form: pg_locks shows it as (classid, objid), both below 2**31
        self.keys = _advisory_keys(name)
        self._session: Connection | None = None

    def acquire(self, now: datetime) -> bool:
        """Take the lock (or check the session that holds it is alive) and write the row."""
        try:
            if self._session is None:
                session = self.engine.connect()
                for name, value in _SERVER_KEEPALIVES.items():
                    setting = {"name": name, "value": value}
                    session.execute(text("SELECT set_config(:name, :value, false)"), setting)
                locked = session.execute(
                    text("SELECT pg_try_advisory_lock(:space, :key)"), self.keys
                ).scalar()
                session.commit()
                if not locked:
                    session.close()
                    return False
                self._session = session
            else:
                self._session.execute(text("SELECT 1")).scalar()
                self._session.commit()
        except DBAPIError:  # the session is gone, and the lock with it
            self._drop_session()
            return False
        with self.engine.begin() as conn:  # ours: whoever the row names has lost the lock
            row = {"holder": self.holder, "expires": (now + self.ttl).isoformat()}
            mine = update(leases).where(leases.c.name == self.name).values(row)
            if not conn.execute(mine).rowcount:
                conn.execute(insert(leases).values(name=self.name, **row))
        return True

    def current_holder(self, now: datetime) -> str | None:
        with self.engine.connect() as conn:
            held = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
                    " AND d.datname = current_database() AND l.classid = :space AND l.objid = :key"
                ),
                self.keys,
            ).scalar()
        return super().current_holder(now) if held else None

    def release(self) -> None:
        if self._session is not None:
            try:
                self._session.execute(text("SELECT pg_advisory_unlock(:space, :key)"), self.keys)
                self._session.commit()
            except DBAPIError:
                pass  # the session is already gone, and the lock with it
            self._drop_session()
        super().release()

    def _drop_session(self) -> None:
        """Discard the session's connection rather than pool it: an error that was not a
        disconnect could leave the lock held by a pooled connection nobody watches."""
        if self._session is not None:
            with contextlib.suppress(DBAPIError):
                self._session.invalidate()
                self._session.close()
            self._session = None


def role_lease(store: Store, name: str) -> Lease:
    """The lease for a role a single process may hold (the service): an advisory lock on
    PostgreSQL, shared by machines; a lease row on SQLite, which one machine uses."""
    if store.engine.dialect.name == "postgresql":
        return AdvisoryLease(store, name)
    return Lease(store, name)


def _advisory_keys(name: str) -> dict[str, int]:
    digest = hashlib.sha256(name.encode()).digest()
    return {"space": _LOCK_SPACE, "key": int.from_bytes(digest[:4], "big") & 0x7FFFFFFF}


@contextlib.contextmanager
def exclusive(store: Store, name: str, on_wait: Callable[[], None]) -> Iterator[None]:
    """Run a block in one process at a time per site (a scan: two at once would both
    insert the same new file). Blocks until the holder is done, after calling `on_wait`
    once so the user knows why nothing happens. The lock dies with its process: on
    PostgreSQL a session advisory lock; on SQLite an flock on a file beside the
    database (SQLite's own locks are per transaction, and a scan is longer than one)."""
    if store.engine.dialect.name == "postgresql":
        keys = _advisory_keys(name)
        with store.engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:space, :key)"), keys).scalar():
                on_wait()
                conn.execute(text("SELECT pg_advisory_lock(:space, :key)"), keys)
            conn.commit()
            try:
                yield
            finally:
                with contextlib.suppress(DBAPIError):  # a lost session has dropped it
                    conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), keys)
                    conn.commit()
        return
    database = store.engine.url.database
    if not database or database == ":memory:":  # one process's own database
        yield
        return
    fd = os.open(f"{database}-{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and the lock with it
