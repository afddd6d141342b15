"""What following feeds and fetching listed links share: fetching side by side under a
stop flag and a deadline, the backoff, and writing an article into content/ once.

Fetches run in daemon threads of their own, up to 8 at once. Nobody waits on one for
longer than its limits allow (a server can keep a fetch inside its read timeouts for
ever by trickling its headers): past `ANSWER_SECONDS` the fetch is given up on, its
slot freed, and its thread left to end with its socket. A stop (SIGTERM) ends the wait
within a moment, for the same reason: the service must stop in seconds.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar

from postroom.content.fetch import TOTAL_SECONDS, Fetched, FetchError, fetch, user_agent
from postroom.content.links import canonical
from postroom.content.markdown import front_matter
from postroom.core.config import Site
from postroom.core.model import ReadError
from postroom.feeds.writer import write_atomic
from postroom.store import Store
from postroom.store.fetched import Target, known_links, post_links, remember

PARALLEL = 8  # fetches at once: a slow server holds up only itself
ANSWER_SECONDS = TOTAL_SECONDS + 10  # past this, a fetch is given up on, whatever it does
_GLANCE = 0.2  # seconds between looks at the stop flag and the clock while waiting
_MAX_DOUBLINGS = 20  # 2**20 of any base is past the day-long cap: no overflow, ever
T = TypeVar("T")


def backoff(base: timedelta, failures: int, retry_after: float | None = None) -> timedelta:
    """base x 2^(failures-1), at most a day (or `base`, if longer); never sooner than
    the server asked (Retry-After)."""
    doublings = min(max(failures - 1, 0), _MAX_DOUBLINGS)
    wait = min(base * 2**doublings, max(timedelta(days=1), base))
    return max(wait, timedelta(seconds=retry_after or 0))


def problem_text(exc: BaseException) -> str:
    """What went wrong with one feed or link, in one line, whatever was raised."""
    if isinstance(exc, FetchError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot write: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


@dataclass
class _Work(Generic[T]):
    item: T
    started: float


class Fetcher:
    """One site's fetching: its agent and private-address rule, its stop flag, and what
    it knows of the articles seen so far (asked once per run, `fresh_run`)."""

    def __init__(self, site: Site, store: Store, stop: threading.Event | None = None) -> None:
        self.site, self.store = site, store
        self.stop = stop or threading.Event()
        self.agent = user_agent(site.base_url)
        self.allow_private = site.config.fetch.allow_private
        self._posts: set[str] = set()  # the posts' own links, canonical
        self._posts_of: int | None = None  # how many posts the store had when they were read
        self._recount = True
        self.answer_seconds = ANSWER_SECONDS

    def fetch(self, url: str, target: Target | None = None) -> Fetched:
        """GET `url` as this site fetches, with `target`'s validators when given."""
        return fetch(
            url,
            agent=self.agent,
            allow_private=self.allow_private,
            etag=target.etag if target else "",
            last_modified=target.last_modified if target else "",
        )

    def side_by_side(
        self, items: Iterable[T], url_of: Callable[[T], str], get: Callable[[T], Fetched]
    ) -> Iterator[tuple[T, Fetched | FetchError]]:
        """`get` of each item, PARALLEL at once, yielded as each answer comes; an item
        whose fetch raised anything, or took past ANSWER_SECONDS, comes with a
        FetchError saying so. Ends early, within _GLANCE, once stopping."""
        items = list(items)
        answers: queue.Queue[tuple[int, Fetched | FetchError]] = queue.Queue()
        slots = threading.Semaphore(PARALLEL)
        running: dict[int, _Work[T]] = {}
        lock = threading.Lock()

        def one(index: int) -> None:
            item = items[index]
            try:
                answer: Fetched | FetchError = get(item)
            except FetchError as exc:
                answer = exc
            except Exception as exc:  # a bug's or a library's surprise: this item's error
                answer = FetchError(f"{url_of(item)}: {problem_text(exc)}")
            with lock:
                if running.pop(index, None) is None:
                    return  # given up on already: its slot was freed then
            slots.release()
            answers.put((index, answer))

        def start_all() -> None:
            for index, item in enumerate(items):
                while not slots.acquire(timeout=_GLANCE):
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
                with lock:
                    running[index] = _Work(item, time.monotonic())
                threading.Thread(target=one, args=(index,), daemon=True).start()

        threading.Thread(target=start_all, daemon=True).start()
        left = len(items)
        while left and not self.stop.is_set():
            try:
                index, answer = answers.get(timeout=_GLANCE)
            except queue.Empty:
                for _, work in self._overdue(running, lock):
                    slots.release()
                    left -= 1
                    limit = f"no whole answer within {self.answer_seconds:g} s; given up"
                    yield work.item, FetchError(f"{url_of(work.item)}: {limit}")
                continue
            left -= 1
            yield items[index], answer

    def _overdue(
        self, running: dict[int, _Work[T]], lock: threading.Lock
    ) -> list[tuple[int, _Work]]:
        deadline = time.monotonic() - self.answer_seconds
        with lock:
            late = [(i, w) for i, w in running.items() if w.started < deadline]
            for index, _ in late:
                del running[index]
        return late

    def fetch_or_stop(self, url: str) -> Fetched:
        """One fetch under the same stop flag and deadline (an entry's page, a link)."""
        for _, answer in self.side_by_side([url], str, self.fetch):
            if isinstance(answer, FetchError):
                raise answer
            return answer
        raise FetchError(f"{url}: not fetched: stopping")

    # what was seen

    def fresh_run(self) -> None:
        """A new run of the job: the posts are counted again when next needed, and their
        links read again if the count changed (not every 15 s: 10,000 of them to read
        and make canonical is a quarter of a second)."""
        self._recount = True

    def seen(self, links: Iterable[str], *, written_only: bool = False) -> set[str]:
        """Which of these canonical links are articles seen already: fetched before
        (`written_only`: and written, not only passed over), or a post's own link."""
        links = {link for link in links if link}
        if not links:
            return set()
        found = known_links(self.store, links, written_only=written_only)
        if links - found:
            found |= (links - found) & self._post_links()
        return found

    def _post_links(self) -> set[str]:
        if self._recount:
            self._recount = False
            count = self.store.count_posts()
            if count != self._posts_of:
                self._posts = {canonical(url) for url in post_links(self.store)}
                self._posts_of = count
        return self._posts

    def write_once(
        self,
        name: str,
        text: Callable[[str], str],
        same: Callable[[dict], bool],
        remembered: Callable[[str], bool],
    ) -> str:
        """Write an article's post, `text(path)`, at `name` in content/ (or name-2, -3,
        ...: a file there holding another article is never replaced), then
        `remembered(path)`. If that
        says another process wrote the article first, ours is taken back: "". A crash
        between the two leaves the file, which the next try finds (`same` of its front
        matter) and writes over: never a second copy."""
        path = self.free_path(name, same)
        write_atomic(self.site.content_dir / path, text(path).encode())
        if remembered(path):
            return path
        (self.site.content_dir / path).unlink(missing_ok=True)
        return ""

    def free_path(self, name: str, same: Callable[[dict], bool]) -> str:
        """`name` in content/, or name-2, -3, ...: the first that holds no file, or holds
        this article's (`same` of its front matter)."""
        stem, number = name.removesuffix(".md"), 1
        while True:
            path = name if number == 1 else f"{stem}-{number}.md"
            meta = _front_matter(self.site.content_dir / path)
            if meta is None or same(meta):
                return path
            number += 1


def remember_written(
    store: Store, now: datetime, link: str, **more: object
) -> Callable[[str], bool]:
    """The `remembered` of `Fetcher.write_once` for an article at `link`."""
    return lambda path: remember(store, now, link=link, path=path, **more)  # type: ignore[arg-type]


def _front_matter(path: Path) -> dict | None:
    """A post's front matter; None when there is no file; {} when it cannot be read."""
    try:
        meta, _ = front_matter(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ReadError):
        return {}
    return meta
