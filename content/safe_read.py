"""Reading a file in content/ without being led out of it, or stalled.

Everything that reads the curator's folder (the scan, the links files) reads through
`read_regular`: only regular files, and links only to files inside the folder.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class Unreadable(Exception):
    """A content entry that is not read at all; the message says why."""


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def link_target(root: Path, full: str) -> str:
    """Where a symbolic link in the content folder leads, if that is a file inside it."""
    try:
        real = os.path.realpath(full, strict=True)
    except FileNotFoundError:
        raise Unreadable("a link to a file that does not exist; not read") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unreadable("a symbolic link loop; not read") from None
        raise
    base = os.path.realpath(root)
    if os.path.commonpath([base, real]) != base:
        raise Unreadable("a link to a file outside the content folder; not read")
    return real


def read_regular(root: Path, path: str, limit: int, limit_name: str) -> bytes:
    """The bytes of a regular file inside `root`, at most `limit` of them.

    Nothing else is opened: a FIFO would block the scan for ever, a device could do
    anything, and a link out of the folder would publish /etc/passwd. The entry is
    judged by `lstat` (a link by where it leads), then opened without following a
    link (O_NOFOLLOW) and judged again by `fstat`, so a file swapped for a FIFO or a
    link in between is caught. (A folder on the way swapped for a link after the walk
    is not: only the curator can write in content/.) A plain file costs an lstat more
    than reading it would; a cold start reads thousands."""
    full = os.path.join(root, path)
    mode = os.lstat(full).st_mode
    target = full
    if stat.S_ISLNK(mode):
        target = link_target(root, full)
        mode = os.stat(target).st_mode
    if not stat.S_ISREG(mode):
        raise Unreadable(f"{_kind(mode)}, not a file; not read")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(target, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable(f"{_kind(st.st_mode)}, not a file; not read")
        over = f"over the limit of {limit // 1024:,} KB ({limit_name}); not read"
        if st.st_size > limit:
            raise Unreadable(f"{-(-st.st_size // 1024):,} KB, {over}")
        # the first read asks for the size fstat gave and one byte more (asking for the
        # limit, 5 MB, made and shrank a buffer that big for every file); a file that
        # grew meanwhile is read on to its end, and past the limit refused as before
        # (a read short of what was asked, of the size fstat gave, is the file's end: the
        # read after it, which would find nothing, is spared)
        chunks, size, want = [], 0, min(st.st_size, limit) + 1
        while chunk := os.read(fd, want):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # grew while we read
                raise Unreadable(over)
            if size == st.st_size and len(chunk) < want:
                break
            want = limit + 1 - size
        return b"".join(chunks)
    finally:
        os.close(fd)
