"""Worker processes for work that spreads over every core: a cold scan's parsing
(`content.intake`) and a cold build's rendering (`feeds.parallel`).

    pool = start(workers, preload=["postroom.feeds.parallel"], initializer=f, initargs=(a,))
    for result in in_order(pool, task, chunks, ahead=4 * workers):
        ...

What every such pool must get right, kept here once:
- forkserver, never fork: forking a process that runs scheduler threads is not safe;
- Ctrl-C reaches every process of the terminal's group: workers ignore SIGINT and the
  parent alone answers, stopping them (`start`, `worker_start`);
- a signal landing while a worker starts must not leave it outside the pool's list
  (`ctrl_c_held`);
- on any error or interrupt the pool ends at once, no worker left running (`stop_now`);
- a worker ends when the process that started the pool is gone, however it went (a
  SIGKILL, an OOM kill, the service abandoning a job at its stop deadline): the
  forkserver hands workers no tie to that process, so without this they would wait for
  work for ever, holding the store and the command's stdout (`_watch_parent`);
- few tasks in flight, results taken in order (`in_order`): memory stays flat however
  many tasks there are, when the parent is slower than the workers.

The forkserver is one per process and its preloaded modules are fixed when it starts
(by the first pool: in `run --once` the scan's). So a module whose tasks run in workers
says so when it is imported (`preload_in_workers`), and whichever pool starts first has
the forkserver import all of them once: a build's workers after a scan's fork ready,
instead of importing the renderers each (0.3-0.5 s a worker, more under load).
"""

from __future__ import annotations

import atexit
import gc
import itertools
import multiprocessing
import os
import select
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import forkserver
from typing import Any, TypeVar

from postroom.core import collector, unswept

T = TypeVar("T")
R = TypeVar("R")


# The forkserver (which imports this module with its preloads) and the process that
# ran a pool end with a big heap: at exit the interpreter's last collections walk all
# of it, 0.2-0.5 s of a cold `run --once` spent on garbage that dies with the process
# anyway, while the forkserver still holds the command's stdout (a pipe's reader waits).
# Frozen (registered first, so it runs after every other exit function), nothing is
# walked; objects are still freed and files closed as their references go. Workers
# never run exit functions (they leave by os._exit).
atexit.register(gc.freeze)


def cores() -> int:
    """How many processes can run at once here (the CPUs this process may use)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: modules whose tasks run in pool workers (`preload_in_workers`), in the order named
_PRELOAD: dict[str, None] = {}


def preload_in_workers(module: str) -> None:
    """Have the forkserver import `module` when it starts, for every pool's workers."""
    _PRELOAD[module] = None


def start_forkserver_early(preload: Iterable[str]) -> None:
    """Start the forkserver now, importing `preload` and whatever is already named to
    `preload_in_workers`, for a command about to need a pool (a cold `run --once`).
    The forkserver imports its preloads (0.5 s, more under load) before it forks a
    worker; started by the first pool, the parent would sit waiting for that at its
    first submit. Started here, at the top of the command, it imports them on another
    core while the parent imports its own modules and walks content/. Its preloads are
    fixed from here on, so `preload` names every module whose tasks the command's
    pools run (their `preload_in_workers` has not run yet). Nothing waits here: the
    forkserver is a spawned interpreter, not yet answering."""
    for module in preload:
        preload_in_workers(module)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(dict.fromkeys(["__main__", _UNSWEPT, *_PRELOAD])))
    os.environ[unswept.OFF_IN] = "1"  # for the forkserver alone: it takes it out
    try:
        start_forkserver_deaf_to_ctrl_c()
    finally:
        os.environ.pop(unswept.OFF_IN, None)


#: a module whose import turns the cyclic collector off in the forkserver (core.unswept)
_UNSWEPT = unswept.__name__


#: what this process does when `in_order` would wait, one a wait (`meanwhile`)
_MEANWHILE: deque[Callable[[], object]] = deque()


def meanwhile(work: Callable[[], object]) -> None:
    """Have `work()` run once, in this process, at a time `in_order` would wait for a
    result not there yet: works named so run in turn, one a wait, so that the workers
    are never kept waiting longer than one of them takes. A cold `run --once` imports its
    build's modules so (0.1 s, a module a work) while its scan's workers parse: after the
    scan they would be imported where it alone works and the other core idles, each ms a
    ms of wall. Run in the thread taking the results; what it raises is dropped
    (`_run_meanwhile`). Works still waiting when the pool's results are all taken are
    dropped too."""
    _MEANWHILE.append(work)


def _run_meanwhile(work: Callable[[], object]) -> None:
    """One `meanwhile` work. An error in it is dropped, not raised: the work is done
    again where it is needed (an import, by the job that uses the module, raising there
    as without), and the pool's tasks (a cold scan's 10,000 files, one transaction) are
    not lost for it. Ctrl-C and SIGTERM's Stopped are BaseExceptions: they stop the pool."""
    try:
        work()
    except Exception:
        return


def start(
    workers: int,
    preload: Iterable[str] = (),
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A pool of `workers` processes forked from the forkserver, deaf to Ctrl-C.
    `preload`: modules the forkserver imports once, not every worker (if it is not
    running yet), with those named to `preload_in_workers`. `initializer(*initargs)`
    runs in each worker after `worker_start`."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(dict.fromkeys(["__main__", *_PRELOAD, *preload])))
    start_forkserver_deaf_to_ctrl_c()
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_started,
        initargs=(os.getpid(), initializer, initargs),
    )


def _started(
    parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    worker_start()
    # what the forkserver preloaded is never garbage: no collection walks it again
    # (the full ones did, in every worker), and young ones come rarer (`collector`);
    # the collector on, which a forkserver started early has off (`core.unswept`)
    gc.enable()
    gc.freeze()
    collector.brief()
    _watch_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def _watch_parent(pid: int) -> None:
    """End this worker the moment process `pid` (the pool's owner) ends. A worker's
    parent is the forkserver, which outlives the owner while any worker holds its pipe:
    so neither notices. A pidfd turns readable when its process ends (Linux 5.3);
    elsewhere, a look each second."""
    try:
        watched = os.pidfd_open(pid)
    except ProcessLookupError:  # gone already
        os._exit(1)
    except (AttributeError, OSError):
        watched = None

    def watch() -> None:
        if watched is not None:
            select.select([watched], [], [])
        else:
            while _alive(pid):
                threading.Event().wait(1)
        os._exit(1)

    threading.Thread(target=watch, name="pool-owner-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists
        return True
    return True


def in_order(
    pool: ProcessPoolExecutor, task: Callable[[T], R], items: Iterable[T], ahead: int
) -> Iterator[R]:
    """`task(item)` for each item, run in `pool`, yielded in the order of `items`; at
    most `ahead` tasks out at a time (`Executor.map` would submit them all and hold
    every result not yet taken). On any exception, and when the caller stops early
    (the generator closed), the pool is stopped at once (`stop_now`) before it goes on;
    when every item is done the pool is shut down."""
    items = iter(items)
    out: deque[Future] = deque()
    try:
        for item in itertools.islice(items, ahead):
            with ctrl_c_held():  # a submit may start a worker: none may be half-started
                out.append(pool.submit(task, item))
        while out:
            if _MEANWHILE and not out[0].done():
                _run_meanwhile(_MEANWHILE.popleft())
            result = out.popleft().result()
            if (item := next(items, _END)) is not _END:
                with ctrl_c_held():
                    out.append(pool.submit(task, item))
            yield result
    except BaseException:
        stop_now(pool)
        raise
    finally:
        _MEANWHILE.clear()  # not run by now: done where it is needed, as without
    pool.shutdown()


_END: Any = object()


def start_forkserver_deaf_to_ctrl_c() -> None:
    """Ctrl-C reaches every process in the terminal's group. Started with SIGINT ignored,
    the forkserver (a fresh interpreter, once per process) and every worker it forks
    inherit that from their first instruction, so a worker still importing cannot die
    with a KeyboardInterrupt traceback: the parent alone answers, and stops them. Only
    the main thread may change a signal; elsewhere (the service's scan thread) the
    workers' initializer does the same a moment later."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP for a moment: a KeyboardInterrupt (or the
    Stopped a SIGTERM raises) landing while the pool starts a worker leaves that worker
    outside the pool's list, where `stop_now` cannot find it, still reading its start-up
    state from a parent that is gone (a traceback, a stray process: seen for SIGTERM in
    CI). Delivered, and raised, the moment the block ends; the mask is as it was after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}  # all three stop a command alike
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def worker_start() -> None:
    """In each worker first: Ctrl-C is the parent's to answer (see
    `start_forkserver_deaf_to_ctrl_c`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_now(pool: ProcessPoolExecutor) -> None:
    """End a pool at once, on Ctrl-C or any error: `shutdown(wait=True)` would first run
    every task still queued (a cold start's minute), and a worker left running would
    outlive the command. Work not yet taken is lost. The workers are taken before
    `shutdown`, which forgets them."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(timeout=2)
