"""Readers' selections at scale: one slot of a 100,000-subscriber list spread over 50
selections, next to the same list all on one selection (everything).

    python bench/selections.py [--subscribers 100000] [--stores sqlite,postgresql] [--json]

Why: with selections a slot groups its readers, renders one edition per distinct list of
posts and queues each reader at theirs, in the issue's transaction. This says what that
costs against the one-rendering list it replaces, on each store.

What, per store and layout, in this process with the service's own `decide_slot`:
a fresh site (SQLite file, or a fresh database on a throwaway PostgreSQL server from
tests/pg/server with fsync on); four weekly issues made while nobody is subscribed
(10 posts each, tags from a set of 20 social-care topics, three sources); then the
list, bulk-inserted as the store keeps it: 50 selections (one of them everything, the
rest 1-3 topics, some a source), readers spread over them by a Zipf-like weight, 20 %
of each monthly and owed the four issues (served 0), the weekly ones served up to
issue 4; ten more posts, and the slot of 7 December 2026 (the first Monday: monthly
readers due) decided.
  plan s     emails.editions.plan_issue: the grouping query, the issued posts each group
             is owed, and each edition rendered (render s of it)
  queue s    store.digests.save_issue: the issue, its editions, every reader's ledger
             row and `served` mark, in one transaction
  slot s     the whole decide_slot (the issue's own rendering and the read of posts too)
Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import postroom.emails.editions as editions_module
import postroom.emails.issues as issues_module
from postroom.content.intake import scan
from postroom.core.config import open_site
from postroom.core.selection import Selection
from postroom.store import Store
from postroom.store.schema import subscribers
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent

START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # a first Monday: the slot before the site
TAGS = (
    "adoption", "fostering", "child protection", "courts", "care leavers", "workforce",
    "social work education", "mental health", "disabled children", "youth justice", "send",
    "domestic abuse", "ofsted", "funding", "leadership", "residential care", "kinship care",
    "safeguarding", "early help", "practice",
)  # fmt: skip
SOURCES = ("Community Care", "Family Law Week", "The Guardian")
SELECTIONS = 50
MONTHLY_SHARE = 0.2
CONFIG = """[site]
base_url = "https://notes.example.org/"
title = "Practice Notes"
timezone = "UTC"
[digest]
schedule = "mon 07:00"
monthly = "first mon 07:00"
[store]
url = "{url}"
"""


@dataclass
class Result:
    store: str
    layout: str
    subscribers: int
    groups: int = 0
    editions: int = 0  # rendered for the slot (edition 0, the issue's own, not counted)
    queued: int = 0
    plan_s: float = 0.0
    render_s: float = 0.0
    queue_s: float = 0.0
    slot_s: float = 0.0


class Timer:
    """Seconds spent in a module-level function while a slot is decided, by wrapping it
    where `emails.issues` (or `emails.editions`) calls it."""

    def __init__(self, module, name: str) -> None:
        self.module, self.name, self.seconds, self.calls = module, name, 0.0, 0
        self.real = getattr(module, name)
        self.last = None

    def __enter__(self) -> Timer:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                self.last = self.real(*args, **kwargs)
                return self.last
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        setattr(self.module, self.name, timed)
        return self

    def __exit__(self, *_exc) -> None:
        setattr(self.module, self.name, self.real)


def selections(rng: random.Random) -> list[Selection]:
    chosen = [Selection()]  # everything: the most popular
    while len(chosen) < SELECTIONS:
        topics = rng.sample(TAGS, rng.choice([1, 1, 2, 3]))
        sources = [rng.choice(SOURCES)] if rng.random() < 0.15 else []
        found = Selection.of(topics, sources)
        if found not in chosen:
            chosen.append(found)
    return chosen


def write_posts(site, rng: random.Random, first: int, count: int) -> None:
    for n in range(first, first + count):
        tags = ", ".join(rng.sample(TAGS, rng.randint(1, 3)))
        body = (
            f"---\ntitle: Story {n:03d} on {tags}\ndate: 2016-06-{n % 28 + 1:02d}\n"
            f"source: {rng.choice(SOURCES)}\ntags: [{tags}]\n---\n"
            + "A paragraph of practice news, long enough to be a summary. " * 12
            + "\n"
        )
        path = site.content_dir / f"s{n:03d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")


def fill_list(store: Store, count: int, layout: str, rng: random.Random) -> None:
    """`count` active subscribers as the store keeps them, in one bulk insert."""
    chosen = selections(rng) if layout == "selections" else [Selection()]
    weights = [1 / (i + 1) for i in range(len(chosen))]
    stamp = START.isoformat()
    rows = []
    for n, selection in enumerate(rng.choices(chosen, weights, k=count)):
        monthly = layout == "selections" and rng.random() < MONTHLY_SHARE
        topics, sources = selection.stored()
        address = f"reader{n:06d}@example.org"
        rows.append({
            "address": address, "address_key": address, "name": "", "status": "active",
            "created_at": stamp, "updated_at": stamp, "topics": topics, "sources": sources,
            "cadence": "monthly" if monthly else "", "paused_until": "",
            "served": 0 if monthly else 4,
        })  # fmt: skip
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(subscribers), rows[start : start + 5000])


def one_run(url: str, store_name: str, layout: str, count: int) -> Result:
    rng = random.Random(18)
    folder = Path(tempfile.mkdtemp(prefix="postroom-selbench-"))
    try:
        (folder / "content").mkdir()
        db_url = url or f"sqlite:///{folder / 'postroom.db'}"
        (folder / "postroom.toml").write_text(CONFIG.format(url=db_url), encoding="utf-8")
        site = open_site(folder)
        store = Store(site.store_url)
        try:
            decide = issues_module.decide_slot
            assert decide(site, store, START + timedelta(hours=1)).outcome == "before-start"
            for week in range(1, 5):  # four issues with nobody subscribed yet
                write_posts(site, rng, week * 10, 10)
                slot = START + timedelta(weeks=week)
                scan(site, store, slot - timedelta(days=1))
                assert decide(site, store, slot + timedelta(hours=1)).outcome == "issued"
            fill_list(store, count, layout, rng)
            write_posts(site, rng, 50, 10)
            slot = START + timedelta(weeks=5)
            scan(site, store, slot - timedelta(days=1))
            result = Result(store_name, layout, count)
            with (
                Timer(issues_module, "plan_issue") as plan,
                Timer(editions_module, "render_digest") as render,
                Timer(issues_module, "save_issue") as save,
            ):
                started = time.perf_counter()
                decision = decide(site, store, slot + timedelta(hours=1))
                result.slot_s = time.perf_counter() - started
            assert decision.outcome == "issued", decision
            planned = plan.last
            result.groups, result.editions = len(planned.groups), len(planned.editions)
            result.plan_s, result.render_s, result.queue_s = (
                plan.seconds,
                render.seconds,
                save.seconds,
            )
            result.queued = save.last
            return result
        finally:
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Postgres:
    """A throwaway server (tests/pg/server, 127.0.0.1 only), fsync on as shipped."""

    SERVER = str(ROOT / "tests" / "pg" / "server")

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="postroom-selbench-pg-"))
        os.chmod(self.dir, 0o755)
        env = {**os.environ, "POSTROOM_PG_FSYNC": "on"}
        done = subprocess.run(
            [self.SERVER, "start", str(self.dir / "pg")], env=env, check=True, capture_output=True
        )
        self.base = done.stdout.decode().strip().rstrip("/")
        self.admin = create_engine(
            self.base.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres",
            isolation_level="AUTOCOMMIT",
        )

    def create(self, name: str) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return f"{self.base}/{name}"

    def stop(self) -> None:
        self.admin.dispose()
        subprocess.run([self.SERVER, "stop", str(self.dir / "pg")], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=100_000)
    p.add_argument("--stores", default="sqlite,postgresql")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    stores = args.stores.split(",")
    results: list[Result] = []
    pg = Postgres() if "postgresql" in stores else None
    try:
        for store in stores:
            for layout in ("everything", "selections"):
                url = pg.create(f"selbench_{layout}") if store == "postgresql" and pg else ""
                results.append(one_run(url, store, layout, args.subscribers))
                print(f"  {store} {layout}: {results[-1].slot_s:.2f} s", file=sys.stderr)
    finally:
        if pg is not None:
            pg.stop()
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    print(f"one slot, {args.subscribers:,} subscribers (machine: {os.cpu_count()} cores)")
    head = f"{'store':<11}{'layout':<12}{'groups':>7}{'editions':>9}{'queued':>9}"
    print(head + f"{'plan s':>8}{'render s':>9}{'queue s':>9}{'slot s':>8}")
    for r in results:
        print(
            f"{r.store:<11}{r.layout:<12}{r.groups:>7}{r.editions:>9}{r.queued:>9}"
            f"{r.plan_s:>8.2f}{r.render_s:>9.2f}{r.queue_s:>9.2f}{r.slot_s:>8.2f}"
        )
    for store in stores:
        one = {r.layout: r for r in results if r.store == store}
        base, sel = one["everything"], one["selections"]
        print(
            f"{store}: 50 selections / everything: plan x{sel.plan_s / base.plan_s:.1f},"
            f" queue x{sel.queue_s / base.queue_s:.2f}, slot x{sel.slot_s / base.slot_s:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
