"""A reader whose worker dies (SIGKILL) while it hands its results back: registered for
`.boom` files when imported, in the test's scan process and in its workers alike (the
reader travels to them by name). tests/test_cold_scan.py."""

import os
import re
import signal
import threading
import time
from datetime import UTC, datetime

from postroom.content.readers import FileText, Parsed, register_reader
from postroom.core.model import DateSource, ParsedPost

BODY_CHARS = 8 * 2**20  # results of ~16 MB: many pipe-fulls
KILL_AFTER = 2**20  # bytes this process has written since the read: killed at once
_WRITE = 1  # x86-64's write(2), as /proc/PID/task/TID/syscall names it


def _written() -> int:
    """Bytes this process has written with write(2) and its kin, all threads."""
    with open("/proc/self/io") as file:
        return int(re.search(r"^wchar: (\d+)", file.read(), re.M).group(1))


def _in_write(tid: int) -> bool:
    """Whether thread `tid` of this process is inside write(2) now."""
    with open(f"/proc/self/task/{tid}/syscall") as file:
        return file.read().split(" ", 1)[0] == str(_WRITE)


@register_reader(".boom")
def read_boom(file: FileText) -> Parsed:
    """Kills its own process the moment it is inside a write of its results (to the pool's
    pipe, or to a file), or has written a MB of them (a write too quick to be seen)."""
    start, worker = _written(), threading.get_native_id()

    def kill() -> None:
        while not _in_write(worker) and _written() < start + KILL_AFTER:
            time.sleep(0.0002)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=kill, daemon=True).start()
    post = ParsedPost(
        title="Boom",
        date=datetime(2026, 11, 1, tzinfo=UTC),
        date_source=DateSource.FRONT_MATTER,
        body_html="<p>" + "x" * BODY_CHARS + "</p>",
        summary="x",
    )
    return Parsed((post,))
