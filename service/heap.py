"""The service's Python heap between builds: what outlives a build is put out of the
cyclic garbage collector's sight, so a new post never waits for a walk of the whole site.

A service of 100,000 posts holds ~300,000 tracked objects for its whole life (the build
cache: a head per post, the orders, the manifest). CPython's full collection walks every
one of them; it runs whenever the objects that survived two collections since the last
one reach a quarter of those it kept, which a few builds' leftovers do, and takes 250 to
450 ms at that size, on the thread that is scanning and building: a pick-up that meets
one is that much later (the 1.5 s goal has 0.5 s for the scan and the build).

`settle()` after each build: a collection of what is new since the last settle (the
build's leftovers, a few thousand objects after one new post), then `gc.freeze()`, which
moves every object tracked now into the permanent generation that no collection walks.
Objects frozen are still freed as soon as nothing refers to them (reference counting);
only a cycle among them that becomes garbage waits, until the next whole settle: after
a build that read every head (a first build, another database, the hourly full look),
and at least every `WHOLE_SECONDS`, everything is unfrozen and collected before it is
frozen again. The garbage that can wait is bounded by an hour of builds.

`paused()` around a build: no collection runs during it, for `PAUSE_MOST` seconds at
most. A build after one new post makes lists of every post (the orders, the feed
windows) and tens of thousands of short-lived objects; the young collections that
walk them took ~100 ms of a 0.5 s build at 100,000 posts, to free almost nothing, as
reference counting frees the rest. The settle after the build collects what cycles it
left. A longer build (a whole one) gets the collector back once the pause is over, so
its peak memory is what it was.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: the longest a frozen cycle of garbage waits for a collection that sees it
WHOLE_SECONDS = 3600.0
#: the longest a build runs with the collector paused (an incremental one takes < 1 s)
PAUSE_MOST = 2.0


class Heap:
    """When the last whole collection ran; `settle` after every build of the service."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._whole_at: float | None = None
        self.resumed = threading.Event()  # set when a pause ran out before its block

    def settle(self, whole: bool) -> bool:
        """Collect what the last build left and freeze the rest; `whole`: the build read
        every head, so most of the frozen objects were replaced, and everything is looked
        at again. True when the collection was a whole one."""
        now = self._monotonic()
        due = self._whole_at is None or now - self._whole_at >= WHOLE_SECONDS
        if whole or due:
            gc.unfreeze()
            self._whole_at = now
        gc.collect()  # with nothing unfrozen: only the objects made since the last settle
        gc.freeze()
        return whole or due

    @contextmanager
    def paused(self, most: float = PAUSE_MOST) -> Iterator[None]:
        """No cyclic collection for the block, or for its first `most` seconds; as it
        was after it (a collector someone else turned off stays off)."""
        if not gc.isenabled():
            yield
            return
        gc.disable()
        self.resumed.clear()
        timer = threading.Timer(most, self._resume)  # a long build gets it back
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            gc.enable()

    def _resume(self) -> None:
        gc.enable()
        self.resumed.set()
