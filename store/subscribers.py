"""The subscriber list: who gets the digest, and in what state.

Addresses are validated and normalised with email-validator (syntax only, no
DNS), so "Jane@Example.ORG" and "jane@example.org" are one person, and an
address with CR/LF or other header-breaking characters never gets in.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from postroom.core.model import Cadence
from postroom.core.sanitize import bom_encoding, one_line
from postroom.core.selection import Selection
from postroom.store import Store
from postroom.store.consent import Consent, Event, How, record, record_each
from postroom.store.holds import suppressed_among
from postroom.store.schema import digest_issues, subscribers
from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update
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


EVERYTHING = Selection()


@dataclass(frozen=True)
class Subscriber:
    id: int
    address: str
    name: str
    status: Status
    created_at: str
    updated_at: str
    selection: Selection = EVERYTHING
    cadence: Cadence | None = None  # None: the site's `digest.cadence`
    paused_until: str = ""  # ISO time; "" when not paused
    served: int = 0  # the last issue whose posts were theirs to get (store.schema)


@dataclass(frozen=True)
class Choice:
    """What a new subscriber chose (the form, `add --topics`, a CSV row's topics); an
    existing subscriber's choices are theirs, and an import never changes them."""

    selection: Selection = EVERYTHING
    cadence: Cadence | None = None


DEFAULT_CHOICE = Choice()
BY_CLI = Consent(How.CLI)


@dataclass(frozen=True)
class ImportReport:
    added: int
    merged: int  # already on the list (or twice in the file): name updated, status kept
    errors: tuple[tuple[int, str], ...]  # (line number, reason): rows not imported
    warnings: tuple[tuple[int, str], ...] = ()  # (line number, what): imported, but look
    # (line number, why): people the file itself says are not active (an export of a list
    # with its unsubscribed and bounced): never added, nor brought back
    skipped: tuple[tuple[int, str], ...] = ()


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
        self,
        address: str,
        name: str = "",
        status: Status = Status.ACTIVE,
        rename: bool = True,
        *,
        consent: Consent = BY_CLI,
        choice: Choice = DEFAULT_CHOICE,
        rejoin: bool = False,
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
            one = {normalized.lower(): (normalized, subscriber_name(name), choice)}
            return self._add_chunk(one, consent, status, rename, rejoin) == 1
        except IntegrityError:  # added by another request at this very moment
            return False

    def import_csv(self, path: Path) -> ImportReport:
        """Rows of address[,name[,topics]], with or without a header (whose `name`, `topics`,
        `sources` and `cadence` columns are read wherever they are); topics and sources
        separated by ";" (or "|"). Bad rows are reported, not fatal.
        The same rules as `add`, a thousand rows to a transaction (a 20,000-address list
        is one command, not 20,000 round trips). Any encoding a spreadsheet writes is read
        (`decode_csv`). An unreadable file raises OSError."""
        text, warnings = decode_csv(path.read_bytes())
        errors: list[tuple[int, str]] = []
        skipped: list[tuple[int, str]] = []
        wanted: dict[str, tuple[str, str, Choice]] = {}  # address_key -> its row, file order
        columns = {"address": 0, "name": 1, "topics": 2}  # without a header
        lines: dict[str, int] = {}  # address_key -> the line it is first on
        repeats = 0
        for line, row, why in _rows(text):
            if row is None:
                errors.append((line, why))
                continue
            cells = [_unsafe(cell.strip()) for cell in row]
            if not any(cells):
                continue
            heads = [" ".join(cell.lower().split()) for cell in cells]
            at = next((i for i, h in enumerate(heads) if h in _ADDRESS_HEADS), None)
            if line == 1 and at is not None:  # a header row
                columns = {"address": at} | {h: heads.index(h) for h in _COLUMNS if h in heads}
                columns |= {_SYNONYMS[h]: heads.index(h) for h in _SYNONYMS if h in heads}
                continue
            try:
                address = normalize_address(_cell(cells, columns, "address"))
                choice = _choice(cells, columns)
            except (AddressError, ValueError) as exc:
                errors.append((line, str(exc)))
                continue
            status = " ".join(_cell(cells, columns, "status").lower().split())
            if status in _LEFT:
                skipped.append((line, f"{address}: {status} in the file: not added"))
                continue
            if status not in _JOINED:
                why = f"status {one_line(status)[:30]!r} is not one of {', '.join(_JOINED[1:])}"
                errors.append((line, f"{address}: {why} (or {', '.join(_LEFT)})"))
                continue
            name = subscriber_name(_cell(cells, columns, "name"))
            key = address.lower()
            if key in wanted:  # the first spelling stays, a later name wins
                repeats += 1
                address, name = wanted[key][0], name or wanted[key][1]
            wanted[key] = (address, name, choice)
            lines.setdefault(key, line)
        with self.engine.connect() as conn:
            for key, why in suppressed_among(conn, wanted).items():
                address = wanted.pop(key)[0]
                errors.append((lines[key], f"{address}: on the suppression list ({why})"))
        errors.sort()
        consent = Consent(How.IMPORT, file=one_line(path.name)[:200])  # a name, not lines
        added = 0
        keys = list(wanted)
        for start in range(0, len(keys), 1000):
            chunk = {key: wanted[key] for key in keys[start : start + 1000]}
            try:
                added += self._add_chunk(chunk, consent)
            except IntegrityError:  # someone subscribed meanwhile: one at a time, then
                added += sum(
                    self.add(address, name, consent=consent, choice=choice)
                    for address, name, choice in chunk.values()
                )
        return ImportReport(
            added, len(wanted) - added + repeats, tuple(errors), warnings, tuple(skipped)
        )

    def _add_chunk(
        self,
        chunk: dict[str, tuple[str, str, Choice]],
        consent: Consent,
        status: Status = Status.ACTIVE,
        rename: bool = True,
        rejoin: bool = False,
    ) -> int:
        """Add the new addresses of `chunk` (address_key -> (address, name, choice)) and,
        with `rename`, rename the known ones that come with a name; how many were new.
        A new subscriber's first digest holds the posts of issues after the last issued
        now (`served`), as everyone's next one does. With `rejoin` (the subscribe form),
        someone known but not active (pending, or gone) asking again has the choice of
        this request kept, for when they confirm, and the request recorded."""
        stamp = _now()
        with self.engine.begin() as conn:
            served = last_issued(conn)
            found = conn.execute(
                select(subscribers.c.address_key, subscribers.c.id, subscribers.c.status).where(
                    subscribers.c.address_key.in_(list(chunk))
                )
            ).all()
            known = {r.address_key: r.id for r in found}
            fresh = [
                {
                    "address": address,
                    "address_key": key,
                    "name": name,
                    "status": status.value,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "topics": choice.selection.stored()[0],
                    "sources": choice.selection.stored()[1],
                    "cadence": choice.cadence.value if choice.cadence else "",
                    "served": served,
                }
                for key, (address, name, choice) in chunk.items()
                if key not in known
            ]
            if fresh:
                conn.execute(insert(subscribers), fresh)
                given = {**consent.detail(), "status": status.value}
                details = {
                    str(row["address_key"]): given
                    | _choice_detail(
                        Selection.from_stored(row["topics"], row["sources"]), row["cadence"]
                    )
                    for row in fresh
                }
                record_each(conn, details, Event.SUBSCRIBED, stamp)
            for r in found if rejoin else ():
                if r.status in (Status.PENDING.value, Status.UNSUBSCRIBED.value):
                    choice = chunk[r.address_key][2]
                    topics, sources = choice.selection.stored()
                    cadence = choice.cadence.value if choice.cadence else ""
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == r.id)
                        .values(topics=topics, sources=sources, cadence=cadence, paused_until="")
                    )
                    detail = {**consent.detail(), "status": r.status}
                    detail |= _choice_detail(choice.selection, cadence)
                    record(conn, [r.address_key], Event.SUBSCRIBED, stamp, detail)
            for key, subscriber_id in known.items():
                if rename and (name := chunk[key][1]):
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == subscriber_id)
                        .values(name=name, updated_at=stamp)
                    )
        return len(fresh)

    def set_status(self, address: str, status: Status, how: How = How.CLI) -> bool:
        """Move someone to `status`; False if they are not on the list. Idempotent."""
        key = normalize_address(address).lower()
        return self._set_status(subscribers.c.address_key == key, status, how)

    def set_status_of(self, subscriber_id: int, status: Status, how: How = How.SERVICE) -> bool:
        """`set_status` for someone known by id (a ledger row's): the address they were
        queued at is not validated again."""
        return self._set_status(subscribers.c.id == subscriber_id, status, how)

    def _set_status(self, who: ColumnElement[bool], status: Status, how: How) -> bool:
        stamp = _now()
        with self.engine.begin() as conn:
            changed = (
                conn.execute(
                    update(subscribers)
                    .where(who, subscribers.c.status != status.value)
                    .values(status=status.value, updated_at=stamp)
                    .returning(subscribers.c.address_key)
                )
                .scalars()
                .all()
            )
            if changed:
                record(conn, list(changed), Event.STATUS, stamp,
                       {"how": how.value, "status": status.value})  # fmt: skip
                return True
            return conn.execute(select(subscribers.c.id).where(who)).first() is not None

    def set_preferences(
        self,
        subscriber_id: int,
        selection: Selection,
        cadence: Cadence | None,
        paused_until: str = "",
        how: How = How.FORM,
    ) -> bool:
        """What someone chose on their preferences page (or by the CLI); it counts from the
        next slot. False if nobody has this id. The change is recorded only if there is
        one."""
        topics, sources = selection.stored()
        values = {"topics": topics, "sources": sources, "paused_until": paused_until,
                  "cadence": cadence.value if cadence else ""}  # fmt: skip
        stamp = _now()
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
            if row is None:
                return False
            if any(getattr(row, k) != v for k, v in values.items()):
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == subscriber_id)
                    .values(updated_at=stamp, **values)
                )
                detail = {"how": how.value, **_choice_detail(selection, values["cadence"])}
                if paused_until:
                    detail["paused_until"] = paused_until
                record(conn, [row.address_key], Event.PREFERENCES, stamp, detail)
        return True

    def confirm(self, address: str, asked_at: datetime) -> bool:
        """Double opt-in: pending (or already active) becomes active. Someone who left or
        bounced comes back only by a request made after that: an older confirm link
        must not undo an unsubscribe."""
        later_than = asked_at.astimezone(UTC).isoformat(timespec="microseconds")
        key = normalize_address(address).lower()
        stamp = _now()
        with self.engine.begin() as conn:
            before = conn.execute(
                select(subscribers.c.status)
                .where(subscribers.c.address_key == key)
                .with_for_update()
            ).scalar()
            # joining (again): their first digest holds what is issued from now on, as a
            # new subscriber's does, not everything since they were last served
            done = conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.address_key == key,
                    subscribers.c.status.in_([Status.PENDING.value, Status.ACTIVE.value])
                    | (subscribers.c.updated_at < later_than),
                )
                .values(
                    status=Status.ACTIVE.value,
                    updated_at=stamp,
                    served=func.max(subscribers.c.served, last_issued_query())
                    if conn.dialect.name == "sqlite"
                    else func.greatest(subscribers.c.served, last_issued_query()),
                )
                .returning(subscribers.c.id)
            ).first()
            if done is not None and before != Status.ACTIVE.value:
                record(conn, [key], Event.CONFIRMED, stamp, {"how": How.FORM.value})
        return done is not None

    def asked_again(self, address: str) -> None:
        """A pending sign-up was sent a new confirmation link: it lives as long as that link
        (store.rights.purge_unconfirmed goes by `updated_at`). Only a pending row: for one
        who left, `updated_at` is when, and a confirm link must be younger (`confirm`)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.address_key == normalize_address(address).lower(),
                    subscribers.c.status == Status.PENDING.value,
                )
                .values(updated_at=_now())
            )

    def remove(self, address: str, how: How = How.CLI) -> bool:
        """Delete someone's row; their consent record stays, saying so (`erase` is what
        forgets a person: store.rights)."""
        key = normalize_address(address).lower()
        stamp = _now()
        with self.engine.begin() as conn:
            done = conn.execute(delete(subscribers).where(subscribers.c.address_key == key))
            if done.rowcount > 0:
                record(conn, [key], Event.STATUS, stamp, {"how": how.value, "status": "removed"})
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

    def all(self) -> list[Subscriber]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(subscribers).order_by(subscribers.c.address)).all()
        return [_subscriber(r) for r in rows]


def _subscriber(row) -> Subscriber:
    return Subscriber(
        row.id,
        row.address,
        row.name,
        Status(row.status),
        row.created_at,
        row.updated_at,
        Selection.from_stored(row.topics, row.sources),
        Cadence(row.cadence) if row.cadence in tuple(Cadence) else None,
        row.paused_until,
        row.served,
    )


def last_issued_query():
    """The number of the last issue mailed (0 before the first), as a scalar subquery."""
    found = select(func.coalesce(func.max(digest_issues.c.number), 0))
    return found.where(digest_issues.c.proof_stage == "issued").scalar_subquery()


def last_issued(conn: Connection) -> int:
    return conn.execute(select(last_issued_query())).scalar() or 0


def _choice_detail(selection: Selection, cadence: str) -> dict[str, object]:
    return {"topics": list(selection.topics), "sources": list(selection.sources),
            "cadence": cadence or "default"}  # fmt: skip


#: a header row names the address column so (Mailchimp's export says "Email Address"),
#: and the others so, wherever they stand; a few other lists' names for them too
_ADDRESS_HEADS = ("email", "address", "e-mail", "email address", "e-mail address")
_COLUMNS = ("name", "topics", "sources", "cadence", "status")
_SYNONYMS = {"tags": "topics", "full name": "name", "first name": "name"}
#: a status column's words, as postroom's export and other lists' write them: who is on
#: the list (added), and who left it or never joined (skipped: an old export must not
#: bring them back); any other word is that row's error
_JOINED = ("", "active", "subscribed", "confirmed", "enabled", "opted in", "yes", "true")
_LEFT = ("unsubscribed", "bounced", "complained", "cleaned", "pending", "unconfirmed",
         "inactive", "disabled", "opted out", "no", "false")  # fmt: skip

#: what a spreadsheet takes for a formula at the start of a cell (OWASP: CSV injection)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A cell for a CSV file someone opens in a spreadsheet: one that starts like a formula
    (a name from the web form: `=HYPERLINK(...)`) gets a leading apostrophe, which makes
    it text; `import_csv` takes the apostrophe off again."""
    return "'" + cell if cell.startswith(_FORMULA) else cell


def _unsafe(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA) else cell


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    at = columns.get(name)
    return cells[at] if at is not None and at < len(cells) else ""


_LIST_SPLIT = re.compile(r"[;|]")


def parse_choices(text: str) -> list[str]:
    """Topics or sources as one CSV cell or option value gives them: "a; b | c"; a cell
    with neither separator is split at commas ("Adoption, Fostering")."""
    parts = _LIST_SPLIT.split(text) if _LIST_SPLIT.search(text) else text.split(",")
    return [p.strip() for p in parts if p.strip()]


def parse_cadence(text: str) -> Cadence | None:
    """A cadence as typed; "" for the site's default; ValueError naming the choices."""
    if not text.strip():
        return None
    try:
        return Cadence(text.strip().lower())
    except ValueError:
        raise ValueError(
            f"cadence must be {', '.join(Cadence)}, not {text.strip()[:40]!r}"
        ) from None


def _choice(cells: list[str], columns: dict[str, int]) -> Choice:
    selection = Selection.of(
        parse_choices(_cell(cells, columns, "topics")),
        parse_choices(_cell(cells, columns, "sources")),
    )
    return Choice(selection, parse_cadence(_cell(cells, columns, "cadence")))
