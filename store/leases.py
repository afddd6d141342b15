"""Leases: one holder at a time for a role (sending a site's digests), kept in the store.

A lease is a row (name, holder "host:pid", expires). The holder renews it while
it works; another process may take it when it has expired, or at once when the
holder is a process on this host that no longer exists (a sender killed with -9
must not keep the next run waiting). Taking it is a compare-and-set on the row,
so two processes racing for it cannot both win.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from store import Store
from store.schema import leases


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_gone(holder: str) -> bool:
    """True when `holder` names a process on this host that is gone."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


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
