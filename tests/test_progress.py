"""Long work shows its progress: a bar on a terminal, plain lines elsewhere, nothing if short."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time

import hostile_site
import prestart
import pytest
from postroom.service.progress import LINE_EVERY, QUIET_SECONDS, Reporter
from service_support import postroom_env
from support import make_site, write

pytestmark = pytest.mark.once  # the same on either store: SQLite pass only


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_every_few_seconds_and_short_work_says_nothing():
    said: list[str] = []
    clock = Clock()
    reporter = Reporter("scan", "files", said.append, stream=io.StringIO(), clock=clock)
    for done in range(1, 1001):
        clock.now = done * 0.05  # 50 s in all
        reporter(done, 1000)
    assert LINE_EVERY == 10 and QUIET_SECONDS < LINE_EVERY
    assert said == [f"scan: {n}00 of 1,000 files ({n}0%)" for n in (2, 4, 6, 8)]
    short: list[str] = []
    quick = Reporter("scan", "files", short.append, stream=io.StringIO(), clock=Clock())
    for done in range(1, 1001):
        quick(done, 1000)
    assert short == []


def test_a_cold_check_on_a_terminal_draws_a_bar(tmp_path):
    """`check` on a terminal: the scan of thousands of files draws a bar on stderr (it
    printed nothing for half a minute before)."""
    root = make_site(tmp_path / "site").root
    body = "Words of a post body."
    for n in range(4000):
        write(root / f"content/p{n:04d}.md", hostile_site.markdown(f"Post {n}", "2024-01-01", body))
    leader, follower = pty.openpty()
    process = prestart.popen(  # forked from a prestarted Python (tests/prestart.py)
        [sys.executable, "-m", "postroom.scheduler", "--site", str(root), "check"],
        env={**postroom_env(), "COLUMNS": "100", "TERM": "xterm"},
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                seen += os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
    process.wait(10)
    os.close(leader)
    assert process.returncode == 0
    assert b"scan" in seen and b"/4000" in seen and b"files" in seen, seen[-500:]
