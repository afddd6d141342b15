"""`postroom subscribers add|import|list|remove|unsubscribe|export|show|erase`: the digest's
list at the terminal, and each person's data rights (what is kept of them, everyone's
records at once, forgetting them). The list itself, and what an address may be, is
store.subscribers, the records store.rights; an address it refuses raises AddressError,
a bad token TokenError (the CLI says why, exit 2)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from postroom.core.config import Site
from postroom.core.model import Cadence
from postroom.core.selection import Selection, cadence_of
from postroom.emails.tokens import Purpose, read_token, secret_from_env
from postroom.emails.transports import forget_files
from postroom.service.command import Context, Exit, say
from postroom.service.status import subscriber_json
from postroom.store import Store
from postroom.store.consent import Entry, How, wording
from postroom.store.holds import ERASED
from postroom.store.rights import Access, Record, erase, export, scrub
from postroom.store.rights import subject_access as access_of
from postroom.store.subscribers import (
    Choice,
    Status,
    Subscriber,
    SubscriberList,
    Suppressed,
    parse_cadence,
    parse_choices,
    spreadsheet_safe,
    subscriber_name,
)


def add(
    ctx: Context,
    address: str,
    name: str,
    topics: str = "",
    sources: str = "",
    cadence: str = "",
) -> int:
    """One address, active, with the topics, sources and cadence given: a new subscriber's
    choices; someone already on the list keeps their own (said, so nobody thinks they
    were changed)."""
    try:
        choice = Choice(
            Selection.of(parse_choices(topics), parse_choices(sources)), parse_cadence(cadence)
        )
    except ValueError as exc:
        say(str(exc))
        return Exit.USAGE
    if choice.cadence is Cadence.MONTHLY and not ctx.site.config.digest.monthly:
        say("--cadence monthly: this site sends no monthly digest (set digest.monthly)")
        return Exit.USAGE
    book = SubscriberList(ctx.store)
    before = book.find(address)
    try:
        added = book.add(address, name, choice=choice)
    except Suppressed as exc:  # exit 2, as for any address the list refuses
        say(_suppressed_line(str(exc)))
        return Exit.USAGE
    chose = bool(topics.strip() or sources.strip() or cadence.strip())
    if added:
        print(f"added: {address}" + (f" ({_choices(choice)})" if chose else ""))
        return Exit.OK
    renamed = before is not None and name and subscriber_name(name) != before.name
    said = "already subscribed (name updated)" if renamed else "already subscribed"
    if before is not None and before.status is not Status.ACTIVE:  # nor brought back
        said = f"already on the list, {before.status}: status kept" + (
            " (name updated)" if renamed else ""
        )
    # no --name, or the same one: nothing changed, so nothing is said to have
    kept = ": their own topics and cadence are kept (theirs to change on their preferences page)"
    print(f"{said}: {address}{kept if chose else ''}")
    return Exit.OK


def _choices(choice: Choice) -> str:
    cadence = choice.cadence.value if choice.cadence else "the site's cadence"
    return f"{choice.selection.describe()}, {cadence}"


def _suppressed_line(message: str) -> str:
    """An erased person is "on the suppression list", and no more: the list keeps no
    reason for them beyond the hash, and neither does the terminal."""
    return message.replace(f" ({ERASED})", "")


def remove(ctx: Context, address: str) -> int:
    if not SubscriberList(ctx.store).remove(address):
        print(f"not on the list: {address}", file=sys.stderr)
        return Exit.FAILED
    print(f"removed: {address}")
    return Exit.OK


def unsubscribe(ctx: Context, token: str) -> int:
    """What an unsubscribe link does, from its token (a reader who wrote in instead)."""
    book = SubscriberList(ctx.store)
    address = read_token(secret_from_env(), token, Purpose.UNSUBSCRIBE, book.address_of).address
    if not book.set_status(address, Status.UNSUBSCRIBED, How.CLI):
        print(f"not on the list (nothing to do): {address}")
        return Exit.OK
    print(f"unsubscribed: {address}")
    return Exit.OK


def import_csv(ctx: Context, file: str) -> int:
    """Every row of a CSV file (address[,name], or a header naming name, topics, sources,
    cadence) added; a refused row is said, by line, and makes the exit 1; the rest are
    added all the same."""
    try:
        report = SubscriberList(ctx.store).import_csv(Path(file))
    except OSError as exc:  # missing, a folder, unreadable
        say(f"{file}: cannot be read: {exc.strerror or exc}")
        return Exit.USAGE
    for line, reason in report.warnings:
        print(f"{file}:{line}: warning: {reason}", file=sys.stderr)
    for line, reason in report.errors:
        print(f"{file}:{line}: {_suppressed_line(reason)}", file=sys.stderr)
    for line, reason in report.skipped:
        print(f"{file}:{line}: skipped: {reason}", file=sys.stderr)
    skipped = f", {len(report.skipped)} skipped (not active)" if report.skipped else ""
    print(
        f"{report.added} added, {report.merged} already there, {len(report.errors)} refused"
        + skipped
    )
    return Exit.FAILED if report.errors else Exit.OK


def listing(ctx: Context, *, as_json: bool = False) -> int:
    """Everyone on the list, as lines or as JSON (service.status)."""
    everyone = SubscriberList(ctx.store).all()
    if not as_json:
        for s in everyone:
            print(f"{s.status.value:13} {s.address} {s.name}")
        return Exit.OK
    json.dump([subscriber_json(s) for s in everyone], sys.stdout, ensure_ascii=False, indent=2)
    print()
    return Exit.OK


# --- data rights ---


def _entry_json(entry: Entry) -> dict:
    return {"at": entry.at, "event": entry.event.value, **entry.detail}


def _person_json(site: Site, s: Subscriber) -> dict:
    """A subscriber's row as export and show give it: their choices spelled out, the
    cadence they get (`cadence_default`: the site's, not one they chose)."""
    return {
        "address": s.address,
        "name": s.name,
        "status": s.status.value,
        "topics": list(s.selection.topics),
        "sources": list(s.selection.sources),
        "cadence": cadence_of(site.config.digest, s.cadence).value,
        "cadence_default": s.cadence is None,
        "paused_until": s.paused_until,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


def _record_json(site: Site, record: Record) -> dict:
    return {**_person_json(site, record.subscriber),
            "consent": [_entry_json(e) for e in record.consent]}  # fmt: skip


def _compact(entry: Entry) -> str:
    """One consent event in a CSV cell: "<time> <event> how=cli file=x.csv ..."."""
    parts = [entry.at, entry.event.value]
    first = ("how", "status", "file")  # where it came from first, then what it set
    for k in sorted(entry.detail, key=lambda k: (first.index(k) if k in first else 9, k)):
        v = entry.detail[k]
        shown = ";".join(map(str, v)) if isinstance(v, list) else str(v)
        if shown:
            parts.append(f"{k}={shown}")
    return " ".join(parts)


CSV_COLUMNS = ("address", "name", "status", "topics", "sources", "cadence", "cadence_default",
               "paused_until", "created_at", "updated_at", "consent")  # fmt: skip


def export_list(ctx: Context, *, as_csv: bool = False) -> int:
    """Everyone, with their choices and consent record: JSON (the default: one array,
    each person's consent events in full) or CSV (a row a person, their events in one
    column, " | " between them, topics and sources "; "-separated as import reads them)."""
    records = export(ctx.store)
    if not as_csv:
        out = [_record_json(ctx.site, r) for r in records]
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return Exit.OK
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        row = _person_json(ctx.site, r.subscriber)
        row["topics"], row["sources"] = "; ".join(row["topics"]), "; ".join(row["sources"])
        row["cadence_default"] = "yes" if row["cadence_default"] else "no"
        row["consent"] = " | ".join(_compact(e) for e in r.consent)
        writer.writerow(
            [spreadsheet_safe("" if row[c] is None else str(row[c])) for c in CSV_COLUMNS]
        )
    return Exit.OK


def _wordings(store: Store, found: Access) -> dict[str, str]:
    """The words each consent entry's `wording_sha256` names, as kept (store.consent)."""
    hashes = {
        str(e.detail["wording_sha256"]) for e in found.consent if "wording_sha256" in e.detail
    }
    return {h: text for h in sorted(hashes) if (text := wording(store, h)) is not None}


def _access_json(site: Site, store: Store, found: Access) -> dict:
    return {
        "address": found.address,
        "subscriber": _person_json(site, found.subscriber) if found.subscriber else None,
        "consent": [_entry_json(e) for e in found.consent],
        "wordings": _wordings(store, found),  # sha256 -> the words the form showed
        "welcomed_at": found.welcomed_at,
        "digests": [
            {
                "issue": r.issue,
                "edition": r.edition,
                "state": r.state.value,
                "attempts": r.attempts,
                "code": r.code,
                "reply": r.reply,
                "updated_at": r.updated_at,
            }
            for r in found.ledger
        ],
        "bounce_reports": [
            {
                "issue": b.issue,
                "kind": b.kind,
                "status": b.status,
                "detail": b.detail,
                "received_at": b.received_at,
            }
            for b in found.reports
        ],
        "suppressed": found.suppressed or None,
    }


def show(ctx: Context, address: str, *, as_json: bool = False) -> int:
    """One person's full record (a subject access request): their row, every consent
    event, every digest queued to them, the bounce reports about them, and whether they
    are on the suppression list. Exit 1 for an address nothing is kept of."""
    found = access_of(ctx.store, address)
    if not found.known:
        say(f"{address}: not found: nothing is kept of this address")
        return Exit.FAILED
    if found.suppressed == ERASED and not found.subscriber:
        say(f"{address}: erased: nothing is kept of it but a salted hash on the suppression list")
        return Exit.FAILED
    if as_json:
        json.dump(
            _access_json(ctx.site, ctx.store, found), sys.stdout, ensure_ascii=False, indent=2
        )
        print()
        return Exit.OK
    data = _access_json(ctx.site, ctx.store, found)
    person = data["subscriber"]
    print(f"address:     {found.address}")
    if person:
        topics = ", ".join(person["topics"] + person["sources"]) or "everything"
        cadence = person["cadence"] + (" (the site's default)" if person["cadence_default"] else "")
        print(f"name:        {person['name']}")
        print(f"status:      {person['status']}")
        print(f"follows:     {topics}")
        print(f"cadence:     {cadence}")
        print(f"paused:      {person['paused_until'] or 'no'}")
        print(f"created:     {person['created_at']}")
        print(f"updated:     {person['updated_at']}")
    else:
        print("status:      not on the list (removed)")
    print(f"suppressed:  {found.suppressed or 'no'}")
    print(f"welcomed:    {found.welcomed_at or 'no'}")
    print(f"consent:     {len(found.consent)} events")
    for e in found.consent:
        print(f"  {_compact(e)}")
    for sha256, text in data["wordings"].items():
        print(f"  wording {sha256[:12]}: {' '.join(text.split())}")
    print(f"digests:     {len(found.ledger)}")
    for r in found.ledger:
        reply = f" {r.code or ''} {r.reply}".rstrip()
        print(f"  issue {r.issue} (edition {r.edition}): {r.state.value}, {r.attempts} attempts,"
              f" {r.updated_at}{':' + reply if reply else ''}")  # fmt: skip
    print(f"bounces:     {len(found.reports)}")
    for b in found.reports:
        print(f"  issue {b.issue}: {b.kind} {b.status} {b.received_at}: {b.detail}")
    return Exit.OK


def erase_person(ctx: Context, address: str) -> int:
    """Forget someone: every row about them deleted or blanked in one transaction, a
    salted hash of their address put on the suppression list, the database file scrubbed
    of the deleted bytes, and every mail file written for them deleted. Exit 1 for an
    address nothing is kept of (nothing is done: a typo must not suppress a stranger)."""
    found = access_of(ctx.store, address)
    if not found.known:
        say(f"{address}: not found: nothing is kept of this address")
        return Exit.FAILED
    done = erase(ctx.store, address, ctx.clock())
    files = forget_files(ctx.site.root / "outbox", done.address, done.ledger)
    unscrubbed = scrub(ctx.store)
    if done.already and not files:
        print(f"already erased: {address}")
        return Exit.OK
    print(
        f"erased: {address}: {'their subscription, ' if done.subscriber else ''}"
        f"{done.consent} consent events, {len(done.ledger)} digests' addresses,"
        f" {done.reports} bounce reports, {len(files)} mail files;"
        " a salted hash kept on the suppression list"
    )
    if unscrubbed:
        say(f"warning: {unscrubbed}")
    return Exit.OK
