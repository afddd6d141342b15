"""Writing public/ so that a reader never sees half a file and unchanged files stay put."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

MANIFEST = ".postroom-manifest.json"


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class OutputWriter:
    """Puts files under one folder and removes those a previous build wrote but this one did not."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: list[str] = []
        self.unchanged = 0
        self._produced: set[str] = set()

    def put(self, name: str, data: bytes) -> None:
        path = self.root / name
        self._produced.add(name)
        try:
            if path.read_bytes() == data:
                self.unchanged += 1
                return
        except FileNotFoundError:
            pass
        write_atomic(path, data)
        self.written.append(name)

    def finish(self) -> list[str]:
        """Delete stale outputs (only files postroom wrote) and record this build's list."""
        manifest = self.root / MANIFEST
        try:
            before = set(json.loads(manifest.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            before = set()
        removed = sorted(before - self._produced)
        for name in removed:
            path = self.root / name
            path.unlink(missing_ok=True)
            for folder in path.parents:
                if folder == self.root or any(folder.iterdir()):
                    break
                folder.rmdir()
        listing = json.dumps(sorted(self._produced), indent=0).encode() + b"\n"
        if before != self._produced or not manifest.exists():
            write_atomic(manifest, listing)
        return removed
