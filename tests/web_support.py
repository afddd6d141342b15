"""A real `postroom serve` app for tests: uvicorn on 127.0.0.1 in a thread, a site whose
base_url is that server, built and with a store, and helpers to read its mail."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn
from postroom.content.intake import scan
from postroom.core.config import Site, open_site
from postroom.emails.transports import mail_file_name, transport_for
from postroom.service.jobs import publish
from postroom.store import Store
from postroom.web.app import create_app
from postroom.web.server import Listen, server_config
from smtp_sink import free_port
from support import make_site

SECRET = b"web-test-secret-long-enough-0123"


@dataclass
class MovableClock:
    """The server's clock: real time plus an offset a test sets, so a test can date what
    the server stamps (a confirmation link) minutes apart without waiting for them."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Served:
    site: Site
    store: Store
    url: str  # the site's base_url, ending in /; the server answers there
    clock: MovableClock = field(default_factory=MovableClock)

    def republish(self) -> None:
        scan(self.site, self.store)
        publish(self.site, self.store, datetime.now(UTC))


def web_site(root: Path, files: dict[str, str], port: int, mail: str = "") -> Site:
    """A site whose base_url is http://127.0.0.1:<port>/, with `mail` as its [mail] section."""
    config = f'[site]\nbase_url = "http://127.0.0.1:{port}/"\n' + mail
    make_site(root, files, config)
    return open_site(root)


@contextmanager
def serving(root: Path, files: dict[str, str], mail: str = "") -> Iterator[Served]:
    """Build the site, then serve it until the block ends."""
    port = free_port()
    site = web_site(root, files, port, mail)
    store = Store(site.store_url)
    served = Served(site, store, site.base_url)
    served.republish()
    built = time.time() - 60  # built a minute ago: files written this very second carry no
    for path in site.public_dir.rglob("*"):  # Last-Modified (it could not date the next write)
        os.utime(path, (built, built))
    try:
        with serve_site(site, store, SECRET, served.clock):
            yield served
    finally:
        store.close()


@contextmanager
def serve_site(
    site: Site, store: Store, secret: bytes, clock: MovableClock, port: int | None = None
) -> Iterator[None]:
    """`postroom serve` of `site` on 127.0.0.1:`port` (by default its base_url's) until the
    block ends, as `serve --trusted-proxy 127.0.0.1` behind nginx: the tests stand in for it."""
    app = create_app(site, store, secret, transport_for(site), clock)
    port = port or urlsplit(site.base_url).port
    assert port is not None, site.base_url
    config = server_config(app, Listen("127.0.0.1", port, (ip_network("127.0.0.1/32"),)))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def confirmation_mail(site: Site, address: str) -> EmailMessage:
    """The confirmation the files transport wrote for `address` (outbox/confirm/)."""
    return parse((site.root / "outbox" / "confirm" / mail_file_name(address)).read_bytes())


def screenshot_width(page, shot: Path) -> tuple[int, int]:
    """A full-page screenshot of `page` to `shot` (and a copy in $POSTROOM_SCREENSHOTS when
    set, to look at), and the page's (scroll width, window width): wider means it overflows."""
    page.screenshot(path=shot, full_page=True)
    if extra := os.environ.get("POSTROOM_SCREENSHOTS"):
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(extra) / shot.name)
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return scroll, inner
