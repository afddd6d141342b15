"""What a hostile world does to postroom's outputs: a build killed mid-write, a sender
killed between writing a message and renaming it into place, public/ deleted under a
running service. Real `postroom` processes, real SIGKILL, real files; nothing mocked."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import prestart
from postroom.feeds.writer import clear_stale_temps, read_manifest
from postroom.store import Store
from postroom.store.schema import outbox
from service_support import Service, postroom, postroom_env
from smtp_sink import SmtpSink
from sqlalchemy import select
from support import make_site, write

SITE = (
    '[site]\nbase_url = "https://notes.example.org/"\n'
    "[service]\npoll_seconds = 1\nquiet_seconds = 1\n"
)
MANIFEST = ".postroom-manifest.json"


def post(title: str, date: str, body: str) -> str:
    return f"---\ntitle: {title}\ndate: {date}\n---\n{body}\n"


def numbered(n: int) -> tuple[str, str]:
    """(file name, post id) of the n-th post of a batch."""
    date = f"2017-{1 + n % 12:02d}-{1 + n % 28:02d}"
    return f"batch{n:04d}.md", f"{date}-batch-post-{n}"


def files_under(public: Path) -> set[str]:
    return {p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file()}


def manifest(public: Path) -> set[str]:
    return read_manifest(public)


def assert_feeds_and_pages_valid(public: Path, post_ids: list[str]) -> None:
    """The site feeds parse and list the posts, and each post has its whole page."""
    for name in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((public / name).read_bytes())
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
        assert len(parsed.entries) == len(post_ids), name
    items = json.loads((public / "feed.json").read_text(encoding="utf-8"))["items"]
    assert len(items) == len(post_ids)
    assert (public / "index.html").read_bytes().rstrip().endswith(b"</html>")
    for post_id in post_ids:
        page = public / "posts" / post_id / "index.html"
        assert page.read_bytes().rstrip().endswith(b"</html>"), post_id


# --- 9. a build killed mid-write ---

BATCH = 400


def test_a_build_killed_mid_write_leaves_no_page_online_once_its_posts_are_withdrawn(tmp_path):
    site = make_site(tmp_path / "site", config=SITE)
    public = site.public_dir
    write(site.content_dir / "kept.md", post("Kept post", "2016-01-02", "It stays."))
    first = postroom(site.root, "run", "--once", "--no-send")
    assert first.returncode == 0, first.stdout + first.stderr
    for n in range(BATCH):
        name, _ = numbered(n)
        write(site.content_dir / name, post(f"Batch post {n}", numbered(n)[1][:10], "Body. " * 50))
    pages = [public / "posts" / numbered(n)[1] / "index.html" for n in range(BATCH)]

    command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site.root)]
    runner = prestart.popen(  # forked from a prestarted Python: its own process
        [*command, "run", "--once", "--no-send"],
        env=postroom_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while sum(p.exists() for p in pages[::10]) < 3 and runner.poll() is None:
        assert time.monotonic() < deadline, "the build wrote no page"
        time.sleep(0.001)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    online = {p.parent.name for p in pages if p.exists()}
    listed = {name.split("/")[1] for name in manifest(public) if name.startswith("posts/")}
    assert runner.returncode == -signal.SIGKILL
    assert online and online - listed  # cut mid-build: pages online beyond the manifest

    for n in range(BATCH):
        (site.content_dir / numbered(n)[0]).unlink()
    again = postroom(site.root, "run", "--once", "--no-send")
    assert again.returncode == 0, again.stdout + again.stderr

    left = [p.parent.name for p in pages if p.exists()]
    assert not left, f"{len(left)} pages of withdrawn posts still online, e.g. {left[:3]}"
    assert files_under(public) - {MANIFEST} == manifest(public)  # nothing untracked
    assert_feeds_and_pages_valid(public, ["2016-01-02-kept-post"])
    assert not (site.root / f".{public.name}.scratch").exists()


# --- 10. a sender killed between writing a message and renaming it into place ---

# `postroom digest send` that kills itself (SIGKILL, no cleanup of any kind) at the n-th
# rename of a message into outbox/: the message's temp file is written, never renamed
CRASH_AT_RENAME = """
import os, runpy, signal, sys
rename, seen = os.replace, [0]
def replace(source, target):
    if "/outbox/" in os.fspath(target):
        seen[0] += 1
        if seen[0] == int(os.environ["CRASH_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
    return rename(source, target)
os.replace = replace
sys.argv = ["postroom", "--site", sys.argv[1], "digest", "send"]
runpy.run_module("postroom.scheduler", run_name="__main__", alter_sys=True)
"""


def test_only_temp_files_of_processes_that_are_gone_are_cleared(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    host = socket.gethostname()
    names = {
        "dead": f".7.eml~{host}:{dead}~k2j3h4g5.tmp",  # killed between write and rename
        "alive": f".8.eml~{host}:{os.getpid()}~a1b2c3d4.tmp",  # being written right now
        "elsewhere": f".9.eml~other-host:{dead}~q1w2e3r4.tmp",  # may be alive: not ours to judge
        "old": ".10.eml.zx81zx81.tmp",  # an older postroom's, two hours old
        "young": ".11.eml.c64c64c6.tmp",  # an older postroom's, just written
        "message": "12.eml",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(tmp_path / names["old"], (two_hours_ago, two_hours_ago))
    assert clear_stale_temps(tmp_path) == 2
    kept = {p.name for p in tmp_path.iterdir()}
    assert kept == {names[k] for k in ("alive", "elsewhere", "young", "message")}


def ledger(site) -> list:
    store = Store(site.store_url)
    try:
        with store.engine.connect() as conn:
            return conn.execute(select(outbox).order_by(outbox.c.subscriber_id)).all()
    finally:
        store.close()


def subscribed_site(root: Path, people: int, config: str = "") -> tuple:
    site = make_site(root, config=config or SITE)
    write(site.content_dir / "one.md", post("One post", "2016-06-23", "Body."))
    addresses = [f"reader{n:04d}@example.org" for n in range(people)]
    write(site.root / "list.csv", "\n".join(addresses) + "\n")
    imported = postroom(site.root, "subscribers", "import", str(site.root / "list.csv"))
    assert imported.returncode == 0, imported.stderr
    return site, addresses


def resent_in(summary: str) -> int:
    found = re.search(r"(\d+) resent after a crash", summary)
    return int(found.group(1)) if found else 0


def test_a_sender_killed_mid_write_leaves_no_temp_file_and_counts_one_resend(tmp_path):
    site, people = subscribed_site(tmp_path / "site", people=30)
    crashing = subprocess.run(
        [sys.executable, "-c", CRASH_AT_RENAME, str(site.root)],
        env={**postroom_env(), "CRASH_AT": "5"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashing.returncode == -signal.SIGKILL, crashing.stdout + crashing.stderr
    folder = site.root / "outbox" / "1"
    assert len(list(folder.glob(".*.tmp"))) == 1  # the message being written
    held = [r for r in ledger(site) if r.state == "sending"]
    assert len(held) > 1  # its batch: one was in flight, the rest never tried

    final = postroom(site.root, "digest", "send")
    assert final.returncode == 0, final.stdout + final.stderr
    assert not [p.name for p in (site.root / "outbox").rglob("*.tmp")]  # cleared at start
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.eml" for n in range(1, 31))
    assert resent_in(final.stdout) == 1, final.stdout  # only the one in flight went again
    rows = ledger(site)
    assert {r.state for r in rows} == {"sent"}
    assert sum(r.attempts for r in rows) == len(people) + 1  # untried rows count no try


def test_a_killed_smtp_sender_is_reported_with_no_more_resent_than_were_in_flight(tmp_path):
    with SmtpSink() as sink:
        config = SITE + sink.config(2)
        site, people = subscribed_site(tmp_path / "site", people=400, config=config)
        sender = postroom_process(site.root, "digest", "send")
        deadline = time.monotonic() + 60
        while len(sink.received) < 100:
            assert time.monotonic() < deadline and sender.poll() is None, "no progress"
            time.sleep(0.002)
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        held = [r for r in ledger(site) if r.state == "sending"]
        assert len(held) > 2  # more rows held than connections: the old count said them all
        final = postroom(site.root, "digest", "send")
        assert final.returncode == 0, final.stdout + final.stderr
        copies = sink.counts()
    assert sorted(copies) == people
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= resent_in(final.stdout) <= 2, final.stdout  # one a connection at most
    rows = ledger(site)
    assert sum(r.attempts for r in rows) <= len(people) + 2  # untried rows count no try


def postroom_process(site: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site), *args]
    # forked from a prestarted Python (tests/prestart.py): a process of its own
    return prestart.popen(command, env=postroom_env(), stderr=subprocess.DEVNULL)


# --- 13. public/ deleted under a running service ---


def test_public_deleted_under_the_service_is_rebuilt_with_a_log_line(tmp_path):
    site = make_site(tmp_path / "site", config=SITE)
    ids = []
    for n in range(3):
        write(site.content_dir / f"p{n}.md", post(f"Post {n}", f"2016-06-2{n}", f"Body {n}."))
        past = time.time() - 5  # already quiet: the first scan takes it
        os.utime(site.content_dir / f"p{n}.md", (past, past))
        ids.append(f"2016-06-2{n}-post-{n}")
    with Service(site.root, "--no-send") as service:
        service.wait_for(lambda e: e["event"] == "build")
        assert_feeds_and_pages_valid(site.public_dir, ids)
        shutil.rmtree(site.public_dir)
        [missing] = service.wait_for(lambda e: e.get("missing"), timeout=15)
        builds = len(service.where("build"))
        service.wait_for(lambda e: e["event"] == "build", count=builds + 1, timeout=15)
        assert_feeds_and_pages_valid(site.public_dir, ids)
        assert files_under(site.public_dir) - {MANIFEST} == manifest(site.public_dir)

        page = site.public_dir / "posts" / ids[1] / "index.html"
        page.unlink()  # one page among the rest: found by the rotating check of every file
        service.wait_for(lambda e: e.get("missing") and e is not missing, timeout=15)
        deadline = time.monotonic() + 15
        while not page.exists():
            assert time.monotonic() < deadline, "the deleted page was never rewritten"
            time.sleep(0.05)
        assert service.terminate()[0] == 0
    assert "public/" in missing["message"] and missing["level"] == "warning", missing
