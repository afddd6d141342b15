"""Followed feeds (`[[follow]]`): each new entry written into content/follow/<feed>/ as an
editable Markdown post (content.links), which the next scan publishes like any other;
`postroom follow check`'s look at every feed.

What was written, or passed over on purpose, is remembered in the store (store.fetched)
by the entry's canonical link and by its id, and a post's own link counts too, so an
entry is picked up once across restarts, reorderings, a feed that rewrites every id,
and an article also added by hand, listed or saved. A post the curator deletes is not
fetched again.

Politeness: a feed is asked once per `poll_minutes`, each at its own phase of that
interval (two hundred feeds do not fire at once), with its last validators (a 304 costs
a few hundred bytes); a failure backs off exponentially, and a 429 or 503 is not asked
again before its Retry-After. One bad feed never stops the rest: whatever goes wrong
with one (a fetch, its body, its dates, the database refusing a row) is its own error,
with its own backoff, and the others go on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from postroom.content.fetch import PAGE_TYPES, Fetched, FetchError
from postroom.content.links import Link, canonical, link_file_name, link_post, read_link
from postroom.content.sourcefeed import FeedEntry, FeedError, SourceFeed, read_feed
from postroom.core.config import FollowSection
from postroom.core.slug import slugify
from postroom.service.fetching import Fetcher, backoff, problem_text, remember_written
from postroom.store.fetched import (
    Outcome,
    Target,
    TargetKind,
    add_target,
    drop_targets,
    known_entries,
    remember_all,
    save_outcome,
    targets,
)

#: where followed feeds' entries are written, inside content/: follow/<feed>/
FOLLOW_FOLDER = "follow"
#: new entries written from one feed in one poll; more (a feed that dumps its archive, a
#: hostile one) are noted as passed over, with a warning, not flooded into the digest
MAX_NEW_PER_POLL = 50
#: entries of one feed looked at, newest first: a feed of 50,000 is read, not worked through
MAX_ENTRIES = 1000


@dataclass(frozen=True)
class FeedReport:
    """One poll of one followed feed."""

    url: str
    name: str
    written: tuple[str, ...] = ()  # content paths of new posts
    passed_over: int = 0  # older than the first poll's backfill, or past MAX_NEW_PER_POLL
    filtered: int = 0  # left out by include / exclude
    unchanged: bool = False  # 304: nothing read
    error: str = ""
    flooded: int = 0  # new entries past MAX_NEW_PER_POLL (in passed_over too)


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


_WORD = re.compile(r"\w+")


def wanted(follow: FollowSection, entry: FeedEntry, text: str) -> bool:
    """`include` (any, when given) and `exclude` (none), as whole words or phrases in the
    entry's title, `text` or categories, in any case."""
    if not follow.include and not follow.exclude:
        return True
    said = " ".join((entry.title, text, *entry.tags)).casefold()
    words = {w for w in _WORD.findall(said)}

    def found(keyword: str) -> bool:
        key = keyword.casefold()
        if " " not in key and _WORD.fullmatch(key):
            return key in words
        return re.search(rf"(?<!\w){re.escape(key)}(?!\w)", said) is not None

    if follow.include and not any(found(k) for k in follow.include):
        return False
    return not any(found(k) for k in follow.exclude)


def entry_id(entry: FeedEntry) -> str:
    """The entry's id, or for an entry with none, a digest of what it says."""
    if entry.id:
        return entry.id
    said = "\n".join((entry.title, entry.text()))
    return "sha256:" + hashlib.sha256(said.encode("utf-8", "replace")).hexdigest()[:32]


def _home(url: str) -> bool:
    """A site's front page: what some feeds (and some pages' og:url) give for every entry."""
    return urlsplit(url).path in ("", "/")


def _host(url: str) -> str:
    """The URL's host name; "" for none, or a URL no parser can split ("http://[::1/")."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def entry_link(entry: FeedEntry, feed: SourceFeed) -> str:
    """The entry's canonical link, unless it is the feed's home page (some feeds link
    every entry there): then it cannot tell entries apart."""
    link = canonical(entry.link) if entry.link else ""
    if not link or _home(link) or link == canonical(feed.link or ""):
        return ""
    return link


class Follower:
    """The followed feeds of one site, polled when due (the service's follow job, `run
    --once`), or all at once, writing nothing (`follow check`)."""

    def __init__(self, fetcher: Fetcher, log: Callable[[str], None] = lambda _line: None) -> None:
        self.fetcher, self.store, self.site = fetcher, fetcher.store, fetcher.site
        self.follows = {f.url: f for f in self.site.config.follow}
        self.log = log

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
        """Poll every feed that is due (or all of them): fetched side by side, each read
        and written as its answer comes."""
        known = self.sync(now)
        due = [t for url, t in known.items() if everything or _due(t, now)]
        answers = self.fetcher.side_by_side(
            due, lambda t: t.url, lambda t: self.fetcher.fetch(t.url, t)
        )
        return [self._poll_one(target, answer, now) for target, answer in answers]

    def _poll_one(self, target: Target, answer: Fetched | FetchError, now: datetime) -> FeedReport:
        follow = self.follows[target.url]
        every = timedelta(minutes=follow.poll_minutes)
        name = follow.source(target.title)
        try:
            if isinstance(answer, FetchError):
                raise answer
            if answer.status == 304:
                outcome = Outcome(next_poll(target.url, every, now), True)
                save_outcome(self.store, target.url, outcome, now)
                return FeedReport(target.url, name, unchanged=True)
            feed = read_feed(answer)
            report = self._take_entries(follow, feed, first=not target.last_ok, now=now)
            if self.fetcher.stop.is_set():  # stopped part way: asked again from the start
                return report
            outcome = Outcome(
                next_poll(target.url, every, now),
                True,
                etag=answer.etag,
                last_modified=answer.last_modified,
                title=feed.title,
            )
            save_outcome(self.store, target.url, outcome, now)
            return report
        except Exception as exc:  # one feed's trouble, whatever it is: said, and backed off
            error = problem_text(exc) if not isinstance(exc, FeedError) else f"{target.url}: {exc}"
            wait = backoff(every * 2, target.failures + 1, getattr(exc, "retry_after", None))
            try:
                save_outcome(self.store, target.url, Outcome(now + wait, False, error), now)
            except Exception as saving:  # the database itself: the next run tries again
                self.log(f"{name}: its state not saved: {problem_text(saving)}")
            return FeedReport(target.url, name, error=error)

    def _take_entries(
        self, follow: FollowSection, feed: SourceFeed, *, first: bool, now: datetime
    ) -> FeedReport:
        """Write the entries not seen before, oldest first. On the first poll, those
        older than the backfill are only noted as seen; past MAX_NEW_PER_POLL, the oldest
        of the new are noted too (a flood is said, not published)."""
        name = follow.source(feed.title)
        entries = feed.entries[:MAX_ENTRIES]  # a feed lists its newest first
        links = {e: entry_link(e, feed) for e in entries}
        ids = {e: entry_id(e) for e in entries}
        seen_ids = known_entries(self.store, follow.url, ids.values())
        seen_links = self.fetcher.seen(links.values())
        since = now - timedelta(days=follow.backfill_days)
        new: list[tuple[FeedEntry, str]] = []
        passed: list[tuple[str, str, str]] = []
        renamed: list[tuple[str, str, str]] = []
        filtered = 0
        for entry in reversed(entries):  # oldest first
            link, ident = links[entry], ids[entry]
            if ident in seen_ids or (link and link in seen_links):
                if ident not in seen_ids:  # its id was rewritten: the new one is noted too
                    renamed.append((link, ident, ""))
                continue
            seen_ids.add(ident)  # the same id (or link) twice in one feed is one entry
            if link:
                seen_links.add(link)
            unpublishable = not entry.title or not (link or entry.html)
            if unpublishable or (first and (entry.published is None or entry.published < since)):
                passed.append((link, ident, ""))
                continue
            text = entry.text()
            if wanted(follow, entry, text):
                new.append((entry, text))
            else:
                filtered += 1
        flood = new[: max(0, len(new) - MAX_NEW_PER_POLL)]  # the oldest of a flood
        passed += [(links[e], ids[e], "") for e, _ in flood]
        remember_all(self.store, now, [*passed, *renamed], feed=follow.url)
        written: list[str] = []
        for entry, text in new[len(flood) :]:
            if self.fetcher.stop.is_set():
                break
            if path := self._write_entry(follow, name, entry, text, ids[entry], links[entry], now):
                written.append(path)
        if flood:
            self.log(
                f"{name}: {len(flood)} more new entries than the {MAX_NEW_PER_POLL} a poll"
                " takes: the oldest noted as seen, not published"
            )
        return FeedReport(
            follow.url, name, tuple(written), len(passed), filtered, flooded=len(flood)
        )

    def _write_entry(
        self,
        follow: FollowSection,
        name: str,
        entry: FeedEntry,
        text: str,
        ident: str,
        link: str,
        now: datetime,
    ) -> str:
        """The entry as a post in follow/<feed>/; its path, or "" when it was not written
        (another process wrote it first; stopping while its page was fetched)."""
        page_url, image = "", entry.image
        if follow.full_text and link:
            try:
                page = self.fetcher.fetch_or_stop(link)
                if page.content_type in PAGE_TYPES:
                    read = read_link(page)
                    # a page naming its site's front page (or another site) as its
                    # canonical URL says nothing about which article it is
                    same_site = _host(read.url) == _host(link) != ""
                    page_url = read.url if same_site and not _home(read.url) else ""
                    text = read.text or text
                    image = read.image or image  # the page's own picture, else the feed's
            except FetchError as exc:  # the entry's own text stands in
                if self.fetcher.stop.is_set():
                    return ""
                self.log(f"{name}: {entry.title}: full text not fetched: {exc}")
        if page_url and page_url != link and self.fetcher.seen([page_url]):
            remember_all(self.store, now, [(link, ident, "")], feed=follow.url)
            return ""  # the page is an article seen already (added by hand)
        post = Link(
            url=link or page_url,
            title=entry.title,
            author=entry.author,
            source=name,
            # a date to come would pin the entry atop every list: it is news now at most
            published=min(entry.published, now).isoformat() if entry.published else "",
            text=text,
            image=image,
        )
        today = now.astimezone(self.site.config.tz).date()
        feed_slug = slugify(name, max_length=40)
        folder = f"{FOLLOW_FOLDER}/{feed_slug}"
        also = (page_url,) if page_url else ()
        return self.fetcher.write_once(
            link_file_name(post, today, folder),
            lambda path: link_post(post, follow.tags, post_id=f"{feed_slug}-{_stem(path)}"),
            lambda meta: _same_article(meta, post),
            remember_written(self.store, now, link, also=also, feed=follow.url, entry_id=ident),
        )


def _same_article(meta: dict, post: Link) -> bool:
    """Whether a post file's front matter is this article's (written before a crash).
    Without a link nothing tells two articles apart: never the same."""
    return bool(post.url) and meta.get("source_url") == post.url


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".md")


def _due(target: Target, now: datetime) -> bool:
    return not target.next_try or datetime.fromisoformat(target.next_try) <= now


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
    fetcher = follower.fetcher
    follows = list(follower.follows.values())
    answers = dict(fetcher.side_by_side(follows, lambda f: f.url, lambda f: fetcher.fetch(f.url)))
    return [_check_one(follower, f, answers[f]) for f in follows if f in answers]


def _check_one(
    follower: Follower, follow: FollowSection, answer: Fetched | FetchError
) -> FeedCheck:
    try:
        if isinstance(answer, FetchError):
            raise answer
        feed = read_feed(answer)
        ids = {e: entry_id(e) for e in feed.entries}
        links = {e: entry_link(e, feed) for e in feed.entries}
        seen_ids = known_entries(follower.store, follow.url, ids.values())
        seen_links = follower.fetcher.seen(links.values())
    except FeedError as exc:
        return FeedCheck(follow.url, follow.source(""), error=f"{follow.url}: {exc}")
    except Exception as exc:  # whatever it is, this feed's error, not the command's
        return FeedCheck(follow.url, follow.source(""), error=problem_text(exc))
    fresh = [
        e
        for e in feed.entries
        if ids[e] not in seen_ids and not (links[e] and links[e] in seen_links)
    ]
    let_through = [e for e in fresh if wanted(follow, e, e.text())]
    return FeedCheck(
        follow.url,
        follow.source(feed.title),
        feed.kind,
        len(feed.entries),
        len(let_through),
        len(fresh) - len(let_through),
    )
