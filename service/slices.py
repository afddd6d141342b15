"""The service's safety-net walk, in slices: a few folders at a time, with the scans of
file events run between them, so a new post never waits for a walk of the whole folder
(seconds at 100,000 posts).

A slice lists its folders as the walk would (`content.intake.list_content`) and reads
the store's rows under them (a range of the primary key), without the scan lock, and
keeps the paths that differ: new, changed, gone, or refused last time. Nothing is
written yet. The first slice of a cycle is the content folder's own files; a folder
with more files than a slice is looked at, from the next cycle on, as its own files
and then each subfolder. When the last slice is done, every path kept is handed to one
delta scan (`ScanScope`). So the store hears of the cycle's changes all at once, as
from one full walk:
- a file moved between two slices' folders is one rename, not a withdrawal and a new
  post a few seconds apart;
- a file or folder gone from the disk is still found, because the store names it
  (`store.layout.top_level`: a folder's files and subfolders, as the store has them);
- whatever changed before the cycle began is found by its end, as a full walk finds
  what changed before it began. A change during the cycle, in a folder already looked
  at, waits for the next cycle, as it would for the next walk (and its event usually
  brings it sooner).

What a slice cannot judge as the walk would (a folder it cannot list, a name the walk
refuses, a content folder of thousands of loose files) ends the cycle with FULL: one
walk of everything, as before slices.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import Enum

from postroom.content.intake import (
    INTRO_FOLDER,
    ScanScope,
    is_temp_name,
    list_content,
    name_problem,
    stat_signature,
    was_refused,
)
from postroom.content.readers import SIDECAR_SUFFIX, reader_for
from postroom.core.config import Site
from postroom.store import FileRecord, Store
from postroom.store.layout import top_level

#: files a slice looks at, by the counts of the last cycle: ~0.1-0.2 s (a folder with
#: more is looked at as its own files, then each subfolder, from the next cycle on)
SLICE_FILES = 3_000
#: a step looks at groups until it has taken this long (a folder's files are one group)
SLICE_SECONDS = 0.1
#: files right in one folder past which it is not cut by subfolder but looked at whole,
#: and, for the content folder itself, slices give way to a full walk (a flat folder of
#: 100,000 files cannot be cut by subfolder: its one slice would be the whole walk)
OWN_FILES_MAX = 2_000


class Walk(Enum):
    """What a finished cycle asks of the scan."""

    NOTHING = "nothing"  # nothing differs: no scan at all
    SCOPE = "scope"  # a delta scan of `SliceWalk.scope`
    FULL = "full"  # a walk of everything


@dataclass(frozen=True)
class Outcome:
    """One step of a cycle: `done` once its last slice was looked at, then `walk` and
    `scope` say what the scan must do."""

    done: bool
    walk: Walk = Walk.NOTHING
    scope: ScanScope = field(default_factory=ScanScope)
    files: int = 0  # files this step listed


def _plain(name: str) -> bool:
    """A name every part of the walk takes as it is (the walk refuses some others, and
    reports them: only a full walk says so rightly)."""
    return name_problem(name) is None


class SliceWalk:
    """One walk of the content folder, done a slice at a time across many scan runs."""

    def __init__(
        self,
        site: Site,
        store: Store,
        slice_files: int = SLICE_FILES,
        slice_seconds: float = SLICE_SECONDS,
    ) -> None:
        self.site, self.store, self.slice_files = site, store, slice_files
        self.slice_seconds = slice_seconds
        self._queue: list[str] = []  # the cycle's folders still to look at
        self._kept: set[str] = set()  # paths that differ from the store, so far
        self._full = False
        self._counts: dict[str, int] = {}  # files under a folder, when last looked at
        self._split: set[str] = set()  # too big for a slice: its own files, then each subfolder
        self._flat: set[str] = set()  # too big, but its own files are most of it: whole
        self.cycling = False

    def step(self) -> Outcome:
        """Look at the next slice (the first starts a cycle, with the content folder's
        own files); once none is left, what the cycle found. A step that fails (the store
        unreachable) ends the cycle: its folders were taken off the queue unlooked at, and
        the next step starts again from the top rather than skip them."""
        try:
            return self._step()
        except BaseException:
            self.abandon()
            raise

    def _step(self) -> Outcome:
        listed, began = 0, time.monotonic()
        if not self.cycling:
            self.abandon()
            self.cycling, self._full = True, False
            self._queue = self._own("")
        while self._queue and not self._full:
            folder = self._queue.pop(0)
            if folder in self._split:
                self._queue[:0] = self._own(folder)
                continue
            group, size = [folder], self._counts.get(folder, self.slice_files)
            while self._queue and self._queue[0] not in self._split:
                more = self._counts.get(self._queue[0], self.slice_files)
                if size + more > self.slice_files:
                    break
                group.append(self._queue.pop(0))
                size += more
            listed += self._look(tuple(group))
            if time.monotonic() - began >= self.slice_seconds:
                break  # else small groups (uncounted yet, or a tiny site) go on
        if self._queue and not self._full:
            return Outcome(done=False, files=listed)
        return self._finish(listed)

    def abandon(self) -> None:
        """Forget the cycle under way (a full walk has just looked at everything)."""
        self.cycling = False
        self._queue, self._kept = [], set()

    def _own(self, folder: str) -> list[str]:
        """Keep the files right in `folder` ("": the content folder) that differ from the
        store's rows; its subfolders, on the disk or in the store, to look at next."""
        root = self.site.content_dir
        prefix = folder + "/" if folder else ""
        here = root / folder if folder else root
        children: set[str] = set()
        signatures: dict[str, str] = {}
        try:
            if not folder or (os.path.isdir(here) and not os.path.islink(here)):
                with os.scandir(here) as entries:
                    for entry in entries:
                        name = entry.name
                        if not entry.is_dir():
                            if is_temp_name(name):
                                continue
                            if not _plain(name):
                                if reader_for(name) is None:
                                    continue  # the walk skips it, and says nothing
                                self._full = True  # refused: the walk's to report
                                return []
                            signatures[name] = stat_signature(entry.path) or "gone"
                        elif name.startswith(".") or not (folder or name != INTRO_FOLDER):
                            continue  # not walked into, whatever its name
                        elif not _plain(name):
                            self._full = True  # refused: the walk's to report
                            return []
                        elif not entry.is_symlink():
                            children.add(prefix + name)
        except OSError:
            self._full = True  # cannot be listed: the walk's to report
            return []
        # the disk's count first: the store's is one lookup per file (~24 s at 100,000)
        known = None if len(signatures) > OWN_FILES_MAX else top_level(self.store, folder)
        if known is None or len(signatures) + len(known.files) > OWN_FILES_MAX:
            if not folder:
                self._full = True  # a flat content folder: one slice is the whole walk
                return []
            self._split.discard(folder)  # a flat folder: looked at whole, as before
            self._flat.add(folder)
            return [folder]
        if not all(map(_plain, known.folders)):
            self._full = True
            return []
        found = {}
        for name, signature in signatures.items():
            if reader_for(name) is None:
                continue
            side = signatures.get(os.path.splitext(name)[0] + SIDECAR_SUFFIX)
            found[prefix + name] = signature + (f"+{side}" if side else "")
        self._compare(found, self.store.files(known.files | set(found)))
        # a folder the store knows but the disk has no more (or not as a folder): its
        # rows are all gone (its slice says so); a file may be there by its name now
        self._kept.update(known.folders - children)
        return sorted(children | known.folders)

    def _look(self, group: tuple[str, ...]) -> int:
        """Keep the paths under `group` that differ from the store's rows."""
        root = self.site.content_dir
        found: dict[str, str] = {}
        for folder in group:
            if not os.path.isdir(root / folder) or os.path.islink(root / folder):
                self._counts[folder] = 0
                continue  # gone, or no folder to the walk: nothing under it is found
            listing = list_content(root, folder)
            if listing.unlisted or listing.problems:
                self._full = True
                return len(listing.files)
            self._counts[folder] = len(listing.files)
            if len(listing.files) > self.slice_files and folder not in self._flat:
                self._split.add(folder)  # from the next cycle on
            found.update(listing.files)
        self._compare(found, self.store.files((), group))
        return len(found)

    def _compare(self, found: dict[str, str], known: dict[str, FileRecord]) -> None:
        """Keep what the walk would find differs: new, changed, refused before, gone."""
        for path, signature in found.items():
            record = known.get(path)
            if record is None or record.signature != signature or was_refused(record):
                self._kept.add(path)
        self._kept.update(set(known) - set(found))

    def _finish(self, listed: int) -> Outcome:
        self.cycling = False
        if self._full:
            return Outcome(done=True, walk=Walk.FULL, files=listed)
        named = frozenset(self._kept)
        self._kept = set()
        if not named:
            return Outcome(done=True, files=listed)
        return Outcome(done=True, walk=Walk.SCOPE, scope=ScanScope(named), files=listed)
