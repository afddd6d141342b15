"""Running `postroom run` (the service) as a real subprocess in tests, reading its JSON log;
and a site with subscribers, a digest slot and a clock offset to drive it with."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import prestart
from postroom.core.config import Site
from postroom.core.schedule import next_slot
from smtp_sink import SmtpSink
from support import live_processes, make_site, write

ROOT = Path(__file__).resolve().parent.parent
SECRET = "service-test-secret-long-enough"


def as_at_a_terminal() -> None:
    """A child's SIGINT as a terminal's foreground command has it. A shell runs a
    background job (`make test`'s passes run side by side) with SIGINT ignored, and a
    child inherits that: Python would then never raise KeyboardInterrupt in it. For
    Popen's preexec_fn."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def postroom_env(clock_offset: float = 0.0) -> dict[str, str]:
    env = {**os.environ, "POSTROOM_SECRET": SECRET}
    if clock_offset:
        env["POSTROOM_CLOCK_OFFSET"] = str(clock_offset)
    return env


def postroom(
    site: Path, *args: str, clock_offset: float = 0.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """One CLI command, run to completion."""
    command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site), *args]
    # forked from a prestarted Python, as subprocess.run would run it (tests/prestart.py)
    return prestart.run(command, env={**postroom_env(clock_offset), **(env or {})}, timeout=120)


class Service:
    """`postroom --site SITE run --log-format json` (or another long-running verb, such as
    `worker`) in the background; its log lines are parsed as they come, so a test waits
    for events instead of sleeping."""

    def __init__(
        self,
        site: Path,
        *args: str,
        clock_offset: float = 0.0,
        verb: str = "run",
        env: dict[str, str] | None = None,
    ) -> None:
        command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site), verb]
        command += ["--log-format", "json", *args]
        # a process of its own, forked from a prestarted Python (tests/prestart.py)
        self.process = prestart.popen(command, env={**postroom_env(clock_offset), **(env or {})})
        self.events: list[dict] = []
        self.stray: list[str] = []  # stdout lines that are not JSON: there must be none
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    self.stray.append(line)
                self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[dict], bool], timeout: float = 30.0, count: int = 1
    ) -> list[dict]:
        """Block until `count` log events match `predicate`; fails on timeout or an exit."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [e for e in self.events if predicate(e)]
                if len(found) >= count:
                    return found
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"the service exited ({self.process.returncode}):\n{self}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for a log event:\n{self}")
                self._changed.wait(min(left, 0.2))

    def where(self, event: str, **fields: object) -> list[dict]:
        with self._changed:
            return [
                e
                for e in self.events
                if e["event"] == event and all(e.get(k) == v for k, v in fields.items())
            ]

    def terminate(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took to exit). The service must still be
        running: one that stopped by itself is a failure, whatever its exit code."""
        assert self.process.poll() is None, f"the service had already exited:\n{self}"
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()  # so that __str__ can read what it said
            self.process.wait(15)
            self._reader.join(5)
            raise AssertionError(f"still running {timeout} s after SIGTERM:\n{self}") from None
        self._reader.join(5)
        return code, time.monotonic() - started

    @staticmethod
    def terminate_together(services: list[Service], timeout: float = 15.0) -> list[int]:
        """`terminate` for several at once: SIGTERM to each, then their exit codes. They
        stop in the time of the slowest, not in the sum of all."""
        for service in services:
            assert service.process.poll() is None, f"the service had already exited:\n{service}"
        for service in services:
            service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes = []
        for service in services:
            try:
                codes.append(service.process.wait(max(0.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(15)
                service._reader.join(5)
                why = f"still running {timeout} s after SIGTERM:\n{service}"
                raise AssertionError(why) from None
            service._reader.join(5)
        return codes

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(15)
        self._reader.join(5)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process.poll() is None:
            self.kill()

    def __str__(self) -> str:
        err = self.process.stderr.read() if self.process.poll() is not None else ""
        lines = [json.dumps(e) for e in self.events[-40:]]
        return "\n".join([*lines, *self.stray, err or ""])


MAIL_SITE = '[site]\nbase_url = "https://notes.example.org/"\ntimezone = "Europe/London"\n'


def mail_site(
    tmp_path: Path,
    sink: SmtpSink,
    people: int,
    mail: str = "",
    more: str = "",
    env: dict[str, str] | None = None,
) -> tuple[Site, list]:
    """A site with two posts and `people` subscribers, its first slot already recorded;
    `mail` adds to its [mail] section, `more` adds sections; `env` goes to each command.

    Started once with the real clock (`run --once`): that records the slot before the
    site began, as a new site does, and picks its posts up. A test then starts the
    service "after" the next slot with a clock offset (`offset_to`)."""
    config = MAIL_SITE + sink.config(connections=2) + mail + more
    site = make_site(tmp_path / "site", config=config)
    for n in range(2):
        post = f"---\ntitle: Post {n}\ndate: 2016-06-2{n}\n---\nBody {n}.\n"
        write(site.content_dir / f"p{n}.md", post)
    addresses = [f"reader{n:05d}@example.org" for n in range(people)]
    write(site.root / "list.csv", "\n".join(addresses) + "\n")
    imported = postroom(site.root, "subscribers", "import", str(site.root / "list.csv"), env=env)
    assert imported.returncode == 0, imported.stderr
    first = postroom(site.root, "run", "--once", env=env)
    assert first.returncode == 0 and "before-start" in first.stdout, first.stdout + first.stderr
    return site, addresses


def offset_to(site: Site, after_slot: timedelta, weeks: int = 0) -> float:
    """Clock offset (seconds) that puts "now" `after_slot` past the coming digest slot."""
    config = site.config
    slot = next_slot(config.digest.schedule, config.tz, datetime.now(UTC))
    target = slot + timedelta(weeks=weeks) + after_slot
    return (target - datetime.now(UTC)).total_seconds()


def issues(site: Site, offset: float = 0.0, env: dict[str, str] | None = None) -> list[dict]:
    """`digest status --json`, as at `offset`."""
    done = postroom(site.root, "digest", "status", "--json", clock_offset=offset, env=env)
    return json.loads(done.stdout)


def wait_until(condition: Callable[[], bool], timeout: float, why: str) -> None:
    """Poll `condition` (the SMTP sink's count, the ledger) until true; fail with `why`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, why
        time.sleep(0.02)


def stop_while_workers_run(
    cmd: list[str], to: str, signum: int, *, marker: str = "", gone_within: float = 5
) -> tuple[int, str]:
    """Start `cmd` (a postroom command that starts a pool) as if at a terminal, wait for
    its workers (the command, the resource tracker, the forkserver and a worker: `marker`
    in one of their command lines), send `signum` to the process group ("group": Ctrl-C
    at a terminal) or the command alone, and return its exit code and stderr once every
    process of the group has gone. Asserts it answered within 2 s and left nothing
    running `gone_within` seconds later."""
    process = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=postroom_env(),
        preexec_fn=as_at_a_terminal,
    )
    deadline = time.monotonic() + 60
    while len(live_processes(process.pid)) < 4:
        assert process.poll() is None and time.monotonic() < deadline, "no workers started"
        time.sleep(0.02)
    assert marker in " ".join(live_processes(process.pid))
    interrupted = time.monotonic()
    (os.killpg if to == "group" else os.kill)(process.pid, signum)
    _, err = process.communicate(timeout=30)
    took = time.monotonic() - interrupted
    assert took < 2, took
    deadline = time.monotonic() + gone_within
    while live_processes(process.pid):
        assert time.monotonic() < deadline, live_processes(process.pid)
        time.sleep(0.05)
    return process.returncode, err
