"""Pick-up latency of the service: file closed -> post in the feeds and on its page.

    python bench/pickup.py [--sizes 100 1000 10000] [--probes 5] [--poll-only-size 1000]
                           [--site DIR] [--markdown-only] [--probe-timeout 60] [--json]
                           [--gap 0.3]

For each size a site of generated posts (bench/ingest.py's generator) is
ingested cold with `run --once`, then `postroom run --log-format json` is
started; once it has built, new Markdown posts are written one at a time and
the time from close() until public/feed.json holds the title, and until the
post's page exists, is measured. The service's own "build" log lines give the
build's duration. One size is measured again with --poll-only. Where a size
misses the goal, publish() is profiled in-process on the same site.
--site DIR measures a site that is already built instead (its posts counted
under content/; bench/scale.py passes the site its build bench left, so 100,000
posts are not generated and ingested twice); --markdown-only generates every
post as Markdown; --gap S pauses a random 0.3..S s between probes (the worst case
comes from a probe whose event lands during the safety net's walk); --json prints
the table on stderr and the runs as JSON on stdout. Goal (the service issue): a
new post is in the feeds within 2 s of its file being closed; issue 19: 1.5 s at
10,000 and 100,000 posts. Prints numbers, asserts nothing; exits 1 if the service
did not stop cleanly.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for ingest.py

from ingest import generate  # the same generated posts; it puts the project on sys.path

ROOT = Path(__file__).resolve().parent.parent

GOAL = 2.0  # seconds from close() to the feeds
SECRET = "pickup-bench-secret-0123456789ab"  # 32 characters; signs nothing that leaves
BUILD_SECONDS = re.compile(r"\((\d+(?:\.\d+)?) s\)$")


@dataclass
class Probe:
    """One new post: when its file was closed and when each output showed it."""

    title: str
    post_id: str
    closed_wall: float
    closed: float  # monotonic
    feed: float | None = None  # seconds after close
    page: float | None = None
    scanned: float | None = None  # the scan log line naming it, seconds after close
    build: float | None = None  # the build's own duration, from its log line
    logged_id: str | None = None
    path: str = ""  # relative to content/


@dataclass
class Run:
    size: int
    mode: str
    cold: float | None  # run --once on the generated folder
    first_build: float | None  # the service's first (warm, full) build
    probes: list[Probe] = field(default_factory=list)
    exit_code: int | None = None


class ServiceLog:
    """Reads the service's JSON lines on a thread; events wait in a queue."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.events: queue.Queue[dict] = queue.Queue()
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))
            try:
                self.events.put(json.loads(line))
            except ValueError:
                continue

    def wait_for(self, name: str, timeout: float, done_only: bool = False) -> dict | None:
        """The next event called `name`, others dropped on the way; None on timeout.
        done_only: only a build's closing line (the one with its duration), not the
        progress lines a long build logs every few seconds under the same name."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if ev.get("event") == name and (not done_only or _build_seconds(ev) is not None):
                return ev
        return None

    def drain(self) -> list[dict]:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out


def _wall(ev: dict) -> float:
    return datetime.fromisoformat(ev["ts"]).timestamp()


def _build_seconds(ev: dict) -> float | None:
    m = BUILD_SECONDS.search(ev.get("message", ""))
    return float(m.group(1)) if m else None


def _env() -> dict[str, str]:
    env = dict(os.environ, POSTROOM_SECRET=SECRET, PYTHONUNBUFFERED="1")
    env.pop("POSTROOM_CLOCK_OFFSET", None)
    return env


def _postroom(site: Path, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "scheduler.py"), "--site", str(site), *args]


def make_site(root: Path, size: int, markdown_only: bool = False) -> float:
    """Generate `size` posts and ingest them cold; seconds `run --once` took."""
    (root / "postroom.toml").write_text('[site]\nbase_url = "https://bench.example/"\n')
    generate(root, size, markdown_only=markdown_only)
    began = time.perf_counter()
    done = subprocess.run(
        _postroom(root, "run", "--once", "--log-format", "json"),
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"run --once failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return took


def write_post(site: Path, n: int, tag: str) -> Probe:
    """A new Markdown post in one open/write/close; its expected id from the same rules."""
    from postroom.core.config import open_site
    from postroom.core.slug import slugify

    tz = open_site(site).config.tz
    today = datetime.now(tz).date().isoformat()
    stamp = time.time_ns() % 10**9
    title = f"Pickup probe {tag} {n} {stamp}"
    # a name of its own: a second run on the same --site writes new posts, not edits
    path = site / "content" / "pickup" / f"probe-{tag}-{n}-{stamp}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = (
        f'---\ntitle: "{title}"\ndate: {today}\nauthor: Bench Writer\n'
        "source: Community Care\ntags: [workforce]\n---\n"
        "A post written by bench/pickup.py to time the service.\n"
    )
    with open(path, "w", encoding="utf-8") as out:
        out.write(body)
    closed_wall, closed = time.time(), time.monotonic()
    relative = path.relative_to(site / "content").as_posix()
    return Probe(title, f"{today}-{slugify(title, 60)}", closed_wall, closed, path=relative)


def watch_outputs(public: Path, probe: Probe, timeout: float) -> None:
    """Polls public/ until the feed names the post and its page exists (or time is up)."""
    feed = public / "feed.json"
    needle = probe.title.encode()
    seen: tuple[int, int] | None = None
    while time.monotonic() - probe.closed < timeout:
        now = time.monotonic() - probe.closed
        if probe.feed is None:
            try:
                st = feed.stat()
                if (st.st_ino, st.st_mtime_ns) != seen:
                    seen = (st.st_ino, st.st_mtime_ns)
                    if needle in feed.read_bytes():
                        probe.feed = now
            except FileNotFoundError:
                pass
        if probe.page is None and (public / "posts" / probe.post_id / "index.html").exists():
            probe.page = now
        if probe.feed is not None and probe.page is not None:
            return
        time.sleep(0.005)


def read_log(log: ServiceLog, probe: Probe, timeout: float) -> None:
    """The scan line naming the probe and the build that followed it."""
    deadline = time.monotonic() + timeout
    while probe.build is None and (left := deadline - time.monotonic()) > 0:
        try:
            ev = log.events.get(timeout=left)
        except queue.Empty:
            return
        new = (ev.get("ids") or {}).get("new") or []
        if ev.get("event") == "scan" and new and probe.scanned is None:
            probe.scanned = _wall(ev) - probe.closed_wall
            probe.logged_id = new[0]
        elif ev.get("event") == "build" and probe.scanned is not None:
            probe.build = _build_seconds(ev)  # None for a progress line: read on


def serve(
    site: Path,
    size: int,
    cold: float | None,
    probes: int,
    poll_only: bool,
    timeout: float = 60,
    gap: float = 0.3,
) -> Run:
    args = ["run", "--log-format", "json"] + (["--poll-only"] if poll_only else [])
    proc = subprocess.Popen(
        _postroom(site, *args),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # tracebacks land among the lines, never fill a pipe
        text=True,
    )
    log = ServiceLog(proc)
    run = Run(size, "poll-only" if poll_only else "inotify", cold, None)
    try:
        first = log.wait_for("build", timeout=max(300, 5 * timeout), done_only=True)
        if first is None:
            print(f"  no first build from the service; its log:\n{chr(10).join(log.lines)}")
            return run
        run.first_build = _build_seconds(first)
        pauses = random.Random(19)  # the same pauses in every run: paired runs compare
        time.sleep(0.5)  # let the start-up scan job return
        log.drain()
        for n in range(probes):
            probe = write_post(site, n, run.mode)
            watch_outputs(site / "public", probe, timeout=timeout)
            read_log(log, probe, timeout=timeout)
            if probe.logged_id and probe.logged_id != probe.post_id:
                # the page was polled under the wrong name: look again under the real one
                print(f"  the log names {probe.logged_id}, not {probe.post_id}")
                probe.post_id, probe.page = probe.logged_id, None
                watch_outputs(site / "public", probe, timeout=5)
            run.probes.append(probe)
            time.sleep(pauses.uniform(0.3, max(0.3, gap)))
            log.drain()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            run.exit_code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            run.exit_code = proc.wait()
        if run.exit_code != 0:
            print(f"  service exited {run.exit_code}; its last lines:")
            print("\n".join(log.lines[-20:]))
    return run


def _stat(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    missed = len(values) - len(got)
    if not got:
        return "-" if not values else "missed"
    text = f"{statistics.median(got):5.2f} {max(got):5.2f}"
    return text + (f" ({missed} missed)" if missed else "")


def print_table(runs: list[Run]) -> None:
    head = (
        f"{'posts':>6} {'mode':<9} {'cold':>6} {'1st bld':>7}  {'feed med max':>12}"
        f"  {'page med max':>12}  {'scan med max':>12}  {'build med max':>13}  exit"
    )
    print()
    print(head)
    print("-" * len(head))
    for r in runs:
        cold = f"{r.cold:6.1f}" if r.cold is not None else f"{'':>6}"
        first = f"{r.first_build:7.2f}" if r.first_build is not None else f"{'-':>7}"
        print(
            f"{r.size:>6} {r.mode:<9} {cold} {first}  {_stat([p.feed for p in r.probes]):>12}"
            f"  {_stat([p.page for p in r.probes]):>12}"
            f"  {_stat([p.scanned for p in r.probes]):>12}"
            f"  {_stat([p.build for p in r.probes]):>13}  {r.exit_code}"
        )
    print(
        "seconds; cold: `run --once` on the generated folder; 1st bld: the service's first"
        " build (nothing new);\nfeed/page: close() until public/feed.json names the post /"
        " its page exists; scan: close() until\nthe scan log line naming it; build: the"
        f" duration in that build's log line. Goal: feed < {GOAL:.0f} s."
    )


_STAGES = (  # (label, file suffix, function) of publish() and build()
    ("publish (all)", "service/jobs.py", "publish"),
    ("  store.posts()", "store/__init__.py", "posts"),
    ("  all_issues()", "store/digests.py", "all_issues"),
    ("  feeds.build()", "feeds/__init__.py", "build"),
    ("    admit()", "feeds/safety.py", "admit"),
    ("    feed_sets()", "feeds/selection.py", "feed_sets"),
    ("    atom()", "feeds/syndication.py", "atom"),
    ("    rss()", "feeds/syndication.py", "rss"),
    ("    json_feed()", "feeds/syndication.py", "json_feed"),
    ("    render_pages()", "feeds/pages.py", "render_pages"),
    ("    OutputWriter.put()", "feeds/writer.py", "put"),
    ("      write_atomic()", "feeds/writer.py", "write_atomic"),
    ("    OutputWriter.finish()", "feeds/writer.py", "finish"),
    ("  record()", "store/activity.py", "record"),
)


def profile(site_root: Path) -> None:
    """cProfile of one publish() after one new post, in-process, on the bench's site, as
    the service does it: a build cache kept from a first build, the new file scanned by
    its path (a delta scan), then publish() with the cache."""
    from postroom.content.intake import ScanScope, scan
    from postroom.core.config import open_site
    from postroom.feeds import BuildCache
    from postroom.service.jobs import publish
    from postroom.store import Store

    site = open_site(site_root)
    store = Store(site.store_url)
    cache = BuildCache()
    try:
        scan(site, store)
        publish(site, store, datetime.now(UTC), cache)  # the service's first build
        probe = write_post(site_root, 0, "profile")
        scan(site, store, scope=ScanScope(frozenset({probe.path})))
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.runcall(publish, site, store, datetime.now(UTC), cache)
        took = time.perf_counter() - began
    finally:
        store.close()
    stats = pstats.Stats(profiler)
    by_name: dict[tuple[str, str], tuple[int, float, float]] = {}
    for (path, _line, name), (_cc, calls, tot, cum, _callers) in stats.stats.items():
        for _label, suffix, func in _STAGES:
            if name == func and path.endswith(suffix):
                old = by_name.get((suffix, func), (0, 0.0, 0.0))
                by_name[(suffix, func)] = (old[0] + calls, old[1] + tot, old[2] + cum)
    print(
        f"\nprofile of publish() after one new post (with the service's cache),"
        f" {site_root.name}: {took:.2f} s wall"
    )
    print(f"{'stage':<28} {'calls':>7} {'cum s':>7}")
    for label, suffix, func in _STAGES:
        calls, _tot, cum = by_name.get((suffix, func), (0, 0.0, 0.0))
        print(f"{label:<28} {calls:>7} {cum:7.2f}")
    print("\ntop functions by own time:")
    stats.sort_stats("tottime").print_stats(12)


def count_posts(site: Path) -> int:
    """Post files under an existing site's content/ (what --site is measured at)."""
    return sum(len(names) for _folder, _dirs, names in os.walk(site / "content"))


def as_json(runs: list[Run]) -> list[dict]:
    def summary(values: list[float | None]) -> dict:
        got = [v for v in values if v is not None]
        return {
            "median": statistics.median(got) if got else None,
            "max": max(got) if got else None,
            "missed": len(values) - len(got),
        }

    return [
        {
            "size": r.size,
            "mode": r.mode,
            "cold_s": r.cold,
            "first_build_s": r.first_build,
            "exit_code": r.exit_code,
            "feed_s": summary([p.feed for p in r.probes]),
            "page_s": summary([p.page for p in r.probes]),
            "build_s": summary([p.build for p in r.probes]),
            "probes": [
                {"feed": p.feed, "page": p.page, "scanned": p.scanned, "build": p.build}
                for p in r.probes
            ],
        }
        for r in runs
    ]


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    args.add_argument(
        "--site", type=Path, help="measure this already-built site instead of generating"
    )
    args.add_argument(
        "--markdown-only", action="store_true", help="generate every post as Markdown"
    )
    args.add_argument(
        "--probe-timeout", type=float, default=60, help="seconds to wait for one new post"
    )
    args.add_argument("--json", action="store_true", help="JSON on stdout (the table on stderr)")
    args.add_argument("--probes", type=int, default=5, help="new posts per run")
    args.add_argument(
        "--gap",
        type=float,
        default=0.3,
        help="pause up to this long (at random, 0.3 s at least) between probes, so they land"
        " at every point of the safety net's walk, not in step with it",
    )
    args.add_argument(
        "--poll-only-size", type=int, default=1_000, help="size also run with --poll-only (0: none)"
    )
    args.add_argument(
        "--no-profile", action="store_true", help="skip profiling sizes over the goal"
    )
    opts = args.parse_args()
    out = sys.stdout
    if opts.json:
        sys.stdout = sys.stderr  # everything printed is the human's; the JSON is out's
    runs: list[Run] = []
    over: list[tuple[int, Path]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="postroom-pickup-") as tmp:
        plan: list[tuple[int, Path | None]] = (
            [(count_posts(opts.site), opts.site)] if opts.site else [(n, None) for n in opts.sizes]
        )
        for size, given in plan:
            cold = None
            if given is None:
                site = Path(tmp) / f"site-{size}"
                site.mkdir()
                print(f"{size} posts: generating and ingesting cold ...", flush=True)
                cold = make_site(site, size, opts.markdown_only)
                print(f"  cold run --once {cold:.1f} s; service (inotify) ...", flush=True)
            else:
                site = given
                print(f"{size} posts in {site} (built already); service (inotify) ...", flush=True)
            watched = serve(site, size, cold, opts.probes, False, opts.probe_timeout, opts.gap)
            runs.append(watched)
            if size == opts.poll_only_size:
                print("  service (--poll-only) ...", flush=True)
                runs.append(
                    serve(site, size, None, opts.probes, True, opts.probe_timeout, opts.gap)
                )
            feeds = [p.feed for p in watched.probes]
            if None in feeds or not feeds or statistics.median(feeds) > GOAL:
                over.append((size, site))
        print_table(runs)
        if not opts.no_profile:
            for _size, site in over:
                profile(site)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if opts.json:
        print(json.dumps({"goal_s": GOAL, "runs": as_json(runs)}, indent=2), file=out)
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
