"""Incremental pick-up: which files changed, what posts they hold, which posts those are.

A rescan stats every file and reads only those whose size or mtime moved, and
parses only those whose bytes did; so an unchanged folder costs a directory
walk. A post's identity is its date and title (or an explicit id): the same
post in two captures is one post, and an edited file keeps its posts' ids by
matching on identity first, then on position in the file.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from content.model import DateSource, ParsedPost, Post, Problem
from content.readers import EXTENSIONS, SIDECAR_SUFFIX, Reading, read_file, sidecar_path
from content.settle import Settle
from content.site import Config, ConfigError, Site
from content.slug import slugify
from store import FileRecord, IntakeSession, PostWrite, Store, Version

_PARALLEL_FROM = 200  # files to parse before worker processes pay for their start-up
_NOT_WORD = re.compile(r"\W+")
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

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated or self.withdrawn)


def content_files(root: Path) -> dict[str, str]:
    """Relative path -> stat signature (size:mtime, and the sidecar's) of every post file."""
    found: dict[str, str] = {}
    skip = len(str(root)) + 1
    for folder, dirs, names in os.walk(root):
        prefix = folder[skip:].replace(os.sep, "/")
        prefix += "/" if prefix else ""
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        stats: dict[str, os.stat_result] = {}
        for name in names:
            if is_temp_name(name):
                continue
            try:
                stats[name] = os.stat(os.path.join(folder, name))
            except FileNotFoundError:  # deleted while we walked
                continue
        for name, st in stats.items():
            stem, suffix = os.path.splitext(name)
            if suffix.lower() not in EXTENSIONS or name.endswith(SIDECAR_SUFFIX):
                continue
            signature = f"{st.st_size}:{st.st_mtime_ns}"
            if side := stats.get(stem + SIDECAR_SUFFIX):
                signature += f"+{side.st_size}:{side.st_mtime_ns}"
            found[prefix + name] = signature
    return found


def identity_key(post: ParsedPost, tz: tzinfo) -> str:
    if post.id_hint:
        return f"id:{post.id_hint}"
    title = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", post.title).casefold()).strip()
    day = post.date.astimezone(tz).date().isoformat() if post.date else "undated"
    return f"{day}:{title}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _new_id(post: ParsedPost, tz: tzinfo, now: datetime, taken: set[str]) -> str:
    if post.id_hint:
        base = post.id_hint
    else:
        day = (post.date or now).astimezone(tz).date().isoformat()
        base = f"{day}-{slugify(post.title, 60)}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _fingerprint(post: Post) -> str:
    data = asdict(replace(post, picked_up=None, updated=None, files=()))
    return hashlib.sha256(json.dumps(data, default=str, sort_keys=True).encode()).hexdigest()


class _Reconciler:
    """Works out what one scan's readings change, then hands the store one batch."""

    def __init__(
        self, session: IntakeSession, known: dict[str, FileRecord], tz: tzinfo, now: datetime
    ) -> None:
        self.session, self.known, self.tz, self.now = session, known, tz, now
        self.by_key = {state.key: post_id for post_id, state in session.posts.items()}
        self.taken = set(session.posts)
        self.files: dict[str, tuple[FileRecord, tuple[Problem, ...], bool]] = {}
        self.versions: dict[str, list[Version]] = {}  # path -> what it holds now
        self.forgotten: list[str] = []
        self.touched: set[str] = set()

    def file_read(self, path: str, record: FileRecord, reading: Reading) -> None:
        self.files[path] = (record, reading.problems, path in self.known)
        if not reading.failed:  # a broken edit keeps the last good version published
            self._file_holds(path, reading.posts)

    def _file_holds(self, path: str, posts: tuple[ParsedPost, ...]) -> None:
        old = self.session.slots.get(path, {})
        old_by_key = {key: post_id for post_id, key in old.values()}
        claimed: set[str] = set()
        held = []
        for slot, post in enumerate(posts):
            key = identity_key(post, self.tz)
            post_id = old_by_key.get(key) or self.by_key.get(key)
            if post_id is None and slot in old and old[slot][0] not in claimed:
                # same place in the same file, new title or date: an edit, not a new post
                post_id = old[slot][0]
                if self.by_key.get(old[slot][1]) == post_id:
                    del self.by_key[old[slot][1]]
            if post_id is None:
                post_id = _new_id(post, self.tz, self.now, self.taken)
            self.by_key[key] = post_id
            claimed.add(post_id)
            held.append(Version(path, slot, post_id, key, _stamp(self.now), post))
        self.versions[path] = held
        self.touched |= claimed | {post_id for post_id, _ in old.values()}

    def file_deleted(self, path: str) -> None:
        self.forgotten.append(path)
        self.touched |= {post_id for post_id, _ in self.session.slots.get(path, {}).values()}

    def _versions_of(self, post_id: str, fresh: list[Version], reread: set[str]) -> list[Version]:
        """Its versions in the files read now, and in files not read (or deleted) this time."""
        settled = self.session.paths_of.get(post_id, set()) - reread
        stored = self.session.stored_versions(post_id, settled) if settled else []
        return sorted(fresh + stored, key=lambda v: (v.path, v.slot))

    def commit(self) -> tuple[list[str], list[str], list[str]]:
        """Recompute every touched post from its versions and write the batch.

        Returns the (new, updated, withdrawn) post ids."""
        new, updated, withdrawn = [], [], []
        writes = []
        fresh: dict[str, list[Version]] = {}
        for held in self.versions.values():
            for version in held:
                fresh.setdefault(version.post_id, []).append(version)
        reread = set(self.versions) | set(self.forgotten)  # once: per post it was O(files²)
        for post_id in sorted(self.touched):
            state = self.session.posts.get(post_id)
            in_order = self._versions_of(post_id, fresh.get(post_id, []), reread)
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
        self.session.write(self.files, self.forgotten, self.versions, writes, withdrawn)
        return new, updated, withdrawn

    def _publishable(self, post_id: str, in_order: list[Version], picked_up: datetime) -> Post:
        # The file changed most recently is the curator's latest word; ties go to path order
        # (max keeps the first of equals).
        chosen = max(in_order, key=lambda v: v.changed_at)
        parsed = chosen.post
        return Post(
            id=post_id,
            title=parsed.title,
            date=parsed.date or picked_up.astimezone(self.tz).replace(microsecond=0),
            date_source=parsed.date_source or DateSource.PICKED_UP,
            picked_up=picked_up,
            updated=self.now,
            body_html=parsed.body_html,
            summary=parsed.summary,
            attribution=parsed.attribution,
            tags=parsed.tags,
            files=tuple(dict.fromkeys(v.path for v in in_order)),
        )


_Job = tuple[Path, str, str | None, Config]


def _examine(job: _Job) -> tuple[str, str, Reading | None] | None:
    """Hash a file and parse it if its bytes changed: (path, sha256, reading or None)."""
    content_dir, path, known_sha, config = job
    full = content_dir / path
    try:
        data = full.read_bytes()
        side = sidecar_path(full)
        sidecar = side.read_bytes() if side.exists() else None
    except FileNotFoundError:
        return None
    digest = hashlib.sha256(data + b"\0" + (sidecar or b"")).hexdigest()
    if digest == known_sha:
        return path, digest, None
    return path, digest, read_file(path, data, sidecar, config)


def _examine_all(jobs: list[_Job]) -> Iterator[tuple[str, str, Reading | None] | None]:
    """Examine files in order; a big batch (a cold start) is spread over every core."""
    cores = os.cpu_count() or 1
    if len(jobs) < _PARALLEL_FROM or cores < 2:
        yield from map(_examine, jobs)
        return
    # forkserver: forking a process that runs scheduler threads is not safe
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=cores, mp_context=context) as pool:
        yield from pool.map(_examine, jobs, chunksize=32)


def scan(
    site: Site, store: Store, now: datetime | None = None, settle: Settle | None = None
) -> ScanReport:
    """Bring the store up to date with the content folder.

    With `settle` (the service), files still being written and files gone only
    for an instant are left for a later scan; without it, everything is read now."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    config = site.config
    if not site.content_dir.is_dir():  # a missing folder must not read as "every post deleted"
        raise ConfigError(f"{site.content_dir}: the content folder is missing")
    found = content_files(site.content_dir)
    known = store.files()
    stale = {
        path: sig
        for path, sig in found.items()
        if path not in known or known[path].signature != sig
    }
    gone = sorted(set(known) - set(found))
    waiting: list[str] = []
    if settle is not None:
        waiting = [p for p in sorted(stale) if not settle.ready(p, stale[p])]
        waiting += [p for p in gone if not settle.gone(p)]
        held = set(waiting)
        settle.forget_except(held)
        stale = {p: sig for p, sig in stale.items() if p not in held}
        gone = [p for p in gone if p not in held]
    parsed = 0
    new: list[str] = []
    updated: list[str] = []
    withdrawn: list[str] = []
    if stale or gone:
        with store.intake() as session:
            reconciler = _Reconciler(session, known, config.tz, now)
            jobs = [
                (site.content_dir, path, known[path].sha256 if path in known else None, config)
                for path in sorted(stale)
            ]
            for result in _examine_all(jobs):
                if result is None:
                    continue  # gone since the walk; the next scan forgets it
                path, digest, reading = result
                if reading is None:  # touched, not changed
                    session.touch_file(path, stale[path])
                    continue
                parsed += 1
                stamp = _stamp(now)
                first_seen = known[path].first_seen if path in known else stamp
                reconciler.file_read(
                    path, FileRecord(stale[path], digest, first_seen, stamp), reading
                )
            for path in gone:
                reconciler.file_deleted(path)
            new, updated, withdrawn = reconciler.commit()
    return ScanReport(
        files=len(found),
        parsed=parsed,
        new=tuple(new),
        updated=tuple(updated),
        withdrawn=tuple(withdrawn),
        problems=tuple(store.problems()),
        waiting=tuple(waiting),
    )
