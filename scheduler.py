"""postroom's command line, and the service that runs a site on a schedule.

    postroom init DIR
    postroom --site DIR check [--json]
    postroom --site DIR run [--once] [--poll-only] [--log-format text|json]
    postroom --site DIR status [--json]
    postroom --site DIR serve [--host 127.0.0.1] [--port 8000]
    postroom --site DIR subscribers add|import|list|remove|unsubscribe
    postroom --site DIR digest preview|send|status

Each verb is a thin shell over the stages: content.intake.scan() fills the
store, feeds.build() writes public/ from it, emails.* make and send issues.
`run` is the service: APScheduler timers over the level-triggered jobs in
service.reconcile, one process per site at a time (a lease in the store).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import IntEnum
from pathlib import Path

from postroom.content.intake import WAITING, ScanReport, scan, shown_name
from postroom.content.readers import attribution_problems
from postroom.core.clock import Clock, ClockError, clock_from_env
from postroom.core.config import (
    ConfigError,
    Site,
    id_authority_advice,
    init_site,
    local_base_url_warning,
    open_site,
)
from postroom.core.model import DateSource, Post, Problem, Severity
from postroom.store import Store, StoreError, database_trouble


class Exit(IntEnum):
    """How a command ends, for shells and for systemd (the unit's RestartPreventExitStatus
    names USAGE: a config error does not mend itself by a restart every 5 s)."""

    OK = 0
    FAILED = 1  # the work failed (a send stopped, a database away): a later try may work
    USAGE = 2  # a bad config, argument or input file: fix it first
    RESTART = 75  # EX_TEMPFAIL: stopped to be started again (a reload that could not re-exec)
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
    BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports `| head` closing early


class Reload(Exception):
    """The service stopped cleanly for a SIGHUP: `main` runs the command again, in this
    process, once the store is closed."""


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
        "body_start": post.body_start,
    }


def _print_problems(problems: Sequence[Problem]) -> None:
    for p in problems:
        print(f"  {p.severity.value:7} {shown_name(p.file)}: {p.reason}")


def _has_errors(problems: Sequence[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)


def cmd_init(args: argparse.Namespace) -> int:
    site = init_site(Path(args.dir))
    print(
        f"made a site in {site.root}: add posts to {site.content_dir}, then run"
        f" 'postroom --site {site.root} run --once'"
    )
    return Exit.OK


def _say(message: str) -> None:
    """One line for the person at the terminal: `postroom: ...` on stderr."""
    print(f"postroom: {message}", file=sys.stderr)


def _scan_here(site: Site, store: Store, now: datetime) -> ScanReport:
    """A command's scan, for the person at the terminal: its progress, and why it waits
    when another scan of the site runs."""
    from postroom.service.progress import Reporter

    with Reporter("scan", "files", _say) as progress:
        return scan(site, store, now, on_wait=lambda: _say(WAITING), progress=progress)


def cmd_check(site: Site, store: Store, args: argparse.Namespace) -> int:
    for warning in filter(None, (local_base_url_warning(site), id_authority_advice(site))):
        _say(f"warning: {warning}")
    report = _scan_here(site, store, args.clock())
    places = store.places()
    # newest first; posts of one date (a listing picked up at once) in the page's order
    posts = sorted(
        store.posts(), key=lambda p: (-p.date.timestamp(), places.get(p.id, ("", 0)), p.id)
    )
    problems = list(report.problems) + [w for p in posts for w in attribution_problems(p)]
    if args.json:
        out = {
            "posts": [post_json(p) for p in posts],
            "problems": [p.as_json() for p in problems],
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
            note = " [date guessed]" if p.date_source is DateSource.TEXT_GUESS else ""
            note = " [no date: picked-up time]" if p.date_source is DateSource.PICKED_UP else note
            print(f"{p.date:%Y-%m-%d} {p.title}{by}{src}{note}")
        print(f"{len(posts)} posts, {len(problems)} problems")
        _print_problems(problems)
    return Exit.FAILED if _has_errors(problems) else Exit.OK


def cmd_run(site: Site, store: Store, args: argparse.Namespace) -> int:
    from postroom.emails.tokens import TokenError, secret_from_env
    from postroom.service import logs
    from postroom.service.reconcile import Reconcilers

    logs.configure(args.log_format)
    _warn_before_first_publish(site, store)
    try:
        secret, no_secret = secret_from_env(), ""
    except TokenError as exc:  # feeds still publish; the digest waits for a usable secret
        secret, no_secret = None, str(exc)
        if not args.once:  # a service may run for weeks before an issue is due: say it now
            logs.event("service", f"the digest cannot be sent: {exc}", logging.WARNING)
    send = not args.no_send
    if not args.once:
        service = Service(site, store, args.clock, secret, poll_only=args.poll_only, send=send)
        code = service.run()
        if service.reload and code == Exit.OK:
            raise Reload
        return code
    from postroom.emails.sending import outstanding

    work = Reconcilers(site, store, args.clock, secret, send=send)
    work.scan()  # a first pass always builds
    work.decide()
    if not send:
        return Exit.OK
    if outstanding(store) and secret is None:
        print(f"postroom: digest not sent: {no_secret}", file=sys.stderr)
        return Exit.USAGE
    reports = work.deliver()
    return Exit.FAILED if any(r.stopped for r in reports) else Exit.OK


def _warn_before_first_publish(site: Site, store: Store) -> None:
    """A site about to publish for the first time with a localhost base_url: its feeds
    and emails would carry links nobody else can follow. A warning, not an error: a
    first try on one's own machine is what the default is for."""
    from postroom.service.logs import event
    from postroom.store.activity import last

    warning = local_base_url_warning(site)
    if warning and last(store, "build") is None:
        event("service", warning, logging.WARNING)


class Service:
    """`postroom run`: the site's jobs on APScheduler timers, for months, under a supervisor.

    Jobs live in APScheduler's memory store and are registered at every start;
    correctness never rests on it (3.x saves a job's next run time before the
    job runs, so a crash loses that run): each job is a reconciler over our own
    store and the first run of each is at start. One process per site holds
    the "scheduler" role (a lease row; on PostgreSQL an advisory lock, so on any
    machine); others stand by and take over when it dies.

    Signals: SIGTERM and SIGINT stop it cleanly (no new work is claimed, running jobs
    finish, the lease is released; exit 0). SIGHUP is a reload (`systemctl reload`):
    postroom.toml is read again first, and if it is bad the service says why and runs on
    with the config it has (a typo must not take the site down). If it is good, the
    service stops exactly as for SIGTERM and then re-executes its own command line
    (`main`, after closing the store), so every part starts from the new config; the
    pid stays, so systemd keeps following it. Re-executing is safe only after a clean
    stop: by then every claimed outbox row was sent or handed back and the lease was
    released. If a job had to be abandoned at the deadline, its rows are still claimed
    by "host:pid", and a new image with the same pid would count them as its own (never
    reclaimed, renewed for ever), so the process exits with Exit.RESTART instead: a
    new pid, which systemd's Restart=on-failure starts, and the rows are resent.
    """

    LEASE = "scheduler"
    STANDBY_SECONDS = 2  # how often a standby asks for the lease
    STOP_SECONDS = 8.5  # a job still running this long after SIGTERM is abandoned

    def __init__(
        self,
        site: Site,
        store: Store,
        clock: Clock,
        secret: bytes | None,
        *,
        poll_only: bool,
        send: bool = True,
    ) -> None:
        from postroom.content.settle import Settle
        from postroom.service.logs import Guard
        from postroom.service.reconcile import Reconcilers
        from postroom.store.leases import role_lease

        self.site, self.clock, self.poll_only = site, clock, poll_only
        self.stop = threading.Event()
        self.reload = False  # a SIGHUP with a good config: stop, then start again
        self._hangup = threading.Event()  # a SIGHUP not yet answered
        self._woken = threading.Event()  # any signal: the main loop looks at once
        self.lease = role_lease(store, self.LEASE)
        self.settle = Settle(site.config.service.quiet_seconds)
        self.work = Reconcilers(site, store, clock, secret, self.stop, self.settle, send)
        self._dirty = threading.Event()  # something changed in the folder since the last scan
        self._lock = threading.Lock()
        self._scanning = False
        self.guard = Guard()  # a failing job is logged once per distinct error
        self.scheduler = self._scheduler()

    def run(self) -> int:
        from postroom.core.clock import OFFSET_ENV
        from postroom.service.logs import event, first_line

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # blocked by a reload
        event("service", f"starting: site {self.site.root.resolve()}, pid {os.getpid()}")
        if os.environ.get(OFFSET_ENV, "").strip():
            now = self.clock().isoformat()
            event("service", f"${OFFSET_ENV} is set: the clock says {now}", logging.WARNING)
        if not self._take_lease():
            event("service", "stopped while standing by")
            return Exit.OK
        self.scheduler.start()
        watcher = None
        try:
            watcher = self._watch()
            code = self._hold_lease()
        except Exception as exc:  # whatever ends the loop, the jobs stop and the lease goes
            event("service", f"failed: {first_line(exc)}", logging.ERROR)
            code = 1
        self.stop.set()
        deadline = time.monotonic() + self.STOP_SECONDS
        event("service", "stopping: no new work is claimed")
        if watcher is not None:
            watcher.stop()
        return self._shut_down(code, deadline)

    def _hold_lease(self) -> int:
        """Renew the scheduler lease until told to stop: 0; 1 if it was lost. A database
        that refuses a renewal for a while is tolerated until the lease could lapse."""
        from postroom.service.logs import event, first_line

        renew = self.lease.ttl.total_seconds() / 3
        renewed = time.monotonic()
        while not self._pause(renew):
            try:
                held = self.lease.acquire(self.clock())
            except Exception as exc:  # a locked database: try again, but not past the TTL
                event("lease", f"renewal failed: {first_line(exc)}", logging.WARNING)
                held = time.monotonic() - renewed < 2 * renew
            else:
                renewed = time.monotonic() if held else renewed
            if not held:
                event("lease", "lost the scheduler lease: stopping", logging.ERROR)
                return Exit.FAILED
        return Exit.OK

    def _take_lease(self) -> bool:
        """True once this process runs the site; False if told to stop while standing by."""
        from postroom.service.logs import event, first_line

        told = None
        while not self.stop.is_set():
            try:
                if self.lease.acquire(self.clock()):
                    holder = self.lease.holder
                    event("lease", f"running the site as {holder}", holder=holder)
                    return True
                holder = self.lease.current_holder(self.clock())
                said = f"standby: {holder or 'another process'} runs this site; taking over"
                said += " when it stops"
            except Exception as exc:  # the database restarting: a standby is needed most then
                holder, said = None, f"standby: the database: {first_line(exc)}; trying again"
            if said != told:
                event("lease", said, holder=holder)
                told = said
            self._pause(self.STANDBY_SECONDS)
        return False

    def _on_signal(self, signum: int, _frame: object) -> None:
        """Only flags: the main loop answers (a SIGHUP reads files and logs, which a
        handler interrupting a log line must not do)."""
        if signum == signal.SIGHUP:
            self._hangup.set()
        else:
            self.stop.set()
        self._woken.set()

    def _pause(self, seconds: float) -> bool:
        """Wait up to `seconds` or until a signal; answer a SIGHUP; True once stopping."""
        self._woken.wait(seconds)
        self._woken.clear()
        if self._hangup.is_set() and not self.stop.is_set():
            self._hangup.clear()
            self._answer_hangup()
        return self.stop.is_set()

    def _answer_hangup(self) -> None:
        """Reload if postroom.toml is usable now; else say why and carry on as before."""
        from postroom.service.logs import event

        try:
            open_site(self.site.root)
        except ConfigError as exc:
            event(
                "service",
                f"SIGHUP: not reloading, the config is refused: {exc};"
                " running on with the config read at start",
                logging.WARNING,
            )
            return
        event("service", "SIGHUP: reloading: stopping cleanly, then starting with the new config")
        self.reload = True
        self.stop.set()

    def _scheduler(self):
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger
        from postroom.core.schedule import WEEKDAYS, parse_schedule

        tz = self.site.config.tz
        scheduler = BackgroundScheduler(
            timezone=tz,
            # scanning and sending each get a thread: a long send never delays a new post
            executors={"default": ThreadPoolExecutor(1), "mail": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        now = datetime.now(tz)
        poll = IntervalTrigger(seconds=self.site.config.service.poll_seconds, timezone=tz)
        scan = self.guard.wrap("scan", self._scan)
        scheduler.add_job(scan, poll, id="scan", name="scan", next_run_time=now)
        weekday, at = parse_schedule(self.site.config.digest.schedule)
        slot = CronTrigger(
            day_of_week=WEEKDAYS[weekday], hour=at.hour, minute=at.minute, timezone=tz
        )
        # The cron job is punctuality; correctness rests on the tick, which runs the same
        # reconciler: retries come due, a slot missed while the machine slept, and drills
        # (POSTROOM_CLOCK_OFFSET moves our clock, not APScheduler's).
        digest = self.guard.wrap("digest", self.work.digest)
        scheduler.add_job(digest, slot, id="digest", executor="mail", next_run_time=now)
        retry = IntervalTrigger(seconds=self.site.config.service.tick_seconds, timezone=tz)
        scheduler.add_job(digest, retry, id="retry", name="retry", executor="mail")
        return scheduler

    def _watch(self):
        """inotify events wake the scan job early; None with --poll-only or no inotify."""
        from postroom.service.logs import event
        from postroom.service.watch import ContentWatcher

        poll = self.site.config.service.poll_seconds
        if self.poll_only:
            event("service", f"polling the content folder every {poll} s (--poll-only)")
            return None
        watcher = ContentWatcher(self.site.content_dir, self._poke)
        try:
            watcher.start()
        except OSError as exc:
            event("service", f"no file events ({exc}): polling every {poll} s", logging.WARNING)
            return None
        event("service", f"watching the content folder, and polling every {poll} s")
        return watcher

    def _poke(self) -> None:
        """A file event: the running scan goes round again, or the scan job runs now."""
        self._dirty.set()
        with self._lock:
            if self._scanning:
                return
        self._wake_scan(0)

    def _wake_scan(self, delay: float) -> None:
        from apscheduler.jobstores.base import JobLookupError

        if self.stop.is_set():  # shutting down: the scheduler may hold its lock for long
            return
        try:
            moment = datetime.now(self.site.config.tz) + timedelta(seconds=delay)
            self.scheduler.modify_job("scan", next_run_time=moment)
        except JobLookupError:  # shut down meanwhile
            pass

    def _scan(self) -> None:
        """The scan job: scan; while events keep coming or a file is settling, scan again
        (bounded, so a file written forever cannot hold the job)."""
        with self._lock:
            self._scanning = True
        try:
            for _ in range(20):
                self._dirty.clear()
                self.work.scan()
                wait = self.settle.next_look()
                if self.stop.is_set() or (wait is None and not self._dirty.is_set()):
                    return
                self._dirty.wait(wait)  # a new event cuts the wait short
        finally:
            with self._lock:
                self._scanning = False
            if self._dirty.is_set() and not self.stop.is_set():  # an event after the last look
                self._wake_scan(0.1)  # once this run has returned

    def _shut_down(self, code: int, deadline: float) -> int:
        """Let running jobs finish (a sender finishes or releases its message) until the
        deadline; a job still running then is abandoned, and the rows it had in flight
        are resent, with the same Message-ID, by the next process."""
        from postroom.service.logs import event, first_line

        closing = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True})
        closing.daemon = True
        closing.start()
        closing.join(max(0.0, deadline - time.monotonic()))
        if closing.is_alive():  # its lease lapses with this process (holder_gone)
            if self.reload:  # no re-exec with rows claimed under this pid: see the class
                code = Exit.RESTART
            event("service", "a job did not stop in time: leaving it", logging.WARNING, code=code)
            logging.shutdown()
            os._exit(code)
        try:
            self.lease.release()
        except Exception as exc:  # the database is away: the lease lapses (or the lock goes)
            event("lease", f"not released: {first_line(exc)}", logging.WARNING)
        event("service", "stopped", code=code)
        return code


def cmd_worker(site: Site, store: Store, args: argparse.Namespace) -> int:
    """A sender only: drains every released issue with the others, until SIGTERM."""
    from postroom.emails.tokens import TokenError, secret_from_env
    from postroom.service import logs
    from postroom.service.worker import Worker

    logs.configure(args.log_format)
    try:
        secret = secret_from_env()
    except TokenError as exc:  # a worker exists to send: without the secret it cannot
        print(f"postroom: {exc}", file=sys.stderr)
        return Exit.USAGE
    return Worker(site, store, args.clock, secret).run()


def cmd_serve(site: Site, store: Store, args: argparse.Namespace) -> int:
    """public/ and the subscribe, confirm and unsubscribe pages, until Ctrl-C or SIGTERM.
    Timeouts, the connection limit and whose X-Forwarded-For counts: web.server."""
    import uvicorn
    from postroom.emails.tokens import TokenError, secret_from_env
    from postroom.emails.transports import transport_for
    from postroom.web.app import create_app
    from postroom.web.server import Listen, proxy_network, server_config

    try:
        proxies = tuple(proxy_network(text) for text in args.trusted_proxy)
    except ValueError as exc:
        print(f"postroom: --trusted-proxy: {exc}", file=sys.stderr)
        return Exit.USAGE
    try:
        secret = secret_from_env()  # the forms' links are signed with it
    except TokenError as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        return Exit.USAGE
    if os.environ.get("FORWARDED_ALLOW_IPS"):
        print("postroom: FORWARDED_ALLOW_IPS is ignored: use --trusted-proxy", file=sys.stderr)
    app = create_app(site, store, secret, transport_for(site), args.clock)
    print(f"serving {site.public_dir} at http://{args.host}:{args.port}/ (links: {site.base_url})")
    trusted = ", ".join(map(str, proxies)) or "no one (see --trusted-proxy)"
    print(f"X-Forwarded-For trusted from: {trusted}")
    uvicorn.Server(server_config(app, Listen(args.host, args.port, proxies))).run()
    return Exit.OK


def cmd_subscribers(site: Site, store: Store, args: argparse.Namespace) -> int:
    from postroom.emails.tokens import TokenError, read_token, secret_from_env
    from postroom.store.subscribers import AddressError, Status, SubscriberList

    book = SubscriberList(store)
    try:
        if args.action == "add":
            new = book.add(args.address, args.name)
            print(f"{'added' if new else 'already subscribed (name updated)'}: {args.address}")
        elif args.action == "remove":
            if not book.remove(args.address):
                print(f"not on the list: {args.address}", file=sys.stderr)
                return Exit.FAILED
            print(f"removed: {args.address}")
        elif args.action == "unsubscribe":
            address = read_token(secret_from_env(), args.token, "unsubscribe")
            if not book.set_status(address, Status.UNSUBSCRIBED):
                print(f"not on the list (nothing to do): {address}")
                return Exit.OK
            print(f"unsubscribed: {address}")
        elif args.action == "import":
            try:
                report = book.import_csv(Path(args.file))
            except OSError as exc:  # missing, a folder, unreadable
                _say(f"{args.file}: cannot be read: {exc.strerror or exc}")
                return Exit.USAGE
            for line, reason in report.warnings:
                print(f"{args.file}:{line}: warning: {reason}", file=sys.stderr)
            for line, reason in report.errors:
                print(f"{args.file}:{line}: {reason}", file=sys.stderr)
            print(
                f"{report.added} added, {report.merged} already there, {len(report.errors)} refused"
            )
            return Exit.FAILED if report.errors else Exit.OK
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
        return Exit.USAGE
    return Exit.OK


def cmd_digest(site: Site, store: Store, args: argparse.Namespace) -> int:
    from postroom.emails.tokens import TokenError

    actions = {"preview": _digest_preview, "send": _digest_send, "status": _digest_status}
    try:
        return actions[args.action](site, store, args)
    except TokenError as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        return Exit.USAGE


def _digest_preview(site: Site, store: Store, args: argparse.Namespace) -> int:
    from postroom.emails.issues import pending_posts
    from postroom.emails.render import render_digest
    from postroom.feeds.writer import write_atomic

    _scan_here(site, store, args.clock())
    posts = pending_posts(store, args.clock())
    rendered = render_digest(site, None, posts)
    folder = site.root / "preview"
    for name, body in (("digest.html", rendered.html), ("digest.txt", rendered.text)):
        write_atomic(folder / name, body.encode())
        print(folder / name)
    print(f"{len(posts)} posts would go in the next issue: {rendered.subject}", file=sys.stderr)
    return Exit.OK


def _send_test_copy(site: Site, store: Store, address: str, now: datetime) -> int:
    """--to: the unfinished issue (or the next one, unfrozen) to one address, recorded nowhere."""
    from dataclasses import replace

    from postroom.emails.issues import Issue, all_issues, issue_by_number, pending_posts
    from postroom.emails.message import IssueMessage, Recipient
    from postroom.emails.render import render_digest
    from postroom.emails.sending import outstanding
    from postroom.emails.tokens import secret_from_env
    from postroom.emails.transports import transport_for
    from postroom.store.subscribers import normalize_address

    owed = outstanding(store)
    issue = issue_by_number(store, owed[0].issue) if owed else None
    if issue is None and (posts := pending_posts(store, now)):
        rendered = render_digest(site, None, posts)
        stamp = now.isoformat()
        issue = Issue(0, stamp, stamp, rendered.subject, rendered.html, rendered.text, ())
    issue = issue or next(reversed(all_issues(store)), None)
    if issue is None:
        print("postroom: no posts and no issues yet: nothing to send", file=sys.stderr)
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


def _digest_send(site: Site, store: Store, args: argparse.Namespace) -> int:
    from postroom.emails.issues import create_issue, pending_posts
    from postroom.emails.sending import outstanding
    from postroom.emails.tokens import secret_from_env
    from postroom.emails.transports import Rejected, Unreachable
    from postroom.service.reconcile import publish
    from postroom.store.subscribers import AddressError

    _scan_here(site, store, args.clock())
    if args.to:
        try:
            return _send_test_copy(site, store, args.to, args.clock())
        except (AddressError, Rejected, Unreachable) as exc:
            print(f"postroom: test copy not sent: {exc}", file=sys.stderr)
            return Exit.FAILED
    now = args.clock()
    owed = outstanding(store)
    if args.dry_run:
        for o in owed:
            print(f"issue {o.issue}: {o.to_send} messages still to send")
        if not owed:
            posts = pending_posts(store, now)
            print(f"no unfinished issue; a new one would hold {len(posts)} posts")
        return Exit.OK
    secret = secret_from_env()  # before freezing anything: an issue nobody can unsubscribe from
    if not owed:
        issue = create_issue(site, store, now, now)
        if issue is None:
            print("nothing new since the last issue: no issue made")
            return Exit.OK
        print(f"issue {issue.number} made: {issue.subject} ({len(issue.post_ids)} posts)")
    # every owed issue's "view in browser" page before any email: this releases an issue
    # made here, or one whose earlier publish failed (it would otherwise never be mailed)
    publish(site, store, now)
    return _deliver_with_progress(site, store, secret, args.clock)


def _deliver_with_progress(site: Site, store: Store, secret: bytes, clock: Clock) -> int:
    """Send every unfinished issue, with a progress bar on a terminal and a summary at the
    end; 1 if sending stopped early (server unreachable)."""
    from postroom.core.process import this_process
    from postroom.emails.outbox import Outbox
    from postroom.emails.sending import outstanding, send_unfinished
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

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
            site,
            store,
            secret,
            clock=clock,
            start=lambda n, total: tasks.append(bar.add_task(f"issue {n}", total=total)),
            on_outcome=lambda _state: bar.advance(tasks[-1]),
        )
    for r in reports:
        print(r.summary())
        if r.stopped:
            print(f"postroom: sending stopped: {r.stopped}", file=sys.stderr)
    outbox = Outbox(store, this_process())
    for owed in outstanding(store):  # deferred rows not due yet: a later run sends them
        retry = outbox.next_retry(owed.issue) or "the next run"
        print(f"issue {owed.issue}: {owed.to_send} still to send, next try {retry}")
    return Exit.FAILED if any(r.stopped for r in reports) else Exit.OK


def issue_status_json(store: Store) -> list[dict]:
    """`digest status --json`: one object per issue; these field names are a contract."""
    from postroom.core.process import this_process
    from postroom.emails.issues import all_issues
    from postroom.emails.outbox import Outbox, State

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
        return Exit.OK
    for r in rows:
        retry = f", next retry {r['next_retry']}" if r["next_retry"] else ""
        print(
            f"issue {r['issue']} ({r['created_at'][:10]}, {r['posts']} posts):"
            f" {r['queued']} queued, {r['sent']} sent, {r['deferred']} deferred,"
            f" {r['failed']} failed, {r['skipped']} skipped{retry}  {r['subject']}"
        )
    if not rows:
        print("no issues yet")
    return Exit.OK


def status_json(site: Site, store: Store, now: datetime) -> dict:
    """`status --json`: what the service did last and what is due; a contract."""
    from postroom.core.schedule import next_slot
    from postroom.store.activity import last
    from postroom.store.leases import role_lease

    scanned, built = last(store, "scan"), last(store, "build")
    issues = issue_status_json(store)
    build_problems = built.data.get("problems", []) if built else []
    config = site.config
    return {
        "last_scan": {"at": scanned.at, **scanned.data} if scanned else None,
        "last_build": (
            {"at": built.at, **{k: v for k, v in built.data.items() if k != "problems"}}
            if built
            else None
        ),
        "posts": store.count_posts(),
        "next_digest": next_slot(config.digest.schedule, config.tz, now).isoformat(),
        "last_issue": issues[-1] if issues else None,
        "problems": _unique([p.as_json() for p in store.problems()] + build_problems),
        "scheduler": role_lease(store, Service.LEASE).current_holder(now),
    }


def _unique(problems: list[dict]) -> list[dict]:
    """A file the scan and the build both complain of, for the same reason, is listed once."""
    seen: dict[tuple[str, str], dict] = {}
    for p in problems:
        seen.setdefault((p["file"], p["reason"]), p)
    return list(seen.values())


def cmd_status(site: Site, store: Store, args: argparse.Namespace) -> int:
    info = status_json(site, store, args.clock())
    if args.json:
        json.dump(info, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return Exit.OK
    scanned, built, issue = info["last_scan"], info["last_build"], info["last_issue"]
    local = datetime.fromisoformat(info["next_digest"]).astimezone(site.config.tz)
    print(f"scheduler:   {info['scheduler'] or 'not running'}")
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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="postroom", description=__doc__.split("\n\n")[0])
    top.add_argument("--site", default=".", help="the site folder (default: .)")
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
    digest_actions.add_parser("preview", help="render the next issue to files, freeze nothing")
    send = digest_actions.add_parser("send", help="make the next issue if none is unfinished; send")
    send.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    send.add_argument("--to", metavar="ADDR", help="send one test copy to ADDR, recorded nowhere")
    issues = digest_actions.add_parser("status", help="per issue: queued, sent, deferred, failed")
    issues.add_argument("--json", action="store_true")
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
    """Every way a command can end becomes an exit code and at most one line on stderr:
    never a traceback (POSTROOM_TRACEBACK=1 lets an unexpected one through, to report)."""
    args = parser().parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # the service, a worker, serve: their own
        signal.signal(signum, _stop_by_signal)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a reader gone (`| head`) is found here, not at exit
        return code
    except Reload:
        return _reexec()
    except KeyboardInterrupt:
        _say("interrupted")
        return Exit.INTERRUPTED
    except Stopped as stop:
        _say(f"stopped by {stop.signal.name}")
        return 128 + stop.signal
    except BrokenPipeError:
        _drop_stdout()
        return Exit.BROKEN_PIPE
    except (ConfigError, StoreError, ClockError) as exc:
        _say(str(exc))
        return Exit.USAGE
    except DatabaseTrouble as exc:
        _say(str(exc))
        return Exit.FAILED
    except OSError as exc:  # a file or folder the command needed
        _say(f"{exc.filename or 'a file'}: {exc.strerror or exc}")
        return Exit.FAILED
    except Exception as exc:  # a bug: one line, and how to see where
        if os.environ.get("POSTROOM_TRACEBACK"):
            raise
        from postroom.service.logs import first_line

        _say(f"unexpected error: {first_line(exc)} (POSTROOM_TRACEBACK=1 shows where)")
        return Exit.FAILED


class DatabaseTrouble(Exception):
    """The store could not be opened or used: a corrupt file, a server away."""


def _dispatch(args: argparse.Namespace) -> int:
    args.clock = clock_from_env()
    if args.verb == "init":
        return cmd_init(args)
    site = open_site(Path(args.site))
    try:
        store = Store(site.store_url)
    except Exception as exc:
        if why := database_trouble(site.store_url, exc):
            raise DatabaseTrouble(why) from None
        raise
    try:
        verbs = {
            "check": cmd_check,
            "run": cmd_run,
            "status": cmd_status,
            "serve": cmd_serve,
            "worker": cmd_worker,
            "subscribers": cmd_subscribers,
            "digest": cmd_digest,
        }
        return verbs[args.verb](site, store, args)
    except Exception as exc:
        if why := database_trouble(site.store_url, exc):
            raise DatabaseTrouble(why) from None
        raise
    finally:
        store.close()


def _drop_stdout() -> None:
    """The reader has gone: what is still buffered goes nowhere, and the interpreter's
    last flush at exit finds nothing to complain of."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class Stopped(BaseException):
    """SIGTERM or SIGHUP to a short command (`check`, `run --once`, `digest send`): raised
    like Ctrl-C's KeyboardInterrupt, so the same clean-up runs (a cold scan's worker
    processes stopped, not left behind by a parent killed outright)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signal = signal.Signals(signum)


def _stop_by_signal(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def _reexec() -> int:
    """SIGHUP: the same command line again in this process (the pid systemd follows),
    so postroom.toml is read again by everything. If exec fails, a stop systemd restarts.
    SIGHUP stays blocked across the exec (the mask survives it) until the new Service has
    its handler: a second reload meanwhile would otherwise kill the process outright."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, *sys.orig_argv[1:]]
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        os.execv(sys.executable, command)
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        _say(f"reload: cannot run {' '.join(command)}: {exc.strerror or exc}")
    return Exit.RESTART


if __name__ == "__main__":
    sys.exit(main())
