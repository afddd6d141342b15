"""The state postroom keeps between runs, behind a small typed API.

SQLAlchemy Core over any URL: a SQLite file by default. Intake writes through
an `IntakeSession` (one transaction per scan, so a crash leaves the last good
state); feeds, pages and `check` read `Post`s and `Problem`s.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, create_engine, delete, event, insert, select, update

from content.model import Attribution, DateSource, ParsedPost, Post, Problem, Severity
from store.schema import SCHEMA_VERSION, files, metadata, posts, schema_version, versions


class StoreError(RuntimeError):
    """The database cannot be used (a newer schema, say); the message says what to do."""


@dataclass(frozen=True)
class FileRecord:
    signature: str
    sha256: str
    first_seen: str
    changed_at: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Version:
    """What one file says of one post."""

    path: str
    slot: int
    post_id: str
    key: str
    changed_at: str  # when that file last changed: the newest version wins
    post: ParsedPost


@dataclass(frozen=True)
class PostState:
    picked_up: str
    fingerprint: str
    withdrawn: bool


def encode_parsed(post: ParsedPost) -> str:
    data = asdict(post)
    data["date"] = post.date.isoformat() if post.date else None
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def decode_parsed(text: str) -> ParsedPost:
    data = json.loads(text)
    return ParsedPost(
        title=data["title"],
        date=datetime.fromisoformat(data["date"]) if data["date"] else None,
        date_source=DateSource(data["date_source"]) if data["date_source"] else None,
        body_html=data["body_html"],
        summary=data["summary"],
        attribution=Attribution(**data["attribution"]),
        tags=tuple(data["tags"]),
        id_hint=data["id_hint"],
    )


def _problems_json(problems: Iterable[Problem]) -> str:
    return json.dumps([[p.reason, p.severity.value] for p in problems], ensure_ascii=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers (a `check`, the web server) run beside a scan.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._migrate()

    def _migrate(self) -> None:
        with self.engine.begin() as conn:
            metadata.create_all(conn)
            found = conn.execute(select(schema_version.c.version)).scalar()
            if found is None:
                conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
            elif found > SCHEMA_VERSION:
                raise StoreError(
                    f"the database has schema {found}, newer than this postroom ({SCHEMA_VERSION}):"
                    " upgrade postroom"
                )

    def close(self) -> None:
        self.engine.dispose()

    def files(self) -> dict[str, FileRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(files)).all()
        return {
            row.path: FileRecord(
                signature=row.signature,
                sha256=row.sha256,
                first_seen=row.first_seen,
                changed_at=row.changed_at,
                problems=tuple(
                    Problem(row.path, reason, Severity(severity))
                    for reason, severity in json.loads(row.problems)
                ),
            )
            for row in rows
        }

    def problems(self) -> list[Problem]:
        return [p for _, record in sorted(self.files().items()) for p in record.problems]

    def posts(self) -> list[Post]:
        """Every published post, newest pick-up first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(posts)
                .where(posts.c.withdrawn.is_(False))
                .order_by(posts.c.picked_up.desc(), posts.c.id)
            ).all()
            where = defaultdict(list)
            for post_id, path in conn.execute(
                select(versions.c.post_id, versions.c.path).order_by(versions.c.path)
            ):
                where[post_id].append(path)
        return [
            Post(
                id=row.id,
                title=row.title,
                date=datetime.fromisoformat(row.date),
                date_source=DateSource(row.date_source),
                picked_up=datetime.fromisoformat(row.picked_up),
                updated=datetime.fromisoformat(row.updated),
                body_html=row.body_html,
                summary=row.summary,
                attribution=Attribution(
                    source=row.source,
                    author=row.author,
                    author_role=row.author_role,
                    url=row.source_url,
                    credit=row.credit,
                ),
                tags=tuple(json.loads(row.tags)),
                files=tuple(dict.fromkeys(where[row.id])),
            )
            for row in rows
        ]

    @contextmanager
    def intake(self) -> Iterator[IntakeSession]:
        """One transaction: a scan is saved whole or not at all."""
        with self.engine.begin() as conn:
            yield IntakeSession(conn)


class IntakeSession:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def identities(self) -> tuple[dict[str, str], set[str]]:
        """Every post's identity key -> id, and every id ever given (ids are never reused)."""
        rows = self.conn.execute(select(posts.c.key, posts.c.id)).all()
        return {row.key: row.id for row in rows}, {row.id for row in rows}

    def versions_at(self, path: str) -> dict[int, tuple[str, str]]:
        """slot -> (post id, key) of what a file held last time."""
        rows = self.conn.execute(
            select(versions.c.slot, versions.c.post_id, versions.c.key).where(
                versions.c.path == path
            )
        )
        return {row.slot: (row.post_id, row.key) for row in rows}

    def versions_of(self, post_id: str) -> list[Version]:
        rows = self.conn.execute(
            select(versions, files.c.changed_at)
            .join(files, files.c.path == versions.c.path)
            .where(versions.c.post_id == post_id)
        )
        return [
            Version(
                row.path, row.slot, row.post_id, row.key, row.changed_at, decode_parsed(row.data)
            )
            for row in rows
        ]

    def post_state(self, post_id: str) -> PostState | None:
        row = self.conn.execute(
            select(posts.c.picked_up, posts.c.fingerprint, posts.c.withdrawn).where(
                posts.c.id == post_id
            )
        ).first()
        return PostState(row.picked_up, row.fingerprint, row.withdrawn) if row else None

    def put_file(self, path: str, record: FileRecord) -> None:
        values = {
            "signature": record.signature,
            "sha256": record.sha256,
            "first_seen": record.first_seen,
            "changed_at": record.changed_at,
            "problems": _problems_json(record.problems),
        }
        done = self.conn.execute(update(files).where(files.c.path == path).values(**values))
        if done.rowcount == 0:
            self.conn.execute(insert(files).values(path=path, **values))

    def forget_file(self, path: str) -> None:
        self.conn.execute(delete(versions).where(versions.c.path == path))
        self.conn.execute(delete(files).where(files.c.path == path))

    def replace_versions(self, path: str, rows: list[tuple[int, str, str, ParsedPost]]) -> None:
        """Set what a file holds: (slot, post id, key, post) rows."""
        self.conn.execute(delete(versions).where(versions.c.path == path))
        if rows:
            self.conn.execute(
                insert(versions),
                [
                    {
                        "path": path,
                        "slot": slot,
                        "post_id": post_id,
                        "key": key,
                        "data": encode_parsed(post),
                    }
                    for slot, post_id, key, post in rows
                ],
            )

    def withdraw(self, post_id: str) -> None:
        self.conn.execute(update(posts).where(posts.c.id == post_id).values(withdrawn=True))

    def put_post(self, post: Post, key: str, fingerprint: str, exists: bool) -> None:
        a = post.attribution
        values = {
            "key": key,
            "title": post.title,
            "date": post.date.isoformat(),
            "date_source": post.date_source.value,
            "picked_up": post.picked_up.isoformat(timespec="microseconds"),
            "updated": post.updated.isoformat(timespec="microseconds"),
            "withdrawn": False,
            "fingerprint": fingerprint,
            "body_html": post.body_html,
            "summary": post.summary,
            "tags": json.dumps(list(post.tags), ensure_ascii=False),
            "author": a.author,
            "author_role": a.author_role,
            "source": a.source,
            "source_url": a.url,
            "credit": a.credit,
        }
        if exists:
            self.conn.execute(update(posts).where(posts.c.id == post.id).values(**values))
        else:
            self.conn.execute(insert(posts).values(id=post.id, **values))
