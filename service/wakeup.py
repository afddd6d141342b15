"""Waking a long-running command's main thread for a signal, whichever thread took it.

Python runs signal handlers on the main thread only, and only when it runs Python
code. The kernel may hand a process's signal to any of its threads that does not
block it; when that is one of the scheduler's or the senders' threads, a main thread
asleep in a lock's wait (`threading.Event.wait`) is not woken, and the handler waits
for the pause to end: SIGTERM to `postroom run` took 20 s (the lease's renewal
pause) now and then, under load. The C-level handler, on whatever thread it runs,
writes the signal's number to the wakeup fd (`signal.set_wakeup_fd`); the main
thread sleeps in select() on that pipe, so it wakes at once, and reads which
signals came.
"""

from __future__ import annotations

import os
import select
import signal


class SignalWakeup:
    """The process's wakeup fd, for the main thread's pauses (made and closed there)."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)  # set_wakeup_fd requires it
        self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def wait(self, seconds: float) -> set[int]:
        """Sleep up to `seconds`, or until a signal arrives (or arrived since the last
        wait); the numbers of the signals that came, empty on a timeout."""
        ready, _, _ = select.select([self._read], [], [], max(0.0, seconds))
        came: set[int] = set()
        while ready:
            try:
                chunk = os.read(self._read, 512)
            except BlockingIOError:
                break
            came.update(chunk)
            ready = len(chunk) == 512
        return came

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous)
        os.close(self._read)
        os.close(self._write)
