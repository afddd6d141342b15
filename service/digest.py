"""`postroom digest preview|send|status`: the weekly digest by hand, at the terminal.

The service makes and sends each week's issue by itself (service.jobs); these are for
the person who wants to see the next one, send it now, send themselves a test copy,
or see how far each issue got. Each scans the folder first, so it works on what is
there now.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime

from postroom.content.intro import INTRO_PATH
from postroom.core.model import Post
from postroom.core.process import this_process
from postroom.core.selection import Selection
from postroom.emails.editions import due_at
from postroom.emails.issues import (
    announce,
    create_issue,
    issue_waiting,
    next_intro,
    pending_posts,
)
from postroom.emails.message import IssueMessage, Recipient
from postroom.emails.render import render_digest, sample_recipient, with_sample_recipient
from postroom.emails.sending import outstanding, send_unfinished
from postroom.emails.tokens import secret_from_env
from postroom.emails.transports import Rejected, Unreachable, transport_for
from postroom.feeds.writer import write_atomic
from postroom.service.check import scan_here
from postroom.service.command import Context, Exit, say
from postroom.service.jobs import publish
from postroom.service.status import issue_status_json
from postroom.service.websub import hub_told_after
from postroom.store.digests import (
    Issue,
    SlotOutcome,
    all_issues,
    issue_by_number,
    next_issue_number,
    slots_of_waiting_issues,
    waiting_issues,
)
from postroom.store.editions import groups
from postroom.store.outbox import Outbox
from postroom.store.subscribers import AddressError, normalize_address
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn


def preview(ctx: Context) -> int:
    """The next issue rendered to preview/digest.html and .txt; nothing is frozen."""
    scan_here(ctx)
    posts = pending_posts(ctx.store, ctx.clock())
    intro, why_not = next_intro(ctx.site, ctx.store)
    rendered = with_sample_recipient(ctx.site, render_digest(ctx.site, None, posts, intro))
    folder = ctx.site.root / "preview"
    for name, body in (("digest.html", rendered.html), ("digest.txt", rendered.text)):
        write_atomic(folder / name, body.encode())
        print(folder / name)
    print(f"{len(posts)} posts would go in the next issue: {rendered.subject}", file=sys.stderr)
    if intro is not None:
        print(f"with the intro in {INTRO_PATH}", file=sys.stderr)
    elif why_not:
        print(why_not, file=sys.stderr)
    address, _ = sample_recipient(ctx.site)
    print(f"shown as {address} would get it; its unsubscribe link is a sample", file=sys.stderr)
    if note := rendered.cut_note():
        print(note, file=sys.stderr)
    return Exit.OK


def send(ctx: Context, *, to: str | None = None, dry_run: bool = False) -> int:
    """Make the next issue if none is unfinished, publish its page, and send what every
    issue owes; `to`: one test copy to that address instead; `dry_run`: say what would go."""
    scan_here(ctx)
    if to is not None:  # even empty: `--to "$ME"` with $ME unset must not mail everyone
        try:
            if dry_run:
                print(f"a test copy would go to {normalize_address(to)}")
                return Exit.OK
            return _send_test_copy(ctx, to)
        except AddressError as exc:
            say(f"test copy not sent: {exc}")
            return Exit.USAGE
        except (Rejected, Unreachable) as exc:
            say(f"test copy not sent: {exc}")
            return Exit.FAILED
    now = ctx.clock()
    owed = outstanding(ctx.store)
    if dry_run:
        for o in owed:
            print(f"issue {o.issue}: {o.to_send} messages still to send")
        waiting = waiting_issues(ctx.store)
        for issue in waiting:
            print(f"issue {issue.number} ({issue.stage}) would be sent now")
        if not owed and not waiting:
            posts = pending_posts(ctx.store, now)
            readers = _readers_of(ctx, posts, now)
            print(
                f"no unfinished issue; a new one would hold {len(posts)} posts"
                f" and go to {readers} subscriber{'' if readers == 1 else 's'}"
            )
        return Exit.OK
    secret = secret_from_env()  # before freezing anything: an issue nobody can unsubscribe from
    # a waiting issue (proofed, or held) goes now whatever an older one still owes: this
    # command is the curator sending it by hand; only with neither is a new issue made
    released = _release_waiting(ctx)
    if not owed and not released:
        notes: list[str] = []
        issue = create_issue(
            ctx.site, ctx.store, now, now, told=lambda rendered: notes.append(rendered.cut_note())
        )
        if issue is None:
            print("nothing new since the last issue: no issue made")
            return Exit.OK
        print(f"issue {issue.number} made: {issue.subject} ({len(issue.post_ids)} posts)")
        for note in filter(None, notes):
            print(note)
    # every owed issue's "view in browser" page before any email: this releases an issue
    # made here, or one whose earlier publish failed (it would otherwise never be mailed)
    built = publish(ctx.site, ctx.store, now)
    pinger = hub_told_after(ctx.site, ctx.store, ctx.clock, built.written)  # the issues feed
    try:
        return _deliver_with_progress(ctx, secret)
    finally:
        if pinger is not None:
            pinger.settle()


def _readers_of(ctx: Context, posts: list[Post], now: datetime) -> int:
    """How many readers an issue of `posts` sent by hand now would mail: the weekly ones,
    not paused, whose choice matches one of its posts (or who are owed earlier posts)."""
    number = next_issue_number(ctx.store)
    return sum(
        g.readers
        for g in groups(ctx.store, due_at(ctx.site, None, now), number)
        if g.served < number - 1
        or any(map(Selection.from_stored(g.topics, g.sources).matches, posts))
    )


def _release_waiting(ctx: Context) -> list[int]:
    """Issue now every issue waiting for its slot after a proof, or held by the curator:
    `digest send` is the curator sending it by hand. The numbers of those issued."""
    released = []
    slots = slots_of_waiting_issues(ctx.store)
    for issue in waiting_issues(ctx.store):
        slot = slots.get(issue.number)
        waiting = (SlotOutcome.PROOF, SlotOutcome.HELD)
        if slot and issue_waiting(ctx.site, ctx.store, slot, issue.number, ctx.clock(), waiting):
            announce(ctx.site, ctx.store, issue.number)
            print(f"issue {issue.number} ({issue.stage}) sent now: {issue.subject}")
            released.append(issue.number)
    return released


def _send_test_copy(ctx: Context, address: str) -> int:
    """The unfinished issue (or the next one, unfrozen) to one address, recorded nowhere."""
    site, store, now = ctx.site, ctx.store, ctx.clock()
    owed = outstanding(store)
    issue = issue_by_number(store, owed[0].issue) if owed else None
    if issue is None and (posts := pending_posts(store, now)):
        rendered = render_digest(site, None, posts, next_intro(site, store)[0])
        stamp = now.isoformat()
        issue = Issue(0, stamp, stamp, rendered.subject, rendered.html, rendered.text, ())
    issue = issue or next(reversed(all_issues(store)), None)
    if issue is None:
        say("no posts and no issues yet: nothing to send")
        return Exit.FAILED
    issue = replace(issue, subject=f"[test] {issue.subject}")
    message = IssueMessage(site, issue, secret_from_env())
    envelope = message.for_recipient(Recipient(0, normalize_address(address)))
    connection = transport_for(site).connect()
    try:
        print(f"test copy of '{issue.subject}' to {address}: {connection.send(envelope)}")
    finally:
        connection.close()
    return Exit.OK


def _deliver_with_progress(ctx: Context, secret: bytes) -> int:
    """Send every unfinished issue, with a progress bar on a terminal and a summary at the
    end; 1 if sending stopped early (server unreachable)."""
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not sys.stderr.isatty(),
        console=None,
    )
    tasks: list = []
    with bar:
        reports = send_unfinished(
            ctx.site,
            ctx.store,
            secret,
            clock=ctx.clock,
            start=lambda n, total: tasks.append(bar.add_task(f"issue {n}", total=total)),
            on_outcome=lambda _state: bar.advance(tasks[-1]),
        )
    for r in reports:
        for warning in r.warnings:
            say(f"warning: issue {r.issue}: {warning}")
        print(r.summary())
        for address, reason in r.failures:
            print(f"issue {r.issue}: failed: {address}: {reason}", file=sys.stderr)
        if r.stopped:
            say(f"sending stopped: {r.stopped}")
    outbox = Outbox(ctx.store, this_process())
    for owed in outstanding(ctx.store):  # deferred rows not due yet: a later run sends them
        retry = outbox.next_retry(owed.issue) or "the next run"
        print(f"issue {owed.issue}: {owed.to_send} still to send, next try {retry}")
    return Exit.FAILED if any(r.stopped for r in reports) else Exit.OK


def status(ctx: Context, *, as_json: bool = False) -> int:
    """Per issue: queued, sent, deferred, failed and skipped messages, and the next retry."""
    rows = issue_status_json(ctx.store)
    if as_json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return Exit.OK
    for r in rows:
        if r["state"] != "issued":
            print(_waiting_line(r))
            continue
        retry = f", next retry {r['next_retry']}" if r["next_retry"] else ""
        later = f"; later {r['bounced']} bounced, {r['soft_bounced']} soft, {r['complained']}"
        print(
            f"issue {r['issue']} ({r['created_at'][:10]}, {r['posts']} posts):"
            f" {r['queued']} queued, {r['sent']} sent, {r['deferred']} deferred,"
            f" {r['failed']} failed, {r['skipped']} skipped{later} complaints{retry}"
            f"  {r['subject']}"
        )
        if r["paused"]:
            print(f"  PAUSED: {r['paused']}; `postroom digest resume` to go on")
    if not rows:
        print("no issues yet")
    return Exit.OK


def _waiting_line(row: dict) -> str:
    """An issue frozen for its proof, or held by the curator: what happens to it next."""
    head = f"issue {row['issue']} ({row['created_at'][:10]}, {row['posts']} posts):"
    if row["state"] == "held":
        what = "held, not sent: send it with its proof's Send now link or `digest send`"
    else:
        what = f"proof sent, goes out at {row['slot']}"
    return f"{head} {what}  {row['subject']}"
