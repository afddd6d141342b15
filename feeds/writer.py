"""Writing public/ so that a reader never sees half a file and unchanged files stay put.

Unchanged files keep their bytes and mtime, so a web server's ETag and
Last-Modified stay valid and a feed reader's conditional GET gets a 304.
A build makes its temp files in a scratch folder beside public/, not in it,
so a build killed mid-write leaves nothing half-written among the outputs;
the next build clears the scratch of processes that are gone.

Every file postroom writes in public/ is on record before it exists: in the
manifest of the last build that finished, or in the journal of the build that
is writing it (one name a line, in its scratch folder, flushed before the file
is written or renamed into place, or before the build's workers are sent the pages
they write: `record`, `put_file`, `place`, `took`; a file staged in the scratch for
later, `stage_file`, is not in public/ until `place` renames it). A build takes
over the journals of builds that were killed, so a page written by a killed build
is removed like any stale output once its post is gone. Files postroom never wrote
(a curator's robots.txt, notes beside a page) are on no record and never removed.

The manifest also keeps, for each file, the key it was made from
(`feeds.keys`) and its size and mtime once written: `fresh` says a file is
still what that key would make, so a build renders only what changed, and a
file changed or removed by anyone else is made again.

Durability is paid once per build, not per file: files are written and
renamed into place without an fsync each, then one sync of the filesystem
(`syncfs`) comes before the manifest is written. A power cut mid-build can
leave some outputs new and some old, and on a filesystem that does not order
renames after data, a renamed file empty; none of those matches its manifest
entry (size and mtime), so the next build makes each of them again.

A temp file written beside its target (the outbox's messages) is named after
its process, so `clear_stale_temps` can remove those of processes that died
between writing and renaming, and never one that a live process is writing.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import NamedTuple, TextIO

from postroom.core.process import holder_gone, this_process

#: what build() wrote last time, so that it can remove what it no longer writes
MANIFEST = ".postroom-manifest.json"
#: in a build's scratch folder: the names it is about to write that no manifest lists
JOURNAL = "intended.jsonl"
#: a temp file named before temp files carried their process: stale once this old
_UNNAMED_TEMP_AGE = 3600.0


def _temp_prefix(name: str) -> str:
    """`.<name>~<host:pid>~` for a file named `name`: mkstemp adds random letters and
    `.tmp`. Host names hold no `~`, so the process is found again from the right
    whatever the file's name."""
    return f".{name}~{this_process()}~"


_temps = itertools.count()
#: the mode of every file written: readable by all (the web server), writable by us
_MODE = 0o644


def _temp_file(folder: Path, prefix: str) -> tuple[int, str]:
    """A new file in `folder` named `prefix` + a number + `.tmp`, open for writing: what
    mkstemp does, without its random names (a tenth of a cold build's time went there).
    The process is in the prefix, so a number is unique but for a leftover of an earlier
    process of the same id, which O_EXCL skips."""
    while True:
        tmp = f"{folder}/{prefix}{next(_temps)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _MODE), tmp
        except FileExistsError:
            continue


#: what a file is made of: its bytes, or a function giving them in pieces, called again
#: if the file must be written twice (a big file never held whole: the manifest)
Content = bytes | Callable[[], Iterable[bytes]]


#: folders this process made or found (`_made_folder`): a cold build writes 10,000 pages
#: into 10,000 folders, and two `mkdir` calls a file were a tenth of the parent's time
_folders: set[str] = set()


def _made_folder(folder: str) -> bool:
    """`folder` and its parents exist, made once a process: a folder already made is
    taken as there. One removed since (a build's scratch, an emptied page's folder) is
    made again by the caller's retry (`_forget_folder`). True when this call made
    `folder` itself just now: it holds nothing yet, so a file in it needs no compare
    (a cold build's 10,000 post pages: one `stat` each the fewer, and no exception)."""
    if folder in _folders:
        return False
    made = True
    try:
        os.mkdir(folder)
    except FileExistsError:
        if not os.path.isdir(folder):  # a file in the way: as Path.mkdir(exist_ok) says
            raise
        made = False
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        made = False  # made with its parents, or by another process meanwhile: not known
    _folders.add(folder)
    return made


def _forget_folder(folder: str) -> None:
    """A folder taken as made was not there (removed since): made again."""
    _folders.discard(folder)
    _made_folder(folder)


def write_atomic(
    path: Path, data: Content, scratch: Path | None = None, durable: bool = True
) -> os.stat_result:
    """Temp file, fsync, rename: the old or the new file, never a mix. The temp file is
    made in `scratch` (a folder on the same filesystem) if given, else beside `path`.
    Not `durable`: no fsync, for a caller that syncs everything it wrote at once.
    Returns the file's stat as written, taken before the rename: what another process
    renames over it a moment later is not taken for it."""
    target = os.fspath(path.parent)
    _made_folder(target)
    return _write_atomic(os.fspath(path), target, path.name, data, scratch, durable)


def _write_atomic(
    path: str, target: str, name: str, data: Content, scratch: Path | None, durable: bool
) -> os.stat_result:
    """`write_atomic` of `path` (in the folder `target`, made; `name` its last part), in
    strings: a cold build calls it for every page, and pathlib's parsing was a tenth of
    its cost."""
    tmp, written = _write_temp(
        os.fspath(scratch) if scratch is not None else target, name, data, durable
    )
    try:
        _replace(tmp, path, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if exc.errno != errno.EXDEV or scratch is None:
            raise
        return _write_atomic(path, target, name, data, None, durable)  # another fs: beside it
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return written


def _write_temp(folder: str, name: str, data: Content, durable: bool) -> tuple[str, os.stat_result]:
    """A new temp file in `folder` (made) for the file `name`, holding `data`: (its path,
    its stat). Nothing is left of it if writing fails."""
    _made_folder(folder)
    prefix = _temp_prefix(name)
    try:
        fd, tmp = _temp_file(folder, prefix)
    except FileNotFoundError:  # the folder was removed since this process made it
        _forget_folder(folder)
        fd, tmp = _temp_file(folder, prefix)
    try:
        if callable(data):
            with os.fdopen(fd, "wb") as out:
                out.writelines(data())
                out.flush()
                return tmp, _done(out.fileno(), durable)
        try:  # one page: written as it is, no buffered file object made for it
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            return tmp, _done(fd, durable)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _done(fd: int, durable: bool) -> os.stat_result:
    """A temp file written: synced if `durable`, readable by all (`_MODE`), its stat. Made
    with that mode, it has it unless the umask took some away: then one `fchmod` more."""
    if durable:
        os.fsync(fd)
    st = os.fstat(fd)
    if st.st_mode & 0o7777 != _MODE:
        os.fchmod(fd, _MODE)  # whatever the umask: the web server reads it
        st = os.fstat(fd)
    return st


def _replace(tmp: str, path: str, target: str) -> None:
    """Rename `tmp` to `path`; its folder `target` made again if it went since (a build
    removing the last page of a folder, another build's stale outputs)."""
    try:
        os.replace(tmp, path)
    except FileNotFoundError:
        if not os.path.exists(tmp):
            raise
        _forget_folder(target)
        os.replace(tmp, path)


def _temp_is_stale(entry: os.DirEntry) -> bool:
    """A temp file of a process on this host that is gone; one without its process in
    its name (an older postroom's) once it is an hour old."""
    stem = entry.name[: -len(".tmp")]
    parts = stem.rsplit("~", 2)
    if len(parts) == 3 and ":" in parts[1]:
        return holder_gone(parts[1])
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime > _UNNAMED_TEMP_AGE
    except OSError:
        return False


def clear_stale_temps(folder: Path) -> int:
    """Remove the temp files (`.<name>...tmp`) in `folder` left by processes killed between
    writing and renaming; returns how many. Those of live processes stay."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        temp = entry.name.startswith(".") and entry.name.endswith(".tmp")
        if temp and entry.is_file(follow_symlinks=False) and _temp_is_stale(entry):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
    return removed


def write_if_changed(
    path: Path, data: bytes, scratch: Path | None = None, durable: bool = True
) -> bool:
    """Write `data` unless the file already holds exactly it; says whether it wrote."""
    return _write_if_changed(path, data, scratch, durable)[0]


def _write_if_changed(
    path: Path, data: bytes, scratch: Path | None, durable: bool
) -> tuple[bool, os.stat_result]:
    """(whether it wrote, the stat of the file holding `data`)."""
    return _put(os.fspath(path.parent), path.name, data, scratch, durable)


def _put(
    target: str, name: str, data: bytes, scratch: Path | None, durable: bool
) -> tuple[bool, os.stat_result]:
    """`_write_if_changed` of the file `name` in the folder `target`: a folder made just
    now holds no file to compare with (a cold build's pages)."""
    path = f"{target}/{name}"
    st = _same(target, path, data)
    if st is not None:
        return False, st
    return True, _write_atomic(path, target, name, data, scratch, durable)


def _same(target: str, path: str, data: bytes) -> os.stat_result | None:
    """The stat of the file `path` (in the folder `target`, made here) if it holds exactly
    `data`, else None. A folder made just now holds nothing to compare with."""
    if not _made_folder(target):
        try:
            st = os.stat(path)
            if st.st_size == len(data) and _read(path) == data:
                return st
        except (FileNotFoundError, NotADirectoryError):
            pass
    return None


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def put_file(root: Path, name: str, data: bytes, scratch: Path) -> tuple[bool, os.stat_result]:
    """What `OutputWriter.put` does to the file `name` under `root`, for another process
    writing for that writer's build (its workers): the bytes compared, written only if
    they differ, temp file in the writer's `scratch`, no fsync (the build syncs once).
    The name must be on the writer's record first (`OutputWriter.record`), and the
    result handed back to it (`OutputWriter.took`) for its manifest. (whether it wrote,
    the stat of the file holding `data`)."""
    folder, _, base = f"{root}/{name}".rpartition("/")
    return _put(folder, base, data, scratch, durable=False)


class Staged(NamedTuple):
    """A file's bytes waiting in a temp file of a build's scratch folder, not yet in its
    place (`stage_file`), and what its stat will be there (a rename keeps it)."""

    temp: str | None  # None: the file held these bytes already, and is left alone
    size: int
    mtime_ns: int


def stage_file(root: Path | str, name: str, data: bytes, scratch: Path | str) -> Staged:
    """`put_file` but for its rename: the bytes compared with the file `name` under
    `root`, and written to a temp file in `scratch` only if they differ, for
    `OutputWriter.place` to rename into place later. Whoever writes the file (a worker,
    or the build waiting for its workers: `OutputWriter.hold`) leaves only a rename to
    the moment it may appear: a cold build's last ~800 files cost ~7 us each there, not
    ~70 (its tail, one core busy). Nothing goes in public/ but the file's folder."""
    folder, _, base = f"{root}/{name}".rpartition("/")
    st = _same(folder, f"{folder}/{base}", data)
    if st is not None:
        return Staged(None, st.st_size, st.st_mtime_ns)
    tmp, st = _write_temp(os.fspath(scratch), base, data, durable=False)
    return Staged(tmp, st.st_size, st.st_mtime_ns)


def _empty_but_journal(scratch: Path) -> None:
    """Everything in `scratch` removed but its journal: the temp files an earlier build of
    this process staged (`stage_file`) and never placed, and its workers' results. A
    service whose builds fail (a broken template) would otherwise keep a build's held
    pages there once more at every try; one process builds a site at a time."""
    for entry in os.scandir(scratch):
        if entry.name == JOURNAL:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


def sync_filesystem(folder: Path) -> None:
    """Everything written to `folder`'s filesystem reaches the disk: `syncfs(2)` where
    the C library has it (one filesystem), else `sync()` (all of them, and no error to
    hear). A write the disk refused (EIO, ENOSPC at writeback) raises: the build fails
    before its manifest vouches for files that may not be there."""
    if _libc_syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _libc_syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"syncfs of {folder}: {os.strerror(code)}")
    finally:
        os.close(fd)


#: seconds between the syncs of a big build's early writeback (`OutputWriter.write_back_early`)
WRITE_BACK_EVERY = 1.0


class _WriteBack:
    """`sync_filesystem(folder)` every `every` seconds on a thread of its own until
    `stop`: what a big build has written so far goes to the disk while it writes the
    rest, so its last sync, which its manifest waits for, finds little left. At 10,000
    posts that last sync took ~0.24 s (the scan's database and 170 MB of pages, all
    still dirty); written back on the way, ~0.07 s.

    A sync's error is kept for `stop` to hand back: Linux reports a writeback error
    (EIO, ENOSPC) to the first syncfs that sees it only, so the build's last sync would
    not hear of one this thread took."""

    def __init__(self, folder: Path, every: float) -> None:
        self.error: OSError | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(folder, every), name="postroom-writeback", daemon=True
        )
        self._thread.start()

    def _run(self, folder: Path, every: float) -> None:
        while not self._stopped.wait(every):
            try:
                sync_filesystem(folder)
            except FileNotFoundError:  # nothing written there yet (public/ is made then)
                continue
            except OSError as exc:
                self.error = exc
                return

    def stop(self) -> OSError | None:
        """Ends the syncs, waiting for one under way (the build's last sync would wait
        for the same writes); the error one met, if any."""
        self._stopped.set()
        self._thread.join()
        return self.error


def _find_syncfs():
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    return None


_libc_syncfs = _find_syncfs()


#: a character `json.dumps` (ensure_ascii=False) escapes in a string: one of none of
#: these is its own JSON text between quotes (nearly every name)
_ESCAPED = re.compile(r'[\x00-\x1f\\"]')
#: a string `json.dumps` (ensure_ascii=True) leaves as it is between quotes (every key)
_PLAIN_ASCII = re.compile(r"[ !#-\[\]-~]*")


def _quoted(text: str) -> str:
    """`json.dumps(text, ensure_ascii=False)`, without the encoder for a text that needs
    no escape: a cold build's manifest and journal name every one of 10,000 pages, and
    `json.dumps` per name was most of their cost."""
    if type(text) is str and _ESCAPED.search(text) is None:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def _line(name: str, entry: Entry | None) -> str:
    """A file's line in the manifest: the bytes `json.dumps` gives, made by hand when the
    entry is plain (a key of printable ASCII needing no escape, two ints), as all are
    but for a manifest edited by hand."""
    if not entry:
        return f"{_quoted(name)}: null"
    if len(entry) == 3:
        key, size, mtime = entry
        if (
            type(size) is int
            and type(mtime) is int
            and type(key) is str
            and _PLAIN_ASCII.fullmatch(key) is not None
        ):
            return f'{_quoted(name)}: ["{key}", {size}, {mtime}]'
    return f"{_quoted(name)}: " + json.dumps(list(entry))


def _is_inside(name: str) -> bool:
    """A manifest line names a file under the root, never the root's parent or itself."""
    parts = name.split("/")
    return not name.startswith("/") and not any(p in ("", ".", "..") for p in parts)


#: a manifest entry: the key a file was made from, and its size and mtime once written
Entry = tuple[str, int, int]


@dataclass(frozen=True)
class Manifest:
    """A manifest as a build wrote it, kept by a process that builds again (a service):
    while the file is as written (`stat`), the next build takes it from here instead of
    parsing a file of 100,000 lines."""

    stat: tuple[int, int, int] | None
    entries: dict[str, Entry | None]
    remembered: dict
    #: as written: each file's line by name, the names in order, the remembered part
    lines: dict[str, str] | None = None
    names: list[str] | None = None
    remembered_text: str | None = None


def _load_manifest(root: Path) -> dict:
    try:
        return json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, ValueError, UnicodeDecodeError):
        return {}  # first build, or broken: every file is made again


def _entries(listed: object) -> dict[str, Entry | None]:
    """name -> entry of a manifest (an older postroom's, a bare list of names: no
    entries), only names inside the root."""
    if isinstance(listed, list):  # before keys
        return {name: None for name in listed if isinstance(name, str) and _is_inside(name)}
    files = listed.get("files") if isinstance(listed, dict) else None
    if not isinstance(files, dict):
        return {}
    found: dict[str, Entry | None] = {}
    for name, entry in files.items():
        if not _is_inside(name):
            continue
        ok = isinstance(entry, list) and len(entry) == 3
        ok = ok and isinstance(entry[0], str) and all(type(n) is int for n in entry[1:])
        # interned: the names a build makes (`pages.post_page_name`) are the same strings
        found[sys.intern(name)] = (entry[0], entry[1], entry[2]) if ok else None
    return found


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def read_manifest(root: Path) -> set[str]:
    """The files the last finished build wrote under `root` (none if there is no manifest,
    or it is broken); only names inside the root."""
    return set(_entries(_load_manifest(root)))


def _manifest_text(
    line: Callable[[str], str], names: list[str], remembered: str
) -> Iterator[bytes]:
    """The manifest's bytes, a thousand files' lines at a time."""
    yield b'{"files": {\n'
    for start in range(0, len(names), 1000):
        chunk = ",\n".join(map(line, names[start : start + 1000]))
        yield ((",\n" if start else "") + chunk).encode()
    yield f'\n}},\n"remembered": {remembered}}}\n'.encode()


def _read_journal(path: Path) -> set[str]:
    """The names a build had recorded before writing; a line cut by a kill is skipped.
    Split at newlines only: a name may hold U+2028 or U+0085, which JSON leaves as they
    are and `splitlines` would cut it at."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    except (FileNotFoundError, NotADirectoryError):
        return set()
    names = set()
    for line in lines:
        with contextlib.suppress(ValueError):
            name = json.loads(line)
            if isinstance(name, str) and _is_inside(name):
                names.add(name)
    return names


def missing_outputs(root: Path, names: Iterable[str]) -> list[str]:
    """Which of `names` (outputs a build made under `root`) are not there now."""
    return [name for name in names if not os.path.lexists(root / name)]


class OutputWriter:
    """Puts files under one folder and removes those a previous build wrote but this one
    did not; remembers what each was made from (`fresh`)."""

    def __init__(self, root: Path, known: Manifest | None = None) -> None:
        """`known`: the manifest this process's last build of `root` wrote (`manifest`)."""
        self.root = root
        self._root = str(root)
        #: when this build began (a file with an mtime since may be its own)
        self.began_ns = time.time_ns()
        self._until: Callable[[], object] | None = None  # `hold`
        self._held: dict[str, tuple[Staged, str | None]] = {}  # name: (its file, key)
        self.written: list[str] = []
        self.unchanged = 0
        self._made: dict[str, Entry | None] = {}  # this build's outputs
        self._put: list[str] = []  # those `put` (not kept as the manifest has them)
        scratches = root.parent / f".{root.name}.scratch"
        self.scratch = scratches / this_process()
        self._manifest_stat = _stat(root / MANIFEST)
        #: whether the manifest is the one `known` says (this process's last build's)
        self.trusted = (
            known is not None and known.stat is not None and known.stat == self._manifest_stat
        )
        self._known = known if self.trusted else None
        if known is not None and self.trusted:
            self._before, self.remembered = known.entries, known.remembered
        else:
            manifest = _load_manifest(root)
            self._before = _entries(manifest)
            found = manifest.get("remembered") if isinstance(manifest, dict) else None
            self.remembered = found if isinstance(found, dict) else {}
        #: what the last build asked to remember with its files (`remember`)
        self._listed = set(self._before)
        self._remember: dict = {}
        #: the manifest this build wrote, once it has finished
        self.manifest: Manifest | None = None
        self._journal: TextIO | None = None
        self._journaled: set[str] = set()
        self._write_back: _WriteBack | None = None
        # what killed builds (and an earlier build of this process that failed) wrote
        dead = [self.scratch] if self.scratch.is_dir() else []
        if scratches.is_dir():
            dead += [f for f in scratches.iterdir() if f != self.scratch and holder_gone(f.name)]
        inherited = set().union(*(_read_journal(f / JOURNAL) for f in dead)) - self._listed
        (self.scratch / JOURNAL).unlink(missing_ok=True)  # read: this build starts its own
        self._record(inherited)  # on record here before their journals go
        for folder in dead:
            if folder != self.scratch:  # their temp files and journals
                shutil.rmtree(folder, ignore_errors=True)
            else:  # what this process's failed build staged and never placed (a service)
                _empty_but_journal(folder)

    def _record(self, names: Iterable[str]) -> None:
        """Add `names` to this build's journal, flushed before any of them is written: a
        kill at any moment after leaves them on record. (Not fsynced: on a journalling
        filesystem the rename of a page is committed after the write that names it.)"""
        new = sorted(set(names) - self._journaled)
        if not new:
            return
        if self._journal is None:
            self.scratch.mkdir(parents=True, exist_ok=True)
            self._journal = open(self.scratch / JOURNAL, "a", encoding="utf-8")  # noqa: SIM115
        self._journal.write("".join([_quoted(n) + "\n" for n in new]))
        self._journal.flush()
        self._journaled.update(new)

    def fresh(self, name: str, key: str) -> bool:
        """Whether `name` is as the last build wrote it from `key`: same key in the
        manifest, and the file's size and mtime unchanged since (nobody edited,
        truncated or removed it). A fresh file needs only `keep`."""
        entry = self._before.get(name)
        if entry is None or entry[0] != key:
            return False
        try:
            st = os.stat(f"{self._root}/{name}")  # str, not Path: asked of every output
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) == entry[1:]

    def listed(self, name: str) -> bool:
        """Whether the last build's manifest has `name` with its key: if not, `name` is
        not `fresh`, whatever the key."""
        return self._before.get(name) is not None

    def write_back_early(self, every: float | None = None) -> None:
        """For a big build: sync what is written every `every` seconds
        (`WRITE_BACK_EVERY`) until `finish` or `stop_writing_back`, which the caller
        must reach on every path (a thread syncs). Not without `syncfs(2)`: `sync()`
        would flush every filesystem of the machine each time."""
        if self._write_back is None and _libc_syncfs is not None:
            self._write_back = _WriteBack(self.root, every or WRITE_BACK_EVERY)

    def stop_writing_back(self) -> OSError | None:
        """Ends `write_back_early`'s syncs; the error one of them met (`finish` raises
        it), None if none (or none were started)."""
        write_back, self._write_back = self._write_back, None
        return write_back.stop() if write_back is not None else None

    def hold(self, until: Callable[[], object]) -> None:
        """From now until `release`, `put` stages what it is given (`stage_file`: bytes
        compared, a temp file in the scratch) instead of putting it in place: a build
        renders the pages that link to its post pages while its workers still write
        those, and they appear after (`release` calls `until()` first: the post pages
        all written), so no link points at a page not yet there, and the files come in
        the order they would without holding. Staged, not kept in memory: their writing
        is done while the build waits for its workers, and `release`, on the build's
        last stretch with one core busy, only renames (632 files of a cold 10k build:
        ~45 ms -> ~15 ms of it)."""
        self._until = until

    @property
    def holding(self) -> bool:
        """Whether `put` stages what it is given for now (`hold`)."""
        return self._until is not None

    def release(self) -> None:
        """`until()`, then what `hold` staged put in place, in order; `put` writes again."""
        until, self._until = self._until, None
        if until is None:
            return
        until()
        held, self._held = self._held, {}
        self._record([name for name in held if name not in self._listed])  # one write
        for name, (staged, key) in held.items():
            self.place(name, staged, key)

    def put(self, name: str, data: bytes, key: str | None = None) -> None:
        """`name` is a path relative to the root, with '/' separators; `key` what the
        data was made from (`feeds.keys`), if the caller will ask `fresh` next time."""
        if self._until is not None:  # held (`hold`)
            if name in self._held:  # put twice: the first goes in place first, as unheld
                self.release()
            else:
                self._held[name] = (stage_file(self._root, name, data, self.scratch), key)
                return
        if name not in self._listed:
            self._record([name])
        folder, _, base = f"{self._root}/{name}".rpartition("/")
        wrote, st = _put(folder, base, data, self.scratch, durable=False)
        self.took(name, wrote, st.st_size, st.st_mtime_ns, key)

    def place(self, name: str, staged: Staged, key: str | None = None) -> None:
        """`put` of `name` from the file `staged` (`stage_file`, in this build's scratch,
        by this process or a worker): on record, then renamed into place."""
        if name not in self._listed:
            self._record([name])
        if staged.temp is not None:
            path = f"{self._root}/{name}"
            try:
                _replace(staged.temp, path, path.rpartition("/")[0])
            except OSError as exc:  # the scratch on another filesystem: written beside it
                if exc.errno != errno.EXDEV:
                    raise
                data = _read(staged.temp)
                os.unlink(staged.temp)
                self.put(name, data, key)
                return
        self.took(name, staged.temp is not None, staged.size, staged.mtime_ns, key)

    def record(self, names: Iterable[str]) -> None:
        """`names` are about to be written for this build by other processes (`put_file`):
        on record (the journal, flushed) before any of them can exist, so a kill of any
        process at any moment leaves no file that no build knows of."""
        self._record(set(names) - self._listed)

    def took(self, name: str, wrote: bool, size: int, mtime_ns: int, key: str | None) -> None:
        """`name`, `record`ed, was written by another process (`put_file`: `wrote` says
        whether its bytes were new), or by `put` or `place`, and is now `size` bytes at
        `mtime_ns`: an output of this build."""
        assert name in self._listed or name in self._journaled, name
        if wrote:
            self.written.append(name)
        else:
            self.unchanged += 1
        self._made[name] = None if key is None else (key, size, mtime_ns)
        self._put.append(name)

    def make(self, name: str, key: str, render: Callable[[], bytes]) -> None:
        """`name` kept if it is `fresh` for `key`, else rendered (`render()`) and put."""
        if self.fresh(name, key):
            self.keep(name)
        else:
            self.put(name, render(), key)

    def keep(self, name: str) -> None:
        """`name` is an output of this build, known to be up to date (`fresh`): left as
        it is, its manifest entry carried over."""
        self._made[name] = self._before.get(name)
        self.unchanged += 1

    def keep_many(self, names: Iterable[str]) -> None:
        """`keep` of each of `names`."""
        before = self._before
        for name in names:
            self._made[name] = before.get(name)
            self.unchanged += 1

    def keep_entries(self, entries: dict[str, Entry | None]) -> None:
        """`keep` of each of `entries`' names, whose entries in the manifest (`trusted`)
        the caller kept as they are: one dict update for a site's unchanged pages."""
        self._made.update(entries)
        self.unchanged += len(entries)

    def entry(self, name: str) -> Entry | None:
        """What this build recorded of `name` (None: not made, or under no key)."""
        return self._made.get(name)

    def remember(self, name: str, value: object) -> None:
        """Keep `value` (JSON) with this build's manifest, as `remembered[name]` next time."""
        self._remember[name] = value

    @property
    def produced(self) -> tuple[str, ...]:
        """Every output of this build so far, sorted."""
        return tuple(sorted(self._made))

    def _listing(self) -> tuple[dict[str, str] | None, list[str], str]:
        """The manifest's lines (one file a line: a manifest of 100,000 files is read and
        diffed like a list), their order and the remembered part, made again only where
        they differ from the manifest this process last wrote (`Manifest.lines`).
        Lines None, for a build with no manifest kept in memory (a command; a service's
        first build): each line is made as it is written and none is kept, since a cold
        build's peak of memory is at its manifest. A process that builds again (a
        service) makes them all at its next build that writes, and keeps them."""
        known = self._known
        if known is None:
            return None, sorted(self._made), self._remembered_text(known)
        if known.lines is None or known.names is None:
            lines = {name: _line(name, entry) for name, entry in self._made.items()}
            return lines, sorted(lines), self._remembered_text(known)
        lines = dict(known.lines)
        before = self._before
        # what `keep` carried has its entry from the manifest; only what was `put`
        # may differ (a dict of 100,000 lines is not gone through in Python)
        for name in self._put:
            entry = self._made[name]
            if name not in lines or before.get(name) != entry:
                lines[name] = _line(name, entry)
        for name in self._made.keys() - lines.keys():  # none, but for safety
            lines[name] = _line(name, self._made[name])
        gone = lines.keys() - self._made.keys()
        for name in gone:
            del lines[name]
        # sorted again only when names came or went: the known ones come first, in
        # order, so that is a merge of a few names into a sorted list (timsort)
        same = not gone and len(lines) == len(known.names)
        names = known.names if same else sorted(lines)
        return lines, names, self._remembered_text(known)

    def _remembered_text(self, known: Manifest | None) -> str:
        if (
            known is not None
            and known.remembered_text is not None
            and (self._remember == known.remembered)
        ):
            return known.remembered_text
        return json.dumps(self._remember, ensure_ascii=False, sort_keys=True)

    def _line_of(self, name: str) -> str:
        return _line(name, self._made[name])

    def finish(self) -> list[str]:
        """Delete stale outputs (only files a build wrote: the last manifest's, and those
        on killed builds' journals), empty folders they leave, sync the filesystem, and
        record this build's files; the manifest goes after the sync (it never names a
        file as made that a power cut could take back) and before the journal, so a
        crash between only means stale files are looked for again next time."""
        self.release()  # a caller that held puts and did not release them: in order
        recorded = self._listed | self._journaled
        if _stat(self.root / MANIFEST) != self._manifest_stat:  # another build finished
            recorded |= read_manifest(self.root)
        removed = sorted(recorded - self._made.keys() - {MANIFEST})
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
        failed = self.stop_writing_back()
        if self.written or removed:
            sync_filesystem(self.root)
        if failed is not None:  # taken by an early sync: this one did not hear of it
            raise failed
        path = self.root / MANIFEST
        if self._made != self._before or self._remember != self.remembered or removed:
            lines, names, remembered = self._listing()
            # written in pieces, never whole: at 100,000 files the text is ~12 MB, its
            # bytes as much again, and a cold build's peak of memory is here
            line = lines.__getitem__ if lines is not None else self._line_of
            write_atomic(path, partial(_manifest_text, line, names, remembered), self.scratch)
            self.manifest = Manifest(
                _stat(path),
                self._made,
                self._remember,
                lines,
                names if lines is not None else None,
                remembered,
            )
        elif self._known is not None:
            self.manifest = replace(self._known, stat=_stat(path))
        else:
            self.manifest = Manifest(_stat(path), self._made, self._remember)
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        shutil.rmtree(self.scratch, ignore_errors=True)
        with contextlib.suppress(OSError):  # others' scratch is still there
            self.scratch.parent.rmdir()
        return removed
