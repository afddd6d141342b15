"""Several senders on one ledger: `postroom worker` processes beside the service, leases
on claimed rows, and what a stopped or dead sender leaves behind. On SQLite in the
suite's first pass and PostgreSQL in its second (each site's own database)."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from postroom.store import Store
from postroom.store.outbox import Outbox, State
from postroom.store.schema import outbox
from service_support import Service, issues, mail_site, offset_to, postroom, wait_until
from smtp_sink import SmtpSink
from sqlalchemy import select


def rows(site) -> list:
    store = Store(site.store_url)
    try:
        with store.engine.connect() as conn:
            return conn.execute(select(outbox)).all()
    finally:
        store.close()


def test_workers_send_what_a_no_send_service_makes_each_once(tmp_path):
    with SmtpSink() as sink:
        # 50 a second each: 400 take a lone worker 8 s, so both surely get a share
        site, people = mail_site(tmp_path, sink, people=400, mail="rate = 50\n")
        late = offset_to(site, timedelta(hours=1))
        with (
            Service(site.root, clock_offset=late, verb="worker") as one,
            Service(site.root, clock_offset=late, verb="worker") as two,
        ):
            for worker in (one, two):  # both waiting before there is anything to send
                worker.wait_for(lambda e: "worker starting" in e["message"])
            with Service(site.root, "--no-send", clock_offset=late) as service:
                wait_until(lambda: len(sink.counts()) == len(people), 90, "never sent")
                wait_until(lambda: all(r.state == "sent" for r in rows(site)), 30, "unsettled")
                for process in (service, one, two):
                    assert process.terminate()[0] == 0
    assert sorted(sink.counts()) == people and set(sink.counts().values()) == {1}
    assert service.where("digest") and not service.where("send")  # made it, sent nothing
    assert {r.claimed_by.rpartition(":")[2] for r in rows(site)} == {
        str(one.process.pid),
        str(two.process.pid),
    }  # both workers sent a share
    [issue] = issues(site, late)
    assert (issue["sent"], issue["queued"]) == (len(people), 0)


def test_a_killed_workers_rows_go_to_the_others_and_only_its_in_flight_go_twice(tmp_path):
    with SmtpSink() as sink:
        site, people = mail_site(tmp_path, sink, people=600, mail="rate = 150\n")
        late = offset_to(site, timedelta(hours=1))
        with Service(site.root, "--no-send", clock_offset=late) as service:
            with Service(site.root, clock_offset=late, verb="worker") as victim:
                wait_until(lambda: len(sink.received) >= 100, 60, "the worker sent nothing")
                victim.kill()
            held = [r for r in rows(site) if r.state == State.SENDING.value]
            assert held  # the dead worker had claimed rows it never finished
            with Service(site.root, clock_offset=late, verb="worker") as heir:
                wait_until(lambda: len(sink.counts()) == len(people), 90, "never finished")
                heir.wait_for(lambda e: e["event"] == "send" and "resent" in e)
                assert heir.terminate()[0] == 0
            assert service.terminate()[0] == 0
        copies = sink.counts()
    assert sorted(copies) == people
    assert sum(n - 1 for n in copies.values()) <= 2  # one in flight per connection
    # taken back at once, not after a lease's TTL; counted as resent: one in flight per batch
    assert heir.where("send", resent=len({(r.claimed_by, r.updated_at) for r in held}))


def test_sigterm_hands_back_claimed_rows_untried(tmp_path):
    with SmtpSink() as sink:
        site, people = mail_site(tmp_path, sink, people=200, mail="rate = 20\n")
        late = offset_to(site, timedelta(hours=1))
        assert postroom(site.root, "run", "--once", "--no-send", clock_offset=late).returncode == 0
        with Service(site.root, clock_offset=late, verb="worker") as worker:
            wait_until(lambda: len(sink.received) >= 10, 30, "the worker sent nothing")
            code, took = worker.terminate()
        sent = len(sink.received)
    assert code == 0 and took < 5
    ledger = rows(site)
    assert not [r for r in ledger if r.state == State.SENDING.value]  # nothing left held
    waiting = [r for r in ledger if r.state == State.PENDING.value]
    assert len(waiting) == len(people) - sent > 0
    assert {r.attempts for r in waiting} == {0}  # a row handed back was never tried


def test_rows_of_a_sender_elsewhere_come_back_only_when_its_lease_lapses(tmp_path):
    with SmtpSink() as sink:
        site, _people = mail_site(tmp_path, sink, people=30)
    late = offset_to(site, timedelta(hours=1))
    assert postroom(site.root, "run", "--once", "--no-send", clock_offset=late).returncode == 0
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True).stdout.strip()  # fmt: skip
    now = datetime.now(UTC)
    store = Store(site.store_url)
    try:
        elsewhere = Outbox(store, "another-machine:4242", lease=timedelta(seconds=60))
        dead_here = Outbox(store, f"{socket.gethostname()}:{gone}")
        me = Outbox(store, f"{socket.gethostname()}:1")
        far = elsewhere.claim(1, now, 10)
        near = dead_here.claim(1, now, 10)
        assert len(far) == len(near) == 10
        assert {c.subscriber_id for c in far}.isdisjoint(c.subscriber_id for c in near)
        assert me.reclaim(now) == 1  # the dead process on this host: at once (one batch)
        assert me.reclaim(now + timedelta(seconds=59)) == 0  # the other machine may be alive
        elsewhere.renew(now + timedelta(seconds=50))  # ... and it is: renewed
        assert me.reclaim(now + timedelta(seconds=100)) == 0
        assert me.reclaim(now + timedelta(seconds=111)) == 1  # lapsed: back to pending
        late_finish = far[0]
        elsewhere.sent(late_finish, "250 ok", now)  # no longer theirs: the ledger keeps ours
        again = me.claim(1, now + timedelta(seconds=111), 30)
        assert late_finish.subscriber_id in {c.subscriber_id for c in again}
        assert {c.attempts for c in again if c.subscriber_id == late_finish.subscriber_id} == {2}
    finally:
        store.close()


def test_a_worker_without_the_secret_says_so_and_exits_2(tmp_path):
    with SmtpSink() as sink:
        site, _ = mail_site(tmp_path, sink, people=1)
    done = postroom(site.root, "worker", env={"POSTROOM_SECRET": ""})
    assert done.returncode == 2 and "POSTROOM_SECRET" in done.stderr
