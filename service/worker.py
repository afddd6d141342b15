"""`postroom worker`: a process that only sends, any number of them, on any machines.

Each worker drains every released issue together with the others: rows are
claimed in batches under a lease (store.outbox), so workers never wait on one
another and a worker that dies (even with -9) has its rows taken back by the
rest. A worker makes no issue and writes no page: the service (`run`) does,
and releases an issue once its archive page is written. With nothing to send
a worker looks again every `service.poll_seconds`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from postroom.core.clock import Clock
from postroom.core.config import Site
from postroom.service.command import Exit
from postroom.service.jobs import PauseNotice, send_logged
from postroom.service.logs import Guard, event
from postroom.service.wakeup import SignalWakeup
from postroom.store import Store


class Worker:
    def __init__(self, site: Site, store: Store, clock: Clock, secret: bytes) -> None:
        self.site, self.store, self.clock, self.secret = site, store, clock, secret
        self.stop = threading.Event()
        self.guard = Guard()
        self.pauses = PauseNotice()

    def run(self) -> int:
        """Send until SIGTERM or SIGINT: 0. Each connection then finishes or hands back
        its message, and the rows it had claimed go back to pending for the others.
        SIGHUP (a reload, or a closed terminal) stops the same way but exits
        Exit.RESTART (75, EX_TEMPFAIL), which systemd's Restart=on-failure
        starts again with the config re-read; a worker has no lease to hand over in
        place, so a new process is the simple reload."""
        hangup = threading.Event()

        def answer(signum: int, _frame: object = None) -> None:
            if signum == signal.SIGHUP:
                hangup.set()
            if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                self.stop.set()

        wakeup = SignalWakeup()  # its pause wakes for a signal another thread took
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, answer)
        mail = self.site.config.mail
        event(
            "service",
            f"worker starting: site {self.site.root.resolve()}, pid {os.getpid()},"
            f" {mail.connections} connection(s) to {mail.transport}",
        )
        poll = self.site.config.service.poll_seconds
        send = self.guard.wrap("send", self._send)
        try:
            while not self.stop.is_set():
                send()
                for signum in wakeup.wait(poll):
                    answer(signum)
        finally:
            wakeup.close()
        code = Exit.RESTART if hangup.is_set() else Exit.OK
        why = " for SIGHUP: to be started again" if code else ""
        event("service", f"worker stopped{why}", code=code)
        logging.shutdown()
        return code

    def _send(self) -> None:
        send_logged(self.site, self.store, self.secret, self.clock, self.stop, self.pauses)
