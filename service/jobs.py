"""The service's jobs: each brings public/ and the digest up to date with the store,
whatever ran before.

Level-triggered, not edge-triggered: a job looks at the content folder, the
digest slots and the delivery ledger as they are now and does what is missing.
Running one twice, late, after a crash or in a process that has just taken
over from a dead one is safe, and a missed timer is repaired by the next one.
The daemon (service.daemon) runs them on timers; `run --once` runs each once.

    scan     the folder against the store; rebuild public/ when a post changed, or when
             files a build wrote have gone (public/ deleted, a page removed by hand)
    digest   the issue of the latest due slot exists, the coming slot's proof has gone to
             the curator (emails.proof), the curator knows of a slot that passed with no
             issue, and everything any issue owes is sent
    bounces  the bounce mailbox is read (with [bounces] set): service.bounces
    follow   followed feeds and listed links that are due are fetched, and their new
             articles written into content/ for the scan to publish: service.follow
    purge    sign-ups never confirmed are deleted once their confirmation link has
             expired (run by the digest job, at most every PURGE_EVERY seconds)
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from postroom.content.intake import WAITING, ScanReport, ScanScope, scan
from postroom.content.quiet import QuietPeriod
from postroom.core.clock import Clock
from postroom.core.config import Site, local_base_url_warning
from postroom.core.model import Problem
from postroom.service.command import Context
from postroom.service.logs import event, first_line
from postroom.service.progress import Reporter
from postroom.service.slices import SliceWalk, Walk
from postroom.store.activity import first, last, record

# Only what a scan needs is imported above: a cold `run --once` starts its scan's
# workers as soon as it can, and the build's renderers (feeds: Jinja2, feedgen), the
# digest's and the sender's modules, and the fetcher's (httpx, trafilatura: only for
# [[follow]] and links files) would hold that up by 0.3-0.5 s. Each is imported in the
# job that uses it, once a run (never in a loop over posts or messages);
# tests/test_startup.py checks a `run --once` with nothing to follow never loads the
# fetcher's. The names below are for annotations only.
if TYPE_CHECKING:
    from postroom.emails.delivery import SendReport
    from postroom.emails.issues import SlotDecision
    from postroom.emails.message import Envelope
    from postroom.feeds import ArchivedIssue, BuildCache, BuildReport
    from postroom.service.fetching import Fetcher
    from postroom.service.heap import Heap
    from postroom.service.websub import Pinger
    from postroom.store import Store
    from postroom.store.digests import Issue
    from postroom.store.outbox import State

#: every module a job imports where it uses it (tests/test_startup.py checks the list
#: against the imports in this module's functions)
JOB_MODULES = (
    "postroom.content.linkfiles",
    "postroom.emails.archive_pages",
    "postroom.emails.issues",
    "postroom.emails.proof",
    "postroom.emails.sending",
    "postroom.emails.transports",
    "postroom.feeds",
    "postroom.feeds.writer",
    "postroom.service.bounces",
    "postroom.service.fetching",
    "postroom.service.follow",
    "postroom.service.listed",
    "postroom.service.purge",
    "postroom.service.websub",
    "postroom.store.digests",
    "postroom.store.fetched",
)


def import_job_modules() -> None:
    """The service's, before its job threads start: every module of `JOB_MODULES`
    imported now, in one thread, as when they were imported at the top. A process that
    runs for weeks does not count 0.5 s at its start, and no two jobs then import the
    same modules at once from their own threads (the scan's build, the digest's)."""
    for module in JOB_MODULES:
        importlib.import_module(module)


def _wait_said() -> None:
    event("scan", WAITING)


_PROGRESS_EVERY = 5.0  # seconds between delivery progress lines
_RECORD_EVERY = 60.0  # an idle scan is recorded for `status` at most this often
_CHECK_SLICE = 500  # outputs looked at a scan beyond the key files: 10,000 every 20 scans
PURGE_EVERY = 3600.0  # seconds between looks for expired sign-ups: a link lives for days


def publish(
    site: Site, store: Store, now: datetime, cache: BuildCache | None = None
) -> BuildReport:
    """Write public/: feeds and pages of every published post, and the archive of every
    digest issue, then release the issues for sending (their pages now exist); recorded
    for `postroom status`. Incremental (`feeds.build`): only what changed is rendered;
    with a `cache` (the service's), only what changed is read."""
    from postroom.feeds import build  # lazy: see the imports

    made: list[Issue] = []

    def issues() -> list[ArchivedIssue]:
        """Every issue's page, asked for by `build` once the post pages are on their way:
        reading the issues and importing what makes their pages (~0.05 s of a cold run)
        no longer holds the workers up."""
        from postroom.emails.archive_pages import archived_issues
        from postroom.store.digests import all_issues

        made.extend(all_issues(store))
        posts = store.posts_by_id(post_id for issue in made for post_id in issue.post_ids)
        # a page follows the republishing rules as they are now: made again from the posts
        # when one was narrowed or withdrawn since its issue was sent (the email stays as
        # sent)
        return archived_issues(site, made, posts)

    with Reporter("build", "post pages", lambda line: event("build", line)) as progress:
        since = first(store, "first_build", now)  # stable: rebuilds stay byte-identical
        built = build(site, store, issues, progress, since, cache=cache)
    from postroom.store.digests import release

    release(store, [i.number for i in made if not i.released], now)
    record(
        store,
        "build",
        now,
        {
            "written": len(built.written),
            "unchanged": built.unchanged,
            "removed": len(built.removed),
            "problems": [p.as_json() for p in built.problems],
        },
    )
    return built


@dataclass
class _Progress:
    """Delivery progress as log lines, a few seconds apart, never one per message."""

    issue: int = 0
    total: int = 0
    done: int = 0
    last: float = field(default_factory=time.monotonic)

    def start(self, issue: int, total: int) -> None:
        self.issue, self.total, self.done, self.last = issue, total, 0, time.monotonic()
        event("send", f"issue {issue}: {total} messages to send", issue=issue, total=total)

    def advance(self, _state: State) -> None:
        self.done += 1
        if time.monotonic() - self.last >= _PROGRESS_EVERY:
            self.last = time.monotonic()
            event(
                "send",
                f"issue {self.issue}: {self.done}/{self.total} done",
                issue=self.issue,
                done=self.done,
                total=self.total,
            )


def warn_before_first_publish(site: Site, store: Store) -> None:
    """A site about to publish for the first time with a localhost base_url: its feeds
    and emails would carry links nobody else can follow. A warning, not an error: a
    first try on one's own machine is what the default is for."""
    warning = local_base_url_warning(site)
    if warning and last(store, "build") is None:
        event("service", warning, logging.WARNING)


class PauseNotice:
    """Sending paused (an issue's bounces or complaints passed their limit) is said once
    per pause, not at every tick until `digest resume`: a log to read, not a flood."""

    def __init__(self) -> None:
        self._said = ""

    def first(self, why: str) -> bool:
        """Whether `why` is news: True once for each pause (and again after another)."""
        news, self._said = why != self._said, why
        return news

    def lifted(self) -> None:
        self._said = ""


def send_logged(
    site: Site,
    store: Store,
    secret: bytes,
    clock: Clock,
    stop: threading.Event,
    pauses: PauseNotice | None = None,
) -> list[SendReport]:
    """Send whatever any released issue owes now, with progress and a summary in the log
    (the service's digest job and every `postroom worker`); a pause said once (`pauses`)."""
    from postroom.emails.sending import send_unfinished  # lazy: see the imports

    progress = _Progress()
    reports = send_unfinished(
        site,
        store,
        secret,
        clock=clock,
        stop=stop,
        start=progress.start,
        on_outcome=progress.advance,
    )
    pauses = pauses or PauseNotice()
    for r in reports:
        idle = r.stopped and not any(r.counts()[k] for k in ("sent", "deferred", "failed"))
        if idle and not pauses.first(r.stopped):
            continue  # still paused, as said before: nothing was tried
        for warning in r.warnings:
            event("send", warning, logging.WARNING, issue=r.issue)
        event("send", r.summary(), **r.counts())
        for address, reason in r.failures:
            event("send", f"failed: {address}: {reason}", logging.WARNING, issue=r.issue)
        if r.stopped:
            event("send", f"sending stopped: {r.stopped}", logging.ERROR, issue=r.issue)
    if not any(r.stopped for r in reports):
        pauses.lifted()
    return reports


class _OutputCheck:
    """Whether the files of the last build are still in public/, cheaply enough for every
    scan of a site of 10,000 posts: the manifest and the top-level files (the index and
    the site feeds) each time, and a rotating slice of the rest, so every file is looked
    at within a few minutes at a cost of a few hundred stats a scan."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.outputs: tuple[str, ...] = ()
        self.always_checked: tuple[str, ...] = ()
        self.cursor = 0

    def built(self, outputs: tuple[str, ...]) -> None:
        from postroom.feeds.writer import MANIFEST  # lazy: see the imports

        self.outputs, self.cursor = outputs, 0
        self.always_checked = (MANIFEST, *(name for name in outputs if "/" not in name))

    def missing(self) -> list[str]:
        """Outputs found gone (none before a first build)."""
        if not self.outputs:
            return []
        from postroom.feeds.writer import missing_outputs  # lazy: see the imports

        gone = missing_outputs(self.root, self.always_checked)
        if not gone:
            end = self.cursor + _CHECK_SLICE
            gone = missing_outputs(self.root, self.outputs[self.cursor : end])
            self.cursor = end if end < len(self.outputs) else 0
        return gone


class Jobs:
    """The jobs of one site, for the service (on timers) and `run --once` (in a row).

    Builds are serialized: the scan job and the digest job (which publishes an
    issue's archive page before its first email) never write public/ at once."""

    def __init__(
        self,
        ctx: Context,
        secret: bytes | None,
        *,
        send: bool = True,
        stop: threading.Event | None = None,
        quiet: QuietPeriod | None = None,
        heap: Heap | None = None,
    ) -> None:
        """`secret` None: nothing is sent (said once). `send=False`: the digest job makes
        and releases issues; `postroom worker` processes send them. `stop` is the
        service's: set, no new work starts. `quiet` holds a file back until it is quiet
        (the service's; `run --once` reads every file at once). `heap` is settled after
        each build (the service's: service.heap; a command that ends soon needs none)."""
        self.site, self.store, self.clock = ctx.site, ctx.store, ctx.clock
        self.secret, self.send = secret, send
        self.stop = stop or threading.Event()
        self.quiet = quiet
        self._heap = heap
        self._cache: BuildCache | None = None  # `_built`, made at its first use
        self._build_lock = threading.Lock()
        # public/ may lag the store: set by every change saved (and at start), cleared only
        # by a build that succeeded, so a failed build is retried by the next job run
        self._stale = True
        self._outputs = _OutputCheck(ctx.site.public_dir)
        self._problems: set[Problem] = set()
        self._waiting: tuple[str, ...] = ()
        self._first_scan = True
        self._recorded_at: float | None = None
        self._told_no_secret = False
        self._pauses = PauseNotice()  # a pause said once, not at every tick
        self._slot_said: str | None = None  # the slot last logged: made, skipped or decided
        self._fetcher: Fetcher | None = None
        self._said_errors: dict[str, str] = {}  # a feed's or link's failure, said once
        self._list_problems: set[Problem] = set()
        self._websub: Pinger | None = None  # made at the first build, with a hub
        self._purged_at: float | None = None  # when the purge last looked (monotonic)
        # a delta scan is trusted only after a full walk that left nothing unlisted
        self._delta_ok = False
        self.slices = SliceWalk(ctx.site, ctx.store)  # the safety-net walk, a slice a time

    @property
    def _built(self) -> BuildCache:
        """What the last build read: the next reads what changed. Made when first asked
        for (after the first scan: feeds is the build's to import, not the scan's)."""
        if self._cache is None:
            from postroom.feeds import BuildCache  # lazy: see the imports

            self._cache = BuildCache()
        return self._cache

    def scan(self, scope: ScanScope | None = None) -> ScanReport:
        """Pick up what changed in the folder; rebuild when a post did (or on a first pass).

        `scope` (the service's, from file events): look at what it names only, once a
        full walk has found nothing it could not look into; else everything is walked.
        What costs as much as the site (the look at public/'s files) goes with a full
        walk only."""
        now = self.clock()
        if not self._delta_ok:
            scope = None
        with Reporter("scan", "files", lambda line: event("scan", line)) as progress:
            report = scan(
                self.site,
                self.store,
                now,
                self.quiet,
                on_wait=_wait_said,
                progress=progress,
                scope=scope,
            )
        if report.walked:
            self._delta_ok = not report.unlisted
            self.slices.abandon()  # everything was just looked at
        counts = {
            "files": report.files,
            "parsed": report.parsed,
            "new": len(report.new),
            "updated": len(report.updated),
            "withdrawn": len(report.withdrawn),
            "waiting": len(report.waiting),
            "problems": len(report.problems),
        }
        if report.changed:
            self._stale = True
        if (
            report.changed
            or report.parsed
            or report.waiting
            or self._recorded_at is None
            or (time.monotonic() - self._recorded_at > _RECORD_EVERY)
        ):  # an idle poll every 2 s need not write to the database each time
            record(self.store, "scan", now, counts)
            self._recorded_at = time.monotonic()
        if report.changed or report.parsed or self._first_scan:
            posts = self.store.count_posts()
            event(
                "scan",
                f"{report.files} files, {posts} posts: {len(report.new)} new,"
                f" {len(report.updated)} updated, {len(report.withdrawn)} withdrawn;"
                f" {len(report.problems)} problems",
                **counts,
                posts=posts,
                ids={"new": report.new, "updated": report.updated, "withdrawn": report.withdrawn},
            )
        if report.waiting and report.waiting != self._waiting:
            event(
                "scan",
                f"{len(report.waiting)} file(s) held back for the quiet period: "
                + ", ".join(report.waiting),
                waiting=list(report.waiting),
            )
        self._waiting, self._first_scan = report.waiting, False
        self._problems = self._note_problems(report.problems, self._problems)
        if report.walked:
            self._check_outputs()
        self._note_stored_elsewhere()
        self.refresh()
        return report

    def _note_stored_elsewhere(self) -> None:
        """Stale if the store changed since the last build by another hand: a `check`
        (which scans and builds nothing) or a `run --once` stopped between its scan and
        its build stores a post, and the service's own scan then finds its file known and
        changes nothing, so the post would wait for some unrelated change. The store's
        change numbers say so in two indexed lookups. A database put back (its number
        went back) or another database counts as changed."""
        if self._stale or self._built.seq is None:
            return
        epoch, _, ids = self.store.changes_since(self._built.seq)
        if ids is None or ids or epoch != self._built.epoch:
            self._stale = True

    def walk_slice(self) -> bool:
        """One slice of the safety-net walk (service.slices): a few thousand files looked
        at, nothing written; True once a cycle ended, when what all its slices found
        differs is scanned at once (and public/'s files are checked, as after a walk).
        Before a delta scan can be trusted, the walk of everything instead."""
        if not self._delta_ok:
            self.scan()
            return True
        outcome = self.slices.step()
        if not outcome.done:
            return False
        if outcome.walk is Walk.FULL:
            self.scan()
            return True
        if outcome.walk is Walk.SCOPE and self.scan(outcome.scope).walked:
            return True  # the delta could not judge it: that was a walk, checks and all
        self._check_outputs()
        self._note_stored_elsewhere()
        self.refresh()
        return True

    def _check_outputs(self) -> None:
        """Files the last build wrote that have gone since make public/ stale, with a log
        line: a deleted public/ is rebuilt by the next scan, not by the next post."""
        with self._build_lock:
            if self._stale:
                return
            gone = self._outputs.missing()
            if not gone:
                return
            self._stale = True
            self._built.recheck()  # the cache would carry a gone page over, unlooked at
        what = (
            "is gone"
            if not self.site.public_dir.is_dir()
            else f"{len(gone)} file(s) missing, e.g. {gone[0]}"
        )
        event(
            "build",
            f"public/ {what}: rebuilding",
            logging.WARNING,
            missing=len(gone),
            files=gone[:10],
        )

    def refresh(self) -> BuildReport | None:
        """Build public/ if it lags the store (None if it does not)."""
        with self._build_lock:
            if not self._stale:  # another job's build got here first
                return None
            started = time.monotonic()
            self._stale = False  # a change saved from now on makes it stale again
            try:
                with self._heap.paused() if self._heap is not None else nullcontext():
                    built = publish(self.site, self.store, self.clock(), self._built)
            except BaseException:
                self._stale = True
                raise
            self._outputs.built(built.outputs)
            took = time.monotonic() - started
            if self._heap is not None:  # what the build keeps, out of the collector's way
                whole = self._built.changed is None  # every head read
                self._heap.settle(whole=whole)
                if whole:  # its peak given back: the service lives on (`feeds.give_back`)
                    from postroom.feeds import give_back  # lazy: see the imports

                    give_back()
        event(
            "build",
            f"public/: {len(built.written)} files written, {built.unchanged} unchanged,"
            f" {len(built.removed)} removed ({took:.2f} s)",
            written=len(built.written),
            unchanged=built.unchanged,
            removed=len(built.removed),
        )
        for p in built.problems:
            event("problem", f"{p.file}: {p.reason}", logging.WARNING, **p.as_json())
        self._tell_hub(built)
        return built

    def _tell_hub(self, built: BuildReport) -> None:
        """The WebSub hub is owed a ping for each feed the build changed (sent from the
        pinger's own thread: service.websub); the first build also takes on what the last
        process left owed."""
        if not self.site.config.site.websub_hub:
            return
        from postroom.service.websub import Pinger, changed_feeds  # lazy: see the imports

        if self._websub is None:
            self._websub = Pinger(self.site, self.store, self.clock, self.stop)
        self._websub.owe(changed_feeds(self.site, built.written))

    def settle_pings(self, budget: float | None = None) -> None:
        """`run --once`: wait up to `budget` seconds (None: websub.ONCE_SECONDS) for the
        hub to be told; what is still owed then is the next run's."""
        if self._websub is not None:
            from postroom.service.websub import ONCE_SECONDS  # lazy: see the imports

            self._websub.settle(ONCE_SECONDS if budget is None else budget)

    @staticmethod
    def _note_problems(problems: Sequence[Problem], known: set[Problem]) -> set[Problem]:
        """Log each problem once when it appears and once when it is mended, against the
        `known` ones said before; the problems now, to be known next time."""
        current = set(problems)
        for p in sorted(current - known, key=lambda p: (p.file, p.reason)):
            level = logging.ERROR if p.severity.value == "error" else logging.WARNING
            event("problem", f"{p.file}: {p.reason}", level, **p.as_json())
        for p in sorted(known - current, key=lambda p: (p.file, p.reason)):
            event("problem", f"{p.file}: mended ({p.reason})", mended=True, **p.as_json())
        return current

    def decide(self) -> SlotDecision:
        """The latest due slot is decided: its issue made (and its archive page written), or
        the curator told why there is none; and the coming slot's proof is made."""
        decision = self._decide()
        self.notify(decision)
        self.proof()
        return decision

    def _decide(self) -> SlotDecision:
        from postroom.emails.issues import decide_slot  # lazy: see the imports

        decision = decide_slot(self.site, self.store, self.clock())
        slot = decision.slot.isoformat()
        if decision.issue:
            issue = decision.issue
            event(
                "digest",
                f"issue {issue.number} made for the slot of {slot}: {issue.subject}"
                f" ({len(issue.post_ids)} posts)",
                slot=slot,
                issue=issue.number,
                posts=len(issue.post_ids),
            )
            self._stale = True
            self.refresh()  # its "view in browser" page; if this fails, deliver() tries again
        elif not decision.already:
            event(
                "digest",
                f"no issue for the slot of {slot} ({decision.outcome})",
                slot=slot,
                outcome=decision.outcome,
            )
        elif slot != self._slot_said:  # once a slot, not at every tick of its week
            event(
                "digest",
                f"slot already decided: {slot} ({decision.outcome})",
                slot=slot,
                outcome=decision.outcome,
                already=True,
            )
        self._slot_said = slot
        return decision

    def _no_secret(self) -> bool:
        """True (said once: it cannot change while the process runs) without a secret."""
        if self.secret is None and not self._told_no_secret:
            event(
                "send",
                "digest not sent: no usable POSTROOM_SECRET (it signs unsubscribe links)",
                logging.ERROR,
            )
            self._told_no_secret = True
        return self.secret is None

    def deliver(self) -> list[SendReport]:
        """Send whatever any issue owes now, beside any other senders; without a secret,
        nothing is sent (said once)."""
        from postroom.emails.sending import outstanding  # lazy: see the imports
        from postroom.store.digests import any_unreleased

        if not outstanding(self.store) or self.stop.is_set():
            return []
        if any_unreleased(self.store):  # issued elsewhere (the curator's "Send now")
            self._stale = True
        self.refresh()  # an issue's "view in browser" page exists before any email
        if self._no_secret():
            return []
        assert self.secret is not None
        return send_logged(self.site, self.store, self.secret, self.clock, self.stop, self._pauses)

    def bounces(self) -> None:
        """The bounces job: what came back since the last read is recorded (nothing without
        a [bounces] mailbox); not once stopping."""
        if not self.stop.is_set():
            from postroom.service.bounces import read_bounces  # lazy: see the imports

            read_bounces(self.site, self.store, self.clock, self.secret)

    def follow(self) -> list[str]:
        """The follow job: what is due of the followed feeds and listed links is fetched;
        the content paths written (the scan publishes them). A failure is logged when it
        starts or changes, and when it mends; not at every backed-off retry."""
        if self.stop.is_set():
            return []
        if self._fetcher is None and self._nothing_to_follow():
            self._list_problems = self._note_problems([], self._list_problems)
            return []
        from postroom.service.fetching import Fetcher  # lazy: see the imports
        from postroom.service.follow import Follower
        from postroom.service.listed import fetch_links

        if self._fetcher is None:
            self._fetcher = Fetcher(self.site, self.store, self.stop)
        self._fetcher.fresh_run()
        log = lambda line: event("follow", line, logging.WARNING)  # noqa: E731
        now, written = self.clock(), []
        for feed in Follower(self._fetcher, log).poll(now):
            self._said(feed.url, feed.error, f"{feed.name}: {feed.error}")
            written += feed.written
            if feed.written or feed.passed_over:
                event(
                    "follow",
                    f"{feed.name}: {len(feed.written)} new, {feed.passed_over} noted as seen"
                    f" (older than the backfill, or past a poll's share), {feed.filtered}"
                    " filtered out",
                    feed=feed.url,
                    new=list(feed.written),
                )
        links, problems = fetch_links(self._fetcher, now)
        for link in links:
            self._said(link.url, link.error, f"{link.listed_in}: {link.error}")
            if link.written:
                written.append(link.written)
                event("follow", f"{link.listed_in}: {link.url}: written to {link.written}")
            elif link.known:
                event("follow", f"{link.listed_in}: {link.url}: a post already")
        self._list_problems = self._note_problems(problems, self._list_problems)
        return written

    def _nothing_to_follow(self) -> bool:
        """No [[follow]], no links file in content/ and no fetch target left in the store
        (a feed or link dropped since, for the fetcher to forget): what the follow job
        would then do is nothing, and a site that follows nothing (most) need not import
        the fetcher's stack (httpx, trafilatura) for it. Once a fetcher is made, the job
        always goes the whole way."""
        from postroom.content.linkfiles import find_link_files  # lazy: see the imports
        from postroom.store.fetched import TargetKind, targets

        return (
            not self.site.config.follow
            and not find_link_files(self.site.content_dir)
            and not any(targets(self.store, kind) for kind in TargetKind)
        )

    def _said(self, url: str, error: str, line: str) -> None:
        if error and self._said_errors.get(url) != error:
            event("follow", line, logging.WARNING, url=url)
        elif not error and url in self._said_errors:
            event("follow", f"{url}: working again", url=url)
        if error:
            self._said_errors[url] = error
        else:
            self._said_errors.pop(url, None)

    def _mail(self, envelope: Envelope) -> None:
        from postroom.emails.transports import transport_for  # lazy: see the imports

        connection = transport_for(self.site).connect()
        try:
            connection.send(envelope)
        finally:
            connection.close()

    def proof(self) -> None:
        """The coming slot's issue is frozen and its proof has gone to the curator, once
        its proof window is open (emails.proof); a proof that could not go is tried again
        at the next run, until the slot."""
        from postroom.emails.proof import prepare_proof, proof_due, proof_message  # lazy
        from postroom.emails.transports import Rejected, Unreachable
        from postroom.store.digests import mark_proof_sent

        now = self.clock()
        found = prepare_proof(self.site, self.store, now)
        issue = proof_due(found, now)
        if found is None or issue is None or self._no_secret():
            return
        assert self.secret is not None
        slot = found.slot.isoformat()
        curator = self.site.config.curator.email
        try:
            self._mail(proof_message(self.site, self.secret, found.slot, issue))
        except (Rejected, Unreachable) as exc:
            event("digest", f"proof of issue {issue.number} not sent: {exc}", logging.ERROR)
            return
        mark_proof_sent(self.store, issue.number, now)
        event(
            "digest",
            f"proof of issue {issue.number} sent to {curator} for the slot of {slot}:"
            f" {issue.subject} ({len(issue.post_ids)} posts)",
            slot=slot,
            issue=issue.number,
            posts=len(issue.post_ids),
            proof=True,
        )

    def notify(self, decision: SlotDecision) -> None:
        """The curator is told, once, of a slot that passed with no issue (late, empty,
        held); with proofs off, nobody is."""
        from postroom.emails.proof import NOTICED, notice_message, proofs_on  # lazy
        from postroom.store.digests import claim_notice, release_notice

        if (
            decision.outcome not in NOTICED
            or decision.noticed
            or not proofs_on(self.site)
            or not claim_notice(self.store, decision.slot, self.clock())
        ):
            return
        slot = decision.slot.isoformat()
        try:
            self._mail(notice_message(self.site, decision.slot, decision.outcome, self.clock()))
        except Exception as exc:  # refused, away, a login refused: whatever it was, the
            release_notice(self.store, decision.slot)  # claim goes back; the next run tries
            event("digest", f"curator not told of the slot of {slot}: {exc}", logging.ERROR)
            return
        event(
            "digest",
            f"curator told: no issue for the slot of {slot} ({decision.outcome})",
            slot=slot,
            outcome=decision.outcome,
            notice=True,
        )

    def purge(self) -> int:
        """The purge job: sign-ups still pending when their confirmation link expired are
        deleted, with their consent records (someone who never confirmed leaves nothing);
        how many. Level-triggered: whatever expired since the last look, however long the
        service was down."""
        if self.stop.is_set():
            return 0
        from postroom.service.purge import purge_unconfirmed_signups  # lazy: see the imports

        self._purged_at = time.monotonic()
        try:
            gone = purge_unconfirmed_signups(self.site, self.store, self.clock())
        except Exception as exc:  # the database away: the digest job goes on, next hour again
            event("subscribers", f"purge failed: {first_line(exc)}", logging.ERROR)
            return 0
        if gone:
            event("subscribers", f"{gone} unconfirmed sign-up(s) deleted: their link expired",
                  deleted=gone)  # fmt: skip
        return gone

    def digest(self) -> None:
        """The digest job: decide the due slot, then send what is owed (not once stopping:
        a run queued behind a long send must not start after SIGTERM); and, every
        PURGE_EVERY seconds, the purge."""
        if not self.stop.is_set():
            if self._purged_at is None or time.monotonic() - self._purged_at >= PURGE_EVERY:
                self.purge()
            self.decide()
            if self.send:
                self.deliver()
