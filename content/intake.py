"""Incremental pick-up: which files changed, what posts they hold, which posts those are.

A rescan stats every file and reads only those whose size or mtime moved, and
parses only those whose bytes did; so an unchanged folder costs a directory
walk. A post's identity is its date and title (or an explicit id): the same
post in two captures is one post, and an edited file keeps its posts' ids by
matching on identity first, then on position in the file.
"""

from __future__ import annotations

import functools
import os
import pickle
import re
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from postroom.content import handback
from postroom.content.examine import REFUSED as _REFUSED
from postroom.content.examine import Job as _Job
from postroom.content.examine import examine as _examine
from postroom.content.examine import failed as _failed
from postroom.content.quiet import QuietPeriod
from postroom.content.readers import (
    PARSERS,
    SIDECAR_SUFFIX,
    Reader,
    Reading,
    reader_for,
)
from postroom.content.settle import fingerprint as _fingerprint
from postroom.content.settle import id_base, identity_key, publishable
from postroom.core import pool
from postroom.core.config import ConfigError, Site
from postroom.core.model import ParsedPost, Post, Problem, Severity
from postroom.core.sanitize import one_line
from postroom.core.signals import post_published, send
from postroom.store import FileRecord, IntakeSession, PostWrite, Store, Version
from postroom.store.leases import exclusive

#: content/_digest/ holds the curator's words for the next digest issue (content.intro):
#: never posts, never listed, withdrawn or reported by a scan
INTRO_FOLDER = "_digest"
_PARALLEL_FROM = 200  # files to parse before worker processes pay for their start-up
# Editors' swap, backup and temp files: never content, often half-written.
_TEMP = re.compile(r"^(?:\..*|.*~|.*\.(?:swp|swx|swo|tmp|part|crdownload)|#.*#|4913)$")


def is_temp_name(name: str) -> bool:
    """Swap, backup, lock and part files (`.x.swp`, `4913`, `.#x`, `x~`, `x.tmp`, dot files)."""
    return bool(_TEMP.match(name))


@dataclass(frozen=True)
class ScanReport:
    files: int  # content files in the folder
    parsed: int  # files read and parsed this scan
    new: tuple[str, ...]  # post ids
    updated: tuple[str, ...]
    withdrawn: tuple[str, ...]
    problems: tuple[Problem, ...]  # every current problem, not only this scan's
    waiting: tuple[str, ...] = ()  # paths changed or gone too recently to act on yet
    # entries the walk could not look into (unlisted folders, refused names): what the
    # store knows under them is kept. While there are any, a delta scan cannot tell the
    # whole count or problems: the service walks everything instead (`ScanScope`)
    unlisted: tuple[str, ...] = ()
    walked: bool = True  # the whole folder was walked (False: a delta scan of a scope)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated or self.withdrawn)


@dataclass(frozen=True)
class Listing:
    """What one walk of the content folder found."""

    files: dict[str, str]  # relative path -> stat signature of every post file
    # folders that could not be listed ("" is the content folder itself) and entries whose
    # names are refused: the posts known under them stay as they were, not withdrawn
    unlisted: tuple[str, ...]
    problems: tuple[Problem, ...]  # unlisted folders, and names no file may carry


def name_problem(name: str) -> str | None:
    """Why a file's name cannot be published or shown as it is, or None."""
    if name.isascii() and name.isprintable():  # nearly every name: no loop over it
        return None
    if any("\udc80" <= c <= "\udcff" for c in name):  # bytes that are no UTF-8
        return "the file name is not valid UTF-8: rename it"
    if any(unicodedata.category(c) == "Cc" for c in name):  # a newline forges output lines
        return "the file name holds control characters: rename it"
    return None


def shown_name(name: str) -> str:
    """A name as a problem may show it: bad bytes, control characters and bidi or line
    separators escaped (U+202E would flip the rest of a terminal line)."""
    raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(
        f"\\x{ord(c):02x}"
        if unicodedata.category(c) == "Cc"
        else f"\\u{ord(c):04x}"
        if unicodedata.category(c) in ("Cf", "Zl", "Zp")
        else c
        for c in raw
    )


def stat_signature(path: str) -> str | None:
    """'size:mtime_ns' of what a path leads to (a link's target); of the entry itself
    when that cannot be followed (a loop, a link to nothing); None once it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        try:
            st = os.lstat(path)
        except OSError:  # gone since the walk listed it
            return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def list_content(root: Path, under: str = "") -> Listing:
    """Every post file under `root` with its stat signature (and its sidecar's).

    Entries are listed whatever they are (a FIFO, a link out of the folder, a loop):
    `_examine` decides what may be read and reports the rest by name. Links to folders
    are not followed. A folder that cannot be listed is reported, and the files known
    under it are left as they were, not withdrawn. `under`: only that folder (relative
    to `root`, which paths stay relative to) is walked: a delta scan's."""
    found: dict[str, str] = {}
    unlisted: list[str] = []
    problems: list[Problem] = []
    skip = len(str(root)) + 1

    def refused(error: OSError) -> None:
        where = str(error.filename or root)[skip:].replace(os.sep, "/")
        unlisted.append(where)
        why = error.strerror or type(error).__name__
        shown = shown_name(where) or "."
        problems.append(Problem(shown, f"folder cannot be listed ({why}); its posts are kept"))

    top = os.path.join(root, under) if under else root
    for folder, dirs, names in os.walk(top, onerror=refused):
        prefix = folder[skip:].replace(os.sep, "/")
        prefix += "/" if prefix else ""
        kept = []
        for d in dirs:
            if d.startswith(".") or (not prefix and d == INTRO_FOLDER):
                continue  # dot folders; content/_digest/ holds the next issue's intro
            if why := name_problem(d):
                problems.append(Problem(shown_name(prefix + d) + "/", why, Severity.ERROR))
                unlisted.append(prefix + d)  # not looked into: what it held stays
                continue
            kept.append(d)
        dirs[:] = kept
        signatures: dict[str, str] = {}
        here = folder + os.sep  # joined as a string: no os.path.join per file
        for name in names:
            if is_temp_name(name):
                continue
            if (why := name_problem(name)) and _is_content(name):
                problems.append(Problem(shown_name(prefix + name), why, Severity.ERROR))
                unlisted.append(prefix + name)  # published before the name was refused: kept
                continue
            if why:
                continue
            if (signature := stat_signature(here + name)) is not None:
                signatures[name] = signature  # None: deleted while we walked
        for name, signature in signatures.items():
            if not _is_content(name):
                continue
            if side := signatures.get(os.path.splitext(name)[0] + SIDECAR_SUFFIX):
                signature += f"+{side}"
            found[prefix + name] = signature
    return Listing(found, tuple(sorted(unlisted)), tuple(sorted(problems, key=_problem_order)))


def _problem_order(problem: Problem) -> tuple[str, str]:
    """Walk problems by name, not in the order the file system lists a folder."""
    return problem.file, problem.reason


def _is_content(name: str) -> bool:
    """A file some registered reader reads (`content.readers.READERS`)."""
    return reader_for(name) is not None


def _kept_by(path: str, unlisted: tuple[str, ...]) -> bool:
    """True when `path` is, or lies in, an entry that was not looked at this time."""
    return any(entry == "" or path == entry or path.startswith(entry + "/") for entry in unlisted)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class _Taken:
    """The post ids in use: the store's (withdrawn ones too) and those made this scan."""

    def __init__(self, session: IntakeSession) -> None:
        self.session, self.made = session, set[str]()

    def __contains__(self, post_id: str) -> bool:
        return post_id in self.made or self.session.post(post_id) is not None

    def add(self, post_id: str) -> None:
        self.made.add(post_id)


def _new_id(post: ParsedPost, path: str, tz: tzinfo, taken: _Taken, base: str | None = None) -> str:
    """A new post's id: `settle.id_base` (`base`, when a worker made it), with "-2",
    "-3"... while that is taken."""
    if base is None:
        base = id_base(post, path, tz)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


_BATCH = 500  # files whose rows are handed to the store at once (memory stays flat)


class _Reconciler:
    """Works out what one scan's readings change, and hands the store its batches.

    A post the store has never seen (every post of a cold start) is settled by its
    first version: files are read in path order and, all read at the same moment, the
    first version wins and gives the key (see `commit`); so its row is written with
    the batch and its text is not kept. Only posts the store knew wait for `commit`,
    which weighs their versions old and new."""

    def __init__(
        self,
        session: IntakeSession,
        known: dict[str, FileRecord],
        tz: tzinfo,
        now: datetime,
        keep_published: bool = True,
    ) -> None:
        self.session, self.known, self.tz, self.now = session, known, tz, now
        self.stamp = _stamp(now)  # every version read now changed at this moment
        # identity key -> post id, as this scan changed them (None: let go); else the store's
        self.by_key: dict[str, str | None] = {}
        self.taken = _Taken(session)
        self.files: dict[str, tuple[FileRecord, tuple[Problem, ...], bool]] = {}
        self.versions: dict[str, list[Version]] = {}  # path -> what it holds now, unsaved
        self.fresh: dict[str, list[Version]] = {}  # known post -> its versions read now
        self.reread: set[str] = set()  # paths read with their posts this scan
        self.forgotten: list[str] = []
        self.touched: set[str] = set()
        self.settled: set[str] = set()  # new posts, written with their first version
        self.files_of: dict[str, dict[str, None]] = {}  # their files, for post_published
        self.writes: list[PostWrite] = []  # new posts' rows, unsaved
        self.keep_published = keep_published  # someone listens to post_published
        self.published: list[Post] = []  # new posts, in id order, once committed

    def file_read(
        self,
        path: str,
        record: FileRecord,
        reading: Reading,
        prepared: tuple[handback.Prepared, ...] | None = None,
    ) -> None:
        """`prepared`: what a worker made of the reading's posts for the store (their
        versions' text, keys, ids and fingerprints: `content.handback`); else it is
        made here."""
        self.files[path] = (record, reading.problems, path in self.known)
        if not reading.failed:  # a broken edit keeps the last good version published
            self._file_holds(path, reading.posts, prepared)
        if len(self.files) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self.session.save_files(self.files)
        self.session.save_versions(self.versions)
        self.session.save_posts(self.writes)
        self.files, self.versions, self.writes = {}, {}, []

    def _is_new(self, post_id: str) -> bool:
        return self.session.post(post_id) is None and not self.session.paths_of(post_id)

    def _owner(self, key: str) -> str | None:
        """The post that has this identity key now."""
        if key in self.by_key:
            return self.by_key[key]
        return self.session.post_for_key(key)

    def _file_holds(
        self,
        path: str,
        posts: tuple[ParsedPost, ...],
        prepared: tuple[handback.Prepared, ...] | None,
    ) -> None:
        old = self.session.slots(path)
        old_by_key = {key: post_id for post_id, key in old.values()}
        claimed: set[str] = set()
        held = []
        made: dict[str, str] = {}  # post id -> its fingerprint as a new post, from a worker
        for slot, post in enumerate(posts):
            data = base = fingerprint = None
            if prepared is None:
                key = identity_key(post, self.tz)
            else:
                data, key, base, fingerprint = prepared[slot]
            post_id = old_by_key.get(key) or self._owner(key)
            if post_id is None and slot in old and old[slot][0] not in claimed:
                # same place in the same file, new title or date: an edit, not a new post
                post_id = old[slot][0]
                if self._owner(old[slot][1]) == post_id:
                    self.by_key[old[slot][1]] = None
            if post_id is None:
                post_id = _new_id(post, path, self.tz, self.taken, base)
                if post_id == base:  # the id the worker fingerprinted it under
                    made[post_id] = fingerprint
            self.by_key[key] = post_id
            claimed.add(post_id)
            held.append(Version(path, slot, post_id, key, self.stamp, post, data))
        rows = {}  # new posts' rows, made before anything is kept: one may raise
        new = {post_id for post_id in claimed if self._is_new(post_id)}  # once a post
        for version in held:
            post_id = version.post_id
            if post_id in new and post_id not in self.settled and post_id not in rows:
                rows[post_id] = self._settle(version, made.get(post_id))
        self.versions[path] = held
        self.reread.add(path)
        for version in held:
            if version.post_id not in new:
                self.fresh.setdefault(version.post_id, []).append(version)
            else:  # the first version settled it; a later copy only adds its file
                self.settled.add(version.post_id)
                if self.keep_published:
                    self.files_of.setdefault(version.post_id, {})[path] = None
        for write in rows.values():
            self.writes.append(write)
            if self.keep_published:
                self.published.append(write.post)
        self.touched |= claimed - new
        self.touched.update(post_id for post_id, _ in old.values())

    def _settle(self, version: Version, fingerprint: str | None = None) -> PostWrite:
        """A new post's row, from its first version (what `commit` would choose);
        `fingerprint`: the post's, when a worker made it (`settle.first_fingerprint`)."""
        post = self._publishable(version.post_id, [version], self.now)
        if fingerprint is None:
            fingerprint = _fingerprint(post)
        return PostWrite(post, version.key, fingerprint, exists=False)

    def file_deleted(self, path: str) -> None:
        self.forgotten.append(path)
        self.touched |= {post_id for post_id, _ in self.session.slots(path).values()}

    def _versions_of(self, post_id: str, fresh: list[Version], reread: set[str]) -> list[Version]:
        """Its versions in the files read now, and in files not read (or deleted) this time."""
        unread = self.session.paths_of(post_id) - reread
        stored = self.session.stored_versions(post_id, unread) if unread else []
        return sorted(fresh + stored, key=lambda v: (v.path, v.slot))

    def commit(self) -> tuple[list[str], list[str], list[str]]:
        """Recompute every touched post from its versions and write the last batch.

        Returns the (new, updated, withdrawn) post ids."""
        new, updated, withdrawn = list(self.settled), [], []
        writes = self.writes
        reread = self.reread | set(self.forgotten)  # once: per post it was O(files²)
        for post_id in sorted(self.touched):
            state = self.session.post(post_id)
            in_order = self._versions_of(post_id, self.fresh.get(post_id, []), reread)
            if not in_order:
                if state and not state.withdrawn:
                    withdrawn.append(post_id)
                continue
            picked_up = datetime.fromisoformat(state.picked_up) if state else self.now
            post = self._publishable(post_id, in_order, picked_up)
            fingerprint = _fingerprint(post)
            if state and fingerprint == state.fingerprint and not state.withdrawn:
                continue
            writes.append(PostWrite(post, in_order[0].key, fingerprint, exists=state is not None))
            (updated if state else new).append(post_id)
            if state is None:
                self.published.append(post)
        self.session.write(self.files, self.forgotten, self.versions, writes, withdrawn)
        self.published = sorted(
            (
                replace(post, files=tuple(self.files_of[post.id]))
                if post.id in self.files_of
                else post
                for post in self.published
            ),
            key=lambda post: post.id,
        )
        return sorted(new), updated, withdrawn

    def _publishable(self, post_id: str, in_order: list[Version], picked_up: datetime) -> Post:
        # The file changed most recently is the curator's latest word; ties go to path order
        # (max keeps the first of equals).
        chosen = max(in_order, key=lambda v: v.changed_at)
        files = tuple(dict.fromkeys(v.path for v in in_order))
        return publishable(post_id, chosen.post, files, picked_up, self.now, self.tz)


def was_refused(record: FileRecord) -> bool:
    """An entry refused last time is looked at again at every scan, whatever its stat
    says: what mends it (a chmod, a larger content.max_file_kb, a link's target
    created) need not change its size or mtime. It is cheap: nothing is read that is
    still refused."""
    return record.sha256.startswith(_REFUSED)


_CHUNK = 32  # files a worker is sent at once: few round trips, little in flight
_AHEAD = 4  # chunks sent per worker before the first comes back


def _examine_all(jobs: list[_Job], now: datetime) -> Iterator[handback.Examined]:
    """Examine files in order; a big batch (a cold start) is spread over every core.

    At most `_AHEAD` chunks per worker are out at a time (`Executor.map` would send
    them all and hold every result not yet taken: a cold start's 100,000 posts in the
    parent, when it writes slower than the workers read)."""
    cores = pool.cores()
    if len(jobs) < _PARALLEL_FROM or cores < 2 or not _travel({job[4] for job in jobs}):
        for result in map(_examine, jobs):  # the versions encoded when they are saved
            yield None if result is None else (*result, None)
        return
    # the readers and their parsers imported once, in the forkserver, not in every worker
    workers = pool.start(cores, preload=[handback.__name__, *PARSERS])
    chunks = enumerate(jobs[start : start + _CHUNK] for start in range(0, len(jobs), _CHUNK))
    # each chunk's results come back in a file, its name through the pipe (`handback`)
    folder = tempfile.mkdtemp(prefix="postroom-scan-")
    sent = functools.partial(handback.examine_to_file, folder, now)
    results = pool.in_order(workers, sent, chunks, _AHEAD * cores)
    try:
        for path in results:
            yield from handback.taken(path)
    finally:
        results.close()  # the workers stopped first, should the scan stop early
        shutil.rmtree(folder, ignore_errors=True)  # a failed pool's results, not taken


def _travel(readers: set[Reader | None]) -> bool:
    """Whether these readers can be sent to a worker process: a module-level function
    goes by name, a lambda or a closure cannot go at all (then the files are read here)."""
    try:
        pickle.dumps(readers)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class ScanScope:
    """What a delta scan looks at: the files named (paths relative to the content folder,
    from file events) and the folders to walk (made, moved or removed). Everything else
    is taken to be as the store has it, so a scope is only as good as the events it came
    from: the service keeps a full walk as the safety net, and hands a delta scan only
    after a full walk that left nothing unlisted (`ScanReport.unlisted`), with every
    path the quiet period still holds added (`QuietPeriod.held`).

    A path out of sight of the walk (in a dot folder, a temp name, not a post file) is
    not found, as the walk would not find it; one the delta cannot judge as the walk
    would (a name refused, a folder that cannot be listed or stat'ed) makes the scan
    walk everything."""

    files: frozenset[str] = frozenset()
    folders: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.files or self.folders)


class _WalkEverything(Exception):
    """A delta scan met what only a full walk judges rightly."""


def _visible(parts: list[str], last_is_file: bool) -> bool:
    """Whether the walk would reach these path parts (no dot folder, not content/_digest/,
    no temp name); refused names make the scan walk everything."""
    for n, part in enumerate(parts):
        if part in ("", ".", ".."):
            raise _WalkEverything
        if name_problem(part):
            raise _WalkEverything
        if last_is_file and n == len(parts) - 1:
            return not is_temp_name(part)
        if part.startswith(".") or (n == 0 and part == INTRO_FOLDER):
            return False
    return True


def _real_folder(root: str, folder: str) -> bool:
    """Whether the walk goes into `folder` (and its parents): real folders all the way,
    no link to a folder (not followed). Raises _WalkEverything when it cannot tell."""
    here = root
    for part in folder.split("/") if folder else ():
        here = os.path.join(here, part)
        try:
            st = os.lstat(here)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError:
            raise _WalkEverything from None
        if not stat.S_ISDIR(st.st_mode):
            return False
    return True


def _entry_signature(root: str, path: str) -> str | None:
    """A post file's signature as the walk would list it (with its sidecar's), or None
    when the walk would not list it as a post file."""
    parent, name = os.path.split(path)
    if not _visible(path.split("/"), True) or not _is_content(name):
        return None
    if not _real_folder(root, parent):
        return None
    full = os.path.join(root, path)
    try:
        os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        raise _WalkEverything from None
    if os.path.isdir(full):  # a folder (or a link to one): not a file to the walk
        return None
    signature = stat_signature(full)
    if signature is None:
        return None
    side = os.path.join(root, os.path.splitext(path)[0] + SIDECAR_SUFFIX)
    exists = os.path.lexists(side) and not os.path.isdir(side)
    if exists and (side_signature := stat_signature(side)) is not None:
        signature += f"+{side_signature}"
    return signature


def _sidecar_owners(root: str, sidecar: str) -> list[str]:
    """The files beside a sidecar with its stem (`a.md` for `a.meta.toml`; any case of
    any extension, as `reader_for` reads them): one listing of its folder."""
    parent, name = os.path.split(sidecar)
    stem = name[: -len(SIDECAR_SUFFIX)]
    try:
        names = os.listdir(os.path.join(root, parent))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        raise _WalkEverything from None
    prefix = parent + "/" if parent else ""
    return [prefix + n for n in names if os.path.splitext(n)[0] == stem and n != name]


def _scoped(root: Path, scope: ScanScope) -> tuple[dict[str, str], set[str], list[str]]:
    """What the walk would find within `scope`: (post files and their signatures, the
    files to look up in the store, the folders whose known files are all in question).
    Raises _WalkEverything when the scope holds what only a full walk judges rightly."""
    base = str(root)
    found: dict[str, str] = {}
    paths: set[str] = set()
    folders: list[str] = []
    for path in sorted(scope.files):
        if path.endswith(SIDECAR_SUFFIX):  # its post file's signature carries it
            paths.update(_sidecar_owners(base, path))
            continue
        paths.add(path)
        full = os.path.join(base, path)
        if os.path.isdir(full) and not os.path.islink(full):  # a file event's path is a
            folders.append(path)  # folder now: walked, as the walk would
    folders += sorted(scope.folders)
    for folder in sorted(set(folders)):
        paths.add(folder)  # a file where the folder is now, or was
        if not _visible(folder.split("/"), False) or not _real_folder(base, folder):
            continue  # gone, hidden or a link: nothing under it is found
        listing = list_content(root, folder)
        if listing.unlisted:
            raise _WalkEverything
        found.update(listing.files)
    for path in paths:
        if (signature := _entry_signature(base, path)) is not None:
            found[path] = signature
    return found, paths, sorted(set(folders))


WAITING = "another scan of this site is running; waiting for it"


def _wait_quietly() -> None:
    pass


def scan(
    site: Site,
    store: Store,
    now: datetime | None = None,
    quiet: QuietPeriod | None = None,
    on_wait: Callable[[], None] = _wait_quietly,
    progress: Callable[[int, int], None] | None = None,
    scope: ScanScope | None = None,
) -> ScanReport:
    """Bring the store up to date with the content folder.

    With a `scope` (the service, from file events), only what it names is looked at:
    the same store rows and report as a full scan, for the same change, in time that
    grows with the change, not the folder (see ScanScope for what it relies on).

    With `quiet` (the service), files still being written and files gone only
    for an instant are left for a later scan; without it, everything is read now.
    One scan of a site runs at a time (`check` beside the service, two `run --once`):
    a second waits for the first, after `on_wait` (which says WAITING to its reader).
    `progress(done, total)` is told of every file read. Each new post is then sent as
    `core.signals.post_published`, once its scan is committed and the scan lock let go
    (a slow receiver holds up no other scan)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if not site.content_dir.is_dir():  # a missing folder must not read as "every post deleted"
        raise ConfigError(f"{site.content_dir}: the content folder is missing")
    with exclusive(store, "scan", on_wait):
        report, published = _scan(site, store, now, quiet, progress, scope)
    for post in published:
        send(post_published, site, post=post)
    return report


def _scan(
    site: Site,
    store: Store,
    now: datetime,
    quiet: QuietPeriod | None,
    progress: Callable[[int, int], None] | None,
    scope: ScanScope | None = None,
) -> tuple[ScanReport, list[Post]]:
    """The scan's report, and the posts it made public for the first time."""
    config = site.config
    root = site.content_dir  # once: a Path made (and parsed) per file costs a cold scan 0.1 s
    delta = None
    if scope is not None:
        try:
            delta = _scoped(root, scope)
        except _WalkEverything:
            delta = None
    if delta is None:
        listing = list_content(root)
        found = listing.files
        known = store.files()
        total = len(found)
    else:
        found, paths, folders = delta
        listing = Listing(found, (), ())
        known = store.files(paths, folders)
        total = store.count_files() - len(known) + len(found)
    stale = {
        path: sig
        for path, sig in found.items()
        if path not in known or known[path].signature != sig or was_refused(known[path])
    }
    gone = sorted(p for p in set(known) - set(found) if not _kept_by(p, listing.unlisted))
    for path in [p for p in stale if p in known and known[p].signature == stale[p]]:
        result = _examine((root, path, known[path].sha256, config, reader_for(path)))
        if result is not None and result[2] is None:  # refused as before: nothing to write
            del stale[path]
    waiting: list[str] = []
    if quiet is not None:
        waiting = [p for p in sorted(stale) if not quiet.ready(p, stale[p])]
        waiting += [p for p in gone if not quiet.gone(p)]
        held = set(waiting)
        if delta is None:
            quiet.forget_except(held)
        else:  # what is held outside the scope stays held
            paths, folders = delta[1], delta[2]
            inside = tuple(folders)
            outside = {p for p in quiet.held() if p not in paths and not _kept_by(p, inside)}
            quiet.forget_except(held | outside)
        stale = {p: sig for p, sig in stale.items() if p not in held}
        gone = [p for p in gone if p not in held]
    parsed = 0
    new: list[str] = []
    updated: list[str] = []
    withdrawn: list[str] = []
    published: list[Post] = []
    if stale or gone:
        with store.intake(lazy=delta is not None, reads=len(stale)) as session:
            listening = bool(post_published.receivers)
            reconciler = _Reconciler(session, known, config.tz, now, listening)
            jobs = [
                (
                    root,
                    path,
                    known[path].sha256 if path in known else None,
                    config,
                    reader_for(path),
                )
                for path in sorted(stale)
            ]
            for done, result in enumerate(_examine_all(jobs, now), 1):
                if progress is not None:
                    progress(done, len(jobs))
                if result is None:
                    continue  # gone since the walk; the next scan forgets it
                path, digest, reading, prepared = result
                if reading is None:  # touched, not changed (or refused as before)
                    if path not in known or known[path].signature != stale[path]:
                        session.touch_file(path, stale[path])
                    continue
                parsed += 1
                stamp = reconciler.stamp  # `now`'s, made once, not once a file
                first_seen = known[path].first_seen if path in known else stamp
                record = FileRecord(stale[path], digest, first_seen, stamp)
                try:
                    reconciler.file_read(path, record, reading, prepared)
                except Exception as exc:  # a bug of ours: this file is reported, not the scan
                    why = one_line(f"could not be taken in ({type(exc).__name__}: {exc})")
                    reconciler.file_read(path, record, _failed(path, why, None)[2])
            for path in gone:
                reconciler.file_deleted(path)
            new, updated, withdrawn = reconciler.commit()
        published = reconciler.published  # committed: the intake block has ended
    return ScanReport(
        files=total,
        parsed=parsed,
        new=tuple(new),
        updated=tuple(updated),
        withdrawn=tuple(withdrawn),
        problems=tuple(store.problems()) + listing.problems,
        waiting=tuple(waiting),
        unlisted=listing.unlisted,
        walked=delta is None,
    ), published
