"""A database of an older schema version, made from a new one by undoing what each later
migration step added: the columns each step added, and the tables of version 11 (tables
of earlier steps are made whole by `create_all` when missing, so tests drop them only
where that matters)."""

from __future__ import annotations

from sqlalchemy import Connection, text

#: what each version added that a test undoes to stand for a database made before it (by
#: dialect where the two differ: "sqlite" or "postgresql", the suite's pass)
UNDO: dict[int, tuple[str, ...] | dict[str, tuple[str, ...]]] = {
    7: (  # the curator's voice: a comment per post, an intro per issue
        "ALTER TABLE posts DROP COLUMN comment",
        "ALTER TABLE digest_issues DROP COLUMN intro_html",
        "ALTER TABLE digest_issues DROP COLUMN intro_sha256",
    ),
    8: (  # proofs
        "ALTER TABLE digest_issues DROP COLUMN proof_stage",
        "ALTER TABLE digest_issues DROP COLUMN proof_sent_at",
        "ALTER TABLE digest_slots DROP COLUMN proof_notice_at",
    ),
    10: (  # a lead image, a republishing choice, the rule each post of an issue was shown by
        "ALTER TABLE posts DROP COLUMN image",
        "ALTER TABLE posts DROP COLUMN republish",
        "ALTER TABLE digest_posts DROP COLUMN republish",
    ),
    11: (  # readers' choices, editions, the consent record
        "ALTER TABLE subscribers DROP COLUMN topics",
        "ALTER TABLE subscribers DROP COLUMN sources",
        "ALTER TABLE subscribers DROP COLUMN cadence",
        "ALTER TABLE subscribers DROP COLUMN paused_until",
        "ALTER TABLE subscribers DROP COLUMN served",
        "ALTER TABLE outbox DROP COLUMN edition",
        "DROP TABLE consent_log",
        "DROP TABLE store_values",
        "DROP TABLE digest_editions",
    ),
    12: (  # what a build reads of every post, from indexes
        "DROP INDEX posts_versions",
        "DROP INDEX versions_files",
    ),
    13: {  # each post's change number and the triggers that set it (its epoch row stays)
        "sqlite": (
            "DROP TRIGGER posts_changed_insert",
            "DROP TRIGGER posts_changed_update",
            "DROP TRIGGER versions_changed_insert",
            "DROP TRIGGER versions_changed_delete",
            "DROP TRIGGER versions_changed_update",
            "DROP INDEX posts_changed",
            "ALTER TABLE posts DROP COLUMN changed",
        ),
        "postgresql": (
            "DROP TRIGGER posts_changed ON posts",
            "DROP TRIGGER versions_changed ON versions",
            "DROP FUNCTION post_changed()",
            "DROP FUNCTION version_changed()",
            "DROP SEQUENCE post_changes",
            "DROP INDEX posts_changed",
            "ALTER TABLE posts DROP COLUMN changed",
        ),
    },
    14: ("DROP INDEX files_problems",),  # the files with problems
    15: {  # SQLite's insert trigger, which renumbered every new row (PostgreSQL: as it was)
        "sqlite": (
            "DROP TRIGGER posts_changed_insert",
            "CREATE TRIGGER posts_changed_insert AFTER INSERT ON posts BEGIN"
            " UPDATE posts SET changed = (SELECT MAX(changed) FROM posts) + 1"
            " WHERE id = NEW.id; END",
        ),
        "postgresql": (),
    },
    16: {  # versions' index of post ids, and SQLite's version insert trigger with no WHEN
        "sqlite": (
            "CREATE INDEX ix_versions_post_id ON versions (post_id)",
            "DROP TRIGGER versions_changed_insert",
            "CREATE TRIGGER versions_changed_insert AFTER INSERT ON versions BEGIN"
            " UPDATE posts SET changed = (SELECT IFNULL(MAX(changed), 0) FROM posts"
            " WHERE typeof(changed) = 'integer') + 1 WHERE id = NEW.post_id; END",
        ),
        "postgresql": ("CREATE INDEX ix_versions_post_id ON versions (post_id)",),
    },
}


def _statements(step: int) -> tuple[str, ...]:
    undo = UNDO[step]
    if isinstance(undo, dict):
        from pg_support import on_postgresql

        return undo["postgresql" if on_postgresql() else "sqlite"]
    return undo


def undo_after(version: int, dropped: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The statements that take a current database back to `version`'s columns, leaving
    out those on tables the test `dropped` itself: the last step undone first (15 puts
    back a trigger that 13 drops)."""
    return tuple(
        statement
        for step in sorted(UNDO, reverse=True)
        if step > version
        for statement in _statements(step)
        if not any(f" {table} " in f"{statement} " for table in dropped)
    )


def make_older(conn: Connection, version: int, dropped: tuple[str, ...] = ()) -> None:
    """Undo every step after `version` and say the database is at `version`."""
    for statement in undo_after(version, dropped):
        conn.execute(text(statement))
    conn.execute(text(f"UPDATE schema_version SET version = {int(version)}"))
