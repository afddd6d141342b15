"""Filesystem events: which paths to look at, and when; never the source of truth.

The scan decides what changed, by comparing the folder with the store. inotify
(through watchdog) says "look now" and remembers WHICH paths it saw change, so the
service's next scan looks at those alone (a delta scan: content.intake.ScanScope); a
missed, merged or reordered event costs latency, not a post, because a full walk
still runs now and then as the safety net. What the watcher cannot map to paths (a
queue overflow, the folder itself moved or removed, a path outside it) becomes
"walk everything". Network and container mounts deliver no events: `--poll-only`
skips the watcher and the poll interval is the whole story.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from postroom.content.intake import is_temp_name
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

# Reading a file (as the scan does) must not wake the scan again.
_READS = frozenset({"opened", "closed_no_write"})
# watchdog tells no handler of a kernel queue overflow, only its log (inotify_c); and
# events were lost then, so the next scan must walk everything
_OVERFLOW_LOGGER = "watchdog.observers.inotify_c"
_OVERFLOW_TEXT = "queue overflowed"


@dataclass(frozen=True)
class Changes:
    """What the events since the last `take` named, relative to the content folder:
    files to look at, folders to walk, or `everything` when they cannot say."""

    files: frozenset[str] = frozenset()
    folders: frozenset[str] = frozenset()
    everything: bool = False

    def __bool__(self) -> bool:
        return bool(self.files or self.folders or self.everything)


class _Collect(FileSystemEventHandler):
    """Gathers the paths of events under `folder` (watchdog's thread) until taken."""

    def __init__(self, folder: Path, poke: Callable[[], None]) -> None:
        self.folder, self.poke = os.path.abspath(folder), poke
        self._lock = threading.Lock()
        self._files: set[str] = set()
        self._folders: set[str] = set()
        self._everything = False

    def take(self) -> Changes:
        with self._lock:
            taken = Changes(frozenset(self._files), frozenset(self._folders), self._everything)
            self._files, self._folders, self._everything = set(), set(), False
        return taken

    def everything(self) -> None:
        with self._lock:
            self._everything = True
        self.poke()

    def put_back(self, taken: Changes) -> None:
        """What a take handed over, kept again (its scan failed): the next take has it."""
        with self._lock:
            self._files |= taken.files
            self._folders |= taken.folders
            self._everything |= taken.everything

    def _relative(self, raw: bytes | str) -> str | None:
        """The path relative to the folder; "" for the folder itself; None when outside."""
        path = os.path.abspath(os.fsdecode(raw))
        if path == self.folder:
            return ""
        if not path.startswith(self.folder + os.sep):
            return None
        return path[len(self.folder) + 1 :].replace(os.sep, "/")

    @staticmethod
    def _hidden(relative: str) -> bool:
        """Inside a dot folder (.git, an editor's state): the scan skips those too."""
        return any(part.startswith(".") for part in relative.split("/")[:-1])

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _READS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # a folder's "modified" only echoes the events of the files in it
        paths = [p for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        relative = [self._relative(p) for p in paths]
        if any(r is None or r == "" for r in relative):  # outside, or the folder itself
            self.everything()
            return
        named = [r for r in relative if r is not None and not self._hidden(r)]
        if not event.is_directory:  # a swap or temp file is never content
            named = [r for r in named if not is_temp_name(r.rsplit("/", 1)[-1])]
        if not named:
            return
        with self._lock:
            (self._folders if event.is_directory else self._files).update(named)
        self.poke()


class _Overflow(logging.Handler):
    """Turns watchdog's "queue overflowed" warning into "walk everything"."""

    def __init__(self, collect: _Collect) -> None:
        super().__init__(logging.WARNING)
        self.collect = collect

    def emit(self, record: logging.LogRecord) -> None:
        if _OVERFLOW_TEXT in record.getMessage():
            self.collect.everything()


class ContentWatcher:
    """Calls `poke` when something under `folder` (subfolders too) may have changed, and
    keeps what changed for `take`."""

    def __init__(self, folder: Path, poke: Callable[[], None]) -> None:
        self.folder, self._handler = folder, _Collect(folder, poke)
        self._overflow = _Overflow(self._handler)
        self._observer: Observer | None = None
        self._stopped = False  # by stop(): never started again
        self._identity: tuple[int, int] | None = None  # the folder watched (dev, inode)

    def start(self) -> None:
        """Raises OSError when the platform watcher cannot start (inotify limits, say)."""
        observer = Observer()
        observer.schedule(self._handler, str(self.folder), recursive=True)
        observer.daemon = True
        logging.getLogger(_OVERFLOW_LOGGER).addHandler(self._overflow)
        try:
            observer.start()
        except BaseException:
            logging.getLogger(_OVERFLOW_LOGGER).removeHandler(self._overflow)
            raise
        self._observer = observer
        st = os.stat(self.folder)
        self._identity = (st.st_dev, st.st_ino)

    def take(self) -> Changes:
        """What changed since the last take (then forgotten); everything when not watching."""
        if not self.healthy():
            self._handler.take()
            return Changes(everything=True)
        return self._handler.take()

    def put_back(self, taken: Changes) -> None:
        """A take whose scan failed: its paths are handed over again by the next take,
        not left for the safety net's walk (a cycle of slices, tens of seconds)."""
        self._handler.put_back(taken)

    def revive(self) -> bool:
        """A watcher that died because its folder went (removed, moved away) is started
        again once the folder is back; True if it was. What changed meanwhile went
        unseen, so the next take says everything."""
        if self._stopped or self.healthy() or not self.folder.is_dir():
            return False
        self._halt()
        self.start()
        self._handler.everything()
        return True

    def healthy(self) -> bool:
        """Whether events are still coming: started, and its threads alive (an emitter
        dies with its folder, or on an error of its own)."""
        observer = self._observer
        if observer is None or not observer.is_alive():
            return False
        try:  # moved away and another made in its place: inotify follows the old one
            st = os.stat(self.folder)
        except OSError:
            return False
        if (st.st_dev, st.st_ino) != self._identity:
            return False
        emitters = getattr(observer, "emitters", None)  # watchdog < 7 named them so
        if emitters is None:
            emitters = getattr(observer, "_emitters", ())
        return all(emitter.is_alive() for emitter in list(emitters))

    def stop(self) -> None:
        self._stopped = True
        self._halt()

    def _halt(self) -> None:
        logging.getLogger(_OVERFLOW_LOGGER).removeHandler(self._overflow)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None
