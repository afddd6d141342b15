"""The store's change numbers: every write of a post's row, or of a file's version of it,
gives the post a new, higher number (`posts.changed`), so a process that keeps what it
read (a service's `feeds.BuildCache`) asks for what changed since its last number instead
of reading every post.

Set by triggers in the database, not by the code that writes: a write by any process,
any code path (a scan, a withdrawal, a rename that only moves a post's file, a test's
UPDATE by hand) is numbered, and nothing that writes can forget to. Withdrawn posts keep
their row (`withdrawn`), so a withdrawal is a change like any other.

Numbers are in commit order, so a reader that has seen number N has seen every change
numbered below it: on SQLite one writer at a time holds the database, and each number
is one more than the highest committed; on PostgreSQL the trigger takes a transaction
advisory lock before `nextval`, so a second writer waits for the first's commit before
it numbers anything (two scans are serialized anyway, by the scan lock).

A scan's new posts come numbered (`numbered`: the number is a value of their INSERT), and
SQLite's insert trigger renumbers only a row whose number is not above every other's (one
left at the default 0 by a hand-written INSERT, or given too low): each row is written
once, not inserted and then rewritten whole by the trigger (schema 15; with the inserts of
many rows a statement, `store.database._insert_many`, a cold scan's inserts of 10,000
posts went from ~1.1 to ~0.8 CPU-s). A number an INSERT gives is checked, never trusted,
so the guarantee above is the same.

Each database has an `epoch` (a random token made with it): numbers of one database say
nothing of another's (a database made again from content/ starts at 1).
"""

from __future__ import annotations

import uuid

from postroom.store.schema import store_values
from sqlalchemy import Connection, insert, select

#: store_values' row holding the database's epoch
EPOCH_NAME = "changes_epoch"
#: PostgreSQL's transaction advisory lock that orders writers' numbers ("postrooo")
_PG_LOCK = 0x706F7374726F6F6F

#: the highest number given, on SQLite: integers only (one text a hand-written statement
#: gave sorts above every number; the trigger renumbers it, but not before it is read here)
_TOP = "SELECT IFNULL(MAX(changed), 0) FROM posts WHERE typeof(changed) = 'integer'"
#: the next number on SQLite: one more than any committed (the index makes MAX a lookup)
_NEXT = f"({_TOP}) + 1"

SQLITE_TRIGGERS: dict[str, str] = {
    # not when the row came numbered above every other row (`numbered`): the range of the
    # `posts_changed` index from its number holds the row itself alone, one lookup. A
    # number that is not an integer (text sorts above every number in SQLite) is never
    # kept: MAX(changed) would be that text from then on, and every later number wrong
    "posts_changed_insert": (
        "CREATE TRIGGER posts_changed_insert AFTER INSERT ON posts"
        " WHEN typeof(NEW.changed) <> 'integer' OR NEW.changed < 1 OR EXISTS (SELECT 1 FROM posts"
        " WHERE changed >= NEW.changed AND rowid <> NEW.rowid) BEGIN"
        f" UPDATE posts SET changed = {_NEXT} WHERE id = NEW.id; END"
    ),
    # not when the statement set `changed` itself (the version triggers below)
    "posts_changed_update": (
        "CREATE TRIGGER posts_changed_update AFTER UPDATE ON posts"
        " WHEN NEW.changed = OLD.changed OR typeof(NEW.changed) <> 'integer' BEGIN"
        f" UPDATE posts SET changed = {_NEXT} WHERE id = NEW.id; END"
    ),
    # not when the version's post has no row yet: a scan inserts a new post's versions
    # before its row, which then comes numbered (schema 16: its UPDATE, which found no
    # row, was still run for each of a cold scan's versions)
    "versions_changed_insert": (
        "CREATE TRIGGER versions_changed_insert AFTER INSERT ON versions"
        " WHEN EXISTS (SELECT 1 FROM posts WHERE id = NEW.post_id) BEGIN"
        f" UPDATE posts SET changed = {_NEXT} WHERE id = NEW.post_id; END"
    ),
    "versions_changed_delete": (
        "CREATE TRIGGER versions_changed_delete AFTER DELETE ON versions BEGIN"
        f" UPDATE posts SET changed = {_NEXT} WHERE id = OLD.post_id; END"
    ),
    "versions_changed_update": (
        "CREATE TRIGGER versions_changed_update AFTER UPDATE ON versions BEGIN"
        f" UPDATE posts SET changed = {_NEXT} WHERE id IN (OLD.post_id, NEW.post_id); END"
    ),
}

POSTGRESQL_DDL: tuple[str, ...] = (
    "CREATE SEQUENCE IF NOT EXISTS post_changes",
    "CREATE OR REPLACE FUNCTION post_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    f" BEGIN PERFORM pg_advisory_xact_lock({_PG_LOCK});"
    " NEW.changed := nextval('post_changes'); RETURN NEW; END $$",
    "CREATE TRIGGER posts_changed BEFORE INSERT OR UPDATE ON posts"
    " FOR EACH ROW EXECUTE FUNCTION post_changed()",
    "CREATE OR REPLACE FUNCTION version_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " IF TG_OP <> 'INSERT' THEN UPDATE posts SET changed = 0 WHERE id = OLD.post_id; END IF;"
    " IF TG_OP <> 'DELETE' THEN UPDATE posts SET changed = 0 WHERE id = NEW.post_id; END IF;"
    " RETURN NULL; END $$",
    "CREATE TRIGGER versions_changed AFTER INSERT OR UPDATE OR DELETE ON versions"
    " FOR EACH ROW EXECUTE FUNCTION version_changed()",
)


def install(conn: Connection) -> None:
    """The triggers and the epoch, on a database whose posts and versions tables exist
    (a new one, or one migrated to schema 13)."""
    if conn.dialect.name == "postgresql":
        for statement in POSTGRESQL_DDL:
            conn.exec_driver_sql(statement)
    else:
        for statement in SQLITE_TRIGGERS.values():
            conn.exec_driver_sql(statement)
    found = select(store_values.c.value).where(store_values.c.name == EPOCH_NAME)
    if conn.execute(found).scalar() is None:
        conn.execute(insert(store_values).values(name=EPOCH_NAME, value=uuid.uuid4().hex))


def reinstall(conn: Connection) -> None:
    """SQLite's triggers made again from `SQLITE_TRIGGERS` (schema 15 changed the posts'
    insert trigger, 16 the versions'); PostgreSQL's are as they were."""
    if conn.dialect.name == "postgresql":
        return
    for name, statement in SQLITE_TRIGGERS.items():
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql(statement)


def numbered(conn: Connection, rows: list[dict]) -> list[dict]:
    """New posts' rows (dicts for one INSERT) with their change numbers, the next ones
    after the highest in the database, in order, so that SQLite's trigger leaves them as
    they are (the row is written once). Read in the caller's transaction: a row written
    by another process meanwhile cannot commit before it on SQLite (one writer at a time;
    a scan has written its files' rows before), and a wrong number would only be made
    right by the trigger. PostgreSQL numbers every row itself (its trigger sets the number
    before the row is written): the rows as they are."""
    if not rows or conn.dialect.name != "sqlite":
        return rows
    top = conn.exec_driver_sql(_TOP).scalar() or 0
    return [row | {"changed": top + n} for n, row in enumerate(rows, 1)]


def epoch(conn: Connection) -> str:
    """The database's epoch ("" on one that has none: never the same as a kept one's)."""
    found = select(store_values.c.value).where(store_values.c.name == EPOCH_NAME)
    return conn.execute(found).scalar() or ""
