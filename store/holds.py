"""What holds mail back, asked by the subscriber list and the ledger, set by store.bounces.

The suppression list: addresses that bounced hard or complained, never added again.
Kept apart from the subscribers' rows (by the same `address_key`), so removing someone
and importing an old list later cannot bring back an address that bounced or whose
owner reported the digest as spam.

The pause: sending held because an issue's bounces or complaints passed their limit,
until `postroom digest resume`. Every claim of rows to send asks it first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from postroom.store.schema import bounce_pauses, bounce_suppressed
from sqlalchemy import Connection, insert, literal, select

_CHUNK = 500  # keys to an IN list: well under SQLite's 32,766 parameters


def suppressed_among(conn: Connection, keys: Iterable[str]) -> dict[str, str]:
    """Which of these address keys are suppressed, and why ("bounced", "complained")."""
    wanted, found = list(keys), {}
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(bounce_suppressed.c.address_key, bounce_suppressed.c.reason).where(
                bounce_suppressed.c.address_key.in_(wanted[start : start + _CHUNK])
            )
        ).all()
        found.update(dict(rows))
    return found


def suppress(conn: Connection, key: str, reason: str, now: datetime) -> None:
    """Put an address key on the list; one already there keeps its first reason."""
    there = select(bounce_suppressed.c.address_key).where(bounce_suppressed.c.address_key == key)
    row = select(literal(key), literal(reason), literal(now.isoformat())).where(~there.exists())
    columns = ["address_key", "reason", "since"]
    conn.execute(insert(bounce_suppressed).from_select(columns, row))


@dataclass(frozen=True)
class Pause:
    issue: int  # the issue whose reports passed a limit
    reason: str
    paused_at: str


def paused_in(conn: Connection) -> Pause | None:
    """The pause that holds sending now (the earliest not resumed), or None."""
    row = conn.execute(
        select(bounce_pauses)
        .where(bounce_pauses.c.resumed_at == "")
        .order_by(bounce_pauses.c.issue)
        .limit(1)
    ).first()
    return Pause(row.issue, row.reason, row.paused_at) if row else None
