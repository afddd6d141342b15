"""One line per event on stdout: readable text, or JSON for a log shipper.

Every line has a time, a level, an event name (scan, build, digest, send,
lease, problem, service) and a message; JSON lines add the event's fields
(counts, ids, paths) so a machine never parses the prose. Lines from the
libraries underneath (APScheduler, watchdog) come out the same way.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

_LOGGER = logging.getLogger("postroom")


def event(name: str, message: str, level: int = logging.INFO, **fields: Any) -> None:
    _LOGGER.log(level, message, extra={"event": name, "fields": fields})


def _stamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x0D: "\\r"}


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        """One line, always: a file name or reason holding a newline cannot forge another."""
        name = getattr(record, "event", record.name)
        message = record.getMessage().translate(_CONTROL)
        return f"{_stamp(record)} {record.levelname:7} {name}: {message}"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": _stamp(record),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", record.name),
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _not_a_skipped_run(record: logging.LogRecord) -> bool:
    """APScheduler warns when a timer fires while the job still runs (a long send, a scan
    going round again); with max_instances=1 that is the design, not news."""
    return "maximum number of running instances reached" not in record.getMessage()


def configure(fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send postroom's events and the libraries' warnings to `stream` (stdout), one per line."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    handler.addFilter(_not_a_skipped_run)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # libraries: warnings and errors only
    _LOGGER.setLevel(logging.INFO)


def first_line(exc: BaseException) -> str:
    """An error in one line, without SQLAlchemy's statement, parameters and links."""
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


class Guard:
    """Jobs that fail (a missing folder, a database away) are logged once per distinct
    error, and again when they work; their next run tries again."""

    def __init__(self) -> None:
        self._failing: dict[str, str] = {}  # job -> the error it last failed with

    def wrap(self, name: str, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except Exception as exc:
                why = first_line(exc)
                if self._failing.get(name) != why:
                    event(name, f"failed: {why}; trying again on its next run", logging.ERROR)
                self._failing[name] = why
            else:
                if self._failing.pop(name, None):
                    event(name, "working again")

        return run
