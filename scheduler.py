"""postroom's command line, and (later) the service that runs it on a schedule.

    postroom init DIR
    postroom --site DIR check [--json]
    postroom --site DIR run --once
    postroom --site DIR subscribers add|import|list|remove|unsubscribe
    postroom --site DIR digest preview|send|status

Each verb is a thin shell over the stages: content.intake.scan() fills the
store, feeds.build() writes public/ from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from content.intake import ScanReport, scan
from content.model import Post, Problem, Severity
from content.site import ConfigError, Site, init_site, open_site
from store import Store, StoreError


def post_json(post: Post) -> dict:
    """A post as `check --json` gives it; these field names are a contract."""
    a = post.attribution
    return {
        "id": post.id,
        "title": post.title,
        "date": post.date.isoformat(),
        "date_source": post.date_source.value,
        "author": a.author,
        "author_role": a.author_role,
        "source": a.source,
        "source_url": a.url,
        "files": list(post.files),
        "tags": list(post.tags),
    }


def problem_json(problem: Problem) -> dict:
    return {"file": problem.file, "reason": problem.reason, "severity": problem.severity.value}


def _print_problems(problems: Sequence[Problem]) -> None:
    for p in problems:
        print(f"  {p.severity.value:7} {p.file}: {p.reason}")


def _has_errors(problems: Sequence[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)


def cmd_init(args: argparse.Namespace) -> int:
    site = init_site(Path(args.dir))
    print(
        f"made a site in {site.root}: add posts to {site.content_dir}, then run"
        f" 'postroom --site {site.root} run --once'"
    )
    return 0


def cmd_check(site: Site, store: Store, args: argparse.Namespace) -> int:
    report = scan(site, store)
    posts = sorted(store.posts(), key=lambda p: (p.date, p.id), reverse=True)
    if args.json:
        out = {
            "posts": [post_json(p) for p in posts],
            "problems": [problem_json(p) for p in report.problems],
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for p in posts:
            a = p.attribution
            by = (
                f" by {a.author}" + (f" ({a.author_role})" if a.author_role else "")
                if a.author
                else ""
            )
            src = f", {a.source}" if a.source else ""
            note = " [date guessed]" if p.date_source.value == "text_guess" else ""
            note = " [no date: picked-up time]" if p.date_source.value == "picked_up" else note
            print(f"{p.date:%Y-%m-%d} {p.title}{by}{src}{note}")
        print(f"{len(posts)} posts, {len(report.problems)} problems")
        _print_problems(report.problems)
    return 1 if _has_errors(report.problems) else 0


def _summary(report: ScanReport, posts: int) -> str:
    return (
        f"{report.files} files, {posts} posts: {len(report.new)} new,"
        f" {len(report.updated)} updated, {len(report.withdrawn)} withdrawn;"
        f" {len(report.problems)} problems"
    )


def _publish(site: Site, store: Store, posts: Sequence[Post]):
    """Write public/: feeds and pages of `posts`, and the archive of every digest issue."""
    from emails.issues import all_issues
    from feeds import build  # the CLI's other verbs need no templates
    from feeds.archive import ArchivedIssue

    issues = [
        ArchivedIssue(i.number, datetime.fromisoformat(i.created_at), i.subject, i.html, i.post_ids)
        for i in all_issues(store)
    ]
    return build(site, posts, issues)


def cmd_run(site: Site, store: Store, args: argparse.Namespace) -> int:
    if not args.once:
        print("postroom run: only --once is available in this version", file=sys.stderr)
        return 2
    from emails.issues import decide_slot
    from emails.sending import outstanding
    from emails.tokens import TokenError, secret_from_env

    report = scan(site, store)
    decision = decide_slot(site, store, datetime.now(UTC))
    posts = store.posts()
    built = _publish(site, store, posts)
    print(_summary(report, len(posts)))
    problems = [*report.problems, *built.problems]
    _print_problems(problems)
    print(
        f"public/: {len(built.written)} files written, {built.unchanged} unchanged,"
        f" {len(built.removed)} removed"
    )
    if decision.issue:
        print(f"digest: issue {decision.issue.number} made for the slot of {decision.slot}")
    elif not decision.already:
        print(f"digest: no issue for the slot of {decision.slot} ({decision.outcome})")
    if not outstanding(store):
        return 0
    try:
        secret = secret_from_env()
    except TokenError as exc:
        print(f"postroom: digest not sent: {exc}", file=sys.stderr)
        return 2
    return _deliver_with_progress(site, store, secret)


def cmd_subscribers(site: Site, store: Store, args: argparse.Namespace) -> int:
    from emails.tokens import TokenError, read_token, secret_from_env
    from store.subscribers import AddressError, Status, SubscriberList

    book = SubscriberList(store)
    try:
        if args.action == "add":
            new = book.add(args.address, args.name)
            print(f"{'added' if new else 'already subscribed (name updated)'}: {args.address}")
        elif args.action == "remove":
            if not book.remove(args.address):
                print(f"not on the list: {args.address}", file=sys.stderr)
                return 1
            print(f"removed: {args.address}")
        elif args.action == "unsubscribe":
            address = read_token(secret_from_env(), args.token, "unsubscribe")
            if not book.set_status(address, Status.UNSUBSCRIBED):
                print(f"not on the list (nothing to do): {address}")
                return 0
            print(f"unsubscribed: {address}")
        elif args.action == "import":
            report = book.import_csv(Path(args.file))
            for line, reason in report.errors:
                print(f"{args.file}:{line}: {reason}", file=sys.stderr)
            print(
                f"{report.added} added, {report.merged} already there, {len(report.errors)} refused"
            )
            return 1 if report.errors else 0
        elif args.json:
            json.dump(
                [
                    {
                        "address": s.address,
                        "name": s.name,
                        "status": s.status.value,
                        "created_at": s.created_at,
                        "updated_at": s.updated_at,
                    }
                    for s in book.all()
                ],
                sys.stdout,
                ensure_ascii=False,
                indent=2,
            )
            print()
        else:
            for s in book.all():
                print(f"{s.status.value:13} {s.address} {s.name}")
    except (AddressError, TokenError) as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_digest(site: Site, store: Store, args: argparse.Namespace) -> int:
    from emails.tokens import TokenError

    actions = {"preview": _digest_preview, "send": _digest_send, "status": _digest_status}
    try:
        return actions[args.action](site, store, args)
    except TokenError as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        return 2


def _digest_preview(site: Site, store: Store, args: argparse.Namespace) -> int:
    from emails.issues import pending_posts
    from emails.render import render_digest
    from feeds.writer import write_atomic

    scan(site, store)
    posts = pending_posts(store, datetime.now(UTC))
    rendered = render_digest(site, None, posts)
    folder = site.root / "preview"
    for name, body in (("digest.html", rendered.html), ("digest.txt", rendered.text)):
        write_atomic(folder / name, body.encode())
        print(folder / name)
    print(f"{len(posts)} posts would go in the next issue: {rendered.subject}", file=sys.stderr)
    return 0


def _send_test_copy(site: Site, store: Store, address: str) -> int:
    """--to: the unfinished issue (or the next one, unfrozen) to one address, recorded nowhere."""
    from dataclasses import replace

    from emails.issues import Issue, all_issues, issue_by_number, pending_posts
    from emails.message import IssueMessage, Recipient
    from emails.render import render_digest
    from emails.sending import outstanding
    from emails.tokens import secret_from_env
    from emails.transports import transport_for
    from store.subscribers import normalize_address

    now = datetime.now(UTC)
    owed = outstanding(store)
    issue = issue_by_number(store, owed[0].issue) if owed else None
    if issue is None and (posts := pending_posts(store, now)):
        rendered = render_digest(site, None, posts)
        stamp = now.isoformat()
        issue = Issue(0, stamp, stamp, rendered.subject, rendered.html, rendered.text, ())
    issue = issue or next(reversed(all_issues(store)), None)
    if issue is None:
        print("postroom: no posts and no issues yet: nothing to send", file=sys.stderr)
        return 1
    issue = replace(issue, subject=f"[test] {issue.subject}")
    message = IssueMessage(site, issue, secret_from_env())
    envelope = message.for_recipient(Recipient(0, normalize_address(address)))
    connection = transport_for(site).connect()
    try:
        print(f"test copy of '{issue.subject}' to {address}: {connection.send(envelope)}")
    finally:
        connection.close()
    return 0


def _digest_send(site: Site, store: Store, args: argparse.Namespace) -> int:
    from emails.issues import create_issue, pending_posts
    from emails.sending import outstanding
    from emails.tokens import secret_from_env
    from emails.transports import Rejected, Unreachable
    from store.subscribers import AddressError

    scan(site, store)
    if args.to:
        try:
            return _send_test_copy(site, store, args.to)
        except (AddressError, Rejected, Unreachable) as exc:
            print(f"postroom: test copy not sent: {exc}", file=sys.stderr)
            return 1
    now = datetime.now(UTC)
    owed = outstanding(store)
    if args.dry_run:
        for o in owed:
            print(f"issue {o.issue}: {o.to_send} messages still to send")
        if not owed:
            posts = pending_posts(store, now)
            print(f"no unfinished issue; a new one would hold {len(posts)} posts")
        return 0
    secret = secret_from_env()  # before freezing anything: an issue nobody can unsubscribe from
    if not owed:
        issue = create_issue(site, store, now, now)
        if issue is None:
            print("nothing new since the last issue: no issue made")
            return 0
        print(f"issue {issue.number} made: {issue.subject} ({len(issue.post_ids)} posts)")
        _publish(site, store, store.posts())  # its "view in browser" page, before any email
    return _deliver_with_progress(site, store, secret)


def _deliver_with_progress(site: Site, store: Store, secret: bytes) -> int:
    """Send every unfinished issue, with a progress bar on a terminal and a summary at the
    end; 1 if sending stopped early (server unreachable) or another sender is at work."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from emails.delivery import SenderBusy
    from emails.outbox import Outbox
    from emails.sending import outstanding, send_unfinished
    from store.leases import this_process

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not sys.stderr.isatty(),
        console=None,
    )
    tasks: list = []
    try:
        with bar:
            reports = send_unfinished(
                site,
                store,
                secret,
                start=lambda n, total: tasks.append(bar.add_task(f"issue {n}", total=total)),
                on_outcome=lambda _state: bar.advance(tasks[-1]),
            )
    except SenderBusy as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        return 1
    for r in reports:
        print(
            f"issue {r.issue}: {r.sent} sent, {r.deferred} deferred, {r.failed} failed,"
            f" {r.skipped} skipped" + (f", {r.resent} resent after a crash" if r.resent else "")
        )
        if r.stopped:
            print(f"postroom: sending stopped: {r.stopped}", file=sys.stderr)
    outbox = Outbox(store, this_process())
    for owed in outstanding(store):  # deferred rows not due yet: a later run sends them
        retry = outbox.next_retry(owed.issue) or "the next run"
        print(f"issue {owed.issue}: {owed.to_send} still to send, next try {retry}")
    return 1 if any(r.stopped for r in reports) else 0


def issue_status_json(store: Store) -> list[dict]:
    """`digest status --json`: one object per issue; these field names are a contract."""
    from emails.issues import all_issues
    from emails.outbox import Outbox, State
    from store.leases import this_process

    outbox = Outbox(store, this_process())
    counts = outbox.counts()
    out = []
    for issue in all_issues(store):
        c = counts.get(issue.number, {})
        out.append(
            {
                "issue": issue.number,
                "created_at": issue.created_at,
                "subject": issue.subject,
                "posts": len(issue.post_ids),
                "queued": c.get(State.PENDING, 0) + c.get(State.SENDING, 0),
                "sent": c.get(State.SENT, 0),
                "deferred": c.get(State.DEFERRED, 0),
                "failed": c.get(State.FAILED, 0),
                "skipped": c.get(State.SKIPPED, 0),
                "next_retry": outbox.next_retry(issue.number),
            }
        )
    return out


def _digest_status(site: Site, store: Store, args: argparse.Namespace) -> int:
    rows = issue_status_json(store)
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    for r in rows:
        retry = f", next retry {r['next_retry']}" if r["next_retry"] else ""
        print(
            f"issue {r['issue']} ({r['created_at'][:10]}, {r['posts']} posts):"
            f" {r['queued']} queued, {r['sent']} sent, {r['deferred']} deferred,"
            f" {r['failed']} failed, {r['skipped']} skipped{retry}  {r['subject']}"
        )
    if not rows:
        print("no issues yet")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="postroom", description=__doc__.split("\n\n")[0])
    top.add_argument("--site", default=".", help="the site folder (default: .)")
    verbs = top.add_subparsers(dest="verb", required=True)
    init = verbs.add_parser("init", help="make a new site folder")
    init.add_argument("dir")
    check = verbs.add_parser("check", help="list every post and every problem")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    run = verbs.add_parser("run", help="pick up posts and write feeds and pages")
    run.add_argument("--once", action="store_true", help="one pass, then exit")
    digest = verbs.add_parser("digest", help="the weekly email digest")
    digest_actions = digest.add_subparsers(dest="action", required=True)
    digest_actions.add_parser("preview", help="render the next issue to files, freeze nothing")
    send = digest_actions.add_parser("send", help="make the next issue if none is unfinished; send")
    send.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    send.add_argument("--to", metavar="ADDR", help="send one test copy to ADDR, recorded nowhere")
    status = digest_actions.add_parser("status", help="per issue: queued, sent, deferred, failed")
    status.add_argument("--json", action="store_true")
    subs = verbs.add_parser("subscribers", help="manage who receives the digest")
    actions = subs.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add one address (active)")
    add.add_argument("address")
    add.add_argument("--name", default="")
    imp = actions.add_parser("import", help="add addresses from a CSV file: address[,name]")
    imp.add_argument("file")
    listing = actions.add_parser("list", help="everyone on the list")
    listing.add_argument("--json", action="store_true")
    unsubscribe = actions.add_parser("unsubscribe", help="act on a signed unsubscribe token")
    unsubscribe.add_argument("--token", required=True)
    remove = actions.add_parser("remove", help="delete one address from the list")
    remove.add_argument("address")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.verb == "init":
            return cmd_init(args)
        site = open_site(Path(args.site))
        store = Store(site.store_url)
        try:
            verbs = {
                "check": cmd_check,
                "run": cmd_run,
                "subscribers": cmd_subscribers,
                "digest": cmd_digest,
            }
            return verbs[args.verb](site, store, args)
        finally:
            store.close()
    except (ConfigError, StoreError) as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
