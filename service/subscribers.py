"""`postroom subscribers add|import|list|remove|unsubscribe`: the digest's list at the
terminal. The list itself, and what an address may be, is store.subscribers; an address
it refuses raises AddressError, a bad token TokenError (the CLI says why, exit 2)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from postroom.emails.tokens import Purpose, read_token, secret_from_env
from postroom.service.command import Context, Exit, say
from postroom.service.status import subscriber_json
from postroom.store.subscribers import Status, SubscriberList, subscriber_name


def add(ctx: Context, address: str, name: str) -> int:
    book = SubscriberList(ctx.store)
    before = book.find(address)
    if book.add(address, name):
        print(f"added: {address}")
    elif before is not None and name and subscriber_name(name) != before.name:
        print(f"already subscribed (name updated): {address}")
    else:  # no --name, or the same one: nothing changed, so nothing is said to have
        print(f"already subscribed: {address}")
    return Exit.OK


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
    if not book.set_status(address, Status.UNSUBSCRIBED):
        print(f"not on the list (nothing to do): {address}")
        return Exit.OK
    print(f"unsubscribed: {address}")
    return Exit.OK


def import_csv(ctx: Context, file: str) -> int:
    """Every row of a CSV file (address[,name]) added; a refused row is said, by line, and
    makes the exit 1; the rest are added all the same."""
    try:
        report = SubscriberList(ctx.store).import_csv(Path(file))
    except OSError as exc:  # missing, a folder, unreadable
        say(f"{file}: cannot be read: {exc.strerror or exc}")
        return Exit.USAGE
    for line, reason in report.warnings:
        print(f"{file}:{line}: warning: {reason}", file=sys.stderr)
    for line, reason in report.errors:
        print(f"{file}:{line}: {reason}", file=sys.stderr)
    print(f"{report.added} added, {report.merged} already there, {len(report.errors)} refused")
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
