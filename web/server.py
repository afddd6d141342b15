"""The HTTP server under `postroom serve`: uvicorn, with bounds on what one client can hold.

uvicorn (0.54, h11) has a keep-alive timeout but no bound on the time to receive a
request: a connection that opens and sends nothing, or sends half a request head and
stops, or trickles one byte every few seconds (each byte restarts the keep-alive clock),
or promises a body that never comes, is held for ever, and enough of them exhaust the
process's file descriptors, after which no one is served. Its `limit_concurrency` does
not help: it answers 503 to complete requests while half-open connections fill the count,
so a flood of them would turn every real visitor away. `GuardedProtocol` adds the missing
bounds to uvicorn's own h11 protocol:

- a request (head and body) must arrive within REQUEST_TIMEOUT of when the connection
  began to wait for it; a connection that sends nothing goes after KEEP_ALIVE_TIMEOUT;
- at most `capacity().connections` connections are open: past it, the connection that has
  waited longest for its request is closed (a real visitor's request arrives at once, so
  a flood of slow ones sheds itself, not the visitors).

X-Forwarded-For is honoured only from the proxies `serve --trusted-proxy` names (by
default from no one): from anyone else it would let a client choose its own address,
and with it a fresh subscribe rate limit every request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import resource
from dataclasses import dataclass

import h11
import uvicorn
from postroom.core.config import Site, is_local_url
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

# Seconds a client has to send a whole request (head and form) once the connection waits
# for one. A browser on a slow mobile link sends a 16 KB form in well under that; a
# client that cannot is holding a connection, not using it.
REQUEST_TIMEOUT = 10.0
# Seconds an open connection may stay silent (a fresh one, or one between requests):
# enough for a browser to reuse it for the page's next request, short enough that idle
# ones free their descriptors (uvicorn's default, now also for a fresh connection).
KEEP_ALIVE_TIMEOUT = 5
# The most connections at once, if the process may open that many files: each one is a
# descriptor and up to MAX_HEAD_BYTES of buffered head. A small site behind a proxy sees
# a few dozen; a thousand is room for bursts of readers polling feeds.
MAX_CONNECTIONS = 1000
# Connections the kernel queues before `serve` accepts them, and the most it accepts in
# one turn of its loop (asyncio uses the one number for both). Too few and a burst of
# readers waits a second each for its SYN to be resent; but connections are shed only
# once accepted, so a flood overshoots the limit by up to a few turns' worth.
BACKLOG = 512
# Descriptors the process needs besides connections: the store, the logs, a few files.
OWN_FILES = 64
# The most of a request head held while it is incomplete (a 400 past it): with the
# connection limit, it bounds the memory a flood of half-sent heads can take.
MAX_HEAD_BYTES = 16_384
# Seconds SIGTERM waits for requests in progress before it closes them.
SHUTDOWN_GRACE = 5

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Listen:
    """Where `serve` listens, and whose X-Forwarded-For it believes."""

    host: str
    port: int
    trusted_proxies: tuple[_Network, ...] = ()

    @property
    def url(self) -> str:
        """The address a browser on this machine opens (a wildcard host is this machine)."""
        host = _WILDCARDS.get(self.host, self.host)
        return f"http://[{host}]:{self.port}/" if ":" in host else f"http://{host}:{self.port}/"


_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def preview_url(site: Site, listen: Listen) -> str | None:
    """Where `serve` shows a preview of the site, or None when it serves the site as it is.

    A site whose base_url is local (localhost, a loopback address: the default) is not
    published under a real name yet, so its links can only mean this machine: served at
    another address or port, its links and form actions must follow (a form posted to
    base_url from another origin is blocked by `form-action 'self'`). A real base_url is
    left alone, as it must be behind a proxy that forwards the site's own host."""
    if not is_local_url(site.base_url) or listen.url == site.base_url:
        return None
    return listen.url


def proxy_network(text: str) -> _Network:
    """A --trusted-proxy value: an address or a network in CIDR notation (ValueError
    saying so otherwise)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"not an IP address or network (such as 127.0.0.1 or 10.0.0.0/8): {text!r}"
        ) from None


@dataclass(frozen=True)
class Capacity:
    """What `serve` can hold with the files it may open. Running out of descriptors is
    worse than any flood: no one is accepted, and Python 3.11's accept loop logs the
    failure, and re-arms itself, once for each of `backlog` tries a turn until it passes.
    So connections stop well short of it: shedding lags acceptance by a few loop turns
    (up to `backlog` new connections each), and each connection may be sending a file."""

    open_files: int
    backlog: int
    connections: int


def capacity(open_files: int | None = None) -> Capacity:
    """The capacity for `open_files` (default: the process's soft limit)."""
    if open_files is None:
        open_files, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if open_files == resource.RLIM_INFINITY:
            open_files = _files_wanted()
    backlog = max(8, min(BACKLOG, open_files // 8))
    spare = open_files - OWN_FILES - 3 * backlog
    return Capacity(open_files, backlog, max(16, min(MAX_CONNECTIONS, spare // 2)))


def _files_wanted() -> int:
    return OWN_FILES + 3 * BACKLOG + 2 * MAX_CONNECTIONS


def raise_open_files() -> None:
    """Lift the process's soft limit on open files towards its hard limit, as far as
    MAX_CONNECTIONS needs: the usual soft default, 1,024, would cap connections at a
    quarter of it for no reason."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _files_wanted()
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, ceiling), hard))


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request and a connection limit
    that closes the longest-waiting connection first (see the module's docstring)."""

    _order = itertools.count()  # arrival order: the clock can tie, a count cannot

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit = capacity().connections
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting: int | None = None  # when it began to wait, as an order of arrival

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        self._watch()
        self._shed()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """A deadline runs while a request is awaited or arriving, from when the wait
        began; it ends once the whole request is in (the app's own time is not bounded)."""
        receiving = self.conn.their_state in (h11.IDLE, h11.SEND_BODY)
        if receiving and not self.transport.is_closing():
            if self._deadline is None:
                self._deadline = self.loop.call_later(REQUEST_TIMEOUT, self._close)
                self._waiting = next(self._order)
        else:
            self._stop_waiting()

    def _stop_waiting(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self._waiting = None

    def _close(self) -> None:
        """Drop a connection that has not sent its request in time (or is shed): no answer,
        as it may not even have said what it wants."""
        self._stop_waiting()
        if not self.transport.is_closing():
            self.transport.close()

    def _shed(self) -> None:
        if len(self.connections) <= self.limit:
            return
        waiting = [c for c in self.connections if getattr(c, "_waiting", None) is not None]
        oldest = min(waiting, key=lambda c: c._waiting, default=self)
        oldest._close()


def server_config(app: ASGIApp, listen: Listen) -> uvicorn.Config:
    """The one place the server's limits and its trust in proxies are set."""
    raise_open_files()
    room = capacity()
    trusted = [str(network) for network in listen.trusted_proxies]
    return uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        http=GuardedProtocol,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        backlog=room.backlog,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        proxy_headers=bool(trusted),  # uvicorn's default trusts 127.0.0.1: a local
        forwarded_allow_ips=trusted,  # client (or any, behind a local proxy) could lie
        log_level="warning",
    )
