"""Bringing a database to this postroom's schema, the same way on SQLite and PostgreSQL.

A new database gets the whole schema from `store.schema` at once. An older one
gets the tables it lacks (versions 2 to 5 only added tables), then each later
step in order, all in one transaction with the version: a migration that fails
leaves the database as it was. On PostgreSQL an advisory lock makes processes
starting together (a scheduler and its workers) migrate one after another.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, text, update

from store.schema import SCHEMA_VERSION, metadata, schema_version

#: statements that take a database from version N-1 to N (when N only added tables: none)
STEPS: dict[int, tuple[str, ...]] = {
    6: (
        "ALTER TABLE outbox ADD COLUMN lease_until VARCHAR(40) NOT NULL DEFAULT ''",
        "ALTER TABLE digest_issues ADD COLUMN released_at VARCHAR(40) NOT NULL DEFAULT ''",
        "UPDATE digest_issues SET released_at = created_at",  # published by the old code
        "CREATE INDEX outbox_waiting ON outbox (state, issue)",
    ),
}

_LOCK = 0x706F7374726F6F6D  # "postroom": serialises migrations on PostgreSQL


class NewerSchema(RuntimeError):
    pass


def migrate(conn: Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found (0: a new database)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    new = not conn.dialect.has_table(conn, schema_version.name)
    metadata.create_all(conn)
    if new:
        conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
        return 0
    found = conn.execute(select(schema_version.c.version)).scalar() or 0
    if found > SCHEMA_VERSION:
        raise NewerSchema(
            f"the database has schema {found}, newer than this postroom ({SCHEMA_VERSION}):"
            " upgrade postroom"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        for statement in STEPS.get(version, ()):
            conn.execute(text(statement))
    if found < SCHEMA_VERSION:
        conn.execute(update(schema_version).values(version=SCHEMA_VERSION))
    return found
