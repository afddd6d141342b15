"""What the last scan and the last build did, kept so `postroom status` can tell an
operator from another process (or after a restart) without reading logs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from postroom.store import Store
from postroom.store.schema import activity
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError


@dataclass(frozen=True)
class Activity:
    name: str
    at: str
    data: dict


def record(store: Store, name: str, at: datetime, data: dict) -> None:
    values = {"at": at.isoformat(), "data": json.dumps(data, ensure_ascii=False)}
    with store.engine.begin() as conn:
        if conn.execute(update(activity).where(activity.c.name == name).values(values)).rowcount:
            return
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(activity).values(name=name, **values))
    except IntegrityError:  # another process recorded it first; ours is as new
        with store.engine.begin() as conn:
            conn.execute(update(activity).where(activity.c.name == name).values(values))


def last(store: Store, name: str) -> Activity | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(activity).where(activity.c.name == name)).first()
    return Activity(row.name, row.at, json.loads(row.data)) if row else None


def first(store: Store, name: str, at: datetime) -> datetime:
    """When `name` first happened: `at` the first time this is asked, the same moment every
    time after. What a build writes may depend on it and stay byte-identical ("updated"
    of a feed with nothing in it yet: the site's first build, not 1970)."""
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(activity).values(name=name, at=at.isoformat(), data="{}"))
    except IntegrityError:  # recorded before (or by another process just now): theirs stands
        pass
    with store.engine.connect() as conn:
        kept = conn.execute(select(activity.c.at).where(activity.c.name == name)).scalar_one()
    return datetime.fromisoformat(kept)
