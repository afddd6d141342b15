"""Readers' selections and cadences end to end: a real store (SQLite, and PostgreSQL on its
pass), slots decided by the service's own `decide_slot` (and the proof's functions) on a
clock the test moves, real messages written by the files transport and read back.

What each test holds to: each post reaches each person at most once; a reader gets every
post that matched what they chose at each slot they were due, unless paused or off then;
and a site that configures nothing mails as it always did.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from postroom.core.model import Cadence
from postroom.emails.delivery import Delivery
from postroom.emails.issues import issue_waiting
from postroom.emails.proof import prepare_proof
from postroom.emails.transports import transport_for
from postroom.service.jobs import publish
from postroom.store.digests import (
    SlotOutcome,
    all_issues,
    hold_issue,
    issue_by_number,
    slot_outcome,
)
from postroom.store.outbox import Outbox, State
from selections_support import SECRET, Week, by_reader, stories_of

MONTHLY = 'monthly = "first mon 07:00"\n'


@pytest.fixture
def week(tmp_path):
    made: list[Week] = []

    def make(digest: str = "", more: str = "") -> Week:
        made.append(Week(tmp_path / f"site{len(made)}", digest, more))
        return made[-1]

    yield make
    for w in made:
        w.close()


def test_two_readers_with_different_topics_get_different_issues_from_one_slot(week):
    w = week()
    w.reader("ann@example.org", topics=("Adoption",))
    w.reader("bob@example.org", topics=("courts",))
    cat = w.reader("cat@example.org")
    dan = w.reader("dan@example.org", sources=("Family Law Week",))
    a = w.post("adoption")
    c = w.post("courts")
    both = w.post("adoption", "courts")
    other = w.post("policy")
    law = w.post("policy", source="Family Law Week")
    decision, mails = w.slot()
    issue = decision.issue
    assert decision.outcome is SlotOutcome.ISSUED and len(issue.post_ids) == 5
    assert stories_of(mails, "ann@example.org") == {a, both}
    assert stories_of(mails, "bob@example.org") == {c, both}
    assert stories_of(mails, "cat@example.org") == {a, c, both, other, law}
    assert stories_of(mails, "dan@example.org") == {law}
    # four renderings of one issue, each subject saying what its reader got
    subjects = {m.to: m.subject for m in mails}
    assert subjects["dan@example.org"].startswith(law) and "+" not in subjects["dan@example.org"]
    assert subjects["ann@example.org"].endswith("+ 1 more")
    assert all(m.issue == issue.number for m in mails)
    # the reader of everything gets the issue's own parts: its subject, the archive's posts
    assert subjects["cat@example.org"] == issue.subject
    editions = w.editions()
    assert editions[cat] == 0 and len(set(editions.values())) == 4
    assert "preferences?token=" in next(m.text for m in mails if m.to == "ann@example.org")


def test_a_preference_change_counts_from_the_next_slot(week):
    w = week()
    ann = w.ids.get("ann") or w.reader("ann@example.org", topics=("adoption",))
    first = w.post("adoption")
    w.post("courts")
    w.pick_up()
    w.choose("ann@example.org", topics=("courts",))  # after the pick-up, before the slot
    _, mails = w.slot()
    assert ann and stories_of(mails, "ann@example.org") != {first}  # the choice at the slot
    later_courts = w.post("courts")
    w.post("adoption")
    w.pick_up()
    _, mails = w.slot()
    assert stories_of(mails, "ann@example.org") == {later_courts}


def test_a_reader_of_everything_on_a_site_that_configures_nothing_gets_what_everyone_got(week):
    """No selections, no cadences: one rendering (the issue's own, as its archive page),
    every active subscriber one message of it, at every slot, as before readers chose."""
    w = week()
    people = [f"r{n}@example.org" for n in range(4)]
    for p in people:
        w.reader(p)
    for slot in range(3):
        posted = {w.post("adoption" if slot % 2 else "courts") for _ in range(slot + 1)}
        w.pick_up()
        w.slot_at = w.next_slot
        now = w.slot_at + timedelta(hours=1)
        from postroom.emails.issues import decide_slot

        decision = decide_slot(w.site, w.store, now)
        publish(w.site, w.store, now)  # the archive page, as the service writes it
        w.send(now)
        mails = w.new_mail()
        assert sorted(m.to for m in mails) == people
        assert {m.subject for m in mails} == {decision.issue.subject}
        assert all(m.stories == posted for m in mails)
        assert set(w.editions().values()) == {0}
        page = (w.site.public_dir / "digests" / str(decision.issue.number) / "index.html")
        assert all(s in page.read_text() for s in posted)
    with w.store.engine.connect() as conn:
        from postroom.store.schema import digest_editions
        from sqlalchemy import func, select

        assert conn.execute(select(func.count()).select_from(digest_editions)).scalar() == 0
