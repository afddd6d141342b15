"""Incremental builds: what decides that an output is left alone (its key, its file as
written), what a service's `BuildCache` reads again, and that none of it changes a byte."""

import json
import os
import shutil
from dataclasses import replace

import pytest
from postroom import feeds
from postroom.core.model import newest_first
from postroom.feeds import BuildCache, PostList, build
from postroom.feeds.catalogue import head_of
from postroom.feeds.safety import admit, admit_one
from postroom.feeds.writer import MANIFEST, OutputWriter
from support import make_post


class CountingList(PostList):
    """A catalogue that says which heads and whole posts a build asked it for."""

    def __init__(self, posts):
        super().__init__(posts)
        self.heads_asked: list[list[str] | None] = []
        self.posts_asked: list[str] = []

    def heads(self, ids=None):
        self.heads_asked.append(None if ids is None else sorted(ids))
        return super().heads(ids)

    def posts_by_id(self, ids):
        ids = list(ids)
        self.posts_asked += ids
        return super().posts_by_id(ids)


def outputs(site):
    root = site.public_dir
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }


def test_fresh_is_the_same_key_and_the_file_as_written(tmp_path):
    out = OutputWriter(tmp_path)
    out.put("a.html", b"one", "key-1")
    out.put("b.html", b"two")  # no key: never fresh
    out.finish()
    again = OutputWriter(tmp_path)
    assert again.fresh("a.html", "key-1")
    assert not again.fresh("a.html", "key-2")
    assert not again.fresh("b.html", "")
    written = (tmp_path / "a.html").stat().st_mtime_ns
    (tmp_path / "a.html").write_bytes(b"ONE")  # same size, new mtime: set, since a kernel
    os.utime(tmp_path / "a.html", ns=(written + 10**9,) * 2)  # with coarse clocks may not
    assert not OutputWriter(tmp_path).fresh("a.html", "key-1")
    (tmp_path / "a.html").unlink()
    assert not OutputWriter(tmp_path).fresh("a.html", "key-1")


def test_a_build_that_changed_nothing_leaves_the_manifest_alone(feed_site):
    posts = [make_post(n) for n in range(1, 6)]
    build(feed_site, posts)
    manifest = feed_site.public_dir / MANIFEST
    before = manifest.stat().st_mtime_ns
    report = build(feed_site, posts)
    assert report.written == () and report.removed == ()
    assert manifest.stat().st_mtime_ns == before


def test_a_cache_reads_again_only_the_heads_that_changed(feed_site):
    posts = [make_post(n) for n in range(1, 9)]
    cache = BuildCache()
    first = CountingList(posts)
    build(feed_site, first, cache=cache)
    assert first.heads_asked == [sorted(p.id for p in posts)]  # all new to the cache

    edited = replace(posts[0], title="Retitled", updated=posts[0].updated)
    second = CountingList([edited, *posts[1:]])
    report = build(feed_site, second, cache=cache)
    assert second.heads_asked == [["post-1"]]
    assert "posts/post-1/index.html" in report.written
    # its page, and the lists and feeds it is in: never a page of an unchanged post
    assert not [
        name for name in report.written if name.startswith("posts/post-") and "post-1/" not in name
    ]

    with_cache = outputs(feed_site)
    shutil.rmtree(feed_site.public_dir)
    build(feed_site, [edited, *posts[1:]])  # a clean build, no cache: the same bytes
    assert outputs(feed_site) == with_cache


def test_a_cache_still_reports_a_refused_post_at_every_build(feed_site):
    bad = make_post(3, id="not a folder name/..")
    posts = [make_post(1), make_post(2), bad]
    cache = BuildCache()
    for _ in range(2):
        report = build(feed_site, posts, cache=cache)
        assert [p.file for p in report.problems if "not published" in p.reason] == ["p3.txt"]


def test_a_cache_rereads_a_manifest_another_build_wrote(feed_site):
    posts = [make_post(n) for n in range(1, 4)]
    cache = BuildCache()
    build(feed_site, posts, cache=cache)
    build(feed_site, posts[:2])  # another process: post 3 withdrawn, its page removed
    assert not (feed_site.public_dir / "posts/post-3").exists()
    report = build(feed_site, posts, cache=cache)  # must not trust what it kept
    assert "posts/post-3/index.html" in report.written
    assert (feed_site.public_dir / "posts/post-3/index.html").is_file()


def test_power_cut_leftovers_are_made_again(feed_site):
    """A file a power cut left empty (renamed before its data reached the disk) does not
    match its manifest entry, so the next build writes it again."""
    posts = [make_post(n) for n in range(1, 4)]
    build(feed_site, posts)
    page = feed_site.public_dir / "posts/post-2/index.html"
    stat = page.stat()
    page.write_bytes(b"")
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with its old mtime
    report = build(feed_site, posts)
    assert report.written == ("posts/post-2/index.html",)
    assert b"Post number 2" in page.read_bytes()


def test_a_sync_the_disk_refused_fails_the_build_before_its_manifest(feed_site, monkeypatch):
    """syncfs(2) reporting EIO (a write that never reached the disk) is not papered over
    by a sync() that reports nothing: the manifest must not vouch for those files."""
    import postroom.feeds.writer as writer

    posts = [make_post(1)]
    build(feed_site, posts)
    before = (feed_site.public_dir / MANIFEST).read_bytes()
    monkeypatch.setattr(writer, "_libc_syncfs", lambda fd: -1)
    monkeypatch.setattr(writer.ctypes, "get_errno", lambda: 5)  # EIO
    with pytest.raises(OSError, match="syncfs"):
        build(feed_site, [make_post(1, title="Changed")])
    assert (feed_site.public_dir / MANIFEST).read_bytes() == before


def test_a_hand_edited_manifest_makes_files_again_and_never_breaks_a_build(feed_site):
    posts = [make_post(n) for n in range(1, 5)]
    build(feed_site, posts)
    manifest = feed_site.public_dir / MANIFEST
    listing = json.loads(manifest.read_text())
    listing["files"]["."] = ["k", 1, 1]  # names the folder itself: never to be removed
    listing["files"]["./"] = None
    listing["remembered"]["verdicts"] = {p.id: [] for p in posts} | {"post-1": [1, 2, 3]}
    manifest.write_text(json.dumps(listing))
    report = build(feed_site, posts)
    assert report.removed == () and feed_site.public_dir.is_dir()
    assert outputs(feed_site)  # built, and the verdicts made again
    assert json.loads(manifest.read_text())["remembered"]["verdicts"]["post-1"][1] == "ok"


def test_a_list_override_that_asks_a_post_for_its_text_falls_back_to_the_packaged_one(
    feed_site,
):
    """Lists are made from heads (no body, summary or comment): an override written for
    whole posts raises in Python, not in Jinja, and must not stop the build."""
    override = feed_site.root / "templates" / "pages" / "posts.html"
    override.parent.mkdir(parents=True)
    override.write_text(
        '{% extends "base.html" %}{% block main %}'
        "{% for post in posts %}{{ shown(post).teaser }}{% endfor %}{% endblock %}"
    )
    report = build(feed_site, [make_post(1), make_post(2)])
    assert "posts/index.html" in report.written
    assert b"Post number 2" in (feed_site.public_dir / "posts/index.html").read_bytes()


def test_post_pages_go_before_the_heads_are_sorted_and_the_issues_read(feed_site, monkeypatch):
    """A first build sends the post pages out before anything else is worked out: the
    heads' orders (`BuildCache.ordered`) and the archive's issues (asked for by a
    function) come after, then are as a build made from them whole would make them."""
    seen: list[str] = []
    sending = feeds._write_post_pages

    def pages(*args, **kwargs):
        seen.append("pages, unsorted" if cache.orders is None else "pages, sorted")
        return sending(*args, **kwargs)

    def issues():
        seen.append("issues")
        return []

    monkeypatch.setattr(feeds, "_write_post_pages", pages)
    cache = BuildCache()
    posts = [make_post(n) for n in range(1, 9)]
    build(feed_site, posts, issues, cache=cache)
    assert seen == ["pages, unsorted", "issues"]
    assert cache.orders is not None
    assert [h.id for h in cache.orders.newest.descending()] == [
        p.id for p in sorted(posts, key=newest_first, reverse=True)
    ]
    with_cache = outputs(feed_site)
    shutil.rmtree(feed_site.public_dir)
    monkeypatch.undo()
    build(feed_site, posts)  # no cache, the issues given as they are: the same bytes
    assert outputs(feed_site) == with_cache


def test_a_head_admitted_alone_is_refused_as_among_all(feed_site):
    bad = head_of(make_post(3, id="not a folder name/.."))
    good = head_of(make_post(1))
    admitted, problems = admit([good, bad])
    assert admit_one(good) == (good, None)
    assert admit_one(bad) == (None, problems[0])
    assert admitted == [good]
