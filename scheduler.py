"""postroom: curated posts in; feeds, pages and a weekly email digest out.

    postroom --version
    postroom init DIR
    postroom --site DIR check [--json]
    postroom --site DIR run [--once] [--poll-only] [--no-send] [--log-format text|json]
    postroom --site DIR worker [--log-format text|json]
    postroom --site DIR status [--json]
    postroom --site DIR serve [--host 127.0.0.1] [--port 8000] [--trusted-proxy ADDR]
    postroom --site DIR subscribers add|import|list|remove|unsubscribe|export|show|erase
    postroom --site DIR digest preview|send|status|resume
    postroom --site DIR bounces [--json]
    postroom --site DIR add URL [--tag T] [--comment TEXT] [--dry-run]
    postroom --site DIR follow list|check [--json]

`--site DIR` may also follow the verb (`postroom check --site DIR`); given both ways,
the one after the verb wins.

The command line only: it parses the arguments, opens the site and its store into one
Context (service.command), hands it to the verb, and turns every way a command can end
into an exit code and at most one line on stderr. The verbs' work is in service/.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import gc
import importlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from postroom import __version__
from postroom.core import collector
from postroom.core.clock import Clock, ClockError, clock_from_env
from postroom.core.config import ConfigError, Site, init_site, open_site
from postroom.service.command import Context, Exit, say

if TYPE_CHECKING:
    from postroom.service.jobs import Jobs

# A verb's own modules are imported in its cmd_ function, not above, and so is the store
# (SQLAlchemy: 0.3 s to import), so that `postroom --help`, `--version`, a mistyped
# option and `status` on a SQLite site (read without SQLAlchemy: `_peeked_status`) do not
# wait for what only the verbs need (the renderers, APScheduler, watchdog, the web
# server, SQLAlchemy): tests/test_startup.py checks which stacks each of them loads, and
# bench/startup.py times them. Only light modules (the standard library, core, the
# command's own small ones) import at the top.


# A command ends with its heap whole (a cold run's 10,000 posts, their pages, the
# store's rows): the interpreter's last collections at exit would walk all of it, 0.3-0.5 s
# after the work is done, for garbage that dies with the process anyway. Frozen at exit
# (registered first: it runs after every other exit function), nothing is walked;
# objects are still freed, and files closed, as their references go.
atexit.register(gc.freeze)


class Reload(Exception):
    """The service stopped cleanly for a SIGHUP: `main` runs the command again, in this
    process (`_reexec`), once the store is closed."""


class Stopped(BaseException):
    """SIGTERM or SIGHUP to a short command (`check`, `run --once`, `digest send`): raised
    like Ctrl-C's KeyboardInterrupt, so the same clean-up runs (a cold scan's worker
    processes stopped, not left behind by a parent killed outright)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signal = signal.Signals(signum)


class DatabaseTrouble(Exception):
    """The store could not be opened or used: a corrupt file, a server away."""


class Refused(Exception):
    """The store is one this postroom must not use (a newer schema): store.StoreError,
    raised again here so that `main` need not import the store to catch it."""


def cmd_init(args: argparse.Namespace) -> int:
    site = init_site(Path(args.dir))
    print(
        f"made a site in {site.root}: add posts to {site.content_dir}, then run"
        f" 'postroom --site {site.root} run --once'"
    )
    return Exit.OK


def cmd_check(ctx: Context, args: argparse.Namespace) -> int:
    from postroom.service.check import check  # lazy: see the imports

    return check(ctx, as_json=args.json)


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    import logging  # lazy: see the imports

    from postroom.emails.tokens import TokenError, secret_from_env
    from postroom.service import logs
    from postroom.service.jobs import Jobs, warn_before_first_publish

    logs.configure(args.log_format)
    warn_before_first_publish(ctx.site, ctx.store)
    try:
        secret, no_secret = secret_from_env(), ""
    except TokenError as exc:  # feeds still publish; the digest waits for a usable secret
        secret, no_secret = None, str(exc)
        if not args.once:  # a service may run for weeks before an issue is due: say it now
            logs.event("service", f"the digest cannot be sent: {exc}", logging.WARNING)
    send = not args.no_send
    if not args.once:
        # the service alone: APScheduler and watchdog are not for `--once` to import
        from postroom.service.daemon import Service

        service = Service(ctx, secret, poll_only=args.poll_only, send=send)
        code = service.run()
        if service.reload and code == Exit.OK:
            raise Reload
        return code
    jobs = Jobs(ctx, secret, send=send)
    with collector.kept():  # the modules, all imported by now but the build's
        try:
            jobs.follow()  # followed feeds and listed links that are due: posts for this scan
        except Exception as exc:  # the database, say: the feeds and the digest still go on
            logs.event("follow", f"failed: {logs.first_line(exc)}", logging.ERROR)
        jobs.scan()  # a first pass always builds
        jobs.bounces()  # before sending: who bounced or complained is not mailed again
        jobs.purge()  # sign-ups never confirmed, once their link has expired
        jobs.decide()
        code = _send_once(ctx, jobs, secret, no_secret) if send else Exit.OK
        jobs.settle_pings()  # the WebSub hub told of the feeds changed, in a few seconds at most
    return code


def _send_once(ctx: Context, jobs: Jobs, secret: bytes | None, no_secret: str) -> int:
    from postroom.emails.sending import outstanding  # lazy: see the imports

    if outstanding(ctx.store) and secret is None:
        say(f"digest not sent: {no_secret}")
        return Exit.USAGE
    reports = jobs.deliver()
    return Exit.FAILED if any(r.stopped for r in reports) else Exit.OK


def cmd_worker(ctx: Context, args: argparse.Namespace) -> int:
    """A sender only: drains every released issue with the others, until SIGTERM."""
    from postroom.emails.tokens import TokenError, secret_from_env  # lazy: see the imports
    from postroom.service import logs
    from postroom.service.worker import Worker

    logs.configure(args.log_format)
    try:
        secret = secret_from_env()
    except TokenError as exc:  # a worker exists to send: without the secret it cannot
        say(str(exc))
        return Exit.USAGE
    return Worker(ctx.site, ctx.store, ctx.clock, secret).run()


def cmd_serve(ctx: Context, args: argparse.Namespace) -> int:
    """public/ and the subscribe, confirm and unsubscribe pages, until Ctrl-C or SIGTERM.
    Timeouts, the connection limit and whose X-Forwarded-For counts: web.server."""
    import uvicorn  # lazy: see the imports
    from postroom.emails.tokens import TokenError, secret_from_env
    from postroom.emails.transports import transport_for
    from postroom.web.app import create_app
    from postroom.web.server import Listen, preview_url, proxy_network, server_config

    try:
        proxies = tuple(proxy_network(text) for text in args.trusted_proxy)
    except ValueError as exc:
        say(f"--trusted-proxy: {exc}")
        return Exit.USAGE
    try:
        secret = secret_from_env()  # the forms' links are signed with it
    except TokenError as exc:
        say(str(exc))
        return Exit.USAGE
    if os.environ.get("FORWARDED_ALLOW_IPS"):
        say("FORWARDED_ALLOW_IPS is ignored: use --trusted-proxy")
    site = ctx.site
    listen = Listen(args.host, args.port, proxies)
    preview = preview_url(site, listen)
    app = create_app(site, ctx.store, secret, transport_for(site), ctx.clock, preview)
    if preview:
        rewritten = f"a preview: links to {site.base_url} lead here"
        print(f"serving {site.public_dir} at {preview} ({rewritten})")
    else:
        print(f"serving {site.public_dir} at {listen.url} (links: {site.base_url})")
    if not site.public_dir.is_dir():
        build = f"postroom --site {site.root} run --once"
        print(f"nothing is built yet: run `{build}`; until then every page says so")
    trusted = ", ".join(map(str, proxies)) or "no one (see --trusted-proxy)"
    print(f"X-Forwarded-For trusted from: {trusted}", flush=True)
    uvicorn.Server(server_config(app, listen)).run()
    return Exit.OK


def cmd_subscribers(ctx: Context, args: argparse.Namespace) -> int:
    from postroom.emails.tokens import TokenError  # lazy: see the imports
    from postroom.service import subscribers
    from postroom.store.subscribers import AddressError

    try:
        if args.action == "add":
            return subscribers.add(
                ctx,
                args.address,
                args.name,
                "; ".join(args.topics),
                "; ".join(args.sources),
                args.cadence,
            )
        if args.action == "remove":
            return subscribers.remove(ctx, args.address)
        if args.action == "unsubscribe":
            return subscribers.unsubscribe(ctx, args.token)
        if args.action == "import":
            return subscribers.import_csv(ctx, args.file)
        if args.action == "export":
            return subscribers.export_list(ctx, as_csv=args.csv)
        if args.action == "show":
            return subscribers.show(ctx, args.address, as_json=args.json)
        if args.action == "erase":
            return subscribers.erase_person(ctx, args.address)
        return subscribers.listing(ctx, as_json=args.json)
    except (AddressError, TokenError) as exc:
        say(str(exc))
        return Exit.USAGE


def cmd_digest(ctx: Context, args: argparse.Namespace) -> int:
    from postroom.emails.tokens import TokenError  # lazy: see the imports
    from postroom.service import digest

    try:
        if args.action == "preview":
            return digest.preview(ctx)
        if args.action == "send":
            return digest.send(ctx, to=args.to, dry_run=args.dry_run)
        if args.action == "resume":
            from postroom.service.bounces import resume

            return resume(ctx)
        return digest.status(ctx, as_json=args.json)
    except TokenError as exc:
        say(str(exc))
        return Exit.USAGE


def cmd_add(ctx: Context, args: argparse.Namespace) -> int:
    from postroom.service.add import add  # lazy: see the imports

    return add(ctx, args.url, tags=tuple(args.tag), comment=args.comment, dry_run=args.dry_run)


def cmd_follow(ctx: Context, args: argparse.Namespace) -> int:
    from postroom.service.following import check, listing  # lazy: see the imports

    if args.action == "check":
        return check(ctx, as_json=args.json)
    return listing(ctx, as_json=args.json)


def cmd_bounces(ctx: Context, args: argparse.Namespace) -> int:
    from postroom.service.bounces import bounces  # lazy: see the imports

    return bounces(ctx, as_json=args.json)


def cmd_status(ctx: Context, args: argparse.Namespace) -> int:
    """`status` through the Store: PostgreSQL, or a SQLite store the peek left to it (not
    made yet, an older or newer schema, unreadable), which is made, migrated or refused
    here as by every other verb. The usual way on SQLite is `_peeked_status`."""
    from postroom.service.status import status_json  # lazy: see the imports

    return print_status(status_json(ctx.site, ctx.store, ctx.clock()), ctx.site.config.tz, args)


def _peeked_status(site: Site, clock: Clock, args: argparse.Namespace) -> int | None:
    """`status` on a SQLite store at this postroom's schema: read through a read-only
    sqlite3 connection (store.peek), without SQLAlchemy or the service's modules, and
    with the same output. None when the store is not one the peek reads, or a read
    failed: `cmd_status` then does it through the Store, as it always has (and says why
    in its words, when it cannot either)."""
    from postroom.store import peek  # the standard library's sqlite3 only: see store/

    reader = peek.open_peek(site.store_url)
    if reader is None:
        return None
    from postroom.service.status import status_of  # lazy: see the imports

    try:
        with reader:
            info = status_of(site, reader, clock())
    except peek.PeekFailed:
        return None
    return print_status(info, site.config.tz, args)


def print_status(info: dict, tz: ZoneInfo, args: argparse.Namespace) -> int:
    """`status` as JSON (`--json`: a contract, service.status) or as lines for a person."""
    if args.json:
        json.dump(info, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return Exit.OK
    scanned, built, issue = info["last_scan"], info["last_build"], info["last_issue"]
    local = datetime.fromisoformat(info["next_digest"]).astimezone(tz)
    print(f"service:     {info['scheduler'] or 'not running'}")  # the JSON key is a contract
    print(
        f"last scan:   {scanned['at']}: {scanned['files']} files, {scanned['new']} new,"
        f" {scanned['updated']} updated, {scanned['withdrawn']} withdrawn"
        if scanned
        else "last scan:   never"
    )
    print(
        f"last build:  {built['at']}: {built['written']} written, {built['removed']} removed"
        if built
        else "last build:  never"
    )
    print(f"posts:       {info['posts']}")
    print(f"next digest: {local:%a %Y-%m-%d %H:%M %Z}")
    print(
        f"last issue:  {issue['issue']} ({issue['created_at'][:10]}): {issue['sent']} sent,"
        f" {issue['queued']} queued, {issue['deferred']} deferred, {issue['failed']} failed"
        if issue
        else "last issue:  none yet"
    )
    print(f"problems:    {len(info['problems'])}")
    for p in info["problems"]:
        print(f"  {p['severity']:7} {p['file']}: {p['reason']}")
    return Exit.OK


VERBS: dict[str, Callable[[Context, argparse.Namespace], int]] = {
    "check": cmd_check,
    "run": cmd_run,
    "worker": cmd_worker,
    "serve": cmd_serve,
    "status": cmd_status,
    "subscribers": cmd_subscribers,
    "digest": cmd_digest,
    "bounces": cmd_bounces,
    "add": cmd_add,
    "follow": cmd_follow,
}

SITE_HELP = "the site folder (default: .); also accepted after the verb, where it wins"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="postroom", description=__doc__.split("\n\n")[0])
    top.add_argument("--version", action="version", version=f"postroom {__version__}")
    top.add_argument("--site", default=".", metavar="DIR", help=SITE_HELP)
    verbs = top.add_subparsers(dest="verb", required=True)
    init = verbs.add_parser("init", help="make a new site folder")
    init.add_argument("dir")
    check = verbs.add_parser("check", help="list every post and every problem")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    run = verbs.add_parser("run", help="the service: pick up posts, publish, send the digest")
    run.add_argument("--once", action="store_true", help="one pass of every job, then exit")
    run.add_argument(
        "--poll-only", action="store_true", help="no inotify (network mounts): poll the folder"
    )
    run.add_argument(
        "--no-send", action="store_true", help="make and publish issues; `worker`s send them"
    )
    run.add_argument("--log-format", choices=("text", "json"), default="text")
    worker = verbs.add_parser(
        "worker", help="send the digest beside other workers (shared PostgreSQL), until stopped"
    )
    worker.add_argument("--log-format", choices=("text", "json"), default="text")
    serve = verbs.add_parser("serve", help="public/ over HTTP, with subscribe and unsubscribe")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="believe X-Forwarded-For only from this proxy (address or CIDR network; repeat)",
    )
    status = verbs.add_parser("status", help="what the service did last, and what is due")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    digest = verbs.add_parser("digest", help="the weekly email digest")
    digest_actions = digest.add_subparsers(dest="action", required=True)
    preview = digest_actions.add_parser("preview", help="render the next issue, freeze nothing")
    send = digest_actions.add_parser("send", help="make the next issue if none is unfinished; send")
    send.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    send.add_argument("--to", metavar="ADDR", help="send one test copy to ADDR, recorded nowhere")
    issues = digest_actions.add_parser("status", help="per issue: queued, sent, deferred, failed")
    issues.add_argument("--json", action="store_true")
    resume = digest_actions.add_parser(
        "resume", help="go on sending after a pause for too many bounces or complaints"
    )
    bounced = verbs.add_parser(
        "bounces", help="read the bounce mailbox: bounces, complaints, mailto: unsubscribes"
    )
    bounced.add_argument("--json", action="store_true", help="machine-readable output")
    subs = verbs.add_parser("subscribers", help="manage who receives the digest")
    actions = subs.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add one address (active)")
    add.add_argument("address")
    add.add_argument("--name", default="")
    add.add_argument("--topics", action="append", default=[], metavar='"A; B"',
                     help="topics (tags) to follow; repeatable")  # fmt: skip
    add.add_argument("--sources", action="append", default=[], metavar='"X; Y"',
                     help="sources to follow; repeatable")  # fmt: skip
    # checked by the store's parse_cadence, not argparse's choices: one line, exit 2
    add.add_argument("--cadence", default="", metavar="weekly|monthly|off")
    imp = actions.add_parser(
        "import", help="add addresses from a CSV file: address[,name] or a header row"
    )
    imp.add_argument("file")
    exported = actions.add_parser(
        "export", help="everyone, with choices and consent records (JSON unless --csv)"
    )
    form = exported.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="one JSON array (the default)")
    form.add_argument("--csv", action="store_true", help="a CSV row a person")
    shown = actions.add_parser("show", help="everything kept of one address (subject access)")
    shown.add_argument("address")
    shown.add_argument("--json", action="store_true")
    erased = actions.add_parser(
        "erase", help="forget one address everywhere; keep a salted hash so it is not re-added"
    )
    erased.add_argument("address")
    listing = actions.add_parser("list", help="everyone on the list")
    listing.add_argument("--json", action="store_true")
    unsubscribe = actions.add_parser("unsubscribe", help="act on a signed unsubscribe token")
    unsubscribe.add_argument("--token", required=True)
    remove = actions.add_parser("remove", help="delete one address from the list")
    remove.add_argument("address")
    # `postroom check --site S` as well as `postroom --site S check`: unset unless given
    # there, so the top-level one (or its default) stands; given both, the later one wins
    link = verbs.add_parser("add", help="fetch a page and write it into content/ as a post")
    link.add_argument("url")
    link.add_argument("--tag", action="append", default=[], metavar="T", help="a tag (repeat)")
    link.add_argument("--comment", default="", metavar="TEXT", help="your word on it")
    link.add_argument("--dry-run", action="store_true", help="say what was found; write nothing")
    follow = verbs.add_parser("follow", help="the feeds you follow ([[follow]] in postroom.toml)")
    follow_actions = follow.add_subparsers(dest="action", required=True)
    follows = follow_actions.add_parser("list", help="each feed: last fetched, last error, next")
    follows.add_argument("--json", action="store_true", help="machine-readable output")
    probe = follow_actions.add_parser("check", help="fetch every feed now; say what it holds")
    probe.add_argument("--json", action="store_true", help="machine-readable output")
    every = (check, run, worker, serve, status, digest, preview, send, issues, subs, bounced, link)
    for verb in (*every, follow):
        verb.add_argument("--site", default=argparse.SUPPRESS, metavar="DIR", help=SITE_HELP)
    every_action = (add, imp, listing, unsubscribe, remove, exported, shown, erased)
    for action in (*every_action, resume, follows, probe):
        action.add_argument("--site", default=argparse.SUPPRESS, metavar="DIR", help=SITE_HELP)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Every way a command can end becomes an exit code and at most one line on stderr:
    never a traceback (POSTROOM_TRACEBACK=1 lets an unexpected one through, to report)."""
    args = parser().parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # the service, a worker, serve: their own
        signal.signal(signum, _stop_by_signal)
    try:
        with _collector_for(args):
            code = _dispatch(args)
        sys.stdout.flush()  # a reader gone (`| head`) is found here, not at exit
        return code
    except Reload:
        return _reexec()
    except KeyboardInterrupt:
        say("interrupted")
        return Exit.INTERRUPTED
    except Stopped as stop:
        say(f"stopped by {stop.signal.name}")
        return 128 + stop.signal
    except BrokenPipeError:
        _drop_stdout()
        return Exit.BROKEN_PIPE
    except (ConfigError, Refused, ClockError) as exc:
        say(str(exc))
        return Exit.USAGE
    except DatabaseTrouble as exc:
        say(str(exc))
        return Exit.FAILED
    except OSError as exc:  # a file or folder the command needed
        say(f"{exc.filename or 'a file'}: {exc.strerror or exc}")
        return Exit.FAILED
    except Exception as exc:  # a bug: one line, and how to see where
        if os.environ.get("POSTROOM_TRACEBACK"):
            raise
        from postroom.service.logs import first_line  # lazy: see the imports

        say(f"unexpected error: {first_line(exc)} (POSTROOM_TRACEBACK=1 shows where)")
        return Exit.FAILED


def _collector_for(args: argparse.Namespace) -> AbstractContextManager[None]:
    """`run --once` exits soon, keeping most of what it makes till then: young objects
    are collected rarer (`collector.briefly`); every other command as before."""
    return collector.briefly() if args.verb == "run" and args.once else nullcontext()


def _dispatch(args: argparse.Namespace) -> int:
    """The verb, handed the one Context: the site, its store (closed after) and the clock."""
    clock = clock_from_env()
    if args.verb == "init":
        return cmd_init(args)
    site = open_site(Path(args.site))
    if args.verb == "status" and (code := _peeked_status(site, clock, args)) is not None:
        return code
    if args.verb == "run" and args.once and _cold_start(site):
        from postroom.core import pool  # lazy: see the imports

        pool.start_forkserver_early(POOL_PRELOADS)
        for module in BUILD_MODULES:  # while the scan's workers parse
            pool.meanwhile(functools.partial(importlib.import_module, module))
    from postroom.store import Store, StoreError, database_trouble  # lazy: see the imports

    try:
        store = Store(site.store_url)
    except StoreError as exc:
        raise Refused(str(exc)) from None
    except Exception as exc:
        if why := database_trouble(site.store_url, exc):
            raise DatabaseTrouble(why) from None
        raise
    try:
        return VERBS[args.verb](Context(site, store, clock), args)
    except Exception as exc:
        if why := database_trouble(site.store_url, exc):
            raise DatabaseTrouble(why) from None
        raise
    finally:
        store.close()


#: what a cold `run --once`'s pools run in their workers: the scan's readers and their
#: parsers (content.intake hands them `handback`, content.readers.PARSERS) and the build's
#: renderers with the store they open (feeds.parallel names both to `preload_in_workers`);
#: tests/test_startup.py checks these are every module those pools preload
POOL_PRELOADS = (
    "postroom.content.handback",
    "postroom.content.markdown",
    "postroom.feeds.parallel",
    "postroom.store.database",
)

#: what a cold `run --once` imports after its scan, in its jobs (service.jobs.JOB_MODULES
#: but the fetcher's, which only a site that follows something needs): the build's
#: renderers and the digest's modules, imported while the scan waits for its workers
#: (`pool.meanwhile`); tests/test_startup.py checks the list is whole
BUILD_MODULES = (
    "postroom.feeds",
    "postroom.emails.archive_pages",
    "postroom.emails.issues",
    "postroom.emails.proof",
    "postroom.service.bounces",
    "postroom.service.purge",
)


#: content.intake._PARALLEL_FROM: from this many files to examine, a scan uses workers
COLD_SCAN_FROM = 200


def _cold_start(site: Site) -> bool:
    """Whether this `run --once` is a first one that will start worker processes: a
    SQLite store not made yet, or holding no post, and at least `COLD_SCAN_FROM` files in
    content/ (every one of them for the scan to examine). Then the forkserver is started
    at once (`pool.start_forkserver_early`), in the background. Anything else (a warm
    run, PostgreSQL, a few files, one core) starts it when a pool needs it, as before:
    a warm run with nothing to do must not pay for it. Cheap: a stat, at most one
    read-only query, and a walk that stops at `COLD_SCAN_FROM` files."""
    from postroom.core.pool import cores  # lazy: see the imports
    from postroom.store import peek

    path = peek.sqlite_path(site.store_url)
    if path is None or cores() < 2:
        return False
    if path.is_file():
        reader = peek.open_peek(site.store_url)
        if reader is None:  # an older schema, say: the Store's to migrate; not a first run
            return False
        try:
            with reader:
                if reader.count_posts():
                    return False
        except peek.PeekFailed:
            return False
    return _files_at_least(site.content_dir, COLD_SCAN_FROM)


def _files_at_least(folder: Path, count: int) -> bool:
    """Whether `folder` holds `count` files or more, stopping as soon as it does."""
    found, todo = 0, [folder]
    while todo:
        try:
            entries = os.scandir(todo.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                else:
                    found += 1
                    if found >= count:
                        return True
    return False


def _drop_stdout() -> None:
    """The reader has gone: what is still buffered goes nowhere, and the interpreter's
    last flush at exit finds nothing to complain of."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _stop_by_signal(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def _reexec() -> int:
    """SIGHUP: the same command line again in this process (the pid systemd follows),
    so postroom.toml is read again by everything. If exec fails, a stop systemd restarts.
    SIGHUP stays blocked across the exec (the mask survives it) until the new Service has
    its handler: a second reload meanwhile would otherwise kill the process outright."""
    import logging  # lazy: see the imports

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, *sys.orig_argv[1:]]
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        os.execv(sys.executable, command)
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        say(f"reload: cannot run {' '.join(command)}: {exc.strerror or exc}")
    return Exit.RESTART


if __name__ == "__main__":
    sys.exit(main())
