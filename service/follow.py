"""Articles from the web into content/: followed feeds (`[[follow]]`) and listed links
(`links.txt`, `*.url`), on the service's timer; `postroom follow list|check`.

Each new article is written as an editable Markdown post (content.links), which the
next scan publishes like any other: the curator can correct it, or delete it, and a
deleted one is never fetched again. What was written, or passed over on purpose, is
remembered in the store (store.fetched) by its canonical link and by the feed's entry
id, so an entry is picked up once across restarts, reorderings, a feed that rewrites
every id, and an article both added by hand and followed.

Politeness: a feed is asked once per `poll_minutes`, each at its own phase of that
interval (so two hundred feeds do not fire at once), with its last validators (a 304
costs a few hundred bytes); a failure backs off exponentially, and a 429 or 503 is
not asked again before its Retry-After. A link that cannot be fetched is tried again
with backoff, and said in `check` with its reason, until it works or leaves its list.
One bad feed or link never stops the rest: each is tried, and reported, on its own.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from postroom.content.fetch import Fetched, FetchError, fetch, user_agent
from postroom.content.linkfiles import listed_links
from postroom.content.links import Link, canonical, link_file_name, link_post, read_link
from postroom.content.markdown import front_matter
from postroom.content.sourcefeed import FeedEntry, FeedError, SourceFeed, read_feed
from postroom.core.config import FollowSection, Site
from postroom.core.model import Problem, ReadError
from postroom.core.slug import slugify
from postroom.feeds.writer import write_atomic
from postroom.store import Store
from postroom.store.fetched import (
    Outcome,
    Target,
    TargetKind,
    add_target,
    drop_targets,
    known_entries,
    known_links,
    remember,
    save_outcome,
    targets,
)

#: where followed feeds' entries are written, inside content/: follow/<feed>/
FOLLOW_FOLDER = "follow"
PAGES = ("text/html", "application/xhtml+xml")
_PARALLEL = 8  # feeds fetched at once: a slow one does not hold up the rest
_GLANCE = 0.2  # seconds between looks at the stop flag while waiting on fetches
T = TypeVar("T")
_MAX_BACKOFF = timedelta(days=1)
_LINK_BACKOFF = timedelta(minutes=1)  # a listed link's first retry; doubled each time


@dataclass(frozen=True)
class FeedReport:
    """One poll of one followed feed."""

    url: str
    name: str
    written: tuple[str, ...] = ()  # content paths of new posts
    passed_over: int = 0  # older than the first poll's backfill
    filtered: int = 0  # left out by include / exclude
    unchanged: bool = False  # 304: nothing read
    error: str = ""


@dataclass(frozen=True)
class LinkReport:
    """One listed link tried."""

    url: str
    listed_in: str
    written: str = ""  # the content path of its post
    known: bool = False  # an article seen already (added, followed or listed before)
    error: str = ""


def phase(url: str) -> float:
    """Where in its interval a feed is polled, from 0 to 1: fixed by its URL."""
    return int.from_bytes(hashlib.sha256(url.encode()).digest()[:4], "big") / 2**32


def next_poll(url: str, every: timedelta, now: datetime) -> datetime:
    """The feed's next moment at its own phase, at least half an interval away."""
    period = every.total_seconds()
    offset = phase(url) * period
    cycles = int((now.timestamp() - offset) // period) + 1
    at = datetime.fromtimestamp(cycles * period + offset, now.tzinfo)
    return at if at - now >= every / 2 else at + every


def backoff(base: timedelta, failures: int, retry_after: float | None = None) -> timedelta:
    """base x 2^(failures-1), at most a day; never sooner than the server asked."""
    wait = min(base * 2 ** max(failures - 1, 0), max(_MAX_BACKOFF, base))
    return max(wait, timedelta(seconds=retry_after or 0))


_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def wanted(follow: FollowSection, entry: FeedEntry) -> bool:
    """`include` (any, when given) and `exclude` (none), as whole words or phrases in the
    entry's title, text or categories, in any case."""
    text = " ".join((entry.title, entry.text(), *entry.tags)).casefold()
    words = _words(text)

    def found(keyword: str) -> bool:
        key = keyword.casefold()
        return (
            key in words
            if " " not in key
            else re.search(rf"\b{re.escape(key)}\b", text) is not None
        )

    if follow.include and not any(found(k) for k in follow.include):
        return False
    return not any(found(k) for k in follow.exclude)


def entry_id(entry: FeedEntry) -> str:
    """The entry's id, or for an entry with none, a digest of what it says."""
    if entry.id:
        return entry.id
    said = "\n".join((entry.title, entry.text()))
    return "sha256:" + hashlib.sha256(said.encode()).hexdigest()[:32]


def entry_link(entry: FeedEntry, feed: SourceFeed) -> str:
    """The entry's link, unless it is the feed's home page (some feeds link every entry
    there): then it cannot tell entries apart."""
    link = entry.link
    return "" if not link or canonical(link) == canonical(feed.link or "") else link


class Follower:
    """The followed feeds and listed links of one site, tried when due (the service's
    follow job, `run --once`), or all at once without writing (`follow check`)."""

    def __init__(
        self,
        site: Site,
        store: Store,
        *,
        stop: threading.Event | None = None,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.site, self.store = site, store
        self.stop = stop or threading.Event()
        self.log = log
        self.agent = user_agent(site.base_url)
        self.allow_private = site.config.fetch.allow_private
        self.follows = {f.url: f for f in site.config.follow}

    def fetch(self, url: str, target: Target | None = None) -> Fetched:
        """GET `url` as this site fetches (its agent, its private-address rule), with
        `target`'s validators when given."""
        return fetch(
            url,
            agent=self.agent,
            allow_private=self.allow_private,
            etag=target.etag if target else "",
            last_modified=target.last_modified if target else "",
        )

    # followed feeds

    def sync(self, now: datetime) -> dict[str, Target]:
        """The store's feed targets made the config's: a feed newly followed is due now,
        one no longer followed is forgotten (its seen entries are kept)."""
        known = targets(self.store, TargetKind.FEED)
        for url in self.follows.keys() - known.keys():
            add_target(self.store, url, TargetKind.FEED, now)
        if gone := known.keys() - self.follows.keys():
            drop_targets(self.store, gone)
        if self.follows.keys() - known.keys():
            known = targets(self.store, TargetKind.FEED)
        return {url: t for url, t in known.items() if url in self.follows}

    def poll(self, now: datetime, *, everything: bool = False) -> list[FeedReport]:
        """Poll every feed that is due (or all of them): fetched side by side, then read
        and written one by one."""
        known = self.sync(now)
        due = [
            known[url]
            for url in self.follows
            if url in known and (everything or _due(known[url], now))
        ]
        if not due:
            return []
        return [
            self._poll_one(target, answer, now)
            for target, answer in self.side_by_side(due, lambda t: self.fetch(t.url, t))
        ]

    def side_by_side(
        self, items: list[T], get: Callable[[T], Fetched]
    ) -> Iterator[tuple[T, Fetched | FetchError]]:
        """`get` of each item, up to _PARALLEL at once, as each answer comes (a slow
        server holds up only itself). Stopping ends it within a moment: fetches under
        way are left to their own threads (daemons, gone with the process), whose
        answers nobody reads; what they would have saved is done next time."""
        answers: queue.Queue[tuple[T, Fetched | FetchError]] = queue.Queue()
        slots = threading.BoundedSemaphore(_PARALLEL)

        def one(item: T) -> None:
            try:
                answers.put((item, get(item)))
            except FetchError as exc:
                answers.put((item, exc))
            finally:
                slots.release()

        def start_all() -> None:
            for item in items:
                while not slots.acquire(timeout=_GLANCE):
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
                threading.Thread(target=one, args=(item,), daemon=True).start()

        threading.Thread(target=start_all, daemon=True).start()
        for _ in items:
            while True:
                try:
                    yield answers.get(timeout=_GLANCE)
                    break
                except queue.Empty:
                    if self.stop.is_set():
                        return
            if self.stop.is_set():
                return

    def _get_or_stop(self, url: str) -> Fetched:
        """One fetch that a stop does not wait for (an entry's page, a listed link)."""
        for _, answer in self.side_by_side([url], self.fetch):
            if isinstance(answer, FetchError):
                raise answer
            return answer
        raise FetchError(f"{url}: not fetched: stopping")

    def _poll_one(self, target: Target, answer: Fetched | FetchError, now: datetime) -> FeedReport:
        follow = self.follows[target.url]
        every = timedelta(minutes=follow.poll_minutes)
        name = follow.source(target.title)
        try:
            if isinstance(answer, FetchError):
                raise answer
            if answer.status == 304:
                save_outcome(
                    self.store, target.url, Outcome(next_poll(target.url, every, now), True), now
                )
                return FeedReport(target.url, name, unchanged=True)
            feed = read_feed(answer)
            report = self._take_entries(follow, feed, first=not target.last_ok, now=now)
        except (FetchError, FeedError, OSError) as exc:
            failures = target.failures + 1
            wait = backoff(every * 2, failures, getattr(exc, "retry_after", None))
            error = str(exc) if not isinstance(exc, OSError) else f"cannot write: {exc}"
            save_outcome(self.store, target.url, Outcome(now + wait, False, error), now)
            return FeedReport(target.url, name, error=error)
        outcome = Outcome(
            next_poll(target.url, every, now),
            True,
            etag=answer.etag,
            last_modified=answer.last_modified,
            title=feed.title,
        )
        save_outcome(self.store, target.url, outcome, now)
        return report

    def _take_entries(
        self, follow: FollowSection, feed: SourceFeed, *, first: bool, now: datetime
    ) -> FeedReport:
        """Write the entries not seen before; on the first poll, those older than the
        backfill are only noted as seen."""
        name = follow.source(feed.title)
        links = {e: entry_link(e, feed) for e in feed.entries}
        ids = {e: entry_id(e) for e in feed.entries}
        seen_ids = known_entries(self.store, follow.url, ids.values())
        seen_links = known_links(self.store, [canonical(link) for link in links.values() if link])
        since = now - timedelta(days=follow.backfill_days)
        written, passed, filtered = [], 0, 0
        for entry in reversed(feed.entries):  # oldest first, as a feed lists newest first
            link, ident = canonical(links[entry]) if links[entry] else "", ids[entry]
            if ident in seen_ids or (link and link in seen_links):
                if ident not in seen_ids:  # its id was rewritten: the new one is noted too
                    remember(self.store, now, link=link, feed=follow.url, entry_id=ident)
                continue
            if first and (entry.published is None or entry.published < since):
                remember(self.store, now, link=link, feed=follow.url, entry_id=ident)
                passed += 1
                continue
            if not wanted(follow, entry):
                filtered += 1
                continue
            if path := self._write_entry(follow, name, entry, ident, link, now):
                written.append(path)
            if self.stop.is_set():
                break
        return FeedReport(follow.url, name, tuple(written), passed, filtered)

    def _write_entry(
        self,
        follow: FollowSection,
        name: str,
        entry: FeedEntry,
        ident: str,
        link: str,
        now: datetime,
    ) -> str:
        """The entry as a post in follow/<feed>/; its path, or "" when another process
        (a `postroom add` of the same article) got there first."""
        page_url, text = "", entry.text()
        if follow.full_text and link:
            try:
                page = self._get_or_stop(link)
                if page.content_type in PAGES:
                    read = read_link(page)
                    page_url, text = read.url, read.text or text
            except FetchError as exc:  # the entry's own text stands in
                self.log(f"{name}: {entry.title}: full text not fetched: {exc}")
        published = entry.published.isoformat() if entry.published else ""
        post = Link(
            url=link or page_url,
            title=entry.title,
            author=entry.author,
            source=name,
            published=published,
            text=text,
        )
        today = now.astimezone(self.site.config.tz).date()
        folder = f"{FOLLOW_FOLDER}/{slugify(name, max_length=40)}"
        path = self._free_path(link_file_name(post, today, folder), post.url)
        if known_links(self.store, [page_url] if page_url else []):  # added by hand
            remember(self.store, now, link=link, feed=follow.url, entry_id=ident)
            return ""
        write_atomic(self.site.content_dir / path, link_post(post, follow.tags).encode())
        also = (page_url,) if page_url else ()
        remember(self.store, now, link=link, also=also, feed=follow.url, entry_id=ident, path=path)
        return path

    def _free_path(self, name: str, url: str) -> str:
        """`name`, or name-2, -3, ...: a file there already is replaced only if it holds
        this same article (written before a crash that came before it was remembered)."""
        stem, number = name.removesuffix(".md"), 1
        while True:
            path = name if number == 1 else f"{stem}-{number}.md"
            if not (self.site.content_dir / path).exists() or _holds(
                self.site.content_dir / path, url
            ):
                return path
            number += 1

    # listed links

    def fetch_links(self, now: datetime) -> tuple[list[LinkReport], list[Problem]]:
        """Fetch each listed link not seen before that is due; the problems of the lists
        themselves (lines that are not links, a file that cannot be read)."""
        written, problems = listed_links(self.site.content_dir)
        listed: dict[str, str] = {}  # canonical URL -> the file listing it
        for url, path in written.items():
            listed.setdefault(canonical(url), path)
        done = known_links(self.store, listed)
        pending = targets(self.store, TargetKind.LINK)
        if gone := [url for url in pending if url not in listed or url in done]:
            drop_targets(self.store, gone)
        reports = []
        for url, listed_in in listed.items():
            if url in done or self.stop.is_set():
                continue
            target = pending.get(url)
            if target is None:
                add_target(self.store, url, TargetKind.LINK, now, listed_in)
            elif not _due(target, now):
                continue
            reports.append(self._fetch_link(url, listed_in, target.failures if target else 0, now))
        return reports, problems

    def _fetch_link(self, url: str, listed_in: str, failures: int, now: datetime) -> LinkReport:
        try:
            page = self._get_or_stop(url)
            if page.content_type not in PAGES:
                raise FetchError(f"{page.url} is {page.content_type}, not a page")
            link = read_link(page)
            if known_links(self.store, [link.url]):
                remember(self.store, now, link=link.url, also=(url,))
                drop_targets(self.store, [url])
                return LinkReport(url, listed_in, known=True)
            today = now.astimezone(self.site.config.tz).date()
            path = self._free_path(link_file_name(link, today), link.url)
            write_atomic(self.site.content_dir / path, link_post(link).encode())
        except (FetchError, OSError) as exc:
            error = str(exc) if isinstance(exc, FetchError) else f"cannot write: {exc}"
            wait = backoff(_LINK_BACKOFF, failures + 1, getattr(exc, "retry_after", None))
            save_outcome(self.store, url, Outcome(now + wait, False, error), now)
            return LinkReport(url, listed_in, error=error)
        remember(self.store, now, link=link.url, also=(url,), path=path)
        drop_targets(self.store, [url])
        return LinkReport(url, listed_in, written=path)


def _due(target: Target, now: datetime) -> bool:
    return not target.next_try or datetime.fromisoformat(target.next_try) <= now


def _holds(path: Path, url: str) -> bool:
    """Whether the post at `path` is the article at `url` (its front matter says so)."""
    try:
        meta, _ = front_matter(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ReadError):
        return False
    return bool(url) and meta.get("source_url") == url


@dataclass(frozen=True)
class FeedCheck:
    """A followed feed as `follow check` finds it now: nothing written, nothing noted."""

    url: str
    name: str
    kind: str = ""  # the format read: rss20, atom10, json11, ...
    entries: int = 0
    new: int = 0  # entries not seen before, that the filters let through
    filtered: int = 0
    error: str = ""


def check_feeds(follower: Follower) -> list[FeedCheck]:
    """Fetch and read every followed feed, side by side; say what each holds."""
    follows = list(follower.follows.values())
    found = dict(follower.side_by_side(follows, lambda f: follower.fetch(f.url)))
    return [_check_one(follower, f, found[f]) for f in follows if f in found]


def _check_one(
    follower: Follower, follow: FollowSection, answer: Fetched | FetchError
) -> FeedCheck:
    try:
        if isinstance(answer, FetchError):
            raise answer
        feed = read_feed(answer)
    except (FetchError, FeedError) as exc:
        return FeedCheck(follow.url, follow.source(""), error=str(exc))
    store = follower.store
    ids = {e: entry_id(e) for e in feed.entries}
    links = {e: canonical(entry_link(e, feed)) for e in feed.entries if entry_link(e, feed)}
    seen_ids = known_entries(store, follow.url, ids.values())
    seen_links = known_links(store, links.values())
    fresh = [e for e in feed.entries if ids[e] not in seen_ids and links.get(e) not in seen_links]
    let_through = [e for e in fresh if wanted(follow, e)]
    return FeedCheck(
        follow.url,
        follow.source(feed.title),
        feed.kind,
        len(feed.entries),
        len(let_through),
        len(fresh) - len(let_through),
    )
