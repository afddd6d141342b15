"""The rows a scan's batch of posts is saved as (`store.database._post_row`): each row
holds its own post's moments (as that post's zone prints them) and tags."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

from postroom.core.model import LeadImage, Republish
from postroom.store import Store
from postroom.store.database import PostWrite, Version
from postroom.store.schema import posts
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
