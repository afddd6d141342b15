"""Quiet periods: a file is read only once nobody has written it for a moment.

The service scans while the curator (or an editor, or a copy) is still
writing. A file whose mtime is younger than the quiet period is held back and
looked at again later, so a post saved in three chunks is read once, whole.
A file that vanishes is only forgotten once it has stayed gone as long: an
editor that saves by moving the old file aside and writing a new one must not
withdraw the post for an instant. Where mtimes cannot be trusted (a mount with
a clock in the future), a signature seen unchanged for the quiet period will do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


def _newest_mtime(signature: str) -> float:
    """Seconds since the epoch of the newest mtime in a "size:mtime_ns[+size:mtime_ns]"."""
    return max(int(part.split(":")[1]) for part in signature.split("+")) / 1e9


class QuietPeriod:
    """Decides, scan after scan, which changed files are quiet enough to read."""

    def __init__(
        self,
        quiet: float,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet, self._wall, self._monotonic = quiet, wall, monotonic
        self._seen: dict[str, tuple[str, float]] = {}  # held path -> (signature, seen since)
        self._missing: dict[str, float] = {}  # vanished path -> missing since
        self._due: float | None = None  # when something held may be ready (monotonic)

    def ready(self, path: str, signature: str) -> bool:
        """True when `path`, changed to `signature`, may be read now."""
        now = self._monotonic()
        self._missing.pop(path, None)
        seen, since = self._seen.get(path, (None, now))
        if seen != signature:
            self._seen[path], since = (signature, now), now
        age = self._wall() - _newest_mtime(signature)
        quiet_for = max(age, now - since)
        if quiet_for >= self.quiet:
            del self._seen[path]
            return True
        self._later(self.quiet - quiet_for)
        return False

    def gone(self, path: str) -> bool:
        """True when `path`, missing from the folder, has been missing long enough."""
        now = self._monotonic()
        self._seen.pop(path, None)
        since = self._missing.setdefault(path, now)
        if now - since >= self.quiet:
            del self._missing[path]
            return True
        self._later(self.quiet - (now - since))
        return False

    def held(self) -> set[str]:
        """The paths held back now (changed, or missing, too recently): a delta scan must
        look at them again, by path, though no new event names them."""
        return set(self._seen) | set(self._missing)

    def forget_except(self, paths: Iterable[str]) -> None:
        """Drop what is held for paths no longer in question (read, or back as they were)."""
        keep = set(paths)
        for held in (self._seen, self._missing):
            for path in [p for p in held if p not in keep]:
                del held[path]

    def next_look(self) -> float | None:
        """Seconds from now until something held back may be ready, then resets; None if
        nothing is. Counted from when it was held, not from this call: the scan that held
        it goes on (at 100,000 posts, tens of ms of store reads) before its caller asks,
        and a wait counted from then would look that much late."""
        due, self._due = self._due, None
        return None if due is None else max(due - self._monotonic(), 0.0)

    def _later(self, seconds: float) -> None:
        due = self._monotonic() + max(seconds, 0.05)  # never sooner: no busy look
        self._due = due if self._due is None else min(self._due, due)
