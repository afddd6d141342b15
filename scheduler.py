"""postroom's command line, and (later) the service that runs it on a schedule.

    postroom init DIR
    postroom --site DIR check [--json]
    postroom --site DIR run --once
    postroom --site DIR subscribers add|import|list|remove|unsubscribe
    postroom --site DIR digest preview

Each verb is a thin shell over the stages: content.intake.scan() fills the
store, feeds.build() writes public/ from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
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


def cmd_run(site: Site, store: Store, args: argparse.Namespace) -> int:
    if not args.once:
        print("postroom run: only --once is available in this version", file=sys.stderr)
        return 2
    from feeds import build  # the CLI's other verbs need no templates

    report = scan(site, store)
    posts = store.posts()
    built = build(site, posts)
    print(_summary(report, len(posts)))
    problems = [*report.problems, *built.problems]
    _print_problems(problems)
    print(
        f"public/: {len(built.written)} files written, {built.unchanged} unchanged,"
        f" {len(built.removed)} removed"
    )
    return 0


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
    from datetime import UTC, datetime

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
