"""The consent record: when and how each person joined, confirmed, and changed anything.

A list built on consent must be able to show it: for each address, every event with
its time and how it came (the form, with the hash of the words it showed; an import,
with its file's name; the CLI). Events are written in the same transaction as the
change they record, so the record and the list never disagree. They are kept by
the address key (not the subscriber's id, which SQLite may give again after a
removal), and erasing a person deletes theirs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from postroom.store import Store
from postroom.store.holds import insert_new
from postroom.store.schema import consent_log, store_values
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
    record_each(conn, dict.fromkeys(keys, detail), event, at)


def record_each(
    conn: Connection, details: dict[str, dict[str, object]], event: Event, at: str
) -> None:
    """One event for each address key, each with its own detail, in one statement of
    the caller's transaction (an import of 20,000 is not 20,000 round trips)."""
    if details:
        rows = [
            {
                "address_key": key,
                "at": at,
                "event": event.value,
                "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False),
            }
            for key, detail in details.items()
        ]
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


#: a wording's row in store_values: this and the first 32 hex digits (128 bits) of its
#: sha256, which fits the table's 40-character names
_WORDING = "wording:"


def wording_sha256(text: str) -> str:
    """The hash a consent entry names its wording by: sha256 of the text's UTF-8."""
    return hashlib.sha256(text.encode()).hexdigest()


def keep_wording(store: Store, text: str) -> str:
    """Keep the words a form showed (once: the same words are one row) and give their
    sha256, which the consent entries of everyone who saw them carry: `subscribers show`
    can then print what a person agreed to, however the form has changed since."""
    sha256 = wording_sha256(text)
    with store.engine.begin() as conn:
        insert_new(conn, store_values, "name", name=_WORDING + sha256[:32], value=text)
    return sha256


def wording(store: Store, sha256: str) -> str | None:
    """The words whose sha256 is this (as a consent entry names them), or None when they
    were never kept (an entry made before they were, or a hash from elsewhere)."""
    name = _WORDING + sha256.strip().lower()[:32]
    with store.engine.connect() as conn:
        text = conn.execute(
            select(store_values.c.value).where(store_values.c.name == name)
        ).scalar()
    return text if text is not None and wording_sha256(text) == sha256.strip().lower() else None
