"""The weekly slot (DST-correct), deciding each slot once, and the sender lease."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from postroom.content.intake import scan
from postroom.core.config import ConfigError
from postroom.core.schedule import is_monthly_slot, latest_slot, next_slot, parse_schedule
from postroom.core.signals import issue_issued
from postroom.emails.issues import decide_slot
from postroom.store import Store
from postroom.store.digests import SlotOutcome, all_issues
from postroom.store.leases import Lease
from postroom.store.schema import digest_slots
from sqlalchemy import select
from support import make_site, write

LONDON = ZoneInfo("Europe/London")


def test_slots_keep_wall_time_across_both_dst_changes():
    # 2026: clocks go forward on 29 March and back on 25 October
    before_spring = latest_slot("mon 07:00", LONDON, datetime(2026, 3, 27, 12, tzinfo=UTC))
    assert before_spring == datetime(2026, 3, 23, 7, tzinfo=UTC)
    after_spring = next_slot("mon 07:00", LONDON, datetime(2026, 3, 27, 12, tzinfo=UTC))
    assert after_spring == datetime(2026, 3, 30, 6, tzinfo=UTC)  # 07:00 BST
    after_autumn = next_slot("mon 07:00", LONDON, datetime(2026, 10, 21, tzinfo=UTC))
    assert after_autumn == datetime(2026, 10, 26, 7, tzinfo=UTC)  # 07:00 GMT again
    gap = latest_slot("sun 01:30", LONDON, datetime(2026, 3, 29, 12, tzinfo=UTC))
    assert gap.astimezone(LONDON).hour == 2  # 01:30 does not exist that day: just after
    twice = latest_slot("sun 01:30", LONDON, datetime(2026, 10, 25, 12, tzinfo=UTC))
    assert twice == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 01:30 (BST)


def test_a_slot_exactly_now_is_due():
    now = datetime(2026, 11, 23, 7, tzinfo=UTC)
    assert latest_slot("monday 07:00", LONDON, now) == now


@pytest.mark.parametrize("rule", ["1 07:00", "mon", "funday 07:00", "mon 25:00"])
def test_bad_rules_are_refused_with_the_key(tmp_path, rule):
    with pytest.raises(ValueError):
        parse_schedule(rule)
    with pytest.raises(ConfigError, match=r"digest\.schedule"):
        make_site(tmp_path, config=f'[digest]\nschedule = "{rule}"\n')


def test_each_slot_is_decided_once(tmp_path):
    site = make_site(tmp_path, config='[digest]\nschedule = "mon 07:00"\nlate_limit_hours = 48\n')
    store = Store(site.store_url)
    monday = datetime(2026, 11, 2, 7, tzinfo=UTC)
    announced = []

    def note(sender, *, issue, posts):
        announced.append((issue.number, len(posts)))

    issue_issued.connect(note)
    try:
        write(site.content_dir / "a.md", "---\ntitle: A\ndate: 2016-06-23\n---\nA.\n")
        scan(site, store, monday - timedelta(days=3))
        first = decide_slot(site, store, monday + timedelta(hours=1))
        assert first.outcome == "before-start" and first.issue is None  # a new site
        again = decide_slot(site, store, monday + timedelta(hours=2))
        assert again.already and again.outcome == "before-start"

        week2 = decide_slot(site, store, monday + timedelta(days=7, hours=1))
        assert week2.outcome == "issued" and week2.issue.number == 1
        assert decide_slot(site, store, monday + timedelta(days=7, hours=9)).already

        assert decide_slot(site, store, monday + timedelta(days=14)).outcome == "empty"

        write(site.content_dir / "b.md", "---\ntitle: B\ndate: 2016-06-24\n---\nB.\n")
        scan(site, store, monday + timedelta(days=15))
        late = decide_slot(site, store, monday + timedelta(days=21, hours=50))
        assert late.outcome == "late" and late.issue is None  # down too long: skipped
        week5 = decide_slot(site, store, monday + timedelta(days=28, hours=1))
        assert week5.outcome == "issued" and len(week5.issue.post_ids) == 1  # B rolled over
        assert [i.number for i in all_issues(store)] == [1, 2]
        with store.engine.connect() as conn:
            kept = conn.execute(select(digest_slots.c.outcome).order_by(digest_slots.c.slot))
            kept = kept.scalars().all()
    finally:
        issue_issued.disconnect(note)
        store.close()
    assert announced == [(1, 1), (2, 1)]  # the two issues made, each once; no other slot
    # the words kept in the database, logged and shown in --json, are the enum's values
    assert kept == ["before-start", "issued", "empty", "late", "issued"]
    assert isinstance(late.outcome, SlotOutcome) and isinstance(again.outcome, SlotOutcome)
    assert f"({late.outcome})" == "(late)" and json.dumps(first.outcome) == '"before-start"'


def test_one_sender_at_a_time_and_a_dead_one_does_not_block(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    now = datetime(2026, 11, 23, 7, tzinfo=UTC)
    try:
        mine, theirs = Lease(store, "sender"), Lease(store, "sender")
        theirs.holder = "other-host:1"
        assert mine.acquire(now)
        assert not theirs.acquire(now)  # held and live
        assert theirs.acquire(now + timedelta(minutes=2))  # expired: taken over
        assert not mine.acquire(now + timedelta(minutes=2, seconds=1))
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        theirs.release()
        dead = Lease(store, "sender")
        dead.holder = f"{mine.holder.rpartition(':')[0]}:{gone.stdout.strip()}"
        assert dead.acquire(now)
        assert mine.acquire(now)  # its process is gone: no need to wait for expiry
    finally:
        store.close()


@pytest.mark.parametrize(
    ("rule", "mondays"),
    [
        # Mondays of November 2026: 2, 9, 16, 23, 30; of February 2027: 1, 8, 15, 22
        ("first mon 07:00", {(11, 2), (2, 1)}),
        ("second mon 07:00", {(11, 9), (2, 8)}),
        ("fourth mon 07:00", {(11, 23), (2, 22)}),
        ("last mon 07:00", {(11, 30), (2, 22)}),  # a fifth Monday is the last; else the fourth
    ],
)
def test_a_monthly_slot_is_the_weekly_slot_of_its_week_of_the_month(rule, mondays):
    weeks = [datetime(2026, 11, 2, 7, tzinfo=UTC) + timedelta(weeks=n) for n in range(5)]
    weeks += [datetime(2027, 2, 1, 7, tzinfo=UTC) + timedelta(weeks=n) for n in range(4)]
    found = {(w.month, w.day) for w in weeks if is_monthly_slot(rule, LONDON, w)}
    assert found == mondays


def test_a_monthly_slot_is_counted_on_the_sites_calendar_not_utcs():
    # 00:30 on Monday 1 June in London is 23:30 UTC on Sunday 31 May: the first Monday
    first = latest_slot("mon 00:30", LONDON, datetime(2026, 6, 1, 12, tzinfo=UTC))
    assert first.day == 31 and is_monthly_slot("first mon 00:30", LONDON, first)
    assert not is_monthly_slot("last mon 00:30", LONDON, first)
