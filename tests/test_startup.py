"""Start-up: what `postroom --help` and `postroom status` load, and that `status` read
without SQLAlchemy (store.peek) says exactly what the Store's way says.

Behaviour, not timing (bench/startup.py times them): each command runs in a new
interpreter that lists the modules it ended with, and none of the heavy stacks may be
among them. Every test is on a SQLite store, the one the peek reads (marked `once`: a
PostgreSQL store goes the Store's way, which the status tests of the other modules run
on both passes).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from migration_support import make_older
from postroom import scheduler
from postroom.content.readers import PARSERS
from postroom.core.clock import OFFSET_ENV
from postroom.core.config import DATABASE_URL_ENV, Site
from postroom.core.process import this_process
from postroom.emails.tokens import SECRET_ENV
from postroom.service import jobs
from postroom.service.daemon import Service
from postroom.service.status import (
    SERVICE_LEASE,
    WEBSUB_ACTIVITY,
    issue_status_json,
    issues_json,
    status_json,
    status_of,
)
from postroom.service.websub import ACTIVITY
from postroom.store import Store
from postroom.store.peek import SCHEMA_VERSION as PEEK_SCHEMA_VERSION
from postroom.store.peek import SqlitePeek, open_peek, sqlite_path
from postroom.store.schema import (
    SCHEMA_VERSION,
    bounce_pauses,
    bounce_reports,
    digest_issues,
    digest_slots,
    fetched_articles,
    leases,
    outbox,
    posts,
)
from service_support import SECRET, offset_to, postroom_env
from sqlalchemy import insert, select, update
from support import in_a_new_python, make_site, write

pytestmark = pytest.mark.once

# What only some verbs need: none of it for `--help`, `--version` or `status` on SQLite.
HEAVY = (
    "sqlalchemy", "psycopg", "jinja2", "trafilatura", "premailer", "starlette", "uvicorn",
    "httpx", "dateparser", "feedgen", "feedparser", "lxml", "apscheduler", "watchdog",
    "rich", "postroom.store.database", "postroom.content", "postroom.feeds", "postroom.web",
    "postroom.service.daemon", "postroom.service.jobs", "postroom.service.websub",
)  # fmt: skip

# runs the command line as the console script does, then lists every module loaded
LISTING = """
import json, sys
from postroom.scheduler import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as listing:
    json.dump(sorted(sys.modules), listing)
sys.exit(code)
"""

NOWHERE = "http://127.0.0.1:9"  # a private address: refused at once, nothing leaves
CONFIG = f"""[site]
base_url = "https://notes.example.org/"
timezone = "Europe/London"
websub_hub = "{NOWHERE}/hub"

[[follow]]
url = "{NOWHERE}/feed.xml"
name = "Nowhere"

[[follow]]
url = "{NOWHERE}/other.xml"
"""
POSTS = {
    "one.md": "---\ntitle: One\ndate: 2026-11-02\n---\nThe first.\n",
    "two.md": "---\ntitle: Café – naïve\ndate: 2026-11-03\n---\nThe second, ünïcode.\n",
    "undated.md": "---\ntitle: No date here\n---\nDated when picked up.\n",
    "a/undated.md": "---\ntitle: Nor here\n---\nDated when picked up too.\n",
    "gone.md": "---\ntitle: Gone\ndate: 2026-11-04\n---\nWithdrawn (below).\n",
    "inbox/links.txt": f"{NOWHERE}/later\n",
}


def command(site: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """`postroom --site SITE ARGS` in a new interpreter, on the site's SQLite store (or
    `env`'s): its stdout and the modules it loaded. It must succeed."""
    listing = site.parent / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", LISTING, str(listing), "--site", str(site), *args],
        env={**postroom_env(), DATABASE_URL_ENV: "", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(listing.read_text())
    listing.unlink()
    return done.stdout, modules


def refused(site: Path) -> subprocess.CompletedProcess:
    """`postroom --site SITE status`, as the console script runs it, expected to fail."""
    done = subprocess.run(
        [sys.executable, "-m", "postroom.scheduler", "--site", str(site), "status"],
        env={**postroom_env(), DATABASE_URL_ENV: ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and done.stdout == ""
    return done


def heavy(modules: list[str]) -> list[str]:
    """The heavy modules among `modules` (store.peek is the store's light one)."""
    found = [m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY)]
    return [m for m in found if m != "postroom.store.peek"]


@contextmanager
def kept_logging() -> Iterator[None]:
    """`run` replaces the root logger's handlers: put them back for pytest's."""
    root, ours = logging.getLogger(), logging.getLogger("postroom")
    handlers, root_level, our_level = root.handlers[:], root.level, ours.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        ours.setLevel(our_level)


@pytest.fixture(scope="module")
def full_site(tmp_path_factory) -> Site:
    """A site with everything `status` shows: posts (one withdrawn), problems, a link that
    fails, followed feeds (one with entries seen), a WebSub hub owed, an issue whose rows
    are in every state with bounces and a pause, an issue held for its slot, and a live
    service."""
    root = tmp_path_factory.mktemp("full") / "site"
    site = make_site(root, POSTS, config=CONFIG)
    write(root / "list.csv", "ann@example.org\nbob@example.org\ncat@example.org\n"
          "dan@example.org\neve@example.org\nfay@example.org\n")  # fmt: skip
    at = ["--site", str(root)]
    with pytest.MonkeyPatch.context() as env, kept_logging():
        env.delenv(DATABASE_URL_ENV, raising=False)
        env.delenv(OFFSET_ENV, raising=False)
        env.setenv(SECRET_ENV, SECRET)
        assert scheduler.main([*at, "subscribers", "import", str(root / "list.csv")]) == 0
        assert scheduler.main([*at, "run", "--once", "--no-send"]) == 0
        env.setenv(OFFSET_ENV, str(offset_to(site, timedelta(minutes=5))))
        assert scheduler.main([*at, "run", "--once", "--no-send"]) == 0  # issue 1, queued
    store = Store(site.store_url)
    try:
        with store.engine.begin() as conn:
            rows = conn.execute(select(outbox.c.subscriber_id).order_by("subscriber_id")).all()
            states = ["sent", "sent", "deferred", "failed", "skipped", "sending"]
            assert len(rows) == len(states)
            for (who,), state in zip(rows, states, strict=True):
                later = "2030-01-02T03:04:05+00:00" if state == "deferred" else ""
                mark = update(outbox).where(outbox.c.subscriber_id == who)
                conn.execute(mark.values(state=state, not_before=later))
            conn.execute(update(posts).where(posts.c.title == "Gone").values(withdrawn=True))
            day, feed = "2026-12-01T00:00:00+00:00", f"{NOWHERE}/feed.xml"
            reports = [
                {"report_key": key, "issue": 1, "subscriber_id": who, "kind": kind}
                for key, who, kind in (("r1", 1, "hard"), ("r2", 2, "soft"), ("r3", 2, "complaint"))
            ]
            conn.execute(insert(bounce_reports).values(received_at=day), reports)
            conn.execute(insert(bounce_pauses).values(issue=1, reason="too many", paused_at=day))
            held = {"number": 2, "subject": "Held – café", "html": "<p>x</p>", "text": "x"}
            conn.execute(
                insert(digest_issues).values(cutoff=day, created_at=day, proof_stage="held"), held
            )
            slot = {"slot": "2030-01-07T07:00:00+00:00", "outcome": "held", "issue": 2}
            conn.execute(insert(digest_slots).values(decided_at=day), slot)
            seen = [{"key": f"k{n}", "entry_id": e} for n, e in enumerate(("a", "b", "a", ""))]
            conn.execute(insert(fetched_articles).values(feed=feed, seen_at=day), seen)
            live = {"holder": this_process(), "expires": "2099-01-01T00:00:00+00:00"}
            conn.execute(insert(leases).values(name=Service.LEASE), live)
    finally:
        store.close()
    return site


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("check", "--help")])
def test_help_loads_no_heavy_stack(tmp_path, args):
    out, modules = command(tmp_path / "nowhere", *args)  # no site: none is opened
    assert "postroom" in out
    assert heavy(modules) == []


@pytest.mark.parametrize("args", [("status",), ("status", "--json")])
def test_status_on_sqlite_loads_no_heavy_stack_and_says_what_the_store_says(full_site, args):
    peeked, modules = command(full_site.root, *args)
    assert heavy(modules) == []
    assert "postroom.store.peek" in modules and "sqlite3" in modules
    # the same command made to go the Store's way: a URL the peek leaves to SQLAlchemy
    url = f"sqlite:///{full_site.root / 'postroom.db'}?timeout=10"
    stored, modules = command(full_site.root, *args, env={DATABASE_URL_ENV: url})
    assert "sqlalchemy" in modules and "postroom.store.database" in modules
    assert peeked == stored
    if args[-1] == "--json":  # the site shows all it was given
        info = json.loads(peeked)
        assert info["posts"] == 4 and info["scheduler"] == this_process()
        assert info["last_issue"]["issue"] == 1 and info["last_issue"]["sent"] == 2
        assert info["last_issue"]["paused"] == "too many"
        files = ["a/undated.md", "undated.md", "inbox/links.txt"]
        assert [p["file"] for p in info["problems"]] == files
        assert [f["entries_seen"] for f in info["follows"]] == [2, 0]
        assert info["follows"][0]["last_error"] and info["websub"]["owed"] > 0
    else:
        assert "last issue:  1 (" in peeked and "problems:    3" in peeked


def test_the_peek_reads_what_the_store_functions_read(full_site):
    """In one process at one moment: every field, and `digest status --json` too (its held
    issue and the slot it awaits, which `status` leaves out)."""
    now = datetime.now(UTC)
    store = Store(full_site.store_url)
    peek = open_peek(full_site.store_url)
    assert isinstance(peek, SqlitePeek)
    try:
        with peek:
            assert status_of(full_site, peek, now) == status_json(full_site, store, now)
            waiting = issues_json(peek)
            assert waiting == issue_status_json(store)
    finally:
        store.close()
    assert [(i["issue"], i["state"], i["slot"]) for i in waiting] == [
        (1, "issued", None),
        (2, "held", "2030-01-07T07:00:00+00:00"),
    ]
    assert (waiting[0]["queued"], waiting[0]["deferred"], waiting[0]["failed"]) == (1, 1, 1)
    assert (waiting[0]["bounced"], waiting[0]["soft_bounced"], waiting[0]["complained"]) == (
        1,
        1,
        1,
    )
    assert waiting[0]["next_retry"] == "2030-01-02T03:04:05+00:00"


def test_the_peek_cannot_write_and_status_changes_no_byte_of_the_store(full_site):
    database = full_site.root / "postroom.db"
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    command(full_site.root, "status")
    command(full_site.root, "status", "--json")
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    wal = full_site.root / "postroom.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # nothing waits to be written back
    peek = open_peek(full_site.store_url)
    assert peek is not None
    with peek, pytest.raises(sqlite3.OperationalError, match="readonly"):
        peek.conn.execute("DELETE FROM posts")


def test_a_store_not_made_yet_is_made_by_status_as_before(tmp_path):
    site = make_site(tmp_path)
    assert open_peek(site.store_url) is None  # no file: the Store's to make
    out, modules = command(site.root, "status", "--json")
    assert "sqlalchemy" in modules
    assert json.loads(out)["posts"] == 0
    assert version_of(site) == SCHEMA_VERSION
    again, modules = command(site.root, "status", "--json")  # made: the peek reads it now
    assert heavy(modules) == [] and again == out


def test_an_older_store_is_migrated_by_status_as_before(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        make_older(conn, 9)
    store.close()
    before = (tmp_path / "postroom.db").read_bytes()
    assert open_peek(site.store_url) is None
    assert (tmp_path / "postroom.db").read_bytes() == before  # declining wrote nothing
    out, modules = command(site.root, "status")
    assert "sqlalchemy" in modules and "posts:       0" in out
    assert version_of(site) == SCHEMA_VERSION


def test_a_newer_store_is_refused_as_before(tmp_path):
    site = make_site(tmp_path)
    Store(site.store_url).close()
    with sqlite3.connect(tmp_path / "postroom.db") as conn:
        conn.execute(f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    done = refused(tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"postroom: the database has schema {SCHEMA_VERSION + 1}, newer than this postroom"
        f" ({SCHEMA_VERSION}): upgrade postroom\n"
    )


def test_a_read_the_peek_cannot_do_is_left_to_the_store(tmp_path):
    """A table gone from a store at this version: the peek's read fails, and the Store's
    way says so in its words (exit 1), as status always has."""
    site = make_site(tmp_path)
    Store(site.store_url).close()
    with sqlite3.connect(tmp_path / "postroom.db") as conn:
        conn.execute("DROP TABLE activity")
    done = refused(tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("postroom: the database sqlite:///")
    assert "no such table: activity" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "url, path",
    [
        ("sqlite:////srv/site/postroom.db", "/srv/site/postroom.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite+pysqlite:////srv/a b/p.db", "/srv/a b/p.db"),
        ("sqlite://", None),  # in memory: this process's own
        ("sqlite:///:memory:", None),
        ("sqlite:////srv/p.db?timeout=5", None),  # options are SQLAlchemy's to read
        ("sqlite:////srv/p%20q.db", None),
        ("postgresql://u:p@db/postroom", None),
        ("sqlite+aiosqlite:////srv/p.db", None),
    ],
)
def test_the_peek_reads_plain_sqlite_file_urls_only(url, path):
    assert sqlite_path(url) == (Path(path) if path else None)


def test_the_names_kept_twice_agree():
    """Kept twice so that `status` imports neither SQLAlchemy nor the service."""
    assert PEEK_SCHEMA_VERSION == SCHEMA_VERSION
    assert SERVICE_LEASE == Service.LEASE
    assert WEBSUB_ACTIVITY == ACTIVITY


def version_of(site: Site) -> int:
    with closing(sqlite3.connect(site.root / "postroom.db")) as conn:
        return conn.execute("SELECT version FROM schema_version").fetchone()[0]


# --- `run --once`: what it imports, and the forkserver started at its top on a first run ---

# runs the command line as the console script does, then says whether the forkserver
# was started, and lists every module loaded
FORKSERVER = """
import json, os, signal, sys, threading
from multiprocessing import forkserver
from postroom.core import pool
from postroom.scheduler import main
def running():
    return forkserver._forkserver._forkserver_pid is not None
first_pool = []  # whether the forkserver ran already when the first pool started
at_pool = []  # the modules loaded then (the scan's, on a first run)
at_result = []  # and when the first pool's first result was taken
# the first pool's workers stopped (SIGSTOP) as they start, until its first `meanwhile`
# work is done: its first result is not ready when the parent first looks, however slow
# the parent is on a loaded machine (it had sometimes found the result there, and rightly
# imported nothing); resumed in any case after a while, for a clear failure, not a hang
held, resumed = [], []
def resume():
    if not resumed:
        resumed.append(True)
        for pid in held:
            os.kill(pid, signal.SIGCONT)
def run_meanwhile(work, _run=pool._run_meanwhile):
    try:
        return _run(work)
    finally:
        resume()
pool._run_meanwhile = run_meanwhile
def start(*args, _start=pool.start, **kwargs):
    first_pool.append(running())
    at_pool.append(sorted(sys.modules))
    workers = _start(*args, **kwargs)
    if len(first_pool) == 1:
        submit = workers.submit
        def holding(*args, **kwargs):
            future = submit(*args, **kwargs)
            for worker in list(workers._processes.values()):
                if worker.pid not in held and not resumed:
                    os.kill(worker.pid, signal.SIGSTOP)
                    held.append(worker.pid)
            return future
        workers.submit = holding
        later = threading.Timer(20, resume)
        later.daemon = True
        later.start()
    return workers
def in_order(*args, _in_order=pool.in_order, **kwargs):
    for result in _in_order(*args, **kwargs):
        at_result.append(sorted(sys.modules))
        yield result
pool.start = start
pool.in_order = in_order
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as listing:
    found = {"forkserver": running(), "early": first_pool[:1], "modules": sorted(sys.modules),
             "at_pool": at_pool[:1], "at_result": at_result[:1]}
    json.dump(found, listing)
sys.exit(code)
"""


def once(site: Path) -> dict:
    """`postroom --site SITE run --once --no-send` in a new interpreter, on SQLite."""
    listing = site.parent / "once.json"
    done = subprocess.run(
        [sys.executable, "-c", FORKSERVER, str(listing), "--site", str(site), "run", "--once",
         "--no-send"],
        env={**postroom_env(), DATABASE_URL_ENV: ""},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(listing.read_text())


def many_posts(count: int) -> dict[str, str]:
    post = "---\ntitle: Post {n}\ndate: 2026-11-02\n---\nBody {n}.\n"
    return {f"p{n:03}.md": post.format(n=n) for n in range(count)}


def test_a_first_run_starts_the_forkserver_a_warm_one_does_not_and_neither_imports_the_service(
    tmp_path,
):
    site = make_site(tmp_path / "site", many_posts(scheduler.COLD_SCAN_FROM))
    first = once(site.root)
    assert first["early"] == [True]  # running before the scan's pool asked for it
    again = once(site.root)  # nothing to do: no pool, and no forkserver started for one
    assert not again["forkserver"] and again["early"] == []
    for run in (first, again):  # the service's stack and premailer are not --once's
        loaded = set(run["modules"])
        assert not loaded & {"premailer", "apscheduler", "watchdog", "postroom.service.daemon"}


# What a `run --once` imports in the job that uses it (service.jobs), not before its
# scan: the build's renderers, the digest's and the sender's modules; and the fetcher's
# stack, only for a site that follows something ([[follow]], a links file)
LATER = ("postroom.feeds", "jinja2", "feedgen", "premailer", "postroom.emails.render",
         "postroom.emails.archive_pages", "postroom.emails.sending", "postroom.emails.proof",
         "postroom.store.digests", "postroom.service.websub")  # fmt: skip
POSTGRESQL = "sqlalchemy.dialects.postgresql"
FETCHER = ("postroom.service.fetching", "postroom.service.follow", "postroom.service.listed",
           "postroom.content.fetch", "postroom.content.links", "httpx", "trafilatura")  # fmt: skip


def among(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names)]


def test_a_first_run_starts_its_scan_before_importing_the_build_and_never_the_fetcher(tmp_path):
    site = make_site(tmp_path / "site", many_posts(scheduler.COLD_SCAN_FROM))
    run = once(site.root)
    (at_pool,) = run["at_pool"]  # the scan's pool started: its workers on their way
    assert among(at_pool, LATER) == []
    assert "postroom.content.intake" in at_pool
    # nor what only the workers use (they parse: the forkserver imports the parsers of
    # content.readers.PARSERS for them, a worker the captures' at its first), nor
    # PostgreSQL's dialect on a SQLite store
    assert among(at_pool, (*PARSERS, "postroom.content.captures", POSTGRESQL)) == []
    assert among(run["modules"], LATER)  # imported after all, by the build
    assert among(run["modules"], FETCHER) == []  # nothing to follow: never imported
    assert (site.public_dir / "atom.xml").is_file()


def test_a_first_run_imports_its_build_while_its_scan_waits_for_its_workers(tmp_path):
    """After its scan's workers are asked for (not before: they would start later), one
    module a wait (`pool.meanwhile`): the first before the first result is taken.
    `BUILD_MODULES` imports every job module a first run imports after its scan, none
    it does without, and none of the fetcher's."""
    site = make_site(tmp_path / "site", many_posts(scheduler.COLD_SCAN_FROM))
    run = once(site.root)
    (at_pool,), (at_result,) = run["at_pool"], run["at_result"]
    assert among(at_pool, LATER) == []
    assert scheduler.BUILD_MODULES[0] in at_result
    later = set(jobs.JOB_MODULES) & set(run["modules"]) - set(at_pool)
    assert set(scheduler.BUILD_MODULES) <= later
    code = (
        "import importlib, json, sys\n"
        "from postroom import scheduler\n"
        "from postroom.service import jobs\n"
        "for module in scheduler.BUILD_MODULES:\n"
        "    importlib.import_module(module)\n"
        "print(json.dumps([m for m in jobs.JOB_MODULES if m in sys.modules]))\n"
    )
    assert later <= set(in_a_new_python(code))
    assert among(run["modules"], FETCHER) == []


def test_the_scan_loads_no_date_words_parser_page_parser_or_terminal_bar():
    """What the scan's parent imports before its workers start (and the forkserver for
    them) leaves out what a site of Markdown posts with YAML dates never uses: dateparser
    (dates in words), lxml (pages, relative URLs), rich (a bar on a terminal). Each is
    imported where it is first needed (tests/test_dates.py, test_readers.py and
    test_progress.py use them)."""
    code = (
        "import importlib, json, sys\n"
        "import postroom.service.jobs, postroom.content.handback\n"
        "from postroom.content.readers import PARSERS\n"
        "for module in PARSERS:\n"
        "    importlib.import_module(module)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = in_a_new_python(code)
    assert among(loaded, ("dateparser", "regex", "lxml", "rich")) == []
    assert "postroom.content.dates" in loaded and "postroom.core.urls" in loaded


def test_a_run_with_a_links_file_still_fetches(tmp_path):
    """The fetcher is skipped only when there is nothing for it: a links file (here, of a
    private address: refused at once, nothing leaves) is fetched, and its failure kept."""
    site = make_site(tmp_path / "site", {**many_posts(3), "inbox/links.txt": f"{NOWHERE}/x\n"})
    run = once(site.root)
    assert among(run["modules"], FETCHER)
    with closing(sqlite3.connect(site.root / "postroom.db")) as conn:
        tried = conn.execute("SELECT url, failures FROM fetch_targets").fetchall()
    assert tried == [(f"{NOWHERE}/x", 1)]


def test_the_service_imports_every_module_the_jobs_import_late():
    """`run` (the service) imports them all before its job threads start
    (`import_job_modules`): the list is every module imported in a function of
    service.jobs, no more, no less."""
    tree = ast.parse(Path(jobs.__file__).read_text())
    late = {
        node.module
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.ImportFrom)
    }
    assert late == set(jobs.JOB_MODULES)


def test_a_first_run_is_told_from_the_others(tmp_path, monkeypatch):
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    enough = scheduler.COLD_SCAN_FROM
    cold = make_site(tmp_path / "cold", {f"a/b/{n}.md": "x" for n in range(enough)})
    assert scheduler._cold_start(cold)  # no store yet, enough files: workers will start
    few = make_site(tmp_path / "few", {f"{n}.md": "x" for n in range(enough - 1)})
    assert not scheduler._cold_start(few)  # the scan reads these itself
    warm = make_site(tmp_path / "warm", many_posts(enough))
    with kept_logging():
        assert scheduler.main(["--site", str(warm.root), "run", "--once", "--no-send"]) == 0
    assert not scheduler._cold_start(warm)  # posts stored: not a first run
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://nowhere.invalid/db")
    elsewhere = make_site(tmp_path / "pg", {f"{n}.md": "x" for n in range(enough)})
    assert not scheduler._cold_start(elsewhere)  # not guessed without the store's word


def test_the_forkserver_started_early_preloads_what_the_pools_would():
    """Its preloads are fixed when it starts: every module a cold run's pools preload
    (checked in a new interpreter, as the command imports them)."""
    code = (
        "import json\n"
        "from postroom.core import pool\n"
        "from postroom.content import handback, intake, readers\n"
        "import postroom.feeds.parallel\n"
        "preloads = [handback.__name__, *readers.PARSERS, *pool._PRELOAD]\n"
        "print(json.dumps([preloads, intake._PARALLEL_FROM]))\n"
    )
    preloads, parallel_from = in_a_new_python(code)
    assert set(preloads) <= set(scheduler.POOL_PRELOADS)
    assert parallel_from == scheduler.COLD_SCAN_FROM


def test_a_service_made_in_a_fresh_process_has_every_jobs_module(tmp_path):
    """Whoever makes a `Service` (not only `postroom run`), its job threads never import
    a module at once: `Service()` imports `JOB_MODULES` in the thread that makes it."""
    site = make_site(tmp_path / "site")
    code = f"""
import json, sys
from pathlib import Path
from postroom.core.config import open_site
from postroom.service.command import Context
from postroom.service.daemon import Service
from postroom.service.jobs import JOB_MODULES
from postroom.store import Store
site = open_site(Path({str(site.root)!r}))
before = [m for m in JOB_MODULES if m in sys.modules]
store = Store(site.store_url)
Service(Context(site, store, lambda: None), None, poll_only=True)
store.close()
print(json.dumps([before, [m for m in JOB_MODULES if m not in sys.modules]]))
"""
    before, missing = in_a_new_python(code)
    assert len(before) < len(jobs.JOB_MODULES)  # not all there before: the test can fail
    assert missing == []
