"""The subscriber list: who gets the digest, and in what state.

Addresses are validated and normalised with email-validator (syntax only, no
DNS), so "Jane@Example.ORG" and "jane@example.org" are one person, and an
address with CR/LF or other header-breaking characters never gets in.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from postroom.core.sanitize import bom_encoding, one_line
from postroom.store import Store
from postroom.store.holds import suppressed_among
from postroom.store.schema import subscribers
from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError


class Status(StrEnum):
    PENDING = "pending"  # asked to join, not confirmed yet
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"  # reported the digest as spam (an ARF report came back)


#: the longest name kept, from the web form, the CLI or a CSV file: a name is for a To
#: header and a greeting, and a stranger must not fill the list with megabytes
NAME_MAX = 100


class AddressError(ValueError):
    """An address that cannot receive mail; the message says why."""


class Suppressed(AddressError):
    """An address on the suppression list (it bounced or complained): never added again.
    The public form must not say so (it would tell a stranger about someone's mail)."""


@dataclass(frozen=True)
class Subscriber:
    id: int
    address: str
    name: str
    status: Status
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ImportReport:
    added: int
    merged: int  # already on the list (or twice in the file): name updated, status kept
    errors: tuple[tuple[int, str], ...]  # (line number, reason): rows not imported
    warnings: tuple[tuple[int, str], ...] = ()  # (line number, what): imported, but look


def subscriber_name(name: str) -> str:
    """A name as it is kept: one line, no bidi controls, at most NAME_MAX characters."""
    return one_line(one_line(name)[:NAME_MAX])


def decode_csv(data: bytes) -> tuple[str, tuple[tuple[int, str], ...]]:
    """The text of a CSV file as spreadsheets save it, and a warning per line guessed.

    A byte order mark decides (Excel's "Unicode text" is UTF-16 with one). Without
    one, each line is UTF-8 if it can be, else Windows-1252 (Excel's "CSV" on Windows;
    a superset of Latin-1's letters): line by line, so a list pasted together from two
    sources keeps its UTF-8 names whole, and one stray byte costs no row."""
    if encoding := bom_encoding(data):
        text = data.decode(encoding, errors="replace")
        bad = () if "\ufffd" not in text else ((1, f"not valid {encoding}: read anyway"),)
        return text.removeprefix("\ufeff"), bad
    lines, guessed = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(_windows_1252(raw))
            guessed.append((number, "not UTF-8: read as Windows-1252; check the name"))
    return "\n".join(lines), tuple(guessed)


def _windows_1252(raw: bytes) -> str:
    """Windows-1252; the five bytes it leaves undefined (controls in Latin-1) as U+FFFD."""
    return raw.decode("cp1252", errors="replace")


def _rows(text: str) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line, cells, "") per line, or (line, None, why) for one csv refuses (an unclosed
    quote, a field over the reader's limit): that line is reported, the rest still read.
    One line a row: an address list has no field running over lines, and read as one
    stream, a single stray quote swallowed every row after it into one name."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # not U+2028
    for number, line in enumerate(lines, start=1):
        try:
            row = next(csv.reader([line], strict=True), [])
        except csv.Error as exc:
            yield number, None, f"not a CSV row: {exc}"
            continue
        yield number, row, ""


def normalize_address(address: str) -> str:
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AddressError(f"{address!r}: {exc}") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class SubscriberList:
    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def add(
        self, address: str, name: str = "", status: Status = Status.ACTIVE, rename: bool = True
    ) -> bool:
        """Add someone, or (with `rename`) update the name of someone already here; True if
        new.

        An existing subscriber's status is never changed here: importing an old list
        must not bring back someone who unsubscribed. The web form adds without
        `rename`: a stranger must not change the name in someone else's To header."""
        normalized = normalize_address(address)
        with self.engine.connect() as conn:
            if why := suppressed_among(conn, [normalized.lower()]).get(normalized.lower()):
                raise Suppressed(f"{address}: on the suppression list ({why}): not added")
        try:
            one = {normalized.lower(): (normalized, subscriber_name(name))}
            return self._add_chunk(one, status, rename) == 1
        except IntegrityError:  # added by another request at this very moment
            return False

    def import_csv(self, path: Path) -> ImportReport:
        """Rows of address[,name], with or without a header; bad rows are reported, not fatal.
        The same rules as `add`, a thousand rows to a transaction (a 20,000-address list
        is one command, not 20,000 round trips). Any encoding a spreadsheet writes is read
        (`decode_csv`). An unreadable file raises OSError."""
        text, warnings = decode_csv(path.read_bytes())
        errors: list[tuple[int, str]] = []
        wanted: dict[str, tuple[str, str]] = {}  # address_key -> (address, name), file order
        lines: dict[str, int] = {}  # address_key -> the line it is first on
        repeats = 0
        for line, row, why in _rows(text):
            if row is None:
                errors.append((line, why))
                continue
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if line == 1 and cells[0].lower() in ("email", "address", "e-mail"):
                continue
            try:
                address = normalize_address(cells[0])
            except AddressError as exc:
                errors.append((line, str(exc)))
                continue
            name = subscriber_name(cells[1]) if len(cells) > 1 else ""
            key = address.lower()
            if key in wanted:  # the first spelling stays, a later name wins
                repeats += 1
                address, name = wanted[key][0], name or wanted[key][1]
            wanted[key] = (address, name)
            lines.setdefault(key, line)
        with self.engine.connect() as conn:
            for key, why in suppressed_among(conn, wanted).items():
                address = wanted.pop(key)[0]
                errors.append((lines[key], f"{address}: on the suppression list ({why})"))
        errors.sort()
        added = 0
        keys = list(wanted)
        for start in range(0, len(keys), 1000):
            chunk = {key: wanted[key] for key in keys[start : start + 1000]}
            try:
                added += self._add_chunk(chunk)
            except IntegrityError:  # someone subscribed meanwhile: one at a time, then
                added += sum(self.add(address, name) for address, name in chunk.values())
        return ImportReport(added, len(wanted) - added + repeats, tuple(errors), warnings)

    def _add_chunk(
        self,
        chunk: dict[str, tuple[str, str]],
        status: Status = Status.ACTIVE,
        rename: bool = True,
    ) -> int:
        """Add the new addresses of `chunk` (address_key -> (address, name)) and, with
        `rename`, rename the known ones that come with a name; how many were new."""
        stamp = _now()
        with self.engine.begin() as conn:
            known = dict(
                conn.execute(
                    select(subscribers.c.address_key, subscribers.c.id).where(
                        subscribers.c.address_key.in_(list(chunk))
                    )
                ).all()
            )
            fresh = [
                {
                    "address": address,
                    "address_key": key,
                    "name": name,
                    "status": status.value,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for key, (address, name) in chunk.items()
                if key not in known
            ]
            if fresh:
                conn.execute(insert(subscribers), fresh)
            for key, subscriber_id in known.items():
                if rename and (name := chunk[key][1]):
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == subscriber_id)
                        .values(name=name, updated_at=stamp)
                    )
        return len(fresh)

    def set_status(self, address: str, status: Status) -> bool:
        """Move someone to `status`; False if they are not on the list. Idempotent."""
        key = normalize_address(address).lower()
        return self._set_status(subscribers.c.address_key == key, status)

    def set_status_of(self, subscriber_id: int, status: Status) -> bool:
        """`set_status` for someone known by id (a ledger row's): the address they were
        queued at is not validated again."""
        return self._set_status(subscribers.c.id == subscriber_id, status)

    def _set_status(self, who: ColumnElement[bool], status: Status) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(subscribers).where(who).values(status=status.value, updated_at=_now())
            )
        return done.rowcount > 0

    def confirm(self, address: str, asked_at: datetime) -> bool:
        """Double opt-in: pending (or already active) becomes active. Someone who left or
        bounced comes back only by a request made after that: an older confirm link
        must not undo an unsubscribe."""
        later_than = asked_at.astimezone(UTC).isoformat(timespec="microseconds")
        with self.engine.begin() as conn:
            done = conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.address_key == normalize_address(address).lower(),
                    subscribers.c.status.in_([Status.PENDING.value, Status.ACTIVE.value])
                    | (subscribers.c.updated_at < later_than),
                )
                .values(status=Status.ACTIVE.value, updated_at=_now())
            )
        return done.rowcount > 0

    def remove(self, address: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(subscribers).where(
                    subscribers.c.address_key == normalize_address(address).lower()
                )
            )
        return done.rowcount > 0

    def address_of(self, subscriber_id: int) -> str | None:
        """The address of whoever has this id (a signed link names them by it), or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(subscribers.c.address).where(subscribers.c.id == subscriber_id)
            ).scalar()

    def find(self, address: str) -> Subscriber | None:
        """Whoever has this address, however it is capitalised."""
        key = normalize_address(address).lower()
        with self.engine.connect() as conn:
            r = conn.execute(select(subscribers).where(subscribers.c.address_key == key)).first()
        return _subscriber(r) if r else None

    def count(self, status: Status) -> int:
        """How many people are at `status` (`digest send --dry-run`: who would get it)."""
        with self.engine.connect() as conn:
            found = select(func.count()).select_from(subscribers)
            return conn.execute(found.where(subscribers.c.status == status.value)).scalar() or 0

    def all(self) -> list[Subscriber]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(subscribers).order_by(subscribers.c.address)).all()
        return [_subscriber(r) for r in rows]


def _subscriber(row) -> Subscriber:
    return Subscriber(
        row.id, row.address, row.name, Status(row.status), row.created_at, row.updated_at
    )
