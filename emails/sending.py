"""What `digest send`, `run --once` and the service share: finish every unfinished issue.

Level-triggered: it looks at the ledger, not at what happened before, so
running it twice, or after a crash, only sends what is still owed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from postroom.core.config import Site
from postroom.core.process import this_process
from postroom.emails.delivery import Clock, Delivery, SendReport, utc_now
from postroom.emails.transports import Transport, transport_for
from postroom.store import Store
from postroom.store.bounces import paused
from postroom.store.digests import issue_by_number
from postroom.store.outbox import Outbox, State

#: called with (issue number, rows to send) before an issue, then with each outcome
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Outstanding:
    issue: int
    to_send: int  # pending, in flight at a crash, or deferred


def outstanding(store: Store) -> list[Outstanding]:
    """Unfinished issues, oldest first, with how many rows each has still to send."""
    waiting = Outbox(store, this_process()).waiting()
    return [Outstanding(issue, n) for issue, n in waiting.items()]


def _held(store: Store) -> str:
    """Why sending is paused (an issue's bounces or complaints passed their limit), or ""."""
    pause = paused(store)
    return f"paused: {pause.reason}; `postroom digest resume` to go on" if pause else ""


def send_unfinished(
    site: Site,
    store: Store,
    secret: bytes,
    *,
    transport: Transport | None = None,
    clock: Clock = utc_now,
    stop: threading.Event | None = None,
    start: Progress | None = None,
    on_outcome: Callable[[State], None] | None = None,
) -> list[SendReport]:
    """Send what every unfinished issue owes now, oldest issue first; an issue whose rows
    are all deferred to later is left for a later call."""
    transport = transport or transport_for(site)
    outbox = Outbox(store, this_process())
    resent = outbox.reclaim(clock())  # rows a dead sender had in flight
    reports = []
    for owed in outstanding(store):
        if stop is not None and stop.is_set():
            break
        issue = issue_by_number(store, owed.issue)
        # gone; its archive page not written yet (the scheduler releases it); nothing due
        if issue is None or not issue.released or not outbox.due(owed.issue, clock()):
            continue
        if held := _held(store):
            reports.append(SendReport(owed.issue, stopped=held))
            break
        if start:
            start(owed.issue, owed.to_send)
        delivery = Delivery(site, store, issue, transport, secret, clock, stop, on_outcome)
        report = delivery.run()
        report.resent, resent = report.resent + resent, 0
        report.stopped = report.stopped or _held(store)  # paused while it ran
        reports.append(report)
        if report.stopped:
            break
    return reports
