"""content.fetch against a real HTTP server on 127.0.0.1 (issue 16's foundation): the
limits (redirects, size after gzip, content types, timeouts), conditional GET, and the
refusal of private addresses at every hop."""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from postroom.content.fetch import MAX_BYTES, FetchError, fetch, user_agent

pytestmark = pytest.mark.nostore  # no site, no store: the SQLite pass alone

AGENT = user_agent("https://notes.example.org/")
PAGE = b"<!doctype html><title>Thresholds</title><p>Duty teams kept the phones open.</p>"
released = threading.Event()  # the slow handler waits for the test, not the clock


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []

    def log_message(self, *_: object) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str = "text/html; charset=utf-8", **more):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in more.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        path = self.path
        if path == "/page":
            self._send(200, PAGE, ETag='"v1"', Last_Modified="Mon, 30 Nov 2026 08:00:00 GMT")
        elif path == "/cached":
            if self.headers.get("If-None-Match") == '"v1"':
                self._send(304, b"")
            else:
                self._send(200, PAGE, ETag='"v1"')
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            self._send(302, b"", Location=f"/hop/{left - 1}" if left else "/page")
        elif path == "/image":
            self._send(200, b"\x89PNG....", "image/png")
        elif path == "/huge":
            self._send(200, b"x" * (MAX_BYTES + 1))
        elif path == "/bomb":  # 6 MB of spaces, a few KB on the wire
            packed = gzip.compress(b" " * (6 * 1024 * 1024))
            self._send(200, packed, Content_Encoding="gzip")
        elif path == "/feed":
            self._send(200, b"<rss version='2.0'><channel/></rss>", "application/rss+xml")
        elif path == "/latin":
            self._send(200, "<p>café</p>".encode("latin-1"), "text/html; charset=ISO-8859-1")
        elif path == "/slow":
            released.wait(30)
            self._send(200, PAGE)
        else:
            self._send(404, b"not here")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        released.set()
        httpd.shutdown()


def get(url: str, **options) -> object:
    return fetch(url, agent=AGENT, allow_private=True, **options)


def test_a_page_with_its_validators_and_a_user_agent_naming_the_site(server):
    found = get(f"{server}/page")
    assert (found.status, found.content_type, found.body) == (200, "text/html", PAGE)
    assert (found.charset, found.etag) == ("utf-8", '"v1"')
    assert found.last_modified == "Mon, 30 Nov 2026 08:00:00 GMT"
    assert Handler.seen[-1]["user-agent"].startswith("postroom/")
    assert "https://notes.example.org/" in Handler.seen[-1]["user-agent"]


def test_a_conditional_get_that_matches_is_a_304_with_no_body(server):
    first = get(f"{server}/cached")
    again = get(f"{server}/cached", etag=first.etag)
    assert (again.status, again.body) == (304, b"")
    assert Handler.seen[-1]["if-none-match"] == '"v1"'


def test_five_redirects_are_followed_and_a_sixth_is_refused(server):
    assert get(f"{server}/hop/4").url == f"{server}/page"  # 5 redirects in all
    with pytest.raises(FetchError, match="more than 5 redirects"):
        get(f"{server}/hop/5")


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/image", "image/png, not a page or a feed"),
        ("/huge", "more than 5 MB"),
        ("/bomb", "more than 5 MB"),  # counted after gzip is undone
        ("/missing", "HTTP 404"),
    ],
)
def test_what_is_not_a_page_or_a_feed_within_the_limits_is_refused_with_why(server, path, why):
    with pytest.raises(FetchError, match=why):
        get(f"{server}{path}")


def test_feeds_and_pages_in_other_charsets_come_back_as_bytes_with_their_charset(server):
    assert get(f"{server}/feed").content_type == "application/rss+xml"
    latin = get(f"{server}/latin")
    assert (latin.charset, latin.body.decode(latin.charset)) == ("iso-8859-1", "<p>café</p>")


def test_a_server_that_does_not_answer_is_given_up_on(server):
    released.clear()
    try:
        with pytest.raises(FetchError, match=re.escape("no answer within 0.5 s")):
            get(f"{server}/slow", timeout=0.5)
    finally:
        released.set()


def test_private_addresses_are_refused_with_a_clear_error(server):
    with pytest.raises(FetchError, match=re.escape("127.0.0.1, a private address: not fetched")):
        fetch(f"{server}/page", agent=AGENT)  # allow_private is off by default
    for url in ("http://[::1]/", "http://169.254.169.254/latest/", "http://10.1.2.3/"):
        with pytest.raises(FetchError, match="a private address"):
            fetch(url, agent=AGENT)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "http:///nohost"])
def test_only_http_and_https_urls_with_a_host(url):
    with pytest.raises(FetchError, match="only http and https"):
        fetch(url, agent=AGENT)
