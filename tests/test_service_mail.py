"""The service and the weekly digest across restarts, kills and rivals: real `postroom run`
processes, a real SMTP server, time moved with POSTROOM_CLOCK_OFFSET instead of waiting.

Each site (service_support.mail_site) is started once with the real clock (`run --once`):
that records the slot before the site began, as a new site does, and picks its posts up.
The service is then started "after" the next slot by a clock offset, as if it had been
down across it.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

from service_support import Service, issues, mail_site, offset_to, postroom, wait_until
from smtp_sink import Script, SmtpSink
from support import write


def already_decided(event: dict) -> bool:
    """The digest job found the slot decided (by a run before, or by another process)."""
    return event["event"] == "digest" and event.get("already") is True


def test_down_across_the_fire_time_sends_the_week_once(tmp_path):
    with SmtpSink() as sink:
        site, people = mail_site(tmp_path, sink, people=5)
        two_days_late = offset_to(site, timedelta(days=2))
        with Service(site.root, clock_offset=two_days_late) as service:
            service.wait_for(lambda e: e["event"] == "send" and e.get("sent") == 5)
            assert service.terminate()[0] == 0
        assert sorted(sink.counts()) == people and set(sink.counts().values()) == {1}
        [made] = service.where("digest")
        assert made["issue"] == 1 and made["posts"] == 2

        with Service(site.root, clock_offset=two_days_late + 5) as again:  # restarted: no more
            [decided] = again.wait_for(already_decided)  # the digest job at start
            assert again.terminate()[0] == 0
        assert decided["slot"] == made["slot"] and decided["outcome"] == "issued"
        assert again.where("digest") == [decided] and not again.where("send")
        assert len(sink.received) == 5
    [issue] = issues(site, two_days_late)
    assert (issue["sent"], issue["queued"], issue["posts"]) == (5, 0, 2)


def test_down_past_the_late_limit_skips_the_week_and_rolls_posts_over(tmp_path):
    with SmtpSink() as sink:
        site, people = mail_site(tmp_path, sink, people=3)
        four_days_late = offset_to(site, timedelta(days=4))  # the limit is 72 hours
        with Service(site.root, clock_offset=four_days_late) as service:
            [late] = service.wait_for(lambda e: e["event"] == "digest")
            assert service.terminate()[0] == 0
        assert late["outcome"] == "late" and not sink.received and not issues(site)

        next_week = offset_to(site, timedelta(minutes=5), weeks=1)
        with Service(site.root, clock_offset=next_week) as service:
            service.wait_for(lambda e: e["event"] == "send" and e.get("sent") == 3)
            assert service.terminate()[0] == 0
        [made] = service.where("digest")
        assert made["posts"] == 2  # the skipped week's posts came along
        assert sorted(sink.counts()) == people and set(sink.counts().values()) == {1}


def copies_and_ids(sink: SmtpSink) -> tuple[dict[str, int], dict[str, set[str]]]:
    """How many messages each recipient got, and the Message-IDs of the copies of each
    recipient who got more than one (one copy has one Message-ID: only repeats can
    differ, so only theirs are parsed, headers only; 20,000 whole digests took 40 s)."""
    received = sink.received
    copies = Counter(r.recipient for r in received)
    ids: dict[str, set[str]] = defaultdict(set)
    for r in received:
        if copies[r.recipient] > 1:
            ids[r.recipient].add(r.headers["Message-ID"])
    return copies, ids


def kill_three_times_then_finish(site, sink: SmtpSink, people_count: int, late: float) -> int:
    """The service started after the slot and SIGKILLed mid-send three times (at random
    counts sent), then let finish; how many kills landed."""
    rng, kills = random.Random(4), 0
    for threshold in sorted(rng.sample(range(50, people_count - 100), 3)):
        with Service(site.root, clock_offset=late) as service:
            wait_until(
                lambda t=threshold, p=service.process: (
                    len(sink.received) >= t or p.poll() is not None
                ),
                60,
                "the service sent nothing",
            )
            if service.process.poll() is None:
                service.kill()
                kills += 1
    with Service(site.root, clock_offset=late) as service:
        wait_until(lambda: len(sink.counts()) == people_count, 60, "someone was never sent")
        service.wait_for(lambda e: e["event"] == "send" and "sent" in e)
        assert service.terminate()[0] == 0
    return kills


def test_sigkill_mid_send_then_restart_reaches_everyone_once(tmp_path):
    people_count = 600
    with SmtpSink() as sink:
        site, people = mail_site(tmp_path, sink, people=people_count)
        late = offset_to(site, timedelta(hours=1))
        kills = kill_three_times_then_finish(site, sink, people_count, late)
        copies, ids = copies_and_ids(sink)
    assert kills == 3
    assert sorted(copies) == people
    assert sum(n - 1 for n in copies.values()) <= kills * 2  # only what was in flight
    assert all(len(message_ids) == 1 for message_ids in ids.values())
    [issue] = issues(site, late)
    assert (issue["sent"], issue["queued"], issue["failed"]) == (people_count, 0, 0)


#: what readers chose, by the CSV's topics cell, and the stories (by title) each edition holds
CHOICES = {
    "adoption": {"Adoption story", "Both story"},
    "courts": {"Courts story", "Both story"},
    "": {"Adoption story", "Courts story", "Both story", "Policy story", "Post 0", "Post 1"},
}


def test_sigkill_mid_send_with_selections_gives_each_person_their_edition_once(tmp_path):
    """Readers of three selections (one issue, three renderings): after three SIGKILLs
    mid-send and a restart, each person has exactly one message of the issue, and it is
    their edition: its stories (in both parts) are the ones they chose."""
    people_count = 600
    with SmtpSink() as sink:
        site, _ = mail_site(tmp_path, sink, people=0)
        stories = [("Adoption story", "adoption"), ("Courts story", "courts"),
                   ("Both story", "adoption, courts"), ("Policy story", "policy")]  # fmt: skip
        for n, (title, tags) in enumerate(stories):
            front = f"title: {title}\ndate: 2016-06-2{n}\ntags: [{tags}]\n"
            write(site.content_dir / f"s{n}.md", f"---\n{front}---\nBody.\n")
        picked = postroom(site.root, "run", "--once")  # before the slot: in its issue
        assert picked.returncode == 0 and "4 new" in picked.stdout, picked.stdout
        topics = list(CHOICES)
        chose = {f"reader{n:05d}@example.org": topics[n % 3] for n in range(people_count)}
        write(site.root / "chosen.csv",
              "email,topics\n" + "".join(f"{a},{t}\n" for a, t in chose.items()))  # fmt: skip
        imported = postroom(site.root, "subscribers", "import", str(site.root / "chosen.csv"))
        assert imported.returncode == 0, imported.stderr
        late = offset_to(site, timedelta(hours=1))
        kills = kill_three_times_then_finish(site, sink, people_count, late)
        copies, ids = copies_and_ids(sink)
        got: dict[str, set[str]] = defaultdict(set)
        for r in sink.received:
            message = r.message  # parsed once for both parts
            text = message.get_body(("plain",)).get_content()
            html = message.get_body(("html",)).get_content()
            found = {t for t in CHOICES[""] if t in text}
            assert found == {t for t in CHOICES[""] if t in html}
            got[r.recipient] |= found
    assert kills == 3
    assert sorted(copies) == sorted(chose)
    assert all(len(message_ids) == 1 for message_ids in ids.values())  # one message each
    assert sum(n - 1 for n in copies.values()) <= kills * 2  # only what was in flight
    for address, topic in chose.items():
        assert got[address] == CHOICES[topic], address
    [issue] = issues(site, late)
    assert (issue["sent"], issue["queued"], issue["failed"]) == (people_count, 0, 0)


def test_two_services_at_once_make_one_issue_and_the_standby_takes_over(tmp_path):
    with SmtpSink() as sink:
        site, people = mail_site(tmp_path, sink, people=200)
        late = offset_to(site, timedelta(hours=1))
        with (
            Service(site.root, clock_offset=late) as one,
            Service(site.root, clock_offset=late) as two,
        ):
            wait_until(lambda: len(sink.received) >= 200, 60, "the issue was not sent")
            for service in (one, two):  # each has run the site or stood by, and said so
                service.wait_for(lambda e: e["event"] == "lease")
            standby, active = (one, two) if "standby" in str(one.where("lease")) else (two, one)
            assert "standby" not in str(active.where("lease"))  # exactly one stood by
            assert "standby" in str(standby.where("lease"))
            assert not standby.where("digest") and not standby.where("send")
            active.wait_for(lambda e: e["event"] == "send" and "sent" in e)  # all recorded
            active.kill()  # the standby takes over at once, and finds nothing left to send
            standby.wait_for(lambda e: e["event"] == "lease" and "running" in e["message"])
            [decided] = standby.wait_for(already_decided)  # its digest job, at the takeover
            assert standby.terminate()[0] == 0
        copies, _ = copies_and_ids(sink)
    assert standby.where("digest") == [decided] and not standby.where("send")
    assert sorted(copies) == people and set(copies.values()) == {1}
    assert len(issues(site, late)) == 1


def test_sigterm_mid_send_exits_quickly_and_restart_finishes_without_duplicates(tmp_path):
    with SmtpSink() as sink:
        site, people = mail_site(tmp_path, sink, people=150, mail="rate = 40\n")
        late = offset_to(site, timedelta(hours=1))
        with Service(site.root, clock_offset=late) as service:
            wait_until(lambda: len(sink.received) >= 40, 60, "the service sent nothing")
            code, took = service.terminate()
        assert code == 0 and took < 10, (code, took)
        assert len(sink.received) < 150  # it really stopped midway
        with Service(site.root, clock_offset=late) as service:
            wait_until(lambda: len(sink.received) >= 150, 60, "the rest was never sent")
            service.wait_for(lambda e: e["event"] == "send" and "sent" in e)
            assert service.terminate()[0] == 0
        copies, _ = copies_and_ids(sink)
    assert sorted(copies) == people and set(copies.values()) == {1}  # not one duplicate
    print(f"SIGTERM mid-send: exited in {took:.2f} s")


def test_a_deferred_message_goes_on_the_tick_and_the_service_keeps_running(tmp_path):
    greylisted = "reader00001@example.org"
    with SmtpSink(Script(defer_once={greylisted})) as sink:
        site, people = mail_site(tmp_path, sink, people=3, more="[service]\ntick_seconds = 1\n")
        config = site.root / "postroom.toml"
        config.write_text(config.read_text().replace("retry_after = 60", "retry_after = 1"))
        late = offset_to(site, timedelta(hours=1))
        with Service(site.root, clock_offset=late) as service:
            [first] = service.wait_for(lambda e: e["event"] == "send" and "sent" in e)
            assert (first["sent"], first["deferred"]) == (2, 1)
            [retry] = service.wait_for(
                lambda e: e["event"] == "send" and "sent" in e, count=2, timeout=20
            )[1:]
            assert (retry["sent"], retry["deferred"]) == (1, 0)  # no restart needed
            write(site.content_dir / "after.md", "---\ntitle: After the send\n---\nStill here.\n")
            service.wait_for(lambda e: e["event"] == "scan" and e.get("new") == 1)
            assert service.terminate()[0] == 0
        assert sorted(sink.counts()) == people and set(sink.counts().values()) == {1}
