"""The Store: the state postroom keeps between runs, behind a small typed API.

SQLAlchemy Core over any URL: a SQLite file by default. Intake writes through
an `IntakeSession` (one transaction per scan, so a crash leaves the last good
state); feeds, pages and `check` read `Post`s and `Problem`s.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from itertools import chain
from operator import itemgetter

from postroom.core.excerpts import EXCERPT_STAMP
from postroom.core.model import (
    Attribution,
    DateSource,
    LeadImage,
    ParsedPost,
    Post,
    PostHead,
    Problem,
    Republish,
    Severity,
)
from postroom.store import changes
from postroom.store.encoding import decode_parsed, encode_parsed
from postroom.store.encoding import image as _image
from postroom.store.encoding import plain as plain  # `postroom.store.plain`
from postroom.store.migrations import NewerSchema, is_current, migrate
from postroom.store.schema import files, posts, versions
from sqlalchemy import (
    JSON,
    Connection,
    Table,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError


def database_trouble(url: str, exc: BaseException) -> str | None:
    """'the database <url, no password>: <the driver's reason>', in one line, when `exc`
    is the database's (a corrupt file, a server away); None for any other error. Here,
    so that no layer above the store needs to know SQLAlchemy's exceptions."""
    if not isinstance(exc, SQLAlchemyError):
        return None
    try:
        where = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        where = "(a URL SQLAlchemy cannot read)"
    reason = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(reason).strip().splitlines()
    return f"the database {where}: {text[0] if text else type(reason).__name__}"


class StoreError(RuntimeError):
    """The database cannot be used (a newer schema, say); the message says what to do."""


@dataclass(frozen=True)
class FileRecord:
    signature: str
    sha256: str
    first_seen: str
    changed_at: str


@dataclass(frozen=True)
class Version:
    """What one file says of one post."""

    path: str
    slot: int
    post_id: str
    key: str
    changed_at: str  # when that file last changed: the newest version wins
    post: ParsedPost
    # `encode_parsed(post)`, when a scan's worker made it already (`content.handback`)
    data: str | None = None


@dataclass(frozen=True)
class PostState:
    key: str
    picked_up: str
    fingerprint: str
    withdrawn: bool


@dataclass(frozen=True)
class PostWrite:
    post: Post
    key: str
    fingerprint: str
    exists: bool


def _image_json(image: LeadImage | None) -> str | None:
    return json.dumps(asdict(image), ensure_ascii=False, sort_keys=True) if image else None


def _problems_json(problems: Iterable[Problem]) -> str:
    if problems == ():  # nearly every file: no encoder for "[]"
        return "[]"
    return json.dumps([[p.reason, p.severity.value] for p in problems], ensure_ascii=False)


#: how long a SQLite connection waits for another's lock before it gives up
_BUSY_MS = 10_000
#: seconds between tries to cut an intake's WAL file (`Store._truncated`), and for how long
_TRUNCATE_EVERY = 0.025
_TRUNCATE_FOR = 30.0
#: the page cache of an intake's connection (`Store.intake`), KiB; SQLite's default is 2 MiB.
#: A cold scan of 10,000 posts dirties more index pages than that holds: SQLite wrote them
#: to the WAL and, changed again, over their frames there, and then rewrote the checksum of
#: every frame after the first one overwritten at COMMIT (~50 CPU-ms, nothing else going
#: on). With 24 MiB: ~23 ms (8 and 16 MiB: no better). Only for the transaction: the cache
#: goes back to the default after, and the peak of a cold 100,000-post `run --once` (in its
#: build) stayed 297-298 MB (32 MiB: 302 MB, over the 300 MB goal).
_INTAKE_CACHE_KIB = 24 * 1024
#: files a scan reads from which its intake has that cache (a cold start's thousands)
_BIG_INTAKE = 1000


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers (a `check`, the web server) run beside a scan.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    cursor.close()


def engine_url(url: str) -> str:
    """`postgresql://` (libpq's spelling, as PostgreSQL's own tools print it) means
    psycopg 3 here, not SQLAlchemy's default psycopg2."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg{sep}{rest}"
    return url


class Store:
    def __init__(self, url: str) -> None:
        url = engine_url(url)
        self._checkpoint: threading.Thread | None = None  # `intake`'s WAL copied back
        self._stop_truncating = threading.Event()  # its file cut: no more tries (`_truncated`)
        # pre-ping: a PostgreSQL restart must not fail the next job with a dead connection
        self.engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            with self.engine.connect() as conn:
                current = is_current(conn)
            if not current:
                with self.immediate() as conn:
                    migrate(conn)
        except NewerSchema as exc:
            self.engine.dispose()
            raise StoreError(str(exc)) from None

    @contextmanager
    def immediate(self, secure_delete: bool = False) -> Iterator[Connection]:
        """One write transaction holding SQLite's write lock from its first statement
        (BEGIN IMMEDIATE), so what it reads cannot change before it writes; a plain
        transaction on PostgreSQL. `secure_delete`: SQLite zeroes the pages and cells the
        transaction frees (an erase: deleted text must not stay in the file).

        The migration runs in one: SQLite's driver would run each CREATE outside a
        transaction, so two processes starting on a new file raced ("table already
        exists"); PostgreSQL's DDL is transactional (and migrate() takes an advisory
        lock)."""
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if secure_delete:
                conn.exec_driver_sql("PRAGMA secure_delete=ON")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
                conn.exec_driver_sql("COMMIT")
            finally:
                if secure_delete:
                    conn.exec_driver_sql("PRAGMA secure_delete=OFF")

    def close(self) -> None:
        self._checkpointed()
        self.engine.dispose()

    def files(
        self, paths: Iterable[str] | None = None, under: Iterable[str] = ()
    ) -> dict[str, FileRecord]:
        """The file rows: every one; or, for a delta scan, those of `paths` and those lying
        under the folders `under` (by the primary key, never a read of every row)."""
        columns = select(
            files.c.path, files.c.signature, files.c.sha256, files.c.first_seen, files.c.changed_at
        )
        with self.engine.connect() as conn:
            if paths is None:
                rows = conn.execute(columns).all()
            else:
                rows = []
                for chunk in _chunks(sorted(set(paths))):
                    rows += conn.execute(columns.where(files.c.path.in_(chunk))).all()
                for folder in under:
                    rows += [
                        row
                        for row in conn.execute(columns.where(_under(conn, folder))).all()
                        if row.path.startswith(folder + "/")  # LIKE may match case-blind
                    ]
        return {row.path: FileRecord(*row[1:]) for row in rows}

    def count_files(self) -> int:
        """How many files the store knows (a delta scan's report counts from it)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(files)).scalar() or 0

    def problems(self) -> list[Problem]:
        """What is wrong with the files as last read, in path order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(files.c.path, files.c.problems)
                .where(files.c.problems != "[]")
                .order_by(files.c.path)
            ).all()
        return [
            Problem(row.path, reason, Severity(severity))
            for row in rows
            for reason, severity in json.loads(row.problems)
        ]

    def count_posts(self) -> int:
        """How many posts are published (cheaper than len(posts())): all rows less the
        withdrawn ones. Two counts, because SQLite counts a whole table from its smallest
        index, and the withdrawn few by the index that starts with `withdrawn`; counting
        `withdrawn IS 0` walks that wide index's every entry (40 ms at 100,000 posts,
        in every scan that finds a change, before its build). One statement: one read."""
        every = select(func.count()).select_from(posts).scalar_subquery()
        gone = (
            select(func.count()).select_from(posts).where(posts.c.withdrawn.is_(True))
        ).scalar_subquery()
        with self.engine.connect() as conn:
            return conn.execute(select(every - gone)).scalar() or 0

    def places(self) -> dict[str, tuple[str, int]]:
        """Where each post stands: its first file and its position in it, for listing a
        page's posts in the order the page gives them."""
        found: dict[str, tuple[str, int]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(versions.c.post_id, versions.c.path, versions.c.slot).order_by(
                    versions.c.path, versions.c.slot
                )
            )
            for post_id, path, slot in rows:
                found.setdefault(post_id, (path, slot))
        return found

    def posts(self) -> list[Post]:
        """Every published post, newest pick-up first."""
        with self.engine.connect() as conn:
            # without the kept excerpts (`posts_by_id` reads them): a caller of every post
            # (the digest, `check`) shows a few at most, whose excerpt the Post works out
            rows = conn.execute(
                select(*_POST_COLUMNS)
                .where(posts.c.withdrawn.is_(False))
                .order_by(posts.c.picked_up.desc(), posts.c.id)
            ).all()
            where = _files_of(conn)
        return [_post(row, where[row[0]]) for row in rows]

    def heads(self, ids: Iterable[str] | None = None) -> list[PostHead]:
        """Every published post (or those among `ids`) without its text (`PostHead`),
        newest pick-up first: what a build reads of every post, in a fraction of the
        memory and time of `posts()`.

        Every head is read in a cold build's one-core gap between its scan and its
        build, so the loop is kept tight: the rows come from the driver's own cursor
        (`_driver_batches`), and each row's parts are looked up inline, not through a
        function call each (10,000 posts read alone: ~80 -> ~65 CPU-ms; in a cold `run
        --once`, its pages still in the WAL: ~100-130 -> ~85-95)."""
        moments: dict[str, datetime] = {}  # many posts share a pick-up time: one object each
        tag_lists: dict[str, tuple[str, ...]] = {}  # and many the same tags
        # and the same publication, author and credit: one Attribution (frozen) for all of
        # them, not one each with its own copies of the strings (~15 MB at 100,000 posts)
        credits: dict[tuple, Attribution] = {}
        sources = _DATE_SOURCES
        republished = {r.value: r for r in Republish}
        parse, loads = datetime.fromisoformat, json.loads
        heads: list[PostHead] = []
        append = heads.append

        def read(rows: Iterable, where: dict[str, tuple[str, ...]]) -> None:
            for row in rows:
                (id_, title, date, source, picked_up, updated, tags, fingerprint, republish) = row[
                    :9
                ]
                if (attribution := credits.get(named := tuple(row[9:14]))) is None:
                    attribution = credits[named] = Attribution(*named)
                if (at := moments.get(date)) is None:
                    at = moments[date] = parse(date)
                if (picked := moments.get(picked_up)) is None:
                    picked = moments[picked_up] = parse(picked_up)
                if (changed := moments.get(updated)) is None:
                    changed = moments[updated] = parse(updated)
                if (tagged := tag_lists.get(tags)) is None:
                    tagged = tag_lists[tags] = tuple(loads(tags))
                append(
                    PostHead(
                        id_,
                        title,
                        at,
                        sources[source],
                        picked,
                        changed,
                        attribution,
                        tagged,
                        where[id_],
                        (republished.get(republish) or Republish(republish)) if republish else None,
                        fingerprint,
                    )
                )

        with self.engine.connect() as conn:
            if ids is None:
                where = _files_of(conn)
                # a few thousand rows at a time: every row of 100,000 held at once beside
                # the heads made of them was a build's peak of memory
                for rows in _driver_batches(conn, _EVERY_HEAD):
                    read(rows, where)
            else:
                query = _HEADS.where(posts.c.id.in_(bindparam("ids", expanding=True)))
                for chunk in _chunks(list(dict.fromkeys(ids))):
                    rows = conn.execute(query, {"ids": chunk}).all()
                    read(rows, _files_of(conn, chunk))
        return heads

    def versions(self) -> dict[str, tuple]:
        """Each published post's id and a tuple that changes whenever what a build shows
        of its head does (its fingerprint, pick-up and update times, and its files: how
        many, the first by path, which problems name, and the last), from two indexes
        (schema 12), never the posts' text: a process that keeps heads between builds
        reads again only those that changed."""
        files = select(
            versions.c.post_id,
            func.count(),
            func.min(versions.c.path),
            func.max(versions.c.path),
        ).group_by(versions.c.post_id)
        narrow = select(posts.c.id, posts.c.fingerprint, posts.c.picked_up, posts.c.updated)
        with self.engine.connect() as conn:
            where = {row[0]: tuple(row[1:]) for row in conn.execute(files).all()}
            rows = conn.execute(narrow.where(posts.c.withdrawn.is_(False))).all()
        return {row[0]: (*row[1:], where.get(row[0])) for row in rows}

    def changes_since(self, seq: int | None) -> tuple[str, int, frozenset[str] | None]:
        """(the database's epoch, its newest change number, the ids of posts whose row or
        versions changed after `seq`: published, withdrawn or gone from files alike);
        `seq` None, or above the newest number: the number alone (ids None), taken
        before the caller reads every head, so anything written after is after the
        number. Two indexed lookups (`store.changes`), however many posts there are."""
        with self.engine.connect() as conn:
            epoch = changes.epoch(conn)
            newest = conn.execute(select(func.max(posts.c.changed))).scalar() or 0
            # below `seq`: the database went back (put back from a backup): ids None,
            # as for a first read, so the caller reads everything
            if seq is None or newest < seq:
                return epoch, newest, None
            rows = conn.execute(
                select(posts.c.id, posts.c.changed).where(posts.c.changed > seq)
            ).all()
        return epoch, max((row[1] for row in rows), default=seq), frozenset(r[0] for r in rows)

    def posts_by_id(self, ids: Iterable[str]) -> list[Post]:
        """The published posts among `ids`, whole, in the order of `ids` (one query per
        500): a build loads the text of the posts it renders, not of every post.

        One statement per dialect, built once (`_whole_posts`), its ids one expanding
        parameter: built per call with each id a literal, SQLAlchemy's building and cache
        key of it cost more than SQLite's reading of the rows (10,000 posts in batches of
        50: ~0.45 CPU-s, now ~0.25)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Post] = {}
        with self.engine.connect() as conn:
            query = _whole_posts(conn.dialect.name)
            for chunk in _chunks(wanted):
                rows = conn.execute(query, {"ids": chunk}).all()
                where = _files_of(conn, chunk)
                for row in rows:
                    found[row[0]] = _post(row, where[row[0]], row[-1])
        return [found[i] for i in wanted if i in found]

    @contextmanager
    def intake(self, lazy: bool = False, reads: int = 0) -> Iterator[IntakeSession]:
        """One transaction: a scan is saved whole or not at all. `lazy`: the session asks
        for what it needs by id, key or path (a delta scan of a few files) instead of
        reading every post's state and every version's place first (a full scan).
        `reads`: how many files the scan will read; from `_BIG_INTAKE` on, the
        transaction has a bigger page cache (`_INTAKE_CACHE_KIB`). Not for a few: a full
        scan of a big site reads pages enough to fill any cache, and one new post in a
        site of 100,000 took the command's peak from 299 to 321 MB with it."""
        if not self._checkpoints_aside():
            with self.engine.begin() as conn:
                yield IntakeSession(conn, lazy)
            return
        self._checkpointed()  # the last scan's WAL copied back: this one starts it again
        with self.engine.connect() as conn:
            every = int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())
            cache = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
            try:  # set inside: whatever stops it on the way, the connection gets both back
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
                if reads >= _BIG_INTAKE:
                    conn.exec_driver_sql(f"PRAGMA cache_size=-{_INTAKE_CACHE_KIB}")
                conn.commit()  # SQLAlchemy's "autobegin" of the PRAGMAs ended (no SQL on SQLite)
                with conn.begin():
                    yield IntakeSession(conn, lazy)
            finally:
                try:
                    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={every}")
                    conn.exec_driver_sql(f"PRAGMA cache_size={cache}")
                    conn.commit()
                except DBAPIError:  # not back to the pool without its automatic checkpoint
                    conn.invalidate()  # (nor with the intake's cache)
        begun = threading.Event()
        thread = threading.Thread(
            target=self._copy_back, args=(begun,), name="postroom-checkpoint", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: the scan is saved; the next
            return  # automatic checkpoint or the close copies its WAL back
        self._checkpoint = thread
        begun.wait()

    def _checkpoints_aside(self) -> bool:
        """Whether an intake's WAL is copied back to the database beside the caller
        (`intake`): on a SQLite file. A cold scan of 10,000 posts leaves ~100 MB in the
        WAL, and SQLite's automatic checkpoint copied it back inside the scan's commit
        (~0.2-0.3 s in which nothing else of a `run --once` went on); a checkpoint on its
        own connection and thread does that while the build goes on, and `close` finds
        little left. PostgreSQL and in-memory SQLite have no WAL file to copy."""
        url = self.engine.url
        return self.engine.dialect.name == "sqlite" and url.database not in (None, "", ":memory:")

    def _copy_back(self, begun: threading.Event) -> None:
        """A PASSIVE checkpoint: it copies back what no reader still needs, without
        waiting for a reader or a writer (readers go on seeing a consistent store: WAL
        mode). What it leaves, the next automatic checkpoint or the close copies. Its
        failure loses nothing (the WAL holds it all), so it is not raised.

        `begun` is set just before SQLite is asked (the caller waits for it): the
        caller's next commit (a `run --once` records the scan at once) most likely finds
        the checkpoint under way and leaves it be; set earlier, that commit's own automatic
        checkpoint could win the race and copy the whole WAL back in the caller's time.

        Then the WAL file is cut to nothing (`_truncated`): a cold scan of 10,000 posts
        leaves ~100 MB in it, whose deletion by the last connection to close took ~50-70
        ms of `run --once`'s tail, one core busy and the other idle; here it goes on beside
        the build."""
        try:
            with self.engine.connect() as conn:
                driver = conn.connection.dbapi_connection
                begun.set()
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
                driver.execute("PRAGMA busy_timeout=0")
                try:
                    self._truncated(driver)
                finally:  # back to the pool as every connection is (`_sqlite_pragmas`)
                    try:
                        driver.execute(f"PRAGMA busy_timeout={_BUSY_MS}").close()
                    except sqlite3.Error:  # not back to the pool without it
                        conn.invalidate()
        except (SQLAlchemyError, sqlite3.Error):
            pass
        finally:
            begun.set()

    def _truncated(self, driver: sqlite3.Connection) -> None:
        """The WAL copied back whole and its file cut to nothing (TRUNCATE), tried every
        `_TRUNCATE_EVERY` s while it cannot be had at once, until `_checkpointed` (the
        next intake, the close) or `_TRUNCATE_FOR` s. Never waited for (the busy timeout
        is 0 here): TRUNCATE holds the write lock while it waits for the readers of the
        WAL to go, so a caller's write would wait with it; and the WAL has readers while
        the build's workers read posts. Not had, the close deletes the file as before."""
        for _ in range(int(_TRUNCATE_FOR / _TRUNCATE_EVERY)):
            busy = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy or self._stop_truncating.wait(_TRUNCATE_EVERY):
                return

    def _checkpointed(self) -> None:
        """The last intake's checkpoint done: before the next intake (so a service's
        WAL starts again from its beginning rather than growing scan after scan) and
        before the close. The bound is this Store's: another process writing while
        this checkpoint runs (a `check` beside the service) can leave the WAL longer,
        until a later checkpoint finds no reader in its way."""
        if (thread := self._checkpoint) is not None:
            self._stop_truncating.set()
            thread.join()
            self._checkpoint = None
            self._stop_truncating.clear()


class IntakeSession:
    """A scan's view of the store, as it was when the scan began; the changes written
    in batches.

    A full scan reads the whole index at once (one query each: faster than 100,000
    small ones). A delta scan (`lazy`) asks for each post, key and path it meets, by
    index, and keeps the answer: the batches it writes meanwhile must not change what
    it was told (a post settled in the first batch is still new to the second)."""

    def __init__(self, conn: Connection, lazy: bool = False) -> None:
        self.conn, self.lazy = conn, lazy
        self._posts: dict[str, PostState | None] = {}
        self._keys: dict[str, str | None] = {}  # identity key -> post id
        self._slots: dict[str, dict[int, tuple[str, str]]] = {}
        self._paths_of: dict[str, set[str]] = {}
        if lazy:
            return
        self._posts.update(
            (row.id, PostState(row.key, row.picked_up, row.fingerprint, row.withdrawn))
            for row in conn.execute(
                select(
                    posts.c.id,
                    posts.c.key,
                    posts.c.picked_up,
                    posts.c.fingerprint,
                    posts.c.withdrawn,
                )
            )
        )
        self._keys.update((state.key, post_id) for post_id, state in self._posts.items())
        slots: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
        paths_of: dict[str, set[str]] = defaultdict(set)
        for row in conn.execute(
            select(versions.c.path, versions.c.slot, versions.c.post_id, versions.c.key)
        ):
            slots[row.path][row.slot] = (row.post_id, row.key)
            paths_of[row.post_id].add(row.path)
        self._slots, self._paths_of = dict(slots), dict(paths_of)

    def post(self, post_id: str) -> PostState | None:
        """The post's state as the scan found it; None for an id not in the store."""
        if post_id in self._posts or not self.lazy:
            return self._posts.get(post_id)
        row = self.conn.execute(
            select(posts.c.key, posts.c.picked_up, posts.c.fingerprint, posts.c.withdrawn).where(
                posts.c.id == post_id
            )
        ).first()
        found = self._posts[post_id] = PostState(*row) if row else None
        return found

    def post_for_key(self, key: str) -> str | None:
        """The id of the post (withdrawn ones too) with this identity key, or None."""
        if key in self._keys or not self.lazy:
            return self._keys.get(key)
        found = self.conn.execute(select(posts.c.id).where(posts.c.key == key)).scalar()
        self._keys[key] = found
        return found

    def slots(self, path: str) -> dict[int, tuple[str, str]]:
        """What the file held: slot -> (post id, identity key); empty for a new file."""
        if path in self._slots or not self.lazy:
            return self._slots.get(path, {})
        rows = self.conn.execute(
            select(versions.c.slot, versions.c.post_id, versions.c.key).where(
                versions.c.path == path
            )
        )
        found = self._slots[path] = {row.slot: (row.post_id, row.key) for row in rows}
        return found

    def paths_of(self, post_id: str) -> set[str]:
        """The files the post was found in."""
        if post_id in self._paths_of or not self.lazy:
            return self._paths_of.get(post_id, set())
        rows = self.conn.execute(select(versions.c.path).where(versions.c.post_id == post_id))
        found = self._paths_of[post_id] = {row.path for row in rows}
        return found

    def touch_file(self, path: str, signature: str) -> None:
        """A file whose stat moved but whose bytes did not."""
        self.conn.execute(update(files).where(files.c.path == path).values(signature=signature))

    def stored_versions(self, post_id: str, paths: set[str]) -> list[Version]:
        """The versions of a post held by `paths`, read from the database."""
        rows = self.conn.execute(
            select(versions, files.c.changed_at)
            .join(files, files.c.path == versions.c.path)
            .where(versions.c.post_id == post_id, versions.c.path.in_(sorted(paths)))
        )
        return [
            Version(
                row.path, row.slot, row.post_id, row.key, row.changed_at, decode_parsed(row.data)
            )
            for row in rows
        ]

    def write(
        self,
        file_records: dict[str, tuple[FileRecord, tuple[Problem, ...], bool]],
        forgotten: list[str],
        new_versions: dict[str, list[Version]],
        post_writes: list[PostWrite],
        withdrawn: list[str],
    ) -> None:
        """Everything a scan changed, in as few statements as the database allows.

        A big scan hands its files, versions and new posts over in batches as it reads
        (`save_files`, `save_versions`, `save_posts`: a cold start's 100,000 posts are
        never all in memory), then the rest here; all in the scan's one transaction."""
        self.save_files(file_records)
        for chunk in _chunks(forgotten):
            self.conn.execute(delete(versions).where(versions.c.path.in_(chunk)))
        for chunk in _chunks(forgotten):
            self.conn.execute(delete(files).where(files.c.path.in_(chunk)))
        self.save_versions(new_versions)
        self.save_posts(post_writes)
        for chunk in _chunks(withdrawn):
            self.conn.execute(update(posts).where(posts.c.id.in_(chunk)).values(withdrawn=True))

    def save_files(
        self, file_records: dict[str, tuple[FileRecord, tuple[Problem, ...], bool]]
    ) -> None:
        """Files read this scan: path -> (record, problems, whether the store knew it)."""
        _save_rows(
            self.conn,
            files,
            "path",
            [
                (
                    {
                        "path": path,
                        "signature": record.signature,
                        "sha256": record.sha256,
                        "first_seen": record.first_seen,
                        "changed_at": record.changed_at,
                        "problems": _problems_json(problems),
                    },
                    known,
                )
                for path, (record, problems, known) in file_records.items()
            ],
        )

    def save_versions(self, new_versions: dict[str, list[Version]]) -> None:
        """What files read this scan hold now (path -> versions, none for a draft): they
        replace what those files held."""
        replaced = sorted(p for p in new_versions if self.slots(p))
        for chunk in _chunks(replaced):
            self.conn.execute(delete(versions).where(versions.c.path.in_(chunk)))
        rows = [
            {
                "path": v.path,
                "slot": v.slot,
                "post_id": v.post_id,
                "key": v.key,
                "data": encode_parsed(v.post) if v.data is None else v.data,
            }
            for vs in new_versions.values()
            for v in vs
        ]
        _insert_many(self.conn, versions, rows)

    def save_posts(self, post_writes: list[PostWrite]) -> None:
        """New posts inserted (numbered as they are: `changes.numbered`), known ones
        updated."""
        rows = [(_post_row(w), w.exists) for w in post_writes]
        _save_rows(self.conn, posts, "id", rows, number=changes.numbered)


def _save_rows(
    conn: Connection,
    table: Table,
    key: str,
    rows: list[tuple[dict, bool]],
    number: Callable[[Connection, list[dict]], list[dict]] | None = None,
) -> None:
    """Insert the new rows (through `number` first, if given) and update the known ones
    (matched on `key`), one batch each."""
    new = [row for row, known in rows if not known]
    _insert_many(conn, table, number(conn, new) if number else new)
    known = [{f"b_{k}" if k == key else k: v for k, v in row.items()} for row, old in rows if old]
    if known:
        columns = {k: bindparam(k) for k in known[0] if k != f"b_{key}"}
        conn.execute(
            update(table).where(table.c[key] == bindparam(f"b_{key}")).values(columns), known
        )


def _insert_many(conn: Connection, table: Table, rows: list[dict]) -> None:
    """`conn.execute(insert(table), rows)` (dicts with the same keys): on SQLite, the
    statement SQLAlchemy compiles (compiled once per table and columns) made to take up
    to `_ROWS_PER_INSERT` rows in one VALUES list, the values handed to the driver in its
    order, without SQLAlchemy's work on each row (a cold scan of 10,000 posts inserts
    30,000 rows: a tenth of the scan parent's time went there). Many rows a statement,
    not one (an executemany): a table with triggers (posts, versions: `store.changes`)
    costs SQLite a statement journal and more for each statement (10,000 posts' rows:
    0.39 CPU-s one row a statement, 0.26 a hundred a statement, 0.19 with no trigger at
    all). Only for values the driver takes as they are (strings, numbers,
    booleans, None: what intake's rows hold); a column left out takes its default, as
    with SQLAlchemy's insert. Other databases take SQLAlchemy's way (on PostgreSQL its
    "insertmanyvalues" batches, which a plain executemany would lose)."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), rows)
        return
    head, one, order, defaults = _insert_sql(conn.dialect, table, tuple(rows[0]))
    take = itemgetter(*order)
    if len(order) == 1:
        values = [(take(defaults | row if defaults else row),) for row in rows]
    elif defaults:
        values = [take(defaults | row) for row in rows]
    else:
        values = [take(row) for row in rows]
    # the most parameters one statement may take (32766 by default since SQLite 3.32)
    driver = conn.connection.dbapi_connection
    limit = driver.getlimit(conn.dialect.dbapi.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(_ROWS_PER_INSERT, limit // len(order)))
    for start in range(0, len(values), per):
        group = values[start : start + per]
        statement = f"{head} VALUES {', '.join([one] * len(group))}"
        conn.exec_driver_sql(statement, tuple(chain.from_iterable(group)))


#: rows in one INSERT on SQLite (`_insert_many`): 100 were as fast as 250 or 500 (a cold
#: scan of 10,000 posts), in smaller statements (the driver keeps those it compiled)
_ROWS_PER_INSERT = 100

#: (dialect's kind, table, columns) -> `_insert_sql`'s answer; a Store's dialect is not
#: the key, so that the stores a process opens and closes are not kept alive by it
_INSERTS: dict[tuple, tuple[str, str, tuple[str, ...], dict]] = {}


def _insert_sql(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, str, tuple[str, ...], dict]:
    """The INSERT of these columns in `dialect`'s (positional) words, as its head (up to
    VALUES) and one row's "(?, ...)", its parameters' order, and the values of the
    columns SQLAlchemy adds itself (scalar defaults)."""
    key = (type(dialect), dialect.paramstyle, table, columns)
    if (found := _INSERTS.get(key)) is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup or ())
        defaults = {}
        for name in order:
            if name not in columns:
                default = table.c[name].default
                if default is None or not default.is_scalar:
                    raise ValueError(f"{table.name}.{name}: no value and no scalar default")
                defaults[name] = default.arg
        head, values, one = compiled.string.partition(" VALUES ")
        if not values or one != f"({', '.join(['?'] * len(order))})":
            raise ValueError(f"{table.name}: an INSERT this cannot repeat: {compiled.string}")
        found = _INSERTS[key] = head, one, order, defaults
    return found


#: what `Store.heads` reads: none of a post's text, most of its bytes
_HEAD_COLUMNS = (
    "id",
    "title",
    "date",
    "date_source",
    "picked_up",
    "updated",
    "tags",
    "fingerprint",
    "republish",
    "source",
    "author",
    "author_role",
    "source_url",
    "credit",
)


def _files_of(conn: Connection, ids: list[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Every file each post (of `ids`, else all) was found in, by path. In the order of
    the index `versions_files` (post, then path), which holds both columns: ordered by
    path alone, SQLite walked the primary key and read each version's row beside it
    (10,000 posts: ~0.02 CPU-s, three times as long, and more just after a scan, when
    those rows are in the WAL)."""
    if ids is None:
        rows = chain.from_iterable(_driver_batches(conn, _FILES_OF))
    else:
        rows = conn.execute(_FILES_OF_SOME, {"ids": ids}).all()
    where: dict[str, tuple[str, ...]] = defaultdict(tuple)
    for post_id, path in rows:
        # nearly every post is in one file; a path twice (two slots of one file) once
        if path not in (found := where[post_id]):
            where[post_id] = (*found, path)
    return where


def _driver_batches(conn: Connection, statement) -> Iterator[list]:
    """The rows of `statement` (no parameters), a few thousand at a time. On SQLite from
    the driver's own cursor, the statement compiled once (`_sqlite_text`): SQLAlchemy's
    cache key, result and `Row` of each row cost as much again as SQLite's reading of
    them (a cold 10,000-post build's `heads`: ~15 of its ~80 CPU-ms, in the one-core
    gap before the build). Elsewhere through SQLAlchemy (`yield_per`: PostgreSQL's
    server-side cursor). The rows are tuples (or `Row`s): read them by position. The
    driver's errors come out as SQLAlchemy's would (`DBAPIError`), so that a command
    says what is wrong with the database, as it does for any other query."""
    if conn.dialect.name != "sqlite":
        yield from conn.execution_options(yield_per=_BATCH).execute(statement).partitions()
        return
    text = _sqlite_text(conn.dialect, statement)
    error = conn.dialect.dbapi.Error
    try:
        cursor = conn.connection.dbapi_connection.execute(text)
        try:
            while rows := cursor.fetchmany(_BATCH):
                yield rows
        finally:
            cursor.close()
    except error as exc:  # as SQLAlchemy's own: `database_trouble` names the database's reason
        raise DBAPIError.instance(text, None, exc, error, dialect=conn.dialect) from exc


#: rows a batch of `_driver_batches`
_BATCH = 2000


def _sqlite_text(dialect: Dialect, statement) -> str:
    """`statement` (a module's, no parameters) as `dialect`'s SQL, compiled once."""
    key = (type(dialect), statement)
    if (found := _TEXTS.get(key)) is None:
        compiled = statement.compile(dialect=dialect)
        if compiled.params:
            raise ValueError(f"a statement with parameters: {compiled.string}")
        found = _TEXTS[key] = compiled.string
    return found


_TEXTS: dict[tuple, str] = {}


def _under(conn: Connection, folder: str):
    """`files.path` lies under `folder`: on SQLite a range of the primary key (BINARY
    order is byte order: "a/" <= path < "a0" is exactly the paths starting "a/"); on
    other databases, whose collation may not be byte order, a LIKE."""
    if conn.dialect.name == "sqlite":
        return (files.c.path >= folder + "/") & (files.c.path < folder + "0")
    return files.c.path.startswith(folder + "/", autoescape=True)


def _kept_excerpt(dialect: str):
    """The post's excerpt as the scan kept it in a version's JSON (`encode_parsed`), as a
    column `kept_excerpt`: from a version whose body is the post's own (a post found in
    two files may have two) and made by today's rule (`EXCERPT_STAMP`); NULL for none
    (versions kept before excerpts were), and the `Post` works it out when asked.

    Read from the JSON by the database, not by us: the versions' text is not carried out
    for it (SQLite: ~25-35 us a post read, against ~100 us for each time an excerpt is
    worked out, several times a build). Not a column of `posts`: its row is made by intake
    from the `Post` it settles on, which carries no parsed excerpt, and a column would
    need a schema change and a migration; the version already holds what is needed."""
    if dialect == "sqlite":

        def item(key: str):
            return func.json_extract(versions.c.data, f"$.{key}")
    else:

        def item(key: str):
            return cast(versions.c.data, JSON)[key].as_string()

    return (
        select(item("excerpt"))
        .where(
            versions.c.post_id == posts.c.id,
            item("excerpt_stamp") == EXCERPT_STAMP,
            item("body_html") == posts.c.body_html,
        )
        .limit(1)
        .scalar_subquery()
        .label("kept_excerpt")
    )


#: what a `Post` is made of, in `_post`'s order
_POST_COLUMNS = tuple(
    posts.c[name]
    for name in (
        "id",
        "title",
        "date",
        "date_source",
        "picked_up",
        "updated",
        "body_html",
        "summary",
        "tags",
        "source",
        "author",
        "author_role",
        "source_url",
        "credit",
        "comment",
        "image",
        "republish",
    )
)

_FILES_OF = select(versions.c.post_id, versions.c.path).order_by(
    versions.c.post_id, versions.c.path
)
_FILES_OF_SOME = _FILES_OF.where(versions.c.post_id.in_(bindparam("ids", expanding=True)))

_DATE_SOURCES = {s.value: s for s in DateSource}

#: `Store.heads`' statement: `_EVERY_HEAD` for every post, newest pick-up first
_HEADS = select(*(posts.c[name] for name in _HEAD_COLUMNS)).where(posts.c.withdrawn.is_(False))
_EVERY_HEAD = _HEADS.order_by(posts.c.picked_up.desc(), posts.c.id)


@cache
def _whole_posts(dialect: str):
    """`posts_by_id`'s statement on `dialect`: the published posts among the expanding
    parameter "ids", each with its kept excerpt last."""
    return select(*_POST_COLUMNS, _kept_excerpt(dialect)).where(
        posts.c.id.in_(bindparam("ids", expanding=True)), posts.c.withdrawn.is_(False)
    )


def _post(row, files: tuple[str, ...], kept_excerpt: str | None = None) -> Post:
    """The `Post` of a row of `_POST_COLUMNS` (and anything after them), by position:
    no lookup of each column by name."""
    (
        id_,
        title,
        date,
        date_source,
        picked_up,
        updated,
        body_html,
        summary,
        tags,
        source,
        author,
        author_role,
        source_url,
        credit,
        comment,
        image,
        republish,
    ) = row[:17]
    return Post(
        id=id_,
        title=title,
        date=datetime.fromisoformat(date),
        date_source=_DATE_SOURCES[date_source],
        picked_up=datetime.fromisoformat(picked_up),
        updated=datetime.fromisoformat(updated),
        body_html=body_html,
        summary=summary,
        attribution=Attribution(source, author, author_role, url=source_url, credit=credit),
        tags=tuple(json.loads(tags)) if tags != "[]" else (),
        files=files,
        comment=comment,
        image=_image(json.loads(image)) if image else None,
        republish=Republish(republish) if republish else None,
        known_excerpt=kept_excerpt,
    )


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: `json.dumps(tags, ensure_ascii=False)` without the encoder it makes at each call
#: (a cold scan makes 10,000 rows)
_tags_json = json.JSONEncoder(ensure_ascii=False).encode


def _post_row(write: PostWrite) -> dict:
    post, a = write.post, write.post.attribution
    return {
        "id": post.id,
        "key": write.key,
        "title": post.title,
        "date": post.date.isoformat(),
        "date_source": post.date_source.value,
        "picked_up": post.picked_up.isoformat(timespec="microseconds"),
        "updated": post.updated.isoformat(timespec="microseconds"),
        "withdrawn": False,
        "fingerprint": write.fingerprint,
        "body_html": post.body_html,
        "summary": post.summary,
        "tags": _tags_json(list(post.tags)) if post.tags else "[]",
        "author": a.author,
        "author_role": a.author_role,
        "source": a.source,
        "source_url": a.url,
        "credit": a.credit,
        "comment": post.comment,
        "image": _image_json(post.image),
        "republish": post.republish.value if post.republish else None,
    }
