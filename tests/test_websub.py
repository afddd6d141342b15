"""WebSub: the feeds name the hub (rel="hub" beside rel="self"), and a build that changed
feeds tells the hub, against a real HTTP server on 127.0.0.1 playing the hub."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import feedparser
import pytest
from lxml import etree
from postroom.core.config import ConfigError
from postroom.feeds import build
from postroom.feeds.archive import render_archive
from postroom.service.command import Context
from postroom.service.jobs import Jobs
from postroom.service.status import status_json
from postroom.service.websub import ACTIVITY, Outcome, Pinger, changed_feeds, status
from postroom.store import Store
from postroom.store.activity import last
from service_support import Service, postroom
from support import make_post, make_site, read, write

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://notes.example.org/"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
POST = (
    "---\ntitle: Family hubs\ndate: 2021-07-23\nsource: Example Council Blog\n"
    "source_url: https://blog.example.org/hubs\ntags: [policy]\n---\nFamily hubs text.\n"
)
FAST = (0.01, 0.02, 0.04)  # retry delays for tests: the schedule, not its length, is tested


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    content_type: str
    form: dict[str, list[str]]
    at: float


class Hub:
    """A WebSub hub on 127.0.0.1: records every request and answers from `script` (status,
    headers) in turn, then `then` for ever after."""

    def __init__(
        self,
        script: list[tuple[int, dict[str, str]]] | None = None,
        then: int = 204,
        port: int = 0,
        latency: float = 0.0,
    ):
        self.script, self.then = list(script or []), then
        self.seen: list[Seen] = []
        self.body = "bad hub.url"  # what a 4xx says
        self.latency = latency
        self._changed = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                seen = Seen(
                    "POST",
                    self.path,
                    self.headers.get("Content-Type", ""),
                    parse_qs(raw, keep_blank_values=True),
                    time.monotonic(),
                )
                if hub.latency:  # a hub far away or busy: each answer takes this long
                    time.sleep(hub.latency)
                with hub._changed:  # before the answer: the pinger's outcome comes after
                    status, headers = hub.script.pop(0) if hub.script else (hub.then, {})
                    hub.seen.append(seen)
                body = hub.body.encode() if 400 <= status < 500 else b""
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/websub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hold(self, after: int) -> tuple[threading.Event, threading.Event]:
        """Answer the first `after` requests at once, then hold each answer until the
        returned `release` is set; `reached` is set when the first held request arrives."""
        reached, release = threading.Event(), threading.Event()
        answer = self.server.RequestHandlerClass.do_POST

        def held(handler: BaseHTTPRequestHandler) -> None:
            if len(self.seen) >= after:
                reached.set()
                release.wait(10)
            answer(handler)

        self.server.RequestHandlerClass.do_POST = held  # type: ignore[method-assign]
        return reached, release

    def urls(self) -> list[str]:
        return [url for s in self.seen for url in s.form["hub.url"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    hub = Hub()
    yield hub
    hub.close()


def hub_site(tmp_path, hub_url: str, files: dict[str, str] | None = None):
    config = f'[site]\nbase_url = "{BASE}"\nwebsub_hub = "{hub_url}"\n'
    return make_site(tmp_path, files, config=config)


@pytest.fixture
def store_for():
    stores: list[Store] = []

    def open_store(site) -> Store:
        stores.append(Store(site.store_url))
        return stores[-1]

    yield open_store
    for store in stores:
        store.close()


def records(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "event", "") == ACTIVITY]


# --- the feeds name the hub ---


def test_every_feed_names_the_hub_beside_itself(tmp_path):
    site = hub_site(tmp_path, "https://hub.example.net/")
    build(site, [make_post(1), make_post(2)])
    for folder in ("", "tags/policy/", "sources/community-care/"):
        atom = etree.fromstring(read(site, f"{folder}atom.xml"))
        links = {link.get("rel"): link for link in atom.iterfind(f"{ATOM}link")}
        assert links["self"].get("href") == f"{BASE}{folder}atom.xml"
        assert links["hub"].get("href") == "https://hub.example.net/"
        assert set(links["hub"].keys()) == {"href", "rel"}
        assert links["alternate"].get("href") == BASE

        channel = etree.fromstring(read(site, f"{folder}rss.xml")).find("channel")
        links = {link.get("rel"): link for link in channel.iterfind(f"{ATOM}link")}
        assert set(links) == {"self", "hub"}
        assert links["self"].get("href") == f"{BASE}{folder}rss.xml"
        assert links["hub"].get("href") == "https://hub.example.net/"
        assert channel.findtext("link") == BASE  # RSS's own link is still the home page

        document = json.loads(read(site, f"{folder}feed.json"))
        assert document["hubs"] == [{"type": "WebSub", "url": "https://hub.example.net/"}]
        assert list(document)[-2:] == ["hubs", "items"]

        for name in ("atom.xml", "rss.xml"):
            parsed = feedparser.parse(read(site, folder + name))
            assert not parsed.bozo, parsed.get("bozo_exception")
            rels = {link.rel: link.href for link in parsed.feed.links}
            assert rels["hub"] == "https://hub.example.net/"
            assert rels["self"] == f"{BASE}{folder}{name}"
            assert len(parsed.entries) == (2 if folder != "tags/policy/" else 1)


def test_the_digest_feed_names_the_hub(tmp_path):
    site = hub_site(tmp_path, "https://hub.example.net/")
    [(name, data)] = [f for f in render_archive(site, [])[0] if f[0].endswith(".xml")]
    assert name == "digests/atom.xml"
    links = {link.get("rel"): link.get("href") for link in etree.fromstring(data)}
    assert links["hub"] == "https://hub.example.net/"
    assert links["self"] == f"{BASE}digests/atom.xml"
    assert not feedparser.parse(data).bozo


def test_without_a_hub_no_feed_names_one(tmp_path):
    site = make_site(tmp_path)
    build(site, [make_post(1)])
    for name in ("atom.xml", "rss.xml", "feed.json", "digests/atom.xml"):
        assert b'rel="hub"' not in read(site, name) and b'"hubs"' not in read(site, name)


def test_only_subscribable_feeds_are_pinged(tmp_path):
    site = make_site(tmp_path)
    written = [
        "atom.xml",
        "feed.json",
        "tags/policy/rss.xml",
        "sources/x/atom.xml",
        "digests/atom.xml",
        "posts/p/index.html",
        "archive/atom-1.xml",
        "tags/policy/index.html",
    ]
    assert changed_feeds(site, written) == [
        f"{BASE}atom.xml",
        f"{BASE}digests/atom.xml",
        f"{BASE}feed.json",
        f"{BASE}sources/x/atom.xml",
        f"{BASE}tags/policy/rss.xml",
    ]


# --- the ping ---


def test_the_hub_gets_exactly_the_form(tmp_path, hub, store_for):
    site = hub_site(tmp_path, hub.url)
    pinger = Pinger(site, store_for(site), lambda: T0, delays=FAST)
    pinger.owe([f"{BASE}atom.xml"])
    assert pinger.settle(5)
    [seen] = hub.seen
    assert (seen.method, seen.path) == ("POST", "/websub")
    assert seen.content_type == "application/x-www-form-urlencoded"
    assert seen.form == {"hub.mode": ["publish"], "hub.url": [f"{BASE}atom.xml"]}


def test_a_build_pings_each_changed_feed_once_and_an_idle_rebuild_none(
    tmp_path, hub, store_for, caplog
):
    site = hub_site(tmp_path, hub.url, {"notes/hubs.md": POST})
    jobs = Jobs(Context(site, store_for(site), lambda: T0), None)
    with caplog.at_level(logging.INFO, logger="postroom"):
        jobs.scan()  # a first scan builds
        jobs.settle_pings(5)
    expected = [
        f"{BASE}{folder}{name}"
        for folder in ("", "sources/example-council-blog/", "tags/policy/")
        for name in ("atom.xml", "feed.json", "rss.xml")
    ]
    expected = sorted([*expected, f"{BASE}digests/atom.xml"])
    assert sorted(hub.urls()) == expected  # each once, one a request
    assert all(len(s.form["hub.url"]) == 1 for s in hub.seen)
    assert records(caplog) == [f"told {hub.url} of {len(expected)} feeds"]

    jobs._stale = True  # a rebuild with nothing new: every byte the same, nothing written
    assert jobs.refresh().written == ()
    jobs.settle_pings(5)
    assert len(hub.seen) == len(expected)

    write(site.content_dir / "notes/more.md", POST.replace("Family hubs", "Another"))
    jobs = Jobs(Context(site, jobs.store, lambda: T0), None)
    jobs.scan()
    jobs.settle_pings(5)
    again = hub.urls()[len(expected) :]
    assert sorted(again) == sorted(u for u in expected if "digests/" not in u)
    assert last(jobs.store, ACTIVITY).data["owed"] == []


def test_a_hub_answering_503_twice_then_204_is_asked_three_times(tmp_path, store_for, caplog):
    hub = Hub([(503, {}), (503, {"Retry-After": "0"})], then=204)
    try:
        site = hub_site(tmp_path, hub.url)
        pinger = Pinger(site, store_for(site), lambda: T0, delays=FAST)
        with caplog.at_level(logging.INFO, logger="postroom"):
            pinger.owe([f"{BASE}atom.xml"])
            assert pinger.settle(5)
        assert [s.form["hub.url"] for s in hub.seen] == [[f"{BASE}atom.xml"]] * 3
        first, second, third = (s.at for s in hub.seen)
        assert second - first >= FAST[0] and third - second >= FAST[1]  # backing off
        lines = records(caplog)
        assert lines[0].startswith(f"{hub.url} not told of 1 feed: 503 Service Unavailable")
        assert lines[-1] == f"told {hub.url} of 1 feed"
    finally:
        hub.close()


def test_retry_after_is_heeded_within_its_bound(tmp_path, store_for, caplog):
    """429 asking for 1 s: 1 s, not FAST's 0.01; 503 asking for an hour: the bound (1.2 s).
    The waits chosen are read from the log, the times the hub was asked only bound below:
    a loaded machine makes them longer, never shorter."""
    hub = Hub([(429, {"Retry-After": "1"}), (503, {"Retry-After": "3600"})], then=202)
    try:
        site = hub_site(tmp_path, hub.url)
        pinger = Pinger(site, store_for(site), lambda: T0, delays=FAST, longest=1.2)
        with caplog.at_level(logging.INFO, logger="postroom"):
            pinger.owe([f"{BASE}atom.xml"])
            assert pinger.settle(5)
        waits = [
            r.fields["retry_in"] for r in caplog.records if "retry_in" in getattr(r, "fields", {})
        ]
        assert waits == [1.0, 1.2]
        first, second, third = (s.at for s in hub.seen)
        assert second - first >= 0.95 and third - second >= 1.15
    finally:
        hub.close()


def test_refusals_are_one_line_a_round_and_asked_again_on_the_next_change(
    tmp_path, store_for, caplog
):
    """A hub answering 400 to every feed: one summary line for the round, not one per feed
    (thousands on a site with many tags); not tried again until the feed changes, then
    asked again."""
    hub = Hub(then=400)
    try:
        site = hub_site(tmp_path, hub.url)
        store = store_for(site)
        pinger = Pinger(site, store, lambda: T0, delays=FAST)
        feeds = [f"{BASE}tags/t{i:02}/atom.xml" for i in range(30)]
        with caplog.at_level(logging.INFO, logger="postroom"):
            pinger.owe(feeds)
            assert wait_until(lambda: len(hub.seen) == 30 and not pinger.owed())
            pinger.owe(feeds[:1])  # the first changed again: asked again
            assert pinger.settle(5)  # nothing owed: a refusal is not tried again
        assert hub.urls() == [*feeds, feeds[0]]
        warned = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert records(caplog) == [
            f"{hub.url} refused 30 feeds (e.g. {feeds[0]}: 400 Bad Request: bad hub.url);"
            " they are asked again when they next change",
            f"{hub.url} refused {feeds[0]}: 400 Bad Request: bad hub.url;"
            " it is asked again when it next changes",
        ]
        assert len(warned) == 2
        kept = last(store, ACTIVITY).data
        assert kept["owed"] == [] and kept["last"]["outcome"] == Outcome.REFUSED.value
        assert kept["last"]["feeds"] == 1 and kept["last"]["detail"].startswith("400 Bad")
    finally:
        hub.close()


def wait_until(condition, seconds: float = 10) -> bool:
    """Poll `condition` (a state another thread changes) until true or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_slow_hub_does_not_hold_the_build(tmp_path, store_for):
    """The hub holds its answer until released: the build returns meanwhile."""
    release = threading.Event()
    hub = Hub()
    handler = hub.server.RequestHandlerClass
    answer = handler.do_POST
    handler.do_POST = lambda self: (release.wait(10), answer(self))  # type: ignore[method-assign]
    try:
        site = hub_site(tmp_path, hub.url, {"notes/hubs.md": POST})
        jobs = Jobs(Context(site, store_for(site), lambda: T0), None)
        started = time.monotonic()
        jobs.scan()
        assert time.monotonic() - started < 5  # built and returned, the hub still silent
        assert hub.seen == []
        release.set()
        jobs.settle_pings(5)
        assert len(hub.seen) == 10
    finally:
        release.set()
        hub.close()


def test_a_hub_that_is_down_fails_nothing_and_the_next_run_tells_it(tmp_path):
    """`run --once` with the hub away: exit 0, a log line, the feeds left owed in the store;
    the next run, with nothing to rebuild, tells the hub (back on its port) of them."""
    port = free_port()
    away = f"http://127.0.0.1:{port}/websub"
    site = hub_site(tmp_path, away, {"notes/hubs.md": POST})
    done = postroom(site.root, "run", "--once", "--no-send")
    assert done.returncode == 0, done.stderr
    [line] = [x for x in done.stdout.splitlines() if "websub:" in x]
    assert f"WARNING websub: {away} not told of 10 feeds: " in line
    assert line.endswith("; trying again in 10 s")

    hub = Hub(port=port)
    try:
        done = postroom(site.root, "run", "--once", "--no-send")
        assert done.returncode == 0, done.stderr
        assert "0 files written" in done.stdout  # nothing rebuilt: the pings were owed
        assert f"websub: told {away} of 10 feeds" in done.stdout
        assert len(hub.urls()) == len(set(hub.urls())) == 10
        store = Store(site.store_url)
        try:  # what `status --json` says of it
            said = status_json(site, store, T0)["websub"]
        finally:
            store.close()
        assert said["hub"] == away and said["owed"] == 0 and said["last"]["outcome"] == "told"
    finally:
        hub.close()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_service_scans_on_while_the_hub_hangs_then_tells_it(tmp_path):
    """`postroom run`: the hub holds its first answer; the scan job still picks up and
    builds a second post meanwhile; once the hub answers, it is told of every feed, and
    the service stops on SIGTERM at once."""
    release, received, arrived = threading.Event(), threading.Event(), []
    hub = Hub()
    answer = hub.server.RequestHandlerClass.do_POST

    def held(handler: BaseHTTPRequestHandler) -> None:
        arrived.append(handler.path)
        received.set()
        release.wait(10)
        answer(handler)

    hub.server.RequestHandlerClass.do_POST = held  # type: ignore[method-assign]
    site = hub_site(tmp_path, hub.url, {"notes/hubs.md": POST})
    # written an hour ago: past the quiet period at the service's first scan, however
    # soon it starts, so that first build (the post's) is the one whose ping is held
    an_hour_ago = time.time() - 3600
    os.utime(site.content_dir / "notes/hubs.md", (an_hour_ago, an_hour_ago))
    try:
        with Service(site.root, "--no-send") as service:
            assert received.wait(30), str(service)
            write(site.content_dir / "notes/more.md", POST.replace("Family hubs", "Another"))
            service.wait_for(lambda e: e["event"] == "build" and e.get("written", 0) > 0, count=2)
            assert len(arrived) == 1 and not hub.seen  # still held: the build did not wait
            release.set()
            told = service.wait_for(lambda e: e["message"].startswith("told "), count=1)
            assert told[0]["hub"] == hub.url
            code, took = service.terminate()
            assert code == 0 and took < 5
        assert set(hub.urls()) == set(changed_feeds(site, (p for p in read_all(site))))
    finally:
        release.set()
        hub.close()


def read_all(site) -> list[str]:
    return [str(p.relative_to(site.public_dir)) for p in site.public_dir.rglob("*")]


def test_digest_send_tells_the_hub_of_the_issues_feed(tmp_path, hub):
    """`digest send` builds outside the service: the issue's feed it changed reaches the
    hub all the same, before the command exits."""
    site = hub_site(tmp_path, hub.url, {"notes/hubs.md": POST})
    assert postroom(site.root, "run", "--once", "--no-send").returncode == 0
    first = set(hub.urls())
    assert f"{BASE}digests/atom.xml" in first  # the first build wrote it (empty)
    added = postroom(site.root, "subscribers", "add", "reader@example.org")
    assert added.returncode == 0, added.stderr
    sent = postroom(site.root, "digest", "send")
    assert sent.returncode == 0, sent.stderr
    after = hub.urls()[len(first) :]
    assert f"{BASE}digests/atom.xml" in after  # now holding issue 1
    assert len(after) == len(set(after))


# --- progress kept between processes ---


def test_a_run_past_its_budget_keeps_its_progress_and_the_next_tells_the_rest(
    tmp_path, store_for, caplog
):
    """A hub answering in 50 ms and 30 feeds owed: `run --once`'s wait (1 s here) gets
    through some; what it told is recorded as told before it returns, the rest as owed
    with one log line, and the next process tells the rest, none of the first twice."""
    hub = Hub(latency=0.05)
    try:
        site = hub_site(tmp_path, hub.url)
        feeds = [f"{BASE}tags/t{i:02}/atom.xml" for i in range(30)]
        store = store_for(site)
        first = Pinger(site, store, lambda: T0, delays=FAST)
        with caplog.at_level(logging.INFO, logger="postroom"):
            first.owe(feeds)
            assert not first.settle(1.0)
        told = hub.urls()
        assert 3 <= len(told) < 30 and told == feeds[: len(told)]
        kept = last(store, ACTIVITY).data
        assert kept["owed"] == feeds[len(told) :]  # not one told is still owed
        rest = 30 - len(told)
        assert records(caplog) == [
            f"{hub.url} told of {len(told)} feeds, {rest} still owed: the next run tells it"
        ]
        said = status(store, hub.url)
        assert said["owed"] == rest and said["last"]["outcome"] == Outcome.TOLD.value
        assert said["last"]["feeds"] == len(told)

        later = Pinger(site, store_for(site), lambda: T0, delays=FAST)  # the next run
        later.owe([])  # its build changed nothing
        assert later.settle(10)
        assert hub.urls() == feeds  # each once, in order
        assert status(store, hub.url)["owed"] == 0
    finally:
        hub.close()


def test_a_request_in_flight_past_settle_writes_nothing_after_it(tmp_path, store_for):
    """The hub holds the 3rd answer past the wait: settle records (the 3rd still owed) and
    returns; when the answer comes, the round ends without writing over that record, so
    a process that exits, or a next run that has started, is not overwritten."""
    hub = Hub()
    third, release = hub.hold(after=2)
    try:
        site = hub_site(tmp_path, hub.url)
        store = store_for(site)
        feeds = [f"{BASE}tags/t{i}/atom.xml" for i in range(5)]
        pinger = Pinger(site, store, lambda: T0, delays=FAST)
        pinger.owe(feeds)
        assert third.wait(10)
        assert not pinger.settle(0.05)
        settled = last(store, ACTIVITY)
        assert settled.data["owed"] == feeds[2:]
        release.set()
        pinger._thread.join(10)
        assert not pinger._thread.is_alive()
        assert len(hub.seen) == 3  # no new request after settle
        assert last(store, ACTIVITY) == settled
    finally:
        release.set()
        hub.close()


def test_a_round_records_its_progress_as_it_goes(tmp_path, store_for):
    """A service stopped (or killed) in the middle of a long round loses only the last
    moment of it: what was told is recorded while the round goes on, not at its end."""
    hub = Hub()
    fourth, release = hub.hold(after=3)
    try:
        site = hub_site(tmp_path, hub.url)
        store = store_for(site)
        feeds = [f"{BASE}tags/t{i}/atom.xml" for i in range(6)]
        pinger = Pinger(site, store, lambda: T0, delays=FAST, record_every=0)
        pinger.owe(feeds)
        assert fourth.wait(10)  # three told, the fourth in flight
        assert last(store, ACTIVITY).data["owed"] == feeds[3:]
        release.set()
        assert pinger.settle(10)
    finally:
        release.set()
        hub.close()


def test_the_last_outcome_outlives_the_process(tmp_path, store_for):
    """`status --json`'s `last` is the last outcome known, not null again each time a new
    process owes the hub something and before its first answer."""
    hub = Hub()
    _, release = hub.hold(after=1)  # the first answers at once, the next waits
    try:
        site = hub_site(tmp_path, hub.url)
        first = Pinger(site, store_for(site), lambda: T0, delays=FAST)
        first.owe([f"{BASE}atom.xml"])
        assert first.settle(5)
        store = store_for(site)
        told = status(store, hub.url)["last"]
        assert told["outcome"] == Outcome.TOLD.value
        later = Pinger(site, store, lambda: T0, delays=FAST)  # the next process
        later.owe([f"{BASE}rss.xml"])  # recorded as owed, its ping held by the hub
        said = status(store, hub.url)
        assert said["owed"] == 1 and said["last"] == told
        release.set()
        assert later.settle(5)
    finally:
        release.set()
        hub.close()


def test_the_told_line_lists_a_few_feeds_not_thousands(tmp_path, store_for, caplog):
    """The JSON log's `feeds` field: the first few and the count, not one line of 5,000
    URLs that a log shipper splits or drops."""
    hub = Hub()
    try:
        site = hub_site(tmp_path, hub.url)
        feeds = [f"{BASE}tags/t{i:03}/atom.xml" for i in range(40)]
        pinger = Pinger(site, store_for(site), lambda: T0, delays=FAST)
        with caplog.at_level(logging.INFO, logger="postroom"):
            pinger.owe(feeds)
            assert pinger.settle(10)
        [told] = [r for r in caplog.records if getattr(r, "event", "") == ACTIVITY]
        assert told.getMessage() == f"told {hub.url} of 40 feeds"
        assert told.fields["feeds"] == feeds[:10] and told.fields["told"] == 40
    finally:
        hub.close()


@pytest.mark.parametrize(
    "hub_url",
    [
        "http://user:secretpw@127.0.0.1:9101/",
        "https://user@hub.example.net/",
        "https://:secretpw@hub.example.net/",
    ],
)
def test_a_hub_url_with_credentials_is_refused(tmp_path, hub_url):
    """Every feed shows the hub's address: a password in it would be published."""
    with pytest.raises(ConfigError) as caught:
        hub_site(tmp_path, hub_url)
    said = str(caught.value)
    assert "'site.websub_hub' must not carry a user name or password" in said
    assert "every feed shows the hub's address" in said
    assert "secretpw" not in said and "user@" not in said


@pytest.mark.parametrize("hub_url", ["http://127.0.0.1:9101/hub?x=1 ", "http://hüb.example/"])
def test_a_hub_url_a_feed_cannot_carry_as_it_is_is_refused(tmp_path, hub_url):
    """A trailing space or a non-ASCII host would go into every feed's href as it is."""
    with pytest.raises(ConfigError) as caught:
        hub_site(tmp_path, hub_url)
    assert "'site.websub_hub' must be the hub's http(s) URL, plain ASCII with no spaces" in str(
        caught.value
    )
