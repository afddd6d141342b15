"""Incremental intake against a real SQLite file: identity, edits, deletes, duplicates."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from postroom.content.intake import scan
from postroom.core.config import ConfigError
from postroom.core.model import DateSource, Severity
from postroom.store import Store
from support import ARCHIVE, NEWS_PAGE, UNDATED_COMMENT, make_site, write

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

MD = "---\ntitle: Hubs\ndate: 2021-07-23\nauthor: Sam\n---\nFamily hubs text.\n"


@pytest.fixture
def site(tmp_path):
    return make_site(
        tmp_path,
        {
            "archive.txt": ARCHIVE,
            "news/page.txt": NEWS_PAGE,
            "opinion/undated.txt": UNDATED_COMMENT,
            "notes/hubs.md": MD,
        },
    )


@pytest.fixture
def store(site):
    store = Store(site.store_url)
    yield store
    store.close()


def by_title(store):
    return {p.title: p for p in store.posts()}


def test_cold_scan_then_unchanged_rescan_parses_nothing(site, store):
    first = scan(site, store, T0)
    assert first.files == 4 and first.parsed == 4 and len(first.new) == 5
    again = scan(site, store, T0 + timedelta(minutes=1))
    assert again.parsed == 0 and not again.changed


def test_touched_file_is_hashed_not_parsed_and_new_file_costs_one_parse(site, store):
    scan(site, store, T0)
    path = site.content_dir / "archive.txt"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert scan(site, store, T0).parsed == 0
    write(site.content_dir / "more" / "new.md", MD.replace("Hubs", "New one"))
    report = scan(site, store, T0 + timedelta(hours=1))
    assert report.parsed == 1 and len(report.new) == 1


def test_the_same_post_in_two_captures_is_one_post_remembering_both(site, store):
    single = ARCHIVE.split("Thursday, 1 March 2018")[0]
    write(site.content_dir / "copy-of-first.txt", single)
    scan(site, store, T0)
    post = by_title(store)["First thoughts on the review"]
    assert post.files == ("archive.txt", "copy-of-first.txt")
    assert len(store.posts()) == 5


def test_edit_keeps_id_bumps_updated_and_keeps_pick_up(site, store):
    scan(site, store, T0)
    before = by_title(store)["Hubs"]
    write(site.content_dir / "notes/hubs.md", MD.replace("Hubs", "Family hubs, revisited"))
    report = scan(site, store, T0 + timedelta(days=1))
    after = by_title(store)["Family hubs, revisited"]
    assert report.updated == (before.id,) and not report.new
    assert after.id == before.id
    assert after.picked_up == before.picked_up and after.updated > before.updated


def test_deleted_file_withdraws_its_posts_but_not_those_found_elsewhere(site, store):
    write(site.content_dir / "copy.txt", ARCHIVE.split("Thursday, 1 March 2018")[0])
    scan(site, store, T0)
    (site.content_dir / "archive.txt").unlink()
    report = scan(site, store, T0 + timedelta(hours=1))
    titles = by_title(store)
    assert "Snow days and duty teams" not in titles
    assert titles["First thoughts on the review"].files == ("copy.txt",)
    assert len(report.withdrawn) == 1


def test_withdrawn_post_returns_with_its_old_id(site, store):
    scan(site, store, T0)
    first_id = by_title(store)["Hubs"].id
    hubs = site.content_dir / "notes/hubs.md"
    hubs.unlink()
    scan(site, store, T0 + timedelta(hours=1))
    write(hubs, MD)
    report = scan(site, store, T0 + timedelta(hours=2))
    assert report.updated == (first_id,) and by_title(store)["Hubs"].id == first_id


def test_broken_edit_keeps_last_good_version_and_reports_the_file(site, store):
    scan(site, store, T0)
    hubs = site.content_dir / "notes/hubs.md"
    write(hubs, "---\ntitle: [broken\n---\nx\n")
    report = scan(site, store, T0 + timedelta(hours=1))
    assert "Hubs" in by_title(store)
    [error] = [p for p in report.problems if p.severity is Severity.ERROR]
    assert error.file == "notes/hubs.md"
    write(hubs, MD.replace("Family hubs text.", "Fixed text."))
    report = scan(site, store, T0 + timedelta(hours=2))
    assert not [p for p in report.problems if p.severity is Severity.ERROR]
    assert "Fixed text." in by_title(store)["Hubs"].body_html


def test_undated_post_is_dated_by_pick_up_and_keeps_that_date(site, store):
    scan(site, store, T0)
    post = by_title(store)["Reform needs patience"]
    assert post.date_source is DateSource.PICKED_UP
    assert post.date == T0 and post.picked_up == T0
    write(site.content_dir / "opinion/undated.txt", UNDATED_COMMENT + "\n")
    scan(site, store, T0 + timedelta(days=3))  # same post, file touched
    assert by_title(store)["Reform needs patience"].date == T0


def test_an_old_article_added_today_is_picked_up_today(site, store):
    scan(site, store, T0)
    write(site.content_dir / "old.md", MD.replace("Hubs", "From 2009").replace("2021", "2009"))
    scan(site, store, T0 + timedelta(days=1))
    newest = store.posts()[0]
    assert newest.title == "From 2009" and newest.picked_up == T0 + timedelta(days=1)


def test_state_survives_a_new_store_on_the_same_file(site, store):
    scan(site, store, T0)
    ids = sorted(p.id for p in store.posts())
    store.close()
    reopened = Store(site.store_url)
    try:
        assert scan(site, reopened, T0 + timedelta(hours=1)).parsed == 0
        assert sorted(p.id for p in reopened.posts()) == ids
    finally:
        reopened.close()


def test_editor_temp_and_hidden_files_are_ignored(site, store):
    for name in (".hubs.md.swp", "hubs.md~", "4913", ".#hubs.md", "draft.tmp", ".hidden/x.md"):
        write(site.content_dir / name, MD.replace("Hubs", name))
    assert scan(site, store, T0).files == 4


def test_captures_among_a_cold_start_are_parsed_in_workers_as_in_one_process(tmp_path):
    """The forkserver does not import the captures' parser (content.readers.PARSERS): each
    worker imports it at its first capture, and reads it as a scan in one process does."""
    from postroom.content.intake import _PARALLEL_FROM
    from postroom.content.readers import read_file

    captures = {"archive.txt": ARCHIVE, "news/page.txt": NEWS_PAGE}
    files = {f"bulk/{i:04d}.md": MD.replace("Hubs", f"Post {i}") for i in range(_PARALLEL_FROM)}
    site = make_site(tmp_path, {**files, **captures})
    wanted = sorted(  # as read in this process
        (post.title, post.date)
        for name, text in captures.items()
        for post in read_file(name, text.encode(), None, site.config).posts
    )
    store = Store(site.store_url)
    try:
        report = scan(site, store, T0)
        assert report.parsed == _PARALLEL_FROM + 2 and report.problems == ()
        got = sorted((p.title, p.date) for p in store.posts() if p.files[0] in captures)
        assert got == wanted and len(wanted) > 2
    finally:
        store.close()


def test_a_big_cold_start_parsed_in_worker_processes_gives_the_same_posts(tmp_path):
    from postroom.content.intake import _PARALLEL_FROM

    files = {f"bulk/{i:04d}.md": MD.replace("Hubs", f"Post {i}") for i in range(_PARALLEL_FROM)}
    files["bulk/bad.md"] = "---\ntitle: [broken\n---\n"
    site = make_site(tmp_path, files)
    store = Store(site.store_url)
    try:
        report = scan(site, store, T0)
        assert report.parsed == _PARALLEL_FROM + 1 and len(report.new) == _PARALLEL_FROM
        assert [p.file for p in report.problems] == ["bulk/bad.md"]
        assert {p.title for p in store.posts()} == {f"Post {i}" for i in range(_PARALLEL_FROM)}
    finally:
        store.close()


def test_a_missing_content_folder_is_an_error_not_a_mass_withdrawal(site, store):
    scan(site, store, T0)
    site.content_dir.rename(site.root / "elsewhere")
    with pytest.raises(ConfigError, match="content folder is missing"):
        scan(site, store, T0 + timedelta(hours=1))
    assert len(store.posts()) == 5
