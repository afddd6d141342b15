"""Filesystem events that make the next scan come sooner; never the source of truth.

The polling scan decides what changed. inotify (through watchdog) only says
"look now", so a missed, merged or reordered event costs latency, not a
post. Network and container mounts deliver no events: `--poll-only` skips
the watcher and the poll interval is the whole story.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from postroom.content.intake import is_temp_name
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

# Reading a file (as the scan does) must not wake the scan again.
_READS = frozenset({"opened", "closed_no_write"})


class _Poke(FileSystemEventHandler):
    def __init__(self, folder: Path, poke: Callable[[], None]) -> None:
        self.folder, self.poke = str(folder), poke

    def _hidden(self, path: str) -> bool:
        """Inside a dot folder (.git, an editor's state): the scan skips those too."""
        inside = os.path.relpath(path, self.folder).split(os.sep)[:-1]
        return any(part.startswith(".") and part not in (".", "..") for part in inside)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _READS or self._hidden(os.fsdecode(event.src_path)):
            return
        if event.is_directory:  # a folder made, moved or removed; its "modified" only
            if event.event_type != "modified":  # echoes the events of the files in it
                self.poke()
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        names = [os.path.basename(os.fsdecode(p)) for p in paths if p]
        if not all(is_temp_name(n) for n in names):
            self.poke()


class ContentWatcher:
    """Calls `poke` when something under `folder` (subfolders too) may have changed."""

    def __init__(self, folder: Path, poke: Callable[[], None]) -> None:
        self.folder, self._handler = folder, _Poke(folder, poke)
        self._observer: Observer | None = None

    def start(self) -> None:
        """Raises OSError when the platform watcher cannot start (inotify limits, say)."""
        observer = Observer()
        observer.schedule(self._handler, str(self.folder), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None
