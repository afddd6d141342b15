"""Delivering an issue: a few connections draining the ledger, at a rate, each row once.

Any number of senders (the service, `digest send`, `postroom worker` processes on
other machines) may drain one issue together: each connection claims a batch of
rows under a lease this process renews (store.outbox). Rows a dead sender left
"sending" are taken back when its lease lapses, or at once when it was a process
on this host: of those, only the one each connection had in flight may be sent
twice (with the same Message-ID), and only those are counted as resent. A run
with the file transport first clears the temp files of senders killed between
writing a message and renaming it into the issue's folder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from postroom.core.config import Bounce, Site
from postroom.core.process import this_process
from postroom.emails.message import IssueMessage, Recipient, dkim_signer
from postroom.emails.transports import Connection, FileTransport, Rejected, Transport, Unreachable
from postroom.feeds.writer import clear_stale_temps
from postroom.store import Store
from postroom.store.digests import Issue
from postroom.store.editions import edition_parts
from postroom.store.outbox import Claim, Outbox, State

Clock = Callable[[], datetime]
_RECONNECTS = 3  # tries before a connection's worker gives up for this run
# Rows a connection claims at once. A claim is three statements, as much CPU as a few
# messages: 100 a claim when sending flat out. Under `mail.rate` its cost does not matter
# and 20 keep claimed rows near their turn (a reader who leaves after the claim still
# gets this issue). The duplicate bound does not depend on it (store.outbox).
_BATCH, _RATED_BATCH = 100, 20
_SENT_TRIES, _SENT_RETRY_SECONDS = 5, 2.0  # marking a sent row: 8 s of a 60 s lease
_RENEW_SECONDS = 10.0  # leases renewed and dead senders' rows taken back this often
_MAX_BACKOFF = timedelta(hours=24)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SendReport:
    issue: int
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0
    resent: int = 0  # messages a dead sender may have sent already, going again
    stopped: str = ""  # why sending ended with rows still to send, if it did
    # (address, reason) of each message failed for good in this run, in the order they failed
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # said once a run, not per message
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def summary(self) -> str:
        resent = f", {self.resent} resent after a crash" if self.resent else ""
        return (
            f"issue {self.issue}: {self.sent} sent, {self.deferred} deferred,"
            f" {self.failed} failed, {self.skipped} skipped{resent}"
        )

    def counts(self) -> dict[str, int]:
        names = ("issue", "sent", "deferred", "failed", "skipped", "resent")
        return {name: getattr(self, name) for name in names}

    def count(self, state: State) -> None:
        with self._lock:
            name = state.value
            setattr(self, name, getattr(self, name) + 1)

    def failed_for(self, address: str, reason: str) -> None:
        with self._lock:
            self.failures.append((address, reason))


class RateLimit:
    """At most `per_second` sends per second over all connections (0: no limit)."""

    def __init__(self, per_second: int) -> None:
        self.interval = 1 / per_second if per_second else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> bool:
        """Wait for this sender's turn; False if `stop` was set meanwhile."""
        if not self.interval:
            return not stop.is_set()
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        return not stop.wait(max(0.0, slot - now))


class Delivery:
    """One run of sending one issue; `run()` returns when the ledger has nothing due."""

    def __init__(
        self,
        site: Site,
        store: Store,
        issue: Issue,
        transport: Transport,
        secret: bytes,
        clock: Clock = utc_now,
        stop: threading.Event | None = None,
        on_outcome: Callable[[State], None] | None = None,
    ) -> None:
        """`stop` is the caller's: once set (SIGTERM), no new row is claimed. It is only
        read: this run's own end is `self.halted`, so a finished run stops nobody else."""
        self.site, self.issue, self.transport, self.clock = site, issue, transport, clock
        self.mail = site.config.mail
        self.outbox = Outbox(store, this_process())
        self.message = IssueMessage(site, issue, secret, dkim_signer(site))
        self.store = store
        self.editions = edition_parts(store, issue.number)
        self._messages = {0: self.message}
        self._messages_lock = threading.Lock()
        self.report = SendReport(issue.number)
        if not self.message.one_click:
            self.report.warnings.append(
                f"site.base_url {site.base_url} is not https: the messages have no"
                " List-Unsubscribe-Post (RFC 8058 one-click unsubscribe needs an https link)"
            )
        self.cancel = stop or threading.Event()
        self.halted = threading.Event()
        self.on_outcome = on_outcome or (lambda _state: None)
        self.limit = RateLimit(self.mail.rate)
        self.batch = _RATED_BATCH if self.mail.rate else _BATCH

    def run(self) -> SendReport:
        workers: list[threading.Thread] = []
        try:
            number = self.issue.number
            if isinstance(self.transport, FileTransport):  # a killed sender's half-written files
                clear_stale_temps(self.transport.folder / str(number))
            self.report.skipped += self.outbox.skip_departed(number, self.clock())
            workers = [
                threading.Thread(target=self._work, name=f"smtp-{i}", daemon=True)
                for i in range(self.mail.connections)
            ]
            for worker in workers:
                worker.start()
            renew_at = time.monotonic() + _RENEW_SECONDS
            while alive := [w for w in workers if w.is_alive()]:
                alive[0].join(0.2)
                if self.cancel.is_set():
                    self.halted.set()  # each connection finishes or hands back its rows
                if time.monotonic() >= renew_at:
                    renew_at += _RENEW_SECONDS
                    self.outbox.renew(self.clock())
                    self.report.resent += self.outbox.reclaim(self.clock())
            self.report.skipped += self.outbox.skip_departed(number, self.clock())
        finally:  # no connection may go on sending once this run has returned
            self.halted.set()
            for worker in workers:
                worker.join()
        return self.report

    def _halt(self, why: str) -> None:
        if not self.report.stopped:
            self.report.stopped = why
        self.halted.set()

    def _connect(self) -> Connection | None:
        for attempt in range(_RECONNECTS):
            try:
                return self.transport.connect()
            except Unreachable as exc:
                if attempt == _RECONNECTS - 1 or self.halted.wait(2**attempt):
                    self._halt(str(exc))
        return None

    def _work(self) -> None:
        """One connection's loop over claimed batches; an error not about one row stops the
        run, never silently. Rows claimed and not tried go back when it ends."""
        batch: list[Claim] = []
        claim: Claim | None = None
        connection = None
        try:
            connection = self._connect()
            drops = 0
            while connection is not None and not self.halted.is_set():
                batch = batch or self.outbox.claim(self.issue.number, self.clock(), self.batch)
                if not batch:
                    break
                if not self.limit.wait(self.halted):  # told to stop: the rows go back
                    break
                claim = batch.pop(0)
                recipient = Recipient(claim.subscriber_id, claim.address, claim.name)
                try:  # one recipient's message that cannot be made is that row's failure
                    envelope = self._message(claim.edition).for_recipient(recipient)
                except Exception as exc:
                    self._unbuildable(claim, exc)
                    claim = None
                    continue
                try:
                    reply = connection.send(envelope)
                except Rejected as refusal:
                    self._refused(claim, refusal)
                except Unreachable as exc:
                    connection.close()
                    connection = None
                    if claim.attempts >= self.mail.max_attempts:  # it alone keeps failing
                        self._refused(claim, Rejected(421, str(exc), "data"))
                    else:  # the message may have gone: it goes again, same Message-ID
                        self.outbox.release(claim, self.clock())
                    drops += 1
                    connection = self._connect() if drops < _RECONNECTS else None
                    if connection is None:
                        self._halt(f"connection lost: {exc}")
                else:
                    accepted, claim = claim, None  # the server has it: never handed back
                    self._mark_sent(accepted, reply)
                    self._outcome(State.SENT)
                    drops = 0
                claim = None
        except Exception as exc:  # a refused login, a full disk, a locked database
            if claim is not None:
                self.outbox.release(claim, self.clock())
            self._halt(f"{type(exc).__name__}: {exc}")
        finally:
            try:
                for untried in batch:
                    self.outbox.release(untried, self.clock(), tried=False)
            except Exception as exc:  # the database is gone: their lease lapses instead
                self._halt(f"{type(exc).__name__}: {exc}")
            if connection is not None:
                connection.close()

    def _message(self, edition: int) -> IssueMessage:
        """The message of one rendering of the issue, encoded once for all its readers.
        An edition added since this sender began (a monthly slot with nothing new queues
        its readers on the last issue, perhaps while it is being sent) is read from the
        store; KeyError for one the store does not have (that row's failure)."""
        with self._messages_lock:
            if edition not in self._messages:
                if edition not in self.editions:
                    self.editions = edition_parts(self.store, self.issue.number)
                parts = self.editions[edition]
                issue = replace(self.issue, subject=parts.subject, html=parts.html,
                                text=parts.text, post_ids=parts.post_ids)  # fmt: skip
                self._messages[edition] = IssueMessage(
                    self.site, issue, self.message.secret, self.message.sign
                )
            return self._messages[edition]

    def _mark_sent(self, claim: Claim, reply: str) -> None:
        """After the server's 250 the row must say sent: handed back, it would be mailed
        again. A database that refuses is asked again for a while, well inside the lease;
        if it still refuses, the row stays claimed (and goes again only if the lease
        lapses, with the same Message-ID)."""
        for attempt in range(_SENT_TRIES):
            try:
                self.outbox.sent(claim, reply, self.clock())
                return
            except Exception:
                if attempt == _SENT_TRIES - 1:
                    raise
                time.sleep(_SENT_RETRY_SECONDS)

    def _unbuildable(self, claim: Claim, exc: Exception) -> None:
        """A message that could not be made for this one recipient (an address the `email`
        package or IDNA refuses): failed for good, with why; never the others' problem.
        Not a bounce: no server ever saw it."""
        reason = f"not sent: the message could not be made: {type(exc).__name__}: {exc}"
        self.outbox.fail(claim, None, reason, self.clock())
        self.report.failed_for(claim.address, reason)
        self._outcome(State.FAILED)

    def _refused(self, claim: Claim, refusal: Rejected) -> None:
        """A refusal: deferred with a doubling wait, or, once permanent or tried
        `mail.max_attempts` times, failed (a bounce by `mail.bounce`)."""
        now = self.clock()
        if refusal.permanent or claim.attempts >= self.mail.max_attempts:  # 4xx too often
            policy = self.mail.bounce
            bounce = (
                refusal.permanent
                and refusal.stage != Rejected.LOCAL
                and (policy is Bounce.ANY or (policy is Bounce.RCPT and refusal.stage == "rcpt"))
            )
            finish = self.outbox.bounce if bounce else self.outbox.fail
            finish(claim, refusal.code, refusal.reply, now)
            self.report.failed_for(claim.address, f"{refusal.code} {refusal.reply}")
            self._outcome(State.FAILED)
        else:
            doublings = min(claim.attempts - 1, 10)  # 2**10 x retry_after is past the cap
            wait = timedelta(seconds=self.mail.retry_after) * 2**doublings
            until = now + min(wait, _MAX_BACKOFF)
            self.outbox.defer(claim, refusal.code, refusal.reply, until, now)
            self._outcome(State.DEFERRED)

    def _outcome(self, state: State) -> None:
        self.report.count(state)
        self.on_outcome(state)
