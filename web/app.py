"""The part of postroom a person sees in a browser: public/ over HTTP, and three forms.

    GET  /...                  public/ (feeds with their own types, ETag, 304)
    POST /subscribe            double opt-in: a confirmation email, the same answer for all
    GET  /confirm?token=       a page with a button (mail scanners follow GET links)
    POST /confirm?token=       the subscription is active
    GET  /unsubscribe?token=   a page with a button; GET never changes anything
    POST /unsubscribe?token=   unsubscribed (RFC 8058 one-click too: no cookie, no login)

Tokens are the signed ones of emails.tokens; a forged, altered, expired or
foreign one gets a 400 page. Cross-site form posts are refused by their
Origin (the static index page can hold no per-visitor token); the confirm
button also carries an HMAC of its link. No page needs JavaScript and the
Content-Security-Policy allows none.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import threading
import time
from collections import defaultdict, deque
from datetime import UTC, datetime
from urllib.parse import urlsplit

from postroom.core.clock import Clock
from postroom.core.config import Site
from postroom.emails.confirm import CONFIRM_MAX_AGE, confirmation
from postroom.emails.tokens import Purpose, TokenError, TokenHolder, read_token
from postroom.emails.transports import Rejected, Transport, Unreachable
from postroom.feeds.pages import render_page
from postroom.store import Store
from postroom.store.subscribers import AddressError, Status, SubscriberList
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_TYPES = {
    "atom.xml": "application/atom+xml; charset=utf-8",
    "rss.xml": "application/rss+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline';"
        " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    # links carry tokens: a Referer never holds more than the origin. (not no-referrer:
    # under it a browser's form posts say `Origin: null`, and the Origin check needs it)
    "referrer-policy": "strict-origin",
    "x-frame-options": "DENY",
}
SUBSCRIBES_PER_HOUR = 10  # per client address (an IPv6 client is its /64)
CONFIRM_EVERY = 600  # seconds between confirmation emails to one address
MAX_FORM_BYTES = 16_384
_LOG = logging.getLogger("postroom.web")


class PublicFiles(StaticFiles):
    """public/ as it is, with the feeds' own media types and no dot files; Starlette
    answers conditional GETs (ETag, Last-Modified) with 304 and no body."""

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200):
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        kind = _TYPES.get(os.path.basename(full_path))
        if kind:
            response.headers["content-type"] = kind
        response.headers["cache-control"] = "no-cache"  # always revalidate: a 304 is cheap
        if int(stat_result.st_mtime) >= int(time.time()):  # written this very second: its
            del response.headers["last-modified"]  # date could not tell the next write apart
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    def get_path(self, scope: Scope) -> str:
        path = super().get_path(scope)
        if any(part.startswith(".") and part != "." for part in path.split(os.sep)):
            raise HTTPException(status_code=404)
        return path


class WindowLimit:
    """At most `limit` events per client in any `window` seconds (memory only: a restart
    forgets, which only ever lets someone in sooner)."""

    def __init__(self, limit: int, window: float, most: int = 10_000) -> None:
        self.limit, self.window, self.most = limit, window, most
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) >= self.most:  # bounded memory: forget the quiet ones
                for quiet in [k for k, v in self._seen.items() if now - v[-1] > self.window]:
                    del self._seen[quiet]
                if len(self._seen) >= self.most:
                    self._seen.pop(next(iter(self._seen)))
            seen = self._seen[key]
            while seen and now - seen[0] > self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return False
            seen.append(now)
            return True


def client_key(host: str) -> str:
    """An IPv6 client is its /64: one machine holds millions of addresses."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else host


class Web:
    """The handlers, over one site, its store, its secret and its mail transport."""

    def __init__(
        self, site: Site, store: Store, secret: bytes, transport: Transport, clock: Clock
    ) -> None:
        self.site, self.store, self.secret = site, store, secret
        self.transport, self.clock = transport, clock
        self.book = SubscriberList(store)
        self.limit = WindowLimit(SUBSCRIBES_PER_HOUR, 3600)  # per client
        self.asked = WindowLimit(1, CONFIRM_EVERY)  # per address: no mail-bombing a stranger
        parts = urlsplit(site.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"

    def page(self, heading: str, message: str, status: int = 200, **form: object) -> Response:
        body = render_page("action.html", self.site, heading=heading, message=message, **form)
        return HTMLResponse(body, status_code=status)

    def _same_origin(self, request: Request) -> bool:
        """A browser says where a form came from; a cross-site post is refused. (A client
        that sends neither header is no browser, and so no victim of CSRF.)"""
        fetched_from = request.headers.get("sec-fetch-site")
        if fetched_from not in (None, "same-origin"):
            return False
        origin = request.headers.get("origin")
        return origin is None or origin == self.origin

    def _csrf(self, token: str) -> str:
        return hmac.new(self.secret, f"csrf|{token}".encode(), hashlib.sha256).hexdigest()

    def _refused(self) -> Response:
        return self.page("Not allowed", "This form can only be sent from this site.", 403)

    async def _small_form(self, request: Request) -> FormData | None:
        """The form, if it is a small one: a few short fields and no files."""
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return None
        try:
            return await request.form(max_files=0, max_fields=8, max_part_size=4096)
        except HTTPException:  # malformed, too many fields, a file
            return None
        except ClientDisconnect:  # gone, or closed by the server for sending too slowly
            return None

    async def subscribe(self, request: Request) -> Response:
        if not self._same_origin(request):
            return self._refused()
        client = client_key(request.client.host if request.client else "unknown")
        if not self.limit.allow(client):
            return self.page("Too many requests", "Please try again in an hour.", 429)
        form = await self._small_form(request)
        if form is None:
            return self.page("Check the form", "That form is not one of ours.", 400)
        address, name = str(form.get("email", "")), str(form.get("name", ""))
        try:
            await run_in_threadpool(self._ask_to_confirm, address, name)
        except AddressError as exc:
            return self.page("Check the address", str(exc), 400)
        except (Rejected, Unreachable) as exc:  # said in the log only: an answer of its own
            _LOG.warning("confirmation not sent: %s", exc)  # would tell who is subscribed
        # The same answer whether the address is new, pending or already subscribed.
        return self.page(
            "Check your inbox",
            "If this address can be subscribed, a message with a confirmation link is on its"
            " way. Nothing is sent until you confirm.",
        )

    def _ask_to_confirm(self, address: str, name: str) -> None:
        self.book.add(address, name, Status.PENDING, rename=False)  # nor a status
        subscriber = self.book.find(address)
        if subscriber is None or subscriber.status is Status.ACTIVE:
            return  # already subscribed: no email, and the same answer
        if not self.asked.allow(subscriber.address.lower()):
            return  # one confirmation per address every CONFIRM_EVERY seconds
        envelope = confirmation(self.site, self.secret, subscriber, self.clock())
        connection = self.transport.connect()
        try:
            connection.send(envelope)
        finally:
            connection.close()

    def _read(self, request: Request, purpose: Purpose, max_age: int | None = None) -> TokenHolder:
        """Whom the link's token was made for: an opaque token (by the subscriber's id) or
        one of the old format (naming its address), both signed."""
        token = request.query_params.get("token", "")
        now = int(self.clock().timestamp())
        return read_token(self.secret, token, purpose, self.book.address_of, max_age, now)

    async def confirm(self, request: Request) -> Response:
        try:
            holder = await run_in_threadpool(self._read, request, Purpose.CONFIRM, CONFIRM_MAX_AGE)
        except TokenError as exc:
            return self.page("This link does not work", str(exc), 400)
        token, address = request.query_params["token"], holder.address
        if request.method == "GET":
            return self.page(
                "Confirm your subscription",
                f"Press the button to receive the weekly email at {address}.",
                action=f"{self.site.base_url}confirm?token={token}",
                fields=[("csrf", self._csrf(token))],
                button="Confirm",
            )
        form = await self._small_form(request) if self._same_origin(request) else None
        given = str(form.get("csrf", "")) if form is not None else ""
        if not hmac.compare_digest(given, self._csrf(token)):
            return self._refused()
        asked_at = datetime.fromtimestamp(holder.issued, UTC)
        if not await run_in_threadpool(self.book.confirm, address, asked_at):
            return self.page(
                "This link does not work",
                "The address was removed or unsubscribed after this link was sent:"
                " subscribe again for a new one.",
                400,
            )
        return self.page("Subscribed", f"The weekly email will come to {address}.")

    async def unsubscribe(self, request: Request) -> Response:
        try:
            address = (await run_in_threadpool(self._read, request, Purpose.UNSUBSCRIBE)).address
        except TokenError as exc:
            return self.page("This link does not work", str(exc), 400)
        if request.method == "GET":
            return self.page(
                "Unsubscribe",
                f"Press the button and no more digests will be sent to {address}.",
                action=f"{self.site.base_url}unsubscribe?token={request.query_params['token']}",
                fields=[("List-Unsubscribe", "One-Click")],
                button="Unsubscribe",
            )
        # RFC 8058: a POST to the link is the whole request; the signed token is the
        # authority, so it needs no cookie, no login and no form token, and may repeat.
        # Its body (List-Unsubscribe=One-Click, in any encoding) is not even read.
        await run_in_threadpool(self.book.set_status, address, Status.UNSUBSCRIBED)
        return self.page("Unsubscribed", f"No more digests will be sent to {address}.")


class SecurityHeaders:
    """Every response, files included: no script, no framing, no sniffing, no Referer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    site: Site, store: Store, secret: bytes, transport: Transport, clock: Clock
) -> Starlette:
    web = Web(site, store, secret, transport, clock)
    return Starlette(
        routes=[
            Route("/subscribe", web.subscribe, methods=["POST"]),
            Route("/confirm", web.confirm, methods=["GET", "POST"]),
            Route("/unsubscribe", web.unsubscribe, methods=["GET", "POST"]),
            Mount("/", PublicFiles(directory=site.public_dir, html=True, check_dir=False)),
        ],
        middleware=[Middleware(SecurityHeaders)],
    )
