"""What holds mail back, asked by the subscriber list and the ledger, set by store.bounces.

The suppression list: addresses that bounced hard or complained, never added again.
Kept apart from the subscribers' rows (by the same `address_key`), so removing someone
and importing an old list later cannot bring back an address that bounced or whose
owner reported the digest as spam. An erased person (store.erase) is kept by a salted
hash of their key instead ("erased:<hex>"): found again when an import or the form
brings the same address, yet the list no longer says whose it was.

The pause: sending held because an issue's bounces or complaints passed their limit,
until `postroom digest resume`. Every claim of rows to send asks it first.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from postroom.store.schema import bounce_pauses, bounce_suppressed, store_values
from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import sqlite

_CHUNK = 500  # keys to an IN list: well under SQLite's 32,766 parameters


SALT_NAME = "erase_salt"  # its row in store_values
ERASED = "erased"  # the reason kept for an erased person's hash


def erase_salt(conn: Connection, *, create: bool = False) -> str | None:
    """The salt of erased addresses' hashes: random, made once per database (by the first
    erase, `create`) and kept in store_values; None before any erase. Insert-if-absent,
    so two processes erasing at once agree on one salt."""
    found = select(store_values.c.value).where(store_values.c.name == SALT_NAME)
    if create and conn.execute(found).first() is None:
        insert_new(conn, store_values, "name", name=SALT_NAME, value=secrets.token_hex(32))
    return conn.execute(found).scalar()


def erased_key(salt: str, key: str) -> str:
    """The suppression list's key for an erased address key: "erased:" and an HMAC-SHA256
    under the database's salt. Salted, so a copy of the list cannot be checked against a
    list of known addresses without the database's own salt; keyed by the lower-case
    address key, so any spelling of the address finds it."""
    digest = hmac.new(salt.encode(), key.encode(), hashlib.sha256).hexdigest()
    return f"{ERASED}:{digest}"


def suppressed_among(conn: Connection, keys: Iterable[str]) -> dict[str, str]:
    """Which of these address keys are suppressed, and why ("bounced", "complained", or
    "erased" for a key found by its salted hash)."""
    wanted, found = list(keys), {}
    salt = erase_salt(conn)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        hashed = {erased_key(salt, k): k for k in chunk} if salt else {}
        rows = conn.execute(
            select(bounce_suppressed.c.address_key, bounce_suppressed.c.reason).where(
                bounce_suppressed.c.address_key.in_([*chunk, *hashed])
            )
        ).all()
        for key, reason in rows:
            found[hashed.get(key, key)] = reason
    return found


def insert_new(conn: Connection, table: Table, key: str, /, **values: object) -> bool:
    """Insert the row unless one with the same `key` column is there already (INSERT ... ON
    CONFLICT DO NOTHING, on SQLite and PostgreSQL alike); whether it went in. Atomic, so
    two readers at once never fail one another's transaction with a duplicate."""
    dialect_insert = sqlite.insert
    if conn.dialect.name == "postgresql":  # its dialect imported here, not by a SQLite
        from sqlalchemy.dialects import postgresql  # command's start (~17 ms: store.schema)

        dialect_insert = postgresql.insert
    statement = dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    # RETURNING, not rowcount: psycopg gives -1 for an insert SQLAlchemy itself returns from
    return conn.execute(statement.returning(table.c[key])).first() is not None


def suppress(conn: Connection, key: str, reason: str, now: datetime) -> None:
    """Put an address key on the list; one already there keeps its first reason."""
    values = {"address_key": key, "reason": reason, "since": now.isoformat()}
    insert_new(conn, bounce_suppressed, "address_key", **values)


@dataclass(frozen=True)
class Pause:
    issue: int  # the issue whose reports passed a limit
    reason: str
    paused_at: str


def paused_in(conn: Connection) -> Pause | None:
    """The pause that holds sending now (the earliest not resumed), or None."""
    row = conn.execute(
        select(bounce_pauses)
        .where(bounce_pauses.c.resumed_at == "")
        .order_by(bounce_pauses.c.issue)
        .limit(1)
    ).first()
    return Pause(row.issue, row.reason, row.paused_at) if row else None
