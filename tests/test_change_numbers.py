"""A scan writes each new post's row once, numbered in its INSERT (schema 15), and any
other write, by hand, still gets a number above every other (`store.changes`)."""

from __future__ import annotations

import pytest
from migration_support import make_older
from postroom.content.intake import scan
from postroom.store import Store
from postroom.store.schema import SCHEMA_VERSION, posts, schema_version
from sqlalchemy import Connection, func, insert, inspect, select, text, update
from sqlalchemy.exc import DataError
from support import make_site

POST = "---\ntitle: {title}\ndate: 2026-01-0{day}\n---\nText of {title}.\n"

#: a table that records every UPDATE of a post's row: a rewrite a scan should not cost
AUDIT = {
    "sqlite": (
        "CREATE TABLE rewrites (id TEXT)",
        "CREATE TRIGGER posts_rewritten AFTER UPDATE ON posts BEGIN"
        " INSERT INTO rewrites VALUES (NEW.id); END",
    ),
    "postgresql": (
        "CREATE TABLE rewrites (id TEXT)",
        "CREATE FUNCTION posts_rewritten() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO rewrites VALUES (NEW.id); RETURN NULL; END $$",
        "CREATE TRIGGER posts_rewritten AFTER UPDATE ON posts"
        " FOR EACH ROW EXECUTE FUNCTION posts_rewritten()",
    ),
}


def audit(store: Store) -> None:
    with store.engine.begin() as conn:
        for statement in AUDIT[conn.dialect.name]:
            conn.exec_driver_sql(statement)


def rewrites(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT id FROM rewrites")]


def numbers(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(posts.c.id, posts.c.changed)).all())


def write_posts(site, *titles: str) -> None:
    for n, title in enumerate(titles, 1):
        (site.content_dir / f"{title.lower()}.md").write_text(POST.format(title=title, day=n))


def _trigger_sql(conn: Connection, name: str) -> str:
    """The SQL SQLite holds for the trigger `name`."""
    (sql,) = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).one()
    return sql


def insert_by_hand(conn: Connection, post_id: str, **values) -> None:
    """A post's row as a hand-written INSERT makes it (no scan, no `changes.numbered`)."""
    conn.execute(
        insert(posts).values(
            id=post_id,
            key=f"key-{post_id}",
            title=post_id,
            date="2026-01-09T00:00:00+00:00",
            date_source="front_matter",
            picked_up="2026-01-09T00:00:00+00:00",
            updated="2026-01-09T00:00:00+00:00",
            fingerprint="f",
            body_html="<p>x</p>",
            summary="",
            tags="[]",
            **values,
        )
    )


def test_a_scan_writes_each_new_post_once_and_any_later_write_is_numbered_higher(tmp_path):
    site = make_site(tmp_path)
    write_posts(site, "Alpha", "Beta", "Gamma")
    store = Store(site.store_url)
    try:
        audit(store)
        scan(site, store)
        assert rewrites(store) == []  # each row inserted numbered, never rewritten
        scanned = numbers(store)
        assert len(set(scanned.values())) == 3 and min(scanned.values()) >= 1
        _, seq, _ = store.changes_since(None)
        assert seq == max(scanned.values())

        beta = next(h.id for h in store.heads() if h.title == "Beta")
        with store.engine.begin() as conn:  # a hand-written UPDATE
            conn.execute(update(posts).where(posts.c.id == beta).values(title="Beta 2"))
        assert numbers(store)[beta] > seq
        _, later, ids = store.changes_since(seq)
        assert ids == {beta} and later == numbers(store)[beta]

        with store.engine.begin() as conn:  # hand-written INSERTs: none numbered, one too low
            insert_by_hand(conn, "by-hand")
            insert_by_hand(conn, "too-low", changed=1)
        after = numbers(store)
        assert later < after["by-hand"] < after["too-low"]
        assert store.changes_since(later)[2] == {"by-hand", "too-low"}

        write_posts(site, "Alpha", "Beta", "Gamma", "Delta")  # a second scan's new post
        before = len(rewrites(store))
        scan(site, store)
        delta = next(h.id for h in store.heads() if h.title == "Delta")
        assert delta not in rewrites(store)[before:]
        assert numbers(store)[delta] > after["too-low"]
    finally:
        store.close()


def test_a_schema_14_database_gets_the_insert_trigger_that_leaves_numbered_rows(tmp_path):
    site = make_site(tmp_path)
    write_posts(site, "Alpha", "Beta")
    store = Store(site.store_url)
    scan(site, store)
    with store.engine.begin() as conn:
        make_older(conn, 14)
    store.close()
    store = Store(site.store_url)  # migrated
    try:
        with store.engine.connect() as conn:
            assert conn.execute(select(schema_version.c.version)).scalar() == SCHEMA_VERSION
            if conn.dialect.name == "sqlite":
                trigger = _trigger_sql(conn, "posts_changed_insert")
                assert "NEW.changed < 1 OR EXISTS " in trigger
        kept = numbers(store)
        audit(store)
        write_posts(site, "Alpha", "Beta", "Gamma")
        scan(site, store)
        gamma = next(h.id for h in store.heads() if h.title == "Gamma")
        assert rewrites(store) == []
        assert numbers(store)[gamma] > max(kept.values())
        with store.engine.begin() as conn:
            insert_by_hand(conn, "by-hand")
            top = conn.execute(select(func.max(posts.c.changed))).scalar()
            found = conn.execute(text("SELECT changed FROM posts WHERE id = 'by-hand'"))
            assert found.scalar() == top > numbers(store)[gamma]
    finally:
        store.close()


def test_a_hand_given_number_that_is_not_an_integer_is_replaced_and_later_ones_still_rise(
    tmp_path,
):
    """Text sorts above every number in SQLite: kept, it would be MAX(changed) from then
    on and every later write would get the same wrong number. (PostgreSQL refuses text
    in the integer column itself.)"""
    site = make_site(tmp_path)
    write_posts(site, "Alpha", "Beta")
    store = Store(site.store_url)
    try:
        scan(site, store)
        top = max(numbers(store).values())
        if store.engine.dialect.name == "postgresql":
            with pytest.raises(DataError), store.engine.begin() as conn:
                insert_by_hand(conn, "by-hand", changed="x")
            assert max(numbers(store).values()) == top
            return
        with store.engine.begin() as conn:
            insert_by_hand(conn, "by-hand", changed="x")
        given = numbers(store)["by-hand"]
        assert isinstance(given, int) and given > top
        alpha = next(h.id for h in store.heads() if h.title == "Alpha")
        with store.engine.begin() as conn:  # text set by a hand-written UPDATE: renumbered
            conn.execute(update(posts).where(posts.c.id == alpha).values(changed="y"))
        assert numbers(store)[alpha] == given + 1
        write_posts(site, "Alpha", "Beta", "Gamma")
        scan(site, store)
        gamma = next(h.id for h in store.heads() if h.title == "Gamma")
        assert numbers(store)[gamma] > given + 1
        assert len(set(numbers(store).values())) == len(numbers(store))
    finally:
        store.close()


@pytest.mark.parametrize("migrated", [False, True])
def test_a_version_added_to_a_known_post_numbers_it_and_a_new_posts_versions_do_not(
    tmp_path, migrated
):
    """Schema 16: versions have no index of the post id alone (`versions_files` starts with
    it), and SQLite's version insert trigger skips a post with no row yet; a database of
    schema 15 is brought there, and numbers every change as before."""
    site = make_site(tmp_path)
    write_posts(site, "Alpha", "Beta")
    store = Store(site.store_url)
    scan(site, store)
    if migrated:
        with store.engine.begin() as conn:
            make_older(conn, 15)
            old = {i["name"] for i in inspect(conn).get_indexes("versions")}
            assert "ix_versions_post_id" in old
        store.close()
        store = Store(site.store_url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(select(schema_version.c.version)).scalar() == SCHEMA_VERSION
            names = {i["name"] for i in inspect(conn).get_indexes("versions")}
            assert "versions_files" in names and "ix_versions_post_id" not in names
            if conn.dialect.name == "sqlite":
                trigger = _trigger_sql(conn, "versions_changed_insert")
                assert " WHEN EXISTS (SELECT 1 FROM posts WHERE id = NEW.post_id) " in trigger
        before = numbers(store)
        audit(store)
        alpha = next(h.id for h in store.heads() if h.title == "Alpha")
        # the same post in a second file: a version of a known post, its row as it was
        (site.content_dir / "copy.md").write_text((site.content_dir / "alpha.md").read_text())
        write_posts(site, "Alpha", "Beta", "Gamma")
        scan(site, store)
        after = numbers(store)
        gamma = next(h.id for h in store.heads() if h.title == "Gamma")
        assert after[alpha] > max(before.values())  # numbered by its new version alone
        assert after[gamma] > max(before.values()) and after[gamma] != after[alpha]
        assert set(rewrites(store)) == {alpha}  # Gamma's row was written once, numbered
        assert store.changes_since(max(before.values()))[2] == {alpha, gamma}
    finally:
        store.close()
