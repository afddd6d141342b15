"""The schema made and migrated by postroom itself, the same on SQLite and PostgreSQL, and
the scheduler role's advisory lock on PostgreSQL."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import prestart
import pytest
from migration_support import make_older, undo_after
from postroom.content.intake import scan
from postroom.store import Store, StoreError
from postroom.store.digests import all_issues
from postroom.store.leases import AdvisoryLease, role_lease
from postroom.store.schema import SCHEMA_VERSION, digest_issues, outbox, schema_version
from service_support import postroom_env
from sqlalchemy import inspect, select, text, update
from support import make_site

NOW = datetime(2026, 11, 30, 8, tzinfo=UTC)
# the columns version 7 added (the curator's voice), for making an older database from a
# new one; it also added tables (VERSION_7_TABLES)
VERSION_7_TABLES = {"welcomes", "bounce_reports", "bounce_suppressed", "bounce_pauses"}
OLD_ISSUE = text(  # an issue made by a postroom before version 6 (no release mark)
    "INSERT INTO digest_issues (number, cutoff, created_at, subject, html, text)"
    " VALUES (1, 'c', '2026-11-23T07:00:00+00:00', 's', 'h', 't')"
)


def columns(store: Store, table: str) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns(table)}


def version(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(schema_version.c.version)).scalar()


def test_a_new_database_gets_the_whole_schema(tmp_path):
    store = Store(make_site(tmp_path).store_url)
    try:
        assert version(store) == SCHEMA_VERSION
        assert {"lease_until", "claimed_by"} <= columns(store, "outbox")
        assert "released_at" in columns(store, "digest_issues")
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("outbox")}
        assert {"outbox_work", "outbox_waiting"} <= indexes
    finally:
        store.close()


def test_a_version_5_database_is_migrated_in_place_keeping_its_rows(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:  # what version 5 had: no leases, no release mark
        conn.execute(text("DROP INDEX outbox_waiting"))
        conn.execute(text("ALTER TABLE outbox DROP COLUMN lease_until"))
        conn.execute(text("ALTER TABLE digest_issues DROP COLUMN released_at"))
        for statement in undo_after(5):
            conn.execute(text(statement))
        conn.execute(update(schema_version).values(version=5))
        conn.execute(OLD_ISSUE)
        conn.execute(
            text(
                "INSERT INTO outbox (issue, subscriber_id, address, state, attempts, not_before,"
                " claimed_by, reply, updated_at) VALUES (1, 7, 'a@example.org', 'sending', 1,"
                " '', 'old-host:1', '', '2026-11-23T07:00:01+00:00')"
            )
        )
    assert "lease_until" not in columns(store, "outbox")
    store.close()

    migrated = Store(site.store_url)  # opening it migrates it
    try:
        assert version(migrated) == SCHEMA_VERSION
        with migrated.engine.connect() as conn:
            issue = conn.execute(select(digest_issues)).one()
            row = conn.execute(select(outbox)).one()
        assert issue.released_at == issue.created_at  # mailed by the old code already
        assert (row.state, row.lease_until) == ("sending", "")  # in flight: reclaimable
        assert "outbox_waiting" in {
            i["name"] for i in inspect(migrated.engine).get_indexes("outbox")
        }
    finally:
        migrated.close()
    reopened = Store(site.store_url)  # a second open changes nothing
    try:
        assert version(reopened) == SCHEMA_VERSION
    finally:
        reopened.close()


def test_a_version_6_database_gets_version_7s_tables_and_columns_keeping_its_rows(tmp_path):
    """Version 7 added tables (welcomes, bounce reports, the suppression list, pauses)
    and columns (the curator's voice)."""
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        for table in VERSION_7_TABLES:
            conn.execute(text(f"DROP TABLE {table}"))
        for statement in undo_after(6):
            conn.execute(text(statement))
        conn.execute(update(schema_version).values(version=6))
        conn.execute(  # the columns version 6 had
            text(
                "INSERT INTO digest_issues (number, cutoff, created_at, subject, html, text,"
                " released_at) VALUES (1, 'c', 'c', 's', 'h', 't', 'x')"
            )
        )
    store.close()
    migrated = Store(site.store_url)
    try:
        assert version(migrated) == SCHEMA_VERSION
        assert set(inspect(migrated.engine).get_table_names()) >= VERSION_7_TABLES
        assert {"intro_html", "intro_sha256"} <= columns(migrated, "digest_issues")
        assert "comment" in columns(migrated, "posts")
        with migrated.engine.connect() as conn:
            assert conn.execute(select(digest_issues.c.released_at)).scalar() == "x"
    finally:
        migrated.close()


def test_a_version_3_database_gets_its_new_tables_whole_and_its_old_ones_altered(tmp_path):
    """Before version 4 there was no outbox: made now, it has the new shape already, so
    version 6's ALTERs of it are not run again (they failed: 'duplicate column')."""
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE outbox"))
        conn.execute(text("ALTER TABLE digest_issues DROP COLUMN released_at"))
        for statement in undo_after(3, dropped=("outbox",)):  # dropped above
            conn.execute(text(statement))
        conn.execute(update(schema_version).values(version=3))
        conn.execute(OLD_ISSUE)
    store.close()

    migrated = Store(site.store_url)
    try:
        assert version(migrated) == SCHEMA_VERSION
        assert {"lease_until", "claimed_by"} <= columns(migrated, "outbox")
        indexes = {i["name"] for i in inspect(migrated.engine).get_indexes("outbox")}
        assert {"outbox_work", "outbox_waiting"} <= indexes
        with migrated.engine.connect() as conn:
            issue = conn.execute(select(digest_issues)).one()
        assert issue.released_at == issue.created_at
    finally:
        migrated.close()


def test_a_version_7_database_gets_the_proof_columns_and_no_notice_of_old_slots(tmp_path):
    """Version 8 (proofs): issues made before it are issued ones, and the slots decided
    before it are never the subject of a notice to the curator."""
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        for statement in undo_after(7):
            conn.execute(text(statement))
        conn.execute(update(schema_version).values(version=7))
        conn.execute(
            text(
                "INSERT INTO digest_issues (number, cutoff, created_at, subject, html, text,"
                " released_at) VALUES (1, 'c', '2026-11-23T07:00:00+00:00', 's', 'h', 't',"
                " '2026-11-23T07:00:01+00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO digest_slots (slot, outcome, issue, decided_at) VALUES"
                " ('2026-11-16T07:00:00+00:00', 'late', NULL, '2026-11-20T07:00:00+00:00')"
            )
        )
    store.close()

    migrated = Store(site.store_url)
    try:
        assert version(migrated) == SCHEMA_VERSION
        with migrated.engine.connect() as conn:
            issue = conn.execute(select(digest_issues)).one()
            slot = conn.execute(text("SELECT proof_notice_at FROM digest_slots")).one()
        assert (issue.proof_stage, issue.proof_sent_at) == ("issued", "")
        assert slot.proof_notice_at == "2026-11-20T07:00:00+00:00"
        assert [i.number for i in all_issues(migrated)] == [1]
    finally:
        migrated.close()


def test_a_version_8_database_gets_the_tables_of_followed_feeds_and_listed_links(tmp_path):
    """Version 9 only added tables (fetch_targets, fetched_articles): made whole, rows kept."""
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        for table in ("fetch_targets", "fetched_articles"):
            conn.execute(text(f"DROP TABLE {table}"))
        for statement in undo_after(8):
            conn.execute(text(statement))
        conn.execute(update(schema_version).values(version=8))
        conn.execute(text("INSERT INTO activity (name, at, data) VALUES ('scan', 'x', '{}')"))
    store.close()
    migrated = Store(site.store_url)
    try:
        assert version(migrated) == SCHEMA_VERSION
        assert {"url", "etag", "next_try", "failures"} <= columns(migrated, "fetch_targets")
        assert {"key", "feed", "entry_id", "path"} <= columns(migrated, "fetched_articles")
        with migrated.engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM activity")).scalar() == "scan"
    finally:
        migrated.close()


def test_a_version_9_database_keeps_its_posts_with_no_image_and_no_republishing_choice(
    tmp_path,
):
    """Version 10 added two nullable columns to posts: a post kept before reads back
    with neither, so the site's and its source's rules decide how it is shown."""
    site = make_site(tmp_path)
    (site.content_dir / "a.md").write_text("---\ntitle: Kept\ndate: 2026-11-02\n---\nText.\n")
    store = Store(site.store_url)
    scan(site, store)
    with store.engine.begin() as conn:
        for statement in undo_after(9):
            conn.execute(text(statement))
        conn.execute(update(schema_version).values(version=9))
    store.close()
    migrated = Store(site.store_url)
    try:
        assert version(migrated) == SCHEMA_VERSION == 16
        assert {"image", "republish"} <= columns(migrated, "posts")
        (post,) = migrated.posts()
        assert (post.title, post.image, post.republish) == ("Kept", None, None)
    finally:
        migrated.close()


def test_a_version_10_database_keeps_its_subscribers_served_up_to_the_last_issued_issue(
    tmp_path,
):
    """Version 11 let readers choose. Everyone on the list then had every issued issue
    queued: `served` starts at the last one issued (not a proof waiting for its slot), so
    nobody's next digest repeats a post, and every ledger row is the issue's own parts."""
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        for statement in undo_after(10):
            conn.execute(text(statement))
        conn.execute(update(schema_version).values(version=10))
        for number, stage in ((1, "issued"), (2, "proof")):
            conn.execute(
                text(
                    "INSERT INTO digest_issues (number, cutoff, created_at, subject, html, text,"
                    " released_at, proof_stage) VALUES (:n, 'c', '2026-11-30T07:00:00+00:00',"
                    " 's', 'h', 't', '', :stage)"
                ),
                {"n": number, "stage": stage},
            )
        conn.execute(
            text(
                "INSERT INTO subscribers (address, address_key, name, status, created_at,"
                " updated_at) VALUES ('a@example.org', 'a@example.org', '', 'active', 'x', 'x')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO outbox (issue, subscriber_id, address, state, attempts, not_before,"
                " claimed_by, lease_until, reply, updated_at)"
                " VALUES (1, 1, 'a@example.org', 'sent', 1, '', '', '', '', 'x')"
            )
        )
    store.close()
    migrated = Store(site.store_url)
    try:
        assert version(migrated) == SCHEMA_VERSION == 16
        assert {"consent_log", "store_values", "digest_editions"} <= set(
            inspect(migrated.engine).get_table_names()
        )
        with migrated.engine.connect() as conn:
            row = conn.execute(text("SELECT topics, sources, cadence, served FROM subscribers"))
            assert row.one() == ("[]", "[]", "", 1)
            assert conn.execute(text("SELECT edition FROM outbox")).scalar() == 0
    finally:
        migrated.close()


def test_opening_a_current_sqlite_store_takes_no_write_lock(tmp_path):
    """A `status` beside a scan holding SQLite's write lock opens the store: wanting the
    lock, it would wait out the busy timeout and fail with 'database is locked'."""
    url = f"sqlite:///{tmp_path / 'postroom.db'}"
    writer = Store(url)
    with writer.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            reader = Store(url)
            assert version(reader) == SCHEMA_VERSION
            reader.close()
        finally:
            conn.exec_driver_sql("ROLLBACK")
    writer.close()


def test_a_newer_database_is_refused_with_what_to_do(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        conn.execute(update(schema_version).values(version=SCHEMA_VERSION + 1))
    store.close()
    with pytest.raises(StoreError, match="upgrade postroom"):
        Store(site.store_url)


def test_processes_starting_together_on_a_new_database_all_start(tmp_path):
    """A scheduler and its workers started at once all migrate the same empty database."""
    site = make_site(tmp_path)
    command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site.root), "status"]
    # forked from prestarted Pythons (tests/prestart.py): started within milliseconds of
    # each other, not spread over a second of imports each
    starts = [prestart.popen(command, env=postroom_env()) for _ in range(6)]
    results = [(p.wait(60), p.stderr.read()) for p in starts]
    assert all(code == 0 for code, _ in results), results
    store = Store(site.store_url)
    try:
        assert version(store) == SCHEMA_VERSION
    finally:
        store.close()


@pytest.mark.postgresql
def test_the_scheduler_role_is_an_advisory_lock_freed_when_its_session_ends(pg_url):
    one, two = Store(pg_url), Store(pg_url)
    try:
        mine, theirs = role_lease(one, "scheduler"), role_lease(two, "scheduler")
        assert isinstance(mine, AdvisoryLease)
        theirs.holder = "another-machine:99"
        assert mine.acquire(NOW)
        assert not theirs.acquire(NOW)  # held: whatever the lease row says
        assert theirs.current_holder(NOW) == mine.holder
        assert mine.acquire(NOW)  # renewing checks the session and keeps it
        # the server probes the idle lock session, so a vanished machine frees the role
        keepalive = mine._session.execute(text("SHOW tcp_keepalives_idle")).scalar()
        assert keepalive == "10"

        with two.engine.connect() as conn:  # the holder's session dies (a machine gone, -9)
            killed = (
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks"
                        " WHERE locktype = 'advisory' AND granted AND classid = :space"
                    ),
                    {"space": mine.keys["space"]},
                )
                .scalars()
                .all()
            )
        assert killed == [True]
        # no TTL to wait out: free as soon as the server has ended that session (the
        # signal pg_terminate_backend sends takes a moment to land on a busy machine)
        deadline = time.monotonic() + 10
        while theirs.current_holder(NOW) is not None:
            assert time.monotonic() < deadline, "the lock outlived its session"
            time.sleep(0.02)
        assert theirs.acquire(NOW)  # the standby takes over at once
        assert theirs.current_holder(NOW) == "another-machine:99"
        assert not mine.acquire(NOW)  # and the old holder learns it lost the role
        theirs.release()
        assert mine.current_holder(NOW) is None
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize(
    ("older", "wanted"),
    [
        (11, {"posts_versions", "versions_files"}),  # what a build reads of every post
        (13, {"files_problems"}),  # the files with problems, every scan
    ],
)
def test_an_older_database_gets_the_indexes_of_later_versions(tmp_path, older, wanted):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        make_older(conn, older)
        tables = ("posts", "versions", "files")
        assert not wanted & {i["name"] for t in tables for i in inspect(conn).get_indexes(t)}
    store.close()
    migrated = Store(site.store_url)
    with migrated.engine.connect() as conn:
        assert version(migrated) == SCHEMA_VERSION
        names = {i["name"] for t in tables for i in inspect(conn).get_indexes(t)}
    assert wanted <= names
    migrated.close()


def test_the_problems_of_a_scan_are_read_from_the_partial_index(tmp_path):
    """`Store.problems` runs in every scan: the statement it runs, with its parameters,
    must be one the partial index answers, not a walk of every file's row."""
    from sqlalchemy import event

    site = make_site(tmp_path)
    (site.content_dir / "bad.md").write_bytes(b"\xff\xfe\x00not text")
    (site.content_dir / "good.md").write_text("---\ntitle: Good\ndate: 2024-05-01\n---\nBody.\n")
    store = Store(site.store_url)
    scan(site, store)
    ran: list[tuple[str, object]] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: ran.append((a[2], a[3])))
    assert {p.file for p in store.problems()} == {"bad.md"}
    ((statement, parameters),) = [r for r in ran if "FROM files" in r[0]]
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            explain = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " ".join(str(row) for row in explain)
            assert "files_problems" in plan, plan
        else:  # made in SQL with the table (store.schema): partial on PostgreSQL too
            made = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'files_problems'"
            ).scalar_one()
            assert "WHERE" in made and "'[]'" in made, made
    store.close()
