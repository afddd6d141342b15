"""Bringing a database to this postroom's schema, the same way on SQLite and PostgreSQL.

A new database gets the whole schema from `store.schema` at once. An older one
gets the tables it lacks (versions 2 to 5 only added tables), then each later
step in order on the tables it already had (a table just made has the new shape
already), all in one transaction with the version: a migration that fails
leaves the database as it was. A database already at this version is only read.
On PostgreSQL an advisory lock makes processes starting together (a scheduler
and its workers) migrate one after another.
"""

from __future__ import annotations

from postroom.store import changes
from postroom.store.schema import PROBLEMS_INDEX, SCHEMA_VERSION, metadata, schema_version
from sqlalchemy import Connection, insert, inspect, select, text, update

#: (table, statement) pairs that take a database from version N-1 to N (when N only
#: added tables: none); a statement runs only if its table was there before this migration
STEPS: dict[int, tuple[tuple[str, str], ...]] = {
    6: (
        ("outbox", "ALTER TABLE outbox ADD COLUMN lease_until VARCHAR(40) NOT NULL DEFAULT ''"),
        (
            "digest_issues",
            "ALTER TABLE digest_issues ADD COLUMN released_at VARCHAR(40) NOT NULL DEFAULT ''",
        ),
        # published by the old code
        ("digest_issues", "UPDATE digest_issues SET released_at = created_at"),
        ("outbox", "CREATE INDEX outbox_waiting ON outbox (state, issue)"),
    ),
    # 7: tables (welcomes; bounce_reports, bounce_suppressed, bounce_pauses), made whole by
    # create_all, and the curator's voice: a comment per post, an intro per issue
    7: (
        ("posts", "ALTER TABLE posts ADD COLUMN comment TEXT NOT NULL DEFAULT ''"),
        (
            "digest_issues",
            "ALTER TABLE digest_issues ADD COLUMN intro_html TEXT NOT NULL DEFAULT ''",
        ),
        (
            "digest_issues",
            "ALTER TABLE digest_issues ADD COLUMN intro_sha256 VARCHAR(64) NOT NULL DEFAULT ''",
        ),
    ),
    # 8: proofs before each issue (emails.proof)
    8: (
        (
            "digest_issues",
            "ALTER TABLE digest_issues ADD COLUMN proof_stage VARCHAR(12) NOT NULL"
            " DEFAULT 'issued'",
        ),
        (
            "digest_issues",
            "ALTER TABLE digest_issues ADD COLUMN proof_sent_at VARCHAR(40) NOT NULL DEFAULT ''",
        ),
        (
            "digest_slots",
            "ALTER TABLE digest_slots ADD COLUMN proof_notice_at VARCHAR(40) NOT NULL DEFAULT ''",
        ),
        # slots decided by the old code: the curator is not told of them now
        ("digest_slots", "UPDATE digest_slots SET proof_notice_at = decided_at"),
    ),
    # 9: tables only (fetch_targets, fetched_articles): followed feeds and listed links
    # 10: a lead image and a republishing choice per post, and the rule each post of an
    # issue was shown by (issues made before: NULL, taken as `full`)
    10: (
        ("posts", "ALTER TABLE posts ADD COLUMN image TEXT"),
        ("posts", "ALTER TABLE posts ADD COLUMN republish VARCHAR(10)"),
        ("digest_posts", "ALTER TABLE digest_posts ADD COLUMN republish VARCHAR(10)"),
    ),
    # 11: readers choose topics, sources and cadence; editions; the consent record. The
    # subscribers had every issue queued so far: served up to the last issued one
    11: (
        ("subscribers", "ALTER TABLE subscribers ADD COLUMN topics TEXT NOT NULL DEFAULT '[]'"),
        ("subscribers", "ALTER TABLE subscribers ADD COLUMN sources TEXT NOT NULL DEFAULT '[]'"),
        (
            "subscribers",
            "ALTER TABLE subscribers ADD COLUMN cadence VARCHAR(10) NOT NULL DEFAULT ''",
        ),
        (
            "subscribers",
            "ALTER TABLE subscribers ADD COLUMN paused_until VARCHAR(40) NOT NULL DEFAULT ''",
        ),
        ("subscribers", "ALTER TABLE subscribers ADD COLUMN served INTEGER NOT NULL DEFAULT 0"),
        (
            "subscribers",
            "UPDATE subscribers SET served = (SELECT COALESCE(MAX(number), 0)"
            " FROM digest_issues WHERE proof_stage = 'issued')",
        ),
        ("outbox", "ALTER TABLE outbox ADD COLUMN edition INTEGER NOT NULL DEFAULT 0"),
    ),
    # 12: what a build and a scan read of every post, from indexes (Store.versions,
    # IntakeSession)
    12: (
        (
            "posts",
            "CREATE INDEX posts_versions"
            " ON posts (withdrawn, id, fingerprint, picked_up, updated, key)",
        ),
        ("versions", "CREATE INDEX versions_files ON versions (post_id, path, slot, key)"),
    ),
    # 13: each post's change number (store.changes), set by triggers made after these
    # steps (`changes.install`): rows from before are all 0, read whole by the first build
    13: (
        ("posts", "ALTER TABLE posts ADD COLUMN changed INTEGER NOT NULL DEFAULT 0"),
        ("posts", "CREATE INDEX posts_changed ON posts (changed)"),
    ),
    # 14: the files with problems, from a partial index (Store.problems, every scan)
    14: (("files", PROBLEMS_INDEX),),
    # 15: SQLite's insert trigger leaves a row that came numbered as it is (each new post's
    # row written once, `store.changes`): the triggers made again after these steps
    # 16: versions' index of post ids dropped: `versions_files` starts with the post id and
    # answers every query by post (one index fewer written per version); and SQLite's
    # version insert trigger skips a post with no row yet (made again, as for 15)
    16: (("versions", "DROP INDEX IF EXISTS ix_versions_post_id"),),
}
#: the version that made the change triggers (`store.changes`)
_CHANGES = 13
#: the last version that changed SQLite's triggers (`changes.reinstall`)
_SQLITE_TRIGGERS = 16

_LOCK = 0x706F7374726F6F6D  # "postroom": serialises migrations on PostgreSQL


class NewerSchema(RuntimeError):
    pass


def is_current(conn: Connection) -> bool:
    """Whether the database is at SCHEMA_VERSION already: a read, so that opening the store
    takes no write lock (on SQLite it would wait behind a running scan)."""
    if not conn.dialect.has_table(conn, schema_version.name):
        return False
    return conn.execute(select(schema_version.c.version)).scalar() == SCHEMA_VERSION


def migrate(conn: Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found (0: a new database)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    had = set(inspect(conn).get_table_names())
    new = schema_version.name not in had
    metadata.create_all(conn)
    if new:
        changes.install(conn)
        conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
        return 0
    found = conn.execute(select(schema_version.c.version)).scalar() or 0
    if found > SCHEMA_VERSION:
        raise NewerSchema(
            f"the database has schema {found}, newer than this postroom ({SCHEMA_VERSION}):"
            " upgrade postroom"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        for table, statement in STEPS.get(version, ()):
            if table in had:
                conn.execute(text(statement))
    if found < _CHANGES:
        changes.install(conn)
    elif found < _SQLITE_TRIGGERS:
        changes.reinstall(conn)
    if found < SCHEMA_VERSION:
        conn.execute(update(schema_version).values(version=SCHEMA_VERSION))
    return found
