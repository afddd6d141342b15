"""Writing public/ so that a reader never sees half a file and unchanged files stay put.

Unchanged files keep their bytes and mtime, so a web server's ETag and
Last-Modified stay valid and a feed reader's conditional GET gets a 304.
A build makes its temp files in a scratch folder beside public/, not in it,
so a build killed mid-write leaves nothing half-written among the outputs;
the next build clears the scratch of processes that are gone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from store.leases import holder_gone, this_process

#: what build() wrote last time, so that it can remove what it no longer writes
MANIFEST = ".postroom-manifest.json"


def write_atomic(path: Path, data: bytes, scratch: Path | None = None) -> None:
    """Temp file, fsync, rename: the old or the new file, never a mix. The temp file is
    made in `scratch` (a folder on the same filesystem) if given, else beside `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = scratch or path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the web server must read it
        try:
            os.replace(tmp, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV or scratch is None:
                raise
            Path(tmp).unlink()
            write_atomic(path, data)  # public/ is another filesystem: beside the target
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_if_changed(path: Path, data: bytes, scratch: Path | None = None) -> bool:
    """Write `data` unless the file already holds exactly it; says whether it wrote."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data, scratch)
    return True


def _is_inside(name: str) -> bool:
    """A manifest line names a file under the root, never the root's parent or itself."""
    parts = PurePosixPath(name).parts
    return bool(parts) and not PurePosixPath(name).is_absolute() and ".." not in parts


class OutputWriter:
    """Puts files under one folder and removes those a previous build wrote but this one did not."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: list[str] = []
        self.unchanged = 0
        self._produced: set[str] = set()
        scratches = root.parent / f".{root.name}.scratch"
        self.scratch = scratches / this_process()
        if scratches.is_dir():  # temp files of builds that were killed
            for folder in scratches.iterdir():
                if folder != self.scratch and holder_gone(folder.name):
                    shutil.rmtree(folder, ignore_errors=True)

    def put(self, name: str, data: bytes) -> None:
        """`name` is a path relative to the root, with '/' separators."""
        self._produced.add(name)
        if write_if_changed(self.root / name, data, self.scratch):
            self.written.append(name)
        else:
            self.unchanged += 1

    def keep(self, name: str) -> None:
        """`name` is an output of this build, known to be up to date: left as it is."""
        self._produced.add(name)
        self.unchanged += 1

    def _previous(self) -> set[str]:
        try:
            listed = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):  # first build, or a manifest someone broke
            return set()
        if not isinstance(listed, list):
            return set()
        return {name for name in listed if isinstance(name, str) and _is_inside(name)}

    def finish(self) -> list[str]:
        """Delete stale outputs (only files a build wrote), empty folders they leave, and
        record this build's files; the manifest goes last, so a crash before it only
        means stale files are removed next time."""
        removed = sorted(self._previous() - self._produced - {MANIFEST})
        for name in removed:
            path = self.root / name
            path.unlink(missing_ok=True)
            for folder in path.parents:
                if folder == self.root:
                    break
                try:
                    folder.rmdir()
                except OSError:  # not empty: something else still lives there
                    break
        listing = json.dumps(sorted(self._produced), ensure_ascii=False, indent=0) + "\n"
        write_if_changed(self.root / MANIFEST, listing.encode(), self.scratch)
        shutil.rmtree(self.scratch, ignore_errors=True)
        with contextlib.suppress(OSError):  # others' scratch is still there
            self.scratch.parent.rmdir()
        return removed
