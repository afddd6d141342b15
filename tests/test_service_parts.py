"""The service's parts one at a time: quiet periods, settled intake, temp names, the folder
watcher, the clock, the log and `postroom status`. Real files, a real SQLite store and real
inotify; only the clocks QuietPeriod takes are injected."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from postroom import scheduler
from postroom.content.intake import ScanScope, is_temp_name, scan
from postroom.content.quiet import QuietPeriod
from postroom.core.clock import ClockError, clock_from_env
from postroom.core.process import this_process
from postroom.service import logs
from postroom.service.command import Context
from postroom.service.daemon import Service
from postroom.service.jobs import Jobs
from postroom.service.status import status_json, unique_problems
from postroom.service.watch import ContentWatcher
from postroom.store import Store
from postroom.store.activity import last, record
from postroom.store.leases import role_lease
from support import ARCHIVE, make_site, write

MD = "---\ntitle: Hubs\ndate: 2021-07-23\n---\nFamily hubs text.\n"
BROKEN = "---\ntitle: [oops\n---\n"

# --- content/quiet.py: QuietPeriod on injected clocks ---

W0_NS = 1_800_000_000 * 10**9  # "now" on the fake wall clock, in ns


class FakeClocks:
    """A wall clock and a monotonic clock that move only when told, together."""

    def __init__(self) -> None:
        self.elapsed = 0.0

    def wall(self) -> float:
        return W0_NS / 1e9 + self.elapsed

    def monotonic(self) -> float:
        return 500.0 + self.elapsed

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds

    def write(self, path: Path, body: str) -> None:
        """Write `path` now, as this clock tells the time (its mtime on the wall clock):
        a scan's quiet period then sees only the time the test moves on, however slow
        the machine (with real time under it, a second's stall read a held file early)."""
        write(path, body)
        now_ns = W0_NS + int(self.elapsed * 10**9)
        os.utime(path, ns=(now_ns, now_ns))


def sig(size: int, mtime_ns: int, side: tuple[int, int] | None = None) -> str:
    out = f"{size}:{mtime_ns}"
    return out + (f"+{side[0]}:{side[1]}" if side else "")


def secs(seconds: float) -> int:
    return int(seconds * 10**9)


@pytest.fixture
def clocks() -> FakeClocks:
    return FakeClocks()


@pytest.fixture
def quiet(clocks) -> QuietPeriod:
    return QuietPeriod(2.0, wall=clocks.wall, monotonic=clocks.monotonic)


def test_an_old_file_is_ready_at_once_and_nothing_is_held(quiet):
    assert quiet.ready("a.md", sig(10, W0_NS - secs(3600)))
    assert quiet.next_look() is None


def test_a_fresh_file_is_held_until_its_mtime_is_quiet_for_the_period(quiet, clocks):
    signature = sig(10, W0_NS - secs(0.5))
    assert not quiet.ready("a.md", signature)
    assert quiet.next_look() == pytest.approx(1.5)
    clocks.advance(1.0)
    assert not quiet.ready("a.md", signature)
    assert quiet.next_look() == pytest.approx(0.5)
    clocks.advance(0.6)
    assert quiet.ready("a.md", signature)
    assert quiet.next_look() is None


def test_a_changed_signature_restarts_the_wait(quiet, clocks):
    assert not quiet.ready("a.md", sig(10, W0_NS))
    clocks.advance(1.5)
    grown = sig(20, W0_NS + secs(1.5))  # written again, just now
    assert not quiet.ready("a.md", grown)
    clocks.advance(1.0)  # the first signature would be quiet by now; this one is not
    assert not quiet.ready("a.md", grown)
    clocks.advance(1.1)
    assert quiet.ready("a.md", grown)


def test_a_future_mtime_is_ready_once_seen_unchanged_for_the_period(quiet, clocks):
    skewed = sig(10, W0_NS + secs(3600))  # a mount whose clock runs an hour ahead
    assert not quiet.ready("a.md", skewed)
    assert quiet.next_look() == pytest.approx(2.0)
    clocks.advance(1.0)
    assert not quiet.ready("a.md", skewed)
    clocks.advance(1.0)
    assert quiet.ready("a.md", skewed)


def test_a_future_mtime_whose_signature_changes_waits_again(quiet, clocks):
    assert not quiet.ready("a.md", sig(10, W0_NS + secs(3600)))
    clocks.advance(1.5)
    changed = sig(11, W0_NS + secs(3600))  # same skewed mtime, new size
    assert not quiet.ready("a.md", changed)
    clocks.advance(1.0)
    assert not quiet.ready("a.md", changed)
    clocks.advance(1.0)
    assert quiet.ready("a.md", changed)


def test_a_vanished_file_is_gone_only_after_the_quiet_period(quiet, clocks):
    assert not quiet.gone("a.md")
    assert quiet.next_look() == pytest.approx(2.0)
    clocks.advance(1.9)
    assert not quiet.gone("a.md")
    assert quiet.next_look() == pytest.approx(0.1)
    clocks.advance(0.1)
    assert quiet.gone("a.md")
    assert quiet.next_look() is None


def test_reappearing_cancels_a_pending_gone(quiet, clocks):
    assert not quiet.gone("a.md")
    clocks.advance(1.5)
    assert quiet.ready("a.md", sig(10, W0_NS - secs(3600)))  # back (rewritten long ago)
    clocks.advance(1.0)
    assert not quiet.gone("a.md"), "the earlier absence must not count"
    clocks.advance(2.0)
    assert quiet.gone("a.md")


def test_forget_except_drops_what_is_no_longer_in_question(quiet, clocks):
    skewed = sig(10, W0_NS + secs(3600))  # only time seen unchanged makes these ready
    assert not quiet.ready("held.md", skewed)
    assert not quiet.ready("dropped.md", skewed)
    assert not quiet.gone("missing.md")
    assert not quiet.gone("back.md")
    quiet.forget_except(["held.md", "missing.md"])
    clocks.advance(2.0)
    assert quiet.ready("held.md", skewed)
    assert quiet.gone("missing.md")
    assert not quiet.ready("dropped.md", skewed), "forgotten: seen for the first time again"
    assert not quiet.gone("back.md"), "its absence was forgotten: the wait starts again"


def test_next_look_is_the_shortest_wait_then_resets(quiet, clocks):
    assert quiet.next_look() is None
    assert not quiet.ready("c.md", sig(10, W0_NS - secs(1.2)))  # 0.8 s to go
    assert not quiet.ready("a.md", sig(10, W0_NS - secs(0.5)))  # 1.5 s to go
    assert not quiet.gone("b.md")  # 2 s to go
    assert quiet.next_look() == pytest.approx(0.8)
    assert quiet.next_look() is None
    assert not quiet.ready("a.md", sig(10, W0_NS - secs(0.5)))
    assert quiet.next_look() == pytest.approx(1.5)


def test_next_look_counts_from_when_the_file_was_held_not_from_the_asking(quiet, clocks):
    # the scan that holds a file reads the store on after it (tens of ms at 100,000
    # posts); the wait asked for then must end when the file is quiet, not that late
    assert not quiet.ready("a.md", sig(10, W0_NS - secs(0.5)))  # 1.5 s to go
    clocks.advance(0.4)
    assert quiet.next_look() == pytest.approx(1.1)
    assert not quiet.ready("b.md", sig(10, W0_NS + secs(0.4 - 1.97)))  # 0.05 s at least
    clocks.advance(0.3)
    assert quiet.next_look() == 0.0  # overdue: look now


def test_the_sidecars_newer_mtime_counts(quiet, clocks):
    old, fresh = W0_NS - secs(3600), W0_NS - secs(0.5)
    assert not quiet.ready("a.txt", sig(10, old, (5, fresh)))
    assert not quiet.ready("b.txt", sig(10, fresh, (5, old)))
    assert quiet.next_look() == pytest.approx(1.5)
    assert quiet.ready("c.txt", sig(10, old, (5, old)))


# --- content/intake.py: scan with and without a QuietPeriod ---


QUIET = 5.0
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path)


@pytest.fixture
def store(site):
    store = Store(site.store_url)
    yield store
    store.close()


def test_a_file_just_written_waits_then_is_read(site, store):
    clocks = FakeClocks()
    quiet = QuietPeriod(QUIET, wall=clocks.wall, monotonic=clocks.monotonic)
    clocks.write(site.content_dir / "notes/hubs.md", MD)
    report = scan(site, store, T0, quiet)
    assert report.waiting == ("notes/hubs.md",)
    assert report.files == 1 and report.parsed == 0 and not report.changed
    assert store.files() == {} and store.count_posts() == 0
    assert 0 < quiet.next_look() <= QUIET
    clocks.advance(QUIET)
    report = scan(site, store, T0 + timedelta(seconds=5), quiet)
    assert report.waiting == () and report.parsed == 1 and len(report.new) == 1
    assert [p.title for p in store.posts()] == ["Hubs"]


def test_a_move_aside_save_never_withdraws_and_ends_as_one_update(site, store):
    path = site.content_dir / "hubs.md"
    write(path, MD)
    [post_id] = scan(site, store, T0).new
    clocks = FakeClocks()
    quiet = QuietPeriod(QUIET, wall=clocks.wall, monotonic=clocks.monotonic)

    os.rename(path, site.content_dir / "hubs.md~")  # the editor moves the old file aside
    report = scan(site, store, T0 + timedelta(seconds=1), quiet)
    assert report.waiting == ("hubs.md",) and report.withdrawn == ()
    assert store.count_posts() == 1

    clocks.advance(QUIET - 1)
    clocks.write(path, MD.replace("Family hubs text.", "Edited text."))  # and writes anew
    report = scan(site, store, T0 + timedelta(seconds=2), quiet)
    assert report.waiting == ("hubs.md",) and report.withdrawn == () and not report.changed
    clocks.advance(QUIET - 1)  # past the quiet period of the absence; not of the new file
    report = scan(site, store, T0 + timedelta(seconds=3), quiet)
    assert report.waiting == ("hubs.md",) and report.withdrawn == ()
    assert store.count_posts() == 1

    clocks.advance(QUIET)
    report = scan(site, store, T0 + timedelta(seconds=4), quiet)
    assert report.updated == (post_id,) and report.new == () and report.withdrawn == ()
    assert report.waiting == ()
    [post] = store.posts()
    assert post.id == post_id and "Edited text." in post.body_html
    assert not scan(site, store, T0 + timedelta(seconds=5), quiet).changed


def test_a_file_that_stays_gone_is_withdrawn_after_the_quiet_period(site, store):
    path = site.content_dir / "hubs.md"
    write(path, MD)
    [post_id] = scan(site, store, T0).new
    clocks = FakeClocks()
    quiet = QuietPeriod(QUIET, wall=clocks.wall, monotonic=clocks.monotonic)
    path.unlink()
    assert scan(site, store, T0, quiet).withdrawn == ()
    clocks.advance(QUIET)
    report = scan(site, store, T0, quiet)
    assert report.withdrawn == (post_id,) and report.waiting == ()
    assert store.count_posts() == 0


def test_without_a_quiet_period_everything_is_read_at_once(site, store):
    path = site.content_dir / "hubs.md"
    write(path, MD)
    report = scan(site, store, T0)
    assert report.parsed == 1 and len(report.new) == 1 and report.waiting == ()
    path.unlink()
    report = scan(site, store, T0 + timedelta(seconds=1))
    assert len(report.withdrawn) == 1 and report.waiting == ()


# --- content/intake.py: is_temp_name ---


@pytest.mark.parametrize(
    "name",
    [
        *(".post.md.swp", ".post.md.swx", "4913", ".#post.md", "post.md~", "x.tmp", "#post.md#"),
        *(".hidden.md", "post.md.part", "post.md.crdownload"),
    ],
)
def test_editor_and_download_leftovers_are_temp(name):
    assert is_temp_name(name)


@pytest.mark.parametrize("name", ["post.md", "capture.txt", "4913.md", "swp.md", "a#b.md"])
def test_content_names_are_not_temp(name):
    assert not is_temp_name(name)


# --- service/watch.py: ContentWatcher on real inotify ---

SETTLE_EVENTS = 0.5  # how long to watch for an event that must not come


class Pokes:
    def __init__(self) -> None:
        self.count = 0
        self._event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self._event.set()

    def wait(self, timeout: float = 5.0) -> bool:
        return self._event.wait(timeout)

    def quiet(self, seconds: float = 0.3) -> None:
        """Wait until no poke has come for `seconds`, then forget them all."""
        while self._event.wait(seconds):
            self._event.clear()
        self.count = 0


@pytest.fixture
def watched(tmp_path) -> Iterator[tuple[Path, Pokes]]:
    folder = tmp_path / "content"
    folder.mkdir()
    write(folder / "post.md", MD)
    pokes = Pokes()
    watcher = ContentWatcher(folder, pokes)
    watcher.start()
    try:
        pokes.quiet(0.2)
        yield folder, pokes
    finally:
        watcher.stop()


def test_writing_a_post_pokes(watched):
    folder, pokes = watched
    write(folder / "new.md", MD)
    assert pokes.wait()


def test_a_file_in_a_new_subfolder_pokes(watched):
    folder, pokes = watched
    (folder / "2026").mkdir()
    assert pokes.wait()
    pokes.quiet()  # the folder's own events are over; now only the file's can come
    write(folder / "2026" / "post.md", MD)
    assert pokes.wait()


def test_reading_a_post_does_not_poke(watched):
    folder, pokes = watched
    assert (folder / "post.md").read_text(encoding="utf-8") == MD
    assert not pokes.wait(SETTLE_EVENTS)


def test_writing_only_a_swap_file_does_not_poke(watched):
    folder, pokes = watched  # watchdog also reports the folder as modified: not a poke
    write(folder / ".post.md.swp", b"\0swap")
    (folder / "4913").write_bytes(b"")
    (folder / "4913").unlink()
    assert not pokes.wait(SETTLE_EVENTS), f"{pokes.count} pokes"


# --- core/clock.py ---


def test_no_offset_is_real_utc_time():
    for environ in ({}, {"POSTROOM_CLOCK_OFFSET": ""}, {"POSTROOM_CLOCK_OFFSET": "  "}):
        clock = clock_from_env(environ)
        before = datetime.now(UTC)
        now = clock()
        assert before <= now <= datetime.now(UTC) and now.utcoffset() == timedelta(0)


@pytest.mark.parametrize("raw, seconds", [("3600", 3600), ("-90.5", -90.5), (" 0.25 ", 0.25)])
def test_an_offset_shifts_the_clock(raw, seconds):
    clock = clock_from_env({"POSTROOM_CLOCK_OFFSET": raw})
    shift = timedelta(seconds=seconds)
    before = datetime.now(UTC)
    now = clock()
    assert before + shift <= now <= datetime.now(UTC) + shift


@pytest.mark.parametrize("raw", ["soon", "2 days", "1e400", "nan", "1e20", "1e13", "-1e11"])
def test_a_garbage_offset_is_a_clock_error(raw):
    with pytest.raises(ClockError, match="POSTROOM_CLOCK_OFFSET must be a number of seconds"):
        clock_from_env({"POSTROOM_CLOCK_OFFSET": raw})


def test_the_cli_refuses_a_garbage_offset(tmp_path, monkeypatch, capsys):
    site = make_site(tmp_path)
    monkeypatch.setenv("POSTROOM_CLOCK_OFFSET", "next tuesday")
    assert scheduler.main(["--site", str(site.root), "status"]) == 2
    captured = capsys.readouterr()
    assert "POSTROOM_CLOCK_OFFSET must be a number of seconds" in captured.err
    assert "'next tuesday'" in captured.err and captured.out == ""


# --- service/logs.py ---


@contextmanager
def kept_logging() -> Iterator[None]:
    """configure() replaces the root logger's handlers: put them (and levels) back, within the
    test itself, so pytest's own handlers are whole again for the phases after it."""
    root, ours = logging.getLogger(), logging.getLogger("postroom")
    handlers, root_level, our_level = root.handlers[:], root.level, ours.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        ours.setLevel(our_level)


def _recent(stamp: str) -> bool:
    moment = datetime.fromisoformat(stamp)
    return moment.utcoffset() == timedelta(0) and abs(datetime.now(UTC) - moment) < timedelta(
        seconds=5
    )


def test_text_lines_have_time_level_event_and_message():
    out = io.StringIO()
    with kept_logging():
        logs.configure("text", out)
        logs.event("scan", "2 files, 2 posts", files=2, posts=2)
        logs.event("problem", "broken.md: bad front matter", logging.ERROR, file="broken.md")
    first, second = out.getvalue().splitlines()
    stamp, rest = first.split(" ", 1)
    assert rest == "INFO    scan: 2 files, 2 posts"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stamp) and _recent(stamp)
    assert second.split(" ", 1)[1] == "ERROR   problem: broken.md: bad front matter"


def test_json_lines_are_one_object_each_with_the_fields():
    out = io.StringIO()
    with kept_logging():
        logs.configure("json", out)
        logs.event("build", "public/: 3 files written", written=3, ids=["a", "b"])
        logs.event("lease", "standby: «other» runs", logging.WARNING, holder="h:1")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert _recent(first.pop("ts"))
    assert first == {
        "level": "info",
        "event": "build",
        "message": "public/: 3 files written",
        "written": 3,
        "ids": ["a", "b"],
    }
    assert second["level"] == "warning" and second["message"] == "standby: «other» runs"
    assert second["event"] == "lease" and second["holder"] == "h:1"


def test_postroom_debug_lines_are_left_out():
    out = io.StringIO()
    with kept_logging():
        logs.configure("text", out)
        logs.event("scan", "detail", logging.DEBUG)
    assert out.getvalue() == ""


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_library_warning_comes_out_in_the_same_format_and_its_info_does_not(fmt):
    out = io.StringIO()
    library = logging.getLogger("apscheduler.scheduler")
    with kept_logging():
        logs.configure(fmt, out)
        library.info("Added job %s", "scan")
        library.warning("Run time of job %s was missed by %s", "digest", "0:00:03")
    message = "Run time of job digest was missed by 0:00:03"
    [line] = out.getvalue().splitlines()
    if fmt == "json":
        fields = json.loads(line)
        assert _recent(fields.pop("ts"))
        assert fields == {"level": "warning", "event": "apscheduler.scheduler", "message": message}
    else:
        stamp, rest = line.split(" ", 1)
        assert _recent(stamp) and rest == f"WARNING apscheduler.scheduler: {message}"


def test_apschedulers_skipped_run_warning_is_left_out():
    out = io.StringIO()
    library = logging.getLogger("apscheduler.scheduler")
    with kept_logging():
        logs.configure("text", out)
        library.warning(
            'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
            "scan",
            1,
        )
        library.warning("Run time of job %s was missed", "scan")
    [line] = out.getvalue().splitlines()
    assert line.endswith("WARNING apscheduler.scheduler: Run time of job scan was missed")


def test_a_post_another_command_stored_is_published_by_the_service(site, store):
    """The service holds a new file for its quiet period; `check` (a scan without the
    quiet period, and no build) stores its post meanwhile. The service's next look finds
    the file known, nothing changed by its own scan: it must still build the post."""
    clocks = FakeClocks()
    quiet = QuietPeriod(QUIET, wall=clocks.wall, monotonic=clocks.monotonic)
    jobs = Jobs(Context(site, store, lambda: T0), None, quiet=quiet)
    clocks.write(site.content_dir / "one.md", MD)
    clocks.advance(QUIET)
    jobs.scan()
    jobs.refresh()  # the first build
    pages = site.public_dir / "posts"
    assert len(list(pages.glob("*/index.html"))) == 1
    clocks.write(site.content_dir / "two.md", MD.replace("Hubs", "Second"))
    assert jobs.scan(ScanScope(frozenset({"two.md"}))).waiting == ("two.md",)
    scan(site, store, T0)  # `postroom check`, beside the service
    assert store.count_posts() == 2
    clocks.advance(QUIET)
    report = jobs.scan(ScanScope(frozenset(quiet.held())))
    assert not report.changed  # its own scan found nothing new...
    assert len(list(pages.glob("*/index.html"))) == 2  # ...and it built the post anyway


# --- service/jobs.py: the digest job's log ---


def test_a_slot_found_decided_is_said_once_a_slot(site, store):
    """A restarted service's digest job says it found the slot decided (the service tests
    wait on that line), once: the job runs every tick of the week."""
    ctx = Context(site, store, lambda: T0)
    out = io.StringIO()
    with kept_logging():
        logs.configure("json", out)
        first = Jobs(ctx, None)
        assert first.decide().outcome == "before-start"
        first.decide()  # its own decision: not news
        restarted = Jobs(ctx, None)
        assert restarted.decide().already and restarted.decide().already
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    made, decided = lines
    assert made["outcome"] == "before-start" and "already" not in made
    assert decided["message"].startswith("slot already decided: ")
    assert (decided["slot"], decided["outcome"], decided["already"]) == (
        made["slot"],
        "before-start",
        True,
    )


# --- store/activity.py and `postroom status` ---


def test_activity_keeps_the_last_record_of_each_name(site, store):
    assert last(store, "scan") is None
    record(store, "scan", T0, {"files": 1, "paths": ["café.md"]})
    record(store, "build", T0, {"written": 4})
    later = T0 + timedelta(minutes=5)
    record(store, "scan", later, {"files": 2})
    scanned = last(store, "scan")
    assert scanned is not None
    assert (scanned.name, scanned.at, scanned.data) == ("scan", later.isoformat(), {"files": 2})
    assert last(store, "build").data == {"written": 4}
    reopened = Store(site.store_url)  # another process reads what this one recorded
    try:
        assert last(reopened, "scan").data == {"files": 2}
    finally:
        reopened.close()


def test_status_json_after_run_once(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("POSTROOM_CLOCK_OFFSET", raising=False)
    first_of_archive = ARCHIVE.split("Thursday, 1 March 2018")[0]  # one post, twice captured
    files = {"archive.txt": ARCHIVE, "copy.txt": first_of_archive, "broken.md": BROKEN}
    site = make_site(tmp_path, files)
    root = str(site.root)
    before = datetime.now(UTC)
    with kept_logging():
        assert scheduler.main(["--site", root, "run", "--once"]) == 0
    capsys.readouterr()
    assert scheduler.main(["--site", root, "status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)

    scanned, built = info["last_scan"], info["last_build"]
    assert before <= datetime.fromisoformat(scanned["at"]) <= datetime.now(UTC)
    assert {k: v for k, v in scanned.items() if k != "at"} == {
        "files": 3,
        "parsed": 3,
        "new": 2,
        "updated": 0,
        "withdrawn": 0,
        "waiting": 0,
        "problems": 1,
    }
    assert set(built) == {"at", "written", "unchanged", "removed"}
    assert built["written"] > 0 and built["removed"] == 0
    assert datetime.fromisoformat(built["at"]) >= datetime.fromisoformat(scanned["at"])
    assert info["posts"] == 2
    [problem] = info["problems"]
    assert problem["file"] == "broken.md" and problem["severity"] == "error"
    assert info["scheduler"] is None
    assert info["last_issue"] is None

    slot = datetime.fromisoformat(info["next_digest"])
    assert slot.utcoffset() == timedelta(0)
    local = slot.astimezone(ZoneInfo("Europe/London"))
    assert (local.weekday(), local.hour, local.minute) == (0, 7, 0)
    assert before < slot <= before + timedelta(days=7)


@pytest.mark.parametrize(
    "zone, now, expected",
    [
        # a Wednesday in November: the next Monday, 07:00 GMT
        ("Europe/London", datetime(2026, 11, 25, 10, 0, tzinfo=UTC), "2026-11-30T07:00:00+00:00"),
        # the clocks go forward on Sunday 29 March 2026: 07:00 BST is 06:00 UTC
        ("Europe/London", datetime(2026, 3, 25, 12, 0, tzinfo=UTC), "2026-03-30T06:00:00+00:00"),
        # and back on Sunday 25 October 2026
        ("Europe/London", datetime(2026, 10, 20, 12, 0, tzinfo=UTC), "2026-10-26T07:00:00+00:00"),
        # a minute before the slot, and at the slot itself (the next one is a week on)
        ("Europe/London", datetime(2026, 11, 30, 6, 59, tzinfo=UTC), "2026-11-30T07:00:00+00:00"),
        ("Europe/London", datetime(2026, 11, 30, 7, 0, tzinfo=UTC), "2026-12-07T07:00:00+00:00"),
        # another site timezone: 07:00 EST
        (
            "America/New_York",
            datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
            "2026-11-30T12:00:00+00:00",
        ),
        # Monday 07:00 in New York is still ahead at 11:00 UTC that Monday
        (
            "America/New_York",
            datetime(2026, 11, 30, 11, 0, tzinfo=UTC),
            "2026-11-30T12:00:00+00:00",
        ),
    ],
)
def test_status_next_digest_is_the_next_monday_0700_in_the_site_timezone(
    tmp_path, zone, now, expected
):
    config = f'[site]\nbase_url = "https://notes.example.org/"\ntimezone = "{zone}"\n'
    site = make_site(tmp_path, config=config)
    store = Store(site.store_url)
    try:
        info = status_json(site, store, now)
    finally:
        store.close()
    assert info["next_digest"] == expected
    assert info["last_scan"] is None and info["last_build"] is None and info["posts"] == 0


def test_status_names_the_running_service_and_null_without_one(site, store):
    now = datetime.now(UTC)
    assert status_json(site, store, now)["scheduler"] is None
    lease = role_lease(store, Service.LEASE)
    assert lease.acquire(now)
    try:
        assert status_json(site, store, now)["scheduler"] == this_process()
    finally:
        lease.release()
    assert status_json(site, store, now)["scheduler"] is None


def test_status_lists_a_problem_the_scan_and_the_build_share_once():
    scan = {"file": "a.txt", "reason": "no date", "severity": "warning"}
    build = {"file": "b.md", "reason": "cut short", "severity": "warning"}
    assert unique_problems([scan, build, dict(scan)]) == [scan, build]
    other = {**scan, "reason": "other"}
    assert unique_problems([scan, other]) == [scan, other]
