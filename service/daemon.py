"""`postroom run`: the daemon that runs a site's jobs on timers, one process per site.

It holds the site's "service" lease, runs the jobs of service.jobs on APScheduler's
timers (woken early by inotify through service.watch), answers SIGTERM, SIGINT and
SIGHUP, and stops cleanly. After a reload's clean stop the command line runs its own
command again (scheduler.py's `_reexec`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from postroom.content.intake import ScanScope
from postroom.content.quiet import QuietPeriod
from postroom.core.clock import OFFSET_ENV
from postroom.core.config import ConfigError, open_site
from postroom.core.schedule import WEEKDAYS, parse_schedule
from postroom.emails.mailbox import configured
from postroom.service.command import Context, Exit
from postroom.service.heap import Heap
from postroom.service.jobs import Jobs, import_job_modules
from postroom.service.logs import Guard, event, first_line
from postroom.service.wakeup import SignalWakeup
from postroom.service.watch import Changes, ContentWatcher
from postroom.store.leases import role_lease


class Service:
    """`postroom run`: the site's jobs on APScheduler timers, for months, under a supervisor.

    Jobs live in APScheduler's memory store and are registered at every start;
    correctness never rests on it (3.x saves a job's next run time before the
    job runs, so a crash loses that run): each job (service.jobs) is level-triggered
    over our own store and the first run of each is at start. One process per site
    holds the "service" role (a lease row; on PostgreSQL an advisory lock, so on any
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

    LEASE = "service"  # the role's name in the store (`status --json` calls it "scheduler")
    STANDBY_SECONDS = 2  # how often a standby asks for the lease
    STOP_SECONDS = 8.5  # a job still running this long after SIGTERM is abandoned
    FOLLOW_SECONDS = 15.0  # how often the follow job asks what is due

    def __init__(
        self,
        ctx: Context,
        secret: bytes | None,
        *,
        poll_only: bool,
        send: bool = True,
    ) -> None:
        # every job's modules now, in this thread: jobs import theirs where they use them
        # (a `run --once` only what it needs), and two job threads importing the same
        # modules at once can see them half made
        import_job_modules()
        self.site, self.clock, self.poll_only = ctx.site, ctx.clock, poll_only
        self.stop = threading.Event()
        self.reload = False  # a SIGHUP with a good config: stop, then start again
        self._hangup = threading.Event()  # a SIGHUP not yet answered
        self.lease = role_lease(ctx.store, self.LEASE)
        self.quiet = QuietPeriod(ctx.site.config.service.quiet_seconds)
        self.jobs = Jobs(ctx, secret, send=send, stop=self.stop, quiet=self.quiet, heap=Heap())
        self._dirty = threading.Event()  # something changed in the folder since the last scan
        self._lock = threading.Lock()
        self._scanning = False
        self._watcher: ContentWatcher | None = None  # None: polling only
        self._walked_at: float | None = None  # when the last full walk began (monotonic)
        self._sliced_at = 0.0  # when the last slice of the walk began (monotonic)
        self._slice_took = 0.0  # and how long it took
        self._cycle_at = 0.0  # when the last cycle of slices began
        self._held_since: float | None = None  # a due slice put off for a held file
        self._revive_said = ""  # why the watcher could not be started again, said once
        self.guard = Guard()  # a failing job is logged once per distinct error
        self.timetable = self._timetable()

    def run(self) -> int:
        self._wakeup = SignalWakeup()  # before the handlers: no signal goes unseen
        try:
            return self._run()
        finally:
            self._wakeup.close()

    def _run(self) -> int:
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
        self.timetable.start()
        watcher = None
        try:
            watcher = self._watcher = self._watch()
            code = self._hold_lease()
        except Exception as exc:  # whatever ends the loop, the jobs stop and the lease goes
            event("service", f"failed: {first_line(exc)}", logging.ERROR)
            code = Exit.FAILED
        self.stop.set()
        deadline = time.monotonic() + self.STOP_SECONDS
        event("service", "stopping: no new work is claimed")
        if watcher is not None:
            watcher.stop()
        return self._shut_down(code, deadline)

    def _hold_lease(self) -> int:
        """Renew the service lease until told to stop: 0; 1 if it was lost. A database
        that refuses a renewal for a while is tolerated until the lease could lapse."""
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
                event("lease", "lost the service lease: stopping", logging.ERROR)
                return Exit.FAILED
        return Exit.OK

    def _take_lease(self) -> bool:
        """True once this process runs the site; False if told to stop while standing by."""
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
        handler interrupting a log line must not do). Called again by `_pause` for the
        signals the wakeup fd reports, which it may not have been yet."""
        if signum == signal.SIGHUP:
            self._hangup.set()
        elif signum in (signal.SIGTERM, signal.SIGINT):
            self.stop.set()

    def _pause(self, seconds: float) -> bool:
        """Wait up to `seconds` or until a signal; answer a SIGHUP; True once stopping."""
        for signum in self._wakeup.wait(seconds):
            self._on_signal(signum, None)
        if self._hangup.is_set() and not self.stop.is_set():
            self._hangup.clear()
            self._answer_hangup()
        return self.stop.is_set()

    def _answer_hangup(self) -> None:
        """Reload if postroom.toml is usable now; else say why and carry on as before."""
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

    def _timetable(self) -> BackgroundScheduler:
        """The jobs on APScheduler's timers (not started yet)."""
        tz = self.site.config.tz
        timetable = BackgroundScheduler(
            timezone=tz,
            # scanning and sending each get a thread: a long send never delays a new post
            executors={
                "default": ThreadPoolExecutor(1),
                "mail": ThreadPoolExecutor(1),
                "bounces": ThreadPoolExecutor(1),
                "follow": ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        now = datetime.now(tz)
        poll = IntervalTrigger(seconds=self.site.config.service.poll_seconds, timezone=tz)
        scan = self.guard.wrap("scan", self._scan)
        timetable.add_job(scan, poll, id="scan", name="scan", next_run_time=now)
        weekday, at = parse_schedule(self.site.config.digest.schedule)
        slot = CronTrigger(
            day_of_week=WEEKDAYS[weekday], hour=at.hour, minute=at.minute, timezone=tz
        )
        # The cron job is punctuality; correctness rests on the tick, which runs the same
        # job: retries come due, a slot missed while the machine slept, and drills
        # (POSTROOM_CLOCK_OFFSET moves our clock, not APScheduler's).
        digest = self.guard.wrap("digest", self.jobs.digest)
        timetable.add_job(digest, slot, id="digest", executor="mail", next_run_time=now)
        retry = IntervalTrigger(seconds=self.site.config.service.tick_seconds, timezone=tz)
        timetable.add_job(digest, retry, id="retry", name="retry", executor="mail")
        # its own thread: a slow feed never delays a scan or a send
        every = IntervalTrigger(seconds=self._follow_seconds(), timezone=tz)
        follow = self.guard.wrap("follow", self.jobs.follow)
        timetable.add_job(follow, every, id="follow", executor="follow", next_run_time=now)
        if configured(self.site.config.bounces):  # its own thread: an IMAP server may be slow
            every = IntervalTrigger(seconds=self.site.config.bounces.poll_seconds, timezone=tz)
            bounces = self.guard.wrap("bounces", self.jobs.bounces)
            timetable.add_job(bounces, every, id="bounces", executor="bounces", next_run_time=now)
        return timetable

    def _follow_seconds(self) -> float:
        """How often the follow job looks for what is due: 15 s (a dropped links file is
        fetched within that), sooner for a feed polled more often than that (a test's)."""
        polls = [f.poll_minutes * 60 for f in self.site.config.follow]
        return max(1.0, min([self.FOLLOW_SECONDS, *polls]))

    def _watch(self) -> ContentWatcher | None:
        """inotify events wake the scan job early; None with --poll-only or no inotify."""
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
        event(
            "service",
            f"watching the content folder; a walk of it in slices, a cycle every {poll} s"
            f" at most, and at most {self.WALK_SHARE:.0%} of the time",
        )
        return watcher

    def _poke(self) -> None:
        """A file event: the running scan goes round again, or the scan job runs now."""
        self._dirty.set()
        with self._lock:
            if self._scanning:
                return
        self._wake_scan(0)

    def _wake_scan(self, delay: float) -> None:
        if self.stop.is_set():  # shutting down: the timetable may hold its lock for long
            return
        try:
            moment = datetime.now(self.site.config.tz) + timedelta(seconds=delay)
            self.timetable.modify_job("scan", next_run_time=moment)
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
                self._scan_once()
                wait = self.quiet.next_look()
                if self.stop.is_set() or (wait is None and not self._dirty.is_set()):
                    return
                self._dirty.wait(wait)  # a new event cuts the wait short
        finally:
            with self._lock:
                self._scanning = False
            if self._dirty.is_set() and not self.stop.is_set():  # an event after the last look
                self._wake_scan(0.1)  # once this run has returned

    def _scan_once(self) -> None:
        """What the watcher saw change, and what the quiet period still holds, scanned by
        path at once (a delta scan); then, when one is due, a slice of the safety net's
        walk (service.slices), so an event waits for one slice at most, never for a walk
        of everything. With --poll-only, no inotify, a watcher that died or a queue that
        overflowed, a full walk every poll_seconds, as it always was."""
        watcher = self._watcher
        if watcher is not None and self._revive(watcher):
            event("service", "the content folder is back: watching it again")
        changes = watcher.take() if watcher is not None else Changes(everything=True)
        held = self.quiet.held()
        if not changes.everything and (changes or held):
            began = time.monotonic()
            try:
                report = self.jobs.scan(ScanScope(changes.files | held, changes.folders))
            except BaseException:
                if watcher is not None:  # looked at again by the next scan, by path
                    watcher.put_back(changes)
                raise
            if report.walked:  # the delta could not judge it: that was a full walk
                self._walked_at = began
                return
        if changes.everything or self._walked_at is None:
            self._walked_at = time.monotonic()
            self.jobs.scan()
        elif self._slice_due():
            began = self._sliced_at = time.monotonic()
            if not self.jobs.slices.cycling:
                self._cycle_at = began
            self.jobs.walk_slice()
            self._slice_took = time.monotonic() - began

    def _revive(self, watcher: ContentWatcher) -> bool:
        """A watcher whose folder went and came back (`git clone` over it, a restore) is
        started again, not left dead with a full walk at every scan until a restart."""
        try:
            return watcher.revive()
        except OSError as exc:  # inotify limits: walks go on, and the next scan tries again
            said = f"watching the content folder again failed: {exc}"
            if said != self._revive_said:  # once, not at every scan
                event("service", said, logging.WARNING)
            self._revive_said = said
            return False

    WALK_SHARE = 0.1  # at most this share of the time in the walk, with a healthy watcher
    HOLD_MAX = 10.0  # seconds a due slice waits for held files (one written for ever)

    def _slice_due(self) -> bool:
        """The next slice is due once the last would have taken WALK_SHARE of the time,
        and a new cycle no sooner than poll_seconds after the last began. Not while the
        quiet period holds a file (a new post, read within the second): the slice would
        delay it, unless it has waited HOLD_MAX already."""
        now = time.monotonic()
        if now - self._sliced_at < self._slice_took / self.WALK_SHARE:
            return False
        poll = self.site.config.service.poll_seconds
        if not self.jobs.slices.cycling and now - self._cycle_at < poll:
            return False
        if not self.quiet.held():
            self._held_since = None
            return True
        self._held_since = self._held_since or now
        return now - self._held_since >= self.HOLD_MAX

    def _shut_down(self, code: int, deadline: float) -> int:
        """Let running jobs finish (a sender finishes or releases its message) until the
        deadline; a job still running then is abandoned, and the rows it had in flight
        are resent, with the same Message-ID, by the next process."""
        closing = threading.Thread(target=self.timetable.shutdown, kwargs={"wait": True})
        closing.daemon = True
        closing.start()
        closing.join(max(0.0, deadline - time.monotonic()))
        if closing.is_alive():  # its lease lapses with this process (holder_gone)
            if self.reload:  # no re-exec with rows claimed under this pid: see the class
                code = Exit.RESTART
            event("service", "a job did not stop in time: leaving it", logging.WARNING, code=code)
            logging.shutdown()
            os._exit(code)
        try:  # what the WebSub hub is still owed, recorded for the next process
            self.jobs.settle_pings(0)
        except Exception as exc:  # the database away: the 2 s records lose seconds at most
            event("websub", f"owed feeds not recorded: {first_line(exc)}", logging.WARNING)
        try:
            self.lease.release()
        except Exception as exc:  # the database is away: the lease lapses (or the lock goes)
            event("lease", f"not released: {first_line(exc)}", logging.WARNING)
        event("service", "stopped", code=code)
        return code
