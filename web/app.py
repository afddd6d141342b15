"""The part of postroom a person sees in a browser: public/ over HTTP, and its forms.

    GET  /...                  public/ (feeds with their own types, ETag, 304)
    POST /subscribe            double opt-in: a confirmation email, the same answer for all
    GET  /confirm?token=       a page with a button (mail scanners follow GET links)
    POST /confirm?token=       the subscription is active; a welcome email, once
    GET  /unsubscribe?token=   a page with a button; GET never changes anything
    POST /unsubscribe?token=   unsubscribed (RFC 8058 one-click too: no cookie, no login)
    GET  /preferences?token=   a reader's choices: topics, sources, how often, a pause
    POST /preferences?token=   saved (or, by its own button, unsubscribed)
    GET  /proof/ACTION?token=  a page with a button: hold, skip or send now the issue of a
    POST /proof/ACTION?token=  proof the curator was sent (emails.proof)

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
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from postroom.core.clock import Clock
from postroom.core.config import Site
from postroom.core.model import Cadence
from postroom.core.selection import MOST_CHOICES, Selection, cadence_of
from postroom.core.slug import name_slug
from postroom.emails.confirm import CONFIRM_MAX_AGE, confirmation
from postroom.emails.proof import (
    PROOF_LINK_SECONDS,
    ProofAction,
    answer,
    describe,
    proof_binding,
    proof_target,
)
from postroom.emails.tokens import AddressOf, Purpose, TokenError, TokenHolder, read_token
from postroom.emails.transports import Rejected, Transport, Unreachable
from postroom.emails.welcome import welcome
from postroom.feeds.credit import day
from postroom.feeds.offered import NOTHING, Offered, offered
from postroom.feeds.pages import render_page
from postroom.store import Store
from postroom.store.consent import Consent, How, keep_wording
from postroom.store.subscribers import (
    AddressError,
    Choice,
    Status,
    Subscriber,
    SubscriberList,
    Suppressed,
)
from postroom.store.tagging import tags_and_sources
from postroom.store.welcomes import claim_welcome, release_welcome
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
    "feed.xsl": "text/xsl; charset=utf-8",
}
# archive pages (feeds.history): archive/atom-<n>.xml, archive/rss-<n>.xml
_ARCHIVE = re.compile(r"archive/(atom|rss)-\d+\.xml")
_FEED_TYPES = ("application/atom+xml", "application/rss+xml")
# A browser is sent an Atom or RSS feed as plain XML: only then does it apply the feed's
# stylesheet (feed.xsl) and show a page saying how to subscribe; under the feed types it
# shows the raw text. Feed readers ask for the feed types (or anything) and get them.
_BROWSER_XML = "application/xml; charset=utf-8"
# Chromium loads an XSLT stylesheet under script-src: a feed may use the site's own
_FEED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'"
)
_REWRITTEN = (".html", ".xml", ".json")  # what can link to the site: pages and feeds
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
#: the subscribe form's fields: an address, a name, and a box per topic offered (at most
#: MOST_CHOICES, when the curator names them), with room for a stray field or two
SUBSCRIBE_FIELDS = 8 + MOST_CHOICES
#: a preferences form is bigger: a box per topic and source offered or already chosen
PREFERENCES_FORM_BYTES = 65_536
PREFERENCES_PER_HOUR = 60  # saves per client: a reader trying things, never a flood
PAUSE_WEEKS = (1, 2, 3, 4, 6, 8, 12)
#: the consent form's words: a template of their own, shown by the index's form and
#: hashed here into each sign-up's consent record, so the hash is of what was shown
CONSENT_TEMPLATE = "consent.html"
_CADENCE_LABELS = {
    Cadence.WEEKLY: "Weekly: every new post, once a week",
    Cadence.MONTHLY: "Monthly: everything since your last digest, once a month",
    Cadence.OFF: "Off: no digests for now (you stay subscribed and can turn them on here)",
}
_NOT_ACTIVE = {
    Status.PENDING: "is not confirmed yet: press the link in the confirmation email first",
    Status.UNSUBSCRIBED: "is unsubscribed, so no digests are sent to it",
    Status.BOUNCED: "stopped accepting our mail, so no digests are sent to it",
    Status.COMPLAINED: "reported a digest as spam, so no digests are sent to it",
}
_LOG = logging.getLogger("postroom.web")


@dataclass(frozen=True)
class Rewrite:
    """A preview of a site not yet published under a real name (`serve` at an address that
    is not its local base_url): every link to `published` in the pages and feeds is served
    as a link to `served`, as `hugo server` does. public/ itself is never changed."""

    published: str
    served: str


def prefers_html(accept: str) -> bool:
    """Whether an Accept header asks for a page more than for a feed: a browser
    (`text/html,…,application/xml;q=0.9`) does; a feed reader that also takes HTML at a
    lower weight (`application/atom+xml, text/html;q=0.7`) or not at all does not."""
    weights: dict[str, float] = {}  # media range -> its greatest q
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[media.lower()] = max(weight, weights.get(media.lower(), 0.0))
    html = weights.get("text/html", 0.0)
    # a feed type is also asked for by its wildcards: `*/*;q=1, text/html;q=0.1` is a
    # client that takes anything, HTML least
    feed = max(weights.get(t, 0.0) for t in (*_FEED_TYPES, "application/*", "*/*"))
    return html > 0 and html > feed


class PublicFiles(StaticFiles):
    """public/ as it is, with the feeds' own media types and no dot files; Starlette
    answers conditional GETs (ETag, Last-Modified) with 304 and no body. Before the first
    build, every path gets `unbuilt()`'s page instead of Starlette's error."""

    def __init__(
        self, *, directory: Path, unbuilt: Callable[[], Response], rewrite: Rewrite | None
    ) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.unbuilt = unbuilt
        self.rewrite = rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not os.path.isdir(self.directory or ""):
            await self.unbuilt()(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200):
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        name = os.path.basename(full_path)
        kind = _TYPES.get(name)
        where = os.path.relpath(full_path, self.directory or ".").replace(os.sep, "/")
        if found := _ARCHIVE.fullmatch(where):
            kind = _TYPES[f"{found.group(1)}.xml"]
        browser = False
        if kind and name.endswith(".xml"):
            if browser := prefers_html(Headers(scope=scope).get("accept", "")):
                kind = _BROWSER_XML
            response.headers["vary"] = "Accept"
            response.headers["content-security-policy"] = _FEED_CSP
        if kind:
            response.headers["content-type"] = kind
        response.headers["cache-control"] = "no-cache"  # always revalidate: a 304 is cheap
        if int(stat_result.st_mtime) >= int(time.time()):  # written this very second: its
            del response.headers["last-modified"]  # date could not tell the next write apart
        if self.rewrite and str(full_path).endswith(_REWRITTEN):
            response = self._rewritten(full_path, response)
        if browser:  # another representation of the same bytes: an ETag of its own
            response.headers["etag"] = response.headers["etag"].rstrip('"') + '-xml"'
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            unchanged = NotModifiedResponse(response.headers)
            if policy := response.headers.get("content-security-policy"):
                # a cache takes a 304's headers over the stored ones: the feed's own policy,
                # or the revalidated feed could no longer load its stylesheet
                unchanged.headers["content-security-policy"] = policy
            return unchanged
        return response

    def _rewritten(self, full_path: str, response: Response) -> Response:
        """The file with the preview's links; its ETag is of these bytes, not the file's.
        A local base_url is plain ASCII with nothing to escape, so it reads the same in
        HTML, XML and JSON, and a byte replace finds every link."""
        assert self.rewrite is not None
        published, served = self.rewrite.published.encode(), self.rewrite.served.encode()
        data = Path(full_path).read_bytes().replace(published, served)
        headers = MutableHeaders(raw=list(response.raw_headers))
        del headers["content-length"]
        headers["etag"] = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
        return Response(data, status_code=response.status_code, headers=dict(headers))

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
        self.saves = WindowLimit(PREFERENCES_PER_HOUR, 3600)  # per client
        self.asked = WindowLimit(1, CONFIRM_EVERY)  # per address: no mail-bombing a stranger
        parts = urlsplit(site.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"

    def page(self, heading: str, message: str, status: int = 200, **form: object) -> Response:
        body = render_page("action.html", self.site, heading=heading, message=message, **form)
        return HTMLResponse(body, status_code=status)

    def unbuilt(self) -> Response:
        """What every page says before the first build has written public/ (503: a build
        will bring it; the folder's path is not a visitor's business)."""
        return self.page(
            "Nothing published yet",
            "This site has not been built yet. Run `postroom run --once` (or keep"
            " `postroom run` going) for this site, then reload this page.",
            503,
        )

    def _same_origin(self, request: Request) -> bool:
        """A browser says where a form came from; a cross-site post is refused. (A client
        that sends neither header is no browser, and so no victim of CSRF.)"""
        fetched_from = request.headers.get("sec-fetch-site")
        if fetched_from not in (None, "same-origin"):
            return False
        origin = request.headers.get("origin")
        return origin is None or origin == self.origin

    def _from_this_site(self, request: Request) -> bool:
        """A browser says it posts from this site's own page (a mail client says nothing)."""
        return (
            request.headers.get("sec-fetch-site") == "same-origin"
            or request.headers.get("origin") == self.origin
        )

    def _csrf(self, token: str) -> str:
        return hmac.new(self.secret, f"csrf|{token}".encode(), hashlib.sha256).hexdigest()

    def _refused(self) -> Response:
        return self.page("Not allowed", "This form can only be sent from this site.", 403)

    async def _small_form(
        self, request: Request, max_fields: int = 8, max_bytes: int = MAX_FORM_BYTES
    ) -> FormData | None:
        """The form, if it is a small one: at most `max_fields` short fields and no files."""
        if int(request.headers.get("content-length") or 0) > max_bytes:
            return None
        try:
            return await request.form(max_files=0, max_fields=max_fields, max_part_size=4096)
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
        form = await self._small_form(request, SUBSCRIBE_FIELDS)
        if form is None:
            return self.page("Check the form", "That form is not one of ours.", 400)
        address, name = str(form.get("email", "")), str(form.get("name", ""))
        topics = [str(t) for t in form.getlist("topics")]
        try:
            await run_in_threadpool(self._ask_to_confirm, address, name, topics)
        except AddressError as exc:
            return self.page("Check the address", str(exc), 400)
        except ValueError as exc:  # more topics than anyone may choose (core.selection)
            return self.page("Check the form", str(exc), 400)
        except (Rejected, Unreachable) as exc:  # said in the log only: an answer of its own
            _LOG.warning("confirmation not sent: %s", exc)  # would tell who is subscribed
        # The same answer whether the address is new, pending or already subscribed.
        return self.page(
            "Check your inbox",
            "If this address can be subscribed, a message with a confirmation link is on its"
            " way. Nothing is sent until you confirm.",
        )

    def offer(self, chosen: Selection = NOTHING) -> Offered:
        """The topics and sources the forms offer now (feeds.offered, as the build's)."""
        return offered(self.site, tags_and_sources(self.store), chosen)

    def _subscribe_topics(self, topics: list[str]) -> Selection:
        """The topics ticked that the site has (a tag of a post, or one `digest.topics`
        names): the page's boxes were counted over the posts of its build, which a later
        post may have reordered near the last place; a stranger's made-up topic is
        dropped."""
        names = {*self.site.config.digest.topics}
        names |= {tag for tags, _ in tags_and_sources(self.store) for tag in tags}
        known = {name_slug(name) for name in names if name.strip()}  # each spelling once
        return Selection.of([t for t in topics if t.strip() and name_slug(t) in known])

    def consent(self) -> Consent:
        """A sign-up by the form: the hash of the words the form shows, which are kept
        (once) so the person's record can show what they agreed to."""
        wording = render_page(CONSENT_TEMPLATE, self.site).decode()
        return Consent(How.FORM, wording_sha256=keep_wording(self.store, wording))

    def _ask_to_confirm(self, address: str, name: str, topics: list[str]) -> None:
        choice = Choice(self._subscribe_topics(topics) if topics else NOTHING)
        try:  # nor a rename, nor a status, nor the choice of someone active here
            self.book.add(
                address,
                name,
                Status.PENDING,
                rename=False,
                consent=self.consent(),
                choice=choice,
                rejoin=True,
            )
        except Suppressed:  # it bounced or complained: nothing sent, and the same answer
            return
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
        self.book.asked_again(subscriber.address)  # kept while this link lives

    def _read(
        self,
        request: Request,
        purpose: Purpose,
        max_age: int | None = None,
        address_of: AddressOf | None = None,
    ) -> TokenHolder:
        """Whom the link's token was made for: an opaque token (by the subscriber's id,
        unless `address_of` reads its id otherwise) or one of the old format (naming its
        address), both signed."""
        token = request.query_params.get("token", "")
        now = int(self.clock().timestamp())
        found = address_of or self.book.address_of
        return read_token(self.secret, token, purpose, found, max_age, now)

    async def _button_link(
        self,
        request: Request,
        purpose: Purpose,
        path: str,
        ask: Callable[[TokenHolder], tuple[str, str, str]],
        act: Callable[[TokenHolder], Awaitable[Response]],
        *,
        max_age: int | None = None,
        address_of: AddressOf | None = None,
        fields: tuple[tuple[str, str], ...] = (),
        csrf: bool = False,
    ) -> Response:
        """A signed link from an email (`path?token=`, for `purpose`). GET opens a page
        with one button and never changes anything (mail scanners follow every GET
        link); only the button's POST acts. `ask(holder)` gives the page's heading,
        message and button (none: nothing to press); `act(holder)` does it and
        answers (the holder: whom the token names, and when it was made). With
        `csrf`, the POST must come from this site's page: its origin, and the HMAC of
        its link the page carried; otherwise the page's form holds `fields`."""
        try:
            holder = await run_in_threadpool(self._read, request, purpose, max_age, address_of)
        except TokenError as exc:
            return self.page("This link does not work", str(exc), 400)
        token = request.query_params["token"]
        if request.method == "GET":
            heading, message, button = await run_in_threadpool(ask, holder)
            if not button:
                return self.page(heading, message)
            return self.page(
                heading,
                message,
                action=f"{self.site.base_url}{path}?token={token}",
                fields=[("csrf", self._csrf(token))] if csrf else list(fields),
                button=button,
            )
        if csrf:
            form = await self._small_form(request) if self._same_origin(request) else None
            given = str(form.get("csrf", "")) if form is not None else ""
            if not hmac.compare_digest(given, self._csrf(token)):
                return self._refused()
        return await act(holder)

    async def confirm(self, request: Request) -> Response:
        async def act(holder: TokenHolder) -> Response:
            address, asked_at = holder.address, datetime.fromtimestamp(holder.issued, UTC)
            if not await run_in_threadpool(self.book.confirm, address, asked_at):
                return self.page(
                    "This link does not work",
                    "The address was removed or unsubscribed after this link was sent:"
                    " subscribe again for a new one.",
                    400,
                )
            await run_in_threadpool(self._welcome, address)
            return self.page(
                "Subscribed",
                f"The digest will come to {address}; the welcome email links your preferences.",
            )

        return await self._button_link(
            request,
            Purpose.CONFIRM,
            "confirm",
            lambda holder: (
                "Confirm your subscription",
                f"Press the button to receive the digest at {holder.address}.",
                "Confirm",
            ),
            act,
            max_age=CONFIRM_MAX_AGE,
            csrf=True,
        )

    def _welcome(self, address: str) -> None:
        """The welcome email, once per address however often the button is pressed. One
        that cannot be made or sent is logged and its claim given back, so the next press
        tries again; the subscription stands either way."""
        now = self.clock()
        subscriber = self.book.find(address)
        if subscriber is None or not claim_welcome(self.store, address, now):
            return
        try:
            envelope = welcome(self.site, self.secret, subscriber, now)
            connection = self.transport.connect()
            try:
                connection.send(envelope)
            finally:
                connection.close()
        except Exception as exc:  # a refusal, a server away, a broken template
            release_welcome(self.store, address)
            _LOG.warning("welcome not sent: %s", exc)

    async def unsubscribe(self, request: Request) -> Response:
        # RFC 8058: a POST to the link is the whole request; the signed token is the
        # authority, so it needs no cookie, no login and no form token, and may repeat.
        # Its body (List-Unsubscribe=One-Click, in any encoding) is not even read.
        async def act(holder: TokenHolder) -> Response:
            address = holder.address
            # the page's button (a browser on this site) or a mail client's one-click POST
            how = How.FORM if self._from_this_site(request) else How.EMAIL
            await run_in_threadpool(self.book.set_status, address, Status.UNSUBSCRIBED, how)
            return self.page("Unsubscribed", f"No more digests will be sent to {address}.")

        return await self._button_link(
            request,
            Purpose.UNSUBSCRIBE,
            "unsubscribe",
            lambda holder: (
                "Unsubscribe",
                f"Press the button and no more digests will be sent to {holder.address}.",
                "Unsubscribe",
            ),
            act,
            fields=(("List-Unsubscribe", "One-Click"),),
        )

    async def preferences(self, request: Request) -> Response:
        """A reader's own page, from the link in every digest: GET shows their choices in
        one form (and an unsubscribe button in another), POST saves them. The token does
        not expire, like an unsubscribe link's; it names the reader by id and is refused
        once they are removed or the id stands for another address. Both buttons' POSTs
        must come from this page, as the confirm button's must: its origin, and the HMAC
        of its link the page carried."""
        try:
            holder = await run_in_threadpool(self._read, request, Purpose.PREFERENCES)
        except TokenError as exc:
            return self.page("This link does not work", str(exc), 400)
        token = request.query_params["token"]
        reader = await run_in_threadpool(self.book.find, holder.address)
        if reader is None:  # removed between reading the token and now
            return self.page("This link does not work", "This address is not on the list.", 400)
        if request.method == "POST":
            if not self._same_origin(request):
                return self._refused()
            client = client_key(request.client.host if request.client else "unknown")
            if not self.saves.allow(client):
                return self.page("Too many requests", "Please try again in an hour.", 429)
        if reader.status is not Status.ACTIVE:
            return self.page(
                "Not subscribed",
                f"{reader.address} {_NOT_ACTIVE.get(reader.status, 'is not subscribed')}."
                + (
                    " The list will not take it back by the form: write to the sender."
                    if reader.status in (Status.BOUNCED, Status.COMPLAINED)
                    else " To get the digest again, subscribe with the form on the site's"
                    " front page."
                ),
                409 if request.method == "POST" else 200,
            )
        offer = await run_in_threadpool(self.offer, reader.selection)
        if request.method == "GET":
            return self._preferences_page(reader, offer, token)
        fields = 8 + len(offer.topics) + len(offer.sources)  # the boxes this page has
        form = await self._small_form(request, fields, PREFERENCES_FORM_BYTES)
        given = str(form.get("csrf", "")) if form is not None else ""
        if form is None or not hmac.compare_digest(given, self._csrf(token)):
            return self._refused()
        if form.get("do") == "unsubscribe":
            address = reader.address
            await run_in_threadpool(self.book.set_status, address, Status.UNSUBSCRIBED, How.FORM)
            return self.page("Unsubscribed", f"No more digests will be sent to {address}.")
        try:
            selection, cadence, paused_until = self._chosen(reader, offer, form)
        except ValueError as exc:
            return self.page("Check the form", str(exc), 400)
        await run_in_threadpool(
            self.book.set_preferences, reader.id, selection, cadence, paused_until, How.FORM
        )
        saved = await run_in_threadpool(self.book.find, reader.address)
        if saved is None:  # removed this very moment
            return self.page("This link does not work", "This address is not on the list.", 400)
        return self._preferences_page(saved, offer, token, saved=self._summary(saved, offer))

    def _chosen(
        self, reader: Subscriber, offer: Offered, form: FormData
    ) -> tuple[Selection, Cadence | None, str]:
        """(selection, cadence, paused_until) of a preferences form; ValueError for a value
        the form never offered. Boxes not offered are dropped, not refused: a topic the
        site stopped offering since the page was opened costs the reader nothing else."""
        topics = [str(t) for t in form.getlist("topics")]
        sources = [str(s) for s in form.getlist("sources")]
        selection = offer.accept(topics, sources)
        current = cadence_of(self.site.config.digest, reader.cadence)
        chosen = str(form.get("cadence") or current.value)
        if chosen not in {c.value for c in self._cadences(current)}:
            raise ValueError(f"{chosen[:40]!r} is not one of the choices of how often")
        cadence: Cadence | None = Cadence(chosen)
        if reader.cadence is None and cadence is current:
            cadence = None  # still the site's: they follow the site's default if it changes
        pause = str(form.get("pause") or "0")
        now = self.clock().astimezone(UTC)
        if pause == "keep":
            paused_until = reader.paused_until if self._paused(reader) else ""
        elif pause == "0":
            paused_until = ""
        elif pause.isdigit() and int(pause) in PAUSE_WEEKS:
            until = now + timedelta(weeks=int(pause))
            paused_until = until.isoformat(timespec="microseconds")
        else:
            raise ValueError(f"{pause[:40]!r} is not one of the pauses offered")
        return selection, cadence, paused_until

    def _cadences(self, current: Cadence) -> list[Cadence]:
        """Weekly and off; monthly when the site sends a monthly digest (a reader who chose
        it where none is sent gets the weekly, and `current` says so: core.selection)."""
        offered_monthly = bool(self.site.config.digest.monthly) or current is Cadence.MONTHLY
        return [c for c in Cadence if c is not Cadence.MONTHLY or offered_monthly]

    def _paused(self, reader: Subscriber) -> bool:
        now = self.clock().astimezone(UTC).isoformat(timespec="microseconds")
        return bool(reader.paused_until) and reader.paused_until > now

    def _until(self, reader: Subscriber) -> str:
        """The day a pause ends, in the site's timezone ("" when not paused)."""
        if not self._paused(reader):
            return ""
        return day(datetime.fromisoformat(reader.paused_until).astimezone(self.site.config.tz))

    def _preferences_page(
        self, reader: Subscriber, offer: Offered, token: str, saved: str = ""
    ) -> Response:
        current = cadence_of(self.site.config.digest, reader.cadence)
        until = self._until(reader)
        if until:
            pauses = [("keep", f"Stay paused until {until}", True)]
            pauses.append(("0", "End the pause: digests again from the next one", False))
        else:
            pauses = [("0", "No pause", True)]
        pauses += [(str(n), f"For {n} week{'s' * (n > 1)} from today", False) for n in PAUSE_WEEKS]
        body = render_page(
            "preferences.html",
            self.site,
            heading="Preferences saved" if saved else "Your digest preferences",
            saved=saved,
            address=reader.address,
            action=f"{self.site.base_url}preferences?token={token}",
            csrf=self._csrf(token),
            offer=offer,
            chosen=reader.selection,
            cadences=[(c.value, _CADENCE_LABELS[c], c is current) for c in self._cadences(current)],
            pauses=pauses,
            paused_until=until,
        )
        return HTMLResponse(body)

    def _summary(self, reader: Subscriber, offer: Offered) -> str:
        """What a reader's choices now are, in words."""
        names = {o.key: o.name for o in (*offer.topics, *offer.sources)}
        if reader.selection.everything:
            what = "Every post."
        else:
            topics = ", ".join(names.get(t, t) for t in reader.selection.topics)
            sources = ", ".join(names.get(s, s) for s in reader.selection.sources)
            what = " ".join(
                part
                for part in (topics and f"Topics: {topics}.", sources and f"Sources: {sources}.")
                if part
            )
        cadence = cadence_of(self.site.config.digest, reader.cadence)
        said = f"{what} How often: {cadence.value}."
        if until := self._until(reader):
            said += f" Paused until {until}."
        return said

    async def proof(self, request: Request) -> Response:
        """The curator's answer to a proof: hold, skip or send now (emails.proof)."""
        try:
            action = ProofAction(request.path_params["action"])
        except ValueError:
            raise HTTPException(status_code=404) from None

        def ask(holder: TokenHolder) -> tuple[str, str, str]:
            page = describe(self.site, self.store, action, *proof_target(holder))
            return page.heading, page.message, page.button

        async def act(holder: TokenHolder) -> Response:
            number, slot = proof_target(holder)
            page = await run_in_threadpool(
                answer, self.site, self.store, action, number, slot, self.clock()
            )
            return self.page(page.heading, page.message, page.status)

        return await self._button_link(
            request,
            action.purpose,
            f"proof/{action.value}",
            ask,
            act,
            max_age=PROOF_LINK_SECONDS,
            address_of=proof_binding,
            csrf=True,
        )


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


def served_at(site: Site, url: str) -> Site:
    """The site as a preview at `url` presents it: its pages' links, its form actions and
    the links it emails point there. Feed entry ids keep their authority (it is derived
    from base_url only for sites made before `site.id_authority`)."""
    config = site.config
    section = replace(config.site, base_url=url, id_authority=site.id_authority)
    return replace(site, config=replace(config, site=section))


def create_app(
    site: Site,
    store: Store,
    secret: bytes,
    transport: Transport,
    clock: Clock,
    preview: str | None = None,
) -> Starlette:
    """The web side of `site`; with `preview` (a URL), a preview served there instead of
    at site.base_url (see Rewrite)."""
    rewrite = Rewrite(site.base_url, preview) if preview and preview != site.base_url else None
    web = Web(served_at(site, preview) if rewrite else site, store, secret, transport, clock)
    public = PublicFiles(directory=site.public_dir, unbuilt=web.unbuilt, rewrite=rewrite)
    return Starlette(
        routes=[
            Route("/subscribe", web.subscribe, methods=["POST"]),
            Route("/confirm", web.confirm, methods=["GET", "POST"]),
            Route("/unsubscribe", web.unsubscribe, methods=["GET", "POST"]),
            Route("/preferences", web.preferences, methods=["GET", "POST"]),
            Route("/proof/{action}", web.proof, methods=["GET", "POST"]),
            Mount("/", public),
        ],
        middleware=[Middleware(SecurityHeaders)],
    )
