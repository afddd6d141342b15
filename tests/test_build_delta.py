"""A service's build reads only what changed since its last (the store's change numbers,
`store.changes`) and carries the rest over: each way a post can change is seen, whoever
made the change, and the result is a clean build's, byte for byte."""

from __future__ import annotations

from dataclasses import replace

import pytest
from incremental_support import DATES, PostFile, SiteUnderTest, own_database
from migration_support import make_older
from postroom.content.intake import scan
from postroom.core.config import open_site
from postroom.feeds.writer import OutputWriter
from postroom.store import Store
from postroom.store.schema import SCHEMA_VERSION, posts, schema_version
from sqlalchemy import inspect, select, text, update
from support import make_site


@pytest.fixture
def service(tmp_path):
    site = SiteUnderTest(tmp_path / "site")
    try:
        yield site
    finally:
        site.close()


def settle(service: SiteUnderTest, tmp_path, **kwargs):
    found, built = service.scan_and_build(**kwargs)
    service.check(built, tmp_path / "clean")
    return found, built


def post_id(service: SiteUnderTest, title: str) -> str:
    return next(h.id for h in service.store.heads() if h.title == title)


def test_a_build_reads_only_the_posts_changed_since_its_last(service, tmp_path):
    for n in range(4):
        service.write_post(f"p{n}.md", PostFile(f"Duty {n}", DATES[n % 3], tags=("policy",)))
    settle(service, tmp_path)
    assert service.cache.changed is None  # the first build read every head
    service.write_post("p1.md", PostFile("Duty 1", DATES[1], tags=("policy",), body="Edited."))
    _, built = settle(service, tmp_path)
    assert service.cache.changed == {post_id(service, "Duty 1")}
    assert "posts/2016-06-24-duty-1/index.html" in built.written
    _, built = settle(service, tmp_path)  # nothing changed: nothing read, nothing written
    assert service.cache.changed == frozenset() and built.written == ()


def test_a_change_made_by_another_process_is_seen(service, tmp_path):
    service.write_post("a.md", PostFile("Review", DATES[0], tags=("policy",)))
    service.write_post("b.md", PostFile("Snow", DATES[1], tags=("policy",)))
    settle(service, tmp_path)
    service.write_post("b.md", PostFile("Snow", DATES[1], tags=("leadership",)))
    service.write_post("c.md", PostFile("Duty", DATES[2]))
    other = Store(service.site.store_url)  # another process's store: the same database
    try:
        service.now = service.now.replace(hour=10)
        scan(service.site, other, service.now)
    finally:
        other.close()
    _, built = service.scan_and_build()  # this process's scan finds nothing new
    service.check(built, tmp_path / "clean")
    assert service.cache.changed == {post_id(service, "Snow"), post_id(service, "Duty")}
    assert "tags/leadership/index.html" in built.written
    public = service.site.public_dir
    assert "Snow" not in (public / "tags/policy/index.html").read_text(encoding="utf-8")


def test_a_row_written_by_hand_is_a_change(service, tmp_path):
    """Numbered by the database's triggers, not by the code that writes: an UPDATE from
    anywhere (a withdrawal here) is seen."""
    service.write_post("a.md", PostFile("Review", DATES[0]))
    service.write_post("b.md", PostFile("Snow", DATES[1]))
    settle(service, tmp_path)
    gone = post_id(service, "Snow")
    with service.store.engine.begin() as conn:
        conn.execute(update(posts).where(posts.c.id == gone).values(withdrawn=True))
    _, built = service.scan_and_build()
    assert service.cache.changed == {gone}
    assert f"posts/{gone}/index.html" in built.removed


def test_a_withdrawn_post_leaves_every_list_and_feed(service, tmp_path):
    for n, tag in enumerate(("policy", "policy", "leadership")):
        service.write_post(f"p{n}.md", PostFile(f"Duty {n}", DATES[n], tags=(tag,)))
    settle(service, tmp_path)
    gone = post_id(service, "Duty 2")
    service.content("p2.md").unlink()
    _, built = settle(service, tmp_path)
    assert service.cache.changed == {gone}
    assert f"posts/{gone}/index.html" in built.removed
    assert not (service.site.public_dir / "tags" / "leadership").exists()


def test_an_edit_that_moves_a_post_to_another_year_and_tag(service, tmp_path, monkeypatch):
    import postroom.feeds.pages as pages

    monkeypatch.setattr(pages, "ON_FIRST_PAGE", 2)  # year pages from the third post
    for n in range(5):
        service.write_post(f"p{n}.md", PostFile(f"Duty {n}", DATES[n % 3], tags=("policy",)))
    settle(service, tmp_path)
    before = (service.site.public_dir / "posts/2016.html").read_bytes()
    service.write_post("p0.md", PostFile("Duty 0", DATES[2], tags=("leadership",)))
    _, built = settle(service, tmp_path)
    assert {"posts/2016.html", "posts/2018.html", "tags/leadership/index.html"} <= set(
        built.written
    )
    assert (service.site.public_dir / "posts/2016.html").read_bytes() != before


def test_a_config_change_in_the_same_process_renders_what_uses_it(service, tmp_path):
    """The cache is kept (no restart), the site's key is not: nothing is carried over."""
    for n in range(3):
        service.write_post(f"p{n}.md", PostFile(f"Duty {n}", DATES[n], tags=("policy",)))
    settle(service, tmp_path)
    service.config = replace(service.config, title="Notes & Queries")
    (service.root / "postroom.toml").write_text(service.config.text(), encoding="utf-8")
    service.site = open_site(service.root)  # the same cache and store
    _, built = settle(service, tmp_path)
    assert len([n for n in built.written if n.startswith("posts/2")]) == 3


def test_a_build_with_nothing_new_looks_at_no_post_page(service, tmp_path, monkeypatch):
    for n in range(30):
        service.write_post(f"p{n}.md", PostFile(f"Duty {n}", DATES[n % 3]))
    settle(service, tmp_path)
    looked: list[str] = []
    fresh = OutputWriter.fresh
    monkeypatch.setattr(OutputWriter, "fresh", lambda w, n, k: looked.append(n) or fresh(w, n, k))
    _, built = service.scan_and_build()
    assert built.written == () and not [n for n in looked if n.startswith("posts/2")]
    service.damage_seen()  # the service saw public/ touched by hand: every file looked at
    service.scan_and_build()
    assert len([n for n in looked if n.startswith("posts/2")]) == 30


def test_change_numbers_follow_every_write_of_a_post(tmp_path):
    site = make_site(tmp_path, {"a.md": "---\ntitle: A\ndate: 2026-01-02\n---\nText.\n"})
    store = Store(site.store_url)
    try:
        epoch, start, _ = store.changes_since(None)
        scan(site, store)
        (a,) = store.heads()
        _, seq, ids = store.changes_since(start)
        assert ids == {a.id} and seq > start
        (site.root / "content/news").mkdir()
        (site.root / "content/a.md").rename(site.root / "content/news/a.md")  # its file only
        scan(site, store)
        again, later, ids = store.changes_since(seq)
        assert again == epoch and ids == {a.id} and later > seq
        assert store.changes_since(later)[2] == frozenset()
        (site.root / "content/news/a.md").unlink()  # withdrawn: still a change
        scan(site, store)
        assert store.changes_since(later)[2] == {a.id}
    finally:
        store.close()
    with own_database():  # on PostgreSQL, a database of its own (not the test's)
        other = Store(make_site(tmp_path / "other").store_url)
        try:
            assert other.changes_since(None)[0] != epoch  # numbers of one database only
        finally:
            other.close()


def test_a_schema_12_database_gets_change_numbers(tmp_path):
    site = make_site(tmp_path, {"a.md": "---\ntitle: A\ndate: 2026-01-02\n---\nText.\n"})
    store = Store(site.store_url)
    scan(site, store)
    with store.engine.begin() as conn:
        make_older(conn, 12)
    store.close()
    store = Store(site.store_url)  # migrated
    try:
        assert "changed" in {c["name"] for c in inspect(store.engine).get_columns("posts")}
        with store.engine.connect() as conn:
            assert conn.execute(select(schema_version.c.version)).scalar() == SCHEMA_VERSION
        _, seq, _ = store.changes_since(None)
        assert seq == 0  # rows from before: numbered 0, read whole by a first build
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE posts SET title = 'B'"))
        assert len(store.changes_since(0)[2]) == 1
    finally:
        store.close()


def test_a_page_edited_by_hand_is_mended_by_the_hourly_look(service, tmp_path):
    """The service sees files removed, not files changed: a build with a cache still
    looks at every file once `RECHECK_SECONDS` have passed since the last that did."""
    from postroom.feeds.cache import RECHECK_SECONDS

    for n in range(3):
        service.write_post(f"p{n}.md", PostFile(f"Duty {n}", DATES[n]))
    settle(service, tmp_path)
    page = service.site.public_dir / "posts/2016-06-23-duty-0/index.html"
    page.write_bytes(b"by hand\n")
    _, built = service.scan_and_build()
    assert built.written == ()  # carried over: not looked at
    service.cache.checked_at -= RECHECK_SECONDS
    _, built = settle(service, tmp_path)
    assert built.written == ("posts/2016-06-23-duty-0/index.html",)


def test_a_kept_archive_page_says_no_problem_a_clean_build_does_not(service, tmp_path, monkeypatch):
    """A long post cut short in feeds is reported while a feed's window holds it. Once
    none does, a clean build renders its archive page without trying its posts one by
    one, so says nothing of it; a kept (unchanged) page must say nothing either, whatever
    the last build's window found. (Found by the wide property test.)"""
    from incremental_support import LONG_BODY, small_archive_pages

    small_archive_pages(monkeypatch, 2)
    service.write_post("l.md", PostFile("Review", DATES[0], tags=("policy",), body=LONG_BODY))
    for name in ("x", "y", "z"):  # window 2: the long post archived, on a full first page
        service.scan_only()
        service.write_post(f"{name}.md", PostFile(f"Snow {name}", DATES[1]))
    _, built = settle(service, tmp_path)
    assert [p.file for p in built.problems] == ["l.md"]  # in the window of policy
    for name in ("p", "q"):  # out of that window too; its archive page unchanged
        service.write_post(f"{name}.md", PostFile(f"Duty {name}", DATES[2], tags=("policy",)))
    _, built = settle(service, tmp_path)
    assert "archive/atom-1.xml" not in built.written and built.problems == ()


def test_a_post_in_one_year_leaves_the_next_years_page_unrendered(service, tmp_path, monkeypatch):
    """A year's page links to the years beside it by year, not by count: on a big site
    last year's page is thousands of posts, not to be made again for each new one."""
    import postroom.feeds.pages as pages

    monkeypatch.setattr(pages, "ON_FIRST_PAGE", 2)
    for n in range(4):
        service.write_post(f"p{n}.md", PostFile(f"Duty {n}", DATES[n % 3]))
    settle(service, tmp_path)
    made: list[str] = []
    put = OutputWriter.put
    monkeypatch.setattr(OutputWriter, "put", lambda w, n, *a: made.append(n) or put(w, n, *a))
    service.write_post("new.md", PostFile("Snow", DATES[2]))  # 2018; 2016 is beside it
    _, built = service.scan_and_build()
    listed = sorted(n for n in made if n.startswith("posts/"))
    service.check(built, tmp_path / "clean")  # (a clean build puts them all)
    assert "posts/2018.html" in listed and "posts/2016.html" not in listed, listed


def _copy_database(source: str, target: str) -> None:
    """SQLite's online backup (what `.backup` and `.restore` use)."""
    import sqlite3

    a, b = sqlite3.connect(source), sqlite3.connect(target)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


@pytest.mark.once  # SQLite's backup API: the SQLite pass
def test_a_database_put_back_from_a_backup_is_read_again_whole(service, tmp_path):
    """Put back, the database has its old epoch and numbers below the cache's: the
    cache must not take them for ones it has seen (it kept the edit the backup lacks)."""
    database = service.site.store_url.removeprefix("sqlite:///")
    service.write_post("a.md", PostFile("Review", DATES[0]))
    service.write_post("b.md", PostFile("Snow", DATES[1]))
    settle(service, tmp_path)
    _copy_database(database, str(tmp_path / "backup.db"))  # the nightly backup
    service.write_post("a.md", PostFile("Review", DATES[0], body="Edited after the backup."))
    settle(service, tmp_path)
    _copy_database(str(tmp_path / "backup.db"), database)  # put back, with content/ as it was
    service.write_post("a.md", PostFile("Review", DATES[0]))
    _, built = settle(service, tmp_path)
    assert service.cache.changed is None  # every head read again
    assert "posts/2016-06-23-review/index.html" in built.written


def test_a_build_that_failed_after_reading_the_changes_leaves_nothing_carried(service, tmp_path):
    """The changes a failed build took are spent: the next build must not carry over
    the pages of the posts it read (a new post's page would be missing, linked from
    every list)."""
    service.write_post("a.md", PostFile("Review", DATES[0]))
    settle(service, tmp_path)
    settle(service, tmp_path)
    public = service.site.public_dir
    stray = public.parent / f".{public.name}.scratch"  # the build's scratch folder: a file
    stray.write_text("in the way")
    service.write_post("a.md", PostFile("Review", DATES[0], body="Edited."))
    service.write_post("c.md", PostFile("Duty", DATES[2]))
    with pytest.raises(OSError):
        service.scan_and_build()
    stray.unlink()
    _, built = settle(service, tmp_path)
    assert (public / "posts/2018-03-05-duty/index.html").is_file()
    assert "posts/2016-06-23-review/index.html" in built.written
