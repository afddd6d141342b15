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
from sqlalchemy import Connection, case, distinct, func, select

if TYPE_CHECKING:
    from postroom.store.database import Store


@dataclass(frozen=True)
class TopLevel:
    """Paths relative to the content folder: files with no folder, and first folders."""

    files: frozenset[str]
    folders: frozenset[str]


def top_level(store: Store) -> TopLevel:
    """The root files and top-level folders the store holds rows for."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return _skipping(conn)
        return _distinct(conn)


def _skipping(conn: Connection) -> TopLevel:
    """SQLite's BINARY order is byte order: every path under "a/" lies in ["a/", "a0")
    ("0" follows "/"), so after the first of them the next lookup starts at "a0"."""
    found_files: set[str] = set()
    folders: set[str] = set()
    after = files.c.path >= ""
    while True:
        row = conn.execute(
            select(files.c.path).where(after).order_by(files.c.path).limit(1)
        ).first()
        if row is None:
            return TopLevel(frozenset(found_files), frozenset(folders))
        head, slash, _ = row.path.partition("/")
        if slash:
            folders.add(head)
            after = files.c.path >= head + "0"
        else:
            found_files.add(head)
            after = files.c.path > head


def _distinct(conn: Connection) -> TopLevel:
    """Elsewhere (a collation need not be byte order): one pass over the paths, in SQL."""
    slash = func.strpos(files.c.path, "/")
    top = case((slash > 0, func.substr(files.c.path, 1, slash)), else_=files.c.path)
    heads = conn.execute(select(distinct(top))).scalars().all()
    return TopLevel(
        frozenset(h for h in heads if not h.endswith("/")),
        frozenset(h[:-1] for h in heads if h.endswith("/")),
    )
