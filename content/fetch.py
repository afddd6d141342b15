"""Fetching a page or a feed for the curator: the one way postroom reads the web.

Everything postroom fetches (a link the curator adds, a feed they follow) goes through
`fetch`, so the limits hold everywhere: 10 s to connect and between reads, 5 MB of
body (counted after gzip is undone, so a small bomb cannot grow past it), at most 5
redirects, only HTML, XML and JSON, and a User-Agent naming postroom and the site.

No request forgery: unless the site allows it (`fetch.allow_private`, for an intranet
and for tests on 127.0.0.1), a URL whose host resolves to a loopback, private,
link-local, multicast, reserved or unspecified address is refused, and every redirect
hop is checked again, since a public page may redirect to http://169.254.169.254/.
A conditional GET (ETag, Last-Modified) that the server answers 304 comes back as such,
with no body, so a followed feed that has not changed costs a few hundred bytes.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from postroom import __version__
from postroom.core.sanitize import one_line

TIMEOUT_SECONDS = 10.0
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
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
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """Why a URL could not be fetched, in one line fit for `check` and the log."""


@dataclass(frozen=True)
class Fetched:
    url: str  # where it was found, after any redirects
    status: int  # 200 (or another 2xx), or 304: unchanged since `etag` / `last_modified`
    content_type: str  # without its parameters: "text/html"
    body: bytes  # empty for a 304
    charset: str = ""  # from Content-Type, when the server named one
    etag: str = ""
    last_modified: str = ""


def user_agent(base_url: str) -> str:
    """Names postroom and the site, so a publisher can see who reads them, and write."""
    return f"postroom/{__version__} (+{base_url})"


def fetch(
    url: str,
    *,
    agent: str,
    allow_private: bool = False,
    etag: str = "",
    last_modified: str = "",
    timeout: float = TIMEOUT_SECONDS,
) -> Fetched:
    """GET `url` within the limits above; FetchError (the reason) otherwise."""
    headers = {
        "User-Agent": agent,
        "Accept": ", ".join(sorted(CONTENT_TYPES)) + ";q=0.9, */*;q=0.1",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    limits = httpx.Timeout(timeout)
    try:
        with httpx.Client(timeout=limits, follow_redirects=False, headers=headers) as client:
            for _ in range(MAX_REDIRECTS + 1):
                _check_target(url, allow_private)
                with client.stream("GET", url) as response:
                    location = response.headers.get("location", "")
                    if response.status_code in _REDIRECTS and location:
                        url = urljoin(url, location)
                        continue
                    return _read(url, response)
    except httpx.TimeoutException:
        raise FetchError(f"{_short(url)}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:  # refused, reset, a TLS failure, a bad URL
        raise FetchError(f"{_short(url)}: {one_line(str(exc)) or type(exc).__name__}") from None
    raise FetchError(f"{_short(url)}: more than {MAX_REDIRECTS} redirects")


def _read(url: str, response: httpx.Response) -> Fetched:
    status = response.status_code
    tags = {"etag": response.headers.get("etag", ""), "last_modified": ""}
    tags["last_modified"] = response.headers.get("last-modified", "")
    if status == 304:
        return Fetched(url, status, "", b"", **tags)
    if not 200 <= status < 300:
        raise FetchError(f"{_short(url)}: HTTP {status} {response.reason_phrase}".rstrip())
    kind, _, params = response.headers.get("content-type", "").partition(";")
    kind = kind.strip().lower()
    if kind not in CONTENT_TYPES:
        raise FetchError(f"{_short(url)}: {kind or 'no content type'}, not a page or a feed")
    declared = int(response.headers.get("content-length", "0") or 0)
    if declared > MAX_BYTES:
        raise FetchError(f"{_short(url)}: {declared // 1024 // 1024} MB, more than 5 MB")
    body = bytearray()
    for chunk in response.iter_bytes():  # decoded: gzip counts at its full size
        body += chunk
        if len(body) > MAX_BYTES:
            raise FetchError(f"{_short(url)}: more than 5 MB")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset":
            charset = value.strip().strip('"').lower()
    return Fetched(url, status, kind, bytes(body), charset, **tags)


def _check_target(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{_short(url)}: only http and https URLs with a host are fetched")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{parts.hostname}: no such host ({exc})") from None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise FetchError(
                f"{parts.hostname} is {address}, a private address: not fetched"
                " (set fetch.allow_private = true to fetch from your own network)"
            )


def _short(url: str) -> str:
    """The URL for a message: one line, and not a page of query string."""
    url = one_line(url)
    return url if len(url) <= 120 else url[:119] + "…"
