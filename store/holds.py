"""What holds mail back, asked by the subscriber list and the ledger, set by store.bounces.

The suppression list: addresses that bounced hard or complained, never added again.
Kept apart from the subscribers' rows (by the same `address_key`), so removing someone
and importing an old list later cannot bring back an address that bounced or whose
owner reported the digest as spam.

The pause: sending held because an issue's bounces or complaints passed their limit,
until `postroom digest resume`. Every claim of rows to send asks it first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from postroom.store.schema import bounce_pauses, bounce_suppressed
from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

_CHUNK = 500  # keys to an IN list: well under SQLite's 32,766 parameters


def suppressed_among(conn: Connection, keys: Iterable[str]) -> dict[str, str]:
    """Which of these address keys are suppressed, and why ("bounced", "complained")."""
    wanted, found = list(keys), {}
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(bounce_suppressed.c.address_key, bounce_suppressed.c.reason).where(
                bounce_suppressed.c.address_key.in_(wanted[start : start + _CHUNK])
            )
        ).all()
        found.update(dict(rows))
    return found


def insert_new(conn: Connection, table: Table, key: str, /, **values: object) -> bool:
    """Insert the row unless one with the same `key` column is there already (INSERT ... ON
    CONFLICT DO NOTHING, on SQLite and PostgreSQL alike); whether it went in. Atomic, so
    two readers at once never fail one another's transaction with a duplicate."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
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
