"""What keeps a build of 100,000 posts under 300 MB (issue 19): every head is held, so
what heads share is held once, and a page's name is one string however many records
name it. Each test checks the sharing itself (object identity), not a byte count that
would depend on the interpreter."""

import gc
from datetime import UTC, datetime

from postroom import feeds
from postroom.content.intake import scan
from postroom.feeds import BuildCache, build
from postroom.feeds.pages import post_page_name
from postroom.feeds.writer import OutputWriter
from postroom.service.command import Context
from postroom.service.heap import Heap
from postroom.service.jobs import Jobs
from postroom.store import Store
from support import make_site

T0 = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _post(n: int, source: str, author: str) -> str:
    return (
        f'---\ntitle: "Post {n}"\ndate: 2016-06-{n:02d}\nauthor: {author}\n'
        f"source: {source}\ntags: [policy]\n---\nBody of post {n}.\n"
    )


def _site(tmp_path):
    files = {f"p{n}.md": _post(n, "Community Care", "Mark Rogers") for n in range(1, 5)}
    files["p9.md"] = _post(9, "Council News", "Writer 9")
    site = make_site(tmp_path, files)
    store = Store(site.store_url)
    scan(site, store)
    return site, store


def test_heads_of_posts_from_one_source_and_author_share_one_attribution(tmp_path):
    _, store = _site(tmp_path)
    heads = store.heads()
    assert len(heads) == 5
    same = [h for h in heads if h.attribution.source == "Community Care"]
    assert len(same) == 4 and all(h.attribution is same[0].attribution for h in same)
    assert same[0].attribution.author == "Mark Rogers"
    other = next(h for h in heads if h.attribution.source == "Council News")
    assert other.attribution.author == "Writer 9"
    assert all(h.tags is same[0].tags for h in heads)  # one tuple for one list of tags
    # newest pick-up first, and heads by id are the same heads as all of them
    in_order = sorted(sorted(heads, key=lambda h: h.id), key=_picked_up, reverse=True)
    assert [h.id for h in heads] == [h.id for h in in_order]
    by_id = {h.id: h for h in store.heads([h.id for h in heads][::-1])}
    assert by_id == {h.id: h for h in heads}
    store.close()


def _picked_up(head):
    return head.picked_up


def test_a_page_is_named_by_one_string_in_the_manifest_read_and_the_build(tmp_path):
    site, store = _site(tmp_path)
    build(site, store)
    head = store.heads()[0]
    name = post_page_name(head)
    assert name is post_page_name(head)  # interned: two builds of the name are one string
    out = OutputWriter(site.public_dir)  # the manifest as a new process reads it
    listed = next(n for n in out._before if n == name)
    assert listed is name
    store.close()


def test_a_service_keeps_one_name_for_a_page_in_its_cache_and_manifest(tmp_path):
    site, store = _site(tmp_path)
    cache = BuildCache()
    build(site, store, cache=cache)
    build(site, store, cache=cache)  # warm: pages kept, as a new process would keep them
    assert cache.manifest is not None and cache.pages
    for name in cache.pages:
        manifest_name = next(n for n in cache.manifest.entries if n == name)
        assert manifest_name is name
    store.close()


def test_a_whole_site_build_gives_freed_memory_back_on_glibc():
    # this machine's C library is glibc: a build that read every head trims the heap
    assert feeds._malloc_trim is not None
    feeds.give_back()


def test_only_the_service_gives_a_whole_build_s_memory_back(tmp_path, monkeypatch):
    """The service trims after a build that read every head, not after one that read
    what changed; `run --once` (no heap to settle: a command about to end) never does."""
    site, store = _site(tmp_path)
    trims: list[int] = []
    monkeypatch.setattr(feeds, "give_back", lambda: trims.append(1))
    Jobs(Context(site, store, lambda: T0), None).refresh()  # as `run --once` builds
    assert trims == []
    service = Jobs(Context(site, store, lambda: T0), None, heap=Heap())
    try:
        assert service.refresh() is not None  # its first build reads every head
        assert trims == [1]
        service._stale = True  # a post saved: the next build reads only what changed
        assert service.refresh() is not None
        assert trims == [1]
    finally:
        gc.unfreeze()  # what the service's heap froze: this test's, not the next one's
        store.close()
