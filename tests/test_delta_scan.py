"""A delta scan (a ScanScope from file events) against a full walk: the same change gives
the same store rows and the same report, whatever the change.

One content folder, two SQLite stores: each step changes the folder once, then the
"full" store is scanned by a walk of everything and the "delta" store by a scope that
names only what changed. Both saw the same files with the same stat signatures, at the
same `now`, so every row must be equal, byte for byte."""

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from postroom.content.intake import ScanScope, scan
from postroom.content.quiet import QuietPeriod
from postroom.store import Store
from sqlalchemy import select
from support import ARCHIVE, make_site, write

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def md(title: str, day: str = "2021-07-23", body: str = "Text.") -> str:
    return f"---\ntitle: {title}\ndate: {day}\nauthor: Sam\n---\n{body}\n"


class Pair:
    """A site and its two stores, scanned step by step, compared after every step."""

    def __init__(self, root: Path) -> None:
        self.site = make_site(
            root,
            {
                "a.md": md("Alpha"),
                "b.md": md("Beta"),
                "notes/c.md": md("Gamma"),
                "notes/deep/d.md": md("Delta"),
                "old/e.md": md("Epsilon"),
                "old/f.md": md("Zeta"),
            },
        )
        self.content = self.site.content_dir
        self.full = Store(f"sqlite:///{root / 'full.db'}")
        self.delta = Store(f"sqlite:///{root / 'delta.db'}")
        self.now = T0
        first = scan(self.site, self.full, self.now)
        scan(self.site, self.delta, self.now)
        assert len(first.new) == 6 and self.rows(self.full) == self.rows(self.delta)

    def close(self) -> None:
        self.full.close()
        self.delta.close()

    @staticmethod
    def rows(store: Store) -> dict[str, list[tuple]]:
        from postroom.store.schema import files, posts, versions

        with store.engine.connect() as conn:
            return {
                table.name: sorted(tuple(row) for row in conn.execute(select(table)).all())
                for table in (files, posts, versions)
            }

    def step(self, files=(), folders=(), quiet=None, delta_quiet=None):
        """Scan both stores (after the folder changed); assert the same rows and report."""
        self.now += timedelta(minutes=5)
        scope = ScanScope(frozenset(files), frozenset(folders))
        full = scan(self.site, self.full, self.now, quiet)
        delta = scan(self.site, self.delta, self.now, delta_quiet, scope=scope)
        assert full.walked
        assert self.rows(self.full) == self.rows(self.delta)
        assert _fields(full) == _fields(delta)
        return full, delta


def _fields(report) -> dict:
    fields = dict(report.__dict__)
    del fields["walked"]
    return fields


@pytest.fixture
def pair(tmp_path):
    made = Pair(tmp_path)
    yield made
    made.close()


def test_new_edited_and_deleted_files_as_a_full_walk_sees_them(pair):
    write(pair.content / "new.md", md("Eta"))
    full, delta = pair.step(files=["new.md"])
    assert len(full.new) == 1 and not delta.walked and delta.parsed == 1
    write(pair.content / "a.md", md("Alpha", body="Edited text."))
    full, _ = pair.step(files=["a.md"])
    assert len(full.updated) == 1
    (pair.content / "b.md").unlink()
    full, _ = pair.step(files=["b.md"])
    assert len(full.withdrawn) == 1 and full.files == 6


def test_a_rename_keeps_the_post_and_moves_its_file(pair):
    os.rename(pair.content / "a.md", pair.content / "renamed.md")
    full, _ = pair.step(files=["a.md", "renamed.md"])
    assert not full.changed and full.parsed == 1  # a post's files are not its fingerprint
    assert "renamed.md" in {row[0] for row in pair.rows(pair.delta)["files"]}


def test_a_folder_moved_removed_or_made_is_walked(pair):
    os.rename(pair.content / "old", pair.content / "moved")
    full, delta = pair.step(folders=["old", "moved"])
    assert full.parsed == 2 and not full.changed and not delta.walked
    for path in (pair.content / "notes").rglob("*.md"):
        path.unlink()
    for folder in sorted((pair.content / "notes").rglob("*"), reverse=True):
        folder.rmdir()
    (pair.content / "notes").rmdir()
    full, _ = pair.step(folders=["notes"])
    assert len(full.withdrawn) == 2
    write(pair.content / "fresh" / "one" / "g.md", md("Theta"))
    write(pair.content / "fresh" / "h.md", md("Iota"))
    full, _ = pair.step(folders=["fresh"])
    assert len(full.new) == 2
    os.rename(pair.content / "fresh", pair.content / ".hidden")  # out of the walk's sight
    full, _ = pair.step(folders=["fresh", ".hidden"])
    assert len(full.withdrawn) == 2


def test_a_post_appearing_in_an_archive_capture_is_one_post_with_two_files(pair):
    write(pair.content / "captures" / "archive.txt", ARCHIVE)
    full, _ = pair.step(folders=["captures"])
    assert len(full.new) == 2
    # the same capture again, elsewhere: no new post, each now in two files
    write(pair.content / "captures" / "again.txt", ARCHIVE)
    full, _ = pair.step(files=["captures/again.txt"])
    assert not full.changed and full.parsed == 1
    held = [row for row in pair.rows(pair.delta)["versions"] if row[0].startswith("captures/")]
    assert len(held) == 4 and len({row[2] for row in held}) == 2


def test_a_refused_file_is_reported_alike_and_mended_alike(pair, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text(md("Outside"))
    os.symlink(outside, pair.content / "link.md")
    full, _ = pair.step(files=["link.md"])
    assert any(p.file == "link.md" for p in full.problems)
    (pair.content / "link.md").unlink()
    write(pair.content / "link.md", md("Kappa"))
    full, _ = pair.step(files=["link.md"])
    assert len(full.new) == 1 and not any(p.file == "link.md" for p in full.problems)


def test_a_sidecar_changes_its_post(pair):
    write(pair.content / "notes" / "c.meta.toml", 'author = "Someone Else"\n')
    full, _ = pair.step(files=["notes/c.meta.toml"])
    assert len(full.updated) == 1


def test_a_refused_name_makes_the_delta_walk_everything(pair):
    write(pair.content / os.fsdecode(b"bad\xff.md"), md("Lambda"))
    full, delta = pair.step(files=[os.fsdecode(b"bad\xff.md")])
    assert delta.walked and full.unlisted and full.problems


def test_paths_out_of_sight_are_not_posts(pair):
    write(pair.content / ".draft.md", md("Mu"))
    write(pair.content / "_digest" / "intro.md", md("Nu"))
    write(pair.content / "a.md.swp", md("Xi"))
    full, _ = pair.step(files=[".draft.md", "_digest/intro.md", "a.md.swp"], folders=["_digest"])
    assert not full.changed


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def test_quiet_period_holds_are_the_same_and_released_the_same(pair):
    """A young file is held back by both; looked at again by path (no new event), it is
    read by both once quiet; a file gone for an instant is not withdrawn by either."""
    clocks = [Clock(), Clock()]
    walls = [lambda: os.stat(pair.content / "young.md").st_mtime] * 2
    quiets = [QuietPeriod(1.0, wall, mono) for wall, mono in zip(walls, clocks, strict=True)]
    write(pair.content / "young.md", md("Omicron"))
    full, _ = pair.step(files=["young.md"], quiet=quiets[0], delta_quiet=quiets[1])
    assert full.waiting == ("young.md",) and not full.new
    for clock in clocks:
        clock.t += 2
    held = quiets[1].held()
    assert held == {"young.md"}
    full, _ = pair.step(files=held, quiet=quiets[0], delta_quiet=quiets[1])
    assert len(full.new) == 1 and not full.waiting
    (pair.content / "a.md").unlink()
    full, _ = pair.step(files=["a.md"], quiet=quiets[0], delta_quiet=quiets[1])
    assert full.waiting == ("a.md",) and not full.withdrawn
    write(pair.content / "a.md", md("Alpha"))  # back: an editor's save by moving aside
    full, _ = pair.step(files=quiets[1].held() | {"a.md"}, quiet=quiets[0], delta_quiet=quiets[1])
    assert not full.withdrawn and full.waiting == ("a.md",)  # young again: held, not gone
    for clock in clocks:
        clock.t += 2
    full, _ = pair.step(files=quiets[1].held(), quiet=quiets[0], delta_quiet=quiets[1])
    assert not full.withdrawn and not full.waiting and not quiets[1].held()


def test_a_delta_scan_leaves_holds_outside_its_scope_alone(pair):
    quiet = QuietPeriod(60.0)
    write(pair.content / "young.md", md("Pi"))
    scan(pair.site, pair.delta, T0, quiet, scope=ScanScope(frozenset({"young.md"})))
    write(pair.content / "other.md", md("Rho"))
    report = scan(pair.site, pair.delta, T0, quiet, scope=ScanScope(frozenset({"other.md"})))
    assert report.waiting == ("other.md",) and quiet.held() == {"young.md", "other.md"}


# --- service/watch.py: which paths the watcher hands over (real inotify) ---


class Poked:
    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self) -> None:
        self.event.set()


def settle(watcher, poked, want, timeout: float = 5.0):
    """Changes taken until `want(changes)` holds (events come on watchdog's thread)."""
    from postroom.service.watch import Changes

    seen = Changes()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        poked.event.wait(0.1)
        poked.event.clear()
        got = watcher.take()
        everything = seen.everything or got.everything
        seen = Changes(seen.files | got.files, seen.folders | got.folders, everything)
        if want(seen):
            return seen
    return seen


@pytest.fixture
def watching(tmp_path):
    from postroom.service.watch import ContentWatcher

    folder = tmp_path / "content"
    write(folder / "a.md", md("Alpha"))
    write(folder / "old" / "e.md", md("Epsilon"))
    poked = Poked()
    watcher = ContentWatcher(folder, poked)
    watcher.start()
    try:
        yield folder, watcher, poked
    finally:
        watcher.stop()


def test_the_watcher_hands_over_the_paths_that_changed(watching):
    folder, watcher, poked = watching
    assert watcher.healthy() and not watcher.take()
    write(folder / "new.md", md("Eta"))
    os.rename(folder / "a.md", folder / "b.md")
    write(folder / ".x.md.swp", b"swap")  # never content
    seen = settle(watcher, poked, lambda c: {"new.md", "a.md", "b.md"} <= c.files)
    assert seen.files == {"new.md", "a.md", "b.md"} and not seen.everything
    assert not watcher.take()  # taken: forgotten
    os.rename(folder / "old", folder / "moved")
    seen = settle(watcher, poked, lambda c: {"old", "moved"} <= c.folders)
    assert {"old", "moved"} <= seen.folders and not seen.everything


def test_an_overflow_or_a_dead_watcher_means_walk_everything(watching):
    import logging

    _, watcher, poked = watching
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost"  # what watchdog logs
    )
    assert poked.event.is_set() and watcher.take().everything
    assert not watcher.take().everything
    watcher.stop()
    assert not watcher.healthy() and watcher.take().everything


def test_a_new_post_found_by_the_watchers_paths_alone(pair):
    """End to end: real events -> the watcher's paths -> a delta scan equal to a walk."""
    from postroom.service.watch import ContentWatcher

    poked = Poked()
    watcher = ContentWatcher(pair.content, poked)
    watcher.start()
    try:
        write(pair.content / "fresh" / "g.md", md("Theta"))
        os.rename(pair.content / "old", pair.content / "moved")
        (pair.content / "b.md").unlink()
        # all three events: the deletion may come after the folders' (seen flaking under load)
        seen = settle(
            watcher, poked, lambda c: {"fresh", "old", "moved", "b.md"} <= c.folders | c.files
        )
    finally:
        watcher.stop()
    full, delta = pair.step(files=seen.files, folders=seen.folders)
    assert len(full.new) == 1 and len(full.withdrawn) == 1 and not delta.walked
