"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, keeping what it accepts.

Replies can be scripted per recipient: `refuse` answers RCPT with a 5xx,
`defer_once` answers the first RCPT for an address with a 451, `defer` every one,
`drop_at` closes the connection with a 421 at the DATA of the n-th message, and
`drop_for` at the DATA of every message to an address.
Every RCPT asked is counted (`asked`), refused or not.
"""

from __future__ import annotations

import email
import email.policy
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    recipient: str
    data: bytes
    mail_options: tuple[str, ...] = ()  # MAIL FROM's parameters: SMTPUTF8, BODY=...

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def headers(self) -> EmailMessage:
        """The message's headers, parsed as `message` parses them, without its body (a
        quarter of the time of a whole digest's)."""
        return BytesHeaderParser(policy=email.policy.default).parsebytes(self.data)


@dataclass
class Script:
    refuse: set[str] = field(default_factory=set)
    defer_once: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)  # a 451 every time
    drop_at: set[int] = field(default_factory=set)  # 1-based DATA counts that get a 421
    drop_for: set[str] = field(default_factory=set)  # recipients whose DATA gets a 421


class _Handler:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.received: list[Received] = []
        self.deferred: set[str] = set()
        self.asked: Counter[str] = Counter()
        self.datas = 0
        self.copies: Counter[str] = Counter()  # messages accepted per recipient, as they come
        # held by the handler while it records; notified at each message it accepts
        self.lock = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.asked[address] += 1
        if address in self.script.refuse:
            return "550 5.1.1 no such user here"
        if address in self.script.defer:
            return "451 4.7.1 try again later"
        if address in self.script.defer_once and address not in self.deferred:
            self.deferred.add(address)
            return "451 4.3.0 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.datas += 1
            dropped = self.script.drop_for.intersection(envelope.rcpt_tos)
            if self.datas in self.script.drop_at or dropped:
                server.transport.close()
                return "421 4.3.2 shutting down"
            for rcpt in envelope.rcpt_tos:
                options = tuple(envelope.mail_options)
                self.received.append(Received(rcpt, envelope.original_content, options))
                self.copies[rcpt] += 1
            self.lock.notify_all()
            return f"250 2.0.0 queued as {len(self.received)}"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, below the kernel's ephemeral range.
    A port the kernel hands out (a bind to port 0) comes from that range, from which it
    also takes the local port of every outgoing connection: between this call and the
    server's bind, a client (the other CI pass's PostgreSQL or SMTP connections) took one
    ("address already in use"). Below the range only another server can take it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low = int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    for _ in range(200 if low > 20_000 else 0):
        port = random.randrange(10_000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # an odd range: whatever the kernel gives
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    def __init__(self, script: Script | None = None, **server_options: Any) -> None:
        """`server_options` go to aiosmtpd (ssl_context, tls_context, authenticator, ...)."""
        self.handler = _Handler(script or Script())
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, data_size_limit=0, **server_options
        )

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def counts(self) -> Counter[str]:
        with self.handler.lock:
            return Counter(self.handler.copies)

    @property
    def sent(self) -> int:
        """Messages accepted so far, one per recipient (as len(received), without a copy)."""
        return len(self.handler.received)

    @property
    def reached(self) -> int:
        """Recipients with at least one message (as len(counts()), without a copy)."""
        return len(self.handler.copies)

    def wait_until(self, condition: Callable[[], bool], timeout: float, why: str) -> None:
        """Block until `condition` (of `sent`, `reached`, ...) holds, checking it each
        time a message is accepted rather than polling; fail with `why` after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.handler.lock:
            while not condition():
                left = deadline - time.monotonic()
                assert left > 0, why
                self.handler.lock.wait(left)

    def asked(self) -> Counter[str]:
        """RCPTs per address, accepted or refused: one per try."""
        with self.handler.lock:
            return Counter(self.handler.asked)

    def config(self, connections: int = 1, retry_after: int = 60) -> str:
        """The [mail] section that points a site at this server."""
        return (
            '[mail]\ntransport = "smtp"\nhost = "127.0.0.1"\n'
            f'port = {self.port}\nsecurity = "none"\nconnections = {connections}\n'
            f'from_address = "digest@notes.example.org"\nretry_after = {retry_after}\n'
        )
