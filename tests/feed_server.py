"""A real HTTP server on 127.0.0.1 serving feeds and pages that a test writes and changes
as it goes (issue 16): each route answers with what the test set, a conditional GET is
answered 304 when the ETag matches, and every request is kept for the test to read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RSS = "application/rss+xml; charset=utf-8"
PAGE = "text/html; charset=utf-8"


@dataclass
class Route:
    body: bytes
    kind: str = RSS
    status: int = 200
    etag: str = ""  # with one, a request with If-None-Match equal to it gets a 304
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # the answer waits until the test sets it


@dataclass
class FeedServer:
    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, path: str, body: str | bytes, **route: object) -> str:
        """Serve `body` at `path` from now on; its URL."""
        data = body.encode() if isinstance(body, str) else body
        with self.lock:
            self.routes[path] = Route(data, **route)  # type: ignore[arg-type]
        return self.url + path

    def asked(self, path: str) -> list[dict[str, str]]:
        """The headers of each request for `path`, in order."""
        with self.lock:
            return [headers for asked, headers in self.requests if asked == path]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            with server.lock:
                server.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(path)
            if route is None:
                return self._answer(404, b"not here", "text/plain", {})
            if route.hold is not None:
                route.hold.wait(60)
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                return self._answer(304, b"", "", {"ETag": route.etag})
            more = dict(route.headers) | ({"ETag": route.etag} if route.etag else {})
            return self._answer(route.status, route.body, route.kind, more)

        def _answer(self, status: int, body: bytes, kind: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            if kind:
                self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    published: datetime | None
    guid: str = ""
    author: str = ""
    text: str = "Duty teams kept the phones open through the snow."
    categories: tuple[str, ...] = ()


def rss(title: str, home: str, items: list[Item]) -> str:
    """An RSS 2.0 feed of `items`, in the order given (newest first, as feeds list)."""
    out = []
    for i in items:
        parts = [f"<title>{escape(i.title)}</title>", f"<link>{escape(i.link)}</link>"]
        if i.guid:
            parts.append(f'<guid isPermaLink="false">{escape(i.guid)}</guid>')
        if i.published:
            parts.append(f"<pubDate>{format_datetime(i.published)}</pubDate>")
        if i.author:
            parts.append(f"<dc:creator>{escape(i.author)}</dc:creator>")
        parts += [f"<category>{escape(c)}</category>" for c in i.categories]
        parts.append(f"<description>{escape(f'<p>{i.text}</p>')}</description>")
        out.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(home)}</link>"
        "<description>Practice news</description>" + "".join(out) + "</channel></rss>"
    )
