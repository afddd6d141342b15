"""What a command is handed and how it ends: the one Context `postroom` builds for a verb,
the exit codes, and its one-line messages. Light on purpose: the command line imports it
before it knows which verb runs (see scheduler.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from postroom.core.clock import Clock
from postroom.core.config import Site

if TYPE_CHECKING:  # the store imports SQLAlchemy, which `--help` and `status` do without
    from postroom.store import Store


@dataclass(frozen=True)
class Context:
    """The site a command works on, its open store and the clock it decides by (moved by
    POSTROOM_CLOCK_OFFSET in drills). Built once by `main`, closed by it after the verb.

    The secret is not here: each verb has its own answer to a missing one (`run` still
    publishes the feeds, `worker` and `serve` refuse to start, `digest send --dry-run`
    needs none), so each reads it when it needs it."""

    site: Site
    store: Store
    clock: Clock


class Exit(IntEnum):
    """How a command ends, for shells and for systemd (the unit's RestartPreventExitStatus
    names USAGE: a config error does not mend itself by a restart every 5 s)."""

    OK = 0
    FAILED = 1  # the work failed (a send stopped, a database away): a later try may work
    USAGE = 2  # a bad config, argument or input file: fix it first
    RESTART = 75  # EX_TEMPFAIL: stopped to be started again (a reload that could not re-exec)
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
    BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports `| head` closing early


def say(message: str) -> None:
    """One line for the person at the terminal: `postroom: ...` on stderr."""
    print(f"postroom: {message}", file=sys.stderr)
