"""`postroom serve` against hostile clients, as a real process on 127.0.0.1 with real sockets:
half-sent requests, a request trickled a byte at a time, a body that never comes, idle
connections, a flood past the connection limit, and a spoofed X-Forwarded-For."""

from __future__ import annotations

import http.client
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from postroom.store import Store
from postroom.web.server import KEEP_ALIVE_TIMEOUT, REQUEST_TIMEOUT, capacity
from service_support import SECRET
from smtp_sink import free_port
from web_support import Served, web_site

pytestmark = pytest.mark.once  # the same on either store: SQLite pass only

FILES = {"one.md": "---\ntitle: One\ndate: 2016-06-23\n---\nOne.\n"}
HALF_SENT = b"GET / HTTP/1.1\r\nHost: x\r\n"  # the head never ends: no blank line
POSTROOM = (sys.executable, "-m", "postroom.scheduler")
GRACE = 3.0  # seconds the server may take past a timeout (a loaded CI machine)


@dataclass
class Serve:
    process: subprocess.Popen
    url: str
    port: int
    stderr: list[str] = field(default_factory=list)  # read as it comes: a full pipe blocks

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr or ():
            self.stderr.append(line)

    def log(self) -> str:
        """Everything the server wrote to stderr (call once it has stopped)."""
        self._reader.join(10)
        return "".join(self.stderr)


@contextmanager
def postroom_serve(root: Path, *args: str, open_files: int | None = None) -> Iterator[Serve]:
    """`postroom --site ROOT serve --port P ARGS` over a built site, until the block ends;
    `open_files` lowers its RLIMIT_NOFILE (the connection limit follows it)."""
    port = free_port()
    site = web_site(root, FILES, port)
    store = Store(site.store_url)
    try:
        Served(site, store, site.base_url).republish()
    finally:
        store.close()

    def limit_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    command = [*POSTROOM, "--site", str(root), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), *args],
        env={**os.environ, "POSTROOM_SECRET": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit_files,
    )
    served = Serve(process, site.base_url, port)
    try:
        _wait_until_answering(served)
        yield served
    finally:
        process.terminate()
        process.wait(15)


def _wait_until_answering(served: Serve) -> None:
    deadline = time.monotonic() + 20
    while True:
        assert served.process.poll() is None, f"serve exited: {served.log()}"
        try:
            if httpx.get(served.url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not answer within 20 s"
        time.sleep(0.05)


def half_sent(port: int, count: int) -> list[socket.socket]:
    """`count` connections, each with a request head that never ends."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(HALF_SENT)
        sockets.append(sock)
    return sockets


def closed_by_server(
    sockets: list[socket.socket], until: float, enough: int | None = None
) -> dict[int, float]:
    """Which sockets (by index) the server closed, and when (time.monotonic()), waiting on
    their readability until `enough` (default: every one) are closed or `until` passes."""
    closed: dict[int, float] = {}
    enough = len(sockets) if enough is None else enough
    with selectors.DefaultSelector() as watch:
        for index, sock in enumerate(sockets):
            sock.setblocking(False)
            watch.register(sock, selectors.EVENT_READ, index)
        while len(closed) < enough and time.monotonic() < until:
            for key, _ in watch.select(timeout=max(0.0, until - time.monotonic())):
                if _at_eof(key.fileobj):
                    closed[key.data] = time.monotonic()
                    watch.unregister(key.fileobj)
    return closed


def _at_eof(sock) -> bool:
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset: closed all the same
        return True


def answered(url: str) -> int:
    return httpx.get(url, timeout=5).status_code


@pytest.fixture
def serve(tmp_path):
    with postroom_serve(tmp_path / "site") as served:
        yield served


def test_half_sent_and_trickled_requests_are_closed_at_the_request_timeout(serve):
    started = time.monotonic()
    sockets = half_sent(serve.port, 200)
    stalled_body = socket.create_connection(("127.0.0.1", serve.port), timeout=5)
    stalled_body.sendall(
        b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
        b"\r\nContent-Length: 100\r\n\r\nemail=a"
    )
    trickle = socket.create_connection(("127.0.0.1", serve.port), timeout=5)
    assert answered(serve.url) == 200  # a real visitor is served meanwhile
    # A byte a second: every byte used to restart the keep-alive clock.
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    trickled = 0
    while time.monotonic() - started < REQUEST_TIMEOUT + GRACE and trickled < len(head):
        try:
            trickle.sendall(head[trickled : trickled + 1])
        except OSError:
            break  # closed by the server: what the test wants
        trickled += 1
        if _closed_now(trickle):
            break
        time.sleep(0.5)
    everyone = [*sockets, stalled_body, trickle]
    closed = closed_by_server(everyone, started + REQUEST_TIMEOUT + GRACE)
    assert len(closed) == len(everyone), (
        f"{len(everyone) - len(closed)} of {len(everyone)} slow connections still open"
        f" {REQUEST_TIMEOUT + GRACE:.0f} s after they began"
    )
    assert min(closed.values()) - started >= REQUEST_TIMEOUT - 1, "closed before its time"
    assert answered(serve.url) == 200
    serve.process.terminate()
    serve.process.wait(15)
    assert "Traceback" not in serve.log()


def _closed_now(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return _at_eof(sock)
    finally:
        sock.setblocking(True)


def test_idle_connections_are_closed_at_the_keep_alive_timeout(serve):
    kept = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=5)
    kept.request("GET", "/")
    assert kept.getresponse().read()
    kept.request("GET", "/")  # the same connection, kept alive for the next request
    response = kept.getresponse()
    assert response.status == 200 and response.read()
    finished = time.monotonic()
    silent = socket.create_connection(("127.0.0.1", serve.port), timeout=5)  # sends nothing
    opened = time.monotonic()
    until = finished + KEEP_ALIVE_TIMEOUT + GRACE
    closed = closed_by_server([kept.sock, silent], until)
    assert set(closed) == {0, 1}, f"open after {KEEP_ALIVE_TIMEOUT + GRACE:.0f} s idle: {closed}"
    assert closed[0] - finished >= KEEP_ALIVE_TIMEOUT - 1, "kept alive too briefly"
    assert closed[1] - opened >= KEEP_ALIVE_TIMEOUT - 1, "closed too soon"
    kept.close()


def test_a_flood_past_the_connection_limit_sheds_the_longest_waiting(tmp_path):
    open_files = 1024  # a common soft and hard limit: the connection limit follows it
    limit = capacity(open_files).connections
    flood = limit + 60
    with postroom_serve(tmp_path / "site", open_files=open_files) as serve:
        started = time.monotonic()
        sockets = half_sent(serve.port, flood)
        assert answered(serve.url) == 200  # no EMFILE, no 503 for a real visitor
        closed = closed_by_server(sockets, started + REQUEST_TIMEOUT - 2, flood - limit)
        assert len(closed) >= flood - limit, f"{flood} half-sent requests held, limit {limit}"
        assert max(closed) < min(set(range(flood)) - set(closed)), "a newer one was shed"
        assert max(closed.values()) - started < REQUEST_TIMEOUT - 2
        serve.process.terminate()
        serve.process.wait(15)
        assert "Traceback" not in serve.log()  # no "Too many open files"


def subscribe(url: str, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = httpx.post(
        f"{url}subscribe", data={"email": "reader@example.org"}, headers=headers, timeout=10
    )
    return response.status_code


@pytest.mark.parametrize("trusted", [[], ["--trusted-proxy", "192.0.2.1"]])
def test_a_spoofed_forwarded_for_does_not_dodge_the_subscribe_limit(tmp_path, trusted):
    with postroom_serve(tmp_path / "site", *trusted) as serve:
        answers = [subscribe(serve.url, f"203.0.113.{n}") for n in range(10)]
        assert answers == [200] * 10
        assert subscribe(serve.url, "198.51.100.7") == 429  # a fresh "address" each time
        assert subscribe(serve.url, None) == 429


def test_forwarded_for_is_honoured_from_a_trusted_proxy(tmp_path):
    with postroom_serve(tmp_path / "site", "--trusted-proxy", "127.0.0.0/8") as serve:
        assert [subscribe(serve.url, "203.0.113.1") for _ in range(10)] == [200] * 10
        assert subscribe(serve.url, "203.0.113.1") == 429  # that client has had its ten
        assert subscribe(serve.url, "203.0.113.2") == 200  # another behind the same proxy
        # The client is the nearest address the proxy did not add: one it could not forge.
        assert subscribe(serve.url, "203.0.113.1, 203.0.113.3") == 200
        assert subscribe(serve.url, "198.51.100.9, 203.0.113.1") == 429


@pytest.mark.parametrize("value", ["", "not-an-address", "10.0.0.0/33"])
def test_a_bad_trusted_proxy_is_refused_in_one_line(tmp_path, value):
    site = web_site(tmp_path / "site", FILES, free_port())
    result = subprocess.run(
        [*POSTROOM, "--site", str(site.root), "serve", "--trusted-proxy", value],
        env={**os.environ, "POSTROOM_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--trusted-proxy" in result.stderr and repr(value) in result.stderr
