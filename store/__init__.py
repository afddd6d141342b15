"""The state postroom keeps between runs, behind a small typed API.

`Store` (SQLAlchemy Core over any URL: a SQLite file by default) and what goes with it
live in `store.database`; the SQL of each concern in a module of its own beside it.
They are imported from here on first use (PEP 562), so a command that needs only
`store.peek` (`status`, through the standard library's sqlite3) never loads
SQLAlchemy, which alone takes 0.3 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from postroom.store.database import (
        FileRecord,
        IntakeSession,
        PostWrite,
        Store,
        StoreError,
        Version,
        database_trouble,
        plain,
    )

__all__ = [
    "FileRecord",
    "IntakeSession",
    "PostWrite",
    "Store",
    "StoreError",
    "Version",
    "database_trouble",
    "plain",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from postroom.store import database

        return getattr(database, name)
    raise AttributeError(f"module 'postroom.store' has no attribute {name!r}")
