"""A big build's workers write the post pages they render (feeds/parallel.py): the
parent journals a task's pages before sending it and takes back each page's size and
mtime for the manifest. So a page a worker wrote is on the manifest as written, a page
whose bytes are right is left alone, and a kill of every process mid-batch leaves no
page that the journal does not name, which the next build then removes like any other
stale output. Also: `write_atomic` makes a folder once a process, and again if it went.

Real worker processes (`core.pool`), a real store, real SIGKILL; thresholds lowered so
that a few dozen posts use the workers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from postroom.content.intake import scan
from postroom.feeds import build, parallel
from postroom.feeds.writer import JOURNAL, MANIFEST, OutputWriter, read_manifest, write_atomic
from postroom.store import Store
from service_support import postroom_env
from support import make_site

CONFIG = '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Notes"\n'


def post(n: int) -> str:
    body = " ".join(f"Word{n}x{i}" for i in range(80))
    return f"---\ntitle: Post {n}\ndate: 2016-{n % 12 + 1:02d}-{n % 28 + 1:02d}\n---\n{body}\n"


def scanned_site(root: Path, count: int, config: str = CONFIG):
    site = make_site(root, {f"p{n:03d}.md": post(n) for n in range(count)}, config=config)
    store = Store(site.store_url)
    scan(site, store)
    return site, store


def files_under(public: Path) -> set[str]:
    return {p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file()}


def post_pages(names) -> set[str]:
    """The posts' own pages (posts/<id>/index.html) of `names`, not the list of them."""
    return {n for n in names if n.startswith("posts/") and n.count("/") == 2}


def entries(public: Path) -> dict[str, list]:
    return json.loads((public / MANIFEST).read_text(encoding="utf-8"))["files"]


def test_a_page_a_worker_wrote_is_in_the_manifest_with_its_size_and_mtime(tmp_path, monkeypatch):
    site, store = scanned_site(tmp_path / "site", 30)
    monkeypatch.setattr(parallel, "POST_PAGES_FROM", 1)
    monkeypatch.setattr(parallel, "_PAGES_PER_TASK", 4)
    put_here: list[str] = []  # what the parent itself wrote
    real_put = OutputWriter.put

    def put(self, name, data, key=None):
        put_here.append(name)
        return real_put(self, name, data, key)

    monkeypatch.setattr(OutputWriter, "put", put)
    report = build(site, store)
    pages = sorted(post_pages(report.written))
    assert len(pages) == 30
    assert not post_pages(put_here)  # all written by workers
    listed = entries(site.public_dir)
    for name in pages:
        st = os.stat(site.public_dir / name)
        key, size, mtime_ns = listed[name]
        assert key and (size, mtime_ns) == (st.st_size, st.st_mtime_ns), name
        assert (st.st_mode & 0o777) == 0o644
    assert files_under(site.public_dir) - {MANIFEST} == set(listed)
    assert not (site.root / f".{site.public_dir.name}.scratch").exists()  # temps gone

    # the manifest lost: every page is stale, rendered again by the workers, found
    # the same and left alone (same inode, same mtime), and on the manifest again
    before = {n: os.stat(site.public_dir / n) for n in pages}
    (site.public_dir / MANIFEST).unlink()
    again = build(site, store)
    assert not post_pages(again.written)
    listed = entries(site.public_dir)
    for name, st in before.items():
        now = os.stat(site.public_dir / name)
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), name
        assert listed[name][1:] == [now.st_size, now.st_mtime_ns]


# In the build's workers: the third page a worker writes is written, then every
# process of the build (the parent, the forkserver, the workers) is SIGKILLed at once.
KILLER = """
import os, signal
from postroom.feeds import parallel
real, seen = parallel.put_file, [0]
def put_file(*args):
    result = real(*args)
    seen[0] += 1
    if seen[0] == 3:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    return result
parallel.put_file = put_file
"""

BUILD = """
import sys
from postroom.core import pool
from postroom.feeds import parallel
parallel.POST_PAGES_FROM = 1
parallel._PAGES_PER_TASK = 5
pool.preload_in_workers("killer")
from postroom.scheduler import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_build_killed_mid_batch_leaves_only_journaled_pages_and_the_next_removes_them(
    tmp_path,
):
    site, store = scanned_site(tmp_path / "site", 40)
    store.close()
    (tmp_path / "killer.py").write_text(KILLER, encoding="utf-8")
    env = {**postroom_env(), "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    cmd = [sys.executable, "-c", BUILD, "--site", str(site.root), "run", "--once", "--no-send"]
    killed = subprocess.run(cmd, env=env, capture_output=True, start_new_session=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

    public = site.public_dir
    online = files_under(public)
    pages = post_pages(online)
    assert len(pages) >= 3 and not (public / MANIFEST).exists()
    [scratch] = (site.root / f".{public.name}.scratch").iterdir()  # the killed build's
    journaled = {json.loads(line) for line in (scratch / JOURNAL).read_text().splitlines()}
    assert online <= journaled  # every page online is on record: nothing unrecorded
    assert not [n for n in online if n.endswith(".tmp")]

    # every post withdrawn but one: the next build takes the journal over and removes
    # the pages the killed build wrote
    for n in range(1, 40):
        (site.content_dir / f"p{n:03d}.md").unlink()
    store = Store(site.store_url)
    scan(site, store)
    build(site, store)
    online = files_under(public)
    [kept] = [head.id for head in store.heads()]
    assert post_pages(online) == {f"posts/{kept}/index.html"}
    assert online - {MANIFEST} == read_manifest(public)
    assert not (site.root / f".{public.name}.scratch").exists()


def test_a_folder_made_once_is_made_again_when_it_is_gone(tmp_path):
    scratch = tmp_path / "scratch" / "me"
    write_atomic(tmp_path / "out/a/b/one.html", b"one", scratch, durable=False)
    shutil.rmtree(tmp_path / "out/a")  # a build removed the folder it emptied
    shutil.rmtree(tmp_path / "scratch")  # a build's scratch, removed as it finished
    write_atomic(tmp_path / "out/a/b/two.html", b"two", scratch, durable=False)
    assert (tmp_path / "out/a/b/two.html").read_bytes() == b"two"
    assert not list(scratch.iterdir())  # its temp file renamed away


def test_what_links_to_post_pages_is_written_once_they_are_all_there(tmp_path, monkeypatch):
    """The parent renders lists and topics while the workers write the post pages, and
    holds them (staged, renamed into place at `release`): each file it puts in place
    finds every post page written already; so do the archive pages workers staged."""
    site, store = scanned_site(tmp_path / "site", 30, CONFIG + "[feed]\nwindow = 5\n")
    monkeypatch.setattr(parallel, "POST_PAGES_FROM", 1)
    monkeypatch.setattr(parallel, "ARCHIVE_PAGES_FROM", 1)
    expected = {f"posts/{head.id}/index.html" for head in store.heads()}
    missing_when: dict[str, int] = {}
    real_took = OutputWriter.took

    def took(self, name, *args):  # every file in place: put, placed, or a worker's
        if name not in expected:
            missing_when[name] = sum(not (self.root / n).exists() for n in expected)
        return real_took(self, name, *args)

    monkeypatch.setattr(OutputWriter, "took", took)
    report = build(site, store, page_size=4)
    assert post_pages(report.written) == expected
    assert {"topics/index.html", "index.html", "archive/atom-1.xml"} <= missing_when.keys()
    assert not {name: n for name, n in missing_when.items() if n}


def test_held_files_are_staged_then_renamed_in_order_after_what_they_wait_for(tmp_path):
    """Held pages are written to temp files of the scratch as they are put (the build
    waits for its workers then), and only renamed into place at `release`."""
    out = OutputWriter(tmp_path / "public")
    (tmp_path / "public").mkdir()
    (tmp_path / "public/same.html").write_bytes(b"same")
    waited: list[str] = []
    out.hold(lambda: waited.append("done"))
    out.put("a/one.html", b"12345", "k")
    out.put("same.html", b"same")
    assert not (tmp_path / "public/a/one.html").exists() and not waited
    assert [p.suffix for p in out.scratch.iterdir()] == [".tmp"]  # staged, not kept
    assert not (out.scratch / JOURNAL).exists()  # on record only when it may appear
    out.put("b.html", b"b")
    out.put("b.html", b"B")  # put twice: the first goes in place, then the second
    assert waited == ["done"] and out.written == ["a/one.html", "b.html", "b.html"]
    assert (tmp_path / "public/b.html").read_bytes() == b"B"
    assert out.unchanged == 1 and not out.holding
    assert (tmp_path / "public/a/one.html").read_bytes() == b"12345"
    st = os.stat(tmp_path / "public/a/one.html")
    assert out.entry("a/one.html") == ("k", st.st_size, st.st_mtime_ns)
    out.put("c.html", b"c")  # no longer held
    assert (tmp_path / "public/c.html").read_bytes() == b"c"
    out.finish()
    assert read_manifest(tmp_path / "public") == {"a/one.html", "same.html", "b.html", "c.html"}
    assert not out.scratch.exists()


def test_a_site_past_the_overlap_takes_its_pages_first_and_builds_the_same(tmp_path, monkeypatch):
    """Past `_OVERLAP_MOST` pages (a memory bound: the pages' records are freed before
    the rest is rendered) the build takes every page back first and holds nothing: the
    same files as the overlapped build."""
    import postroom.feeds as feeds

    monkeypatch.setattr(parallel, "POST_PAGES_FROM", 1)
    monkeypatch.setattr(parallel, "_PAGES_PER_TASK", 4)
    made, held = {}, []
    real_hold = OutputWriter.hold

    def hold(self, *args, **kwargs):
        held.append(self)
        return real_hold(self, *args, **kwargs)

    monkeypatch.setattr(OutputWriter, "hold", hold)
    for name, most in (("overlapped", 10**9), ("first", 0)):
        monkeypatch.setattr(feeds, "_OVERLAP_MOST", most)
        held.clear()
        files = {f"p{n:03d}.md": post(n) for n in range(24)}
        site = make_site(tmp_path / name, files, config=CONFIG)
        store = Store(site.store_url)
        scan(site, store, datetime(2026, 11, 2, 8, 0, tzinfo=UTC))  # the same pick-up time
        report = build(site, store)
        assert len(post_pages(report.written)) == 24
        assert bool(held) is (name == "overlapped")
        made[name] = {
            n: (site.public_dir / n).read_bytes() for n in files_under(site.public_dir) - {MANIFEST}
        }
        store.close()
    assert made["overlapped"] == made["first"]


def test_a_task_s_post_pages_are_all_rendered_before_the_first_is_written(tmp_path, monkeypatch):
    """A worker renders a task's pages, then writes them one after the other (the
    kernel's part of a page stays warm from one to the next): in a post task and in an
    archive page's task alike. What each page is told to the parent is as before."""
    site, store = scanned_site(tmp_path / "site", 6)
    ids = [head.id for head in store.heads()]
    public, scratch = tmp_path / "public", tmp_path / "scratch"
    events: list[str] = []
    real_render, real_put = parallel.render_post_page, parallel.put_file

    def render(site, post):
        events.append("render")
        return real_render(site, post)

    def put(root, name, data, temps):
        events.append("put")
        return real_put(root, name, data, temps)

    monkeypatch.setattr(parallel, "render_post_page", render)
    monkeypatch.setattr(parallel, "put_file", put)
    pages = parallel._write_posts(site, store, ids[:4], str(public), str(scratch))
    assert events == ["render"] * 4 + ["put"] * 4
    assert [page.post_id for page in pages] == ids[:4]
    for page in pages:
        st = os.stat(public / "posts" / page.post_id / "index.html")
        assert page.wrote and (page.size, page.mtime_ns) == (st.st_size, st.st_mtime_ns)

    # an archive page's task: its posts read once, the pages of those not yet written
    # rendered, then written, then the archive page rendered and staged, not in place
    events.clear()
    page = {"archive/atom-1.xml": b"<feed/>"}
    render = lambda *a: events.append("page") or [page]  # noqa: E731
    monkeypatch.setattr("postroom.feeds.history._render", render)
    monkeypatch.setattr(parallel, "_worker", {"site": site, "store": store})
    item = parallel._Both((None, 1, True, tuple(ids)), tuple(ids[4:]))
    written, made = parallel._both_task(item, str(public), str(scratch))
    assert events == ["render"] * 2 + ["put"] * 2 + ["page"]
    staged = made["archive/atom-1.xml"]
    assert Path(staged.temp).parent == scratch and Path(staged.temp).read_bytes() == b"<feed/>"
    assert staged.size == 7 and not (public / "archive/atom-1.xml").exists()
    assert [page.post_id for page in written] == ids[4:]
    assert post_pages(files_under(public)) == {f"posts/{i}/index.html" for i in ids}


def test_merged_post_pages_are_given_back_in_order_as_soon_as_they_are_all_there(monkeypatch):
    """Once archive pages are merged in, the post pages come back in the order of the
    ids given, each task's as soon as its pages are all in (while the workers go on),
    not all once the last result is in; a post no worker found holds up only the rest."""
    pulled: list[int] = []
    results = [
        [page("c"), page("d")],  # a post task's
        ([page("a")], {"archive/atom-1.xml": "staged"}),  # an archive page's, with a's page
        [page("b"), page("f")],  # the rest of a and b's task, taken back; e withdrawn
    ]

    def sent_iter(self):
        for number, result in enumerate(results):
            pulled.append(number)
            yield result

    monkeypatch.setattr(parallel.Sent, "__iter__", sent_iter)
    sent = object.__new__(parallel._PostPages)
    sent._merged, sent._ready = True, {}
    sent._order = [("a", "b"), ("c", "d"), ("e", "f")]
    sent._tasks = [("c", "d"), parallel._Both((None, 1, False, ("a",)), ("a",)), ("b", "f")]
    given = []
    for pages in sent:
        given.append(([p.post_id for p in pages], list(pulled)))
    assert given == [(["a", "b"], [0, 1, 2]), (["c", "d"], [0, 1, 2]), (["f"], [0, 1, 2])]
    assert sent._ready == {1: {"archive/atom-1.xml": "staged"}}

    results.insert(0, results.pop(1))  # a and b first: given back before the rest is in
    pulled.clear()
    sent._tasks = [sent._tasks[1], sent._tasks[0], sent._tasks[2]]
    sent._order = [("a",), ("c", "d"), ("b", "f")]
    given = [([p.post_id for p in pages], list(pulled)) for pages in sent]
    assert given == [(["a"], [0]), (["c", "d"], [0, 1]), (["b", "f"], [0, 1, 2])]


def page(post_id: str) -> parallel.WrittenPage:
    return parallel.WrittenPage(post_id, True, 1, 1, (None, None))
