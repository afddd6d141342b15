"""The top of the content folder as the store knows it: the files right in the folder,
and the first folder of every other path.

The service walks the content folder in slices, one group of top-level folders at a
time (service.slices). What the disk shows says which folders there are now; a folder
or a root file gone from the disk, with its event lost, is found only because the store
still names it. Reading every row to learn that would cost what the slices save, so on
SQLite the primary key is skipped through, one lookup per top-level entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from postroom.store.schema import files
from sqlalchemy import Connection, case, func, select

if TYPE_CHECKING:
    from postroom.store.database import Store


@dataclass(frozen=True)
class TopLevel:
    """Paths relative to the content folder: the files right in a folder, and its
    subfolders that hold any."""

    files: frozenset[str]
    folders: frozenset[str]


def top_level(store: Store, under: str = "") -> TopLevel:
    """The files and subfolders right in `under` ("": the content folder) that the store
    holds rows for (at any depth, for a subfolder)."""
    prefix = under + "/" if under else ""
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return _skipping(conn, prefix)
        return _distinct(conn, prefix)


def _skipping(conn: Connection, prefix: str) -> TopLevel:
    """SQLite's BINARY order is byte order: every path under "a/" lies in ["a/", "a0")
    ("0" follows "/"), so after the first of them the next lookup starts at "a0"."""
    found_files: set[str] = set()
    folders: set[str] = set()
    after = files.c.path >= prefix
    while True:
        row = conn.execute(
            select(files.c.path).where(after).order_by(files.c.path).limit(1)
        ).first()
        if row is None or not row.path.startswith(prefix):
            return TopLevel(frozenset(found_files), frozenset(folders))
        head, slash, _ = row.path[len(prefix) :].partition("/")
        if slash:
            folders.add(prefix + head)
            after = files.c.path >= prefix + head + "0"
        else:
            found_files.add(row.path)
            after = files.c.path > row.path


def _distinct(conn: Connection, prefix: str) -> TopLevel:
    """Elsewhere (a collation need not be byte order): one pass over the paths, in SQL."""
    rest = func.substr(files.c.path, len(prefix) + 1)
    slash = func.strpos(rest, "/")
    top = case((slash > 0, func.substr(rest, 1, slash)), else_=rest)
    query = select(top).distinct()
    if prefix:
        query = query.where(files.c.path.startswith(prefix, autoescape=True))
    heads = [h for h in conn.execute(query).scalars().all() if h]
    return TopLevel(
        frozenset(prefix + h for h in heads if not h.endswith("/")),
        frozenset(prefix + h[:-1] for h in heads if h.endswith("/")),
    )
