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
from postroom.emails.issues import decide_slot, issue_waiting
from postroom.emails.proof import prepare_proof
from postroom.emails.transports import transport_for
from postroom.service.jobs import publish
from postroom.store.digests import (
    SlotOutcome,
    hold_issue,
    issue_by_number,
    slot_outcome,
)
from postroom.store.outbox import Outbox, State
from postroom.store.schema import digest_editions
from postroom.store.subscribers import Status
from selections_support import SECRET, Week, stories_of
from sqlalchemy import func, select

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
    w.reader("dan@example.org", sources=("Family Law Week",))
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
    # the issue's page holds the whole issue: an edition says so, edition 0 is a copy of it
    by = {m.to: m for m in mails}
    assert "The whole issue in your browser" in by["ann@example.org"].html
    assert "The whole issue in your browser:" in by["ann@example.org"].text
    assert "View it in your browser" in by["cat@example.org"].html


def test_a_preference_change_counts_from_the_next_slot(week):
    w = week()
    w.reader("ann@example.org", topics=("adoption",))
    first = w.post("adoption")
    w.post("courts")
    w.pick_up()
    w.choose("ann@example.org", topics=("courts",))  # after the pick-up, before the slot
    _, mails = w.slot()
    assert first not in stories_of(mails, "ann@example.org")  # the choice at the slot
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
        decision = decide_slot(w.site, w.store, now)
        publish(w.site, w.store, now)  # the archive page, as the service writes it
        w.send(now)
        mails = w.new_mail()
        assert sorted(m.to for m in mails) == people
        assert {m.subject for m in mails} == {decision.issue.subject}
        assert all(m.stories == posted for m in mails)
        assert set(w.editions().values()) == {0}
        page = w.site.public_dir / "digests" / str(decision.issue.number) / "index.html"
        assert all(s in page.read_text() for s in posted)
    with w.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(digest_editions)).scalar() == 0


def test_a_two_week_pause_skips_exactly_those_two_slots_and_resumes(week):
    w = week()
    w.reader("ann@example.org")
    w.reader("bob@example.org")
    one = w.post("courts")
    _, mails = w.slot()
    assert stories_of(mails, "ann@example.org") == {one}
    w.choose("ann@example.org", paused_until=w.slot_at + timedelta(hours=1, weeks=2))
    skipped = set()
    for _ in range(2):
        skipped.add(w.post("courts"))
        _, mails = w.slot()
        assert stories_of(mails, "ann@example.org") == set()
        assert stories_of(mails, "bob@example.org") <= skipped
    back = w.post("adoption")
    _, mails = w.slot()
    assert stories_of(mails, "ann@example.org") == {back}  # the paused weeks stay skipped
    assert stories_of(mails, "bob@example.org") == {back}


def test_monthly_readers_get_everything_since_their_last_digest_even_when_nothing_is_new(week):
    """Slots on Mondays from 2 November 2026; the first Monday of December has nothing new,
    so the monthly readers' digest is queued on the last issue; January's has new posts."""
    w = week(MONTHLY)
    w.reader("mo@example.org", cadence=Cadence.MONTHLY)
    w.reader("ad@example.org", topics=("adoption",), cadence=Cadence.MONTHLY)
    w.reader("wk@example.org")
    november, adoption = set(), set()
    for _ in range(4):  # 9, 16, 23 and 30 November
        november.add(w.post("courts"))
        adoption.add(w.post("adoption"))
        _, mails = w.slot()
        assert {m.to for m in mails} == {"wk@example.org"}
    decision, mails = w.slot()  # 7 December: the first Monday, nothing new
    assert decision.outcome is SlotOutcome.EMPTY and w.slot_at.day == 7
    assert stories_of(mails, "mo@example.org") == november | adoption
    assert stories_of(mails, "ad@example.org") == adoption
    assert stories_of(mails, "wk@example.org") == set()
    assert {m.issue for m in mails} == {4}  # on the last issue, as editions of it
    december = set()
    for _ in range(4):  # 14, 21, 28 December and 4 January: the first Monday
        december.add(w.post("adoption"))
        _, mails = w.slot()
    assert w.slot_at.day == 4 and w.slot_at.month == 1
    assert stories_of(mails, "mo@example.org") == december  # nothing of November again
    assert stories_of(mails, "ad@example.org") == december
    decision, mails = w.slot()  # 11 January: nothing new, not a monthly slot
    assert decision.outcome is SlotOutcome.EMPTY and mails == []


def test_off_gets_nothing_and_after_turning_weekly_only_later_posts(week):
    w = week()
    w.reader("off@example.org", cadence=Cadence.OFF)
    w.reader("on@example.org")
    for _ in range(2):
        w.post("courts")
        _, mails = w.slot()
        assert {m.to for m in mails} == {"on@example.org"}
    w.choose("off@example.org", cadence=Cadence.WEEKLY)
    later = w.post("courts")
    _, mails = w.slot()
    assert stories_of(mails, "off@example.org") == {later}


def test_the_site_default_cadence_is_for_readers_who_never_chose(week):
    w = week(MONTHLY + 'cadence = "monthly"\n')
    w.reader("default@example.org")
    w.reader("weekly@example.org", cadence=Cadence.WEEKLY)
    first = w.post("courts")
    _, mails = w.slot()
    assert {m.to for m in mails} == {"weekly@example.org"}
    for _ in range(3):
        w.slot()
    _, mails = w.slot()  # 7 December
    assert stories_of(mails, "default@example.org") == {first}


def test_proofs_still_issue_each_readers_own_edition_at_the_slot(week):
    w = week(
        "proof_hours = 24\n",
        '[curator]\nemail = "editor@notes.example.org"\n',
    )
    w.reader("ann@example.org", topics=("adoption",))
    w.reader("all@example.org")
    a = w.post("adoption")
    c = w.post("courts")
    w.pick_up()
    slot = w.next_slot
    found = prepare_proof(w.site, w.store, slot - timedelta(hours=2))  # the proof: frozen
    assert found is not None and found.outcome is SlotOutcome.PROOF
    late = w.post("adoption")  # after the proof: the next issue's
    w.choose("all@example.org", topics=("courts",))  # counts at the slot
    decision, mails = w.slot()
    assert decision.outcome is SlotOutcome.ISSUED
    assert stories_of(mails, "ann@example.org") == {a}
    assert stories_of(mails, "all@example.org") == {c}
    _, mails = w.slot()
    assert stories_of(mails, "ann@example.org") == {late}
    assert stories_of(mails, "all@example.org") == set()


def test_a_held_issue_sent_after_the_next_one_went_out_still_reaches_everyone(week):
    """Held at its slot, sent by hand a week later after the next issue went out: its
    readers (served past it by then) get its posts, and nothing of the later issue again."""
    w = week("proof_hours = 24\n", '[curator]\nemail = "editor@notes.example.org"\n')
    w.reader("ann@example.org", topics=("adoption",))
    w.reader("all@example.org")
    held = {w.post("adoption"), w.post("courts")}
    w.pick_up()
    found = prepare_proof(w.site, w.store, w.next_slot - timedelta(hours=2))
    assert hold_issue(w.store, found.slot, found.issue.number)
    decision, mails = w.slot()
    assert decision.outcome is SlotOutcome.HELD and mails == []
    later = w.post("adoption")
    w.pick_up(w.next_slot - timedelta(hours=30))  # before the next proof's window
    decision, mails = w.slot()  # the next week: issue 2 goes out (its proof unanswered)
    assert decision.issue.number == 2
    assert stories_of(mails, "ann@example.org") == {later}
    now = w.slot_at + timedelta(hours=3)
    waiting = (SlotOutcome.PROOF, SlotOutcome.HELD)
    assert issue_waiting(w.site, w.store, found.slot, found.issue.number, now, waiting)
    w.send(now)
    mails = w.new_mail()
    assert stories_of(mails, "all@example.org") == held
    assert stories_of(mails, "ann@example.org") == {s for s in held if "0001" in s}
    assert slot_outcome(w.store, found.slot) is SlotOutcome.ISSUED


def test_a_monthly_pause_between_its_slots_loses_nothing_it_was_not_paused_for(week):
    """A monthly reader paused for the middle weeks of a month has no digest in them to
    skip: the month's digest still holds every post (served moves only at a due slot)."""
    w = week(MONTHLY)
    w.reader("mo@example.org", cadence=Cadence.MONTHLY)
    before = w.post("courts")
    w.slot()  # 9 November
    w.choose("mo@example.org", cadence=Cadence.MONTHLY,
             paused_until=w.slot_at + timedelta(weeks=2, hours=1))  # fmt: skip
    during = {w.post("courts"), w.post("courts")}
    w.slot()  # 16 November, paused
    w.slot()  # 23 November, paused
    after = w.post("courts")
    w.slot()  # 30 November
    _, mails = w.slot()  # 7 December
    assert stories_of(mails, "mo@example.org") == {before, after, *during}


def test_a_reader_back_from_a_bounce_gets_new_posts_only_as_before(week):
    """Set active again after a bounce (or an unsubscribe), a reader of everything gets the
    next issue, not every issue made while they were away."""
    w = week()
    w.reader("ann@example.org")
    w.reader("bob@example.org")
    w.book.set_status("ann@example.org", Status.BOUNCED)
    for _ in range(2):
        w.post("courts")
        _, mails = w.slot()
        assert {m.to for m in mails} == {"bob@example.org"}
    w.book.set_status("ann@example.org", Status.ACTIVE)
    new = w.post("courts")
    _, mails = w.slot()
    assert stories_of(mails, "ann@example.org") == {new}
    assert w.editions()[w.ids["ann@example.org"]] == 0  # the issue's own, as everyone's


def test_a_sender_already_running_an_issue_sends_an_edition_added_to_it_later(week):
    """A monthly slot with nothing new adds an edition to the last issue: a Delivery made
    before that (a worker mid-send) reads it from the store instead of failing the rows."""
    w = week(MONTHLY)
    w.reader("mo@example.org", topics=("courts",), cadence=Cadence.MONTHLY)
    w.reader("wk@example.org")
    for _ in range(4):
        w.post("courts")
        w.post("policy")
        w.slot()
    issue = issue_by_number(w.store, 4)
    running = Delivery(w.site, w.store, issue, transport_for(w.site), SECRET)
    w.pick_up()
    w.slot_at = w.next_slot
    decision = decide_slot(w.site, w.store, w.slot_at + timedelta(hours=1))
    assert decision.outcome is SlotOutcome.EMPTY
    report = running.run()
    assert (report.sent, report.failed) == (1, 0)
    mails = w.new_mail()
    assert len(stories_of(mails, "mo@example.org")) == 4
    assert Outbox(w.store, "t:1").counts()[4] == {State.SENT: 2}


def test_a_monthly_reader_turned_weekly_gets_what_is_owed_at_the_next_slot_even_if_empty(week):
    w = week(MONTHLY)
    w.reader("mo@example.org", cadence=Cadence.MONTHLY)
    owed = {w.post("courts"), w.post("adoption")}
    w.slot()  # 9 November: not a monthly slot
    w.choose("mo@example.org", cadence=Cadence.WEEKLY)
    decision, mails = w.slot()  # 16 November: nothing new
    assert decision.outcome is SlotOutcome.EMPTY
    assert stories_of(mails, "mo@example.org") == owed
    _, mails = w.slot()
    assert mails == []


TAGS = ("adoption", "fostering", "courts", "policy", "workforce")
SOURCES = ("Community Care", "Family Law Week", "The Guardian")


@pytest.mark.parametrize("seed", [7, 2026])
def test_a_random_walk_of_choices_never_sends_a_post_twice_and_never_loses_one(week, seed):
    """Six readers change topics, sources, cadence, pauses and off at random over 30 weekly
    slots (monthly on first Mondays; some slots with nothing new). Against a model of
    what each is owed: at a slot they are due at, not paused nor off, a reader gets
    exactly the posts issued since their last digest (or pass) that match what they
    chose then; off, or paused when due, they get nothing and what was owed is dropped;
    and no post ever reaches anyone twice."""
    rng = random.Random(seed)
    w = week(MONTHLY)
    people = [f"p{n}@example.org" for n in range(6)]
    meta: dict[str, tuple[set[str], str]] = {}  # story -> (tags, source)
    chosen: dict[str, tuple[tuple, tuple, Cadence | None, object]] = {}
    owed: dict[str, list[str]] = {p: [] for p in people}
    got: dict[str, list[str]] = {p: [] for p in people}
    for p in people:
        w.reader(p)
        chosen[p] = ((), (), None, None)

    def matches(story: str, topics: tuple, sources: tuple) -> bool:
        tags, source = meta[story]
        return not (topics or sources) or bool(tags & set(topics)) or source in sources

    for _ in range(30):
        for p in people:
            if rng.random() < 0.35:
                topics, sources, cadence, _ = chosen[p]
                if rng.random() < 0.25:  # a pause of one to three weeks, choices kept
                    until = w.slot_at + timedelta(weeks=rng.randint(1, 3), hours=1)
                else:
                    topics = tuple(rng.sample(TAGS, rng.choice([0, 0, 1, 2])))
                    sources = tuple(rng.sample(SOURCES, rng.choice([0, 0, 0, 1])))
                    cadence = rng.choice([None, Cadence.WEEKLY, Cadence.MONTHLY, Cadence.OFF])
                    until = None
                w.choose(p, topics, sources, cadence, until)
                chosen[p] = (topics, sources, cadence, until)
        new = []
        for _ in range(rng.choice([0, 1, 2, 3])):
            tags = set(rng.sample(TAGS, rng.randint(1, 2)))
            source = rng.choice(SOURCES)
            story = w.post(*sorted(tags), source=source)
            meta[story] = (tags, source)
            new.append(story)
        decision, mails = w.slot()
        assert (decision.outcome is SlotOutcome.ISSUED) == bool(new), decision
        if new:
            assert len(decision.issue.post_ids) == len(new)
        monthly = w.slot_at.day <= 7
        for p in people:
            topics, sources, cadence, until = chosen[p]
            cadence = cadence or Cadence.WEEKLY
            due = cadence is Cadence.WEEKLY or (cadence is Cadence.MONTHLY and monthly)
            paused = until is not None and until > w.slot_at
            owed[p] += new
            expected: set[str] = set()
            if cadence is Cadence.OFF or (due and paused):
                owed[p] = []
            elif due:
                expected = {s for s in owed[p] if matches(s, topics, sources)}
                owed[p] = []
            received = stories_of(mails, p)
            assert received == expected, (p, w.slot_at, chosen[p], received, expected)
            got[p] += sorted(received)
    for p in people:
        assert len(got[p]) == len(set(got[p])), p  # never twice
    assert sum(len(g) for g in got.values()) > 60  # the walk sent a good deal


def test_the_readme_example_three_readers_across_four_weeks(week):
    """The worked example in the README, slot by slot."""
    w = week(MONTHLY)
    w.reader("ann@example.org")
    ben = w.reader("ben@example.org", topics=("adoption", "fostering"))
    assert w.slot()[0].outcome is SlotOutcome.EMPTY  # 9 November: nothing yet
    cat = w.reader("cat@example.org", topics=("courts",), cadence=Cadence.MONTHLY)
    a1, c1 = w.post("adoption"), w.post("courts")
    _, mails = w.slot()  # 16 November: issue 1
    assert stories_of(mails, "ann@example.org") == {a1, c1}
    assert stories_of(mails, "ben@example.org") == {a1}
    assert stories_of(mails, "cat@example.org") == set()
    assert w.editions()[ben] == 1
    w.choose("ben@example.org", ("adoption", "fostering"),
             paused_until=w.slot_at + timedelta(days=16))  # fmt: skip
    f2, p2 = w.post("fostering"), w.post("policy")
    _, mails = w.slot()  # 23 November
    assert stories_of(mails, "ann@example.org") == {f2, p2}
    assert {m.to for m in mails} == {"ann@example.org"}
    c3, a3 = w.post("courts"), w.post("adoption", "courts")
    _, mails = w.slot()  # 30 November
    assert {m.to for m in mails} == {"ann@example.org"}
    a4 = w.post("adoption")
    _, mails = w.slot()  # 7 December, the first Monday
    assert stories_of(mails, "ann@example.org") == {a4}
    assert stories_of(mails, "ben@example.org") == {a4}
    assert stories_of(mails, "cat@example.org") == {c1, c3, a3}
    assert {m.issue for m in mails} == {4}
    editions = w.editions()
    assert (editions[ben], editions[cat]) == (0, 1)


def test_a_held_issue_sent_late_costs_a_reader_paused_at_its_slot_nothing(week):
    """A held issue sent after a later one went out makes every reader due, monthly ones
    too; one paused at the held slot's time is then left as they are (not passed over
    to it, which dropped the held issue and every issue since their last digest), and
    gets its posts with their next digest."""
    curator = '[curator]\nemail = "editor@notes.example.org"\n'
    w = week('proof_hours = 24\nmonthly = "first mon 07:00"\n', curator)
    w.reader("mo@example.org", cadence=Cadence.MONTHLY)
    a = w.post("courts")
    w.slot()  # 9 Nov: issue 1; not a monthly slot
    w.choose("mo@example.org", cadence=Cadence.MONTHLY,
             paused_until=w.slot_at + timedelta(weeks=1, hours=1))  # fmt: skip
    b = w.post("courts")
    w.pick_up()
    found = prepare_proof(w.site, w.store, w.next_slot - timedelta(hours=2))
    assert found is not None and found.issue is not None
    assert hold_issue(w.store, found.slot, found.issue.number)  # issue 2, held
    w.slot()  # 16 Nov: held, mo paused
    c = w.post("courts")
    w.pick_up(w.next_slot - timedelta(hours=30))
    decision, _ = w.slot()  # 23 Nov: issue 3
    assert decision.issue is not None and decision.issue.number == 3
    now = w.slot_at + timedelta(hours=3)
    waiting = (SlotOutcome.PROOF, SlotOutcome.HELD)
    assert issue_waiting(w.site, w.store, found.slot, found.issue.number, now, waiting)
    w.send(now)
    got = stories_of(w.new_mail(), "mo@example.org")
    w.slot()  # 30 Nov
    _, mails = w.slot()  # 7 Dec: the first Monday
    assert got | stories_of(mails, "mo@example.org") == {a, b, c}


def test_a_reader_who_chose_monthly_where_the_site_sends_none_gets_the_weekly(week):
    """`monthly` from an import's column, or a site that dropped `digest.monthly`: such a
    reader was never due and never passed over, and got nothing, silently."""
    w = week()
    w.reader("mo@example.org", cadence=Cadence.MONTHLY)
    a = w.post("courts")
    _, mails = w.slot()
    assert stories_of(mails, "mo@example.org") == {a}


def test_a_held_issue_sent_late_reaches_a_weekly_reader_whose_pause_has_ended(week):
    """A weekly reader paused at the held issue's slot was left out when it was sent after
    the next issue (paused then, by the held slot's clock), and served past it by then:
    its posts never reached them. Paused or not is now as at the moment it goes."""
    curator = '[curator]\nemail = "editor@notes.example.org"\n'
    w = week("proof_hours = 24\n", curator)
    w.reader("ben@example.org", topics=("adoption",))
    w.slot()  # 9 Nov: nothing yet
    w.choose("ben@example.org", topics=("adoption",),
             paused_until=w.slot_at + timedelta(weeks=1, days=3))  # fmt: skip
    held = w.post("adoption")
    w.pick_up()
    found = prepare_proof(w.site, w.store, w.next_slot - timedelta(hours=2))
    assert found is not None and found.issue is not None
    assert hold_issue(w.store, found.slot, found.issue.number)
    w.slot()  # 16 Nov: held; ben paused
    later = w.post("adoption")
    w.pick_up(w.next_slot - timedelta(hours=30))
    _, mails = w.slot()  # 23 Nov: the next issue; ben's pause is over
    got = stories_of(mails, "ben@example.org")
    now = w.slot_at + timedelta(hours=3)
    waiting = (SlotOutcome.PROOF, SlotOutcome.HELD)
    assert issue_waiting(w.site, w.store, found.slot, found.issue.number, now, waiting)
    w.send(now)
    got |= stories_of(w.new_mail(), "ben@example.org")
    assert got == {held, later}
