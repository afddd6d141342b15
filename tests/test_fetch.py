"""content.fetch against a real HTTP server on 127.0.0.1 (issue 16's foundation): the
limits (redirects, size after gzip, content types, timeouts), conditional GET, the
refusal of private addresses at every hop, the connection pinned to the address checked
(no DNS rebinding), and the wait a 429 or 503 asks for.

Made-up names (*.test) are answered by a stand-in for socket.getaddrinfo, which the
check and httpcore's connect both call; every other name goes to the real one. It also
routes PUBLIC, an address `ipaddress` calls global, to 127.0.0.1, so a pinned request
can reach the server here while the check sees a public address.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from postroom.content.fetch import (
    MAX_BYTES,
    FetchError,
    fetch,
    is_inward,
    parse_retry_after,
    pin,
    user_agent,
)
from support import self_signed

pytestmark = pytest.mark.nostore  # no site, no store: the SQLite pass alone

AGENT = user_agent("https://notes.example.org/")
PAGE = b"<!doctype html><title>Thresholds</title><p>Duty teams kept the phones open.</p>"
STACKED_BOMB = gzip.compress(gzip.compress(b"\0" * 2**24))  # 16 MB inside, 200 bytes sent
released = threading.Event()  # the slow handler waits for the test, not the clock
PUBLIC = "93.184.216.34"  # global to `ipaddress`; never dialled (see Names)


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
        elif path == "/busy":
            self._send(429, b"slow down", "text/plain", Retry_After="120")
        elif path == "/down":  # back in five minutes, said as a date
            back = datetime.now(UTC) + timedelta(seconds=300)
            self._send(503, b"maintenance", "text/plain", Retry_After=format_datetime(back, True))
        elif path == "/broken":
            self._send(500, b"oops", "text/plain", Retry_After="60")  # not a 429 or 503
        elif path.startswith("/away?"):
            self._send(302, b"", Location=parse_qs(urlsplit(path).query)["to"][0])
        elif path == "/slow":
            released.wait(30)
            self._send(200, PAGE)
        elif path == "/bomb2":  # gzip inside gzip: 2 GB of zeros in a few KB
            self._send(200, STACKED_BOMB, Content_Encoding="gzip, gzip")
        elif path == "/deflated":
            self._send(200, zlib.compress(PAGE), Content_Encoding="deflate")
        elif path == "/bad-location":
            self._send(302, b"", Location="http://a]b/")
        elif path == "/trickle-headers":  # the status line, then a header a byte at a time
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(100):
                if released.wait(0.1):
                    break
                self.wfile.write(b"x")
                self.wfile.flush()
        elif path == "/trickle":  # a byte at a time, each well inside the read timeout
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            for _ in range(100):
                if released.wait(0.1):
                    break
                self.wfile.write(b"x")
                self.wfile.flush()
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


class Names:
    """socket.getaddrinfo for the names in `answers` (each lookup takes the next answer,
    the last one repeats; None: no such host), recorded in `looked_up`; any other name
    goes to the real getaddrinfo, which reads an address literal without asking DNS."""

    def __init__(self, real) -> None:
        self.real = real
        self.answers: dict[str, list[str | None]] = {}
        self.looked_up: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        self.looked_up.append(host)
        answers = self.answers.get(host)
        if answers is None:
            return self.real(host, port, *args, **kwargs)
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.real(answer, port, *args, **kwargs)


@pytest.fixture
def names(monkeypatch) -> Names:
    fake = Names(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


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


def test_a_server_that_trickles_its_body_is_given_up_on_at_the_total_limit(server):
    released.clear()
    try:
        with pytest.raises(FetchError, match=re.escape("took longer than 0.5 s; given up")):
            get(f"{server}/trickle", timeout=5, total=0.5)
    finally:
        released.set()


def test_stacked_encodings_are_refused_and_deflate_is_read(server):
    with pytest.raises(FetchError, match="content encoded as gzip, gzip: not read"):
        get(f"{server}/bomb2")
    assert get(f"{server}/deflated").body == PAGE


def test_a_redirect_to_what_is_no_url_is_a_fetch_error(server):
    with pytest.raises(FetchError, match="redirected to a bad URL"):
        get(f"{server}/bad-location")


@pytest.mark.parametrize(
    ("address", "inward"),
    [
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
        ("10.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("2002:a00:1::", True),  # 6to4 of 10.0.0.1
        ("2002:5db8:d822::", False),  # 6to4 of 93.184.216.34
        ("64:ff9b::a00:1", True),  # NAT64 of 10.0.0.1
        ("::127.0.0.1", True),  # IPv4-compatible, long deprecated
        ("169.254.169.254", True),
    ],
)
def test_addresses_that_carry_a_private_ipv4_address_are_inward(address, inward):
    assert is_inward(ipaddress.ip_address(address)) is inward


def test_a_server_that_trickles_its_headers_is_given_up_on_too(server):
    released.clear()
    try:
        started = time.monotonic()
        with pytest.raises(FetchError):
            get(f"{server}/trickle-headers", timeout=5, total=0.5)
        assert time.monotonic() - started < 4
    finally:
        released.set()


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


@pytest.mark.parametrize(
    ("url", "why"),
    [("http://example.org:99999/", "Port out of range"), ("http://[::1/", "Invalid IPv6 URL")],
)
def test_a_url_that_does_not_parse_is_a_reason_not_a_traceback(url, why):
    with pytest.raises(FetchError, match=re.escape(f"{url}: {why}")):
        fetch(url, agent=AGENT)


def test_a_429_says_how_long_to_wait_in_its_message_and_its_attributes(server):
    with pytest.raises(FetchError) as caught:
        get(f"{server}/busy")
    assert str(caught.value) == f"{server}/busy: HTTP 429 Too Many Requests (retry after 120 s)"
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)


def test_a_503_with_a_date_waits_until_that_date(server):
    with pytest.raises(FetchError, match=r"HTTP 503 Service Unavailable \(retry after") as caught:
        get(f"{server}/down")
    assert caught.value.status == 503
    assert 295 <= caught.value.retry_after <= 300  # the date is to the second, read a moment on


def test_other_failures_carry_their_status_and_no_wait(server):
    with pytest.raises(FetchError) as caught:
        get(f"{server}/broken")
    assert str(caught.value) == f"{server}/broken: HTTP 500 Internal Server Error"
    assert (caught.value.status, caught.value.retry_after) == (500, None)
    with pytest.raises(FetchError) as caught:
        get(f"{server}/hop/5")  # not an answer's status: too many redirects
    assert (caught.value.status, caught.value.retry_after) == (0, None)
    plain = FetchError("a reason")  # as other code raises it
    assert (str(plain), plain.status, plain.retry_after) == ("a reason", 0, None)


NOW = datetime(2026, 11, 30, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Mon, 30 Nov 2026 08:05:00 GMT", 300.0),  # IMF-fixdate
        ("Monday, 30-Nov-26 08:01:00 GMT", 60.0),  # RFC 850, which RFC 9110 still reads
        ("Mon Nov 30 08:00:30 2026", 30.0),  # asctime
        ("-5", 0.0),
        ("Sun, 29 Nov 2026 08:00:00 GMT", 0.0),  # gone by
        ("31536000", 7 * 24 * 3600.0),  # a year: a week at most
        ("9" * 5000, 7 * 24 * 3600.0),
        ("Tue, 30 Nov 2027 08:00:00 GMT", 7 * 24 * 3600.0),
        ("soon", None),
        ("", None),
        ("1.5", None),
        ("Mon, 30 Nov 2026 25:00:00 GMT", None),
    ],
)
def test_retry_after_as_seconds_or_a_date_within_a_week(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    ("url", "address", "pinned_url", "host", "sni"),
    [
        ("https://example.org/feed?x=1", PUBLIC, f"https://{PUBLIC}/feed?x=1", "example.org",
         "example.org"),
        ("http://example.org:8080/a", PUBLIC, f"http://{PUBLIC}:8080/a", "example.org:8080", ""),
        ("http://example.org:80/a", PUBLIC, f"http://{PUBLIC}/a", "example.org", ""),
        ("https://example.org:8443/", "2606:2800:220:1::1946", "https://[2606:2800:220:1::1946]:8443/",
         "example.org:8443", "example.org"),
        ("https://bücher.example/", PUBLIC, f"https://{PUBLIC}/", "xn--bcher-kva.example",
         "xn--bcher-kva.example"),
    ],
)  # fmt: skip
def test_a_pinned_request_goes_to_the_address_and_names_the_host(
    url, address, pinned_url, host, sni
):
    pinned = pin(url, ipaddress.ip_address(address))
    assert (pinned.url, pinned.headers) == (pinned_url, {"Host": host})
    assert pinned.extensions == ({"sni_hostname": sni} if sni else {})


def test_a_name_that_rebinds_to_loopback_after_the_check_is_not_looked_up_again(server, names):
    port = urlsplit(server).port
    names.answers = {"rebind.test": [PUBLIC, "127.0.0.1"], PUBLIC: [None]}  # PUBLIC: no route
    before = len(Handler.seen)
    with pytest.raises(FetchError) as caught:
        fetch(f"http://rebind.test:{port}/page", agent=AGENT, timeout=1.0)
    assert len(Handler.seen) == before  # nothing reached 127.0.0.1
    assert names.looked_up == ["rebind.test", PUBLIC]  # the check's lookup, then the address
    assert str(caught.value).startswith(f"http://rebind.test:{port}/page: ")
    assert PUBLIC not in str(caught.value)


def test_each_hop_is_checked_and_pinned_and_the_result_names_the_host(server, names):
    port = urlsplit(server).port
    names.answers = {"pinned.test": [PUBLIC], PUBLIC: ["127.0.0.1"]}
    before = len(Handler.seen)
    found = fetch(f"http://pinned.test:{port}/hop/1", agent=AGENT)  # relative Locations
    assert (found.url, found.body) == (f"http://pinned.test:{port}/page", PAGE)
    hops = Handler.seen[before:]
    assert [hop["path"] for hop in hops] == ["/hop/1", "/hop/0", "/page"]
    assert {hop["host"] for hop in hops} == {f"pinned.test:{port}"}
    assert names.looked_up == ["pinned.test", PUBLIC] * 3


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:{port}/page", "http://169.254.169.254/latest/", "http://inner.test/"],
)
def test_a_redirect_from_a_public_host_to_a_private_one_is_refused_at_the_hop(
    server, names, target
):
    port = urlsplit(server).port
    names.answers = {"pinned.test": [PUBLIC], PUBLIC: ["127.0.0.1"], "inner.test": ["10.1.2.3"]}
    away = f"/away?to={quote(target.format(port=port), safe='')}"
    before = len(Handler.seen)
    with pytest.raises(FetchError, match="a private address: not fetched"):
        fetch(f"http://pinned.test:{port}{away}", agent=AGENT)
    assert [hop["path"] for hop in Handler.seen[before:]] == [away]  # the hop was not asked


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[int, str, list[str]]]:
    """HTTPS on 127.0.0.1 with a self-signed certificate for pinned.test only (no IP in
    it): (port, the certificate's file, the SNI names the server was sent)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(folder, "pinned.test", "DNS:pinned.test")
    sni: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _context: sni.append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address[1], str(cert), sni
    finally:
        httpd.shutdown()


def test_https_sends_the_name_in_sni_and_checks_the_certificate_against_it(
    tls_server, names, monkeypatch
):
    port, cert, sni = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # httpx trusts it, as it would a real CA
    names.answers = {"pinned.test": [PUBLIC], "other.test": [PUBLIC], PUBLIC: ["127.0.0.1"]}
    found = fetch(f"https://pinned.test:{port}/page", agent=AGENT)
    assert (found.url, found.body) == (f"https://pinned.test:{port}/page", PAGE)
    assert sni[-1] == "pinned.test" and Handler.seen[-1]["host"] == f"pinned.test:{port}"
    with pytest.raises(FetchError, match="certificate verify failed") as caught:
        fetch(f"https://other.test:{port}/page", agent=AGENT)  # same address, not its name
    assert str(caught.value).startswith(f"https://other.test:{port}/page: ")
    assert sni[-1] == "other.test"
