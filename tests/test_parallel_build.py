"""A big build renders its post pages and archive pages in worker processes
(feeds/parallel.py, core/pool.py): the files, their order, the manifest and the
problems are those of a build in one process, byte for byte; a worker killed
mid-build loses nothing; Ctrl-C and SIGTERM leave no process behind.

The thresholds are lowered so that a site of a few dozen posts uses the workers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from incremental_support import compare_trees, small_archive_pages
from postroom.content.intake import scan
from postroom.core import pool
from postroom.core.model import newest_first
from postroom.feeds import build, parallel
from postroom.feeds.writer import MANIFEST, OutputWriter
from postroom.store import PostWrite, Store
from service_support import stop_while_workers_run
from support import STOPS, make_site, write

CONFIG = '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Notes"\n[feed]\nwindow = 5\n'
POST = """---
title: {title}
date: 2016-{month:02d}-{day:02d}
source: {source}
source_url: https://www.example.org/{n}
tags: [{tags}]
---
{body}
"""
SOURCES = ("Community Care", "Social Times", "The Guardian")


def post(n: int, title: str | None = None, words: int = 60) -> str:
    body = " ".join(f"Word{n}x{i}" for i in range(words)) + "\n\nA *second* paragraph."
    return POST.format(
        title=title or f"Post number {n}",
        month=n % 12 + 1,
        day=n % 28 + 1,
        source=SOURCES[n % 3],
        n=n,
        tags=", ".join(["policy"] if n % 2 else ["practice", "law"]),
        body=body,
    )


def scanned_site(root: Path, count: int, words: int = 60):
    files = {f"p{n:03d}.md": post(n, words=words) for n in range(count)}
    site = make_site(root, files, config=CONFIG)
    store = Store(site.store_url)
    scan(site, store)
    return site, store


def manifest(site) -> dict:
    """The manifest's names with their keys (sizes and mtimes cannot match), and what
    it remembers."""
    data = json.loads((site.public_dir / MANIFEST).read_text(encoding="utf-8"))
    return {
        "files": {name: entry and entry[0] for name, entry in data["files"].items()},
        "remembered": data["remembered"],
    }


@pytest.fixture
def pools(monkeypatch):
    """Every pool a build starts (the real `core.pool.start`, counted)."""
    started = []
    real = pool.start

    def counted(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(pool, "start", counted)
    return started


def workers_from(monkeypatch, pages: int = 1, archives: int = 1) -> None:
    monkeypatch.setattr(parallel, "POST_PAGES_FROM", pages)
    monkeypatch.setattr(parallel, "ARCHIVE_PAGES_FROM", archives)


def both_ways(site, store, monkeypatch, tmp_path, progress=None):
    """A build in one process, then the same from nothing with workers: both reports,
    the first tree kept in tmp_path/alone."""
    workers_from(monkeypatch, 10**9, 10**9)
    alone = build(site, store)
    shutil.copytree(site.public_dir, tmp_path / "alone")
    first = manifest(site)
    shutil.rmtree(site.public_dir)
    workers_from(monkeypatch, 1, 1)
    spread = build(site, store, progress=progress)
    assert manifest(site) == first
    return alone, spread


def test_the_pages_workers_wrote_are_told_per_task(tmp_path, monkeypatch, pools):
    """The progress of post pages that workers wrote is told once per task as they are
    taken (not once per page: at 10,000 pages that was in a cold build's serial tail),
    in order, up to every page."""
    assert small_archive_pages(monkeypatch, 4)  # archive pages queued behind the pages too
    monkeypatch.setattr(parallel, "_PAGES_PER_TASK", 7)
    site, store = scanned_site(tmp_path / "site", 60)
    told: list[tuple[int, int]] = []
    both_ways(site, store, monkeypatch, tmp_path, lambda done, total: told.append((done, total)))
    assert len(pools) == 1
    assert told == [(min(done, 60), 60) for done in range(7, 60 + 7, 7)]  # 9 tasks of 7


def test_workers_write_the_same_bytes_in_the_same_order(tmp_path, monkeypatch, pools):
    assert small_archive_pages(monkeypatch, 4)  # 60 posts, a window of 5: 14 archive pages
    site, store = scanned_site(tmp_path / "site", 60)
    alone, spread = both_ways(site, store, monkeypatch, tmp_path)
    assert len(pools) == 1  # post pages, and the archive pages queued behind them
    assert compare_trees(site.public_dir, tmp_path / "alone") is None
    assert spread.written == alone.written  # the same files in the same order
    assert spread.problems == alone.problems and spread.removed == alone.removed
    assert sum(name.startswith("archive/") for name in spread.written) == 2 * 14
    assert sum(name.startswith("posts/") for name in spread.written) >= 60
    # and again with nothing changed: nothing is rendered, no worker started
    assert build(site, store).written == ()
    assert len(pools) == 1


def test_archive_pages_take_over_the_post_pages_not_begun_before_one_is_taken(
    tmp_path, monkeypatch, pools
):
    """One stream of work: every archive page goes to the workers writing the post
    pages before the parent takes its first result, each in a task with the pages of
    its posts whose post task no worker had begun (taken back: those posts are read
    once, for both); every post page is written by exactly one task; the bytes and
    their order are those of one process."""
    assert small_archive_pages(monkeypatch, 4)  # 60 posts, a window of 5: 14 archive pages
    site, store = scanned_site(tmp_path / "site", 60)
    # a task a post: more than the pool's queue to its workers holds, so most wait
    monkeypatch.setattr(parallel, "_PAGES_PER_TASK", 1)
    sent, at_first_take = [], []  # (item, future) of each task sent
    # the workers stopped (SIGSTOP) as they start, until the merge: they begin at most
    # a task each before it, however long the parent takes to come to it on a loaded
    # machine (where, running, they had sometimes begun every task, none taken back)
    held: list[int] = []
    resumed: list[int] = []
    real_start, real_take, real_merge = pool.start, parallel._from_file, parallel._PostPages.merge

    def start(*args, **kwargs):
        workers = real_start(*args, **kwargs)
        submit = workers.submit

        def kept(fn, numbered):
            assert fn.args[0] is parallel._post_pages_task  # one kind of task, one pool
            sent.append((numbered[1], submit(fn, numbered)))
            for worker in list(workers._processes.values()):
                if worker.pid not in held and not resumed:
                    os.kill(worker.pid, signal.SIGSTOP)
                    held.append(worker.pid)
            return sent[-1][1]

        workers.submit = kept
        return workers

    def merge(self, pages):
        try:
            return real_merge(self, pages)
        finally:
            for pid in held:
                os.kill(pid, signal.SIGCONT)
                resumed.append(pid)

    def take(path):
        if not at_first_take:
            at_first_take.append(list(sent))
        return real_take(path)

    monkeypatch.setattr(pool, "start", start)
    monkeypatch.setattr(parallel, "_from_file", take)
    monkeypatch.setattr(parallel._PostPages, "merge", merge)
    alone, spread = both_ways(site, store, monkeypatch, tmp_path)
    assert len(pools) == 1 and held
    [before] = at_first_take
    assert sent == before  # nothing sent once the parent began to take
    both = [item for item, _ in sent if isinstance(item, parallel._Both)]
    assert [item.page[1] for item in both] == list(range(1, 15))  # every page, in order
    # a task taken back: its worker found it claimed and returned no result file
    back = [item for item, future in sent if future.result() == ""]
    assert back and all(isinstance(item, tuple) for item in back)  # post tasks only
    done = [item for item, future in sent if future.result() != ""]
    ids = [i for item in done for i in (item.ids if isinstance(item, parallel._Both) else item)]
    assert sorted(ids) == sorted(head.id for head in store.heads())  # each page once
    for item in both:  # a page's task writes only pages of posts on it
        assert set(item.ids) <= set(item.page[3])
    assert compare_trees(site.public_dir, tmp_path / "alone") is None
    assert spread.written == alone.written and spread.problems == alone.problems
    assert not multiprocessing.active_children()
    assert not list((site.public_dir.parent / f".{site.public_dir.name}.scratch").rglob("*.pickle"))


def test_a_worker_killed_while_archive_pages_take_post_pages_loses_nothing(
    tmp_path, monkeypatch, caplog
):
    """The workers killed as the archive pages join the post pages (`merge`): the post
    pages of the tasks taken back go with the archive pages' tasks, which no worker is
    left to run, so the parent writes those post pages and renders those archive pages
    itself; the same bytes in the same order, no result left. (Every worker, and dead
    before the merge: with one killed as the first result was taken, a loaded machine's
    other worker had sometimes done every task already, and nothing failed.)"""
    assert small_archive_pages(monkeypatch, 4)  # 60 posts, a window of 5: 14 archive pages
    site, store = scanned_site(tmp_path / "site", 60)
    monkeypatch.setattr(parallel, "_PAGES_PER_TASK", 1)
    merged, killed = [], []
    real_merge = parallel._PostPages.merge

    def merge(self, pages):
        workers = multiprocessing.active_children()
        for worker in workers:
            os.kill(worker.pid, signal.SIGKILL)
        alive = {worker.sentinel for worker in workers}
        while alive:  # each gone (its sentinel readable), before the merge
            alive.difference_update(multiprocessing.connection.wait(alive))
        killed.extend(workers)
        merged.append(len(pages))
        return real_merge(self, pages)

    monkeypatch.setattr(parallel._PostPages, "merge", merge)
    with caplog.at_level(logging.WARNING, logger="postroom.build"):
        alone, spread = both_ways(site, store, monkeypatch, tmp_path)
    assert merged == [14] and killed
    assert "a render worker failed" in caplog.text and "rendered in this process" in caplog.text
    assert compare_trees(site.public_dir, tmp_path / "alone") is None
    assert spread.written == alone.written and spread.problems == alone.problems
    assert not multiprocessing.active_children()
    assert not list((site.public_dir.parent / f".{site.public_dir.name}.scratch").rglob("*.pickle"))


def test_a_post_feedgen_refuses_is_vetted_by_the_parent(tmp_path, monkeypatch, pools):
    """A worker hands back an archive page it cannot render whole; the parent renders it
    with the build's vetting: the same problem, the same page as in one process."""
    assert small_archive_pages(monkeypatch, 4)
    site, store = scanned_site(tmp_path / "site", 40)
    # the oldest post, on archive page 1 and in no window; intake would not make such a
    # title from a file, but a store can hold one
    [oldest] = store.posts_by_id([min(store.heads(), key=newest_first).id])
    with store.intake() as session:
        # nothing left of it once made XML-safe: feedgen raises (no NUL: PostgreSQL refuses it)
        blank = replace(oldest, title="\x01 \x0b ")
        session.save_posts([PostWrite(blank, "blank", "blank", exists=True)])
    alone, spread = both_ways(site, store, monkeypatch, tmp_path)
    assert len(pools) == 1  # post pages, archive pages behind them
    [refused] = [p for p in alone.problems if "left out of the feeds" in p.reason]
    assert refused.file == oldest.files[0]
    assert b"Post number" in (site.public_dir / "archive/atom-1.xml").read_bytes()
    assert spread.problems == alone.problems
    assert compare_trees(site.public_dir, tmp_path / "alone") is None


def test_a_worker_killed_mid_build_loses_nothing(tmp_path, monkeypatch, pools, caplog):
    """Killed as the post pages' tasks are sent (all at once, the workers started by the
    first): what it and the others had written and the tasks not done are all as a
    build in one process makes them."""
    site, store = scanned_site(tmp_path / "site", 120)
    monkeypatch.setattr(parallel, "_PAGES_PER_TASK", 5)  # many tasks: most come after the kill
    killed = []
    recorded = []  # tasks sent so far
    real_record = OutputWriter.record

    def record(self, names):
        real_record(self, names)
        recorded.append(names)
        if len(recorded) == 3 and (workers := multiprocessing.active_children()):
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    monkeypatch.setattr(OutputWriter, "record", record)
    with caplog.at_level(logging.WARNING, logger="postroom.build"):
        alone, spread = both_ways(site, store, monkeypatch, tmp_path)
    assert killed and pools
    assert "a render worker failed" in caplog.text and "rendered in this process" in caplog.text
    assert compare_trees(site.public_dir, tmp_path / "alone") is None
    assert spread.written == alone.written
    assert not multiprocessing.active_children()


def test_archive_workers_are_kept_a_few_ahead_and_one_killed_loses_nothing(
    tmp_path, monkeypatch, caplog
):
    """Archive pages (results of some size) are sent a few at a time, never more out
    than `_AHEAD` per worker; a worker killed after the first page came back leaves the
    pages not yet taken to the parent, which writes the same bytes in the same order."""
    assert small_archive_pages(monkeypatch, 4)  # 60 posts, a window of 5: 14 archive pages
    site, store = scanned_site(tmp_path / "site", 60)
    most = parallel._AHEAD * min(pool.cores(), 14)
    sent, taken, killed = [0], [0], []
    real_start, real_take = pool.start, parallel._from_file

    def start(*args, **kwargs):
        workers = real_start(*args, **kwargs)
        submit = workers.submit

        def counted(*args, **kwargs):
            sent[0] += 1
            return submit(*args, **kwargs)

        workers.submit = counted
        return workers

    def take(path):
        assert sent[0] - taken[0] <= most  # what is out never passes the bound
        taken[0] += 1
        if taken[0] == 1 and (workers := multiprocessing.active_children()):
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(sent[0])  # how many were out when it was killed
        return real_take(path)

    monkeypatch.setattr(pool, "start", start)
    monkeypatch.setattr(parallel, "_from_file", take)
    workers_from(monkeypatch, 10**9, 10**9)
    alone = build(site, store)
    shutil.copytree(site.public_dir, tmp_path / "alone")
    shutil.rmtree(site.public_dir)
    workers_from(monkeypatch, 10**9, 1)  # post pages here, archive pages in workers
    with caplog.at_level(logging.WARNING, logger="postroom.build"):
        spread = build(site, store)
    # bounded: the kill came before every page was sent (what the parent sends after
    # it, until it sees the pool broken, depends on the machine's load)
    assert killed and killed[0] < 14
    assert "a render worker failed" in caplog.text and "rendered in this process" in caplog.text
    assert compare_trees(site.public_dir, tmp_path / "alone") is None
    assert spread.written == alone.written and spread.problems == alone.problems
    assert not multiprocessing.active_children()


def test_posts_in_memory_and_small_builds_use_no_worker(tmp_path, monkeypatch, pools):
    site, store = scanned_site(tmp_path / "site", 30)  # 5 archive pages (of 100)
    build(site, store)  # under the thresholds
    assert not pools
    workers_from(monkeypatch)
    shutil.rmtree(site.public_dir)
    build(site, store.posts())  # posts in memory: a worker could not read them
    assert not pools


BUILD_ONLY = """
import sys
from postroom.feeds import parallel
parallel.POST_PAGES_FROM = 1
parallel._PAGES_PER_TASK = 10**6  # one long task: a worker left running would show
from postroom.scheduler import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.once
@pytest.mark.parametrize(("to", "signum", "code", "said"), STOPS)
def test_ctrl_c_stops_a_parallel_build_at_once_and_leaves_no_process(
    tmp_path, to, signum, code, said
):
    """The scan is done and a config change makes every page stale: the run's only
    workers are the build's, interrupted while they render."""
    site, store = scanned_site(tmp_path / "site", 600, words=400)  # seconds to render
    store.close()
    write(site.root / "postroom.toml", CONFIG.replace("Notes", "Other notes"))
    cmd = [sys.executable, "-c", BUILD_ONLY, "--site", str(site.root), "run", "--once", "--no-send"]
    # a worker left to finish its task would take seconds
    returncode, err = stop_while_workers_run(
        cmd, to, signum, marker="postroom.feeds.parallel", gone_within=1
    )
    assert returncode == code, (returncode, err)
    assert said in err and "Traceback" not in err, err
    assert not (site.public_dir / MANIFEST).exists()  # stopped mid-build: not recorded


@pytest.mark.once
def test_workers_end_with_a_build_killed_outright(tmp_path):
    """SIGKILL (an OOM kill; the service abandoning a job at its stop deadline) gives the
    build no chance to stop its pool: the workers must see it gone by themselves, or they
    wait for work for ever, holding the store and the command's stdout (a pipe reader
    such as `postroom run | tee` would hang)."""
    site, store = scanned_site(tmp_path / "site", 600, words=400)
    store.close()
    write(site.root / "postroom.toml", CONFIG.replace("Notes", "Other notes"))
    cmd = [sys.executable, "-c", BUILD_ONLY, "--site", str(site.root), "run", "--once", "--no-send"]
    returncode, _ = stop_while_workers_run(
        cmd, "parent", signal.SIGKILL, marker="postroom.feeds.parallel", gone_within=2
    )
    assert returncode == -signal.SIGKILL
    assert not (site.public_dir / MANIFEST).exists()


def test_ctrl_c_while_the_post_pages_are_sent_stays_a_keyboard_interrupt(tmp_path, monkeypatch):
    """Ctrl-C landing in a submit, while the post pages' Sent is being made: it closes
    before its own fields are set, and the interrupt reaches the command as it is (exit
    130), not as an AttributeError ("unexpected error")."""
    site, store = scanned_site(tmp_path / "site", 30)
    workers_from(monkeypatch, 1, 1)
    real = pool.start

    def start(*args, **kwargs):
        workers = real(*args, **kwargs)

        def submit(*_args, **_kwargs):
            raise KeyboardInterrupt

        workers.submit = submit
        return workers

    monkeypatch.setattr(pool, "start", start)
    with pytest.raises(KeyboardInterrupt):
        build(site, store)
    assert not multiprocessing.active_children()


def test_workers_killed_right_after_tasks_are_taken_back_leave_no_thread_error(
    tmp_path, monkeypatch
):
    """The pool broken while tasks taken back for the archive pages are still queued on
    it: no error in the pool's thread (Python 3.11 raised InvalidStateError there for a
    cancelled future: tasks are taken back by claiming them instead), and the parent
    writes everything with the same bytes."""
    assert small_archive_pages(monkeypatch, 4)
    site, store = scanned_site(tmp_path / "site", 60)
    monkeypatch.setattr(parallel, "_PAGES_PER_TASK", 1)
    real = parallel._PostPages._take_back

    def take_back(self):
        back = real(self)
        for worker in multiprocessing.active_children():
            with contextlib.suppress(ProcessLookupError):  # gone since it was listed
                os.kill(worker.pid, signal.SIGKILL)
            worker.join()
        seen = threading.Event()  # the pool's thread has seen it: asked every 10 ms
        for _ in range(3000):
            if self._workers._broken or seen.wait(0.01):
                break
        assert self._workers._broken
        return back

    monkeypatch.setattr(parallel._PostPages, "_take_back", take_back)
    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(repr(args.exc_value)))
    alone, spread = both_ways(site, store, monkeypatch, tmp_path)
    assert compare_trees(site.public_dir, tmp_path / "alone") is None
    assert spread.written == alone.written
    assert errors == []


def _writeback_seen(monkeypatch, fail: bool = False) -> tuple[list[str], threading.Event]:
    """The syncs made off the main thread (the early writeback's), counted by a wrapper of
    the real `sync_filesystem`; the build's release of the post pages waits until one has
    come (and raises then, with `fail`), so the build is known to have been running."""
    import postroom.feeds.writer as writer

    seen: list[str] = []
    first = threading.Event()
    real_sync, real_release = writer.sync_filesystem, OutputWriter.release

    def sync(folder):
        real_sync(folder)
        if threading.current_thread() is not threading.main_thread():
            seen.append(threading.current_thread().name)
            first.set()

    def release(self):
        if self._write_back is not None:
            assert first.wait(30), "no sync while the build wrote"
            if fail:
                raise RuntimeError("a build failing mid-way")
        real_release(self)

    monkeypatch.setattr(writer, "WRITE_BACK_EVERY", 0.001)
    monkeypatch.setattr(writer, "sync_filesystem", sync)
    monkeypatch.setattr(OutputWriter, "release", release)
    return seen, first


def _writeback_ends() -> None:
    for thread in threading.enumerate():
        if thread.name == "postroom-writeback":
            thread.join(10)
            assert not thread.is_alive(), "the writeback outlived its build"


def test_a_big_build_syncs_what_it_wrote_on_the_way_and_stops_after(tmp_path, monkeypatch):
    """A build with workers has what it wrote so far synced every WRITE_BACK_EVERY
    seconds on a thread of its own (its last sync, before the manifest, then finds
    little left), and that thread ends with the build."""
    site, store = scanned_site(tmp_path / "site", 40)
    seen, _first = _writeback_seen(monkeypatch)
    workers_from(monkeypatch)
    report = build(site, store)
    assert seen and set(seen) == {"postroom-writeback"}
    _writeback_ends()
    assert (site.public_dir / MANIFEST).is_file() and len(report.written) > 40
    seen.clear()
    workers_from(monkeypatch, 10**9, 10**9)  # a small build, in one process: none of it
    (site.content_dir / "p001.md").write_text(post(1, title="Changed"), encoding="utf-8")
    scan(site, store)
    assert build(site, store).written
    assert seen == []


def test_a_build_failing_mid_way_stops_its_writeback(tmp_path, monkeypatch):
    site, store = scanned_site(tmp_path / "site", 40)
    seen, _first = _writeback_seen(monkeypatch, fail=True)
    workers_from(monkeypatch)
    with pytest.raises(RuntimeError, match="mid-way"):
        build(site, store)
    assert seen
    _writeback_ends()


def test_a_disk_error_an_early_sync_took_fails_the_build_before_its_manifest(tmp_path, monkeypatch):
    """Linux reports a writeback error (EIO) to the first syncfs that sees it only: one
    the early writeback took is the build's error too, not lost because the last sync
    before the manifest then succeeds."""
    import postroom.feeds.writer as writer

    site, store = scanned_site(tmp_path / "site", 40)
    taken = threading.Event()

    def syncfs(fd):  # as the kernel does: the pending error to its first caller only
        if threading.current_thread().name == "postroom-writeback" and not taken.is_set():
            taken.set()
            return -1
        return 0

    real_release = OutputWriter.release

    def release(self):
        if self._write_back is not None:
            assert taken.wait(30), "no early sync while the build wrote"
        real_release(self)

    monkeypatch.setattr(writer, "WRITE_BACK_EVERY", 0.001)
    monkeypatch.setattr(writer, "_libc_syncfs", syncfs)
    monkeypatch.setattr(writer.ctypes, "get_errno", lambda: 5)  # EIO
    monkeypatch.setattr(OutputWriter, "release", release)
    workers_from(monkeypatch)
    with pytest.raises(OSError, match="syncfs"):
        build(site, store)
    assert not (site.public_dir / MANIFEST).exists()
    _writeback_ends()


def test_workers_are_closed_when_the_writeback_cannot_start(tmp_path, monkeypatch, pools):
    """A thread that cannot be started (a pid or thread limit) fails the build as any
    error there does: its workers stopped, not left running."""
    import postroom.feeds.writer as writer

    site, store = scanned_site(tmp_path / "site", 40)

    def refused(*_args, **_kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(writer, "_WriteBack", refused)
    workers_from(monkeypatch)
    with pytest.raises(RuntimeError, match="new thread"):
        build(site, store)
    assert len(pools) == 1
    with pytest.raises(RuntimeError, match=r"shutdown|not usable"):  # closed: takes no more work
        pools[0].submit(print)
