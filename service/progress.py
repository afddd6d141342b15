"""Progress of long work (a cold scan of thousands of files, a full build), as it goes.

A cold start of a big site takes a minute; without a sign of life a curator cannot
tell work from a hang. On a terminal a bar shows how far it is (rich, on stderr,
gone when done), at once for a thousand items or more, else once the work has
taken two seconds; anywhere else (the service's log, a pipe, a CI job) a plain
line every ten seconds says the same. Short work prints nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Self, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress

QUIET_SECONDS = 2.0  # work done sooner than this shows nothing at all
BIG = 1000  # ...unless it is this big: a cold start's thousands of files get a bar at once
LINE_EVERY = 10.0  # seconds between plain progress lines


class Reporter:
    """Called as `reporter(done, total)` by the work; shows it as the place allows."""

    def __init__(
        self,
        what: str,
        unit: str,
        say: Callable[[str], None],
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.unit, self._say, self._clock = what, unit, say, clock
        self._stream = stream if stream is not None else sys.stderr
        self._started = clock()
        self._said_at = self._started
        self._bar: Progress | None = None
        self._task = None

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if self._stream.isatty():
            if self._bar is not None or total >= BIG or now - self._started >= QUIET_SECONDS:
                self._draw(done, total)
        elif done < total and now - self._said_at >= LINE_EVERY:
            self._said_at = now
            self._say(f"{self.what}: {done:,} of {total:,} {self.unit} ({100 * done // total}%)")

    def _draw(self, done: int, total: int) -> None:
        if self._bar is None:
            # rich here, at the first bar: off a terminal (the service, a pipe, a bench) it
            # is never needed, and a cold run's scan would wait 0.03 s more for it
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            console = Console(file=self._stream)
            self._bar = Progress(
                TextColumn(self.what),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=total)
            self._bar.refresh()  # drawn now, however soon the work ends
        assert self._task is not None
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
