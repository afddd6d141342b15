"""`postroom bounces` and `postroom digest resume`: reports that came back later.

`bounces` reads the bounce mailbox of `[bounces]` (IMAP or Maildir) once: hard
bounces and complaints mark their subscribers and suppress their addresses, soft
bounces are counted, `mailto:` unsubscribes are answered (emails.bounces). The
service does the same every `bounces.poll_seconds` (`read_bounces`, from its
timetable). When an issue's hard bounces or complaints pass their limit, sending
pauses until `digest resume`.
"""

from __future__ import annotations

import json
import logging
import sys

from postroom.core.clock import Clock
from postroom.core.config import ConfigError, Site
from postroom.emails.bounces import Outcome, process
from postroom.emails.mailbox import MailboxError, configured, open_mailbox
from postroom.emails.tokens import TokenError, secret_from_env
from postroom.service.command import Context, Exit, say
from postroom.service.logs import event
from postroom.store import Store
from postroom.store.bounces import resume as lift_pauses
from postroom.store.holds import Pause


def pause_said(pause: Pause) -> str:
    return f"sending paused: {pause.reason}; `postroom digest resume` to go on"


def read_once(site: Site, store: Store, clock: Clock, secret: bytes | None) -> Outcome:
    """One pass over the mailbox; ConfigError or MailboxError when it cannot be read."""
    mailbox = open_mailbox(site)
    try:
        return process(site, store, mailbox, secret, clock())
    finally:
        mailbox.close()


def bounces(ctx: Context, *, as_json: bool = False) -> int:
    """`postroom bounces`: one pass; 1 if the mailbox cannot be read, 2 if none is set
    or there is no secret (our Message-IDs and tokens are keyed with it: nothing could
    be matched, so nothing is read)."""
    try:
        secret = secret_from_env()
    except TokenError as exc:
        say(f"bounces not read: {exc}")
        return Exit.USAGE
    try:
        outcome = read_once(ctx.site, ctx.store, ctx.clock, secret)
    except MailboxError as exc:
        say(f"bounces not read: {exc}")
        return Exit.FAILED
    if as_json:
        data = {**outcome.counts(), "paused": [p.reason for p in outcome.pauses]}
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print(outcome.summary())
        for pause in outcome.pauses:
            print(pause_said(pause))
    return Exit.OK


def read_bounces(site: Site, store: Store, clock: Clock, secret: bytes | None) -> None:
    """The service's job: one pass, logged; a mailbox away, or one it cannot log in to
    (its password's variable unset), is a warning, tried next time: never a reason for the
    digest not to go (`run --once` reads the mailbox first)."""
    if not configured(site.config.bounces) or secret is None:  # the service says it lacks one
        return
    try:
        outcome = read_once(site, store, clock, secret)
    except (MailboxError, ConfigError) as exc:
        event("bounces", f"not read: {exc}", logging.WARNING)
        return
    if outcome.read:
        event("bounces", outcome.summary(), **outcome.counts())
    for pause in outcome.pauses:
        event("bounces", pause_said(pause), logging.ERROR, issue=pause.issue)


def resume(ctx: Context) -> int:
    """`postroom digest resume`: lift the pause; the next send goes on where it stopped."""
    lifted = lift_pauses(ctx.store, ctx.clock())
    if not lifted:
        print("sending was not paused")
    for pause in lifted:
        print(f"resumed: {pause.reason}")
    return Exit.OK
