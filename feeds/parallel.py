"""A big build's post pages and archive pages, rendered on every core.

A cold build (or one after a template or config change) renders every post page and
every archive page of the site's feeds: at 10,000 posts that is most of its time, and
one process used one core. When there are many to render, worker processes
(`core.pool`) render them instead, each reading the posts it renders from the store
itself, by id; the parent is told what to render (ids, and what it already worked
out). Archive pages are staged by the workers (`writer.stage_file`: a temp file in the
build's scratch) and come back, in order, for the parent to rename into place; in a
cold build they go to the same workers as the post pages (`behind`), each in one task
with the post pages of its posts that no worker had begun (`_PostPages.merge`: each of
those posts read, made XML-safe and viewed once, not once per task), so the workers
go from one to the other without a pause and the parent, once it has written what
links to the post pages, finds most of them done. Post
pages (10,000 files at 10,000 posts: writing them was 40% of the parent's time, and
the parent was what the build waited for) are written by the worker that renders
them, as the parent would (`writer.put_file`: bytes compared, temp file in the
build's scratch, renamed into place, no fsync); the parent keeps the only record
(`OutputWriter`: it journals a task's pages before sending it, and takes each page's
size and mtime back, in order, for its manifest). So the files, the order of the
report and the manifest are those of a build in one process, byte for byte.

Only a catalogue a worker can open itself is spread (`store.Store` on a file or a
server, not posts in memory nor an in-memory database); a small build is not (a
worker's start costs more than a few hundred pages). A worker that fails (a bug, a
process killed) loses nothing: the failure is logged and the parent renders what
was not yet done itself (a page a killed worker had written is on the journal, and
counts as written). Ctrl-C and SIGTERM stop the workers at once (`core.pool`).
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import pickle
import shutil
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from postroom.core import pool
from postroom.core.config import Site
from postroom.core.model import Post
from postroom.core.process import this_process
from postroom.core.sanitize import one_line
from postroom.feeds import showing, syndication, theme
from postroom.feeds.catalogue import Catalogue
from postroom.feeds.pages import post_page_name, render_post_page
from postroom.feeds.safety import xml_safe
from postroom.feeds.syndication import FeedSet
from postroom.feeds.writer import OutputWriter, Staged, put_file, stage_file

_LOG = logging.getLogger("postroom.build")
pool.preload_in_workers(__name__)  # a scan's forkserver, started first, imports it too
# and the store each worker opens (`_open`): SQLAlchemy imported once, in the forkserver,
# not by each of a cold build's four workers (a third of their start, 1 CPU-s in all)
pool.preload_in_workers("postroom.store.database")

#: stale post pages from which workers render them. Measured on 2 busy cores (load 4-8):
#: a pool's start costs 0.5-1.5 s; 1,000 pages came out even, 10,000 twice as fast
POST_PAGES_FROM = 2000
#: stale archive pages (a hundred posts each, in two formats) from which workers do:
#: 10 pages took 1.9 s with workers against 0.8 s without
ARCHIVE_PAGES_FROM = 20
#: post pages a worker is sent at once: one query for their posts, a few hundred KB back
_PAGES_PER_TASK = 40
#: archive pages out per worker before the first comes back: enough to keep it busy
#: while the parent writes, few enough that what is in flight stays small whatever the
#: site (post pages are all sent at once: what comes back of each is a few numbers)
_AHEAD = 3

T = TypeVar("T")
R = TypeVar("R")


class WrittenPage(NamedTuple):
    """A post page a worker rendered and wrote (`writer.put_file`), as the parent's
    manifest needs it: the page's bytes stay in the worker. A named tuple, not a frozen
    dataclass: one made and pickled for each of a cold build's 10,000 pages and
    unpickled by the parent, 2-3x as fast (10,000: the parent's unpickling 0.034 s ->
    0.015, the workers' making and pickling 0.05 CPU-s -> 0.025)."""

    post_id: str  # its page's name is the parent's to make (`post_page_name`), interned
    wrote: bool  # False: the file held these bytes already and was left alone
    size: int
    mtime_ns: int
    #: (updated, picked_up) of the post as rendered, for the parent to compare with its head
    stamps: tuple[datetime | None, datetime | None]


def write_post_pages(
    site: Site,
    catalogue: Catalogue,
    ids: Sequence[str],
    out: OutputWriter,
    names: Callable[[Sequence[str]], Iterable[str]],
    shared: bool = False,
) -> Sent[tuple[str, ...], list[WrittenPage]] | None:
    """The pages of the posts `ids` (those still published), rendered and written by
    workers, every task sent now and each task's pages reported in the order of `ids`
    as the caller takes them; None when too few for workers to pay (the caller renders
    and writes them itself). `names(ids)`: the pages of those posts,
    put on `out`'s record (`OutputWriter.record`) before a task for them is sent, so
    a page exists only once the journal names it, whoever is killed when. `shared`:
    the same workers may be given the archive pages too (`archive_pages`) before
    these are taken, taking over the post tasks not yet begun (`_PostPages.merge`)."""
    url = _worker_url(catalogue)
    if url is None or len(ids) < POST_PAGES_FROM or pool.cores() < 2:
        return None
    tasks = [tuple(ids[i : i + _PAGES_PER_TASK]) for i in range(0, len(ids), _PAGES_PER_TASK)]
    public, scratch = str(out.root), str(out.scratch)
    # a page re-done here after the pool failed, whose bytes are already right, was
    # written by a worker before it failed if its mtime is this build's (a second back:
    # a coarse clock, a filesystem keeping seconds)
    since = out.began_ns - 1_000_000_000

    def here(item: tuple[str, ...] | _Both) -> Any:
        ids = item.ids if isinstance(item, _Both) else item
        out.record(names(ids))  # a task never sent is not on record yet
        pages = _write_posts(site, catalogue, ids, public, scratch)
        pages = [p._replace(wrote=p.wrote or p.mtime_ns >= since) for p in pages]
        return (pages, None) if isinstance(item, _Both) else pages  # the page: the parent's

    def before(item: tuple[str, ...] | _Both) -> None:
        out.record(names(item.ids if isinstance(item, _Both) else item))

    return _PostPages(
        site, url, _post_pages_task, tasks, here, (public, scratch), before, shared=shared
    )


class Sent(Generic[T, R]):
    """`task(item)` for each of `tasks` in worker processes that each open the store at
    `url`, their results taken back in the order of `tasks` as the caller iterates.
    `ahead`: the most tasks out at a time, for tasks whose results the caller places as
    they come (archive pages staged by the workers): a few ahead of the caller keep the
    workers busy while it does, and what waits stays small whatever the site. None:
    every task sent now, the workers going on while the caller does other work (results
    of a few numbers: a post page's size and mtime, its bytes written by the worker).
    Every result not yet taken waits in a file of the build's scratch folder
    (`_to_file`). Should the pool fail (a worker raises or is killed), the failure is
    logged and the tasks not yet taken are done here (`here`). `close` (an error,
    Ctrl-C, the caller stopping early; taking every result closes it) stops the workers
    at once."""

    def __init__(
        self,
        site: Site,
        url: str,
        task: Callable[[T], R],
        tasks: list[T],
        here: Callable[[T], R],
        writes: tuple[str, str] | None = None,
        before: Callable[[T], object] | None = None,
        ahead: int | None = None,
        shared: bool = False,
    ) -> None:
        """`writes`: (public/, the build's scratch) for workers that write pages;
        `before(item)` just before an item is sent (the journal names its pages).
        `shared`: more tasks may be added (`_take_back`, `_add`) before any is taken."""
        self._tasks, self._here, self._before = list(tasks), here, before
        self._ahead = ahead  # None: no bound
        self._folder = _rendered(site)
        self._closed = False
        self._taking = False  # the caller has begun to take results
        self._shared = shared
        self._workers = pool.start(
            min(pool.cores(), len(tasks)) if not shared else pool.cores(),
            preload=[__name__],
            initializer=_open,
            initargs=(site, url, writes),
        )
        # named apart from another Sent's in the same folder
        self._prefix = f"{self._folder}/{next(_SENDS)}-"
        self._sent = functools.partial(_to_file, task, self._prefix)
        self._numbers = itertools.count()  # each task's result file its own number
        self._futures: deque[tuple[int, Future]] = deque()  # (the task's number, its future)
        self._next = 0  # tasks[:_next] are sent, the futures of those not taken in order
        self._refused: Exception | None = None  # a pool broken while tasks were sent
        self._send()

    def _send(self) -> None:
        """Tasks sent until `ahead` are out, or all are, or the pool refuses one."""
        tasks = self._tasks
        try:
            while (
                self._refused is None
                and self._next < len(tasks)
                and (self._ahead is None or len(self._futures) < self._ahead)
            ):
                item = tasks[self._next]
                if self._before is not None:
                    self._before(item)
                numbered = (next(self._numbers), item)
                with pool.ctrl_c_held():  # a submit may start a worker
                    future = self._workers.submit(self._sent, numbered)
                self._futures.append((numbered[0], future))
                self._next += 1
        except Exception as exc:  # a worker killed already: the rest are done here
            self._refused = exc
        except BaseException:
            self.close()
            raise

    def _take_back(self) -> list[T]:
        """The tasks sent but not yet begun by a worker, taken back, in order; the
        others stay as they were. Only before any result is taken (`open`). A task is
        begun by whoever claims it first (`_claim`: one file made or found), the worker
        or this: a worker given a task taken back returns at once, and its future is
        not waited for. (Not `Future.cancel`: on Python 3.11 a pool broken with a
        cancelled future pending kills the pool's thread with InvalidStateError.)"""
        assert self.open
        futures: deque[tuple[int, Future]] = deque()
        kept: list[T] = []
        back: list[T] = []
        for (number, future), item in zip(self._futures, self._tasks[: self._next], strict=True):
            if _claim(self._prefix, number):
                back.append(item)
            else:  # begun by a worker
                futures.append((number, future))
                kept.append(item)
        self._futures = futures
        self._tasks = kept + self._tasks[self._next :]
        self._next = len(kept)
        return back

    def _add(self, tasks: Iterable[T]) -> None:
        """More tasks, after those given (sent as the others are)."""
        self._tasks.extend(tasks)
        self._send()

    def __iter__(self) -> Iterator[R]:
        self._taking = True
        done = 0
        try:
            try:
                while self._futures:
                    result = _from_file(self._futures.popleft()[1].result())
                    self._send()
                    yield result
                    done += 1
                if self._refused is not None:
                    raise self._refused
            except Exception as exc:  # not Ctrl-C nor SIGTERM
                pool.stop_now(self._workers)
                why = one_line(f"{type(exc).__name__}: {exc}") or type(exc).__name__
                _LOG.warning(
                    "a render worker failed (%s); the %d tasks left are rendered in this process",
                    why,
                    len(self._tasks) - done,
                )
                for item in self._tasks[done:]:
                    yield self._here(item)
            else:
                self._workers.shutdown()
        finally:  # Ctrl-C, SIGTERM, the caller stopping early, or every result taken
            self.close()

    @property
    def open(self) -> bool:
        """Whether tasks may still be added (`shared`): none taken yet, nothing
        refused, the pool not stopped."""
        return self._shared and not self._taking and not self._closed and self._refused is None

    def close(self) -> None:
        """The workers stopped at once and the results not taken removed."""
        if not self._closed:
            self._closed = True
            pool.stop_now(self._workers)
            shutil.rmtree(self._folder, ignore_errors=True)  # results not taken


_SENDS = itertools.count()  # each Sent's results' names begin with its number


@dataclass(frozen=True, slots=True)
class _Both:
    """An archive page to render and the post pages of its posts still to write
    (`ids`, maybe none), in one task: each post read from the store and made XML-safe
    once, its view (`feeds.showing`) made once for its page and its entry. The page's
    files are staged (`writer.stage_file`) and come back with the post pages."""

    page: ArchivePage
    ids: tuple[str, ...]


class _PostPages(Sent[Any, list[WrittenPage]]):
    """A build's post pages on the workers (`write_post_pages`), and then the stale
    archive pages of the site's feed (`merge`): a post task not yet begun is taken back
    and its posts' pages written by the task of the archive page they are on (a cold
    build read and made XML-safe every archived post twice, once per task). Results
    are taken in the order of the post ids given, whatever task wrote them: the report
    is a build's in one process."""

    #: whether archive pages were added (`merge`): a class default, since `Sent.__init__`
    #: may `close` (Ctrl-C while it sends) before this class's own `__init__` goes on
    _merged = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._order: list[tuple[str, ...]] = list(self._tasks)  # the pages, in order
        self._merged = False
        #: the staged files of archive pages (by number) rendered by workers and taken
        self._ready: dict[int, dict[str, Staged]] = {}

    def merge(self, pages: Sequence[ArchivePage]) -> _ArchiveFiles:
        """`pages` added to the work (`open` only): each in a task with the post pages
        of its posts whose task was not begun; what is left of those in tasks of their
        own. The pages come back, in order, from what is returned, once this is taken."""
        back = [ids for ids in self._take_back()]
        todo = {post_id for ids in back for post_id in ids}
        both = []
        for page in pages:
            mine = tuple(post_id for post_id in page[3] if post_id in todo)
            todo.difference_update(mine)
            both.append(_Both(page, mine))
        rest = [post_id for ids in back for post_id in ids if post_id in todo]
        left = [tuple(rest[i : i + _PAGES_PER_TASK]) for i in range(0, len(rest), _PAGES_PER_TASK)]
        self._merged = True
        _LOG.debug(
            "archive pages: %d, with the pages of %d posts whose tasks were taken back",
            len(both),
            sum(len(item.ids) for item in both),
        )
        self._add([*both, *left])
        return _ArchiveFiles(self, [item.page[1] for item in both])

    def __iter__(self) -> Iterator[list[WrittenPage]]:
        if not self._merged:
            yield from super().__iter__()
            return
        tasks = list(self._tasks)  # as they are now: every result is of one, in order
        got: dict[str, WrittenPage] = {}
        order = iter(self._order)
        ids = next(order, None)
        for done, result in enumerate(super().__iter__()):
            item = tasks[done]
            if isinstance(item, _Both):
                result, files = result
                if files is not None:
                    self._ready[item.page[1]] = files
            for page in result:
                got[page.post_id] = page
            # the pages given back in order as far as they are all here, while the workers
            # go on: all at the end were ~45 ms of a cold 10k build's last stretch
            while ids is not None and all(post_id in got for post_id in ids):
                yield [got.pop(post_id) for post_id in ids]
                ids = next(order, None)
        while ids is not None:  # a post no worker found (withdrawn since) holds up the rest
            yield [got.pop(post_id) for post_id in ids if post_id in got]
            ids = next(order, None)


class _ArchiveFiles:
    """The archive pages `_PostPages.merge` added, in order, once the post pages are
    taken: each page's files staged (`writer.stage_file`), or None (the parent renders
    it: a post feedgen refuses, or a worker failed). `close` stops the workers; what
    they staged and nobody placed goes with the build's scratch, as its temp files do
    (after a failed build in a service: at the next build's start, `OutputWriter`)."""

    def __init__(self, sent: _PostPages, numbers: list[int]) -> None:
        self._sent, self._numbers = sent, numbers

    def __iter__(self) -> Iterator[dict[str, Staged] | None]:
        for number in self._numbers:
            yield self._sent._ready.pop(number, None)

    def close(self) -> None:
        self._sent.close()  # stopped at once, if not done


def _rendered(site: Site) -> Path:
    """Where workers leave their results: beside public/, in the build's own scratch
    folder (`writer.OutputWriter`), removed with it should this process die."""
    public = site.public_dir
    folder = public.parent / f".{public.name}.scratch" / this_process() / "rendered"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_posts(
    site: Site, catalogue: Catalogue, ids: Sequence[str], public: str, scratch: str
) -> list[WrittenPage]:
    """What `feeds._write_post_pages` renders and puts for `ids`, as it does."""
    showing.forget()  # the last task's views hold their posts
    pages = [_render_post(site, xml_safe(post), post) for post in catalogue.posts_by_id(ids)]
    showing.forget()
    return _put_posts(pages, Path(public), Path(scratch))


#: a post page rendered, not yet written: (the post XML-safe, the post as read, its bytes)
_Page = tuple[Post, Post, bytes]


def _render_post(site: Site, safe: Post, read: Post) -> _Page:
    """The page of `safe` (`read` made XML-safe), to be written by `_put_posts`."""
    return safe, read, render_post_page(site, safe)


def _put_posts(pages: Sequence[_Page], root: Path, temps: Path) -> list[WrittenPage]:
    """`pages` put (`put_file`), one after the other once a task's are all rendered:
    the kernel's code of a page's mkdir, temp file and rename stays warm from one page
    to the next, and the renderer's from one render to the next, where each evicted
    the other's page by page (10,000 pages in one process, 20 runs: -0.2 CPU-s of
    ~2.6; a cold 10k build, 10 runs: each worker 2.66 -> 2.38 CPU-s, sys 0.57 ->
    0.39). What the parent is told of each, with the stamps of the post as read."""
    written = []
    for safe, read, data in pages:
        wrote, st = put_file(root, post_page_name(safe), data, temps)
        written.append(
            WrittenPage(safe.id, wrote, st.st_size, st.st_mtime_ns, (read.updated, read.picked_up))
        )
    return written


#: an archive page to render: (the feed with no posts, page number, last, post ids)
ArchivePage = tuple[FeedSet, int, bool, tuple[str, ...]]


#: archive pages from workers, in order, as `archive_pages` gives them: iterated once,
#: `close`d at the end (an error, Ctrl-C: the workers stop at once)
Pages = (
    Sent[ArchivePage, "dict[str, Staged] | None"]
    | Generator["dict[str, Staged] | None", None, None]
    | _ArchiveFiles
)


def archive_pages(
    site: Site,
    catalogue: Catalogue,
    pages: Sequence[ArchivePage],
    out: OutputWriter,
    behind: Sent | None = None,
) -> Pages | None:
    """Each archive page of `pages` in each format (`history._render`), in order, from
    workers, its files staged in `out`'s scratch (`writer.stage_file`) for `out` to
    `place`; an item is None for a page a worker could not render whole (a post feedgen
    refuses: the parent renders it, vetting its posts as a build in one process does).
    None when too few pages for workers to pay.

    `behind`: workers writing the build's post pages, still `open`: every page is
    sent to them now, each with the post pages of its posts whose task no worker had
    begun (`_PostPages.merge`), and comes back once the post pages are taken (a cold
    build's workers go from one to the other without a pause, and the parent finds the
    pages done when it has written the rest). They are all out at once, their files
    staged in the build's scratch (a few hundred KB a page; the post pages that can
    overlap are bounded by `feeds._OVERLAP_MOST`, hence these too); the pool's queue
    holds only their ids. Else a pool of their own, started at the caller's first
    `next`, a few pages ahead of the caller."""
    url = _worker_url(catalogue)
    if url is None or len(pages) < ARCHIVE_PAGES_FROM or pool.cores() < 2:
        return None
    if isinstance(behind, _PostPages) and behind.open:
        return behind.merge(pages)
    return _sent_when_asked(site, url, list(pages), (str(out.root), str(out.scratch)))


def _sent_when_asked(
    site: Site, url: str, pages: list[ArchivePage], writes: tuple[str, str]
) -> Generator[dict[str, Staged] | None, None, None]:
    """The pages from workers started at the caller's first `next`, not before: an
    iterator never asked for its first page leaves no pool behind."""
    ahead = _AHEAD * pool.cores()
    yield from Sent(site, url, _archive_task, pages, lambda _page: None, writes, ahead=ahead)


class _NeedsVetting(Exception):
    """A post on this page makes feedgen raise: the parent's `Vetting` must say which."""


def _no_vetting(_post: Post) -> bool:
    raise _NeedsVetting


def _stage_archive(
    site: Site, posts: Sequence[Post], page: ArchivePage, public: str, scratch: str
) -> dict[str, Staged] | None:
    """Archive page `page` of `posts` (its posts, XML-safe) rendered (`history._render`)
    and its files staged in the build's scratch (`writer.stage_file`), for the parent to
    rename into place once the post pages they link to are: none of their bytes go
    through the parent (a cold 10k build's 200 files were pickled here, then unpickled,
    unlinked and written by the parent, ~50 ms of its last stretch, one core busy).
    None: a post feedgen refuses (the parent renders the page, vetting its posts)."""
    from postroom.feeds.history import _render  # history hooks in here: imported late

    shell, number, last, _ids = page
    try:
        files = _render(site, shell, posts, number, last, _no_vetting)[0]  # type: ignore[arg-type]
    except _NeedsVetting:
        return None
    return {name: stage_file(public, name, data, scratch) for name, data in files.items()}


def _worker_url(catalogue: Catalogue) -> str | None:
    """The URL a worker opens to read what `catalogue` holds, or None: posts in memory,
    or an in-memory SQLite database (each connection its own, empty)."""
    from postroom.store import Store  # not at import: `import postroom.feeds` stays light

    if not isinstance(catalogue, Store):
        return None
    url = catalogue.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


def _from_file(path: str) -> Any:
    with open(path, "rb") as file:
        result = pickle.load(file)
    os.unlink(path)
    return result


# --- in each worker process ---


def _to_file(task: Callable[[T], R], prefix: str, numbered: tuple[int, T]) -> str:
    """`task`'s result, written to a file whose name goes back instead of the bytes: a
    worker killed while it sends a result of a few hundred KB leaves half a message in
    the pool's pipe, and the pool's reader waits for the rest for ever (CPython's
    ProcessPoolExecutor); a name is one write of a few bytes, whole or not at all."""
    number, item = numbered
    if not _claim(prefix, number):  # taken back by the parent (`Sent._take_back`)
        return ""
    path = f"{prefix}{os.getpid()}-{number}.pickle"  # `prefix`: the folder and the Sent's
    with open(path, "wb") as file:
        pickle.dump(task(item), file, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _claim(prefix: str, number: int) -> bool:
    """Whether this process is the first to claim task `number` of the Sent whose
    files begin with `prefix`: a worker about to begin it, or the parent taking it back
    (`Sent._take_back`). One file made with O_EXCL: exactly one of them gets it."""
    try:
        os.close(os.open(f"{prefix}{number}.claim", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


_worker: dict[str, Any] = {}  # the site and the store this worker renders from


def _open(site: Site, url: str, writes: tuple[str, str] | None) -> None:
    from postroom.store import Store

    theme.check_once_from_now()  # this worker renders for one build
    _worker["site"] = site
    _worker["store"] = Store(url)
    _worker["writes"] = writes


def _post_pages_task(item: tuple[str, ...] | _Both) -> Any:
    public, scratch = _worker["writes"]
    if isinstance(item, _Both):
        return _both_task(item, public, scratch)
    return _write_posts(_worker["site"], _worker["store"], item, public, scratch)


def _both_task(
    item: _Both, public: str, scratch: str
) -> tuple[list[WrittenPage], dict[str, Staged] | None]:
    """`item`'s post pages written, as `_write_posts` writes them, and its archive page
    staged, as `_archive_task` does, from one read of its posts. (post pages, the
    page's files or None)."""
    site, store = _worker["site"], _worker["store"]
    ids = item.page[3]
    wanted = set(item.ids)
    root, temps = Path(public), Path(scratch)
    showing.forget()
    pages, posts = [], []
    try:
        for read in store.posts_by_id(ids):
            post = xml_safe(read)
            posts.append(post)
            if post.id in wanted:
                pages.append(_render_post(site, post, read))
        written = _put_posts(pages, root, temps)
        return written, _stage_archive(site, posts, item.page, public, scratch)
    finally:
        showing.forget()
        syndication.forget()


def _archive_task(page: ArchivePage) -> dict[str, Staged] | None:
    public, scratch = _worker["writes"]
    try:
        posts = [xml_safe(post) for post in _worker["store"].posts_by_id(page[3])]
        return _stage_archive(_worker["site"], posts, page, public, scratch)
    finally:  # each post is on one page: what its entry cost to make goes with it
        showing.forget()
        syndication.forget()
