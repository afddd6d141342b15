"""The service and the content folder: real `postroom run` processes, real files written the
way people and editors write them, and kill -9 in the middle of a build.

Every test reads what a visitor would read: the files in public/, through feedparser
and json, and the service's own JSON log; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from service_support import Service, postroom
from support import ARCHIVE, make_site, write

SITE = (
    '[site]\nbase_url = "https://notes.example.org/"\n'
    "[service]\npoll_seconds = 1\nquiet_seconds = 1\n"
)
MANIFEST = ".postroom-manifest.json"


def post(title: str, date: str, body: str, tags: str = "") -> str:
    extra = f"tags: [{tags}]\n" if tags else ""
    return f"---\ntitle: {title}\ndate: {date}\n{extra}---\n{body}\n"


def slug_of(url: str) -> str:
    """'https://notes.example.org/posts/2016-06-23-one-post/' -> '2016-06-23-one-post'."""
    return url.rstrip("/").rsplit("/", 1)[1]


def feed_items(public: Path) -> dict[str, dict]:
    """feed.json's items by post id (the slug in their URL)."""
    items = json.loads((public / "feed.json").read_text(encoding="utf-8"))["items"]
    return {slug_of(item["url"]): item for item in items}


def atom_entries(public: Path) -> dict[str, feedparser.FeedParserDict]:
    parsed = feedparser.parse((public / "atom.xml").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return {slug_of(entry.link): entry for entry in parsed.entries}


def page(public: Path, post_id: str) -> Path:
    return public / "posts" / post_id / "index.html"


def eventually(check: Callable[[], bool], timeout: float, why: str) -> float:
    """Wait until `check()` is true; returns how long that took."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except (FileNotFoundError, KeyError, ValueError):  # not written yet
            pass
        assert time.monotonic() - started < timeout, f"timed out: {why}"
        time.sleep(0.02)


def after_now(service: Service) -> Callable[[dict], bool]:
    """A filter: true for the log events the service writes after this call."""
    old = {id(e) for e in service.events}  # they stay in the list: no id is reused
    return lambda e: id(e) not in old


def ids_in_scans(
    service: Service, kind: str, keep: Callable[[dict], bool] = lambda e: True
) -> Counter[str]:
    """How often each post id was reported as `kind` (new, updated, withdrawn)."""
    scans = [e for e in service.where("scan") if keep(e)]
    return Counter(i for e in scans for i in e.get("ids", {}).get(kind, []))


def reports(event: dict, kind: str, ids: set[str]) -> bool:
    """A scan event that reports one of `ids` as `kind` (new, updated, withdrawn)."""
    return event["event"] == "scan" and bool(ids & set(event.get("ids", {}).get(kind, [])))


def position(service: Service, event: dict) -> int:
    return next(i for i, e in enumerate(service.events) if e is event)


def built_after(service: Service, kind: str, ids: set[str], timeout: float = 15) -> dict:
    """Waits for a scan that reports one of `ids` as `kind`, then for the build after it
    (which has written public/ when it is logged); returns that build event."""
    scan = service.wait_for(lambda e: reports(e, kind, ids), timeout)[0]
    at = position(service, scan)
    later = service.wait_for(lambda e: e["event"] == "build" and position(service, e) > at, 10)
    return later[0]


def builds_begun(service: Service) -> int:
    """Builds the service started: one after its first scan, one after each that changed."""
    scans = [e for e in service.where("scan") if "ids" in e]
    return sum(1 for i, e in enumerate(scans) if i == 0 or e["new"] + e["updated"] + e["withdrawn"])


def assert_public_complete(public: Path) -> int:
    """Every file in public/ is whole: feeds parse without complaint, pages end, and no
    temp or partial file sits among the outputs. Returns how many files were checked."""
    files = sorted(p for p in public.rglob("*") if p.is_file())
    assert files, "public/ is empty"
    for path in files:
        name = path.relative_to(public).as_posix()
        hidden = any(part.startswith(".") for part in name.split("/"))
        assert name == MANIFEST or not hidden, f"a temp or stray file among the outputs: {name}"
        data = path.read_bytes()
        if name.endswith(".html"):
            assert data.rstrip().endswith(b"</html>"), f"{name} is cut short"
        elif name.endswith(".xml"):
            parsed = feedparser.parse(data)
            assert not parsed.bozo, f"{name}: {parsed.get('bozo_exception')}"
            assert parsed.version in ("atom10", "rss20"), name
        elif name.endswith(".json"):
            loaded = json.loads(data)  # raises on a truncated file
            if name != MANIFEST:
                assert loaded["version"].startswith("https://jsonfeed.org/version/"), name
                assert isinstance(loaded["items"], list), name
        elif name.endswith(".xsl"):  # the feeds' stylesheet (feeds/static)
            etree.XSLT(etree.fromstring(data))  # raises on a truncated file
        else:
            raise AssertionError(f"an unexpected file in public/: {name}")
    return len(files)


# --- 1. kill -9 in the middle of builds ---

POSTS = 600
EDITS = 150  # posts edited per round: fewer than intake's parallel threshold
ROUNDS = 4


def numbered_date(n: int) -> str:
    return f"2016-{1 + n % 12:02d}-{1 + n % 28:02d}"


def numbered_id(n: int) -> str:
    return f"{numbered_date(n)}-post-number-{n}"


def numbered_post(n: int, body: str) -> str:
    return post(f"Post number {n}", numbered_date(n), body, tags=f"t{n % 2}")


def edited_body(n: int, round_: int) -> str:
    return f"Edited in round {round_}: post {n}."


VERSION = re.compile(rb"(?:Body of post|Edited in round \d+: post) (\d+)\.")


def write_all_at_once(folder: Path, files: dict[str, str], stage: Path) -> None:
    """Writes `files` into `folder` so that one scan sees them all, already quiet: each is
    written in `stage` and dated back past the quiet period, then all are renamed in, a
    rename a few microseconds long. Written in place, 150 files can take longer than the
    quiet period on a loaded machine, and a scan would take the first few alone."""
    stage.mkdir(exist_ok=True)
    past = time.time() - 5
    for name, text in files.items():
        write(stage / name, text)
        os.utime(stage / name, (past, past))
    for name in files:
        os.replace(stage / name, folder / name)


# Loaded at start-up by the service of the kill test (sitecustomize, on its PYTHONPATH):
# once the file named by POSTROOM_TEST_STOP_AT exists, holding N, the service's own
# process stops itself (SIGSTOP) after the N-th file it renames into public/, and says so
# in its log first. The kill then lands mid-build whatever the machine's load: a kill
# timed from the test could come after a build finished under a stalled test process.
STOPPER = """
import logging, os, signal
_ARM, _PUBLIC = os.environ["POSTROOM_TEST_STOP_AT"], os.environ["POSTROOM_TEST_PUBLIC"]
_PID, _replace, _renamed = os.getpid(), os.replace, [0]
def replace(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    if os.getpid() != _PID or not os.fspath(dst).startswith(_PUBLIC):
        return
    try:
        with open(_ARM) as armed:
            after = int(armed.read())
    except FileNotFoundError:
        return
    _renamed[0] += 1
    if _renamed[0] >= after:
        os.unlink(_ARM)
        logging.getLogger("postroom.test-stopper").warning("stopped mid-build")
        os.kill(_PID, signal.SIGSTOP)
os.replace = replace
"""
STOPPED = "postroom.test-stopper"


def test_sigkill_mid_build_leaves_every_public_file_whole_and_a_restart_catches_up(tmp_path):
    rng = random.Random(20261125)
    site = make_site(tmp_path / "site", config=SITE)
    public = site.public_dir
    hook, armed = tmp_path / "hook", tmp_path / "stop-at"
    write(hook / "sitecustomize.py", STOPPER)
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    stopper = {
        "PYTHONPATH": path,
        "POSTROOM_TEST_STOP_AT": str(armed),
        "POSTROOM_TEST_PUBLIC": str(public) + os.sep,
    }
    for n in range(POSTS):
        write(site.content_dir / f"p{n:04d}.md", numbered_post(n, f"Body of post {n}. " * 20))
    first = postroom(site.root, "run", "--once")
    assert first.returncode == 0, first.stdout + first.stderr
    assert assert_public_complete(public) > POSTS

    written: dict[int, int] = {}  # post number -> the round of its latest edit

    def edits_out() -> bool:
        return all(
            edited_body(n, r) in page(public, numbered_id(n)).read_text(encoding="utf-8")
            for n, r in written.items()
        )

    outcomes = []
    for round_ in range(ROUNDS):
        with Service(site.root, env=stopper) as service:
            service.wait_for(lambda e: e["event"] == "build")  # repairs what a kill cut short
            assert_public_complete(public)
            eventually(edits_out, 10, f"round {round_}: the edits made so far reach the pages")
            in_feed = [int(i.rsplit("-", 1)[1]) for i in feed_items(public)]
            chosen = rng.sample(in_feed, 20)
            chosen += rng.sample(sorted(set(range(POSTS)) - set(chosen)), EDITS - len(chosen))
            ids = {numbered_id(n) for n in chosen}
            outputs = [page(public, i) for i in ids] + [public / "feed.json", public / "atom.xml"]
            before = [p.stat().st_mtime_ns for p in outputs]
            later = after_now(service)
            if round_ % 2:  # stopped just after the build has begun to write
                armed.write_text(str(rng.randint(1, 100)))
            edits = {f"p{n:04d}.md": numbered_post(n, edited_body(n, round_)) for n in chosen}
            write_all_at_once(site.content_dir, edits, tmp_path / "stage")
            written.update(dict.fromkeys(chosen, round_))
            if round_ % 2:
                # stopped by its hook (STOPPER) after the N-th page its build wrote: the
                # build of the first scan to take edits (a scan may take a few alone: the
                # watcher hears the first renames); the restart takes the rest
                service.wait_for(lambda e: e["event"] == STOPPED)
                assert [p.stat().st_mtime_ns for p in outputs] != before, "no build began"
            else:  # any moment after the scans that take every edit start their builds
                service.wait_for(
                    lambda e, ids=ids, later=later: (
                        later(e) and ids <= set(ids_in_scans(service, "updated", later))
                    )
                )
                time.sleep(rng.uniform(0.0, 1.0))
            service.kill()
        taken = ids & set(ids_in_scans(service, "updated", later))
        cut = builds_begun(service) > len(service.where("build"))
        # after the kill: every file is whole, and every edited page an old or a new version
        assert assert_public_complete(public) > POSTS
        fresh = 0
        for n in chosen:
            text = page(public, numbered_id(n)).read_bytes()
            assert {int(m) for m in VERSION.findall(text)} == {n}, n
            fresh += edited_body(n, round_).encode() in text
        outcomes.append((len(taken), fresh, cut))
        if round_ % 2:  # the kill landed in the middle of a build, after its first write
            assert cut, outcomes

    print(f"\nper round (edits taken in, edited pages new after the kill, build cut): {outcomes}")

    def feeds_out() -> bool:
        """feed.json carries each post's latest edit (a build writes its feeds last)."""
        for post_id, item in feed_items(public).items():
            n = int(post_id.rsplit("-", 1)[1])
            if n in written and edited_body(n, written[n]) not in item["content_html"]:
                return False
        return True

    with Service(site.root) as final:
        final.wait_for(lambda e: e["event"] == "build")
        eventually(edits_out, 10, "the last edits reach the pages")
        eventually(feeds_out, 10, "the build that wrote them reaches the feeds")
        code, seconds = final.terminate()
    assert code == 0 and seconds < 10, (code, seconds)
    assert assert_public_complete(public) > POSTS
    items = feed_items(public)
    entries = atom_entries(public)
    assert len(items) == len(entries) == 50
    for post_id, item in items.items():
        n = int(post_id.rsplit("-", 1)[1])
        want = edited_body(n, written[n]) if n in written else f"Body of post {n}."
        assert want in item["content_html"], post_id
        assert want in entries[post_id].content[0].value, post_id
    assert sum(numbered_id(n) in items for n in chosen) >= 20  # the last round's feed edits
    assert not (site.root / f".{public.name}.scratch").exists()  # killed builds' temp files


# --- 6. files written the way people and editors write them ---


class FeedWatch:
    """Notes when each post id first appears in feed.json, polling it in a thread."""

    def __init__(self, public: Path) -> None:
        self.public = public
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                ids = feed_items(self.public)
            except (FileNotFoundError, ValueError, KeyError):
                ids = {}
            now = time.monotonic()
            for post_id in ids:
                self.first_seen.setdefault(post_id, now)
            time.sleep(0.01)

    def latency(self, post_id: str, closed: float, timeout: float = 10) -> float:
        """Seconds from `closed` until `post_id` was first seen in feed.json."""
        eventually(lambda: post_id in self.first_seen, timeout, f"{post_id} in feed.json")
        return self.first_seen[post_id] - closed

    def __enter__(self) -> FeedWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


CHUNKED = "2016-07-01-written-in-three-chunks"
RENAMED = "2016-07-02-saved-through-a-temp-file"
SWAPPED = "2016-07-03-edited-in-vim"
CAPTURED = ("2018-03-05-first-thoughts-on-the-review", "2018-03-01-snow-days-and-duty-teams")
RESAVED = "2016-06-30-already-there"
LAST = "2016-07-04-written-last"


def test_posts_written_slowly_renamed_into_place_or_beside_swap_files_are_read_once_whole(
    tmp_path,
):
    site = make_site(tmp_path / "site", config=SITE)
    content, public = site.content_dir, site.public_dir
    write(content / "there.md", post("Already there", "2016-06-30", "The first version."))
    first = postroom(site.root, "run", "--once")  # picked up before the service starts
    assert first.returncode == 0, first.stdout + first.stderr
    closed: dict[str, float] = {}

    with Service(site.root) as service, FeedWatch(public) as watch:
        service.wait_for(lambda e: e["event"] == "build")
        eventually(lambda: RESAVED in watch.first_seen, 5, "the post there before in feed.json")

        # three chunks over a second, each flushed: never read until the last is written
        with open(content / "chunked.md", "wb") as out:
            for part in (
                "---\ntitle: Written in three chunks\ndate: 2016-07-01\n---\nThe first part, ",
                "the second part, ",
                "and the last part.\n",
            ):
                out.write(part.encode())
                out.flush()
                if not part.endswith("\n"):
                    time.sleep(0.4)
        closed[CHUNKED] = time.monotonic()
        latency = {CHUNKED: watch.latency(CHUNKED, closed[CHUNKED])}

        # an editor's save: the whole text into a temp file, then renamed over the real name
        with open(content / "saved.md.tmp", "wb") as out:
            out.write(b"---\ntitle: Saved through a temp file\ndate: 2016-07-02\n---\n")
            out.flush()
            time.sleep(0.3)
            out.write(b"Renamed into place, whole.\n")
        os.replace(content / "saved.md.tmp", content / "saved.md")
        closed[RENAMED] = time.monotonic()
        latency[RENAMED] = watch.latency(RENAMED, closed[RENAMED])

        # vim: a swap file beside the post, rewritten while the post is edited, left there
        swap = content / ".vimmed.md.swp"
        write(swap, b"b0VIM 9.0\x00\x00\x10\x00" + bytes(range(256)) * 8)
        write(content / "4913", b"")  # vim's probe that it may write in the folder
        (content / "4913").unlink()
        write(content / "vimmed.md", post("Edited in vim", "2016-07-03", "Saved beside a swap."))
        closed[SWAPPED] = time.monotonic()
        write(swap, b"b0VIM 9.0\x00\x00\x20\x00" + bytes(range(255, -1, -1)) * 8)
        latency[SWAPPED] = watch.latency(SWAPPED, closed[SWAPPED])

        # a capture dropped into a folder made a moment before
        (content / "clips" / "2018").mkdir(parents=True)
        write(content / "clips" / "2018" / "review.txt", ARCHIVE)
        closed[CAPTURED[0]] = closed[CAPTURED[1]] = time.monotonic()
        for post_id in CAPTURED:
            latency[post_id] = watch.latency(post_id, closed[post_id])

        # vim's default save of a post that exists: moved aside, written anew, backup deleted
        os.rename(content / "there.md", content / "there.md~")
        write(content / "there.md", post("Already there", "2016-06-30", "The second version."))
        (content / "there.md~").unlink()

        eventually(
            lambda: "The second version." in feed_items(public)[RESAVED]["content_html"],
            10,
            "the re-saved post's new text",
        )
        # A file is read once it is quiet: by the time a post written after all the rest
        # is in feed.json, any second reading of the others would have been logged.
        write(content / "last.md", post("Written last", "2016-07-04", "After the rest."))
        eventually(lambda: LAST in feed_items(public), 10, "the post written last in feed.json")
        code, seconds = service.terminate()
    assert code == 0 and seconds < 10, (code, seconds)

    print(f"\npick-up latency, file closed -> in feed.json: {latency}")
    for post_id, seconds in latency.items():
        assert seconds < 5, (post_id, seconds)  # the goal is 2 s; this is loose

    new, updated = ids_in_scans(service, "new"), ids_in_scans(service, "updated")
    withdrawn = ids_in_scans(service, "withdrawn")
    for post_id in (CHUNKED, RENAMED, SWAPPED, *CAPTURED):
        assert (new[post_id], updated[post_id], withdrawn[post_id]) == (1, 0, 0), post_id
    assert (new[RESAVED], updated[RESAVED], withdrawn[RESAVED]) == (0, 1, 0)
    assert set(new) == {CHUNKED, RENAMED, SWAPPED, *CAPTURED, LAST}
    assert service.where("problem") == [], service.where("problem")

    items = feed_items(public)
    assert set(items) == {CHUNKED, RENAMED, SWAPPED, *CAPTURED, RESAVED, LAST}
    whole = {
        CHUNKED: "The first part, the second part, and the last part.",
        RENAMED: "Renamed into place, whole.",
        SWAPPED: "Saved beside a swap.",
        CAPTURED[0]: "It does say a great deal about governance.",
        CAPTURED[1]: "Nobody wrote a framework for that.",
        RESAVED: "The second version.",
    }
    for post_id, text in whole.items():
        assert text in items[post_id]["content_html"], post_id
        assert text in page(public, post_id).read_text(encoding="utf-8"), post_id
    assert "snow" not in items[CAPTURED[0]]["content_html"].lower()  # split, not run together
    assert "first version" not in items[RESAVED]["content_html"]
    status = json.loads(postroom(site.root, "status", "--json").stdout)
    assert status["problems"] == [] and status["posts"] == 7
    assert status["last_scan"]["files"] == 6  # the swap file is no content file
    assert_public_complete(public)


# --- 7. a malformed post ---

BAD_FRONT_MATTER = "---\ntitle: [unclosed\ndate: 2016-08-01\n---\nNever mind the title.\n"
BAD_BYTES = b"---\ntitle: Bad bytes\ndate: 2016-08-02\n---\nSome \x81\x8d text.\n"  # nor cp1252


def problem_files(service: Service, **fields: object) -> set[str]:
    return {e["file"] for e in service.where("problem", **fields)}


def status(site_root: Path) -> dict:
    done = postroom(site_root, "status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_malformed_post_is_reported_the_rest_published_and_a_fix_publishes_it(tmp_path):
    good = "2016-08-03-dropped-beside-them"
    site = make_site(tmp_path / "site", config=SITE)
    content, public = site.content_dir, site.public_dir
    write(content / "before.md", post("There before", "2016-07-31", "Fine."))

    with Service(site.root) as service:
        service.wait_for(lambda e: e["event"] == "build")
        write(content / "broken.md", BAD_FRONT_MATTER)
        write(content / "bytes.md", BAD_BYTES)
        write(content / "good.md", post("Dropped beside them", "2016-08-03", "Published."))
        built_after(service, "new", {good})
        service.wait_for(lambda e: e["event"] == "problem", count=2)

        assert service.process.poll() is None  # still running
        assert problem_files(service) == {"broken.md", "bytes.md"}
        [broken] = service.where("problem", file="broken.md")
        assert broken["severity"] == "error" and "front matter" in broken["reason"]
        [undecodable] = service.where("problem", file="bytes.md")
        assert undecodable["severity"] == "error" and "undecodable" in undecodable["reason"]
        listed = {p["file"]: p for p in status(site.root)["problems"]}
        assert set(listed) == {"broken.md", "bytes.md"}
        assert listed["broken.md"]["reason"] == broken["reason"]
        assert {p["severity"] for p in listed.values()} == {"error"}
        assert set(feed_items(public)) == {"2016-07-31-there-before", good}
        assert_public_complete(public)

        write(content / "broken.md", post("Mended title", "2016-08-01", "Now it reads."))
        write(content / "bytes.md", post("Bad bytes", "2016-08-02", "Some caf\u00e9 text."))
        service.wait_for(lambda e: e["event"] == "problem" and e.get("mended"), count=2)
        mended = {"2016-08-01-mended-title", "2016-08-02-bad-bytes"}
        eventually(lambda: mended <= set(feed_items(public)), 10, "the mended posts")
        code, seconds = service.terminate()
    assert code == 0 and seconds < 10, (code, seconds)

    assert problem_files(service, mended=True) == {"broken.md", "bytes.md"}
    assert status(site.root)["problems"] == []
    items = feed_items(public)
    assert set(items) == {"2016-07-31-there-before", good, *mended}
    assert "Now it reads." in items["2016-08-01-mended-title"]["content_html"]
    assert "caf\u00e9" in items["2016-08-02-bad-bytes"]["content_html"]
    assert "Now it reads." in page(public, "2016-08-01-mended-title").read_text(encoding="utf-8")
    assert_public_complete(public)


# --- 8. a post edited, then deleted ---


@pytest.mark.parametrize("watching", ["inotify", "poll-only"])
def test_a_post_edited_then_deleted_shows_the_edit_then_leaves_feeds_and_pages(tmp_path, watching):
    goes, stays = "2016-09-01-here-for-a-while", "2016-09-02-here-to-stay"
    site = make_site(tmp_path / "site", config=SITE)
    content, public = site.content_dir, site.public_dir
    write(content / "goes.md", post("Here for a while", "2016-09-01", "The first text."))
    write(content / "stays.md", post("Here to stay", "2016-09-02", "Staying."))
    args = ["--poll-only"] if watching == "poll-only" else []

    with Service(site.root, *args) as service:
        service.wait_for(lambda e: e["event"] == "build")
        mode = "polling the content folder" if args else "watching the content folder"
        assert any(mode in e["message"] for e in service.where("service")), mode
        built_after(service, "new", {goes, stays})  # once quiet, if not at the first scan
        assert set(feed_items(public)) == {goes, stays}
        assert page(public, goes).is_file()

        write(content / "goes.md", post("Here for a while, edited", "2016-09-01", "Edited text."))
        built_after(service, "updated", {goes})
        item, entry = feed_items(public)[goes], atom_entries(public)[goes]
        assert item["title"] == entry.title == "Here for a while, edited"
        assert "Edited text." in item["content_html"]
        assert "Edited text." in entry.content[0].value
        assert "The first text." not in (public / "atom.xml").read_text(encoding="utf-8")
        assert "Here for a while, edited" in page(public, goes).read_text(encoding="utf-8")

        (content / "goes.md").unlink()
        removed = built_after(service, "withdrawn", {goes})
        assert removed["removed"] == 1  # its page
        assert not page(public, goes).exists()
        assert not (public / "posts" / goes).exists()  # its folder too
        assert set(feed_items(public)) == {stays}
        assert set(atom_entries(public)) == {stays}
        rss = feedparser.parse((public / "rss.xml").read_bytes())
        assert not rss.bozo and [slug_of(e.link) for e in rss.entries] == [stays]
        assert "Here for a while" not in (public / "index.html").read_text(encoding="utf-8")
        code, seconds = service.terminate()
    assert code == 0 and seconds < 10, (code, seconds)

    updated, withdrawn = ids_in_scans(service, "updated"), ids_in_scans(service, "withdrawn")
    assert (updated[goes], withdrawn[goes]) == (1, 1)
    assert not updated[stays] and not withdrawn[stays]
    assert page(public, stays).is_file()
    assert_public_complete(public)


@pytest.mark.postgresql
def test_a_standby_rides_out_a_database_outage_and_still_takes_over(tmp_path, pg_url, monkeypatch):
    """The database turns connections away (a restart, a failover): the standby says so
    and goes on standing by, and still takes over when the running service dies."""
    import psycopg
    from postroom.core.config import DATABASE_URL_ENV

    monkeypatch.setenv(DATABASE_URL_ENV, pg_url)
    site = make_site(tmp_path, {"a.md": "---\ntitle: Hubs\ndate: 2021-07-23\n---\nText.\n"})
    server, _, name = pg_url.rpartition("/")

    def lease(word: str) -> Callable[[dict], bool]:
        return lambda e: e["event"] == "lease" and word in e["message"]

    def connections(allowed: bool) -> None:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
            if not allowed:  # every session but the running service's lock session
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                    " AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')",
                    (name,),
                )

    with Service(site.root) as one:
        one.wait_for(lease("running"))
        with Service(site.root) as two:
            two.wait_for(lease("runs this site"))
            connections(allowed=False)
            try:
                two.wait_for(lease("the database"), 30)
            finally:
                connections(allowed=True)
            one.kill()
            two.wait_for(lease("running"), 30)
            assert two.terminate()[0] == 0
