"""WebSub publishing: after a build that changed feeds, the hub (`site.websub_hub`) is told
which, so that it fetches them and pushes them to its subscribers at once.

    pinger = Pinger(site, store, clock, stop)
    pinger.owe(changed_feeds(site, built.written))  # after each build; returns at once
    pinger.settle(5)                                 # `run --once`: wait a little for them

W3C WebSub leaves how a publisher tells its hub to the hub; every public hub takes
PubSubHubbub's form: a POST of `hub.mode=publish&hub.url=<topic>`. The pings go out
from a thread of their own, one request at a time with a short timeout, so a slow or
dead hub never holds up a scan, a build or a send. A hub that cannot be reached, times
out, answers 5xx or 429 is asked again later (backoff, or its Retry-After, bounded),
scheduled, never slept in a job; any other 4xx (or a 3xx: postroom does not follow a
hub that moved) is final for that change of the feed, and logged once a round, however
many feeds it refused (a hub refusing everything on a site of 5,000 tag feeds would
otherwise write 5,000 lines a build). Level-triggered: the feeds owed are kept in memory
and recorded in the store (activity "websub") when they are owed, every couple of
seconds of a long round, and when `settle()` gives up, so a service stopped before it
got through them, or a `run --once` past its budget, leaves the next process exactly the
feeds not yet told, which it tells first thing (not the ones told already: a site with
thousands of feeds would otherwise re-tell the same first few thousand each run and
never reach the rest).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import httpx
from postroom.content.fetch import parse_retry_after, user_agent
from postroom.core.clock import Clock
from postroom.core.config import Site
from postroom.core.sanitize import one_line
from postroom.feeds.archive import FOLDER as DIGESTS
from postroom.feeds.syndication import FORMATS
from postroom.service.logs import event
from postroom.store import Store
from postroom.store.activity import last, record

ACTIVITY = "websub"  # the store's record of the feeds owed and the last outcome
TIMEOUT = 5.0  # seconds for one request: connect, each read, each write
#: seconds to wait after the 1st, 2nd, ... round that could not get through (then the last)
DELAYS = (10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
LONGEST = 3600.0  # the longest Retry-After heeded: a hub asking for more is asked in an hour
ONCE_SECONDS = 5.0  # how long `run --once` waits for the pings (a retry is the next run's)
GRACE = 1.0  # the end of settle's budget: no new request, the one in flight may answer
RECORD_EVERY = 2.0  # seconds between records of a long round's progress
_LISTED = 10  # feeds named in a log line's JSON `feeds` (the count says how many in all)
_GLANCE = 0.5  # seconds between the idle thread's looks at the service's stop flag
# the feeds a reader subscribes to: the site's, a tag's, a source's (archive pages are not)
_FEED = re.compile(rf"(?:(?:tags|sources)/[^/]+/)?(?:{'|'.join(map(re.escape, FORMATS))})")


class Outcome(Enum):
    TOLD = "told"  # 2xx: the hub took it
    REFUSED = "refused"  # a 4xx but 429, or a 3xx: final, asking again would not help
    DEFERRED = "deferred"  # away, too slow, 5xx or 429: asked again later


@dataclass(frozen=True)
class Answer:
    """What the hub made of one feed's ping: `detail` is the status and reason, or the
    error; `retry_after` the seconds the hub asked for (429, 503), if it did."""

    url: str
    outcome: Outcome
    detail: str
    retry_after: float | None = None


def changed_feeds(site: Site, written: Iterable[str]) -> list[str]:
    """The absolute URLs of the subscribable feeds among `written` (a BuildReport's paths
    under public/), sorted: the site's, each tag's and source's, and the digest's."""
    names = (n for n in written if _FEED.fullmatch(n) or n == f"{DIGESTS}atom.xml")
    return sorted(f"{site.base_url}{name}" for name in names)


def ping(client: httpx.Client, hub: str, url: str) -> Answer:
    """Tell `hub` that the feed at `url` changed: one form-encoded POST, nothing else.

    One hub.url a request, not several in one: PubSubHubbub 0.3 allowed hub.url to be
    repeated, but the convention since (0.4, and the hubs in use: Superfeedr, Google's,
    websub.rocks) reads one, a form parser keeps only the first or the last of a repeated
    field, and a refusal of a batch would not say which feed it was about."""
    try:
        response = client.post(hub, data={"hub.mode": "publish", "hub.url": url})
    except httpx.TimeoutException as exc:
        return Answer(url, Outcome.DEFERRED, f"no answer in time ({type(exc).__name__})")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # refused, reset, TLS, a name unknown
        return Answer(url, Outcome.DEFERRED, one_line(str(exc)) or type(exc).__name__)
    status = response.status_code
    said = f"{status} {response.reason_phrase}".strip()
    if 200 <= status < 300:
        return Answer(url, Outcome.TOLD, said)
    if status == 429 or status >= 500:
        value = response.headers.get("retry-after", "")
        wait = parse_retry_after(value, datetime.now(UTC)) if value else None
        return Answer(url, Outcome.DEFERRED, said, wait)
    if body := one_line(response.text[:300]):
        said += f": {body}"
    if location := response.headers.get("location"):
        said += f" (moved to {location}: set site.websub_hub to it)"
    return Answer(url, Outcome.REFUSED, said)


def _feeds(count: int) -> str:
    return f"{count} feed{'s' if count != 1 else ''}"


class Pinger:
    """The feeds owed to the site's hub, and the thread that tells it of them.

    Rounds: each owed feed is pinged in turn; the first that cannot get through ends the
    round (a hub that is down is not asked 30 times over, each waiting out a timeout),
    and the next round comes after `delays[n]` for the n-th such round in a row, or the
    hub's Retry-After if longer (at most `longest`). A feed changed again while its ping
    was in flight stays owed: the hub hears of the newer change too."""

    def __init__(
        self,
        site: Site,
        store: Store,
        clock: Clock,
        stop: threading.Event | None = None,
        *,
        delays: Sequence[float] = DELAYS,
        longest: float = LONGEST,
        timeout: float = TIMEOUT,
        record_every: float = RECORD_EVERY,
        grace: float = GRACE,
    ) -> None:
        self.hub = site.config.site.websub_hub
        self.store, self.clock = store, clock
        self.stop = stop or threading.Event()
        self.delays, self.longest = tuple(delays) or (0.0,), longest
        self.record_every, self.grace = record_every, grace
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": user_agent(site.base_url)},
        )
        self._state = threading.Condition()
        self._owed: dict[str, int] = {}  # feed URL -> the change (a counter) it is owed for
        self._changes = 0
        self._failures = 0  # rounds in a row that could not get through
        self._not_before = 0.0  # time.monotonic() of the next round's earliest start
        self._busy = False  # a round is under way
        self._last: dict = {}
        self._round: list[Answer] | None = None  # the answers so far of the round under way
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._loaded = False
        self._recording = threading.Lock()  # one record at a time, each of the state then
        self._final = False  # settle() made the last record: nothing overwrites it after

    def owe(self, urls: Iterable[str]) -> None:
        """The hub is owed a ping for each of `urls`; returns at once. The first call also
        takes on what the last process left owed (not at start: a standby must not ping)."""
        urls = list(urls)
        if not self._loaded:  # and the last outcome: status must not forget it each run
            kept = last(self.store, ACTIVITY)
            urls = [*(kept.data.get("owed") or [] if kept else []), *urls]
            self._last = (kept.data.get("last") if kept else None) or {}
            self._loaded = True
        if not urls:
            return
        with self._state:
            for url in urls:
                self._changes += 1
                self._owed[url] = self._changes
            self._state.notify_all()
        self._record()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="websub", daemon=True)
            self._thread.start()

    def owed(self) -> list[str]:
        with self._state:
            return list(self._owed)

    def _wait(self) -> float | None:
        """Seconds until the next round may start (0: now); None with nothing owed."""
        if not self._owed:
            return None
        return max(0.0, self._not_before - time.monotonic())

    def _run(self) -> None:
        while not (self.stop.is_set() or self._closed.is_set()):
            with self._state:
                wait = self._wait()
                if wait != 0:
                    self._state.wait(_GLANCE if wait is None else min(wait, _GLANCE))
                    continue
                self._busy = True
            try:
                self.push()
            except Exception as exc:  # the store away while recording: a later round mends
                with self._state:  # later, not at once: a failing round must not spin
                    self._not_before = time.monotonic() + self.delays[0]
                event(ACTIVITY, f"round failed: {one_line(str(exc))}", logging.ERROR)
            finally:
                with self._state:
                    self._busy = False
                    self._state.notify_all()

    def push(self) -> list[Answer]:
        """One round now, in this thread: ping every owed feed until one cannot get through;
        log the outcome and record what is still owed (as it goes, too: a round of
        thousands takes minutes). A round that `settle()` ended is left for it to log
        and record: its record is the last, and one line says what the round did."""
        with self._state:
            round_ = list(self._owed.items())
            self._round = answers = []
        recorded = time.monotonic()
        for url, change in round_:
            if self.stop.is_set() or self._closed.is_set():
                break
            answer = ping(self.client, self.hub, url)
            with self._state:
                answers.append(answer)
                if answer.outcome is not Outcome.DEFERRED and self._owed.get(url) == change:
                    del self._owed[url]  # told or refused, and not changed again meanwhile
            if answer.outcome is Outcome.DEFERRED:
                break
            if time.monotonic() - recorded >= self.record_every:
                self._record()
                recorded = time.monotonic()
        with self._state:
            if self._closed.is_set():  # settle() ended it: settle() says so
                return answers
            self._round = None
        self._log(answers, cut=self.stop.is_set())
        self._record()
        return answers

    def _log(self, answers: list[Answer], *, cut: bool = False) -> None:
        """One line for the feeds told, one for those refused, one for those still owed;
        `cut`: the round was ended from outside (the process is stopping), not by the hub."""
        hub = self.hub
        told = [a.url for a in answers if a.outcome is Outcome.TOLD]
        refused = [a for a in answers if a.outcome is Outcome.REFUSED]
        deferred = next((a for a in answers if a.outcome is Outcome.DEFERRED), None)
        with self._state:
            owed = len(self._owed)
        if cut and owed:
            self._log_refused(refused)
            event(
                ACTIVITY,
                f"{hub} told of {_feeds(len(told))}, {owed} still owed: the next run tells it",
                hub=hub,
                told=len(told),
                owed=owed,
                feeds=told[:_LISTED],
            )
            if deferred is not None:
                self._last = self._outcome(Outcome.DEFERRED, owed, deferred.detail)
            elif told:
                self._last = self._outcome(Outcome.TOLD, len(told), f"{owed} still owed")
            else:
                self._last = self._outcome(Outcome.DEFERRED, owed, "stopped before an answer")
            return
        if told:
            said = f"told {hub} of {_feeds(len(told))}"
            event(ACTIVITY, said, hub=hub, told=len(told), feeds=told[:_LISTED])
            self._last = self._outcome(Outcome.TOLD, len(told), "")
        self._log_refused(refused)
        with self._state:
            if deferred is None:
                self._failures = 0
                return
            self._failures += 1
            delay = self.delays[min(self._failures, len(self.delays)) - 1]
            delay = max(delay, min(deferred.retry_after or 0.0, self.longest))
            self._not_before = time.monotonic() + delay
            owed = len(self._owed)
        event(
            ACTIVITY,
            f"{hub} not told of {_feeds(owed)}: {deferred.detail}; trying again in {delay:g} s",
            logging.WARNING,
            hub=hub,
            owed=owed,
            retry_in=delay,
        )
        self._last = self._outcome(deferred.outcome, owed, deferred.detail)

    def _log_refused(self, refused: list[Answer]) -> None:
        """The round's refusals in one line, with the first as an example: a hub that
        refuses one feed usually refuses them all, for the same reason."""
        if not refused:
            return
        hub, first, count = self.hub, refused[0], len(refused)
        if count == 1:
            said = (
                f"{hub} refused {first.url}: {first.detail}; it is asked again when it next changes"
            )
        else:
            said = (
                f"{hub} refused {_feeds(count)} (e.g. {first.url}: {first.detail});"
                " they are asked again when they next change"
            )
        urls = [a.url for a in refused[:_LISTED]]
        event(ACTIVITY, said, logging.WARNING, hub=hub, refused=count, feeds=urls)
        self._last = self._outcome(Outcome.REFUSED, count, first.detail)

    def _outcome(self, outcome: Outcome, feeds: int, detail: str) -> dict:
        """The last outcome as recorded for `status --json`."""
        at = self.clock().isoformat()
        return {"at": at, "outcome": outcome.value, "feeds": feeds, "detail": detail}

    def _record(self, *, final: bool = False) -> None:
        """What is owed and the last outcome, for the next process and `status --json`.
        Read under the lock that orders the writes, so a later write is never of an older
        state; none after settle()'s `final` one (the process may be exiting, or the next
        one running)."""
        with self._recording:
            if self._final:
                return
            self._final = final
            data = {"hub": self.hub, "owed": self.owed(), "last": self._last or None}
            record(self.store, ACTIVITY, self.clock(), data)

    def settle(self, budget: float = ONCE_SECONDS) -> bool:
        """Wait, up to `budget` seconds, until nothing is owed or the next round is due
        after that (`run --once`); then stop the thread, and record and log what it got
        through. New requests stop `grace` seconds (at most half the budget)
        before the end, so that the one in flight can answer and count. True if nothing
        is owed."""
        start = time.monotonic()
        cutoff = start + budget - min(self.grace, budget / 2)
        with self._state:
            while self._thread is not None and (self._busy or self._owed):
                left = cutoff - time.monotonic()
                wait = self._wait()
                if left <= 0 or (not self._busy and wait is not None and wait > left):
                    break
                self._state.wait(left)
        self.close()
        if self._thread is None:  # nothing was ever owed
            return True
        self._thread.join(max(0.0, start + budget - time.monotonic()))
        with self._state:
            answers, self._round = self._round, None
            owed = bool(self._owed)
            backing_off = self._not_before > time.monotonic()  # and said so when it began
        if answers is not None or (owed and not backing_off):
            self._log(answers or [], cut=True)
        try:
            self._record(final=True)
        except Exception as exc:  # the store away: the next run tells the hub of all again
            event(ACTIVITY, f"not recorded: {one_line(str(exc))}", logging.ERROR)
        return not owed

    def close(self) -> None:
        """No new round starts; one under way ends at its request in flight (a daemon
        thread: it never holds the process). `settle()` is how a process ends: it also
        records what is owed."""
        self._closed.set()
        with self._state:
            self._state.notify_all()


def hub_told_after(site: Site, store: Store, clock: Clock, written: Iterable[str]) -> Pinger | None:
    """A command's own build (`digest send`, outside the service): its pings start now,
    beside whatever the command does next; `settle()` the Pinger before exiting. None
    without a hub."""
    if not site.config.site.websub_hub:
        return None
    pinger = Pinger(site, store, clock)
    pinger.owe(changed_feeds(site, written))
    return pinger


def status(store: Store, hub: str) -> dict | None:
    """`status --json`'s "websub": the hub, the feeds owed and the last outcome; null
    without a hub."""
    if not hub:
        return None
    kept = last(store, ACTIVITY)
    data = kept.data if kept else {}
    return {
        "hub": hub,
        "owed": len(data.get("owed", [])),
        "last": data.get("last"),  # at, outcome (told, refused, deferred), feeds, detail
    }
