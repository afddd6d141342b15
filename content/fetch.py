"""Fetching a page or a feed for the curator: the one way postroom reads the web.

Everything postroom fetches (a link the curator adds, a feed they follow) goes through
`fetch`, so the limits hold everywhere: 10 s to connect and between reads, 5 MB of
body (counted after gzip is undone, so a small bomb cannot grow past it), at most 5
redirects, only HTML, XML and JSON, and a User-Agent naming postroom and the site.

No request forgery: unless the site allows it (`fetch.allow_private`, for an intranet
and for tests on 127.0.0.1), a URL whose host resolves to a loopback, private,
link-local, multicast, reserved or unspecified address is refused, and every redirect
hop is checked again, since a public page may redirect to http://169.254.169.254/.
The connection then goes to the very address that was checked (`pin`): were the name
looked up again to connect, a hostile DNS server could answer a public address to the
check and 127.0.0.1 to the connection. So a proxy named in the environment is not used
then either (it would look the name up itself); with `allow_private`, nothing is pinned.

A conditional GET (ETag, Last-Modified) that the server answers 304 comes back as such,
with no body, so a followed feed that has not changed costs a few hundred bytes. A
server that says how long to wait (429 or 503 with Retry-After) is heard: the error
carries the delay, for whoever schedules the next try.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import os
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import certifi
import httpx
from postroom import __version__
from postroom.core.sanitize import one_line

TIMEOUT_SECONDS = 10.0
#: the whole fetch, redirects and body included: a server that trickles a byte every few
#: seconds keeps each read inside its timeout, and must not hold a fetch for an hour
TOTAL_SECONDS = 30.0
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
#: the longest Retry-After believed: a server asking for more is asked again in a week
MAX_RETRY_AFTER = 7 * 24 * 3600.0
#: what a page or a feed is served as; anything else (an image, a PDF, a zip) is refused
CONTENT_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/json",
        "application/feed+json",
    }
)
#: of those, what a page (not a feed) is served as
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({429, 503})  # where RFC 9110 and 6585 give Retry-After a meaning
_SECONDS = re.compile(r"[+-]?[0-9]+")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """Why a URL could not be fetched, in one line fit for `check` and the log.

    `status` is the HTTP status when the server answered with one that is neither 2xx
    nor 304 (0 when it did not answer, or the answer was refused for what it held), so
    a caller can tell "gone" from "unreachable"; `retry_after` is the wait in seconds a
    429 or 503 asked for, None when it named none.
    """

    def __init__(self, reason: str, *, status: int = 0, retry_after: float | None = None):
        super().__init__(reason)
        self._status = status
        self._retry_after = retry_after

    @property
    def status(self) -> int:
        return self._status

    @property
    def retry_after(self) -> float | None:
        return self._retry_after


@dataclass(frozen=True)
class Fetched:
    url: str  # where it was found, after any redirects
    status: int  # 200 (or another 2xx), or 304: unchanged since `etag` / `last_modified`
    content_type: str  # without its parameters: "text/html"
    body: bytes  # empty for a 304
    charset: str = ""  # from Content-Type, when the server named one
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class Pinned:
    """A request for `url` sent to one checked address: the URL names the address, so
    no lookup happens on the way out, and the server still sees the name it serves (in
    Host, and for https in SNI and in the certificate check)."""

    url: str  # the URL with its host replaced by the address (an IPv6 one in brackets)
    host: str  # the Host header: the original name, with its port when not the default
    sni_hostname: str = ""  # https only: the name TLS sends and the certificate must bear

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.host}

    @property
    def extensions(self) -> dict[str, str]:
        """httpcore's request extensions: `sni_hostname` is what start_tls is given as
        server_hostname (httpcore/_sync/connection.py, HTTPConnection._connect)."""
        return {"sni_hostname": self.sni_hostname} if self.sni_hostname else {}


def user_agent(base_url: str) -> str:
    """Names postroom and the site, so a publisher can see who reads them, and write."""
    return f"postroom/{__version__} (+{base_url})"


def pin(url: str, address: Address) -> Pinned:
    """`url` rewritten to go to `address` and to nowhere else (see Pinned)."""
    original = httpx.URL(url)
    host = original.netloc.decode("ascii")  # IDNA-encoded, bracketed, port only if not default
    name = original.raw_host.decode("ascii")
    sni = name if original.scheme == "https" else ""
    return Pinned(str(original.copy_with(host=str(address))), host, sni)


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value, delta-seconds or an HTTP-date (read
    against `now`), within 0 and a week; None when it is neither."""
    value = value.strip()
    if _SECONDS.fullmatch(value):
        digits = value.lstrip("+-")  # a few thousand of them would be too many for int()
        seconds = MAX_RETRY_AFTER if len(digits) > 12 else float(digits)
        seconds = -seconds if value.startswith("-") else seconds
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000" or no zone: HTTP-dates are GMT
            when = when.replace(tzinfo=UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def fetch(
    url: str,
    *,
    agent: str,
    allow_private: bool = False,
    etag: str = "",
    last_modified: str = "",
    timeout: float = TIMEOUT_SECONDS,
    total: float = TOTAL_SECONDS,
) -> Fetched:
    """GET `url` within the limits above; FetchError (the reason) otherwise.

    The work runs in a thread of its own, waited on for `total` seconds at most: a
    server can keep every read inside its timeout for ever (a header a byte at a time),
    and nothing inside the HTTP client counts the whole. A fetch given up on is left
    to end with its socket."""
    answer: list[Fetched | BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            answer.append(_fetch(url, agent, allow_private, etag, last_modified, timeout, total))
        except BaseException as exc:  # handed to the caller, whatever it is
            answer.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="fetch", daemon=True).start()
    if not done.wait(total + 1):
        raise FetchError(f"{_short(url)}: took longer than {total:g} s; given up")
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return answer[0]


def _fetch(
    url: str,
    agent: str,
    allow_private: bool,
    etag: str,
    last_modified: str,
    timeout: float,
    total: float,
) -> Fetched:
    deadline = time.monotonic() + total
    headers = {
        "User-Agent": agent,
        "Accept": ", ".join(sorted(CONTENT_TYPES)) + ";q=0.9, */*;q=0.1",
        "Accept-Encoding": "gzip, deflate",  # what _decoded undoes, within the limit
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    limits = httpx.Timeout(timeout)
    options: dict = {"timeout": limits, "follow_redirects": False, "headers": headers}
    if not allow_private:
        # no pooled connection outlives its request, so one verified for one name is never
        # reused for another name at the same address; a transport of our own also keeps
        # an environment proxy (which would look the name up again) out of the way
        options["transport"] = httpx.HTTPTransport(
            verify=_tls(), limits=httpx.Limits(max_keepalive_connections=0)
        )
    else:
        options["verify"] = _tls()
    try:
        with httpx.Client(**options) as client:
            for _ in range(MAX_REDIRECTS + 1):
                if time.monotonic() > deadline:
                    raise FetchError(f"{_short(url)}: took longer than {total:g} s; given up")
                addresses = _check_target(url, allow_private)
                with _send(client, url, addresses) as response:
                    location = response.headers.get("location", "")
                    if response.status_code in _REDIRECTS and location:
                        url = _next_hop(url, location)  # against the name, not the address
                        continue
                    return _read(url, response, deadline, total)
    except httpx.TimeoutException:
        raise FetchError(f"{_short(url)}: no answer within {timeout:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # refused, reset, TLS, a bad URL
        raise FetchError(f"{_short(url)}: {one_line(str(exc)) or type(exc).__name__}") from None
    raise FetchError(f"{_short(url)}: more than {MAX_REDIRECTS} redirects")


@contextmanager
def _send(
    client: httpx.Client, url: str, addresses: tuple[Address, ...]
) -> Iterator[httpx.Response]:
    """The response to GET `url`, from the first of `addresses` that takes the connection
    (as a lookup-and-connect would try them in turn); no addresses: unpinned."""
    if not addresses:
        with client.stream("GET", url) as response:
            yield response
        return
    for tried, address in enumerate(addresses, 1):
        pinned = pin(url, address)
        request = client.build_request(
            "GET", pinned.url, headers=pinned.headers, extensions=pinned.extensions
        )
        try:
            response = client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            if tried == len(addresses):
                raise
            continue
        try:
            yield response
        finally:
            response.close()
        return


def _read(url: str, response: httpx.Response, deadline: float, total: float) -> Fetched:
    status = response.status_code
    tags = {"etag": response.headers.get("etag", ""), "last_modified": ""}
    tags["last_modified"] = response.headers.get("last-modified", "")
    if status == 304:
        return Fetched(url, status, "", b"", **tags)
    if not 200 <= status < 300:
        raise _refused(url, response)
    kind, _, params = response.headers.get("content-type", "").partition(";")
    kind = kind.strip().lower()
    if kind not in CONTENT_TYPES:
        raise FetchError(f"{_short(url)}: {kind or 'no content type'}, not a page or a feed")
    declared = int(response.headers.get("content-length", "0") or 0)
    if declared > MAX_BYTES:
        raise FetchError(f"{_short(url)}: {declared // 1024 // 1024} MB, more than 5 MB")
    body = bytearray()
    for chunk in _decoded(url, response):  # gzip counts at its full size
        if time.monotonic() > deadline:
            raise FetchError(f"{_short(url)}: took longer than {total:g} s; given up")
        body += chunk
        if len(body) > MAX_BYTES:
            raise FetchError(f"{_short(url)}: more than 5 MB")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset":
            charset = value.strip().strip('"').lower()
    return Fetched(url, status, kind, bytes(body), charset, **tags)


_PIECE = 64 * 1024  # decoded at a time: a bomb is found out 64 KB past the limit at most


def _decoded(url: str, response: httpx.Response) -> Iterator[bytes]:
    """The body with its Content-Encoding undone a piece at a time. httpx's own decoding
    inflates a whole chunk at once: 3 KB of gzip inside gzip is 2 GB in one piece,
    before any limit is looked at. One encoding only; gzip or deflate."""
    named = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",")]
    encodings = [e for e in named if e and e != "identity"]
    if not encodings:
        yield from response.iter_raw()
        return
    if len(encodings) > 1 or encodings[0] not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"{_short(url)}: content encoded as {', '.join(encodings)}: not read")
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, by their headers
    try:
        for chunk in response.iter_raw():
            data = chunk
            while data:
                yield inflate.decompress(data, _PIECE)
                data = inflate.unconsumed_tail
        yield inflate.flush()
    except zlib.error as exc:
        raise FetchError(f"{_short(url)}: its {encodings[0]} does not decode ({exc})") from None


def _refused(url: str, response: httpx.Response) -> FetchError:
    """The error for an answer that is not a page: its status, and the wait it asked for."""
    status = response.status_code
    reason = f"{_short(url)}: HTTP {status} {one_line(response.reason_phrase)}".rstrip()
    wait = None
    if status in _RETRY_STATUSES and (value := response.headers.get("retry-after")):
        wait = parse_retry_after(value, datetime.now(UTC))
    if wait is not None:
        reason += f" (retry after {math.ceil(wait)} s)"
    return FetchError(reason, status=status, retry_after=wait)


def _tls() -> ssl.SSLContext:
    """One TLS context for the process: building one (loading the CA bundle) costs 28 ms
    of CPU, which at every fetch was most of a poll of 200 unchanged feeds. The CA
    bundle is certifi's, unless SSL_CERT_FILE or SSL_CERT_DIR names another, as httpx
    itself would take it."""
    return _tls_for(os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))


@functools.cache
def _tls_for(cert_file: str, cert_dir: str) -> ssl.SSLContext:
    if cert_file and os.path.isfile(cert_file):
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir and os.path.isdir(cert_dir):
        return ssl.create_default_context(capath=cert_dir)
    return ssl.create_default_context(cafile=certifi.where())


def _next_hop(url: str, location: str) -> str:
    try:
        return urljoin(url, location)
    except ValueError as exc:  # "http://a]b/": a Location no URL can be made of
        raise FetchError(f"{_short(url)}: redirected to a bad URL ({one_line(str(exc))})") from None


def is_inward(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address leads into a private network: itself, or the IPv4 address it
    carries (::ffff:10.0.0.1, 6to4's 2002:0a00:0001::, NAT64's 64:ff9b::10.0.0.1,
    the old ::10.0.0.1), which a gateway on the way may deliver to."""
    if not address.is_global or address.is_multicast:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        carried = [address.ipv4_mapped, address.sixtofour]
        if address in _NAT64 or int(address) >> 32 == 0:
            carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        return any(v4 is not None and (not v4.is_global or v4.is_multicast) for v4 in carried)
    return False


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _check_target(url: str, allow_private: bool) -> tuple[Address, ...]:
    """The addresses `url`'s host may be reached at, each of them checked; none when
    private addresses are allowed (then nothing is pinned). FetchError when any one is
    private: a name that answers an inward address among public ones is refused whole."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range, an unclosed [
        raise FetchError(f"{_short(url)}: {one_line(str(exc))}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{_short(url)}: only http and https URLs with a host are fetched")
    if allow_private:
        return ()
    try:
        name = httpx.URL(url).raw_host.decode("ascii")  # the name as httpx would send it
        found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except httpx.InvalidURL as exc:
        raise FetchError(f"{_short(url)}: {one_line(str(exc))}") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{parts.hostname}: no such host ({exc})") from None
    addresses: list[Address] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if is_inward(address):
            raise FetchError(
                f"{parts.hostname} is {address}, a private address: not fetched"
                " (set fetch.allow_private = true to fetch from your own network)"
            )
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError(f"{parts.hostname}: no such host (no address)")
    return tuple(addresses)


def _short(url: str) -> str:
    """The URL for a message: one line, and not a page of query string."""
    url = one_line(url)
    return url if len(url) <= 120 else url[:119] + "…"
