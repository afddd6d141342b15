"""The rows a scan's batch of posts is saved as (`store.database._post_row`): each row
holds its own post's moments (as that post's zone prints them) and tags."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from postroom.core.model import Attribution, LeadImage, PostHead, Republish
from postroom.store import Store, database_trouble
from postroom.store.database import PostWrite, Version
from postroom.store.schema import posts, versions
from sqlalchemy import select
from support import T0, make_post, make_site


def test_moments_and_tags_are_written_as_each_post_has_them(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    elsewhere = T0.astimezone(timezone(timedelta(hours=2)))  # equal to T0, printed otherwise
    batch = [
        make_post(1, picked_up=T0, updated=T0, tags=("policy", "care")),
        make_post(2, picked_up=T0, updated=T0, tags=("policy", "care")),
        make_post(3, picked_up=elsewhere, updated=T0, tags=("care", "café")),
        make_post(4, picked_up=elsewhere.replace(), updated=elsewhere, tags=()),
    ]
    try:
        with store.intake() as session:
            session.save_posts([PostWrite(p, p.id, f"f{p.id}", exists=False) for p in batch])
        with store.engine.connect() as conn:
            rows = {
                row.id: row
                for row in conn.execute(
                    select(posts.c.id, posts.c.picked_up, posts.c.updated, posts.c.tags)
                )
            }
    finally:
        store.close()
    for post in batch:
        row = rows[post.id]
        assert row.picked_up == post.picked_up.isoformat(timespec="microseconds")
        assert row.updated == post.updated.isoformat(timespec="microseconds")
    assert rows["post-3"].picked_up == "2026-11-02T10:00:00.000000+02:00"
    assert rows["post-1"].picked_up == "2026-11-02T08:00:00.000000+00:00"
    assert rows["post-1"].tags == rows["post-2"].tags == '["policy", "care"]'
    assert (rows["post-3"].tags, rows["post-4"].tags) == ('["care", "café"]', "[]")


def test_a_posts_files_are_listed_by_path_once_each_however_they_were_saved(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    one, two = make_post(1), make_post(2)
    held = [("c.md", 1, one), ("b.md", 0, one), ("c.md", 0, one), ("a.md", 0, one)]
    held.append(("a.md", 1, two))
    try:
        with store.intake() as session:
            session.save_versions(
                {
                    path: [
                        Version(p, slot, post.id, f"{post.id}@{p}#{slot}", "", None, data="{}")
                        for p, slot, post in held
                        if p == path
                    ]
                    for path, _, _ in held
                }
            )
            session.save_posts([PostWrite(p, p.id, p.id, exists=False) for p in (one, two)])
        every = {head.id: head.files for head in store.heads()}
        some = {head.id: head.files for head in store.heads([two.id, one.id])}
        whole = {post.id: post.files for post in store.posts_by_id([one.id, two.id])}
    finally:
        store.close()
    expected = {one.id: ("a.md", "b.md", "c.md"), two.id: ("a.md",)}
    assert every == some == whole == expected


def test_posts_and_heads_read_by_id_are_the_posts_saved_over_several_batches(tmp_path):
    """`posts_by_id` and `heads(ids)` read 500 ids a statement (one statement built once,
    its ids one parameter): ids over three batches, asked for out of order, twice, with
    one unknown and one withdrawn, give each published post once (`posts_by_id` in the order
    asked), as it was saved, every field and its kept-excerpt-less excerpt included."""
    site = make_site(tmp_path)
    store = Store(site.store_url)
    image = LeadImage("https://img.example/a.png", "A", "image/png", 120)
    saved = [
        make_post(
            n,
            comment=f"<p>Note {n}</p>" if n % 3 == 0 else "",
            image=image if n % 5 == 0 else None,
            republish=None if n % 4 == 0 else Republish.FULL,
            tags=("policy", "café") if n % 2 else (),
        )
        for n in range(1, 1_201)
    ]
    wanted = [post.id for post in reversed(saved)] + ["post-7", "nobody", "post-1"]
    try:
        with store.intake() as session:
            session.save_posts([PostWrite(p, p.id, f"f{p.id}", exists=False) for p in saved])
            session.write({}, [], {}, [], ["post-2"])
        whole = store.posts_by_id(wanted)
        heads = store.heads(wanted)
        every = store.posts()
    finally:
        store.close()
    published = {post.id: replace(post, files=()) for post in saved if post.id != "post-2"}
    assert [post.id for post in whole] == [i for i in wanted[:1200] if i != "post-2"]
    assert {post.id: post for post in whole} == published
    assert [post.excerpt for post in whole] == [published[p.id].excerpt for p in whole]
    assert {post.id: post for post in every} == published
    heads.sort(key=lambda head: wanted.index(head.id))
    assert [head.id for head in heads] == [post.id for post in whole]
    for head, post in zip(heads, whole, strict=True):
        shown = (post.title, post.date, post.date_source, post.picked_up, post.updated)
        assert (head.title, head.date, head.date_source, head.picked_up, head.updated) == shown
        assert (head.attribution, head.tags, head.republish) == (
            post.attribution,
            post.tags,
            post.republish,
        )
        assert head.fingerprint == f"f{post.id}"


def test_every_head_is_its_row_read_plainly_in_the_order_of_pick_up(tmp_path):
    """`heads()` reads every row from the driver's cursor, 2,000 at a time, and shares the
    moments, tags and credits it parses between heads: over three batches it gives what a
    plain reading of the same rows gives (`posts()`, the fingerprints and the versions'
    paths by SQLAlchemy), in the same order, each moment in its own zone. The posts:
    pick-ups shared by many (ties broken by id) in three zones, dates with and without
    microseconds, shared and one-off credits, tags with and without accents, every kind of
    republishing and none, posts in no file, one file, several, twice in one, and one
    withdrawn."""
    zones = [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))]
    kinds = [None, Republish.FULL, Republish.EXCERPT, Republish.LINK]
    shared = Attribution(source="Community Care", credit="Source: Community Care")

    def post(n: int):
        zone = zones[n % 3]
        return make_post(
            n,
            date=datetime(2016, 6, n % 28 + 1, n % 24, n % 60, microsecond=n % 2 * n, tzinfo=zone),
            picked_up=(T0 + timedelta(hours=n % 7)).astimezone(zone),
            updated=T0 + timedelta(hours=n % 7, microseconds=n % 3),
            attribution=[Attribution(), shared, Attribution(f"Paper {n}", url=f"https://p/{n}")][
                n % 3
            ],
            tags=[("policy", "café"), (), ("care",), ("policy", "café")][n % 4],
            republish=kinds[n % 4],
        )

    saved = [post(n) for n in range(1, 4_501)]
    held = {f"f{n}.md": [(n, 0)] for n in range(1, 4_501) if n % 5}
    held["f10.md"] = [(10, 0), (10, 1), (11, 2)]
    store = Store(make_site(tmp_path).store_url)
    try:
        with store.intake() as session:
            session.save_versions(
                {
                    path: [
                        Version(path, slot, f"post-{n}", f"k{n}@{path}#{slot}", "", None, data="{}")
                        for n, slot in slots
                    ]
                    for path, slots in held.items()
                }
            )
            session.save_posts([PostWrite(p, p.id, f"f{p.id}", exists=False) for p in saved])
            session.write({}, [], {}, [], ["post-2"])
        heads = store.heads()
        every = store.posts()
        with store.engine.connect() as conn:
            prints = dict(conn.execute(select(posts.c.id, posts.c.fingerprint)).all())
            paths = conn.execute(select(versions.c.post_id, versions.c.path)).all()
    finally:
        store.close()
    found: dict[str, list[str]] = defaultdict(list)
    for post_id, path in sorted(paths, key=lambda row: row[1]):
        if path not in found[post_id]:
            found[post_id].append(path)
    plain = [
        PostHead(
            p.id,
            p.title,
            p.date,
            p.date_source,
            p.picked_up,
            p.updated,
            p.attribution,
            p.tags,
            tuple(found[p.id]),
            p.republish,
            prints[p.id],
        )
        for p in every
    ]
    assert len(heads) == 4_499
    assert [repr(head) for head in heads] == [repr(head) for head in plain]
    files = {head.id: head.files for head in heads}
    assert (files["post-10"], files["post-11"], files["post-5"]) == (
        ("f10.md",),
        ("f10.md", "f11.md"),
        (),
    )


def test_a_database_error_while_reading_every_head_is_named_as_the_databases(tmp_path):
    """`heads()` reads every head from the driver's own cursor: an error there (a table
    gone, a file damaged) must still say which database and why (`database_trouble`), as
    a query through SQLAlchemy does, not come out as a bug of ours."""
    url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = Store(url)
    try:
        with sqlite3.connect(tmp_path / "postroom.db") as other:
            other.execute("ALTER TABLE versions RENAME TO elsewhere")
        for read in (store.heads, lambda: store.heads(["an-id"])):
            try:
                read()
            except Exception as exc:  # what the command's handler is given
                said = database_trouble(url, exc)
            else:
                raise AssertionError("read the heads of a database without its versions")
            assert said is not None and said.endswith("no such table: versions"), said
    finally:
        store.close()
