"""The consent record: when and how each person joined, confirmed, and changed anything.

A list built on consent must be able to show it: for each address, every event with
its time and how it came (the form, with the hash of the words it showed; an import,
with its file's name; the CLI). Events are written in the same transaction as the
change they record, so the record and the list never disagree. They are kept by
the address key (not the subscriber's id, which SQLite may give again after a
removal), and erasing a person deletes theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from postroom.store.schema import consent_log
from sqlalchemy import Connection, insert, select


class Event(StrEnum):
    SUBSCRIBED = "subscribed"  # added: by the form (pending), an import or the CLI
    CONFIRMED = "confirmed"  # pressed the confirmation link's button
    STATUS = "status"  # moved to another status (unsubscribed, bounced, complained, ...)
    PREFERENCES = "preferences"  # topics, sources, cadence or a pause changed


class How(StrEnum):
    """Where a change came from."""

    FORM = "form"  # the subscribe form, the confirmation or preferences page
    IMPORT = "import"  # `postroom subscribers import FILE`
    CLI = "cli"  # another `postroom subscribers` command
    EMAIL = "email"  # an unsubscribe by one-click, mail, or a bounce or complaint report
    SERVICE = "service"  # the service itself (a bounce past the limit, say)


@dataclass(frozen=True)
class Consent:
    """How someone's entry came: `how`, and for an import the file's name, for the form
    the sha256 of the wording it showed (what they agreed to)."""

    how: How
    file: str = ""
    wording_sha256: str = ""

    def detail(self) -> dict[str, str]:
        found = {"how": self.how.value, "file": self.file, "wording_sha256": self.wording_sha256}
        return {k: v for k, v in found.items() if v}


@dataclass(frozen=True)
class Entry:
    at: str
    event: Event
    detail: dict[str, object] = field(default_factory=dict)


def record(
    conn: Connection, keys: list[str], event: Event, at: str, detail: dict[str, object]
) -> None:
    """One event for each address key, in the caller's transaction."""
    if keys:
        text = json.dumps(detail, sort_keys=True, ensure_ascii=False)
        rows = [{"address_key": k, "at": at, "event": event.value, "detail": text} for k in keys]
        conn.execute(insert(consent_log), rows)


def entries(conn: Connection, key: str) -> list[Entry]:
    """Everything recorded of one address key, oldest first."""
    rows = conn.execute(
        select(consent_log.c.at, consent_log.c.event, consent_log.c.detail)
        .where(consent_log.c.address_key == key)
        .order_by(consent_log.c.id)
    ).all()
    return [Entry(r.at, Event(r.event), json.loads(r.detail)) for r in rows]


def timestamp(now: datetime) -> str:
    return now.isoformat(timespec="microseconds")
