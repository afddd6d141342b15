"""The safety-net walk in slices (service.slices) against one full walk: after a whole
cycle, the same store rows and the same report, whatever changed without an event.

One content folder, two SQLite stores, as in tests/test_delta_scan.py: each step changes
the folder, then the "full" store is scanned by one walk of everything and the "sliced"
store by a cycle of slices (each top-level folder its own slice) ending in the delta
scan of what the slices found differs."""

import os
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from postroom.content.intake import scan
from postroom.service import slices
from postroom.service.slices import SliceWalk, Walk
from postroom.store import Store
from postroom.store.layout import TopLevel, top_level
from sqlalchemy import select
from support import make_site, write

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def md(title: str, day: str = "2021-07-23", body: str = "Text.") -> str:
    return f"---\ntitle: {title}\ndate: {day}\nauthor: Sam\n---\n{body}\n"


def rows(store: Store) -> dict[str, list[tuple]]:
    from postroom.store.schema import files, posts, versions

    with store.engine.connect() as conn:
        return {
            table.name: sorted(tuple(row) for row in conn.execute(select(table)).all())
            for table in (files, posts, versions)
        }


def fields(report) -> dict:
    found = dict(report.__dict__)
    del found["walked"]
    return found


class Pair:
    def __init__(self, root: Path) -> None:
        self.site = make_site(
            root,
            {
                "a.md": md("Alpha"),
                "2019/01/b.md": md("Beta"),
                "2019/02/c.md": md("Gamma"),
                "2020/d.md": md("Delta"),
                "2020/deep/e.md": md("Epsilon"),
                "2021/f.md": md("Zeta"),
                "zz/g.md": md("Eta"),
            },
        )
        self.content = self.site.content_dir
        self.full = Store(f"sqlite:///{root / 'full.db'}")
        self.sliced = Store(f"sqlite:///{root / 'sliced.db'}")
        self.walk = SliceWalk(self.site, self.sliced, slice_files=1, slice_seconds=0)
        self.now = T0
        assert len(scan(self.site, self.full, self.now).new) == 7
        scan(self.site, self.sliced, self.now)
        assert rows(self.full) == rows(self.sliced)
        # a first cycle counts the files: from the next on, a folder of more than one
        # file is looked at as its own files, then each subfolder (2019, 2020)
        assert self.cycle()[0].walk is Walk.NOTHING
        assert self.walk._split == {"2019", "2020"}

    def close(self) -> None:
        self.full.close()
        self.sliced.close()

    def cycle(self, between=None):
        """One cycle of slices on the sliced store (`between(n)` after slice n), then its
        scan; the outcome and the scan's report (None when nothing differed)."""
        self.now += timedelta(minutes=5)
        n = 0
        while not (outcome := self.walk.step()).done:
            n += 1
            if between:
                between(n)
        if outcome.walk is Walk.SCOPE:
            return outcome, scan(self.site, self.sliced, self.now, scope=outcome.scope)
        if outcome.walk is Walk.FULL:
            return outcome, scan(self.site, self.sliced, self.now)
        return outcome, None

    def step(self, between=None):
        """A cycle against a full walk at the same moment: the same rows and report."""
        outcome, sliced = self.cycle(between)
        full = scan(self.site, self.full, self.now)
        assert rows(self.full) == rows(self.sliced)
        if sliced is None:
            assert not full.changed and not full.parsed and not full.problems
        else:
            assert fields(full) == fields(sliced)
        return outcome, full, sliced


@pytest.fixture
def pair(tmp_path):
    made = Pair(tmp_path)
    yield made
    made.close()


def test_nothing_changed_means_no_scan_at_all(pair):
    outcome, _, sliced = pair.step()
    assert outcome.walk is Walk.NOTHING and sliced is None


def test_new_edited_and_deleted_files_in_many_folders_and_the_root(pair):
    write(pair.content / "2019" / "01" / "new.md", md("Theta"))
    write(pair.content / "2020" / "d.md", md("Delta", body="Edited."))
    (pair.content / "2021" / "f.md").unlink()
    write(pair.content / "root.md", md("Iota"))
    (pair.content / "a.md").unlink()
    write(pair.content / "fresh" / "h.md", md("Kappa"))
    outcome, full, sliced = pair.step()
    assert outcome.walk is Walk.SCOPE and not sliced.walked
    assert (len(full.new), len(full.updated), len(full.withdrawn)) == (3, 1, 2)


def test_a_file_moved_between_two_slices_is_a_rename_either_way(pair):
    os.rename(pair.content / "zz" / "g.md", pair.content / "2019" / "g.md")  # late -> early
    os.rename(pair.content / "2019" / "02" / "c.md", pair.content / "zz" / "c.md")  # early -> late
    _, full, _ = pair.step()
    assert not full.changed and full.parsed == 2  # the same posts, their files moved


def test_gone_folders_and_root_files_are_found_from_what_the_store_knows(pair):
    for path in (pair.content / "2020").rglob("*.md"):
        path.unlink()
    for folder in sorted((pair.content / "2020").rglob("*"), reverse=True):
        folder.rmdir()
    (pair.content / "2020").rmdir()
    os.rename(pair.content / "zz", pair.content / ".hidden")  # out of the walk's sight
    os.rename(pair.content / "2021", pair.content / "elsewhere")
    os.symlink(pair.content / "elsewhere", pair.content / "2021")  # a link: not walked
    _, full, _ = pair.step()
    assert len(full.withdrawn) == 3 and full.parsed == 1  # elsewhere/f.md: the same post


def test_a_split_folder_gone_made_a_link_or_grown_is_seen_as_the_walk_sees_it(pair):
    write(pair.content / "2019" / "own.md", md("Own"))  # right in a split folder
    write(pair.content / "2019" / "03" / "new.md", md("March"))  # a new subfolder
    os.rename(pair.content / "2020", pair.content / "moved")
    os.symlink(pair.content / "moved", pair.content / "2020")  # a link: not walked into
    _, full, _ = pair.step()
    assert len(full.new) == 2 and full.parsed == 4  # 2 new, 2 moved into moved/
    (pair.content / "2020").unlink()
    for path in (pair.content / "2019").rglob("*.md"):
        path.unlink()
    _, full, _ = pair.step()
    assert len(full.withdrawn) == 4


def test_a_split_folder_of_many_files_of_its_own_is_looked_at_whole(pair, monkeypatch):
    monkeypatch.setattr(slices, "OWN_FILES_MAX", 2)
    for n in range(3):
        write(pair.content / "2019" / f"own-{n}.md", md(f"Own {n}"))
    _, full, _ = pair.step()
    assert len(full.new) == 3 and "2019" in pair.walk._flat and "2019" not in pair.walk._split
    (pair.content / "2019" / "own-0.md").unlink()
    _, full, _ = pair.step()
    assert len(full.withdrawn) == 1 and "2019" not in pair.walk._split


def test_a_sidecar_beside_a_root_file_changes_its_post(pair):
    write(pair.content / "a.meta.toml", 'author = "Someone Else"\n')
    _, full, _ = pair.step()
    assert len(full.updated) == 1


def test_a_refused_file_is_looked_at_every_cycle_and_mended_alike(pair, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text(md("Outside"))
    os.symlink(outside, pair.content / "2019" / "link.md")
    _, full, _ = pair.step()
    assert any(p.file == "2019/link.md" for p in full.problems)
    outcome, _, _ = pair.step()  # refused as before: asked again, nothing new
    assert "2019/link.md" in outcome.scope.files
    (pair.content / "2019" / "link.md").unlink()
    write(pair.content / "2019" / "link.md", md("Lambda"))
    _, full, _ = pair.step()
    assert len(full.new) == 1 and not full.problems


def test_what_only_a_full_walk_judges_ends_the_cycle_in_one(pair, monkeypatch):
    write(pair.content / os.fsdecode(b"bad\xff") / "x.md", md("Mu"))  # a refused folder name
    outcome, full, sliced = pair.step()
    assert outcome.walk is Walk.FULL and sliced.walked and full.unlisted
    (pair.content / os.fsdecode(b"bad\xff") / "x.md").unlink()
    (pair.content / os.fsdecode(b"bad\xff")).rmdir()
    monkeypatch.setattr(slices, "OWN_FILES_MAX", 2)  # a flat folder of loose files
    for n in range(3):
        write(pair.content / f"loose-{n}.md", md(f"Loose {n}"))
    outcome, full, _ = pair.step()
    assert outcome.walk is Walk.FULL and len(full.new) == 3


def test_a_change_during_a_cycle_is_found_by_it_or_by_the_next(pair):
    """Ahead of the slices: found by this cycle. Behind them: by the next, as a walk
    finds a change in a folder it has passed only the next time."""

    def change(n: int) -> None:
        if n == 1:  # the first slice (2019) is looked at; zz/ is not yet
            write(pair.content / "zz" / "ahead.md", md("Nu"))
            write(pair.content / "2019" / "behind.md", md("Xi"))

    outcome, sliced = pair.cycle(change)
    assert sliced is not None and len(sliced.new) == 1
    assert "zz/ahead.md" in outcome.scope.files
    _, sliced = pair.cycle()  # the next: level with a full walk (at another moment)
    assert len(sliced.new) == 1
    full = scan(pair.site, pair.full, pair.now)
    assert len(full.new) == 2 and full.files == sliced.files
    files = {name: [row[:2] for row in found] for name, found in rows(pair.full).items()}
    assert files == {name: [row[:2] for row in found] for name, found in rows(pair.sliced).items()}


def test_slices_are_grouped_by_last_cycles_counts(pair):
    walk = SliceWalk(pair.site, pair.sliced, slice_files=3, slice_seconds=0)

    def slices() -> int:
        n = 1
        while not walk.step().done:
            n += 1
        return n

    assert slices() == 4  # not counted yet: 2019, 2020, 2021 and zz each alone
    assert slices() == 3  # 2019 (2 files), 2020 + 2021 (2 + 1), zz (1)
    walk.slice_seconds = 60
    assert slices() == 1  # groups looked at until a step has taken its time


def _top_levels_named(site, store) -> None:
    for path in ["b.txt~", "a.md", "a-b/x.md", "a/x.md", "a/y/z.md", "a0/x.md", "ab/x.md", "z.md"]:
        write(site.content_dir / path, md(path))
    scan(site, store, T0)
    top = top_level(store)
    assert top.files == {"a.md", "z.md"}  # a backup file is no post: no row
    assert top.folders == {"a-b", "a", "a0", "ab"}
    assert top_level(store, "a") == TopLevel(frozenset({"a/x.md"}), frozenset({"a/y"}))
    assert top_level(store, "a/y") == TopLevel(frozenset({"a/y/z.md"}), frozenset())
    assert top_level(store, "nothing") == TopLevel(frozenset(), frozenset())


def test_the_store_names_its_top_level_entries(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    try:
        _top_levels_named(site, store)
    finally:
        store.close()


@pytest.mark.postgresql
def test_the_store_names_its_top_level_entries_on_postgresql(tmp_path, pg_url):
    """Not by skipping through the key (a collation need not be byte order): in SQL."""
    site = make_site(tmp_path)
    store = Store(pg_url)
    try:
        _top_levels_named(site, store)
    finally:
        store.close()


# --- the service: a change no event told of is found by the slices ---

SITE = (
    '[site]\nbase_url = "https://notes.example.org/"\n'
    "[service]\npoll_seconds = 1\nquiet_seconds = 1\n"
)


def test_the_service_finds_an_edit_no_event_told_of(tmp_path):
    """An edit made through a hard link outside the content folder raises no inotify
    event in it (the kernel tells the watches of the path written through): only the
    walk can find it, and with a healthy watcher the walk is done in slices."""
    from service_support import Service

    site = make_site(tmp_path / "site", config=SITE)
    write(site.content_dir / "2019" / "a.md", md("Alpha"))
    write(site.content_dir / "2020" / "b.md", md("Beta"))
    link = tmp_path / "b-link.md"
    os.link(site.content_dir / "2020" / "b.md", link)
    beta = "2021-07-23-beta"
    with Service(site.root) as service:
        # both files are new, held for the quiet period: the edit must come after Beta
        # is stored, or it is read as part of the new post (not an update)
        service.wait_for(lambda e: e["event"] == "scan" and beta in e.get("ids", {}).get("new", []))
        said = [e["message"] for e in service.where("service")]
        assert any("a walk of it in slices" in m for m in said), said
        with open(link, "r+", encoding="utf-8") as out:  # in place: the same inode
            out.seek(0)
            out.write(md("Beta", body="Edited where no watch sees it."))
            out.truncate()
        updated = service.wait_for(
            lambda e: e["event"] == "scan" and beta in e.get("ids", {}).get("updated", []), 20
        )[0]
        at = next(n for n, e in enumerate(service.events) if e is updated)
        service.wait_for(
            lambda e: (
                e["event"] == "build"
                and "files written" in e["message"]
                and next(n for n, x in enumerate(service.events) if x is e) > at
            ),
            10,
        )
        code, _ = service.terminate()
    assert code == 0
    assert "Edited where no watch sees it." in (site.public_dir / "feed.json").read_text()


# --- the scan job in process (service.daemon.Service._scan_once), with a real watcher ---

QUIET_NONE = '[site]\nbase_url = "https://notes.example.org/"\n[service]\nquiet_seconds = 0\n'


class InProcess:
    """A Service not started (no timers, no lease): its scan job run by hand, fed by a
    real inotify watcher of the content folder."""

    def __init__(self, root: Path) -> None:
        from postroom.service.command import Context
        from postroom.service.daemon import Service
        from postroom.service.watch import ContentWatcher

        self.site = make_site(root, {"2019/a.md": md("Alpha")}, config=QUIET_NONE)
        self.store = Store(self.site.store_url)
        self.service = Service(
            Context(self.site, self.store, lambda: datetime.now(UTC)), None, poll_only=False
        )
        self.poked = threading.Event()
        self.watcher = ContentWatcher(self.site.content_dir, self.poked.set)
        self.watcher.start()
        self.service._watcher = self.watcher
        self.service._scan_once()  # the first: a walk of everything
        self.service._slice_took = 1e9  # no slice of the walk due: only events find posts

    def write_seen(self, name: str, title: str) -> None:
        """A new post, once the watcher has seen it."""
        self.poked.clear()
        write(self.site.content_dir / name, md(title))
        assert self.poked.wait(5), "no event"

    def titles(self) -> set[str]:
        return {post.title for post in self.store.posts()}

    def close(self) -> None:
        self.watcher.stop()
        self.store.close()


@pytest.fixture
def in_process(tmp_path):
    made = InProcess(tmp_path / "site")
    yield made
    made.close()


def test_paths_taken_for_a_scan_that_failed_are_scanned_by_the_next(in_process, monkeypatch):
    from postroom.service import jobs

    in_process.write_seen("2019/new.md", "Beta")
    real = jobs.scan

    def failing(*args, **kwargs):
        raise OSError("the disk went away for a moment")

    monkeypatch.setattr(jobs, "scan", failing)
    with pytest.raises(OSError):
        in_process.service._scan_once()
    monkeypatch.setattr(jobs, "scan", real)
    in_process.service._scan_once()
    assert in_process.titles() == {"Alpha", "Beta"}


def test_a_watcher_whose_folder_came_back_is_started_again(in_process):
    content = in_process.site.content_dir
    shutil.rmtree(content)
    deadline = time.monotonic() + 10
    while in_process.watcher.healthy() and time.monotonic() < deadline:
        in_process.poked.wait(0.1)  # its events come first; then its thread ends
    assert not in_process.watcher.healthy()
    content.mkdir()
    write(content / "2019" / "a.md", md("Alpha"))
    # started again by a scan: what happened meanwhile, walked. A watcher started while
    # the old folder's last events are still on their way can die at once (seen once in
    # ~10 full suites, cause not pinned down); the next scan starts it again, as a
    # service's would two seconds later, so a few scans are allowed, not one
    scans = 0
    while scans < 20 and (scans == 0 or not in_process.watcher.healthy()):
        in_process.service._scan_once()
        scans += 1
        in_process.poked.wait(0.05)  # the new watcher's events, if any, come first
    assert in_process.watcher.healthy(), f"not watching again after {scans} scans"
    in_process.write_seen("2020/b.md", "Beta")
    in_process.service._scan_once()  # by its event: a delta scan
    assert in_process.titles() == {"Alpha", "Beta"}


def test_no_slice_runs_while_a_new_post_is_held_for_its_quiet_period(in_process):
    """The slice would delay the post's reading by its own length; it waits instead,
    but not for ever (a file written without end holds the quiet period for ever)."""
    from postroom.content.quiet import QuietPeriod

    service = in_process.service
    service.quiet = service.jobs.quiet = QuietPeriod(60.0)
    in_process.write_seen("2019/young.md", "Young")
    service._scan_once()
    assert service.quiet.held() == {"2019/young.md"}
    service._slice_took = 0.0
    service._cycle_at = 0.0
    assert not service._slice_due()
    service.HOLD_MAX = 0.0
    assert service._slice_due()
    service.quiet.forget_except(())
    service.HOLD_MAX = 60.0
    assert service._slice_due()


def test_names_the_walk_takes_without_a_word_do_not_force_a_full_walk(tmp_path):
    """A non-ASCII folder or file name is content like any other, and macOS's `Icon\\r`
    is skipped by the walk without a report: neither may end every cycle in a full walk."""
    site = make_site(
        tmp_path, {"2020/a.md": md("Alpha"), "München/b.md": md("Beta"), "über.md": md("Gamma")}
    )
    (site.content_dir / "Icon\r").write_bytes(b"")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    report = scan(site, store, T0)
    assert len(report.new) == 3 and not report.problems
    walk = SliceWalk(site, store)
    outcomes = []
    for _ in range(3):
        while not (outcome := walk.step()).done:
            pass
        outcomes.append(outcome.walk)
    assert outcomes == [Walk.NOTHING] * 3
    store.close()


def test_a_refused_name_still_ends_the_cycle_in_a_full_walk(tmp_path):
    """Only the walk reports a refused name rightly: the slices hand it over."""
    site = make_site(tmp_path, {"2020/a.md": md("Alpha")})
    (site.content_dir / "bad\x07name.md").write_text(md("Beta"))
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    assert scan(site, store, T0).problems
    walk = SliceWalk(site, store)
    while not (outcome := walk.step()).done:
        pass
    assert outcome.walk is Walk.FULL
    store.close()


def test_a_flat_content_folder_goes_to_the_full_walk_before_asking_the_store(tmp_path, monkeypatch):
    """The store's count is a lookup per file (~24 s at 100,000 on SQLite); the disk's
    count decides first that a flat folder is the full walk's."""
    site = make_site(tmp_path, {f"p{i}.md": md(f"T{i}") for i in range(6)})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    scan(site, store, T0)
    asked = []
    monkeypatch.setattr(slices, "OWN_FILES_MAX", 5)
    monkeypatch.setattr(slices, "top_level", lambda *a: asked.append(a) or top_level(*a))
    walk = SliceWalk(site, store)
    while not (outcome := walk.step()).done:
        pass
    assert outcome.walk is Walk.FULL and asked == []
    store.close()


def test_a_content_folder_moved_away_and_made_again_is_watched_again(in_process):
    """`mv content content.old && mkdir content` (a deploy's swap): inotify follows the
    old folder, so the watcher must not call itself healthy on it."""
    content = in_process.site.content_dir
    os.rename(content, content.parent / "content.old")
    content.mkdir()
    write(content / "2019" / "a.md", md("Alpha"))
    assert not in_process.watcher.healthy()
    in_process.service._scan_once()  # started again on the new folder: walked
    assert in_process.watcher.healthy()
    in_process.write_seen("2020/b.md", "Beta")
    in_process.service._scan_once()
    assert in_process.titles() == {"Alpha", "Beta"}


def test_a_step_that_fails_starts_the_cycle_again_rather_than_skip_its_folders(pair, monkeypatch):
    write(pair.content / "2019" / "01" / "new.md", md("Theta"))
    real, failed = slices.top_level, []

    def once(*args):
        if not failed:
            failed.append(args)
            raise OSError("the store went away for a moment")
        return real(*args)

    monkeypatch.setattr(slices, "top_level", once)
    with pytest.raises(OSError):
        while not pair.walk.step().done:
            pass
    outcome, full, _ = pair.step()
    assert outcome.walk is Walk.SCOPE and full.new == ("2021-07-23-theta",)
