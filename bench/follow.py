"""Following feeds: postroom's follow job against a bare httpx + feedparser loop.

    python bench/follow.py [--feeds 200] [--entries 20] [--profile]

Why: a curator may follow a couple of hundred sites; the question is what one poll of
all of them costs, and how much of that is postroom's own (validators, sanitizing,
writing each entry as a post and remembering it) rather than the HTTP and the parse
any reader of feeds pays.

What: a child process serves N RSS 2.0 feeds of M entries each on 127.0.0.1 (a
ThreadingHTTPServer speaking HTTP/1.1, so keep-alive is there for a client that keeps
its connection), /feed/<n>.xml, each entry with title, link (utm_* added), guid,
pubDate within the last 3 days, dc:creator, categories and a 1-2 KB HTML description;
each feed has an ETag and a request whose If-None-Match matches it gets a 304. The
server is its own process so its CPU is not counted against the client. A site with
one `[[follow]]` table per feed (`backfill_days = 7`, `fetch.allow_private`) is
polled in this process through `Follower.poll`, as the service's follow job does:
  poll 1  cold: N fetches, parse, N*M posts written into content/follow/
  poll 2  nothing changed, everything=True: N conditional GETs answered 304
  poll 3  10 feeds gained 2 entries each (new ETags), everything=True: 20 posts
The peer, measured in the same run against the same server: one httpx.Client, the
N URLs fetched one after the other; cold with no validators and `feedparser.parse`
(its defaults) of each body, then with If-None-Match (all 304). Wall time is
perf_counter, CPU is time.process_time of this process (all threads: the follow job
fetches 8 feeds at once); RSS is this process's resident set after the step and its
peak so far (ru_maxrss). The server counts the 200s and 304s of every step, and the
bench asserts them and the posts on disk, so the numbers are of work really done.
--profile polls a second site the same way under cProfile (every thread) and prints
where postroom's time goes. Prints numbers; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import os
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import WORDS  # noqa: E402  (the same vocabulary as the generated posts)

BUMPED = 10  # feeds that gain entries before poll 3
NEW_ENTRIES = 2  # entries each of them gains
RSS_TYPE = "application/rss+xml; charset=utf-8"
AUTHORS = ("Jane Doe", "Sam Okafor", "Priya Shah", "Tom Becker", "Ana Ruiz", "Lee Chen")
CATEGORIES = ("practice", "policy", "workforce", "children", "adults", "funding")


# the feeds, served by a child process


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _description(rng: random.Random, home: str, n: int, i: int) -> str:
    """An entry's HTML body, 1-2 KB: paragraphs with links and emphasis, sometimes a list
    or a figure, as a news site's full-content feed carries them."""
    parts = []
    for p in range(rng.randint(3, 4)):
        link = f'<a href="{home}news/{n}-{i}-ref-{p}">{_words(rng, 3)}</a>'
        sentence = _words(rng, rng.randint(14, 26)).capitalize()
        parts.append(
            f"<p>{sentence}, said <strong>{_words(rng, 2)}</strong>; {link} "
            f"<em>{_words(rng, 4)}</em> {_words(rng, 12)}.</p>"
        )
    if rng.random() < 0.4:
        parts.append("<ul>" + "".join(f"<li>{_words(rng, 6)}</li>" for _ in range(3)) + "</ul>")
    if rng.random() < 0.3:
        parts.append(
            f'<figure><img src="{home}img/{n}-{i}.jpg" alt="{_words(rng, 3)}" width="640">'
            f"<figcaption>{_words(rng, 6)}</figcaption></figure>"
        )
    return "".join(parts)


@dataclass(frozen=True)
class Entry:
    title: str
    link: str
    guid: str
    published: datetime
    author: str
    categories: tuple[str, ...]
    description: str


def _entry(n: int, i: int, published: datetime) -> Entry:
    rng = random.Random(n * 100_003 + i)
    home = f"https://site{n}.example.org/"
    title = f"{_words(rng, 1).capitalize()} {i} at site {n}: {_words(rng, rng.randint(4, 8))}"
    return Entry(
        title=title,
        link=f"{home}news/{published.year}/{i}-{'-'.join(title.split()[3:6])}"
        "?utm_source=rss&utm_medium=feed",
        guid=f"https://site{n}.example.org/?p={1000 + i}",
        published=published,
        author=rng.choice(AUTHORS),
        categories=tuple(rng.sample(CATEGORIES, 2)),
        description=_description(rng, home, n, i),
    )


def _rss(n: int, entries: list[Entry]) -> bytes:
    """Feed `n` as RSS 2.0, newest entry first."""
    items = []
    for e in entries:
        cats = "".join(f"<category>{c}</category>" for c in e.categories)
        items.append(
            f"<item><title>{html.escape(e.title)}</title><link>{html.escape(e.link)}</link>"
            f'<guid isPermaLink="false">{html.escape(e.guid)}</guid>'
            f"<pubDate>{format_datetime(e.published)}</pubDate>"
            f"<dc:creator>{html.escape(e.author)}</dc:creator>{cats}"
            f"<description>{html.escape(e.description)}</description></item>"
        )
    newest = max(e.published for e in entries)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Bench Weekly {n}</title><link>https://site{n}.example.org/</link>"
        f"<description>News from site {n}</description><language>en-gb</language>"
        f"<lastBuildDate>{format_datetime(newest)}</lastBuildDate>"
        + "".join(items)
        + "</channel></rss>\n"
    ).encode()


class Feeds:
    """The served feeds: body and ETag by path; a feed bumped gets entries and a new tag."""

    def __init__(self, count: int, entries: int, now: datetime) -> None:
        self.lock = threading.Lock()
        self.now, self.entries = now, entries
        self.items: dict[int, list[Entry]] = {}
        self.served: dict[str, tuple[bytes, str]] = {}
        self.counts: dict[int, int] = {}
        spacing = timedelta(days=3) / (entries + 1)
        for n in range(count):
            # newest first, all within the last 3 days; each feed a little apart
            self.items[n] = [
                _entry(n, i, now - (entries - i) * spacing - timedelta(seconds=n))
                for i in reversed(range(entries))
            ]
            self._render(n, 1)

    def _render(self, n: int, version: int) -> None:
        self.served[f"/feed/{n}.xml"] = (_rss(n, self.items[n]), f'"f{n}-v{version}"')

    def bump(self, feeds: list[int], extra: int) -> None:
        with self.lock:
            for n in feeds:
                at = len(self.items[n])
                fresh = [_entry(n, at + k, self.now + timedelta(minutes=k)) for k in range(extra)]
                self.items[n] = fresh[::-1] + self.items[n]
                version = int(self.served[f"/feed/{n}.xml"][1].split("-v")[1].strip('"'))
                self._render(n, version + 1)

    def answer(self, path: str, etag: str | None) -> tuple[int, bytes, str]:
        with self.lock:
            found = self.served.get(path)
            if found is None:
                status, body, tag = 404, b"not here", ""
            elif etag and found[1] in (t.strip() for t in etag.split(",")):
                status, body, tag = 304, b"", found[1]
            else:
                status, (body, tag) = 200, found
            self.counts[status] = self.counts.get(status, 0) + 1
        return status, body, tag

    def take_counts(self) -> dict[int, int]:
        with self.lock:
            counts, self.counts = self.counts, {}
        return counts


def _handler(feeds: Feeds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, for a client that keeps its connection
        # headers and body go out as two writes: with Nagle on, a kept-alive connection
        # waits out the client's delayed ACK (40 ms) before the body, as no real server does
        disable_nagle_algorithm = True

        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            status, body, tag = feeds.answer(self.path, self.headers.get("If-None-Match"))
            self.send_response(status)
            if status == 200:
                self.send_header("Content-Type", RSS_TYPE)
            elif status == 404:
                self.send_header("Content-Type", "text/plain")
            if tag:
                self.send_header("ETag", tag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(count: int, entries: int, now: datetime) -> None:
    """The child: serves the feeds; reads commands on stdin, answers one line each."""
    feeds = Feeds(count, entries, now)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(feeds))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    size = sum(len(body) for body, _tag in feeds.served.values())
    print(f"port {httpd.server_address[1]} bytes {size}", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "bump":
            feeds.bump([int(a) for a in args[1:]], int(args[0]))
            print("ok", flush=True)
        elif command == "counts":
            counts = feeds.take_counts()
            print(" ".join(f"{k}:{v}" for k, v in sorted(counts.items())) or "-", flush=True)
        else:
            break
    httpd.shutdown()


class Server:
    """The feed server as seen from the bench: its URLs, and the commands it takes."""

    def __init__(self, count: int, entries: int, now: datetime) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--feeds",
                str(count),
                "--entries",
                str(entries),
                "--now",
                now.isoformat(),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self._line().split()
        self.base = f"http://127.0.0.1:{first[1]}"
        self.bytes = int(first[3])
        self.urls = [f"{self.base}/feed/{n}.xml" for n in range(count)]

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"the feed server stopped ({self.proc.wait()})")
        return line.strip()

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line()

    def counts(self) -> dict[int, int]:
        """The statuses answered since last asked."""
        said = self._ask("counts")
        return (
            {} if said == "-" else {int(k): int(v) for k, v in (p.split(":") for p in said.split())}
        )

    def bump(self, feeds: list[int], extra: int) -> None:
        self._ask(f"bump {extra} " + " ".join(map(str, feeds)))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# measuring


@dataclass(frozen=True)
class Step:
    label: str
    wall: float
    cpu: float
    feeds: int
    posts: int
    answers: dict[int, int]
    rss_mb: float
    peak_mb: float


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(label: str, server: Server, work: Callable[[], int], feeds: int) -> Step:
    """Run `work` (which returns the posts it made); its costs and the server's answers."""
    server.counts()  # whatever came before is not this step's
    wall, cpu = time.perf_counter(), time.process_time()
    posts = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Step(label, wall, cpu, feeds, posts, server.counts(), _rss_mb(), peak)


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def expect(self, what: str, got: object, want: object) -> None:
        if got != want:
            self.failed.append(f"{what}: got {got}, want {want}")


# postroom


def make_site(root: Path, urls: list[str]) -> Any:
    from postroom.core.config import open_site

    tables = "".join(f'[[follow]]\nurl = "{u}"\nbackfill_days = 7\n' for u in urls)
    (root / "content").mkdir(parents=True)
    (root / "postroom.toml").write_text(
        '[site]\nbase_url = "https://bench.example/"\n[fetch]\nallow_private = true\n' + tables
    )
    return open_site(root)


def posts_on_disk(site: Any) -> int:
    return sum(1 for _ in (site.content_dir / "follow").rglob("*.md"))


def poll(follower: Any, now: datetime, everything: bool, checks: Checks, step: str) -> int:
    reports = follower.poll(now, everything=everything)
    checks.expect(f"{step}: feeds reported", len(reports), len(follower.follows))
    errors = [r.error for r in reports if r.error]
    checks.expect(f"{step}: feed errors", errors[:3], [])
    return sum(len(r.written) for r in reports)


# the peer


def peer_cold(urls: list[str], entries: int, etags: dict[str, str], checks: Checks) -> int:
    import feedparser
    import httpx

    read = 0
    with httpx.Client(timeout=10.0, headers={"User-Agent": "bench-peer/1"}) as client:
        for url in urls:
            response = client.get(url)
            etags[url] = response.headers["etag"]
            parsed = feedparser.parse(response.content)
            read += len(parsed.entries)
    checks.expect("peer cold: entries parsed", read, len(urls) * entries)
    return 0


def peer_304(urls: list[str], etags: dict[str, str], checks: Checks) -> int:
    import httpx

    statuses = set()
    with httpx.Client(timeout=10.0, headers={"User-Agent": "bench-peer/1"}) as client:
        for url in urls:
            statuses.add(client.get(url, headers={"If-None-Match": etags[url]}).status_code)
    checks.expect("peer 304: statuses", statuses, {304})
    return 0


# the table


def _ms(seconds: float, per: int) -> str:
    return f"{1000 * seconds / per:7.2f}" if per else f"{'-':>7}"


def print_table(steps: list[Step], ratios: list[tuple[str, Step, Step]], server: Server) -> None:
    head = (
        f"{'step':<28} {'wall s':>7} {'cpu s':>7} {'ms/feed':>7} {'cpu/feed':>8} {'posts':>6}"
        f" {'posts/s':>8} {'200':>5} {'304':>5} {'rss MB':>7} {'peak MB':>7}"
    )
    print()
    print(head)
    print("-" * len(head))
    for s in steps:
        rate = f"{s.posts / s.wall:8.0f}" if s.posts else f"{'-':>8}"
        print(
            f"{s.label:<28} {s.wall:7.2f} {s.cpu:7.2f} {_ms(s.wall, s.feeds)}"
            f" {_ms(s.cpu, s.feeds):>8} {s.posts:>6} {rate}"
            f" {s.answers.get(200, 0):>5} {s.answers.get(304, 0):>5}"
            f" {s.rss_mb:7.0f} {s.peak_mb:7.0f}"
        )
    print()
    for label, ours, theirs in ratios:
        print(
            f"{label:<28} wall x{ours.wall / theirs.wall:5.2f}   cpu x{ours.cpu / theirs.cpu:5.2f}"
            "   (postroom / peer)"
        )
    print(
        f"\n{len(server.urls)} feeds, {server.bytes / 2**20:.1f} MB served cold;"
        " cpu: this process, every thread (the follow job fetches 8 at once, the peer one"
        " at a time);\nrss: resident after the step; peak: ru_maxrss so far."
    )


# profile


_STAGES = (  # (label, file suffix, function)
    ("Follower.poll", "service/follow.py", "poll"),
    ("  _try_fetch (pool threads)", "service/follow.py", "_try_fetch"),
    ("    httpx.Client transport", "httpx/_client.py", "_init_transport"),
    ("      create_ssl_context", "httpx/_config.py", "create_ssl_context"),
    ("  _poll_one", "service/follow.py", "_poll_one"),
    ("    read_feed", "content/sourcefeed.py", "read_feed"),
    ("      feedparser.parse", "feedparser/api.py", "parse"),
    ("      clean_html", "core/sanitize.py", "clean_html"),
    ("    _take_entries", "service/follow.py", "_take_entries"),
    ("      canonical", "content/links.py", "canonical"),
    ("      wanted", "service/follow.py", "wanted"),
    ("      FeedEntry.text", "content/sourcefeed.py", "text"),
    ("      _write_entry", "service/follow.py", "_write_entry"),
    ("        link_post", "content/links.py", "link_post"),
    ("        write_atomic", "feeds/writer.py", "write_atomic"),
    ("          fsync", "~", "<built-in method posix.fsync>"),
    ("        remember", "store/fetched.py", "remember"),
    ("      known_entries/links", "store/fetched.py", "known_"),
    ("    save_outcome", "store/fetched.py", "save_outcome"),
)


class ThreadProfile:
    """cProfile of the calling thread and of every pool thread's _try_fetch (cProfile
    sees one thread; each fetch runs under a profiler of its own thread's)."""

    def __init__(self, follower: Any) -> None:
        self.main = cProfile.Profile()
        self.local = threading.local()
        self.all: list[cProfile.Profile] = [self.main]
        self.lock = threading.Lock()
        original = follower._try_fetch

        def traced(target: Any) -> Any:
            prof = getattr(self.local, "prof", None)
            if prof is None:
                prof = self.local.prof = cProfile.Profile()
                with self.lock:
                    self.all.append(prof)
            return prof.runcall(original, target)

        follower._try_fetch = traced

    def run(self, work: Callable[[], Any]) -> Any:
        return self.main.runcall(work)

    def stats(self) -> pstats.Stats:
        stats = pstats.Stats(self.all[0])
        for prof in self.all[1:]:
            stats.add(prof)
        return stats


def _stage_table(stats: pstats.Stats, wall: float) -> None:
    print(f"{'stage':<30} {'calls':>7} {'cum s':>7} {'own s':>7}")
    for label, suffix, func in _STAGES:
        calls, tot, cum = 0, 0.0, 0.0
        for (path, _line, name), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            hit = name.startswith(func) if func.endswith("_") else name == func
            if hit and path.endswith(suffix):
                calls, tot, cum = calls + nc, tot + tt, cum + ct
        print(f"{label:<30} {calls:>7} {cum:7.2f} {tot:7.2f}")
    print(f"(wall {wall:.2f} s; cum of pool-thread stages adds up across 8 threads)")


def profile(root: Path, server: Server, now: datetime) -> None:
    import httpx
    from postroom.service.fetching import Fetcher
    from postroom.service.follow import Follower
    from postroom.store import Store

    httpx.Client().close()
    cpu = time.process_time()
    for _ in range(20):
        httpx.Client().close()
    each = (time.process_time() - cpu) / 20
    print(f"\nhttpx.Client() made and closed, alone: {1000 * each:.1f} ms cpu each")
    site = make_site(root, server.urls)
    store = Store(site.store_url)
    try:
        for label, at, everything in (
            ("poll 1 (cold)", now, False),
            ("poll 2 (all 304)", now + timedelta(hours=2), True),
        ):
            follower = Follower(Fetcher(site, store))
            tracer = ThreadProfile(follower)
            began = time.perf_counter()
            tracer.run(lambda f=follower, a=at, e=everything: f.poll(a, everything=e))
            took = time.perf_counter() - began
            print(f"\nprofile of {label}, cProfile in every thread:")
            stats = tracer.stats()
            _stage_table(stats, took)
            print("\ntop functions by own time:")
            stats.sort_stats("tottime").print_stats(14)
    finally:
        store.close()


# main


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--feeds", type=int, default=200)
    args.add_argument("--entries", type=int, default=20)
    args.add_argument("--profile", action="store_true", help="also profile polls 1 and 2")
    args.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args.add_argument("--now", help=argparse.SUPPRESS)
    opts = args.parse_args()
    if opts.serve:
        serve(opts.feeds, opts.entries, datetime.fromisoformat(opts.now))
        return 0
    if opts.feeds < BUMPED:
        sys.exit(f"--feeds must be at least {BUMPED}")

    import feedparser  # noqa: F401  (imports are not any step's cost)
    import httpx  # noqa: F401
    from postroom.service.fetching import Fetcher
    from postroom.service.follow import Follower
    from postroom.store import Store

    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    n, m = opts.feeds, opts.entries
    server = Server(n, m, now)
    checks = Checks()
    steps: list[Step] = []
    etags: dict[str, str] = {}
    bumped = [k * (n // BUMPED) for k in range(BUMPED)]
    try:
        with tempfile.TemporaryDirectory(prefix="postroom-follow-") as tmp:
            site = make_site(Path(tmp) / "site", server.urls)
            store = Store(site.store_url)
            try:
                follower = Follower(Fetcher(site, store))
                print(f"{n} feeds of {m} entries on {server.base}; poll 1 ...", flush=True)
                first = measure(
                    "postroom poll 1 (cold)",
                    server,
                    lambda: poll(follower, now, False, checks, "poll 1"),
                    n,
                )
                checks.expect("poll 1: posts written", first.posts, n * m)
                checks.expect("poll 1: posts on disk", posts_on_disk(site), n * m)
                checks.expect("poll 1: answers", first.answers, {200: n})
                cold = measure(
                    "peer cold (get + parse)",
                    server,
                    lambda: peer_cold(server.urls, m, etags, checks),
                    n,
                )
                checks.expect("peer cold: answers", cold.answers, {200: n})
                second = measure(
                    "postroom poll 2 (304s)",
                    server,
                    lambda: poll(follower, now + timedelta(hours=2), True, checks, "poll 2"),
                    n,
                )
                checks.expect("poll 2: posts written", second.posts, 0)
                checks.expect("poll 2: posts on disk", posts_on_disk(site), n * m)
                checks.expect("poll 2: answers", second.answers, {304: n})
                again = measure(
                    "peer 304 (If-None-Match)",
                    server,
                    lambda: peer_304(server.urls, etags, checks),
                    n,
                )
                checks.expect("peer 304: answers", again.answers, {304: n})
                server.bump(bumped, NEW_ENTRIES)
                third = measure(
                    f"postroom poll 3 ({BUMPED} changed)",
                    server,
                    lambda: poll(follower, now + timedelta(hours=4), True, checks, "poll 3"),
                    n,
                )
                new = BUMPED * NEW_ENTRIES
                checks.expect("poll 3: posts written", third.posts, new)
                checks.expect("poll 3: posts on disk", posts_on_disk(site), n * m + new)
                want = {200: BUMPED, 304: n - BUMPED}
                checks.expect(
                    "poll 3: answers", third.answers, {k: v for k, v in want.items() if v}
                )
                steps = [first, cold, second, again, third]
            finally:
                store.close()
            print_table(
                steps,
                [("cold poll vs peer cold", first, cold), ("304 poll vs peer 304", second, again)],
                server,
            )
            if opts.profile:
                profile(Path(tmp) / "profiled", server, now)
    finally:
        server.close()
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    for failure in checks.failed:
        print(f"CHECK FAILED {failure}")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
